/*
** system.c: the read-only `system` module (spec 10 §9.2): the node, the
** cluster as this node sees it, the OS process and the machine.
**
** Design
** ------
** Everything is read when asked, nothing is cached: the values are cheap to
** get from the runtime or the OS, and a cache would only add a way to be
** stale (a changed working directory, a renamed host).
**
** The node comes from the runtime (struct wp_rt): `node` is NULL on a
** standalone node, whose id is "local" (spec 08 §2), and the configured
** name on a clustered one. A clustered node's view of the cluster comes
** from the cluster layer through rt->members and rt->leader (issue 13
** item 9): the live members (this node first, the others sorted by name),
** and as leader the node that reaps departed nodes' names; role() is
** "member". addr() is the URL of the NATS server the node joined through
** (rt->node_addr: nodes meet only through NATS, a node listens for no
** peer itself); only the local member's table has it. On a standalone
** node, or when libnats did not say, addr() is the standalone error.
**
** Errors follow spec 10 §0: `nil, err`, kind Internal for an OS failure
** (the message names the call and the system's reason), never retryable.
** No function takes arguments, so none can raise for a wrong type.
*/
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errobj.h"
#include "lazylib.h"
#include "modules.h"

static struct wp_rt *rt_of(lua_State *L) { return wp_vm_self(L)->rt; }

/* `return nil, err`: kind Internal, not retryable. */
static int fail(lua_State *L, const char *msg) {
  lua_pushnil(L);
  wp_err_push(L, WP_KIND_INTERNAL, msg, 0);
  return 2;
}

/* An OS call `what` failed with errno e. */
static int fail_errno(lua_State *L, const char *what, int e) {
  char buf[128];
  const char *s = strerror_r(e, buf, sizeof buf); /* GNU: may return a static string */
  lua_pushfstring(L, "%s: %s", what, s);
  return fail(L, lua_tostring(L, -1));
}

static void push_node_id(lua_State *L) {
  struct wp_rt *rt = rt_of(L);
  if (rt->node)
    lua_pushlstring(L, rt->node, rt->node_len);
  else
    lua_pushliteral(L, "local");
}

/* The address clustered node rt gives, or NULL. */
static const char *node_addr(struct wp_rt *rt) {
  return rt->node && rt->node_addr && rt->node_addr[0] ? rt->node_addr : NULL;
}

/* {====================================================================
** system.node
** ===================================================================== */

static int node_id(lua_State *L) {
  push_node_id(L);
  return 1;
}

static int node_addr_fn(lua_State *L) {
  const char *a = node_addr(rt_of(L));
  if (!a) return fail(L, "local node address not available");
  lua_pushstring(L, a);
  return 1;
}

static int node_role(lua_State *L) {
  if (rt_of(L)->node)
    lua_pushliteral(L, "member");
  else
    lua_pushliteral(L, "non-member");
  return 1;
}

/* }==================================================================== */

/* {====================================================================
** system.cluster: the members this node sees (see the top of this file)
** ===================================================================== */

static int by_name(const void *a, const void *b) { return strcmp(a, b); }

/* The live members by name, this node's name first and the others sorted;
** n of them (at most max). Standalone: this node alone. */
static size_t member_names(lua_State *L, char (*v)[WP_RT_NODE_MAX + 1], size_t max) {
  struct wp_rt *rt = rt_of(L);
  size_t n = rt->members ? rt->members(rt, v, max) : 0;
  if (n > max) n = max;
  /* this node first, even while the cluster does not count it (fenced) */
  const char *self = rt->node ? rt->node : "local";
  size_t i = 0;
  while (i < n && strcmp(v[i], self) != 0) i++;
  if (i == n && n == max && n) i = n - 1; /* no room: it replaces the last */
  if (i == n) n++;
  memmove(v[1], v[0], i * sizeof v[0]);
  snprintf(v[0], sizeof v[0], "%s", self);
  qsort(v + 1, n - 1, sizeof v[0], by_name);
  return n;
}

#define MEMBERS_MAX 256

static int cluster_members(lua_State *L) {
  char (*v)[WP_RT_NODE_MAX + 1] = lua_newuserdatauv(L, MEMBERS_MAX * sizeof *v, 0);
  size_t n = member_names(L, v, MEMBERS_MAX);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, v[i]);
    lua_setfield(L, -2, "id");
    lua_pushboolean(L, i == 0);
    lua_setfield(L, -2, "is_local");
    const char *a = i == 0 ? node_addr(rt_of(L)) : NULL;
    if (a) {
      lua_pushstring(L, a);
      lua_setfield(L, -2, "addr");
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static int cluster_size(lua_State *L) {
  struct wp_rt *rt = rt_of(L);
  lua_pushinteger(L, rt->members ? (lua_Integer)rt->members(rt, NULL, 0) : 1);
  return 1;
}

static int cluster_leader(lua_State *L) {
  struct wp_rt *rt = rt_of(L);
  char name[WP_RT_NODE_MAX + 1];
  size_t n = rt->leader ? rt->leader(rt, name, sizeof name) : 0;
  lua_pushlstring(L, name, n);
  return 1;
}

/* }==================================================================== */

/* {====================================================================
** system.process and system.runtime: the OS
** ===================================================================== */

static int process_pid(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getpid()); /* getpid cannot fail */
  return 1;
}

static int process_hostname(lua_State *L) {
  char buf[HOST_NAME_MAX + 2];
  if (gethostname(buf, sizeof buf) != 0) return fail_errno(L, "gethostname", errno);
  buf[sizeof buf - 1] = '\0'; /* POSIX leaves a truncated name unterminated */
  lua_pushstring(L, buf);
  return 1;
}

/* The working directory may be longer than PATH_MAX: the buffer grows until
** it fits (ERANGE), so only a real failure (ENOENT: removed, EACCES) is an
** error. */
static int process_cwd(lua_State *L) {
  size_t n = 256;
  for (;;) {
    char *buf = malloc(n);
    if (!buf) return fail_errno(L, "getcwd", ENOMEM);
    if (getcwd(buf, n)) {
      lua_pushstring(L, buf);
      free(buf);
      return 1;
    }
    int e = errno;
    free(buf);
    if (e != ERANGE || n > (1u << 20)) return fail_errno(L, "getcwd", e);
    n *= 2;
  }
}

/* Logical CPUs this process may run on (its affinity mask, as Go's
** runtime.NumCPU counts them), else the online CPUs; at least 1. */
static int runtime_cpu_count(lua_State *L) {
  long n = 0;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  if (n < 1) n = sysconf(_SC_NPROCESSORS_ONLN);
  lua_pushinteger(L, n < 1 ? 1 : n);
  return 1;
}

/* }==================================================================== */

static const struct wp_libentry node_entries[] = {
    WP_LF("id", node_id), WP_LF("addr", node_addr_fn), WP_LF("role", node_role), WP_LEND};
static const struct wp_libdef node_def = {"system.node", node_entries, NULL};

static const struct wp_libentry cluster_entries[] = {WP_LF("members", cluster_members),
                                                     WP_LF("size", cluster_size),
                                                     WP_LF("leader", cluster_leader), WP_LEND};
static const struct wp_libdef cluster_def = {"system.cluster", cluster_entries, NULL};

static const struct wp_libentry process_entries[] = {WP_LF("pid", process_pid),
                                                     WP_LF("hostname", process_hostname),
                                                     WP_LF("cwd", process_cwd), WP_LEND};
static const struct wp_libdef process_def = {"system.process", process_entries, NULL};

static const struct wp_libentry runtime_entries[] = {WP_LF("cpu_count", runtime_cpu_count),
                                                     WP_LEND};
static const struct wp_libdef runtime_def = {"system.runtime", runtime_entries, NULL};

static const struct wp_libentry system_entries[] = {
    WP_LSUB("node", &node_def), WP_LSUB("cluster", &cluster_def),
    WP_LSUB("process", &process_def), WP_LSUB("runtime", &runtime_def), WP_LEND};
const struct wp_libdef wp_lib_system = {"system", system_entries, NULL};
