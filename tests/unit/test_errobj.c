/*
** test_errobj.c: vm/errobj.c error objects (spec 05 §6.1): methods,
** tostring, concatenation both ways, accessors and the metatable.
*/
#include <lauxlib.h>
#include <lualib.h>

#include "errobj.h"
#include "test.h"

static lua_State *newstate(void) {
  lua_State *L = luaL_newstate();
  ASSERT(L != NULL);
  luaL_openlibs(L);
  return L;
}

/* Runs src with the nargs values on top of L as arguments; returns nresults. */
static int run(lua_State *L, const char *src, int nargs) {
  int base = lua_gettop(L) - nargs;
  if (luaL_loadstring(L, src) != LUA_OK) TEST_FAIL("load: %s", lua_tostring(L, -1));
  lua_insert(L, base + 1);
  if (lua_pcall(L, nargs, LUA_MULTRET, 0) != LUA_OK)
    TEST_FAIL("lua: %s", luaL_tolstring(L, -1, NULL));
  return lua_gettop(L) - base;
}

TEST(methods) {
  lua_State *L = newstate();
  wp_err_push(L, WP_KIND_NOT_FOUND, "process not found", 1);
  wp_err_push(L, WP_KIND_UNKNOWN, "plain", -1);
  wp_err_push(L, WP_KIND_TIMEOUT, "slow", 0);
  run(L,
      "local a, b, c = ...\n"
      "assert(type(a) == 'userdata')\n"
      "assert(a:kind() == 'NotFound' and a:message() == 'process not found')\n"
      "assert(a:retryable() == true and a:details() == nil)\n"
      "assert(a:stack() == 'process not found')\n"
      "assert(b:kind() == '' and b:retryable() == nil)\n"
      "assert(c:kind() == 'Timeout' and c:retryable() == false)\n"
      "local ok, msg = pcall(a.kind, {})\n"
      "assert(not ok and msg:find('error expected'), msg)\n"
      "ok, msg = pcall(a.message, 'str')\n"
      "assert(not ok and msg:find('error expected'), msg)\n"
      "local ok2, got = pcall(error, a)\n"
      "assert(not ok2 and rawequal(got, a))\n",
      3);
  ASSERT_EQ(lua_gettop(L), 0);
  lua_close(L);
  return 0;
}

TEST(tostring_and_concat) {
  lua_State *L = newstate();
  wp_err_push(L, WP_KIND_INVALID, "bad", -1);
  wp_err_push(L, WP_KIND_INVALID, "worse", -1);
  run(L,
      "local e, f = ...\n"
      "assert(tostring(e) == 'bad')\n"
      "assert('x: ' .. e == 'x: bad')\n"
      "assert(e .. '!' == 'bad!')\n"
      "assert(e .. f == 'badworse' and f .. e == 'worsebad')\n"
      "assert(1 .. e == '1bad' and e .. 2.5 == 'bad2.5')\n"
      "assert('<' .. e .. '>' == '<bad>')\n"
      "assert(string.format('%s', e) == 'bad')\n"
      "local ok, msg = pcall(function() return e .. {} end)\n"
      "assert(not ok and msg:find('concatenate a table'), msg)\n"
      "ok, msg = pcall(function() return nil .. e end)\n"
      "assert(not ok and msg:find('concatenate a nil'), msg)\n",
      2);
  lua_close(L);
  return 0;
}

TEST(details) {
  lua_State *L = newstate();
  wp_err_push(L, "", "with details", -1);
  run(L, "return {code = 7, nested = {1, 2}}", 0);
  wp_err_set_details(L, 1);
  ASSERT_EQ(lua_gettop(L), 1);
  wp_err_push(L, "", "empty details", -1);
  lua_newtable(L);
  wp_err_set_details(L, -2);
  wp_err_push(L, "", "cleared", -1);
  lua_newtable(L);
  wp_err_set_details(L, -2);
  lua_pushnil(L);
  wp_err_set_details(L, -2);
  ASSERT_EQ(lua_gettop(L), 3);
  run(L,
      "local a, b, c = ...\n"
      "local d = a:details()\n"
      "assert(d.code == 7 and d.nested[2] == 2)\n"
      "assert(b:details() == nil and c:details() == nil)\n",
      3);
  /* The C accessor gives the stored table, even an empty one. */
  wp_err_push(L, "", "x", -1);
  lua_newtable(L);
  wp_err_set_details(L, 1);
  wp_err_push_details(L, 1);
  ASSERT(lua_istable(L, -1));
  lua_settop(L, 0);
  wp_err_push(L, "", "x", -1);
  wp_err_push_details(L, 1);
  ASSERT(lua_isnil(L, -1));
  lua_close(L);
  return 0;
}

TEST(context_and_stack) {
  lua_State *L = newstate();
  wp_err_push(L, WP_KIND_UNAVAILABLE, "connection refused", 1);
  ASSERT(wp_err_context(L, 1) == NULL);
  lua_pushliteral(L, "spawn failed");
  wp_err_set_context(L, 1);
  ASSERT_STREQ(wp_err_context(L, 1), "spawn failed");
  lua_pushvalue(L, 1);
  run(L,
      "local e = ...\n"
      "assert(e:message() == 'connection refused')\n"
      "assert(tostring(e) == 'connection refused')\n"
      "assert(e:stack() == 'spawn failed\\nconnection refused', e:stack())\n",
      1);
  lua_pushnil(L);
  wp_err_set_context(L, -2);
  ASSERT(wp_err_context(L, 1) == NULL);
  ASSERT_EQ(lua_gettop(L), 1);
  lua_close(L);
  return 0;
}

TEST(accessors) {
  lua_State *L = newstate();
  size_t len = 0;
  wp_err_pushl(L, WP_KIND_CONFLICT, "a\0b", 3, 5);
  ASSERT(wp_err_is(L, 1));
  ASSERT(wp_err_is(L, -1));
  ASSERT_STREQ(wp_err_kind(L, 1), "Conflict");
  const char *m = wp_err_message(L, -1, &len);
  ASSERT_EQ(len, 3);
  ASSERT(memcmp(m, "a\0b", 3) == 0);
  ASSERT_EQ(wp_err_retryable(L, 1), 1);  /* normalised */
  wp_err_push(L, NULL, NULL, -7);
  ASSERT_STREQ(wp_err_kind(L, 2), "");
  ASSERT_STREQ(wp_err_message(L, 2, NULL), "");
  ASSERT_EQ(wp_err_retryable(L, 2), -1);
  ASSERT_EQ(wp_err_return(L, WP_KIND_PERMISSION_DENIED, "nope"), 2);
  ASSERT(lua_isnil(L, 3));
  ASSERT(wp_err_is(L, 4));
  ASSERT_STREQ(wp_err_kind(L, 4), "PermissionDenied");
  ASSERT_EQ(wp_err_retryable(L, 4), -1);
  ASSERT_EQ(lua_gettop(L), 4);
  lua_close(L);
  return 0;
}

TEST(is_rejects_other_values) {
  lua_State *L = newstate();
  /* Before any error object exists: no metatable yet, nothing created. */
  lua_pushliteral(L, "text");
  ASSERT(!wp_err_is(L, 1));
  ASSERT_EQ(lua_getfield(L, LUA_REGISTRYINDEX, WP_ERR_MT), LUA_TNIL);
  lua_pop(L, 1);
  lua_newtable(L);
  lua_newuserdatauv(L, 16, 0);
  lua_pushinteger(L, 3);
  lua_getglobal(L, "io");
  lua_getfield(L, -1, "stdout");  /* userdata with another metatable */
  lua_remove(L, -2);
  lua_pushlightuserdata(L, L);
  for (int i = 1; i <= lua_gettop(L); i++) ASSERT(!wp_err_is(L, i));
  wp_err_push(L, "", "now", -1);
  for (int i = 1; i < lua_gettop(L); i++) ASSERT(!wp_err_is(L, i));
  ASSERT(wp_err_is(L, -1));
  /* A userdata given the same metatable by hand counts as one too. */
  lua_newuserdatauv(L, sizeof(int), 4);
  luaL_setmetatable(L, WP_ERR_MT);
  ASSERT(wp_err_is(L, -1));
  lua_close(L);
  return 0;
}

TEST(metatable) {
  lua_State *L = newstate();
  wp_err_push_metatable(L);
  wp_err_push_metatable(L);
  ASSERT(lua_rawequal(L, 1, 2));
  luaL_getmetatable(L, WP_ERR_MT);
  ASSERT(lua_rawequal(L, 1, 3));
  ASSERT_EQ(lua_getfield(L, 1, "__name"), LUA_TSTRING);
  ASSERT_STREQ(lua_tostring(L, -1), "error");
  ASSERT_EQ(lua_getfield(L, 1, "__index"), LUA_TTABLE);
  static const char *const names[] = {"kind", "message", "retryable", "details",
                                      "stack"};
  for (int i = 0; i < 5; i++) {
    ASSERT_EQ(lua_getfield(L, -1, names[i]), LUA_TFUNCTION);
    lua_pop(L, 1);
  }
  ASSERT_EQ(lua_getfield(L, 1, "__tostring"), LUA_TFUNCTION);
  ASSERT_EQ(lua_getfield(L, 1, "__concat"), LUA_TFUNCTION);
  lua_settop(L, 0);
  /* Objects share it; a second state gets its own. */
  wp_err_push(L, "", "a", -1);
  wp_err_push(L, "", "b", -1);
  ASSERT(lua_getmetatable(L, 1) && lua_getmetatable(L, 2));
  ASSERT(lua_rawequal(L, -1, -2));
  lua_State *L2 = newstate();
  wp_err_push(L2, "", "c", -1);
  ASSERT(wp_err_is(L2, 1));
  run(L2, "local e = ... assert(e:message() == 'c')", 1);
  lua_close(L2);
  lua_close(L);
  return 0;
}

TEST_LIST = {
  TEST_ENTRY(methods),
  TEST_ENTRY(tostring_and_concat),
  TEST_ENTRY(details),
  TEST_ENTRY(context_and_stack),
  TEST_ENTRY(accessors),
  TEST_ENTRY(is_rejects_other_values),
  TEST_ENTRY(metatable),
  TEST_END
};
