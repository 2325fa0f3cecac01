/*
** logger.c: the `logger` module (spec 05 §4). The module value is a logger
** object; calls use colon syntax. Records carry pid and location fields.
*/
#include <string.h>

#include "errobj.h"
#include "modules.h"

#define LOGGER_MT "wippy.logger"

/* A logger: user value 1 = name (string or nil), 2 = fields table or nil. */

static void buf_addc(struct wp_buf *b, char c) { wp_buf_append(b, &c, 1); }
static void buf_adds(struct wp_buf *b, const char *s) { wp_buf_append(b, s, strlen(s)); }

static void add_json_string(struct wp_buf *b, const char *s, size_t len) {
  buf_addc(b, '"');
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      buf_addc(b, '\\');
      buf_addc(b, (char)c);
    } else if (c < 0x20) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", c);
      buf_adds(b, esc);
    } else {
      buf_addc(b, (char)c);
    }
  }
  buf_addc(b, '"');
}

static void add_value(lua_State *L, int idx, struct wp_buf *b, int depth);

/* Nine levels at most, two stack slots each (a key and a value): more than
** the LUA_MINSTACK slots a C function may use without asking. */
static void add_table(lua_State *L, int idx, struct wp_buf *b, int depth) {
  idx = lua_absindex(L, idx);
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
  if (depth > 8 || !lua_checkstack(L, 3)) {
    buf_adds(b, "\"...\"");
    return;
  }
  if (n > 0) {
    buf_addc(b, '[');
    for (lua_Integer i = 1; i <= n; i++) {
      if (i > 1) buf_adds(b, ", ");
      lua_rawgeti(L, idx, i);
      add_value(L, -1, b, depth + 1);
      lua_pop(L, 1);
    }
    buf_addc(b, ']');
    return;
  }
  buf_addc(b, '{');
  int first = 1;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      if (!first) buf_adds(b, ", ");
      first = 0;
      size_t kl;
      const char *k = lua_tolstring(L, -2, &kl);
      add_json_string(b, k, kl);
      buf_adds(b, ": ");
      add_value(L, -1, b, depth + 1);
    }
    lua_pop(L, 1);
  }
  buf_addc(b, '}');
}

/* Adds one value as JSON-ish text. */
static void add_value(lua_State *L, int idx, struct wp_buf *b, int depth) {
  idx = lua_absindex(L, idx);
  switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
      if (!lua_isinteger(L, idx)) {
        lua_Number x = lua_tonumber(L, idx);
        if (x != x || x - x != 0) { /* NaN or an infinity: JSON has none, so a string */
          add_json_string(b, x != x ? "nan" : x > 0 ? "inf" : "-inf", x != x ? 3 : x > 0 ? 3 : 4);
          break;
        }
      }
      /* fall through */
    case LUA_TBOOLEAN:
      luaL_tolstring(L, idx, NULL);
      buf_adds(b, lua_tostring(L, -1));
      lua_pop(L, 1);
      break;
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      add_json_string(b, s, len);
      break;
    }
    case LUA_TTABLE:
      add_table(L, idx, b, depth);
      break;
    case LUA_TNIL:
      buf_adds(b, "null");
      break;
    default:
      if (wp_err_is(L, idx)) {
        size_t len;
        const char *m = wp_err_message(L, idx, &len);
        add_json_string(b, m, len);
      } else {
        luaL_tolstring(L, idx, NULL);
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        lua_pop(L, 1);
        add_json_string(b, s, len);
      }
  }
}

void wp_log_fields(lua_State *L, int idx, struct wp_buf *b, const char *pid,
                   const char *location, int *has_error) {
  (void)has_error;
  buf_addc(b, '{');
  int first = 1;
  for (int pass = 0; pass < 2; pass++) {
    int t = pass == 0 ? idx : 0;
    if (pass == 1) break;
    if (t && lua_type(L, t) == LUA_TTABLE) {
      lua_pushnil(L);
      while (lua_next(L, t)) {
        if (lua_type(L, -2) == LUA_TSTRING) {
          if (!first) buf_adds(b, ", ");
          first = 0;
          size_t kl;
          const char *k = lua_tolstring(L, -2, &kl);
          add_json_string(b, k, kl);
          buf_adds(b, ": ");
          add_value(L, -1, b, 0);
        }
        lua_pop(L, 1);
      }
    }
  }
  if (!first) buf_adds(b, ", ");
  buf_adds(b, "\"pid\": ");
  add_json_string(b, pid, strlen(pid));
  buf_adds(b, ", \"location\": ");
  add_json_string(b, location, strlen(location));
  buf_addc(b, '}');
}

static int do_log(lua_State *L, int level) {
  luaL_checkudata(L, 1, LOGGER_MT);
  const char *msg = luaL_checkstring(L, 2);
  if (!wp_log_enabled(level)) return 0;
  lua_settop(L, 3);
  /* merge the logger's own fields under the call's fields */
  lua_newtable(L); /* 4: merged */
  lua_getiuservalue(L, 1, 2);
  for (int src = 5; src >= 3; src -= 2) {
    if (lua_type(L, src) == LUA_TTABLE) {
      lua_pushnil(L);
      while (lua_next(L, src)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, 4);
      }
    }
  }
  lua_pop(L, 1);
  if (level == WP_LOG_ERROR && lua_type(L, 3) == LUA_TTABLE) {
    lua_pushnil(L);
    lua_setfield(L, 3, "error");
  }
  struct wp_vmproc *vp = wp_vm_self(L);
  int line = wp_vm_lua_line(L);
  char loc[300];
  snprintf(loc, sizeof loc, "%s:%d", vp->code->id, line);
  struct wp_buf b = WP_BUF_INIT;
  wp_log_fields(L, 4, &b, vp->p->pid, loc, NULL);
  buf_addc(&b, '\0');
  lua_getiuservalue(L, 1, 1);
  wp_log(level, lua_tostring(L, -1), msg, b.data ? (const char *)b.data : "");
  wp_buf_free(&b);
  return 0;
}

static int lg_debug(lua_State *L) { return do_log(L, WP_LOG_DEBUG); }
static int lg_info(lua_State *L) { return do_log(L, WP_LOG_INFO); }
static int lg_warn(lua_State *L) { return do_log(L, WP_LOG_WARN); }
static int lg_error(lua_State *L) { return do_log(L, WP_LOG_ERROR); }

static void push_logger(lua_State *L, int name_idx, int fields_idx);

static int lg_with(lua_State *L) {
  luaL_checkudata(L, 1, LOGGER_MT);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_newtable(L); /* 3 */
  lua_getiuservalue(L, 1, 2); /* 4 */
  for (int src = 4; src >= 2; src -= 2) {
    if (lua_type(L, src) == LUA_TTABLE) {
      lua_pushnil(L);
      while (lua_next(L, src)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, 3);
      }
    }
  }
  lua_getiuservalue(L, 1, 1); /* 5 */
  push_logger(L, 5, 3);
  return 1;
}

static int lg_named(lua_State *L) {
  luaL_checkudata(L, 1, LOGGER_MT);
  size_t len;
  const char *name = luaL_checklstring(L, 2, &len);
  if (len == 0) return luaL_error(L, "logger name cannot be empty");
  lua_getiuservalue(L, 1, 1); /* 3 */
  if (lua_isstring(L, 3))
    lua_pushfstring(L, "%s.%s", lua_tostring(L, 3), name);
  else
    lua_pushvalue(L, 2);
  lua_getiuservalue(L, 1, 2);
  push_logger(L, lua_gettop(L) - 1, lua_gettop(L));
  return 1;
}

static void push_logger(lua_State *L, int name_idx, int fields_idx) {
  name_idx = name_idx ? lua_absindex(L, name_idx) : 0;
  fields_idx = fields_idx ? lua_absindex(L, fields_idx) : 0;
  lua_newuserdatauv(L, 0, 2);
  if (name_idx) {
    lua_pushvalue(L, name_idx);
    lua_setiuservalue(L, -2, 1);
  }
  if (fields_idx) {
    lua_pushvalue(L, fields_idx);
    lua_setiuservalue(L, -2, 2);
  }
  if (luaL_newmetatable(L, LOGGER_MT)) {
    static const luaL_Reg m[] = {{"debug", lg_debug}, {"info", lg_info},   {"warn", lg_warn},
                                 {"error", lg_error}, {"with", lg_with},   {"named", lg_named},
                                 {NULL, NULL}};
    luaL_newlib(L, m);
    lua_setfield(L, -2, "__index");
  }
  lua_setmetatable(L, -2);
}

int wp_open_logger(lua_State *L) {
  push_logger(L, 0, 0);
  return 1;
}
