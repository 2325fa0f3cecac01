/*
** transport_int.h: what transport.c (sending, receiving) and members.c
** (the member view) share, private to them: the transport's state and
** its members. Locking: t->lock guards the queue, the members' fields
** marked so, and the watcher; see transport.c's design note.
*/
#ifndef WP_TRANSPORT_INT_H
#define WP_TRANSPORT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "transport.h"

#define VERSION 2
#define FRAME_HDR 18 /* kind, flags, then four 32-bit lengths */
#define BATCH_HDR_MAX (2 + WP_CLUSTER_NAME_MAX + 25)
#define BATCH_RESET 1 /* batch flag: the sender started a new session */
#define SYNC_WAIT_MS 5000  /* the watch's first view, at start */
#define WATCH_POLL_MS 1000 /* the watch thread looks at its stop flag this often */
#define DRAIN_WAIT_MS 2000 /* the subscription's last callbacks, at stop */
#define FLUSH_WAIT_MS 2000 /* the last batches, at stop */

/* A node as the transport knows it. Made once per name, freed at stop. */
struct member {
  char name[WP_CLUSTER_NAME_MAX + 1];
  size_t nlen;
  char subject[2 * WP_CLUSTER_NAME_MAX + 8];
  _Atomic uint64_t inc;  /* its live incarnation; 0: not a member */
  int self;              /* this node's own entry: never departs here */
  /* under t->lock */
  uint64_t seen_ns;      /* when it last showed life (monotonic) */
  uint64_t last;         /* the incarnation last seen live (0: none yet) */
  uint64_t gone;         /* the newest incarnation known to have left or been
                            replaced: no late batch of it makes it live again */
  uint64_t fenced;       /* the newest incarnation departed for its silence:
                            nothing of it is delivered any more (it rejoins
                            under a new one, cluster.c) */
  uint64_t rev;          /* its entry's revision, as the watch last showed it */
  int64_t down_after_ns; /* how long it may stay silent: the longer of ours
                            and the one its entry declares (nodes may differ) */
  uint64_t contact;      /* the incarnation frames last went to or came from */
  uint64_t reset_inc;    /* a reset is due to this incarnation (0: none) */
  /* the sender thread's */
  uint64_t sess_inc, seq;    /* the session: its incarnation, last batch number */
  uint64_t sess_self;        /* this node's incarnation in that session */
  unsigned char *buf;        /* the batch being packed */
  size_t blen, bcap;
  struct member *next_dirty; /* in the sender's list of batches to publish */
  int dirty;
  int marking;               /* under lock: a mark of it is being written */
  struct member *next_reset; /* in the sender's list of resets to publish */
  uint64_t reset_now;
  /* the receiving callback's: the session from this node */
  uint64_t in_inc, in_seq;
};

struct frame {
  struct frame *next;
  struct member *to;
  uint64_t inc; /* the destination's incarnation when queued */
  uint64_t life; /* t->life when queued: a frame of an earlier life is dropped */
  size_t len;
  unsigned char wire[];
};

/* A member found silent, to be marked departed in the bucket (outside the
** lock: a write to NATS). */
struct mark {
  struct mark *next;
  struct member *m;
  uint64_t inc, rev;
};

struct wp_transport {
  struct wp_nats *nats;
  kvStore *nodes;
  char self[WP_CLUSTER_NAME_MAX + 1];
  size_t self_len;
  char prefix[WP_CLUSTER_NAME_MAX + 1]; /* of the members' subjects */
  _Atomic uint64_t inc; /* this node's incarnation (a new one after fencing) */
  uint64_t life;        /* under lock: raised at each fence and rejoin */
  int fenced;           /* under lock: departed, not yet rejoined: sends refused */
  uint64_t quiet_until; /* under lock: no silence departs a node before this
                           (monotonic): the watch may be behind after a loss */
  struct mark *marks;   /* under lock: silent members to mark departed */
  int64_t down_after_ns;
  size_t max_payload;
  wp_cluster_deliver_fn deliver;
  void *ctx;
  wp_cluster_down_fn down; /* NULL: nothing to fire */
  void *down_ctx;
  natsSubscription *sub;
  pthread_mutex_t lock; /* the queue, the members, the watcher */
  pthread_cond_t wake;  /* the sender thread's */
  pthread_cond_t synced_cond;
  struct frame *head, **tail;
  int sleeping, stop, synced;
  int resets; /* some member has a reset_inc */
  struct member **mv;
  size_t mn, mcap;
  kvWatcher *watcher;
  int rewatch; /* after a reconnect: watchers can go quiet, make a new one */
  pthread_t sender, watch;
  int has_sender, has_watch;
  _Atomic uint64_t n_frames_out, n_batches_out, n_bytes_out, n_frames_in, n_batches_in,
      n_no_process, n_stale, n_malformed, n_publish_errors, n_losses, n_departures;
  int publish_failing; /* the sender thread's: logged once per run of failures */
};

static inline void count(_Atomic uint64_t *c, uint64_t n) {
  atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* ---- members.c: the member view ---- */

/* The member named name (under t->lock), made when `make`; NULL when not
** known (or out of memory). */
struct member *wp_members_find(struct wp_transport *t, const char *name, size_t nlen, int make);
/* Whether m is live at monotonic time now (under t->lock). */
int wp_members_live(const struct wp_transport *t, struct member *m, uint64_t now);
/* Life `inc` of m ended (under t->lock): see members.c. */
void wp_members_departed(struct wp_transport *t, struct member *m, uint64_t inc, int silent,
                         const char *why);
/* The watch thread: keeps the member view and departs silent members. */
void *wp_members_watch_main(void *arg);

/* ---- transport.c ---- */

/* Asks the sender thread to reset the session with life `inc` of m
** (under t->lock). */
void wp_transport_want_reset(struct wp_transport *t, struct member *m, uint64_t inc);

#endif
