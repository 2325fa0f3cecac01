/*
** cnames.h: cluster-wide process names (cnames.c), private to cluster/.
** cluster.c owns the names of a joined node and forwards the public calls
** of cluster.h (wp_cluster_name_*) here.
*/
#ifndef WP_CNAMES_H
#define WP_CNAMES_H

#include <nats/nats.h>
#include <stdint.h>

#include "cluster.h"
#include "nats_conn.h"
#include "transport.h"

struct wp_cnames;

/* Starts the names of node `self` (incarnation inc) on connection n and
** bucket kv (both borrowed until stop), with transport t (borrowed: the
** member view) and hooks h (copied). Returns once the local replica holds
** every name the bucket held (a bounded wait), or NULL with a message in
** err. */
struct wp_cnames *wp_cnames_start(struct wp_nats *n, kvStore *kv, struct wp_transport *t,
                                  const char *prefix, const char *self, uint64_t inc,
                                  const struct wp_cluster_names_hooks *h, char *err,
                                  size_t errlen);
size_t wp_cnames_lookup(struct wp_cnames *cn, const char *name, size_t nlen, char *out,
                        size_t cap, int *scope);
int wp_cnames_request(struct wp_cnames *cn, int op, int scope, const char *name, size_t nlen,
                      const char *pid, size_t plen, uint64_t t1, uint64_t t2);
void wp_cnames_release(struct wp_cnames *cn, const char *pid, size_t plen);
/* This node was fenced (cluster.c): every local holder of a cluster name
** is told it is revoked (hooks.revoke) and requests are refused until
** wp_cnames_rejoin gives the new incarnation. */
void wp_cnames_fence(struct wp_cnames *cn);
void wp_cnames_rejoin(struct wp_cnames *cn, uint64_t inc);
size_t wp_cnames_leader(struct wp_cnames *cn, char *out, size_t cap);
/* Finishes the queued requests (bounded), ends both threads and frees cn. */
void wp_cnames_stop(struct wp_cnames *cn);

#endif
