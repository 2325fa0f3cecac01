/*
** cluster_hooks.h: the cluster wired into the runtime (cluster_hooks.c).
*/
#ifndef WP_CLI_CLUSTER_HOOKS_H
#define WP_CLI_CLUSTER_HOOKS_H

#include <stddef.h>

struct wp_rt;
struct wp_cluster;

/* Starts the cluster names of joined node c (its transport running) and
** sets rt's names, members and leader hooks; c and rt are borrowed until
** wp_cluster_leave. Before any process runs. 0, or -1 with a message in
** err. */
int wp_cli_names_start(struct wp_rt *rt, struct wp_cluster *c, char *err, size_t errlen);

#endif
