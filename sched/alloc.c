/* alloc.c: wp_malloc over jemalloc or libc (see alloc.h). */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

#ifdef WIPPY_JEMALLOC
#include <jemalloc/jemalloc.h>

/* jemalloc's malloc/free (it replaces the libc ones when linked) have an
** inlined thread-cache fast path that mallocx/dallocx lack. */
void *wp_malloc(size_t n) { return malloc(n ? n : 1); }
void *wp_calloc(size_t n, size_t size) { return calloc(n ? n : 1, size ? size : 1); }
void *wp_realloc(void *p, size_t n) { return realloc(p, n ? n : 1); }
void wp_free(void *p) { free(p); }
void wp_free_sized(void *p, size_t n) {
  if (p) sdallocx(p, n ? n : 1, 0);
}
const char *wp_alloc_name(void) { return "jemalloc"; }
#else
void *wp_malloc(size_t n) { return malloc(n ? n : 1); }
void *wp_calloc(size_t n, size_t size) { return calloc(n ? n : 1, size ? size : 1); }
void *wp_realloc(void *p, size_t n) { return realloc(p, n ? n : 1); }
void wp_free(void *p) { free(p); }
void wp_free_sized(void *p, size_t n) {
  (void)n;
  free(p);
}
const char *wp_alloc_name(void) { return "libc"; }
#endif

char *wp_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = wp_malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}
