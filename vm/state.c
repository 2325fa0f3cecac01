/*
** state.c: building a process's lua_State.
**
** Design note. A process state starts empty: a global table whose __index
** materialises, on first use, base functions (minus load, loadfile, dofile,
** collectgarbage and rawlen, plus our print and require), standard libraries
** (string, table, math, coroutine, os), the always-available Wippy modules
** (process, channel, payload, errors), the modules the entry lists and its
** imported libraries. The value is stored with rawset, so the second access
** is an ordinary global read, and libraries are lazy tables themselves
** (lazylib.c): a worker that calls process.send pays for one table and one
** function, not for the whole library. String values get their metatable
** (arithmetic coercion, __index = the string library) at creation. This keeps
** an echo worker's state small and cheap to build.
**
** Each state has its own allocator: it counts the bytes the process uses and
** refuses growth past the process's limit or the runtime's (never a shrink:
** the memory limit, below), serves the first WP_ARENA_SIZE bytes from a
** per-process arena (below), and frees the chunks a full collection left
** empty (giving memory back, below).
*/
#include <lualib.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "errobj.h"
#include "lazylib.h"
#include "vm.h"

/* ---- the per-process arena ----
**
** A process's Lua memory comes first from one block, its arena (8 KB, or an
** image's size plus a little: see images below), bump-allocated: lua_newstate,
** the library stubs, the loaded chunk and the first messages of a short-lived
** process cost a pointer increment each instead of a trip through the
** general allocator.
**
** Small blocks (up to AR_FREEMAX bytes) come from the arena or from the
** process's chunks. A freed one goes on a free list of its size (sizes are
** multiples of 8) and is the next block of that size handed out. When the
** bump region is full, a small block comes from a new chunk, carved the same
** way: AR_XFIRST bytes first, each next one twice the size of the one
** before, up to AR_XMAX. Except for the first AR_XDELAY bytes past a full
** arena, which come from jemalloc (ar_delay): an idle process overflows its
** arena by a little, and jemalloc's blocks of exact sizes cost it less than
** a chunk. Those few are remembered in the table, and each sets two bits of
** a filter (xbits), so a small block is the process's own unless its bits
** are set and it is in the table. Large blocks come from the arena while it has room (a freed
** one stays a hole unless it was the most recent: a stack or a table growing
** in place), then from jemalloc: a large block is the process's own when it
** lies in the arena. l_alloc makes and frees small blocks inline, in a few
** instructions.
**
** A long-lived process (a client looping on receive) so keeps its objects,
** its garbage between collections included, in a few blocks of its own
** instead of spread over jemalloc's slabs among other processes' objects.
** That matters when thousands of processes take turns: a process woken after
** 100 ms finds its state out of the caches, and vm_run (or the scheduler,
** for the process it runs next) prefetches its blocks (wp_state_prefetch) in
** one sweep instead of missing on each object in turn.
**
** The last AR_TABSIZE bytes of the arena hold its table (struct ar_tail):
** the free lists, the newest chunk (each starts with a link to the one
** before), and the first AR_TRACK blocks taken from jemalloc. While every
** jemalloc block is in that table (none `lost`), and no object with a
** finaliser was made (vp->needs_close), ending the process frees the blocks
** directly instead of calling lua_close, which would walk and free every
** object one by one: an echo worker's state goes away in a few calls. Under
** ASan free blocks are poisoned (a free list's link is unpoisoned only to be
** read or written), so that a use after free still reports. */

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define AR_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define AR_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define AR_POISON(p, n) ((void)(p), (void)(n))
#define AR_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define AR_ALIGN 8 /* Lua needs 8 (LUAI_MAXALIGN: double, pointers, 64-bit ints) */
#define AR_ROUND(n) (((n) + (AR_ALIGN - 1)) & ~(size_t)(AR_ALIGN - 1))
#define AR_CLASSES 32 /* free lists for blocks of 8, 16, ..., 256 bytes */
#define AR_FREEMAX (AR_CLASSES * AR_ALIGN)
#define AR_XFIRST 2048        /* the first chunk */
#define AR_XMAX (16 * 1024)   /* chunks grow to this */
#define AR_PREFETCH (64 * 1024) /* wp_state_prefetch stops after this much */
#define AR_TRACK 14           /* jemalloc blocks remembered */
#define AR_XDELAY 1024        /* small bytes from jemalloc before the first chunk */

struct ar_ext {
  void *p;
  size_t n;
};

struct ar_chunk { /* the head of a chunk; blocks follow */
  struct ar_chunk *prev;
  size_t size; /* with this head */
  char *end;   /* where its blocks end, once the bump region moved on */
};

struct ar_tail {
  void *free[AR_CLASSES];   /* by rounded size / AR_ALIGN - 1 */
  struct ar_chunk *chunks;  /* the newest chunk, or NULL */
  struct ar_ext ext[AR_TRACK]; /* vp->ext_n of them */
  uint64_t xbloom[2];       /* bits of the small blocks from jemalloc (xbits) */
  uint8_t xsmall;           /* small blocks from jemalloc, alive (all in ext) */
  unsigned char lost;       /* a jemalloc block is not in ext: lua_close at the end */
  uint16_t xsmall_bytes;    /* bytes of small blocks ever taken from jemalloc */
  uint32_t resv_kb;         /* KB the process holds of the runtime's memory limit */
};

#define AR_TABSIZE sizeof(struct ar_tail)
_Static_assert(sizeof(struct ar_tail) <= 512, "the arena's table grew");
#define AR_TAIL(vp) ((struct ar_tail *)(void *)((vp)->ar_base + (vp)->ar_size - AR_TABSIZE))

static struct ar_ext *ext_find(struct wp_vmproc *vp, const void *p);

/* The two bits a small block from jemalloc sets in xbloom. A small block
** whose bits are not both set is the process's own: a test of a few
** instructions with no false negative, where an address range of those
** blocks mostly covered the process's own chunks too (jemalloc's slabs and
** the chunks interleave), sending most frees of a long-lived process down
** the slow path to scan the table. */
static inline void xbits(const void *p, uint64_t b[2]) {
  uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15u;
  b[0] = 1ull << (h >> 58);
  b[1] = 1ull << ((h >> 52) & 63);
}

/* Whether p may be a small block from jemalloc (when not, a small block at
** p is the process's own). */
static inline int ar_maybe_xsmall(const struct ar_tail *t, const void *p) {
  if (!t->xsmall) return 0;
  uint64_t b[2];
  xbits(p, b);
  return (t->xbloom[0] & b[0]) && (t->xbloom[1] & b[1]);
}

/* Whether a block of (unrounded) size n at p is the process's, not jemalloc's. */
static inline int ar_owns(struct wp_vmproc *vp, const void *p, size_t n) {
  if (!vp->ar_base) return 0;
  if (n <= AR_FREEMAX) return !ar_maybe_xsmall(AR_TAIL(vp), p) || !ext_find(vp, p);
  return (const char *)p >= vp->ar_base && (const char *)p < vp->ar_base + vp->ar_size;
}

/* Whether the bump region is the arena itself (not a chunk). */
static inline int ar_in_arena(const struct wp_vmproc *vp) {
  return vp->ar_cur >= vp->ar_base && vp->ar_cur <= vp->ar_base + vp->ar_size;
}

/* Zeroes bytes [from, r) of a block of n bytes rounded to r (its rounding
** too: a word may straddle the block's end). */
static void ar_zero(char *p, size_t from, size_t n, size_t r) {
  AR_UNPOISON(p + from, r - from);
  memset(p + from, 0, r - from);
  AR_POISON(p + n, r - n);
}

/* Moves the bump region to a new chunk; 0 when out of memory (or building
** an image's template, which must fit its arena). The rest of the old region
** is left unused. */
static int ar_newchunk(struct wp_vmproc *vp) {
  if (vp->ar_zero) return 0;
  struct ar_tail *t = AR_TAIL(vp);
  size_t size = t->chunks ? t->chunks->size * 2 : AR_XFIRST;
  if (size > AR_XMAX) size = AR_XMAX;
  /* full-size chunks are aligned to their size: ar_trim finds a block's
  ** chunk by its address */
  struct ar_chunk *c = size == AR_XMAX ? wp_malloc_aligned(AR_XMAX, AR_XMAX) : wp_malloc(size);
  if (!c) return 0;
  if (t->chunks) t->chunks->end = vp->ar_cur;
  c->prev = t->chunks;
  c->size = size;
  c->end = NULL;
  t->chunks = c;
  vp->ar_cur = (char *)(c + 1);
  vp->ar_end = (char *)c + size;
  AR_POISON(vp->ar_cur, size - sizeof *c);
  return 1;
}

/* Pops a block of r bytes off free list h, or NULL when it is empty. The
** block after it, read by the next pop, is prefetched: a free block is often
** out of the cache (a collection freed it long before). */
static inline void *fl_pop(void **h, size_t r) {
  void *p = *h;
  if (p) {
    AR_UNPOISON(p, sizeof(void *));
    *h = *(void **)p;
    AR_POISON(p, r);
    __builtin_prefetch(*h, 1, 3);
  }
  return p;
}

/* A block of n bytes from the arena or a chunk, or NULL: then a large block
** comes from jemalloc, and a small one means out of memory. */
static inline void *ar_take(struct wp_vmproc *vp, size_t n) {
  size_t r = AR_ROUND(n);
  void *p;
  if (r <= AR_FREEMAX) {
    if ((p = fl_pop(&AR_TAIL(vp)->free[r / AR_ALIGN - 1], r)) != NULL) goto got;
    if ((size_t)(vp->ar_end - vp->ar_cur) < r && !ar_newchunk(vp)) return NULL;
  } else if ((size_t)(vp->ar_end - vp->ar_cur) < r || !ar_in_arena(vp)) {
    return NULL;
  }
  p = vp->ar_cur;
  vp->ar_cur += r;
got:
  AR_UNPOISON(p, n);
  if (vp->ar_zero) ar_zero(p, 0, n, r);
  return p;
}

static inline void ar_release(struct wp_vmproc *vp, void *p, size_t n) {
  size_t r = AR_ROUND(n);
  AR_POISON(p, r);
  if ((char *)p + r == vp->ar_cur) {
    vp->ar_cur = p; /* the last block */
  } else if (r <= AR_FREEMAX) {
    void **h = &AR_TAIL(vp)->free[r / AR_ALIGN - 1];
    AR_UNPOISON(p, sizeof(void *));
    *(void **)p = *h;
    AR_POISON(p, sizeof(void *));
    *h = p;
  }
}

/* Notes a block taken from jemalloc (a process with an arena). */
static void ext_add(struct wp_vmproc *vp, void *p, size_t n) {
  struct ar_tail *t = AR_TAIL(vp);
  if (vp->ext_n == AR_TRACK)
    t->lost = 1;
  else
    t->ext[vp->ext_n++] = (struct ar_ext){p, n};
  if (n <= AR_FREEMAX) {
    uint64_t b[2];
    xbits(p, b);
    t->xbloom[0] |= b[0];
    t->xbloom[1] |= b[1];
    t->xsmall++;
    t->xsmall_bytes = (uint16_t)(t->xsmall_bytes + n);
  }
}

static struct ar_ext *ext_find(struct wp_vmproc *vp, const void *p) {
  struct ar_ext *t = AR_TAIL(vp)->ext;
  for (int i = 0; i < vp->ext_n; i++)
    if (t[i].p == p) return &t[i];
  return NULL;
}

static void ext_free(struct wp_vmproc *vp, void *p, size_t n) {
  struct ar_ext *e = vp->ext_n > 0 ? ext_find(vp, p) : NULL;
  if (e) *e = AR_TAIL(vp)->ext[--vp->ext_n];
  if (vp->ar_base && n <= AR_FREEMAX) AR_TAIL(vp)->xsmall--;
  wp_free_sized(p, n);
}

/* Whether a small block of n bytes comes from jemalloc: before the first
** chunk, while the arena is full and small jemalloc blocks stay under
** AR_XDELAY bytes (an idle process that overflows its arena by a little
** takes no chunk), and each can be remembered (ar_owns finds them so). */
static int ar_delay(struct wp_vmproc *vp, size_t n) {
  struct ar_tail *t = AR_TAIL(vp);
  size_t r = AR_ROUND(n);
  return !t->chunks && (size_t)(vp->ar_end - vp->ar_cur) < r && !t->free[r / AR_ALIGN - 1] &&
         vp->ext_n < AR_TRACK && t->xsmall_bytes + n <= AR_XDELAY && !vp->ar_zero;
}

/* A block of n bytes for the process: its own (small, or large while the
** arena has room), else jemalloc's. */
static void *ar_alloc(struct wp_vmproc *vp, size_t n) {
  if (!vp->ar_base) return wp_malloc(n);
  void *p = n <= AR_FREEMAX && ar_delay(vp, n) ? NULL : ar_take(vp, n);
  if (!p && (n > AR_FREEMAX || ar_delay(vp, n))) {
    p = wp_malloc(n);
    if (p) ext_add(vp, p, n);
  }
  return p;
}

/* Resizes a block (osize > 0, nsize > 0). */
static void *ar_resize(struct wp_vmproc *vp, void *p, size_t osize, size_t nsize) {
  if (!ar_owns(vp, p, osize)) { /* jemalloc's */
    if (nsize <= AR_FREEMAX && vp->ar_base) { /* a small block is the process's */
      void *np = ar_take(vp, nsize);
      if (!np) return NULL;
      memcpy(np, p, osize < nsize ? osize : nsize);
      ext_free(vp, p, osize);
      return np;
    }
    void *np = wp_realloc(p, nsize);
    if (np && vp->ar_base) {
      struct ar_ext *e = vp->ext_n > 0 ? ext_find(vp, p) : NULL;
      if (e) *e = (struct ar_ext){np, nsize};
      if (osize <= AR_FREEMAX) AR_TAIL(vp)->xsmall--; /* now large */
    }
    return np;
  }
  size_t ro = AR_ROUND(osize), rn = AR_ROUND(nsize);
  int last = (char *)p + ro == vp->ar_cur;
  /* In place: a shrink (the block is at least its new size's class), or
  ** the most recent block growing where it lies, unless that would make a
  ** large block outside the arena. */
  if (nsize <= osize || rn == ro ||
      (last && (size_t)(vp->ar_end - (char *)p) >= rn && (rn <= AR_FREEMAX || ar_in_arena(vp)))) {
    if (last) vp->ar_cur = (char *)p + rn;
    if (nsize > osize) {
      AR_UNPOISON(p, nsize);
      if (vp->ar_zero) ar_zero(p, osize, nsize, rn);
    } else {
      AR_POISON((char *)p + nsize, ro - nsize);
      /* a small block's freed tail is a free block of its own: every byte
      ** of a chunk is a block in use or on a free list (ar_trim) */
      if (!last && rn < ro && ro <= AR_FREEMAX) ar_release(vp, (char *)p + rn, ro - rn);
    }
    return p;
  }
  void *np = ar_alloc(vp, nsize);
  if (!np) return NULL;
  memcpy(np, p, osize < nsize ? osize : nsize);
  ar_release(vp, p, osize);
  return np;
}

/* ---- the memory limit ----
**
** mem_used counts the bytes Lua asked for (not the arena, chunks and tables
** around them); a growth that would take it past the process's limit is
** refused, and so is one past the runtime's limit (--memory-limit) on the
** sum of all processes' heaps. Against that sum a process holds a share
** (resv_kb, in its arena's table), taken in steps with a margin, so that
** the shared counter is touched every so many KB, not per block. When an
** allocation fails, Lua collects all garbage and asks once more; a refusal
** sets mem_cap to minus its size, so that the second attempt comes here
** too, and a second refusal in a row means even a full collection left no
** room: the process is past a limit (WP_MEM_OVER, WP_MEM_OVER_RT). It is
** then ended: its kill flag says WP_KILL_MEMORY, wp_vm_pcall and
** coroutine.resume pass the error on instead of catching it, every further
** growth is refused, and the run loop ends the process when the error
** reaches it (vmproc.c). lauxlib's buffers call the allocator directly and
** raise at the first refusal: wp_state_past_limit decides those where the
** error is caught. */

#define MEM_OVER_ANY (WP_MEM_OVER | WP_MEM_OVER_RT)

/* The reservation (KB) that covers `need` bytes in use, with a margin. */
static uint32_t resv_for(int64_t need, int64_t margin) {
  int64_t step = WP_MEM_RESV_STEP;
  return (uint32_t)((need + margin + step - 1) / step * (step / 1024));
}

/* What l_alloc's fast path may grow mem_used to, when nothing is refused. */
static int64_t mem_bound(const struct wp_vmproc *vp) {
  int64_t b = wp_state_mem_limit(vp), r;
  if (!b) b = INT64_MAX;
  if (vp->mem_state & WP_MEM_ACCT && vp->ar_base && (r = (int64_t)AR_TAIL(vp)->resv_kb * 1024) < b)
    b = r;
  return b;
}

/* Sets vp's reservation to `want` KB; 0, or -1 when the runtime's limit has
** no room for that. */
static int resv_set(struct wp_vmproc *vp, uint32_t want) {
  struct wp_rt *rt = vp->rt;
  struct ar_tail *t = AR_TAIL(vp);
  int64_t add = ((int64_t)want - t->resv_kb) * 1024;
  if (add > 0 &&
      atomic_fetch_add_explicit(&rt->mem_total, add, memory_order_relaxed) + add >
          rt->mem_total_limit) {
    atomic_fetch_sub_explicit(&rt->mem_total, add, memory_order_relaxed);
    return -1;
  }
  if (add < 0) atomic_fetch_add_explicit(&rt->mem_total, add, memory_order_relaxed);
  t->resv_kb = want;
  if (vp->mem_cap >= 0 && !(vp->mem_state & MEM_OVER_ANY)) vp->mem_cap = mem_bound(vp);
  return 0;
}

/* Whether `need` bytes in use fit vp's limits: 0, or the WP_MEM_OVER* of
** the one they pass (a reservation is taken on the way). */
static int mem_check(struct wp_vmproc *vp, int64_t need) {
  int64_t limit = wp_state_mem_limit(vp);
  if (vp->mem_state & MEM_OVER_ANY) return vp->mem_state & MEM_OVER_ANY;
  if (limit && need > limit) return WP_MEM_OVER;
  if (vp->mem_state & WP_MEM_ACCT && vp->ar_base && need > (int64_t)AR_TAIL(vp)->resv_kb * 1024 &&
      resv_set(vp, resv_for(need, need / 8)) != 0 && resv_set(vp, resv_for(need, 0)) != 0)
    return WP_MEM_OVER_RT;
  return 0;
}

void wp_state_release(struct wp_vmproc *vp, int all) {
  uint32_t keep = all ? 0 : resv_for(vp->mem_used, vp->mem_used / 8);
  if (!(vp->mem_state & WP_MEM_ACCT) || !vp->ar_base) return;
  if (AR_TAIL(vp)->resv_kb > keep + (all ? 0 : WP_MEM_RESV_STEP / 1024)) resv_set(vp, keep);
  if (all) { /* its end: what its teardown allocates is not counted */
    vp->mem_state &= (unsigned char)~WP_MEM_ACCT;
    if (vp->mem_cap >= 0 && !(vp->mem_state & MEM_OVER_ANY)) vp->mem_cap = mem_bound(vp);
  }
}

/* Marks vp past a limit (why: WP_MEM_OVER or WP_MEM_OVER_RT); returns NULL
** (the refused block). */
static void *mem_over(struct wp_vmproc *vp, int why) {
  vp->mem_state |= (unsigned char)why;
  vp->mem_cap = 0;
  int none = WP_KILL_NONE;
  if (vp->p) atomic_compare_exchange_strong(&vp->p->kill, &none, WP_KILL_MEMORY);
  return NULL;
}

static void *mem_refuse(struct wp_vmproc *vp, size_t grow, int why) {
  if (vp->mem_cap < 0) return mem_over(vp, why); /* the retry after a full collection */
  vp->mem_cap = -(int64_t)grow;
  return NULL;
}

int wp_state_past_limit(struct wp_vmproc *vp, lua_State *L) {
  if (vp->mem_state & MEM_OVER_ANY) return 1;
  if (vp->mem_cap >= 0) return 0; /* no refusal pending */
  int64_t grow = -vp->mem_cap, need = vp->mem_used + grow;
  int64_t limit = wp_state_mem_limit(vp);
  int why;
  if (L) {
    lua_gc(L, LUA_GCCOLLECT);
    why = mem_check(vp, vp->mem_used + grow);
  } else {
    why = (limit && need > limit) || !(vp->mem_state & WP_MEM_ACCT) ? WP_MEM_OVER
                                                                    : WP_MEM_OVER_RT;
  }
  if (why) {
    mem_over(vp, why);
    return 1;
  }
  vp->mem_cap = mem_bound(vp); /* a collection made room: an ordinary memory error */
  return 0;
}

/* What l_alloc's fast paths leave: jemalloc's blocks, resizes, the arena's
** large blocks, growth near the memory limit, an image's template. */
static __attribute__((noinline)) void *l_alloc_slow(struct wp_vmproc *vp, void *ptr,
                                                    size_t osize, size_t nsize) {
  if (nsize == 0) {
    vp->mem_used -= (int64_t)osize;
    if (ar_owns(vp, ptr, osize))
      ar_release(vp, ptr, osize);
    else
      ext_free(vp, ptr, osize);
    return NULL;
  }
  if (ptr == NULL) osize = 0; /* osize is a type tag then */
  if (nsize > osize && vp->mem_used + (int64_t)(nsize - osize) > vp->mem_cap) {
    int why = mem_check(vp, vp->mem_used + (int64_t)(nsize - osize));
    if (why) return mem_refuse(vp, nsize - osize, why);
  }
  void *np = ptr ? ar_resize(vp, ptr, osize, nsize) : ar_alloc(vp, nsize);
  if (np) {
    vp->mem_used += (int64_t)nsize - (int64_t)osize;
    if (vp->mem_cap < 0) vp->mem_cap = mem_bound(vp); /* the retry fit */
  }
  return np;
}

/* Lua's allocator. Inline here, without calls, the common cases: a small
** block freed (onto its free list) or made (from one, or the bump region). */
static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  struct wp_vmproc *vp = ud;
  if (nsize == 0) {
    if (!ptr) return NULL;
    if (osize <= AR_FREEMAX && vp->ar_base && !ar_maybe_xsmall(AR_TAIL(vp), ptr)) {
      vp->mem_used -= (int64_t)osize;
      ar_release(vp, ptr, osize);
      return NULL;
    }
  } else if (!ptr && nsize <= AR_FREEMAX && vp->ar_base &&
             vp->mem_used + (int64_t)nsize <= vp->mem_cap) {
    size_t r = AR_ROUND(nsize);
    void *p = fl_pop(&AR_TAIL(vp)->free[r / AR_ALIGN - 1], r);
    if (!p) {
      if ((size_t)(vp->ar_end - vp->ar_cur) < r) /* a new chunk, or jemalloc (ar_delay) */
        return l_alloc_slow(vp, ptr, osize, nsize);
      p = vp->ar_cur;
      vp->ar_cur += r;
    }
    AR_UNPOISON(p, nsize);
    vp->mem_used += (int64_t)nsize;
    return p;
  }
  return l_alloc_slow(vp, ptr, osize, nsize);
}

/* Sets up an arena of `size` bytes (the last AR_TABSIZE hold its table)
** before lua_newstate; without one (no memory) every block is jemalloc's
** and untracked. */
static void ar_init(struct wp_vmproc *vp, size_t size) {
  vp->ar_base = wp_malloc(size);
  vp->ar_size = vp->ar_base ? size : 0;
  vp->ext_n = vp->ar_base ? 0 : -1;
  vp->ar_cur = vp->ar_base;
  vp->ar_end = vp->ar_base ? vp->ar_base + size - AR_TABSIZE : NULL;
  if (vp->ar_base) {
    memset(AR_TAIL(vp), 0, AR_TABSIZE);
    AR_POISON(vp->ar_base, size - AR_TABSIZE);
  }
}

static void chunk_free(struct ar_chunk *c) {
  size_t size = c->size;
  AR_UNPOISON(c, size);
  if (size == AR_XMAX)
    wp_free(c); /* aligned (ar_newchunk) */
  else
    wp_free_sized(c, size);
}

static void ar_free_all(struct wp_vmproc *vp) {
  if (vp->ar_base) {
    if (vp->mem_state & WP_MEM_ACCT) wp_state_release(vp, 1); /* in the arena's table */
    struct ar_chunk *c = AR_TAIL(vp)->chunks;
    while (c) {
      struct ar_chunk *prev = c->prev;
      chunk_free(c);
      c = prev;
    }
    AR_UNPOISON(vp->ar_base, vp->ar_size - AR_TABSIZE);
    wp_free_sized(vp->ar_base, vp->ar_size);
  }
  vp->ar_base = vp->ar_cur = vp->ar_end = NULL;
  vp->ar_size = 0;
}

/* ---- giving memory back ----
**
** After a full collection, most blocks of a peak the process dropped are on
** its free lists, spread over its chunks. ar_trim frees every full-size
** chunk all of whose blocks are free (but the newest, being carved): it sums
** the free blocks per chunk (a full-size chunk is aligned to its size, so a
** block's chunk is its address rounded down, found in a table of the
** process's full-size chunks), compares that with the bytes carved from the
** chunk, and takes the empty chunks' blocks off the free lists. Every byte
** carved from a chunk is a block in use or a free block on a list (see
** ar_resize), so a chunk whose free blocks sum to its carved bytes holds
** nothing alive. */

struct trim_ent {
  struct ar_chunk *c;
  size_t free; /* bytes on the free lists; SIZE_MAX: to be freed */
};

static void *fl_next(void *p) {
  AR_UNPOISON(p, sizeof(void *));
  void *n = *(void **)p;
  AR_POISON(p, sizeof(void *));
  return n;
}

static void fl_set_next(void *p, void *n) {
  AR_UNPOISON(p, sizeof(void *));
  *(void **)p = n;
  AR_POISON(p, sizeof(void *));
}

/* The entry of the full-size chunk p lies in, or NULL. */
static struct trim_ent *trim_find(struct trim_ent *tab, size_t mask, const void *p, int add) {
  uintptr_t c = (uintptr_t)p & ~(uintptr_t)(AR_XMAX - 1);
  size_t i = (size_t)(((uint64_t)(c / AR_XMAX) * 0x9E3779B97F4A7C15u) >> 32) & mask;
  for (;; i = (i + 1) & mask) {
    if ((uintptr_t)tab[i].c == c) return &tab[i];
    if (!tab[i].c) break;
  }
  if (!add) return NULL;
  tab[i].c = (struct ar_chunk *)c;
  return &tab[i];
}

/* Frees the empty full-size chunks; returns the bytes freed. */
static size_t ar_trim(struct wp_vmproc *vp) {
  struct ar_tail *t = AR_TAIL(vp);
  size_t n = 0, cap = 16, freed = 0;
  if (!t->chunks) return 0;
  for (struct ar_chunk *c = t->chunks->prev; c; c = c->prev) n += c->size == AR_XMAX;
  if (n == 0) return 0;
  while (cap < 2 * n) cap *= 2;
  struct trim_ent *tab = wp_calloc(cap, sizeof *tab);
  if (!tab) return 0;
  for (struct ar_chunk *c = t->chunks->prev; c; c = c->prev)
    if (c->size == AR_XMAX) trim_find(tab, cap - 1, c, 1);
  for (int k = 0; k < AR_CLASSES; k++) {
    size_t r = (size_t)(k + 1) * AR_ALIGN;
    for (void *p = t->free[k]; p; p = fl_next(p)) {
      struct trim_ent *e = trim_find(tab, cap - 1, p, 0);
      if (e) e->free += r;
    }
  }
  for (size_t i = 0; i < cap; i++) {
    struct ar_chunk *c = tab[i].c;
    if (c && tab[i].free == (size_t)(c->end - (char *)(c + 1))) {
      tab[i].free = SIZE_MAX;
      freed += AR_XMAX;
    }
  }
  if (freed) {
    for (int k = 0; k < AR_CLASSES; k++) {
      void *keep = NULL, *p = t->free[k]; /* the last block kept */
      while (p) {
        void *next = fl_next(p);
        struct trim_ent *e = trim_find(tab, cap - 1, p, 0);
        if (!e || e->free != SIZE_MAX) {
          if (keep)
            fl_set_next(keep, p);
          else
            t->free[k] = p;
          keep = p;
        }
        p = next;
      }
      if (keep)
        fl_set_next(keep, NULL);
      else
        t->free[k] = NULL;
    }
    for (struct ar_chunk **pp = &t->chunks->prev; *pp;) {
      struct ar_chunk *c = *pp;
      struct trim_ent *e = c->size == AR_XMAX ? trim_find(tab, cap - 1, c, 0) : NULL;
      if (e && e->free == SIZE_MAX) {
        *pp = c->prev;
        chunk_free(c);
      } else {
        pp = &c->prev;
      }
    }
  }
  wp_free(tab);
  return freed;
}

/* Bytes of the process's chunks (for the log). */
static size_t ar_chunk_bytes(const struct wp_vmproc *vp) {
  size_t n = 0;
  if (vp->ar_base)
    for (const struct ar_chunk *c = AR_TAIL(vp)->chunks; c; c = c->prev) n += c->size;
  return n;
}

void wp_state_collect(struct wp_vmproc *vp, lua_State *S) {
  int64_t before = vp->mem_used;
  int log = wp_log_enabled(WP_LOG_DEBUG);
  size_t held = log ? ar_chunk_bytes(vp) : 0;
  lua_gc(S, LUA_GCCOLLECT);
  size_t freed = vp->ar_base ? ar_trim(vp) : 0;
  int64_t after = vp->mem_used;
  /* large blocks went back to the allocator, chunks too: let it give them
  ** to the system now (an idle process frees nothing more that would make
  ** it do so on its own) */
  if ((int64_t)freed + (before - after) >= WP_GC_FORCE_MIN / 4) wp_alloc_release();
  int64_t mb = (after > WP_GC_FORCE_MIN / 2 ? 2 * after : WP_GC_FORCE_MIN) >> 20;
  vp->mem_gc_mb = (uint16_t)(mb < UINT16_MAX ? mb : UINT16_MAX);
  wp_state_release(vp, 0);
  if (log)
    wp_logf(WP_LOG_DEBUG, "process %s collected: heap %lld -> %lld bytes, chunks %zu -> %zu bytes",
            vp->p ? vp->p->pid : "?", (long long)before, (long long)after, held,
            ar_chunk_bytes(vp));
}

static inline void prefetch_range(const char *b, const char *e) {
  const char *q = b;
  for (; e - q >= 256; q += 256) { /* four lines a turn: ~2 instructions a line, not 4 */
    __builtin_prefetch(q, 0, 2);
    __builtin_prefetch(q + 64, 0, 2);
    __builtin_prefetch(q + 128, 0, 2);
    __builtin_prefetch(q + 192, 0, 2);
  }
  for (; q < e; q += 64) __builtin_prefetch(q, 0, 2);
}

/* Into L2, not L1 (locality 2): the scheduler may call this for the process
** it runs next while another runs, whose L1 working set it must not evict.
** The newest chunks first, AR_PREFETCH bytes at most. */
void wp_state_prefetch(const struct wp_vmproc *vp) {
  if (!vp->ar_base) return;
  const struct ar_tail *t = AR_TAIL(vp);
  size_t budget = AR_PREFETCH;
  for (const struct ar_chunk *c = t->chunks; c && budget >= c->size; c = c->prev) {
    const char *b = (const char *)c, *e = b + c->size;
    if (vp->ar_cur > b && vp->ar_cur <= e) e = vp->ar_cur; /* the bump region */
    prefetch_range(b, e);
    budget -= c->size;
  }
  prefetch_range(vp->ar_base, t->chunks ? vp->ar_base + vp->ar_size : vp->ar_cur);
  if (!t->chunks) prefetch_range((const char *)t, (const char *)(t + 1));
  for (int k = 0; k < vp->ext_n; k++) { /* the first bytes of the jemalloc blocks known */
    const char *b = t->ext[k].p;
    prefetch_range(b, b + (t->ext[k].n < 512 ? t->ext[k].n : 512));
  }
}

/* ---- metatables by key (vm.h) ---- */

/* Each kind's metatable sits in a registry slot of its own, an integer key
** (the array part: a read is an index, where a light-userdata key was a
** hash lookup of ~150 instructions, paid for every Message, Payload, Time or
** case made). setup reserves the slots with luaL_ref, first thing in a fresh
** state, so every state has them at the same keys (mt_base): those of an
** image are its template's. */
static _Atomic int mt_base; /* the first slot's key; 0 before the first state */

static int mt_reserve(lua_State *L) {
  int first = 0;
  for (int k = 0; k < WP_MT_N; k++) {
    lua_pushboolean(L, 0);
    int r = luaL_ref(L, LUA_REGISTRYINDEX);
    if (k == 0) first = r;
    if (r != first + k) first = -1;
  }
  int expect = 0;
  if (first > 0 && (atomic_compare_exchange_strong(&mt_base, &expect, first) || expect == first))
    return 0;
  return luaL_error(L, "internal error: metatable slots at %d, not %d", first, expect);
}

int wp_state_mt_new(lua_State *L, enum wp_mt k, const char *tname) {
  int slot = atomic_load_explicit(&mt_base, memory_order_relaxed) + (int)k;
  if (lua_rawgeti(L, LUA_REGISTRYINDEX, slot) == LUA_TTABLE) {
    /* made before: maybe in an image's template, whose cache was not ours */
    wp_vm_self(L)->mt[k] = lua_topointer(L, -1);
    return 0;
  }
  lua_pop(L, 1);
  int made = luaL_newmetatable(L, tname);
  lua_pushvalue(L, -1);
  lua_rawseti(L, LUA_REGISTRYINDEX, slot);
  wp_vm_self(L)->mt[k] = lua_topointer(L, -1); /* anchored: it never moves */
  return made;
}

void *wp_state_mt_test(lua_State *L, int idx, enum wp_mt k) {
  void *p = lua_touserdata(L, idx);
  if (!p || !lua_getmetatable(L, idx)) return NULL;
  if (lua_topointer(L, -1) != wp_vm_self(L)->mt[k]) p = NULL;
  lua_pop(L, 1);
  return p;
}

void *wp_state_mt_check(lua_State *L, int idx, enum wp_mt k, const char *tname) {
  void *p = wp_state_mt_test(L, idx, k);
  if (!p) luaL_typeerror(L, idx, tname);
  return p;
}

/* ---- globals ---- */

struct reader {
  const struct wp_buf *b;
  int done;
};

static const char *read_buf(lua_State *L, void *ud, size_t *size) {
  (void)L;
  struct reader *r = ud;
  *size = r->done ? 0 : r->b->len;
  r->done = 1;
  return *size ? (const char *)r->b->data : NULL;
}

/* Loads code's cached bytecode and pushes the chunk function. */
void wp_code_load(lua_State *L, struct wp_code *c) {
  struct reader r = {&c->bytecode, 0};
  if (lua_load(L, read_buf, &r, c->chunkname, "b") != LUA_OK) lua_error(L);
}

/* An imported library: its chunk runs once per process, on first use. */
static int open_import(lua_State *L, struct wp_vmproc *vp, const char *k) {
  struct wp_code *c = vp->code;
  for (int i = 0; c && i < c->nimports; i++) {
    if (strcmp(c->imports[i].alias, k) != 0) continue;
    wp_code_load(L, c->imports[i].lib);
    lua_call(L, 0, 1);
    return 1;
  }
  return 0;
}

static int module_listed(const struct wp_code *c, const char *name) {
  for (int i = 0; c && i < c->nmodules; i++)
    if (strcmp(c->modules[i], name) == 0) return 1;
  return 0;
}

static int l_print(lua_State *L);
static int l_require(lua_State *L);

/* __index of the global table: materialise base functions, libraries and
** modules on first use. */
/* The global names the runtime provides, sorted for bsearch: a global
** read that misses costs a few comparisons, not a walk over every name. */
enum { G_BASE, G_PRINT, G_REQUIRE, G_G, G_VERSION, G_STRING, G_TABLE, G_OS, G_CO, G_MATH,
       G_PACKAGE, G_UNPACK, G_MODULE, G_SETMT, G_PCALL, G_XPCALL };

struct gname {
  const char *name;
  int kind;
};

static const struct gname gnames[] = {
    {"_G", G_G},           {"_VERSION", G_VERSION}, {"assert", G_BASE},
    {"channel", G_MODULE}, {"coroutine", G_CO},     {"error", G_BASE},
    {"errors", G_MODULE},  {"getmetatable", G_BASE}, {"ipairs", G_BASE},
    {"math", G_MATH},      {"next", G_BASE},         {"os", G_OS},
    {"package", G_PACKAGE}, {"pairs", G_BASE},       {"payload", G_MODULE},
    {"pcall", G_PCALL},     {"print", G_PRINT},       {"process", G_MODULE},
    {"rawequal", G_BASE},  {"rawget", G_BASE},       {"rawset", G_BASE},
    {"require", G_REQUIRE}, {"select", G_BASE},      {"setmetatable", G_SETMT},
    {"string", G_STRING},  {"subscribe", G_MODULE},  {"table", G_TABLE},
    {"tonumber", G_BASE},  {"tostring", G_BASE},     {"type", G_BASE},
    {"unpack", G_UNPACK},  {"unsubscribe", G_MODULE}, {"warn", G_BASE},
    {"xpcall", G_XPCALL}};

static int gname_cmp(const void *key, const void *elem) {
  return strcmp(key, ((const struct gname *)elem)->name);
}

static void push_package(lua_State *L) { /* a minimal package table (spec 05 §1) */
  lua_createtable(L, 0, 3);
  lua_pushliteral(L, "");
  lua_setfield(L, -2, "path");
  lua_pushliteral(L, "");
  lua_setfield(L, -2, "cpath");
  lua_newtable(L);
  lua_setfield(L, -2, "loaded");
}

/* setmetatable: Lua's, noting a finaliser (__gc) so that the process's
** state is closed with lua_close, which runs it (see the arena). */
static int l_setmetatable(lua_State *L) {
  lua_CFunction orig = lua_tocfunction(L, lua_upvalueindex(1));
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL) wp_vm_self(L)->needs_close = 1;
    lua_pop(L, 1);
  }
  return orig(L);
}

static int lazy_global(lua_State *L) {
  if (lua_type(L, 2) != LUA_TSTRING) return 0;
  const char *k = lua_tostring(L, 2);
  struct wp_vmproc *vp = wp_vm_self(L);
  int top = lua_gettop(L);
  const struct gname *g =
      bsearch(k, gnames, sizeof gnames / sizeof gnames[0], sizeof gnames[0], gname_cmp);
  lua_CFunction f;
  switch (g ? g->kind : -1) {
    case G_BASE:
      if ((f = wp_stdlib_base(k))) lua_pushcfunction(L, f);
      break;
    case G_PRINT: lua_pushcfunction(L, l_print); break;
    case G_PCALL: lua_pushcfunction(L, wp_vm_pcall); break;
    case G_XPCALL: lua_pushcfunction(L, wp_vm_xpcall); break;
    case G_SETMT:
      lua_pushcfunction(L, wp_stdlib_base("setmetatable"));
      lua_pushcclosure(L, l_setmetatable, 1);
      break;
    case G_REQUIRE: lua_pushcfunction(L, l_require); break;
    case G_G: lua_pushglobaltable(L); break;
    case G_VERSION: lua_pushliteral(L, LUA_VERSION); break;
    case G_STRING: wp_stdlib_push_string(L); break;
    case G_TABLE: wp_lazylib_push(L, &wp_lib_table); break;
    case G_OS: wp_lazylib_push(L, &wp_lib_os); break;
    case G_CO: wp_lazylib_push(L, &wp_lib_coroutine); break;
    case G_MATH:
      lua_pushcfunction(L, luaopen_math);
      lua_call(L, 0, 1);
      break;
    case G_PACKAGE: push_package(L); break;
    case G_UNPACK:
      lua_getglobal(L, "table");
      lua_getfield(L, -1, "unpack");
      lua_remove(L, -2);
      break;
    case G_MODULE: vp->rt->open_module(L, k); break;
    default: /* imports, then the modules the entry lists */
      if (!open_import(L, vp, k) && module_listed(vp->code, k)) vp->rt->open_module(L, k);
  }
  if (lua_gettop(L) == top) return 0;
  lua_pushvalue(L, 2);
  lua_pushvalue(L, -2);
  lua_rawset(L, 1);
  return 1;
}

static int l_require(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  lua_getglobal(L, name);
  if (lua_isnil(L, -1)) return luaL_error(L, "module '%s' not found", name);
  return 1;
}

void wp_vm_concat_args(lua_State *L, const char *sep, const char *end) {
  int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    if (i > 1 && sep) luaL_addstring(&b, sep);
    if (wp_err_is(L, i)) {
      size_t len;
      const char *m = wp_err_message(L, i, &len);
      luaL_addlstring(&b, m, len);
    } else {
      luaL_tolstring(L, i, NULL);
      luaL_addvalue(&b);
    }
  }
  if (end) luaL_addstring(&b, end);
  luaL_pushresult(&b);
}

int wp_vm_lua_line(lua_State *L) {
  lua_Debug ar;
  for (int lv = 1; lua_getstack(L, lv, &ar); lv++)
    if (lua_getinfo(L, "l", &ar) && ar.currentline > 0) return ar.currentline;
  return 0;
}

/* print: one info log record, arguments joined by spaces (spec 05 §3). */
static int l_print(lua_State *L) {
  if (!wp_log_enabled(WP_LOG_INFO)) return 0;
  wp_vm_concat_args(L, " ", NULL);
  struct wp_vmproc *vp = wp_vm_self(L);
  int line = wp_vm_lua_line(L);
  const char *fields = lua_pushfstring(L, "{\"pid\": \"%s\", \"location\": \"%s:%d\"}",
                                       vp->p->pid, vp->code ? vp->code->id : "?", line);
  wp_log(WP_LOG_INFO, NULL, lua_tostring(L, -2), fields);
  return 0;
}

static int setup(lua_State *L) {
  /* Most processes live for microseconds and free everything at once when
  ** they end: collecting garbage during that life is wasted work. The
  ** collector stays off until the process has allocated WP_GC_START bytes
  ** (vmproc.c turns it on). It is stopped before anything here allocates:
  ** a fresh state's first allocation check would otherwise run a
  ** collection step over it. */
  lua_gc(L, LUA_GCSTOP);
  mt_reserve(L);
  lua_pushglobaltable(L);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, lazy_global);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
  wp_stdlib_string_mt(L);
  return 0;
}

/* Where an unprotected call of this thread goes on an error (see
** wp_state_thread), or NULL: nothing should raise there. */
static _Thread_local jmp_buf *tl_unprotected;

static int panic(lua_State *L) {
  if (tl_unprotected) longjmp(*tl_unprotected, 1);
  const char *m = lua_tostring(L, -1);
  wp_logf(WP_LOG_ERROR, "unprotected Lua error: %s", m ? m : "?");
  abort();
}

/* While the main task is suspended, no thread of the state is running: an
** allocation error here has no handler, unwinds the main thread (the task
** is lost) and calls the panic function, which jumps back. The process then
** ends (the caller's NULL); the state stays consistent enough to close. */
lua_State *wp_state_thread(struct wp_vmproc *vp) {
  lua_State *L = vp->L;
  lua_State *volatile th = NULL;
  int64_t cap = vp->mem_cap;
  jmp_buf jb;
  vp->mem_cap = INT64_MAX; /* the runtime's thread: not the process's memory */
  tl_unprotected = &jb;
  if (setjmp(jb) == 0) {
    if (lua_checkstack(L, 1)) {
      lua_State *n = lua_newthread(L);
      luaL_ref(L, LUA_REGISTRYINDEX);
      th = n;
    }
  }
  tl_unprotected = NULL;
  vp->mem_cap = cap;
  return th;
}

/* ---- what an image has in place ----
**
** A state copied from an image has the code's chunk loaded, and also the
** library tables and functions the code names (what lazy_global and
** lazy_index would make on its first use of them): `process`,
** `process.send`, `string.upper`, ... The names come from a scan of the
** source at compile time: every identifier naming a lazy library global
** (string, table, os, coroutine, a module whose table is a lazy library)
** and every `lib.field` where field is one of that library's entries. A
** name found in a comment costs some bytes of image; one the scan cannot
** see (`_G[name]`) is made on first use, as without an image. math is not
** among them: luaopen_math seeds a generator per state. */

/* The lazy library that global `name` would be in c's processes, or NULL. */
static const struct wp_libdef *prefill_def(struct wp_rt *rt, const struct wp_code *c,
                                           const char *name, const char **gname) {
  const struct gname *g =
      bsearch(name, gnames, sizeof gnames / sizeof gnames[0], sizeof gnames[0], gname_cmp);
  if (g) {
    *gname = g->name;
    switch (g->kind) {
      case G_STRING: return &wp_lib_string;
      case G_TABLE: return &wp_lib_table;
      case G_OS: return &wp_lib_os;
      case G_CO: return &wp_lib_coroutine;
      case G_MODULE: return rt->module_def ? rt->module_def(name) : NULL;
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
    if (!def) continue;
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

/* Builds a state by calls: lua_newstate, then setup. NULL when out of
** memory. */
static lua_State *state_build(struct wp_vmproc *vp, size_t arena) {
  ar_init(vp, arena);
  lua_State *L = lua_newstate(l_alloc, vp);
  if (!L) {
    ar_free_all(vp);
    return NULL;
  }
  lua_atpanic(L, panic);
  *(struct wp_vmproc **)lua_getextraspace(L) = vp;
  lua_pushcfunction(L, setup);
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
    lua_close(L);
    ar_free_all(vp);
    return NULL;
  }
  return L;
}

/* ---- state images ----
**
** Every process gets a lua_State of its own, fresh. Built by calls
** (lua_newstate interning its reserved words and metamethod names, setup,
** then loading the code's bytecode) that costs about 30k instructions, more
** than the rest of an echo worker's life. Yet every state of one code comes
** out as the same bytes but for addresses. So the first spawn of a code
** builds one such state in an arena of its own (the template), with the
** chunk loaded, and keeps a copy of the arena's used bytes: the image. Every
** state of that code is then the image copied into the new process's arena,
** each pointer into the template moved by the distance between the two
** arenas. The copy shares nothing with the template or with any other
** process: it is a new state that was built by memcpy instead of by calls.
**
** Which words are pointers. Every block of the template came from l_alloc
** for Lua's own structures, zeroed when allocated, so padding holds no
** stale bytes (a type tag shares its word with seven bytes of padding: a
** stale address there once made a tag look like a pointer, and moving it
** broke the tag). An 8-byte-aligned word whose value falls inside the
** template's used arena is taken for a pointer into it and moved. A value
** that only lies in that range would be corrupted. Two kinds of words hold
** values, not pointers:
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
    ar_free_all(&tv);
  } else {
    lua_close(L);
    ar_free_all(&tv);
  }
  return img;
}

/* The image's state in vp's new arena; NULL when out of memory. */
static lua_State *image_copy(struct wp_vmproc *vp, const struct wp_image *img) {
  if (wp_state_mem_limit(vp) && img->mem_used > wp_state_mem_limit(vp)) return mem_over(vp, 1);
  ar_init(vp, img->arena);
  if (!vp->ar_base) return NULL;
  char *b = vp->ar_base;
  AR_UNPOISON(b, img->used);
  memcpy(b, img->bytes, img->used);
  uintptr_t d = (uintptr_t)b - img->base; /* modulo 2^N: a move down works too */
  uintptr_t *wb = (uintptr_t *)(void *)b;
  const uint16_t *r = img->relocs;
  size_t i = 0, n = img->nrelocs;
  for (; i + 4 <= n; i += 4) { /* a few hundred words: unrolled, ~2 instructions each */
    wb[r[i]] += d;
    wb[r[i + 1]] += d;
    wb[r[i + 2]] += d;
    wb[r[i + 3]] += d;
  }
  for (; i < n; i++) wb[r[i]] += d;
  vp->ar_cur = b + img->used;
  vp->mem_used = img->mem_used;
  lua_State *L = (lua_State *)(void *)(b + img->l_off);
  lua_setallocf(L, l_alloc, vp);
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

void wp_state_close(struct wp_vmproc *vp) {
  if (vp->L) {
    if (vp->needs_close || vp->ext_n < 0 || AR_TAIL(vp)->lost) {
      lua_close(vp->L);
    } else { /* nothing to finalise, every block known (see the arena) */
      struct ar_ext *t = AR_TAIL(vp)->ext;
      for (int i = 0; i < vp->ext_n; i++) wp_free_sized(t[i].p, t[i].n);
    }
    vp->L = NULL;
    vp->ext_n = 0;
    ar_free_all(vp);
  }
}
