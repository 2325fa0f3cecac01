/*
** transport.h: messages between nodes (transport.c, with flow.c: see
** transport_int.h), private to cluster/.
** cluster.c owns the transport of a joined node and forwards the public
** calls of cluster.h here.
*/
#ifndef WP_TRANSPORT_H
#define WP_TRANSPORT_H

#include <nats/nats.h>
#include <stdint.h>

#include "cluster.h"
#include "nats_conn.h"

struct wp_transport;

/* Starts the transport of node `self` (incarnation inc) on connection n
** (borrowed until stop), watching the membership bucket `nodes`; see
** wp_cluster_start_transport and wp_cluster_on_down (down may be NULL).
** NULL with a message in err. */
struct wp_transport *wp_transport_start(struct wp_nats *n, kvStore *nodes, const char *prefix,
                                        const char *self, uint64_t inc, int64_t down_after_ns,
                                        wp_cluster_deliver_fn deliver, void *ctx,
                                        wp_cluster_down_fn down, void *down_ctx, char *err,
                                        size_t errlen);
/* wp_cluster_send and wp_cluster_flush (cluster.h). */
int wp_transport_send(struct wp_transport *t, const struct wp_cluster_frame *f, int how,
                      size_t *size, size_t *limit);
void wp_transport_flush(struct wp_transport *t, int idle);
/* The live incarnation of node `name` (0: not a live member: no entry, or
** none renewed within down_after). Any thread. */
uint64_t wp_transport_live(struct wp_transport *t, const char *name, size_t nlen);
/* Copies the names of the live members (this node included), up to max of
** them, into out; returns how many there are. Any thread. */
size_t wp_transport_members(struct wp_transport *t, char (*out)[WP_CLUSTER_NAME_MAX + 1],
                            size_t max);
/* This node was departed for its silence (cluster.c found its entry marked
** or taken over): fires every cross-node relation, drops what is queued,
** refuses sends and drops what comes in, until wp_transport_rejoin. */
void wp_transport_fence(struct wp_transport *t);
/* A fenced node is about to claim its name as incarnation inc: batches for
** inc are taken from now on (a peer that sees the claim may send at once),
** sends stay refused until wp_transport_rejoin. */
void wp_transport_expect(struct wp_transport *t, uint64_t inc);
/* This node rejoined as incarnation inc: sessions start anew under it. */
void wp_transport_rejoin(struct wp_transport *t, uint64_t inc);
void wp_transport_stats(const struct wp_transport *t, struct wp_cluster_stats *s);
/* Stops t's threads, sending what is queued (the connection stays open);
** t stays readable (wp_transport_flush) until wp_transport_free. */
void wp_transport_stop(struct wp_transport *t);
void wp_transport_free(struct wp_transport *t);

#endif
