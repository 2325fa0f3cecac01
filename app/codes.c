/*
** codes.c: entries -> compiled codes (codes.h).
**
** Everything read from an entry's YAML data is read here; the one step
** that runs Lua, compiling the source, is vm/code.c's wp_code_compile.
**
** Imports: a code that imports a library also gets what the library
** imports, transitively, and the modules they list, because a library's
** chunk runs in the importing process's environment. Each library is
** merged into a code once, however many paths lead to it (a diamond of
** imports is linear work, not exponential); a library that imports itself
** through a chain is an error naming the chain's start, as is a chain
** deeper than MAX_IMPORT_DEPTH.
*/
#include "codes.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "config.h"
#include "typestrip.h"

#define MAX_IMPORT_DEPTH 16

static const char *const known_modules[] = {"io", "time", "logger", "process", "channel",
                                            "payload", "errors", "coroutine", "string",
                                            "table", "math", "os", "funcs", "json", "uuid",
                                            "system", "registry", "env", "events",
                                            "ctx", "metrics", NULL};

static int is_known_module(const char *m) {
  for (int i = 0; known_modules[i]; i++)
    if (strcmp(known_modules[i], m) == 0) return 1;
  return 0;
}

static void code_free(struct wp_code *c) {
  wp_free(c->modules);
  wp_free(c->chunkname);
  wp_buf_free(&c->bytecode);
  wp_free(c);
}

static int compile_one(struct wp_rt *rt, struct wp_entry *e, char *err, size_t errlen) {
  struct wp_node *src = wp_node_get(e->data, "source");
  const char *text = wp_node_str(src);
  if (!text) {
    snprintf(err, errlen, "%s:%d: entry %s (%s) has no source: add `source: file://<name>.lua`",
             e->file, e->line, e->id, e->kind);
    return -1;
  }
  struct wp_code *c = wp_calloc(1, sizeof *c);
  if (!c) goto oom;
  c->entry = e;
  c->id = c->pid_host = e->id;
  c->pid_host_len = strlen(e->id);
  c->is_function = strcmp(e->kind, "function.lua") == 0;
  c->is_library = strcmp(e->kind, "library.lua") == 0;
  const char *method = wp_node_str(wp_node_get(e->data, "method"));
  c->method = method ? method : "main";
  c->mem_limit = rt->mem_limit;
  snprintf(c->mem_limit_text, sizeof c->mem_limit_text, "%s", rt->mem_limit_text);
  const struct wp_node *ml = wp_node_get(e->data, "memory_limit");
  if (ml && !c->is_library &&
      wp_config_size_value(ml, &c->mem_limit, c->mem_limit_text, sizeof c->mem_limit_text)) {
    snprintf(err, errlen, "%s:%d: entry %s: memory_limit must be a size such as 64M, 512K "
             "or 1G (bytes without a suffix; 0 for no limit)", e->file, ml->line, e->id);
    code_free(c);
    return -1;
  }
  size_t cn = strlen(e->source_file ? e->source_file : e->id) + 2;
  c->chunkname = wp_malloc(cn);
  if (!c->chunkname) goto oom;
  snprintf(c->chunkname, cn, "@%s", e->source_file ? e->source_file : e->id);
  struct wp_node *mods = wp_node_get(e->data, "modules");
  if (mods && mods->type == WP_NODE_SEQ) {
    c->modules = wp_calloc(mods->u.seq.n + 1, sizeof(char *));
    if (!c->modules) goto oom;
    for (size_t i = 0; i < mods->u.seq.n; i++) {
      const char *m = wp_node_str(mods->u.seq.items[i]);
      if (!m) continue;
      if (!is_known_module(m))
        wp_logf(WP_LOG_WARN, "%s:%d: entry %s lists module '%s', which this runtime does "
                "not provide; require(\"%s\") will fail", e->file, mods->u.seq.items[i]->line,
                e->id, m, m);
      c->modules[c->nmodules++] = (char *)m;
    }
  }
  /* Wippy's type annotations are erased (blanked: lines stay put) first */
  char *plain = NULL;
  size_t plainlen = 0;
  int ts = wp_typestrip(text, src->u.str.len, &plain, &plainlen);
  if (ts < 0) goto oom;
  int rc = ts == 0 ? wp_code_compile(rt, c, plain, plainlen, text, src->u.str.len, err, errlen)
                   : wp_code_compile(rt, c, text, src->u.str.len, text, src->u.str.len, err,
                                     errlen);
  wp_free(plain);
  if (rc) {
    code_free(c);
    return -1;
  }
  rt->codes[rt->ncodes++] = c;
  e->impl = c;
  return 0;
oom:
  snprintf(err, errlen, "out of memory compiling %s", e->id);
  if (c) code_free(c);
  return -1;
}

static int has_alias(const struct wp_code *c, const char *alias) {
  for (int i = 0; i < c->nimports; i++)
    if (strcmp(c->imports[i].alias, alias) == 0) return 1;
  return 0;
}

static int has_lib(const struct wp_code *c, const struct wp_code *lib) {
  for (int i = 0; i < c->nimports; i++)
    if (c->imports[i].lib == lib) return 1;
  return 0;
}

static int add_import(struct wp_code *c, const char *alias, struct wp_code *lib) {
  if (has_alias(c, alias)) return 0;
  struct wp_import *v = wp_realloc(c->imports, (size_t)(c->nimports + 1) * sizeof *v);
  if (!v) return -1;
  c->imports = v;
  v[c->nimports].alias = alias;
  v[c->nimports].lib = lib;
  c->nimports++;
  return 0;
}

/* The chain of libraries being merged, from the importing code down. */
struct chain {
  const struct wp_code *lib[MAX_IMPORT_DEPTH + 1];
  int n;
};

/* Adds lib's own imports (transitively) and modules to c. lib was just
** added to c's imports; libraries already there were merged before (or are
** on the chain: a cycle). */
static int merge_library(struct wp_rt *rt, struct wp_code *c, struct wp_code *lib,
                         struct chain *ch, char *err, size_t errlen) {
  struct wp_entry *e = c->entry;
  for (int k = 0; k < ch->n; k++) {
    if (ch->lib[k] != lib) continue;
    snprintf(err, errlen, "%s:%d: entry %s: library %s imports itself through its imports",
             e->file, e->line, e->id, lib->id);
    return -1;
  }
  if (ch->n == MAX_IMPORT_DEPTH) {
    snprintf(err, errlen, "%s:%d: imports of %s nest more than %d deep", e->file, e->line,
             e->id, MAX_IMPORT_DEPTH);
    return -1;
  }
  ch->lib[ch->n++] = lib;
  for (int i = 0; i < lib->nmodules; i++) {
    int have = 0;
    for (int k = 0; k < c->nmodules; k++) have |= strcmp(c->modules[k], lib->modules[i]) == 0;
    if (have) continue;
    char **m = wp_realloc(c->modules, (size_t)(c->nmodules + 2) * sizeof *m);
    if (!m) return -1;
    c->modules = m;
    m[c->nmodules++] = lib->modules[i];
    m[c->nmodules] = NULL;
  }
  struct wp_node *imp = wp_node_get(lib->entry->data, "imports");
  for (size_t i = 0; imp && imp->type == WP_NODE_MAP && i < imp->u.map.n; i++) {
    const char *id = wp_node_str(imp->u.map.vals[i]);
    struct wp_code *l2 = id ? wp_rt_code(rt, id) : NULL;
    if (!l2 || !l2->is_library) continue; /* reported for lib itself */
    int merged = has_lib(c, l2);
    if (add_import(c, imp->u.map.keys[i], l2)) return -1;
    if (merged) {
      /* merged already, unless it is on the chain */
      for (int k = 0; k < ch->n; k++)
        if (ch->lib[k] == l2) return merge_library(rt, c, l2, ch, err, errlen);
      continue;
    }
    if (merge_library(rt, c, l2, ch, err, errlen)) return -1;
  }
  ch->n--;
  return 0;
}

static int resolve_imports(struct wp_rt *rt, struct wp_code *c, char *err, size_t errlen) {
  struct wp_entry *e = c->entry;
  struct wp_node *imp = wp_node_get(e->data, "imports");
  if (!imp) return 0;
  if (imp->type != WP_NODE_MAP) {
    snprintf(err, errlen, "%s:%d: entry %s: imports must map an alias to a library.lua id",
             e->file, imp->line, e->id);
    return -1;
  }
  for (size_t i = 0; i < imp->u.map.n; i++) {
    const char *id = wp_node_str(imp->u.map.vals[i]);
    struct wp_code *lib = id ? wp_rt_code(rt, id) : NULL;
    if (!lib || !lib->is_library) {
      snprintf(err, errlen, "%s:%d: entry %s imports %s as '%s', but that is not a "
               "library.lua entry", e->file, imp->u.map.vals[i]->line, e->id,
               id ? id : "(not a string)", imp->u.map.keys[i]);
      return -1;
    }
    int merged = has_lib(c, lib);
    struct chain ch = {.lib = {c}, .n = 1};
    if (add_import(c, imp->u.map.keys[i], lib) ||
        (!merged && merge_library(rt, c, lib, &ch, err, errlen))) {
      if (!err[0]) snprintf(err, errlen, "out of memory");
      return -1;
    }
  }
  return 0;
}

int wp_codes_build(struct wp_rt *rt, struct wp_entries *entries, char *err, size_t errlen) {
  rt->codes = wp_calloc(entries->n + 1, sizeof *rt->codes);
  if (!rt->codes) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  int rc = 0;
  for (size_t i = 0; i < entries->n && rc == 0; i++) {
    struct wp_entry *e = entries->v[i];
    if (strcmp(e->kind, "process.lua") == 0 || strcmp(e->kind, "function.lua") == 0 ||
        strcmp(e->kind, "library.lua") == 0)
      rc = compile_one(rt, e, err, errlen);
  }
  for (size_t i = 0; i < rt->ncodes && rc == 0; i++) rc = resolve_imports(rt, rt->codes[i], err, errlen);
  return rc;
}
