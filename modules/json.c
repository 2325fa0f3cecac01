/*
** json.c: the `json` module (spec 05 §8): json.encode and json.decode.
**
** Design
** ------
** Neither function raises on bad input: every failure is `nil, err` with an
** error object (vm/errobj.h). Only a memory error from Lua itself (pushing a
** string, creating a table) can raise.
**
** Encoder. Output goes into a C buffer (struct wp_buf) rather than a
** luaL_Buffer, because the traversal keeps pushing and popping keys and
** values, and a luaL_Buffer must stay on top of the stack. The buffer lives
** inside a userdata "box" with a __gc metamethod, so if Lua raises half way
** (an allocation failure while interning a long key, say) the memory is
** still reclaimed. On success the box is emptied explicitly before
** returning. The box also holds:
**   - `path`, the tables currently being encoded (at most ENC_MAX_DEPTH), for
**     cycle detection: a table that appears twice in the current path is a
**     cycle; one shared by two siblings is not and encodes twice;
**   - `keys`, a stack of borrowed string-key pointers used to sort object
**     keys. Each key is also stored in an anchor table (stack slot
**     ANCHOR_IDX, created on the first object) so the pointers stay valid
**     whatever happens to the source table meanwhile (a __gc finalizer
**     running during an allocation could modify it); the sorted entries are
**     emitted by fetching the key back from the anchor and doing a raw get,
**     which allocates nothing.
** Tables are classified by one lua_next pass (spec 10 §5.1): no keys ->
** "[]"; only positive integer keys forming exactly 1..n -> array (a gap is
** the "sparse array" error); only other keys -> object with keys in byte
** order, where a string key is itself and zero, negative or fractional
** numbers and booleans are written in string form ({[0] = "a"} ->
** {"0":"a"}); both kinds -> the "mixed-key table" error; a table or
** function as a key -> error. Metatables are ignored. Failures are kind
** Internal, never retryable, and carry spec 10's reason phrases.
** Numbers: integers print in decimal; floats print in the shortest form that
** reads back to the same double, laid out like Go's encoding/json (fixed
** notation for 1e-6 <= |x| < 1e21, so 2.0 -> "2" and 1e20 ->
** "100000000000000000000"; exponent notation otherwise, "1e+21", "1e-7").
** One deliberate difference from Go: an integral float below 2^63 in
** magnitude prints all its digits exactly (2^62+2048.0 ->
** "4611686018427389952", Go gives "4611686018427390000"), because the
** decoder turns such text into a Lua integer, which must equal the float.
** Formatting is locale-independent. NaN and +-Inf encode as null.
** Strings: `"` and `\` are escaped, control bytes as \n \r \t \b \f or
** \u00XX, U+2028/U+2029 as \u2028/\u2029 (like Go); valid UTF-8 passes
** through; each byte of an invalid UTF-8 sequence becomes \ufffd (like Go).
** No HTML escaping of < > &.
** Error objects encode as their message string; any other userdata,
** functions, threads and light userdata encode as null (spec 10 §5.1).
**
** Decoder. A recursive-descent parser over the input bytes that builds Lua
** values directly on the stack (lua_checkstack per nesting level; a failure
** becomes an error, not a raise). On any error the stack is reset to its
** base and `nil, err` is returned; err's message names the byte offset
** (0-based). Strings without escapes or invalid bytes are pushed straight
** from the input; otherwise they are assembled in a luaL_Buffer, which is
** the only thing pushed while it is in use. Like Go: invalid UTF-8 in the
** input and unpaired surrogate escapes decode to U+FFFD. `null` decodes to
** nil: an array element that is null leaves a hole (later indices keep their
** position), an object member that is null is absent. Numbers written as
** integers that fit int64 become Lua integers (but "-0" is the float -0.0,
** so that encode(decode(encode(-0.0))) is still "-0"), everything else a float;
** a finite literal that overflows a double is an error. Object members with
** the same key: the last wins. Trailing non-whitespace is an error.
*/
#include <lauxlib.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "errobj.h"
#include "vm.h"
#include "modules.h"


#define ENC_MAX_DEPTH 128
#define DEC_MAX_DEPTH 128

/* {====================================================================
** UTF-8
** ===================================================================== */

/*
** Returns the length (1..4) of the valid UTF-8 sequence starting at s (n
** bytes available, n >= 1, s[0] >= 0x80), or 0 if it is not valid: bad lead
** byte, truncated, overlong, a surrogate, or above U+10FFFF.
*/
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t need;
  unsigned lo = 0x80, hi = 0xBF; /* range of the second byte */
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (n < need) return 0;
  if (s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < need; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  return need;
}

/* Writes code point cp (<= 0x10FFFF, not a surrogate) as UTF-8; returns
** the length. */
static int utf8_put(char *out, unsigned long cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* }==================================================================== */

/* {====================================================================
** Encoder
** ===================================================================== */

#define ANCHOR_IDX 3 /* json_encode's stack: 1 value, 2 box, 3 anchor */

struct enc_key {
  const char *s;
  size_t len;
  lua_Integer slot; /* index of the key in the anchor table */
};

struct enc {
  struct wp_buf out;
  struct enc_key *keys; /* stack of object keys being sorted/emitted */
  size_t nkeys, capkeys;
  const void *path[ENC_MAX_DEPTH];
  int depth;
  const char *err; /* static message, or errbuf */
  char errbuf[96];
};

static void enc_release(struct enc *e) {
  wp_buf_free(&e->out);
  wp_free(e->keys);
  e->keys = NULL;
  e->nkeys = e->capkeys = 0;
}

static int enc_gc(lua_State *L) {
  enc_release((struct enc *)lua_touserdata(L, 1));
  return 0;
}

static int enc_fail(struct enc *e, const char *msg) {
  e->err = msg;
  return -1;
}

static int enc_put(struct enc *e, const void *p, size_t n) {
  if (wp_buf_append(&e->out, p, n)) return enc_fail(e, "json: out of memory");
  return 0;
}

#define enc_lit(e, s) enc_put((e), (s), sizeof(s) - 1)

static const char hexdig[] = "0123456789abcdef";

static int enc_string(struct enc *e, const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  if (enc_lit(e, "\"")) return -1;
  while (i < len) {
    /* Work in chunks: one input byte gives at most 6 output bytes, and the
    ** last sequence of a chunk may run 3 bytes past its end. */
    size_t end = len - i > 4096 ? i + 4096 : len;
    if (wp_buf_reserve(&e->out, (end - i + 3) * 6 + 1)) return enc_fail(e, "json: out of memory");
    uint8_t *o = e->out.data + e->out.len;
    while (i < end) {
      unsigned c = s[i];
      if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
        *o++ = (uint8_t)c;
        i++;
      } else if (c < 0x80) {
        *o++ = '\\';
        switch (c) {
          case '"': *o++ = '"'; break;
          case '\\': *o++ = '\\'; break;
          case '\n': *o++ = 'n'; break;
          case '\r': *o++ = 'r'; break;
          case '\t': *o++ = 't'; break;
          case '\b': *o++ = 'b'; break;
          case '\f': *o++ = 'f'; break;
          default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = (uint8_t)hexdig[c >> 4];
            *o++ = (uint8_t)hexdig[c & 0xF];
        }
        i++;
      } else {
        size_t n = utf8_seq(s + i, len - i);
        if (n == 0) {
          memcpy(o, "\\ufffd", 6);
          o += 6;
          i++;
        } else if (n == 3 && c == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] & 0xFE) == 0xA8) {
          memcpy(o, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
          o += 6;
          i += 3;
        } else {
          memcpy(o, s + i, n);
          o += n;
          i += n;
        }
      }
    }
    e->out.len = (size_t)(o - e->out.data);
  }
  return enc_lit(e, "\"");
}

/*
** Formats a finite double into out (>= 40 bytes) in the shortest
** round-trip form, laid out like Go's encoding/json. Returns the length.
*/
static int format_double(double d, char *out) {
  char tmp[48];
  char dig[24];
  int nd = 0, exp10 = 0, p;
  char *o = out;
  if (d == 0) {
    if (signbit(d)) *o++ = '-';
    *o++ = '0';
    return (int)(o - out);
  }
  /* An integral value that would decode as a Lua integer is printed
  ** exactly: shortest digits padded with zeros (Go's 2^62+2048 ->
  ** "4611686018427390000") would read back as a different integer. */
  if (fabs(d) < 0x1p63 && d == floor(d)) return snprintf(out, 40, "%.0f", d);
  for (p = 1; p <= 17; p++) {
    snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
    if (p == 17 || strtod(tmp, NULL) == d) break;
  }
  /* Extract digits and exponent without assuming the locale's decimal point. */
  const char *t = tmp;
  if (*t == '-') t++;
  while (*t && *t != 'e') {
    if (*t >= '0' && *t <= '9' && nd < (int)sizeof dig) dig[nd++] = *t;
    t++;
  }
  if (*t == 'e') exp10 = (int)strtol(t + 1, NULL, 10);
  while (nd > 1 && dig[nd - 1] == '0') nd--;
  if (d < 0) *o++ = '-';
  if (exp10 >= -6 && exp10 < 21) {
    if (exp10 >= 0) {
      for (int i = 0; i <= exp10; i++) *o++ = i < nd ? dig[i] : '0';
      if (nd > exp10 + 1) {
        *o++ = '.';
        for (int i = exp10 + 1; i < nd; i++) *o++ = dig[i];
      }
    } else {
      *o++ = '0';
      *o++ = '.';
      for (int i = -1; i > exp10; i--) *o++ = '0';
      for (int i = 0; i < nd; i++) *o++ = dig[i];
    }
  } else {
    *o++ = dig[0];
    if (nd > 1) {
      *o++ = '.';
      for (int i = 1; i < nd; i++) *o++ = dig[i];
    }
    *o++ = 'e';
    *o++ = exp10 < 0 ? '-' : '+';
    int ax = exp10 < 0 ? -exp10 : exp10;
    o += snprintf(o, 8, exp10 < 0 ? "%d" : "%02d", ax);
  }
  return (int)(o - out);
}

static int enc_value(lua_State *L, struct enc *e, int idx);

static int key_cmp(const void *a, const void *b) {
  const struct enc_key *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->s, y->s, n);
  if (c) return c;
  return (x->len > y->len) - (x->len < y->len);
}

/* Records an object key: the string it is written as (s, len: the string on
** top of the stack, left there) and the table's own key at stack index
** kidx (the same string, or a number or boolean written in string form).
** Both are anchored: anchor[2 * slot - 1] the text, anchor[2 * slot] the
** key to read the value with. */
static int enc_push_key(lua_State *L, struct enc *e, const char *s, size_t len, int kidx) {
  if (e->nkeys == e->capkeys) {
    size_t cap = e->capkeys ? e->capkeys * 2 : 16;
    struct enc_key *k = wp_realloc(e->keys, cap * sizeof *k);
    if (!k) return enc_fail(e, "json: out of memory");
    e->keys = k;
    e->capkeys = cap;
  }
  if (lua_type(L, ANCHOR_IDX) != LUA_TTABLE) {
    lua_newtable(L);
    lua_replace(L, ANCHOR_IDX);
  }
  lua_Integer slot = (lua_Integer)e->nkeys + 1;
  lua_pushvalue(L, -1);
  lua_rawseti(L, ANCHOR_IDX, 2 * slot - 1);
  lua_pushvalue(L, kidx);
  lua_rawseti(L, ANCHOR_IDX, 2 * slot);
  e->keys[e->nkeys].s = s;
  e->keys[e->nkeys].len = len;
  e->keys[e->nkeys].slot = slot;
  e->nkeys++;
  return 0;
}

/* Spec 10 §5.1: positive integer keys are array indices, every other key
** (a string, zero, a negative or fractional number, a boolean) an object
** key in string form; a table with both is an error, as is an array with
** a gap. */
static int enc_table_body(lua_State *L, struct enc *e, int idx) {
  size_t kbase = e->nkeys;
  lua_Integer nint = 0, maxint = 0;
  size_t nstr = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1); /* the value */
    int kt = lua_type(L, -1), kidx = lua_gettop(L);
    if (kt == LUA_TNUMBER && lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
      lua_Integer k = lua_tointeger(L, -1);
      nint++;
      if (k > maxint) maxint = k;
    } else if (kt == LUA_TSTRING) {
      size_t klen;
      const char *k = lua_tolstring(L, -1, &klen);
      nstr++;
      if (enc_push_key(L, e, k, klen, kidx)) return -1;
    } else if (kt == LUA_TNUMBER || kt == LUA_TBOOLEAN) {
      char num[48];
      int n;
      if (kt == LUA_TBOOLEAN)
        n = snprintf(num, sizeof num, "%s", lua_toboolean(L, -1) ? "true" : "false");
      else if (lua_isinteger(L, -1))
        n = snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, -1));
      else if (!isfinite((double)lua_tonumber(L, -1))) /* NaN is never a key */
        n = snprintf(num, sizeof num, "%s", lua_tonumber(L, -1) > 0 ? "+Inf" : "-Inf");
      else
        n = format_double((double)lua_tonumber(L, -1), num);
      lua_pushlstring(L, num, (size_t)n);
      nstr++;
      int r = enc_push_key(L, e, lua_tostring(L, -1), (size_t)n, kidx);
      lua_pop(L, 1); /* anchored: the text stays valid */
      if (r) return -1;
    } else {
      snprintf(e->errbuf, sizeof e->errbuf, "json: unsupported table key type %s",
               lua_typename(L, kt));
      return enc_fail(e, e->errbuf);
    }
    if (nstr && nint)
      return enc_fail(e, "json: cannot encode mixed-key table: table has both numeric and "
                         "non-numeric keys");
  }
  if (nint) {
    if (maxint != nint)
      return enc_fail(e, "json: cannot encode sparse array: non-contiguous numeric keys found");
    if (enc_lit(e, "[")) return -1;
    for (lua_Integer i = 1; i <= nint; i++) {
      if (i > 1 && enc_lit(e, ",")) return -1;
      lua_rawgeti(L, idx, i);
      if (enc_value(L, e, lua_gettop(L))) return -1;
      lua_pop(L, 1);
    }
    return enc_lit(e, "]");
  }
  if (nstr == 0) return enc_lit(e, "[]");
  qsort(e->keys + kbase, nstr, sizeof *e->keys, key_cmp);
  if (enc_lit(e, "{")) return -1;
  for (size_t i = 0; i < nstr; i++) {
    /* re-read: nested objects may have reallocated e->keys */
    struct enc_key k = e->keys[kbase + i];
    if (i > 0 && enc_lit(e, ",")) return -1;
    if (enc_string(e, k.s, k.len) || enc_lit(e, ":")) return -1;
    lua_rawgeti(L, ANCHOR_IDX, 2 * k.slot);
    lua_rawget(L, idx);
    if (enc_value(L, e, lua_gettop(L))) return -1;
    lua_pop(L, 1);
  }
  e->nkeys = kbase;
  return enc_lit(e, "}");
}

static int enc_table(lua_State *L, struct enc *e, int idx) {
  const void *p = lua_topointer(L, idx);
  for (int i = 0; i < e->depth; i++)
    if (e->path[i] == p) return enc_fail(e, "json: cannot encode recursively nested tables to JSON");
  if (e->depth >= ENC_MAX_DEPTH)
    return enc_fail(e, "json: exceeded maximum nesting depth for JSON encoding");
  if (!lua_checkstack(L, 4)) return enc_fail(e, "json: stack overflow");
  e->path[e->depth++] = p;
  int r = enc_table_body(L, e, idx);
  e->depth--;
  return r;
}

static int enc_value(lua_State *L, struct enc *e, int idx) {
  switch (lua_type(L, idx)) {
    case LUA_TNIL:
      return enc_lit(e, "null");
    case LUA_TBOOLEAN:
      return lua_toboolean(L, idx) ? enc_lit(e, "true") : enc_lit(e, "false");
    case LUA_TNUMBER: {
      char num[48];
      int n;
      if (lua_isinteger(L, idx)) {
        n = snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, idx));
      } else {
        double d = (double)lua_tonumber(L, idx);
        if (!isfinite(d)) return enc_lit(e, "null");
        n = format_double(d, num);
      }
      return enc_put(e, num, (size_t)n);
    }
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      return enc_string(e, s, len);
    }
    case LUA_TTABLE:
      return enc_table(L, e, idx);
    case LUA_TUSERDATA:
      if (wp_err_is(L, idx)) {
        size_t len;
        const char *s = wp_err_message(L, idx, &len);
        return enc_string(e, s, len);
      }
      return enc_lit(e, "null"); /* channels, timers, ...: spec 10 §5.1 */
    default: /* functions, coroutines, light userdata */
      return enc_lit(e, "null");
  }
}

/* json.encode(v) -> string | nil, err. Upvalue 1: the box metatable. */
static int json_encode(lua_State *L) {
  lua_settop(L, 1);
  struct enc *e = lua_newuserdatauv(L, sizeof *e, 0);
  memset(e, 0, sizeof *e);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setmetatable(L, -2);
  lua_pushnil(L); /* ANCHOR_IDX, made a table by the first object */
  if (enc_value(L, e, 1)) {
    const char *msg = e->err;
    lua_settop(L, ANCHOR_IDX); /* keep the box (errbuf) alive for the message */
    wp_err_push(L, WP_KIND_INTERNAL, msg, 0);
    enc_release(e);
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushlstring(L, (const char *)e->out.data, e->out.len);
  enc_release(e);
  return 1;
}

/* }==================================================================== */

/* {====================================================================
** Decoder
** ===================================================================== */

struct dec {
  lua_State *L;
  const unsigned char *s;
  size_t len, pos;
  int depth;
  char err[128];
};

static int dec_fail(struct dec *d, const char *what) {
  snprintf(d->err, sizeof d->err, "json: %s at offset %zu", what, d->pos);
  return -1;
}

/* "invalid character 'x'" or "unexpected end of input" at d->pos. */
static int dec_unexpected(struct dec *d, const char *ctx) {
  if (d->pos >= d->len) return dec_fail(d, "unexpected end of input");
  unsigned c = d->s[d->pos];
  char what[96];
  if (c >= 0x20 && c < 0x7F)
    snprintf(what, sizeof what, "invalid character '%c' %s", (int)c, ctx);
  else
    snprintf(what, sizeof what, "invalid byte 0x%02x %s", c, ctx);
  return dec_fail(d, what);
}

static void dec_ws(struct dec *d) {
  while (d->pos < d->len) {
    unsigned char c = d->s[d->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    d->pos++;
  }
}

static int dec_value(struct dec *d);

static int hexval(unsigned c) {
  if (c >= '0' && c <= '9') return (int)(c - '0');
  if (c >= 'a' && c <= 'f') return (int)(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return (int)(c - 'A' + 10);
  return -1;
}

/* Reads 4 hex digits at d->s[at]; -1 if not there. */
static long hex4(struct dec *d, size_t at) {
  if (at > d->len || d->len - at < 4) return -1;
  long v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(d->s[at + (size_t)i]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

/*
** Slow path for a string with escapes or invalid UTF-8: d->pos is just
** after the opening quote. Pushes the string.
*/
static int dec_string_slow(struct dec *d) {
  lua_State *L = d->L;
  luaL_Buffer b;
  char u[4];
  luaL_buffinit(L, &b);
  for (;;) {
    /* copy a run of plain, valid bytes */
    size_t start = d->pos;
    while (d->pos < d->len) {
      unsigned c = d->s[d->pos];
      if (c == '"' || c == '\\' || c < 0x20) break;
      if (c < 0x80) {
        d->pos++;
      } else {
        size_t n = utf8_seq(d->s + d->pos, d->len - d->pos);
        if (n == 0) break;
        d->pos += n;
      }
    }
    if (d->pos > start) luaL_addlstring(&b, (const char *)d->s + start, d->pos - start);
    if (d->pos >= d->len) return dec_fail(d, "unexpected end of input in string");
    unsigned c = d->s[d->pos];
    if (c == '"') {
      d->pos++;
      luaL_pushresult(&b);
      return 0;
    }
    if (c < 0x20) return dec_unexpected(d, "in string");
    if (c >= 0x80) { /* invalid UTF-8 byte */
      luaL_addlstring(&b, "\xEF\xBF\xBD", 3);
      d->pos++;
      continue;
    }
    /* escape */
    if (d->pos + 1 >= d->len) {
      d->pos = d->len;
      return dec_fail(d, "unexpected end of input in string");
    }
    unsigned x = d->s[d->pos + 1];
    char ch;
    switch (x) {
      case '"': ch = '"'; break;
      case '\\': ch = '\\'; break;
      case '/': ch = '/'; break;
      case 'b': ch = '\b'; break;
      case 'f': ch = '\f'; break;
      case 'n': ch = '\n'; break;
      case 'r': ch = '\r'; break;
      case 't': ch = '\t'; break;
      case 'u': {
        long cp = hex4(d, d->pos + 2);
        if (cp < 0) return dec_fail(d, "invalid \\u escape in string");
        d->pos += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          long lo = -1;
          if (d->len - d->pos >= 6 && d->s[d->pos] == '\\' && d->s[d->pos + 1] == 'u')
            lo = hex4(d, d->pos + 2);
          if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            d->pos += 6;
          } else {
            cp = 0xFFFD; /* unpaired high surrogate; what follows is kept */
          }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          cp = 0xFFFD; /* unpaired low surrogate */
        }
        luaL_addlstring(&b, u, (size_t)utf8_put(u, (unsigned long)cp));
        continue;
      }
      default:
        d->pos++;
        return dec_unexpected(d, "in string escape");
    }
    luaL_addchar(&b, ch);
    d->pos += 2;
  }
}

/* d->pos is at the opening quote. Pushes the string. */
static int dec_string(struct dec *d) {
  size_t start = ++d->pos;
  while (d->pos < d->len) {
    unsigned c = d->s[d->pos];
    if (c == '"') {
      lua_pushlstring(d->L, (const char *)d->s + start, d->pos - start);
      d->pos++;
      return 0;
    }
    if (c == '\\' || c < 0x20) break;
    if (c < 0x80) {
      d->pos++;
    } else {
      size_t n = utf8_seq(d->s + d->pos, d->len - d->pos);
      if (n == 0) break;
      d->pos += n;
    }
  }
  d->pos = start;
  return dec_string_slow(d);
}

static int is_digit(unsigned c) { return c >= '0' && c <= '9'; }

static int dec_number(struct dec *d) {
  size_t start = d->pos, p = d->pos;
  const unsigned char *s = d->s;
  int isint = 1;
  if (p < d->len && s[p] == '-') p++;
  if (p >= d->len) {
    d->pos = p;
    return dec_fail(d, "unexpected end of input in number");
  }
  if (s[p] == '0') {
    p++;
  } else if (is_digit(s[p])) {
    while (p < d->len && is_digit(s[p])) p++;
  } else {
    d->pos = p;
    return dec_unexpected(d, "in number");
  }
  if (p < d->len && s[p] == '.') {
    isint = 0;
    p++;
    if (p >= d->len || !is_digit(s[p])) {
      d->pos = p;
      return dec_unexpected(d, "after decimal point in number");
    }
    while (p < d->len && is_digit(s[p])) p++;
  }
  if (p < d->len && (s[p] == 'e' || s[p] == 'E')) {
    isint = 0;
    p++;
    if (p < d->len && (s[p] == '+' || s[p] == '-')) p++;
    if (p >= d->len || !is_digit(s[p])) {
      d->pos = p;
      return dec_unexpected(d, "in exponent of number");
    }
    while (p < d->len && is_digit(s[p])) p++;
  }
  size_t n = p - start;
  if (isint) {
    /* accumulate as a negative value so that INT64_MIN fits */
    int neg = s[start] == '-';
    long long v = 0;
    int ovf = 0;
    for (size_t i = start + (size_t)neg; i < p; i++) {
      int dg = s[i] - '0';
      if (v < (LLONG_MIN + dg) / 10) {
        ovf = 1;
        break;
      }
      v = v * 10 - dg;
    }
    /* "-0" is the float -0.0, which json.encode writes as "-0": an integer
       has no negative zero. */
    if (!ovf && (neg || v != LLONG_MIN) && !(neg && v == 0)) {
      lua_pushinteger(d->L, (lua_Integer)(neg ? v : -v));
      d->pos = p;
      return 0;
    }
  }
  /* float: strtod on a NUL-terminated copy with the locale's decimal point */
  char small[128];
  char *tmp = n < sizeof small ? small : wp_malloc(n + 1);
  if (!tmp) return dec_fail(d, "out of memory");
  memcpy(tmp, s + start, n);
  tmp[n] = '\0';
  char dp = localeconv()->decimal_point[0];
  if (dp != '.' && dp != '\0') {
    char *dot = strchr(tmp, '.');
    if (dot) *dot = dp;
  }
  double v = strtod(tmp, NULL);
  if (tmp != small) wp_free(tmp);
  if (!isfinite(v)) return dec_fail(d, "number out of range");
  lua_pushnumber(d->L, (lua_Number)v);
  d->pos = p;
  return 0;
}

static int dec_enter(struct dec *d) {
  if (++d->depth > DEC_MAX_DEPTH) return dec_fail(d, "maximum nesting depth exceeded");
  if (!lua_checkstack(d->L, 8)) return dec_fail(d, "stack overflow");
  return 0;
}

/* d->pos is at '['. Pushes the table. */
static int dec_array(struct dec *d) {
  if (dec_enter(d)) return -1;
  d->pos++;
  lua_newtable(d->L);
  dec_ws(d);
  if (d->pos < d->len && d->s[d->pos] == ']') {
    d->pos++;
    d->depth--;
    return 0;
  }
  for (lua_Integer i = 1;; i++) {
    if (dec_value(d)) return -1;
    if (lua_isnil(d->L, -1))
      lua_pop(d->L, 1);
    else
      lua_rawseti(d->L, -2, i);
    dec_ws(d);
    if (d->pos < d->len && d->s[d->pos] == ',') {
      d->pos++;
    } else if (d->pos < d->len && d->s[d->pos] == ']') {
      d->pos++;
      d->depth--;
      return 0;
    } else {
      return dec_unexpected(d, "after array element");
    }
  }
}

/* d->pos is at '{'. Pushes the table. */
static int dec_object(struct dec *d) {
  if (dec_enter(d)) return -1;
  d->pos++;
  lua_newtable(d->L);
  dec_ws(d);
  if (d->pos < d->len && d->s[d->pos] == '}') {
    d->pos++;
    d->depth--;
    return 0;
  }
  for (;;) {
    dec_ws(d);
    if (d->pos >= d->len || d->s[d->pos] != '"')
      return dec_unexpected(d, "looking for object key");
    if (dec_string(d)) return -1;
    dec_ws(d);
    if (d->pos >= d->len || d->s[d->pos] != ':')
      return dec_unexpected(d, "after object key");
    d->pos++;
    if (dec_value(d)) return -1;
    lua_rawset(d->L, -3); /* a null value removes an earlier duplicate */
    dec_ws(d);
    if (d->pos < d->len && d->s[d->pos] == ',') {
      d->pos++;
    } else if (d->pos < d->len && d->s[d->pos] == '}') {
      d->pos++;
      d->depth--;
      return 0;
    } else {
      return dec_unexpected(d, "after object member");
    }
  }
}

static int dec_literal(struct dec *d, const char *word) {
  size_t n = strlen(word);
  for (size_t i = 0; i < n; i++) {
    if (d->pos + i >= d->len || d->s[d->pos + i] != (unsigned char)word[i]) {
      d->pos += i;
      return dec_unexpected(d, "in literal");
    }
  }
  d->pos += n;
  return 0;
}

/* Parses one value (after optional whitespace) and pushes it. */
static int dec_value(struct dec *d) {
  dec_ws(d);
  if (d->pos >= d->len) return dec_fail(d, "unexpected end of input");
  switch (d->s[d->pos]) {
    case '{':
      return dec_object(d);
    case '[':
      return dec_array(d);
    case '"':
      return dec_string(d);
    case 't':
      if (dec_literal(d, "true")) return -1;
      lua_pushboolean(d->L, 1);
      return 0;
    case 'f':
      if (dec_literal(d, "false")) return -1;
      lua_pushboolean(d->L, 0);
      return 0;
    case 'n':
      if (dec_literal(d, "null")) return -1;
      lua_pushnil(d->L);
      return 0;
    default:
      if (d->s[d->pos] == '-' || is_digit(d->s[d->pos])) return dec_number(d);
      return dec_unexpected(d, "looking for beginning of value");
  }
}

/* json.decode(s) -> value | nil, err */
static int json_decode(lua_State *L) {
  if (lua_type(L, 1) != LUA_TSTRING) {
    lua_pushnil(L);
    wp_err_push(L, WP_KIND_INVALID, "string expected", 0);
    return 2;
  }
  struct dec d;
  memset(&d, 0, sizeof d);
  d.L = L;
  d.s = (const unsigned char *)lua_tolstring(L, 1, &d.len);
  if (d.len == 0) {
    lua_pushnil(L);
    wp_err_push(L, WP_KIND_INVALID, "empty string is not valid JSON", 0);
    return 2;
  }
  lua_settop(L, 1);
  if (dec_value(&d) == 0) {
    dec_ws(&d);
    if (d.pos == d.len) return 1;
    dec_unexpected(&d, "after top-level value");
  }
  lua_settop(L, 1);
  lua_pushnil(L);
  wp_err_push(L, WP_KIND_INTERNAL, d.err, 0);
  return 2;
}

/* }==================================================================== */

/* Pushes json.encode (a closure over the box metatable). */
static void push_encode(lua_State *L) {
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, enc_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcclosure(L, json_encode, 1);
}

/* Replaces the value at the top of L with the results of fn(value): 0 with
** the value there, or -1 with the error object there. */
static int call_top(lua_State *L, int encode) {
  if (encode)
    push_encode(L);
  else
    lua_pushcfunction(L, json_decode);
  lua_insert(L, -2);
  lua_call(L, 1, 2);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  lua_remove(L, -2);
  return -1;
}

int wp_json_encode_top(lua_State *L) { return call_top(L, 1); }
int wp_json_decode_top(lua_State *L) { return call_top(L, 0); }

int wp_open_json(lua_State *L) {
  wp_vm_self(L)->needs_close = 1; /* the encoder's box has a finaliser */
  lua_createtable(L, 0, 2);
  push_encode(L); /* the box metatable is shared through an upvalue */
  lua_setfield(L, -2, "encode");
  lua_pushcfunction(L, json_decode);
  lua_setfield(L, -2, "decode");
  return 1;
}
