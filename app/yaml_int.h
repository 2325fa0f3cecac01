/*
** yaml_int.h: what the YAML reader and writer share (yamlscalar.c); private
** to app/yamltree.c and app/yamlemit.c.
*/
#ifndef WP_YAML_INT_H
#define WP_YAML_INT_H

#include <stddef.h>

#include "node.h"

/* Whether s is one of the NULL-terminated words. */
int wp_yaml_is_one_of(const char *s, const char *const *words);
/* Types the NUL-terminated plain scalar s (length len) into n (whose type
** and value are set; a STR result leaves n->u untouched for the caller). */
void wp_yaml_resolve_plain(const char *s, size_t len, struct wp_node *n);
/* Text that reads back as the same double and as a float (n bytes). */
void wp_yaml_fmt_float(double f, char *out, size_t n);

#endif
