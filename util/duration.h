/*
** duration.h: Go-style durations (spec 04 §5.1) in nanoseconds.
*/
#ifndef WP_DURATION_H
#define WP_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parses Go's ParseDuration grammar ("1m30s", "1.5h", "-2ms", "0", "µs").
** Returns 0 and stores nanoseconds in *ns, or -1 with a static message in *err
** ("invalid duration", "missing unit in duration", "unknown unit", overflow). */
int wp_duration_parse(const char *s, size_t len, int64_t *ns, const char **err);
/* Formats like Go's Duration.String(): "1h30m0s", "1.5s", "500ms", "0s".
** Writes at most n bytes including the NUL; returns the length. */
size_t wp_duration_format(int64_t ns, char *out, size_t n);

#endif
