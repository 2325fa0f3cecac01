/*
** timefmt.c: Go reference-layout formatting and parsing for the time module
** (spec 04 §5.2: Time:format, time.parse).
**
** Design. A layout is cut into chunks exactly as Go's nextStdChunk does: a
** literal prefix, then one recognised element ("2006", "Jan", "_2", "-07:00",
** ".000", ",999", "002", ...), then the rest. Everything else is literal, so
** the same tables drive both directions:
**
**  - wp_time_format appends each element of a broken-down time (struct
**    wp_tparts, computed once by wp_time_split) to a luaL_Buffer, following
**    Go's appendFormat (including its quirks: "MST" falls back to -0700 for
**    unnamed zones, Z-forms print "Z" for offset 0, ".999" trims zeros).
**  - wp_time_parse follows Go's parse: elements are matched in order, loose
**    spacing in literals is allowed only where Go allows it, ranges are
**    checked, and the zone is resolved with Go's rules (an explicit "Z"/"UTC",
**    an offset that matches the local zone, a known abbreviation, else a
**    fixed zone). Error messages reproduce Go's ParseError text.
**
** Instants and locations are plain values here; Lua objects live in timeobj.c.
*/
#include <string.h>

#include "timeint.h"

enum {
  S_NONE,
  S_LONGMONTH, S_MONTH, S_NUMMONTH, S_ZEROMONTH,
  S_LONGWEEKDAY, S_WEEKDAY,
  S_DAY, S_UNDERDAY, S_ZERODAY, S_UNDERYEARDAY, S_ZEROYEARDAY,
  S_HOUR, S_HOUR12, S_ZEROHOUR12, S_MINUTE, S_ZEROMINUTE, S_SECOND, S_ZEROSECOND,
  S_LONGYEAR, S_YEAR, S_PM, S_PMLOWER, S_TZ,
  S_ISO_TZ, S_ISO_SECONDSTZ, S_ISO_SHORTTZ, S_ISO_COLONTZ, S_ISO_COLONSECONDSTZ,
  S_NUM_TZ, S_NUM_SECONDSTZ, S_NUM_SHORTTZ, S_NUM_COLONTZ, S_NUM_COLONSECONDSTZ,
  S_FRAC0, S_FRAC9
};

struct chunk {
  size_t plen;   /* literal prefix length */
  size_t slen;   /* length of the element's text in the layout */
  int std;       /* S_* (S_NONE: no element, the whole layout is literal) */
  int ndig;      /* S_FRAC*: number of digits */
  char sep;      /* S_FRAC*: '.' or ',' */
};

static const char *const long_months[12] = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};
static const char *const long_days[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};

static int isdig(const char *s, size_t len, size_t i) {
  return i < len && s[i] >= '0' && s[i] <= '9';
}

static int has(const char *s, size_t len, size_t i, const char *lit) {
  size_t n = strlen(lit);
  return len - i >= n && memcmp(s + i, lit, n) == 0;
}

/* Go's nextStdChunk. */
static void next_chunk(const char *l, size_t len, struct chunk *c) {
  static const int zx[6] = {S_ZEROMONTH, S_ZERODAY, S_ZEROHOUR12,
                            S_ZEROMINUTE, S_ZEROSECOND, S_YEAR};
  static const struct {
    const char *lit;
    int std;
  } tzs[] = {{"-070000", S_NUM_SECONDSTZ}, {"-07:00:00", S_NUM_COLONSECONDSTZ},
             {"-0700", S_NUM_TZ},          {"-07:00", S_NUM_COLONTZ},
             {"-07", S_NUM_SHORTTZ},       {"Z070000", S_ISO_SECONDSTZ},
             {"Z07:00:00", S_ISO_COLONSECONDSTZ}, {"Z0700", S_ISO_TZ},
             {"Z07:00", S_ISO_COLONTZ},    {"Z07", S_ISO_SHORTTZ}};
#define FOUND(p, s, n) \
  do {                 \
    c->plen = (p);     \
    c->std = (s);      \
    c->slen = (n);     \
    return;            \
  } while (0)
  c->ndig = 0;
  c->sep = 0;
  for (size_t i = 0; i < len; i++) {
    switch (l[i]) {
      case 'J':
        if (has(l, len, i, "Jan")) {
          if (has(l, len, i, "January")) FOUND(i, S_LONGMONTH, 7);
          if (!(i + 3 < len && l[i + 3] >= 'a' && l[i + 3] <= 'z')) FOUND(i, S_MONTH, 3);
        }
        break;
      case 'M':
        if (has(l, len, i, "Mon")) {
          if (has(l, len, i, "Monday")) FOUND(i, S_LONGWEEKDAY, 6);
          if (!(i + 3 < len && l[i + 3] >= 'a' && l[i + 3] <= 'z')) FOUND(i, S_WEEKDAY, 3);
        }
        if (has(l, len, i, "MST")) FOUND(i, S_TZ, 3);
        break;
      case '0':
        if (i + 1 < len && l[i + 1] >= '1' && l[i + 1] <= '6') FOUND(i, zx[l[i + 1] - '1'], 2);
        if (has(l, len, i, "002")) FOUND(i, S_ZEROYEARDAY, 3);
        break;
      case '1':
        if (i + 1 < len && l[i + 1] == '5') FOUND(i, S_HOUR, 2);
        FOUND(i, S_NUMMONTH, 1);
      case '2':
        if (has(l, len, i, "2006")) FOUND(i, S_LONGYEAR, 4);
        FOUND(i, S_DAY, 1);
      case '_':
        if (i + 1 < len && l[i + 1] == '2') {
          if (has(l, len, i + 1, "2006")) FOUND(i + 1, S_LONGYEAR, 4); /* "_" literal */
          FOUND(i, S_UNDERDAY, 2);
        }
        if (has(l, len, i, "__2")) FOUND(i, S_UNDERYEARDAY, 3);
        break;
      case '3':
        FOUND(i, S_HOUR12, 1);
      case '4':
        FOUND(i, S_MINUTE, 1);
      case '5':
        FOUND(i, S_SECOND, 1);
      case 'P':
        if (i + 1 < len && l[i + 1] == 'M') FOUND(i, S_PM, 2);
        break;
      case 'p':
        if (i + 1 < len && l[i + 1] == 'm') FOUND(i, S_PMLOWER, 2);
        break;
      case '-':
      case 'Z':
        for (size_t k = 0; k < sizeof tzs / sizeof tzs[0]; k++)
          if (has(l, len, i, tzs[k].lit)) FOUND(i, tzs[k].std, strlen(tzs[k].lit));
        break;
      case '.':
      case ',':
        if (i + 1 < len && (l[i + 1] == '0' || l[i + 1] == '9')) {
          char ch = l[i + 1];
          size_t j = i + 1;
          while (j < len && l[j] == ch) j++;
          if (!isdig(l, len, j)) {
            c->ndig = (int)(j - (i + 1));
            c->sep = l[i];
            FOUND(i, ch == '0' ? S_FRAC0 : S_FRAC9, j - i);
          }
        }
        break;
      default:
        break;
    }
  }
  FOUND(len, S_NONE, 0);
#undef FOUND
}

/* ---- formatting ---- */

void wp_time_split(int64_t sec, int32_t nsec, const struct wp_loc *loc, struct wp_tparts *tp) {
  struct wp_zinfo zi;
  wp_loc_lookup(loc, sec, &zi);
  int64_t local;
  if (__builtin_add_overflow(sec, (int64_t)zi.off, &local)) local = zi.off > 0 ? INT64_MAX : INT64_MIN;
  int64_t days = local / 86400, sod = local % 86400;
  if (sod < 0) {
    sod += 86400;
    days--;
  }
  wp_civil_from_days(days, &tp->year, &tp->month, &tp->day, &tp->yday);
  tp->wday = (int)(((days + 4) % 7 + 7) % 7);
  tp->hour = (int)(sod / 3600);
  tp->min = (int)(sod / 60 % 60);
  tp->sec = (int)(sod % 60);
  tp->nsec = nsec;
  tp->off = zi.off;
  tp->abbr = zi.abbr;
}

/* Go's appendInt: optional '-', then at least `width` digits. */
static void put_int(luaL_Buffer *B, int64_t x, int width) {
  char d[24];
  int n = 0;
  uint64_t u = x < 0 ? 0 - (uint64_t)x : (uint64_t)x;
  if (x < 0) luaL_addchar(B, '-');
  do {
    d[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  for (int i = n; i < width; i++) luaL_addchar(B, '0');
  while (n) luaL_addchar(B, d[--n]);
}

static void put_frac(luaL_Buffer *B, int32_t nsec, int std, int ndig, char sep) {
  char d[10];
  int trim = std == S_FRAC9, n = ndig > 9 ? 9 : ndig;
  if (trim && (ndig == 0 || nsec == 0)) return;
  for (int i = 8; i >= 0; i--) {
    d[i] = (char)('0' + nsec % 10);
    nsec /= 10;
  }
  if (trim)
    while (n > 0 && d[n - 1] == '0') n--;
  if (trim && n == 0) return;
  luaL_addchar(B, sep);
  luaL_addlstring(B, d, (size_t)n);
}

static int is_iso(int std) { return std >= S_ISO_TZ && std <= S_ISO_COLONSECONDSTZ; }

void wp_time_format(luaL_Buffer *B, const char *l, size_t len, const struct wp_tparts *tp) {
  while (len > 0) {
    struct chunk c;
    next_chunk(l, len, &c);
    luaL_addlstring(B, l, c.plen);
    if (c.std == S_NONE) break;
    l += c.plen + c.slen;
    len -= c.plen + c.slen;
    int hr12 = tp->hour % 12 == 0 ? 12 : tp->hour % 12;
    switch (c.std) {
      case S_YEAR: put_int(B, (tp->year < 0 ? -tp->year : tp->year) % 100, 2); break;
      case S_LONGYEAR: put_int(B, tp->year, 4); break;
      case S_MONTH: luaL_addlstring(B, long_months[tp->month - 1], 3); break;
      case S_LONGMONTH: luaL_addstring(B, long_months[tp->month - 1]); break;
      case S_NUMMONTH: put_int(B, tp->month, 0); break;
      case S_ZEROMONTH: put_int(B, tp->month, 2); break;
      case S_WEEKDAY: luaL_addlstring(B, long_days[tp->wday], 3); break;
      case S_LONGWEEKDAY: luaL_addstring(B, long_days[tp->wday]); break;
      case S_DAY: put_int(B, tp->day, 0); break;
      case S_UNDERDAY:
        if (tp->day < 10) luaL_addchar(B, ' ');
        put_int(B, tp->day, 0);
        break;
      case S_ZERODAY: put_int(B, tp->day, 2); break;
      case S_UNDERYEARDAY:
        if (tp->yday < 100) luaL_addchar(B, ' ');
        if (tp->yday < 10) luaL_addchar(B, ' ');
        put_int(B, tp->yday, 0);
        break;
      case S_ZEROYEARDAY: put_int(B, tp->yday, 3); break;
      case S_HOUR: put_int(B, tp->hour, 2); break;
      case S_HOUR12: put_int(B, hr12, 0); break;
      case S_ZEROHOUR12: put_int(B, hr12, 2); break;
      case S_MINUTE: put_int(B, tp->min, 0); break;
      case S_ZEROMINUTE: put_int(B, tp->min, 2); break;
      case S_SECOND: put_int(B, tp->sec, 0); break;
      case S_ZEROSECOND: put_int(B, tp->sec, 2); break;
      case S_PM: luaL_addstring(B, tp->hour >= 12 ? "PM" : "AM"); break;
      case S_PMLOWER: luaL_addstring(B, tp->hour >= 12 ? "pm" : "am"); break;
      case S_TZ:
        if (tp->abbr[0]) {
          luaL_addstring(B, tp->abbr);
          break;
        }
        c.std = S_NUM_TZ; /* unnamed zone: print -0700 */
        /* fallthrough */
      default:
        if (c.std == S_FRAC0 || c.std == S_FRAC9) {
          put_frac(B, tp->nsec, c.std, c.ndig, c.sep);
        } else if (tp->off == 0 && is_iso(c.std)) {
          luaL_addchar(B, 'Z');
        } else {
          int32_t zone = tp->off / 60, abs = tp->off;
          int colon = c.std == S_ISO_COLONTZ || c.std == S_NUM_COLONTZ ||
                      c.std == S_ISO_COLONSECONDSTZ || c.std == S_NUM_COLONSECONDSTZ;
          int secs = c.std == S_ISO_SECONDSTZ || c.std == S_NUM_SECONDSTZ ||
                     c.std == S_ISO_COLONSECONDSTZ || c.std == S_NUM_COLONSECONDSTZ;
          if (zone < 0) {
            luaL_addchar(B, '-');
            zone = -zone;
            abs = -abs;
          } else {
            luaL_addchar(B, '+');
          }
          put_int(B, zone / 60, 2);
          if (colon) luaL_addchar(B, ':');
          if (c.std != S_NUM_SHORTTZ && c.std != S_ISO_SHORTTZ) put_int(B, zone % 60, 2);
          if (secs) {
            if (colon) luaL_addchar(B, ':');
            put_int(B, abs % 60, 2);
          }
        }
        break;
    }
  }
}

/* ---- parsing ---- */

struct pstr { /* a cursor into the value */
  const char *s;
  size_t n;
};

static void adv(struct pstr *v, size_t k) {
  v->s += k;
  v->n -= k;
}

static int pdig(const struct pstr *v, size_t i) { return i < v->n && v->s[i] >= '0' && v->s[i] <= '9'; }

/* Go's getnum: one or two digits (exactly two if fixed). */
static int getnum(struct pstr *v, int fixed, int *out) {
  if (!pdig(v, 0)) return -1;
  if (!pdig(v, 1)) {
    if (fixed) return -1;
    *out = v->s[0] - '0';
    adv(v, 1);
    return 0;
  }
  *out = (v->s[0] - '0') * 10 + (v->s[1] - '0');
  adv(v, 2);
  return 0;
}

static int getnum3(struct pstr *v, int fixed, int *out) {
  int n = 0, i = 0;
  for (; i < 3 && pdig(v, (size_t)i); i++) n = n * 10 + (v->s[i] - '0');
  if (i == 0 || (fixed && i != 3)) return -1;
  *out = n;
  adv(v, (size_t)i);
  return 0;
}

/* Go's atoi: optional sign, then only digits (empty = 0). */
static int atoi_go(const char *s, size_t n, int64_t *out) {
  int neg = 0;
  int64_t x = 0;
  if (n > 0 && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s++;
    n--;
  }
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    if (x > (INT64_MAX - 9) / 10) return -1;
    x = x * 10 + (s[i] - '0');
  }
  *out = neg ? -x : x;
  return 0;
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Case-insensitive prefix match against a name table (Go's lookup). */
static int lookup_name(struct pstr *v, const char *const *tab, int ntab, size_t cut) {
  for (int i = 0; i < ntab; i++) {
    size_t n = cut ? cut : strlen(tab[i]), k = 0;
    if (v->n < n) continue;
    while (k < n && lower((unsigned char)v->s[k]) == lower((unsigned char)tab[i][k])) k++;
    if (k == n) {
      adv(v, n);
      return i;
    }
  }
  return -1;
}

/* Go's skip: literal text, with runs of spaces matching runs of spaces. */
static int skip_lit(struct pstr *v, const char *p, size_t n) {
  while (n > 0) {
    if (*p == ' ') {
      if (v->n > 0 && v->s[0] != ' ') return -1;
      while (n > 0 && *p == ' ') p++, n--;
      while (v->n > 0 && v->s[0] == ' ') adv(v, 1);
      continue;
    }
    if (v->n == 0 || v->s[0] != *p) return -1;
    p++, n--;
    adv(v, 1);
  }
  return 0;
}

/* Go's parseNanoseconds over value[0..nbytes) (separator included). */
static int parse_nanos(const struct pstr *v, size_t nbytes, int32_t *ns, const char **range) {
  if (v->s[0] != '.' && v->s[0] != ',') return -1;
  if (nbytes > 10) nbytes = 10;
  int64_t x;
  if (atoi_go(v->s + 1, nbytes - 1, &x)) return -1;
  if (x < 0) {
    *range = "fractional second";
    return 0;
  }
  for (size_t i = nbytes; i < 10; i++) x *= 10;
  *ns = (int32_t)x;
  return 0;
}

/* Leading unsigned integer; returns digits consumed (0 if none or overflow). */
static size_t lead_int(const char *s, size_t n, int64_t *out) {
  size_t i = 0;
  int64_t x = 0;
  while (i < n && s[i] >= '0' && s[i] <= '9') {
    if (x > (INT64_MAX - 9) / 10) return 0;
    x = x * 10 + (s[i++] - '0');
  }
  *out = x;
  return i;
}

static size_t signed_offset(const char *s, size_t n) {
  int64_t x;
  if (n == 0 || (s[0] != '+' && s[0] != '-')) return 0;
  size_t k = lead_int(s + 1, n - 1, &x);
  if (k == 0 || x > 12) return 0;
  return k + 1;
}

/* Go's parseTimeZone: length of a zone abbreviation at the start, or 0. */
static size_t zone_len(const char *s, size_t n) {
  if (n < 3) return 0;
  if (n >= 4 && (memcmp(s, "ChST", 4) == 0 || memcmp(s, "MeST", 4) == 0)) return 4;
  if (memcmp(s, "GMT", 3) == 0) return n == 3 ? 3 : 3 + signed_offset(s + 3, n - 3);
  if (s[0] == '+' || s[0] == '-') return signed_offset(s, n);
  size_t up = 0;
  while (up < 6 && up < n && s[up] >= 'A' && s[up] <= 'Z') up++;
  switch (up) {
    case 3: return 3;
    case 4: return (s[3] == 'T' || memcmp(s, "WITA", 4) == 0) ? 4 : 0;
    case 5: return s[4] == 'T' ? 5 : 0;
    default: return 0;
  }
}

/* Go's quote: bytes outside printable ASCII become \xNN. */
static void add_quoted(luaL_Buffer *B, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  luaL_addchar(B, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch < ' ' || ch >= 0x80) {
      luaL_addchar(B, '\\');
      luaL_addchar(B, 'x');
      luaL_addchar(B, hex[ch >> 4]);
      luaL_addchar(B, hex[ch & 15]);
    } else {
      if (ch == '"' || ch == '\\') luaL_addchar(B, '\\');
      luaL_addchar(B, (char)ch);
    }
  }
  luaL_addchar(B, '"');
}

struct perr {
  const char *layout, *value;
  size_t llen, vlen;
};

/* Pushes Go's ParseError text. msg NULL: "cannot parse <velem> as <lelem>". */
static int perror_push(lua_State *L, const struct perr *e, const char *lelem, size_t ll,
                       const struct pstr *velem, const char *msg, const char *msg2) {
  luaL_Buffer B;
  luaL_buffinit(L, &B);
  luaL_addstring(&B, "parsing time ");
  add_quoted(&B, e->value, e->vlen);
  if (msg) {
    luaL_addstring(&B, msg);
    if (msg2) add_quoted(&B, velem->s, velem->n);
    if (msg2) luaL_addstring(&B, msg2);
  } else {
    luaL_addstring(&B, " as ");
    add_quoted(&B, e->layout, e->llen);
    luaL_addstring(&B, ": cannot parse ");
    add_quoted(&B, velem->s, velem->n);
    luaL_addstring(&B, " as ");
    add_quoted(&B, lelem, ll);
  }
  luaL_pushresult(&B);
  return -1;
}

static int range_err(lua_State *L, const struct perr *e, const char *what) {
  lua_pushfstring(L, ": %s out of range", what);
  const char *m = lua_tostring(L, -1);
  perror_push(L, e, NULL, 0, NULL, m, NULL);
  lua_remove(L, -2);
  return -1;
}

int wp_time_parse(lua_State *L, const char *layout, size_t llen, const char *value,
                  size_t vlen, const struct wp_loc *defloc, const struct wp_loc *local,
                  struct wp_tparse *r) {
  struct perr e = {layout, value, llen, vlen};
  struct pstr v = {value, vlen};
  const char *l = layout;
  size_t ln = llen;
  int64_t year = 0;
  int month = -1, day = -1, yday = -1, hour = 0, min = 0, sec = 0;
  int32_t nsec = 0;
  int am = 0, pm = 0, utc = 0, zoff = 0, hasoff = 0;
  const char *zname = NULL;
  size_t zlen = 0;

  for (;;) {
    struct chunk c;
    next_chunk(l, ln, &c);
    const char *stdstr = l + c.plen;
    if (skip_lit(&v, l, c.plen))
      return perror_push(L, &e, l, c.plen, &v, NULL, NULL);
    if (c.std == S_NONE) {
      if (v.n) return perror_push(L, &e, NULL, 0, &v, ": extra text: ", "");
      break;
    }
    l += c.plen + c.slen;
    ln -= c.plen + c.slen;
    struct pstr hold = v;
    const char *range = NULL;
    int err = 0, n;
    switch (c.std) {
      case S_YEAR: {
        int64_t y;
        if (v.n < 2 || atoi_go(v.s, 2, &y)) {
          err = 1;
          break;
        }
        adv(&v, 2);
        year = y >= 69 ? y + 1900 : y + 2000;
        break;
      }
      case S_LONGYEAR:
        if (v.n < 4 || !pdig(&v, 0) || atoi_go(v.s, 4, &year)) {
          err = 1;
          break;
        }
        adv(&v, 4);
        break;
      case S_MONTH:
      case S_LONGMONTH:
        month = lookup_name(&v, long_months, 12, c.std == S_MONTH ? 3 : 0) + 1;
        err = month == 0;
        break;
      case S_NUMMONTH:
      case S_ZEROMONTH:
        err = getnum(&v, c.std == S_ZEROMONTH, &month);
        if (!err && (month <= 0 || month > 12)) range = "month";
        break;
      case S_WEEKDAY:
      case S_LONGWEEKDAY:
        err = lookup_name(&v, long_days, 7, c.std == S_WEEKDAY ? 3 : 0) < 0;
        break;
      case S_DAY:
      case S_UNDERDAY:
      case S_ZERODAY:
        if (c.std == S_UNDERDAY && v.n > 0 && v.s[0] == ' ') adv(&v, 1);
        err = getnum(&v, c.std == S_ZERODAY, &day);
        break;
      case S_UNDERYEARDAY:
      case S_ZEROYEARDAY:
        for (int i = 0; i < 2; i++)
          if (c.std == S_UNDERYEARDAY && v.n > 0 && v.s[0] == ' ') adv(&v, 1);
        err = getnum3(&v, c.std == S_ZEROYEARDAY, &yday);
        break;
      case S_HOUR:
        err = getnum(&v, 0, &hour);
        if (hour < 0 || hour >= 24) range = "hour";
        break;
      case S_HOUR12:
      case S_ZEROHOUR12:
        err = getnum(&v, c.std == S_ZEROHOUR12, &hour);
        if (hour < 0 || hour > 12) range = "hour";
        break;
      case S_MINUTE:
      case S_ZEROMINUTE:
        err = getnum(&v, c.std == S_ZEROMINUTE, &min);
        if (min < 0 || min >= 60) range = "minute";
        break;
      case S_SECOND:
      case S_ZEROSECOND: {
        err = getnum(&v, c.std == S_ZEROSECOND, &sec);
        if (err) break;
        if (sec < 0 || sec >= 60) {
          range = "second";
          break;
        }
        /* A fractional second in the value but none in the layout. */
        if (v.n >= 2 && (v.s[0] == '.' || v.s[0] == ',') && pdig(&v, 1)) {
          struct chunk nc;
          next_chunk(l, ln, &nc);
          if (nc.std == S_FRAC0 || nc.std == S_FRAC9) break;
          size_t k = 2;
          while (pdig(&v, k)) k++;
          err = parse_nanos(&v, k, &nsec, &range);
          adv(&v, k);
        }
        break;
      }
      case S_PM:
      case S_PMLOWER: {
        const char *ap = c.std == S_PM ? "AMPM" : "ampm";
        if (v.n < 2) {
          err = 1;
        } else if (v.s[0] == ap[2] && v.s[1] == ap[3]) {
          pm = 1;
        } else if (v.s[0] == ap[0] && v.s[1] == ap[1]) {
          am = 1;
        } else {
          err = 1;
        }
        if (v.n >= 2) adv(&v, 2);
        break;
      }
      case S_ISO_TZ:
      case S_ISO_SHORTTZ:
      case S_ISO_COLONTZ:
      case S_ISO_SECONDSTZ:
      case S_ISO_COLONSECONDSTZ:
        if (v.n >= 1 && v.s[0] == 'Z') {
          adv(&v, 1);
          utc = 1;
          break;
        }
        /* fallthrough */
      case S_NUM_TZ:
      case S_NUM_SHORTTZ:
      case S_NUM_COLONTZ:
      case S_NUM_SECONDSTZ:
      case S_NUM_COLONSECONDSTZ: {
        const char *hs, *ms = "00", *ss = "00";
        char sign;
        size_t need;
        int sd = c.std;
        if (sd == S_ISO_COLONTZ || sd == S_NUM_COLONTZ) {
          need = 6;
          if (v.n < need || v.s[3] != ':') { err = 1; break; }
          ms = v.s + 4;
        } else if (sd == S_ISO_SHORTTZ || sd == S_NUM_SHORTTZ) {
          need = 3;
          if (v.n < need) { err = 1; break; }
        } else if (sd == S_ISO_COLONSECONDSTZ || sd == S_NUM_COLONSECONDSTZ) {
          need = 9;
          if (v.n < need || v.s[3] != ':' || v.s[6] != ':') { err = 1; break; }
          ms = v.s + 4;
          ss = v.s + 7;
        } else if (sd == S_ISO_SECONDSTZ || sd == S_NUM_SECONDSTZ) {
          need = 7;
          if (v.n < need) { err = 1; break; }
          ms = v.s + 3;
          ss = v.s + 5;
        } else {
          need = 5;
          if (v.n < need) { err = 1; break; }
          ms = v.s + 3;
        }
        sign = v.s[0];
        hs = v.s + 1;
        adv(&v, need);
        int hh = 0, mm = 0, sx = 0;
        struct pstr ph = {hs, 2}, pmn = {ms, 2}, psx = {ss, 2};
        err = getnum(&ph, 1, &hh) || getnum(&pmn, 1, &mm) || getnum(&psx, 1, &sx);
        if (hh > 24) range = "time zone offset hour";
        if (mm > 60) range = "time zone offset minute";
        if (sx > 60) range = "time zone offset second";
        zoff = (hh * 60 + mm) * 60 + sx;
        hasoff = 1;
        if (sign == '-')
          zoff = -zoff;
        else if (sign != '+')
          err = 1;
        break;
      }
      case S_TZ:
        if (v.n >= 3 && memcmp(v.s, "UTC", 3) == 0) {
          utc = 1;
          adv(&v, 3);
          break;
        }
        n = (int)zone_len(v.s, v.n);
        if (n == 0) {
          err = 1;
          break;
        }
        zname = v.s;
        zlen = (size_t)n;
        adv(&v, (size_t)n);
        break;
      case S_FRAC0: {
        size_t nd = 1 + (size_t)c.ndig;
        if (v.n < nd) {
          err = 1;
          break;
        }
        err = parse_nanos(&v, nd, &nsec, &range);
        adv(&v, nd);
        break;
      }
      case S_FRAC9: {
        if (v.n < 2 || (v.s[0] != '.' && v.s[0] != ',') || !pdig(&v, 1)) break;
        size_t i = 0;
        while (pdig(&v, i + 1)) i++;
        err = parse_nanos(&v, 1 + i, &nsec, &range);
        adv(&v, 1 + i);
        break;
      }
      default:
        break;
    }
    if (range) return range_err(L, &e, range);
    if (err) return perror_push(L, &e, stdstr, c.slen, &hold, NULL, NULL);
  }
  if (pm && hour < 12)
    hour += 12;
  else if (am && hour == 12)
    hour = 0;

  struct pstr none = {"", 0};
  if (yday >= 0) {
    int m = 0, d = 0;
    if (wp_is_leap(year)) {
      if (yday == 31 + 29) {
        m = 2;
        d = 29;
      } else if (yday > 31 + 29) {
        yday--;
      }
    }
    if (yday < 1 || yday > 365)
      return perror_push(L, &e, NULL, 0, &none, ": day-of-year out of range", NULL);
    if (m == 0) {
      static const int before[13] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365};
      m = (yday - 1) / 31 + 1;
      if (before[m] < yday) m++;
      d = yday - before[m - 1];
    }
    if (month >= 0 && month != m)
      return perror_push(L, &e, NULL, 0, &none, ": day-of-year does not match month", NULL);
    month = m;
    if (day >= 0 && day != d)
      return perror_push(L, &e, NULL, 0, &none, ": day-of-year does not match day", NULL);
    day = d;
  } else {
    if (month < 0) month = 1;
    if (day < 0) day = 1;
  }
  if (day < 1 || day > wp_days_in(month, year))
    return perror_push(L, &e, NULL, 0, &none, ": day out of range", NULL);

  const struct wp_loc *dl = utc ? &wp_loc_utc : (hasoff || zname) ? &wp_loc_utc : defloc;
  /* Years have at most 4 digits here, so Date cannot overflow. */
  wp_time_date(year, month, day, hour, min, sec, nsec, dl, &r->sec, &r->nsec);
  r->zname = NULL;
  r->zlen = 0;
  r->zoff = 0;
  if (utc) {
    r->which = WP_TP_UTC;
  } else if (hasoff) {
    r->sec -= zoff;
    struct wp_zinfo zi;
    wp_loc_lookup(local, r->sec, &zi);
    if (zi.off == zoff && (!zname || (strlen(zi.abbr) == zlen && memcmp(zi.abbr, zname, zlen) == 0))) {
      r->which = WP_TP_LOCAL;
    } else {
      r->which = WP_TP_FIXED;
      r->zname = zname ? zname : "";
      r->zlen = zlen;
      r->zoff = zoff;
    }
  } else if (zname) {
    int32_t off = 0;
    if (wp_loc_lookup_name(local, zname, zlen, r->sec, &off)) {
      r->sec -= off;
      r->which = WP_TP_LOCAL;
    } else {
      int64_t x = 0;
      if (zlen > 3 && memcmp(zname, "GMT", 3) == 0) atoi_go(zname + 3, zlen - 3, &x);
      r->which = WP_TP_FIXED;
      r->zname = zname;
      r->zlen = zlen;
      r->zoff = (int32_t)(x * 3600);
    }
  } else {
    r->which = WP_TP_DEFAULT;
  }
  return 0;
}
