/*
** cluster_pg.c: the runtime's process groups (vm/pgroup.h) on the cluster
** layer's (cluster.h). The runtime keeps this node's members and tells the
** cluster that some changed (wake); the cluster's writer takes the changed
** groups and writes them to NATS, and its watch hands other nodes' members
** to the runtime (apply), on the cluster's threads. No Lua state is touched
** from there: apply only changes the table and delivers event messages.
*/
#include "cluster_pg.h"

#include "cluster.h"
#include "pgroup.h"
#include "vm.h"

static void apply(void *ctx, const char *scope, size_t slen, const char *group, size_t glen,
                  const char *node, size_t nlen, const char *pids, size_t len) {
  struct wp_rt *rt = ctx;
  wp_pg_apply(rt->pg, scope, slen, group, glen, node, nlen, pids, len);
}

static int take(void *ctx, struct wp_buf *scope, struct wp_buf *group, struct wp_buf *pids) {
  struct wp_rt *rt = ctx;
  return wp_pg_take_dirty(rt->pg, scope, group, pids);
}

static void redirty(void *ctx, const char *scope, size_t slen, const char *group, size_t glen) {
  struct wp_rt *rt = ctx;
  wp_pg_redirty(rt->pg, scope, slen, group, glen);
}

static void dirty_all(void *ctx) {
  struct wp_rt *rt = ctx;
  wp_pg_dirty_all(rt->pg);
}

static void wake(void *ctx) { wp_cluster_pg_wake(ctx); }

int wp_cli_pg_start(struct wp_rt *rt, struct wp_cluster *c, char *err, size_t errlen) {
  struct wp_cluster_pg_hooks h = {apply, take, redirty, dirty_all, rt};
  if (wp_cluster_start_pg(c, &h, err, errlen)) return -1;
  struct wp_pg_repl r = {wake, c, wp_cluster_pg_limit(c)};
  wp_pg_set_repl(rt->pg, &r);
  return 0;
}
