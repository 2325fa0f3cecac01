/*
** test_typestrip.c: Luau-style annotation erasure (app/typestrip.c).
**
** Most cases are written as one string in which '@' toggles "erased":
** "local x@: number@ = 1" means the input "local x: number = 1" must come
** back as "local x         = 1" (same length; line breaks inside an erased
** part stay). The helpers also check that
**   - an annotated input does not compile as Lua 5.4 and its output does
**     (so every case is a complete chunk), and that stripping the output
**     again finds nothing;
**   - a case without '@' compiles as plain Lua and is reported as "nothing
**     to erase" (return 1, no copy).
** CHECK_EXACT spells a few outputs out literally.
*/
#include "test.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <time.h>

#include "alloc.h"
#include "typestrip.h"

/*
** The fuzz target's checks and its program generator (annotated programs
** written together with their expected erasure) are replayed below on
** pseudo-random inputs, so the unit suite covers them without libFuzzer.
*/
#include "../fuzz/fuzz_typestrip.c"

static lua_State *L;

static int compiles(const char *s, size_t n) {
  int ok;
  if (L == NULL) {
    L = luaL_newstate();
    ASSERT(L != NULL);
    luaL_openlibs(L);
  }
  ok = luaL_loadbufferx(L, s, n, "=t", "t") == LUA_OK;
  lua_settop(L, 0);
  return ok;
}

/* Splits a '@' case into the input and the expected output. */
static size_t expand(const char *spec, char *in, char *exp, int *marked) {
  size_t k = 0;
  int on = 0;
  *marked = 0;
  for (; *spec; spec++) {
    if (*spec == '@') {
      on = !on;
      *marked = 1;
      continue;
    }
    in[k] = *spec;
    exp[k] = (on && *spec != '\n' && *spec != '\r') ? ' ' : *spec;
    k++;
  }
  in[k] = exp[k] = '\0';
  return k;
}

enum { LUA_MUST_COMPILE = 1, ANY_TEXT = 0 };

static void check_case(const char *spec, int mode, int line) {
  size_t len = strlen(spec), n, olen = 99;
  char *in = malloc(len + 1), *exp = malloc(len + 1), *out = (char *)1;
  int marked, rc;
  ASSERT(in != NULL && exp != NULL);
  n = expand(spec, in, exp, &marked);
  rc = wp_typestrip(in, n, &out, &olen);
  if (!marked) {
    if (rc != 1 || out != NULL || olen != 0)
      TEST_FAIL("line %d: plain input changed (rc %d): [%s] -> [%s]", line,
                rc, in, rc == 0 ? out : "");
    if (mode == LUA_MUST_COMPILE && !compiles(in, n))
      TEST_FAIL("line %d: plain case does not compile: [%s]", line, in);
  } else {
    if (rc != 0 || out == NULL || olen != n)
      TEST_FAIL("line %d: nothing erased (rc %d) in [%s]", line, rc, in);
    if (memcmp(out, exp, n) != 0 || out[n] != '\0')
      TEST_FAIL("line %d:\n  input    [%s]\n  expected [%s]\n  got      [%s]",
                line, in, exp, out);
    if (compiles(in, n))
      TEST_FAIL("line %d: annotated case compiles as Lua: [%s]", line, in);
    if (!compiles(out, n))
      TEST_FAIL("line %d: stripped output does not compile: [%s]", line, out);
    {
      char *again = (char *)1;
      size_t alen = 99;
      if (wp_typestrip(out, n, &again, &alen) != 1 || again != NULL)
        TEST_FAIL("line %d: second pass changed [%s]", line, out);
    }
    wp_free(out);
  }
  free(in);
  free(exp);
}

#define CHECK(spec) check_case(spec, LUA_MUST_COMPILE, __LINE__)
/* Not Lua (or an unsupported form): must come back unchanged. */
#define CHECK_KEEP(spec) check_case(spec, ANY_TEXT, __LINE__)

static void check_exact(const char *in, const char *want, int line) {
  size_t n = strlen(in), olen = 0;
  char *out = NULL;
  ASSERT_EQ(strlen(want), n);
  if (wp_typestrip(in, n, &out, &olen) != 0)
    TEST_FAIL("line %d: nothing erased in [%s]", line, in);
  ASSERT_EQ(olen, n);
  if (memcmp(out, want, n) != 0)
    TEST_FAIL("line %d: [%s] != [%s]", line, out, want);
  wp_free(out);
}
#define CHECK_EXACT(in, want) check_exact(in, want, __LINE__)

/* Checks the invariants that hold for any input; returns the result code. */
static int check_any(const char *s, size_t n) {
  char *out = (char *)1;
  size_t olen = 99, i;
  int rc = wp_typestrip(s, n, &out, &olen);
  ASSERT(rc == 0 || rc == 1);
  if (rc == 1) {
    ASSERT(out == NULL);
    ASSERT_EQ(olen, 0);
    return 1;
  }
  ASSERT(out != NULL);
  ASSERT_EQ(olen, n);
  ASSERT_EQ(out[n], '\0');
  for (i = 0; i < n; i++) {
    if (out[i] == s[i]) continue;
    ASSERT(s[i] != '\n' && s[i] != '\r');
    ASSERT_EQ(out[i], ' ');
  }
  wp_free(out);
  return 0;
}


/* ---------------------------------------------------------------------- */

TEST(exact_outputs) {
  CHECK_EXACT("local s: Stats = {}\n", "local s        = {}\n");
  CHECK_EXACT("local function main(): integer\n  return 0\nend\n",
              "local function main()         \n  return 0\nend\n");
  CHECK_EXACT("function f(n: string, m: {[string]: any}) end",
              "function f(n        , m                 ) end");
  CHECK_EXACT("type Job = {id: integer,\n  input: integer}\nreturn 1",
              "                        \n                 \nreturn 1");
  CHECK_EXACT("local v = (x :: any).y", "local v = (x       ).y");
  CHECK_EXACT("local xs: any[] = {}", "local xs        = {}");
  CHECK_EXACT("local a:number=1", "local a       =1");
  CHECK_EXACT("local x: T\r\n= 1", "local x   \r\n= 1");
  return 0;
}

TEST(return_types) {
  CHECK("local function main()@: integer@ return 1 end");
  CHECK("function f()@: (number, string)@ return 1, 'a' end");
  CHECK("function f()@: ()@ end");
  CHECK("function f()@: ...number@ end");
  CHECK("function f()@: (number) -> string@ end");
  CHECK("function f()@: () -> ()@ end");
  CHECK("function f()@:{[string]: any}@ return {} end");
  CHECK("function f() @: number?@ end");
  CHECK("function f()@: Array<number>@ return {} end");
  CHECK("function f()@: boolean | nil@ return nil end");
  CHECK("function f()@: \"ok\" | \"err\"@ return 'ok' end");
  CHECK("local f = function()@: boolean@ return true end");
  CHECK("function f(\n)@:\n  number@\nend");
  CHECK("function f()@: number@\n  (print)(1)\nend");
  CHECK("function f()@: T@ x = 1 end");
  CHECK("function f()@: T@ ::top:: goto top end");
  CHECK("function f()@: (A, B)@ (g)() end");
  return 0;
}

TEST(parameters) {
  CHECK("local function f(n@: string@) end");
  CHECK("function f(a@: number@, b@: string@, ...@: any@) end");
  CHECK("function f(...@: number@) return ... end");
  CHECK("function f(cb@: (a: number, b: string) -> boolean@) end");
  CHECK("function f(cb@: (number, ...string) -> ...any@) end");
  CHECK("function f(t@: {x: number, y: number}@) end");
  CHECK("function f(t@: {x: number; y: number;}@) end");
  CHECK("function f(o@: Foo.Bar<T>@) end");
  CHECK("function f(x@: number | string | nil@) end");
  CHECK("function f(x@: \"a\" | 'b' | 1 | true | false@) end");
  CHECK("function f(x@: Array<Array<number>>@) end");
  CHECK("function f(x@: Map<string, {number}>@, y@: T?@) end");
  CHECK("function f(x@: {{number}}@, y@: {[number]: {string}}@) end");
  CHECK("function f(x@: (number)?@) end");
  CHECK("function f(x@: A & B@, y@: (A | B) & C@) end");
  CHECK("function f(x@: (number)@) end");
  CHECK("return function(self@: Obj@, ...@: T...@) end");
  CHECK("function f(x@: {[string]: any}[]@) end");
  CHECK("function f(a@:\n  number@,\n  b@: string@\n) end");
  CHECK("function f(a --[[c]] @: number@) end");
  CHECK("function f(a@: --[[ number ]] number@) end");
  CHECK("function f(a@: {\n  -- field\n  x: number,\n}@) end");
  CHECK("function f(k@: typeof(key)@, v@: typeof(t[1])@) end");
  CHECK("function f(x@: {[\"key\"]: number}@) end");
  CHECK("function f(x@: {read a: number, write b: string}@) end");
  CHECK("function f(x@: {read: number, write: string}@) end");
  return 0;
}

TEST(methods_and_names) {
  CHECK("function obj:method(a@: T@)@: R@ end");
  CHECK("function a.b.c:m(x@: number@) end");
  CHECK("function a.b(x@: number@)@: number@ return x end");
  CHECK("local M = {}\nfunction M.new(x@: number@)@: M@ return setmetatable({x = x}, M) end");
  CHECK("local t = {f = function(x@: number@) return x end}");
  CHECK("call(function(a@: string@)@: ()@ end)");
  return 0;
}

TEST(locals) {
  CHECK("local s@: Stats@ = {}");
  CHECK("local a@: number@, b@: string@ = 1, 'x'");
  CHECK("local m@: {[string]: any}@ = {}");
  CHECK("local xs@: any[]@ = {}");
  CHECK("local grid@: number[][]@ = {}");
  CHECK("local x@: number@");
  CHECK("local x@: number?@\nlocal y@: T@");
  CHECK("local x <const>@: number@ = 5");
  CHECK("local x@: number@ <const> = 5");
  CHECK("local x@: number@ <close>, y <const>@: T@ = nil, 1");
  CHECK("local f@: (number) -> number@ = function(n@: number@)@: number@ return n end");
  CHECK("local o@: {read x: number, write y: string}@ = {x = 1, y = 'a'}");
  CHECK("local cb@: <T>(T) -> T@ = function(x) return x end");
  CHECK("local a, b@: number@ = 1, 2");
  CHECK("local p@: Pair<string, number>@\n(print)(p)");
  CHECK("local m@: { [string]: { n: number } }@ = {}");
  CHECK("local s@: string@ = \"local x: number\"");
  return 0;
}

TEST(type_statements) {
  CHECK("@type Job = {id: integer, input: integer}@\nlocal j = {}");
  CHECK("@export type Map<K, V> = {[K]: V}@");
  CHECK("@type Fn = (a: number) -> ()@");
  CHECK("@type G = <T>(T) -> T@");
  CHECK("@type U = | \"a\" | \"b\"@");
  CHECK("@type P<T = string, U...> = (U...) -> T@");
  CHECK("@type T = typeof(setmetatable({}, mt))@");
  CHECK("local x = 1\n@type T = number@\nprint(x)");
  CHECK("if c then @type T = number@ end");
  CHECK("do @type A = number@ @type B = string@ end");
  CHECK("@type A = {\n  x: number,\n  y: {string},\n}@\nreturn 1");
  CHECK("@type T = {number}@; x = 1");
  CHECK("print(1) @type T = number@");
  CHECK("f() @type T = number@ f()");
  CHECK("local x@: T<U>@\n@type Y = string@");
  CHECK("local v = x@ :: T?@\n@type Y = string@");
  CHECK("repeat @type R = number@ until true");
  CHECK("@type Opt<T> = T?@\n@export type List<T> = {T}@");
  CHECK("@type Fns = {(number) -> (), [string]: (...any) -> ...any}@");
  CHECK("@type N = number@ -- trailing comment\nreturn 1");
  CHECK("@type Node = {value: number, next: Node?}@");
  CHECK("@type Mixed = string | number | boolean | nil | {any}@");
  CHECK("@type Q = { [string]: { x: number, y: number }[] }@");
  return 0;
}

TEST(generics) {
  CHECK("local function id@<T>@(x@: T@)@: T@ return x end");
  CHECK("local M = {}\nfunction M.map@<T, U>@(xs@: {T}@, f@: (T) -> U@)@: {U}@ end");
  CHECK("local obj = {}\nfunction obj:m@<T>@(x@: T@) end");
  CHECK("local f = function@<T>@(x@: T@) return x end");
  CHECK("local function f@<T...>@(...@: T...@)@: T...@ return ... end");
  CHECK("local function f@<K, V = any>@(t@: {[K]: V}@) end");
  CHECK("local function f@<T>@() end");
  return 0;
}

TEST(casts) {
  CHECK("local n = x@ :: number@");
  CHECK("local v = (t@ :: any@).field");
  CHECK("f(x@ :: any@, y)");
  CHECK("return x@ :: T@");
  CHECK("local n = x@ :: number@\n::lbl::");
  CHECK("local a = {1, 2}@ :: {number}@");
  CHECK("local s = 'x'@ :: string@");
  CHECK("local c = f()@ :: Foo.Bar<T>@");
  CHECK("local c = t[1]@::number@");
  CHECK("local c = (x@ :: any@)@ :: number@");
  CHECK("local c = x@ :: number@ + 1");
  CHECK("local c = x@ :: (number) -> ()@");
  CHECK("local c = nil@ :: any@");
  CHECK("local c = function() end@ :: () -> ()@");
  return 0;
}

/* Annotations right after long strings and comments: their ends are found. */
TEST(after_long_brackets) {
  CHECK("local s = [=[ a ]]=] local y@: T@ = 1");
  CHECK("local s = [==[ ]=]]]==] local y@: T@ = 1");
  CHECK("--[=[ ]]=] local y@: T@ = 1");
  CHECK("--[[]] local y@: T@ = 1");
  CHECK("local s = [[]] local y@: T@ = 1");
  CHECK("local s = \"\\\\\" local y@: T@ = 1");
  CHECK("local s = '\\\'' local y@: T@ = 1");
  CHECK("local s = \"a\\z\n \" local y@: T@ = 1");
  CHECK("-- c\nlocal y@: T@ = 1");
  CHECK("-- c\rlocal y@: T@ = 1");
  return 0;
}

TEST(for_loops) {
  CHECK("for i@: number@ = 1, 3 do end");
  CHECK("for k@: string@, v@: any@ in pairs(t) do end");
  CHECK("for _, v@: {x: number}@ in ipairs(t) do end");
  return 0;
}

TEST(mixed_program) {
  CHECK("local process = require('process')\n"
        "@type Stats = {sent: integer, recv: integer}@\n"
        "local function main()@: integer@\n"
        "  local stats@: Stats@ = {sent = 0, recv = 0}\n"
        "  local seen@: {[string]: boolean}@ = {}\n"
        "  for i@: integer@ = 1, 3 do\n"
        "    local msg = process.inbox():receive()\n"
        "    if type(msg) == 'table' and msg.type == 'stop' then goto done end\n"
        "    seen[msg:from()] = true\n"
        "    stats.recv = stats.recv + 1\n"
        "  end\n"
        "  ::done::\n"
        "  return (stats.recv@ :: any@) or 0\n"
        "end\n"
        "return {main = main}\n");
  return 0;
}

TEST(plain_lua_untouched) {
  CHECK("print(type(x))");
  CHECK("local t = {type = 1}");
  CHECK("local type = 'a'");
  CHECK("local type, export = 1, 2");
  CHECK("print(t.type)");
  CHECK("obj:method()");
  CHECK("x:y()");
  CHECK("a.b:c(d)");
  CHECK("local r = a.b:c(d):e()");
  CHECK("t:type()");
  CHECK("::label:: goto label");
  CHECK("do goto type; ::type:: end");
  CHECK("for i = 1, 3 do goto continue ::continue:: end");
  CHECK("do ::a:: ::b:: end");
  CHECK("f() ::a:: b()");
  CHECK("x = 1 ::a:: y = 2");
  CHECK("x = 1 ::a:: ::b:: y = 2");
  CHECK("local x = 1 ::a:: x = 2");
  CHECK("x = t[1] ::a:: goto a");
  CHECK("local s = \"local x: number = 1\"");
  CHECK("local s = 'a\\'b: c'");
  CHECK("local s = [[local x: number]]");
  CHECK("local s = [==[ ]] ]=] function f(a: T) ]==]");
  CHECK("--[[ function f(a: T) ]]");
  CHECK("--[==[ ]] x :: T ]==] local y = 1");
  CHECK("-- local x: number\nlocal y = 1");
  CHECK("local v = a and b or c");
  CHECK("local v = (a and b) or (c and d or e)");
  CHECK("local x <const> = 5");
  CHECK("local f <close> = nil");
  CHECK("local a <const>, b <close> = 1, nil");
  CHECK("local n = 1e-3 + 0x1p4 + 0xA.8p1 + .5e2 + 3.");
  CHECK("local n = 1E+3 // 2 | 3 & 4 ~ 5 << 1 >> 1");
  CHECK("x = type\nX = 1");
  CHECK("x = type\nX.y = 1");
  CHECK("x = y, type\nX = 1");
  CHECK("print(type 'x')");
  CHECK("type 'x'");
  CHECK("type {}");
  CHECK("type(x)");
  CHECK("type = nil");
  CHECK("type.x = 1");
  CHECK("type[1] = 2");
  CHECK("export = 1");
  CHECK("export.type = 2");
  CHECK("local t = {type = type, export = export}");
  CHECK("return type");
  CHECK("local x = y .. type");
  CHECK("f{type = 1}");
  CHECK("f'type X = 1'");
  CHECK("for type = 1, 2 do end");
  CHECK("for type, export in pairs(t) do end");
  CHECK("while true do break end type = 1");
  CHECK("local v = a < b and c > d");
  CHECK("f(a < b, c > d)");
  CHECK("local v = a<b>c");
  CHECK("function f(a, b) return a < b end");
  CHECK("local x = - -1");
  CHECK("local x = a - -b");
  CHECK("x = 5 -- comment -> here");
  CHECK("local q = #t");
  CHECK("function f(...) local a, b = ... return a, b end");
  CHECK("function f() end\nfunction g() end");
  CHECK("local function f() return function() end end");
  CHECK("local s = \"a\\\nb\"");
  CHECK("local s = \"a\\z\n     b : number\"");
  CHECK("local s = '\\x41\\u{48}\\65\\\\'");
  /* the tokenizer must not end these strings early: the rest looks like a cast */
  CHECK("local s = \"a\\z\n    :: number\"");
  CHECK("local s = 'a\\z  \r\n\t :: number'");
  CHECK("local s = \"a\\\n:: number\"");
  CHECK("local s = \"a\\\r\n:: number\"");
  CHECK("local s = \"\\\\\\\" :: number\"");
  CHECK("local s = '\\'' .. \"local x: T\"");
  CHECK("local s = [==[\n]]\n:: T\n]=]\n]==]");
  CHECK("--[==[\n]]\n:: T\n]==]");
  CHECK("local x = 1 --[[ ]] --[[\nlocal y: T\n]]");
  CHECK("local x = 1 --[ local y: T\nlocal z = 2");
  CHECK("local x = 1 --[=x local y: T\nlocal z = 2");
  CHECK("local x = 1 --\rlocal y = 2");
  CHECK("return");
  CHECK(";;");
  CHECK("");
  CHECK("local t = {[1] = 2, [ [[x]] ] = 3}");
  CHECK("local x = t[ [=[k]=] ]");
  CHECK("if a then elseif b then else end");
  CHECK("repeat local x = 1 until x");
  CHECK("local s = ('x'):rep(3):upper()");
  CHECK("return x ~= y, x == y, x <= y, x >= y");
  return 0;
}

TEST(not_lua_left_alone) {
  CHECK_KEEP("a ? b");
  CHECK_KEEP("x = y ::");
  CHECK_KEEP("x = y :: ");
  CHECK_KEEP("local = 1");
  CHECK_KEEP("type X =");
  CHECK_KEEP("type X = function");
  CHECK_KEEP("function f(a: ) end");
  CHECK_KEEP("function f(a: number");
  CHECK_KEEP("local x: = 1");
  CHECK_KEEP("local x: {number = 1");
  CHECK_KEEP("export type");
  CHECK_KEEP("type function f() end");
  CHECK_KEEP("local s = \"unfinished local x: T");
  CHECK_KEEP("local s = [==[ local x: T ]=]");
  CHECK_KEEP("--[[ local x: T");
  CHECK_KEEP("x := 1");
  CHECK_KEEP("function f<T(x) end");
  return 0;
}

/*
** Every sequence of up to four tokens from a set rich in triggers: whatever
** Lua compiles must come back untouched, and the general invariants must
** hold for the rest.
*/
TEST(exhaustive_short_programs) {
  static const char *const tok[] = {
    "type", "export", "X", "=", ":", "::", "local", "function", "(", ")",
    "<", ">", "const", ",", "1", "'s'", "{", "}", ".", "for", "in", "do",
    "end", "return", "goto", ";", "...", "\n"};
  enum { NT = sizeof tok / sizeof tok[0], MAXLEN = 4 };
  char buf[128];
  int idx[MAXLEN], len, i;
  long compiled = 0;
  for (len = 1; len <= MAXLEN; len++) {
    memset(idx, 0, sizeof idx);
    for (;;) {
      size_t n = 0;
      for (i = 0; i < len; i++) {
        size_t l = strlen(tok[idx[i]]);
        memcpy(buf + n, tok[idx[i]], l);
        n += l;
        buf[n++] = ' ';
      }
      if (compiles(buf, n)) {
        compiled++;
        if (check_any(buf, n) != 1)
          TEST_FAIL("plain Lua changed: [%.*s]", (int)n, buf);
      } else {
        check_any(buf, n);
      }
      for (i = len - 1; i >= 0 && ++idx[i] == NT; i--) idx[i] = 0;
      if (i < 0) break;
    }
  }
  ASSERT(compiled > 1000);
  return 0;
}

/* Error positions in a stripped file are those of the original. */
TEST(line_numbers_kept) {
  const char *src =
      "type Point = {\n"                          /* 1 */
      "  x: number,\n"                            /* 2 */
      "  y: number,\n"                            /* 3 */
      "}\n"                                       /* 4 */
      "local function f(p: Point,\n"              /* 5 */
      "  q: {\n"                                  /* 6 */
      "    z: number\n"                           /* 7 */
      "  }): number\n"                            /* 8 */
      "  local r: number = p.x + q.z\n"           /* 9 */
      "  error('boom ' .. r)\n"                   /* 10 */
      "end\n"                                     /* 11 */
      "local v = f({x = 1, y = 2}, {z = 3}) :: number\n"; /* 12 */
  char *out = NULL, *bad;
  size_t olen = 0, n = strlen(src), i;
  lua_Debug ar;
  ASSERT(compiles("", 0)); /* creates L */
  ASSERT_EQ(wp_typestrip(src, n, &out, &olen), 0);
  for (i = 0; i < n; i++) ASSERT_EQ(out[i] == '\n', src[i] == '\n');
  ASSERT_EQ(luaL_loadbuffer(L, out, olen, "=t"), LUA_OK);
  ASSERT(lua_pcall(L, 0, 0, 0) != LUA_OK);
  ASSERT_STREQ(lua_tostring(L, -1), "t:10: boom 4");
  lua_settop(L, 0);
  wp_free(out);
  {
    const char *fsrc = "local function g(a: number,\n  b: string): number\n"
                       "  return a\nend\nreturn g";
    ASSERT_EQ(wp_typestrip(fsrc, strlen(fsrc), &out, &olen), 0);
    ASSERT_EQ(luaL_loadbuffer(L, out, olen, "=t"), LUA_OK);
    ASSERT_EQ(lua_pcall(L, 0, 1, 0), LUA_OK);
    ASSERT(lua_getinfo(L, ">S", &ar));
    ASSERT_EQ(ar.linedefined, 1);
    ASSERT_EQ(ar.lastlinedefined, 4);
    lua_settop(L, 0);
    wp_free(out);
  }
  /* a syntax error after multi-line annotations keeps its line */
  bad = malloc(n + 64);
  ASSERT(bad != NULL);
  memcpy(bad, src, n);
  strcpy(bad + n, "local x: number = = 1\n"); /* 13 */
  ASSERT_EQ(wp_typestrip(bad, strlen(bad), &out, &olen), 0);
  ASSERT(luaL_loadbuffer(L, out, olen, "=t") != LUA_OK);
  ASSERT_CONTAINS(lua_tostring(L, -1), "t:13:");
  lua_settop(L, 0);
  wp_free(out);
  free(bad);
  return 0;
}

/* Every prefix and every single-byte corruption of an annotated program. */
TEST(truncations_and_corruptions) {
  static const char prog[] =
      "type T<K> = {[K]: (a: number, ...any) -> (boolean, string?)}\n"
      "local function f<T>(x: T, ...: any): {T}? --[==[ c ]==]\n"
      "  local s: string = \"a\\z\n  b\" .. [[x]] :: string\n"
      "  ::l:: for i: number = 1, 2 do goto l end\n"
      "  return (x :: any) :: T\nend\n";
  static const char subst[] = " \n:<>()[]{}\"'\\-=.,|&?";
  size_t n = sizeof prog - 1, i, j;
  char *buf = malloc(n);
  ASSERT(buf != NULL);
  for (i = 0; i <= n; i++) { /* each prefix, in its own exact-size buffer */
    char *p = malloc(i ? i : 1);
    ASSERT(p != NULL);
    memcpy(p, prog, i);
    check_any(p, i);
    free(p);
  }
  for (i = 0; i < n; i++) {
    for (j = 0; j < sizeof subst - 1; j++) {
      memcpy(buf, prog, n);
      buf[i] = subst[j];
      check_any(buf, n);
    }
  }
  free(buf);
  return 0;
}

TEST(random_bytes) {
  static const char alpha[] = "type:local function(){}[]<>=,.\n\"'\\-|&?x1 ";
  unsigned x = 12345;
  int it;
  char buf[256];
  for (it = 0; it < 100000; it++) {
    size_t n, i;
    x = x * 1103515245u + 12345u;
    n = (x >> 16) % sizeof buf;
    for (i = 0; i < n; i++) {
      x = x * 1103515245u + 12345u;
      buf[i] = (x >> 24) & 1 ? alpha[(x >> 16) % (sizeof alpha - 1)]
                             : (char)(x >> 16);
    }
    if (compiles(buf, n)) {
      if (check_any(buf, n) != 1) TEST_FAIL("plain Lua changed");
    } else {
      check_any(buf, n);
    }
  }
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Repeats pat to about n bytes and strips it; returns the seconds taken. */
static double strip_repeated(const char *pat, size_t n) {
  size_t l = strlen(pat), k = 0;
  char *s = malloc(n);
  double t0;
  ASSERT(s != NULL);
  while (k < n) {
    size_t c = n - k < l ? n - k : l;
    memcpy(s + k, pat, c);
    k += c;
  }
  t0 = now_s();
  check_any(s, n);
  t0 = now_s() - t0;
  free(s);
  return t0;
}

/* Deep nesting and adversarial repetition: no stack overflow, linear time. */
TEST(pathological_inputs) {
  static const char *const pats[] = {
      "{", "(", "<", "local a: {", "local a: (", "local a: A<",
      "local a: typeof(", "function f(a: (", "x :: ", "type T = T<",
      "local a: {x: {y: ", "function f(a: b, ", "--[==[ ]= ]] ",
      "\"\\z      ", "::a:: ", "type X = X | ", "local a: ...", "[==[",
      "local function f<T>(x: T): T return x :: T end\n"};
  size_t i, n = 1 << 20; /* 1 MiB each */
  double worst = 0;
  for (i = 0; i < sizeof pats / sizeof pats[0]; i++) {
    double t = strip_repeated(pats[i], n);
    if (t > worst) worst = t;
  }
  /* generous: linear work is a few ms per MiB even under sanitizers */
  if (worst > 5.0) TEST_FAIL("too slow: %.2f s for 1 MiB", worst);
  return 0;
}

TEST(large_annotated_file) {
  static const char pat[] =
      "type T = {x: number}\nfunction f(a: T): number return a.x end\n";
  size_t l = sizeof pat - 1, reps = 20000, i, olen = 0;
  char *s = malloc(l * reps + 16), *out = NULL;
  ASSERT(s != NULL);
  strcpy(s, "do end\n");
  for (i = 0; i < reps; i++) memcpy(s + 7 + i * l, pat, l);
  ASSERT_EQ(wp_typestrip(s, 7 + l * reps, &out, &olen), 0);
  /* every repetition was erased, the last one included */
  ASSERT(strstr(out, ":") == NULL);
  ASSERT(compiles(out, olen));
  wp_free(out);
  free(s);
  return 0;
}

/* The fuzz target (raw, token and generated-program forms) on PRNG input. */
TEST(fuzz_target_replay) {
  uint32_t x = 2463534242u;
  uint8_t buf[700];
  int it;
  for (it = 0; it < 10000; it++) {
    size_t n, i;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    n = x % sizeof buf;
    for (i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      buf[i] = (uint8_t)(x >> 11);
    }
    LLVMFuzzerTestOneInput(buf, n); /* aborts on a broken invariant */
  }
  return 0;
}

TEST(api_edges) {
  char *out = (char *)1;
  size_t olen = 7;
  ASSERT_EQ(wp_typestrip(NULL, 0, &out, &olen), 1);
  ASSERT(out == NULL);
  ASSERT_EQ(olen, 0);
  out = (char *)1;
  ASSERT_EQ(wp_typestrip("", 0, &out, &olen), 1);
  ASSERT(out == NULL);
  /* the length is respected: the annotation after it is not seen */
  ASSERT_EQ(wp_typestrip("local x: T", 7, &out, &olen), 1);
  ASSERT_EQ(wp_typestrip("local x: T", 10, &out, &olen), 0);
  ASSERT_EQ(olen, 10);
  ASSERT_STREQ(out, "local x   ");
  wp_free(out);
  /* embedded NUL bytes are ordinary bytes */
  {
    static const char in[] = "local s = '\0' local x: T";
    static const char want[] = "local s = '\0' local x   ";
    ASSERT_EQ(wp_typestrip(in, sizeof in - 1, &out, &olen), 0);
    ASSERT_EQ(olen, sizeof in - 1);
    ASSERT(memcmp(out, want, sizeof want) == 0);
    wp_free(out);
  }
  return 0;
}

TEST_LIST = {
  TEST_ENTRY(exact_outputs),
  TEST_ENTRY(return_types),
  TEST_ENTRY(parameters),
  TEST_ENTRY(methods_and_names),
  TEST_ENTRY(locals),
  TEST_ENTRY(type_statements),
  TEST_ENTRY(generics),
  TEST_ENTRY(casts),
  TEST_ENTRY(after_long_brackets),
  TEST_ENTRY(for_loops),
  TEST_ENTRY(mixed_program),
  TEST_ENTRY(plain_lua_untouched),
  TEST_ENTRY(not_lua_left_alone),
  TEST_ENTRY(exhaustive_short_programs),
  TEST_ENTRY(line_numbers_kept),
  TEST_ENTRY(truncations_and_corruptions),
  TEST_ENTRY(random_bytes),
  TEST_ENTRY(pathological_inputs),
  TEST_ENTRY(large_annotated_file),
  TEST_ENTRY(fuzz_target_replay),
  TEST_ENTRY(api_edges),
  TEST_END,
};
