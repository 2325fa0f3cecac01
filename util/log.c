/*
** log.c: runtime log output (spec 02 §7; the format is not normative).
**
** One line per record: time, level, logger name, message and the fields
** rendered by the caller. Default: stderr at info; -c writes to stdout, -v
** adds debug, -s (and -x without a log flag) silences everything. Lines are
** written with one write(2) each under a mutex, so records never interleave.
*/
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int g_level = WP_LOG_INFO;
static int g_fd = 2;
static int g_silent = 0;
static int g_color = 0;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

void wp_log_setup(int level, int to_stdout, int silent) {
  g_level = level;
  g_fd = to_stdout ? 1 : 2;
  g_silent = silent;
  g_color = to_stdout && isatty(1);
}

int wp_log_enabled(int level) { return !g_silent && level >= g_level; }

static const char *level_name(int level) {
  switch (level) {
    case WP_LOG_DEBUG: return "DEBUG";
    case WP_LOG_INFO: return "INFO";
    case WP_LOG_WARN: return "WARN";
    default: return "ERROR";
  }
}

static const char *level_color(int level) {
  switch (level) {
    case WP_LOG_DEBUG: return "\033[35m";
    case WP_LOG_INFO: return "\033[34m";
    case WP_LOG_WARN: return "\033[33m";
    default: return "\033[31m";
  }
}

void wp_log(int level, const char *logger, const char *msg, const char *fields) {
  if (!wp_log_enabled(level)) return;
  char line[8192];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\t%s%s%s\t%s%s%s%s",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec, ts.tv_nsec / 1000000, g_color ? level_color(level) : "",
                   level_name(level), g_color ? "\033[0m" : "", logger ? logger : "",
                   logger ? "\t" : "", msg, fields && fields[0] ? "\t" : "");
  if (n < 0) return;
  if ((size_t)n >= sizeof line) n = sizeof line - 1;
  if (fields && fields[0]) {
    int m = snprintf(line + n, sizeof line - (size_t)n, "%s", fields);
    if (m > 0) n += m;
    if ((size_t)n >= sizeof line) n = sizeof line - 1;
  }
  if ((size_t)n >= sizeof line - 1) n = sizeof line - 2;
  line[n++] = '\n';
  pthread_mutex_lock(&g_lock);
  size_t off = 0;
  while (off < (size_t)n) {
    ssize_t w = write(g_fd, line + off, (size_t)n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  pthread_mutex_unlock(&g_lock);
}

void wp_logf(int level, const char *fmt, ...) {
  if (!wp_log_enabled(level)) return;
  char msg[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  wp_log(level, NULL, msg, NULL);
}
