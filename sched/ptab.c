/*
** ptab.c: the process table (see ptab.h).
**
** Design note. Slots live in chunks of 64Ki entries allocated on demand; the
** chunk directory never moves, so a slot's address is stable. A slot holds
** the process pointer and a generation that is bumped when the slot is freed;
** handles carry the generation they were issued with. Free slot indices form
** a stack under `free_lock`. Lookups lock one of 256 shards (spin.h) (by slot, or by
** counter for the pid hash) just long enough to take a reference.
*/
#include "ptab.h"

#include <string.h>

#include "alloc.h"
#include "spin.h"

#define CHUNK_BITS 16
#define CHUNK_SIZE (1u << CHUNK_BITS)
#define MAX_CHUNKS 512 /* 32M processes */
#define NSHARDS 256

struct slot {
  struct wp_proc *p;
  uint32_t gen;
};

struct shard {
  wp_spin lock;
  struct wp_proc **buckets; /* counter hash chains */
  uint32_t nbuckets, count;
  char pad[WP_CACHELINE];
};

struct wp_ptab {
  _Atomic(struct slot *) chunks[MAX_CHUNKS]; /* written under free_lock, read anywhere */
  wp_spin free_lock;
  uint32_t *free_v;
  uint32_t free_n, free_cap;
  uint32_t next_slot; /* slots below this were handed out at least once */
  _Atomic uint64_t counter;
  _Atomic uint64_t live;
  struct shard slot_shards[NSHARDS];
  struct shard hash_shards[NSHARDS];
};

struct wp_ptab *wp_ptab_new(void) {
  struct wp_ptab *t = wp_calloc(1, sizeof *t);
  if (!t) return NULL;
  wp_spin_init(&t->free_lock);
  for (int i = 0; i < NSHARDS; i++) {
    wp_spin_init(&t->slot_shards[i].lock);
    wp_spin_init(&t->hash_shards[i].lock);
  }
  atomic_init(&t->counter, 0);
  atomic_init(&t->live, 0);
  return t;
}

void wp_ptab_free(struct wp_ptab *t) {
  if (!t) return;
  for (int i = 0; i < MAX_CHUNKS; i++) wp_free(atomic_load(&t->chunks[i]));
  for (int i = 0; i < NSHARDS; i++) wp_free(t->hash_shards[i].buckets);
  wp_free(t->free_v);
  wp_free(t);
}

uint64_t wp_ptab_next_counter(struct wp_ptab *t) {
  return atomic_fetch_add_explicit(&t->counter, 1, memory_order_relaxed) + 1;
}

uint64_t wp_ptab_count(struct wp_ptab *t) {
  return atomic_load_explicit(&t->live, memory_order_relaxed);
}

static struct slot *slot_at(struct wp_ptab *t, uint32_t idx) {
  struct slot *c = atomic_load_explicit(&t->chunks[idx >> CHUNK_BITS], memory_order_acquire);
  return c ? &c[idx & (CHUNK_SIZE - 1)] : NULL;
}

/* Pops a free slot index or extends the table. -1 when full or out of memory. */
static int64_t slot_alloc(struct wp_ptab *t) {
  int64_t idx = -1;
  wp_spin_lock(&t->free_lock);
  if (t->free_n) {
    idx = t->free_v[--t->free_n];
  } else if (t->next_slot < (uint32_t)MAX_CHUNKS * CHUNK_SIZE) {
    uint32_t c = t->next_slot >> CHUNK_BITS;
    struct slot *chunk = atomic_load_explicit(&t->chunks[c], memory_order_relaxed);
    if (!chunk) {
      chunk = wp_calloc(CHUNK_SIZE, sizeof(struct slot));
      atomic_store_explicit(&t->chunks[c], chunk, memory_order_release);
    }
    if (chunk) idx = t->next_slot++;
  }
  wp_spin_unlock(&t->free_lock);
  return idx;
}

static void slot_release(struct wp_ptab *t, uint32_t idx) {
  wp_spin_lock(&t->free_lock);
  if (t->free_n == t->free_cap) {
    uint32_t cap = t->free_cap ? t->free_cap * 2 : 1024;
    uint32_t *v = wp_realloc(t->free_v, cap * sizeof *v);
    if (!v) { /* leak the slot rather than fail an exit */
      wp_spin_unlock(&t->free_lock);
      return;
    }
    t->free_v = v;
    t->free_cap = cap;
  }
  t->free_v[t->free_n++] = idx;
  wp_spin_unlock(&t->free_lock);
}

static uint32_t hash_counter(uint64_t c) {
  c ^= c >> 33;
  c *= 0xff51afd7ed558ccdULL;
  c ^= c >> 33;
  return (uint32_t)c;
}

/* Inserts into a shard's chain table, growing it at load 1. Shard locked. */
static int hash_put(struct shard *sh, struct wp_proc *p, uint32_t h) {
  if (sh->count >= sh->nbuckets) {
    uint32_t nb = sh->nbuckets ? sh->nbuckets * 2 : 64;
    struct wp_proc **b = wp_calloc(nb, sizeof *b);
    if (!b) return WP_ENOMEM;
    for (uint32_t i = 0; i < sh->nbuckets; i++) {
      struct wp_proc *q = sh->buckets[i];
      while (q) {
        struct wp_proc *next = q->hnext;
        uint32_t j = (hash_counter(q->counter) >> 8) & (nb - 1);
        q->hnext = b[j];
        b[j] = q;
        q = next;
      }
    }
    wp_free(sh->buckets);
    sh->buckets = b;
    sh->nbuckets = nb;
  }
  uint32_t j = (h >> 8) & (sh->nbuckets - 1);
  p->hnext = sh->buckets[j];
  sh->buckets[j] = p;
  sh->count++;
  return 0;
}

/* Handles carry generation + 1, so no handle is ever WP_HANDLE_NONE (0). */
static wp_handle make_handle(uint32_t gen, uint32_t idx) {
  return ((wp_handle)(gen + 1u) << 32) | idx;
}

int wp_ptab_insert(struct wp_ptab *t, struct wp_proc *p) {
  int64_t idx = slot_alloc(t);
  if (idx < 0) return WP_ELIMIT;
  /* the handle first: whoever finds p by its pid may use p->handle at once */
  struct shard *ss = &t->slot_shards[idx & (NSHARDS - 1)];
  struct slot *sl = slot_at(t, (uint32_t)idx);
  wp_spin_lock(&ss->lock);
  sl->p = p;
  p->handle = make_handle(sl->gen, (uint32_t)idx);
  wp_spin_unlock(&ss->lock);
  uint32_t h = hash_counter(p->counter);
  struct shard *hs = &t->hash_shards[h & (NSHARDS - 1)];
  wp_spin_lock(&hs->lock);
  int rc = hash_put(hs, p, h);
  wp_spin_unlock(&hs->lock);
  if (rc) {
    wp_spin_lock(&ss->lock);
    sl->p = NULL;
    sl->gen++;
    wp_spin_unlock(&ss->lock);
    slot_release(t, (uint32_t)idx);
    return rc;
  }
  atomic_fetch_add_explicit(&t->live, 1, memory_order_relaxed);
  return 0;
}

void wp_ptab_unlink(struct wp_ptab *t, struct wp_proc *p) {
  uint32_t h = hash_counter(p->counter);
  struct shard *hs = &t->hash_shards[h & (NSHARDS - 1)];
  int found = 0;
  wp_spin_lock(&hs->lock);
  if (hs->nbuckets) {
    struct wp_proc **pp = &hs->buckets[(h >> 8) & (hs->nbuckets - 1)];
    while (*pp && *pp != p) pp = &(*pp)->hnext;
    if (*pp) {
      *pp = p->hnext;
      hs->count--;
      found = 1;
    }
  }
  wp_spin_unlock(&hs->lock);
  if (!found) return; /* unlinked already */
  uint32_t idx = (uint32_t)p->handle;
  struct shard *ss = &t->slot_shards[idx & (NSHARDS - 1)];
  struct slot *sl = slot_at(t, idx);
  wp_spin_lock(&ss->lock);
  if (sl->p == p) {
    sl->p = NULL;
    sl->gen++;
  }
  wp_spin_unlock(&ss->lock);
  slot_release(t, idx);
  atomic_fetch_sub_explicit(&t->live, 1, memory_order_relaxed);
}

void wp_ptab_remove(struct wp_ptab *t, struct wp_proc *p) {
  wp_ptab_unlink(t, p);
  wp_proc_release(p);
}

struct wp_proc *wp_ptab_get(struct wp_ptab *t, wp_handle hd) {
  uint32_t idx = (uint32_t)hd;
  if (idx >= (uint32_t)MAX_CHUNKS * CHUNK_SIZE) return NULL;
  struct shard *ss = &t->slot_shards[idx & (NSHARDS - 1)];
  struct wp_proc *p = NULL;
  wp_spin_lock(&ss->lock);
  struct slot *sl = slot_at(t, idx);
  if (sl && sl->p && make_handle(sl->gen, idx) == hd) {
    p = sl->p;
    wp_proc_retain(p);
  }
  wp_spin_unlock(&ss->lock);
  return p;
}

struct wp_proc *wp_ptab_get_counter(struct wp_ptab *t, uint64_t counter) {
  uint32_t h = hash_counter(counter);
  struct shard *hs = &t->hash_shards[h & (NSHARDS - 1)];
  struct wp_proc *p = NULL;
  wp_spin_lock(&hs->lock);
  if (hs->nbuckets) {
    p = hs->buckets[(h >> 8) & (hs->nbuckets - 1)];
    while (p && p->counter != counter) p = p->hnext;
    if (p) wp_proc_retain(p);
  }
  wp_spin_unlock(&hs->lock);
  return p;
}

void wp_ptab_each(struct wp_ptab *t, void (*fn)(struct wp_proc *p, void *ud), void *ud) {
  wp_spin_lock(&t->free_lock);
  uint32_t n = t->next_slot;
  wp_spin_unlock(&t->free_lock);
  for (uint32_t i = 0; i < n; i++) {
    struct shard *ss = &t->slot_shards[i & (NSHARDS - 1)];
    struct wp_proc *p = NULL;
    wp_spin_lock(&ss->lock);
    struct slot *sl = slot_at(t, i);
    if (sl && sl->p) {
      p = sl->p;
      wp_proc_retain(p);
    }
    wp_spin_unlock(&ss->lock);
    if (p) {
      fn(p, ud);
      wp_proc_release(p);
    }
  }
}
