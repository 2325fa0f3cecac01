/*
** cluster.c: joining, staying in and leaving a cluster (see cluster.h).
**
** Design note. Membership is a JetStream key-value bucket, <prefix>_nodes,
** with one key per live node: its name. The value says which life of the
** name holds it ({"incarnation":N,...}). Every write is a compare-and-swap
** on the key's revision, so of two writers exactly one wins:
**
**   - Joining creates the key (first writer wins). When the key exists, its
**     holder is live if the revision moves while we watch it. The watch
**     lasts until the entry has gone down_after without a renewal, and at
**     least two heartbeats, so a clock running ahead of the server's cannot
**     make a live holder look silent. A silent holder's key is taken over by
**     an update on the revision we watched: if the holder (or another node
**     joining) wrote in between, the update fails and we look again.
**   - A node renews its key every heartbeat from a thread of its own (a
**     scheduler worker never waits on NATS). An update refused because the
**     key moved on is either our own earlier write whose reply was lost
**     (the key still holds our incarnation, unmarked: we take its
**     revision), or the cluster decided we were gone: another node marked
**     our life departed after we renewed nothing for down_after
**     (transport.c), took the name over, or the key was deleted. The node
**     then logs that it lost its membership and is fenced: its cross-node
**     monitors and links fire, nothing of its life is sent or delivered
**     any more, each process holding a cluster name gets CANCEL "name
**     revoked: <name>" (cnames.c), and it rejoins under a new incarnation
**     as soon as it can claim its name again (every heartbeat; a name a
**     live node holds stays refused).
**   - Leaving deletes the key, so the name is free at once.
**
** Incarnations live in a second bucket, <prefix>_incarnations, one counter
** per name, raised by compare-and-swap at every join. They cannot live in
** the membership entry: a graceful leave deletes it, and with history 1
** its last value goes with it. The incarnation seeds the node's pid counter
** (cli/main.c), so pids of one life never repeat another's; a raise whose
** join then fails only leaves a gap.
**
** Ages come from the server's timestamp of the entry (kvEntry_Created)
** against this machine's wall clock; the minimum watch above bounds what a
** skew between the two can do.
*/
#include "cluster.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "clock.h"
#include "duration.h"
#include "log.h"
#include "nats_conn.h"
#include "cnames.h"
#include "cpg.h"
#include "transport.h"

/* Attempts at a compare-and-swap that others keep winning: only nodes
** starting under the same name at the same moment lose this many. */
#define MAX_TRIES 8
/* How long NATS may take to show an entry being watched. */
#define FIRST_ANSWER_NS 5000000000u
/* Incarnations fit the pid counter's top 28 bits (cli/main.c). */
#define MAX_INCARNATION ((UINT64_C(1) << 28) - 1)

struct wp_cluster {
  struct wp_nats nats;
  kvStore *nodes; /* <prefix>_nodes */
  kvStore *incs;  /* <prefix>_incarnations */
  char name[WP_CLUSTER_NAME_MAX + 1];
  char prefix[WP_CLUSTER_NAME_MAX + 1];
  kvStore *names; /* <prefix>_names */
  struct wp_transport *tr; /* once started (transport.c); NULL once stopped */
  /* the transport from its start to wp_cluster_leave: scheduler workers
  ** flush through it (wp_cluster_flush) until they stop, which is after
  ** the transport stopped; freed by cluster_free */
  struct wp_transport *flush_tr;
  struct wp_cnames *cn;    /* once started (cnames.c) */
  struct wp_cpg *pg;       /* once started (cpg.c) */
  wp_cluster_down_fn down; /* the runtime's down hook, or NULL */
  void *down_ctx;
  char bucket[2 * WP_CLUSTER_NAME_MAX]; /* <prefix>_nodes, for messages */
  int64_t heartbeat_ns, down_after_ns;
  _Atomic uint64_t incarnation; /* a new one when a fenced node rejoins */
  char addr[256]; /* URL of the NATS server joined through ("" unknown) */
  char value[256]; /* the entry this node writes */
  int vlen;
  uint64_t rev; /* our entry's last revision (the heartbeat thread's once joined) */
  pthread_t thread;
  int has_thread;
  pthread_mutex_t lock;
  pthread_cond_t cond; /* on CLOCK_MONOTONIC */
  int stop;            /* under lock: leave() asks the heartbeat thread to end */
  int lost;            /* fenced, not rejoined (heartbeat thread; read after join) */
  int in_fence;        /* under lock: the heartbeat thread uses tr and cn */
};

/* ---- configuration ---- */

int wp_cluster_name_ok(const char *s) {
  size_t n = 0;
  for (; s[n]; n++) {
    char ch = s[n];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '_' || ch == '-'))
      return 0;
  }
  return n >= 1 && n <= WP_CLUSTER_NAME_MAX;
}

/* A file the user named under `key`: readable, or an error naming both. */
static int check_file(const char *key, const char *path, char *err, size_t errlen) {
  if (!path) return 0;
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "cannot read %s file %s: %s; fix the path or remove %s", key, path,
             strerror(errno), key);
    return -1;
  }
  fclose(f);
  return 0;
}

int wp_cluster_check(const struct wp_cluster_config *cfg, char *err, size_t errlen) {
  if (!cfg->name || !wp_cluster_name_ok(cfg->name)) {
    snprintf(err, errlen,
             "node name \"%.64s\" is not valid: use 1 to %d letters, digits, '_' or '-' "
             "(set cluster.name or --node)",
             cfg->name ? cfg->name : "", WP_CLUSTER_NAME_MAX);
    return -1;
  }
  if (strcmp(cfg->name, "local") == 0) {
    snprintf(err, errlen,
             "node name \"local\" is reserved (pids of a standalone node have no node part); "
             "set cluster.name or --node to another name");
    return -1;
  }
  if (!cfg->prefix || !wp_cluster_name_ok(cfg->prefix)) {
    snprintf(err, errlen,
             "cluster.nats.prefix \"%.64s\" is not valid: use 1 to %d letters, digits, '_' or "
             "'-'",
             cfg->prefix ? cfg->prefix : "", WP_CLUSTER_NAME_MAX);
    return -1;
  }
  if (cfg->nurls < 1) {
    snprintf(err, errlen,
             "cluster.nats.url names no server: give a URL such as nats://127.0.0.1:4222");
    return -1;
  }
  for (int i = 0; i < cfg->nurls; i++) {
    if (!cfg->urls[i] || !cfg->urls[i][0]) {
      snprintf(err, errlen,
               "cluster.nats.url holds an empty URL: give URLs such as nats://127.0.0.1:4222");
      return -1;
    }
  }
  char hb[32], da[32];
  wp_duration_format(cfg->heartbeat_ns, hb, sizeof hb);
  wp_duration_format(cfg->down_after_ns, da, sizeof da);
  if (cfg->heartbeat_ns < 1000000) {
    snprintf(err, errlen, "cluster.heartbeat (%s) must be at least 1ms, such as \"500ms\"", hb);
    return -1;
  }
  if (cfg->down_after_ns / 2 <= cfg->heartbeat_ns) {
    snprintf(err, errlen,
             "cluster.down_after (%s) must be more than twice cluster.heartbeat (%s): a node "
             "is declared gone only after missing two heartbeats",
             da, hb);
    return -1;
  }
  if (!cfg->tls_cert != !cfg->tls_key) {
    snprintf(err, errlen, "%s is set without %s: give the certificate and its key together",
             cfg->tls_cert ? "cluster.nats.tls.cert" : "cluster.nats.tls.key",
             cfg->tls_cert ? "cluster.nats.tls.key" : "cluster.nats.tls.cert");
    return -1;
  }
  return check_file("cluster.nats.creds", cfg->creds, err, errlen) ||
                 check_file("cluster.nats.tls.ca", cfg->tls_ca, err, errlen) ||
                 check_file("cluster.nats.tls.cert", cfg->tls_cert, err, errlen) ||
                 check_file("cluster.nats.tls.key", cfg->tls_key, err, errlen)
             ? -1
             : 0;
}

/* ---- entries ---- */

/* What an entry of the membership bucket says about its holder. */
struct holder {
  uint64_t rev;
  uint64_t incarnation; /* 0: not one of our values */
  long os_pid;
  char host[64];
  int64_t written_ns; /* the server's wall time of the write */
  int departed;       /* marked departed for its silence (transport.c) */
};

/* The number after `"key":` in text, or 0. */
static uint64_t json_u64(const char *text, const char *key) {
  const char *p = strstr(text, key);
  if (!p) return 0;
  p += strlen(key);
  return strtoull(p, NULL, 10);
}

static void read_holder(kvEntry *e, struct holder *h) {
  char text[256];
  int n = kvEntry_ValueLen(e);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof text) n = sizeof text - 1;
  if (n) memcpy(text, kvEntry_Value(e), (size_t)n);
  text[n] = '\0';
  h->rev = kvEntry_Revision(e);
  h->written_ns = kvEntry_Created(e);
  h->incarnation = json_u64(text, "\"incarnation\":");
  h->os_pid = (long)json_u64(text, "\"os_pid\":");
  h->departed = strstr(text, "\"departed\":true") != NULL;
  snprintf(h->host, sizeof h->host, "?");
  const char *p = strstr(text, "\"host\":\"");
  if (p) {
    p += 8;
    size_t l = strcspn(p, "\"");
    if (l >= sizeof h->host) l = sizeof h->host - 1;
    memcpy(h->host, p, l);
    h->host[l] = '\0';
  }
}

/* The value this node writes: its incarnation, its boot time and where it
** runs (for the message a node refused its name shows), and how long it
** may stay silent (others wait the longer of theirs and this). */
static void make_value(struct wp_cluster *c) {
  char host[64] = "";
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  for (char *p = host; *p; p++) /* only what needs no JSON escape */
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '.' || *p == '-' || *p == '_'))
      *p = '_';
  c->vlen = snprintf(c->value, sizeof c->value,
                     "{\"incarnation\":%" PRIu64 ",\"boot_ms\":%lld,\"host\":\"%s\","
                     "\"os_pid\":%ld,\"down_after_ms\":%lld}",
                     c->incarnation, (long long)(wp_wall_ns() / 1000000), host, (long)getpid(),
                     (long long)(c->down_after_ns / 1000000));
}

/* ---- joining ---- */

/* Binds kv to bucket <prefix>_<suffix>, creating it (history 1) when missing. */
static int open_bucket(struct wp_cluster *c, const char *prefix, const char *suffix,
                       kvStore **kv, char *err, size_t errlen) {
  char bucket[2 * WP_CLUSTER_NAME_MAX], why[256];
  snprintf(bucket, sizeof bucket, "%s_%s", prefix, suffix);
  natsStatus s = js_KeyValue(kv, c->nats.js, bucket);
  if (s == NATS_NOT_FOUND) {
    kvConfig kc;
    kvConfig_Init(&kc);
    kc.Bucket = bucket;
    kc.History = 1;
    s = js_CreateKeyValue(kv, c->nats.js, &kc);
    if (s != NATS_OK && js_KeyValue(kv, c->nats.js, bucket) == NATS_OK) s = NATS_OK; /* made meanwhile */
  }
  if (s == NATS_OK) return 0;
  wp_nats_reason(s, why, sizeof why);
  if (s == NATS_NO_RESPONDERS || strstr(why, "not enabled"))
    snprintf(err, errlen,
             "NATS at %s has no JetStream (%s); start nats-server with -js (JetStream on)",
             c->nats.urls, why);
  else
    snprintf(err, errlen, "cannot open the key-value bucket %s on NATS at %s: %s", bucket,
             c->nats.urls, why);
  return -1;
}

/* Raises the name's incarnation counter by compare-and-swap. */
static int next_incarnation(struct wp_cluster *c, const char *prefix, char *err,
                            size_t errlen) {
  char why[256], text[32];
  for (int i = 0; i < MAX_TRIES; i++) {
    kvEntry *e = NULL;
    uint64_t rev = 0;
    natsStatus s = kvStore_Get(&e, c->incs, c->name);
    if (s == NATS_NOT_FOUND) {
      if (kvStore_CreateString(&rev, c->incs, c->name, "1") == NATS_OK) {
        c->incarnation = 1;
        return 0;
      }
      continue; /* made meanwhile (or NATS failed: the next read says) */
    }
    if (s != NATS_OK) {
      snprintf(err, errlen, "cannot read the incarnation of node %s in bucket %s_incarnations: %s",
               c->name, prefix, wp_nats_reason(s, why, sizeof why));
      return -1;
    }
    int n = kvEntry_ValueLen(e);
    if (n <= 0 || (size_t)n >= sizeof text) n = 0;
    memcpy(text, kvEntry_Value(e), (size_t)n);
    text[n] = '\0';
    uint64_t last = kvEntry_Revision(e);
    kvEntry_Destroy(e);
    char *end;
    errno = 0;
    unsigned long long inc = strtoull(text, &end, 10);
    if (n == 0 || *end || errno || text[0] < '0' || text[0] > '9' || inc >= MAX_INCARNATION) {
      snprintf(err, errlen,
               "bucket %s_incarnations holds \"%s\" for node %s, not an incarnation below %" PRIu64
               "; delete that key (pids of the node's earlier lives may then repeat)",
               prefix, text, c->name, MAX_INCARNATION);
      return -1;
    }
    snprintf(text, sizeof text, "%llu", inc + 1);
    if (kvStore_UpdateString(&rev, c->incs, c->name, text, last) == NATS_OK) {
      c->incarnation = inc + 1;
      return 0;
    }
  }
  snprintf(err, errlen,
           "the incarnation of node %s kept changing while this node read it: other nodes "
           "start with the same name; give each node its own cluster.name",
           c->name);
  return -1;
}

enum { HOLDER_FREE, HOLDER_LIVE, HOLDER_SILENT, HOLDER_ERROR };

/* Watches the name's entry: FREE when there is none (or it goes away),
** LIVE when its holder renews it, SILENT when it goes down_after (and two
** heartbeats) without a renewal. h describes the holder. */
static int watch_holder(struct wp_cluster *c, struct holder *h, char *err, size_t errlen) {
  char why[256];
  kvWatcher *w = NULL;
  natsStatus s = kvStore_Watch(&w, c->nodes, c->name, NULL);
  if (s != NATS_OK) {
    snprintf(err, errlen, "cannot watch node %s in bucket %s: %s", c->name, c->bucket,
             wp_nats_reason(s, why, sizeof why));
    return HOLDER_ERROR;
  }
  int have = 0, rc = HOLDER_ERROR;
  /* the entry as it is first (a NULL entry once all of it came), then changes */
  uint64_t deadline = wp_clock_ns() + FIRST_ANSWER_NS;
  for (;;) {
    uint64_t now = wp_clock_ns();
    int64_t left_ms = now < deadline ? (int64_t)((deadline - now) / 1000000) : 0;
    kvEntry *e = NULL;
    s = kvWatcher_Next(&e, w, left_ms > 0 ? left_ms : 1);
    if (s == NATS_TIMEOUT && have) {
      rc = HOLDER_SILENT;
      break;
    }
    if (s != NATS_OK) {
      snprintf(err, errlen, "cannot watch node %s in bucket %s: %s", c->name, c->bucket,
               wp_nats_reason(s, why, sizeof why));
      break;
    }
    if (!e) {
      if (!have) {
        rc = HOLDER_FREE;
        break;
      }
      continue;
    }
    int put = kvEntry_Operation(e) == kvOp_Put;
    if (!have && put) {
      read_holder(e, h);
      have = 1;
      if (h->departed) { /* the cluster departed that life already */
        rc = HOLDER_SILENT;
        kvEntry_Destroy(e);
        break;
      }
      int64_t age = wp_wall_ns() - h->written_ns, window = c->down_after_ns - age;
      if (age < 0) window = c->down_after_ns;
      if (window < 2 * c->heartbeat_ns) window = 2 * c->heartbeat_ns;
      deadline = wp_clock_ns() + (uint64_t)window;
      char ws[32];
      wp_duration_format(window / 1000000 * 1000000, ws, sizeof ws); /* to the ms */
      wp_logf(WP_LOG_INFO,
              "cluster: node name %s is held by incarnation %" PRIu64
              "; watching %s for its renewal",
              c->name, h->incarnation, ws);
    } else if (!have || kvEntry_Revision(e) != h->rev) {
      /* a renewal, unless another node marked that life departed meanwhile
      ** (transport.c): then it is free to take */
      if (put) read_holder(e, h);
      rc = !put ? HOLDER_FREE : h->departed ? HOLDER_SILENT : HOLDER_LIVE;
      kvEntry_Destroy(e);
      break;
    }
    kvEntry_Destroy(e);
  }
  wp_nats_retire(&c->nats, w); /* see there: a reconnect may have come meanwhile */
  return rc;
}

/* Claims the name: creates its entry, or takes over a silent holder's. */
static int claim(struct wp_cluster *c, char *err, size_t errlen) {
  char why[256] = "";
  for (int i = 0; i < MAX_TRIES; i++) {
    uint64_t rev = 0;
    natsStatus s = kvStore_Create(&rev, c->nodes, c->name, c->value, c->vlen);
    if (s == NATS_OK) {
      c->rev = rev;
      return 0;
    }
    wp_nats_reason(s, why, sizeof why);
    struct holder h;
    memset(&h, 0, sizeof h);
    switch (watch_holder(c, &h, err, errlen)) {
      case HOLDER_ERROR: return -1;
      case HOLDER_FREE: continue;
      case HOLDER_LIVE:
        snprintf(err, errlen,
                 "node name %s is in use by a live node (incarnation %" PRIu64
                 ", os pid %ld on host %s); give this node another cluster.name (or --node), or "
                 "stop that node first",
                 c->name, h.incarnation, h.os_pid, h.host);
        return -1;
      default:
        if (kvStore_Update(&rev, c->nodes, c->name, c->value, c->vlen, h.rev) == NATS_OK) {
          c->rev = rev;
          if (h.departed)
            wp_logf(WP_LOG_INFO,
                    "cluster: node %s took its name back from incarnation %" PRIu64
                    ", which the cluster departed",
                    c->name, h.incarnation);
          else
            wp_logf(WP_LOG_WARN,
                    "cluster: node %s took its name over from incarnation %" PRIu64
                    " (os pid %ld on host %s), which stopped renewing it",
                    c->name, h.incarnation, h.os_pid, h.host);
          return 0;
        }
        /* written meanwhile: look again */
    }
  }
  snprintf(err, errlen, "cannot claim node name %s in bucket %s after %d tries: %s", c->name,
           c->bucket, MAX_TRIES, why);
  return -1;
}

/* ---- heartbeat ---- */

/* One renewal. 0: renewed, or to be tried again next beat; 1: the name
** was taken over (logged). *failing: renewals are failing (logged once). */
static int renew(struct wp_cluster *c, int *failing) {
  char why[256];
  uint64_t rev = 0;
  natsStatus s = kvStore_Update(&rev, c->nodes, c->name, c->value, c->vlen, c->rev);
  if (s == NATS_OK) {
    c->rev = rev;
    if (*failing) wp_logf(WP_LOG_INFO, "cluster: node %s renews its membership again", c->name);
    *failing = 0;
    return 0;
  }
  wp_nats_reason(s, why, sizeof why);
  kvEntry *e = NULL;
  natsStatus g = kvStore_Get(&e, c->nodes, c->name);
  if (g == NATS_OK) {
    struct holder h;
    read_holder(e, &h);
    kvEntry_Destroy(e);
    if (h.incarnation == c->incarnation && !h.departed) {
      c->rev = h.rev; /* our write landed; its reply did not */
      return 0;
    }
    if (h.incarnation == c->incarnation) {
      wp_logf(WP_LOG_ERROR,
              "cluster: node %s lost its membership: the cluster departed it after it "
              "renewed nothing for cluster.down_after (paused, or cut off from NATS)",
              c->name);
      return 1;
    }
    wp_logf(WP_LOG_ERROR,
            "cluster: node %s lost its membership: incarnation %" PRIu64
            " (os pid %ld on host %s) took the name over after this node went silent",
            c->name, h.incarnation, h.os_pid, h.host);
    return 1;
  }
  if (g == NATS_NOT_FOUND) {
    wp_logf(WP_LOG_ERROR,
            "cluster: node %s lost its membership: its entry in bucket %s was deleted",
            c->name, c->bucket);
    return 1;
  }
  if (!*failing)
    wp_logf(WP_LOG_WARN, "cluster: node %s cannot renew its membership: %s; retrying",
            c->name, why);
  *failing = 1;
  return 0;
}

/* This node lost its membership: ends what it held across the cluster
** (item 5 of issue 13): every cross-node monitor and link fires, nothing
** of this life is sent or delivered any more, and each process holding a
** cluster name is told it is revoked. The heartbeat thread's. */
static void fence(struct wp_cluster *c) {
  pthread_mutex_lock(&c->lock);
  struct wp_transport *tr = c->tr;
  struct wp_cnames *cn = c->cn;
  c->in_fence = 1; /* wp_cluster_stop_transport waits for this to clear */
  pthread_mutex_unlock(&c->lock);
  if (tr) wp_transport_fence(tr);
  if (cn) wp_cnames_fence(cn);
  wp_logf(WP_LOG_ERROR,
          "cluster: node %s is fenced: its monitors and links across nodes fired, its "
          "cluster names are revoked; it rejoins under a new incarnation",
          c->name);
  pthread_mutex_lock(&c->lock);
  c->in_fence = 0;
  pthread_cond_broadcast(&c->cond);
  pthread_mutex_unlock(&c->lock);
}

/* One try to rejoin a fenced node under a new incarnation; 0 when it did.
** *logged: a failure was logged (once per run of failures). */
static int rejoin(struct wp_cluster *c, int *logged) {
  char err[512];
  if (next_incarnation(c, c->prefix, err, sizeof err) == 0) {
    make_value(c);
    pthread_mutex_lock(&c->lock);
    if (c->tr) wp_transport_expect(c->tr, c->incarnation); /* before peers see it */
    pthread_mutex_unlock(&c->lock);
    if (claim(c, err, sizeof err) == 0) {
      pthread_mutex_lock(&c->lock);
      struct wp_transport *tr = c->tr;
      struct wp_cnames *cn = c->cn;
      c->in_fence = 1;
      pthread_mutex_unlock(&c->lock);
      if (tr) wp_transport_rejoin(tr, c->incarnation);
      if (cn) wp_cnames_rejoin(cn, c->incarnation);
      pthread_mutex_lock(&c->lock);
      c->in_fence = 0;
      pthread_cond_broadcast(&c->cond);
      pthread_mutex_unlock(&c->lock);
      wp_logf(WP_LOG_WARN, "cluster: node %s rejoined as incarnation %" PRIu64, c->name,
              c->incarnation);
      *logged = 0;
      return 0;
    }
  }
  if (!*logged)
    wp_logf(WP_LOG_ERROR, "cluster: node %s cannot rejoin yet: %s; trying again every heartbeat",
            c->name, err);
  *logged = 1;
  return 1;
}

static void *heartbeat_main(void *arg) {
  struct wp_cluster *c = arg;
  pthread_setname_np(pthread_self(), "wp-heartbeat");
  int failing = 0, logged = 0;
  uint64_t next = wp_clock_ns() + (uint64_t)c->heartbeat_ns;
  pthread_mutex_lock(&c->lock);
  while (!c->stop) {
    uint64_t now = wp_clock_ns();
    if (now < next) {
      struct timespec ts;
      wp_clock_deadline(CLOCK_MONOTONIC, (int64_t)(next - now), &ts);
      pthread_cond_timedwait(&c->cond, &c->lock, &ts);
      continue;
    }
    pthread_mutex_unlock(&c->lock);
    if (!c->lost && renew(c, &failing)) {
      c->lost = 1;
      fence(c);
    } else if (c->lost && rejoin(c, &logged) == 0) {
      c->lost = 0;
    }
    pthread_mutex_lock(&c->lock);
    /* the next beat a heartbeat after this one, or after now when a slow
    ** NATS held this one up (no burst of catch-up renewals) */
    next += (uint64_t)c->heartbeat_ns;
    now = wp_clock_ns();
    if (next < now) next = now + (uint64_t)c->heartbeat_ns;
  }
  pthread_mutex_unlock(&c->lock);
  return NULL;
}

/* ---- the node ---- */

static void cluster_free(struct wp_cluster *c) {
  wp_transport_free(c->flush_tr); /* stopped (wp_cluster_stop_transport) */
  if (c->nodes) kvStore_Destroy(c->nodes);
  if (c->incs) kvStore_Destroy(c->incs);
  if (c->names) kvStore_Destroy(c->names);
  wp_nats_close(&c->nats);
  wp_nats_shutdown();
  pthread_cond_destroy(&c->cond);
  pthread_mutex_destroy(&c->lock);
  wp_free(c);
}

struct wp_cluster *wp_cluster_join(const struct wp_cluster_config *cfg, char *err,
                                   size_t errlen) {
  if (wp_cluster_check(cfg, err, errlen)) return NULL;
  struct wp_cluster *c = wp_calloc(1, sizeof *c);
  if (!c) {
    snprintf(err, errlen, "cannot join the cluster: out of memory");
    return NULL;
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&c->cond, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&c->lock, NULL);
  snprintf(c->name, sizeof c->name, "%s", cfg->name);
  snprintf(c->prefix, sizeof c->prefix, "%s", cfg->prefix);
  snprintf(c->bucket, sizeof c->bucket, "%s_nodes", cfg->prefix);
  c->heartbeat_ns = cfg->heartbeat_ns;
  c->down_after_ns = cfg->down_after_ns;
  if (wp_nats_connect(&c->nats, cfg, err, errlen) ||
      open_bucket(c, cfg->prefix, "incarnations", &c->incs, err, errlen) ||
      open_bucket(c, cfg->prefix, "nodes", &c->nodes, err, errlen) ||
      open_bucket(c, cfg->prefix, "names", &c->names, err, errlen) ||
      next_incarnation(c, cfg->prefix, err, errlen))
    goto fail;
  make_value(c);
  if (claim(c, err, errlen)) goto fail;
  if (pthread_create(&c->thread, NULL, heartbeat_main, c) != 0) {
    snprintf(err, errlen, "cannot start the cluster heartbeat thread: %s", strerror(errno));
    kvStore_Delete(c->nodes, c->name);
    goto fail;
  }
  c->has_thread = 1;
  /* The server this node joined through: all a node can say of its own
  ** address while it listens for no peer itself (issue 13 item 9). */
  if (natsConnection_GetConnectedUrl(c->nats.nc, c->addr, sizeof c->addr) != NATS_OK)
    c->addr[0] = '\0';
  wp_logf(WP_LOG_INFO, "cluster: node %s joined as incarnation %" PRIu64 " (NATS at %s)",
          c->name, c->incarnation, c->nats.urls);
  return c;
fail:
  cluster_free(c);
  return NULL;
}

uint64_t wp_cluster_incarnation(const struct wp_cluster *c) { return c->incarnation; }

const char *wp_cluster_addr(const struct wp_cluster *c) { return c->addr; }

void wp_cluster_on_down(struct wp_cluster *c, wp_cluster_down_fn fn, void *ctx) {
  c->down = fn;
  c->down_ctx = ctx;
}

int wp_cluster_start_transport(struct wp_cluster *c, wp_cluster_deliver_fn deliver, void *ctx,
                               char *err, size_t errlen) {
  struct wp_transport *tr =
      wp_transport_start(&c->nats, c->nodes, c->prefix, c->name, c->incarnation,
                         c->down_after_ns, deliver, ctx, c->down, c->down_ctx, err, errlen);
  pthread_mutex_lock(&c->lock); /* the heartbeat thread reads it when it fences */
  c->tr = tr;
  pthread_mutex_unlock(&c->lock);
  c->flush_tr = tr; /* before the scheduler's workers start */
  return tr ? 0 : -1;
}

int wp_cluster_send(struct wp_cluster *c, const struct wp_cluster_frame *f, int how,
                    size_t *size, size_t *limit) {
  return c->tr ? wp_transport_send(c->tr, f, how, size, limit) : WP_CLUSTER_DOWN;
}

void wp_cluster_flush(struct wp_cluster *c, int idle) {
  if (c->flush_tr) wp_transport_flush(c->flush_tr, idle);
  /* a busy worker that holds the socket on loan looks at it between runs
  ** (an idle one waits on it when it parks) */
  if (!idle) wp_nats_drive_now(&c->nats);
}

int wp_cluster_lend(struct wp_cluster *c, int (*all_parked)(void *), void *arg) {
  return wp_nats_lend(&c->nats, all_parked, arg);
}

void wp_cluster_unlend(struct wp_cluster *c) {
  if (c) wp_nats_unlend(&c->nats);
}

int wp_cluster_park_wait(void *c) { return wp_nats_park_wait(&((struct wp_cluster *)c)->nats); }
void wp_cluster_park_wake(void *c) { wp_nats_park_wake(&((struct wp_cluster *)c)->nats); }
int wp_cluster_on_io(struct wp_cluster *c) { return c && wp_nats_on_io(&c->nats); }
void wp_cluster_park_ready(void *c) { wp_nats_park_ready(&((struct wp_cluster *)c)->nats); }
void wp_cluster_park_tick(void *c) { wp_nats_tick(&((struct wp_cluster *)c)->nats); }

void wp_cluster_stats(const struct wp_cluster *c, struct wp_cluster_stats *s) {
  if (c->tr)
    wp_transport_stats(c->tr, s);
  else
    memset(s, 0, sizeof *s);
}

int wp_cluster_start_names(struct wp_cluster *c, const struct wp_cluster_names_hooks *hooks,
                           char *err, size_t errlen) {
  if (!c->tr) {
    snprintf(err, errlen, "cluster names need the transport started first");
    return -1;
  }
  struct wp_cnames *cn = wp_cnames_start(&c->nats, c->names, c->tr, c->prefix, c->name,
                                         c->incarnation, hooks, err, errlen);
  pthread_mutex_lock(&c->lock);
  c->cn = cn;
  pthread_mutex_unlock(&c->lock);
  return cn ? 0 : -1;
}

size_t wp_cluster_name_lookup(struct wp_cluster *c, const char *name, size_t nlen, char *out,
                              size_t cap, int *scope) {
  return c->cn ? wp_cnames_lookup(c->cn, name, nlen, out, cap, scope) : 0;
}

int wp_cluster_name_request(struct wp_cluster *c, int op, int scope, const char *name,
                            size_t nlen, const char *pid, size_t plen, uint64_t t1,
                            uint64_t t2) {
  return c->cn ? wp_cnames_request(c->cn, op, scope, name, nlen, pid, plen, t1, t2) : -1;
}

void wp_cluster_names_release(struct wp_cluster *c, const char *pid, size_t plen) {
  if (c->cn) wp_cnames_release(c->cn, pid, plen);
}

size_t wp_cluster_members(struct wp_cluster *c, char (*out)[WP_CLUSTER_NAME_MAX + 1],
                          size_t max) {
  return c->tr ? wp_transport_members(c->tr, out, max) : 0;
}

size_t wp_cluster_leader(struct wp_cluster *c, char *out, size_t cap) {
  return c->cn ? wp_cnames_leader(c->cn, out, cap) : 0;
}

int wp_cluster_start_pg(struct wp_cluster *c, const struct wp_cluster_pg_hooks *hooks,
                        char *err, size_t errlen) {
  if (!c->tr) {
    snprintf(err, errlen, "cluster groups need the transport started first");
    return -1;
  }
  c->pg = wp_cpg_start(c, &c->nats, c->tr, c->prefix, c->name, c->down_after_ns, hooks, err,
                       errlen);
  return c->pg ? 0 : -1;
}

void wp_cluster_pg_wake(struct wp_cluster *c) {
  if (c->pg) wp_cpg_wake(c->pg);
}

size_t wp_cluster_pg_limit(struct wp_cluster *c) { return c->pg ? wp_cpg_limit(c->pg) : 0; }

void wp_cluster_stop_transport(struct wp_cluster *c) {
  if (!c) return;
  /* pg first: its threads read the names (the leader) and the transport
  ** (the member view) through c until they are joined */
  wp_cpg_stop(c->pg);
  c->pg = NULL;
  pthread_mutex_lock(&c->lock); /* not while the heartbeat thread fences */
  while (c->in_fence) pthread_cond_wait(&c->cond, &c->lock);
  struct wp_cnames *cn = c->cn;
  struct wp_transport *tr = c->tr;
  c->cn = NULL;
  c->tr = NULL;
  pthread_mutex_unlock(&c->lock);
  wp_cnames_stop(cn); /* before the transport: it reads the member view */
  wp_transport_stop(tr);
}

void wp_cluster_leave(struct wp_cluster *c) {
  if (!c) return;
  wp_cluster_stop_transport(c);
  if (c->has_thread) {
    pthread_mutex_lock(&c->lock);
    c->stop = 1;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
  }
  /* Delete the entry only while it is ours. A takeover between the read
  ** and the delete would need this node silent for down_after just now;
  ** a delete guarded by the revision needs a header libnats's KV calls do
  ** not take. */
  kvEntry *e = NULL;
  if (!c->lost && kvStore_Get(&e, c->nodes, c->name) == NATS_OK) {
    struct holder h;
    read_holder(e, &h);
    kvEntry_Destroy(e);
    char why[256];
    natsStatus s = h.incarnation == c->incarnation ? kvStore_Delete(c->nodes, c->name) : NATS_OK;
    if (s != NATS_OK)
      wp_logf(WP_LOG_WARN,
              "cluster: node %s could not free its name: %s; others may take it "
              "cluster.down_after from now",
              c->name, wp_nats_reason(s, why, sizeof why));
  }
  wp_logf(WP_LOG_INFO, "cluster: node %s left", c->name);
  cluster_free(c);
}
