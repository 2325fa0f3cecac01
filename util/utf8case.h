/*
** utf8case.h: UTF-8 aware upper/lower case mapping for string.upper/lower
** (spec: "schön" -> "SCHÖN", as Wippy's Go strings.ToUpper does).
** Every one-to-one (simple) case mapping of Unicode, from libutf8proc, as
** Go's unicode tables; ASCII fast path. Bytes that are not valid UTF-8 are
** copied unchanged, never rejected.
*/
#ifndef WP_UTF8CASE_H
#define WP_UTF8CASE_H

#include <stddef.h>

#include "buf.h"

/* Appends the mapped text of s[0..len) (borrowed) to out. upper=1 upper case,
** 0 lower case. Returns 0 or WP_ENOMEM. */
int wp_utf8_case(const char *s, size_t len, int upper, struct wp_buf *out);

#endif
