/* test_duration.c: Go ParseDuration / Duration.String (util/duration.c). */
#include "test.h"

#include "duration.h"

#define US INT64_C(1000)
#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)
#define MIN (60 * SEC)
#define HOUR (60 * MIN)

static int64_t parse_ok(const char *s) {
  int64_t ns = 12345;
  const char *err = NULL;
  int rc = wp_duration_parse(s, strlen(s), &ns, &err);
  if (rc != 0) TEST_FAIL("parse(\"%s\") failed: %s", s, err ? err : "(null)");
  return ns;
}

static const char *parse_err(const char *s, size_t len) {
  int64_t ns = 12345;
  const char *err = NULL;
  int rc = wp_duration_parse(s, len, &ns, &err);
  if (rc != -1) TEST_FAIL("parse(\"%s\") = %" PRId64 ", expected an error", s, ns);
  ASSERT(err != NULL);
  ASSERT_EQ(ns, 12345); /* untouched on error */
  return err;
}

static const char *fmt(int64_t ns) {
  static char buf[64];
  size_t n = wp_duration_format(ns, buf, sizeof buf);
  ASSERT_EQ(n, strlen(buf));
  return buf;
}

TEST(parse_simple_and_sign) {
  ASSERT_EQ(parse_ok("0"), 0);
  ASSERT_EQ(parse_ok("-0"), 0);
  ASSERT_EQ(parse_ok("+0"), 0);
  ASSERT_EQ(parse_ok("0s"), 0);
  ASSERT_EQ(parse_ok("5s"), 5 * SEC);
  ASSERT_EQ(parse_ok("30s"), 30 * SEC);
  ASSERT_EQ(parse_ok("1478s"), 1478 * SEC);
  ASSERT_EQ(parse_ok("-5s"), -5 * SEC);
  ASSERT_EQ(parse_ok("+5s"), 5 * SEC);
  ASSERT_EQ(parse_ok("+3s"), 3 * SEC);
  ASSERT_EQ(parse_ok("-2ms"), -2 * MS);
  ASSERT_EQ(parse_ok("-0s"), 0);
  return 0;
}

TEST(parse_decimal) {
  ASSERT_EQ(parse_ok("1.5h"), 90 * MIN);
  ASSERT_EQ(parse_ok(".5s"), 500 * MS);
  ASSERT_EQ(parse_ok("0.5s"), 500 * MS);
  ASSERT_EQ(parse_ok("5.0s"), 5 * SEC);
  ASSERT_EQ(parse_ok("5.6s"), 5 * SEC + 600 * MS);
  ASSERT_EQ(parse_ok("5.s"), 5 * SEC);
  ASSERT_EQ(parse_ok("1.00s"), SEC);
  ASSERT_EQ(parse_ok("1.004s"), SEC + 4 * MS);
  ASSERT_EQ(parse_ok("1.0040s"), SEC + 4 * MS);
  ASSERT_EQ(parse_ok("100.00100s"), 100 * SEC + MS);
  ASSERT_EQ(parse_ok("1.0000000001s"), SEC); /* below a nanosecond: dropped */
  ASSERT_EQ(parse_ok("0.3333333333333333333h"), 20 * MIN);
  ASSERT_EQ(parse_ok("0.100000000000000000000h"), 6 * MIN);
  ASSERT_EQ(parse_ok("0.830103483285477580700h"), 49 * MIN + 48 * SEC + 372539827);
  return 0;
}

TEST(parse_units) {
  ASSERT_EQ(parse_ok("10ns"), 10);
  ASSERT_EQ(parse_ok("11us"), 11 * US);
  ASSERT_EQ(parse_ok("12\xC2\xB5s"), 12 * US); /* U+00B5 micro sign */
  ASSERT_EQ(parse_ok("12\xCE\xBCs"), 12 * US); /* U+03BC Greek mu */
  ASSERT_EQ(parse_ok("13ms"), 13 * MS);
  ASSERT_EQ(parse_ok("14s"), 14 * SEC);
  ASSERT_EQ(parse_ok("15m"), 15 * MIN);
  ASSERT_EQ(parse_ok("16h"), 16 * HOUR);
  return 0;
}

TEST(parse_composite) {
  ASSERT_EQ(parse_ok("1m30s"), 90 * SEC);
  ASSERT_EQ(parse_ok("2h45m"), 2 * HOUR + 45 * MIN);
  ASSERT_EQ(parse_ok("1h30m45s500ms"), HOUR + 30 * MIN + 45 * SEC + 500 * MS);
  ASSERT_EQ(parse_ok("3h30m"), 3 * HOUR + 30 * MIN);
  ASSERT_EQ(parse_ok("10.5s4m"), 4 * MIN + 10 * SEC + 500 * MS); /* any order */
  ASSERT_EQ(parse_ok("-2m3.4s"), -(2 * MIN + 3 * SEC + 400 * MS));
  ASSERT_EQ(parse_ok("1h2m3s4ms5us6ns"), HOUR + 2 * MIN + 3 * SEC + 4 * MS + 5 * US + 6);
  ASSERT_EQ(parse_ok("39h9m14.425s"), 39 * HOUR + 9 * MIN + 14 * SEC + 425 * MS);
  ASSERT_EQ(parse_ok("1s1s1s"), 3 * SEC);
  return 0;
}

TEST(parse_limits) {
  ASSERT_EQ(parse_ok("52763797000ns"), INT64_C(52763797000));
  ASSERT_EQ(parse_ok("9007199254740993ns"), (INT64_C(1) << 53) + 1);
  ASSERT_EQ(parse_ok("9223372036854775807ns"), INT64_MAX);
  ASSERT_EQ(parse_ok("9223372036854775.807us"), INT64_MAX);
  ASSERT_EQ(parse_ok("9223372036s854ms775us807ns"), INT64_MAX);
  ASSERT_EQ(parse_ok("-9223372036854775808ns"), INT64_MIN);
  ASSERT_EQ(parse_ok("-9223372036854775.808us"), INT64_MIN);
  ASSERT_EQ(parse_ok("-9223372036s854ms775us808ns"), INT64_MIN);
  ASSERT_EQ(parse_ok("2562047h"), 2562047 * HOUR);
  return 0;
}

TEST(parse_errors) {
  ASSERT_STREQ(parse_err("", 0), "invalid duration");
  ASSERT_STREQ(parse_err(NULL, 0), "invalid duration");
  ASSERT_STREQ(parse_err("5", 1), "missing unit in duration");
  ASSERT_STREQ(parse_err("3", 1), "missing unit in duration");
  ASSERT_STREQ(parse_err("00", 2), "missing unit in duration");
  ASSERT_STREQ(parse_err("1s5", 3), "missing unit in duration");
  ASSERT_STREQ(parse_err("5sec", 4), "unknown unit");
  ASSERT_STREQ(parse_err("1d", 2), "unknown unit");
  ASSERT_STREQ(parse_err("1S", 2), "unknown unit"); /* case-sensitive */
  ASSERT_STREQ(parse_err("1 s", 3), "unknown unit"); /* no spaces */
  ASSERT_STREQ(parse_err("1\xC2s", 3), "unknown unit");
  static const char *invalid[] = {"-",  "+",    "s",     ".",     "-.",  ".s", "+.s",
                                  " 1s", "\x85\x85", "\xff\x66\x66", "hello", "--1s", "1s ",
                                  "\xEF\xBF\xBD"};
  for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
    const char *e = parse_err(invalid[i], strlen(invalid[i]));
    if (strcmp(e, "invalid duration") != 0 && strcmp(e, "unknown unit") != 0)
      TEST_FAIL("\"%s\": %s", invalid[i], e);
  }
  ASSERT_STREQ(parse_err("-", 1), "invalid duration");
  ASSERT_STREQ(parse_err(".s", 2), "invalid duration");
  ASSERT_STREQ(parse_err("hello", 5), "invalid duration");
  return 0;
}

TEST(parse_overflow) {
  static const char *over[] = {
    "9999999999h",           "9223372036854775810ns", "9223372036854775808ns",
    "-9223372036854775809ns", "9223372036854776us",    "3000000h",
    "9223372036854775.808us", "9223372036854ms775us808ns", "2562048h",
    "99999999999999999999999999ns", "2562047h47m16.854775808s"};
  for (size_t i = 0; i < sizeof over / sizeof over[0]; i++)
    ASSERT_STREQ(parse_err(over[i], strlen(over[i])), "invalid duration");
  return 0;
}

/* The length argument bounds the input: no NUL is needed. */
TEST(parse_uses_length) {
  int64_t ns = 0;
  const char *err = NULL;
  ASSERT_EQ(wp_duration_parse("1500msXYZ", 6, &ns, &err), 0);
  ASSERT_EQ(ns, 1500 * MS);
  ASSERT_EQ(wp_duration_parse("1s", 1, &ns, &err), -1);
  ASSERT_STREQ(err, "missing unit in duration");
  ASSERT_EQ(wp_duration_parse("7h", 2, &ns, NULL), 0); /* err may be NULL */
  ASSERT_EQ(ns, 7 * HOUR);
  ASSERT_EQ(wp_duration_parse("x", 1, &ns, NULL), -1);
  return 0;
}

TEST(format) {
  ASSERT_STREQ(fmt(0), "0s");
  ASSERT_STREQ(fmt(1), "1ns");
  ASSERT_STREQ(fmt(999), "999ns");
  ASSERT_STREQ(fmt(US), "1\xC2\xB5s"); /* Go prints U+00B5 */
  ASSERT_STREQ(fmt(1100), "1.1\xC2\xB5s");
  ASSERT_STREQ(fmt(2200 * US), "2.2ms");
  ASSERT_STREQ(fmt(500 * MS), "500ms");
  ASSERT_STREQ(fmt(SEC + 500 * MS), "1.5s");
  ASSERT_STREQ(fmt(3300 * MS), "3.3s");
  ASSERT_STREQ(fmt(4 * MIN + 5 * SEC), "4m5s");
  ASSERT_STREQ(fmt(4 * MIN + 5001 * MS), "4m5.001s");
  ASSERT_STREQ(fmt(5 * HOUR + 6 * MIN + 7001 * MS), "5h6m7.001s");
  ASSERT_STREQ(fmt(8 * MIN + 1), "8m0.000000001s");
  ASSERT_STREQ(fmt(HOUR + 30 * MIN), "1h30m0s");
  ASSERT_STREQ(fmt(HOUR), "1h0m0s");
  ASSERT_STREQ(fmt(90 * SEC), "1m30s");
  ASSERT_STREQ(fmt(SEC), "1s");
  ASSERT_STREQ(fmt(999999999), "999.999999ms");
  ASSERT_STREQ(fmt(INT64_MAX), "2562047h47m16.854775807s");
  return 0;
}

TEST(format_negative) {
  ASSERT_STREQ(fmt(-1), "-1ns");
  ASSERT_STREQ(fmt(-2 * MS), "-2ms");
  ASSERT_STREQ(fmt(-1500), "-1.5\xC2\xB5s");
  ASSERT_STREQ(fmt(-(2 * MIN + 3400 * MS)), "-2m3.4s");
  ASSERT_STREQ(fmt(-HOUR - 30 * MIN), "-1h30m0s");
  ASSERT_STREQ(fmt(INT64_MIN), "-2562047h47m16.854775808s");
  return 0;
}

/* Truncation works like snprintf: the full length is returned. */
TEST(format_truncates) {
  char buf[8];
  memset(buf, 'x', sizeof buf);
  ASSERT_EQ(wp_duration_format(SEC + 500 * MS, buf, 3), 4);
  ASSERT_STREQ(buf, "1.");
  ASSERT_EQ(buf[3], 'x');
  ASSERT_EQ(wp_duration_format(HOUR, buf, 0), 6);
  ASSERT_EQ(buf[0], '1'); /* n == 0 writes nothing */
  ASSERT_EQ(wp_duration_format(HOUR, buf, 1), 6);
  ASSERT_STREQ(buf, "");
  ASSERT_EQ(wp_duration_format(HOUR, buf, 7), 6);
  ASSERT_STREQ(buf, "1h0m0s");
  return 0;
}

/* Every formatted value parses back to itself (Go guarantees the same). */
TEST(round_trip) {
  uint64_t x = 0x853c49e6748fea9bULL;
  for (int i = 0; i < 200000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    int64_t d = (int64_t)(x >> (x % 64)); /* all magnitudes */
    if ((i & 1) && d != INT64_MIN) d = -d;
    if (i == 0) d = INT64_MIN;
    char buf[40];
    size_t n = wp_duration_format(d, buf, sizeof buf);
    int64_t back = 0;
    const char *err = NULL;
    if (wp_duration_parse(buf, n, &back, &err) != 0 || back != d)
      TEST_FAIL("%" PRId64 " -> \"%s\" -> %" PRId64 " (%s)", d, buf, back, err ? err : "ok");
  }
  return 0;
}

TEST_LIST = {
  TEST_ENTRY(parse_simple_and_sign),
  TEST_ENTRY(parse_decimal),
  TEST_ENTRY(parse_units),
  TEST_ENTRY(parse_composite),
  TEST_ENTRY(parse_limits),
  TEST_ENTRY(parse_errors),
  TEST_ENTRY(parse_overflow),
  TEST_ENTRY(parse_uses_length),
  TEST_ENTRY(format),
  TEST_ENTRY(format_negative),
  TEST_ENTRY(format_truncates),
  TEST_ENTRY(round_trip),
  TEST_END
};
