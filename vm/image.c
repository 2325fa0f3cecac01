/*
** image.c: state images, and building a process's lua_State.
**
** Design note. Every process gets a lua_State of its own, fresh. Built by
** calls (lua_newstate interning its reserved words and metamethod names,
** wp_state_setup, then loading the code's bytecode), a state costs more
** than the rest of a short-lived process's life (an echo worker's), and
** every spawn would pay it. Yet every state of one code comes out as the
** same bytes but for addresses. So the first spawn of a code
** builds one such state in an arena of its own (the template), with the
** chunk loaded, and keeps a copy of the arena's used bytes: the image. Every
** state of that code is then the image copied into the new process's arena,
** each pointer into the template moved by the distance between the two
** arenas. The copy shares nothing with the template or with any other
** process: it is a new state that was built by memcpy instead of by calls.
**
** Which words are pointers. Every block of the template came from
** wp_lmem_alloc for Lua's own structures, zeroed when allocated (the
** template's vp->ar_zero), so padding holds no stale bytes (a type tag
** shares its word with seven bytes of padding: a stale address there would
** make a tag look like a pointer, and moving it would break the tag). An
** 8-byte-aligned word whose value falls inside the template's used arena is
** taken for a pointer into it and moved. A value that only lies in that
** range would be corrupted. Two kinds of words hold values, not pointers:
** - what a program can choose: numbers, the bytes of strings, instructions
**   (two to a word), debug information. In a template that is the chunk's
**   constants, code and names (no code of the program has run) and the
**   library values put in place, all reachable from the registry and the
**   stack: the first copy is proven against the template (below), and a
**   value the relocation took for a pointer makes the code go without an
**   image;
** - the runtime's bookkeeping: counts, sizes and offsets under
**   WP_IMAGE_MAX, tags and flags, packed with a 32-bit string hash or the
**   hash seed. No program chooses them. A count alone is far below any heap
**   address; a packed word matches only by a coincidence of about 2^-48
**   (a heap address has its top 16 bits clear and the rest random, so the
**   hash, seeded with the state's address and the time, would have to equal
**   the arena's upper address half exactly, and the small fields beside it
**   the lower half). The proof covers the hashes that lookups read as well:
**   every key of every table is looked up in the copy, and every short
**   string must be the one its bytes intern to.
** Freed blocks (holes) are copied and moved too: nothing reads them.
** What lies outside the arena and differs per process is set after the
** copy: the allocator's user data (lua_setallocf) and the extra space (the
** process). The copies of one code share the template's string hash seed
** (Lua derives it from the state's address and the time), which affects no
** behaviour.
**
** A code gets no image, and its states are built by calls, when its
** template does not fit in the arena, made a finaliser, or failed to load
** (the process then reports the load error as before), or when its first
** copy differs from the template (a debug log line says what differed);
** also when the environment sets WIPPY_STATE_IMAGES=0 (CI runs the Lua
** test apps both ways). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "lazylib.h"
#include "state_int.h"

/* ---- what an image has in place ----
**
** A state copied from an image has the code's chunk loaded, and also the
** library tables and functions the code names (what lazy_global, state.c,
** and lazy_index, lazylib.c, would make on its first use of them): `process`,
** `process.send`, `string.upper`, ..., and `require`. The names come from a scan of the
** source at compile time: every identifier naming a lazy library global
** (string, table, os, coroutine, a module whose table is a lazy library)
** and every `lib.field` where field is one of that library's entries. A
** name found in a comment costs some bytes of image; one the scan cannot
** see (`_G[name]`) is made on first use, as without an image. math is not
** among them: luaopen_math seeds a generator per state. */

/* The lazy library that global `name` would be in c's processes, or NULL. */
static const struct wp_libdef *prefill_def(struct wp_rt *rt, const struct wp_code *c,
                                           const char *name, const char **gname) {
  const struct wp_gname *g = wp_state_gname(name);
  if (g) {
    *gname = g->name;
    switch (g->kind) {
      case WP_G_STRING: return &wp_lib_string;
      case WP_G_TABLE: return &wp_lib_table;
      case WP_G_OS: return &wp_lib_os;
      case WP_G_CO: return &wp_lib_coroutine;
      case WP_G_MODULE: return rt->module_def ? rt->module_def(name) : NULL;
      default: return NULL;
    }
  }
  for (int i = 0; i < c->nmodules; i++) {
    if (strcmp(c->modules[i], name) != 0) continue;
    *gname = c->modules[i];
    return rt->module_def ? rt->module_def(name) : NULL;
  }
  return NULL;
}

static void prefill_add(struct wp_code *c, const char *global, const char *field) {
  for (int i = 0; i < c->nprefill; i++)
    if (c->prefill[i].global == global && c->prefill[i].field == field) return;
  if (c->nprefill < WP_PREFILL_MAX) c->prefill[c->nprefill++] = (struct wp_prefill){global, field};
}

static int ident_start(int ch) { return ch == '_' || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z'); }
static int ident_char(int ch) { return ident_start(ch) || (ch >= '0' && ch <= '9'); }

/* The identifier at src[*i] into buf (NUL-terminated); 0 when it does not
** fit. Advances *i past it either way. */
static int take_ident(const char *src, size_t len, size_t *i, char *buf, size_t bufsz) {
  size_t s = *i;
  while (*i < len && ident_char((unsigned char)src[*i])) (*i)++;
  size_t n = *i - s;
  if (n >= bufsz) return 0;
  memcpy(buf, src + s, n);
  buf[n] = 0;
  return 1;
}

void wp_code_scan(struct wp_rt *rt, struct wp_code *c, const char *src, size_t len) {
  char name[32], field[32];
  size_t i = 0;
  while (i < len) {
    unsigned char ch = (unsigned char)src[i];
    if (!ident_start(ch) || (i > 0 && ident_char((unsigned char)src[i - 1]))) {
      i++;
      continue;
    }
    if (!take_ident(src, len, &i, name, sizeof name)) continue;
    const char *gname;
    const struct wp_libdef *def = prefill_def(rt, c, name, &gname);
    if (!def) {
      /* `require`: a module's chunk calls it at its start, in every
      ** process of the code, so the global is made once, in the image */
      const struct wp_gname *g = wp_state_gname(name);
      if (g && g->kind == WP_G_REQUIRE) prefill_add(c, g->name, NULL);
      continue;
    }
    prefill_add(c, gname, NULL);
    if (i + 1 < len && src[i] == '.' && ident_start((unsigned char)src[i + 1])) {
      i++;
      if (!take_ident(src, len, &i, field, sizeof field)) continue;
      for (const struct wp_libentry *e = def->entries; e->name; e++)
        if (strcmp(e->name, field) == 0) prefill_add(c, gname, e->name);
    }
  }
}

/* Makes the prefill names of the code (light userdata at 1) in place. */
static int prefill_protected(lua_State *L) {
  const struct wp_code *c = lua_touserdata(L, 1);
  for (int i = 0; i < c->nprefill; i++) {
    const struct wp_prefill *pf = &c->prefill[i];
    int shadowed = 0; /* an import of that name comes first (lazy_global) */
    for (int k = 0; k < c->nimports; k++)
      shadowed |= strcmp(c->imports[k].alias, pf->global) == 0;
    if (shadowed) continue;
    lua_getglobal(L, pf->global);
    if (pf->field && lua_type(L, -1) == LUA_TTABLE) lua_getfield(L, -1, pf->field);
    lua_settop(L, 1);
  }
  lua_pushglobaltable(L);
  lua_pushliteral(L, "string");
  if (lua_rawget(L, -2) == LUA_TTABLE) {
    /* made above: what the string metatable's first __index does */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
  }
  return 0;
}

/* ---- building a state by calls ---- */

/* Builds a state by calls: lua_newstate, then wp_state_setup. NULL when
** out of memory. */
static lua_State *state_build(struct wp_vmproc *vp, size_t arena) {
  wp_lmem_init(vp, arena);
  lua_State *L = lua_newstate(wp_lmem_alloc, vp);
  if (!L) {
    wp_lmem_free_all(vp);
    return NULL;
  }
  lua_atpanic(L, wp_state_panic);
  *(struct wp_vmproc **)lua_getextraspace(L) = vp;
  lua_pushcfunction(L, wp_state_setup);
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
    lua_close(L);
    wp_lmem_free_all(vp);
    return NULL;
  }
  return L;
}

/* ---- images (see the design note) ---- */

_Static_assert(WP_IMAGE_MAX / 8 <= 65536, "image word offsets must fit 16 bits");

struct wp_image {
  char *bytes;       /* the template arena's used bytes */
  size_t used;
  uintptr_t base;    /* the template arena's address */
  uint16_t *relocs;  /* offsets, in words, of the pointers into the template */
  size_t nrelocs;
  size_t l_off;      /* offset of the lua_State */
  size_t arena;      /* arena size for a copy: used + WP_ARENA_SLACK, rounded */
  int64_t mem_used;
};

static struct wp_image no_image; /* marks a code whose states are built by calls */
static pthread_mutex_t image_lock = PTHREAD_MUTEX_INITIALIZER;

static int load_protected(lua_State *L) {
  wp_code_load(L, lua_touserdata(L, 1));
  return 1;
}

lua_CFunction wp_state_image_hook;

static lua_State *image_copy(struct wp_vmproc *vp, const struct wp_image *img);

/* ---- proving an image ----
**
** The first copy of an image, made at another address, is compared with
** its template (see "which words" above) through the Lua API, both walked
** in step from the same roots: the registry, the template's stack, and a
** value of each basic type (their metatables). Every value must be the
** same: numbers by subtype and bits, strings by content, Lua functions by
** their lua_dump bytes (code, constants, debug information, nested
** functions), C functions by address, userdata by their bytes and user
** values, tables by their pairs in iteration order and by a lookup of each
** key in the copy (its hash intact), and everything by its metatable. Each
** object of the copy must lie where its template's lies plus the distance
** between the arenas, and a short string of the copy must be the one its
** content interns to (the hash seed and the string's length intact).
** Relocation is a function of the image bytes and that distance alone: a
** value it took for a pointer changes in every copy, so the one copy
** checked speaks for all of them. */

#define SHORTSTR_MAX 40  /* LUAI_MAXSHORTLEN (Lua 5.4): a string up to this long is interned */
#define PROVE_DEPTH 64   /* a template is a few tables deep: deeper is refused */

struct prove {
  lua_State *T;       /* the template */
  uintptr_t lo, hi;   /* its used arena: relocation's bounds */
  uintptr_t d;        /* the copy's arena minus the template's (modulo 2^N) */
  int seen;           /* index in the copy of a table: template objects walked */
  const char *why;    /* the first difference found */
  struct wp_buf dt, dc;
};

/* Whether c is where relocation puts what was t in the template. */
static int prove_moved(const struct prove *x, const void *t, const void *c) {
  uintptr_t a = (uintptr_t)t;
  return (uintptr_t)c == (a >= x->lo && a <= x->hi ? a + x->d : a);
}

static int prove_differ(struct prove *x, const char *why) {
  x->why = why;
  return -1;
}

static int dump_writer(lua_State *L, const void *p, size_t n, void *ud) {
  (void)L;
  return wp_buf_append(ud, p, n) != 0;
}

static int prove_value(struct prove *x, lua_State *C, int depth);

/* Whether the template object at the top was walked already; marks it. */
static int prove_seen(struct prove *x, lua_State *C) {
  const void *p = lua_topointer(x->T, -1);
  int seen = lua_rawgetp(C, x->seen, p) != LUA_TNIL;
  lua_pop(C, 1);
  if (seen) return 1;
  lua_pushboolean(C, 1);
  lua_rawsetp(C, x->seen, p);
  return 0;
}

static int prove_table(struct prove *x, lua_State *C, int depth) {
  lua_State *T = x->T;
  lua_pushnil(T);
  lua_pushnil(C);
  for (;;) {
    if (!lua_checkstack(T, 4)) return prove_differ(x, "no stack");
    int nt = lua_next(T, -2), nc = lua_next(C, -2);
    if (nt != nc) return prove_differ(x, "a table's size");
    if (!nt) return 0;
    lua_pushvalue(C, -2); /* the copy's key finds its value */
    lua_rawget(C, -4);
    if (!lua_rawequal(C, -1, -2)) return prove_differ(x, "a table lookup");
    lua_pop(C, 1);
    lua_pushvalue(T, -2);
    lua_pushvalue(C, -2);
    if (prove_value(x, C, depth) || prove_value(x, C, depth)) return -1; /* key, value */
  }
}

static int prove_function(struct prove *x, lua_State *C, int depth) {
  lua_State *T = x->T;
  if (lua_iscfunction(T, -1) != lua_iscfunction(C, -1)) return prove_differ(x, "a function's kind");
  if (lua_iscfunction(T, -1)) {
    if (lua_tocfunction(T, -1) != lua_tocfunction(C, -1)) return prove_differ(x, "a C function");
  } else {
    x->dt.len = x->dc.len = 0;
    if (lua_dump(T, dump_writer, &x->dt, 0) || lua_dump(C, dump_writer, &x->dc, 0))
      return prove_differ(x, "no memory for lua_dump");
    if (x->dt.len != x->dc.len || memcmp(x->dt.data, x->dc.data, x->dt.len) != 0)
      return prove_differ(x, "a function's code or constants");
  }
  for (int i = 1;; i++) {
    if (!prove_moved(x, lua_upvalueid(T, -1, i), lua_upvalueid(C, -1, i)))
      return prove_differ(x, "an upvalue's address");
    const char *nt = lua_getupvalue(T, -1, i), *nc = lua_getupvalue(C, -1, i);
    if (!nt || !nc) return nt == nc ? 0 : prove_differ(x, "a function's upvalues");
    if (strcmp(nt, nc) != 0) return prove_differ(x, "an upvalue's name");
    if (prove_value(x, C, depth)) return -1;
  }
}

static int prove_userdata(struct prove *x, lua_State *C, int depth) {
  lua_State *T = x->T;
  size_t n = lua_rawlen(T, -1);
  if (n != lua_rawlen(C, -1) || memcmp(lua_touserdata(T, -1), lua_touserdata(C, -1), n) != 0)
    return prove_differ(x, "a userdata's bytes");
  for (int i = 1;; i++) {
    int tt = lua_getiuservalue(T, -1, i), tc = lua_getiuservalue(C, -1, i);
    if (tt != tc) return prove_differ(x, "a userdata's user values");
    if (tt == LUA_TNONE) {
      lua_pop(T, 1);
      lua_pop(C, 1);
      return 0;
    }
    if (prove_value(x, C, depth)) return -1;
  }
}

/* A thread's stack; the template's own (the main thread) is a root. */
static int prove_thread(struct prove *x, lua_State *C, int depth) {
  lua_State *tt = lua_tothread(x->T, -1), *tc = lua_tothread(C, -1);
  if (tt == x->T) return tc == C ? 0 : prove_differ(x, "the main thread");
  if (lua_status(tt) != lua_status(tc) || lua_gettop(tt) != lua_gettop(tc))
    return prove_differ(x, "a thread's stack");
  for (int i = 1; i <= lua_gettop(tt); i++) {
    if (!lua_checkstack(tt, 1) || !lua_checkstack(tc, 1) || !lua_checkstack(x->T, 2))
      return prove_differ(x, "no stack");
    lua_pushvalue(tt, i);
    lua_xmove(tt, x->T, 1);
    lua_pushvalue(tc, i);
    lua_xmove(tc, C, 1);
    if (prove_value(x, C, depth)) return -1;
  }
  return 0;
}

/* Compares the values at the tops of the template and of the copy C, and
** pops them; 0 when the same, else -1 with x->why. */
static int prove_value(struct prove *x, lua_State *C, int depth) {
  lua_State *T = x->T;
  int type = lua_type(T, -1), r = 0;
  if (type != lua_type(C, -1)) return prove_differ(x, "a value's type");
  if (depth > PROVE_DEPTH) return prove_differ(x, "too deep");
  if (!lua_checkstack(T, 4) || !lua_checkstack(C, 6)) return prove_differ(x, "no stack");
  if (!prove_moved(x, lua_topointer(T, -1), lua_topointer(C, -1)))
    return prove_differ(x, "an object's address");
  switch (type) {
    case LUA_TBOOLEAN:
      r = lua_toboolean(T, -1) == lua_toboolean(C, -1) ? 0 : prove_differ(x, "a boolean");
      break;
    case LUA_TNUMBER:
      if (lua_isinteger(T, -1) != lua_isinteger(C, -1)) {
        r = prove_differ(x, "a number's subtype");
      } else if (lua_isinteger(T, -1)) {
        r = lua_tointeger(T, -1) == lua_tointeger(C, -1) ? 0 : prove_differ(x, "an integer");
      } else {
        lua_Number a = lua_tonumber(T, -1), b = lua_tonumber(C, -1);
        r = memcmp(&a, &b, sizeof a) == 0 ? 0 : prove_differ(x, "a float");
      }
      break;
    case LUA_TLIGHTUSERDATA:
      r = prove_moved(x, lua_touserdata(T, -1), lua_touserdata(C, -1))
              ? 0 : prove_differ(x, "a light userdata");
      break;
    case LUA_TSTRING: {
      size_t lt, lc;
      const char *st = lua_tolstring(T, -1, &lt), *sc = lua_tolstring(C, -1, &lc);
      if (lt != lc || memcmp(st, sc, lt) != 0) return prove_differ(x, "a string");
      if (lt <= SHORTSTR_MAX) {
        lua_pushlstring(C, sc, lc);
        if (lua_topointer(C, -1) != lua_topointer(C, -2)) return prove_differ(x, "a string's interning");
        lua_pop(C, 1);
      }
      break;
    }
    case LUA_TTABLE:
    case LUA_TFUNCTION:
    case LUA_TUSERDATA:
    case LUA_TTHREAD:
      if (prove_seen(x, C)) break;
      r = type == LUA_TTABLE      ? prove_table(x, C, depth + 1)
          : type == LUA_TFUNCTION ? prove_function(x, C, depth + 1)
          : type == LUA_TUSERDATA ? prove_userdata(x, C, depth + 1)
                                  : prove_thread(x, C, depth + 1);
      break;
    default: break;
  }
  if (r) return r;
  int mt = lua_getmetatable(T, -1), mc = lua_getmetatable(C, -1);
  if (mt != mc) return prove_differ(x, "a metatable");
  if (mt && prove_value(x, C, depth + 1)) return -1;
  lua_pop(T, 1);
  lua_pop(C, 1);
  return 0;
}

/* Pushes a value of basic type k (0-3) that is no object. */
static void push_basic(lua_State *L, int k) {
  switch (k) {
    case 0: lua_pushnil(L); break;
    case 1: lua_pushboolean(L, 0); break;
    case 2: lua_pushinteger(L, 0); break;
    default: lua_pushlightuserdata(L, NULL);
  }
}

/* In the copy: [prove, the template's stack as copied...]. The roots: the
** registry, the stack, and a value of each basic type that is no object
** (their metatables). */
static int prove_protected(lua_State *C) {
  struct prove *x = lua_touserdata(C, 1);
  lua_State *T = x->T;
  int n = lua_gettop(C) - 1;
  lua_newtable(C);
  x->seen = lua_gettop(C);
  lua_pushvalue(T, LUA_REGISTRYINDEX);
  lua_pushvalue(C, LUA_REGISTRYINDEX);
  if (prove_value(x, C, 0)) return 0;
  for (int i = 1; i <= n; i++) {
    if (!lua_checkstack(T, 1)) return prove_differ(x, "no stack");
    lua_pushvalue(T, i);
    lua_pushvalue(C, i + 1);
    if (prove_value(x, C, 0)) return 0;
  }
  for (int k = 0; k < 4; k++) {
    if (!lua_checkstack(T, 1)) return prove_differ(x, "no stack");
    push_basic(T, k);
    push_basic(C, k);
    if (prove_value(x, C, 0)) return 0;
  }
  return 0;
}

/* Makes a copy of img at another address and compares it with its
** template T: NULL when they are the same, else what differs. */
static const char *image_prove(struct wp_rt *rt, struct wp_code *c, lua_State *T,
                               const struct wp_image *img) {
  struct wp_vmproc cv;
  memset(&cv, 0, sizeof cv);
  cv.code = c;
  cv.rt = rt;
  lua_State *C = image_copy(&cv, img);
  if (!C) return "no memory for a copy";
  cv.L = C;
  struct prove x = {T, img->base, img->base + img->used, (uintptr_t)cv.ar_base - img->base, 0,
                    NULL, WP_BUF_INIT, WP_BUF_INIT};
  int n = lua_gettop(T);
  if (lua_gettop(C) != n) {
    x.why = "the stack";
  } else if (!lua_checkstack(C, n + 2)) {
    x.why = "no stack";
  } else {
    lua_pushcfunction(C, prove_protected);
    lua_pushlightuserdata(C, &x);
    for (int i = 1; i <= n; i++) lua_pushvalue(C, i);
    if (lua_pcall(C, n + 1, 0, 0) != LUA_OK) x.why = "an error in the copy";
  }
  wp_buf_free(&x.dt);
  wp_buf_free(&x.dc);
  wp_state_close(&cv);
  return x.why;
}

static struct wp_image *image_make(struct wp_rt *rt, struct wp_code *c) {
  const char *env = getenv("WIPPY_STATE_IMAGES");
  if (env && strcmp(env, "0") == 0) return NULL;
  struct wp_vmproc tv;
  memset(&tv, 0, sizeof tv);
  tv.code = c;
  tv.rt = rt;
  tv.ar_zero = 1; /* no stale bytes in padding (see "which words") */
  lua_State *L = state_build(&tv, WP_IMAGE_MAX);
  if (!L) return NULL;
  struct wp_image *img = NULL;
  lua_pushcfunction(L, load_protected);
  lua_pushlightuserdata(L, c);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) goto out;
  lua_pushcfunction(L, prefill_protected);
  lua_pushlightuserdata(L, c);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) goto out;
  if (wp_state_image_hook) {
    lua_pushcfunction(L, wp_state_image_hook);
    lua_pushinteger(L, (lua_Integer)(uintptr_t)tv.ar_base);
    lua_pushinteger(L, (lua_Integer)(tv.ar_cur - tv.ar_base));
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) goto out;
  }
  if (tv.ext_n != 0 || tv.needs_close) goto out;
  size_t used = (size_t)(tv.ar_cur - tv.ar_base);
  uintptr_t base = (uintptr_t)tv.ar_base;
  img = wp_calloc(1, sizeof *img);
  if (!img) goto out;
  img->bytes = wp_malloc(used);
  img->relocs = wp_malloc((used / 8 + 1) * sizeof *img->relocs);
  if (!img->bytes || !img->relocs) goto fail;
  AR_UNPOISON(tv.ar_base, used); /* holes left by frees are copied too */
  memcpy(img->bytes, tv.ar_base, used);
  for (size_t off = 0; off + 8 <= used; off += 8) {
    uintptr_t v;
    memcpy(&v, img->bytes + off, sizeof v);
    if (v >= base && v <= base + used) img->relocs[img->nrelocs++] = (uint16_t)(off / 8);
  }
  img->used = used;
  img->base = base;
  img->arena = (used + WP_ARENA_SLACK + AR_TABSIZE + 2047) & ~(size_t)2047;
  img->l_off = (size_t)((char *)L - tv.ar_base);
  img->mem_used = tv.mem_used;
  const char *why = image_prove(rt, c, L, img);
  if (!why) goto out;
  wp_logf(WP_LOG_DEBUG, "%s: no state image (a copy differs from its template: %s); its "
          "processes are built by calls", c->id ? c->id : c->chunkname, why);
fail:
  wp_free(img->bytes);
  wp_free(img->relocs);
  wp_free(img);
  img = NULL;
out:
  if (tv.ext_n == 0 && !tv.needs_close) { /* the template goes as a copy would */
    wp_lmem_free_all(&tv);
  } else {
    lua_close(L);
    wp_lmem_free_all(&tv);
  }
  return img;
}

/* The image's state in vp's new arena; NULL when out of memory. */
static lua_State *image_copy(struct wp_vmproc *vp, const struct wp_image *img) {
  if (wp_state_mem_limit(vp) && img->mem_used > wp_state_mem_limit(vp))
    return wp_lmem_over(vp, WP_MEM_OVER);
  wp_lmem_init(vp, img->arena);
  if (!vp->ar_base) return NULL;
  char *b = vp->ar_base;
  AR_UNPOISON(b, img->used);
  memcpy(b, img->bytes, img->used);
  uintptr_t d = (uintptr_t)b - img->base; /* modulo 2^N: a move down works too */
  uintptr_t *wb = (uintptr_t *)(void *)b;
  const uint16_t *r = img->relocs;
  size_t i = 0, n = img->nrelocs;
  for (; i + 4 <= n; i += 4) { /* unrolled: the loop's test paid once per four words */
    wb[r[i]] += d;
    wb[r[i + 1]] += d;
    wb[r[i + 2]] += d;
    wb[r[i + 3]] += d;
  }
  for (; i < n; i++) wb[r[i]] += d;
  vp->ar_cur = b + img->used;
  vp->mem_used = img->mem_used;
  lua_State *L = (lua_State *)(void *)(b + img->l_off);
  lua_setallocf(L, wp_lmem_alloc, vp);
  *(struct wp_vmproc **)lua_getextraspace(L) = vp;
  return L;
}

lua_State *wp_state_new(struct wp_vmproc *vp, int *chunk) {
  *chunk = 0;
  struct wp_code *c = vp->code;
  struct wp_image *img = c ? atomic_load_explicit(&c->image, memory_order_acquire) : NULL;
  if (c && !img) {
    pthread_mutex_lock(&image_lock);
    img = atomic_load_explicit(&c->image, memory_order_relaxed);
    if (!img) {
      img = image_make(vp->rt, c);
      if (!img) img = &no_image;
      atomic_store_explicit(&c->image, img, memory_order_release);
    }
    pthread_mutex_unlock(&image_lock);
  }
  if (!img || img == &no_image) return state_build(vp, WP_ARENA_SIZE);
  lua_State *L = image_copy(vp, img);
  if (L) *chunk = 1;
  return L;
}

void wp_image_free(struct wp_code *c) {
  struct wp_image *img = atomic_load_explicit(&c->image, memory_order_acquire);
  atomic_store_explicit(&c->image, NULL, memory_order_relaxed);
  if (!img || img == &no_image) return;
  wp_free(img->bytes);
  wp_free(img->relocs);
  wp_free(img);
}

