/*
** ptab.c: the process table (see ptab.h).
**
** Design note. Slots live in chunks of 64Ki entries allocated on demand; the
** chunk directory never moves, so a slot's address is stable. Lookups lock
** one of 256 shards (spin.h) (by slot, or by counter for the pid hash) just
** long enough to take a reference.
**
** Handles never repeat. A handle is the slot index (low IDX_BITS bits) and
** the slot's generation (the 39 bits above, from 1). A slot holds its
** process and that process's handle; when the process leaves, the slot's
** handle moves on to the next generation, which the slot's next process
** gets. When a slot's last generation has been used the slot is retired: it
** never returns to the free stack, so no handle value is ever issued twice
** and a stale handle (a monitor, a link or a timer of a process long gone)
** can never reach a newer process. The bound: a slot serves 2^39 - 1
** processes, about 6 days of churn on one slot at a million spawns a
** second; the 2^25 slots together serve 2^64 - 2^25 processes, about
** 580,000 years at that rate. A retired slot costs its 16 bytes. Free slot
** indices form a stack under `free_lock` (LIFO: the slot reused next is the
** one whose cache lines are warmest); its capacity grows with the slots
** handed out, so a release never allocates.
**
** The pid hash is open-addressed (linear probing, at most 3/4 full): each
** entry holds the counter beside the process pointer, so a lookup reads the
** table and then only the process it finds, and an unlink reads only the
** table. With chains through the processes, both walked other processes'
** blocks, each a cache miss when thousands of processes take turns.
**
** No allocation or free happens under a spinlock (spin.h): a new chunk, a
** larger free stack or a larger hash table is allocated before the lock is
** taken and the one it replaces freed after it is released.
*/
#include "ptab.h"

#include <string.h>

#include "alloc.h"
#include "spin.h"

#define CHUNK_BITS 16
#define CHUNK_SIZE (1u << CHUNK_BITS)
#define IDX_BITS WP_PTAB_IDX_BITS
#define MAX_CHUNKS (1u << (IDX_BITS - CHUNK_BITS)) /* 512 chunks: 32M slots */
#define MAX_SLOTS (MAX_CHUNKS * CHUNK_SIZE)
#define IDX_MASK ((wp_handle)MAX_SLOTS - 1)
#define GEN_ONE ((wp_handle)1 << IDX_BITS) /* one generation step */
#define NSHARDS 256

_Static_assert(MAX_SLOTS == (1u << IDX_BITS), "slot indices fill IDX_BITS");

struct slot {
  struct wp_proc *p;
  wp_handle handle; /* p's handle; while empty, the next one (0: never used) */
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
  uint32_t *free_v; /* room for every slot handed out (free_cap >= next_slot) */
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
  for (unsigned i = 0; i < MAX_CHUNKS; i++) wp_free(atomic_load(&t->chunks[i]));
  for (int i = 0; i < NSHARDS; i++) wp_free(t->hash_shards[i].tab);
  wp_free(t->free_v);
  wp_free(t);
}

uint64_t wp_ptab_next_counter(struct wp_ptab *t) {
  return atomic_fetch_add_explicit(&t->counter, 1, memory_order_relaxed) + 1;
}

void wp_ptab_seed_counter(struct wp_ptab *t, uint64_t last) {
  atomic_store_explicit(&t->counter, last, memory_order_relaxed);
}

uint64_t wp_ptab_counter(struct wp_ptab *t) {
  return atomic_load_explicit(&t->counter, memory_order_relaxed);
}

uint64_t wp_ptab_count(struct wp_ptab *t) {
  return atomic_load_explicit(&t->live, memory_order_relaxed);
}

static struct slot *slot_at(struct wp_ptab *t, uint32_t idx) {
  struct slot *c = atomic_load_explicit(&t->chunks[idx >> CHUNK_BITS], memory_order_acquire);
  return c ? &c[idx & (CHUNK_SIZE - 1)] : NULL;
}

/* Pops a free slot index or extends the table. -1 when full or out of
** memory. Extending into a new chunk allocates the chunk and a free stack
** with room for its slots with the lock released, then tries again. */
static int64_t slot_alloc(struct wp_ptab *t) {
  struct slot *chunk = NULL;
  uint32_t *fv = NULL;
  uint32_t fcap = 0;
  int64_t idx = -1;
  for (;;) {
    wp_spin_lock(&t->free_lock);
    if (t->free_n) {
      idx = t->free_v[--t->free_n];
      break;
    }
    if (t->next_slot >= MAX_SLOTS) break;
    uint32_t c = t->next_slot >> CHUNK_BITS;
    if (atomic_load_explicit(&t->chunks[c], memory_order_relaxed)) {
      idx = t->next_slot++;
      break;
    }
    if (chunk && fcap == (c + 1) * CHUNK_SIZE) { /* ours, made for this chunk */
      uint32_t *old = t->free_v; /* empty (free_n is 0): nothing to copy */
      t->free_v = fv;
      t->free_cap = fcap;
      fv = old;
      atomic_store_explicit(&t->chunks[c], chunk, memory_order_release);
      chunk = NULL;
      idx = t->next_slot++;
      break;
    }
    wp_spin_unlock(&t->free_lock);
    wp_free(chunk);
    wp_free(fv);
    fcap = (c + 1) * CHUNK_SIZE;
    chunk = wp_calloc(CHUNK_SIZE, sizeof(struct slot));
    fv = wp_malloc(fcap * sizeof *fv);
    if (!chunk || !fv) {
      wp_free(chunk);
      wp_free(fv);
      return -1;
    }
  }
  wp_spin_unlock(&t->free_lock);
  if (chunk) wp_free(chunk); /* another thread added the chunk meanwhile */
  if (fv) wp_free(fv);       /* (not called for NULL: this is on every spawn) */
  return idx;
}

/* Returns an empty slot to the free stack, unless it is retired (its
** handle has run through every generation). Never allocates: the stack has
** room for every slot handed out. */
static void slot_release(struct wp_ptab *t, uint32_t idx, wp_handle next) {
  if (next < GEN_ONE) return; /* retired: the generation wrapped to 0 */
  wp_spin_lock(&t->free_lock);
  t->free_v[t->free_n++] = idx;
  wp_spin_unlock(&t->free_lock);
}

/* Empties a slot (its shard locked) and moves its handle to the next
** generation. Returns that handle (below GEN_ONE when the slot retires). */
static wp_handle slot_vacate(struct slot *sl) {
  sl->p = NULL;
  sl->handle += GEN_ONE;
  return sl->handle;
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

/* Inserts p into its hash shard, growing the shard's table past 3/4 full:
** the larger table is allocated with the lock released, filled under it
** (unless another thread grew the table meanwhile) and the old one freed
** after it. 0 or WP_ENOMEM. */
static int hash_put(struct shard *sh, struct wp_proc *p) {
  struct hent *tab = NULL; /* a larger table, or the one it replaced */
  uint32_t nc = 0;
  wp_spin_lock(&sh->lock);
  while ((sh->count + 1) * 4 > sh->cap * 3) {
    if (tab && nc == (sh->cap ? sh->cap * 2 : 64)) {
      for (uint32_t i = 0; i < sh->cap; i++)
        if (sh->tab[i].p) hash_place(tab, nc, sh->tab[i].counter, sh->tab[i].p);
      struct hent *old = sh->tab;
      sh->tab = tab;
      sh->cap = nc;
      tab = old;
      break;
    }
    nc = sh->cap ? sh->cap * 2 : 64;
    wp_spin_unlock(&sh->lock);
    wp_free(tab);
    tab = wp_calloc(nc, sizeof *tab);
    if (!tab) return WP_ENOMEM;
    wp_spin_lock(&sh->lock);
  }
  hash_place(sh->tab, sh->cap, p->counter, p);
  sh->count++;
  wp_spin_unlock(&sh->lock);
  if (tab) wp_free(tab);
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

int wp_ptab_insert(struct wp_ptab *t, struct wp_proc *p) {
  int64_t idx = slot_alloc(t);
  if (idx < 0) return WP_ELIMIT;
  /* the handle first: whoever finds p by its pid may use p->handle at once */
  struct shard *ss = &t->slot_shards[idx & (NSHARDS - 1)];
  struct slot *sl = slot_at(t, (uint32_t)idx);
  wp_spin_lock(&ss->lock);
  if (!sl->handle) sl->handle = GEN_ONE | (wp_handle)idx; /* first use: generation 1 */
  sl->p = p;
  p->handle = sl->handle;
  wp_spin_unlock(&ss->lock);
  uint32_t h = hash_counter(p->counter);
  int rc = hash_put(&t->hash_shards[h & (NSHARDS - 1)], p);
  if (rc) {
    wp_spin_lock(&ss->lock);
    wp_handle next = slot_vacate(sl);
    wp_spin_unlock(&ss->lock);
    slot_release(t, (uint32_t)idx, next);
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
  uint32_t idx = (uint32_t)(p->handle & IDX_MASK);
  struct shard *ss = &t->slot_shards[idx & (NSHARDS - 1)];
  struct slot *sl = slot_at(t, idx);
  wp_spin_lock(&ss->lock);
  wp_handle next = slot_vacate(sl);
  wp_spin_unlock(&ss->lock);
  slot_release(t, idx, next);
  atomic_fetch_sub_explicit(&t->live, 1, memory_order_relaxed);
}

void wp_ptab_remove(struct wp_ptab *t, struct wp_proc *p) {
  wp_ptab_unlink(t, p);
  wp_proc_release(p);
}

struct wp_proc *wp_ptab_get(struct wp_ptab *t, wp_handle hd) {
  uint32_t idx = (uint32_t)(hd & IDX_MASK);
  struct shard *ss = &t->slot_shards[idx & (NSHARDS - 1)];
  struct wp_proc *p = NULL;
  wp_spin_lock(&ss->lock);
  struct slot *sl = slot_at(t, idx);
  if (sl && sl->p && sl->handle == hd) {
    p = sl->p;
    wp_proc_retain(p);
  }
  wp_spin_unlock(&ss->lock);
  return p;
}

int wp_ptab_age_slot(struct wp_ptab *t, wp_handle stale, uint64_t n) {
  uint32_t idx = (uint32_t)(stale & IDX_MASK);
  struct shard *ss = &t->slot_shards[idx & (NSHARDS - 1)];
  int rc = WP_EINVAL;
  wp_spin_lock(&ss->lock);
  struct slot *sl = slot_at(t, idx);
  if (sl && !sl->p && sl->handle > stale) {
    uint64_t left = (~(wp_handle)0 - sl->handle) >> IDX_BITS; /* generations after this one */
    sl->handle += (n < left ? n : left) * GEN_ONE;
    rc = 0;
  }
  wp_spin_unlock(&ss->lock);
  return rc;
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
