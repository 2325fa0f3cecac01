/* clock.c: see clock.h. */
#include "clock.h"

#include <time.h>

uint64_t wp_clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t wp_wall_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
}

void wp_clock_deadline(clockid_t clock, int64_t ns, struct timespec *ts) {
  clock_gettime(clock, ts);
  ts->tv_sec += (time_t)(ns / 1000000000);
  ts->tv_nsec += (long)(ns % 1000000000);
  if (ts->tv_nsec >= 1000000000) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000;
  }
}
