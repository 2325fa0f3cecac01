/*
** timeobj.c: Time, Duration and Location objects and the time module's
** non-timer functions (spec 04 §5.2).
*/
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "duration.h"
#include "errobj.h"
#include "modules.h"

#define TIME_MT "wippy.time"
#define DURATION_MT "wippy.duration"

/* ---- Duration ---- */


static int64_t check_duration(lua_State *L, int idx) {
  return *(int64_t *)luaL_checkudata(L, idx, DURATION_MT);
}

int wp_time_arg(lua_State *L, int idx, int64_t *ns, const char **err) {
  switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        *ns = lua_tointeger(L, idx);
      } else {
        lua_Number n = lua_tonumber(L, idx);
        if (!(n >= -9.2e18 && n <= 9.2e18)) {
          *err = "invalid duration";
          return -1;
        }
        *ns = (int64_t)n;
      }
      return 0;
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      return wp_duration_parse(s, len, ns, err);
    }
    case LUA_TUSERDATA:
      if (luaL_testudata(L, idx, DURATION_MT)) {
        *ns = *(int64_t *)lua_touserdata(L, idx);
        return 0;
      }
      /* fallthrough */
    default:
      *err = "invalid duration: expected a number of nanoseconds, a string or a Duration";
      return -1;
  }
}

static int d_ns(lua_State *L) {
  lua_pushinteger(L, check_duration(L, 1));
  return 1;
}
static int d_us(lua_State *L) {
  lua_pushinteger(L, check_duration(L, 1) / 1000);
  return 1;
}
static int d_ms(lua_State *L) {
  lua_pushinteger(L, check_duration(L, 1) / 1000000);
  return 1;
}
static int d_s(lua_State *L) {
  lua_pushnumber(L, (double)check_duration(L, 1) / 1e9);
  return 1;
}
static int d_m(lua_State *L) {
  lua_pushnumber(L, (double)check_duration(L, 1) / 60e9);
  return 1;
}
static int d_h(lua_State *L) {
  lua_pushnumber(L, (double)check_duration(L, 1) / 3600e9);
  return 1;
}
static int d_tostring(lua_State *L) {
  char buf[64];
  wp_duration_format(check_duration(L, 1), buf, sizeof buf);
  lua_pushstring(L, buf);
  return 1;
}

void wp_duration_push(lua_State *L, int64_t ns) {
  *(int64_t *)lua_newuserdatauv(L, sizeof(int64_t), 0) = ns;
  if (luaL_newmetatable(L, DURATION_MT)) {
    static const luaL_Reg m[] = {{"nanoseconds", d_ns}, {"microseconds", d_us},
                                 {"milliseconds", d_ms}, {"seconds", d_s},
                                 {"minutes", d_m},       {"hours", d_h},
                                 {NULL, NULL}};
    luaL_newlib(L, m);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, d_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_setmetatable(L, -2);
}

/* ---- Time ---- */

static int64_t check_time(lua_State *L, int idx) {
  return *(int64_t *)luaL_checkudata(L, idx, TIME_MT);
}

static int t_unix(lua_State *L) {
  int64_t ns = check_time(L, 1);
  lua_pushinteger(L, ns >= 0 ? ns / 1000000000 : -((-ns + 999999999) / 1000000000));
  return 1;
}
static int t_unix_nano(lua_State *L) {
  lua_pushinteger(L, check_time(L, 1));
  return 1;
}
static int t_rfc3339(lua_State *L) {
  int64_t ns = check_time(L, 1);
  time_t s = (time_t)(ns / 1000000000);
  struct tm tm;
  gmtime_r(&s, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  lua_pushstring(L, buf);
  return 1;
}
static int t_sub(lua_State *L) {
  wp_duration_push(L, check_time(L, 1) - check_time(L, 2));
  return 1;
}
static int t_add(lua_State *L) {
  int64_t d;
  const char *err;
  if (wp_time_arg(L, 2, &d, &err)) return luaL_argerror(L, 2, err);
  wp_time_push(L, check_time(L, 1) + d);
  return 1;
}
static int t_before(lua_State *L) {
  lua_pushboolean(L, check_time(L, 1) < check_time(L, 2));
  return 1;
}
static int t_after(lua_State *L) {
  lua_pushboolean(L, check_time(L, 1) > check_time(L, 2));
  return 1;
}
static int t_equal(lua_State *L) {
  lua_pushboolean(L, check_time(L, 1) == check_time(L, 2));
  return 1;
}
static int t_tostring(lua_State *L) {
  int64_t ns = check_time(L, 1);
  time_t s = (time_t)(ns / 1000000000);
  struct tm tm;
  gmtime_r(&s, &tm);
  char buf[96];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  snprintf(buf + n, sizeof buf - n, ".%09lld +0000 UTC", (long long)(ns % 1000000000));
  lua_pushstring(L, buf);
  return 1;
}

void wp_time_push(lua_State *L, int64_t wall_ns) {
  *(int64_t *)lua_newuserdatauv(L, sizeof(int64_t), 0) = wall_ns;
  if (luaL_newmetatable(L, TIME_MT)) {
    static const luaL_Reg m[] = {{"unix", t_unix},     {"unix_nano", t_unix_nano},
                                 {"format_rfc3339", t_rfc3339},
                                 {"sub", t_sub},       {"add", t_add},
                                 {"before", t_before}, {"after", t_after},
                                 {"equal", t_equal},   {NULL, NULL}};
    luaL_newlib(L, m);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, t_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_setmetatable(L, -2);
}


static int l_now(lua_State *L) {
  wp_time_push(L, wp_wall_ns());
  return 1;
}

static int l_unix(lua_State *L) {
  lua_Integer s = luaL_checkinteger(L, 1);
  lua_Integer n = luaL_optinteger(L, 2, 0);
  wp_time_push(L, s * 1000000000 + n);
  return 1;
}

static int l_parse_duration(lua_State *L) {
  int64_t ns;
  const char *err;
  if (wp_time_arg(L, 1, &ns, &err)) return wp_err_return(L, WP_KIND_INVALID, err);
  wp_duration_push(L, ns);
  return 1;
}

void wp_time_register(lua_State *L, int mod) {
  static const luaL_Reg fns[] = {{"now", l_now},
                                 {"unix", l_unix},
                                 {"parse_duration", l_parse_duration},
                                 {NULL, NULL}};
  lua_pushvalue(L, mod);
  luaL_setfuncs(L, fns, 0);
  static const struct {
    const char *k;
    lua_Integer v;
  } consts[] = {{"NANOSECOND", 1},
                {"MICROSECOND", 1000},
                {"MILLISECOND", 1000000},
                {"SECOND", 1000000000},
                {"MINUTE", 60000000000LL},
                {"HOUR", 3600000000000LL}};
  for (size_t i = 0; i < sizeof consts / sizeof consts[0]; i++) {
    lua_pushinteger(L, consts[i].v);
    lua_setfield(L, -2, consts[i].k);
  }
  lua_pop(L, 1);
}
