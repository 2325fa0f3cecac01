/*
** inspect.c: `wippy inspect PID|NAME`, one process of a running node
** through its control endpoint (control.h, docs/control.md): entry, host,
** state and the call it is blocked in, mailbox, memory, CPU time, links,
** monitors both ways, names, its service. --json prints the node's answer
** as it came. A process that has ended, or a name nobody holds, is an
** error (exit 1).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "node.h"
#include "yamltree.h"

static void usage(FILE *f) {
  fputs("Usage: wippy inspect PID|NAME [--json] [--socket PATH | --node NAME]\n"
        "\n"
        "One process of the running node of this project: its entry, host, state\n"
        "(and the call it is blocked in), mailbox, memory, CPU time, links,\n"
        "monitors, names and service.\n",
        f);
}

static void fmt_bytes(char *out, size_t cap, double b) {
  static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int i = 0;
  while (b >= 1024 && i < 4) b /= 1024, i++;
  snprintf(out, cap, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

static double num(const struct wp_node *n, const char *key) {
  const struct wp_node *v = wp_node_get(n, key);
  return !v ? 0 : v->type == WP_NODE_INT ? (double)v->u.i : v->type == WP_NODE_FLOAT ? v->u.f : 0;
}

static void list(const struct wp_node *n, const char *key, const char *label) {
  const struct wp_node *v = wp_node_get(n, key);
  printf("%-13s", label);
  if (!v || v->type != WP_NODE_SEQ || v->u.seq.n == 0) {
    printf(" -\n");
    return;
  }
  for (size_t i = 0; i < v->u.seq.n; i++) {
    const char *s = wp_node_str(v->u.seq.items[i]);
    printf(" %s", s ? s : "?");
  }
  printf("\n");
}

static int fail(const char *msg) {
  fprintf(stderr, "Error: %s\n", msg);
  return 1;
}

int wp_inspect_main(int argc, char **argv) {
  const char *target = NULL, *sock = NULL, *node = NULL;
  int json = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--json") == 0) {
      json = 1;
    } else if (strcmp(a, "--socket") == 0 || strcmp(a, "--node") == 0) {
      if (i + 1 >= argc) {
        fprintf(stderr, "Error: flag %s needs a value\n", a);
        return 1;
      }
      *(a[2] == 's' ? &sock : &node) = argv[++i];
    } else if (strncmp(a, "--socket=", 9) == 0) {
      sock = a + 9;
    } else if (strncmp(a, "--node=", 7) == 0) {
      node = a + 7;
    } else if (a[0] == '-' && a[1] == '-' && !target) {
      fprintf(stderr, "Error: unknown flag %s (see wippy inspect --help)\n", a);
      return 1;
    } else if (!target) {
      target = a;
    } else {
      return fail("inspect takes one pid or name (quote a pid: '{app:host|0x00004}')");
    }
  }
  if (!target || !target[0]) return fail("inspect needs a pid or a name (see wippy inspect --help)");
  if (strchr(target, '\n') || strlen(target) > WP_CONTROL_LINE_MAX - 16)
    return fail("not a pid or a name");
  char path[256], err[512], req[WP_CONTROL_LINE_MAX];
  int fd;
  if (wp_ctlc_find(sock, node, path, sizeof path, err, sizeof err) != 0 ||
      (fd = wp_ctlc_connect(path, err, sizeof err)) < 0)
    return fail(err);
  snprintf(req, sizeof req, "inspect %s", target);
  char *a = wp_ctlc_request(fd, req, 10000, err, sizeof err);
  close(fd);
  if (!a) return fail(err);
  char perr[256];
  struct wp_node *n = wp_yaml_load_mem("answer", a, strlen(a), perr, sizeof perr);
  const struct wp_node *ok = wp_node_get(n, "ok");
  int good = ok && ok->type == WP_NODE_BOOL && ok->u.b;
  if (json) {
    printf("%s\n", a);
  } else if (!n) {
    fprintf(stderr, "Error: the node's answer is not JSON: %s\n", perr);
  } else if (!good) {
    const char *e = wp_node_str(wp_node_get(n, "error"));
    fprintf(stderr, "Error: %s\n", e ? e : "the node answered ok: false");
  } else {
    const char *blocked = wp_node_str(wp_node_get(n, "blocked_in"));
    const char *svc = wp_node_str(wp_node_get(n, "service"));
    char mem[32];
    fmt_bytes(mem, sizeof mem, num(n, "mem_bytes"));
    printf("%-13s %s\n", "pid", wp_node_str(wp_node_get(n, "pid")));
    printf("%-13s %s\n", "entry", wp_node_str(wp_node_get(n, "entry")));
    printf("%-13s %s\n", "host", wp_node_str(wp_node_get(n, "host")));
    printf("%-13s %s%s%s\n", "state", wp_node_str(wp_node_get(n, "state")),
           blocked ? ", blocked in " : "", blocked ? blocked : "");
    printf("%-13s %.0f\n", "mailbox", num(n, "mailbox"));
    printf("%-13s %s (%.0f bytes)\n", "memory", mem, num(n, "mem_bytes"));
    printf("%-13s %.1f ms\n", "cpu time", num(n, "cpu_ms"));
    printf("%-13s %s\n", "service", svc ? svc : "-");
    list(n, "names", "names");
    list(n, "links", "links");
    list(n, "monitors", "monitors");
    list(n, "monitored_by", "monitored by");
    const struct wp_node *r = wp_node_get(n, "remote_relations");
    if (r && r->type == WP_NODE_BOOL && r->u.b)
      printf("%-13s links or monitors with processes of other nodes (not listed)\n", "remote");
  }
  wp_node_free(n);
  free(a);
  return good ? 0 : 1;
}
