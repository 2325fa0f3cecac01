/*
** fuzz_typestrip.c: libFuzzer target for wp_typestrip (app/typestrip.c).
**
** Each input is used three ways:
**
**   raw      the bytes themselves;
**   tokens   each byte picks one of 64 Lua/Luau tokens (low 6 bits) and a
**            separator (high 2 bits), so that many inputs are valid Lua
**            with labels, attributes, `type` used as a name, methods...;
**   program  the bytes drive a small grammar that writes a random program
**            twice: once with Luau annotations (parameters, return types,
**            locals, for variables, generics, casts, type statements) and
**            once with every annotation already replaced by spaces. The
**            plain grammar is valid Lua 5.4 and mixes in the look-alikes
**            (`::label::`, `<const>`, `type` as a variable, `obj:m()`,
**            strings and comments holding annotations).
**
** For raw and tokens text, wp_typestrip must not crash (ASan/UBSan watch
** the reads), must return 0, 1 or -1, and on 0 the copy must have the
** input's length, a NUL after it, '\n'/'\r' at the same offsets and only
** spaces in place of other bytes; if the text compiles as plain Lua 5.4
** (luaL_loadbufferx, mode "t": binary chunks are never loaded) it must
** come back unchanged. For a program whose erased twin compiles, the pass
** must turn the annotated text into exactly that twin (return 1 when the
** program has no annotation).
**
** Build and run with tests/fuzz/run.sh. tests/unit/test_typestrip.c also
** includes this file to replay pseudo-random inputs in the unit suite.
*/
#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "typestrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *fz_L;  /* one state for the whole run; only compiles */

static void fz_fail(const char *what, const char *text, size_t size) {
  fprintf(stderr, "typestrip invariant broken: %s (text of %zu bytes)\n",
          what, size);
  fwrite(text, 1, size, stderr);
  fputc('\n', stderr);
  abort();
}

static int fz_compiles(const char *src, size_t size) {
  int ok;
  if (fz_L == NULL) {
    fz_L = luaL_newstate();
    if (fz_L == NULL) abort();
  }
  ok = luaL_loadbufferx(fz_L, src, size, "=fuzz", "t") == LUA_OK;
  lua_settop(fz_L, 0);
  return ok;
}

/* Invariants for any text; returns the result code, the copy in *outp. */
static int fz_strip(const char *src, size_t size, char **outp) {
  char *out = NULL;
  size_t outlen = 12345, i;
  int rc = wp_typestrip(src, size, &out, &outlen);
  if (rc == 1 || rc == -1) {
    if (out != NULL || outlen != 0) fz_fail("rc 1/-1 with an output", src, size);
  } else if (rc == 0) {
    if (out == NULL || outlen != size) fz_fail("wrong output length", src, size);
    if (out[size] != '\0') fz_fail("output not NUL-terminated", src, size);
    for (i = 0; i < size; i++) {
      int a = (unsigned char)src[i], b = (unsigned char)out[i];
      if (a == b) continue;
      if (a == '\n' || a == '\r') fz_fail("line break erased", src, size);
      if (b != ' ') fz_fail("byte replaced by a non-space", src, size);
    }
  } else {
    fz_fail("unexpected return code", src, size);
  }
  *outp = out;
  return rc;
}

/* raw and tokens forms: invariants, and plain Lua is never changed */
static void fz_check_text(const char *src, size_t size) {
  char *out;
  int rc = fz_strip(src, size, &out);
  if (rc == 0 && memcmp(out, src, size) != 0 && fz_compiles(src, size))
    fz_fail("plain Lua was changed", src, size);
  wp_free(out);
}


/*
** {======================================================
** tokens form
** =======================================================
*/

static const char *const fz_tokens[64] = {
  "type", "export", "local", "function", "for", "in", "do", "end",
  "return", "goto", "if", "then", "else", "repeat", "until", "break",
  "x", "T", "f", "obj", "const", "close", "typeof", "nil",
  "=", ":", "::", ",", ";", ".", "...", "..",
  "(", ")", "{", "}", "[", "]", "<", ">",
  "->", "?", "|", "&", "-", "+", "#", "==",
  "1", "1e-3", "0x1p4", "'s'", "\"a\\z\n b\"", "[[s]]", "[=[ ]] ]=]",
  "--c\n", "--[[c]]", "number", "string", "any", "true", "and", "or", "not"
};

static void fz_tokens_form(const uint8_t *data, size_t size) {
  static const char *const sep[4] = {" ", "", "\n", " "};
  char *text = calloc(size * 16 + 1, 1); /* a token and a separator: <= 12 */
  size_t i, n = 0;
  if (text == NULL) return;
  for (i = 0; i < size; i++) {
    const char *t = fz_tokens[data[i] & 63], *s = sep[data[i] >> 6];
    size_t tl = strlen(t), sl = strlen(s);
    memcpy(text + n, t, tl);
    n += tl;
    memcpy(text + n, s, sl);
    n += sl;
  }
  fz_check_text(text, n);
  free(text);
}

/* }====================================================== */


/*
** {======================================================
** program form: a generator writing an annotated program (a) and its
** expected erasure (e) side by side
** =======================================================
*/

typedef struct Gen {
  const uint8_t *d;  /* choices */
  size_t n, i;
  char *a, *e;       /* annotated text, expected text */
  size_t len, cap;
  int oom;
  int annotated;     /* an annotation was written */
  int erasing;       /* writing inside an erased region */
  int depth;
  int loops;         /* enclosing loops (for `break`) */
  size_t sep_b, sep_e;  /* the last separator written */
} Gen;

#define GEN_MAXDEPTH 5

/* A choice in [0, k): 0 once the input is used up, so generation ends. */
static unsigned g_pick(Gen *g, unsigned k) {
  if (g->i >= g->n) return 0;
  return g->d[g->i++] % k;
}

static void g_put(Gen *g, const char *s) {
  size_t l = strlen(s), i;
  if (g->oom) return;
  if (g->len + l + 1 > g->cap) {
    size_t nc = (g->len + l + 1) * 2;
    char *na = realloc(g->a, nc), *ne;
    if (na == NULL) {
      g->oom = 1;
      return;
    }
    g->a = na;
    ne = realloc(g->e, nc);
    if (ne == NULL) {
      g->oom = 1;
      return;
    }
    g->e = ne;
    g->cap = nc;
  }
  for (i = 0; i < l; i++) {
    g->a[g->len + i] = s[i];
    g->e[g->len + i] =
        (g->erasing && s[i] != '\n' && s[i] != '\r') ? ' ' : s[i];
  }
  g->len += l;
}

static void g_one(Gen *g, const char *const *v, unsigned k) {
  g_put(g, v[g_pick(g, k)]);
}
#define G_ONE(g, arr) g_one(g, arr, (unsigned)(sizeof arr / sizeof arr[0]))

/* White space between tokens; comments hold annotation look-alikes. */
static void g_sep(Gen *g) {
  static const char *const v[] = {
    " ", " ", " ", "\n", "  ", "\t", "\r\n", " --[[ x: T ]] ",
    " -- local y: number\n", " --[==[ ]] :: T ]==] ", "\n\n"};
  g->sep_b = g->len;
  G_ONE(g, v);
  g->sep_e = g->len;
}

static void g_tok(Gen *g, const char *s) {
  g_put(g, s);
  g_sep(g);
}

/*
** Starts or ends an erased region. The pass erases from the first to the
** last token of an annotation, so a separator written just before the end
** is restored in the expected text.
*/
static void g_erase(Gen *g, int on) {
  g->erasing = on;
  if (on) {
    g->annotated = 1;
  } else if (g->sep_e == g->len && !g->oom) {
    memcpy(g->e + g->sep_b, g->a + g->sep_b, g->sep_e - g->sep_b);
  }
}

static void g_name(Gen *g) {
  static const char *const v[] = {
    "x", "y", "a", "type", "export", "T", "const", "close", "typeof",
    "read", "number", "string", "self", "any"};
  G_ONE(g, v);
  g_sep(g);
}

static void g_type(Gen *g);

static void g_typelist(Gen *g) {
  unsigned k = g_pick(g, 3), i;
  for (i = 0; i < k; i++) {
    if (i) g_tok(g, ",");
    if (g_pick(g, 3) == 0) {
      g_name(g);
      g_tok(g, ":");
    }
    g_type(g);
  }
  if (g_pick(g, 4) == 0) {
    if (k) g_tok(g, ",");
    g_tok(g, "...");
    g_type(g);
  }
}

/* A type; the caller has set g->erasing. */
static void g_type(Gen *g) {
  static const char *const names[] = {
    "number", "string", "any", "T", "Foo.Bar", "boolean", "integer",
    "nil", "true", "\"lit\"", "'a'", "1", "typeof(x)", "typeof(f(1, {}))"};
  unsigned c = g->depth >= GEN_MAXDEPTH ? 0 : g_pick(g, 15);
  g->depth++;
  switch (c) {
    case 0: G_ONE(g, names); g_sep(g); break;
    case 1: g_tok(g, "{"); g_type(g); g_tok(g, "}"); break;
    case 2:
      g_tok(g, "{"); g_tok(g, "["); g_type(g); g_tok(g, "]"); g_tok(g, ":");
      g_type(g); g_tok(g, "}");
      break;
    case 3:
      g_tok(g, "{"); g_tok(g, "x"); g_tok(g, ":"); g_type(g);
      g_tok(g, g_pick(g, 2) ? "," : ";");
      g_tok(g, g_pick(g, 2) ? "type" : "read y"); g_tok(g, ":"); g_type(g);
      if (g_pick(g, 2)) g_tok(g, ",");
      g_tok(g, "}");
      break;
    case 4:
      g_tok(g, "("); g_typelist(g); g_tok(g, ")"); g_tok(g, "->");
      if (g_pick(g, 2)) {
        g_tok(g, "("); g_typelist(g); g_tok(g, ")");
      } else {
        g_type(g);
      }
      break;
    case 5: g_type(g); g_tok(g, "?"); break;
    case 6: g_type(g); g_tok(g, "["); g_tok(g, "]"); break;
    case 7: g_type(g); g_tok(g, "|"); g_type(g); break;
    case 8: g_type(g); g_tok(g, "&"); g_type(g); break;
    case 9:
      g_tok(g, "Map"); g_tok(g, "<"); g_type(g); g_tok(g, ",");
      g_type(g); g_tok(g, ">");
      break;
    case 10:
      g_tok(g, "<"); g_tok(g, "U"); g_tok(g, ">"); g_tok(g, "(");
      g_typelist(g); g_tok(g, ")"); g_tok(g, "->"); g_type(g);
      break;
    case 11: g_tok(g, "("); g_type(g); g_tok(g, ")"); break;
    case 12: g_tok(g, "("); g_tok(g, "|"); g_type(g); g_tok(g, ")"); break;
    case 13: g_tok(g, "{"); g_tok(g, "}"); break;
    default: g_tok(g, "Array"); g_tok(g, "<"); g_type(g); g_tok(g, ">"); break;
  }
  g->depth--;
}

/* [':' type], erased */
static void g_annot(Gen *g) {
  if (g_pick(g, 2) == 0) return;
  g_erase(g, 1);
  g_tok(g, ":");
  g_type(g);
  g_erase(g, 0);
}

/* ['<' generics '>'], erased */
static void g_generics(Gen *g) {
  if (g_pick(g, 4) != 0) return;
  g_erase(g, 1);
  g_tok(g, "<");
  g_tok(g, "T");
  if (g_pick(g, 2)) {
    g_tok(g, ",");
    g_tok(g, "U");
    if (g_pick(g, 2)) {
      g_tok(g, "=");
      g_type(g);
    }
  }
  if (g_pick(g, 2)) {
    g_tok(g, ",");
    g_tok(g, "V...");
  }
  g_tok(g, ">");
  g_erase(g, 0);
}

static void g_block(Gen *g);
static void g_expr(Gen *g);

/*
** An expression with an optional unparenthesised cast, used only where a
** ',' ')' '}' or a new statement follows (a cast before a binary operator
** such as '<' would be ambiguous).
*/
static void g_expr_cast(Gen *g) {
  g_expr(g);
  if (g_pick(g, 4) == 0) {
    g_erase(g, 1);
    g_tok(g, "::");
    g_type(g);
    g_erase(g, 0);
  }
}

/* '(' params ')' [':' type] body 'end' */
static void g_funcbody(Gen *g) {
  unsigned k, i;
  int loops = g->loops;
  g_generics(g);
  g_tok(g, "(");
  k = g_pick(g, 4);
  for (i = 0; i < k; i++) {
    if (i) g_tok(g, ",");
    g_name(g);
    g_annot(g);
  }
  if (g_pick(g, 3) == 0) {
    if (k) g_tok(g, ",");
    g_tok(g, "...");
    g_annot(g);
  }
  g_tok(g, ")");
  g_annot(g);  /* return type */
  g->loops = 0;
  g_block(g);
  g->loops = loops;
  g_tok(g, "end");
}

static void g_args(Gen *g) {
  unsigned c = g_pick(g, 4), k, i;
  if (c == 1) {
    static const char *const s[] = {"'s'", "\"x: T\"", "[[a :: b]]"};
    G_ONE(g, s);
    g_sep(g);
  } else if (c == 2) {
    g_tok(g, "{");
    g_tok(g, "}");
  } else {
    g_tok(g, "(");
    k = g_pick(g, 3);
    for (i = 0; i < k; i++) {
      if (i) g_tok(g, ",");
      g_expr_cast(g);
    }
    g_tok(g, ")");
  }
}

/* prefix expression: Name {'.' Name | '[' e ']' | ':' Name args | args} */
static void g_prefix(Gen *g, int call) {
  unsigned k = g->depth >= GEN_MAXDEPTH ? 0 : g_pick(g, 3), i;
  g->depth++;
  if (g_pick(g, 4) == 0 && g->depth < GEN_MAXDEPTH) {
    g_tok(g, "(");
    g_expr(g);
    g_tok(g, ")");
  } else {
    g_name(g);
  }
  for (i = 0; i < k; i++) {
    switch (g_pick(g, 4)) {
      case 0: g_tok(g, "."); g_name(g); break;
      case 1: g_tok(g, "["); g_expr(g); g_tok(g, "]"); break;
      case 2: g_tok(g, ":"); g_name(g); g_args(g); break;
      default: g_args(g); break;
    }
  }
  if (call) g_args(g);
  g->depth--;
}

static void g_expr(Gen *g) {
  static const char *const lits[] = {
    "1", "1e-3", "0x1p4", ".5", "3.", "0xA.8p1", "'s'", "\"a: b\"",
    "[[x: T]]", "[==[ ]] ]==]", "\"\\z\n  :: T\"", "'\\''", "nil",
    "true", "false", "\"\\\\\""};
  static const char *const binops[] = {
    "+", "-", "*", "/", "//", "%", "^", "..", "==", "~=", "<", ">", "<=",
    ">=", "and", "or", "&", "|", "~", "<<", ">>"};
  static const char *const unops[] = {"-", "not", "#", "~"};
  unsigned c = g->depth >= GEN_MAXDEPTH ? g_pick(g, 2) : g_pick(g, 11), k, i;
  g->depth++;
  switch (c) {
    case 0: g_name(g); break;
    case 1: G_ONE(g, lits); g_sep(g); break;
    case 2:
      g_tok(g, "{");
      k = g_pick(g, 4);
      for (i = 0; i < k; i++) {
        if (i) g_tok(g, g_pick(g, 2) ? "," : ";");
        switch (g_pick(g, 3)) {
          case 0: g_name(g); g_tok(g, "="); g_expr(g); break;
          case 1: g_tok(g, "["); g_expr(g); g_tok(g, "]"); g_tok(g, "=");
                  g_expr(g); break;
          default: g_expr_cast(g); break;
        }
      }
      g_tok(g, "}");
      break;
    case 3: g_expr(g); G_ONE(g, binops); g_sep(g); g_expr(g); break;
    case 4: G_ONE(g, unops); g_sep(g); g_expr(g); break;
    case 5: g_tok(g, "("); g_expr(g); g_tok(g, ")"); break;
    case 6: g_prefix(g, 1); break;
    case 7: g_tok(g, "function"); g_funcbody(g); break;
    case 8: g_prefix(g, 0); break;
    case 9:  /* cast, parenthesised so that nothing can extend the type */
      g_tok(g, "(");
      g_expr(g);
      g_erase(g, 1);
      g_tok(g, "::");
      g_type(g);
      g_erase(g, 0);
      g_tok(g, ")");
      break;
    default: g_tok(g, "type"); g_args(g); break;  /* type(x) */
  }
  g->depth--;
}

static void g_stat(Gen *g) {
  unsigned c = g->depth >= GEN_MAXDEPTH ? g_pick(g, 2) : g_pick(g, 18), k, i;
  g->depth++;
  switch (c) {
    case 0: g_name(g); g_tok(g, "="); g_expr_cast(g); break;
    case 1:
      g_tok(g, "local");
      k = 1 + g_pick(g, 2);
      for (i = 0; i < k; i++) {
        unsigned at = g_pick(g, 4);
        if (i) g_tok(g, ",");
        g_name(g);
        if (at == 1) g_tok(g, "<const>");
        g_annot(g);
        if (at == 2) {
          g_tok(g, "<");
          g_tok(g, "close");
          g_tok(g, ">");
        }
      }
      if (g_pick(g, 4)) {
        g_tok(g, "=");
        g_expr_cast(g);
        if (g_pick(g, 3) == 0) {
          g_tok(g, ",");
          g_expr_cast(g);
        }
      }
      break;
    case 2: g_prefix(g, 1); break;
    case 3: g_tok(g, "::"); g_name(g); g_tok(g, "::"); break;
    case 4: g_tok(g, "goto"); g_name(g); break;
    case 5: g_tok(g, "do"); g_block(g); g_tok(g, "end"); break;
    case 6:
      g_tok(g, "if"); g_expr(g); g_tok(g, "then"); g_block(g);
      if (g_pick(g, 2)) {
        g_tok(g, "elseif"); g_expr(g); g_tok(g, "then"); g_block(g);
      }
      if (g_pick(g, 2)) {
        g_tok(g, "else"); g_block(g);
      }
      g_tok(g, "end");
      break;
    case 7:
      g_tok(g, "for"); g_name(g); g_annot(g); g_tok(g, "="); g_expr(g);
      g_tok(g, ","); g_expr(g); g_tok(g, "do");
      g->loops++; g_block(g); g->loops--;
      g_tok(g, "end");
      break;
    case 8:
      g_tok(g, "for"); g_name(g); g_annot(g); g_tok(g, ","); g_name(g);
      g_annot(g); g_tok(g, "in"); g_expr(g); g_tok(g, "do");
      g->loops++; g_block(g); g->loops--;
      g_tok(g, "end");
      break;
    case 9:
      g_tok(g, "while"); g_expr(g); g_tok(g, "do");
      g->loops++; g_block(g); g->loops--;
      g_tok(g, "end");
      break;
    case 10:
      g_tok(g, "repeat");
      g->loops++; g_block(g); g->loops--;
      g_tok(g, "until"); g_expr(g);
      break;
    case 11: g_tok(g, "local"); g_tok(g, "function"); g_name(g);
             g_funcbody(g); break;
    case 12:
      g_tok(g, "function"); g_name(g);
      k = g_pick(g, 3);
      for (i = 0; i < k; i++) {
        g_tok(g, "."); g_name(g);
      }
      if (g_pick(g, 2)) {
        g_tok(g, ":"); g_name(g);
      }
      g_funcbody(g);
      break;
    case 13:  /* type statement, erased whole */
      g_erase(g, 1);
      if (g_pick(g, 2)) g_tok(g, "export");
      g_tok(g, "type");
      g_tok(g, g_pick(g, 2) ? "Alias" : "Opt<T>");
      g_tok(g, "=");
      g_type(g);
      g_erase(g, 0);
      break;
    case 14: g_tok(g, ";"); break;
    case 15:
      if (g->loops) g_tok(g, "break");
      else g_tok(g, ";");
      break;
    case 16: g_prefix(g, 0); g_tok(g, "."); g_name(g); g_tok(g, "=");
             g_expr(g); break;
    default: g_tok(g, "local"); g_tok(g, "type"); g_tok(g, "=");
             g_expr(g); break;
  }
  g->depth--;
}

static void g_block(Gen *g) {
  unsigned k = g->depth >= GEN_MAXDEPTH ? 0 : g_pick(g, 4), i;
  for (i = 0; i < k; i++) g_stat(g);
  if (g_pick(g, 4) == 0) {
    g_tok(g, "return");
    if (g_pick(g, 2)) g_expr_cast(g);
  }
}

static void fz_program_form(const uint8_t *data, size_t size) {
  Gen g;
  char *out;
  int rc;
  memset(&g, 0, sizeof g);
  g.d = data;
  g.n = size;
  while (g.i < g.n && !g.oom) g_stat(&g);
  g_put(&g, "");
  if (!g.oom && g.len > 0) {
    rc = fz_strip(g.a, g.len, &out);
    if (fz_compiles(g.e, g.len)) {
      if (!g.annotated) {
        if (rc != 1) fz_fail("plain program changed", g.a, g.len);
      } else {
        if (rc != 0) fz_fail("annotations not erased", g.a, g.len);
        if (memcmp(out, g.e, g.len) != 0) {
          size_t d = 0;
          while (out[d] == g.e[d]) d++;
          fprintf(stderr, "first difference at offset %zu:\n"
                  "expected: %.*s\ngot:      %.*s\n", d, (int)(g.len - d),
                  g.e + d, (int)(g.len - d), out + d);
          fz_fail("wrong erasure", g.a, g.len);
        }
      }
    }
    wp_free(out);
  }
  free(g.a);
  free(g.e);
}

/* }====================================================== */


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_check_text((const char *)data, size);
  fz_tokens_form(data, size);
  fz_program_form(data, size);
  return 0;
}
