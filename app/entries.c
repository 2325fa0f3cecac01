/*
** entries.c: definition files -> the entries table (spec 01 §3), and the
** lock file wippy.lock (spec 01 §2).
**
** Design note. Loading is one pass over a sorted file list:
**
**   1. Walk. The source root is walked depth-first, each directory's names
**      sorted bytewise, which is the order of Go's filepath.WalkDir (so "a/"
**      is visited before "a.yaml"). Directories named node_modules or starting
**      with '.' are skipped; symbolic links to directories are not followed
**      (no cycles); files ending in .yaml, .yml or .json are collected.
**   2. Parse. Each file becomes a wp_node tree (yamltree.c). A file whose root
**      is not a mapping with a non-empty string `namespace` is skipped: data
**      files may live in src/.
**   3. Resolve file://. Every string value in the tree that starts with
**      file:// is replaced by the named file's contents. The target path is
**      normalised lexically relative to the source root (file://x is relative
**      to the definition file's directory, file:///x to the root) and must not
**      leave it; after reading, realpath() must also stay inside the root, so a
**      symbolic link cannot smuggle in /etc/passwd. Each replaced node is
**      remembered with its path, which becomes source_file when the node ends
**      up as data.source.
**   4. Extract. Batch form (`entries:` list) or single-entry form (name/kind at
**      top level). Nodes are moved, not copied, from the file tree into the
**      entry's data; file meta is copied under each entry's meta.
**
** Where Wippy logs a warning and skips a file, we fail fast: the first error
** stops the load, is reported as "file:line: what (what to do)", and leaves
** *out empty. A duplicate id is an error too (Wippy keeps the last one).
**
** Messages name files by a display path: the source directory as given, with
** leading "./" dropped, joined with the path below it ("src/cli.lua").
*/
#include "entries.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"

/* ---------------------------------------------------------------------- */
/* Paths and files                                                         */
/* ---------------------------------------------------------------------- */

/* a + "/" + b, leaving out the slash when either side is empty or a already
** ends with one. NULL on allocation failure. */
static char *join(const char *a, const char *b) {
  size_t al = strlen(a), bl = strlen(b);
  if (al == 0) return wp_strdup(b);
  if (bl == 0) return wp_strdup(a);
  int slash = a[al - 1] != '/';
  char *s = wp_malloc(al + (size_t)slash + bl + 1);
  if (!s) return NULL;
  memcpy(s, a, al);
  if (slash) s[al] = '/';
  memcpy(s + al + (size_t)slash, b, bl + 1);
  return s;
}

/* The source directory as shown in messages: "./src/" -> "src", "." -> "". */
static char *display_root(const char *s) {
  while (s[0] == '.' && s[1] == '/') {
    s += 2;
    while (*s == '/') s++;
  }
  if (strcmp(s, ".") == 0) s = "";
  char *d = wp_strdup(s);
  if (d) {
    size_t n = strlen(d);
    while (n > 1 && d[n - 1] == '/') d[--n] = '\0';
  }
  return d;
}

/*
** Normalises base + "/" + spec lexically ("." and empty segments dropped, ".."
** pops a segment). Returns the path relative to the root, or NULL with
** *escapes = 1 when ".." would leave the root (0 on allocation failure).
*/
static char *normalize(const char *base, const char *spec, int *escapes) {
  *escapes = 0;
  char *in = join(base, spec);
  size_t n = in ? strlen(in) : 0;
  char *out = in ? wp_malloc(n + 1) : NULL;
  size_t *starts = out ? wp_malloc((n + 1) * sizeof *starts) : NULL;
  if (!starts) {
    wp_free(in);
    wp_free(out);
    return NULL;
  }
  size_t olen = 0, ns = 0;
  const char *p = in;
  while (*p) {
    const char *q = strchr(p, '/');
    size_t len = q ? (size_t)(q - p) : strlen(p);
    if (len == 2 && p[0] == '.' && p[1] == '.') {
      if (ns == 0) {
        *escapes = 1;
        wp_free(out);
        out = NULL;
        break;
      }
      olen = starts[--ns];
    } else if (len > 0 && !(len == 1 && p[0] == '.')) {
      starts[ns++] = olen;
      if (olen > 0) out[olen++] = '/';
      memcpy(out + olen, p, len);
      olen += len;
    }
    p += len;
    if (*p == '/') p++;
  }
  if (out) out[olen] = '\0';
  wp_free(starts);
  wp_free(in);
  return out;
}

/* ---------------------------------------------------------------------- */
/* Loader state                                                            */
/* ---------------------------------------------------------------------- */

struct strvec {
  char **v;
  size_t n, cap;
};

static int strvec_push(struct strvec *sv, char *s) {
  if (s == NULL) return -1;
  if (sv->n == sv->cap) {
    size_t c = sv->cap ? 2 * sv->cap : 16;
    char **v = wp_realloc(sv->v, c * sizeof *v);
    if (!v) {
      wp_free(s);
      return -1;
    }
    sv->v = v;
    sv->cap = c;
  }
  sv->v[sv->n++] = s;
  return 0;
}

static void strvec_free(struct strvec *sv) {
  for (size_t i = 0; i < sv->n; i++) wp_free(sv->v[i]);
  wp_free(sv->v);
  memset(sv, 0, sizeof *sv);
}

/* A string node that was replaced by a file's contents. */
struct file_ref {
  const struct wp_node *node;
  char *path; /* display path */
};

struct loader {
  const char *src_open; /* source directory as given, for open() */
  char *src_disp;       /* display form of it ("" for ".") */
  char *src_real;       /* realpath() of it */
  char *err;
  size_t errlen;
  struct wp_entries *out;
  uint32_t *index; /* id hash: position in out->v + 1, 0 = empty */
  size_t index_cap;
  struct file_ref *refs; /* of the file being loaded */
  size_t nrefs, refs_cap;
};

static int oom(struct loader *l, const char *where) {
  wp_yaml_seterr(l->err, l->errlen, "%s: out of memory", where);
  return -1;
}

static const char *root_name(const struct loader *l) {
  return l->src_disp[0] ? l->src_disp : ".";
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_def_ext(const char *name) {
  const char *dot = strrchr(name, '.');
  return dot && dot != name &&
         (strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0 ||
          strcmp(dot, ".json") == 0);
}

/* Collects definition files under rel_dir (relative to the root) in walk
** order into files (relative paths). */
static int walk(struct loader *l, const char *rel_dir, struct strvec *files) {
  char *dir_path = join(l->src_open, rel_dir);
  char *dir_disp = join(l->src_disp, rel_dir);
  struct strvec names = {0};
  int rc = -1;
  if (!dir_path || !dir_disp) {
    oom(l, root_name(l));
    goto done;
  }
  DIR *d = opendir(dir_path);
  if (!d) {
    wp_yaml_seterr(l->err, l->errlen, "%s: cannot read directory: %s",
                   dir_disp[0] ? dir_disp : ".", strerror(errno));
    goto done;
  }
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    if (strvec_push(&names, wp_strdup(de->d_name)) != 0) {
      closedir(d);
      oom(l, dir_disp);
      goto done;
    }
  }
  closedir(d);
  if (names.n) qsort(names.v, names.n, sizeof *names.v, cmp_names);
  for (size_t i = 0; i < names.n; i++) {
    const char *name = names.v[i];
    char *rel = join(rel_dir, name);
    char *full = rel ? join(l->src_open, rel) : NULL;
    struct stat st;
    if (!full) {
      wp_free(rel);
      oom(l, dir_disp);
      goto done;
    }
    int ok = lstat(full, &st) == 0;
    if (ok && S_ISDIR(st.st_mode)) {
      int skip = name[0] == '.' || strcmp(name, "node_modules") == 0;
      wp_free(full);
      if (!skip && walk(l, rel, files) != 0) {
        wp_free(rel);
        goto done;
      }
      wp_free(rel);
      continue;
    }
    /* regular files and links to them; a dangling link is kept so that
       reading it reports the problem; FIFOs, sockets, devices are ignored */
    struct stat target;
    int keep = has_def_ext(name) &&
               (!ok || S_ISREG(st.st_mode) ||
                (S_ISLNK(st.st_mode) &&
                 (stat(full, &target) != 0 || S_ISREG(target.st_mode))));
    if (!keep) {
      wp_free(rel);
      wp_free(full);
      continue;
    }
    wp_free(full);
    if (strvec_push(files, rel) != 0) {
      oom(l, dir_disp);
      goto done;
    }
  }
  rc = 0;
done:
  strvec_free(&names);
  wp_free(dir_path);
  wp_free(dir_disp);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* file:// resolution                                                      */
/* ---------------------------------------------------------------------- */

static int resolve_one(struct loader *l, struct wp_node *n, const char *disp,
                       const char *rel_dir) {
  const char *ref = n->u.str.s, *spec = ref + 7;
  int escapes;
  if (*spec == '\0') {
    wp_yaml_seterr(l->err, l->errlen,
                   "%s:%d: empty file:// reference (write file://name.lua, relative "
                   "to this file)",
                   disp, n->line);
    return -1;
  }
  int from_root = spec[0] == '/';
  char *rel = normalize(from_root ? "" : rel_dir, spec, &escapes);
  if (!rel) {
    if (!escapes) return oom(l, disp);
    wp_yaml_seterr(l->err, l->errlen,
                   "%s:%d: %s escapes the source root %s (files must live under it)",
                   disp, n->line, ref, root_name(l));
    return -1;
  }
  char *open_path = join(l->src_open, rel);
  char *shown = join(l->src_disp, rel);
  char *data = NULL, *real = NULL;
  size_t len = 0;
  int rc = -1;
  wp_free(rel);
  if (!open_path || !shown) {
    oom(l, disp);
    goto done;
  }
  if (wp_yaml_read_file(open_path, &data, &len) != 0) {
    wp_yaml_seterr(l->err, l->errlen, "%s:%d: cannot read %s (%s): %s", disp, n->line,
                   ref, shown, wp_yaml_read_error(errno));
    goto done;
  }
  real = realpath(open_path, NULL);
  size_t rl = strlen(l->src_real);
  if (real == NULL ||
      !(strcmp(l->src_real, "/") == 0 ||
        (strncmp(real, l->src_real, rl) == 0 && real[rl] == '/'))) {
    wp_yaml_seterr(l->err, l->errlen,
                   "%s:%d: %s (%s) resolves outside the source root %s (through a "
                   "symbolic link?)",
                   disp, n->line, ref, shown, root_name(l));
    goto done;
  }
  if (l->nrefs == l->refs_cap) {
    size_t c = l->refs_cap ? 2 * l->refs_cap : 8;
    struct file_ref *v = wp_realloc(l->refs, c * sizeof *v);
    if (!v) {
      oom(l, disp);
      goto done;
    }
    l->refs = v;
    l->refs_cap = c;
  }
  wp_free(n->u.str.s);
  n->u.str.s = data;
  n->u.str.len = len;
  data = NULL;
  l->refs[l->nrefs].node = n;
  l->refs[l->nrefs].path = shown;
  l->nrefs++;
  shown = NULL;
  rc = 0;
done:
  free(real); /* from realpath(): libc memory */
  wp_free(data);
  wp_free(open_path);
  wp_free(shown);
  return rc;
}

/* Replaces every file:// string value under n. */
static int resolve_refs(struct loader *l, struct wp_node *n, const char *disp,
                        const char *rel_dir) {
  if (n == NULL) return 0;
  switch (n->type) {
    case WP_NODE_STR:
      if (n->u.str.len >= 7 && memcmp(n->u.str.s, "file://", 7) == 0)
        return resolve_one(l, n, disp, rel_dir);
      return 0;
    case WP_NODE_SEQ:
      for (size_t i = 0; i < n->u.seq.n; i++)
        if (resolve_refs(l, n->u.seq.items[i], disp, rel_dir) != 0) return -1;
      return 0;
    case WP_NODE_MAP:
      for (size_t i = 0; i < n->u.map.n; i++)
        if (resolve_refs(l, n->u.map.vals[i], disp, rel_dir) != 0) return -1;
      return 0;
    default: return 0;
  }
}

static void refs_clear(struct loader *l) {
  for (size_t i = 0; i < l->nrefs; i++) wp_free(l->refs[i].path);
  l->nrefs = 0;
}

static const char *ref_path(const struct loader *l, const struct wp_node *n) {
  for (size_t i = 0; n && i < l->nrefs; i++)
    if (l->refs[i].node == n) return l->refs[i].path;
  return NULL;
}

/* ---------------------------------------------------------------------- */
/* Entries                                                                 */
/* ---------------------------------------------------------------------- */

static uint32_t hash_str(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

/* Position of id in out->v, or -1. */
static long index_find(const struct loader *l, const char *id) {
  if (l->index == NULL) return -1;
  size_t h = hash_str(id) & (l->index_cap - 1);
  while (l->index[h]) {
    size_t i = l->index[h] - 1;
    if (strcmp(l->out->v[i]->id, id) == 0) return (long)i;
    h = (h + 1) & (l->index_cap - 1);
  }
  return -1;
}

static void index_put(uint32_t *ix, size_t cap, const char *id, size_t pos) {
  size_t h = hash_str(id) & (cap - 1);
  while (ix[h]) h = (h + 1) & (cap - 1);
  ix[h] = (uint32_t)(pos + 1);
}

static void entry_free(struct wp_entry *e) {
  if (e == NULL) return;
  wp_free(e->id);
  wp_free(e->ns);
  wp_free(e->name);
  wp_free(e->kind);
  wp_free(e->file);
  wp_free(e->source_file);
  wp_node_free(e->data);
  wp_node_free(e->meta);
  wp_free(e);
}

/* Appends e to the table and the id index. Takes e on all paths. */
static int entries_push(struct loader *l, struct wp_entry *e) {
  struct wp_entries *es = l->out;
  size_t n = es->n;
  if (n >= UINT32_MAX - 1) goto fail;
  if ((n & (n - 1)) == 0 && (n == 0 || n >= 8)) { /* full: 0, 8, 16, ... */
    size_t c = n ? 2 * n : 8;
    struct wp_entry **v = wp_realloc(es->v, c * sizeof *v);
    if (!v) goto fail;
    es->v = v;
  }
  if (2 * (n + 1) > l->index_cap) {
    size_t c = l->index_cap ? 2 * l->index_cap : 64;
    uint32_t *ix = wp_calloc(c, sizeof *ix);
    if (!ix) goto fail;
    for (size_t i = 0; i < n; i++) index_put(ix, c, es->v[i]->id, i);
    wp_free(l->index);
    l->index = ix;
    l->index_cap = c;
  }
  es->v[n] = e;
  es->n = n + 1;
  index_put(l->index, l->index_cap, e->id, n);
  return 0;
fail:
  entry_free(e);
  return oom(l, "entries");
}

/* Text of a name/kind value: a STR as is, an INT in decimal. NULL when absent,
** null or empty (*bad = 0), or of another type (*bad = 1), or on allocation
** failure (*bad = 2). */
static char *scalar_text(const struct wp_node *n, int *bad) {
  *bad = 0;
  if (n == NULL || n->type == WP_NODE_NULL) return NULL;
  if (n->type == WP_NODE_INT) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)n->u.i);
    char *s = wp_strdup(buf);
    if (!s) *bad = 2;
    return s;
  }
  if (n->type != WP_NODE_STR) {
    *bad = 1;
    return NULL;
  }
  if (n->u.str.len == 0) return NULL;
  char *s = wp_strdup(n->u.str.s);
  if (!s) *bad = 2;
  return s;
}

static int is_one_of(const char *s, const char *const *words) {
  for (; *words; words++)
    if (strcmp(s, *words) == 0) return 1;
  return 0;
}

/*
** Builds one entry from the mapping `m` (an element of `entries:`, or the
** file root in single-entry form) and appends it. Data nodes are moved out of
** m; fmeta (the file's meta, MAP or NULL) is copied.
*/
static int add_entry(struct loader *l, struct wp_node *m, const char *ns,
                     const struct wp_node *fmeta, const char *disp,
                     int single) {
  static const char *const batch_skip[] = {"name", "kind", "meta", "data",
                                           NULL};
  static const char *const single_skip[] = {
      "namespace", "name",         "kind",    "meta",
      "version",   "requirements", "entries", NULL};
  struct wp_entry *e = NULL;
  char *name = NULL, *kind = NULL;
  int bad, rc = -1;
  const struct wp_node *name_n = wp_node_get(m, "name");
  int line = single && name_n ? name_n->line : m->line;

  name = scalar_text(name_n, &bad);
  if (bad == 2) return oom(l, disp);
  if (bad) {
    wp_yaml_seterr(l->err, l->errlen, "%s:%d: entry name must be a string", disp,
                   name_n->line);
    return -1;
  }
  if (!name) {
    wp_yaml_seterr(l->err, l->errlen,
                   "%s:%d: entry has no name (every entry needs name: and kind:)", disp,
                   line);
    return -1;
  }
  if (strchr(name, ':')) {
    wp_yaml_seterr(l->err, l->errlen, "%s:%d: entry name \"%s\" must not contain ':'",
                   disp, line, name);
    goto done;
  }
  e = wp_calloc(1, sizeof *e);
  if (!e) {
    oom(l, disp);
    goto done;
  }
  e->line = line;
  e->ns = wp_strdup(ns);
  e->file = wp_strdup(disp);
  e->id = wp_malloc(strlen(ns) + strlen(name) + 2);
  if (!e->ns || !e->file || !e->id) {
    oom(l, disp);
    goto done;
  }
  sprintf(e->id, "%s:%s", ns, name);
  e->name = name;
  name = NULL;

  const struct wp_node *kind_n = wp_node_get(m, "kind");
  kind = scalar_text(kind_n, &bad);
  if (bad == 2) {
    oom(l, disp);
    goto done;
  }
  if (bad) {
    wp_yaml_seterr(l->err, l->errlen, "%s:%d: kind of entry %s must be a string", disp,
                   kind_n->line, e->id);
    goto done;
  }
  if (!kind) {
    wp_yaml_seterr(l->err, l->errlen,
                   "%s:%d: entry %s has no kind (add kind: process.lua, "
                   "process.host, ...)",
                   disp, line, e->id);
    goto done;
  }
  e->kind = kind;
  kind = NULL;

  long first = index_find(l, e->id);
  if (first >= 0) {
    const struct wp_entry *f = l->out->v[first];
    wp_yaml_seterr(l->err, l->errlen,
                   "%s:%d: duplicate entry id %s (first defined at %s:%d)", disp, line,
                   e->id, f->file, f->line);
    goto done;
  }

  /* meta: a copy of the file meta with the entry's keys over it */
  const struct wp_node *emeta = wp_node_get(m, "meta");
  if (single) fmeta = NULL; /* the top-level meta is the entry's own */
  if (emeta && emeta->type != WP_NODE_MAP && emeta->type != WP_NODE_NULL) {
    wp_yaml_seterr(l->err, l->errlen, "%s:%d: meta of entry %s must be a mapping", disp,
                   emeta->line, e->id);
    goto done;
  }
  if (emeta && emeta->type != WP_NODE_MAP) emeta = NULL;
  if (fmeta || emeta) {
    e->meta = fmeta ? wp_node_clone(fmeta) : wp_node_new_map(emeta->line);
    if (!e->meta) {
      oom(l, disp);
      goto done;
    }
    for (size_t i = 0; emeta && i < emeta->u.map.n; i++) {
      struct wp_node *v = wp_node_clone(emeta->u.map.vals[i]);
      if (!v || wp_node_map_set(e->meta, emeta->u.map.keys[i], v) != 0) {
        oom(l, disp);
        goto done;
      }
    }
  }

  /* data: `data:` as a whole, or every other key */
  struct wp_node *dn = single ? NULL : wp_node_get(m, "data");
  if (dn) {
    if (dn->type != WP_NODE_MAP && dn->type != WP_NODE_NULL) {
      wp_yaml_seterr(l->err, l->errlen,
                     "%s:%d: data of entry %s must be a mapping (or leave data: out "
                     "and write the fields next to name and kind)",
                     disp, dn->line, e->id);
      goto done;
    }
    for (size_t i = 0; i < m->u.map.n; i++) {
      if (m->u.map.vals[i] == dn) m->u.map.vals[i] = NULL; /* moved */
    }
    if (dn->type == WP_NODE_MAP) {
      e->data = dn;
    } else {
      e->data = wp_node_new_map(dn->line);
      wp_node_free(dn);
      if (!e->data) {
        oom(l, disp);
        goto done;
      }
    }
  } else {
    const char *const *skip = single ? single_skip : batch_skip;
    e->data = wp_node_new_map(line);
    if (!e->data) {
      oom(l, disp);
      goto done;
    }
    for (size_t i = 0; i < m->u.map.n; i++) {
      if (is_one_of(m->u.map.keys[i], skip) || m->u.map.vals[i] == NULL)
        continue;
      if (wp_node_map_set(e->data, m->u.map.keys[i], m->u.map.vals[i]) != 0) {
        m->u.map.vals[i] = NULL; /* freed by map_set */
        oom(l, disp);
        goto done;
      }
      m->u.map.vals[i] = NULL; /* moved */
    }
  }
  const char *sf = ref_path(l, wp_node_get(e->data, "source"));
  if (sf && !(e->source_file = wp_strdup(sf))) {
    oom(l, disp);
    goto done;
  }
  rc = entries_push(l, e);
  e = NULL;
done:
  wp_free(name);
  wp_free(kind);
  entry_free(e);
  return rc;
}

/* Loads one definition file (rel: path below the root). */
static int load_one(struct loader *l, const char *rel) {
  char *open_path = join(l->src_open, rel);
  char *disp = join(l->src_disp, rel);
  char *rel_dir = wp_strdup(rel);
  char *ns = NULL, *data = NULL;
  struct wp_node *root = NULL;
  size_t len;
  int rc = -1;
  if (!open_path || !disp || !rel_dir) {
    oom(l, rel);
    goto done;
  }
  char *slash = strrchr(rel_dir, '/');
  if (slash)
    *slash = '\0';
  else
    rel_dir[0] = '\0';
  if (wp_yaml_read_file(open_path, &data, &len) != 0) {
    wp_yaml_seterr(l->err, l->errlen, "%s: cannot read file: %s", disp,
                   wp_yaml_read_error(errno));
    goto done;
  }
  root = wp_yaml_load_mem(disp, data, len, l->err, l->errlen);
  if (!root) goto done;
  const struct wp_node *nsn = wp_node_get(root, "namespace");
  if (root->type != WP_NODE_MAP || nsn == NULL || nsn->type == WP_NODE_NULL ||
      (nsn->type == WP_NODE_STR && nsn->u.str.len == 0)) {
    rc = 0; /* not a definition file */
    goto done;
  }
  if (nsn->type != WP_NODE_STR || strlen(nsn->u.str.s) != nsn->u.str.len) {
    wp_yaml_seterr(l->err, l->errlen, "%s:%d: namespace must be a string", disp,
                   nsn->line);
    goto done;
  }
  if (strchr(nsn->u.str.s, ':')) {
    wp_yaml_seterr(l->err, l->errlen,
                   "%s:%d: namespace \"%s\" must not contain ':' (ids are "
                   "namespace:name)",
                   disp, nsn->line, nsn->u.str.s);
    goto done;
  }
  if (!(ns = wp_strdup(nsn->u.str.s))) {
    oom(l, disp);
    goto done;
  }
  if (resolve_refs(l, root, disp, rel_dir) != 0) goto done;

  const struct wp_node *fmeta = wp_node_get(root, "meta");
  if (fmeta && fmeta->type != WP_NODE_MAP && fmeta->type != WP_NODE_NULL) {
    wp_yaml_seterr(l->err, l->errlen, "%s:%d: meta must be a mapping", disp,
                   fmeta->line);
    goto done;
  }
  if (fmeta && fmeta->type != WP_NODE_MAP) fmeta = NULL;
  struct wp_node *list = wp_node_get(root, "entries");
  if (list) {
    if (list->type == WP_NODE_SEQ) {
      for (size_t i = 0; i < list->u.seq.n; i++) {
        struct wp_node *it = list->u.seq.items[i];
        if (it->type != WP_NODE_MAP) {
          wp_yaml_seterr(l->err, l->errlen,
                         "%s:%d: entry must be a mapping with name: and kind:", disp,
                         it->line);
          goto done;
        }
        if (add_entry(l, it, ns, fmeta, disp, 0) != 0) goto done;
      }
    } else if (list->type != WP_NODE_NULL) {
      wp_yaml_seterr(l->err, l->errlen,
                     "%s:%d: entries must be a list (each item: - name: ... kind: ...)",
                     disp, list->line);
      goto done;
    }
  } else if (wp_node_get(root, "name") || wp_node_get(root, "kind")) {
    if (add_entry(l, root, ns, NULL, disp, 1) != 0) goto done;
  }
  rc = 0;
done:
  refs_clear(l);
  wp_node_free(root);
  wp_free(data);
  wp_free(ns);
  wp_free(rel_dir);
  wp_free(disp);
  wp_free(open_path);
  return rc;
}

int wp_entries_load(struct wp_entries *out, const char *src_dir, char *err,
                    size_t errlen) {
  struct loader l;
  struct strvec files = {0};
  struct stat st;
  int rc = -1;
  memset(&l, 0, sizeof l);
  memset(out, 0, sizeof *out);
  l.err = err;
  l.errlen = errlen;
  l.out = out;
  l.src_open = src_dir;
  if (src_dir == NULL || src_dir[0] == '\0') {
    wp_yaml_seterr(err, errlen,
                   "source directory is empty (set directories.src in wippy.lock)");
    return -1;
  }
  if (stat(src_dir, &st) != 0) {
    wp_yaml_seterr(err, errlen,
                   "%s: cannot read source directory: %s (check directories.src in "
                   "wippy.lock)",
                   src_dir, strerror(errno));
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    wp_yaml_seterr(err, errlen,
                   "%s: source path is not a directory (check directories.src in "
                   "wippy.lock)",
                   src_dir);
    return -1;
  }
  l.src_disp = display_root(src_dir);
  l.src_real = realpath(src_dir, NULL);
  if (!l.src_disp || !l.src_real) {
    wp_yaml_seterr(err, errlen, "%s: cannot resolve source directory: %s", src_dir,
                   l.src_real ? "out of memory" : strerror(errno));
    goto done;
  }
  if (walk(&l, "", &files) != 0) goto done;
  for (size_t i = 0; i < files.n; i++)
    if (load_one(&l, files.v[i]) != 0) goto done;
  rc = 0;
done:
  if (rc != 0) wp_entries_free(out);
  strvec_free(&files);
  refs_clear(&l);
  wp_free(l.refs);
  wp_free(l.index);
  wp_free(l.src_disp);
  free(l.src_real); /* from realpath(): libc memory */
  return rc;
}

struct wp_entry *wp_entries_find(const struct wp_entries *es, const char *id) {
  if (es == NULL || id == NULL) return NULL;
  for (size_t i = 0; i < es->n; i++)
    if (strcmp(es->v[i]->id, id) == 0) return es->v[i];
  return NULL;
}

void wp_entries_free(struct wp_entries *es) {
  if (es == NULL) return;
  for (size_t i = 0; i < es->n; i++) entry_free(es->v[i]);
  wp_free(es->v);
  es->v = NULL;
  es->n = 0;
}

/* ---------------------------------------------------------------------- */
/* Lock file                                                               */
/* ---------------------------------------------------------------------- */

/* Reads directories.<key> as a non-empty string. */
static int lock_dir(const char *path, const struct wp_node *dirs,
                    const char *key, const char *example, char **out, char *err,
                    size_t errlen) {
  const struct wp_node *n = wp_node_get(dirs, key);
  if (n == NULL) {
    wp_yaml_seterr(err, errlen,
                   "%s:%d: directories.%s is missing (add `%s: %s` under directories:, "
                   "or run `wippy init`)",
                   path, dirs->line, key, key, example);
    return -1;
  }
  if (n->type == WP_NODE_NULL ||
      (n->type == WP_NODE_STR && n->u.str.len == 0)) {
    wp_yaml_seterr(err, errlen, "%s:%d: directories.%s is empty (set it, e.g. %s: %s)",
                   path, n->line, key, key, example);
    return -1;
  }
  if (n->type != WP_NODE_STR || strlen(n->u.str.s) != n->u.str.len) {
    wp_yaml_seterr(err, errlen, "%s:%d: directories.%s must be a string (e.g. %s: %s)",
                   path, n->line, key, key, example);
    return -1;
  }
  if (!(*out = wp_strdup(n->u.str.s))) {
    wp_yaml_seterr(err, errlen, "%s: out of memory", path);
    return -1;
  }
  return 0;
}

int wp_lock_read(const char *path, char **src_dir, char **modules_dir,
                 char *err, size_t errlen) {
  *src_dir = NULL;
  *modules_dir = NULL;
  struct wp_node *root = wp_yaml_load_file(path, err, errlen);
  if (!root) return -1;
  int rc = -1;
  const struct wp_node *dirs = wp_node_get(root, "directories");
  if (root->type != WP_NODE_MAP) {
    wp_yaml_seterr(err, errlen,
                   "%s:%d: the lock file must be a mapping with a directories: "
                   "section (run `wippy init` to write one)",
                   path, root->line);
  } else if (dirs == NULL || dirs->type == WP_NODE_NULL) {
    wp_yaml_seterr(err, errlen,
                   "%s:%d: directories is missing (add directories.src and "
                   "directories.modules, or run `wippy init`)",
                   path, dirs ? dirs->line : root->line);
  } else if (dirs->type != WP_NODE_MAP) {
    wp_yaml_seterr(err, errlen,
                   "%s:%d: directories must be a mapping with src: and modules:", path,
                   dirs->line);
  } else if (lock_dir(path, dirs, "src", "./src", src_dir, err, errlen) == 0 &&
             lock_dir(path, dirs, "modules", ".wippy", modules_dir, err,
                      errlen) == 0) {
    rc = 0;
  }
  wp_node_free(root);
  if (rc != 0) {
    wp_free(*src_dir);
    wp_free(*modules_dir);
    *src_dir = *modules_dir = NULL;
  }
  return rc;
}

int wp_lock_init(const char *path, const char *src_dir, const char *modules_dir,
                 char *err, size_t errlen) {
  struct wp_node *root = NULL, *dirs = NULL;
  struct stat st;
  int rc = -1;
  if (!src_dir || !*src_dir || !modules_dir || !*modules_dir) {
    wp_yaml_seterr(err, errlen, "%s: the %s directory must not be empty", path,
                   (!src_dir || !*src_dir) ? "source" : "modules");
    return -1;
  }
  if (stat(path, &st) == 0) {
    root = wp_yaml_load_file(path, err, errlen);
    if (!root) return -1; /* never overwrite a file we cannot read */
    if (root->type == WP_NODE_NULL) {
      wp_node_free(root);
      root = NULL;
    } else if (root->type != WP_NODE_MAP) {
      wp_yaml_seterr(err, errlen,
                     "%s:%d: the existing lock file is not a mapping; fix or remove it",
                     path, root->line);
      goto done;
    }
  } else if (errno != ENOENT) {
    wp_yaml_seterr(err, errlen, "%s: cannot read lock file: %s", path, strerror(errno));
    return -1;
  }
  if (!root && !(root = wp_node_new_map(1))) goto oom;
  dirs = wp_node_get(root, "directories");
  if (dirs == NULL || dirs->type != WP_NODE_MAP) {
    if (!(dirs = wp_node_new_map(1))) goto oom;
    if (wp_node_map_set(root, "directories", dirs) != 0) goto oom;
  }
  if (wp_node_map_set(dirs, "modules",
                      wp_node_new_str(modules_dir, strlen(modules_dir), 0)) !=
          0 ||
      wp_node_map_set(dirs, "src",
                      wp_node_new_str(src_dir, strlen(src_dir), 0)) != 0)
    goto oom;
  if (wp_yaml_write_file(path, root, 0600) != 0) {
    wp_yaml_seterr(err, errlen, "%s: cannot write lock file: %s", path,
                   strerror(errno));
    goto done;
  }
  rc = 0;
  goto done;
oom:
  wp_yaml_seterr(err, errlen, "%s: out of memory", path);
done:
  wp_node_free(root);
  return rc;
}
