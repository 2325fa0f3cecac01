/*
** state.c: building a process's lua_State.
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
** Each state has its own allocator: it counts the bytes the process uses and
** refuses growth past the process's limit (never a shrink).
*/
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "errobj.h"
#include "lazylib.h"
#include "vm.h"

static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  struct wp_vmproc *vp = ud;
  if (ptr == NULL) osize = 0; /* osize is a type tag then */
  if (nsize == 0) {
    if (ptr) wp_free_sized(ptr, osize);
    vp->mem_used -= (int64_t)osize;
    return NULL;
  }
  if (vp->mem_limit && nsize > osize &&
      vp->mem_used + (int64_t)(nsize - osize) > vp->mem_limit)
    return NULL;
  void *np = ptr ? wp_realloc(ptr, nsize) : wp_malloc(nsize);
  if (!np) return NULL;
  vp->mem_used += (int64_t)nsize - (int64_t)osize;
  return np;
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

static int module_listed(struct wp_vmproc *vp, const char *name) {
  struct wp_code *c = vp->code;
  for (int i = 0; c && i < c->nmodules; i++)
    if (strcmp(c->modules[i], name) == 0) return 1;
  return 0;
}

static int l_print(lua_State *L);
static int l_require(lua_State *L);

/* __index of the global table: materialise base functions, libraries and
** modules on first use. */
/* The global names the runtime provides, sorted for bsearch: a global
** read that misses costs a few comparisons, not a walk over every name. */
enum { G_BASE, G_PRINT, G_REQUIRE, G_G, G_VERSION, G_STRING, G_TABLE, G_OS, G_CO, G_MATH,
       G_PACKAGE, G_UNPACK, G_MODULE };

struct gname {
  const char *name;
  int kind;
};

static const struct gname gnames[] = {
    {"_G", G_G},           {"_VERSION", G_VERSION}, {"assert", G_BASE},
    {"channel", G_MODULE}, {"coroutine", G_CO},     {"error", G_BASE},
    {"errors", G_MODULE},  {"getmetatable", G_BASE}, {"ipairs", G_BASE},
    {"math", G_MATH},      {"next", G_BASE},         {"os", G_OS},
    {"package", G_PACKAGE}, {"pairs", G_BASE},       {"payload", G_MODULE},
    {"pcall", G_BASE},     {"print", G_PRINT},       {"process", G_MODULE},
    {"rawequal", G_BASE},  {"rawget", G_BASE},       {"rawset", G_BASE},
    {"require", G_REQUIRE}, {"select", G_BASE},      {"setmetatable", G_BASE},
    {"string", G_STRING},  {"subscribe", G_MODULE},  {"table", G_TABLE},
    {"tonumber", G_BASE},  {"tostring", G_BASE},     {"type", G_BASE},
    {"unpack", G_UNPACK},  {"unsubscribe", G_MODULE}, {"warn", G_BASE},
    {"xpcall", G_BASE}};

static int gname_cmp(const void *key, const void *elem) {
  return strcmp(key, ((const struct gname *)elem)->name);
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

static int lazy_global(lua_State *L) {
  if (lua_type(L, 2) != LUA_TSTRING) return 0;
  const char *k = lua_tostring(L, 2);
  struct wp_vmproc *vp = wp_vm_self(L);
  int top = lua_gettop(L);
  const struct gname *g =
      bsearch(k, gnames, sizeof gnames / sizeof gnames[0], sizeof gnames[0], gname_cmp);
  lua_CFunction f;
  switch (g ? g->kind : -1) {
    case G_BASE:
      if ((f = wp_stdlib_base(k))) lua_pushcfunction(L, f);
      break;
    case G_PRINT: lua_pushcfunction(L, l_print); break;
    case G_REQUIRE: lua_pushcfunction(L, l_require); break;
    case G_G: lua_pushglobaltable(L); break;
    case G_VERSION: lua_pushliteral(L, LUA_VERSION); break;
    case G_STRING: wp_stdlib_push_string(L); break;
    case G_TABLE: wp_lazylib_push(L, &wp_lib_table); break;
    case G_OS: wp_lazylib_push(L, &wp_lib_os); break;
    case G_CO: wp_lazylib_push(L, &wp_lib_coroutine); break;
    case G_MATH:
      lua_pushcfunction(L, luaopen_math);
      lua_call(L, 0, 1);
      break;
    case G_PACKAGE: push_package(L); break;
    case G_UNPACK:
      lua_getglobal(L, "table");
      lua_getfield(L, -1, "unpack");
      lua_remove(L, -2);
      break;
    case G_MODULE: vp->rt->open_module(L, k); break;
    default: /* imports, then the modules the entry lists */
      if (!open_import(L, vp, k) && module_listed(vp, k)) vp->rt->open_module(L, k);
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
  char fields[256];
  snprintf(fields, sizeof fields, "{\"pid\": \"%s\", \"location\": \"%s:%d\"}",
           vp->p->pid, vp->code ? vp->code->entry->id : "?", line);
  wp_log(WP_LOG_INFO, NULL, lua_tostring(L, -1), fields);
  return 0;
}

static int setup(lua_State *L) {
  lua_pushglobaltable(L);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, lazy_global);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
  wp_stdlib_string_mt(L);
  /* Most processes live for microseconds and free everything at once when
  ** they end: collecting garbage during that life is wasted work. The
  ** collector stays off until the process has allocated WP_GC_START bytes
  ** (vmproc.c turns it on). */
  lua_gc(L, LUA_GCSTOP);
  return 0;
}

static int panic(lua_State *L) {
  const char *m = lua_tostring(L, -1);
  wp_logf(WP_LOG_ERROR, "unprotected Lua error: %s", m ? m : "?");
  abort();
}

lua_State *wp_state_new(struct wp_vmproc *vp) {
  lua_State *L = lua_newstate(l_alloc, vp);
  if (!L) return NULL;
  lua_atpanic(L, panic);
  *(struct wp_vmproc **)lua_getextraspace(L) = vp;
  lua_pushcfunction(L, setup);
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
    lua_close(L);
    return NULL;
  }
  return L;
}

void wp_state_close(struct wp_vmproc *vp) {
  if (vp->L) {
    lua_close(vp->L);
    vp->L = NULL;
  }
}
