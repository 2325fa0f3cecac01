/*
** cnfmt.c: keys and values of the cluster names' bucket (see cnfmt.h and
** cnames.c's design note).
*/
#include "cnfmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Writes name's key into out (3 * nlen + 1 bytes). */
void wp_cnfmt_key(const char *name, size_t nlen, char *out) {
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < nlen; i++) {
    unsigned char ch = (unsigned char)name[i];
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
        ch == '_' || ch == '-') {
      *out++ = (char)ch;
    } else {
      *out++ = '=';
      *out++ = hex[ch >> 4];
      *out++ = hex[ch & 15];
    }
  }
  *out = '\0';
}

static int unhex(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The name of key into out (at least strlen(key) bytes); its length, or
** -1 when key is not one of ours. */
long wp_cnfmt_parse_key(const char *key, char *out) {
  size_t n = 0;
  for (const char *k = key; *k; k++) {
    if (*k != '=') {
      out[n++] = *k;
      continue;
    }
    int a = unhex(k[1]), b = a < 0 ? -1 : unhex(k[2]);
    if (b < 0) return -1;
    out[n++] = (char)(a << 4 | b);
    k += 2;
  }
  return (long)n;
}


/* Parses "v1 SCOPE STATE NODE INC PID" (len bytes); 0, or -1 when it is
** not one (an empty value: a released name). */
int wp_cnfmt_parse_value(const char *v, size_t len, struct holder *h) {
  char buf[128];
  if (len < 4 || memcmp(v, "v1 ", 3) != 0) return -1;
  size_t head = len < sizeof buf - 1 ? len : sizeof buf - 1;
  memcpy(buf, v, head);
  buf[head] = '\0';
  char state, node[WP_CLUSTER_NAME_MAX + 1];
  unsigned long long inc;
  int used = 0;
  if (sscanf(buf, "v1 %d %c %32[A-Za-z0-9_-] %llu %n", &h->scope, &state, node, &inc, &used) <
          4 ||
      used <= 0 || (size_t)used >= len || h->scope < WP_CLUSTER_EVENTUAL ||
      h->scope > WP_CLUSTER_STRONG || (state != 'A' && state != 'P'))
    return -1;
  h->pending = state == 'P';
  memcpy(h->node, node, sizeof node);
  h->inc = inc;
  h->pid = v + used;
  h->plen = len - (size_t)used;
  return 0;
}

int wp_cnfmt_value(char *out, size_t cap, int scope, int pending, const char *node,
                      uint64_t inc, const char *pid, size_t plen) {
  int n = snprintf(out, cap, "v1 %d %c %s %" PRIu64 " %.*s", scope, pending ? 'P' : 'A', node,
                   inc, (int)plen, pid);
  return n > 0 && (size_t)n < cap ? n : -1;
}
