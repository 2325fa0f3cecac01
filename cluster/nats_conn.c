/*
** nats_conn.c: the cluster layer's NATS connection (see nats_conn.h).
**
** Design note. Boot and life differ. At boot the user waits for an answer:
** each URL gets one try with a short timeout, so an unreachable server is
** an error within seconds that names the URL, and a file that libnats
** cannot use is an error naming the file and its key (wp_cluster_check has
** made sure each can be read, so a wrong path or permissions name
** themselves before libnats says anything vaguer). Once connected,
** the node must outlive a restart of the server: the connection
** reconnects without end, and every loss, return or asynchronous error is
** a log line, never an abort; the membership heartbeat (cluster.c) rides
** it out.
**
** libnats runs its callbacks on its own threads; they log, and tell the
** transport (transport.c) of every loss of the stream: a disconnect, a
** reconnect and a slow-consumer report each may have lost messages.
**
** The I/O thread. libnats runs on our event loop (natsOptions_SetEventLoop):
** instead of its reader thread, one thread of ours polls the socket and has
** libnats read and write it. Its hook (the transport, flow.c) runs on the
** same thread each round: it takes the batches and acks that the last read
** parsed into their synchronous subscriptions and publishes what the
** scheduler's workers queued, and the round then writes it out. So a batch
** goes from the socket to the receiving process's worker with one hand-off
** (this thread to the worker) instead of three (libnats's reader to its
** delivery thread to the worker), and a frame from a worker to the socket
** with one, or none: a worker with nothing else to run may stand in for
** this thread while it sleeps (wp_nats_io_enter/leave), and writes what it
** published itself. Writes never wait (the socket is non-blocking; what it
** does not take waits for POLLOUT here), and go one writer at a time
** (io_wlock). Other threads may still use the connection (JetStream
** requests, heartbeats, probes, asynchronous subscriptions): libnats
** buffers what they publish and asks for a write through the callbacks
** below, which wake this thread; their replies arrive through its reads.
** So nothing on this thread may wait on NATS. (With TLS, libnats waits in
** a read for the rest of a record the poll saw begin: until the server's
** next bytes, or, were the link cut mid-record, until libnats's ping
** check finds the connection stale and shuts the socket down.) The
** callbacks run under libnats's connection lock and take only io_lock,
** which this thread never holds while it calls libnats.
**
** Lending the socket to the workers (wp_nats_lend). Whoever holds
** drive_lock drives the socket: runs the hook, writes, polls, has libnats
** read. Lent, that is mostly a scheduler worker that would otherwise park:
** it polls the socket and the eventfd (the scheduler's wake-up for it goes
** to the eventfd), and when a batch comes it has libnats read it and runs
** the hook, which delivers the frames onto its own queue, then runs them.
** A message that arrives at an idle node then reaches its process with no
** hand-off between threads (the I/O thread's wake-up and the worker's were
** two per hop). A busy
** worker looks between runs (wp_nats_drive_now, from the flush hook:
** what has come, without waiting). The I/O thread stands by: the
** scheduler's timer thread kicks it (wp_nats_tick) when nobody has driven
** the socket for KICK_MS while a worker is busy (one long run), so
** heartbeats, replies to other threads' requests and acks still flow; and
** it drives while every worker is parked on its condition variable rather
** than on the socket (a worker found the lock held for a moment and parked
** as usual), until a parking worker asks for the socket (handover). The
** rule that keeps someone watching the socket: a parking worker counts
** itself parked, fences, then tries drive_lock; whoever lets drive_lock go
** fences, then looks whether every worker is parked, and if so drives on.
** A worker that is not parked parks later, and tries then. The details
** that keep it so: the scheduler's wake-up of a worker waiting on the
** socket also sets park_woken, since another driver may read the eventfd
** first; a driver that lets go runs the hook once more (drive_finish), so
** what it read is taken and what the round sent leaves the transport
** asleep; a time the hook asks for (a stop's deadline) is kept in
** hook_due for drive_now and the tick; and while libnats reconnects (the
** socket detached: it holds its connection lock through each try) no
** worker drives or writes: the detach kicks the I/O thread, which drives
** while the workers are parked. Never with TLS: a TLS read may wait for
** the rest of a record, which a worker must not.
*/
#include "nats_conn.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "log.h"

#define CONNECT_TIMEOUT_MS 2000 /* per URL, at boot */
#define RECONNECT_WAIT_MS 1000
#define JS_WAIT_MS 3000         /* a JetStream request (a bucket read or write) */
#define CLOSE_WAIT_MS 5000      /* libnats's threads unwinding at exit */
/* A retired watcher is destroyed while connected only after this long
** with no reconnect: its consumer's reset is then over (a reset is one
** JetStream request of JS_WAIT_MS, retried every 10 s while it fails; a
** working connection makes the retry succeed). */
#define RETIRE_SETTLE_MS 30000
#define RETIRED_MAX 32 /* watchers kept retired at most */
/* libnats's read per poll (and write buffer): a read takes what a busy
** peer's batches brought in one system call */
#define IO_BUF (256 * 1024)
/* Lent to the workers: the I/O thread looks at the socket when none has
** for this long while one is busy (wp_nats_tick) */
#define KICK_MS 1
#define STANDBY_CHECK_MS 250 /* see standby */
#define FINISH_ROUNDS 8      /* see drive_finish */

struct wp_nats_retired {
  struct wp_nats_retired *next;
  kvWatcher *w;
  uint64_t at; /* when it was retired (monotonic) */
};

const char *wp_nats_reason(natsStatus s, char *buf, size_t len) {
  natsStatus last = NATS_OK;
  const char *t = nats_GetLastError(&last);
  if (t && *t && last == s) {
    /* "(conn.c:2088): No server available": the origin means nothing to
    ** a user */
    if (t[0] == '(') {
      const char *e = strstr(t, "): ");
      if (e) t = e + 3;
    }
    snprintf(buf, len, "%s", t);
  } else {
    snprintf(buf, len, "%s", natsStatus_GetText(s));
  }
  return buf;
}

static void tell_loss(struct wp_nats *n, const char *why) {
  wp_nats_loss_fn fn = atomic_load(&n->on_loss);
  if (fn && !atomic_load(&n->closing)) fn(atomic_load(&n->loss_arg), why);
}

static void on_disconnected(natsConnection *nc, void *closure) {
  struct wp_nats *n = closure;
  if (!atomic_load(&n->closing)) {
    wp_logf(WP_LOG_WARN, "cluster: node %s lost its connection to NATS; reconnecting", n->node);
    tell_loss(n, "disconnected from NATS");
  }
}

static void on_reconnected(natsConnection *nc, void *closure) {
  struct wp_nats *n = closure;
  char url[256] = "";
  natsConnection_GetConnectedUrl(nc, url, sizeof url);
  atomic_store(&n->reconnect_ns, wp_clock_ns());
  atomic_fetch_add(&n->reconnects, 1);
  wp_logf(WP_LOG_INFO, "cluster: node %s reconnected to NATS at %s", n->node, url);
  tell_loss(n, "reconnected to NATS");
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus s, void *closure) {
  struct wp_nats *n = closure;
  wp_logf(WP_LOG_ERROR, "cluster: node %s: NATS error: %s", n->node, natsStatus_GetText(s));
  if (s == NATS_SLOW_CONSUMER) tell_loss(n, "slow consumer: NATS dropped messages");
}

/* ---- the I/O thread ---- */

static _Thread_local struct wp_nats *io_self; /* set on the thread driving the socket */
static _Thread_local struct wp_nats *io_thread; /* set on the I/O thread itself */

/* Whether the calling driver may call into libnats now: the I/O thread
** always; a worker only while a socket is attached (while libnats
** reconnects it holds its connection lock through each try, up to the
** connect timeout; a worker that passed this check just before a
** disconnect may still wait that once). */
static int may_call(struct wp_nats *n) {
  return io_thread == n || atomic_load_explicit(&n->io_up, memory_order_relaxed);
}
/* set on a worker standing in for it (wp_nats_io_enter): only its write
** requests go without a wake-up; a socket attached or detached meanwhile
** (a write that failed) must still wake the I/O thread's poll */
static _Thread_local struct wp_nats *io_standin;

void wp_nats_wake(struct wp_nats *n) {
  uint64_t one = 1;
  /* an eventfd's counter cannot overflow from wake-ups; EAGAIN would mean
  ** it is already readable, which is all a wake-up needs */
  ssize_t r = write(n->io_efd, &one, sizeof one);
  (void)r;
}

/* Kicks the I/O thread off standby (any thread). */
static void kick(struct wp_nats *n) {
  uint64_t one = 1;
  ssize_t r = write(n->sb_efd, &one, sizeof one);
  (void)r;
}

int wp_nats_on_io(const struct wp_nats *n) { return io_self == n; }

/* libnats's event-loop callbacks (under its connection lock). */
static natsStatus io_attach(void **data, void *loop, natsConnection *nc, natsSock fd) {
  struct wp_nats *n = loop;
  *data = n;
  pthread_mutex_lock(&n->io_lock);
  n->io_nc = nc;
  n->io_fd = (int)fd;
  n->io_rd = 1;
  pthread_mutex_unlock(&n->io_lock);
  atomic_store(&n->io_up, 1);
  if (io_self != n) wp_nats_wake(n);
  return NATS_OK;
}

static natsStatus io_read(void *data, bool add) {
  struct wp_nats *n = data;
  pthread_mutex_lock(&n->io_lock);
  n->io_rd = add;
  pthread_mutex_unlock(&n->io_lock);
  if (io_self != n) wp_nats_wake(n);
  return NATS_OK;
}

static natsStatus io_write(void *data, bool add) {
  struct wp_nats *n = data;
  pthread_mutex_lock(&n->io_lock);
  int was = n->io_wr;
  n->io_wr = add;
  pthread_mutex_unlock(&n->io_lock);
  /* on the I/O thread the round writes before it polls, and a stand-in
  ** writes before it leaves: no wake-up */
  if (io_self != n && io_standin != n && add && !was) wp_nats_wake(n);
  return NATS_OK;
}

static natsStatus io_detach(void *data) {
  struct wp_nats *n = data;
  pthread_mutex_lock(&n->io_lock);
  n->io_fd = -1;
  n->io_rd = n->io_wr = 0;
  pthread_mutex_unlock(&n->io_lock);
  /* reconnecting: libnats holds its connection lock for each try (up to
  ** the connect timeout), so no worker may drive the socket until it is
  ** attached again; the I/O thread does (see wp_nats_park_wait) */
  atomic_store(&n->io_up, 0);
  if (io_self != n) wp_nats_wake(n);
  kick(n);
  return NATS_OK;
}

/* Has libnats write what it holds, without waiting. Never with nothing
** held: libnats takes the empty write's 0 for a closed connection. So the
** check and the write go together under io_wlock, against the other
** writer (the I/O thread, or a worker standing in for it). */
static void io_write_out(struct wp_nats *n, natsConnection *nc) {
  pthread_mutex_lock(&n->io_wlock);
  if (natsConnection_Buffered(nc) > 0) natsConnection_ProcessWriteEvent(nc);
  pthread_mutex_unlock(&n->io_wlock);
}

/* The socket as libnats last asked for it (snapshot under io_lock). */
static natsConnection *io_state(struct wp_nats *n, int *fd, int *rd, int *wr) {
  pthread_mutex_lock(&n->io_lock);
  natsConnection *nc = n->io_nc;
  *fd = n->io_fd;
  *rd = n->io_rd;
  *wr = n->io_wr;
  pthread_mutex_unlock(&n->io_lock);
  return nc;
}

/* Fills p with what a driver polls: the eventfd, then the socket (fd) if
** libnats wants to read or write it; returns how many entries. */
static int pollset(struct wp_nats *n, struct pollfd *p, int fd, int rd, int wr) {
  p[0] = (struct pollfd){.fd = n->io_efd, .events = POLLIN};
  p[1] = (struct pollfd){.fd = fd, .events = (short)((rd ? POLLIN : 0) | (wr ? POLLOUT : 0))};
  return fd >= 0 && (rd || wr) ? 2 : 1;
}

/* The driver's turn before its poll (under drive_lock, as io_self): the
** hook, then the write of what it and others published. Fills p (the
** eventfd, then the socket if libnats wants it) and *nc; returns how many
** entries, and in *wait_ms the hook's wait. */
static int drive_pre(struct wp_nats *n, struct pollfd *p, natsConnection **nc, int *wait_ms) {
  pthread_mutex_lock(&n->io_lock);
  wp_nats_io_fn hook = n->io_stop || !may_call(n) ? NULL : n->io_hook;
  void *hook_arg = n->io_hook_arg;
  n->io_in_hook = hook != NULL;
  pthread_mutex_unlock(&n->io_lock);
  *wait_ms = -1;
  if (hook) {
    *wait_ms = hook(hook_arg);
    pthread_mutex_lock(&n->io_lock);
    n->io_in_hook = 0;
    pthread_cond_broadcast(&n->io_cond);
    pthread_mutex_unlock(&n->io_lock);
  }
  /* a driver that does not poll next (a worker's look, a finish) leaves
  ** the hook's time to drive_now and wp_nats_tick */
  atomic_store_explicit(&n->hook_due,
                        *wait_ms > 0 ? wp_clock_ns() + (uint64_t)*wait_ms * 1000000 : 0,
                        memory_order_relaxed);
  int fd, rd, wr;
  *nc = io_state(n, &fd, &rd, &wr);
  /* what the round published goes out before the poll: the socket
  ** almost always takes it, and a poll first costs a system call and
  ** the round trip its time */
  if (fd >= 0 && wr && may_call(n)) {
    io_write_out(n, *nc);
    *nc = io_state(n, &fd, &rd, &wr);
  }
  return pollset(n, p, fd, rd, wr);
}

/* What the driver's poll saw (under drive_lock, as io_self). */
static void drive_post(struct wp_nats *n, const struct pollfd *p, int np, natsConnection *nc) {
  if (np >= 1 && (p[0].revents & POLLIN)) {
    uint64_t v;
    ssize_t r = read(n->io_efd, &v, sizeof v);
    (void)r;
  }
  /* the socket may have been detached (and even reattached under the
  ** same number) since: libnats checks under its own lock, and a read
  ** with nothing to read is no error on a loop */
  if (np < 2 || !may_call(n)) return;
  if (p[1].revents & (POLLIN | POLLERR | POLLHUP)) natsConnection_ProcessReadEvent(nc);
  if (p[1].revents & POLLOUT) io_write_out(n, nc);
}

/* A poll of the driver's; -1 and logged (once in a row of failures) when
** it fails. */
static int drive_poll(struct wp_nats *n, struct pollfd *p, int np, int wait_ms, int *failing) {
  atomic_store_explicit(&n->polling, 1, memory_order_relaxed);
  int r = poll(p, (nfds_t)np, wait_ms);
  atomic_store_explicit(&n->polling, 0, memory_order_relaxed);
  if (r < 0) {
    if (errno != EINTR && !(*failing)++)
      wp_logf(WP_LOG_ERROR, "cluster: node %s: poll on the NATS connection failed: %s", n->node,
              strerror(errno));
    return -1;
  }
  *failing = 0;
  return r;
}

/* One turn of the driver (under drive_lock): the hook and the write, a
** poll of at most cap_ms (-1: the hook's wait), what it saw. */
static void drive_turn(struct wp_nats *n, int cap_ms, int *failing) {
  struct pollfd p[2];
  natsConnection *nc;
  int wait_ms;
  io_self = n;
  int np = drive_pre(n, p, &nc, &wait_ms);
  if (cap_ms >= 0 && (wait_ms < 0 || wait_ms > cap_ms)) wait_ms = cap_ms;
  if (drive_poll(n, p, np, wait_ms, failing) >= 0) drive_post(n, p, np, nc);
  io_self = NULL;
}

/* The hook once more before drive_lock goes: it takes (and delivers) what
** the last read parsed, so nothing waits in the subscriptions for the next
** driver, and what it sends is written. */
static void drive_finish(struct wp_nats *n) {
  struct pollfd p[2];
  natsConnection *nc;
  int wait_ms = 0;
  io_self = n;
  /* 0: it did something, and more may have come meanwhile: again, as the
  ** I/O thread's loop would (a round that sent leaves the transport's
  ** `sleeping` at 0 until a round finds nothing) */
  for (int i = 0; i < FINISH_ROUNDS && wait_ms == 0; i++) drive_pre(n, p, &nc, &wait_ms);
  io_self = NULL;
}

/* Lets drive_lock go (its holder). */
static void drive_release(struct wp_nats *n) {
  atomic_store_explicit(&n->driven_ns, wp_clock_ns(), memory_order_relaxed);
  pthread_mutex_unlock(&n->drive_lock);
}

/* Whether, while lent, every worker is parked (then the I/O thread must go
** on driving: none would look at the socket). 1 when not lent. */
static int all_parked(struct wp_nats *n) {
  pthread_mutex_lock(&n->lend_lock);
  int r = !atomic_load(&n->lent) || n->all_parked(n->parked_arg);
  pthread_mutex_unlock(&n->lend_lock);
  return r;
}

/* Waits on standby for a kick (sb_efd). Every STANDBY_CHECK_MS it looks
** whether the rule of the design note failed: every worker parked, none
** watching the socket, nobody driving it for that long. Then it says so
** (once: a bug of ours) and returns as if kicked, to drive it. */
static void standby(struct wp_nats *n, int *warned) {
  struct pollfd p = {.fd = n->sb_efd, .events = POLLIN};
  int pr;
  while ((pr = poll(&p, 1, STANDBY_CHECK_MS)) == 0) {
    uint64_t since = atomic_load(&n->driven_ns), now = wp_clock_ns();
    if (atomic_load(&n->polling) || now - since < (uint64_t)STANDBY_CHECK_MS * 1000000 ||
        !all_parked(n))
      continue;
    if (pthread_mutex_trylock(&n->drive_lock) != 0) continue; /* someone drives, slowly */
    pthread_mutex_unlock(&n->drive_lock);
    if (!(*warned)++)
      wp_logf(WP_LOG_WARN,
              "cluster: node %s: nobody watched the NATS socket for %llu ms while the "
              "workers were parked; its I/O thread takes over",
              n->node, (unsigned long long)((now - since) / 1000000));
    return;
  }
  if (pr > 0) {
    uint64_t v;
    ssize_t r = read(n->sb_efd, &v, sizeof v);
    (void)r;
  }
}

static int io_stopping(struct wp_nats *n) {
  pthread_mutex_lock(&n->io_lock);
  int stop = n->io_stop;
  pthread_mutex_unlock(&n->io_lock);
  return stop;
}

/* The I/O thread. Not lent: it drives the socket, turn after turn. Lent:
** it stands by until kicked (wp_nats_tick: the workers are busy and none
** has driven the socket for KICK_MS; or a change of lending), drives one
** turn without waiting, and goes on driving only while every worker is
** parked (else an awake one takes the socket when it parks) and none asks
** for it (handover). The check of the workers comes after drive_lock is
** let go, with a full fence between: a worker that parks counts itself
** parked, fences, then tries drive_lock, so either it finds the lock free
** or this thread finds it parked. */
static void *io_main(void *arg) {
  struct wp_nats *n = arg;
  pthread_setname_np(pthread_self(), "wp-nats-io");
  io_thread = n;
  int failing = 0; /* poll failures in a row: logged once */
  int warned = 0;  /* standby's warning: once */
  int kicked = 1;  /* the first turn lent checks the workers at once */
  while (!io_stopping(n)) {
    if (!atomic_load(&n->lent)) {
      pthread_mutex_lock(&n->drive_lock);
      if (!atomic_load(&n->lent)) drive_turn(n, -1, &failing);
      drive_release(n);
      /* lent now: a worker may have found drive_lock held by the turn
      ** just ended and parked as usual, so the check below runs first */
      kicked = 1;
      continue;
    }
    if (!kicked) standby(n, &warned);
    kicked = 0;
    int cap = 0; /* kicked: what is there, without waiting */
    while (!io_stopping(n) && pthread_mutex_trylock(&n->drive_lock) == 0) {
      atomic_store(&n->io_driving, 1);
      drive_turn(n, cap, &failing);
      drive_finish(n);
      atomic_store(&n->io_driving, 0);
      drive_release(n);
      atomic_thread_fence(memory_order_seq_cst);
      if (atomic_load(&n->handover) || !atomic_load(&n->lent) || !all_parked(n)) break;
      cap = -1; /* every worker parked: this thread watches the socket */
    }
  }
  return NULL;
}

int wp_nats_lend(struct wp_nats *n, int (*fn)(void *), void *arg) {
  if (n->tls) return -1;
  pthread_mutex_lock(&n->lend_lock);
  n->all_parked = fn;
  n->parked_arg = arg;
  atomic_store(&n->lent, 1);
  pthread_mutex_unlock(&n->lend_lock);
  wp_nats_wake(n); /* the I/O thread's poll ends, and it goes on standby */
  return 0;
}

void wp_nats_unlend(struct wp_nats *n) {
  if (!atomic_load(&n->lent)) return;
  pthread_mutex_lock(&n->lend_lock);
  atomic_store(&n->lent, 0);
  pthread_mutex_unlock(&n->lend_lock);
  kick(n); /* off standby, to drive */
}

int wp_nats_park_wait(struct wp_nats *n) {
  if (!atomic_load_explicit(&n->lent, memory_order_relaxed)) return 0;
  if (pthread_mutex_trylock(&n->drive_lock) != 0) {
    /* another worker drives it for a moment: it parks after that */
    if (!atomic_load(&n->io_driving)) return 0;
    /* the I/O thread, which may be watching the socket for parked
    ** workers: it hands it over after its turn */
    atomic_store(&n->handover, 1);
    wp_nats_wake(n);
    pthread_mutex_lock(&n->drive_lock);
    atomic_store(&n->handover, 0);
  }
  /* taken back meanwhile, or reconnecting: the I/O thread drives (it was
  ** kicked off standby, and keeps driving while every worker is parked) */
  if (!atomic_load(&n->lent) || !atomic_load(&n->io_up)) {
    pthread_mutex_unlock(&n->drive_lock);
    kick(n); /* it may have just handed the socket over, and stand by */
    return 0;
  }
  int wait_ms, failing = 0;
  io_self = n;
  n->wnp = drive_pre(n, n->wpoll, &n->wnc, &wait_ms);
  io_self = NULL;
  /* a wake-up that another driver's read of the eventfd took away is not
  ** lost: it left this flag */
  if (atomic_exchange(&n->park_woken, 0)) wait_ms = 0;
  if (drive_poll(n, n->wpoll, n->wnp, wait_ms, &failing) < 0) n->wnp = 0;
  return 1; /* drive_lock is kept for ready */
}

int wp_nats_up(const struct wp_nats *n) { return atomic_load_explicit(&n->io_up, memory_order_relaxed); }

void wp_nats_park_wake(struct wp_nats *n) {
  atomic_store(&n->park_woken, 1);
  wp_nats_wake(n);
}

void wp_nats_park_ready(struct wp_nats *n) {
  io_self = n;
  drive_post(n, n->wpoll, n->wnp, n->wnc);
  io_self = NULL;
  drive_finish(n); /* the hook takes and delivers what came */
  drive_release(n);
}

void wp_nats_drive_now(struct wp_nats *n) {
  if (!atomic_load_explicit(&n->lent, memory_order_relaxed) ||
      !atomic_load_explicit(&n->io_up, memory_order_relaxed) ||
      pthread_mutex_trylock(&n->drive_lock) != 0)
    return;
  struct pollfd p[2];
  int failing = 0, fd, rd, wr;
  natsConnection *nc = io_state(n, &fd, &rd, &wr);
  int np = pollset(n, p, fd, rd, wr);
  uint64_t due = atomic_load_explicit(&n->hook_due, memory_order_relaxed);
  if (drive_poll(n, p, np, 0, &failing) > 0) {
    io_self = n;
    drive_post(n, p, np, nc);
    io_self = NULL;
    drive_finish(n);
  } else if (due && wp_clock_ns() >= due) {
    drive_finish(n); /* the hook's time came (a stop's deadline, a test knob) */
  }
  drive_release(n);
}

void wp_nats_tick(struct wp_nats *n) {
  if (!atomic_load_explicit(&n->lent, memory_order_relaxed) ||
      atomic_load_explicit(&n->polling, memory_order_relaxed))
    return;
  uint64_t since = atomic_load_explicit(&n->driven_ns, memory_order_relaxed), now = wp_clock_ns();
  uint64_t due = atomic_load_explicit(&n->hook_due, memory_order_relaxed);
  if (now - since < (uint64_t)KICK_MS * 1000000 && !(due && now >= due)) return;
  kick(n);
}

void wp_nats_io_enter(struct wp_nats *n) { io_standin = n; }

void wp_nats_io_leave(struct wp_nats *n) {
  int fd, rd, wr;
  natsConnection *nc = io_state(n, &fd, &rd, &wr);
  if (fd >= 0 && wr) {
    io_write_out(n, nc); /* non-blocking: the socket takes what it can */
    io_state(n, &fd, &rd, &wr);
  }
  io_standin = NULL;
  if (wr) wp_nats_wake(n);
}

void wp_nats_set_io(struct wp_nats *n, wp_nats_io_fn fn, void *arg) {
  pthread_mutex_lock(&n->io_lock);
  n->io_hook = fn;
  n->io_hook_arg = arg;
  if (!fn)
    while (n->io_in_hook) pthread_cond_wait(&n->io_cond, &n->io_lock);
  pthread_mutex_unlock(&n->io_lock);
  if (fn) wp_nats_wake(n);
}

/* Starts the I/O thread; 0, or -1 with a message. */
static int io_start(struct wp_nats *n, char *err, size_t errlen) {
  n->io_fd = -1;
  n->io_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (n->io_efd < 0) {
    snprintf(err, errlen, "cannot make the cluster's I/O wake-up: %s", strerror(errno));
    return -1;
  }
  n->has_io_efd = 1;
  n->sb_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (n->sb_efd < 0) {
    snprintf(err, errlen, "cannot make the cluster's I/O wake-up: %s", strerror(errno));
    return -1;
  }
  if (pthread_mutex_init(&n->drive_lock, NULL) != 0) goto fail;
  if (pthread_mutex_init(&n->lend_lock, NULL) != 0) {
    pthread_mutex_destroy(&n->drive_lock);
    goto fail;
  }
  n->has_drive = 1;
  if (pthread_mutex_init(&n->io_lock, NULL) != 0) goto fail;
  if (pthread_mutex_init(&n->io_wlock, NULL) != 0) {
    pthread_mutex_destroy(&n->io_lock);
    goto fail;
  }
  if (pthread_cond_init(&n->io_cond, NULL) != 0) {
    pthread_mutex_destroy(&n->io_wlock);
    pthread_mutex_destroy(&n->io_lock);
    goto fail;
  }
  n->has_io_lock = 1;
  if (pthread_create(&n->io, NULL, io_main, n) != 0) goto fail;
  n->has_io = 1;
  return 0;
fail:
  snprintf(err, errlen, "cannot start the cluster's I/O thread: %s", strerror(errno));
  return -1;
}

/* Stops the I/O thread (after the connection is closed) and frees its parts. */
static void io_stop(struct wp_nats *n) {
  if (n->has_io) {
    pthread_mutex_lock(&n->io_lock);
    n->io_stop = 1;
    pthread_mutex_unlock(&n->io_lock);
    wp_nats_wake(n);
    kick(n); /* off standby */
    pthread_join(n->io, NULL);
    n->has_io = 0;
  }
  if (n->has_io_lock) {
    pthread_cond_destroy(&n->io_cond);
    pthread_mutex_destroy(&n->io_wlock);
    pthread_mutex_destroy(&n->io_lock);
    n->has_io_lock = 0;
  }
  if (n->has_drive) {
    pthread_mutex_destroy(&n->lend_lock);
    pthread_mutex_destroy(&n->drive_lock);
    n->has_drive = 0;
  }
  if (n->has_io_efd) {
    close(n->io_efd);
    if (n->sb_efd >= 0) close(n->sb_efd);
  }
  n->has_io_efd = 0;
}

/* The options for cfg; 0, or -1 with a message (opts then freed). */
static int make_options(struct wp_nats *n, const struct wp_cluster_config *cfg, char *err,
                        size_t errlen) {
  char why[256];
  natsStatus s = natsOptions_Create(&n->opts);
  if (s == NATS_OK) s = natsOptions_SetServers(n->opts, (const char **)cfg->urls, cfg->nurls);
  if (s != NATS_OK) {
    snprintf(err, errlen, "cluster.nats.url %s: %s; write URLs such as nats://127.0.0.1:4222",
             n->urls, wp_nats_reason(s, why, sizeof why));
    goto fail;
  }
  char name[64];
  snprintf(name, sizeof name, "wippy %s", cfg->name);
  /* the user's order of servers, one try each at boot, then reconnecting
  ** without end */
  if ((s = natsOptions_SetNoRandomize(n->opts, true)) != NATS_OK ||
      /* each publish is written at once: the transport batches itself and
      ** publishes when its queue goes idle (no wait for libnats's flusher) */
      (s = natsOptions_SetSendAsap(n->opts, true)) != NATS_OK ||
      (s = natsOptions_SetName(n->opts, name)) != NATS_OK ||
      (s = natsOptions_SetTimeout(n->opts, CONNECT_TIMEOUT_MS)) != NATS_OK ||
      (s = natsOptions_SetRetryOnFailedConnect(n->opts, false, NULL, NULL)) != NATS_OK ||
      (s = natsOptions_SetMaxReconnect(n->opts, -1)) != NATS_OK ||
      (s = natsOptions_SetReconnectWait(n->opts, RECONNECT_WAIT_MS)) != NATS_OK ||
      (s = natsOptions_SetDisconnectedCB(n->opts, on_disconnected, n)) != NATS_OK ||
      (s = natsOptions_SetReconnectedCB(n->opts, on_reconnected, n)) != NATS_OK ||
      (s = natsOptions_SetErrorHandler(n->opts, on_error, n)) != NATS_OK ||
      (s = natsOptions_SetIOBufSize(n->opts, IO_BUF)) != NATS_OK ||
      (s = natsOptions_SetEventLoop(n->opts, n, io_attach, io_read, io_write, io_detach)) !=
          NATS_OK) {
    snprintf(err, errlen, "cannot set up the NATS client: %s",
             wp_nats_reason(s, why, sizeof why));
    goto fail;
  }
  if (cfg->creds) {
    s = natsOptions_SetUserCredentialsFromFiles(n->opts, cfg->creds, NULL);
    if (s != NATS_OK) {
      snprintf(err, errlen, "cluster.nats.creds file %s: %s", cfg->creds,
               wp_nats_reason(s, why, sizeof why));
      goto fail;
    }
  }
  /* a tls:// URL is TLS too (libnats also switches to TLS by itself when
  ** the server requires it of a nats:// URL: such a server should be
  ** configured with cluster.nats.tls, and then the socket is not lent) */
  for (int i = 0; i < cfg->nurls; i++)
    if (strncmp(cfg->urls[i], "tls://", 6) == 0) n->tls = 1;
  if (cfg->tls_ca || cfg->tls_cert) {
    n->tls = 1;
    if ((s = natsOptions_SetSecure(n->opts, true)) != NATS_OK) {
      snprintf(err, errlen, "cluster.nats.tls: this libnats has no TLS: %s",
               wp_nats_reason(s, why, sizeof why));
      goto fail;
    }
  }
  if (cfg->tls_ca) {
    s = natsOptions_LoadCATrustedCertificates(n->opts, cfg->tls_ca);
    if (s != NATS_OK) {
      snprintf(err, errlen,
               "cluster.nats.tls.ca file %s was rejected: %s; give a PEM file of CA "
               "certificates",
               cfg->tls_ca, wp_nats_reason(s, why, sizeof why));
      goto fail;
    }
  }
  if (cfg->tls_cert) {
    s = natsOptions_LoadCertificatesChain(n->opts, cfg->tls_cert, cfg->tls_key);
    if (s != NATS_OK) {
      snprintf(err, errlen,
               "cluster.nats.tls.cert file %s or cluster.nats.tls.key file %s was rejected: "
               "%s; give the PEM certificate chain and its private key",
               cfg->tls_cert, cfg->tls_key, wp_nats_reason(s, why, sizeof why));
      goto fail;
    }
  }
  return 0;
fail:
  natsOptions_Destroy(n->opts);
  n->opts = NULL;
  return -1;
}

/* The message for a failed connect: the server unreachable, the TLS
** handshake, or the credentials. */
static void connect_error(struct wp_nats *n, const struct wp_cluster_config *cfg, natsStatus s,
                          char *err, size_t errlen) {
  char why[256];
  wp_nats_reason(s, why, sizeof why);
  switch (s) {
    case NATS_NO_SERVER:
    case NATS_TIMEOUT:
    case NATS_IO_ERROR:
    case NATS_STALE_CONNECTION:
    case NATS_ADDRESS_MISSING:
      snprintf(err, errlen,
               "cannot reach NATS at %s: %s; start nats-server or fix cluster.nats.url "
               "(or --cluster)",
               n->urls, why);
      return;
    case NATS_SSL_ERROR:
    case NATS_SECURE_CONNECTION_WANTED:
    case NATS_SECURE_CONNECTION_REQUIRED:
      snprintf(err, errlen,
               "TLS with NATS at %s failed: %s; check cluster.nats.tls.ca, cluster.nats.tls.cert "
               "and cluster.nats.tls.key (and the server's TLS settings)",
               n->urls, why);
      return;
    case NATS_CONNECTION_AUTH_FAILED:
    case NATS_NOT_PERMITTED:
      if (cfg->creds)
        snprintf(err, errlen,
                 "NATS at %s refused the credentials of cluster.nats.creds file %s: %s", n->urls,
                 cfg->creds, why);
      else
        snprintf(err, errlen,
                 "NATS at %s asks for credentials: %s; set cluster.nats.creds to a credentials "
                 "file",
                 n->urls, why);
      return;
    default:
      if (cfg->creds)
        snprintf(err, errlen,
                 "cannot connect to NATS at %s: %s; check cluster.nats.creds file %s", n->urls,
                 why, cfg->creds);
      else if (cfg->tls_ca || cfg->tls_cert)
        /* a server that wants a client certificate it did not get (or
        ** does not trust) closes the connection after the handshake:
        ** libnats then reports the missing PONG, not TLS */
        snprintf(err, errlen,
                 "cannot connect to NATS at %s: %s; if the server asks for a client "
                 "certificate, check cluster.nats.tls.cert and cluster.nats.tls.key",
                 n->urls, why);
      else
        snprintf(err, errlen, "cannot connect to NATS at %s: %s", n->urls, why);
  }
}

void natsMsg_free(void *object); /* libnats, exported but not in nats.h */

void wp_nats_msg_free(natsMsg *msg) { natsMsg_free(msg); }

/* Answers a probe (transport.c) with an empty reply, on a libnats thread. */
static void on_ping(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
  (void)sub;
  (void)closure;
  const char *reply = natsMsg_GetReply(msg);
  if (reply) natsConnection_Publish(nc, reply, NULL, 0);
  natsMsg_Destroy(msg);
}

int wp_nats_connect(struct wp_nats *n, const struct wp_cluster_config *cfg, char *err,
                    size_t errlen) {
  snprintf(n->node, sizeof n->node, "%s", cfg->name);
  if (pthread_mutex_init(&n->retired_lock, NULL) == 0) n->has_retired_lock = 1;
  n->settle_ns = (uint64_t)RETIRE_SETTLE_MS * 1000000;
  const char *knob = getenv("WIPPY_CLUSTER_TEST_SETTLE_MS");
  if (knob && *knob) { /* a test's: to see watchers retired and stopped in seconds */
    long long v = strtoll(knob, NULL, 10);
    if (v > 0) n->settle_ns = (uint64_t)v * 1000000;
    wp_logf(WP_LOG_WARN, "cluster: test setting WIPPY_CLUSTER_TEST_SETTLE_MS=%lld in effect", v);
  }
  size_t at = 0;
  for (int i = 0; i < cfg->nurls && at < sizeof n->urls; i++)
    at += (size_t)snprintf(n->urls + at, sizeof n->urls - at, "%s%s", i ? ", " : "",
                           cfg->urls[i]);
  if (make_options(n, cfg, err, errlen) || io_start(n, err, errlen)) {
    wp_nats_close(n);
    return -1;
  }
  natsStatus s = natsConnection_Connect(&n->nc, n->opts);
  if (s != NATS_OK) {
    connect_error(n, cfg, s, err, errlen);
    wp_nats_close(n);
    return -1;
  }
  jsOptions jo;
  char why[256];
  if ((s = jsOptions_Init(&jo)) == NATS_OK) {
    jo.Wait = JS_WAIT_MS;
    s = natsConnection_JetStream(&n->js, n->nc, &jo);
  }
  if (s != NATS_OK) {
    snprintf(err, errlen, "cannot use JetStream of NATS at %s: %s", n->urls,
             wp_nats_reason(s, why, sizeof why));
    wp_nats_close(n);
    return -1;
  }
  /* before the node claims its name: whoever sees the name can probe it */
  char subject[2 * WP_CLUSTER_NAME_MAX + 8];
  snprintf(subject, sizeof subject, "%s.n.%s.p", cfg->prefix, cfg->name);
  if ((s = natsConnection_Subscribe(&n->ping, n->nc, subject, on_ping, n)) != NATS_OK) {
    snprintf(err, errlen, "cannot subscribe to %s on NATS at %s: %s", subject, n->urls,
             wp_nats_reason(s, why, sizeof why));
    wp_nats_close(n);
    return -1;
  }
  return 0;
}

void wp_nats_retire(struct wp_nats *n, kvWatcher *w) {
  struct wp_nats_retired *r = wp_malloc(sizeof *r);
  if (!r) {
    /* without memory to keep it, stop it now: the race above is a
    ** narrow window, a watcher left running is a consumer for ever */
    kvWatcher_Destroy(w);
    return;
  }
  r->w = w;
  r->at = wp_clock_ns();
  pthread_mutex_lock(&n->retired_lock);
  r->next = n->retired;
  n->retired = r;
  pthread_mutex_unlock(&n->retired_lock);
}

/* Takes what w has delivered (it is no longer read otherwise): a retired
** watcher's consumer goes on delivering every change of its bucket. */
static void drain(kvWatcher *w) {
  for (int i = 0; i < 1024; i++) {
    kvEntry *e = NULL;
    if (kvWatcher_Next(&e, w, 1) != NATS_OK) return; /* empty (a timeout), or stopped */
    if (e) kvEntry_Destroy(e);
  }
}

void wp_nats_reap(struct wp_nats *n) {
  pthread_mutex_lock(&n->retired_lock);
  if (!n->retired) {
    pthread_mutex_unlock(&n->retired_lock);
    return;
  }
  uint64_t back = atomic_load(&n->reconnect_ns); /* 0: none yet; read before now */
  uint64_t now = wp_clock_ns(), settle = n->settle_ns;
  int calm = (!back || now - back >= settle) &&
             natsConnection_Status(n->nc) == NATS_CONN_STATUS_CONNECTED;
  struct wp_nats_retired *done = NULL;
  size_t kept = 0;
  for (struct wp_nats_retired **pp = &n->retired; *pp;) {
    struct wp_nats_retired *r = *pp;
    /* the newest first: beyond RETIRED_MAX (a connection that never stays
    ** up for long) the oldest go regardless, the narrow race above rather
    ** than consumers without bound */
    if ((calm && now - r->at >= settle) || kept == RETIRED_MAX) {
      *pp = r->next;
      r->next = done;
      done = r;
      continue;
    }
    drain(r->w);
    kept++;
    pp = &r->next;
  }
  pthread_mutex_unlock(&n->retired_lock);
  int gone = 0;
  for (struct wp_nats_retired *next; done; done = next) {
    next = done->next;
    kvWatcher_Destroy(done->w);
    wp_free(done);
    gone++;
  }
  if (gone)
    wp_logf(WP_LOG_DEBUG, "cluster: node %s stopped %d replaced watcher(s); %zu left", n->node,
            gone, kept);
}

void wp_nats_close(struct wp_nats *n) {
  if (n->ping) {
    natsSubscription_Unsubscribe(n->ping);
    natsSubscription_Destroy(n->ping);
    n->ping = NULL;
  }
  if (n->js) jsCtx_Destroy(n->js);
  if (n->nc) {
    atomic_store(&n->closing, 1);
    natsConnection_Close(n->nc);
  }
  /* closed: their unsubscribe fails, so no consumer is deleted by a name
  ** a reset may be freeing (see wp_nats_retire) */
  while (n->retired) {
    struct wp_nats_retired *r = n->retired;
    n->retired = r->next;
    kvWatcher_Destroy(r->w);
    wp_free(r);
  }
  if (n->has_retired_lock) {
    pthread_mutex_destroy(&n->retired_lock);
    n->has_retired_lock = 0;
  }
  io_stop(n); /* closed: libnats has detached the socket */
  if (n->nc) natsConnection_Destroy(n->nc);
  if (n->opts) natsOptions_Destroy(n->opts);
  n->js = NULL;
  n->nc = NULL;
  n->opts = NULL;
}

void wp_nats_shutdown(void) { nats_CloseAndWait(CLOSE_WAIT_MS); }
