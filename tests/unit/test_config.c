/*
** test_config.c: app/config.c (.wippy.yaml loading, ${env:NAME}, --set,
** typed getters). Config files are written under a mkdtemp directory that
** each test removes (also when an assertion aborts the test).
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "config.h"
#include "test.h"
#include "yamltree.h"

#define SEC INT64_C(1000000000)
#define MS INT64_C(1000000)

#include "test_tmp.h"

static void mk_tmp(void) { mk_tmp_dir("config"); }

/* Writes a file in the temp dir and returns its path (static buffer). */
static const char *put(const char *name, const char *text) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", tmp_root, name);
  FILE *f = fopen(path, "w");
  ASSERT(f != NULL);
  fputs(text, f);
  ASSERT(fclose(f) == 0);
  return path;
}

static struct wp_node *load_text(const char *text, char *err, size_t errlen) {
  return wp_config_load(put("cfg.yaml", text), 1, err, errlen);
}

TEST(config_missing_file) {
  char err[512] = "";
  mk_tmp();
  char path[512];
  snprintf(path, sizeof path, "%s/absent.yaml", tmp_root);
  struct wp_node *c = wp_config_load(path, 0, err, sizeof err);
  ASSERT(c != NULL);
  ASSERT_EQ(c->type, WP_NODE_MAP);
  ASSERT_EQ(c->u.map.n, 0);
  ASSERT_EQ(wp_config_int(c, "supervisor.host.buffer_size", 1024), 1024);
  wp_node_free(c);
  ASSERT(wp_config_load(path, 1, err, sizeof err) == NULL);
  ASSERT_CONTAINS(err,
                  "absent.yaml: cannot read file: No such file or directory");
  /* an empty file is an empty configuration */
  c = load_text("# nothing yet\n", err, sizeof err);
  ASSERT(c != NULL && c->type == WP_NODE_MAP && c->u.map.n == 0);
  wp_node_free(c);
  rm_tmp();
  return 0;
}

TEST(config_yaml_errors) {
  char err[512];
  mk_tmp();
  ASSERT(load_text("logger:\n  encoding: json\n shutdown: 1\n", err,
                   sizeof err) == NULL);
  ASSERT_CONTAINS(err, "cfg.yaml:3:");
  ASSERT(load_text("logger: {a: 1}\nlogger: {b: 2}\n", err, sizeof err) ==
         NULL);
  ASSERT_CONTAINS(err, "cfg.yaml:2: duplicate key \"logger\"");
  ASSERT(load_text("- a\n- b\n", err, sizeof err) == NULL);
  ASSERT_CONTAINS(
      err, "cfg.yaml:1: the configuration must be a mapping of sections");
  rm_tmp();
  return 0;
}

TEST(config_env_substitution) {
  char err[512];
  mk_tmp();
  ASSERT_EQ(setenv("WP_TEST_NODE", "node-7", 1), 0);
  ASSERT_EQ(setenv("WP_TEST_HOST", "10.0.0.1", 1), 0);
  ASSERT_EQ(setenv("WP_TEST_PORT", "7946", 1), 0);
  ASSERT_EQ(setenv("WP_TEST_EMPTY", "", 1), 0);
  ASSERT_EQ(setenv("WP_TEST_TIMEOUT", "45s", 1), 0);
  struct wp_node *c = load_text(
      "version: \"1.0\"\n"
      "relay:\n"
      "  node_name: ${env:WP_TEST_NODE}\n"
      "cluster:\n"
      "  addr: \"tcp://${env:WP_TEST_HOST}:${env:WP_TEST_PORT}/x\"\n"
      "  port: ${env:WP_TEST_PORT}\n"
      "  peers: [\"${env:WP_TEST_HOST}\", static]\n"
      "  blank: \"[${env:WP_TEST_EMPTY}]\"\n"
      "  literal: \"${other} and $env:X and ${env\"\n"
      "shutdown:\n"
      "  timeout: ${env:WP_TEST_TIMEOUT}\n",
      err, sizeof err);
  if (!c) TEST_FAIL("%s", err);
  ASSERT_STREQ(wp_config_str(c, "relay.node_name", NULL), "node-7");
  ASSERT_STREQ(wp_config_str(c, "cluster.addr", NULL), "tcp://10.0.0.1:7946/x");
  ASSERT_EQ(wp_config_int(c, "cluster.port", 0), 7946); /* numeric text */
  ASSERT_STREQ(wp_node_str(wp_node_path(c, "cluster.peers")->u.seq.items[0]),
               "10.0.0.1");
  ASSERT_STREQ(wp_config_str(c, "cluster.blank", NULL), "[]");
  ASSERT_STREQ(wp_config_str(c, "cluster.literal", NULL),
               "${other} and $env:X and ${env");
  ASSERT_STREQ(wp_config_str(c, "version", NULL), "1.0");
  int64_t ns = 0;
  ASSERT_EQ(
      wp_config_duration(c, "shutdown.timeout", 30 * SEC, &ns, err, sizeof err),
      0);
  ASSERT_EQ(ns, 45 * SEC);
  wp_node_free(c);
  rm_tmp();
  return 0;
}

TEST(config_env_errors) {
  char err[512];
  mk_tmp();
  ASSERT_EQ(unsetenv("WP_TEST_MISSING"), 0);
  ASSERT(load_text("logger:\n  encoding: console\nrelay:\n  node_name: "
                   "\"n-${env:WP_TEST_MISSING}\"\n",
                   err, sizeof err) == NULL);
  ASSERT_CONTAINS(err,
                  "cfg.yaml:4: environment variable WP_TEST_MISSING is not "
                  "set (used as ${env:WP_TEST_MISSING})");
  ASSERT(load_text("a:\n  b: ${env:WP_TEST_NODE\n", err, sizeof err) == NULL);
  ASSERT_CONTAINS(err, "cfg.yaml:2: unterminated ${env:...}");
  ASSERT(load_text("a:\n  - x\n  - ${env:}\n", err, sizeof err) == NULL);
  ASSERT_CONTAINS(err, "cfg.yaml:3: bad variable name in ${env:}");
  rm_tmp();
  return 0;
}

TEST(config_set_coercion) {
  char err[512];
  struct wp_node *c = wp_node_new_map(0);
  ASSERT(c != NULL);
  struct {
    const char *set, *path;
    enum wp_node_type type;
  } cases[] = {
      {"a.t=true", "a.t", WP_NODE_BOOL},
      {"a.f=false", "a.f", WP_NODE_BOOL},
      {"a.i=42", "a.i", WP_NODE_INT},
      {"a.neg=-17", "a.neg", WP_NODE_INT},
      {"a.fl=2.5", "a.fl", WP_NODE_FLOAT},
      {"a.exp=1e3", "a.exp", WP_NODE_FLOAT},
      {"a.dur=1.5s", "a.dur", WP_NODE_STR},
      {"a.dur2=10s", "a.dur2", WP_NODE_STR},
      {"a.s=hello world", "a.s", WP_NODE_STR},
      {"a.empty=", "a.empty", WP_NODE_STR},
      {"a.True=True", "a.True", WP_NODE_STR},
      {"a.big=99999999999999999999", "a.big", WP_NODE_STR},
      {"a.hex=0x10", "a.hex", WP_NODE_STR},
      {"a.eq=x=y", "a.eq", WP_NODE_STR},
      {"a.inf=inf", "a.inf", WP_NODE_STR},
      {"a.dots=1.2.3", "a.dots", WP_NODE_STR},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (wp_config_set(c, cases[i].set, err, sizeof err) != 0)
      TEST_FAIL("%s: %s", cases[i].set, err);
    const struct wp_node *n = wp_node_path(c, cases[i].path);
    ASSERT(n != NULL);
    if (n->type != cases[i].type)
      TEST_FAIL("%s: type %d, want %d", cases[i].set, n->type, cases[i].type);
  }
  ASSERT_EQ(wp_node_path(c, "a.t")->u.b, 1);
  ASSERT_EQ(wp_node_path(c, "a.f")->u.b, 0);
  ASSERT_EQ(wp_config_int(c, "a.i", 0), 42);
  ASSERT_EQ(wp_config_int(c, "a.neg", 0), -17);
  ASSERT(wp_node_path(c, "a.fl")->u.f == 2.5);
  ASSERT(wp_node_path(c, "a.exp")->u.f == 1000.0);
  ASSERT_STREQ(wp_config_str(c, "a.dur", NULL), "1.5s");
  ASSERT_STREQ(wp_config_str(c, "a.s", NULL), "hello world");
  ASSERT_STREQ(wp_config_str(c, "a.empty", NULL), "");
  ASSERT_STREQ(wp_config_str(c, "a.eq", NULL), "x=y");
  ASSERT_EQ(wp_node_get(c, "a")->u.map.n, sizeof cases / sizeof cases[0]);
  wp_node_free(c);
  return 0;
}

TEST(config_set_paths) {
  char err[512];
  mk_tmp();
  struct wp_node *c = load_text(
      "logger:\n  encoding: console\n  level: 0\nempty:\nname: plain\n", err,
      sizeof err);
  ASSERT(c != NULL);
  ASSERT_EQ(wp_config_set(c, "logger.encoding=json", err, sizeof err), 0);
  ASSERT_STREQ(wp_config_str(c, "logger.encoding", NULL), "json");
  ASSERT_EQ(wp_node_get(c, "logger")->u.map.n, 2); /* replaced, not added */
  ASSERT_EQ(wp_config_set(c, "cluster.gossip.port=7946", err, sizeof err), 0);
  ASSERT_EQ(wp_config_int(c, "cluster.gossip.port", 0), 7946);
  ASSERT_EQ(wp_config_set(c, "empty.key=1", err, sizeof err),
            0); /* null section */
  ASSERT_EQ(wp_config_int(c, "empty.key", 0), 1);
  ASSERT_EQ(wp_config_set(c, "name.sub=1", err, sizeof err), -1);
  ASSERT_CONTAINS(err,
                  "--set name.sub=1: name is a string (line 5), not a section");
  ASSERT_EQ(wp_config_set(c, "logger.level.x=1", err, sizeof err), -1);
  ASSERT_CONTAINS(err, "logger.level is an integer (line 3)");
  const char *bad[] = {"noequals", "=1", "single=1", ".a=1", "a.=1", "a..b=1"};
  for (int i = 0; i < 6; i++) {
    ASSERT_EQ(wp_config_set(c, bad[i], err, sizeof err), -1);
    ASSERT_CONTAINS(err, "expected section.key=value");
    ASSERT_CONTAINS(err, bad[i]);
  }
  /* the file's other content is untouched */
  ASSERT_STREQ(wp_config_str(c, "name", NULL), "plain");
  wp_node_free(c);
  rm_tmp();
  return 0;
}

/* A dotted path of n keys "kk.k.k...=1" (wp_malloc'd), prefix before it. */
static char *long_path(const char *prefix, int n) {
  size_t pl = strlen(prefix);
  char *s = wp_malloc(pl + 2 * (size_t)n + 3);
  ASSERT(s != NULL);
  memcpy(s, prefix, pl);
  for (int i = 0; i < n; i++) memcpy(s + pl + 2 * (size_t)i, i ? ".k" : "kk", 2);
  memcpy(s + pl + 2 * (size_t)n, "=1", 3);
  return s;
}

/* Paths of --set and of overrides are bounded like loaded trees, so that
** recursive walks of the tree (set_path, wp_node_free) stay shallow. */
TEST(config_path_depth) {
  char err[512];
  mk_tmp();
  struct wp_node *c = load_text("logger: {}\n", err, sizeof err);
  ASSERT(c != NULL);
  char *ok = long_path("", WP_YAML_MAX_DEPTH);
  char *deep = long_path("", WP_YAML_MAX_DEPTH + 1);
  ASSERT_EQ(wp_config_set(c, ok, err, sizeof err), 0);
  ASSERT_EQ(wp_config_set(c, deep, err, sizeof err), -1);
  ASSERT_CONTAINS(err, "a path of more than 512 keys");
  wp_free(ok);
  wp_free(deep);
  /* an override (from -o, or the override: section, which has no length
     limit) of 100000 keys: refused before any recursion */
  char id[] = "app:x";
  struct wp_entry e;
  struct wp_entry *v[1] = {&e};
  struct wp_entries es = {v, 1};
  memset(&e, 0, sizeof e);
  e.id = id;
  e.data = wp_node_new_map(1);
  ASSERT(e.data != NULL);
  ok = long_path("app:x:", WP_YAML_MAX_DEPTH);
  ok[strlen(ok) - 2] = '\0';  /* no "=1" */
  ASSERT_EQ(wp_config_override(&es, ok, wp_node_new_int(1, 0), err, sizeof err), 0);
  deep = long_path("app:x:", 100000);
  deep[strlen(deep) - 2] = '\0';
  ASSERT_EQ(wp_config_override(&es, deep, wp_node_new_int(1, 0), err, sizeof err), -1);
  ASSERT_CONTAINS(err, "a path of more than 512 keys");
  wp_free(ok);
  wp_free(deep);
  wp_node_free(e.data);
  wp_node_free(c);
  rm_tmp();
  return 0;
}

TEST(config_durations) {
  char err[512];
  mk_tmp();
  struct wp_node *c = load_text(
      "shutdown:\n"
      "  timeout: 10s\n"
      "  grace: 1m30s\n"
      "  short: 500ms\n"
      "  nanos: 2500\n"
      "  float_nanos: 1.5e9\n"
      "  bad: soon\n"
      "  nounit: \"15\"\n"
      "  listy: [1s]\n"
      "  nothing:\n",
      err, sizeof err);
  ASSERT(c != NULL);
  int64_t ns;
  ASSERT_EQ(wp_config_duration(c, "shutdown.timeout", 0, &ns, err, sizeof err),
            0);
  ASSERT_EQ(ns, 10 * SEC);
  ASSERT_EQ(wp_config_duration(c, "shutdown.grace", 0, &ns, err, sizeof err),
            0);
  ASSERT_EQ(ns, 90 * SEC);
  ASSERT_EQ(wp_config_duration(c, "shutdown.short", 0, &ns, err, sizeof err),
            0);
  ASSERT_EQ(ns, 500 * MS);
  ASSERT_EQ(wp_config_duration(c, "shutdown.nanos", 0, &ns, err, sizeof err),
            0);
  ASSERT_EQ(ns, 2500);
  ASSERT_EQ(
      wp_config_duration(c, "shutdown.float_nanos", 0, &ns, err, sizeof err),
      0);
  ASSERT_EQ(ns, 1500 * MS);
  ASSERT_EQ(
      wp_config_duration(c, "shutdown.absent", 30 * SEC, &ns, err, sizeof err),
      0);
  ASSERT_EQ(ns, 30 * SEC);
  ASSERT_EQ(wp_config_duration(c, "shutdown.nothing", 7, &ns, err, sizeof err),
            0);
  ASSERT_EQ(ns, 7);
  ASSERT_EQ(
      wp_config_duration(c, "nosection.timeout", 3 * SEC, &ns, err, sizeof err),
      0);
  ASSERT_EQ(ns, 3 * SEC);
  ns = 0;
  ASSERT_EQ(wp_config_duration(c, "shutdown.bad", 5, &ns, err, sizeof err), -1);
  ASSERT_CONTAINS(err, "shutdown.bad (line 7): ");
  ASSERT_CONTAINS(err, "\"soon\"");
  ASSERT_EQ(ns, 5); /* left at the default */
  ASSERT_EQ(wp_config_duration(c, "shutdown.nounit", 0, &ns, err, sizeof err),
            -1);
  ASSERT_CONTAINS(err, "shutdown.nounit (line 8): ");
  ASSERT_EQ(wp_config_duration(c, "shutdown.listy", 0, &ns, err, sizeof err),
            -1);
  ASSERT_CONTAINS(err,
                  "shutdown.listy (line 9): expected a duration such as "
                  "\"30s\", got a list");
  /* --set values are strings: still durations */
  ASSERT_EQ(wp_config_set(c, "shutdown.timeout=2m", err, sizeof err), 0);
  ASSERT_EQ(wp_config_duration(c, "shutdown.timeout", 0, &ns, err, sizeof err),
            0);
  ASSERT_EQ(ns, 120 * SEC);
  ASSERT_EQ(wp_config_set(c, "shutdown.timeout=later", err, sizeof err), 0);
  ASSERT_EQ(wp_config_duration(c, "shutdown.timeout", 0, &ns, err, sizeof err),
            -1);
  ASSERT_CONTAINS(err, "shutdown.timeout (--set): ");
  wp_node_free(c);
  rm_tmp();
  return 0;
}

TEST(config_typed_getters) {
  char err[512];
  mk_tmp();
  struct wp_node *c = load_text(
      "supervisor:\n  host:\n    buffer_size: 2048\n    worker_count: \"8\"\n"
      "    ratio: 4.0\n    frac: 4.5\n    word: many\n"
      "logger:\n  encoding: json\n  number: 12\n"
      "cluster:\n  enabled: true\n  text_flag: \"false\"\n  odd: 1\n",
      err, sizeof err);
  ASSERT(c != NULL);
  ASSERT_EQ(wp_config_int(c, "supervisor.host.buffer_size", 1024), 2048);
  ASSERT_EQ(wp_config_int(c, "supervisor.host.worker_count", 16), 8);
  ASSERT_EQ(wp_config_int(c, "supervisor.host.ratio", 0), 4);
  ASSERT_EQ(wp_config_int(c, "supervisor.host.frac", -1), -1);
  ASSERT_EQ(wp_config_int(c, "supervisor.host.word", -2), -2);
  ASSERT_EQ(wp_config_int(c, "supervisor.host", -3), -3);
  ASSERT_EQ(wp_config_int(c, "supervisor.host.absent", 99), 99);
  ASSERT_STREQ(wp_config_str(c, "logger.encoding", "console"), "json");
  ASSERT_STREQ(wp_config_str(c, "logger.absent", "console"), "console");
  ASSERT_STREQ(wp_config_str(c, "logger.number", "dflt"), "dflt");
  ASSERT(wp_config_str(c, "logger", NULL) == NULL);
  ASSERT_EQ(wp_config_bool(c, "cluster.enabled", 0), 1);
  ASSERT_EQ(wp_config_bool(c, "cluster.text_flag", 1), 0);
  ASSERT_EQ(wp_config_bool(c, "cluster.odd", 0), 0);
  ASSERT_EQ(wp_config_bool(c, "cluster.absent", 1), 1);
  ASSERT_EQ(wp_config_int(NULL, "a.b", 5), 5);
  wp_node_free(c);
  rm_tmp();
  return 0;
}

/* Sizes: bytes, K/M/G/T (powers of 1024), the value as written. */
TEST(config_sizes) {
  static const struct {
    const char *text;
    int64_t bytes; /* -1: not a size */
  } cases[] = {
      {"64M", INT64_C(64) << 20}, {"512K", 512 * 1024}, {"1G", INT64_C(1) << 30},
      {"2T", INT64_C(2) << 40},   {"1.5G", INT64_C(3) << 29}, {"64mb", INT64_C(64) << 20},
      {"64 MiB", INT64_C(64) << 20}, {"100", 100}, {" 7k ", 7 * 1024}, {"0", 0},
      {"8B", 8},                  {"", -1},    {"M", -1},   {"12Q", -1}, {"-1M", -1},
      {"1.M", INT64_C(1) << 20},  {"64MM", -1}, {"1e3", -1}, {"9223372036854775807", INT64_MAX},
      {"9223372036854775808", -1}, {"8388608T", -1}, {"8388607T", INT64_C(8388607) << 40},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t v = -7;
    int rc = wp_config_parse_size(cases[i].text, strlen(cases[i].text), &v);
    if (cases[i].bytes < 0) {
      ASSERT_EQ(rc, -1);
      ASSERT_EQ(v, -7);
    } else {
      ASSERT_EQ(rc, 0);
      ASSERT_EQ(v, cases[i].bytes);
    }
  }
  char err[512], text[24];
  int64_t v;
  mk_tmp();
  struct wp_node *c = load_text("process:\n  memory_limit: \" 64M\"\n  n: 4096\n"
                                "  bad: lots\n  neg: -5\n  list: [1]\n",
                                err, sizeof err);
  ASSERT(c != NULL);
  ASSERT_EQ(wp_config_size(c, "process.memory_limit", "x.yaml", 0, &v, text, sizeof text, err,
                           sizeof err), 0);
  ASSERT_EQ(v, INT64_C(64) << 20);
  ASSERT_STREQ(text, "64M");
  ASSERT_EQ(wp_config_size(c, "process.n", "x.yaml", 0, &v, text, sizeof text, err, sizeof err),
            0);
  ASSERT_EQ(v, 4096);
  ASSERT_STREQ(text, "4096");
  ASSERT_EQ(wp_config_size(c, "process.absent", "x.yaml", 5, &v, text, sizeof text, err,
                           sizeof err), 0);
  ASSERT_EQ(v, 5);
  ASSERT_STREQ(text, "");
  ASSERT_EQ(wp_config_size(c, "process.bad", "x.yaml", 0, &v, text, sizeof text, err,
                           sizeof err), -1);
  ASSERT_CONTAINS(err, "x.yaml:4: process.bad: \"lots\" is not a size");
  ASSERT_EQ(wp_config_size(c, "process.neg", "x.yaml", 0, &v, text, sizeof text, err,
                           sizeof err), -1);
  ASSERT_CONTAINS(err, "x.yaml:5: process.neg: expected a size such as \"64M\", got a negative");
  ASSERT_EQ(wp_config_size(c, "process.list", "x.yaml", 0, &v, text, sizeof text, err,
                           sizeof err), -1);
  ASSERT_CONTAINS(err, "got a list");
  ASSERT_EQ(wp_config_set(c, "process.memory_limit=2g", err, sizeof err), 0);
  ASSERT_EQ(wp_config_size(c, "process.memory_limit", "x.yaml", 0, &v, text, sizeof text, err,
                           sizeof err), 0);
  ASSERT_EQ(v, INT64_C(2) << 30);
  ASSERT_STREQ(text, "2g");
  ASSERT_EQ(wp_config_set(c, "process.memory_limit=much", err, sizeof err), 0);
  ASSERT_EQ(wp_config_size(c, "process.memory_limit", "x.yaml", 0, &v, text, sizeof text, err,
                           sizeof err), -1);
  ASSERT_CONTAINS(err, "--set process.memory_limit: \"much\" is not a size");
  wp_node_free(c);
  rm_tmp();
  return 0;
}

TEST_LIST = {
    TEST_ENTRY(config_missing_file),
    TEST_ENTRY(config_yaml_errors),
    TEST_ENTRY(config_env_substitution),
    TEST_ENTRY(config_env_errors),
    TEST_ENTRY(config_set_coercion),
    TEST_ENTRY(config_set_paths),
  TEST_ENTRY(config_path_depth),
    TEST_ENTRY(config_durations),
    TEST_ENTRY(config_sizes),
    TEST_ENTRY(config_typed_getters),
    TEST_END,
};
