/*
** kvwatch.c: the watch thread behind a bucket's replica (see kvwatch.h).
**
** One turn: ops->tick; a new watch if one is due (none yet, a reconnect
** REWATCH_DELAY_MS ago, or the last one failed); then one entry, or the
** end of a watch's first view, or a tick's wait. The thread never blocks
** longer than KVWATCH_TICK_MS, so a stop is seen within a tick: it is
** never told through kvWatcher_Stop, which would leak the message a
** kvWatcher_Next under way was handed (libnats 3.4.1).
*/
#include "kvwatch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"

/* After a reconnect, the watch made before it is replaced this long later:
** libnats's own reset of its consumer has usually made it live again by
** then, and a watcher made at once could meet a JetStream that is still
** coming back. */
#define REWATCH_DELAY_MS 1000

/* Waits a tick, or until a stop. */
static void wait_tick(struct wp_kvwatch *w) {
  struct timespec ts;
  wp_clock_deadline(CLOCK_MONOTONIC, (int64_t)KVWATCH_TICK_MS * 1000000, &ts);
  pthread_mutex_lock(&w->lock);
  if (!w->stop) pthread_cond_timedwait(&w->cond, &w->lock, &ts);
  pthread_mutex_unlock(&w->lock);
}

static int stopping(struct wp_kvwatch *w) {
  pthread_mutex_lock(&w->lock);
  int stop = w->stop;
  pthread_mutex_unlock(&w->lock);
  return stop;
}

static void *watch_main(void *arg) {
  struct wp_kvwatch *w = arg;
  pthread_setname_np(pthread_self(), "wp-kvwatch");
  uint64_t seen = atomic_load(&w->nats->reconnects), reconnect_at = 0;
  int rewatch = 1, views = 0;
  uint32_t gen = 0;
  kvWatcher *kw = NULL;
  while (!stopping(w)) {
    if (w->ops.tick) w->ops.tick(w->ctx);
    uint64_t r = atomic_load(&w->nats->reconnects);
    if (r != seen) {
      seen = r;
      reconnect_at = wp_clock_ns();
      rewatch = 1;
    }
    if (rewatch &&
        (!kw || wp_clock_ns() - reconnect_at >= (uint64_t)REWATCH_DELAY_MS * 1000000)) {
      if (kw) wp_nats_retire(w->nats, kw);
      kw = NULL;
      if (kvStore_WatchAll(&kw, w->kv, NULL) != NATS_OK) { /* NATS is away: a tick later */
        kw = NULL;
        wait_tick(w);
        continue;
      }
      rewatch = 0;
      gen = atomic_fetch_add(&w->gen, 1) + 1;
    }
    kvEntry *e = NULL;
    natsStatus s = kvWatcher_Next(&e, kw, KVWATCH_TICK_MS);
    if (s == NATS_OK && e) {
      w->ops.entry(w->ctx, e, gen);
      kvEntry_Destroy(e);
    } else if (s == NATS_OK) { /* this watch's first view is complete */
      w->ops.view(w->ctx, gen, views++ > 0);
      pthread_mutex_lock(&w->lock);
      w->synced = 1;
      pthread_cond_broadcast(&w->cond);
      pthread_mutex_unlock(&w->lock);
    } else if (s != NATS_TIMEOUT) {
      /* a new watch, not at once: one that failed at once must not turn
      ** this into a loop making watchers */
      rewatch = 1;
      wait_tick(w);
    }
  }
  if (kw) wp_nats_retire(w->nats, kw); /* destroyed once the connection is closed */
  return NULL;
}

int wp_kvwatch_start(struct wp_kvwatch *w, struct wp_nats *n, kvStore *kv,
                     const struct wp_kvwatch_ops *ops, void *ctx, int wait_ms, const char *what,
                     char *err, size_t errlen) {
  memset(w, 0, sizeof *w);
  w->nats = n;
  w->kv = kv;
  w->ops = *ops;
  w->ctx = ctx;
  pthread_mutex_init(&w->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&w->cond, &ca);
  pthread_condattr_destroy(&ca);
  w->inited = 1;
  int rc = pthread_create(&w->thread, NULL, watch_main, w);
  if (rc != 0) {
    snprintf(err, errlen, "cannot start the cluster %s watch thread: %s", what, strerror(rc));
    return -1;
  }
  w->has_thread = 1;
  struct timespec ts;
  wp_clock_deadline(CLOCK_MONOTONIC, (int64_t)wait_ms * 1000000, &ts);
  pthread_mutex_lock(&w->lock);
  while (!w->synced)
    if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) == ETIMEDOUT) break;
  int synced = w->synced;
  pthread_mutex_unlock(&w->lock);
  if (synced) return 0;
  snprintf(err, errlen, "cannot read the cluster's %s from NATS at %s in %d s", what, n->urls,
           wait_ms / 1000);
  return -1;
}

void wp_kvwatch_stop(struct wp_kvwatch *w) {
  if (!w->inited) return;
  pthread_mutex_lock(&w->lock);
  w->stop = 1;
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->lock);
  if (w->has_thread) pthread_join(w->thread, NULL);
  w->has_thread = 0;
  pthread_cond_destroy(&w->cond);
  pthread_mutex_destroy(&w->lock);
  w->inited = 0;
}
