/*
** test_uuid.c: modules/uuid.c (spec 10 §4) from C: the accepted text
** forms, the v3/v5 vectors, v7 strictly increasing and v1 unique across
** threads at once, and the generator-failure row (a random source that
** fails), which a Lua app cannot provoke. tests/lua/mod_uuid covers the Lua
** functions row by row.
*/
#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <pthread.h>
#include <string.h>

#include "errobj.h"
#include "lazylib.h"
#include "modules.h"
#include "test.h"

static const char DNS[] = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";

static int parse_str(const char *s, unsigned char u[16]) {
  return wp_uuid_parse(s, strlen(s), u);
}

static void fmt(const unsigned char u[16], char out[37]) {
  wp_uuid_format(u, out);
  out[36] = '\0';
}

TEST(forms) {
  unsigned char u[16], v[16];
  char s[37];
  ASSERT_EQ(parse_str(DNS, u), 0);
  fmt(u, s);
  ASSERT_STREQ(s, DNS);
  ASSERT_EQ(u[0], 0x6b);
  ASSERT_EQ(u[15], 0xc8);
  static const char *const same[] = {
      "6BA7B810-9DAD-11D1-80B4-00C04FD430C8", "urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8",
      "URN:Uuid:6BA7B810-9dad-11d1-80b4-00c04fd430c8", "{6ba7b810-9dad-11d1-80b4-00c04fd430c8}",
      "x6ba7b810-9dad-11d1-80b4-00c04fd430c8y", "6ba7b8109dad11d180b400c04fd430c8"};
  for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
    memset(v, 0, sizeof v);
    if (parse_str(same[i], v) != 0 || memcmp(u, v, 16) != 0) TEST_FAIL("form %s", same[i]);
  }
  static const char *const bad[] = {
      "", "6ba7b810-9dad-11d1-80b4-00c04fd430c", "6ba7b810-9dad-11d1-80b4-00c04fd430c8a",
      "6ba7b810_9dad-11d1-80b4-00c04fd430c8", "6ba7b810-9dad-11d1-80b4-00c04fd430cG",
      "urn:uuid_6ba7b810-9dad-11d1-80b4-00c04fd430c8", "6ba7b8109dad11d180b400c04fd430cx",
      "{6ba7b810-9dad-11d1-80b4-00c04fd430c8", "6ba7b810-9dad-11d1-80b4+00c04fd430c8"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (parse_str(bad[i], v) == 0) TEST_FAIL("accepted %s", bad[i]);
  /* a NUL byte is not a hex digit: length counts, not the terminator */
  ASSERT_EQ(wp_uuid_parse("6ba7b810-9dad-11d1-80b4-00c04fd430c\0", 36, v), -1);
  ASSERT_EQ(wp_uuid_parse("6ba7b810-9dad-11d1-80b4-00c04fd430c8", 35, v), -1);
  return 0;
}

TEST(hashed_vectors) {
  unsigned char ns[16], u[16];
  char s[37];
  ASSERT_EQ(parse_str(DNS, ns), 0);
  ASSERT_EQ(wp_uuid_hashed(5, ns, "www.example.com", 15, u), 0);
  fmt(u, s);
  ASSERT_STREQ(s, "2ed6657d-e927-568b-95e1-2665a8aea6a2");
  ASSERT_EQ(wp_uuid_hashed(3, ns, "www.example.com", 15, u), 0);
  fmt(u, s);
  ASSERT_STREQ(s, "5df41881-3aed-3515-88a7-2f4a814cf09e");
  ASSERT_EQ(wp_uuid_hashed(5, ns, "", 0, u), 0);
  fmt(u, s);
  ASSERT_STREQ(s, "4ebd0208-8328-5d69-8c44-ec50939c0967");
  return 0;
}

/* ---- generators on several threads at once ---- */

enum { THREADS = 4, PER_THREAD = 50000 };

struct gen_arg {
  int (*gen)(unsigned char u[16]);
  unsigned char (*out)[16];
  pthread_barrier_t *start;
};

static void *gen_thread(void *p) {
  struct gen_arg *a = p;
  pthread_barrier_wait(a->start);
  for (int i = 0; i < PER_THREAD; i++)
    if (a->gen(a->out[i]) != 0) return (void *)1;
  return NULL;
}

static int cmp16(const void *a, const void *b) { return memcmp(a, b, 16); }

/* Runs gen on THREADS threads at once; returns all UUIDs (thread by thread,
** each in its own order). */
static unsigned char (*run_threads(int (*gen)(unsigned char u[16])))[16] {
  unsigned char(*all)[16] = malloc((size_t)THREADS * PER_THREAD * 16);
  ASSERT(all != NULL);
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, THREADS);
  pthread_t th[THREADS];
  struct gen_arg args[THREADS];
  for (int i = 0; i < THREADS; i++) {
    args[i] = (struct gen_arg){gen, all + (size_t)i * PER_THREAD, &start};
    ASSERT_EQ(pthread_create(&th[i], NULL, gen_thread, &args[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    void *r;
    pthread_join(th[i], &r);
    ASSERT(r == NULL);
  }
  pthread_barrier_destroy(&start);
  return all;
}

TEST(v7_increasing_across_threads) {
  unsigned char(*all)[16] = run_threads(wp_uuid_v7);
  size_t n = (size_t)THREADS * PER_THREAD;
  for (size_t i = 0; i < n; i++) {
    ASSERT_EQ(all[i][6] >> 4, 7);
    ASSERT_EQ(all[i][8] >> 6, 2);
    /* each thread's sequence strictly increases in its first 8 bytes (the
    ** time and sequence), so in its text too */
    if (i % PER_THREAD && memcmp(all[i - 1], all[i], 8) >= 0) TEST_FAIL("v7 #%zu not after", i);
  }
  /* all threads together: no two share their time and sequence */
  qsort(all, n, 16, cmp16);
  for (size_t i = 1; i < n; i++)
    if (memcmp(all[i - 1], all[i], 8) == 0) TEST_FAIL("v7 time+sequence repeated");
  /* and the text order is the byte order */
  char a[37], b[37];
  fmt(all[0], a);
  fmt(all[n - 1], b);
  ASSERT(strcmp(a, b) < 0);
  free(all);
  return 0;
}

TEST(v1_unique_across_threads) {
  unsigned char(*all)[16] = run_threads(wp_uuid_v1);
  size_t n = (size_t)THREADS * PER_THREAD;
  for (size_t i = 0; i < n; i++) {
    ASSERT_EQ(all[i][6] >> 4, 1);
    ASSERT_EQ(all[i][8] >> 6, 2);
    ASSERT_EQ(all[i][10] & 1, 1); /* multicast bit: a random node id */
    /* one node id and clock sequence for the runtime */
    if (memcmp(all[i] + 8, all[0] + 8, 8) != 0) TEST_FAIL("v1 node or clock sequence changed");
  }
  qsort(all, n, 16, cmp16);
  for (size_t i = 1; i < n; i++)
    if (memcmp(all[i - 1], all[i], 16) == 0) TEST_FAIL("v1 repeated");
  free(all);
  return 0;
}

/* ---- a failing random source ---- */

static int failing_random(void *buf, size_t len) { return EIO; }

TEST(random_failure) {
  lua_State *L = luaL_newstate();
  ASSERT(L != NULL);
  luaL_openlibs(L);
  wp_lazylib_push(L, &wp_lib_uuid);
  lua_setglobal(L, "uuid");
  wp_uuid_set_random(failing_random);
  const char *src =
      "for _, f in ipairs({'v1', 'v4', 'v7'}) do\n"
      "  local v, err = uuid[f]()\n"
      "  assert(v == nil and type(err) == 'userdata', f)\n"
      "  assert(err:kind() == 'Internal', err:kind())\n"
      "  assert(err:message() == 'getrandom: Input/output error', err:message())\n"
      "  assert(err:retryable() == false)\n"
      "  assert(err:stack():find(f .. ' generation failed', 1, true), err:stack())\n"
      "  assert(not tostring(err):find('generation failed', 1, true))\n"
      "end\n"
      /* v3/v5 need no randomness */
      "assert(uuid.v5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com') ==\n"
      "       '2ed6657d-e927-568b-95e1-2665a8aea6a2')\n";
  if (luaL_dostring(L, src) != LUA_OK) TEST_FAIL("lua: %s", lua_tostring(L, -1));
  /* the failed first v1 chose nothing: with randomness back, v1 works */
  wp_uuid_set_random(NULL);
  if (luaL_dostring(L,
                    "for _, f in ipairs({'v1', 'v4', 'v7'}) do\n"
                    "  local v, err = uuid[f]()\n"
                    "  assert(type(v) == 'string' and #v == 36 and err == nil, f)\n"
                    "end\n") != LUA_OK)
    TEST_FAIL("lua: %s", lua_tostring(L, -1));
  lua_close(L);
  return 0;
}

TEST_LIST = {TEST_ENTRY(forms),
             TEST_ENTRY(hashed_vectors),
             TEST_ENTRY(v7_increasing_across_threads),
             TEST_ENTRY(v1_unique_across_threads),
             TEST_ENTRY(random_failure),
             TEST_END};
