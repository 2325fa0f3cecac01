/*
** runq.h: per-worker run queues and the shared inject queue.
**
** A worker's queue is a Concurrency Kit ring in SPMC mode: only the owning
** worker pushes (wp_runq_push_owner); the owner and thieves take
** (wp_runq_pop_owner, wp_runq_steal, which may fail spuriously). Threads that
** are not workers (timer, terminal, main) and owners whose ring is full push
** to the inject queue, a mutex-protected FIFO with an atomic length so that
** an empty check costs one load.
*/
#ifndef WP_RUNQ_H
#define WP_RUNQ_H

#include <ck_ring.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "proc.h"

struct wp_runq {
  struct ck_ring ring;
  struct ck_ring_buffer *buf;
};

/* size must be a power of two; the ring holds size-1 processes. 0 or WP_ENOMEM. */
int wp_runq_init(struct wp_runq *q, unsigned size);
void wp_runq_destroy(struct wp_runq *q);
/* Owner only. false when the ring is full (push to the inject queue then). */
bool wp_runq_push_owner(struct wp_runq *q, struct wp_proc *p);
/* Owner only. NULL when empty. */
struct wp_proc *wp_runq_pop_owner(struct wp_runq *q);
/* Any thread. NULL when empty or on a lost race (spurious failure). */
struct wp_proc *wp_runq_steal(struct wp_runq *q);
/* Approximate length; any thread. */
unsigned wp_runq_size(const struct wp_runq *q);

struct wp_injectq {
  pthread_mutex_t lock;
  struct wp_proc *head, *tail;
  _Atomic unsigned len;
};

void wp_injectq_init(struct wp_injectq *q);
void wp_injectq_destroy(struct wp_injectq *q);
/* Any thread. */
void wp_injectq_push(struct wp_injectq *q, struct wp_proc *p);
/* Any thread; NULL when empty. */
struct wp_proc *wp_injectq_pop(struct wp_injectq *q);
static inline unsigned wp_injectq_len(struct wp_injectq *q) {
  return atomic_load_explicit(&q->len, memory_order_relaxed);
}

#endif
