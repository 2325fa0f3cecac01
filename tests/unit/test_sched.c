/*
** test_sched.c: the scheduler (sched/scheduler.c) with processes written in C.
**
** Each test process keeps a `struct tp` in p->vm and a behaviour function
** that drains its mailbox and says WAIT, YIELD or DONE, as the Lua VM would.
** The free op checks and frees the struct tp. Waiting in the main thread is
** bounded: processes signal `ctx.cv` when something the test waits for
** happened, and the wait gives up (failing the test) after a timeout.
*/
#include "test.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "alloc.h"
#include "clock.h"
#include "scheduler.h"

#ifdef __SANITIZE_THREAD__
#define SLOW 10 /* TSan runs about ten times slower */
#else
#define SLOW 1
#endif

#define TP_MAGIC UINT64_C(0x7e57c0de5eed0001)
#define MSG_MAGIC UINT64_C(0x4d5347d0d0cafe42)

/* {====================================================================
** Harness
** ===================================================================== */

struct tp;
typedef int (*behaviour)(struct wp_proc *p, struct tp *d);

struct tp {
  uint64_t magic;
  behaviour fn;
  _Atomic int running;     /* a process never runs on two workers at once */
  _Atomic uint64_t runs;
  _Atomic int preempted;   /* set by the preempt op */
  _Atomic int preempt_calls;
  _Atomic int done;        /* behaviour-specific completion flag */
  _Atomic uint64_t count;  /* behaviour-specific counter */
  wp_handle peer;
  uint64_t n, limit;
  uint64_t *seq;           /* per-sender sequence numbers */
  uint64_t aux[4];
};

struct ctx {
  pthread_mutex_t m;
  pthread_cond_t cv;
  _Atomic int spawned, frees;
  _Atomic uint64_t runs;
  _Atomic int errors;
  char error[256];
};

static struct ctx ctx = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, {0}};

/* Records a failure seen on a worker thread (aborting there would hide it
** behind other threads' output); the main thread checks ctx.errors. */
#define PFAIL(...)                                                      \
  do {                                                                  \
    pthread_mutex_lock(&ctx.m);                                         \
    if (atomic_fetch_add(&ctx.errors, 1) == 0) {                        \
      int n_ = snprintf(ctx.error, sizeof ctx.error, "%s:%d: ", __FILE__, __LINE__); \
      snprintf(ctx.error + n_, sizeof ctx.error - (size_t)n_, __VA_ARGS__); \
    }                                                                   \
    pthread_cond_broadcast(&ctx.cv);                                    \
    pthread_mutex_unlock(&ctx.m);                                       \
  } while (0)

#define PCHECK(c)                                                       \
  do {                                                                  \
    if (!(c)) PFAIL("%s", #c);                                          \
  } while (0)

static void check_errors(void) {
  if (atomic_load(&ctx.errors)) {
    pthread_mutex_lock(&ctx.m);
    TEST_FAIL("%d failure(s) in processes; first: %s", atomic_load(&ctx.errors), ctx.error);
  }
}

static void ctx_signal(void) {
  pthread_mutex_lock(&ctx.m);
  pthread_cond_broadcast(&ctx.cv);
  pthread_mutex_unlock(&ctx.m);
}

/* Waits until pred(ud) holds, at most timeout_ms (scaled under TSan).
** Returns 1 if it holds. A process failure ends the wait too. */
static int wait_for(int (*pred)(void *), void *ud, uint64_t timeout_ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t t = (uint64_t)ts.tv_nsec + (timeout_ms * SLOW % 1000u) * 1000000u;
  ts.tv_sec += (time_t)(timeout_ms * SLOW / 1000u + t / 1000000000u);
  ts.tv_nsec = (long)(t % 1000000000u);
  pthread_mutex_lock(&ctx.m);
  int ok;
  while (!(ok = pred(ud)) && !atomic_load(&ctx.errors))
    if (pthread_cond_timedwait(&ctx.cv, &ctx.m, &ts) != 0) {
      ok = pred(ud);
      break;
    }
  pthread_mutex_unlock(&ctx.m);
  return ok;
}

static int pred_flag(void *ud) { return atomic_load((_Atomic int *)ud) != 0; }

struct frees_at_least {
  int n;
};
static int pred_frees(void *ud) {
  return atomic_load(&ctx.frees) >= ((struct frees_at_least *)ud)->n;
}

static void wait_frees(int n, uint64_t timeout_ms) {
  struct frees_at_least f = {n};
  if (!wait_for(pred_frees, &f, timeout_ms)) {
    check_errors();
    TEST_FAIL("only %d of %d processes ended", atomic_load(&ctx.frees), n);
  }
  check_errors();
}

static void wait_flag(_Atomic int *flag, uint64_t timeout_ms, const char *what) {
  if (!wait_for(pred_flag, (void *)flag, timeout_ms)) {
    check_errors();
    TEST_FAIL("timed out waiting for %s", what);
  }
  check_errors();
}

/* ---- the ops ---- */

static int op_run(struct wp_proc *p) {
  struct tp *d = p->vm;
  if (!d || d->magic != TP_MAGIC) {
    PFAIL("run: bad process data");
    return WP_RUN_WAIT;
  }
  uint32_t st = atomic_load(&p->state);
  PCHECK(st == WP_PS_RUNNING || st == WP_PS_NOTIFIED);
  if (atomic_exchange(&d->running, 1) != 0) PFAIL("process %s run on two workers", p->pid);
  atomic_fetch_add(&d->runs, 1);
  atomic_fetch_add(&ctx.runs, 1);
  int r = d->fn(p, d);
  /* d outlives the call even for DONE: the table's reference goes only when
  ** the worker removes p after this returns */
  atomic_store(&d->running, 0);
  return r;
}

static _Atomic int g_preempts; /* preempt op calls since the last sched_start */

static void op_preempt(struct wp_proc *p) {
  struct tp *d = p->vm;
  atomic_fetch_add(&g_preempts, 1);
  if (!d || d->magic != TP_MAGIC) {
    PFAIL("preempt: bad process data");
    return;
  }
  atomic_fetch_add(&d->preempt_calls, 1);
  atomic_store(&d->preempted, 1);
}

static void op_free(struct wp_proc *p) {
  struct tp *d = p->vm;
  if (!d || d->magic != TP_MAGIC) {
    PFAIL("free: bad process data");
    return;
  }
  d->magic = 0;
  wp_free(d->seq);
  wp_free(d);
  p->vm = NULL;
  atomic_fetch_add(&ctx.frees, 1);
  ctx_signal();
}

static const struct wp_sched_ops ops = {.run = op_run, .preempt = op_preempt, .free = op_free};

static void ctx_reset(void) {
  atomic_store(&ctx.spawned, 0);
  atomic_store(&ctx.frees, 0);
  atomic_store(&ctx.runs, 0);
  atomic_store(&ctx.errors, 0);
  atomic_store(&g_preempts, 0);
  ctx.error[0] = '\0';
}

static struct wp_sched *sched_start_ops(int workers, uint64_t slice_ns,
                                        const struct wp_sched_ops *o) {
  ctx_reset();
  struct wp_sched *s = wp_sched_new(workers, o, &ctx);
  ASSERT(s != NULL);
  ASSERT_EQ(wp_sched_workers(s), workers);
  ASSERT(wp_sched_ud(s) == &ctx);
  if (slice_ns) wp_sched_set_slice(s, slice_ns);
  ASSERT_EQ(wp_sched_start(s), 0);
  return s;
}

static struct wp_sched *sched_start(int workers, uint64_t slice_ns) {
  return sched_start_ops(workers, slice_ns, &ops);
}

static void remove_left(struct wp_proc *p, void *ud) { wp_ptab_remove(ud, p); }

/* Stops, ends the processes still alive, checks every block was freed. */
static void sched_finish(struct wp_sched *s) {
  wp_sched_stop(s);
  struct wp_ptab *t = wp_sched_ptab(s);
  wp_ptab_each(t, remove_left, t);
  ASSERT_EQ(wp_ptab_count(t), 0);
  ASSERT_EQ(atomic_load(&ctx.frees), atomic_load(&ctx.spawned));
  struct wp_sched_stats st;
  wp_sched_stats(s, &st);
  ASSERT_EQ(st.runs, atomic_load(&ctx.runs));
  wp_sched_free(s);
  check_errors();
}

/* Creates a process (idle until something wakes it) in s's table. Returns
** it borrowed: it stays valid while it is in the table. */
static struct wp_proc *spawn(struct wp_sched *s, behaviour fn, struct tp **out) {
  struct tp *d = wp_calloc(1, sizeof *d);
  if (!d) return NULL;
  d->magic = TP_MAGIC;
  d->fn = fn;
  struct wp_proc *p = wp_proc_new(s, NULL);
  if (!p) {
    wp_free(d);
    return NULL;
  }
  p->vm = d;
  struct wp_ptab *t = wp_sched_ptab(s);
  p->counter = wp_ptab_next_counter(t);
  p->pid_len = (uint32_t)snprintf(p->pid, WP_PID_INLINE, "{test|0x%05" PRIx64 "}", p->counter);
  if (out) *out = d;
  atomic_fetch_add(&ctx.spawned, 1);
  if (wp_ptab_insert(t, p) != 0) {
    wp_proc_release(p); /* calls op_free */
    return NULL;
  }
  return p;
}

/* The payload of every test message. */
struct tmsg {
  uint64_t magic;
  uint64_t a, b;
  wp_handle from;
  uint64_t check;
};

static struct wp_msg *mkmsg(uint32_t kind, const char *from_pid, const char *topic,
                            wp_handle from, uint64_t a, uint64_t b) {
  struct tmsg t = {MSG_MAGIC, a, b, from, MSG_MAGIC ^ a ^ b ^ from};
  return wp_msg_new(kind, from_pid, strlen(from_pid), topic, strlen(topic), &t, sizeof t);
}

/* Sends to a process by handle: 0, or WP_ENOPROC if it is gone. */
static int send_msg(struct wp_sched *s, wp_handle to, const char *topic, wp_handle from,
                uint64_t a, uint64_t b) {
  struct wp_proc *q = wp_ptab_get(wp_sched_ptab(s), to);
  if (!q) return WP_ENOPROC;
  struct wp_msg *m = mkmsg(WP_MSG_USER, "", topic, from, a, b);
  if (!m) {
    wp_proc_release(q);
    return WP_ENOMEM;
  }
  wp_proc_deliver(q, m);
  wp_proc_release(q);
  return 0;
}

static int topic_is(struct wp_msg *m, const char *t) { return strcmp(wp_msg_topic(m), t) == 0; }

/* Decodes and checks a message's payload. */
static struct tmsg body(struct wp_msg *m) {
  struct tmsg t;
  memset(&t, 0, sizeof t);
  if (m->len != sizeof t) {
    PFAIL("message of %zu bytes", m->len);
    return t;
  }
  memcpy(&t, wp_msg_payload(m), sizeof t);
  if (t.magic != MSG_MAGIC || t.check != (t.magic ^ t.a ^ t.b ^ t.from))
    PFAIL("corrupt message (magic %" PRIx64 ")", t.magic);
  return t;
}

/* The exit work the VM does before reporting DONE: mark dead, tell the
** monitors (EXIT) and the linked processes (LINK_DOWN), release the names. */
static int finish(struct wp_proc *p) {
  struct wp_hlist mons, links;
  struct wp_name_ref *names;
  if (wp_proc_exit_begin(p, &mons, &links, &names) != 0) {
    PFAIL("exit_begin: %s already dead", p->pid);
    return WP_RUN_DONE;
  }
  struct wp_ptab *t = wp_sched_ptab(p->sched);
  for (uint32_t i = 0; i < mons.n; i++) {
    struct wp_proc *q = wp_ptab_get(t, mons.v[i]);
    if (!q) continue;
    struct wp_msg *m = mkmsg(WP_MSG_EXIT, p->pid, "", p->handle, 0, 0);
    if (m) wp_proc_deliver(q, m);
    wp_proc_release(q);
  }
  for (uint32_t i = 0; i < links.n; i++) {
    struct wp_proc *q = wp_ptab_get(t, links.v[i]);
    if (!q) continue;
    wp_proc_forget_link(q, p->handle);
    struct wp_msg *m = mkmsg(WP_MSG_LINK_DOWN, p->pid, "", p->handle, 0, 0);
    if (m) {
      m->flags = WP_MSG_F_ABNORMAL;
      wp_proc_deliver(q, m);
    }
    wp_proc_release(q);
  }
  wp_hlist_free(&mons);
  wp_hlist_free(&links);
  wp_names_release(wp_sched_names(p->sched), names, p->counter);
  return WP_RUN_DONE;
}

/* }==================================================================== */

/* {====================================================================
** Basic life cycle
** ===================================================================== */

static int echo_run(struct wp_proc *p, struct tp *d) {
  struct wp_msg *m;
  while ((m = wp_mbox_take_sc(&p->mbox)) != NULL) {
    struct tmsg t = body(m);
    int stop = topic_is(m, "stop");
    if (topic_is(m, "echo")) send_msg(p->sched, t.from, "echoed", p->handle, t.a, t.b);
    wp_msg_free(m);
    atomic_fetch_add(&d->count, 1);
    if (stop) return finish(p);
  }
  return WP_RUN_WAIT;
}

static int collect_run(struct wp_proc *p, struct tp *d) {
  struct wp_msg *m;
  while ((m = wp_mbox_take_sc(&p->mbox)) != NULL) {
    struct tmsg t = body(m);
    if (topic_is(m, "echoed")) {
      PCHECK(t.a == d->n);
      PCHECK(t.b == ~t.a);
      d->n++;
      if (d->n == d->limit) {
        atomic_store(&d->done, 1);
        ctx_signal();
      }
    }
    wp_msg_free(m);
  }
  return WP_RUN_WAIT;
}

TEST(start_stop_idle) {
  for (int w = 1; w <= 4; w++) {
    struct wp_sched *s = sched_start(w, 0);
    sched_finish(s);
  }
  /* created but never started */
  struct wp_sched *s = wp_sched_new(2, &ops, NULL);
  ASSERT(s != NULL);
  wp_sched_stop(s);
  wp_sched_free(s);
  return 0;
}

TEST(echo_and_done) {
  struct wp_sched *s = sched_start(2, 0);
  struct tp *ed, *cd;
  struct wp_proc *e = spawn(s, echo_run, &ed);
  struct wp_proc *c = spawn(s, collect_run, &cd);
  ASSERT(e && c);
  wp_handle eh = e->handle, ch = c->handle;
  cd->limit = 1000;
  ASSERT_EQ(atomic_load(&e->state), WP_PS_IDLE);
  for (uint64_t i = 0; i < 1000; i++) ASSERT_EQ(send_msg(s, eh, "echo", ch, i, ~i), 0);
  wait_flag(&cd->done, 10000, "the echoes");
  ASSERT_EQ(send_msg(s, eh, "stop", 0, 0, 0), 0);
  wait_frees(1, 10000);
  /* gone from the table at DONE */
  ASSERT(wp_ptab_get(wp_sched_ptab(s), eh) == NULL);
  ASSERT_EQ(send_msg(s, eh, "echo", ch, 0, 0), WP_ENOPROC);
  ASSERT_EQ(wp_ptab_count(wp_sched_ptab(s)), 1);
  sched_finish(s);
  return 0;
}

/* }==================================================================== */

/* {====================================================================
** Ping-pong: 100k round trips between two processes
** ===================================================================== */

static _Atomic uint64_t g_trips;

static int pp_run(struct wp_proc *p, struct tp *d) {
  struct wp_msg *m;
  while ((m = wp_mbox_take_sc(&p->mbox)) != NULL) {
    struct tmsg t = body(m);
    if (topic_is(m, "start")) {
      d->peer = t.a;
      d->n = 0;
      send_msg(p->sched, d->peer, "ping", p->handle, 0, 0);
    } else if (topic_is(m, "ping")) {
      if (t.a != d->n) PFAIL("ping %" PRIu64 ", expected %" PRIu64, t.a, d->n);
      d->n++;
      send_msg(p->sched, t.from, "pong", p->handle, t.a, 0);
    } else if (topic_is(m, "pong")) {
      if (t.a != d->n) PFAIL("pong %" PRIu64 ", expected %" PRIu64, t.a, d->n);
      d->n++;
      if (d->n == d->limit) {
        send_msg(p->sched, d->peer, "stop", p->handle, 0, 0);
        if (d->aux[0]) atomic_store(&g_trips, d->n);
        wp_msg_free(m);
        return finish(p);
      }
      send_msg(p->sched, d->peer, "ping", p->handle, d->n, 0);
    } else if (topic_is(m, "stop")) {
      wp_msg_free(m);
      return finish(p);
    } else {
      PFAIL("unexpected topic %s", wp_msg_topic(m));
    }
    wp_msg_free(m);
  }
  return WP_RUN_WAIT;
}

static int run_ping_pong(int workers, uint64_t trips) {
  struct wp_sched *s = sched_start(workers, 0);
  struct tp *ad, *bd;
  struct wp_proc *a = spawn(s, pp_run, &ad), *b = spawn(s, pp_run, &bd);
  ASSERT(a && b);
  ad->limit = trips;
  bd->limit = UINT64_MAX;
  ad->aux[0] = 1; /* the one that reports */
  atomic_store(&g_trips, 0);
  uint64_t t0 = wp_clock_ns();
  ASSERT_EQ(send_msg(s, a->handle, "start", 0, b->handle, 0), 0);
  wait_frees(2, 25000);
  uint64_t dt = wp_clock_ns() - t0;
  ASSERT_EQ(atomic_load(&g_trips), trips);
  fprintf(stderr, "# %d worker(s): %" PRIu64 " round trips in %.1f ms (%.2f us each)\n", workers,
          trips, (double)dt / 1e6, (double)dt / 1e3 / (double)trips);
  sched_finish(s);
  return 0;
}

TEST(ping_pong_1_worker) { return run_ping_pong(1, 100000 / SLOW); }
TEST(ping_pong_2_workers) { return run_ping_pong(2, 100000 / SLOW); }

/* The flush hook (wp_sched_set_flush): called on a worker thread, at
** least once every WP_SCHED_FLUSH_RUNS runs of a busy stretch (a ping-pong
** on one worker never runs out of work), and when the worker runs out of
** work (after the last run). */
static _Atomic uint64_t g_flushes, g_flush_off_worker, g_flush_runs, g_flush_idle;
static struct wp_sched *g_flush_sched;

static void count_flush(void *arg, int idle) {
  if (arg != &g_flushes) PFAIL("flush hook got the wrong argument");
  if (idle) atomic_fetch_add(&g_flush_idle, 1);
  if (!wp_sched_on_worker(g_flush_sched)) atomic_fetch_add(&g_flush_off_worker, 1);
  atomic_store(&g_flush_runs, atomic_load(&ctx.runs)); /* the runs before this call */
  atomic_fetch_add(&g_flushes, 1);
  ctx_signal();
}

static int pred_flushed_at(void *ud) { return atomic_load(&g_flush_runs) == *(uint64_t *)ud; }
static int pred_idle_flush(void *ud) {
  (void)ud;
  return atomic_load(&g_flush_idle) > 0;
}

TEST(flush_hook_busy_and_idle) {
  const uint64_t trips = 20000 / SLOW;
  ctx_reset();
  atomic_store(&g_flushes, 0);
  atomic_store(&g_flush_off_worker, 0);
  atomic_store(&g_flush_runs, 0);
  atomic_store(&g_flush_idle, 0);
  struct wp_sched *s = wp_sched_new(1, &ops, &ctx);
  ASSERT(s != NULL);
  g_flush_sched = s;
  wp_sched_set_flush(s, count_flush, &g_flushes);
  ASSERT_EQ(wp_sched_start(s), 0);
  ASSERT(!wp_sched_on_worker(s)); /* the main thread is none */
  ASSERT_EQ(wp_sched_run_id(s), 0);
  struct tp *ad, *bd;
  struct wp_proc *a = spawn(s, pp_run, &ad), *b = spawn(s, pp_run, &bd);
  ASSERT(a && b);
  ad->limit = trips;
  bd->limit = UINT64_MAX;
  ad->aux[0] = 1;
  atomic_store(&g_trips, 0);
  ASSERT_EQ(send_msg(s, a->handle, "start", 0, b->handle, 0), 0);
  wait_frees(2, 25000);
  ASSERT_EQ(atomic_load(&g_trips), trips);
  /* each trip is two runs, back to back on the one worker */
  uint64_t runs = atomic_load(&ctx.runs), seen = atomic_load(&g_flushes);
  ASSERT(runs >= 2 * trips);
  ASSERT(seen >= runs / WP_SCHED_FLUSH_RUNS);
  /* nothing is left unflushed: a call comes after the last run (the
  ** worker runs out of work then, if the count did not bring one) */
  ASSERT(wait_for(pred_flushed_at, &runs, 5000));
  /* the busy stretch's calls say so; the worker ran out of work at least
  ** once (after the last run, when the two processes ended) */
  ASSERT(wait_for(pred_idle_flush, NULL, 5000));
  ASSERT(atomic_load(&g_flush_idle) < atomic_load(&g_flushes));
  ASSERT_EQ(atomic_load(&g_flush_off_worker), 0);
  sched_finish(s);
  return 0;
}

/* }==================================================================== */

/* {====================================================================
** YIELD requeues the process, and the others still run
** ===================================================================== */

static _Atomic int g_others_done;
static _Atomic int g_yielding; /* the yielder has yielded a few times */

static int yielder_run(struct wp_proc *p, struct tp *d) {
  struct wp_msg *m;
  while ((m = wp_mbox_take_sc(&p->mbox)) != NULL) wp_msg_free(m);
  d->n++;
  if (d->n == 10) {
    atomic_store(&g_yielding, 1);
    ctx_signal();
  }
  if (atomic_load(&g_others_done) == (int)d->limit) return finish(p);
  if (d->n > 50000000) {
    PFAIL("the others never ran");
    return finish(p);
  }
  return WP_RUN_YIELD;
}

static int once_run(struct wp_proc *p, struct tp *d) {
  struct wp_msg *m;
  int got = 0;
  while ((m = wp_mbox_take_sc(&p->mbox)) != NULL) {
    wp_msg_free(m);
    got++;
  }
  if (!got) PFAIL("run without a message");
  atomic_fetch_add(&g_others_done, 1);
  return finish(p);
}

static int run_yield_fairness(int workers, int nyielders) {
  enum { K = 200 };
  struct wp_sched *s = sched_start(workers, 0);
  atomic_store(&g_others_done, 0);
  atomic_store(&g_yielding, 0);
  for (int i = 0; i < nyielders; i++) {
    struct tp *yd;
    struct wp_proc *y = spawn(s, yielder_run, &yd);
    ASSERT(y != NULL);
    yd->limit = K;
    ASSERT_EQ(send_msg(s, y->handle, "go", 0, 0, 0), 0);
  }
  wait_flag(&g_yielding, 10000, "the yielder");
  /* the yielders keep every worker busy; these arrive through the inject
  ** queue and must still get their turn */
  for (int i = 0; i < K; i++) {
    struct wp_proc *o = spawn(s, once_run, NULL);
    ASSERT(o != NULL);
    ASSERT_EQ(send_msg(s, o->handle, "go", 0, 0, 0), 0);
  }
  wait_frees(K + nyielders, 20000);
  ASSERT_EQ(atomic_load(&g_others_done), K);
  sched_finish(s);
  return 0;
}

TEST(yield_requeues_1_worker) { return run_yield_fairness(1, 1); }
TEST(yield_requeues_2_workers) { return run_yield_fairness(2, 3); }

/* }==================================================================== */

/* {====================================================================
** Wake-ups are never lost
** ===================================================================== */

/* Counts messages, checks each sender's sequence; signals at every
** multiple of aux[0] and at limit. */
static int counter_run(struct wp_proc *p, struct tp *d) {
  struct wp_msg *m;
  while ((m = wp_mbox_take_sc(&p->mbox)) != NULL) {
    struct tmsg t = body(m);
    wp_msg_free(m);
    if (t.a >= d->aux[1]) {
      PFAIL("sender %" PRIu64 " out of range", t.a);
      continue;
    }
    if (t.b != d->seq[t.a])
      PFAIL("sender %" PRIu64 ": seq %" PRIu64 ", expected %" PRIu64, t.a, t.b, d->seq[t.a]);
    d->seq[t.a] = t.b + 1;
    uint64_t c = atomic_fetch_add(&d->count, 1) + 1;
    if (c == d->limit || (d->aux[0] && c % d->aux[0] == 0)) ctx_signal();
  }
  return WP_RUN_WAIT;
}

static struct wp_proc *spawn_counter(struct wp_sched *s, uint64_t senders, uint64_t limit,
                                     uint64_t signal_every, struct tp **out) {
  struct tp *d;
  struct wp_proc *p = spawn(s, counter_run, &d);
  ASSERT(p != NULL);
  d->seq = wp_calloc(senders, sizeof *d->seq);
  ASSERT(d->seq != NULL);
  d->aux[0] = signal_every;
  d->aux[1] = senders;
  d->limit = limit;
  *out = d;
  return p;
}

struct count_at_least {
  struct tp *d;
  uint64_t n;
};
static int pred_count(void *ud) {
  struct count_at_least *c = ud;
  return atomic_load(&c->d->count) >= c->n;
}

/* Producer threads send in rounds: one message each, then every producer
** waits until the consumer has seen the whole round. The consumer goes idle
** between rounds, so each round needs a wake-up that must not get lost. */
struct wround {
  struct wp_proc *consumer; /* referenced */
  struct tp *cd;
  uint64_t nprod, rounds;
  _Atomic int lost_round;
};

struct wround_arg {
  struct wround *w;
  uint64_t tid;
};

static void *round_producer(void *arg) {
  struct wround_arg *a = arg;
  struct wround *w = a->w;
  for (uint64_t r = 0; r < w->rounds; r++) {
    struct wp_msg *m = mkmsg(WP_MSG_USER, "", "n", 0, a->tid, r);
    if (!m) {
      PFAIL("out of memory");
      return NULL;
    }
    wp_proc_deliver(w->consumer, m);
    struct count_at_least c = {w->cd, (r + 1) * w->nprod};
    if (!wait_for(pred_count, &c, 5000)) {
      atomic_store(&w->lost_round, (int)r + 1);
      PFAIL("lost wake-up: round %" PRIu64 " stuck at %" PRIu64 " of %" PRIu64, r,
            (uint64_t)atomic_load(&w->cd->count), c.n);
      return NULL;
    }
  }
  return NULL;
}

static int run_round_wakes(int workers, uint64_t nprod, uint64_t rounds) {
  static struct wround w;
  memset(&w, 0, sizeof w);
  struct wp_sched *s = sched_start(workers, 0);
  w.nprod = nprod;
  w.rounds = rounds;
  w.consumer = spawn_counter(s, nprod, nprod * rounds, nprod, &w.cd);
  wp_proc_retain(w.consumer);
  pthread_t th[8];
  struct wround_arg args[8];
  ASSERT(nprod <= 8);
  for (uint64_t i = 0; i < nprod; i++) {
    args[i].w = &w;
    args[i].tid = i;
    ASSERT_EQ(pthread_create(&th[i], NULL, round_producer, &args[i]), 0);
  }
  for (uint64_t i = 0; i < nprod; i++) pthread_join(th[i], NULL);
  check_errors();
  ASSERT_EQ(atomic_load(&w.cd->count), nprod * rounds);
  wp_proc_release(w.consumer);
  sched_finish(s);
  return 0;
}

TEST(wakeups_rounds_1_worker) { return run_round_wakes(1, 3, 3000 / SLOW); }
TEST(wakeups_rounds_2_workers) { return run_round_wakes(2, 3, 3000 / SLOW); }

/* Free-running producer threads and producer processes flood one consumer
** that waits whenever its mailbox is empty; every message is counted. */
struct flood {
  struct wp_proc *consumer; /* referenced */
  uint64_t per;
};

struct flood_arg {
  struct flood *f;
  uint64_t tid;
};

static void *flood_producer(void *arg) {
  struct flood_arg *a = arg;
  for (uint64_t i = 0; i < a->f->per; i++) {
    struct wp_msg *m = mkmsg(WP_MSG_USER, "", "n", 0, a->tid, i);
    if (!m) {
      PFAIL("out of memory");
      return NULL;
    }
    wp_proc_deliver(a->f->consumer, m);
    if (i % 64 == 0) sched_yield();
  }
  return NULL;
}

/* A producer process: sends a burst of 16 per run and yields. */
static int burst_run(struct wp_proc *p, struct tp *d) {
  struct wp_msg *m;
  while ((m = wp_mbox_take_sc(&p->mbox)) != NULL) wp_msg_free(m);
  for (int k = 0; k < 16 && d->n < d->limit; k++, d->n++)
    send_msg(p->sched, d->peer, "n", p->handle, d->aux[0], d->n);
  if (d->n < d->limit) return WP_RUN_YIELD;
  return finish(p);
}

static int run_flood(int workers, uint64_t nthreads, uint64_t nprocs, uint64_t per) {
  static struct flood f;
  memset(&f, 0, sizeof f);
  struct wp_sched *s = sched_start(workers, 0);
  struct tp *cd;
  uint64_t senders = nthreads + nprocs, total = senders * per;
  f.consumer = spawn_counter(s, senders, total, 0, &cd);
  f.per = per;
  wp_proc_retain(f.consumer);
  for (uint64_t i = 0; i < nprocs; i++) {
    struct tp *bd;
    struct wp_proc *b = spawn(s, burst_run, &bd);
    ASSERT(b != NULL);
    bd->peer = f.consumer->handle;
    bd->aux[0] = nthreads + i;
    bd->limit = per;
    ASSERT_EQ(send_msg(s, b->handle, "go", 0, 0, 0), 0);
  }
  pthread_t th[8];
  struct flood_arg args[8];
  ASSERT(nthreads <= 8);
  for (uint64_t i = 0; i < nthreads; i++) {
    args[i].f = &f;
    args[i].tid = i;
    ASSERT_EQ(pthread_create(&th[i], NULL, flood_producer, &args[i]), 0);
  }
  for (uint64_t i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
  struct count_at_least c = {cd, total};
  if (!wait_for(pred_count, &c, 10000)) {
    check_errors();
    TEST_FAIL("lost wake-up: %" PRIu64 " of %" PRIu64 " counted",
              (uint64_t)atomic_load(&cd->count), total);
  }
  wait_frees((int)nprocs, 10000);
  ASSERT_EQ(atomic_load(&cd->count), total);
  wp_proc_release(f.consumer);
  sched_finish(s);
  return 0;
}

TEST(wakeups_flood) { return run_flood(2, 4, 8, 20000 / SLOW); }
TEST(wakeups_flood_procs_only) { return run_flood(2, 0, 16, 10000 / SLOW); }

/* }==================================================================== */

/* {====================================================================
** Timers
** ===================================================================== */

enum { NT = 60, SENTINEL_ID = 999999 };

struct trec {
  uint64_t id[NT + 8];
  uint64_t at[NT + 8];
  uint64_t n;
  _Atomic int sentinel;
};
static struct trec g_trec;

static int timer_target_run(struct wp_proc *p, struct tp *d) {
  struct wp_msg *m;
  while ((m = wp_mbox_take_sc(&p->mbox)) != NULL) {
    if (m->kind != WP_MSG_TIMER) {
      PFAIL("kind %u, expected WP_MSG_TIMER", (unsigned)m->kind);
    } else if (g_trec.n >= NT + 8) {
      PFAIL("too many timer messages");
    } else {
      g_trec.id[g_trec.n] = m->aux;
      g_trec.at[g_trec.n] = wp_clock_ns();
      g_trec.n++;
      if (m->aux == SENTINEL_ID) {
        atomic_store(&g_trec.sentinel, 1);
        ctx_signal();
      }
    }
    wp_msg_free(m);
  }
  return WP_RUN_WAIT;
}

TEST(timers_deliver) {
  static struct wp_timer tm[NT], sentinel, orphan;
  uint64_t delay[NT], added[NT];
  int cancelled[NT];
  memset(&g_trec, 0, sizeof g_trec);
  struct wp_sched *s = sched_start(2, 0);
  struct wp_proc *tgt = spawn(s, timer_target_run, NULL);
  ASSERT(tgt != NULL);
  /* a timer for a process that is gone by then is dropped quietly */
  struct wp_proc *gone = spawn(s, echo_run, NULL);
  wp_handle gone_h = gone->handle;
  ASSERT_EQ(send_msg(s, gone_h, "stop", 0, 0, 0), 0);
  wait_frees(1, 5000);
  wp_timer_init(&orphan);
  orphan.id = 4242;
  orphan.target = gone_h;
  wp_sched_timer_add(s, &orphan, 1000000);

  uint64_t seed = 0x9e3779b97f4a7c15u;
  for (int i = 0; i < NT; i++) {
    seed = seed * 6364136223846793005u + 1442695040888963407u;
    delay[i] = (1 + (seed >> 33) % 40) * 1000000u + (seed >> 20) % 1000000u; /* 1-41 ms */
    if (i % 10 == 0) delay[i] = 0;  /* due at once */
    if (i % 6 == 5) delay[i] = 50000000u + (uint64_t)i * 500000u; /* 50-80 ms */
    wp_timer_init(&tm[i]);
    tm[i].id = 1000u + (uint64_t)i;
    tm[i].target = tgt->handle;
    added[i] = wp_clock_ns();
    wp_sched_timer_add(s, &tm[i], delay[i]);
    cancelled[i] = 0;
    if (i % 6 == 5) { /* cancelled at once: it must never arrive */
      cancelled[i] = wp_sched_timer_cancel(s, &tm[i]);
      ASSERT_EQ(cancelled[i], 1);
      ASSERT_EQ(wp_sched_timer_cancel(s, &tm[i]), 0); /* twice: nothing armed */
    }
  }
  wp_timer_init(&sentinel);
  sentinel.id = SENTINEL_ID;
  sentinel.target = tgt->handle;
  wp_sched_timer_add(s, &sentinel, 100000000u); /* after all of them */
  wait_flag(&g_trec.sentinel, 10000, "the sentinel timer");

  /* every timer not cancelled arrived once, never early, in deadline order */
  int seen[NT] = {0};
  uint64_t last_deadline = 0;
  for (uint64_t k = 0; k < g_trec.n; k++) {
    uint64_t id = g_trec.id[k];
    if (id == SENTINEL_ID) {
      ASSERT_EQ(k, g_trec.n - 1);
      continue;
    }
    ASSERT(id != 4242);
    ASSERT(id >= 1000 && id < 1000 + NT);
    int i = (int)(id - 1000);
    ASSERT_EQ(seen[i]++, 0);
    ASSERT(!cancelled[i]);
    if (g_trec.at[k] < added[i] + delay[i])
      TEST_FAIL("timer %d fired %" PRIu64 " ns early", i, added[i] + delay[i] - g_trec.at[k]);
    ASSERT(tm[i].deadline >= last_deadline);
    last_deadline = tm[i].deadline;
  }
  for (int i = 0; i < NT; i++) {
    ASSERT_EQ(seen[i], !cancelled[i]);
    ASSERT_EQ(wp_sched_timer_cancel(s, &tm[i]), 0); /* fired or cancelled */
  }
  ASSERT_EQ(wp_sched_timer_cancel(s, &sentinel), 0);
  sched_finish(s);
  return 0;
}

/* A long timer cancelled before it fires; the scheduler stops promptly with
** timers still armed. */
TEST(timer_cancel_before_fire) {
  static struct wp_timer t[100];
  memset(&g_trec, 0, sizeof g_trec);
  struct wp_sched *s = sched_start(1, 0);
  struct wp_proc *tgt = spawn(s, timer_target_run, NULL);
  for (int i = 0; i < 100; i++) {
    wp_timer_init(&t[i]);
    t[i].id = (uint64_t)i;
    t[i].target = tgt->handle;
    wp_sched_timer_add(s, &t[i], (uint64_t)(i + 1) * 1000000000u); /* 1-100 s */
  }
  for (int i = 0; i < 100; i += 2) ASSERT_EQ(wp_sched_timer_cancel(s, &t[i]), 1);
  uint64_t t0 = wp_clock_ns();
  sched_finish(s); /* odd timers are still armed */
  ASSERT(wp_clock_ns() - t0 < 2000000000u);
  ASSERT_EQ(g_trec.n, 0);
  return 0;
}

/* }==================================================================== */

/* {====================================================================
** Preemption
** ===================================================================== */

static _Atomic int g_spun;

/* Spins in its first run until the preempt op flags it, then yields. */
static int spinner_run(struct wp_proc *p, struct tp *d) {
  struct wp_msg *m;
  while ((m = wp_mbox_take_sc(&p->mbox)) != NULL) wp_msg_free(m);
  if (d->n++ == 0) {
    /* measured from the run start the watchdog uses: this thread may lose
    ** its CPU between that and here on a loaded machine, and a
    ** preemption then comes early by this function's clock, rightly */
    uint64_t t0 = wp_sched_run_start(), limit = 10000000000u; /* failure bound */
    if (t0 == 0 || t0 > wp_clock_ns()) {
      PFAIL("no run start on a worker running a process");
      return finish(p);
    }
    while (!atomic_load(&d->preempted)) {
      if (wp_clock_ns() - t0 > limit) {
        PFAIL("never preempted");
        return finish(p);
      }
    }
    uint64_t spun = wp_clock_ns() - t0;
    /* a preemption before the slice is used up is a bug */
    if (spun < d->limit)
      PFAIL("preempted after %" PRIu64 " ns, slice %" PRIu64, spun, d->limit);
    if (atomic_load(&d->preempt_calls) != 1) PFAIL("preempt called %d times", atomic_load(&d->preempt_calls));
    atomic_fetch_add(&g_spun, 1);
    return WP_RUN_YIELD; /* as the VM does on a preemption */
  }
  atomic_store(&d->preempted, 0);
  return finish(p);
}

static int run_preempt(int workers, int nspin) {
  const uint64_t slice = 2000000; /* 2 ms */
  struct wp_sched *s = sched_start(workers, slice);
  atomic_store(&g_spun, 0);
  for (int i = 0; i < nspin; i++) {
    struct tp *d;
    struct wp_proc *p = spawn(s, spinner_run, &d);
    ASSERT(p != NULL);
    d->limit = slice;
    ASSERT_EQ(send_msg(s, p->handle, "go", 0, 0, 0), 0);
  }
  /* a well-behaved process still runs meanwhile */
  struct tp *cd;
  struct wp_proc *c = spawn(s, collect_run, &cd);
  struct wp_proc *e = spawn(s, echo_run, NULL);
  cd->limit = 10;
  for (uint64_t i = 0; i < 10; i++) ASSERT_EQ(send_msg(s, e->handle, "echo", c->handle, i, ~i), 0);
  wait_flag(&cd->done, 20000, "the echoes");
  wait_frees(nspin, 20000);
  ASSERT_EQ(atomic_load(&g_spun), nspin);
  sched_finish(s);
  return 0;
}

/*
** With a slice far longer than any run, the preempt op must never be called.
** The watchdog samples the clock once before it walks the workers and then
** computes `now - w->run_start` under each worker's lock: a run that started
** after the sample gives a negative difference, which wraps around as
** uint64_t and "exceeds" the slice, so a process that has just been picked
** up is preempted at once. Ping-pong starts a run every few hundred ns, so
** the watchdog (every 2 ms while workers are awake) hits that window often.
*/
TEST(no_preempt_within_slice) {
  struct wp_sched *s = sched_start(2, 5000000000u); /* 5 s */
  uint64_t t0 = wp_clock_ns();
  int rounds = 0;
  while (atomic_load(&g_preempts) == 0 && wp_clock_ns() - t0 < 1000000000u) {
    struct tp *ad, *bd;
    struct wp_proc *a = spawn(s, pp_run, &ad), *b = spawn(s, pp_run, &bd);
    ASSERT(a && b);
    ad->limit = 20000 / SLOW;
    bd->limit = UINT64_MAX;
    ASSERT_EQ(send_msg(s, a->handle, "start", 0, b->handle, 0), 0);
    rounds++;
    wait_frees(2 * rounds, 20000);
  }
  int n = atomic_load(&g_preempts);
  if (n) fprintf(stderr, "# BUG: %d spurious preemption(s) within a 5 s slice\n", n);
  ASSERT_EQ(n, 0);
  sched_finish(s);
  return 0;
}

/*
** A worker stuck in a run that cannot be preempted is replaced by a spare;
** when the run ends, the stuck worker retires. A process queued on its ring
** at that moment (here: the stuck process itself, requeued by its yield)
** must not be left there: with every remaining worker busy with its own
** ring nobody steals, so it would never run again. The hog keeps the one
** remaining worker busy (it yields on every run, so its own ring is never
** empty); the stuck process must still get its second run. Slices are long
** (20 ms, stuck after 80 ms) so that the kernel descheduling the hog's
** worker mid-run on a loaded machine does not make it a stuck worker too:
** the spare started for it would find its own ring empty and steal, and
** the test would pass without the hand-over.
*/
static _Atomic int g_stuck_started, g_stuck_again, g_hog_running, g_hog_stop;

static int hog_run(struct wp_proc *p, struct tp *d) {
  (void)d;
  struct wp_msg *m;
  while ((m = wp_mbox_take_sc(&p->mbox)) != NULL) wp_msg_free(m);
  atomic_store(&g_hog_running, 1);
  if (atomic_load(&g_hog_stop)) return finish(p);
  return WP_RUN_YIELD;
}

static int stuck_run(struct wp_proc *p, struct tp *d) {
  struct wp_msg *m;
  while ((m = wp_mbox_take_sc(&p->mbox)) != NULL) wp_msg_free(m);
  if (d->n++ == 0) {
    /* deaf to preemption, like a Lua callback inside a C call */
    atomic_store(&g_stuck_started, 1);
    ctx_signal();
    uint64_t t0 = wp_clock_ns(), limit = 10000000000u * SLOW; /* failure bound */
    while (!atomic_load(&g_hog_running)) {
      if (wp_clock_ns() - t0 > limit) {
        PFAIL("no spare worker ran the hog");
        return finish(p);
      }
    }
    return WP_RUN_YIELD;
  }
  atomic_store(&g_stuck_again, 1); /* not in d: freed when this run ends */
  ctx_signal();
  return finish(p);
}

TEST(retired_worker_queue_handed_over) {
  struct wp_sched *s = sched_start(1, 20000000); /* 20 ms slices (see above) */
  atomic_store(&g_stuck_started, 0);
  atomic_store(&g_stuck_again, 0);
  atomic_store(&g_hog_running, 0);
  atomic_store(&g_hog_stop, 0);
  struct wp_proc *st = spawn(s, stuck_run, NULL);
  ASSERT(st != NULL);
  ASSERT_EQ(send_msg(s, st->handle, "go", 0, 0, 0), 0);
  wait_flag(&g_stuck_started, 10000, "the stuck run");
  struct wp_proc *hog = spawn(s, hog_run, NULL); /* only a spare can run it */
  ASSERT(hog != NULL);
  ASSERT_EQ(send_msg(s, hog->handle, "go", 0, 0, 0), 0);
  int ran = wait_for(pred_flag, (void *)&g_stuck_again, 5000);
  atomic_store(&g_hog_stop, 1);
  check_errors();
  if (!ran) TEST_FAIL("BUG: the process queued on the retired worker never ran again");
  wait_frees(2, 10000);
  sched_finish(s);
  return 0;
}

TEST(preempt_1_worker) { return run_preempt(1, 1); }
TEST(preempt_2_workers) { return run_preempt(2, 3); }

/*
** Interrupts: a request made on one thread (the watchdog's preemption, a
** kill from the main thread) reaches the process as ops->interrupt called on
** the thread that runs it, in a signal handler: the only place where the VM
** may arm a hook on a running Lua state. The spinner never returns on its
** own; only an interrupt that saw the request on its own thread ends it.
*/
static _Thread_local struct tp *tl_spinning; /* the spinner running on this thread */
static _Atomic int g_int_calls, g_int_foreign;

static void op_interrupt(struct wp_proc *p) { /* a signal handler: atomics only */
  struct tp *d = p->vm;
  atomic_fetch_add(&g_int_calls, 1);
  if (tl_spinning != d) { /* called on a thread that does not run p */
    atomic_store(&g_int_foreign, 1);
    return;
  }
  if (atomic_load(&d->preempted) || atomic_load(&p->kill)) atomic_store(&d->done, 1);
}

static const struct wp_sched_ops int_ops = {
    .run = op_run, .preempt = op_preempt, .free = op_free, .interrupt = op_interrupt};

static int int_spinner_run(struct wp_proc *p, struct tp *d) {
  struct wp_msg *m;
  while ((m = wp_mbox_take_sc(&p->mbox)) != NULL) wp_msg_free(m);
  tl_spinning = d;
  atomic_store(&d->count, 1);
  ctx_signal();
  uint64_t t0 = wp_clock_ns();
  while (!atomic_load(&d->done)) {
    if (wp_clock_ns() - t0 > 10000000000u) { /* failure bound */
      PFAIL("no interrupt reached the running process");
      break;
    }
  }
  tl_spinning = NULL;
  return finish(p);
}

static int count_set(void *ud) { return atomic_load((_Atomic uint64_t *)ud) != 0; }

static int run_interrupt(int by_kill) {
  atomic_store(&g_int_calls, 0);
  atomic_store(&g_int_foreign, 0);
  /* by the watchdog: a 2 ms slice; by a kill: a slice it never reaches */
  struct wp_sched *s = sched_start_ops(2, by_kill ? 60000000000u : 2000000u, &int_ops);
  struct tp *d;
  struct wp_proc *p = spawn(s, int_spinner_run, &d);
  ASSERT(p != NULL);
  wp_handle h = p->handle;
  ASSERT_EQ(send_msg(s, h, "go", 0, 0, 0), 0);
  if (by_kill) {
    if (!wait_for(count_set, &d->count, 10000)) TEST_FAIL("the spinner never ran");
    struct wp_proc *q = wp_ptab_get(wp_sched_ptab(s), h);
    ASSERT(q != NULL);
    wp_proc_kill(q, WP_KILL_TERMINATE); /* from this (non-worker) thread */
    wp_proc_release(q);
  }
  wait_frees(1, 20000);
  ASSERT_EQ(atomic_load(&g_int_foreign), 0);
  ASSERT(atomic_load(&g_int_calls) >= 1);
  sched_finish(s);
  return 0;
}

TEST(interrupt_on_preemption) { return run_interrupt(0); }
TEST(interrupt_on_kill) { return run_interrupt(1); }

/* }==================================================================== */

/* {====================================================================
** Relations: monitors, links, exit
** ===================================================================== */

static int hl_has(struct wp_proc *p, const struct wp_hlist *l, wp_handle h) {
  int k = 0;
  pthread_mutex_lock(&p->lock);
  for (uint32_t i = 0; i < l->n; i++) k += l->v[i] == h;
  pthread_mutex_unlock(&p->lock);
  return k;
}

static uint32_t hl_len(struct wp_proc *p, const struct wp_hlist *l) {
  pthread_mutex_lock(&p->lock);
  uint32_t n = l->n;
  pthread_mutex_unlock(&p->lock);
  return n;
}

/* A relation across nodes (vm/remote.c) as wp_proc_remote_add records it:
** the callback's result; *arg counts its calls. */
static int remote_rc;
static int remote_add_cb(void *arg) {
  ++*(int *)arg;
  return remote_rc;
}

TEST(relations_semantics) {
  struct wp_sched *s = sched_start(1, 0);
  struct wp_proc *t = spawn(s, echo_run, NULL), *w = spawn(s, echo_run, NULL);
  struct wp_proc *a = spawn(s, echo_run, NULL), *b = spawn(s, echo_run, NULL);
  ASSERT(t && w && a && b);

  /* monitors */
  ASSERT_EQ(wp_proc_monitor(t, w->handle), 0);
  ASSERT_EQ(wp_proc_monitor(t, w->handle), WP_EEXIST);
  ASSERT_EQ(hl_has(t, &t->monitors, w->handle), 1);
  wp_proc_unmonitor(t, w->handle);
  ASSERT_EQ(hl_len(t, &t->monitors), 0);
  wp_proc_unmonitor(t, w->handle); /* not monitoring: no-op */
  ASSERT_EQ(wp_proc_monitor(t, w->handle), 0);
  ASSERT_EQ(wp_proc_monitor(t, a->handle), 0);
  ASSERT_EQ(hl_len(t, &t->monitors), 2);

  /* links are symmetric and idempotent */
  ASSERT_EQ(wp_proc_link(a, b), 0);
  ASSERT_EQ(wp_proc_link(b, a), 0);
  ASSERT_EQ(wp_proc_link(a, b), 0);
  ASSERT_EQ(hl_has(a, &a->links, b->handle), 1);
  ASSERT_EQ(hl_has(b, &b->links, a->handle), 1);
  ASSERT_EQ(hl_len(a, &a->links), 1);
  ASSERT_EQ(wp_proc_link(a, a), 0); /* self link: nothing recorded */
  ASSERT_EQ(hl_len(a, &a->links), 1);
  wp_proc_unlink(b, a);
  ASSERT_EQ(hl_len(a, &a->links), 0);
  ASSERT_EQ(hl_len(b, &b->links), 0);
  wp_proc_unlink(a, b); /* not linked: no-op */
  ASSERT_EQ(wp_proc_link(t, a), 0);
  ASSERT_EQ(wp_proc_link(b, t), 0);
  ASSERT_EQ(wp_proc_link(a, b), 0);
  wp_proc_forget_link(b, a->handle); /* one side only */
  ASSERT_EQ(hl_has(b, &b->links, a->handle), 0);
  ASSERT_EQ(hl_has(a, &a->links, b->handle), 1);
  wp_proc_unlink(a, b);

  /* across nodes: recorded under the lock while alive, marking the process
  ** only when the record was made */
  int calls = 0;
  remote_rc = WP_ENOMEM;
  ASSERT_EQ(wp_proc_remote_add(t, remote_add_cb, &calls), WP_ENOMEM);
  ASSERT_EQ(calls, 1);
  ASSERT_EQ(t->remote, 0);
  remote_rc = 0;
  ASSERT_EQ(wp_proc_remote_add(t, remote_add_cb, &calls), 0);
  ASSERT_EQ(calls, 2);
  ASSERT_EQ(t->remote, 1);
  ASSERT_EQ(b->remote, 0); /* local relations only: unmarked */

  /* exit: the lists move out, the process refuses new relations */
  ASSERT_EQ(wp_names_register(wp_sched_names(s), "t", 1, t), 0);
  struct wp_hlist mons, links;
  struct wp_name_ref *names;
  ASSERT_EQ(wp_proc_exit_begin(t, &mons, &links, &names), 0);
  ASSERT_EQ(mons.n, 2);
  ASSERT((mons.v[0] == w->handle && mons.v[1] == a->handle) ||
         (mons.v[0] == a->handle && mons.v[1] == w->handle));
  ASSERT_EQ(links.n, 2);
  ASSERT(names != NULL && strcmp(names->name, "t") == 0 && names->next == NULL);
  ASSERT_EQ(hl_len(t, &t->monitors), 0);
  ASSERT_EQ(hl_len(t, &t->links), 0);
  struct wp_hlist m2, l2;
  struct wp_name_ref *n2;
  ASSERT_EQ(wp_proc_exit_begin(t, &m2, &l2, &n2), WP_EDEAD);
  ASSERT_EQ(wp_proc_monitor(t, b->handle), WP_EDEAD);
  ASSERT_EQ(wp_proc_link(t, b), WP_EDEAD);
  ASSERT_EQ(wp_proc_link(b, t), WP_EDEAD);
  ASSERT_EQ(hl_len(t, &t->links), 0);
  ASSERT_EQ(hl_has(b, &b->links, t->handle), 1); /* the old link, not a new one */
  ASSERT_EQ(wp_names_register(wp_sched_names(s), "t2", 2, t), WP_EDEAD);
  ASSERT_EQ(wp_proc_remote_add(t, remote_add_cb, &calls), WP_EDEAD);
  ASSERT_EQ(calls, 2); /* refused without a call */
  wp_names_release(wp_sched_names(s), names, t->counter);
  ASSERT_EQ(wp_names_lookup(wp_sched_names(s), "t", 1), 0);
  for (uint32_t i = 0; i < links.n; i++) {
    struct wp_proc *q = wp_ptab_get(wp_sched_ptab(s), links.v[i]);
    ASSERT(q == a || q == b);
    wp_proc_forget_link(q, t->handle);
    wp_proc_release(q);
  }
  ASSERT_EQ(hl_len(a, &a->links), 0);
  ASSERT_EQ(hl_len(b, &b->links), 0);
  wp_hlist_free(&mons);
  wp_hlist_free(&links);
  sched_finish(s);
  return 0;
}

/* EXIT and LINK_DOWN reach the watcher and the linked process through their
** mailboxes, after the messages the exiting process sent before. */
static _Atomic int g_exit_seen;
static char g_exit_from[WP_PID_INLINE];

static int watcher_run(struct wp_proc *p, struct tp *d) {
  struct wp_msg *m;
  while ((m = wp_mbox_take_sc(&p->mbox)) != NULL) {
    struct tmsg t = body(m);
    if (m->kind == WP_MSG_USER && topic_is(m, "last")) {
      d->n++;
    } else if (m->kind == WP_MSG_EXIT) {
      if (d->n != 1) PFAIL("EXIT overtook the last message");
      if (t.from != d->peer) PFAIL("EXIT from the wrong process");
      snprintf(g_exit_from, sizeof g_exit_from, "%s", wp_msg_from(m));
      atomic_store(&g_exit_seen, 1);
      ctx_signal();
    } else if (m->kind == WP_MSG_LINK_DOWN) {
      /* a linked process that does not trap exits dies with its peer */
      if (d->n != 1) PFAIL("LINK_DOWN overtook the last message");
      if (!(m->flags & WP_MSG_F_ABNORMAL)) PFAIL("LINK_DOWN not abnormal");
      wp_msg_free(m);
      return finish(p);
    }
    wp_msg_free(m);
  }
  return WP_RUN_WAIT;
}

static int dying_run(struct wp_proc *p, struct tp *d) {
  struct wp_msg *m;
  while ((m = wp_mbox_take_sc(&p->mbox)) != NULL) {
    int die = topic_is(m, "die");
    wp_msg_free(m);
    if (die) {
      send_msg(p->sched, d->aux[0], "last", p->handle, 0, 0);
      send_msg(p->sched, d->aux[1], "last", p->handle, 0, 0);
      return finish(p);
    }
  }
  return WP_RUN_WAIT;
}

TEST(exit_notifies_monitors_and_links) {
  struct wp_sched *s = sched_start(2, 0);
  atomic_store(&g_exit_seen, 0);
  struct tp *td, *wd, *ld;
  struct wp_proc *t = spawn(s, dying_run, &td);
  struct wp_proc *w = spawn(s, watcher_run, &wd);
  struct wp_proc *l = spawn(s, watcher_run, &ld);
  ASSERT(t && w && l);
  wp_handle th = t->handle, lh = l->handle;
  char tpid[WP_PID_INLINE];
  memcpy(tpid, t->pid, t->pid_len + 1u);
  td->aux[0] = w->handle;
  td->aux[1] = l->handle;
  wd->peer = ld->peer = th;
  /* relations recorded before the process runs */
  ASSERT_EQ(wp_proc_monitor(t, w->handle), 0);
  ASSERT_EQ(wp_proc_link(t, l), 0);
  ASSERT_EQ(wp_names_register(wp_sched_names(s), "dying", 5, t), 0);
  ASSERT_EQ(send_msg(s, th, "die", 0, 0, 0), 0);
  wait_flag(&g_exit_seen, 10000, "the EXIT message");
  wait_frees(2, 10000); /* t, and l killed by its link */
  ASSERT_STREQ(g_exit_from, tpid);
  ASSERT(wp_ptab_get(wp_sched_ptab(s), th) == NULL);
  ASSERT(wp_ptab_get(wp_sched_ptab(s), lh) == NULL);
  ASSERT_EQ(wp_names_lookup(wp_sched_names(s), "dying", 5), 0);
  /* the watcher lives on, no longer linked or monitoring anything */
  struct wp_proc *q = wp_ptab_get(wp_sched_ptab(s), w->handle);
  ASSERT(q == w);
  wp_proc_release(q);
  sched_finish(s);
  return 0;
}

/* }==================================================================== */

/* {====================================================================
** Kill, spawning from processes, stopping with processes alive
** ===================================================================== */

static int killable_run(struct wp_proc *p, struct tp *d) {
  struct wp_msg *m;
  while ((m = wp_mbox_take_sc(&p->mbox)) != NULL) wp_msg_free(m);
  int k = atomic_load(&p->kill);
  if (k != WP_KILL_NONE) {
    if (k != WP_KILL_TERMINATE) PFAIL("kill reason %d", k);
    return finish(p);
  }
  return WP_RUN_WAIT;
}

TEST(kill_wakes_idle) {
  struct wp_sched *s = sched_start(2, 0);
  struct wp_proc *v[50];
  wp_handle h[50];
  for (int i = 0; i < 50; i++) {
    v[i] = spawn(s, killable_run, NULL);
    ASSERT(v[i] != NULL);
    h[i] = v[i]->handle;
  }
  /* half have run once and wait; the others never ran */
  for (int i = 0; i < 50; i += 2) ASSERT_EQ(send_msg(s, h[i], "hi", 0, 0, 0), 0);
  for (int i = 0; i < 50; i++) {
    struct wp_proc *q = wp_ptab_get(wp_sched_ptab(s), h[i]);
    ASSERT(q != NULL);
    wp_proc_kill(q, WP_KILL_TERMINATE);
    wp_proc_kill(q, WP_KILL_SHUTDOWN); /* the first reason stays */
    wp_proc_release(q);
  }
  wait_frees(50, 10000);
  ASSERT_EQ(wp_ptab_count(wp_sched_ptab(s)), 0);
  sched_finish(s);
  return 0;
}

/* A parent spawns children from inside its run; each child reports back
** and ends. */
static int child_run(struct wp_proc *p, struct tp *d) {
  struct wp_msg *m;
  while ((m = wp_mbox_take_sc(&p->mbox)) != NULL) {
    struct tmsg t = body(m);
    send_msg(p->sched, t.from, "child", p->handle, t.a, p->counter);
    wp_msg_free(m);
  }
  return finish(p);
}

static int parent_run(struct wp_proc *p, struct tp *d) {
  struct wp_msg *m;
  while ((m = wp_mbox_take_sc(&p->mbox)) != NULL) {
    struct tmsg t = body(m);
    if (topic_is(m, "go")) {
      for (uint64_t i = 0; i < d->limit; i++) {
        struct wp_proc *c = spawn(p->sched, child_run, NULL);
        if (!c) {
          PFAIL("spawn failed");
          break;
        }
        send_msg(p->sched, c->handle, "hello", p->handle, i, 0);
      }
    } else if (topic_is(m, "child")) {
      if (t.a >= d->limit) PFAIL("bad child index");
      d->n++;
      if (d->n == d->limit) {
        atomic_store(&d->done, 1);
        ctx_signal();
      }
    }
    wp_msg_free(m);
  }
  return WP_RUN_WAIT;
}

TEST(spawn_from_processes) {
  struct wp_sched *s = sched_start(2, 0);
  struct tp *pd;
  struct wp_proc *parent = spawn(s, parent_run, &pd);
  pd->limit = 5000 / SLOW; /* more than one ring: overflows to the inject queue */
  ASSERT_EQ(send_msg(s, parent->handle, "go", 0, 0, 0), 0);
  wait_flag(&pd->done, 20000, "the children");
  wait_frees((int)pd->limit, 10000);
  ASSERT_EQ(wp_ptab_count(wp_sched_ptab(s)), 1);
  sched_finish(s);
  return 0;
}

/* Stopping leaves runnable and idle processes in place; their blocks and
** the messages in their mailboxes are freed afterwards (LSan checks). */
TEST(stop_with_processes_alive) {
  struct wp_sched *s = sched_start(2, 0);
  struct tp *yd;
  struct wp_proc *y = spawn(s, yielder_run, &yd);
  atomic_store(&g_others_done, 0);
  atomic_store(&g_yielding, 0);
  yd->limit = 1u << 30; /* never done */
  ASSERT_EQ(send_msg(s, y->handle, "go", 0, 0, 0), 0);
  wait_flag(&g_yielding, 10000, "the yielder");
  for (int i = 0; i < 20; i++) {
    struct wp_proc *e = spawn(s, echo_run, NULL);
    ASSERT(e != NULL);
    if (i % 2) ASSERT_EQ(send_msg(s, e->handle, "noise", 0, 0, 0), 0);
  }
  sched_finish(s);
  return 0;
}

/* }==================================================================== */

TEST_LIST = {
  TEST_ENTRY(start_stop_idle),
  TEST_ENTRY(echo_and_done),
  TEST_ENTRY(ping_pong_1_worker),
  TEST_ENTRY(ping_pong_2_workers),
  TEST_ENTRY(flush_hook_busy_and_idle),
  TEST_ENTRY(yield_requeues_1_worker),
  TEST_ENTRY(yield_requeues_2_workers),
  TEST_ENTRY(wakeups_rounds_1_worker),
  TEST_ENTRY(wakeups_rounds_2_workers),
  TEST_ENTRY(wakeups_flood),
  TEST_ENTRY(wakeups_flood_procs_only),
  TEST_ENTRY(timers_deliver),
  TEST_ENTRY(timer_cancel_before_fire),
  TEST_ENTRY(no_preempt_within_slice),
  TEST_ENTRY(retired_worker_queue_handed_over),
  TEST_ENTRY(preempt_1_worker),
  TEST_ENTRY(preempt_2_workers),
  TEST_ENTRY(interrupt_on_preemption),
  TEST_ENTRY(interrupt_on_kill),
  TEST_ENTRY(relations_semantics),
  TEST_ENTRY(exit_notifies_monitors_and_links),
  TEST_ENTRY(kill_wakes_idle),
  TEST_ENTRY(spawn_from_processes),
  TEST_ENTRY(stop_with_processes_alive),
  TEST_END
};
