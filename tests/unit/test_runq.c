/* test_runq.c: the per-worker ring and the inject queue (sched/runq.c). */
#include "test.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "alloc.h"
#include "runq.h"

/* The queues never dereference a process except the inject queue's `qnext`,
** so plain zeroed blocks stand in for processes. */
static struct wp_proc *procs_new(size_t n) {
  struct wp_proc *v = wp_calloc(n, sizeof *v);
  ASSERT(v != NULL);
  return v;
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Steals, retrying a bounded number of times: trydequeue may fail spuriously
** on a lost race, so a single NULL does not prove the ring empty. */
static struct wp_proc *steal_retry(struct wp_runq *q) {
  for (int i = 0; i < 1000; i++) {
    struct wp_proc *p = wp_runq_steal(q);
    if (p) return p;
    if (wp_runq_size(q) == 0) return NULL;
  }
  return NULL;
}

/* {====================================================================
** Ring, one thread
** ===================================================================== */

TEST(ring_push_pop_fifo) {
  struct wp_runq q;
  ASSERT_EQ(wp_runq_init(&q, 64), 0);
  struct wp_proc *v = procs_new(40);
  ASSERT(wp_runq_pop_owner(&q) == NULL);
  ASSERT(wp_runq_steal(&q) == NULL);
  ASSERT_EQ(wp_runq_size(&q), 0);
  for (int i = 0; i < 40; i++) {
    ASSERT(wp_runq_push_owner(&q, &v[i]));
    ASSERT_EQ(wp_runq_size(&q), i + 1);
  }
  for (int i = 0; i < 40; i++) ASSERT(wp_runq_pop_owner(&q) == &v[i]);
  ASSERT(wp_runq_pop_owner(&q) == NULL);
  ASSERT_EQ(wp_runq_size(&q), 0);
  wp_runq_destroy(&q);
  wp_free(v);
  return 0;
}

TEST(ring_full_at_size_minus_one) {
  static const unsigned sizes[] = {2, 4, 8, 64, 4096};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    unsigned size = sizes[k];
    struct wp_runq q;
    ASSERT_EQ(wp_runq_init(&q, size), 0);
    struct wp_proc *v = procs_new(size + 1);
    for (unsigned i = 0; i < size - 1; i++) ASSERT(wp_runq_push_owner(&q, &v[i]));
    ASSERT_EQ(wp_runq_size(&q), size - 1);
    /* full: the push is refused and the ring is unchanged */
    ASSERT(!wp_runq_push_owner(&q, &v[size - 1]));
    ASSERT(!wp_runq_push_owner(&q, &v[size]));
    ASSERT_EQ(wp_runq_size(&q), size - 1);
    /* one out, one in again */
    ASSERT(wp_runq_pop_owner(&q) == &v[0]);
    ASSERT(wp_runq_push_owner(&q, &v[size - 1]));
    ASSERT(!wp_runq_push_owner(&q, &v[size]));
    for (unsigned i = 1; i < size; i++) ASSERT(wp_runq_pop_owner(&q) == &v[i]);
    ASSERT(wp_runq_pop_owner(&q) == NULL);
    wp_runq_destroy(&q);
    wp_free(v);
  }
  return 0;
}

/* Thieves take the oldest entry too; owner and thief share one FIFO. */
TEST(ring_steal_oldest) {
  struct wp_runq q;
  ASSERT_EQ(wp_runq_init(&q, 16), 0);
  struct wp_proc *v = procs_new(6);
  for (int i = 0; i < 6; i++) ASSERT(wp_runq_push_owner(&q, &v[i]));
  ASSERT(steal_retry(&q) == &v[0]);
  ASSERT(wp_runq_pop_owner(&q) == &v[1]);
  ASSERT(steal_retry(&q) == &v[2]);
  ASSERT(steal_retry(&q) == &v[3]);
  ASSERT(wp_runq_pop_owner(&q) == &v[4]);
  ASSERT_EQ(wp_runq_size(&q), 1);
  ASSERT(steal_retry(&q) == &v[5]);
  ASSERT(steal_retry(&q) == NULL);
  ASSERT(wp_runq_pop_owner(&q) == NULL);
  wp_runq_destroy(&q);
  wp_free(v);
  return 0;
}

/* Many laps around a small ring: indices wrap without losing order. */
TEST(ring_wraparound) {
  struct wp_runq q;
  ASSERT_EQ(wp_runq_init(&q, 8), 0);
  struct wp_proc *v = procs_new(7);
  unsigned in = 0, out = 0;
  for (int lap = 0; lap < 10000; lap++) {
    unsigned n = 1 + (unsigned)lap % 7;
    for (unsigned i = 0; i < n; i++) ASSERT(wp_runq_push_owner(&q, &v[(in + i) % 7]));
    in += n;
    for (unsigned i = 0; i < n; i++) {
      struct wp_proc *p = (i & 1) ? steal_retry(&q) : wp_runq_pop_owner(&q);
      ASSERT(p == &v[out % 7]);
      out++;
    }
    ASSERT_EQ(wp_runq_size(&q), 0);
  }
  ASSERT_EQ(in, out);
  wp_runq_destroy(&q);
  wp_free(v);
  return 0;
}

/* }==================================================================== */

/* {====================================================================
** Ring, owner and thieves concurrently
** ===================================================================== */

struct race {
  struct wp_runq q;
  struct wp_proc *v;
  _Atomic unsigned char *seen; /* times each item was taken */
  size_t n;
  _Atomic size_t taken;
  _Atomic size_t stolen;
  _Atomic int go;
};

static void take(struct race *r, struct wp_proc *p) {
  size_t i = (size_t)(p - r->v);
  ASSERT(i < r->n);
  ASSERT_EQ(atomic_fetch_add(&r->seen[i], 1), 0);
  atomic_fetch_add(&r->taken, 1);
}

static void *thief(void *arg) {
  struct race *r = arg;
  while (!atomic_load(&r->go)) sched_yield();
  uint64_t deadline = now_ms() + 20000;
  unsigned misses = 0;
  while (atomic_load(&r->taken) < r->n) {
    struct wp_proc *p = wp_runq_steal(&r->q);
    if (p) {
      take(r, p);
      atomic_fetch_add(&r->stolen, 1);
      misses = 0;
      continue;
    }
    /* empty or a lost race: never give up on one failure, re-check */
    if (++misses % 64 == 0) {
      sched_yield();
      if (now_ms() > deadline) TEST_FAIL("thief: stuck at %zu", atomic_load(&r->taken));
    }
  }
  return NULL;
}

static int run_race(int nthieves, size_t n, unsigned size) {
  static struct race r;
  memset(&r, 0, sizeof r);
  ASSERT_EQ(wp_runq_init(&r.q, size), 0);
  r.n = n;
  r.v = procs_new(n);
  r.seen = wp_calloc(n, sizeof *r.seen);
  ASSERT(r.seen != NULL);
  pthread_t th[8];
  ASSERT(nthieves <= 8);
  for (int i = 0; i < nthieves; i++) ASSERT_EQ(pthread_create(&th[i], NULL, thief, &r), 0);
  atomic_store(&r.go, 1);
  /* the owner pushes everything, taking from its own ring when it is full
  ** and now and then anyway */
  uint64_t deadline = now_ms() + 20000;
  for (size_t i = 0; i < n; i++) {
    while (!wp_runq_push_owner(&r.q, &r.v[i])) {
      struct wp_proc *p = wp_runq_pop_owner(&r.q);
      if (p) take(&r, p);
      if (now_ms() > deadline) TEST_FAIL("owner: ring stays full");
    }
    if (i % 5 == 0) {
      struct wp_proc *p = wp_runq_pop_owner(&r.q);
      if (p) take(&r, p);
    }
  }
  struct wp_proc *p;
  while ((p = wp_runq_pop_owner(&r.q)) != NULL) take(&r, p);
  for (int i = 0; i < nthieves; i++) pthread_join(th[i], NULL);
  ASSERT_EQ(atomic_load(&r.taken), n);
  for (size_t i = 0; i < n; i++) ASSERT_EQ(atomic_load(&r.seen[i]), 1);
  ASSERT(wp_runq_pop_owner(&r.q) == NULL);
  ASSERT(wp_runq_steal(&r.q) == NULL);
  wp_runq_destroy(&r.q);
  wp_free(r.v);
  wp_free((void *)r.seen);
  return 0;
}

TEST(ring_owner_and_thieves) { return run_race(3, 200000, 256); }
TEST(ring_small_contended) { return run_race(2, 100000, 4); }

/* }==================================================================== */

/* {====================================================================
** Inject queue
** ===================================================================== */

TEST(inject_fifo) {
  struct wp_injectq q;
  wp_injectq_init(&q);
  struct wp_proc *v = procs_new(100);
  ASSERT(wp_injectq_pop(&q) == NULL);
  ASSERT_EQ(wp_injectq_len(&q), 0);
  for (int i = 0; i < 100; i++) {
    wp_injectq_push(&q, &v[i]);
    ASSERT_EQ(wp_injectq_len(&q), i + 1);
  }
  for (int i = 0; i < 50; i++) ASSERT(wp_injectq_pop(&q) == &v[i]);
  /* push after partial drain: still FIFO, the tail is kept right */
  wp_injectq_push(&q, &v[0]);
  for (int i = 50; i < 100; i++) ASSERT(wp_injectq_pop(&q) == &v[i]);
  ASSERT(wp_injectq_pop(&q) == &v[0]);
  ASSERT(wp_injectq_pop(&q) == NULL);
  ASSERT_EQ(wp_injectq_len(&q), 0);
  /* empty, then reused */
  wp_injectq_push(&q, &v[7]);
  ASSERT(wp_injectq_pop(&q) == &v[7]);
  ASSERT(wp_injectq_pop(&q) == NULL);
  wp_injectq_destroy(&q);
  wp_free(v);
  return 0;
}

struct inj {
  struct wp_injectq q;
  struct wp_proc *v;
  size_t per;
  _Atomic int go;
};

struct inj_arg {
  struct inj *in;
  size_t tid;
};

static void *inj_producer(void *arg) {
  struct inj_arg *a = arg;
  while (!atomic_load(&a->in->go)) sched_yield();
  for (size_t i = 0; i < a->in->per; i++) wp_injectq_push(&a->in->q, &a->in->v[a->tid * a->in->per + i]);
  return NULL;
}

/* Several pushers, one popper: per-pusher order kept, nothing lost. */
TEST(inject_many_pushers) {
  enum { P = 4 };
  static struct inj in;
  memset(&in, 0, sizeof in);
  wp_injectq_init(&in.q);
  in.per = 20000;
  in.v = procs_new(P * in.per);
  pthread_t th[P];
  struct inj_arg args[P];
  for (size_t i = 0; i < P; i++) {
    args[i].in = &in;
    args[i].tid = i;
    ASSERT_EQ(pthread_create(&th[i], NULL, inj_producer, &args[i]), 0);
  }
  atomic_store(&in.go, 1);
  size_t next[P] = {0}, total = 0;
  uint64_t deadline = now_ms() + 20000;
  while (total < P * in.per) {
    struct wp_proc *p = wp_injectq_pop(&in.q);
    if (!p) {
      if (now_ms() > deadline) TEST_FAIL("inject: %zu arrived", total);
      sched_yield();
      continue;
    }
    size_t i = (size_t)(p - in.v), tid = i / in.per;
    ASSERT(tid < P);
    ASSERT_EQ(i % in.per, next[tid]);
    next[tid]++;
    total++;
  }
  for (int i = 0; i < P; i++) pthread_join(th[i], NULL);
  ASSERT(wp_injectq_pop(&in.q) == NULL);
  ASSERT_EQ(wp_injectq_len(&in.q), 0);
  wp_injectq_destroy(&in.q);
  wp_free(in.v);
  return 0;
}

/* }==================================================================== */

TEST_LIST = {
  TEST_ENTRY(ring_push_pop_fifo),
  TEST_ENTRY(ring_full_at_size_minus_one),
  TEST_ENTRY(ring_steal_oldest),
  TEST_ENTRY(ring_wraparound),
  TEST_ENTRY(ring_owner_and_thieves),
  TEST_ENTRY(ring_small_contended),
  TEST_ENTRY(inject_fifo),
  TEST_ENTRY(inject_many_pushers),
  TEST_END
};
