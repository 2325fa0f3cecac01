/*
** errobj.h: Wippy error objects (spec 05 §6.1) as Lua userdata.
**
** An error object has a message, a kind ("" = unknown, else "Invalid",
** "NotFound", ...), a retryable flag (-1 unknown, 0 false, 1 true), an
** optional details table, an optional context string (errors.wrap) and
** the Lua stack captured when it was made (errors.call_stack).
** Methods: kind, message, retryable, details, stack; __tostring and __concat
** give the message. All functions here work on any lua_State of a process.
*/
#ifndef WP_ERROBJ_H
#define WP_ERROBJ_H

#include <lua.h>

#define WP_ERR_MT "wippy.error"

/* Kind strings (spec 05 §6.2). */
#define WP_KIND_UNKNOWN ""
#define WP_KIND_INVALID "Invalid"
#define WP_KIND_NOT_FOUND "NotFound"
#define WP_KIND_ALREADY_EXISTS "AlreadyExists"
#define WP_KIND_PERMISSION_DENIED "PermissionDenied"
#define WP_KIND_UNAVAILABLE "Unavailable"
#define WP_KIND_INTERNAL "Internal"
#define WP_KIND_CANCELED "Canceled"
#define WP_KIND_CONFLICT "Conflict"
#define WP_KIND_TIMEOUT "Timeout"
#define WP_KIND_RATE_LIMITED "RateLimited"

/* Pushes a new error object (details nil, no context). May raise a memory
** error. `kind` and `msg` are copied. */
void wp_err_push(lua_State *L, const char *kind, const char *msg, int retryable);
/* Same with a message of explicit length. Both capture the Lua stack of L
** (the running function first; none when no function of L runs). */
void wp_err_pushl(lua_State *L, const char *kind, const char *msg, size_t len,
                  int retryable);
/* Same without a stack: an error that was made elsewhere (decoded from a
** message), where L's stack says nothing about it. */
void wp_err_pushl_nostack(lua_State *L, const char *kind, const char *msg, size_t len,
                          int retryable);
/* Pushes errors.call_stack's value for the value at idx: a table {thread,
** frames = {{level, source, line, name, type}, ...}} for an error object
** with a captured stack, else nil (spec 10 §7.1). May raise a memory
** error. */
void wp_err_push_call_stack(lua_State *L, int idx);
/* Pushes nil and a new error object: the usual `return nil, err` (returns 2). */
int wp_err_return(lua_State *L, const char *kind, const char *msg);
/* Returns 1 if the value at idx is an error object. */
int wp_err_is(lua_State *L, int idx);
/* Accessors; idx must hold an error object. Strings stay valid while the
** object is alive. */
const char *wp_err_kind(lua_State *L, int idx);
const char *wp_err_message(lua_State *L, int idx, size_t *len);
const char *wp_err_context(lua_State *L, int idx); /* NULL if none */
int wp_err_retryable(lua_State *L, int idx);
/* Pushes the details table (or nil). */
void wp_err_push_details(lua_State *L, int idx);
/* Pops a table (or nil) from the stack and sets it as idx's details. */
void wp_err_set_details(lua_State *L, int idx);
/* Pops a string (or nil) and sets it as idx's context. */
void wp_err_set_context(lua_State *L, int idx);
/* Pushes the error metatable, creating it in this state on first use. */
void wp_err_push_metatable(lua_State *L);

#endif
