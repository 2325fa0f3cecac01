/*
** scheduler.c: worker pool, parking, timer thread and preemption watchdog.
**
** Design note: finding work. A worker runs, in order: its own ring, the
** inject queue (checked first every 61st time, so injected processes cannot
** starve behind a busy ring), then one process stolen from each other worker
** in turn. With nothing found it spins for a short while, then parks.
**
** Parking never loses a wake-up. Whoever queues a process issues a seq_cst
** fence and then reads `nspinning` and `nsleepers`; a worker leaving the
** spinning state decrements `nspinning`, fences and looks at every queue once
** more; a parking worker increments `nsleepers` under `park_lock`, fences and
** looks again before it waits. Whichever side comes second sees the other.
** A sleeper is woken only when nobody is spinning: waking a parked thread
** takes a futex call and a trip through the kernel's scheduler, while a
** spinning one notices new work at its next load.
**
** Timers. One wheel (sched/timer.c) behind `tlock`, driven by the timer
** thread, which sleeps until the next deadline. Fired timers are collected
** under the lock and delivered (a WP_MSG_TIMER message to the owner) after it
** is released, so no Lua ever runs on the timer thread.
**
** Preemption. While any worker is awake the timer thread also wakes every
** few milliseconds and, for a worker that has run the same process for longer
** than the slice, calls ops->preempt once. Worker `lock` makes `current` safe
** to read from the timer thread. A request made on one thread must act on
** code running on another without touching that code's data from outside:
** the requester records it (ops->preempt; a kill sets p->kill), then sends
** WP_SCHED_SIGNAL to the worker thread running the process, whose handler
** calls ops->interrupt there (the VM arms its hook from inside the thread
** that runs the state). `sig_proc` is what the handler reads: a lock-free
** atomic the worker writes around each run, so reading it in a signal
** handler is safe. pthread_kill happens under `spare_lock`, which every
** worker thread takes before it exits, so the target thread cannot have been
** joined meanwhile; a signal that lands after the run it was meant for finds
** another process (or none) and does nothing.
**
** Stuck workers. A process spinning where Lua cannot yield (inside a C
** callback such as a sort comparator) keeps its worker however often it is
** preempted. When a preempted run goes on for STUCK_SLICES slices, the
** watchdog starts a spare worker thread (up to SPARES), so the other
** processes keep running; when the stuck run finally returns, a worker
** beyond the target count retires, handing what it had queued (runnext,
** staged, its ring) to the inject queue. Loops over workers run over every
** slot ever used (`nused`).
*/
#include "scheduler.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "runq.h"

#define RUNQ_SIZE 4096
/* Rounds of spinning (a look at every queue, then 50 pauses) before a worker
** parks. About as long as waking a parked thread costs on these machines
** (pitfalls.md 13): a peer that gets work back within that time finds it
** without a futex trip, and one that does not stops taking the CPU from the
** thread doing the work when the cores are shared. */
#define SPIN_ROUNDS 16
#define WATCHDOG_MS 2
#define QUIET_TURNS 2 /* see timer_main */
#define SPARES 32       /* extra threads for workers stuck in a C call */
#define RUNNEXT_STREAK 32        /* then the ring gets a turn (fairness) */
#define RUNNEXT_STEAL_NS 50000   /* a thief may take runnext after this */
#define STUCK_SLICES 4  /* preempted, yet still running after this many slices */

struct worker {
  struct wp_sched *s;
  int id;
  pthread_t thread;
  struct wp_runq q;
  pthread_spinlock_t lock; /* guards current, run_start, preempted, stuck (held briefly) */
  struct wp_proc *current;
  uint64_t run_start;
  int preempted;
  pthread_cond_t cv; /* under s->park_lock */
  int sleeping, signaled;
  int io_wait;      /* under s->park_lock: parked in park.wait, not on cv */
  int stuck;        /* under lock: the watchdog gave this worker's place away */
  int retire;       /* worker-private: a spare took its place; leave if surplus */
  _Atomic(struct wp_proc *) runnext; /* woken by the running process: runs next here */
  unsigned runnext_streak;           /* worker-private: runnext taken in a row */
  _Atomic(struct wp_proc *) staged;  /* taken to run after the current run (see stage) */
  _Atomic uint64_t busy_since;       /* start of the current run, 0 when idle */
  _Atomic(struct wp_proc *) sig_proc; /* the process being run, for the signal handler */
  pthread_t self;                    /* set by the thread before its first run */
  int slot_state;   /* under spare_lock: 0 never started, 1 running, 2 exited */
  unsigned tick;
  unsigned since_flush; /* worker-private: runs since the flush hook was called */
  uint64_t flushed_at;  /* worker-private: when it was (monotonic ns) */
  _Atomic uint64_t runs, steals, parks;
  /* Counters the control endpoint reads (wp_sched_view). Only this worker
  ** writes them, with a relaxed load and store (no locked instruction on
  ** the run path); any thread reads them with relaxed loads. */
  _Atomic uint64_t busy_ns;   /* time spent in ops->run */
  _Atomic uint64_t delivered; /* messages this thread delivered (wp_sched_count_delivery) */
  _Atomic uint64_t sent;      /* messages its processes sent (wp_sched_count_send) */
  _Atomic uint64_t preempts;  /* runs past their slice (written by the watchdog only) */
} __attribute__((aligned(WP_CACHELINE)));

struct fired {
  uint64_t target, id;
};

struct wp_sched {
  const struct wp_sched_ops *ops;
  void *ud;
  int nworkers;        /* the target number of active workers */
  int nslots;          /* workers + spare slots */
  _Atomic int nused;   /* slots ever started: loops run over [0, nused) */
  _Atomic int nactive; /* workers not retired */
  pthread_mutex_t spare_lock;
  struct worker *w;
  struct wp_injectq inject;
  struct wp_ptab *ptab;
  struct wp_names *names;
  _Atomic int stop;
  _Atomic int nspinning, nsleepers;
  pthread_mutex_t park_lock;
  _Atomic uint64_t wakes, injects;
  _Atomic uint64_t delivered_other; /* messages delivered by threads that are not its workers */
  _Atomic uint64_t sent_other;      /* sends counted on threads that are not its workers */
  uint64_t slice_ns;
  void (*flush)(void *, int); /* wp_sched_set_flush: set before the workers start */
  void *flush_arg;
  struct wp_sched_park park; /* wp_sched_set_park: set before the workers start */
  /* timer thread */
  pthread_t tthread;
  int tstarted;
  pthread_mutex_t tlock;
  pthread_cond_t tcond;
  struct wp_wheel *wheel;
  uint64_t twake;     /* tick the timer thread will wake at (under tlock) */
  _Atomic int tlong;  /* the timer thread sleeps without a watchdog tick */
  /* Fired timers not yet delivered (under tlock). Room for every armed
  ** timer is made when it is armed, so firing never allocates and never
  ** drops one: fcap >= tarmed + fn + fout always. */
  struct fired *fv;
  size_t fn, fcap;
  size_t tarmed;  /* timers in the wheel */
  size_t fout;    /* taken out by the timer thread, being delivered */
  uint64_t tfired; /* timers fired so far (under tlock) */
  int started;
};

static __thread struct worker *tls_worker;

void wp_sched_free_proc_vm(struct wp_sched *s, struct wp_proc *p) {
  if (s && s->ops->free) s->ops->free(p);
}

struct wp_sched *wp_sched_new(int workers, const struct wp_sched_ops *ops, void *ud) {
  if (workers <= 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    workers = n > 0 ? (int)n : 1;
  }
  if (wp_msg_reserve_init() != 0) return NULL;
  struct wp_sched *s = wp_calloc(1, sizeof *s);
  if (!s) return NULL;
  s->ops = ops;
  s->ud = ud;
  s->nworkers = workers;
  s->nslots = workers + SPARES;
  atomic_init(&s->nused, workers);
  atomic_init(&s->nactive, workers);
  s->slice_ns = 10 * 1000000ull;
  s->w = wp_calloc((size_t)s->nslots, sizeof *s->w);
  s->ptab = wp_ptab_new();
  s->names = wp_names_new();
  s->wheel = wp_wheel_new(wp_clock_ms());
  if (!s->w || !s->ptab || !s->names || !s->wheel) goto fail;
  for (int i = 0; i < s->nslots; i++) {
    struct worker *w = &s->w[i];
    w->s = s;
    w->id = i;
    if (i < workers && wp_runq_init(&w->q, RUNQ_SIZE)) goto fail;
    pthread_spin_init(&w->lock, PTHREAD_PROCESS_PRIVATE);
    pthread_cond_init(&w->cv, NULL);
  }
  pthread_mutex_init(&s->spare_lock, NULL);
  wp_injectq_init(&s->inject);
  pthread_mutex_init(&s->park_lock, NULL);
  pthread_mutex_init(&s->tlock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->tcond, &ca);
  pthread_condattr_destroy(&ca);
  s->twake = UINT64_MAX;
  return s;
fail:
  if (s->w)
    for (int i = 0; i < s->nslots; i++) wp_runq_destroy(&s->w[i].q);
  wp_free(s->w);
  wp_ptab_free(s->ptab);
  wp_names_free(s->names);
  wp_wheel_free(s->wheel);
  wp_free(s);
  return NULL;
}

int wp_sched_workers(const struct wp_sched *s) { return s->nworkers; }
void *wp_sched_ud(const struct wp_sched *s) { return s->ud; }
struct wp_ptab *wp_sched_ptab(struct wp_sched *s) { return s->ptab; }
struct wp_names *wp_sched_names(struct wp_sched *s) { return s->names; }
void wp_sched_set_slice(struct wp_sched *s, uint64_t ns) { s->slice_ns = ns; }

void wp_sched_set_flush(struct wp_sched *s, void (*fn)(void *arg, int idle), void *arg) {
  s->flush = fn;
  s->flush_arg = arg;
}

int wp_sched_on_worker(const struct wp_sched *s) {
  return tls_worker && tls_worker->s == s;
}

int wp_sched_busy_here(const struct wp_sched *s) {
  struct worker *w = tls_worker;
  return w && w->s == s &&
         (atomic_load_explicit(&w->runnext, memory_order_relaxed) ||
          atomic_load_explicit(&w->staged, memory_order_relaxed) || wp_runq_size(&w->q));
}

uint64_t wp_sched_run_id(const struct wp_sched *s) {
  struct worker *w = tls_worker;
  return w && w->s == s ? w->run_start : 0; /* written by this thread only */
}

void wp_sched_set_park(struct wp_sched *s, const struct wp_sched_park *p) { s->park = *p; }

int wp_sched_all_parked(struct wp_sched *s) {
  atomic_thread_fence(memory_order_seq_cst);
  return atomic_load(&s->nsleepers) >= atomic_load(&s->nactive);
}

/* Calls the flush hook (see wp_sched_set_flush) on w's thread. */
static void flush(struct worker *w, uint64_t now) {
  w->since_flush = 0;
  w->flushed_at = now;
  w->s->flush(w->s->flush_arg, 0);
}

/* ---- queues and parking ---- */

static int nused(struct wp_sched *s) { return atomic_load_explicit(&s->nused, memory_order_acquire); }

static int work_visible(struct wp_sched *s) {
  if (wp_injectq_len(&s->inject)) return 1;
  for (int i = 0, n = nused(s); i < n; i++)
    if (wp_runq_size(&s->w[i].q) || atomic_load(&s->w[i].runnext) || atomic_load(&s->w[i].staged))
      return 1;
  return 0;
}

int wp_sched_idle(struct wp_sched *s) {
  return atomic_load(&s->nsleepers) >= atomic_load(&s->nactive) && !work_visible(s);
}

/* Wakes one parked worker if nobody is spinning (see the design note). */
static void notify(struct wp_sched *s) {
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_load_explicit(&s->nspinning, memory_order_relaxed) > 0) return;
  if (atomic_load_explicit(&s->nsleepers, memory_order_relaxed) == 0) return;
  pthread_mutex_lock(&s->park_lock);
  /* a worker parked on its condition variable first: one waiting on I/O
  ** goes on watching it */
  struct worker *cv = NULL, *io = NULL;
  for (int i = 0, n = nused(s); i < n && !cv; i++) {
    struct worker *w = &s->w[i];
    if (!w->sleeping || w->signaled) continue;
    if (!w->io_wait)
      cv = w;
    else if (!io)
      io = w;
  }
  if (cv) {
    cv->signaled = 1;
    pthread_cond_signal(&cv->cv);
  } else if (io) {
    io->signaled = 1;
    s->park.wake(s->park.arg);
  }
  if (cv || io) atomic_fetch_add_explicit(&s->wakes, 1, memory_order_relaxed);
  pthread_mutex_unlock(&s->park_lock);
}

void wp_sched_enqueue(struct wp_sched *s, struct wp_proc *p) {
  struct worker *w = tls_worker;
  if (w && w->s == s && w->current) {
    /* Woken by the process this worker runs: it runs next, here, while its
    ** data is hot in this core's cache (a message ping-pong stays on one
    ** core). No wake-up: this worker is awake. The process it displaces
    ** goes to the ring for anyone to steal. */
    p = atomic_exchange(&w->runnext, p);
    if (!p) return;
  }
  if (!(w && w->s == s && wp_runq_push_owner(&w->q, p))) {
    wp_injectq_push(&s->inject, p);
    atomic_fetch_add_explicit(&s->injects, 1, memory_order_relaxed);
  }
  notify(s);
}

static struct wp_proc *steal(struct worker *w) {
  struct wp_sched *s = w->s;
  int n = nused(s);
  struct wp_proc *p = NULL;
  for (int k = 1; k < n && !p; k++) {
    struct worker *v = &s->w[(w->id + k) % n];
    if (wp_runq_size(&v->q)) {
      p = wp_runq_steal(&v->q);
    } else if (atomic_load_explicit(&v->runnext, memory_order_relaxed) ||
               atomic_load_explicit(&v->staged, memory_order_relaxed)) {
      /* from a worker busy with one run for a while (its owner would
      ** otherwise take it at once), or one not running at all */
      uint64_t since = atomic_load(&v->busy_since);
      if (!since || wp_clock_ns() - since > RUNNEXT_STEAL_NS) {
        p = atomic_exchange(&v->runnext, NULL);
        if (!p) p = atomic_exchange(&v->staged, NULL);
      }
    }
  }
  if (p) atomic_fetch_add_explicit(&w->steals, 1, memory_order_relaxed);
  return p;
}

/* The next process for w: its own queues first, the inject queue every 61st
** time; with `thieving`, other workers' queues last. */
static struct wp_proc *next_work(struct worker *w, int thieving) {
  struct wp_sched *s = w->s;
  struct wp_proc *p;
  if (w->runnext_streak < RUNNEXT_STREAK && atomic_load_explicit(&w->runnext, memory_order_relaxed) &&
      (p = atomic_exchange(&w->runnext, NULL))) {
    w->runnext_streak++;
    return p;
  }
  w->runnext_streak = 0;
  if (++w->tick % 61 == 0 && (p = wp_injectq_pop(&s->inject))) return p;
  if ((p = wp_runq_pop_owner(&w->q))) return p;
  if ((p = atomic_exchange(&w->runnext, NULL))) return p;
  if ((p = wp_injectq_pop(&s->inject))) return p;
  return thieving ? steal(w) : NULL;
}

static struct wp_proc *find_work(struct worker *w) { return next_work(w, 1); }

static void timer_kick_if_long(struct wp_sched *s);

/* Spins, then parks. Returns a process found meanwhile, or NULL. */
static struct wp_proc *idle(struct worker *w) {
  struct wp_sched *s = w->s;
  struct wp_proc *p;
  if (s->flush) {
    /* flushed_at stays: the first run after this idle stretch ends with a
    ** flush too, so what a woken worker's first process sends goes at once */
    w->since_flush = 0;
    s->flush(s->flush_arg, 1);
  }
  atomic_fetch_add(&s->nspinning, 1);
  for (int i = 0; i < SPIN_ROUNDS; i++) {
    if ((p = find_work(w))) {
      if (atomic_fetch_sub(&s->nspinning, 1) == 1 && work_visible(s)) notify(s);
      return p;
    }
    for (int k = 0; k < 50; k++) __builtin_ia32_pause();
  }
  atomic_fetch_sub(&s->nspinning, 1);
  atomic_thread_fence(memory_order_seq_cst);
  if ((p = find_work(w))) return p;

  for (;;) {
    pthread_mutex_lock(&s->park_lock);
    atomic_fetch_add(&s->nsleepers, 1);
    atomic_thread_fence(memory_order_seq_cst);
    if (work_visible(s) || atomic_load(&s->stop)) {
      atomic_fetch_sub(&s->nsleepers, 1);
      pthread_mutex_unlock(&s->park_lock);
      return NULL;
    }
    w->sleeping = 1;
    atomic_fetch_add_explicit(&w->parks, 1, memory_order_relaxed);
    int io = 0;
    if (s->park.wait) {
      /* counted among the sleepers (and fenced) before wait looks at the
      ** I/O: see wp_sched_all_parked. A wake meanwhile goes to park.wake. */
      w->io_wait = 1;
      pthread_mutex_unlock(&s->park_lock);
      io = s->park.wait(s->park.arg);
      pthread_mutex_lock(&s->park_lock);
      w->io_wait = 0;
    }
    if (!io)
      while (!w->signaled && !atomic_load(&s->stop)) pthread_cond_wait(&w->cv, &s->park_lock);
    w->sleeping = 0;
    w->signaled = 0;
    atomic_fetch_sub(&s->nsleepers, 1);
    pthread_mutex_unlock(&s->park_lock);
    if (!io) break;
    s->park.ready(s->park.arg);
    /* woken by the I/O alone (a heartbeat, an ack) with nothing to run:
    ** parks again at once, without the spin and the timer's kick */
    if (atomic_load(&s->stop)) return NULL;
    if ((p = find_work(w))) {
      timer_kick_if_long(s);
      return p;
    }
    /* parking again: what ready's deliveries had sent goes first (a frame
    ** sent back from the hook on a worker with work queued waits for a
    ** flush, and that work may have been stolen meanwhile) */
    if (s->flush) s->flush(s->flush_arg, 1);
  }
  timer_kick_if_long(s);
  return NULL;
}

/* Adds n to a counter that only the calling thread writes: a relaxed load
** and store, which compile to plain moves (a fetch_add would be a locked
** instruction on every run). */
static inline void bump(_Atomic uint64_t *c, uint64_t n) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                        memory_order_relaxed);
}

void wp_sched_count_delivery(struct wp_sched *s) {
  struct worker *w = tls_worker;
  if (WP_LIKELY(w && w->s == s))
    bump(&w->delivered, 1);
  else if (s) /* the timer, terminal, cluster or main thread: shared, so atomic */
    atomic_fetch_add_explicit(&s->delivered_other, 1, memory_order_relaxed);
}

void wp_sched_count_send(struct wp_sched *s) {
  struct worker *w = tls_worker;
  if (WP_LIKELY(w && w->s == s))
    bump(&w->sent, 1);
  else if (s)
    atomic_fetch_add_explicit(&s->sent_other, 1, memory_order_relaxed);
}

/* Runs p. start: the clock read at the end of this worker's previous run
** when it went straight on to this one, else 0. Returns the clock read at
** the end of this run, for the next. Reading the clock once per run instead
** of twice charges the gap between two runs (the previous process's
** hand-off or exit, finding and staging this one) to this run and to the
** worker's busy time, which it is. */
static uint64_t run_one(struct worker *w, struct wp_proc *p, uint64_t start) {
  struct wp_sched *s = w->s;
  /* seq_cst: the store-buffering pair with wp_proc_wake (see proc.h) */
  atomic_store_explicit(&p->state, WP_PS_RUNNING, memory_order_seq_cst);
  pthread_spin_lock(&w->lock);
  w->current = p;
  w->run_start = start ? start : wp_clock_ns();
  atomic_store_explicit(&w->busy_since, w->run_start, memory_order_relaxed);
  w->preempted = 0;
  pthread_spin_unlock(&w->lock);
  atomic_store_explicit(&w->sig_proc, p, memory_order_release);
  int r = s->ops->run(p);
  /* The run's time, charged before the state change below hands p to
  ** another worker: p->cpu_ns has one writer at a time. */
  uint64_t end = wp_clock_ns();
  uint64_t ran = end - w->run_start; /* run_start: written by this thread only */
  bump(&p->cpu_ns, ran);
  bump(&w->busy_ns, ran);
  atomic_store_explicit(&w->sig_proc, NULL, memory_order_relaxed);
  atomic_store_explicit(&w->busy_since, 0, memory_order_relaxed);
  pthread_spin_lock(&w->lock);
  w->current = NULL;
  int was_stuck = w->stuck;
  w->stuck = 0;
  pthread_spin_unlock(&w->lock);
  if (was_stuck) w->retire = 1; /* checked by worker_main after this run */
  atomic_fetch_add_explicit(&w->runs, 1, memory_order_relaxed);
  if (r == WP_RUN_DONE) {
    atomic_store_explicit(&p->state, WP_PS_DEAD, memory_order_release);
    wp_ptab_remove(s->ptab, p);
    return end;
  }
  if (r == WP_RUN_WAIT) {
    uint32_t st = WP_PS_RUNNING;
    if (atomic_compare_exchange_strong_explicit(&p->state, &st, WP_PS_IDLE,
                                                memory_order_acq_rel,
                                                memory_order_acquire))
      return end;
    /* NOTIFIED: a wake-up arrived while it ran; run it again later. */
  }
  atomic_store_explicit(&p->state, WP_PS_RUNNABLE, memory_order_release);
  wp_sched_enqueue(s, p);
  return end;
}

/* Staging. When every worker is busy, a worker takes the process it will
** run next from its queue (or the inject queue) before running the current
** one, and has the VM start loading that process's memory into the cache
** (ops->warm): with thousands of processes taking turns, each woken one has
** gone cold, and its misses then overlap the current run instead of
** stalling its own. A staged process is out of the queues for one run, so
** nothing is staged while a worker spins or sleeps: it could run it now;
** and, as runnext, a thief may take it from a worker busy with one run for
** more than RUNNEXT_STEAL_NS (a process spinning where it cannot be
** preempted would otherwise hold it forever). */
static void stage(struct worker *w) {
  struct wp_sched *s = w->s;
  if (!s->ops->warm || atomic_load_explicit(&s->nspinning, memory_order_relaxed) ||
      atomic_load_explicit(&s->nsleepers, memory_order_relaxed))
    return;
  struct wp_proc *n = next_work(w, 0); /* in the order find_work takes them */
  if (!n) return;
  s->ops->warm(n);
  atomic_store(&w->staged, n);
}

/* Gives a staged process back to the queues (a worker leaving). */
static void unstage(struct worker *w) {
  struct wp_proc *p = atomic_exchange(&w->staged, NULL);
  if (p) wp_injectq_push(&w->s->inject, p);
}

/* A worker whose place a spare took leaves if the pool is above target. */
static int retire(struct worker *w) {
  struct wp_sched *s = w->s;
  w->retire = 0;
  int n = atomic_load(&s->nactive);
  while (n > s->nworkers) {
    if (atomic_compare_exchange_weak(&s->nactive, &n, n - 1)) {
      struct wp_proc *p = atomic_exchange(&w->runnext, NULL);
      if (p) wp_injectq_push(&s->inject, p);
      unstage(w);
      /* Its ring too: left there, a process would wait until some worker
      ** ran out of work of its own and stole it, which a busy pool never
      ** does. Only the owner pushes to a ring, and the owner is leaving. */
      while ((p = wp_runq_pop_owner(&w->q))) wp_injectq_push(&s->inject, p);
      /* with a park hook, a parked worker also parks anew, so that one
      ** looks at the hook's I/O: this one never parks again */
      if (work_visible(s) || s->park.wait) notify(s);
      return 1;
    }
  }
  return 0;
}

static void *worker_main(void *arg) {
  struct worker *w = arg;
  tls_worker = w;
  w->self = pthread_self();
  char name[16];
  snprintf(name, sizeof name, "wp-worker-%d", w->id);
  pthread_setname_np(w->self, name);
  uint64_t last = 0; /* the end of the previous run, while no idle came between */
  while (!atomic_load_explicit(&w->s->stop, memory_order_relaxed)) {
    struct wp_proc *p = NULL;
    if (atomic_load_explicit(&w->staged, memory_order_relaxed))
      p = atomic_exchange(&w->staged, NULL); /* NULL: a thief took it */
    if (!p && !(p = find_work(w))) {
      p = idle(w);
      last = 0;
    }
    if (p) {
      stage(w);
      last = run_one(w, p, last);
      if (w->s->flush && (++w->since_flush >= WP_SCHED_FLUSH_RUNS ||
                          last - w->flushed_at >= WP_SCHED_FLUSH_NS))
        flush(w, last);
    }
    if (w->retire && retire(w)) break;
  }
  unstage(w);
  tls_worker = NULL;
  /* every worker passes here before it exits: see interrupt_running */
  pthread_mutex_lock(&w->s->spare_lock);
  if (w->id >= w->s->nworkers) w->slot_state = 2;
  pthread_mutex_unlock(&w->s->spare_lock);
  return NULL;
}

/* ---- timers ---- */

static void collect_fired(struct wp_timer *t, void *ud) {
  struct wp_sched *s = ud; /* tlock held; the room was made in timer_add */
  s->tarmed--;
  s->tfired++;
  s->fv[s->fn].target = t->target;
  s->fv[s->fn].id = t->id;
  s->fn++;
}

int wp_sched_timer_add(struct wp_sched *s, struct wp_timer *t, uint64_t delay_ns) {
  uint64_t now = wp_clock_ns();
  uint64_t deadline = (now + delay_ns + 999999u) / 1000000u; /* round up */
  pthread_mutex_lock(&s->tlock);
  size_t need = s->tarmed + s->fn + s->fout + 1;
  if (need > s->fcap) {
    size_t cap = s->fcap ? s->fcap * 2 : 256;
    if (cap < need) cap = need;
    struct fired *v = wp_realloc(s->fv, cap * sizeof *v);
    if (!v) {
      pthread_mutex_unlock(&s->tlock);
      return -1;
    }
    s->fv = v;
    s->fcap = cap;
  }
  wp_wheel_add(s->wheel, t, deadline);
  s->tarmed++;
  if (deadline < s->twake) pthread_cond_signal(&s->tcond);
  pthread_mutex_unlock(&s->tlock);
  return 0;
}

int wp_sched_timer_cancel(struct wp_sched *s, struct wp_timer *t) {
  pthread_mutex_lock(&s->tlock);
  int r = wp_wheel_cancel(s->wheel, t);
  if (r) s->tarmed--;
  pthread_mutex_unlock(&s->tlock);
  return r;
}

/* Sends each target its TIMER message. Returns how many could not be sent
** (out of memory, reserve empty), moved to the front of v to be retried. */
static size_t deliver_fired(struct wp_sched *s, struct fired *v, size_t n) {
  size_t kept = 0;
  for (size_t i = 0; i < n; i++) {
    struct wp_proc *p = wp_ptab_get(s->ptab, v[i].target);
    if (!p) continue;
    struct wp_msg *m = wp_msg_new_sys(WP_MSG_TIMER, "", 0, "", 0, NULL, 0, NULL, 0);
    if (m) {
      m->aux = v[i].id;
      wp_proc_deliver(p, m);
    } else {
      v[kept++] = v[i];
    }
    wp_proc_release(p);
  }
  return kept;
}

/* ---- interrupts ---- */

static void on_interrupt(int sig) {
  (void)sig;
  int saved = errno;
  struct worker *w = tls_worker; /* initial-exec TLS: no allocation here */
  if (w) {
    struct wp_proc *p = atomic_load_explicit(&w->sig_proc, memory_order_relaxed);
    if (p) w->s->ops->interrupt(p);
  }
  errno = saved;
}

static pthread_once_t interrupt_once = PTHREAD_ONCE_INIT;
static _Atomic int interrupt_installed;

static void install_interrupt(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_interrupt;
  sa.sa_flags = SA_RESTART; /* a worker's write(2) or futex wait goes on */
  sigfillset(&sa.sa_mask);
  interrupt_installed = sigaction(WP_SCHED_SIGNAL, &sa, NULL) == 0;
}

/* Signals the worker running p, if one is (only `w` when given). p is only
** compared, never dereferenced: it may have ended since the caller saw it. */
static void interrupt_running(struct wp_sched *s, struct worker *only,
                              const struct wp_proc *p) {
  if (!s->ops->interrupt || !interrupt_installed) return;
  pthread_mutex_lock(&s->spare_lock);
  for (int i = 0, n = nused(s); i < n; i++) {
    struct worker *w = &s->w[i];
    if (only && w != only) continue;
    if (atomic_load_explicit(&w->sig_proc, memory_order_acquire) == p) {
      pthread_kill(w->self, WP_SCHED_SIGNAL);
      break;
    }
  }
  pthread_mutex_unlock(&s->spare_lock);
}

uint64_t wp_sched_run_start(void) {
  struct worker *w = tls_worker;
  if (!w) return 0;
  pthread_spin_lock(&w->lock);
  uint64_t t = w->current ? w->run_start : 0;
  pthread_spin_unlock(&w->lock);
  return t;
}

void wp_sched_preempt(struct wp_proc *p) {
  struct wp_sched *s = p->sched;
  if (!s) return;
  if (s->ops->preempt) s->ops->preempt(p);
  interrupt_running(s, NULL, p);
}

static void *worker_main(void *arg);

/* Starts a worker in a free spare slot (or one whose thread has exited). */
static void start_spare(struct wp_sched *s) {
  pthread_mutex_lock(&s->spare_lock);
  int slot = -1;
  for (int i = s->nworkers; i < s->nslots && slot < 0; i++)
    if (s->w[i].slot_state != 1) slot = i;
  if (slot >= 0) {
    struct worker *w = &s->w[slot];
    if (w->slot_state == 2) pthread_join(w->thread, NULL);
    if (w->q.buf || wp_runq_init(&w->q, RUNQ_SIZE) == 0) {
      w->slot_state = 1;
      w->stuck = 0;
      atomic_fetch_add(&s->nactive, 1);
      if (slot >= atomic_load(&s->nused)) atomic_store(&s->nused, slot + 1);
      pthread_attr_t a;
      pthread_attr_init(&a);
      pthread_attr_setstacksize(&a, 8u << 20);
      if (pthread_create(&w->thread, &a, worker_main, w) != 0) {
        w->slot_state = 0;
        atomic_fetch_sub(&s->nactive, 1);
      }
      pthread_attr_destroy(&a);
    }
  }
  pthread_mutex_unlock(&s->spare_lock);
}

static void watchdog(struct wp_sched *s) {
  uint64_t now = wp_clock_ns();
  for (int i = 0, n = nused(s); i < n; i++) {
    struct worker *w = &s->w[i];
    int spare = 0, nudge = 0;
    const struct wp_proc *asked = NULL;
    pthread_spin_lock(&w->lock);
    if (w->current && now > w->run_start) {
      uint64_t ran = now - w->run_start;
      if (!w->preempted && ran >= s->slice_ns) {
        w->preempted = 1;
        atomic_store_explicit(&w->preempts,
                              atomic_load_explicit(&w->preempts, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        asked = w->current;
        if (s->ops->preempt) s->ops->preempt(w->current);
      } else if (w->preempted && !w->stuck && ran >= STUCK_SLICES * s->slice_ns) {
        w->stuck = spare = 1;
      }
      if (ran > RUNNEXT_STEAL_NS && (atomic_load(&w->runnext) || atomic_load(&w->staged))) nudge = 1;
    }
    pthread_spin_unlock(&w->lock);
    if (asked) interrupt_running(s, w, asked);
    if (spare) start_spare(s);
    if (nudge) notify(s); /* a parked worker can steal the waiting runnext */
  }
}

static void timer_kick_if_long(struct wp_sched *s) {
  if (!atomic_load(&s->tlong)) return; /* seq_cst: pairs with timer_main's re-check */
  pthread_mutex_lock(&s->tlock);
  pthread_cond_signal(&s->tcond);
  pthread_mutex_unlock(&s->tlock);
}

static void *timer_main(void *arg) {
  struct wp_sched *s = arg;
  pthread_setname_np(pthread_self(), "wp-timer");
  struct fired local[64]; /* the batch when a larger one cannot be had */
  struct fired *batch = local;
  size_t bcap = sizeof local / sizeof local[0];
  unsigned quiet = QUIET_TURNS; /* turns since a worker was last seen awake */
  pthread_mutex_lock(&s->tlock);
  while (!atomic_load(&s->stop)) {
    wp_wheel_advance(s->wheel, wp_clock_ms(), collect_fired, s);
    size_t n = s->fn;
    if (n > bcap) {
      struct fired *b = batch == local ? wp_malloc(n * sizeof *b) : wp_realloc(batch, n * sizeof *b);
      if (b) {
        batch = b;
        bcap = n;
      }
    }
    if (n > bcap) n = bcap; /* the rest waits for the next turn */
    /* move the batch out so adds can proceed while we deliver */
    if (n) {
      memcpy(batch, s->fv, n * sizeof *batch);
      memmove(s->fv, s->fv + n, (s->fn - n) * sizeof *batch);
      s->fn -= n;
    }
    s->fout = n;
    pthread_mutex_unlock(&s->tlock);
    size_t kept = deliver_fired(s, batch, n);
    int busy = atomic_load(&s->nsleepers) < atomic_load(&s->nactive);
    if (busy) watchdog(s);
    if (busy && s->park.tick) s->park.tick(s->park.arg);
    pthread_mutex_lock(&s->tlock);
    if (kept) { /* retried below */
      memcpy(s->fv + s->fn, batch, kept * sizeof *batch);
      s->fn += kept;
    }
    s->fout = 0;
    if (atomic_load(&s->stop)) break; /* stop signalled while we delivered */
    uint64_t now = wp_clock_ms();
    uint64_t next = wp_wheel_next(s->wheel);
    if (next == 0 || (s->fn && !kept)) continue; /* due now, or more of a large batch */
    if (s->fn && next > 1) next = 1; /* retry what could not be sent */
    uint64_t wake = next == UINT64_MAX ? UINT64_MAX : now + next;
    /* Ticking goes on for QUIET_TURNS turns after the workers went idle: a
    ** worker that parks and wakes thousands of times a second (a node
    ** between batches) then finds the timer thread ticking, and need not
    ** wake it (timer_kick_if_long) on its way back to work. */
    if (busy) quiet = 0;
    else if (quiet < QUIET_TURNS) quiet++;
    int ticking = busy || quiet < QUIET_TURNS;
    if (ticking && wake > now + WATCHDOG_MS) wake = now + WATCHDOG_MS;
    if (!ticking) { /* a worker that woke meanwhile may have missed tlong == 1 */
      atomic_store(&s->tlong, 1);
      if (atomic_load(&s->nsleepers) < atomic_load(&s->nactive)) {
        ticking = 1;
        quiet = 0;
        if (wake > now + WATCHDOG_MS) wake = now + WATCHDOG_MS;
      }
    }
    s->twake = wake;
    atomic_store(&s->tlong, !ticking);
    if (wake == UINT64_MAX) {
      pthread_cond_wait(&s->tcond, &s->tlock);
    } else {
      struct timespec ts = {(time_t)(wake / 1000), (long)(wake % 1000) * 1000000L};
      pthread_cond_timedwait(&s->tcond, &s->tlock, &ts);
    }
    atomic_store(&s->tlong, 0);
    s->twake = UINT64_MAX;
  }
  pthread_mutex_unlock(&s->tlock);
  if (batch != local) wp_free(batch);
  return NULL;
}

/* ---- lifecycle ---- */

int wp_sched_start(struct wp_sched *s) {
  if (s->ops->interrupt) pthread_once(&interrupt_once, install_interrupt);
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setstacksize(&a, 8u << 20); /* Lua recursion needs a real stack */
  int rc = 0;
  for (int i = 0; i < s->nworkers && rc == 0; i++)
    rc = pthread_create(&s->w[i].thread, &a, worker_main, &s->w[i]);
  if (rc == 0) {
    rc = pthread_create(&s->tthread, NULL, timer_main, s);
    s->tstarted = rc == 0;
  }
  pthread_attr_destroy(&a);
  s->started = 1;
  return rc;
}

void wp_sched_stop(struct wp_sched *s) {
  if (!s->started) return;
  atomic_store(&s->stop, 1);
  pthread_mutex_lock(&s->park_lock);
  for (int i = 0, n = nused(s); i < n; i++) {
    pthread_cond_signal(&s->w[i].cv);
    if (s->w[i].io_wait) s->park.wake(s->park.arg);
  }
  pthread_mutex_unlock(&s->park_lock);
  pthread_mutex_lock(&s->tlock);
  pthread_cond_signal(&s->tcond);
  pthread_mutex_unlock(&s->tlock);
  if (s->tstarted) pthread_join(s->tthread, NULL); /* no spare starts after this */
  for (int i = 0; i < s->nworkers; i++) pthread_join(s->w[i].thread, NULL);
  for (int i = s->nworkers; i < s->nslots; i++) {
    pthread_mutex_lock(&s->spare_lock);
    int started = s->w[i].slot_state != 0;
    s->w[i].slot_state = 0;
    pthread_mutex_unlock(&s->spare_lock);
    if (started) pthread_join(s->w[i].thread, NULL);
  }
  s->started = 0;
}

void wp_sched_free(struct wp_sched *s) {
  if (!s) return;
  for (int i = 0; i < s->nslots; i++) {
    wp_runq_destroy(&s->w[i].q);
    pthread_spin_destroy(&s->w[i].lock);
    pthread_cond_destroy(&s->w[i].cv);
  }
  wp_free(s->w);
  pthread_mutex_destroy(&s->spare_lock);
  wp_injectq_destroy(&s->inject);
  wp_ptab_free(s->ptab);
  wp_names_free(s->names);
  wp_wheel_free(s->wheel);
  wp_free(s->fv);
  pthread_mutex_destroy(&s->park_lock);
  pthread_mutex_destroy(&s->tlock);
  pthread_cond_destroy(&s->tcond);
  wp_free(s);
}

void wp_sched_stats(struct wp_sched *s, struct wp_sched_stats *out) {
  memset(out, 0, sizeof *out);
  for (int i = 0, n = nused(s); i < n; i++) {
    out->runs += atomic_load(&s->w[i].runs);
    out->steals += atomic_load(&s->w[i].steals);
    out->parks += atomic_load(&s->w[i].parks);
  }
  out->wakes = atomic_load(&s->wakes);
  out->injects = atomic_load(&s->injects);
}

void wp_sched_timers(struct wp_sched *s, uint64_t *armed, uint64_t *fired) {
  pthread_mutex_lock(&s->tlock);
  *armed = s->tarmed;
  *fired = s->tfired;
  pthread_mutex_unlock(&s->tlock);
}

uint64_t wp_sched_sent(struct wp_sched *s) {
  int n = nused(s);
  uint64_t sent = atomic_load_explicit(&s->sent_other, memory_order_relaxed);
  for (int i = 0; i < n; i++) sent += atomic_load_explicit(&s->w[i].sent, memory_order_relaxed);
  return sent;
}

int wp_sched_view(struct wp_sched *s, struct wp_sched_wview *out, int max, uint64_t *delivered) {
  int n = nused(s);
  uint64_t now = wp_clock_ns();
  uint64_t msgs = atomic_load_explicit(&s->delivered_other, memory_order_relaxed);
  for (int i = 0; i < n; i++) {
    struct worker *w = &s->w[i];
    msgs += atomic_load_explicit(&w->delivered, memory_order_relaxed);
    if (i >= max) continue;
    struct wp_sched_wview *v = &out[i];
    v->id = i;
    v->spare = i >= s->nworkers;
    v->runq = wp_runq_size(&w->q) +
              !!atomic_load_explicit(&w->runnext, memory_order_relaxed) +
              !!atomic_load_explicit(&w->staged, memory_order_relaxed);
    /* the run in progress counts up to now: its worker adds it at its end */
    uint64_t since = atomic_load_explicit(&w->busy_since, memory_order_relaxed);
    v->busy_ns = atomic_load_explicit(&w->busy_ns, memory_order_relaxed) +
                 (since && now > since ? now - since : 0);
    v->running = since != 0;
    v->runs = atomic_load_explicit(&w->runs, memory_order_relaxed);
    v->steals = atomic_load_explicit(&w->steals, memory_order_relaxed);
    v->parks = atomic_load_explicit(&w->parks, memory_order_relaxed);
    v->preempts = atomic_load_explicit(&w->preempts, memory_order_relaxed);
  }
  if (delivered) *delivered = msgs;
  return n;
}
