/* run_tests.c: wp_test_run_all, the forking loop of the test runner
** (runner.c) and of the stress programs, which have their own main (see
** test.h). */
#include "test.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs t in a child bounded by an alarm: a hang ends as SIGALRM, and the
** parent simply waits for the child's exit. */
static int run_one(const struct wp_test *t, int timeout_s) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm((unsigned)timeout_s);
    int rc = t->fn();
    /* exit(), not _exit(): LeakSanitizer checks at exit */
    exit(rc == 0 ? 0 : 1);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) {
      perror("waitpid");
      return 1;
    }
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
  if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
    fprintf(stderr, "# %s: timed out after %d s\n", t->name, timeout_s);
  else if (WIFSIGNALED(st))
    fprintf(stderr, "# %s: killed by signal %d\n", t->name, WTERMSIG(st));
  else
    fprintf(stderr, "# %s: exit status %d\n", t->name, WEXITSTATUS(st));
  return 1;
}

int wp_test_run_all(const struct wp_test *list, int timeout_s) {
  const char *env = getenv("WIPPY_TEST_TIMEOUT");
  if (env && atoi(env) > 0) timeout_s = atoi(env);
  int passed = 0, failed = 0, n = 0;
  for (const struct wp_test *t = list; t->name; t++) n++;
  printf("1..%d\n", n);
  int i = 0;
  for (const struct wp_test *t = list; t->name; t++) {
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
