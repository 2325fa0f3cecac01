/*
** ptab.h: the process table.
**
** Internally a process is found by its handle: slot index (low 25 bits) and
** the slot's generation (the 39 bits above). No handle value is ever issued
** twice (a slot whose generations are used up is retired; ptab.c), so a
** stale handle never reaches a newer process in a reused slot. Pid strings carry the per-node counter
** (spec 08), which a hash maps back to the process. Both lookups take a
** reference (wp_proc_release it). Locks are sharded by slot and by counter.
*/
#ifndef WP_PTAB_H
#define WP_PTAB_H

#include <stdint.h>

#include "proc.h"

#define WP_PTAB_IDX_BITS 25 /* handle bits that hold the slot index */

struct wp_ptab;

struct wp_ptab *wp_ptab_new(void);
void wp_ptab_free(struct wp_ptab *t);
/* Next value of the per-node pid counter (starts at 1). Any thread. */
uint64_t wp_ptab_next_counter(struct wp_ptab *t);
/* Makes the counter go on from `last`: the next counter issued is last + 1.
** A clustered node seeds it from its incarnation so that the pids of one
** life never repeat those of an earlier one (spec 08 §3 allows 16 digits).
** Called once, before any counter is issued. */
void wp_ptab_seed_counter(struct wp_ptab *t, uint64_t last);
/* Inserts p (taking over the caller's reference) under p->counter, which the
** caller has set (with p->pid). Assigns p->handle. 0 or WP_ENOMEM/WP_ELIMIT. */
int wp_ptab_insert(struct wp_ptab *t, struct wp_proc *p);
/* Makes p unfindable (by handle and by pid) but keeps the table's
** reference. Idempotent. An exiting process calls it before it notifies its
** monitors, so whoever sees the EXIT can no longer reach it. */
void wp_ptab_unlink(struct wp_ptab *t, struct wp_proc *p);
/* Unlinks p (if not yet) and drops the table's reference. Called once, by
** the worker, after the process's last run. */
void wp_ptab_remove(struct wp_ptab *t, struct wp_proc *p);
/* Lookups: a referenced live process, or NULL. */
struct wp_proc *wp_ptab_get(struct wp_ptab *t, wp_handle h);
struct wp_proc *wp_ptab_get_counter(struct wp_ptab *t, uint64_t counter);
/* For tests: moves the empty slot of `stale` (a handle whose process has
** left) n generations on, as if n processes had come and gone there; at
** most to the slot's last generation. 0, or WP_EINVAL when the slot holds a
** process, is retired or never held `stale`. */
int wp_ptab_age_slot(struct wp_ptab *t, wp_handle stale, uint64_t n);
/* The last counter issued (the seed before the first). Any thread. */
uint64_t wp_ptab_counter(struct wp_ptab *t);
/* Number of processes in the table. */
uint64_t wp_ptab_count(struct wp_ptab *t);
/* Calls fn(p, ud) for every process in the table (each referenced for the
** call). Used by shutdown; not for hot paths. */
void wp_ptab_each(struct wp_ptab *t, void (*fn)(struct wp_proc *p, void *ud), void *ud);

#endif
