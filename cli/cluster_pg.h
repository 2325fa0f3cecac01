/*
** cluster_pg.h: process groups wired across the cluster (cluster_pg.c).
*/
#ifndef WP_CLI_CLUSTER_PG_H
#define WP_CLI_CLUSTER_PG_H

#include <stddef.h>

struct wp_rt;
struct wp_cluster;

/* Connects rt's group table (rt->pg, made already) to the groups of joined
** node c (its transport running): starts them (the replica of the other
** nodes' members is in rt->pg when this returns) and turns replication on.
** c and rt are borrowed until wp_cluster_stop_transport. Before any process
** runs. 0, or -1 with a message in err. */
int wp_cli_pg_start(struct wp_rt *rt, struct wp_cluster *c, char *err, size_t errlen);

#endif
