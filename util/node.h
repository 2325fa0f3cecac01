/*
** node.h: a small typed value tree: null, booleans, integers, floats,
** strings, sequences and string-keyed maps, each node with the line it came
** from. The YAML loader (app/yamltree.h) builds these trees; any layer may
** read them (the Lua runtime turns one into Lua values for a service's
** input) without knowing YAML.
*/
#ifndef WP_NODE_H
#define WP_NODE_H

#include <stddef.h>
#include <stdint.h>

enum wp_node_type {
  WP_NODE_NULL,
  WP_NODE_BOOL,
  WP_NODE_INT,
  WP_NODE_FLOAT,
  WP_NODE_STR,
  WP_NODE_SEQ,
  WP_NODE_MAP
};

struct wp_node {
  enum wp_node_type type;
  int line; /* 1-based line of the node in its file */
  union {
    int b;
    int64_t i;
    double f;
    struct {
      char *s; /* NUL-terminated; may contain NULs before len in theory */
      size_t len;
    } str;
    struct {
      struct wp_node **items;
      size_t n;
    } seq;
    struct {
      char **keys; /* keys are strings (non-string keys are stringified) */
      struct wp_node **vals;
      size_t n;
    } map;
  } u;
};

/* Frees a tree (NULL is fine). */
void wp_node_free(struct wp_node *n);
/* Deep copy; NULL on allocation failure. */
struct wp_node *wp_node_clone(const struct wp_node *n);
/* Child of a map by key, or NULL (also when n is not a map). */
struct wp_node *wp_node_get(const struct wp_node *n, const char *key);
/* Follows a dotted path of map keys ("shutdown.exec_grace"), or NULL. */
struct wp_node *wp_node_path(const struct wp_node *n, const char *dotted);
/* String value of a STR node, else NULL. */
const char *wp_node_str(const struct wp_node *n);
/* New nodes (NULL on allocation failure). */
struct wp_node *wp_node_new_str(const char *s, size_t len, int line);
struct wp_node *wp_node_new_map(int line);
/* Sets key in a map node, replacing an existing value (the old one is freed).
** Takes ownership of val. 0 or -1 on allocation failure. */
int wp_node_map_set(struct wp_node *map, const char *key, struct wp_node *val);
/* More constructors (NULL on allocation failure). SEQ/MAP arrays are sized
** by an internal rule: grow them only through wp_node_seq_push and
** wp_node_map_set, never by hand. */
struct wp_node *wp_node_new_seq(int line);
struct wp_node *wp_node_new_null(int line);
struct wp_node *wp_node_new_bool(int b, int line);
struct wp_node *wp_node_new_int(int64_t i, int line);
struct wp_node *wp_node_new_float(double f, int line);
/* Appends item to a SEQ node. Takes ownership of item (freed on failure).
** 0 or -1 (allocation failure, or seq is not a SEQ). */
int wp_node_seq_push(struct wp_node *seq, struct wp_node *item);

/* For tree builders (app/yamltree.c): the capacity rule of node.c, a bare
** node (zeroed but for type and line), appending without a key lookup, and
** a NUL-terminated copy of len bytes. NULL or -1 on allocation failure;
** the append functions take nothing on failure. */
size_t wp_node_cap(size_t n);
struct wp_node *wp_node_alloc(enum wp_node_type t, int line);
int wp_node_seq_append(struct wp_node *s, struct wp_node *item);
int wp_node_map_append(struct wp_node *m, char *key, struct wp_node *val);
char *wp_node_strdup(const char *s, size_t len);

#endif
