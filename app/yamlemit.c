/*
** yamlemit.c: struct wp_node trees -> block YAML (yamltree.h).
**
** The writer emits block YAML with 4-space indentation in the style of Go's
** yaml.v3 (the style `wippy init` writes): sequences are indented under their
** key and a mapping inside a "- " item continues two columns in. A string
** that would read back as another type, or that cannot be written plain, is
** double-quoted, so write-then-load round-trips.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "yaml_int.h"
#include "yamltree.h"

static int puts_buf(struct wp_buf *o, const char *s) {
  return wp_buf_append(o, s, strlen(s));
}

static int pad(struct wp_buf *o, int indent) {
  static const char sp[] = "                                ";
  while (indent > 0) {
    int k = indent < 32 ? indent : 32;
    if (wp_buf_append(o, sp, (size_t)k) != 0) return -1;
    indent -= k;
  }
  return 0;
}

/*
** The length of the character at s (n > 0 bytes left) if the writer must
** escape it, else 0; its code point in *cp. These are the C0 and C1
** controls and DEL (libyaml's reader refuses most of them and reads NEL,
** U+0085, as a line break), the line breaks U+2028 and U+2029, U+FEFF (a
** byte order mark, skipped at the start of a line) and the non-characters
** U+FFFE and U+FFFF (refused).
*/
static size_t special_char(const char *str, size_t n, unsigned *cp) {
  const unsigned char *s = (const unsigned char *)str;
  if (s[0] < 0x20 || s[0] == 0x7f) {
    *cp = s[0];
    return 1;
  }
  if (n >= 2 && s[0] == 0xC2 && s[1] >= 0x80 && s[1] <= 0x9F) {
    *cp = s[1];
    return 2;
  }
  if (n >= 3 && ((s[0] == 0xE2 && s[1] == 0x80 && (s[2] == 0xA8 || s[2] == 0xA9)) ||
                 (s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF) ||
                 (s[0] == 0xEF && s[1] == 0xBF && (s[2] == 0xBE || s[2] == 0xBF)))) {
    *cp = ((unsigned)(s[0] & 0x0F) << 12) | ((unsigned)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    return 3;
  }
  return 0;
}

/* Whether a string must be double-quoted to read back as the same string. */
static int needs_quotes(const char *s, size_t len) {
  static const char *const yaml11[] = {"y",  "Y",   "yes", "Yes", "YES", "n",
                                       "N",  "no",  "No",  "NO",  "on",  "On",
                                       "ON", "off", "Off", "OFF", "<<",  NULL};
  unsigned cp;
  if (len == 0 || strlen(s) != len) return 1;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (special_char(s + i, len - i, &cp)) return 1;
    if (c == ':' && (i + 1 == len || s[i + 1] == ' ')) return 1;
    if (c == '#' && i > 0 && s[i - 1] == ' ') return 1;
  }
  if (strchr("-?:,[]{}#&*!|>'\"%@` ", s[0])) return 1;
  if (s[len - 1] == ' ') return 1;
  if (strncmp(s, "...", 3) == 0 || wp_yaml_is_one_of(s, yaml11)) return 1;
  struct wp_node probe;
  memset(&probe, 0, sizeof probe);
  wp_yaml_resolve_plain(s, len, &probe);
  return probe.type != WP_NODE_STR;
}

static int emit_string(struct wp_buf *o, const char *s, size_t len) {
  if (!needs_quotes(s, len)) return wp_buf_append(o, s, len);
  if (puts_buf(o, "\"") != 0) return -1;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    const char *e = NULL;
    unsigned cp;
    size_t k;
    switch (c) {
      case '"': e = "\\\""; break;
      case '\\': e = "\\\\"; break;
      case '\n': e = "\\n"; break;
      case '\t': e = "\\t"; break;
      case '\r': e = "\\r"; break;
      case '\0': e = "\\0"; break;
      default:
        if ((k = special_char(s + i, len - i, &cp)) != 0) {
          snprintf(esc, sizeof esc, cp < 0x100 ? "\\x%02x" : "\\u%04x", cp);
          e = esc;
          i += k - 1;
        }
    }
    if (e ? puts_buf(o, e) : wp_buf_append(o, &s[i], 1)) return -1;
  }
  return puts_buf(o, "\"");
}

static int emit_scalar(struct wp_buf *o, const struct wp_node *n) {
  char buf[64];
  if (n == NULL) return puts_buf(o, "null");
  switch (n->type) {
    case WP_NODE_NULL: return puts_buf(o, "null");
    case WP_NODE_BOOL: return puts_buf(o, n->u.b ? "true" : "false");
    case WP_NODE_INT:
      snprintf(buf, sizeof buf, "%lld", (long long)n->u.i);
      return puts_buf(o, buf);
    case WP_NODE_FLOAT:
      wp_yaml_fmt_float(n->u.f, buf, sizeof buf);
      return puts_buf(o, buf);
    case WP_NODE_STR:
      return emit_string(o, n->u.str.s ? n->u.str.s : "",
                         n->u.str.s ? n->u.str.len : 0);
    case WP_NODE_SEQ: return puts_buf(o, "[]"); /* only when empty */
    case WP_NODE_MAP: return puts_buf(o, "{}");
  }
  return -1;
}

static int is_block(const struct wp_node *n) {
  return n && ((n->type == WP_NODE_SEQ && n->u.seq.n > 0) ||
               (n->type == WP_NODE_MAP && n->u.map.n > 0));
}

static int emit_block(struct wp_buf *o, const struct wp_node *n, int indent,
                      int first_inline);

static int emit_map(struct wp_buf *o, const struct wp_node *n, int indent,
                    int first_inline) {
  for (size_t i = 0; i < n->u.map.n; i++) {
    const struct wp_node *v = n->u.map.vals[i];
    const char *k = n->u.map.keys[i];
    /* libyaml reads a key without "? " only if its ':' follows within 1024
       characters; like yaml.v3, a key longer than 128 bytes is written in
       the explicit form "? key" NEWLINE ": value". */
    int explicit_key = strlen(k) > 128;
    if ((i > 0 || !first_inline) && pad(o, indent) != 0) return -1;
    if ((explicit_key && puts_buf(o, "? ") != 0) || emit_string(o, k, strlen(k)) != 0)
      return -1;
    if (explicit_key && (puts_buf(o, "\n") != 0 || pad(o, indent) != 0)) return -1;
    if (puts_buf(o, ":") != 0) return -1;
    if (is_block(v)) {
      if (puts_buf(o, "\n") != 0 || emit_block(o, v, indent + 4, 0) != 0)
        return -1;
    } else if (puts_buf(o, " ") != 0 || emit_scalar(o, v) != 0 ||
               puts_buf(o, "\n") != 0) {
      return -1;
    }
  }
  return 0;
}

static int emit_seq(struct wp_buf *o, const struct wp_node *n, int indent,
                    int first_inline) {
  for (size_t i = 0; i < n->u.seq.n; i++) {
    const struct wp_node *v = n->u.seq.items[i];
    if ((i > 0 || !first_inline) && pad(o, indent) != 0) return -1;
    if (puts_buf(o, "- ") != 0) return -1;
    if (is_block(v)) {
      if (emit_block(o, v, indent + 2, 1) != 0) return -1;
    } else if (emit_scalar(o, v) != 0 || puts_buf(o, "\n") != 0) {
      return -1;
    }
  }
  return 0;
}

static int emit_block(struct wp_buf *o, const struct wp_node *n, int indent,
                      int first_inline) {
  return n->type == WP_NODE_MAP ? emit_map(o, n, indent, first_inline)
                                : emit_seq(o, n, indent, first_inline);
}

/* Renders a tree as block YAML into a NUL-terminated wp_malloc'd string;
** NULL on allocation failure. */
char *wp_yaml_emit(const struct wp_node *root, size_t *len) {
  struct wp_buf o = WP_BUF_INIT;
  int rc = is_block(root) ? emit_block(&o, root, 0, 0)
                          : (emit_scalar(&o, root) || puts_buf(&o, "\n"));
  if (rc != 0 || wp_buf_append(&o, "", 1) != 0) {
    wp_buf_free(&o);
    return NULL;
  }
  if (len) *len = o.len - 1;
  return (char *)o.data;
}

static int write_fd_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/*
** The file is written to a temporary sibling and renamed over `path`, so a
** crash never leaves a half-written lock file behind.
*/
int wp_yaml_write_file(const char *path, const struct wp_node *root, int mode) {
  size_t len;
  char *text = wp_yaml_emit(root, &len);
  if (!text) {
    errno = ENOMEM;
    return -1;
  }
  size_t pl = strlen(path);
  char *tmp = wp_malloc(pl + 16);
  if (!tmp) {
    wp_free(text);
    errno = ENOMEM;
    return -1;
  }
  memcpy(tmp, path, pl);
  memcpy(tmp + pl, ".tmp.XXXXXX", 12);
  int fd = mkstemp(tmp);
  int rc = -1, e = 0;
  if (fd >= 0) {
    if (fchmod(fd, (mode_t)mode) == 0 && write_fd_all(fd, text, len) == 0 &&
        fsync(fd) == 0) {
      rc = 0;
    }
    e = errno;
    if (close(fd) != 0 && rc == 0) {
      rc = -1;
      e = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
      rc = -1;
      e = errno;
    }
    if (rc != 0) unlink(tmp);
  } else {
    e = errno;
  }
  wp_free(tmp);
  wp_free(text);
  if (rc != 0) errno = e;
  return rc;
}
