/*
** entries.h: the entries table, loaded from definition files (spec 01 §3).
**
** Every .yaml/.yml/.json file under the source directory (recursively, in
** lexical path order as Go's WalkDir visits it, skipping node_modules, hidden
** directories and symbolic links to directories) that has a non-empty
** top-level `namespace` defines entries. We fail fast where Wippy skips a
** file with a warning: a YAML syntax error, an entry without name/kind, a
** file:// path that is missing or escapes the source root, and a duplicate
** entry id are all errors naming the file and line.
**
** "Entries" are configuration records (ns:name -> kind + data); process names
** (process.registry) are "names" and live in sched/names.c.
*/
#ifndef WP_ENTRIES_H
#define WP_ENTRIES_H

#include <stddef.h>

#include "yamltree.h"

struct wp_entry {
  char *id;             /* "ns:name" */
  char *ns, *name;      /* split at the first ':' of id */
  char *kind;           /* "process.lua", "process.host", ... (any string) */
  char *file;           /* definition file path, for messages */
  int line;             /* line of the entry in that file */
  struct wp_node *data; /* MAP: `data:` if given, else every key except name,
                           kind, meta, data; file:// values already resolved
                           into file contents */
  struct wp_node *meta; /* MAP (file meta merged under entry meta), or NULL */
  char *source_file;    /* path of the file:// file that provided data.source,
                           or NULL; used to name Lua chunks ("src/cli.lua") */
  void *impl;           /* runtime data attached by the VM; not freed here */
};

struct wp_entries {
  struct wp_entry **v; /* in load order */
  size_t n;
};

/* Loads every definition file under src_dir into *out (which must be zeroed).
** Returns 0, or -1 with a message in err such as
** "src/_index.yaml:12: duplicate entry id app:cli (first defined at
** src/a.yaml:3)". On error *out holds nothing (already freed). */
int wp_entries_load(struct wp_entries *out, const char *src_dir, char *err,
                    size_t errlen);
/* Finds an entry by full id; NULL if none. */
struct wp_entry *wp_entries_find(const struct wp_entries *es, const char *id);
/* Frees every entry (not `impl`). */
void wp_entries_free(struct wp_entries *es);

/* Lock file (spec 01 §2). Reads directories.src and directories.modules,
** returned as wp_malloc'd strings. 0, or -1 with "wippy.lock:LINE: ..." in
** err (missing/empty keys, YAML errors). */
int wp_lock_read(const char *path, char **src_dir, char **modules_dir,
                 char *err, size_t errlen);
/* `wippy init`: creates or updates the lock file, keeping other content. */
int wp_lock_init(const char *path, const char *src_dir, const char *modules_dir,
                 char *err, size_t errlen);

#endif
