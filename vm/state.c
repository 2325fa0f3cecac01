/*
** state.c: a process's Lua environment.
**
** Design note. A process state starts empty: a global table whose __index
** materialises, on first use, base functions (minus load, loadfile, dofile,
** collectgarbage and rawlen, plus our print and require), standard libraries
** (string, table, math, coroutine, os), the always-available Wippy modules
** (process, channel, payload, errors), the modules the entry lists and its
** imported libraries. The value is stored with rawset, so the second access
** is an ordinary global read, and libraries are lazy tables themselves
** (lazylib.c): a worker that calls process.send pays for one table and one
** function, not for the whole library. String values get their metatable
** (arithmetic coercion, __index = the string library) at creation. This keeps
** an echo worker's state small and cheap to build.
**
** A fresh state's set-up (wp_state_setup) and the metatables by key are
** here too, and the end of a state (wp_state_close). Its memory is lmem.c's
** (the per-process allocator, its arena and its limits); a state is built,
** by calls or by copying its code's image, in image.c.
*/
#include <lualib.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "errobj.h"
#include "lazylib.h"
#include "state_int.h"

/* ---- metatables by key (vm.h) ---- */

/* Each kind's metatable sits in a registry slot of its own, an integer key
** (the array part: a read is an index, where a light-userdata key would be
** a hash lookup, paid for every Message, Payload, Time or case made).
** wp_state_setup reserves the slots with luaL_ref, first thing in a fresh
** state, so every state has them at the same keys (mt_base): those of an
** image are its template's. */
static _Atomic int mt_base; /* the first slot's key; 0 before the first state */

static int mt_reserve(lua_State *L) {
  int first = 0;
  for (int k = 0; k < WP_MT_N; k++) {
    lua_pushboolean(L, 0);
    int r = luaL_ref(L, LUA_REGISTRYINDEX);
    if (k == 0) first = r;
    if (r != first + k) first = -1;
  }
  int expect = 0;
  if (first > 0 && (atomic_compare_exchange_strong(&mt_base, &expect, first) || expect == first))
    return 0;
  return luaL_error(L, "internal error: metatable slots at %d, not %d", first, expect);
}

int wp_state_mt_new(lua_State *L, enum wp_mt k, const char *tname) {
  int slot = atomic_load_explicit(&mt_base, memory_order_relaxed) + (int)k;
  struct wp_vmproc *vp = wp_vm_self(L);
  if (vp->mt[k]) { /* cached: the slot holds it, and always will */
    lua_rawgeti(L, LUA_REGISTRYINDEX, slot);
    return 0;
  }
  if (lua_rawgeti(L, LUA_REGISTRYINDEX, slot) == LUA_TTABLE) {
    /* made before: maybe in an image's template, whose cache was not ours */
    vp->mt[k] = lua_topointer(L, -1);
    return 0;
  }
  lua_pop(L, 1);
  int made = luaL_newmetatable(L, tname);
  lua_pushvalue(L, -1);
  lua_rawseti(L, LUA_REGISTRYINDEX, slot);
  vp->mt[k] = lua_topointer(L, -1); /* anchored: it never moves */
  return made;
}

static const char *const key_names[WP_K_N] = {
    [WP_K_CHANNEL] = "channel", [WP_K_VALUE] = "value",   [WP_K_OK] = "ok",
    [WP_K_DEFAULT] = "default", [WP_K_KIND] = "kind",     [WP_K_FROM] = "from",
    [WP_K_AT] = "at",           [WP_K_RESULT] = "result", [WP_K_REASON] = "reason",
    [WP_K_ERROR] = "error",     [WP_K_PID_EXIT] = "pid.exit"};

/* wp_state_key's slow path (vm.h). A key is made on its process's first
** use of it and held by a registry ref kept in the process (vp->keyref):
** the state's set-up and its image carry no string that a process may
** never use (an echo worker uses none). */
void wp_state_key_make(lua_State *L, enum wp_key k) {
  struct wp_vmproc *vp = wp_vm_self(L);
  unsigned r = vp->keyref[k];
  lua_pushstring(L, key_names[k]);
  if (r == UINT16_MAX) return;
  lua_pushvalue(L, -1);
  int ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (ref > 0 && ref < UINT16_MAX) {
    vp->keyref[k] = (uint16_t)ref;
  } else {
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    vp->keyref[k] = UINT16_MAX;
  }
}

void *wp_state_mt_fail(lua_State *L, int idx, const char *tname) {
  luaL_typeerror(L, idx, tname);
  return NULL;
}

/* ---- globals ---- */

struct reader {
  const struct wp_buf *b;
  int done;
};

static const char *read_buf(lua_State *L, void *ud, size_t *size) {
  (void)L;
  struct reader *r = ud;
  *size = r->done ? 0 : r->b->len;
  r->done = 1;
  return *size ? (const char *)r->b->data : NULL;
}

/* Loads code's cached bytecode and pushes the chunk function. */
void wp_code_load(lua_State *L, struct wp_code *c) {
  struct reader r = {&c->bytecode, 0};
  if (lua_load(L, read_buf, &r, c->chunkname, "b") != LUA_OK) lua_error(L);
}

/* An imported library: its chunk runs once per process, on first use. */
static int open_import(lua_State *L, struct wp_vmproc *vp, const char *k) {
  struct wp_code *c = vp->code;
  for (int i = 0; c && i < c->nimports; i++) {
    if (strcmp(c->imports[i].alias, k) != 0) continue;
    wp_code_load(L, c->imports[i].lib);
    lua_call(L, 0, 1);
    return 1;
  }
  return 0;
}

static int module_listed(const struct wp_code *c, const char *name) {
  for (int i = 0; c && i < c->nmodules; i++)
    if (strcmp(c->modules[i], name) == 0) return 1;
  return 0;
}

static int l_print(lua_State *L);
static int l_require(lua_State *L);

/* The global names the runtime provides, sorted for bsearch: a global
** read that misses costs a few comparisons, not a walk over every name. */
static const struct wp_gname gnames[] = {
    {"_G", WP_G_G},            {"_VERSION", WP_G_VERSION},  {"assert", WP_G_BASE},
    {"channel", WP_G_MODULE},  {"coroutine", WP_G_CO},      {"error", WP_G_BASE},
    {"errors", WP_G_MODULE},   {"getmetatable", WP_G_BASE}, {"ipairs", WP_G_BASE},
    {"math", WP_G_MATH},       {"next", WP_G_BASE},         {"os", WP_G_OS},
    {"package", WP_G_PACKAGE}, {"pairs", WP_G_BASE},        {"payload", WP_G_MODULE},
    {"pcall", WP_G_PCALL},     {"print", WP_G_PRINT},       {"process", WP_G_MODULE},
    {"rawequal", WP_G_BASE},   {"rawget", WP_G_BASE},       {"rawset", WP_G_BASE},
    {"require", WP_G_REQUIRE}, {"select", WP_G_BASE},       {"setmetatable", WP_G_SETMT},
    {"string", WP_G_STRING},   {"subscribe", WP_G_MODULE},  {"table", WP_G_TABLE},
    {"tonumber", WP_G_BASE},   {"tostring", WP_G_BASE},     {"type", WP_G_BASE},
    {"unpack", WP_G_UNPACK},   {"unsubscribe", WP_G_MODULE}, {"warn", WP_G_BASE},
    {"xpcall", WP_G_XPCALL}};

static int gname_cmp(const void *key, const void *elem) {
  return strcmp(key, ((const struct wp_gname *)elem)->name);
}

const struct wp_gname *wp_state_gname(const char *name) {
  return bsearch(name, gnames, sizeof gnames / sizeof gnames[0], sizeof gnames[0], gname_cmp);
}

static void push_package(lua_State *L) { /* a minimal package table (spec 05 §1) */
  lua_createtable(L, 0, 3);
  lua_pushliteral(L, "");
  lua_setfield(L, -2, "path");
  lua_pushliteral(L, "");
  lua_setfield(L, -2, "cpath");
  lua_newtable(L);
  lua_setfield(L, -2, "loaded");
}

/* setmetatable: Lua's, noting a finaliser (__gc) so that the process's
** state is closed with lua_close, which runs it (see wp_state_close). */
static int l_setmetatable(lua_State *L) {
  lua_CFunction orig = lua_tocfunction(L, lua_upvalueindex(1));
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL) wp_vm_self(L)->needs_close = 1;
    lua_pop(L, 1);
  }
  return orig(L);
}

/* __index of the global table: materialise base functions, libraries and
** modules on first use. */
static int lazy_global(lua_State *L) {
  if (lua_type(L, 2) != LUA_TSTRING) return 0;
  const char *k = lua_tostring(L, 2);
  struct wp_vmproc *vp = wp_vm_self(L);
  int top = lua_gettop(L);
  const struct wp_gname *g = wp_state_gname(k);
  lua_CFunction f;
  switch (g ? g->kind : -1) {
    case WP_G_BASE:
      if ((f = wp_stdlib_base(k))) lua_pushcfunction(L, f);
      break;
    case WP_G_PRINT: lua_pushcfunction(L, l_print); break;
    case WP_G_PCALL: lua_pushcfunction(L, wp_vm_pcall); break;
    case WP_G_XPCALL: lua_pushcfunction(L, wp_vm_xpcall); break;
    case WP_G_SETMT:
      lua_pushcfunction(L, wp_stdlib_base("setmetatable"));
      lua_pushcclosure(L, l_setmetatable, 1);
      break;
    case WP_G_REQUIRE: lua_pushcfunction(L, l_require); break;
    case WP_G_G: lua_pushglobaltable(L); break;
    case WP_G_VERSION: lua_pushliteral(L, LUA_VERSION); break;
    case WP_G_STRING: wp_stdlib_push_string(L); break;
    case WP_G_TABLE: wp_lazylib_push(L, &wp_lib_table); break;
    case WP_G_OS: wp_lazylib_push(L, &wp_lib_os); break;
    case WP_G_CO: wp_lazylib_push(L, &wp_lib_coroutine); break;
    case WP_G_MATH:
      lua_pushcfunction(L, luaopen_math);
      lua_call(L, 0, 1);
      break;
    case WP_G_PACKAGE: push_package(L); break;
    case WP_G_UNPACK:
      lua_getglobal(L, "table");
      lua_getfield(L, -1, "unpack");
      lua_remove(L, -2);
      break;
    case WP_G_MODULE: vp->rt->open_module(L, k); break;
    default: /* imports, then the modules the entry lists */
      if (!open_import(L, vp, k) && module_listed(vp->code, k)) vp->rt->open_module(L, k);
  }
  if (lua_gettop(L) == top) return 0;
  lua_pushvalue(L, 2);
  lua_pushvalue(L, -2);
  lua_rawset(L, 1);
  return 1;
}

static int l_require(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  lua_getglobal(L, name);
  if (lua_isnil(L, -1)) return luaL_error(L, "module '%s' not found", name);
  return 1;
}

void wp_vm_concat_args(lua_State *L, const char *sep, const char *end) {
  int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    if (i > 1 && sep) luaL_addstring(&b, sep);
    if (wp_err_is(L, i)) {
      size_t len;
      const char *m = wp_err_message(L, i, &len);
      luaL_addlstring(&b, m, len);
    } else {
      luaL_tolstring(L, i, NULL);
      luaL_addvalue(&b);
    }
  }
  if (end) luaL_addstring(&b, end);
  luaL_pushresult(&b);
}

int wp_vm_lua_line(lua_State *L) {
  lua_Debug ar;
  for (int lv = 1; lua_getstack(L, lv, &ar); lv++)
    if (lua_getinfo(L, "l", &ar) && ar.currentline > 0) return ar.currentline;
  return 0;
}

/* print: one info log record, arguments joined by spaces (spec 05 §3). */
static int l_print(lua_State *L) {
  if (!wp_log_enabled(WP_LOG_INFO)) return 0;
  wp_vm_concat_args(L, " ", NULL);
  struct wp_vmproc *vp = wp_vm_self(L);
  int line = wp_vm_lua_line(L);
  const char *fields = lua_pushfstring(L, "{\"pid\": \"%s\", \"location\": \"%s:%d\"}",
                                       vp->p->pid, vp->code ? vp->code->id : "?", line);
  wp_log(WP_LOG_INFO, NULL, lua_tostring(L, -2), fields);
  return 0;
}

int wp_state_setup(lua_State *L) {
  /* Most processes are short-lived and free everything at once when they
  ** end: collecting garbage during that life is wasted work. The
  ** collector stays off until the process has allocated WP_GC_START bytes
  ** (vmproc.c turns it on). It is stopped before anything here allocates:
  ** a fresh state's first allocation check would otherwise run a
  ** collection step over it. */
  lua_gc(L, LUA_GCSTOP);
  mt_reserve(L);
  lua_pushglobaltable(L);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, lazy_global);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
  wp_stdlib_string_mt(L);
  return 0;
}

/* Where an unprotected call of this thread goes on an error (see
** wp_state_thread), or NULL: nothing should raise there. */
static _Thread_local jmp_buf *tl_unprotected;

int wp_state_panic(lua_State *L) {
  if (tl_unprotected) longjmp(*tl_unprotected, 1);
  const char *m = lua_tostring(L, -1);
  wp_logf(WP_LOG_ERROR, "unprotected Lua error: %s", m ? m : "?");
  abort();
}

/* While the main task is suspended, no thread of the state is running: an
** allocation error here has no handler, unwinds the main thread (the task
** is lost) and calls the panic function, which jumps back. The process then
** ends (the caller's NULL); the state stays consistent enough to close. */
lua_State *wp_state_thread(struct wp_vmproc *vp) {
  lua_State *L = vp->L;
  lua_State *volatile th = NULL;
  int64_t cap = vp->mem_cap;
  jmp_buf jb;
  vp->mem_cap = INT64_MAX; /* the runtime's thread: not the process's memory */
  tl_unprotected = &jb;
  if (setjmp(jb) == 0) {
    if (lua_checkstack(L, 1)) {
      lua_State *n = lua_newthread(L);
      luaL_ref(L, LUA_REGISTRYINDEX);
      th = n;
    }
  }
  tl_unprotected = NULL;
  vp->mem_cap = cap;
  return th;
}

/* Without a finaliser to run and with every jemalloc block in the arena's
** table, the state's blocks are freed directly, not by lua_close (lmem.c's
** design note). */
void wp_state_close(struct wp_vmproc *vp) {
  if (vp->L) {
    if (vp->needs_close || vp->ext_n < 0 || AR_TAIL(vp)->lost) {
      lua_close(vp->L);
    } else { /* nothing to finalise, every block known (lmem.c's arena) */
      struct ar_ext *t = AR_TAIL(vp)->ext;
      for (int i = 0; i < vp->ext_n; i++) wp_free_sized(t[i].p, t[i].n);
    }
    vp->L = NULL;
    vp->ext_n = 0;
    wp_lmem_free_all(vp);
  }
}
