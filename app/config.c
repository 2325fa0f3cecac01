/*
** config.c: the .wippy.yaml runtime configuration (spec 02 §4).
**
** Design note. The configuration is kept as the parsed wp_node tree: the
** runtime reads a handful of keys through the typed getters below, and
** unknown sections must be ignored, so a schema would buy nothing.
**
**   - ${env:NAME} is substituted inside string values once, at load. A
**     missing variable is an error naming it (set-but-empty is allowed).
**     Substituted values stay strings; the getters accept numeric text.
**   - --set section.path=value creates missing sections and replaces the
**     value; the text is coerced as spec 02 §3 says (true/false, integers,
**     decimal floats with '.' or an exponent, else a string, so "1.5s"
**     stays a duration string).
**   - Durations are duration strings (wp_duration_parse) or numbers of
**     nanoseconds. The tree does not remember its file name, so getter
**     errors name the key and line ("shutdown.timeout (line 4): ..."); the
**     caller prefixes the config path.
*/
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "buf.h"
#include "duration.h"

/* Replaces ${env:NAME} in one string node. */
static int subst_str(struct wp_node *n, const char *path, char *err,
                     size_t errlen) {
  static const char open[] = "${env:";
  const char *s = n->u.str.s, *end = s + n->u.str.len;
  if (memmem(s, n->u.str.len, open, 6) == NULL) return 0;
  struct wp_buf b = WP_BUF_INIT;
  const char *p = s;
  for (;;) {
    const char *q = memmem(p, (size_t)(end - p), open, 6);
    if (q == NULL) break;
    const char *name = q + 6;
    const char *close = memchr(name, '}', (size_t)(end - name));
    if (close == NULL) {
      wp_yaml_seterr(err, errlen, "%s:%d: unterminated ${env:...} (write ${env:NAME})",
                     path, n->line);
      goto fail;
    }
    size_t nl = (size_t)(close - name);
    char var[256];
    if (nl == 0 || nl >= sizeof var || memchr(name, '\0', nl)) {
      wp_yaml_seterr(err, errlen, "%s:%d: bad variable name in ${env:%.*s}", path,
                     n->line, (int)(nl < 64 ? nl : 64), name);
      goto fail;
    }
    memcpy(var, name, nl);
    var[nl] = '\0';
    const char *val = getenv(var);
    if (val == NULL) {
      wp_yaml_seterr(err, errlen,
                     "%s:%d: environment variable %s is not set (used as ${env:%s}); "
                     "set it or change the value",
                     path, n->line, var, var);
      goto fail;
    }
    if (wp_buf_append(&b, p, (size_t)(q - p)) != 0 ||
        wp_buf_append(&b, val, strlen(val)) != 0)
      goto oom;
    p = close + 1;
  }
  if (wp_buf_append(&b, p, (size_t)(end - p)) != 0 ||
      wp_buf_append(&b, "", 1) != 0)
    goto oom;
  wp_free(n->u.str.s);
  n->u.str.s = (char *)b.data;
  n->u.str.len = b.len - 1;
  return 0;
oom:
  wp_yaml_seterr(err, errlen, "%s:%d: out of memory", path, n->line);
fail:
  wp_buf_free(&b);
  return -1;
}

static int subst_env(struct wp_node *n, const char *path, char *err,
                     size_t errlen) {
  if (n == NULL) return 0;
  switch (n->type) {
    case WP_NODE_STR: return subst_str(n, path, err, errlen);
    case WP_NODE_SEQ:
      for (size_t i = 0; i < n->u.seq.n; i++)
        if (subst_env(n->u.seq.items[i], path, err, errlen) != 0) return -1;
      return 0;
    case WP_NODE_MAP:
      for (size_t i = 0; i < n->u.map.n; i++)
        if (subst_env(n->u.map.vals[i], path, err, errlen) != 0) return -1;
      return 0;
    default: return 0;
  }
}

struct wp_node *wp_config_load(const char *path, int required, char *err,
                               size_t errlen) {
  struct stat st;
  if (!required && stat(path, &st) != 0 && errno == ENOENT) {
    struct wp_node *empty = wp_node_new_map(0);
    if (!empty) wp_yaml_seterr(err, errlen, "%s: out of memory", path);
    return empty;
  }
  struct wp_node *root = wp_yaml_load_file(path, err, errlen);
  if (!root) return NULL;
  if (root->type == WP_NODE_NULL) { /* empty file */
    wp_node_free(root);
    root = wp_node_new_map(1);
    if (!root) wp_yaml_seterr(err, errlen, "%s: out of memory", path);
    return root;
  }
  if (root->type != WP_NODE_MAP) {
    wp_yaml_seterr(err, errlen,
                   "%s:%d: the configuration must be a mapping of sections "
                   "(logger:, shutdown:, ...)",
                   path, root->line);
    wp_node_free(root);
    return NULL;
  }
  if (subst_env(root, path, err, errlen) != 0) {
    wp_node_free(root);
    return NULL;
  }
  return root;
}

/* Decimal integer text ([-+]?[0-9]+) that fits int64_t. */
static int parse_int(const char *s, int64_t *out) {
  const char *p = s;
  if (*p == '+' || *p == '-') p++;
  if (*p == '\0') return -1;
  for (const char *q = p; *q; q++)
    if (*q < '0' || *q > '9') return -1;
  errno = 0;
  char *end;
  long long v = strtoll(s, &end, 10);
  if (errno == ERANGE || *end != '\0') return -1;
  *out = v;
  return 0;
}

/* Decimal float text with '.' or an exponent, fully consumed by strtod. */
static int parse_float(const char *s, double *out) {
  if (strpbrk(s, ".eE") == NULL || s[strspn(s, "0123456789+-.eE")] != '\0')
    return -1;
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || !isfinite(v)) return -1;
  *out = v;
  return 0;
}

/* The --set coercion: true/false, integer, float, else string. */
struct wp_node *wp_config_coerce(const char *v) {
  int64_t i;
  double f;
  if (strcmp(v, "true") == 0) return wp_node_new_bool(1, 0);
  if (strcmp(v, "false") == 0) return wp_node_new_bool(0, 0);
  if (parse_int(v, &i) == 0) return wp_node_new_int(i, 0);
  if (parse_float(v, &f) == 0) return wp_node_new_float(f, 0);
  return wp_node_new_str(v, strlen(v), 0);
}

/* "a string", "an integer", ... for messages. */
static const char *type_name(const struct wp_node *n) {
  switch (n->type) {
    case WP_NODE_NULL: return "null";
    case WP_NODE_BOOL: return "a boolean";
    case WP_NODE_INT: return "an integer";
    case WP_NODE_FLOAT: return "a number";
    case WP_NODE_STR: return "a string";
    case WP_NODE_SEQ: return "a list";
    case WP_NODE_MAP: return "a mapping";
  }
  return "a value";
}

int wp_config_set(struct wp_node *root, const char *assignment, char *err,
                  size_t errlen) {
  const char *eq = assignment ? strchr(assignment, '=') : NULL;
  if (eq == NULL || eq == assignment) {
    wp_yaml_seterr(err, errlen, "--set %s: expected section.key=value",
                   assignment ? assignment : "");
    return -1;
  }
  if (root == NULL || root->type != WP_NODE_MAP) {
    wp_yaml_seterr(err, errlen, "--set %s: the configuration is not a mapping",
                   assignment);
    return -1;
  }
  size_t kl = (size_t)(eq - assignment);
  char *key = wp_malloc(kl + 1);
  if (!key) {
    wp_yaml_seterr(err, errlen, "--set %s: out of memory", assignment);
    return -1;
  }
  memcpy(key, assignment, kl);
  key[kl] = '\0';
  int rc = -1, segs = 1;
  for (size_t i = 0; i < kl; i++) segs += key[i] == '.';
  if (segs < 2 || key[0] == '.' || key[kl - 1] == '.' || strstr(key, "..")) {
    wp_yaml_seterr(err, errlen,
                   "--set %s: expected section.key=value (a dotted path such as "
                   "shutdown.timeout=10s)",
                   assignment);
    goto done;
  }
  if (segs > WP_YAML_MAX_DEPTH) {
    wp_yaml_seterr(err, errlen, "--set %.64s...: a path of more than %d keys",
                   assignment, WP_YAML_MAX_DEPTH);
    goto done;
  }
  struct wp_node *cur = root;
  char *seg = key;
  for (;;) {
    char *dot = strchr(seg, '.');
    if (dot == NULL) break;
    *dot = '\0';
    struct wp_node *child = wp_node_get(cur, seg);
    if (child == NULL || child->type == WP_NODE_NULL) {
      struct wp_node *m = wp_node_new_map(0);
      if (m == NULL || wp_node_map_set(cur, seg, m) != 0) goto oom;
      child = m;
    } else if (child->type != WP_NODE_MAP) {
      wp_yaml_seterr(err, errlen,
                     "--set %s: %s is %s (line %d), not a section that can hold "
                     "keys",
                     assignment, key, type_name(child), child->line);
      goto done;
    }
    *dot = '.';
    cur = child;
    seg = dot + 1;
  }
  if (wp_node_map_set(cur, seg, wp_config_coerce(eq + 1)) != 0) goto oom;
  rc = 0;
  goto done;
oom:
  wp_yaml_seterr(err, errlen, "--set %s: out of memory", assignment);
done:
  wp_free(key);
  return rc;
}

/* "(line N)" or "(--set)" for messages about a value. */
static void where(const struct wp_node *n, char *buf, size_t len) {
  if (n->line > 0)
    snprintf(buf, len, "line %d", n->line);
  else
    snprintf(buf, len, "--set");
}

int wp_config_duration(const struct wp_node *root, const char *path,
                       int64_t def, int64_t *out_ns, char *err, size_t errlen) {
  const struct wp_node *n = wp_node_path(root, path);
  char at[32];
  *out_ns = def;
  if (n == NULL || n->type == WP_NODE_NULL) return 0;
  if (n->type == WP_NODE_INT) {
    *out_ns = n->u.i;
    return 0;
  }
  if (n->type == WP_NODE_FLOAT && isfinite(n->u.f) && n->u.f > -9.2e18 &&
      n->u.f < 9.2e18) {
    *out_ns = (int64_t)n->u.f;
    return 0;
  }
  where(n, at, sizeof at);
  if (n->type == WP_NODE_STR) {
    const char *msg = "invalid duration";
    int64_t ns;
    if (wp_duration_parse(n->u.str.s, n->u.str.len, &ns, &msg) == 0) {
      *out_ns = ns;
      return 0;
    }
    wp_yaml_seterr(err, errlen,
                   "%s (%s): %s \"%.64s\" (write a duration such as \"30s\", "
                   "\"500ms\" or \"1m30s\")",
                   path, at, msg ? msg : "invalid duration", n->u.str.s);
    return -1;
  }
  wp_yaml_seterr(err, errlen, "%s (%s): expected a duration such as \"30s\", got %s",
                 path, at, type_name(n));
  return -1;
}

int64_t wp_config_int(const struct wp_node *root, const char *path,
                      int64_t def) {
  const struct wp_node *n = wp_node_path(root, path);
  int64_t v;
  if (n == NULL) return def;
  if (n->type == WP_NODE_INT) return n->u.i;
  if (n->type == WP_NODE_FLOAT && isfinite(n->u.f) && n->u.f == floor(n->u.f) &&
      n->u.f > -9.2e18 && n->u.f < 9.2e18)
    return (int64_t)n->u.f;
  if (n->type == WP_NODE_STR && parse_int(n->u.str.s, &v) == 0) return v;
  return def;
}

int wp_config_parse_size(const char *s, size_t len, int64_t *out) {
  size_t i = 0;
  while (len > 0 && s[len - 1] == ' ') len--;
  while (i < len && s[i] == ' ') i++;
  uint64_t whole = 0, frac = 0, scale = 1;
  size_t digits = 0;
  for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
    if (whole > (UINT64_MAX - 9) / 10) return -1;
    whole = whole * 10 + (uint64_t)(s[i] - '0');
  }
  if (i < len && s[i] == '.') {
    for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
      if (scale >= 1000000000000ull) continue; /* finer than a byte of a terabyte */
      frac = frac * 10 + (uint64_t)(s[i] - '0');
      scale *= 10;
    }
  }
  if (digits == 0) return -1;
  while (i < len && s[i] == ' ') i++;
  uint64_t mult = 1;
  if (i < len) {
    switch (s[i] | 0x20) {
      case 'k': mult = 1ull << 10; break;
      case 'm': mult = 1ull << 20; break;
      case 'g': mult = 1ull << 30; break;
      case 't': mult = 1ull << 40; break;
      case 'b': break;
      default: return -1;
    }
    if ((s[i] | 0x20) != 'b') {
      i++;
      if (i < len && (s[i] | 0x20) == 'i') i++;
      if (i < len && (s[i] | 0x20) == 'b') i++;
    } else {
      i++;
    }
  }
  if (i != len) return -1;
  if (whole > (uint64_t)INT64_MAX / mult) return -1;
  uint64_t v = whole * mult + (uint64_t)((double)frac / (double)scale * (double)mult);
  if (v > (uint64_t)INT64_MAX) return -1;
  *out = (int64_t)v;
  return 0;
}

int wp_config_size_value(const struct wp_node *n, int64_t *out, char *text, size_t textlen) {
  if (n->type == WP_NODE_INT && n->u.i >= 0) {
    *out = n->u.i;
    snprintf(text, textlen, "%lld", (long long)n->u.i);
    return 0;
  }
  if (n->type != WP_NODE_STR || wp_config_parse_size(n->u.str.s, n->u.str.len, out) != 0)
    return -1;
  const char *s = n->u.str.s;
  size_t len = n->u.str.len;
  while (len > 0 && s[len - 1] == ' ') len--;
  while (len > 0 && *s == ' ') s++, len--;
  snprintf(text, textlen, "%.*s", (int)len, s);
  return 0;
}

int wp_config_size(const struct wp_node *root, const char *path, const char *file, int64_t def,
                   int64_t *out, char *text, size_t textlen, char *err, size_t errlen) {
  const struct wp_node *n = wp_node_path(root, path);
  *out = def;
  if (textlen) text[0] = '\0';
  if (n == NULL || n->type == WP_NODE_NULL) return 0;
  if (wp_config_size_value(n, out, text, textlen) == 0) return 0;
  char at[512];
  if (n->line > 0)
    snprintf(at, sizeof at, "%s:%d: %s", file, n->line, path);
  else
    snprintf(at, sizeof at, "--set %s", path);
  if (n->type == WP_NODE_STR)
    wp_yaml_seterr(err, errlen,
                   "%s: \"%.64s\" is not a size (write bytes or a number with K, M or G, "
                   "such as \"64M\"; 0 for no limit)",
                   at, n->u.str.s);
  else
    wp_yaml_seterr(err, errlen, "%s: expected a size such as \"64M\", got %s", at,
                   n->type == WP_NODE_INT ? "a negative number" : type_name(n));
  return -1;
}

const char *wp_config_str(const struct wp_node *root, const char *path,
                          const char *def) {
  const char *s = wp_node_str(wp_node_path(root, path));
  return s ? s : def;
}

int wp_config_bool(const struct wp_node *root, const char *path, int def) {
  const struct wp_node *n = wp_node_path(root, path);
  if (n == NULL) return def;
  if (n->type == WP_NODE_BOOL) return n->u.b;
  if (n->type == WP_NODE_STR) {
    if (strcmp(n->u.str.s, "true") == 0) return 1;
    if (strcmp(n->u.str.s, "false") == 0) return 0;
  }
  return def;
}

/* Sets a dotted path under map m, creating maps on the way; takes val. One
** level of recursion per key: the caller bounds the number of keys. */
static int set_path(struct wp_node *m, const char *path, struct wp_node *val) {
  char key[256];
  const char *dot = strchr(path, '.');
  if (!dot) return wp_node_map_set(m, path, val);
  size_t n = (size_t)(dot - path);
  if (n == 0 || n >= sizeof key) {
    wp_node_free(val);
    return -1;
  }
  memcpy(key, path, n);
  key[n] = '\0';
  struct wp_node *sub = wp_node_get(m, key);
  if (!sub || sub->type != WP_NODE_MAP) {
    sub = wp_node_new_map(0);
    if (!sub || wp_node_map_set(m, key, sub)) {
      wp_node_free(val);
      return -1;
    }
  }
  return set_path(sub, dot + 1, val);
}

int wp_config_override(struct wp_entries *es, const char *target, struct wp_node *val,
                       char *err, size_t errlen) {
  const char *c1 = strchr(target, ':');
  const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
  if (!c1 || !c2 || c2 == c1 + 1 || c1 == target || !c2[1]) {
    wp_node_free(val);
    wp_yaml_seterr(err, errlen, "override %s: expected namespace:entry:field", target);
    return -1;
  }
  char id[512];
  snprintf(id, sizeof id, "%.*s", (int)(c2 - target), target);
  struct wp_entry *e = wp_entries_find(es, id);
  if (!e) {
    wp_node_free(val);
    wp_yaml_seterr(err, errlen, "override %s: no entry %s", target, id);
    return -1;
  }
  const char *field = c2 + 1;
  if (strcmp(field, "kind") == 0) {
    const char *k = wp_node_str(val);
    char *copy = k ? wp_strdup(k) : NULL;
    wp_node_free(val);
    if (!copy) {
      wp_yaml_seterr(err, errlen, "override %s: kind must be a string", target);
      return -1;
    }
    wp_free(e->kind);
    e->kind = copy;
    return 0;
  }
  size_t keys = 1;
  for (const char *p = field; *p; p++) keys += *p == '.';
  if (keys > WP_YAML_MAX_DEPTH) {
    wp_node_free(val);
    wp_yaml_seterr(err, errlen, "override %.64s...: a path of more than %d keys", target,
                   WP_YAML_MAX_DEPTH);
    return -1;
  }
  struct wp_node *root;
  if (strncmp(field, "meta.", 5) == 0) {
    if (!e->meta) e->meta = wp_node_new_map(0);
    root = e->meta;
    field += 5;
  } else {
    root = e->data;
    if (strncmp(field, "data.", 5) == 0) field += 5;
  }
  if (!root || set_path(root, field, val)) {
    wp_yaml_seterr(err, errlen, "override %s: cannot set %s", target, field);
    return -1;
  }
  return 0;
}

int wp_config_override_arg(struct wp_entries *es, const char *spec, char *err,
                           size_t errlen) {
  const char *eq = strchr(spec, '=');
  if (!eq) {
    wp_yaml_seterr(err, errlen, "-o %s: expected namespace:entry:field=value", spec);
    return -1;
  }
  char target[512];
  snprintf(target, sizeof target, "%.*s", (int)(eq - spec), spec);
  struct wp_node *v = wp_config_coerce(eq + 1);
  if (!v) {
    wp_yaml_seterr(err, errlen, "out of memory");
    return -1;
  }
  return wp_config_override(es, target, v, err, errlen);
}
