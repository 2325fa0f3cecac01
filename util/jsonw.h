/*
** jsonw.h: writing JSON text into a byte buffer (buf.h): the control
** endpoint's answers (cli/control.c) and JSON log lines (log.c).
*/
#ifndef WP_JSONW_H
#define WP_JSONW_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* A writer: appends to b; `failed` is set (and stays set) when an append
** ran out of memory, so a caller writes a whole object and checks once. */
struct wp_jw {
  struct wp_buf b;
  int failed;
};

/* Appends n bytes as they are (JSON punctuation, a number already made). */
void wp_jw_raw(struct wp_jw *w, const char *s, size_t n);
/* Appends a literal C string as it is. */
void wp_jw_lit(struct wp_jw *w, const char *s);
/* Appends s (n bytes) as a JSON string: quoted, with '"', '\\' and control
** characters escaped, and each byte that does not start a valid UTF-8
** sequence replaced by U+FFFD: whatever the input, the output is valid
** JSON (no NUL either: it is written \u0000). */
void wp_jw_str(struct wp_jw *w, const char *s, size_t n);
/* A NUL-terminated string, or null for NULL. */
void wp_jw_cstr(struct wp_jw *w, const char *s);
/* `"key":` (key NUL-terminated; escaped as a string). */
void wp_jw_key(struct wp_jw *w, const char *key);
void wp_jw_int(struct wp_jw *w, int64_t v);
void wp_jw_uint(struct wp_jw *w, uint64_t v);
/* A finite double with up to `decimals` decimals; NaN and infinities as 0
** (JSON has neither). */
void wp_jw_num(struct wp_jw *w, double v, int decimals);
void wp_jw_bool(struct wp_jw *w, int v);
/* Frees the buffer and resets the writer. */
void wp_jw_free(struct wp_jw *w);

#endif
