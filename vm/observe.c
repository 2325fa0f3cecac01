/*
** observe.c: what the control endpoint (cli/control.c) may read of a
** process, from its own thread, while the process runs elsewhere.
**
** Design note. Nothing here touches a process's Lua state or takes a lock
** a run takes: the endpoint reads the state word, the time the scheduler
** charged (p->cpu_ns), and what the thread running the process published
** at the end of its last run (vm.h wp_vm_publish: heap bytes, queued
** messages) or as it blocked (wp_vm_note_wait), each with a relaxed load.
** The fields set at spawn (code, host, service) never change afterwards.
** So a view is a little stale (as of the process's last run) and its
** fields may come from two sides of a run; it is never torn: each is one
** atomic load. Messages pushed since the last run and not yet routed are
** not in `mailbox` (the run that routes them publishes them).
*/
#include "vm.h"

static const char *state_name(uint32_t st) {
  switch (st) {
    case WP_PS_IDLE: return "waiting";
    case WP_PS_RUNNABLE: return "runnable";
    case WP_PS_RUNNING:
    case WP_PS_NOTIFIED: return "running";
    default: return "exited";
  }
}

void wp_observe_proc(const struct wp_proc *p, struct wp_observe_proc *out) {
  const struct wp_vmproc *vp = p->vm;
  uint32_t st = atomic_load_explicit(&p->state, memory_order_relaxed);
  out->pid = p->pid;
  out->pid_len = p->pid_len;
  out->state = state_name(st);
  out->cpu_ns = atomic_load_explicit(&p->cpu_ns, memory_order_relaxed);
  out->entry = vp && vp->code ? vp->code->id : "";
  out->host = vp && vp->host ? vp->host->id : "";
  out->svc = vp ? vp->svc : NULL;
  out->mem = vp ? atomic_load_explicit(&vp->pub_mem, memory_order_relaxed) : 0;
  out->mailbox = vp ? atomic_load_explicit(&vp->pub_queued, memory_order_relaxed) : 0;
  out->wait = vp && st == WP_PS_IDLE ? atomic_load_explicit(&vp->pub_wait, memory_order_relaxed)
                                     : NULL;
  out->cluster_names = vp && atomic_load_explicit(&vp->holds_cnames, memory_order_relaxed);
}
