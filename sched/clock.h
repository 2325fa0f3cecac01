/* clock.h: monotonic and wall clocks. */
#ifndef WP_CLOCK_H
#define WP_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic time in nanoseconds (CLOCK_MONOTONIC). */
uint64_t wp_clock_ns(void);
/* Monotonic time in milliseconds: the timing wheel's tick. */
static inline uint64_t wp_clock_ms(void) { return wp_clock_ns() / 1000000u; }
/* Wall-clock time in nanoseconds since the Unix epoch. */
int64_t wp_wall_ns(void);
/* The absolute time ns (>= 0) from now on `clock`, CLOCK_REALTIME or
** CLOCK_MONOTONIC: the deadline of a pthread_cond_timedwait on a condition
** variable that uses that clock. */
void wp_clock_deadline(clockid_t clock, int64_t ns, struct timespec *ts);

#endif
