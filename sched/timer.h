/*
** timer.h: hierarchical timing wheel with a 1 ms tick.
**
** A pure data structure: it is not thread-safe and never sleeps; sched.c owns
** one wheel behind a mutex and drives it from the timer thread. Deadlines are
** absolute ticks (milliseconds of wp_clock_ms()); callers round a duration up
** so that a timer never fires early. Nodes are intrusive and owned by the
** caller: the wheel only links and unlinks them.
*/
#ifndef WP_TIMER_H
#define WP_TIMER_H

#include <stddef.h>
#include <stdint.h>

struct wp_timer {
  struct wp_timer *next, *prev; /* slot list links (wheel-private) */
  uint64_t deadline;            /* absolute tick at which it fires */
  uint64_t id;                  /* caller data, untouched by the wheel */
  uint64_t target;              /* caller data, untouched by the wheel */
  int32_t level, slot;          /* wheel-private position; level -1 = not armed */
};

struct wp_wheel;

/* Creates a wheel whose current tick is `now`. NULL on allocation failure. */
struct wp_wheel *wp_wheel_new(uint64_t now);
/* Frees the wheel; timers still armed are simply forgotten (not fired). */
void wp_wheel_free(struct wp_wheel *w);
/* Initialises a node as not armed. */
void wp_timer_init(struct wp_timer *t);
/* Arms `t` (borrowed; must stay valid until it fires or is cancelled) to fire at
** tick `deadline`; a deadline <= the current tick fires on the next advance.
** Re-arming an armed timer first cancels it. */
void wp_wheel_add(struct wp_wheel *w, struct wp_timer *t, uint64_t deadline);
/* Disarms `t`. Returns 1 if it was armed, 0 if it was not (already fired or
** never armed). */
int wp_wheel_cancel(struct wp_wheel *w, struct wp_timer *t);
/* Returns 1 if `t` is armed in a wheel. */
static inline int wp_timer_armed(const struct wp_timer *t) { return t->level >= 0; }
/* Advances the wheel to tick `now`, calling fire(t, ud) for every timer whose
** deadline is <= now, in deadline order (ties in arming order). Each timer is
** disarmed before its callback runs, so the callback may free or re-arm it.
** Returns the number of timers fired. */
size_t wp_wheel_advance(struct wp_wheel *w, uint64_t now,
                        void (*fire)(struct wp_timer *t, void *ud), void *ud);
/* Ticks from the current tick until the earliest armed deadline (0 if one is
** due), or UINT64_MAX if nothing is armed. May be an underestimate for timers
** in the outer levels (the caller then just wakes up earlier). */
uint64_t wp_wheel_next(const struct wp_wheel *w);
/* Number of armed timers. */
size_t wp_wheel_count(const struct wp_wheel *w);
/* The wheel's current tick. */
uint64_t wp_wheel_now(const struct wp_wheel *w);

#endif
