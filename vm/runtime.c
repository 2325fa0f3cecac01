/*
** runtime.c: the runtime object: hosts, compiled code, pids, spawning,
** destination resolution and the exit code (spec 02 §5, 03 §4, 08).
*/
#include <inttypes.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "codec.h"
#include "config.h"
#include "errobj.h"
#include "typestrip.h"
#include "vm.h"

/* ---- pids (spec 08) ---- */

/* "{host|0x%05x}" with the digit counts of spec 08 §3 (5, 6, 8 or 16),
** written by hand: this is on every spawn. */
size_t wp_pid_format(char *out, size_t n, const char *host, size_t hl, uint64_t c) {
  int w = c <= 0xFFFFFu ? 5 : c <= 0xFFFFFFu ? 6 : c <= 0xFFFFFFFFu ? 8 : 16;
  size_t len = 1 + hl + 3 + (size_t)w + 1;
  if (len >= n) {
    if (n) out[0] = '\0';
    return 0;
  }
  char *p = out;
  *p++ = '{';
  memcpy(p, host, hl);
  p += hl;
  *p++ = '|';
  *p++ = '0';
  *p++ = 'x';
  for (int i = w - 1; i >= 0; i--) {
    p[i] = "0123456789abcdef"[c & 15];
    c >>= 4;
  }
  p += w;
  *p++ = '}';
  *p = '\0';
  return len;
}

uint64_t wp_pid_parse(const char *s, size_t len) {
  if (len < 3 || s[0] != '{' || s[len - 1] != '}') return 0;
  const char *bar = memchr(s, '|', len);
  if (!bar) return 0;
  const char *u = bar + 1;
  const char *end = s + len - 1;
  const char *bar2 = memchr(u, '|', (size_t)(end - u));
  if (bar2) u = bar2 + 1;
  if (end - u < 3 || u[0] != '0' || u[1] != 'x') return 0;
  uint64_t c = 0;
  for (const char *p = u + 2; p < end; p++) {
    int d;
    if (*p >= '0' && *p <= '9')
      d = *p - '0';
    else if (*p >= 'a' && *p <= 'f')
      d = *p - 'a' + 10;
    else
      return 0;
    if (c >> 60) return 0;
    c = c * 16 + (uint64_t)d;
  }
  return c;
}

/* ---- lookups ---- */

struct wp_host *wp_rt_host(struct wp_rt *rt, const char *id) {
  for (struct wp_host *h = rt->hosts; h; h = h->next)
    if (strcmp(h->id, id) == 0) return h;
  return NULL;
}

struct wp_code *wp_rt_code(struct wp_rt *rt, const char *id) {
  for (size_t i = 0; i < rt->ncodes; i++)
    if (strcmp(rt->codes[i]->entry->id, id) == 0) return rt->codes[i];
  return NULL;
}

static int id_is(const char *id, const char *s, size_t n) {
  return strncmp(id, s, n) == 0 && id[n] == '\0';
}

/* Whether the host part of a pid string names a host here (or a function
** entry: function calls carry their entry id as host part). */
static int pid_host_known(struct wp_rt *rt, const char *pid, size_t len) {
  const char *bar = memchr(pid, '|', len);
  const char *h = pid + 1;
  const char *at = memchr(h, '@', (size_t)(bar - h));
  if (at) h = at + 1;
  size_t n = (size_t)(bar - h);
  for (struct wp_host *x = rt->hosts; x; x = x->next)
    if (id_is(x->id, h, n)) return 1;
  for (size_t i = 0; i < rt->ncodes; i++)
    if (id_is(rt->codes[i]->entry->id, h, n)) return 1;
  return 0;
}

struct wp_proc *wp_rt_resolve(struct wp_rt *rt, const char *dest, size_t len,
                              const char **kind, const char **err) {
  struct wp_ptab *pt = wp_sched_ptab(rt->sched);
  uint64_t c = wp_pid_parse(dest, len);
  if (c) {
    struct wp_proc *p = wp_ptab_get_counter(pt, c);
    if (p && (p->pid_len != len || memcmp(p->pid, dest, len) != 0)) {
      wp_proc_release(p); /* same counter, another host (or node): not it */
      p = NULL;
    }
    if (!p) {
      *kind = WP_KIND_NOT_FOUND;
      *err = pid_host_known(rt, dest, len) ? "process not found" : "host not found";
    }
    return p;
  }
  c = wp_names_lookup(wp_sched_names(rt->sched), dest, len);
  struct wp_proc *p = c ? wp_ptab_get_counter(pt, c) : NULL;
  if (!p) {
    *kind = WP_KIND_NOT_FOUND;
    *err = NULL; /* caller formats "could not resolve '<dest>' ..." */
  }
  return p;
}

/* ---- compiling entries ---- */

static const char *const known_modules[] = {"io", "time", "logger", "process", "channel",
                                            "payload", "errors", "coroutine", "string",
                                            "table", "math", "os", "funcs", "json", NULL};

static int is_known_module(const char *m) {
  for (int i = 0; known_modules[i]; i++)
    if (strcmp(known_modules[i], m) == 0) return 1;
  return 0;
}

static int dump_writer(lua_State *L, const void *p, size_t sz, void *ud) {
  (void)L;
  return wp_buf_append(ud, p, sz) ? 1 : 0;
}

static int compile_one(struct wp_rt *rt, lua_State *S, struct wp_entry *e, char *err,
                       size_t errlen) {
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
    wp_free(c);
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
  lua_settop(S, 0);
  /* Wippy's type annotations are erased (blanked: lines stay put) first */
  char *plain = NULL;
  size_t plainlen = 0;
  int ts = wp_typestrip(text, src->u.str.len, &plain, &plainlen);
  if (ts < 0) goto oom;
  int lrc = ts == 0 ? luaL_loadbuffer(S, plain, plainlen, c->chunkname)
                    : luaL_loadbuffer(S, text, src->u.str.len, c->chunkname);
  wp_free(plain);
  if (lrc != LUA_OK) {
    snprintf(err, errlen, "%s", lua_tostring(S, -1));
    lua_settop(S, 0);
    wp_free(c->modules);
    wp_free(c->chunkname);
    wp_free(c);
    return -1;
  }
  if (lua_dump(S, dump_writer, &c->bytecode, 0) != 0) goto oom;
  wp_code_scan(rt, c, text, src->u.str.len);
  lua_settop(S, 0);
  rt->codes[rt->ncodes++] = c;
  e->impl = c;
  return 0;
oom:
  snprintf(err, errlen, "out of memory compiling %s", e->id);
  if (c) {
    wp_free(c->modules);
    wp_free(c->chunkname);
    wp_buf_free(&c->bytecode);
    wp_free(c);
  }
  return -1;
}

static int has_alias(const struct wp_code *c, const char *alias) {
  for (int i = 0; i < c->nimports; i++)
    if (strcmp(c->imports[i].alias, alias) == 0) return 1;
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

/* Adds lib's own imports (transitively) and modules to c: a library's code
** runs in the importing process's environment and needs what it declares. */
static int merge_library(struct wp_rt *rt, struct wp_code *c, struct wp_code *lib, int depth,
                         char *err, size_t errlen) {
  if (depth > 16) {
    snprintf(err, errlen, "%s:%d: imports of %s nest too deeply (an import cycle?)",
             c->entry->file, c->entry->line, c->entry->id);
    return -1;
  }
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
  if (!imp || imp->type != WP_NODE_MAP) return 0;
  for (size_t i = 0; i < imp->u.map.n; i++) {
    const char *id = wp_node_str(imp->u.map.vals[i]);
    struct wp_code *l2 = id ? wp_rt_code(rt, id) : NULL;
    if (!l2 || !l2->is_library) continue; /* reported for lib itself */
    if (add_import(c, imp->u.map.keys[i], l2)) return -1;
    if (merge_library(rt, c, l2, depth + 1, err, errlen)) return -1;
  }
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
    if (add_import(c, imp->u.map.keys[i], lib) ||
        merge_library(rt, c, lib, 0, err, errlen)) {
      if (!err[0]) snprintf(err, errlen, "out of memory");
      return -1;
    }
  }
  return 0;
}

int wp_rt_compile(struct wp_rt *rt, char *err, size_t errlen) {
  rt->codes = wp_calloc(rt->entries.n + 1, sizeof *rt->codes);
  if (!rt->codes) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  lua_State *S = luaL_newstate();
  if (!S) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  int rc = 0;
  for (size_t i = 0; i < rt->entries.n && rc == 0; i++) {
    struct wp_entry *e = rt->entries.v[i];
    if (strcmp(e->kind, "process.lua") == 0 || strcmp(e->kind, "function.lua") == 0 ||
        strcmp(e->kind, "library.lua") == 0)
      rc = compile_one(rt, S, e, err, errlen);
  }
  lua_close(S);
  for (size_t i = 0; i < rt->ncodes && rc == 0; i++) rc = resolve_imports(rt, rt->codes[i], err, errlen);
  return rc;
}

/* ---- spawning ---- */

/* Creates a process and its VM data in one allocation (not yet in the
** process table). NULL on allocation failure. */
static struct wp_vmproc *vmproc_new(struct wp_rt *rt, struct wp_code *code,
                                    struct wp_host *host) {
  struct wp_proc *p = wp_proc_new_ext(rt->sched, host, sizeof(struct wp_vmproc));
  if (!p) return NULL;
  struct wp_vmproc *vp = p->vm;
  vp->p = p;
  vp->rt = rt;
  vp->code = code;
  vp->host = host;
  wp_state_limit(vp);
  vp->inbox_ref = vp->events_ref = LUA_NOREF;
  return vp;
}

/* Gives vp's process its pid and inserts it into the process table. Returns
** the process, or NULL on failure (then everything is freed). With `child`,
** also a reference to it for the caller. */
static struct wp_proc *proc_create(struct wp_rt *rt, struct wp_vmproc *vp,
                                   struct wp_proc **child, const char *pid_host) {
  struct wp_proc *p = vp->p;
  struct wp_ptab *pt = wp_sched_ptab(rt->sched);
  size_t hl = strlen(pid_host), cap = hl + WP_PID_OVERHEAD;
  char *buf = wp_proc_pid_room(p, cap);
  if (buf) {
    p->counter = wp_ptab_next_counter(pt);
    p->pid_len = (uint32_t)wp_pid_format(buf, cap, pid_host, hl, p->counter);
  }
  if (child) wp_proc_retain(p); /* before p can be found (and end) */
  if (!buf || wp_ptab_insert(pt, p) != 0) {
    if (child) wp_proc_release(p);
    wp_proc_release(p); /* frees vp through the free hook */
    return NULL;
  }
  if (child) *child = p;
  atomic_fetch_add(&vp->host->live, 1);
  atomic_fetch_add(&rt->live, 1);
  return p;
}

int wp_rt_spawn(struct wp_rt *rt, struct wp_vmproc *parent, const char *id,
                const char *host_id, lua_State *L, int first, int n, int flags,
                struct wp_service *svc, struct wp_proc **child, const char **kind,
                const char **msg) {
  struct wp_host *host = wp_rt_host(rt, host_id);
  if (!host) {
    *kind = WP_KIND_NOT_FOUND;
    *msg = "host not found";
    return -1;
  }
  if (atomic_load(&host->stopping) || !atomic_load(&host->running)) {
    *kind = WP_KIND_UNAVAILABLE;
    *msg = atomic_load(&host->stopping) ? "host is shutting down" : "host is not running";
    return -1;
  }
  struct wp_code *code = wp_rt_code(rt, id);
  if (!code || code->is_library || code->is_function != !!(flags & WP_SPAWN_FUNC)) {
    *kind = WP_KIND_NOT_FOUND;
    *msg = flags & WP_SPAWN_FUNC ? "function not found" : "factory not found";
    return -1;
  }
  struct wp_vmproc *vp = vmproc_new(rt, code, host);
  if (!vp) goto oom;
  vp->svc = svc;
  const char *cerr;
  if (n > 0 && wp_codec_encode(L, first, n, &vp->args, rt->limits, &cerr) != 0) {
    wp_proc_release(vp->p);
    *kind = WP_KIND_INVALID;
    *msg = cerr;
    return -1;
  }
  struct wp_proc *p = proc_create(rt, vp, child, flags & WP_SPAWN_FUNC ? id : host->id);
  if (!p) goto oom;
  /* Relations are in place before the child can run (a thief may run it at
  ** once after the wake below). */
  int rc = 0;
  if (parent && (flags & WP_SPAWN_MONITOR)) rc = wp_proc_monitor(p, parent->p->handle);
  if (rc == 0 && parent && (flags & WP_SPAWN_LINK)) {
    rc = wp_proc_link(parent->p, p);
    if (rc && (flags & WP_SPAWN_MONITOR)) wp_proc_unmonitor(p, parent->p->handle);
  }
  if (rc) {
    /* a child without the monitor or link asked for would fail silently:
    ** it never runs its code (the kill ends it at its first run) and the
    ** caller gets the error */
    wp_proc_kill(p, WP_KILL_TERMINATE);
    if (child) {
      wp_proc_release(*child);
      *child = NULL;
    }
    goto oom;
  }
  wp_proc_wake(p);
  return 0;
oom:
  *kind = WP_KIND_INTERNAL;
  *msg = "out of memory";
  return -1;
}

int wp_rt_spawn_cli(struct wp_rt *rt, struct wp_code *code, struct wp_host *host,
                    int argc, char **argv, struct wp_proc **child, const char **msg) {
  struct wp_vmproc *vp = vmproc_new(rt, code, host);
  if (!vp) goto oom;
  vp->argv = wp_calloc((size_t)argc + 1, sizeof(char *));
  if (!vp->argv) {
    wp_proc_release(vp->p);
    goto oom;
  }
  for (int i = 0; i < argc; i++) vp->argv[i] = wp_strdup(argv[i]);
  vp->argc = argc;
  struct wp_proc *p = proc_create(rt, vp, child, host->id);
  if (!p) goto oom;
  wp_proc_wake(p);
  return 0;
oom:
  *msg = "out of memory";
  return -1;
}

/* ---- exits and shutdown ---- */

void wp_rt_process_ended(struct wp_vmproc *vp, int abnormal, const char *errmsg, int code,
                         int retryable);
void wp_rt_process_ended(struct wp_vmproc *vp, int abnormal, const char *errmsg, int code,
                         int retryable) {
  struct wp_rt *rt = vp->rt;
  if (vp->svc) {
    if (abnormal && errmsg)
      wp_logf(WP_LOG_ERROR, "service process %s (%s) failed: %s", vp->p->pid,
              vp->code->entry->id, errmsg);
    wp_rt_service_event(rt, vp->svc, 1, abnormal, retryable);
  }
  if (vp->host->kind == WP_HOST_TERMINAL && !vp->code->is_function) {
    if (abnormal && errmsg) {
      char line[1100];
      /* failing before its entry function ran is a failed spawn: Error: */
      int n = snprintf(line, sizeof line, "%s%s\n", vp->entry_started ? "" : "Error: ", errmsg);
      if (n > 0) {
        if ((size_t)n >= sizeof line) n = sizeof line - 1;
        ssize_t w = write(2, line, (size_t)n);
        (void)w;
      }
    }
    wp_rt_request_shutdown(rt, abnormal ? 1 : code, 1);
  } else if (abnormal && errmsg) {
    wp_logf(WP_LOG_DEBUG, "process %s (%s) failed: %s", vp->p->pid, vp->code->entry->id,
            errmsg);
  }
  /* Only shutdown waits for ordinary exits: do not wake the main thread for
  ** each of them. (Service and terminal exits broadcast on their own paths;
  ** rt->live was decremented by our caller only after this returns, so a
  ** waiter re-checks after the teardown's broadcast below.) */
}

void wp_rt_live_dec(struct wp_rt *rt) {
  if (atomic_fetch_sub(&rt->live, 1) == 1 || rt->shutdown_flag) {
    pthread_mutex_lock(&rt->lock);
    pthread_cond_broadcast(&rt->cond);
    pthread_mutex_unlock(&rt->lock);
  }
}

int wp_rt_cancel(struct wp_proc *p, const char *from, const char *reason) {
  size_t rlen = strlen(reason), flen = strlen(from);
  struct wp_msg *m = wp_msg_new_sys(WP_MSG_CANCEL, from, flen, reason, rlen, NULL, 0, NULL, 0);
  if (!m) {
    wp_logf(WP_LOG_ERROR, "CANCEL (%s) to %s lost: out of memory", reason, p->pid);
    return -1;
  }
  m->at = wp_wall_ns() / 1000000000;
  wp_proc_deliver(p, m);
  return 0;
}

void wp_rt_request_shutdown(struct wp_rt *rt, int code, int from_terminal) {
  pthread_mutex_lock(&rt->lock);
  if (from_terminal && !rt->terminal_done) {
    rt->terminal_done = 1;
    rt->exit_code = code;
  }
  rt->shutdown = 1;
  atomic_store(&rt->shutdown_flag, 1);
  pthread_cond_broadcast(&rt->cond);
  pthread_mutex_unlock(&rt->lock);
}
