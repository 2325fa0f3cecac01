/*
** metrics.c: the `metrics` module (Wippy's): counter_inc, counter_add,
** gauge_set, gauge_inc, gauge_dec, histogram, each `true | nil, err`.
**
** The values go to the collector (util/metrics.h: per-thread shards, so an
** update takes no lock shared with every other process) and out at
** /metrics. Errors: kind Internal when no collector is configured
** (prometheus not enabled) or the name has another type; kind Invalid for
** a bad name, label or value. Names starting with "wippy_" belong to the
** runtime. Labels are a table of string keys to strings, numbers or
** booleans, written sorted by key.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "errobj.h"
#include "lauxlib.h"
#include "lazylib.h"
#include "metrics.h"
#include "modules.h"

struct lbl {
  const char *k, *v;
  size_t kl, vl;
};

static int lbl_cmp(const void *a, const void *b) {
  const struct lbl *x = a, *y = b;
  int c = memcmp(x->k, y->k, x->kl < y->kl ? x->kl : y->kl);
  return c ? c : (x->kl > y->kl) - (x->kl < y->kl);
}

#define MAX_LABELS 16

/* Builds the label string of the table at idx (nil/none: none) into b.
** 0, or -1 with err. Converted values stay on L's stack until the caller
** returns. */
static int labels_of(lua_State *L, int idx, struct wp_buf *b, char *err, size_t errlen) {
  if (lua_isnoneornil(L, idx)) return 0;
  if (!lua_istable(L, idx)) {
    snprintf(err, errlen, "labels must be a table, not a %s", luaL_typename(L, idx));
    return -1;
  }
  struct lbl v[MAX_LABELS];
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      lua_pop(L, 2);
      snprintf(err, errlen, "label names must be strings");
      return -1;
    }
    if (n == MAX_LABELS) {
      lua_pop(L, 2);
      snprintf(err, errlen, "too many labels (at most %d)", MAX_LABELS);
      return -1;
    }
    int t = lua_type(L, -1);
    if (t != LUA_TSTRING && t != LUA_TNUMBER && t != LUA_TBOOLEAN) {
      lua_pop(L, 2);
      snprintf(err, errlen, "label values must be strings, numbers or booleans");
      return -1;
    }
    v[n].k = lua_tolstring(L, -2, &v[n].kl);
    if (wp_metrics_check_label(v[n].k, v[n].kl, err, errlen) != 0 ||
        memchr(v[n].k, 0, v[n].kl)) {
      lua_pop(L, 2);
      return -1;
    }
    if (v[n].kl == 2 && !memcmp(v[n].k, "le", 2)) {
      lua_pop(L, 2);
      snprintf(err, errlen, "label name \"le\" is reserved for histogram buckets");
      return -1;
    }
    /* the value as text, kept on the stack (below the key) */
    luaL_tolstring(L, -1, NULL);
    lua_replace(L, -2);
    v[n].v = lua_tolstring(L, -1, &v[n].vl);
    lua_pushvalue(L, -2); /* key on top: the value string stays on the stack */
    n++;
    if (!lua_checkstack(L, 3)) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
  }
  qsort(v, (size_t)n, sizeof v[0], lbl_cmp);
  for (int i = 0; i < n; i++) {
    char k[256];
    memcpy(k, v[i].k, v[i].kl);
    k[v[i].kl] = '\0';
    if (wp_metrics_label(b, k, v[i].v, v[i].vl) != 0) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
  }
  return 0;
}

static int update(lua_State *L, enum wp_metrics_kind kind, enum wp_metrics_op op, int vidx,
                  double dflt, double sign, int lidx) {
  char err[256];
  const char *kindname = WP_KIND_INVALID;
  size_t nl;
  const char *name = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &nl) : NULL;
  if (!name) return wp_err_return(L, WP_KIND_INVALID, "metric name must be a string");
  if (wp_metrics_check_name(name, nl, err, sizeof err) != 0) goto fail;
  if (nl >= 6 && !memcmp(name, "wippy_", 6)) {
    snprintf(err, sizeof err, "metric names starting with \"wippy_\" belong to the runtime");
    goto fail;
  }
  double v = dflt;
  if (vidx) {
    if (lua_type(L, vidx) != LUA_TNUMBER) {
      snprintf(err, sizeof err, "value must be a number, not a %s", luaL_typename(L, vidx));
      goto fail;
    }
    v = lua_tonumber(L, vidx);
    if (!isfinite(v)) {
      snprintf(err, sizeof err, "value must be a finite number");
      goto fail;
    }
    if (kind == WP_METRICS_COUNTER && v < 0) {
      snprintf(err, sizeof err, "a counter only goes up: value must be >= 0");
      goto fail;
    }
  }
  struct wp_buf b = WP_BUF_INIT;
  int top = lua_gettop(L);
  if (labels_of(L, lidx, &b, err, sizeof err) != 0) {
    wp_buf_free(&b);
    goto fail;
  }
  if (wp_buf_append(&b, "", 1) != 0) {
    wp_buf_free(&b);
    return wp_err_return(L, WP_KIND_INTERNAL, "out of memory");
  }
  int rc = wp_metrics_update(kind, op, name, (const char *)b.data, v * sign, err, sizeof err);
  wp_buf_free(&b);
  lua_settop(L, top);
  if (rc != 0) {
    kindname = WP_KIND_INTERNAL;
    goto fail;
  }
  lua_pushboolean(L, 1);
  return 1;
fail:
  return wp_err_return(L, kindname, err);
}

static int m_counter_inc(lua_State *L) {
  return update(L, WP_METRICS_COUNTER, WP_METRICS_ADD, 0, 1, 1, 2);
}
static int m_counter_add(lua_State *L) {
  return update(L, WP_METRICS_COUNTER, WP_METRICS_ADD, 2, 0, 1, 3);
}
static int m_gauge_set(lua_State *L) {
  return update(L, WP_METRICS_GAUGE, WP_METRICS_SET, 2, 0, 1, 3);
}
static int m_gauge_inc(lua_State *L) {
  return update(L, WP_METRICS_GAUGE, WP_METRICS_ADD, 0, 1, 1, 2);
}
static int m_gauge_dec(lua_State *L) {
  return update(L, WP_METRICS_GAUGE, WP_METRICS_ADD, 0, 1, -1, 2);
}
static int m_histogram(lua_State *L) {
  return update(L, WP_METRICS_HISTOGRAM, WP_METRICS_OBSERVE, 2, 0, 1, 3);
}

static const struct wp_libentry metrics_entries[] = {
    WP_LF("counter_inc", m_counter_inc), WP_LF("counter_add", m_counter_add),
    WP_LF("gauge_set", m_gauge_set),     WP_LF("gauge_inc", m_gauge_inc),
    WP_LF("gauge_dec", m_gauge_dec),     WP_LF("histogram", m_histogram),
    WP_LEND};
const struct wp_libdef wp_lib_metrics = {"metrics", metrics_entries, NULL};
