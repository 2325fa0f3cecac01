/*
** msg.c: see msg.h.
**
** The reserve: WP_MSG_RESERVE blocks of WP_MSG_RESERVE_BYTES in one
** allocation made at start, kept on a lock-free stack of block indices. The
** stack head packs a tag with the index, so a pop that raced with a pop and
** a push of the same block fails its compare-and-swap (no ABA).
*/
#include "msg.h"

#include <pthread.h>
#include <string.h>

#include "alloc.h"

static char *reserve;                         /* the blocks, or NULL */
static _Atomic uint32_t reserve_next[WP_MSG_RESERVE]; /* stack links (index + 1) */
static _Atomic uint64_t reserve_head;         /* tag << 32 | (index + 1); 0 = empty */
static pthread_once_t reserve_once = PTHREAD_ONCE_INIT;

static void reserve_push(uint32_t i) {
  uint64_t h = atomic_load_explicit(&reserve_head, memory_order_relaxed), n;
  do {
    atomic_store_explicit(&reserve_next[i], (uint32_t)h, memory_order_relaxed);
    n = ((h >> 32) + 1) << 32 | (i + 1);
  } while (!atomic_compare_exchange_weak_explicit(&reserve_head, &h, n, memory_order_release,
                                                  memory_order_relaxed));
}

static void *reserve_pop(void) {
  uint64_t h = atomic_load_explicit(&reserve_head, memory_order_acquire), n;
  do {
    if ((uint32_t)h == 0) return NULL;
    n = ((h >> 32) + 1) << 32 |
        atomic_load_explicit(&reserve_next[(uint32_t)h - 1], memory_order_relaxed);
  } while (!atomic_compare_exchange_weak_explicit(&reserve_head, &h, n, memory_order_acquire,
                                                  memory_order_acquire));
  return reserve + (size_t)((uint32_t)h - 1) * WP_MSG_RESERVE_BYTES;
}

static void reserve_make(void) {
  reserve = wp_malloc((size_t)WP_MSG_RESERVE * WP_MSG_RESERVE_BYTES);
  if (reserve)
    for (uint32_t i = 0; i < WP_MSG_RESERVE; i++) reserve_push(i);
}

int wp_msg_reserve_init(void) {
  pthread_once(&reserve_once, reserve_make);
  return reserve ? 0 : -1;
}

/* Fills a message header and body in m (total bytes already checked). */
static struct wp_msg *fill(struct wp_msg *m, uint32_t kind, const char *from, size_t from_len,
                           const char *topic, size_t topic_len, const void *payload,
                           size_t len) {
  atomic_init(&m->node.next, NULL);
  m->kind = kind;
  m->from_len = (uint32_t)from_len;
  m->topic_len = (uint32_t)topic_len;
  m->flags = 0;
  m->aux = 0;
  m->at = 0;
  m->len = len;
  char *p = m->data;
  if (from_len) memcpy(p, from, from_len);
  p[from_len] = '\0';
  p += from_len + 1;
  if (topic_len) memcpy(p, topic, topic_len);
  p[topic_len] = '\0';
  p += topic_len + 1;
  if (payload && len) memcpy(p, payload, len);
  return m;
}

struct wp_msg *wp_msg_new(uint32_t kind, const char *from, size_t from_len,
                          const char *topic, size_t topic_len,
                          const void *payload, size_t len) {
  if (from_len > UINT32_MAX || topic_len > UINT32_MAX) return NULL;
  size_t total = sizeof(struct wp_msg) + from_len + 1 + topic_len + 1 + len;
  if (total < len) return NULL;
  struct wp_msg *m = wp_malloc(total);
  if (!m) return NULL;
  return fill(m, kind, from, from_len, topic, topic_len, payload, len);
}

struct wp_msg *wp_msg_new_sys(uint32_t kind, const char *from, size_t from_len,
                              const char *topic, size_t topic_len,
                              const void *payload, size_t len,
                              const void *fallback, size_t fallback_len) {
  struct wp_msg *m = wp_msg_new(kind, from, from_len, topic, topic_len, payload, len);
  if (m) return m;
  if (payload != fallback || len != fallback_len) {
    m = wp_msg_new(kind, from, from_len, topic, topic_len, fallback, fallback_len);
    if (m) return m;
  }
  if (sizeof(struct wp_msg) + from_len + 1 + topic_len + 1 + fallback_len > WP_MSG_RESERVE_BYTES)
    return NULL;
  m = reserve_pop();
  if (!m) return NULL;
  return fill(m, kind, from, from_len, topic, topic_len, fallback, fallback_len);
}

struct wp_msg *wp_msg_clone(const struct wp_msg *m) {
  size_t n = wp_msg_size(m);
  struct wp_msg *c = wp_malloc(n);
  if (!c) return NULL;
  memcpy(c, m, n);
  atomic_init(&c->node.next, NULL);
  return c;
}

void wp_msg_free(struct wp_msg *m) {
  if (!m) return;
  uintptr_t off = (uintptr_t)m - (uintptr_t)reserve; /* huge when m is below it */
  if (reserve && off < (uintptr_t)WP_MSG_RESERVE * WP_MSG_RESERVE_BYTES)
    reserve_push((uint32_t)(off / WP_MSG_RESERVE_BYTES));
  else
    wp_free_sized(m, wp_msg_size(m));
}
