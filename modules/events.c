/*
** events.c: the `events` module (spec 10 §3): events.subscribe,
** events.send and Subscription objects. The bus, its delivery through the
** subscribers' mailboxes and the subscription channels are vm/evbus.c's.
**
** A Subscription is a zero-size userdata whose user value is its channel;
** the channel knows the subscription (wp_chan_get_evsub). So a
** Subscription keeps its channel alive, and the subscription lives as long
** as its channel can be read: one made and dropped
** (`events.subscribe("x"):channel()`) keeps delivering into the channel the
** caller kept.
*/
#include "errobj.h"
#include "lazylib.h"
#include "modules.h"

#define SUB_MT "events.Subscription"

static int sub_channel(lua_State *L) {
  luaL_checkudata(L, 1, SUB_MT);
  lua_getiuservalue(L, 1, 1);
  return 1;
}

/* Stops delivery and closes the channel (receivers get nil, false);
** idempotent. */
static int sub_close(lua_State *L) {
  luaL_checkudata(L, 1, SUB_MT);
  lua_getiuservalue(L, 1, 1);
  wp_evbus_close(L, wp_chan_check(L, -1));
  lua_pushboolean(L, 1);
  return 1;
}

static int sub_tostring(lua_State *L) {
  luaL_checkudata(L, 1, SUB_MT);
  lua_pushliteral(L, "events.Subscription{}");
  return 1;
}

/* events.subscribe(system [, kind]) -> Subscription | nil, err */
static int e_subscribe(lua_State *L) {
  size_t slen, klen = 0;
  const char *sys = luaL_checklstring(L, 1, &slen);
  const char *kind = lua_isnoneornil(L, 2) ? "" : luaL_checklstring(L, 2, &klen);
  if (slen == 0) return wp_err_return(L, WP_KIND_INVALID, "system pattern is required");
  lua_settop(L, 2);
  const char *err;
  if (!wp_evbus_subscribe(L, sys, slen, kind, klen, &err))
    return wp_err_return(L, WP_KIND_UNAVAILABLE, err);
  lua_newuserdatauv(L, 0, 1);
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, -2, 1);
  if (luaL_newmetatable(L, SUB_MT)) {
    static const luaL_Reg meth[] = {
        {"channel", sub_channel}, {"close", sub_close}, {NULL, NULL}};
    luaL_newlib(L, meth);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, sub_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_setmetatable(L, -2);
  return 1;
}

/* events.send(system, kind, path [, data]) -> true | nil, err. The type
** checks raise first, then the empty strings are refused in order. */
static int e_send(lua_State *L) {
  size_t slen, klen, plen;
  const char *sys = luaL_checklstring(L, 1, &slen);
  const char *kind = luaL_checklstring(L, 2, &klen);
  const char *path = luaL_checklstring(L, 3, &plen);
  const char *why = slen == 0   ? "system is required"
                    : klen == 0 ? "kind is required"
                    : plen == 0 ? "path is required"
                                : NULL;
  if (why) return wp_err_return(L, WP_KIND_INVALID, why);
  const char *ekind, *err;
  if (wp_evbus_publish(L, sys, slen, kind, klen, path, plen, lua_isnoneornil(L, 4) ? 0 : 4,
                       &ekind, &err))
    return wp_err_return(L, ekind, err);
  lua_pushboolean(L, 1);
  return 1;
}

static const struct wp_libentry events_entries[] = {
    WP_LF("subscribe", e_subscribe), WP_LF("send", e_send), WP_LEND};
const struct wp_libdef wp_lib_events = {"events", events_entries, NULL};
