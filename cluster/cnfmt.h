/*
** cnfmt.h: how cnames.c writes cluster names into the bucket <prefix>_names
** (cnfmt.c): a name's key, and the value naming its holder. Private to
** cluster/.
*/
#ifndef WP_CNFMT_H
#define WP_CNFMT_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.h"

/* A parsed value: scope, whether pending (STRONG, not yet confirmed),
** the holder's node, its incarnation and pid (pointing into the value). */
struct holder {
  int scope, pending;
  char node[WP_CLUSTER_NAME_MAX + 1];
  uint64_t inc;
  const char *pid;
  size_t plen;
};

/* Writes name's key into out (3 * nlen + 1 bytes): the name's bytes, every
** byte outside [A-Za-z0-9_-] as =XX (keys allow few characters). */
void wp_cnfmt_key(const char *name, size_t nlen, char *out);
/* The name of key into out (at least strlen(key) bytes); its length, or
** -1 when key is not one of ours. */
long wp_cnfmt_parse_key(const char *key, char *out);
/* Parses "v1 SCOPE STATE NODE INC PID" (len bytes) into h (pointing into
** v); 0, or -1 when it is not one (an empty value: a released name). */
int wp_cnfmt_parse_value(const char *v, size_t len, struct holder *h);
/* Writes such a value into out (cap bytes); its length, or -1 when it
** does not fit. */
int wp_cnfmt_value(char *out, size_t cap, int scope, int pending, const char *node,
                   uint64_t inc, const char *pid, size_t plen);

#endif
