/*
** env.c: the `env` module (spec 10 §9.1): environment variables declared as
** registry entries (`env.variable`) and kept in storages (`env.storage.*`).
**
** Design
** ------
** The index. wp_env_init reads rt->regview once at boot, before any process
** runs, and builds struct wp_env: the storages and the variables, both in
** the view's order (sorted by id, so bsearch finds them), and the variables
** with a public name sorted by that name. Every reference is checked there,
** so a bad entry stops the boot with "FILE:LINE: ..." instead of surfacing
** as a NotFound at first use: a variable without `storage`, naming no entry
** or an entry that is no storage this runtime has, a public name that is
** not letters/digits/`_` or is taken by another variable (the spec says
** unique), a `default` or static value that is not a scalar, a router
** whose `storages` is empty or forms a cycle. Storage references are entry
** ids; a bare name means the referring entry's namespace. Apart from the
** memory storages' values nothing in the index changes after boot, so any
** worker thread reads it without a lock. The strings it borrows (ids,
** public names, map keys) belong to the entries, which live until exit.
**
** Storages. os: getenv, read-only (nothing in the runtime calls setenv
** after boot, so getenv and environ are safe from any thread). static: its
** `values:` map, scalars turned into strings at boot (as Lua's tostring
** would), sorted by key, read-only. memory: starts empty; env.set writes
** it. Every process of the runtime shares it, on any worker thread, so its
** values sit behind its own mutex, which is never held across a call that
** can raise or yield: a reader sizes a Lua userdata box outside the lock
** and copies the value into it under the lock (retrying if the value grew
** in between), then makes the Lua string from the box. A writer copies the
** new value into C memory before taking the lock. Its keys are variables'
** keys (only a declared variable can be set), borrowed; there are at most
** as many as variables on it, so a linear search does. router: reads try
** its `storages` in order and take the first that holds the key; writes go
** to the first (following routers), read-only unless that is a memory
** storage. env.storage.file is not offered (the spec allows that): a
** variable on one is a boot error.
**
** get(name): a variable whose public name is `name`; else `name` as an
** entry id, a bare name as "<caller's namespace>:<name>" (the caller is
** the entry of the running process or function). Its value is read under
** its public name, or its id when it has none. Missing or empty gives its
** non-empty default, else NotFound. An undeclared name is NotFound even
** when the OS has it (no fallback to the OS environment).
**
** get_all(): every key every storage holds (os: the whole environment),
** declared or not, storages taken in id order, a later one's value
** replacing an earlier one's for the same key; routers add nothing of
** their own (their storages are listed on their own).
**
** Errors are error objects with retryable() == false and the messages the
** spec quotes; a wrong argument type raises (luaL_checklstring: a number is
** accepted where a string is asked for, as in every Lua library).
*/
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "errobj.h"
#include "lazylib.h"
#include "modules.h"
#include "node.h"

extern char **environ;

#define NOT_FOUND_MSG "environment variable not found"

enum st_kind { ST_OS, ST_STATIC, ST_MEMORY, ST_ROUTER };

struct kv {
  const char *k; /* borrowed: a map key (static) or a variable's key (memory) */
  size_t klen;
  char *v; /* owned */
  size_t vlen;
};

struct storage {
  const struct wp_regentry *e;
  enum st_kind kind;
  int mark; /* router cycle check: 0 unseen, 1 on the path, 2 checked */
  /* static: its values, sorted by key; memory: its values, guarded by mu */
  struct kv *kv;
  size_t n, cap;
  pthread_mutex_t mu; /* memory only */
  struct storage **subs; /* router: its storages, in order */
  size_t nsubs;
};

struct var {
  const struct wp_regentry *e;
  const char *pub; /* public name, or NULL */
  const char *key; /* what its storage holds it under: pub, else the id */
  size_t keylen;
  struct storage *st;
  char *def; /* a non-empty default (owned), or NULL */
  int readonly;
};

struct wp_env {
  struct storage *st; /* sorted by id */
  size_t nst;
  struct var *vars; /* sorted by id */
  size_t nvars;
  struct var **pub; /* the variables with a public name, sorted by it */
  size_t npub;
};

/* {==================================================================
** The index (boot)
** =================================================================== */

static int storage_kind(const char *kind, enum st_kind *k) {
  static const char *const names[] = {"env.storage.os", "env.storage.static",
                                      "env.storage.memory", "env.storage.router"};
  for (int i = 0; i < 4; i++)
    if (strcmp(kind, names[i]) == 0) {
      *k = (enum st_kind)i;
      return 1;
    }
  return 0;
}

static int st_cmp(const void *key, const void *elem) {
  return strcmp(key, ((const struct storage *)elem)->e->id);
}

static int var_cmp(const void *key, const void *elem) {
  return strcmp(key, ((const struct var *)elem)->e->id);
}

static int pub_cmp(const void *key, const void *elem) {
  return strcmp(key, (*(struct var *const *)elem)->pub);
}

static int pub_sort(const void *a, const void *b) {
  return strcmp((*(struct var *const *)a)->pub, (*(struct var *const *)b)->pub);
}

static int kv_sort(const void *a, const void *b) {
  return strcmp(((const struct kv *)a)->k, ((const struct kv *)b)->k);
}

static int kv_cmp(const void *key, const void *elem) {
  return strcmp(key, ((const struct kv *)elem)->k);
}

/* The text of a scalar node as Lua's tostring writes it (null: ""), in a
** new string (*out, *len). 0; -1 not a scalar; -2 out of memory. */
static int scalar_text(const struct wp_node *n, char **out, size_t *len) {
  char tmp[64];
  const char *s = tmp;
  size_t l;
  switch (n->type) {
  case WP_NODE_NULL: s = "", l = 0; break;
  case WP_NODE_BOOL: s = n->u.b ? "true" : "false", l = strlen(s); break;
  case WP_NODE_INT: l = (size_t)snprintf(tmp, sizeof tmp, "%" PRId64, n->u.i); break;
  case WP_NODE_FLOAT: l = (size_t)snprintf(tmp, sizeof tmp, "%.14g", n->u.f); break;
  case WP_NODE_STR: s = n->u.str.s, l = n->u.str.len; break;
  default: return -1;
  }
  char *c = wp_malloc(l + 1);
  if (!c) return -2;
  memcpy(c, s, l);
  c[l] = '\0';
  *out = c;
  *len = l;
  return 0;
}

static int re_cmp(const void *key, const void *elem) {
  return strcmp(key, ((const struct wp_regentry *)elem)->id);
}

/* Writes "FILE:LINE: KIND ID: " and the message into err; returns -1. */
static int bad(const struct wp_regentry *e, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int bad(const struct wp_regentry *e, char *err, size_t errlen, const char *fmt, ...) {
  int o = snprintf(err, errlen, "%s:%d: %s %s: ", e->file ? e->file : "?", e->line, e->kind,
                   e->id);
  if (o >= 0 && (size_t)o < errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + o, errlen - (size_t)o, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* The storage that the string node `ref` (key `what` of entry e) names, a
** bare name in e's namespace: 0 with *out, or -1 with the reason in err. */
static int find_storage(const struct wp_env *E, const struct wp_regview *rv,
                        const struct wp_regentry *e, const struct wp_node *ref,
                        const char *what, struct storage **out, char *err, size_t errlen) {
  const char *r = wp_node_str(ref);
  if (!r || !*r || strlen(r) != ref->u.str.len)
    return bad(e, err, errlen, "%s must be a storage entry id (namespace:name)", what);
  char *full = NULL;
  const char *id = r;
  if (!strchr(r, ':')) {
    size_t rl = strlen(r);
    if (!(full = wp_malloc(e->nslen + 1 + rl + 1))) return bad(e, err, errlen, "out of memory");
    memcpy(full, e->id, e->nslen + 1); /* "ns:" */
    memcpy(full + e->nslen + 1, r, rl + 1);
    id = full;
  }
  struct storage *s = E->nst ? bsearch(id, E->st, E->nst, sizeof *E->st, st_cmp) : NULL;
  int rc = 0;
  if (s) {
    *out = s;
  } else {
    const struct wp_regentry *o = bsearch(id, rv->v, rv->n, sizeof *rv->v, re_cmp);
    if (!o)
      rc = bad(e, err, errlen, "%s %s: no such entry", what, id);
    else
      rc = bad(e, err, errlen,
               "%s %s has kind %s, not a storage kind this runtime has (env.storage.os, "
               "env.storage.static, env.storage.memory, env.storage.router)",
               what, id, o->kind);
  }
  wp_free(full);
  return rc;
}

/* Fills a static storage s from its entry's values. */
static int storage_init(struct storage *s, char *err, size_t errlen) {
  const struct wp_regentry *e = s->e;
  if (s->kind != ST_STATIC) return 0;
  const struct wp_node *vals = wp_node_get(e->data, "values");
  if (!vals || vals->type == WP_NODE_NULL) return 0;
  if (vals->type != WP_NODE_MAP) return bad(e, err, errlen, "values must be a map");
  if (vals->u.map.n == 0) return 0;
  if (!(s->kv = wp_calloc(vals->u.map.n, sizeof *s->kv)))
    return bad(e, err, errlen, "out of memory");
  for (size_t i = 0; i < vals->u.map.n; i++) {
    struct kv *p = &s->kv[s->n];
    int rc = scalar_text(vals->u.map.vals[i], &p->v, &p->vlen);
    if (rc == -1)
      return bad(e, err, errlen, "values.%s must be a string, number or boolean",
                 vals->u.map.keys[i]);
    if (rc) return bad(e, err, errlen, "out of memory");
    p->k = vals->u.map.keys[i];
    p->klen = strlen(p->k);
    s->n++;
  }
  qsort(s->kv, s->n, sizeof *s->kv, kv_sort);
  return 0;
}

/* A router's storages, resolved. */
static int router_init(struct wp_env *E, const struct wp_regview *rv, struct storage *s,
                       char *err, size_t errlen) {
  const struct wp_regentry *e = s->e;
  const struct wp_node *list = wp_node_get(e->data, "storages");
  if (!list || list->type != WP_NODE_SEQ || list->u.seq.n == 0)
    return bad(e, err, errlen, "storages must be a non-empty list of storage ids");
  if (!(s->subs = wp_calloc(list->u.seq.n, sizeof *s->subs)))
    return bad(e, err, errlen, "out of memory");
  for (size_t i = 0; i < list->u.seq.n; i++) {
    if (find_storage(E, rv, e, list->u.seq.items[i], "storages item", &s->subs[i], err, errlen))
      return -1;
    s->nsubs++;
  }
  return 0;
}

/* -1 (with err) if a router reaches itself through its storages. */
static int router_acyclic(struct storage *s, char *err, size_t errlen) {
  if (s->kind != ST_ROUTER || s->mark == 2) return 0;
  if (s->mark == 1) return bad(s->e, err, errlen, "its storages lead back to itself");
  s->mark = 1;
  for (size_t i = 0; i < s->nsubs; i++)
    if (router_acyclic(s->subs[i], err, errlen)) return -1;
  s->mark = 2;
  return 0;
}

static int valid_name(const char *s, size_t len) {
  if (len == 0 || strlen(s) != len) return 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_'))
      return 0;
  }
  return 1;
}

static int var_init(struct wp_env *E, const struct wp_regview *rv, struct var *v, char *err,
                    size_t errlen) {
  const struct wp_regentry *e = v->e;
  const struct wp_node *st = wp_node_get(e->data, "storage");
  if (!st) return bad(e, err, errlen, "storage is required (a storage entry id)");
  if (find_storage(E, rv, e, st, "storage", &v->st, err, errlen)) return -1;
  const struct wp_node *pub = wp_node_get(e->data, "variable");
  if (pub && pub->type != WP_NODE_NULL) {
    if (pub->type != WP_NODE_STR || !valid_name(pub->u.str.s, pub->u.str.len))
      return bad(e, err, errlen, "variable must be a name of letters, digits and _");
    v->pub = pub->u.str.s;
  }
  v->key = v->pub ? v->pub : e->id;
  v->keylen = strlen(v->key);
  const struct wp_node *def = wp_node_get(e->data, "default");
  if (def && def->type != WP_NODE_NULL) {
    size_t len;
    int rc = scalar_text(def, &v->def, &len);
    if (rc == -1) return bad(e, err, errlen, "default must be a string, number or boolean");
    if (rc) return bad(e, err, errlen, "out of memory");
    if (len == 0) { /* an empty default is no default (NotFound) */
      wp_free(v->def);
      v->def = NULL;
    }
  }
  const struct wp_node *ro = wp_node_get(e->data, "readonly");
  if (ro && ro->type != WP_NODE_NULL) {
    if (ro->type != WP_NODE_BOOL) return bad(e, err, errlen, "readonly must be true or false");
    v->readonly = ro->u.b;
  }
  return 0;
}

static void env_free(struct wp_env *E) {
  if (!E) return;
  for (size_t i = 0; i < E->nst; i++) {
    struct storage *s = &E->st[i];
    for (size_t j = 0; j < s->n; j++) wp_free(s->kv[j].v);
    wp_free(s->kv);
    wp_free(s->subs);
    if (s->kind == ST_MEMORY) pthread_mutex_destroy(&s->mu);
  }
  for (size_t i = 0; i < E->nvars; i++) wp_free(E->vars[i].def);
  wp_free(E->st);
  wp_free(E->vars);
  wp_free(E->pub);
  wp_free(E);
}

void wp_env_free(struct wp_rt *rt) {
  env_free(rt->env);
  rt->env = NULL;
}

int wp_env_init(struct wp_rt *rt, char *err, size_t errlen) {
  rt->env = NULL;
  const struct wp_regview *rv = rt->regview;
  if (!rv) return 0;
  size_t nst = 0, nvars = 0;
  enum st_kind k;
  for (size_t i = 0; i < rv->n; i++) {
    if (storage_kind(rv->v[i].kind, &k)) nst++;
    if (strcmp(rv->v[i].kind, "env.variable") == 0) nvars++;
  }
  if (nst == 0 && nvars == 0) return 0;
  struct wp_env *E = wp_calloc(1, sizeof *E);
  if (!E || !(E->st = wp_calloc(nst ? nst : 1, sizeof *E->st)) ||
      !(E->vars = wp_calloc(nvars ? nvars : 1, sizeof *E->vars)) ||
      !(E->pub = wp_calloc(nvars ? nvars : 1, sizeof *E->pub))) {
    env_free(E);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  /* storages first (in view order: sorted by id), so references resolve */
  for (size_t i = 0; i < rv->n; i++)
    if (storage_kind(rv->v[i].kind, &k)) {
      struct storage *s = &E->st[E->nst];
      s->e = &rv->v[i];
      s->kind = k;
      if (k == ST_MEMORY && pthread_mutex_init(&s->mu, NULL) != 0) {
        snprintf(err, errlen, "pthread_mutex_init failed");
        env_free(E);
        return -1;
      }
      E->nst++; /* counted once its mutex is made: env_free destroys it */
      if (storage_init(s, err, errlen)) goto fail;
    }
  for (size_t i = 0; i < E->nst; i++)
    if (E->st[i].kind == ST_ROUTER && router_init(E, rv, &E->st[i], err, errlen)) goto fail;
  for (size_t i = 0; i < E->nst; i++)
    if (router_acyclic(&E->st[i], err, errlen)) goto fail;
  for (size_t i = 0; i < rv->n; i++)
    if (strcmp(rv->v[i].kind, "env.variable") == 0) {
      struct var *v = &E->vars[E->nvars++];
      v->e = &rv->v[i];
      if (var_init(E, rv, v, err, errlen)) goto fail;
      if (v->pub) E->pub[E->npub++] = v;
    }
  if (E->npub) qsort(E->pub, E->npub, sizeof *E->pub, pub_sort);
  for (size_t i = 1; i < E->npub; i++)
    if (strcmp(E->pub[i - 1]->pub, E->pub[i]->pub) == 0) {
      const struct wp_regentry *a = E->pub[i - 1]->e, *b = E->pub[i]->e;
      if (a->line > b->line && a->file && b->file && strcmp(a->file, b->file) == 0) {
        const struct wp_regentry *t = a;
        a = b, b = t;
      }
      bad(b, err, errlen, "variable %s is already the public name of %s (%s:%d)",
          E->pub[i]->pub, a->id, a->file ? a->file : "?", a->line);
      goto fail;
    }
  rt->env = E;
  return 0;
fail:
  env_free(E);
  return -1;
}

/* }================================================================== */

/* {==================================================================
** Reading and writing storages
** =================================================================== */

/* The memory storage's value for key, or NULL. Under s->mu. */
static struct kv *mem_find(struct storage *s, const char *key, size_t klen) {
  for (size_t i = 0; i < s->n; i++)
    if (s->kv[i].klen == klen && memcmp(s->kv[i].k, key, klen) == 0) return &s->kv[i];
  return NULL;
}

/* Pushes memory storage s's value for key and returns 1, or pushes nothing
** and returns 0. The value is copied into a Lua box sized outside the lock
** (allocating may raise), then made a string once the lock is released. */
static int mem_push(lua_State *L, struct storage *s, const char *key, size_t klen) {
  size_t cap = 0;
  char *box = NULL;
  for (;;) {
    pthread_mutex_lock(&s->mu);
    const struct kv *e = mem_find(s, key, klen);
    if (!e) {
      pthread_mutex_unlock(&s->mu);
      if (box) lua_pop(L, 1);
      return 0;
    }
    size_t n = e->vlen;
    if (n <= cap || n == 0) {
      if (n) memcpy(box, e->v, n);
      pthread_mutex_unlock(&s->mu);
      lua_pushlstring(L, n ? box : "", n);
      if (box) lua_remove(L, -2);
      return 1;
    }
    pthread_mutex_unlock(&s->mu);
    if (box) lua_pop(L, 1);
    cap = n; /* the value may change again meanwhile: then once more */
    box = lua_newuserdatauv(L, cap, 0);
  }
}

/* Sets t[k] = v for every value of memory storage s (t: an absolute index),
** copied out under the lock as mem_push does: lengths, then the bytes. */
static void mem_push_all(lua_State *L, struct storage *s, int t) {
  size_t cap = 0, n = 0;
  char *box = NULL;
  for (;;) {
    pthread_mutex_lock(&s->mu);
    size_t need = 0;
    for (size_t i = 0; i < s->n; i++) need += 2 * sizeof(size_t) + s->kv[i].klen + s->kv[i].vlen;
    if (need <= cap) {
      char *p = box;
      n = s->n;
      for (size_t i = 0; i < n; i++) {
        const struct kv *e = &s->kv[i];
        memcpy(p, &e->klen, sizeof e->klen);
        memcpy(p + sizeof e->klen, &e->vlen, sizeof e->vlen);
        p += 2 * sizeof(size_t);
        memcpy(p, e->k, e->klen);
        p += e->klen;
        if (e->vlen) memcpy(p, e->v, e->vlen);
        p += e->vlen;
      }
      pthread_mutex_unlock(&s->mu);
      break;
    }
    pthread_mutex_unlock(&s->mu);
    if (box) lua_pop(L, 1);
    cap = need;
    box = lua_newuserdatauv(L, cap, 0);
  }
  const char *p = box;
  for (size_t i = 0; i < n; i++) {
    size_t kl, vl;
    memcpy(&kl, p, sizeof kl);
    memcpy(&vl, p + sizeof kl, sizeof vl);
    p += 2 * sizeof(size_t);
    lua_pushlstring(L, p, kl);
    lua_pushlstring(L, p + kl, vl);
    lua_rawset(L, t);
    p += kl + vl;
  }
  if (box) lua_pop(L, 1);
}

/* Pushes the value storage s holds under key and returns 1, or pushes
** nothing and returns 0. A router asks its storages in order. */
static int st_push(lua_State *L, struct storage *s, const char *key, size_t klen) {
  switch (s->kind) {
  case ST_OS: {
    const char *v = getenv(key); /* keys hold no NUL: they are names or ids */
    if (!v) return 0;
    lua_pushstring(L, v);
    return 1;
  }
  case ST_STATIC: {
    const struct kv *e = s->n ? bsearch(key, s->kv, s->n, sizeof *s->kv, kv_cmp) : NULL;
    if (!e) return 0;
    lua_pushlstring(L, e->v, e->vlen);
    return 1;
  }
  case ST_MEMORY: return mem_push(L, s, key, klen);
  case ST_ROUTER:
    for (size_t i = 0; i < s->nsubs; i++)
      if (st_push(L, s->subs[i], key, klen)) return 1;
    return 0;
  }
  return 0;
}

/* }==================================================================
** The module
** =================================================================== */

static int fail(lua_State *L, const char *kind, const char *msg) {
  lua_pushnil(L);
  wp_err_push(L, kind, msg, 0);
  return 2;
}

static const struct var *by_id(const struct wp_env *E, const char *id, size_t len) {
  if (E->nvars == 0 || strlen(id) != len) return NULL; /* ids hold no NUL */
  return bsearch(id, E->vars, E->nvars, sizeof *E->vars, var_cmp);
}

/* The variable `name` (len bytes, not empty) denotes for the caller of L:
** a public name, else an entry id, a bare name in the caller's namespace. */
static const struct var *resolve(lua_State *L, const char *name, size_t len) {
  const struct wp_env *E = wp_vm_self(L)->rt->env;
  if (!E) return NULL;
  if (E->npub && strlen(name) == len) {
    struct var *const *p = bsearch(name, E->pub, E->npub, sizeof *E->pub, pub_cmp);
    if (p) return *p;
  }
  if (memchr(name, ':', len)) return by_id(E, name, len);
  const struct wp_code *code = wp_vm_self(L)->code;
  const char *colon = code && code->id ? strchr(code->id, ':') : NULL;
  if (!colon) return NULL;
  lua_pushlstring(L, code->id, (size_t)(colon - code->id) + 1); /* "ns:" */
  lua_pushlstring(L, name, len);
  lua_concat(L, 2);
  size_t flen;
  const char *full = lua_tolstring(L, -1, &flen);
  const struct var *v = by_id(E, full, flen);
  lua_pop(L, 1);
  return v;
}

static int env_get(lua_State *L) {
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  if (len == 0) return fail(L, WP_KIND_INVALID, "empty key");
  const struct var *v = resolve(L, name, len);
  if (!v) return fail(L, WP_KIND_NOT_FOUND, NOT_FOUND_MSG);
  if (st_push(L, v->st, v->key, v->keylen)) {
    if (lua_rawlen(L, -1) > 0) return 1;
    lua_pop(L, 1); /* empty: as missing */
  }
  if (v->def) {
    lua_pushstring(L, v->def);
    return 1;
  }
  return fail(L, WP_KIND_NOT_FOUND, NOT_FOUND_MSG);
}

static int env_get_all(lua_State *L) {
  const struct wp_env *E = wp_vm_self(L)->rt->env;
  lua_newtable(L);
  int t = lua_gettop(L);
  for (size_t i = 0; E && i < E->nst; i++) {
    struct storage *s = &E->st[i];
    switch (s->kind) {
    case ST_OS:
      for (char **p = environ; p && *p; p++) {
        const char *eq = strchr(*p, '=');
        if (!eq) continue;
        lua_pushlstring(L, *p, (size_t)(eq - *p));
        lua_pushstring(L, eq + 1);
        lua_rawset(L, t);
      }
      break;
    case ST_STATIC:
      for (size_t j = 0; j < s->n; j++) {
        lua_pushlstring(L, s->kv[j].k, s->kv[j].klen);
        lua_pushlstring(L, s->kv[j].v, s->kv[j].vlen);
        lua_rawset(L, t);
      }
      break;
    case ST_MEMORY: mem_push_all(L, s, t); break;
    case ST_ROUTER: break; /* its storages are listed on their own */
    }
  }
  return 1;
}

static int env_set(lua_State *L) {
  size_t len, vlen;
  const char *name = luaL_checklstring(L, 1, &len);
  const char *val = luaL_checklstring(L, 2, &vlen);
  if (len == 0) return fail(L, WP_KIND_INVALID, "empty key");
  const struct var *v = resolve(L, name, len);
  if (!v) return fail(L, WP_KIND_NOT_FOUND, NOT_FOUND_MSG);
  if (v->readonly)
    return fail(L, WP_KIND_PERMISSION_DENIED, "environment variable is read-only");
  struct storage *s = v->st;
  while (s->kind == ST_ROUTER) s = s->subs[0]; /* writes go to the first */
  if (s->kind != ST_MEMORY) return fail(L, WP_KIND_PERMISSION_DENIED, "storage is read-only");
  char *copy = wp_malloc(vlen ? vlen : 1); /* before the lock: nothing raises under it */
  if (!copy) return fail(L, WP_KIND_INTERNAL, "out of memory");
  if (vlen) memcpy(copy, val, vlen);
  char *old = NULL;
  pthread_mutex_lock(&s->mu);
  struct kv *e = mem_find(s, v->key, v->keylen);
  if (!e && s->n == s->cap) {
    size_t ncap = s->cap ? 2 * s->cap : 4;
    struct kv *nkv = wp_realloc(s->kv, ncap * sizeof *nkv);
    if (!nkv) {
      pthread_mutex_unlock(&s->mu);
      wp_free(copy);
      return fail(L, WP_KIND_INTERNAL, "out of memory");
    }
    s->kv = nkv;
    s->cap = ncap;
  }
  if (!e) {
    e = &s->kv[s->n++];
    e->k = v->key; /* borrowed: the variable's, which lives until exit */
    e->klen = v->keylen;
  } else {
    old = e->v;
  }
  e->v = copy;
  e->vlen = vlen;
  pthread_mutex_unlock(&s->mu);
  wp_free(old);
  lua_pushboolean(L, 1);
  return 1;
}

static const struct wp_libentry env_entries[] = {
    WP_LF("get", env_get), WP_LF("get_all", env_get_all), WP_LF("set", env_set), WP_LEND};
const struct wp_libdef wp_lib_env = {"env", env_entries, NULL};
