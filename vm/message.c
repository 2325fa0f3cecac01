/*
** message.c: Message and Payload objects and event tables (spec 03 §7-8).
**
** A received message is decoded when a channel hands it to a task: the
** Message object keeps its topic and payload values as user values and its
** sender's pid as bytes in its own block (a string once asked for), so it
** owns no C memory and needs no __gc.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "errobj.h"
#include "vm.h"

#define MESSAGE_MT "wippy.message"
#define PAYLOAD_MT "wippy.payload"

static int msg_topic(lua_State *L) {
  wp_state_mt_check(L, 1, WP_MT_MESSAGE, MESSAGE_MT);
  lua_getiuservalue(L, 1, 1);
  return 1;
}

/* The sender's pid is kept as bytes in the Message's own block and made a
** string on the first call: most receivers never ask (the relay and the
** echo clients do not), and a pid string is a fresh one to intern and
** collect for nearly every message. */
static int msg_from(lua_State *L) {
  const char *b = wp_state_mt_check(L, 1, WP_MT_MESSAGE, MESSAGE_MT);
  if (lua_getiuservalue(L, 1, 2) == LUA_TNIL) {
    lua_pushlstring(L, b, lua_rawlen(L, 1));
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, 2);
  }
  return 1;
}

static int msg_payload(lua_State *L) {
  wp_state_mt_check(L, 1, WP_MT_MESSAGE, MESSAGE_MT);
  lua_getiuservalue(L, 1, 3);
  return 1;
}

static int msg_tostring(lua_State *L) {
  wp_state_mt_check(L, 1, WP_MT_MESSAGE, MESSAGE_MT);
  lua_getiuservalue(L, 1, 1);
  lua_pushfstring(L, "process.Message{topic=%s}", lua_tostring(L, -1));
  return 1;
}

/* ---- payloads (spec 10 §6) ----
**
** A payload is a userdata with two user values: the value it holds and its
** format. A fresh one (payload.new, a message's payload) has no format
** string: it is "golang/error" for an error object and "lua/any" for
** anything else. transcode makes payloads of other formats, holding text:
** "json/plain" the JSON text, "text/plain" and "application/octet-stream"
** a string. Every conversion goes through lua/any, as Wippy composes them;
** an impossible one is `nil, err`, never a silent success. */

#define FMT_LUA "lua/any"
#define FMT_ERROR "golang/error"
#define FMT_JSON "json/plain"
#define FMT_TEXT "text/plain"
#define FMT_BYTES "application/octet-stream"
#define NO_PATH "no transcoding path found"

static void push_payload_fmt(lua_State *L, int idx, const char *fmt);

/* Pushes the payload at idx's format. */
static const char *payload_format(lua_State *L, int idx) {
  if (lua_getiuservalue(L, idx, 2) == LUA_TSTRING) return lua_tostring(L, -1);
  lua_pop(L, 1);
  lua_getiuservalue(L, idx, 1);
  int is_err = wp_err_is(L, -1);
  lua_pop(L, 1);
  lua_pushstring(L, is_err ? FMT_ERROR : FMT_LUA);
  return lua_tostring(L, -1);
}

static int pl_format(lua_State *L) {
  wp_state_mt_check(L, 1, WP_MT_PAYLOAD, PAYLOAD_MT);
  payload_format(L, 1);
  return 1;
}

/* Pushes the Lua value of payload 1 (format fmt): 0, or -1 with an error
** object pushed instead. `converting`: for another format (transcode),
** where golang/error has no path; data() of it is the error object itself,
** which 03 §10 says a message carries intact (spec 10 §6.3 says it SHOULD
** fail; docs/differences-from-wippy.md). */
static int to_lua(lua_State *L, const char *fmt, int converting) {
  if (converting && strcmp(fmt, FMT_ERROR) == 0) {
    wp_err_push(L, WP_KIND_INTERNAL, NO_PATH, 0);
    return -1;
  }
  lua_getiuservalue(L, 1, 1);
  if (strcmp(fmt, FMT_JSON) == 0) return wp_vm_self(L)->rt->json_decode(L);
  return 0; /* lua/any, or text held as its string */
}

/* data(): the value; unmarshal(): the same, but a conversion that yields
** nothing is an error (spec 10 §6.2). Upvalue 1: whether unmarshal. */
static int pl_data(lua_State *L) {
  wp_state_mt_check(L, 1, WP_MT_PAYLOAD, PAYLOAD_MT);
  /* No format string: lua/any or golang/error, whose value is the one held
  ** (to_lua below with converting == 0), so every received message's
  ** data() skips the format lookup and its string compares. */
  if (lua_getiuservalue(L, 1, 2) == LUA_TNIL) {
    lua_getiuservalue(L, 1, 1);
    return 1;
  }
  lua_pop(L, 1);
  const char *fmt = payload_format(L, 1);
  int is_lua = strcmp(fmt, FMT_LUA) == 0 || strcmp(fmt, FMT_ERROR) == 0;
  if (to_lua(L, fmt, 0) != 0) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  if (!is_lua && lua_isnil(L, -1) && lua_toboolean(L, lua_upvalueindex(1))) {
    lua_pushnil(L);
    wp_err_push(L, WP_KIND_INTERNAL, "transcoded data is not a valid Lua value", 0);
    return 2;
  }
  return 1;
}

/* Writes the number at idx in the shortest form that reads back the same. */
static void push_number_text(lua_State *L, int idx) {
  if (lua_isinteger(L, idx)) {
    lua_pushfstring(L, "%I", (LUAI_UACINT)lua_tointeger(L, idx));
    return;
  }
  double d = (double)lua_tonumber(L, idx);
  char buf[40];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, d);
    if (strtod(buf, NULL) == d) break;
  }
  lua_pushstring(L, buf);
}

/* The value at the top as text/plain (spec 10 §6.3): replaced by a string;
** 0, or -1 with an error object there instead. */
static int to_text(lua_State *L) {
  switch (lua_type(L, -1)) {
    case LUA_TSTRING: return 0;
    case LUA_TNUMBER: push_number_text(L, -1); break;
    case LUA_TBOOLEAN: lua_pushstring(L, lua_toboolean(L, -1) ? "true" : "false"); break;
    case LUA_TNIL: lua_pushliteral(L, ""); break;
    default:
      lua_pushfstring(L, "cannot convert a %s to text", luaL_typename(L, -1));
      wp_err_push(L, WP_KIND_INTERNAL, lua_tostring(L, -1), 0);
      lua_replace(L, -3);
      lua_pop(L, 1);
      return -1;
  }
  lua_replace(L, -2);
  return 0;
}

/* p:transcode(fmt) -> Payload, nil | nil, err */
static int pl_transcode(lua_State *L) {
  wp_state_mt_check(L, 1, WP_MT_PAYLOAD, PAYLOAD_MT);
  const char *to = luaL_checkstring(L, 2);
  lua_settop(L, 2);
  const char *from = payload_format(L, 1); /* at 3 */
  if (strcmp(from, to) == 0) { /* an equivalent payload */
    lua_getiuservalue(L, 1, 1);
    push_payload_fmt(L, -1, to);
    lua_pushnil(L);
    return 2;
  }
  int known = strcmp(to, FMT_LUA) == 0 || strcmp(to, FMT_JSON) == 0 ||
              strcmp(to, FMT_TEXT) == 0 || strcmp(to, FMT_BYTES) == 0;
  if (!known) {
    lua_pushnil(L);
    wp_err_push(L, WP_KIND_INTERNAL, NO_PATH, 0);
    return 2;
  }
  int rc = to_lua(L, from, 1); /* the value, through lua/any */
  if (rc == 0 && strcmp(to, FMT_JSON) == 0)
    rc = wp_vm_self(L)->rt->json_encode(L);
  else if (rc == 0 && strcmp(to, FMT_LUA) != 0)
    rc = to_text(L);
  if (rc != 0) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  push_payload_fmt(L, -1, to);
  lua_pushnil(L);
  return 2;
}

static int pl_tostring(lua_State *L) {
  pl_format(L);
  lua_pushfstring(L, "payload{format=%s}", lua_tostring(L, -1));
  return 1;
}

static void push_mt(lua_State *L, int is_msg) {
  if (wp_state_mt_new(L, is_msg ? WP_MT_MESSAGE : WP_MT_PAYLOAD, is_msg ? MESSAGE_MT : PAYLOAD_MT)) {
    static const luaL_Reg mmeth[] = {{"topic", msg_topic},
                                     {"from", msg_from},
                                     {"payload", msg_payload},
                                     {NULL, NULL}};
    static const luaL_Reg pmeth[] = {{"get_format", pl_format},
                                     {"transcode", pl_transcode},
                                     {NULL, NULL}};
    lua_newtable(L);
    luaL_setfuncs(L, is_msg ? mmeth : pmeth, 0);
    if (!is_msg) {
      lua_pushboolean(L, 0);
      lua_pushcclosure(L, pl_data, 1);
      lua_setfield(L, -2, "data");
      lua_pushboolean(L, 1);
      lua_pushcclosure(L, pl_data, 1);
      lua_setfield(L, -2, "unmarshal");
    }
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, is_msg ? msg_tostring : pl_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushstring(L, is_msg ? "process.Message" : "payload");
    lua_setfield(L, -2, "__name");
  }
}

/* Pushes a payload holding the value at idx in format fmt (NULL: the
** value's own, lua/any or golang/error). */
static void push_payload_fmt(lua_State *L, int idx, const char *fmt) {
  idx = lua_absindex(L, idx);
  lua_newuserdatauv(L, 0, 2);
  lua_pushvalue(L, idx);
  lua_setiuservalue(L, -2, 1);
  if (fmt) {
    lua_pushstring(L, fmt);
    lua_setiuservalue(L, -2, 2);
  }
  push_mt(L, 0);
  lua_setmetatable(L, -2);
}

void wp_payload_push(lua_State *L, int idx) { push_payload_fmt(L, idx, NULL); }

int wp_payload_l_new(lua_State *L) {
  lua_settop(L, 1);
  wp_payload_push(L, 1);
  return 1;
}

/* Sets field k of the table at t (absolute) to the value at the top
** (popped); a nil is not set (a fresh table has no such field to clear). */
static void set_key(lua_State *L, int t, enum wp_key k) {
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return;
  }
  wp_state_key(L, k);
  lua_insert(L, -2);
  lua_rawset(L, t);
}

void wp_result_push(lua_State *L, const uint8_t *data, size_t len) {
  lua_createtable(L, 0, 1); /* one of value and error, mostly */
  int t = lua_gettop(L);
  int n = len ? wp_codec_decode(L, data, len) : 0;
  if (n == 2) {
    set_key(L, t, WP_K_ERROR);
    set_key(L, t, WP_K_VALUE);
    return;
  }
  if (n > 0) lua_pop(L, n);
  wp_err_push(L, WP_KIND_INTERNAL, WP_RESULT_LOST, -1);
  set_key(L, t, WP_K_ERROR);
}

/* Pushes the Lua value of m. */
static void push_message(lua_State *L, struct wp_msg *m) {
  if (m->kind == WP_MSG_USER) {
    /* the block holds the sender's pid (msg_from); user values: topic,
    ** sender string once asked for, payload */
    void *b = lua_newuserdatauv(L, m->from_len, 3);
    if (m->from_len) memcpy(b, wp_msg_from(m), m->from_len);
    int u = lua_gettop(L);
    lua_pushlstring(L, wp_msg_topic(m), m->topic_len);
    lua_setiuservalue(L, u, 1);
    int n = wp_codec_decode(L, wp_msg_payload(m), m->len);
    if (n == 1) {
      wp_payload_push(L, -1);
      lua_remove(L, -2);
    } else if (n >= 2) {
      lua_createtable(L, n, 0);
      for (int i = 1; i <= n; i++) {
        wp_payload_push(L, u + i);
        lua_rawseti(L, -2, i);
      }
      lua_replace(L, u + 1);
      lua_settop(L, u + 1);
    } else {
      lua_pushnil(L);
    }
    lua_setiuservalue(L, u, 3);
    push_mt(L, 1);
    lua_setmetatable(L, u);
    return;
  }
  lua_createtable(L, 0, 4); /* kind, from, at, and result or reason */
  wp_state_key(L, WP_K_KIND);
  if (m->kind == WP_MSG_EXIT)
    wp_state_key(L, WP_K_PID_EXIT);
  else
    lua_pushstring(L, m->kind == WP_MSG_LINK_DOWN ? "pid.link.down" : "pid.cancel");
  lua_rawset(L, -3);
  wp_state_key(L, WP_K_FROM);
  lua_pushlstring(L, wp_msg_from(m), m->from_len);
  lua_rawset(L, -3);
  wp_state_key(L, WP_K_AT);
  lua_pushinteger(L, m->at);
  lua_rawset(L, -3);
  if (m->kind == WP_MSG_CANCEL) {
    wp_state_key(L, WP_K_REASON);
    lua_pushlstring(L, wp_msg_topic(m), m->topic_len);
  } else {
    wp_state_key(L, WP_K_RESULT);
    wp_result_push(L, wp_msg_payload(m), m->len);
  }
  lua_rawset(L, -3);
}

static void push_raw(lua_State *L, struct wp_msg *m) {
  int base = lua_gettop(L);
  int n = wp_codec_decode(L, wp_msg_payload(m), m->len);
  if (n <= 0) {
    lua_settop(L, base);
    lua_pushnil(L);
  } else if (n >= 2) {
    lua_createtable(L, n, 0);
    lua_insert(L, base + 1);
    for (int i = n; i >= 1; i--) lua_rawseti(L, base + 1, i);
  }
}

/* Decoding may raise a memory error. Every caller already runs protected
** (a task's resume, or the run loop's protected drain), so instead of a
** protected call per message the message is parked in vp->decoding while it
** is decoded: if an error unwinds, the process's teardown frees it. */
static void push_any(lua_State *L, struct wp_msg *m, int raw) {
  struct wp_vmproc *vp = wp_vm_self(L);
  wp_msg_free(vp->decoding); /* left by an earlier decode that raised */
  vp->decoding = m;
  if (raw)
    push_raw(L, m);
  else
    push_message(L, m);
  vp->decoding = NULL;
  wp_msg_free(m);
}

void wp_message_push_lua(lua_State *L, struct wp_msg *m) { push_any(L, m, 0); }
void wp_message_push_raw(lua_State *L, struct wp_msg *m) { push_any(L, m, 1); }
