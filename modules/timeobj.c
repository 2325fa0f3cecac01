/*
** timeobj.c: Time, Duration and Location objects and the time module's
** non-timer functions and constants (spec 04 §5.2; timers are in time.c).
**
** Design.
**  - A Time is a full userdata {sec, nsec, loc}: int64 Unix seconds plus
**    0..999999999 ns (so Go's zero time, year 1, is representable) and a
**    pointer to an immutable struct wp_loc. Zones loaded from disk, UTC and
**    the local zone live for the whole process (tzif.c), so most Times carry
**    a bare pointer. A fixed zone (time.fixed_zone, or one made by
**    time.parse for an unknown offset) lives inside its Location userdata;
**    a Time in such a zone keeps that userdata alive in its user value.
**  - A Duration is a userdata holding int64 nanoseconds; a Location userdata
**    holds a wp_loc pointer and, for fixed zones, the zone itself.
**  - Methods follow Go's time package: Add saturates, Sub saturates at the
**    Duration range, AddDate and time.date normalise through wp_time_date,
**    Round and Truncate work relative to the zero time as Go's do.
**    Comparisons (__eq, __lt, __le, equal, before, after) compare instants.
**  - Calendar, zones and layouts are in tzif.c and timefmt.c; nothing here
**    uses libc's global time-zone state, so every worker thread may call in.
**  - Argument type errors raise; bad durations and parse failures return
**    nil, err (kind Invalid); an unknown zone gives NotFound.
*/
#include <string.h>
#include <time.h>

#include "duration.h"
#include "errobj.h"
#include "modules.h"
#include "timeint.h"

#define TIME_MT "wippy.time"
#define DURATION_MT "wippy.duration"
#define LOC_MT "wippy.location"

#define NS_PER_S INT64_C(1000000000)
#define ZERO_SEC INT64_C(-62135596800) /* 0001-01-01 00:00:00 UTC */

struct tobj {
  int64_t sec;
  int32_t nsec;
  const struct wp_loc *loc;
};

struct lobj {
  const struct wp_loc *loc;
  int owned; /* loc points at `own` below */
  struct wp_loc own;
  struct wp_tzone zone;
  struct wp_ttrans tx;
  char name[];
};

static void time_mt(lua_State *L);
static void duration_mt(lua_State *L);
static void loc_mt(lua_State *L);

static int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}

/* __concat for Times and Durations: both operands through tostring. */
static int m_concat(lua_State *L) {
  luaL_tolstring(L, 1, NULL);
  luaL_tolstring(L, 2, NULL);
  lua_concat(L, 2);
  return 1;
}

/* ---- Duration ---- */

void wp_duration_push(lua_State *L, int64_t ns) {
  *(int64_t *)lua_newuserdatauv(L, sizeof(int64_t), 0) = ns;
  duration_mt(L);
  lua_setmetatable(L, -2);
}

static int64_t check_duration(lua_State *L, int idx) {
  return *(int64_t *)wp_state_mt_check(L, idx, WP_MT_DURATION, DURATION_MT);
}

int wp_time_arg(lua_State *L, int idx, int64_t *ns, const char **err) {
  switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        *ns = lua_tointeger(L, idx);
      } else {
        lua_Number n = lua_tonumber(L, idx);
        /* (-2^63, 2^63): every double in range truncates to an int64 */
        if (!(n > -9223372036854775808.0 && n < 9223372036854775808.0)) {
          *err = "invalid duration: number out of range";
          return -1;
        }
        *ns = (int64_t)n;
      }
      return 0;
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      return wp_duration_parse(s, len, ns, err);
    }
    case LUA_TUSERDATA:
      if (wp_state_mt_test(L, idx, WP_MT_DURATION)) {
        *ns = *(int64_t *)lua_touserdata(L, idx);
        return 0;
      }
      /* fallthrough */
    default:
      *err = "invalid duration: expected a number of nanoseconds, a string or a Duration";
      return -1;
  }
}

static int d_ns(lua_State *L) {
  lua_pushinteger(L, check_duration(L, 1));
  return 1;
}
static int d_us(lua_State *L) {
  lua_pushinteger(L, check_duration(L, 1) / 1000);
  return 1;
}
static int d_ms(lua_State *L) {
  lua_pushinteger(L, check_duration(L, 1) / 1000000);
  return 1;
}
/* Whole units plus the remainder's fraction, as Go does (keeps precision). */
static void push_units(lua_State *L, int64_t unit) {
  int64_t d = check_duration(L, 1);
  lua_pushnumber(L, (lua_Number)(d / unit) + (lua_Number)(d % unit) / (lua_Number)unit);
}
static int d_s(lua_State *L) {
  push_units(L, NS_PER_S);
  return 1;
}
static int d_m(lua_State *L) {
  push_units(L, 60 * NS_PER_S);
  return 1;
}
static int d_h(lua_State *L) {
  push_units(L, 3600 * NS_PER_S);
  return 1;
}
static int d_tostring(lua_State *L) {
  char buf[64];
  wp_duration_format(check_duration(L, 1), buf, sizeof buf);
  lua_pushstring(L, buf);
  return 1;
}
static int d_eq(lua_State *L) {
  const int64_t *a = wp_state_mt_test(L, 1, WP_MT_DURATION), *b = wp_state_mt_test(L, 2, WP_MT_DURATION);
  lua_pushboolean(L, a && b && *a == *b);
  return 1;
}
static int d_lt(lua_State *L) {
  lua_pushboolean(L, check_duration(L, 1) < check_duration(L, 2));
  return 1;
}
static int d_le(lua_State *L) {
  lua_pushboolean(L, check_duration(L, 1) <= check_duration(L, 2));
  return 1;
}

static void duration_mt(lua_State *L) {
  if (wp_state_mt_new(L, WP_MT_DURATION, DURATION_MT)) {
    static const luaL_Reg m[] = {{"nanoseconds", d_ns}, {"microseconds", d_us},
                                 {"milliseconds", d_ms}, {"seconds", d_s},
                                 {"minutes", d_m},       {"hours", d_h},
                                 {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__tostring", d_tostring}, {"__eq", d_eq},
                                    {"__lt", d_lt}, {"__le", d_le},
                                    {"__concat", m_concat}, {NULL, NULL}};
    luaL_newlib(L, m);
    lua_setfield(L, -2, "__index");
    luaL_setfuncs(L, meta, 0);
  }
}

/* ---- Location ---- */

static void push_loc(lua_State *L, const struct wp_loc *loc) {
  struct lobj *l = lua_newuserdatauv(L, sizeof *l, 0);
  memset(l, 0, sizeof *l);
  l->loc = loc;
  loc_mt(L);
  lua_setmetatable(L, -2);
}

static struct lobj *push_fixed(lua_State *L, const char *name, size_t len, int32_t off) {
  struct lobj *l = lua_newuserdatauv(L, sizeof *l + len + 1, 0);
  memset(l, 0, sizeof *l);
  memcpy(l->name, name, len);
  l->name[len] = 0;
  wp_loc_fixed(&l->own, &l->zone, &l->tx, l->name, off);
  l->loc = &l->own;
  l->owned = 1;
  loc_mt(L);
  lua_setmetatable(L, -2);
  return l;
}

static struct lobj *check_loc(lua_State *L, int idx) {
  return wp_state_mt_check(L, idx, WP_MT_LOC, LOC_MT);
}

static int l_string(lua_State *L) {
  lua_pushstring(L, check_loc(L, 1)->loc->name);
  return 1;
}

static int l_eq(lua_State *L) {
  struct lobj *a = wp_state_mt_test(L, 1, WP_MT_LOC), *b = wp_state_mt_test(L, 2, WP_MT_LOC);
  int eq = a && b &&
           (a->loc == b->loc ||
            (a->owned && b->owned && a->zone.off == b->zone.off && !strcmp(a->name, b->name)));
  lua_pushboolean(L, eq);
  return 1;
}

static void loc_mt(lua_State *L) {
  if (wp_state_mt_new(L, WP_MT_LOC, LOC_MT)) {
    static const luaL_Reg m[] = {{"string", l_string}, {NULL, NULL}};
    luaL_newlib(L, m);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_string);
    lua_setfield(L, -2, "__tostring");
    lua_pushcfunction(L, l_eq);
    lua_setfield(L, -2, "__eq");
  }
}

/* ---- Time ---- */

/* Pushes a Time whose user value (the Location it owns) is nil. */
static struct tobj *push_time_bare(lua_State *L, int64_t sec, int32_t nsec,
                                   const struct wp_loc *loc) {
  struct tobj *t = lua_newuserdatauv(L, sizeof *t, 1);
  t->sec = sec;
  t->nsec = nsec;
  t->loc = loc;
  time_mt(L);
  lua_setmetatable(L, -2);
  return t;
}

/* Pops the zone owner (a Location userdata or nil) and pushes a new Time. */
static struct tobj *push_time_owned(lua_State *L, int64_t sec, int32_t nsec,
                                    const struct wp_loc *loc) {
  struct tobj *t = push_time_bare(L, sec, nsec, loc);
  if (lua_isnil(L, -2)) { /* the user value is nil already */
    lua_remove(L, -2);
  } else {
    lua_insert(L, -2);
    lua_setiuservalue(L, -2, 1);
  }
  return t;
}

static void push_time(lua_State *L, int64_t sec, int32_t nsec, const struct wp_loc *loc) {
  push_time_bare(L, sec, nsec, loc); /* no owner: no nil to push and remove */
}

/* A Time in the same location as the Time at idx. */
static void push_time_like(lua_State *L, int idx, int64_t sec, int32_t nsec) {
  const struct tobj *t = lua_touserdata(L, idx);
  const struct wp_loc *loc = t->loc;
  lua_getiuservalue(L, idx, 1);
  push_time_owned(L, sec, nsec, loc);
}

/* A Time in the location held by the Location userdata at idx. */
static void push_time_in(lua_State *L, int idx, int64_t sec, int32_t nsec) {
  struct lobj *l = lua_touserdata(L, idx);
  if (l->owned)
    lua_pushvalue(L, idx);
  else
    lua_pushnil(L);
  push_time_owned(L, sec, nsec, l->loc);
}

void wp_time_push(lua_State *L, int64_t wall_ns) {
  int64_t sec = floordiv(wall_ns, NS_PER_S);
  push_time(L, sec, (int32_t)(wall_ns - sec * NS_PER_S), wp_loc_local());
}

static struct tobj *check_time(lua_State *L, int idx) {
  return wp_state_mt_check(L, idx, WP_MT_TIME, TIME_MT);
}

static int tcmp(const struct tobj *a, const struct tobj *b) {
  if (a->sec != b->sec) return a->sec < b->sec ? -1 : 1;
  return a->nsec < b->nsec ? -1 : a->nsec > b->nsec;
}

/* Go's Time.Add (the seconds saturate instead of wrapping). */
static void add_ns(int64_t *sec, int32_t *nsec, int64_t d) {
  int64_t ds = d / NS_PER_S;
  int32_t n = *nsec + (int32_t)(d % NS_PER_S);
  if (n >= NS_PER_S) {
    ds++;
    n -= (int32_t)NS_PER_S;
  } else if (n < 0) {
    ds--;
    n += (int32_t)NS_PER_S;
  }
  if (__builtin_add_overflow(*sec, ds, sec)) *sec = ds > 0 ? INT64_MAX : INT64_MIN;
  *nsec = n;
}

static void split(const struct tobj *t, struct wp_tparts *tp) {
  wp_time_split(t->sec, t->nsec, t->loc, tp);
}

static void push_formatted(lua_State *L, const struct tobj *t, const char *layout, size_t len) {
  struct wp_tparts tp;
  luaL_Buffer B;
  split(t, &tp);
  luaL_buffinit(L, &B);
  wp_time_format(&B, layout, len, &tp);
  luaL_pushresult(&B);
}

static const char LAYOUT_DEFAULT[] = "2006-01-02 15:04:05.999999999 -0700 MST";
static const char LAYOUT_RFC3339[] = "2006-01-02T15:04:05Z07:00";

static int t_add(lua_State *L) {
  struct tobj *t = check_time(L, 1);
  int64_t d, sec = t->sec;
  int32_t nsec = t->nsec;
  const char *err;
  if (wp_time_arg(L, 2, &d, &err)) return wp_err_return(L, WP_KIND_INVALID, err);
  add_ns(&sec, &nsec, d);
  push_time_like(L, 1, sec, nsec);
  return 1;
}

static int t_sub(lua_State *L) {
  struct tobj *a = check_time(L, 1), *b = check_time(L, 2);
  int64_t ds, d;
  int c = tcmp(a, b);
  if (__builtin_sub_overflow(a->sec, b->sec, &ds) ||
      __builtin_mul_overflow(ds, NS_PER_S, &d) ||
      __builtin_add_overflow(d, (int64_t)(a->nsec - b->nsec), &d))
    d = c < 0 ? INT64_MIN : INT64_MAX;
  wp_duration_push(L, d);
  return 1;
}

static int t_add_date(lua_State *L) {
  struct tobj *t = check_time(L, 1);
  lua_Integer dy = luaL_checkinteger(L, 2), dm = luaL_checkinteger(L, 3),
              dd = luaL_checkinteger(L, 4);
  struct wp_tparts tp;
  int64_t y, m, d, sec;
  int32_t nsec;
  split(t, &tp);
  if (__builtin_add_overflow(tp.year, dy, &y) || __builtin_add_overflow((int64_t)tp.month, dm, &m) ||
      __builtin_add_overflow((int64_t)tp.day, dd, &d) ||
      wp_time_date(y, m, d, tp.hour, tp.min, tp.sec, tp.nsec, t->loc, &sec, &nsec))
    return luaL_error(L, "time: add_date result out of range");
  push_time_like(L, 1, sec, nsec);
  return 1;
}

static int t_before(lua_State *L) {
  lua_pushboolean(L, tcmp(check_time(L, 1), check_time(L, 2)) < 0);
  return 1;
}
static int t_after(lua_State *L) {
  lua_pushboolean(L, tcmp(check_time(L, 1), check_time(L, 2)) > 0);
  return 1;
}
static int t_equal(lua_State *L) {
  lua_pushboolean(L, tcmp(check_time(L, 1), check_time(L, 2)) == 0);
  return 1;
}
static int t_eq(lua_State *L) {
  struct tobj *a = wp_state_mt_test(L, 1, WP_MT_TIME), *b = wp_state_mt_test(L, 2, WP_MT_TIME);
  lua_pushboolean(L, a && b && tcmp(a, b) == 0);
  return 1;
}
static int t_le(lua_State *L) {
  lua_pushboolean(L, tcmp(check_time(L, 1), check_time(L, 2)) <= 0);
  return 1;
}

static int t_format(lua_State *L) {
  struct tobj *t = check_time(L, 1);
  size_t len;
  const char *layout = luaL_checklstring(L, 2, &len);
  push_formatted(L, t, layout, len);
  return 1;
}
static int t_rfc3339(lua_State *L) {
  push_formatted(L, check_time(L, 1), LAYOUT_RFC3339, sizeof LAYOUT_RFC3339 - 1);
  return 1;
}
static int t_tostring(lua_State *L) {
  push_formatted(L, check_time(L, 1), LAYOUT_DEFAULT, sizeof LAYOUT_DEFAULT - 1);
  return 1;
}

static int t_unix(lua_State *L) {
  lua_pushinteger(L, check_time(L, 1)->sec);
  return 1;
}
static int t_unix_nano(lua_State *L) {
  struct tobj *t = check_time(L, 1);
  /* wraps outside 1678..2262, like Go's UnixNano */
  lua_pushinteger(L, (lua_Integer)((uint64_t)t->sec * (uint64_t)NS_PER_S + (uint64_t)t->nsec));
  return 1;
}

/* One-field accessors share a dispatcher keyed by an upvalue. */
enum { F_YEAR, F_MONTH, F_DAY, F_HOUR, F_MINUTE, F_SECOND, F_NANO, F_WDAY, F_YDAY };
static int t_field(lua_State *L, int f) {
  struct wp_tparts tp;
  split(check_time(L, 1), &tp);
  switch (f) {
    case F_YEAR: lua_pushinteger(L, tp.year); break;
    case F_MONTH: lua_pushinteger(L, tp.month); break;
    case F_DAY: lua_pushinteger(L, tp.day); break;
    case F_HOUR: lua_pushinteger(L, tp.hour); break;
    case F_MINUTE: lua_pushinteger(L, tp.min); break;
    case F_SECOND: lua_pushinteger(L, tp.sec); break;
    case F_NANO: lua_pushinteger(L, tp.nsec); break;
    case F_WDAY: lua_pushinteger(L, tp.wday); break;
    default: lua_pushinteger(L, tp.yday); break;
  }
  return 1;
}
static int t_year(lua_State *L) { return t_field(L, F_YEAR); }
static int t_month(lua_State *L) { return t_field(L, F_MONTH); }
static int t_day(lua_State *L) { return t_field(L, F_DAY); }
static int t_hour(lua_State *L) { return t_field(L, F_HOUR); }
static int t_minute(lua_State *L) { return t_field(L, F_MINUTE); }
static int t_second(lua_State *L) { return t_field(L, F_SECOND); }
static int t_nano(lua_State *L) { return t_field(L, F_NANO); }
static int t_wday(lua_State *L) { return t_field(L, F_WDAY); }
static int t_yday(lua_State *L) { return t_field(L, F_YDAY); }
static int t_date(lua_State *L) {
  struct wp_tparts tp;
  split(check_time(L, 1), &tp);
  lua_pushinteger(L, tp.year);
  lua_pushinteger(L, tp.month);
  lua_pushinteger(L, tp.day);
  return 3;
}
static int t_clock(lua_State *L) {
  struct wp_tparts tp;
  split(check_time(L, 1), &tp);
  lua_pushinteger(L, tp.hour);
  lua_pushinteger(L, tp.min);
  lua_pushinteger(L, tp.sec);
  return 3;
}
static int t_is_zero(lua_State *L) {
  struct tobj *t = check_time(L, 1);
  lua_pushboolean(L, t->sec == ZERO_SEC && t->nsec == 0);
  return 1;
}

static int t_utc(lua_State *L) {
  struct tobj *t = check_time(L, 1);
  push_time(L, t->sec, t->nsec, &wp_loc_utc);
  return 1;
}
static int t_in_local(lua_State *L) {
  struct tobj *t = check_time(L, 1);
  push_time(L, t->sec, t->nsec, wp_loc_local());
  return 1;
}
static int t_in_location(lua_State *L) {
  struct tobj *t = check_time(L, 1);
  check_loc(L, 2);
  push_time_in(L, 2, t->sec, t->nsec);
  return 1;
}
static int t_location(lua_State *L) {
  struct tobj *t = check_time(L, 1);
  if (lua_getiuservalue(L, 1, 1) == LUA_TUSERDATA) return 1;
  lua_pop(L, 1);
  push_loc(L, t->loc);
  return 1;
}

/* (a * b) mod m for a, b < m < 2^63, without 128-bit arithmetic. */
static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t m) {
  uint64_t r = 0;
  while (b) {
    if (b & 1) {
      r += a;
      if (r >= m) r -= m;
    }
    a += a;
    if (a >= m) a -= m;
    b >>= 1;
  }
  return r;
}

/* Go's div remainder: (t - zero time) mod d in ns, in [0, d). Uses
** ((S mod d) * (1e9 mod d) + nsec) mod d with S the seconds since year 1. */
static int64_t time_rem(const struct tobj *t, int64_t d) {
  uint64_t m = (uint64_t)d;
  int64_t fs = t->sec % d, fz = ZERO_SEC % d; /* made [0, d) below */
  if (fs < 0) fs += d;
  if (fz < 0) fz += d;
  uint64_t a = fs >= fz ? (uint64_t)(fs - fz) : (uint64_t)fs + (m - (uint64_t)fz);
  uint64_t r = mulmod(a, (uint64_t)(NS_PER_S % d), m);
  r += (uint64_t)t->nsec % m;
  if (r >= m) r -= m;
  return (int64_t)r;
}

static int round_or_truncate(lua_State *L, int round) {
  struct tobj *t = check_time(L, 1);
  int64_t d = check_duration(L, 2), sec = t->sec;
  int32_t nsec = t->nsec;
  if (d > 0) {
    int64_t r = time_rem(t, d);
    if (!round || (uint64_t)r + (uint64_t)r < (uint64_t)d)
      add_ns(&sec, &nsec, -r);
    else
      add_ns(&sec, &nsec, d - r);
  }
  push_time_like(L, 1, sec, nsec);
  return 1;
}
static int t_round(lua_State *L) { return round_or_truncate(L, 1); }
static int t_truncate(lua_State *L) { return round_or_truncate(L, 0); }

/* A Time's methods: a lazy table (lazylib.c), each method made in the
** process's state on its first use. A process that reads a time or two
** (time.now():unix_nano()) so holds one entry, not all 28 with their names
** (~2 KB of every such process's heap). */
static const struct wp_libentry time_methods[] = {
    WP_LF("add", t_add),         WP_LF("sub", t_sub),
    WP_LF("add_date", t_add_date), WP_LF("before", t_before),
    WP_LF("after", t_after),     WP_LF("equal", t_equal),
    WP_LF("format", t_format),   WP_LF("format_rfc3339", t_rfc3339),
    WP_LF("unix", t_unix),       WP_LF("unix_nano", t_unix_nano),
    WP_LF("date", t_date),       WP_LF("clock", t_clock),
    WP_LF("is_zero", t_is_zero), WP_LF("utc", t_utc),
    WP_LF("in_local", t_in_local), WP_LF("in_location", t_in_location),
    WP_LF("location", t_location), WP_LF("round", t_round),
    WP_LF("truncate", t_truncate), WP_LF("year", t_year),
    WP_LF("month", t_month),     WP_LF("day", t_day),
    WP_LF("hour", t_hour),       WP_LF("minute", t_minute),
    WP_LF("second", t_second),   WP_LF("nanosecond", t_nano),
    WP_LF("weekday", t_wday),    WP_LF("year_day", t_yday),
    WP_LEND};
static const struct wp_libdef time_methods_def = {"Time", time_methods, NULL};

static void time_mt(lua_State *L) {
  if (wp_state_mt_new(L, WP_MT_TIME, TIME_MT)) {
    static const luaL_Reg meta[] = {{"__tostring", t_tostring}, {"__eq", t_eq},
                                    {"__lt", t_before}, {"__le", t_le},
                                    {"__concat", m_concat}, {NULL, NULL}};
    wp_lazylib_push(L, &time_methods_def);
    lua_setfield(L, -2, "__index");
    luaL_setfuncs(L, meta, 0);
  }
}

/* ---- module functions ---- */

int wp_time_l_now(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  push_time(L, (int64_t)ts.tv_sec, (int32_t)ts.tv_nsec, wp_loc_local());
  return 1;
}

int wp_time_l_unix(lua_State *L) {
  int64_t sec = luaL_checkinteger(L, 1), ns = luaL_optinteger(L, 2, 0);
  if (ns < 0 || ns >= NS_PER_S) {
    int64_t n = ns / NS_PER_S;
    ns -= n * NS_PER_S;
    if (ns < 0) {
      ns += NS_PER_S;
      n--;
    }
    if (__builtin_add_overflow(sec, n, &sec)) return luaL_error(L, "time.unix: out of range");
  }
  push_time(L, sec, (int32_t)ns, wp_loc_local());
  return 1;
}

/* Optional Location argument: its index, or 0 when absent/nil. */
static int opt_loc(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx)) return 0;
  check_loc(L, idx);
  return idx;
}

static int f_date(lua_State *L) {
  int64_t v[7];
  for (int i = 0; i < 7; i++) v[i] = i < 3 ? luaL_checkinteger(L, i + 1) : luaL_optinteger(L, i + 1, 0);
  int li = opt_loc(L, 8);
  const struct wp_loc *loc = li ? ((struct lobj *)lua_touserdata(L, li))->loc : wp_loc_local();
  int64_t sec;
  int32_t nsec;
  if (wp_time_date(v[0], v[1], v[2], v[3], v[4], v[5], v[6], loc, &sec, &nsec))
    return luaL_error(L, "time.date: date out of range");
  if (li)
    push_time_in(L, li, sec, nsec);
  else
    push_time(L, sec, nsec, loc);
  return 1;
}

static int f_parse(lua_State *L) {
  size_t ll, vl;
  const char *layout = luaL_checklstring(L, 1, &ll), *value = luaL_checklstring(L, 2, &vl);
  int li = opt_loc(L, 3);
  const struct wp_loc *loc = li ? ((struct lobj *)lua_touserdata(L, li))->loc : NULL;
  struct wp_tparse r;
  if (wp_time_parse(L, layout, ll, value, vl, loc ? loc : &wp_loc_utc,
                    loc ? loc : wp_loc_local(), &r)) {
    const char *msg = lua_tostring(L, -1);
    return wp_err_return(L, WP_KIND_INVALID, msg);
  }
  switch (r.which) {
    case WP_TP_UTC:
      push_time(L, r.sec, r.nsec, &wp_loc_utc);
      break;
    case WP_TP_FIXED:
      push_fixed(L, r.zname, r.zlen, r.zoff);
      push_time_in(L, lua_gettop(L), r.sec, r.nsec);
      break;
    case WP_TP_LOCAL:
    default:
      if (li)
        push_time_in(L, li, r.sec, r.nsec);
      else
        push_time(L, r.sec, r.nsec, r.which == WP_TP_LOCAL ? wp_loc_local() : &wp_loc_utc);
      break;
  }
  return 1;
}

static int f_parse_duration(lua_State *L) {
  int64_t ns;
  const char *err;
  if (wp_time_arg(L, 1, &ns, &err)) {
    if (lua_type(L, 1) == LUA_TSTRING) {
      luaL_Buffer B;
      size_t len;
      const char *s = lua_tolstring(L, 1, &len);
      luaL_buffinit(L, &B);
      luaL_addstring(&B, "time: ");
      luaL_addstring(&B, err);
      luaL_addstring(&B, " \"");
      luaL_addlstring(&B, s, len);
      luaL_addchar(&B, '"');
      luaL_pushresult(&B);
      err = lua_tostring(L, -1);
    }
    return wp_err_return(L, WP_KIND_INVALID, err);
  }
  wp_duration_push(L, ns);
  return 1;
}

static int f_load_location(lua_State *L) {
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  const struct wp_loc *loc;
  const char *kind;
  if (wp_loc_load(L, name, len, &loc, &kind)) return wp_err_return(L, kind, lua_tostring(L, -1));
  push_loc(L, loc);
  return 1;
}

static int f_fixed_zone(lua_State *L) {
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  lua_Integer off = luaL_checkinteger(L, 2);
  luaL_argcheck(L, off > -7 * 86400 && off < 7 * 86400, 2, "offset out of range");
  push_fixed(L, name, len, (int32_t)off);
  return 1;
}

void wp_time_register(lua_State *L, int mod) {
  static const luaL_Reg fns[] = {{"now", wp_time_l_now},
                                 {"unix", wp_time_l_unix},
                                 {"date", f_date},
                                 {"parse", f_parse},
                                 {"parse_duration", f_parse_duration},
                                 {"load_location", f_load_location},
                                 {"fixed_zone", f_fixed_zone},
                                 {NULL, NULL}};
  static const struct {
    const char *k;
    lua_Integer v;
  } ints[] = {{"NANOSECOND", 1},
              {"MICROSECOND", 1000},
              {"MILLISECOND", 1000000},
              {"SECOND", 1000000000},
              {"MINUTE", 60000000000LL},
              {"HOUR", 3600000000000LL},
              {"JANUARY", 1},   {"FEBRUARY", 2}, {"MARCH", 3},     {"APRIL", 4},
              {"MAY", 5},       {"JUNE", 6},     {"JULY", 7},      {"AUGUST", 8},
              {"SEPTEMBER", 9}, {"OCTOBER", 10}, {"NOVEMBER", 11}, {"DECEMBER", 12},
              {"SUNDAY", 0},    {"MONDAY", 1},   {"TUESDAY", 2},   {"WEDNESDAY", 3},
              {"THURSDAY", 4},  {"FRIDAY", 5},   {"SATURDAY", 6}};
  static const struct {
    const char *k, *v;
  } layouts[] = {{"LAYOUT", "01/02 03:04:05PM '06 -0700"},
                 {"ANSIC", "Mon Jan _2 15:04:05 2006"},
                 {"UNIX_DATE", "Mon Jan _2 15:04:05 MST 2006"},
                 {"RUBY_DATE", "Mon Jan 02 15:04:05 -0700 2006"},
                 {"RFC822", "02 Jan 06 15:04 MST"},
                 {"RFC822Z", "02 Jan 06 15:04 -0700"},
                 {"RFC850", "Monday, 02-Jan-06 15:04:05 MST"},
                 {"RFC1123", "Mon, 02 Jan 2006 15:04:05 MST"},
                 {"RFC1123Z", "Mon, 02 Jan 2006 15:04:05 -0700"},
                 {"RFC3339", LAYOUT_RFC3339},
                 {"RFC3339NANO", "2006-01-02T15:04:05.999999999Z07:00"},
                 {"KITCHEN", "3:04PM"},
                 {"STAMP", "Jan _2 15:04:05"},
                 {"STAMP_MILLI", "Jan _2 15:04:05.000"},
                 {"STAMP_MICRO", "Jan _2 15:04:05.000000"},
                 {"STAMP_NANO", "Jan _2 15:04:05.000000000"},
                 {"DATE_TIME", "2006-01-02 15:04:05"},
                 {"DATE_ONLY", "2006-01-02"},
                 {"TIME_ONLY", "15:04:05"}};
  mod = lua_absindex(L, mod);
  lua_pushvalue(L, mod);
  luaL_setfuncs(L, fns, 0);
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
    lua_pushinteger(L, ints[i].v);
    lua_setfield(L, -2, ints[i].k);
  }
  for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
    lua_pushstring(L, layouts[i].v);
    lua_setfield(L, -2, layouts[i].k);
  }
  push_loc(L, &wp_loc_utc);
  lua_setfield(L, -2, "utc");
  push_loc(L, wp_loc_local());
  lua_setfield(L, -2, "localtz");
  lua_pop(L, 1);
}
