/*
** node.c: the value tree (node.h): constructors, copies, lookups.
**
** Capacity rule: a SEQ/MAP node with n items has arrays with room for
** wp_node_cap(n) items (0, then powers of two from 4). The node struct has
** no capacity field, so every function that grows or copies a node follows
** it (here and in the YAML builder, app/yamltree.c).
*/
#include "node.h"

#include <stdint.h>
#include <string.h>

#include "alloc.h"

size_t wp_node_cap(size_t n) {
  if (n == 0) return 0;
  size_t c = 4;
  while (c < n) c <<= 1;
  return c;
}

struct wp_node *wp_node_alloc(enum wp_node_type t, int line) {
  struct wp_node *n = wp_calloc(1, sizeof *n);
  if (n) {
    n->type = t;
    n->line = line;
  }
  return n;
}

int wp_node_seq_append(struct wp_node *s, struct wp_node *item) {
  size_t n = s->u.seq.n;
  if (n == wp_node_cap(n)) {
    size_t c = wp_node_cap(n + 1);
    if (c == 0 || c > SIZE_MAX / sizeof(void *)) return -1;
    struct wp_node **v = wp_realloc(s->u.seq.items, c * sizeof *v);
    if (!v) return -1;
    s->u.seq.items = v;
  }
  s->u.seq.items[n] = item;
  s->u.seq.n = n + 1;
  return 0;
}

int wp_node_map_append(struct wp_node *m, char *key, struct wp_node *val) {
  size_t n = m->u.map.n;
  if (n == wp_node_cap(n)) {
    size_t c = wp_node_cap(n + 1);
    if (c == 0 || c > SIZE_MAX / sizeof(void *)) return -1;
    char **k = wp_realloc(m->u.map.keys, c * sizeof *k);
    if (!k) return -1;
    m->u.map.keys = k;
    struct wp_node **v = wp_realloc(m->u.map.vals, c * sizeof *v);
    if (!v) return -1; /* keys array stays larger: harmless */
    m->u.map.vals = v;
  }
  m->u.map.keys[n] = key;
  m->u.map.vals[n] = val;
  m->u.map.n = n + 1;
  return 0;
}

char *wp_node_strdup(const char *s, size_t len) {
  char *d = wp_malloc(len + 1);
  if (d) {
    if (len) memcpy(d, s, len);
    d[len] = '\0';
  }
  return d;
}

void wp_node_free(struct wp_node *n) {
  if (n == NULL) return;
  switch (n->type) {
    case WP_NODE_STR: wp_free(n->u.str.s); break;
    case WP_NODE_SEQ:
      for (size_t i = 0; i < n->u.seq.n; i++) wp_node_free(n->u.seq.items[i]);
      wp_free(n->u.seq.items);
      break;
    case WP_NODE_MAP:
      for (size_t i = 0; i < n->u.map.n; i++) {
        wp_free(n->u.map.keys[i]);
        wp_node_free(n->u.map.vals[i]);
      }
      wp_free(n->u.map.keys);
      wp_free(n->u.map.vals);
      break;
    default: break;
  }
  wp_free(n);
}

struct wp_node *wp_node_clone(const struct wp_node *n) {
  if (n == NULL) return NULL;
  struct wp_node *c = wp_node_alloc(n->type, n->line);
  if (!c) return NULL;
  size_t cap;
  switch (n->type) {
    case WP_NODE_STR:
      c->u.str.s = wp_node_strdup(n->u.str.s ? n->u.str.s : "", n->u.str.len);
      c->u.str.len = n->u.str.len;
      if (!c->u.str.s) goto fail;
      break;
    case WP_NODE_SEQ:
      cap = wp_node_cap(n->u.seq.n);
      if (cap) {
        c->u.seq.items = wp_calloc(cap, sizeof(struct wp_node *));
        if (!c->u.seq.items) goto fail;
      }
      for (size_t i = 0; i < n->u.seq.n; i++) {
        if (n->u.seq.items[i] == NULL) continue;
        c->u.seq.items[i] = wp_node_clone(n->u.seq.items[i]);
        c->u.seq.n = i + 1;
        if (!c->u.seq.items[i]) goto fail;
      }
      c->u.seq.n = n->u.seq.n;
      break;
    case WP_NODE_MAP:
      cap = wp_node_cap(n->u.map.n);
      if (cap) {
        c->u.map.keys = wp_calloc(cap, sizeof(char *));
        c->u.map.vals = wp_calloc(cap, sizeof(struct wp_node *));
        if (!c->u.map.keys || !c->u.map.vals) goto fail;
      }
      for (size_t i = 0; i < n->u.map.n; i++) {
        c->u.map.n = i + 1;
        c->u.map.keys[i] = wp_strdup(n->u.map.keys[i]);
        if (!c->u.map.keys[i]) goto fail;
        if (n->u.map.vals[i] == NULL) continue;
        c->u.map.vals[i] = wp_node_clone(n->u.map.vals[i]);
        if (!c->u.map.vals[i]) goto fail;
      }
      break;
    default: c->u = n->u; break;
  }
  return c;
fail:
  wp_node_free(c);
  return NULL;
}

static struct wp_node *map_getn(const struct wp_node *n, const char *key,
                                size_t len) {
  if (n == NULL || n->type != WP_NODE_MAP) return NULL;
  for (size_t i = 0; i < n->u.map.n; i++) {
    const char *k = n->u.map.keys[i];
    if (strncmp(k, key, len) == 0 && k[len] == '\0') return n->u.map.vals[i];
  }
  return NULL;
}

struct wp_node *wp_node_get(const struct wp_node *n, const char *key) {
  return key ? map_getn(n, key, strlen(key)) : NULL;
}

struct wp_node *wp_node_path(const struct wp_node *n, const char *dotted) {
  if (dotted == NULL) return NULL;
  const struct wp_node *cur = n;
  const char *p = dotted;
  for (;;) {
    const char *dot = strchr(p, '.');
    size_t len = dot ? (size_t)(dot - p) : strlen(p);
    cur = map_getn(cur, p, len);
    if (cur == NULL || dot == NULL) return (struct wp_node *)cur;
    p = dot + 1;
  }
}

const char *wp_node_str(const struct wp_node *n) {
  return (n && n->type == WP_NODE_STR) ? n->u.str.s : NULL;
}

struct wp_node *wp_node_new_str(const char *s, size_t len, int line) {
  struct wp_node *n = wp_node_alloc(WP_NODE_STR, line);
  if (!n) return NULL;
  n->u.str.s = wp_node_strdup(s ? s : "", s ? len : 0);
  n->u.str.len = s ? len : 0;
  if (!n->u.str.s) {
    wp_free(n);
    return NULL;
  }
  return n;
}

struct wp_node *wp_node_new_map(int line) {
  return wp_node_alloc(WP_NODE_MAP, line);
}
struct wp_node *wp_node_new_seq(int line) {
  return wp_node_alloc(WP_NODE_SEQ, line);
}
struct wp_node *wp_node_new_null(int line) {
  return wp_node_alloc(WP_NODE_NULL, line);
}

struct wp_node *wp_node_new_bool(int b, int line) {
  struct wp_node *n = wp_node_alloc(WP_NODE_BOOL, line);
  if (n) n->u.b = b != 0;
  return n;
}

struct wp_node *wp_node_new_int(int64_t i, int line) {
  struct wp_node *n = wp_node_alloc(WP_NODE_INT, line);
  if (n) n->u.i = i;
  return n;
}

struct wp_node *wp_node_new_float(double f, int line) {
  struct wp_node *n = wp_node_alloc(WP_NODE_FLOAT, line);
  if (n) n->u.f = f;
  return n;
}

int wp_node_seq_push(struct wp_node *seq, struct wp_node *item) {
  if (seq == NULL || seq->type != WP_NODE_SEQ || item == NULL ||
      wp_node_seq_append(seq, item) != 0) {
    wp_node_free(item);
    return -1;
  }
  return 0;
}

int wp_node_map_set(struct wp_node *map, const char *key, struct wp_node *val) {
  if (map == NULL || map->type != WP_NODE_MAP || key == NULL || val == NULL) {
    wp_node_free(val);
    return -1;
  }
  for (size_t i = 0; i < map->u.map.n; i++) {
    if (strcmp(map->u.map.keys[i], key) == 0) {
      wp_node_free(map->u.map.vals[i]);
      map->u.map.vals[i] = val;
      return 0;
    }
  }
  char *k = wp_strdup(key);
  if (k == NULL || wp_node_map_append(map, k, val) != 0) {
    wp_free(k);
    wp_node_free(val);
    return -1;
  }
  return 0;
}
