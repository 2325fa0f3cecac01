/*
** bench_steal.c: work stealing under imbalance (the sched library alone).
**
**   bench_steal [-j jobs] [-u work-us per job] [-w workers] [-r rounds]
**
** One source process, running on one worker, creates and wakes every job
** process of a round from a single run, so all of them land on that worker's
** own run queue: the other workers only get work by stealing. Each job spins
** for about `work-us` microseconds of CPU, then exits. Exits 1 unless every
** job of every round ran exactly once and ended, and (with two workers or
** more) at least one steal happened (a tiny run that ends before another
** worker woke up gets up to 20 extra rounds, outside the figures). Prints
** one RESULT line:
**
**   RESULT system=wippy scenario=steal jobs=J work_us=U workers=W rounds=R
**          jobs_per_s=.. efficiency=.. steals=.. runs=.. elapsed_ms=..
**          extra_rounds=..
**
** efficiency = (jobs x work) / (elapsed x workers): 1.0 is perfect balance;
** a scheduler that never steals gets about 1/workers.
*/
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "scheduler.h"

enum { ROLE_SOURCE = 1, ROLE_JOB };

struct pd {
  int role;
  uint64_t index;
};

static struct {
  uint64_t jobs, work_ns;
  pthread_mutex_t m;
  pthread_cond_t cv;
  _Atomic uint64_t done; /* jobs that ran this round */
  _Atomic uint64_t freed, created;
  _Atomic int errors;
  unsigned char *ran; /* per job of the round */
  _Atomic uint64_t sink; /* keeps the spin loop from being optimised out */
} g = {.m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void signal_main(void) {
  pthread_mutex_lock(&g.m);
  pthread_cond_broadcast(&g.cv);
  pthread_mutex_unlock(&g.m);
}

static int finish(struct wp_proc *p) {
  struct wp_hlist mons, links;
  struct wp_name_ref *names;
  if (wp_proc_exit_begin(p, &mons, &links, &names) == 0) {
    wp_hlist_free(&mons);
    wp_hlist_free(&links);
    wp_names_release(wp_sched_names(p->sched), names, p->counter);
  }
  return WP_RUN_DONE;
}

static struct wp_proc *create(struct wp_sched *s, int role, uint64_t index) {
  struct pd *d = wp_calloc(1, sizeof *d);
  struct wp_proc *p = d ? wp_proc_new(s, NULL) : NULL;
  if (!p) {
    wp_free(d);
    return NULL;
  }
  d->role = role;
  d->index = index;
  p->vm = d;
  struct wp_ptab *t = wp_sched_ptab(s);
  p->counter = wp_ptab_next_counter(t);
  p->pid_len = (uint32_t)snprintf(p->pid, WP_PID_INLINE, "{bench|0x%05" PRIx64 "}", p->counter);
  wp_proc_retain(p); /* the caller's, besides the table's */
  if (wp_ptab_insert(t, p) != 0) {
    wp_proc_release(p);
    wp_proc_release(p);
    return NULL;
  }
  atomic_fetch_add(&g.created, 1);
  return p;
}

static void spin(uint64_t ns) {
  uint64_t t0 = wp_clock_ns(), x = t0;
  while (wp_clock_ns() - t0 < ns)
    for (int i = 0; i < 64; i++) x = x * UINT64_C(6364136223846793005) + 1442695040888963407u;
  atomic_fetch_add_explicit(&g.sink, x, memory_order_relaxed);
}

static int op_run(struct wp_proc *p) {
  struct pd *d = p->vm;
  struct wp_msg *m;
  while ((m = wp_mbox_take_sc(&p->mbox)) != NULL) {
    int stop = strcmp(wp_msg_topic(m), "stop") == 0;
    wp_msg_free(m);
    if (stop) return finish(p);
    if (d->role == ROLE_SOURCE) {
      /* one round: every job is created and woken from this run */
      for (uint64_t i = 0; i < g.jobs; i++) {
        struct wp_proc *j = create(p->sched, ROLE_JOB, i);
        struct wp_msg *w = j ? wp_msg_new(WP_MSG_USER, p->pid, p->pid_len, "go", 2, NULL, 0) : NULL;
        if (!w) {
          atomic_fetch_add(&g.errors, 1);
          signal_main();
          if (j) wp_proc_release(j);
          return WP_RUN_WAIT;
        }
        wp_proc_deliver(j, w);
        wp_proc_release(j);
      }
    } else {
      spin(g.work_ns);
      if (g.ran[d->index]++ != 0) atomic_fetch_add(&g.errors, 1);
      if (atomic_fetch_add(&g.done, 1) + 1 == g.jobs) signal_main();
      return finish(p);
    }
  }
  return WP_RUN_WAIT;
}

static void op_free(struct wp_proc *p) {
  wp_free(p->vm);
  p->vm = NULL;
  atomic_fetch_add(&g.freed, 1);
  signal_main();
}

static const struct wp_sched_ops ops = {.run = op_run, .free = op_free};

static int wait_for(_Atomic uint64_t *v, uint64_t want, int seconds) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += seconds;
  pthread_mutex_lock(&g.m);
  while (atomic_load(v) != want && !atomic_load(&g.errors))
    if (pthread_cond_timedwait(&g.cv, &g.m, &ts) != 0) break;
  pthread_mutex_unlock(&g.m);
  return atomic_load(v) == want && !atomic_load(&g.errors);
}

static int send_topic(struct wp_proc *p, const char *topic) {
  struct wp_msg *m = wp_msg_new(WP_MSG_USER, "", 0, topic, strlen(topic), NULL, 0);
  if (!m) return -1;
  wp_proc_deliver(p, m);
  return 0;
}

/* Runs one round; 1 if every job ran exactly once. */
static int round_(struct wp_proc *src, int r) {
  memset(g.ran, 0, g.jobs);
  atomic_store(&g.done, 0);
  if (send_topic(src, "round") != 0 || !wait_for(&g.done, g.jobs, 300)) {
    fprintf(stderr, "bench_steal: FAILED round %d: %" PRIu64 " of %" PRIu64 " jobs ran%s\n", r,
            (uint64_t)atomic_load(&g.done), g.jobs,
            atomic_load(&g.errors) ? " (a job ran twice or a spawn failed)" : "");
    return 0;
  }
  for (uint64_t i = 0; i < g.jobs; i++)
    if (g.ran[i] != 1) {
      fprintf(stderr, "bench_steal: FAILED job %" PRIu64 " ran %d times\n", i, g.ran[i]);
      return 0;
    }
  return 1;
}

static void usage(const char *argv0) {
  fprintf(stderr, "usage: %s [-j jobs] [-u work-us] [-w workers] [-r rounds]\n", argv0);
  exit(2);
}

int main(int argc, char **argv) {
  int ch, workers = 0, rounds = 3;
  g.jobs = 20000;
  uint64_t work_us = 50;
  while ((ch = getopt(argc, argv, "j:u:w:r:h")) != -1) {
    switch (ch) {
      case 'j': g.jobs = strtoull(optarg, NULL, 10); break;
      case 'u': work_us = strtoull(optarg, NULL, 10); break;
      case 'w': workers = atoi(optarg); break;
      case 'r': rounds = atoi(optarg); break;
      default: usage(argv[0]);
    }
  }
  if (g.jobs < 1 || g.jobs > 10000000 || work_us > 1000000 || workers < 0 || workers > 256 ||
      rounds < 1)
    usage(argv[0]);
  g.work_ns = work_us * 1000;
  g.ran = calloc(g.jobs, 1);
  struct wp_sched *s = wp_sched_new(workers, &ops, NULL);
  if (!g.ran || !s || wp_sched_start(s) != 0) {
    fprintf(stderr, "bench_steal: setup failed\n");
    return 1;
  }
  workers = wp_sched_workers(s);
  struct wp_proc *src = create(s, ROLE_SOURCE, 0);
  if (!src) return 1;

  struct wp_sched_stats st0, st;
  wp_sched_stats(s, &st0);
  int ok = 1;
  uint64_t t0 = wp_clock_ns();
  for (int r = 0; r < rounds && ok; r++) ok = round_(src, r);
  uint64_t dt = wp_clock_ns() - t0;
  wp_sched_stats(s, &st);
  uint64_t steals = st.steals - st0.steals, runs = st.runs - st0.runs;
  /* A tiny run may end before the other workers wake up: then extra rounds
  ** (not in the figures) until one steal, as tests/stress/stress_steal.c. */
  int extra = 0;
  while (ok && workers >= 2 && st.steals == st0.steals && extra < 20) {
    ok = round_(src, rounds + extra++);
    wp_sched_stats(s, &st);
  }
  if (ok && workers >= 2 && st.steals == st0.steals) {
    fprintf(stderr, "bench_steal: FAILED no steal with %d workers in %d rounds\n", workers,
            rounds + extra);
    ok = 0;
  }
  send_topic(src, "stop");
  wp_proc_release(src);
  if (!wait_for(&g.freed, atomic_load(&g.created), 60)) {
    fprintf(stderr, "bench_steal: FAILED %" PRIu64 " of %" PRIu64 " processes freed\n",
            (uint64_t)atomic_load(&g.freed), (uint64_t)atomic_load(&g.created));
    ok = 0;
  }
  if (ok && wp_ptab_count(wp_sched_ptab(s)) != 0) {
    fprintf(stderr, "bench_steal: FAILED processes left in the table\n");
    ok = 0;
  }
  uint64_t total = g.jobs * (uint64_t)rounds;
  printf("RESULT system=wippy scenario=steal jobs=%" PRIu64 " work_us=%" PRIu64
         " workers=%d rounds=%d jobs_per_s=%.1f efficiency=%.3f steals=%" PRIu64
         " runs=%" PRIu64 " elapsed_ms=%.3f extra_rounds=%d\n",
         g.jobs, work_us, workers, rounds, (double)total / ((double)dt / 1e9),
         (double)total * (double)g.work_ns / ((double)dt * workers), steals, runs,
         (double)dt / 1e6, extra);
  wp_sched_stop(s);
  wp_sched_free(s);
  free(g.ran);
  return ok ? 0 : 1;
}
