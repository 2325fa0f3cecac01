/*
** duration.c: Go-style durations (see duration.h and spec 04 §5.1).
**
** The parser follows Go's time.ParseDuration: an optional sign, then either
** the literal "0" or one or more <number><unit> components that are summed.
** A number is digits, digits "." digits?, or "." digits. The unit is every
** byte up to the next digit or '.', and must be one of ns us µs μs ms s m h.
** Magnitudes are accumulated in uint64_t and may reach 2^63 only for a
** negative result (so "-9223372036854775808ns" is valid). Fractions are
** scaled through a double, as Go does, which is exact to the nanosecond for
** every unit up to an hour.
**
** The formatter follows Go's Duration.String: below one second a single unit
** (ns, µs with U+00B5, ms) with a decimal fraction; otherwise h, m and s with
** the fraction on the seconds, trailing zeros dropped ("1h30m0s", "1.5s").
*/
#include "duration.h"

#include <string.h>

#define NS_US UINT64_C(1000)
#define NS_MS UINT64_C(1000000)
#define NS_S UINT64_C(1000000000)
#define NS_M (60 * NS_S)
#define NS_H (60 * NS_M)
#define LIMIT (UINT64_C(1) << 63) /* largest magnitude (of a negative value) */

static const char err_invalid[] = "invalid duration";
static const char err_nounit[] = "missing unit in duration";
static const char err_unit[] = "unknown unit";

/* {====================================================================
** Parsing
** ===================================================================== */

/* Cursor over the input. */
struct scan {
  const char *p, *end;
};

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/*
** Reads [0-9]* into *v. Returns 1 if any digit was read, -1 if the value
** exceeds 2^63 (then the whole duration is invalid), 0 if there were none.
*/
static int scan_int(struct scan *s, uint64_t *v) {
  const char *start = s->p;
  uint64_t x = 0;
  for (; s->p < s->end && is_digit(*s->p); s->p++) {
    if (x > LIMIT / 10) return -1;
    x = x * 10 + (uint64_t)(*s->p - '0');
    if (x > LIMIT) return -1;
  }
  *v = x;
  return s->p != start;
}

/*
** Reads the digits after a '.' into *f with *scale = 10^(digits kept).
** Digits past the precision of uint64_t are consumed but ignored, as in Go.
** Returns 1 if any digit was read.
*/
static int scan_frac(struct scan *s, uint64_t *f, double *scale) {
  const char *start = s->p;
  uint64_t x = 0;
  double sc = 1;
  int full = 0;
  for (; s->p < s->end && is_digit(*s->p); s->p++) {
    if (full) continue;
    if (x > (LIMIT - 1) / 10) {
      full = 1;
      continue;
    }
    uint64_t y = x * 10 + (uint64_t)(*s->p - '0');
    if (y > LIMIT) {
      full = 1;
      continue;
    }
    x = y;
    sc *= 10;
  }
  *f = x;
  *scale = sc;
  return s->p != start;
}

/* Nanoseconds per unit for the n bytes at u, or 0 if the unit is unknown. */
static uint64_t unit_ns(const char *u, size_t n) {
  static const struct {
    const char *name;
    uint64_t ns;
  } units[] = {
    {"ns", 1},
    {"us", NS_US},
    {"\xC2\xB5s", NS_US}, /* U+00B5 micro sign */
    {"\xCE\xBCs", NS_US}, /* U+03BC Greek small letter mu */
    {"ms", NS_MS},
    {"s", NS_S},
    {"m", NS_M},
    {"h", NS_H},
  };
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (strlen(units[i].name) == n && memcmp(units[i].name, u, n) == 0) return units[i].ns;
  return 0;
}

/*
** Parses one <number><unit> component and adds its nanoseconds to *total.
** Returns NULL or the error message.
*/
static const char *scan_component(struct scan *s, uint64_t *total) {
  uint64_t v, f = 0;
  double scale = 1;
  if (!(is_digit(*s->p) || *s->p == '.')) return err_invalid;
  int pre = scan_int(s, &v);
  if (pre < 0) return err_invalid;
  int post = 0;
  if (s->p < s->end && *s->p == '.') {
    s->p++;
    post = scan_frac(s, &f, &scale);
  }
  if (!pre && !post) return err_invalid; /* "." or ".s" */
  const char *u = s->p;
  while (s->p < s->end && !is_digit(*s->p) && *s->p != '.') s->p++;
  if (s->p == u) return err_nounit;
  uint64_t unit = unit_ns(u, (size_t)(s->p - u));
  if (unit == 0) return err_unit;
  if (v > LIMIT / unit) return err_invalid;
  v *= unit;
  if (f > 0) {
    v += (uint64_t)((double)f * ((double)unit / scale));
    if (v > LIMIT) return err_invalid;
  }
  *total += v;
  if (*total > LIMIT) return err_invalid;
  return NULL;
}

int wp_duration_parse(const char *str, size_t len, int64_t *ns, const char **err) {
  struct scan s = {str, str + len};
  int neg = 0;
  const char *e = NULL;
  uint64_t total = 0;
  if (s.p < s.end && (*s.p == '-' || *s.p == '+')) {
    neg = *s.p == '-';
    s.p++;
  }
  if (s.end - s.p == 1 && *s.p == '0') {
    *ns = 0;
    return 0;
  }
  if (s.p == s.end) e = err_invalid;
  while (e == NULL && s.p < s.end) e = scan_component(&s, &total);
  if (e == NULL && !neg && total > LIMIT - 1) e = err_invalid;
  if (e != NULL) {
    if (err) *err = e;
    return -1;
  }
  /* -(2^63) is representable; negate in unsigned arithmetic */
  *ns = neg ? (int64_t)(0 - total) : (int64_t)total;
  return 0;
}

/* }==================================================================== */

/* {====================================================================
** Formatting (right to left into a small buffer, as Go does)
** ===================================================================== */

/*
** Writes the `prec` decimals of v / 10^prec before buf[w], without trailing
** zeros (and without the '.' if all are zero). Returns the new start and
** stores the integer part in *v.
*/
static size_t put_frac(char *buf, size_t w, uint64_t *v, int prec) {
  int print = 0;
  uint64_t x = *v;
  for (int i = 0; i < prec; i++) {
    char digit = (char)(x % 10);
    print = print || digit != 0;
    if (print) buf[--w] = (char)('0' + digit);
    x /= 10;
  }
  if (print) buf[--w] = '.';
  *v = x;
  return w;
}

/* Writes v in decimal before buf[w]; returns the new start. */
static size_t put_int(char *buf, size_t w, uint64_t v) {
  do {
    buf[--w] = (char)('0' + v % 10);
    v /= 10;
  } while (v > 0);
  return w;
}

/* Writes a sub-second magnitude u > 0 ("1.5ms", "250ns") before buf[w]. */
static size_t put_small(char *buf, size_t w, uint64_t u) {
  int prec;
  buf[--w] = 's';
  if (u < NS_US) {
    prec = 0;
    buf[--w] = 'n';
  } else if (u < NS_MS) {
    prec = 3;
    buf[--w] = '\xB5'; /* U+00B5 in UTF-8 */
    buf[--w] = '\xC2';
  } else {
    prec = 6;
    buf[--w] = 'm';
  }
  w = put_frac(buf, w, &u, prec);
  return put_int(buf, w, u);
}

/* Writes a magnitude u >= 1 s ("1h2m3.5s") before buf[w]. */
static size_t put_large(char *buf, size_t w, uint64_t u) {
  buf[--w] = 's';
  w = put_frac(buf, w, &u, 9);
  w = put_int(buf, w, u % 60); /* u is now whole seconds */
  u /= 60;
  if (u > 0) {
    buf[--w] = 'm';
    w = put_int(buf, w, u % 60);
    u /= 60;
    if (u > 0) { /* hours: the largest unit, as days vary in length */
      buf[--w] = 'h';
      w = put_int(buf, w, u);
    }
  }
  return w;
}

size_t wp_duration_format(int64_t ns, char *out, size_t n) {
  char buf[32]; /* the longest is "-2562047h47m16.854775808s" */
  size_t w = sizeof buf;
  uint64_t u = ns < 0 ? 0 - (uint64_t)ns : (uint64_t)ns;
  if (u == 0) {
    buf[--w] = 's';
    buf[--w] = '0';
  } else if (u < NS_S) {
    w = put_small(buf, w, u);
  } else {
    w = put_large(buf, w, u);
  }
  if (ns < 0) buf[--w] = '-';
  size_t len = sizeof buf - w;
  if (n > 0) {
    size_t k = len < n - 1 ? len : n - 1;
    memcpy(out, buf + w, k);
    out[k] = '\0';
  }
  return len;
}

/* }==================================================================== */
