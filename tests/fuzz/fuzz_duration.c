/*
** fuzz_duration.c: libFuzzer target for the Go-style duration parser and
** formatter (util/duration.c).
**
** Each input is parsed as a duration string. It must parse (0) or be
** refused (-1 with a message). A parsed value must survive formatting: the
** formatted text is NUL-terminated, as long as the returned length, and
** parses back to the same value; a shorter output buffer gets a prefix.
** Signs are symmetric: "-" before an unsigned text that parses to v gives
** -v, and dropping the "-" of a negative text gives its magnitude (unless
** it is -2^63, which has no positive counterpart). The first 8 bytes of
** the input, read as an int64_t, go through format and parse as well.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_fail(const char *what, const char *text, size_t len) {
  fprintf(stderr, "duration invariant broken: %s (input \"%.*s\")\n", what, (int)len,
          text);
  abort();
}

static int parse(const char *s, size_t len, int64_t *v) {
  const char *err = NULL;
  int rc = wp_duration_parse(s, len, v, &err);
  if (rc != 0 && (rc != -1 || err == NULL)) fz_fail("no message for a refusal", s, len);
  return rc;
}

/* format(v) parses back to v; a buffer one byte short gets a prefix. */
static void roundtrip(int64_t v) {
  char text[64], shorter[64];
  int64_t back;
  size_t len = wp_duration_format(v, text, sizeof text);
  if (len == 0 || len >= 32 || strlen(text) != len) fz_fail("bad formatted length", text, len);
  char *exact = malloc(len);  /* exact size: ASan sees any overread */
  memcpy(exact, text, len);
  if (parse(exact, len, &back) != 0 || back != v) fz_fail("format does not parse back", text, len);
  free(exact);
  if (wp_duration_format(v, shorter, len) != len || strlen(shorter) != len - 1 ||
      memcmp(shorter, text, len - 1) != 0)
    fz_fail("short buffer not a prefix", text, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  int64_t v, w;
  if (parse(s, size, &v) == 0) {
    roundtrip(v);
    if (size > 0 && s[0] != '-' && s[0] != '+') {
      char *neg = malloc(size + 1);
      neg[0] = '-';
      memcpy(neg + 1, s, size);
      if (parse(neg, size + 1, &w) != 0 || w != -v) fz_fail("'-' does not negate", s, size);
      free(neg);
    }
    if (size > 1 && s[0] == '-' && v != INT64_MIN &&
        (parse(s + 1, size - 1, &w) != 0 || w != -v))
      fz_fail("magnitude differs without '-'", s, size);
  }
  if (size >= 8) {
    memcpy(&v, data, 8);
    roundtrip(v);
  }
  return 0;
}
