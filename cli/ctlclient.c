/*
** ctlclient.c: the clients' side of the control endpoint (control.h):
** finding a node's socket, connecting, one request and its answer.
**
** Finding. The socket directory holds KEY.NODE.PID.sock per running node;
** a client computes KEY from its project directory (the nearest directory
** up from the working one with a wippy.lock, else the working one) and
** takes the sockets whose process is alive (a node killed with -9 leaves
** its socket; the next node of the project removes it). The directory is
** not created here, only checked: a client never trusts a directory other
** users could have placed sockets in.
*/
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "control.h"

/* The project directory: the nearest one up from the working directory
** holding a wippy.lock, else the working directory (its real path). */
static int project_dir(char *out, size_t cap) {
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd) || !realpath(cwd, out) || strlen(out) >= cap) return -1;
  char d[PATH_MAX];
  snprintf(d, sizeof d, "%s", out);
  for (;;) {
    char lock[PATH_MAX + 16];
    struct stat st;
    snprintf(lock, sizeof lock, "%s/wippy.lock", d);
    if (stat(lock, &st) == 0) {
      snprintf(out, cap, "%s", d);
      return 0;
    }
    char *slash = strrchr(d, '/');
    if (!slash || slash == d) return 0; /* none: the working directory */
    *slash = '\0';
  }
}

struct found {
  char path[512]; /* checked against a socket path's limit when connecting */
  char node[64];
  long pid;
};

int wp_ctlc_find(const char *socket_path, const char *node, char *out, size_t cap, char *err,
                 size_t errlen) {
  if (socket_path) {
    if (strlen(socket_path) >= cap ||
        strlen(socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
      snprintf(err, errlen, "socket path too long: %s", socket_path);
      return -1;
    }
    snprintf(out, cap, "%s", socket_path);
    return 0;
  }
  char dir[sizeof(((struct sockaddr_un *)0)->sun_path)], proj[PATH_MAX], key[17];
  const char *test_dir = getenv("WIPPY_TEST_CONTROL_DIR");
  if (test_dir && test_dir[0])
    snprintf(dir, sizeof dir, "%s", test_dir);
  else if (wp_control_dir(dir, sizeof dir, 0, err, errlen) != 0)
    return -1;
  if (project_dir(proj, sizeof proj) != 0) {
    snprintf(err, errlen, "cannot read the working directory");
    return -1;
  }
  wp_control_key(proj, key);
  DIR *d = opendir(dir);
  if (!d) {
    snprintf(err, errlen, "no running node in %s (%s: %s)", proj, dir, strerror(errno));
    return -1;
  }
  struct found f[8];
  int n = 0, all = 0;
  char names[512] = "";
  struct dirent *e;
  while ((e = readdir(d))) {
    const char *nm = e->d_name;
    size_t len = strlen(nm);
    if (strncmp(nm, key, 16) != 0 || nm[16] != '.' || len < 5 || strcmp(nm + len - 5, ".sock"))
      continue;
    const char *end = nm + len - 5, *p = end;
    while (p > nm + 17 && p[-1] != '.') p--;
    if (p <= nm + 17) continue;
    long pid = strtol(p, NULL, 10);
    if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) continue; /* stale */
    size_t nlen = (size_t)(p - 1 - (nm + 17));
    if (nlen >= sizeof f[0].node) continue;
    if (node && (strlen(node) != nlen || memcmp(node, nm + 17, nlen) != 0)) continue;
    all++;
    size_t l = strlen(names);
    snprintf(names + l, sizeof names - l, "%s%.*s (pid %ld)", l ? ", " : "", (int)nlen, nm + 17,
             pid);
    if (n == (int)(sizeof f / sizeof f[0])) continue;
    snprintf(f[n].path, sizeof f[n].path, "%s/%s", dir, nm);
    memcpy(f[n].node, nm + 17, nlen);
    f[n].node[nlen] = '\0';
    f[n].pid = pid;
    n++;
  }
  closedir(d);
  if (all == 0) {
    if (node)
      snprintf(err, errlen, "no node named %s is running in %s", node, proj);
    else
      snprintf(err, errlen, "no running node in %s (start one with wippy run, or give --socket)",
               proj);
    return -1;
  }
  if (all > 1) {
    snprintf(err, errlen, "%d nodes run in %s: %s; choose one with --node NAME or --socket PATH",
             all, proj, names);
    return -1;
  }
  snprintf(out, cap, "%s", f[0].path);
  return 0;
}

int wp_ctlc_connect(const char *path, char *err, size_t errlen) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, errlen, "socket: %s", strerror(errno));
    return -1;
  }
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof a.sun_path) {
    close(fd);
    snprintf(err, errlen, "socket path too long: %s", path);
    return -1;
  }
  snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

char *wp_ctlc_request(int fd, const char *req, int timeout_ms, char *err, size_t errlen) {
  size_t n = strlen(req);
  char line[WP_CONTROL_LINE_MAX + 1];
  if (n >= WP_CONTROL_LINE_MAX) {
    snprintf(err, errlen, "request too long");
    return NULL;
  }
  memcpy(line, req, n);
  line[n++] = '\n';
  /* A send that fails (the node refused us and closed) is not the error
  ** to report: its answer, already sent, is still there to read. */
  for (size_t off = 0; off < n;) {
    ssize_t w = send(fd, line + off, n - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  size_t len = 0, cap = 4096;
  char *buf = malloc(cap);
  if (!buf) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  uint64_t until = wp_clock_ns() + (uint64_t)timeout_ms * 1000000u;
  for (;;) {
    uint64_t now = wp_clock_ns();
    struct pollfd p = {fd, POLLIN, 0};
    if (now >= until || poll(&p, 1, (int)((until - now) / 1000000u) + 1) == 0) {
      snprintf(err, errlen, "no answer from the node within %d ms", timeout_ms);
      break;
    }
    if (len + 1 >= cap) {
      char *b = realloc(buf, cap * 2);
      if (!b) {
        snprintf(err, errlen, "out of memory");
        break;
      }
      buf = b;
      cap *= 2;
    }
    ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      snprintf(err, errlen, "the node closed the connection%s%s", r < 0 ? ": " : "",
               r < 0 ? strerror(errno) : "");
      break;
    }
    char *nl = memchr(buf + len, '\n', (size_t)r);
    len += (size_t)r;
    if (nl) {
      *nl = '\0'; /* one answer per request: nothing follows it */
      return buf;
    }
  }
  free(buf);
  return NULL;
}
