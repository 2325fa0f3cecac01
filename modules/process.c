/*
** process.c: the `process` global (spec 03): pids, send, spawn, relations,
** inbox/events, options and the local name registry.
*/
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "codec.h"
#include "errobj.h"
#include "lazylib.h"
#include "modules.h"
#include "remote.h"

static struct wp_vmproc *self(lua_State *L) { return wp_vm_self(L); }

/* Pushes nil and the error of a pid of a node that is not connected. */
static void push_node_down(lua_State *L, const char *dest, size_t len) {
  size_t nl = 0;
  const char *node = wp_pid_node(dest, len, &nl);
  lua_pushnil(L);
  lua_pushliteral(L, "node ");
  lua_pushlstring(L, node, nl);
  lua_pushliteral(L, " ");
  lua_pushstring(L, wp_rt_node_down);
  lua_concat(L, 4);
  wp_err_push(L, WP_KIND_UNAVAILABLE, lua_tostring(L, -1), -1);
  lua_remove(L, -2);
}

/* The pid holding cluster name `name` (len bytes) pushed, or nothing
** pushed and 0 returned when no cluster name is that. */
static int push_cluster_holder(lua_State *L, struct wp_rt *rt, const char *name, size_t len,
                               int *scope) {
  char buf[256];
  size_t n = rt->names_lookup(rt, name, len, buf, sizeof buf, scope);
  if (n <= sizeof buf) {
    if (n) lua_pushlstring(L, buf, n);
    return n > 0;
  }
  for (;;) { /* a long pid: again with room for it (it may change meanwhile) */
    char *big = lua_newuserdatauv(L, n, 0);
    size_t m = rt->names_lookup(rt, name, len, big, n, scope);
    if (m <= n) {
      if (m) lua_pushlstring(L, big, m);
      lua_remove(L, m ? -2 : -1);
      return m > 0;
    }
    lua_pop(L, 1);
    n = m;
  }
}

/* On a clustered node a destination that is not a pid is a cluster name
** first (spec 07 §2: cluster scopes shadow LOCAL): when it is one, its
** holder's pid replaces argument idx, so what follows routes a pid. */
static void cluster_name_to_pid(lua_State *L, int idx, struct wp_rt *rt) {
  size_t len;
  const char *dest = lua_tolstring(L, idx, &len);
  if (wp_pid_parse(dest, len) || !push_cluster_holder(L, rt, dest, len, NULL)) return;
  lua_replace(L, idx);
}

/* Resolves argument idx as a destination; on failure pushes nil, err and
** returns NULL (the caller returns 2), with *remote (may be NULL) set when
** the destination is a pid of another node. errkind_override replaces the
** kind of a local failure. With `route` on a clustered node, a pid of
** another node pushes nothing: the caller routes it (send_remote). */
static struct wp_proc *resolve_arg(lua_State *L, int idx, const char *errkind_override,
                                   int *remote, int route) {
  size_t len;
  luaL_checkstring(L, idx);
  struct wp_rt *rt = self(L)->rt;
  if (rt->names_lookup) cluster_name_to_pid(L, idx, rt);
  const char *dest = lua_tolstring(L, idx, &len);
  const char *kind, *err;
  struct wp_proc *p = wp_rt_resolve(rt, dest, len, &kind, &err);
  if (remote) *remote = !p && err == wp_rt_node_down;
  if (p) return p;
  if (err == wp_rt_node_down) {
    /* a pid of another node: the same error whatever the call */
    if (!(route && rt->remote_send)) push_node_down(L, dest, len);
  } else if (err) {
    lua_pushnil(L);
    wp_err_push(L, errkind_override ? errkind_override : kind, err, -1);
  } else {
    lua_pushnil(L);
    lua_pushfstring(L, "could not resolve '%s' as PID or registered name", dest);
    wp_err_push(L, WP_KIND_NOT_FOUND, lua_tostring(L, -1), -1);
    lua_remove(L, -2);
  }
  return NULL;
}

/* Hands a send or cancel for argument 1, a pid of another node, to the
** cluster (rt->remote_send), which queues it and returns at once. Pushes
** the call's results and returns their number. */
static int send_remote(lua_State *L, uint32_t kind, const char *topic, size_t tlen,
                       const void *payload, size_t plen) {
  size_t len, nl = 0, size = 0, limit = 0;
  const char *dest = lua_tolstring(L, 1, &len);
  const char *node = wp_pid_node(dest, len, &nl);
  struct wp_vmproc *vp = self(L);
  switch (vp->rt->remote_send(vp->rt, kind, node, nl, vp->p->pid, vp->p->pid_len, dest, len,
                              topic, tlen, payload, plen, &size, &limit)) {
    case WP_RT_REMOTE_SENT: lua_pushboolean(L, 1); return 1;
    case WP_RT_REMOTE_DOWN: push_node_down(L, dest, len); return 2;
    case WP_RT_REMOTE_TOO_LARGE:
      lua_pushfstring(L, "message too large for the cluster transport (%I bytes, limit %I)",
                      (lua_Integer)size, (lua_Integer)limit);
      return wp_err_return(L, WP_KIND_INVALID, lua_tostring(L, -1));
    default: return wp_err_return(L, WP_KIND_INTERNAL, "out of memory");
  }
}

static int l_pid(lua_State *L) {
  struct wp_proc *p = self(L)->p;
  lua_pushlstring(L, p->pid, p->pid_len);
  return 1;
}

static int l_id(lua_State *L) {
  lua_pushstring(L, self(L)->code->id);
  return 1;
}

static int l_send(lua_State *L) {
  if (lua_gettop(L) < 2)
    return wp_err_return(L, WP_KIND_INVALID,
                         "send requires at least destination and topic arguments");
  luaL_checkstring(L, 1);
  size_t tlen;
  const char *topic = luaL_checklstring(L, 2, &tlen);
  if (tlen > 0 && topic[0] == '@') return wp_err_return(L, WP_KIND_INVALID, "cannot send to @ topics");
  struct wp_vmproc *vp = self(L);
  int n = lua_gettop(L) - 2;
  struct wp_buf b = WP_BUF_INIT;
  const char *cerr;
  if (n > 0 && wp_codec_encode(L, 3, n, &b, vp->rt->limits, &cerr) != 0) {
    wp_buf_free(&b);
    return wp_err_return(L, WP_KIND_INVALID, cerr);
  }
  int remote;
  struct wp_proc *p = resolve_arg(L, 1, NULL, &remote, 1);
  if (!p) {
    int r = remote && vp->rt->remote_send
                ? send_remote(L, WP_MSG_USER, topic, tlen, b.data, b.len)
                : 2;
    wp_buf_free(&b);
    if (r == 1) wp_sched_count_send(vp->rt->sched); /* queued for its node */
    return r;
  }
  struct wp_host *h = p->host;
  if (atomic_load(&h->stopping) && p != vp->p) {
    wp_proc_release(p);
    wp_buf_free(&b);
    return wp_err_return(L, WP_KIND_UNAVAILABLE, "host is shutting down");
  }
  struct wp_msg *m = wp_msg_new(WP_MSG_USER, vp->p->pid, vp->p->pid_len, topic, tlen,
                                b.data, b.len);
  wp_buf_free(&b);
  if (!m) {
    wp_proc_release(p);
    return wp_err_return(L, WP_KIND_INTERNAL, "out of memory");
  }
  wp_proc_deliver(p, m);
  wp_proc_release(p);
  wp_sched_count_send(vp->rt->sched);
  lua_pushboolean(L, 1);
  return 1;
}

static int do_spawn(lua_State *L, int flags, const char *fname) {
  if (lua_gettop(L) < 2) {
    lua_pushfstring(L, "%s requires at least id and host arguments", fname);
    return wp_err_return(L, WP_KIND_INVALID, lua_tostring(L, -1));
  }
  const char *id = luaL_checkstring(L, 1);
  const char *host = luaL_checkstring(L, 2);
  struct wp_proc *child;
  const char *kind, *msg;
  struct wp_vmproc *vp = self(L);
  if (wp_rt_spawn(vp->rt, vp, id, host, L, 3, lua_gettop(L) - 2, flags, NULL, &child, &kind,
                  &msg))
    return wp_err_return(L, kind, msg);
  lua_pushlstring(L, child->pid, child->pid_len);
  wp_proc_release(child);
  return 1;
}

static int l_spawn(lua_State *L) { return do_spawn(L, 0, "spawn"); }
static int l_spawn_monitored(lua_State *L) {
  return do_spawn(L, WP_SPAWN_MONITOR, "spawn_monitored");
}
static int l_spawn_linked(lua_State *L) { return do_spawn(L, WP_SPAWN_LINK, "spawn_linked"); }
static int l_spawn_linked_monitored(lua_State *L) {
  return do_spawn(L, WP_SPAWN_LINK | WP_SPAWN_MONITOR, "spawn_linked_monitored");
}

static int l_exec(lua_State *L) {
  const char *id = luaL_checkstring(L, 1);
  const char *host = luaL_checkstring(L, 2);
  const char *colon = strchr(id, ':');
  if (!colon || colon == id || !colon[1])
    return wp_err_return(L, WP_KIND_INVALID,
                         "invalid process ID format (namespace:name required)");
  return wp_vm_exec(L, id, host, 3, lua_gettop(L) - 2, 0);
}

static int l_terminate(lua_State *L) {
  int remote;
  struct wp_proc *p = resolve_arg(L, 1, WP_KIND_INTERNAL, &remote, 0);
  if (!p && remote) { /* spec 07 §4: terminate resolves on this node only */
    size_t len, nl = 0;
    const char *dest = lua_tolstring(L, 1, &len);
    const char *node = wp_pid_node(dest, len, &nl);
    lua_pop(L, 2);
    lua_pushliteral(L, "cannot terminate a process of node ");
    lua_pushlstring(L, node, nl);
    lua_pushliteral(L, ": terminate reaches this node's processes only");
    lua_concat(L, 3);
    return wp_err_return(L, WP_KIND_INVALID, lua_tostring(L, -1));
  }
  if (!p) return 2;
  struct wp_host *h = p->host;
  if (h->kind != WP_HOST_TERMINAL) wp_proc_kill(p, WP_KILL_TERMINATE);
  wp_proc_release(p);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_cancel(lua_State *L) {
  if (lua_gettop(L) < 1) return wp_err_return(L, WP_KIND_INVALID, "cancel requires a destination");
  size_t rlen = 0;
  const char *reason = luaL_optlstring(L, 2, "", &rlen);
  int remote;
  struct wp_proc *p = resolve_arg(L, 1, WP_KIND_INTERNAL, &remote, 1);
  if (!p)
    return remote && self(L)->rt->remote_send
               ? send_remote(L, WP_MSG_CANCEL, reason, rlen, NULL, 0)
               : 2;
  struct wp_vmproc *vp = self(L);
  struct wp_msg *m = wp_msg_new(WP_MSG_CANCEL, vp->p->pid, vp->p->pid_len, reason, rlen, NULL, 0);
  if (!m) {
    wp_proc_release(p);
    return wp_err_return(L, WP_KIND_INTERNAL, "not enough memory to send the cancel");
  }
  m->at = wp_wall_ns() / 1000000000;
  wp_proc_deliver(p, m);
  wp_proc_release(p);
  lua_pushboolean(L, 1);
  return 1;
}

/* monitor, unmonitor, link or unlink (op) on argument 1, a pid of another
** node, on a clustered node (vm/remote.c: recorded here, asked there).
** Pushes the call's results and returns their number. */
static int relate_remote(lua_State *L, uint32_t op) {
  size_t len;
  const char *dest = lua_tolstring(L, 1, &len);
  struct wp_vmproc *vp = self(L);
  switch (wp_remote_relate(vp->rt, vp->p, op, dest, len)) {
    case WP_REMOTE_OK: lua_pushboolean(L, 1); return 1;
    case WP_REMOTE_EXISTS: return wp_err_return(L, WP_KIND_INTERNAL, "already monitoring pid");
    case WP_REMOTE_DOWN: push_node_down(L, dest, len); return 2;
    case WP_REMOTE_TOO_LARGE:
      return wp_err_return(L, WP_KIND_INVALID, "pid too large for the cluster transport");
    default: return wp_err_return(L, WP_KIND_INTERNAL, "out of memory");
  }
}

/* monitor/link: a pid whose process is gone is "pid not registered". A pid
** of another node sets *remote; on a clustered node it pushes nothing (the
** caller relates it there), standalone it pushes nil and the error. */
static struct wp_proc *resolve_live(lua_State *L, int *remote) {
  size_t len;
  struct wp_proc *p = resolve_arg(L, 1, NULL, remote, 1);
  const char *dest = lua_tolstring(L, 1, &len); /* a cluster name's pid now */
  if (!p && !*remote && wp_pid_parse(dest, len)) {
    lua_pop(L, 2);
    wp_err_return(L, WP_KIND_INTERNAL, "pid not registered");
  }
  return p;
}

static int l_monitor(lua_State *L) {
  int remote;
  struct wp_proc *p = resolve_live(L, &remote);
  if (!p) return remote && self(L)->rt->remote ? relate_remote(L, WP_RT_REMOTE_MONITOR) : 2;
  int rc = wp_proc_monitor(p, self(L)->p->handle);
  wp_proc_release(p);
  if (rc == WP_EDEAD) return wp_err_return(L, WP_KIND_INTERNAL, "pid not registered");
  if (rc == WP_EEXIST) return wp_err_return(L, WP_KIND_INTERNAL, "already monitoring pid");
  if (rc) return wp_err_return(L, WP_KIND_INTERNAL, "out of memory");
  lua_pushboolean(L, 1);
  return 1;
}

/* unmonitor/unlink (op): a dead target has nothing left to remove
** (success); a pid of another node is op there on a clustered node. On
** NULL, *nret is what the caller returns. */
static struct wp_proc *resolve_for_removal(lua_State *L, int *nret, uint32_t op) {
  size_t len;
  int remote;
  struct wp_proc *p = resolve_arg(L, 1, NULL, &remote, 0);
  const char *dest = lua_tolstring(L, 1, &len); /* a cluster name's pid now */
  *nret = 2;
  if (!p && wp_pid_parse(dest, len)) {
    lua_pop(L, 2);
    if (remote && self(L)->rt->remote) {
      *nret = relate_remote(L, op);
      return NULL;
    }
    lua_pushboolean(L, 1);
    *nret = 1;
  }
  return p;
}

static int l_unmonitor(lua_State *L) {
  int n;
  struct wp_proc *p = resolve_for_removal(L, &n, WP_RT_REMOTE_UNMONITOR);
  if (!p) return n;
  wp_proc_unmonitor(p, self(L)->p->handle);
  wp_proc_release(p);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_link(lua_State *L) {
  int remote;
  struct wp_proc *p = resolve_live(L, &remote);
  if (!p) return remote && self(L)->rt->remote ? relate_remote(L, WP_RT_REMOTE_LINK) : 2;
  int rc = wp_proc_link(self(L)->p, p);
  wp_proc_release(p);
  if (rc == WP_EDEAD) return wp_err_return(L, WP_KIND_INTERNAL, "pid not registered");
  if (rc) return wp_err_return(L, WP_KIND_INTERNAL, "out of memory");
  lua_pushboolean(L, 1);
  return 1;
}

static int l_unlink(lua_State *L) {
  int n;
  struct wp_proc *p = resolve_for_removal(L, &n, WP_RT_REMOTE_UNLINK);
  if (!p) return n;
  wp_proc_unlink(self(L)->p, p);
  wp_proc_release(p);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_get_options(lua_State *L) {
  lua_createtable(L, 0, 1);
  lua_pushboolean(L, self(L)->trap_links);
  lua_setfield(L, -2, "trap_links");
  return 1;
}

static int l_set_options(lua_State *L) {
  if (lua_type(L, 1) != LUA_TTABLE) {
    lua_pushboolean(L, 0);
    wp_err_push(L, WP_KIND_INVALID, "options parameter must be a table", 0);
    return 2;
  }
  const char *bad = NULL;
  char badbuf[200];
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -2);
      if (strcmp(k, "trap_links") == 0) {
        if (lua_type(L, -1) == LUA_TBOOLEAN)
          self(L)->trap_links = lua_toboolean(L, -1);
        else if (!bad)
          bad = "trap_links must be a boolean";
      } else if (!bad) {
        snprintf(badbuf, sizeof badbuf, "option %s is not supported", k);
        bad = badbuf;
      }
    }
    lua_pop(L, 1);
  }
  if (bad) {
    lua_pushboolean(L, 0);
    wp_err_push(L, WP_KIND_INVALID, bad, 0);
    return 2;
  }
  lua_pushboolean(L, 1);
  lua_pushnil(L);
  return 2;
}

static int source_chan(lua_State *L, int kind) {
  struct wp_vmproc *vp = self(L);
  int *ref = kind == WP_CHAN_INBOX ? &vp->inbox_ref : &vp->events_ref;
  if (*ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, *ref);
    return 1;
  }
  struct wp_chan *c = wp_chan_new(L, 0, kind);
  lua_pushvalue(L, -1);
  *ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (kind == WP_CHAN_INBOX)
    vp->inbox = c;
  else
    vp->events = c;
  return 1;
}

static int l_inbox(lua_State *L) { return source_chan(L, WP_CHAN_INBOX); }
static int l_events(lua_State *L) { return source_chan(L, WP_CHAN_EVENTS); }

/* Routes `topic` to the channel at the top of L (kept there) through a new
** subscription; raw = values rather than Message objects. */
static struct wp_listener *add_listener(lua_State *L, struct wp_vmproc *vp, const char *topic,
                                        size_t tlen, int raw) {
  struct wp_listener *l = wp_malloc(sizeof *l + tlen + 1);
  if (!l) {
    luaL_error(L, "not enough memory");
    return NULL;
  }
  struct wp_chan *c = wp_chan_check(L, -1);
  lua_pushvalue(L, -1);
  l->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  l->chan = c;
  l->raw = raw;
  l->tlen = tlen;
  memcpy(l->topic, topic, tlen);
  l->topic[tlen] = '\0';
  l->next = vp->listeners;
  vp->listeners = l;
  wp_chan_set_listener(c, l);
  return l;
}

static struct wp_listener *find_listener(struct wp_vmproc *vp, const char *topic, size_t tlen) {
  for (struct wp_listener *l = vp->listeners; l; l = l->next)
    if (l->tlen == tlen && memcmp(l->topic, topic, tlen) == 0) return l;
  return NULL;
}

static int l_listen(lua_State *L) {
  size_t tlen;
  const char *topic = luaL_checklstring(L, 1, &tlen);
  if (tlen == 0) return wp_err_return(L, WP_KIND_INVALID, "topic cannot be empty");
  if (topic[0] == '@') return wp_err_return(L, WP_KIND_INVALID, "cannot listen to @ topics");
  int raw = 1;
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_getfield(L, 2, "message");
    raw = !lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  struct wp_vmproc *vp = self(L);
  struct wp_listener *old = find_listener(vp, topic, tlen);
  if (old) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, old->ref);
    return 1;
  }
  wp_chan_new(L, 1, WP_CHAN_LISTEN);
  add_listener(L, vp, topic, tlen, raw);
  return 1;
}

/* subscribe(topic, ch): route a topic's raw values into a channel of the
** caller's (spec 05 §1); unsubscribe(ch) detaches it (the channel stays
** open: it is the caller's). */
static int l_subscribe(lua_State *L) {
  size_t tlen;
  const char *topic = luaL_checklstring(L, 1, &tlen);
  struct wp_chan *c = wp_chan_check(L, 2);
  if (tlen == 0) return wp_err_return(L, WP_KIND_INVALID, "topic cannot be empty");
  if (topic[0] == '@') return wp_err_return(L, WP_KIND_INVALID, "cannot subscribe to @ topics");
  struct wp_vmproc *vp = self(L);
  if (find_listener(vp, topic, tlen))
    return wp_err_return(L, WP_KIND_ALREADY_EXISTS, "topic already has a listener");
  if (wp_chan_get_listener(c))
    return wp_err_return(L, WP_KIND_ALREADY_EXISTS, "channel is already subscribed");
  lua_settop(L, 2);
  add_listener(L, vp, topic, tlen, 1);
  lua_pushboolean(L, 1);
  return 1;
}

/* Removes c's listener, if it has one; with `close`, closes c too. Messages
** that were waiting for it go to the inbox then. Returns whether c had one. */
static int drop_listener(lua_State *L, struct wp_vmproc *vp, struct wp_chan *c, int close) {
  for (struct wp_listener **pp = &vp->listeners; *pp; pp = &(*pp)->next) {
    struct wp_listener *l = *pp;
    if (l->chan != c) continue;
    *pp = l->next;
    luaL_unref(L, LUA_REGISTRYINDEX, l->ref);
    wp_chan_set_listener(c, NULL);
    wp_free(l);
    if (close) wp_chan_close(L, c);
    wp_vm_reroute(L, vp);
    return 1;
  }
  return 0;
}

static int l_unsubscribe(lua_State *L) {
  struct wp_chan *c = wp_chan_check(L, 1);
  lua_pushboolean(L, drop_listener(L, self(L), c, 0));
  return 1;
}

int wp_process_subscribe(lua_State *L) { return l_subscribe(L); }
int wp_process_unsubscribe(lua_State *L) { return l_unsubscribe(L); }

static int l_unlisten(lua_State *L) {
  struct wp_chan *c = wp_chan_check(L, 1);
  if (drop_listener(L, self(L), c, 1)) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushboolean(L, 0);
  wp_err_push(L, WP_KIND_NOT_FOUND, "channel is not a listener", 0);
  return 2;
}

/* ---- registry ---- */

/* Blocks the calling task for a cluster names request (rt->names_request)
** of `op` on name in scope for pid; the answer is the call's result. */
static int cluster_request(lua_State *L, int op, int scope, const char *name, size_t len,
                           const char *pid, size_t plen, const char *what) {
  struct wp_vmproc *vp = self(L);
  struct wp_task *t = wp_vm_blockable(L, what);
  uint64_t id = ++vp->next_reply;
  if (vp->rt->names_request(vp->rt, op, scope, name, len, pid, plen, vp->p->handle, id))
    return wp_err_return(L, WP_KIND_INTERNAL, "out of memory");
  return wp_vm_reply_wait(L, t, id);
}

/* register in a cluster scope: for this process or a live one of this
** node; released when that process ends. */
static int register_cluster(lua_State *L, const char *name, size_t len, int scope) {
  struct wp_vmproc *vp = self(L);
  struct wp_proc *p = vp->p;
  if (!lua_isnoneornil(L, 2)) {
    size_t plen;
    const char *pid = luaL_checklstring(L, 2, &plen);
    if (!wp_pid_parse(pid, plen)) return wp_err_return(L, WP_KIND_INVALID, "invalid pid");
    const char *kind, *err;
    p = wp_rt_resolve(vp->rt, pid, plen, &kind, &err);
    if (!p && err == wp_rt_node_down)
      return wp_err_return(L, WP_KIND_INVALID,
                           "a cluster name can only be registered for a process of this node");
    if (!p) return wp_err_return(L, WP_KIND_NOT_FOUND, "process not found");
  }
  /* p's end releases the name: set before the request, which that
  ** release then follows in the cluster's queue */
  struct wp_vmproc *owner = p->vm;
  atomic_store_explicit(&owner->holds_cnames, 1, memory_order_relaxed);
  lua_pushlstring(L, p->pid, p->pid_len); /* outlives the reference */
  if (p != vp->p) wp_proc_release(p);
  size_t plen;
  const char *pid = lua_tolstring(L, -1, &plen);
  return cluster_request(L, WP_NAMES_REGISTER, scope, name, len, pid, plen,
                         "process.registry.register");
}

static int l_reg_register(lua_State *L) {
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  struct wp_vmproc *vp = self(L);
  struct wp_rt *rt = vp->rt;
  if (!lua_isnoneornil(L, 3)) {
    if (lua_type(L, 3) != LUA_TNUMBER) return wp_err_return(L, WP_KIND_INVALID, "scope must be a number");
    lua_Integer scope = lua_tointeger(L, 3);
    if (scope < 0 || scope > 3)
      return wp_err_return(L, WP_KIND_INVALID,
                           "unknown scope (use LOCAL, EVENTUAL, CONSISTENT or STRONG)");
    if (scope && !rt->names_request)
      return wp_err_return(L, WP_KIND_INTERNAL, scope == 1 ? "eventual registry not available"
                                                           : "global registry not available");
    if (scope) return register_cluster(L, name, len, (int)scope);
  }
  struct wp_proc *p = vp->p;
  int own = 1;
  if (!lua_isnoneornil(L, 2)) {
    size_t plen;
    const char *pid = luaL_checklstring(L, 2, &plen);
    if (!wp_pid_parse(pid, plen)) return wp_err_return(L, WP_KIND_INVALID, "invalid pid");
    /* the whole pid names the process (wp_rt_resolve compares it): the
    ** same counter with another host part, or node, is not it */
    if (plen != p->pid_len || memcmp(pid, p->pid, plen) != 0) {
      const char *kind, *err;
      p = wp_rt_resolve(vp->rt, pid, plen, &kind, &err);
      if (!p) return wp_err_return(L, WP_KIND_NOT_FOUND, "process not found");
      own = 0;
    }
  }
  /* a name another process holds in a cluster scope is refused here too
  ** (spec 07 §2) */
  if (rt->names_lookup && push_cluster_holder(L, rt, name, len, NULL)) {
    size_t hl;
    const char *holder = lua_tolstring(L, -1, &hl);
    int other = hl != p->pid_len || memcmp(holder, p->pid, hl) != 0;
    lua_pop(L, 1);
    if (other) {
      if (!own) wp_proc_release(p);
      return wp_err_return(L, WP_KIND_ALREADY_EXISTS, "name already registered in a cluster scope");
    }
  }
  int rc = wp_names_register(wp_sched_names(vp->rt->sched), name, len, p);
  if (!own) wp_proc_release(p);
  if (rc == WP_ENAMETAKEN) return wp_err_return(L, WP_KIND_ALREADY_EXISTS, "name already registered");
  if (rc == WP_EDEAD) return wp_err_return(L, WP_KIND_NOT_FOUND, "process not found");
  if (rc) return wp_err_return(L, WP_KIND_INTERNAL, "out of memory");
  lua_pushboolean(L, 1);
  return 1;
}

static int l_reg_lookup(lua_State *L) {
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  struct wp_rt *rt = self(L)->rt;
  /* cluster scopes first (spec 07 §2) */
  if (rt->names_lookup && push_cluster_holder(L, rt, name, len, NULL)) return 1;
  struct wp_sched *s = rt->sched;
  uint64_t c = wp_names_lookup(wp_sched_names(s), name, len);
  struct wp_proc *p = c ? wp_ptab_get_counter(wp_sched_ptab(s), c) : NULL;
  if (!p) return wp_err_return(L, WP_KIND_NOT_FOUND, "name not registered");
  lua_pushlstring(L, p->pid, p->pid_len);
  wp_proc_release(p);
  return 1;
}

/* unregister(name, scope?): in a cluster scope only the holder's own call
** removes the name (spec 07 §2); false otherwise. */
static int l_reg_unregister(lua_State *L) {
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  lua_Integer scope = lua_isnoneornil(L, 2) ? 0 : lua_tointeger(L, 2);
  struct wp_vmproc *vp = self(L);
  if (scope != 0) {
    if (scope < 0 || scope > 3 || !vp->rt->names_request) {
      lua_pushboolean(L, 0);
      return 1;
    }
    return cluster_request(L, WP_NAMES_UNREGISTER, (int)scope, name, len, vp->p->pid,
                           vp->p->pid_len, "process.registry.unregister");
  }
  lua_pushboolean(L, wp_names_unregister(wp_sched_names(vp->rt->sched), name, len));
  return 1;
}

static const struct wp_libentry registry_entries[] = {
    WP_LF("register", l_reg_register), WP_LF("lookup", l_reg_lookup),
    WP_LF("unregister", l_reg_unregister), WP_LI("LOCAL", 0), WP_LI("EVENTUAL", 1),
    WP_LI("CONSISTENT", 2), WP_LI("STRONG", 3), WP_LEND};
static const struct wp_libdef registry_lib = {"process.registry", registry_entries, NULL};

static const struct wp_libentry event_entries[] = {
    WP_LS("EXIT", "pid.exit"), WP_LS("LINK_DOWN", "pid.link.down"),
    WP_LS("CANCEL", "pid.cancel"), WP_LEND};
static const struct wp_libdef event_lib = {"process.event", event_entries, NULL};

static const struct wp_libentry process_entries[] = {
    WP_LF("pid", l_pid),
    WP_LF("id", l_id),
    WP_LF("send", l_send),
    WP_LF("spawn", l_spawn),
    WP_LF("spawn_monitored", l_spawn_monitored),
    WP_LF("spawn_linked", l_spawn_linked),
    WP_LF("spawn_linked_monitored", l_spawn_linked_monitored),
    WP_LF("exec", l_exec),
    WP_LF("terminate", l_terminate),
    WP_LF("cancel", l_cancel),
    WP_LF("monitor", l_monitor),
    WP_LF("unmonitor", l_unmonitor),
    WP_LF("link", l_link),
    WP_LF("unlink", l_unlink),
    WP_LF("get_options", l_get_options),
    WP_LF("set_options", l_set_options),
    WP_LF("inbox", l_inbox),
    WP_LF("events", l_events),
    WP_LF("listen", l_listen),
    WP_LF("unlisten", l_unlisten),
    WP_LSUB("registry", &registry_lib),
    WP_LSUB("event", &event_lib),
    WP_LEND};
const struct wp_libdef wp_lib_process = {"process", process_entries, NULL};
