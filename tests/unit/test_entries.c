/*
** test_entries.c: app/yamltree.c, yamlscalar.c, yamlemit.c (parser,
** scalar typing, writer), app/entries.c (definition files, file://,
** errors) and the lock file functions.
**
** Fixture trees live in tests/fixtures/entries/. The fixture root is taken
** from $WIPPY_FIXTURES, else from the WIPPY_FIXTURES_DIR compile definition,
** else "tests/fixtures" relative to the working directory. Trees that need
** symbolic links, node_modules or hidden directories are built at run time
** under a mkdtemp directory that each test removes (also when an assertion
** aborts the test).
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "entries.h"
#include "test.h"
#include "test_node_equal.h"
#include "yamltree.h"

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */
/* ---------------------------------------------------------------------- */

static const char *fixtures(void) {
  const char *e = getenv("WIPPY_FIXTURES");
  if (e && *e) return e;
#ifdef WIPPY_FIXTURES_DIR
  return WIPPY_FIXTURES_DIR;
#else
  return "tests/fixtures";
#endif
}

/* Path below the fixture root (static buffer rotation: 4 at a time). */
static const char *fx(const char *rel) {
  static char bufs[4][4096];
  static int k;
  char *b = bufs[k++ & 3];
  snprintf(b, sizeof bufs[0], "%s/entries/%s", fixtures(), rel);
  return b;
}

#include "test_tmp.h"

/* Creates the test's temporary directory. */
static const char *mk_tmp(void) { return mk_tmp_dir("entries"); }

static const char *tp(const char *rel) {
  static char bufs[4][4096];
  static int k;
  char *b = bufs[k++ & 3];
  snprintf(b, sizeof bufs[0], "%s/%s", tmp_root, rel);
  return b;
}

/* Writes rel (under the temp dir) with text, creating parent directories. */
static void put(const char *rel, const char *text) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", tmp_root, rel);
  for (char *p = path + strlen(tmp_root) + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    ASSERT(mkdir(path, 0755) == 0 || errno == EEXIST);
    *p = '/';
  }
  FILE *f = fopen(path, "w");
  ASSERT(f != NULL);
  fputs(text, f);
  ASSERT(fclose(f) == 0);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  static char buf[65536];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  return buf;
}

static struct wp_node *parse(const char *text, char *err, size_t errlen) {
  return wp_yaml_load_mem("t.yaml", text, strlen(text), err, errlen);
}

static const char *data_str(const struct wp_entry *e, const char *path) {
  return wp_node_str(wp_node_path(e->data, path));
}

/* ---------------------------------------------------------------------- */
/* yamltree                                                                */
/* ---------------------------------------------------------------------- */

TEST(yaml_scalar_types) {
  char err[256];
  struct wp_node *r = parse(
      "n1: ~\nn2: null\nn3:\nn4: NULL\n"
      "b1: true\nb2: False\nb3: TRUE\nno_bool: yes\nno_bool2: on\n"
      "i1: 42\ni2: -7\ni3: 0x1F\ni4: 0o17\ni5: +3\ni6: 007\n"
      "f1: 1.5\nf2: -.5\nf3: 1e3\nf4: .inf\nf5: -.Inf\nf6: .nan\nf7: 1.\n"
      "big: 99999999999999999999\nhexbig: 0xFFFFFFFFFFFFFFFFFF\n"
      "s1: hello world\ns2: 1.2.3\ns3: 0x\ns4: 12abc\ns5: .\ns6: 1e\n",
      err, sizeof err);
  ASSERT(r != NULL);
  ASSERT_EQ(r->type, WP_NODE_MAP);
  const char *nulls[] = {"n1", "n2", "n3", "n4"};
  for (int i = 0; i < 4; i++)
    ASSERT_EQ(wp_node_get(r, nulls[i])->type, WP_NODE_NULL);
  ASSERT_EQ(wp_node_get(r, "b1")->u.b, 1);
  ASSERT_EQ(wp_node_get(r, "b1")->type, WP_NODE_BOOL);
  ASSERT_EQ(wp_node_get(r, "b2")->u.b, 0);
  ASSERT_EQ(wp_node_get(r, "b3")->type, WP_NODE_BOOL);
  ASSERT_STREQ(wp_node_str(wp_node_get(r, "no_bool")), "yes");
  ASSERT_STREQ(wp_node_str(wp_node_get(r, "no_bool2")), "on");
  ASSERT_EQ(wp_node_get(r, "i1")->u.i, 42);
  ASSERT_EQ(wp_node_get(r, "i1")->type, WP_NODE_INT);
  ASSERT_EQ(wp_node_get(r, "i2")->u.i, -7);
  ASSERT_EQ(wp_node_get(r, "i3")->u.i, 31);
  ASSERT_EQ(wp_node_get(r, "i4")->u.i, 15);
  ASSERT_EQ(wp_node_get(r, "i5")->u.i, 3);
  ASSERT_EQ(wp_node_get(r, "i6")->u.i, 7);
  ASSERT_EQ(wp_node_get(r, "f1")->type, WP_NODE_FLOAT);
  ASSERT(wp_node_get(r, "f1")->u.f == 1.5);
  ASSERT(wp_node_get(r, "f2")->u.f == -0.5);
  ASSERT(wp_node_get(r, "f3")->u.f == 1000.0);
  ASSERT(isinf(wp_node_get(r, "f4")->u.f) && wp_node_get(r, "f4")->u.f > 0);
  ASSERT(isinf(wp_node_get(r, "f5")->u.f) && wp_node_get(r, "f5")->u.f < 0);
  ASSERT(isnan(wp_node_get(r, "f6")->u.f));
  ASSERT(wp_node_get(r, "f7")->u.f == 1.0);
  ASSERT_EQ(wp_node_get(r, "big")->type, WP_NODE_FLOAT);
  ASSERT_EQ(wp_node_get(r, "hexbig")->type, WP_NODE_STR);
  const char *strs[] = {"s1", "s2", "s3", "s4", "s5", "s6"};
  for (int i = 0; i < 6; i++)
    ASSERT_EQ(wp_node_get(r, strs[i])->type, WP_NODE_STR);
  ASSERT_STREQ(wp_node_str(wp_node_get(r, "s2")), "1.2.3");
  wp_node_free(r);
  return 0;
}

TEST(yaml_quoted_and_tagged) {
  char err[256];
  struct wp_node *r = parse(
      "a: \"1.0\"\nb: '12'\nc: \"true\"\nd: \"\"\ne: !!str 12\nf: !!int "
      "\"12\"\n"
      "g: !!float 3\nh: \"tab\\there\\u00e9\"\ni: |\n  line1\n  line2\n",
      err, sizeof err);
  ASSERT(r != NULL);
  ASSERT_STREQ(wp_node_str(wp_node_get(r, "a")), "1.0");
  ASSERT_STREQ(wp_node_str(wp_node_get(r, "b")), "12");
  ASSERT_STREQ(wp_node_str(wp_node_get(r, "c")), "true");
  ASSERT_STREQ(wp_node_str(wp_node_get(r, "d")), "");
  ASSERT_STREQ(wp_node_str(wp_node_get(r, "e")), "12");
  ASSERT_EQ(wp_node_get(r, "f")->type, WP_NODE_INT);
  ASSERT_EQ(wp_node_get(r, "f")->u.i, 12);
  ASSERT_EQ(wp_node_get(r, "g")->type, WP_NODE_FLOAT);
  ASSERT_STREQ(wp_node_str(wp_node_get(r, "h")), "tab\there\xc3\xa9");
  ASSERT_STREQ(wp_node_str(wp_node_get(r, "i")), "line1\nline2\n");
  wp_node_free(r);
  ASSERT(parse("x: !!int abc\n", err, sizeof err) == NULL);
  ASSERT_CONTAINS(err, "t.yaml:1: cannot read \"abc\" as !!int");
  return 0;
}

TEST(yaml_lines_are_one_based) {
  char err[256];
  struct wp_node *r =
      parse("# comment\nfirst: 1\nlist:\n  - a\n  - b: 2\n", err, sizeof err);
  ASSERT(r != NULL);
  ASSERT_EQ(r->line, 2);
  ASSERT_EQ(wp_node_get(r, "first")->line, 2);
  struct wp_node *list = wp_node_get(r, "list");
  ASSERT_EQ(list->type, WP_NODE_SEQ);
  ASSERT_EQ(list->u.seq.n, 2);
  ASSERT_EQ(list->u.seq.items[0]->line, 4);
  ASSERT_EQ(list->u.seq.items[1]->line, 5);
  ASSERT_EQ(wp_node_path(r, "list")->u.seq.items[1]->u.map.vals[0]->line, 5);
  wp_node_free(r);
  return 0;
}

TEST(yaml_duplicate_keys) {
  char err[256];
  ASSERT(parse("a: 1\nb: 2\na: 3\n", err, sizeof err) == NULL);
  ASSERT_CONTAINS(err,
                  "t.yaml:3: duplicate key \"a\" in mapping (first at line 1)");
  ASSERT(parse("{x: 1, x: 2}", err, sizeof err) == NULL);
  ASSERT_CONTAINS(err, "duplicate key \"x\"");
  /* a large mapping goes through the hash index */
  char doc[8192] = "";
  for (int i = 0; i < 300; i++)
    snprintf(doc + strlen(doc), sizeof doc - strlen(doc), "key%d: %d\n", i, i);
  struct wp_node *r = parse(doc, err, sizeof err);
  ASSERT(r != NULL);
  ASSERT_EQ(r->u.map.n, 300);
  ASSERT_EQ(wp_node_get(r, "key299")->u.i, 299);
  wp_node_free(r);
  strcat(doc, "key123: again\n");
  ASSERT(parse(doc, err, sizeof err) == NULL);
  ASSERT_CONTAINS(
      err,
      "t.yaml:301: duplicate key \"key123\" in mapping (first at line 124)");
  /* the same key in different mappings is fine */
  r = parse("a: {k: 1}\nb: {k: 2}\n", err, sizeof err);
  ASSERT(r != NULL);
  wp_node_free(r);
  return 0;
}

TEST(yaml_aliases_and_merge) {
  char err[256];
  struct wp_node *r = parse(
      "base: &b\n  x: 1\n  y: two\nlist: &l [1, 2]\n"
      "copy: *b\nlist2: *l\n"
      "merged:\n  <<: *b\n  y: mine\n  z: 3\n"
      "multi:\n  <<: [{p: 1}, {p: 2, q: 2}]\n"
      "k: &k name\n*k : via-alias\n",
      err, sizeof err);
  ASSERT(r != NULL);
  ASSERT(node_equal(wp_node_get(r, "base"), wp_node_get(r, "copy")));
  ASSERT(wp_node_get(r, "base") != wp_node_get(r, "copy")); /* a copy */
  ASSERT(node_equal(wp_node_get(r, "list"), wp_node_get(r, "list2")));
  ASSERT_EQ(wp_node_path(r, "merged.x")->u.i, 1);
  ASSERT_STREQ(wp_node_str(wp_node_path(r, "merged.y")), "mine");
  ASSERT_EQ(wp_node_path(r, "merged.z")->u.i, 3);
  ASSERT(wp_node_path(r, "merged.<<") == NULL);
  ASSERT_EQ(wp_node_path(r, "multi.p")->u.i, 1); /* earlier source wins */
  ASSERT_EQ(wp_node_path(r, "multi.q")->u.i, 2);
  ASSERT_STREQ(wp_node_str(wp_node_get(r, "name")), "via-alias");
  wp_node_free(r);
  ASSERT(parse("a: *nope\n", err, sizeof err) == NULL);
  ASSERT_CONTAINS(err, "t.yaml:1: unknown anchor *nope");
  ASSERT(parse("a: &x\n  - *x\n", err, sizeof err) == NULL); /* recursive */
  ASSERT_CONTAINS(err, "t.yaml:2: unknown anchor *x");
  ASSERT(parse("a: {<<: 3}\n", err, sizeof err) == NULL);
  ASSERT_CONTAINS(err, "merge key << needs a mapping");
  ASSERT(parse("a: &m {x: 1}\n*m : 2\n", err, sizeof err) == NULL);
  ASSERT_CONTAINS(err,
                  "t.yaml:2: alias *m used as a mapping key is not a scalar");
  return 0;
}

TEST(yaml_resource_limits) {
  char err[256];
  /* an alias bomb: 10^9 nodes if expanded */
  const char *bomb =
      "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
      "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
      "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
      "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
      "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
      "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
  ASSERT(parse(bomb, err, sizeof err) == NULL);
  ASSERT_CONTAINS(err, "document too large");
  /* nesting */
  static char deep[5000];
  memset(deep, '[', 2000);
  deep[2000] = '\0';
  ASSERT(parse(deep, err, sizeof err) == NULL);
  ASSERT_CONTAINS(err, "t.yaml:1: nesting deeper than 512 levels");
  memset(deep, '[', 100);
  memset(deep + 100, ']', 100);
  deep[200] = '\0';
  struct wp_node *r = parse(deep, err, sizeof err);
  ASSERT(r != NULL);
  ASSERT_EQ(r->type, WP_NODE_SEQ);
  wp_node_free(r);
  return 0;
}

TEST(yaml_syntax_errors_name_file_and_line) {
  char err[512];
  ASSERT(wp_yaml_load_file(fx("bad/syntax/src/_index.yaml"), err, sizeof err) ==
         NULL);
  ASSERT_CONTAINS(err,
                  "bad/syntax/src/_index.yaml:7: mapping values are not "
                  "allowed in this context");
  ASSERT(parse("a: 1\nb: [1, 2\nc: 3\n", err, sizeof err) == NULL);
  ASSERT_CONTAINS(err, "t.yaml:");
  ASSERT_CONTAINS(err, "while parsing a flow sequence at line 2");
  ASSERT(parse("a:\n\t- x\n", err, sizeof err) == NULL);
  ASSERT_CONTAINS(err, "t.yaml:2: found character that cannot start any token");
  ASSERT(parse("a: 1\nb: \"\xff\xfe\"\n", err, sizeof err) == NULL);
  ASSERT_CONTAINS(err, "t.yaml:2: invalid leading UTF-8 octet");
  ASSERT(parse("? [a, b]\n: c\n", err, sizeof err) == NULL);
  ASSERT_CONTAINS(err, "t.yaml:1: a mapping key must be a scalar");
  ASSERT(wp_yaml_load_file(fx("no/such/file.yaml"), err, sizeof err) == NULL);
  ASSERT_CONTAINS(
      err, "no/such/file.yaml: cannot read file: No such file or directory");
  return 0;
}

TEST(yaml_empty_and_multi_document) {
  char err[256];
  const char *empties[] = {"", "# only a comment\n", "---\n", "\n\n"};
  for (int i = 0; i < 4; i++) {
    struct wp_node *r = parse(empties[i], err, sizeof err);
    ASSERT(r != NULL);
    ASSERT_EQ(r->type, WP_NODE_NULL);
    wp_node_free(r);
  }
  struct wp_node *r = parse("a: 1\n---\nb: 2\n", err, sizeof err);
  ASSERT(r != NULL);
  ASSERT_EQ(wp_node_get(r, "a")->u.i, 1);
  ASSERT(wp_node_get(r, "b") == NULL);
  wp_node_free(r);
  r = parse("[1, 2, 3]", err, sizeof err);
  ASSERT(r != NULL && r->type == WP_NODE_SEQ && r->u.seq.n == 3);
  wp_node_free(r);
  return 0;
}

TEST(yaml_node_api) {
  struct wp_node *m = wp_node_new_map(1);
  ASSERT(m != NULL);
  ASSERT_EQ(wp_node_map_set(m, "a", wp_node_new_str("x", 1, 1)), 0);
  ASSERT_EQ(wp_node_map_set(m, "a", wp_node_new_int(5, 2)), 0); /* replace */
  ASSERT_EQ(m->u.map.n, 1);
  ASSERT_EQ(wp_node_get(m, "a")->u.i, 5);
  struct wp_node *sub = wp_node_new_map(3);
  ASSERT_EQ(wp_node_map_set(m, "sub", sub), 0);
  struct wp_node *seq = wp_node_new_seq(4);
  ASSERT_EQ(wp_node_map_set(sub, "list", seq), 0);
  for (int i = 0; i < 20; i++)
    ASSERT_EQ(wp_node_seq_push(seq, wp_node_new_int(i, 4)), 0);
  ASSERT_EQ(wp_node_path(m, "sub.list")->u.seq.n, 20);
  ASSERT(wp_node_path(m, "sub.nope") == NULL);
  ASSERT(wp_node_path(m, "a.b") == NULL); /* a is not a map */
  ASSERT(wp_node_str(wp_node_get(m, "a")) == NULL);
  ASSERT_EQ(wp_node_seq_push(m, wp_node_new_null(1)), -1); /* not a SEQ */
  ASSERT_EQ(wp_node_map_set(seq, "k", wp_node_new_null(1)), -1);
  struct wp_node *c = wp_node_clone(m);
  ASSERT(c != NULL && c != m);
  ASSERT(node_equal(c, m));
  ASSERT_EQ(
      wp_node_seq_push(wp_node_path(c, "sub.list"), wp_node_new_int(1, 0)), 0);
  ASSERT(!node_equal(c, m));
  wp_node_free(c);
  wp_node_free(m);
  wp_node_free(NULL);
  ASSERT(wp_node_get(NULL, "x") == NULL);
  return 0;
}

/* Writes r with wp_yaml_emit and checks that the text loads back to an
** equal tree; returns the text (wp_malloc'd). */
static char *emit_and_reload(const struct wp_node *r) {
  char err[256];
  size_t len;
  char *text = wp_yaml_emit(r, &len);
  ASSERT(text != NULL);
  ASSERT_EQ(strlen(text), len);
  struct wp_node *back = wp_yaml_load_mem("emitted", text, len, err, sizeof err);
  if (!back) TEST_FAIL("%s\n%s", err, text);
  ASSERT(node_equal(r, back));
  wp_node_free(back);
  return text;
}

TEST(yaml_writer_format_and_roundtrip) {
  char err[256];
  struct wp_node *r = parse(
      "directories:\n  modules: .wippy\n  src: ./src\n"
      "modules:\n  - name: wippy/http\n    version: v1.2.3\n  - [a, b]\n"
      "strings: [\"1.0\", \"true\", \"yes\", \"\", \" pad\", \"a: b\", \"x "
      "#y\", "
      "\"- dash\", \"line\\nbreak\", \"q\\\"uote\", \"~\", \"null\", \"12\", "
      "\"tab\\t\", \"bell\\a\", \"<<\", \"...\", \"plain-text\", "
      "\"caf\u00e9\"]\n"
      "numbers: [0, -5, 1.5, 1000.0, 1.0e-7, .inf, -.inf, .nan, 0.1]\n"
      "empty_map: {}\nempty_list: []\nnothing: ~\nflag: false\n",
      err, sizeof err);
  ASSERT(r != NULL);
  char *text = emit_and_reload(r);
  ASSERT(strncmp(text,
                 "directories:\n    modules: .wippy\n    src: ./src\n"
                 "modules:\n    - name: wippy/http\n      version: v1.2.3\n"
                 "    - - a\n      - b\n",
                 strlen("directories:\n    modules: .wippy\n    src: ./src\n"
                        "modules:\n    - name: wippy/http\n      version: "
                        "v1.2.3\n    - - a\n      - b\n")) == 0);
  ASSERT_CONTAINS(text, "    - \"1.0\"\n");
  ASSERT_CONTAINS(text, "    - \"line\\nbreak\"\n");
  ASSERT_CONTAINS(text, "    - plain-text\n");
  ASSERT_CONTAINS(text, "    - 1000.0\n");
  ASSERT_CONTAINS(text, "empty_map: {}\n");
  ASSERT_CONTAINS(text, "empty_list: []\n");
  ASSERT_CONTAINS(text, "nothing: null\n");
  wp_free(text);
  wp_node_free(r);
  return 0;
}

/* Characters libyaml refuses, or reads as line breaks or a byte order
** mark, are written as escapes (found by tests/fuzz/fuzz_yaml). */
TEST(yaml_writer_escapes_breaks_and_controls) {
  char err[256];
  struct wp_node *r = parse(
      "s: [\"\\x81\", \"a\\x85b\", \"\\u2028\", \"x\\u2029\", \"\\ufeffbom\", "
      "\"\\uffff\", \"\\ufffe\", \"\\x7f\", \"\\x9f \\xa0 \\u0100 ok\"]\n"
      "\"k\\x85ey\": 1\n",
      err, sizeof err);
  ASSERT(r != NULL);
  char *text = emit_and_reload(r);
  ASSERT_CONTAINS(text, "    - \"\\x81\"\n");
  ASSERT_CONTAINS(text, "    - \"a\\x85b\"\n");
  ASSERT_CONTAINS(text, "    - \"\\u2028\"\n");
  ASSERT_CONTAINS(text, "    - \"x\\u2029\"\n");
  ASSERT_CONTAINS(text, "    - \"\\ufeffbom\"\n");
  ASSERT_CONTAINS(text, "    - \"\\uffff\"\n");
  ASSERT_CONTAINS(text, "    - \"\\ufffe\"\n");
  ASSERT_CONTAINS(text, "    - \"\\x7f\"\n");
  ASSERT_CONTAINS(text, "    - \"\\x9f \xc2\xa0 \xc4\x80 ok\"\n");
  ASSERT_CONTAINS(text, "\"k\\x85ey\": 1\n");
  wp_free(text);
  wp_node_free(r);
  return 0;
}

/* libyaml refuses an implicit key of 1024 characters or more, so long keys
** are written as explicit keys "? key" (found by tests/fuzz/fuzz_yaml). */
TEST(yaml_writer_long_keys) {
  char err[256];
  char *yaml = wp_malloc(8192), k1[2001], k2[501];
  ASSERT(yaml != NULL);
  memset(k1, 'k', 2000);
  k1[2000] = '\0';
  memset(k2, 'q', 500);
  k2[500] = '\0';
  int n = snprintf(yaml, 8192, "? %s\n: 1\nlist:\n  - ? \"%s\\x01\"\n    : {a: [1]}\n    b: 2\n",
                   k1, k2);
  ASSERT(n > 0 && n < 8192);
  struct wp_node *r = wp_yaml_load_mem("t.yaml", yaml, (size_t)n, err, sizeof err);
  if (!r) TEST_FAIL("%s", err);
  char *text = emit_and_reload(r);
  ASSERT(strncmp(text, "? kkkk", 6) == 0);
  ASSERT_CONTAINS(text, "kk\n: 1\nlist:\n    - ? \"qqqq");
  ASSERT_CONTAINS(text, "qq\\x01\"\n      :\n          a:\n");
  wp_free(text);
  wp_free(yaml);
  wp_node_free(r);
  return 0;
}

TEST(yaml_write_file_mode) {
  mk_tmp();
  struct wp_node *m = wp_node_new_map(1);
  ASSERT_EQ(wp_node_map_set(m, "k", wp_node_new_str("v", 1, 0)), 0);
  ASSERT_EQ(wp_yaml_write_file(tp("out.yaml"), m, 0600), 0);
  struct stat st;
  ASSERT_EQ(stat(tp("out.yaml"), &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0600);
  ASSERT_STREQ(slurp(tp("out.yaml")), "k: v\n");
  errno = 0;
  ASSERT_EQ(wp_yaml_write_file(tp("no/such/dir/out.yaml"), m, 0600), -1);
  ASSERT_EQ(errno, ENOENT);
  wp_node_free(m);
  rm_tmp();
  return 0;
}

/* Truncations and byte flips of a real file: every one either parses or
** fails with a "name:line:" message; none crashes or leaks. */
TEST(yaml_mutations_never_crash) {
  const char *src = slurp(fx("good/src/_index.yaml"));
  ASSERT(src != NULL && strlen(src) > 100);
  static char text[65536];
  size_t n = strlen(src);
  memcpy(text, src, n + 1);
  char err[512];
  int failures = 0;
  for (size_t cut = 0; cut <= n; cut++) {
    struct wp_node *r = wp_yaml_load_mem("m.yaml", text, cut, err, sizeof err);
    if (r == NULL) {
      ASSERT(strncmp(err, "m.yaml:", 7) == 0);
      failures++;
    }
    wp_node_free(r);
  }
  const char flips[] = {':',  '-',  '[', '{', '"', '\'', '&', '*',
                        '\t', '\0', '|', '>', '!', '%',  '@'};
  for (size_t i = 0; i < n; i += 3) {
    char saved = text[i];
    text[i] = flips[i % sizeof flips];
    struct wp_node *r = wp_yaml_load_mem("m.yaml", text, n, err, sizeof err);
    if (r == NULL) {
      ASSERT(strncmp(err, "m.yaml:", 7) == 0);
      failures++;
    }
    wp_node_free(r);
    text[i] = saved;
  }
  ASSERT(failures > 0); /* the mutations did reach the error paths */
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Entries: the good tree                                                  */
/* ---------------------------------------------------------------------- */

static void load_good(struct wp_entries *es) {
  char err[512];
  memset(es, 0, sizeof *es);
  if (wp_entries_load(es, fx("good/src"), err, sizeof err) != 0)
    TEST_FAIL("load: %s", err);
}

TEST(entries_good_tree) {
  struct wp_entries es;
  load_good(&es);
  ASSERT_EQ(es.n, 13);
  /* walk order: _index.yaml, data.json, lib/_index.yaml, lib/deep/_index.yml,
     single.yml; entries in file order */
  const char *order[] = {
      "app:terminal",   "app:processes",     "app:cli",
      "app:relay",      "app:relay-service", "app:worker",
      "app.json:cfg",   "app.json:empty",    "app.lib:util",
      "app.lib:helper", "app.deep:util",     "app.deep:worker.service",
      "app.single:solo"};
  for (size_t i = 0; i < 13; i++) ASSERT_STREQ(es.v[i]->id, order[i]);
  struct wp_entry *cli = wp_entries_find(&es, "app:cli");
  ASSERT(cli != NULL);
  ASSERT_STREQ(cli->ns, "app");
  ASSERT_STREQ(cli->name, "cli");
  ASSERT_STREQ(cli->kind, "process.lua");
  ASSERT_EQ(cli->line, 18);
  ASSERT_CONTAINS(cli->file, "good/src/_index.yaml");
  ASSERT_STREQ(data_str(cli, "source"), slurp(fx("good/src/cli.lua")));
  ASSERT_STREQ(data_str(cli, "method"), "main");
  ASSERT_CONTAINS(cli->source_file, "good/src/cli.lua");
  const struct wp_node *mods = wp_node_get(cli->data, "modules");
  ASSERT(mods && mods->type == WP_NODE_SEQ && mods->u.seq.n == 2);
  ASSERT_STREQ(wp_node_str(mods->u.seq.items[1]), "process");
  ASSERT(wp_node_get(cli->data, "name") == NULL);
  ASSERT(wp_node_get(cli->data, "kind") == NULL);
  ASSERT(wp_node_get(cli->data, "meta") == NULL);
  ASSERT_STREQ(wp_node_str(wp_node_path(cli->meta, "command.name")), "hello");

  struct wp_entry *host = wp_entries_find(&es, "app:processes");
  ASSERT_EQ(wp_node_path(host->data, "host.workers")->u.i, 4);
  ASSERT_EQ(wp_node_path(host->data, "lifecycle.auto_start")->u.b, 1);
  ASSERT(host->meta == NULL);
  ASSERT(host->source_file == NULL);

  struct wp_entry *svc = wp_entries_find(&es, "app:relay-service");
  ASSERT_STREQ(data_str(svc, "process"), "app:relay");
  ASSERT_STREQ(data_str(svc, "lifecycle.restart.initial_delay"), "500ms");
  const struct wp_node *in = wp_node_get(svc->data, "input");
  ASSERT(in && in->u.seq.n == 5);
  ASSERT_EQ(in->u.seq.items[0]->type, WP_NODE_STR);
  ASSERT_EQ(in->u.seq.items[1]->type, WP_NODE_INT);
  ASSERT_EQ(in->u.seq.items[2]->type, WP_NODE_FLOAT);
  ASSERT_EQ(in->u.seq.items[3]->type, WP_NODE_BOOL);
  ASSERT_EQ(in->u.seq.items[4]->type, WP_NODE_NULL);
  /* a quoted "1.0" stays a string */
  ASSERT_STREQ(data_str(wp_entries_find(&es, "app:worker"), "version"), "1.0");
  ASSERT(wp_entries_find(&es, "app:nope") == NULL);
  ASSERT(wp_entries_find(&es, "cli") == NULL);
  wp_entries_free(&es);
  ASSERT_EQ(es.n, 0);
  ASSERT(es.v == NULL);
  return 0;
}

TEST(entries_nested_meta_and_file_refs) {
  struct wp_entries es;
  load_good(&es);
  const char *util_lua = "return { twice = function(x) return x * 2 end }\n";
  const char *banner = "== banner ==\n";
  const char *helper_lua = "return { help = function() return \"help\" end }\n";
  struct wp_entry *u = wp_entries_find(&es, "app.lib:util");
  ASSERT(u != NULL);
  ASSERT_STREQ(data_str(u, "source"), util_lua); /* file:/// = source root */
  ASSERT_CONTAINS(u->source_file, "good/src/shared/util.lua");
  /* file meta merged under entry meta; entry keys win */
  ASSERT_STREQ(wp_node_str(wp_node_get(u->meta, "owner")), "team-a");
  ASSERT_EQ(wp_node_get(u->meta, "tier")->u.i, 3);
  ASSERT_STREQ(wp_node_str(wp_node_get(u->meta, "title")), "Utilities");
  struct wp_entry *h = wp_entries_find(&es, "app.lib:helper");
  ASSERT_EQ(wp_node_get(h->meta, "tier")->u.i, 2);
  ASSERT_STREQ(wp_node_str(wp_node_get(h->meta, "owner")), "team-a");
  ASSERT_CONTAINS(h->source_file, "good/src/lib/helper.lua");
  /* every string anywhere is resolved, relative to the file's directory */
  ASSERT_STREQ(data_str(h, "config.banner"), banner);
  const struct wp_node *list = wp_node_path(h->data, "config.list");
  ASSERT_STREQ(wp_node_str(list->u.seq.items[0]), helper_lua);
  ASSERT_STREQ(wp_node_str(list->u.seq.items[1]), "plain text");
  const struct wp_node *deeper = wp_node_path(h->data, "config.nested.deeper");
  ASSERT_STREQ(wp_node_str(wp_node_get(deeper->u.seq.items[0], "text")),
               banner);
  /* a different namespace may reuse a name; ../.. stays inside the root */
  struct wp_entry *d = wp_entries_find(&es, "app.deep:util");
  ASSERT_STREQ(data_str(d, "source"), util_lua);
  ASSERT_CONTAINS(d->file, "good/src/lib/deep/_index.yml");
  ASSERT(d->meta == NULL);
  ASSERT_STREQ(wp_entries_find(&es, "app.deep:worker.service")->name,
               "worker.service");
  wp_entries_free(&es);
  return 0;
}

TEST(entries_single_form_and_data_rule) {
  struct wp_entries es;
  load_good(&es);
  struct wp_entry *s = wp_entries_find(&es, "app.single:solo");
  ASSERT(s != NULL);
  ASSERT_STREQ(s->kind, "process.lua");
  ASSERT_EQ(s->line, 4);
  ASSERT_STREQ(data_str(s, "source"),
               "return { run = function() return \"solo\" end }\n");
  ASSERT_CONTAINS(s->source_file, "good/src/solo.lua");
  ASSERT_STREQ(data_str(s, "method"), "run");
  ASSERT_EQ(wp_node_get(s->data, "modules")->u.seq.n, 1);
  const char *gone[] = {"namespace", "name",         "kind",   "meta",
                        "version",   "requirements", "entries"};
  for (int i = 0; i < 7; i++) ASSERT(wp_node_get(s->data, gone[i]) == NULL);
  ASSERT_EQ(s->data->u.map.n, 3);
  ASSERT_STREQ(wp_node_str(wp_node_get(s->meta, "title")), "Solo");
  /* JSON file, data: form: data is exactly the data: value */
  struct wp_entry *c = wp_entries_find(&es, "app.json:cfg");
  ASSERT(c != NULL);
  ASSERT_EQ(c->data->u.map.n, 4);
  ASSERT_EQ(wp_node_get(c->data, "port")->u.i, 8080);
  ASSERT_EQ(wp_node_get(c->data, "tls")->type, WP_NODE_BOOL);
  ASSERT(wp_node_get(c->data, "ratio")->u.f == 0.25);
  ASSERT(wp_node_get(c->data, "ignored") == NULL);
  ASSERT_STREQ(wp_node_str(wp_node_get(c->meta, "title")), "from json");
  ASSERT_EQ(c->line, 4); /* the line of its opening brace */
  struct wp_entry *e = wp_entries_find(&es, "app.json:empty");
  ASSERT(e && e->data && e->data->type == WP_NODE_MAP && e->data->u.map.n == 0);
  wp_entries_free(&es);
  return 0;
}

TEST(entries_files_without_namespace_skipped) {
  struct wp_entries es;
  load_good(&es);
  /* notes.yaml has no namespace (and a file:// that would fail);
     empty_ns.yaml has an empty one */
  for (size_t i = 0; i < es.n; i++) {
    ASSERT(strstr(es.v[i]->file, "notes.yaml") == NULL);
    ASSERT(strstr(es.v[i]->file, "empty_ns.yaml") == NULL);
  }
  ASSERT(wp_entries_find(&es, ":ghost") == NULL);
  wp_entries_free(&es);
  return 0;
}

TEST(entries_display_paths_from_dot_slash) {
  char err[512];
  struct wp_entries es = {0};
  int here = open(".", O_RDONLY | O_DIRECTORY);
  ASSERT(here >= 0);
  ASSERT_EQ(chdir(fx("good")), 0);
  ASSERT_EQ(wp_entries_load(&es, "./src/", err, sizeof err), 0);
  struct wp_entry *cli = wp_entries_find(&es, "app:cli");
  ASSERT_STREQ(cli->file, "src/_index.yaml");
  ASSERT_STREQ(cli->source_file, "src/cli.lua");
  ASSERT_STREQ(wp_entries_find(&es, "app.lib:util")->source_file,
               "src/shared/util.lua");
  wp_entries_free(&es);
  ASSERT_EQ(chdir("src"), 0);
  ASSERT_EQ(wp_entries_load(&es, ".", err, sizeof err), 0);
  ASSERT_STREQ(wp_entries_find(&es, "app:cli")->file, "_index.yaml");
  ASSERT_STREQ(wp_entries_find(&es, "app:cli")->source_file, "cli.lua");
  wp_entries_free(&es);
  ASSERT_EQ(fchdir(here), 0); /* for in-process runs (`prog NAME ...`) */
  close(here);
  return 0;
}

TEST(entries_walk_order_and_skipped_dirs) {
  char err[512];
  mk_tmp();
  put("src/a.yaml", "namespace: t\nentries:\n  - {name: second, kind: k}\n");
  put("src/a/x.yaml", "namespace: t\nentries:\n  - {name: first, kind: k}\n");
  put("src/b.yml", "namespace: t\nname: third\nkind: k\n");
  put("src/c.json",
      "{\"namespace\": \"t\", \"name\": \"fourth\", \"kind\": \"k\"}");
  put("src/d.txt", "namespace: t\nname: not-loaded\nkind: k\n");
  put("src/README.md", "# namespace: t\n");
  put("src/node_modules/pkg/_index.yaml",
      "namespace: t\nname: first\nkind: k\n: bad\n");
  put("src/.hidden/_index.yaml", "namespace: t\n\tbroken: [\n");
  put("src/sub/.cache/x.yaml", "namespace: t\nname: first\nkind: k\n");
  ASSERT_EQ(symlink("a", tp("src/linked")), 0); /* not followed */
  struct wp_entries es = {0};
  if (wp_entries_load(&es, tp("src"), err, sizeof err) != 0)
    TEST_FAIL("load: %s", err);
  ASSERT_EQ(es.n, 4);
  ASSERT_STREQ(es.v[0]->id, "t:first"); /* a/ before a.yaml, as Go walks */
  ASSERT_STREQ(es.v[1]->id, "t:second");
  ASSERT_STREQ(es.v[2]->id, "t:third");
  ASSERT_STREQ(es.v[3]->id, "t:fourth");
  wp_entries_free(&es);
  rm_tmp();
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Entries: bad trees                                                      */
/* ---------------------------------------------------------------------- */

static const char *load_bad(const char *src) {
  static char err[1024];
  struct wp_entries es;
  memset(&es, 0x5a, sizeof es); /* must be reset by the loader */
  err[0] = '\0';
  ASSERT_EQ(wp_entries_load(&es, src, err, sizeof err), -1);
  ASSERT_EQ(es.n, 0);
  ASSERT(es.v == NULL);
  ASSERT(err[0] != '\0');
  return err;
}

TEST(entries_bad_syntax) {
  const char *err = load_bad(fx("bad/syntax/src"));
  ASSERT_CONTAINS(err,
                  "bad/syntax/src/_index.yaml:7: mapping values are not "
                  "allowed in this context");
  return 0;
}

TEST(entries_bad_duplicate_id) {
  const char *err = load_bad(fx("bad/dup_id/src"));
  ASSERT_CONTAINS(err,
                  "bad/dup_id/src/b.yaml:6: duplicate entry id app:x "
                  "(first defined at ");
  ASSERT_CONTAINS(err, "bad/dup_id/src/a.yaml:5)");
  return 0;
}

TEST(entries_bad_duplicate_key) {
  const char *err = load_bad(fx("bad/dup_key/src"));
  ASSERT_CONTAINS(err,
                  "bad/dup_key/src/_index.yaml:6: duplicate key \"kind\" "
                  "in mapping (first at line 4)");
  return 0;
}

TEST(entries_bad_missing_file) {
  const char *err = load_bad(fx("bad/missing_file/src"));
  ASSERT_CONTAINS(err,
                  "bad/missing_file/src/_index.yaml:8: cannot read "
                  "file://worker.lua (");
  ASSERT_CONTAINS(err,
                  "bad/missing_file/src/worker.lua): No such file or "
                  "directory");
  return 0;
}

TEST(entries_bad_escape) {
  const char *err = load_bad(fx("bad/escape/src"));
  ASSERT_CONTAINS(err,
                  "bad/escape/src/_index.yaml:5: file://../outside.lua "
                  "escapes the source root");
  ASSERT_CONTAINS(err, "bad/escape/src (files must live under it)");
  return 0;
}

TEST(entries_bad_no_kind_no_name) {
  const char *err = load_bad(fx("bad/no_kind/src"));
  ASSERT_CONTAINS(err,
                  "bad/no_kind/src/_index.yaml:6: entry app:kindless has "
                  "no kind");
  err = load_bad(fx("bad/no_name/src"));
  ASSERT_CONTAINS(err, "bad/no_name/src/_index.yaml:3: entry has no name");
  return 0;
}

TEST(entries_bad_shapes) {
  mk_tmp();
  struct {
    const char *file, *text, *want;
  } cases[] = {
      {"x.yaml", "namespace: n\nentries: {name: a}\n",
       "x.yaml:2: entries must be a list"},
      {"x.yaml", "namespace: n\nentries:\n  - just a string\n",
       "x.yaml:3: entry must be a mapping"},
      {"x.yaml", "namespace: {a: 1}\n", "x.yaml:1: namespace must be a string"},
      {"x.yaml", "namespace: a:b\nentries: []\n",
       "x.yaml:1: namespace \"a:b\" must not contain ':'"},
      {"x.yaml", "namespace: n\nentries:\n  - {name: \"a:b\", kind: k}\n",
       "x.yaml:3: entry name \"a:b\" must not contain ':'"},
      {"x.yaml", "namespace: n\nentries:\n  - {name: [a], kind: k}\n",
       "x.yaml:3: entry name must be a string"},
      {"x.yaml", "namespace: n\nentries:\n  - {name: a, kind: {x: 1}}\n",
       "x.yaml:3: kind of entry n:a must be a string"},
      {"x.yaml", "namespace: n\nentries:\n  - {name: \"\", kind: k}\n",
       "x.yaml:3: entry has no name"},
      {"x.yaml",
       "namespace: n\nentries:\n  - name: a\n    kind: k\n    data: 5\n",
       "x.yaml:5: data of entry n:a must be a mapping"},
      {"x.yaml",
       "namespace: n\nentries:\n  - name: a\n    kind: k\n    meta: [1]\n",
       "x.yaml:5: meta of entry n:a must be a mapping"},
      {"x.yaml", "namespace: n\nmeta: text\nentries: []\n",
       "x.yaml:2: meta must be a mapping"},
      {"x.yaml", "namespace: n\nname: solo\n",
       "x.yaml:2: entry n:solo has no kind"},
      {"x.yaml", "namespace: n\nkind: k\n", "x.yaml:1: entry has no name"},
      {"x.yaml",
       "namespace: n\nentries:\n  - {name: a, kind: k, s: \"file://\"}\n",
       "x.yaml:3: empty file:// reference"},
      {"x.yaml",
       "namespace: n\nentries:\n  - {name: a, kind: k, s: \"file:///../x\"}\n",
       "x.yaml:3: file:///../x escapes the source root"},
      {"x.yaml",
       "namespace: n\nentries:\n  - {name: a, kind: k, s: \"file://sub\"}\n",
       "x.yaml:3: cannot read file://sub ("},
      {"sub/y.yaml",
       "namespace: n\nentries:\n  - {name: a, kind: k}\n  - {name: a, kind: "
       "k}\n",
       "sub/y.yaml:4: duplicate entry id n:a (first defined at "},
      {"x.json", "{\"namespace\": \"n\", \"entries\": [}",
       "x.json:1: did not find expected node content"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char dir[64];
    snprintf(dir, sizeof dir, "case%zu/src/%s", i, cases[i].file);
    put(dir, cases[i].text);
    snprintf(dir, sizeof dir, "case%zu/src/sub/keep.txt", i);
    put(dir, "");
    snprintf(dir, sizeof dir, "case%zu/src", i);
    const char *err = load_bad(tp(dir));
    if (!strstr(err, cases[i].want))
      TEST_FAIL("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
  }
  ASSERT_CONTAINS(load_bad(tp("nope")),
                  "nope: cannot read source directory: "
                  "No such file or directory");
  put("plain", "x");
  ASSERT_CONTAINS(load_bad(tp("plain")), "source path is not a directory");
  ASSERT_CONTAINS(load_bad(""), "source directory is empty");
  rm_tmp();
  return 0;
}

TEST(entries_bad_symlink_escape) {
  mk_tmp();
  put("secret.lua", "return 'secret'\n");
  put("src/_index.yaml",
      "namespace: n\nentries:\n  - name: a\n    kind: k\n"
      "    source: file://link.lua\n");
  ASSERT_EQ(symlink("../secret.lua", tp("src/link.lua")), 0);
  const char *err = load_bad(tp("src"));
  ASSERT_CONTAINS(err, "_index.yaml:5: file://link.lua (");
  ASSERT_CONTAINS(err, "resolves outside the source root");
  /* a link that stays inside is fine */
  put("src/real.lua", "return 1\n");
  ASSERT_EQ(unlink(tp("src/link.lua")), 0);
  ASSERT_EQ(symlink("real.lua", tp("src/link.lua")), 0);
  struct wp_entries es = {0};
  char e2[512];
  if (wp_entries_load(&es, tp("src"), e2, sizeof e2) != 0) TEST_FAIL("%s", e2);
  ASSERT_STREQ(data_str(es.v[0], "source"), "return 1\n");
  wp_entries_free(&es);
  rm_tmp();
  return 0;
}

/* FIFOs are never opened for a blocking read: ignored by the walk, refused
** as file:// targets and as YAML files. */
TEST(entries_fifo_never_blocks) {
  char err[512];
  mk_tmp();
  put("src/_index.yaml", "namespace: n\nentries:\n  - {name: a, kind: k}\n");
  ASSERT_EQ(mkfifo(tp("src/pipe.yaml"), 0600), 0);
  struct wp_entries es = {0};
  if (wp_entries_load(&es, tp("src"), err, sizeof err) != 0)
    TEST_FAIL("load: %s", err);
  ASSERT_EQ(es.n, 1);
  wp_entries_free(&es);
  put("src/_index.yaml",
      "namespace: n\nentries:\n  - {name: a, kind: k, source: "
      "\"file://pipe.yaml\"}\n");
  ASSERT_CONTAINS(load_bad(tp("src")),
                  "_index.yaml:3: cannot read file://pipe.yaml (");
  ASSERT_CONTAINS(load_bad(tp("src")), "pipe.yaml): not a regular file");
  ASSERT(wp_yaml_load_file(tp("src/pipe.yaml"), err, sizeof err) == NULL);
  ASSERT_CONTAINS(err, "pipe.yaml: cannot read file: not a regular file");
  rm_tmp();
  return 0;
}

/* Every truncation of a definition file either loads or fails cleanly. */
TEST(entries_truncated_files_never_crash) {
  const char *src = slurp(fx("good/src/lib/_index.yaml"));
  static char text[8192];
  ASSERT(src != NULL && strlen(src) < sizeof text);
  size_t n = strlen(src);
  memcpy(text, src, n + 1);
  mk_tmp();
  put("src/shared/util.lua", "u\n");
  put("src/banner.txt", "b\n");
  put("src/lib/helper.lua", "h\n");
  int ok = 0, bad = 0;
  for (size_t cut = 0; cut <= n; cut += 5) {
    char saved = text[cut];
    text[cut] = '\0';
    put("src/lib/_index.yaml", text);
    text[cut] = saved;
    struct wp_entries es = {0};
    char err[512];
    if (wp_entries_load(&es, tp("src"), err, sizeof err) == 0) {
      ok++;
      for (size_t i = 0; i < es.n; i++) ASSERT(es.v[i]->data != NULL);
    } else {
      bad++;
      ASSERT_CONTAINS(err, "lib/_index.yaml:");
    }
    wp_entries_free(&es);
  }
  ASSERT(ok > 0 && bad > 0);
  rm_tmp();
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Lock file                                                               */
/* ---------------------------------------------------------------------- */

TEST(lock_read_good_and_extra_keys) {
  char err[512], *src = NULL, *mods = NULL;
  ASSERT_EQ(wp_lock_read(fx("lock/good.lock"), &src, &mods, err, sizeof err),
            0);
  ASSERT_STREQ(src, "./src");
  ASSERT_STREQ(mods, ".wippy");
  wp_free(src);
  wp_free(mods);
  ASSERT_EQ(wp_lock_read(fx("lock/extra.lock"), &src, &mods, err, sizeof err),
            0);
  ASSERT_STREQ(src, "app/src");
  ASSERT_STREQ(mods, "vendor");
  wp_free(src);
  wp_free(mods);
  return 0;
}

TEST(lock_read_errors) {
  struct {
    const char *file, *want;
  } cases[] = {
      {"lock/bad_yaml.lock", "bad_yaml.lock:3: mapping values are not allowed"},
      {"lock/no_src.lock", "no_src.lock:2: directories.src is missing"},
      {"lock/empty_modules.lock",
       "empty_modules.lock:3: directories.modules is empty"},
      {"lock/no_dirs.lock", "no_dirs.lock:1: directories is missing"},
      {"lock/dirs_list.lock",
       "dirs_list.lock:2: directories must be a mapping"},
      {"lock/absent.lock",
       "absent.lock: cannot read file: No such file or directory"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char err[512] = "", *src = (char *)"x", *mods = (char *)"y";
    ASSERT_EQ(wp_lock_read(fx(cases[i].file), &src, &mods, err, sizeof err),
              -1);
    ASSERT(src == NULL && mods == NULL);
    if (!strstr(err, cases[i].want))
      TEST_FAIL("%s: \"%s\" lacks \"%s\"", cases[i].file, err, cases[i].want);
  }
  mk_tmp();
  put("empty.lock", "");
  put("scalar.lock", "just text\n");
  put("typed.lock", "directories:\n  src: 12\n  modules: m\n");
  char err[512], *src, *mods;
  ASSERT_EQ(wp_lock_read(tp("empty.lock"), &src, &mods, err, sizeof err), -1);
  ASSERT_CONTAINS(err, "empty.lock:1: the lock file must be a mapping");
  ASSERT_EQ(wp_lock_read(tp("scalar.lock"), &src, &mods, err, sizeof err), -1);
  ASSERT_CONTAINS(err, "scalar.lock:1: the lock file must be a mapping");
  ASSERT_EQ(wp_lock_read(tp("typed.lock"), &src, &mods, err, sizeof err), -1);
  ASSERT_CONTAINS(err, "typed.lock:2: directories.src must be a string");
  rm_tmp();
  return 0;
}

TEST(lock_init_creates_default_file) {
  char err[512], *src, *mods;
  mk_tmp();
  ASSERT_EQ(wp_lock_init(tp("wippy.lock"), "./src", ".wippy", err, sizeof err),
            0);
  ASSERT_STREQ(slurp(tp("wippy.lock")),
               "directories:\n    modules: .wippy\n    src: ./src\n");
  struct stat st;
  ASSERT_EQ(stat(tp("wippy.lock"), &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(wp_lock_read(tp("wippy.lock"), &src, &mods, err, sizeof err), 0);
  ASSERT_STREQ(src, "./src");
  ASSERT_STREQ(mods, ".wippy");
  wp_free(src);
  wp_free(mods);
  /* values that need quoting survive the round trip */
  ASSERT_EQ(
      wp_lock_init(tp("other.lock"), "my src: v1", "123", err, sizeof err), 0);
  ASSERT_EQ(wp_lock_read(tp("other.lock"), &src, &mods, err, sizeof err), 0);
  ASSERT_STREQ(src, "my src: v1");
  ASSERT_STREQ(mods, "123");
  wp_free(src);
  wp_free(mods);
  ASSERT_EQ(wp_lock_init(tp("x.lock"), "", ".wippy", err, sizeof err), -1);
  ASSERT_CONTAINS(err, "x.lock: the source directory must not be empty");
  ASSERT_EQ(wp_lock_init(tp("missing/dir/x.lock"), "s", "m", err, sizeof err),
            -1);
  ASSERT_CONTAINS(err,
                  "x.lock: cannot write lock file: No such file or directory");
  rm_tmp();
  return 0;
}

TEST(lock_init_updates_keeping_other_keys) {
  char err[512], *src, *mods;
  mk_tmp();
  const char *orig = slurp(fx("lock/extra.lock"));
  ASSERT(orig != NULL);
  put("wippy.lock", orig);
  ASSERT_EQ(chmod(tp("wippy.lock"), 0644), 0);
  ASSERT_EQ(wp_lock_init(tp("wippy.lock"), "./source", "mods", err, sizeof err),
            0);
  ASSERT_EQ(wp_lock_read(tp("wippy.lock"), &src, &mods, err, sizeof err), 0);
  ASSERT_STREQ(src, "./source");
  ASSERT_STREQ(mods, "mods");
  wp_free(src);
  wp_free(mods);
  struct wp_node *r = wp_yaml_load_file(tp("wippy.lock"), err, sizeof err);
  ASSERT(r != NULL);
  ASSERT_STREQ(r->u.map.keys[0], "directories"); /* order kept */
  ASSERT_STREQ(r->u.map.keys[1], "modules");
  const struct wp_node *m = wp_node_get(r, "modules");
  ASSERT(m && m->type == WP_NODE_SEQ && m->u.seq.n == 1);
  ASSERT_STREQ(wp_node_str(wp_node_get(m->u.seq.items[0], "name")),
               "wippy/http");
  ASSERT_STREQ(wp_node_str(wp_node_get(m->u.seq.items[0], "hash")), "abc123");
  ASSERT_STREQ(
      wp_node_str(
          wp_node_path(r, "replacements")->u.seq.items[0]->u.map.vals[1]),
      "../http");
  ASSERT_EQ(wp_node_path(r, "options.unpack_modules")->u.b, 1);
  wp_node_free(r);
  ASSERT_CONTAINS(slurp(tp("wippy.lock")),
                  "modules:\n    - name: wippy/http\n      version: v1.2.3\n");
  struct stat st;
  ASSERT_EQ(stat(tp("wippy.lock"), &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0600);
  /* a lock without directories gets them; an empty file becomes the default */
  put("nodirs.lock", "modules: []\n");
  ASSERT_EQ(wp_lock_init(tp("nodirs.lock"), "./src", ".wippy", err, sizeof err),
            0);
  ASSERT_STREQ(
      slurp(tp("nodirs.lock")),
      "modules: []\ndirectories:\n    modules: .wippy\n    src: ./src\n");
  put("empty.lock", "");
  ASSERT_EQ(wp_lock_init(tp("empty.lock"), "./src", ".wippy", err, sizeof err),
            0);
  ASSERT_STREQ(slurp(tp("empty.lock")),
               "directories:\n    modules: .wippy\n    src: ./src\n");
  rm_tmp();
  return 0;
}

TEST(lock_init_refuses_unreadable_lock) {
  char err[512];
  mk_tmp();
  const char *bad = "directories:\n  src: a\n   modules: b\n";
  put("wippy.lock", bad);
  ASSERT_EQ(wp_lock_init(tp("wippy.lock"), "./src", ".wippy", err, sizeof err),
            -1);
  ASSERT_CONTAINS(err, "wippy.lock:3:");
  ASSERT_STREQ(slurp(tp("wippy.lock")), bad); /* untouched */
  put("list.lock", "- a\n- b\n");
  ASSERT_EQ(wp_lock_init(tp("list.lock"), "./src", ".wippy", err, sizeof err),
            -1);
  ASSERT_CONTAINS(err, "list.lock:1: the existing lock file is not a mapping");
  rm_tmp();
  return 0;
}

TEST_LIST = {
    TEST_ENTRY(yaml_scalar_types),
    TEST_ENTRY(yaml_quoted_and_tagged),
    TEST_ENTRY(yaml_lines_are_one_based),
    TEST_ENTRY(yaml_duplicate_keys),
    TEST_ENTRY(yaml_aliases_and_merge),
    TEST_ENTRY(yaml_resource_limits),
    TEST_ENTRY(yaml_syntax_errors_name_file_and_line),
    TEST_ENTRY(yaml_empty_and_multi_document),
    TEST_ENTRY(yaml_node_api),
    TEST_ENTRY(yaml_writer_format_and_roundtrip),
  TEST_ENTRY(yaml_writer_escapes_breaks_and_controls),
  TEST_ENTRY(yaml_writer_long_keys),
    TEST_ENTRY(yaml_write_file_mode),
    TEST_ENTRY(yaml_mutations_never_crash),
    TEST_ENTRY(entries_good_tree),
    TEST_ENTRY(entries_nested_meta_and_file_refs),
    TEST_ENTRY(entries_single_form_and_data_rule),
    TEST_ENTRY(entries_files_without_namespace_skipped),
    TEST_ENTRY(entries_display_paths_from_dot_slash),
    TEST_ENTRY(entries_walk_order_and_skipped_dirs),
    TEST_ENTRY(entries_bad_syntax),
    TEST_ENTRY(entries_bad_duplicate_id),
    TEST_ENTRY(entries_bad_duplicate_key),
    TEST_ENTRY(entries_bad_missing_file),
    TEST_ENTRY(entries_bad_escape),
    TEST_ENTRY(entries_bad_no_kind_no_name),
    TEST_ENTRY(entries_bad_shapes),
    TEST_ENTRY(entries_bad_symlink_escape),
    TEST_ENTRY(entries_fifo_never_blocks),
    TEST_ENTRY(entries_truncated_files_never_crash),
    TEST_ENTRY(lock_read_good_and_extra_keys),
    TEST_ENTRY(lock_read_errors),
    TEST_ENTRY(lock_init_creates_default_file),
    TEST_ENTRY(lock_init_updates_keeping_other_keys),
    TEST_ENTRY(lock_init_refuses_unreadable_lock),
    TEST_END,
};
