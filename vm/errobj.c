/*
** errobj.c: Wippy error objects (spec 05 §6.1). See errobj.h.
**
** An error object is a full userdata whose C block holds only the retryable
** flag; everything Lua-visible lives in its user values, so the GC keeps the
** strings and the details table alive without any C-side ownership:
**
**   uservalue 1  message   string
**   uservalue 2  kind      string ("" = unknown)
**   uservalue 3  details   table or nil
**   uservalue 4  context   string or nil (errors.wrap)
**   uservalue 5  stack     string or nil: the Lua stack at creation
**
** The stack (errors.call_stack, spec 10 §7.1) is captured by every error
** made from a running Lua call (errors.new, errors.wrap, a module function
** that returns one): the innermost WP_ERR_STACK_MAX frames, the creating C
** function first. It is packed into one string of NUL-terminated fields,
**
**   thread  { what  line  name  source }...
**
** (thread: the address of the lua_State, "%p"; what: "Lua", "C", "main";
** line: decimal, -1 for C frames), so creating an error costs one more
** string, not a table per frame; call_stack unpacks it into tables. The
** fields are C strings from lua_getinfo, which never hold a NUL. An error
** decoded from another process (wp_err_pushl_nostack) or made where no Lua
** function runs carries none: call_stack gives nil (allowed by §7.1).
**
** The metatable is created lazily, once per lua_State, by
** wp_err_push_metatable. It is stored twice in the registry: under WP_ERR_MT
** (luaL_newmetatable, so luaL_checkudata and friends work) and under the
** address of `mt_key` (a light userdata key). wp_err_is uses the second one
** because lua_rawgetp never allocates, which lets the codec's encoder test
** for error objects without touching the allocator.
*/
#include "errobj.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { UV_MESSAGE = 1, UV_KIND, UV_DETAILS, UV_CONTEXT, UV_STACK, UV_COUNT = UV_STACK };

/* Frames kept per error: enough to see where it came from, bounded so a
** deep recursion does not make every error large. */
#define WP_ERR_STACK_MAX 32

struct errobj {
  int retryable;  /* -1 unknown, 0 false, 1 true */
};

static const char mt_key = 0;  /* its address keys the metatable */

static int norm_retryable(int r) { return r < 0 ? -1 : (r > 0); }

/*
** Returns the string in user value `uv` of the error at idx, or "" when the
** slot does not hold a string (cannot happen for objects made here).
*/
static const char *uv_string(lua_State *L, int idx, int uv, size_t *len) {
  const char *s = NULL;
  if (lua_getiuservalue(L, idx, uv) == LUA_TSTRING) s = lua_tolstring(L, -1, len);
  lua_pop(L, 1);  /* the user value keeps the string alive */
  if (s == NULL) {
    if (len) *len = 0;
    s = "";
  }
  return s;
}

/* {====================================================================
** Lua methods
** ===================================================================== */

static void check_err(lua_State *L, int arg) {
  if (!wp_err_is(L, arg)) luaL_typeerror(L, arg, "error");
}

static int m_kind(lua_State *L) {
  check_err(L, 1);
  lua_getiuservalue(L, 1, UV_KIND);
  return 1;
}

static int m_message(lua_State *L) {
  check_err(L, 1);
  lua_getiuservalue(L, 1, UV_MESSAGE);
  return 1;
}

static int m_retryable(lua_State *L) {
  check_err(L, 1);
  int r = wp_err_retryable(L, 1);
  if (r < 0)
    lua_pushnil(L);
  else
    lua_pushboolean(L, r);
  return 1;
}

/* An empty details table reads as nil (spec 05 §6.2, errors.new). */
static int m_details(lua_State *L) {
  check_err(L, 1);
  if (lua_getiuservalue(L, 1, UV_DETAILS) == LUA_TTABLE) {
    lua_pushnil(L);
    if (lua_next(L, -2)) {
      lua_pop(L, 2);  /* not empty: leave the table */
      return 1;
    }
  }
  lua_pushnil(L);
  return 1;
}

/*
** The stack text is the context line(s), if any, followed by the message.
** There is no Go-style trace to show; errors.call_stack gives frames.
*/
static int m_stack(lua_State *L) {
  check_err(L, 1);
  luaL_Buffer b;
  size_t mlen;
  const char *ctx = wp_err_context(L, 1);
  const char *msg = wp_err_message(L, 1, &mlen);
  luaL_buffinit(L, &b);
  if (ctx) {
    luaL_addstring(&b, ctx);
    luaL_addchar(&b, '\n');
  }
  luaL_addlstring(&b, msg, mlen);
  luaL_pushresult(&b);
  return 1;
}

/*
** Replaces the operand at arg by a string: an error object stands for its
** message, numbers convert as usual, anything else is the same error that
** Lua itself raises for a bad concatenation.
*/
static void concat_operand(lua_State *L, int arg) {
  if (wp_err_is(L, arg)) {
    lua_getiuservalue(L, arg, UV_MESSAGE);
    lua_replace(L, arg);
  } else if (lua_type(L, arg) == LUA_TNUMBER) {
    lua_tolstring(L, arg, NULL);  /* converts in place */
  } else if (lua_type(L, arg) != LUA_TSTRING) {
    luaL_error(L, "attempt to concatenate a %s value", luaL_typename(L, arg));
  }
}

static int m_concat(lua_State *L) {
  lua_settop(L, 2);
  concat_operand(L, 1);
  concat_operand(L, 2);
  lua_concat(L, 2);
  return 1;
}

static const luaL_Reg methods[] = {
  {"kind", m_kind},
  {"message", m_message},
  {"retryable", m_retryable},
  {"details", m_details},
  {"stack", m_stack},
  {NULL, NULL}
};

static const luaL_Reg metamethods[] = {
  {"__tostring", m_message},
  {"__concat", m_concat},
  {NULL, NULL}
};

/* }==================================================================== */

void wp_err_push_metatable(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &mt_key) == LUA_TTABLE) return;
  lua_pop(L, 1);
  luaL_newmetatable(L, WP_ERR_MT);  /* sets __name = WP_ERR_MT ... */
  lua_pushliteral(L, "error");      /* ... but messages say "error" */
  lua_setfield(L, -2, "__name");
  luaL_setfuncs(L, metamethods, 0);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &mt_key);
}

/*
** Sets the packed stack of the error at the top of L (see the top of this
** file), or leaves it nil when no function of L is running. The buffer
** sits above the error until luaL_pushresult; lua_getstack and lua_getinfo
** without 'f' or 'L' push nothing, so the buffer's stack discipline holds.
*/
static void capture_stack(lua_State *L) {
  lua_Debug ar;
  if (!lua_getstack(L, 0, &ar)) return;
  char num[32];
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  snprintf(num, sizeof num, "%p", (void *)L);
  luaL_addstring(&b, num);
  luaL_addchar(&b, '\0');
  for (int level = 0; level < WP_ERR_STACK_MAX && lua_getstack(L, level, &ar); level++) {
    if (!lua_getinfo(L, "Sln", &ar)) break;
    luaL_addstring(&b, ar.what ? ar.what : "C");
    luaL_addchar(&b, '\0');
    snprintf(num, sizeof num, "%d", ar.currentline);
    luaL_addstring(&b, num);
    luaL_addchar(&b, '\0');
    luaL_addstring(&b, ar.name ? ar.name : "");
    luaL_addchar(&b, '\0');
    luaL_addstring(&b, ar.short_src);
    luaL_addchar(&b, '\0');
  }
  luaL_pushresult(&b);
  lua_setiuservalue(L, -2, UV_STACK);
}

static void push_error(lua_State *L, const char *kind, const char *msg, size_t len,
                       int retryable, int stack) {
  struct errobj *e = lua_newuserdatauv(L, sizeof *e, UV_COUNT);
  e->retryable = norm_retryable(retryable);
  lua_pushlstring(L, msg ? msg : "", msg ? len : 0);
  lua_setiuservalue(L, -2, UV_MESSAGE);
  lua_pushstring(L, kind ? kind : WP_KIND_UNKNOWN);
  lua_setiuservalue(L, -2, UV_KIND);
  if (stack) capture_stack(L);
  wp_err_push_metatable(L);
  lua_setmetatable(L, -2);
}

void wp_err_pushl(lua_State *L, const char *kind, const char *msg, size_t len,
                  int retryable) {
  push_error(L, kind, msg, len, retryable, 1);
}

void wp_err_pushl_nostack(lua_State *L, const char *kind, const char *msg, size_t len,
                          int retryable) {
  push_error(L, kind, msg, len, retryable, 0);
}

/* The field at *p (a C string inside the packed stack, which ends at end),
** moving *p past it; NULL when the packed stack ends first. */
static const char *next_field(const char **p, const char *end) {
  const char *s = *p;
  if (s >= end) return NULL;
  const char *z = memchr(s, '\0', (size_t)(end - s));
  if (!z) return NULL;
  *p = z + 1;
  return s;
}

void wp_err_push_call_stack(lua_State *L, int idx) {
  size_t n;
  if (!wp_err_is(L, idx)) {
    lua_pushnil(L);
    return;
  }
  if (lua_getiuservalue(L, idx, UV_STACK) != LUA_TSTRING) return; /* nil: none */
  luaL_checkstack(L, 4, "call_stack");
  const char *p = lua_tolstring(L, -1, &n), *end = p + n; /* kept alive at -1 */
  const char *thread = next_field(&p, end);
  lua_createtable(L, 0, 2);
  lua_pushstring(L, thread ? thread : "");
  lua_setfield(L, -2, "thread");
  lua_newtable(L);
  const char *what, *line, *name, *src;
  for (lua_Integer level = 0;
       (what = next_field(&p, end)) && (line = next_field(&p, end)) &&
       (name = next_field(&p, end)) && (src = next_field(&p, end));
       level++) {
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, level);
    lua_setfield(L, -2, "level");
    lua_pushstring(L, src);
    lua_setfield(L, -2, "source");
    lua_pushinteger(L, (lua_Integer)strtol(line, NULL, 10));
    lua_setfield(L, -2, "line");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, what);
    lua_setfield(L, -2, "type");
    lua_rawseti(L, -2, level + 1);
  }
  lua_setfield(L, -2, "frames");
  lua_remove(L, -2); /* the packed string */
}

void wp_err_push(lua_State *L, const char *kind, const char *msg, int retryable) {
  wp_err_pushl(L, kind, msg, msg ? strlen(msg) : 0, retryable);
}

int wp_err_return(lua_State *L, const char *kind, const char *msg) {
  lua_pushnil(L);
  wp_err_push(L, kind, msg, -1);
  return 2;
}

/*
** Never raises and never allocates: lua_getmetatable, lua_rawgetp and
** lua_rawequal only read. Uses two stack slots (within LUA_MINSTACK).
*/
int wp_err_is(lua_State *L, int idx) {
  if (lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx)) return 0;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &mt_key);
  int r = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return r;
}

const char *wp_err_kind(lua_State *L, int idx) {
  return uv_string(L, idx, UV_KIND, NULL);
}

const char *wp_err_message(lua_State *L, int idx, size_t *len) {
  return uv_string(L, idx, UV_MESSAGE, len);
}

const char *wp_err_context(lua_State *L, int idx) {
  const char *s = NULL;
  if (lua_getiuservalue(L, idx, UV_CONTEXT) == LUA_TSTRING) s = lua_tostring(L, -1);
  lua_pop(L, 1);
  return s;
}

int wp_err_retryable(lua_State *L, int idx) {
  const struct errobj *e = lua_touserdata(L, idx);
  return e ? e->retryable : -1;
}

void wp_err_push_details(lua_State *L, int idx) {
  if (lua_getiuservalue(L, idx, UV_DETAILS) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
}

void wp_err_set_details(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  if (!lua_istable(L, -1)) {  /* anything else clears the details */
    lua_pop(L, 1);
    lua_pushnil(L);
  }
  lua_setiuservalue(L, idx, UV_DETAILS);
}

void wp_err_set_context(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  if (lua_type(L, -1) != LUA_TSTRING) {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
  lua_setiuservalue(L, idx, UV_CONTEXT);
}
