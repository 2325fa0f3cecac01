/*
** time.c: the `time` module's timers (spec 04 §5): sleep, after, timer,
** ticker. They are process-owned vtimers (vm/vmproc.c) on the scheduler's
** wheel. Time, Duration and Location objects live in timeobj.c.
*/
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "duration.h"
#include "errobj.h"
#include "modules.h"


/* ---- functions ---- */

static int l_sleep(lua_State *L) {
  int64_t ns;
  const char *err;
  if (wp_time_arg(L, 1, &ns, &err)) return wp_err_return(L, WP_KIND_INVALID, err);
  struct wp_task *t = wp_vm_blockable(L, "time.sleep");
  struct wp_vmproc *vp = wp_vm_self(L);
  if (ns <= 0) { /* still a scheduling point: let other tasks run */
    wp_task_block(vp, t, NULL);
    wp_task_ready(vp, t, 0);
    return lua_yield(L, 0);
  }
  struct wp_vtimer *vt = wp_vtimer_new(vp, WP_VT_SLEEP, (uint64_t)ns);
  if (!vt) return luaL_error(L, "not enough memory");
  vt->task = t;
  wp_task_block(vp, t, vt);
  return lua_yield(L, 0);
}

static int l_after(lua_State *L) {
  int64_t ns;
  const char *err;
  if (wp_time_arg(L, 1, &ns, &err)) return wp_err_return(L, WP_KIND_INVALID, err);
  if (ns <= 0) return wp_err_return(L, WP_KIND_INVALID, "time.after: duration must be > 0");
  struct wp_vmproc *vp = wp_vm_self(L);
  struct wp_chan *c = wp_chan_new(L, 1, WP_CHAN_PLAIN);
  struct wp_vtimer *vt = wp_vtimer_new(vp, WP_VT_AFTER, (uint64_t)ns);
  if (!vt) return luaL_error(L, "not enough memory");
  vt->chan = c;
  wp_chan_set_timer(c, vt);
  return 1;
}




int wp_open_time(lua_State *L) {
  static const luaL_Reg fns[] = {{"sleep", l_sleep}, {"after", l_after}, {NULL, NULL}};
  luaL_newlib(L, fns);
  wp_time_register(L, lua_gettop(L));
  return 1;
}
