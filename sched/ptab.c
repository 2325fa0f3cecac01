/*
** ptab.c: the process table (see ptab.h).
**
** Design note. Slots live in chunks of 64Ki entries allocated on demand; the
** chunk directory never moves, so a slot's address is stable. A slot holds
** the process pointer and a generation that is bumped when the slot is freed;
** handles carry the generation they were issued with. Free slot indices form
** a stack under `free_lock`. Lookups lock one of 256 shards (spin.h) (by slot, or by
** counter for the pid hash) just long enough to take a reference.
**
** The pid hash is open-addressed (linear probing, at most 3/4 full): each
** entry holds the counter beside the process pointer, so a lookup reads the
** table and then only the process it finds, and an unlink reads only the
** table. With chains through the processes, both walked other processes'
** blocks, each a cache miss when thousands of processes take turns.
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

struct hent { /* a pid-hash entry; p == NULL: empty */
  uint64_t counter;
  struct wp_proc *p;
};

struct shard {
  wp_spin lock;
  struct hent *tab; /* pid hash (hash shards only): cap entries, a power of two */
  uint32_t cap, count;
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
  for (int i = 0; i < NSHARDS; i++) wp_free(t->hash_shards[i].tab);
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

/* The home index of hash h in a table of cap entries. */
static inline uint32_t hash_home(uint32_t h, uint32_t cap) { return (h >> 8) & (cap - 1); }

/* Stores (counter, p) in the first empty entry from its home. */
static void hash_place(struct hent *tab, uint32_t cap, uint64_t counter, struct wp_proc *p) {
  uint32_t i = hash_home(hash_counter(counter), cap);
  while (tab[i].p) i = (i + 1) & (cap - 1);
  tab[i].counter = counter;
  tab[i].p = p;
}

/* Inserts into a shard's table, growing it past 3/4 full. Shard locked. */
static int hash_put(struct shard *sh, struct wp_proc *p) {
  if ((sh->count + 1) * 4 > sh->cap * 3) {
    uint32_t nc = sh->cap ? sh->cap * 2 : 64;
    struct hent *tab = wp_calloc(nc, sizeof *tab);
    if (!tab) return WP_ENOMEM;
    for (uint32_t i = 0; i < sh->cap; i++)
      if (sh->tab[i].p) hash_place(tab, nc, sh->tab[i].counter, sh->tab[i].p);
    wp_free(sh->tab);
    sh->tab = tab;
    sh->cap = nc;
  }
  hash_place(sh->tab, sh->cap, p->counter, p);
  sh->count++;
  return 0;
}

/* Removes p from a shard's table; 0 if it was not there. Shard locked. The
** entries after it in its run move back where their probe allows, so no
** tombstone is left and a run never ends early. */
static int hash_del(struct shard *sh, struct wp_proc *p, uint32_t h) {
  if (!sh->cap) return 0;
  uint32_t m = sh->cap - 1, i = hash_home(h, sh->cap);
  while (sh->tab[i].p != p) {
    if (!sh->tab[i].p) return 0;
    i = (i + 1) & m;
  }
  for (uint32_t j = i;;) {
    j = (j + 1) & m;
    if (!sh->tab[j].p) break;
    uint32_t k = hash_home(hash_counter(sh->tab[j].counter), sh->cap);
    /* entry j may fill the hole at i unless its home lies in (i, j] */
    if (i <= j ? (i < k && k <= j) : (i < k || k <= j)) continue;
    sh->tab[i] = sh->tab[j];
    i = j;
  }
  sh->tab[i].p = NULL;
  sh->count--;
  return 1;
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
  int rc = hash_put(hs, p);
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
  wp_spin_lock(&hs->lock);
  int found = hash_del(hs, p, h);
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
  if (hs->cap) {
    uint32_t m = hs->cap - 1;
    for (uint32_t i = hash_home(h, hs->cap); hs->tab[i].p; i = (i + 1) & m) {
      if (hs->tab[i].counter == counter) {
        p = hs->tab[i].p;
        wp_proc_retain(p);
        break;
      }
    }
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
