/*
** names.c: the local name registry (see names.h).
**
** A chained hash under one spinlock (spin.h): lookups run on every send by
** name. A binding holds the name and its process's pid counter; lookups
** return the counter, which the process table maps to the process, so no
** reference escapes the lock.
**
** Nothing but loads and stores happens under the spinlock: a binding is
** allocated before the lock is taken and freed after it is released, and
** the bucket array grows the same way (reserve). Lock order: a process's
** lock (a mutex, to check it is alive and record the name in its list, so
** the name dies with it), then the registry's spinlock.
*/
#include "names.h"

#include <pthread.h>
#include <string.h>

#include "alloc.h"
#include "spin.h"

struct binding {
  struct binding *next;
  uint64_t counter;
  size_t len;
  char name[];
};

struct wp_names {
  wp_spin lock;
  struct binding **b;
  size_t nb, count;
};

struct wp_names *wp_names_new(void) {
  struct wp_names *n = wp_calloc(1, sizeof *n);
  if (!n) return NULL;
  wp_spin_init(&n->lock);
  return n;
}

static void free_bindings(struct binding *e) {
  while (e) {
    struct binding *next = e->next;
    wp_free(e);
    e = next;
  }
}

void wp_names_free(struct wp_names *n) {
  if (!n) return;
  for (size_t i = 0; i < n->nb; i++) free_bindings(n->b[i]);
  wp_free(n->b);
  wp_free(n);
}

static size_t hash_str(const char *s, size_t len) {
  size_t h = 14695981039346656037ULL;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
  return h;
}

static struct binding **find(struct wp_names *n, const char *name, size_t len) {
  if (!n->nb) return NULL;
  struct binding **pp = &n->b[hash_str(name, len) & (n->nb - 1)];
  while (*pp && ((*pp)->len != len || memcmp((*pp)->name, name, len) != 0))
    pp = &(*pp)->next;
  return pp;
}

/* Makes room for one more binding: a larger bucket array is allocated with
** the lock released, filled under it (unless another thread grew the array
** meanwhile) and the old one freed after it. Called without the lock. 0 or
** WP_ENOMEM. */
static int reserve(struct wp_names *n) {
  struct binding **b = NULL; /* a larger array, or the one it replaced */
  size_t nb = 0;
  wp_spin_lock(&n->lock);
  while (n->count >= n->nb) {
    size_t want = n->nb ? n->nb * 2 : 64;
    if (b && nb == want) {
      for (size_t i = 0; i < n->nb; i++) {
        struct binding *e = n->b[i];
        while (e) {
          struct binding *next = e->next;
          size_t j = hash_str(e->name, e->len) & (nb - 1);
          e->next = b[j];
          b[j] = e;
          e = next;
        }
      }
      struct binding **old = n->b;
      n->b = b;
      n->nb = nb;
      b = old;
      break;
    }
    wp_spin_unlock(&n->lock);
    wp_free(b);
    b = wp_calloc(want, sizeof *b);
    nb = want;
    if (!b) return WP_ENOMEM;
    wp_spin_lock(&n->lock);
  }
  wp_spin_unlock(&n->lock);
  wp_free(b);
  return 0;
}

int wp_names_register(struct wp_names *n, const char *name, size_t len,
                      struct wp_proc *p) {
  struct binding *e = wp_malloc(sizeof *e + len + 1);
  struct wp_name_ref *ref = wp_malloc(sizeof *ref + len + 1);
  if (!e || !ref) {
    wp_free(e);
    wp_free(ref);
    return WP_ENOMEM;
  }
  e->counter = p->counter;
  e->len = len;
  memcpy(e->name, name, len);
  e->name[len] = '\0';
  memcpy(ref->name, name, len);
  ref->name[len] = '\0';
  ref->len = len;
  int rc = 0, full;
  do {
    if (reserve(n)) {
      rc = WP_ENOMEM;
      break;
    }
    pthread_mutex_lock(&p->lock);
    full = 0;
    if (p->dead) {
      rc = WP_EDEAD;
    } else {
      wp_spin_lock(&n->lock);
      struct binding **pp = find(n, name, len);
      if (pp && *pp) {
        rc = (*pp)->counter == p->counter ? 0 : WP_ENAMETAKEN;
      } else if (n->count >= n->nb) {
        full = 1; /* another registration took the room reserve made */
      } else {
        e->next = NULL;
        *pp = e;
        e = NULL;
        n->count++;
      }
      wp_spin_unlock(&n->lock);
    }
    if (!e) { /* bound now: the process records the name unless it has it */
      int have = 0;
      for (struct wp_name_ref *r = p->names; r && !have; r = r->next)
        have = r->len == len && memcmp(r->name, name, len) == 0;
      if (!have) {
        ref->next = p->names;
        p->names = ref;
        ref = NULL;
      }
    }
    pthread_mutex_unlock(&p->lock);
  } while (full);
  wp_free(e);
  wp_free(ref);
  return rc;
}

int wp_names_unregister(struct wp_names *n, const char *name, size_t len) {
  struct binding *e = NULL;
  wp_spin_lock(&n->lock);
  struct binding **pp = find(n, name, len);
  if (pp && *pp) {
    e = *pp;
    *pp = e->next;
    n->count--;
  }
  wp_spin_unlock(&n->lock);
  wp_free(e);
  return e != NULL;
}

uint64_t wp_names_lookup(struct wp_names *n, const char *name, size_t len) {
  uint64_t c = 0;
  wp_spin_lock(&n->lock);
  struct binding **pp = find(n, name, len);
  if (pp && *pp) c = (*pp)->counter;
  wp_spin_unlock(&n->lock);
  return c;
}

static void release_list(struct wp_names *n, struct wp_name_ref *list, uint64_t counter);

void wp_names_release(struct wp_names *n, struct wp_name_ref *list, uint64_t counter) {
  if (list) release_list(n, list, counter); /* most processes hold no name */
}

__attribute__((noinline)) static void release_list(struct wp_names *n,
                                                   struct wp_name_ref *list,
                                                   uint64_t counter) {
  struct binding *gone = NULL; /* freed after the lock */
  wp_spin_lock(&n->lock);
  for (struct wp_name_ref *r = list; r; r = r->next) {
    struct binding **pp = find(n, r->name, r->len);
    if (pp && *pp && (*pp)->counter == counter) {
      struct binding *e = *pp;
      *pp = e->next;
      n->count--;
      e->next = gone;
      gone = e;
    }
  }
  wp_spin_unlock(&n->lock);
  free_bindings(gone);
  while (list) {
    struct wp_name_ref *next = list->next;
    wp_free(list);
    list = next;
  }
}
