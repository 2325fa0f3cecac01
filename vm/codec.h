/*
** codec.h: deep copy of Lua values between process states (spec 03 §10).
**
** Values are encoded from the sender's state into a flat buffer that the
** message owns, then decoded into the receiver's state. Tables are copied
** deeply; shared sub-tables and cycles within one encode call are preserved
** (every table is encoded once and referenced by index afterwards). Error
** objects keep message, kind, retryable, details and context. Functions,
** threads, light userdata and other userdata (channels, messages, timers...)
** arrive as nil. Metatables are dropped. An integral float that fits an
** integer arrives as an integer (Wippy's payload transcoding does the same).
*/
#ifndef WP_CODEC_H
#define WP_CODEC_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct wp_codec_limits {
  int max_depth;     /* nesting of tables; default 128 */
  size_t max_bytes;  /* encoded size; default 64 MiB */
};

#define WP_CODEC_DEFAULT_DEPTH 128
#define WP_CODEC_DEFAULT_BYTES ((size_t)64 << 20)

/* Encodes the n values at stack indices first .. first+n-1 of L and appends
** them to `out` (which the caller owns, before and after, on every path).
** Never raises and never allocates in L: safe in any C function.
** Returns 0, or -1 with a static message in *err ("message too deep",
** "message too large", "out of memory"). lim NULL = defaults. */
int wp_codec_encode(lua_State *L, int first, int n, struct wp_buf *out,
                    const struct wp_codec_limits *lim, const char **err);

/* Appends one chunk of two values, nil and an error object of the given
** kind and message (retryable unknown, no details): a process's result built
** without Lua, for an end where its state cannot be used (a kill, no
** memory). Borrows kind and msg. 0, or -1 when out of memory (out as it
** was). */
int wp_codec_encode_error(struct wp_buf *out, const char *kind, const char *msg);

/* Writing one chunk of values without Lua (a runtime thread's event, such
** as a process group's membership change): wp_codec_w_chunk starts the
** chunk, then each value is a string (wp_codec_w_str) or a table:
** wp_codec_w_table with the number of array values and of key/value pairs
** that follow it (the array values first, then each key and its value),
** ended by wp_codec_w_end. The caller writes exactly what it announced;
** no back-references. Each appends to out and returns 0, or -1 out of
** memory (out then holds part of a value: the caller drops the buffer). */
int wp_codec_w_chunk(struct wp_buf *out);
int wp_codec_w_str(struct wp_buf *out, const char *s, size_t len);
int wp_codec_w_table(struct wp_buf *out, size_t narr, size_t npairs);
int wp_codec_w_end(struct wp_buf *out);

/* Decodes every value in data[0..len) (borrowed) and pushes them onto L.
** Returns the number of values pushed, or -1 (nothing pushed) if the buffer is
** malformed. May raise a Lua memory error (the process's allocator limit). */
int wp_codec_decode(lua_State *L, const uint8_t *data, size_t len);

/* Number of values encoded in a buffer (without decoding them), or -1. */
int wp_codec_count(const uint8_t *data, size_t len);

#endif
