/*
** stress_mailbox.c: many producer threads flood one consumer process.
**
**   stress_mailbox [-t producers] [-n messages per producer] [-w workers]
**
** Each message carries a magic value, its producer's id and a per-producer
** sequence number (and the same again in the envelope). The consumer, a C
** process run by the real scheduler, waits whenever its mailbox is empty and
** checks that every producer's messages arrive complete, in order, once.
** Producers send in bursts of varying length so that the consumer keeps
** going idle and being woken. Defaults are small enough for ctest under TSan.
*/
#include "test.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "scheduler.h"

#define MAGIC UINT64_C(0x6d61696c626f7821)
#define MAGIC2 UINT64_C(0xfeedfacecafebeef)

static int opt_producers = 4;
static uint64_t opt_per = 20000;
static int opt_workers = 2;

struct payload {
  uint64_t magic;
  uint64_t tid;
  uint64_t seq;
  uint64_t check; /* magic ^ tid ^ seq */
  uint64_t magic2;
};

/* The consumer's state (p->vm), touched only by whichever worker runs it. */
struct consumer {
  uint64_t magic;
  uint64_t *next; /* next expected sequence number per producer */
  uint64_t got;
  uint64_t runs, empty_runs;
};

static struct {
  pthread_mutex_t m;
  pthread_cond_t cv;
  _Atomic uint64_t received;
  _Atomic int errors;
  char error[256];
  _Atomic int freed;
  uint64_t total;
  _Atomic uint64_t sent;
} g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, {0}, 0, 0, 0};

#define PFAIL(...)                                                      \
  do {                                                                  \
    pthread_mutex_lock(&g.m);                                           \
    if (atomic_fetch_add(&g.errors, 1) == 0) snprintf(g.error, sizeof g.error, __VA_ARGS__); \
    pthread_cond_broadcast(&g.cv);                                      \
    pthread_mutex_unlock(&g.m);                                         \
  } while (0)

static int consumer_run(struct wp_proc *p) {
  struct consumer *c = p->vm;
  if (!c || c->magic != MAGIC) {
    PFAIL("consumer: bad process data");
    return WP_RUN_WAIT;
  }
  c->runs++;
  struct wp_msg *m;
  uint64_t before = c->got;
  while ((m = wp_mbox_take_sc(&p->mbox)) != NULL) {
    struct payload b;
    if (m->kind != WP_MSG_USER || m->len != sizeof b) {
      PFAIL("bad envelope: kind %u len %zu", (unsigned)m->kind, m->len);
      wp_msg_free(m);
      continue;
    }
    memcpy(&b, wp_msg_payload(m), sizeof b);
    if (b.magic != MAGIC || b.magic2 != MAGIC2 || b.check != (b.magic ^ b.tid ^ b.seq) ||
        b.tid >= (uint64_t)opt_producers || m->aux != b.seq) {
      PFAIL("corrupt message: magic %" PRIx64 " tid %" PRIu64 " seq %" PRIu64, b.magic, b.tid,
            b.seq);
    } else {
      char from[32];
      snprintf(from, sizeof from, "{producer|%" PRIu64 "}", b.tid);
      if (strcmp(wp_msg_from(m), from) != 0 || strcmp(wp_msg_topic(m), "seq") != 0)
        PFAIL("bad from/topic: %s %s", wp_msg_from(m), wp_msg_topic(m));
      if (b.seq != c->next[b.tid])
        PFAIL("producer %" PRIu64 ": seq %" PRIu64 ", expected %" PRIu64 " (%s)", b.tid, b.seq,
              c->next[b.tid], b.seq < c->next[b.tid] ? "duplicate" : "lost");
      c->next[b.tid] = b.seq + 1;
    }
    wp_msg_free(m);
    c->got++;
  }
  if (c->got == before) c->empty_runs++;
  atomic_store(&g.received, c->got);
  if (c->got >= g.total) {
    pthread_mutex_lock(&g.m);
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.m);
  }
  return WP_RUN_WAIT;
}

static void consumer_free(struct wp_proc *p) {
  struct consumer *c = p->vm;
  if (!c) return;
  c->magic = 0;
  wp_free(c->next);
  wp_free(c);
  p->vm = NULL;
  atomic_fetch_add(&g.freed, 1);
}

static const struct wp_sched_ops ops = {.run = consumer_run, .free = consumer_free};

struct producer {
  pthread_t th;
  uint64_t tid;
  struct wp_proc *target; /* referenced by main for the whole run */
  _Atomic int *go;
};

static void *producer_main(void *arg) {
  struct producer *pr = arg;
  char from[32];
  int flen = snprintf(from, sizeof from, "{producer|%" PRIu64 "}", pr->tid);
  while (!atomic_load(pr->go)) sched_yield();
  uint64_t burst = 1 + pr->tid % 7, k = 0;
  for (uint64_t i = 0; i < opt_per; i++) {
    struct payload b = {MAGIC, pr->tid, i, MAGIC ^ pr->tid ^ i, MAGIC2};
    struct wp_msg *m = wp_msg_new(WP_MSG_USER, from, (size_t)flen, "seq", 3, &b, sizeof b);
    if (!m) {
      PFAIL("out of memory");
      return NULL;
    }
    m->aux = i;
    wp_proc_deliver(pr->target, m);
    uint64_t sent = atomic_fetch_add(&g.sent, 1) + 1;
    if (++k == burst) { /* bursts of 1..64: the consumer drains and waits often */
      k = 0;
      burst = burst % 64 + 1 + pr->tid;
      if (pr->tid % 2) {
        /* odd producers wait until everything sent so far was consumed, so
        ** that the consumer goes idle and needs waking again */
        uint64_t t0 = wp_clock_ns();
        while (atomic_load(&g.received) < sent && !atomic_load(&g.errors)) {
          sched_yield();
          if (wp_clock_ns() - t0 > 10000000000u) {
            PFAIL("producer %" PRIu64 ": consumer stuck at %" PRIu64 " of %" PRIu64
                  " (lost wake-up)", pr->tid, (uint64_t)atomic_load(&g.received), sent);
            return NULL;
          }
        }
      } else {
        sched_yield();
      }
    }
  }
  return NULL;
}

static int pred_done(void) {
  return atomic_load(&g.received) >= g.total || atomic_load(&g.errors) != 0;
}

TEST(stress_mailbox) {
  g.total = (uint64_t)opt_producers * opt_per;
  struct wp_sched *s = wp_sched_new(opt_workers, &ops, NULL);
  ASSERT(s != NULL);
  ASSERT_EQ(wp_sched_start(s), 0);
  struct wp_ptab *t = wp_sched_ptab(s);
  struct consumer *c = wp_calloc(1, sizeof *c);
  ASSERT(c != NULL);
  c->magic = MAGIC;
  c->next = wp_calloc((size_t)opt_producers, sizeof *c->next);
  ASSERT(c->next != NULL);
  struct wp_proc *p = wp_proc_new(s, NULL);
  ASSERT(p != NULL);
  p->vm = c;
  p->counter = wp_ptab_next_counter(t);
  p->pid_len = (uint32_t)snprintf(p->pid, WP_PID_INLINE, "{stress|0x%05" PRIx64 "}", p->counter);
  wp_proc_retain(p); /* ours, for the producers */
  ASSERT_EQ(wp_ptab_insert(t, p), 0);

  _Atomic int go = 0;
  struct producer *pr = calloc((size_t)opt_producers, sizeof *pr);
  ASSERT(pr != NULL);
  for (int i = 0; i < opt_producers; i++) {
    pr[i].tid = (uint64_t)i;
    pr[i].target = p;
    pr[i].go = &go;
    ASSERT_EQ(pthread_create(&pr[i].th, NULL, producer_main, &pr[i]), 0);
  }
  uint64_t t0 = wp_clock_ns();
  atomic_store(&go, 1);
  for (int i = 0; i < opt_producers; i++) pthread_join(pr[i].th, NULL);
  uint64_t t1 = wp_clock_ns();

  /* all sent: the consumer must get every message without further help */
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 20;
  pthread_mutex_lock(&g.m);
  while (!pred_done())
    if (pthread_cond_timedwait(&g.cv, &g.m, &ts) != 0) break;
  pthread_mutex_unlock(&g.m);
  uint64_t t2 = wp_clock_ns();
  if (atomic_load(&g.errors)) TEST_FAIL("%s", g.error);
  if (atomic_load(&g.received) != g.total)
    TEST_FAIL("lost wake-up or messages: %" PRIu64 " of %" PRIu64 " received",
              (uint64_t)atomic_load(&g.received), g.total);

  wp_sched_stop(s);
  /* no duplicates or strays left over, every producer complete */
  ASSERT(wp_mbox_take_sc(&p->mbox) == NULL);
  ASSERT_EQ(c->got, g.total);
  for (int i = 0; i < opt_producers; i++) ASSERT_EQ(c->next[i], opt_per);
  struct wp_sched_stats st;
  wp_sched_stats(s, &st);
  printf("# %d producers x %" PRIu64 " messages, %d workers: sent in %.1f ms, all received "
         "%.1f ms later; consumer ran %" PRIu64 " times (%" PRIu64 " empty), %" PRIu64
         " injects, %" PRIu64 " parks, %" PRIu64 " wakes\n",
         opt_producers, opt_per, opt_workers, (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6,
         c->runs, c->empty_runs, st.injects, st.parks, st.wakes);
  wp_ptab_remove(t, p);
  ASSERT_EQ(atomic_load(&g.freed), 0);
  wp_proc_release(p);
  ASSERT_EQ(atomic_load(&g.freed), 1);
  wp_sched_free(s);
  free(pr);
  return 0;
}

TEST_LIST = {TEST_ENTRY(stress_mailbox), TEST_END};

static void usage(const char *argv0) {
  fprintf(stderr, "usage: %s [-t producers] [-n messages-per-producer] [-w workers]\n", argv0);
  exit(2);
}

int main(int argc, char **argv) {
  int ch;
  while ((ch = getopt(argc, argv, "t:n:w:h")) != -1) {
    switch (ch) {
      case 't': opt_producers = atoi(optarg); break;
      case 'n': opt_per = strtoull(optarg, NULL, 10); break;
      case 'w': opt_workers = atoi(optarg); break;
      default: usage(argv[0]);
    }
  }
  if (opt_producers < 1 || opt_producers > 1024 || opt_workers < 1 || opt_workers > 256 ||
      opt_per < 1)
    usage(argv[0]);
  return wp_test_run_all(wp_test_list, 120);
}
