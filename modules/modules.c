/* modules.c: module name -> library table, like Lua's linit.c. */
#include <string.h>

#include "modules.h"

static const struct {
  const char *name;
  const struct wp_libdef *def; /* a lazy library, or */
  lua_CFunction open;          /* an opener */
} mods[] = {{"process", &wp_lib_process, NULL}, {"channel", &wp_lib_channel, NULL},
            {"time", &wp_lib_time, NULL},       {"io", &wp_lib_io, NULL},
            {"errors", &wp_lib_errors, NULL},   {"payload", &wp_lib_payload, NULL},
            {"funcs", &wp_lib_funcs, NULL},     {"logger", NULL, wp_open_logger},
            {"json", NULL, wp_open_json},       {"uuid", &wp_lib_uuid, NULL},
            {"system", &wp_lib_system, NULL},
            {"registry", &wp_lib_registry, NULL}, {"env", &wp_lib_env, NULL},
            {"pg", &wp_lib_pg, NULL},
            {"events", &wp_lib_events, NULL},     {"metrics", &wp_lib_metrics, NULL},     {"ctx", &wp_lib_ctx, NULL},
            {NULL, NULL, NULL}};

static void open_module(lua_State *L, const char *name) {
  for (int i = 0; mods[i].name; i++) {
    if (strcmp(mods[i].name, name) != 0) continue;
    if (mods[i].def) {
      wp_lazylib_push(L, mods[i].def);
    } else {
      lua_pushcfunction(L, mods[i].open);
      lua_call(L, 0, 1);
    }
    return;
  }
  if (strcmp(name, "subscribe") == 0 || strcmp(name, "unsubscribe") == 0) {
    lua_pushcfunction(L, name[0] == 's' ? wp_process_subscribe : wp_process_unsubscribe);
    return;
  }
  /* a standard library listed in modules: is just the global */
  if (strcmp(name, "coroutine") == 0 || strcmp(name, "string") == 0 ||
      strcmp(name, "table") == 0 || strcmp(name, "math") == 0 || strcmp(name, "os") == 0)
    lua_getglobal(L, name);
}

static const struct wp_libdef *module_def(const char *name) {
  for (int i = 0; mods[i].name; i++)
    if (strcmp(mods[i].name, name) == 0) return mods[i].def;
  return NULL;
}

void wp_modules_init(struct wp_rt *rt) {
  /* without a bus (a failed lock init: never on Linux), events.* say so */
  if (wp_evbus_init(rt) != 0) wp_logf(WP_LOG_ERROR, "the event bus could not be made");
  rt->open_module = open_module;
  rt->module_def = module_def;
  rt->push_time = wp_time_push;
  rt->json_encode = wp_json_encode_top;
  rt->json_decode = wp_json_decode_top;
}
