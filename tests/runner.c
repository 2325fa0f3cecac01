/* runner.c: the main of the unit tests: forks each test of wp_test_list
** with a timeout (run_tests.c; see test.h). */
#include "test.h"

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--list") == 0) {
    for (const struct wp_test *t = wp_test_list; t->name; t++) puts(t->name);
    return 0;
  }
  if (argc > 1) { /* run the named tests in-process, no fork */
    int failed = 0;
    for (int i = 1; i < argc; i++) {
      const struct wp_test *t = wp_test_list;
      while (t->name && strcmp(t->name, argv[i]) != 0) t++;
      if (!t->name) {
        fprintf(stderr, "no such test: %s\n", argv[i]);
        return 2;
      }
      failed += t->fn() != 0;
    }
    return failed ? 1 : 0;
  }
  return wp_test_run_all(wp_test_list, 60);
}
