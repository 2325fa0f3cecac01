/*
** log.c: runtime log output (spec 02 §7; the format is not normative).
**
** One line per record. Console encoding (the default): time, level, logger
** name, message and the fields rendered by the caller, tab-separated. JSON
** encoding (logger.encoding: json, --log-format json): one flat object per
** line, {"time", "level", "logger", "message", then the caller's fields},
** time in RFC 3339 UTC with milliseconds. Default: stderr at info; -c writes
** to stdout, -v adds debug, -s (and -x without a log flag) silences
** everything. Colours (console encoding only) when the output is a
** terminal and NO_COLOR is unset or empty (no-color.org). Lines are written
** with one write(2) each under a mutex, so records never interleave.
*/
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jsonw.h"
#include "log.h"

static int g_level = WP_LOG_INFO;
static int g_fd = 2;
static int g_silent = 0;
static int g_color = 0;
static int g_json = 0;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static int want_color(void) {
  const char *nc = getenv("NO_COLOR");
  return !g_json && !(nc && nc[0]) && isatty(g_fd);
}

void wp_log_setup(int level, int to_stdout, int silent) {
  g_level = level;
  g_fd = to_stdout ? 1 : 2;
  g_silent = silent;
  g_color = want_color();
}

void wp_log_set_json(int json) {
  g_json = json;
  g_color = want_color();
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

static const char *level_json(int level) {
  switch (level) {
    case WP_LOG_DEBUG: return "debug";
    case WP_LOG_INFO: return "info";
    case WP_LOG_WARN: return "warn";
    default: return "error";
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

static void write_line(const char *line, size_t n) {
  pthread_mutex_lock(&g_lock);
  size_t off = 0;
  while (off < n) {
    ssize_t w = write(g_fd, line + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  pthread_mutex_unlock(&g_lock);
}

/* The caller's fields are a JSON object's text ({"k": v, ...}, modules/
** logger.c); its members are spliced into the record, which stays flat.
** Anything else is kept whole as the string "fields". */
static void json_fields(struct wp_jw *w, const char *f) {
  size_t n = strlen(f);
  while (n && (f[n - 1] == ' ' || f[n - 1] == '\n')) n--;
  if (n >= 2 && f[0] == '{' && f[n - 1] == '}') {
    const char *in = f + 1;
    size_t m = n - 2;
    while (m && *in == ' ') in++, m--;
    if (m) {
      wp_jw_raw(w, ",", 1);
      wp_jw_raw(w, in, m);
    }
    return;
  }
  wp_jw_lit(w, ",\"fields\":");
  wp_jw_str(w, f, n);
}

static void log_json(int level, const char *logger, const char *msg, const char *fields,
                     const struct tm *tm, long ms) {
  char ts[96]; /* room for any int the format could print */
  snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm->tm_year + 1900,
           tm->tm_mon + 1, tm->tm_mday, tm->tm_hour, tm->tm_min, tm->tm_sec, ms);
  struct wp_jw w = {WP_BUF_INIT, 0};
  wp_jw_lit(&w, "{\"time\":");
  wp_jw_cstr(&w, ts);
  wp_jw_lit(&w, ",\"level\":");
  wp_jw_cstr(&w, level_json(level));
  if (logger) {
    wp_jw_lit(&w, ",\"logger\":");
    wp_jw_cstr(&w, logger);
  }
  wp_jw_lit(&w, ",\"message\":");
  wp_jw_cstr(&w, msg);
  if (fields && fields[0]) json_fields(&w, fields);
  wp_jw_lit(&w, "}\n");
  if (!w.failed) write_line((const char *)w.b.data, w.b.len);
  wp_jw_free(&w);
}

void wp_log(int level, const char *logger, const char *msg, const char *fields) {
  if (!wp_log_enabled(level)) return;
  char line[8192];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  if (g_json) {
    log_json(level, logger, msg, fields, &tm, ts.tv_nsec / 1000000);
    return;
  }
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
  write_line(line, (size_t)n);
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
