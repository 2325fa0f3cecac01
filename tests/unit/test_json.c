/*
** test_json.c: modules/json.c (spec 05 §8): encoding of every value type,
** float formatting, string escaping and UTF-8 repair, table classification
** and its errors (mixed keys, sparse arrays, cycles, depth), decoding of
** every JSON construct, every decode error with its kind and offset,
** random round-trip fuzzing of nested values, mutation fuzzing (decode never
** raises), and allocation-failure runs (no leaks under ASan).
**
** Each test opens a plain Lua state with the standard libraries, sets the
** module as the global `json` and runs Lua snippets. The snippets share the
** helpers in PRELUDE.
*/
#include <lauxlib.h>
#include <locale.h>
#include <lualib.h>
#include <string.h>

#include "errobj.h"
#include "test.h"
#include "test_vp.h"

int wp_open_json(lua_State *L);

static const char PRELUDE[] =
    "function deq(a, b, path)\n"
    "  path = path or '$'\n"
    "  if type(a) ~= type(b) then\n"
    "    return false, path .. ': ' .. type(a) .. ' vs ' .. type(b)\n"
    "  end\n"
    "  if type(a) ~= 'table' then\n"
    "    if a == b then return true end\n"
    "    return false, path .. ': ' .. tostring(a) .. ' vs ' .. tostring(b)\n"
    "  end\n"
    "  for k, v in pairs(a) do\n"
    "    local ok, why = deq(v, b[k], path .. '.' .. tostring(k))\n"
    "    if not ok then return false, why end\n"
    "  end\n"
    "  for k in pairs(b) do\n"
    "    if a[k] == nil then return false, path .. '.' .. tostring(k) .. ' extra' end\n"
    "  end\n"
    "  return true\n"
    "end\n"
    "function enc_ok(v, want)\n"
    "  local s, err = json.encode(v)\n"
    "  assert(err == nil, 'unexpected error: ' .. tostring(err))\n"
    "  assert(s == want, 'got ' .. tostring(s) .. ' want ' .. want)\n"
    "end\n"
    "function enc_err(v, pat)\n"
    "  local s, err = json.encode(v)\n"
    "  assert(s == nil and select('#', json.encode(v)) == 2, 'expected failure, got ' .. tostring(s))\n"
    "  assert(type(err) == 'userdata', 'error is ' .. type(err))\n"
    "  assert(err:kind() == errors_INTERNAL, 'kind ' .. err:kind())\n"
    "  assert(err:message():find(pat, 1, true), 'message ' .. err:message() .. ' lacks ' .. pat)\n"
    "end\n"
    "function dec_ok(s, want)\n"
    "  local v, err = json.decode(s)\n"
    "  assert(err == nil, 'unexpected error for ' .. s .. ': ' .. tostring(err))\n"
    "  local ok, why = deq(v, want)\n"
    "  assert(ok, 'decode ' .. s .. ': ' .. tostring(why))\n"
    "  return v\n"
    "end\n"
    "function dec_err(s, kind, pat)\n"
    "  local v, err = json.decode(s)\n"
    "  assert(v == nil and type(err) == 'userdata', 'expected failure for ' .. tostring(s))\n"
    "  assert(err:kind() == kind, 'kind ' .. err:kind() .. ' for ' .. tostring(s))\n"
    "  if pat then\n"
    "    assert(err:message():find(pat, 1, true),\n"
    "           'message \"' .. err:message() .. '\" lacks \"' .. pat .. '\"')\n"
    "  end\n"
    "  return err\n"
    "end\n"
    "errors_INTERNAL, errors_INVALID = 'Internal', 'Invalid'\n";

static lua_State *newstate(void) {
  lua_State *L = luaL_newstate();
  ASSERT(L != NULL);
  attach_vp(L);
  luaL_openlibs(L);
  ASSERT_EQ(wp_open_json(L), 1);
  lua_setglobal(L, "json");
  if (luaL_dostring(L, PRELUDE) != LUA_OK) TEST_FAIL("prelude: %s", lua_tostring(L, -1));
  return L;
}

static void run(lua_State *L, const char *src) {
  if (luaL_loadstring(L, src) != LUA_OK) TEST_FAIL("load: %s", lua_tostring(L, -1));
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) TEST_FAIL("lua: %s", luaL_tolstring(L, -1, NULL));
  ASSERT_EQ(lua_gettop(L), 0);
}

static int run_file(const char *src) {
  lua_State *L = newstate();
  run(L, src);
  lua_close(L);
  return 0;
}

/* ---- module shape ---- */

TEST(module_table) {
  return run_file(
      "assert(type(json) == 'table')\n"
      "assert(type(json.encode) == 'function' and type(json.decode) == 'function')\n"
      "assert(json.encode() == 'null')\n"
      "assert(select('#', json.encode(1)) == 1)\n"
      "assert(select('#', json.decode('1')) == 1)\n");
}

/* ---- encode: scalars ---- */

TEST(encode_scalars) {
  return run_file(
      "enc_ok(nil, 'null')\n"
      "enc_ok(true, 'true')\n"
      "enc_ok(false, 'false')\n"
      "enc_ok(0, '0')\n"
      "enc_ok(42, '42')\n"
      "enc_ok(-7, '-7')\n"
      "enc_ok(math.maxinteger, '9223372036854775807')\n"
      "enc_ok(math.mininteger, '-9223372036854775808')\n"
      "enc_ok(0/0, 'null')\n"
      "enc_ok(-(0/0), 'null')\n"
      "enc_ok(math.huge, 'null')\n"
      "enc_ok(-math.huge, 'null')\n"
      "enc_ok({1, 0/0, math.huge}, '[1,null,null]')\n"
      "enc_ok('', '\"\"')\n"
      "enc_ok('hello', '\"hello\"')\n");
}

TEST(encode_floats) {
  return run_file(
      "enc_ok(2.0, '2')\n"
      "enc_ok(-2.0, '-2')\n"
      "enc_ok(100.0, '100')\n"
      "enc_ok(0.0, '0')\n"
      "enc_ok(-0.0, '-0')\n"
      "enc_ok(0.1, '0.1')\n"
      "enc_ok(-2.5, '-2.5')\n"
      "enc_ok(1/3, '0.3333333333333333')\n"
      "enc_ok(0.1 + 0.2, '0.30000000000000004')\n"
      "enc_ok(123456789.125, '123456789.125')\n"
      "enc_ok(2.0^53, '9007199254740992')\n"
      "enc_ok(2.0^63, '9223372036854776000')\n"
      "enc_ok(-2.0^63, '-9223372036854776000')\n"
      /* integral floats below 2^63 print exactly (decode gives an equal integer) */
      "enc_ok(2.0^62 + 2048, '4611686018427389952')\n"
      "enc_ok(-(2.0^62 + 2048), '-4611686018427389952')\n"
      "enc_ok(1e18, '1000000000000000000')\n"
      "assert(json.decode(json.encode(2.0^62 + 2048)) == 2.0^62 + 2048)\n"
      "enc_ok(1e20, '100000000000000000000')\n"
      "enc_ok(1e21, '1e+21')\n"
      "enc_ok(1.5e21, '1.5e+21')\n"
      "enc_ok(-1.2345e22, '-1.2345e+22')\n"
      "enc_ok(1e300, '1e+300')\n"
      "enc_ok(1e-6, '0.000001')\n"
      "enc_ok(1.5e-6, '0.0000015')\n"
      "enc_ok(1e-7, '1e-7')\n"
      "enc_ok(-1.5e-7, '-1.5e-7')\n"
      "enc_ok(5e-324, '5e-324')\n"
      "enc_ok(2.2250738585072014e-308, '2.2250738585072014e-308')\n"
      "enc_ok(1.7976931348623157e308, '1.7976931348623157e+308')\n"
      /* every finite double reads back exactly and in at most 17 digits */
      "math.randomseed(7)\n"
      "for i = 1, 20000 do\n"
      "  local d\n"
      "  if i % 2 == 0 then\n"
      "    d = string.unpack('<d', string.pack('<i8', math.random(math.mininteger, math.maxinteger)))\n"
      "  else\n"
      "    d = (math.random() - 0.5) * 10.0 ^ math.random(-30, 30)\n"
      "  end\n"
      "  if d == d and d ~= math.huge and d ~= -math.huge then\n"
      "    local s = json.encode(d)\n"
      "    assert(s:match('^%-?[0-9]+%.?[0-9]*e?[-+]?[0-9]*$'), s)\n"
      "    assert(tonumber(s) == d, s .. ' vs ' .. string.format('%.17g', d))\n"
      "    local digits = s:gsub('e.*', ''):gsub('[^0-9]', ''):gsub('^0+', '')\n"
      "    assert(#digits <= 17 or not s:find('e'), s)\n"
      "    local back = json.decode(s)\n"
      "    assert(back == d, s)\n"
      "  end\n"
      "end\n");
}

/* ---- encode: strings ---- */

TEST(encode_strings) {
  return run_file(
      "enc_ok('a\"b\\\\c', '\"a\\\\\"b\\\\\\\\c\"')\n"
      "enc_ok('\\n\\r\\t\\b\\f', '\"\\\\n\\\\r\\\\t\\\\b\\\\f\"')\n"
      "enc_ok('\\0\\1\\31\\127', '\"\\\\u0000\\\\u0001\\\\u001f\\127\"')\n"
      "enc_ok('/<>&', '\"/<>&\"')\n"
      /* valid UTF-8 passes through, 2, 3 and 4 bytes */
      "enc_ok('caf\\u{e9} \\u{20ac} \\u{1F600}', '\"caf\\u{e9} \\u{20ac} \\u{1F600}\"')\n"
      "enc_ok('\\u{7FF}\\u{800}\\u{FFFF}\\u{10000}\\u{10FFFF}', '\"\\u{7FF}\\u{800}\\u{FFFF}\\u{10000}\\u{10FFFF}\"')\n"
      /* line and paragraph separators are escaped, like Go */
      "enc_ok('a\\u{2028}b\\u{2029}c', '\"a\\\\u2028b\\\\u2029c\"')\n"
      /* invalid UTF-8: each bad byte becomes \\ufffd */
      "enc_ok('\\xff', '\"\\\\ufffd\"')\n"
      "enc_ok('a\\x80b', '\"a\\\\ufffdb\"')\n"
      "enc_ok('\\xC0\\xAF', '\"\\\\ufffd\\\\ufffd\"')\n"                /* overlong */
      "enc_ok('\\xE0\\x80\\xAF', '\"\\\\ufffd\\\\ufffd\\\\ufffd\"')\n"  /* overlong */
      "enc_ok('\\xED\\xA0\\x80', '\"\\\\ufffd\\\\ufffd\\\\ufffd\"')\n"  /* surrogate */
      "enc_ok('\\xF4\\x90\\x80\\x80', '\"\\\\ufffd\\\\ufffd\\\\ufffd\\\\ufffd\"')\n" /* > U+10FFFF */
      "enc_ok('\\xE2\\x82', '\"\\\\ufffd\\\\ufffd\"')\n"                /* truncated */
      "enc_ok('\\xE2\\x82x', '\"\\\\ufffd\\\\ufffdx\"')\n"
      "enc_ok('\\xF0\\x9F\\x98', '\"\\\\ufffd\\\\ufffd\\\\ufffd\"')\n"
      "enc_ok('\\xC3', '\"\\\\ufffd\"')\n"
      /* a long string grows the buffer */
      "local big = string.rep('x\\n\\u{e9}', 100000)\n"
      "local s = json.encode(big)\n"
      "assert(#s == 2 + 100000 * 5)\n"
      "assert(json.decode(s) == big)\n"
      /* random byte strings: valid ones survive, invalid ones come back valid */
      "math.randomseed(11)\n"
      "for i = 1, 3000 do\n"
      "  local t = {}\n"
      "  for j = 1, math.random(0, 12) do t[j] = string.char(math.random(0, 255)) end\n"
      "  local raw = table.concat(t)\n"
      "  local back = assert(json.decode(assert(json.encode(raw))))\n"
      "  if utf8.len(raw) then assert(back == raw) else\n"
      "    assert(back ~= raw and utf8.len(back), raw)\n"
      "  end\n"
      "end\n");
}

/* ---- encode: tables ---- */

TEST(encode_tables) {
  return run_file(
      "enc_ok({}, '[]')\n"
      "enc_ok({1, 2, 3}, '[1,2,3]')\n"
      "enc_ok({'a', true, false, 1.5}, '[\"a\",true,false,1.5]')\n"
      "enc_ok({{}, {{}}}, '[[],[[]]]')\n"
      "enc_ok({a = 1}, '{\"a\":1}')\n"
      /* keys sorted bytewise */
      "enc_ok({b = 1, a = 2, c = 3, A = 4, aa = 5, [''] = 6}, '{\"\":6,\"A\":4,\"a\":2,\"aa\":5,\"b\":1,\"c\":3}')\n"
      "enc_ok({['a\\0b'] = 1, ['a'] = 2, ['a\\0'] = 3}, '{\"a\":2,\"a\\\\u0000\":3,\"a\\\\u0000b\":1}')\n"
      "enc_ok({['k\"\\n'] = 'v'}, '{\"k\\\\\"\\\\n\":\"v\"}')\n"
      "enc_ok({list = {1, {x = {}}}, obj = {y = {z = 'w'}}},\n"
      "       '{\"list\":[1,{\"x\":[]}],\"obj\":{\"y\":{\"z\":\"w\"}}}')\n"
      /* integral float keys are integer keys in Lua */
      "enc_ok({[1.0] = 'a', [2] = 'b'}, '[\"a\",\"b\"]')\n"
      /* keys assigned out of order / hash part */
      "local t = {}; t[3] = 'c'; t[1] = 'a'; t[2] = 'b'\n"
      "enc_ok(t, '[\"a\",\"b\",\"c\"]')\n"
      /* {1, nil, 3} has a hole: sparse */
      "enc_err({1, nil, 3}, 'cannot encode sparse array: non-contiguous numeric keys found')\n"
      "enc_err({[2] = 'x'}, 'sparse array')\n"
      "enc_err({[1] = 'a', [3] = 'c'}, 'sparse array')\n"
      /* spec 10 §5.1: other keys than positive integers are object keys in
      ** string form, and count as non-numeric for the mixed-key rule */
      "enc_ok({[0] = 'x'}, '{\"0\":\"x\"}')\n"
      "enc_ok({[-1] = 'x', [1.5] = 2, [true] = 3}, '{\"-1\":\"x\",\"1.5\":2,\"true\":3}')\n"
      "enc_err({[-1] = 'x', [1] = 'y'}, 'cannot encode mixed-key table: table has both numeric and non-numeric keys')\n"
      "enc_err({1, [0] = 2}, 'mixed-key table')\n"
      "enc_err({1, 2, x = 3}, 'mixed-key table')\n"
      "enc_err({x = 1, [5] = 3}, 'mixed-key table')\n"
      "enc_err({[{}] = 1}, 'unsupported table key type table')\n"
      "enc_err({a = {b = {[print] = 1}}}, 'unsupported table key type function')\n"
      /* metatables are ignored: raw content only */
      "local mt = setmetatable({}, {__index = function() return 1 end,\n"
      "  __pairs = function() error('no') end, __len = function() return 9 end})\n"
      "enc_ok(mt, '[]')\n"
      "rawset(mt, 1, 'x')\n"
      "enc_ok(mt, '[\"x\"]')\n"
      /* a large array */
      "local big = {}\n"
      "for i = 1, 100000 do big[i] = i end\n"
      "local s = json.encode(big)\n"
      "assert(s:sub(1, 8) == '[1,2,3,4' and s:sub(-8) == ',100000]')\n"
      "assert(#json.decode(s) == 100000)\n");
}

TEST(encode_cycles_and_depth) {
  return run_file(
      "local t = {}; t.self = t\n"
      "enc_err(t, 'cannot encode recursively nested tables to JSON')\n"
      "local a = {}; a[1] = a\n"
      "enc_err(a, 'recursively nested')\n"
      "local x = {b = {c = {}}}; x.b.c.d = {x}\n"
      "enc_err(x, 'recursively nested')\n"
      "enc_err({1, 2, {3, x}}, 'recursively nested')\n"
      /* a shared table that is not a cycle encodes each time */
      "local s = {1}\n"
      "enc_ok({s, s, {s}}, '[[1],[1],[[1]]]')\n"
      "enc_ok({p = s, q = s}, '{\"p\":[1],\"q\":[1]}')\n"
      /* depth: 128 nested tables are fine, 129 are not */
      "local function nest(n, obj)\n"
      "  local v = 0\n"
      "  for i = 1, n do if obj then v = {k = v} else v = {v} end end\n"
      "  return v\n"
      "end\n"
      "local ok128 = assert(json.encode(nest(128)))\n"
      "assert(ok128 == string.rep('[', 128) .. '0' .. string.rep(']', 128))\n"
      "assert(json.encode(nest(128, true)))\n"
      "enc_err(nest(129), 'exceeded maximum nesting depth for JSON encoding')\n"
      "enc_err(nest(129, true), 'depth')\n"
      "enc_err(nest(100000), 'depth')\n"
      "local deq_ok = deq(json.decode(ok128), nest(128))\n"
      "assert(deq_ok)\n");
}

TEST(encode_unsupported) {
  return run_file(
      /* spec 10 §5.1: functions, coroutines and userdata other than error
      ** objects encode as null */
      "enc_ok(print, 'null')\n"
      "enc_ok(function() end, 'null')\n"
      "enc_ok(coroutine.create(print), 'null')\n"
      "enc_ok(io.stdout, 'null')\n"
      "enc_ok({1, {f = print}}, '[1,{\"f\":null}]')\n"
      "enc_ok({a = 1, b = io.stdout}, '{\"a\":1,\"b\":null}')\n"
      /* error objects encode as their message */
      "local _, e = json.decode(1)\n"
      "assert(type(e) == 'userdata')\n"
      "enc_ok(e, '\"string expected\"')\n"
      "enc_ok({err = e, n = 1}, '{\"err\":\"string expected\",\"n\":1}')\n"
      /* the error of a failed encode is itself encodable; not retryable */
      "local _, e2 = json.encode({1, x = 1})\n"
      "assert(e2:retryable() == false)\n"
      "enc_ok(e2, '\"json: cannot encode mixed-key table: table has both numeric and non-numeric keys\"')\n");
}

/* ---- decode ---- */

TEST(decode_scalars) {
  return run_file(
      "assert(json.decode('null') == nil and select('#', json.decode('null')) == 1)\n"
      "assert(json.decode('true') == true and json.decode('false') == false)\n"
      "assert(json.decode(' \\t\\r\\n true \\n') == true)\n"
      "local function num(s, v, ty)\n"
      "  local got = json.decode(s)\n"
      "  assert(got == v and math.type(got) == ty, s .. ' -> ' .. tostring(got) .. ' ' .. tostring(math.type(got)))\n"
      "end\n"
      "num('0', 0, 'integer')\n"
      "num('-0', 0, 'float')\n"
      "assert(1 / json.decode('-0') == -math.huge and json.encode(json.decode('-0')) == '-0')\n"
      "num('42', 42, 'integer')\n"
      "num('-42', -42, 'integer')\n"
      "num('9223372036854775807', math.maxinteger, 'integer')\n"
      "num('-9223372036854775808', math.mininteger, 'integer')\n"
      "num('9223372036854775808', 2.0^63, 'float')\n"
      "num('-9223372036854775809', -2.0^63, 'float')\n"
      "num('123456789012345678901234567890', 1.2345678901234568e29, 'float')\n"
      "num('1.0', 1.0, 'float')\n"
      "num('1.5', 1.5, 'float')\n"
      "num('-0.25', -0.25, 'float')\n"
      "num('1e2', 100.0, 'float')\n"
      "num('1E2', 100.0, 'float')\n"
      "num('1e+2', 100.0, 'float')\n"
      "num('25e-1', 2.5, 'float')\n"
      "num('0.1', 0.1, 'float')\n"
      "num('1e-400', 0.0, 'float')\n"
      "num('1.7976931348623157e308', 1.7976931348623157e308, 'float')\n"
      "assert(1 / json.decode('-0.0') == -math.huge)\n"
      "assert(json.decode('\"x\"') == 'x')\n"
      "assert(json.decode('\"\"') == '')\n");
}

TEST(decode_strings) {
  return run_file(
      "local function str(src, want)\n"
      "  local got = json.decode(src)\n"
      "  assert(got == want, src .. ' -> ' .. tostring(got))\n"
      "end\n"
      "str('\"\\\\\"\\\\\\\\\\\\/\\\\b\\\\f\\\\n\\\\r\\\\t\"', '\"\\\\/\\b\\f\\n\\r\\t')\n"
      "str('\"\\\\u0041\\\\u00e9\\\\u00E9\\\\u20AC\"', 'A\\u{e9}\\u{e9}\\u{20ac}')\n"
      "str('\"\\\\u0000x\"', '\\0x')\n"
      "str('\"\\\\ud83d\\\\ude00\"', '\\u{1F600}')\n"
      "str('\"\\\\uD83D\\\\uDE00!\"', '\\u{1F600}!')\n"
      "str('\"\\\\udbff\\\\udfff\"', '\\u{10FFFF}')\n"
      /* unpaired surrogates become U+FFFD */
      "str('\"\\\\ud83d\"', '\\u{FFFD}')\n"
      "str('\"\\\\ud83dx\"', '\\u{FFFD}x')\n"
      "str('\"\\\\ude00\"', '\\u{FFFD}')\n"
      "str('\"\\\\ud83d\\\\u0041\"', '\\u{FFFD}A')\n"
      "str('\"\\\\ud83d\\\\ud83d\\\\ude00\"', '\\u{FFFD}\\u{1F600}')\n"
      "str('\"\\\\ud83d\\\\n\"', '\\u{FFFD}\\n')\n"
      /* raw UTF-8 passes, invalid bytes become U+FFFD */
      "str('\"caf\\u{e9} \\u{1F600}\"', 'caf\\u{e9} \\u{1F600}')\n"
      "str('\"a\\xffb\"', 'a\\u{FFFD}b')\n"
      "str('\"\\xED\\xA0\\x80\"', '\\u{FFFD}\\u{FFFD}\\u{FFFD}')\n"
      "str('\"\\xC3\"', '\\u{FFFD}')\n"
      "str('\"\\\\n\\xff\"', '\\n\\u{FFFD}')\n"
      "str('\"\\x7f\"', '\\x7f')\n"
      /* long strings, with and without escapes */
      "local long = string.rep('abc\\u{e9}', 5000)\n"
      "str('\"' .. long .. '\"', long)\n"
      "str('\"' .. long .. '\\\\n' .. long .. '\"', long .. '\\n' .. long)\n");
}

TEST(decode_structures) {
  return run_file(
      "dec_ok('[]', {})\n"
      "dec_ok('{}', {})\n"
      "dec_ok('[1,2,3]', {1, 2, 3})\n"
      "dec_ok(' [ 1 , \"a\" , true , false , [ ] , { } ] ', {1, 'a', true, false, {}, {}})\n"
      "dec_ok('{\"a\":1,\"b\":[1,{\"c\":\"d\"}]}', {a = 1, b = {1, {c = 'd'}}})\n"
      "dec_ok('{\"1\":\"x\"}', {['1'] = 'x'})\n"
      "local t = dec_ok('{\"1\":\"x\"}', {['1'] = 'x'})\n"
      "assert(t[1] == nil)\n"
      /* null: holes in arrays keep positions, absent members in objects */
      "local a = json.decode('[1,null,3]')\n"
      "assert(a[1] == 1 and a[2] == nil and a[3] == 3)\n"
      "local b = json.decode('[null]')\n"
      "assert(type(b) == 'table' and next(b) == nil)\n"
      "local o = json.decode('{\"a\":null,\"b\":2}')\n"
      "assert(o.a == nil and o.b == 2)\n"
      "local n = 0; for _ in pairs(o) do n = n + 1 end; assert(n == 1)\n"
      /* duplicate keys: last wins, a later null removes */
      "dec_ok('{\"a\":1,\"a\":2}', {a = 2})\n"
      "dec_ok('{\"a\":1,\"a\":null}', {})\n"
      "dec_ok('{\"\":0}', {[''] = 0})\n"
      "dec_ok('{\"a\\\\u0000b\":1}', {['a\\0b'] = 1})\n"
      /* depth 128 is fine, 129 is not (spec 10 §5.2) */
      "local deep = string.rep('[', 128) .. string.rep(']', 128)\n"
      "local v = assert(json.decode(deep))\n"
      "for i = 1, 127 do v = v[1] end\n"
      "assert(type(v) == 'table' and next(v) == nil)\n"
      "local deepo = string.rep('{\"k\":', 128) .. '1' .. string.rep('}', 128)\n"
      "assert(json.decode(deepo))\n"
      "dec_err(string.rep('[', 129) .. string.rep(']', 129), 'Internal', 'maximum nesting depth exceeded at offset 128')\n"
      "dec_err(string.rep('{\"k\":', 129) .. '1' .. string.rep('}', 129), 'Internal', 'depth')\n"
      "dec_err(string.rep('[', 1000000), 'Internal', 'depth')\n");
}

TEST(decode_errors) {
  return run_file(
      /* not a string, or empty: Invalid */
      "dec_err(nil, 'Invalid', 'string expected')\n"
      "dec_err(1, 'Invalid', 'string expected')\n"
      "dec_err({}, 'Invalid', 'string expected')\n"
      "dec_err(true, 'Invalid', 'string expected')\n"
      "dec_err('', 'Invalid', 'empty string is not valid JSON')\n"
      "assert(select(2, json.decode('')):retryable() == false)\n"
      "assert(select(2, json.decode('[')):retryable() == false)\n"
      "local v, e = json.decode()\n"
      "assert(v == nil and e:kind() == 'Invalid')\n"
      /* malformed: Internal, naming the offset */
      "local bad = {\n"
      "  ' ', 'x', 'nul', 'nulx', 'tru', 'truE', 'fals', '-', '+1', '.5', '1.', '1.e3',\n"
      "  '1e', '1e+', '01', '-01', '00', '0x10', 'NaN', 'Infinity', '-Infinity',\n"
      "  '[', '[1', '[1,', '[1,]', '[,1]', '[1 2]', ']', '{', '{\"a\"', '{\"a\":',\n"
      "  '{\"a\":1', '{\"a\":1,}', '{,}', '{\"a\" 1}', '{1:2}', '{a:1}', \"{'a':1}\",\n"
      "  '\"abc', '\"\\\\', '\"\\\\x\"', '\"\\\\u12\"', '\"\\\\u12g4\"', '\"\\\\U0041\"',\n"
      "  '\"a\\nb\"', '\"a\\tb\"', '\"\\0\"', '\\xEF\\xBB\\xBF1', '1 2', '[] []', '{} x',\n"
      "  'true false', 'null,', '\"a\" \"b\"', '1e400', '-1e400', '[1e999]',\n"
      "  '\\0', '1\\0', '[1]\\0', '/* c */ 1', '\\v1', '\\f1',\n"
      "}\n"
      "for _, s in ipairs(bad) do\n"
      "  local e = dec_err(s, 'Internal', 'json: ')\n"
      "  assert(e:message():find('at offset %d+$'), e:message())\n"
      "end\n"
      /* specific messages and offsets (0-based byte offsets) */
      "dec_err('[1,2,x]', 'Internal', \"invalid character 'x' looking for beginning of value at offset 5\")\n"
      "dec_err('[1,2', 'Internal', 'unexpected end of input at offset 4')\n"
      "dec_err('{\"a\":1} x', 'Internal', \"invalid character 'x' after top-level value at offset 8\")\n"
      "dec_err('\"abc', 'Internal', 'unexpected end of input in string at offset 4')\n"
      "dec_err('\"a\\\\qb\"', 'Internal', \"invalid character 'q' in string escape at offset 3\")\n"
      "dec_err('\"\\\\u12x4\"', 'Internal', 'invalid \\\\u escape in string at offset 1')\n"
      "dec_err('\"a\\nb\"', 'Internal', 'invalid byte 0x0a in string at offset 2')\n"
      "dec_err('01', 'Internal', \"invalid character '1' after top-level value at offset 1\")\n"
      "dec_err('[1,]', 'Internal', \"invalid character ']' looking for beginning of value at offset 3\")\n"
      "dec_err('{\"a\" 1}', 'Internal', \"invalid character '1' after object key at offset 5\")\n"
      "dec_err('{1:2}', 'Internal', \"invalid character '1' looking for object key at offset 1\")\n"
      "dec_err('[1 2]', 'Internal', \"invalid character '2' after array element at offset 3\")\n"
      "dec_err('nulx', 'Internal', \"invalid character 'x' in literal at offset 3\")\n"
      "dec_err('1.x', 'Internal', \"invalid character 'x' after decimal point in number at offset 2\")\n"
      "dec_err('1e400', 'Internal', 'number out of range at offset 0')\n"
      "dec_err('  [1, 1e400]', 'Internal', 'number out of range at offset 6')\n"
      "dec_err('\\xEF\\xBB\\xBF1', 'Internal', 'invalid byte 0xef looking for beginning of value at offset 0')\n"
      /* a failed decode leaves nothing behind on the stack of the caller */
      "local r = table.pack(json.decode('[[[1,2,{\"a\":[\"x'))\n"
      "assert(r.n == 2 and r[1] == nil and r[2]:kind() == 'Internal')\n");
}

/* ---- fuzzing ---- */

static const char GEN[] =
    "local function rstr()\n"
    "  local t = {}\n"
    "  for i = 1, math.random(0, 10) do\n"
    "    local r = math.random(1, 10)\n"
    "    local cp\n"
    "    if r <= 4 then cp = math.random(32, 126)\n"
    "    elseif r == 5 then cp = math.random(0, 31)\n"
    "    elseif r == 6 then cp = ({34, 92, 47, 127})[math.random(1, 4)]\n"
    "    elseif r == 7 then cp = math.random(0x80, 0x7FF)\n"
    "    elseif r == 8 then cp = math.random(0x800, 0xD7FF)\n"
    "    elseif r == 9 then cp = math.random(0xE000, 0xFFFF)\n"
    "    else cp = math.random(0x10000, 0x10FFFF) end\n"
    "    t[i] = utf8.char(cp)\n"
    "  end\n"
    "  return table.concat(t)\n"
    "end\n"
    "local function rnum()\n"
    "  local r = math.random(1, 8)\n"
    "  if r == 1 then return math.random(-100, 100)\n"
    "  elseif r == 2 then return math.random(math.mininteger, math.maxinteger)\n"
    "  elseif r == 3 then return ({math.maxinteger, math.mininteger, 0, -1})[math.random(1, 4)]\n"
    "  elseif r == 4 then return (math.random() - 0.5) * 10.0 ^ math.random(-20, 25)\n"
    "  elseif r == 5 then return math.random(-1000, 1000) + 0.0\n"
    "  elseif r == 6 then return math.random(-1000, 1000) / 8\n"
    "  else\n"
    "    local d\n"
    "    repeat\n"
    "      d = string.unpack('<d', string.pack('<i8', math.random(math.mininteger, math.maxinteger)))\n"
    "    until d == d and d ~= math.huge and d ~= -math.huge\n"
    "    return d\n"
    "  end\n"
    "end\n"
    "function gen(depth)\n"
    "  local r = math.random(1, 10)\n"
    "  if depth >= 6 or r <= 5 then\n"
    "    local s = math.random(1, 4)\n"
    "    if s == 1 then return math.random(0, 1) == 1\n"
    "    elseif s == 2 then return rnum()\n"
    "    else return rstr() end\n"
    "  elseif r <= 7 then\n"
    "    local t = {}\n"
    "    for i = 1, math.random(0, 6) do t[i] = gen(depth + 1) end\n"
    "    return t\n"
    "  else\n"
    "    local t = {}\n"
    "    for i = 1, math.random(0, 6) do t[rstr()] = gen(depth + 1) end\n"
    "    return t\n"
    "  end\n"
    "end\n";

TEST(fuzz_roundtrip) {
  lua_State *L = newstate();
  run(L, GEN);
  run(L,
      "math.randomseed(20240607)\n"
      "local tables = 0\n"
      "for i = 1, 5000 do\n"
      "  local x = gen(0)\n"
      "  if type(x) == 'table' then tables = tables + 1 end\n"
      "  local s, err = json.encode(x)\n"
      "  assert(s, tostring(err))\n"
      "  local y, err2 = json.decode(s)\n"
      "  assert(err2 == nil, tostring(err2) .. ' in ' .. s)\n"
      "  local ok, why = deq(y, x)\n"
      "  assert(ok, tostring(why) .. ' in ' .. s)\n"
      /* the encoding is canonical: re-encoding the decoded value gives s */
      "  assert(json.encode(y) == s, s)\n"
      /* pretty arbitrary whitespace is accepted */
      "  local spaced = s:gsub('([,:%[%]{}])', ' \\n%1\\t ')\n"
      "  if not s:find('\"') then\n"
      "    local z, zerr = json.decode(' ' .. spaced .. '\\r\\n')\n"
      "    assert(zerr == nil and deq(z, x), spaced)\n"
      "  end\n"
      "end\n"
      "assert(tables > 1000)\n");
  lua_close(L);
  return 0;
}

/* Mutated valid documents and random bytes: decode returns, never raises. */
TEST(fuzz_never_raises) {
  lua_State *L = newstate();
  run(L, GEN);
  run(L,
      "math.randomseed(99)\n"
      "local alphabet = '[]{}\",:0123456789-+.eEtrufalsn \\\\/u\\n\\t\\xff\\xc3\\0'\n"
      "local oks, errs = 0, 0\n"
      "for i = 1, 6000 do\n"
      "  local s = assert(json.encode(gen(0)))\n"
      "  for m = 1, math.random(1, 4) do\n"
      "    local p = math.random(1, #s + 1)\n"
      "    local op = math.random(1, 4)\n"
      "    local c = math.random(1, #alphabet)\n"
      "    c = alphabet:sub(c, c)\n"
      "    if op == 1 then s = s:sub(1, p - 1) .. c .. s:sub(p + 1)\n"
      "    elseif op == 2 then s = s:sub(1, p - 1) .. c .. s:sub(p)\n"
      "    elseif op == 3 then s = s:sub(1, p - 1) .. s:sub(p + 1)\n"
      "    else s = s:sub(1, p - 1) end\n"
      "  end\n"
      "  local r = table.pack(pcall(json.decode, s))\n"
      "  assert(r[1], 'raised: ' .. tostring(r[2]))\n"
      "  if r[2] == nil and r.n == 3 then\n"
      "    errs = errs + 1\n"
      "    local k = r[3]:kind()\n"
      "    assert(k == 'Internal' or (k == 'Invalid' and s == ''), k)\n"
      "    assert(r[3]:message():find('offset') or s == '')\n"
      "  else\n"
      "    oks = oks + 1\n"
      /* whatever decodes re-encodes, unless nulls left holes */
      "    local e, err = json.encode(r[2])\n"
      "    assert(e or err:message():find('sparse'), tostring(err))\n"
      "  end\n"
      "end\n"
      "assert(oks > 100 and errs > 100, oks .. ' ' .. errs)\n"
      "for i = 1, 3000 do\n"
      "  local t = {}\n"
      "  for j = 1, math.random(1, 20) do t[j] = string.char(math.random(0, 255)) end\n"
      "  assert(pcall(json.decode, table.concat(t)))\n"
      "end\n"
      "for i = 1, 2000 do\n"
      "  local t = {}\n"
      "  for j = 1, math.random(1, 30) do\n"
      "    local c = math.random(1, #alphabet)\n"
      "    t[j] = alphabet:sub(c, c)\n"
      "  end\n"
      "  assert(pcall(json.decode, table.concat(t)))\n"
      "end\n");
  lua_close(L);
  return 0;
}

/* ---- allocation failures ---- */

struct budget {
  size_t used, limit;
};

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  struct budget *b = ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    b->used -= old;
    return NULL;
  }
  if (nsize > old && b->used - old + nsize > b->limit) return NULL;
  void *p = realloc(ptr, nsize);
  if (p) b->used = b->used - old + nsize;
  return p;
}

/*
** Runs encode and decode of a sizeable value with the Lua allocator failing
** at many different points: each call either succeeds, returns nil, err, or
** raises a memory error; nothing leaks (checked by ASan's leak detector).
*/
TEST(allocation_failures) {
  struct budget b = {0, (size_t)-1};
  lua_State *L = lua_newstate(limited_alloc, &b);
  ASSERT(L != NULL);
  attach_vp(L);
  luaL_openlibs(L);
  ASSERT_EQ(wp_open_json(L), 1);
  lua_setglobal(L, "json");
  run(L,
      "local long = string.rep('k', 60)\n"
      "doc = {}\n"
      "for i = 1, 40 do doc[long .. i] = {i, 'v' .. i, {x = long}} end\n"
      "text = assert(json.encode(doc))\n"
      "text2 = json.encode({1, 2, 3, string.rep('\\\\', 500)})\n");
  if (luaL_loadstring(L,
                      "local s = json.encode(doc)\n"
                      "if s then assert(s == text) end\n"
                      "local v = json.decode(text)\n"
                      "local w = json.decode(text2)\n"
                      "return s, v, w\n") != LUA_OK)
    TEST_FAIL("load: %s", lua_tostring(L, -1));
  int mem_errors = 0, successes = 0;
  for (size_t extra = 0; extra < 200000; extra += extra < 4096 ? 64 : 1024) {
    lua_gc(L, LUA_GCCOLLECT);
    lua_pushvalue(L, 1);
    b.limit = b.used + extra;
    int rc = lua_pcall(L, 0, 3, 0);
    b.limit = (size_t)-1;
    if (rc == LUA_ERRMEM) {
      mem_errors++;
    } else if (rc != LUA_OK) {
      /* a memory error inside a callee can surface as a runtime error
         message (e.g. from assert on a nil result): acceptable */
    } else if (lua_isstring(L, -3) && lua_istable(L, -2) && lua_istable(L, -1)) {
      successes++;
    }
    lua_settop(L, 1);
  }
  ASSERT(mem_errors > 0);
  ASSERT(successes > 0);
  lua_close(L);
  return 0;
}

/*
** __gc finalizers that run during an encode (allocations can trigger them)
** and rewrite the table being encoded: the result may be anything, but the
** call returns or raises a Lua error, and nothing is read after being freed
** (object keys are anchored while they are sorted and emitted).
*/
TEST(finalizer_mutation) {
  return run_file(
      "collectgarbage('incremental', 1, 1000)\n"
      "local t = {}\n"
      "local long = string.rep('k', 50)\n"
      "local during, fired = false, 0\n"
      "for round = 1, 50 do\n"
      "  for i = 1, 300 do t[long .. i] = {i, string.rep('x', 100)} end\n"
      "  for i = 1, 2000 do\n"
      "    setmetatable({}, {__gc = function()\n"
      "      if during then\n"
      "        fired = fired + 1\n"
      "        for k in pairs(t) do t[k] = nil end\n"
      "        for j = 1, 50 do t[long .. 'new' .. j .. fired] = j end\n"
      "      end\n"
      "    end})\n"
      "  end\n"
      "  during = true\n"
      "  local ok, s, err = pcall(json.encode, t)\n"
      "  during = false\n"
      "  assert(not ok or s or err)\n"
      "end\n"
      "collectgarbage('incremental', 200, 100)\n"
      "assert(fired > 0)\n");
}

/* Output does not depend on LC_NUMERIC (runs only where a comma locale exists). */
TEST(locale_independent) {
  const char *locs[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "ru_RU.UTF-8", NULL};
  const char *got = NULL;
  for (int i = 0; locs[i] && !got; i++) got = setlocale(LC_NUMERIC, locs[i]);
  lua_State *L = newstate();
  run(L,
      "enc_ok(1.5, '1.5')\n"
      "enc_ok(-0.001, '-0.001')\n"
      "enc_ok(1.25e-10, '1.25e-10')\n"
      "assert(json.decode('1.5') == 1.5)\n"
      "assert(json.decode('-2.5e3') == -2500.0)\n");
  lua_close(L);
  setlocale(LC_NUMERIC, "C");
  if (!got) fprintf(stderr, "# locale_independent: no comma locale, ran in C\n");
  return 0;
}

TEST_LIST = {TEST_ENTRY(module_table),
             TEST_ENTRY(encode_scalars),
             TEST_ENTRY(encode_floats),
             TEST_ENTRY(encode_strings),
             TEST_ENTRY(encode_tables),
             TEST_ENTRY(encode_cycles_and_depth),
             TEST_ENTRY(encode_unsupported),
             TEST_ENTRY(decode_scalars),
             TEST_ENTRY(decode_strings),
             TEST_ENTRY(decode_structures),
             TEST_ENTRY(decode_errors),
             TEST_ENTRY(fuzz_roundtrip),
             TEST_ENTRY(fuzz_never_raises),
             TEST_ENTRY(allocation_failures),
             TEST_ENTRY(finalizer_mutation),
             TEST_ENTRY(locale_independent),
             TEST_END};
