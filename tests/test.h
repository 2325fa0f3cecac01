/*
** test.h: a small libuv-style test harness.
**
** A test file defines its tests with TEST(name) { ...; return 0; } and ends
** with a list:
**
**   TEST_LIST = { TEST_ENTRY(name), ..., TEST_END };
**
** and is linked with tests/runner.c. The runner forks one child per test,
** bounds it with an alarm (WIPPY_TEST_TIMEOUT seconds, default 60) and
** waits for its exit, and prints "ok"/"not ok" per test and a closing
** "N passed, N failed" line (wp_test_run_all, run_tests.c).
** `prog NAME` runs one test in-process (for gdb); `prog --list` lists them.
*/
#ifndef WP_TEST_H
#define WP_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wp_test {
  const char *name;
  int (*fn)(void);
};

#define TEST(name) static int test_##name(void)
#define TEST_ENTRY(name) {#name, test_##name}
#define TEST_END {NULL, NULL}
#define TEST_LIST const struct wp_test wp_test_list[]

extern const struct wp_test wp_test_list[];

/* Runs each test of list in a forked child, bounded by timeout_s seconds
** (WIPPY_TEST_TIMEOUT, when set, instead); prints "ok"/"not ok" per test and
** the closing line. 0 when all passed, else 1 (run_tests.c). A program with
** its own main (a stress test taking arguments) calls it directly. */
int wp_test_run_all(const struct wp_test *list, int timeout_s);

#define TEST_FAIL(...)                                                  \
  do {                                                                  \
    fprintf(stderr, "%s:%d: assertion failed: ", __FILE__, __LINE__);   \
    fprintf(stderr, __VA_ARGS__);                                       \
    fputc('\n', stderr);                                                \
    abort();                                                            \
  } while (0)

#define ASSERT(c)                                                       \
  do {                                                                  \
    if (!(c)) TEST_FAIL("%s", #c);                                      \
  } while (0)

#define ASSERT_EQ(a, b)                                                 \
  do {                                                                  \
    int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                       \
    if (a_ != b_)                                                       \
      TEST_FAIL("%s == %s (%" PRId64 " != %" PRId64 ")", #a, #b, a_, b_); \
  } while (0)

#define ASSERT_STREQ(a, b)                                              \
  do {                                                                  \
    const char *a_ = (a), *b_ = (b);                                    \
    if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                \
      TEST_FAIL("%s == %s (\"%s\" != \"%s\")", #a, #b, a_ ? a_ : "(null)", \
                b_ ? b_ : "(null)");                                    \
  } while (0)

#define ASSERT_CONTAINS(hay, needle)                                    \
  do {                                                                  \
    const char *h_ = (hay), *n_ = (needle);                             \
    if (h_ == NULL || strstr(h_, n_) == NULL)                           \
      TEST_FAIL("\"%s\" contains \"%s\"", h_ ? h_ : "(null)", n_);     \
  } while (0)

#endif
