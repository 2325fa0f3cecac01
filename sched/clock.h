/* clock.h: monotonic and wall clocks. */
#ifndef WP_CLOCK_H
#define WP_CLOCK_H

#include <stdint.h>

/* Monotonic time in nanoseconds (CLOCK_MONOTONIC). */
uint64_t wp_clock_ns(void);
/* Monotonic time in milliseconds: the timing wheel's tick. */
static inline uint64_t wp_clock_ms(void) { return wp_clock_ns() / 1000000u; }
/* Wall-clock time in nanoseconds since the Unix epoch. */
int64_t wp_wall_ns(void);

#endif
