/*
** top.c: `wippy top`, a live view of a running node through its control
** endpoint (control.h, docs/control.md).
**
** On a terminal it is an ncurses screen refreshed every second (or
** --interval): the node's header (workers, processes by state and host,
** rates, memory, services) and the processes ranked by memory, mailbox or
** CPU time (m, b, c; s cycles), a selection moved with the arrow keys,
** Enter to inspect the selected process, q to quit; it lays itself out
** again when the terminal is resized. When stdout is not a terminal, or
** with --once, the same view is printed as plain text; --json prints the
** node's snapshot as it sent it (one JSON object per line). The client
** asks, the node answers: the client never decides what the numbers mean.
*/
#include <curses.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "control.h"
#include "node.h"
#include "yamltree.h"

#define TIMEOUT_MS 10000 /* for one answer */

struct top_opts {
  const char *socket, *node;
  int once, json, sort, rows, iterations;
  int interval_ms;
};

static const char *const sort_names[] = {"mem", "mailbox", "cpu"};

static void usage(FILE *f) {
  fputs("Usage: wippy top [--once] [--json] [--socket PATH | --node NAME]\n"
        "                 [--sort mem|mailbox|cpu] [--rows N] [-n N] [--interval SECONDS]\n"
        "\n"
        "A live view of the running node of this project (the directory with\n"
        "wippy.lock, or one up from here). Keys: m/b/c sort by memory, mailbox\n"
        "or CPU time (s cycles), arrows move, Enter inspects, q quits.\n"
        "\n"
        "  --once          print one snapshot and exit (plain text, or --json)\n"
        "  --json          the node's snapshot as JSON, one object per line\n"
        "  --socket PATH   the node's control socket\n"
        "  --node NAME     the project's node named NAME (when several run)\n"
        "  --sort KEY      rank processes by mem (default), mailbox or cpu\n"
        "  --rows N        processes listed in plain text and JSON (default 20)\n"
        "  -n N            stop after N refreshes\n"
        "  --interval S    seconds between refreshes (default 1)\n",
        f);
}

static int die_usage(const char *fmt, const char *a) {
  fputs("Error: ", stderr);
  fprintf(stderr, fmt, a);
  fputs(" (see wippy top --help)\n", stderr);
  return 1;
}

/* ---- values out of the snapshot ---- */

static double numv(const struct wp_node *v) {
  if (!v) return 0;
  return v->type == WP_NODE_INT ? (double)v->u.i : v->type == WP_NODE_FLOAT ? v->u.f : 0;
}

static double num(const struct wp_node *n, const char *path) { return numv(wp_node_path(n, path)); }

static const char *str(const struct wp_node *n, const char *path) {
  const char *s = wp_node_str(wp_node_path(n, path));
  return s ? s : "";
}

static void fmt_bytes(char *out, size_t cap, double b) {
  static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int i = 0;
  while (b >= 1024 && i < 4) b /= 1024, i++;
  snprintf(out, cap, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

static void fmt_uptime(char *out, size_t cap, double s) {
  long t = (long)s;
  if (t >= 86400)
    snprintf(out, cap, "%ldd %02ld:%02ld:%02ld", t / 86400, t / 3600 % 24, t / 60 % 60, t % 60);
  else
    snprintf(out, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

/* ---- the view as lines (plain text and the screen share it) ---- */

struct lines {
  char **v;
  int n, cap;
  int table; /* index of the first process row, -1: none */
  int width;
};

static void lines_free(struct lines *l) {
  for (int i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

static void add(struct lines *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct lines *l, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if ((int)strlen(buf) > l->width) buf[l->width > 0 ? l->width : 0] = '\0';
  if (l->n == l->cap) {
    int cap = l->cap ? l->cap * 2 : 32;
    char **v = realloc(l->v, (size_t)cap * sizeof *v);
    if (!v) return;
    l->v = v;
    l->cap = cap;
  }
  char *s = strdup(buf);
  if (s) l->v[l->n++] = s;
}

/* Items after a label, as many per line as the width allows. */
struct wrap {
  struct lines *l;
  char cur[1024];
  size_t indent;
};

static void wrap_start(struct wrap *w, struct lines *l, const char *label) {
  w->l = l;
  snprintf(w->cur, sizeof w->cur, "%s ", label);
  w->indent = strlen(w->cur);
}

static void wrap_item(struct wrap *w, const char *item) {
  size_t cl = strlen(w->cur), il = strlen(item);
  if (cl > w->indent && cl + 2 + il > (size_t)w->l->width) {
    add(w->l, "%s", w->cur);
    snprintf(w->cur, sizeof w->cur, "%*s", (int)w->indent, "");
    cl = w->indent;
  }
  snprintf(w->cur + cl, sizeof w->cur - cl, "%s%s", cl > w->indent ? "  " : "", item);
}

static void wrap_end(struct wrap *w) { add(w->l, "%s", w->cur); }

static void build(const struct wp_node *s, int sort, struct lines *l) {
  char up[64], b1[32], b2[32], item[256];
  fmt_uptime(up, sizeof up, num(s, "uptime_s"));
  add(l, "wippy top - node %s (pid %.0f) - up %s - sort: %s", str(s, "node"), num(s, "pid"), up,
      sort_names[sort]);
  struct wrap w;
  const struct wp_node *ws = wp_node_get(s, "workers");
  size_t nw = ws && ws->type == WP_NODE_SEQ ? ws->u.seq.n : 0, spares = 0;
  for (size_t i = 0; i < nw; i++) {
    const struct wp_node *sp = wp_node_get(ws->u.seq.items[i], "spare");
    spares += sp && sp->type == WP_NODE_BOOL && sp->u.b;
  }
  if (spares) /* threads started beside workers stuck in a C call */
    snprintf(item, sizeof item, "workers %zu (+%zu spare):", nw - spares, spares);
  else
    snprintf(item, sizeof item, "workers %zu:", nw);
  wrap_start(&w, l, item);
  for (size_t i = 0; i < nw; i++) {
    const struct wp_node *x = ws->u.seq.items[i];
    const struct wp_node *sp = wp_node_get(x, "spare");
    snprintf(item, sizeof item, "#%.0f%s runq %.0f util %3.0f%%", num(x, "id"),
             sp && sp->type == WP_NODE_BOOL && sp->u.b ? "*" : "", num(x, "runq"),
             num(x, "util") * 100);
    wrap_item(&w, item);
  }
  wrap_end(&w);
  add(l, "processes: %.0f  waiting %.0f  runnable %.0f  running %.0f  exited %.0f",
      num(s, "processes.total"), num(s, "processes.by_state.waiting"),
      num(s, "processes.by_state.runnable"), num(s, "processes.by_state.running"),
      num(s, "processes.by_state.exited"));
  const struct wp_node *bh = wp_node_path(s, "processes.by_host");
  wrap_start(&w, l, "hosts:");
  for (size_t i = 0; bh && bh->type == WP_NODE_MAP && i < bh->u.map.n; i++) {
    snprintf(item, sizeof item, "%s %.0f", bh->u.map.keys[i], numv(bh->u.map.vals[i]));
    wrap_item(&w, item);
  }
  wrap_end(&w);
  add(l, "rates: spawns %.1f/s  exits %.1f/s  msgs %.1f/s", num(s, "rates.spawns_per_s"),
      num(s, "rates.exits_per_s"), num(s, "rates.msgs_per_s"));
  fmt_bytes(b1, sizeof b1, num(s, "memory.rss_bytes"));
  fmt_bytes(b2, sizeof b2, num(s, "memory.process_bytes"));
  add(l, "memory: rss %s  processes %s", b1, b2);
  const struct wp_node *sv = wp_node_get(s, "services");
  wrap_start(&w, l, "services:");
  for (size_t i = 0; sv && sv->type == WP_NODE_SEQ && i < sv->u.seq.n; i++) {
    const struct wp_node *x = sv->u.seq.items[i];
    if (strcmp(str(x, "kind"), "host") == 0) continue;
    double r = num(x, "restarts");
    snprintf(item, sizeof item, "%s %s (%.0f restart%s)", str(x, "id"), str(x, "state"), r,
             r == 1 ? "" : "s");
    wrap_item(&w, item);
  }
  wrap_end(&w);
  add(l, "%s", "");
  /* the table: the pid and entry columns take what the numbers leave */
  const struct wp_node *top = wp_node_get(s, "top");
  size_t nt = top && top->type == WP_NODE_SEQ ? top->u.seq.n : 0;
  int pw = 5, ew = 5, hw = 4;
  for (size_t i = 0; i < nt; i++) {
    const struct wp_node *x = top->u.seq.items[i];
    int a = (int)strlen(str(x, "pid")), b = (int)strlen(str(x, "entry")),
        c = (int)strlen(str(x, "host"));
    pw = a > pw ? a : pw;
    ew = b > ew ? b : ew;
    hw = c > hw ? c : hw;
  }
  /* STATE MEM MAILBOX CPU and the gaps; on a narrow terminal the host
  ** column goes first, then the entry and pid columns shrink */
  int fixed = 9 + 1 + 10 + 1 + 8 + 1 + 10 + 3;
  int room = l->width - fixed;
  if (pw + ew + hw > room) {
    hw = 0;
    room += 1;
  }
  while (pw + ew + hw > room && (ew > 10 || pw > 14)) {
    if (ew > 10 && (ew >= pw || pw <= 14)) ew--;
    else pw--;
  }
  const char *hgap = hw ? " " : "";
  add(l, "%-*s %-*s%s%-*s %-9s %10s %8s %10s", pw, "PID", ew, "ENTRY", hgap, hw, hw ? "HOST" : "",
      "STATE", "MEM", "MAILBOX", "CPU ms");
  l->table = l->n;
  for (size_t i = 0; i < nt; i++) {
    const struct wp_node *x = top->u.seq.items[i];
    fmt_bytes(b1, sizeof b1, num(x, "mem_bytes"));
    /* a pid cut short keeps its end, where processes differ */
    const char *pid = str(x, "pid");
    size_t plen = strlen(pid);
    char pbuf[256];
    if ((int)plen > pw && pw > 2) {
      snprintf(pbuf, sizeof pbuf, "..%s", pid + plen - (size_t)(pw - 2));
      pid = pbuf;
    }
    add(l, "%-*.*s %-*.*s%s%-*.*s %-9s %10s %8.0f %10.1f", pw, pw, pid, ew, ew,
        str(x, "entry"), hgap, hw, hw, str(x, "host"), str(x, "state"), b1, num(x, "mailbox"),
        num(x, "cpu_ms"));
  }
}

/* ---- talking to the node ---- */

struct conn {
  int fd;
  char err[512];
};

static char *ask(struct conn *c, const char *req) {
  char *a = wp_ctlc_request(c->fd, req, TIMEOUT_MS, c->err, sizeof c->err);
  return a;
}

/* The answer as a tree, or NULL with the reason in c->err (the node's
** error when it says ok: false). */
static struct wp_node *parse(struct conn *c, const char *a) {
  char perr[256];
  struct wp_node *n = wp_yaml_load_mem("answer", a, strlen(a), perr, sizeof perr);
  if (!n || n->type != WP_NODE_MAP) {
    snprintf(c->err, sizeof c->err, "the node's answer is not JSON: %s", n ? "not an object" : perr);
    wp_node_free(n);
    return NULL;
  }
  const struct wp_node *ok = wp_node_get(n, "ok");
  if (!ok || ok->type != WP_NODE_BOOL || !ok->u.b) {
    const char *e = wp_node_str(wp_node_get(n, "error"));
    snprintf(c->err, sizeof c->err, "%s", e ? e : "the node answered ok: false");
    wp_node_free(n);
    return NULL;
  }
  return n;
}

static void snapshot_req(char *out, size_t cap, int rows, int sort) {
  snprintf(out, cap, "snapshot top=%d sort=%s", rows, sort_names[sort]);
}

/* ---- plain text and JSON ---- */

static int run_plain(struct top_opts *o, struct conn *c) {
  int width = 200;
  const char *cols = getenv("COLUMNS");
  if (cols && atoi(cols) >= 40) width = atoi(cols);
  for (int i = 0; o->iterations <= 0 || i < o->iterations; i++) {
    if (i) {
      struct timespec ts = {o->interval_ms / 1000, (long)(o->interval_ms % 1000) * 1000000L};
      nanosleep(&ts, NULL); /* the refresh interval: what top is for */
    }
    char req[64];
    snapshot_req(req, sizeof req, o->rows, o->sort);
    char *a = ask(c, req);
    if (!a) return -1;
    if (o->json) {
      struct wp_node *n = parse(c, a);
      if (!n) {
        free(a);
        return -1;
      }
      wp_node_free(n);
      printf("%s\n", a);
    } else {
      struct wp_node *n = parse(c, a);
      if (!n) {
        free(a);
        return -1;
      }
      struct lines l = {NULL, 0, 0, -1, width};
      build(n, o->sort, &l);
      if (i) putchar('\n');
      for (int k = 0; k < l.n; k++) printf("%s\n", l.v[k]);
      lines_free(&l);
      wp_node_free(n);
    }
    free(a);
    if (fflush(stdout) != 0) return 0; /* the reader went away */
    if (o->once) break;
  }
  return 0;
}

/* ---- the screen ---- */

/* Shows the inspection of pid until a key is pressed. */
static void show_inspect(struct conn *c, const char *pid) {
  char req[WP_CONTROL_LINE_MAX];
  snprintf(req, sizeof req, "inspect %s", pid);
  char *a = ask(c, req);
  struct wp_node *n = a ? parse(c, a) : NULL;
  free(a);
  erase();
  int y = 0;
  mvprintw(y++, 0, "inspect %s", pid);
  y++;
  if (!n) {
    mvprintw(y++, 0, "%s", c->err);
  } else {
    static const char *const keys[] = {"entry", "host", "state", "blocked_in", "mailbox",
                                       "mem_bytes", "cpu_ms", "service", "names", "links",
                                       "monitors", "monitored_by"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0] && y < LINES - 2; k++) {
      const struct wp_node *v = wp_node_get(n, keys[k]);
      char val[512] = "-";
      if (v && v->type == WP_NODE_STR) snprintf(val, sizeof val, "%s", v->u.str.s);
      if (v && (v->type == WP_NODE_INT || v->type == WP_NODE_FLOAT)) snprintf(val, sizeof val, "%g", numv(v));
      if (v && v->type == WP_NODE_SEQ) {
        size_t off = 0;
        val[0] = '\0';
        for (size_t i = 0; i < v->u.seq.n && off < sizeof val; i++)
          off += (size_t)snprintf(val + off, sizeof val - off, "%s%s", i ? " " : "",
                                  wp_node_str(v->u.seq.items[i]) ? wp_node_str(v->u.seq.items[i]) : "");
        if (!v->u.seq.n) snprintf(val, sizeof val, "-");
      }
      mvprintw(y++, 0, "%-13s %.*s", keys[k], COLS > 14 ? COLS - 14 : 0, val);
    }
  }
  mvprintw(LINES - 1, 0, "any key: back");
  refresh();
  wp_node_free(n);
  timeout(-1);
  getch();
}

static void draw(const struct wp_node *s, int sort, int *sel, int *scroll, const char *status) {
  erase();
  struct lines l = {NULL, 0, 0, -1, COLS};
  if (s) build(s, sort, &l);
  int rows = l.table >= 0 ? l.n - l.table : 0;
  if (*sel >= rows) *sel = rows - 1;
  if (*sel < 0) *sel = 0;
  int room = LINES - 1 - (l.table >= 0 ? l.table : 0); /* the last line: keys */
  if (room < 1) room = 1;
  if (*sel < *scroll) *scroll = *sel;
  if (*sel >= *scroll + room) *scroll = *sel - room + 1;
  int y = 0;
  for (int i = 0; i < (l.table >= 0 ? l.table : l.n) && y < LINES - 1; i++)
    mvaddnstr(y++, 0, l.v[i], COLS);
  for (int r = *scroll; r < rows && y < LINES - 1; r++) {
    if (r == *sel) attron(A_REVERSE);
    mvaddnstr(y, 0, l.v[l.table + r], COLS);
    if (r == *sel) {
      for (int x = (int)strlen(l.v[l.table + r]); x < COLS; x++) addch(' ');
      attroff(A_REVERSE);
    }
    y++;
  }
  attron(A_BOLD);
  mvaddnstr(LINES - 1, 0,
            status && status[0] ? status
                                : "m/b/c sort by mem/mailbox/cpu  arrows move  Enter inspect  q quit",
            COLS);
  attroff(A_BOLD);
  refresh();
  lines_free(&l);
}

/* The pid of the selected row of snapshot s, or NULL. */
static const char *selected_pid(const struct wp_node *s, int sel) {
  const struct wp_node *top = wp_node_get(s, "top");
  if (!top || top->type != WP_NODE_SEQ || sel < 0 || (size_t)sel >= top->u.seq.n) return NULL;
  const char *p = wp_node_str(wp_node_get(top->u.seq.items[sel], "pid"));
  return p && p[0] ? p : NULL;
}

static int run_screen(struct top_opts *o, struct conn *c) {
  initscr();
  cbreak();
  noecho();
  keypad(stdscr, TRUE);
  curs_set(0);
  struct wp_node *snap = NULL;
  int sel = 0, scroll = 0, rc = 0, count = 0, sort = o->sort;
  uint64_t next = 0;
  for (;;) {
    uint64_t now = wp_clock_ns();
    if (now >= next) {
      if (o->iterations > 0 && count++ == o->iterations) break;
      char req[64];
      int rows = LINES > 20 ? LINES : 20;
      snapshot_req(req, sizeof req, rows > 1000 ? 1000 : rows, sort);
      char *a = ask(c, req);
      struct wp_node *n = a ? parse(c, a) : NULL;
      free(a);
      if (!n) {
        rc = -1;
        break;
      }
      wp_node_free(snap);
      snap = n;
      next = now + (uint64_t)o->interval_ms * 1000000u;
    }
    draw(snap, sort, &sel, &scroll, NULL);
    uint64_t left = (next - wp_clock_ns()) / 1000000u;
    timeout(next > wp_clock_ns() ? (int)left + 1 : 0);
    int ch = getch();
    if (ch == 'q' || ch == 'Q') break;
    switch (ch) {
      case KEY_UP: case 'k': sel--; break;
      case KEY_DOWN: case 'j': sel++; break;
      case KEY_PPAGE: sel -= LINES / 2; break;
      case KEY_NPAGE: sel += LINES / 2; break;
      case KEY_HOME: case 'g': sel = 0; break;
      case KEY_END: case 'G': sel = 1 << 20; break;
      case 'm': case 'M': sort = 0; next = 0; break;
      case 'b': case 'B': sort = 1; next = 0; break;
      case 'c': case 'C': sort = 2; next = 0; break;
      case 's': case 'S': sort = (sort + 1) % 3; next = 0; break;
      case '\n': case '\r': case KEY_ENTER: {
        const char *pid = selected_pid(snap, sel);
        if (pid) {
          show_inspect(c, pid);
          if (!c->err[0] || strstr(c->err, "ended")) c->err[0] = '\0';
        }
        break;
      }
      default: break; /* KEY_RESIZE: the next draw uses the new size */
    }
  }
  endwin();
  wp_node_free(snap);
  return rc;
}

int wp_top_main(int argc, char **argv) {
  struct top_opts o = {NULL, NULL, 0, 0, 0, 20, 0, 1000};
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *v = NULL;
    const char *eq = strchr(a, '=');
    size_t kl = eq && a[0] == '-' && a[1] == '-' ? (size_t)(eq - a) : strlen(a);
#define FLAG(s) (strlen(s) == kl && strncmp(a, s, kl) == 0)
#define VALUE()                                                           \
  do {                                                                    \
    if (eq && a[1] == '-') v = eq + 1;                                    \
    else if (i + 1 < argc) v = argv[++i];                                 \
    else return die_usage("flag %s needs a value", a);                    \
  } while (0)
    if (FLAG("-h") || FLAG("--help")) {
      usage(stdout);
      return 0;
    } else if (FLAG("--once")) {
      o.once = 1;
    } else if (FLAG("--json")) {
      o.json = 1;
    } else if (FLAG("--socket")) {
      VALUE();
      o.socket = v;
    } else if (FLAG("--node")) {
      VALUE();
      o.node = v;
    } else if (FLAG("--sort")) {
      VALUE();
      o.sort = -1;
      for (int k = 0; k < 3; k++)
        if (strcmp(v, sort_names[k]) == 0) o.sort = k;
      if (o.sort < 0) return die_usage("--sort takes mem, mailbox or cpu, not %s", v);
    } else if (FLAG("--rows")) {
      VALUE();
      o.rows = atoi(v);
      if (o.rows < 0 || o.rows > 1000) return die_usage("--rows takes 0 to 1000, not %s", v);
    } else if (FLAG("-n") || FLAG("--iterations")) {
      VALUE();
      o.iterations = atoi(v);
      if (o.iterations <= 0) return die_usage("-n takes a positive number, not %s", v);
    } else if (FLAG("--interval")) {
      VALUE();
      double s = atof(v);
      if (!(s >= 0.1 && s <= 3600)) return die_usage("--interval takes 0.1 to 3600 seconds, not %s", v);
      o.interval_ms = (int)(s * 1000);
    } else {
      return die_usage("unknown argument %s", a);
    }
#undef FLAG
#undef VALUE
  }
  char path[256];
  struct conn c = {-1, ""};
  if (wp_ctlc_find(o.socket, o.node, path, sizeof path, c.err, sizeof c.err) != 0 ||
      (c.fd = wp_ctlc_connect(path, c.err, sizeof c.err)) < 0) {
    fprintf(stderr, "Error: %s\n", c.err);
    return 1;
  }
  int rc = o.once || o.json || !isatty(1) ? run_plain(&o, &c) : run_screen(&o, &c);
  close(c.fd);
  if (rc) fprintf(stderr, "Error: %s\n", c.err);
  return rc ? 1 : 0;
}
