/*
** fuzz_pid.c: libFuzzer target for the pid parser and formatter
** (wp_pid_parse and wp_pid_format, vm/runtime.c; spec 08 §3).
**
** Each input is parsed as a pid string. A counter c != 0 means it has the
** form "{host|0x<hex>}" (host with at most one '|' of its own): the digits
** are lowercase hex whose value is c, and formatting c for that host
** parses back to c. Then the input is split into a host (the bytes after
** the first 8, up to a NUL) and a counter (the first 8 bytes): a formatted
** pid is "" when it does not fit (length 0), else NUL-terminated at the
** returned length, and parses back to the counter (when not 0 and the
** host has no '|').
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_fail(const char *what, const char *text, size_t len) {
  fprintf(stderr, "pid invariant broken: %s (input \"%.*s\")\n", what, (int)len, text);
  abort();
}

static uint64_t parse_copy(const char *s, size_t len) {
  char *exact = malloc(len ? len : 1);  /* exact size: ASan sees any overread */
  memcpy(exact, s, len);
  uint64_t c = wp_pid_parse(exact, len);
  free(exact);
  return c;
}

static void check_parsed(const char *s, size_t size, uint64_t c) {
  if (size < 6 || s[0] != '{' || s[size - 1] != '}') fz_fail("not braced", s, size);
  const char *end = s + size - 1, *bar = NULL;
  for (const char *p = s + 1; p < end; p++)
    if (*p == '|') bar = p;
  if (bar == NULL || end - bar < 4 || bar[1] != '0' || bar[2] != 'x') fz_fail("no |0x", s, size);
  int bars = 0;
  for (const char *p = s + 1; p < bar; p++) bars += *p == '|';
  if (bars > 1) fz_fail("host with two bars", s, size);
  uint64_t v = 0;
  for (const char *p = bar + 3; p < end; p++) {
    int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
    if (d < 0 || v >> 60) fz_fail("bad digits", s, size);
    v = v * 16 + (uint64_t)d;
  }
  if (v != c) fz_fail("wrong counter", s, size);
  size_t hl = (size_t)(bar - s - 1);
  char host[256], out[256 + WP_PID_OVERHEAD];
  if (hl >= sizeof host || memchr(s + 1, '\0', hl)) return;
  memcpy(host, s + 1, hl);
  host[hl] = '\0';
  size_t len = wp_pid_format(out, sizeof out, host, hl, c);
  if (len == 0) fz_fail("a pid that fits was not formatted", s, size);
  if (parse_copy(out, len) != c) fz_fail("reformatted pid differs", s, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  uint64_t c = wp_pid_parse(s, size);
  if (c != 0) check_parsed(s, size, c);
  if (size >= 8) {
    char host[256], out[256 + WP_PID_OVERHEAD];
    size_t hl = size - 8 < sizeof host - 1 ? size - 8 : sizeof host - 1;
    memcpy(&c, data, 8);
    memcpy(host, data + 8, hl);
    host[hl] = '\0';
    hl = strlen(host); /* up to an embedded NUL */
    size_t len = wp_pid_format(out, sizeof out, host, hl, c);
    if (len == 0 || len != strlen(out)) fz_fail("wrong formatted length", out, strlen(out));
    if (c != 0 && strchr(host, '|') == NULL && parse_copy(out, len) != c)
      fz_fail("formatted pid does not parse back", out, len);
    /* no room for the NUL: refused whole, never cut */
    if (wp_pid_format(out, len, host, hl, c) != 0 || out[0] != '\0')
      fz_fail("a pid formatted into a buffer too small for it", out, len);
  }
  return 0;
}
