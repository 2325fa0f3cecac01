/*
** mailbox.c: intrusive MPSC queue (Vyukov's design) on C11 atomics.
**
** Design note. Producers append by exchanging `head` with their node and then
** linking the previous head to it; the consumer walks from `tail` following
** `next` links. Between a producer's exchange and its link store the chain is
** momentarily broken: the consumer then sees "empty" and returns NULL. That is
** safe here because every producer wakes the owning process *after* its push
** completes (wp_proc_wake), so a message that was invisible is seen on the
** next run. A stub node keeps the queue non-empty so that no producer ever
** touches `tail`. C11 atomics (not ck_stack) keep the hand-off visible to TSan.
**
** In-transit messages are owned by the mailbox; once taken they belong to the
** process (spec: "in transit" vs "received", as in ERTS's signal queue).
*/
#include "mailbox.h"

void wp_mbox_init(struct wp_mbox *mb) {
  atomic_init(&mb->stub.next, NULL);
  atomic_init(&mb->head, &mb->stub);
  mb->tail = &mb->stub;
}

static void push_node(struct wp_mbox *mb, struct wp_mnode *n) {
  atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
  struct wp_mnode *prev = atomic_exchange_explicit(&mb->head, n, memory_order_seq_cst);
  /* seq_cst: this link is what the owner reads, and the waker's next step
  ** is to load the owner's state (store buffering, see proc.h): a release
  ** store could pass that load, and the wake-up would be lost. */
  atomic_store_explicit(&prev->next, n, memory_order_seq_cst);
}

void wp_mbox_push_mp(struct wp_mbox *mb, struct wp_msg *m) { push_node(mb, &m->node); }

struct wp_msg *wp_mbox_take_sc(struct wp_mbox *mb) {
  struct wp_mnode *tail = mb->tail;
  /* seq_cst: pairs with the RUNNING store (proc.h, store buffering) */
  struct wp_mnode *next = atomic_load_explicit(&tail->next, memory_order_seq_cst);
  if (tail == &mb->stub) {
    if (next == NULL) return NULL;
    mb->tail = next;
    tail = next;
    next = atomic_load_explicit(&next->next, memory_order_acquire);
  }
  if (next) {
    mb->tail = next;
    return (struct wp_msg *)tail;
  }
  /* tail is the last linked node: it can be returned only if no producer is
  ** mid-push behind it, so re-insert the stub after it first. */
  if (tail != atomic_load_explicit(&mb->head, memory_order_acquire)) return NULL;
  push_node(mb, &mb->stub);
  next = atomic_load_explicit(&tail->next, memory_order_acquire);
  if (next) {
    mb->tail = next;
    return (struct wp_msg *)tail;
  }
  return NULL;
}

void wp_mbox_drain(struct wp_mbox *mb) {
  struct wp_msg *m;
  while ((m = wp_mbox_take_sc(mb)) != NULL) wp_msg_free(m);
}
