/*
** remote.h: monitors and links between a process of this node and one of
** another node (remote.c; issue 13 items 5 and 6, spec 07 §4-5). The
** runtime's side only: frames reach the cluster through rt->remote_send
** and come back through wp_remote_receive; the cluster tells of departed
** nodes and lost sessions through wp_remote_node_down. Nothing here
** touches a Lua state: every call but wp_remote_relate runs on the
** cluster's threads or an exiting process's worker.
*/
#ifndef WP_REMOTE_H
#define WP_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "proc.h"

struct wp_rt;
struct wp_remote;

/* The table of a clustered node's cross-node relations (rt->remote).
** NULL when out of memory. */
struct wp_remote *wp_remote_new(void);
/* Frees it and what it still holds (at shutdown, once no process runs and
** the cluster delivers nothing more). NULL is fine. */
void wp_remote_free(struct wp_remote *r);

/* What wp_remote_relate says: done; `monitor` on a pid already monitored;
** the pid's node is not a live member; the request cannot travel (a pid
** longer than a NATS message); out of memory. */
enum { WP_REMOTE_OK = 0, WP_REMOTE_EXISTS, WP_REMOTE_DOWN, WP_REMOTE_TOO_LARGE,
       WP_REMOTE_NOMEM };
/* process.monitor, unmonitor, link or unlink (op: WP_RT_REMOTE_MONITOR ...
** of vm.h) by process `self` (running it, on its worker) on `pid` (len
** bytes, borrowed), a pid of another node. Records the relation, or drops
** it, and sends the request to that node without waiting. A monitor or
** link whose target turns out not to exist ends with an EXIT or LINK_DOWN
** ("pid not registered"), one with a node that departs or loses its
** session with this one with "node disconnected" (Unavailable). unmonitor
** and unlink always succeed. */
int wp_remote_relate(struct wp_rt *rt, struct wp_proc *self, uint32_t op, const char *pid,
                     size_t len);

/* A frame of node `node` (nlen bytes) for a process of this node: an
** EXIT or LINK_DOWN of a remote process (payload: its encoded result;
** `abnormal` when it carries an error) or a relation request (no
** payload). Everything is borrowed. On a cluster thread. 0 (a notice
** nobody waits for any more is dropped; a request for a process that
** does not live here is answered), or -1 when the frame makes no sense
** (`from` is not a pid of `node`, `dest` not a pid), for the transport to
** count. */
int wp_remote_receive(struct wp_rt *rt, const char *node, size_t nlen, uint32_t kind,
                      int abnormal, const char *from, size_t from_len, const char *dest,
                      size_t dest_len, const void *payload, size_t len);

/* Process p ends with result res (rlen bytes, borrowed; abnormal: it
** carries an error) and had cross-node relations (p->remote): sends EXIT
** to its watchers on other nodes, LINK_DOWN to its links there (only
** forgetting the link on a normal end), and drops its own monitors there.
** On p's worker, after wp_proc_exit_begin and after p left the process
** table. Queued behind every message p sent before. */
void wp_remote_exit(struct wp_rt *rt, struct wp_proc *p, const void *res, size_t rlen,
                    int abnormal);

/* Node `node` (nlen bytes; NULL: every node) departed, or frames between
** it and this node may have been lost: every local process monitoring or
** linked to a process there gets EXIT / LINK_DOWN "node disconnected"
** (Unavailable), and what that node's processes held on ours is dropped.
** On a cluster thread; sends nothing (wp_cluster_down_fn). */
void wp_remote_node_down(struct wp_rt *rt, const char *node, size_t nlen);

#endif
