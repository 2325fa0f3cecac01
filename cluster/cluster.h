/*
** cluster.h: a node of a cluster whose nodes meet through NATS (issue 13;
** what apps see: spec 07). C, libnats and pthreads: never Lua or YAML. The
** command line reads the configuration and hands this layer a plain
** wp_cluster_config.
**
** What a node does today: it joins (claims its name in the membership
** bucket, under a new incarnation), keeps its entry alive from a thread of
** its own, carries `send` and `cancel`, and monitors and links with their
** EXIT and LINK_DOWN, to processes of other live nodes (transport.c),
** tells the runtime when another node departs or a session with it loses
** frames (the down hook), keeps names (cnames.c) and process groups
** (cpg.c) across the cluster, and leaves.
*/
#ifndef WP_CLUSTER_H
#define WP_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#define WP_CLUSTER_NAME_MAX 32 /* node names and the prefix: [A-Za-z0-9_-]{1,32} */

struct wp_cluster_config {
  const char *name;        /* the node name (wp_cluster_name_ok) */
  const char *const *urls; /* NATS servers, at least one */
  int nurls;
  const char *creds;       /* cluster.nats.creds: a credentials file, or NULL */
  const char *tls_ca;      /* cluster.nats.tls.*: files, or NULL */
  const char *tls_cert;
  const char *tls_key;
  const char *prefix;      /* of buckets and subjects */
  int64_t heartbeat_ns;    /* how often the node renews its entry */
  int64_t down_after_ns;   /* an entry not renewed for this long is free */
};

struct wp_cluster;

/* Whether s is a valid node name: 1 to WP_CLUSTER_NAME_MAX characters from
** [A-Za-z0-9_-]. `local` matches but is reserved (wp_cluster_check). */
int wp_cluster_name_ok(const char *s);
/* Checks a configuration before anything connects: the name (not `local`),
** the prefix, the durations (down_after > 2 x heartbeat), the URLs and the
** files (a TLS key needs its certificate and the reverse; every file
** readable). 0, or -1 with a message naming the key in err. */
int wp_cluster_check(const struct wp_cluster_config *cfg, char *err, size_t errlen);

/* Joins: connects to NATS (a bounded wait, no retry), takes the next
** incarnation of the name and claims the name in the bucket <prefix>_nodes.
** A name whose holder still renews its entry is refused; one whose holder
** stopped is taken over after at most down_after. Then starts the thread
** that renews the entry every heartbeat. Blocks the caller (at boot,
** before any process runs) for up to about down_after plus NATS's timeouts.
** Returns the node, or NULL with a message for the user in err (libnats
** torn down again). Borrows cfg for the call only. */
struct wp_cluster *wp_cluster_join(const struct wp_cluster_config *cfg, char *err,
                                   size_t errlen);
/* The node's incarnation: 1 for the name's first life, one more for each
** later one (kept in NATS across lives, including graceful ones). */
uint64_t wp_cluster_incarnation(const struct wp_cluster *c);
/* The URL of the NATS server the node joined through, taken at join
** (libnats may reconnect elsewhere later); "" when libnats did not say.
** Valid until wp_cluster_leave. */
const char *wp_cluster_addr(const struct wp_cluster *c);
/* ---- the transport (transport.c) ---- */

/* One message between nodes: a send (WP_MSG_USER of sched/msg.h: topic and
** the codec's bytes, copied as they are), a cancel (WP_MSG_CANCEL: the
** topic is the reason), a process's end to its watchers and links on
** another node (WP_MSG_EXIT, WP_MSG_LINK_DOWN: the payload is the encoded
** result; WP_CLUSTER_ABNORMAL in flags when it carries an error), or a
** relation request (WP_CLUSTER_MONITOR ... UNLINK: `from` asks about
** `dest`; no topic, no payload). Every pointer is borrowed for the call. */
struct wp_cluster_frame {
  uint32_t kind;
  const char *node; /* sending: the destination node; delivered: the source */
  size_t node_len;
  const char *from, *dest, *topic;
  size_t from_len, dest_len, topic_len;
  const void *payload;
  size_t len;
  uint32_t flags;
};
enum { WP_CLUSTER_MONITOR = 16, WP_CLUSTER_UNMONITOR, WP_CLUSTER_LINK, WP_CLUSTER_UNLINK };
#define WP_CLUSTER_ABNORMAL 1u
/* Fires every cross-node relation with node `node` (node_len bytes; NULL:
** with every node): it departed (left, went silent for down_after, or
** came back as a new incarnation), or the session with it lost frames.
** Called on the cluster's threads (libnats's or its own) under the
** transport's lock: it may only deliver to local processes through
** sched/, never send through the cluster. */
typedef void (*wp_cluster_down_fn)(void *ctx, const char *node, size_t node_len);
/* Sets the down hook (before wp_cluster_start_transport); fn and ctx live
** until wp_cluster_stop_transport. */
void wp_cluster_on_down(struct wp_cluster *c, wp_cluster_down_fn fn, void *ctx);
/* Delivers a frame that came from another node to a local process, on the
** connection's I/O thread (so: no Lua state, only sched/'s delivery, and
** never a wait on NATS). 0, or -1 when no such process lives here (the
** frame is then dropped and counted). */
typedef int (*wp_cluster_deliver_fn)(void *ctx, const struct wp_cluster_frame *f);
/* Starts the transport of a joined node: the member view (a watch of the
** membership bucket, synced before this returns), the subscription on the
** node's subject and the sender (the hook of the connection's I/O thread,
** which delivers what comes in too). deliver and ctx live until
** wp_cluster_stop_transport. 0, or -1 with a message in err. */
int wp_cluster_start_transport(struct wp_cluster *c, wp_cluster_deliver_fn deliver, void *ctx,
                               char *err, size_t errlen);
enum { WP_CLUSTER_SENT = 0, WP_CLUSTER_DOWN, WP_CLUSTER_TOO_LARGE, WP_CLUSTER_NOMEM };
/* Queues f (borrowed for the call; copied) for its node and returns at
** once (any thread; never waits on NATS, however slow the node: beyond
** the window per node, frames wait in this node's memory, counted):
** WP_CLUSTER_SENT; WP_CLUSTER_DOWN when f->node is not a live member (or
** the transport is stopped); WP_CLUSTER_TOO_LARGE with the frame's size
** and the limit when it is larger than a 64 MiB payload with its pids and
** topic (one too large for a NATS message is split, not refused);
** WP_CLUSTER_NOMEM. how: WP_CLUSTER_NOW wakes the connection's I/O thread
** to send it; WP_CLUSTER_LATER: the caller promises a wp_cluster_flush
** soon (a scheduler worker, at the end of its busy stretch), so the I/O
** thread is not woken for this frame alone: what several processes send
** meanwhile leaves in one batch, for one wake-up here and at the peer (a
** bounded number of frames is held so; the next send without LATER or a
** flush takes them all); WP_CLUSTER_HERE: the caller is a scheduler worker
** with nothing else to run; the frame goes at once, and if the I/O thread
** sleeps, the worker writes what is queued to the socket itself (never
** waiting: what the socket does not take at once is left to the I/O
** thread), which spares a round trip two thread wake-ups. */
enum { WP_CLUSTER_NOW, WP_CLUSTER_LATER, WP_CLUSTER_HERE };
int wp_cluster_send(struct wp_cluster *c, const struct wp_cluster_frame *f, int how,
                    size_t *size, size_t *limit);
/* Sends the frames sent LATER: a worker that ran out of work (idle) writes
** them itself as WP_CLUSTER_HERE does when the I/O thread sleeps, a busy
** one wakes that thread (any thread; a load and nothing else when there
** are none). A busy one also takes what came on a socket lent to the
** workers (wp_cluster_lend), without waiting. */
void wp_cluster_flush(struct wp_cluster *c, int idle);
/* Lends the connection's socket to a scheduler's idle workers: a worker
** that would park waits on the socket instead, so what arrives reaches it
** with no hand-off between threads; the I/O thread stands by for when the
** workers are all busy for a while (nats_conn.c's design note). The four
** wp_cluster_park_* are wp_sched_park's hooks (c as their arg), and
** all_parked(arg) is wp_sched_all_parked. Before the workers start; -1 (and
** nothing lent) with TLS, where a read may wait for the rest of a record.
** wp_cluster_unlend takes the socket back, after the workers stopped and
** before the scheduler is freed. */
int wp_cluster_lend(struct wp_cluster *c, int (*all_parked)(void *), void *arg);
void wp_cluster_unlend(struct wp_cluster *c);
int wp_cluster_park_wait(void *c);
void wp_cluster_park_wake(void *c);
void wp_cluster_park_ready(void *c);
void wp_cluster_park_tick(void *c);
/* Whether the calling thread runs the connection's I/O hook now (a frame
** sent from there goes in the hook's own round: WP_CLUSTER_NOW). */
int wp_cluster_on_io(struct wp_cluster *c);
/* What the transport counted so far. */
struct wp_cluster_stats {
  uint64_t frames_out, batches_out, bytes_out, frames_in, batches_in;
  uint64_t dropped_no_process; /* frames for a pid that does not live here */
  uint64_t dropped_stale;      /* frames of or for another incarnation */
  uint64_t dropped_malformed;  /* batches that did not parse */
  uint64_t publish_errors;     /* batches libnats refused */
  uint64_t session_losses;     /* sequence gaps, disconnects, slow-consumer reports,
                                  resets by peers */
  uint64_t departures;         /* lives of other nodes seen to end */
  uint64_t waiting_frames;     /* frames held back by the window, now */
  uint64_t waiting_bytes;      /* their bytes */
  uint64_t waiting_frames_max; /* the most frames held back at once so far */
  uint64_t waiting_bytes_max;  /* the most bytes held back at once so far */
  uint64_t split_out;          /* frames sent in fragments, complete */
  uint64_t split_in;           /* frames reassembled and delivered */
  uint64_t split_lost;         /* split frames given up half sent or half received:
                                  a session loss, a departure */
  uint64_t dropped_at_stop;    /* frames still held back when the transport stopped */
};
void wp_cluster_stats(const struct wp_cluster *c, struct wp_cluster_stats *s);
/* Stops the transport: publishes what is queued, flushes, takes what came
** before the flush and unsubscribes (no delivery runs after this), and
** ends the watch. Call it once no process runs; idempotent.
** wp_cluster_leave calls it too. */
void wp_cluster_stop_transport(struct wp_cluster *c);

/* ---- names (cnames.c; spec 07 §2, issue 13 item 7) ---- */

/* The scopes, as process.registry numbers them. EVENTUAL uses the same
** mechanism as CONSISTENT (first writer wins). */
enum { WP_CLUSTER_EVENTUAL = 1, WP_CLUSTER_CONSISTENT = 2, WP_CLUSTER_STRONG = 3 };
enum { WP_CLUSTER_REGISTER = 1, WP_CLUSTER_UNREGISTER };
/* The answer to a request. */
enum {
  WP_CLUSTER_NAME_OK = 0,     /* registered; unregistered */
  WP_CLUSTER_NAME_FALSE,      /* unregister: not this pid's name in this scope */
  WP_CLUSTER_NAME_EXISTS,     /* register: held by another live process */
  WP_CLUSTER_NAME_UNAVAILABLE,/* NATS cannot be reached (retryable) */
  WP_CLUSTER_NAME_TIMEOUT,    /* STRONG: not every live node acknowledged in time */
  WP_CLUSTER_NAME_INVALID,    /* the name cannot be a cluster name */
  WP_CLUSTER_NAME_NOT_FOUND,  /* register: the process ended meanwhile */
  WP_CLUSTER_NAME_ERROR       /* anything else (out of memory, contention) */
};
struct wp_cluster_names_hooks {
  /* Whether pid (len bytes, a pid of this node) names a live process. Any
  ** thread; never waits. */
  int (*alive)(void *ctx, const char *pid, size_t len);
  /* The answer to the request made with tokens t1, t2: a status above and a
  ** message for the user ("" on success). On the names thread. */
  void (*answer)(void *ctx, uint64_t t1, uint64_t t2, int status, const char *msg);
  /* The node was fenced (it lost its membership): process pid (of this
  ** node) no longer holds cluster name `name`: tell it (a CANCEL "name
  ** revoked: <name>"). On the heartbeat thread; never waits. */
  void (*revoke)(void *ctx, const char *pid, size_t plen, const char *name, size_t nlen);
  void *ctx;
};
/* Starts the cluster names of a node whose transport runs: the bucket
** <prefix>_names, the local replica (a watch; loaded before this returns,
** so a process's first lookup sees the cluster's names) and the thread
** that performs requests. hooks is copied. 0, or -1 with a message. */
int wp_cluster_start_names(struct wp_cluster *c, const struct wp_cluster_names_hooks *hooks,
                           char *err, size_t errlen);
/* Looks name (nlen bytes) up in the local replica: copies the holder's pid
** into out (cap bytes) and returns its length (more than cap: call again
** with more room), with its scope in *scope (may be NULL); 0 when no
** cluster name is that. Any thread; never waits on NATS. */
size_t wp_cluster_name_lookup(struct wp_cluster *c, const char *name, size_t nlen, char *out,
                              size_t cap, int *scope);
/* Queues a register (of pid, a pid of this node) or an unregister (only
** pid's own name in that scope is removed) and returns at once; the answer
** comes through hooks.answer with t1, t2. Borrows its arguments for the
** call. 0, or -1 out of memory (no answer comes). */
int wp_cluster_name_request(struct wp_cluster *c, int op, int scope, const char *name,
                            size_t nlen, const char *pid, size_t plen, uint64_t t1,
                            uint64_t t2);
/* The process pid (of this node) ended: frees the cluster names it holds,
** in the background. Borrows pid for the call. */
void wp_cluster_names_release(struct wp_cluster *c, const char *pid, size_t plen);
/* The names of the live members (this node included while it is one), up
** to max of them, into out; returns how many there are (0 before the
** transport runs). Any thread; never waits on NATS. */
size_t wp_cluster_members(struct wp_cluster *c, char (*out)[WP_CLUSTER_NAME_MAX + 1],
                          size_t max);
/* The name of the node that reaps departed nodes' names (the live member
** with the smallest name), copied into out; its length, 0 when unknown. */
size_t wp_cluster_leader(struct wp_cluster *c, char *out, size_t cap);

/* ---- process groups (cpg.c; spec 07 §7, issue 13 item 8) ---- */

struct wp_buf;
/* The runtime's side of the groups (cli/ wires it to vm/pgroup.h): this
** node's members are the runtime's truth, which the cluster writes to the
** bucket <prefix>_pg; other nodes' members come back through apply. */
struct wp_cluster_pg_hooks {
  /* Node `node` (another one) now has exactly the members `pids` (len
  ** bytes of NUL-terminated pids; 0: none) in `group` of `scope`. On the
  ** cluster's pg thread; all borrowed. */
  void (*apply)(void *ctx, const char *scope, size_t slen, const char *group, size_t glen,
                const char *node, size_t nlen, const char *pids, size_t len);
  /* Takes one group whose local members changed since it was last taken
  ** (scope, name and sorted local pids into the buffers, which the caller
  ** owns): 1, 0 when none is left, -1 out of memory. */
  int (*take)(void *ctx, struct wp_buf *scope, struct wp_buf *group, struct wp_buf *pids);
  /* Hands a group out again: its write failed or another node overwrote it. */
  void (*redirty)(void *ctx, const char *scope, size_t slen, const char *group, size_t glen);
  /* Hands out every group with local members again (after a reconnection,
  ** or as a new incarnation). */
  void (*dirty_all)(void *ctx);
  void *ctx;
};
/* Starts the groups of a node whose transport runs: the bucket <prefix>_pg,
** the replica of the other nodes' members (a watch, loaded before this
** returns: what it shows has gone through hooks.apply), the thread that
** writes this node's changes and, on the leader, empties the entries of
** departed nodes. hooks is copied. 0, or -1 with a message. */
int wp_cluster_start_pg(struct wp_cluster *c, const struct wp_cluster_pg_hooks *hooks,
                        char *err, size_t errlen);
/* The runtime's local members changed: the writer takes them soon. Any
** thread; never waits on NATS. */
void wp_cluster_pg_wake(struct wp_cluster *c);
/* The most bytes of pids one group's entry of this node can carry (0 when
** the groups are not started). */
size_t wp_cluster_pg_limit(struct wp_cluster *c);

/* Leaves gracefully: stops renewing, deletes the node's entry (if still its
** own) so the name is free at once, closes the connection and tears libnats
** down. Frees c. */
void wp_cluster_leave(struct wp_cluster *c);

#endif
