/*
** modules.h: the Wippy Lua modules (one file each) and the terminal.
** wp_modules_init installs the VM hooks (module opening, Time values,
** terminal requests) into a runtime.
*/
#ifndef WP_MODULES_H
#define WP_MODULES_H

#include "lazylib.h"
#include "vm.h"

void wp_modules_init(struct wp_rt *rt);

/* Modules are lazy library tables (vm/lazylib.h) ... */
extern const struct wp_libdef wp_lib_process, wp_lib_channel, wp_lib_time, wp_lib_io,
    wp_lib_errors, wp_lib_payload, wp_lib_funcs, wp_lib_uuid, wp_lib_metrics, wp_lib_system,
    wp_lib_registry, wp_lib_env, wp_lib_pg, wp_lib_events, wp_lib_ctx;
/* ... or built by an opener that pushes the module value. */
int wp_open_logger(lua_State *L);
/* The subscribe/unsubscribe globals (process.c). */
int wp_process_subscribe(lua_State *L);
int wp_process_unsubscribe(lua_State *L);
int wp_open_json(lua_State *L);
/* json.encode / json.decode of the value at the top of L, which the result
** replaces: 0 with the JSON text (the value) there, or -1 with the error
** object (kind Internal or Invalid, spec 10 §5) there. May raise (memory).
** The runtime's hooks rt->json_encode / json_decode (payload transcoding). */
int wp_json_encode_top(lua_State *L);
int wp_json_decode_top(lua_State *L);

/* The env module's variables and storages (env.c). wp_env_init builds them
** from rt->regview (set it first) into rt->env, before any process runs;
** 0, or -1 with "FILE:LINE: ..." in err for an entry it cannot use (a
** variable without a known storage, a bad or duplicate public name, a bad
** storage). wp_env_free frees them once no process runs. */
int wp_env_init(struct wp_rt *rt, char *err, size_t errlen);
void wp_env_free(struct wp_rt *rt);

/* Time objects (timeobj.c). Pushes a Time for a wall-clock time in ns since
** the Unix epoch, in the local zone. */
void wp_time_push(lua_State *L, int64_t wall_ns);
/* Pushes a Duration object. */
void wp_duration_push(lua_State *L, int64_t ns);
/* Reads a duration argument (number = ns, string, Duration). 0, or -1 with a
** static message in *err; never raises. */
int wp_time_arg(lua_State *L, int idx, int64_t *ns, const char **err);
/* Adds the non-timer functions and constants of the time module to the table
** at index mod (now, unix, date, parse, parse_duration, load_location, ...). */
void wp_time_register(lua_State *L, int mod);
/* time.now and time.unix: also entries of the lazy time library, so the
** common first use does not fill the rest (wp_time_register). */
int wp_time_l_now(lua_State *L);
int wp_time_l_unix(lua_State *L);

/* UUIDs (uuid.c): 16 bytes in RFC 9562 order. */
/* Reads one of the accepted text forms (s borrowed, len bytes; spec 10 §4)
** into u. 0, or -1 if s is not a UUID. */
int wp_uuid_parse(const char *s, size_t len, unsigned char u[16]);
/* Writes the canonical lowercase 36 characters of u into out (borrowed; no
** terminating NUL). */
void wp_uuid_format(const unsigned char u[16], char out[36]);
/* Generators: fill u (borrowed); 0, or the errno of the random source. v1
** and v7 are unique and increasing on this runtime, across all threads. */
int wp_uuid_v1(unsigned char u[16]);
int wp_uuid_v4(unsigned char u[16]);
int wp_uuid_v7(unsigned char u[16]);
/* Name-based (version 3: MD5, 5: SHA-1) of namespace ns and name (both
** borrowed; name has len bytes) into u. 0, or -1 if the digest failed. */
int wp_uuid_hashed(int version, const unsigned char ns[16], const char *name, size_t len,
                   unsigned char u[16]);
/* Replaces the random source (fill returns 0 or an errno), NULL restores
** getrandom(2). Only for tests, while no UUID is being generated. */
void wp_uuid_set_random(int (*fill)(void *buf, size_t len));

/* Terminal (terminal.c). The terminal thread serialises stdout/stderr writes
** and stdin reads in request order, so output is flushed before a read. */
int wp_terminal_start(struct wp_rt *rt);
/* Makes a pending and every later readline return nil (first Ctrl+C). */
void wp_terminal_interrupt(void);
/* Flushes queued output and stops the thread. */
void wp_terminal_stop(void);
/* Queues bytes for fd 1 or 2 (borrowed: copied). 0, or -1 out of memory
** (nothing queued). */
int wp_terminal_write(int fd, const char *s, size_t len);
/* Asks the terminal thread to read for vp (a line, or up to n bytes); the
** answer comes as a WP_MSG_IO message whose aux is a wp_io_status (vm.h).
** 0, or -1 out of memory (nothing asked). */
int wp_terminal_request(struct wp_vmproc *vp, int op, int64_t n);

/* Renders a Lua fields table as a JSON-like object into b ("{...}"), adding
** pid and location (logger.c). */
void wp_log_fields(lua_State *L, int idx, struct wp_buf *b, const char *pid,
                   const char *location, int *has_error);

#endif
