/*
** test_image.c: state images (vm/image.c). A process's state is normally a
** copy of its code's image, every word of it whose value lies in the
** template's arena moved to the copy's arena. A value that only looks like
** such an address (an integer, 8 bytes of a string) must reach every state
** unchanged: image.c proves the first copy against the template and builds
** the code's states by calls when they differ. The tests put such values in
** the template through wp_state_image_hook, which learns the template
** arena's address, and check every state made afterwards.
*/
#include <lauxlib.h>
#include <lualib.h>

#include "alloc.h"
#include "buf.h"
#include "modules.h"
#include "test.h"
#include "vm.h"

static struct wp_rt rt;

static int dump_writer(lua_State *L, const void *p, size_t n, void *ud) {
  (void)L;
  return wp_buf_append(ud, p, n) != 0;
}

/* A process.lua code with module time, naming library fields its image
** has in place (process.send, string.upper, time.now). */
static const char SRC[] =
    "local time = require('time')\n"
    "local words = {'alpha', 'beta', string.upper('gamma')}\n"
    "return { main = function() process.send(process.pid(), 'x', words) "
    "return time.now() end }\n";
static char time_name[] = "time";
static char *MODULES[] = {time_name, NULL};

/* The code compiled from SRC (as runtime.c compiles one). */
static void code_init(struct wp_code *c) {
  memset(c, 0, sizeof *c);
  static char chunkname[] = "@test_image.lua";
  c->chunkname = chunkname;
  c->method = "main";
  c->modules = MODULES;
  c->nmodules = 1;
  lua_State *S = luaL_newstate();
  ASSERT(S != NULL);
  if (luaL_loadbuffer(S, SRC, strlen(SRC), c->chunkname) != LUA_OK)
    TEST_FAIL("load: %s", lua_tostring(S, -1));
  ASSERT_EQ(lua_dump(S, dump_writer, &c->bytecode, 0), 0);
  lua_close(S);
  wp_code_scan(&rt, c, SRC, strlen(SRC));
}

/* Which of the hook's values look like addresses in the template's arena
** (the others are plain). */
enum { G_INT = 1, G_STR = 2, K_INT = 4, K_STR = 8 };
static int address_like;

/* What the hook stored in the template, as the copies must hold it: global
** values (g_) and the constants of a function (k_). */
static struct {
  lua_Integer g_int, k_int;
  char g_str[16], k_str[16];
  size_t g_len, k_len;
} want;

/* Pushes the Lua source of a string literal of s[0..n). */
static void push_literal(luaL_Buffer *b, const char *s, size_t n) {
  luaL_addchar(b, '"');
  for (size_t i = 0; i < n; i++) {
    char hex[8];
    snprintf(hex, sizeof hex, "\\x%02x", (unsigned char)s[i]);
    luaL_addstring(b, hex);
  }
  luaL_addchar(b, '"');
}

/* The 8 bytes of word a, then a tail character. */
static size_t address_bytes(char *out, uintptr_t a, char tail) {
  memcpy(out, &a, sizeof a);
  out[sizeof a] = tail;
  return sizeof a + 1;
}

/* The hook: stores decoy_int, decoy_str and decoy_fn (a function whose
** constants are want.k_int and want.k_str) in the template's globals. A
** value in address_like equals an address inside the template's used
** arena; the others are of the same kinds, below any heap address. */
static int value_hook(lua_State *L) {
  uintptr_t base = (uintptr_t)lua_tointeger(L, 1);
  ASSERT(lua_tointeger(L, 2) > 64);
  want.g_int = address_like & G_INT ? (lua_Integer)(base + 8) : 42;
  want.k_int = address_like & K_INT ? (lua_Integer)(base + 24) : (lua_Integer)1 << 40;
  want.g_len = address_bytes(want.g_str, address_like & G_STR ? base + 16 : 0x6f6c6c6568u, '.');
  want.k_len = address_bytes(want.k_str, address_like & K_STR ? base + 32 : 0x646c726f77u, ',');
  lua_pushinteger(L, want.g_int);
  lua_setglobal(L, "decoy_int");
  lua_pushlstring(L, want.g_str, want.g_len);
  lua_setglobal(L, "decoy_str");
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  lua_pushfstring(L, "return %I, ", (LUAI_UACINT)want.k_int);
  luaL_addvalue(&b);
  push_literal(&b, want.k_str, want.k_len);
  luaL_pushresult(&b);
  size_t len;
  const char *src = lua_tolstring(L, -1, &len);
  if (luaL_loadbuffer(L, src, len, "=decoy") != LUA_OK) lua_error(L);
  lua_setglobal(L, "decoy_fn");
  return 0;
}

static void check_string(lua_State *L, const char *want_s, size_t want_n, const char *what) {
  size_t n;
  const char *s = lua_tolstring(L, -1, &n);
  if (!s || n != want_n || memcmp(s, want_s, n) != 0) TEST_FAIL("%s changed in the copy", what);
  lua_pop(L, 1);
}

/* Makes `n` states of code c; returns how many came from its image. Each
** one from the image holds what the hook stored, unchanged; each one built
** by calls holds none of it. */
static int make_states(struct wp_code *c, int n) {
  int copies = 0;
  for (int i = 0; i < n; i++) {
    struct wp_vmproc vp;
    memset(&vp, 0, sizeof vp);
    vp.rt = &rt;
    vp.code = c;
    int chunk;
    lua_State *L = wp_state_new(&vp, &chunk);
    ASSERT(L != NULL);
    vp.L = L;
    lua_settop(L, 0);
    if (!chunk) {
      lua_getglobal(L, "decoy_int");
      ASSERT(lua_isnil(L, -1));
      lua_pop(L, 1);
      wp_state_close(&vp);
      continue;
    }
    copies++;
    lua_getglobal(L, "decoy_int");
    ASSERT(lua_isinteger(L, -1));
    ASSERT(lua_tointeger(L, -1) == want.g_int);
    lua_pop(L, 1);
    lua_getglobal(L, "decoy_str");
    check_string(L, want.g_str, want.g_len, "a string value");
    lua_getglobal(L, "decoy_fn");
    ASSERT_EQ(lua_pcall(L, 0, 2, 0), LUA_OK);
    check_string(L, want.k_str, want.k_len, "a string constant");
    ASSERT(lua_isinteger(L, -1));
    ASSERT(lua_tointeger(L, -1) == want.k_int);
    lua_pop(L, 1);
    /* the string's hash intact: a table finds it under an equal key made here */
    lua_createtable(L, 0, 1);
    lua_getglobal(L, "decoy_str");
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pushlstring(L, want.g_str, want.g_len);
    ASSERT_EQ(lua_rawget(L, -2), LUA_TBOOLEAN);
    lua_pop(L, 2);
    wp_state_close(&vp);
  }
  return copies;
}

/* Makes n states of a code compiled from SRC, with value_hook storing its
** values in the code's template; returns how many came from the image. */
static int states_of(int address_kinds, int n) {
  wp_modules_init(&rt);
  struct wp_code c;
  code_init(&c);
  wp_state_image_hook = value_hook;
  address_like = address_kinds;
  int copies = make_states(&c, n);
  wp_image_free(&c);
  wp_buf_free(&c.bytecode);
  return copies;
}

/* A stored value that looks like an address in the template's arena stays
** as it is in every state: the copies hold it unchanged, or (as now) the
** code has no image. Each kind alone: a global integer, a global string, a
** function's integer constant, its string constant. */
TEST(address_like_values) {
  for (int kind = G_INT; kind <= K_STR; kind <<= 1) states_of(kind, 3);
  return 0;
}

/* The same kinds of values, none like an address: the code keeps its image
** (the check refuses only what relocation would break). */
TEST(plain_values_keep_the_image) {
  ASSERT_EQ(states_of(0, 3), 3);
  return 0;
}

/* WIPPY_STATE_IMAGES=0: every state is built by calls. */
TEST(images_off) {
  ASSERT_EQ(setenv("WIPPY_STATE_IMAGES", "0", 1), 0);
  ASSERT_EQ(states_of(0, 2), 0);
  return 0;
}

TEST_LIST = {
  TEST_ENTRY(address_like_values),
  TEST_ENTRY(plain_values_keep_the_image),
  TEST_ENTRY(images_off),
  TEST_END
};
