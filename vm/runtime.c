/*
** runtime.c: the runtime object: hosts, compiled code, pids, spawning,
** destination resolution and the exit code (spec 02 §5, 03 §4, 07, 08).
**
** Pids and nodes. A standalone node's pids have no node part; a clustered
** node's carry its name ("{b@app:processes|0x...}"). Each host and code
** holds the host part of its pids ready made (wp_rt_set_node), so a spawn
** copies one string whichever the node. Resolving a pid looks it up in the
** process table first, as a local one; only a miss reads its node part: a
** pid of another node is not reachable (no transport yet).
*/
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "codec.h"
#include "errobj.h"
#include "metrics.h"
#include "vm.h"
#include "vm_int.h"

/* ---- pids (spec 08) ---- */

/* "{host|0x%05x}" with the digit counts of spec 08 §3 (5, 6, 8 or 16),
** written by hand: this is on every spawn. */
size_t wp_pid_format(char *out, size_t n, const char *host, size_t hl, uint64_t c) {
  int w = c <= 0xFFFFFu ? 5 : c <= 0xFFFFFFu ? 6 : c <= 0xFFFFFFFFu ? 8 : 16;
  size_t len = 1 + hl + 3 + (size_t)w + 1;
  if (len >= n) {
    if (n) out[0] = '\0';
    return 0;
  }
  char *p = out;
  *p++ = '{';
  memcpy(p, host, hl);
  p += hl;
  *p++ = '|';
  *p++ = '0';
  *p++ = 'x';
  for (int i = w - 1; i >= 0; i--) {
    p[i] = "0123456789abcdef"[c & 15];
    c >>= 4;
  }
  p += w;
  *p++ = '}';
  *p = '\0';
  return len;
}

uint64_t wp_pid_parse(const char *s, size_t len) {
  if (len < 3 || s[0] != '{' || s[len - 1] != '}') return 0;
  const char *bar = memchr(s, '|', len);
  if (!bar) return 0;
  const char *u = bar + 1;
  const char *end = s + len - 1;
  const char *bar2 = memchr(u, '|', (size_t)(end - u));
  if (bar2) u = bar2 + 1;
  if (end - u < 3 || u[0] != '0' || u[1] != 'x') return 0;
  uint64_t c = 0;
  for (const char *p = u + 2; p < end; p++) {
    int d;
    if (*p >= '0' && *p <= '9')
      d = *p - '0';
    else if (*p >= 'a' && *p <= 'f')
      d = *p - 'a' + 10;
    else
      return 0;
    if (c >> 60) return 0;
    c = c * 16 + (uint64_t)d;
  }
  return c;
}

const char *wp_pid_node(const char *s, size_t len, size_t *nlen) {
  if (len < 3 || s[0] != '{' || s[len - 1] != '}') return NULL;
  const char *bar = memchr(s, '|', len);
  if (!bar) return NULL;
  const char *at = memchr(s + 1, '@', (size_t)(bar - s - 1));
  if (!at || at == s + 1) return NULL; /* no node, or an empty one: none */
  *nlen = (size_t)(at - s - 1);
  return s + 1;
}

/* ---- the node ---- */

/* Writes "node@id" at p as the host part of id's pids; returns the room after it. */
static char *node_prefix(char *p, const char *node, size_t nl, const char *id,
                         const char **pid_host, size_t *pid_host_len) {
  size_t il = strlen(id);
  memcpy(p, node, nl);
  p[nl] = '@';
  memcpy(p + nl + 1, id, il + 1);
  *pid_host = p;
  *pid_host_len = nl + 1 + il;
  return p + nl + il + 2;
}

int wp_rt_set_node(struct wp_rt *rt, const char *node) {
  if (!node) return 0;
  size_t nl = strlen(node), total = 1;
  for (struct wp_host *h = rt->hosts; h; h = h->next) total += nl + strlen(h->id) + 2;
  for (size_t i = 0; i < rt->ncodes; i++) total += nl + strlen(rt->codes[i]->id) + 2;
  char *buf = wp_malloc(total), *p = buf;
  if (!buf) return -1;
  for (struct wp_host *h = rt->hosts; h; h = h->next)
    p = node_prefix(p, node, nl, h->id, &h->pid_host, &h->pid_host_len);
  for (size_t i = 0; i < rt->ncodes; i++) {
    struct wp_code *c = rt->codes[i];
    p = node_prefix(p, node, nl, c->id, &c->pid_host, &c->pid_host_len);
  }
  rt->pid_hosts = buf;
  rt->node = node;
  rt->node_len = nl;
  return 0;
}

void wp_rt_free_node(struct wp_rt *rt) {
  wp_free(rt->pid_hosts);
  rt->pid_hosts = NULL;
}

/* ---- lookups ---- */

const char wp_rt_node_down[] = "not connected";

struct wp_host *wp_rt_host(struct wp_rt *rt, const char *id) {
  for (struct wp_host *h = rt->hosts; h; h = h->next)
    if (strcmp(h->id, id) == 0) return h;
  return NULL;
}

struct wp_code *wp_rt_code(struct wp_rt *rt, const char *id) {
  for (size_t i = 0; i < rt->ncodes; i++)
    if (strcmp(rt->codes[i]->id, id) == 0) return rt->codes[i];
  return NULL;
}

static int id_is(const char *id, const char *s, size_t n) {
  return strncmp(id, s, n) == 0 && id[n] == '\0';
}

/* Whether the host part of a pid string names a host here (or a function
** entry: function calls carry their entry id as host part). */
static int pid_host_known(struct wp_rt *rt, const char *pid, size_t len) {
  const char *bar = memchr(pid, '|', len);
  const char *h = pid + 1;
  const char *at = memchr(h, '@', (size_t)(bar - h));
  if (at) h = at + 1;
  size_t n = (size_t)(bar - h);
  for (struct wp_host *x = rt->hosts; x; x = x->next)
    if (id_is(x->id, h, n)) return 1;
  for (size_t i = 0; i < rt->ncodes; i++)
    if (id_is(rt->codes[i]->id, h, n)) return 1;
  return 0;
}

struct wp_proc *wp_rt_resolve(struct wp_rt *rt, const char *dest, size_t len,
                              const char **kind, const char **err) {
  struct wp_ptab *pt = wp_sched_ptab(rt->sched);
  uint64_t c = wp_pid_parse(dest, len);
  if (c) {
    struct wp_proc *p = wp_ptab_get_counter(pt, c);
    if (p && (p->pid_len != len || memcmp(p->pid, dest, len) != 0)) {
      wp_proc_release(p); /* same counter, another host (or node): not it */
      p = NULL;
    }
    if (!p) {
      /* not here: a pid of another node names a process we cannot reach */
      size_t nl;
      const char *node = wp_pid_node(dest, len, &nl);
      if (node && !(nl == rt->node_len && memcmp(node, rt->node, nl) == 0)) {
        *kind = WP_KIND_UNAVAILABLE;
        *err = wp_rt_node_down;
        return NULL;
      }
      *kind = WP_KIND_NOT_FOUND;
      *err = pid_host_known(rt, dest, len) ? "process not found" : "host not found";
    }
    return p;
  }
  c = wp_names_lookup(wp_sched_names(rt->sched), dest, len);
  struct wp_proc *p = c ? wp_ptab_get_counter(pt, c) : NULL;
  if (!p) {
    *kind = WP_KIND_NOT_FOUND;
    *err = NULL; /* caller formats "could not resolve '<dest>' ..." */
  }
  return p;
}

/* ---- spawning ---- */

/* Creates a process and its VM data in one allocation (not yet in the
** process table). NULL on allocation failure. */
static struct wp_vmproc *vmproc_new(struct wp_rt *rt, struct wp_code *code,
                                    struct wp_host *host) {
  struct wp_proc *p = wp_proc_new_ext(rt->sched, host, sizeof(struct wp_vmproc));
  if (!p) return NULL;
  struct wp_vmproc *vp = p->vm;
  vp->p = p;
  vp->rt = rt;
  vp->code = code;
  vp->host = host;
  wp_state_limit(vp);
  vp->inbox_ref = vp->events_ref = LUA_NOREF;
  return vp;
}

/* Counts one process of vp's host in the metrics collector: spawned
** (which 0) or exited for a reason (1..5, as reasons[]). The host's series
** are found once each, so a count is one add to this thread's shard. Only
** while the collector is on; the caller checked. */
static void count_by_host(const struct wp_vmproc *vp, int which) {
  static const char *const reasons[6] = {NULL, "normal", "error", "terminated", "linked",
                                         "shutdown"};
  struct wp_host *h = vp->host;
  struct wp_metrics_series *s = atomic_load_explicit(&h->mseries[which], memory_order_acquire);
  if (!s) {
    char err[160];
    struct wp_buf b = WP_BUF_INIT;
    if (wp_metrics_label(&b, "host", h->id, strlen(h->id)) == 0 &&
        (!reasons[which] ||
         wp_metrics_label(&b, "reason", reasons[which], strlen(reasons[which])) == 0) &&
        wp_buf_append(&b, "", 1) == 0)
      s = wp_metrics_series(which ? "wippy_processes_exited_total"
                                  : "wippy_processes_spawned_total",
                            (const char *)b.data, err, sizeof err);
    wp_buf_free(&b);
    if (!s) return; /* out of memory: this one goes uncounted */
    atomic_store_explicit(&h->mseries[which], s, memory_order_release); /* the same s if raced */
  }
  wp_metrics_count(s, 1);
}

/* Gives vp's process its pid and inserts it into the process table. Returns
** the process, or NULL on failure (then everything is freed). With `child`,
** also a reference to it for the caller. */
static struct wp_proc *proc_create(struct wp_rt *rt, struct wp_vmproc *vp,
                                   struct wp_proc **child, const char *pid_host, size_t hl) {
  struct wp_proc *p = vp->p;
  struct wp_ptab *pt = wp_sched_ptab(rt->sched);
  size_t cap = hl + WP_PID_OVERHEAD;
  char *buf = wp_proc_pid_room(p, cap);
  if (buf) {
    p->counter = wp_ptab_next_counter(pt);
    p->pid_len = (uint32_t)wp_pid_format(buf, cap, pid_host, hl, p->counter);
  }
  if (child) wp_proc_retain(p); /* before p can be found (and end) */
  if (!buf || wp_ptab_insert(pt, p) != 0) {
    if (child) wp_proc_release(p);
    wp_proc_release(p); /* frees vp through the free hook */
    return NULL;
  }
  if (child) *child = p;
  atomic_fetch_add(&vp->host->live, 1);
  atomic_fetch_add(&rt->live, 1);
  if (wp_metrics_enabled()) count_by_host(vp, 0);
  return p;
}

/* The code and the host a spawn names. A process that spawns names the
** same ones again and again (a relay: one worker per request): its last
** pair is tried first, one strcmp each instead of a walk of every entry
** and host. */
static struct wp_code *spawn_code(struct wp_rt *rt, struct wp_vmproc *parent, const char *id) {
  if (parent && parent->spawned_code && strcmp(parent->spawned_code->id, id) == 0)
    return parent->spawned_code;
  struct wp_code *c = wp_rt_code(rt, id);
  if (parent && c) parent->spawned_code = c;
  return c;
}

static struct wp_host *spawn_host(struct wp_rt *rt, struct wp_vmproc *parent, const char *id) {
  if (parent && parent->spawned_host && strcmp(parent->spawned_host->id, id) == 0)
    return parent->spawned_host;
  struct wp_host *h = wp_rt_host(rt, id);
  if (parent && h) parent->spawned_host = h;
  return h;
}

/* The first half of a spawn: checks host and code and makes the process's
** VM data (not yet in the process table). NULL with *kind and *msg.
** parent: the spawning process, or NULL. */
static struct wp_vmproc *spawn_prepare(struct wp_rt *rt, struct wp_vmproc *parent, const char *id,
                                       const char *host_id, int flags, const char **kind,
                                       const char **msg) {
  struct wp_host *host = spawn_host(rt, parent, host_id);
  if (!host) {
    *kind = WP_KIND_NOT_FOUND;
    *msg = "host not found";
    return NULL;
  }
  if (atomic_load(&host->stopping) || !atomic_load(&host->running)) {
    *kind = WP_KIND_UNAVAILABLE;
    *msg = atomic_load(&host->stopping) ? "host is shutting down" : "host is not running";
    return NULL;
  }
  struct wp_code *code = spawn_code(rt, parent, id);
  if (!code || code->is_library || code->is_function != !!(flags & WP_SPAWN_FUNC)) {
    *kind = WP_KIND_NOT_FOUND;
    *msg = flags & WP_SPAWN_FUNC ? "function not found" : "factory not found";
    return NULL;
  }
  struct wp_vmproc *vp = vmproc_new(rt, code, host);
  if (!vp) {
    *kind = WP_KIND_INTERNAL;
    *msg = "out of memory";
  }
  return vp;
}

/* The second half: pid, process table, the relations asked for, and the
** first wake-up. vp (with its arguments) is consumed either way. */
static int spawn_finish(struct wp_rt *rt, struct wp_vmproc *parent, struct wp_vmproc *vp,
                        const char *id, int flags, struct wp_proc **child, const char **kind,
                        const char **msg) {
  struct wp_proc *p = flags & WP_SPAWN_FUNC
                          ? proc_create(rt, vp, child, vp->code->pid_host, vp->code->pid_host_len)
                          : proc_create(rt, vp, child, vp->host->pid_host, vp->host->pid_host_len);
  if (!p) goto oom;
  /* Relations are in place before the child can run (a thief may run it at
  ** once after the wake below). */
  int rc = 0;
  if (parent && (flags & WP_SPAWN_MONITOR)) rc = wp_proc_monitor(p, parent->p->handle);
  if (rc == 0 && parent && (flags & WP_SPAWN_LINK)) {
    rc = wp_proc_link(parent->p, p);
    if (rc && (flags & WP_SPAWN_MONITOR)) wp_proc_unmonitor(p, parent->p->handle);
  }
  if (rc) {
    /* a child without the monitor or link asked for would fail silently:
    ** it never runs its code (the kill ends it at its first run) and the
    ** caller gets the error */
    wp_proc_kill(p, WP_KILL_TERMINATE);
    if (child) {
      wp_proc_release(*child);
      *child = NULL;
    }
    goto oom;
  }
  wp_proc_wake(p);
  return 0;
oom:
  *kind = WP_KIND_INTERNAL;
  *msg = "out of memory";
  return -1;
}

int wp_rt_spawn(struct wp_rt *rt, struct wp_vmproc *parent, const char *id,
                const char *host_id, lua_State *L, int first, int n, int flags,
                struct wp_service *svc, struct wp_proc **child, const char **kind,
                const char **msg) {
  struct wp_vmproc *vp = spawn_prepare(rt, parent, id, host_id, flags, kind, msg);
  if (!vp) return -1;
  vp->svc = svc;
  const char *cerr;
  if (n > 0 && wp_codec_encode(L, first, n, &vp->args, rt->limits, &cerr) != 0) {
    wp_proc_release(vp->p);
    *kind = WP_KIND_INVALID;
    *msg = cerr;
    return -1;
  }
  return spawn_finish(rt, parent, vp, id, flags, child, kind, msg);
}

int wp_rt_spawn_encoded(struct wp_rt *rt, const char *id, const char *host_id,
                        const struct wp_buf *args, struct wp_service *svc,
                        struct wp_proc **child, const char **kind, const char **msg) {
  struct wp_vmproc *vp = spawn_prepare(rt, NULL, id, host_id, 0, kind, msg);
  if (!vp) return -1;
  vp->svc = svc;
  if (args->len && wp_buf_append(&vp->args, args->data, args->len) != 0) {
    wp_proc_release(vp->p);
    *kind = WP_KIND_INTERNAL;
    *msg = "out of memory";
    return -1;
  }
  return spawn_finish(rt, NULL, vp, id, 0, child, kind, msg);
}

int wp_rt_spawn_call(struct wp_rt *rt, struct wp_vmproc *parent, const char *id,
                     const char *host_id, int flags, lua_State *L, int first, int n,
                     const struct wp_buf *args, const struct wp_buf *ctx,
                     struct wp_proc **child, const char **kind, const char **msg) {
  struct wp_vmproc *vp = spawn_prepare(rt, parent, id, host_id, flags, kind, msg);
  if (!vp) return -1;
  const char *cerr = "out of memory";
  *kind = WP_KIND_INTERNAL;
  if (args) {
    if (args->len && wp_buf_append(&vp->args, args->data, args->len) != 0) goto fail;
  } else if (n > 0 && wp_codec_encode(L, first, n, &vp->args, rt->limits, &cerr) != 0) {
    *kind = WP_KIND_INVALID;
    goto fail;
  }
  if (ctx && ctx->len) {
    vp->ctx = wp_calloc(1, sizeof *vp->ctx);
    if (!vp->ctx || wp_buf_append(vp->ctx, ctx->data, ctx->len) != 0) goto fail;
  }
  return spawn_finish(rt, parent, vp, id, flags | WP_SPAWN_MONITOR, child, kind, msg);
fail:
  wp_proc_release(vp->p); /* its free hook frees vp's args and ctx */
  *msg = cerr;
  return -1;
}

/* The recursion is as deep as the tree, which its builder
** bounds (WP_YAML_MAX_DEPTH for a loaded file); each level makes room for
** its table and one child. */
void wp_rt_push_node(lua_State *L, const struct wp_node *n) {
  luaL_checkstack(L, 2, "input nested too deeply");
  switch (n ? n->type : WP_NODE_NULL) {
    case WP_NODE_BOOL: lua_pushboolean(L, n->u.b); break;
    case WP_NODE_INT: lua_pushinteger(L, n->u.i); break;
    case WP_NODE_FLOAT: lua_pushnumber(L, n->u.f); break;
    case WP_NODE_STR: lua_pushlstring(L, n->u.str.s, n->u.str.len); break;
    case WP_NODE_SEQ:
      lua_createtable(L, (int)n->u.seq.n, 0);
      for (size_t i = 0; i < n->u.seq.n; i++) {
        wp_rt_push_node(L, n->u.seq.items[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      break;
    case WP_NODE_MAP:
      lua_createtable(L, 0, (int)n->u.map.n);
      for (size_t i = 0; i < n->u.map.n; i++) {
        wp_rt_push_node(L, n->u.map.vals[i]);
        lua_setfield(L, -2, n->u.map.keys[i]);
      }
      break;
    default: lua_pushnil(L);
  }
}

/* lua_CFunction: pushes the items of the SEQ node (light userdata at 1). */
static int push_items(lua_State *L) {
  const struct wp_node *seq = lua_touserdata(L, 1);
  lua_settop(L, 0);
  if (seq->u.seq.n > INT_MAX / 2) return luaL_error(L, "too many arguments");
  luaL_checkstack(L, (int)seq->u.seq.n + 1, "too many arguments");
  for (size_t i = 0; i < seq->u.seq.n; i++) wp_rt_push_node(L, seq->u.seq.items[i]);
  return (int)seq->u.seq.n;
}

int wp_rt_args_from_node(const struct wp_node *seq, struct wp_buf *out, char *err,
                         size_t errlen) {
  lua_State *L = luaL_newstate();
  if (!L) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  int rc = 0;
  lua_pushcfunction(L, push_items);
  lua_pushlightuserdata(L, (void *)seq);
  if (lua_pcall(L, 1, LUA_MULTRET, 0) != LUA_OK) {
    snprintf(err, errlen, "%s", lua_tostring(L, -1));
    rc = -1;
  } else if (lua_gettop(L) > 0) {
    const char *cerr = "";
    rc = wp_codec_encode(L, 1, lua_gettop(L), out, NULL, &cerr);
    if (rc) snprintf(err, errlen, "%s", cerr);
  }
  lua_close(L);
  return rc;
}

int wp_rt_spawn_cli(struct wp_rt *rt, struct wp_code *code, struct wp_host *host,
                    int argc, char **argv, struct wp_proc **child, const char **msg) {
  struct wp_vmproc *vp = vmproc_new(rt, code, host);
  if (!vp) goto oom;
  vp->argv = wp_calloc((size_t)argc + 1, sizeof(char *));
  if (!vp->argv) {
    wp_proc_release(vp->p);
    goto oom;
  }
  for (int i = 0; i < argc; i++) vp->argv[i] = wp_strdup(argv[i]);
  vp->argc = argc;
  struct wp_proc *p = proc_create(rt, vp, child, host->pid_host, host->pid_host_len);
  if (!p) goto oom;
  wp_proc_wake(p);
  return 0;
oom:
  *msg = "out of memory";
  return -1;
}

/* ---- exits and shutdown ---- */

void wp_rt_count_exit(struct wp_vmproc *vp, int kill, int abnormal) {
  if (!wp_metrics_enabled()) return;
  count_by_host(vp, kill == WP_KILL_TERMINATE  ? 3
                    : kill == WP_KILL_LINK     ? 4
                    : kill == WP_KILL_SHUTDOWN ? 5
                    : abnormal                 ? 2
                                               : 1);
}

void wp_rt_process_ended(struct wp_vmproc *vp, int abnormal, const char *errmsg, int code,
                         int retryable) {
  struct wp_rt *rt = vp->rt;
  wp_rt_count_exit(vp, vp->exit_kill, abnormal);
  if (vp->svc) {
    if (abnormal && errmsg)
      wp_logf(WP_LOG_ERROR, "service process %s (%s) failed: %s", vp->p->pid,
              vp->code->id, errmsg);
    rt->service_event(rt, vp->svc, 1, abnormal, retryable);
  }
  if (vp->host->kind == WP_HOST_TERMINAL && !vp->code->is_function) {
    if (abnormal && errmsg) {
      char line[1100];
      /* failing before its entry function ran is a failed spawn: Error: */
      int n = snprintf(line, sizeof line, "%s%s\n", vp->entry_started ? "" : "Error: ", errmsg);
      if (n > 0) {
        if ((size_t)n >= sizeof line) n = sizeof line - 1;
        ssize_t w = write(2, line, (size_t)n);
        (void)w;
      }
    }
    wp_rt_request_shutdown(rt, abnormal ? 1 : code, 1);
  } else if (abnormal && errmsg) {
    wp_logf(WP_LOG_DEBUG, "process %s (%s) failed: %s", vp->p->pid, vp->code->id,
            errmsg);
  }
  /* Only shutdown waits for ordinary exits: do not wake the main thread for
  ** each of them. (Service and terminal exits broadcast on their own paths;
  ** rt->live was decremented by our caller only after this returns, so a
  ** waiter re-checks after the teardown's broadcast below.) */
}

void wp_rt_live_dec(struct wp_rt *rt) {
  if (atomic_fetch_sub(&rt->live, 1) == 1 || rt->shutdown_flag) {
    pthread_mutex_lock(&rt->lock);
    pthread_cond_broadcast(&rt->cond);
    pthread_mutex_unlock(&rt->lock);
  }
}

void wp_rt_reply(struct wp_rt *rt, wp_handle h, uint64_t id, int status, const char *kind,
                 const char *msg) {
  struct wp_proc *p = wp_ptab_get(wp_sched_ptab(rt->sched), h);
  if (!p) return;
  if (status < WP_REPLY_ERROR) kind = msg = "";
  /* the caller is woken whatever happens: the fallback says what was lost */
  static const char lost[] = "the answer was lost: out of memory";
  struct wp_msg *m = wp_msg_new_sys(WP_MSG_REPLY, "", 0, kind, strlen(kind), msg, strlen(msg),
                                    lost, sizeof lost - 1);
  if (m) {
    m->aux = id;
    m->flags = (uint32_t)status;
    wp_proc_deliver(p, m);
  } else {
    wp_logf(WP_LOG_ERROR, "an answer to %s lost: out of memory", p->pid);
  }
  wp_proc_release(p);
}

int wp_rt_cancel(struct wp_proc *p, const char *from, const char *reason) {
  size_t rlen = strlen(reason), flen = strlen(from);
  struct wp_msg *m = wp_msg_new_sys(WP_MSG_CANCEL, from, flen, reason, rlen, NULL, 0, NULL, 0);
  if (!m) {
    wp_logf(WP_LOG_ERROR, "CANCEL (%s) to %s lost: out of memory", reason, p->pid);
    return -1;
  }
  m->at = wp_wall_ns() / 1000000000;
  wp_proc_deliver(p, m);
  return 0;
}

void wp_rt_request_shutdown(struct wp_rt *rt, int code, int from_terminal) {
  pthread_mutex_lock(&rt->lock);
  if (from_terminal && !rt->terminal_done) {
    rt->terminal_done = 1;
    rt->exit_code = code;
  }
  rt->shutdown = 1;
  atomic_store(&rt->shutdown_flag, 1);
  pthread_cond_broadcast(&rt->cond);
  pthread_mutex_unlock(&rt->lock);
}
