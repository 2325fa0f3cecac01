/*
** state_int.h: what the three files that make a process's lua_State share,
** and nothing else uses (only vm/ files include it):
** - lmem.c, the per-process allocator: the layout of a process's arena and
**   of its table (its design note says what they are for), and the calls
**   that set an arena up, free it and refuse a block past a limit;
** - image.c, state images: builds states by calls (lua_newstate, then
**   wp_state_setup) and by copying an image;
** - state.c, the process environment: the set-up of a fresh state, the
**   panic function, and the global names the runtime provides (which
**   image.c's prefill scan looks up too).
*/
#ifndef WP_STATE_INT_H
#define WP_STATE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "vm.h"

/* ---- the arena's layout (lmem.c) ----
**
** Under ASan an arena's free bytes are poisoned (see lmem.c). */

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
#define AR_TRACK 13           /* jemalloc blocks remembered */

struct ar_ext {
  void *p;
  size_t n;
};

struct ar_chunk { /* the head of a chunk; blocks follow */
  struct ar_chunk *prev;
  size_t size; /* with this head */
  char *end;   /* where its blocks end, once the bump region moved on */
};

/* The arena's table, in its last AR_TABSIZE bytes. While no jemalloc block
** is `lost` (all in ext) and no object with a finaliser was made
** (vp->needs_close), wp_state_close frees the blocks directly instead of
** calling lua_close. */
struct ar_tail {
  void *free[AR_CLASSES];   /* by rounded size / AR_ALIGN - 1 */
  struct ar_chunk *chunks;  /* the newest chunk, or NULL */
  void *holes;              /* the arena's free large blocks (lmem.c ar_hole) */
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

/* ---- lmem.c ---- */

/* Sets up an arena of `size` bytes (the last AR_TABSIZE hold its table)
** before lua_newstate; without one (no memory) every block is jemalloc's
** and untracked. */
void wp_lmem_init(struct wp_vmproc *vp, size_t size);
/* Frees the arena and its chunks (not the jemalloc blocks in its table),
** and gives the process's share of the runtime's memory limit back. */
void wp_lmem_free_all(struct wp_vmproc *vp);
/* Lua's allocator (lua_Alloc); ud is the process. */
void *wp_lmem_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
/* Marks vp past a limit (why: WP_MEM_OVER or WP_MEM_OVER_RT); returns NULL
** (the refused block). */
void *wp_lmem_over(struct wp_vmproc *vp, int why);

/* ---- state.c ---- */

/* The set-up of a fresh state (lua_CFunction, called protected after
** lua_newstate): the collector stopped, the metatable slots reserved, the
** lazy global table, the string metatable. */
int wp_state_setup(lua_State *L);
/* Lua's panic function for every process state (lua_atpanic). */
int wp_state_panic(lua_State *L);

/* The global names the runtime provides, by kind. */
enum { WP_G_BASE, WP_G_PRINT, WP_G_REQUIRE, WP_G_G, WP_G_VERSION, WP_G_STRING, WP_G_TABLE,
       WP_G_OS, WP_G_CO, WP_G_MATH, WP_G_PACKAGE, WP_G_UNPACK, WP_G_MODULE, WP_G_SETMT,
       WP_G_PCALL, WP_G_XPCALL };

struct wp_gname {
  const char *name; /* static */
  int kind;         /* WP_G_* */
};

/* The runtime's global of that name, or NULL. */
const struct wp_gname *wp_state_gname(const char *name);

#endif
