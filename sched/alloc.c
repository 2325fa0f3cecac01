/* alloc.c: wp_malloc over jemalloc or libc (see alloc.h). */
#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if !defined(WIPPY_JEMALLOC) && defined(__GLIBC__)
#include <malloc.h>
#endif

#ifdef WIPPY_FAULTS
#include <stdatomic.h>

static _Atomic uint64_t fault_seen, fault_hits, fault_first, fault_end; /* end 0: off */

void wp_alloc_fail(uint64_t first, uint64_t count) {
  atomic_store(&fault_seen, 0);
  atomic_store(&fault_hits, 0);
  atomic_store(&fault_first, count ? first : UINT64_MAX);
  atomic_store(&fault_end, count ? first + count : UINT64_MAX);
}

uint64_t wp_alloc_counted(uint64_t *failed) {
  if (failed) *failed = atomic_load(&fault_hits);
  return atomic_load(&fault_seen);
}

/* Whether this allocation is to fail (counts it while injection is on). */
static int fault(void) {
  if (!atomic_load_explicit(&fault_end, memory_order_relaxed)) return 0;
  uint64_t k = atomic_fetch_add_explicit(&fault_seen, 1, memory_order_relaxed) + 1;
  if (k < atomic_load_explicit(&fault_first, memory_order_relaxed) ||
      k >= atomic_load_explicit(&fault_end, memory_order_relaxed))
    return 0;
  atomic_fetch_add_explicit(&fault_hits, 1, memory_order_relaxed);
  return 1;
}
#define FAULT() \
  if (fault()) return NULL
#else
#define FAULT()
#endif

#ifdef WIPPY_JEMALLOC
#include <jemalloc/jemalloc.h>

/* jemalloc's options, read once at its start (the environment's
** MALLOC_CONF, read after, overrides them). One arena for every thread,
** not jemalloc's default of four per CPU: a process's blocks are made on
** one worker and freed on another (its state is built where it first runs
** and freed where it ends), and with an arena per thread each arena kept
** the peak of its own partly used slabs (the figures: bench/RESULTS.md,
** "Memory per process"). The threads still have their caches (tcache):
** the arena's bins are locked only to refill or flush one. Unmeasured on
** many cores, where every worker's refills share those locks. */
const char *malloc_conf = "narenas:1";
#endif

#ifdef WIPPY_SANITIZED
_Thread_local int wp_alloc_spins_held;

static void no_spin(void) {
  if (wp_alloc_spins_held) {
    fputs("wippy: allocation or free under a spinlock (see sched/spin.h)\n", stderr);
    abort();
  }
}
#else
#define no_spin() ((void)0)
#endif

/* With jemalloc linked, malloc/free are jemalloc's (it replaces the libc
** ones), whose inlined thread-cache fast path mallocx/dallocx lack. */
void *wp_malloc(size_t n) {
  no_spin();
  FAULT();
  return malloc(n ? n : 1);
}

void *wp_calloc(size_t n, size_t size) {
  no_spin();
  FAULT();
  return calloc(n ? n : 1, size ? size : 1);
}

void *wp_realloc(void *p, size_t n) {
  no_spin();
  FAULT();
  return realloc(p, n ? n : 1);
}

void wp_free(void *p) {
  no_spin();
  free(p);
}

#define WP_STR_(x) #x
#define WP_STR(x) WP_STR_(x)

#ifdef WIPPY_JEMALLOC
void wp_free_sized(void *p, size_t n) {
  no_spin();
  if (p) sdallocx(p, n ? n : 1, 0);
}
const char *wp_alloc_name(void) { return "jemalloc"; }
void wp_alloc_release(void) {
  mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
  mallctl("arena." WP_STR(MALLCTL_ARENAS_ALL) ".purge", NULL, NULL, NULL, 0); /* every arena */
}
#else
void wp_free_sized(void *p, size_t n) {
  no_spin();
  (void)n;
  free(p);
}
const char *wp_alloc_name(void) { return "libc"; }
void wp_alloc_release(void) {
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  malloc_trim(0);
#endif
}
#endif

void *wp_malloc_aligned(size_t align, size_t n) { return aligned_alloc(align, n); }

char *wp_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = wp_malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}
