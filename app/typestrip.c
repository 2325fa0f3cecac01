/*
** typestrip.c: erase Luau-style type annotations (see typestrip.h).
**
** DESIGN NOTE
**
** The pass is a Lua 5.4 tokenizer plus a statement scanner that looks for a
** handful of trigger points, and a recursive-descent recogniser for type
** expressions that runs only at those points. Recognised annotations are
** overwritten with spaces in a copy of the source; nothing is ever inserted
** or removed, so offsets, columns and line numbers are preserved.
**
** Safety argument ("plain Lua is never changed"). Every trigger is a token
** sequence that valid Lua 5.4 cannot contain:
**
**   function f<T>(a: T, ...: U): R   '<' after a function name, ':' after a
**                                    parameter, ':' after the parameter
**                                    list (a body cannot start with ':')
**   local a: T <const>, b: U = ...   ':' after a name of a local list
**   for k: K, v: V in ...            ':' after a name of a for list
**   type N<T> = ... / export type    at statement start, `type` Name is
**                                    never valid Lua (Name cannot follow
**                                    an expression that is not a call);
**                                    Name must be followed by '=' or '<'
**   expr :: T                        after an expression-ending token;
**                                    in Lua '::' only opens a label
**                                    `::Name::`, which is kept, except
**                                    that `:: T ::` followed by `Name ::`
**                                    is a cast then a label (no Lua
**                                    statement starts with `Name ::`)
**
** Statement start is approximated by the previous token: after an
** expression-ending token (Name, literal, ')', ']', '}', 'end', ...) or a
** block keyword ('do', 'then', ';', ...) a Name can only begin a new
** statement; after an operator, '=', ',', 'return', 'goto', '.', ':' ... it
** cannot. So `x = type\nX = 1`, `t.type`, `{type = 1}`, `type(x)`, `local
** type = 1` and `goto type` all pass through.
**
** So as long as this tokenizer splits valid Lua exactly as llex.c does
** (names, numerals with exponents and hex, short strings with escapes
** including \z and escaped newlines, long strings and comments with levels),
** an input that Lua can compile has no trigger and comes back untouched.
** The fuzz target (tests/fuzz/fuzz_typestrip.c) checks exactly this, and
** also generates annotated programs together with their expected erasure.
**
** At a trigger the recogniser must match a complete annotation before
** anything is erased: all erasures of one statement are collected in a span
** list and committed only when the whole construct parsed (a function
** header, a local list, a type statement, a cast). When unsure, the text is
** left alone; the Lua compiler then reports the unsupported syntax.
**
** Type expressions (Luau grammar, lenient where it costs nothing):
**
**   type    ::= ['|'|'&'] simple {('|'|'&') simple}
**   simple  ::= (nil | true | false | String | Number
**              | typeof '(' balanced ')'
**              | Name {'.' Name} ['<' type {',' type} '>'] ['...']
**              | '{' [field {(','|';') field} [','|';']] '}'
**              | ['<' generics '>'] '(' [param {',' param}] ')' ['->' type]
**              | '...' simple) {'?' | '[' ']'}
**   field   ::= [read|write] ('[' type ']' ':' type | Name ':' type) | type
**   param   ::= [Name ':'] type
**
** A parenthesised list without '->' is accepted as a type pack, which is
** what a multiple return type `(): (A, B)` needs. `T<const>`/`T<close>` is
** never read as generic arguments, so `local x: T <const> = 1` keeps its
** Lua 5.4 attribute.
**
** Cost. The lexer is a pure function of the position (no state besides
** the offset), so saving and restoring the parser's position is a struct
** copy and lookahead is a second call. Each trigger re-reads only the
** tokens of its own construct, and a failed generic argument list makes
** the enclosing construct fail at once, so the work is linear in practice.
** To make O(n) a guarantee, every lexer call is charged (the bytes it reads
** plus one) against a budget of 16 per input byte: if it runs out, the pass
** stops and returns what it has committed so far (erasures only ever happen
** at triggers, so plain Lua stays safe either way). Real code, plain or
** annotated, uses about 1.5 per byte; the worst adversarial inputs that do
** not hit the limit (deeply nested failing generics) stay under 5.
** Recursion in the type recogniser is bounded by MAXDEPTH.
*/
#include "typestrip.h"

#include <stdint.h>
#include <string.h>

#include "alloc.h"

/* Maximum nesting of simple types (Lua itself stops at 200 C levels). */
#define MAXDEPTH 100

/* Lexer work allowed per input byte, and a constant allowance. */
#define BUDGET_PER_BYTE 16
#define BUDGET_BASE 4096

/*
** Token kinds: a single-byte token is its byte value (as in llex.c); the
** rest are above 255. Reserved words follow the order of `reserved`.
*/
enum {
  TK_EOS = 256, TK_NAME, TK_STRING, TK_NUMBER,
  TK_DBCOLON, TK_DOTS, TK_CONCAT, TK_ARROW,
  TK_AND, TK_BREAK, TK_DO, TK_ELSE, TK_ELSEIF, TK_END, TK_FALSE, TK_FOR,
  TK_FUNCTION, TK_GOTO, TK_IF, TK_IN, TK_LOCAL, TK_NIL, TK_NOT, TK_OR,
  TK_REPEAT, TK_RETURN, TK_THEN, TK_TRUE, TK_UNTIL, TK_WHILE
};

static const char *const reserved[] = {
  "and", "break", "do", "else", "elseif", "end", "false", "for",
  "function", "goto", "if", "in", "local", "nil", "not", "or",
  "repeat", "return", "then", "true", "until", "while"
};

/* What the previous token allows next (see the design note). */
enum {
  P_OTHER,  /* inside an expression or a statement: no statement start */
  P_EXPR,   /* an expression just ended: a cast or a new statement */
  P_START   /* a block or statement boundary: a new statement */
};

typedef struct Tok {
  int k;        /* kind */
  size_t b, e;  /* text is s[b..e); b == e == n for TK_EOS */
} Tok;

typedef struct Span {
  size_t b, e;
} Span;

typedef struct St {
  const char *s;  /* source */
  size_t n;       /* its length */
  size_t budget;  /* lexer bytes left (see the design note) */
  int dead;       /* budget exhausted: the lexer returns only TK_EOS */
  int oom;        /* an allocation failed */
  int depth;      /* nesting of p_simple */
  size_t last;    /* end of the last token consumed by next() */
  char *out;      /* copy being erased; NULL until the first commit */
  Span *pend;     /* erasures of the construct being recognised */
  size_t npend, cpend;
} St;


/*
** {======================================================
** Lexer
** =======================================================
*/

static int l_isspace(int c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

static int l_isdigit(int c) { return c >= '0' && c <= '9'; }

static int l_isxdigit(int c) {
  return l_isdigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Letters as llex.c sees them without LUA_UCID: ASCII and '_' only. */
static int l_isalpha(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int l_isalnum(int c) { return l_isalpha(c) || l_isdigit(c); }

/*
** If s[p] == '[' opens a long bracket `[==[`, stores its level (the number
** of '=') in *lv and returns 1. Like llex.c's skip_sep, `[=` without the
** second '[' is not a long bracket.
*/
static int long_open(const St *S, size_t p, size_t *lv) {
  size_t q = p + 1;
  while (q < S->n && S->s[q] == '=') q++;
  if (q < S->n && S->s[q] == '[') {
    *lv = q - p - 1;
    return 1;
  }
  return 0;
}

/*
** Returns the end of the long string or comment whose opening bracket of
** level lv starts at p (the input end if it is unfinished). Each byte is
** looked at once: after a failed `]==...` the scan resumes at the first
** byte that was not part of it.
*/
static size_t long_skip(const St *S, size_t p, size_t lv) {
  const char *s = S->s;
  size_t n = S->n, q = p + lv + 2;
  while (q < n) {
    if (s[q] == ']') {
      size_t r = q + 1, k = 0;
      while (r < n && k < lv && s[r] == '=') {
        r++;
        k++;
      }
      if (k == lv && r < n && s[r] == ']') return r + 1;
      q = r;  /* s[r] may be the next ']' */
    } else {
      q++;
    }
  }
  return n;
}

/*
** Returns the end of the short string whose quote is at p. An unfinished
** string (a raw newline or the input end) stops before the newline, as
** Lua would have failed there anyway. Escapes: a backslash skips the next
** byte; `\` + newline skips a "\r\n"/"\n\r" pair like inclinenumber; `\z`
** also skips the following white space, newlines included.
*/
static size_t str_skip(const St *S, size_t p) {
  const char *s = S->s;
  size_t n = S->n, q = p + 1;
  char del = s[p];
  while (q < n) {
    char c = s[q];
    if (c == del) return q + 1;
    if (c == '\n' || c == '\r') return q;
    if (c != '\\') {
      q++;
      continue;
    }
    if (++q >= n) return n;
    c = s[q++];
    if (c == '\n' || c == '\r') {
      if (q < n && (s[q] == '\n' || s[q] == '\r') && s[q] != c) q++;
    } else if (c == 'z') {
      while (q < n && l_isspace((unsigned char)s[q])) q++;
    }
  }
  return n;
}

/*
** Returns the end of the numeral starting at p (a digit, or '.' followed
** by a digit). Mirrors llex.c's read_numeral: hex after "0x" with 'p'
** exponents, otherwise 'e' exponents, an optional sign after an exponent
** mark, and hex digits and dots in any order. A numeral touching a letter
** is an error in Lua; the letters are swallowed into the token.
*/
static size_t num_skip(const St *S, size_t p) {
  const char *s = S->s;
  size_t n = S->n, q = p;
  char e1 = 'e', e2 = 'E';
  if (s[q] == '0' && q + 1 < n && (s[q + 1] == 'x' || s[q + 1] == 'X')) {
    q += 2;
    e1 = 'p';
    e2 = 'P';
  }
  while (q < n) {
    if (s[q] == e1 || s[q] == e2) {
      q++;
      if (q < n && (s[q] == '+' || s[q] == '-')) q++;
    } else if (l_isxdigit((unsigned char)s[q]) || s[q] == '.') {
      q++;
    } else {
      break;
    }
  }
  while (q < n && l_isalnum((unsigned char)s[q])) q++;
  return q;
}

static int name_kind(const char *w, size_t l) {
  size_t i;
  for (i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
    if (strlen(reserved[i]) == l && memcmp(reserved[i], w, l) == 0)
      return TK_AND + (int)i;
  return TK_NAME;
}

/*
** Returns the token at or after offset p, skipping white space and
** comments. Multi-byte operators other than "::", "...", ".." and "->" are
** returned byte by byte ("==" is '=' '='): the recogniser never needs them
** whole, and splitting `>>` lets `A<B<C>>` close two argument lists.
** "->" is never valid Lua ('-' cannot be followed by '>'), so reading it
** as one token changes nothing for plain Lua.
*/
static Tok lex(St *S, size_t p) {
  const char *s = S->s;
  size_t n = S->n, p0 = p, lv, cost;
  int c = 0;
  Tok t;
  for (;;) {  /* skip white space and comments */
    if (p >= n) {
      t.k = TK_EOS;
      t.b = t.e = n;
      goto charge;
    }
    c = (unsigned char)s[p];
    if (l_isspace(c)) {
      p++;
    } else if (c == '-' && p + 1 < n && s[p + 1] == '-') {
      p += 2;
      if (p < n && s[p] == '[' && long_open(S, p, &lv))
        p = long_skip(S, p, lv);
      else
        while (p < n && s[p] != '\n' && s[p] != '\r') p++;
    } else {
      break;
    }
  }
  t.k = c;
  t.b = p;
  t.e = p + 1;
  switch (c) {
    case '"': case '\'':
      t.k = TK_STRING;
      t.e = str_skip(S, p);
      break;
    case '[':
      if (long_open(S, p, &lv)) {
        t.k = TK_STRING;
        t.e = long_skip(S, p, lv);
      }
      break;
    case ':':
      if (p + 1 < n && s[p + 1] == ':') {
        t.k = TK_DBCOLON;
        t.e = p + 2;
      }
      break;
    case '-':
      if (p + 1 < n && s[p + 1] == '>') {
        t.k = TK_ARROW;
        t.e = p + 2;
      }
      break;
    case '.':
      if (p + 1 < n && s[p + 1] == '.') {
        if (p + 2 < n && s[p + 2] == '.') {
          t.k = TK_DOTS;
          t.e = p + 3;
        } else {
          t.k = TK_CONCAT;
          t.e = p + 2;
        }
      } else if (p + 1 < n && l_isdigit((unsigned char)s[p + 1])) {
        t.k = TK_NUMBER;
        t.e = num_skip(S, p);
      }
      break;
    default:
      if (l_isdigit(c)) {
        t.k = TK_NUMBER;
        t.e = num_skip(S, p);
      } else if (l_isalpha(c)) {
        size_t q = p + 1;
        while (q < n && l_isalnum((unsigned char)s[q])) q++;
        t.e = q;
        t.k = name_kind(s + p, q - p);
      }
      break;
  }
charge:
  cost = t.e - p0 + 1;
  if (cost > S->budget) {  /* out of budget: behave as the input end */
    S->budget = 0;
    S->dead = 1;
    t.k = TK_EOS;
    t.b = t.e = n;
  } else {
    S->budget -= cost;
  }
  return t;
}

/* Consumes the current token. */
static void next(St *S, Tok *t) {
  S->last = t->e;
  *t = lex(S, t->e);
}

/* The token after t. */
static Tok peek(St *S, const Tok *t) { return lex(S, t->e); }

static int isname(const St *S, const Tok *t, const char *w) {
  size_t l = strlen(w);
  return t->k == TK_NAME && t->e - t->b == l &&
         memcmp(S->s + t->b, w, l) == 0;
}

/* Is t the start of a Lua 5.4 attribute `<const>` or `<close>`? */
static int is_attrib(St *S, const Tok *t) {
  Tok a, b;
  if (t->k != '<') return 0;
  a = peek(S, t);
  if (!isname(S, &a, "const") && !isname(S, &a, "close")) return 0;
  b = peek(S, &a);
  return b.k == '>';
}

/* }====================================================== */


/*
** {======================================================
** Type recogniser: each p_* function starts at the first token of its
** construct and, on success, leaves t at the first token after it and
** S->last at the end of its last token. On failure t is unspecified:
** callers that want to retry save and restore both.
** =======================================================
*/

static int p_type(St *S, Tok *t);
static int p_simple(St *S, Tok *t);

/* '<' type {',' type} '>' (generic arguments) */
static int p_typeargs(St *S, Tok *t) {
  next(S, t);  /* skip '<' */
  for (;;) {
    if (!p_type(S, t)) return 0;
    if (t->k != ',') break;
    next(S, t);
  }
  if (t->k != '>') return 0;
  next(S, t);
  return 1;
}

/* '<' Name ['...'] ['=' type] {',' ...} '>' (generic parameters) */
static int p_generics(St *S, Tok *t) {
  next(S, t);  /* skip '<' */
  for (;;) {
    if (t->k != TK_NAME) return 0;
    next(S, t);
    if (t->k == TK_DOTS) next(S, t);
    if (t->k == '=') {
      next(S, t);
      if (!p_type(S, t)) return 0;
    }
    if (t->k != ',') break;
    next(S, t);
  }
  if (t->k != '>') return 0;
  next(S, t);
  return 1;
}

/*
** Name {'.' Name} [generic arguments] ['...']. A failed argument list is
** not an error: `x :: T < y` keeps `< y`.
*/
static int p_named(St *S, Tok *t) {
  next(S, t);  /* skip Name */
  while (t->k == '.') {
    Tok a = peek(S, t);
    if (a.k != TK_NAME) break;
    next(S, t);
    next(S, t);
  }
  if (t->k == '<' && !is_attrib(S, t)) {
    Tok sv = *t;
    size_t svlast = S->last;
    if (!p_typeargs(S, t)) {
      *t = sv;
      S->last = svlast;
    }
  }
  if (t->k == TK_DOTS) next(S, t);  /* generic pack `T...` */
  return 1;
}

/* typeof '(' balanced tokens ')' */
static int p_typeof(St *S, Tok *t) {
  size_t d = 0;
  next(S, t);  /* skip 'typeof'; t is '(' */
  do {
    if (t->k == TK_EOS) return 0;
    if (t->k == '(')
      d++;
    else if (t->k == ')')
      d--;
    next(S, t);
  } while (d > 0);
  return 1;
}

/* '{' fields '}' (table types: `{T}`, `{[K]: V}`, `{x: T; y: U}`) */
static int p_table(St *S, Tok *t) {
  next(S, t);  /* skip '{' */
  while (t->k != '}') {
    int mod = 0;
    if (isname(S, t, "read") || isname(S, t, "write")) {
      Tok a = peek(S, t);
      if (a.k == TK_NAME || a.k == '[') {
        next(S, t);
        mod = 1;
      }
    }
    if (t->k == '[') {  /* indexer */
      next(S, t);
      if (!p_type(S, t) || t->k != ']') return 0;
      next(S, t);
      if (t->k != ':') return 0;
      next(S, t);
      if (!p_type(S, t)) return 0;
    } else if (t->k == TK_NAME && peek(S, t).k == ':') {  /* property */
      next(S, t);
      next(S, t);
      if (!p_type(S, t)) return 0;
    } else if (mod || !p_type(S, t)) {  /* array part `{T}` */
      return 0;
    }
    if (t->k == ',' || t->k == ';')
      next(S, t);
    else if (t->k != '}')
      return 0;
  }
  next(S, t);
  return 1;
}

/*
** '(' [[Name ':'] type {',' ...}] ')' ['->' type]. Sets *isfunc when the
** arrow is present. Without it the list is a parenthesised type or a type
** pack (multiple return values).
*/
static int p_paren(St *S, Tok *t, int *isfunc) {
  *isfunc = 0;
  next(S, t);  /* skip '(' */
  if (t->k != ')') {
    for (;;) {
      if (t->k == TK_NAME && peek(S, t).k == ':') {  /* named parameter */
        next(S, t);
        next(S, t);
      }
      if (!p_type(S, t)) return 0;
      if (t->k != ',') break;
      next(S, t);
    }
  }
  if (t->k != ')') return 0;
  next(S, t);
  if (t->k == TK_ARROW) {
    *isfunc = 1;
    next(S, t);
    return p_type(S, t);
  }
  return 1;
}

/* One operand of a union or intersection, with its '?' and '[]' suffixes. */
static int p_simple(St *S, Tok *t) {
  int ok = 0, isfunc;
  if (S->depth >= MAXDEPTH) return 0;
  S->depth++;
  switch (t->k) {
    case TK_NIL: case TK_TRUE: case TK_FALSE: case TK_STRING: case TK_NUMBER:
      next(S, t);
      ok = 1;
      break;
    case TK_NAME:
      if (isname(S, t, "typeof") && peek(S, t).k == '(')
        ok = p_typeof(S, t);
      else
        ok = p_named(S, t);
      break;
    case '{':
      ok = p_table(S, t);
      break;
    case '(':
      ok = p_paren(S, t, &isfunc);
      break;
    case '<':  /* generic function type `<T>(T) -> T` */
      ok = p_generics(S, t) && t->k == '(' && p_paren(S, t, &isfunc) && isfunc;
      break;
    case TK_DOTS:  /* variadic `...T` */
      next(S, t);
      ok = p_simple(S, t);
      break;
    default:
      break;
  }
  while (ok) {
    if (t->k == '?') {
      next(S, t);
    } else if (t->k == '[' && peek(S, t).k == ']') {  /* `any[]` */
      next(S, t);
      next(S, t);
    } else {
      break;
    }
  }
  S->depth--;
  return ok;
}

static int p_type(St *S, Tok *t) {
  if (t->k == '|' || t->k == '&') next(S, t);  /* leading separator */
  if (!p_simple(S, t)) return 0;
  while (t->k == '|' || t->k == '&') {
    next(S, t);
    if (!p_simple(S, t)) return 0;
  }
  return 1;
}

/* }====================================================== */


/*
** {======================================================
** Erasure: spans are collected while a construct is recognised and
** committed when it is complete.
** =======================================================
*/

static int pend(St *S, size_t b, size_t e) {
  if (S->npend == S->cpend) {
    size_t nc = S->cpend ? 2 * S->cpend : 8;
    Span *np = wp_realloc(S->pend, nc * sizeof *np);
    if (np == NULL) {
      S->oom = 1;
      return 0;
    }
    S->pend = np;
    S->cpend = nc;
  }
  S->pend[S->npend].b = b;
  S->pend[S->npend].e = e;
  S->npend++;
  return 1;
}

/* Erases the pending spans, keeping line breaks. */
static int commit(St *S) {
  size_t i, j;
  if (S->dead || S->oom) return 0;  /* the parse may have been cut short */
  if (S->npend > 0 && S->out == NULL) {
    S->out = wp_malloc(S->n + 1);
    if (S->out == NULL) {
      S->oom = 1;
      return 0;
    }
    memcpy(S->out, S->s, S->n);
    S->out[S->n] = '\0';
  }
  for (i = 0; i < S->npend; i++)
    for (j = S->pend[i].b; j < S->pend[i].e && j < S->n; j++)
      if (S->out[j] != '\n' && S->out[j] != '\r') S->out[j] = ' ';
  S->npend = 0;
  return 1;
}

/* ':' type, erased as one span. */
static int annotation(St *S, Tok *t) {
  size_t b = t->b;
  next(S, t);  /* skip ':' */
  return p_type(S, t) && pend(S, b, S->last);
}

/* }====================================================== */


/*
** {======================================================
** Triggers: each returns 1 and moves *t past the construct when it was
** recognised (erasing its annotations), or 0 leaving *t alone.
** =======================================================
*/

/*
** function [Name {'.' Name} [':' Name]] ['<' generics '>']
**   '(' [(Name | '...') [':' type] {',' ...}] ')' [':' type]
*/
static int h_function(St *S, Tok *t) {
  Tok c = *t;
  next(S, &c);  /* skip 'function' */
  if (c.k == TK_NAME) {
    next(S, &c);
    while ((c.k == '.' || c.k == ':') && peek(S, &c).k == TK_NAME) {
      int method = c.k == ':';
      next(S, &c);
      next(S, &c);
      if (method) break;
    }
  }
  if (c.k == '<') {
    size_t b = c.b;
    if (!p_generics(S, &c) || !pend(S, b, S->last)) return 0;
  }
  if (c.k != '(') return 0;
  next(S, &c);
  if (c.k != ')') {
    for (;;) {
      if (c.k != TK_NAME && c.k != TK_DOTS) return 0;
      next(S, &c);
      if (c.k == ':' && !annotation(S, &c)) return 0;
      if (c.k != ',') break;
      next(S, &c);
    }
  }
  if (c.k != ')') return 0;
  next(S, &c);
  if (c.k == ':' && !annotation(S, &c)) return 0;  /* return type */
  if (!commit(S)) return 0;
  *t = c;
  return 1;
}

/* local Name [attrib] [':' type] [attrib] {',' ...} (not `local function`) */
static int h_local(St *S, Tok *t) {
  Tok c = *t;
  next(S, &c);  /* skip 'local' */
  for (;;) {
    int attr = 0;
    if (c.k != TK_NAME) return 0;
    next(S, &c);
    if (is_attrib(S, &c)) {
      next(S, &c);
      next(S, &c);
      next(S, &c);
      attr = 1;
    }
    if (c.k == ':' && !annotation(S, &c)) return 0;
    if (!attr && is_attrib(S, &c)) {
      next(S, &c);
      next(S, &c);
      next(S, &c);
    }
    if (c.k != ',') break;
    next(S, &c);
  }
  if (!commit(S)) return 0;
  *t = c;
  return 1;
}

/* for Name [':' type] {',' Name [':' type]} ('=' | 'in') */
static int h_for(St *S, Tok *t) {
  Tok c = *t;
  next(S, &c);  /* skip 'for' */
  for (;;) {
    if (c.k != TK_NAME) return 0;
    next(S, &c);
    if (c.k == ':' && !annotation(S, &c)) return 0;
    if (c.k != ',') break;
    next(S, &c);
  }
  if ((c.k != '=' && c.k != TK_IN) || !commit(S)) return 0;
  *t = c;
  return 1;
}

/* [export] type Name ['<' generics '>'] '=' type: the whole statement */
static int h_typestmt(St *S, Tok *t) {
  Tok c = *t;
  if (isname(S, &c, "export")) {
    next(S, &c);
    if (!isname(S, &c, "type")) return 0;
  }
  next(S, &c);  /* skip 'type' */
  if (c.k != TK_NAME) return 0;
  next(S, &c);
  if (c.k == '<' && !p_generics(S, &c)) return 0;
  if (c.k != '=') return 0;
  next(S, &c);
  if (!p_type(S, &c) || !pend(S, t->b, S->last) || !commit(S)) return 0;
  *t = c;
  return 1;
}

/* expr '::' type */
static int h_cast(St *S, Tok *t) {
  Tok c = *t;
  next(S, &c);  /* skip '::' */
  if (!p_type(S, &c) || !pend(S, t->b, S->last) || !commit(S)) return 0;
  *t = c;
  return 1;
}

/*
** Is t a goto label `::Name::`? In `x :: T\n::done::` the label reading of
** `:: T ::` would leave `done ::`, which no Lua statement can start with:
** that `::` is a cast followed by a label.
*/
static int is_label(St *S, const Tok *t) {
  Tok a = peek(S, t), b, c;
  if (a.k != TK_NAME) return 0;
  b = peek(S, &a);
  if (b.k != TK_DBCOLON) return 0;
  c = peek(S, &b);
  return c.k != TK_NAME || peek(S, &c).k != TK_DBCOLON;
}

static int classify(int k) {
  switch (k) {
    case TK_NAME: case TK_STRING: case TK_NUMBER: case TK_DOTS:
    case TK_TRUE: case TK_FALSE: case TK_NIL: case TK_END:
    case ')': case ']': case '}':
      return P_EXPR;
    case ';': case TK_DO: case TK_THEN: case TK_ELSE: case TK_REPEAT:
    case TK_BREAK:
      return P_START;
    default:
      return P_OTHER;
  }
}

/* }====================================================== */


int wp_typestrip(const char *src, size_t len, char **out, size_t *outlen) {
  St S;
  Tok t;
  int prev = P_START;
  *out = NULL;
  *outlen = 0;
  if (src == NULL || len == 0) return 1;
  memset(&S, 0, sizeof S);
  S.s = src;
  S.n = len;
  S.budget = len <= (SIZE_MAX - BUDGET_BASE) / BUDGET_PER_BYTE
                 ? BUDGET_PER_BYTE * len + BUDGET_BASE
                 : SIZE_MAX;
  t = lex(&S, 0);
  while (t.k != TK_EOS && !S.oom) {
    int done = 0, after = P_EXPR;
    S.npend = 0;
    S.depth = 0;
    switch (t.k) {
      case TK_FUNCTION:
        done = h_function(&S, &t);
        after = P_START;  /* the body follows */
        break;
      case TK_LOCAL:
        done = h_local(&S, &t);
        break;
      case TK_FOR:
        done = h_for(&S, &t);
        break;
      case TK_NAME:
        if (prev != P_OTHER &&
            (isname(&S, &t, "type") || isname(&S, &t, "export"))) {
          Tok a = peek(&S, &t);
          if (isname(&S, &t, "export") && isname(&S, &a, "type"))
            a = peek(&S, &a);
          if (a.k == TK_NAME) {
            Tok b = peek(&S, &a);
            if (b.k == '=' || b.k == '<') done = h_typestmt(&S, &t);
          }
        }
        break;
      case TK_DBCOLON:
        if (is_label(&S, &t)) {  /* a Lua 5.4 label: keep it */
          next(&S, &t);
          next(&S, &t);
          next(&S, &t);
          prev = P_START;
          continue;
        }
        if (prev == P_EXPR) done = h_cast(&S, &t);
        break;
      default:
        break;
    }
    if (done) {
      prev = after;
      continue;
    }
    prev = classify(t.k);
    next(&S, &t);
  }
  wp_free(S.pend);
  if (S.oom) {
    wp_free(S.out);
    return -1;
  }
  if (S.out == NULL) return 1;
  *out = S.out;
  *outlen = len;
  return 0;
}
