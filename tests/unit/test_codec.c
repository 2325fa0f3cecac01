/*
** test_codec.c: vm/codec.c round trips between two separate lua_States,
** limits, corrupt buffers, the echo request's encoding.
**
** Most tests run a Lua chunk in the sender state A, encode its results,
** decode them into the receiver state B and run a checking chunk there
** with the decoded values as its arguments; the checking chunk raises
** (assert) on any difference.
*/
#include <lauxlib.h>
#include <lualib.h>

#include "alloc.h"
#include "buf.h"
#include "codec.h"
#include "errobj.h"
#include "test.h"

/* mkerr(kind, msg, retryable, context, details): an error object. */
static int l_mkerr(lua_State *L) {
  size_t len;
  const char *kind = luaL_optstring(L, 1, "");
  const char *msg = luaL_checklstring(L, 2, &len);
  int r = lua_isnoneornil(L, 3) ? -1 : lua_toboolean(L, 3);
  wp_err_pushl(L, kind, msg, len, r);
  if (!lua_isnoneornil(L, 4)) {
    lua_pushvalue(L, 4);
    wp_err_set_context(L, -2);
  }
  if (lua_istable(L, 5)) {
    lua_pushvalue(L, 5);
    wp_err_set_details(L, -2);
  }
  return 1;
}

static int l_lightud(lua_State *L) {
  static int anchor;
  lua_pushlightuserdata(L, &anchor);
  return 1;
}

static lua_State *newstate(void) {
  lua_State *L = luaL_newstate();
  ASSERT(L != NULL);
  luaL_openlibs(L);
  lua_register(L, "mkerr", l_mkerr);
  lua_register(L, "lightud", l_lightud);
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

/* Encodes what `make` returns in a fresh state, decodes it into another
** fresh state and runs `check` there on the decoded values. */
static void roundtrip(const char *make, const char *check) {
  lua_State *A = newstate(), *B = newstate();
  struct wp_buf buf = WP_BUF_INIT;
  const char *err = NULL;
  int n = run(A, make, 0);
  int top = lua_gettop(A);
  ASSERT_EQ(wp_codec_encode(A, 1, n, &buf, NULL, &err), 0);
  ASSERT_EQ(lua_gettop(A), top);  /* the encoder leaves the stack alone */
  ASSERT_EQ(wp_codec_count(buf.data, buf.len), n);
  ASSERT_EQ(wp_codec_decode(B, buf.data, buf.len), n);
  ASSERT_EQ(lua_gettop(B), n);
  run(B, check, n);
  wp_buf_free(&buf);
  lua_close(A);
  lua_close(B);
}

TEST(scalars) {
  roundtrip(
      "return nil, true, false, 0, 1, -1, 63, 64, -64, 127, 128, -65,"
      " math.maxinteger, math.mininteger, 1.5, -0.25, 1/0, -1/0, 0/0,"
      " 1e300, 5e-324, '', 'abc'",
      "local a = table.pack(...)\n"
      "assert(a.n == 23)\n"
      "assert(a[1] == nil and a[2] == true and a[3] == false)\n"
      "local ints = {0, 1, -1, 63, 64, -64, 127, 128, -65,"
      "              math.maxinteger, math.mininteger}\n"
      "for i, v in ipairs(ints) do\n"
      "  assert(math.type(a[3 + i]) == 'integer', i)\n"
      "  assert(a[3 + i] == v, i)\n"
      "end\n"
      "assert(math.type(a[15]) == 'float' and a[15] == 1.5)\n"
      "assert(a[16] == -0.25 and a[17] == 1/0 and a[18] == -1/0)\n"
      "assert(a[19] ~= a[19])\n"
      "assert(a[20] == 1e300 and a[21] == 5e-324)\n"
      "assert(a[22] == '' and a[23] == 'abc')\n");
  return 0;
}

TEST(integral_floats_become_integers) {
  roundtrip("return 3.0, -7.0, 2^62, 2^63, -2^63, -0.0, 2^53, 0.5",
            "local a, b, c, d, e, f, g, h = ...\n"
            "assert(math.type(a) == 'integer' and a == 3)\n"
            "assert(math.type(b) == 'integer' and b == -7)\n"
            "assert(math.type(c) == 'integer' and c == 1 << 62)\n"
            "assert(math.type(d) == 'float' and d == 2^63)\n"
            "assert(math.type(e) == 'integer' and e == math.mininteger)\n"
            "assert(math.type(f) == 'integer' and f == 0)\n"
            "assert(math.type(g) == 'integer' and g == 1 << 53)\n"
            "assert(math.type(h) == 'float' and h == 0.5)\n");
  return 0;
}

TEST(strings) {
  roundtrip(
      "return 'a\\0b\\0', string.rep('x', 31), string.rep('y', 32),"
      " string.rep('z\\0', 100), string.rep('w', 1 << 20)",
      "local a, b, c, d, e = ...\n"
      "assert(#a == 4 and a == 'a\\0b\\0')\n"
      "assert(b == string.rep('x', 31) and c == string.rep('y', 32))\n"
      "assert(d == string.rep('z\\0', 100) and #d == 200)\n"
      "assert(#e == 1 << 20 and e == string.rep('w', 1 << 20))\n");
  return 0;
}

TEST(nested_tables_and_mixed_keys) {
  roundtrip(
      "local tk = {name = 'key'}\n"
      "return {1, 2, 3, 'four', {5, {6}}, x = {y = {z = 'deep'}},"
      " [true] = 't', [false] = 'f', [1.5] = 'float', [-3] = 'neg',"
      " [0] = 'zero', [100] = 'sparse', [tk] = 'tablekey',"
      " [''] = 'empty', [math.maxinteger] = 'max'}",
      "local t = ...\n"
      "assert(#t == 5)\n"
      "assert(t[1] == 1 and t[2] == 2 and t[3] == 3 and t[4] == 'four')\n"
      "assert(t[5][1] == 5 and t[5][2][1] == 6)\n"
      "assert(t.x.y.z == 'deep')\n"
      "assert(t[true] == 't' and t[false] == 'f' and t[1.5] == 'float')\n"
      "assert(t[-3] == 'neg' and t[0] == 'zero' and t[100] == 'sparse')\n"
      "assert(t[''] == 'empty' and t[math.maxinteger] == 'max')\n"
      "local found = 0\n"
      "for k, v in pairs(t) do\n"
      "  if type(k) == 'table' then\n"
      "    assert(k.name == 'key' and v == 'tablekey'); found = found + 1\n"
      "  end\n"
      "end\n"
      "assert(found == 1)\n"
      "local n = 0 for _ in pairs(t) do n = n + 1 end\n"
      "assert(n == 15, n)\n");
  return 0;
}

TEST(arrays) {
  roundtrip(
      "local big = {} for i = 1, 10000 do big[i] = i * 2 end\n"
      "local h = {} for i = 1, 1000 do h['k' .. i] = i end\n"
      "return {}, {1, nil, 3}, big, h, {[1] = 'a', [2] = 'b', [4] = 'd'}",
      "local e, holes, big, h, sp = ...\n"
      "assert(next(e) == nil)\n"
      "assert(holes[1] == 1 and holes[2] == nil and holes[3] == 3)\n"
      "assert(#big == 10000)\n"
      "for i = 1, 10000 do assert(big[i] == i * 2) end\n"
      "local n = 0 for k, v in pairs(h) do n = n + 1; assert(h['k' .. v] == v) end\n"
      "assert(n == 1000)\n"
      "assert(sp[1] == 'a' and sp[2] == 'b' and sp[3] == nil and sp[4] == 'd')\n");
  return 0;
}

TEST(shared_subtables) {
  roundtrip(
      "local s = {v = 1}\n"
      "local t = {a = s, b = s, list = {s, s}}\n"
      "return t, s, t",
      "local t, s, t2 = ...\n"
      "assert(t.a == t.b and t.a == t.list[1] and t.list[1] == t.list[2])\n"
      "assert(rawequal(t.a, s) and rawequal(t, t2))\n"
      "s.v = 2\n"
      "assert(t.b.v == 2)\n");
  return 0;
}

TEST(cycles) {
  roundtrip(
      "local t = {} t.self = t\n"
      "local a, b, c = {n = 'a'}, {n = 'b'}, {n = 'c'}\n"
      "a.next, b.next, c.next = b, c, a\n"
      "local k = {} k[k] = k\n"
      "local arr = {} arr[1] = arr arr[2] = {arr}\n"
      "return t, a, k, arr",
      "local t, a, k, arr = ...\n"
      "assert(t.self == t)\n"
      "assert(a.n == 'a' and a.next.n == 'b' and a.next.next.n == 'c')\n"
      "assert(a.next.next.next == a)\n"
      "local key, val = next(k)\n"
      "assert(key == k and val == k and next(k, key) == nil)\n"
      "assert(arr[1] == arr and arr[2][1] == arr)\n");
  return 0;
}

TEST(dropped_values) {
  roundtrip(
      "local co = coroutine.create(print)\n"
      "return print, co, io.stdout, lightud(),"
      " {f = print, [print] = 1, co = co, [co] = 2, ud = io.stdout,"
      "  [io.stdout] = 3, [lightud()] = 4, l = lightud(), ok = 1,"
      "  arr = {1, print, 3, io.stdout, 5}},"
      " setmetatable({x = 1}, {__index = function() return 'meta' end})",
      "local a = table.pack(...)\n"
      "assert(a.n == 6)\n"
      "for i = 1, 4 do assert(a[i] == nil, i) end\n"
      "local t = a[5]\n"
      "local n = 0 for k in pairs(t) do n = n + 1 end\n"
      "assert(n == 2 and t.ok == 1)\n"
      "assert(t.arr[1] == 1 and t.arr[2] == nil and t.arr[3] == 3)\n"
      "assert(t.arr[4] == nil and t.arr[5] == 5)\n"
      "local m = a[6]\n"
      "assert(getmetatable(m) == nil and m.x == 1 and m.y == nil)\n");
  return 0;
}

TEST(error_objects) {
  roundtrip(
      "local e1 = mkerr('NotFound', 'no such\\0thing', true, nil,"
      "                 {code = 404, tags = {'a', 'b'}})\n"
      "local e2 = mkerr('', 'plain')\n"
      "local e3 = mkerr('Timeout', 'slow', false, 'while calling')\n"
      "local holder = {err = e1, [e2] = 'as key'}\n"
      "local cyc = {name = 'cyc'}\n"
      "local e4 = mkerr('Internal', 'cyclic', nil, nil, {back = cyc})\n"
      "cyc.err = e4\n"
      "return e1, e2, e3, holder, cyc",
      "local e1, e2, e3, holder, cyc = ...\n"
      "assert(type(e1) == 'userdata')\n"
      "assert(e1:kind() == 'NotFound' and e1:message() == 'no such\\0thing')\n"
      "assert(e1:retryable() == true and tostring(e1) == 'no such\\0thing')\n"
      "local d = e1:details()\n"
      "assert(d.code == 404 and d.tags[1] == 'a' and d.tags[2] == 'b')\n"
      "assert(e2:kind() == '' and e2:message() == 'plain')\n"
      "assert(e2:retryable() == nil and e2:details() == nil)\n"
      "assert(e2:stack() == 'plain')\n"
      "assert(e3:retryable() == false and e3:kind() == 'Timeout')\n"
      "assert(e3:message() == 'slow')\n"
      "assert(e3:stack() == 'while calling\\nslow')\n"
      "assert(holder.err:kind() == 'NotFound')\n"
      "local k, v = next(holder) if k == 'err' then k, v = next(holder, k) end\n"
      "assert(k:message() == 'plain' and v == 'as key')\n"
      "assert(cyc.name == 'cyc' and cyc.err:details().back == cyc)\n"
      "assert('x' .. e2 == 'xplain' and e2 .. 'y' == 'plainy')\n");
  return 0;
}

/* A result built without Lua (a killed process's): nil and the error, as
** wp_codec_encode would have made them, appended to what the buffer held. */
TEST(error_without_lua) {
  lua_State *B = newstate();
  struct wp_buf buf = WP_BUF_INIT;
  ASSERT_EQ(wp_buf_append(&buf, "x", 1), 0);
  ASSERT_EQ(wp_codec_encode_error(&buf, "Internal", "memory limit exceeded (limit 64M)"), 0);
  ASSERT_EQ(wp_codec_count(buf.data + 1, buf.len - 1), 2);
  ASSERT_EQ(wp_codec_decode(B, buf.data + 1, buf.len - 1), 2);
  run(B,
      "local v, e = ...\n"
      "assert(v == nil and type(e) == 'userdata')\n"
      "assert(e:kind() == 'Internal')\n"
      "assert(e:message() == 'memory limit exceeded (limit 64M)')\n"
      "assert(e:retryable() == nil and e:details() == nil)\n",
      2);
  wp_buf_free(&buf);
  lua_close(B);
  return 0;
}

/* Pushes a chain of `levels` nested tables: {{{...}}}. */
static void push_nested(lua_State *L, int levels) {
  lua_pushinteger(L, levels);
  run(L,
      "local n = ... local t = {leaf = true}\n"
      "for i = 2, n do t = {t} end\n"
      "return t",
      1);
}

TEST(depth_limit) {
  lua_State *A = newstate(), *B = newstate();
  struct wp_buf buf = WP_BUF_INIT;
  const char *err = NULL;
  ASSERT_EQ(wp_buf_append(&buf, "prefix", 6), 0);
  push_nested(A, WP_CODEC_DEFAULT_DEPTH);
  ASSERT_EQ(wp_codec_encode(A, -1, 1, &buf, NULL, &err), 0);
  ASSERT_EQ(wp_codec_decode(B, buf.data + 6, buf.len - 6), 1);
  lua_settop(A, 0);
  buf.len = 6;
  push_nested(A, WP_CODEC_DEFAULT_DEPTH + 1);
  ASSERT_EQ(wp_codec_encode(A, 1, 1, &buf, NULL, &err), -1);
  ASSERT_STREQ(err, "message too deep");
  ASSERT_EQ(buf.len, 6);  /* the buffer is as it was */
  ASSERT(memcmp(buf.data, "prefix", 6) == 0);
  ASSERT_EQ(lua_gettop(A), 1);
  /* A custom limit; a shared table deeper than the limit is a reference. */
  struct wp_codec_limits lim = {3, 0};
  err = NULL;
  run(A, "local s = {} return {{{s}}}, {{s}}", 0);
  ASSERT_EQ(wp_codec_encode(A, 2, 1, &buf, &lim, &err), -1);
  ASSERT_STREQ(err, "message too deep");
  ASSERT_EQ(wp_codec_encode(A, 3, 1, &buf, &lim, &err), 0);
  buf.len = 6;
  ASSERT_EQ(wp_codec_encode(A, 2, 2, &buf, &lim, &err), -1);
  lua_settop(A, 0);
  run(A, "local s = {} return {{s}}, {{{s}}}", 0);
  ASSERT_EQ(wp_codec_encode(A, 1, 2, &buf, &lim, &err), 0);
  /* Error details count as a level. */
  buf.len = 6;
  lua_settop(A, 0);
  run(A, "return {{mkerr('', 'm', nil, nil, {1})}}", 0);
  ASSERT_EQ(wp_codec_encode(A, 1, 1, &buf, &lim, &err), 0);
  buf.len = 6;
  lua_settop(A, 0);
  run(A, "return {{mkerr('', 'm', nil, nil, {{1}})}}", 0);
  ASSERT_EQ(wp_codec_encode(A, 1, 1, &buf, &lim, &err), -1);
  ASSERT_STREQ(err, "message too deep");
  /* A larger limit is clamped to what the decoder accepts (1000 levels). */
  struct wp_codec_limits big = {5000, 0};
  lua_settop(A, 0);
  lua_settop(B, 0);
  buf.len = 0;
  push_nested(A, 1000);
  ASSERT_EQ(wp_codec_encode(A, 1, 1, &buf, &big, &err), 0);
  ASSERT_EQ(wp_codec_decode(B, buf.data, buf.len), 1);
  lua_settop(A, 0);
  buf.len = 0;
  push_nested(A, 1001);
  ASSERT_EQ(wp_codec_encode(A, 1, 1, &buf, &big, &err), -1);
  ASSERT_STREQ(err, "message too deep");
  /* Crafted buffers: 1000 levels are accepted, 1001 refused. */
  for (int levels = 1000; levels <= 1001; levels++) {
    buf.len = 0;
    ASSERT_EQ(wp_buf_append(&buf, "\xF0", 1), 0);
    for (int i = 0; i < levels; i++) ASSERT_EQ(wp_buf_append(&buf, "\x07\x01\x00", 3), 0);
    ASSERT_EQ(wp_buf_append(&buf, "\x00", 1), 0);
    for (int i = 0; i < levels; i++) ASSERT_EQ(wp_buf_append(&buf, "\x0A", 1), 0);
    int want = levels == 1000 ? 1 : -1;
    lua_settop(B, 0);
    ASSERT_EQ(wp_codec_count(buf.data, buf.len), want);
    ASSERT_EQ(wp_codec_decode(B, buf.data, buf.len), want);
    ASSERT_EQ(lua_gettop(B), levels == 1000 ? 1 : 0);
  }
  wp_buf_free(&buf);
  lua_close(A);
  lua_close(B);
  return 0;
}

/*
** An error whose details are another error, a million times over: the
** details must be nil or a table, so the decoder refuses it at the first
** level instead of recursing until the C stack runs out. Errors nested
** through details tables count one level per table, like any table.
*/
TEST(error_details_depth) {
  lua_State *A = newstate(), *B = newstate();
  struct wp_buf buf = WP_BUF_INIT;
  const char *err = NULL;
  const int chain = 1000000;
  ASSERT_EQ(wp_buf_append(&buf, "\xF0", 1), 0);
  for (int i = 0; i < chain; i++)
    ASSERT_EQ(wp_buf_append(&buf, "\x09\x00\x00\x00\x00", 5), 0);
  ASSERT_EQ(wp_buf_append(&buf, "\x00", 1), 0);
  ASSERT_EQ(wp_codec_count(buf.data, buf.len), -1);
  ASSERT_EQ(wp_codec_decode(B, buf.data, buf.len), -1);
  ASSERT_EQ(lua_gettop(B), 0);
  /* err -> {err -> {...}}: 1000 details tables are accepted, 1001 not. */
  struct wp_codec_limits big = {5000, 0};
  for (int levels = 1000; levels <= 1001; levels++) {
    lua_pushinteger(A, levels);
    run(A,
        "local n = ... local e = mkerr('K', 'm')\n"
        "for i = 1, n do e = mkerr('K', 'm' .. i, nil, nil, {e}) end\n"
        "return e",
        1);
    buf.len = 0;
    int rc = wp_codec_encode(A, 1, 1, &buf, &big, &err);
    lua_settop(A, 0);
    if (levels == 1000) {
      ASSERT_EQ(rc, 0);
      ASSERT_EQ(wp_codec_decode(B, buf.data, buf.len), 1);
      run(B, "local e = ... assert(e:message() == 'm1000')\n"
             "for i = 999, 1, -1 do e = e:details()[1] assert(e:message() == 'm' .. i) end\n"
             "assert(e:details()[1]:details() == nil)", 1);
    } else {
      ASSERT_EQ(rc, -1);
      ASSERT_STREQ(err, "message too deep");
    }
  }
  wp_buf_free(&buf);
  lua_close(A);
  lua_close(B);
  return 0;
}

TEST(size_limit) {
  lua_State *A = newstate();
  struct wp_buf buf = WP_BUF_INIT;
  const char *err = NULL;
  struct wp_codec_limits lim = {0, 100};
  run(A, "return string.rep('x', 90), string.rep('x', 100)", 0);
  ASSERT_EQ(wp_codec_encode(A, 1, 1, &buf, &lim, &err), 0);
  size_t ok_len = buf.len;
  ASSERT(ok_len <= 100);
  ASSERT_EQ(wp_codec_encode(A, 2, 1, &buf, &lim, &err), -1);
  ASSERT_STREQ(err, "message too large");
  ASSERT_EQ(buf.len, ok_len);
  /* Many small values over the limit, inside nested tables. */
  lua_settop(A, 0);
  run(A, "local t = {} for i = 1, 50 do t[i] = {i} end return t", 0);
  err = NULL;
  ASSERT_EQ(wp_codec_encode(A, 1, 1, &buf, &lim, &err), -1);
  ASSERT_STREQ(err, "message too large");
  ASSERT_EQ(buf.len, ok_len);
  ASSERT_EQ(lua_gettop(A), 1);
  /* Exactly at the limit is fine: chunk byte, tag, length byte and 97
  ** bytes make 100; one more byte of string does not fit. */
  lua_settop(A, 0);
  buf.len = 0;
  run(A, "return string.rep('x', 97), string.rep('x', 98)", 0);
  ASSERT_EQ(wp_codec_encode(A, 1, 1, &buf, &lim, &err), 0);
  ASSERT_EQ(buf.len, 100);
  buf.len = 0;
  ASSERT_EQ(wp_codec_encode(A, 2, 1, &buf, &lim, &err), -1);
  wp_buf_free(&buf);
  lua_close(A);
  return 0;
}

/*
** Error paths with the pointer hash allocated (many tables, then a failure)
** leak nothing: LeakSanitizer checks this under the sanitizer build. Here we
** also check the buffer and the stack.
*/
TEST(no_leak_on_error) {
  lua_State *A = newstate();
  struct wp_buf buf = WP_BUF_INIT;
  struct wp_codec_limits deep = {8, 0}, small = {0, 2000};
  run(A,
      "local t = {} for i = 1, 200 do t[i] = {i} end\n"
      "local d = {} for i = 1, 20 do d = {d} end\n"
      "t[201] = d\n"
      "local u = {} for i = 1, 500 do u[i] = {i, {i}} end\n"
      "return t, u",
      0);
  for (int i = 0; i < 200; i++) {
    const char *err = NULL;
    ASSERT_EQ(wp_codec_encode(A, 1, 1, &buf, &deep, &err), -1);
    ASSERT_STREQ(err, "message too deep");
    ASSERT_EQ(wp_codec_encode(A, 2, 1, &buf, &small, &err), -1);
    ASSERT_STREQ(err, "message too large");
    ASSERT_EQ(buf.len, 0);
    ASSERT_EQ(lua_gettop(A), 2);
  }
  wp_buf_free(&buf);
  lua_close(A);
  return 0;
}

TEST(isolation) {
  lua_State *A = newstate(), *B = newstate();
  struct wp_buf buf = WP_BUF_INIT;
  const char *err;
  run(A, "T = {x = 1, sub = {y = 'y'}, list = {1, 2}} return T", 0);
  ASSERT_EQ(wp_codec_encode(A, 1, 1, &buf, NULL, &err), 0);
  run(A, "T.x = 2 T.sub.y = nil T.list[3] = 3 T.new = true", 0);
  ASSERT_EQ(wp_codec_decode(B, buf.data, buf.len), 1);
  run(B,
      "local t = ...\n"
      "assert(t.x == 1 and t.sub.y == 'y' and #t.list == 2 and t.new == nil)\n"
      "t.x = 5",
      1);
  /* Decoding twice gives two independent copies. */
  ASSERT_EQ(wp_codec_decode(B, buf.data, buf.len), 1);
  ASSERT_EQ(wp_codec_decode(B, buf.data, buf.len), 1);
  ASSERT(!lua_rawequal(B, -1, -2));
  run(B, "local a, b = ... a.x = 9 assert(b.x == 1)", 2);
  /* The sender's numeric keys were not converted by the encoder. */
  run(A,
      "local t = {[1.5] = 'a', [2] = 'b', [10] = 'c'}\n"
      "return t",
      0);
  buf.len = 0;
  ASSERT_EQ(wp_codec_encode(A, -1, 1, &buf, NULL, &err), 0);
  run(A,
      "local t = ... local n = 0\n"
      "for k in pairs(t) do assert(type(k) == 'number') n = n + 1 end\n"
      "assert(n == 3)",
      1);
  wp_buf_free(&buf);
  lua_close(A);
  lua_close(B);
  return 0;
}

TEST(count_and_chunks) {
  lua_State *A = newstate(), *B = newstate();
  struct wp_buf buf = WP_BUF_INIT;
  const char *err;
  ASSERT_EQ(wp_codec_count(NULL, 0), 0);
  ASSERT_EQ(wp_codec_decode(B, NULL, 0), 0);
  ASSERT_EQ(wp_codec_encode(A, 1, 0, &buf, NULL, &err), 0);
  ASSERT_EQ(buf.len, 1);
  ASSERT_EQ(wp_codec_count(buf.data, buf.len), 0);
  ASSERT_EQ(wp_codec_decode(B, buf.data, buf.len), 0);
  ASSERT_EQ(lua_gettop(B), 0);
  run(A, "S = {v = 's'} return 1, S, S, 'x', {S}", 0);
  ASSERT_EQ(wp_codec_encode(A, 1, 3, &buf, NULL, &err), 0);
  ASSERT_EQ(wp_codec_encode(A, 4, 2, &buf, NULL, &err), 0);
  ASSERT_EQ(wp_codec_count(buf.data, buf.len), 5);
  ASSERT_EQ(wp_codec_decode(B, buf.data, buf.len), 5);
  ASSERT_EQ(lua_gettop(B), 5);
  /* Sharing holds within one encode call, not across calls. */
  run(B,
      "local a, b, c, d, e = ...\n"
      "assert(a == 1 and b.v == 's' and b == c and d == 'x')\n"
      "assert(e[1].v == 's' and e[1] ~= b)",
      5);
  wp_buf_free(&buf);
  lua_close(A);
  lua_close(B);
  return 0;
}

/* The documented byte layout, pinned. */
TEST(format) {
  lua_State *A = newstate();
  struct wp_buf buf = WP_BUF_INIT;
  const char *err;
  run(A, "local t = {7} t.t = t return nil, true, 5, -1, 'hi', t", 0);
  ASSERT_EQ(wp_codec_encode(A, 1, 6, &buf, NULL, &err), 0);
  static const uint8_t want[] = {
      0xF1,                    /* chunk with back-references */
      0x00, 0x02, 0x45,        /* nil, true, small int 5 */
      0x04, 0x01,              /* int, zigzag(-1) = 1 */
      0x22, 'h', 'i',          /* short string */
      0x07, 0x01, 0x01, 0x47,  /* table: 1 array value, 1 pair; 7 */
      0x21, 't', 0x08, 0x01,   /* "t" = table 1 */
      0x0A};
  ASSERT_EQ(buf.len, sizeof want);
  ASSERT(memcmp(buf.data, want, sizeof want) == 0);
  wp_buf_free(&buf);
  lua_close(A);
  return 0;
}

/* Hand-made buffers that must be refused. */
TEST(malformed) {
  lua_State *B = newstate();
  static const struct {
    const char *what;
    uint8_t b[16];
    size_t n;
  } bad[] = {
      {"no chunk header", {0x00}, 1},
      {"unknown tag", {0xF0, 0x0B}, 2},
      {"bad chunk byte", {0xF2, 0x00}, 2},
      {"end at top", {0xF0, 0x0A}, 2},
      {"nil key", {0xF0, 0x07, 0x00, 0x00, 0x00, 0x01, 0x0A}, 7},
      {"dropped key", {0xF0, 0x07, 0x00, 0x00, 0x03, 0x01, 0x0A}, 7},
      {"NaN key",
       {0xF0, 0x07, 0x00, 0x00, 0x05, 0, 0, 0, 0, 0, 0, 0xF8, 0x7F, 0x01, 0x0A},
       15},
      {"ref without flag", {0xF0, 0x07, 0x00, 0x00, 0x41, 0x08, 0x01, 0x0A}, 8},
      {"ref out of range", {0xF1, 0x07, 0x00, 0x00, 0x41, 0x08, 0x02, 0x0A}, 8},
      {"ref zero", {0xF1, 0x08, 0x00}, 3},
      {"array longer than buffer", {0xF0, 0x07, 0x05, 0x00, 0x01, 0x0A}, 6},
      {"string past end", {0xF0, 0x06, 0x05, 'a', 'b'}, 5},
      {"short string past end", {0xF0, 0x25, 'a'}, 3},
      {"varint overflow",
       {0xF0, 0x04, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02},
       12},
      {"unterminated varint", {0xF0, 0x04, 0x80, 0x80}, 4},
      {"float short", {0xF0, 0x05, 0, 0, 0}, 5},
      {"bad retryable", {0xF0, 0x09, 0x03, 0x00, 0x00, 0x00, 0x00}, 7},
      {"details not a table", {0xF0, 0x09, 0x00, 0x00, 0x00, 0x00, 0x41}, 7},
      {"unterminated table", {0xF0, 0x07, 0x00, 0x00, 0x41, 0x41}, 6},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint8_t *copy = malloc(bad[i].n);  /* exact size: ASan sees overreads */
    memcpy(copy, bad[i].b, bad[i].n);
    lua_pushliteral(B, "sentinel");
    if (wp_codec_decode(B, copy, bad[i].n) != -1) TEST_FAIL("accepted: %s", bad[i].what);
    if (wp_codec_count(copy, bad[i].n) != -1) TEST_FAIL("counted: %s", bad[i].what);
    ASSERT_EQ(lua_gettop(B), 1);
    ASSERT_STREQ(lua_tostring(B, 1), "sentinel");
    lua_settop(B, 0);
    free(copy);
  }
  /* And a few good ones: an error object, an inf float, an empty chunk pair. */
  static const uint8_t good[] = {0xF0, 0x09, 0x02, 0x01, 'K', 0x01, 'm', 0x02,
                                 'c', 0x00, 0xF0, 0xF1};
  ASSERT_EQ(wp_codec_decode(B, good, sizeof good), 1);
  ASSERT(wp_err_is(B, 1));
  ASSERT_STREQ(wp_err_kind(B, 1), "K");
  ASSERT_STREQ(wp_err_context(B, 1), "c");
  ASSERT_EQ(wp_err_retryable(B, 1), 1);
  lua_close(B);
  return 0;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* Decodes a copy of data[0..n) exactly that large; checks count == decode
** and the stack effect. Returns the result. */
static int try_decode(lua_State *B, const uint8_t *data, size_t n) {
  uint8_t *copy = malloc(n ? n : 1);
  if (n) memcpy(copy, data, n);
  int top = lua_gettop(B);
  int c = wp_codec_count(copy, n);
  int r = wp_codec_decode(B, copy, n);
  ASSERT_EQ(r, c);
  ASSERT_EQ(lua_gettop(B), top + (r < 0 ? 0 : r));
  lua_settop(B, top);
  free(copy);
  return r;
}

static const char rich[] =
    "local s = {shared = true}\n"
    "local t = {1, -2, 3.25, 'str', s, s, {nested = {deeper = {1, 2}}},"
    " [true] = false, [1.5] = 2^70, name = string.rep('n', 40),"
    " err = mkerr('Invalid', 'bad input', false, 'ctx', {field = 'x', s = s}),"
    " [s] = 'key'}\n"
    "t.self = t\n"
    "return t, 'tail', 12345678901, mkerr('', 'e')";

TEST(corrupt_buffers) {
  lua_State *A = newstate(), *B = newstate();
  struct wp_buf buf = WP_BUF_INIT;
  const char *err;
  int n = run(A, rich, 0);
  ASSERT_EQ(wp_codec_encode(A, 1, n, &buf, NULL, &err), 0);
  ASSERT_EQ(try_decode(B, buf.data, buf.len), n);
  /* Every truncation: refused, or a prefix of whole values. */
  int ok = 0;
  for (size_t k = 0; k < buf.len; k++) {
    int r = try_decode(B, buf.data, k);
    ASSERT(r < n);
    ok += r >= 0;
  }
  ASSERT(ok >= 4);  /* empty, chunk byte, and after each value but the last */
  /* Random flips of one to three bytes. */
  uint8_t *m = malloc(buf.len);
  int accepted = 0, refused = 0;
  for (int it = 0; it < 30000; it++) {
    memcpy(m, buf.data, buf.len);
    int flips = 1 + (int)(rng() % 3);
    for (int f = 0; f < flips; f++) {
      size_t at = rng() % buf.len;
      m[at] = (it & 1) ? (uint8_t)rng() : (uint8_t)(m[at] ^ (1u << (rng() % 8)));
    }
    if (try_decode(B, m, buf.len) < 0)
      refused++;
    else
      accepted++;
  }
  ASSERT(refused > 0 && accepted > 0);
  /* Random garbage after a valid chunk header. */
  for (int it = 0; it < 5000; it++) {
    size_t len = 1 + rng() % 40;
    for (size_t i = 0; i < len; i++) m[i] = (uint8_t)rng();
    m[0] = (it & 1) ? 0xF1 : 0xF0;
    try_decode(B, m, len);
  }
  free(m);
  wp_buf_free(&buf);
  lua_close(A);
  lua_close(B);
  return 0;
}

/* The echo request: its encoded size (the hot path's bytes; bench_codec
** measures its cost) and a round trip. */
TEST(echo_envelope) {
  lua_State *A = newstate(), *B = newstate();
  struct wp_buf buf = WP_BUF_INIT;
  const char *err;
  run(A, "return {sender = '{app:terminal|0x00003}', data = 'hello world'}", 0);
  ASSERT_EQ(wp_codec_encode(A, 1, 1, &buf, NULL, &err), 0);
  ASSERT_EQ(buf.len, 52);  /* 1 + 3 + (1 + 6) + (1 + 22) + (1 + 4) + (1 + 11) + 1 */
  ASSERT_EQ(wp_codec_decode(B, buf.data, buf.len), 1);
  run(B, "local t = ... assert(t.sender == '{app:terminal|0x00003}'"
         " and t.data == 'hello world')", 1);
  wp_buf_free(&buf);
  lua_close(A);
  lua_close(B);
  return 0;
}

TEST_LIST = {
  TEST_ENTRY(scalars),
  TEST_ENTRY(integral_floats_become_integers),
  TEST_ENTRY(strings),
  TEST_ENTRY(nested_tables_and_mixed_keys),
  TEST_ENTRY(arrays),
  TEST_ENTRY(shared_subtables),
  TEST_ENTRY(cycles),
  TEST_ENTRY(dropped_values),
  TEST_ENTRY(error_objects),
  TEST_ENTRY(error_without_lua),
  TEST_ENTRY(depth_limit),
  TEST_ENTRY(error_details_depth),
  TEST_ENTRY(size_limit),
  TEST_ENTRY(no_leak_on_error),
  TEST_ENTRY(isolation),
  TEST_ENTRY(count_and_chunks),
  TEST_ENTRY(format),
  TEST_ENTRY(malformed),
  TEST_ENTRY(corrupt_buffers),
  TEST_ENTRY(echo_envelope),
  TEST_END
};
