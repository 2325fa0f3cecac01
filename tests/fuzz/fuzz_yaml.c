/*
** fuzz_yaml.c: libFuzzer target for the YAML reader and writer
** (app/yamltree.c, yamlscalar.c, yamlemit.c), the entries loader
** (app/entries.c) and the configuration loader (app/config.c).
**
** Each input is YAML text, used three ways (the last two only when the
** text loads to a mapping: other texts take the same path there each time):
**
**   tree     wp_yaml_load_mem: a tree, or NULL with a message that names
**            the file ("fuzz.yaml:LINE: ..."). A tree is written back with
**            wp_yaml_emit, and the text must load again to an equal tree
**            (same types, values, key order; lines aside): the writer's
**            promise that write-then-load round-trips. Trees of more than
**            100k nodes (alias expansion) skip this step.
**   entries  the text as src/_index.yaml of a source directory (made in
**            the working directory) that also holds src/a.lua, src/sub/b.lua
**            and src/out.lua (a symbolic link to /etc/hostname, outside the
**            root), loaded with
**            wp_entries_load: on success every entry is complete (id is
**            namespace:name, a kind, a data mapping, meta a mapping or
**            absent, its file); on failure nothing is kept and the message
**            names src/_index.yaml.
**   config   the same file as a .wippy.yaml (wp_config_load, with the
**            variable FUZZ_VAR set for ${env:FUZZ_VAR}), then the typed
**            getters on a few keys.
**
** ASan and UBSan watch every access; LeakSanitizer checks that every path
** frees what it allocated.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../unit/test_node_equal.h"
#include "alloc.h"
#include "config.h"
#include "entries.h"
#include "yamltree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fz_dir[64];      /* the temporary source root's parent */
static char fz_src[96];      /* <dir>/src */
static char fz_index[128];   /* <dir>/src/_index.yaml */

static void fz_fail(const char *what, const char *detail) {
  fprintf(stderr, "yaml invariant broken: %s%s%s\n", what, detail ? ": " : "",
          detail ? detail : "");
  abort();
}

static void fz_write(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (f == NULL || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
    perror(path);
    abort();
  }
}

static void fz_setup(void) {
  char path[160];
  /* In the working directory: run.sh runs the target in a temporary
     directory that it removes, also after a crash. */
  strcpy(fz_dir, "fuzz_yaml.XXXXXX");
  if (mkdtemp(fz_dir) == NULL) abort();
  snprintf(fz_src, sizeof fz_src, "%s/src", fz_dir);
  snprintf(fz_index, sizeof fz_index, "%s/_index.yaml", fz_src);
  snprintf(path, sizeof path, "%s/sub", fz_src);
  if (mkdir(fz_src, 0700) != 0 || mkdir(path, 0700) != 0) abort();
  snprintf(path, sizeof path, "%s/a.lua", fz_src);
  fz_write(path, "return 1\n", 9);
  snprintf(path, sizeof path, "%s/sub/b.lua", fz_src);
  fz_write(path, "return 2\n", 9);
  snprintf(path, sizeof path, "%s/out.lua", fz_src);
  if (symlink("/etc/hostname", path) != 0) abort();
  setenv("FUZZ_VAR", "from the environment", 1);
}

/* Removes the directory at exit (libFuzzer exits through exit()). */
static void fz_cleanup(void) {
  char cmd[160];
  if (fz_dir[0] == '\0') return;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", fz_dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", fz_dir);
}

static size_t count_nodes(const struct wp_node *n) {
  size_t c = 1;
  if (n && n->type == WP_NODE_SEQ)
    for (size_t i = 0; i < n->u.seq.n; i++) c += count_nodes(n->u.seq.items[i]);
  if (n && n->type == WP_NODE_MAP)
    for (size_t i = 0; i < n->u.map.n; i++) c += count_nodes(n->u.map.vals[i]);
  return c;
}

/* Returns the tree's root type, or -1 when the text does not load. */
static int check_tree(const uint8_t *data, size_t size) {
  char err[512] = "";
  struct wp_node *root = wp_yaml_load_mem("fuzz.yaml", (const char *)data, size, err,
                                          sizeof err);
  if (root == NULL) {
    if (strncmp(err, "fuzz.yaml:", 10) != 0) fz_fail("error does not name the file", err);
    return -1;
  }
  int type = root->type;
  if (count_nodes(root) <= 100000) {
    size_t len;
    char *text = wp_yaml_emit(root, &len);
    if (text == NULL) fz_fail("emit failed", NULL);
    if (strlen(text) != len) fz_fail("emitted text holds a NUL", NULL);
    err[0] = '\0';
    struct wp_node *again = wp_yaml_load_mem("emitted.yaml", text, len, err, sizeof err);
    if (again == NULL || !node_equal(root, again)) {
      fprintf(stderr, "emitted text:\n%s\n", text);
      fz_fail(again ? "emitted text loads to another tree" : "emitted text does not load",
              err);
    }
    wp_node_free(again);
    wp_free(text);
  }
  wp_node_free(root);
  return type;
}

static void check_entries(const uint8_t *data, size_t size) {
  struct wp_entries es;
  char err[1024] = "", want[160];
  fz_write(fz_index, data, size);
  memset(&es, 0, sizeof es);
  int rc = wp_entries_load(&es, fz_src, err, sizeof err);
  snprintf(want, sizeof want, "%s:", fz_index);
  if (rc != 0) {
    if (es.n != 0 || es.v != NULL) fz_fail("entries kept after an error", err);
    if (strncmp(err, want, strlen(want)) != 0) fz_fail("error does not name the file", err);
    return;
  }
  for (size_t i = 0; i < es.n; i++) {
    const struct wp_entry *e = es.v[i];
    char id[4096];
    if (!e->id || !e->ns || !e->name || !e->kind || !e->file || !e->data)
      fz_fail("incomplete entry", e->id);
    snprintf(id, sizeof id, "%s:%s", e->ns, e->name);
    if (strcmp(id, e->id) != 0 || strchr(e->name, ':') || strchr(e->ns, ':') ||
        !e->ns[0] || !e->name[0] || !e->kind[0])
      fz_fail("bad entry id, namespace, name or kind", e->id);
    if (e->data->type != WP_NODE_MAP) fz_fail("data is not a mapping", e->id);
    if (e->meta && e->meta->type != WP_NODE_MAP) fz_fail("meta is not a mapping", e->id);
    if (strcmp(e->file, fz_index) != 0) fz_fail("entry names another file", e->file);
    if (wp_entries_find(&es, e->id) != e) fz_fail("duplicate id", e->id);
  }
  wp_entries_free(&es);
}

static void check_config(void) {
  char err[1024] = "";
  struct wp_node *cfg = wp_config_load(fz_index, 1, err, sizeof err);
  if (cfg == NULL) {
    if (strncmp(err, fz_index, strlen(fz_index)) != 0)
      fz_fail("config error does not name the file", err);
    return;
  }
  if (cfg->type != WP_NODE_MAP) fz_fail("config is not a mapping", NULL);
  int64_t ns;
  static const char *const keys[] = {"shutdown.timeout", "shutdown.exec_grace",
                                     "a", "a.b", "namespace", NULL};
  for (const char *const *k = keys; *k; k++) {
    err[0] = '\0';
    if (wp_config_duration(cfg, *k, 7, &ns, err, sizeof err) != 0 &&
        strncmp(err, *k, strlen(*k)) != 0)
      fz_fail("duration error does not name the key", err);
    (void)wp_config_int(cfg, *k, 0);
    (void)wp_config_str(cfg, *k, NULL);
    (void)wp_config_bool(cfg, *k, 0);
  }
  wp_node_free(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (fz_dir[0] == '\0') {
    fz_setup();
    atexit(fz_cleanup);
  }
  /* Text that does not load, or whose root is not a mapping, takes the
     same paths in the entries and configuration loaders every time. */
  if (check_tree(data, size) != WP_NODE_MAP) return 0;
  check_entries(data, size);
  check_config();
  return 0;
}
