/*
** lazylib.c: lazy library tables and the captured standard library
** (see lazylib.h).
*/
#include "lazylib.h"

#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "errobj.h"
#include "utf8case.h"
#include "vm.h"

static const char MARK_KEY = 'd'; /* address is the key of the def pointer */
static const char MT_KEY = 'm';   /* address is the registry key of the metatable */

int wp_lazylib_entry(lua_State *L, const struct wp_libdef *def, const char *name) {
  for (const struct wp_libentry *e = def->entries; e->name; e++) {
    if (strcmp(e->name, name) != 0) continue;
    switch (e->kind) {
      case WP_LE_FUNC: lua_pushcfunction(L, e->fn); break;
      case WP_LE_INT: lua_pushinteger(L, e->ival); break;
      case WP_LE_STR: lua_pushstring(L, e->sval); break;
      case WP_LE_NUM: lua_pushnumber(L, e->nval); break;
      default: wp_lazylib_push(L, e->sub); break;
    }
    return 1;
  }
  return 0;
}

static const char FILLED_KEY = 'f';

static int lazy_index(lua_State *L) {
  if (lua_type(L, 2) != LUA_TSTRING) return 0;
  if (lua_rawgetp(L, 1, &MARK_KEY) != LUA_TLIGHTUSERDATA) return 0;
  const struct wp_libdef *def = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!wp_lazylib_entry(L, def, lua_tostring(L, 2))) {
    if (!def->fill || lua_rawgetp(L, 1, &FILLED_KEY) != LUA_TNIL) return 0;
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
    lua_rawsetp(L, 1, &FILLED_KEY);
    def->fill(L, 1);
    lua_pushvalue(L, 2);
    lua_rawget(L, 1);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_pushvalue(L, -2);
  lua_rawset(L, 1);
  return 1;
}

void wp_lazylib_push(lua_State *L, const struct wp_libdef *def) {
  lua_createtable(L, 0, 4);
  lua_pushlightuserdata(L, (void *)def);
  lua_rawsetp(L, -2, &MARK_KEY);
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &MT_KEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, lazy_index);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &MT_KEY);
  }
  lua_setmetatable(L, -2);
}

/* ---- captured standard functions ---- */

struct captured {
  const char *name;
  size_t len;
  lua_CFunction fn;
  int skip; /* string metatable: not copied into a process's */
};

#define MAXCAP 40
static struct captured cap_base[MAXCAP], cap_string[MAXCAP], cap_table[MAXCAP],
    cap_os[MAXCAP], cap_co[MAXCAP], cap_strmt[MAXCAP];

static lua_CFunction find_cap(const struct captured *v, const char *name) {
  for (int i = 0; v[i].name; i++)
    if (strcmp(v[i].name, name) == 0) return v[i].fn;
  return NULL;
}

static lua_CFunction cap_upper, cap_lower; /* set at capture, before any process */

/* The captured functions that the wrappers further down call, found once at
** capture (before any process runs: no worker ever writes them). */
#define STRING_WRAPPED(X)                                                          \
  X(string, byte) X(string, char) X(string, dump) X(string, find) X(string, format) \
  X(string, gmatch) X(string, gsub) X(string, len) X(string, match) X(string, rep)  \
  X(string, reverse) X(string, sub) X(string, pack) X(string, packsize)             \
  X(string, unpack)
#define PLAIN_CAPTURED(X)                                                              \
  X(table, concat) X(table, insert) X(table, move) X(table, pack) X(table, remove)      \
  X(table, sort) X(table, unpack) X(os, time) X(os, clock) X(os, date) X(os, difftime) \
  X(co, create) X(co, yield) X(co, status) X(co, isyieldable) X(co, close)
#define DECL_ORIG(lib, f) static lua_CFunction orig_##lib##_##f;
STRING_WRAPPED(DECL_ORIG)
PLAIN_CAPTURED(DECL_ORIG)
#undef DECL_ORIG

static void find_origs(void) {
#define SET_ORIG(lib, f) orig_##lib##_##f = find_cap(cap_##lib, #f);
  STRING_WRAPPED(SET_ORIG)
  PLAIN_CAPTURED(SET_ORIG)
#undef SET_ORIG
}

/* Copies every light C function of the table at the top of S into v. */
static int grab(lua_State *S, struct captured *v) {
  int n = 0;
  lua_pushnil(S);
  while (lua_next(S, -2)) {
    if (lua_type(S, -2) == LUA_TSTRING && lua_iscfunction(S, -1) && n < MAXCAP - 1) {
      lua_CFunction f = lua_tocfunction(S, -1);
      if (f && lua_getupvalue(S, -1, 1) == NULL) { /* no upvalues: safe to share */
        v[n].name = strdup(lua_tostring(S, -2));
        v[n].len = v[n].name ? strlen(v[n].name) : 0;
        v[n].fn = f;
        n++;
      } else if (f) {
        lua_pop(S, 1);
      }
    }
    lua_pop(S, 1);
  }
  v[n].name = NULL;
  return n;
}

int wp_stdlib_capture(void) {
  static int done;
  if (done) return 0;
  lua_State *S = luaL_newstate();
  if (!S) return -1;
  luaL_requiref(S, "_G", luaopen_base, 0);
  grab(S, cap_base);
  luaL_requiref(S, "string", luaopen_string, 0);
  grab(S, cap_string);
  cap_upper = find_cap(cap_string, "upper");
  cap_lower = find_cap(cap_string, "lower");
  lua_pushliteral(S, "");
  lua_getmetatable(S, -1);
  grab(S, cap_strmt);
  for (int i = 0; cap_strmt[i].name; i++) /* ours: a lazy __index, no __unm */
    cap_strmt[i].skip =
        strcmp(cap_strmt[i].name, "__index") == 0 || strcmp(cap_strmt[i].name, "__unm") == 0;
  lua_pop(S, 2);
  luaL_requiref(S, "table", luaopen_table, 0);
  grab(S, cap_table);
  luaL_requiref(S, "os", luaopen_os, 0);
  grab(S, cap_os);
  luaL_requiref(S, "coroutine", luaopen_coroutine, 0);
  grab(S, cap_co);
  lua_close(S);
  find_origs();
  done = 1;
  return 0;
}

lua_CFunction wp_stdlib_base(const char *name) {
  static const char *const hidden[] = {"dofile", "loadfile", "load", "collectgarbage",
                                       "rawlen", "print", "require", NULL};
  for (int i = 0; hidden[i]; i++)
    if (strcmp(hidden[i], name) == 0) return NULL;
  return find_cap(cap_base, name);
}

/* ---- string: error objects as strings, UTF-8 case ---- */

/* Replaces error-object arguments by their message (spec 05 §6.1). */
static void errs_to_strings(lua_State *L) {
  int n = lua_gettop(L);
  for (int i = 1; i <= n; i++) {
    if (lua_type(L, i) == LUA_TUSERDATA && wp_err_is(L, i)) {
      size_t len;
      const char *m = wp_err_message(L, i, &len);
      lua_pushlstring(L, m, len);
      lua_replace(L, i);
    }
  }
}

#define STRWRAP(fname)                 \
  static int s_##fname(lua_State *L) { \
    errs_to_strings(L);                \
    return orig_string_##fname(L);     \
  }
STRWRAP(byte)
STRWRAP(char)
STRWRAP(dump)
STRWRAP(find)
STRWRAP(format)
STRWRAP(gmatch)
STRWRAP(gsub)
STRWRAP(len)
STRWRAP(match)
STRWRAP(rep)
STRWRAP(reverse)
STRWRAP(sub)
STRWRAP(pack)
STRWRAP(packsize)
STRWRAP(unpack)

static int str_case(lua_State *L, int upper) {
  errs_to_strings(L);
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  size_t i = 0;
  while (i < len && (unsigned char)s[i] < 0x80) i++;
  if (i == len) return (upper ? cap_upper : cap_lower)(L); /* ASCII: Lua's own */
  struct wp_buf b = WP_BUF_INIT;
  if (wp_utf8_case(s, len, upper, &b)) {
    wp_buf_free(&b);
    return luaL_error(L, "not enough memory");
  }
  lua_pushlstring(L, (const char *)b.data, b.len);
  wp_buf_free(&b);
  return 1;
}
static int s_upper(lua_State *L) { return str_case(L, 1); }
static int s_lower(lua_State *L) { return str_case(L, 0); }

static const struct wp_libentry string_entries[] = {
    WP_LF("byte", s_byte),     WP_LF("char", s_char),       WP_LF("dump", s_dump),
    WP_LF("find", s_find),     WP_LF("format", s_format),   WP_LF("gmatch", s_gmatch),
    WP_LF("gsub", s_gsub),     WP_LF("len", s_len),         WP_LF("lower", s_lower),
    WP_LF("match", s_match),   WP_LF("rep", s_rep),         WP_LF("reverse", s_reverse),
    WP_LF("sub", s_sub),       WP_LF("upper", s_upper),     WP_LF("pack", s_pack),
    WP_LF("packsize", s_packsize), WP_LF("unpack", s_unpack), WP_LEND};
const struct wp_libdef wp_lib_string = {"string", string_entries, NULL};

/* string(x): a cast; returns strings unchanged, tostring() otherwise. */
static int str_call(lua_State *L) {
  luaL_tolstring(L, 2, NULL);
  return 1;
}

/* The string metatable's first __index: materialises the string library
** (through the global table) and puts it in its own place. */
static int str_first_index(lua_State *L) {
  lua_getglobal(L, "string");
  lua_getmetatable(L, 1);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_pushvalue(L, 2);
  lua_gettable(L, -2);
  return 1;
}

/* String values' metatable: arithmetic coercion ("10" + 1) and methods.
** Seven binary operators and __index make eight entries, which fit the
** smallest hash part that holds them (8 nodes); with __unm it would take
** 16 nodes (256 more bytes in every process). Unary minus on a numeric
** string (-"2") is the price (docs/differences-from-wippy.md). */
void wp_stdlib_string_mt(lua_State *L) {
  lua_pushliteral(L, "");
  lua_createtable(L, 0, 8);
  /* rawset with counted keys: lua_setfield would look each C string up in
  ** the state's (still empty) string cache first */
  for (int i = 0; cap_strmt[i].name; i++) {
    if (cap_strmt[i].skip) continue;
    lua_pushlstring(L, cap_strmt[i].name, cap_strmt[i].len);
    lua_pushcfunction(L, cap_strmt[i].fn);
    lua_rawset(L, -3);
  }
  lua_pushliteral(L, "__index");
  lua_pushcfunction(L, str_first_index);
  lua_rawset(L, -3);
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
}

/* The string library table: lazy, and callable as a cast (its own
** metatable: __index as every lazy table, plus __call). */
void wp_stdlib_push_string(lua_State *L) {
  lua_createtable(L, 0, 4);
  lua_pushlightuserdata(L, (void *)&wp_lib_string);
  lua_rawsetp(L, -2, &MARK_KEY);
  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, lazy_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, str_call);
  lua_setfield(L, -2, "__call");
  lua_setmetatable(L, -2);
}

/* ---- table, os, coroutine ---- */

#define CAPFN(lib, fname) \
  static int lib##_##fname(lua_State *L) { return orig_##lib##_##fname(L); }
CAPFN(table, concat)
CAPFN(table, insert)
CAPFN(table, move)
CAPFN(table, pack)
CAPFN(table, remove)
CAPFN(table, sort)
CAPFN(table, unpack)
static const struct wp_libentry table_entries[] = {
    WP_LF("concat", table_concat), WP_LF("insert", table_insert), WP_LF("move", table_move),
    WP_LF("pack", table_pack),     WP_LF("remove", table_remove), WP_LF("sort", table_sort),
    WP_LF("unpack", table_unpack), WP_LEND};
const struct wp_libdef wp_lib_table = {"table", table_entries, NULL};

CAPFN(os, time)
CAPFN(os, clock)
CAPFN(os, date)
CAPFN(os, difftime)
static const struct wp_libentry os_entries[] = {
    WP_LF("time", os_time),       WP_LF("clock", os_clock), WP_LF("date", os_date),
    WP_LF("difftime", os_difftime), WP_LS("platform", "wippy"), WP_LEND};
const struct wp_libdef wp_lib_os = {"os", os_entries, NULL};

CAPFN(co, create)
CAPFN(co, yield)
CAPFN(co, status)
/* coroutine.running: (thread, false) everywhere. A process's main task
** runs on the state's main thread, but to the code it is a task like any
** other (as it was when it had a thread of its own). */
static int co_running(lua_State *L) {
  lua_pushthread(L);
  lua_pushboolean(L, 0);
  return 2;
}
CAPFN(co, isyieldable)
CAPFN(co, close)

static int co_spawn(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  wp_task_spawn(L);
  return 1;
}

static const struct wp_libentry co_entries[] = {
    WP_LF("create", co_create), WP_LF("resume", wp_co_resume), WP_LF("yield", co_yield),
    WP_LF("status", co_status), WP_LF("running", co_running), WP_LF("wrap", wp_co_wrap),
    WP_LF("isyieldable", co_isyieldable), WP_LF("close", co_close),
    WP_LF("spawn", co_spawn),   WP_LEND};
const struct wp_libdef wp_lib_coroutine = {"coroutine", co_entries, NULL};
