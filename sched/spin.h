/*
** spin.h: a test-and-test-and-set spinlock on C11 atomics.
**
** For the short critical sections on every spawn, exit and send (process
** table shards, the free-slot stack, the name table): a few loads and
** stores. An uncontended lock and unlock is one exchange and one release
** store, against two atomic read-modify-writes and a branch into libc for
** a pthread mutex, on paths every message takes. A waiter spins on a plain load (the line stays
** shared until the holder releases it) and yields the CPU after a while,
** so a holder preempted by the kernel does not stall the waiter for its
** whole time slice. Plain C11 atomics, so TSan sees the synchronisation
** (pitfalls: ck's inline assembly it does not).
**
** The rule for every holder: loads, stores and atomics only; no allocation
** or free, no mutex, no system call (allocate before, free after).
** Sanitizer builds count the spinlocks a thread holds and the allocator
** aborts when called under one (alloc.h).
*/
#ifndef WP_SPIN_H
#define WP_SPIN_H

#include <sched.h>
#include <stdatomic.h>

#include "alloc.h"

typedef struct {
  atomic_int v;
} wp_spin;

#define WP_SPIN_INIT {0}

static inline void wp_spin_init(wp_spin *s) { atomic_init(&s->v, 0); }

static inline void wp_spin_lock(wp_spin *s) {
  while (atomic_exchange_explicit(&s->v, 1, memory_order_acquire)) {
    for (int n = 0; atomic_load_explicit(&s->v, memory_order_relaxed); n++) {
      if (n < 128) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      } else {
        sched_yield();
        n = 0;
      }
    }
  }
#ifdef WIPPY_SANITIZED
  wp_alloc_spins_held++;
#endif
}

static inline void wp_spin_unlock(wp_spin *s) {
#ifdef WIPPY_SANITIZED
  wp_alloc_spins_held--;
#endif
  atomic_store_explicit(&s->v, 0, memory_order_release);
}

#endif
