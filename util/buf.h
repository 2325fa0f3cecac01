/* buf.h: a growable byte buffer over wp_malloc. */
#ifndef WP_BUF_H
#define WP_BUF_H

#include <stddef.h>
#include <stdint.h>

struct wp_buf {
  uint8_t *data;
  size_t len, cap;
};

#define WP_BUF_INIT {NULL, 0, 0}

/* Ensures room for `extra` more bytes. 0 or WP_ENOMEM (buffer unchanged). */
int wp_buf_reserve(struct wp_buf *b, size_t extra);
/* Appends n bytes (borrowed). 0 or WP_ENOMEM. */
int wp_buf_append(struct wp_buf *b, const void *p, size_t n);
/* Frees the storage and resets the buffer to empty. */
void wp_buf_free(struct wp_buf *b);

#endif
