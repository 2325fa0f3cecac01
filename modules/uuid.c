/*
** uuid.c: the `uuid` module (spec 10 §4): v1, v3, v4, v5 and v7 UUIDs,
** validate, version, variant, parse and format.
**
** Design
** ------
** A UUID is 16 bytes in RFC 9562 order. Output is always the canonical
** lowercase 36-character text. Input (wp_uuid_parse) takes, like Wippy's
** parser (Go's google/uuid): 36 characters with dashes at 8, 13, 18 and 23
** and hex (any case) elsewhere; "urn:uuid:" in any case followed by those
** 36; 38 characters, the 36 between two characters that are not checked
** (Wippy accepts "{...}" and, by the same code, any two outer characters);
** 32 hex digits. Lua strings may hold NUL bytes: parsing goes by length,
** and a NUL is simply not a hex digit.
**
** Errors follow the table of spec 10 §4: every failure is `nil, err` with
** retryable() == false; a wrong argument type is an error object too (the
** table says so), never a raise. Only a memory error from Lua can raise.
**
** Randomness comes from getrandom(2) (flags 0: blocks only until the kernel
** pool is first initialised, early at boot). It is read per UUID (v4: 16
** bytes; v7: 8), no buffer is kept, so nothing random is shared between
** threads or left in memory. A failure becomes an Internal error whose
** message is the system's ("getrandom: ...") and whose context is "vN
** generation failed" (shown by err:stack()). The source can be replaced
** (wp_uuid_set_random) so a test can see that row.
**
** v7 (48-bit Unix ms, version, 12-bit sub-millisecond sequence, variant,
** 62 random bits) must be strictly increasing on this node across every
** worker thread. The time part and the sequence form one 60-bit number,
** ms << 12 | seq, with seq first set to the sub-millisecond fraction of the
** clock in units of 256 ns (< 3907, so it fits 12 bits). v7_last holds
** the last number handed out; a compare-and-swap loop hands out
** max(now, last + 1). A carry out of seq advances ms, so under a burst of
** more than 4096 per millisecond, or when the wall clock steps back, the
** embedded time runs ahead of the clock until the clock catches up: the
** order is kept, the time is off by at most the excess. These 60 bits are
** the first 16 hex digits of the text (with the version digit at a fixed
** place), and lowercase hex sorts like its values in ASCII, so larger
** numbers give larger strings whatever the random tail. Relaxed order is
** enough: every successful CAS on one atomic reads the latest value in its
** modification order, so each number is handed out once and later calls
** (in program order, or after a message that happened after) get larger
** ones. This is what Wippy does (google/uuid's NewV7).
**
** v1: the 60-bit count of 100 ns since 1582-10-15, a 14-bit clock sequence
** and a 48-bit node id. There is no MAC address to use (and exposing one
** is what RFC 9562 advises against): the node id is 48 random bits with
** the multicast bit set (RFC 9562 §6.10), chosen with the clock sequence
** on the first v1 call of this runtime and kept. The timestamp is made
** unique like v7's (max(now, last + 1)), under a mutex that also guards
** the first-use choice; a failed choice leaves nothing chosen, so the next
** call tries again.
**
** v3 and v5 hash the namespace's 16 bytes followed by the name with MD5 or
** SHA-1 through OpenSSL's EVP interface (libcrypto), keep the first 16
** bytes and set the version and variant bits.
**
** parse: `timestamp` is the embedded time in integer Unix seconds (floored)
** for versions 1 and 7; `node` (version 1) is 12 lowercase hex digits, the
** documented form (Wippy returns the six raw bytes; spec 10 §4).
*/
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "errobj.h"
#include "lazylib.h"
#include "modules.h"

/* {====================================================================
** Text forms
** ===================================================================== */

static const char HEX[] = "0123456789abcdef";

/* Value of one hex digit, or -1. */
static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Reads 2*n hex digits of s (borrowed) into n bytes of out. 0, or -1. */
static int unhex(const char *s, unsigned char *out, int n) {
  for (int i = 0; i < n; i++) {
    int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
    if (hi < 0 || lo < 0) return -1;
    out[i] = (unsigned char)(hi << 4 | lo);
  }
  return 0;
}

int wp_uuid_parse(const char *s, size_t len, unsigned char u[16]) {
  switch (len) {
    case 32:
      return unhex(s, u, 16);
    case 36:
      break;
    case 38: /* "{...}": the outer two characters are not checked (Wippy) */
      s++;
      break;
    case 45: {
      static const char URN[] = "urn:uuid:";
      for (int i = 0; i < 9; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
        if (c != (unsigned char)URN[i]) return -1;
      }
      s += 9;
      break;
    }
    default:
      return -1;
  }
  if (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-') return -1;
  if (unhex(s, u, 4) || unhex(s + 9, u + 4, 2) || unhex(s + 14, u + 6, 2) ||
      unhex(s + 19, u + 8, 2) || unhex(s + 24, u + 10, 6))
    return -1;
  return 0;
}

void wp_uuid_format(const unsigned char u[16], char out[36]) {
  int o = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = HEX[u[i] >> 4];
    out[o++] = HEX[u[i] & 15];
  }
}

/* }==================================================================== */

/* {====================================================================
** Generators
** ===================================================================== */

static int sys_random(void *buf, size_t len) {
  unsigned char *p = buf;
  while (len > 0) {
    ssize_t n = getrandom(p, len, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno ? errno : EIO;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* The random source: getrandom(2) unless a test replaced it. Read by every
** worker; only written (wp_uuid_set_random) while no UUID is being made. */
static int (*random_fill)(void *buf, size_t len) = sys_random;

void wp_uuid_set_random(int (*fill)(void *buf, size_t len)) {
  random_fill = fill ? fill : sys_random;
}

static void set_version(unsigned char u[16], int version) {
  u[6] = (unsigned char)((u[6] & 0x0f) | version << 4);
  u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 9562 variant 10x */
}

int wp_uuid_v4(unsigned char u[16]) {
  int e = random_fill(u, 16);
  if (e) return e;
  set_version(u, 4);
  return 0;
}

/* ms << 12 | seq of the last v7 UUID handed out (see the design note). */
static _Atomic uint64_t v7_last;

int wp_uuid_v7(unsigned char u[16]) {
  /* the random part first: a failure hands out no number */
  int e = random_fill(u + 8, 8);
  if (e) return e;
  int64_t ns = wp_wall_ns();
  if (ns < 0) ns = 0;
  uint64_t now = (uint64_t)ns / 1000000u << 12 | ((uint64_t)ns % 1000000u) >> 8;
  uint64_t last = atomic_load_explicit(&v7_last, memory_order_relaxed), next;
  do {
    next = now > last ? now : last + 1;
  } while (!atomic_compare_exchange_weak_explicit(&v7_last, &last, next, memory_order_relaxed,
                                                  memory_order_relaxed));
  uint64_t ms = next >> 12;
  for (int i = 0; i < 6; i++) u[i] = (unsigned char)(ms >> (40 - 8 * i));
  u[6] = (unsigned char)(0x70 | ((next >> 8) & 0x0f));
  u[7] = (unsigned char)next;
  u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
  return 0;
}

/* 100 ns intervals from 1582-10-15 (the Gregorian reform, v1's epoch) to
** 1970-01-01. */
#define GREGORIAN_OFFSET 0x01B21DD213814000LL

/* v1's state, all under v1_lock: the node id and clock sequence, chosen on
** first use, and the last timestamp handed out. */
static pthread_mutex_t v1_lock = PTHREAD_MUTEX_INITIALIZER;
static int v1_ready;
static unsigned char v1_node[6];
static unsigned v1_clockseq;
static uint64_t v1_last;

int wp_uuid_v1(unsigned char u[16]) {
  int64_t ns = wp_wall_ns();
  uint64_t now = (uint64_t)(ns / 100 + GREGORIAN_OFFSET);
  pthread_mutex_lock(&v1_lock);
  if (!v1_ready) {
    unsigned char r[8];
    int e = random_fill(r, sizeof r);
    if (e) {
      pthread_mutex_unlock(&v1_lock);
      return e;
    }
    memcpy(v1_node, r, 6);
    v1_node[0] |= 0x01; /* multicast bit: never a real IEEE 802 address */
    v1_clockseq = ((unsigned)r[6] << 8 | r[7]) & 0x3fff;
    v1_ready = 1;
  }
  uint64_t t = now > v1_last ? now : v1_last + 1;
  v1_last = t;
  memcpy(u + 10, v1_node, 6);
  unsigned cs = v1_clockseq;
  pthread_mutex_unlock(&v1_lock);
  t &= 0x0fffffffffffffffULL; /* 60 bits: until the year 5236 */
  u[0] = (unsigned char)(t >> 24);
  u[1] = (unsigned char)(t >> 16);
  u[2] = (unsigned char)(t >> 8);
  u[3] = (unsigned char)t;
  u[4] = (unsigned char)(t >> 40);
  u[5] = (unsigned char)(t >> 32);
  u[6] = (unsigned char)(0x10 | ((t >> 56) & 0x0f));
  u[7] = (unsigned char)(t >> 48);
  u[8] = (unsigned char)(0x80 | cs >> 8);
  u[9] = (unsigned char)cs;
  return 0;
}

int wp_uuid_hashed(int version, const unsigned char ns[16], const char *name, size_t len,
                   unsigned char u[16]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok = ctx && EVP_DigestInit_ex(ctx, version == 3 ? EVP_md5() : EVP_sha1(), NULL) &&
           EVP_DigestUpdate(ctx, ns, 16) && EVP_DigestUpdate(ctx, name, len) &&
           EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen >= 16;
  EVP_MD_CTX_free(ctx);
  if (!ok) return -1;
  memcpy(u, md, 16);
  set_version(u, version);
  return 0;
}

/* }==================================================================== */

/* {====================================================================
** Lua functions
** ===================================================================== */

/* `return nil, err`: kind Invalid, not retryable. */
static int fail(lua_State *L, const char *msg) {
  lua_pushnil(L);
  wp_err_push(L, WP_KIND_INVALID, msg, 0);
  return 2;
}

/* `return nil, err` for a generator that could not run: kind Internal, the
** underlying message, and the context ("v4 generation failed"). */
static int gen_fail(lua_State *L, const char *msg, const char *context) {
  lua_pushnil(L);
  wp_err_push(L, WP_KIND_INTERNAL, msg, 0);
  lua_pushstring(L, context);
  wp_err_set_context(L, -2);
  return 2;
}

static int gen_errno(lua_State *L, int e, const char *context) {
  char buf[128];
  const char *s = strerror_r(e, buf, sizeof buf); /* GNU: may return a static string */
  lua_pushfstring(L, "getrandom: %s", s);
  return gen_fail(L, lua_tostring(L, -1), context);
}

static int push_uuid(lua_State *L, const unsigned char u[16]) {
  char s[36];
  wp_uuid_format(u, s);
  lua_pushlstring(L, s, sizeof s);
  return 1;
}

static int u_v1(lua_State *L) {
  unsigned char u[16];
  int e = wp_uuid_v1(u);
  return e ? gen_errno(L, e, "v1 generation failed") : push_uuid(L, u);
}

static int u_v4(lua_State *L) {
  unsigned char u[16];
  int e = wp_uuid_v4(u);
  return e ? gen_errno(L, e, "v4 generation failed") : push_uuid(L, u);
}

static int u_v7(lua_State *L) {
  unsigned char u[16];
  int e = wp_uuid_v7(u);
  return e ? gen_errno(L, e, "v7 generation failed") : push_uuid(L, u);
}

static int hashed(lua_State *L, int version) {
  if (lua_gettop(L) < 2 || lua_type(L, 1) != LUA_TSTRING || lua_type(L, 2) != LUA_TSTRING)
    return fail(L, "namespace and name must be strings");
  size_t nslen, len;
  const char *ns = lua_tolstring(L, 1, &nslen);
  const char *name = lua_tolstring(L, 2, &len);
  unsigned char nsu[16], u[16];
  if (wp_uuid_parse(ns, nslen, nsu)) return fail(L, "invalid namespace UUID");
  if (wp_uuid_hashed(version, nsu, name, len, u))
    return gen_fail(L, version == 3 ? "MD5 digest failed" : "SHA-1 digest failed",
                    version == 3 ? "v3 generation failed" : "v5 generation failed");
  return push_uuid(L, u);
}

static int u_v3(lua_State *L) { return hashed(L, 3); }
static int u_v5(lua_State *L) { return hashed(L, 5); }

static int u_validate(lua_State *L) {
  unsigned char u[16];
  int ok = 0;
  if (lua_type(L, 1) == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    ok = wp_uuid_parse(s, len, u) == 0;
  }
  lua_pushboolean(L, ok);
  return 1;
}

/* Reads argument 1 into u. NULL, or the message of the error to return. */
static const char *input(lua_State *L, unsigned char u[16]) {
  if (lua_type(L, 1) != LUA_TSTRING) return "input must be a string";
  size_t len;
  const char *s = lua_tolstring(L, 1, &len);
  return wp_uuid_parse(s, len, u) ? "invalid UUID format" : NULL;
}

static int u_version(lua_State *L) {
  unsigned char u[16];
  const char *err = input(L, u);
  if (err) return fail(L, err);
  lua_pushinteger(L, u[6] >> 4);
  return 1;
}

/* The variant name by the top bits of byte 8 (google/uuid's Variant). */
static const char *variant(const unsigned char u[16]) {
  if ((u[8] & 0xc0) == 0x80) return "RFC4122";
  if ((u[8] & 0xe0) == 0xc0) return "Microsoft";
  if ((u[8] & 0xe0) == 0xe0) return "Future";
  return "Reserved";
}

static int u_variant(lua_State *L) {
  unsigned char u[16];
  const char *err = input(L, u);
  if (err) return fail(L, err);
  lua_pushstring(L, variant(u));
  return 1;
}

/* floor(a / b) for b > 0. */
static int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b < 0) ? q - 1 : q;
}

static int u_parse(lua_State *L) {
  unsigned char u[16];
  const char *err = input(L, u);
  if (err) return fail(L, err);
  int version = u[6] >> 4;
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, version);
  lua_setfield(L, -2, "version");
  lua_pushstring(L, variant(u));
  lua_setfield(L, -2, "variant");
  if (version == 1) {
    int64_t t = (int64_t)(u[6] & 0x0f) << 56 | (int64_t)u[7] << 48 | (int64_t)u[4] << 40 |
                (int64_t)u[5] << 32 | (int64_t)u[0] << 24 | (int64_t)u[1] << 16 |
                (int64_t)u[2] << 8 | u[3];
    lua_pushinteger(L, floordiv(t - GREGORIAN_OFFSET, 10000000));
    lua_setfield(L, -2, "timestamp");
    char node[12];
    for (int i = 0; i < 6; i++) {
      node[2 * i] = HEX[u[10 + i] >> 4];
      node[2 * i + 1] = HEX[u[10 + i] & 15];
    }
    lua_pushlstring(L, node, sizeof node);
    lua_setfield(L, -2, "node");
  } else if (version == 7) {
    int64_t ms = 0;
    for (int i = 0; i < 6; i++) ms = ms << 8 | u[i];
    lua_pushinteger(L, ms / 1000);
    lua_setfield(L, -2, "timestamp");
  }
  return 1;
}

static int u_format(lua_State *L) {
  unsigned char u[16];
  const char *err = input(L, u);
  if (err) return fail(L, err);
  size_t len = 8;
  const char *style = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &len) : "standard";
  char s[45];
  if (len == 8 && memcmp(style, "standard", 8) == 0) return push_uuid(L, u);
  if (len == 6 && memcmp(style, "simple", 6) == 0) {
    for (int i = 0; i < 16; i++) {
      s[2 * i] = HEX[u[i] >> 4];
      s[2 * i + 1] = HEX[u[i] & 15];
    }
    lua_pushlstring(L, s, 32);
    return 1;
  }
  if (len == 3 && memcmp(style, "urn", 3) == 0) {
    memcpy(s, "urn:uuid:", 9);
    wp_uuid_format(u, s + 9);
    lua_pushlstring(L, s, sizeof s);
    return 1;
  }
  return fail(L, "unsupported format");
}

/* }==================================================================== */

static const struct wp_libentry uuid_entries[] = {
    WP_LF("v1", u_v1),         WP_LF("v3", u_v3),           WP_LF("v4", u_v4),
    WP_LF("v5", u_v5),         WP_LF("v7", u_v7),           WP_LF("validate", u_validate),
    WP_LF("version", u_version), WP_LF("variant", u_variant), WP_LF("parse", u_parse),
    WP_LF("format", u_format), WP_LEND};
const struct wp_libdef wp_lib_uuid = {"uuid", uuid_entries, NULL};
