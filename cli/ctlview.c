/*
** ctlview.c: the control endpoint's answers (see ctlview.h and
** docs/control.md), built on the endpoint's own thread.
**
** Design note. Everything here is read without stopping anything and
** without a lock a run takes: the scheduler's per-worker counters
** (wp_sched_view, relaxed loads), the process table's counter and size,
** each process through a reference taken for a moment (wp_ptab_each) and
** what it published (wp_observe_proc), the services under rt->lock (which
** only service events and the supervisor take). Links, monitors and names
** of one process are copied under that process's own lock, which its
** relation changes take, never its runs. So a snapshot is consistent only
** per field: processes run and end while it is taken, and totals may
** disagree by the few that did. A reference taken here may turn out to be
** a process's last (it ended meanwhile): releasing it frees the block on
** this thread, which touches no Lua state, since the worker that ran the
** process closed its state when it ended (vm_free closes one only for a
** process that never ended, and the process table still holds those).
**
** Rates. Samples of the counters are kept every WP_CTLVIEW_SAMPLE_MS in a
** ring; a snapshot compares the counters now with the newest sample at
** least a second old (or the oldest there is, early in a node's life):
** rates over the node's last second, with no wait. Spawns are the pid
** counter's advance; exits are spawns less the change in live processes;
** messages are those delivered to mailboxes (every kind: user messages,
** events, timer firings).
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "control.h"
#include "ctlview.h"
#include "service.h"

#define RING 8 /* samples: two seconds */
#define WINDOW_NS 1000000000ull

struct sample {
  uint64_t t, spawned, live, msgs;
  int nw;
  uint64_t *busy; /* per worker slot, wcap entries */
};

struct wp_ctlview {
  struct wp_rt *rt;
  char *node, *project;
  uint64_t start_ns, base_counter;
  int wcap;
  struct wp_sched_wview *wv; /* wcap entries */
  uint64_t *now_busy;        /* wcap entries: a snapshot's own sample */
  struct sample ring[RING];
  int next; /* ring slot the next sample goes to */
  int filled;
};

struct wp_ctlview *wp_ctlview_new(struct wp_rt *rt, const char *node, const char *project) {
  struct wp_ctlview *v = wp_calloc(1, sizeof *v);
  if (!v) return NULL;
  v->rt = rt;
  v->node = wp_strdup(node ? node : "local");
  v->project = wp_strdup(project);
  v->start_ns = wp_clock_ns();
  v->base_counter = wp_ptab_counter(wp_sched_ptab(rt->sched));
  v->wcap = wp_sched_workers(rt->sched) + 64; /* the workers and their spares */
  v->wv = wp_calloc((size_t)v->wcap, sizeof *v->wv);
  v->now_busy = wp_calloc((size_t)v->wcap, 8);
  int ok = v->node && v->project && v->wv && v->now_busy;
  for (int i = 0; i < RING && ok; i++) ok = !!(v->ring[i].busy = wp_calloc((size_t)v->wcap, 8));
  if (!ok) {
    wp_ctlview_free(v);
    return NULL;
  }
  return v;
}

void wp_ctlview_free(struct wp_ctlview *v) {
  if (!v) return;
  for (int i = 0; i < RING; i++) wp_free(v->ring[i].busy);
  wp_free(v->wv);
  wp_free(v->now_busy);
  wp_free(v->node);
  wp_free(v->project);
  wp_free(v);
}

/* Reads the counters into s (and the worker views into v->wv). */
static void take(struct wp_ctlview *v, struct sample *s) {
  struct wp_ptab *pt = wp_sched_ptab(v->rt->sched);
  s->t = wp_clock_ns();
  s->spawned = wp_ptab_counter(pt) - v->base_counter;
  s->live = wp_ptab_count(pt);
  int n = wp_sched_view(v->rt->sched, v->wv, v->wcap, &s->msgs);
  s->nw = n < v->wcap ? n : v->wcap;
  for (int i = 0; i < s->nw; i++) s->busy[i] = v->wv[i].busy_ns;
}

void wp_ctlview_sample(struct wp_ctlview *v) {
  take(v, &v->ring[v->next]);
  v->next = (v->next + 1) % RING;
  if (v->filled < RING) v->filled++;
}

/* The sample to measure rates against at time now: the newest at least a
** second old, else the oldest; NULL when there is none. */
static const struct sample *base_sample(const struct wp_ctlview *v, uint64_t now) {
  const struct sample *best = NULL, *oldest = NULL;
  for (int i = 0; i < v->filled; i++) {
    const struct sample *s = &v->ring[i];
    if (s->t >= now) continue;
    if (!oldest || s->t < oldest->t) oldest = s;
    if (now - s->t >= WINDOW_NS && (!best || s->t > best->t)) best = s;
  }
  return best ? best : oldest;
}

static double per_s(uint64_t a, uint64_t b, double dt) {
  return dt > 0 && a > b ? (double)(a - b) / dt : 0;
}

void wp_ctlview_hello(struct wp_ctlview *v, struct wp_jw *w) {
  wp_jw_lit(w, "{\"ok\":true,\"protocol\":");
  wp_jw_int(w, WP_CONTROL_PROTOCOL);
  wp_jw_lit(w, ",\"wippy\":");
  wp_jw_cstr(w, WIPPY_VERSION);
  wp_jw_lit(w, ",\"node\":");
  wp_jw_cstr(w, v->node);
  wp_jw_lit(w, ",\"pid\":");
  wp_jw_int(w, (int64_t)getpid());
  wp_jw_lit(w, ",\"project\":");
  wp_jw_cstr(w, v->project);
  wp_jw_lit(w, "}");
}

/* ---- the process walk ---- */

struct top_ent {
  uint64_t key, counter;
  char *pid;
  const char *entry, *host, *state, *wait;
  int64_t mem;
  uint32_t mailbox;
  uint64_t cpu_ns;
};

const char *const wp_ctlview_states[WP_CTLVIEW_NSTATES] = {"waiting", "runnable", "running",
                                                          "exited"};

struct walk {
  int sort, k, n;
  struct top_ent *heap; /* a min-heap of the k highest-ranked so far */
  int oom;
  struct wp_ctlview_census c;
};

/* Whether a ranks below b: a smaller key; on a tie, the newer process. */
static int below(const struct top_ent *a, const struct top_ent *b) {
  return a->key != b->key ? a->key < b->key : a->counter > b->counter;
}

static void sift_down(struct top_ent *h, int n, int i) {
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && below(&h[l], &h[m])) m = l;
    if (r < n && below(&h[r], &h[m])) m = r;
    if (m == i) return;
    struct top_ent t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

static void sift_up(struct top_ent *h, int i) {
  while (i > 0) {
    int p = (i - 1) / 2;
    if (!below(&h[i], &h[p])) return;
    struct top_ent t = h[i];
    h[i] = h[p];
    h[p] = t;
    i = p;
  }
}

/* The host entry of id in c, made (counts 0) on first use; NULL when out
** of memory (c->oom set). */
static struct wp_ctlview_host *census_get(struct wp_ctlview_census *c, const char *id) {
  for (int i = 0; i < c->nh; i++)
    if (c->hosts[i].id == id || strcmp(c->hosts[i].id, id) == 0) return &c->hosts[i];
  if (c->nh == c->cap) {
    int cap = c->cap ? c->cap * 2 : 8;
    struct wp_ctlview_host *h = wp_realloc(c->hosts, (size_t)cap * sizeof *h);
    if (!h) {
      c->oom = 1;
      return NULL;
    }
    c->hosts = h;
    c->cap = cap;
  }
  c->hosts[c->nh] = (struct wp_ctlview_host){id, {0}};
  return &c->hosts[c->nh++];
}

void wp_ctlview_census_host(struct wp_ctlview_census *c, const char *id) { census_get(c, id); }

int wp_ctlview_census_add(struct wp_ctlview_census *c, const struct wp_observe_proc *o,
                          const char *none) {
  int st = 0;
  while (st < WP_CTLVIEW_EXITED && strcmp(o->state, wp_ctlview_states[st]) != 0) st++;
  c->total++;
  c->by_state[st]++;
  c->mem += o->mem;
  const char *id = o->host[0] ? o->host : none;
  struct wp_ctlview_host *h = id ? census_get(c, id) : NULL;
  if (h) h->n[st]++;
  return st;
}

void wp_ctlview_census_free(struct wp_ctlview_census *c) {
  wp_free(c->hosts);
  c->hosts = NULL;
  c->nh = c->cap = 0;
}

static void walk_one(struct wp_proc *p, void *ud) {
  struct walk *wk = ud;
  struct wp_observe_proc o;
  wp_observe_proc(p, &o);
  wp_ctlview_census_add(&wk->c, &o, NULL);
  if (wk->k == 0) return;
  struct top_ent e = {0, p->counter, NULL, o.entry, o.host, o.state, o.wait, o.mem, o.mailbox,
                      o.cpu_ns};
  e.key = wk->sort == WP_CTLVIEW_SORT_MAILBOX ? o.mailbox
          : wk->sort == WP_CTLVIEW_SORT_CPU   ? o.cpu_ns
                                              : (uint64_t)(o.mem > 0 ? o.mem : 0);
  if (wk->n == wk->k && !below(&wk->heap[0], &e)) return;
  e.pid = wp_malloc(o.pid_len + 1);
  if (!e.pid) {
    wk->oom = 1;
    return;
  }
  memcpy(e.pid, o.pid, o.pid_len);
  e.pid[o.pid_len] = '\0';
  if (wk->n < wk->k) {
    wk->heap[wk->n] = e;
    sift_up(wk->heap, wk->n++);
  } else {
    wp_free(wk->heap[0].pid);
    wk->heap[0] = e;
    sift_down(wk->heap, wk->n, 0);
  }
}

static int rank_cmp(const void *a, const void *b) {
  const struct top_ent *x = a, *y = b;
  return below(x, y) ? 1 : below(y, x) ? -1 : 0;
}

/* ---- services ---- */

struct svcs {
  struct wp_service_view *v;
  int n, cap, oom;
};

static void svc_add(void *ud, const struct wp_service_view *sv) {
  struct svcs *s = ud;
  if (s->n == s->cap) {
    int cap = s->cap ? s->cap * 2 : 16;
    struct wp_service_view *v = wp_realloc(s->v, (size_t)cap * sizeof *v);
    if (!v) {
      s->oom = 1;
      return;
    }
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = *sv;
}

/* The pid string of the process with counter c, or null. */
static void pid_of_counter(struct wp_rt *rt, uint64_t c, struct wp_jw *w) {
  struct wp_proc *p = c ? wp_ptab_get_counter(wp_sched_ptab(rt->sched), c) : NULL;
  if (!p) {
    wp_jw_lit(w, "null");
    return;
  }
  wp_jw_str(w, p->pid, p->pid_len);
  wp_proc_release(p);
}

static void services_json(struct wp_rt *rt, struct wp_jw *w) {
  struct svcs s = {NULL, 0, 0, 0};
  wp_services_view(rt, svc_add, &s);
  wp_jw_lit(w, "[");
  for (int i = 0; i < s.n; i++) {
    if (i) wp_jw_lit(w, ",");
    wp_jw_lit(w, "{\"id\":");
    wp_jw_cstr(w, s.v[i].id);
    wp_jw_lit(w, ",\"kind\":");
    wp_jw_cstr(w, s.v[i].is_host ? "host" : "service");
    wp_jw_lit(w, ",\"state\":");
    wp_jw_cstr(w, s.v[i].state);
    wp_jw_lit(w, ",\"restarts\":");
    wp_jw_int(w, s.v[i].restarts);
    wp_jw_lit(w, ",\"pid\":");
    pid_of_counter(rt, s.v[i].counter, w);
    wp_jw_lit(w, "}");
  }
  wp_jw_lit(w, "]");
  if (s.oom) w->failed = 1;
  wp_free(s.v);
}

/* ---- the snapshot ---- */

/* The node's resident set: /proc/self/statm's second field, in pages
** (read with one read(2): stdio would cost more than the rest). */
uint64_t wp_ctlview_rss(void) {
  char buf[128];
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  char *p = strchr(buf, ' ');
  long page = sysconf(_SC_PAGESIZE);
  return p && page > 0 ? strtoull(p + 1, NULL, 10) * (uint64_t)page : 0;
}

static void top_json(const struct top_ent *e, struct wp_jw *w) {
  wp_jw_lit(w, "{\"pid\":");
  wp_jw_cstr(w, e->pid);
  wp_jw_lit(w, ",\"entry\":");
  wp_jw_cstr(w, e->entry);
  wp_jw_lit(w, ",\"host\":");
  wp_jw_cstr(w, e->host);
  wp_jw_lit(w, ",\"state\":");
  wp_jw_cstr(w, e->state);
  wp_jw_lit(w, ",\"blocked_in\":");
  wp_jw_cstr(w, e->wait);
  wp_jw_lit(w, ",\"mem_bytes\":");
  wp_jw_int(w, e->mem);
  wp_jw_lit(w, ",\"mailbox\":");
  wp_jw_uint(w, e->mailbox);
  wp_jw_lit(w, ",\"cpu_ms\":");
  wp_jw_num(w, (double)e->cpu_ns / 1e6, 3);
  wp_jw_lit(w, "}");
}

void wp_ctlview_snapshot(struct wp_ctlview *v, int top, int sort, struct wp_jw *w) {
  struct wp_rt *rt = v->rt;
  struct sample now;
  now.busy = v->now_busy;
  take(v, &now);
  const struct sample *b = base_sample(v, now.t);
  double dt = b ? (double)(now.t - b->t) / 1e9 : 0;

  struct walk wk;
  memset(&wk, 0, sizeof wk);
  wk.sort = sort;
  wk.k = top;
  if (top > 0 && !(wk.heap = wp_calloc((size_t)top, sizeof *wk.heap))) {
    w->failed = 1;
    return;
  }
  for (struct wp_host *h = rt->hosts; h; h = h->next) /* listed even when empty */
    wp_ctlview_census_host(&wk.c, h->id);
  wp_ptab_each(wp_sched_ptab(rt->sched), walk_one, &wk);
  qsort(wk.heap, (size_t)wk.n, sizeof *wk.heap, rank_cmp);

  wp_jw_lit(w, "{\"ok\":true,\"node\":");
  wp_jw_cstr(w, v->node);
  wp_jw_lit(w, ",\"pid\":");
  wp_jw_int(w, (int64_t)getpid());
  wp_jw_lit(w, ",\"uptime_s\":");
  wp_jw_num(w, (double)(now.t - v->start_ns) / 1e9, 3);
  wp_jw_lit(w, ",\"workers\":[");
  for (int i = 0; i < now.nw; i++) {
    const struct wp_sched_wview *x = &v->wv[i];
    uint64_t was = b && i < b->nw ? b->busy[i] : 0;
    double util = dt > 0 ? per_s(now.busy[i], was, dt) / 1e9 : 0;
    if (util > 1) util = 1;
    if (i) wp_jw_lit(w, ",");
    wp_jw_lit(w, "{\"id\":");
    wp_jw_int(w, x->id);
    wp_jw_lit(w, ",\"runq\":");
    wp_jw_uint(w, x->runq);
    wp_jw_lit(w, ",\"util\":");
    wp_jw_num(w, util, 3);
    wp_jw_lit(w, ",\"running\":");
    wp_jw_bool(w, x->running);
    wp_jw_lit(w, ",\"spare\":");
    wp_jw_bool(w, x->spare);
    wp_jw_lit(w, "}");
  }
  wp_jw_lit(w, "],\"processes\":{\"total\":");
  wp_jw_uint(w, wk.c.total);
  wp_jw_lit(w, ",\"by_host\":{");
  for (int i = 0; i < wk.c.nh; i++) {
    const uint64_t *n = wk.c.hosts[i].n;
    if (i) wp_jw_lit(w, ",");
    wp_jw_key(w, wk.c.hosts[i].id);
    wp_jw_uint(w, n[0] + n[1] + n[2] + n[3]);
  }
  wp_jw_lit(w, "},\"by_state\":{");
  for (int i = 0; i < WP_CTLVIEW_NSTATES; i++) {
    if (i) wp_jw_lit(w, ",");
    wp_jw_key(w, wp_ctlview_states[i]);
    wp_jw_uint(w, wk.c.by_state[i]);
  }
  /* exits: spawns less the growth of the live count (which may shrink) */
  uint64_t exits = now.spawned >= now.live ? now.spawned - now.live : 0;
  uint64_t bexits = b && b->spawned >= b->live ? b->spawned - b->live : 0;
  wp_jw_lit(w, "}},\"rates\":{\"spawns_per_s\":");
  wp_jw_num(w, b ? per_s(now.spawned, b->spawned, dt) : 0, 1);
  wp_jw_lit(w, ",\"exits_per_s\":");
  wp_jw_num(w, b ? per_s(exits, bexits, dt) : 0, 1);
  wp_jw_lit(w, ",\"msgs_per_s\":");
  wp_jw_num(w, b ? per_s(now.msgs, b->msgs, dt) : 0, 1);
  wp_jw_lit(w, ",\"window_s\":");
  wp_jw_num(w, dt, 3);
  wp_jw_lit(w, "},\"totals\":{\"spawns\":");
  wp_jw_uint(w, now.spawned);
  wp_jw_lit(w, ",\"exits\":");
  wp_jw_uint(w, exits);
  wp_jw_lit(w, ",\"msgs\":");
  wp_jw_uint(w, now.msgs);
  wp_jw_lit(w, "},\"memory\":{\"rss_bytes\":");
  wp_jw_uint(w, wp_ctlview_rss());
  wp_jw_lit(w, ",\"process_bytes\":");
  wp_jw_int(w, wk.c.mem);
  wp_jw_lit(w, "},\"sort\":");
  wp_jw_cstr(w, sort == WP_CTLVIEW_SORT_MAILBOX ? "mailbox" : sort == WP_CTLVIEW_SORT_CPU ? "cpu"
                                                                                         : "mem");
  wp_jw_lit(w, ",\"top\":[");
  for (int i = 0; i < wk.n; i++) {
    if (i) wp_jw_lit(w, ",");
    top_json(&wk.heap[i], w);
    wp_free(wk.heap[i].pid);
  }
  wp_jw_lit(w, "],\"services\":");
  services_json(rt, w);
  wp_jw_lit(w, "}");
  if (wk.oom || wk.c.oom) w->failed = 1;
  wp_free(wk.heap);
  wp_ctlview_census_free(&wk.c);
}

/* ---- inspect ---- */

/* Writes a JSON array of the pids of the processes in l (those still alive). */
static void handles_json(struct wp_ptab *pt, const struct wp_hlist *l, struct wp_jw *w) {
  wp_jw_lit(w, "[");
  int first = 1;
  for (uint32_t i = 0; i < l->n; i++) {
    struct wp_proc *q = wp_ptab_get(pt, l->v[i]);
    if (!q) continue;
    if (!first) wp_jw_lit(w, ",");
    first = 0;
    wp_jw_str(w, q->pid, q->pid_len);
    wp_proc_release(q);
  }
  wp_jw_lit(w, "]");
}

struct watching {
  wp_handle h;
  struct wp_jw *w;
  int n;
};

/* The processes `h` monitors: each keeps its watchers, so look at all. */
static void watched_one(struct wp_proc *q, void *ud) {
  struct watching *x = ud;
  if (!wp_proc_has_monitor(q, x->h)) return;
  if (x->n++) wp_jw_lit(x->w, ",");
  wp_jw_str(x->w, q->pid, q->pid_len);
}

static void name_json(void *ud, const char *s, size_t len) {
  struct wp_jw *w = ud;
  if (w->b.len && w->b.data[w->b.len - 1] != '[') wp_jw_lit(w, ",");
  wp_jw_str(w, s, len);
}

static void inspect_error(struct wp_jw *w, const char *msg, const char *t, size_t tl,
                          const char *state) {
  char m[200];
  snprintf(m, sizeof m, "%s", msg);
  wp_jw_lit(w, "{\"ok\":false,\"error\":");
  struct wp_jw e = {WP_BUF_INIT, 0};
  const char *pct = strstr(m, "%s");
  if (pct) {
    wp_jw_raw(&e, m, (size_t)(pct - m));
    wp_jw_raw(&e, t, tl > 200 ? 200 : tl);
    wp_jw_lit(&e, pct + 2);
  } else {
    wp_jw_lit(&e, m);
  }
  wp_jw_str(w, e.failed ? msg : (const char *)e.b.data, e.failed ? strlen(msg) : e.b.len);
  wp_jw_free(&e);
  if (state) {
    wp_jw_lit(w, ",\"state\":");
    wp_jw_cstr(w, state);
  }
  wp_jw_lit(w, "}");
}

void wp_ctlview_inspect(struct wp_ctlview *v, const char *t, size_t tl, struct wp_jw *w) {
  struct wp_rt *rt = v->rt;
  struct wp_ptab *pt = wp_sched_ptab(rt->sched);
  const char *kind, *err;
  char cpid[256];
  const char *dest = t;
  size_t dlen = tl;
  uint64_t counter = wp_pid_parse(t, tl);
  if (!counter && rt->names_lookup) { /* a cluster-wide name: to its pid first */
    int scope;
    size_t n = rt->names_lookup(rt, t, tl, cpid, sizeof cpid, &scope);
    if (n && n <= sizeof cpid) {
      dest = cpid;
      dlen = n;
    }
  }
  struct wp_proc *p = wp_rt_resolve(rt, dest, dlen, &kind, &err);
  if (!p) {
    uint64_t c = wp_pid_parse(dest, dlen);
    if (err == wp_rt_node_down)
      inspect_error(w, "%s is a pid of another node: inspect it there", dest, dlen, NULL);
    else if (c && c > v->base_counter && c <= wp_ptab_counter(pt) &&
             !(err && strcmp(err, "host not found") == 0))
      inspect_error(w, "process %s has ended", dest, dlen, "ended");
    else if (c)
      inspect_error(w, "no process %s on this node", dest, dlen, NULL);
    else
      inspect_error(w, "no process registered as %s", t, tl, NULL);
    return;
  }
  struct wp_observe_proc o;
  wp_observe_proc(p, &o);
  wp_jw_lit(w, "{\"ok\":true,\"pid\":");
  wp_jw_str(w, o.pid, o.pid_len);
  wp_jw_lit(w, ",\"entry\":");
  wp_jw_cstr(w, o.entry);
  wp_jw_lit(w, ",\"host\":");
  wp_jw_cstr(w, o.host);
  wp_jw_lit(w, ",\"state\":");
  wp_jw_cstr(w, o.state);
  wp_jw_lit(w, ",\"blocked_in\":");
  wp_jw_cstr(w, o.wait);
  wp_jw_lit(w, ",\"mailbox\":");
  wp_jw_uint(w, o.mailbox);
  wp_jw_lit(w, ",\"mem_bytes\":");
  wp_jw_int(w, o.mem);
  wp_jw_lit(w, ",\"cpu_ms\":");
  wp_jw_num(w, (double)o.cpu_ns / 1e6, 3);
  wp_jw_lit(w, ",\"service\":");
  if (o.svc) {
    struct wp_service_view sv;
    wp_services_view_of(rt, o.svc, &sv);
    wp_jw_cstr(w, sv.id);
  } else {
    wp_jw_lit(w, "null");
  }
  struct wp_hlist links = {0}, mons = {0};
  int remote = 0;
  wp_jw_lit(w, ",\"names\":[");
  int rc = wp_proc_relations(p, &links, &mons, name_json, w, &remote);
  wp_jw_lit(w, "],\"links\":");
  handles_json(pt, &links, w);
  wp_jw_lit(w, ",\"monitored_by\":");
  handles_json(pt, &mons, w);
  wp_jw_lit(w, ",\"monitors\":[");
  struct watching x = {p->handle, w, 0};
  wp_ptab_each(pt, watched_one, &x);
  wp_jw_lit(w, "],\"remote_relations\":");
  wp_jw_bool(w, remote);
  wp_jw_lit(w, ",\"cluster_names\":");
  wp_jw_bool(w, o.cluster_names);
  wp_jw_lit(w, "}");
  wp_hlist_free(&links);
  wp_hlist_free(&mons);
  if (rc == WP_ENOMEM) w->failed = 1;
  if (rc == WP_EDEAD) { /* it ended while we looked: say that instead */
    wp_jw_free(w);
    inspect_error(w, "process %s has ended", o.pid, o.pid_len, "ended");
  }
  wp_proc_release(p);
}
