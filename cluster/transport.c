/*
** transport.c: messages between nodes: `send` and `cancel`, monitors and
** links with their EXIT and LINK_DOWN (see transport.h and cluster.h;
** issue 13 items 4 to 6). This file keeps the member view, departures,
** session loss, and the transport's start and stop; flow.c carries the
** frames (batches both ways, the window and its acks, splitting).
**
** Design note.
**
** Subjects. Each node subscribes to two subjects: <prefix>.n.<node>.d,
** where every other node publishes its batches for it, and
** <prefix>.n.<node>.a, where they acknowledge what it sent them (flow.c).
** A node publishes everything through the one connection it has: NATS
** keeps order per publishing connection and subject, and one thread (the
** connection's I/O thread) takes a subscription's messages, so frames of
** one sender process to one receiver arrive in the order they were sent.
**
** Sending. A process (on a scheduler worker) builds its frame in one
** allocation, appends it to the node's queue under a short mutex, and
** wakes the connection's I/O thread, which sends (flow.c), only when that
** thread sleeps: no system call otherwise, and never a wait on NATS,
** however slow the peer: what the window holds back waits in this node's
** memory, counted. A frame up
** to WP_FRAME_MAX is taken (flow.c splits what does not fit one NATS
** message); a larger one is refused at the send.
**
** Members. Which nodes are live comes from a watch of the membership
** bucket (cluster.c writes it): a node is live while its entry exists and
** was renewed within down_after (the longer of ours and the one its entry
** declares). A batch from a node is proof of life
** too: it makes the sender known even before the watch shows its join.
** A frame queued for one life of a node is dropped (counted) if that life
** ended by the time the I/O thread packs it (member->life moved).
**
** Departures are found actively: the watch thread wakes when the oldest
** renewal of a live member turns down_after old (or an entry changes), so
** a node killed outright is departed within down_after of its last
** renewal, whether or not anyone sends to it. A silent node is departed
** only through the bucket: the first node to see the silence marks the
** entry departed by compare-and-swap on the revision it saw silent (a
** renewal meanwhile makes the mark fail), and every node departs it when
** the watch shows the mark; nobody marks within down_after of its own
** reconnection, when no one could renew (the quiet period). Nothing of a
** marked life is delivered any more. The marked node learns at its next
** renewal and is fenced (cluster.c): wp_transport_fence fires its
** relations, drops what waits and refuses sends and batches until
** wp_transport_rejoin gives it a new incarnation. A deleted entry (a
** graceful leave), a marked one and a new incarnation each end a life:
** departed() calls the runtime's down hook, which fires every cross-node
** monitor and link with that node. It runs under t->lock, together with
** the change that makes sends to the node fail: a relation recorded
** before a send that found the node live is always among those it fires,
** and one recorded after is refused by that send. The hook only delivers
** to local processes; it never sends, so it cannot take t->lock again.
** A departure also drops the split frame being reassembled from the node
** and wakes the I/O thread, which drops what still waits for that
** life (so nothing waits for a window that will not open).
**
** Session loss. A sequence gap, a disconnect or reconnect of the NATS
** connection and a slow-consumer report mean frames may have been lost:
** wp_transport_session_lost() logs it, counts it, drops the reassembly
** under way and fires the cross-node monitors and links with that node
** (every node, for the connection), and the session goes on. Both sides
** must fire: the side that saw the loss has a reset sent to the other (so
** has a node that took a silent peer for departed, since the peer may only
** have been paused): a batch flagged RESET, the first of a new epoch of
** the session. A node that receives one fires its relations with the
** sender and sends no reset back, so two nodes never reset each other in
** a loop; it starts a new epoch of its own direction instead (no RESET
** flag): each epoch starts with a fresh window, so bytes lost in the old
** one never hold it shut. A reset goes only to a life of a node that
** frames went to or came from (a node it never talked to has no relation
** with this one). A reset can itself be lost (core NATS is at most once)
** only where the peer's connection failed or fell behind, which the peer
** then sees as a loss of its own.
*/
#include "transport_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "msg.h"

#define SYNC_WAIT_MS 5000  /* the watch's first view, at start */
#define WATCH_POLL_MS 1000 /* the watch thread looks at the members this often */
#define WATCH_TICK_MS 250  /* ... and at its stop flag: nothing stops its wait
                              from outside (see wp_transport_stop) */
/* After a reconnect the old watcher is replaced this long later (it may
** have gone quiet); it is retired, never destroyed here (see
** wp_nats_retire). */
#define REWATCH_DELAY_MS 1000
/* The prober (probe_main) asks each live member's <prefix>.n.<node>.p
** this often; a member found with no responder this many times in a row
** is marked departed. */
#define PROBE_MS 300
#define PROBE_WAIT_MS 200
#define PROBE_MISSES 2
/* Frames sent `later` (wp_transport_send) held at most before the sender
** is woken anyway: a batch's worth of small frames. */
#define HOLD_MAX 128
#define FLUSH_WAIT_MS 2000 /* the last batches out, and what came in parsed, at stop */
/* the data subscription's pending bytes in libnats: past it libnats drops
** and reports a slow consumer (a session loss). Each peer has at most a
** window in flight, so 32 peers at a full window at once fit. */
#define PENDING_BYTES (256 * 1024 * 1024)

/* ---- members ---- */

/* The member named name (under t->lock), made when `make`; NULL when not
** known (or out of memory). */
static struct member *member_find(struct wp_transport *t, const char *name, size_t nlen,
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
  if (wp_flow_member_init(m) != 0) {
    wp_free(m);
    return NULL;
  }
  memcpy(m->name, name, nlen);
  m->nlen = nlen;
  m->self = nlen == t->self_len && memcmp(name, t->self, nlen) == 0;
  m->down_after_ns = t->down_after_ns;
  snprintf(m->subject, sizeof m->subject, "%s.n.%s.d", t->prefix, m->name);
  snprintf(m->ack_subject, sizeof m->ack_subject, "%s.n.%s.a", t->prefix, m->name);
  return t->mv[t->mn++] = m;
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

/* Wakes the sender, the I/O thread (under t->lock). */
static void wake_sender(struct wp_transport *t) {
  if (t->sleeping) {
    atomic_store_explicit(&t->later, 0, memory_order_relaxed); /* all go now */
    t->due = 1;
    t->sleeping = 0;
    wp_nats_wake(t->nats);
  }
}

void wp_transport_kick(struct wp_transport *t) {
  t->kick = 1;
  wake_sender(t);
}

/* Asks the sender (the I/O thread) to reset the session with life `inc`
** of m, when frames went between that life and this node (under t->lock). */
static void want_reset(struct wp_transport *t, struct member *m, uint64_t inc) {
  if (!inc || m->contact != inc) return;
  m->reset_inc = inc;
  t->resets = 1;
  wake_sender(t);
}

/* Life `inc` of m ended (under t->lock; m->inc already says so): fires
** every cross-node relation with m (see the design note). `silent`: it
** stopped renewing its entry, so it may be paused and come back as the
** same life: it gets a reset. Otherwise that life is gone for good. */
static void departed(struct wp_transport *t, struct member *m, uint64_t inc, int silent,
                     const char *why) {
  count(&t->n_departures, 1);
  atomic_fetch_add(&m->life, 1);
  wp_transport_kick(t); /* what waits for that life is dropped */
  if (t->down) t->down(t->down_ctx, m->name, m->nlen);
  wp_logf(silent ? WP_LOG_WARN : WP_LOG_INFO,
          "cluster: node %s: node %s (incarnation %" PRIu64 ") departed: %s; monitors and "
          "links with it fired",
          t->self, m->name, inc, why);
  wp_flow_drop_partial(t, m, "the node departed", 1);
  if (silent) {
    want_reset(t, m, inc);
  } else if (inc > m->gone) {
    m->gone = inc;
  }
}

/* Applies one entry of the watch. */
static void watch_entry(struct wp_transport *t, kvEntry *e) {
  const char *key = kvEntry_Key(e);
  size_t kl = strlen(key);
  int put = kvEntry_Operation(e) == kvOp_Put;
  uint64_t inc = put ? entry_number(e, "\"incarnation\":") : 0;
  int silent = put && entry_departed(e);
  int64_t da = put ? (int64_t)entry_number(e, "\"down_after_ms\":") * 1000000 : 0;
  /* the entry's age by the server's clock, as far as ours agrees */
  int64_t age = wp_wall_ns() - kvEntry_Created(e);
  uint64_t now = wp_clock_ns();
  char why[64];
  pthread_mutex_lock(&t->lock);
  struct member *m = member_find(t, key, kl, put);
  if (m) {
    m->rev = kvEntry_Revision(e);
    m->down_after_ns = da > t->down_after_ns ? da : t->down_after_ns;
  }
  if (m && silent) {
    /* marked departed (mark_silent): that life is over here too */
    uint64_t old = atomic_load(&m->inc);
    if (old == inc) atomic_store(&m->inc, 0); /* not a newer life seen meanwhile */
    if (inc > m->fenced) m->fenced = inc;
    if (!m->self && old == inc) {
      snprintf(why, sizeof why, "its membership was not renewed for %" PRId64 " ms",
               m->down_after_ns / 1000000);
      departed(t, m, inc, 1, why);
    }
  } else if (m) {
    uint64_t old = atomic_load(&m->inc);
    if (put && inc >= old && inc >= m->last && inc > m->fenced) {
      atomic_store(&m->inc, inc);
      /* in a watcher's first view the entry's age is all there is (by the
      ** server's clock); after it, an update is a renewal happening now:
      ** our own clock, so a skew between the two cannot make a live node
      ** look silent right after each renewal */
      m->seen_ns = t->view_live || age <= 0 || (uint64_t)age >= now ? now : now - (uint64_t)age;
      if (!m->self && m->last && inc != m->last) {
        snprintf(why, sizeof why, "it came back as incarnation %" PRIu64, inc);
        if (old)
          departed(t, m, old, 0, why);
        else if (m->last > m->gone) /* departed already, when it went silent */
          m->gone = m->last;
      }
      m->last = inc;
    } else if (!put) {
      atomic_store(&m->inc, 0);
      if (!m->self && old)
        departed(t, m, old, 0, "it left");
      else if (m->last > m->gone)
        m->gone = m->last;
    }
  }
  pthread_mutex_unlock(&t->lock);
}

/* Queues life inc of m to be marked departed (mark_silent, on the watch
** thread), unless a mark of it is under way (under t->lock). gone_conn:
** the prober found its connection gone, else its silence. Whether it was
** queued (not: one under way, or out of memory). */
static int queue_mark(struct wp_transport *t, struct member *m, uint64_t inc, int gone_conn) {
  struct mark *k = m->marking ? NULL : wp_malloc(sizeof *k);
  if (!k) return 0;
  k->m = m;
  k->inc = inc;
  k->rev = m->rev;
  k->gone_conn = gone_conn;
  k->next = t->marks;
  t->marks = k;
  m->marking = 1;
  return 1;
}

/* Departs the live members whose last sign of life is down_after old
** (under t->lock). Returns how long until the next one turns so old. */
static int64_t expire(struct wp_transport *t) {
  uint64_t now = wp_clock_ns();
  int64_t next = (int64_t)WATCH_POLL_MS * 1000000;
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
      queue_mark(t, m, inc, 0);
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
  while (t->marks && !t->stop) {
    struct mark *k = t->marks;
    t->marks = k->next;
    char value[96], name[WP_CLUSTER_NAME_MAX + 1];
    int vl = snprintf(value, sizeof value, "{\"incarnation\":%" PRIu64 ",\"departed\":true}",
                      k->inc);
    memcpy(name, k->m->name, k->m->nlen + 1);
    int64_t da = k->m->down_after_ns;
    int gone_conn = k->gone_conn;
    pthread_mutex_unlock(&t->lock);
    uint64_t rev = 0;
    natsStatus s = kvStore_Update(&rev, t->nodes, name, value, vl, k->rev);
    pthread_mutex_lock(&t->lock);
    k->m->marking = 0;
    if (s == NATS_OK && gone_conn)
      wp_logf(WP_LOG_INFO,
              "cluster: node %s marked node %s (incarnation %" PRIu64
              ") departed: its connection to NATS is gone",
              t->self, name, k->inc);
    else if (s == NATS_OK)
      wp_logf(WP_LOG_INFO,
              "cluster: node %s marked node %s (incarnation %" PRIu64
              ") departed: not renewed for %" PRId64 " ms",
              t->self, name, k->inc, da / 1000000);
    wp_free(k);
  }
}

static void *watch_main(void *arg) {
  struct wp_transport *t = arg;
  pthread_setname_np(pthread_self(), "wp-members");
  pthread_mutex_lock(&t->lock);
  for (;;) {
    if (t->stop) break;
    kvWatcher *w = t->watcher;
    if (!w || (t->rewatch && wp_clock_ns() >= t->rewatch_at)) {
      /* after a reconnect a watcher may go quiet without telling: make a
      ** new one, which shows every entry again */
      t->rewatch = 0;
      t->watcher = NULL;
      pthread_mutex_unlock(&t->lock);
      if (w) wp_nats_retire(t->nats, w);
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
      t->view_live = 0;
    }
    /* at the latest when the next live member turns silent, or a tick */
    int64_t wait_ms = expire(t) / 1000000 + 1;
    if (wait_ms > WATCH_TICK_MS) wait_ms = WATCH_TICK_MS;
    if (t->marks) {
      mark_silent(t);
      if (t->stop) break;
    }
    pthread_mutex_unlock(&t->lock);
    wp_nats_reap(t->nats); /* the watchers replaced here, in cnames.c and cpg.c */
    kvEntry *e = NULL;
    natsStatus s = kvWatcher_Next(&e, w, wait_ms);
    if (s == NATS_OK && e) {
      watch_entry(t, e);
      kvEntry_Destroy(e);
    }
    pthread_mutex_lock(&t->lock);
    if (s == NATS_OK && !e) { /* this watcher's first view is complete */
      t->view_live = 1;
      if (!t->synced) {
        t->synced = 1;
        pthread_cond_broadcast(&t->synced_cond);
      }
    }
    if (s != NATS_OK && s != NATS_TIMEOUT && !t->stop) t->rewatch = 1;
  }
  pthread_mutex_unlock(&t->lock);
  return NULL;
}

/* The prober: a node killed outright (kill -9, a crash) loses its NATS
** connection at once, and with it its subscription on <prefix>.n.<node>.p
** (nats_conn.c), so a request there gets "no responders" from the server;
** a paused node keeps its connection (its silence counts, after
** down_after). A live member found so PROBE_MISSES times in a row, while
** this node is connected and out of its quiet period, is queued to be
** marked departed like a silent one (mark_silent, on the watch thread):
** a kill -9 is noticed in well under a second. A node that reconnects at
** once (a dropped TCP connection) answers again before the second probe. */
static void *probe_main(void *arg) {
  struct wp_transport *t = arg;
  pthread_setname_np(pthread_self(), "wp-prober");
  pthread_mutex_lock(&t->lock);
  while (!t->stop) {
    struct timespec ts;
    wp_clock_deadline(CLOCK_MONOTONIC, (int64_t)PROBE_MS * 1000000, &ts);
    pthread_cond_timedwait(&t->synced_cond, &t->lock, &ts);
    for (size_t i = 0; i < t->mn && !t->stop; i++) {
      struct member *m = t->mv[i];
      uint64_t inc = atomic_load(&m->inc);
      if (m->self || !inc || t->fenced) continue;
      char subject[2 * WP_CLUSTER_NAME_MAX + 8];
      snprintf(subject, sizeof subject, "%s.n.%s.p", t->prefix, m->name);
      pthread_mutex_unlock(&t->lock);
      natsMsg *reply = NULL;
      natsStatus s = natsConnection_Request(&reply, t->nats->nc, subject, NULL, 0, PROBE_WAIT_MS);
      natsMsg_Destroy(reply);
      int connected = natsConnection_Status(t->nats->nc) == NATS_CONN_STATUS_CONNECTED;
      pthread_mutex_lock(&t->lock);
      if (s != NATS_NO_RESPONDERS || !connected || wp_clock_ns() < t->quiet_until ||
          atomic_load(&m->inc) != inc) {
        m->unreachable = 0; /* an answer, a timeout (a paused node), or no verdict */
        continue;
      }
      if (++m->unreachable < PROBE_MISSES) continue;
      if (queue_mark(t, m, inc, 1)) m->unreachable = 0;
    }
  }
  pthread_mutex_unlock(&t->lock);
  return NULL;
}

/* Whether m is live at monotonic time now (under t->lock). seen_ns may be
** after now: a batch from the node came in meanwhile. */
static int member_live(const struct wp_transport *t, struct member *m, uint64_t now) {
  /* the bucket's verdict, not this node's clock: a member is live until its
  ** entry is deleted, marked departed or replaced by a new life. A silence
  ** seen here only leads to a mark (expire); judging by it directly would
  ** let a node whose own view is stale (it was paused, its watch is behind)
  ** reap or take over what a live node holds */
  (void)t;
  (void)now;
  return atomic_load_explicit(&m->inc, memory_order_relaxed) != 0;
}

uint64_t wp_transport_live(struct wp_transport *t, const char *name, size_t nlen) {
  uint64_t now = wp_clock_ns(), inc = 0;
  pthread_mutex_lock(&t->lock);
  struct member *m = member_find(t, name, nlen, 0);
  if (m && member_live(t, m, now)) inc = atomic_load_explicit(&m->inc, memory_order_relaxed);
  pthread_mutex_unlock(&t->lock);
  return inc;
}

size_t wp_transport_members(struct wp_transport *t, char (*out)[WP_CLUSTER_NAME_MAX + 1],
                            size_t max) {
  uint64_t now = wp_clock_ns();
  size_t n = 0;
  pthread_mutex_lock(&t->lock);
  for (size_t i = 0; i < t->mn; i++) {
    if (!member_live(t, t->mv[i], now)) continue;
    if (n < max) memcpy(out[n], t->mv[i]->name, t->mv[i]->nlen + 1);
    n++;
  }
  pthread_mutex_unlock(&t->lock);
  return n;
}

void wp_transport_fence(struct wp_transport *t) {
  pthread_mutex_lock(&t->lock);
  t->fenced = 1;
  atomic_store(&t->inc, 0); /* no batch is for incarnation 0: nothing comes in */
  for (size_t i = 0; i < t->mn; i++) {
    struct member *m = t->mv[i];
    if (m->self) continue;
    atomic_fetch_add(&m->life, 1); /* what waits for any node is of this life */
    if (t->down) t->down(t->down_ctx, m->name, m->nlen);
  }
  wp_transport_kick(t);
  pthread_mutex_unlock(&t->lock);
}

void wp_transport_expect(struct wp_transport *t, uint64_t inc) {
  atomic_store(&t->inc, inc); /* batches for it come in; sends stay refused */
}

void wp_transport_rejoin(struct wp_transport *t, uint64_t inc) {
  pthread_mutex_lock(&t->lock);
  atomic_store(&t->inc, inc);
  t->fenced = 0;
  /* a new epoch with every node that knew the old life (no reset: the
  ** relations fired at the fence) */
  for (size_t i = 0; i < t->mn; i++) {
    struct member *m = t->mv[i];
    if (m->self || !m->contact) continue;
    m->renew_inc = m->contact;
    t->resets = 1;
  }
  wake_sender(t);
  pthread_mutex_unlock(&t->lock);
}

/* ---- session loss ---- */

void wp_transport_session_lost(struct wp_transport *t, struct member *m, const char *why,
                               int by_peer) {
  count(&t->n_losses, 1);
  pthread_mutex_lock(&t->lock);
  if (t->down) t->down(t->down_ctx, m ? m->name : NULL, m ? m->nlen : 0);
  for (size_t i = 0; i < t->mn; i++) {
    struct member *x = t->mv[i];
    if (m && x != m) continue;
    /* by the peer: its reset began a new epoch, which dropped the
    ** reassembly already; a new epoch of this direction answers it */
    if (!by_peer) {
      wp_flow_drop_partial(t, x, "its session was lost", 1);
      want_reset(t, x, x->contact);
    } else if (x->contact) {
      x->renew_inc = x->contact;
      t->resets = 1;
      wake_sender(t);
    }
  }
  pthread_mutex_unlock(&t->lock);
  /* after the fact: the line says the relations have fired */
  if (by_peer)
    wp_logf(WP_LOG_WARN,
            "cluster: node %s: node %s reset its session with this node (%s): monitors and "
            "links between them fired",
            t->self, m->name, why);
  else if (m)
    wp_logf(WP_LOG_ERROR,
            "cluster: node %s: session with node %s lost (%s): messages between them may "
            "have been lost; monitors and links between them fired",
            t->self, m->name, why);
  else
    wp_logf(WP_LOG_ERROR,
            "cluster: node %s: sessions with every node lost (%s): messages may have been "
            "lost; monitors and links across nodes fired",
            t->self, why);
}

static void on_loss(void *arg, const char *why) {
  struct wp_transport *t = arg;
  wp_transport_session_lost(t, NULL, why, 0);
  pthread_mutex_lock(&t->lock);
  t->rewatch = 1;
  t->rewatch_at = wp_clock_ns() + (uint64_t)REWATCH_DELAY_MS * 1000000;
  /* while disconnected nobody could renew: after a loss, others get
  ** down_after to renew before their silence counts */
  t->quiet_until = wp_clock_ns() + (uint64_t)t->down_after_ns;
  pthread_mutex_unlock(&t->lock);
}

/* ---- what flow.c asks of the member view ---- */

struct member *wp_transport_seen(struct wp_transport *t, const char *src, size_t sl,
                                 uint64_t src_inc, int *gone) {
  pthread_mutex_lock(&t->lock);
  struct member *m = member_find(t, src, sl, 1);
  if (m && src_inc <= m->fenced) {
    /* that life of the source was departed for its silence: nothing of
    ** it is delivered any more (this node's own fence is t->inc 0) */
    pthread_mutex_unlock(&t->lock);
    *gone = -1;
    return m;
  }
  /* the batch proves its source live, unless that life left or was
  ** replaced (its last batches may come after the watch said so) */
  if (m && !m->self && src_inc > m->gone && src_inc >= m->last) {
    uint64_t old = atomic_load(&m->inc);
    atomic_store(&m->inc, src_inc);
    m->seen_ns = wp_clock_ns();
    if (old && old != src_inc) {
      char why[64];
      snprintf(why, sizeof why, "it came back as incarnation %" PRIu64, src_inc);
      departed(t, m, old, 0, why);
    } else if (m->last && m->last != src_inc && m->last > m->gone) {
      m->gone = m->last;
    }
    m->last = src_inc;
  }
  if (m && src_inc >= m->contact) m->contact = src_inc;
  /* its messages still count; a relation it asks for would only linger */
  *gone = m && src_inc <= m->gone;
  pthread_mutex_unlock(&t->lock);
  return m;
}

struct member *wp_transport_member(struct wp_transport *t, const char *name, size_t nlen) {
  pthread_mutex_lock(&t->lock);
  struct member *m = member_find(t, name, nlen, 0);
  pthread_mutex_unlock(&t->lock);
  return m;
}

/* ---- sending ---- */

int wp_transport_send(struct wp_transport *t, const struct wp_cluster_frame *f, int how,
                      size_t *size, size_t *limit) {
  size_t len = FRAME_HDR + f->from_len + f->dest_len + f->topic_len + f->len;
  if (len > WP_FRAME_MAX || f->from_len > WP_FRAME_MAX || f->dest_len > WP_FRAME_MAX ||
      f->topic_len > WP_FRAME_MAX || f->len > WP_FRAME_MAX) {
    *size = len;
    *limit = WP_FRAME_MAX;
    return WP_CLUSTER_TOO_LARGE;
  }
  struct frame *fr = wp_malloc(sizeof *fr + len);
  if (!fr) return WP_CLUSTER_NOMEM;
  unsigned char *p = fr->wire;
  p[0] = (unsigned char)f->kind;
  p[1] = (unsigned char)f->flags;
  put32(p + 2, (uint32_t)f->from_len);
  put32(p + 6, (uint32_t)f->dest_len);
  put32(p + 10, (uint32_t)f->topic_len);
  put32(p + 14, (uint32_t)f->len);
  p += FRAME_HDR;
  memcpy(p, f->from, f->from_len);
  p += f->from_len;
  memcpy(p, f->dest, f->dest_len);
  p += f->dest_len;
  if (f->topic_len) memcpy(p, f->topic, f->topic_len);
  p += f->topic_len;
  if (f->len) memcpy(p, f->payload, f->len);
  fr->len = len;
  fr->next = NULL;
  uint64_t now = wp_clock_ns();
  pthread_mutex_lock(&t->lock);
  struct member *m = t->stop || t->fenced ? NULL : member_find(t, f->node, f->node_len, 0);
  uint64_t inc = m ? atomic_load_explicit(&m->inc, memory_order_relaxed) : 0;
  if (!inc || !member_live(t, m, now)) {
    pthread_mutex_unlock(&t->lock);
    wp_free(fr);
    return WP_CLUSTER_DOWN;
  }
  fr->to = m;
  fr->inc = inc;
  fr->life = atomic_load_explicit(&m->life, memory_order_relaxed);
  m->contact = inc;
  *t->tail = fr;
  t->tail = &fr->next;
  int wake = 0, here = 0;
  /* LATER: the caller's worker flushes at the end of its busy stretch
  ** (wp_transport_flush), so what its processes send meanwhile goes in one
  ** batch, with one wake-up; HOLD_MAX frames go at once. The I/O thread
  ** leaves such frames for the flush even while it is awake (it wakes for
  ** the replies coming in too): else each of its rounds would take the
  ** few frames queued since its last one. HERE: if the I/O thread
  ** sleeps, the worker sends them itself rather than wake it (an awake
  ** one takes them in its next round, on the other core). NOW on the I/O
  ** thread: its round follows. */
  if (how == WP_CLUSTER_LATER && ++t->held < HOLD_MAX) {
    atomic_store_explicit(&t->later, 1, memory_order_relaxed);
  } else {
    t->due = 1;
    if (t->sleeping && !wp_nats_on_io(t->nats)) {
      if (how == WP_CLUSTER_HERE) {
        here = 1;
      } else {
        t->sleeping = 0;
        wake = 1;
      }
    }
  }
  pthread_mutex_unlock(&t->lock);
  if (wake) wp_nats_wake(t->nats);
  if (here) wp_flow_send_here(t);
  return WP_CLUSTER_SENT;
}

void wp_transport_flush(struct wp_transport *t, int idle) {
  if (!atomic_load_explicit(&t->later, memory_order_relaxed)) return;
  pthread_mutex_lock(&t->lock);
  atomic_store_explicit(&t->later, 0, memory_order_relaxed);
  int wake = 0, here = 0;
  if (t->head) {
    t->due = 1;
    if (t->sleeping && idle) { /* as a HERE send */
      here = 1;
    } else if (t->sleeping) {
      t->sleeping = 0;
      wake = 1;
    }
  }
  pthread_mutex_unlock(&t->lock);
  if (wake) wp_nats_wake(t->nats);
  if (here) wp_flow_send_here(t);
}

/* ---- the transport ---- */

static void transport_free(struct wp_transport *t) {
  for (size_t i = 0; i < t->mn; i++) {
    wp_flow_member_free(t->mv[i]);
    wp_free(t->mv[i]);
  }
  wp_free(t->mv);
  for (struct frame *f = t->head, *next; f; f = next) {
    next = f->next;
    wp_free(f);
  }
  for (struct mark *k = t->marks, *next; k; k = next) {
    next = k->next;
    wp_free(k);
  }
  pthread_cond_destroy(&t->io_cond);
  pthread_cond_destroy(&t->synced_cond);
  pthread_mutex_destroy(&t->ack_lock);
  pthread_mutex_destroy(&t->round_lock);
  pthread_mutex_destroy(&t->lock);
  wp_free(t);
}

/* A test's knob: the environment variable `name` as a count (0: unset).
** Not for users: the tests force a slow consumer with them. */
static int64_t knob(const char *name) {
  const char *e = getenv(name);
  if (!e || !*e) return 0;
  long long v = strtoll(e, NULL, 10);
  wp_logf(WP_LOG_WARN, "cluster: test setting %s=%lld in effect", name, v);
  return v > 0 ? v : 0;
}

/* Subscribes to subject, synchronously: the I/O thread takes what comes
** (flow.c); 0, or -1 with a message in err. */
static int subscribe(struct wp_transport *t, natsSubscription **sub, const char *subject,
                     int pending, char *err, size_t errlen) {
  char why[256];
  natsStatus s = natsConnection_SubscribeSync(sub, t->nats->nc, subject);
  if (s == NATS_OK && pending) s = natsSubscription_SetPendingLimits(*sub, -1, pending);
  if (s != NATS_OK) {
    snprintf(err, errlen, "cannot subscribe to %s on NATS at %s: %s", subject, t->nats->urls,
             wp_nats_reason(s, why, sizeof why));
    return -1;
  }
  return 0;
}

struct wp_transport *wp_transport_start(struct wp_nats *n, kvStore *nodes, const char *prefix,
                                        const char *self, uint64_t inc, int64_t down_after_ns,
                                        wp_cluster_deliver_fn deliver, void *ctx,
                                        wp_cluster_down_fn down, void *down_ctx, char *err,
                                        size_t errlen) {
  struct wp_transport *t = wp_calloc(1, sizeof *t);
  if (!t) {
    snprintf(err, errlen, "cannot start the cluster transport: out of memory");
    return NULL;
  }
  t->nats = n;
  t->nodes = nodes;
  snprintf(t->self, sizeof t->self, "%s", self);
  t->self_len = strlen(t->self);
  t->inc = inc;
  t->down_after_ns = down_after_ns;
  t->deliver = deliver;
  t->ctx = ctx;
  t->down = down;
  t->down_ctx = down_ctx;
  t->tail = &t->head;
  int64_t mp = natsConnection_GetMaxPayload(n->nc);
  t->max_payload = mp > 4 * BATCH_HDR_MAX ? (size_t)mp : 1024 * 1024;
  /* the tests' knobs: a smaller window, a slow receiver, small
  ** pending limits (which make the window too large for them: a forced
  ** slow consumer) */
  int64_t w = knob("WIPPY_CLUSTER_TEST_WINDOW");
  t->window = w ? ((size_t)w < WP_WINDOW_MIN ? WP_WINDOW_MIN : (size_t)w) : WP_WINDOW;
  if (t->window > UINT32_MAX) t->window = UINT32_MAX;
  /* a batch at most a quarter of the window: the peer acks every quarter,
  ** so a batch always fits what is left once the acks are in */
  t->batch_cap = t->max_payload < t->window / 4 ? t->max_payload : t->window / 4;
  t->slow_ns = knob("WIPPY_CLUSTER_TEST_SLOW_MS") * 1000000;
  int64_t pending = knob("WIPPY_CLUSTER_TEST_PENDING");
  if (!pending || pending > INT32_MAX) pending = PENDING_BYTES;
  pthread_mutex_init(&t->lock, NULL);
  pthread_mutex_init(&t->ack_lock, NULL);
  pthread_mutex_init(&t->round_lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&t->io_cond, &ca);
  pthread_cond_init(&t->synced_cond, &ca);
  pthread_condattr_destroy(&ca);
  char subject[2 * WP_CLUSTER_NAME_MAX + 8], why[256];
  snprintf(t->prefix, sizeof t->prefix, "%s", prefix);
  /* the member view first: a send right after start must know the nodes */
  if (pthread_create(&t->watch, NULL, watch_main, t) != 0) {
    snprintf(err, errlen, "cannot start the cluster watch thread: %s", strerror(errno));
    transport_free(t);
    return NULL;
  }
  t->has_watch = 1;
  struct timespec ts;
  wp_clock_deadline(CLOCK_MONOTONIC, (int64_t)SYNC_WAIT_MS * 1000000, &ts);
  pthread_mutex_lock(&t->lock);
  while (!t->synced)
    if (pthread_cond_timedwait(&t->synced_cond, &t->lock, &ts) == ETIMEDOUT) break;
  int synced = t->synced;
  pthread_mutex_unlock(&t->lock);
  if (!synced) {
    snprintf(err, errlen, "cannot read the members of the cluster from NATS at %s in %d s",
             n->urls, SYNC_WAIT_MS / 1000);
    goto fail;
  }
  snprintf(subject, sizeof subject, "%s.n.%s.a", prefix, self);
  if (subscribe(t, &t->ack_sub, subject, 0, err, errlen)) goto fail;
  snprintf(subject, sizeof subject, "%s.n.%s.d", prefix, self);
  if (subscribe(t, &t->sub, subject, (int)pending, err, errlen)) goto fail;
  natsStatus s = natsConnection_FlushTimeout(n->nc, SYNC_WAIT_MS);
  if (s != NATS_OK) {
    snprintf(err, errlen, "cannot subscribe on NATS at %s: %s", n->urls,
             wp_nats_reason(s, why, sizeof why));
    goto fail;
  }
  wp_nats_set_io(n, wp_flow_io, t);
  t->has_io = 1;
  if (pthread_create(&t->prober, NULL, probe_main, t) != 0) {
    snprintf(err, errlen, "cannot start the cluster prober thread: %s", strerror(errno));
    goto fail;
  }
  t->has_prober = 1;
  atomic_store(&n->loss_arg, t);
  atomic_store(&n->on_loss, on_loss);
  return t;
fail:
  wp_transport_stop(t);
  wp_transport_free(t);
  return NULL;
}

void wp_transport_stats(const struct wp_transport *t, struct wp_cluster_stats *s) {
  struct wp_transport *u = (struct wp_transport *)t;
  s->frames_out = atomic_load(&u->n_frames_out);
  s->batches_out = atomic_load(&u->n_batches_out);
  s->bytes_out = atomic_load(&u->n_bytes_out);
  s->frames_in = atomic_load(&u->n_frames_in);
  s->batches_in = atomic_load(&u->n_batches_in);
  s->dropped_no_process = atomic_load(&u->n_no_process);
  s->dropped_stale = atomic_load(&u->n_stale);
  s->dropped_malformed = atomic_load(&u->n_malformed);
  s->publish_errors = atomic_load(&u->n_publish_errors);
  s->session_losses = atomic_load(&u->n_losses);
  s->departures = atomic_load(&u->n_departures);
  s->waiting_frames = atomic_load(&u->n_waiting_frames);
  s->waiting_bytes = atomic_load(&u->n_waiting_bytes);
  s->waiting_frames_max = atomic_load(&u->n_waiting_frames_max);
  s->waiting_bytes_max = atomic_load(&u->n_waiting_bytes_max);
  s->split_out = atomic_load(&u->n_split_out);
  s->split_in = atomic_load(&u->n_split_in);
  s->split_lost = atomic_load(&u->n_split_lost);
  s->dropped_at_stop = atomic_load(&u->n_dropped_at_stop);
}

void wp_transport_stop(struct wp_transport *t) {
  if (!t) return;
  atomic_store(&t->nats->on_loss, NULL);
  pthread_mutex_lock(&t->lock);
  t->stop = 1;
  /* no kvWatcher_Stop here: stopping a watcher while its thread waits in
  ** kvWatcher_Next leaks the message Next was handed; the thread sees the
  ** flag within a tick */
  pthread_cond_broadcast(&t->synced_cond);
  if (t->has_io) {
    /* what is queued goes out, with a bounded wait for the windows (the
    ** acks come in on the same thread) */
    t->kick = 1;
    wake_sender(t);
    while (!t->sent_all) pthread_cond_wait(&t->io_cond, &t->lock);
    pthread_mutex_unlock(&t->lock);
    /* out of the socket; and what the server sent before the flush's
    ** answer is parsed by the time it returns (one stream, in order) */
    natsConnection_FlushTimeout(t->nats->nc, FLUSH_WAIT_MS);
    pthread_mutex_lock(&t->lock);
    t->closing = 1;
    wp_nats_wake(t->nats);
    while (!t->closed) pthread_cond_wait(&t->io_cond, &t->lock);
  }
  pthread_mutex_unlock(&t->lock);
  if (t->has_io) wp_nats_set_io(t->nats, NULL, NULL);
  /* unsubscribed by the I/O hook, or never in use (a failed start) */
  natsSubscription *subs[2] = {t->sub, t->ack_sub};
  for (int i = 0; i < 2; i++) {
    if (!subs[i]) continue;
    if (!t->closed) natsSubscription_Unsubscribe(subs[i]);
    natsSubscription_Destroy(subs[i]);
  }
  t->has_io = 0;
  t->sub = t->ack_sub = NULL;
  if (t->has_prober) pthread_join(t->prober, NULL);
  if (t->has_watch) pthread_join(t->watch, NULL);
  if (t->watcher) wp_nats_retire(t->nats, t->watcher); /* destroyed once closed */
  struct wp_cluster_stats s;
  wp_transport_stats(t, &s);
  wp_logf(WP_LOG_INFO,
          "cluster: node %s transport: %" PRIu64 " messages out in %" PRIu64
          " batches, %" PRIu64 " in; dropped %" PRIu64 " for no such process, %" PRIu64
          " stale, %" PRIu64 " malformed; %" PRIu64 " publish errors, %" PRIu64
          " session losses; %" PRIu64 " departures of other nodes; split %" PRIu64
          " out, %" PRIu64 " in, %" PRIu64 " lost; at most %" PRIu64 " messages (%" PRIu64
          " bytes) waited for the window, %" PRIu64 " dropped at stop",
          t->self, s.frames_out, s.batches_out, s.frames_in, s.dropped_no_process,
          s.dropped_stale, s.dropped_malformed, s.publish_errors, s.session_losses,
          s.departures, s.split_out, s.split_in, s.split_lost, s.waiting_frames_max,
          s.waiting_bytes_max, s.dropped_at_stop);
}

void wp_transport_free(struct wp_transport *t) {
  if (t) transport_free(t);
}
