/* test_ptab.c: the process table (sched/ptab.c) and process references. */
#include "test.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "ptab.h"
#include "scheduler.h"

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A process with no scheduler (wp_proc_release calls the free hook only
** when p->sched is set; nothing here wakes it). */
static struct wp_proc *mkproc(struct wp_ptab *t, struct wp_sched *s) {
  struct wp_proc *p = wp_proc_new(s, NULL);
  ASSERT(p != NULL);
  ASSERT_EQ(atomic_load(&p->refs), 1);
  ASSERT_EQ(atomic_load(&p->state), WP_PS_IDLE);
  p->counter = wp_ptab_next_counter(t);
  int n = snprintf(p->pid, WP_PID_INLINE, "{test|0x%05" PRIx64 "}", p->counter);
  p->pid_len = (uint32_t)n;
  return p;
}

static struct wp_proc *spawn(struct wp_ptab *t) {
  struct wp_proc *p = mkproc(t, NULL);
  ASSERT_EQ(wp_ptab_insert(t, p), 0);
  return p;
}

static uint32_t slot_of(wp_handle h) { return (uint32_t)(h & ((UINT64_C(1) << WP_PTAB_IDX_BITS) - 1)); }
static uint64_t gen_of(wp_handle h) { return h >> WP_PTAB_IDX_BITS; }
static wp_handle handle_of(uint64_t gen, uint32_t slot) {
  return (gen << WP_PTAB_IDX_BITS) | slot;
}

TEST(counter_starts_at_one) {
  struct wp_ptab *t = wp_ptab_new();
  ASSERT(t != NULL);
  for (uint64_t i = 1; i <= 1000; i++) ASSERT_EQ(wp_ptab_next_counter(t), i);
  wp_ptab_free(t);
  /* each table has its own counter */
  t = wp_ptab_new();
  ASSERT_EQ(wp_ptab_next_counter(t), 1);
  ASSERT_EQ(wp_ptab_next_counter(t), 2);
  wp_ptab_free(t);
  return 0;
}

TEST(counter_seeded) {
  struct wp_ptab *t = wp_ptab_new();
  ASSERT(t != NULL);
  wp_ptab_seed_counter(t, UINT64_C(3) << 36);
  ASSERT_EQ(wp_ptab_next_counter(t), (UINT64_C(3) << 36) + 1);
  ASSERT_EQ(wp_ptab_next_counter(t), (UINT64_C(3) << 36) + 2);
  /* a process under a seeded counter is found by it */
  struct wp_proc *p = spawn(t);
  ASSERT_EQ(p->counter, (UINT64_C(3) << 36) + 3);
  struct wp_proc *q = wp_ptab_get_counter(t, p->counter);
  ASSERT(q == p);
  wp_proc_release(q);
  wp_ptab_remove(t, p);
  wp_ptab_free(t);
  return 0;
}

TEST(insert_get_remove) {
  struct wp_ptab *t = wp_ptab_new();
  ASSERT(t != NULL);
  ASSERT_EQ(wp_ptab_count(t), 0);
  ASSERT(wp_ptab_get_counter(t, 1) == NULL); /* empty table */
  struct wp_proc *a = spawn(t), *b = spawn(t);
  ASSERT_EQ(a->counter, 1);
  ASSERT_EQ(b->counter, 2);
  ASSERT(a->handle != b->handle);
  ASSERT_EQ(wp_ptab_count(t), 2);

  struct wp_proc *q = wp_ptab_get(t, a->handle);
  ASSERT(q == a);
  ASSERT_EQ(atomic_load(&a->refs), 2);
  wp_proc_release(q);
  ASSERT_EQ(atomic_load(&a->refs), 1);
  q = wp_ptab_get(t, b->handle);
  ASSERT(q == b);
  wp_proc_release(q);
  q = wp_ptab_get_counter(t, 2);
  ASSERT(q == b);
  wp_proc_release(q);
  q = wp_ptab_get_counter(t, 1);
  ASSERT(q == a);
  wp_proc_release(q);
  ASSERT(wp_ptab_get_counter(t, 3) == NULL);
  ASSERT(wp_ptab_get_counter(t, 0) == NULL);
  /* handles of slots never handed out, and far out of range */
  ASSERT(wp_ptab_get(t, (wp_handle)12345) == NULL);
  ASSERT(wp_ptab_get(t, (wp_handle)0xffffffffu) == NULL);
  ASSERT(wp_ptab_get(t, handle_of(7, slot_of(a->handle))) == NULL);
  ASSERT(wp_ptab_get(t, ~(wp_handle)0) == NULL);

  wp_handle ha = a->handle;
  wp_ptab_remove(t, a); /* frees a: the table held the only reference */
  ASSERT_EQ(wp_ptab_count(t), 1);
  ASSERT(wp_ptab_get(t, ha) == NULL);
  ASSERT(wp_ptab_get_counter(t, 1) == NULL);
  q = wp_ptab_get_counter(t, 2);
  ASSERT(q == b);
  wp_proc_release(q);
  wp_ptab_remove(t, b);
  ASSERT_EQ(wp_ptab_count(t), 0);
  wp_ptab_free(t);
  return 0;
}

/* WP_HANDLE_NONE (0) must never name a process. The first slot's first
** generation encodes as 0, so the very first process gets handle 0. */
TEST(handle_none_is_never_issued) {
  struct wp_ptab *t = wp_ptab_new();
  struct wp_proc *a = spawn(t);
  if (a->handle == WP_HANDLE_NONE)
    fprintf(stderr, "# BUG: the first process was issued WP_HANDLE_NONE\n");
  ASSERT(a->handle != WP_HANDLE_NONE);
  ASSERT(wp_ptab_get(t, WP_HANDLE_NONE) == NULL);
  wp_ptab_remove(t, a);
  wp_ptab_free(t);
  return 0;
}

TEST(stale_handle_after_reuse) {
  struct wp_ptab *t = wp_ptab_new();
  struct wp_proc *a = spawn(t);
  wp_handle ha = a->handle;
  wp_ptab_remove(t, a);
  struct wp_proc *b = spawn(t);
  /* the slot is reused under a new generation */
  ASSERT_EQ(slot_of(b->handle), slot_of(ha));
  ASSERT(gen_of(b->handle) != gen_of(ha));
  ASSERT(wp_ptab_get(t, ha) == NULL);
  struct wp_proc *q = wp_ptab_get(t, b->handle);
  ASSERT(q == b);
  wp_proc_release(q);
  /* many generations of one slot: only the newest handle resolves */
  wp_handle old[50];
  for (int i = 0; i < 50; i++) {
    old[i] = b->handle;
    wp_ptab_remove(t, b);
    b = spawn(t);
    ASSERT_EQ(slot_of(b->handle), slot_of(ha));
    for (int j = 0; j <= i; j++) ASSERT(wp_ptab_get(t, old[j]) == NULL);
    q = wp_ptab_get(t, b->handle);
    ASSERT(q == b);
    wp_proc_release(q);
  }
  wp_ptab_remove(t, b);
  wp_ptab_free(t);
  return 0;
}

/*
** A handle kept by someone after its process left (in a monitor or link
** list, a timer) must never resolve again, however many processes use the
** slot after it. With 32-bit generations the 2^32nd reuse of a slot issued
** the kept handle again: at a million spawns a second on one slot, within
** 72 minutes. The churn is simulated with wp_ptab_age_slot (a loop of 2^32
** spawns would take minutes); it stops at the slot's last generation, after
** which the slot must be retired rather than wrap to its first.
*/
TEST(stale_handle_never_reissued) {
  struct wp_ptab *t = wp_ptab_new();
  struct wp_proc *a = spawn(t);
  uint32_t slot = slot_of(a->handle);
  wp_handle kept[8];
  int nk = 0;
  kept[nk++] = a->handle;
  wp_ptab_remove(t, a);
  /* 2^32 - 1 more generations: where a 32-bit generation wraps to a's */
  static const uint64_t skips[] = {(UINT64_C(1) << 32) - 1, (UINT64_C(1) << 32) - 1,
                                   UINT64_C(1) << 35, UINT64_MAX};
  for (size_t k = 0; k < sizeof skips / sizeof skips[0]; k++) {
    ASSERT_EQ(wp_ptab_age_slot(t, kept[nk - 1], skips[k]), 0);
    struct wp_proc *b = spawn(t);
    ASSERT_EQ(slot_of(b->handle), slot); /* the only free slot */
    for (int i = 0; i < nk; i++) {
      if (b->handle == kept[i])
        TEST_FAIL("BUG: handle %#" PRIx64 " issued again after %d slot reuse(s)", kept[i], i);
      ASSERT(wp_ptab_get(t, kept[i]) == NULL);
    }
    struct wp_proc *q = wp_ptab_get(t, b->handle);
    ASSERT(q == b);
    wp_proc_release(q);
    kept[nk++] = b->handle;
    wp_ptab_remove(t, b);
  }
  /* the last skip left the slot at its last generation: it is retired now */
  ASSERT_EQ(gen_of(kept[nk - 1]), (UINT64_C(1) << (64 - WP_PTAB_IDX_BITS)) - 1);
  ASSERT_EQ(wp_ptab_age_slot(t, kept[nk - 1], 1), WP_EINVAL);
  for (int round = 0; round < 3; round++) {
    struct wp_proc *c = spawn(t);
    ASSERT(slot_of(c->handle) != slot);
    for (int i = 0; i < nk; i++) {
      ASSERT(c->handle != kept[i]);
      ASSERT(wp_ptab_get(t, kept[i]) == NULL);
    }
    wp_ptab_remove(t, c);
  }
  ASSERT_EQ(wp_ptab_count(t), 0);
  wp_ptab_free(t);
  return 0;
}

/* ---- reference counting, observed through a (never started) scheduler's
** free hook ---- */

static _Atomic int g_frees;
static struct wp_proc *g_freed;

static int noop_run(struct wp_proc *p) { return WP_RUN_WAIT; }
static void count_free(struct wp_proc *p) {
  ASSERT(p->vm == (void *)&g_frees);
  g_freed = p;
  atomic_fetch_add(&g_frees, 1);
}

static const struct wp_sched_ops counting_ops = {.run = noop_run, .free = count_free};

TEST(refcount_keeps_removed_alive) {
  struct wp_sched *s = wp_sched_new(1, &counting_ops, NULL);
  ASSERT(s != NULL);
  struct wp_ptab *t = wp_sched_ptab(s);
  struct wp_proc *p = mkproc(t, s);
  p->vm = (void *)&g_frees;
  ASSERT_EQ(wp_ptab_insert(t, p), 0);
  /* a message left in the mailbox is freed with the block (LSan checks) */
  struct wp_msg *m = wp_msg_new(WP_MSG_USER, "x", 1, "t", 1, "abc", 3);
  ASSERT(m != NULL);
  wp_mbox_push_mp(&p->mbox, m);

  struct wp_proc *r1 = wp_ptab_get(t, p->handle);
  struct wp_proc *r2 = wp_ptab_get_counter(t, p->counter);
  ASSERT(r1 == p && r2 == p);
  ASSERT_EQ(atomic_load(&p->refs), 3);
  wp_handle h = p->handle;
  wp_ptab_remove(t, p);
  ASSERT_EQ(atomic_load(&g_frees), 0);
  ASSERT_EQ(atomic_load(&p->refs), 2);
  /* gone from the table, but the block is intact for reference holders */
  ASSERT(wp_ptab_get(t, h) == NULL);
  ASSERT(wp_ptab_get_counter(t, r1->counter) == NULL);
  ASSERT_EQ(wp_ptab_count(t), 0);
  ASSERT(r1->vm == (void *)&g_frees);
  ASSERT_EQ(r1->handle, h);
  wp_proc_release(r1);
  ASSERT_EQ(atomic_load(&g_frees), 0);
  wp_proc_retain(r2);
  wp_proc_release(r2);
  ASSERT_EQ(atomic_load(&g_frees), 0);
  wp_proc_release(r2); /* the last reference: the hook runs, then the free */
  ASSERT_EQ(atomic_load(&g_frees), 1);
  ASSERT(g_freed == p);
  wp_sched_free(s);
  return 0;
}

/* ---- wp_ptab_each ---- */

struct each_acc {
  int calls;
  uint64_t counters_sum;
  int min_refs;
};

static void each_fn(struct wp_proc *p, void *ud) {
  struct each_acc *a = ud;
  int refs = (int)atomic_load(&p->refs);
  if (refs < a->min_refs) a->min_refs = refs;
  a->calls++;
  a->counters_sum += p->counter;
}

static void each_remove(struct wp_proc *p, void *ud) {
  /* removing from inside the walk is allowed: the walk holds a reference */
  wp_ptab_remove(ud, p);
}

TEST(each_visits_live) {
  struct wp_ptab *t = wp_ptab_new();
  struct wp_proc *v[20];
  for (int i = 0; i < 20; i++) v[i] = spawn(t);
  uint64_t expect = 0;
  for (int i = 0; i < 20; i++) {
    if (i % 3 == 0)
      wp_ptab_remove(t, v[i]);
    else
      expect += v[i]->counter;
  }
  struct each_acc a = {0, 0, 1 << 30};
  wp_ptab_each(t, each_fn, &a);
  ASSERT_EQ(a.calls, 13);
  ASSERT_EQ(a.counters_sum, expect);
  ASSERT(a.min_refs >= 2); /* each process is referenced for the call */
  wp_ptab_each(t, each_remove, t);
  ASSERT_EQ(wp_ptab_count(t), 0);
  a.calls = 0;
  wp_ptab_each(t, each_fn, &a);
  ASSERT_EQ(a.calls, 0);
  wp_ptab_free(t);
  return 0;
}

/* More processes than one slot chunk (64Ki) and many hash growths. */
TEST(many_processes) {
  enum { N = 70000 };
  struct wp_ptab *t = wp_ptab_new();
  struct wp_proc **v = malloc(N * sizeof *v);
  ASSERT(v != NULL);
  for (int i = 0; i < N; i++) v[i] = spawn(t);
  ASSERT_EQ(wp_ptab_count(t), N);
  for (int i = 0; i < N; i += 7) {
    struct wp_proc *q = wp_ptab_get(t, v[i]->handle);
    ASSERT(q == v[i]);
    wp_proc_release(q);
    q = wp_ptab_get_counter(t, (uint64_t)i + 1);
    ASSERT(q == v[i]);
    wp_proc_release(q);
  }
  for (int i = 0; i < N; i += 2) wp_ptab_remove(t, v[i]);
  ASSERT_EQ(wp_ptab_count(t), N / 2);
  for (int i = 1; i < N; i += 2 * 7) {
    struct wp_proc *q = wp_ptab_get_counter(t, (uint64_t)i + 1);
    ASSERT(q == v[i]);
    wp_proc_release(q);
    ASSERT(wp_ptab_get_counter(t, (uint64_t)i) == NULL);
  }
  for (int i = 1; i < N; i += 2) wp_ptab_remove(t, v[i]);
  ASSERT_EQ(wp_ptab_count(t), 0);
  free(v);
  wp_ptab_free(t);
  return 0;
}

/* Inserts and removals in a random order, checked against a plain list
** after every batch: every live process is found by its pid counter and
** handle, every removed one is not. Removing from the middle of a probe run
** (and of one that wraps around the table's end) must keep the rest of the
** run reachable. */
TEST(random_churn_against_model) {
  enum { CAP = 6000, OPS = 120000, BATCH = 997 };
  struct wp_ptab *t = wp_ptab_new();
  struct wp_proc **live = malloc(CAP * sizeof *live);
  uint64_t *gone = malloc(OPS * sizeof *gone);
  ASSERT(live != NULL && gone != NULL);
  int n = 0, ngone = 0;
  uint64_t r = 0x9E3779B97F4A7C15u;
  for (int op = 1; op <= OPS; op++) {
    r = r * 6364136223846793005u + 1442695040888963407u;
    unsigned x = (unsigned)(r >> 33);
    /* grow to about CAP/2, then hover: removals come from anywhere */
    if (n == 0 || (n < CAP && x % 100 < (n < CAP / 2 ? 70u : 50u))) {
      live[n++] = spawn(t);
    } else {
      int i = (int)(x % (unsigned)n);
      gone[ngone++] = live[i]->counter;
      wp_ptab_remove(t, live[i]);
      live[i] = live[--n];
    }
    if (op % BATCH == 0 || op == OPS) {
      ASSERT_EQ(wp_ptab_count(t), (uint64_t)n);
      for (int i = 0; i < n; i++) {
        struct wp_proc *q = wp_ptab_get_counter(t, live[i]->counter);
        ASSERT(q == live[i]);
        wp_proc_release(q);
        q = wp_ptab_get(t, live[i]->handle);
        ASSERT(q == live[i]);
        wp_proc_release(q);
      }
      for (int i = ngone > 500 ? ngone - 500 : 0; i < ngone; i++)
        ASSERT(wp_ptab_get_counter(t, gone[i]) == NULL);
    }
  }
  while (n > 0) wp_ptab_remove(t, live[--n]);
  ASSERT_EQ(wp_ptab_count(t), 0);
  free(live);
  free(gone);
  wp_ptab_free(t);
  return 0;
}

/* ---- concurrency: lookups racing inserts and removals never return a
** process other than the one asked for ---- */

struct churn {
  struct wp_ptab *t;
  _Atomic wp_handle recent[64];   /* handles some of which are stale */
  _Atomic uint64_t top_counter;
  _Atomic int stop;
  _Atomic uint64_t hits;
};

static void *churner(void *arg) {
  struct churn *c = arg;
  struct wp_proc *mine[32] = {0};
  for (unsigned i = 0; i < 20000; i++) {
    unsigned k = i % 32;
    if (mine[k]) wp_ptab_remove(c->t, mine[k]);
    mine[k] = spawn(c->t);
    atomic_store(&c->recent[(i * 7) % 64], mine[k]->handle);
    atomic_store(&c->top_counter, mine[k]->counter);
  }
  for (int k = 0; k < 32; k++)
    if (mine[k]) wp_ptab_remove(c->t, mine[k]);
  return NULL;
}

static void *looker(void *arg) {
  struct churn *c = arg;
  unsigned i = 0;
  while (!atomic_load(&c->stop)) {
    wp_handle h = atomic_load(&c->recent[i++ % 64]);
    struct wp_proc *p = wp_ptab_get(c->t, h);
    if (p) {
      ASSERT_EQ(p->handle, h);
      atomic_fetch_add(&c->hits, 1);
      wp_proc_release(p);
    }
    uint64_t top = atomic_load(&c->top_counter);
    if (top > 40) {
      uint64_t want = top - (i % 40);
      p = wp_ptab_get_counter(c->t, want);
      if (p) {
        ASSERT_EQ(p->counter, want);
        wp_proc_release(p);
      }
    }
  }
  return NULL;
}

TEST(concurrent_lookups) {
  static struct churn c;
  memset(&c, 0, sizeof c);
  c.t = wp_ptab_new();
  /* every handle the lookers try has been issued (see lookup_unissued_handle) */
  struct wp_proc *keeper = spawn(c.t);
  for (int i = 0; i < 64; i++) atomic_store(&c.recent[i], keeper->handle);
  pthread_t ch[2], lk[2];
  for (int i = 0; i < 2; i++) ASSERT_EQ(pthread_create(&lk[i], NULL, looker, &c), 0);
  for (int i = 0; i < 2; i++) ASSERT_EQ(pthread_create(&ch[i], NULL, churner, &c), 0);
  for (int i = 0; i < 2; i++) pthread_join(ch[i], NULL);
  atomic_store(&c.stop, 1);
  for (int i = 0; i < 2; i++) pthread_join(lk[i], NULL);
  ASSERT_EQ(wp_ptab_count(c.t), 1);
  wp_ptab_remove(c.t, keeper);
  ASSERT_EQ(wp_ptab_count(c.t), 0);
  wp_ptab_free(c.t);
  return 0;
}

/*
** A process is reachable by its counter before wp_ptab_insert has assigned
** its handle (the pid hash is filled before the slot): a lookup by pid that
** wins that race gets a block whose `handle` is still unset, and its read of
** `handle` races with the write. Lookers hammer the counter being inserted.
** The window is a few instructions wide, so a release build catches it only
** now and then; under ThreadSanitizer the unordered read of `handle` is
** reported every time.
*/
struct early {
  struct wp_ptab *t;
  _Atomic uint64_t seen; /* counters the looker has found so far */
  _Atomic int stop;
  _Atomic int bad;
};

static void *early_looker(void *arg) {
  struct early *e = arg;
  uint64_t c = 1; /* a fresh table's first counter */
  while (!atomic_load_explicit(&e->stop, memory_order_relaxed)) {
    struct wp_proc *p = wp_ptab_get_counter(e->t, c);
    if (!p) continue; /* spin on the counter the main thread inserts next */
    /* the handle must be usable the moment the process can be found */
    struct wp_proc *q = wp_ptab_get(e->t, p->handle);
    if (q != p) atomic_store(&e->bad, 1);
    if (q) wp_proc_release(q);
    wp_proc_release(p);
    atomic_store_explicit(&e->seen, c, memory_order_relaxed);
    c++;
  }
  return NULL;
}

TEST(found_by_pid_before_handle_set) {
  enum { MAXR = 20000 };
  static struct early e;
  static struct wp_proc *v[MAXR];
  memset(&e, 0, sizeof e);
  e.t = wp_ptab_new();
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, NULL, early_looker, &e), 0);
  uint64_t deadline = now_ms() + 2000;
  int rounds = 0;
  while (!atomic_load(&e.bad) && now_ms() < deadline && rounds < MAXR) {
    struct wp_proc *p = mkproc(e.t, NULL);
    ASSERT_EQ(wp_ptab_insert(e.t, p), 0);
    v[rounds++] = p; /* kept in the table: a removal would be a miss too */
    /* lockstep: the looker is back to spinning on the next counter */
    while (atomic_load_explicit(&e.seen, memory_order_relaxed) < p->counter &&
           !atomic_load(&e.bad) && now_ms() < deadline)
      sched_yield();
  }
  atomic_store(&e.stop, 1);
  pthread_join(th, NULL);
  for (int i = 0; i < rounds; i++) wp_ptab_remove(e.t, v[i]);
  wp_ptab_free(e.t);
  if (atomic_load(&e.bad))
    TEST_FAIL("BUG: a process found by counter had no valid handle yet (round %d)", rounds);
  return 0;
}

/*
** Looking up a handle whose slot chunk does not exist yet (any never-issued
** handle; WP_HANDLE_NONE before the first insert) must be safe while
** another thread inserts. slot_at() reads t->chunks[] under a slot shard
** lock while slot_alloc() writes it under free_lock: a data race that
** ThreadSanitizer reports (the release build cannot see it). The looker's
** progress counter is relaxed on purpose, so it creates no happens-before.
*/
struct unissued {
  struct wp_ptab *t;
  _Atomic uint64_t lookups;
  _Atomic int stop;
};

static void *unissued_looker(void *arg) {
  struct unissued *u = arg;
  while (!atomic_load_explicit(&u->stop, memory_order_relaxed)) {
    /* slot 1 of chunk 0, first generation: never issued in this test */
    struct wp_proc *p = wp_ptab_get(u->t, handle_of(1, 1));
    if (p) {
      ASSERT_EQ(p->handle, handle_of(1, 1));
      wp_proc_release(p);
    }
    atomic_fetch_add_explicit(&u->lookups, 1, memory_order_relaxed);
  }
  return NULL;
}

TEST(lookup_unissued_handle) {
  static struct unissued u;
  memset(&u, 0, sizeof u);
  u.t = wp_ptab_new();
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, NULL, unissued_looker, &u), 0);
  uint64_t deadline = now_ms() + 5000;
  while (atomic_load_explicit(&u.lookups, memory_order_relaxed) < 100 && now_ms() < deadline)
    sched_yield();
  struct wp_proc *p = spawn(u.t); /* allocates chunk 0 */
  ASSERT(p->handle != handle_of(1, 1));
  atomic_store_explicit(&u.stop, 1, memory_order_relaxed);
  pthread_join(th, NULL);
  wp_ptab_remove(u.t, p);
  wp_ptab_free(u.t);
  return 0;
}

TEST_LIST = {
  TEST_ENTRY(counter_starts_at_one),
  TEST_ENTRY(counter_seeded),
  TEST_ENTRY(insert_get_remove),
  TEST_ENTRY(handle_none_is_never_issued),
  TEST_ENTRY(stale_handle_after_reuse),
  TEST_ENTRY(stale_handle_never_reissued),
  TEST_ENTRY(refcount_keeps_removed_alive),
  TEST_ENTRY(each_visits_live),
  TEST_ENTRY(many_processes),
  TEST_ENTRY(random_churn_against_model),
  TEST_ENTRY(concurrent_lookups),
  TEST_ENTRY(found_by_pid_before_handle_set),
  TEST_ENTRY(lookup_unissued_handle),
  TEST_END
};
