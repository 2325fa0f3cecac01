/* base.c: the `errors` and `payload` globals (spec 05 §5-6). */
#include <string.h>

#include "errobj.h"
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
  } else {
    m = luaL_checklstring(L, 1, &len);
  }
  wp_err_pushl(L, kind, m, len, retry);
  int e = lua_gettop(L);
  if (wp_err_is(L, 1)) {
    wp_err_push_details(L, 1);
    wp_err_set_details(L, e);
  }
  if (wp_err_is(L, 2))
    lua_pushstring(L, wp_err_message(L, 2, NULL));
  else
    lua_pushstring(L, luaL_optstring(L, 2, ""));
  wp_err_set_context(L, e);
  lua_settop(L, e);
  return 1;
}

static int e_is(lua_State *L) {
  const char *kind = luaL_optstring(L, 2, "");
  lua_pushboolean(L, wp_err_is(L, 1) && strcmp(wp_err_kind(L, 1), kind) == 0);
  return 1;
}

int wp_open_errors(lua_State *L) {
  static const luaL_Reg fns[] = {{"new", e_new}, {"wrap", e_wrap}, {"is", e_is}, {NULL, NULL}};
  luaL_newlib(L, fns);
  static const char *const kinds[][2] = {
      {"UNKNOWN", WP_KIND_UNKNOWN},         {"INVALID", WP_KIND_INVALID},
      {"NOT_FOUND", WP_KIND_NOT_FOUND},     {"ALREADY_EXISTS", WP_KIND_ALREADY_EXISTS},
      {"PERMISSION_DENIED", WP_KIND_PERMISSION_DENIED},
      {"UNAVAILABLE", WP_KIND_UNAVAILABLE}, {"INTERNAL", WP_KIND_INTERNAL},
      {"CANCELED", WP_KIND_CANCELED},       {"CONFLICT", WP_KIND_CONFLICT},
      {"TIMEOUT", WP_KIND_TIMEOUT},         {"RATE_LIMITED", WP_KIND_RATE_LIMITED}};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    lua_pushstring(L, kinds[i][1]);
    lua_setfield(L, -2, kinds[i][0]);
  }
  return 1;
}

int wp_open_payload(lua_State *L) {
  static const luaL_Reg fns[] = {{"new", wp_payload_l_new}, {NULL, NULL}};
  luaL_newlib(L, fns);
  lua_createtable(L, 0, 8);
  static const char *const fm[][2] = {{"JSON", "json/plain"},
                                      {"YAML", "yaml/plain"},
                                      {"STRING", "text/plain"},
                                      {"BYTES", "application/octet-stream"},
                                      {"MSGPACK", "application/msgpack"},
                                      {"LUA", "lua/any"},
                                      {"GOLANG", "golang/any"},
                                      {"ERROR", "golang/error"}};
  for (size_t i = 0; i < sizeof fm / sizeof fm[0]; i++) {
    lua_pushstring(L, fm[i][1]);
    lua_setfield(L, -2, fm[i][0]);
  }
  lua_setfield(L, -2, "format");
  return 1;
}
