/*
** cpg.h: process groups across the cluster (cpg.c), private to cluster/.
** cluster.c owns the groups of a joined node and forwards the public calls
** of cluster.h (wp_cluster_*pg*) here.
*/
#ifndef WP_CPG_H
#define WP_CPG_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "nats_conn.h"
#include "transport.h"

struct wp_cpg;

/* Starts the groups of node `self` of cluster c (its incarnation and leader
** are asked of c when needed) on connection n and transport t (both
** borrowed until stop: t for the member view), with the node-departure
** bound down_after_ns and hooks h (copied). Opens (or makes) the bucket
** <prefix>_pg and returns once the replica showed what the bucket held
** (a bounded wait), or NULL with a message in err. */
struct wp_cpg *wp_cpg_start(struct wp_cluster *c, struct wp_nats *n, struct wp_transport *t,
                            const char *prefix, const char *self, int64_t down_after_ns,
                            const struct wp_cluster_pg_hooks *h, char *err, size_t errlen);
/* See wp_cluster_pg_wake and wp_cluster_pg_limit. */
void wp_cpg_wake(struct wp_cpg *g);
size_t wp_cpg_limit(struct wp_cpg *g);
/* Writes what changed last (bounded), ends both threads and frees g. NULL
** is fine. */
void wp_cpg_stop(struct wp_cpg *g);

#endif
