/*
** cluster_hooks.c: the runtime's hooks on the cluster layer (cluster.h):
** cluster names (rt->names_*) and the member view (rt->members, leader).
** A process's register or unregister is queued to the cluster, which
** answers on its own thread; the answer reaches the blocked process as a
** WP_MSG_REPLY (wp_rt_reply), so no Lua state is touched from that thread.
*/
#include "cluster_hooks.h"

#include <stdio.h>

#include "cluster.h"
#include "errobj.h"
#include "vm.h"

_Static_assert(WP_RT_NODE_MAX == WP_CLUSTER_NAME_MAX, "node names: one limit");

static struct wp_cluster *C;

static size_t lookup(struct wp_rt *rt, const char *name, size_t len, char *out, size_t cap,
                     int *scope) {
  (void)rt;
  return wp_cluster_name_lookup(C, name, len, out, cap, scope);
}

static int request(struct wp_rt *rt, int op, int scope, const char *name, size_t len,
                   const char *pid, size_t plen, wp_handle reply_to, uint64_t id) {
  (void)rt;
  int cop = op == WP_NAMES_REGISTER ? WP_CLUSTER_REGISTER : WP_CLUSTER_UNREGISTER;
  return wp_cluster_name_request(C, cop, scope, name, len, pid, plen, (uint64_t)reply_to, id);
}

static void release(struct wp_rt *rt, const char *pid, size_t plen) {
  (void)rt;
  wp_cluster_names_release(C, pid, plen);
}

static int alive(void *ctx, const char *pid, size_t len) {
  struct wp_rt *rt = ctx;
  const char *kind, *err;
  struct wp_proc *p = wp_rt_resolve(rt, pid, len, &kind, &err);
  if (p) wp_proc_release(p);
  return p != NULL;
}

static void answer(void *ctx, uint64_t t1, uint64_t t2, int status, const char *msg) {
  struct wp_rt *rt = ctx;
  int st = WP_REPLY_ERROR;
  const char *kind = WP_KIND_INTERNAL;
  switch (status) {
    case WP_CLUSTER_NAME_OK: st = WP_REPLY_TRUE; break;
    case WP_CLUSTER_NAME_FALSE: st = WP_REPLY_FALSE; break;
    case WP_CLUSTER_NAME_EXISTS: kind = WP_KIND_ALREADY_EXISTS; break;
    case WP_CLUSTER_NAME_UNAVAILABLE:
      kind = WP_KIND_UNAVAILABLE;
      st = WP_REPLY_RETRYABLE;
      break;
    case WP_CLUSTER_NAME_TIMEOUT: kind = WP_KIND_TIMEOUT; break;
    case WP_CLUSTER_NAME_INVALID: kind = WP_KIND_INVALID; break;
    case WP_CLUSTER_NAME_NOT_FOUND: kind = WP_KIND_NOT_FOUND; break;
    default: break;
  }
  wp_rt_reply(rt, (wp_handle)t1, t2, st, kind, msg);
}

static void revoke_name(void *ctx, const char *pid, size_t plen, const char *name, size_t nlen) {
  struct wp_rt *rt = ctx;
  const char *kind, *err;
  struct wp_proc *p = wp_rt_resolve(rt, pid, plen, &kind, &err);
  if (!p) return;
  char reason[300];
  snprintf(reason, sizeof reason, "name revoked: %.*s", (int)(nlen < 256 ? nlen : 256), name);
  wp_rt_cancel(p, "{|topology}", reason);
  wp_proc_release(p);
}

static size_t members(struct wp_rt *rt, char (*out)[WP_RT_NODE_MAX + 1], size_t max) {
  (void)rt;
  return wp_cluster_members(C, out, max);
}

static size_t leader(struct wp_rt *rt, char *out, size_t cap) {
  (void)rt;
  return wp_cluster_leader(C, out, cap);
}

int wp_cli_names_start(struct wp_rt *rt, struct wp_cluster *c, char *err, size_t errlen) {
  struct wp_cluster_names_hooks h = {alive, answer, revoke_name, rt};
  if (wp_cluster_start_names(c, &h, err, errlen)) return -1;
  C = c;
  rt->names_lookup = lookup;
  rt->names_request = request;
  rt->names_release = release;
  rt->members = members;
  rt->leader = leader;
  return 0;
}
