/*
** pgroup.h: process groups (pgroup.c; spec 07 §7, issue 13 item 8): the
** node's table of Erlang-pg-style groups, their members, and the
** subscriptions to their membership events. The `pg` module
** (modules/pg.c) is its Lua face.
**
** The table is the whole truth on a standalone node. On a clustered one it
** is also the truth of this node's own members, and holds a replica of the
** other nodes' members: the command line connects it to the cluster layer
** (cli/cluster_pg.c), which writes what wp_pg_take_dirty hands it and
** feeds what other nodes wrote through wp_pg_apply. Nothing here touches
** NATS or a Lua state: every call takes the table's lock briefly and never
** waits on anything else, so a scheduler worker may make any of them.
**
** Pid lists cross this interface as one buffer of NUL-terminated pid
** strings, one after another (a pid string never holds a NUL).
*/
#ifndef WP_PGROUP_H
#define WP_PGROUP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct wp_rt;
struct wp_vmproc;
struct wp_pg;
struct wp_pg_scope;

/* Group names and scope ids are at most this many bytes (a cluster key
** holds both). */
#define WP_PG_NAME_MAX 256

/* The table of runtime rt (borrowed for the table's life). NULL when out
** of memory. */
struct wp_pg *wp_pg_new(struct wp_rt *rt);
/* Frees the table, once no process runs and the cluster calls it no more.
** NULL is fine. */
void wp_pg_free(struct wp_pg *pg);

/* ---- replication (a clustered node; set before any process runs) ---- */

struct wp_pg_repl {
  /* Local members changed: wp_pg_take_dirty has work. Called after the
  ** table's lock is released, from whichever thread made the change; it
  ** must not wait (it wakes the cluster's writer). */
  void (*wake)(void *ctx);
  void *ctx;
  /* The bytes one group's local pid list may take (what one cluster write
  ** carries), or 0 for no limit: a join past it is refused. */
  size_t local_limit;
};
/* Turns replication on (r copied). Before any process runs. */
void wp_pg_set_repl(struct wp_pg *pg, const struct wp_pg_repl *r);
/* Takes one group whose local members changed since it was last taken:
** copies its scope id into *scope, its name into *group and its local
** pids, sorted, into *pids (each buffer emptied first; the caller owns and
** frees them). 1 when one was taken, 0 when none is left, -1 out of memory
** (the group stays marked). */
int wp_pg_take_dirty(struct wp_pg *pg, struct wp_buf *scope, struct wp_buf *group,
                     struct wp_buf *pids);
/* Marks group (scope/slen, group/glen; borrowed) as changed again (its
** write failed, or someone else overwrote this node's entry): the next
** wp_pg_take_dirty hands it out again. 0, or -1 out of memory (logged). */
int wp_pg_redirty(struct wp_pg *pg, const char *scope, size_t slen, const char *group,
                  size_t glen);
/* Marks every group with local members (a reconnection, a new life of the
** node). */
void wp_pg_dirty_all(struct wp_pg *pg);
/* Node `node` (not this one) now has exactly the members `pids` (len
** bytes, NUL-terminated pids; len 0: none) in group of scope: the replica
** takes them, and the scope's subscribers get member.joined and
** member.left events for the difference. All borrowed. 0, or -1 out of
** memory (logged; the replica keeps the node's previous members). */
int wp_pg_apply(struct wp_pg *pg, const char *scope, size_t slen, const char *group,
                size_t glen, const char *node, size_t nlen, const char *pids, size_t len);

/* ---- the pg module (the calling process's own worker) ---- */

/* The scope `id` (len bytes, borrowed; at most WP_PG_NAME_MAX), made on
** first use; it lives as long as the table. NULL when out of memory. */
struct wp_pg_scope *wp_pg_scope(struct wp_pg *pg, const char *id, size_t len);

/* The scope's id (NUL-terminated; as long as the table lives). */
const char *wp_pg_scope_id(const struct wp_pg_scope *s);

/* What join and leave say; on an error, err holds the message. */
enum { WP_PG_OK = 0, WP_PG_NOMEM, WP_PG_NOT_JOINED, WP_PG_TOO_MANY };
/* Process vp (running it) joins the n groups names[i] (lens[i] bytes,
** borrowed, checked by the caller: 1 to WP_PG_NAME_MAX bytes) of scope s:
** all of them, or (an error) none. A process already in a group joins it
** once more (counted). A first join sends member.joined. */
int wp_pg_join(struct wp_pg *pg, struct wp_pg_scope *s, struct wp_vmproc *vp,
               const char *const *names, const size_t *lens, size_t n, char *err,
               size_t errlen);
/* Leaves each of the n groups once: all of them, or none when vp is not in
** one of them (WP_PG_NOT_JOINED, naming it). A last leave sends
** member.left. */
int wp_pg_leave(struct wp_pg *pg, struct wp_pg_scope *s, struct wp_vmproc *vp,
                const char *const *names, const size_t *lens, size_t n, char *err,
                size_t errlen);
/* Appends the members of group (glen bytes, borrowed) of s to out (this
** node's first), or only this node's with `local`; *n: how many. 0, or -1
** out of memory. */
int wp_pg_members(struct wp_pg *pg, struct wp_pg_scope *s, const char *group, size_t glen,
                  int local, struct wp_buf *out, size_t *n);
/* Appends the names of s's groups that have members (anywhere, or on this
** node with `local`) to out, NUL-terminated; *n: how many. 0, or -1. */
int wp_pg_groups(struct wp_pg *pg, struct wp_pg_scope *s, int local, struct wp_buf *out,
                 size_t *n);

/* Subscribes vp to the membership events of group (glen bytes, borrowed)
** of s, or of every group of s when group is NULL, and takes a snapshot at
** the same instant: no event after it is in the snapshot, none before it
** comes. Events reach vp as WP_MSG_USER messages from "" on topic
** "@pg.<id>" (*id: the subscription's number, unique in vp), whose one
** value is {system = "pg", kind = "member.joined" | "member.left", path =
** group, data = {Group = group, PIDs = {...}}}. The snapshot is appended to
** out: for one group, its members as wp_pg_members gives them; for all,
** each group's name (NUL-terminated), a 4-byte count in host order and
** that many pids. 0, or -1 out of memory (nothing subscribed). */
int wp_pg_subscribe(struct wp_pg *pg, struct wp_pg_scope *s, struct wp_vmproc *vp,
                    const char *group, size_t glen, uint64_t *id, struct wp_buf *out);
/* Ends vp's subscription id (no event for it is sent after this returns).
** Returns whether it existed. */
int wp_pg_unsubscribe(struct wp_pg *pg, struct wp_vmproc *vp, uint64_t id);
/* Writes the topic of subscription id into out (WP_PG_TOPIC_MAX bytes);
** returns its length. */
#define WP_PG_TOPIC_MAX 32
size_t wp_pg_topic(uint64_t id, char *out);

/* Process vp ended (vmproc.c, before its EXIT goes out, while vp->pg is
** set): it leaves every group, however many times it joined (member.left
** to the subscribers), and its subscriptions end. */
void wp_pg_exit(struct wp_pg *pg, struct wp_vmproc *vp);

#endif
