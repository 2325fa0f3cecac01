/*
** tzif.c: calendar arithmetic and the zone database of the time module.
**
** Design. Nothing here uses libc's time-zone machinery (localtime, mktime,
** tzset): those share global state, and worker threads run processes in
** parallel. Instead:
**
**  - Calendar: proleptic Gregorian day counts in int64 (the "days from civil"
**    construction over 400-year eras), so every date Go can express within
**    int64 seconds works, including Go's zero time (year 1) and negative years.
**  - Zones: TZif files (RFC 8536, versions 1 to 4) are read from $ZONEINFO (a
**    directory) or the usual system directories and turned into an immutable
**    struct wp_loc held in one malloc block: zones, transitions, abbreviations
**    and the footer's POSIX TZ rule, pre-parsed. The rule answers lookups past
**    the last transition ("slim" files stop in 2007 for America/New_York).
**  - Lookup follows Go's Location.lookup: before the first transition the
**    "first zone" heuristic applies, a binary search finds the rest, and the
**    footer rule takes over at the end of the table.
**  - Loaded zones go in a process-wide list guarded by a mutex and are never
**    freed, so a Location pointer stays valid in every lua_State. The mutex
**    is never held across a Lua call (a raised error would leave it locked).
**  - The local zone is resolved once (pthread_once) like Go's initLocal: TZ
**    unset -> /etc/localtime named "Local"; TZ="" or "UTC" or unloadable ->
**    UTC named "UTC"; otherwise the named or absolute-path zone.
*/
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "errobj.h"
#include "timeint.h"

#define DAY 86400
#define MAX_TZIF (4u << 20) /* larger files are refused */

/* ---- integer helpers ---- */

static int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}

static int64_t floormod(int64_t a, int64_t b) { return a - floordiv(a, b) * b; }

/* ---- calendar ---- */

int wp_is_leap(int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

int wp_days_in(int m, int64_t y) {
  static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && wp_is_leap(y)) return 29;
  return dm[m - 1];
}

/* Valid for |y| < ~2.5e13 (era arithmetic stays far inside int64). */
int64_t wp_days_from_civil(int64_t y, int m) {
  if (m <= 2) y--;
  int64_t era = floordiv(y, 400);
  int64_t yoe = y - era * 400;                          /* 0..399 */
  int64_t mp = m > 2 ? m - 3 : m + 9;                   /* March = 0 */
  int64_t doy = (153 * mp + 2) / 5;                     /* day 1 of the month */
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;  /* 0..146096 */
  return era * 146097 + doe - 719468;
}

void wp_civil_from_days(int64_t days, int64_t *py, int *pm, int *pd, int *pyday) {
  int64_t z = days + 719468;
  int64_t era = floordiv(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int d = (int)(doy - (153 * mp + 2) / 5 + 1);
  int m = (int)(mp < 10 ? mp + 3 : mp - 9);
  int64_t y = yoe + era * 400 + (m <= 2);
  *py = y;
  *pm = m;
  *pd = d;
  if (pyday) *pyday = (int)(days - wp_days_from_civil(y, 1) + 1);
}

/* Go's norm: moves whole multiples of base from lo into hi. */
static int norm(int64_t *hi, int64_t *lo, int64_t base) {
  if (*lo < 0) {
    int64_t k = -(*lo + 1); /* >= 0, no overflow even for INT64_MIN */
    int64_t n = k / base + 1;
    if (__builtin_sub_overflow(*hi, n, hi)) return -1;
    *lo = base - 1 - k % base;
  }
  if (*lo >= base) {
    int64_t n = *lo / base;
    if (__builtin_add_overflow(*hi, n, hi)) return -1;
    *lo -= n * base;
  }
  return 0;
}

int wp_time_date(int64_t y, int64_t mon, int64_t d, int64_t h, int64_t mi, int64_t s,
                 int64_t ns, const struct wp_loc *loc, int64_t *sec, int32_t *nsec) {
  int64_t m;
  if (__builtin_sub_overflow(mon, 1, &m)) return -1;
  if (norm(&y, &m, 12) || norm(&s, &ns, 1000000000) || norm(&mi, &s, 60) ||
      norm(&h, &mi, 60) || norm(&d, &h, 24))
    return -1;
  if (y > 200000000000LL || y < -200000000000LL) return -1;
  int64_t days = wp_days_from_civil(y, (int)m + 1), unix;
  if (__builtin_add_overflow(days, d, &days) || __builtin_sub_overflow(days, 1, &days) ||
      __builtin_mul_overflow(days, (int64_t)DAY, &unix) ||
      __builtin_add_overflow(unix, h * 3600 + mi * 60 + s, &unix))
    return -1;
  /* Resolve the zone offset for this wall-clock reading (Go's Date). */
  struct wp_zinfo zi;
  wp_loc_lookup(loc, unix, &zi);
  if (zi.off != 0) {
    int64_t utc;
    if (__builtin_sub_overflow(unix, (int64_t)zi.off, &utc)) return -1;
    if (utc < zi.start || utc >= zi.end) wp_loc_lookup(loc, utc, &zi);
    if (__builtin_sub_overflow(unix, (int64_t)zi.off, &unix)) return -1;
  }
  *sec = unix;
  *nsec = (int32_t)ns;
  return 0;
}

/* ---- POSIX TZ rules (the TZif footer) ---- */

/* Number in [lo, hi]; NULL on failure. */
static const char *rule_num(const char *s, int lo, int hi, int *out) {
  int n = 0;
  const char *p = s;
  while (*p >= '0' && *p <= '9') {
    n = n * 10 + (*p - '0');
    if (n > hi) return NULL;
    p++;
  }
  if (p == s || n < lo) return NULL;
  *out = n;
  return p;
}

/* [+-]hh[:mm[:ss]], hours up to 167 (tzcode's extension). */
static const char *rule_offset(const char *s, int32_t *out) {
  int neg = 0, h, m = 0, sec = 0;
  if (*s == '+' || *s == '-') neg = *s++ == '-';
  if (!(s = rule_num(s, 0, 24 * 7, &h))) return NULL;
  if (*s == ':') {
    if (!(s = rule_num(s + 1, 0, 59, &m))) return NULL;
    if (*s == ':' && !(s = rule_num(s + 1, 0, 59, &sec))) return NULL;
  }
  *out = (int32_t)(h * 3600 + m * 60 + sec);
  if (neg) *out = -*out;
  return s;
}

static const char *rule_name(const char *s, char *out) {
  const char *b = s, *e;
  if (*s == '<') {
    b = s + 1;
    e = strchr(b, '>');
    if (!e) return NULL;
    s = e + 1;
  } else {
    e = s;
    while (*e && !(*e >= '0' && *e <= '9') && *e != ',' && *e != '-' && *e != '+') e++;
    if (e - b < 3) return NULL;
    s = e;
  }
  if (e - b > 15) return NULL;
  memcpy(out, b, (size_t)(e - b));
  out[e - b] = 0;
  return s;
}

static const char *rule_day(const char *s, struct wp_tzrday *r) {
  memset(r, 0, sizeof *r);
  if (*s == 'J') {
    r->kind = 'J';
    if (!(s = rule_num(s + 1, 1, 365, &r->day))) return NULL;
  } else if (*s == 'M') {
    r->kind = 'M';
    if (!(s = rule_num(s + 1, 1, 12, &r->mon)) || *s != '.') return NULL;
    if (!(s = rule_num(s + 1, 1, 5, &r->week)) || *s != '.') return NULL;
    if (!(s = rule_num(s + 1, 0, 6, &r->day))) return NULL;
  } else {
    r->kind = 'D';
    if (!(s = rule_num(s, 0, 365, &r->day))) return NULL;
  }
  r->time = 7200;
  if (*s == '/') s = rule_offset(s + 1, &r->time);
  return s;
}

int wp_tzrule_parse(const char *s, struct wp_tzrule *r) {
  memset(r, 0, sizeof *r);
  if (!(s = rule_name(s, r->stdname)) || !(s = rule_offset(s, &r->stdoff))) return -1;
  r->stdoff = -r->stdoff; /* POSIX offsets are west of UTC */
  if (*s == 0 || *s == ',') return 0;
  if (!(s = rule_name(s, r->dstname))) return -1;
  r->hasdst = 1;
  if (*s == 0 || *s == ',' || *s == ';') {
    r->dstoff = r->stdoff + 3600;
  } else {
    if (!(s = rule_offset(s, &r->dstoff))) return -1;
    r->dstoff = -r->dstoff;
  }
  if (*s == 0) s = ",M3.2.0,M11.1.0"; /* tzcode's default rule */
  if (*s != ',' && *s != ';') return -1;
  if (!(s = rule_day(s + 1, &r->start)) || *s != ',') return -1;
  if (!(s = rule_day(s + 1, &r->end)) || *s != 0) return -1;
  return 0;
}

/* Seconds from the start of `year` (UTC) to the rule's moment. */
static int64_t rule_time(int64_t year, const struct wp_tzrday *r, int32_t off) {
  int64_t d = 0;
  switch (r->kind) {
    case 'J':
      d = r->day - 1;
      if (wp_is_leap(year) && r->day >= 60) d++;
      break;
    case 'D':
      d = r->day;
      break;
    default: {
      int64_t first = wp_days_from_civil(year, r->mon);
      int dow = (int)floormod(first + 4, 7); /* weekday of the 1st */
      int dd = r->day - dow;
      if (dd < 0) dd += 7;
      for (int i = 1; i < r->week; i++) {
        if (dd + 7 >= wp_days_in(r->mon, year)) break;
        dd += 7;
      }
      d = first - wp_days_from_civil(year, 1) + dd;
    }
  }
  return d * DAY + r->time - off;
}

static void rule_lookup(const struct wp_tzrule *r, int64_t last, int64_t sec, struct wp_zinfo *zi) {
  /* Near the ends of int64 the year arithmetic below could overflow: there,
  ** standard time is good enough. */
  if (!r->hasdst || sec > WP_SEC_MAX - 800 * DAY || sec < WP_SEC_MIN + 800 * DAY) {
    zi->abbr = r->stdname;
    zi->off = r->stdoff;
    zi->isdst = 0;
    zi->start = last;
    zi->end = WP_SEC_MAX;
    return;
  }
  int64_t y, days = floordiv(sec, DAY);
  int m, d, yday;
  wp_civil_from_days(days, &y, &m, &d, &yday);
  int64_t ysec = (int64_t)(yday - 1) * DAY + floormod(sec, DAY);
  int64_t ystart = sec - ysec;
  int64_t s0 = rule_time(y, &r->start, r->stdoff), s1 = rule_time(y, &r->end, r->dstoff);
  const char *sn = r->stdname, *dn = r->dstname;
  int32_t so = r->stdoff, dof = r->dstoff;
  int sdst = 0, ddst = 1;
  if (s1 < s0) { /* southern hemisphere: the labels swap (as in Go) */
    int64_t t = s0;
    s0 = s1;
    s1 = t;
    sn = r->dstname;
    dn = r->stdname;
    so = r->dstoff;
    dof = r->stdoff;
    sdst = 1;
    ddst = 0;
  }
  if (ysec < s0) {
    *zi = (struct wp_zinfo){sn, so, sdst, ystart, ystart + s0};
  } else if (ysec >= s1) {
    *zi = (struct wp_zinfo){sn, so, sdst, ystart + s1, ystart + 365 * DAY};
  } else {
    *zi = (struct wp_zinfo){dn, dof, ddst, ystart + s0, ystart + s1};
  }
}

/* ---- lookup ---- */

const struct wp_loc wp_loc_utc = {"UTC", NULL, 0, NULL, 0, NULL};

void wp_loc_fixed(struct wp_loc *l, struct wp_tzone *z, struct wp_ttrans *tx,
                  const char *name, int32_t off) {
  z->off = off;
  z->isdst = 0;
  z->abbr = name;
  tx->when = WP_SEC_MIN;
  tx->idx = 0;
  *l = (struct wp_loc){name, z, 1, tx, 1, NULL};
}

/* Go's lookupFirstZone: the zone to use before the first transition. */
static int first_zone(const struct wp_loc *l) {
  int used = 0;
  for (int i = 0; i < l->ntx && !used; i++) used = l->tx[i].idx == 0;
  if (!used) return 0;
  if (l->ntx > 0 && l->zones[l->tx[0].idx].isdst)
    for (int z = l->tx[0].idx - 1; z >= 0; z--)
      if (!l->zones[z].isdst) return z;
  for (int z = 0; z < l->nzones; z++)
    if (!l->zones[z].isdst) return z;
  return 0;
}

void wp_loc_lookup(const struct wp_loc *l, int64_t sec, struct wp_zinfo *zi) {
  if (l->nzones == 0) {
    *zi = (struct wp_zinfo){"UTC", 0, 0, WP_SEC_MIN, WP_SEC_MAX};
    return;
  }
  if (l->ntx == 0 || sec < l->tx[0].when) {
    const struct wp_tzone *z = &l->zones[first_zone(l)];
    *zi = (struct wp_zinfo){z->abbr, z->off, z->isdst, WP_SEC_MIN,
                            l->ntx ? l->tx[0].when : WP_SEC_MAX};
    return;
  }
  int lo = 0, hi = l->ntx;
  int64_t end = WP_SEC_MAX;
  while (hi - lo > 1) {
    int mid = lo + (hi - lo) / 2;
    if (sec < l->tx[mid].when) {
      end = l->tx[mid].when;
      hi = mid;
    } else {
      lo = mid;
    }
  }
  const struct wp_tzone *z = &l->zones[l->tx[lo].idx];
  *zi = (struct wp_zinfo){z->abbr, z->off, z->isdst, l->tx[lo].when, end};
  if (lo == l->ntx - 1 && l->rule) rule_lookup(l->rule, l->tx[lo].when, sec, zi);
}

int wp_loc_lookup_name(const struct wp_loc *l, const char *name, size_t len, int64_t unix,
                       int32_t *off) {
  /* Prefer a zone of that name that was in effect at the time. */
  for (int i = 0; i < l->nzones; i++) {
    const struct wp_tzone *z = &l->zones[i];
    if (strlen(z->abbr) == len && memcmp(z->abbr, name, len) == 0) {
      struct wp_zinfo zi;
      wp_loc_lookup(l, unix - z->off, &zi);
      if (strcmp(zi.abbr, z->abbr) == 0) {
        *off = zi.off;
        return 1;
      }
    }
  }
  for (int i = 0; i < l->nzones; i++) {
    const struct wp_tzone *z = &l->zones[i];
    if (strlen(z->abbr) == len && memcmp(z->abbr, name, len) == 0) {
      *off = z->off;
      return 1;
    }
  }
  return 0;
}

/* ---- TZif ---- */

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p) {
  return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)

struct wp_loc *wp_tzif_parse(const uint8_t *p, size_t n, const char *name) {
  if (n < 44 || memcmp(p, "TZif", 4) != 0) return NULL;
  int version = p[4] == 0 ? 1 : 2;
  uint64_t c[6]; /* isutcnt isstdcnt leapcnt timecnt typecnt charcnt */
  for (int i = 0; i < 6; i++) c[i] = be32(p + 20 + 4 * i);
  size_t off = 44;
  uint64_t tsize = 4;
  if (version > 1) { /* skip the 32-bit block; use the 64-bit one */
    uint64_t v1 = c[3] * 5 + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
    if (v1 > n - off || n - off - v1 < 44) return NULL;
    off += (size_t)v1;
    if (memcmp(p + off, "TZif", 4) != 0) return NULL;
    for (int i = 0; i < 6; i++) c[i] = be32(p + off + 20 + 4 * i);
    off += 44;
    tsize = 8;
  }
  uint64_t ntx = c[3], nz = c[4], nch = c[5];
  uint64_t need = ntx * tsize + ntx + nz * 6 + nch + c[2] * (tsize + 4) + c[1] + c[0];
  if (nz == 0 || need > n - off) return NULL;
  const uint8_t *ptimes = p + off, *pidx = ptimes + ntx * tsize, *pz = pidx + ntx;
  const uint8_t *pch = pz + nz * 6;
  const uint8_t *foot = p + off + need, *fend = p + n;

  /* The footer: "\n<POSIX TZ>\n" (v2+). */
  struct wp_tzrule rule;
  int hasrule = 0;
  if (version > 1 && fend - foot > 2 && foot[0] == '\n' && fend[-1] == '\n') {
    size_t fl = (size_t)(fend - foot) - 2;
    char tmp[128];
    if (fl < sizeof tmp && !memchr(foot + 1, 0, fl)) {
      memcpy(tmp, foot + 1, fl);
      tmp[fl] = 0;
      hasrule = wp_tzrule_parse(tmp, &rule) == 0;
    }
  }

  size_t ntx1 = ntx ? (size_t)ntx : 1, nlen = strlen(name);
  size_t szl = ALIGN8(sizeof(struct wp_loc)), szz = ALIGN8(nz * sizeof(struct wp_tzone));
  size_t szt = ALIGN8(ntx1 * sizeof(struct wp_ttrans)), szr = ALIGN8(sizeof(struct wp_tzrule));
  char *blk = wp_malloc(szl + szz + szt + szr + nch + 1 + nlen + 1);
  if (!blk) return NULL;
  struct wp_loc *l = (struct wp_loc *)blk;
  struct wp_tzone *zones = (struct wp_tzone *)(blk + szl);
  struct wp_ttrans *tx = (struct wp_ttrans *)(blk + szl + szz);
  struct wp_tzrule *rp = (struct wp_tzrule *)(blk + szl + szz + szt);
  char *chars = blk + szl + szz + szt + szr, *nm = chars + nch + 1;
  memcpy(chars, pch, nch);
  chars[nch] = 0;
  memcpy(nm, name, nlen + 1);
  for (uint64_t i = 0; i < nz; i++) {
    const uint8_t *q = pz + 6 * i;
    if (q[5] >= nch) goto bad;
    zones[i].off = (int32_t)be32(q);
    zones[i].isdst = q[4] != 0;
    zones[i].abbr = chars + q[5];
  }
  for (uint64_t i = 0; i < ntx; i++) {
    tx[i].when = tsize == 8 ? be64(ptimes + 8 * i) : (int64_t)(int32_t)be32(ptimes + 4 * i);
    tx[i].idx = pidx[i];
    if (pidx[i] >= nz) goto bad;
  }
  if (ntx == 0) { /* one fake transition covering all time, as Go does */
    tx[0].when = WP_SEC_MIN;
    tx[0].idx = 0;
  }
  if (hasrule) *rp = rule;
  *l = (struct wp_loc){nm, zones, (int)nz, tx, (int)ntx1, hasrule ? rp : NULL};
  return l;
bad:
  wp_free(blk);
  return NULL;
}

/* Reads a whole file (at most MAX_TZIF bytes); NULL if absent or unreadable. */
static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 8192, n = 0;
  uint8_t *buf = wp_malloc(cap);
  while (buf) {
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) break;
    if (n == cap) {
      if (cap >= MAX_TZIF) {
        wp_free(buf);
        buf = NULL;
        break;
      }
      uint8_t *nb = wp_realloc(buf, cap * 2);
      if (!nb) wp_free(buf);
      buf = nb;
      cap *= 2;
    }
  }
  if (buf && ferror(f)) { /* e.g. a directory */
    wp_free(buf);
    buf = NULL;
  }
  fclose(f);
  *len = n;
  return buf;
}

/* 0 loaded, 1 absent, 2 present but malformed. */
static int load_path(const char *path, const char *name, struct wp_loc **out) {
  size_t n;
  uint8_t *data = read_file(path, &n);
  if (!data) return 1;
  *out = wp_tzif_parse(data, n, name);
  wp_free(data);
  return *out ? 0 : 2;
}

static const char *zoneinfo_env;

static int load_named(const char *name, struct wp_loc **out) {
  static const char *const dirs[] = {"/usr/share/zoneinfo", "/usr/share/lib/zoneinfo",
                                     "/usr/lib/locale/TZ", "/etc/zoneinfo"};
  int res = 1;
  char path[1024];
  for (int i = -1; i < (int)(sizeof dirs / sizeof dirs[0]); i++) {
    const char *dir = i < 0 ? zoneinfo_env : dirs[i];
    if (!dir || !*dir) continue;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) continue;
    int r = load_path(path, name, out);
    if (r == 0) return 0;
    if (r == 2) res = 2;
  }
  return res;
}

/* ---- the local zone ---- */

static pthread_once_t local_once = PTHREAD_ONCE_INIT;
static const struct wp_loc *local_loc;
static const struct wp_loc local_utc = {"UTC", NULL, 0, NULL, 0, NULL};

static int valid_name(const char *name, size_t len) {
  if (len == 0 || len > 255 || memchr(name, 0, len)) return 0;
  if (name[0] == '/' || name[0] == '\\' || strstr(name, "..")) return 0;
  return 1;
}

static void local_init(void) {
  const char *tz = getenv("TZ");
  zoneinfo_env = getenv("ZONEINFO");
  struct wp_loc *z = NULL;
  local_loc = &local_utc;
  if (!tz) {
    if (load_path("/etc/localtime", "Local", &z) == 0) local_loc = z;
    return;
  }
  if (*tz == ':') tz++;
  if (*tz == '/') {
    if (load_path(tz, strcmp(tz, "/etc/localtime") == 0 ? "Local" : tz, &z) == 0)
      local_loc = z;
  } else if (*tz && strcmp(tz, "UTC") != 0 && valid_name(tz, strlen(tz))) {
    if (load_named(tz, &z) == 0) local_loc = z;
  }
}

const struct wp_loc *wp_loc_local(void) {
  pthread_once(&local_once, local_init);
  return local_loc;
}

/* ---- the zone cache ---- */

struct zcache {
  struct zcache *next;
  struct wp_loc *loc;
};

static pthread_mutex_t zmu = PTHREAD_MUTEX_INITIALIZER;
static struct zcache *zlist;

int wp_loc_load(lua_State *L, const char *name, size_t len, const struct wp_loc **out,
                const char **kind) {
  if (len == 0) {
    *kind = WP_KIND_INVALID;
    lua_pushliteral(L, "time: empty location name");
    return -1;
  }
  if (len == 3 && memcmp(name, "UTC", 3) == 0) {
    *out = &wp_loc_utc;
    return 0;
  }
  const struct wp_loc *local = wp_loc_local(); /* also reads $ZONEINFO */
  if (len == 5 && memcmp(name, "Local", 5) == 0) {
    *out = local;
    return 0;
  }
  if (!valid_name(name, len)) {
    *kind = WP_KIND_INVALID;
    lua_pushfstring(L, "time: invalid location name \"%s\"", name);
    return -1;
  }
  int res = 0;
  struct wp_loc *l = NULL;
  pthread_mutex_lock(&zmu);
  for (struct zcache *c = zlist; c; c = c->next)
    if (strcmp(c->loc->name, name) == 0) {
      l = c->loc;
      break;
    }
  if (!l) {
    res = load_named(name, &l);
    if (res == 0) {
      struct zcache *c = wp_malloc(sizeof *c);
      if (c) {
        c->loc = l;
        c->next = zlist;
        zlist = c;
      } else {
        wp_free(l);
        res = 3;
      }
    }
  }
  pthread_mutex_unlock(&zmu);
  if (res == 0) {
    *out = l;
    return 0;
  }
  *kind = WP_KIND_NOT_FOUND;
  if (res == 2)
    lua_pushfstring(L, "time: malformed time zone information for %s", name);
  else if (res == 3)
    lua_pushliteral(L, "not enough memory");
  else
    lua_pushfstring(L, "unknown time zone %s", name);
  return -1;
}
