/*
** fcall.c: funcs.call and funcs.async from the caller's side (spec 10 §2):
** the calls a process has in progress, their attempts, timeouts and
** retries, and Futures.
**
** Design note. A call runs its target as a process of its own, monitored
** by the caller: a function.lua entry on the caller's host (its pids carry
** the entry id as host part), or a process entry on the host its
** meta.default_host names (§2.6). The callee's EXIT carries its result
** (value, error) by the rule of a process's result, which is exactly the
** outcome table of §2.3. A call record (struct wp_fcall, in the caller's
** vp->calls) knows its running attempt by the callee's pid counter, and
** routing (route.c) hands it that EXIT. funcs.call's task blocks until the
** record answers it; funcs.async's Future is anchored in the registry until
** answered, so a call runs to its end even if nobody keeps its Future.
**
** Attempts and timers. An attempt that fails with an error the options let
** us retry waits its backoff on a timer (WP_VT_CALL, owned by the record),
** then runs again with the same arguments, kept encoded for it. The timeout
** is one timer over all attempts: when it fires the caller gets Timeout and
** the callee runs on (§2.5 allows it). A record answered while its callee
** still runs (timed out; a Future canceled) lives on until that callee's
** EXIT and swallows it, so no stray EXIT ever reaches process.events().
** When the caller ends, its records go; a process entry still running as a
** callee gets CANCEL "caller context canceled" (§2.6), a function callee
** runs to its end and its EXIT is dropped with the caller.
**
** Everything here runs on the caller's worker: records, their timers and
** Futures belong to the caller's process. Values for a blocked task are
** made on the running (protected) stack and moved over, as in route.c.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "codec.h"
#include "duration.h"
#include "errobj.h"
#include "vm.h"
#include "vm_int.h"

#define FUTURE_MT "funcs.Future"
#define NO_HANDLER "no handler registered for target"

struct wp_fcall {
  struct wp_fcall *next;
  uint64_t counter;      /* the running attempt's callee; 0 between attempts */
  struct wp_task *task;  /* funcs.call: the blocked task, until answered */
  int fref;              /* funcs.async: the Future's registry ref, until answered */
  struct wp_vtimer *deadline, *backoff;
  const char *id, *host; /* target and host: the runtime's strings (live as long) */
  int flags;             /* WP_SPAWN_FUNC for a function entry */
  int attempt;           /* attempts started */
  unsigned char answered, is_process;
  struct wp_buf args;    /* the arguments, kept for a retry (retrying calls only) */
  struct wp_buf ctx;     /* the context table handed to every attempt's callee */
  struct wp_fcall_opts o;
};

/* A Future (spec 10 §2.4). User values: 1 its channel (buffer 1), 2 its
** outcome once delivered (a Payload or an error object). */
struct future {
  unsigned char complete, canceled, failed;
};

void wp_fcall_opts_init(struct wp_fcall_opts *o) {
  memset(o, 0, sizeof *o);
  o->max_attempts = 1;
  o->initial_delay_ns = 100 * 1000000LL;
  o->max_delay_ns = 10 * 1000000000LL;
  o->backoff = 2.0;
  o->jitter = 0.1;
}

/* ---- targets ---- */

static int regentry_cmp(const void *key, const void *e) {
  return strcmp(key, ((const struct wp_regentry *)e)->id);
}

const struct wp_node *wp_fcall_meta(struct wp_rt *rt, const char *id) {
  if (!rt->regview || !rt->regview->n) return NULL;
  const struct wp_regentry *e =
      bsearch(id, rt->regview->v, rt->regview->n, sizeof *e, regentry_cmp);
  return e ? e->meta : NULL;
}

/* The host a process entry names as meta.default_host (or
** meta.options.default_host), or NULL. */
static const char *default_host(struct wp_rt *rt, const char *id) {
  const struct wp_node *meta = wp_fcall_meta(rt, id);
  const char *h = wp_node_str(wp_node_get(meta, "default_host"));
  if (!h) h = wp_node_str(wp_node_get(wp_node_get(meta, "options"), "default_host"));
  return h && h[0] ? h : NULL;
}

/* Fills c's target from id: 0, or -1 when nothing callable has that id. */
static int resolve(struct wp_vmproc *vp, struct wp_fcall *c, const char *id) {
  struct wp_code *code = wp_rt_code(vp->rt, id);
  if (!code || code->is_library) return -1;
  c->id = code->id;
  if (code->is_function) {
    c->host = vp->host->id;
    c->flags = WP_SPAWN_FUNC;
    return 0;
  }
  const char *h = default_host(vp->rt, id);
  if (!h) return -1;
  struct wp_host *host = wp_rt_host(vp->rt, h);
  c->host = host ? host->id : h; /* an unknown host: the spawn says so */
  c->is_process = 1;
  return 0;
}

/* Pushes the NotFound error of a target nothing answers (§2.1). */
static void push_not_found(lua_State *L, const char *id) {
  wp_err_push(L, WP_KIND_NOT_FOUND, NO_HANDLER, -1);
  lua_createtable(L, 0, 1);
  lua_pushstring(L, id);
  lua_setfield(L, -2, "target");
  wp_err_set_details(L, -2);
}

/* ---- Futures ---- */

static struct future *check_future(lua_State *L) {
  return luaL_checkudata(L, 1, FUTURE_MT);
}

static int fut_channel(lua_State *L) {
  check_future(L);
  lua_getiuservalue(L, 1, 1);
  return 1;
}

static int fut_is_complete(lua_State *L) {
  lua_pushboolean(L, check_future(L)->complete);
  return 1;
}

static int fut_is_canceled(lua_State *L) {
  lua_pushboolean(L, check_future(L)->canceled);
  return 1;
}

/* Canceled first, even after completion; then the error; then the Payload;
** nil, nil while nothing has been delivered. */
static int fut_result(lua_State *L) {
  struct future *f = check_future(L);
  if (f->canceled) return wp_err_return(L, WP_KIND_CANCELED, "canceled");
  if (!f->complete) {
    lua_pushnil(L);
    lua_pushnil(L);
    return 2;
  }
  lua_getiuservalue(L, 1, 2);
  if (f->failed) {
    lua_pushnil(L);
    lua_insert(L, -2);
  } else {
    lua_pushnil(L);
  }
  return 2;
}

/* The error re-reported as Internal (its message kept): err, true. */
static int fut_error(lua_State *L) {
  struct future *f = check_future(L);
  if (!f->failed) {
    lua_pushnil(L);
    lua_pushboolean(L, 0);
    return 2;
  }
  lua_settop(L, 1);
  lua_getiuservalue(L, 1, 2); /* at 2: an error object (every failure is one) */
  size_t len;
  const char *msg = wp_err_is(L, -1) ? wp_err_message(L, -1, &len) : luaL_tolstring(L, -1, &len);
  wp_err_pushl(L, WP_KIND_INTERNAL, msg, len, wp_err_is(L, 2) ? wp_err_retryable(L, 2) : -1);
  lua_pushboolean(L, 1);
  return 2;
}

/* Best effort (§2.4): the callee runs on; its outcome is dropped. */
static int fut_cancel(lua_State *L) {
  struct future *f = check_future(L);
  f->canceled = 1;
  lua_getiuservalue(L, 1, 1);
  wp_chan_close(L, wp_chan_check(L, -1)); /* a waiting receive gets nil, false */
  lua_pushboolean(L, 1);
  return 1;
}

static int fut_tostring(lua_State *L) {
  struct future *f = check_future(L);
  lua_pushfstring(L, "funcs.Future{complete=%s, canceled=%s}", f->complete ? "true" : "false",
                  f->canceled ? "true" : "false");
  return 1;
}

/* Pushes a new Future with its channel. */
static struct future *push_future(lua_State *L) {
  struct future *f = lua_newuserdatauv(L, sizeof *f, 2);
  memset(f, 0, sizeof *f);
  wp_chan_new(L, 1, WP_CHAN_PLAIN);
  lua_setiuservalue(L, -2, 1);
  if (luaL_newmetatable(L, FUTURE_MT)) {
    static const luaL_Reg meth[] = {{"response", fut_channel},
                                    {"channel", fut_channel},
                                    {"result", fut_result},
                                    {"error", fut_error},
                                    {"is_complete", fut_is_complete},
                                    {"is_canceled", fut_is_canceled},
                                    {"cancel", fut_cancel},
                                    {NULL, NULL}};
    luaL_newlib(L, meth);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, fut_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_setmetatable(L, -2);
  return f;
}

/* Delivers the outcome at the top of L (1 value: the callee's value; 2:
** nil and the error; popped) to the Future at fidx: its channel receives a
** Payload or the error object, then closes (§2.4). A canceled Future drops
** it. */
static void future_settle(lua_State *L, int fidx, int nv) {
  struct future *f = lua_touserdata(L, fidx);
  if (f->canceled) {
    lua_pop(L, nv);
    return;
  }
  if (nv == 1) {
    wp_payload_push(L, -1);
    lua_remove(L, -2);
  } else {
    lua_remove(L, -2); /* the nil */
    f->failed = 1;
  }
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, fidx, 2);
  f->complete = 1; /* before the offer: a receiver woken by it sees it */
  lua_getiuservalue(L, fidx, 1);
  struct wp_chan *ch = wp_chan_check(L, -1);
  lua_insert(L, -2);
  /* Full only if the app sent into the Future's channel itself: result()
  ** still has the outcome. */
  wp_chan_offer(L, ch);
  wp_chan_close(L, ch);
  lua_pop(L, 1);
}

/* ---- records ---- */

/* Frees a record not (or no longer) in its process's list, with no timer. */
static void call_free_unlinked(struct wp_fcall *c) {
  wp_buf_free(&c->args);
  wp_buf_free(&c->ctx);
  wp_free(c);
}

static void call_free(struct wp_vmproc *vp, struct wp_fcall *c) {
  for (struct wp_fcall **pp = &vp->calls; *pp; pp = &(*pp)->next) {
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  }
  if (c->deadline) wp_vtimer_free(vp, c->deadline);
  if (c->backoff) wp_vtimer_free(vp, c->backoff);
  call_free_unlinked(c);
}

/* Answers c with the outcome at the top of L (nv values, popped): the
** blocked task's results, or the Future's delivery. The record goes
** unless its callee still runs (its EXIT is still to be swallowed). */
static void answer(struct wp_vmproc *vp, lua_State *L, struct wp_fcall *c, int nv) {
  c->answered = 1;
  if (c->deadline) {
    wp_vtimer_free(vp, c->deadline);
    c->deadline = NULL;
  }
  if (c->backoff) {
    wp_vtimer_free(vp, c->backoff);
    c->backoff = NULL;
  }
  if (c->task) {
    struct wp_task *t = c->task;
    c->task = NULL;
    if (!lua_checkstack(t->th, nv)) luaL_error(L, "not enough memory");
    lua_xmove(L, t->th, nv);
    wp_task_ready(vp, t, nv);
  } else if (c->fref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->fref);
    lua_insert(L, -nv - 1);
    future_settle(L, lua_gettop(L) - nv, nv);
    lua_pop(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, c->fref);
    c->fref = LUA_NOREF;
  } else {
    lua_pop(L, nv);
  }
  if (!c->counter) call_free(vp, c);
}

/* Whether kind k is one of the list's (a run of NUL-terminated names). */
static int in_list(const char *list, const char *k) {
  for (const char *p = list; *p; p += strlen(p) + 1)
    if (strcmp(p, k) == 0) return 1;
  return 0;
}

static int future_canceled(lua_State *L, struct wp_fcall *c) {
  if (c->fref == LUA_NOREF) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->fref);
  int canceled = ((struct future *)lua_touserdata(L, -1))->canceled;
  lua_pop(L, 1);
  return canceled;
}

/* Whether c should run again after failing with the error at eidx (§2.5):
** attempts left, not canceled, the error not marked retryable() == false,
** and its kind allowed (retry_kinds; not skip_kinds; by default every kind
** but Invalid, PermissionDenied and Internal). */
static int retry_due(lua_State *L, struct wp_fcall *c, int eidx) {
  if (c->attempt >= c->o.max_attempts || !wp_err_is(L, eidx)) return 0;
  if (wp_err_retryable(L, eidx) == 0 || future_canceled(L, c)) return 0;
  const char *k = wp_err_kind(L, eidx);
  if (c->o.has_skip_kinds && in_list(c->o.skip_kinds, k)) return 0;
  if (c->o.has_retry_kinds) return in_list(c->o.retry_kinds, k);
  return strcmp(k, WP_KIND_INVALID) != 0 && strcmp(k, WP_KIND_PERMISSION_DENIED) != 0 &&
         strcmp(k, WP_KIND_INTERNAL) != 0;
}

/* A uniform number in [0, 1) for the jitter: a per-thread xorshift. */
static double jitter_rand(void) {
  static _Thread_local uint64_t x;
  if (!x) x = wp_clock_ns() | 1;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return (double)(x >> 11) / 9007199254740992.0;
}

/* The wait before attempt c->attempt + 1: initial_delay × backoff^(k−1),
** at most max_delay, ± jitter of it (k = attempts failed so far). */
static uint64_t backoff_ns(const struct wp_fcall *c) {
  double d = (double)c->o.initial_delay_ns * pow(c->o.backoff, c->attempt - 1);
  if (!(d <= (double)c->o.max_delay_ns)) d = (double)c->o.max_delay_ns;
  d += d * c->o.jitter * (2 * jitter_rand() - 1);
  return d > 0 ? (uint64_t)d : 0;
}

/* Starts the next attempt of c (its arguments kept). 0, or -1 with the
** spawn's error pushed as nil, err. */
static int next_attempt(struct wp_vmproc *vp, lua_State *L, struct wp_fcall *c) {
  struct wp_proc *child;
  const char *kind, *msg;
  if (wp_rt_spawn_call(vp->rt, vp, c->id, c->host, c->flags, NULL, 0, 0, &c->args, &c->ctx,
                       &child, &kind, &msg)) {
    lua_pushnil(L);
    wp_err_push(L, kind, msg, -1);
    return -1;
  }
  c->counter = child->counter;
  c->attempt++;
  wp_proc_release(child);
  return 0;
}

int wp_fcall_exit(struct wp_vmproc *vp, lua_State *L, struct wp_msg *m) {
  uint64_t counter = wp_pid_parse(wp_msg_from(m), m->from_len);
  struct wp_fcall *c = vp->calls;
  while (c && (!counter || c->counter != counter)) c = c->next;
  if (!c) return 0;
  c->counter = 0;
  if (c->answered) { /* timed out or canceled: nobody waits for it */
    wp_msg_free(m);
    call_free(vp, c);
    return 1;
  }
  vp->decoding = m; /* freed at teardown if what follows raises */
  luaL_checkstack(L, 6, NULL);
  int nv = wp_route_push_result(L, m);
  vp->decoding = NULL;
  wp_msg_free(m);
  if (nv == 2 && retry_due(L, c, -1)) {
    c->backoff = wp_vtimer_new(vp, WP_VT_CALL, backoff_ns(c));
    if (c->backoff) {
      c->backoff->call = c;
      lua_pop(L, 2);
      return 1;
    } /* no timer (out of memory): the last error is the outcome */
  }
  answer(vp, L, c, nv);
  return 1;
}

void wp_fcall_fired(struct wp_vmproc *vp, lua_State *L, struct wp_vtimer *vt) {
  struct wp_fcall *c = vt->call;
  int timeout = vt == c->deadline;
  if (timeout)
    c->deadline = NULL;
  else
    c->backoff = NULL;
  wp_vtimer_free(vp, vt);
  luaL_checkstack(L, 4, NULL);
  if (timeout) {
    char d[32];
    wp_duration_format((int64_t)c->o.timeout_ns, d, sizeof d);
    lua_pushnil(L);
    lua_pushfstring(L, "call to %s timed out after %s", c->id, d);
    wp_err_push(L, WP_KIND_TIMEOUT, lua_tostring(L, -1), -1);
    lua_remove(L, -2);
    answer(vp, L, c, 2);
    return;
  }
  if (future_canceled(L, c)) { /* nobody wants another attempt */
    lua_pushnil(L);
    answer(vp, L, c, 1);
    return;
  }
  if (next_attempt(vp, L, c) != 0) answer(vp, L, c, 2);
}

void wp_fcall_free_all(struct wp_vmproc *vp, int cancel) {
  struct wp_ptab *pt = wp_sched_ptab(vp->p->sched);
  while (vp->calls) {
    struct wp_fcall *c = vp->calls;
    if (cancel && c->is_process && c->counter) {
      struct wp_proc *p = wp_ptab_get_counter(pt, c->counter);
      if (p) {
        wp_rt_cancel(p, vp->p->pid, "caller context canceled");
        wp_proc_release(p);
      }
    }
    call_free(vp, c);
  }
}

/* ---- starting a call ---- */

/* Ends a call that could not start: the error at the top of L (popped)
** becomes funcs.call's nil, err, or the outcome of the Future at fidx. */
static int fail_start(lua_State *L, int fidx) {
  if (!fidx) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushnil(L);
  lua_insert(L, -2);
  future_settle(L, fidx, 2);
  lua_settop(L, fidx);
  return 1;
}

int wp_fcall_start(lua_State *L, const char *id, int first, int n, int ctx_idx,
                   const struct wp_fcall_opts *o, int async) {
  struct wp_vmproc *vp = wp_vm_self(L);
  /* what may raise comes first, while nothing here is ours to free */
  struct wp_task *t = async ? NULL : wp_vm_blockable(L, "funcs.call");
  luaL_checkstack(L, 8, NULL);
  if (ctx_idx) ctx_idx = lua_absindex(L, ctx_idx);
  int fidx = 0;
  if (async) {
    push_future(L);
    fidx = lua_gettop(L);
  }
  struct wp_fcall probe;
  memset(&probe, 0, sizeof probe);
  if (resolve(vp, &probe, id) != 0) {
    push_not_found(L, id);
    return fail_start(L, fidx);
  }
  int fref = LUA_NOREF;
  if (async) {
    lua_pushvalue(L, fidx);
    fref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  struct wp_fcall *c = wp_malloc(sizeof *c);
  if (!c) {
    luaL_unref(L, LUA_REGISTRYINDEX, fref);
    return luaL_error(L, "not enough memory");
  }
  *c = probe;
  c->o = *o;
  c->fref = fref;
  c->args = (struct wp_buf)WP_BUF_INIT;
  c->ctx = (struct wp_buf)WP_BUF_INIT;
  const char *kind = WP_KIND_INVALID, *msg = NULL;
  /* the context: the table given, else the caller's own (a callee calling on) */
  if (ctx_idx) {
    if (wp_codec_encode(L, ctx_idx, 1, &c->ctx, vp->rt->limits, &msg) != 0) goto refused;
  } else if (vp->ctx && wp_buf_append(&c->ctx, vp->ctx->data, vp->ctx->len) != 0) {
    kind = WP_KIND_INTERNAL;
    msg = "out of memory";
    goto refused;
  }
  int keep = o->max_attempts > 1 && n > 0;
  if (keep && wp_codec_encode(L, first, n, &c->args, vp->rt->limits, &msg) != 0) goto refused;
  struct wp_proc *child;
  if (wp_rt_spawn_call(vp->rt, vp, c->id, c->host, c->flags, L, first, n,
                       keep ? &c->args : NULL, &c->ctx, &child, &kind, &msg) != 0) {
    if (strcmp(kind, WP_KIND_INVALID) == 0) goto refused; /* the arguments */
    luaL_unref(L, LUA_REGISTRYINDEX, fref);
    call_free_unlinked(c);
    wp_err_push(L, kind, msg, -1);
    return fail_start(L, fidx);
  }
  c->counter = child->counter;
  c->attempt = 1;
  wp_proc_release(child);
  c->next = vp->calls;
  vp->calls = c;
  if (o->timeout_ns > 0) {
    c->deadline = wp_vtimer_new(vp, WP_VT_CALL, (uint64_t)o->timeout_ns);
    if (!c->deadline) { /* the callee runs: the record stays to take its EXIT */
      c->answered = 1;
      luaL_unref(L, LUA_REGISTRYINDEX, c->fref);
      c->fref = LUA_NOREF;
      return luaL_error(L, "not enough memory");
    }
    c->deadline->call = c;
  }
  if (async) return 1; /* the Future, at fidx: the top */
  c->task = t;
  wp_task_block(vp, t, c);
  return lua_yield(L, 0);
refused: /* the arguments or the context cannot be copied: nil, err */
  luaL_unref(L, LUA_REGISTRYINDEX, fref);
  call_free_unlinked(c);
  return wp_err_return(L, kind, msg);
}
