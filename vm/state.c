/*
** state.c: building a process's lua_State.
**
** Design note. A process state starts with only the base library (minus
** load, loadfile, dofile, collectgarbage and rawlen) plus our print and
** require. Everything else is materialised on first use by the __index
** metamethod of the global table: standard libraries (string, table, math,
** coroutine, os), the always-available Wippy modules (process, channel,
** payload, errors) and the modules the entry lists. The value is stored with
** rawset, so the second access is an ordinary global read. Strings get a stub
** metatable whose __index opens the string library on first use, so
** ("x"):upper() works before anyone touched `string`. This keeps an echo
** worker's state small and cheap to build.
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
#include "utf8case.h"
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

/* ---- string library with Wippy's additions ---- */

static int str_case(lua_State *L, int upper) {
  if (wp_err_is(L, 1)) {
    lua_pushstring(L, wp_err_message(L, 1, NULL));
    lua_replace(L, 1);
  }
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  size_t i = 0;
  while (i < len && (unsigned char)s[i] < 0x80) i++;
  if (i == len) { /* ASCII: let Lua's own functions do it */
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    return 1;
  }
  struct wp_buf b = WP_BUF_INIT;
  if (wp_utf8_case(s, len, upper, &b)) {
    wp_buf_free(&b);
    return luaL_error(L, "not enough memory");
  }
  lua_pushlstring(L, (const char *)b.data, b.len);
  wp_buf_free(&b);
  return 1;
}
static int str_upper(lua_State *L) { return str_case(L, 1); }
static int str_lower(lua_State *L) { return str_case(L, 0); }

/* Error objects are accepted wherever a string is expected (spec 05 §6.1). */
static int str_wrap(lua_State *L) {
  int n = lua_gettop(L);
  for (int i = 1; i <= n; i++) {
    if (lua_type(L, i) == LUA_TUSERDATA && wp_err_is(L, i)) {
      size_t len;
      const char *m = wp_err_message(L, i, &len);
      lua_pushlstring(L, m, len);
      lua_replace(L, i);
    }
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}

/* string(x): a cast; returns strings unchanged, tostring() otherwise. */
static int str_call(lua_State *L) {
  luaL_tolstring(L, 2, NULL);
  return 1;
}

static void open_string(lua_State *L) {
  luaL_requiref(L, "string", luaopen_string, 0); /* also sets the string metatable */
  int t = lua_gettop(L);
  /* wrap every function (error objects as strings) */
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_iscfunction(L, -1)) {
      const char *k = lua_tostring(L, -2);
      if (strcmp(k, "upper") == 0 || strcmp(k, "lower") == 0) {
        lua_pushcclosure(L, k[0] == 'u' ? str_upper : str_lower, 1);
      } else {
        lua_pushcclosure(L, str_wrap, 1);
      }
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, t);
    } else {
      lua_pop(L, 1);
    }
  }
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, str_call);
  lua_setfield(L, -2, "__call");
  lua_setmetatable(L, t);
}

/* The string metatable stub: opens the string library on first use. */
static int str_stub_index(lua_State *L) {
  lua_getglobal(L, "string"); /* materialises it; replaces this metatable */
  lua_pushvalue(L, 2);
  lua_gettable(L, -2);
  return 1;
}

/* ---- coroutine and os ---- */

static int co_spawn(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  wp_task_spawn(L);
  return 1;
}

static void open_coroutine(lua_State *L) {
  luaL_requiref(L, "coroutine", luaopen_coroutine, 0);
  lua_pushcfunction(L, co_spawn);
  lua_setfield(L, -2, "spawn");
}

static void open_os(lua_State *L) {
  luaL_requiref(L, "os", luaopen_os, 0);
  lua_createtable(L, 0, 5);
  static const char *const keep[] = {"time", "clock", "date", "difftime", NULL};
  for (int i = 0; keep[i]; i++) {
    lua_getfield(L, -2, keep[i]);
    lua_setfield(L, -2, keep[i]);
  }
  lua_pushliteral(L, "wippy");
  lua_setfield(L, -2, "platform");
  lua_remove(L, -2);
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

/* __index of the global table: materialise libraries and modules. */
static int lazy_global(lua_State *L) {
  if (lua_type(L, 2) != LUA_TSTRING) return 0;
  const char *k = lua_tostring(L, 2);
  struct wp_vmproc *vp = wp_vm_self(L);
  int top = lua_gettop(L);
  if (strcmp(k, "string") == 0) {
    open_string(L);
  } else if (strcmp(k, "table") == 0) {
    luaL_requiref(L, "table", luaopen_table, 0);
  } else if (strcmp(k, "math") == 0) {
    luaL_requiref(L, "math", luaopen_math, 0);
  } else if (strcmp(k, "coroutine") == 0) {
    open_coroutine(L);
  } else if (strcmp(k, "os") == 0) {
    open_os(L);
  } else if (strcmp(k, "unpack") == 0) {
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "unpack");
  } else if (open_import(L, vp, k)) {
    /* pushed */
  } else {
    int always = strcmp(k, "process") == 0 || strcmp(k, "channel") == 0 ||
                 strcmp(k, "payload") == 0 || strcmp(k, "errors") == 0;
    if (!always && !module_listed(vp, k)) return 0;
    vp->rt->open_module(L, k);
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

/* print: one info log record, arguments joined by spaces (spec 05 §3). */
static int l_print(lua_State *L) {
  if (!wp_log_enabled(WP_LOG_INFO)) return 0;
  int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    if (i > 1) luaL_addchar(&b, ' ');
    if (wp_err_is(L, i)) {
      size_t len;
      const char *m = wp_err_message(L, i, &len);
      luaL_addlstring(&b, m, len);
    } else {
      luaL_tolstring(L, i, NULL);
      luaL_addvalue(&b);
    }
  }
  luaL_pushresult(&b);
  struct wp_vmproc *vp = wp_vm_self(L);
  lua_Debug ar;
  int line = 0;
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar)) line = ar.currentline;
  char fields[256];
  snprintf(fields, sizeof fields, "{\"pid\": \"%s\", \"location\": \"%s:%d\"}",
           vp->p->pid, vp->code ? vp->code->entry->id : "?", line);
  wp_log(WP_LOG_INFO, NULL, lua_tostring(L, -1), fields);
  return 0;
}

static int setup(lua_State *L) {
  luaL_requiref(L, "_G", luaopen_base, 0);
  static const char *const hidden[] = {"dofile", "loadfile", "load", "collectgarbage",
                                       "rawlen", NULL};
  for (int i = 0; hidden[i]; i++) {
    lua_pushnil(L);
    lua_setfield(L, -2, hidden[i]);
  }
  lua_pushcfunction(L, l_print);
  lua_setfield(L, -2, "print");
  lua_pushcfunction(L, l_require);
  lua_setfield(L, -2, "require");
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, lazy_global);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
  /* string values: a stub metatable until the string library is opened */
  lua_pushliteral(L, "");
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, str_stub_index);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
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
