/*
** service.c: the supervisor (see service.h; spec 06 §4-5).
**
** Design note. The supervisor has no thread of its own. Workers report a
** service process's first blocking point and its end through
** rt->service_event (services_event, under rt->lock); the main thread's loop calls
** wp_services_tick, which starts services whose dependencies are Running,
** performs the restarts that are due and enforces start timeouts. All
** service state is under rt->lock.
**
** Dependencies: requires ∪ depends_on ∪ the host a process service runs on.
** At load they are resolved and put in a topological order (a cycle or an
** unknown id is a boot error naming the entries); services start in that
** order and stop in the reverse one.
**
** Restarts: the k-th restart in a row waits
** min(initial_delay × backoff_factor^(k−1), max_delay), ± jitter. `attempts`
** counts consecutive starts; a run that lasted at least stable_threshold
** resets it (and so the exponent); with max_attempts > 0 the service stays
** Failed once `attempts` reaches it. Wippy's source waits initial_delay every
** time; we follow its documentation (docs/differences-from-wippy.md).
*/
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "duration.h"
#include "service.h"

static const char *state_name(int s) {
  static const char *const n[] = {"Unknown", "Starting", "Running", "Stopping",
                                  "Stopped", "Failed",   "Exited"};
  return n[s];
}

static void set_state(struct wp_service *s, int st) {
  if (s->state == st) return;
  s->state = st;
  wp_logf(WP_LOG_INFO, "service %s: %s", s->entry->id, state_name(st));
}

static int64_t now_ns(void) { return (int64_t)wp_clock_ns(); }

static void services_event(struct wp_rt *rt, struct wp_service *s, int ended, int abnormal,
                           int retryable);

/* ---- loading ---- */

static int get_duration(struct wp_entry *e, const struct wp_node *n, const char *key,
                        int64_t def, int64_t *out, char *err, size_t errlen) {
  const struct wp_node *v = wp_node_get(n, key);
  *out = def;
  if (!v || v->type == WP_NODE_NULL) return 0;
  if (v->type == WP_NODE_INT) {
    *out = v->u.i > 0 ? v->u.i : def;
    return 0;
  }
  const char *s = wp_node_str(v);
  const char *perr = "expected a duration string";
  int64_t ns;
  if (s && wp_duration_parse(s, v->u.str.len, &ns, &perr) == 0) {
    *out = ns > 0 ? ns : def;
    return 0;
  }
  snprintf(err, errlen, "%s:%d: entry %s: lifecycle %s: %s (use a duration such as \"500ms\")",
           e->file, v->line, e->id, key, perr);
  return -1;
}

static double get_float(const struct wp_node *n, const char *key, double def) {
  const struct wp_node *v = wp_node_get(n, key);
  double f = def;
  if (v && v->type == WP_NODE_INT) f = (double)v->u.i;
  if (v && v->type == WP_NODE_FLOAT) f = v->u.f;
  return f == 0 ? def : f;
}

static int encode_input(struct wp_service *s, const struct wp_node *input, char *err,
                        size_t errlen) {
  if (!input || input->type == WP_NODE_NULL) return 0;
  struct wp_entry *e = s->entry;
  if (input->type != WP_NODE_SEQ) {
    snprintf(err, errlen, "%s:%d: entry %s: input must be a list of arguments", e->file,
             input->line, e->id);
    return -1;
  }
  char why[256];
  if (wp_rt_args_from_node(input, &s->input, why, sizeof why) == 0) return 0;
  snprintf(err, errlen, "%s:%d: entry %s: input: %s", e->file, input->line, e->id, why);
  return -1;
}

static int load_lifecycle(struct wp_service *s, char *err, size_t errlen) {
  struct wp_entry *e = s->entry;
  const struct wp_node *lc = wp_node_get(e->data, "lifecycle");
  const struct wp_node *as = wp_node_get(lc, "auto_start");
  s->auto_start = as && as->type == WP_NODE_BOOL && as->u.b;
  const struct wp_node *rs = wp_node_get(lc, "restart");
  if (get_duration(e, lc, "start_timeout", 10000000000LL, &s->start_timeout_ns, err, errlen) ||
      get_duration(e, lc, "stop_timeout", 10000000000LL, &s->stop_timeout_ns, err, errlen) ||
      get_duration(e, lc, "stable_threshold", 5000000000LL, &s->stable_ns, err, errlen) ||
      get_duration(e, rs, "initial_delay", 1000000000LL, &s->initial_delay_ns, err, errlen) ||
      get_duration(e, rs, "max_delay", 90000000000LL, &s->max_delay_ns, err, errlen))
    return -1;
  s->backoff = get_float(rs, "backoff_factor", 2.0);
  if (s->backoff < 1) s->backoff = 1;
  s->jitter = get_float(rs, "jitter", 0.1);
  if (s->jitter < 0) s->jitter = 0;
  if (s->jitter > 1) s->jitter = 1;
  const struct wp_node *ma = wp_node_get(rs, "max_attempts");
  s->max_attempts = ma && ma->type == WP_NODE_INT && ma->u.i > 0 ? (int)ma->u.i : 0;
  return 0;
}

static struct wp_service *find_service(struct wp_rt *rt, const char *id) {
  for (struct wp_service *s = rt->services; s; s = s->next)
    if (strcmp(s->entry->id, id) == 0) return s;
  return NULL;
}

static int add_dep(struct wp_service *s, struct wp_service *d) {
  for (int i = 0; i < s->ndeps; i++)
    if (s->deps[i] == d) return 0;
  struct wp_service **v = wp_realloc(s->deps, (size_t)(s->ndeps + 1) * sizeof *v);
  if (!v) return -1;
  s->deps = v;
  v[s->ndeps++] = d;
  return 0;
}

static int load_deps(struct wp_rt *rt, struct wp_service *s, char *err, size_t errlen) {
  struct wp_entry *e = s->entry;
  const struct wp_node *lc = wp_node_get(e->data, "lifecycle");
  static const char *const keys[] = {"requires", "depends_on"};
  for (int k = 0; k < 2; k++) {
    const struct wp_node *l = wp_node_get(lc, keys[k]);
    if (!l || l->type == WP_NODE_NULL) continue;
    if (l->type != WP_NODE_SEQ) {
      snprintf(err, errlen, "%s:%d: entry %s: lifecycle.%s must be a list of entry ids",
               e->file, l->line, e->id, keys[k]);
      return -1;
    }
    for (size_t i = 0; i < l->u.seq.n; i++) {
      const char *id = wp_node_str(l->u.seq.items[i]);
      struct wp_service *d = id ? find_service(rt, id) : NULL;
      if (!d) {
        snprintf(err, errlen, "%s:%d: entry %s: lifecycle.%s names %s, which is not a "
                 "service or host entry", e->file, l->u.seq.items[i]->line, e->id, keys[k],
                 id ? id : "(not a string)");
        return -1;
      }
      if (d == s) {
        snprintf(err, errlen, "%s:%d: entry %s depends on itself", e->file,
                 l->u.seq.items[i]->line, e->id);
        return -1;
      }
      if (add_dep(s, d)) return -1;
    }
  }
  if (s->code) {
    struct wp_service *h = NULL;
    for (struct wp_service *x = rt->services; x; x = x->next)
      if (!x->code && x->host == s->host) h = x;
    if (h && add_dep(s, h)) return -1;
  }
  return 0;
}

/* Services in one dependency chain at most: bounds the recursion of visit
** and, once the services are sorted, of want. */
#define MAX_CHAIN 1000

/* Depth-first topological sort; a back edge is a cycle, reported with the
** entries on it. */
static int visit(struct wp_service *s, int *mark, struct wp_service **all, int n,
                 struct wp_service **stack, int depth, int *order, char *err, size_t errlen) {
  int i = 0;
  while (all[i] != s) i++;
  if (mark[i] == 2) return 0;
  if (mark[i] == 1) {
    size_t len = (size_t)snprintf(err, errlen, "dependency cycle: ");
    int from = depth - 1;
    while (from > 0 && stack[from] != s) from--;
    for (int k = from; k < depth && len < errlen; k++)
      len += (size_t)snprintf(err + len, errlen - len, "%s -> ", stack[k]->entry->id);
    if (len < errlen) snprintf(err + len, errlen - len, "%s", s->entry->id);
    return -1;
  }
  if (depth >= MAX_CHAIN) {
    snprintf(err, errlen, "%s:%d: entry %s: more than %d services depend on each other in a chain",
             s->entry->file, s->entry->line, s->entry->id, MAX_CHAIN);
    return -1;
  }
  mark[i] = 1;
  stack[depth] = s;
  for (int k = 0; k < s->ndeps; k++)
    if (visit(s->deps[k], mark, all, n, stack, depth + 1, order, err, errlen)) return -1;
  mark[i] = 2;
  s->topo = (*order)++;
  return 0;
}

static int sort_services(struct wp_rt *rt, char *err, size_t errlen) {
  int n = 0;
  for (struct wp_service *s = rt->services; s; s = s->next) n++;
  struct wp_service **all = wp_calloc((size_t)n + 1, sizeof *all);
  struct wp_service **stack = wp_calloc((size_t)n + 1, sizeof *stack);
  int *mark = wp_calloc((size_t)n + 1, sizeof *mark);
  int rc = -1;
  if (all && stack && mark) {
    int i = 0;
    for (struct wp_service *s = rt->services; s; s = s->next) all[i++] = s;
    int order = 0;
    rc = 0;
    for (i = 0; i < n && rc == 0; i++)
      rc = visit(all[i], mark, all, n, stack, 0, &order, err, errlen);
    if (rc == 0) { /* relink the list in dependency order */
      for (i = 0; i < n; i++) stack[all[i]->topo] = all[i];
      for (i = 0; i < n; i++) stack[i]->next = i + 1 < n ? stack[i + 1] : NULL;
      rt->services = n ? stack[0] : NULL;
    }
  } else {
    snprintf(err, errlen, "out of memory");
  }
  wp_free(all);
  wp_free(stack);
  wp_free(mark);
  return rc;
}

int wp_services_load(struct wp_rt *rt, const struct wp_entries *entries, char *err,
                      size_t errlen) {
  struct wp_service **tail = &rt->services;
  rt->service_event = services_event;
  for (size_t i = 0; i < entries->n; i++) {
    struct wp_entry *e = entries->v[i];
    int is_host = strcmp(e->kind, "process.host") == 0 || strcmp(e->kind, "terminal.host") == 0;
    if (!is_host && strcmp(e->kind, "process.service") != 0) continue;
    struct wp_service *s = wp_calloc(1, sizeof *s);
    if (!s) goto oom;
    s->entry = e;
    *tail = s;
    tail = &s->next;
    if (load_lifecycle(s, err, errlen)) return -1;
    if (is_host) {
      struct wp_host *h = wp_calloc(1, sizeof *h);
      if (!h) goto oom;
      h->entry = e;
      h->id = h->pid_host = e->id;
      h->pid_host_len = strlen(e->id);
      h->kind = e->kind[0] == 't' ? WP_HOST_TERMINAL : WP_HOST_PROCESS;
      h->next = rt->hosts;
      rt->hosts = h;
      s->host = h;
      continue;
    }
    const struct wp_node *pn = wp_node_get(e->data, "process");
    const char *proc = wp_node_str(pn);
    if (!proc) {
      snprintf(err, errlen, "%s:%d: entry %s: process.service needs `process: <ns:name>`",
               e->file, e->line, e->id);
      return -1;
    }
    char id[512];
    if (strchr(proc, ':'))
      snprintf(id, sizeof id, "%s", proc);
    else
      snprintf(id, sizeof id, "%s:%s", e->ns, proc);
    s->code = wp_rt_code(rt, id);
    if (!s->code || s->code->is_function || s->code->is_library) {
      snprintf(err, errlen, "%s:%d: entry %s: process %s is not a process.lua entry",
               e->file, pn->line, e->id, id);
      return -1;
    }
    if (encode_input(s, wp_node_get(e->data, "input"), err, errlen)) return -1;
  }
  /* hosts of services, then dependencies, once every host exists */
  for (struct wp_service *s = rt->services; s; s = s->next) {
    if (!s->code) continue;
    struct wp_entry *e = s->entry;
    const struct wp_node *hn = wp_node_get(e->data, "host");
    const char *hid = wp_node_str(hn);
    s->host = hid ? wp_rt_host(rt, hid) : NULL;
    if (!s->host) {
      snprintf(err, errlen, "%s:%d: entry %s: host %s is not a process.host or terminal.host "
               "entry", e->file, hn ? hn->line : e->line, e->id, hid ? hid : "(missing)");
      return -1;
    }
  }
  for (struct wp_service *s = rt->services; s; s = s->next)
    if (load_deps(rt, s, err, errlen)) return -1;
  return sort_services(rt, err, errlen);
oom:
  snprintf(err, errlen, "out of memory");
  return -1;
}

/* ---- starting and restarting (rt->lock held) ---- */

static struct wp_service *host_service(struct wp_rt *rt, struct wp_host *h) {
  for (struct wp_service *s = rt->services; s; s = s->next)
    if (!s->code && s->host == h) return s;
  return NULL;
}

static void host_start_locked(struct wp_rt *rt, struct wp_host *h) {
  struct wp_service *s = host_service(rt, h);
  if (s && s->state != WP_SVC_RUNNING) set_state(s, WP_SVC_STARTING);
  atomic_store(&h->stopping, 0);
  atomic_store(&h->running, 1);
  if (s) set_state(s, WP_SVC_RUNNING);
}

void wp_host_start(struct wp_rt *rt, struct wp_host *h) {
  pthread_mutex_lock(&rt->lock);
  host_start_locked(rt, h);
  pthread_mutex_unlock(&rt->lock);
}

static int deps_running(const struct wp_service *s) {
  for (int i = 0; i < s->ndeps; i++)
    if (s->deps[i]->state != WP_SVC_RUNNING) return 0;
  return 1;
}

static void svc_start(struct wp_rt *rt, struct wp_service *s) {
  if (s->restart_at_ns) s->restarts++; /* a restart after a failure was due */
  s->restart_at_ns = 0;
  if (!s->code) {
    host_start_locked(rt, s->host);
    return;
  }
  set_state(s, WP_SVC_STARTING);
  s->ready = 0;
  s->start_timed_out = 0;
  s->attempts++;
  s->started_ns = now_ns();
  const char *kind = "", *msg = "out of memory";
  struct wp_proc *child = NULL;
  int rc = wp_rt_spawn_encoded(rt, s->code->id, s->host->id, &s->input, s, &child, &kind, &msg);
  if (rc) { /* spawn errors are not retried (spec 06 §4.4) */
    wp_logf(WP_LOG_ERROR, "service %s: cannot start: %s", s->entry->id, msg);
    s->counter = 0;
    set_state(s, WP_SVC_EXITED);
    return;
  }
  s->counter = child->counter;
  wp_proc_release(child);
}

/* The k-th restart's delay: min(initial × factor^(k−1), max) ± jitter. */
static int64_t restart_delay(const struct wp_service *s, int k) {
  double d = (double)s->initial_delay_ns * pow(s->backoff, k - 1);
  if (d > (double)s->max_delay_ns) d = (double)s->max_delay_ns;
  static _Thread_local uint64_t seed;
  if (!seed) seed = wp_clock_ns() | 1;
  seed ^= seed << 13;
  seed ^= seed >> 7;
  seed ^= seed << 17;
  double u = (double)(seed >> 11) / 9007199254740992.0 * 2 - 1; /* [-1, 1) */
  d *= 1 + s->jitter * u;
  return d < 0 ? 0 : (int64_t)d;
}

static void services_event(struct wp_rt *rt, struct wp_service *s, int ended, int abnormal,
                           int retryable) {
  pthread_mutex_lock(&rt->lock);
  s->ready = 1;
  if (!ended) {
    if (s->state == WP_SVC_STARTING) set_state(s, WP_SVC_RUNNING);
  } else {
    s->counter = 0;
    int64_t now = now_ns();
    if (s->state == WP_SVC_STOPPING || rt->shutdown) {
      set_state(s, WP_SVC_STOPPED);
    } else if (!s->start_timed_out && (!abnormal || retryable == 0)) {
      set_state(s, WP_SVC_EXITED);
    } else {
      set_state(s, WP_SVC_FAILED);
      if (now - s->started_ns >= s->stable_ns) s->attempts = 1;
      if (s->max_attempts && s->attempts >= s->max_attempts) {
        wp_logf(WP_LOG_ERROR, "service %s: giving up after %d attempts", s->entry->id,
                s->attempts);
      } else {
        int64_t d = restart_delay(s, s->attempts);
        s->restart_at_ns = now + (d > 0 ? d : 1);
        wp_logf(WP_LOG_INFO, "service %s: restarting in %lld ms (attempt %d)", s->entry->id,
                (long long)(d / 1000000), s->attempts + 1);
      }
    }
  }
  pthread_cond_broadcast(&rt->cond);
  pthread_mutex_unlock(&rt->lock);
}

static void kill_counter(struct wp_rt *rt, uint64_t counter) {
  struct wp_proc *p = wp_ptab_get_counter(wp_sched_ptab(rt->sched), counter);
  if (!p) return;
  wp_proc_kill(p, WP_KILL_TERMINATE);
  wp_proc_release(p);
}

/* One pass over the services; returns the next deadline. rt->lock held. */
static int64_t tick_locked(struct wp_rt *rt) {
  int64_t next = INT64_MAX, now = now_ns();
  if (rt->shutdown) return next;
  for (struct wp_service *s = rt->services; s; s = s->next) {
    if (s->restart_at_ns) {
      if (s->restart_at_ns <= now && deps_running(s))
        svc_start(rt, s);
      else if (s->restart_at_ns < next)
        next = s->restart_at_ns > now ? s->restart_at_ns : now + 10000000;
    } else if (s->wanted && s->state == WP_SVC_UNKNOWN && deps_running(s)) {
      svc_start(rt, s);
    }
    if (s->code && s->state == WP_SVC_STARTING && s->counter && !s->ready &&
        !s->start_timed_out) {
      int64_t due = s->started_ns + s->start_timeout_ns;
      if (due <= now) {
        wp_logf(WP_LOG_ERROR, "service %s: start timeout after %lld ms", s->entry->id,
                (long long)(s->start_timeout_ns / 1000000));
        s->start_timed_out = 1;
        kill_counter(rt, s->counter);
      } else if (due < next) {
        next = due;
      }
    }
  }
  return next;
}

int64_t wp_services_tick(struct wp_rt *rt) { return tick_locked(rt); }

static void want(struct wp_service *s) {
  if (s->wanted) return;
  s->wanted = 1;
  for (int i = 0; i < s->ndeps; i++) want(s->deps[i]);
}

/* Boot is settled when nothing wanted is starting and nothing wanted could
** start now. */
static int boot_settled(struct wp_rt *rt) {
  for (struct wp_service *s = rt->services; s; s = s->next) {
    if (!s->wanted) continue;
    if (s->state == WP_SVC_STARTING) return 0;
    if (s->state == WP_SVC_UNKNOWN && deps_running(s)) return 0;
  }
  return 1;
}

static void timed_wait(struct wp_rt *rt, int64_t until) {
  int64_t d = until - now_ns();
  if (d <= 0) return;
  if (d > 100000000) d = 100000000;
  struct timespec ts;
  wp_clock_deadline(CLOCK_REALTIME, d, &ts);
  pthread_cond_timedwait(&rt->cond, &rt->lock, &ts);
}

void wp_services_start(struct wp_rt *rt) {
  pthread_mutex_lock(&rt->lock);
  for (struct wp_service *s = rt->services; s; s = s->next)
    if (s->auto_start) want(s);
  while (!rt->shutdown) {
    int64_t next = tick_locked(rt);
    if (boot_settled(rt)) break;
    timed_wait(rt, next == INT64_MAX ? now_ns() + 100000000 : next);
  }
  pthread_mutex_unlock(&rt->lock);
}

/* ---- stopping ---- */

struct host_filter {
  struct wp_host *h;
  int kill;
};

static void stop_on_host(struct wp_proc *p, void *ud) {
  struct host_filter *f = ud;
  if (p->host != f->h) return;
  if (f->kill) {
    wp_proc_kill(p, WP_KILL_SHUTDOWN);
    return;
  }
  wp_rt_cancel(p, "{|}", "scheduler shutdown");
}

static void cancel_service(struct wp_rt *rt, struct wp_service *s) {
  struct wp_proc *p = wp_ptab_get_counter(wp_sched_ptab(rt->sched), s->counter);
  if (!p) return;
  wp_rt_cancel(p, "", "service stopping");
  wp_proc_release(p);
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Stopping. Every service whose dependents have all stopped is stopped at
** once, so services that do not depend on each other stop in parallel and
** the whole stop takes the longest chain of stop_timeouts, not their sum.
** One stop goes WAIT (dependents still up) -> CANCEL sent (until its
** stop_timeout or the deadline) -> killed (2 s to go) -> DONE. */
enum { STOP_WAIT, STOP_CANCELLED, STOP_KILLED, STOP_DONE };

struct stopping {
  int phase;
  int dependents;   /* dependents not yet DONE */
  int cut;          /* the overall deadline, not its stop_timeout, ran out */
  int64_t begin, until;
};

static int stop_finished(struct wp_service *s) {
  return s->code ? !s->counter : atomic_load(&s->host->live) == 0;
}

/* Sends CANCEL (kill = 0) or terminates (1): to the service's process, or
** to every process on the host. rt->lock held; released around a host's
** walk of the process table. */
static void stop_signal(struct wp_rt *rt, struct wp_service *s, int kill) {
  if (s->code) {
    if (kill)
      kill_counter(rt, s->counter);
    else
      cancel_service(rt, s);
    return;
  }
  struct host_filter f = {s->host, kill};
  pthread_mutex_unlock(&rt->lock);
  wp_ptab_each(wp_sched_ptab(rt->sched), stop_on_host, &f);
  pthread_mutex_lock(&rt->lock);
}

/* Moves one service's stop on as far as it can go now. Returns 1 when it
** changed phase, and sets *rc to -1 for a stop that overran the deadline. */
static int stop_step(struct wp_rt *rt, struct wp_service *s, struct stopping *st,
                     int64_t deadline, int *rc) {
  int64_t now = now_ns();
  switch (st->phase) {
    case STOP_WAIT:
      if (st->dependents) return 0;
      if (s->code ? !s->counter : !atomic_load(&s->host->running)) {
        if (s->code && (s->state == WP_SVC_RUNNING || s->state == WP_SVC_STARTING))
          set_state(s, WP_SVC_STOPPED);
        st->phase = STOP_DONE;
        return 1;
      }
      set_state(s, WP_SVC_STOPPING);
      if (!s->code) atomic_store(&s->host->stopping, 1);
      st->begin = now;
      st->until = min64(now + s->stop_timeout_ns, deadline);
      st->cut = st->until == deadline && deadline < now + s->stop_timeout_ns;
      st->phase = STOP_CANCELLED;
      stop_signal(rt, s, 0);
      return 1;
    case STOP_CANCELLED:
      if (!stop_finished(s) && now < st->until) return 0;
      if (!stop_finished(s)) {
        if (s->code)
          wp_logf(WP_LOG_WARN, "service %s: %s after %lld ms, terminating", s->entry->id,
                  st->cut ? "shutdown timeout" : "stop timeout",
                  (long long)((st->until - st->begin) / 1000000));
        st->phase = STOP_KILLED;
        st->until = now + 2000000000LL;
        stop_signal(rt, s, 1);
        return 1;
      }
      st->cut = 0; /* stopped in time after all */
      break;
    case STOP_KILLED:
      if (!stop_finished(s) && now < st->until) return 0;
      break;
    default:
      return 0;
  }
  /* finished, or given up on after the kill */
  st->phase = STOP_DONE;
  if (!s->code) {
    atomic_store(&s->host->running, 0);
    set_state(s, WP_SVC_STOPPED);
  }
  if (!stop_finished(s) || st->cut || (!s->code && now >= deadline)) {
    wp_logf(WP_LOG_ERROR, "service %s did not stop in time", s->entry->id);
    *rc = -1;
  }
  return 1;
}

int wp_services_stop(struct wp_rt *rt, int64_t deadline) {
  pthread_mutex_lock(&rt->lock);
  int n = 0;
  for (struct wp_service *s = rt->services; s; s = s->next) n++;
  struct wp_service **v = wp_calloc((size_t)n + 1, sizeof *v);
  struct stopping *st = wp_calloc((size_t)n + 1, sizeof *st);
  int rc = 0;
  if (v && st) {
    for (struct wp_service *s = rt->services; s; s = s->next) {
      s->restart_at_ns = 0;
      v[s->topo] = s; /* the list is in dependency order: topo is the index */
      for (int k = 0; k < s->ndeps; k++) st[s->deps[k]->topo].dependents++;
    }
    for (int left = n; left > 0;) {
      int moved = 0;
      int64_t wake = INT64_MAX;
      for (int i = n - 1; i >= 0; i--) {
        if (st[i].phase == STOP_DONE) continue;
        if (stop_step(rt, v[i], &st[i], deadline, &rc)) moved = 1;
        if (st[i].phase == STOP_DONE) {
          left--;
          for (int k = 0; k < v[i]->ndeps; k++) st[v[i]->deps[k]->topo].dependents--;
        } else if (st[i].phase != STOP_WAIT && st[i].until < wake) {
          wake = st[i].until;
        }
      }
      if (!moved && left > 0) timed_wait(rt, wake);
    }
  } else {
    rc = -1; /* cannot track the stops: the caller terminates what is left */
    wp_logf(WP_LOG_ERROR, "out of memory while stopping the services");
  }
  wp_free(v);
  wp_free(st);
  pthread_mutex_unlock(&rt->lock);
  return rc;
}

void wp_services_cancel(struct wp_rt *rt) {
  pthread_mutex_lock(&rt->lock);
  for (struct wp_service *s = rt->services; s; s = s->next) {
    s->restart_at_ns = 0;
    if (!s->code || !s->counter) continue;
    set_state(s, WP_SVC_STOPPING);
    cancel_service(rt, s);
  }
  pthread_mutex_unlock(&rt->lock);
}

void wp_services_free(struct wp_rt *rt) {
  while (rt->services) {
    struct wp_service *s = rt->services;
    rt->services = s->next;
    wp_buf_free(&s->input);
    wp_free(s->deps);
    wp_free(s);
  }
  while (rt->hosts) {
    struct wp_host *h = rt->hosts;
    rt->hosts = h->next;
    wp_free(h);
  }
}

/* ---- views (the control endpoint) ---- */

static void view_fill(const struct wp_service *s, struct wp_service_view *v) {
  static const char *const n[] = {"unknown", "starting", "running", "stopping",
                                  "stopped", "failed",   "exited"};
  v->id = s->entry->id;
  v->state = n[s->state];
  v->restarts = s->restarts;
  v->is_host = !s->code;
  v->counter = s->code ? s->counter : 0;
}

void wp_services_view(struct wp_rt *rt, void (*fn)(void *ud, const struct wp_service_view *v),
                      void *ud) {
  pthread_mutex_lock(&rt->lock);
  for (struct wp_service *s = rt->services; s; s = s->next) {
    struct wp_service_view v;
    view_fill(s, &v);
    fn(ud, &v);
  }
  pthread_mutex_unlock(&rt->lock);
}

void wp_services_view_of(struct wp_rt *rt, struct wp_service *s, struct wp_service_view *out) {
  pthread_mutex_lock(&rt->lock);
  view_fill(s, out);
  pthread_mutex_unlock(&rt->lock);
}
