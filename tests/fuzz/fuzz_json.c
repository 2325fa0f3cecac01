/*
** fuzz_json.c: libFuzzer target for the json module (modules/json.c).
**
** Each input is a Lua string handed to json.decode and to json.encode, in
** one Lua state with the module loaded (as a process would have it). The
** checks live in the Lua chunk CHECK below:
**
**   decode   returns a value, or nil and an error object (kind Internal,
**            message "json: ... at offset N"; kind Invalid for an empty
**            input); it never raises;
**   re-encode when the decoded value encodes (sparse arrays, nesting
**            beyond 128 levels and the like are refused with an error,
**            never a raise), the text decodes to an equal value and encodes
**            to the same text again (keys are sorted, numbers exact);
**   encode   the input as a string always encodes, and decodes back to the
**            same string when it is valid UTF-8 (else each bad byte became
**            U+FFFD, and a second round trip changes nothing).
**
** Any Lua error, failed assertion included, is a finding (abort).
*/
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules.h"
#include "vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char CHECK[] =
    "local json = ...\n"
    "local function deq(a, b)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) ~= 'table' then return a == b or (a ~= a and b ~= b) end\n"
    "  for k, v in pairs(a) do if not deq(v, b[k]) then return false end end\n"
    "  for k in pairs(b) do if a[k] == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "local function is_err(e)\n"
    "  return type(e) == 'userdata' and e:kind() == 'Internal'\n"
    "    and e:message():find('^json: ') ~= nil\n"
    "end\n"
    "return function(s)\n"
    "  local v, err = json.decode(s)\n"
    "  if s == '' then\n"
    "    assert(v == nil and err:kind() == 'Invalid', 'empty input decoded')\n"
    "  elseif err ~= nil then\n"
    "    assert(v == nil and is_err(err) and err:message():find(' at offset %d+$'),\n"
    "           'bad decode error: ' .. tostring(err))\n"
    "  else\n"
    "    local e1, eerr = json.encode(v)\n"
    "    if e1 == nil then\n"
    "      assert(is_err(eerr), 'bad encode error: ' .. tostring(eerr))\n"
    "    else\n"
    "      local v2, derr = json.decode(e1)\n"
    "      assert(derr == nil, 'encoded text does not decode: ' .. e1)\n"
    "      assert(deq(v, v2), 'decoded value differs after a round trip: ' .. e1)\n"
    "      local e2 = json.encode(v2)\n"
    "      assert(e2 == e1, 'encoding is not stable: ' .. e1 .. ' vs ' .. tostring(e2))\n"
    "    end\n"
    "  end\n"
    "  local t = assert(json.encode(s))\n"
    "  local back = json.decode(t)\n"
    "  assert(type(back) == 'string', 'encoded string does not decode: ' .. t)\n"
    "  if utf8.len(s) then\n"
    "    assert(back == s, 'string does not round-trip: ' .. t)\n"
    "  else\n"
    "    assert(json.decode(assert(json.encode(back))) == back, 'repaired string unstable')\n"
    "  end\n"
    "end\n";

static lua_State *fz_L;
static struct wp_vmproc fz_vp;  /* the modules find their process here */

static void fz_init(void) {
  fz_L = luaL_newstate();
  if (fz_L == NULL) abort();
  *(struct wp_vmproc **)lua_getextraspace(fz_L) = &fz_vp;
  luaL_openlibs(fz_L);
  if (luaL_loadstring(fz_L, CHECK) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(fz_L, -1));
    abort();
  }
  wp_open_json(fz_L);
  lua_call(fz_L, 1, 1);
  lua_setfield(fz_L, LUA_REGISTRYINDEX, "fuzz_check");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (fz_L == NULL) fz_init();
  lua_getfield(fz_L, LUA_REGISTRYINDEX, "fuzz_check");
  lua_pushlstring(fz_L, (const char *)data, size);
  if (lua_pcall(fz_L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "json invariant broken: %s\n", lua_tostring(fz_L, -1));
    abort();
  }
  lua_settop(fz_L, 0);
  return 0;
}
