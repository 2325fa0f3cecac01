/* msg.c: see msg.h. */
#include "msg.h"

#include <string.h>

#include "alloc.h"

struct wp_msg *wp_msg_new(uint32_t kind, const char *from, size_t from_len,
                          const char *topic, size_t topic_len,
                          const void *payload, size_t len) {
  if (from_len > UINT16_MAX || topic_len > UINT16_MAX) return NULL;
  size_t total = sizeof(struct wp_msg) + from_len + 1 + topic_len + 1 + len;
  if (total < len) return NULL;
  struct wp_msg *m = wp_malloc(total);
  if (!m) return NULL;
  atomic_init(&m->node.next, NULL);
  m->kind = kind;
  m->from_len = (uint16_t)from_len;
  m->topic_len = (uint16_t)topic_len;
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

struct wp_msg *wp_msg_clone(const struct wp_msg *m) {
  size_t n = wp_msg_size(m);
  struct wp_msg *c = wp_malloc(n);
  if (!c) return NULL;
  memcpy(c, m, n);
  atomic_init(&c->node.next, NULL);
  return c;
}

void wp_msg_free(struct wp_msg *m) {
  if (m) wp_free_sized(m, wp_msg_size(m));
}
