/*
** bench_mailbox.c: mailbox throughput, N sender threads to one receiver
** process on the real scheduler (the sched library alone, no Lua).
**
**   bench_mailbox [-s senders] [-n messages per sender] [-w workers]
**
** Each sender thread pushes its messages (a small payload: sender id and
** sequence number) with wp_proc_deliver, as fast as it can. The receiver, a
** C process, drains its mailbox whenever it runs and checks that every
** sender's messages arrive complete, in order and once. Exits 1 unless the
** receiver got exactly senders x messages, in order. Prints one RESULT line:
**
**   RESULT system=wippy scenario=mailbox senders=S msgs=N workers=W
**          msgs_per_s=.. ns_per_msg=.. receiver_runs=.. parks=.. wakes=..
**
** The time runs from the release of the senders until the receiver has taken
** the last message.
*/
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "scheduler.h"

struct body {
  uint64_t sender, seq;
};

static struct {
  int senders, workers;
  uint64_t per, total;
  pthread_mutex_t m;
  pthread_cond_t cv;
  _Atomic int go;
  _Atomic uint64_t received;
  _Atomic int errors;
  char error[200];
  uint64_t *next; /* receiver-private: next expected seq per sender */
  uint64_t runs;  /* receiver-private */
  uint64_t t_done;
} g = {.m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void fail(const char *what) {
  pthread_mutex_lock(&g.m);
  if (atomic_fetch_add(&g.errors, 1) == 0) snprintf(g.error, sizeof g.error, "%s", what);
  pthread_cond_broadcast(&g.cv);
  pthread_mutex_unlock(&g.m);
}

static int receiver_run(struct wp_proc *p) {
  struct wp_msg *m;
  uint64_t got = atomic_load_explicit(&g.received, memory_order_relaxed);
  g.runs++;
  while ((m = wp_mbox_take_sc(&p->mbox)) != NULL) {
    struct body b;
    if (m->kind != WP_MSG_USER || m->len != sizeof b) {
      fail("bad envelope");
    } else {
      memcpy(&b, wp_msg_payload(m), sizeof b);
      if (b.sender >= (uint64_t)g.senders || b.seq != g.next[b.sender])
        fail("message out of order, duplicated or lost");
      else
        g.next[b.sender]++;
    }
    wp_msg_free(m);
    got++;
  }
  atomic_store_explicit(&g.received, got, memory_order_release);
  if (got >= g.total) {
    pthread_mutex_lock(&g.m);
    if (!g.t_done) g.t_done = wp_clock_ns();
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.m);
  }
  return WP_RUN_WAIT;
}

static void receiver_free(struct wp_proc *p) { p->vm = NULL; }

static const struct wp_sched_ops ops = {.run = receiver_run, .free = receiver_free};

struct sender {
  pthread_t th;
  uint64_t id;
  struct wp_proc *target;
};

static void *sender_main(void *arg) {
  struct sender *s = arg;
  char from[32];
  int flen = snprintf(from, sizeof from, "{sender|%" PRIu64 "}", s->id);
  while (!atomic_load(&g.go)) sched_yield();
  for (uint64_t i = 0; i < g.per; i++) {
    struct body b = {s->id, i};
    struct wp_msg *m = wp_msg_new(WP_MSG_USER, from, (size_t)flen, "n", 1, &b, sizeof b);
    if (!m) {
      fail("out of memory");
      return NULL;
    }
    wp_proc_deliver(s->target, m);
  }
  return NULL;
}

static void usage(const char *argv0) {
  fprintf(stderr, "usage: %s [-s senders] [-n messages-per-sender] [-w workers]\n", argv0);
  exit(2);
}

int main(int argc, char **argv) {
  int ch;
  g.senders = 4;
  g.per = 1000000;
  g.workers = 0;
  while ((ch = getopt(argc, argv, "s:n:w:h")) != -1) {
    switch (ch) {
      case 's': g.senders = atoi(optarg); break;
      case 'n': g.per = strtoull(optarg, NULL, 10); break;
      case 'w': g.workers = atoi(optarg); break;
      default: usage(argv[0]);
    }
  }
  if (g.senders < 1 || g.senders > 1024 || g.per < 1 || g.workers < 0 || g.workers > 256)
    usage(argv[0]);
  g.total = (uint64_t)g.senders * g.per;
  g.next = calloc((size_t)g.senders, sizeof *g.next);
  struct sender *ss = calloc((size_t)g.senders, sizeof *ss);
  struct wp_sched *s = wp_sched_new(g.workers, &ops, NULL);
  if (!g.next || !ss || !s || wp_sched_start(s) != 0) {
    fprintf(stderr, "bench_mailbox: setup failed\n");
    return 1;
  }
  struct wp_ptab *t = wp_sched_ptab(s);
  struct wp_proc *p = wp_proc_new(s, NULL);
  if (!p) return 1;
  p->counter = wp_ptab_next_counter(t);
  p->pid_len = (uint32_t)snprintf(p->pid, WP_PID_INLINE, "{bench|0x%05" PRIx64 "}", p->counter);
  wp_proc_retain(p); /* ours, for the senders */
  if (wp_ptab_insert(t, p) != 0) return 1;

  for (int i = 0; i < g.senders; i++) {
    ss[i].id = (uint64_t)i;
    ss[i].target = p;
    if (pthread_create(&ss[i].th, NULL, sender_main, &ss[i]) != 0) return 1;
  }
  uint64_t t0 = wp_clock_ns();
  atomic_store(&g.go, 1);
  for (int i = 0; i < g.senders; i++) pthread_join(ss[i].th, NULL);
  uint64_t t1 = wp_clock_ns();

  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 120;
  pthread_mutex_lock(&g.m);
  while (atomic_load(&g.received) < g.total && !atomic_load(&g.errors))
    if (pthread_cond_timedwait(&g.cv, &g.m, &ts) != 0) break;
  uint64_t t2 = g.t_done ? g.t_done : wp_clock_ns();
  pthread_mutex_unlock(&g.m);

  wp_sched_stop(s);
  int ok = !atomic_load(&g.errors) && atomic_load(&g.received) == g.total;
  for (int i = 0; ok && i < g.senders; i++)
    if (g.next[i] != g.per) ok = 0;
  if (!ok)
    fprintf(stderr, "bench_mailbox: FAILED %s: received %" PRIu64 " of %" PRIu64 "\n",
            atomic_load(&g.errors) ? g.error : "count mismatch",
            (uint64_t)atomic_load(&g.received), g.total);
  struct wp_sched_stats st;
  wp_sched_stats(s, &st);
  double dt = (double)(t2 - t0);
  printf("RESULT system=wippy scenario=mailbox senders=%d msgs=%" PRIu64 " workers=%d "
         "msgs_per_s=%.1f ns_per_msg=%.1f send_ms=%.3f receiver_runs=%" PRIu64
         " parks=%" PRIu64 " wakes=%" PRIu64 "\n",
         g.senders, g.total, wp_sched_workers(s), (double)g.total / (dt / 1e9),
         dt / (double)g.total, (double)(t1 - t0) / 1e6, g.runs, st.parks, st.wakes);
  wp_ptab_remove(t, p);
  wp_proc_release(p);
  wp_sched_free(s);
  free(ss);
  free(g.next);
  return ok ? 0 : 1;
}
