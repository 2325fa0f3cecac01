/*
** flow.c: the transport's data path (transport.c keeps the member view,
** departures and session loss): frames out in batches, under a window per
** node, split when one NATS message cannot hold them; batches in,
** reassembled, delivered and acknowledged. Both directions run as the
** connection's I/O hook wp_flow_io, on whichever thread drives the socket
** (nats_conn.c): its I/O thread, or a scheduler worker it is lent to, one
** at a time (under drive_lock). "The I/O thread" below means that driver.
**
** Design note.
**
** Batches. A NATS message is a batch: a header (transport_int.h: version,
** source node and incarnation, destination incarnation, epoch, sequence
** number, the epoch's bytes before it, the sender's window, flags), then
** frames (kind, flags, source pid, destination pid, topic, payload: the
** codec's bytes as the sender encoded them; lengths as 32-bit little
** endian). A batch is at most batch_cap bytes: the server's max_payload,
** and at most a quarter of the window.
**
** Sessions and epochs. A node numbers the batches it sends one life of
** another node; an epoch is a run of those numbers from 1, and a new
** epoch starts at a new life of the destination, at a reset this node
** sends (flag RESET: the peer fires its relations) and when the peer
** reset its session with this node (no flag). The receiver takes a
** higher epoch as a fresh start, and a gap within an epoch as a session
** loss (transport.c).
**
** Sending. Each round of the I/O thread (send_round) takes the node's
** whole queue at once and appends each frame to its destination's queue
** (member->q), then packs each such member's queue into batches and
** publishes them into libnats's buffer, which the thread writes out right
** after the round. So a batch goes out as soon as the queue is idle, with
** no timer, and batches grow under load by themselves: whatever queued
** during one round and its write goes out in the next. One more source
** of batches: a frame sent from a scheduler worker that has other
** processes waiting does not wake a sleeping I/O thread; the worker's
** flush hook does, when it runs out of work or after a stretch of runs
** (wp_sched_set_flush; at most HOLD_MAX frames wait so), so what those
** runs send leaves together, for one wake-up here and there, and one
** message through the server. A worker with nothing else to run that
** finds the I/O thread asleep runs the round and the write itself
** (wp_flow_send_here, under round_lock like the I/O thread's rounds): a
** lone reply then wakes no thread.
**
** The window. Per destination, the bytes published in the epoch and not
** yet acknowledged stay at most the window (WP_WINDOW). The receiver acks
** (on the sender's subject <prefix>.n.<node>.a, as it takes the batch off
** libnats's queue) each time a quarter of the window came in since its
** last ack; an ack carries the epoch and the epoch's bytes received,
** which the batch headers say (a lost batch counts as received: the loss
** is the session's, not the window's). A
** batch is at most a quarter of the window, so once the acks are in there
** is always room for the next one: the window never shuts for good, and
** never holds a frame the peer cannot take. So the peer's libnats never
** has more than a window per node pending, and the server never more than
** that queued for a paused node: our traffic makes neither drop. What the
** window holds back waits in member->q, counted (waiting_* in the stats:
** sampled after each round, so only what the window held back counts),
** and `send` never waits. Acks come in on the same thread, and let the
** round that follows them send what waited for the window of that node.
** Each epoch starts with a fresh window: bytes lost with the old one are
** never acked, and the peer's acks of the old epoch no longer count (its
** in-flight batches may then add up to two windows, once, until they are
** taken).
**
** Splitting. A frame that does not fit a batch (up to WP_FRAME_MAX) is
** split: one at a time per destination (member->big), at most one
** fragment per batch, the rest of the batch for small frames (at most
** half of it while a frame is being split), and fragments at most half
** the window in flight, so small frames of other senders keep flowing
** beside it. A later frame of the split frame's own source to that node
** is held back (member->held) until the last fragment went out, and so is
** a second split frame (of any source) and its source's later frames:
** order per source process and node holds, so an EXIT never overtakes a
** split message either. The receiver reassembles one frame per source node
** (bounded: WP_FRAME_MAX each) and delivers it when complete. A new epoch
** gives up the frame being split if part of it went out (counted, logged)
** and drops the reassembly under way; so do a gap, a departure and a loss
** of the connection on the receiving side (transport.c).
**
** Receiving. The node's two subscriptions (batches, acks) are synchronous:
** the I/O thread parses what it reads into their queues and takes it in
** its next round, so no libnats delivery thread stands between the socket
** and the scheduler. For each batch it checks the header, acks when due,
** and hands each frame to the deliver hook (cli/main.c), which delivers it
** through sched/ like a local send; a frame for a pid that does not live
** here is dropped and counted.
** Batches of an older incarnation or epoch of the source, or for another
** incarnation of this node, are dropped and counted.
*/
#include "transport_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "msg.h"

#define STOP_WAIT_MS 5000  /* at stop, for the windows to take what waits */

int wp_flow_member_init(struct member *m) {
  m->qtail = &m->q;
  m->heldtail = &m->held;
  return pthread_mutex_init(&m->rlock, NULL) == 0 ? 0 : -1;
}

/* Frees the frames of the list f (consumed). */
static void free_list(struct frame *f) {
  for (struct frame *next; f; f = next) {
    next = f->next;
    wp_free(f);
  }
}

void wp_flow_member_free(struct member *m) {
  free_list(m->q);
  free_list(m->held);
  wp_free(m->big);
  wp_free(m->buf);
  wp_free(m->rbuf);
  pthread_mutex_destroy(&m->rlock);
}

/* ---- a member's queues (the I/O thread's) ---- */

/* Appends f (taken over) to the list whose tail is *tail. */
static void push(struct frame ***tail, struct frame *f) {
  f->next = NULL;
  **tail = f;
  *tail = &f->next;
}

/* Takes the first frame of m->q off it; the caller owns it then. */
static struct frame *pop(struct member *m) {
  struct frame *f = m->q;
  m->q = f->next;
  if (!m->q) m->qtail = &m->q;
  return f;
}

/* Whether f must be split: it cannot fit a batch of its own. */
static int is_big(const struct wp_transport *t, const struct frame *f) {
  return f->len > t->batch_cap - BATCH_HDR_MAX;
}

/* Whether f and g come from the same process. */
static int same_source(const struct frame *f, const struct frame *g) {
  uint32_t a = get32(f->wire + 2), b = get32(g->wire + 2);
  return a == b && memcmp(f->wire + FRAME_HDR, g->wire + FRAME_HDR, a) == 0;
}

/* Whether f's source has a split frame to m under way or held. */
static int blocked(const struct member *m, const struct frame *f) {
  for (size_t i = 0; i < m->nblk; i++)
    if (same_source(m->blk[i], f)) return 1;
  return 0;
}

/* Puts what was held back in front of m->q again: no frame is being
** split, so the held frames go first, in their order, and block anew
** what they must. */
static void release_held(struct member *m) {
  m->nblk = 0;
  if (!m->held) return;
  *m->heldtail = m->q;
  if (!m->q) m->qtail = m->heldtail;
  m->q = m->held;
  m->held = NULL;
  m->heldtail = &m->held;
}

/* Frees f (consumed), which waited and will not go on: packed, stale
** (its life of the node ended) or given up; `sent` of its bytes went
** out in fragments already. */
static void unwait(struct wp_transport *t, struct frame *f, size_t sent) {
  t->w_frames--;
  t->w_bytes -= f->len - sent;
  wp_free(f);
}

/* Drops the frames of m's lists queued for an earlier life of the node,
** and the frame being split if it is one (see the design note). */
static void purge(struct wp_transport *t, struct member *m, uint64_t life) {
  struct frame **lists[2] = {&m->q, &m->held};
  struct frame ***tails[2] = {&m->qtail, &m->heldtail};
  for (int i = 0; i < 2; i++) {
    struct frame **pp = lists[i];
    while (*pp) {
      struct frame *f = *pp;
      if (f->life != life) {
        *pp = f->next;
        count(&t->n_stale, 1);
        unwait(t, f, 0);
      } else {
        pp = &f->next;
      }
    }
    *tails[i] = pp;
  }
  if (m->big && m->big->life != life) {
    count(&t->n_stale, 1);
    if (m->big_off) count(&t->n_split_lost, 1);
    unwait(t, m->big, m->big_off);
    m->big = NULL;
  }
  if (!m->big) {
    release_held(m);
    return;
  }
  m->nblk = 0;
  m->blk[m->nblk++] = m->big;
  for (struct frame *f = m->held; f; f = f->next)
    if (is_big(t, f)) m->blk[m->nblk++] = f;
}

/* Starts a new epoch of m's session, with life `inc` of the node: a fresh
** window. A frame being split that went out in part is given up: the
** receiver drops its part at the new epoch. */
static void new_epoch(struct wp_transport *t, struct member *m, uint64_t inc) {
  m->sess_inc = inc;
  m->epoch++;
  m->seq = 0;
  m->sent = m->acked = 0;
  if (m->big && m->big_off) {
    count(&t->n_split_lost, 1);
    wp_logf(WP_LOG_WARN,
            "cluster: node %s gave up a split message to node %s (%zu of %zu bytes sent): "
            "its session was reset",
            t->self, m->name, m->big_off, m->big->len);
    unwait(t, m->big, m->big_off);
    m->big = NULL;
    release_held(m);
  }
}

/* ---- batches out ---- */

/* Publishes m's batch (m->buf, kept for the next one) and empties it. */
static void publish(struct wp_transport *t, struct member *m) {
  natsStatus s = natsConnection_Publish(t->nats->nc, m->subject, m->buf, (int)m->blen);
  if (s == NATS_OK) {
    m->sent += m->blen;
    count(&t->n_batches_out, 1);
    count(&t->n_bytes_out, m->blen);
    t->publish_failing = 0;
  } else {
    /* the batch's number is spent: the peer sees the gap, a session loss */
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

/* Makes room for n bytes (at most batch_cap) in m's batch buffer; 0, or
** -1 out of memory. */
static int reserve(struct wp_transport *t, struct member *m, size_t n) {
  if (n <= m->bcap) return 0;
  size_t cap = m->bcap ? m->bcap : 4096;
  while (cap < n) cap *= 2;
  if (cap > t->batch_cap) cap = t->batch_cap;
  unsigned char *b = wp_realloc(m->buf, cap);
  if (!b) return -1;
  m->buf = b;
  m->bcap = cap;
  return 0;
}

static size_t header_len(const struct wp_transport *t) { return 2 + t->self_len + BATCH_FIXED; }

/* Starts the next batch of m's epoch with its header (m->blen is 0); 0,
** or -1 out of memory. */
static int batch_start(struct wp_transport *t, struct member *m, int flags) {
  if (reserve(t, m, header_len(t))) return -1;
  unsigned char *p = m->buf;
  p[0] = WP_WIRE_VERSION;
  p[1] = (unsigned char)t->self_len;
  memcpy(p + 2, t->self, t->self_len);
  p += 2 + t->self_len;
  put64(p, atomic_load(&t->inc));
  put64(p + 8, m->sess_inc);
  put64(p + 16, m->epoch);
  put64(p + 24, ++m->seq);
  put64(p + 32, m->sent);
  put32(p + 40, (uint32_t)t->window);
  p[44] = (unsigned char)flags;
  m->blen = header_len(t);
  return 0;
}

/* Appends n bytes (borrowed) to m's batch, starting one if none is; 0, or
** -1 out of memory (the batch as it was). */
static int append(struct wp_transport *t, struct member *m, const void *p, size_t n) {
  if (!m->blen && batch_start(t, m, 0)) return -1;
  if (reserve(t, m, m->blen + n)) return -1;
  memcpy(m->buf + m->blen, p, n);
  m->blen += n;
  return 0;
}

static void out_of_memory(struct wp_transport *t, struct member *m) {
  count(&t->n_publish_errors, 1);
  wp_logf(WP_LOG_ERROR, "cluster: node %s: out of memory packing a batch for node %s: a "
          "message lost", t->self, m->name);
}

/* Packs the next fragment of m->big into m's batch if the window and the
** batch have room for it; returns whether it did. */
static int fragment(struct wp_transport *t, struct member *m) {
  struct frame *b = m->big;
  if (b->inc != m->sess_inc) { /* as for a small frame: a new life, a new session */
    if (m->blen) publish(t, m);
    new_epoch(t, m, b->inc);
    if (!m->big) return 1; /* given up: part of it went to the old life */
  }
  size_t base = m->blen ? m->blen : header_len(t), inflight = m->sent - m->acked;
  size_t half = t->window / 2, rest = b->len - m->big_off;
  if (inflight + base + FRAG_HDR >= half || base + FRAG_HDR >= t->batch_cap) return 0;
  size_t room = t->batch_cap - base - FRAG_HDR;
  if (half - inflight - base - FRAG_HDR < room) room = half - inflight - base - FRAG_HDR;
  size_t chunk = rest < room ? rest : room;
  if (chunk < rest && chunk < t->batch_cap / 8) return 0; /* no crumbs: wait for acks */
  unsigned char h[FRAG_HDR];
  h[0] = KIND_FRAG;
  h[1] = m->big_off ? 0 : FRAG_FIRST;
  put32(h + 2, (uint32_t)b->len);
  put32(h + 6, (uint32_t)m->big_off);
  put32(h + 10, (uint32_t)chunk);
  if ((!m->blen && batch_start(t, m, 0)) || reserve(t, m, m->blen + FRAG_HDR + chunk)) {
    out_of_memory(t, m); /* given up: nothing may wait for a retry that never comes */
    if (m->big_off) count(&t->n_split_lost, 1);
    unwait(t, b, m->big_off);
    m->big = NULL;
    release_held(m);
    return 1;
  }
  append(t, m, h, FRAG_HDR); /* room reserved: cannot fail */
  append(t, m, b->wire + m->big_off, chunk);
  m->big_off += chunk;
  t->w_bytes -= chunk;
  if (m->big_off == b->len) {
    count(&t->n_split_out, 1);
    count(&t->n_frames_out, 1);
    t->w_frames--;
    wp_free(b);
    m->big = NULL;
    release_held(m);
  }
  return 1;
}

/* Packs and publishes what waits for m as far as its window allows (see
** the design note). Returns 1 when frames are left: they wait for acks. */
static int pump(struct wp_transport *t, struct member *m) {
  uint64_t life = atomic_load_explicit(&m->life, memory_order_relaxed);
  if (life != m->q_life) {
    purge(t, m, life);
    m->q_life = life;
  }
  uint64_t packed = 0;
  for (;;) {
    int progress = 0;
    while (m->q) {
      struct frame *f = m->q;
      if (f->life != life) { /* its life ended since this round began */
        count(&t->n_stale, 1);
        unwait(t, pop(m), 0);
        continue;
      }
      if (f->inc != m->sess_inc) { /* a new life of the node: a new session */
        if (m->blen) publish(t, m);
        new_epoch(t, m, f->inc);
        continue; /* new_epoch may have put held frames first */
      }
      if (is_big(t, f)) {
        if (!m->big) {
          m->big = pop(m);
          m->big_off = 0;
          m->blk[m->nblk++] = f;
          progress = 1;
          continue;
        }
        if (m->nblk == WP_BLOCK_MAX) break; /* the rest waits for the split frame */
        push(&m->heldtail, pop(m));
        m->blk[m->nblk++] = f;
        continue;
      }
      if (m->nblk && blocked(m, f)) {
        push(&m->heldtail, pop(m));
        continue;
      }
      size_t base = m->blen ? m->blen : header_len(t);
      size_t limit = m->big ? t->batch_cap / 2 : t->batch_cap;
      if (m->blen && base + f->len > limit) break; /* this batch is full */
      if (m->sent - m->acked + base + f->len > t->window) break; /* the window is */
      pop(m);
      if (append(t, m, f->wire, f->len) == 0)
        packed++;
      else
        out_of_memory(t, m);
      unwait(t, f, 0);
      progress = 1;
    }
    if (m->big && fragment(t, m)) progress = 1;
    if (m->blen) publish(t, m);
    if (!progress) break;
  }
  count(&t->n_frames_out, packed);
  return m->q != NULL || m->big != NULL; /* held frames wait behind big */
}

/* Takes m's newest ack if it is of the current epoch (under t->ack_lock);
** returns whether it acknowledged more than known. */
static int take_ack(struct member *m) {
  if (m->ack_inc != m->sess_inc || m->ack_epoch != m->epoch || m->ack_off <= m->acked)
    return 0;
  m->acked = m->ack_off < m->sent ? m->ack_off : m->sent;
  return 1;
}

/* Pumps m until it has nothing left or waits for an ack; in that case the
** ack, taken on this thread, kicks a new round (want_window, set under the
** same lock as the check that no newer ack came meanwhile). Returns
** whether frames are left. */
static int pump_member(struct wp_transport *t, struct member *m) {
  for (;;) {
    pthread_mutex_lock(&t->ack_lock);
    take_ack(m);
    m->want_window = 0;
    pthread_mutex_unlock(&t->ack_lock);
    if (!pump(t, m)) return 0;
    pthread_mutex_lock(&t->ack_lock);
    int more = take_ack(m);
    if (!more) m->want_window = 1;
    pthread_mutex_unlock(&t->ack_lock);
    if (!more) return 1;
  }
}

/* Publishes the resets asked for (transport.c's want_reset): for each, a
** batch of no frames flagged RESET that starts a new epoch with that life
** of the node; and starts the new epochs asked for by peers that reset
** their session (no batch: the next one says it). Before the frames taken
** with them, so those go in the new epoch. */
static void send_resets(struct wp_transport *t, struct member *list) {
  for (struct member *m = list; m; m = m->next_reset) {
    if (m->reset_now) {
      new_epoch(t, m, m->reset_now);
      if (batch_start(t, m, BATCH_RESET)) {
        count(&t->n_publish_errors, 1);
        wp_logf(WP_LOG_ERROR,
                "cluster: node %s: out of memory resetting the session with node %s",
                t->self, m->name);
        continue;
      }
      publish(t, m);
    } else if (m->renew_now && m->renew_now == m->sess_inc) {
      new_epoch(t, m, m->sess_inc);
    }
  }
}

/* Gives up what still waits at stop, once the wait for the windows ran
** out: counted and logged per node. */
static void give_up(struct wp_transport *t) {
  for (struct member *m = t->work; m; m = m->next_work) {
    size_t n = 0, bytes = 0;
    if (m->big) {
      n++;
      bytes += m->big->len - m->big_off;
      if (m->big_off) count(&t->n_split_lost, 1);
      unwait(t, m->big, m->big_off);
      m->big = NULL;
    }
    release_held(m);
    while (m->q) {
      struct frame *f = pop(m);
      n++;
      bytes += f->len;
      unwait(t, f, 0);
    }
    m->in_work = 0;
    count(&t->n_dropped_at_stop, n);
    wp_logf(WP_LOG_ERROR,
            "cluster: node %s stopped with %zu messages (%zu bytes) for node %s still waiting "
            "for its window: dropped",
            t->self, n, bytes, m->name);
  }
  t->work = NULL;
}

/* The counters of what waits, after a round. */
static void sample(struct wp_transport *t) {
  atomic_store_explicit(&t->n_waiting_frames, t->w_frames, memory_order_relaxed);
  atomic_store_explicit(&t->n_waiting_bytes, t->w_bytes, memory_order_relaxed);
  if (t->w_frames > atomic_load_explicit(&t->n_waiting_frames_max, memory_order_relaxed))
    atomic_store_explicit(&t->n_waiting_frames_max, t->w_frames, memory_order_relaxed);
  if (t->w_bytes > atomic_load_explicit(&t->n_waiting_bytes_max, memory_order_relaxed))
    atomic_store_explicit(&t->n_waiting_bytes_max, t->w_bytes, memory_order_relaxed);
}

/* Takes the queue at stop: what still waits is sent while the windows
** open, for at most STOP_WAIT_MS (then given up); then says so to
** wp_transport_stop. Under t->lock, which it may drop and retake. Returns
** the I/O thread's wait. */
static int round_at_stop(struct wp_transport *t) {
  if (t->work) {
    uint64_t now = wp_clock_ns();
    if (!t->stop_deadline) t->stop_deadline = now + (uint64_t)STOP_WAIT_MS * 1000000;
    if (now < t->stop_deadline) {
      t->sleeping = 1;
      return (int)((t->stop_deadline - now) / 1000000) + 1;
    }
    pthread_mutex_unlock(&t->lock);
    give_up(t);
    pthread_mutex_lock(&t->lock);
  }
  pthread_mutex_unlock(&t->lock);
  sample(t);
  pthread_mutex_lock(&t->lock);
  t->sent_all = 1;
  pthread_cond_broadcast(&t->io_cond);
  return -1;
}

/* One round of the sender (under t->round_lock): takes the node's queue
** and the resets asked for, and publishes what the windows let through.
** On the I/O thread (io) it also notes that thread's sleep and does the
** stop's work; a worker standing in (wp_flow_send_here) does neither.
** Returns the I/O thread's wait: 0 when it did something (more may have
** come meanwhile), else -1 or the time left at stop. */
static int send_round(struct wp_transport *t, int io) {
  pthread_mutex_lock(&t->lock);
  if (t->sent_all || (!io && t->stop)) {
    pthread_mutex_unlock(&t->lock);
    return -1;
  }
  if (!(t->head && (t->due || t->stop)) && !t->resets && !t->kick) {
    int wait = -1;
    if (io && !t->stop)
      t->sleeping = 1;
    else if (io)
      wait = round_at_stop(t);
    pthread_mutex_unlock(&t->lock);
    return wait;
  }
  struct frame *list = t->head;
  t->head = NULL;
  t->tail = &t->head;
  t->held = 0;
  t->due = 0;
  atomic_store_explicit(&t->later, 0, memory_order_relaxed);
  /* a worker's round leaves the flag alone: the I/O thread may sleep,
  ** and the next sender must still wake it */
  if (io) t->sleeping = 0;
  t->kick = 0;
  struct member *resets = NULL;
  if (t->resets) { /* members are freed only at stop: the list outlives the lock */
    t->resets = 0;
    for (size_t i = 0; i < t->mn; i++) {
      struct member *m = t->mv[i];
      if (!m->reset_inc && !m->renew_inc) continue;
      m->reset_now = m->reset_inc;
      m->renew_now = m->renew_inc;
      m->reset_inc = m->renew_inc = 0;
      m->next_reset = resets;
      resets = m;
    }
  }
  pthread_mutex_unlock(&t->lock);
  send_resets(t, resets);
  while (list) {
    struct frame *f = list;
    list = f->next;
    struct member *m = f->to;
    push(&m->qtail, f);
    t->w_frames++;
    t->w_bytes += f->len;
    if (!m->in_work) {
      m->in_work = 1;
      m->next_work = t->work;
      t->work = m;
    }
  }
  for (struct member **pp = &t->work; *pp;) {
    struct member *m = *pp;
    if (pump_member(t, m)) {
      pp = &m->next_work;
    } else {
      *pp = m->next_work;
      m->in_work = 0;
    }
  }
  sample(t);
  return 0;
}

static void on_ack(struct wp_transport *t, natsMsg *msg); /* consumes msg */
static void receive(struct wp_transport *t, const unsigned char *p, size_t n); /* borrows p */

/* Takes the messages the last reads left in sub (all of them; only this
** thread parses, so none come meanwhile), or at most one batch per
** slow_ns (the test's slow receiver). Returns the wait that asks for. */
static int take(struct wp_transport *t, natsSubscription *sub, int batches) {
  int pending = 0;
  if (natsSubscription_GetPending(sub, &pending, NULL) != NATS_OK || pending <= 0) return -1;
  int wait = -1;
  if (batches && t->slow_ns) {
    uint64_t now = wp_clock_ns();
    if (now < t->slow_next) return (int)((t->slow_next - now) / 1000000) + 1;
    t->slow_next = now + (uint64_t)t->slow_ns;
    if (pending > 1) wait = (int)(t->slow_ns / 1000000) + 1;
    pending = 1;
  }
  for (int i = 0; i < pending; i++) {
    natsMsg *msg = NULL;
    natsStatus s = natsSubscription_NextMsg(&msg, sub, 0);
    /* a drop is told once here, and reported by the error handler
    ** (nats_conn.c: a session loss); the messages after it are there */
    if (s == NATS_SLOW_CONSUMER) s = natsSubscription_NextMsg(&msg, sub, 0);
    if (s != NATS_OK) break;
    if (batches) {
      receive(t, (const unsigned char *)natsMsg_GetData(msg),
              (size_t)natsMsg_GetDataLength(msg));
      wp_nats_msg_free(msg);
    } else {
      on_ack(t, msg);
    }
  }
  return wait;
}

static int sooner(int a, int b) { return a < 0 ? b : b < 0 ? a : a < b ? a : b; }

int wp_flow_io(void *arg) {
  struct wp_transport *t = arg;
  pthread_mutex_lock(&t->lock);
  int closing = t->closing && !t->closed;
  pthread_mutex_unlock(&t->lock);
  int wait = take(t, t->ack_sub, 0);
  wait = sooner(wait, take(t, t->sub, 1));
  if (closing) {
    /* what came before wp_transport_stop's flush is taken, and nothing is
    ** parsed but here: after the unsubscribe, no batch of ours is left in
    ** libnats (the slow receiver's test knob aside) */
    natsSubscription_Unsubscribe(t->sub);
    natsSubscription_Unsubscribe(t->ack_sub);
    pthread_mutex_lock(&t->lock);
    t->closed = 1;
    pthread_cond_broadcast(&t->io_cond);
    pthread_mutex_unlock(&t->lock);
    return -1;
  }
  pthread_mutex_lock(&t->round_lock);
  wait = sooner(wait, send_round(t, 1));
  pthread_mutex_unlock(&t->round_lock);
  return wait;
}

void wp_flow_send_here(struct wp_transport *t) {
  /* never while reconnecting: libnats holds its lock through each try, and
  ** a worker must not wait for that */
  if (wp_nats_up(t->nats) && pthread_mutex_trylock(&t->round_lock) == 0) {
    wp_nats_io_enter(t->nats);
    send_round(t, 0);
    wp_nats_io_leave(t->nats); /* the write, without waiting */
    pthread_mutex_unlock(&t->round_lock);
    return;
  }
  /* the I/O thread (or another worker) is in a round: if the I/O thread
  ** looked at the queue before these frames came, it went to sleep and is
  ** woken here (both under t->lock); else it takes them in its next round */
  pthread_mutex_lock(&t->lock);
  int wake = t->head && t->sleeping;
  if (wake) t->sleeping = 0;
  pthread_mutex_unlock(&t->lock);
  if (wake) wp_nats_wake(t->nats);
}

/* ---- acks ---- */

static void on_ack(struct wp_transport *t, natsMsg *msg) {
  const unsigned char *p = (const unsigned char *)natsMsg_GetData(msg);
  size_t n = (size_t)natsMsg_GetDataLength(msg);
  if (n < 2 || p[0] != WP_WIRE_VERSION || p[1] == 0 || p[1] > WP_CLUSTER_NAME_MAX ||
      n != 2u + p[1] + 32u) {
    count(&t->n_malformed, 1);
    wp_logf(WP_LOG_ERROR, "cluster: node %s dropped an ack it cannot read (%zu bytes)", t->self,
            n);
    natsMsg_Destroy(msg);
    return;
  }
  const unsigned char *h = p + 2 + p[1];
  uint64_t inc = get64(h), mine = get64(h + 8), epoch = get64(h + 16), off = get64(h + 24);
  /* an ack for an earlier life of this node acks nothing of this one */
  struct member *m = mine == atomic_load(&t->inc) ? wp_transport_member(t, (const char *)p + 2, p[1]) : NULL;
  wp_nats_msg_free(msg);
  if (!m) return;
  int wake = 0;
  pthread_mutex_lock(&t->ack_lock);
  /* one node's acks come in order; a late one of its earlier life must
  ** not hide its new life's */
  if (inc > m->ack_inc ||
      (inc == m->ack_inc && (epoch > m->ack_epoch || (epoch == m->ack_epoch && off > m->ack_off)))) {
    m->ack_inc = inc;
    m->ack_epoch = epoch;
    m->ack_off = off;
    wake = m->want_window;
    m->want_window = 0;
  }
  pthread_mutex_unlock(&t->ack_lock);
  if (wake) {
    pthread_mutex_lock(&t->lock);
    wp_transport_kick(t);
    pthread_mutex_unlock(&t->lock);
  }
}

/* Acks to m what came in of its current epoch (the I/O thread's, as it takes a batch). */
static void send_ack(struct wp_transport *t, struct member *m) {
  unsigned char b[ACK_MAX];
  b[0] = WP_WIRE_VERSION;
  b[1] = (unsigned char)t->self_len;
  memcpy(b + 2, t->self, t->self_len);
  unsigned char *h = b + 2 + t->self_len;
  put64(h, atomic_load(&t->inc));
  put64(h + 8, m->in_inc);
  put64(h + 16, m->in_epoch);
  put64(h + 24, m->in_off);
  natsStatus s = natsConnection_Publish(t->nats->nc, m->ack_subject, b,
                                        (int)(2 + t->self_len + 32));
  if (s == NATS_OK) {
    m->in_acked = m->in_off;
  } else {
    /* the connection failed: a loss both sides see, which starts new
    ** epochs with fresh windows */
    char why[256];
    count(&t->n_publish_errors, 1);
    wp_logf(WP_LOG_ERROR, "cluster: node %s cannot acknowledge to node %s: %s", t->self,
            m->name, wp_nats_reason(s, why, sizeof why));
  }
}

/* ---- batches in ---- */

/* Whether a frame of this kind may come from another node. */
static int kind_ok(uint32_t k) {
  return k == WP_MSG_USER || k == WP_MSG_CANCEL || k == WP_MSG_EXIT || k == WP_MSG_LINK_DOWN ||
         (k >= WP_CLUSTER_MONITOR && k <= WP_CLUSTER_UNLINK);
}

/* Reads the frame at q (avail bytes, borrowed: f points into them);
** returns its length, or 0 when it does not parse. */
static size_t parse_frame(const unsigned char *q, size_t avail, struct wp_cluster_frame *f) {
  if (avail < FRAME_HDR) return 0;
  f->kind = q[0];
  f->flags = q[1];
  f->from_len = get32(q + 2);
  f->dest_len = get32(q + 6);
  f->topic_len = get32(q + 10);
  f->len = get32(q + 14);
  size_t body = f->from_len + f->dest_len + f->topic_len + f->len;
  if (!kind_ok(f->kind) || avail - FRAME_HDR < body) return 0;
  f->from = (const char *)q + FRAME_HDR;
  f->dest = f->from + f->from_len;
  f->topic = f->dest + f->dest_len;
  f->payload = f->topic + f->topic_len;
  return FRAME_HDR + body;
}

/* Hands f (borrowed) to the runtime; counts it when no process takes it. */
static void deliver(struct wp_transport *t, const struct wp_cluster_frame *f, int gone) {
  if (gone && (f->kind == WP_CLUSTER_MONITOR || f->kind == WP_CLUSTER_LINK)) {
    count(&t->n_stale, 1);
  } else if (t->deliver(t->ctx, f) != 0) {
    count(&t->n_no_process, 1);
    if (wp_log_enabled(WP_LOG_DEBUG))
      wp_logf(WP_LOG_DEBUG, "cluster: node %s dropped a message from %.*s to %.*s: no such process",
              t->self, (int)f->from_len, f->from, (int)f->dest_len, f->dest);
  }
}

/* Drops m's reassembly under way (under m->rlock). */
static void drop_locked(struct wp_transport *t, struct member *m, const char *why) {
  count(&t->n_split_lost, 1);
  wp_logf(WP_LOG_WARN,
          "cluster: node %s dropped a split message from node %s (%zu of %zu bytes "
          "received): %s",
          t->self, m->name, m->rlen, m->rtotal, why);
  wp_free(m->rbuf);
  m->rbuf = NULL;
}

void wp_flow_drop_partial(struct wp_transport *t, struct member *m, const char *why, int skip) {
  pthread_mutex_lock(&m->rlock);
  if (m->rbuf) {
    drop_locked(t, m, why);
    m->rskip = skip;
  }
  pthread_mutex_unlock(&m->rlock);
}

/* Takes a fragment (chunk bytes at data, borrowed) of a split frame from
** m (node src); delivers the frame once it is complete. */
static void reassemble(struct wp_transport *t, struct member *m, const char *src, size_t sl,
                       int first, uint32_t total, uint32_t off, const unsigned char *data,
                       uint32_t chunk, int gone) {
  pthread_mutex_lock(&m->rlock);
  if (first) {
    if (m->rbuf) drop_locked(t, m, "another began before it was complete");
    m->rskip = 0;
    if (off != 0 || total > WP_FRAME_MAX || chunk > total) {
      count(&t->n_malformed, 1);
      wp_logf(WP_LOG_ERROR, "cluster: node %s dropped a split message from node %s: its "
              "first part does not parse", t->self, m->name);
      m->rskip = 1;
      pthread_mutex_unlock(&m->rlock);
      return;
    }
    m->rbuf = wp_malloc(total ? total : 1);
    if (!m->rbuf) {
      count(&t->n_split_lost, 1);
      wp_logf(WP_LOG_ERROR, "cluster: node %s dropped a split message of %" PRIu32
              " bytes from node %s: out of memory", t->self, total, m->name);
      m->rskip = 1;
      pthread_mutex_unlock(&m->rlock);
      return;
    }
    m->rtotal = total;
    m->rlen = 0;
  } else if (!m->rbuf) {
    /* its beginning was lost with a gap, or dropped: counted once */
    if (!m->rskip) {
      count(&t->n_split_lost, 1);
      wp_logf(WP_LOG_WARN, "cluster: node %s dropped a split message from node %s: its first "
              "part was lost", t->self, m->name);
      m->rskip = 1;
    }
    pthread_mutex_unlock(&m->rlock);
    return;
  }
  if (off != m->rlen || total != m->rtotal || chunk > total - off) {
    count(&t->n_malformed, 1);
    drop_locked(t, m, "its parts do not fit together");
    m->rskip = 1;
    pthread_mutex_unlock(&m->rlock);
    return;
  }
  memcpy(m->rbuf + off, data, chunk);
  m->rlen += chunk;
  if (m->rlen < m->rtotal) {
    pthread_mutex_unlock(&m->rlock);
    return;
  }
  unsigned char *b = m->rbuf;
  m->rbuf = NULL;
  pthread_mutex_unlock(&m->rlock);
  struct wp_cluster_frame f;
  if (parse_frame(b, total, &f) != total) {
    count(&t->n_malformed, 1);
    wp_logf(WP_LOG_ERROR, "cluster: node %s dropped a split message from node %s: it does not "
            "parse", t->self, m->name);
  } else {
    f.node = src;
    f.node_len = sl;
    count(&t->n_split_in, 1);
    count(&t->n_frames_in, 1);
    deliver(t, &f, gone);
  }
  wp_free(b);
}

/* Delivers the frames of one batch (n bytes at p, borrowed); what the
** header says is checked. */
static void receive(struct wp_transport *t, const unsigned char *p, size_t n) {
  if (n < 2 || p[0] != WP_WIRE_VERSION || p[1] == 0 || p[1] > WP_CLUSTER_NAME_MAX ||
      n < 2u + p[1] + BATCH_FIXED) {
    count(&t->n_malformed, 1);
    wp_logf(WP_LOG_ERROR, "cluster: node %s dropped a batch it cannot read (%zu bytes)",
            t->self, n);
    return;
  }
  const char *src = (const char *)p + 2;
  size_t sl = p[1];
  const unsigned char *h = p + 2 + sl;
  uint64_t src_inc = get64(h), dst_inc = get64(h + 8), epoch = get64(h + 16);
  uint64_t seq = get64(h + 24), off = get64(h + 32);
  uint32_t window = get32(h + 40);
  int bflags = h[44];
  const unsigned char *q = h + BATCH_FIXED, *end = p + n;
  if (dst_inc != atomic_load(&t->inc)) { /* for another life of this node */
    count(&t->n_stale, 1);
    return;
  }
  int gone;
  struct member *m = wp_transport_seen(t, src, sl, src_inc, &gone);
  if (!m) {
    count(&t->n_malformed, 1);
    return;
  }
  if (gone < 0) { /* a life departed for its silence, or this node is fenced */
    count(&t->n_stale, 1);
    return;
  }
  /* m->in_*: only the I/O thread uses them */
  if (src_inc < m->in_inc || (src_inc == m->in_inc && epoch < m->in_epoch)) {
    count(&t->n_stale, 1); /* an older life or epoch of the source */
    return;
  }
  if (src_inc > m->in_inc || epoch > m->in_epoch) { /* a fresh start */
    m->in_inc = src_inc;
    m->in_epoch = epoch;
    m->in_seq = 0;
    m->in_off = m->in_acked = 0;
    wp_flow_drop_partial(t, m, "its sender began a new session", 0);
  }
  if (bflags & BATCH_RESET) {
    wp_transport_session_lost(t, m, "it lost messages or took this node for departed", 1);
  } else if (seq != m->in_seq + 1) {
    char why[96];
    snprintf(why, sizeof why, "sequence gap: batch %" PRIu64 " after %" PRIu64, seq, m->in_seq);
    wp_transport_session_lost(t, m, why, 0);
  }
  m->in_seq = seq;
  /* off counts the batches lost in a gap too: the sender's window frees them */
  m->in_off = off + n;
  if (m->in_off > m->in_acked && m->in_off - m->in_acked >= (window ? window / 4 : 1))
    send_ack(t, m);
  count(&t->n_batches_in, 1);
  uint64_t frames = 0;
  while (q < end) {
    if (q[0] == KIND_FRAG) {
      if ((size_t)(end - q) < FRAG_HDR || (size_t)(end - q) - FRAG_HDR < get32(q + 10))
        goto bad;
      uint32_t chunk = get32(q + 10);
      reassemble(t, m, src, sl, q[1] & FRAG_FIRST, get32(q + 2), get32(q + 6), q + FRAG_HDR,
                 chunk, gone);
      q += FRAG_HDR + chunk;
      continue;
    }
    struct wp_cluster_frame f;
    size_t fl = parse_frame(q, (size_t)(end - q), &f);
    if (!fl) goto bad;
    f.node = src;
    f.node_len = sl;
    q += fl;
    frames++;
    deliver(t, &f, gone);
  }
  count(&t->n_frames_in, frames);
  return;
bad:
  count(&t->n_frames_in, frames);
  count(&t->n_malformed, 1);
  wp_logf(WP_LOG_ERROR, "cluster: node %s dropped the rest of a batch from node %s: a frame "
          "does not parse", t->self, m->name);
}
