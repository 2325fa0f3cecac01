/*
** prom.c: the Prometheus endpoint (prom.h).
**
** Design note. Like the control endpoint (control.c), a scrape never stops
** the scheduler or touches a process's Lua state: it reads the workers'
** counters (wp_sched_view), walks the process table reading what each
** process published (vm/observe.c), reads the services' view, and sums
** the collector's per-thread shards (util/metrics.c), where spawns and
** exits (by host) and the apps' metrics are counted. What a process pays is
** therefore what the control endpoint already costs plus, per spawn and per
** exit, one update of its own thread's shard; a send is one counter of its
** worker, counted whether metrics are on or not (as deliveries are).
*/
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "alloc.h"
#include "ctlview.h"
#include "metrics.h"
#include "prom.h"
#include "service.h"

#define MAX_WORKERS 1024

struct wp_prom {
  struct wp_rt *rt;
  struct MHD_Daemon *d;
};

static void census_one(struct wp_proc *p, void *ud) {
  struct wp_observe_proc o;
  wp_observe_proc(p, &o);
  wp_ctlview_census_add(ud, &o, "none");
}

static int put(struct wp_buf *b, const char *s) { return wp_buf_append(b, s, strlen(s)); }

static int family(struct wp_buf *b, const char *name, const char *type, const char *help) {
  char t[512];
  snprintf(t, sizeof t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
  return put(b, t);
}

static int sample(struct wp_buf *b, const char *name, const char *labels, double v) {
  char t[64];
  int rc = put(b, name);
  if (labels && labels[0]) rc |= put(b, "{") | put(b, labels) | put(b, "}");
  wp_metrics_fmt(t, sizeof t, v);
  return rc | put(b, " ") | put(b, t) | put(b, "\n");
}

struct svc_acc {
  struct wp_buf *b;
  int rc;
};

static void svc_one(void *ud, const struct wp_service_view *v) {
  struct svc_acc *a = ud;
  if (v->is_host) return;
  struct wp_buf l = WP_BUF_INIT;
  a->rc |= wp_metrics_label(&l, "service", v->id, strlen(v->id)) | wp_buf_append(&l, "", 1);
  if (!a->rc) a->rc |= sample(a->b, "wippy_service_restarts_total", (char *)l.data, v->restarts);
  wp_buf_free(&l);
}

/* The runtime's metrics (all but the exits, which the collector keeps). */
static int runtime_metrics(struct wp_prom *p, struct wp_buf *b) {
  struct wp_rt *rt = p->rt;
  struct wp_ptab *pt = wp_sched_ptab(rt->sched);
  static struct wp_sched_wview wv[MAX_WORKERS]; /* one scrape at a time (MHD's thread) */
  uint64_t delivered = 0;
  int nw = wp_sched_view(rt->sched, wv, MAX_WORKERS, &delivered);
  if (nw > MAX_WORKERS) nw = MAX_WORKERS;
  int rc = 0;
  struct wp_ctlview_census c = {0};
  wp_ptab_each(pt, census_one, &c);
  rc |= family(b, "wippy_processes", "gauge", "Live processes by host and state.");
  for (int i = 0; i < c.nh && !rc; i++)
    for (int st = 0; st < WP_CTLVIEW_NSTATES; st++) {
      const char *sn = wp_ctlview_states[st];
      struct wp_buf l = WP_BUF_INIT;
      rc |= wp_metrics_label(&l, "host", c.hosts[i].id, strlen(c.hosts[i].id)) |
            wp_metrics_label(&l, "state", sn, strlen(sn)) | wp_buf_append(&l, "", 1);
      if (!rc) rc |= sample(b, "wippy_processes", (char *)l.data, (double)c.hosts[i].n[st]);
      wp_buf_free(&l);
    }
  rc |= family(b, "wippy_messages_sent_total", "counter",
               "Messages the node's processes sent with process.send, to any node.");
  rc |= sample(b, "wippy_messages_sent_total", NULL, (double)wp_sched_sent(rt->sched));
  rc |= family(b, "wippy_messages_received_total", "counter",
               "Messages put in the node's processes' mailboxes: sent by processes of this "
               "or another node, timers, events, exits.");
  rc |= sample(b, "wippy_messages_received_total", NULL, (double)delivered);
  uint64_t armed, fired;
  wp_sched_timers(rt->sched, &armed, &fired);
  rc |= family(b, "wippy_timers_armed", "gauge", "Timers armed now (sleeps, time.after, tickers).");
  rc |= sample(b, "wippy_timers_armed", NULL, (double)armed);
  rc |= family(b, "wippy_timers_fired_total", "counter", "Timers that fired.");
  rc |= sample(b, "wippy_timers_fired_total", NULL, (double)fired);
  static const char *const wf[5][2] = {
      {"wippy_scheduler_runs_total", "Process runs by worker."},
      {"wippy_scheduler_steals_total", "Processes a worker stole from another's queue."},
      {"wippy_scheduler_parks_total", "Times a worker parked for lack of work."},
      {"wippy_worker_busy_seconds_total",
       "Time a worker spent running processes: its utilisation is the rate."},
      {"wippy_scheduler_preemptions_total", "Runs asked to yield at the end of their time slice."}};
  for (int f = 0; f < 5; f++) {
    rc |= family(b, wf[f][0], "counter", wf[f][1]);
    for (int i = 0; i < nw; i++) {
      char l[32];
      snprintf(l, sizeof l, "worker=\"%d\"", wv[i].id);
      double v = f == 0 ? (double)wv[i].runs : f == 1 ? (double)wv[i].steals
                 : f == 2 ? (double)wv[i].parks : f == 3 ? (double)wv[i].busy_ns / 1e9
                                                 : (double)wv[i].preempts;
      rc |= sample(b, wf[f][0], l, v);
    }
  }
  rc |= family(b, "wippy_worker_run_queue", "gauge", "Processes queued on a worker.");
  for (int i = 0; i < nw; i++) {
    char l[32];
    snprintf(l, sizeof l, "worker=\"%d\"", wv[i].id);
    rc |= sample(b, "wippy_worker_run_queue", l, wv[i].runq);
  }
  rc |= family(b, "wippy_memory_rss_bytes", "gauge", "The node's resident set size.");
  rc |= sample(b, "wippy_memory_rss_bytes", NULL, (double)wp_ctlview_rss());
  rc |= family(b, "wippy_memory_process_bytes", "gauge",
               "The processes' Lua heaps, in total (as of each one's last run).");
  rc |= sample(b, "wippy_memory_process_bytes", NULL, (double)c.mem);
  rc |= family(b, "wippy_service_restarts_total", "counter", "Restarts of a service after a failure.");
  struct svc_acc a = {b, 0};
  wp_services_view(rt, svc_one, &a);
  int oom = c.oom;
  wp_ctlview_census_free(&c);
  return rc | a.rc | oom ? -1 : 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **con_cls) {
  (void)version, (void)upload, (void)upload_len, (void)con_cls;
  struct wp_prom *p = cls;
  struct wp_buf b = WP_BUF_INIT;
  unsigned status = MHD_HTTP_OK;
  const char *ctype = "text/plain; version=0.0.4; charset=utf-8";
  if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
    status = MHD_HTTP_METHOD_NOT_ALLOWED;
    put(&b, "only GET\n");
  } else if (strcmp(url, "/metrics")) {
    status = MHD_HTTP_NOT_FOUND;
    put(&b, "not found: the metrics are at /metrics\n");
  } else if (runtime_metrics(p, &b) != 0 || wp_metrics_render(&b) != 0) {
    wp_buf_free(&b);
    status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    put(&b, "out of memory\n");
  }
  struct MHD_Response *r =
      MHD_create_response_from_buffer(b.len, b.data ? (void *)b.data : (void *)"",
                                      MHD_RESPMEM_MUST_COPY);
  wp_buf_free(&b);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, "Content-Type", ctype);
  enum MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

struct wp_prom *wp_prom_start(struct wp_rt *rt, const char *addr, char *err, size_t errlen) {
  char host[256];
  const char *colon = strrchr(addr, ':');
  if (!colon || !colon[1] || (size_t)(colon - addr) >= sizeof host) {
    snprintf(err, errlen, "metrics address %s: want HOST:PORT (such as localhost:9090)", addr);
    return NULL;
  }
  memcpy(host, addr, (size_t)(colon - addr));
  host[colon - addr] = '\0';
  if (host[0] == '[' && host[strlen(host) - 1] == ']') {
    memmove(host, host + 1, strlen(host));
    host[strlen(host) - 1] = '\0';
  }
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port < 0 || port > 65535) {
    snprintf(err, errlen, "metrics address %s: bad port", addr);
    return NULL;
  }
  struct addrinfo hints = {0}, *ai = NULL;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int g = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
  if (g != 0) {
    snprintf(err, errlen, "metrics address %s: %s", addr, gai_strerror(g));
    return NULL;
  }
  struct wp_prom *p = wp_calloc(1, sizeof *p);
  if (!p) {
    freeaddrinfo(ai);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  p->rt = rt;
  wp_metrics_enable();
  wp_metrics_describe("wippy_processes_spawned_total", WP_METRICS_COUNTER,
                      "Processes spawned, by host.");
  wp_metrics_describe("wippy_processes_exited_total", WP_METRICS_COUNTER,
                      "Processes exited, by host and reason (normal, error, terminated, "
                      "linked, shutdown).");
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
  if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
  /* MHD's thread takes no signal: SIGINT/SIGTERM belong to the signal thread */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  p->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, p, MHD_OPTION_SOCK_ADDR,
                          ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT, 64u,
                          MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  freeaddrinfo(ai);
  if (!p->d) {
    snprintf(err, errlen, "cannot serve metrics on %s (the port is in use or not ours to bind)",
             addr);
    wp_free(p);
    return NULL;
  }
  return p;
}

void wp_prom_stop(struct wp_prom *p) {
  if (!p) return;
  MHD_stop_daemon(p->d);
  wp_free(p);
}
