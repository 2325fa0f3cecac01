/*
** config.h: .wippy.yaml runtime configuration (spec 02 §4).
*/
#ifndef WP_CONFIG_H
#define WP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "entries.h"
#include "yamltree.h"

/* Loads a config file. If `required` is 0 and the file does not exist, returns
** an empty MAP. ${env:NAME} inside string values is replaced by the variable's
** value; a missing variable is an error. Returns NULL with "path:line: ..." in
** err on failure. */
struct wp_node *wp_config_load(const char *path, int required, char *err,
                               size_t errlen);
/* Applies one `--set section.path=value` override (value coerced: true/false,
** integers, floats with '.'/'e', else string). 0 or -1 with message. */
int wp_config_set(struct wp_node *root, const char *assignment, char *err,
                  size_t errlen);
/* Typed getters over a dotted path; return `def` when absent. A duration is a
** duration string or a number of nanoseconds; a malformed value returns -1 and
** writes a message naming the key and line into err. */
int wp_config_duration(const struct wp_node *root, const char *path, int64_t def,
                       int64_t *out_ns, char *err, size_t errlen);
int64_t wp_config_int(const struct wp_node *root, const char *path, int64_t def);
/* A size in bytes: a number, or text such as "64M": a decimal number
** (a fraction allowed) with an optional suffix K, M, G or T (powers of
** 1024, either case, optionally followed by B or iB), or B. 0, or -1 when
** s is not a size or does not fit int64_t. Borrows s. */
int wp_config_parse_size(const char *s, size_t len, int64_t *out);
/* The size node n holds (a non-negative integer or a size string), and the
** value as written into text (NUL-terminated, cut to textlen - 1). 0, or -1
** when n holds no valid size. */
int wp_config_size_value(const struct wp_node *n, int64_t *out, char *text, size_t textlen);
/* The size at path: def and an empty text when absent; -1 with a message
** naming the file (root was loaded from), line and key, and what to write,
** when malformed. */
int wp_config_size(const struct wp_node *root, const char *path, const char *file, int64_t def,
                   int64_t *out, char *text, size_t textlen, char *err, size_t errlen);
const char *wp_config_str(const struct wp_node *root, const char *path,
                          const char *def);
/* A boolean (or the strings "true"/"false", e.g. after ${env:} substitution);
** `def` when absent or of another type. wp_config_int likewise accepts
** decimal text and integral floats; wp_config_str only strings. */
int wp_config_bool(const struct wp_node *root, const char *path, int def);

/* The --set/-o value coercion: true/false, integers, floats, else a string. */
struct wp_node *wp_config_coerce(const char *v);
/* Overrides an entry field (spec 02 §3 -o): target "ns:entry:field" where
** field is `kind`, `meta.<k>`, `data.<k>` or a bare data key (dotted paths
** create maps). Takes val. 0 or -1 with a message. */
int wp_config_override(struct wp_entries *es, const char *target, struct wp_node *val,
                       char *err, size_t errlen);
/* Same from a "ns:entry:field=value" argument. */
int wp_config_override_arg(struct wp_entries *es, const char *spec, char *err,
                           size_t errlen);

#endif
