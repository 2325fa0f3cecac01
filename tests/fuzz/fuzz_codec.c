/*
** fuzz_codec.c: libFuzzer target for the message codec (vm/codec.c).
**
** Each input is a message buffer, decoded into a Lua state B. Checks:
**
**   - wp_codec_count and wp_codec_decode agree (the number of values, or
**     -1 for both); a refused buffer leaves B's stack as it was; decoding
**     never raises (it runs under lua_pcall: any error is a finding);
**   - what decodes encodes again (one wp_codec_encode call, depth limit at
**     its maximum), and that buffer decodes into a second state C to the
**     same values: equal numbers (NaN equal to NaN), strings, booleans;
**     error objects with the same kind, message, retryable flag, context and
**     details; tables with the same sharing and cycles (the tables of B and
**     C correspond one to one), the same values under every key that is not
**     a table or an error, and as many keys of those two kinds.
**
** ASan and UBSan watch every read of the input (libFuzzer passes a buffer
** of exactly its size).
*/
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "codec.h"
#include "errobj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *fz_B, *fz_C;  /* one pair of states for the whole run */

static void fz_fail(const char *what) {
  fprintf(stderr, "codec invariant broken: %s\n", what);
  abort();
}

/* {======================================================
** table correspondence: B's table pointer -> C's, and back
** ======================================================= */

struct pmap {
  const void **k, **v;
  size_t cap, n;
};

static struct pmap fz_fwd, fz_back;

static size_t pm_pos(const void *p, size_t cap) {
  return (size_t)(((uintptr_t)p * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (cap - 1);
}

static const void *pm_get(const struct pmap *m, const void *k) {
  if (m->cap == 0) return NULL;
  for (size_t i = pm_pos(k, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (m->k[i] == k) return m->v[i];
    if (m->k[i] == NULL) return NULL;
  }
}

static void pm_put(struct pmap *m, const void *k, const void *v) {
  if (2 * (m->n + 1) > m->cap) {
    struct pmap g = {0};
    g.cap = m->cap ? 2 * m->cap : 64;
    g.k = calloc(g.cap, sizeof *g.k);
    g.v = calloc(g.cap, sizeof *g.v);
    if (g.k == NULL || g.v == NULL) abort();
    for (size_t i = 0; i < m->cap; i++)
      if (m->k[i]) pm_put(&g, m->k[i], m->v[i]);
    free(m->k);
    free(m->v);
    *m = g;
  }
  size_t i = pm_pos(k, m->cap);
  while (m->k[i] != NULL) i = (i + 1) & (m->cap - 1);
  m->k[i] = k;
  m->v[i] = v;
  m->n++;
}

static void pm_clear(struct pmap *m) {
  if (m->cap) {
    memset(m->k, 0, m->cap * sizeof *m->k);
    memset(m->v, 0, m->cap * sizeof *m->v);
  }
  m->n = 0;
}

/* }====================================================== */

static void same(int b, int c);

/* Keys that can be looked up in the other state: not tables or errors. */
static int plain_key(lua_State *L, int idx) {
  int t = lua_type(L, idx);
  return t != LUA_TTABLE && t != LUA_TUSERDATA;
}

/* Pushes onto C a copy of the plain key at B's index idx. */
static void push_key_copy(int idx) {
  lua_State *B = fz_B, *C = fz_C;
  switch (lua_type(B, idx)) {
    case LUA_TBOOLEAN: lua_pushboolean(C, lua_toboolean(B, idx)); break;
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(B, idx, &len);
      lua_pushlstring(C, s, len);
      break;
    }
    case LUA_TNUMBER:
      if (lua_isinteger(B, idx))
        lua_pushinteger(C, lua_tointeger(B, idx));
      else
        lua_pushnumber(C, lua_tonumber(B, idx));
      break;
    default: fz_fail("unexpected key type");
  }
}

static void same_table(int b, int c) {
  lua_State *B = fz_B, *C = fz_C;
  const void *pb = lua_topointer(B, b), *pc = lua_topointer(C, c);
  const void *seen = pm_get(&fz_fwd, pb);
  if (seen != NULL) {
    if (seen != pc) fz_fail("a shared table became two tables");
    return;
  }
  if (pm_get(&fz_back, pc) != NULL) fz_fail("two tables became one");
  pm_put(&fz_fwd, pb, pc);
  pm_put(&fz_back, pc, pb);
  if (!lua_checkstack(B, 4) || !lua_checkstack(C, 4)) fz_fail("no stack");
  size_t plain_b = 0, other_b = 0, plain_c = 0, other_c = 0;
  lua_pushnil(B);
  while (lua_next(B, b)) {
    if (plain_key(B, -2)) {
      plain_b++;
      push_key_copy(lua_gettop(B) - 1);
      lua_rawget(C, c);
      if (lua_isnil(C, -1)) fz_fail("a key went missing");
      same(lua_gettop(B), lua_gettop(C));
      lua_pop(C, 1);
    } else {
      other_b++;
    }
    lua_pop(B, 1);
  }
  lua_pushnil(C);
  while (lua_next(C, c)) {
    if (plain_key(C, -2))
      plain_c++;
    else
      other_c++;
    lua_pop(C, 1);
  }
  if (plain_b != plain_c || other_b != other_c) fz_fail("different key counts");
}

static void same_error(int b, int c) {
  lua_State *B = fz_B, *C = fz_C;
  size_t lb, lc;
  const char *mb = wp_err_message(B, b, &lb), *mc = wp_err_message(C, c, &lc);
  const char *xb = wp_err_context(B, b), *xc = wp_err_context(C, c);
  if (lb != lc || memcmp(mb, mc, lb) != 0) fz_fail("error message differs");
  if (strcmp(wp_err_kind(B, b), wp_err_kind(C, c)) != 0) fz_fail("error kind differs");
  if (wp_err_retryable(B, b) != wp_err_retryable(C, c)) fz_fail("retryable differs");
  if ((xb == NULL) != (xc == NULL) || (xb && strcmp(xb, xc) != 0))
    fz_fail("error context differs");
  if (!lua_checkstack(B, 2) || !lua_checkstack(C, 2)) fz_fail("no stack");
  wp_err_push_details(B, b);
  wp_err_push_details(C, c);
  same(lua_gettop(B), lua_gettop(C));
  lua_pop(B, 1);
  lua_pop(C, 1);
}

/* The value at B's index b equals the one at C's index c (absolute). */
static void same(int b, int c) {
  lua_State *B = fz_B, *C = fz_C;
  int tb = lua_type(B, b), tc = lua_type(C, c);
  if (tb != tc) fz_fail("type differs");
  switch (tb) {
    case LUA_TNIL: break;
    case LUA_TBOOLEAN:
      if (lua_toboolean(B, b) != lua_toboolean(C, c)) fz_fail("boolean differs");
      break;
    case LUA_TNUMBER: {
      if (lua_isinteger(B, b) && lua_isinteger(C, c)) {
        if (lua_tointeger(B, b) != lua_tointeger(C, c)) fz_fail("integer differs");
        break;
      }
      /* An integral float may come back as an integer: compare values. */
      lua_Number x = lua_tonumber(B, b), y = lua_tonumber(C, c);
      if (isnan(x) ? !isnan(y) : x != y) fz_fail("number differs");
      if (lua_isinteger(B, b) && !lua_isinteger(C, c)) fz_fail("integer became a float");
      break;
    }
    case LUA_TSTRING: {
      size_t lb, lc;
      const char *sb = lua_tolstring(B, b, &lb), *sc = lua_tolstring(C, c, &lc);
      if (lb != lc || memcmp(sb, sc, lb) != 0) fz_fail("string differs");
      break;
    }
    case LUA_TTABLE: same_table(b, c); break;
    case LUA_TUSERDATA:
      if (!wp_err_is(B, b) || !wp_err_is(C, c)) fz_fail("userdata that is not an error");
      same_error(b, c);
      break;
    default: fz_fail("unexpected type");
  }
}

struct job {
  const uint8_t *data;
  size_t size;
  int n;
};

static int l_decode(lua_State *L) {
  struct job *j = lua_touserdata(L, 1);
  lua_settop(L, 0);
  j->n = wp_codec_decode(L, j->data, j->size);
  return j->n < 0 ? 0 : j->n;
}

/* Decodes into L under lua_pcall; returns the count, values on L's stack. */
static int decode(lua_State *L, const uint8_t *data, size_t size) {
  struct job j = {data, size, -2};
  lua_settop(L, 0);
  lua_pushcfunction(L, l_decode);
  lua_pushlightuserdata(L, &j);
  if (lua_pcall(L, 1, LUA_MULTRET, 0) != LUA_OK) {
    fprintf(stderr, "decode raised: %s\n", lua_tostring(L, -1));
    fz_fail("decode raised");
  }
  if (j.n < 0 && lua_gettop(L) != 0) fz_fail("refused buffer left values");
  if (j.n >= 0 && lua_gettop(L) != j.n) fz_fail("decode pushed a wrong count");
  return j.n;
}

static lua_State *fz_state(void) {
  lua_State *L = luaL_newstate();
  if (L == NULL) abort();
  return L;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (fz_B == NULL) {
    fz_B = fz_state();
    fz_C = fz_state();
  }
  int count = wp_codec_count(data, size);
  int n = decode(fz_B, data, size);
  if (n != count) fz_fail("count and decode disagree");
  if (n <= 0) return 0;

  struct wp_buf buf = WP_BUF_INIT;
  struct wp_codec_limits lim = {1 << 30, 0};  /* clamped to the hard limit */
  const char *err = NULL;
  if (wp_codec_encode(fz_B, 1, n, &buf, &lim, &err) != 0) {
    fprintf(stderr, "encode: %s\n", err);
    fz_fail("a decoded value does not encode");
  }
  if (lua_gettop(fz_B) != n) fz_fail("encode changed the stack");
  if (wp_codec_count(buf.data, buf.len) != n) fz_fail("re-encoded count differs");
  if (decode(fz_C, buf.data, buf.len) != n) fz_fail("re-encoded buffer refused");
  pm_clear(&fz_fwd);
  pm_clear(&fz_back);
  for (int i = 1; i <= n; i++) same(i, i);
  wp_buf_free(&buf);
  lua_settop(fz_B, 0);
  lua_settop(fz_C, 0);
  return 0;
}
