/*
** funcs.c: the `funcs` module (spec 05 §9): funcs.call runs a function.lua
** entry as a short-lived process on the caller's host (its own pid, inbox
** and events) and blocks the calling task until it returns.
*/
#include <string.h>

#include "errobj.h"
#include "lazylib.h"
#include "modules.h"

static int f_call(lua_State *L) {
  size_t len;
  const char *id = luaL_checklstring(L, 1, &len);
  const char *colon = strchr(id, ':');
  if (len == 0 || !colon || colon == id || !colon[1])
    return wp_err_return(L, WP_KIND_INVALID, "invalid function id (namespace:name required)");
  struct wp_vmproc *vp = wp_vm_self(L);
  return wp_vm_exec(L, id, vp->host->id, 2, lua_gettop(L) - 1, WP_SPAWN_FUNC);
}

static const struct wp_libentry funcs_entries[] = {WP_LF("call", f_call), WP_LEND};
const struct wp_libdef wp_lib_funcs = {"funcs", funcs_entries, NULL};
