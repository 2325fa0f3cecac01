/*
** scheduler.h: the M:N scheduler: a pool of worker threads running processes,
** plus the timer thread that drives the timing wheel and the preemption
** watchdog.
**
** Workers take processes from their own run queue, then the shared inject
** queue, then steal from the others, then spin briefly and park (runq.c has
** the stealing order, sched.c the parking protocol). The scheduler knows
** nothing of Lua: it calls the VM through wp_sched_ops.
*/
#ifndef WP_SCHED_H
#define WP_SCHED_H

#include <signal.h>
#include <stdint.h>

#include "names.h"
#include "proc.h"
#include "ptab.h"
#include "timer.h"

/* What ops->run reports. */
enum { WP_RUN_WAIT = 0, WP_RUN_YIELD = 1, WP_RUN_DONE = 2 };

struct wp_sched_ops {
  /* Runs p on the calling worker until it blocks (WAIT), used up its slice
  ** (YIELD) or ended (DONE; the VM has already done the exit work). */
  int (*run)(struct wp_proc *p);
  /* Asks the VM to make p yield soon: called from the timer thread when p
  ** has run past its time slice, and from any thread by wp_sched_preempt
  ** (kills). It runs beside run(), on another thread: it may only record
  ** the request (an atomic flag), never touch p's running code. */
  void (*preempt)(struct wp_proc *p);
  /* Called when the last reference to p goes; frees p->vm if any. */
  void (*free)(struct wp_proc *p);
  /* Optional. Called on a worker that has taken p from a queue to run it
  ** after the current run: starts bringing p's memory into the cache (it
  ** must not block, and p is not running). */
  void (*warm)(struct wp_proc *p);
  /* Optional. How a request reaches running code: after preempt(p) (or a
  ** kill), the scheduler sends WP_SCHED_SIGNAL to the worker thread running
  ** p, and this is called in that signal handler, on that thread, with the
  ** p the thread is running (which may already be another process than the
  ** one asked about: check the request). It must be async-signal-safe. */
  void (*interrupt)(struct wp_proc *p);
};

/* The signal that carries interrupts to worker threads: ignored by default,
** so one arriving before the handler is installed does nothing. */
#define WP_SCHED_SIGNAL SIGURG

struct wp_sched;

/* Creates a scheduler with `workers` threads (<= 0: online CPUs). The ops
** table is borrowed for the scheduler's life. NULL on failure. */
struct wp_sched *wp_sched_new(int workers, const struct wp_sched_ops *ops, void *ud);
/* Starts the worker and timer threads. 0 or an errno value. */
int wp_sched_start(struct wp_sched *s);
/* Stops and joins every thread; processes still alive are left as they are
** (the caller kills them first). */
void wp_sched_stop(struct wp_sched *s);
/* Frees the scheduler (after stop). */
void wp_sched_free(struct wp_sched *s);

/* Optional, before wp_sched_start: fn(arg, idle) is called on a worker
** thread when it runs out of work (idle 1, before it spins or parks), and
** while it has work (idle 0) after every WP_SCHED_FLUSH_RUNS runs or a run
** that ends WP_SCHED_FLUSH_NS after the previous call. For a layer whose
** sends from processes wait for one hand-off to a thread of its own (the
** cluster's I/O thread): the end of a worker's busy stretch, never a
** timer, is when they go; an idle worker may hand them over itself. fn
** must not block. */
void wp_sched_set_flush(struct wp_sched *s, void (*fn)(void *arg, int idle), void *arg);
#define WP_SCHED_FLUSH_RUNS 128
#define WP_SCHED_FLUSH_NS 250000
/* Optional, before wp_sched_start: a worker that would park may wait for
** another layer's I/O instead (the cluster's socket), so what arrives
** reaches it with no hand-off between threads.
** - wait(arg): called by a worker about to park. Returns 0 at once to
**   decline (then the worker parks as usual), or 1 after it waited, until
**   wake(arg) or its I/O; the worker then calls ready(arg) once it counts
**   as awake again, and looks for work (with none, it calls the flush
**   hook and parks again at once, without the spin).
** - wake(arg): ends a wait that is under way or about to start (any
**   thread, under the scheduler's park lock: it must not block).
** - tick(arg): the timer thread's, at each watchdog tick while a worker
**   is awake, so the layer can see that nobody has waited on its I/O for
**   a while (the workers are busy) and have a thread of its own look.
** wait and ready run on the worker; they may deliver messages (so enqueue
** processes), and must not wait on anything but the I/O itself. */
struct wp_sched_park {
  int (*wait)(void *arg);
  void (*wake)(void *arg);
  void (*ready)(void *arg);
  void (*tick)(void *arg);
  void *arg;
};
void wp_sched_set_park(struct wp_sched *s, const struct wp_sched_park *p);
/* Whether every active worker is parked (waiting on I/O counts): a
** snapshot; see wp_sched_set_park. Issues a full fence first, so a layer
** that released its I/O and then finds a worker not parked knows that
** worker will look at its I/O when it parks. */
int wp_sched_all_parked(struct wp_sched *s);
/* Whether the calling thread is one of s's workers (so a flush hook will
** run on it soon). */
int wp_sched_on_worker(const struct wp_sched *s);
/* Whether the calling thread is one of s's workers and has processes
** waiting in its own queues: it will run them before it runs out of work,
** so what the current process hands over may wait for the flush hook and
** leave with what they hand over. When not, waiting gains nothing. */
int wp_sched_busy_here(const struct wp_sched *s);
/* The current run's id on this worker (its start time: two runs of a
** worker share one only if the clock did not move between their starts),
** or 0 when the calling thread is none of s's workers. */
uint64_t wp_sched_run_id(const struct wp_sched *s);

int wp_sched_workers(const struct wp_sched *s);
/* Whether every worker is parked with nothing queued: the node is idle.
** A snapshot, for housekeeping (any thread). */
int wp_sched_idle(struct wp_sched *s);
void *wp_sched_ud(const struct wp_sched *s);
struct wp_ptab *wp_sched_ptab(struct wp_sched *s);
struct wp_names *wp_sched_names(struct wp_sched *s);
/* Time slice before preemption, in ns (default 10 ms). Call before
** wp_sched_start. */
void wp_sched_set_slice(struct wp_sched *s, uint64_t ns);

/* The monotonic time (wp_clock_ns) at which the calling worker thread
** started the run it is in, the time the preemption watchdog measures a
** slice from; 0 on a thread that is not running a process. */
uint64_t wp_sched_run_start(void);

/* Asks the VM to make p yield soon if it is running (ops->preempt, then
** ops->interrupt on the thread running it); any thread holding a reference
** to p and no spinlock. Used by kills. */
void wp_sched_preempt(struct wp_proc *p);

/* Frees p's VM part (ops->free); proc.c, when p's last reference goes. */
void wp_sched_free_proc_vm(struct wp_sched *s, struct wp_proc *p);

/* Queues a runnable process (state already RUNNABLE): on the calling worker's
** own queue, or the inject queue from other threads. Used by wp_proc_wake. */
void wp_sched_enqueue(struct wp_sched *s, struct wp_proc *p);

/* Timers. The node is borrowed until it fires or is cancelled; its id and
** target (a process handle) are set by the caller. When it fires the timer
** thread sends the target a WP_MSG_TIMER message with aux = id, after its
** lock is released; the node is never touched again after it fired. A
** fired timer is never dropped: when its message cannot be allocated it is
** sent again a millisecond later. 0, or -1 when there is no memory to arm
** it (then the node is not armed). */
int wp_sched_timer_add(struct wp_sched *s, struct wp_timer *t, uint64_t delay_ns);
/* 1 if the timer was disarmed, 0 if it had fired already (its message may be
** in flight). Either way the node may be freed after this returns. */
int wp_sched_timer_cancel(struct wp_sched *s, struct wp_timer *t);

/* Statistics for benchmarks and tests. */
struct wp_sched_stats {
  uint64_t runs, steals, parks, wakes, injects;
};
void wp_sched_stats(struct wp_sched *s, struct wp_sched_stats *out);

/* Counts one message delivered to a process of s (wp_proc_deliver): in the
** calling worker's own counter (no locked instruction), or in a shared one
** from a thread that is not one of s's workers. Any thread. */
void wp_sched_count_delivery(struct wp_sched *s);

/* Counts one message a process of s sent (to a process of any node), the
** same way. Any thread. */
void wp_sched_count_send(struct wp_sched *s);
/* The messages s's processes sent so far (relaxed loads, as wp_sched_view). */
uint64_t wp_sched_sent(struct wp_sched *s);
/* The timers armed now and fired so far (takes the timer lock briefly). */
void wp_sched_timers(struct wp_sched *s, uint64_t *armed, uint64_t *fired);

/* What the control endpoint shows of one worker slot. */
struct wp_sched_wview {
  int id;
  int spare;        /* a spare thread started for a stuck worker */
  int running;      /* in a run now */
  unsigned runq;    /* processes queued on it (ring, runnext, staged) */
  uint64_t busy_ns; /* time spent running processes, the current run included */
  uint64_t runs, steals, parks;
  uint64_t preempts; /* runs the watchdog asked to yield at the end of their slice */
};
/* Reads the worker slots ever used (at most max into out) and, in
** *delivered (may be NULL), the messages delivered so far. Returns the
** number of slots. Any thread, without a lock and without stopping
** anything: each counter is a relaxed load, so the view may be slightly
** inconsistent (a run ending between two loads). */
int wp_sched_view(struct wp_sched *s, struct wp_sched_wview *out, int max, uint64_t *delivered);

#endif
