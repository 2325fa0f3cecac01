/* jsonw.c: writing JSON text (see jsonw.h). */
#include "jsonw.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void wp_jw_raw(struct wp_jw *w, const char *s, size_t n) {
  if (!w->failed && wp_buf_append(&w->b, s, n) != 0) w->failed = 1;
}

void wp_jw_lit(struct wp_jw *w, const char *s) { wp_jw_raw(w, s, strlen(s)); }

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. Overlong
** forms, surrogates and code points past U+10FFFF are not valid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len;
  unsigned min;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (n < len) return 0;
  unsigned cp = c & (0x7Fu >> len);
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (s[i] & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

void wp_jw_str(struct wp_jw *w, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  wp_jw_raw(w, "\"", 1);
  size_t run = 0; /* bytes copied as they are, pending */
  for (size_t i = 0; i < n;) {
    unsigned c = s[i];
    const char *esc = NULL;
    char ubuf[8];
    size_t len = 1;
    if (c == '"') {
      esc = "\\\"";
    } else if (c == '\\') {
      esc = "\\\\";
    } else if (c == '\n') {
      esc = "\\n";
    } else if (c == '\t') {
      esc = "\\t";
    } else if (c == '\r') {
      esc = "\\r";
    } else if (c < 0x20 || c == 0x7F) {
      snprintf(ubuf, sizeof ubuf, "\\u%04x", c);
      esc = ubuf;
    } else if (c >= 0x80 && (len = utf8_len(s + i, n - i)) == 0) {
      esc = "\xEF\xBF\xBD"; /* U+FFFD for a byte that starts no valid sequence */
      len = 1;
    }
    if (esc) {
      wp_jw_raw(w, (const char *)s + i - run, run);
      run = 0;
      wp_jw_lit(w, esc);
    } else {
      run += len;
    }
    i += len;
  }
  wp_jw_raw(w, (const char *)s + n - run, run);
  wp_jw_raw(w, "\"", 1);
}

void wp_jw_cstr(struct wp_jw *w, const char *s) {
  if (s)
    wp_jw_str(w, s, strlen(s));
  else
    wp_jw_lit(w, "null");
}

void wp_jw_key(struct wp_jw *w, const char *key) {
  wp_jw_str(w, key, strlen(key));
  wp_jw_raw(w, ":", 1);
}

void wp_jw_int(struct wp_jw *w, int64_t v) {
  char b[32];
  int n = snprintf(b, sizeof b, "%" PRId64, v);
  wp_jw_raw(w, b, (size_t)n);
}

void wp_jw_uint(struct wp_jw *w, uint64_t v) {
  char b[32];
  int n = snprintf(b, sizeof b, "%" PRIu64, v);
  wp_jw_raw(w, b, (size_t)n);
}

void wp_jw_num(struct wp_jw *w, double v, int decimals) {
  char b[64];
  if (!isfinite(v)) v = 0;
  int n = snprintf(b, sizeof b, "%.*f", decimals, v);
  if (n < 0 || (size_t)n >= sizeof b) n = snprintf(b, sizeof b, "0");
  wp_jw_raw(w, b, (size_t)n);
}

void wp_jw_bool(struct wp_jw *w, int v) { wp_jw_lit(w, v ? "true" : "false"); }

void wp_jw_free(struct wp_jw *w) {
  wp_buf_free(&w->b);
  w->failed = 0;
}
