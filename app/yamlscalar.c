/*
** yamlscalar.c: the types of plain scalars (yamltree.h's rules), shared by
** the reader (yamltree.c) and the writer (yamlemit.c), which quotes any
** string that would read back as another type.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_int.h"

static int digit_val(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

/* Parses [p, end) as an unsigned number in `base`: 0, -1 (not a number) or
** -2 (too large for 64 bits). */
static int parse_u64(const char *p, const char *end, int base, uint64_t *out) {
  uint64_t v = 0;
  if (p == end) return -1;
  for (; p < end; p++) {
    int d = digit_val(*p);
    if (d >= base) return -1;
    if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) return -2;
    v = v * (uint64_t)base + (uint64_t)d;
  }
  *out = v;
  return 0;
}

/* Applies the sign to a magnitude; -1 when it does not fit int64_t. */
static int signed_fit(uint64_t v, int neg, int64_t *out) {
  if (neg) {
    if (v > (uint64_t)INT64_MAX + 1) return -1;
    *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
  } else {
    if (v > (uint64_t)INT64_MAX) return -1;
    *out = (int64_t)v;
  }
  return 0;
}

/* YAML 1.2 core float syntax:
 * [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int is_float_text(const char *s, size_t len) {
  size_t i = 0, d1 = 0, d2 = 0;
  if (i < len && (s[i] == '+' || s[i] == '-')) i++;
  while (i < len && s[i] >= '0' && s[i] <= '9') i++, d1++;
  if (i < len && s[i] == '.') {
    i++;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++, d2++;
  }
  if (d1 == 0 && d2 == 0) return 0;
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    size_t de = 0;
    i++;
    if (i < len && (s[i] == '+' || s[i] == '-')) i++;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++, de++;
    if (de == 0) return 0;
  }
  return i == len;
}

int wp_yaml_is_one_of(const char *s, const char *const *words) {
  for (; *words; words++)
    if (strcmp(s, *words) == 0) return 1;
  return 0;
}

/*
** Types the NUL-terminated plain scalar s (length len) into n (whose type and
** value are set; a STR result leaves n->u untouched for the caller).
*/
void wp_yaml_resolve_plain(const char *s, size_t len, struct wp_node *n) {
  static const char *const nulls[] = {"~", "null", "Null", "NULL", NULL};
  static const char *const trues[] = {"true", "True", "TRUE", NULL};
  static const char *const falses[] = {"false", "False", "FALSE", NULL};
  static const char *const infs[] = {".inf", ".Inf", ".INF", NULL};
  static const char *const nans[] = {".nan", ".NaN", ".NAN", NULL};
  n->type = WP_NODE_STR;
  if (len == 0 || wp_yaml_is_one_of(s, nulls)) {
    n->type = WP_NODE_NULL;
    return;
  }
  if (wp_yaml_is_one_of(s, trues) || wp_yaml_is_one_of(s, falses)) {
    n->type = WP_NODE_BOOL;
    n->u.b = s[0] == 't' || s[0] == 'T';
    return;
  }
  if (wp_yaml_is_one_of(s, nans)) {
    n->type = WP_NODE_FLOAT;
    n->u.f = NAN;
    return;
  }
  const char *p = s, *end = s + len;
  int neg = 0;
  if (*p == '+' || *p == '-') neg = *p++ == '-';
  if (wp_yaml_is_one_of(p, infs)) {
    n->type = WP_NODE_FLOAT;
    n->u.f = neg ? -INFINITY : INFINITY;
    return;
  }
  uint64_t v;
  int64_t iv;
  if (end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'o')) {
    /* 0x / 0o: out-of-range values stay strings */
    if (parse_u64(p + 2, end, p[1] == 'x' ? 16 : 8, &v) == 0 &&
        signed_fit(v, neg, &iv) == 0) {
      n->type = WP_NODE_INT;
      n->u.i = iv;
    }
    return;
  }
  int rc = parse_u64(p, end, 10, &v);
  if (rc == 0 && signed_fit(v, neg, &iv) == 0) {
    n->type = WP_NODE_INT;
    n->u.i = iv;
    return;
  }
  if (is_float_text(s, len)) { /* also decimal integers too large for int64 */
    n->type = WP_NODE_FLOAT;
    n->u.f = strtod(s, NULL);
  }
}

/* Text that reads back as the same double and as a float: integral values
** as "1000.0", others in the shortest "%g" form that round-trips. */
void wp_yaml_fmt_float(double f, char *out, size_t n) {
  if (isnan(f)) {
    snprintf(out, n, ".nan");
    return;
  }
  if (isinf(f)) {
    snprintf(out, n, f < 0 ? "-.inf" : ".inf");
    return;
  }
  if (f == floor(f) && fabs(f) < 1e15) {
    snprintf(out, n, "%.1f", f); /* 1000.0, not 1e+03 */
    return;
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(out, n, "%.*g", prec, f);
    if (strtod(out, NULL) == f) break;
  }
  if (strpbrk(out, ".eE") == NULL) {
    size_t l = strlen(out);
    if (l + 3 <= n) memcpy(out + l, ".0", 3);
  }
}
