/*
** wp.h: definitions shared by every layer of the wippy runtime.
** Error codes follow libuv's rule: 0 is success, a negative WP_E* is failure,
** and a callback is never called after an error return.
*/
#ifndef WP_H
#define WP_H

#include <stddef.h>
#include <stdint.h>

enum {
  WP_OK = 0,
  WP_ENOMEM = -1,      /* allocation failed */
  WP_ENOPROC = -2,     /* no such (live) process */
  WP_ENAMETAKEN = -3,  /* name bound to another process */
  WP_ENONAME = -4,     /* name not registered */
  WP_EDEAD = -5,       /* target is exiting or dead */
  WP_EEXIST = -6,      /* relation already exists */
  WP_ELIMIT = -7,      /* a configured limit was exceeded */
  WP_EINVAL = -8,      /* invalid argument */
  WP_ESHUTDOWN = -9    /* host or runtime is shutting down */
};

/* A process handle: slot index and slot generation (sched/ptab.h); never 0. */
typedef uint64_t wp_handle;
#define WP_HANDLE_NONE ((wp_handle)0)

#define WP_LIKELY(x) __builtin_expect(!!(x), 1)
#define WP_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define WP_CACHELINE 64

#endif
