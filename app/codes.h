/*
** codes.h: the entries that run Lua (process.lua, function.lua,
** library.lua) made into compiled codes of the runtime (struct wp_code,
** vm/vm.h), with their modules, imports and memory limits resolved.
*/
#ifndef WP_CODES_H
#define WP_CODES_H

#include <stddef.h>

#include "entries.h"
#include "vm.h"

/* Compiles every process.lua, function.lua and library.lua entry into
** rt->codes (each entry's impl points to its code) and resolves their
** imports. 0, or -1 with a message naming the file, line and entry in err.
** The codes borrow strings from the entries, which must outlive them. */
int wp_codes_build(struct wp_rt *rt, struct wp_entries *entries, char *err, size_t errlen);

#endif
