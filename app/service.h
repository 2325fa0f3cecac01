/*
** service.h: the supervisor (spec 06 §4-5): process.service entries and hosts
** as services with a lifecycle: dependency order, start timeouts, restarts
** with exponential backoff, ordered stop with per-service stop timeouts.
*/
#ifndef WP_SERVICE_H
#define WP_SERVICE_H

#include "entries.h"
#include "vm.h"

enum wp_svc_state {
  WP_SVC_UNKNOWN,
  WP_SVC_STARTING,
  WP_SVC_RUNNING,
  WP_SVC_STOPPING,
  WP_SVC_STOPPED,
  WP_SVC_FAILED,
  WP_SVC_EXITED
};

struct wp_service {
  struct wp_service *next;
  struct wp_entry *entry;
  struct wp_code *code;    /* NULL for a host */
  struct wp_host *host;    /* the host it runs on (itself, for a host) */
  struct wp_buf input;     /* encoded `input:` arguments */
  struct wp_service **deps;
  int ndeps;
  int topo;                /* position in dependency order */
  int auto_start, wanted;
  int state;               /* enum wp_svc_state, under rt->lock */
  int ready;               /* the current run reached its first blocking point */
  int start_timed_out;
  uint64_t counter;        /* pid counter of the current run, 0 if none */
  int64_t started_ns;
  int64_t restart_at_ns;   /* 0 = none scheduled */
  int attempts;            /* consecutive starts since the last stable run */
  int restarts;            /* restarts after a failure so far (under rt->lock) */
  int64_t initial_delay_ns, max_delay_ns, stop_timeout_ns, start_timeout_ns;
  int64_t stable_ns;
  double backoff, jitter;
  int max_attempts;
};

/* Builds the services from the entries (hosts and process.service) and
** their dependency order, and gives rt the hook its processes report
** through (rt->service_event). Fails with a message naming the entries for a bad
** field, an unknown process, host or dependency, or a dependency cycle. */
int wp_services_load(struct wp_rt *rt, const struct wp_entries *entries, char *err,
                      size_t errlen);
/* Starts every auto_start service and what it depends on, in dependency
** order, and waits until each has reached Running or failed (a process
** service is Running once its process first blocks; bounded by its
** start_timeout). */
void wp_services_start(struct wp_rt *rt);
/* Starts a host (and marks its service Running). */
void wp_host_start(struct wp_rt *rt, struct wp_host *h);
/* One supervisor step: restarts due, start timeouts. rt->lock held, so an
** event that changes what is due (a service process ending) cannot slip in
** between this step and the caller's wait on rt->cond. Returns the
** monotonic ns at which it wants to run again (INT64_MAX: no deadline). */
int64_t wp_services_tick(struct wp_rt *rt);
/* Stops every service in reverse dependency order: CANCEL, then terminate
** after its stop_timeout; hosts cancel and then terminate what runs on them.
** Bounded by `deadline_ns` (monotonic). Returns 0, or -1 if the deadline
** passed with services still running (they are named in the log). */
int wp_services_stop(struct wp_rt *rt, int64_t deadline_ns);
/* Sends CANCEL ("service stopping") to every running service process. */
void wp_services_cancel(struct wp_rt *rt);
void wp_services_free(struct wp_rt *rt);

/* What the control endpoint shows of a service. */
struct wp_service_view {
  const char *id;     /* the entry id (lives as long as the runtime) */
  const char *state;  /* "unknown", "starting", "running", "stopping", "stopped",
                         "failed" or "exited" */
  int restarts;
  int is_host;
  uint64_t counter;   /* pid counter of its process, 0 if none (or a host) */
};
/* Calls fn(ud, view) for every service, in dependency order, under
** rt->lock (held only for the walk: fn must not block or take it). */
void wp_services_view(struct wp_rt *rt, void (*fn)(void *ud, const struct wp_service_view *v),
                      void *ud);
/* The view of the service s (a process's vp->svc) under rt->lock. */
void wp_services_view_of(struct wp_rt *rt, struct wp_service *s, struct wp_service_view *out);

#endif
