/* base.c: the `errors` and `payload` globals (spec 05 §5-6). */
#include <string.h>

#include "errobj.h"
#include "lazylib.h"
#include "modules.h"

static int e_new(lua_State *L) {
  if (lua_type(L, 1) == LUA_TSTRING) {
    size_t len;
    const char *m = lua_tolstring(L, 1, &len);
    wp_err_pushl(L, WP_KIND_UNKNOWN, m, len, -1);
    return 1;
  }
  if (wp_err_is(L, 1)) {
    lua_settop(L, 1);
    return 1;
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  if (lua_getfield(L, 1, "message") != LUA_TSTRING)
    return luaL_error(L, "errors.new: message must be a string");
  size_t len;
  const char *m = lua_tolstring(L, -1, &len);
  const char *kind = "";
  if (lua_getfield(L, 1, "kind") == LUA_TSTRING) kind = lua_tostring(L, -1);
  int retry = -1;
  if (lua_getfield(L, 1, "retryable") == LUA_TBOOLEAN) retry = lua_toboolean(L, -1);
  wp_err_pushl(L, kind, m, len, retry);
  int e = lua_gettop(L);
  if (lua_getfield(L, 1, "details") == LUA_TTABLE) {
    lua_newtable(L);
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, -3)) {
      if (lua_type(L, -2) == LUA_TSTRING) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, -4);
        n++;
      } else {
        lua_pop(L, 1);
      }
    }
    lua_remove(L, -2);
    if (n) {
      wp_err_set_details(L, e);
    } else {
      lua_pop(L, 1);
    }
  } else {
    lua_pop(L, 1);
  }
  lua_settop(L, e);
  return 1;
}

static int e_wrap(lua_State *L) {
  size_t len;
  const char *m;
  const char *kind = "";
  int retry = -1;
  if (wp_err_is(L, 1)) {
    m = wp_err_message(L, 1, &len);
    kind = wp_err_kind(L, 1);
    retry = wp_err_retryable(L, 1);
    const char *ctx = wp_err_context(L, 1);
    if (ctx) {
      lua_pushfstring(L, "%s: %s", ctx, m);
      m = lua_tolstring(L, -1, &len);
    }
  } else if (lua_type(L, 1) == LUA_TSTRING) {
    m = lua_tolstring(L, 1, &len);
  } else {
    return luaL_typeerror(L, 1, "string or error"); /* spec 10 §7.2 */
  }
  if (lua_type(L, 2) != LUA_TSTRING && !wp_err_is(L, 2))
    return luaL_typeerror(L, 2, "string or error");
  wp_err_pushl(L, kind, m, len, retry);
  int e = lua_gettop(L);
  if (wp_err_is(L, 1)) {
    wp_err_push_details(L, 1);
    wp_err_set_details(L, e);
  }
  if (wp_err_is(L, 2))
    lua_pushstring(L, wp_err_message(L, 2, NULL));
  else
    lua_pushvalue(L, 2);
  wp_err_set_context(L, e);
  lua_settop(L, e);
  return 1;
}

/* kind must be a string (spec 10 §7.2): "" matches an error of unknown
** kind. */
static int e_is(lua_State *L) {
  if (lua_type(L, 2) != LUA_TSTRING) return luaL_typeerror(L, 2, "string");
  const char *kind = lua_tostring(L, 2);
  lua_pushboolean(L, wp_err_is(L, 1) && strcmp(wp_err_kind(L, 1), kind) == 0);
  return 1;
}

/* errors.call_stack(e) (spec 10 §7.1): the Lua stack captured when e was
** made; nil for anything else and for an error that arrived from another
** process. */
static int e_call_stack(lua_State *L) {
  wp_err_push_call_stack(L, 1);
  return 1;
}

static const struct wp_libentry errors_entries[] = {
    WP_LF("call_stack", e_call_stack),
    WP_LF("new", e_new),
    WP_LF("wrap", e_wrap),
    WP_LF("is", e_is),
    WP_LS("UNKNOWN", WP_KIND_UNKNOWN),
    WP_LS("INVALID", WP_KIND_INVALID),
    WP_LS("NOT_FOUND", WP_KIND_NOT_FOUND),
    WP_LS("ALREADY_EXISTS", WP_KIND_ALREADY_EXISTS),
    WP_LS("PERMISSION_DENIED", WP_KIND_PERMISSION_DENIED),
    WP_LS("UNAVAILABLE", WP_KIND_UNAVAILABLE),
    WP_LS("INTERNAL", WP_KIND_INTERNAL),
    WP_LS("CANCELED", WP_KIND_CANCELED),
    WP_LS("CONFLICT", WP_KIND_CONFLICT),
    WP_LS("TIMEOUT", WP_KIND_TIMEOUT),
    WP_LS("RATE_LIMITED", WP_KIND_RATE_LIMITED),
    WP_LEND};
const struct wp_libdef wp_lib_errors = {"errors", errors_entries, NULL};

static const struct wp_libentry format_entries[] = {
    WP_LS("JSON", "json/plain"),
    WP_LS("YAML", "yaml/plain"),
    WP_LS("STRING", "text/plain"),
    WP_LS("BYTES", "application/octet-stream"),
    WP_LS("MSGPACK", "application/msgpack"),
    WP_LS("LUA", "lua/any"),
    WP_LS("GOLANG", "golang/any"),
    WP_LS("ERROR", "golang/error"),
    WP_LEND};
static const struct wp_libdef format_lib = {"payload.format", format_entries, NULL};

static const struct wp_libentry payload_entries[] = {
    WP_LF("new", wp_payload_l_new), WP_LSUB("format", &format_lib), WP_LEND};
const struct wp_libdef wp_lib_payload = {"payload", payload_entries, NULL};
