/*
** names.h: the local process name registry (process.registry, LOCAL scope).
** A name maps to one process; a process may hold many names; names are
** released when their process exits. Not to be confused with the entries
** table (app/entries.h), which holds configuration.
*/
#ifndef WP_NAMES_H
#define WP_NAMES_H

#include <stddef.h>

#include "proc.h"

struct wp_names;

struct wp_names *wp_names_new(void);
void wp_names_free(struct wp_names *n);
/* Binds name to p (borrowed). 0 (also when already bound to p),
** WP_ENAMETAKEN, WP_EDEAD (p is exiting) or WP_ENOMEM. */
int wp_names_register(struct wp_names *n, const char *name, size_t len,
                      struct wp_proc *p);
/* Removes a binding whoever holds it. 1 if removed, 0 if not registered. */
int wp_names_unregister(struct wp_names *n, const char *name, size_t len);
/* Looks a name up: returns the bound process's pid counter (0 if none),
** which wp_ptab_get_counter maps to the process. */
uint64_t wp_names_lookup(struct wp_names *n, const char *name, size_t len);
/* Releases the names detached from an exiting process (consumes the list);
** a name is removed only if it is still bound to `counter`. */
void wp_names_release(struct wp_names *n, struct wp_name_ref *list, uint64_t counter);

#endif
