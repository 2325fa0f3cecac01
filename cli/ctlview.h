/*
** ctlview.h: what the control endpoint's answers say (ctlview.c): the
** counters' samples, the snapshot and the inspection of one process, as
** JSON (docs/control.md). Only the endpoint's thread calls these.
*/
#ifndef WP_CTLVIEW_H
#define WP_CTLVIEW_H

#include "jsonw.h"
#include "vm.h"

#define WP_CTLVIEW_SAMPLE_MS 250 /* the counters are sampled this often */
#define WP_CTLVIEW_TOP_MAX 1000  /* the longest `top` list a snapshot gives */

enum { WP_CTLVIEW_SORT_MEM, WP_CTLVIEW_SORT_MAILBOX, WP_CTLVIEW_SORT_CPU };

struct wp_ctlview;

/* node: the node name (NULL: "local"); project: the project directory.
** Both copied. NULL when out of memory. */
struct wp_ctlview *wp_ctlview_new(struct wp_rt *rt, const char *node, const char *project);
void wp_ctlview_free(struct wp_ctlview *v);
/* Takes one sample of the counters (every WP_CTLVIEW_SAMPLE_MS). */
void wp_ctlview_sample(struct wp_ctlview *v);
/* The node's resident set size in bytes (0 when /proc cannot say). Any
** thread (the metrics endpoint reads it too). */
uint64_t wp_ctlview_rss(void);
/* The live processes counted by host and by state (a census both the
** snapshot and the metrics endpoint take). */
enum { WP_CTLVIEW_WAITING, WP_CTLVIEW_RUNNABLE, WP_CTLVIEW_RUNNING, WP_CTLVIEW_EXITED,
       WP_CTLVIEW_NSTATES };
extern const char *const wp_ctlview_states[WP_CTLVIEW_NSTATES]; /* "waiting", ... */
struct wp_ctlview_host {
  const char *id; /* borrowed: a host's id, or the census's `none` */
  uint64_t n[WP_CTLVIEW_NSTATES];
};
struct wp_ctlview_census {
  struct wp_ctlview_host *hosts; /* in the order met */
  int nh, cap, oom;
  uint64_t total, by_state[WP_CTLVIEW_NSTATES];
  int64_t mem; /* the processes' Lua heaps, as each last published */
};
/* Adds a host (counts 0) unless there: for a list that shows empty hosts. */
void wp_ctlview_census_host(struct wp_ctlview_census *c, const char *id);
/* Counts one process, observed: a process with no host under `none` (NULL:
** not by host). Returns its state (WP_CTLVIEW_WAITING, ...). */
int wp_ctlview_census_add(struct wp_ctlview_census *c, const struct wp_observe_proc *o,
                          const char *none);
void wp_ctlview_census_free(struct wp_ctlview_census *c);

/* The answers, appended to w (one JSON object, no newline). */
void wp_ctlview_hello(struct wp_ctlview *v, struct wp_jw *w);
void wp_ctlview_snapshot(struct wp_ctlview *v, int top, int sort, struct wp_jw *w);
/* target: a pid or a registered name (len bytes, borrowed). */
void wp_ctlview_inspect(struct wp_ctlview *v, const char *target, size_t len, struct wp_jw *w);

#endif
