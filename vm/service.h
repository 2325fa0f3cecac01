/*
** service.h: process.service entries and hosts as supervised services
** (spec 06 §4). Minimal lifecycle for now: start in dependency order (a
** service after its host), restart a crashed service after its
** restart.initial_delay, stop by CANCEL then terminate.
*/
#ifndef WP_SERVICE_H
#define WP_SERVICE_H

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
  struct wp_code *code;
  struct wp_host *host;
  struct wp_buf input;     /* encoded `input:` arguments */
  int ninput;
  int auto_start;
  int state;               /* enum wp_svc_state, under rt->lock */
  int ready;               /* the current run reached its first blocking point */
  uint64_t counter;        /* pid counter of the current run, 0 if none */
  char pid[WP_PID_MAX];
  int64_t started_ns;
  int64_t restart_at_ns;   /* 0 = none scheduled */
  int attempts;
  int64_t initial_delay_ns, max_delay_ns, stop_timeout_ns, start_timeout_ns;
  int64_t stable_ns;
  double backoff, jitter;
  int max_attempts;
};

/* Builds the services from the entries (hosts and process.service). Fails
** with a message naming the entry for a bad field, an unknown process or
** host. */
int wp_services_load(struct wp_rt *rt, char *err, size_t errlen);
/* Starts every auto_start service (and the hosts they run on), then waits
** until each started process has reached its first blocking point or ended
** (bounded by its start_timeout). Returns 0, or -1 with err. */
int wp_services_start(struct wp_rt *rt, char *err, size_t errlen);
/* Marks a host running (its lifecycle start). */
void wp_host_start(struct wp_rt *rt, struct wp_host *h);
/* Restarts services whose delay has passed; returns the monotonic ns of the
** next scheduled restart, or INT64_MAX. Called by the main loop under no lock. */
int64_t wp_services_tick(struct wp_rt *rt);
/* Sends CANCEL to every running service process (reason "service stopping"). */
void wp_services_cancel(struct wp_rt *rt);
void wp_services_free(struct wp_rt *rt);

#endif
