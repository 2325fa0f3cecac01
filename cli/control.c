/*
** control.c: the control endpoint's server: the socket, its thread, the
** requests (docs/control.md); what a snapshot and an inspection read is
** ctlview.c's.
**
** Design note. `wippy run` opens one Unix socket (control.h says where)
** and answers it from a thread of its own, which never runs Lua, never
** touches a process's Lua state, and never stops the scheduler: it reads
** counters the workers keep with relaxed atomics (sched/scheduler.c
** wp_sched_view), walks the process table taking each process's reference
** for a moment (as a lookup does), and reads what each process published at
** the end of its last run (vm/observe.c). A snapshot is therefore a little
** inconsistent (processes run while it is taken) and a run old; the hot
** path pays one clock read and a few plain stores per run and a counter
** per delivered message, with or without a client.
**
** The thread samples the counters every SAMPLE_MS into a ring, so a
** snapshot's rates cover the node's last second (or what there is of it)
** without a client having to wait. It serves at most MAX_CLIENTS
** connections, one request line at a time each (WP_CONTROL_LINE_MAX
** bytes), answers each with one JSON line, and refuses a peer of another
** uid itself (SO_PEERCRED), whatever the socket's mode lets through. A
** client that does not read its answers within SEND_MS is dropped, so no
** client can stall the others.
**
** Safety of the socket's place: the directory is created 0700 and checked
** (a directory, not a link, ours, closed to others) before a socket goes
** in; the socket is 0600 (chmod after bind: the directory already keeps
** everyone else out in between). Stale sockets of this project, left by a
** node that was killed, are removed when their process is gone.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "control.h"
#include "ctlview.h"
#include "jsonw.h"

#define MAX_CLIENTS 32
#define SEND_MS 1000   /* a client gets this long to take an answer */

/* ---- the socket's place (shared with the clients) ---- */

void wp_control_key(const char *dir, char out[17]) {
  uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */
  for (const unsigned char *p = (const unsigned char *)dir; *p; p++) {
    h ^= *p;
    h *= 0x100000001b3ull;
  }
  snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* Checks (and with create, makes) one candidate directory. */
static int private_dir(const char *d, int create, char *err, size_t errlen) {
  if (create && mkdir(d, 0700) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "cannot create %s: %s", d, strerror(errno));
    return -1;
  }
  struct stat st;
  if (lstat(d, &st) != 0) {
    snprintf(err, errlen, "%s: %s", d, strerror(errno));
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "%s is not a directory", d);
    return -1;
  }
  if (st.st_uid != geteuid() || (st.st_mode & 077)) {
    snprintf(err, errlen, "%s is not private (owner uid %u, mode %03o; want uid %u, 0700)", d,
             (unsigned)st.st_uid, (unsigned)(st.st_mode & 0777), (unsigned)geteuid());
    return -1;
  }
  return 0;
}

/* Room a socket name needs after the directory: "/" KEY "." NODE "." PID
** ".sock" with a 32-byte node name and a 10-digit pid, and the NUL. */
#define NAME_ROOM (1 + 16 + 1 + 32 + 1 + 10 + 5 + 1)

int wp_control_dir(char *out, size_t cap, int create, char *err, size_t errlen) {
  char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  if (xdg && xdg[0] == '/' && strlen(xdg) + 6 + NAME_ROOM <= sizeof buf) {
    snprintf(buf, sizeof buf, "%s/wippy", xdg);
    if (private_dir(buf, create, err, errlen) == 0) goto found;
  }
  snprintf(buf, sizeof buf, "/tmp/wippy-%u", (unsigned)geteuid());
  if (private_dir(buf, create, err, errlen) != 0) return -1;
found:
  if (strlen(buf) >= cap) {
    snprintf(err, errlen, "socket directory path too long");
    return -1;
  }
  snprintf(out, cap, "%s", buf);
  return 0;
}

/* Removes the sockets of this project whose node process is gone. */
static void remove_stale(const char *dir, const char *key) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  size_t kl = strlen(key);
  while ((e = readdir(d))) {
    const char *n = e->d_name;
    size_t len = strlen(n);
    if (strncmp(n, key, kl) != 0 || n[kl] != '.' || len < 5 || strcmp(n + len - 5, ".sock"))
      continue;
    const char *dot = n + len - 5; /* the pid is between the last two dots */
    const char *p = dot;
    while (p > n + kl && p[-1] != '.') p--;
    long pid = strtol(p, NULL, 10);
    if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
      char path[512];
      snprintf(path, sizeof path, "%s/%s", dir, n);
      unlink(path);
    }
  }
  closedir(d);
}

/* ---- the server ---- */

struct client {
  int fd;
  size_t n;
  char in[WP_CONTROL_LINE_MAX];
};

struct wp_control {
  struct wp_rt *rt;
  struct wp_ctlview *view;
  pthread_t thread;
  int lfd;
  int stop_pipe[2];
  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  struct client *clients[MAX_CLIENTS];
};

static void client_close(struct wp_control *c, int i) {
  close(c->clients[i]->fd);
  wp_free(c->clients[i]);
  c->clients[i] = NULL;
}

/* Writes all of b to fd within SEND_MS. 0, or -1: drop the client. */
static int send_all(int fd, const char *b, size_t n) {
  uint64_t until = wp_clock_ns() + (uint64_t)SEND_MS * 1000000u;
  while (n) {
    ssize_t w = send(fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      b += w;
      n -= (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      uint64_t now = wp_clock_ns();
      if (now >= until) return -1;
      struct pollfd p = {fd, POLLOUT, 0};
      poll(&p, 1, (int)((until - now) / 1000000u) + 1);
      continue;
    }
    return -1;
  }
  return 0;
}

static int send_error(int fd, const char *msg, const char *detail, size_t dlen) {
  struct wp_jw w = {WP_BUF_INIT, 0};
  wp_jw_lit(&w, "{\"ok\":false,\"error\":");
  if (detail) {
    char m[256];
    snprintf(m, sizeof m, "%s", msg);
    struct wp_jw s = {WP_BUF_INIT, 0};
    wp_jw_raw(&s, m, strlen(m));
    wp_jw_raw(&s, detail, dlen);
    wp_jw_str(&w, s.failed ? msg : (const char *)s.b.data, s.failed ? strlen(msg) : s.b.len);
    wp_jw_free(&s);
  } else {
    wp_jw_cstr(&w, msg);
  }
  wp_jw_lit(&w, "}\n");
  int rc = w.failed ? -1 : send_all(fd, (const char *)w.b.data, w.b.len);
  wp_jw_free(&w);
  return rc;
}

/* The next space-separated word of *s (n bytes left), moving past it. */
static const char *word(const char **s, size_t *n, size_t *len) {
  while (*n && **s == ' ') (*s)++, (*n)--;
  const char *w = *s;
  while (*n && **s != ' ') (*s)++, (*n)--;
  *len = (size_t)(*s - w);
  return *len ? w : NULL;
}

static int is(const char *w, size_t len, const char *lit) {
  return w && len == strlen(lit) && memcmp(w, lit, len) == 0;
}

/* Answers one request line (n bytes, no newline). -1: drop the client. */
static int answer(struct wp_control *c, int fd, const char *line, size_t n) {
  const char *s = line;
  size_t len;
  const char *verb = word(&s, &n, &len);
  struct wp_jw w = {WP_BUF_INIT, 0};
  if (!verb) return send_error(fd, "empty request (requests: hello, snapshot, inspect, help)",
                               NULL, 0);
  if (is(verb, len, "hello")) {
    wp_ctlview_hello(c->view, &w);
  } else if (is(verb, len, "help")) {
    wp_jw_lit(&w, "{\"ok\":true,\"requests\":[\"hello\",\"snapshot [top=N] "
                  "[sort=mem|mailbox|cpu]\",\"inspect PID|NAME\",\"help\"]}");
  } else if (is(verb, len, "snapshot")) {
    int top = 20, sort = WP_CTLVIEW_SORT_MEM;
    const char *a;
    while ((a = word(&s, &n, &len))) {
      if (len > 4 && memcmp(a, "top=", 4) == 0) {
        char num[16];
        size_t k = len - 4 < sizeof num - 1 ? len - 4 : sizeof num - 1;
        memcpy(num, a + 4, k);
        num[k] = '\0';
        char *end;
        long v = strtol(num, &end, 10);
        if (*end || v < 0 || v > WP_CTLVIEW_TOP_MAX || len - 4 >= sizeof num)
          return send_error(fd, "bad top= (0 to 1000): ", a, len);
        top = (int)v;
      } else if (is(a, len, "sort=mem")) {
        sort = WP_CTLVIEW_SORT_MEM;
      } else if (is(a, len, "sort=mailbox")) {
        sort = WP_CTLVIEW_SORT_MAILBOX;
      } else if (is(a, len, "sort=cpu")) {
        sort = WP_CTLVIEW_SORT_CPU;
      } else {
        return send_error(fd, "bad snapshot argument (top=N, sort=mem|mailbox|cpu): ", a, len);
      }
    }
    wp_ctlview_snapshot(c->view, top, sort, &w);
  } else if (is(verb, len, "inspect")) {
    while (n && *s == ' ') s++, n--;
    if (!n) return send_error(fd, "inspect needs a pid or a name", NULL, 0);
    wp_ctlview_inspect(c->view, s, n, &w);
  } else {
    size_t shown = len > 64 ? 64 : len;
    return send_error(fd, "unknown request (requests: hello, snapshot, inspect, help): ", verb,
                      shown);
  }
  wp_jw_raw(&w, "\n", 1);
  int rc = w.failed ? send_error(fd, "out of memory", NULL, 0)
                    : send_all(fd, (const char *)w.b.data, w.b.len);
  wp_jw_free(&w);
  return rc;
}

/* Reads what a client sent and answers each complete line. -1: drop it. */
static int client_read(struct wp_control *c, struct client *cl) {
  for (;;) {
    ssize_t r = recv(cl->fd, cl->in + cl->n, sizeof cl->in - cl->n, MSG_DONTWAIT);
    if (r == 0) return -1;
    if (r < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    cl->n += (size_t)r;
    char *nl;
    while ((nl = memchr(cl->in, '\n', cl->n))) {
      size_t len = (size_t)(nl - cl->in);
      if (len && cl->in[len - 1] == '\r') len--;
      if (answer(c, cl->fd, cl->in, len) != 0) return -1;
      size_t used = (size_t)(nl - cl->in) + 1;
      memmove(cl->in, cl->in + used, cl->n - used);
      cl->n -= used;
    }
    if (cl->n == sizeof cl->in) {
      send_error(cl->fd, "request too long (at most 4095 bytes and a newline)", NULL, 0);
      return -1;
    }
  }
}

static void accept_one(struct wp_control *c) {
  int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) return;
  struct ucred cr;
  socklen_t cl = sizeof cr;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) != 0 || cr.uid != geteuid()) {
    char m[160];
    snprintf(m, sizeof m, "refused: uid %u is not the node's user (uid %u)",
             cl == sizeof cr ? (unsigned)cr.uid : 0u, (unsigned)geteuid());
    send_error(fd, m, NULL, 0);
    close(fd);
    return;
  }
  for (int i = 0; i < MAX_CLIENTS; i++) {
    if (c->clients[i]) continue;
    c->clients[i] = wp_calloc(1, sizeof(struct client));
    if (!c->clients[i]) break;
    c->clients[i]->fd = fd;
    return;
  }
  send_error(fd, "too many clients", NULL, 0);
  close(fd);
}

static void *control_main(void *arg) {
  struct wp_control *c = arg;
  pthread_setname_np(pthread_self(), "wp-control");
  struct pollfd pf[2 + MAX_CLIENTS];
  int who[2 + MAX_CLIENTS];
  uint64_t next = wp_clock_ns();
  for (;;) {
    uint64_t now = wp_clock_ns();
    if (now >= next) {
      wp_ctlview_sample(c->view);
      next = now + (uint64_t)WP_CTLVIEW_SAMPLE_MS * 1000000u;
    }
    int n = 0;
    pf[n++] = (struct pollfd){c->stop_pipe[0], POLLIN, 0};
    pf[n++] = (struct pollfd){c->lfd, POLLIN, 0};
    for (int i = 0; i < MAX_CLIENTS; i++) {
      if (!c->clients[i]) continue;
      who[n] = i;
      pf[n++] = (struct pollfd){c->clients[i]->fd, POLLIN, 0};
    }
    int ms = (int)((next - now) / 1000000u) + 1;
    if (poll(pf, (nfds_t)n, ms) < 0) continue;
    if (pf[0].revents) break;
    for (int k = 2; k < n; k++)
      if (pf[k].revents && client_read(c, c->clients[who[k]]) != 0) client_close(c, who[k]);
    if (pf[1].revents & POLLIN) accept_one(c);
  }
  for (int i = 0; i < MAX_CLIENTS; i++)
    if (c->clients[i]) client_close(c, i);
  return NULL;
}

/* A failure to open the endpoint: a warning (never a failed run), and
** whatever was made freed. */
static struct wp_control *fail(struct wp_control *c, const char *why) {
  wp_logf(WP_LOG_WARN, "control endpoint off: %s", why);
  if (c) {
    if (c->lfd >= 0) close(c->lfd);
    if (c->stop_pipe[0] >= 0) close(c->stop_pipe[0]);
    if (c->stop_pipe[1] >= 0) close(c->stop_pipe[1]);
    wp_ctlview_free(c->view);
    wp_free(c);
  }
  return NULL;
}

struct wp_control *wp_control_start(struct wp_rt *rt, const char *node) {
  char dir[sizeof(((struct sockaddr_un *)0)->sun_path)], err[700], cwd[4096], key[17];
  const char *test_dir = getenv("WIPPY_TEST_CONTROL_DIR");
  int test = test_dir && test_dir[0];
  if (test) {
    snprintf(dir, sizeof dir, "%s", test_dir);
  } else if (wp_control_dir(dir, sizeof dir, 1, err, sizeof err) != 0) {
    return fail(NULL, err);
  }
  char real[4096];
  if (!getcwd(cwd, sizeof cwd) || !realpath(cwd, real))
    return fail(NULL, "cannot read the working directory");
  wp_control_key(real, key);
  remove_stale(dir, key);
  struct wp_control *c = wp_calloc(1, sizeof *c);
  if (!c) return fail(NULL, "out of memory");
  c->rt = rt;
  c->lfd = c->stop_pipe[0] = c->stop_pipe[1] = -1;
  int len = snprintf(c->path, sizeof c->path, "%s/%s.%s.%ld.sock", dir, key,
                     node ? node : "local", (long)getpid());
  if (len < 0 || (size_t)len >= sizeof c->path) {
    snprintf(err, sizeof err, "the socket path in %s would be too long", dir);
    return fail(c, err);
  }
  c->view = wp_ctlview_new(rt, node, real);
  if (!c->view) return fail(c, "out of memory");
  if (pipe2(c->stop_pipe, O_CLOEXEC) != 0) return fail(c, strerror(errno));
  c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (c->lfd < 0) return fail(c, strerror(errno));
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  memcpy(a.sun_path, c->path, (size_t)len + 1);
  unlink(c->path); /* a socket left by an earlier process with our pid */
  if (bind(c->lfd, (struct sockaddr *)&a, sizeof a) != 0) {
    snprintf(err, sizeof err, "cannot bind %s: %s", c->path, strerror(errno));
    return fail(c, err);
  }
  if (chmod(c->path, test ? 0666 : 0600) != 0 || listen(c->lfd, 16) != 0) {
    snprintf(err, sizeof err, "%s: %s", c->path, strerror(errno));
    unlink(c->path);
    return fail(c, err);
  }
  /* the thread takes no signal: SIGINT/SIGTERM belong to the signal thread */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int rc = pthread_create(&c->thread, NULL, control_main, c);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    unlink(c->path);
    return fail(c, strerror(rc));
  }
  wp_logf(WP_LOG_DEBUG, "control endpoint: %s", c->path);
  return c;
}

void wp_control_stop(struct wp_control *c) {
  if (!c) return;
  ssize_t w;
  do {
    w = write(c->stop_pipe[1], "x", 1);
  } while (w < 0 && errno == EINTR);
  pthread_join(c->thread, NULL);
  unlink(c->path);
  close(c->lfd);
  close(c->stop_pipe[0]);
  close(c->stop_pipe[1]);
  wp_ctlview_free(c->view);
  wp_free(c);
}
