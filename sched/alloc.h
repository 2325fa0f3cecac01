/*
** alloc.h: the runtime's allocator switch (jemalloc or libc).
** Sanitizer builds always use libc: jemalloc's mallocx/sdallocx disagree with
** ASan's interceptors.
*/
#ifndef WP_ALLOC_H
#define WP_ALLOC_H

#include <stddef.h>
#include <stdint.h>

/* Returns NULL on failure; wp_malloc(0) may return NULL. */
void *wp_malloc(size_t n);
void *wp_calloc(size_t n, size_t size);
/* Like realloc: on failure returns NULL and leaves p untouched. */
void *wp_realloc(void *p, size_t n);
/* Frees p (NULL is fine). */
void wp_free(void *p);
/* Frees p whose size is known exactly (sized deallocation under jemalloc). */
void wp_free_sized(void *p, size_t n);
/* n bytes aligned to `align` (a power of two, n a multiple of it); freed
** with wp_free only. NULL on failure. */
void *wp_malloc_aligned(size_t align, size_t n);
/* Hands memory the allocator keeps cached back to the system: the calling
** thread's cache, then every arena's unused pages (jemalloc's purge;
** malloc_trim under glibc). Costs a system call per arena: call it after
** a large amount was freed, not per free. A no-op under sanitizers. */
void wp_alloc_release(void);
/* Duplicates a NUL-terminated string; NULL on failure. */
char *wp_strdup(const char *s);
/* Allocator name for diagnostics: "jemalloc" or "libc". */
const char *wp_alloc_name(void);

#ifdef WIPPY_FAULTS
/* Fault injection (Debug builds, for tests): from this call on, allocations
** are counted (wp_malloc, wp_calloc, wp_realloc, from 1), and numbers first
** to first + count - 1 fail. count 0: only count. Any thread. */
void wp_alloc_fail(uint64_t first, uint64_t count);
/* Allocations counted since wp_alloc_fail, and how many of them failed. */
uint64_t wp_alloc_counted(uint64_t *failed);
#endif

#ifdef WIPPY_SANITIZED
/* Spinlocks (spin.h) this thread holds. Sanitizer builds (CI runs every
** test under them) count them, and every function above aborts when called
** while one is held: whoever waits for a spinlock burns its CPU for as long
** as the holder spends in the allocator. */
extern _Thread_local int wp_alloc_spins_held;
#endif

#endif
