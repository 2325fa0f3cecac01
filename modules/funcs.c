/*
** funcs.c: the `funcs` module (spec 10 §2): funcs.call, funcs.async and
** executors (funcs.new), and the `ctx` module through which a callee reads
** the context values its caller passed. Target checks, executors and their
** options live here; the calls themselves (callee processes, outcomes,
** timeouts, retries, Futures) are vm/fcall.c's.
**
** Options (§2.5): a call's options are its executor's (with_options
** replaces them whole) over the target entry's meta.options, key by key;
** `timeout` and `retry` are read, every other key is passed over. A bad
** value is the call's `nil, err` (Invalid), never ignored: a typo in a
** timeout should not silently mean "no timeout".
**
** Context (§2.2): a callee receives its caller's context values (those it
** was itself called with) with the executor's with_context entries over
** them; the ctx module reads them.
*/
#include <math.h>
#include <string.h>

#include "codec.h"
#include "duration.h"
#include "errobj.h"
#include "lazylib.h"
#include "modules.h"

#define EXECUTOR_MT "funcs.Executor"
#define COPY_DEPTH 16 /* how deep an options table may nest */

/* ---- targets ---- */

/* Checks the target at idx (a non-string raises). Returns it, or NULL
** with nil, err pushed (the three Invalid cases of §2.1). */
static const char *check_target(lua_State *L, int idx) {
  size_t len;
  const char *id = luaL_checklstring(L, idx, &len);
  const char *colon = memchr(id, ':', len);
  const char *why = len == 0                   ? "function ID required"
                    : !colon || colon == id    ? "namespace required in function ID"
                    : colon == id + len - 1    ? "name required in function ID"
                    : strlen(id) != len        ? "function ID must not contain NUL bytes"
                                               : NULL;
  if (!why) return id;
  wp_err_return(L, WP_KIND_INVALID, why);
  return NULL;
}

/* ---- options ---- */

/* Pushes option `key`: the executor's (table at eidx, 0: none), else the
** entry's meta.options (table at midx, 0: none); nil when neither has it. */
static int push_opt(lua_State *L, int eidx, int midx, const char *key) {
  if (eidx && lua_getfield(L, eidx, key) != LUA_TNIL) return 1;
  if (eidx) lua_pop(L, 1);
  if (midx && lua_getfield(L, midx, key) != LUA_TNIL) return 1;
  if (midx) lua_pop(L, 1);
  lua_pushnil(L);
  return 0;
}

/* A delay at the top of L: milliseconds (a number) or a duration string,
** not negative. 0, or -1 with the message pushed. */
static int read_delay(lua_State *L, const char *what, int64_t *ns) {
  const char *derr = NULL;
  if (lua_type(L, -1) == LUA_TNUMBER) {
    double ms = lua_tonumber(L, -1);
    if (ms >= 0 && ms <= 9.2e12) { /* finite, and in range once in ns */
      *ns = (int64_t)(ms * 1e6);
      return 0;
    }
  } else if (lua_type(L, -1) == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (wp_duration_parse(s, len, ns, &derr) == 0 && *ns >= 0) return 0;
  }
  lua_pushfstring(L, "invalid %s: want milliseconds (a number) or a duration string such as "
                  "\"500ms\", not negative%s%s", what, derr ? "; " : "", derr ? derr : "");
  return -1;
}

/* The array of kinds at the top of L into list (a run of NUL-terminated
** names ended by an empty one). 0, or -1 with the message pushed. */
static int read_kinds(lua_State *L, const char *what, char *list) {
  size_t used = 0;
  if (lua_type(L, -1) != LUA_TTABLE) goto bad;
  lua_Integer n = luaL_len(L, -1);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, i);
    size_t len;
    const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    if (!k || len == 0 || strlen(k) != len) {
      lua_pop(L, 1);
      goto bad;
    }
    if (used + len + 2 > WP_FCALL_KINDS) {
      lua_pop(L, 1);
      lua_pushfstring(L, "invalid %s: the kinds take more than %d bytes", what,
                      WP_FCALL_KINDS - 2);
      return -1;
    }
    memcpy(list + used, k, len + 1);
    used += len + 1;
    lua_pop(L, 1);
  }
  list[used] = '\0';
  return 0;
bad:
  lua_pushfstring(L, "invalid %s: want an array of error kinds (strings)", what);
  return -1;
}

/* The retry table at the top of L into o. 0, or -1 with the message pushed. */
static int read_retry(lua_State *L, struct wp_fcall_opts *o) {
  if (lua_type(L, -1) != LUA_TTABLE) {
    lua_pushliteral(L, "invalid retry option: want a table");
    return -1;
  }
  int t = lua_gettop(L);
  if (lua_getfield(L, t, "max_attempts") != LUA_TNIL) {
    if (!lua_isinteger(L, -1) && !(lua_type(L, -1) == LUA_TNUMBER &&
                                   lua_tonumber(L, -1) == floor(lua_tonumber(L, -1)))) {
      lua_pushliteral(L, "invalid retry.max_attempts: want a whole number");
      return -1;
    }
    lua_Number n = lua_tonumber(L, -1);
    o->max_attempts = n > 1000 ? 1000 : n < 0 ? 0 : (int)n;
  }
  lua_settop(L, t);
  if (lua_getfield(L, t, "initial_delay") != LUA_TNIL &&
      read_delay(L, "retry.initial_delay", &o->initial_delay_ns))
    return -1;
  lua_settop(L, t);
  if (lua_getfield(L, t, "max_delay") != LUA_TNIL &&
      read_delay(L, "retry.max_delay", &o->max_delay_ns))
    return -1;
  lua_settop(L, t);
  if (lua_getfield(L, t, "backoff_factor") != LUA_TNIL) {
    double f = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || !(f >= 1 && f <= 1000)) {
      lua_pushliteral(L, "invalid retry.backoff_factor: want a number from 1 to 1000");
      return -1;
    }
    o->backoff = f;
  }
  lua_settop(L, t);
  if (lua_getfield(L, t, "jitter") != LUA_TNIL) {
    double j = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || !(j >= 0 && j <= 1)) {
      lua_pushliteral(L, "invalid retry.jitter: want a number from 0 to 1");
      return -1;
    }
    o->jitter = j;
  }
  lua_settop(L, t);
  if (lua_getfield(L, t, "retry_kinds") != LUA_TNIL) {
    if (read_kinds(L, "retry.retry_kinds", o->retry_kinds)) return -1;
    o->has_retry_kinds = 1;
  }
  lua_settop(L, t);
  if (lua_getfield(L, t, "skip_kinds") != LUA_TNIL) {
    if (read_kinds(L, "retry.skip_kinds", o->skip_kinds)) return -1;
    o->has_skip_kinds = 1;
  }
  lua_settop(L, t);
  return 0;
}

/* Reads the options of a call of id made with the executor options at eidx
** (0: none) into o. 0, or -1 with nil, err pushed. The stack is as it was
** on success. */
static int read_opts(lua_State *L, const char *id, int eidx, struct wp_fcall_opts *o) {
  wp_fcall_opts_init(o);
  const struct wp_node *mopts = wp_node_get(wp_fcall_meta(wp_vm_self(L)->rt, id), "options");
  if (!eidx && !mopts) return 0; /* the common case: nothing to read */
  int top = lua_gettop(L);
  int midx = 0;
  if (mopts && mopts->type == WP_NODE_MAP) {
    wp_rt_push_node(L, mopts);
    midx = lua_gettop(L);
  }
  int rc = 0;
  if (push_opt(L, eidx, midx, "timeout") && read_delay(L, "timeout option", &o->timeout_ns))
    rc = -1;
  if (rc == 0) {
    lua_settop(L, midx ? midx : top);
    if (push_opt(L, eidx, midx, "retry") && read_retry(L, o)) rc = -1;
  }
  if (rc) {
    wp_err_push(L, WP_KIND_INVALID, lua_tostring(L, -1), 0);
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    lua_pushnil(L);
    lua_insert(L, -2);
    return -1;
  }
  lua_settop(L, top);
  return 0;
}

/* ---- calls ---- */

/* Pushes a fresh table of the process's context values ({} for none). */
static void push_all(lua_State *L) {
  struct wp_vmproc *vp = wp_vm_self(L);
  int top = lua_gettop(L);
  if (vp->ctx && wp_codec_decode(L, vp->ctx->data, vp->ctx->len) == 1 &&
      lua_type(L, -1) == LUA_TTABLE)
    return;
  lua_settop(L, top);
  lua_newtable(L);
}

/* Pushes the context table a call made with the executor context at cidx
** gives its callee: the caller's own context values with those over them.
** Returns its index. */
static int push_ctx(lua_State *L, int cidx) {
  int t = lua_gettop(L) + 1;
  push_all(L);
  lua_pushnil(L);
  while (lua_next(L, cidx)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, t);
  }
  return t;
}

/* call/async of the target at tidx with the arguments after it, made with
** the executor at xidx (0: none). */
static int do_call(lua_State *L, int xidx, int tidx, int async) {
  int top = lua_gettop(L);
  const char *id = check_target(L, tidx);
  if (!id) return 2;
  int eidx = 0, cidx = 0;
  if (xidx) {
    if (lua_getiuservalue(L, xidx, 2) == LUA_TTABLE) eidx = lua_gettop(L);
    if (lua_getiuservalue(L, xidx, 1) == LUA_TTABLE) cidx = lua_gettop(L);
  }
  struct wp_fcall_opts o;
  if (read_opts(L, id, eidx, &o)) return 2;
  int ctx = cidx ? push_ctx(L, cidx) : 0;
  return wp_fcall_start(L, id, tidx + 1, top - tidx, ctx, &o, async);
}

static int f_call(lua_State *L) { return do_call(L, 0, 1, 0); }
static int f_async(lua_State *L) { return do_call(L, 0, 1, 1); }

/* ---- executors ---- */

/* Executors are immutable (§2.5): every builder returns a new one. A
** zero-size userdata; user values: 1 the context table, 2 the options
** table (nil: none), neither ever changed once made. */
static void push_executor(lua_State *L, int ctx_idx, int opts_idx) {
  lua_newuserdatauv(L, 0, 2);
  if (ctx_idx) {
    lua_pushvalue(L, ctx_idx);
    lua_setiuservalue(L, -2, 1);
  }
  if (opts_idx) {
    lua_pushvalue(L, opts_idx);
    lua_setiuservalue(L, -2, 2);
  }
  luaL_setmetatable(L, EXECUTOR_MT);
}

static void check_executor(lua_State *L) { luaL_checkudata(L, 1, EXECUTOR_MT); }

/* A copy of the table at idx, its nested tables copied too, so the
** executor never sees later changes to the caller's table. */
static void copy_table(lua_State *L, int idx, int depth) {
  if (depth > COPY_DEPTH)
    luaL_error(L, "options nested too deeply (more than %d levels)", COPY_DEPTH);
  luaL_checkstack(L, 4, NULL);
  idx = lua_absindex(L, idx);
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pushvalue(L, -2);
    if (lua_type(L, -2) == LUA_TTABLE) {
      copy_table(L, -2, depth + 1);
    } else {
      lua_pushvalue(L, -2);
    }
    lua_rawset(L, -5);
    lua_pop(L, 1);
  }
}

static int ex_with_context(lua_State *L) {
  check_executor(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_newtable(L); /* the old entries, then the string-keyed new ones over them */
  int t = lua_gettop(L);
  if (lua_getiuservalue(L, 1, 1) == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, t);
    }
  }
  lua_pop(L, 1);
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      lua_pop(L, 1);
      continue;
    }
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, t);
  }
  lua_getiuservalue(L, 1, 2);
  push_executor(L, t, lua_isnil(L, -1) ? 0 : lua_gettop(L));
  return 1;
}

static int ex_with_options(lua_State *L) {
  check_executor(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  copy_table(L, 2, 1);
  int o = lua_gettop(L);
  lua_getiuservalue(L, 1, 1);
  push_executor(L, lua_isnil(L, -1) ? 0 : lua_gettop(L), o);
  return 1;
}

/* Security principals need policies, which this runtime does not have
** (spec 10 §2.5 allows refusing them). */
static int ex_with_actor(lua_State *L) {
  check_executor(L);
  return luaL_error(L, "with_actor is not supported: this runtime has no security policies");
}

static int ex_with_scope(lua_State *L) {
  check_executor(L);
  return luaL_error(L, "with_scope is not supported: this runtime has no security policies");
}

static int ex_call(lua_State *L) {
  check_executor(L);
  return do_call(L, 1, 2, 0);
}

static int ex_async(lua_State *L) {
  check_executor(L);
  return do_call(L, 1, 2, 1);
}

static int ex_tostring(lua_State *L) {
  check_executor(L);
  lua_pushliteral(L, "funcs.Executor{}");
  return 1;
}

static int f_new(lua_State *L) {
  if (luaL_newmetatable(L, EXECUTOR_MT)) {
    static const luaL_Reg meth[] = {{"with_context", ex_with_context},
                                    {"with_options", ex_with_options},
                                    {"with_actor", ex_with_actor},
                                    {"with_scope", ex_with_scope},
                                    {"call", ex_call},
                                    {"async", ex_async},
                                    {NULL, NULL}};
    luaL_newlib(L, meth);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ex_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  push_executor(L, 0, 0);
  return 1;
}

static const struct wp_libentry funcs_entries[] = {
    WP_LF("call", f_call), WP_LF("async", f_async), WP_LF("new", f_new), WP_LEND};
const struct wp_libdef wp_lib_funcs = {"funcs", funcs_entries, NULL};

/* ---- ctx: the context values of a call (§2.2) ---- */

static int ctx_get(lua_State *L) {
  size_t len;
  const char *key = luaL_checklstring(L, 1, &len);
  if (len == 0) return wp_err_return(L, WP_KIND_INVALID, "context key is required");
  push_all(L);
  lua_pushvalue(L, 1);
  if (lua_rawget(L, -2) != LUA_TNIL) return 1;
  lua_pushfstring(L, "context value not found: %s", key);
  return wp_err_return(L, WP_KIND_NOT_FOUND, lua_tostring(L, -1));
}

static int ctx_all(lua_State *L) {
  push_all(L);
  return 1;
}

static const struct wp_libentry ctx_entries[] = {WP_LF("get", ctx_get), WP_LF("all", ctx_all),
                                                 WP_LEND};
const struct wp_libdef wp_lib_ctx = {"ctx", ctx_entries, NULL};
