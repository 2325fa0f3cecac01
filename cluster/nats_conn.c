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
*/
#include "nats_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
      (s = natsOptions_SetErrorHandler(n->opts, on_error, n)) != NATS_OK) {
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
  if (cfg->tls_ca || cfg->tls_cert) {
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
      else
        snprintf(err, errlen, "cannot connect to NATS at %s: %s", n->urls, why);
  }
}

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
  if (make_options(n, cfg, err, errlen)) {
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
  if (n->nc) natsConnection_Destroy(n->nc);
  if (n->opts) natsOptions_Destroy(n->opts);
  n->js = NULL;
  n->nc = NULL;
  n->opts = NULL;
}

void wp_nats_shutdown(void) { nats_CloseAndWait(CLOSE_WAIT_MS); }
