/*
** pgroup.c: process groups, the node's table (see pgroup.h; spec 07 §7).
**
** Design note.
**
** Shape. Scopes (one per pg.scope entry a process opened, or a cluster key
** named) hold a hash table of groups. A group holds its local members, an
** array of records (one per process, with the number of joins it has not
** left yet), and the members of other nodes, one sorted pid set per node
** as that node last wrote it (a replica: pgroup.h). A process that uses pg
** has a record of its own (vp->pg): its memberships and its subscriptions,
** so its end finds them without a search. A group with no member anywhere
** (and no write due) is freed; a scope lives as long as the table.
**
** Members are listed once each, however many times they joined: a join
** beyond the first only counts (the leaves to match), and sends no event.
** Erlang's pg lists a pid once per join; ours would then have broadcast
** deliver one message per join, which nobody wants from a group.
**
** One lock. Everything is under one read-write lock: the queries (members,
** groups) read, the rest writes. Events are made and delivered under it,
** so they reach each subscriber in the order the changes were made, and a
** subscription's snapshot, taken under it too, is exactly the state before
** the first event it gets. Delivery is a mailbox push (sched/), which
** never waits. The lock is never held across anything that waits: the
** cluster's writes go out on the cluster's own thread, which takes the
** changed groups through wp_pg_take_dirty (the repl.wake hook is called
** after the lock is released). Marking a group changed allocates nothing
** (an intrusive list), so no change of a local member can fail to reach
** the cluster.
**
** Events. A change makes one event per group and kind, built once in the
** codec's format (wp_codec_w_*) and copied into a message for each
** subscriber: a WP_MSG_USER on the subscription's reserved topic
** "@pg.<id>", which the subscriber's listener (modules/pg.c) routes to its
** channel on its own thread. An event lost to an allocation failure is
** logged at error level.
*/
#include "pgroup.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "codec.h"
#include "log.h"
#include "ptab.h"
#include "vm.h"

struct group;

/* One process's membership of one group. */
struct lmember {
  struct lmember *pnext; /* the process's memberships */
  struct group *g;
  uint32_t count;        /* joins not left yet (>= 1) */
  size_t idx;            /* its slot in g->local */
  size_t plen;
  char pid[];            /* NUL-terminated */
};

/* Another node's members of one group, as it last wrote them. */
struct rset {
  struct rset *next;
  size_t n;
  const char **v; /* its pids, sorted (strcmp), into data */
  size_t nlen;
  char *node;     /* into data, NUL-terminated */
  size_t len;     /* bytes of the pids in data */
  char data[];    /* the pids (NUL-terminated, one after another), then node */
};

struct group {
  struct group *next;  /* hash chain of its scope */
  struct group *dnext; /* the table's list of changed groups */
  struct wp_pg_scope *scope;
  struct lmember **local;
  size_t nlocal, lcap;
  size_t local_bytes;  /* sum of plen + 1 over local */
  struct rset *remote;
  int dirty;           /* in the changed list */
  size_t glen;
  char name[];         /* NUL-terminated */
};

struct sub {
  struct sub *next;  /* its scope's */
  struct sub *pnext; /* its process's */
  struct wp_pg_scope *scope;
  wp_handle owner;
  uint64_t id;
  int all;           /* every group of the scope */
  size_t glen;
  char group[];
};

struct wp_pg_scope {
  struct wp_pg_scope *next;
  struct group **tab;
  size_t cap, n;
  struct sub *subs;
  size_t len;
  char id[];
};

/* A process's pg state (vp->pg): owned by the table, under its lock. */
struct wp_pgproc {
  struct lmember *members;
  struct sub *subs;
  uint64_t next_sub;
};

struct wp_pg {
  struct wp_rt *rt;
  pthread_rwlock_t rw;
  struct wp_pg_scope *scopes;
  struct group *dirty; /* changed groups, linked through dnext */
  struct wp_pg_repl repl;
  int has_repl;
};

static const char E_NOMEM[] = "out of memory";

/* ---- groups ---- */

static size_t hash(const char *s, size_t n) {
  uint64_t h = 1469598103934665603u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211u;
  return (size_t)h;
}

static struct group *group_find(struct wp_pg_scope *s, const char *name, size_t len) {
  if (!s->cap) return NULL;
  for (struct group *g = s->tab[hash(name, len) & (s->cap - 1)]; g; g = g->next)
    if (g->glen == len && memcmp(g->name, name, len) == 0) return g;
  return NULL;
}

/* The group, made (empty) when missing. NULL out of memory. */
static struct group *group_get(struct wp_pg_scope *s, const char *name, size_t len) {
  struct group *g = group_find(s, name, len);
  if (g) return g;
  if (s->n >= s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 16;
    struct group **tab = wp_calloc(cap, sizeof *tab);
    if (!tab) return NULL;
    for (size_t i = 0; i < s->cap; i++)
      for (struct group *e = s->tab[i], *next; e; e = next) {
        next = e->next;
        struct group **b = &tab[hash(e->name, e->glen) & (cap - 1)];
        e->next = *b;
        *b = e;
      }
    wp_free(s->tab);
    s->tab = tab;
    s->cap = cap;
  }
  g = wp_calloc(1, sizeof *g + len + 1);
  if (!g) return NULL;
  g->scope = s;
  g->glen = len;
  memcpy(g->name, name, len);
  struct group **b = &s->tab[hash(name, len) & (s->cap - 1)];
  g->next = *b;
  *b = g;
  s->n++;
  return g;
}

/* Frees g when nothing holds it: no member here or elsewhere, no write due. */
static void group_gc(struct group *g) {
  if (g->nlocal || g->remote || g->dirty) return;
  struct wp_pg_scope *s = g->scope;
  for (struct group **pp = &s->tab[hash(g->name, g->glen) & (s->cap - 1)]; *pp;
       pp = &(*pp)->next)
    if (*pp == g) {
      *pp = g->next;
      break;
    }
  s->n--;
  wp_free(g->local);
  wp_free(g);
}

/* Notes that g's local members changed (a clustered node only). */
static void mark(struct wp_pg *pg, struct group *g) {
  if (!pg->has_repl || g->dirty) return;
  g->dirty = 1;
  g->dnext = pg->dirty;
  pg->dirty = g;
}

/* ---- events ---- */

/* One event's value: {system, kind, path, data = {Group, PIDs}}. */
static int event_build(struct wp_buf *b, int joined, const struct group *g,
                       const char *const *pids, size_t n) {
  const char *kind = joined ? "member.joined" : "member.left";
  if (wp_codec_w_chunk(b) || wp_codec_w_table(b, 0, 4) || wp_codec_w_str(b, "system", 6) ||
      wp_codec_w_str(b, "pg", 2) || wp_codec_w_str(b, "kind", 4) ||
      wp_codec_w_str(b, kind, strlen(kind)) || wp_codec_w_str(b, "path", 4) ||
      wp_codec_w_str(b, g->name, g->glen) || wp_codec_w_str(b, "data", 4) ||
      wp_codec_w_table(b, 0, 2) || wp_codec_w_str(b, "Group", 5) ||
      wp_codec_w_str(b, g->name, g->glen) || wp_codec_w_str(b, "PIDs", 4) ||
      wp_codec_w_table(b, n, 0))
    return -1;
  for (size_t i = 0; i < n; i++)
    if (wp_codec_w_str(b, pids[i], strlen(pids[i]))) return -1;
  return wp_codec_w_end(b) || wp_codec_w_end(b) || wp_codec_w_end(b) ? -1 : 0;
}

static int sub_wants(const struct sub *u, const struct group *g) {
  return u->all || (u->glen == g->glen && memcmp(u->group, g->name, g->glen) == 0);
}

size_t wp_pg_topic(uint64_t id, char *out) {
  int n = snprintf(out, WP_PG_TOPIC_MAX, "@pg.%llu", (unsigned long long)id);
  return n > 0 ? (size_t)n : 0;
}

/* Sends the event that pids (n of them) joined or left g to every
** subscriber that wants it (under the write lock). */
static void notify(struct wp_pg *pg, struct group *g, int joined, const char *const *pids,
                   size_t n) {
  if (!n) return;
  struct sub *u = g->scope->subs;
  while (u && !sub_wants(u, g)) u = u->next;
  if (!u) return;
  struct wp_buf b = WP_BUF_INIT;
  int ok = event_build(&b, joined, g, pids, n) == 0;
  struct wp_ptab *pt = wp_sched_ptab(pg->rt->sched);
  for (; u; u = u->next) {
    if (!sub_wants(u, g)) continue;
    struct wp_proc *p = wp_ptab_get(pt, u->owner);
    if (!p) continue; /* ending: its subscriptions go with it */
    char topic[WP_PG_TOPIC_MAX];
    size_t tl = wp_pg_topic(u->id, topic);
    struct wp_msg *m = ok ? wp_msg_new(WP_MSG_USER, "", 0, topic, tl, b.data, b.len) : NULL;
    if (m)
      wp_proc_deliver(p, m);
    else
      wp_logf(WP_LOG_ERROR, "pg: a %s event of group %s to %s lost: out of memory",
              joined ? "member.joined" : "member.left", g->name, p->pid);
    wp_proc_release(p);
  }
  wp_buf_free(&b);
}

/* ---- the table ---- */

struct wp_pg *wp_pg_new(struct wp_rt *rt) {
  struct wp_pg *pg = wp_calloc(1, sizeof *pg);
  if (!pg) return NULL;
  pg->rt = rt;
  pthread_rwlock_init(&pg->rw, NULL);
  return pg;
}

static void rset_free_all(struct group *g) {
  while (g->remote) {
    struct rset *r = g->remote;
    g->remote = r->next;
    wp_free(r);
  }
}

void wp_pg_free(struct wp_pg *pg) {
  if (!pg) return;
  while (pg->scopes) {
    struct wp_pg_scope *s = pg->scopes;
    pg->scopes = s->next;
    for (size_t i = 0; i < s->cap; i++)
      for (struct group *g = s->tab[i], *next; g; g = next) {
        next = g->next;
        rset_free_all(g);
        wp_free(g->local); /* every process ended: no lmember is left */
        wp_free(g);
      }
    wp_free(s->tab);
    wp_free(s);
  }
  pthread_rwlock_destroy(&pg->rw);
  wp_free(pg);
}

void wp_pg_set_repl(struct wp_pg *pg, const struct wp_pg_repl *r) {
  pthread_rwlock_wrlock(&pg->rw);
  pg->repl = *r;
  pg->has_repl = 1;
  pthread_rwlock_unlock(&pg->rw);
}

static void wake(struct wp_pg *pg, int changed) {
  if (changed && pg->has_repl && pg->repl.wake) pg->repl.wake(pg->repl.ctx);
}

static struct wp_pg_scope *scope_find(struct wp_pg *pg, const char *id, size_t len) {
  for (struct wp_pg_scope *s = pg->scopes; s; s = s->next)
    if (s->len == len && memcmp(s->id, id, len) == 0) return s;
  return NULL;
}

/* The scope, made when missing (under the write lock). */
static struct wp_pg_scope *scope_get(struct wp_pg *pg, const char *id, size_t len) {
  struct wp_pg_scope *s = scope_find(pg, id, len);
  if (s) return s;
  s = wp_calloc(1, sizeof *s + len + 1);
  if (!s) return NULL;
  s->len = len;
  memcpy(s->id, id, len);
  s->next = pg->scopes;
  pg->scopes = s;
  return s;
}

struct wp_pg_scope *wp_pg_scope(struct wp_pg *pg, const char *id, size_t len) {
  pthread_rwlock_rdlock(&pg->rw);
  struct wp_pg_scope *s = scope_find(pg, id, len);
  pthread_rwlock_unlock(&pg->rw);
  if (s) return s;
  pthread_rwlock_wrlock(&pg->rw);
  s = scope_get(pg, id, len);
  pthread_rwlock_unlock(&pg->rw);
  return s;
}

const char *wp_pg_scope_id(const struct wp_pg_scope *s) { return s->id; }

/* ---- replication ---- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int wp_pg_take_dirty(struct wp_pg *pg, struct wp_buf *scope, struct wp_buf *group,
                     struct wp_buf *pids) {
  scope->len = group->len = pids->len = 0;
  pthread_rwlock_wrlock(&pg->rw);
  struct group *g = pg->dirty;
  if (!g) {
    pthread_rwlock_unlock(&pg->rw);
    return 0;
  }
  const char **v = g->nlocal ? wp_malloc(g->nlocal * sizeof *v) : NULL;
  int rc = -1;
  if ((v || !g->nlocal) && wp_buf_append(scope, g->scope->id, g->scope->len) == 0 &&
      wp_buf_append(group, g->name, g->glen) == 0 && wp_buf_reserve(pids, g->local_bytes) == 0) {
    for (size_t i = 0; i < g->nlocal; i++) v[i] = g->local[i]->pid;
    if (g->nlocal) qsort(v, g->nlocal, sizeof *v, cmp_str);
    for (size_t i = 0; i < g->nlocal; i++) wp_buf_append(pids, v[i], strlen(v[i]) + 1);
    pg->dirty = g->dnext;
    g->dirty = 0;
    group_gc(g);
    rc = 1;
  }
  pthread_rwlock_unlock(&pg->rw);
  wp_free(v);
  return rc;
}

int wp_pg_redirty(struct wp_pg *pg, const char *scope, size_t slen, const char *group,
                  size_t glen) {
  pthread_rwlock_wrlock(&pg->rw);
  struct wp_pg_scope *s = scope_get(pg, scope, slen);
  struct group *g = s ? group_get(s, group, glen) : NULL;
  if (g) mark(pg, g);
  pthread_rwlock_unlock(&pg->rw);
  if (!g)
    wp_logf(WP_LOG_ERROR,
            "pg: out of memory: this node's members of group %.*s are not written to the "
            "cluster until it changes again",
            (int)glen, group);
  return g ? 0 : -1;
}

void wp_pg_dirty_all(struct wp_pg *pg) {
  pthread_rwlock_wrlock(&pg->rw);
  for (struct wp_pg_scope *s = pg->scopes; s; s = s->next)
    for (size_t i = 0; i < s->cap; i++)
      for (struct group *g = s->tab[i]; g; g = g->next)
        if (g->nlocal) mark(pg, g);
  pthread_rwlock_unlock(&pg->rw);
}

/* Counts the NUL-terminated strings in p[0..len); -1 when the last one is
** not terminated. */
static long count_strs(const char *p, size_t len) {
  if (len && p[len - 1] != '\0') return -1;
  long n = 0;
  for (size_t i = 0; i < len; i++)
    if (p[i] == '\0') n++;
  return n;
}

int wp_pg_apply(struct wp_pg *pg, const char *scope, size_t slen, const char *group,
                size_t glen, const char *node, size_t nlen, const char *pids, size_t len) {
  long n = count_strs(pids, len);
  if (n < 0) return -1;
  /* the new set, made before the lock */
  struct rset *nr = NULL;
  if (n > 0) {
    size_t vbytes = (size_t)n * sizeof(const char *);
    nr = wp_malloc(sizeof *nr + len + nlen + 1 + vbytes + sizeof(void *));
    if (!nr) goto oom;
    memcpy(nr->data, pids, len);
    nr->node = nr->data + len;
    memcpy(nr->node, node, nlen);
    nr->node[nlen] = '\0';
    nr->nlen = nlen;
    nr->len = len;
    /* the pointer array after the strings, aligned */
    uintptr_t a = (uintptr_t)(nr->node + nlen + 1);
    a = (a + sizeof(void *) - 1) & ~(uintptr_t)(sizeof(void *) - 1);
    nr->v = (const char **)a;
    nr->n = (size_t)n;
    const char *p = nr->data;
    for (long i = 0; i < n; i++) {
      nr->v[i] = p;
      p += strlen(p) + 1;
    }
    qsort(nr->v, nr->n, sizeof *nr->v, cmp_str);
  }
  /* what joined and what left: at most all of each side */
  pthread_rwlock_wrlock(&pg->rw);
  struct wp_pg_scope *s = scope_get(pg, scope, slen);
  struct group *g = s ? group_get(s, group, glen) : NULL;
  if (!g) {
    pthread_rwlock_unlock(&pg->rw);
    wp_free(nr);
    goto oom;
  }
  struct rset **pp = &g->remote;
  while (*pp && !((*pp)->nlen == nlen && memcmp((*pp)->node, node, nlen) == 0))
    pp = &(*pp)->next;
  struct rset *old = *pp;
  size_t on = old ? old->n : 0, nn = nr ? nr->n : 0;
  const char **joined = nn ? wp_malloc(nn * sizeof *joined) : NULL;
  const char **left = on ? wp_malloc(on * sizeof *left) : NULL;
  if ((nn && !joined) || (on && !left)) {
    wp_free(joined);
    wp_free(left);
    group_gc(g);
    pthread_rwlock_unlock(&pg->rw);
    wp_free(nr);
    goto oom;
  }
  size_t nj = 0, nl = 0, i = 0, j = 0;
  while (i < on || j < nn) {
    int c = i == on ? 1 : j == nn ? -1 : strcmp(old->v[i], nr->v[j]);
    if (c < 0)
      left[nl++] = old->v[i++];
    else if (c > 0)
      joined[nj++] = nr->v[j++];
    else
      i++, j++;
  }
  notify(pg, g, 0, left, nl);
  notify(pg, g, 1, joined, nj);
  if (nr) {
    nr->next = old ? old->next : NULL;
    *pp = nr;
  } else if (old) {
    *pp = old->next;
  }
  wp_free(old);
  group_gc(g);
  pthread_rwlock_unlock(&pg->rw);
  wp_free(joined);
  wp_free(left);
  return 0;
oom:
  wp_logf(WP_LOG_ERROR,
          "pg: out of memory: the members of node %.*s in group %.*s are not up to date here",
          (int)nlen, node, (int)glen, group);
  return -1;
}

/* ---- joining and leaving ---- */

/* The process's pg state, made on first use (under the write lock). */
static struct wp_pgproc *proc_state(struct wp_vmproc *vp) {
  if (!vp->pg) vp->pg = wp_calloc(1, sizeof *vp->pg);
  return vp->pg;
}

static struct lmember *lm_find(struct wp_pgproc *ps, struct wp_pg_scope *s, const char *name,
                               size_t len) {
  for (struct lmember *m = ps ? ps->members : NULL; m; m = m->pnext)
    if (m->g->scope == s && m->g->glen == len && memcmp(m->g->name, name, len) == 0) return m;
  return NULL;
}

/* Whether names[i] repeats one of names[0..i). */
static int repeats(const char *const *names, const size_t *lens, size_t i) {
  for (size_t k = 0; k < i; k++)
    if (lens[k] == lens[i] && memcmp(names[k], names[i], lens[i]) == 0) return 1;
  return 0;
}

int wp_pg_join(struct wp_pg *pg, struct wp_pg_scope *s, struct wp_vmproc *vp,
               const char *const *names, const size_t *lens, size_t n, char *err,
               size_t errlen) {
  const char *pid = vp->p->pid;
  size_t plen = vp->p->pid_len;
  /* the new records, made before anything changes: all or nothing */
  struct lmember **fresh = n ? wp_calloc(n, sizeof *fresh) : NULL;
  if (n && !fresh) {
    snprintf(err, errlen, "%s", E_NOMEM);
    return WP_PG_NOMEM;
  }
  int rc = WP_PG_OK;
  pthread_rwlock_wrlock(&pg->rw);
  struct wp_pgproc *ps = proc_state(vp);
  if (!ps) {
    rc = WP_PG_NOMEM;
    snprintf(err, errlen, "%s", E_NOMEM);
  }
  for (size_t i = 0; i < n && rc == WP_PG_OK; i++) {
    if (lm_find(ps, s, names[i], lens[i]) || repeats(names, lens, i)) continue;
    struct group *g = group_get(s, names[i], lens[i]);
    struct lmember *m = g ? wp_malloc(sizeof *m + plen + 1) : NULL;
    if (g && g->nlocal + 1 > g->lcap) { /* room for every new record of g */
      size_t cap = g->lcap ? 2 * g->lcap : 4;
      struct lmember **a = wp_realloc(g->local, cap * sizeof *a);
      if (a) {
        g->local = a;
        g->lcap = cap;
      } else {
        wp_free(m);
        m = NULL;
      }
    }
    if (!m) {
      if (g) group_gc(g);
      rc = WP_PG_NOMEM;
      snprintf(err, errlen, "%s", E_NOMEM);
      break;
    }
    m->g = g;
    m->count = 0;
    m->plen = plen;
    memcpy(m->pid, pid, plen + 1);
    fresh[i] = m;
    size_t limit = pg->has_repl ? pg->repl.local_limit : 0;
    if (limit && g->local_bytes + plen + 1 > limit) {
      rc = WP_PG_TOO_MANY;
      snprintf(err, errlen,
               "group %.*s holds too many members of this node for the cluster (%zu bytes "
               "of pids, limit %zu)",
               (int)lens[i], names[i], g->local_bytes + plen + 1, limit);
    }
  }
  if (rc != WP_PG_OK) {
    for (size_t i = 0; i < n; i++)
      if (fresh[i]) {
        struct group *g = fresh[i]->g;
        wp_free(fresh[i]);
        group_gc(g);
      }
    pthread_rwlock_unlock(&pg->rw);
    wp_free(fresh);
    return rc;
  }
  int changed = 0;
  for (size_t i = 0; i < n; i++) {
    struct lmember *m = fresh[i];
    if (!m) { /* a group it is in, or one named before in this call */
      lm_find(ps, s, names[i], lens[i])->count++;
      continue;
    }
    struct group *g = m->g;
    m->count = 1;
    m->idx = g->nlocal;
    g->local[g->nlocal++] = m;
    g->local_bytes += plen + 1;
    m->pnext = ps->members;
    ps->members = m;
    notify(pg, g, 1, &pid, 1);
    mark(pg, g);
    changed = 1;
  }
  pthread_rwlock_unlock(&pg->rw);
  wp_free(fresh);
  wake(pg, changed);
  return WP_PG_OK;
}

/* Removes membership m of process state ps (under the write lock). */
static void lm_remove(struct wp_pg *pg, struct wp_pgproc *ps, struct lmember *m) {
  struct group *g = m->g;
  for (struct lmember **pp = &ps->members; *pp; pp = &(*pp)->pnext)
    if (*pp == m) {
      *pp = m->pnext;
      break;
    }
  struct lmember *last = g->local[--g->nlocal];
  g->local[m->idx] = last;
  last->idx = m->idx;
  g->local_bytes -= m->plen + 1;
  const char *pid = m->pid;
  notify(pg, g, 0, &pid, 1);
  mark(pg, g);
  wp_free(m);
  group_gc(g);
}

int wp_pg_leave(struct wp_pg *pg, struct wp_pg_scope *s, struct wp_vmproc *vp,
                const char *const *names, const size_t *lens, size_t n, char *err,
                size_t errlen) {
  pthread_rwlock_wrlock(&pg->rw);
  struct wp_pgproc *ps = vp->pg;
  /* every leave must have a join to match, counting repeats in the call */
  for (size_t i = 0; i < n; i++) {
    struct lmember *m = lm_find(ps, s, names[i], lens[i]);
    uint32_t uses = 0;
    for (size_t k = 0; k <= i; k++)
      if (lens[k] == lens[i] && memcmp(names[k], names[i], lens[i]) == 0) uses++;
    if (!m || m->count < uses) {
      pthread_rwlock_unlock(&pg->rw);
      snprintf(err, errlen, "not a member of group %.*s", (int)lens[i], names[i]);
      return WP_PG_NOT_JOINED;
    }
  }
  int changed = 0;
  for (size_t i = 0; i < n; i++) {
    struct lmember *m = lm_find(ps, s, names[i], lens[i]);
    if (--m->count) continue;
    lm_remove(pg, ps, m);
    changed = 1;
  }
  pthread_rwlock_unlock(&pg->rw);
  wake(pg, changed);
  return WP_PG_OK;
}

void wp_pg_exit(struct wp_pg *pg, struct wp_vmproc *vp) {
  pthread_rwlock_wrlock(&pg->rw);
  struct wp_pgproc *ps = vp->pg;
  int changed = ps->members != NULL;
  while (ps->members) lm_remove(pg, ps, ps->members);
  while (ps->subs) {
    struct sub *u = ps->subs;
    ps->subs = u->pnext;
    for (struct sub **pp = &u->scope->subs; *pp; pp = &(*pp)->next)
      if (*pp == u) {
        *pp = u->next;
        break;
      }
    wp_free(u);
  }
  vp->pg = NULL;
  pthread_rwlock_unlock(&pg->rw);
  wp_free(ps);
  wake(pg, changed);
}

/* ---- queries ---- */

/* Appends g's members (only the local ones with `local`) to out. */
static int append_members(const struct group *g, int local, struct wp_buf *out, size_t *n) {
  for (size_t i = 0; i < g->nlocal; i++)
    if (wp_buf_append(out, g->local[i]->pid, g->local[i]->plen + 1)) return -1;
  *n += g->nlocal;
  if (local) return 0;
  for (const struct rset *r = g->remote; r; r = r->next) {
    if (wp_buf_append(out, r->data, r->len)) return -1;
    *n += r->n;
  }
  return 0;
}

int wp_pg_members(struct wp_pg *pg, struct wp_pg_scope *s, const char *group, size_t glen,
                  int local, struct wp_buf *out, size_t *n) {
  *n = 0;
  pthread_rwlock_rdlock(&pg->rw);
  struct group *g = group_find(s, group, glen);
  int rc = g ? append_members(g, local, out, n) : 0;
  pthread_rwlock_unlock(&pg->rw);
  return rc;
}

int wp_pg_groups(struct wp_pg *pg, struct wp_pg_scope *s, int local, struct wp_buf *out,
                 size_t *n) {
  int rc = 0;
  *n = 0;
  pthread_rwlock_rdlock(&pg->rw);
  for (size_t i = 0; i < s->cap && !rc; i++)
    for (struct group *g = s->tab[i]; g && !rc; g = g->next) {
      if (!g->nlocal && (local || !g->remote)) continue;
      rc = wp_buf_append(out, g->name, g->glen + 1);
      (*n)++;
    }
  pthread_rwlock_unlock(&pg->rw);
  return rc ? -1 : 0;
}

/* ---- subscriptions ---- */

/* The snapshot of every group of s (see wp_pg_subscribe). */
static int snapshot_all(struct wp_pg_scope *s, struct wp_buf *out) {
  for (size_t i = 0; i < s->cap; i++)
    for (struct group *g = s->tab[i]; g; g = g->next) {
      if (!g->nlocal && !g->remote) continue;
      size_t at, n = 0;
      uint32_t cnt = 0;
      if (wp_buf_append(out, g->name, g->glen + 1)) return -1;
      at = out->len;
      if (wp_buf_append(out, &cnt, sizeof cnt) || append_members(g, 0, out, &n)) return -1;
      cnt = (uint32_t)n;
      memcpy(out->data + at, &cnt, sizeof cnt);
    }
  return 0;
}

int wp_pg_subscribe(struct wp_pg *pg, struct wp_pg_scope *s, struct wp_vmproc *vp,
                    const char *group, size_t glen, uint64_t *id, struct wp_buf *out) {
  struct sub *u = wp_calloc(1, sizeof *u + (group ? glen : 0) + 1);
  if (!u) return -1;
  u->scope = s;
  u->owner = vp->p->handle;
  u->all = group == NULL;
  if (group) {
    u->glen = glen;
    memcpy(u->group, group, glen);
  }
  pthread_rwlock_wrlock(&pg->rw);
  struct wp_pgproc *ps = proc_state(vp);
  size_t n;
  struct group *g = group ? group_find(s, group, glen) : NULL;
  int rc = !ps ? -1 : group ? (g ? append_members(g, 0, out, &n) : 0) : snapshot_all(s, out);
  if (rc == 0) {
    u->id = ++ps->next_sub;
    *id = u->id;
    u->next = s->subs;
    s->subs = u;
    u->pnext = ps->subs;
    ps->subs = u;
  }
  pthread_rwlock_unlock(&pg->rw);
  if (rc) wp_free(u);
  return rc;
}

int wp_pg_unsubscribe(struct wp_pg *pg, struct wp_vmproc *vp, uint64_t id) {
  pthread_rwlock_wrlock(&pg->rw);
  struct wp_pgproc *ps = vp->pg;
  struct sub *u = NULL;
  for (struct sub **pp = ps ? &ps->subs : NULL; pp && *pp; pp = &(*pp)->pnext)
    if ((*pp)->id == id) {
      u = *pp;
      *pp = u->pnext;
      break;
    }
  if (u)
    for (struct sub **pp = &u->scope->subs; *pp; pp = &(*pp)->next)
      if (*pp == u) {
        *pp = u->next;
        break;
      }
  pthread_rwlock_unlock(&pg->rw);
  wp_free(u);
  return u != NULL;
}
