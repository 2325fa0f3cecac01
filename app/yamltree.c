/*
** yamltree.c: YAML/JSON files -> struct wp_node trees (yamltree.h).
**
** Design note. We drive libyaml's event parser, not its document loader, and
** build the tree with an explicit stack of open collections. That gives us
** control over everything libyaml leaves to the application:
**
**   - Scalar typing. libyaml reports only text, style and tag; resolve_plain()
**     applies the rules of yamltree.h to plain scalars. Quoted scalars and
**     `!!str` are strings.
**   - Duplicate keys, which libyaml accepts silently. Every open mapping keeps
**     the line of each key and, past a few keys, a hash index of them.
**   - Aliases. When an anchored node closes, a copy goes into the anchor
**     table; every alias clones that copy. An alias to an anchor that is still
**     open (a self-referencing structure) is "unknown", so trees never loop.
**   - Limits. Nesting depth, total node count and total string bytes are
**     bounded (alias bombs expand by copying), so hostile input fails with a
**     message instead of exhausting memory or stack.
**   - Merge keys (`<<: *base`), which Go's yaml (Wippy's parser) supports.
**     They are applied when the mapping closes; explicit keys win.
**
** libyaml marks are 0-based; every line stored or printed here is 1-based.
**
** Every node is built by the rules of node.h (its capacity rule included);
** plain scalars are typed by yamlscalar.c.
*/
#include "yamltree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "alloc.h"
#include "buf.h"
#include "yaml_int.h"

#define MAX_DEPTH WP_YAML_MAX_DEPTH    /* nesting levels */
#define MAX_NODES ((size_t)4 << 20)   /* nodes per document, aliases included */
#define MAX_BYTES ((size_t)256 << 20) /* string bytes per document */
#define INDEX_FROM 16                 /* maps this large get a key index */

void wp_yaml_seterr(char *err, size_t errlen, const char *fmt, ...) {
  if (err == NULL || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* ---------------------------------------------------------------------- */
/* Builder                                                                 */
/* ---------------------------------------------------------------------- */

struct frame {
  struct wp_node *node; /* the open SEQ or MAP (not yet in its parent) */
  char *anchor;         /* registered when the node closes */
  /* MAP only: */
  char *key; /* key read, value pending (NULL = expecting a key) */
  int key_line;
  int merge_pending; /* the pending key is the merge key `<<` */
  int *key_lines;    /* line of each key; room for wp_node_cap(n) */
  uint32_t *index;   /* open addressing: position + 1, 0 = empty */
  size_t index_cap;
  struct wp_node **merges; /* `<<` values, applied at close */
  size_t nmerges;
};

struct anchor {
  char *name;
  struct wp_node *node; /* private copy */
  size_t nodes, bytes;  /* cost of one more copy */
  int depth;            /* nesting depth of node (1 for a scalar) */
};

struct builder {
  const char *name;
  char *err;
  size_t errlen;
  struct frame *stack;
  size_t depth, stack_cap;
  struct anchor *anchors;
  size_t nanchors, anchors_cap;
  struct wp_node *root;
  int done;
  size_t nodes, bytes;
};

static int fail_oom(struct builder *b, int line) {
  wp_yaml_seterr(b->err, b->errlen, "%s:%d: out of memory", b->name, line);
  return -1;
}

static int budget(struct builder *b, size_t nodes, size_t bytes, int line) {
  if (nodes > MAX_NODES - b->nodes || bytes > MAX_BYTES - b->bytes) {
    wp_yaml_seterr(b->err, b->errlen,
                   "%s:%d: document too large (more than %zu nodes or %zu MiB of "
                   "text, counting alias copies)",
                   b->name, line, (size_t)MAX_NODES, MAX_BYTES >> 20);
    return -1;
  }
  b->nodes += nodes;
  b->bytes += bytes;
  return 0;
}

static void measure(const struct wp_node *n, size_t *nodes, size_t *bytes,
                    int *depth, int level) {
  if (n == NULL) return;
  (*nodes)++;
  if (level > *depth) *depth = level;
  if (n->type == WP_NODE_STR) *bytes += n->u.str.len;
  if (n->type == WP_NODE_SEQ)
    for (size_t i = 0; i < n->u.seq.n; i++)
      measure(n->u.seq.items[i], nodes, bytes, depth, level + 1);
  if (n->type == WP_NODE_MAP)
    for (size_t i = 0; i < n->u.map.n; i++) {
      *bytes += strlen(n->u.map.keys[i]);
      measure(n->u.map.vals[i], nodes, bytes, depth, level + 1);
    }
}

static uint32_t hash_str(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

static void frame_free(struct frame *f) {
  wp_node_free(f->node);
  wp_free(f->anchor);
  wp_free(f->key);
  wp_free(f->key_lines);
  wp_free(f->index);
  for (size_t i = 0; i < f->nmerges; i++) wp_node_free(f->merges[i]);
  wp_free(f->merges);
  memset(f, 0, sizeof *f);
}

/* Rebuilds the key index of a map frame with room for at least 2n keys. */
static int index_rebuild(struct frame *f) {
  size_t n = f->node->u.map.n, cap = 64;
  while (cap < 2 * (n + 1)) cap <<= 1;
  uint32_t *ix = wp_calloc(cap, sizeof *ix);
  if (!ix) return -1;
  for (size_t i = 0; i < n; i++) {
    size_t h = hash_str(f->node->u.map.keys[i]) & (cap - 1);
    while (ix[h]) h = (h + 1) & (cap - 1);
    ix[h] = (uint32_t)(i + 1);
  }
  wp_free(f->index);
  f->index = ix;
  f->index_cap = cap;
  return 0;
}

/* Position of key in the open map, or -1. */
static long frame_find(const struct frame *f, const char *key) {
  const struct wp_node *m = f->node;
  if (f->index == NULL) {
    for (size_t i = 0; i < m->u.map.n; i++)
      if (strcmp(m->u.map.keys[i], key) == 0) return (long)i;
    return -1;
  }
  size_t h = hash_str(key) & (f->index_cap - 1);
  while (f->index[h]) {
    size_t i = f->index[h] - 1;
    if (strcmp(m->u.map.keys[i], key) == 0) return (long)i;
    h = (h + 1) & (f->index_cap - 1);
  }
  return -1;
}

/* Adds key/val to the open map (key known to be absent). Takes both on
** success only. */
static int frame_insert(struct frame *f, char *key, struct wp_node *val,
                        int line) {
  size_t n = f->node->u.map.n;
  if (n == wp_node_cap(n)) {
    int *kl = wp_realloc(f->key_lines, wp_node_cap(n + 1) * sizeof *kl);
    if (!kl) return -1;
    f->key_lines = kl;
  }
  if (wp_node_map_append(f->node, key, val) != 0) return -1;
  f->key_lines[n] = line;
  if (f->index || n + 1 >= INDEX_FROM) {
    if (f->index == NULL || 2 * (n + 1) > f->index_cap) {
      if (index_rebuild(f) != 0) goto undo;
    } else {
      size_t h = hash_str(key) & (f->index_cap - 1);
      while (f->index[h]) h = (h + 1) & (f->index_cap - 1);
      f->index[h] = (uint32_t)(n + 1);
    }
  }
  return 0;
undo:
  f->node->u.map.n = n;
  return -1;
}

/* Applies one merge source (a MAP, consumed) to the open map: keys not
** already present are moved in. */
static int merge_from(struct builder *b, struct frame *f, struct wp_node *src) {
  for (size_t i = 0; i < src->u.map.n; i++) {
    if (frame_find(f, src->u.map.keys[i]) >= 0) continue;
    int line = src->u.map.vals[i] ? src->u.map.vals[i]->line : src->line;
    if (frame_insert(f, src->u.map.keys[i], src->u.map.vals[i], line) != 0)
      return fail_oom(b, src->line);
    src->u.map.keys[i] = NULL;
    src->u.map.vals[i] = NULL;
  }
  return 0;
}

static int apply_merges(struct builder *b, struct frame *f) {
  for (size_t m = 0; m < f->nmerges; m++) {
    struct wp_node *src = f->merges[m];
    if (src->type == WP_NODE_MAP) {
      if (merge_from(b, f, src) != 0) return -1;
    } else if (src->type == WP_NODE_SEQ) {
      for (size_t i = 0; i < src->u.seq.n; i++) {
        struct wp_node *it = src->u.seq.items[i];
        if (it == NULL || it->type != WP_NODE_MAP) {
          wp_yaml_seterr(b->err, b->errlen,
                         "%s:%d: merge key << needs a mapping or a list of mappings",
                         b->name, it ? it->line : src->line);
          return -1;
        }
        if (merge_from(b, f, it) != 0) return -1;
      }
    } else {
      wp_yaml_seterr(b->err, b->errlen,
                     "%s:%d: merge key << needs a mapping or a list of mappings",
                     b->name, src->line);
      return -1;
    }
  }
  return 0;
}

static int register_anchor(struct builder *b, const char *name,
                           const struct wp_node *n) {
  struct anchor a = {0};
  measure(n, &a.nodes, &a.bytes, &a.depth, 1);
  if (budget(b, a.nodes, a.bytes, n->line) != 0) return -1;
  a.name = wp_strdup(name);
  a.node = wp_node_clone(n);
  if (!a.name || !a.node) goto oom;
  if (b->nanchors == b->anchors_cap) {
    size_t c = b->anchors_cap ? 2 * b->anchors_cap : 8;
    struct anchor *v = wp_realloc(b->anchors, c * sizeof *v);
    if (!v) goto oom;
    b->anchors = v;
    b->anchors_cap = c;
  }
  b->anchors[b->nanchors++] = a;
  return 0;
oom:
  wp_free(a.name);
  wp_node_free(a.node);
  return fail_oom(b, n->line);
}

static const struct anchor *find_anchor(const struct builder *b,
                                        const char *name) {
  for (size_t i = b->nanchors; i-- > 0;) /* later definitions win */
    if (strcmp(b->anchors[i].name, name) == 0) return &b->anchors[i];
  return NULL;
}

/* Places a finished value node: root, sequence item or mapping value.
** Takes n on all paths. */
static int place(struct builder *b, struct wp_node *n) {
  if (b->depth == 0) {
    b->root = n;
    return 0;
  }
  struct frame *f = &b->stack[b->depth - 1];
  if (f->node->type == WP_NODE_SEQ) {
    if (wp_node_seq_append(f->node, n) != 0) {
      int line = n->line;
      wp_node_free(n);
      return fail_oom(b, line);
    }
    return 0;
  }
  if (f->merge_pending) {
    struct wp_node **v = wp_realloc(f->merges, (f->nmerges + 1) * sizeof *v);
    if (!v) {
      int line = n->line;
      wp_node_free(n);
      return fail_oom(b, line);
    }
    f->merges = v;
    f->merges[f->nmerges++] = n;
    wp_free(f->key);
    f->key = NULL;
    f->merge_pending = 0;
    return 0;
  }
  if (frame_insert(f, f->key, n, f->key_line) != 0) {
    int line = n->line;
    wp_node_free(n);
    return fail_oom(b, line);
  }
  f->key = NULL;
  return 0;
}

/* Text of a scalar node used as a mapping key through an alias. */
static char *scalar_key_text(const struct wp_node *n) {
  char buf[64];
  switch (n->type) {
    case WP_NODE_STR: return wp_strdup(n->u.str.s);
    case WP_NODE_NULL: return wp_strdup("null");
    case WP_NODE_BOOL: return wp_strdup(n->u.b ? "true" : "false");
    case WP_NODE_INT:
      snprintf(buf, sizeof buf, "%lld", (long long)n->u.i);
      return wp_strdup(buf);
    case WP_NODE_FLOAT:
      wp_yaml_fmt_float(n->u.f, buf, sizeof buf);
      return wp_strdup(buf);
    default: return NULL;
  }
}

/* Accepts a key for the innermost open map: takes key (owned). */
static int take_key(struct builder *b, char *key, int line, int is_merge) {
  struct frame *f = &b->stack[b->depth - 1];
  if (!is_merge) {
    long i = frame_find(f, key);
    if (i >= 0) {
      wp_yaml_seterr(b->err, b->errlen,
                     "%s:%d: duplicate key \"%s\" in mapping (first at line %d)",
                     b->name, line, key, f->key_lines[i]);
      wp_free(key);
      return -1;
    }
  }
  f->key = key;
  f->key_line = line;
  f->merge_pending = is_merge;
  return 0;
}

static int expecting_key(const struct builder *b) {
  if (b->depth == 0) return 0;
  const struct frame *f = &b->stack[b->depth - 1];
  return f->node->type == WP_NODE_MAP && f->key == NULL;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev) {
  int line = (int)ev->start_mark.line + 1;
  const char *text = (const char *)ev->data.scalar.value;
  size_t len = ev->data.scalar.length;
  const char *tag = (const char *)ev->data.scalar.tag;
  int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  if (budget(b, 1, len, line) != 0) return -1;
  if (expecting_key(b)) {
    char *key = wp_node_strdup(text ? text : "", text ? len : 0);
    if (!key) return fail_oom(b, line);
    if (ev->data.scalar.anchor) {
      struct wp_node *kn = wp_node_new_str(key, strlen(key), line);
      int rc = kn ? register_anchor(b, (const char *)ev->data.scalar.anchor, kn)
                  : fail_oom(b, line);
      wp_node_free(kn);
      if (rc != 0) {
        wp_free(key);
        return -1;
      }
    }
    int merge = plain && tag == NULL && strcmp(key, "<<") == 0;
    return take_key(b, key, line, merge);
  }
  struct wp_node *n = wp_node_alloc(WP_NODE_STR, line);
  char *s = n ? wp_node_strdup(text ? text : "", text ? len : 0) : NULL;
  if (!s) {
    wp_free(n);
    return fail_oom(b, line);
  }
  int core = tag && strncmp(tag, "tag:yaml.org,2002:", 18) == 0;
  const char *t = core ? tag + 18 : NULL;
  int want_str = (tag && strcmp(tag, "!") == 0) || (t && strcmp(t, "str") == 0);
  int typed = t && (strcmp(t, "null") == 0 || strcmp(t, "bool") == 0 ||
                    strcmp(t, "int") == 0 || strcmp(t, "float") == 0);
  if (!want_str && (plain || typed)) wp_yaml_resolve_plain(s, len, n);
  if (typed) {
    enum wp_node_type want = t[0] == 'n'   ? WP_NODE_NULL
                             : t[0] == 'b' ? WP_NODE_BOOL
                             : t[0] == 'i' ? WP_NODE_INT
                                           : WP_NODE_FLOAT;
    if (want == WP_NODE_FLOAT && n->type == WP_NODE_INT) {
      n->type = WP_NODE_FLOAT;
      n->u.f = (double)n->u.i;
    }
    if (n->type != want) {
      wp_yaml_seterr(b->err, b->errlen, "%s:%d: cannot read \"%.40s\" as !!%s", b->name,
                     line, s, t);
      wp_free(s);
      wp_free(n);
      return -1;
    }
  }
  if (n->type == WP_NODE_STR) {
    n->u.str.s = s;
    n->u.str.len = len;
  } else {
    wp_free(s);
  }
  if (ev->data.scalar.anchor &&
      register_anchor(b, (const char *)ev->data.scalar.anchor, n) != 0) {
    wp_node_free(n);
    return -1;
  }
  return place(b, n);
}

static int on_alias(struct builder *b, const yaml_event_t *ev) {
  int line = (int)ev->start_mark.line + 1;
  const char *name = (const char *)ev->data.alias.anchor;
  const struct anchor *a = find_anchor(b, name);
  if (a == NULL) {
    wp_yaml_seterr(b->err, b->errlen,
                   "%s:%d: unknown anchor *%s (define it with &%s before use; an "
                   "anchor cannot be used inside itself)",
                   b->name, line, name, name);
    return -1;
  }
  if (expecting_key(b)) {
    char *key = scalar_key_text(a->node);
    if (key == NULL) {
      if (a->node->type == WP_NODE_SEQ || a->node->type == WP_NODE_MAP) {
        wp_yaml_seterr(b->err, b->errlen,
                       "%s:%d: alias *%s used as a mapping key is not a scalar",
                       b->name, line, name);
        return -1;
      }
      return fail_oom(b, line);
    }
    return take_key(b, key, line, 0);
  }
  if (b->depth + (size_t)a->depth > MAX_DEPTH) {
    wp_yaml_seterr(b->err, b->errlen, "%s:%d: nesting deeper than %d levels", b->name,
                   line, MAX_DEPTH);
    return -1;
  }
  if (budget(b, a->nodes, a->bytes, line) != 0) return -1;
  struct wp_node *n = wp_node_clone(a->node);
  if (!n) return fail_oom(b, line);
  return place(b, n);
}

static int on_start(struct builder *b, const yaml_event_t *ev, int is_map) {
  int line = (int)ev->start_mark.line + 1;
  if (expecting_key(b)) {
    wp_yaml_seterr(b->err, b->errlen,
                   "%s:%d: a mapping key must be a scalar (complex keys are not "
                   "supported)",
                   b->name, line);
    return -1;
  }
  if (b->depth >= MAX_DEPTH) {
    wp_yaml_seterr(b->err, b->errlen, "%s:%d: nesting deeper than %d levels", b->name,
                   line, MAX_DEPTH);
    return -1;
  }
  if (budget(b, 1, 0, line) != 0) return -1;
  if (b->depth == b->stack_cap) {
    size_t c = b->stack_cap ? 2 * b->stack_cap : 16;
    struct frame *v = wp_realloc(b->stack, c * sizeof *v);
    if (!v) return fail_oom(b, line);
    b->stack = v;
    b->stack_cap = c;
  }
  struct frame *f = &b->stack[b->depth];
  memset(f, 0, sizeof *f);
  f->node = wp_node_alloc(is_map ? WP_NODE_MAP : WP_NODE_SEQ, line);
  if (!f->node) return fail_oom(b, line);
  const yaml_char_t *anchor =
      is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
  if (anchor) {
    f->anchor = wp_strdup((const char *)anchor);
    if (!f->anchor) {
      frame_free(f);
      return fail_oom(b, line);
    }
  }
  b->depth++;
  return 0;
}

static int on_end(struct builder *b) {
  struct frame *f = &b->stack[b->depth - 1];
  if (f->node->type == WP_NODE_MAP && apply_merges(b, f) != 0) return -1;
  if (f->anchor && register_anchor(b, f->anchor, f->node) != 0) return -1;
  struct wp_node *n = f->node;
  f->node = NULL;
  frame_free(f);
  b->depth--;
  return place(b, n);
}

static void builder_free(struct builder *b) {
  while (b->depth > 0) frame_free(&b->stack[--b->depth]);
  wp_free(b->stack);
  for (size_t i = 0; i < b->nanchors; i++) {
    wp_free(b->anchors[i].name);
    wp_node_free(b->anchors[i].node);
  }
  wp_free(b->anchors);
}

/* Reports a libyaml error as "name:line: problem (context at line N)". */
static void yaml_error(const char *name, const yaml_parser_t *p,
                       const char *data, size_t len, char *err, size_t errlen) {
  const char *problem = p->problem ? p->problem : "invalid YAML";
  if (p->error == YAML_MEMORY_ERROR) {
    wp_yaml_seterr(err, errlen, "%s: out of memory while parsing", name);
    return;
  }
  if (p->error == YAML_READER_ERROR) {
    int line = 1;
    for (size_t i = 0; i < p->problem_offset && i < len; i++)
      line += data[i] == '\n';
    wp_yaml_seterr(err, errlen, "%s:%d: %s (byte offset %zu; the file must be UTF-8)",
                   name, line, problem, p->problem_offset);
    return;
  }
  int line = (int)p->problem_mark.line + 1;
  if (p->context)
    wp_yaml_seterr(err, errlen, "%s:%d: %s (%s at line %d)", name, line, problem,
                   p->context, (int)p->context_mark.line + 1);
  else
    wp_yaml_seterr(err, errlen, "%s:%d: %s", name, line, problem);
}

struct wp_node *wp_yaml_load_mem(const char *name, const char *data, size_t len,
                                 char *err, size_t errlen) {
  yaml_parser_t parser;
  struct builder b = {0};
  b.name = name ? name : "<yaml>";
  b.err = err;
  b.errlen = errlen;
  if (!yaml_parser_initialize(&parser)) {
    wp_yaml_seterr(err, errlen, "%s: out of memory", b.name);
    return NULL;
  }
  yaml_parser_set_input_string(
      &parser, (const unsigned char *)(data ? data : ""), data ? len : 0);
  int ok = 1;
  while (ok && !b.done) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      yaml_error(b.name, &parser, data, len, err, errlen);
      ok = 0;
      break;
    }
    switch (ev.type) {
      case YAML_STREAM_END_EVENT: b.done = 1; break;
      case YAML_DOCUMENT_END_EVENT:
        b.done = 1; /* first document only */
        break;
      case YAML_SCALAR_EVENT: ok = on_scalar(&b, &ev) == 0; break;
      case YAML_ALIAS_EVENT: ok = on_alias(&b, &ev) == 0; break;
      case YAML_SEQUENCE_START_EVENT: ok = on_start(&b, &ev, 0) == 0; break;
      case YAML_MAPPING_START_EVENT: ok = on_start(&b, &ev, 1) == 0; break;
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT: ok = b.depth > 0 && on_end(&b) == 0; break;
      default: break;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  builder_free(&b);
  if (!ok) {
    wp_node_free(b.root);
    return NULL;
  }
  if (b.root == NULL) { /* empty stream */
    b.root = wp_node_alloc(WP_NODE_NULL, 1);
    if (!b.root) wp_yaml_seterr(err, errlen, "%s: out of memory", b.name);
  }
  return b.root;
}

/*
** O_NONBLOCK keeps open() from hanging on a FIFO; the fstat() check then
** refuses anything but a regular file before the first read.
*/
int wp_yaml_read_file(const char *path, char **out, size_t *len) {
  struct wp_buf buf = WP_BUF_INIT;
  struct stat st;
  int e = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return -1;
  if (fstat(fd, &st) != 0) {
    e = errno;
    goto fail;
  }
  if (!S_ISREG(st.st_mode)) {
    e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    goto fail;
  }
  for (;;) {
    char chunk[16384];
    ssize_t r = read(fd, chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      e = errno;
      goto fail;
    }
    if (r == 0) break;
    if (wp_buf_append(&buf, chunk, (size_t)r) != 0) {
      e = ENOMEM;
      goto fail;
    }
  }
  if (wp_buf_append(&buf, "", 1) != 0) {
    e = ENOMEM;
    goto fail;
  }
  close(fd);
  *out = (char *)buf.data;
  *len = buf.len - 1;
  return 0;
fail:
  wp_buf_free(&buf);
  close(fd);
  errno = e;
  return -1;
}

const char *wp_yaml_read_error(int e) {
  return e == EINVAL ? "not a regular file" : strerror(e);
}

struct wp_node *wp_yaml_load_file(const char *path, char *err, size_t errlen) {
  char *data;
  size_t len;
  if (wp_yaml_read_file(path, &data, &len) != 0) {
    wp_yaml_seterr(err, errlen, "%s: cannot read file: %s", path,
                   wp_yaml_read_error(errno));
    return NULL;
  }
  struct wp_node *n = wp_yaml_load_mem(path, data, len, err, errlen);
  wp_free(data);
  return n;
}
