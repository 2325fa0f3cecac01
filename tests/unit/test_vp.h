/*
** test_vp.h: a blank process for bare Lua states in unit tests. The modules
** find their process's data (wp_vm_self) in the state's extra space; a test
** that opens them on a luaL_newstate attaches this one (one state at a time).
*/
#ifndef WP_TEST_VP_H
#define WP_TEST_VP_H
#include <string.h>

#include "vm.h"

static struct wp_vmproc test_vp;

static inline void attach_vp(lua_State *L) {
  memset(&test_vp, 0, sizeof test_vp);
  *(struct wp_vmproc **)lua_getextraspace(L) = &test_vp;
}
#endif
