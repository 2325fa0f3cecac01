/*
** transport.c: messages between nodes: `send` and `cancel`, monitors and
** links with their EXIT and LINK_DOWN (see transport.h and cluster.h;
** issue 13 items 4 to 6).
**
** Design note.
**
** Subjects. Each node subscribes to one subject, <prefix>.n.<node>.d, and
** every other node publishes its frames for it there, all through the one
** connection a node has: NATS keeps order per publishing connection and
** subject, and libnats delivers one subscription's messages on one thread,
** so frames of one sender process to one receiver arrive in the order
** they were sent.
**
** Batches. A NATS message is a batch: a header (version, source node and
** incarnation, destination incarnation, sequence number of the batch in
** the source -> destination session, flags), then frames (kind, flags,
** source pid, destination pid, topic, payload: the codec's bytes as the
** sender encoded them; lengths as 32-bit little-endian). A batch is at
** most the server's max_payload; a single frame that cannot fit is
** refused at the send (splitting is later work). A process's EXIT and
** LINK_DOWN frames take the queue its messages took, so they never
** overtake them.
**
** Sending. A process (on a scheduler worker) builds its frame in one
** allocation, appends it to the node's queue under a short mutex, and
** wakes the sender thread only when that thread sleeps: no system call
** otherwise, and never a wait on NATS. The sender thread takes the whole
** queue at once, packs it into batches per destination and publishes
** them; with SendAsap (nats_conn.c) each publish is one write. So a batch
** goes out as soon as the queue is idle, with no timer, and batches grow
** under load by themselves: whatever queued during one write goes out in
** the next.
**
** Members (members.c). Which nodes are live comes from a watch of the
** membership bucket (cluster.c writes it): a node is live while its entry
** exists and was renewed within down_after (the longer of ours and the one
** its entry declares). A batch from a node is proof of life too: it makes
** the sender known even before the watch shows its join. A frame queued
** for one incarnation of a node is dropped (counted) if the node has
** another by the time the sender thread packs it.
**
** Departures are found actively: the watch thread wakes when the oldest
** renewal of a live member turns down_after old (or an entry changes), so
** a node killed outright is departed within down_after of its last
** renewal, whether or not anyone sends to it. A silent node is departed
** only through the bucket: the first node to see the silence marks the
** entry departed by compare-and-swap on the revision it saw silent (a
** renewal meanwhile makes the mark fail), and every node departs it when
** the watch shows the mark; nobody marks for down_after after its own
** connection came back, when no one could renew. The marked node learns
** at its next renewal and is fenced (cluster.c): everything of that life
** stops here (wp_transport_fence: relations fire, sends refused, queued
** frames dropped) and on every other node (a marked life is never
** delivered again), and it rejoins under a new incarnation
** (wp_transport_rejoin). A deleted entry (a graceful leave), a marked one
** and a new incarnation each end a life:
** departed() calls the runtime's down hook, which fires every cross-node
** monitor and link with that node. It runs under t->lock, together with
** the change that makes sends to the node fail: a relation recorded
** before a send that found the node live is always among those it fires,
** and one recorded after is refused by that send. The hook only delivers
** to local processes; it never sends, so it cannot take t->lock again.
**
** Receiving. The subscription's callback (a libnats thread) checks the
** header and hands each frame to the deliver hook (cli/main.c), which
** delivers it through sched/ like a local send; a frame for a pid that
** does not live here is dropped and counted. Batches of an older
** incarnation of the source, or for another incarnation of this node,
** are dropped.
**
** Session loss. A sequence gap, a disconnect or reconnect of the NATS
** connection and a slow-consumer report mean frames may have been lost:
** session_lost() logs it, counts it and fires the cross-node monitors and
** links with that node (every node, for the connection), and the
** session goes on. Both sides must fire: the side that saw the loss has a
** reset sent to the other (so has a node that took a silent peer for
** departed, since the peer may only have been paused): a batch flagged
** RESET, numbered 1 in a new session. A node that receives one fires its
** relations with the sender and sends no reset back, so two nodes never
** reset each other in a loop. A reset goes only to a life of a node that
** frames went to or came from (a node it never talked to has no relation
** with this one). A reset can itself be lost (core NATS is at most once)
** only where the peer's connection failed or fell behind, which the peer
** then sees as a loss of its own.
*/
#include "transport_int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "msg.h"

static void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = v << 8 | p[i];
  return v;
}
static uint64_t get64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* Wakes the sender thread (under t->lock). */
static void wake_sender(struct wp_transport *t) {
  if (t->sleeping) {
    t->sleeping = 0;
    pthread_cond_signal(&t->wake);
  }
}

/* Asks the sender thread to reset the session with life `inc` of m, when
** frames went between that life and this node (under t->lock). */
void wp_transport_want_reset(struct wp_transport *t, struct member *m, uint64_t inc) {
  if (!inc || m->contact != inc) return;
  m->reset_inc = inc;
  t->resets = 1;
  wake_sender(t);
}

void wp_transport_fence(struct wp_transport *t) {
  pthread_mutex_lock(&t->lock);
  t->fenced = 1;
  t->life++;
  for (size_t i = 0; i < t->mn; i++) {
    struct member *m = t->mv[i];
    if (!m->self && t->down) t->down(t->down_ctx, m->name, m->nlen);
  }
  pthread_mutex_unlock(&t->lock);
}

void wp_transport_rejoin(struct wp_transport *t, uint64_t inc) {
  pthread_mutex_lock(&t->lock);
  atomic_store(&t->inc, inc);
  t->life++;
  t->fenced = 0;
  pthread_mutex_unlock(&t->lock);
}

/* ---- session loss ---- */

/* Frames between this node and member m (NULL: every node) may have been
** lost, or (`by_peer`) m says it lost some or took this node for departed:
** fires the cross-node relations with m and, unless m asked, has a reset
** sent to it (see the design note). The session goes on. Not under
** t->lock. */
static void session_lost(struct wp_transport *t, struct member *m, const char *why,
                         int by_peer) {
  count(&t->n_losses, 1);
  pthread_mutex_lock(&t->lock);
  if (t->down) t->down(t->down_ctx, m ? m->name : NULL, m ? m->nlen : 0);
  if (!by_peer)
    for (size_t i = 0; i < t->mn; i++)
      if (!m || t->mv[i] == m) wp_transport_want_reset(t, t->mv[i], t->mv[i]->contact);
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
  session_lost(t, NULL, why, 0);
  pthread_mutex_lock(&t->lock);
  t->rewatch = 1;
  /* while disconnected nobody could renew: after a loss, others get
  ** down_after to renew before their silence counts */
  t->quiet_until = wp_clock_ns() + (uint64_t)t->down_after_ns;
  pthread_mutex_unlock(&t->lock);
}

/* ---- sending ---- */

int wp_transport_send(struct wp_transport *t, const struct wp_cluster_frame *f, size_t *size,
                      size_t *limit) {
  size_t len = FRAME_HDR + f->from_len + f->dest_len + f->topic_len + f->len;
  if (len > t->max_payload - BATCH_HDR_MAX || f->from_len > UINT32_MAX ||
      f->dest_len > UINT32_MAX || f->topic_len > UINT32_MAX || f->len > UINT32_MAX) {
    *size = len;
    *limit = t->max_payload - BATCH_HDR_MAX;
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
  struct member *m = t->stop || t->fenced ? NULL : wp_members_find(t, f->node, f->node_len, 0);
  uint64_t inc = m ? atomic_load_explicit(&m->inc, memory_order_relaxed) : 0;
  if (!inc || !wp_members_live(t, m, now)) {
    pthread_mutex_unlock(&t->lock);
    wp_free(fr);
    return WP_CLUSTER_DOWN;
  }
  fr->to = m;
  fr->inc = inc;
  fr->life = t->life;
  m->contact = inc;
  *t->tail = fr;
  t->tail = &fr->next;
  int wake = t->sleeping;
  t->sleeping = 0;
  pthread_mutex_unlock(&t->lock);
  if (wake) pthread_cond_signal(&t->wake);
  return WP_CLUSTER_SENT;
}

static void publish(struct wp_transport *t, struct member *m) {
  natsStatus s = natsConnection_Publish(t->nats->nc, m->subject, m->buf, (int)m->blen);
  if (s == NATS_OK) {
    count(&t->n_batches_out, 1);
    count(&t->n_bytes_out, m->blen);
    t->publish_failing = 0;
  } else {
    count(&t->n_publish_errors, 1);
    if (!t->publish_failing) {
      char why[256];
      wp_logf(WP_LOG_ERROR, "cluster: node %s cannot publish to node %s: %s; messages lost",
              t->self, m->name, wp_nats_reason(s, why, sizeof why));
    }
    t->publish_failing = 1;
  }
  m->blen = 0;
}

/* Makes room for n bytes in m's batch buffer; 0, or -1 out of memory. */
static int reserve(struct wp_transport *t, struct member *m, size_t n) {
  if (n <= m->bcap) return 0;
  size_t cap = m->bcap ? m->bcap : 4096;
  while (cap < n) cap *= 2;
  if (cap > t->max_payload) cap = t->max_payload;
  unsigned char *b = wp_realloc(m->buf, cap);
  if (!b) return -1;
  m->buf = b;
  m->bcap = cap;
  return 0;
}

/* Starts the next batch of m's session with its header (m->blen is 0). */
static void batch_start(struct wp_transport *t, struct member *m, int flags) {
  unsigned char *p = m->buf;
  p[0] = VERSION;
  p[1] = (unsigned char)t->self_len;
  memcpy(p + 2, t->self, t->self_len);
  p += 2 + t->self_len;
  put64(p, m->sess_self);
  put64(p + 8, m->sess_inc);
  put64(p + 16, ++m->seq);
  p[24] = (unsigned char)flags;
  m->blen = 2 + t->self_len + 25;
}

/* Appends frame f to its member's batch; 0, or -1 out of memory. */
static int pack(struct wp_transport *t, struct frame *f, uint64_t self_inc,
                struct member **dirty) {
  struct member *m = f->to;
  if (m->sess_inc != f->inc || m->sess_self != self_inc) { /* a new life: a new session */
    if (m->blen) publish(t, m);
    m->sess_inc = f->inc;
    m->sess_self = self_inc;
    m->seq = 0;
  }
  if (m->blen && m->blen + f->len > t->max_payload) publish(t, m);
  if (!m->blen) {
    if (reserve(t, m, BATCH_HDR_MAX + f->len)) return -1;
    batch_start(t, m, 0);
  }
  if (reserve(t, m, m->blen + f->len)) return -1;
  memcpy(m->buf + m->blen, f->wire, f->len);
  m->blen += f->len;
  if (!m->dirty) {
    m->dirty = 1;
    m->next_dirty = *dirty;
    *dirty = m;
  }
  return 0;
}

/* Publishes the resets asked for (want_reset): for each, a batch of no
** frames flagged RESET that starts a new session with that life of the
** node. Before the frames taken with them, so those go in the new
** session. */
static void send_resets(struct wp_transport *t, struct member *list, uint64_t self_inc) {
  for (struct member *m = list; m; m = m->next_reset) {
    m->sess_inc = m->reset_now;
    m->sess_self = self_inc;
    m->seq = 0;
    if (reserve(t, m, BATCH_HDR_MAX)) {
      count(&t->n_publish_errors, 1);
      wp_logf(WP_LOG_ERROR, "cluster: node %s: out of memory resetting the session with node %s",
              t->self, m->name);
      continue;
    }
    batch_start(t, m, BATCH_RESET);
    publish(t, m);
  }
}

static void *sender_main(void *arg) {
  struct wp_transport *t = arg;
  for (;;) {
    pthread_mutex_lock(&t->lock);
    while (!t->head && !t->resets && !t->stop) {
      t->sleeping = 1;
      pthread_cond_wait(&t->wake, &t->lock);
    }
    struct frame *list = t->head;
    t->head = NULL;
    t->tail = &t->head;
    t->sleeping = 0;
    struct member *resets = NULL;
    if (t->resets) { /* members are freed only at stop: the list outlives the lock */
      t->resets = 0;
      for (size_t i = 0; i < t->mn; i++) {
        struct member *m = t->mv[i];
        if (!m->reset_inc) continue;
        m->reset_now = m->reset_inc;
        m->reset_inc = 0;
        m->next_reset = resets;
        resets = m;
      }
    }
    int stop = t->stop;
    /* this round's life: frames of an earlier one are dropped, and the
    ** batches carry the incarnation of this one */
    uint64_t life = t->life, self_inc = atomic_load(&t->inc);
    pthread_mutex_unlock(&t->lock);
    if (!list && !resets && stop) break;
    send_resets(t, resets, self_inc);
    struct member *dirty = NULL;
    uint64_t packed = 0;
    while (list) {
      struct frame *f = list;
      list = f->next;
      if (atomic_load_explicit(&f->to->inc, memory_order_relaxed) != f->inc ||
          f->life != life) {
        count(&t->n_stale, 1); /* the node left or restarted since, or this one did */
      } else if (pack(t, f, self_inc, &dirty) != 0) {
        count(&t->n_publish_errors, 1);
        wp_logf(WP_LOG_ERROR, "cluster: node %s: out of memory packing a batch for node %s",
                t->self, f->to->name);
      } else {
        packed++;
      }
      wp_free(f);
    }
    count(&t->n_frames_out, packed);
    for (struct member *m = dirty; m; m = m->next_dirty) {
      if (m->blen) publish(t, m);
      m->dirty = 0;
    }
  }
  natsConnection_FlushTimeout(t->nats->nc, FLUSH_WAIT_MS);
  return NULL;
}

/* ---- receiving ---- */

/* Whether a frame of this kind may come from another node. */
static int kind_ok(uint32_t k) {
  return k == WP_MSG_USER || k == WP_MSG_CANCEL || k == WP_MSG_EXIT || k == WP_MSG_LINK_DOWN ||
         (k >= WP_CLUSTER_MONITOR && k <= WP_CLUSTER_UNLINK);
}

/* Delivers the frames of one batch; what the header says is checked. */
static void receive(struct wp_transport *t, const unsigned char *p, size_t n) {
  if (n < 2 || p[0] != VERSION || p[1] == 0 || p[1] > WP_CLUSTER_NAME_MAX ||
      n < 2u + p[1] + 25u) {
    count(&t->n_malformed, 1);
    wp_logf(WP_LOG_ERROR, "cluster: node %s dropped a batch it cannot read (%zu bytes)",
            t->self, n);
    return;
  }
  const char *src = (const char *)p + 2;
  size_t sl = p[1];
  const unsigned char *h = p + 2 + sl;
  uint64_t src_inc = get64(h), dst_inc = get64(h + 8), seq = get64(h + 16);
  int bflags = h[24];
  const unsigned char *q = h + 25, *end = p + n;
  if (dst_inc != atomic_load(&t->inc)) { /* for another life of this node */
    count(&t->n_stale, 1);
    return;
  }
  pthread_mutex_lock(&t->lock);
  struct member *m = wp_members_find(t, src, sl, 1);
  if (t->fenced || (m && src_inc <= m->fenced)) {
    /* this node, or that life of the source, was departed for its
    ** silence: nothing of that life is delivered any more */
    pthread_mutex_unlock(&t->lock);
    count(&t->n_stale, 1);
    return;
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
      wp_members_departed(t, m, old, 0, why);
    } else if (m->last && m->last != src_inc && m->last > m->gone) {
      m->gone = m->last;
    }
    m->last = src_inc;
  }
  if (m && src_inc >= m->contact) m->contact = src_inc;
  /* its messages still count; a relation it asks for would only linger */
  int gone = m && src_inc <= m->gone;
  pthread_mutex_unlock(&t->lock);
  if (!m) {
    count(&t->n_malformed, 1);
    return;
  }
  /* m->in_*: only this subscription's callback (one thread) uses them */
  if (src_inc < m->in_inc) { /* an older life of the source */
    count(&t->n_stale, 1);
    return;
  }
  if (src_inc > m->in_inc) {
    m->in_inc = src_inc;
    m->in_seq = 0;
  }
  if (bflags & BATCH_RESET) {
    session_lost(t, m, "it lost messages or took this node for departed", 1);
  } else if (seq != m->in_seq + 1) {
    char why[96];
    snprintf(why, sizeof why, "sequence gap: batch %" PRIu64 " after %" PRIu64, seq, m->in_seq);
    session_lost(t, m, why, 0);
  }
  m->in_seq = seq;
  count(&t->n_batches_in, 1);
  uint64_t frames = 0;
  while (q < end) {
    if ((size_t)(end - q) < FRAME_HDR) goto bad;
    struct wp_cluster_frame f;
    f.kind = q[0];
    f.flags = q[1];
    f.from_len = get32(q + 2);
    f.dest_len = get32(q + 6);
    f.topic_len = get32(q + 10);
    f.len = get32(q + 14);
    q += FRAME_HDR;
    if (!kind_ok(f.kind) ||
        (size_t)(end - q) < f.from_len + f.dest_len + f.topic_len + f.len)
      goto bad;
    f.node = src;
    f.node_len = sl;
    f.from = (const char *)q;
    f.dest = f.from + f.from_len;
    f.topic = f.dest + f.dest_len;
    f.payload = f.topic + f.topic_len;
    q += f.from_len + f.dest_len + f.topic_len + f.len;
    frames++;
    if (gone && (f.kind == WP_CLUSTER_MONITOR || f.kind == WP_CLUSTER_LINK)) {
      count(&t->n_stale, 1);
    } else if (t->deliver(t->ctx, &f) != 0) {
      count(&t->n_no_process, 1);
      if (wp_log_enabled(WP_LOG_DEBUG))
        wp_logf(WP_LOG_DEBUG, "cluster: node %s dropped a message from %.*s to %.*s: no such process",
                t->self, (int)f.from_len, f.from, (int)f.dest_len, f.dest);
    }
  }
  count(&t->n_frames_in, frames);
  return;
bad:
  count(&t->n_frames_in, frames);
  count(&t->n_malformed, 1);
  wp_logf(WP_LOG_ERROR, "cluster: node %s dropped the rest of a batch from node %s: a frame "
          "does not parse", t->self, m->name);
}

static void on_batch(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
  receive(closure, (const unsigned char *)natsMsg_GetData(msg),
          (size_t)natsMsg_GetDataLength(msg));
  natsMsg_Destroy(msg);
}

/* ---- the transport ---- */

static void transport_free(struct wp_transport *t) {
  for (size_t i = 0; i < t->mn; i++) {
    wp_free(t->mv[i]->buf);
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
  pthread_cond_destroy(&t->wake);
  pthread_cond_destroy(&t->synced_cond);
  pthread_mutex_destroy(&t->lock);
  wp_free(t);
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
  pthread_mutex_init(&t->lock, NULL);
  pthread_cond_init(&t->wake, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&t->synced_cond, &ca);
  pthread_condattr_destroy(&ca);
  char subject[2 * WP_CLUSTER_NAME_MAX + 8], why[256];
  snprintf(subject, sizeof subject, "%s.n.%s.d", prefix, self);
  snprintf(t->prefix, sizeof t->prefix, "%s", prefix);
  /* the member view first: a send right after start must know the nodes */
  if (pthread_create(&t->watch, NULL, wp_members_watch_main, t) != 0) {
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
  natsStatus s = natsConnection_Subscribe(&t->sub, n->nc, subject, on_batch, t);
  if (s == NATS_OK) s = natsSubscription_SetPendingLimits(t->sub, -1, 256 * 1024 * 1024);
  if (s == NATS_OK) s = natsConnection_FlushTimeout(n->nc, SYNC_WAIT_MS);
  if (s != NATS_OK) {
    snprintf(err, errlen, "cannot subscribe to %s on NATS at %s: %s", subject, n->urls,
             wp_nats_reason(s, why, sizeof why));
    goto fail;
  }
  if (pthread_create(&t->sender, NULL, sender_main, t) != 0) {
    snprintf(err, errlen, "cannot start the cluster sender thread: %s", strerror(errno));
    goto fail;
  }
  t->has_sender = 1;
  atomic_store(&n->loss_arg, t);
  atomic_store(&n->on_loss, on_loss);
  return t;
fail:
  wp_transport_stop(t);
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
}

void wp_transport_stop(struct wp_transport *t) {
  if (!t) return;
  atomic_store(&t->nats->on_loss, NULL);
  pthread_mutex_lock(&t->lock);
  t->stop = 1;
  if (t->watcher) kvWatcher_Stop(t->watcher);
  pthread_cond_broadcast(&t->synced_cond);
  pthread_mutex_unlock(&t->lock);
  pthread_cond_signal(&t->wake);
  if (t->has_sender) pthread_join(t->sender, NULL); /* publishes what is queued */
  if (t->sub) {
    if (natsSubscription_Drain(t->sub) == NATS_OK)
      natsSubscription_WaitForDrainCompletion(t->sub, DRAIN_WAIT_MS);
    else
      natsSubscription_Unsubscribe(t->sub);
    natsSubscription_Destroy(t->sub);
  }
  if (t->has_watch) pthread_join(t->watch, NULL);
  if (t->watcher) kvWatcher_Destroy(t->watcher);
  struct wp_cluster_stats s;
  wp_transport_stats(t, &s);
  wp_logf(WP_LOG_INFO,
          "cluster: node %s transport: %" PRIu64 " messages out in %" PRIu64
          " batches, %" PRIu64 " in; dropped %" PRIu64 " for no such process, %" PRIu64
          " stale, %" PRIu64 " malformed; %" PRIu64 " publish errors, %" PRIu64
          " session losses; %" PRIu64 " departures of other nodes",
          t->self, s.frames_out, s.batches_out, s.frames_in, s.dropped_no_process,
          s.dropped_stale, s.dropped_malformed, s.publish_errors, s.session_losses,
          s.departures);
  transport_free(t);
}
