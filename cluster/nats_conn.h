/*
** nats_conn.h: the cluster layer's NATS connection (nats_conn.c): options
** from a wp_cluster_config, a bounded connect, JetStream, and the wording
** of libnats's errors for users. Private to cluster/.
*/
#ifndef WP_NATS_CONN_H
#define WP_NATS_CONN_H

#include <nats/nats.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "cluster.h"

/* Told of a loss of the connection's stream (a disconnect, a reconnect, a
** slow-consumer report), on a libnats thread; why names it. */
typedef void (*wp_nats_loss_fn)(void *arg, const char *why);
/* The I/O hook (wp_nats_set_io): runs on the thread that drives the
** socket (the I/O thread, or a worker it is lent to: one at a time) once
** per round, before it writes and polls; returns how long that thread may
** then wait for the socket or a wake-up, in ms (-1: no bound, 0: not at
** all). It must never wait on NATS itself: nothing would read the reply. */
typedef int (*wp_nats_io_fn)(void *arg);

struct wp_nats {
  natsOptions *opts;
  natsConnection *nc;
  jsCtx *js;
  char urls[512]; /* the configured URLs, comma-separated, for messages */
  char node[WP_CLUSTER_NAME_MAX + 1]; /* for log lines of its callbacks */
  _Atomic int closing; /* a disconnection now is ours: not logged */
  /* the transport's hook (transport.c), set once it runs, else NULL */
  _Atomic(wp_nats_loss_fn) on_loss;
  _Atomic(void *) loss_arg;
  /* reconnections so far: a watcher made before one may have gone quiet
  ** (kvwatch.c makes a new one when this moves) */
  _Atomic uint64_t reconnects;
  _Atomic uint64_t reconnect_ns; /* when the last one came (monotonic) */
  /* watchers given up (wp_nats_retire), destroyed once that is safe */
  pthread_mutex_t retired_lock;
  int has_retired_lock;
  struct wp_nats_retired *retired;
  uint64_t settle_ns; /* RETIRE_SETTLE_MS, or a test's WIPPY_CLUSTER_TEST_SETTLE_MS */
  /* answers <prefix>.n.<node>.p while the connection lives: a request
  ** there from another node gets "no responders" from the server once this
  ** node's connection is gone (transport.c's prober) */
  natsSubscription *ping;
  /* the I/O thread (nats_conn.c's design note), and what it shares with
  ** libnats's event-loop callbacks and with wp_nats_set_io: under io_lock */
  pthread_t io;
  int has_io, has_io_lock, has_io_efd;
  int io_efd; /* an eventfd: a write wakes the thread's poll */
  pthread_mutex_t io_lock;
  pthread_mutex_t io_wlock; /* the writer's: see io_write_out */
  pthread_cond_t io_cond; /* the hook left: wp_nats_set_io's wait */
  natsConnection *io_nc;  /* as attached (n->nc is set only after connect) */
  int io_fd;              /* the socket to poll; -1: none (detached) */
  int io_rd, io_wr;       /* libnats wants to read, to write */
  int io_stop;
  /* Lending the socket to a scheduler's idle workers (nats_conn.c's
  ** design note). drive_lock: held by whoever drives the socket (polls
  ** it, has libnats read and write, runs the hook); the fields after it
  ** are that holder's, or atomics. */
  pthread_mutex_t drive_lock;
  int has_drive, sb_efd;      /* sb_efd: wakes the I/O thread on standby */
  int tls;                    /* never lent: a TLS read may wait for a record */
  _Atomic int lent;           /* the workers drive; the I/O thread stands by */
  _Atomic int io_driving;     /* the I/O thread holds drive_lock */
  _Atomic int handover;       /* a parking worker waits for drive_lock */
  _Atomic int polling;        /* the holder is in poll */
  _Atomic int park_woken;     /* wp_nats_park_wake's, until a parking worker sees it */
  _Atomic int io_up;          /* a socket is attached (not reconnecting) */
  _Atomic uint64_t hook_due;  /* when the hook asked to run again (0: no time) */
  _Atomic uint64_t driven_ns; /* when a driver last let go (monotonic) */
  pthread_mutex_t lend_lock;  /* all_parked and its arg, while lent */
  int (*all_parked)(void *);
  void *parked_arg;
  struct pollfd wpoll[2];     /* a worker's poll, from wait to ready */
  int wnp;
  natsConnection *wnc;
  wp_nats_io_fn io_hook;
  void *io_hook_arg;
  int io_in_hook;
};

/* Connects n (zeroed by the caller; stays at a fixed address while
** connected: libnats's callbacks point at it) as cfg says (borrowed) and
** opens its JetStream context. Connecting is bounded (one try per URL,
** each with a timeout); once connected, the connection reconnects on its
** own for as long as it lives, and logs each loss and return. 0, or -1
** with a message naming the URL or the file and key at fault in err (n is
** then closed again). */
int wp_nats_connect(struct wp_nats *n, const struct wp_cluster_config *cfg, char *err,
                    size_t errlen);
/* Makes fn(arg) the I/O thread's hook (NULL: none); on removal, returns
** once the thread has left the hook. Not from the I/O thread. */
void wp_nats_set_io(struct wp_nats *n, wp_nats_io_fn fn, void *arg);
/* Wakes the socket's driver (any thread): the hook runs again soon; soon
** after the next run of a busy worker the socket is lent to. */
void wp_nats_wake(struct wp_nats *n);
/* Whether the calling thread drives n's socket (in the hook). */
int wp_nats_on_io(const struct wp_nats *n);
/* A scheduler worker stands in for the I/O thread (a direct send,
** flow.c): between enter and leave, what it publishes does not wake the
** I/O thread; leave writes what libnats holds to the socket without
** waiting, and wakes the I/O thread for what the socket did not take. */
void wp_nats_io_enter(struct wp_nats *n);
void wp_nats_io_leave(struct wp_nats *n);
/* Lends n's socket to a scheduler's idle workers (nats_conn.c's design
** note): from now on a worker that would park drives it
** (wp_nats_park_wait, _ready), and the I/O thread only stands in when none
** has for a while (wp_nats_tick) or when every worker is parked.
** all_parked(arg) says whether every worker is parked (with a full fence
** first: wp_sched_all_parked). Before the workers start; not with TLS
** (returns -1: a TLS read may wait for the rest of a record, which a
** worker must not). */
int wp_nats_lend(struct wp_nats *n, int (*all_parked)(void *), void *arg);
/* Takes the socket back (after the workers stopped; before what
** all_parked reads is freed): the I/O thread drives it again. */
void wp_nats_unlend(struct wp_nats *n);
/* wp_sched_park's hooks (see scheduler.h): wait polls the socket on a
** parking worker when nobody else does (returns 0 when another worker
** drives it for a moment: that one parks after it); wake ends the poll
** (any thread); ready has libnats read what came, runs the hook (which
** delivers it) and writes; tick kicks the I/O thread when nobody has
** driven the socket for KICK_MS. drive_now is a busy worker's look
** (the flush hook): what has come is read and taken, without waiting. */
int wp_nats_park_wait(struct wp_nats *n);
void wp_nats_park_wake(struct wp_nats *n);
/* Whether a socket is attached (0 while libnats reconnects). */
int wp_nats_up(const struct wp_nats *n);
void wp_nats_park_ready(struct wp_nats *n);
void wp_nats_tick(struct wp_nats *n);
void wp_nats_drive_now(struct wp_nats *n);
/* Frees msg (consumed), a message the I/O thread took from a synchronous
** subscription, on the calling thread. natsMsg_Destroy hands every
** received message to libnats's collector thread and wakes it when it
** sleeps: on a busy node one wake-up per read (4,000 a second at
** dist_echo 64), each taking a core from the worker. natsMsg_free is the
** collector's own free function; libnats exports it without declaring it
** in nats.h (3.4.1 and since), so a library without it fails the link. */
void wp_nats_msg_free(natsMsg *msg);
/* Takes watcher w (consumed) out of use. Never kvWatcher_Destroy a
** watcher while connected: libnats 3.4.1 resets every ordered consumer (a
** watcher is one) on a thread of its own at each reconnect, and again at
** each missed-heartbeat check (10 s) while the reset fails; destroying
** the watcher meanwhile deletes its consumer by a name the reset frees
** (a use after free, seen under ASan; fixed in later libnats). So a
** retired watcher is drained and then destroyed by wp_nats_reap once the
** connection has been up for RETIRE_SETTLE_MS (or when more than
** RETIRED_MAX wait), or by wp_nats_close after the connection is closed
** (its unsubscribe then fails and deletes nothing). */
void wp_nats_retire(struct wp_nats *n, kvWatcher *w);
/* Destroys the retired watchers that have settled (see wp_nats_retire)
** and drains the others (what their consumers still deliver). Call it
** every few hundred ms from one thread that may block: ~1 ms per retired
** watcher, and a JetStream round trip per destroyed one; nothing when
** there is none. */
void wp_nats_reap(struct wp_nats *n);
/* Closes n's connection and frees what wp_nats_connect made, retired
** watchers included. Idempotent. */
void wp_nats_close(struct wp_nats *n);
/* Tears libnats itself down (its threads and memory), after every
** connection is closed. */
void wp_nats_shutdown(void);
/* Why the last libnats call of this thread failed with s: libnats's own
** text without its "(file.c:123): " origin, else the status's text.
** Returns buf. */
const char *wp_nats_reason(natsStatus s, char *buf, size_t len);

#endif
