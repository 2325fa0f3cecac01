/*
** main.c: the `wippy` command line (spec 02): init, run, run -x, run list.
**
** Signals: SIGINT and SIGTERM are blocked before any thread starts and taken
** by one signal thread (sigwait). The first one interrupts a pending terminal
** read and starts the shutdown. SIGTERM always means a graceful stop
** (systemd, docker and timeout(1) send it, timeout twice): one arriving
** during the stop is logged and changes nothing. A SIGINT during the stop
** (Ctrl+C again) exits at once with code 1.
** SIGPIPE is ignored: a closed pipe is a write error, never a crash.
**
** Bad input never crashes: every boot error is "Error: <what>" on stderr,
** naming the file and line where there is one, and exit code 1.
*/
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "cluster.h"
#include "cluster_hooks.h"
#include "cluster_pg.h"
#include "codes.h"
#include "config.h"
#include "control.h"
#include "prom.h"
#include "duration.h"
#include "lazylib.h"
#include "modules.h"
#include "pgroup.h"
#include "remote.h"
#include "service.h"

struct opts {
  const char *config;
  int verbose, console, silent, log_flag;
  const char *exec, *host;
  const char *memory_limit; /* --memory-limit, as given */
  const char *node, *cluster; /* --node, --cluster */
  const char *log_format;     /* --log-format */
  const char *metrics;        /* --metrics ADDR:PORT */
  int workers;
  const char **sets;
  int nsets;
  const char **overrides;
  int noverrides;
  int argc;
  char **argv; /* positional arguments after the command */
  /* init */
  const char *src_dir, *modules_dir, *lock_file;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("Error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static void usage(FILE *f) {
  fputs("wippy - an actor runtime for Wippy-style Lua process applications\n"
        "\n"
        "Usage:\n"
        "  wippy init [-d|--src-dir DIR] [--modules-dir DIR] [-l|--lock-file FILE]\n"
        "  wippy run [flags]                  start the auto-start services until a signal\n"
        "  wippy run -x [HOST/]NS:ENTRY [args] run a process on a terminal host, exit with it\n"
        "  wippy run COMMAND [args]           run the entry whose meta.command.name is COMMAND\n"
        "  wippy run list                     list the named commands\n"
        "  wippy top [--once] [--json]        a live view of this project's running node\n"
        "  wippy inspect PID|NAME             one process of the running node\n"
        "                                     (both: --socket PATH, --node NAME; --help)\n"
        "\n"
        "Run flags:\n"
        "  -x, --exec ENTRY      entry to execute (ns:name or host/ns:name)\n"
        "      --host HOST       host for --exec (default: the only terminal.host)\n"
        "  -o, --override NS:ENTRY:FIELD=VALUE   override an entry field (repeatable)\n"
        "      --set SECTION.KEY=VALUE           override a .wippy.yaml value (repeatable)\n"
        "      --workers N       scheduler worker threads (default: online CPUs;\n"
        "                        also WIPPY_WORKERS or scheduler.workers)\n"
        "  -m, --memory-limit SIZE\n"
        "                        limit on the Lua memory of all processes together,\n"
        "                        e.g. 1G (default: none; per process: the entry's\n"
        "                        memory_limit, or process.memory_limit)\n"
        "      --node NAME       join a cluster as node NAME (cluster.name; turns\n"
        "                        clustering on)\n"
        "      --cluster URL     join the cluster at NATS server URL (cluster.nats.url;\n"
        "                        a comma-separated list for several; turns clustering on)\n"
        "\n"
        "Global flags:\n"
        "      --config FILE     runtime config (default .wippy.yaml, optional)\n"
        "  -v, --verbose         debug logging\n"
        "  -c, --console         log to stdout\n"
        "  -s, --silent          no logging\n"
        "      --log-format F    console (default) or json (logger.encoding)\n"
        "      --metrics ADDR:PORT  serve Prometheus metrics at http://ADDR:PORT/metrics\n"
        "                        (prometheus.enabled, prometheus.address)\n"
        "  -h, --help            this help\n"
        "      --version         print the version\n",
        f);
}

/* Takes the value of a flag: "--flag=v" or the next argument. */
static const char *flag_value(int argc, char **argv, int *i, const char *name) {
  const char *eq = strchr(argv[*i], '=');
  if (eq && strncmp(argv[*i], "--", 2) == 0) return eq + 1;
  if (*i + 1 >= argc) die("flag %s needs a value", name);
  return argv[++*i];
}

static int is_flag(const char *a, const char *s, const char *l) {
  if (s && strcmp(a, s) == 0) return 1;
  if (!l) return 0;
  size_t n = strlen(l);
  return strncmp(a, l, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

static void parse(int argc, char **argv, int start, struct opts *o) {
  o->sets = calloc((size_t)argc, sizeof(char *));
  o->overrides = calloc((size_t)argc, sizeof(char *));
  o->argv = calloc((size_t)argc + 1, sizeof(char *));
  if (!o->sets || !o->overrides || !o->argv) die("out of memory");
  int rest = 0;
  for (int i = start; i < argc; i++) {
    const char *a = argv[i];
    if (rest || a[0] != '-' || strcmp(a, "-") == 0) {
      o->argv[o->argc++] = argv[i];
      /* after the command or the entry's first argument, flags belong to the app */
      if (o->argc >= 1 && !o->exec) rest = rest || o->argc > 1;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      rest = 1;
    } else if (is_flag(a, NULL, "--config")) {
      o->config = flag_value(argc, argv, &i, "--config");
    } else if (is_flag(a, "-v", "--verbose") || is_flag(a, NULL, "--very-verbose")) {
      o->verbose = o->log_flag = 1;
    } else if (is_flag(a, "-c", "--console")) {
      o->console = o->log_flag = 1;
    } else if (is_flag(a, "-s", "--silent")) {
      o->silent = o->log_flag = 1;
    } else if (is_flag(a, "-e", "--event-streams") || is_flag(a, "-p", "--profiler")) {
      /* accepted and ignored */
    } else if (is_flag(a, "-m", "--memory-limit")) {
      o->memory_limit = flag_value(argc, argv, &i, "--memory-limit");
    } else if (is_flag(a, NULL, "--log-format")) {
      o->log_format = flag_value(argc, argv, &i, "--log-format");
    } else if (is_flag(a, NULL, "--metrics")) {
      o->metrics = flag_value(argc, argv, &i, "--metrics");
    } else if (is_flag(a, NULL, "--node")) {
      o->node = flag_value(argc, argv, &i, "--node");
    } else if (is_flag(a, NULL, "--cluster")) {
      o->cluster = flag_value(argc, argv, &i, "--cluster");
    } else if (is_flag(a, "-x", "--exec")) {
      o->exec = flag_value(argc, argv, &i, "--exec");
    } else if (is_flag(a, NULL, "--host")) {
      o->host = flag_value(argc, argv, &i, "--host");
    } else if (is_flag(a, NULL, "--workers")) {
      o->workers = atoi(flag_value(argc, argv, &i, "--workers"));
      if (o->workers <= 0) die("--workers needs a positive number");
    } else if (is_flag(a, NULL, "--set")) {
      o->sets[o->nsets++] = flag_value(argc, argv, &i, "--set");
    } else if (is_flag(a, "-o", "--override")) {
      o->overrides[o->noverrides++] = flag_value(argc, argv, &i, "--override");
    } else if (is_flag(a, "-d", "--src-dir")) {
      o->src_dir = flag_value(argc, argv, &i, "--src-dir");
    } else if (is_flag(a, NULL, "--modules-dir")) {
      o->modules_dir = flag_value(argc, argv, &i, "--modules-dir");
    } else if (is_flag(a, "-l", "--lock-file")) {
      o->lock_file = flag_value(argc, argv, &i, "--lock-file");
    } else if (is_flag(a, "-h", "--help")) {
      usage(stdout);
      exit(0);
    } else {
      die("unknown flag %s (see wippy --help)", a);
    }
  }
}

/* ---- init ---- */

static int cmd_init(struct opts *o) {
  char err[1024];
  const char *lock = o->lock_file ? o->lock_file : "wippy.lock";
  wp_log_setup(o->verbose ? WP_LOG_DEBUG : WP_LOG_INFO, o->console, o->silent);
  wp_logf(WP_LOG_INFO, "initializing lock file");
  if (wp_lock_init(lock, o->src_dir ? o->src_dir : "./src",
                   o->modules_dir ? o->modules_dir : ".wippy", err, sizeof err))
    die("%s", err);
  wp_logf(WP_LOG_INFO, "lock file initialized successfully");
  return 0;
}

/* ---- run ---- */

#ifdef WIPPY_FAULTS
/* WIPPY_FAIL_ALLOC (Debug builds): "N" fails the N-th allocation after the
** runtime is ready, "N+K" K of them from the N-th on, "count" none; the
** count is printed at exit (tests/faults/run.sh samples N from it). */
static void arm_faults(const char *spec) {
  char *end;
  unsigned long long first = strtoull(spec, &end, 10), count = 1;
  if (*end == '+') count = strtoull(end + 1, &end, 10);
  if (strcmp(spec, "count") == 0) {
    wp_alloc_fail(0, 0);
  } else if (first == 0 || *end) {
    die("WIPPY_FAIL_ALLOC: expected N, N+K or count, got \"%s\"", spec);
  } else {
    wp_alloc_fail(first, count);
  }
}
#endif

static struct wp_rt RT;
/* The application: its entries and .wippy.yaml (with --set applied). */
static struct wp_entries ENTRIES;
static struct wp_node *CONFIG;
/* The entries as the registry module reads them (rt->regview). */
static struct wp_regview REGVIEW;
static sigset_t g_sigs;
static _Atomic int g_signals;

static int regentry_cmp(const void *a, const void *b) {
  return strcmp(((const struct wp_regentry *)a)->id, ((const struct wp_regentry *)b)->id);
}

/* Fills REGVIEW from ENTRIES (final: loaded and overridden) and hands it to
** rt. It borrows the entries' strings and trees, which live until exit. An
** entry whose data map is empty has no data (spec 10 §1.1: `data` absent). */
static void regview_build(struct wp_rt *rt) {
  if (ENTRIES.n == 0) return;
  struct wp_regentry *v = wp_calloc(ENTRIES.n, sizeof *v);
  if (!v) die("out of memory");
  for (size_t i = 0; i < ENTRIES.n; i++) {
    const struct wp_entry *e = ENTRIES.v[i];
    v[i].id = e->id;
    v[i].nslen = strlen(e->ns);
    v[i].kind = e->kind;
    v[i].meta = e->meta;
    v[i].file = e->file;
    v[i].line = e->line;
    int has_data = e->data && e->data->type == WP_NODE_MAP && e->data->u.map.n > 0;
    v[i].data = has_data ? e->data : NULL;
  }
  qsort(v, ENTRIES.n, sizeof *v, regentry_cmp);
  REGVIEW.v = v;
  REGVIEW.n = ENTRIES.n;
  rt->regview = &REGVIEW;
}

static void *signal_main(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "wp-signals");
  for (;;) {
    int sig;
    if (sigwait(&g_sigs, &sig) != 0) continue;
    if (atomic_fetch_add(&g_signals, 1) >= 1) {
      if (sig == SIGTERM) {
        wp_log(WP_LOG_INFO, NULL, "SIGTERM while shutting down: still stopping gracefully",
               NULL);
        continue;
      }
      wp_log(WP_LOG_WARN, NULL, "force exit", NULL);
      _exit(1);
    }
    wp_log(WP_LOG_INFO, NULL, "received shutdown signal", NULL);
    wp_log(WP_LOG_INFO, NULL, "shutting down (press Ctrl+C again to force exit)", NULL);
    wp_terminal_interrupt();
    wp_rt_request_shutdown(&RT, 0, 0);
  }
  return NULL;
}

/* Waits until fn(rt) is true or the monotonic deadline passes. rt->lock held. */
static int wait_until(struct wp_rt *rt, int (*fn)(struct wp_rt *), int64_t deadline) {
  while (!fn(rt)) {
    int64_t now = (int64_t)wp_clock_ns();
    if (now >= deadline) return 0;
    int64_t step = deadline - now;
    if (step > 50000000) step = 50000000;
    struct timespec ts;
    wp_clock_deadline(CLOCK_REALTIME, step, &ts);
    pthread_cond_timedwait(&rt->cond, &rt->lock, &ts);
  }
  return 1;
}

static int none_alive(struct wp_rt *rt) { return atomic_load(&rt->live) == 0; }
static int terminal_ended(struct wp_rt *rt) { return rt->terminal_done; }

static void cancel_one(struct wp_proc *p, void *ud) {
  (void)ud;
  wp_rt_cancel(p, "{|}", "scheduler shutdown");
}

static void kill_one(struct wp_proc *p, void *ud) {
  (void)ud;
  wp_proc_kill(p, WP_KILL_SHUTDOWN);
}

/* The graceful shutdown (spec 02 §6, 06 §5), bounded by the grace periods. */
static void shutdown_all(struct wp_rt *rt, int64_t grace_ns) {
  struct wp_ptab *pt = wp_sched_ptab(rt->sched);
  if (atomic_load(&rt->live) == 0) return;
  wp_services_cancel(rt);
  wp_ptab_each(pt, cancel_one, NULL);
  pthread_mutex_lock(&rt->lock);
  int done = wait_until(rt, none_alive, (int64_t)wp_clock_ns() + grace_ns);
  pthread_mutex_unlock(&rt->lock);
  for (struct wp_host *h = rt->hosts; h; h = h->next) atomic_store(&h->stopping, 1);
  if (!done) {
    wp_ptab_each(pt, kill_one, NULL);
    /* each kill is a run of its process: allow for many of them */
    pthread_mutex_lock(&rt->lock);
    done = wait_until(rt, none_alive, (int64_t)wp_clock_ns() + rt->shutdown_timeout_ns);
    pthread_mutex_unlock(&rt->lock);
    if (!done) {
      fprintf(stderr, "Error: %lld processes did not stop within shutdown.timeout; exiting\n",
              (long long)atomic_load(&rt->live));
      wp_terminal_stop();
      fflush(NULL);
      _exit(rt->exit_code ? rt->exit_code : 1);
    }
  }
}

static struct wp_entry *find_command(struct wp_rt *rt, const char *name) {
  for (size_t i = 0; i < ENTRIES.n; i++) {
    struct wp_entry *e = ENTRIES.v[i];
    const char *n = wp_node_str(wp_node_path(e->meta, "command.name"));
    if (n && strcmp(n, name) == 0) return e;
  }
  return NULL;
}

static int cmd_list(struct wp_rt *rt) {
  int n = 0;
  for (size_t i = 0; i < ENTRIES.n; i++) {
    struct wp_entry *e = ENTRIES.v[i];
    const char *name = wp_node_str(wp_node_path(e->meta, "command.name"));
    if (!name) continue;
    if (!n++) printf("Available commands:\n");
    const char *sh = wp_node_str(wp_node_path(e->meta, "command.short"));
    printf("  %-20s %-40s (%s)\n", name, sh ? sh : "", e->id);
  }
  if (!n) printf("No commands found.\nAdd meta.command.name to a process.lua entry to make it a command.\n");
  return 0;
}

static const char *const known_kinds[] = {"process.lua", "function.lua", "library.lua",
                                          "process.host", "terminal.host", "process.service",
                                          "env.variable", "env.storage.os", "env.storage.static",
                                          "env.storage.memory", "env.storage.router",
                                          "pg.scope", NULL};

static int known_kind(const char *k) {
  for (int i = 0; known_kinds[i]; i++)
    if (strcmp(known_kinds[i], k) == 0) return 1;
  return 0;
}

static struct wp_host *single_terminal_host(struct wp_rt *rt);

/* Resolves -x (and --host) to code and host; dies with a clear message. */
static void resolve_exec(struct wp_rt *rt, const char *exec, const char *host_flag,
                         struct wp_code **code, struct wp_host **host) {
  const char *ent = exec;
  char *hst = NULL; /* ids have no length limit */
  const char *slash = strchr(exec, '/');
  if (slash) {
    if (strchr(slash + 1, '/')) die("invalid --exec value %s: more than one '/'", exec);
    if (slash == exec) die("invalid --exec value %s: empty host before '/'", exec);
    if (!slash[1]) die("invalid --exec value %s: empty entry after '/'", exec);
    hst = strndup(exec, (size_t)(slash - exec));
    if (!hst) die("out of memory");
    ent = slash + 1;
    if (host_flag && strcmp(host_flag, hst) != 0)
      die("--exec names host %s but --host says %s", hst, host_flag);
    host_flag = hst;
  }
  const char *colon = strchr(ent, ':');
  if (!colon) die("invalid entry %s: expected namespace:name", ent);
  if (colon == ent) die("invalid entry %s: namespace is empty", ent);
  if (!colon[1]) die("invalid entry %s: entry name is empty", ent);
  if (host_flag) {
    *host = wp_rt_host(rt, host_flag);
    if (!*host) {
      struct wp_entry *he = wp_entries_find(&ENTRIES, host_flag);
      if (he) die("%s is a %s, not a terminal.host or process.host", host_flag, he->kind);
      die("host %s not found", host_flag);
    }
  } else {
    *host = single_terminal_host(rt);
  }
  /* the host first, as Wippy does: without wippy.lock the error is the
  ** missing terminal host */
  struct wp_entry *e = wp_entries_find(&ENTRIES, ent);
  if (!e) die("entry %s not found (no definition file under the source directory defines it)", ent);
  if (!known_kind(e->kind))
    die("%s:%d: entry %s has kind %s, which this runtime cannot run", e->file, e->line, ent,
        e->kind);
  *code = wp_rt_code(rt, ent);
  if (!*code || (*code)->is_function)
    die("entry %s is a %s, not a process.lua entry", ent, e->kind);
  free(hst);
}

static struct wp_host *single_terminal_host(struct wp_rt *rt) {
  struct wp_host *found = NULL;
  char names[1024] = "";
  int n = 0;
  for (struct wp_host *h = rt->hosts; h; h = h->next) {
    if (h->kind != WP_HOST_TERMINAL) continue;
    found = h;
    n++;
    size_t l = strlen(names);
    snprintf(names + l, sizeof names - l, "%s%s", l ? ", " : "", h->id);
  }
  if (n == 0) die("no terminal.host found in registry");
  if (n > 1) die("multiple terminal hosts found (%s), use --host to specify", names);
  return found;
}

static int env_workers(const struct wp_node *cfg) {
  const char *e = getenv("WIPPY_WORKERS");
  if (e && *e) {
    int n = atoi(e);
    if (n <= 0) die("WIPPY_WORKERS must be a positive number, not \"%s\"", e);
    return n;
  }
  int64_t n = wp_config_int(cfg, "scheduler.workers", 0);
  if (n < 0) die("scheduler.workers must be a positive number");
  return (int)n;
}

/* ---- cluster (cluster.* of .wippy.yaml, --node, --cluster) ---- */

#define MAX_NATS_URLS 16
static struct wp_cluster *CLUSTER;
static const char *g_urls[MAX_NATS_URLS];
static char *g_url_text; /* --cluster's or cluster.nats.url's text, split at commas */
static char g_node_text[64]; /* a node name the configuration gave as a number */
static char g_hostname[256];

/* The transport's ends in the runtime. Out: rt->remote_send, called by a
** process's send or cancel to a pid of another node, and by vm/remote.c
** for monitors and links, queues a frame on the cluster (never waits).
** In: the cluster's subscription thread hands each frame here; a pid of
** this node gets a send or cancel as a local one from the remote sender,
** and vm/remote.c takes EXIT, LINK_DOWN and relation requests. Down: the
** cluster's threads say a node departed or a session lost frames, and
** vm/remote.c fires the relations across. No Lua state is touched. */
_Static_assert((int)WP_RT_REMOTE_MONITOR == (int)WP_CLUSTER_MONITOR &&
                   (int)WP_RT_REMOTE_UNMONITOR == (int)WP_CLUSTER_UNMONITOR &&
                   (int)WP_RT_REMOTE_LINK == (int)WP_CLUSTER_LINK &&
                   (int)WP_RT_REMOTE_UNLINK == (int)WP_CLUSTER_UNLINK,
               "vm.h's relation kinds are cluster.h's frame kinds");
static int remote_send(struct wp_rt *rt, uint32_t kind, const char *node, size_t node_len,
                       const char *from, size_t from_len, const char *dest, size_t dest_len,
                       const char *topic, size_t topic_len, const void *payload, size_t len,
                       size_t *size, size_t *limit) {
  struct wp_cluster_frame f = {kind & ~WP_RT_REMOTE_ABNORMAL, node, node_len, from, dest, topic,
                               from_len, dest_len, topic_len, payload, len, 0};
  if (kind & WP_RT_REMOTE_ABNORMAL) f.flags = WP_CLUSTER_ABNORMAL;
  /* From a worker with more to run, the frame waits for the worker's
  ** flush (below) and leaves with what those runs send. With nothing else
  ** to run, the first frame of a run goes at once (written by the worker
  ** itself if the cluster's I/O thread sleeps: a lone reply wakes no
  ** thread), and the run's later ones wait for its end or for a batch's
  ** worth (HOLD_MAX): a process that streams sends in batches. */
  static _Thread_local uint64_t tl_sent_run; /* the run of this thread's last send */
  int how = WP_CLUSTER_NOW;
  /* from the cluster's I/O hook (a worker driving the socket answers a
  ** monitor of a pid that is gone): the hook's own round sends it */
  if (wp_sched_on_worker(rt->sched) && !wp_cluster_on_io(CLUSTER)) {
    uint64_t run = wp_sched_run_id(rt->sched);
    how = wp_sched_busy_here(rt->sched) || run == tl_sent_run ? WP_CLUSTER_LATER
                                                              : WP_CLUSTER_HERE;
    tl_sent_run = run;
  }
  switch (wp_cluster_send(CLUSTER, &f, how, size, limit)) {
    case WP_CLUSTER_SENT: return WP_RT_REMOTE_SENT;
    case WP_CLUSTER_DOWN: return WP_RT_REMOTE_DOWN;
    case WP_CLUSTER_TOO_LARGE: return WP_RT_REMOTE_TOO_LARGE;
    default: return WP_RT_REMOTE_NOMEM;
  }
}

static int remote_deliver(void *ctx, const struct wp_cluster_frame *f) {
  struct wp_rt *rt = ctx;
  if (f->kind != WP_MSG_USER && f->kind != WP_MSG_CANCEL)
    return wp_remote_receive(rt, f->node, f->node_len, f->kind, f->flags & WP_CLUSTER_ABNORMAL,
                             f->from, f->from_len, f->dest, f->dest_len, f->payload, f->len);
  const char *kind, *err;
  if (!wp_pid_parse(f->dest, f->dest_len)) return -1; /* frames carry pids, not names */
  struct wp_proc *p = wp_rt_resolve(rt, f->dest, f->dest_len, &kind, &err);
  if (!p) return -1;
  struct wp_host *h = p->host;
  struct wp_msg *m = NULL;
  if (!atomic_load(&h->stopping) || f->kind == WP_MSG_CANCEL) {
    if (f->kind == WP_MSG_CANCEL) {
      m = wp_msg_new_sys(WP_MSG_CANCEL, f->from, f->from_len, f->topic, f->topic_len, NULL, 0,
                         NULL, 0);
      if (m) m->at = wp_wall_ns() / 1000000000;
    } else {
      m = wp_msg_new(WP_MSG_USER, f->from, f->from_len, f->topic, f->topic_len, f->payload,
                     f->len);
    }
  }
  if (m) {
    wp_proc_deliver(p, m);
  } else if (!atomic_load(&h->stopping) || f->kind == WP_MSG_CANCEL) {
    /* not silently: the transport counts it as dropped, this says why */
    wp_logf(WP_LOG_ERROR, "message from %.*s to %.*s lost: out of memory", (int)f->from_len,
            f->from, (int)f->dest_len, f->dest);
  }
  wp_proc_release(p);
  return m ? 0 : -1;
}

/* The scheduler's flush hook: the frames its worker's processes sent
** leave together (wp_cluster_send's `how`). */
static void remote_flush(void *ctx, int idle) { wp_cluster_flush(ctx, idle); }
static int sched_all_parked(void *s) { return wp_sched_all_parked(s); }

static void remote_down(void *ctx, const char *node, size_t node_len) {
  wp_remote_node_down(ctx, node, node_len);
}

/* Where a configuration value came from, for messages. */
static void config_where(const struct wp_node *n, const char *file, const char *key, char *buf,
                         size_t len) {
  if (n->line > 0)
    snprintf(buf, len, "%s:%d: %s", file, n->line, key);
  else
    snprintf(buf, len, "--set %s", key);
}

/* The text at key: NULL when absent; a number as its digits (in buf);
** anything else is a boot error. */
static const char *config_text(const char *key, const char *file, char *buf, size_t len) {
  const struct wp_node *n = wp_node_path(CONFIG, key);
  if (!n || n->type == WP_NODE_NULL) return NULL;
  if (n->type == WP_NODE_STR) return n->u.str.s;
  if (n->type == WP_NODE_INT && buf) {
    snprintf(buf, len, "%lld", (long long)n->u.i);
    return buf;
  }
  char at[512];
  config_where(n, file, key, at, sizeof at);
  die("%s must be a string", at);
}

/* Splits text (a copy kept in g_url_text) at commas into g_urls. */
static int split_urls(const char *text, const char *key) {
  free(g_url_text);
  g_url_text = strdup(text);
  if (!g_url_text) die("out of memory");
  int n = 0;
  for (char *save = NULL, *u = strtok_r(g_url_text, ", ", &save); u;
       u = strtok_r(NULL, ", ", &save)) {
    if (n == MAX_NATS_URLS) die("%s: more than %d URLs", key, MAX_NATS_URLS);
    g_urls[n++] = u;
  }
  return n;
}

/* The NATS URLs: --cluster, else cluster.nats.url (one string, a
** comma-separated string or a list), else the default. */
static int cluster_urls(const struct opts *o, const char *file) {
  if (o->cluster) return split_urls(o->cluster, "--cluster");
  const char *key = "cluster.nats.url";
  const struct wp_node *n = wp_node_path(CONFIG, key);
  if (!n || n->type == WP_NODE_NULL) return split_urls("nats://127.0.0.1:4222", key);
  char at[512];
  config_where(n, file, key, at, sizeof at);
  if (n->type == WP_NODE_STR) return split_urls(n->u.str.s, at);
  if (n->type != WP_NODE_SEQ) die("%s must be a URL or a list of URLs", at);
  if (n->u.seq.n > MAX_NATS_URLS) die("%s: more than %d URLs", at, MAX_NATS_URLS);
  for (size_t i = 0; i < n->u.seq.n; i++) {
    const char *u = wp_node_str(n->u.seq.items[i]);
    if (!u) die("%s: item %zu is not a URL string", at, i + 1);
    g_urls[i] = u;
  }
  return (int)n->u.seq.n;
}

/* Reads the cluster configuration into cc and checks it; 0 when
** clustering is off (cluster.enabled false and neither flag given). */
static int cluster_config(const struct opts *o, const char *file, struct wp_cluster_config *cc) {
  if (!o->node && !o->cluster && !wp_config_bool(CONFIG, "cluster.enabled", 0)) return 0;
  char err[1024];
  memset(cc, 0, sizeof *cc);
  cc->name = o->node ? o->node
                     : config_text("cluster.name", file, g_node_text, sizeof g_node_text);
  if (!cc->name) {
    /* the hostname when it is a valid node name (spec 07 §1) */
    if (gethostname(g_hostname, sizeof g_hostname - 1) != 0 || !wp_cluster_name_ok(g_hostname))
      die("clustering is on but no node name is set, and the hostname \"%s\" is not a valid "
          "one (1 to %d letters, digits, '_' or '-'); set cluster.name or --node",
          g_hostname, WP_CLUSTER_NAME_MAX);
    cc->name = g_hostname;
  }
  cc->urls = g_urls;
  cc->nurls = cluster_urls(o, file);
  cc->creds = config_text("cluster.nats.creds", file, NULL, 0);
  cc->tls_ca = config_text("cluster.nats.tls.ca", file, NULL, 0);
  cc->tls_cert = config_text("cluster.nats.tls.cert", file, NULL, 0);
  cc->tls_key = config_text("cluster.nats.tls.key", file, NULL, 0);
  cc->prefix = config_text("cluster.nats.prefix", file, NULL, 0);
  if (!cc->prefix) cc->prefix = "wippy";
  if (wp_config_duration(CONFIG, "cluster.heartbeat", 500000000LL, &cc->heartbeat_ns, err,
                         sizeof err) ||
      wp_config_duration(CONFIG, "cluster.down_after", 3000000000LL, &cc->down_after_ns, err,
                         sizeof err))
    die("%s: %s", file, err);
  if (wp_cluster_check(cc, err, sizeof err)) die("%s", err);
  return 1;
}

static int cmd_run(struct opts *o) {
  struct wp_rt *rt = &RT;
  char err[2048];
  const char *cmdname = NULL;
  int is_list = 0;
  if (!o->exec && o->argc > 0) {
    if (strcmp(o->argv[0], "list") == 0)
      is_list = 1;
    else
      cmdname = o->argv[0];
  }
  int interactive = o->exec || cmdname;
  if ((interactive || is_list) && !o->log_flag) o->silent = 1;
  wp_log_setup(o->verbose ? WP_LOG_DEBUG : WP_LOG_INFO, o->console, o->silent);

  /* configuration */
  CONFIG = wp_config_load(o->config ? o->config : ".wippy.yaml", o->config != NULL, err,
                              sizeof err);
  if (!CONFIG) die("%s", err);
  for (int i = 0; i < o->nsets; i++)
    if (wp_config_set(CONFIG, o->sets[i], err, sizeof err)) die("--set %s: %s", o->sets[i], err);
  const char *enc = o->log_format ? o->log_format
                                  : wp_config_str(CONFIG, "logger.encoding", "console");
  if (strcmp(enc, "json") != 0 && strcmp(enc, "console") != 0)
    die("%s: the log encoding is console or json, not \"%s\"",
        o->log_format ? "--log-format" : "logger.encoding", enc);
  wp_log_set_json(enc[0] == 'j');
  if (wp_config_duration(CONFIG, "shutdown.exec_grace", 500000000LL, &rt->exec_grace_ns,
                         err, sizeof err) ||
      wp_config_duration(CONFIG, "shutdown.timeout", 30000000000LL,
                         &rt->shutdown_timeout_ns, err, sizeof err) ||
      wp_config_size(CONFIG, "process.memory_limit", o->config ? o->config : ".wippy.yaml",
                     0, &rt->mem_limit, rt->mem_limit_text, sizeof rt->mem_limit_text, err,
                     sizeof err))
    die("%s", err);
  struct wp_cluster_config cluster_cfg;
  int clustered = cluster_config(o, o->config ? o->config : ".wippy.yaml", &cluster_cfg);
  if (o->memory_limit) {
    if (wp_config_parse_size(o->memory_limit, strlen(o->memory_limit), &rt->mem_total_limit))
      die("--memory-limit %s: not a size (write bytes or a number with K, M or G, such as 1G)",
          o->memory_limit);
    snprintf(rt->mem_total_text, sizeof rt->mem_total_text, "%s", o->memory_limit);
  }

  /* entries */
  struct stat st;
  if (stat("wippy.lock", &st) != 0) {
    wp_logf(WP_LOG_WARN, "no lock file found, starting with empty registry");
  } else {
    char *src = NULL, *mods = NULL;
    if (wp_lock_read("wippy.lock", &src, &mods, err, sizeof err)) die("%s", err);
    if (stat(src, &st) != 0 || !S_ISDIR(st.st_mode))
      die("source directory %s (directories.src in wippy.lock) does not exist; create it or "
          "fix wippy.lock", src);
    if (wp_entries_load(&ENTRIES, src, err, sizeof err)) die("%s", err);
    wp_free(src);
    wp_free(mods);
  }
  const struct wp_node *ov = wp_node_get(CONFIG, "override");
  for (size_t i = 0; ov && ov->type == WP_NODE_MAP && i < ov->u.map.n; i++) {
    struct wp_node *v = wp_node_clone(ov->u.map.vals[i]);
    if (!v || wp_config_override(&ENTRIES, ov->u.map.keys[i], v, err, sizeof err))
      die("%s", err);
  }
  for (int i = 0; i < o->noverrides; i++)
    if (wp_config_override_arg(&ENTRIES, o->overrides[i], err, sizeof err)) die("%s", err);
  if (is_list) return cmd_list(rt);
  regview_build(rt);
  if (wp_env_init(rt, err, sizeof err)) die("%s", err);
  wp_modules_init(rt); /* before compiling: wp_code_scan asks it for modules */
  if (wp_codes_build(rt, &ENTRIES, err, sizeof err)) die("%s", err);
  for (size_t i = 0; i < ENTRIES.n; i++) {
    struct wp_entry *e = ENTRIES.v[i];
    if (!known_kind(e->kind))
      wp_logf(WP_LOG_WARN, "%s:%d: entry %s has kind %s, which this runtime does not run",
              e->file, e->line, e->id, e->kind);
  }
  if (wp_services_load(rt, &ENTRIES, err, sizeof err)) die("%s", err);

  struct wp_code *xcode = NULL;
  struct wp_host *xhost = NULL;
  if (cmdname) {
    struct wp_entry *e = find_command(rt, cmdname);
    if (!e) die("command \"%s\" not found. Use 'wippy run list' to see available commands", cmdname);
    resolve_exec(rt, e->id, o->host, &xcode, &xhost);
  } else if (o->exec) {
    resolve_exec(rt, o->exec, o->host, &xcode, &xhost);
  }

  /* The cluster: joined before anything runs (the node's pids carry its
  ** name and start from its incarnation), after everything that can fail
  ** on the application's own files. */
  if (clustered) {
    CLUSTER = wp_cluster_join(&cluster_cfg, err, sizeof err);
    if (!CLUSTER) die("%s", err);
    if (wp_rt_set_node(rt, cluster_cfg.name)) die("out of memory");
    rt->node_addr = wp_cluster_addr(CLUSTER);
  }

  /* runtime */
  if (wp_stdlib_capture()) die("cannot initialise Lua: out of memory");
  pthread_mutex_init(&rt->lock, NULL);
  pthread_cond_init(&rt->cond, NULL);
  int workers = o->workers ? o->workers : env_workers(CONFIG);
  rt->sched = wp_sched_new(workers, &wp_vm_ops, rt);
  if (!rt->sched) die("cannot create the scheduler: out of memory");
  rt->pg = wp_pg_new(rt); /* process groups: node-wide standalone */
  if (!rt->pg) die("out of memory");
  /* A pid counter per life of the node's name: 2^36 pids to each of 2^28
  ** incarnations, none repeating an earlier life's (spec 08 §3: 16 digits). */
  if (CLUSTER)
    wp_ptab_seed_counter(wp_sched_ptab(rt->sched), wp_cluster_incarnation(CLUSTER) << 36);
  if (CLUSTER) { /* before any process runs: the pids of other nodes go there */
    rt->remote = wp_remote_new();
    if (!rt->remote) die("out of memory");
    wp_cluster_on_down(CLUSTER, remote_down, rt);
    if (wp_cluster_start_transport(CLUSTER, remote_deliver, rt, err, sizeof err)) die("%s", err);
    rt->remote_send = remote_send;
    wp_sched_set_flush(rt->sched, remote_flush, CLUSTER);
    /* the replica of the cluster's names is loaded before any process
    ** runs: a first lookup already sees them */
    if (wp_cli_names_start(rt, CLUSTER, err, sizeof err)) die("%s", err);
    /* so is the replica of the other nodes' group members */
    if (wp_cli_pg_start(rt, CLUSTER, err, sizeof err)) die("%s", err);
  }
  pthread_t sigthr;
  pthread_create(&sigthr, NULL, signal_main, NULL);
  pthread_detach(sigthr);
  if (wp_terminal_start(rt)) die("cannot start the terminal thread");
  /* idle workers wait on the cluster's socket (not with TLS; off with
  ** WIPPY_CLUSTER_LEND=0, to compare) */
  const char *lend = getenv("WIPPY_CLUSTER_LEND");
  if (CLUSTER && !(lend && strcmp(lend, "0") == 0) &&
      wp_cluster_lend(CLUSTER, sched_all_parked, rt->sched) == 0) {
    struct wp_sched_park park = {wp_cluster_park_wait, wp_cluster_park_wake,
                                 wp_cluster_park_ready, wp_cluster_park_tick, CLUSTER};
    wp_sched_set_park(rt->sched, &park);
  }
  if (wp_sched_start(rt->sched)) die("cannot start worker threads: %s", strerror(errno));
  /* Prometheus: --metrics, or prometheus.enabled with prometheus.address;
  ** off by default. An address that cannot be served is a boot error: the
  ** user asked for it, and a scraper would otherwise see nothing. */
  struct wp_prom *prom = NULL;
  {
    const char *maddr = o->metrics;
    if (!maddr && wp_config_bool(CONFIG, "prometheus.enabled", 0))
      maddr = wp_config_str(CONFIG, "prometheus.address", "localhost:9090");
    if (maddr) {
      prom = wp_prom_start(rt, maddr, err, sizeof err);
      if (!prom) die("%s", err);
      wp_logf(WP_LOG_INFO, "metrics at http://%s/metrics", maddr);
    }
  }
  /* the control endpoint (wippy top, wippy inspect): a warning, never a
  ** failed run, when it cannot open; control.enabled: false keeps it shut */
  struct wp_control *control =
      wp_config_bool(CONFIG, "control.enabled", 1)
          ? wp_control_start(rt, CLUSTER ? cluster_cfg.name : NULL)
          : NULL;
  wp_logf(WP_LOG_INFO, "starting runtime (%d workers, %s)", wp_sched_workers(rt->sched),
          wp_alloc_name());
  wp_services_start(rt);
  wp_logf(WP_LOG_INFO, "runtime ready");
#ifdef WIPPY_FAULTS
  const char *fail_spec = getenv("WIPPY_FAIL_ALLOC");
  if (fail_spec) arm_faults(fail_spec);
#endif

  if (xcode) {
    wp_host_start(rt, xhost);
    struct wp_proc *child;
    const char *msg;
    int argc = cmdname ? o->argc - 1 : o->argc;
    char **argv = cmdname ? o->argv + 1 : o->argv;
    if (wp_rt_spawn_cli(rt, xcode, xhost, argc, argv, &child, &msg)) die("%s", msg);
    rt->terminal_counter = child->counter;
    wp_proc_release(child);
  }

  /* main loop: restarts, until a shutdown trigger */
  int purged = 0;
  pthread_mutex_lock(&rt->lock);
  while (!rt->shutdown) {
    int64_t next = wp_services_tick(rt);
    if (rt->shutdown) break;
    /* Once per idle spell (at most a second after the node went idle), the
    ** allocator hands back the pages that processes which ended (a peak of
    ** workers) left in its caches: nothing else would while nothing
    ** allocates. Under load it keeps them for reuse. */
    if (!wp_sched_idle(rt->sched)) {
      purged = 0;
    } else if (!purged) {
      purged = 1;
      pthread_mutex_unlock(&rt->lock);
      wp_alloc_release();
      pthread_mutex_lock(&rt->lock);
      continue; /* tick again: a service event may have come meanwhile */
    }
    /* one wait: a service event or a signal wakes us to tick again */
    int64_t now = (int64_t)wp_clock_ns();
    int64_t step = (next == INT64_MAX ? now + 1000000000LL : next) - now;
    if (step > 0) {
      struct timespec ts;
      wp_clock_deadline(CLOCK_REALTIME, step, &ts);
      pthread_cond_timedwait(&rt->cond, &rt->lock, &ts);
    }
  }
  int by_signal = !rt->terminal_done;
  if (by_signal && xcode) {
    /* Ctrl+C during -x: the terminal process gets CANCEL and its read returns
    ** nil; it ends on its own (its result is the exit code) or is cut off. */
    struct wp_proc *tp = wp_ptab_get_counter(wp_sched_ptab(rt->sched), rt->terminal_counter);
    if (tp) {
      cancel_one(tp, NULL);
      wp_proc_release(tp);
    }
    if (!wait_until(rt, terminal_ended, (int64_t)wp_clock_ns() + rt->shutdown_timeout_ns)) {
      tp = wp_ptab_get_counter(wp_sched_ptab(rt->sched), rt->terminal_counter);
      if (tp) {
        wp_proc_kill(tp, WP_KILL_SHUTDOWN);
        wp_proc_release(tp);
      }
      wait_until(rt, terminal_ended, (int64_t)wp_clock_ns() + 2000000000LL);
    }
    by_signal = 0;
  }
  pthread_mutex_unlock(&rt->lock);
  if (by_signal) {
    /* services in reverse dependency order, each bounded by its stop_timeout,
    ** all bounded by shutdown.timeout (spec 06 §5) */
    if (wp_services_stop(rt, (int64_t)wp_clock_ns() + rt->shutdown_timeout_ns) != 0) {
      wp_log(WP_LOG_ERROR, NULL, "shutdown timeout: terminating what is left", NULL);
      rt->exit_code = 1;
    }
    shutdown_all(rt, 0);
  } else {
    shutdown_all(rt, rt->exec_grace_ns);
  }
  int code = rt->exit_code;
#ifdef WIPPY_FAULTS
  if (fail_spec) {
    uint64_t failed, n = wp_alloc_counted(&failed);
    fprintf(stderr, "alloc faults: %llu allocations, %llu failed\n", (unsigned long long)n,
            (unsigned long long)failed);
  }
#endif
  wp_logf(WP_LOG_INFO, "stopped");
  wp_control_stop(control); /* it reads the scheduler: before that stops */
  wp_prom_stop(prom);
  /* what processes sent to other nodes goes out; nothing is delivered
  ** here any more */
  wp_cluster_stop_transport(CLUSTER);
  wp_terminal_stop();
  wp_sched_stop(rt->sched);
  wp_cluster_unlend(CLUSTER); /* the I/O thread drives the socket again */
  wp_cluster_leave(CLUSTER); /* no process runs: the name is free at once */
  wp_remote_free(rt->remote);
  wp_pg_free(rt->pg);
  wp_sched_free(rt->sched);
  wp_services_free(rt);
  wp_code_free_all(rt);
  wp_rt_free_node(rt);
  free(g_url_text);
  wp_env_free(rt);
  wp_free((void *)REGVIEW.v);
  wp_entries_free(&ENTRIES);
  wp_node_free(CONFIG);
  fflush(NULL);
  return code;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  sigemptyset(&g_sigs);
  sigaddset(&g_sigs, SIGINT);
  sigaddset(&g_sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &g_sigs, NULL);

  int i = 1;
  /* global flags may come before the command */
  while (i < argc && argv[i][0] == '-') {
    if (strcmp(argv[i], "--version") == 0) {
      printf("wippy %s (Lua 5.4, %s)\n", WIPPY_VERSION, wp_alloc_name());
      return 0;
    }
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    }
    break;
  }
  struct opts o;
  memset(&o, 0, sizeof o);
  if (argc < 2) {
    usage(stderr);
    return 1;
  }
  /* find the command word, skipping leading global flags */
  int cmd = 1;
  while (cmd < argc && argv[cmd][0] == '-') {
    if (strcmp(argv[cmd], "--config") == 0 || strcmp(argv[cmd], "-m") == 0 ||
        strcmp(argv[cmd], "--memory-limit") == 0 || strcmp(argv[cmd], "--node") == 0 ||
        strcmp(argv[cmd], "--cluster") == 0 || strcmp(argv[cmd], "--log-format") == 0)
      cmd++; /* skip the flag's value */
    cmd++;
  }
  if (cmd >= argc) {
    parse(argc, argv, 1, &o); /* an unknown flag is the better message */
    die("no command given (see wippy --help)");
  }
  const char *c = argv[cmd];
  /* flags before the command */
  char **rest = malloc(sizeof(char *) * (size_t)(argc + 1));
  if (!rest) die("out of memory");
  int n = 0;
  rest[n++] = argv[0];
  for (int k = 1; k < argc; k++)
    if (k != cmd) rest[n++] = argv[k];
  rest[n] = NULL;
  if (strcmp(c, "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(c, "top") == 0 || strcmp(c, "inspect") == 0) { /* flags of their own */
    int rc = c[0] == 't' ? wp_top_main(n - 1, rest + 1) : wp_inspect_main(n - 1, rest + 1);
    free(rest);
    return rc;
  }
  if (strcmp(c, "version") == 0) {
    printf("wippy %s (Lua 5.4, %s)\n", WIPPY_VERSION, wp_alloc_name());
    return 0;
  }
  parse(n, rest, 1, &o);
  int rc;
  if (strcmp(c, "init") == 0) {
    if (o.argc) die("init takes no arguments");
    rc = cmd_init(&o);
  } else if (strcmp(c, "run") == 0) {
    rc = cmd_run(&o);
  } else {
    die("unknown command \"%s\" (see wippy --help)", c);
  }
  free(o.sets);
  free(o.overrides);
  free(o.argv);
  free(rest);
  return rc;
}
