/*
** prom.h: the Prometheus endpoint of `wippy run` (prom.c): GET /metrics
** answers the runtime's metrics (wippy_*) and the apps' (the `metrics`
** module) in the text exposition format, from libmicrohttpd's own thread.
*/
#ifndef WP_PROM_H
#define WP_PROM_H

#include <stddef.h>

#include "vm.h"

struct wp_prom;

/* Starts serving on addr ("HOST:PORT", "[V6]:PORT" or ":PORT" for every
** address) and turns the metrics collector on. NULL with a message in err
** when the address is bad or cannot be bound. Before processes run. */
struct wp_prom *wp_prom_start(struct wp_rt *rt, const char *addr, char *err, size_t errlen);
/* Stops the server. NULL is fine. */
void wp_prom_stop(struct wp_prom *p);

#endif
