/*
** service.c: supervised services (see service.h). The supervisor has no
** thread of its own: workers report a service process's first blocking point
** and its end through wp_rt_service_event (under rt->lock), and the main
** thread's loop performs the restarts that are due.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "codec.h"
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
  if (!v) return def;
  if (v->type == WP_NODE_INT) return v->u.i ? (double)v->u.i : def;
  if (v->type == WP_NODE_FLOAT) return v->u.f != 0 ? v->u.f : def;
  return def;
}

/* Pushes a YAML node as a Lua value. */
static void push_node(lua_State *L, const struct wp_node *n) {
  switch (n ? n->type : WP_NODE_NULL) {
    case WP_NODE_BOOL: lua_pushboolean(L, n->u.b); break;
    case WP_NODE_INT: lua_pushinteger(L, n->u.i); break;
    case WP_NODE_FLOAT: lua_pushnumber(L, n->u.f); break;
    case WP_NODE_STR: lua_pushlstring(L, n->u.str.s, n->u.str.len); break;
    case WP_NODE_SEQ:
      lua_createtable(L, (int)n->u.seq.n, 0);
      for (size_t i = 0; i < n->u.seq.n; i++) {
        push_node(L, n->u.seq.items[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      break;
    case WP_NODE_MAP:
      lua_createtable(L, 0, (int)n->u.map.n);
      for (size_t i = 0; i < n->u.map.n; i++) {
        push_node(L, n->u.map.vals[i]);
        lua_setfield(L, -2, n->u.map.keys[i]);
      }
      break;
    default: lua_pushnil(L);
  }
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
  lua_State *L = luaL_newstate();
  if (!L) return -1;
  for (size_t i = 0; i < input->u.seq.n; i++) push_node(L, input->u.seq.items[i]);
  const char *cerr;
  int rc = wp_codec_encode(L, 1, (int)input->u.seq.n, &s->input, NULL, &cerr);
  s->ninput = (int)input->u.seq.n;
  lua_close(L);
  if (rc) snprintf(err, errlen, "%s:%d: entry %s: input: %s", e->file, input->line, e->id, cerr);
  return rc;
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
  s->jitter = get_float(rs, "jitter", 0.1);
  const struct wp_node *ma = wp_node_get(rs, "max_attempts");
  s->max_attempts = ma && ma->type == WP_NODE_INT ? (int)ma->u.i : 0;
  return 0;
}

int wp_services_load(struct wp_rt *rt, char *err, size_t errlen) {
  for (size_t i = 0; i < rt->entries.n; i++) {
    struct wp_entry *e = rt->entries.v[i];
    int is_host = strcmp(e->kind, "process.host") == 0 || strcmp(e->kind, "terminal.host") == 0;
    if (is_host) {
      struct wp_host *h = wp_calloc(1, sizeof *h);
      if (!h) goto oom;
      h->entry = e;
      h->id = e->id;
      h->kind = e->kind[0] == 't' ? WP_HOST_TERMINAL : WP_HOST_PROCESS;
      h->next = rt->hosts;
      rt->hosts = h;
    }
    if (!is_host && strcmp(e->kind, "process.service") != 0) continue;
    struct wp_service *s = wp_calloc(1, sizeof *s);
    if (!s) goto oom;
    s->entry = e;
    s->next = rt->services;
    rt->services = s;
    if (load_lifecycle(s, err, errlen)) return -1;
    if (is_host) {
      s->host = rt->hosts;
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
    if (!s->code || s->code->is_function) {
      snprintf(err, errlen, "%s:%d: entry %s: process %s is not a process.lua entry",
               e->file, pn->line, e->id, id);
      return -1;
    }
    if (encode_input(s, wp_node_get(e->data, "input"), err, errlen)) return -1;
  }
  /* hosts of rt->services are resolved after every host exists */
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
  return 0;
oom:
  snprintf(err, errlen, "out of memory");
  return -1;
}

void wp_host_start(struct wp_rt *rt, struct wp_host *h) {
  (void)rt;
  if (atomic_exchange(&h->running, 1)) return;
  for (struct wp_service *s = rt->services; s; s = s->next)
    if (!s->code && s->host == h) set_state(s, WP_SVC_RUNNING);
}

/* Spawns the service's process. Called with rt->lock held. */
static void svc_spawn(struct wp_rt *rt, struct wp_service *s) {
  wp_host_start(rt, s->host);
  set_state(s, WP_SVC_STARTING);
  s->ready = 0;
  s->restart_at_ns = 0;
  s->attempts++;
  s->started_ns = (int64_t)wp_clock_ns();
  lua_State *L = luaL_newstate();
  const char *kind = "", *msg = "out of memory";
  int n = 0, rc = -1;
  if (L) {
    n = s->ninput ? wp_codec_decode(L, s->input.data, s->input.len) : 0;
    rc = wp_rt_spawn(rt, NULL, s->code->entry->id, s->host->id, L, 1, n < 0 ? 0 : n, 0, s,
                     s->pid, &kind, &msg);
    lua_close(L);
  }
  if (rc) {
    wp_logf(WP_LOG_ERROR, "service %s: cannot start: %s", s->entry->id, msg);
    s->counter = 0;
    set_state(s, WP_SVC_EXITED); /* spawn errors are not retried (spec 06 §4.4) */
    return;
  }
  s->counter = wp_pid_parse(s->pid, strlen(s->pid));
}

void wp_rt_service_event(struct wp_rt *rt, struct wp_service *s, int ended, int abnormal,
                         int retryable) {
  pthread_mutex_lock(&rt->lock);
  if (!ended) {
    s->ready = 1;
    if (s->state == WP_SVC_STARTING) set_state(s, WP_SVC_RUNNING);
  } else {
    s->ready = 1;
    s->counter = 0;
    int64_t now = (int64_t)wp_clock_ns();
    if (s->state == WP_SVC_STOPPING || rt->shutdown) {
      set_state(s, WP_SVC_STOPPED);
    } else if (!abnormal || retryable == 0) {
      set_state(s, WP_SVC_EXITED);
    } else {
      set_state(s, WP_SVC_FAILED);
      if (now - s->started_ns >= s->stable_ns) s->attempts = 1;
      if (s->max_attempts == 0 || s->attempts < s->max_attempts) {
        s->restart_at_ns = now + s->initial_delay_ns;
        wp_logf(WP_LOG_INFO, "service %s: restarting in %lld ms", s->entry->id,
                (long long)(s->initial_delay_ns / 1000000));
      } else {
        wp_logf(WP_LOG_ERROR, "service %s: giving up after %d attempts", s->entry->id,
                s->attempts);
      }
    }
  }
  pthread_cond_broadcast(&rt->cond);
  pthread_mutex_unlock(&rt->lock);
}

int wp_services_start(struct wp_rt *rt, char *err, size_t errlen) {
  (void)err;
  (void)errlen;
  pthread_mutex_lock(&rt->lock);
  for (struct wp_service *s = rt->services; s; s = s->next)
    if (!s->code && s->auto_start) wp_host_start(rt, s->host);
  int64_t deadline = 0;
  for (struct wp_service *s = rt->services; s; s = s->next) {
    if (!s->code || !s->auto_start) continue;
    svc_spawn(rt, s);
    int64_t d = (int64_t)wp_clock_ns() + s->start_timeout_ns;
    if (d > deadline) deadline = d;
  }
  /* wait for every started process to block for the first time or end */
  for (;;) {
    int waiting = 0;
    for (struct wp_service *s = rt->services; s; s = s->next)
      if (s->code && s->counter && !s->ready) waiting = 1;
    if (!waiting || rt->shutdown || (int64_t)wp_clock_ns() >= deadline) break;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 20000000;
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&rt->cond, &rt->lock, &ts);
  }
  pthread_mutex_unlock(&rt->lock);
  return 0;
}

int64_t wp_services_tick(struct wp_rt *rt) {
  int64_t next = INT64_MAX;
  pthread_mutex_lock(&rt->lock);
  int64_t now = (int64_t)wp_clock_ns();
  for (struct wp_service *s = rt->services; s; s = s->next) {
    if (!s->restart_at_ns) continue;
    if (rt->shutdown) {
      s->restart_at_ns = 0;
      continue;
    }
    if (s->restart_at_ns <= now)
      svc_spawn(rt, s);
    else if (s->restart_at_ns < next)
      next = s->restart_at_ns;
  }
  pthread_mutex_unlock(&rt->lock);
  return next;
}

void wp_services_cancel(struct wp_rt *rt) {
  pthread_mutex_lock(&rt->lock);
  for (struct wp_service *s = rt->services; s; s = s->next) {
    s->restart_at_ns = 0;
    if (!s->code || !s->counter) continue;
    set_state(s, WP_SVC_STOPPING);
    struct wp_proc *p = wp_ptab_get_counter(wp_sched_ptab(rt->sched), s->counter);
    if (!p) continue;
    struct wp_msg *m = wp_msg_new(WP_MSG_CANCEL, "", 0, "service stopping", 16, NULL, 0);
    if (m) {
      m->at = wp_wall_ns() / 1000000000;
      wp_proc_deliver(p, m);
    }
    wp_proc_release(p);
  }
  pthread_mutex_unlock(&rt->lock);
}

void wp_services_free(struct wp_rt *rt) {
  while (rt->services) {
    struct wp_service *s = rt->services;
    rt->services = s->next;
    wp_buf_free(&s->input);
    wp_free(s);
  }
  while (rt->hosts) {
    struct wp_host *h = rt->hosts;
    rt->hosts = h->next;
    wp_free(h);
  }
}
