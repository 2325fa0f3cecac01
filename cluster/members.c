/*
** members.c: the transport's member view (see transport.c's design note,
** "Members" and "Departures"): which nodes are live, from a watch of the
** membership bucket; a silent member is marked departed in the bucket,
** and every node departs it when the watch shows the mark.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "transport_int.h"

/* The member named name (under t->lock), made when `make`; NULL when not
** known (or out of memory). */
struct member *wp_members_find(struct wp_transport *t, const char *name, size_t nlen,
                               int make) {
  for (size_t i = 0; i < t->mn; i++)
    if (t->mv[i]->nlen == nlen && memcmp(t->mv[i]->name, name, nlen) == 0) return t->mv[i];
  if (!make || nlen == 0 || nlen > WP_CLUSTER_NAME_MAX) return NULL;
  if (t->mn == t->mcap) {
    size_t cap = t->mcap ? 2 * t->mcap : 8;
    struct member **v = wp_realloc(t->mv, cap * sizeof *v);
    if (!v) return NULL;
    t->mv = v;
    t->mcap = cap;
  }
  struct member *m = wp_calloc(1, sizeof *m);
  if (!m) return NULL;
  memcpy(m->name, name, nlen);
  m->nlen = nlen;
  m->self = nlen == t->self_len && memcmp(name, t->self, nlen) == 0;
  m->down_after_ns = t->down_after_ns;
  snprintf(m->subject, sizeof m->subject, "%s.n.%s.d", t->prefix, m->name);
  return t->mv[t->mn++] = m;
}

/* The incarnation in a membership entry's value ({"incarnation":N,...}). */
static uint64_t entry_incarnation(kvEntry *e) {
  char text[256];
  int n = kvEntry_ValueLen(e);
  if (n <= 0) return 0;
  if ((size_t)n >= sizeof text) n = sizeof text - 1;
  memcpy(text, kvEntry_Value(e), (size_t)n);
  text[n] = '\0';
  const char *p = strstr(text, "\"incarnation\":");
  return p ? strtoull(p + 14, NULL, 10) : 0;
}

/* Life `inc` of m ended (under t->lock; m->inc already says so): fires
** every cross-node relation with m (see the design note). `silent`: it
** stopped renewing its entry, so it may be paused and come back as the
** same life: it gets a reset. Otherwise that life is gone for good. */
void wp_members_departed(struct wp_transport *t, struct member *m, uint64_t inc, int silent,
                         const char *why) {
  count(&t->n_departures, 1);
  if (t->down) t->down(t->down_ctx, m->name, m->nlen);
  wp_logf(silent ? WP_LOG_WARN : WP_LOG_INFO,
          "cluster: node %s: node %s (incarnation %" PRIu64 ") departed: %s; monitors and "
          "links with it fired",
          t->self, m->name, inc, why);
  if (silent) {
    wp_transport_want_reset(t, m, inc);
  } else if (inc > m->gone) {
    m->gone = inc;
  }
}

/* The number after "key": in a membership entry's value, or 0. */
static uint64_t entry_number(kvEntry *e, const char *key) {
  char text[256];
  int n = kvEntry_ValueLen(e);
  if (n <= 0) return 0;
  if ((size_t)n >= sizeof text) n = sizeof text - 1;
  memcpy(text, kvEntry_Value(e), (size_t)n);
  text[n] = '\0';
  const char *p = strstr(text, key);
  return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/* Whether a membership entry says its life departed for its silence. */
static int entry_departed(kvEntry *e) {
  int n = kvEntry_ValueLen(e);
  const char *v = kvEntry_Value(e);
  static const char tag[] = "\"departed\":true";
  for (int i = 0; n > 0 && i + (int)sizeof tag - 1 <= n; i++)
    if (memcmp(v + i, tag, sizeof tag - 1) == 0) return 1;
  return 0;
}

/* Applies one entry of the watch. */
static void watch_entry(struct wp_transport *t, kvEntry *e) {
  const char *key = kvEntry_Key(e);
  size_t kl = strlen(key);
  int put = kvEntry_Operation(e) == kvOp_Put;
  uint64_t inc = put ? entry_incarnation(e) : 0;
  int silent = put && entry_departed(e);
  /* the entry's age by the server's clock, as far as ours agrees */
  int64_t age = wp_wall_ns() - kvEntry_Created(e);
  uint64_t now = wp_clock_ns();
  char why[64];
  pthread_mutex_lock(&t->lock);
  struct member *m = wp_members_find(t, key, kl, put);
  if (m) {
    m->rev = kvEntry_Revision(e);
    int64_t da = put ? (int64_t)entry_number(e, "\"down_after_ms\":") * 1000000 : 0;
    m->down_after_ns = da > t->down_after_ns ? da : t->down_after_ns;
  }
  if (m && silent) {
    /* marked departed (mark_silent): that life is over here too */
    uint64_t old = atomic_load(&m->inc);
    atomic_store(&m->inc, 0);
    if (inc > m->fenced) m->fenced = inc;
    if (!m->self && old == inc) {
      snprintf(why, sizeof why, "its membership was not renewed for %" PRId64 " ms",
               m->down_after_ns / 1000000);
      wp_members_departed(t, m, inc, 1, why);
    }
  } else if (m) {
    uint64_t old = atomic_load(&m->inc);
    if (put && inc >= old && inc >= m->last && inc > m->fenced) {
      atomic_store(&m->inc, inc);
      m->seen_ns = age > 0 && (uint64_t)age < now ? now - (uint64_t)age : now;
      if (!m->self && m->last && inc != m->last) {
        snprintf(why, sizeof why, "it came back as incarnation %" PRIu64, inc);
        if (old)
          wp_members_departed(t, m, old, 0, why);
        else if (m->last > m->gone) /* departed already, when it went silent */
          m->gone = m->last;
      }
      m->last = inc;
    } else if (!put) {
      atomic_store(&m->inc, 0);
      if (!m->self && old)
        wp_members_departed(t, m, old, 0, "it left");
      else if (m->last > m->gone)
        m->gone = m->last;
    }
  }
  pthread_mutex_unlock(&t->lock);
}

/* Departs the live members whose last sign of life is down_after old
** (under t->lock). Returns how long until the next one turns so old. */
static int64_t expire(struct wp_transport *t) {
  uint64_t now = wp_clock_ns();
  int64_t next = (int64_t)WATCH_POLL_MS * 1000000;
  char why[64];
  for (size_t i = 0; i < t->mn; i++) {
    struct member *m = t->mv[i];
    uint64_t inc = atomic_load(&m->inc);
    if (!inc || m->self) continue;
    /* seen_ns may be after now: a batch came in meanwhile */
    int64_t left = now > m->seen_ns ? m->down_after_ns - (int64_t)(now - m->seen_ns)
                                    : m->down_after_ns;
    if (left < 0 && now < t->quiet_until) {
      left = (int64_t)(t->quiet_until - now); /* our own view may be stale */
      if (left < next) next = left;
    } else if (left < 0) {
      /* departed once the bucket says so (mark_silent): every node then
      ** departs it alike, and it learns at its next renewal (cluster.c) */
      struct mark *k = m->marking ? NULL : wp_malloc(sizeof *k);
      if (k) {
        k->m = m;
        k->inc = inc;
        k->rev = m->rev;
        k->next = t->marks;
        t->marks = k;
        m->marking = 1;
      }
      (void)why;
      if (next > (int64_t)WATCH_POLL_MS * 1000000 / 4) next = (int64_t)WATCH_POLL_MS * 1000000 / 4;
    } else if (left < next) {
      next = left;
    }
  }
  return next;
}

/* Writes the departure of the silent members expire() found into the
** bucket, each as a compare-and-swap on the entry's revision seen silent:
** when the member renewed meanwhile the write fails and it stays. The
** watch then shows the mark to every node (watch_entry). Called with
** t->lock held; drops it around the writes. */
static void mark_silent(struct wp_transport *t) {
  while (t->marks) {
    struct mark *k = t->marks;
    t->marks = k->next;
    char value[96], name[WP_CLUSTER_NAME_MAX + 1];
    int vl = snprintf(value, sizeof value, "{\"incarnation\":%" PRIu64 ",\"departed\":true}",
                      k->inc);
    memcpy(name, k->m->name, k->m->nlen + 1);
    pthread_mutex_unlock(&t->lock);
    uint64_t rev = 0;
    natsStatus s = kvStore_Update(&rev, t->nodes, name, value, vl, k->rev);
    pthread_mutex_lock(&t->lock);
    k->m->marking = 0;
    if (s == NATS_OK)
      wp_logf(WP_LOG_INFO, "cluster: node %s marked node %s (incarnation %" PRIu64
              ") departed: not renewed for %" PRId64 " ms", t->self, name, k->inc,
              k->m->down_after_ns / 1000000);
    wp_free(k);
  }
}

void *wp_members_watch_main(void *arg) {
  struct wp_transport *t = arg;
  pthread_mutex_lock(&t->lock);
  for (;;) {
    if (t->stop) break;
    kvWatcher *w = t->watcher;
    if (t->rewatch || !w) {
      /* after a reconnect a watcher may go quiet without telling: make a
      ** new one, which shows every entry again */
      t->rewatch = 0;
      t->watcher = NULL;
      pthread_mutex_unlock(&t->lock);
      if (w) kvWatcher_Destroy(w);
      w = NULL;
      natsStatus s = kvStore_WatchAll(&w, t->nodes, NULL);
      pthread_mutex_lock(&t->lock);
      if (s != NATS_OK) {
        t->rewatch = 1; /* NATS is away: try again a poll later */
        struct timespec ts;
        wp_clock_deadline(CLOCK_MONOTONIC, (int64_t)WATCH_POLL_MS * 1000000, &ts);
        pthread_cond_timedwait(&t->synced_cond, &t->lock, &ts);
        continue;
      }
      t->watcher = w;
      if (t->stop) kvWatcher_Stop(w);
    }
    /* at the latest when the next live member turns silent */
    int64_t wait_ms = expire(t) / 1000000 + 1;
    if (t->marks) {
      mark_silent(t);
      if (t->stop) break;
    }
    pthread_mutex_unlock(&t->lock);
    kvEntry *e = NULL;
    natsStatus s = kvWatcher_Next(&e, w, wait_ms);
    if (s == NATS_OK && e) {
      watch_entry(t, e);
      kvEntry_Destroy(e);
    }
    pthread_mutex_lock(&t->lock);
    if (s == NATS_OK && !e && !t->synced) { /* the first view is complete */
      t->synced = 1;
      pthread_cond_broadcast(&t->synced_cond);
    }
    if (s != NATS_OK && s != NATS_TIMEOUT && !t->stop) t->rewatch = 1;
  }
  pthread_mutex_unlock(&t->lock);
  return NULL;
}

/* Whether m is live at monotonic time now (under t->lock). seen_ns may be
** after now: a batch from the node came in meanwhile. */
int wp_members_live(const struct wp_transport *t, struct member *m, uint64_t now) {
  /* a silence that began while this node could not see NATS does not count
  ** yet (t->quiet_until): the names reaper must not release what a node
  ** still renewing holds, only because our own view is stale */
  return atomic_load_explicit(&m->inc, memory_order_relaxed) != 0 &&
         (now < t->quiet_until ||
          !(now > m->seen_ns && now - m->seen_ns > (uint64_t)m->down_after_ns));
}

uint64_t wp_transport_live(struct wp_transport *t, const char *name, size_t nlen) {
  uint64_t now = wp_clock_ns(), inc = 0;
  pthread_mutex_lock(&t->lock);
  struct member *m = wp_members_find(t, name, nlen, 0);
  if (m && wp_members_live(t, m, now)) inc = atomic_load_explicit(&m->inc, memory_order_relaxed);
  pthread_mutex_unlock(&t->lock);
  return inc;
}

size_t wp_transport_members(struct wp_transport *t, char (*out)[WP_CLUSTER_NAME_MAX + 1],
                            size_t max) {
  uint64_t now = wp_clock_ns();
  size_t n = 0;
  pthread_mutex_lock(&t->lock);
  for (size_t i = 0; i < t->mn; i++) {
    if (!wp_members_live(t, t->mv[i], now)) continue;
    if (n < max) memcpy(out[n], t->mv[i]->name, t->mv[i]->nlen + 1);
    n++;
  }
  pthread_mutex_unlock(&t->lock);
  return n;
}
