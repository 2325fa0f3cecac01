/*
** test_cluster.c: cluster/cluster.c's checks of a configuration, before
** anything connects (names, prefix, URLs, durations, files). Joining a
** real NATS server is tests/cluster/run.sh's part.
*/
#include "test.h"

#include "cluster.h"

#define MS INT64_C(1000000)

static const char *const one_url[] = {"nats://127.0.0.1:4222"};

static struct wp_cluster_config good(void) {
  struct wp_cluster_config c = {0};
  c.name = "node-a";
  c.urls = one_url;
  c.nurls = 1;
  c.prefix = "wippy";
  c.heartbeat_ns = 500 * MS;
  c.down_after_ns = 3000 * MS;
  return c;
}

TEST(names) {
  ASSERT(wp_cluster_name_ok("a"));
  ASSERT(wp_cluster_name_ok("node-B_9"));
  ASSERT(wp_cluster_name_ok("0123456789abcdef0123456789abcdef")); /* 32 */
  ASSERT(!wp_cluster_name_ok("0123456789abcdef0123456789abcdefX"));
  ASSERT(!wp_cluster_name_ok(""));
  ASSERT(!wp_cluster_name_ok("a b"));
  ASSERT(!wp_cluster_name_ok("a.b")); /* a subject token separator */
  ASSERT(!wp_cluster_name_ok("a@b")); /* the pid's node separator */
  ASSERT(!wp_cluster_name_ok("a|b"));
  ASSERT(!wp_cluster_name_ok("n\xc3\xa4me"));
  return 0;
}

TEST(check) {
  char err[512];
  struct wp_cluster_config c = good();
  ASSERT_EQ(wp_cluster_check(&c, err, sizeof err), 0);

  c.name = "local";
  ASSERT_EQ(wp_cluster_check(&c, err, sizeof err), -1);
  ASSERT_CONTAINS(err, "\"local\" is reserved");
  c.name = "a b";
  ASSERT_EQ(wp_cluster_check(&c, err, sizeof err), -1);
  ASSERT_CONTAINS(err, "node name \"a b\" is not valid");
  c.name = NULL;
  ASSERT_EQ(wp_cluster_check(&c, err, sizeof err), -1);

  c = good();
  c.prefix = "wippy.x";
  ASSERT_EQ(wp_cluster_check(&c, err, sizeof err), -1);
  ASSERT_CONTAINS(err, "cluster.nats.prefix");

  c = good();
  c.nurls = 0;
  ASSERT_EQ(wp_cluster_check(&c, err, sizeof err), -1);
  ASSERT_CONTAINS(err, "cluster.nats.url");

  c = good();
  c.down_after_ns = 1000 * MS; /* exactly twice: not more */
  ASSERT_EQ(wp_cluster_check(&c, err, sizeof err), -1);
  ASSERT_CONTAINS(err, "cluster.down_after (1s) must be more than twice cluster.heartbeat (500ms)");
  c.down_after_ns = 1001 * MS;
  ASSERT_EQ(wp_cluster_check(&c, err, sizeof err), 0);
  c.heartbeat_ns = 0;
  ASSERT_EQ(wp_cluster_check(&c, err, sizeof err), -1);
  ASSERT_CONTAINS(err, "cluster.heartbeat");

  c = good();
  c.tls_cert = "/dev/null";
  ASSERT_EQ(wp_cluster_check(&c, err, sizeof err), -1);
  ASSERT_CONTAINS(err, "cluster.nats.tls.cert is set without cluster.nats.tls.key");
  c.tls_key = "/dev/null";
  ASSERT_EQ(wp_cluster_check(&c, err, sizeof err), 0);

  c = good();
  c.creds = "/nonexistent/wippy-test.creds";
  ASSERT_EQ(wp_cluster_check(&c, err, sizeof err), -1);
  ASSERT_CONTAINS(err, "cannot read cluster.nats.creds file /nonexistent/wippy-test.creds");
  return 0;
}

TEST_LIST = {
  TEST_ENTRY(names),
  TEST_ENTRY(check),
  TEST_END
};
