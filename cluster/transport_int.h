/*
** transport_int.h: what transport.c (the member view, departures, session
** loss, start and stop) and flow.c (the data path: batches out and in,
** the window and its acks, splitting and reassembly) share. Private to
** those two files; the rest of cluster/ sees transport.h.
*/
#ifndef WP_TRANSPORT_INT_H
#define WP_TRANSPORT_INT_H

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "transport.h"

/* The wire format's version: the first byte of every batch and ack. A
** node drops (and counts) a batch of another version. */
#define WP_WIRE_VERSION 3
/* A frame: kind, flags, then four 32-bit lengths (source pid, destination
** pid, topic, payload), then those bytes. */
#define FRAME_HDR 18
/* A fragment of a split frame: kind KIND_FRAG, flags (FRAG_FIRST), the
** 32-bit length of the whole frame, the fragment's offset in it and its
** own length, then its bytes. */
#define FRAG_HDR 14
#define KIND_FRAG 255
#define FRAG_FIRST 1
/* A batch's header: version, the source's name length and name, then the
** source's incarnation, the destination's, the epoch (the session's
** number), the batch's sequence number in the epoch, the bytes the epoch
** carried before this batch (all 64-bit), the sender's window (32-bit)
** and the flags. */
#define BATCH_FIXED 45
#define BATCH_HDR_MAX (2 + WP_CLUSTER_NAME_MAX + BATCH_FIXED)
#define BATCH_RESET 1 /* batch flag: the sender saw a loss; fire relations */
/* An ack: version, the acking node's name length and name, its
** incarnation, the incarnation of the node it acks, the epoch and the
** bytes of the epoch received (64-bit each). */
#define ACK_MAX (2 + WP_CLUSTER_NAME_MAX + 32)

/* A frame's largest size on the wire: a payload up to the codec's 64 MiB
** limit, with room for the pids and a topic. Both sides hold to it: the
** sender refuses a larger frame, the receiver a larger reassembly. */
#define WP_FRAME_MAX (((size_t)64 << 20) + ((size_t)64 << 10))
/* The window: bytes a node has in flight to one other node, published but
** not acknowledged. 8 frames of the server's default max_payload; a
** paused node gets at most this much from each peer queued in NATS. */
#define WP_WINDOW ((size_t)8 << 20)
#define WP_WINDOW_MIN ((size_t)64 << 10) /* WIPPY_CLUSTER_TEST_WINDOW's floor */

/* Split frames to one node that may wait behind the one being split
** before the queue behind them waits too. */
#define WP_BLOCK_MAX 16

/* A node as the transport knows it. Made once per name, freed at stop. */
struct member {
  char name[WP_CLUSTER_NAME_MAX + 1];
  size_t nlen;
  char subject[2 * WP_CLUSTER_NAME_MAX + 8];     /* its batches' */
  char ack_subject[2 * WP_CLUSTER_NAME_MAX + 8]; /* acks of what it sent */
  _Atomic uint64_t inc;  /* its live incarnation; 0: not a member */
  /* one more each time a life of the node ends here (departed()): a frame
  ** queued under an older value is stale */
  _Atomic uint64_t life;
  int self;              /* this node's own entry: never departs here */
  /* under t->lock */
  uint64_t seen_ns;      /* when it last showed life (monotonic) */
  uint64_t last;         /* the incarnation last seen live (0: none yet) */
  uint64_t gone;         /* the newest incarnation known to have left or been
                            replaced: no late batch of it makes it live again */
  uint64_t contact;      /* the incarnation frames last went to or came from */
  uint64_t reset_inc;    /* a reset is due to this incarnation (0: none) */
  uint64_t renew_inc;    /* it reset its session with this node: a new epoch
                            is due to this incarnation (0: none) */
  uint64_t fenced;       /* the newest incarnation departed for its silence:
                            nothing of it is delivered any more (it rejoins
                            under a new one, cluster.c) */
  uint64_t rev;          /* its entry's revision, as the watch last showed it */
  int64_t down_after_ns; /* how long it may stay silent: the longer of ours
                            and the one its entry declares (nodes may differ) */
  int marking;           /* a mark of it is being written (mark_silent) */
  int unreachable;       /* the prober's: probes in a row that found nobody */
  /* under t->ack_lock: the newest ack from the node, and whether the
  ** sender (the I/O thread) waits for one */
  uint64_t ack_inc, ack_epoch, ack_off;
  int want_window;
  /* the I/O thread's (flow.c's sender) */
  uint64_t sess_inc, epoch, seq; /* the session: incarnation, epoch, last batch */
  uint64_t sent, acked;          /* bytes of the epoch published, acknowledged */
  unsigned char *buf;            /* the batch being packed */
  size_t blen, bcap;
  struct frame *q, **qtail;       /* frames waiting, in the order they were sent */
  struct frame *held, **heldtail; /* frames behind a split frame of their source */
  struct frame *big;              /* the frame being split (one at a time) */
  size_t big_off;                 /* how much of it went out */
  struct frame *blk[WP_BLOCK_MAX]; /* big and the split frames held: their
                                      sources' later frames are held */
  size_t nblk;
  uint64_t q_life;                /* life when the queues were last purged */
  struct member *next_work;       /* in the sender's list of members with frames */
  int in_work;
  struct member *next_reset;      /* in the sender's list of resets to publish */
  uint64_t reset_now, renew_now;
  /* the receiving callback's: the session from this node */
  uint64_t in_inc, in_epoch, in_seq, in_off, in_acked;
  /* the reassembly of a split frame from this node: under rlock, which is
  ** taken after t->lock, never before it */
  pthread_mutex_t rlock;
  unsigned char *rbuf; /* NULL: none under way */
  size_t rlen, rtotal;
  int rskip; /* its start was lost: drop its other fragments, counted once */
};

/* A frame queued for a node: one allocation, its wire bytes inline. */
struct frame {
  struct frame *next;
  struct member *to;
  uint64_t inc;  /* the destination's incarnation when queued */
  uint64_t life; /* to->life when queued */
  size_t len;
  unsigned char wire[];
};

/* A member found silent, to be marked departed in the bucket (outside the
** lock: a write to NATS). */
struct mark {
  struct mark *next;
  struct member *m;
  uint64_t inc, rev;
  int gone_conn; /* found by the prober: its connection to NATS is gone */
};

struct wp_transport {
  struct wp_nats *nats;
  kvStore *nodes;
  char self[WP_CLUSTER_NAME_MAX + 1];
  size_t self_len;
  char prefix[WP_CLUSTER_NAME_MAX + 1]; /* of the members' subjects */
  _Atomic uint64_t inc; /* this node's incarnation (a new one after fencing) */
  int fenced;           /* under lock: departed, not yet rejoined: sends refused,
                           batches dropped */
  uint64_t quiet_until; /* under lock: no silence departs a node before this
                           (monotonic): our own view may be stale after a loss */
  struct mark *marks;   /* under lock: silent members to mark departed */
  int64_t down_after_ns;
  size_t max_payload;
  size_t window;    /* WP_WINDOW, or the test's override */
  size_t batch_cap; /* a batch's largest size: max_payload, at most window / 4 */
  int64_t slow_ns;  /* test only: one batch is taken per slow_ns (flow.c take) */
  wp_cluster_deliver_fn deliver;
  void *ctx;
  wp_cluster_down_fn down; /* NULL: nothing to fire */
  void *down_ctx;
  natsSubscription *sub, *ack_sub;
  pthread_mutex_t lock; /* the queue, the members, the watcher */
  pthread_mutex_t ack_lock; /* members' ack_* and want_window */
  /* held for a round of the sender (flow.c), by the I/O thread or a
  ** worker standing in for it: the sender's state (members' queues and
  ** sessions, work, w_*) is the holder's */
  pthread_mutex_t round_lock;
  pthread_cond_t io_cond; /* sent_all, closed: wp_transport_stop's waits */
  pthread_cond_t synced_cond;
  struct frame *head, **tail;
  size_t held;           /* frames queued `later` since the I/O thread took the queue */
  _Atomic int later;     /* some of them wait for wp_transport_flush */
  int due;               /* the queue is to be taken: a frame not sent `later`,
                            HOLD_MAX held, a flush, or a wake-up for another reason */
  int sleeping, stop, synced;
  int sent_all; /* at stop: what waited went out or was given up (flow.c) */
  int closing;  /* at stop: the I/O hook takes what came and unsubscribes */
  int closed;   /* ... and has */
  int resets; /* some member has a reset_inc or renew_inc */
  int kick;   /* the sender has members to look at again */
  struct member **mv;
  size_t mn, mcap;
  kvWatcher *watcher;
  int rewatch; /* after a reconnect: watchers can go quiet, make a new one */
  uint64_t rewatch_at; /* not before this (monotonic): see REWATCH_DELAY_MS */
  int view_live; /* the watcher's first view is complete: updates are live */
  pthread_t watch, prober;
  int has_prober;
  int has_io, has_watch;
  /* the I/O thread's (flow.c; nats_conn.c runs it) */
  uint64_t stop_deadline; /* at stop: when what waits for a window is given up */
  uint64_t slow_next;     /* the test's slow receiver: the next batch's time */
  struct member *work; /* members with frames queued, held or being split */
  uint64_t w_frames, w_bytes; /* what waits in them */
  int publish_failing; /* logged once per run of failures */
  _Atomic uint64_t n_frames_out, n_batches_out, n_bytes_out, n_frames_in, n_batches_in,
      n_no_process, n_stale, n_malformed, n_publish_errors, n_losses, n_departures;
  _Atomic uint64_t n_waiting_frames, n_waiting_bytes, n_waiting_frames_max,
      n_waiting_bytes_max, n_split_out, n_split_in, n_split_lost, n_dropped_at_stop;
};

static inline void count(_Atomic uint64_t *c, uint64_t n) {
  atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}
static inline void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline void put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint32_t get32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = v << 8 | p[i];
  return v;
}
static inline uint64_t get64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* ---- transport.c, for flow.c ---- */

/* A batch from life src_inc of node src (sl bytes) came in: makes the
** member if new, takes the batch as proof of life (see transport.c's
** design note) and returns the member (NULL: out of memory or a bad
** name); *gone: that life is known to have left (its messages still
** count), or -1: nothing of it may be delivered (that life was departed
** for its silence). Takes t->lock. */
struct member *wp_transport_seen(struct wp_transport *t, const char *src, size_t sl,
                                 uint64_t src_inc, int *gone);
/* The member named name, or NULL when not known. Takes t->lock. */
struct member *wp_transport_member(struct wp_transport *t, const char *name, size_t nlen);
/* Frames between this node and m (NULL: every node) may have been lost,
** or (`by_peer`) m reset its session with this node: fires the
** relations, drops the reassembly under way, and has a reset (or, by_peer,
** a new epoch) sent. Not under t->lock or any rlock. */
void wp_transport_session_lost(struct wp_transport *t, struct member *m, const char *why,
                               int by_peer);
/* Wakes the sender (the I/O thread) to look at its members again (under
** t->lock). */
void wp_transport_kick(struct wp_transport *t);

/* ---- flow.c ---- */

/* The transport's hook on the connection's I/O thread (wp_nats_io_fn; arg:
** the transport): takes the acks and batches the last reads brought,
** then sends what was queued. At stop it sends what waits until the
** windows took it or STOP_WAIT_MS ran out (then sets sent_all), and once
** `closing`, takes what came and unsubscribes (then sets closed). */
int wp_flow_io(void *arg);
/* A scheduler worker with nothing else to run sends what is due itself
** (WP_CLUSTER_HERE): a round of the sender and a write that never waits,
** if the I/O thread is not in a round of its own (else that thread sends
** them, woken if it sleeps). Not under t->lock. */
void wp_flow_send_here(struct wp_transport *t);
/* Drops the reassembly under way from m, if any, counting and logging it
** with why; `skip`: fragments of it may still come (drop them too). Any
** thread, not under m->rlock. */
void wp_flow_drop_partial(struct wp_transport *t, struct member *m, const char *why, int skip);
/* Sets up a new member's flow state (0, or -1 out of memory). */
int wp_flow_member_init(struct member *m);
/* Frees what the flow state of m holds (at stop; m itself stays). */
void wp_flow_member_free(struct member *m);

#endif
