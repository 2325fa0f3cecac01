/* buf.c: see buf.h. */
#include "buf.h"

#include <string.h>

#include "alloc.h"
#include "wp.h"

int wp_buf_reserve(struct wp_buf *b, size_t extra) {
  if (b->cap - b->len >= extra) return 0;
  size_t need = b->len + extra;
  if (need < b->len) return WP_ENOMEM;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) {
    if (cap > SIZE_MAX / 2) return WP_ENOMEM;
    cap *= 2;
  }
  uint8_t *d = wp_realloc(b->data, cap);
  if (!d) return WP_ENOMEM;
  b->data = d;
  b->cap = cap;
  return 0;
}

int wp_buf_append(struct wp_buf *b, const void *p, size_t n) {
  if (wp_buf_reserve(b, n)) return WP_ENOMEM;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

void wp_buf_free(struct wp_buf *b) {
  wp_free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
