/*
** lmem.c: the per-process Lua allocator.
**
** Design note. Each state has its own allocator (wp_lmem_alloc, its
** lua_Alloc): it counts the bytes the process uses and refuses growth past
** the process's limit or the runtime's (never a shrink: the memory limit,
** below), serves the first WP_ARENA_SIZE bytes from a per-process arena
** (below), and frees the chunks a full collection left empty (giving memory
** back, below). The arena's layout, which image.c and state.c read too, is
** in state_int.h.
**
** wp_lmem_alloc and the static inline helpers of its paths (fl_pop,
** ar_take, ar_release, ar_maybe_xsmall, xbits) stay in this one file, so
** that a small block made or freed costs no call.
*/
#include <string.h>

#include "alloc.h"
#include "state_int.h"

/* ---- the per-process arena ----
**
** A process's Lua memory comes first from one block, its arena (8 KB, or an
** image's size plus a little: see image.c), bump-allocated: lua_newstate,
** the library stubs, the loaded chunk and the first messages of a short-lived
** process cost a pointer increment each instead of a trip through the
** general allocator.
**
** Small blocks (up to AR_FREEMAX bytes) come from the arena or from the
** process's chunks. A freed one goes on a free list of its size (sizes are
** multiples of 8) and is the next block of that size handed out. When the
** bump region is full, a small block comes from a new chunk, carved the same
** way. Chunks are all AR_CHUNK bytes (2 KB), so that a process holds about
** what it uses: with chunks doubling to 16 KB, the newest one of a client
** looping on receive stood mostly uncarved (7 KB of its 32). Except for the
** first AR_XDELAY bytes past a full arena, which come from jemalloc
** (ar_delay): an idle process overflows its arena by a little, and
** jemalloc's blocks of exact sizes cost it less than a chunk. Those few are
** remembered in the table, and each sets two bits of a filter (xbits), so a
** small block is the process's own unless its bits are set and it is in the
** table. Large blocks come from the arena while it has room, then from
** jemalloc: a large block is the process's own when it lies in the arena. A
** large block freed in the arena (but the most recent, which gives its bytes
** back to the bump region: a stack or a table growing in place) is a hole:
** holes are kept on a list of their own (ar_tail's `holes`, each with its
** size) and a large block is taken from the first hole it fits before the
** bump region or jemalloc, the rest of the hole staying a hole or, when
** small, a free block of its size; a small block too comes from a hole when
** its free list is empty and the bump region is full, before a new chunk.
** The holes of a long-lived process are the stacks and table parts it
** outgrew: an echo client's main stack alone, 720 bytes in its image, leaves
** one when it grows. wp_lmem_alloc makes and frees small blocks inline, in a
** few instructions.
**
** A long-lived process (a client looping on receive) so keeps its objects,
** its garbage between collections included, in a few blocks of its own
** instead of spread over jemalloc's slabs among other processes' objects.
** That matters when thousands of processes take turns: a process woken
** after the others had theirs finds its state out of the caches, and vm_run
** (or the scheduler, for the process it runs next) prefetches its blocks
** (wp_state_prefetch) in one sweep instead of missing on each object in
** turn.
**
** The last AR_TABSIZE bytes of the arena hold its table (struct ar_tail):
** the free lists, the newest chunk (each starts with a link to the one
** before), and the first AR_TRACK blocks taken from jemalloc. While every
** jemalloc block is in that table (none `lost`), and no object with a
** finaliser was made (vp->needs_close), ending the process frees the blocks
** directly (wp_state_close) instead of calling lua_close, which would walk and free every
** object one by one: an echo worker's state goes away in a few calls. Under
** ASan free blocks are poisoned (a free list's link is unpoisoned only to be
** read or written), so that a use after free still reports. */

#define AR_CHUNK 2048         /* a chunk's size, and its alignment (ar_trim) */
#define AR_PREFETCH (64 * 1024) /* wp_state_prefetch stops after this much */
#define AR_XDELAY 1024        /* small bytes from jemalloc before the first chunk */

static struct ar_ext *ext_find(struct wp_vmproc *vp, const void *p);

/* The two bits a small block from jemalloc sets in xbloom. A small block
** whose bits are not both set is the process's own: a test of a few
** instructions with no false negative. An address range of those blocks
** would not do: jemalloc's slabs and the process's chunks interleave, so
** the range would cover most of the chunks too and send most frees of a
** long-lived process down the slow path to scan the table. */
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
** (less than the small block that did not fit) becomes a free block of its
** size, so it counts as carved (ar_trim). */
static int ar_newchunk(struct wp_vmproc *vp) {
  if (vp->ar_zero) return 0;
  struct ar_tail *t = AR_TAIL(vp);
  size_t size = AR_CHUNK, left = (size_t)(vp->ar_end - vp->ar_cur);
  /* aligned to its size: ar_trim finds a block's chunk by its address */
  struct ar_chunk *c = wp_malloc_aligned(AR_CHUNK, AR_CHUNK);
  if (!c) return 0;
  if (left >= AR_ALIGN && left <= AR_FREEMAX) {
    void **h = &t->free[left / AR_ALIGN - 1];
    AR_UNPOISON(vp->ar_cur, sizeof(void *));
    *(void **)(void *)vp->ar_cur = *h;
    AR_POISON(vp->ar_cur, sizeof(void *));
    *h = vp->ar_cur;
    vp->ar_cur = vp->ar_end;
  }
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

/* A hole: a free large block of the arena, its first two words its link
** and its size (rounded). Poisoned but for those while they are read or
** written. */
struct ar_hole {
  struct ar_hole *next;
  size_t size;
};

static void hole_put(struct ar_tail *t, void *p, size_t r) {
  struct ar_hole *h = p;
  AR_UNPOISON(h, sizeof *h);
  h->next = t->holes;
  h->size = r;
  AR_POISON(h, sizeof *h);
  t->holes = h;
}

/* r free bytes at p in the arena: a hole, or a small free block, or
** nothing when fewer than AR_ALIGN (never: sizes are multiples of it). */
static void ar_put_free(struct ar_tail *t, void *p, size_t r) {
  if (r > AR_FREEMAX) {
    hole_put(t, p, r);
  } else if (r >= AR_ALIGN) {
    void **h = &t->free[r / AR_ALIGN - 1];
    AR_UNPOISON(p, sizeof(void *));
    *(void **)p = *h;
    AR_POISON(p, sizeof(void *));
    *h = p;
  }
}

/* A large block of r (rounded) bytes from the first of the first
** HOLE_LOOK holes it fits, or NULL (a long list of holes too small for
** most requests is not walked on every large block). What the block leaves
** of the hole is put back (ar_put_free). */
#define HOLE_LOOK 8
static void *hole_take(struct ar_tail *t, size_t r) {
  struct ar_hole *prev = NULL, *h = t->holes;
  for (int look = HOLE_LOOK; h && look > 0; look--) {
    AR_UNPOISON(h, sizeof *h);
    struct ar_hole *next = h->next;
    size_t size = h->size;
    AR_POISON(h, sizeof *h);
    if (size >= r) {
      if (prev) {
        AR_UNPOISON(&prev->next, sizeof prev->next);
        prev->next = next;
        AR_POISON(&prev->next, sizeof prev->next);
      } else {
        t->holes = next;
      }
      if (size > r) ar_put_free(t, (char *)h + r, size - r);
      return h;
    }
    prev = h;
    h = next;
  }
  return NULL;
}

/* A block of n bytes from the arena or a chunk, or NULL: then a large block
** comes from jemalloc, and a small one means out of memory. */
static inline void *ar_take(struct wp_vmproc *vp, size_t n) {
  size_t r = AR_ROUND(n);
  void *p;
  if (r <= AR_FREEMAX) {
    if ((p = fl_pop(&AR_TAIL(vp)->free[r / AR_ALIGN - 1], r)) != NULL) goto got;
    if ((size_t)(vp->ar_end - vp->ar_cur) < r) {
      /* a hole before a new chunk: every hole is larger than any small block */
      if (AR_TAIL(vp)->holes && (p = hole_take(AR_TAIL(vp), r)) != NULL) goto got;
      if (!ar_newchunk(vp)) return NULL;
    }
  } else {
    struct ar_tail *t = AR_TAIL(vp);
    if (t->holes && (p = hole_take(t, r)) != NULL) goto got;
    if ((size_t)(vp->ar_end - vp->ar_cur) < r || !ar_in_arena(vp)) return NULL;
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
  } else {
    hole_put(AR_TAIL(vp), p, r); /* large blocks lie in the arena */
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
  return !t->chunks && !t->holes && (size_t)(vp->ar_end - vp->ar_cur) < r &&
         !t->free[r / AR_ALIGN - 1] && vp->ext_n < AR_TRACK &&
         t->xsmall_bytes + n <= AR_XDELAY && !vp->ar_zero;
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
      /* the freed tail is a free block of its own (every byte of a chunk
      ** is a block in use or on a free list: ar_trim), or a hole */
      if (!last && rn < ro) {
        AR_POISON((char *)p + rn, ro - rn);
        ar_put_free(AR_TAIL(vp), (char *)p + rn, ro - rn);
      }
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

/* What wp_lmem_alloc's fast path may grow mem_used to, when nothing is refused. */
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

void *wp_lmem_over(struct wp_vmproc *vp, int why) {
  vp->mem_state |= (unsigned char)why;
  vp->mem_cap = 0;
  int none = WP_KILL_NONE;
  if (vp->p) atomic_compare_exchange_strong(&vp->p->kill, &none, WP_KILL_MEMORY);
  return NULL;
}

static void *mem_refuse(struct wp_vmproc *vp, size_t grow, int why) {
  if (vp->mem_cap < 0) return wp_lmem_over(vp, why); /* the retry after a full collection */
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
    wp_lmem_over(vp, why);
    return 1;
  }
  vp->mem_cap = mem_bound(vp); /* a collection made room: an ordinary memory error */
  return 0;
}

/* What wp_lmem_alloc's fast paths leave: jemalloc's blocks, resizes, the
** arena's large blocks, growth near the memory limit, an image's template. */
static __attribute__((noinline)) void *alloc_slow(struct wp_vmproc *vp, void *ptr, size_t osize,
                                                  size_t nsize) {
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
void *wp_lmem_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
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
        return alloc_slow(vp, ptr, osize, nsize);
      p = vp->ar_cur;
      vp->ar_cur += r;
    }
    AR_UNPOISON(p, nsize);
    vp->mem_used += (int64_t)nsize;
    return p;
  }
  return alloc_slow(vp, ptr, osize, nsize);
}

void wp_lmem_init(struct wp_vmproc *vp, size_t size) {
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
  AR_UNPOISON(c, c->size);
  wp_free(c); /* aligned (ar_newchunk) */
}

void wp_lmem_free_all(struct wp_vmproc *vp) {
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
** its free lists, spread over its chunks. ar_trim frees every chunk all of
** whose blocks are free (but the newest, being carved): it sums the free
** blocks per chunk (a chunk is aligned to its size, so a block's chunk is
** its address rounded down, found in a table of the process's chunks),
** compares that with the bytes carved from the chunk, and takes the empty
** chunks' blocks off the free lists. Every byte
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

/* The entry of the chunk p lies in, or NULL. */
static struct trim_ent *trim_find(struct trim_ent *tab, size_t mask, const void *p, int add) {
  uintptr_t c = (uintptr_t)p & ~(uintptr_t)(AR_CHUNK - 1);
  size_t i = (size_t)(((uint64_t)(c / AR_CHUNK) * 0x9E3779B97F4A7C15u) >> 32) & mask;
  for (;; i = (i + 1) & mask) {
    if ((uintptr_t)tab[i].c == c) return &tab[i];
    if (!tab[i].c) break;
  }
  if (!add) return NULL;
  tab[i].c = (struct ar_chunk *)c;
  return &tab[i];
}

/* Frees the empty chunks; returns the bytes freed. */
static size_t ar_trim(struct wp_vmproc *vp) {
  struct ar_tail *t = AR_TAIL(vp);
  size_t n = 0, cap = 16, freed = 0;
  if (!t->chunks) return 0;
  for (struct ar_chunk *c = t->chunks->prev; c; c = c->prev) n++;
  if (n == 0) return 0;
  while (cap < 2 * n) cap *= 2;
  struct trim_ent *tab = wp_calloc(cap, sizeof *tab);
  if (!tab) return 0;
  for (struct ar_chunk *c = t->chunks->prev; c; c = c->prev) trim_find(tab, cap - 1, c, 1);
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
      freed += AR_CHUNK;
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
      struct trim_ent *e = trim_find(tab, cap - 1, c, 0);
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
  for (; e - q >= 256; q += 256) { /* four lines a turn: the loop's test paid once per four */
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

