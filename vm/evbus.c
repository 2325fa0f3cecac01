/*
** evbus.c: the event bus (spec 10 §3): node-local publish/subscribe
** between processes, for events.subscribe and events.send.
**
** Design note. The bus is the list of every live subscription, under a
** reader-writer lock in the runtime (rt->evbus). A send runs on the
** sender's worker: it encodes the event once, takes the read lock, and for
** every subscription whose patterns match pushes a copy into the
** subscriber's mailbox as a WP_MSG_EVENT whose aux is the subscription's
** id. It never touches another process's Lua state and never waits for a
** subscriber (a mailbox push does not block; the lock is held only for the
** walk, and writers hold it for a few pointer stores). The subscriber's own
** worker routes the message (route.c -> wp_evbus_route) into that
** subscription's private queue, from which the subscription's channel, a
** source channel like the inbox (chan.c), hands the events to receivers one
** at a time, each decoded into a fresh event table only when a task takes
** it. One thread pushes a sender's events into each mailbox in send order,
** so events from one sender arrive in that order (spec 10 §3.4).
**
** A subscription (struct wp_evsub) is one block with two parts: the bus's
** (links, patterns, the owner's handle, the id), read by senders under the
** lock, and the owner's (its list link, queue and channel), touched only by
** the owner's worker. The owner unlinks it from the bus under the write
** lock before freeing it, so no sender holds it then. An event already in
** the mailbox carries only the id; routing drops one whose subscription
** has ended since (its owner ended it). A subscription ends with
** sub:close(), with the collection of its channel (nobody can read it any
** more: the Subscription object keeps its channel alive), or with its
** process (teardown).
**
** Nothing is kept for later: an event no subscription matches is gone, as
** the spec says. Queues are not bounded, like mailboxes: events wait for a
** subscriber that reads slowly, none is dropped.
*/
#include <string.h>

#include "alloc.h"
#include "codec.h"
#include "errobj.h"
#include "vm.h"

enum { PAT_ALL, PAT_PREFIX, PAT_EXACT };

struct pat {
  const char *s; /* in the subscription's own block */
  size_t len;    /* without the trailing '*' of a prefix */
  int type;
};

struct wp_evsub {
  /* the bus's part: written under the write lock, read under the read lock */
  struct wp_evsub *bprev, *bnext;
  wp_handle owner;
  uint64_t id;
  struct pat sys, kind;
  /* the owner's part */
  struct wp_evsub *next; /* vp->evsubs */
  struct wp_chan *chan;  /* its channel (alive while this is: chan_gc ends it) */
  struct wp_mqueue q;    /* events routed here, not yet taken */
  char text[];           /* the patterns, NUL-terminated */
};

/* Subscription ids: unique on the node, so an id in a message never names
** a later subscription of the same process. */
static _Atomic uint64_t next_id;

int wp_evbus_init(struct wp_rt *rt) {
  if (rt->evbus.ready) return 0;
  if (pthread_rwlock_init(&rt->evbus.lock, NULL) != 0) return -1;
  rt->evbus.head = NULL;
  rt->evbus.ready = 1;
  return 0;
}

/* ---- patterns ---- */

static void pat_set(struct pat *p, const char *s, size_t len) {
  p->s = s;
  if (len == 0 || (len == 1 && s[0] == '*')) {
    p->type = PAT_ALL;
    p->len = 0;
  } else if (s[len - 1] == '*') {
    p->type = PAT_PREFIX;
    p->len = len - 1;
  } else {
    p->type = PAT_EXACT;
    p->len = len;
  }
}

static int pat_match(const struct pat *p, const char *v, size_t vlen) {
  switch (p->type) {
    case PAT_ALL: return 1;
    case PAT_PREFIX: return vlen >= p->len && memcmp(v, p->s, p->len) == 0;
    default: return vlen == p->len && memcmp(v, p->s, p->len) == 0;
  }
}

/* ---- subscribing and ending ---- */

struct wp_chan *wp_evbus_subscribe(lua_State *L, const char *sys, size_t slen,
                                   const char *kind, size_t klen, const char **err) {
  struct wp_vmproc *vp = wp_vm_self(L);
  struct wp_evbus *bus = &vp->rt->evbus;
  if (!bus->ready) {
    *err = "the event bus is not available";
    return NULL;
  }
  /* the channel first: it may raise, and nothing is ours to free yet */
  struct wp_chan *c = wp_chan_new(L, 0, WP_CHAN_EVSUB);
  struct wp_evsub *s = wp_malloc(sizeof *s + slen + klen + 2);
  if (!s) {
    luaL_error(L, "not enough memory");
    return NULL;
  }
  memset(s, 0, sizeof *s);
  memcpy(s->text, sys, slen);
  s->text[slen] = '\0';
  memcpy(s->text + slen + 1, kind, klen);
  s->text[slen + 1 + klen] = '\0';
  pat_set(&s->sys, s->text, slen);
  pat_set(&s->kind, s->text + slen + 1, klen);
  s->owner = vp->p->handle;
  s->id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed) + 1;
  s->chan = c;
  s->next = vp->evsubs;
  vp->evsubs = s;
  wp_chan_set_evsub(c, s);
  pthread_rwlock_wrlock(&bus->lock);
  s->bnext = bus->head;
  if (bus->head) bus->head->bprev = s;
  bus->head = s;
  pthread_rwlock_unlock(&bus->lock);
  return c;
}

/* Takes s off the bus and its owner's list, unties its channel and frees it
** with the events it still holds. No Lua. */
static void sub_free(struct wp_vmproc *vp, struct wp_evsub *s) {
  struct wp_evbus *bus = &vp->rt->evbus;
  pthread_rwlock_wrlock(&bus->lock);
  if (s->bprev)
    s->bprev->bnext = s->bnext;
  else
    bus->head = s->bnext;
  if (s->bnext) s->bnext->bprev = s->bprev;
  pthread_rwlock_unlock(&bus->lock);
  for (struct wp_evsub **pp = &vp->evsubs; *pp; pp = &(*pp)->next) {
    if (*pp == s) {
      *pp = s->next;
      break;
    }
  }
  if (s->chan) wp_chan_set_evsub(s->chan, NULL);
  wp_mq_free(&s->q);
  wp_free(s);
}

void wp_evbus_close(lua_State *L, struct wp_chan *c) {
  struct wp_evsub *s = wp_chan_get_evsub(c);
  if (s) sub_free(wp_vm_self(L), s);
  wp_chan_close(L, c); /* waiting receivers get nil, false */
}

void wp_evbus_chan_gone(struct wp_vmproc *vp, struct wp_evsub *s) {
  s->chan = NULL;
  sub_free(vp, s);
}

void wp_evbus_free_all(struct wp_vmproc *vp) {
  while (vp->evsubs) sub_free(vp, vp->evsubs);
}

/* ---- sending ---- */

int wp_evbus_publish(lua_State *L, const char *sys, size_t slen, const char *kind,
                     size_t klen, const char *path, size_t plen, int data_idx,
                     const char **ekind, const char **err) {
  struct wp_vmproc *vp = wp_vm_self(L);
  struct wp_evbus *bus = &vp->rt->evbus;
  if (!bus->ready) {
    *ekind = WP_KIND_UNAVAILABLE;
    *err = "the event bus is not available";
    return -1;
  }
  /* kind, path and the data, encoded once for every subscriber (the
  ** strings are pushed for the codec: it reads values off the stack) */
  if (!lua_checkstack(L, 4)) {
    *ekind = WP_KIND_INTERNAL;
    *err = "out of memory";
    return -1;
  }
  int top = lua_gettop(L);
  lua_pushlstring(L, kind, klen);
  lua_pushlstring(L, path, plen);
  if (data_idx) lua_pushvalue(L, data_idx);
  struct wp_buf b = WP_BUF_INIT;
  int rc = wp_codec_encode(L, top + 1, data_idx ? 3 : 2, &b, vp->rt->limits, err);
  lua_settop(L, top);
  if (rc != 0) {
    wp_buf_free(&b);
    *ekind = WP_KIND_INVALID;
    return -1;
  }
  /* Who gets it is decided under the read lock; the deliveries happen
  ** after it, so that dropping a process reference (which may free the
  ** process, and with it its subscriptions, under the write lock) never
  ** happens under it. */
  struct target {
    struct wp_proc *p;
    uint64_t id;
  } inl[16], *v = inl;
  size_t n = 0, cap = sizeof inl / sizeof inl[0], lost = 0;
  struct wp_ptab *pt = wp_sched_ptab(vp->p->sched);
  pthread_rwlock_rdlock(&bus->lock);
  for (struct wp_evsub *s = bus->head; s; s = s->bnext) {
    if (!pat_match(&s->sys, sys, slen) || !pat_match(&s->kind, kind, klen)) continue;
    if (n == cap) {
      struct target *nv = wp_malloc(2 * cap * sizeof *nv);
      if (!nv) {
        lost++;
        continue;
      }
      memcpy(nv, v, n * sizeof *nv);
      if (v != inl) wp_free(v);
      v = nv;
      cap *= 2;
    }
    struct wp_proc *p = wp_ptab_get(pt, s->owner);
    if (!p) continue; /* its owner is ending: its teardown unlinks s */
    v[n].p = p;
    v[n++].id = s->id;
  }
  pthread_rwlock_unlock(&bus->lock);
  struct wp_proc *self = vp->p;
  for (size_t i = 0; i < n; i++) {
    struct wp_msg *m =
        wp_msg_new(WP_MSG_EVENT, self->pid, self->pid_len, sys, slen, b.data, b.len);
    if (m) {
      m->aux = v[i].id;
      wp_proc_deliver(v[i].p, m);
    } else {
      lost++;
    }
    wp_proc_release(v[i].p);
  }
  if (v != inl) wp_free(v);
  wp_buf_free(&b);
  if (lost) /* said, never silent: the subscribers cannot be told */
    wp_logf(WP_LOG_ERROR, "event %s/%s from %s lost for %zu subscriptions: out of memory", sys,
            kind, self->pid, lost);
  return 0;
}

/* ---- receiving ---- */

void wp_evbus_route(struct wp_vmproc *vp, lua_State *L, struct wp_msg *m) {
  struct wp_evsub *s = vp->evsubs;
  while (s && s->id != m->aux) s = s->next;
  if (!s) { /* ended since the event was sent: closed by its owner */
    wp_msg_free(m);
    return;
  }
  wp_mq_push(&s->q, m);
  if (s->chan) wp_chan_source_ready(L, s->chan);
}

int wp_evbus_has(const struct wp_evsub *s) { return s->q.n > 0; }

/* Pushes {system, kind, path, data} for m. m sits in vp->decoding meanwhile:
** a memory error unwinds to the run loop, and the teardown frees it. */
void wp_evbus_take(lua_State *L, struct wp_evsub *s) {
  struct wp_vmproc *vp = wp_vm_self(L);
  struct wp_msg *m = wp_mq_pop(&s->q);
  wp_msg_free(vp->decoding); /* left by an earlier decode that raised */
  vp->decoding = m;
  luaL_checkstack(L, 6, NULL);
  lua_createtable(L, 0, 4);
  int t = lua_gettop(L);
  lua_pushlstring(L, wp_msg_topic(m), m->topic_len);
  lua_setfield(L, t, "system");
  int n = wp_codec_decode(L, wp_msg_payload(m), m->len);
  if (n >= 2) {
    if (n >= 3) lua_setfield(L, t, "data");
    lua_setfield(L, t, "path");
    lua_setfield(L, t, "kind");
  } else if (n > 0) {
    lua_pop(L, n);
  }
  vp->decoding = NULL;
  wp_msg_free(m);
}
