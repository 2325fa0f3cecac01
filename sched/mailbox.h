/*
** mailbox.h: a process's MPSC message queue.
**
** Any thread may push (wp_mbox_push_mp); only the owning process, while it
** runs, takes (wp_mbox_take_sc). Order per sender is preserved (FIFO overall).
*/
#ifndef WP_MAILBOX_H
#define WP_MAILBOX_H

#include "msg.h"

struct wp_mbox {
  _Atomic(struct wp_mnode *) head; /* producers exchange here */
  struct wp_mnode *tail;           /* consumer-private */
  struct wp_mnode stub;
};

/* Initialises an empty mailbox. */
void wp_mbox_init(struct wp_mbox *mb);
/* Appends m; consumes m. Any thread. */
void wp_mbox_push_mp(struct wp_mbox *mb, struct wp_msg *m);
/* Removes the oldest message, or returns NULL when empty. A push that is still
** half-way through may be invisible for a moment; its pusher wakes the owner
** afterwards, so the owner never sleeps on it. Owner only. The caller owns
** the returned message. */
struct wp_msg *wp_mbox_take_sc(struct wp_mbox *mb);
/* 1 if nothing is visible in the mailbox (a push in progress may be missed,
** as with take). Owner only. */
static inline int wp_mbox_empty_sc(struct wp_mbox *mb) {
  return mb->tail == &mb->stub &&
         atomic_load_explicit(&mb->stub.next, memory_order_seq_cst) == NULL;
}
/* Frees every queued message. Owner only (or after the last reference). */
void wp_mbox_drain(struct wp_mbox *mb);

#endif
