/*
** proc.h: the process control block, its state word and its relations.
**
** State word (one CAS word per process, so a wake-up is never lost):
**
**   IDLE ----wake----> RUNNABLE (queued) ----worker pops----> RUNNING
**   RUNNING --wake--> NOTIFIED (still running; a wake-up arrived)
**   RUNNING --run() says WAIT--> IDLE, unless NOTIFIED: then requeued
**   RUNNING --run() says YIELD--> RUNNABLE (requeued, preempted)
**   RUNNING --run() says DONE--> DEAD
**
** Only a wake moves IDLE to RUNNABLE, and only the winner of that CAS queues
** the process, so a process is in at most one queue and run by one worker.
**
** Store buffering: a waker pushes (the mailbox link store, the kill flag)
** and then reads the state; a worker stores RUNNING and then reads the
** mailbox link. All four are seq_cst, so at least one side sees the other:
** either the waker sees RUNNING and sets NOTIFIED, or the run sees the
** message.
**
** References: the process table holds one reference while the process is
** alive; lookups (wp_ptab_get*) take another that the caller must release
** with wp_proc_release. The block and the messages still in its mailbox are
** freed when the last reference goes. A queued or running process is alive,
** so queues hold no reference.
**
** Relations (monitors, links, names) live under `lock`. wp_proc_exit_begin
** marks the process dead under that lock and detaches the lists, so a
** relation is either recorded before death (and notified) or refused.
** Relations with processes of other nodes live in the runtime's table
** (vm/remote.c); `remote` marks a process that has (or had) one, under the
** same rule (wp_proc_remote_add), so only such a process's exit looks
** there: a process with local relations only pays one plain read.
*/
#ifndef WP_PROC_H
#define WP_PROC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "mailbox.h"
#include "wp.h"

enum {
  WP_PS_IDLE = 0,
  WP_PS_RUNNABLE = 1,
  WP_PS_RUNNING = 2,
  WP_PS_NOTIFIED = 3,
  WP_PS_DEAD = 4
};

/* Kill reasons (wp_proc_kill); 0 = none. MEMORY: the process passed its
** memory limit (set by the VM on the process's own worker). */
enum { WP_KILL_NONE = 0, WP_KILL_TERMINATE = 1, WP_KILL_LINK = 2, WP_KILL_SHUTDOWN = 3,
       WP_KILL_MEMORY = 4 };

struct wp_sched;

struct wp_hlist { /* small growable array of handles */
  wp_handle *v;   /* &inl while it holds at most one handle */
  uint32_t n, cap;
  wp_handle inl;  /* the common case (one monitor, one link) needs no malloc */
};

struct wp_name_ref { /* a name this process holds (names.c) */
  struct wp_name_ref *next;
  size_t len;
  char name[]; /* may contain NUL bytes; len counts them */
};

#define WP_PID_INLINE 80 /* pid bytes (with the NUL) kept in the block itself */

struct wp_proc {
  _Atomic uint32_t state;
  _Atomic uint32_t refs;
  _Atomic int kill;         /* pending WP_KILL_* reason */
  wp_handle handle;         /* slot + generation */
  uint64_t counter;         /* per-node pid counter (spec 08) */
  struct wp_sched *sched;
  struct wp_mbox mbox;
  struct wp_proc *qnext;    /* inject-queue link */
  /* Time spent running, in ns: added by the worker after each run, before
  ** the run's state change hands p on (so one writer at a time, ordered by
  ** the state word); read by anyone with relaxed loads (the control
  ** endpoint), never a lock. */
  _Atomic uint64_t cpu_ns;
  void *host;               /* opaque to sched/: the host this runs on */
  void *vm;                 /* opaque to sched/: the VM's per-process data */
  pthread_mutex_t lock;     /* guards dead, monitors, links, names */
  int dead;
  struct wp_hlist monitors; /* processes watching this one */
  struct wp_hlist links;    /* processes linked to this one */
  struct wp_name_ref *names;
  int remote;               /* has (had) a relation across nodes: written
                               under lock while alive, read freely once
                               wp_proc_exit_begin returned (no writer then) */
  char *pid;                /* "{host|0x00004}", NUL-terminated: pid_inl, or an
                               allocation freed with the block (wp_proc_pid_room) */
  uint32_t pid_len;
  char pid_inl[WP_PID_INLINE];
};

/* Allocates a process block with one reference (the caller's, handed to the
** process table by wp_ptab_insert). NULL on allocation failure. */
struct wp_proc *wp_proc_new(struct wp_sched *s, void *host);
/* Same, with `extra` zeroed bytes in the same allocation for the VM's
** per-process data: p->vm points at them (one allocation per process). */
struct wp_proc *wp_proc_new_ext(struct wp_sched *s, void *host, size_t extra);
/* Room for p's pid string of n bytes (with the NUL): the block's own buffer
** when it fits, else an allocation freed with the block. Returns p->pid, or
** NULL on allocation failure (p->pid unchanged). Before p is shared. */
char *wp_proc_pid_alloc(struct wp_proc *p, size_t n); /* the rare case (proc.c) */
static inline char *wp_proc_pid_room(struct wp_proc *p, size_t n) {
  if (WP_LIKELY(n <= sizeof p->pid_inl && p->pid == p->pid_inl)) return p->pid;
  return wp_proc_pid_alloc(p, n);
}
/* Takes one more reference. */
static inline void wp_proc_retain(struct wp_proc *p) {
  atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
}
/* Drops a reference; the last one frees the block (calling the scheduler's
** free hook for p->vm first). */
void wp_proc_release(struct wp_proc *p);

/* Pushes m into p's mailbox (consumes m) and wakes p. Any thread; the caller
** holds a reference to p. */
void wp_proc_deliver(struct wp_proc *p, struct wp_msg *m);
/* Makes p runnable if it is idle (see the state diagram). Any thread. */
void wp_proc_wake(struct wp_proc *p);
/* Asks p to die for `reason` at its next scheduling point (a kill is not a
** Lua error: the VM drops the state between two resumes). Any thread. */
void wp_proc_kill(struct wp_proc *p, int reason);

/* Relations. Each returns 0, WP_EDEAD if `target` is dead, WP_EEXIST for a
** duplicate monitor, or WP_ENOMEM. Any thread. */
int wp_proc_monitor(struct wp_proc *target, wp_handle watcher);
void wp_proc_unmonitor(struct wp_proc *target, wp_handle watcher);
/* Links a and b both ways (idempotent). Fails with WP_EDEAD if either is dead;
** then neither side records the link. */
int wp_proc_link(struct wp_proc *a, struct wp_proc *b);
void wp_proc_unlink(struct wp_proc *a, struct wp_proc *b);

/* Marks p dead and moves its monitors and links into *mons and *links (the
** caller frees their arrays with wp_hlist_free), and its names into *names.
** Returns 0, or WP_EDEAD if p was already dead. Called once by the exiting
** process. */
int wp_proc_exit_begin(struct wp_proc *p, struct wp_hlist *mons,
                       struct wp_hlist *links, struct wp_name_ref **names);
void wp_hlist_free(struct wp_hlist *l);
/* Records a relation of p with a process of another node: runs add(arg)
** under p's lock unless p is dead, and marks p (p->remote) when add
** returns 0. Returns add's result, or WP_EDEAD without calling it. So the
** relation is recorded before p's death, which then sees p->remote, or
** refused. add must not take p's lock. Any thread. */
int wp_proc_remote_add(struct wp_proc *p, int (*add)(void *arg), void *arg);
/* Removes the link to the exited process `gone` from b's side. */
void wp_proc_forget_link(struct wp_proc *b, wp_handle gone);

/* For the control endpoint (any thread, p referenced): copies p's links
** and its monitors (the processes watching p) into *links and *mons
** (zeroed lists the caller frees with wp_hlist_free), calls
** name(ud, s, len) for each name p holds (under p's lock: name must not
** block or take it), and sets *remote when p has relations with
** processes of other nodes. Returns 0, WP_EDEAD when p is ending (nothing
** copied) or WP_ENOMEM. */
int wp_proc_relations(struct wp_proc *p, struct wp_hlist *links, struct wp_hlist *mons,
                      void (*name)(void *ud, const char *s, size_t len), void *ud,
                      int *remote);
/* Whether `watcher` monitors target (any thread, target referenced). */
int wp_proc_has_monitor(struct wp_proc *target, wp_handle watcher);

#endif
