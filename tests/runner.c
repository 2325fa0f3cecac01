/* runner.c: forks each test of wp_test_list with a timeout (see test.h). */
#include "test.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int run_one(const struct wp_test *t, int timeout_s) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    int rc = t->fn();
    /* exit(), not _exit(): LeakSanitizer checks at exit */
    exit(rc == 0 ? 0 : 1);
  }
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
      if (WIFSIGNALED(st))
        fprintf(stderr, "# %s: killed by signal %d\n", t->name, WTERMSIG(st));
      else
        fprintf(stderr, "# %s: exit status %d\n", t->name, WEXITSTATUS(st));
      return 1;
    }
    if (r < 0 && errno != EINTR) {
      perror("waitpid");
      return 1;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec >= timeout_s) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      fprintf(stderr, "# %s: timed out after %d s\n", t->name, timeout_s);
      return 1;
    }
    struct timespec d = {0, 2000000};
    nanosleep(&d, NULL);
  }
}

int main(int argc, char **argv) {
  const char *env = getenv("WIPPY_TEST_TIMEOUT");
  int timeout_s = env ? atoi(env) : 60;
  if (timeout_s <= 0) timeout_s = 60;
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
  int passed = 0, failed = 0, n = 0;
  for (const struct wp_test *t = wp_test_list; t->name; t++) n++;
  printf("1..%d\n", n);
  int i = 0;
  for (const struct wp_test *t = wp_test_list; t->name; t++) {
    int rc = run_one(t, timeout_s);
    printf("%s %d - %s\n", rc == 0 ? "ok" : "not ok", ++i, t->name);
    if (rc == 0)
      passed++;
    else
      failed++;
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
