/*
** test_tmp.h: a temporary directory per test for unit tests that read
** files (test_config.c, test_entries.c). mk_tmp_dir creates it under
** $TMPDIR (or /tmp); rm_tmp removes it, and so does an assertion that
** aborts the test (SIGABRT). Include after test.h, with _GNU_SOURCE set.
*/
#ifndef WP_TEST_TMP_H
#define WP_TEST_TMP_H

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static char tmp_root[256];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(p);
  return 0;
}

static void rm_tmp(void) {
  if (tmp_root[0]) nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  tmp_root[0] = '\0';
}

static void on_abort(int sig) {
  rm_tmp();
  signal(sig, SIG_DFL);
  raise(sig);
}

/* Creates the test's directory, wippy-TAG-XXXXXX; returns its path. */
static const char *mk_tmp_dir(const char *tag) {
  const char *base = getenv("TMPDIR");
  snprintf(tmp_root, sizeof tmp_root, "%s/wippy-%s-XXXXXX", base && *base ? base : "/tmp",
           tag);
  ASSERT(mkdtemp(tmp_root) != NULL);
  signal(SIGABRT, on_abort);
  return tmp_root;
}

#endif
