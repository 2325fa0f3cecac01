/*
** kvwatch.h: a watch thread that feeds a replica of a JetStream key-value
** bucket (cnames.c's names, cpg.c's groups), made anew after every
** reconnect. Private to cluster/.
**
** The thread shows every entry to ops->entry, tagged with the number of
** the watch that showed it; when a watch has shown everything the bucket
** held as it began, ops->view says so, and whatever that watch did not
** show is gone. A watcher may go quiet after a reconnect without telling,
** so REWATCH_DELAY_MS after each reconnect a new watch replaces it (the
** old one is retired to the connection: wp_nats_retire says why it is
** never destroyed here).
*/
#ifndef WP_KVWATCH_H
#define WP_KVWATCH_H

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "nats_conn.h"

struct wp_kvwatch_ops {
  /* An entry (borrowed) shown by watch `gen`. */
  void (*entry)(void *ctx, kvEntry *e, uint32_t gen);
  /* Watch gen has shown the whole bucket; `again`: it is not the first. */
  void (*view)(void *ctx, uint32_t gen, int again);
  /* At the top of every turn of the thread, at most KVWATCH_TICK_MS
  ** apart, whether NATS is there or not; may be NULL. */
  void (*tick)(void *ctx);
};

#define KVWATCH_TICK_MS 200

struct wp_kvwatch {
  struct wp_nats *nats;
  kvStore *kv;
  struct wp_kvwatch_ops ops;
  void *ctx;
  _Atomic uint32_t gen; /* the current watch's number (0 before the first) */
  pthread_mutex_t lock;
  pthread_cond_t cond; /* on CLOCK_MONOTONIC: synced, stop */
  int synced, stop;
  pthread_t thread;
  int has_thread, inited;
};

/* Starts w's thread on bucket kv of connection n (both borrowed, alive
** until wp_kvwatch_stop) and waits up to wait_ms for the first watch's
** full view. 0, or -1 with a message in err naming `what` (the replica's
** contents, e.g. "names"); then call wp_kvwatch_stop. The ops run on the
** thread. */
int wp_kvwatch_start(struct wp_kvwatch *w, struct wp_nats *n, kvStore *kv,
                     const struct wp_kvwatch_ops *ops, void *ctx, int wait_ms, const char *what,
                     char *err, size_t errlen);
/* Stops and joins the thread (within a tick); idempotent. No op runs after. */
void wp_kvwatch_stop(struct wp_kvwatch *w);
/* The current watch's number: a write applied beside the watch is tagged
** with it, so the next full view keeps it. */
static inline uint32_t wp_kvwatch_gen(struct wp_kvwatch *w) { return atomic_load(&w->gen); }

#endif
