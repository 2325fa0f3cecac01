/*
** cnames.c: process names across the cluster (see cnames.h and cluster.h;
** spec 07 §2, issue 13 item 7).
**
** Design note.
**
** The bucket. Names live in the JetStream key-value bucket <prefix>_names
** (history 1), one key per name: the name's bytes, with every byte outside
** [A-Za-z0-9_-] written as =XX, since keys allow few characters. The value
** is a line "v1 SCOPE STATE NODE INCARNATION PID": who holds the name, and
** in which life of its node. STATE is A (active) or P (pending: a STRONG
** name not yet acknowledged by every live node; lookups skip it). An
** empty value is a released name. Names are never deleted: libnats's
** delete takes no revision, and every write here is a compare-and-swap on
** the key's revision (create, or update at the revision read), so of two
** writers exactly one wins. That is the CONSISTENT guarantee, first writer
** wins; EVENTUAL uses the same mechanism.
**
** A held name is free to take when its holder is known dead: a pid of this
** node's current life that no longer lives (the alive hook), a pid of an
** earlier life of any node, a pid of a node the bucket says is not live
** (its entry deleted, marked departed or replaced: never this node's own
** clock, which may be stale), or a pid of a live node that says, asked
** over <prefix>.n.<node>.names, that the process ended. So a relay
** restarted by its service never meets its previous life, and a monitor on
** another node can take a name on its holder's EXIT even before the
** holder's release lands.
**
** The replica. A watch of the bucket (a thread of its own) keeps a hash
** table of the names, under a read-write lock; lookups read it and never
** wait on NATS. Each entry keeps its revision: an older write never
** replaces a newer one, and a released name stays as a tombstone with its
** revision, so a value read before the release cannot come back. This
** node applies its own writes at once, so a process sees its own register
** before the watch does. After a reconnect a new watch is made
** (kvwatch.c): its first view is a full one, and whatever that view did
** not show is dropped.
**
** Requests. A process's register and unregister are queued to a second
** thread, which performs them one after another and answers through the
** hooks (cli/ delivers the answer to the waiting process), so a scheduler
** worker never waits on NATS. A process's exit queues a release of its
** names, after whatever it had queued before. When nothing is queued, the
** thread reaps once a second, while connected: every node releases what
** its own dead processes still hold (a release that failed, a register
** that raced an exit), and the leader (the live member with the smallest
** name) what departed nodes held. Nothing is reaped while the connection
** is down, nor while this node is fenced; a register that finds the node
** fenced after its write frees the name again.
**
** STRONG. The name is written pending, then every other live member is
** asked, over NATS request-reply on <prefix>.n.<node>.names, to confirm
** that its replica has that revision; once all did, the name is made
** active. A member that does not answer before the deadline fails the
** register, and the pending name is released. Should that release be lost
** (its write landed nowhere, or its reply did), the name would stay
** pending under a live holder: the request thread's own sweep, which runs
** only between requests and so never beside a register of this node,
** takes every name still pending under this node's life for such a
** leftover and releases it (revision-guarded: one made active meanwhile
** stays).
*/
#include "cnames.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "cnfmt.h"
#include "clock.h"
#include "kvwatch.h"
#include "log.h"

#define NAME_MAX_BYTES 256   /* a cluster name's limit: its key fits NATS's */
#define SYNC_WAIT_MS 5000    /* the replica's first view, at start */
#define POLL_MS 1000         /* the request thread reaps this often */
#define STOP_WAIT_MS 3000    /* queued requests still performed at stop */
#define STRONG_DEADLINE_MS 10000
#define ACK_WAIT_MS 2000     /* a member waits this long for its replica to catch up */
#define ASK_WAIT_MS 1000     /* for another node to say whether its process lives */
#define MAX_TRIES 8
#define MAX_MEMBERS 256

struct cname {
  struct cname *next; /* hash chain */
  uint64_t rev;       /* the bucket's revision of this value */
  uint64_t inc;       /* the holder's node's incarnation */
  uint32_t gen;       /* the watch that last showed it */
  int scope, pending;
  int released;       /* a tombstone: the name is free as of rev (lookups skip
                         it; it keeps an older value from coming back) */
  char node[WP_CLUSTER_NAME_MAX + 1];
  size_t nlen, plen;
  char *pid;          /* into data, after the name */
  char data[];
};

struct op {
  struct op *next;
  int kind; /* WP_CLUSTER_REGISTER, WP_CLUSTER_UNREGISTER, RELEASE */
  int scope;
  uint64_t t1, t2;
  size_t nlen, plen;
  char data[]; /* name, then pid */
};
enum { RELEASE = 100 };

struct wp_cnames {
  struct wp_nats *nats;
  kvStore *kv;
  struct wp_transport *tr;
  struct wp_cluster_names_hooks hooks;
  char self[WP_CLUSTER_NAME_MAX + 1];
  size_t self_len;
  char prefix[WP_CLUSTER_NAME_MAX + 1];
  _Atomic uint64_t inc; /* this node's incarnation (a new one after fencing) */
  _Atomic int fenced;   /* between wp_cnames_fence and wp_cnames_rejoin */
  /* the replica */
  pthread_rwlock_t rw;
  struct cname **tab;
  size_t cap, n;
  /* the watch (kvwatch.c: its thread applies what it shows, under lock) */
  struct wp_kvwatch kw;
  pthread_mutex_t lock;
  pthread_cond_t cond; /* on CLOCK_MONOTONIC: applied, queue, stop */
  uint64_t last_rev;   /* the highest revision applied */
  int stop;
  /* the request thread's queue (under lock) */
  struct op *head, **tail;
  int busy;
  natsSubscription *acks; /* STRONG confirmations asked of this node */
  /* a test's knob (WIPPY_TEST_NAMES_LOSE_STRONG): a STRONG register's
  ** confirmation fails at once and its release is skipped, as if lost */
  int test_lose_strong;
  pthread_t worker;
  int has_worker;
};

/* ---- the replica ---- */

static size_t hash(const char *s, size_t n) {
  uint64_t h = 1469598103934665603u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211u;
  return (size_t)h;
}

/* The entry of name (under rw), or NULL; *pp: where it is linked. */
static struct cname *find(struct wp_cnames *cn, const char *name, size_t nlen,
                          struct cname ***pp) {
  if (!cn->cap) return NULL;
  struct cname **p = &cn->tab[hash(name, nlen) & (cn->cap - 1)];
  for (; *p; p = &(*p)->next)
    if ((*p)->nlen == nlen && memcmp((*p)->data, name, nlen) == 0) break;
  if (pp) *pp = p;
  return *p;
}

/* Room for one more entry (under rw, written); 0, or -1 out of memory. */
static int grow(struct wp_cnames *cn) {
  if (cn->n < cn->cap) return 0;
  size_t cap = cn->cap ? 2 * cn->cap : 64;
  struct cname **tab = wp_calloc(cap, sizeof *tab);
  if (!tab) return -1;
  for (size_t i = 0; i < cn->cap; i++)
    for (struct cname *e = cn->tab[i], *next; e; e = next) {
      next = e->next;
      struct cname **b = &tab[hash(e->data, e->nlen) & (cap - 1)];
      e->next = *b;
      *b = e;
    }
  wp_free(cn->tab);
  cn->tab = tab;
  cn->cap = cap;
  return 0;
}

/* Applies revision rev of name: value h, or released when h is NULL, kept
** as a tombstone with its revision, so a value read before the release
** can never come back. A revision older than the one the replica holds is
** ignored; the same one only brings gen up to date (a watch that showed
** it). from_watch: the watch delivered it; only those raise last_rev, the
** watermark STRONG confirmations wait for (this node applies its own
** writes, and values it read, ahead of its watch). */
static void apply(struct wp_cnames *cn, const char *name, size_t nlen, uint64_t rev,
                  const struct holder *h, uint32_t gen, int from_watch) {
  pthread_rwlock_wrlock(&cn->rw);
  struct cname **pp = NULL, *e = find(cn, name, nlen, &pp);
  size_t plen = h ? h->plen : 0;
  if (e && e->rev >= rev) {
    if (e->rev == rev && gen > e->gen) e->gen = gen;
  } else {
    if (e && e->plen != plen) { /* the new value needs other room */
      *pp = e->next;
      wp_free(e);
      cn->n--;
      e = NULL;
    }
    if (!e && grow(cn) == 0 && (e = wp_malloc(sizeof *e + nlen + plen))) {
      find(cn, name, nlen, &pp);
      e->next = *pp;
      *pp = e;
      cn->n++;
      memcpy(e->data, name, nlen);
      e->nlen = nlen;
      e->pid = e->data + nlen;
      e->plen = plen;
    }
    if (e) {
      if (h) {
        memcpy(e->pid, h->pid, h->plen);
        memcpy(e->node, h->node, sizeof e->node);
        e->inc = h->inc;
        e->scope = h->scope;
        e->pending = h->pending;
      }
      e->released = !h;
      e->rev = rev;
      e->gen = gen;
    } else {
      wp_logf(WP_LOG_ERROR, "cluster: node %s: out of memory: name %.*s missing from its replica",
              cn->self, (int)nlen, name);
    }
  }
  pthread_rwlock_unlock(&cn->rw);
  if (!from_watch) return;
  pthread_mutex_lock(&cn->lock);
  if (rev > cn->last_rev) cn->last_rev = rev;
  pthread_cond_broadcast(&cn->cond); /* STRONG confirmations wait for this */
  pthread_mutex_unlock(&cn->lock);
}

/* Drops every entry an older watch showed and this one did not. */
static void drop_unseen(struct wp_cnames *cn, uint32_t gen) {
  pthread_rwlock_wrlock(&cn->rw);
  for (size_t i = 0; i < cn->cap; i++)
    for (struct cname **p = &cn->tab[i]; *p;) {
      struct cname *e = *p;
      if (e->gen != gen) {
        *p = e->next;
        wp_free(e);
        cn->n--;
      } else {
        p = &e->next;
      }
    }
  pthread_rwlock_unlock(&cn->rw);
}

static void watch_entry(struct wp_cnames *cn, kvEntry *e, uint32_t gen) {
  const char *key = kvEntry_Key(e);
  size_t kl = strlen(key);
  char *name = wp_malloc(kl + 1);
  if (!name) return;
  long nlen = wp_cnfmt_parse_key(key, name);
  struct holder h;
  int len = kvEntry_ValueLen(e);
  int put = kvEntry_Operation(e) == kvOp_Put && len > 0 &&
            wp_cnfmt_parse_value(kvEntry_Value(e), (size_t)len, &h) == 0;
  if (nlen > 0) apply(cn, name, (size_t)nlen, kvEntry_Revision(e), put ? &h : NULL, gen, 1);
  wp_free(name);
}

static void on_entry(void *ctx, kvEntry *e, uint32_t gen) { watch_entry(ctx, e, gen); }

static void on_view(void *ctx, uint32_t gen, int again) {
  (void)again;
  drop_unseen(ctx, gen);
}

size_t wp_cnames_lookup(struct wp_cnames *cn, const char *name, size_t nlen, char *out,
                        size_t cap, int *scope) {
  size_t n = 0;
  pthread_rwlock_rdlock(&cn->rw);
  struct cname *e = find(cn, name, nlen, NULL);
  if (e && !e->pending && !e->released) {
    n = e->plen;
    if (n <= cap) memcpy(out, e->pid, n);
    if (scope) *scope = e->scope;
  }
  pthread_rwlock_unlock(&cn->rw);
  return n;
}

/* ---- requests ---- */

static int connected(struct wp_cnames *cn) {
  return natsConnection_Status(cn->nats->nc) == NATS_CONN_STATUS_CONNECTED;
}

/* Whether holder h (of another node, whose life is live) is known dead
** there: asks that node (on_confirm answers "no" once the process has
** ended, even before its release ran). No answer: not known dead. */
static int ask_dead(struct wp_cnames *cn, const struct holder *h) {
  char subject[2 * WP_CLUSTER_NAME_MAX + 16], body[600];
  snprintf(subject, sizeof subject, "%s.n.%s.names", cn->prefix, h->node);
  int bl = snprintf(body, sizeof body, "alive %.*s", (int)h->plen, h->pid);
  if (bl <= 0 || (size_t)bl >= sizeof body) return 0;
  natsMsg *reply = NULL;
  natsStatus s = natsConnection_Request(&reply, cn->nats->nc, subject, body, bl, ASK_WAIT_MS);
  int dead = s == NATS_OK && natsMsg_GetDataLength(reply) == 2 &&
             memcmp(natsMsg_GetData(reply), "no", 2) == 0;
  natsMsg_Destroy(reply);
  return dead;
}

/* Whether the holder h is known dead: an earlier life of its node, a node
** the bucket says is not live (deleted, marked departed, another life), a
** process of this node that ended; `ask`: also a process of a live node
** that says it ended (a round trip: only where a name is to be taken). */
static int holder_dead(struct wp_cnames *cn, const struct holder *h, int ask) {
  size_t nl = strlen(h->node);
  if (nl == cn->self_len && memcmp(h->node, cn->self, nl) == 0) {
    if (h->inc != atomic_load(&cn->inc)) return 1; /* an earlier life of this node */
    return !cn->hooks.alive(cn->hooks.ctx, h->pid, h->plen);
  }
  if (wp_transport_live(cn->tr, h->node, nl) != h->inc) return 1;
  return ask && ask_dead(cn, h);
}

static int same_holder(struct wp_cnames *cn, const struct holder *h, const char *pid,
                       size_t plen) {
  return strcmp(h->node, cn->self) == 0 && h->inc == atomic_load(&cn->inc) && h->plen == plen &&
         memcmp(h->pid, pid, plen) == 0;
}

/* The current value of key: 1 with *h filled (pointing into *e, which the
** caller destroys) and *rev; 0 released or absent (*rev 0 when absent);
** -1 NATS failed (why). */
static int read_key(struct wp_cnames *cn, const char *key, kvEntry **e, struct holder *h,
                    uint64_t *rev, char *why, size_t wl) {
  *e = NULL;
  *rev = 0;
  natsStatus s = kvStore_Get(e, cn->kv, key);
  if (s == NATS_NOT_FOUND) return 0;
  if (s != NATS_OK) {
    wp_nats_reason(s, why, wl);
    return -1;
  }
  *rev = kvEntry_Revision(*e);
  int len = kvEntry_ValueLen(*e);
  return len > 0 && wp_cnfmt_parse_value(kvEntry_Value(*e), (size_t)len, h) == 0;
}

/* Writes value v (vl bytes; 0: a release) at key if its revision is still
** rev (0: the key must not exist). The new revision, or 0 when someone
** wrote first or NATS failed (why). */
static uint64_t write_key(struct wp_cnames *cn, const char *key, const char *v, int vl,
                          uint64_t rev, char *why, size_t wl) {
  uint64_t nrev = 0;
  natsStatus s = rev ? kvStore_Update(&nrev, cn->kv, key, v, vl, rev)
                     : kvStore_Create(&nrev, cn->kv, key, v, vl);
  if (s != NATS_OK) {
    wp_nats_reason(s, why, wl);
    return 0;
  }
  return nrev;
}

/* Asks every other live member to confirm that its replica holds rev of
** key; 0 when all did before deadline (monotonic ns). */
static int confirm(struct wp_cnames *cn, const char *key, uint64_t rev, uint64_t deadline,
                   char *why, size_t wl) {
  static char members[MAX_MEMBERS][WP_CLUSTER_NAME_MAX + 1];
  size_t n = wp_transport_members(cn->tr, members, MAX_MEMBERS);
  if (n > MAX_MEMBERS) n = MAX_MEMBERS;
  char body[64];
  int bl = snprintf(body, sizeof body, "%" PRIu64, rev);
  for (size_t i = 0; i < n; i++) {
    if (strcmp(members[i], cn->self) == 0) continue;
    uint64_t now = wp_clock_ns();
    if (now >= deadline) {
      snprintf(why, wl, "node %.*s did not acknowledge it in time", (int)WP_CLUSTER_NAME_MAX,
               members[i]);
      return -1;
    }
    char subject[2 * WP_CLUSTER_NAME_MAX + 16];
    snprintf(subject, sizeof subject, "%.*s.n.%.*s.names", (int)WP_CLUSTER_NAME_MAX, cn->prefix,
             (int)WP_CLUSTER_NAME_MAX, members[i]);
    natsMsg *reply = NULL;
    natsStatus s = natsConnection_Request(&reply, cn->nats->nc, subject, body, bl,
                                          (int64_t)((deadline - now) / 1000000) + 1);
    /* no responders: that node has not subscribed yet, so it has served
    ** no lookup and will load a full view, this name included */
    int ok = s == NATS_NO_RESPONDERS ||
             (s == NATS_OK && natsMsg_GetDataLength(reply) == 2 &&
              memcmp(natsMsg_GetData(reply), "ok", 2) == 0);
    natsMsg_Destroy(reply);
    if (!ok) {
      snprintf(why, wl, "node %.*s did not acknowledge it in time", (int)WP_CLUSTER_NAME_MAX,
               members[i]);
      return -1;
    }
  }
  (void)key;
  return 0;
}

/* Answers a STRONG confirmation: "ok" once the replica holds the asked
** revision (the watch applies revisions in order), "no" after ACK_WAIT_MS. */
static void on_confirm(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg) {
  (void)sub;
  struct wp_cnames *cn = arg;
  char body[32];
  int bl = natsMsg_GetDataLength(msg);
  const char *data = natsMsg_GetData(msg);
  if (bl > 6 && memcmp(data, "alive ", 6) == 0 && natsMsg_GetReply(msg)) {
    /* is one of this node's pids alive (holder_dead on another node) */
    int yes = cn->hooks.alive(cn->hooks.ctx, data + 6, (size_t)bl - 6);
    natsConnection_Publish(nc, natsMsg_GetReply(msg), yes ? "yes" : "no", yes ? 3 : 2);
    natsMsg_Destroy(msg);
    return;
  }
  if (bl <= 0 || (size_t)bl >= sizeof body || !natsMsg_GetReply(msg)) {
    natsMsg_Destroy(msg);
    return;
  }
  memcpy(body, data, (size_t)bl);
  body[bl] = '\0';
  uint64_t rev = strtoull(body, NULL, 10);
  struct timespec ts;
  wp_clock_deadline(CLOCK_MONOTONIC, (int64_t)ACK_WAIT_MS * 1000000, &ts);
  pthread_mutex_lock(&cn->lock);
  while (cn->last_rev < rev && !cn->stop)
    if (pthread_cond_timedwait(&cn->cond, &cn->lock, &ts) == ETIMEDOUT) break;
  int ok = cn->last_rev >= rev;
  pthread_mutex_unlock(&cn->lock);
  natsConnection_Publish(nc, natsMsg_GetReply(msg), ok ? "ok" : "no", 2);
  natsMsg_Destroy(msg);
}

static int do_register(struct wp_cnames *cn, struct op *o, const char *key, char *msg,
                       size_t ml) {
  const char *name = o->data, *pid = o->data + o->nlen;
  char value[512], why[256] = "";
  int strong = o->scope == WP_CLUSTER_STRONG;
  uint64_t inc = atomic_load(&cn->inc);
  int vl = wp_cnfmt_value(value, sizeof value, o->scope, strong, cn->self, inc, pid, o->plen);
  if (vl < 0) {
    snprintf(msg, ml, "pid too long for a cluster name");
    return WP_CLUSTER_NAME_INVALID;
  }
  /* a process that ended since the request was made (its release may have
  ** run before this) must not get the name */
  if (!cn->hooks.alive(cn->hooks.ctx, pid, o->plen)) {
    snprintf(msg, ml, "process not found");
    return WP_CLUSTER_NAME_NOT_FOUND;
  }
  uint64_t deadline = wp_clock_ns() + (uint64_t)STRONG_DEADLINE_MS * 1000000;
  for (int i = 0; i < MAX_TRIES; i++) {
    kvEntry *e;
    struct holder h;
    uint64_t rev;
    int r = read_key(cn, key, &e, &h, &rev, why, sizeof why);
    if (r < 0) {
      snprintf(msg, ml, "cluster unavailable: %s", why);
      return WP_CLUSTER_NAME_UNAVAILABLE;
    }
    if (r == 1 && same_holder(cn, &h, pid, o->plen) && !h.pending) {
      int same = h.scope == o->scope;
      kvEntry_Destroy(e);
      if (same) return WP_CLUSTER_NAME_OK;
      snprintf(msg, ml, "name already registered in another scope");
      return WP_CLUSTER_NAME_EXISTS;
    }
    if (r == 1 && !holder_dead(cn, &h, 1)) {
      /* what NATS just said is news the watch may not have brought yet */
      apply(cn, name, o->nlen, rev, &h, wp_kvwatch_gen(&cn->kw), 0);
      kvEntry_Destroy(e);
      snprintf(msg, ml, "name already registered");
      return WP_CLUSTER_NAME_EXISTS;
    }
    if (r == 1)
      wp_logf(WP_LOG_INFO, "cluster: node %s: name %.*s taken over from %.*s, which is gone",
              cn->self, (int)o->nlen, name, (int)h.plen, h.pid);
    kvEntry_Destroy(e);
    uint64_t nrev = write_key(cn, key, value, vl, rev, why, sizeof why);
    if (!nrev) {
      if (!connected(cn)) {
        snprintf(msg, ml, "cluster unavailable: %s", why);
        return WP_CLUSTER_NAME_UNAVAILABLE;
      }
      continue; /* written meanwhile: look again */
    }
    struct holder mine;
    wp_cnfmt_parse_value(value, (size_t)vl, &mine);
    apply(cn, name, o->nlen, nrev, &mine, wp_kvwatch_gen(&cn->kw), 0);
    if (atomic_load(&cn->fenced) || atomic_load(&cn->inc) != inc) {
      /* fenced while it wrote: the name would belong to a departed life
      ** its holder was never told of; free it again */
      uint64_t frev = write_key(cn, key, "", 0, nrev, why, sizeof why);
      if (frev) apply(cn, name, o->nlen, frev, NULL, wp_kvwatch_gen(&cn->kw), 0);
      snprintf(msg, ml, "cluster unavailable: this node is rejoining the cluster");
      return WP_CLUSTER_NAME_UNAVAILABLE;
    }
    if (!strong) return WP_CLUSTER_NAME_OK;
    /* STRONG: visible once every live member holds it */
    int ok = !cn->test_lose_strong && confirm(cn, key, nrev, deadline, why, sizeof why) == 0;
    if (cn->test_lose_strong) snprintf(why, sizeof why, "confirmation lost (test setting)");
    uint64_t arev = 0;
    if (ok) {
      vl = wp_cnfmt_value(value, sizeof value, o->scope, 0, cn->self, inc, pid, o->plen);
      arev = write_key(cn, key, value, vl, nrev, why, sizeof why);
    }
    if (arev) {
      wp_cnfmt_parse_value(value, (size_t)vl, &mine);
      apply(cn, name, o->nlen, arev, &mine, wp_kvwatch_gen(&cn->kw), 0);
      return WP_CLUSTER_NAME_OK;
    }
    uint64_t frev =
        cn->test_lose_strong ? 0 : write_key(cn, key, "", 0, nrev, value, sizeof value);
    if (frev) apply(cn, name, o->nlen, frev, NULL, wp_kvwatch_gen(&cn->kw), 0);
    snprintf(msg, ml, "%s", why);
    return ok ? WP_CLUSTER_NAME_ERROR : WP_CLUSTER_NAME_TIMEOUT;
  }
  snprintf(msg, ml, "cannot write the name after %d tries: %s", MAX_TRIES, why);
  return WP_CLUSTER_NAME_ERROR;
}

/* Releases key if pid (of this node's life) holds it, in scope (0: any).
** OK, FALSE (not pid's), or UNAVAILABLE. */
static int do_release(struct wp_cnames *cn, const char *name, size_t nlen, const char *key,
                      const char *pid, size_t plen, int scope, char *msg, size_t ml) {
  char why[256] = "";
  for (int i = 0; i < MAX_TRIES; i++) {
    kvEntry *e;
    struct holder h;
    uint64_t rev;
    int r = read_key(cn, key, &e, &h, &rev, why, sizeof why);
    if (r < 0) {
      snprintf(msg, ml, "cluster unavailable: %s", why);
      return WP_CLUSTER_NAME_UNAVAILABLE;
    }
    int mine = r == 1 && same_holder(cn, &h, pid, plen) && (!scope || h.scope == scope);
    kvEntry_Destroy(e);
    if (!mine) return WP_CLUSTER_NAME_FALSE;
    uint64_t nrev = write_key(cn, key, "", 0, rev, why, sizeof why);
    if (nrev) {
      apply(cn, name, nlen, nrev, NULL, wp_kvwatch_gen(&cn->kw), 0);
      return WP_CLUSTER_NAME_OK;
    }
    if (!connected(cn)) {
      snprintf(msg, ml, "cluster unavailable: %s", why);
      return WP_CLUSTER_NAME_UNAVAILABLE;
    }
  }
  snprintf(msg, ml, "cannot release the name after %d tries: %s", MAX_TRIES, why);
  return WP_CLUSTER_NAME_ERROR;
}

/* A name to look at again (collected under the replica's lock, handled
** after it). */
struct victim {
  struct victim *next;
  size_t nlen, plen;
  char data[]; /* name, then (wp_cnames_fence) its holder's pid */
};

/* Whether h is a name left pending under this node's life. Only the
** request thread's sweep asks, between requests: no register of this node
** is under way then, so such a name is one whose release was lost. */
static int stale_pending(struct wp_cnames *cn, const struct holder *h) {
  return h->pending && strcmp(h->node, cn->self) == 0 && h->inc == atomic_load(&cn->inc);
}

/* The names whose holder pid is `pid` (plen > 0), or, with plen 0, whose
** holder is known dead or that were left pending here (stale_pending):
** held by this node's processes only when `own_only`. Returns a list to
** free. */
static struct victim *collect(struct wp_cnames *cn, const char *pid, size_t plen, int own_only) {
  struct victim *list = NULL;
  pthread_rwlock_rdlock(&cn->rw);
  for (size_t i = 0; i < cn->cap; i++)
    for (struct cname *e = cn->tab[i]; e; e = e->next) {
      int take;
      if (e->released || (own_only && strcmp(e->node, cn->self) != 0)) {
        take = 0;
      } else if (plen) {
        take = e->plen == plen && memcmp(e->pid, pid, plen) == 0;
      } else {
        struct holder h = {e->scope, e->pending, "", e->inc, e->pid, e->plen};
        memcpy(h.node, e->node, sizeof h.node);
        take = holder_dead(cn, &h, 0) || stale_pending(cn, &h);
      }
      if (!take) continue;
      struct victim *v = wp_malloc(sizeof *v + e->nlen);
      if (!v) break;
      memcpy(v->data, e->data, e->nlen);
      v->nlen = e->nlen;
      v->next = list;
      list = v;
    }
  pthread_rwlock_unlock(&cn->rw);
  return list;
}

/* Releases key when its holder is still a dead one, or the name is still
** left pending here (revision-guarded). */
static void reap_one(struct wp_cnames *cn, const char *name, size_t nlen, const char *key) {
  char why[256];
  kvEntry *e;
  struct holder h;
  uint64_t rev;
  if (read_key(cn, key, &e, &h, &rev, why, sizeof why) != 1) {
    kvEntry_Destroy(e);
    return;
  }
  int dead = holder_dead(cn, &h, 0), stale = !dead && stale_pending(cn, &h);
  char holder[WP_CLUSTER_NAME_MAX + 1];
  memcpy(holder, h.node, sizeof holder);
  kvEntry_Destroy(e);
  if (!dead && !stale) return;
  uint64_t nrev = write_key(cn, key, "", 0, rev, why, sizeof why);
  if (!nrev) return;
  apply(cn, name, nlen, nrev, NULL, wp_kvwatch_gen(&cn->kw), 0);
  if (stale)
    wp_logf(WP_LOG_INFO,
            "cluster: node %s released name %.*s, left pending by a STRONG register that "
            "failed", cn->self, (int)nlen, name);
  else
    wp_logf(WP_LOG_INFO, "cluster: node %s released name %.*s of %s, which is gone", cn->self,
            (int)nlen, name, holder);
}

/* Releases what pid held (plen > 0), or what dead holders hold: this
** node's (own_only), or, as the leader, every node's. */
static void sweep(struct wp_cnames *cn, const char *pid, size_t plen, int own_only) {
  struct victim *list = collect(cn, pid, plen, own_only);
  while (list) {
    struct victim *v = list;
    list = v->next;
    char *key = wp_malloc(3 * v->nlen + 1);
    if (key) {
      wp_cnfmt_key(v->data, v->nlen, key);
      if (plen) {
        char msg[300];
        if (do_release(cn, v->data, v->nlen, key, pid, plen, 0, msg, sizeof msg) > WP_CLUSTER_NAME_FALSE)
          wp_logf(WP_LOG_WARN,
                  "cluster: node %s could not release name %.*s of %.*s: %s; the leader "
                  "releases it later",
                  cn->self, (int)v->nlen, v->data, (int)plen, pid, msg);
      } else {
        reap_one(cn, v->data, v->nlen, key);
      }
      wp_free(key);
    }
    wp_free(v);
  }
}

void wp_cnames_fence(struct wp_cnames *cn) {
  atomic_store(&cn->fenced, 1);
  /* every name this node's processes hold, whatever life wrote it: the
  ** cluster has released them or will (they belong to a departed life) */
  struct victim *list = NULL;
  pthread_rwlock_rdlock(&cn->rw);
  for (size_t i = 0; i < cn->cap; i++)
    for (struct cname *e = cn->tab[i]; e; e = e->next) {
      if (e->released || strcmp(e->node, cn->self) != 0) continue;
      struct victim *v = wp_malloc(sizeof *v + e->nlen + e->plen);
      if (!v) break;
      memcpy(v->data, e->data, e->nlen);
      memcpy(v->data + e->nlen, e->pid, e->plen);
      v->nlen = e->nlen;
      v->plen = e->plen;
      v->next = list;
      list = v;
    }
  pthread_rwlock_unlock(&cn->rw);
  while (list) {
    struct victim *v = list;
    list = v->next;
    if (cn->hooks.revoke)
      cn->hooks.revoke(cn->hooks.ctx, v->data + v->nlen, v->plen, v->data, v->nlen);
    wp_free(v);
  }
}

void wp_cnames_rejoin(struct wp_cnames *cn, uint64_t inc) {
  atomic_store(&cn->inc, inc);
  atomic_store(&cn->fenced, 0);
}

size_t wp_cnames_leader(struct wp_cnames *cn, char *out, size_t cap) {
  static char members[MAX_MEMBERS][WP_CLUSTER_NAME_MAX + 1];
  static pthread_mutex_t mlock = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&mlock);
  size_t n = wp_transport_members(cn->tr, members, MAX_MEMBERS);
  if (n > MAX_MEMBERS) n = MAX_MEMBERS;
  const char *best = NULL;
  for (size_t i = 0; i < n; i++)
    if (!best || strcmp(members[i], best) < 0) best = members[i];
  size_t len = best ? strlen(best) : 0;
  if (len && len < cap) memcpy(out, best, len + 1);
  pthread_mutex_unlock(&mlock);
  return len < cap ? len : 0;
}

static void perform(struct wp_cnames *cn, struct op *o) {
  const char *name = o->data, *pid = o->data + o->nlen;
  if (o->kind == RELEASE) {
    sweep(cn, pid, o->plen, 0);
    return;
  }
  char msg[300] = "", *key = wp_malloc(3 * o->nlen + 1);
  int st;
  if (!key) {
    snprintf(msg, sizeof msg, "out of memory");
    st = WP_CLUSTER_NAME_ERROR;
  } else if (!connected(cn)) {
    snprintf(msg, sizeof msg, "cluster unavailable: no connection to NATS");
    st = WP_CLUSTER_NAME_UNAVAILABLE;
  } else if (atomic_load(&cn->fenced)) {
    snprintf(msg, sizeof msg, "cluster unavailable: this node is rejoining the cluster");
    st = WP_CLUSTER_NAME_UNAVAILABLE;
  } else {
    wp_cnfmt_key(name, o->nlen, key);
    st = o->kind == WP_CLUSTER_REGISTER
             ? do_register(cn, o, key, msg, sizeof msg)
             : do_release(cn, name, o->nlen, key, pid, o->plen, o->scope, msg, sizeof msg);
  }
  wp_free(key);
  cn->hooks.answer(cn->hooks.ctx, o->t1, o->t2, st, msg);
}

static void *worker_main(void *arg) {
  struct wp_cnames *cn = arg;
  pthread_setname_np(pthread_self(), "wp-names");
  uint64_t next_reap = wp_clock_ns() + (uint64_t)POLL_MS * 1000000;
  pthread_mutex_lock(&cn->lock);
  for (;;) {
    if (!cn->head) {
      if (cn->stop) break;
      uint64_t now = wp_clock_ns();
      if (now >= next_reap) {
        next_reap = now + (uint64_t)POLL_MS * 1000000;
        pthread_mutex_unlock(&cn->lock);
        /* every node releases what its own dead processes still hold (a
        ** release that failed, a register that raced an exit); only the
        ** leader those of departed nodes */
        char leader[WP_CLUSTER_NAME_MAX + 1];
        if (connected(cn) && !atomic_load(&cn->fenced)) {
          int lead = wp_cnames_leader(cn, leader, sizeof leader) && strcmp(leader, cn->self) == 0;
          sweep(cn, NULL, 0, !lead);
        }
        pthread_mutex_lock(&cn->lock);
        continue;
      }
      struct timespec ts;
      wp_clock_deadline(CLOCK_MONOTONIC, (int64_t)(next_reap - now), &ts);
      pthread_cond_timedwait(&cn->cond, &cn->lock, &ts);
      continue;
    }
    struct op *o = cn->head;
    cn->head = o->next;
    if (!cn->head) cn->tail = &cn->head;
    int stopping = cn->stop;
    pthread_mutex_unlock(&cn->lock);
    if (!stopping) {
      perform(cn, o);
    } else if (o->kind != RELEASE) { /* past wp_cnames_stop's wait: no more NATS */
      cn->hooks.answer(cn->hooks.ctx, o->t1, o->t2, WP_CLUSTER_NAME_UNAVAILABLE,
                       "cluster unavailable: the node is stopping");
    } else {
      wp_logf(WP_LOG_WARN,
              "cluster: node %s stopped before releasing the names of %.*s; the next register "
              "of them takes them over",
              cn->self, (int)o->plen, o->data + o->nlen);
    }
    wp_free(o);
    pthread_mutex_lock(&cn->lock);
    if (!cn->head) pthread_cond_broadcast(&cn->cond); /* wp_cnames_stop waits for this */
  }
  pthread_mutex_unlock(&cn->lock);
  return NULL;
}

static int queue(struct wp_cnames *cn, int kind, int scope, const char *name, size_t nlen,
                 const char *pid, size_t plen, uint64_t t1, uint64_t t2) {
  struct op *o = wp_malloc(sizeof *o + nlen + plen);
  if (!o) return -1;
  o->next = NULL;
  o->kind = kind;
  o->scope = scope;
  o->t1 = t1;
  o->t2 = t2;
  o->nlen = nlen;
  o->plen = plen;
  if (nlen) memcpy(o->data, name, nlen);
  memcpy(o->data + nlen, pid, plen);
  pthread_mutex_lock(&cn->lock);
  *cn->tail = o;
  cn->tail = &o->next;
  pthread_cond_broadcast(&cn->cond);
  pthread_mutex_unlock(&cn->lock);
  return 0;
}

int wp_cnames_request(struct wp_cnames *cn, int op, int scope, const char *name, size_t nlen,
                      const char *pid, size_t plen, uint64_t t1, uint64_t t2) {
  if (nlen == 0 || nlen > NAME_MAX_BYTES) {
    cn->hooks.answer(cn->hooks.ctx, t1, t2, WP_CLUSTER_NAME_INVALID,
                     nlen ? "name too long for a cluster scope (at most 256 bytes)"
                          : "a cluster name cannot be empty");
    return 0;
  }
  return queue(cn, op, scope, name, nlen, pid, plen, t1, t2);
}

void wp_cnames_release(struct wp_cnames *cn, const char *pid, size_t plen) {
  if (queue(cn, RELEASE, 0, NULL, 0, pid, plen, 0, 0) != 0)
    wp_logf(WP_LOG_WARN,
            "cluster: node %s: out of memory releasing the names of %.*s; the leader releases "
            "them later",
            cn->self, (int)plen, pid);
}

/* ---- start and stop ---- */

static void cnames_free(struct wp_cnames *cn) {
  for (size_t i = 0; i < cn->cap; i++)
    for (struct cname *e = cn->tab[i], *next; e; e = next) {
      next = e->next;
      wp_free(e);
    }
  wp_free(cn->tab);
  for (struct op *o = cn->head, *next; o; o = next) {
    next = o->next;
    wp_free(o);
  }
  pthread_rwlock_destroy(&cn->rw);
  pthread_cond_destroy(&cn->cond);
  pthread_mutex_destroy(&cn->lock);
  wp_free(cn);
}

struct wp_cnames *wp_cnames_start(struct wp_nats *n, kvStore *kv, struct wp_transport *t,
                                  const char *prefix, const char *self, uint64_t inc,
                                  const struct wp_cluster_names_hooks *h, char *err,
                                  size_t errlen) {
  struct wp_cnames *cn = wp_calloc(1, sizeof *cn);
  if (!cn) {
    snprintf(err, errlen, "cannot start the cluster names: out of memory");
    return NULL;
  }
  cn->nats = n;
  cn->kv = kv;
  cn->tr = t;
  cn->hooks = *h;
  snprintf(cn->self, sizeof cn->self, "%s", self);
  cn->self_len = strlen(cn->self);
  snprintf(cn->prefix, sizeof cn->prefix, "%s", prefix);
  cn->inc = inc;
  cn->tail = &cn->head;
  const char *lose = getenv("WIPPY_TEST_NAMES_LOSE_STRONG");
  if (lose && *lose && strcmp(lose, "0") != 0) {
    cn->test_lose_strong = 1;
    wp_logf(WP_LOG_WARN, "cluster: test setting WIPPY_TEST_NAMES_LOSE_STRONG in effect");
  }
  pthread_rwlock_init(&cn->rw, NULL);
  pthread_mutex_init(&cn->lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&cn->cond, &ca);
  pthread_condattr_destroy(&ca);
  static const struct wp_kvwatch_ops ops = {on_entry, on_view, NULL};
  char subject[2 * WP_CLUSTER_NAME_MAX + 16], why[256];
  snprintf(subject, sizeof subject, "%s.n.%s.names", prefix, self);
  natsStatus s = NATS_OK;
  if (wp_kvwatch_start(&cn->kw, n, kv, &ops, cn, SYNC_WAIT_MS, "names", err, errlen)) {
    /* err says why */
  } else if ((s = natsConnection_Subscribe(&cn->acks, n->nc, subject, on_confirm, cn)) !=
             NATS_OK) {
    snprintf(err, errlen, "cannot subscribe to %s on NATS at %s: %s", subject, n->urls,
             wp_nats_reason(s, why, sizeof why));
  } else if (pthread_create(&cn->worker, NULL, worker_main, cn) != 0) {
    snprintf(err, errlen, "cannot start the cluster names thread: %s", strerror(errno));
  } else {
    cn->has_worker = 1;
    return cn;
  }
  wp_cnames_stop(cn);
  return NULL;
}

void wp_cnames_stop(struct wp_cnames *cn) {
  if (!cn) return;
  /* what processes queued before they ended (their releases) still runs,
  ** for a bounded time */
  struct timespec ts;
  wp_clock_deadline(CLOCK_MONOTONIC, (int64_t)STOP_WAIT_MS * 1000000, &ts);
  pthread_mutex_lock(&cn->lock);
  while (cn->head && cn->has_worker)
    if (pthread_cond_timedwait(&cn->cond, &cn->lock, &ts) == ETIMEDOUT) break;
  cn->stop = 1; /* the request thread, and whoever waits for the watch */
  pthread_cond_broadcast(&cn->cond);
  pthread_mutex_unlock(&cn->lock);
  if (cn->acks) { /* drained: no on_confirm runs on cn after this */
    if (natsSubscription_Drain(cn->acks) == NATS_OK)
      natsSubscription_WaitForDrainCompletion(cn->acks, STOP_WAIT_MS);
    else
      natsSubscription_Unsubscribe(cn->acks);
    natsSubscription_Destroy(cn->acks);
  }
  if (cn->has_worker) pthread_join(cn->worker, NULL);
  wp_kvwatch_stop(&cn->kw);
  cnames_free(cn);
}
