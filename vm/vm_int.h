/*
** vm_int.h: what the files of the Lua runtime (vm/) share and nothing
** outside vm/ uses.
*/
#ifndef WP_VM_INT_H
#define WP_VM_INT_H

#include "vm.h"

/* A process ended (runtime.c; called by vmproc.c's teardown on the worker
** that ran it): tells its service, ends the run when it was the terminal
** process, logs a failure. errmsg borrowed, may be NULL; code is the exit
** code a terminal process asked for; retryable is the error's retryable
** flag (-1: not known). */
void wp_rt_process_ended(struct wp_vmproc *vp, int abnormal, const char *errmsg, int code,
                         int retryable);

#endif
