/*
** registry.c: the `registry` module (spec 10 §1): read access to the
** entries loaded from the definition files: parse_id, get, find with the
** whole criteria syntax, and snapshots, versions and a history.
**
** Design
** ------
** The entries come as rt->regview (vm.h): plain structs pointing at the
** entries' id, kind and meta and data trees, sorted by id, built by cli/
** after the entries are loaded and overridden and before any process
** runs. Nothing changes them afterwards (mutation is out of scope, §1.6),
** so every worker thread reads them without a lock. A NULL view is an
** empty registry. Every call builds fresh Lua tables from the trees
** (wp_rt_push_node), so what an app does to a result affects nothing.
**
** Entry tables are {id, kind, meta, data}: meta is {} when the entry has
** none; data is absent when the entry has no other keys (the view holds no
** data tree then). `get` is a binary search; a bare name is looked up as
** ":name", which no entry has (every definition file has a namespace).
**
** find. The criteria table is read into an array of criteria first, then
** every entry is tested against all of them, and only then are the
** results made. Reading the table (lua_next, lua_tolstring on strings)
** and matching allocate nothing in Lua, so nothing can raise while POSIX
** regular expressions (regcomp: C memory) are compiled: they are freed
** before the first Lua allocation that could fail. The criteria and the
** list of matches live in two Lua userdata made before any regcomp, so a
** memory error leaves nothing behind. Key strings stay valid because the
** criteria table is held at argument 1 and no Lua code runs meanwhile.
**
** Criteria (all must hold): `.kind`, `.ns`, `.name`, `.id` with a glob
** (each `*` any run of bytes; other bytes exact); `meta.F` equality, with
** F taken literally as one top-level meta key: strings and booleans by
** value, numbers by value across integers and floats (3 == 3.0, as Lua's
** ==), a table never equal; `~meta.F` a POSIX extended expression
** searched (unanchored) in a string field; `*meta.F` a string field
** containing the value, or an array field with a string element
** containing it; `^meta.F` / `$meta.F` prefix / suffix of a string field.
** Ignored, as Wippy does, with a warning in the log: a key of any other
** form, a root or operator key whose value is not a string, and an
** expression that does not compile. A key whose value is the wrong type
** is therefore never an error: the app asked for a filter that does not
** exist, and gets the entries as if it had not asked.
**
** Versions. The registry never changes after boot, so there is one
** version, REG_VERSION, the boot state (the simplification of §1.7):
** current_version() and versions() give it, previous()/next() are nil,
** snapshot_at(REG_VERSION) and every snapshot show the same entries, any
** other id > 0 is NotFound. history() gives a History over that one
** version. Snapshot, Version and History are small userdata without
** finalisers; their metatables are made in a process's state on first use.
** s:changes() and the other mutation calls are not offered.
**
** Errors are error objects with retryable() == false and the messages of
** §1.5; a wrong argument type raises (luaL_check*: as in every Lua
** library, a number is accepted where a string is asked for).
*/
#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errobj.h"
#include "log.h"
#include "modules.h"

/* The id of the one version: the boot state. */
#define REG_VERSION 1

#define SNAP_MT "registry.Snapshot"
#define VER_MT "registry.Version"
#define HIST_MT "registry.History"

static const struct wp_regview EMPTY = {NULL, 0};

static const struct wp_regview *view(lua_State *L) {
  const struct wp_regview *rv = wp_vm_self(L)->rt->regview;
  return rv ? rv : &EMPTY;
}

static int fail(lua_State *L, const char *kind, const char *msg, size_t len) {
  lua_pushnil(L);
  wp_err_pushl(L, kind, msg, len, 0);
  return 2;
}

/* {==================================================================
** Entries
** =================================================================== */

static void push_entry(lua_State *L, const struct wp_regentry *e) {
  luaL_checkstack(L, 3, NULL);
  lua_createtable(L, 0, 4);
  lua_pushstring(L, e->id);
  lua_setfield(L, -2, "id");
  lua_pushstring(L, e->kind);
  lua_setfield(L, -2, "kind");
  if (e->meta)
    wp_rt_push_node(L, e->meta);
  else
    lua_createtable(L, 0, 0);
  lua_setfield(L, -2, "meta");
  if (e->data) {
    wp_rt_push_node(L, e->data);
    lua_setfield(L, -2, "data");
  }
}

static int id_cmp(const void *key, const void *elem) {
  return strcmp(key, ((const struct wp_regentry *)elem)->id);
}

/* The entry whose id is s (len bytes), or NULL. */
static const struct wp_regentry *lookup(const struct wp_regview *rv, const char *s,
                                        size_t len) {
  if (rv->n == 0 || strlen(s) != len) return NULL; /* ids hold no NUL */
  return bsearch(s, rv->v, rv->n, sizeof *rv->v, id_cmp);
}

/* get(id) within rv, for registry.get and s:get. */
static int get_in(lua_State *L, const struct wp_regview *rv, int arg) {
  size_t len;
  const char *id = luaL_checklstring(L, arg, &len);
  if (!memchr(id, ':', len)) { /* a bare name: the empty namespace */
    lua_pushliteral(L, ":");
    lua_pushvalue(L, arg);
    lua_concat(L, 2);
    id = lua_tolstring(L, -1, &len);
  }
  const struct wp_regentry *e = lookup(rv, id, len);
  if (e) {
    push_entry(L, e);
    return 1;
  }
  lua_pushliteral(L, "entry not found: ");
  lua_pushlstring(L, id, len);
  lua_concat(L, 2);
  const char *msg = lua_tolstring(L, -1, &len);
  return fail(L, WP_KIND_NOT_FOUND, msg, len);
}

static int r_get(lua_State *L) { return get_in(L, view(L), 1); }

static int r_parse_id(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  const char *colon = memchr(s, ':', len);
  lua_createtable(L, 0, 2);
  if (colon) {
    lua_pushlstring(L, s, (size_t)(colon - s));
    lua_setfield(L, -2, "ns");
    lua_pushlstring(L, colon + 1, len - (size_t)(colon - s) - 1);
  } else {
    lua_pushliteral(L, "");
    lua_setfield(L, -2, "ns");
    lua_pushvalue(L, 1);
  }
  lua_setfield(L, -2, "name");
  return 1;
}

/* }================================================================== */

/* {==================================================================
** find
** =================================================================== */

enum crit_op { C_KIND, C_NS, C_NAME, C_ID, C_EQ, C_RE, C_HAS, C_PREFIX, C_SUFFIX };

struct crit {
  int op;
  const char *field;    /* meta key (C_EQ and later), NUL-terminated */
  const char *s;        /* a string value */
  size_t len;
  int vtype;            /* C_EQ: the value's Lua type */
  int b;                /* LUA_TBOOLEAN */
  int is_int;           /* LUA_TNUMBER */
  lua_Integer i;
  lua_Number f;
  int re_ok;            /* C_RE: re compiled (regfree it) */
  regex_t re;
};

/* Whether s (len bytes) matches the glob p (plen bytes): each '*' matches
** any run of bytes, other bytes themselves. Greedy with one backtrack
** point, the last '*' seen: linear in practice, O(len * plen) at worst. */
static int glob(const char *p, size_t plen, const char *s, size_t len) {
  size_t pi = 0, si = 0, star = SIZE_MAX, mark = 0;
  while (si < len) {
    if (pi < plen && p[pi] == '*') {
      star = pi++;
      mark = si;
    } else if (pi < plen && p[pi] == s[si]) {
      pi++;
      si++;
    } else if (star != SIZE_MAX) {
      pi = star + 1;
      si = ++mark;
    } else {
      return 0;
    }
  }
  while (pi < plen && p[pi] == '*') pi++;
  return pi == plen;
}

/* Whether the float f equals the integer i exactly (as Lua's ==). */
static int num_eq_int(lua_Number f, lua_Integer i) {
  if (f != floor(f) || f < -9223372036854775808.0 || f >= 9223372036854775808.0) return 0;
  return (lua_Integer)f == i;
}

static int eq_node(const struct crit *c, const struct wp_node *n) {
  switch (n->type) {
    case WP_NODE_STR:
      return c->vtype == LUA_TSTRING && n->u.str.len == c->len &&
             memcmp(n->u.str.s, c->s, c->len) == 0;
    case WP_NODE_BOOL: return c->vtype == LUA_TBOOLEAN && !n->u.b == !c->b;
    case WP_NODE_INT:
      if (c->vtype != LUA_TNUMBER) return 0;
      return c->is_int ? n->u.i == c->i : num_eq_int(c->f, n->u.i);
    case WP_NODE_FLOAT:
      if (c->vtype != LUA_TNUMBER) return 0;
      return c->is_int ? num_eq_int(n->u.f, c->i) : n->u.f == c->f;
    default: return 0; /* null, sequences and maps equal no Lua value here */
  }
}

static int contains(const struct wp_node *n, const struct crit *c) {
  return n->type == WP_NODE_STR && c->len <= n->u.str.len &&
         (c->len == 0 || memmem(n->u.str.s, n->u.str.len, c->s, c->len) != NULL);
}

static int crit_holds(const struct crit *c, const struct wp_regentry *e) {
  size_t idlen = strlen(e->id);
  switch (c->op) {
    case C_KIND: return glob(c->s, c->len, e->kind, strlen(e->kind));
    case C_NS: return glob(c->s, c->len, e->id, e->nslen);
    case C_NAME: return glob(c->s, c->len, e->id + e->nslen + 1, idlen - e->nslen - 1);
    case C_ID: return glob(c->s, c->len, e->id, idlen);
    default: break;
  }
  const struct wp_node *n = wp_node_get(e->meta, c->field);
  if (!n) return 0;
  if (c->op == C_EQ) return eq_node(c, n);
  if (c->op == C_HAS && n->type == WP_NODE_SEQ) {
    for (size_t i = 0; i < n->u.seq.n; i++)
      if (contains(n->u.seq.items[i], c)) return 1;
    return 0;
  }
  if (n->type != WP_NODE_STR) return 0;
  switch (c->op) {
    case C_RE: return regexec(&c->re, n->u.str.s, 0, NULL, 0) == 0;
    case C_HAS: return contains(n, c);
    case C_PREFIX: return c->len <= n->u.str.len && memcmp(n->u.str.s, c->s, c->len) == 0;
    case C_SUFFIX:
      return c->len <= n->u.str.len &&
             memcmp(n->u.str.s + n->u.str.len - c->len, c->s, c->len) == 0;
    default: return 0;
  }
}

/* Reads key k (len bytes) and the value at the top of L into c. 1 when it
** is a criterion, 0 when it is ignored. Allocates nothing in Lua. */
static int crit_read(lua_State *L, const char *k, size_t len, struct crit *c) {
  static const struct {
    const char *key;
    int op;
  } roots[] = {{".kind", C_KIND}, {".ns", C_NS}, {".name", C_NAME}, {".id", C_ID}};
  static const char ops[] = "~*^$";
  static const int opcodes[] = {C_RE, C_HAS, C_PREFIX, C_SUFFIX};
  memset(c, 0, sizeof *c);
  int vt = lua_type(L, -1);
  if (strlen(k) != len) goto ignored; /* no meta key holds a NUL */
  for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++) {
    if (strcmp(k, roots[i].key) != 0) continue;
    if (vt != LUA_TSTRING) goto ignored;
    c->op = roots[i].op;
    c->s = lua_tolstring(L, -1, &c->len);
    return 1;
  }
  const char *op = len > 0 ? strchr(ops, k[0]) : NULL;
  const char *rest = op ? k + 1 : k;
  if (strncmp(rest, "meta.", 5) != 0) goto ignored;
  c->field = rest + 5;
  c->vtype = vt;
  if (!op) {
    c->op = C_EQ;
    if (vt == LUA_TSTRING) {
      c->s = lua_tolstring(L, -1, &c->len);
    } else if (vt == LUA_TBOOLEAN) {
      c->b = lua_toboolean(L, -1);
    } else if (vt == LUA_TNUMBER) {
      c->is_int = lua_isinteger(L, -1);
      if (c->is_int)
        c->i = lua_tointeger(L, -1);
      else
        c->f = lua_tonumber(L, -1);
    }
    return 1;
  }
  if (vt != LUA_TSTRING) goto ignored;
  c->op = opcodes[op - ops];
  c->s = lua_tolstring(L, -1, &c->len);
  if (c->op != C_RE) return 1;
  int rc = regcomp(&c->re, c->s, REG_EXTENDED | REG_NOSUB);
  if (rc == 0) {
    c->re_ok = 1;
    return 1;
  }
  char why[128];
  regerror(rc, &c->re, why, sizeof why);
  wp_logf(WP_LOG_WARN, "registry.find: criterion %s ignored: invalid expression \"%s\": %s",
          k, c->s, why);
  return 0;
ignored:
  wp_logf(WP_LOG_WARN,
          "registry.find: criterion %s ignored (keys: .kind, .ns, .name, .id with a string; "
          "meta.<field>, ~meta., *meta., ^meta., $meta.<field>)",
          len == strlen(k) ? k : "(a key with a NUL byte)");
  return 0;
}

/* find(criteria) within rv; criteria at index arg. Pushes the array. */
static void find_in(lua_State *L, const struct wp_regview *rv, int arg) {
  luaL_checktype(L, arg, LUA_TTABLE);
  size_t nkeys = 0;
  lua_pushnil(L);
  while (lua_next(L, arg) != 0) {
    nkeys++;
    lua_pop(L, 1);
  }
  /* every Lua allocation before the first regcomp (see the design note) */
  struct crit *cs = lua_newuserdatauv(L, nkeys * sizeof *cs, 0);
  size_t *hits = lua_newuserdatauv(L, rv->n * sizeof *hits, 0);
  size_t nc = 0, nhits = 0;
  lua_pushnil(L);
  while (lua_next(L, arg) != 0) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      size_t len;
      const char *k = lua_tolstring(L, -2, &len);
      if (crit_read(L, k, len, &cs[nc])) nc++;
    } else {
      wp_logf(WP_LOG_WARN, "registry.find: a criterion whose key is a %s ignored",
              luaL_typename(L, -2));
    }
    lua_pop(L, 1);
  }
  for (size_t i = 0; i < rv->n; i++) {
    size_t j = 0;
    while (j < nc && crit_holds(&cs[j], &rv->v[i])) j++;
    if (j == nc) hits[nhits++] = i;
  }
  for (size_t j = 0; j < nc; j++)
    if (cs[j].re_ok) regfree(&cs[j].re);
  lua_createtable(L, nhits > INT32_MAX ? 0 : (int)nhits, 0);
  for (size_t i = 0; i < nhits; i++) {
    push_entry(L, &rv->v[hits[i]]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_replace(L, -3);
  lua_pop(L, 1);
}

static int r_find(lua_State *L) {
  find_in(L, view(L), 1);
  return 1;
}

/* }================================================================== */

/* {==================================================================
** Snapshot, Version, History
** =================================================================== */

struct snap {
  const struct wp_regview *rv;
  lua_Integer version;
};

static void push_version(lua_State *L, lua_Integer id);
static void push_snapshot(lua_State *L, lua_Integer version);

static lua_Integer *check_version(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, VER_MT);
}

static int v_id(lua_State *L) {
  lua_pushinteger(L, *check_version(L, 1));
  return 1;
}

static int v_string(lua_State *L) {
  lua_pushfstring(L, "v%I", (LUAI_UACINT)*check_version(L, 1));
  return 1;
}

/* previous() and next(): the one version has neither. */
static int v_none(lua_State *L) {
  check_version(L, 1);
  lua_pushnil(L);
  return 1;
}

static int v_tostring(lua_State *L) {
  lua_pushfstring(L, "registry.Version{v%I}", (LUAI_UACINT)*check_version(L, 1));
  return 1;
}

static int v_eq(lua_State *L) {
  lua_Integer *a = luaL_testudata(L, 1, VER_MT), *b = luaL_testudata(L, 2, VER_MT);
  lua_pushboolean(L, a && b && *a == *b);
  return 1;
}

static struct snap *check_snap(lua_State *L) { return luaL_checkudata(L, 1, SNAP_MT); }

static int s_entries(lua_State *L) {
  const struct wp_regview *rv = check_snap(L)->rv;
  lua_createtable(L, rv->n > INT32_MAX ? 0 : (int)rv->n, 0);
  for (size_t i = 0; i < rv->n; i++) {
    push_entry(L, &rv->v[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_pushnil(L);
  return 2;
}

static int s_get(lua_State *L) { return get_in(L, check_snap(L)->rv, 2); }

static int s_find(lua_State *L) {
  find_in(L, check_snap(L)->rv, 2);
  return 1;
}

static int s_namespace(lua_State *L) {
  const struct wp_regview *rv = check_snap(L)->rv;
  size_t len;
  const char *ns = luaL_checklstring(L, 2, &len);
  lua_createtable(L, 0, 0);
  lua_Integer k = 0;
  for (size_t i = 0; i < rv->n; i++) {
    const struct wp_regentry *e = &rv->v[i];
    if (e->nslen != len || memcmp(e->id, ns, len) != 0) continue;
    push_entry(L, e);
    lua_rawseti(L, -2, ++k);
  }
  return 1;
}

static int s_version(lua_State *L) {
  push_version(L, check_snap(L)->version);
  return 1;
}

static int s_tostring(lua_State *L) {
  lua_pushfstring(L, "registry.Snapshot{version=v%I}", (LUAI_UACINT)check_snap(L)->version);
  return 1;
}

/* Pushes a new metatable for tname with these methods under __index, or
** the one made before. */
static void push_mt(lua_State *L, const char *tname, const luaL_Reg *methods,
                    lua_CFunction tostring, lua_CFunction eq) {
  if (!luaL_newmetatable(L, tname)) return;
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, tostring);
  lua_setfield(L, -2, "__tostring");
  if (eq) {
    lua_pushcfunction(L, eq);
    lua_setfield(L, -2, "__eq");
  }
}

static void push_version(lua_State *L, lua_Integer id) {
  static const luaL_Reg methods[] = {{"id", v_id},         {"string", v_string},
                                     {"previous", v_none}, {"next", v_none},
                                     {NULL, NULL}};
  lua_Integer *v = lua_newuserdatauv(L, sizeof *v, 0);
  *v = id;
  push_mt(L, VER_MT, methods, v_tostring, v_eq);
  lua_setmetatable(L, -2);
}

static void push_snapshot(lua_State *L, lua_Integer version) {
  static const luaL_Reg methods[] = {{"entries", s_entries},     {"get", s_get},
                                     {"namespace", s_namespace}, {"find", s_find},
                                     {"version", s_version},     {NULL, NULL}};
  struct snap *s = lua_newuserdatauv(L, sizeof *s, 0);
  s->rv = view(L);
  s->version = version;
  push_mt(L, SNAP_MT, methods, s_tostring, NULL);
  lua_setmetatable(L, -2);
}

/* The snapshot at version n (a number at idx), or nil and the error of
** §1.5. zero_ok: 0 is not Invalid (History's rule, n < 0). */
static int snapshot_at(lua_State *L, int idx, int versions_only, int zero_ok) {
  lua_Number n = luaL_checknumber(L, idx);
  if (n < 0 || (n == 0 && !zero_ok))
    return fail(L, WP_KIND_INVALID, "invalid version ID", 18);
  if (n != REG_VERSION) return fail(L, WP_KIND_NOT_FOUND, "version not found", 17);
  if (versions_only)
    push_version(L, REG_VERSION);
  else
    push_snapshot(L, REG_VERSION);
  return 1;
}

static int r_snapshot(lua_State *L) {
  push_snapshot(L, REG_VERSION);
  return 1;
}

static int r_snapshot_at(lua_State *L) { return snapshot_at(L, 1, 0, 0); }

static int r_current_version(lua_State *L) {
  push_version(L, REG_VERSION);
  return 1;
}

static int r_versions(lua_State *L) {
  lua_createtable(L, 1, 0);
  push_version(L, REG_VERSION);
  lua_rawseti(L, -2, 1);
  return 1;
}

static void check_history(lua_State *L) { luaL_checkudata(L, 1, HIST_MT); }

static int h_versions(lua_State *L) {
  check_history(L);
  return r_versions(L);
}

static int h_get_version(lua_State *L) {
  check_history(L);
  return snapshot_at(L, 2, 1, 1);
}

/* h:snapshot_at(version): a Version, or its number. */
static int h_snapshot_at(lua_State *L) {
  check_history(L);
  lua_Integer *v = luaL_testudata(L, 2, VER_MT);
  if (!v) return snapshot_at(L, 2, 0, 0);
  if (*v != REG_VERSION) return fail(L, WP_KIND_NOT_FOUND, "version not found", 17);
  push_snapshot(L, *v);
  return 1;
}

static int h_tostring(lua_State *L) {
  check_history(L);
  lua_pushliteral(L, "registry.History{}");
  return 1;
}

static int r_history(lua_State *L) {
  static const luaL_Reg methods[] = {{"versions", h_versions},
                                     {"get_version", h_get_version},
                                     {"snapshot_at", h_snapshot_at},
                                     {NULL, NULL}};
  lua_newuserdatauv(L, 1, 0);
  push_mt(L, HIST_MT, methods, h_tostring, NULL);
  lua_setmetatable(L, -2);
  return 1;
}

/* }================================================================== */

static const struct wp_libentry registry_entries[] = {
    WP_LF("parse_id", r_parse_id),
    WP_LF("get", r_get),
    WP_LF("find", r_find),
    WP_LF("snapshot", r_snapshot),
    WP_LF("snapshot_at", r_snapshot_at),
    WP_LF("current_version", r_current_version),
    WP_LF("versions", r_versions),
    WP_LF("history", r_history),
    WP_LEND};
const struct wp_libdef wp_lib_registry = {"registry", registry_entries, NULL};
