/* modules.c: module name -> opener table, like Lua's linit.c. */
#include <string.h>

#include "modules.h"

static const struct {
  const char *name;
  lua_CFunction open;
} openers[] = {{"process", wp_open_process}, {"channel", wp_open_channel},
               {"time", wp_open_time},       {"io", wp_open_io},
               {"logger", wp_open_logger},   {"errors", wp_open_errors},
               {"payload", wp_open_payload}, {"funcs", wp_open_funcs},
               {"json", wp_open_json},
               {NULL, NULL}};

static void open_module(lua_State *L, const char *name) {
  for (int i = 0; openers[i].name; i++) {
    if (strcmp(openers[i].name, name) == 0) {
      lua_pushcfunction(L, openers[i].open);
      lua_call(L, 0, 1);
      return;
    }
  }
  /* a standard library listed in modules: is just the global */
  if (strcmp(name, "coroutine") == 0 || strcmp(name, "string") == 0 ||
      strcmp(name, "table") == 0 || strcmp(name, "math") == 0 || strcmp(name, "os") == 0)
    lua_getglobal(L, name);
}

void wp_terminal_request(struct wp_vmproc *vp, int op, int64_t n); /* terminal.c */

void wp_modules_init(struct wp_rt *rt) {
  rt->open_module = open_module;
  rt->push_time = wp_time_push;
  rt->io_request = wp_terminal_request;
}
