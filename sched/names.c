/*
** names.c: the local name registry (see names.h).
**
** A chained hash under one mutex: registration is rare next to messaging, and
** lookups return the bound process's pid counter, so no reference escapes
** the lock. Lock
** order: the registry lock, then a process lock (to check it is alive and
** record the name in its list, so the name dies with it).
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
  wp_spin lock; /* spin.h: lookups on every send by name */
  struct binding **b;
  size_t nb, count;
};

struct wp_names *wp_names_new(void) {
  struct wp_names *n = wp_calloc(1, sizeof *n);
  if (!n) return NULL;
  wp_spin_init(&n->lock);
  return n;
}

void wp_names_free(struct wp_names *n) {
  if (!n) return;
  for (size_t i = 0; i < n->nb; i++) {
    struct binding *e = n->b[i];
    while (e) {
      struct binding *next = e->next;
      wp_free(e);
      e = next;
    }
  }
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

static int grow(struct wp_names *n) {
  size_t nb = n->nb ? n->nb * 2 : 64;
  struct binding **b = wp_calloc(nb, sizeof *b);
  if (!b) return WP_ENOMEM;
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
  wp_free(n->b);
  n->b = b;
  n->nb = nb;
  return 0;
}

int wp_names_register(struct wp_names *n, const char *name, size_t len,
                      struct wp_proc *p) {
  int rc = 0;
  wp_spin_lock(&n->lock);
  struct binding **pp = find(n, name, len);
  if (pp && *pp) {
    rc = (*pp)->counter == p->counter ? 0 : WP_ENAMETAKEN;
    wp_spin_unlock(&n->lock);
    return rc;
  }
  if (n->count >= n->nb && grow(n)) {
    wp_spin_unlock(&n->lock);
    return WP_ENOMEM;
  }
  struct binding *e = wp_malloc(sizeof *e + len + 1);
  struct wp_name_ref *ref = wp_malloc(sizeof *ref + len + 1);
  if (!e || !ref) {
    wp_free(e);
    wp_free(ref);
    wp_spin_unlock(&n->lock);
    return WP_ENOMEM;
  }
  e->counter = p->counter;
  e->len = len;
  memcpy(e->name, name, len);
  e->name[len] = '\0';
  memcpy(ref->name, name, len);
  ref->name[len] = '\0';
  ref->len = len;
  pthread_mutex_lock(&p->lock);
  int have = 0;
  for (struct wp_name_ref *r = p->names; r && !have; r = r->next)
    have = r->len == len && memcmp(r->name, name, len) == 0;
  if (p->dead) {
    rc = WP_EDEAD;
  } else if (!have) {
    ref->next = p->names;
    p->names = ref;
    ref = NULL;
  }
  pthread_mutex_unlock(&p->lock);
  wp_free(ref); /* not needed: the process records this name already */
  if (rc) {
    wp_free(e);
  } else {
    pp = find(n, name, len);
    e->next = NULL;
    *pp = e;
    n->count++;
  }
  wp_spin_unlock(&n->lock);
  return rc;
}

int wp_names_unregister(struct wp_names *n, const char *name, size_t len) {
  wp_spin_lock(&n->lock);
  struct binding **pp = find(n, name, len);
  int removed = 0;
  if (pp && *pp) {
    struct binding *e = *pp;
    *pp = e->next;
    n->count--;
    wp_free(e);
    removed = 1;
  }
  wp_spin_unlock(&n->lock);
  return removed;
}

uint64_t wp_names_lookup(struct wp_names *n, const char *name, size_t len) {
  uint64_t c = 0;
  wp_spin_lock(&n->lock);
  struct binding **pp = find(n, name, len);
  if (pp && *pp) c = (*pp)->counter;
  wp_spin_unlock(&n->lock);
  return c;
}

void wp_names_release(struct wp_names *n, struct wp_name_ref *list, uint64_t counter) {
  if (!list) return;
  wp_spin_lock(&n->lock);
  while (list) {
    struct wp_name_ref *next = list->next;
    struct binding **pp = find(n, list->name, list->len);
    if (pp && *pp && (*pp)->counter == counter) {
      struct binding *e = *pp;
      *pp = e->next;
      n->count--;
      wp_free(e);
    }
    wp_free(list);
    list = next;
  }
  wp_spin_unlock(&n->lock);
}
