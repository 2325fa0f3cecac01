/*
** terminal.c: the terminal thread and the `io` module (spec 05 §7).
**
** Design note. One thread owns the terminal. Processes queue requests to it
** (write to stdout or stderr, read a line or some bytes) and carry on; the
** thread performs them strictly in order, so a prompt written with io.write
** is on the screen before the read that follows it, and a worker never blocks
** on a full pipe. A read answers with a WP_MSG_IO message to the requesting
** process. Reads poll stdin together with an eventfd, so the first Ctrl+C
** (wp_terminal_interrupt) makes a pending read, and every later one, return
** nil at once. poll (not epoll) works on regular files too. Output does
** not wait for input: while a read waits for stdin, a write queued behind
** it wakes the thread (a second eventfd) and goes out at once; only one
** task reads at a time, so whatever queues during a read is output, and
** a prompt written before a read is still out before the read starts.
*/
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "alloc.h"
#include "errobj.h"
#include "lazylib.h"
#include "modules.h"

enum { OP_WRITE, OP_READLINE, OP_READ };

struct op {
  struct op *next;
  int kind, fd;
  wp_handle target;
  struct wp_sched *sched;
  int64_t n;
  size_t len;
  char data[];
};

static struct {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  struct op *head, *tail;
  pthread_t thread;
  int started, stop;
  int efd;
  int wfd;     /* eventfd: output queued while a read waits */
  int reading; /* under lock: a read waits for stdin */
  _Atomic int interrupted;
  int eof;
  char *buf; /* bytes read but not yet returned */
  size_t blen, bcap;
  struct wp_rt *rt;
} T = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, 0, -1, -1, 0, 0, 0,
       NULL, 0, 0, NULL};

static void wake(int fd) {
  uint64_t one = 1;
  ssize_t w = write(fd, &one, sizeof one);
  (void)w;
}

static void queue(struct op *o) {
  o->next = NULL;
  pthread_mutex_lock(&T.lock);
  if (T.tail)
    T.tail->next = o;
  else
    T.head = o;
  T.tail = o;
  pthread_cond_signal(&T.cond);
  if (T.reading && o->kind == OP_WRITE && T.wfd >= 0) wake(T.wfd);
  pthread_mutex_unlock(&T.lock);
}

/* A failed write (EPIPE, ...) loses the output but never kills the runtime;
** it is remembered per stream so that later io.write calls return nil, err
** (the write itself ran asynchronously, so the call that lost the bytes
** already returned true). */
static _Atomic int write_errno[3];

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      atomic_store(&write_errno[fd], w < 0 ? errno : EIO);
      return;
    }
    p += w;
    n -= (size_t)w;
  }
}

int wp_terminal_write(int fd, const char *s, size_t len) {
  if (!T.started) {
    write_all(fd, s, len);
    return 0;
  }
  struct op *o = wp_malloc(sizeof *o + len);
  if (!o) return -1;
  o->kind = OP_WRITE;
  o->fd = fd;
  o->len = len;
  memcpy(o->data, s, len);
  queue(o);
  return 0;
}

/* Performs the writes queued while a read waits (only writes queue then). */
static void flush_writes(void) {
  pthread_mutex_lock(&T.lock);
  struct op *list = NULL, **lt = &list;
  for (struct op **pp = &T.head; *pp;) {
    struct op *o = *pp;
    if (o->kind != OP_WRITE) {
      pp = &o->next;
      continue;
    }
    *pp = o->next;
    *lt = o;
    lt = &o->next;
  }
  *lt = NULL;
  T.tail = NULL;
  for (struct op *o = T.head; o; o = o->next) T.tail = o;
  pthread_mutex_unlock(&T.lock);
  while (list) {
    struct op *o = list;
    list = o->next;
    write_all(o->fd, o->data, o->len);
    wp_free(o);
  }
}

/* Reads more bytes into T.buf. Returns 1 on data, 0 on EOF, -1 when
** interrupted. */
static int fill(void) {
  if (T.bcap - T.blen < 4096) {
    size_t cap = T.bcap ? T.bcap * 2 : 8192;
    char *b = wp_realloc(T.buf, cap);
    if (!b) return 0;
    T.buf = b;
    T.bcap = cap;
  }
  for (;;) {
    if (atomic_load(&T.interrupted)) return -1;
    flush_writes(); /* any queued before this read set T.reading */
    struct pollfd pf[3] = {{0, POLLIN, 0}, {T.efd, POLLIN, 0}, {T.wfd, POLLIN, 0}};
    int r = poll(pf, 3, -1); /* a negative fd is skipped */
    if (r < 0 && errno == EINTR) continue;
    if (atomic_load(&T.interrupted)) return -1;
    if (r < 0) return 0;
    if (pf[2].revents & POLLIN) {
      uint64_t v;
      ssize_t n = read(T.wfd, &v, sizeof v);
      (void)n;
      flush_writes();
      if (!(pf[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    }
    ssize_t n = read(0, T.buf + T.blen, T.bcap - T.blen);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return 0;
    T.blen += (size_t)n;
    return 1;
  }
}

static void reply(struct op *o, int status, const char *p, size_t n) {
  struct wp_proc *proc = wp_ptab_get(wp_sched_ptab(o->sched), o->target);
  if (!proc) return;
  /* the reader is woken whatever happens: without memory for the line, it
  ** is told so (the line is lost, and said to be) */
  struct wp_msg *m = wp_msg_new_sys(WP_MSG_IO, "", 0, "", 0, p, n, NULL, 0);
  if (m) {
    m->aux = (uint64_t)(m->len == n ? status : WP_IO_NOMEM);
    wp_proc_deliver(proc, m);
  } else {
    wp_logf(WP_LOG_ERROR, "terminal input for %s lost: out of memory", proc->pid);
  }
  wp_proc_release(proc);
}

static void consume(size_t n) {
  memmove(T.buf, T.buf + n, T.blen - n);
  T.blen -= n;
}

static void do_readline(struct op *o) {
  for (;;) {
    char *nl = T.blen ? memchr(T.buf, '\n', T.blen) : NULL;
    if (nl) {
      size_t len = (size_t)(nl - T.buf);
      size_t linelen = len > 0 && T.buf[len - 1] == '\r' ? len - 1 : len;
      reply(o, WP_IO_OK, T.buf, linelen);
      consume(len + 1);
      return;
    }
    int r = T.eof ? 0 : fill();
    if (r == 1) continue;
    if (r == 0) T.eof = 1;
    if (r == 0 && T.blen) { /* EOF after a partial line */
      reply(o, WP_IO_OK, T.buf, T.blen);
      consume(T.blen);
      return;
    }
    reply(o, r < 0 ? WP_IO_INTERRUPTED : WP_IO_EOF, NULL, 0);
    return;
  }
}

static void do_read(struct op *o) {
  if (!T.blen && !T.eof) {
    int r = fill();
    if (r < 0) {
      reply(o, WP_IO_INTERRUPTED, NULL, 0);
      return;
    }
    if (r == 0) T.eof = 1;
  }
  if (!T.blen) {
    reply(o, WP_IO_EOF, NULL, 0);
    return;
  }
  size_t n = (size_t)o->n < T.blen ? (size_t)o->n : T.blen;
  reply(o, WP_IO_OK, T.buf, n);
  consume(n);
}

static void *tty_main(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "wp-tty");
  pthread_mutex_lock(&T.lock);
  for (;;) {
    while (!T.head && !T.stop) pthread_cond_wait(&T.cond, &T.lock);
    struct op *o = T.head;
    if (!o) break; /* stop with an empty queue */
    T.head = o->next;
    if (!T.head) T.tail = NULL;
    pthread_mutex_unlock(&T.lock);
    if (o->kind == OP_WRITE)
      write_all(o->fd, o->data, o->len);
    else {
      pthread_mutex_lock(&T.lock);
      T.reading = 1;
      pthread_mutex_unlock(&T.lock);
      if (o->kind == OP_READLINE)
        do_readline(o);
      else
        do_read(o);
      pthread_mutex_lock(&T.lock);
      T.reading = 0;
      pthread_mutex_unlock(&T.lock);
    }
    wp_free(o);
    pthread_mutex_lock(&T.lock);
  }
  pthread_mutex_unlock(&T.lock);
  return NULL;
}

int wp_terminal_start(struct wp_rt *rt) {
  T.rt = rt;
  T.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  T.wfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (pthread_create(&T.thread, NULL, tty_main, NULL) != 0) return -1;
  T.started = 1;
  return 0;
}

/* The eventfds are written and closed under T.lock: the signal thread
** interrupts at any time, possibly while the main thread stops the
** terminal, and a write to a descriptor closed meanwhile could land in
** whatever file took its number. */
void wp_terminal_interrupt(void) {
  atomic_store(&T.interrupted, 1);
  pthread_mutex_lock(&T.lock);
  if (T.efd >= 0) wake(T.efd);
  pthread_mutex_unlock(&T.lock);
}

void wp_terminal_stop(void) {
  if (!T.started) return;
  wp_terminal_interrupt(); /* a read still pending must not hold the exit */
  pthread_mutex_lock(&T.lock);
  T.stop = 1;
  pthread_cond_signal(&T.cond);
  pthread_mutex_unlock(&T.lock);
  pthread_join(T.thread, NULL);
  T.started = 0;
  pthread_mutex_lock(&T.lock);
  if (T.efd >= 0) close(T.efd);
  if (T.wfd >= 0) close(T.wfd);
  T.wfd = -1;
  T.efd = -1;
  pthread_mutex_unlock(&T.lock);
  wp_free(T.buf);
  T.buf = NULL;
  T.blen = T.bcap = 0;
}

int wp_terminal_request(struct wp_vmproc *vp, int opk, int64_t n) {
  struct op *o = wp_malloc(sizeof *o);
  if (!o) return -1;
  o->kind = opk;
  o->fd = 0;
  o->target = vp->p->handle;
  o->sched = vp->p->sched;
  o->n = n;
  o->len = 0;
  queue(o);
  return 0;
}

/* ---- the io module ---- */

static int no_terminal(lua_State *L) {
  return wp_err_return(L, WP_KIND_UNAVAILABLE, "no terminal context");
}

static int on_terminal(lua_State *L) {
  return wp_vm_self(L)->host->kind == WP_HOST_TERMINAL;
}

/* Concatenates the arguments (tostring semantics; error objects as their
** message) with sep between and end at the end, and queues them on fd. */
static int emit(lua_State *L, int fd, const char *sep, const char *end) {
  if (!on_terminal(L)) return no_terminal(L);
  int e = atomic_load(&write_errno[fd]);
  if (e) {
    lua_pushfstring(L, "write to %s failed: %s", fd == 1 ? "stdout" : "stderr", strerror(e));
    return wp_err_return(L, WP_KIND_INTERNAL, lua_tostring(L, -1));
  }
  wp_vm_concat_args(L, sep, end);
  size_t len;
  const char *s = lua_tolstring(L, -1, &len);
  if (wp_terminal_write(fd, s, len) != 0)
    return wp_err_return(L, WP_KIND_INTERNAL, "not enough memory to queue the output");
  lua_pushboolean(L, 1);
  return 1;
}

static int io_write(lua_State *L) { return emit(L, 1, NULL, NULL); }
static int io_print(lua_State *L) { return emit(L, 1, "\t", "\n"); }
static int io_eprint(lua_State *L) { return emit(L, 2, "\t", "\n"); }

static int io_flush(lua_State *L) {
  if (!on_terminal(L)) return no_terminal(L);
  lua_pushboolean(L, 1);
  return 1;
}

static int io_block_read(lua_State *L, int opk, int64_t n) {
  if (!on_terminal(L)) return no_terminal(L);
  struct wp_task *t = wp_vm_blockable(L, "io.readline");
  struct wp_vmproc *vp = wp_vm_self(L);
  if (vp->io_task) return luaL_error(L, "another task is already reading the terminal");
  if (wp_terminal_request(vp, opk, n) != 0)
    return wp_err_return(L, WP_KIND_INTERNAL, "not enough memory for the read request");
  vp->io_task = t;
  wp_task_block(vp, t, NULL);
  return lua_yield(L, 0);
}

static int io_readline(lua_State *L) { return io_block_read(L, OP_READLINE, 0); }

static int io_read(lua_State *L) {
  lua_Integer n = luaL_optinteger(L, 1, 1024);
  if (n <= 0) n = 1024;
  return io_block_read(L, OP_READ, n);
}

static int io_args(lua_State *L) {
  struct wp_vmproc *vp = wp_vm_self(L);
  lua_createtable(L, vp->argc, 0);
  if (vp->host->kind == WP_HOST_TERMINAL)
    for (int i = 0; i < vp->argc; i++) {
      lua_pushstring(L, vp->argv[i]);
      lua_rawseti(L, -2, i + 1);
    }
  return 1;
}

static const struct wp_libentry io_entries[] = {
    WP_LF("write", io_write),   WP_LF("print", io_print),       WP_LF("eprint", io_eprint),
    WP_LF("flush", io_flush),   WP_LF("readline", io_readline), WP_LF("read", io_read),
    WP_LF("args", io_args),     WP_LEND};
const struct wp_libdef wp_lib_io = {"io", io_entries, NULL};
