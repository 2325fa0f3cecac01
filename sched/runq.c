/*
** runq.c: run queues (see runq.h).
**
** Design note. The ring is FIFO for everyone: the owner takes the oldest
** process (fair between processes it woke) and a thief takes the oldest too,
** which is the one that has waited longest. A worker looks at its own ring,
** then the inject queue, then steals from the others in turn starting after
** itself (sched.c). Concurrency Kit's loads are volatile and inline assembly,
** which ThreadSanitizer cannot see; under TSan this file is built without
** instrumentation and publishes each hand-off explicitly with
** __tsan_release (before the enqueue) and __tsan_acquire (after a dequeue).
*/
#include "runq.h"

#include "alloc.h"

#ifdef WIPPY_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
#define HANDOFF_RELEASE(p) __tsan_release(p)
#define HANDOFF_ACQUIRE(p) __tsan_acquire(p)
#define CK_BEGIN() __tsan_ignore_thread_begin()
#define CK_END() __tsan_ignore_thread_end()
#else
#define HANDOFF_RELEASE(p) ((void)0)
#define HANDOFF_ACQUIRE(p) ((void)0)
#define CK_BEGIN() ((void)0)
#define CK_END() ((void)0)
#endif

int wp_runq_init(struct wp_runq *q, unsigned size) {
  q->buf = wp_calloc(size, sizeof *q->buf);
  if (!q->buf) return WP_ENOMEM;
  ck_ring_init(&q->ring, size);
  return 0;
}

void wp_runq_destroy(struct wp_runq *q) {
  wp_free(q->buf);
  q->buf = NULL;
}

bool wp_runq_push_owner(struct wp_runq *q, struct wp_proc *p) {
  HANDOFF_RELEASE(p);
  CK_BEGIN();
  bool ok = ck_ring_enqueue_spmc(&q->ring, q->buf, p);
  CK_END();
  return ok;
}

struct wp_proc *wp_runq_pop_owner(struct wp_runq *q) {
  void *p;
  CK_BEGIN();
  bool ok = ck_ring_dequeue_spmc(&q->ring, q->buf, &p);
  CK_END();
  if (!ok) return NULL;
  HANDOFF_ACQUIRE(p);
  return p;
}

struct wp_proc *wp_runq_steal(struct wp_runq *q) {
  void *p;
  CK_BEGIN();
  bool ok = ck_ring_trydequeue_spmc(&q->ring, q->buf, &p);
  CK_END();
  if (!ok) return NULL;
  HANDOFF_ACQUIRE(p);
  return p;
}

unsigned wp_runq_size(const struct wp_runq *q) { return ck_ring_size(&q->ring); }

void wp_injectq_init(struct wp_injectq *q) {
  pthread_mutex_init(&q->lock, NULL);
  q->head = q->tail = NULL;
  atomic_init(&q->len, 0);
}

void wp_injectq_destroy(struct wp_injectq *q) { pthread_mutex_destroy(&q->lock); }

void wp_injectq_push(struct wp_injectq *q, struct wp_proc *p) {
  p->qnext = NULL;
  pthread_mutex_lock(&q->lock);
  if (q->tail)
    q->tail->qnext = p;
  else
    q->head = p;
  q->tail = p;
  atomic_fetch_add_explicit(&q->len, 1, memory_order_release);
  pthread_mutex_unlock(&q->lock);
}

struct wp_proc *wp_injectq_pop(struct wp_injectq *q) {
  if (wp_injectq_len(q) == 0) return NULL;
  pthread_mutex_lock(&q->lock);
  struct wp_proc *p = q->head;
  if (p) {
    q->head = p->qnext;
    if (!q->head) q->tail = NULL;
    atomic_fetch_sub_explicit(&q->len, 1, memory_order_relaxed);
  }
  pthread_mutex_unlock(&q->lock);
  return p;
}
