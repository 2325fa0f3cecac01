/*
** timeint.h: internals shared by the time module's object code (timeobj.c),
** its layout formatter/parser (timefmt.c) and its zone database (tzif.c).
**
** Instants are (sec, nsec): int64 seconds since the Unix epoch plus
** 0..999999999 nanoseconds, so Go's zero time (year 1) and far dates fit.
** A Location is immutable once built: a list of zones (offset, DST flag,
** abbreviation), a sorted list of transitions (each selects a zone from its
** instant on) and an optional POSIX TZ rule (the TZif footer) used after the
** last transition. Calendar arithmetic is proleptic Gregorian, leap seconds
** are ignored, and nothing here touches libc's global time-zone state.
*/
#ifndef WP_TIMEINT_H
#define WP_TIMEINT_H

#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#define WP_SEC_MIN INT64_MIN /* "since forever" (Go's alpha) */
#define WP_SEC_MAX INT64_MAX /* "until forever" (Go's omega) */

struct wp_tzone {
  int32_t off;      /* seconds east of UTC */
  int isdst;
  const char *abbr; /* "EST", "+03", "" */
};

struct wp_ttrans {
  int64_t when; /* Unix seconds from which zone `idx` applies */
  int idx;
};

struct wp_loc {
  const char *name;
  const struct wp_tzone *zones; /* nzones == 0: plain UTC */
  int nzones;
  const struct wp_ttrans *tx;
  int ntx;
  const struct wp_tzrule *rule; /* TZif footer rule after the last transition, or NULL */
};

/* A parsed POSIX TZ string ("EST5EDT,M3.2.0,M11.1.0"). */
struct wp_tzrday {
  int kind; /* 'J' (1..365, no Feb 29), 'D' (0..365), 'M' (month.week.weekday) */
  int day, week, mon;
  int32_t time; /* seconds after local midnight */
};
struct wp_tzrule {
  char stdname[16], dstname[16];
  int32_t stdoff, dstoff; /* seconds east of UTC */
  int hasdst;
  struct wp_tzrday start, end;
};

/* The zone in effect at an instant and the interval [start, end) it covers. */
struct wp_zinfo {
  const char *abbr;
  int32_t off;
  int isdst;
  int64_t start, end;
};

/* ---- zones (tzif.c) ---- */

extern const struct wp_loc wp_loc_utc;
/* The process-wide local zone (TZ, else /etc/localtime, else UTC), loaded once. */
const struct wp_loc *wp_loc_local(void);
/* Loads an IANA zone (cached process-wide, never freed). Returns 0, or -1
** with an error kind (WP_KIND_*) and a message pushed on L. "UTC" and
** "Local" are special; "" is Invalid. */
int wp_loc_load(lua_State *L, const char *name, size_t len, const struct wp_loc **out,
                const char **kind);
/* Fills l as a single fixed zone; z and tx are storage owned by the caller. */
void wp_loc_fixed(struct wp_loc *l, struct wp_tzone *z, struct wp_ttrans *tx,
                  const char *name, int32_t off);
void wp_loc_lookup(const struct wp_loc *l, int64_t sec, struct wp_zinfo *zi);
/* Offset of the zone abbreviated `name` around `unix` (Go's lookupName). */
int wp_loc_lookup_name(const struct wp_loc *l, const char *name, size_t len,
                       int64_t unix, int32_t *off);
/* Parses a TZif image; NULL if malformed. The result is one malloc block
** named `name` (free with wp_free). */
struct wp_loc *wp_tzif_parse(const uint8_t *p, size_t n, const char *name);
/* Parses a POSIX TZ string; 0 or -1. */
int wp_tzrule_parse(const char *s, struct wp_tzrule *r);

/* ---- calendar (tzif.c) ---- */

int wp_is_leap(int64_t y);
int wp_days_in(int m, int64_t y);
/* Days from 1970-01-01 to y-m-01 (m in 1..12). */
int64_t wp_days_from_civil(int64_t y, int m);
void wp_civil_from_days(int64_t days, int64_t *y, int *m, int *d, int *yday);
/* Go's time.Date: normalises every field, then resolves local time in loc.
** 0, or -1 if the result does not fit in int64 seconds. */
int wp_time_date(int64_t y, int64_t mon, int64_t d, int64_t h, int64_t mi, int64_t s,
                 int64_t ns, const struct wp_loc *loc, int64_t *sec, int32_t *nsec);

/* ---- layouts (timefmt.c) ---- */

/* Broken-down local time of an instant in loc. */
struct wp_tparts {
  int64_t year;
  int month, day, yday, wday, hour, min, sec;
  int32_t nsec;
  int32_t off;
  const char *abbr;
};
void wp_time_split(int64_t sec, int32_t nsec, const struct wp_loc *loc, struct wp_tparts *tp);
/* Appends the Go-layout rendering of tp to B. */
void wp_time_format(luaL_Buffer *B, const char *layout, size_t len, const struct wp_tparts *tp);

enum { WP_TP_DEFAULT, WP_TP_UTC, WP_TP_LOCAL, WP_TP_FIXED };
struct wp_tparse {
  int64_t sec;
  int32_t nsec;
  int which;         /* WP_TP_*: the location of the result */
  const char *zname; /* WP_TP_FIXED: zone name (points into the value) */
  size_t zlen;
  int32_t zoff;
};
/* Go's time.Parse / ParseInLocation (defloc = UTC / loc, local = Local / loc).
** 0, or -1 with the Go-style message pushed on L. */
int wp_time_parse(lua_State *L, const char *layout, size_t llen, const char *value,
                  size_t vlen, const struct wp_loc *defloc, const struct wp_loc *local,
                  struct wp_tparse *r);

#endif
