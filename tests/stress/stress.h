/*
** stress.h: the runner of the stress programs (stress_mailbox.c,
** stress_steal.c). They take arguments, so they have their own main (the
** test runner's main() is then not linked in); like the runner, stress_main
** runs each test in a child bounded by an alarm (WIPPY_TEST_TIMEOUT, default
** 120 s) and prints the runner's summary line.
*/
#ifndef WP_STRESS_H
#define WP_STRESS_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static int stress_main(const struct wp_test *list) {
  const char *env = getenv("WIPPY_TEST_TIMEOUT");
  int timeout_s = env && atoi(env) > 0 ? atoi(env) : 120;
  int n = 0, passed = 0, failed = 0;
  for (const struct wp_test *t = list; t->name; t++) n++;
  printf("1..%d\n", n);
  for (int i = 0; i < n; i++) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 1;
    }
    if (pid == 0) {
      alarm((unsigned)timeout_s); /* a hang is a failure, not a stuck CI job */
      int rc = list[i].fn();
      fflush(stdout);
      _exit(rc == 0 ? 0 : 1);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok && WIFSIGNALED(st))
      fprintf(stderr, "# %s: killed by signal %d%s\n", list[i].name, WTERMSIG(st),
              WTERMSIG(st) == SIGALRM ? " (timed out)" : "");
    else if (!ok)
      fprintf(stderr, "# %s: exit status %d\n", list[i].name, WEXITSTATUS(st));
    printf("%s %d - %s\n", ok ? "ok" : "not ok", i + 1, list[i].name);
    passed += ok;
    failed += !ok;
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

#endif
