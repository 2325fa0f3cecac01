/* test_timer.c: the hierarchical timing wheel (sched/timer.c). */
#include "test.h"

#include "timer.h"

/* {====================================================================
** A recorder: the fire callback appends (timer, tick) pairs
** ===================================================================== */

#define MAXREC 8192

struct rec {
  struct wp_wheel *w;
  size_t n;
  struct wp_timer *t[MAXREC];
  uint64_t at[MAXREC];
};

static struct rec R;

static void rec_reset(struct wp_wheel *w) {
  R.w = w;
  R.n = 0;
}

static void on_fire(struct wp_timer *t, void *ud) {
  struct rec *r = ud;
  ASSERT(!wp_timer_armed(t));
  ASSERT(r->n < MAXREC);
  r->t[r->n] = t;
  r->at[r->n] = wp_wheel_now(r->w);
  r->n++;
}

static size_t adv(struct wp_wheel *w, uint64_t now) {
  return wp_wheel_advance(w, now, on_fire, &R);
}

static struct wp_wheel *new_wheel(uint64_t now) {
  struct wp_wheel *w = wp_wheel_new(now);
  ASSERT(w != NULL);
  ASSERT_EQ(wp_wheel_now(w), now);
  ASSERT_EQ(wp_wheel_count(w), 0);
  rec_reset(w);
  return w;
}

/* A small deterministic generator (xorshift64*). */
static uint64_t rng_state;

static uint64_t rnd(void) {
  uint64_t x = rng_state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng_state = x;
  return x * UINT64_C(2685821657736338717);
}

/* Uniform-ish in [0, n]; n may be UINT64_MAX - 1 at most. */
static uint64_t rnd_upto(uint64_t n) { return rnd() % (n + 1); }

/* }==================================================================== */

/*
** Each deadline, counted from an aligned and an unaligned start, fires at
** exactly its tick when the wheel is advanced one tick at a time.
*/
TEST(exact_deadline_each_tick) {
  static const uint64_t ds[] = {1,     2,     3,     100,   254,   255,
                                256,   257,   300,   511,   512,   513,
                                16383, 16384, 16385, 20000, 65536, 1048576 + 7};
  static const uint64_t starts[] = {0, 1000003};
  for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
      uint64_t start = starts[s], d = start + ds[i];
      struct wp_wheel *w = new_wheel(start);
      struct wp_timer t;
      wp_timer_init(&t);
      ASSERT(!wp_timer_armed(&t));
      wp_wheel_add(w, &t, d);
      ASSERT(wp_timer_armed(&t));
      for (uint64_t tick = start + 1; tick < d; tick++) {
        if (adv(w, tick) != 0) TEST_FAIL("deadline %" PRIu64 " fired at %" PRIu64, d, tick);
        ASSERT(wp_timer_armed(&t));
      }
      ASSERT_EQ(adv(w, d), 1);
      ASSERT_EQ(R.n, 1);
      ASSERT(R.t[0] == &t);
      ASSERT_EQ(R.at[0], d);
      ASSERT(!wp_timer_armed(&t));
      ASSERT_EQ(wp_wheel_count(w), 0);
      wp_wheel_free(w);
    }
  }
  return 0;
}

/* Distinct deadlines armed in random order fire sorted, each at its tick. */
TEST(deadline_order) {
  enum { N = 400 };
  static struct wp_timer ts[N];
  rng_state = 0x1234567;
  struct wp_wheel *w = new_wheel(77);
  uint64_t used[N];
  for (int i = 0; i < N; i++) {
    uint64_t d;
    int dup;
    do { /* distinct deadlines over several levels */
      d = 78 + rnd_upto(i % 2 ? 3000 : 5000000);
      dup = 0;
      for (int j = 0; j < i; j++) dup |= used[j] == d;
    } while (dup);
    used[i] = d;
    wp_timer_init(&ts[i]);
    ts[i].id = (uint64_t)i;
    wp_wheel_add(w, &ts[i], d);
  }
  ASSERT_EQ(wp_wheel_count(w), N);
  ASSERT_EQ(adv(w, 6000000), N);
  ASSERT_EQ(R.n, N);
  for (int i = 0; i < N; i++) {
    ASSERT_EQ(R.at[i], R.t[i]->deadline);
    ASSERT_EQ(R.t[i]->deadline, used[R.t[i]->id]);
    if (i > 0) ASSERT(R.at[i - 1] < R.at[i]);
  }
  ASSERT_EQ(wp_wheel_count(w), 0);
  wp_wheel_free(w);
  return 0;
}

/*
** Timers with the same deadline fire in arming order, even when the earlier
** ones were armed at an outer level and the later ones straight into level 0.
*/
TEST(ties_in_arming_order) {
  struct wp_timer a[8], e[3];
  struct wp_wheel *w = new_wheel(0);
  static const uint64_t arm_at[8] = {0, 1, 65536, 66000, 69000, 69990, 69998, 69998};
  for (int i = 0; i < 8; i++) {
    ASSERT_EQ(adv(w, arm_at[i]), 0);
    wp_timer_init(&a[i]);
    wp_wheel_add(w, &a[i], 70000);
    if (i == 3) { /* an earlier deadline armed late still fires first */
      for (int j = 0; j < 3; j++) {
        wp_timer_init(&e[j]);
        wp_wheel_add(w, &e[j], 69999);
      }
    }
  }
  ASSERT_EQ(adv(w, 70000), 11);
  for (int j = 0; j < 3; j++) ASSERT(R.t[j] == &e[j]);
  for (int i = 0; i < 8; i++) {
    ASSERT(R.t[3 + i] == &a[i]);
    ASSERT_EQ(R.at[3 + i], 70000);
  }
  wp_wheel_free(w);

  /* the same across the far list and every level, advanced in one jump */
  enum { M = 7 };
  struct wp_timer b[M];
  static const uint64_t arm2[M] = {0,          5000000000, 8589934591, 8589934593,
                                   8590004592, 8590034582, 8590034591};
  uint64_t d = UINT64_C(8589934592) + 100000; /* 2^33 + 100000 */
  w = new_wheel(0);
  for (int i = 0; i < M; i++) {
    ASSERT_EQ(adv(w, arm2[i]), 0);
    wp_timer_init(&b[i]);
    wp_wheel_add(w, &b[i], d);
  }
  ASSERT_EQ(adv(w, d + 100), M);
  for (int i = 0; i < M; i++) {
    ASSERT(R.t[i] == &b[i]);
    ASSERT_EQ(R.at[i], d);
  }
  wp_wheel_free(w);
  return 0;
}

/* Cancelling before the deadline, after firing, twice, and never armed. */
TEST(cancel) {
  struct wp_wheel *w = new_wheel(10);
  struct wp_timer t, u, never;
  wp_timer_init(&never);
  ASSERT_EQ(wp_wheel_cancel(w, &never), 0);

  wp_timer_init(&t);
  wp_wheel_add(w, &t, 50);
  ASSERT_EQ(wp_wheel_count(w), 1);
  ASSERT_EQ(wp_wheel_cancel(w, &t), 1);
  ASSERT(!wp_timer_armed(&t));
  ASSERT_EQ(wp_wheel_count(w), 0);
  ASSERT_EQ(wp_wheel_cancel(w, &t), 0);
  ASSERT_EQ(adv(w, 100), 0);
  ASSERT_EQ(wp_wheel_next(w), UINT64_MAX);

  wp_timer_init(&u);
  wp_wheel_add(w, &u, 120);
  ASSERT_EQ(adv(w, 120), 1);
  ASSERT_EQ(wp_wheel_cancel(w, &u), 0); /* already fired */

  /* one timer per level, plus far and due: cancel all, nothing fires */
  static const uint64_t ds[] = {119, 120, 130, 1000, 100000, 10000000, 1000000000,
                                UINT64_C(1) << 40, UINT64_MAX};
  enum { K = sizeof ds / sizeof ds[0] };
  struct wp_timer ks[K];
  for (int i = 0; i < K; i++) {
    wp_timer_init(&ks[i]);
    wp_wheel_add(w, &ks[i], ds[i]);
  }
  ASSERT_EQ(wp_wheel_count(w), K);
  for (int i = 0; i < K; i++) ASSERT_EQ(wp_wheel_cancel(w, &ks[i]), 1);
  ASSERT_EQ(wp_wheel_count(w), 0);
  ASSERT_EQ(wp_wheel_next(w), UINT64_MAX);
  ASSERT_EQ(adv(w, UINT64_MAX), 0);
  ASSERT_EQ(R.n, 1);
  wp_wheel_free(w);
  return 0;
}

/* Cancelling one timer of a slot leaves its neighbours in order. */
TEST(cancel_middle_of_slot) {
  struct wp_wheel *w = new_wheel(0);
  struct wp_timer t[5];
  for (int i = 0; i < 5; i++) {
    wp_timer_init(&t[i]);
    wp_wheel_add(w, &t[i], 40000); /* level 2 */
  }
  ASSERT_EQ(wp_wheel_cancel(w, &t[0]), 1);
  ASSERT_EQ(wp_wheel_cancel(w, &t[2]), 1);
  ASSERT_EQ(wp_wheel_cancel(w, &t[4]), 1);
  ASSERT_EQ(adv(w, 39999), 0);
  ASSERT_EQ(adv(w, 40000), 2);
  ASSERT(R.t[0] == &t[1]);
  ASSERT(R.t[1] == &t[3]);
  wp_wheel_free(w);
  return 0;
}

/* Re-arming an armed timer moves it: it fires once, at the new deadline. */
TEST(rearm_armed) {
  struct wp_wheel *w = new_wheel(0);
  struct wp_timer t;
  wp_timer_init(&t);
  wp_wheel_add(w, &t, 100000);
  wp_wheel_add(w, &t, 30);
  ASSERT_EQ(wp_wheel_count(w), 1);
  wp_wheel_add(w, &t, 500);
  ASSERT_EQ(wp_wheel_count(w), 1);
  ASSERT_EQ(adv(w, 499), 0);
  ASSERT_EQ(adv(w, 200000), 1);
  ASSERT_EQ(R.at[0], 500);
  wp_wheel_free(w);
  return 0;
}

/* {====================================================================
** Callbacks that re-arm, cancel or free
** ===================================================================== */

struct ctx {
  struct wp_wheel *w;
  int fired;
  uint64_t period, limit;
  uint64_t at[64];
  struct wp_timer *victim;
  int cancel_rc;
};

/* Re-arms itself `period` ticks later until it has fired `limit` times. */
static void periodic(struct wp_timer *t, void *ud) {
  struct ctx *c = ud;
  ASSERT(c->fired < 64);
  c->at[c->fired++] = wp_wheel_now(c->w);
  if ((uint64_t)c->fired < c->limit) wp_wheel_add(c->w, t, wp_wheel_now(c->w) + c->period);
}

TEST(rearm_in_callback) {
  struct ctx c = {0};
  c.w = new_wheel(0);
  c.period = 7;
  c.limit = 20;
  struct wp_timer t;
  wp_timer_init(&t);
  wp_wheel_add(c.w, &t, 7);
  ASSERT_EQ(wp_wheel_advance(c.w, 1000, periodic, &c), 20);
  ASSERT_EQ(c.fired, 20);
  for (int i = 0; i < 20; i++) ASSERT_EQ(c.at[i], 7 * (uint64_t)(i + 1));
  ASSERT(!wp_timer_armed(&t));

  /* a period that crosses level-0 turns and level-1 slots */
  struct ctx d = {0};
  d.w = c.w;
  d.period = 300;
  d.limit = 60;
  wp_wheel_add(c.w, &t, 1300);
  ASSERT_EQ(wp_wheel_advance(c.w, 100000, periodic, &d), 60);
  for (int i = 0; i < 60; i++) ASSERT_EQ(d.at[i], 1300 + 300 * (uint64_t)i);
  wp_wheel_free(c.w);
  return 0;
}

/* A zero period re-arms into `due`: one firing per advance, never a loop. */
TEST(rearm_at_now_waits_for_next_advance) {
  struct ctx c = {0};
  c.w = new_wheel(0);
  c.period = 0;
  c.limit = 1000;
  struct wp_timer t;
  wp_timer_init(&t);
  wp_wheel_add(c.w, &t, 5);
  ASSERT_EQ(wp_wheel_advance(c.w, 10, periodic, &c), 1);
  ASSERT_EQ(c.at[0], 5);
  ASSERT(wp_timer_armed(&t));
  ASSERT_EQ(wp_wheel_next(c.w), 0);
  ASSERT_EQ(wp_wheel_advance(c.w, 10, periodic, &c), 1);
  ASSERT_EQ(c.at[1], 10);
  ASSERT_EQ(wp_wheel_advance(c.w, 20, periodic, &c), 1);
  ASSERT_EQ(c.at[2], 10); /* the due batch fires before the wheel moves */
  ASSERT_EQ(wp_wheel_now(c.w), 20);
  ASSERT_EQ(c.fired, 3);
  wp_wheel_free(c.w);
  return 0;
}

static void cancel_victim(struct wp_timer *t, void *ud) {
  struct ctx *c = ud;
  c->fired++;
  c->cancel_rc = wp_wheel_cancel(c->w, c->victim);
  ASSERT_EQ(wp_wheel_cancel(c->w, t), 0); /* already disarmed */
}

/* A callback cancels a timer of its own tick: the victim never fires. */
TEST(cancel_from_callback) {
  struct ctx c = {0};
  c.w = new_wheel(0);
  struct wp_timer a, b;
  wp_timer_init(&a);
  wp_timer_init(&b);
  wp_wheel_add(c.w, &a, 300);
  wp_wheel_add(c.w, &b, 300);
  c.victim = &b;
  ASSERT_EQ(wp_wheel_advance(c.w, 400, cancel_victim, &c), 1);
  ASSERT_EQ(c.fired, 1);
  ASSERT_EQ(c.cancel_rc, 1);
  ASSERT_EQ(wp_wheel_count(c.w), 0);

  /* and from the due batch */
  wp_wheel_add(c.w, &a, 1);
  wp_wheel_add(c.w, &b, 2);
  c.fired = 0;
  ASSERT_EQ(wp_wheel_advance(c.w, 400, cancel_victim, &c), 1);
  ASSERT_EQ(c.cancel_rc, 1);
  ASSERT(!wp_timer_armed(&b));
  wp_wheel_free(c.w);
  return 0;
}

static void free_self(struct wp_timer *t, void *ud) {
  (*(int *)ud)++;
  free(t);
}

/* Callbacks may free their timer (ASan checks the wheel does not touch it). */
TEST(free_in_callback) {
  struct wp_wheel *w = new_wheel(0);
  int n = 0;
  for (int i = 0; i < 100; i++) {
    struct wp_timer *t = malloc(sizeof *t);
    ASSERT(t != NULL);
    wp_timer_init(t);
    wp_wheel_add(w, t, (uint64_t)(i % 3 == 0 ? 0 : 1 + i * 37));
  }
  ASSERT_EQ(wp_wheel_advance(w, 100000, free_self, &n), 100);
  ASSERT_EQ(n, 100);
  wp_wheel_free(w);
  return 0;
}

/* }==================================================================== */

/* Deadlines <= now fire on the next advance, first, in deadline order. */
TEST(deadline_in_past) {
  struct wp_wheel *w = new_wheel(1000);
  struct wp_timer t[5];
  static const uint64_t ds[5] = {1000, 5, 999, 5, 1001};
  for (int i = 0; i < 5; i++) {
    wp_timer_init(&t[i]);
    wp_wheel_add(w, &t[i], ds[i]);
  }
  ASSERT_EQ(wp_wheel_next(w), 0);
  ASSERT_EQ(wp_wheel_count(w), 5);
  ASSERT_EQ(adv(w, 1000), 4); /* same tick: only the past ones */
  ASSERT(R.t[0] == &t[1]);
  ASSERT(R.t[1] == &t[3]);
  ASSERT(R.t[2] == &t[2]);
  ASSERT(R.t[3] == &t[0]);
  for (int i = 0; i < 4; i++) ASSERT_EQ(R.at[i], 1000);
  ASSERT_EQ(wp_wheel_next(w), 1);
  ASSERT_EQ(adv(w, 1001), 1);
  ASSERT(R.t[4] == &t[4]);
  /* advancing backwards fires the due ones but never moves the clock back */
  wp_wheel_add(w, &t[0], 0);
  ASSERT_EQ(adv(w, 3), 1);
  ASSERT_EQ(wp_wheel_now(w), 1001);
  wp_wheel_free(w);
  return 0;
}

/*
** Huge jumps over a nearly idle wheel: a naive tick-by-tick walk would never
** finish within the test timeout.
*/
TEST(large_jumps) {
  struct wp_wheel *w = new_wheel(5);
  ASSERT_EQ(adv(w, 10005), 0); /* 10 s idle */
  ASSERT_EQ(wp_wheel_now(w), 10005);
  struct wp_timer t[5];
  static const uint64_t ds[5] = {20005, 610005, 86410005, UINT64_C(1) << 40,
                                 (UINT64_C(1) << 52) + 12345};
  for (int i = 0; i < 5; i++) {
    wp_timer_init(&t[i]);
    wp_wheel_add(w, &t[i], ds[i]);
  }
  ASSERT_EQ(adv(w, UINT64_C(1) << 53), 5);
  for (int i = 0; i < 5; i++) {
    ASSERT(R.t[i] == &t[i]);
    ASSERT_EQ(R.at[i], ds[i]);
  }
  ASSERT_EQ(wp_wheel_now(w), UINT64_C(1) << 53);
  /* jump to the end of time */
  wp_wheel_add(w, &t[0], UINT64_MAX - 10);
  ASSERT_EQ(adv(w, UINT64_MAX - 11), 0);
  ASSERT(wp_timer_armed(&t[0]));
  ASSERT_EQ(adv(w, UINT64_MAX), 1);
  ASSERT_EQ(R.at[5], UINT64_MAX - 10);
  wp_wheel_free(w);
  return 0;
}

/*
** Deadlines around every power of two up to 2^45 (so every level, every
** boundary and the far list), advanced in random steps: each fires exactly at
** its deadline, all in order.
*/
TEST(every_level_and_far) {
  enum { N = 46 * 3 };
  static struct wp_timer ts[N];
  rng_state = 99;
  for (int round = 0; round < 4; round++) {
    uint64_t start = round == 0 ? 0 : rnd_upto(UINT64_C(1) << 34);
    struct wp_wheel *w = new_wheel(start);
    int n = 0;
    for (int k = 0; k < 46; k++) {
      for (int off = -1; off <= 1; off++) {
        uint64_t d = start + (UINT64_C(1) << k) + (uint64_t)(int64_t)off;
        wp_timer_init(&ts[n]);
        wp_wheel_add(w, &ts[n++], d);
      }
    }
    ASSERT_EQ(wp_wheel_count(w), N);
    size_t fired = 0;
    uint64_t now = start, end = start + (UINT64_C(1) << 45) + 1;
    while (now < end) {
      uint64_t span = UINT64_C(1) << rnd_upto(46);
      now += 1 + rnd_upto(span);
      if (now > end) now = end;
      fired += adv(w, now);
      ASSERT_EQ(fired, R.n);
      for (size_t i = 0; i < R.n; i++) ASSERT(R.t[i]->deadline <= now);
    }
    ASSERT_EQ(fired, N);
    for (size_t i = 0; i < R.n; i++) {
      ASSERT_EQ(R.at[i], R.t[i]->deadline);
      if (i > 0) ASSERT(R.t[i - 1]->deadline < R.t[i]->deadline || R.t[i - 1] < R.t[i]);
    }
    ASSERT_EQ(wp_wheel_count(w), 0);
    wp_wheel_free(w);
  }
  return 0;
}

/* A deadline beyond the 2^32-tick span of the levels, then one near 2^64. */
TEST(far_future) {
  uint64_t d = (UINT64_C(1) << 33) + 5;
  struct wp_wheel *w = new_wheel(0);
  struct wp_timer t;
  wp_timer_init(&t);
  wp_wheel_add(w, &t, d);
  uint64_t nx = wp_wheel_next(w);
  ASSERT(nx > 0 && nx <= d);
  ASSERT_EQ(adv(w, d - 1), 0);
  ASSERT(wp_timer_armed(&t));
  ASSERT_EQ(wp_wheel_next(w), 1);
  ASSERT_EQ(adv(w, d), 1);
  ASSERT_EQ(R.at[0], d);
  /* and a deadline of UINT64_MAX armed from far away */
  wp_wheel_add(w, &t, UINT64_MAX);
  ASSERT_EQ(adv(w, UINT64_MAX - 1), 0);
  ASSERT_EQ(adv(w, UINT64_MAX), 1);
  wp_wheel_free(w);
  return 0;
}

/*
** wp_wheel_next: exact for level 0, never an overestimate, and following it
** reaches an outer deadline in a few wake-ups without firing early.
*/
TEST(next) {
  struct wp_wheel *w = new_wheel(100);
  ASSERT_EQ(wp_wheel_next(w), UINT64_MAX);
  struct wp_timer a, b, c;
  wp_timer_init(&a);
  wp_timer_init(&b);
  wp_timer_init(&c);
  wp_wheel_add(w, &a, 105);
  ASSERT_EQ(wp_wheel_next(w), 5);
  wp_wheel_add(w, &b, 103);
  ASSERT_EQ(wp_wheel_next(w), 3);
  ASSERT_EQ(adv(w, 103), 1);
  ASSERT_EQ(wp_wheel_next(w), 2);
  wp_wheel_add(w, &c, 50);
  ASSERT_EQ(wp_wheel_next(w), 0);
  ASSERT_EQ(adv(w, 105), 2);
  ASSERT_EQ(wp_wheel_next(w), UINT64_MAX);

  static const uint64_t far[] = {1000, 70000, 3000000, 500000000, UINT64_C(1) << 36};
  for (size_t i = 0; i < sizeof far / sizeof far[0]; i++) {
    uint64_t d = wp_wheel_now(w) + far[i];
    wp_wheel_add(w, &a, d);
    int wakeups = 0;
    while (wp_timer_armed(&a)) {
      uint64_t n = wp_wheel_next(w);
      ASSERT(n > 0);
      ASSERT(wp_wheel_now(w) + n <= d);
      adv(w, wp_wheel_now(w) + n);
      ASSERT(++wakeups <= 8);
    }
    ASSERT_EQ(R.at[R.n - 1], d);
    ASSERT_EQ(wp_wheel_next(w), UINT64_MAX);
  }
  wp_wheel_free(w);
  return 0;
}

/* Counts across add, re-add, cancel and fire. */
TEST(counts) {
  struct wp_wheel *w = new_wheel(0);
  struct wp_timer t[10];
  for (int i = 0; i < 10; i++) {
    wp_timer_init(&t[i]);
    wp_wheel_add(w, &t[i], (uint64_t)(i * 1000));
    ASSERT_EQ(wp_wheel_count(w), i + 1);
  }
  wp_wheel_add(w, &t[3], 77); /* re-arm: no change */
  ASSERT_EQ(wp_wheel_count(w), 10);
  ASSERT_EQ(wp_wheel_cancel(w, &t[9]), 1);
  ASSERT_EQ(wp_wheel_count(w), 9);
  ASSERT_EQ(adv(w, 1000), 3); /* 0 (due), 77, 1000 */
  ASSERT_EQ(wp_wheel_count(w), 6);
  ASSERT_EQ(adv(w, 8000), 6);
  ASSERT_EQ(wp_wheel_count(w), 0);
  ASSERT_EQ(wp_wheel_now(w), 8000);
  wp_wheel_free(w);
  return 0;
}

/* {====================================================================
** Randomized comparison with a brute-force model
** ===================================================================== */

#define MT 300

struct mtimer {
  struct wp_timer t;
  int armed, deferred; /* deferred: armed <= now in a callback */
  uint64_t deadline, seq;
};

struct model {
  struct wp_wheel *w;
  struct mtimer m[MT];
  uint64_t seq, start, target;
  size_t fired, armed;
};

/* A deadline relative to now: past, now, near, or any of the levels. */
static uint64_t rnd_deadline(uint64_t now) {
  uint64_t r = rnd_upto(99);
  if (r < 8) return now - rnd_upto(now < 2000 ? now : 2000);
  if (r < 15) return now;
  if (r < 50) return now + rnd_upto(300);
  if (r < 75) return now + rnd_upto(1 << 16);
  if (r < 92) return now + rnd_upto(1 << 26);
  return now + rnd_upto(UINT64_C(1) << 36);
}

static void model_arm(struct model *md, int i, uint64_t deadline, int in_callback) {
  struct mtimer *m = &md->m[i];
  if (!m->armed) md->armed++;
  m->armed = 1;
  m->deadline = deadline;
  m->seq = md->seq++;
  m->deferred = in_callback && deadline <= wp_wheel_now(md->w);
  wp_wheel_add(md->w, &m->t, deadline);
}

static void model_cancel(struct model *md, int i) {
  struct mtimer *m = &md->m[i];
  int rc = wp_wheel_cancel(md->w, &m->t);
  ASSERT_EQ(rc, m->armed);
  if (m->armed) md->armed--;
  m->armed = 0;
}

/* The model's next timer: eligible and least by (deadline, arming seq). */
static struct mtimer *model_expect(struct model *md) {
  struct mtimer *best = NULL;
  uint64_t limit = md->target > md->start ? md->target : md->start;
  for (int i = 0; i < MT; i++) {
    struct mtimer *m = &md->m[i];
    if (!m->armed || m->deferred || m->deadline > limit) continue;
    if (!best || m->deadline < best->deadline ||
        (m->deadline == best->deadline && m->seq < best->seq))
      best = m;
  }
  return best;
}

static void model_fire(struct wp_timer *t, void *ud) {
  struct model *md = ud;
  struct mtimer *m = &md->m[t->id];
  struct mtimer *want = model_expect(md);
  if (want != m)
    TEST_FAIL("fired timer %" PRIu64 " (deadline %" PRIu64 "), expected %d", t->id,
              t->deadline, want ? (int)(want - md->m) : -1);
  uint64_t at = m->deadline > md->start ? m->deadline : md->start;
  ASSERT_EQ(wp_wheel_now(md->w), at);
  ASSERT(!wp_timer_armed(t));
  m->armed = 0;
  md->armed--;
  md->fired++;
  uint64_t r = rnd_upto(99);
  if (r < 12) /* re-arm itself, possibly at or before now */
    model_arm(md, (int)t->id, wp_wheel_now(md->w) + rnd_upto(600) - 100 * (md->start >= 100), 1);
  else if (r < 18)
    model_cancel(md, (int)rnd_upto(MT - 1));
  else if (r < 22)
    model_arm(md, (int)rnd_upto(MT - 1), rnd_deadline(wp_wheel_now(md->w)), 1);
}

static void model_advance(struct model *md, uint64_t target) {
  md->start = wp_wheel_now(md->w);
  md->target = target;
  for (int i = 0; i < MT; i++) md->m[i].deferred = 0;
  md->fired = 0;
  size_t n = wp_wheel_advance(md->w, target, model_fire, md);
  ASSERT_EQ(n, md->fired);
  uint64_t now = target > md->start ? target : md->start;
  ASSERT_EQ(wp_wheel_now(md->w), now);
  for (int i = 0; i < MT; i++) { /* nothing eligible was left behind */
    struct mtimer *m = &md->m[i];
    if (m->armed && !m->deferred && m->deadline <= now)
      TEST_FAIL("timer %d (deadline %" PRIu64 ") missed at %" PRIu64, i, m->deadline, now);
  }
}

/* wp_wheel_next never overestimates and is 0 exactly when something is due. */
static void model_check_next(struct model *md) {
  uint64_t now = wp_wheel_now(md->w), least = UINT64_MAX;
  for (int i = 0; i < MT; i++)
    if (md->m[i].armed && md->m[i].deadline < least) least = md->m[i].deadline;
  uint64_t nx = wp_wheel_next(md->w);
  if (least == UINT64_MAX && md->armed == 0)
    ASSERT_EQ(nx, UINT64_MAX);
  else if (least <= now)
    ASSERT_EQ(nx, 0);
  else {
    ASSERT(nx > 0);
    ASSERT(nx <= least - now);
  }
}

static uint64_t rnd_step(void) {
  uint64_t r = rnd_upto(99);
  if (r < 45) return rnd_upto(10);
  if (r < 75) return rnd_upto(1000);
  if (r < 93) return rnd_upto(1 << 20);
  if (r < 98) return rnd_upto(1 << 28);
  return rnd_upto(UINT64_C(1) << 37);
}

static void model_run(uint64_t seed, int ops) {
  static struct model md;
  memset(&md, 0, sizeof md);
  rng_state = seed;
  uint64_t start = seed & 1 ? rnd_upto(UINT64_C(1) << 40) : 0;
  md.w = wp_wheel_new(start);
  ASSERT(md.w != NULL);
  for (int i = 0; i < MT; i++) {
    wp_timer_init(&md.m[i].t);
    md.m[i].t.id = (uint64_t)i;
  }
  size_t total = 0;
  for (int op = 0; op < ops; op++) {
    uint64_t r = rnd_upto(99), now = wp_wheel_now(md.w);
    if (r < 45) {
      model_arm(&md, (int)rnd_upto(MT - 1), rnd_deadline(now), 0);
    } else if (r < 62) {
      model_cancel(&md, (int)rnd_upto(MT - 1));
    } else {
      uint64_t step = rnd_step();
      uint64_t target = r < 64 ? now - rnd_upto(now < 5 ? now : 5) : now + step;
      model_advance(&md, target);
      total += md.fired;
    }
    ASSERT_EQ(wp_wheel_count(md.w), md.armed);
    model_check_next(&md);
  }
  model_advance(&md, wp_wheel_now(md.w) + (UINT64_C(1) << 38)); /* drain */
  ASSERT(total > (size_t)ops / 4); /* the run really fired timers */
  wp_wheel_free(md.w);
}

TEST(random_against_model) {
  static const uint64_t seeds[] = {1, 2, 3, 0xdeadbeef, 0x5eed5eed5eedULL, 42};
  for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) model_run(seeds[i], 20000);
  return 0;
}

/* }==================================================================== */

TEST_LIST = {
  TEST_ENTRY(exact_deadline_each_tick),
  TEST_ENTRY(deadline_order),
  TEST_ENTRY(ties_in_arming_order),
  TEST_ENTRY(cancel),
  TEST_ENTRY(cancel_middle_of_slot),
  TEST_ENTRY(rearm_armed),
  TEST_ENTRY(rearm_in_callback),
  TEST_ENTRY(rearm_at_now_waits_for_next_advance),
  TEST_ENTRY(cancel_from_callback),
  TEST_ENTRY(free_in_callback),
  TEST_ENTRY(deadline_in_past),
  TEST_ENTRY(large_jumps),
  TEST_ENTRY(every_level_and_far),
  TEST_ENTRY(far_future),
  TEST_ENTRY(next),
  TEST_ENTRY(counts),
  TEST_ENTRY(random_against_model),
  TEST_END
};
