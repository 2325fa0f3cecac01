/*
** vm.h: the VM layer: one lua_State per process, its tasks, channels and
** timers, and the runtime object that owns the scheduler, hosts and entries.
** modules/ builds the Lua API on top of this header; sched/ knows none of it.
**
** Threads of control inside a process. A process runs tasks: the main task
** (chunk + entry function) and one per coroutine.spawn. Each task is a Lua
** thread created with lua_newthread and resumed only by the process's run
** loop (vmproc.c), never by another task (no nested resumes). A blocking call
** (channel receive, select, sleep, readline) records what it waits for, then
** yields with lua_yield(L, 0); whoever satisfies the wait pushes the call's
** results onto the task's stack and marks it ready with the number of values
** (wp_task_ready). Everything inside one process runs on one worker thread at
** a time, so tasks, channels and timers of a process need no locks.
*/
#ifndef WP_VM_H
#define WP_VM_H

#include <lauxlib.h>
#include <lua.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"
#include "log.h"
#include "node.h"
#include "proc.h"
#include "scheduler.h"
#include "timer.h"

struct wp_rt;
struct wp_vmproc;
struct wp_chan;
struct wp_env; /* modules/env.c's variables and storages: opaque here */
struct wp_remote; /* remote.c's cross-node relations: opaque here */
struct wp_pg;     /* pgroup.c's process groups: opaque here */
struct wp_pgproc; /* a process's part of them */
struct wp_fcall;  /* fcall.c's function calls in progress: opaque here */
struct wp_evsub;  /* evbus.c's event subscriptions: opaque here */
/* The application layer's types (app/): opaque here. */
struct wp_entry;
struct wp_service;

/* ---- hosts ---- */

enum wp_host_kind { WP_HOST_PROCESS, WP_HOST_TERMINAL };

struct wp_host {
  struct wp_host *next;
  struct wp_entry *entry; /* its entry (app/'s) */
  const char *id; /* entry id */
  /* the host part of its processes' pids: the id, or "node@id" on a
  ** clustered node (wp_rt_set_node), made once so a spawn only copies it */
  const char *pid_host;
  size_t pid_host_len;
  enum wp_host_kind kind;
  _Atomic int running;  /* accepts spawns */
  _Atomic int stopping; /* shutting down: refuses spawns and sends */
  _Atomic int64_t live; /* processes alive on this host */
  /* its spawn and exit counters in the metrics collector (spawned, then
  ** exited by reason: normal, error, terminated, linked, shutdown), found
  ** on first use (wp_rt_count_exit) */
  _Atomic(struct wp_metrics_series *) mseries[6];
};

/* ---- compiled process/function entries ---- */

struct wp_import {
  const char *alias;
  struct wp_code *lib;
};

struct wp_image;
struct wp_libdef;

#define WP_PREFILL_MAX 48

struct wp_code {
  struct wp_entry *entry; /* its entry (app/'s) */
  const char *id;         /* the entry id */
  /* the host part of the pids of its calls (function.lua): as a host's */
  const char *pid_host;
  size_t pid_host_len;
  char *chunkname;       /* "@src/worker.lua" */
  struct wp_buf bytecode;/* lua_dump output, with debug info */
  const char *method;    /* export to call ("main") */
  char **modules;        /* modules: list, NULL-terminated */
  int nmodules;
  int is_function;       /* function.lua */
  int is_library;        /* library.lua */
  struct wp_import *imports; /* own and transitive library imports */
  int nimports;
  /* A fresh state with this code loaded, to copy at spawn (image.c):
  ** NULL until the first spawn builds it. */
  _Atomic(struct wp_image *) image;
  /* Library globals, and their fields, that the source names: the image
  ** has them in place already (wp_code_scan). Static strings. */
  struct wp_prefill {
    const char *global;
    const char *field;   /* NULL: the global alone */
  } prefill[WP_PREFILL_MAX];
  int nprefill;
  /* Its processes' memory limit (the entry's memory_limit, else the
  ** runtime's process.memory_limit; 0 = none) and that limit as written,
  ** for the error that ends a process past it. */
  int64_t mem_limit;
  char mem_limit_text[24];
};

/* ---- tasks (task.c) ---- */

enum wp_task_state { WP_TASK_READY, WP_TASK_BLOCKED, WP_TASK_RUNNING };

struct wp_task {
  lua_State *th;
  int ref;                /* registry anchor of th */
  int nargs;              /* values pushed for the next resume */
  int state;
  int is_main;
  struct wp_task *next;   /* ready list / free list link */
  void *wait;             /* what it is blocked on (channel select record) */
};

/* ---- process-side timers (task.c) ---- */

enum wp_vtimer_kind { WP_VT_SLEEP, WP_VT_AFTER, WP_VT_TICKER, WP_VT_GC /* idle collection */,
                     WP_VT_CALL /* a function call's timeout or retry delay (fcall.c) */ };

struct wp_vtimer {
  struct wp_timer node;   /* in the scheduler's wheel while armed */
  struct wp_vtimer *prev, *next;
  int kind;
  struct wp_task *task;   /* SLEEP: the sleeping task */
  struct wp_chan *chan;   /* AFTER/TICKER: the channel (weak: cleared by its __gc) */
  uint64_t period;        /* TICKER: re-armed with this delay after each tick */
  struct wp_fcall *call;  /* CALL: the call it belongs to (which frees it first) */
};

/* ---- per-process VM data (p->vm) ---- */

/* A task waiting for a child's end (process.exec, funcs.call). */
struct wp_exitwait {
  struct wp_exitwait *next;
  uint64_t counter; /* the child's pid counter */
  struct wp_task *task;
};

struct wp_pending { /* a received message not yet handed to a channel */
  struct wp_pending *next;
  struct wp_msg *m;
};

struct wp_mqueue {
  struct wp_msg *head, *tail; /* linked through node.next (not atomic use) */
  size_t n;
};

enum wp_mt { WP_MT_MESSAGE, WP_MT_PAYLOAD, WP_MT_CHAN, WP_MT_CASE, WP_MT_TIMER, WP_MT_TICKER,
             WP_MT_TIME, WP_MT_DURATION, WP_MT_LOC, WP_MT_N };

/* Strings the runtime uses as keys (and values) of the tables it makes for
** every message: a select's result, an event, a result (wp_state_key). */
enum wp_key { WP_K_CHANNEL, WP_K_VALUE, WP_K_OK, WP_K_DEFAULT, WP_K_KIND, WP_K_FROM, WP_K_AT,
              WP_K_RESULT, WP_K_REASON, WP_K_ERROR, WP_K_PID_EXIT, WP_K_N };

struct wp_vmproc {
  struct wp_rt *rt;
  struct wp_proc *p;
  struct wp_host *host;
  struct wp_code *code;
  /* the code and host this process last spawned by name (runtime.c
  ** spawn_prepare): read and written only by the process's own thread;
  ** both live as long as the runtime */
  struct wp_code *spawned_code;
  struct wp_host *spawned_host;
  lua_State *L;              /* NULL until first run */
  struct wp_buf args;        /* encoded spawn arguments, until first run */
  char **argv;               /* CLI arguments (terminal processes) */
  int argc;
  int ntasks;
  struct wp_task *main;      /* &main_task once started */
  struct wp_task main_task;  /* the main task runs on L itself */
  lua_State *sys;            /* the runtime's own stack while l_busy, made
                                on first need (vm_int.h wp_sys_L) */
  struct wp_task *ready_head, *ready_tail;
  struct wp_task *current;   /* task being resumed, or NULL */
  struct wp_task *resume_first; /* preempted task: resumed before others */
  /* preemption (vmproc.c): running_th is written only by the thread running
  ** the process and read by its own signal handler; preempt_req is set by
  ** any thread and cleared by the running one */
  _Atomic(lua_State *) running_th; /* innermost thread being resumed, or NULL */
  _Atomic int preempt_req;
  int inbox_ref, events_ref;
  int16_t ext_n;             /* jemalloc blocks in the arena table (lmem.c); -1: no arena */
  /* The runtime collects the process's garbage when it blocks with more
  ** than this many MB in use (wp_state_collect). */
  uint16_t mem_gc_mb;
  /* messages waiting for a channel */
  struct wp_mqueue inbox_q, events_q;
  struct wp_chan *inbox, *events; /* created by process.inbox()/events() */
  struct wp_listener *listeners;
  /* timers */
  struct wp_vtimer *timers;
  uint64_t next_timer_id;
  /* terminal I/O */
  struct wp_task *io_task;   /* task blocked in io.readline/read */
  /* Lua heap bytes in use, and what wp_lmem_alloc's fast path may grow them to:
  ** the process's limit (code->mem_limit) or its share of the runtime's
  ** if smaller, INT64_MAX without either; 0 sends every growth to the slow
  ** path (an image's template, a process past its limit, before its first
  ** share), minus a refused growth's size while Lua retries it (lmem.c). */
  int64_t mem_used, mem_cap;
  char *ar_base, *ar_cur, *ar_end; /* the state's arena (lmem.c) */
  size_t ar_size;
  const void *mt[WP_MT_N];   /* metatables made so far (wp_state_mt_new) */
  uint16_t keyref[WP_K_N];   /* registry refs of the key strings made so far
                                (wp_state_key); 0: not made yet; UINT16_MAX:
                                not kept (a ref beyond it). 16 bits keep
                                this block (and wp_proc's) in its size class */
  struct wp_service *svc;    /* the service this process runs, or NULL */
  struct wp_exitwait *exitwaits; /* tasks blocked in exec/funcs.call */
  struct wp_exitwait *replywaits; /* tasks blocked for a WP_MSG_REPLY (counter: its id) */
  uint64_t next_reply;       /* the last request id given out */
  /* funcs.call/async calls in progress (fcall.c), the process's event
  ** subscriptions (evbus.c), and the context values it was called with
  ** (a funcs call's callee: one encoded table; NULL for none) */
  struct wp_fcall *calls;
  struct wp_evsub *evsubs;
  struct wp_buf *ctx;
  /* It may hold cluster-wide names: its end releases them (rt->names_release).
  ** Set by whichever process registers a name for it, before the request. */
  _Atomic unsigned char holds_cnames;
  /* Its process groups and their subscriptions (pgroup.c), once it used
  ** pg: owned by rt->pg and changed only under its lock; its end
  ** (wp_pg_exit) leaves them. */
  struct wp_pgproc *pg;
  struct wp_msg *decoding;   /* being decoded; freed at teardown if that raised */
  struct wp_msg *routing;    /* taken from the mailbox, handed to wp_route_drain_protected;
                                freed at teardown if the call failed first */
  /* flags: one byte each, written only by the thread running the process */
  unsigned char nargs_strings; /* CLI: args are raw strings (io.args) */
  unsigned char l_busy;      /* L is inside the main task (suspended, or dead
                                after an error): the runtime works on sys */
  unsigned char preempted;   /* the task thread yielded to the scheduler */
  unsigned char preempted_inner; /* a user coroutine yielded for a preemption */
  unsigned char trap_links;
  unsigned char ar_zero;     /* zero every arena block (an image's template) */
  unsigned char needs_close; /* an object with a finaliser exists: lua_close */
  unsigned char gc_on;       /* the collector was switched on (WP_GC_START) */
  unsigned char mem_state;   /* WP_MEM_* */
  unsigned char exit_code_set;
  unsigned char first_blocked;
  unsigned char entry_started; /* the entry function was called (boot done) */
  unsigned char exit_kill;     /* the WP_KILL_* reason that ended it, 0: none */
  unsigned char ran_on;      /* the worker thread of its last run (vmproc.c: cold) */
  uint16_t ran_at;           /* that thread's run count then */
  /* What the control endpoint reads from its own thread (vm/observe.c),
  ** never touching the Lua state: written by the thread running the
  ** process with relaxed stores (plain moves), read with relaxed loads. The
  ** heap size and queue length are as of the end of its last run
  ** (wp_vm_publish); `wait` is the blocking call its last blocked task
  ** made (a static string, set by wp_vm_blockable and chan.c). */
  _Atomic int64_t pub_mem;
  _Atomic uint32_t pub_queued;
  _Atomic(const char *) pub_wait;
};

/* Publishes the process's heap size and the messages waiting in its
** queues for the control endpoint; the thread running it, at the end of
** a run (vmproc.c). Inline: a load and a store each, on every run. */
static inline void wp_vm_publish(struct wp_vmproc *vp) {
  atomic_store_explicit(&vp->pub_mem, vp->mem_used, memory_order_relaxed);
  atomic_store_explicit(&vp->pub_queued, (uint32_t)(vp->inbox_q.n + vp->events_q.n),
                        memory_order_relaxed);
}
/* Notes the blocking call the running task is about to block in. */
static inline void wp_vm_note_wait(struct wp_vmproc *vp, const char *what) {
  atomic_store_explicit(&vp->pub_wait, what, memory_order_relaxed);
}

/* A process's collector starts once it has allocated this much. */
#define WP_GC_START (16 * 1024)
/* Its minor collections (generational mode) then run each time it has
** allocated this percentage of its heap (Lua's default, 20). The young
** garbage made between two of them ends up on the process's free lists
** and, at its peak, in chunks it then keeps (lmem.c), so a smaller one
** holds less but costs more instructions per echo (the trade measured:
** bench/RESULTS.md, "Memory per process"). */
#define WP_GC_MINORMUL 20
/* A process that blocks holding more than this (and twice its heap after
** its last forced collection) is collected fully, its empty chunks freed
** (wp_state_collect); one that holds this much is collected again after
** WP_GC_IDLE_MS of being blocked, and backs off while that frees little. */
#define WP_GC_FORCE_MIN (4 * 1024 * 1024)
#define WP_GC_IDLE_MS 1000
/* A process's share of the runtime's memory limit grows and shrinks in
** steps of this. */
#define WP_MEM_RESV_STEP (64 * 1024)
/* The first bytes of a process's Lua memory come from one block of this
** size (lmem.c): 2 pages, one jemalloc size class with no rounding. A
** state copied from an image gets its image's size plus WP_ARENA_SLACK,
** rounded up to 2 KB (jemalloc's size classes from 8 to 16 KB). */
#define WP_ARENA_SIZE (8 * 1024)
#define WP_ARENA_SLACK 512
/* The largest arena an image may take (its template is built in one). */
#define WP_IMAGE_MAX (64 * 1024)

/* Per-process VM data of the state L belongs to (any thread of it). */
static inline struct wp_vmproc *wp_vm_self(lua_State *L) {
  return *(struct wp_vmproc **)lua_getextraspace(L);
}

/* Raises a Lua error unless L is the task thread being resumed: blocking
** calls are not allowed in coroutine.create/wrap coroutines. Returns the
** current task. */
struct wp_task *wp_vm_blockable(lua_State *L, const char *what);
/* Marks the current task blocked; the C function must then
** `return lua_yield(L, 0);`. */
void wp_task_block(struct wp_vmproc *vp, struct wp_task *t, void *wait);
/* Makes a blocked task ready; its resume will return the `nargs` values
** already pushed on t->th. */
void wp_task_ready(struct wp_vmproc *vp, struct wp_task *t, int nargs);
/* coroutine.resume and coroutine.wrap: like Lua's, but a preemption inside
** the user's coroutine is forwarded to the scheduler and the coroutine is
** resumed again afterwards, so spinning inside a coroutine cannot starve
** the other processes (task.c). */
int wp_co_resume(lua_State *L);
int wp_co_wrap(lua_State *L);
/* pcall and xpcall: Lua's, except that an error raised while the process
** is being ended (its memory limit, a kill) is never caught: it unwinds
** to the run loop, which ends the process (task.c; the run loop:
** vmproc.c). */
int wp_vm_pcall(lua_State *L);
int wp_vm_xpcall(lua_State *L);
/* Starts fn (at the top of L's stack, popped) as a new task of the process.
** Returns the new thread (pushed on L) or raises. */
struct wp_task *wp_task_spawn(lua_State *L);

/* Timers owned by the process. Arms a sleep for task t, or a one-shot timer
** that sends the fire time into channel c and closes it. delay in ns. */
struct wp_vtimer *wp_vtimer_new(struct wp_vmproc *vp, int kind, uint64_t delay_ns);
/* Cancels and frees a vtimer (any state). */
void wp_vtimer_free(struct wp_vmproc *vp, struct wp_vtimer *vt);

/* ---- channels (vm/chan.c) ---- */

enum wp_chan_kind { WP_CHAN_PLAIN, WP_CHAN_INBOX, WP_CHAN_EVENTS, WP_CHAN_LISTEN,
                   WP_CHAN_EVSUB /* an events.subscribe subscription's (evbus.c) */ };

/* A process.listen subscription: messages with exactly this topic go to its
** channel instead of the inbox (spec 03 §3). */
struct wp_listener {
  struct wp_listener *next;
  struct wp_chan *chan;
  int ref;  /* registry anchor of the channel */
  int raw;  /* 1: raw payload values; 0: Message objects */
  size_t tlen;
  char topic[];
};

#define WP_CHAN_MT "wippy.channel"

/* Pushes a new channel userdata with capacity cap (0 = unbuffered). */
struct wp_chan *wp_chan_new(lua_State *L, int cap, int kind);
/* Returns the channel at idx or raises a type error. */
/* Metatables of the runtime's hot objects (state.c). They are found in the
** registry under integer slots that every state reserves in the same
** place at setup (mt_reserve), not by name (a name costs an interning per
** lookup, and a fresh process has none cached), and a test compares the
** object's metatable with the pointer cached in vp->mt. The table is also
** registered under tname, as luaL_newmetatable does. */
/* Pushes the metatable; returns 1 when it was just made (fill it in). */
int wp_state_mt_new(lua_State *L, enum wp_mt k, const char *tname);
/* The userdata at idx if its metatable is k's, else NULL. Inline: ~16
** checks per echo, each a few API calls; the call itself was ~15 % of it. */
static inline void *wp_state_mt_test(lua_State *L, int idx, enum wp_mt k) {
  void *p = lua_touserdata(L, idx);
  if (!p || !lua_getmetatable(L, idx)) return NULL;
  if (lua_topointer(L, -1) != wp_vm_self(L)->mt[k]) p = NULL;
  lua_pop(L, 1);
  return p;
}
/* Raises luaL_typeerror(tname) for the value at idx. */
void *wp_state_mt_fail(lua_State *L, int idx, const char *tname);
/* wp_state_mt_test, raising luaL_typeerror(tname) when it is not. */
static inline void *wp_state_mt_check(lua_State *L, int idx, enum wp_mt k, const char *tname) {
  void *p = wp_state_mt_test(L, idx, k);
  return p ? p : wp_state_mt_fail(L, idx, tname);
}

/* Pushes key k's string. Each is interned once per state, on first use,
** and then held by a registry ref: a push is an array read, where lua_setfield/lua_pushstring
** with a C string look it up in Lua's API string cache (a strcmp) or, on a
** miss there, intern it again. May raise a memory error (first use). */
void wp_state_key_make(lua_State *L, enum wp_key k);
static inline void wp_state_key(lua_State *L, enum wp_key k) {
  unsigned r = wp_vm_self(L)->keyref[k];
  if (r - 1u < UINT16_MAX - 1u) /* made and kept: 1 .. UINT16_MAX - 1 */
    lua_rawgeti(L, LUA_REGISTRYINDEX, (lua_Integer)r);
  else
    wp_state_key_make(L, k);
}

struct wp_chan *wp_chan_check(lua_State *L, int idx);
/* Returns the channel at idx or NULL. */
struct wp_chan *wp_chan_test(lua_State *L, int idx);
/* Non-blocking send of the value at the top of L (popped) from the runtime
** (timer, inbox routing): hands it to a waiting receiver or buffers it.
** Returns 1 if accepted, 0 if the channel was full or closed. */
int wp_chan_offer(lua_State *L, struct wp_chan *c);
/* Closes a channel, waking every waiter. */
void wp_chan_close(lua_State *L, struct wp_chan *c);
/* Lua functions: ch:send, ch:receive, ch:close, case builders, select. */
int wp_chan_l_send(lua_State *L);
int wp_chan_l_receive(lua_State *L);
int wp_chan_l_close(lua_State *L);
int wp_chan_l_case_send(lua_State *L);
int wp_chan_l_case_receive(lua_State *L);
int wp_chan_l_select(lua_State *L);
int wp_chan_l_new(lua_State *L);
/* Called by the VM when a message for inbox/events becomes available. */
void wp_chan_source_ready(lua_State *L, struct wp_chan *c);
/* Ties a channel to a subscription (process.listen, subscribe). */
void wp_chan_set_listener(struct wp_chan *c, struct wp_listener *l);
struct wp_listener *wp_chan_get_listener(struct wp_chan *c);

/* Pending user messages (route.c). Takes the oldest message routed to the
** inbox (topic without listener) or to listener l; NULL if none. The caller
** owns the message taken. */
struct wp_msg *wp_vm_take_user(struct wp_vmproc *vp, struct wp_listener *l);
int wp_vm_has_user(struct wp_vmproc *vp, struct wp_listener *l);
/* Offers pending messages to whichever channels now have receivers. */
void wp_vm_reroute(lua_State *L, struct wp_vmproc *vp);

/* ---- the entry registry, as the Lua runtime sees it ---- */

/* A read-only view of the application's entries (spec 10 §1) in plain
** types, so the Lua side never sees app/'s structures. cli/ builds it once
** the entries are loaded and overridden, before any process runs, and
** neither it nor the trees it points to change until every process has
** ended: readers on any worker thread need no lock. */
struct wp_regentry {
  const char *id;             /* "ns:name" */
  size_t nslen;               /* bytes of the namespace: id[nslen] == ':' */
  const char *kind;
  const struct wp_node *meta; /* MAP (file meta merged in), or NULL */
  const struct wp_node *data; /* MAP of the element's other keys, or NULL */
  const char *file;           /* its definition file and line, for messages */
  int line;
};

struct wp_regview {
  const struct wp_regentry *v; /* sorted by id, bytewise (strcmp) */
  size_t n;
};

/* ---- the runtime ---- */

struct wp_rt {
  struct wp_sched *sched;
  struct wp_host *hosts;
  struct wp_code **codes;
  size_t ncodes;
  /* shutdown and exit code */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int shutdown;          /* a shutdown was requested */
  int exit_code;
  int terminal_done;     /* the -x process ended */
  int64_t exec_grace_ns;
  int64_t shutdown_timeout_ns;
  _Atomic int64_t live;  /* processes alive */
  _Atomic int shutdown_flag; /* rt->shutdown, readable without the lock */
  /* hooks filled by modules/ */
  void (*open_module)(lua_State *L, const char *name); /* pushes module or nil */
  /* the module's lazy library (its module table has no per-state setup),
  ** or NULL */
  const struct wp_libdef *(*module_def)(const char *name);
  void (*push_time)(lua_State *L, int64_t wall_ns);
  /* modules/json.c's encoder and decoder for payload transcoding (spec 10
  ** §6): the value at the top of L is replaced by the result, 0; or by the
  ** error object, -1. */
  int (*json_encode)(lua_State *L);
  int (*json_decode)(lua_State *L);
  struct wp_codec_limits *limits;
  /* the services (app/service.c), and the hook a process that runs one
  ** reports through: when it first blocks (ended = 0) and when it ends
  ** (under no lock; the hook takes rt->lock) */
  struct wp_service *services;
  void (*service_event)(struct wp_rt *rt, struct wp_service *svc, int ended, int abnormal,
                        int retryable);
  uint64_t terminal_counter; /* pid counter of the -x process */
  /* process.memory_limit (.wippy.yaml): the memory limit of every process
  ** whose entry names none (0 = none), and as written */
  int64_t mem_limit;
  char mem_limit_text[24];
  /* --memory-limit: the limit on all processes' heaps together (0 = none),
  ** as written, and what the processes hold of it (lmem.c) */
  int64_t mem_total_limit;
  char mem_total_text[24];
  _Atomic int64_t mem_total;
  /* The node name (cluster.name) on a clustered node, else NULL: its pids
  ** carry it (spec 08 §2), and a pid naming another node is not local. */
  const char *node;
  size_t node_len;
  /* system.node.addr() on a clustered node (borrowed, set with node by the
  ** command line): the URL of its NATS server; NULL or "" when unknown */
  const char *node_addr;
  /* On a clustered node (set by the command line before anything runs;
  ** NULL standalone): carries a send (WP_MSG_USER: topic, encoded payload)
  ** or cancel (WP_MSG_CANCEL: topic = reason) from process `from` to
  ** `dest`, a pid of node `node`, without waiting. Called only for a pid
  ** that is not local, so a local send never pays for it. Returns a
  ** WP_RT_REMOTE_* code; TOO_LARGE sets *size and *limit (bytes). */
  int (*remote_send)(struct wp_rt *rt, uint32_t kind, const char *node, size_t node_len,
                     const char *from, size_t from_len, const char *dest, size_t dest_len,
                     const char *topic, size_t topic_len, const void *payload, size_t len,
                     size_t *size, size_t *limit);
  /* Cluster-wide names (spec 07 §2) on a clustered node (set by the command
  ** line before anything runs; NULL standalone). names_lookup: the pid
  ** holding `name` in the node's replica, copied into out (cap bytes), its
  ** length returned (more than cap: call again with more room; 0: no such
  ** cluster name), its scope in *scope; any thread, never waits.
  ** names_request: queues a WP_NAMES_REGISTER/UNREGISTER of `name` in
  ** `scope` for pid (a pid of this node), answered by a WP_MSG_REPLY
  ** (wp_rt_reply) to reply_to with request id `id`; 0, or -1 out of memory
  ** (no answer comes). names_release: process pid ended; frees its cluster
  ** names in the background. All borrow their arguments for the call. */
#define WP_NAMES_REGISTER 1
#define WP_NAMES_UNREGISTER 2
  size_t (*names_lookup)(struct wp_rt *rt, const char *name, size_t len, char *out, size_t cap,
                         int *scope);
  int (*names_request)(struct wp_rt *rt, int op, int scope, const char *name, size_t len,
                       const char *pid, size_t plen, wp_handle reply_to, uint64_t id);
  void (*names_release)(struct wp_rt *rt, const char *pid, size_t plen);
  /* The cluster as this node sees it (NULL standalone; any thread, never
  ** waits): members copies the live members' names (this node included
  ** while it is one), up to max, into out and returns how many there are;
  ** leader copies the reaper's name (the live member with the smallest
  ** name) into out and returns its length, 0 when unknown. */
#define WP_RT_NODE_MAX 32
  size_t (*members)(struct wp_rt *rt, char (*out)[WP_RT_NODE_MAX + 1], size_t max);
  size_t (*leader)(struct wp_rt *rt, char *out, size_t cap);
  /* Process groups (pgroup.h): the node's groups and subscriptions, made
  ** by the command line before anything runs (NULL: the pg module says it
  ** is not available); replicated across the cluster on a clustered
  ** node. */
  struct wp_pg *pg;
  /* On a clustered node: its monitors and links with processes of other
  ** nodes (vm/remote.c; made by the command line with remote_send). */
  struct wp_remote *remote;
  char *pid_hosts; /* the "node@id" strings of hosts and codes, one block */
  /* The entries, for the registry module; NULL: none were loaded. */
  const struct wp_regview *regview;
  /* The env module's variables and storages (modules/env.c), built from
  ** regview at boot; NULL: none declared. */
  struct wp_env *env;
  /* The event bus (evbus.c): every live subscription of every process,
  ** under lock; made ready by wp_evbus_init before any process runs. */
  struct wp_evbus {
    pthread_rwlock_t lock;
    struct wp_evsub *head;
    int ready;
  } evbus;
};

/* Spawns code `id` on host `host_id` with the values at stack [first, first+n)
** of L (borrowed) as arguments. parent may be NULL. flags: WP_SPAWN_MONITOR,
** WP_SPAWN_LINK. On success returns 0 and, when child is not NULL, stores the
** new process there with a reference the caller drops (wp_proc_release); on
** failure returns -1 with *kind and *msg (static strings). */
#define WP_SPAWN_MONITOR 1
#define WP_SPAWN_LINK 2
#define WP_SPAWN_FUNC 4 /* a function.lua call: runs on the parent's host, pid
                           host part = the function's entry id */
int wp_rt_spawn(struct wp_rt *rt, struct wp_vmproc *parent, const char *id,
                const char *host_id, lua_State *L, int first, int n, int flags,
                struct wp_service *svc, struct wp_proc **child, const char **kind,
                const char **msg);
/* Spawns code `id` on host `host_id` for service svc with arguments already
** encoded (borrowed: copied), no parent; otherwise as wp_rt_spawn. */
int wp_rt_spawn_encoded(struct wp_rt *rt, const char *id, const char *host_id,
                        const struct wp_buf *args, struct wp_service *svc,
                        struct wp_proc **child, const char **kind, const char **msg);
/* Pushes a value tree (borrowed) as a fresh Lua value: maps and sequences
** become new tables, NULL (or a null node) nil. May raise (memory, a tree
** nested deeper than the C stack allows): call it under a protected call. */
void wp_rt_push_node(lua_State *L, const struct wp_node *n);
/* Encodes the items of a SEQ value tree (borrowed) as spawn arguments,
** appended to out. 0, or -1 with the reason in err. */
int wp_rt_args_from_node(const struct wp_node *seq, struct wp_buf *out, char *err,
                         size_t errlen);
/* Spawns a child (as wp_rt_spawn, monitored) and blocks the calling task of
** L until it ends; the task then returns the child's result value, or nil and
** its error. Raises on misuse; returns via lua_yield. */
int wp_vm_exec(lua_State *L, const char *id, const char *host_id, int first, int n,
               int flags);
/* Spawns a funcs call's callee (fcall.c): code `id` on host `host_id`,
** monitored by parent, flags as wp_rt_spawn; its arguments are the n values
** at [first, first+n) of L (borrowed), or, when args is not NULL, that
** encoded buffer (borrowed: copied); ctx, when not NULL, is the encoded
** context table the callee reads with the ctx module (borrowed: copied).
** Returns as wp_rt_spawn. */
int wp_rt_spawn_call(struct wp_rt *rt, struct wp_vmproc *parent, const char *id,
                     const char *host_id, int flags, lua_State *L, int first, int n,
                     const struct wp_buf *args, const struct wp_buf *ctx,
                     struct wp_proc **child, const char **kind, const char **msg);
/* Spawns a terminal process with string arguments (the CLI's -x); child as
** for wp_rt_spawn. */
int wp_rt_spawn_cli(struct wp_rt *rt, struct wp_code *code, struct wp_host *host,
                    int argc, char **argv, struct wp_proc **child, const char **msg);
struct wp_host *wp_rt_host(struct wp_rt *rt, const char *id);
struct wp_code *wp_rt_code(struct wp_rt *rt, const char *id);
/* Makes rt a node named `node` (borrowed for rt's life; NULL: standalone):
** the pids of every host and code rt has then carry it. Before anything is
** spawned, after the hosts and codes exist. 0, or -1 when out of memory. */
int wp_rt_set_node(struct wp_rt *rt, const char *node);
/* Frees what wp_rt_set_node made (at shutdown, when no process runs). */
void wp_rt_free_node(struct wp_rt *rt);
/* Resolves a destination (pid string or name) to a referenced process.
** Returns NULL with *err set to a message, and *kind. A pid of another
** node: kind WP_KIND_UNAVAILABLE and err wp_rt_node_down (compare the
** pointer); the caller names the node (wp_pid_node), or hands a send or
** cancel to rt->remote_send where it is set. */
extern const char wp_rt_node_down[];
/* What rt->remote_send says: queued; the node is not a live member (the
** wp_rt_node_down error); the message cannot travel in one piece; out of
** memory. */
enum { WP_RT_REMOTE_SENT = 0, WP_RT_REMOTE_DOWN, WP_RT_REMOTE_TOO_LARGE, WP_RT_REMOTE_NOMEM };
/* What else rt->remote_send carries (vm/remote.c): a process's end to its
** watchers and links on other nodes (WP_MSG_EXIT, WP_MSG_LINK_DOWN; the
** payload is the encoded result, and WP_RT_REMOTE_ABNORMAL is or'ed into
** the kind when it carries an error), and the relation requests below
** (from = the asking process, dest = the other; no topic, no payload). */
enum { WP_RT_REMOTE_MONITOR = 16, WP_RT_REMOTE_UNMONITOR, WP_RT_REMOTE_LINK,
       WP_RT_REMOTE_UNLINK };
#define WP_RT_REMOTE_ABNORMAL 0x100u
struct wp_proc *wp_rt_resolve(struct wp_rt *rt, const char *dest, size_t len,
                              const char **kind, const char **err);
/* Answers a blocked call (wp_vm_reply_wait) of process h with request id
** id: status WP_REPLY_*; for an error, kind (an error kind) and msg (both
** borrowed); RETRYABLE is an error whose retryable() is true. Any thread.
** A process that ended meanwhile is skipped. */
enum { WP_REPLY_TRUE = 0, WP_REPLY_FALSE, WP_REPLY_ERROR, WP_REPLY_RETRYABLE };
void wp_rt_reply(struct wp_rt *rt, wp_handle h, uint64_t id, int status, const char *kind,
                 const char *msg);
/* Blocks task t of L (from wp_vm_blockable, taken before the request was
** made) until the WP_MSG_REPLY with id arrives: the call then returns true,
** false, or nil and the error. Returns via lua_yield. */
int wp_vm_reply_wait(lua_State *L, struct wp_task *t, uint64_t id);
/* Parses a pid string; returns its counter or 0 if it is not a pid. */
uint64_t wp_pid_parse(const char *s, size_t len);
/* The node part of pid string s (len bytes, borrowed): a pointer into s and
** its length in *nlen, or NULL when s is not a pid or names no node. */
const char *wp_pid_node(const char *s, size_t len, size_t *nlen);
/* Formats the pid string of host (hl bytes) + counter into out (n bytes).
** Returns its length; 0 (and "") when it does not fit: n = hl +
** WP_PID_OVERHEAD always fits. Host ids have no length limit. */
#define WP_PID_OVERHEAD 22 /* "{" "|0x" up to 16 digits "}" NUL */
size_t wp_pid_format(char *out, size_t n, const char *host, size_t hl, uint64_t counter);

/* ---- what the control endpoint reads (observe.c) ---- */

/* A view of a live process from any thread holding a reference to it. */
struct wp_observe_proc {
  const char *pid;       /* p's (borrowed while the reference is held) */
  size_t pid_len;
  const char *entry;     /* the code's entry id, the host's id: live as */
  const char *host;      /* long as the runtime; "" when unknown */
  const char *state;     /* "waiting", "runnable", "running" or "exited" */
  const char *wait;      /* waiting: the call it is blocked in; else NULL */
  struct wp_service *svc; /* the service it runs, or NULL */
  int64_t mem;           /* Lua heap bytes */
  uint32_t mailbox;      /* messages routed and not yet received */
  uint64_t cpu_ns;       /* time it has run */
  int cluster_names;     /* it may hold cluster-wide names */
};
/* Fills *out without a lock and without touching p's Lua state (see
** observe.c): fields as of p's last run, each read atomically. */
void wp_observe_proc(const struct wp_proc *p, struct wp_observe_proc *out);

/* The sched ops the runtime registers. */
extern const struct wp_sched_ops wp_vm_ops;

/* Pushes the arguments of the running C function joined with sep and
** followed by end (either may be NULL): tostring semantics, error objects as
** their message (print, io.print, io.write). */
void wp_vm_concat_args(lua_State *L, const char *sep, const char *end);
/* Line of the innermost Lua frame (C frames such as pcall skipped), or 0. */
int wp_vm_lua_line(lua_State *L);
/* Loads a code's cached bytecode and pushes the chunk function, or raises. */
void wp_code_load(lua_State *L, struct wp_code *c);
/* Builds (image.c) and tears down (state.c) the process Lua state. wp_state_new
** returns NULL when out of memory. When *chunk is set, the new state holds
** vp->code's chunk function at index 1 (copied from the code's image);
** otherwise its stack is empty and the caller loads the code. */
lua_State *wp_state_new(struct wp_vmproc *vp, int *chunk);
/* vp->mem_state: past its own limit or the runtime's (ended, every
** further growth refused), counted against the runtime's limit (lmem.c);
** an idle collection's timer armed, or fired, and in the top bits that
** delay's shift (vmproc.c collect_idle). */
enum { WP_MEM_OVER = 1, WP_MEM_OVER_RT = 2, WP_MEM_ACCT = 4, WP_MEM_GC_ARMED = 8,
       WP_MEM_GC_DUE = 16, WP_MEM_GC_SHIFT = 5 };
/* The process's memory limit (0 = none; none for an image's template). */
static inline int64_t wp_state_mem_limit(const struct wp_vmproc *vp) {
  return vp->p ? vp->code->mem_limit : 0;
}
/* Sets up the process's memory accounting, before its state is made (on
** every spawn: inline). A process counted against the runtime's limit
** takes its first share with its first allocation. */
static inline void wp_state_limit(struct wp_vmproc *vp) {
  int64_t limit = wp_state_mem_limit(vp);
  if (vp->rt->mem_total_limit > 0) vp->mem_state = WP_MEM_ACCT;
  vp->mem_cap = vp->mem_state ? 0 : limit ? limit : INT64_MAX;
  vp->mem_gc_mb = WP_GC_FORCE_MIN >> 20;
}
/* Whether the process is past its memory limit, at a point where an error
** is caught or ends a task. A growth refused by code that does not retry it
** after a collection (lauxlib's buffers) is settled here: with L (a thread
** of the state that may run code) by a full collection, without by taking
** it as final. Past the limit, the process is being ended (its kill flag
** is set). */
int wp_state_past_limit(struct wp_vmproc *vp, lua_State *L);
/* Gives back what the process holds of the runtime's memory limit beyond
** its use and a margin (all of it, and no longer counted: at its end). */
void wp_state_release(struct wp_vmproc *vp, int all);
void wp_state_close(struct wp_vmproc *vp);
/* A new thread of vp's state, anchored in its registry for the state's
** life, made even while the main thread is suspended in a task (where an
** allocation error has no handler to go to), and outside its memory limit.
** NULL when out of memory. */
lua_State *wp_state_thread(struct wp_vmproc *vp);
/* Collects all of the process's garbage on S (a thread of its state at base
** level), frees the chunks left empty, drops their blocks from the
** free lists, and hands memory back to the system when much came free.
** Sets vp->mem_gc_mb for the next. */
void wp_state_collect(struct wp_vmproc *vp, lua_State *S);
/* Asks the cache for the process's arena and chunks (the blocks its Lua
** memory mostly lives in), before running it: one sweep of prefetches
** instead of a miss per object in a state gone cold while it waited. */
void wp_state_prefetch(const struct wp_vmproc *vp);
/* Notes the library globals and fields c's source names (borrows src), for
** its image to have them in place. */
void wp_code_scan(struct wp_rt *rt, struct wp_code *c, const char *src, size_t len);
/* Frees a code's image (at shutdown, when no process runs the code). */
void wp_image_free(struct wp_code *c);
/* A test's hook (tests/unit/test_image.c), else NULL: run protected in
** every image's template before the image is taken, with the template
** arena's address and used bytes as integers. What it stores in the
** template is part of the image. */
extern lua_CFunction wp_state_image_hook;
/* Compiles c's Lua source: `lua` (llen bytes, borrowed; what Lua loads,
** type annotations already erased) into c->bytecode, with debug
** information, under c->chunkname; notes the library names `src` (slen
** bytes, the text as written) uses, for c's image (wp_code_scan). 0, or -1
** with Lua's message in err. */
int wp_code_compile(struct wp_rt *rt, struct wp_code *c, const char *lua, size_t llen,
                    const char *src, size_t slen, char *err, size_t errlen);
/* Frees every code of rt (at shutdown, when no process runs). */
void wp_code_free_all(struct wp_rt *rt);

/* Sends p a CANCEL event from `from` (a pid string) with `reason`, using
** the system-message reserve when memory is short. 0, or -1 (logged) when
** even that failed. */
int wp_rt_cancel(struct wp_proc *p, const char *from, const char *reason);
/* One process fewer alive; wakes the main thread's waits when none is left
** or a shutdown is under way (vmproc.c, at a process's teardown). */
void wp_rt_live_dec(struct wp_rt *rt);
/* Request the runtime to shut down with exit code `code` (first call wins
** for the code when `from_terminal`). Any thread. */
void wp_rt_request_shutdown(struct wp_rt *rt, int code, int from_terminal);

/* ---- messages as Lua values (message.c) ---- */

/* Converts a received message (consumed) into the Lua value a channel
** delivers: a Message object for USER messages, an event table for EXIT,
** LINK_DOWN and CANCEL. Pushes exactly one value. Must run protected (a
** task, or the protected drain): on a memory error the message stays in
** vp->decoding, which the process's teardown frees. */
void wp_message_push_lua(lua_State *L, struct wp_msg *m);
/* Same, but a USER message becomes its raw payload: nil, the value, or an
** array of the values. */
void wp_message_push_raw(lua_State *L, struct wp_msg *m);
/* Pushes a Payload object wrapping the value at idx. */
void wp_payload_push(lua_State *L, int idx);
/* Registers Message/Payload metatables' methods (called lazily). */
int wp_payload_l_new(lua_State *L);
/* The status of a terminal read (a WP_MSG_IO message's aux). */
enum wp_io_status { WP_IO_OK, WP_IO_EOF, WP_IO_INTERRUPTED, WP_IO_NOMEM };

/* What a process's EXIT or LINK_DOWN says when its result could not be
** sent (the runtime ran out of memory; the message came without payload). */
#define WP_RESULT_LOST "result lost: the runtime ran out of memory"
/* Decodes the result stored in an EXIT/LINK_DOWN payload and pushes
** {value = ..., error = ...} (error WP_RESULT_LOST, Internal, for none). */
void wp_result_push(lua_State *L, const uint8_t *data, size_t len);

/* A process's private message queues (route.c; owner's worker only).
** wp_mq_push takes ownership of m; wp_mq_pop hands ownership of the oldest
** message to the caller (NULL when empty); wp_mq_free frees every message. */
void wp_mq_push(struct wp_mqueue *q, struct wp_msg *m);
struct wp_msg *wp_mq_pop(struct wp_mqueue *q);
void wp_mq_free(struct wp_mqueue *q);

/* Ties a channel to an event subscription (or unties it, with NULL): the
** channel is then a source channel reading the subscription's queue, and
** its collection ends the subscription (evbus.c). */
void wp_chan_set_evsub(struct wp_chan *c, struct wp_evsub *s);
struct wp_evsub *wp_chan_get_evsub(struct wp_chan *c);

/* ---- function calls: funcs.call and funcs.async (fcall.c) ---- */

/* How a call is made (spec 10 §2.5 options, as modules/funcs.c read them).
** Plain data: the caller owns it, fcall.c copies what it keeps. */
#define WP_FCALL_KINDS 128
struct wp_fcall_opts {
  int64_t timeout_ns;        /* 0: no limit */
  int max_attempts;          /* every attempt counted; <= 1: no retry */
  int64_t initial_delay_ns, max_delay_ns;
  double backoff, jitter;
  /* kinds retried (allow-list) and never retried (deny-list), each a run
  ** of NUL-terminated names ended by an empty one; unused when has_* is 0 */
  unsigned char has_retry_kinds, has_skip_kinds;
  char retry_kinds[WP_FCALL_KINDS], skip_kinds[WP_FCALL_KINDS];
};
/* The defaults of spec 10 §2.5: no timeout, one attempt, delays 100 ms to
** 10 s, factor 2, jitter 0.1. */
void wp_fcall_opts_init(struct wp_fcall_opts *o);
/* The registry meta (a MAP) of entry id, or NULL (any thread: the
** registry view does not change while processes run). */
const struct wp_node *wp_fcall_meta(struct wp_rt *rt, const char *id);
/* Starts a call of target `id` (a valid "ns:name", borrowed) from the
** task running on L, with the n values at [first, first+n) of L as
** arguments (borrowed: copied), the context table at ctx_idx (0: the
** caller's own context, if it has one) and options o (borrowed). With
** async 0 the calling task blocks until the call's outcome and then returns
** the value, or nil and an error (returns via lua_yield; or at once with
** nil, err when the call cannot start); with async 1 it pushes a Future
** and returns 1 (spec 10 §2.4). Raises on misuse (a blocking call in a
** coroutine.create coroutine) and when out of memory; the arguments and
** context failing to copy are nil, err (Invalid). */
int wp_fcall_start(lua_State *L, const char *id, int first, int n, int ctx_idx,
                   const struct wp_fcall_opts *o, int async);
/* Routing: m (an EXIT) ends an attempt of a call of vp's: handled (m
** consumed, 1) or not a callee's (0). L is the running, protected stack. */
int wp_fcall_exit(struct wp_vmproc *vp, lua_State *L, struct wp_msg *m);
/* A WP_VT_CALL timer fired (task.c, on L protected): frees vt and acts. */
void wp_fcall_fired(struct wp_vmproc *vp, lua_State *L, struct wp_vtimer *vt);
/* Teardown: forgets vp's calls (no Lua); with `cancel`, each process entry
** still running as a callee gets the CANCEL "caller context canceled" (spec
** 10 §2.6; not while the scheduler is being taken down: vm_free). */
void wp_fcall_free_all(struct wp_vmproc *vp, int cancel);

/* ---- the event bus: events.subscribe and events.send (evbus.c) ---- */

/* Makes rt's bus ready (before any process runs). 0, or -1 (no bus:
** subscribe and send then fail with Unavailable). */
int wp_evbus_init(struct wp_rt *rt);
/* A subscription of the process running on L for the system and kind
** patterns (borrowed: copied; "" or "*" match everything, a trailing "*"
** a prefix, anything else itself), active when this returns. Pushes its
** channel and returns it; NULL with *err (static) when there is no bus.
** Raises when out of memory. */
struct wp_chan *wp_evbus_subscribe(lua_State *L, const char *sys, size_t slen,
                                   const char *kind, size_t klen, const char **err);
/* Hands an event (strings borrowed; data the value at data_idx, 0: none) to
** every matching subscription of every process, through their mailboxes.
** Never blocks on a subscriber. 0, or -1 with *ekind (an error kind) and
** *err (static: the data cannot be copied, no bus). */
int wp_evbus_publish(lua_State *L, const char *sys, size_t slen, const char *kind,
                     size_t klen, const char *path, size_t plen, int data_idx,
                     const char **ekind, const char **err);
/* Ends the subscription channel c reads, if any (idempotent): no more
** events, the undelivered ones dropped, c closed. */
void wp_evbus_close(lua_State *L, struct wp_chan *c);
/* Routing: an EVENT message (consumed) to its subscription's queue, and on
** to a receiver waiting on its channel (L running, protected). */
void wp_evbus_route(struct wp_vmproc *vp, lua_State *L, struct wp_msg *m);
/* The subscription's channel source (chan.c): whether an event waits, and
** pushing the next one as a fresh event table (one must wait). */
int wp_evbus_has(const struct wp_evsub *s);
void wp_evbus_take(lua_State *L, struct wp_evsub *s);
/* The subscription's channel was collected: ends it (no Lua). */
void wp_evbus_chan_gone(struct wp_vmproc *vp, struct wp_evsub *s);
/* Teardown: ends every subscription of vp (no Lua). */
void wp_evbus_free_all(struct wp_vmproc *vp);

/* Attaches (or clears, with NULL) the pending time.after timer of a channel. */
void wp_chan_set_timer(struct wp_chan *c, struct wp_vtimer *vt);
struct wp_vtimer *wp_chan_get_timer(struct wp_chan *c);
/* Re-opens a closed channel (a reset timer fires into it again). */
void wp_chan_reopen(struct wp_chan *c);

#endif
