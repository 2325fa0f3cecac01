/*
** bench_codec.c: the message hot path alone: encode the echo request
** {sender = <pid>, data = "hello world"} from one lua_State and decode it
** into another (vm/codec.c), N times per round, best of R rounds.
**
**   bench_codec [N] [R]      (default 200000 5; a small N makes a smoke run)
**
** Exits 1 unless every encode and decode succeeded and the last decoded
** value equals the request. Prints one RESULT line:
**
**   RESULT system=wippy scenario=codec iters=N rounds=R bytes=52
**          ns_per_roundtrip=..
*/
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "clock.h"
#include "codec.h"

static const char REQUEST[] = "return {sender = '{app:terminal|0x00003}', data = 'hello world'}";
static const char CHECK[] = "local t = ... return t.sender == '{app:terminal|0x00003}'"
                            " and t.data == 'hello world'";

static int run(lua_State *L, const char *src, int nargs) {
  if (luaL_loadstring(L, src) != LUA_OK) return -1;
  lua_insert(L, -1 - nargs);
  return lua_pcall(L, nargs, 1, 0) == LUA_OK ? 0 : -1;
}

int main(int argc, char **argv) {
  long iters = argc > 1 ? atol(argv[1]) : 200000;
  int rounds = argc > 2 ? atoi(argv[2]) : 5;
  if (iters < 1 || rounds < 1) {
    fprintf(stderr, "usage: bench_codec [N] [R]\n");
    return 2;
  }
  lua_State *A = luaL_newstate(), *B = luaL_newstate();
  if (!A || !B) return 1;
  luaL_openlibs(A);
  luaL_openlibs(B);
  if (run(A, REQUEST, 0) != 0) return 1;
  struct wp_buf buf = WP_BUF_INIT;
  const char *err = NULL;
  double best = 1e30;
  for (int r = 0; r < rounds; r++) {
    uint64_t t0 = wp_clock_ns();
    for (long i = 0; i < iters; i++) {
      buf.len = 0;
      if (wp_codec_encode(A, 1, 1, &buf, NULL, &err) != 0) {
        fprintf(stderr, "bench_codec: encode: %s\n", err);
        return 1;
      }
      if (wp_codec_decode(B, buf.data, buf.len) != 1) {
        fprintf(stderr, "bench_codec: decode failed\n");
        return 1;
      }
      lua_settop(B, 0);
    }
    double per = (double)(wp_clock_ns() - t0) / (double)iters;
    if (per < best) best = per;
  }
  if (wp_codec_decode(B, buf.data, buf.len) != 1 || run(B, CHECK, 1) != 0 ||
      !lua_toboolean(B, -1)) {
    fprintf(stderr, "bench_codec: the decoded request differs\n");
    return 1;
  }
  printf("RESULT system=wippy scenario=codec iters=%ld rounds=%d bytes=%zu ns_per_roundtrip=%.1f\n",
         iters, rounds, buf.len, best);
  wp_buf_free(&buf);
  lua_close(A);
  lua_close(B);
  return 0;
}
