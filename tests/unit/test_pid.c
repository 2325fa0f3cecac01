/* test_pid.c: pid strings (spec 08): wp_pid_format, wp_pid_parse and wp_pid_node
** (vm/runtime.c), with host ids of any length. */
#include "test.h"

#include "vm.h"

/* Formats host + c into a buffer of exactly the size the runtime uses. */
static char *fmt_pid(const char *host, uint64_t c, size_t *len) {
  size_t hl = strlen(host), cap = hl + WP_PID_OVERHEAD;
  char *b = malloc(cap);
  ASSERT(b != NULL);
  *len = wp_pid_format(b, cap, host, hl, c);
  ASSERT(*len > 0);
  ASSERT_EQ(*len, strlen(b));
  return b;
}

TEST(format_digit_widths) {
  static const struct {
    uint64_t c;
    const char *want;
  } cases[] = {
      {1, "{app:h|0x00001}"},
      {0xfffff, "{app:h|0xfffff}"},
      {0x100000, "{app:h|0x100000}"},
      {0xffffff, "{app:h|0xffffff}"},
      {0x1000000, "{app:h|0x01000000}"}, /* 7 digits are printed as 8 */
      {0xffffffff, "{app:h|0xffffffff}"},
      {UINT64_C(0x100000000), "{app:h|0x0000000100000000}"},
      {UINT64_MAX, "{app:h|0xffffffffffffffff}"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t len;
    char *p = fmt_pid("app:h", cases[i].c, &len);
    ASSERT_STREQ(p, cases[i].want);
    ASSERT_EQ(wp_pid_parse(p, len), cases[i].c);
    free(p);
  }
  return 0;
}

/* The buffer bound: exactly the length + NUL fits; one byte less gives
** length 0 and "" (never a truncated pid). */
TEST(format_buffer_bound) {
  char b[32];
  size_t n = wp_pid_format(b, 16, "app:h", 5, 1); /* "{app:h|0x00001}" is 15 */
  ASSERT_EQ(n, 15);
  ASSERT_STREQ(b, "{app:h|0x00001}");
  memset(b, 'z', sizeof b);
  ASSERT_EQ(wp_pid_format(b, 15, "app:h", 5, 1), 0);
  ASSERT_STREQ(b, "");
  ASSERT_EQ(wp_pid_format(b, 0, "app:h", 5, 1), 0); /* writes nothing */
  return 0;
}

/* Host ids far beyond any fixed buffer: 100 characters (once the empty pid)
** up to 70,000 (longer than a 16-bit length could hold). */
TEST(long_hosts_round_trip) {
  static const size_t lens[] = {0, 1, 75, 76, 100, 255, 256, 1000, 70000};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    char *host = malloc(lens[i] + 1);
    ASSERT(host != NULL);
    for (size_t k = 0; k < lens[i]; k++) host[k] = "app:xyz."[k % 8];
    host[lens[i]] = '\0';
    for (uint64_t c = 1; c; c = c < (UINT64_C(1) << 60) ? c * 37 + 5 : 0) {
      size_t len;
      char *p = fmt_pid(host, c, &len);
      ASSERT(len > lens[i] + 8);
      ASSERT(p[0] == '{' && p[lens[i] + 1] == '|' && p[len - 1] == '}');
      ASSERT(memcmp(p + 1, host, lens[i]) == 0);
      ASSERT_EQ(wp_pid_parse(p, len), c);
      free(p);
    }
    free(host);
  }
  return 0;
}

TEST(parse_rules) {
#define P(s) wp_pid_parse(s, sizeof(s) - 1)
  ASSERT_EQ(P("{app:h|0x0000a}"), 10);
  ASSERT_EQ(P("{node-b@app:h|0x0001f}"), 0x1f);
  ASSERT_EQ(P("{app:h|kind|0x00003}"), 3); /* legacy three-part form */
  ASSERT_EQ(P("{|0x00002}"), 2);
  ASSERT_EQ(P("{|}"), 0); /* the zero pid */
  ASSERT_EQ(P("{app:h|0X0000A}"), 0);
  ASSERT_EQ(P("{app:h|0x0000A}"), 0); /* lowercase only */
  ASSERT_EQ(P("{app:h|0x}"), 0);
  ASSERT_EQ(P("{app:h|12}"), 0);
  ASSERT_EQ(P("app:h|0x00001"), 0);
  ASSERT_EQ(P("{app:h 0x00001}"), 0);
  ASSERT_EQ(P("{app:h|0x10000000000000000}"), 0); /* beyond 64 bits */
  ASSERT_EQ(P(""), 0);
#undef P
  return 0;
}

/* The node part (spec 08 §4): before the first '@' of the part before the
** first '|'; none when absent or empty. */
static int node_is(const char *pid, const char *want) {
  size_t nl = 0;
  const char *n = wp_pid_node(pid, strlen(pid), &nl);
  if (!want) return n == NULL;
  return n && nl == strlen(want) && memcmp(n, want, nl) == 0;
}

TEST(node_part) {
  ASSERT(node_is("{node-b@app:h|0x0001f}", "node-b"));
  ASSERT(node_is("{b@app:processes|0x0000001000000001}", "b"));
  ASSERT(node_is("{a@b@app:h|0x00001}", "a")); /* split at the first '@' */
  ASSERT(node_is("{app:h|0x00001}", NULL));
  ASSERT(node_is("{@app:h|0x00001}", NULL));    /* empty: no node */
  ASSERT(node_is("{app:h|x@y|0x00001}", NULL)); /* '@' after the '|' */
  ASSERT(node_is("{a@app:h 0x00001}", NULL));   /* no '|': not a pid */
  ASSERT(node_is("a@app:h|0x00001", NULL));
  ASSERT(node_is("{|}", NULL));
  ASSERT(node_is("", NULL));
  return 0;
}

TEST_LIST = {
  TEST_ENTRY(format_digit_widths),
  TEST_ENTRY(format_buffer_bound),
  TEST_ENTRY(long_hosts_round_trip),
  TEST_ENTRY(parse_rules),
  TEST_ENTRY(node_part),
  TEST_END
};
