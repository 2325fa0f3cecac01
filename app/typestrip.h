/*
** typestrip.h: erase Luau-style type annotations from Lua source.
**
** Wippy apps may carry gradual type annotations (`local function main():
** integer`, `(name: string)`, `type Job = {id: integer}`, `x :: T`, ...) that
** stock Lua 5.4 cannot parse. wp_typestrip() replaces every annotation it
** recognises by spaces, so the result has the same length, the same line
** breaks and the same columns as the original: error positions reported by
** Lua still point at the user's source. Plain Lua is never changed (see the
** design note in typestrip.c).
*/
#ifndef WP_TYPESTRIP_H
#define WP_TYPESTRIP_H

#include <stddef.h>

/*
** Strips the type annotations of the `len` bytes at `src` (any bytes; need
** not be NUL-terminated; src may be NULL when len is 0). Borrows `src`.
** Returns:
**   0  *out is a new wp_malloc'd buffer of *outlen == len bytes (plus a
**      terminating NUL not counted in *outlen) with every annotation replaced
**      by spaces; '\n' and '\r' inside erased text are kept. The caller frees
**      it with wp_free().
**   1  nothing to erase: *out = NULL, *outlen = 0; use the original source.
**  -1  allocation failure: *out = NULL, *outlen = 0.
** Thread-safe (no shared state), O(len) time, O(1) extra memory besides the
** copy and a small span list. Never reads outside src[0..len).
*/
int wp_typestrip(const char *src, size_t len, char **out, size_t *outlen);

#endif
