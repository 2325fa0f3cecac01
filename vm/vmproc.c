/*
** vmproc.c: running a process (the wp_sched_ops the runtime registers):
** its start, the run loop, preemption and exit. Its tasks and timers are
** task.c's, its mailbox routing route.c's.
**
** Design note: one run. The scheduler calls vm_run when the process is
** runnable. It builds the Lua state on the first run (so spawn returns before
** any Lua runs), then loops: act on a pending kill, route what the mailbox
** holds (route.c: messages and events to their queues and waiting channels,
** timer firings to their sleepers, terminal input to the reader), and resume
** one ready task (task.c). It returns WAIT when no task is ready, YIELD when
** the preemption hook stopped a task, DONE when the process ended.
**
** Preemption. Only the thread running a process ever touches its Lua
** state: lua_sethook writes the running thread's CallInfo chain, which that
** thread may be growing or shrinking at the same moment. Others only ask:
** vm_preempt (the timer thread, for a process past its slice) sets
** `preempt_req`, a kill sets p->kill, and the scheduler then signals the
** worker running the process, whose handler (vm_interrupt) arms a count hook
** on `running_th`, the innermost thread being resumed. Lua allows
** lua_sethook from a signal handler on the thread that runs the state
** (ldebug.c: hook, mask and count are written in an order a half-done
** write cannot make unsafe; lua.c's Ctrl+C handler does the same). Each
** change of running_th (wp_vm_set_running: here, and in coroutine.resume,
** task.c) is followed by a look at the requests, so one made before the
** handler could see the new thread is not lost. The hook yields
** only from running_th and only where yielding is allowed; inside a C call
** boundary it stays armed (a kill raises instead) and tries again. The
** preempted task is resumed first next time: tasks of one process switch
** only at blocking points.
**
** Under ThreadSanitizer signals are held until the thread makes an
** instrumented call, which a loop inside Debian's uninstrumented liblua never
** does. The TSan build therefore sends no signal: every resumed thread
** carries a sparse count hook that polls the requests (HOOK_POLL).
**
** Exit. The result is encoded once; monitors get EXIT, links LINK_DOWN (on an
** abnormal exit), those on other nodes too (remote.c), names are released,
** timers cancelled, and the state closed on this worker. Kills (terminate,
** a failed link, shutdown, a process past its memory limit) are not Lua
** errors: they happen here, between two resumes, where no pcall can see
** them; an error that a pending kill raised inside the process (the
** preemption hook, a refused allocation) passes through pcall, xpcall and
** coroutine.resume to reach this loop. A kill's
** result is built without Lua (the state may have no memory left), and
** nothing the runtime does to a state outside a task's run may raise where
** no handler is: what may fail runs in a protected call, allocations for a
** suspended task are made on the running stack and moved over.
**
** Memory. When a process blocks, the runtime may collect its garbage and
** give emptied chunks back (collect_idle): processes have no collectgarbage.
*/
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "codec.h"
#include "errobj.h"
#include "pgroup.h"
#include "remote.h"
#include "vm.h"
#include "vm_int.h"

/* ---- preemption ---- */

#ifdef WIPPY_TSAN
#define HOOK_POLL 1
#else
#define HOOK_POLL 0
#endif
#define HOOK_RETRY 1000 /* instructions between tries where no yield is possible */

static void preempt_hook(lua_State *L, lua_Debug *ar);

static int requested(struct wp_vmproc *vp) {
  return atomic_load_explicit(&vp->preempt_req, memory_order_acquire) ||
         atomic_load_explicit(&vp->p->kill, memory_order_acquire);
}

/* Only ever called on the thread running vp (or its signal handler). */
static void arm(lua_State *th, int count) {
  lua_sethook(th, preempt_hook, LUA_MASKCOUNT, count);
}

void wp_vm_disarm(lua_State *th) {
  if (!HOOK_POLL && lua_gethook(th)) lua_sethook(th, NULL, 0, 0);
}

/* Makes th the innermost thread being resumed (NULL: none) and arms it if a
** request is pending. The fence keeps the handler's view in program order:
** a request that arrives after the look below finds th in running_th. */
void wp_vm_set_running(struct wp_vmproc *vp, lua_State *th) {
  atomic_store_explicit(&vp->running_th, th, memory_order_relaxed);
  atomic_signal_fence(memory_order_seq_cst);
  if (th && (HOOK_POLL || requested(vp))) arm(th, HOOK_POLL ? HOOK_RETRY : 1);
}

static void preempt_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  struct wp_vmproc *vp = wp_vm_self(L);
  if (L != atomic_load_explicit(&vp->running_th, memory_order_relaxed) || !requested(vp)) {
    wp_vm_disarm(L); /* inherited by a coroutine at creation, or a stale arm */
    return;
  }
  if (!lua_isyieldable(L)) {
    /* Inside a C call (a sort comparator, a gsub callback...): no yield is
    ** possible here. A kill unwinds with an error until a point that can
    ** yield (the run loop then ends the process); a plain preemption tries
    ** again later (the scheduler lends the worker's queue to a spare thread
    ** meanwhile). */
    if (atomic_load_explicit(&vp->p->kill, memory_order_relaxed))
      luaL_error(L, "process terminated");
    if (!HOOK_POLL) arm(L, HOOK_RETRY);
    return;
  }
  atomic_store_explicit(&vp->preempt_req, 0, memory_order_relaxed);
  wp_vm_disarm(L);
  if (vp->current && L == vp->current->th)
    vp->preempted = 1;
  else
    vp->preempted_inner = 1;
  lua_yield(L, 0);
}

/* ops->preempt: any thread. Only records the request (see the design note). */
static void vm_preempt(struct wp_proc *p) {
  struct wp_vmproc *vp = p->vm;
  if (vp) atomic_store_explicit(&vp->preempt_req, 1, memory_order_release);
}

/* ops->interrupt: in a signal handler on the worker thread running p. */
static void vm_interrupt(struct wp_proc *p) {
  struct wp_vmproc *vp = p->vm;
  if (!vp || !requested(vp)) return;
  lua_State *th = atomic_load_explicit(&vp->running_th, memory_order_relaxed);
  if (th) arm(th, 1);
}

/* ---- exit ---- */

static void notify_exit(struct wp_vmproc *vp, const struct wp_buf *res, int abnormal) {
  struct wp_proc *p = vp->p;
  if (vp->mem_state & WP_MEM_ACCT) /* its share: free for whoever sees the EXIT */
    wp_state_release(vp, 1);
  struct wp_hlist mons, links;
  struct wp_name_ref *names;
  if (wp_proc_exit_begin(p, &mons, &links, &names)) return;
  wp_names_release(wp_sched_names(p->sched), names, p->counter);
  struct wp_ptab *pt = wp_sched_ptab(p->sched);
  wp_ptab_unlink(pt, p); /* gone for whoever receives the EXIT below */
  /* its cluster names are released before its EXIT goes out: a monitor
  ** that registers the name on that EXIT queues behind the release */
  struct wp_rt *rt = vp->rt;
  if (atomic_load_explicit(&vp->holds_cnames, memory_order_relaxed) && rt->names_release)
    rt->names_release(rt, p->pid, p->pid_len);
  /* its groups too: whoever gets its EXIT no longer finds it a member */
  if (vp->pg) wp_pg_exit(rt->pg, vp);
  int64_t at = wp_wall_ns() / 1000000000;
  for (int pass = 0; pass < 2; pass++) {
    struct wp_hlist *l = pass == 0 ? &mons : &links;
    for (uint32_t i = 0; i < l->n; i++) {
      struct wp_proc *q = wp_ptab_get(pt, l->v[i]);
      if (!q) continue;
      if (pass == 1) wp_proc_forget_link(q, p->handle);
      if (pass == 0 || abnormal) {
        /* without memory for the result, the notice still goes (without
        ** it: WP_RESULT_LOST) */
        struct wp_msg *m = wp_msg_new_sys(pass == 0 ? WP_MSG_EXIT : WP_MSG_LINK_DOWN, p->pid,
                                          p->pid_len, "", 0, res->data, res->len, NULL, 0);
        if (m) {
          m->at = at;
          m->flags = abnormal || m->len != res->len ? WP_MSG_F_ABNORMAL : 0;
          wp_proc_deliver(q, m);
        } else {
          wp_logf(WP_LOG_ERROR, "%s of %s to %s lost: out of memory",
                  pass == 0 ? "EXIT" : "LINK_DOWN", p->pid, q->pid);
        }
      }
      wp_proc_release(q);
    }
  }
  wp_hlist_free(&mons);
  wp_hlist_free(&links);
  /* relations with processes of other nodes: only a process that made
  ** one pays for a look (no writer of p->remote once exit_begin returned) */
  if (p->remote) wp_remote_exit(vp->rt, p, res->data, res->len, abnormal);
}

/* Frees the messages q still holds. Every process ends through here, most
** with nothing left: the call into route.c only when there is. */
static void free_queue(struct wp_mqueue *q) {
  if (q->head) wp_mq_free(q);
}

/* Frees the context values it was called with (a funcs callee's). */
static void free_ctx(struct wp_vmproc *vp) {
  if (!vp->ctx) return;
  wp_buf_free(vp->ctx);
  wp_free(vp->ctx);
  vp->ctx = NULL;
}

static void vm_teardown(struct wp_vmproc *vp) {
  wp_msg_free(vp->decoding);
  vp->decoding = NULL;
  wp_msg_free(vp->routing);
  vp->routing = NULL;
  if (vp->calls) wp_fcall_free_all(vp, 1); /* before the timers: it frees its own */
  if (vp->evsubs) wp_evbus_free_all(vp);
  while (vp->timers) wp_vtimer_free(vp, vp->timers);
  if (vp->listeners || vp->exitwaits || vp->replywaits) wp_route_free_waits(vp);
  wp_state_close(vp); /* channel __gc may free timers too: none left */
  free_ctx(vp);
  free_queue(&vp->inbox_q);
  free_queue(&vp->events_q);
  wp_buf_free(&vp->args);
  struct wp_host *h = vp->host;
  atomic_fetch_sub(&h->live, 1);
  wp_rt_live_dec(vp->rt);
}

/* Ends the process with an error built without Lua (kind and msg
** borrowed): a kill, or no memory left to build the result with. */
static void finish_c(struct wp_vmproc *vp, const char *kind, const char *msg) {
  struct wp_buf res = WP_BUF_INIT;
  if (wp_codec_encode_error(&res, kind, msg) != 0) res.len = 0; /* "ended without a result" */
  notify_exit(vp, &res, 1);
  wp_buf_free(&res);
  wp_rt_process_ended(vp, 1, msg, 1, -1);
}

static void finish_nomem(struct wp_vmproc *vp) {
  finish_c(vp, WP_KIND_INTERNAL, "not enough memory");
}

/* Encodes a result {value, error} as two values; error may be an object or
** NULL. Builds it on L's stack at [v, e] and encodes. */
static void finish(struct wp_vmproc *vp, lua_State *L, int vidx, int eidx, int code) {
  struct wp_buf res = WP_BUF_INIT;
  const char *err;
  int abnormal = eidx != 0;
  lua_State *S = L;
  if (!lua_checkstack(S, 3)) {
    finish_nomem(vp);
    return;
  }
  if (vidx)
    lua_pushvalue(S, vidx);
  else
    lua_pushnil(S);
  if (eidx)
    lua_pushvalue(S, eidx);
  else
    lua_pushnil(S);
  if (wp_codec_encode(S, lua_gettop(S) - 1, 2, &res, vp->rt->limits, &err) != 0) {
    /* the value could not be copied: report a nil value instead */
    res.len = 0;
    lua_pushnil(S);
    lua_pushvalue(S, -2);
    wp_codec_encode(S, lua_gettop(S) - 1, 2, &res, NULL, &err);
    lua_pop(S, 2);
  }
  const char *msg = NULL;
  int retry = -1;
  if (abnormal && eidx && wp_err_is(S, -1)) {
    msg = wp_err_message(S, -1, NULL);
    retry = wp_err_retryable(S, -1);
  }
  char msgcopy[1024];
  if (msg) {
    snprintf(msgcopy, sizeof msgcopy, "%s", msg);
    msg = msgcopy;
  }
  lua_pop(S, 2);
  notify_exit(vp, &res, abnormal);
  wp_buf_free(&res);
  wp_rt_process_ended(vp, abnormal, msg, code, retry);
}

/* Turns the error value at the top of L into an error object (kind Internal
** unless it already has one) and replaces it. */
static void normalise_error(lua_State *L, const char *deflt_kind) {
  if (wp_err_is(L, -1)) {
    const char *k = wp_err_kind(L, -1);
    if (k[0] == '\0' && deflt_kind[0] != '\0') {
      size_t len;
      const char *m = wp_err_message(L, -1, &len);
      int r = wp_err_retryable(L, -1);
      int old = lua_gettop(L);
      wp_err_pushl(L, deflt_kind, m, len, r);
      wp_err_push_details(L, old);
      wp_err_set_details(L, -2);
      lua_remove(L, old);
    }
    return;
  }
  const char *m = lua_tostring(L, -1);
  if (!m) m = luaL_typename(L, -1);
  wp_err_push(L, deflt_kind, m, -1);
  lua_remove(L, -2);
}

/* How an error ended the process (error_result). */
enum { ERR_RETURNED, ERR_RAISED, ERR_RAISED_IN_CHUNK };

/* [value, how] -> [the error object the process's EXIT reports]: a string
** returned as the entry's second result is a non-retryable Internal error;
** one raised by the chunk before the entry function ran says so, as
** Wippy's spawn would have. Allocates: called protected (make_error). */
static int error_result(lua_State *L) {
  int how = (int)lua_tointeger(L, 2);
  lua_settop(L, 1);
  struct wp_code *code = wp_vm_self(L)->code;
  if (how == ERR_RAISED_IN_CHUNK && code->is_function) {
    /* A function entry whose chunk fails, or that lacks its method, is no
    ** handler: its caller gets NotFound as for an unknown target (spec 10
    ** §2.1), the cause in the details and the log. */
    const char *why = wp_err_is(L, 1)                  ? wp_err_message(L, 1, NULL)
                      : lua_type(L, 1) == LUA_TSTRING ? lua_tostring(L, 1)
                                                      : luaL_typename(L, 1);
    wp_logf(WP_LOG_WARN, "function %s cannot be called: %s", code->id, why);
    wp_err_push(L, WP_KIND_NOT_FOUND, "no handler registered for target", -1);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, code->id);
    lua_setfield(L, -2, "target");
    lua_pushstring(L, why);
    lua_setfield(L, -2, "error");
    wp_err_set_details(L, -2);
    return 1;
  }
  if (lua_type(L, 1) == LUA_TSTRING && how == ERR_RETURNED) {
    wp_err_push(L, WP_KIND_INTERNAL, lua_tostring(L, 1), 0);
    return 1;
  }
  if (lua_type(L, 1) == LUA_TSTRING && how == ERR_RAISED_IN_CHUNK) {
    lua_pushfstring(L, "failed to execute script: %s", lua_tostring(L, 1));
    lua_replace(L, 1);
  }
  normalise_error(L, WP_KIND_INTERNAL);
  return 1;
}

/* Pushes the error object for the value at idx of L, a thread at base
** level (error_result). 0, or -1 when out of memory. */
static int make_error(lua_State *L, int idx, int how) {
  idx = lua_absindex(L, idx);
  if (!lua_checkstack(L, 3)) return -1;
  lua_pushcfunction(L, error_result);
  lua_pushvalue(L, idx);
  lua_pushinteger(L, how);
  return lua_pcall(L, 2, 1, 0) == LUA_OK ? 0 : -1;
}

/* The process ended by returning nres values on th's stack. */
static void finish_ok(struct wp_vmproc *vp, lua_State *th, int nres) {
  lua_State *L = wp_sys_L(vp);
  if (!L || (th != L && !lua_checkstack(L, nres))) {
    finish_nomem(vp);
    return;
  }
  if (th == L) { /* the main task on the main thread: keep the results only */
    lua_rotate(L, 1, nres);
    lua_settop(L, nres);
  } else {
    lua_settop(L, 0);
    lua_xmove(th, L, nres);
  }
  if (nres >= 2 && (lua_type(L, 2) == LUA_TSTRING || wp_err_is(L, 2))) {
    if (make_error(L, 2, ERR_RETURNED) != 0) {
      lua_settop(L, 0);
      finish_nomem(vp);
      return;
    }
    finish(vp, L, 0, lua_gettop(L), 1);
    lua_settop(L, 0);
    return;
  }
  int code = 0;
  int t = lua_type(L, 1);
  if (t == LUA_TNUMBER) {
    lua_Number n = lua_tonumber(L, 1);
    if (n != n || n > 2147483647.0 || n < -2147483648.0)
      code = 1;
    else
      code = (int)n;
  } else if (t == LUA_TBOOLEAN) {
    code = lua_toboolean(L, 1) ? 0 : 1;
  }
  if (nres == 0) lua_pushnil(L);
  finish(vp, L, 1, 0, code);
  lua_settop(L, 0);
}

/* The process failed with the error value at the top of th: a task's
** thread, or the stack a protected call of the runtime failed on. how: as
** for error_result. */
static void finish_error(struct wp_vmproc *vp, lua_State *th, int how) {
  lua_State *L = wp_sys_L(vp);
  if (!L || !lua_checkstack(L, 4)) {
    finish_nomem(vp);
    return;
  }
  if (th == L) {
    lua_insert(L, 1);
    lua_settop(L, 1);
  } else {
    lua_settop(L, 0);
    lua_xmove(th, L, 1);
  }
  if (make_error(L, 1, how) != 0) {
    lua_settop(L, 0);
    finish_nomem(vp);
    return;
  }
  finish(vp, L, 0, 2, 1);
  lua_settop(L, 0);
}

/* A kill ends the process with an error of its own, whatever its state's
** stacks hold (it needs no Lua memory: a process past its memory limit has
** none left). */
static void finish_killed(struct wp_vmproc *vp, int reason) {
  char msg[64];
  vp->exit_kill = (unsigned char)reason;
  if (reason == WP_KILL_LINK) {
    finish_c(vp, WP_KIND_UNKNOWN, "linked process failed");
    return;
  }
  if (reason == WP_KILL_MEMORY && vp->mem_state & WP_MEM_OVER_RT)
    snprintf(msg, sizeof msg, "memory limit exceeded (runtime limit %s)", vp->rt->mem_total_text);
  else if (reason == WP_KILL_MEMORY)
    snprintf(msg, sizeof msg, "memory limit exceeded (limit %s)", vp->code->mem_limit_text);
  else
    snprintf(msg, sizeof msg, "process terminated");
  finish_c(vp, WP_KIND_INTERNAL, msg);
}

/* The process failed (a task's error, or routing its mailbox): a kill if
** one is pending (a memory error past its limit), else the error on top of
** errL, or, with no stack to hold one, out of memory. */
static void finish_failed(struct wp_vmproc *vp, lua_State *errL) {
  wp_state_past_limit(vp, NULL); /* a refusal pending: what failed */
  int k = atomic_load_explicit(&vp->p->kill, memory_order_acquire);
  if (k)
    finish_killed(vp, k);
  else if (errL)
    finish_error(vp, errL, vp->entry_started ? ERR_RAISED : ERR_RAISED_IN_CHUNK);
  else
    finish_nomem(vp);
}

/* ---- start ---- */

static int boot_done(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  return lua_gettop(L);
}

/* Continuation after the chunk: [chunk, args..., export] -> call the entry. */
static int boot_entry(lua_State *L, int status, lua_KContext nargs) {
  (void)status;
  struct wp_vmproc *vp = wp_vm_self(L);
  const char *method = vp->code->method ? vp->code->method : "main";
  if (lua_type(L, -1) == LUA_TTABLE) {
    lua_getfield(L, -1, method);
    lua_remove(L, -2);
  }
  if (lua_type(L, -1) != LUA_TFUNCTION) {
    lua_pushfstring(L, "method \"%s\" not found in module", method);
    wp_err_push(L, WP_KIND_NOT_FOUND, lua_tostring(L, -1), 0);
    return lua_error(L);
  }
  lua_replace(L, 1);
  lua_settop(L, (int)nargs + 1);
  vp->entry_started = 1;
  lua_callk(L, (int)nargs, LUA_MULTRET, 0, boot_done);
  return boot_done(L, LUA_OK, 0);
}

/* The main task's function: [chunk, args...]. */
static int task_boot(lua_State *L) {
  int nargs = lua_gettop(L) - 1;
  lua_pushvalue(L, 1);
  lua_callk(L, 0, 1, nargs, boot_entry);
  return boot_entry(L, LUA_OK, nargs);
}

/* Runs protected: loads the code and prepares the main task. Stack:
** [chunk] when the state came with the chunk loaded (wp_state_new), else []. */
static int start_protected(lua_State *L) {
  struct wp_vmproc *vp = wp_vm_self(L);
  struct wp_code *c = vp->code;
  lua_pushcfunction(L, task_boot);
  if (lua_gettop(L) == 2)
    lua_insert(L, 1);
  else
    wp_code_load(L, c);
  int n;
  if (vp->argv) {
    luaL_checkstack(L, vp->argc + 4, "too many arguments");
    for (int i = 0; i < vp->argc; i++) lua_pushstring(L, vp->argv[i]);
    n = vp->argc;
  } else {
    n = wp_codec_decode(L, vp->args.data, vp->args.len);
    if (n < 0) return luaL_error(L, "corrupt spawn arguments");
  }
  wp_buf_free(&vp->args);
  /* [task_boot, chunk, args...]: returned, they stay on L for the main
  ** task's first resume */
  struct wp_task *t = &vp->main_task;
  memset(t, 0, sizeof *t);
  t->th = L;
  t->ref = LUA_NOREF;
  t->nargs = n + 1;
  t->is_main = 1;
  t->state = WP_TASK_READY;
  vp->ntasks++;
  vp->main = t;
  wp_task_ready_push(vp, t);
  return n + 2;
}

static int vm_start(struct wp_vmproc *vp) {
  int chunk;
  vp->L = wp_state_new(vp, &chunk);
  if (!vp->L) {
    int k = atomic_load_explicit(&vp->p->kill, memory_order_acquire);
    if (k)
      finish_killed(vp, k); /* its limit is smaller than a fresh state */
    else
      finish_c(vp, WP_KIND_INTERNAL, "not enough memory to create the process");
    return -1;
  }
  lua_State *L = vp->L;
  lua_pushcfunction(L, start_protected);
  if (chunk) lua_insert(L, 1);
  if (lua_pcall(L, chunk, LUA_MULTRET, 0) != LUA_OK) {
    wp_state_past_limit(vp, NULL);
    int k = atomic_load_explicit(&vp->p->kill, memory_order_acquire);
    if (k)
      finish_killed(vp, k);
    else
      finish_error(vp, L, ERR_RAISED);
    return -1;
  }
  return 0;
}

/* ---- the run loop ---- */

/* Memory back from a process that blocks (wp_state_collect): at once when
** it grew past vp->mem_gc_mb since its last collection; else, holding
** WP_GC_FORCE_MIN or more, after it stayed blocked WP_GC_IDLE_MS (a
** service that dropped its data between two messages allocates nothing
** that would make its collector run), the delay doubling (to 64 times)
** while such collections free less than a quarter. A process collected
** this way is not collected again before it has run. Returns 1 when a
** finaliser made a task ready. */
static __attribute__((noinline)) int collect_idle(struct wp_vmproc *vp) {
  int due = vp->mem_state & WP_MEM_GC_DUE, shift = vp->mem_state >> WP_MEM_GC_SHIFT;
  wp_state_release(vp, 0); /* what it freed since it last blocked */
  if (due || vp->mem_used > (int64_t)vp->mem_gc_mb << 20) {
    lua_State *S = wp_sys_L(vp);
    if (!S) return 0;
    int64_t before = vp->mem_used;
    wp_state_collect(vp, S);
    if (due) { /* freed little: wait longer next time */
      shift = vp->mem_used > before - before / 4 ? shift + (shift < 6) : 0;
      vp->mem_state = (unsigned char)((vp->mem_state & (WP_MEM_GC_ARMED - 1)) |
                                      shift << WP_MEM_GC_SHIFT);
    }
    return vp->ready_head != NULL;
  }
  if (!(vp->mem_state & (WP_MEM_GC_ARMED | WP_MEM_GC_DUE)) && vp->mem_used >= WP_GC_FORCE_MIN &&
      wp_vtimer_new(vp, WP_VT_GC, (uint64_t)WP_GC_IDLE_MS * 1000000u << shift))
    vp->mem_state |= WP_MEM_GC_ARMED;
  return 0;
}

/* Whether vp's state is likely out of this thread's caches: it last ran on
** another thread, or COLD_RUNS or more runs ago here. A run touches a few
** KB of its state, so L2 (1 MB per core here) holds the hot part of about
** a hundred states; 16 took a node of 64 clients taking turns for cold at
** every run, and its prefetches (up to 64 KB each) cost more than the
** misses they saved (dist_echo: 10 % of node A's cycles in the prefetch).
** bench/RESULTS.md has the pairs. Notes this run, or the staging that prefetched it (vm_warm): the
** run that follows on the same thread then finds it warm, one stolen by
** another thread cold. Thread numbers and run counts wrap, which at worst
** costs a prefetch or misses one. */
#define COLD_RUNS 128
static _Thread_local unsigned char tl_thread;
static _Thread_local uint16_t tl_runs;
static atomic_uint thread_ids;

static int cold(struct wp_vmproc *vp) {
  if (!tl_thread) tl_thread = (unsigned char)(atomic_fetch_add(&thread_ids, 1) % 255 + 1);
  int c = vp->ran_on != tl_thread || (uint16_t)(tl_runs - vp->ran_at) >= COLD_RUNS;
  vp->ran_on = tl_thread;
  vp->ran_at = tl_runs++;
  return c;
}

static int vm_run(struct wp_proc *p) {
  struct wp_vmproc *vp = p->vm;
  if (!vp->L) {
    if (vm_start(vp) != 0) {
      vm_teardown(vp);
      return WP_RUN_DONE;
    }
  } else if (cold(vp)) { /* not if the scheduler staged it here (vm_warm) */
    wp_state_prefetch(vp); /* a process that waited finds its state cold */
  }
  lua_State *L = vp->L;
  for (;;) {
    int k = atomic_load_explicit(&p->kill, memory_order_acquire);
    if (k) {
      finish_killed(vp, k);
      vm_teardown(vp);
      return WP_RUN_DONE;
    }
    if (!wp_mbox_empty_sc(&p->mbox)) {
      lua_State *errL = NULL;
      if (wp_route_drain(vp, &errL) != LUA_OK) { /* out of memory while routing */
        finish_failed(vp, errL);
        vm_teardown(vp);
        return WP_RUN_DONE;
      }
    }
    if (atomic_load_explicit(&p->kill, memory_order_acquire)) continue;
    struct wp_task *t = wp_task_ready_pop(vp);
    if (!t) {
      /* blocked: a preemption asked for meanwhile is moot */
      atomic_store_explicit(&vp->preempt_req, 0, memory_order_relaxed);
      if (vp->svc && !vp->first_blocked) {
        vp->first_blocked = 1;
        vp->rt->service_event(vp->rt, vp->svc, 0, 0, 0);
      }
      if ((vp->mem_used >= WP_GC_FORCE_MIN || vp->mem_state) && collect_idle(vp))
        continue; /* a finaliser made a task ready */
      wp_vm_publish(vp);
      return WP_RUN_WAIT;
    }
    t->state = WP_TASK_RUNNING;
    vp->current = t;
    int nres = 0;
    int nargs = t->nargs;
    t->nargs = 0;
    if (t == vp->main) vp->l_busy = 1;
    wp_vm_set_running(vp, t->th);
    int st = lua_resume(t->th, NULL, nargs, &nres);
    wp_vm_set_running(vp, NULL);
    wp_vm_disarm(t->th);
    vp->current = NULL;
    if (!vp->gc_on && vp->mem_used > WP_GC_START && (st == LUA_OK || st == LUA_YIELD)) {
      vp->gc_on = 1;
      /* generational: a long-lived process (a relay) mostly makes young
      ** garbage (messages, events, select results) */
      lua_gc(L, LUA_GCGEN, WP_GC_MINORMUL, 0);
      lua_gc(L, LUA_GCRESTART);
    }
    if (st == LUA_YIELD) {
      lua_pop(t->th, nres);
      if (vp->preempted) {
        vp->preempted = 0;
        t->state = WP_TASK_READY;
        vp->resume_first = t;
        wp_vm_publish(vp);
        return WP_RUN_YIELD;
      }
      if (t->state == WP_TASK_RUNNING) /* a bare coroutine.yield(): requeue */
        wp_task_ready(vp, t, 0);
      continue;
    }
    if (st == LUA_OK) {
      if (t->is_main) {
        vp->l_busy = 0; /* returned: L is at base level again */
        k = atomic_load_explicit(&p->kill, memory_order_acquire);
        if (k) /* e.g. past its memory limit where a failure did not raise */
          finish_killed(vp, k);
        else
          finish_ok(vp, t->th, nres);
        vm_teardown(vp);
        return WP_RUN_DONE;
      }
      wp_task_free(vp, t);
      continue;
    }
    finish_failed(vp, t->th); /* a kill may have unwound it (preempt_hook, memory) */
    vm_teardown(vp);
    return WP_RUN_DONE;
  }
}

static void vm_free(struct wp_proc *p) {
  struct wp_vmproc *vp = p->vm;
  if (!vp) return;
  if (vp->L) { /* never ran to completion (shutdown) */
    wp_rt_count_exit(vp, WP_KILL_SHUTDOWN, 1);
    if (vp->calls) wp_fcall_free_all(vp, 0);
    if (vp->evsubs) wp_evbus_free_all(vp);
    while (vp->timers) wp_vtimer_free(vp, vp->timers);
    wp_route_free_waits(vp);
    wp_state_close(vp);
  }
  free_queue(&vp->inbox_q);
  free_queue(&vp->events_q);
  wp_msg_free(vp->decoding);
  vp->decoding = NULL;
  wp_msg_free(vp->routing);
  vp->routing = NULL;
  wp_buf_free(&vp->args);
  free_ctx(vp);
  if (vp->argv) {
    for (int i = 0; i < vp->argc; i++) wp_free(vp->argv[i]);
    wp_free(vp->argv);
  }
  p->vm = NULL; /* vp lives in p's allocation */
}

static void vm_warm(struct wp_proc *p) {
  struct wp_vmproc *vp = p->vm;
  if (vp && vp->L && cold(vp)) wp_state_prefetch(vp);
}

const struct wp_sched_ops wp_vm_ops = {
    .run = vm_run,
    .preempt = vm_preempt,
    .free = vm_free,
    .warm = vm_warm,
    /* the TSan build polls instead (see the design note) */
    .interrupt = HOOK_POLL ? NULL : vm_interrupt,
};
