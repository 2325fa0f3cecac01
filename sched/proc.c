/* proc.c: process blocks, the state word and relations (design in proc.h). */
#include "proc.h"

#include <string.h>

#include "alloc.h"
#include "scheduler.h"

#define PROC_SIZE ((sizeof(struct wp_proc) + 15u) & ~(size_t)15u)

struct wp_proc *wp_proc_new(struct wp_sched *s, void *host) {
  return wp_proc_new_ext(s, host, 0);
}

struct wp_proc *wp_proc_new_ext(struct wp_sched *s, void *host, size_t extra) {
  struct wp_proc *p = wp_calloc(1, PROC_SIZE + extra);
  if (!p) return NULL;
  if (extra) p->vm = (char *)p + PROC_SIZE;
  atomic_init(&p->state, WP_PS_IDLE);
  atomic_init(&p->refs, 1);
  atomic_init(&p->kill, WP_KILL_NONE);
  p->sched = s;
  p->host = host;
  p->pid = p->pid_inl;
  wp_mbox_init(&p->mbox);
  pthread_mutex_init(&p->lock, NULL);
  return p;
}

char *wp_proc_pid_alloc(struct wp_proc *p, size_t n) {
  if (n <= sizeof p->pid_inl) {
    if (p->pid != p->pid_inl) wp_free(p->pid);
    return p->pid = p->pid_inl;
  }
  char *b = wp_malloc(n);
  if (!b) return NULL;
  if (p->pid != p->pid_inl) wp_free(p->pid);
  return p->pid = b;
}

void wp_proc_release(struct wp_proc *p) {
  if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1) return;
  wp_sched_free_proc_vm(p->sched, p);
  wp_mbox_drain(&p->mbox);
  wp_hlist_free(&p->monitors);
  wp_hlist_free(&p->links);
  while (p->names) {
    struct wp_name_ref *n = p->names;
    p->names = n->next;
    wp_free(n);
  }
  pthread_mutex_destroy(&p->lock);
  if (p->pid != p->pid_inl) wp_free(p->pid);
  wp_free(p);
}

void wp_proc_wake(struct wp_proc *p) {
  /* seq_cst load after the caller's seq_cst push (see proc.h) */
  uint32_t s = atomic_load_explicit(&p->state, memory_order_seq_cst);
  for (;;) {
    switch (s) {
      case WP_PS_IDLE:
        if (atomic_compare_exchange_weak_explicit(&p->state, &s, WP_PS_RUNNABLE,
                                                  memory_order_acq_rel,
                                                  memory_order_acquire)) {
          wp_sched_enqueue(p->sched, p);
          return;
        }
        break;
      case WP_PS_RUNNING:
        if (atomic_compare_exchange_weak_explicit(&p->state, &s, WP_PS_NOTIFIED,
                                                  memory_order_acq_rel,
                                                  memory_order_acquire))
          return;
        break;
      default: /* RUNNABLE, NOTIFIED or DEAD: nothing to do */
        return;
    }
  }
}

void wp_proc_deliver(struct wp_proc *p, struct wp_msg *m) {
  wp_mbox_push_mp(&p->mbox, m);
  wp_sched_count_delivery(p->sched);
  wp_proc_wake(p);
}

void wp_proc_kill(struct wp_proc *p, int reason) {
  int none = WP_KILL_NONE;
  atomic_compare_exchange_strong(&p->kill, &none, reason);
  wp_proc_wake(p);
  /* a running process must notice even if it never blocks or is preempted */
  uint32_t st = atomic_load(&p->state);
  if (st == WP_PS_RUNNING || st == WP_PS_NOTIFIED) wp_sched_preempt(p);
}

/* ---- handle lists ---- */

static int hlist_find(const struct wp_hlist *l, wp_handle h) {
  for (uint32_t i = 0; i < l->n; i++)
    if (l->v[i] == h) return (int)i;
  return -1;
}

static int hlist_add(struct wp_hlist *l, wp_handle h) {
  if (l->cap == 0) {
    l->v = &l->inl;
    l->cap = 1;
  }
  if (l->n == l->cap) {
    uint32_t cap = l->cap < 4 ? 4 : l->cap * 2;
    wp_handle *v = l->v == &l->inl ? wp_malloc(cap * sizeof *v)
                                   : wp_realloc(l->v, cap * sizeof *v);
    if (!v) return WP_ENOMEM;
    if (l->v == &l->inl) v[0] = l->inl;
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = h;
  return 0;
}

/* Moves a list out of a process (the inline slot moves with it). */
static void hlist_move(struct wp_hlist *dst, struct wp_hlist *src) {
  *dst = *src;
  if (dst->v == &src->inl) dst->v = &dst->inl;
  memset(src, 0, sizeof *src);
}

static void hlist_del(struct wp_hlist *l, wp_handle h) {
  int i = hlist_find(l, h);
  if (i >= 0) l->v[i] = l->v[--l->n];
}

void wp_hlist_free(struct wp_hlist *l) {
  if (l->v != &l->inl) wp_free(l->v);
  l->v = NULL;
  l->n = l->cap = 0;
}

/* ---- relations ---- */

int wp_proc_monitor(struct wp_proc *target, wp_handle watcher) {
  int rc;
  pthread_mutex_lock(&target->lock);
  if (target->dead)
    rc = WP_EDEAD;
  else if (hlist_find(&target->monitors, watcher) >= 0)
    rc = WP_EEXIST;
  else
    rc = hlist_add(&target->monitors, watcher);
  pthread_mutex_unlock(&target->lock);
  return rc;
}

void wp_proc_unmonitor(struct wp_proc *target, wp_handle watcher) {
  pthread_mutex_lock(&target->lock);
  hlist_del(&target->monitors, watcher);
  pthread_mutex_unlock(&target->lock);
}

/* Locks two processes in address order (no deadlock between two linkers). */
static void lock2(struct wp_proc *a, struct wp_proc *b) {
  if (a < b) {
    pthread_mutex_lock(&a->lock);
    pthread_mutex_lock(&b->lock);
  } else {
    pthread_mutex_lock(&b->lock);
    pthread_mutex_lock(&a->lock);
  }
}

static void unlock2(struct wp_proc *a, struct wp_proc *b) {
  pthread_mutex_unlock(&a->lock);
  pthread_mutex_unlock(&b->lock);
}

int wp_proc_link(struct wp_proc *a, struct wp_proc *b) {
  if (a == b) return 0;
  int rc = 0;
  lock2(a, b);
  if (a->dead || b->dead) {
    rc = WP_EDEAD;
  } else if (hlist_find(&a->links, b->handle) < 0) {
    rc = hlist_add(&a->links, b->handle);
    if (rc == 0 && (rc = hlist_add(&b->links, a->handle)) != 0)
      hlist_del(&a->links, b->handle);
  }
  unlock2(a, b);
  return rc;
}

void wp_proc_unlink(struct wp_proc *a, struct wp_proc *b) {
  if (a == b) return;
  lock2(a, b);
  hlist_del(&a->links, b->handle);
  hlist_del(&b->links, a->handle);
  unlock2(a, b);
}

int wp_proc_exit_begin(struct wp_proc *p, struct wp_hlist *mons,
                       struct wp_hlist *links, struct wp_name_ref **names) {
  pthread_mutex_lock(&p->lock);
  if (p->dead) {
    pthread_mutex_unlock(&p->lock);
    return WP_EDEAD;
  }
  p->dead = 1;
  hlist_move(mons, &p->monitors);
  hlist_move(links, &p->links);
  *names = p->names;
  p->names = NULL;
  pthread_mutex_unlock(&p->lock);
  return 0;
}

int wp_proc_remote_add(struct wp_proc *p, int (*add)(void *arg), void *arg) {
  pthread_mutex_lock(&p->lock);
  int rc = p->dead ? WP_EDEAD : add(arg);
  if (rc == 0) p->remote = 1;
  pthread_mutex_unlock(&p->lock);
  return rc;
}

void wp_proc_forget_link(struct wp_proc *b, wp_handle gone) {
  pthread_mutex_lock(&b->lock);
  hlist_del(&b->links, gone);
  pthread_mutex_unlock(&b->lock);
}

/* ---- views (the control endpoint) ---- */

static int hlist_copy(struct wp_hlist *dst, const struct wp_hlist *src) {
  for (uint32_t i = 0; i < src->n; i++)
    if (hlist_add(dst, src->v[i]) != 0) return WP_ENOMEM;
  return 0;
}

int wp_proc_relations(struct wp_proc *p, struct wp_hlist *links, struct wp_hlist *mons,
                      void (*name)(void *ud, const char *s, size_t len), void *ud,
                      int *remote) {
  int rc = 0;
  pthread_mutex_lock(&p->lock);
  if (p->dead) {
    rc = WP_EDEAD;
  } else {
    rc = hlist_copy(links, &p->links);
    if (rc == 0) rc = hlist_copy(mons, &p->monitors);
    for (struct wp_name_ref *n = p->names; rc == 0 && n && name; n = n->next)
      name(ud, n->name, n->len);
    *remote = p->remote;
  }
  pthread_mutex_unlock(&p->lock);
  return rc;
}

int wp_proc_has_monitor(struct wp_proc *target, wp_handle watcher) {
  pthread_mutex_lock(&target->lock);
  int r = hlist_find(&target->monitors, watcher) >= 0;
  pthread_mutex_unlock(&target->lock);
  return r;
}
