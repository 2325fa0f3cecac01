/*
** pg.c: the `pg` module (spec 07 §7, issue 13 item 8): Erlang-pg-style
** process groups, cluster-wide on a clustered node and node-wide on a
** standalone one (which is then the whole cluster).
**
** Design note. The groups, their members and the subscriptions live in the
** runtime's table (vm/pgroup.h, rt->pg); this file is their Lua face, and
** knows nothing of the cluster: on a clustered node the command line has
** connected the table to it, so joins here are written to NATS by the
** cluster's own thread and other nodes' members show up in the table.
** Nothing here waits: join and leave change the table and return, so no
** task (and no worker) ever blocks on NATS for pg.
**
** pg.open(scope) checks the pg.scope entry (it must exist, be a pg.scope
** and be started: lifecycle.auto_start) and returns an instance, a handle
** on the scope. Membership belongs to the process, not the instance: it
** ends with leave or with the process. An instance's subscriptions end
** with sub:close(), its release() or the process.
**
** Subscriptions. monitor(group) and events() subscribe in the table, which
** sends each membership event to this process as a message on the
** subscription's reserved topic "@pg.<id>" (no process can send to or
** listen on an "@" topic). A listener for that topic, made here on the
** process's own thread before any such message can be routed (routing runs
** on this thread too), hands them to the subscription's channel as plain
** values, so the channel works with receive and channel.select like any
** other. close() ends the subscription in the table first (nothing more is
** sent), drops what was routed but not received, and removes the listener;
** a message still in the mailbox then finds no listener, and route.c drops
** reserved topics without one.
**
** C buffers filled under the table's lock (member lists, snapshots) become
** Lua values in a protected call, so an allocation error of the process's
** heap cannot leak them.
*/
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "codec.h"
#include "errobj.h"
#include "lazylib.h"
#include "modules.h"
#include "pgroup.h"

#define INST_MT "pg.Group"
#define SUB_MT "pg.Subscription"

struct inst {
  struct wp_pg_scope *s;
  int released;
};

struct sub {
  uint64_t id;
  int closed;
};

static struct wp_vmproc *self(lua_State *L) { return wp_vm_self(L); }

/* The instance at index 1; NULL with nil, err pushed when released. */
static struct inst *check_open(lua_State *L) {
  struct inst *g = luaL_checkudata(L, 1, INST_MT);
  if (!g->released) return g;
  lua_pushnil(L);
  wp_err_push(L, WP_KIND_INVALID, "pg instance released", -1);
  return NULL;
}

/* A group name at idx: a string of 1 to WP_PG_NAME_MAX bytes, or NULL with
** the problem in *why. */
static const char *group_arg(lua_State *L, int idx, size_t *len, const char **why) {
  *why = NULL;
  if (lua_type(L, idx) != LUA_TSTRING) {
    *why = "group name must be a string";
    return NULL;
  }
  const char *s = lua_tolstring(L, idx, len);
  if (*len == 0 || *len > WP_PG_NAME_MAX) {
    *why = *len ? "group name too long (at most 256 bytes)" : "group name cannot be empty";
    return NULL;
  }
  return s;
}

/* ---- Lua values from C buffers ---- */

struct pushjob {
  const struct wp_buf *b;
  size_t n;
  int snapshot; /* the all-groups snapshot format (pgroup.h) */
};

/* Pushes n NUL-terminated strings from *p as an array; advances *p. */
static void push_strs(lua_State *L, const char **p, size_t n) {
  lua_createtable(L, n < 1024 ? (int)n : 1024, 0);
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(*p);
    lua_pushlstring(L, *p, l);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
    *p += l + 1;
  }
}

static int push_job(lua_State *L) {
  const struct pushjob *j = lua_touserdata(L, 1);
  const char *p = (const char *)j->b->data, *end = p + j->b->len;
  if (!j->snapshot) {
    push_strs(L, &p, j->n);
    return 1;
  }
  lua_createtable(L, 0, 0);
  while (p < end) { /* name NUL, count, pids */
    size_t l = strlen(p);
    lua_pushlstring(L, p, l);
    p += l + 1;
    uint32_t cnt;
    memcpy(&cnt, p, sizeof cnt);
    p += sizeof cnt;
    push_strs(L, &p, cnt);
    lua_rawset(L, -3);
  }
  return 1;
}

/* Pushes the Lua value of buffer b (n pids, or a snapshot) and frees b,
** whatever happens; raises (after freeing) when the process's heap is out. */
static void push_buf(lua_State *L, struct wp_buf *b, size_t n, int snapshot) {
  struct pushjob j = {b, n, snapshot};
  lua_pushcfunction(L, push_job);
  lua_pushlightuserdata(L, &j);
  int rc = lua_pcall(L, 1, 1, 0);
  wp_buf_free(b);
  if (rc != LUA_OK) lua_error(L);
}

/* ---- pg.open ---- */

static int id_cmp(const void *key, const void *elem) {
  return strcmp(key, ((const struct wp_regentry *)elem)->id);
}

static int l_open(lua_State *L) {
  size_t len;
  const char *id = luaL_checklstring(L, 1, &len);
  struct wp_rt *rt = self(L)->rt;
  if (!rt->pg) return wp_err_return(L, WP_KIND_INTERNAL, "pg is not available in this runtime");
  const struct wp_regview *rv = rt->regview;
  const struct wp_regentry *e = rv && rv->n && strlen(id) == len
                                    ? bsearch(id, rv->v, rv->n, sizeof *rv->v, id_cmp)
                                    : NULL;
  if (!e) {
    lua_pushfstring(L, "pg scope %s not found (declare an entry of kind pg.scope)", id);
    return wp_err_return(L, WP_KIND_NOT_FOUND, lua_tostring(L, -1));
  }
  if (strcmp(e->kind, "pg.scope") != 0) {
    lua_pushfstring(L, "entry %s is a %s, not a pg.scope", id, e->kind);
    return wp_err_return(L, WP_KIND_INVALID, lua_tostring(L, -1));
  }
  const struct wp_node *as = wp_node_path(e->data, "lifecycle.auto_start");
  if (!as || as->type != WP_NODE_BOOL || !as->u.b) {
    lua_pushfstring(L, "pg scope %s is not started (it needs lifecycle.auto_start: true)", id);
    return wp_err_return(L, WP_KIND_UNAVAILABLE, lua_tostring(L, -1));
  }
  if (len > WP_PG_NAME_MAX)
    return wp_err_return(L, WP_KIND_INVALID, "pg scope id too long (at most 256 bytes)");
  struct wp_pg_scope *s = wp_pg_scope(rt->pg, id, len);
  if (!s) return wp_err_return(L, WP_KIND_INTERNAL, "out of memory");
  struct inst *g = lua_newuserdatauv(L, sizeof *g, 1); /* uv 1: its subscriptions */
  g->s = s;
  g->released = 0;
  luaL_setmetatable(L, INST_MT);
  return 1;
}

/* ---- join and leave ---- */

/* The group names of argument 2 (a name or an array of names), into
** arrays kept on the stack; their number, or 0 with nil, err pushed. */
static size_t names_arg(lua_State *L, const char ***names, size_t **lens) {
  const char *why = NULL;
  size_t n = 1;
  if (lua_type(L, 2) == LUA_TTABLE) {
    n = (size_t)lua_rawlen(L, 2);
    if (n == 0) why = "no group names given";
  } else if (lua_type(L, 2) != LUA_TSTRING) {
    why = "group must be a name or an array of names";
  }
  if (!why) {
    *names = lua_newuserdatauv(L, n * sizeof **names, 0);
    *lens = lua_newuserdatauv(L, n * sizeof **lens, 0);
    for (size_t i = 0; i < n && !why; i++) {
      int idx = 2;
      if (lua_type(L, 2) == LUA_TTABLE) {
        lua_rawgeti(L, 2, (lua_Integer)i + 1); /* kept: the table holds it too */
        idx = lua_gettop(L);
      }
      (*names)[i] = group_arg(L, idx, &(*lens)[i], &why);
      if (idx != 2) lua_pop(L, 1);
    }
  }
  if (!why) return n;
  lua_pushnil(L);
  wp_err_push(L, WP_KIND_INVALID, why, -1);
  return 0;
}

static int join_or_leave(lua_State *L, int join) {
  struct inst *g = check_open(L);
  if (!g) return 2;
  const char **names;
  size_t *lens, n = names_arg(L, &names, &lens);
  if (!n) return 2;
  struct wp_vmproc *vp = self(L);
  char err[400];
  int rc = join ? wp_pg_join(vp->rt->pg, g->s, vp, names, lens, n, err, sizeof err)
                : wp_pg_leave(vp->rt->pg, g->s, vp, names, lens, n, err, sizeof err);
  if (rc == WP_PG_OK) {
    lua_pushboolean(L, 1);
    return 1;
  }
  return wp_err_return(L, rc == WP_PG_NOMEM ? WP_KIND_INTERNAL : WP_KIND_INVALID, err);
}

static int g_join(lua_State *L) { return join_or_leave(L, 1); }
static int g_leave(lua_State *L) { return join_or_leave(L, 0); }

/* ---- queries ---- */

static int members(lua_State *L, int local) {
  struct inst *g = check_open(L);
  if (!g) return 2;
  const char *why;
  size_t glen;
  const char *group = group_arg(L, 2, &glen, &why);
  if (!group) return wp_err_return(L, WP_KIND_INVALID, why);
  struct wp_buf b = WP_BUF_INIT;
  size_t n;
  struct wp_vmproc *vp = self(L);
  if (wp_pg_members(vp->rt->pg, g->s, group, glen, local, &b, &n)) {
    wp_buf_free(&b);
    return wp_err_return(L, WP_KIND_INTERNAL, "out of memory");
  }
  push_buf(L, &b, n, 0);
  return 1;
}

static int g_get_members(lua_State *L) { return members(L, 0); }
static int g_get_local_members(lua_State *L) { return members(L, 1); }

static int groups(lua_State *L, int local) {
  struct inst *g = check_open(L);
  if (!g) return 2;
  struct wp_buf b = WP_BUF_INIT;
  size_t n;
  if (wp_pg_groups(self(L)->rt->pg, g->s, local, &b, &n)) {
    wp_buf_free(&b);
    return wp_err_return(L, WP_KIND_INTERNAL, "out of memory");
  }
  push_buf(L, &b, n, 0);
  return 1;
}

static int g_which_groups(lua_State *L) { return groups(L, 0); }
static int g_which_local_groups(lua_State *L) { return groups(L, 1); }

/* ---- broadcast ---- */

/* Sends topic and the values after it to every member (this node's only
** with `local`), each a normal message from the caller. Best effort: a
** member that ended meanwhile, or whose node departed, is skipped. */
static int broadcast(lua_State *L, int local) {
  struct inst *g = check_open(L);
  if (!g) return 2;
  const char *why;
  size_t glen, tlen;
  const char *group = group_arg(L, 2, &glen, &why);
  if (!group) return wp_err_return(L, WP_KIND_INVALID, why);
  const char *topic = luaL_checklstring(L, 3, &tlen);
  if (tlen > 0 && topic[0] == '@') return wp_err_return(L, WP_KIND_INVALID, "cannot send to @ topics");
  struct wp_vmproc *vp = self(L);
  struct wp_rt *rt = vp->rt;
  int nv = lua_gettop(L) - 3;
  struct wp_buf payload = WP_BUF_INIT, pids = WP_BUF_INIT;
  const char *cerr;
  if (nv > 0 && wp_codec_encode(L, 4, nv, &payload, rt->limits, &cerr) != 0) {
    wp_buf_free(&payload);
    return wp_err_return(L, WP_KIND_INVALID, cerr);
  }
  size_t n;
  const char *fail_kind = NULL, *fail_msg = NULL;
  size_t big = 0, limit = 0;
  if (wp_pg_members(rt->pg, g->s, group, glen, local, &pids, &n)) {
    fail_kind = WP_KIND_INTERNAL;
    fail_msg = "out of memory";
    n = 0;
  }
  const char *dest = (const char *)pids.data;
  for (size_t i = 0; i < n; i++, dest += strlen(dest) + 1) {
    size_t len = strlen(dest);
    const char *kind, *err;
    struct wp_proc *p = wp_rt_resolve(rt, dest, len, &kind, &err);
    if (!p) {
      if (err != wp_rt_node_down || !rt->remote_send) continue; /* ended meanwhile */
      size_t nl = 0, size = 0, lim = 0;
      const char *node = wp_pid_node(dest, len, &nl);
      int r = rt->remote_send(rt, WP_MSG_USER, node, nl, vp->p->pid, vp->p->pid_len, dest, len,
                              topic, tlen, payload.data, payload.len, &size, &lim);
      if (r == WP_RT_REMOTE_TOO_LARGE) {
        big = size;
        limit = lim;
      } else if (r == WP_RT_REMOTE_NOMEM) {
        fail_kind = WP_KIND_INTERNAL;
        fail_msg = "out of memory";
      } /* WP_RT_REMOTE_DOWN: its node departed; its members leave soon */
      continue;
    }
    struct wp_host *h = p->host;
    if (p == vp->p || !atomic_load(&h->stopping)) { /* a stopping host takes none */
      struct wp_msg *m = wp_msg_new(WP_MSG_USER, vp->p->pid, vp->p->pid_len, topic, tlen,
                                    payload.data, payload.len);
      if (m) {
        wp_proc_deliver(p, m);
      } else {
        fail_kind = WP_KIND_INTERNAL;
        fail_msg = "out of memory";
      }
    }
    wp_proc_release(p);
  }
  wp_buf_free(&payload);
  wp_buf_free(&pids);
  if (big) {
    lua_pushfstring(L, "message too large for the cluster transport (%I bytes, limit %I)",
                    (lua_Integer)big, (lua_Integer)limit);
    return wp_err_return(L, WP_KIND_INVALID, lua_tostring(L, -1));
  }
  if (fail_kind) return wp_err_return(L, fail_kind, fail_msg);
  lua_pushboolean(L, 1);
  return 1;
}

static int g_broadcast(lua_State *L) { return broadcast(L, 0); }
static int g_broadcast_local(lua_State *L) { return broadcast(L, 1); }

/* ---- subscriptions ---- */

/* The failure of monitor or events: nil, nil, err (the error of kind and
** msg, or, with kind NULL, the nil, err at the top of L). */
static int sub_fail(lua_State *L, const char *kind, const char *msg) {
  if (kind) wp_err_return(L, kind, msg);
  lua_pushnil(L);
  lua_insert(L, -3);
  return 3;
}

/* monitor(group) / events(): sub, snapshot, nil; or nil, nil, err. */
static int subscribe(lua_State *L, int all) {
  struct inst *g = check_open(L);
  if (!g) return sub_fail(L, NULL, NULL);
  const char *group = NULL, *why;
  size_t glen = 0;
  if (!all && !(group = group_arg(L, 2, &glen, &why))) return sub_fail(L, WP_KIND_INVALID, why);
  struct wp_vmproc *vp = self(L);
  /* everything that may raise comes first: the subscription object (3),
  ** its channel (4), its place among the instance's, the channel's anchor */
  lua_settop(L, 2);
  struct sub *u = lua_newuserdatauv(L, sizeof *u, 1); /* uv 1: the channel */
  u->id = 0;
  u->closed = 1;
  luaL_setmetatable(L, SUB_MT);
  struct wp_chan *c = wp_chan_new(L, 1, WP_CHAN_LISTEN);
  lua_pushvalue(L, 4);
  lua_setiuservalue(L, 3, 1);
  if (lua_getiuservalue(L, 1, 1) != LUA_TTABLE) { /* the instance's subscriptions */
    lua_pop(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, 1);
  }
  lua_pushvalue(L, 3);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  lua_pushvalue(L, 4);
  int ref = luaL_ref(L, LUA_REGISTRYINDEX);
  struct wp_listener *l = wp_malloc(sizeof *l + WP_PG_TOPIC_MAX);
  struct wp_buf b = WP_BUF_INIT;
  uint64_t id;
  if (!l || wp_pg_subscribe(vp->rt->pg, g->s, vp, group, glen, &id, &b)) {
    wp_free(l);
    wp_buf_free(&b);
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    return sub_fail(L, WP_KIND_INTERNAL, "out of memory");
  }
  /* Its listener: the subscription's messages go to the channel, as
  ** values. None can have been routed yet: routing runs on this thread. */
  l->ref = ref;
  l->chan = c;
  l->raw = 1;
  l->tlen = wp_pg_topic(id, l->topic);
  l->next = vp->listeners;
  vp->listeners = l;
  wp_chan_set_listener(c, l);
  u->id = id;
  u->closed = 0;
  lua_settop(L, 3);
  size_t n = 0;
  if (!all)
    for (size_t i = 0; i < b.len; i++) n += b.data[i] == '\0';
  push_buf(L, &b, n, all);
  lua_pushnil(L);
  return 3;
}

static int g_monitor(lua_State *L) { return subscribe(L, 0); }
static int g_events(lua_State *L) { return subscribe(L, 1); }

/* Ends subscription u (at index idx): in the table, then its listener and
** what it had received, then its channel (closed: receivers get nil). */
static void sub_close(lua_State *L, int idx, struct sub *u) {
  if (u->closed) return;
  u->closed = 1;
  struct wp_vmproc *vp = self(L);
  wp_pg_unsubscribe(vp->rt->pg, vp, u->id);
  lua_getiuservalue(L, idx, 1);
  struct wp_chan *c = wp_chan_check(L, -1);
  for (struct wp_listener **pp = &vp->listeners; *pp; pp = &(*pp)->next) {
    struct wp_listener *l = *pp;
    if (l->chan != c) continue;
    struct wp_msg *m;
    while ((m = wp_vm_take_user(vp, l))) wp_msg_free(m);
    *pp = l->next;
    luaL_unref(L, LUA_REGISTRYINDEX, l->ref);
    wp_chan_set_listener(c, NULL);
    wp_free(l);
    break;
  }
  wp_chan_close(L, c);
  lua_pop(L, 1);
}

static int s_channel(lua_State *L) {
  luaL_checkudata(L, 1, SUB_MT);
  lua_getiuservalue(L, 1, 1);
  return 1;
}

static int s_close(lua_State *L) {
  struct sub *u = luaL_checkudata(L, 1, SUB_MT);
  sub_close(L, 1, u);
  lua_pushboolean(L, 1);
  return 1;
}

static int g_release(lua_State *L) {
  struct inst *g = luaL_checkudata(L, 1, INST_MT);
  if (g->released) {
    lua_pushboolean(L, 1);
    return 1;
  }
  g->released = 1;
  if (lua_getiuservalue(L, 1, 1) == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_pop(L, 1);
      sub_close(L, lua_gettop(L), luaL_checkudata(L, -1, SUB_MT));
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int inst_tostring(lua_State *L) {
  struct inst *g = luaL_checkudata(L, 1, INST_MT);
  lua_pushfstring(L, "pg.Group(%s)%s", wp_pg_scope_id(g->s), g->released ? " released" : "");
  return 1;
}

/* ---- the module ---- */

static void metatables(lua_State *L) {
  static const luaL_Reg inst_m[] = {{"join", g_join},
                                    {"leave", g_leave},
                                    {"get_members", g_get_members},
                                    {"get_local_members", g_get_local_members},
                                    {"which_groups", g_which_groups},
                                    {"which_local_groups", g_which_local_groups},
                                    {"broadcast", g_broadcast},
                                    {"broadcast_local", g_broadcast_local},
                                    {"monitor", g_monitor},
                                    {"events", g_events},
                                    {"release", g_release},
                                    {NULL, NULL}};
  static const luaL_Reg sub_m[] = {{"channel", s_channel}, {"close", s_close}, {NULL, NULL}};
  if (luaL_newmetatable(L, INST_MT)) {
    luaL_newlib(L, inst_m);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, inst_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, SUB_MT)) {
    luaL_newlib(L, sub_m);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
}

static int l_open_entry(lua_State *L) {
  metatables(L);
  return l_open(L);
}

static const struct wp_libentry entries[] = {WP_LF("open", l_open_entry), WP_LEND};
const struct wp_libdef wp_lib_pg = {"pg", entries, NULL};
