/* test_names.c: the local name registry (sched/names.c). */
#include "test.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "names.h"
#include "ptab.h"

/* Processes without a scheduler: the registry never wakes anyone. */
static struct wp_proc *mkproc(uint64_t counter) {
  struct wp_proc *p = wp_proc_new(NULL, NULL);
  ASSERT(p != NULL);
  p->counter = counter;
  int n = snprintf(p->pid, WP_PID_INLINE, "{app:host|0x%05" PRIx64 "}", counter);
  p->pid_len = (uint32_t)n;
  return p;
}

static int reg(struct wp_names *n, const char *name, struct wp_proc *p) {
  return wp_names_register(n, name, strlen(name), p);
}

static uint64_t look(struct wp_names *n, const char *name) {
  return wp_names_lookup(n, name, strlen(name));
}

static int unreg(struct wp_names *n, const char *name) {
  return wp_names_unregister(n, name, strlen(name));
}

/* The names recorded on a process (its wp_name_ref list). */
static int held(struct wp_proc *p, const char *name) {
  int k = 0;
  pthread_mutex_lock(&p->lock);
  for (struct wp_name_ref *r = p->names; r; r = r->next) k += strcmp(r->name, name) == 0;
  pthread_mutex_unlock(&p->lock);
  return k;
}

/* Runs the exit path for p's names as the VM does. */
static void exit_proc(struct wp_names *n, struct wp_proc *p) {
  struct wp_hlist mons, links;
  struct wp_name_ref *names;
  ASSERT_EQ(wp_proc_exit_begin(p, &mons, &links, &names), 0);
  wp_hlist_free(&mons);
  wp_hlist_free(&links);
  wp_names_release(n, names, p->counter);
}

TEST(register_lookup_unregister) {
  struct wp_names *n = wp_names_new();
  ASSERT(n != NULL);
  struct wp_proc *a = mkproc(5), *b = mkproc(6);
  ASSERT_EQ(look(n, "svc"), 0); /* empty registry */
  ASSERT_EQ(unreg(n, "svc"), 0);
  ASSERT_EQ(reg(n, "svc", a), 0);
  ASSERT_EQ(reg(n, "other", b), 0);
  ASSERT_EQ(held(a, "svc"), 1);
  ASSERT_EQ(look(n, "svc"), 5);
  ASSERT_EQ(look(n, "other"), 6);
  /* lookups are by the exact bytes */
  ASSERT_EQ(look(n, "sv"), 0);
  ASSERT_EQ(look(n, "svc2"), 0);
  ASSERT_EQ(look(n, "SVC"), 0);
  ASSERT_EQ(wp_names_lookup(n, "svcX", 3), 5); /* length decides */
  ASSERT_EQ(unreg(n, "svc"), 1);
  ASSERT_EQ(unreg(n, "svc"), 0);
  ASSERT_EQ(look(n, "svc"), 0);
  ASSERT_EQ(look(n, "other"), 6);
  /* after unregistering, anyone may take the name */
  ASSERT_EQ(reg(n, "svc", b), 0);
  ASSERT_EQ(look(n, "svc"), 6);
  /* the empty name is a name like any other */
  ASSERT_EQ(wp_names_register(n, "", 0, a), 0);
  ASSERT_EQ(wp_names_lookup(n, "", 0), 5);
  wp_names_free(n);
  wp_proc_release(a);
  wp_proc_release(b);
  return 0;
}

TEST(same_process_idempotent) {
  struct wp_names *n = wp_names_new();
  struct wp_proc *a = mkproc(9);
  ASSERT_EQ(reg(n, "x", a), 0);
  ASSERT_EQ(reg(n, "x", a), 0);
  ASSERT_EQ(reg(n, "x", a), 0);
  ASSERT_EQ(held(a, "x"), 1); /* recorded once */
  ASSERT_EQ(look(n, "x"), 9);
  ASSERT_EQ(unreg(n, "x"), 1);
  ASSERT_EQ(unreg(n, "x"), 0); /* one binding only */
  wp_names_free(n);
  wp_proc_release(a);
  return 0;
}

TEST(name_taken) {
  struct wp_names *n = wp_names_new();
  struct wp_proc *a = mkproc(1), *b = mkproc(2);
  ASSERT_EQ(reg(n, "x", a), 0);
  ASSERT_EQ(reg(n, "x", b), WP_ENAMETAKEN);
  ASSERT_EQ(held(b, "x"), 0);
  ASSERT_EQ(look(n, "x"), 1);
  /* a process may hold many names */
  ASSERT_EQ(reg(n, "y", a), 0);
  ASSERT_EQ(reg(n, "z", a), 0);
  ASSERT_EQ(look(n, "y"), 1);
  ASSERT_EQ(look(n, "z"), 1);
  wp_names_free(n);
  wp_proc_release(a);
  wp_proc_release(b);
  return 0;
}

TEST(dead_process_refused) {
  struct wp_names *n = wp_names_new();
  struct wp_proc *a = mkproc(3);
  exit_proc(n, a);
  ASSERT_EQ(reg(n, "late", a), WP_EDEAD);
  ASSERT_EQ(look(n, "late"), 0);
  ASSERT_EQ(held(a, "late"), 0);
  wp_names_free(n);
  wp_proc_release(a);
  return 0;
}

TEST(released_on_exit) {
  struct wp_names *n = wp_names_new();
  struct wp_proc *a = mkproc(10), *b = mkproc(11);
  ASSERT_EQ(reg(n, "a1", a), 0);
  ASSERT_EQ(reg(n, "a2", a), 0);
  ASSERT_EQ(reg(n, "b1", b), 0);
  exit_proc(n, a);
  ASSERT_EQ(look(n, "a1"), 0);
  ASSERT_EQ(look(n, "a2"), 0);
  ASSERT_EQ(look(n, "b1"), 11);
  ASSERT(a->names == NULL); /* moved to the exit list and consumed */
  wp_names_free(n);
  wp_proc_release(a);
  wp_proc_release(b);
  return 0;
}

/* Between wp_proc_exit_begin and wp_names_release a name may change hands;
** the release must leave the new owner's binding alone. */
TEST(release_only_own_bindings) {
  struct wp_names *n = wp_names_new();
  struct wp_proc *a = mkproc(20), *b = mkproc(21);
  ASSERT_EQ(reg(n, "keep", a), 0);
  ASSERT_EQ(reg(n, "moved", a), 0);
  ASSERT_EQ(reg(n, "gone", a), 0);
  struct wp_hlist mons, links;
  struct wp_name_ref *names;
  ASSERT_EQ(wp_proc_exit_begin(a, &mons, &links, &names), 0);
  ASSERT(names != NULL);
  /* meanwhile: "moved" is unregistered and taken by b, "gone" is just
  ** unregistered */
  ASSERT_EQ(unreg(n, "moved"), 1);
  ASSERT_EQ(reg(n, "moved", b), 0);
  ASSERT_EQ(unreg(n, "gone"), 1);
  wp_names_release(n, names, a->counter);
  wp_hlist_free(&mons);
  wp_hlist_free(&links);
  ASSERT_EQ(look(n, "keep"), 0);
  ASSERT_EQ(look(n, "moved"), 21);
  ASSERT_EQ(look(n, "gone"), 0);
  wp_names_release(n, NULL, a->counter); /* an empty list is fine */
  wp_names_free(n);
  wp_proc_release(a);
  wp_proc_release(b);
  return 0;
}

/* Names are byte strings with a length: one with an embedded NUL must be
** released on exit like any other (wp_name_ref keeps no length and the
** release looks it up with strlen, so the binding outlives its process). */
TEST(embedded_nul_released) {
  struct wp_names *n = wp_names_new();
  struct wp_proc *a = mkproc(30);
  static const char nm[] = {'a', '\0', 'b'};
  ASSERT_EQ(wp_names_register(n, nm, 3, a), 0);
  ASSERT_EQ(wp_names_lookup(n, nm, 3), 30);
  ASSERT_EQ(wp_names_lookup(n, nm, 1), 0); /* "a" is another name */
  exit_proc(n, a);
  uint64_t c = wp_names_lookup(n, nm, 3);
  if (c != 0) fprintf(stderr, "# BUG: name \"a\\0b\" still bound to exited process %" PRIu64 "\n", c);
  ASSERT_EQ(c, 0);
  wp_names_free(n);
  wp_proc_release(a);
  return 0;
}

/*
** A process that registers, unregisters and registers a name again, over
** and over, must not accumulate records of it: wp_names_unregister leaves
** the process's wp_name_ref behind and each new registration adds another,
** so p->names grows without bound until the process exits.
*/
TEST(reregister_does_not_grow) {
  struct wp_names *n = wp_names_new();
  struct wp_proc *a = mkproc(40);
  for (int i = 0; i < 1000; i++) {
    ASSERT_EQ(reg(n, "toggle", a), 0);
    ASSERT_EQ(look(n, "toggle"), 40);
    ASSERT_EQ(unreg(n, "toggle"), 1);
  }
  ASSERT_EQ(reg(n, "toggle", a), 0);
  int k = held(a, "toggle");
  if (k > 1) fprintf(stderr, "# BUG: %d records of one name on the process\n", k);
  ASSERT_EQ(k, 1);
  exit_proc(n, a);
  ASSERT_EQ(look(n, "toggle"), 0);
  wp_names_free(n);
  wp_proc_release(a);
  return 0;
}

/* Registry growth: thousands of names over many processes. */
TEST(many_names) {
  enum { P = 50, K = 100 };
  struct wp_names *n = wp_names_new();
  struct wp_proc *v[P];
  for (int i = 0; i < P; i++) v[i] = mkproc((uint64_t)i + 100);
  char buf[32];
  for (int k = 0; k < K; k++)
    for (int i = 0; i < P; i++) {
      snprintf(buf, sizeof buf, "n%d.%d", i, k);
      ASSERT_EQ(reg(n, buf, v[i]), 0);
    }
  for (int k = 0; k < K; k++)
    for (int i = 0; i < P; i++) {
      snprintf(buf, sizeof buf, "n%d.%d", i, k);
      ASSERT_EQ(look(n, buf), i + 100);
    }
  for (int i = 0; i < P; i += 2) exit_proc(n, v[i]);
  for (int k = 0; k < K; k++)
    for (int i = 0; i < P; i++) {
      snprintf(buf, sizeof buf, "n%d.%d", i, k);
      ASSERT_EQ(look(n, buf), i % 2 ? i + 100 : 0);
    }
  wp_names_free(n); /* frees the bindings still held */
  for (int i = 0; i < P; i++) wp_proc_release(v[i]); /* and their name lists */
  return 0;
}

/* ---- threads racing for one name: exactly one wins ---- */

struct race {
  struct wp_names *n;
  struct wp_proc *p[4];
  _Atomic int go;
  _Atomic int wins[4];
};

struct race_arg {
  struct race *r;
  int i;
};

static void *racer(void *arg) {
  struct race_arg *a = arg;
  struct race *r = a->r;
  while (!atomic_load(&r->go)) sched_yield();
  char buf[32];
  for (int k = 0; k < 2000; k++) {
    snprintf(buf, sizeof buf, "race%d", k);
    int rc = reg(r->n, buf, r->p[a->i]);
    if (rc == 0)
      atomic_fetch_add(&r->wins[a->i], 1);
    else
      ASSERT_EQ(rc, WP_ENAMETAKEN);
  }
  return NULL;
}

TEST(concurrent_register) {
  static struct race r;
  memset(&r, 0, sizeof r);
  r.n = wp_names_new();
  pthread_t th[4];
  struct race_arg args[4];
  for (int i = 0; i < 4; i++) r.p[i] = mkproc((uint64_t)i + 1);
  for (int i = 0; i < 4; i++) {
    args[i].r = &r;
    args[i].i = i;
    ASSERT_EQ(pthread_create(&th[i], NULL, racer, &args[i]), 0);
  }
  atomic_store(&r.go, 1);
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  int total = 0;
  for (int i = 0; i < 4; i++) total += atomic_load(&r.wins[i]);
  ASSERT_EQ(total, 2000);
  char buf[32];
  for (int k = 0; k < 2000; k++) {
    snprintf(buf, sizeof buf, "race%d", k);
    uint64_t c = look(r.n, buf);
    ASSERT(c >= 1 && c <= 4);
    ASSERT_EQ(held(r.p[c - 1], buf), 1);
  }
  wp_names_free(r.n);
  for (int i = 0; i < 4; i++) wp_proc_release(r.p[i]);
  return 0;
}

TEST_LIST = {
  TEST_ENTRY(register_lookup_unregister),
  TEST_ENTRY(same_process_idempotent),
  TEST_ENTRY(name_taken),
  TEST_ENTRY(dead_process_refused),
  TEST_ENTRY(released_on_exit),
  TEST_ENTRY(release_only_own_bindings),
  TEST_ENTRY(embedded_nul_released),
  TEST_ENTRY(reregister_does_not_grow),
  TEST_ENTRY(many_names),
  TEST_ENTRY(concurrent_register),
  TEST_END
};
