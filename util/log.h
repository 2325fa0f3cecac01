/*
** log.h: the runtime's log lines (log.c; spec 02 §7). Any thread.
*/
#ifndef WP_LOG_H
#define WP_LOG_H

enum wp_log_level { WP_LOG_DEBUG = -1, WP_LOG_INFO = 0, WP_LOG_WARN = 1, WP_LOG_ERROR = 2 };

/* Sets the threshold and the output (stderr, or stdout with to_stdout;
** nothing at all with silent). Called once, before any thread logs. */
void wp_log_setup(int level, int to_stdout, int silent);
/* JSON encoding (1) or console (0, the default): see log.c. Called after
** wp_log_setup, before any thread logs. */
void wp_log_set_json(int json);
int wp_log_enabled(int level);
/* Writes one log line: message plus pre-rendered JSON-ish fields (may be
** NULL; both borrowed). Thread-safe. */
void wp_log(int level, const char *logger, const char *msg, const char *fields);
void wp_logf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
