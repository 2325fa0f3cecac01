/*
** msg.h: the message envelope.
**
** A message is one allocation: the header, then the sender's pid string, the
** topic and the payload bytes (an encoded value buffer, opaque to sched/).
** Exactly one party owns a message at any time: its creator until it is
** pushed, the receiving mailbox while in transit, then the receiver, which
** frees it with wp_msg_free() once decoded.
*/
#ifndef WP_MSG_H
#define WP_MSG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum wp_msg_kind {
  WP_MSG_USER = 0,   /* process.send: topic + payload values */
  WP_MSG_EXIT,       /* monitor notification; payload = encoded result */
  WP_MSG_LINK_DOWN,  /* link notification; payload = encoded result */
  WP_MSG_CANCEL,     /* cancel request; topic = reason */
  WP_MSG_TIMER,      /* a timer fired; aux = timer id */
  WP_MSG_IO,         /* terminal input; aux = status, payload = line bytes */
  WP_MSG_REPLY,      /* runtime reply (exec/funcs); aux = request id */
  WP_MSG_EVENT       /* an event of the bus (vm/evbus.c): topic = system, payload =
                        encoded kind, path [, data]; aux = subscription id */
};

/* Mailbox link: first member of every message. */
struct wp_mnode {
  _Atomic(struct wp_mnode *) next;
};

struct wp_msg {
  struct wp_mnode node;
  uint32_t kind;       /* enum wp_msg_kind */
  uint32_t from_len;   /* sender pid string length ("" = unknown) */
  uint32_t topic_len;  /* topic length */
  uint32_t flags;      /* kind-specific (result is abnormal, ...) */
  uint64_t aux;        /* kind-specific integer */
  int64_t at;          /* creation time, Unix seconds (events) */
  size_t len;          /* payload bytes */
  char data[];         /* from NUL topic NUL payload */
};

#define WP_MSG_F_ABNORMAL 1u /* EXIT/LINK_DOWN: the result carries an error */

/* Allocates a message with room for `len` payload bytes (left uninitialised
** unless `payload` is given, which is copied). from/topic are copied. NULL on
** allocation failure or when from/topic exceed UINT32_MAX bytes. */
struct wp_msg *wp_msg_new(uint32_t kind, const char *from, size_t from_len,
                          const char *topic, size_t topic_len,
                          const void *payload, size_t len);
/* A system message (EXIT, LINK_DOWN, CANCEL, TIMER, IO, REPLY) that must
** arrive even when memory runs out: a lost EXIT leaves a monitor waiting
** for ever. Tries wp_msg_new; failing that, again with `fallback` as the
** payload (a smaller message, e.g. none: "the result was lost"); failing
** that, takes a block from a reserve made at start. A reserve block goes
** back to the reserve when freed. NULL only when the reserve is empty too
** (more than WP_MSG_RESERVE such messages in flight while allocation fails)
** or from + topic + fallback exceed a reserve block. Payloads are borrowed
** (copied). */
struct wp_msg *wp_msg_new_sys(uint32_t kind, const char *from, size_t from_len,
                              const char *topic, size_t topic_len,
                              const void *payload, size_t len,
                              const void *fallback, size_t fallback_len);
#define WP_MSG_RESERVE 256
#define WP_MSG_RESERVE_BYTES 256 /* header + from + topic + fallback */
/* Makes the reserve (idempotent, thread-safe). 0, or -1 out of memory. */
int wp_msg_reserve_init(void);
/* Copies a message (consumes nothing). NULL on allocation failure. */
struct wp_msg *wp_msg_clone(const struct wp_msg *m);
/* Frees a message (consumes it). NULL is fine. */
void wp_msg_free(struct wp_msg *m);

static inline const char *wp_msg_from(const struct wp_msg *m) { return m->data; }
static inline const char *wp_msg_topic(const struct wp_msg *m) {
  return m->data + m->from_len + 1;
}
static inline uint8_t *wp_msg_payload(struct wp_msg *m) {
  return (uint8_t *)m->data + m->from_len + 1 + m->topic_len + 1;
}
static inline size_t wp_msg_size(const struct wp_msg *m) {
  return sizeof *m + m->from_len + 1u + m->topic_len + 1u + m->len;
}

#endif
