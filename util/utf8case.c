/*
** utf8case.c: UTF-8 upper/lower case mapping (see utf8case.h).
**
** Mapping is per code point and one-to-one, as Go's strings.ToUpper and
** strings.ToLower do with unicode.ToUpper/ToLower: "straße" upper-cases to
** "STRAßE" (ß has no single-letter capital), "İ" lower-cases to "i", "ǅ"
** maps to "Ǆ"/"ǆ". The mappings are libutf8proc's simple case mappings
** (UnicodeData.txt fields 12 and 13), kept current with Unicode by its
** maintainers, with one exception: libutf8proc upper-cases "ß" to "ẞ"
** (U+1E9E), which UnicodeData and Go do not, so ß is kept. The result may
** differ in byte length from the input ("ı" -> "I").
**
** Decoding is strict (utf8proc_iterate: no overlong forms, surrogates or
** values past U+10FFFF). A byte that does not start a valid sequence is
** copied as is and decoding resumes at the next byte, so invalid input
** passes through.
*/
#include "utf8case.h"

#include <stdint.h>
#include <utf8proc.h>

#include "wp.h"

/*
** Every ASCII byte yields one byte, so reserving the whole input up front
** covers ASCII text; before each longer sequence the room still needed
** (the rest of the input plus one encoded character) is reserved again,
** which costs nothing while the buffer is large enough.
*/
int wp_utf8_case(const char *str, size_t len, int upper, struct wp_buf *out) {
  const uint8_t *s = (const uint8_t *)str, *end = s + len;
  size_t start = out->len;
  if (wp_buf_reserve(out, len)) return WP_ENOMEM;
  while (s < end) {
    uint8_t c = *s;
    if (c < 0x80) { /* ASCII fast path */
      if (upper && c >= 'a' && c <= 'z') c = (uint8_t)(c - 32);
      else if (!upper && c >= 'A' && c <= 'Z') c = (uint8_t)(c + 32);
      out->data[out->len++] = c;
      s++;
      continue;
    }
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate(s, end - s, &cp);
    if (wp_buf_reserve(out, (size_t)(end - s) + 4)) {
      out->len = start;
      return WP_ENOMEM;
    }
    if (n <= 0) { /* not valid UTF-8: copy the byte unchanged */
      out->data[out->len++] = c;
      s++;
      continue;
    }
    if (upper && cp != 0xDF) /* see the note above */
      cp = utf8proc_toupper(cp);
    else if (!upper)
      cp = utf8proc_tolower(cp);
    out->len += (size_t)utf8proc_encode_char(cp, out->data + out->len);
    s += n;
  }
  return 0;
}
