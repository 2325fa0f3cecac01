/*
** remote.c: monitors and links across nodes (see remote.h).
**
** Design note.
**
** Records. A cross-node relation is recorded on this node's side as one
** record of the local process, keyed by its pid counter, naming the
** other process's pid (whose node part names its node):
**
**   WATCHING  the local process monitors the remote one
**   WATCHED   the remote process monitors the local one
**   LINKED    the two are linked (the other node holds the mirror record)
**
** All of them sit in one hash table under one mutex: relations across
** nodes are made far more rarely than messages are sent, and a process
** with none never comes here (p->remote, set by wp_proc_remote_add, is
** all its exit reads). The table lock is taken after a process's lock
** (wp_proc_remote_add runs the insertion under it) and after the
** transport's (the down hook), and nothing is called under it but
** sched/'s delivery: never rt->remote_send.
**
** Requests. monitor and link record first, then send the request; unmonitor
** and unlink drop the record, then send. The other node records its side
** when the target lives (wp_proc_remote_add: a target that dies
** meanwhile has it in its exit, or refuses it) and otherwise answers at
** once with EXIT / LINK_DOWN "pid not registered". A request whose node
** is not a live member is taken back and refused ("node X not
** connected"), unless the node's departure fired it meanwhile: the record
** fired or was refused, never both, never neither.
**
** Notices. An EXIT or LINK_DOWN from another node is delivered only when
** it takes a record away, exactly like a local one (kind, from = the
** remote pid, result; a LINK_DOWN only for an abnormal end, and then
** trap_links decides in the receiving process as for a local link). So
** an unmonitor, an unlink or a departure that came first makes a late
** notice vanish, and no relation is ever notified twice. A process's EXIT
** and LINK_DOWN frames take the same queue as its messages (the
** transport keeps order per pair of nodes), so they never overtake them.
**
** Departure and session loss (wp_remote_node_down) fire every WATCHING
** record of that node as EXIT and every LINKED one as LINK_DOWN, both with
** error "node disconnected" (Unavailable), and drop its WATCHED ones. The
** transport calls it under its own lock together with the change that
** makes sends to that node fail, so a request that went out before is
** fired and one after is refused.
*/
#include "remote.h"

#include <pthread.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "codec.h"
#include "errobj.h"
#include "log.h"
#include "msg.h"
#include "ptab.h"
#include "vm.h"

#define NODE_DOWN "node disconnected"
#define NOT_REGISTERED "pid not registered"
#define TOO_LARGE "result too large for the cluster transport"

enum { WATCHING = 1, WATCHED, LINKED };

struct rel {
  struct rel *next;
  uint64_t local;     /* the local process's pid counter */
  unsigned char kind; /* WATCHING, WATCHED, LINKED */
  size_t plen;
  char pid[];         /* the other process's pid */
};

struct wp_remote {
  pthread_mutex_t lock;
  struct rel **bucket; /* by local counter; nbucket is a power of two */
  size_t nbucket, n;
};

struct wp_remote *wp_remote_new(void) {
  struct wp_remote *r = wp_calloc(1, sizeof *r);
  if (!r) return NULL;
  r->nbucket = 64;
  r->bucket = wp_calloc(r->nbucket, sizeof *r->bucket);
  if (!r->bucket) {
    wp_free(r);
    return NULL;
  }
  pthread_mutex_init(&r->lock, NULL);
  return r;
}

static void free_list(struct rel *l) {
  while (l) {
    struct rel *next = l->next;
    wp_free(l);
    l = next;
  }
}

void wp_remote_free(struct wp_remote *r) {
  if (!r) return;
  for (size_t i = 0; i < r->nbucket; i++) free_list(r->bucket[i]);
  wp_free(r->bucket);
  pthread_mutex_destroy(&r->lock);
  wp_free(r);
}

/* ---- the table (under r->lock) ---- */

static size_t hash(const struct wp_remote *r, uint64_t local) {
  return (size_t)((local * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (r->nbucket - 1);
}

/* The link that points at the record, or NULL. */
static struct rel **find(struct wp_remote *r, uint64_t local, int kind, const char *pid,
                         size_t plen) {
  for (struct rel **pp = &r->bucket[hash(r, local)]; *pp; pp = &(*pp)->next) {
    struct rel *x = *pp;
    if (x->local == local && x->kind == kind && x->plen == plen &&
        memcmp(x->pid, pid, plen) == 0)
      return pp;
  }
  return NULL;
}

/* Doubles the buckets (at one record per bucket); staying smaller when
** memory is short only makes chains longer. */
static void grow(struct wp_remote *r) {
  size_t n = r->nbucket * 2;
  struct rel **b = wp_calloc(n, sizeof *b);
  if (!b) return;
  struct rel **old = r->bucket;
  size_t on = r->nbucket;
  r->bucket = b;
  r->nbucket = n;
  for (size_t i = 0; i < on; i++) {
    while (old[i]) {
      struct rel *x = old[i];
      old[i] = x->next;
      struct rel **s = &b[hash(r, x->local)];
      x->next = *s;
      *s = x;
    }
  }
  wp_free(old);
}

/* Removes the record; whether it was there. */
static int take(struct wp_remote *r, uint64_t local, int kind, const char *pid, size_t plen) {
  pthread_mutex_lock(&r->lock);
  struct rel **pp = find(r, local, kind, pid, plen);
  struct rel *x = pp ? *pp : NULL;
  if (x) {
    *pp = x->next;
    r->n--;
  }
  pthread_mutex_unlock(&r->lock);
  wp_free(x);
  return x != NULL;
}

/* Moves the records that `match` accepts into a list of their own: those
** of local process `local`'s bucket, or (local 0) of every bucket. */
static struct rel *take_all(struct wp_remote *r, uint64_t local,
                            int (*match)(const struct rel *, const void *), const void *arg) {
  struct rel *out = NULL;
  pthread_mutex_lock(&r->lock);
  size_t from = local ? hash(r, local) : 0, to = local ? from + 1 : r->nbucket;
  for (size_t i = from; i < to; i++) {
    for (struct rel **pp = &r->bucket[i]; *pp;) {
      struct rel *x = *pp;
      if (!match(x, arg)) {
        pp = &x->next;
        continue;
      }
      *pp = x->next;
      r->n--;
      x->next = out;
      out = x;
    }
  }
  pthread_mutex_unlock(&r->lock);
  return out;
}

static int of_process(const struct rel *x, const void *arg) {
  return x->local == *(const uint64_t *)arg;
}

struct node_name {
  const char *s; /* NULL: every node */
  size_t len;
};

static int of_node(const struct rel *x, const void *arg) {
  const struct node_name *n = arg;
  if (!n->s) return 1;
  size_t nl;
  const char *node = wp_pid_node(x->pid, x->plen, &nl);
  return node && nl == n->len && memcmp(node, n->s, nl) == 0;
}

/* A record to add under the local process's lock (wp_proc_remote_add). */
struct add {
  struct wp_remote *r;
  uint64_t local;
  int kind;
  const char *pid;
  size_t plen;
};

/* 0, WP_EEXIST when the record is there already, or WP_ENOMEM. */
static int add_locked(void *arg) {
  struct add *a = arg;
  struct wp_remote *r = a->r;
  struct rel *x = wp_malloc(sizeof *x + a->plen);
  if (!x) return WP_ENOMEM;
  x->local = a->local;
  x->kind = (unsigned char)a->kind;
  x->plen = a->plen;
  memcpy(x->pid, a->pid, a->plen);
  pthread_mutex_lock(&r->lock);
  int rc = 0;
  if (find(r, a->local, a->kind, a->pid, a->plen)) {
    rc = WP_EEXIST;
  } else {
    if (r->n >= r->nbucket) grow(r);
    struct rel **s = &r->bucket[hash(r, a->local)];
    x->next = *s;
    *s = x;
    r->n++;
    x = NULL;
  }
  pthread_mutex_unlock(&r->lock);
  wp_free(x);
  return rc;
}

/* ---- frames ---- */

/* Hands a frame from pid `from` to pid `to` of another node to the
** cluster (never waits): a WP_RT_REMOTE_* code. */
static int send_frame(struct wp_rt *rt, uint32_t kind, const char *from, size_t flen,
                      const char *to, size_t tlen, const void *payload, size_t len) {
  size_t nl = 0, size, limit;
  const char *node = wp_pid_node(to, tlen, &nl);
  if (!node) return WP_RT_REMOTE_DOWN;
  return rt->remote_send(rt, kind, node, nl, from, flen, to, tlen, "", 0, payload, len, &size,
                         &limit);
}

/* Sends the EXIT or LINK_DOWN (kind) of `from` to `to` with result res; a
** result that cannot travel in one NATS message goes as an error saying
** so. A node that is gone is fine: its side went with it. */
static void send_end(struct wp_rt *rt, uint32_t kind, int abnormal, const char *from,
                     size_t flen, const char *to, size_t tlen, const void *res, size_t rlen) {
  uint32_t k = kind | (abnormal ? WP_RT_REMOTE_ABNORMAL : 0);
  int rc = send_frame(rt, k, from, flen, to, tlen, res, rlen);
  if (rc == WP_RT_REMOTE_TOO_LARGE) {
    struct wp_buf b = WP_BUF_INIT;
    if (wp_codec_encode_error(&b, WP_KIND_INTERNAL, TOO_LARGE) != 0) b.len = 0;
    rc = send_frame(rt, kind | WP_RT_REMOTE_ABNORMAL, from, flen, to, tlen, b.data, b.len);
    wp_buf_free(&b);
  }
  if (rc == WP_RT_REMOTE_NOMEM || rc == WP_RT_REMOTE_TOO_LARGE)
    wp_logf(WP_LOG_ERROR, "%s of %.*s to %.*s lost: out of memory",
            kind == WP_MSG_EXIT ? "EXIT" : "LINK_DOWN", (int)flen, from, (int)tlen, to);
}

/* Delivers an EXIT or LINK_DOWN (kind) from remote pid `from` to the local
** process `to` (a pid string, or NULL with its counter), if it lives. */
static void deliver(struct wp_rt *rt, uint32_t kind, int abnormal, const char *from,
                    size_t flen, const char *to, size_t tlen, uint64_t counter,
                    const void *res, size_t rlen) {
  struct wp_proc *q;
  if (to) {
    const char *ekind, *err;
    q = wp_rt_resolve(rt, to, tlen, &ekind, &err);
  } else {
    q = wp_ptab_get_counter(wp_sched_ptab(rt->sched), counter);
  }
  if (!q) return;
  /* without memory for the result, the notice still goes (WP_RESULT_LOST) */
  struct wp_msg *m = wp_msg_new_sys(kind, from, flen, "", 0, res, rlen, NULL, 0);
  if (m) {
    m->at = wp_wall_ns() / 1000000000;
    m->flags = abnormal || m->len != rlen ? WP_MSG_F_ABNORMAL : 0;
    wp_proc_deliver(q, m);
  } else {
    wp_logf(WP_LOG_ERROR, "%s of %.*s to %s lost: out of memory",
            kind == WP_MSG_EXIT ? "EXIT" : "LINK_DOWN", (int)flen, from, q->pid);
  }
  wp_proc_release(q);
}

/* ---- the calls ---- */

int wp_remote_relate(struct wp_rt *rt, struct wp_proc *self, uint32_t op, const char *pid,
                     size_t len) {
  struct wp_remote *r = rt->remote;
  int watch = op == WP_RT_REMOTE_MONITOR || op == WP_RT_REMOTE_UNMONITOR;
  int kind = watch ? WATCHING : LINKED;
  if (op == WP_RT_REMOTE_UNMONITOR || op == WP_RT_REMOTE_UNLINK) {
    /* nothing recorded: nothing to undo there either */
    if (take(r, self->counter, kind, pid, len))
      send_frame(rt, op, self->pid, self->pid_len, pid, len, NULL, 0);
    return WP_REMOTE_OK;
  }
  struct add a = {r, self->counter, kind, pid, len};
  int rc = wp_proc_remote_add(self, add_locked, &a);
  if (rc == WP_EEXIST) return watch ? WP_REMOTE_EXISTS : WP_REMOTE_OK; /* links: idempotent */
  if (rc) return WP_REMOTE_NOMEM;
  rc = send_frame(rt, op, self->pid, self->pid_len, pid, len, NULL, 0);
  if (rc == WP_RT_REMOTE_SENT) return WP_REMOTE_OK;
  /* refused: take it back, unless the node's departure fired it meanwhile
  ** (its EXIT or LINK_DOWN is then on its way) */
  if (!take(r, self->counter, kind, pid, len)) return WP_REMOTE_OK;
  return rc == WP_RT_REMOTE_DOWN        ? WP_REMOTE_DOWN
         : rc == WP_RT_REMOTE_TOO_LARGE ? WP_REMOTE_TOO_LARGE
                                        : WP_REMOTE_NOMEM;
}

/* A monitor or link request (op) of remote process `from` on local `dest`:
** recorded, or answered at once. */
static void request(struct wp_rt *rt, uint32_t op, const char *from, size_t flen,
                    const char *dest, size_t dlen) {
  int watch = op == WP_RT_REMOTE_MONITOR;
  const char *ekind, *err;
  struct wp_proc *p = wp_rt_resolve(rt, dest, dlen, &ekind, &err);
  int rc = WP_EDEAD;
  if (p) {
    struct add a = {rt->remote, p->counter, watch ? WATCHED : LINKED, from, flen};
    rc = wp_proc_remote_add(p, add_locked, &a);
    wp_proc_release(p);
  }
  if (rc == 0 || rc == WP_EEXIST) return;
  /* no such process (any more), or no memory to watch it: the watcher
  ** must hear it, or it would wait for ever */
  struct wp_buf b = WP_BUF_INIT;
  const char *msg = rc == WP_EDEAD ? NOT_REGISTERED : "out of memory on the target's node";
  if (wp_codec_encode_error(&b, rc == WP_EDEAD ? WP_KIND_NOT_FOUND : WP_KIND_INTERNAL, msg) !=
      0)
    b.len = 0;
  send_end(rt, watch ? WP_MSG_EXIT : WP_MSG_LINK_DOWN, 1, dest, dlen, from, flen, b.data,
           b.len);
  wp_buf_free(&b);
}

int wp_remote_receive(struct wp_rt *rt, const char *node, size_t nlen, uint32_t kind,
                      int abnormal, const char *from, size_t from_len, const char *dest,
                      size_t dest_len, const void *payload, size_t len) {
  /* records are found by the node part of the remote pid: it must be the
  ** sender's */
  size_t fnl;
  const char *fnode = wp_pid_node(from, from_len, &fnl);
  uint64_t counter = wp_pid_parse(dest, dest_len);
  if (!fnode || fnl != nlen || memcmp(fnode, node, nlen) != 0 || !counter) return -1;
  switch (kind) {
    case WP_MSG_EXIT:
    case WP_MSG_LINK_DOWN:
      if (take(rt->remote, counter, kind == WP_MSG_EXIT ? WATCHING : LINKED, from, from_len) &&
          (kind == WP_MSG_EXIT || abnormal))
        deliver(rt, kind, abnormal, from, from_len, dest, dest_len, 0, payload, len);
      return 0;
    case WP_RT_REMOTE_MONITOR:
    case WP_RT_REMOTE_LINK:
      request(rt, kind, from, from_len, dest, dest_len);
      return 0;
    case WP_RT_REMOTE_UNMONITOR:
    case WP_RT_REMOTE_UNLINK:
      take(rt->remote, counter, kind == WP_RT_REMOTE_UNMONITOR ? WATCHED : LINKED, from,
           from_len);
      return 0;
    default: return -1;
  }
}

void wp_remote_exit(struct wp_rt *rt, struct wp_proc *p, const void *res, size_t rlen,
                    int abnormal) {
  struct rel *l = take_all(rt->remote, p->counter, of_process, &p->counter);
  for (struct rel *x = l; x; x = x->next) {
    switch (x->kind) {
      case WATCHING: /* its watch there ends with it */
        send_frame(rt, WP_RT_REMOTE_UNMONITOR, p->pid, p->pid_len, x->pid, x->plen, NULL, 0);
        break;
      case WATCHED:
        send_end(rt, WP_MSG_EXIT, abnormal, p->pid, p->pid_len, x->pid, x->plen, res, rlen);
        break;
      default: /* a normal end only unlinks: no result to carry */
        send_end(rt, WP_MSG_LINK_DOWN, abnormal, p->pid, p->pid_len, x->pid, x->plen,
                 abnormal ? res : NULL, abnormal ? rlen : 0);
    }
  }
  free_list(l);
}

void wp_remote_node_down(struct wp_rt *rt, const char *node, size_t nlen) {
  struct node_name n = {node, nlen};
  struct rel *l = take_all(rt->remote, 0, of_node, &n);
  if (!l) return;
  struct wp_buf b = WP_BUF_INIT;
  if (wp_codec_encode_error(&b, WP_KIND_UNAVAILABLE, NODE_DOWN) != 0) b.len = 0;
  for (struct rel *x = l; x; x = x->next)
    if (x->kind != WATCHED) /* a watch of theirs on ours is just dropped */
      deliver(rt, x->kind == WATCHING ? WP_MSG_EXIT : WP_MSG_LINK_DOWN, 1, x->pid, x->plen,
              NULL, 0, x->local, b.data, b.len);
  wp_buf_free(&b);
  free_list(l);
}
