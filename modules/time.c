/*
** time.c: the `time` module's timers (spec 04 §5): sleep, after, timer,
** ticker. They are process-owned vtimers (vm/task.c) on the scheduler's
** wheel. Time, Duration and Location objects live in timeobj.c.
*/
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "duration.h"
#include "errobj.h"
#include "lazylib.h"
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




/* ---- Timer and Ticker objects: user value 1 is their channel ---- */

#define TIMER_MT "wippy.timer"
#define TICKER_MT "wippy.ticker"

static struct wp_chan *obj_chan(lua_State *L, int ticker) {
  wp_state_mt_check(L, 1, ticker ? WP_MT_TICKER : WP_MT_TIMER, ticker ? TICKER_MT : TIMER_MT);
  lua_getiuservalue(L, 1, 1);
  struct wp_chan *c = wp_chan_check(L, -1);
  lua_pop(L, 1);
  return c;
}

static int tm_channel(lua_State *L) {
  wp_state_mt_check(L, 1, WP_MT_TIMER, TIMER_MT);
  lua_getiuservalue(L, 1, 1);
  return 1;
}

static int tm_stop(lua_State *L) {
  struct wp_chan *c = obj_chan(L, 0);
  struct wp_vtimer *vt = wp_chan_get_timer(c);
  if (vt) wp_vtimer_free(wp_vm_self(L), vt);
  wp_chan_close(L, c);
  lua_pushboolean(L, vt != NULL);
  return 1;
}

static int tm_reset(lua_State *L) {
  struct wp_chan *c = obj_chan(L, 0);
  int64_t ns;
  const char *err;
  /* spec 10 §8.1: raises, naming the method */
  if (wp_time_arg(L, 2, &ns, &err)) return luaL_error(L, "timer:reset: %s", err);
  if (ns <= 0) return luaL_error(L, "timer:reset: duration must be > 0");
  struct wp_vmproc *vp = wp_vm_self(L);
  struct wp_vtimer *vt = wp_chan_get_timer(c);
  int active = vt != NULL;
  if (vt) wp_vtimer_free(vp, vt);
  wp_chan_reopen(c);
  vt = wp_vtimer_new(vp, WP_VT_AFTER, (uint64_t)ns);
  if (!vt) return luaL_error(L, "not enough memory");
  vt->chan = c;
  wp_chan_set_timer(c, vt);
  lua_pushboolean(L, active);
  return 1;
}

static int tk_channel(lua_State *L) {
  wp_state_mt_check(L, 1, WP_MT_TICKER, TICKER_MT);
  lua_getiuservalue(L, 1, 1);
  return 1;
}

static int tk_stop(lua_State *L) {
  struct wp_chan *c = obj_chan(L, 1);
  struct wp_vtimer *vt = wp_chan_get_timer(c);
  if (vt) wp_vtimer_free(wp_vm_self(L), vt);
  wp_chan_close(L, c);
  lua_pushboolean(L, 1);
  return 1;
}

/* Pushes a timer object (kind AFTER or TICKER) over a new channel. */
static int new_timer(lua_State *L, int kind) {
  int64_t ns;
  const char *err;
  const char *what = kind == WP_VT_TICKER ? "time.ticker" : "time.timer";
  if (wp_time_arg(L, 1, &ns, &err)) return wp_err_return(L, WP_KIND_INVALID, err);
  if (ns <= 0) {
    lua_pushfstring(L, "%s: duration must be > 0", what);
    return wp_err_return(L, WP_KIND_INVALID, lua_tostring(L, -1));
  }
  struct wp_vmproc *vp = wp_vm_self(L);
  lua_newuserdatauv(L, 0, 1);
  struct wp_chan *c = wp_chan_new(L, kind == WP_VT_TICKER ? 16 : 1, WP_CHAN_PLAIN);
  lua_setiuservalue(L, -2, 1);
  struct wp_vtimer *vt = wp_vtimer_new(vp, kind, (uint64_t)ns);
  if (!vt) return luaL_error(L, "not enough memory");
  vt->chan = c;
  vt->period = (uint64_t)ns;
  wp_chan_set_timer(c, vt);
  int ticker = kind == WP_VT_TICKER;
  if (wp_state_mt_new(L, ticker ? WP_MT_TICKER : WP_MT_TIMER, ticker ? TICKER_MT : TIMER_MT)) {
    static const luaL_Reg tm[] = {{"channel", tm_channel}, {"response", tm_channel},
                                  {"stop", tm_stop},       {"reset", tm_reset},
                                  {NULL, NULL}};
    static const luaL_Reg tk[] = {{"channel", tk_channel}, {"response", tk_channel},
                                  {"stop", tk_stop},       {NULL, NULL}};
    lua_newtable(L);
    luaL_setfuncs(L, kind == WP_VT_TICKER ? tk : tm, 0);
    lua_setfield(L, -2, "__index");
  }
  lua_setmetatable(L, -2);
  return 1;
}

static int l_timer(lua_State *L) { return new_timer(L, WP_VT_AFTER); }
static int l_ticker(lua_State *L) { return new_timer(L, WP_VT_TICKER); }

/* sleep/after/timer/ticker are lazy; the first other name fills the rest of
** the module (Time objects, constants) from timeobj.c. */
static const struct wp_libentry time_entries[] = {
    WP_LF("sleep", l_sleep), WP_LF("after", l_after), WP_LF("timer", l_timer),
    WP_LF("ticker", l_ticker), WP_LF("now", wp_time_l_now), WP_LF("unix", wp_time_l_unix),
    WP_LEND};
const struct wp_libdef wp_lib_time = {"time", time_entries, wp_time_register};
