/* channel.c: the `channel` global (spec 04 §1); the work is in vm/chan.c. */
#include "modules.h"

int wp_open_channel(lua_State *L) {
  static const luaL_Reg fns[] = {{"new", wp_chan_l_new}, {"select", wp_chan_l_select}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
