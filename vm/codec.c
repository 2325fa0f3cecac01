/*
** codec.c: deep copy of Lua values between process states (spec 03 §10).
** See codec.h for the contract.
**
** WIRE FORMAT
**
** A buffer is a sequence of chunks, one per wp_codec_encode call (a caller
** may append several calls to one buffer). A chunk is a header byte followed
** by the values of that call:
**
**   0xF0   chunk without back-references
**   0xF1   chunk that contains back-references (T_REF)
**
** Every value starts with a tag byte:
**
**   0x00  nil
**   0x01  false
**   0x02  true
**   0x03  dropped value (function, thread, userdata): decodes as nil
**   0x04  integer: zigzag varint
**   0x05  float: 8 bytes, IEEE 754 binary64, little endian
**   0x06  string: varint length, bytes
**   0x07  table: varint N, byte H, then N values (t[1..N]), then key/value
**         pairs, then 0x0A. H is the number of pairs, saturated at 255;
**         it only sizes the new table. The table takes the next table
**         index of its chunk (1, 2, ...) before its contents are read.
**   0x08  back-reference: varint table index (an earlier 0x07 of the same
**         chunk, possibly still open: that is how cycles travel)
**   0x09  error object: byte retryable (0 unknown, 1 false, 2 true),
**         varint length + kind, varint length + message, varint
**         (length + 1) + context or varint 0 for none, then one value for
**         the details (nil or a table)
**   0x0A  end of a table's pairs
**   0x20 + n   (n < 32) short string of n bytes
**   0x40 + n   (n < 64) small integer n
**
** Varints are little-endian base 128 (7 bits a byte, high bit = more), at
** most 10 bytes. Zigzag maps 0, -1, 1, -2 ... to 0, 1, 2, 3 ...
**
** Pairs whose key or value would be dropped are left out, so a table never
** gets a nil key. Array slots keep their position (nil or 0x03 marks holes).
** Integral floats that fit an integer travel as integers (-0.0 becomes 0);
** NaN and infinities stay floats.
**
** ENCODER
**
** The encoder runs in the sender's C functions, so it must never raise and
** never allocate in L: it only reads (lua_type, lua_toboolean, lua_tointegerx,
** lua_tonumberx, lua_tolstring on real strings, lua_rawlen, lua_rawgeti,
** lua_next, lua_topointer). Keys are never converted in place, which would
** confuse lua_next. The only call that may allocate is lua_checkstack (two
** slots per nesting level are needed); it returns 0 instead of raising and
** we report "out of memory". Tables already seen are found through a pointer
** hash (lua_topointer -> table index) that is allocated with wp_malloc only
** when a second table appears, and freed on every path. On failure the
** caller's buffer is cut back to its old length and the stack restored.
**
** Limits: a table nested inside max_depth tables is "message too deep" (an
** error's details table counts as one level; a back-reference does not); the
** bytes appended by one call, header included, may not pass max_bytes. A
** field <= 0 in wp_codec_limits means its default. Both sides refuse nesting
** beyond HARD_DEPTH whatever the limits say (bounded C recursion): every
** recursive call passes through a table, which counts a level, except an
** error's details, which must be nil or a table (never another error).
**
** DECODER
**
** One parser serves decoding (d->L != NULL: builds the values) and counting
** (d->L == NULL: only walks), so both accept exactly the same buffers. It
** never reads past the end, checks every length against the bytes left,
** and rejects nil or NaN keys, bad back-references and non-table details
** before Lua could raise on them. The tables needed for back-references
** live in a Lua table on the stack, so a memory error raised by Lua leaks
** nothing. On a malformed buffer everything pushed is popped and -1 is
** returned. Array preallocation is capped (MAX_PREALLOC) so that a corrupt
** count cannot make a huge table before the values are found missing. The
** only other raise is luaL_checkstack's, which given HARD_DEPTH can fail
** only for lack of memory (or a buffer of about a million top-level values).
*/
#include "codec.h"

#include <lauxlib.h>
#include <math.h>
#include <string.h>

#include "alloc.h"
#include "errobj.h"
#include "wp.h"

enum {
  T_NIL = 0x00,
  T_FALSE = 0x01,
  T_TRUE = 0x02,
  T_DROPPED = 0x03,
  T_INT = 0x04,
  T_FLOAT = 0x05,
  T_STR = 0x06,
  T_TABLE = 0x07,
  T_REF = 0x08,
  T_ERR = 0x09,
  T_END = 0x0A,
  T_SSTR = 0x20,  /* + length, length < 32 */
  T_SINT = 0x40,  /* + value, 0 <= value < 64 */
  T_CHUNK = 0xF0,
  T_CHUNK_REFS = 0xF1
};

#define SSTR_MAX 32
#define SINT_MAX 64

/*
** Neither side nests deeper than this (C recursion), whatever the limits
** say: a value the encoder accepts is always one the decoder accepts.
*/
#define HARD_DEPTH 1000

/* The decoder preallocates at most this many array slots per table. */
#define MAX_PREALLOC 4096

static const char E_DEEP[] = "message too deep";
static const char E_LARGE[] = "message too large";
static const char E_NOMEM[] = "out of memory";

/* {====================================================================
** Encoder
** ===================================================================== */

struct hslot {
  const void *p;  /* NULL = free */
  uint64_t idx;
};

struct enc {
  lua_State *L;
  struct wp_buf *b;
  size_t start;         /* offset of this chunk's header in b */
  size_t limit;         /* b->len never exceeds this */
  int maxdepth;
  uint64_t ntables;     /* tables seen so far = last index given */
  const void *first;    /* table 1, while there is no hash */
  struct hslot *hash;   /* open addressing, power-of-two size */
  size_t hcap, hcount;
  const char *err;
};

static int enc_fail(struct enc *e, const char *msg) {
  if (e->err == NULL) e->err = msg;
  return -1;
}

/* Appends n bytes, within the size limit. */
static int put_slow(struct enc *e, const void *p, size_t n) {
  struct wp_buf *b = e->b;
  if (n > e->limit - b->len) return enc_fail(e, E_LARGE);
  if (wp_buf_reserve(b, n) != 0) return enc_fail(e, E_NOMEM);
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

static inline int put(struct enc *e, const void *p, size_t n) {
  struct wp_buf *b = e->b;
  if (WP_UNLIKELY(n > e->limit - b->len || b->cap - b->len < n))
    return put_slow(e, p, n);
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

static size_t varint(uint8_t *p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}

/* A tag followed by a varint. */
static int put_tagv(struct enc *e, int tag, uint64_t v) {
  uint8_t tmp[11];
  tmp[0] = (uint8_t)tag;
  return put(e, tmp, 1 + varint(tmp + 1, v));
}

static int put_tag(struct enc *e, int tag) {
  uint8_t t = (uint8_t)tag;
  return put(e, &t, 1);
}

static int put_int(struct enc *e, lua_Integer i) {
  if (i >= 0 && i < SINT_MAX) return put_tag(e, T_SINT + (int)i);
  uint64_t u = (uint64_t)i;
  return put_tagv(e, T_INT, (u << 1) ^ (0 - (u >> 63)));
}

static int put_float(struct enc *e, lua_Number d) {
  /* Integral and in range (NaN fails both comparisons): send an integer. */
  if (d >= -0x1p63 && d < 0x1p63 && (lua_Number)(lua_Integer)d == d)
    return put_int(e, (lua_Integer)d);
  double x = (double)d;
  uint64_t u;
  memcpy(&u, &x, 8);
  uint8_t tmp[9];
  tmp[0] = T_FLOAT;
  for (int i = 0; i < 8; i++) tmp[1 + i] = (uint8_t)(u >> (8 * i));
  return put(e, tmp, 9);
}

static int put_str(struct enc *e, const char *s, size_t len) {
  /* Check the limit first: never reserve room for a string that cannot fit. */
  if (len > e->limit - e->b->len) return enc_fail(e, E_LARGE);
  int r = len < SSTR_MAX ? put_tag(e, T_SSTR + (int)len) : put_tagv(e, T_STR, len);
  return r ? r : put(e, s, len);
}

/* A length-prefixed byte string without a tag (inside error objects). */
static int put_lstr(struct enc *e, const char *s, size_t len) {
  uint8_t tmp[10];
  if (len > e->limit - e->b->len) return enc_fail(e, E_LARGE);
  if (put(e, tmp, varint(tmp, len))) return -1;
  return put(e, s, len);
}

static size_t hpos(const void *p, size_t cap) {
  uint64_t h = (uint64_t)(uintptr_t)p * UINT64_C(0x9E3779B97F4A7C15);
  return (size_t)(h >> 32) & (cap - 1);
}

static void hash_put(struct hslot *h, size_t cap, const void *p, uint64_t idx) {
  size_t i = hpos(p, cap);
  while (h[i].p != NULL) i = (i + 1) & (cap - 1);
  h[i].p = p;
  h[i].idx = idx;
}

/* Returns the index of a seen table, or 0. */
static uint64_t seen(const struct enc *e, const void *p) {
  if (e->hash == NULL) return (e->ntables && e->first == p) ? 1 : 0;
  for (size_t i = hpos(p, e->hcap);; i = (i + 1) & (e->hcap - 1)) {
    if (e->hash[i].p == p) return e->hash[i].idx;
    if (e->hash[i].p == NULL) return 0;
  }
}

/* Gives table p the next index. The hash appears with the second table. */
static int remember(struct enc *e, const void *p) {
  uint64_t idx = ++e->ntables;
  if (idx == 1) {
    e->first = p;
    return 0;
  }
  if (e->hcount + 1 > e->hcap / 2) {  /* keep the load at most 1/2 */
    size_t ncap = e->hcap ? e->hcap * 2 : 16;
    struct hslot *nh = wp_calloc(ncap, sizeof *nh);
    if (nh == NULL) return enc_fail(e, E_NOMEM);
    if (e->hash == NULL) {
      hash_put(nh, ncap, e->first, 1);
      e->hcount = 1;
    } else {
      for (size_t i = 0; i < e->hcap; i++)
        if (e->hash[i].p) hash_put(nh, ncap, e->hash[i].p, e->hash[i].idx);
      wp_free_sized(e->hash, e->hcap * sizeof *e->hash);
    }
    e->hash = nh;
    e->hcap = ncap;
  }
  hash_put(e->hash, e->hcap, p, idx);
  e->hcount++;
  return 0;
}

/* Values that arrive as nil: functions, threads, foreign userdata. */
static int dropped(lua_State *L, int idx, int type) {
  switch (type) {
    case LUA_TFUNCTION:
    case LUA_TTHREAD:
    case LUA_TLIGHTUSERDATA:
      return 1;
    case LUA_TUSERDATA:
      return !wp_err_is(L, idx);
    default:
      return 0;
  }
}

static int enc_typed(struct enc *e, int idx, int type, int depth);

static int enc_value(struct enc *e, int idx, int depth) {
  return enc_typed(e, idx, lua_type(e->L, idx), depth);
}

/*
** Encodes the table at (absolute) idx: the array part 1..#t first, then
** every other pair found by lua_next. Uses two stack slots for the pair,
** plus what wp_err_is needs; lua_checkstack gives them.
*/
static int enc_table(struct enc *e, int idx, int depth) {
  lua_State *L = e->L;
  const void *p = lua_topointer(L, idx);
  uint64_t ref = seen(e, p);
  if (ref) {
    e->b->data[e->start] = T_CHUNK_REFS;
    return put_tagv(e, T_REF, ref);
  }
  if (depth >= e->maxdepth) return enc_fail(e, E_DEEP);
  if (!lua_checkstack(L, 4)) return enc_fail(e, E_NOMEM);
  if (remember(e, p)) return -1;
  lua_Unsigned narr = lua_rawlen(L, idx);
  if (put_tagv(e, T_TABLE, narr) || put_tag(e, 0)) return -1;
  size_t hint_at = e->b->len - 1;
  for (lua_Unsigned i = 1; i <= narr; i++) {
    lua_rawgeti(L, idx, (lua_Integer)i);
    if (enc_value(e, lua_gettop(L), depth + 1)) return -1;
    lua_pop(L, 1);
  }
  size_t npairs = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int top = lua_gettop(L);  /* key at top - 1, value at top */
    if (lua_isinteger(L, top - 1)) {
      lua_Integer k = lua_tointegerx(L, top - 1, NULL);
      if (k >= 1 && (lua_Unsigned)k <= narr) {  /* already sent */
        lua_pop(L, 1);
        continue;
      }
    }
    int tk = lua_type(L, top - 1), tv = lua_type(L, top);
    if (!dropped(L, top - 1, tk) && !dropped(L, top, tv)) {
      if (enc_typed(e, top - 1, tk, depth + 1) || enc_typed(e, top, tv, depth + 1))
        return -1;
      npairs++;
    }
    lua_pop(L, 1);  /* keep the key for lua_next */
  }
  e->b->data[hint_at] = (uint8_t)(npairs < 255 ? npairs : 255);
  return put_tag(e, T_END);
}

static int enc_error(struct enc *e, int idx, int depth) {
  lua_State *L = e->L;
  if (!lua_checkstack(L, 3)) return enc_fail(e, E_NOMEM);
  int r = wp_err_retryable(L, idx);
  uint8_t head[2] = {T_ERR, (uint8_t)(r < 0 ? 0 : r ? 2 : 1)};
  const char *kind = wp_err_kind(L, idx);
  size_t mlen;
  const char *msg = wp_err_message(L, idx, &mlen);
  const char *ctx = wp_err_context(L, idx);
  if (put(e, head, 2) || put_lstr(e, kind, strlen(kind)) ||
      put_lstr(e, msg, mlen))
    return -1;
  if (ctx == NULL) {
    if (put_tag(e, 0)) return -1;
  } else {
    size_t clen = strlen(ctx);
    uint8_t tmp[10];
    if (put(e, tmp, varint(tmp, (uint64_t)clen + 1)) || put(e, ctx, clen))
      return -1;
  }
  wp_err_push_details(L, idx);
  if (enc_value(e, lua_gettop(L), depth)) return -1;
  lua_pop(L, 1);
  return 0;
}

/* Encodes the value (of the given type) at absolute index idx, inside
** `depth` tables. */
static int enc_typed(struct enc *e, int idx, int type, int depth) {
  lua_State *L = e->L;
  switch (type) {
    case LUA_TNIL:
      return put_tag(e, T_NIL);
    case LUA_TBOOLEAN:
      return put_tag(e, lua_toboolean(L, idx) ? T_TRUE : T_FALSE);
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) return put_int(e, lua_tointegerx(L, idx, NULL));
      return put_float(e, lua_tonumberx(L, idx, NULL));
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      return put_str(e, s, len);
    }
    case LUA_TTABLE:
      return enc_table(e, idx, depth);
    case LUA_TUSERDATA:
      if (wp_err_is(L, idx)) return enc_error(e, idx, depth);
      return put_tag(e, T_DROPPED);
    default:
      return put_tag(e, T_DROPPED);
  }
}

int wp_codec_encode(lua_State *L, int first, int n, struct wp_buf *out,
                    const struct wp_codec_limits *lim, const char **err) {
  struct enc e;
  int top = lua_gettop(L);
  int depth = lim && lim->max_depth > 0 ? lim->max_depth : WP_CODEC_DEFAULT_DEPTH;
  size_t maxb = lim && lim->max_bytes > 0 ? lim->max_bytes : WP_CODEC_DEFAULT_BYTES;
  e.L = L;
  e.b = out;
  e.start = out->len;
  e.limit = maxb > SIZE_MAX - out->len ? SIZE_MAX : out->len + maxb;
  e.maxdepth = depth < HARD_DEPTH ? depth : HARD_DEPTH;
  e.ntables = 0;
  e.first = NULL;
  e.hash = NULL;
  e.hcap = e.hcount = 0;
  e.err = NULL;
  if (n > 0) first = lua_absindex(L, first);
  int rc = put_tag(&e, T_CHUNK);
  if (rc == 0 && n > 0 && !lua_checkstack(L, 4)) rc = enc_fail(&e, E_NOMEM);
  for (int i = 0; rc == 0 && i < n; i++) rc = enc_value(&e, first + i, 0);
  if (e.hash) wp_free_sized(e.hash, e.hcap * sizeof *e.hash);
  lua_settop(L, top);  /* only pops: never allocates */
  if (rc != 0) {
    out->len = e.start;  /* the caller's buffer as it was */
    if (err) *err = e.err ? e.err : E_NOMEM;
    return -1;
  }
  return 0;
}

int wp_codec_encode_error(struct wp_buf *out, const char *kind, const char *msg) {
  struct enc e;
  memset(&e, 0, sizeof e);
  e.b = out;
  e.start = out->len;
  e.limit = SIZE_MAX;
  uint8_t head[4] = {T_CHUNK, T_NIL, T_ERR, 0 /* retryable unknown */};
  if (put(&e, head, sizeof head) || put_lstr(&e, kind, strlen(kind)) ||
      put_lstr(&e, msg, strlen(msg)) || put_tag(&e, 0 /* no context */) ||
      put_tag(&e, T_NIL /* details */)) {
    out->len = e.start;
    return -1;
  }
  return 0;
}

/* The writer of wp_codec_w_*: an encoder over out without a size limit. */
static struct enc w_enc(struct wp_buf *out) {
  struct enc e;
  memset(&e, 0, sizeof e);
  e.b = out;
  e.start = out->len;
  e.limit = SIZE_MAX;
  return e;
}

int wp_codec_w_chunk(struct wp_buf *out) {
  struct enc e = w_enc(out);
  return put_tag(&e, T_CHUNK);
}

int wp_codec_w_str(struct wp_buf *out, const char *s, size_t len) {
  struct enc e = w_enc(out);
  return put_str(&e, s, len);
}

int wp_codec_w_table(struct wp_buf *out, size_t narr, size_t npairs) {
  struct enc e = w_enc(out);
  uint8_t h = (uint8_t)(npairs > 255 ? 255 : npairs);
  return put_tagv(&e, T_TABLE, narr) || put(&e, &h, 1) ? -1 : 0;
}

int wp_codec_w_end(struct wp_buf *out) {
  struct enc e = w_enc(out);
  return put_tag(&e, T_END);
}

/* }==================================================================== */

/* {====================================================================
** Decoder (and counter)
** ===================================================================== */

/* What a parsed value was; keys and details are checked against it. */
enum { K_NIL, K_NAN, K_OTHER, K_TABLE };

struct dec {
  lua_State *L;        /* NULL: only walk the buffer */
  const uint8_t *p, *end;
  int refs;            /* stack index of this chunk's table list, or 0 */
  int hasrefs;         /* chunk header allows back-references */
  uint64_t ntables;    /* tables opened in this chunk */
};

static int get_varint(struct dec *d, uint64_t *v) {
  uint64_t x = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (d->p >= d->end) return -1;
    uint8_t c = *d->p++;
    if (shift == 63 && c > 1) return -1;  /* more than 64 bits */
    x |= (uint64_t)(c & 0x7F) << shift;
    if (c < 0x80) {
      *v = x;
      return 0;
    }
  }
  return -1;
}

/* Reads a varint length and checks that many bytes follow. */
static int get_len(struct dec *d, size_t *len) {
  uint64_t v;
  if (get_varint(d, &v) || v > (uint64_t)(d->end - d->p)) return -1;
  *len = (size_t)v;
  return 0;
}

static int dec_value(struct dec *d, int depth);

/* Parses a key/value or array value and stores it into the table at t. */
static int dec_table(struct dec *d, int depth) {
  lua_State *L = d->L;
  uint64_t narr;
  if (depth >= HARD_DEPTH) return -1;
  /* Each array value takes at least one byte: a larger count is corrupt. */
  if (get_varint(d, &narr) || narr > (uint64_t)(d->end - d->p)) return -1;
  if (d->p >= d->end) return -1;
  int nhash = *d->p++;
  d->ntables++;
  int t = 0;
  if (L) {
    luaL_checkstack(L, 4, "codec");
    lua_createtable(L, (int)(narr < MAX_PREALLOC ? narr : MAX_PREALLOC), nhash);
    t = lua_gettop(L);
    if (d->hasrefs) {
      lua_pushvalue(L, t);
      lua_rawseti(L, d->refs, (lua_Integer)d->ntables);
    }
  }
  for (uint64_t i = 1; i <= narr; i++) {
    int k = dec_value(d, depth + 1);
    if (k < 0) return -1;
    if (L) {
      if (k == K_NIL)
        lua_pop(L, 1);
      else
        lua_rawseti(L, t, (lua_Integer)i);
    }
  }
  for (;;) {
    if (d->p >= d->end) return -1;
    if (*d->p == T_END) {
      d->p++;
      return K_TABLE;
    }
    int k = dec_value(d, depth + 1);
    if (k < 0 || k == K_NIL || k == K_NAN) return -1;  /* rawset would raise */
    int v = dec_value(d, depth + 1);
    if (v < 0) return -1;
    if (L) {
      if (v == K_NIL)
        lua_pop(L, 2);
      else
        lua_rawset(L, t);
    }
  }
}

static int dec_error(struct dec *d, int depth) {
  lua_State *L = d->L;
  size_t klen, mlen, clen = 0;
  uint64_t cv;
  if (d->p >= d->end || *d->p > 2) return -1;
  int retry = (int)*d->p++ - 1;  /* 0, 1, 2 -> unknown, false, true */
  if (get_len(d, &klen)) return -1;
  const char *kind = (const char *)d->p;
  d->p += klen;
  if (get_len(d, &mlen)) return -1;
  const char *msg = (const char *)d->p;
  d->p += mlen;
  if (get_varint(d, &cv)) return -1;
  const char *ctx = NULL;
  if (cv > 0) {
    if (cv - 1 > (uint64_t)(d->end - d->p)) return -1;
    clen = (size_t)(cv - 1);
    ctx = (const char *)d->p;
    d->p += clen;
  }
  if (L) {
    luaL_checkstack(L, 4, "codec");
    lua_pushlstring(L, kind, klen);  /* wp_err_pushl wants a C string */
    /* no stack: the receiver's says nothing of where the error was made */
    wp_err_pushl_nostack(L, lua_tostring(L, -1), msg, mlen, retry);
    lua_remove(L, -2);
    if (ctx) {
      lua_pushlstring(L, ctx, clen);
      wp_err_set_context(L, -2);
    }
  }
  /* Details are nil, a table or a reference to one. Checking the tag before
     parsing keeps an error from nesting directly in an error's details, a
     recursion that no table level would count (unbounded C stack). */
  if (d->p >= d->end) return -1;
  int dt = *d->p;
  if (dt != T_NIL && dt != T_DROPPED && dt != T_TABLE && dt != T_REF) return -1;
  int k = dec_value(d, depth);
  if (k != K_NIL && k != K_TABLE) return -1;
  if (L) wp_err_set_details(L, -2);
  return K_OTHER;
}

/* Parses one value (pushing it when decoding); returns its K_ class or -1. */
static int dec_value(struct dec *d, int depth) {
  lua_State *L = d->L;
  if (d->p >= d->end) return -1;
  int tag = *d->p++;
  if (tag >= T_SINT && tag < T_SINT + SINT_MAX) {
    if (L) lua_pushinteger(L, tag - T_SINT);
    return K_OTHER;
  }
  if (tag >= T_SSTR && tag < T_SSTR + SSTR_MAX) {
    size_t len = (size_t)(tag - T_SSTR);
    if (len > (size_t)(d->end - d->p)) return -1;
    if (L) lua_pushlstring(L, (const char *)d->p, len);
    d->p += len;
    return K_OTHER;
  }
  switch (tag) {
    case T_NIL:
    case T_DROPPED:
      if (L) lua_pushnil(L);
      return K_NIL;
    case T_FALSE:
    case T_TRUE:
      if (L) lua_pushboolean(L, tag == T_TRUE);
      return K_OTHER;
    case T_INT: {
      uint64_t z;
      if (get_varint(d, &z)) return -1;
      if (L) lua_pushinteger(L, (lua_Integer)((z >> 1) ^ (0 - (z & 1))));
      return K_OTHER;
    }
    case T_FLOAT: {
      if (d->end - d->p < 8) return -1;
      uint64_t u = 0;
      for (int i = 0; i < 8; i++) u |= (uint64_t)d->p[i] << (8 * i);
      d->p += 8;
      double x;
      memcpy(&x, &u, 8);
      if (L) lua_pushnumber(L, (lua_Number)x);
      return isnan(x) ? K_NAN : K_OTHER;
    }
    case T_STR: {
      size_t len;
      if (get_len(d, &len)) return -1;
      if (L) lua_pushlstring(L, (const char *)d->p, len);
      d->p += len;
      return K_OTHER;
    }
    case T_TABLE:
      return dec_table(d, depth);
    case T_REF: {
      uint64_t idx;
      if (get_varint(d, &idx) || !d->hasrefs || idx == 0 || idx > d->ntables)
        return -1;
      if (L) lua_rawgeti(L, d->refs, (lua_Integer)idx);
      return K_TABLE;
    }
    case T_ERR:
      return dec_error(d, depth);
    default:
      return -1;
  }
}

/*
** Walks (L == NULL) or decodes every chunk. When decoding a chunk that has
** back-references, its table list sits just above `base`, below the values
** (inserted when first needed, removed at the end).
*/
static int parse(lua_State *L, const uint8_t *data, size_t len) {
  struct dec d;
  int base = L ? lua_gettop(L) : 0, n = 0;
  d.L = L;
  d.p = data;
  d.end = data + len;
  d.refs = 0;
  while (d.p < d.end) {
    if (*d.p != T_CHUNK && *d.p != T_CHUNK_REFS) goto bad;
    d.hasrefs = *d.p++ == T_CHUNK_REFS;
    d.ntables = 0;
    if (L && d.hasrefs) {
      luaL_checkstack(L, 1, "codec");
      lua_newtable(L);
      if (d.refs == 0) {
        d.refs = base + 1;
        lua_insert(L, d.refs);
      } else {
        lua_replace(L, d.refs);
      }
    }
    while (d.p < d.end && *d.p != T_CHUNK && *d.p != T_CHUNK_REFS) {
      if (L) luaL_checkstack(L, 2, "codec");
      if (dec_value(&d, 0) < 0) goto bad;
      if (n == INT32_MAX) goto bad;
      n++;
    }
  }
  if (d.refs) lua_remove(L, d.refs);
  return n;
bad:
  if (L) lua_settop(L, base);
  return -1;
}

int wp_codec_decode(lua_State *L, const uint8_t *data, size_t len) {
  if (data == NULL) return len == 0 ? 0 : -1;
  return parse(L, data, len);
}

int wp_codec_count(const uint8_t *data, size_t len) {
  if (data == NULL) return len == 0 ? 0 : -1;
  return parse(NULL, data, len);
}

/* }==================================================================== */
