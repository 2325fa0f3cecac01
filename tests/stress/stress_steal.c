/*
** stress_steal.c: work stealing under imbalance, with tokens relayed
** between many C processes on the real scheduler.
**
**   stress_steal [-t workers] [-n tokens] [-h hops] [-r relays]
**
** One source process, running on one worker, spawns the relay processes and
** sends every token: each relay it wakes lands on that worker's run queue,
** so the other workers only get work by stealing (asserted when there are
** two workers or more). A token carries a magic value, its id, its hop count
** and the index of the process that sent it; each relay checks all of them
** (the sender must be the relay the token's route says) and forwards it to
** the next relay of the route, and after the last hop to the sink, which
** checks that every token arrives exactly once. Defaults suit ctest, also
** under TSan.
*/
#include "test.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "scheduler.h"

#define PROC_MAGIC UINT64_C(0x50524f43c0ffee00)
#define TOKEN_MAGIC UINT64_C(0x746f6b656e5a5a5a)

static int opt_workers = 3;
static uint64_t opt_tokens = 20000;
static uint64_t opt_hops = 16;
static uint64_t opt_relays = 64;

enum { ROLE_SOURCE = 1, ROLE_RELAY, ROLE_SINK };

struct token {
  uint64_t magic;
  uint64_t id;
  uint64_t hop;    /* hops done so far */
  uint64_t sender; /* process index: relays 0..R-1, the source is R */
  uint64_t check;  /* magic ^ id ^ hop ^ sender */
};

struct pd { /* p->vm */
  uint64_t magic;
  int role;
  uint64_t index;
  uint64_t handled;
  _Atomic int running; /* inside op_run: ops->warm must never see it set */
};

static struct {
  pthread_mutex_t m;
  pthread_cond_t cv;
  _Atomic int errors;
  char error[256];
  _Atomic uint64_t arrived; /* tokens at the sink, this round */
  _Atomic int spawned, freed;
  _Atomic uint64_t warmed; /* ops->warm calls (staged processes) */
  _Atomic int relays_ready;
  wp_handle *relay; /* written by the source before any token is sent */
  wp_handle sink;
  unsigned char *seen; /* sink-private until the round is over */
  uint64_t round_base; /* first token id of the round */
} g = {.m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

#define PFAIL(...)                                                      \
  do {                                                                  \
    pthread_mutex_lock(&g.m);                                           \
    if (atomic_fetch_add(&g.errors, 1) == 0) snprintf(g.error, sizeof g.error, __VA_ARGS__); \
    pthread_cond_broadcast(&g.cv);                                      \
    pthread_mutex_unlock(&g.m);                                         \
  } while (0)

static void signal_main(void) {
  pthread_mutex_lock(&g.m);
  pthread_cond_broadcast(&g.cv);
  pthread_mutex_unlock(&g.m);
}

/* The relay a token visits at hop h (a fixed pseudo-random route). */
static uint64_t route(uint64_t id, uint64_t h) {
  uint64_t x = id * UINT64_C(0x9e3779b97f4a7c15) + h * UINT64_C(0xbf58476d1ce4e5b9);
  x ^= x >> 31;
  x *= UINT64_C(0x94d049bb133111eb);
  x ^= x >> 29;
  return x % opt_relays;
}

static int send_to(struct wp_sched *s, wp_handle to, const char *topic, const void *body,
                   size_t len, const struct wp_proc *from) {
  struct wp_proc *q = wp_ptab_get(wp_sched_ptab(s), to);
  if (!q) return WP_ENOPROC;
  struct wp_msg *m = wp_msg_new(WP_MSG_USER, from ? from->pid : "", from ? from->pid_len : 0,
                                topic, strlen(topic), body, len);
  if (!m) {
    wp_proc_release(q);
    return WP_ENOMEM;
  }
  wp_proc_deliver(q, m);
  wp_proc_release(q);
  return 0;
}

static void send_token(struct wp_sched *s, wp_handle to, uint64_t id, uint64_t hop,
                       uint64_t sender, const struct wp_proc *from) {
  struct token t = {TOKEN_MAGIC, id, hop, sender, TOKEN_MAGIC ^ id ^ hop ^ sender};
  if (send_to(s, to, "token", &t, sizeof t, from) != 0) PFAIL("token %" PRIu64 " undeliverable", id);
}

static struct wp_proc *spawn(struct wp_sched *s, int role, uint64_t index) {
  struct pd *d = wp_calloc(1, sizeof *d);
  if (!d) return NULL;
  d->magic = PROC_MAGIC;
  d->role = role;
  d->index = index;
  struct wp_proc *p = wp_proc_new(s, NULL);
  if (!p) {
    wp_free(d);
    return NULL;
  }
  p->vm = d;
  struct wp_ptab *t = wp_sched_ptab(s);
  p->counter = wp_ptab_next_counter(t);
  p->pid_len = (uint32_t)snprintf(p->pid, WP_PID_INLINE, "{steal|0x%05" PRIx64 "}", p->counter);
  atomic_fetch_add(&g.spawned, 1);
  if (wp_ptab_insert(t, p) != 0) {
    wp_proc_release(p);
    return NULL;
  }
  return p;
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

static int read_token(struct wp_msg *m, struct token *t) {
  if (m->len != sizeof *t) {
    PFAIL("token of %zu bytes", m->len);
    return 0;
  }
  memcpy(t, wp_msg_payload(m), sizeof *t);
  if (t->magic != TOKEN_MAGIC || t->check != (t->magic ^ t->id ^ t->hop ^ t->sender)) {
    PFAIL("corrupt token (magic %" PRIx64 ")", t->magic);
    return 0;
  }
  return 1;
}

/* Source: "spawn" creates the relays; "go" (a = first id, b = count) sends
** a round of tokens, all from this one run. */
static int source_msg(struct wp_proc *p, struct pd *d, struct wp_msg *m) {
  if (strcmp(wp_msg_topic(m), "spawn") == 0) {
    for (uint64_t i = 0; i < opt_relays; i++) {
      struct wp_proc *r = spawn(p->sched, ROLE_RELAY, i);
      if (!r) {
        PFAIL("spawn failed");
        return WP_RUN_WAIT;
      }
      g.relay[i] = r->handle;
    }
    atomic_store(&g.relays_ready, 1);
    signal_main();
  } else if (strcmp(wp_msg_topic(m), "go") == 0) {
    uint64_t v[2];
    memcpy(v, wp_msg_payload(m), sizeof v);
    for (uint64_t id = v[0]; id < v[0] + v[1]; id++)
      send_token(p->sched, g.relay[route(id, 0)], id, 0, opt_relays, p);
    d->handled += v[1];
  } else if (strcmp(wp_msg_topic(m), "stop") == 0) {
    return WP_RUN_DONE;
  }
  return WP_RUN_WAIT;
}

static int relay_msg(struct wp_proc *p, struct pd *d, struct wp_msg *m) {
  if (strcmp(wp_msg_topic(m), "stop") == 0) return WP_RUN_DONE;
  struct token t;
  if (!read_token(m, &t)) return WP_RUN_WAIT;
  if (t.hop >= opt_hops || route(t.id, t.hop) != d->index) {
    PFAIL("token %" PRIu64 " hop %" PRIu64 " at the wrong relay %" PRIu64, t.id, t.hop, d->index);
    return WP_RUN_WAIT;
  }
  uint64_t want = t.hop == 0 ? opt_relays : route(t.id, t.hop - 1);
  if (t.sender != want)
    PFAIL("token %" PRIu64 " hop %" PRIu64 ": sender %" PRIu64 ", expected %" PRIu64, t.id, t.hop,
          t.sender, want);
  d->handled++;
  uint64_t next = t.hop + 1;
  wp_handle to = next == opt_hops ? g.sink : g.relay[route(t.id, next)];
  send_token(p->sched, to, t.id, next, d->index, p);
  return WP_RUN_WAIT;
}

static int sink_msg(struct wp_proc *p, struct pd *d, struct wp_msg *m) {
  if (strcmp(wp_msg_topic(m), "stop") == 0) return WP_RUN_DONE;
  struct token t;
  if (!read_token(m, &t)) return WP_RUN_WAIT;
  if (t.hop != opt_hops || t.sender != route(t.id, opt_hops - 1)) {
    PFAIL("token %" PRIu64 " at the sink after %" PRIu64 " hops from %" PRIu64, t.id, t.hop,
          t.sender);
    return WP_RUN_WAIT;
  }
  uint64_t i = t.id - g.round_base;
  if (t.id < g.round_base || i >= opt_tokens) {
    PFAIL("token %" PRIu64 " not of this round", t.id);
    return WP_RUN_WAIT;
  }
  if (g.seen[i]++ != 0) PFAIL("token %" PRIu64 " arrived twice", t.id);
  d->handled++;
  if (atomic_fetch_add(&g.arrived, 1) + 1 == opt_tokens) signal_main();
  return WP_RUN_WAIT;
}

static int op_run(struct wp_proc *p) {
  struct pd *d = p->vm;
  if (!d || d->magic != PROC_MAGIC) {
    PFAIL("run: bad process data");
    return WP_RUN_WAIT;
  }
  if (atomic_exchange(&d->running, 1)) PFAIL("run: the process runs twice at once");
  struct wp_msg *m;
  while ((m = wp_mbox_take_sc(&p->mbox)) != NULL) {
    int r = d->role == ROLE_SOURCE ? source_msg(p, d, m)
            : d->role == ROLE_RELAY ? relay_msg(p, d, m)
                                    : sink_msg(p, d, m);
    wp_msg_free(m);
    if (r == WP_RUN_DONE) {
      atomic_store(&d->running, 0);
      return finish(p);
    }
  }
  atomic_store(&d->running, 0);
  return WP_RUN_WAIT;
}

/* A staged process: taken from a queue, not running, not freed. The plain
** read of `handled` (written by op_run) lets TSan see a warm that overlaps a
** run. */
static void op_warm(struct wp_proc *p) {
  struct pd *d = p->vm;
  if (!d || d->magic != PROC_MAGIC) {
    PFAIL("warm: bad process data");
    return;
  }
  if (atomic_load(&d->running)) PFAIL("warm: the process is running");
  volatile uint64_t seen = d->handled;
  (void)seen;
  atomic_fetch_add_explicit(&g.warmed, 1, memory_order_relaxed);
}

static void op_free(struct wp_proc *p) {
  struct pd *d = p->vm;
  if (!d || d->magic != PROC_MAGIC) {
    PFAIL("free: bad process data");
    return;
  }
  d->magic = 0;
  wp_free(d);
  p->vm = NULL;
  atomic_fetch_add(&g.freed, 1);
  signal_main();
}

static const struct wp_sched_ops ops = {.run = op_run, .free = op_free, .warm = op_warm};

/* Waits (bounded) until cond() holds or a process reported an error. */
static int wait_until(int (*cond)(void), int seconds) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += seconds;
  pthread_mutex_lock(&g.m);
  int ok;
  while (!(ok = cond()) && !atomic_load(&g.errors))
    if (pthread_cond_timedwait(&g.cv, &g.m, &ts) != 0) {
      ok = cond();
      break;
    }
  pthread_mutex_unlock(&g.m);
  if (atomic_load(&g.errors)) TEST_FAIL("%s", g.error);
  return ok;
}

static int relays_ready(void) { return atomic_load(&g.relays_ready); }
static int round_done(void) { return atomic_load(&g.arrived) == opt_tokens; }
static int all_freed(void) { return atomic_load(&g.freed) == atomic_load(&g.spawned); }

TEST(stress_steal) {
  struct wp_sched *s = wp_sched_new(opt_workers, &ops, NULL);
  ASSERT(s != NULL);
  ASSERT_EQ(wp_sched_start(s), 0);
  g.relay = wp_calloc(opt_relays, sizeof *g.relay);
  g.seen = wp_calloc(opt_tokens, 1);
  ASSERT(g.relay && g.seen);
  struct wp_proc *src = spawn(s, ROLE_SOURCE, opt_relays);
  struct wp_proc *sink = spawn(s, ROLE_SINK, opt_relays + 1);
  ASSERT(src && sink);
  wp_handle src_h = src->handle;
  g.sink = sink->handle;
  ASSERT_EQ(send_to(s, src_h, "spawn", NULL, 0, NULL), 0);
  if (!wait_until(relays_ready, 20)) TEST_FAIL("the relays were not spawned");

  /* rounds until a steal has happened (at most a few: one is the rule) */
  struct wp_sched_stats st;
  uint64_t t0 = wp_clock_ns();
  int rounds = 0;
  do {
    g.round_base = (uint64_t)rounds * opt_tokens;
    memset(g.seen, 0, opt_tokens);
    atomic_store(&g.arrived, 0);
    uint64_t v[2] = {g.round_base, opt_tokens};
    ASSERT_EQ(send_to(s, src_h, "go", v, sizeof v, NULL), 0);
    if (!wait_until(round_done, 60))
      TEST_FAIL("round %d: %" PRIu64 " of %" PRIu64 " tokens arrived", rounds,
                (uint64_t)atomic_load(&g.arrived), opt_tokens);
    for (uint64_t i = 0; i < opt_tokens; i++)
      if (g.seen[i] != 1) TEST_FAIL("token %" PRIu64 " arrived %d times", i, g.seen[i]);
    rounds++;
    wp_sched_stats(s, &st);
  } while (opt_workers >= 2 && st.steals == 0 && rounds < 20);
  uint64_t dt = wp_clock_ns() - t0;
  printf("# %d workers, %d round(s) of %" PRIu64 " tokens x %" PRIu64 " hops over %" PRIu64
         " relays: %.1f ms; runs %" PRIu64 ", steals %" PRIu64 ", injects %" PRIu64
         ", parks %" PRIu64 ", wakes %" PRIu64 ", staged %" PRIu64 "\n",
         opt_workers, rounds, opt_tokens, opt_hops, opt_relays, (double)dt / 1e6, st.runs,
         st.steals, st.injects, st.parks, st.wakes, atomic_load(&g.warmed));
  if (opt_workers >= 2) ASSERT(st.steals > 0);

  /* everyone ends; every block is freed */
  for (uint64_t i = 0; i < opt_relays; i++) ASSERT_EQ(send_to(s, g.relay[i], "stop", NULL, 0, NULL), 0);
  ASSERT_EQ(send_to(s, src_h, "stop", NULL, 0, NULL), 0);
  ASSERT_EQ(send_to(s, g.sink, "stop", NULL, 0, NULL), 0);
  if (!wait_until(all_freed, 20))
    TEST_FAIL("%d of %d processes ended", atomic_load(&g.freed), atomic_load(&g.spawned));
  ASSERT_EQ(wp_ptab_count(wp_sched_ptab(s)), 0);
  wp_sched_stop(s);
  wp_sched_free(s);
  wp_free(g.relay);
  wp_free(g.seen);
  return 0;
}

TEST_LIST = {TEST_ENTRY(stress_steal), TEST_END};

static void usage(const char *argv0) {
  fprintf(stderr, "usage: %s [-t workers] [-n tokens] [-h hops] [-r relays]\n", argv0);
  exit(2);
}

int main(int argc, char **argv) {
  int ch;
  while ((ch = getopt(argc, argv, "t:n:h:r:")) != -1) {
    switch (ch) {
      case 't': opt_workers = atoi(optarg); break;
      case 'n': opt_tokens = strtoull(optarg, NULL, 10); break;
      case 'h': opt_hops = strtoull(optarg, NULL, 10); break;
      case 'r': opt_relays = strtoull(optarg, NULL, 10); break;
      default: usage(argv[0]);
    }
  }
  if (opt_workers < 1 || opt_workers > 256 || opt_tokens < 1 || opt_tokens > 100000000 ||
      opt_hops < 1 || opt_relays < 1 || opt_relays > 1000000)
    usage(argv[0]);
  return wp_test_run_all(wp_test_list, 120);
}
