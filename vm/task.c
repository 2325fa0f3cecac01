/*
** task.c: the tasks of a process (its ready list, spawning, blocking and
** waking), the timers it owns, and the Lua functions that resume code
** inside a task: pcall, xpcall, coroutine.resume and coroutine.wrap.
**
** Design note: tasks. A task is a Lua thread the run loop (vmproc.c)
** resumes; the main task runs on the process's main thread L itself, every
** other one (coroutine.spawn) on a thread anchored in the registry. Ready
** tasks wait in a FIFO list (wp_task_ready_push/pop, vm_int.h); a task the
** preemption hook stopped waits in resume_first and runs before them, so
** tasks of one process switch only at blocking points. A spawned task runs
** first, up to its first blocking point, and its spawner after it. Only a
** task's own thread may block (wp_vm_blockable): a coroutine made with
** coroutine.create/wrap has no run loop to resume it.
**
** Timers. A process's timers (sleeps, time.after, tickers, idle
** collections) sit on the scheduler's timer wheel, which posts a TIMER
** message with the timer's id into the mailbox when one is due; routing
** (route.c) finds the timer by its id, so a firing that crosses the
** timer's cancellation is dropped. A timer lives until it fired (a ticker:
** until it is stopped) or is cancelled, and every one left is freed at
** teardown.
**
** pcall, xpcall and coroutines. An error that a pending kill raised inside
** the process (the preemption hook, a refused allocation past its memory
** limit) passes through pcall, xpcall and coroutine.resume to reach the run
** loop, where no handler of the process can stop it. A preemption that
** stops a user coroutine (created with coroutine.create/wrap) is forwarded:
** the resumer yields in turn, up to the task's thread and the scheduler,
** and resumes the coroutine where it stopped when the task runs again; a
** resumer that cannot yield (inside a C call) resumes the coroutine at
** once.
*/
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "vm.h"
#include "vm_int.h"

/* ---- tasks ---- */

/* Creates a task for the function on top of L (popped). The task struct
** lives in a userdata anchored, with its thread, in the registry. */
static struct wp_task *task_new(lua_State *L, struct wp_vmproc *vp) {
  struct wp_task *t = lua_newuserdatauv(L, sizeof *t, 1);
  memset(t, 0, sizeof *t);
  t->th = lua_newthread(L);
  lua_setiuservalue(L, -2, 1);           /* udata keeps the thread alive */
  t->ref = luaL_ref(L, LUA_REGISTRYINDEX); /* anchors udata (and thread) */
  lua_xmove(L, t->th, 1);                /* the function */
  t->state = WP_TASK_READY;
  vp->ntasks++;
  return t;
}

/* A task that returned: its thread is at base level, usable for the
** registry call (the main thread may be suspended in the main task). */
void wp_task_free(struct wp_vmproc *vp, struct wp_task *t) {
  luaL_unref(t->th, LUA_REGISTRYINDEX, t->ref);
  vp->ntasks--;
}

static int spawn_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  return 1; /* the new thread, left on the stack before the yield */
}

struct wp_task *wp_task_spawn(lua_State *L) {
  struct wp_vmproc *vp = wp_vm_self(L);
  struct wp_task *t = task_new(L, vp);
  t->nargs = 0;
  lua_pushthread(t->th);
  lua_xmove(t->th, L, 1);
  struct wp_task *cur = vp->current;
  if (cur && cur->th == L && lua_isyieldable(L)) {
    /* As in Wippy, the new task runs first, up to its first blocking
    ** point; the spawner continues after it. */
    vp->resume_first = t;
    wp_task_ready(vp, cur, 0);
    lua_yieldk(L, 0, 0, spawn_k);
  }
  wp_task_ready_push(vp, t);
  return t;
}

struct wp_task *wp_vm_blockable(lua_State *L, const char *what) {
  struct wp_vmproc *vp = wp_vm_self(L);
  struct wp_task *t = vp->current;
  if (!t || t->th != L) {
    luaL_error(L, "%s cannot block inside a coroutine created with "
                  "coroutine.create/wrap; use coroutine.spawn", what);
    return NULL;
  }
  wp_vm_note_wait(vp, what);
  return t;
}

void wp_task_block(struct wp_vmproc *vp, struct wp_task *t, void *wait) {
  (void)vp;
  t->state = WP_TASK_BLOCKED;
  t->wait = wait;
}

void wp_task_ready(struct wp_vmproc *vp, struct wp_task *t, int nargs) {
  t->state = WP_TASK_READY;
  t->wait = NULL;
  t->nargs = nargs;
  wp_task_ready_push(vp, t);
}

/* ---- timers ---- */

struct wp_vtimer *wp_vtimer_new(struct wp_vmproc *vp, int kind, uint64_t delay_ns) {
  struct wp_vtimer *vt = wp_calloc(1, sizeof *vt);
  if (!vt) return NULL;
  wp_timer_init(&vt->node);
  vt->kind = kind;
  vt->node.id = ++vp->next_timer_id;
  vt->node.target = vp->p->handle;
  if (wp_sched_timer_add(vp->p->sched, &vt->node, delay_ns) != 0) {
    wp_free(vt);
    return NULL;
  }
  vt->next = vp->timers;
  if (vp->timers) vp->timers->prev = vt;
  vp->timers = vt;
  return vt;
}

void wp_vtimer_free(struct wp_vmproc *vp, struct wp_vtimer *vt) {
  wp_sched_timer_cancel(vp->p->sched, &vt->node);
  if (vt->chan) wp_chan_set_timer(vt->chan, NULL);
  if (vt->prev)
    vt->prev->next = vt->next;
  else
    vp->timers = vt->next;
  if (vt->next) vt->next->prev = vt->prev;
  wp_free(vt);
}

/* The live timer with this id, or NULL (cancelled after it fired). */
struct wp_vtimer *wp_vtimer_find(struct wp_vmproc *vp, uint64_t id) {
  struct wp_vtimer *vt = vp->timers;
  while (vt && vt->node.id != id) vt = vt->next;
  return vt;
}

/* A timer's channel may be garbage (a time.after nobody kept) that is not
** finalized yet. Any allocation here may run a collection step, and the
** channel's finalizer (chan_gc) frees vt: so the collector is held off
** while vt and its channel are in use (emergency collections, the only ones
** left, never run finalizers). An error raised meanwhile ends the process
** (wp_route_drain), so the collector it leaves stopped is never needed
** again. */
void wp_vtimer_fired(struct wp_vmproc *vp, lua_State *L, uint64_t id) {
  struct wp_vtimer *vt = wp_vtimer_find(vp, id);
  if (!vt) return;
  if (vt->kind == WP_VT_CALL) {
    wp_fcall_fired(vp, L, vt); /* frees vt */
    return;
  }
  if (vt->kind == WP_VT_SLEEP) {
    if (vt->task) wp_task_ready(vp, vt->task, 0);
  } else if (vt->chan) {
    struct wp_chan *c = vt->chan;
    int gc = lua_gc(L, LUA_GCISRUNNING);
    if (gc) lua_gc(L, LUA_GCSTOP);
    vp->rt->push_time(L, wp_wall_ns());
    wp_chan_offer(L, c); /* a full ticker channel drops the tick */
    int rearmed = 0;
    if (vt->kind == WP_VT_TICKER) {
      rearmed = wp_sched_timer_add(vp->p->sched, &vt->node, vt->period) == 0;
      if (!rearmed) {
        /* a ticker that stopped ticking would leave its reader waiting */
        wp_vtimer_free(vp, vt);
        luaL_error(L, "not enough memory to re-arm a ticker");
      }
    } else {
      wp_chan_close(L, c);
    }
    if (gc) lua_gc(L, LUA_GCRESTART);
    if (rearmed) return;
  }
  wp_vtimer_free(vp, vt);
}

/* ---- pcall, xpcall ---- */

/* An error raised while the process is being ended (a refused allocation
** past its memory limit, a kill the hook raised) is passed on, so that no
** handler of the process can stop it; any other is returned as Lua's pcall
** does. */
static int pcall_k(lua_State *L, int status, lua_KContext extra) {
  if (status != LUA_OK && status != LUA_YIELD) {
    struct wp_vmproc *vp = wp_vm_self(L);
    if (atomic_load_explicit(&vp->p->kill, memory_order_relaxed) || wp_state_past_limit(vp, L))
      return lua_error(L);
    lua_pushboolean(L, 0);
    lua_pushvalue(L, -2);
    return 2;
  }
  return lua_gettop(L) - (int)extra; /* true and the results */
}

int wp_vm_pcall(lua_State *L) {
  luaL_checkany(L, 1);
  lua_pushboolean(L, 1);
  lua_insert(L, 1); /* [true, f, args...] */
  return pcall_k(L, lua_pcallk(L, lua_gettop(L) - 2, LUA_MULTRET, 0, 0, pcall_k), 0);
}

int wp_vm_xpcall(lua_State *L) {
  int n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushboolean(L, 1);
  lua_pushvalue(L, 1);
  lua_rotate(L, 3, 2); /* [f, handler, true, f, args...] */
  return pcall_k(L, lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, pcall_k), 2);
}

/* ---- coroutine.resume / coroutine.wrap with preemption forwarding ---- */

static int resume_k(lua_State *L, int status, lua_KContext wrap);

/* Resumes co (index 1 of L) with the nargs values on its stack. Returns the
** number of results pushed on L as Lua's coroutine.resume would (true +
** values, or false + error), or -1 with the error moved to L for wrap. */
static int do_resume(lua_State *L, lua_State *co, int nargs, int wrap) {
  struct wp_vmproc *vp = wp_vm_self(L);
  for (;;) {
    lua_State *outer = atomic_load_explicit(&vp->running_th, memory_order_relaxed);
    wp_vm_set_running(vp, co); /* a pending request follows the running thread */
    int nres = 0;
    int st = lua_resume(co, L, nargs, &nres);
    wp_vm_set_running(vp, outer);
    wp_vm_disarm(co);
    if (st == LUA_YIELD && vp->preempted_inner) {
      vp->preempted_inner = 0;
      lua_pop(co, nres);
      nargs = 0;
      if (!lua_isyieldable(L)) continue; /* cannot forward from here */
      if (vp->current && L == vp->current->th)
        vp->preempted = 1;
      else
        vp->preempted_inner = 1;
      return lua_yieldk(L, 0, wrap, resume_k);
    }
    if (st == LUA_OK || st == LUA_YIELD) {
      if (!lua_checkstack(L, nres + 1)) {
        lua_pop(co, nres);
        luaL_error(L, "too many results to resume");
      }
      if (!wrap) lua_pushboolean(L, 1);
      lua_xmove(co, L, nres);
      return nres + !wrap;
    }
    lua_xmove(co, L, 1); /* the error */
    if (atomic_load_explicit(&vp->p->kill, memory_order_relaxed) || wp_state_past_limit(vp, L))
      return lua_error(L); /* the process is being ended: not caught here */
    if (wrap) {
      if (lua_type(L, -1) == LUA_TSTRING) { /* add position, as Lua's wrap does */
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
      }
      return lua_error(L);
    }
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
  }
}

static int resume_k(lua_State *L, int status, lua_KContext wrap) {
  (void)status;
  lua_State *co = lua_tothread(L, wrap ? lua_upvalueindex(1) : 1);
  int top = lua_gettop(L);
  int n = do_resume(L, co, 0, (int)wrap);
  return wrap ? n : (lua_gettop(L) - top);
}

/* NULL if co can be resumed, else why not (Lua's own messages). */
static const char *not_resumable(lua_State *L, lua_State *co) {
  if (co == L) return "cannot resume non-suspended coroutine";
  switch (lua_status(co)) {
    case LUA_YIELD: return NULL;
    case LUA_OK: {
      lua_Debug ar;
      if (lua_getstack(co, 0, &ar)) return "cannot resume non-suspended coroutine";
      return lua_gettop(co) == 0 ? "cannot resume dead coroutine" : NULL;
    }
    default: return "cannot resume dead coroutine";
  }
}

int wp_co_resume(lua_State *L) {
  lua_State *co = lua_tothread(L, 1);
  luaL_argexpected(L, co, 1, "coroutine");
  int nargs = lua_gettop(L) - 1;
  const char *why = not_resumable(L, co);
  if (why) {
    lua_pushboolean(L, 0);
    lua_pushstring(L, why);
    return 2;
  }
  if (!lua_checkstack(co, nargs)) {
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "too many arguments to resume");
    return 2;
  }
  lua_xmove(L, co, nargs);
  return do_resume(L, co, nargs, 0);
}

static int wrap_call(lua_State *L) {
  lua_State *co = lua_tothread(L, lua_upvalueindex(1));
  int nargs = lua_gettop(L);
  const char *why = not_resumable(L, co);
  if (why) return luaL_error(L, "%s", why);
  if (!lua_checkstack(co, nargs)) return luaL_error(L, "too many arguments to resume");
  lua_xmove(L, co, nargs);
  return do_resume(L, co, nargs, 1);
}

int wp_co_wrap(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_State *co = lua_newthread(L);
  lua_pushvalue(L, 1);
  lua_xmove(L, co, 1);
  lua_pushcclosure(L, wrap_call, 1);
  return 1;
}
