/*
** metrics.h: the metrics collector behind /metrics (cli/metrics.c) and the
** Lua `metrics` module (modules/metrics.c): counters, gauges and
** histograms by name and label set, written as Prometheus text.
**
** Cost of an update. Counters and histograms live in per-thread shards: a
** worker updates its own shard under the shard's own mutex, which only the
** scraper ever contends, and a scrape sums the shards. A gauge is one
** atomic value per series (set is a store, inc/dec a compare-and-swap), so
** it is shared only by the processes that update that same series. The
** registry of series is global and locked only the first time a thread
** meets a series. Nothing is counted while the collector is off
** (prometheus not enabled).
*/
#ifndef WP_METRICS_H
#define WP_METRICS_H

#include <stddef.h>

#include "buf.h"

enum wp_metrics_kind { WP_METRICS_COUNTER = 1, WP_METRICS_GAUGE, WP_METRICS_HISTOGRAM };
enum wp_metrics_op { WP_METRICS_ADD, WP_METRICS_SET, WP_METRICS_OBSERVE };

/* Turns the collector on (once, at boot, before any process runs). */
void wp_metrics_enable(void);
int wp_metrics_enabled(void);

/* Checks a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or a label name
** ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__"). 0, or -1 with err. */
int wp_metrics_check_name(const char *name, size_t len, char *err, size_t errlen);
int wp_metrics_check_label(const char *name, size_t len, char *err, size_t errlen);

/* Appends one label, name="value" with the value escaped as the text format
** wants, to a label string (a comma first unless b is empty). Callers
** append labels sorted by name. 0, or -1 when out of memory. */
int wp_metrics_label(struct wp_buf *b, const char *name, const char *value, size_t vlen);

/* Updates the series (name, labels: a string from wp_metrics_label, or
** "") of the given kind: ADD v to a counter (v >= 0) or a gauge, SET a
** gauge, OBSERVE v in a histogram. The name is checked by the caller.
** 0, or -1 with err: the name has another kind, out of memory, the
** collector is off. */
int wp_metrics_update(enum wp_metrics_kind kind, enum wp_metrics_op op, const char *name,
                      const char *labels, double v, char *err, size_t errlen);

/* A series by handle, for counts made often (the runtime's spawns and
** exits): wp_metrics_series finds or makes the counter series (name,
** labels) once, NULL with err (another kind, no memory); wp_metrics_count
** adds v (>= 0) to it in this thread's shard without building or hashing
** any string. The handle lives as long as the process. */
struct wp_metrics_series;
struct wp_metrics_series *wp_metrics_series(const char *name, const char *labels, char *err,
                                            size_t errlen);
int wp_metrics_count(struct wp_metrics_series *s, double v);

/* Gives a family its HELP text (a static string) and kind before any
** update: the runtime's own metrics. 0, or -1 (another kind, no memory). */
int wp_metrics_describe(const char *name, enum wp_metrics_kind kind, const char *help);

/* A finite number as the shortest text that reads back as it. */
void wp_metrics_fmt(char *out, size_t cap, double d);

/* Appends every series (summed over the shards) in the text exposition
** format, with a HELP and TYPE line per family. 0, or -1 out of memory. */
int wp_metrics_render(struct wp_buf *out);

#endif
