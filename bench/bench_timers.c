/*
** bench_timers.c: arms N timers (default 1,000,000) with random deadlines in
** 0..1000 ticks on one wheel, then advances tick by tick until all fired.
** Exits 1 unless exactly N fired, none early. Prints one RESULT line:
**
**   RESULT system=wippy scenario=wheel timers=N arm_ns_per_timer=..
**          fire_total_ms=.. total_ms=..
**
** Usage: bench_timers [N]   (a small N makes a smoke run)
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "alloc.h"
#include "timer.h"

#define SPAN 1000 /* deadlines are drawn from 0..SPAN ticks */

struct counts {
  const struct wp_wheel *w;
  size_t fired, early;
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: deterministic deadlines from run to run. */
static uint64_t rnd(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * UINT64_C(2685821657736338717);
}

static void on_fire(struct wp_timer *t, void *ud) {
  struct counts *c = ud;
  c->fired++;
  if (t->deadline > wp_wheel_now(c->w)) c->early++;
}

int main(int argc, char **argv) {
  size_t n = 1000000;
  if (argc > 1) {
    char *end;
    unsigned long long v = strtoull(argv[1], &end, 10);
    if (*end != '\0' || v == 0) {
      fprintf(stderr, "usage: %s [count > 0]\n", argv[0]);
      return 2;
    }
    n = (size_t)v;
  }
  struct wp_timer *ts = wp_malloc(n * sizeof *ts);
  struct wp_wheel *w = wp_wheel_new(0);
  if (ts == NULL || w == NULL) {
    fprintf(stderr, "bench_timers: out of memory\n");
    return 1;
  }
  uint64_t seed = 0x9e3779b97f4a7c15u;
  for (size_t i = 0; i < n; i++) { /* draw deadlines outside the timed part */
    wp_timer_init(&ts[i]);
    ts[i].target = rnd(&seed) % (SPAN + 1);
  }

  uint64_t t0 = now_ns();
  for (size_t i = 0; i < n; i++) wp_wheel_add(w, &ts[i], ts[i].target);
  uint64_t t1 = now_ns();
  struct counts c = {w, 0, 0};
  size_t returned = 0;
  for (uint64_t tick = 0; tick <= SPAN; tick++)
    returned += wp_wheel_advance(w, tick, on_fire, &c);
  uint64_t t2 = now_ns();

  int ok = c.fired == n && returned == n && c.early == 0 && wp_wheel_count(w) == 0;
  if (!ok)
    fprintf(stderr, "bench_timers: FAILED fired=%zu returned=%zu early=%zu left=%zu of %zu\n",
            c.fired, returned, c.early, wp_wheel_count(w), n);
  printf("RESULT system=wippy scenario=wheel timers=%zu arm_ns_per_timer=%.1f "
         "fire_total_ms=%.3f total_ms=%.3f\n",
         n, (double)(t1 - t0) / (double)n, (double)(t2 - t1) / 1e6, (double)(t2 - t0) / 1e6);
  wp_wheel_free(w);
  wp_free(ts);
  return ok ? 0 : 1;
}
