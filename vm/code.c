/*
** code.c: compiled entries (struct wp_code, vm.h): Lua source to bytecode,
** and their end. What a code holds is decided by the application layer
** (app/codes.c); this file is the only part of that work that runs Lua.
*/
#include <stdio.h>

#include "alloc.h"
#include "vm.h"

static int dump_writer(lua_State *L, const void *p, size_t sz, void *ud) {
  (void)L;
  return wp_buf_append(ud, p, sz) ? 1 : 0;
}

int wp_code_compile(struct wp_rt *rt, struct wp_code *c, const char *lua, size_t llen,
                    const char *src, size_t slen, char *err, size_t errlen) {
  lua_State *S = luaL_newstate();
  if (!S) {
    snprintf(err, errlen, "out of memory compiling %s", c->id);
    return -1;
  }
  int rc = 0;
  if (luaL_loadbuffer(S, lua, llen, c->chunkname) != LUA_OK) {
    snprintf(err, errlen, "%s", lua_tostring(S, -1));
    rc = -1;
  } else if (lua_dump(S, dump_writer, &c->bytecode, 0) != 0) {
    snprintf(err, errlen, "out of memory compiling %s", c->id);
    rc = -1;
  } else {
    wp_code_scan(rt, c, src, slen);
  }
  lua_close(S);
  return rc;
}

void wp_code_free_all(struct wp_rt *rt) {
  for (size_t i = 0; i < rt->ncodes; i++) {
    struct wp_code *c = rt->codes[i];
    wp_image_free(c);
    wp_buf_free(&c->bytecode);
    wp_free(c->modules);
    wp_free(c->imports);
    wp_free(c->chunkname);
    wp_free(c);
  }
  wp_free(rt->codes);
  rt->codes = NULL;
  rt->ncodes = 0;
}
