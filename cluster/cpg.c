/*
** cpg.c: process groups across the cluster (see cpg.h and cluster.h;
** spec 07 §7, issue 13 item 8).
**
** Design note.
**
** The bucket. Memberships live in the JetStream key-value bucket
** <prefix>_pg (history 1), one key per scope, group and node:
** SCOPE.GROUP.NODE, scope id and group name with every byte outside
** [A-Za-z0-9_-] written as =XX. The value is "v1 INC\n" (the writing
** node's incarnation) followed by that node's members of the group, each
** pid NUL-terminated, sorted. So each node writes only its own keys, and
** joins batch by themselves: the runtime (vm/pgroup.c) keeps its local
** members as the truth and marks a group changed; the writer thread takes
** every changed group when it wakes and writes each once with its members
** of that moment, however many joins and leaves came meanwhile. A group a
** node no longer has members in is deleted. A round that wrote much (a
** join storm on a large group) is followed by a short pause, so a large
** value is rewritten at most a few times a second.
**
** The replica. A watch of the bucket (a thread of its own) keeps a table of
** the entries: for another node's, the members the watch last showed, and
** whether they are shown, i.e. handed to the runtime (hooks.apply), which
** turns every difference into member.joined / member.left events. An
** entry is shown while it has members and its node is a live member of the
** cluster in the incarnation that wrote it (the transport's view); the
** thread looks again every TICK_MS, so a node that departs (kill -9: no
** renewal for down_after) loses its members here within a tick, before
** any reaper wrote anything, and a new node's members appear once the
** transport has seen it join. Members are only ever hidden while this
** node's own connection has been up for down_after (a node cut off from
** NATS sees every other node fall silent: that is a session loss, and
** groups stay as they were, issue 13 item 5). After a reconnect a new
** watch is made (kvwatch.c): its first view is a full one, whatever it
** did not show is gone, and every local group is written again.
**
** This node's own keys are not shown (the runtime has the truth); each
** remembers the revision and a hash of this node's last write (noted
** before the write goes out). A later revision with another value is
** someone else's (the leader emptied it while this node was taken for
** gone, or a previous life of this node wrote it): the group is handed out
** again, and the writer rewrites it, or deletes it when this life has no
** members there.
**
** Reaping. Every REAP_MS the leader (wp_cluster_leader: the live member
** with the smallest name, the one that reaps names too), while connected
** for down_after, empties every entry with members whose writer is not
** live in that incarnation, by a compare-and-swap on the revision it saw
** (a node that rewrote meanwhile wins). Nothing is reaped while the
** connection is down.
**
** Threads and locks. `lock` guards the entry table; the watch thread holds
** it while it hands changes to the runtime and asks the transport who is
** live (lock order: this lock before the runtime's table, the transport's
** lock and `wlock`; the runtime never calls in here under its own lock,
** the transport never at all). The writer sleeps on `wlock`/`wcond`, which
** a runtime change takes only to set a flag and signal: a scheduler worker
** never waits on NATS or on the watch.
*/
#include "cpg.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "kvwatch.h"
#include "log.h"

#define SYNC_WAIT_MS 5000  /* the replica's first view, at start */
#define TICK_MS 200        /* the watch thread looks at who is live this often */
#define REAP_MS 500        /* the leader looks for departed writers this often */
#define RETRY_MS 1000      /* a failed write is tried again after this */
#define STOP_WAIT_MS 3000  /* the last writes, at stop */
#define PACE_BYTES (256 * 1024)
#define PACE_MS 100
#define VALUE_SLACK 1024   /* of max_payload: the value's header, JetStream's headers */
#define NAME_MAX_BYTES 256 /* scope ids and group names (vm/pgroup.h) */

/* An entry of the bucket, as the watch showed it (and, for this node's
** keys, as this node last wrote it). Only the watch thread frees one. */
struct entry {
  struct entry *next; /* hash chain */
  uint64_t rev;       /* revision the watch last showed (0: none yet) */
  uint64_t inc;       /* its writer's incarnation; 0: no members */
  uint32_t gen;       /* the watch that last showed it */
  int self;           /* a key of this node's name */
  int has;            /* the value names members */
  int shown;          /* another node's: its pids are in the runtime (watch thread) */
  uint64_t wrev;      /* self: revision of this node's last write (0: none known) */
  uint64_t whash;     /* self: hash of that value; */
  int wdel;           /* self: ... or the last write deleted it */
  char *pids;         /* another node's: its members (wp_malloc'd), plen bytes */
  size_t plen;
  char node[WP_CLUSTER_NAME_MAX + 1];
  size_t nlen, klen, slen, glen;
  char *scope, *group; /* into data */
  char data[];         /* key NUL, scope, group */
};

struct wp_cpg {
  struct wp_cluster *c;
  struct wp_nats *nats;
  struct wp_transport *tr;
  kvStore *kv;
  struct wp_cluster_pg_hooks hooks;
  char self[WP_CLUSTER_NAME_MAX + 1];
  char bucket[2 * WP_CLUSTER_NAME_MAX];
  int64_t down_after_ns;
  size_t limit;
  /* the table (under lock) */
  pthread_mutex_t lock;
  struct entry **tab;
  size_t cap, n;
  /* the watch (kvwatch.c) and what its thread keeps */
  struct wp_kvwatch kw;
  uint64_t inc_seen, tick_reconnects, conn_since, next_tick;
  _Atomic int settled; /* connected for down_after: members may be hidden, reaped */
  /* the writer (under wlock) */
  pthread_mutex_t wlock;
  pthread_cond_t wcond;
  int woken, wstop;
  pthread_t writer;
  int has_writer;
};

/* ---- keys and values ---- */

static int plain(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '_' || ch == '-';
}

/* Appends s (len bytes) to b, escaped for a key. */
static int put_escaped(struct wp_buf *b, const char *s, size_t len) {
  static const char hex[] = "0123456789ABCDEF";
  if (wp_buf_reserve(b, 3 * len)) return -1;
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (plain(ch)) {
      b->data[b->len++] = ch;
    } else {
      b->data[b->len++] = '=';
      b->data[b->len++] = (uint8_t)hex[ch >> 4];
      b->data[b->len++] = (uint8_t)hex[ch & 15];
    }
  }
  return 0;
}

/* The key of (scope, group) of node `node`, NUL-terminated, into b. */
static int make_key(struct wp_buf *b, const struct wp_buf *scope, const struct wp_buf *group,
                    const char *node) {
  b->len = 0;
  return put_escaped(b, (const char *)scope->data, scope->len) || wp_buf_append(b, ".", 1) ||
                 put_escaped(b, (const char *)group->data, group->len) ||
                 wp_buf_append(b, ".", 1) || wp_buf_append(b, node, strlen(node) + 1)
             ? -1
             : 0;
}

static int unhex(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Unescapes the token k[0..n) into out; its length, or -1 when it is not
** one of ours. */
static long unescape(const char *k, size_t n, char *out) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (k[i] != '=') {
      if (!plain((unsigned char)k[i])) return -1;
      out[o++] = k[i];
      continue;
    }
    int a = i + 2 < n ? unhex(k[i + 1]) : -1, b = a < 0 ? -1 : unhex(k[i + 2]);
    if (b < 0) return -1;
    out[o++] = (char)(a << 4 | b);
    i += 2;
  }
  return o >= 1 && o <= NAME_MAX_BYTES ? (long)o : -1;
}

static uint64_t fnv(const void *p, size_t n) {
  const unsigned char *s = p;
  uint64_t h = 1469598103934665603u;
  for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211u;
  return h;
}

/* Parses a value: "v1 INC\n" then NUL-terminated pids. 0 with *inc, *pids,
** *plen; -1 when it is none of ours (or an empty value: emptied). */
static int parse_value(const char *v, size_t len, uint64_t *inc, const char **pids,
                       size_t *plen) {
  if (len < 5 || memcmp(v, "v1 ", 3) != 0) return -1;
  uint64_t x = 0;
  size_t i = 3;
  for (; i < len && v[i] >= '0' && v[i] <= '9' && i < 23; i++) x = x * 10 + (uint64_t)(v[i] - '0');
  if (i == 3 || i >= len || v[i] != '\n' || !x) return -1;
  i++;
  if (i < len && v[len - 1] != '\0') return -1;
  *inc = x;
  *pids = v + i;
  *plen = len - i;
  return 0;
}

/* ---- the table (under lock) ---- */

static struct entry *find(struct wp_cpg *g, const char *key, size_t klen) {
  if (!g->cap) return NULL;
  for (struct entry *e = g->tab[fnv(key, klen) & (g->cap - 1)]; e; e = e->next)
    if (e->klen == klen && memcmp(e->data, key, klen) == 0) return e;
  return NULL;
}

/* The entry of key, made when missing; NULL when key is none of ours, or
** (*oom set) memory is out. */
static struct entry *get(struct wp_cpg *g, const char *key, int *oom) {
  size_t klen = strlen(key);
  *oom = 0;
  struct entry *e = find(g, key, klen);
  if (e) return e;
  const char *d1 = memchr(key, '.', klen), *d2 = d1 ? memchr(d1 + 1, '.', klen - (size_t)(d1 + 1 - key)) : NULL;
  if (!d2) return NULL;
  const char *node = d2 + 1;
  size_t nlen = klen - (size_t)(node - key);
  if (nlen == 0 || nlen > WP_CLUSTER_NAME_MAX || memchr(node, '.', nlen)) return NULL;
  for (size_t i = 0; i < nlen; i++)
    if (!plain((unsigned char)node[i])) return NULL;
  e = wp_calloc(1, sizeof *e + 2 * klen + 1);
  *oom = !e;
  if (!e) return NULL;
  memcpy(e->data, key, klen + 1);
  e->klen = klen;
  e->scope = e->data + klen + 1;
  long sl = unescape(key, (size_t)(d1 - key), e->scope);
  e->group = sl > 0 ? e->scope + sl : NULL;
  long gl = sl > 0 ? unescape(d1 + 1, (size_t)(d2 - d1 - 1), e->group) : -1;
  if (gl < 0) {
    wp_free(e);
    return NULL;
  }
  e->slen = (size_t)sl;
  e->glen = (size_t)gl;
  memcpy(e->node, node, nlen);
  e->node[nlen] = '\0';
  e->nlen = nlen;
  e->self = strcmp(e->node, g->self) == 0;
  if (g->n >= g->cap) {
    size_t cap = g->cap ? 2 * g->cap : 64;
    struct entry **tab = wp_calloc(cap, sizeof *tab);
    if (!tab) {
      wp_free(e);
      *oom = 1;
      return NULL;
    }
    for (size_t i = 0; i < g->cap; i++)
      for (struct entry *x = g->tab[i], *next; x; x = next) {
        next = x->next;
        struct entry **b = &tab[fnv(x->data, x->klen) & (cap - 1)];
        x->next = *b;
        *b = x;
      }
    wp_free(g->tab);
    g->tab = tab;
    g->cap = cap;
  }
  struct entry **b = &g->tab[fnv(key, klen) & (g->cap - 1)];
  e->next = *b;
  *b = e;
  g->n++;
  return e;
}

static void drop(struct wp_cpg *g, struct entry *e) {
  for (struct entry **pp = &g->tab[fnv(e->data, e->klen) & (g->cap - 1)]; *pp;
       pp = &(*pp)->next)
    if (*pp == e) {
      *pp = e->next;
      break;
    }
  g->n--;
  wp_free(e->pids);
  wp_free(e);
}

/* ---- the replica (watch thread, under lock) ---- */

static void wake_writer(struct wp_cpg *g) {
  pthread_mutex_lock(&g->wlock);
  g->woken = 1;
  pthread_cond_signal(&g->wcond);
  pthread_mutex_unlock(&g->wlock);
}

/* Hands another node's entry e to the runtime as it should now be seen:
** shown while it has members and its writer is live (or, until this node
** has settled, while it was shown already); `changed`: the watch brought a
** new value. */
static void reconcile(struct wp_cpg *g, struct entry *e, int changed) {
  int live = e->has && wp_transport_live(g->tr, e->node, e->nlen) == e->inc;
  int visible = e->has && (live || (e->shown && !atomic_load(&g->settled)));
  if (visible && (changed || !e->shown)) {
    g->hooks.apply(g->hooks.ctx, e->scope, e->slen, e->group, e->glen, e->node, e->nlen,
                   e->pids, e->plen);
    e->shown = 1;
  } else if (!visible && e->shown) {
    g->hooks.apply(g->hooks.ctx, e->scope, e->slen, e->group, e->glen, e->node, e->nlen, "", 0);
    e->shown = 0;
  }
}

static void on_entry(struct wp_cpg *g, kvEntry *ke, uint32_t gen) {
  uint64_t rev = kvEntry_Revision(ke), inc = 0;
  const char *v = kvEntry_Value(ke), *pids = NULL;
  int len = kvEntry_ValueLen(ke);
  size_t plen = 0;
  int has = kvEntry_Operation(ke) == kvOp_Put && len > 0 &&
            parse_value(v, (size_t)len, &inc, &pids, &plen) == 0;
  if (!has) inc = 0;
  pthread_mutex_lock(&g->lock);
  int oom;
  struct entry *e = get(g, kvEntry_Key(ke), &oom);
  if (!e || rev < e->rev) {
    pthread_mutex_unlock(&g->lock);
    if (oom)
      wp_logf(WP_LOG_ERROR, "cluster: node %s: out of memory: pg entry %s not in the replica",
              g->self, kvEntry_Key(ke));
    return; /* none of ours, or older than what we have */
  }
  has = has && plen > 0;
  char *copy = NULL;
  if (!e->self && has && !(copy = wp_malloc(plen))) {
    /* the entry stays as it was: the next watch (a reconnect) tries again */
    wp_logf(WP_LOG_ERROR, "cluster: node %s: out of memory: group %.*s of node %s not updated",
            g->self, (int)e->glen, e->group, e->node);
    pthread_mutex_unlock(&g->lock);
    return;
  }
  e->gen = gen;
  e->rev = rev;
  e->inc = inc;
  e->has = has;
  if (e->self) {
    /* whash and wdel are set before the write goes out: the watch may show
    ** it before the writer hears its revision */
    if (rev > e->wrev) {
      int ours = e->wdel ? !e->has : e->has && fnv(v, (size_t)len) == e->whash;
      if (ours) {
        e->wrev = rev;
      } else if (e->has || e->wrev) {
        /* someone else's value under this node's name: rewrite it */
        g->hooks.redirty(g->hooks.ctx, e->scope, e->slen, e->group, e->glen);
        wake_writer(g);
      }
    }
    pthread_mutex_unlock(&g->lock);
    return;
  }
  if (copy) memcpy(copy, pids, plen);
  wp_free(e->pids);
  e->pids = copy;
  e->plen = e->has ? plen : 0;
  reconcile(g, e, 1);
  if (!e->has && !e->shown) drop(g, e);
  pthread_mutex_unlock(&g->lock);
}

/* A new watch's full view is complete: what it did not show is gone. */
static void drop_unseen(struct wp_cpg *g, uint32_t gen) {
  pthread_mutex_lock(&g->lock);
  for (size_t i = 0; i < g->cap; i++)
    for (struct entry *e = g->tab[i], *next; e; e = next) {
      next = e->next;
      if (e->gen == gen || e->self) continue;
      e->has = 0;
      e->rev = 0;
      reconcile(g, e, 1);
      drop(g, e);
    }
  pthread_mutex_unlock(&g->lock);
}

/* Whether this node has been connected for down_after (settled), as of
** now: before anything the watch thread looks at, so that a watch made
** after a reconnect never hides members on the stale view of a transport
** that has not heard the other nodes' renewals yet. */
static void watch_conn(struct wp_cpg *g) {
  uint64_t now = wp_clock_ns(), r = atomic_load(&g->nats->reconnects);
  int conn = natsConnection_Status(g->nats->nc) == NATS_CONN_STATUS_CONNECTED;
  if (!conn)
    g->conn_since = 0;
  else if (!g->conn_since || r != g->tick_reconnects)
    g->conn_since = now;
  g->tick_reconnects = r;
  atomic_store(&g->settled, conn && now - g->conn_since >= (uint64_t)g->down_after_ns);
}

/* Every TICK_MS: this node's incarnation, and who is live. */
static void tick(struct wp_cpg *g) {
  uint64_t inc = wp_cluster_incarnation(g->c);
  if (inc != g->inc_seen) { /* a new life of this node: its members under it */
    g->inc_seen = inc;
    g->hooks.dirty_all(g->hooks.ctx);
    wake_writer(g);
  }
  pthread_mutex_lock(&g->lock);
  for (size_t i = 0; i < g->cap; i++)
    for (struct entry *e = g->tab[i]; e; e = e->next)
      if (!e->self && (e->has || e->shown)) reconcile(g, e, 0);
  pthread_mutex_unlock(&g->lock);
}

/* The watch's hooks (kvwatch.c), on its thread. */
static void kw_entry(void *ctx, kvEntry *e, uint32_t gen) { on_entry(ctx, e, gen); }

static void kw_view(void *ctx, uint32_t gen, int again) {
  struct wp_cpg *g = ctx;
  drop_unseen(g, gen);
  if (again) { /* a new watch after a reconnect: write everything again */
    g->hooks.dirty_all(g->hooks.ctx);
    wake_writer(g);
  }
}

static void kw_tick(void *ctx) {
  struct wp_cpg *g = ctx;
  watch_conn(g);
  uint64_t now = wp_clock_ns();
  if (now >= g->next_tick) {
    g->next_tick = now + (uint64_t)TICK_MS * 1000000;
    tick(g);
  }
}

/* ---- writing (writer thread) ---- */

static int connected(struct wp_cpg *g) {
  return natsConnection_Status(g->nats->nc) == NATS_CONN_STATUS_CONNECTED;
}

/* Writes every changed group of this node (until `deadline`, monotonic ns;
** 0: none). Returns the bytes written, or -1 when a write failed or memory
** ran out (what was not written is marked again). */
static long write_round(struct wp_cpg *g, uint64_t deadline) {
  struct wp_buf scope = WP_BUF_INIT, group = WP_BUF_INIT, pids = WP_BUF_INIT;
  struct wp_buf key = WP_BUF_INIT, value = WP_BUF_INIT;
  long bytes = 0;
  int r;
  while (connected(g) && (!deadline || wp_clock_ns() < deadline) &&
         (r = g->hooks.take(g->hooks.ctx, &scope, &group, &pids)) != 0) {
    char head[40];
    int hl = snprintf(head, sizeof head, "v1 %" PRIu64 "\n", wp_cluster_incarnation(g->c));
    value.len = 0;
    if (r < 0 || make_key(&key, &scope, &group, g->self) ||
        wp_buf_append(&value, head, (size_t)hl) || wp_buf_append(&value, pids.data, pids.len)) {
      if (r > 0)
        g->hooks.redirty(g->hooks.ctx, (const char *)scope.data, scope.len,
                         (const char *)group.data, group.len);
      bytes = -1;
      break;
    }
    /* what this node writes, noted before the watch can show it */
    pthread_mutex_lock(&g->lock);
    int oom; /* without its entry, the watch takes the write for someone else's: one more */
    struct entry *e = get(g, (const char *)key.data, &oom);
    if (e) {
      e->whash = pids.len ? fnv(value.data, value.len) : 0;
      e->wdel = !pids.len;
    }
    pthread_mutex_unlock(&g->lock);
    uint64_t rev = 0;
    natsStatus s = pids.len ? kvStore_Put(&rev, g->kv, (const char *)key.data, value.data,
                                          (int)value.len)
                            : kvStore_Delete(g->kv, (const char *)key.data);
    if (s != NATS_OK) {
      char why[256];
      wp_logf(WP_LOG_WARN,
              "cluster: node %s could not write its members of group %.*s: %s; trying again",
              g->self, (int)group.len, (const char *)group.data, wp_nats_reason(s, why, sizeof why));
      g->hooks.redirty(g->hooks.ctx, (const char *)scope.data, scope.len,
                       (const char *)group.data, group.len);
      bytes = -1;
      break;
    }
    pthread_mutex_lock(&g->lock);
    e = get(g, (const char *)key.data, &oom); /* only the watch thread frees: still there */
    if (e && rev > e->wrev) e->wrev = rev;
    pthread_mutex_unlock(&g->lock);
    bytes += (long)value.len;
  }
  wp_buf_free(&scope);
  wp_buf_free(&group);
  wp_buf_free(&pids);
  wp_buf_free(&key);
  wp_buf_free(&value);
  return bytes;
}

/* A key to empty, collected under lock and written after. */
struct victim {
  struct victim *next;
  uint64_t rev;
  char node[WP_CLUSTER_NAME_MAX + 1];
  size_t glen;
  char *group; /* after key */
  char key[];
};

/* The leader empties the entries whose writer is gone. */
static void reap(struct wp_cpg *g) {
  char leader[WP_CLUSTER_NAME_MAX + 1];
  if (!connected(g) || !atomic_load(&g->settled) ||
      !wp_cluster_leader(g->c, leader, sizeof leader) || strcmp(leader, g->self) != 0)
    return;
  uint64_t inc = wp_cluster_incarnation(g->c);
  struct victim *list = NULL;
  pthread_mutex_lock(&g->lock);
  for (size_t i = 0; i < g->cap; i++)
    for (struct entry *e = g->tab[i]; e; e = e->next) {
      if (!e->has || !e->rev) continue;
      int dead = e->self ? e->inc != inc : wp_transport_live(g->tr, e->node, e->nlen) != e->inc;
      if (!dead) continue;
      struct victim *v = wp_malloc(sizeof *v + e->klen + 1 + e->glen);
      if (!v) break; /* the next round */
      v->rev = e->rev;
      memcpy(v->node, e->node, e->nlen + 1);
      memcpy(v->key, e->data, e->klen + 1);
      v->group = v->key + e->klen + 1;
      memcpy(v->group, e->group, e->glen);
      v->glen = e->glen;
      v->next = list;
      list = v;
    }
  pthread_mutex_unlock(&g->lock);
  while (list) {
    struct victim *v = list;
    list = v->next;
    uint64_t nrev = 0;
    if (kvStore_Update(&nrev, g->kv, v->key, "", 0, v->rev) == NATS_OK)
      wp_logf(WP_LOG_INFO, "cluster: node %s released the pg members of %s in group %.*s, "
              "which is gone", g->self, v->node, (int)v->glen, v->group);
    wp_free(v);
  }
}

static void *writer_main(void *arg) {
  struct wp_cpg *g = arg;
  pthread_setname_np(pthread_self(), "wp-pg-writer");
  uint64_t next_reap = wp_clock_ns() + (uint64_t)REAP_MS * 1000000, hold = 0;
  pthread_mutex_lock(&g->wlock);
  for (;;) {
    uint64_t now = wp_clock_ns();
    if (g->wstop) {
      pthread_mutex_unlock(&g->wlock);
      write_round(g, now + (uint64_t)STOP_WAIT_MS * 1000000); /* what the last processes left */
      pthread_mutex_lock(&g->wlock);
      break;
    }
    if (g->woken && now >= hold && connected(g)) {
      g->woken = 0;
      pthread_mutex_unlock(&g->wlock);
      long n = write_round(g, 0);
      pthread_mutex_lock(&g->wlock);
      if (n < 0) { /* again after a while (the marks stay in the runtime) */
        g->woken = 1;
        hold = wp_clock_ns() + (uint64_t)RETRY_MS * 1000000;
      } else if (n >= PACE_BYTES) { /* let the next changes gather */
        hold = wp_clock_ns() + (uint64_t)PACE_MS * 1000000;
      }
      continue;
    }
    if (now >= next_reap) {
      next_reap = now + (uint64_t)REAP_MS * 1000000;
      pthread_mutex_unlock(&g->wlock);
      reap(g);
      pthread_mutex_lock(&g->wlock);
      continue;
    }
    /* sleep until the next reap, or the hold's end when work waits (a
    ** disconnected node looks again at the reap tick) */
    uint64_t until = next_reap;
    if (g->woken && hold > now && hold < until) until = hold;
    struct timespec ts;
    wp_clock_deadline(CLOCK_MONOTONIC, (int64_t)(until - now), &ts);
    pthread_cond_timedwait(&g->wcond, &g->wlock, &ts);
  }
  pthread_mutex_unlock(&g->wlock);
  return NULL;
}

void wp_cpg_wake(struct wp_cpg *g) { wake_writer(g); }

size_t wp_cpg_limit(struct wp_cpg *g) { return g->limit; }

/* ---- start and stop ---- */

static void cpg_free(struct wp_cpg *g) {
  for (size_t i = 0; i < g->cap; i++)
    for (struct entry *e = g->tab[i], *next; e; e = next) {
      next = e->next;
      wp_free(e->pids);
      wp_free(e);
    }
  wp_free(g->tab);
  if (g->kv) kvStore_Destroy(g->kv);
  pthread_cond_destroy(&g->wcond);
  pthread_mutex_destroy(&g->lock);
  pthread_mutex_destroy(&g->wlock);
  wp_free(g);
}

static int open_bucket(struct wp_cpg *g, char *err, size_t errlen) {
  char why[256];
  natsStatus s = js_KeyValue(&g->kv, g->nats->js, g->bucket);
  if (s == NATS_NOT_FOUND) {
    kvConfig kc;
    kvConfig_Init(&kc);
    kc.Bucket = g->bucket;
    kc.History = 1;
    s = js_CreateKeyValue(&g->kv, g->nats->js, &kc);
    if (s != NATS_OK && js_KeyValue(&g->kv, g->nats->js, g->bucket) == NATS_OK)
      s = NATS_OK; /* made meanwhile */
  }
  if (s == NATS_OK) return 0;
  g->kv = NULL;
  snprintf(err, errlen, "cannot open the key-value bucket %s on NATS at %s: %s", g->bucket,
           g->nats->urls, wp_nats_reason(s, why, sizeof why));
  return -1;
}

struct wp_cpg *wp_cpg_start(struct wp_cluster *c, struct wp_nats *n, struct wp_transport *t,
                            const char *prefix, const char *self, int64_t down_after_ns,
                            const struct wp_cluster_pg_hooks *h, char *err, size_t errlen) {
  struct wp_cpg *g = wp_calloc(1, sizeof *g);
  if (!g) {
    snprintf(err, errlen, "cannot start the cluster groups: out of memory");
    return NULL;
  }
  g->c = c;
  g->nats = n;
  g->tr = t;
  g->hooks = *h;
  g->down_after_ns = down_after_ns;
  snprintf(g->self, sizeof g->self, "%s", self);
  snprintf(g->bucket, sizeof g->bucket, "%s_pg", prefix);
  g->inc_seen = wp_cluster_incarnation(c);
  g->tick_reconnects = atomic_load(&n->reconnects);
  g->conn_since = wp_clock_ns();
  int64_t maxp = natsConnection_GetMaxPayload(n->nc);
  g->limit = maxp > 2 * VALUE_SLACK ? (size_t)maxp - VALUE_SLACK : VALUE_SLACK;
  pthread_mutex_init(&g->lock, NULL);
  pthread_mutex_init(&g->wlock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&g->wcond, &ca);
  pthread_condattr_destroy(&ca);
  if (open_bucket(g, err, errlen)) {
    cpg_free(g);
    return NULL;
  }
  static const struct wp_kvwatch_ops ops = {kw_entry, kw_view, kw_tick};
  if (wp_kvwatch_start(&g->kw, n, g->kv, &ops, g, SYNC_WAIT_MS, "groups", err, errlen)) {
    /* err says why */
  } else if (pthread_create(&g->writer, NULL, writer_main, g) != 0) {
    snprintf(err, errlen, "cannot start the cluster groups thread: %s", strerror(errno));
  } else {
    g->has_writer = 1;
    return g;
  }
  wp_cpg_stop(g);
  return NULL;
}

void wp_cpg_stop(struct wp_cpg *g) {
  if (!g) return;
  if (g->has_writer) {
    pthread_mutex_lock(&g->wlock);
    g->wstop = 1;
    pthread_cond_signal(&g->wcond);
    pthread_mutex_unlock(&g->wlock);
    pthread_join(g->writer, NULL);
  }
  wp_kvwatch_stop(&g->kw); /* within a tick (kvwatch.c) */
  cpg_free(g);
}
