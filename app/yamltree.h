/*
** yamltree.h: YAML (and JSON, which is YAML) files as value trees (node.h).
**
** libyaml gives untyped scalars; this module resolves plain scalars itself:
** null/~/empty -> NULL, true/false (also True/TRUE/yes/no are NOT booleans:
** only true/false/True/False/TRUE/FALSE), decimal/0x/0o integers -> INT,
** floats (incl. .inf/.nan) -> FLOAT, everything else STR. Quoted scalars are
** always STR ("1.0" quoted stays a string). Duplicate keys in a mapping are an
** error (libyaml silently accepts them). Anchors/aliases are resolved by
** copying, and merge keys (`<<: *base`) are applied (explicit keys win).
** Nesting depth, node count and text size are bounded (alias bombs fail).
** Lines are 1-based (libyaml marks are 0-based).
*/
#ifndef WP_YAMLTREE_H
#define WP_YAMLTREE_H

#include <stddef.h>

#include "node.h"

/* Nesting levels a loaded tree may have. The paths that --set, -o and a
** configuration's override: section create keep to it too, so a recursive
** walk over any tree is bounded. */
#define WP_YAML_MAX_DEPTH 512

/* Parses a whole file (first document only). Returns the root (a NULL node for
** an empty file) or NULL with "path:line: message" in err. */
struct wp_node *wp_yaml_load_file(const char *path, char *err, size_t errlen);
/* Same from memory; `name` is used in messages. */
struct wp_node *wp_yaml_load_mem(const char *name, const char *data, size_t len,
                                 char *err, size_t errlen);
/* Reads a whole regular file into a NUL-terminated wp_malloc'd buffer (*len
** excludes the NUL). 0, or -1 with errno set: EISDIR for a directory, EINVAL
** for another non-regular file (a FIFO is never read, so never blocks). */
int wp_yaml_read_file(const char *path, char **out, size_t *len);
/* Message for a wp_yaml_read_file errno: strerror, or "not a regular file". */
const char *wp_yaml_read_error(int e);
/* Renders a tree as block YAML (the writer's format) into a NUL-terminated
** wp_malloc'd string, length in *len if not NULL; NULL on allocation failure. */
char *wp_yaml_emit(const struct wp_node *root, size_t *len);
/* Writes a tree as block YAML with 4-space indentation (the style `wippy init`
** writes) to a temporary sibling renamed over `path` (so `mode` is applied
** exactly, and a crash never leaves half a file). 0 or -1 with errno set. */
int wp_yaml_write_file(const char *path, const struct wp_node *root, int mode);

/* Formats an error message into err (errlen bytes, truncated); nothing when
** err is NULL. The one way the loaders report errors (yamltree.c,
** entries.c, config.c). */
void wp_yaml_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
