/*
** vm_int.h: what the files of the Lua runtime (vm/) share and nothing
** outside vm/ uses.
*/
#ifndef WP_VM_INT_H
#define WP_VM_INT_H

#include "vm.h"

/* A process ended (runtime.c; called by vmproc.c's teardown on the worker
** that ran it): tells its service, ends the run when it was the terminal
** process, logs a failure. errmsg borrowed, may be NULL; code is the exit
** code a terminal process asked for; retryable is the error's retryable
** flag (-1: not known). */
/* Counts a process's exit in wippy_processes_exited_total{host, reason}
** when the metrics collector is on: kill is the WP_KILL_* reason that
** ended it (0: none; then abnormal says error or normal). */
void wp_rt_count_exit(struct wp_vmproc *vp, int kill, int abnormal);
void wp_rt_process_ended(struct wp_vmproc *vp, int abnormal, const char *errmsg, int code,
                         int retryable);

/* ---- tasks and timers (task.c) ---- */

/* The ready list: a FIFO of tasks, but a task the preemption hook stopped
** (resume_first) runs before the others. Inline: the run loop pops once
** per resume. */
static inline void wp_task_ready_push(struct wp_vmproc *vp, struct wp_task *t) {
  t->next = NULL;
  if (vp->ready_tail)
    vp->ready_tail->next = t;
  else
    vp->ready_head = t;
  vp->ready_tail = t;
}

static inline struct wp_task *wp_task_ready_pop(struct wp_vmproc *vp) {
  struct wp_task *t = vp->resume_first;
  if (t) {
    vp->resume_first = NULL;
    return t;
  }
  t = vp->ready_head;
  if (t) {
    vp->ready_head = t->next;
    if (!vp->ready_head) vp->ready_tail = NULL;
  }
  return t;
}

/* Frees a spawned task that returned (its thread at base level). */
void wp_task_free(struct wp_vmproc *vp, struct wp_task *t);

/* The stack the runtime works on (routing messages, timers, the exit
** result). The main task runs on the main thread L itself, which saves a
** thread per process (else the main thread's own stack would sit idle
** under the task's). While that task is suspended, or after it died with an
** error, L's stack belongs to it and calls on it are not allowed: the
** runtime then uses a second thread, made on first need outside the
** process's memory limit (wp_state_thread). A process that never needs
** one (an echo worker, a process blocked in receive) never pays for it.
** NULL when out of memory: the caller ends the process. Inline: routing
** asks for it on every drain. */
static inline lua_State *wp_sys_L(struct wp_vmproc *vp) {
  if (!vp->l_busy) return vp->L;
  if (!vp->sys) vp->sys = wp_state_thread(vp);
  return vp->sys;
}

/* The live timer with this id, or NULL (cancelled after it fired). */
struct wp_vtimer *wp_vtimer_find(struct wp_vmproc *vp, uint64_t id);
/* Timer id fired (a TIMER message routed on L, running protected): wakes
** its sleeper, or sends the time into its channel. May raise. */
void wp_vtimer_fired(struct wp_vmproc *vp, lua_State *L, uint64_t id);

/* ---- mailbox routing (route.c) ---- */

/* Routes what needs no Lua (a TIMER message: a sleeping task's timer, or
** one cancelled since): 1, m freed; 0 when m needs a Lua stack. */
int wp_route_light(struct wp_vmproc *vp, struct wp_msg *m);
/* Routes vp->routing and the rest of the mailbox; called protected, on the
** runtime's stack (lua_CFunction). */
int wp_route_drain_protected(lua_State *L);

/* Routes the mailbox. LUA_OK, or an error status with the error on top
** of *errL (out of memory while routing; *errL NULL: no stack for it).
** Inline: the run loop drains before every resume. */
static inline int wp_route_drain(struct wp_vmproc *vp, lua_State **errL) {
  struct wp_msg *m;
  while ((m = wp_mbox_take_sc(&vp->p->mbox))) {
    if (m->kind == WP_MSG_TIMER && wp_route_light(vp, m)) continue;
    vp->routing = m; /* the call may fail before it is taken */
    lua_State *S = wp_sys_L(vp);
    *errL = S;
    if (!S) return LUA_ERRMEM;
    lua_pushcfunction(S, wp_route_drain_protected);
    return lua_pcall(S, 0, 0, 0);
  }
  return LUA_OK;
}

/* Pushes the result of an ended child (its EXIT m, borrowed) on th: the
** value (returns 1), or nil and the error (2); "result lost" for a result
** that did not travel. May raise a memory error. */
int wp_route_push_result(lua_State *th, struct wp_msg *m);

/* Frees the process's listeners and exec waits (its teardown). */
void wp_route_free_waits(struct wp_vmproc *vp);

/* ---- preemption (vmproc.c) ---- */

/* Makes th the innermost thread being resumed (NULL: none) and arms its
** hook if a preemption or kill is pending; the thread running the process
** only, around each lua_resume. */
void wp_vm_set_running(struct wp_vmproc *vp, lua_State *th);
/* Takes off the preemption hook th may carry after a resume. */
void wp_vm_disarm(lua_State *th);

#endif
