/*
** test_timeobj.c: the time module's objects and non-timer functions
** (modules/timeobj.c, timefmt.c, tzif.c; spec 04 §5.2).
**
** Each test builds a bare lua_State with a `time` global made by
** wp_time_register and runs Lua snippets whose expected values are Go's
** outputs (many are the vectors of Go's own time package tests, which use
** America/Los_Angeles as the local zone). The local zone is chosen per test
** through TZ before the first time call: the runner forks one process per
** test, and the zone is resolved once per process.
**
** Zone tests use the system's /usr/share/zoneinfo and are skipped (with a
** "# skip" line) where it is missing. TZif parsing itself is covered by
** synthetic v1 and v2 files written to a temporary $ZONEINFO directory.
*/
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "modules.h"
#include "test.h"
#include "test_vp.h"

static const char prelude[] =
    "function eq(got, want, what)\n"
    "  if got ~= want then\n"
    "    error(string.format('%s: got [%s] want [%s]', tostring(what or '?'),\n"
    "          tostring(got), tostring(want)), 2)\n"
    "  end\n"
    "end\n"
    "function zone(name)\n"
    "  local z, err = time.load_location(name)\n"
    "  if not z then print('# skip: no zone ' .. name .. ': ' .. tostring(err)) end\n"
    "  return z\n"
    "end\n";

static lua_State *newstate(const char *tz) {
  if (tz)
    setenv("TZ", tz, 1);
  else
    unsetenv("TZ");
  lua_State *L = luaL_newstate();
  ASSERT(L != NULL);
  attach_vp(L);
  luaL_openlibs(L);
  lua_newtable(L);
  wp_time_register(L, -1);
  lua_setglobal(L, "time");
  ASSERT_EQ(lua_gettop(L), 0);
  if (luaL_dostring(L, prelude)) TEST_FAIL("prelude: %s", lua_tostring(L, -1));
  return L;
}

static void run(lua_State *L, const char *src) {
  if (luaL_dostring(L, src)) TEST_FAIL("lua: %s", lua_tostring(L, -1));
  lua_settop(L, 0);
}

/* ---------------------------------------------------------------------- */

TEST(constants) {
  lua_State *L = newstate("UTC");
  run(L,
      "eq(time.NANOSECOND, 1) eq(time.MICROSECOND, 1000) eq(time.MILLISECOND, 1000000)\n"
      "eq(time.SECOND, 1000000000) eq(time.MINUTE, 60000000000) eq(time.HOUR, 3600000000000)\n"
      "eq(math.type(time.HOUR), 'integer')\n"
      "eq(time.JANUARY, 1) eq(time.JUNE, 6) eq(time.DECEMBER, 12)\n"
      "eq(time.SUNDAY, 0) eq(time.WEDNESDAY, 3) eq(time.SATURDAY, 6)\n"
      "eq(time.RFC3339, '2006-01-02T15:04:05Z07:00')\n"
      "eq(time.RFC3339NANO, '2006-01-02T15:04:05.999999999Z07:00')\n"
      "eq(time.RFC822, '02 Jan 06 15:04 MST') eq(time.RFC822Z, '02 Jan 06 15:04 -0700')\n"
      "eq(time.RFC850, 'Monday, 02-Jan-06 15:04:05 MST')\n"
      "eq(time.RFC1123, 'Mon, 02 Jan 2006 15:04:05 MST')\n"
      "eq(time.RFC1123Z, 'Mon, 02 Jan 2006 15:04:05 -0700')\n"
      "eq(time.KITCHEN, '3:04PM') eq(time.STAMP, 'Jan _2 15:04:05')\n"
      "eq(time.STAMP_MILLI, 'Jan _2 15:04:05.000')\n"
      "eq(time.STAMP_MICRO, 'Jan _2 15:04:05.000000')\n"
      "eq(time.STAMP_NANO, 'Jan _2 15:04:05.000000000')\n"
      "eq(time.DATE_TIME, '2006-01-02 15:04:05') eq(time.DATE_ONLY, '2006-01-02')\n"
      "eq(time.TIME_ONLY, '15:04:05') eq(time.ANSIC, 'Mon Jan _2 15:04:05 2006')\n"
      "eq(time.utc:string(), 'UTC') eq(tostring(time.utc), 'UTC')\n"
      "eq(time.localtz:string(), 'UTC')\n");
  lua_close(L);
  return 0;
}

TEST(unix_epoch_and_tostring) {
  lua_State *L = newstate("UTC");
  run(L,
      "local t = time.unix(0, 0):utc()\n"
      "eq(t:format(time.RFC1123), 'Thu, 01 Jan 1970 00:00:00 UTC')\n"
      "eq(tostring(t), '1970-01-01 00:00:00 +0000 UTC')\n"
      "eq(t:format_rfc3339(), '1970-01-01T00:00:00Z')\n"
      "eq(tostring(time.unix(1, 500):utc()), '1970-01-01 00:00:01.0000005 +0000 UTC')\n"
      "eq(tostring(time.unix(-1, 0):utc()), '1969-12-31 23:59:59 +0000 UTC')\n"
      "local n = time.unix(5, -1):utc()\n"
      "eq(n:unix(), 4) eq(n:nanosecond(), 999999999)\n"
      "eq(time.unix(0, 3000000001):unix(), 3)\n"
      "local d = time.date(2009, 11, 10, 23, 0, 0, 0, time.utc)\n"
      "eq(d:unix(), 1257894000) eq(d:unix_nano(), 1257894000000000000)\n"
      "eq(tostring(d), '2009-11-10 23:00:00 +0000 UTC')\n"
      "eq(time.unix(1257894000, 0):equal(d), true)\n"
      "eq(time.unix(0, 0):location():string(), 'UTC')\n" /* TZ=UTC: Local named UTC */
      "eq(time.unix(0, 0):utc():location():string(), 'UTC')\n"
      "local now = time.now()\n"
      "assert(now:unix() > 1700000000 and now:year() >= 2023)\n"
      "assert(math.abs(now:unix() - os.time()) < 5)\n");
  lua_close(L);
  return 0;
}

TEST(accessors) {
  lua_State *L = newstate("UTC");
  run(L,
      "local t = time.date(2024, 2, 29, 13, 45, 30, 123456789, time.utc)\n"
      "local y, m, d = t:date() eq(y, 2024) eq(m, 2) eq(d, 29)\n"
      "local h, mi, s = t:clock() eq(h, 13) eq(mi, 45) eq(s, 30)\n"
      "eq(t:year(), 2024) eq(t:month(), time.FEBRUARY) eq(t:day(), 29)\n"
      "eq(t:hour(), 13) eq(t:minute(), 45) eq(t:second(), 30)\n"
      "eq(t:nanosecond(), 123456789) eq(t:weekday(), time.THURSDAY) eq(t:year_day(), 60)\n"
      "eq(time.date(2024, 1, 1, 0, 0, 0, 0, time.utc):weekday(), 1)\n"
      "eq(time.date(1970, 1, 1, 0, 0, 0, 0, time.utc):weekday(), 4)\n"
      "eq(time.date(2000, 2, 29, 0, 0, 0, 0, time.utc):weekday(), 2)\n"
      "eq(time.date(2023, 12, 31, 0, 0, 0, 0, time.utc):year_day(), 365)\n"
      "eq(time.date(2024, 12, 31, 0, 0, 0, 0, time.utc):year_day(), 366)\n"
      "eq(time.date(1, 1, 1, 0, 0, 0, 0, time.utc):weekday(), time.MONDAY)\n"
      "eq(time.date(1600, 3, 1, 0, 0, 0, 0, time.utc):year_day(), 61)\n"
      "eq(time.date(1900, 3, 1, 0, 0, 0, 0, time.utc):year_day(), 60)\n"
      "eq(time.date(1969, 12, 31, 23, 59, 59, 0, time.utc):weekday(), 3)\n"
      /* zero time */
      "local z = time.date(1, 1, 1, 0, 0, 0, 0, time.utc)\n"
      "eq(z:is_zero(), true) eq(z:unix(), -62135596800)\n"
      "eq(tostring(z), '0001-01-01 00:00:00 +0000 UTC')\n"
      "eq(time.unix(0, 0):is_zero(), false)\n"
      "eq(z:add(1):is_zero(), false)\n"
      "eq(time.date(1, 1, 1, 1, 0, 0, 0, time.fixed_zone('X', 3600)):is_zero(), true)\n"
      "eq(tostring(time.date(0, 12, 31, 0, 0, 0, 0, time.utc)), '0000-12-31 00:00:00 +0000 UTC')\n"
      "eq(tostring(time.date(-1, 1, 1, 0, 0, 0, 0, time.utc)), '-0001-01-01 00:00:00 +0000 UTC')\n"
      "eq(time.date(-1, 1, 1, 0, 0, 0, 0, time.utc):format('06'), '01')\n"
      "eq(tostring(time.date(12345, 6, 7, 0, 0, 0, 0, time.utc)), '12345-06-07 00:00:00 +0000 UTC')\n"
      "eq(tostring(time.date(2262, 4, 12, 0, 0, 0, 0, time.utc)), '2262-04-12 00:00:00 +0000 UTC')\n");
  lua_close(L);
  return 0;
}

/* Go's time.Date vectors (format_test/time_test, Local = Los Angeles). */
TEST(date_normalisation) {
  lua_State *L = newstate("America/Los_Angeles");
  run(L,
      "if time.localtz:string() ~= 'America/Los_Angeles' then print('# skip: no zoneinfo') return end\n"
      "local cases = {\n"
      " {2011, 11, 6, 1, 0, 0, 0, 1320566400}, {2011, 11, 6, 1, 59, 59, 0, 1320569999},\n"
      " {2011, 11, 6, 2, 0, 0, 0, 1320573600}, {2011, 3, 13, 1, 0, 0, 0, 1300006800},\n"
      " {2011, 3, 13, 1, 59, 59, 0, 1300010399}, {2011, 3, 13, 3, 0, 0, 0, 1300010400},\n"
      " {2011, 3, 13, 2, 30, 0, 0, 1300008600}, {2012, 12, 24, 0, 0, 0, 0, 1356336000},\n"
      " {2011, 11, 18, 7, 56, 35, 0, 1321631795}, {2011, 11, 19, -17, 56, 35, 0, 1321631795},\n"
      " {2011, 11, 17, 31, 56, 35, 0, 1321631795}, {2011, 11, 18, 6, 116, 35, 0, 1321631795},\n"
      " {2011, 10, 49, 7, 56, 35, 0, 1321631795}, {2011, 11, 18, 7, 55, 95, 0, 1321631795},\n"
      " {2011, 11, 18, 7, 56, 34, 1000000000, 1321631795}, {2011, 12, -12, 7, 56, 35, 0, 1321631795},\n"
      " {2012, 1, -43, 7, 56, 35, 0, 1321631795}, {2012, -1, 18, 7, 56, 35, 0, 1321631795},\n"
      " {2010, 23, 18, 7, 56, 35, 0, 1321631795}, {1970, 1, 15297, 7, 56, 35, 0, 1321631795},\n"
      " {1970, 1, -25508, 0, 0, 0, 0, -2203948800},\n"
      "}\n"
      "for i, c in ipairs(cases) do\n"
      "  local t = time.date(c[1], c[2], c[3], c[4], c[5], c[6], c[7])\n"
      "  eq(t:unix(), c[8], 'case ' .. i)\n"
      "  eq(t:location():string(), 'America/Los_Angeles')\n"
      "end\n"
      "eq(tostring(time.date(2011, 3, 13, 2, 30, 0, 0)), '2011-03-13 01:30:00 -0800 PST')\n"
      /* time.date without a zone is local; with one it uses it */
      "eq(tostring(time.date(2024, 1, 1, 0, 0, 0, 0, time.utc)), '2024-01-01 00:00:00 +0000 UTC')\n"
      "eq(tostring(time.date(2024, 1, 1)), '2024-01-01 00:00:00 -0800 PST')\n"
      "local ok, err = pcall(time.date, 2024, 1)\n"
      "assert(not ok and err:find('bad argument #3'), err)\n"
      "ok, err = pcall(time.date, 2024, 1, 1, 0, 0, 0, 0, 'UTC')\n"
      "assert(not ok and err:find('bad argument #8'), err)\n"
      "ok, err = pcall(time.date, math.maxinteger, 1, 1)\n"
      "assert(not ok and err:find('out of range'), err)\n"
      "ok, err = pcall(time.date, 2024, 1, 1, 0, 0, 0, math.mininteger)\n"
      "assert(ok) \n");
  lua_close(L);
  return 0;
}

TEST(add_date_and_add) {
  lua_State *L = newstate("UTC");
  run(L,
      "local u = time.utc\n"
      "local function s(t) return t:format('2006-01-02 15:04:05') end\n"
      "eq(s(time.date(2023, 1, 31, 10, 0, 0, 0, u):add_date(0, 1, 0)), '2023-03-03 10:00:00')\n"
      "eq(s(time.date(2024, 1, 31, 10, 0, 0, 0, u):add_date(0, 1, 0)), '2024-03-02 10:00:00')\n"
      "eq(s(time.date(2023, 10, 31, 0, 0, 0, 0, u):add_date(0, 1, 0)), '2023-12-01 00:00:00')\n"
      "eq(s(time.date(2024, 2, 29, 0, 0, 0, 0, u):add_date(1, 0, 0)), '2025-03-01 00:00:00')\n"
      "eq(s(time.date(2024, 3, 31, 0, 0, 0, 0, u):add_date(0, -1, 0)), '2024-03-02 00:00:00')\n"
      "eq(s(time.date(2024, 1, 1, 0, 0, 0, 0, u):add_date(0, 0, -1)), '2023-12-31 00:00:00')\n"
      "eq(s(time.date(2024, 1, 1, 0, 0, 0, 0, u):add_date(0, 0, 366)), '2025-01-01 00:00:00')\n"
      "eq(s(time.date(2024, 12, 15, 0, 0, 0, 0, u):add_date(0, 13, 0)), '2026-01-15 00:00:00')\n"
      "local t = time.date(2024, 5, 1, 12, 0, 0, 0, u)\n"
      "eq(s(t:add(time.HOUR)), '2024-05-01 13:00:00')\n"
      "eq(s(t:add('-90m')), '2024-05-01 10:30:00')\n"
      "eq(s(t:add(time.parse_duration('36h'))), '2024-05-03 00:00:00')\n"
      "eq(t:add(1.9):nanosecond(), 1)\n"
      "eq(t:add(-1):nanosecond(), 999999999)\n"
      "eq(s(t:add(-1)), '2024-05-01 11:59:59')\n"
      "local r, err = t:add('bogus')\n"
      "eq(r, nil) eq(err:kind(), 'Invalid')\n"
      "r, err = t:add({})\n"
      "eq(r, nil) eq(err:kind(), 'Invalid')\n"
      /* the result keeps the location */
      "local fz = time.fixed_zone('FZ', 7200)\n"
      "local f = time.date(2024, 5, 1, 12, 0, 0, 0, fz)\n"
      "eq(tostring(f:add(time.MINUTE)), '2024-05-01 12:01:00 +0200 FZ')\n"
      "eq(tostring(f:add_date(0, 0, 1)), '2024-05-02 12:00:00 +0200 FZ')\n"
      "eq(f:add_date(0, 0, 1):location():string(), 'FZ')\n");
  lua_close(L);
  return 0;
}

TEST(sub_and_compare) {
  lua_State *L = newstate("UTC");
  run(L,
      "local u = time.utc\n"
      "local a = time.date(2024, 1, 1, 0, 0, 0, 0, u)\n"
      "local b = time.date(2024, 1, 1, 1, 30, 0, 500, u)\n"
      "local d = b:sub(a)\n"
      "eq(tostring(d), '1h30m0.0000005s') eq(d:nanoseconds(), 5400000000500)\n"
      "eq(tostring(a:sub(b)), '-1h30m0.0000005s')\n"
      "eq(a:before(b), true) eq(a:after(b), false) eq(b:after(a), true)\n"
      "eq(a:equal(a:in_location(time.fixed_zone('X', -3600))), true)\n"
      "eq(a < b, true) eq(b < a, false) eq(a <= a, true) eq(b <= a, false)\n"
      "eq(a == time.unix(a:unix(), 0), true) eq(a == b, false)\n"
      "eq(a == a:in_location(time.fixed_zone('X', 3600)), true)\n"
      "eq(a == d, false)\n"
      "local z = time.date(1, 1, 1, 0, 0, 0, 0, u)\n"
      "local far = time.date(2500, 1, 1, 0, 0, 0, 0, u)\n"
      "eq(tostring(z:sub(far)), '-2562047h47m16.854775808s')\n"
      "eq(tostring(far:sub(z)), '2562047h47m16.854775807s')\n"
      "local ok, err = pcall(a.sub, a, 5)\n"
      "assert(not ok and err:find('wippy.time expected'), err)\n"
      "ok, err = pcall(function() return a < 5 end)\n"
      "assert(not ok, err)\n");
  lua_close(L);
  return 0;
}

TEST(round_truncate) {
  lua_State *L = newstate("UTC");
  run(L,
      "local u = time.utc\n"
      "local function s(t) return t:format('2006-01-02 15:04:05.999999999') end\n"
      "local H, S = time.parse_duration('1h'), time.parse_duration('1s')\n"
      "local t = time.date(2024, 5, 15, 13, 47, 31, 600000000, u)\n"
      "eq(s(t:truncate(H)), '2024-05-15 13:00:00') eq(s(t:round(H)), '2024-05-15 14:00:00')\n"
      "eq(s(t:round(S)), '2024-05-15 13:47:32') eq(s(t:truncate(S)), '2024-05-15 13:47:31')\n"
      "eq(s(t:truncate(time.parse_duration('15m'))), '2024-05-15 13:45:00')\n"
      "eq(s(t:round(time.parse_duration('10ms'))), '2024-05-15 13:47:31.6')\n"
      "eq(s(t:truncate(time.parse_duration('24h'))), '2024-05-15 00:00:00')\n"
      /* weeks count from the zero time, a Monday */
      "eq(s(t:truncate(time.parse_duration('168h'))), '2024-05-13 00:00:00')\n"
      "eq(s(time.date(2024, 5, 15, 13, 30, 0, 0, u):round(H)), '2024-05-15 14:00:00')\n"
      "eq(s(time.date(2024, 5, 15, 13, 29, 59, 999999999, u):round(H)), '2024-05-15 13:00:00')\n"
      "eq(s(t:round(time.parse_duration('0s'))), s(t))\n"
      "eq(s(t:truncate(time.parse_duration('-1h'))), s(t))\n"
      "eq(s(t:truncate(time.parse_duration('7ns'))), '2024-05-15 13:47:31.6')\n" /* 0 mod 7 */
      "eq(s(t:add(5):truncate(time.parse_duration('7ns'))), '2024-05-15 13:47:31.6')\n"
      "eq(s(t:add(-1):truncate(time.parse_duration('7ns'))), '2024-05-15 13:47:31.599999993')\n"
      "eq(s(t:add(-1):round(time.parse_duration('7ns'))), '2024-05-15 13:47:31.6')\n"
      /* before the zero time */
      "local b = time.date(0, 12, 31, 23, 59, 59, 600000000, u)\n"
      "eq(b:round(S):is_zero(), true) eq(s(b:truncate(S)), '0000-12-31 23:59:59')\n"
      "eq(s(time.unix(-1, 500000000):utc():truncate(S)), '1969-12-31 23:59:59')\n"
      "eq(s(time.unix(-1, 500000000):utc():round(S)), '1970-01-01 00:00:00')\n"
      /* zone does not matter for truncation, and is kept */
      "local fz = time.fixed_zone('P', 5 * 3600 + 1800)\n"
      "eq(tostring(t:in_location(fz):truncate(H)), '2024-05-15 18:30:00 +0530 P')\n"
      "local ok, err = pcall(t.round, t, 1000)\n"
      "assert(not ok and err:find('wippy.duration expected'), err)\n"
      "ok, err = pcall(t.truncate, t, '1h')\n"
      "assert(not ok, err)\n");
  lua_close(L);
  return 0;
}

/* Go's format_test vectors: Unix(0, 1233810057012345600) in Los Angeles. */
TEST(format_go_vectors) {
  lua_State *L = newstate("America/Los_Angeles");
  run(L,
      "if time.localtz:string() ~= 'America/Los_Angeles' then print('# skip: no zoneinfo') return end\n"
      "local t = time.unix(0, 1233810057012345600)\n"
      "local cases = {\n"
      " {time.ANSIC, 'Wed Feb  4 21:00:57 2009'}, {time.UNIX_DATE, 'Wed Feb  4 21:00:57 PST 2009'},\n"
      " {time.RUBY_DATE, 'Wed Feb 04 21:00:57 -0800 2009'}, {time.RFC822, '04 Feb 09 21:00 PST'},\n"
      " {time.RFC850, 'Wednesday, 04-Feb-09 21:00:57 PST'}, {time.RFC1123, 'Wed, 04 Feb 2009 21:00:57 PST'},\n"
      " {time.RFC1123Z, 'Wed, 04 Feb 2009 21:00:57 -0800'}, {time.RFC3339, '2009-02-04T21:00:57-08:00'},\n"
      " {time.RFC3339NANO, '2009-02-04T21:00:57.0123456-08:00'}, {time.KITCHEN, '9:00PM'},\n"
      " {'3pm', '9pm'}, {'3PM', '9PM'}, {'06 01 02', '09 02 04'},\n"
      " {'Hi Janet, the Month is January', 'Hi Janet, the Month is February'},\n"
      " {time.STAMP, 'Feb  4 21:00:57'}, {time.STAMP_MILLI, 'Feb  4 21:00:57.012'},\n"
      " {time.STAMP_MICRO, 'Feb  4 21:00:57.012345'}, {time.STAMP_NANO, 'Feb  4 21:00:57.012345600'},\n"
      " {time.DATE_TIME, '2009-02-04 21:00:57'}, {time.DATE_ONLY, '2009-02-04'},\n"
      " {time.TIME_ONLY, '21:00:57'}, {'Jan  2 002 __2 2', 'Feb  4 035  35 4'},\n"
      " {'2006 6 06 _6 __6 ___6', '2009 6 09 _6 __6 ___6'},\n"
      " {'Jan January 1 01 _1', 'Feb February 2 02 _2'}, {'2 02 _2 __2', '4 04  4  35'},\n"
      " {'Mon Monday', 'Wed Wednesday'}, {'15 3 03 _3', '21 9 09 _9'},\n"
      " {'4 04 _4', '0 00 _0'}, {'5 05 _5', '57 57 _57'},\n"
      " {time.LAYOUT, \"02/04 09:00:57PM '09 -0800\"},\n"
      "}\n"
      "for _, c in ipairs(cases) do eq(t:format(c[1]), c[2], c[1]) end\n"
      "eq(tostring(t), '2009-02-04 21:00:57.0123456 -0800 PST')\n"
      "eq(t:location():string(), 'America/Los_Angeles')\n");
  lua_close(L);
  return 0;
}

TEST(format_elements) {
  lua_State *L = newstate("UTC");
  run(L,
      "local u = time.utc\n"
      "local t = time.date(2006, 1, 2, 15, 4, 5, 123456789, time.fixed_zone('MST', -7 * 3600))\n"
      "eq(t:format(time.RFC3339), '2006-01-02T15:04:05-07:00')\n"
      "eq(t:format(time.RFC3339NANO), '2006-01-02T15:04:05.123456789-07:00')\n"
      "eq(t:format(time.ANSIC), 'Mon Jan  2 15:04:05 2006')\n"
      "eq(t:format(time.UNIX_DATE), 'Mon Jan  2 15:04:05 MST 2006')\n"
      "eq(t:format(time.RFC850), 'Monday, 02-Jan-06 15:04:05 MST')\n"
      "eq(t:format(time.LAYOUT), \"01/02 03:04:05PM '06 -0700\")\n"
      "eq(t:format('.000 .999 ,000 ,999 .0 .9'), '.123 .123 ,123 ,123 .1 .1')\n"
      "eq(t:format('05.000000000000'), '05.123456789')\n"
      "eq(t:format('05.00x'), '05.12x')\n"
      "eq(t:format('05.001'), '05.001')\n" /* a digit after the run: literal */
      "eq(t:format('.0001'), '.0001')\n"
      "eq(t:format('Z07:00 Z0700 Z07 Z070000 Z07:00:00'), '-07:00 -0700 -07 -070000 -07:00:00')\n"
      "eq(t:format('-07:00 -0700 -07 -070000 -07:00:00'), '-07:00 -0700 -07 -070000 -07:00:00')\n"
      "local z = time.date(2006, 1, 2, 3, 4, 5, 0, u)\n"
      "eq(z:format('Z07:00|Z0700|Z07|Z070000|Z07:00:00'), 'Z|Z|Z|Z|Z')\n"
      "eq(z:format('-07:00|-0700|-07|MST'), '+00:00|+0000|+00|UTC')\n"
      "eq(z:format('3:04:05 pm PM 03'), '3:04:05 am AM 03')\n"
      "eq(time.date(2006, 1, 2, 0, 4, 5, 0, u):format('3 03 PM'), '12 12 AM')\n"
      "eq(time.date(2006, 1, 2, 12, 4, 5, 0, u):format('3 03 PM'), '12 12 PM')\n"
      "eq(z:format('.999|.000|,999'), '|.000|')\n"
      "eq(time.date(2006, 1, 2, 3, 4, 5, 100000000, u):format('.999|,999999'), '.1|,1')\n"
      "local odd = time.fixed_zone('', -(9 * 3600 + 30 * 60 + 15))\n"
      "local o = time.date(2006, 1, 2, 3, 4, 5, 0, odd)\n"
      "eq(o:format('MST|Z070000|-07:00:00|-07'), '-0930|-093015|-09:30:15|-09')\n"
      "eq(tostring(o), '2006-01-02 03:04:05 -0930 -0930')\n"
      "eq(o:location():string(), '')\n"
      "eq(tostring(time.date(2024, 1, 1, 0, 0, 0, 0, time.fixed_zone('', 3600))),\n"
      "   '2024-01-01 00:00:00 +0100 +0100')\n"
      "eq(z:format('_2006 __2 002'), '_2006   2 002')\n"
      "eq(time.date(2024, 12, 31, 0, 0, 0, 0, u):format('__2 002 _2'), '366 366 31')\n"
      "eq(z:format(''), '')\n"
      "eq(z:format('no elements here'), 'no elements here')\n"
      "eq(z:format('Mond Monday Mon'), 'Mond Monday Mon')\n"
      "eq(z:format('a\\0b 2006'), 'a\\0b 2006')\n"
      "local ok, err = pcall(z.format, z)\n"
      "assert(not ok and err:find('bad argument #2'), err)\n");
  lua_close(L);
  return 0;
}

TEST(parse_round_trip_layouts) {
  lua_State *L = newstate("UTC");
  run(L,
      "local names = {'LAYOUT', 'ANSIC', 'UNIX_DATE', 'RUBY_DATE', 'RFC822', 'RFC822Z', 'RFC850',\n"
      "  'RFC1123', 'RFC1123Z', 'RFC3339', 'RFC3339NANO', 'KITCHEN', 'STAMP', 'STAMP_MILLI',\n"
      "  'STAMP_MICRO', 'STAMP_NANO', 'DATE_TIME', 'DATE_ONLY', 'TIME_ONLY'}\n"
      "local zones = {time.utc, time.fixed_zone('CET', 3600), time.fixed_zone('', -5 * 3600 - 1800)}\n"
      "for _, z in ipairs(zones) do\n"
      "  local t = time.date(2023, 7, 9, 16, 5, 7, 123456789, z)\n"
      "  for _, n in ipairs(names) do\n"
      "    local layout = time[n]\n"
      "    if z:string() ~= '' or not layout:find('MST') then\n"
      "    local s = t:format(layout)\n"
      "    local p, err = time.parse(layout, s)\n"
      "    assert(p, n .. ': ' .. tostring(err))\n"
      "    eq(p:format(layout), s, n)\n"
      "    end\n"
      "  end\n"
      "end\n"
      /* full-precision layouts give back the same instant */
      "local t = time.date(2023, 7, 9, 16, 5, 7, 123456789, time.fixed_zone('', 7200))\n"
      "local p = time.parse(time.RFC3339NANO, t:format(time.RFC3339NANO))\n"
      "eq(p:equal(t), true) eq(tostring(p), '2023-07-09 16:05:07.123456789 +0200 +0200')\n"
      "p = time.parse(time.RFC1123Z, t:format(time.RFC1123Z))\n"
      "eq(p:unix(), t:unix())\n"
      "p = time.parse(time.RFC3339, '2023-07-09T14:05:07Z')\n"
      "eq(p:location():string(), 'UTC') eq(p:unix(), t:unix())\n");
  lua_close(L);
  return 0;
}

TEST(parse_values) {
  lua_State *L = newstate("UTC");
  run(L,
      "local function s(t) return tostring(t) end\n"
      "eq(s(time.parse(time.RFC3339, '2024-06-01T12:00:00+02:00')), '2024-06-01 12:00:00 +0200 +0200')\n"
      "eq(s(time.parse(time.RFC3339, '2024-06-01T12:00:00+02:00'):utc()), '2024-06-01 10:00:00 +0000 UTC')\n"
      /* offset 0 matches the local zone (UTC here): Local */
      "eq(time.parse(time.RFC3339, '2024-06-01T12:00:00+00:00'):location():string(), 'UTC')\n"
      "eq(s(time.parse(time.RFC3339, '2024-06-01T12:00:00.5Z')), '2024-06-01 12:00:00.5 +0000 UTC')\n"
      "eq(s(time.parse(time.RFC3339, '2024-06-01T12:00:00,25Z')), '2024-06-01 12:00:00.25 +0000 UTC')\n"
      "eq(s(time.parse(time.DATE_ONLY, '2024-02-29')), '2024-02-29 00:00:00 +0000 UTC')\n"
      "eq(s(time.parse(time.TIME_ONLY, '10:11:12')), '0000-01-01 10:11:12 +0000 UTC')\n"
      "eq(s(time.parse(time.KITCHEN, '12:05AM')), '0000-01-01 00:05:00 +0000 UTC')\n"
      "eq(s(time.parse(time.KITCHEN, '12:05PM')), '0000-01-01 12:05:00 +0000 UTC')\n"
      "eq(s(time.parse(time.KITCHEN, '1:05PM')), '0000-01-01 13:05:00 +0000 UTC')\n"
      "eq(s(time.parse('06-01-02', '69-01-02')), '1969-01-02 00:00:00 +0000 UTC')\n"
      "eq(s(time.parse('06-01-02', '68-01-02')), '2068-01-02 00:00:00 +0000 UTC')\n"
      "eq(s(time.parse('Jan 2 2006', 'feb 3 2010')), '2010-02-03 00:00:00 +0000 UTC')\n"
      "eq(s(time.parse('January _2 2006', 'MARCH  7 2010')), '2010-03-07 00:00:00 +0000 UTC')\n"
      "eq(s(time.parse('2006 002', '2024 060')), '2024-02-29 00:00:00 +0000 UTC')\n"
      "eq(s(time.parse('2006 __2', '2023  60')), '2023-03-01 00:00:00 +0000 UTC')\n"
      "eq(s(time.parse('Jan _2 002 2006', 'Feb  3 034 2006')), '2006-02-03 00:00:00 +0000 UTC')\n"
      "eq(s(time.parse(time.ANSIC, 'Thu Feb  4 21:00:57.0123 2010')), '2010-02-04 21:00:57.0123 +0000 UTC')\n"
      "eq(s(time.parse('15:04:05.999', '01:02:03')), '0000-01-01 01:02:03 +0000 UTC')\n"
      "eq(s(time.parse('15:04:05.999', '01:02:03.12345678912')), '0000-01-01 01:02:03.123456789 +0000 UTC')\n"
      "eq(s(time.parse('2006-01-02  15:04', '2024-01-02 15:04')), '2024-01-02 15:04:00 +0000 UTC')\n"
      "eq(s(time.parse('2006-01-02 -07', '2024-01-02 -08')), '2024-01-02 00:00:00 -0800 -0800')\n"
      "eq(s(time.parse('2006-01-02 -070000', '2024-01-02 +013015')), '2024-01-02 00:00:00 +0130 +0130')\n"
      "eq(time.parse('2006-01-02 -070000', '2024-01-02 +013015'):utc():format('15:04:05'), '22:29:45')\n"
      "eq(s(time.parse('2006-01-02 Z07:00:00', '2024-01-02 Z')), '2024-01-02 00:00:00 +0000 UTC')\n"
      /* zone abbreviations unknown to the local zone: offset 0 (Go) */
      "local p = time.parse(time.RFC1123, 'Thu, 04 Feb 2010 21:00:57 PST')\n"
      "eq(s(p), '2010-02-04 21:00:57 +0000 PST') eq(p:location():string(), 'PST')\n"
      "eq(s(time.parse(time.RFC1123, 'Thu, 04 Feb 2010 21:00:57 UTC')), '2010-02-04 21:00:57 +0000 UTC')\n"
      "p = time.parse('2006-01-02 15:04 MST', '2024-01-02 15:04 GMT+3')\n"
      "eq(p:format('15:04 -07:00 MST'), '18:04 +03:00 GMT+3')\n"
      "eq(time.parse('MST', 'ChST'):location():string(), 'ChST')\n"
      "eq(time.parse('MST', 'AEST'):location():string(), 'AEST')\n"
      "eq(time.parse('MST', 'WITA'):location():string(), 'WITA')\n"
      "eq(time.parse('MST', '+07'):location():string(), '+07')\n"
      /* parse in a location */
      "local fz = time.fixed_zone('FZ', 3600)\n"
      "p = time.parse(time.DATE_TIME, '2024-01-02 03:04:05', fz)\n"
      "eq(s(p), '2024-01-02 03:04:05 +0100 FZ') eq(p:location():string(), 'FZ')\n"
      "p = time.parse(time.RFC3339, '2024-01-02T03:04:05+01:00', fz)\n"
      "eq(p:location():string(), 'FZ')\n"
      "p = time.parse(time.RFC3339, '2024-01-02T03:04:05+02:00', fz)\n"
      "eq(p:location():string(), '')\n"
      "eq(s(time.parse(time.DATE_TIME, '2024-01-02 03:04:05', nil)), '2024-01-02 03:04:05 +0000 UTC')\n");
  lua_close(L);
  return 0;
}

/* Go's parseErrorTests. */
TEST(parse_errors) {
  lua_State *L = newstate("UTC");
  run(L,
      "local function perr(layout, value, want)\n"
      "  local t, err = time.parse(layout, value)\n"
      "  assert(t == nil, 'expected an error for ' .. value)\n"
      "  eq(err:kind(), 'Invalid')\n"
      "  local msg = err:message()\n"
      "  assert(msg:find(want, 1, true), string.format('%q does not contain %q', msg, want))\n"
      "end\n"
      "perr(time.ANSIC, 'Feb  4 21:00:60 2010', 'cannot parse \"Feb  4 21:00:60 2010\" as \"Mon\"')\n"
      "perr(time.ANSIC, 'Thu Feb  4 21:00:57 @2010', 'cannot parse \"@2010\" as \"2006\"')\n"
      "perr(time.ANSIC, 'Thu Feb  4 21:00:60 2010', 'second out of range')\n"
      "perr(time.ANSIC, 'Thu Feb  4 21:61:57 2010', 'minute out of range')\n"
      "perr(time.ANSIC, 'Thu Feb  4 24:00:60 2010', 'hour out of range')\n"
      "perr('Mon Jan _2 15:04:05.000 2006', 'Thu Feb  4 23:00:59x01 2010', 'cannot parse \"x01 2010\" as \".000\"')\n"
      "perr('Mon Jan _2 15:04:05.000 2006', 'Thu Feb  4 23:00:59.xxx 2010', 'cannot parse \".xxx 2010\" as \".000\"')\n"
      "perr('Mon Jan _2 15:04:05.000 2006', 'Thu Feb  4 23:00:59.-123 2010', 'fractional second out of range')\n"
      "perr(time.STAMP_NANO, 'Dec  7 11:22:01.000000', 'cannot parse \".000000\" as \".000000000\"')\n"
      "perr(time.STAMP_NANO, 'Dec  7 11:22:01.0000000000', 'extra text: \"0\"')\n"
      "perr(time.RFC3339, '2006-01-02T15:04:05Z07:00', 'parsing time \"2006-01-02T15:04:05Z07:00\": extra text: \"07:00\"')\n"
      "perr(time.RFC3339, '2006-01-02T15:04_abc', 'parsing time \"2006-01-02T15:04_abc\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"_abc\" as \":\"')\n"
      "perr(time.RFC3339, '2006-01-02T15:04:05_abc', 'parsing time \"2006-01-02T15:04:05_abc\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"_abc\" as \"Z07:00\"')\n"
      "perr(time.RFC3339, '2006-01-02T15:04:05Z_abc', 'parsing time \"2006-01-02T15:04:05Z_abc\": extra text: \"_abc\"')\n"
      "perr(time.RFC3339, '2010-02-04T21:00:67.012345678-08:00', 'second out of range')\n"
      "perr(time.RFC3339, '0000-01-01T00:00:.0+00:00', 'parsing time \"0000-01-01T00:00:.0+00:00\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \".0+00:00\" as \"05\"')\n"
      "perr('_2 Jan 06 15:04 MST', '4 --- 00 00:00 GMT', 'cannot parse \"--- 00 00:00 GMT\" as \"Jan\"')\n"
      "perr('_2 January 06 15:04 MST', '4 --- 00 00:00 GMT', 'cannot parse \"--- 00 00:00 GMT\" as \"January\"')\n"
      "perr('Jan _2 002 2006', 'Feb  4 034 2006', 'day-of-year does not match day')\n"
      "perr('Jan _2 002 2006', 'Feb  4 004 2006', 'day-of-year does not match month')\n"
      "perr('\"2006-01-02T15:04:05Z07:00\"', '0', 'parsing time \"0\" as \"\\\\\"2006-01-02T15:04:05Z07:00\\\\\"\": cannot parse \"0\" as \"\\\\\"\"')\n"
      "perr(time.RFC3339, '\"', 'parsing time \"\\\\\"\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"\\\\\"\" as \"2006\"')\n"
      "perr(time.RFC3339, '0000-01-01T00:00:00+00:+0', 'cannot parse \"+00:+0\" as \"Z07:00\"')\n"
      "perr(time.RFC3339, '0000-01-01T00:00:00+-0:00', 'cannot parse \"+-0:00\" as \"Z07:00\"')\n"
      "perr('2006-01-02', '22-10-25', 'parsing time \"22-10-25\" as \"2006-01-02\": cannot parse \"22-10-25\" as \"2006\"')\n"
      "perr('06-01-02', 'a2-10-25', 'parsing time \"a2-10-25\" as \"06-01-02\": cannot parse \"a2-10-25\" as \"06\"')\n"
      "perr('03:04PM', '12:03pM', 'parsing time \"12:03pM\" as \"03:04PM\": cannot parse \"pM\" as \"PM\"')\n"
      "perr('03:04pm', '12:03pM', 'parsing time \"12:03pM\" as \"03:04pm\": cannot parse \"pM\" as \"pm\"')\n"
      "perr(time.DATE_ONLY, '2023-02-29', 'parsing time \"2023-02-29\": day out of range')\n"
      "perr(time.DATE_ONLY, '2023-13-01', 'parsing time \"2023-13-01\": month out of range')\n"
      "perr(time.DATE_ONLY, '2023-00-01', 'month out of range')\n"
      "perr('2006 002', '2023 366', 'day-of-year out of range')\n"
      "perr('2006 002', '2023 000', 'day-of-year out of range')\n"
      "perr(time.RFC3339, '2024-01-01T00:00:00+25:00', 'time zone offset hour out of range')\n"
      "perr(time.DATE_ONLY, '', 'cannot parse \"\" as \"2006\"')\n"
      "perr(time.DATE_ONLY, '2024-01-01\\1\\128', 'extra text: \"\\\\x01\\\\x80\"')\n"
      "perr('MST', 'ABCDEF', 'cannot parse \"ABCDEF\" as \"MST\"')\n"
      "local ok, err = pcall(time.parse, time.RFC3339)\n"
      "assert(not ok and err:find('bad argument #2'), err)\n"
      "ok, err = pcall(time.parse, time.RFC3339, 'x', 'UTC')\n"
      "assert(not ok and err:find('bad argument #3'), err)\n");
  lua_close(L);
  return 0;
}

TEST(durations) {
  lua_State *L = newstate("UTC");
  run(L,
      "local d = time.parse_duration('1h30m')\n"
      "eq(tostring(d), '1h30m0s') eq(d:hours(), 1.5) eq(d:minutes(), 90.0) eq(d:seconds(), 5400.0)\n"
      "eq(math.type(d:hours()), 'float') eq(d:milliseconds(), 5400000)\n"
      "eq(math.type(d:milliseconds()), 'integer')\n"
      "eq(d:microseconds(), 5400000000) eq(d:nanoseconds(), 5400000000000)\n"
      "local n = time.parse_duration('-1.5ms')\n"
      "eq(n:milliseconds(), -1) eq(n:microseconds(), -1500) eq(n:seconds(), -0.0015)\n"
      "eq(tostring(time.parse_duration(1500)), '1.5µs')\n"
      "eq(tostring(time.parse_duration(2.9)), '2ns') eq(tostring(time.parse_duration(-2.9)), '-2ns')\n"
      "eq(tostring(time.parse_duration(0)), '0s')\n"
      "eq(time.parse_duration(d), d)\n"
      "eq(time.parse_duration('1s') == time.parse_duration(1000000000), true)\n"
      "eq(time.parse_duration('1s') == time.parse_duration('2s'), false)\n"
      "eq(time.parse_duration('1s') < time.parse_duration('2s'), true)\n"
      "eq(time.parse_duration('2s') <= time.parse_duration('2s'), true)\n"
      "eq(time.parse_duration('3s') <= time.parse_duration('2s'), false)\n"
      "eq(d == time.unix(0, 0), false)\n"
      "eq('took ' .. d, 'took 1h30m0s') eq(d .. '!', '1h30m0s!')\n"
      "eq('at ' .. time.unix(0, 0):utc(), 'at 1970-01-01 00:00:00 +0000 UTC')\n"
      "eq(time.parse_duration('9223372036854775807ns'):nanoseconds(), math.maxinteger)\n"
      "eq(time.parse_duration(2 ^ 62):nanoseconds(), 4611686018427387904)\n"
      "local function bad(v, want)\n"
      "  local r, err = time.parse_duration(v)\n"
      "  eq(r, nil) eq(err:kind(), 'Invalid')\n"
      "  assert(err:message():find(want, 1, true), err:message())\n"
      "end\n"
      "bad('5', 'time: missing unit in duration \"5\"')\n"
      "bad('5sec', 'unknown unit') bad('', 'invalid duration') bad('1d', 'unknown unit')\n"
      "bad('10000000h', '\"10000000h\"')\n"
      "bad(2 ^ 63, 'out of range') bad(0 / 0, 'out of range') bad(math.huge, 'out of range')\n"
      "bad({}, 'expected a number') bad(true, 'expected a number') bad(nil, 'expected a number')\n"
      "bad(time.unix(0, 0), 'expected a number')\n"
      "local ok, err = pcall(d.seconds, 5)\n"
      "assert(not ok and err:find('wippy.duration expected'), err)\n");
  lua_close(L);
  return 0;
}

/* wp_time_arg and wp_duration_push/wp_time_push from C. */
TEST(c_api) {
  lua_State *L = newstate("UTC");
  int64_t ns = 7;
  const char *err = NULL;
  lua_pushinteger(L, 42);
  ASSERT_EQ(wp_time_arg(L, -1, &ns, &err), 0);
  ASSERT_EQ(ns, 42);
  lua_pushnumber(L, -1.9);
  ASSERT_EQ(wp_time_arg(L, -1, &ns, &err), 0);
  ASSERT_EQ(ns, -1);
  lua_pushstring(L, "1m30s");
  ASSERT_EQ(wp_time_arg(L, -1, &ns, &err), 0);
  ASSERT_EQ(ns, INT64_C(90000000000));
  wp_duration_push(L, 123);
  ASSERT_EQ(wp_time_arg(L, -1, &ns, &err), 0);
  ASSERT_EQ(ns, 123);
  lua_newtable(L);
  ns = 7;
  ASSERT_EQ(wp_time_arg(L, -1, &ns, &err), -1);
  ASSERT(err != NULL);
  ASSERT_EQ(ns, 7);
  lua_pushstring(L, "nope");
  ASSERT_EQ(wp_time_arg(L, -1, &ns, &err), -1);
  ASSERT(err != NULL);
  ASSERT_EQ(wp_time_arg(L, 100, &ns, &err), -1); /* none */
  lua_pushnumber(L, 1e19);
  ASSERT_EQ(wp_time_arg(L, -1, &ns, &err), -1);
  lua_settop(L, 0);
  wp_time_push(L, INT64_C(-1500000000)); /* -1.5 s */
  lua_setglobal(L, "t");
  wp_time_push(L, INT64_C(1700000000123456789));
  lua_setglobal(L, "u");
  run(L,
      "eq(t:unix(), -2) eq(t:nanosecond(), 500000000)\n"
      "eq(tostring(t), '1969-12-31 23:59:58.5 +0000 UTC')\n"
      "eq(u:unix_nano(), 1700000000123456789)\n"
      "eq(u:format_rfc3339(), '2023-11-14T22:13:20Z')\n");
  lua_close(L);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Zones                                                                   */
/* ---------------------------------------------------------------------- */

TEST(locations) {
  lua_State *L = newstate("UTC");
  run(L,
      "local function bad(name, kind, want)\n"
      "  local l, err = time.load_location(name)\n"
      "  eq(l, nil, name) eq(err:kind(), kind, name)\n"
      "  assert(err:message():find(want, 1, true), err:message())\n"
      "end\n"
      "bad('', 'Invalid', 'empty')\n"
      "bad('Does/Not_Exist', 'NotFound', 'unknown time zone Does/Not_Exist')\n"
      "bad('../../etc/passwd', 'Invalid', 'invalid location name')\n"
      "bad('/etc/localtime', 'Invalid', 'invalid location name')\n"
      "bad('a\\0b', 'Invalid', 'invalid location name')\n"
      "eq(time.load_location('UTC'):string(), 'UTC')\n"
      "eq(time.load_location('Local'):string(), 'UTC')\n"
      "local ok, err = pcall(time.load_location)\n"
      "assert(not ok and err:find('bad argument #1'), err)\n"
      "local f = time.fixed_zone('X', -3600)\n"
      "eq(f:string(), 'X') eq(tostring(f), 'X')\n"
      "eq(f == time.fixed_zone('X', -3600), true) eq(f == time.fixed_zone('X', 0), false)\n"
      "eq(time.utc == time.load_location('UTC'), true)\n"
      "ok, err = pcall(time.fixed_zone, 'X', 'y')\n"
      "assert(not ok and err:find('bad argument #2'), err)\n"
      "ok, err = pcall(time.fixed_zone, 'X', 10^9)\n"
      "assert(not ok, err)\n"
      "local t = time.unix(0, 0)\n"
      "ok, err = pcall(t.in_location, t, 'UTC')\n"
      "assert(not ok and err:find('wippy.location expected'), err)\n"
      /* a Time keeps its fixed zone alive */
      "local kept = time.unix(3600, 0):in_location(time.fixed_zone('KEEP', 7200))\n"
      "collectgarbage() collectgarbage()\n"
      "eq(tostring(kept), '1970-01-01 03:00:00 +0200 KEEP')\n"
      "eq(kept:location():string(), 'KEEP')\n"
      "local l1 = kept:location() eq(rawequal(l1, kept:location()), true)\n"
      "eq(tostring(kept:utc()), '1970-01-01 01:00:00 +0000 UTC')\n"
      "eq(tostring(kept:in_local()), '1970-01-01 01:00:00 +0000 UTC')\n");
  lua_close(L);
  return 0;
}

TEST(new_york_dst) {
  lua_State *L = newstate("UTC");
  run(L,
      "local ny = zone('America/New_York') if not ny then return end\n"
      "eq(ny:string(), 'America/New_York')\n"
      "local function s(t) return tostring(t) end\n"
      "eq(s(time.unix(1710053999, 0):in_location(ny)), '2024-03-10 01:59:59 -0500 EST')\n"
      "eq(s(time.unix(1710054000, 0):in_location(ny)), '2024-03-10 03:00:00 -0400 EDT')\n"
      "eq(s(time.unix(1730611800, 0):in_location(ny)), '2024-11-03 01:30:00 -0400 EDT')\n"
      "eq(s(time.unix(1730615400, 0):in_location(ny)), '2024-11-03 01:30:00 -0500 EST')\n"
      "local a = time.date(2024, 3, 10, 1, 59, 59, 0, ny)\n"
      "eq(a:unix(), 1710053999) eq(s(a:add('1s')), '2024-03-10 03:00:00 -0400 EDT')\n"
      "eq(s(time.date(2024, 3, 10, 2, 30, 0, 0, ny)), '2024-03-10 01:30:00 -0500 EST')\n"
      "local b = time.date(2024, 11, 3, 1, 30, 0, 0, ny)\n"
      "eq(s(b), '2024-11-03 01:30:00 -0400 EDT') eq(s(b:add(time.HOUR)), '2024-11-03 01:30:00 -0500 EST')\n"
      /* a day across DST is 23 hours long; add_date keeps the wall clock */
      "local c = time.date(2024, 3, 9, 12, 0, 0, 0, ny)\n"
      "eq(tostring(c:add_date(0, 0, 1):sub(c)), '23h0m0s')\n"
      "eq(s(c:add_date(0, 0, 1)), '2024-03-10 12:00:00 -0400 EDT')\n"
      "eq(c:format(time.RFC3339), '2024-03-09T12:00:00-05:00')\n"
      "eq(c:location():string(), 'America/New_York')\n"
      /* past the table: the footer rule */
      "eq(s(time.date(2100, 7, 1, 12, 0, 0, 0, ny)), '2100-07-01 12:00:00 -0400 EDT')\n"
      "eq(time.date(2100, 7, 1, 12, 0, 0, 0, ny):unix(), 4118140800)\n"
      "eq(s(time.date(2100, 12, 1, 12, 0, 0, 0, ny)), '2100-12-01 12:00:00 -0500 EST')\n"
      "eq(s(time.date(2100, 3, 14, 2, 30, 0, 0, ny)), '2100-03-14 01:30:00 -0500 EST')\n"
      "eq(s(time.date(2100, 3, 14, 3, 0, 0, 0, ny)), '2100-03-14 03:00:00 -0400 EDT')\n"
      /* before the table: local mean time */
      "eq(s(time.date(1800, 1, 1, 0, 0, 0, 0, ny)), '1800-01-01 00:00:00 -0456 LMT')\n"
      /* parsing in a zone */
      "local p = time.parse(time.DATE_TIME, '2024-07-04 12:00:00', ny)\n"
      "eq(s(p), '2024-07-04 12:00:00 -0400 EDT') eq(p:location():string(), 'America/New_York')\n"
      "p = time.parse('2006-01-02 15:04 MST', '2024-01-15 10:00 EST', ny)\n"
      "eq(s(p), '2024-01-15 10:00:00 -0500 EST')\n"
      "p = time.parse('2006-01-02 15:04 MST', '2024-01-15 10:00 EDT', ny)\n"
      "eq(p:utc():format('15:04'), '14:00')\n"
      "p = time.parse(time.RFC3339, '2024-07-04T12:00:00-04:00', ny)\n"
      "eq(p:location():string(), 'America/New_York')\n"
      "eq(time.load_location('America/New_York') == ny, true)\n");
  lua_close(L);
  return 0;
}

TEST(southern_and_half_hour_zones) {
  lua_State *L = newstate("UTC");
  run(L,
      "local sy = zone('Australia/Sydney') if not sy then return end\n"
      "local function off(t) return t:format('-0700 MST') end\n"
      "eq(off(time.date(2024, 1, 15, 12, 0, 0, 0, sy)), '+1100 AEDT')\n"
      "eq(off(time.date(2024, 7, 15, 12, 0, 0, 0, sy)), '+1000 AEST')\n"
      "eq(off(time.date(2100, 1, 15, 12, 0, 0, 0, sy)), '+1100 AEDT')\n"
      "eq(off(time.date(2100, 7, 15, 12, 0, 0, 0, sy)), '+1000 AEST')\n"
      "eq(off(time.date(2100, 12, 15, 12, 0, 0, 0, sy)), '+1100 AEDT')\n"
      "local k = zone('Asia/Kolkata') if not k then return end\n"
      "eq(tostring(time.unix(0, 0):in_location(k)), '1970-01-01 05:30:00 +0530 IST')\n"
      "eq(time.date(2030, 1, 1, 0, 0, 0, 0, k):format(time.RFC3339), '2030-01-01T00:00:00+05:30')\n");
  lua_close(L);
  return 0;
}

TEST(local_zone_from_tz) {
  lua_State *L = newstate("America/New_York");
  run(L,
      "if not zone('America/New_York') then return end\n"
      "eq(time.localtz:string(), 'America/New_York')\n"
      "eq(tostring(time.unix(0, 0)), '1969-12-31 19:00:00 -0500 EST')\n"
      "eq(time.unix(0, 0):location():string(), 'America/New_York')\n"
      "eq(time.load_location('Local'):string(), 'America/New_York')\n"
      "eq(tostring(time.unix(0, 0):utc():in_local()), '1969-12-31 19:00:00 -0500 EST')\n"
      "eq(tostring(time.date(2024, 7, 1)), '2024-07-01 00:00:00 -0400 EDT')\n"
      "eq(time.now():location():string(), 'America/New_York')\n"
      /* parse: a matching offset or abbreviation resolves to Local */
      "local p = time.parse(time.RFC3339, '2024-07-01T00:00:00-04:00')\n"
      "eq(p:location():string(), 'America/New_York')\n"
      "p = time.parse(time.RFC1123, 'Mon, 01 Jul 2024 00:00:00 EDT')\n"
      "eq(tostring(p), '2024-07-01 00:00:00 -0400 EDT')\n"
      "p = time.parse(time.RFC1123, 'Mon, 01 Jul 2024 00:00:00 PDT')\n"
      "eq(tostring(p), '2024-07-01 00:00:00 +0000 PDT')\n"
      "p = time.parse(time.DATE_TIME, '2024-07-01 00:00:00')\n"
      "eq(tostring(p), '2024-07-01 00:00:00 +0000 UTC')\n");
  lua_close(L);
  return 0;
}

TEST(local_zone_fallbacks) {
  lua_State *L = newstate("Nope/Not_A_Zone");
  run(L, "eq(time.localtz:string(), 'UTC') eq(tostring(time.unix(0, 0)), '1970-01-01 00:00:00 +0000 UTC')\n");
  lua_close(L);
  return 0;
}

TEST(local_zone_empty_tz) {
  lua_State *L = newstate("");
  run(L, "eq(time.localtz:string(), 'UTC')\n");
  lua_close(L);
  return 0;
}

TEST(local_zone_unset_tz) {
  lua_State *L = newstate(NULL);
  run(L,
      "local n = time.localtz:string()\n"
      "assert(n == 'Local' or n == 'UTC', n)\n"
      "eq(time.unix(0, 0):location():string(), n)\n");
  lua_close(L);
  return 0;
}

/* ---- synthetic TZif files in a temporary $ZONEINFO ---- */

static char zdir[64];

static void put32(FILE *f, uint32_t v) {
  uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
  fwrite(b, 1, 4, f);
}

static void put64(FILE *f, int64_t v) {
  put32(f, (uint32_t)((uint64_t)v >> 32));
  put32(f, (uint32_t)v);
}

struct ztype {
  int32_t off;
  int dst;
  int abbr;
};

/* Header plus data block; times are 4 or 8 bytes. */
static void put_block(FILE *f, int version, int tsize, int ntx, const int64_t *when,
                      const uint8_t *idx, int nt, const struct ztype *types, const char *chars,
                      int nch) {
  fwrite("TZif", 1, 4, f);
  fputc(version, f);
  for (int i = 0; i < 15; i++) fputc(0, f);
  put32(f, 0); /* isutcnt */
  put32(f, 0); /* isstdcnt */
  put32(f, 0); /* leapcnt */
  put32(f, (uint32_t)ntx);
  put32(f, (uint32_t)nt);
  put32(f, (uint32_t)nch);
  for (int i = 0; i < ntx; i++) {
    if (tsize == 8)
      put64(f, when[i]);
    else
      put32(f, (uint32_t)(int32_t)when[i]);
  }
  if (ntx > 0) fwrite(idx, 1, (size_t)ntx, f);
  for (int i = 0; i < nt; i++) {
    put32(f, (uint32_t)types[i].off);
    fputc(types[i].dst, f);
    fputc(types[i].abbr, f);
  }
  fwrite(chars, 1, (size_t)nch, f);
}

static FILE *zfile(const char *name) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", zdir, name);
  FILE *f = fopen(path, "wb");
  ASSERT(f != NULL);
  return f;
}

static void make_zones(void) {
  strcpy(zdir, "/tmp/wippy_tzXXXXXX");
  ASSERT(mkdtemp(zdir) != NULL);
  char sub[128];
  snprintf(sub, sizeof sub, "%s/Test", zdir);
  ASSERT(mkdir(sub, 0700) == 0);
  setenv("ZONEINFO", zdir, 1);

  /* v1: XST +1 until 1970, XDT +2 during 1970, XST again after. */
  static const int64_t w1[] = {0, 365 * 86400};
  static const uint8_t i1[] = {1, 0};
  static const struct ztype t1[] = {{3600, 0, 0}, {7200, 1, 4}};
  FILE *f = zfile("Test/V1");
  put_block(f, 0, 4, 2, w1, i1, 2, t1, "XST\0XDT\0", 8);
  fclose(f);

  /* v2, no transitions, US rules in the footer only. */
  static const struct ztype t2[] = {{-18000, 0, 0}};
  f = zfile("Test/Footer");
  put_block(f, '2', 4, 0, NULL, NULL, 1, t2, "EST\0", 4);
  put_block(f, '2', 8, 0, NULL, NULL, 1, t2, "EST\0", 4);
  fputs("\nEST5EDT,M3.2.0,M11.1.0\n", f);
  fclose(f);

  /* v3: Julian and zero-based day rules with explicit times. */
  static const struct ztype t3[] = {{3600, 0, 0}};
  f = zfile("Test/Julian");
  put_block(f, '3', 4, 0, NULL, NULL, 1, t3, "AAA\0", 4);
  put_block(f, '3', 8, 0, NULL, NULL, 1, t3, "AAA\0", 4);
  fputs("\nAAA-1BBB,J60/0,300/25\n", f);
  fclose(f);

  /* v2 with a 64-bit transition before 1901 and a fixed footer "<-03>3". */
  static const int64_t w4[] = {INT64_C(-3000000000)};
  static const uint8_t i4[] = {1};
  static const struct ztype t4[] = {{-12345, 0, 0}, {-10800, 0, 4}};
  f = zfile("Test/Fixed");
  put_block(f, '2', 4, 0, NULL, NULL, 1, t4, "LMT\0-03\0", 8);
  put_block(f, '2', 8, 1, w4, i4, 2, t4, "LMT\0-03\0", 8);
  fputs("\n<-03>3\n", f);
  fclose(f);

  /* Malformed: bad magic, truncated data, transition to a missing type. */
  f = zfile("Test/BadMagic");
  fputs("TZiX and some more bytes to make it long enough for a header.......", f);
  fclose(f);
  f = zfile("Test/Truncated");
  put_block(f, 0, 4, 2, w1, i1, 2, t1, "XST\0XDT\0", 8);
  fclose(f);
  {
    char path[256];
    snprintf(path, sizeof path, "%s/Test/Truncated", zdir);
    ASSERT(truncate(path, 60) == 0);
  }
  static const uint8_t ibad[] = {5, 0};
  f = zfile("Test/BadIndex");
  put_block(f, 0, 4, 2, w1, ibad, 2, t1, "XST\0XDT\0", 8);
  fclose(f);
}

static void remove_zones(void) {
  static const char *const names[] = {"V1", "Footer", "Julian", "Fixed",
                                      "BadMagic", "Truncated", "BadIndex"};
  char path[256];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf(path, sizeof path, "%s/Test/%s", zdir, names[i]);
    unlink(path);
  }
  snprintf(path, sizeof path, "%s/Test", zdir);
  rmdir(path);
  rmdir(zdir);
}

TEST(tzif_synthetic) {
  make_zones();
  lua_State *L = newstate("UTC");
  if (luaL_dostring(L,
      "local function s(t) return tostring(t) end\n"
      "local v1 = assert(time.load_location('Test/V1'))\n"
      "eq(v1:string(), 'Test/V1')\n"
      "eq(s(time.unix(-10, 0):in_location(v1)), '1970-01-01 00:59:50 +0100 XST')\n"
      "eq(s(time.unix(0, 0):in_location(v1)), '1970-01-01 02:00:00 +0200 XDT')\n"
      "eq(s(time.unix(365 * 86400, 0):in_location(v1)), '1971-01-01 01:00:00 +0100 XST')\n"
      "eq(s(time.date(2050, 1, 1, 0, 0, 0, 0, v1)), '2050-01-01 00:00:00 +0100 XST')\n"
      "local ft = assert(time.load_location('Test/Footer'))\n"
      "eq(s(time.unix(1710053999, 0):in_location(ft)), '2024-03-10 01:59:59 -0500 EST')\n"
      "eq(s(time.unix(1710054000, 0):in_location(ft)), '2024-03-10 03:00:00 -0400 EDT')\n"
      "eq(s(time.unix(1730615400, 0):in_location(ft)), '2024-11-03 01:30:00 -0500 EST')\n"
      "eq(s(time.date(2024, 3, 10, 2, 30, 0, 0, ft)), '2024-03-10 01:30:00 -0500 EST')\n"
      "eq(s(time.date(1950, 7, 1, 0, 0, 0, 0, ft)), '1950-07-01 00:00:00 -0400 EDT')\n"
      "local j = assert(time.load_location('Test/Julian'))\n"
      "local function at(y, mo, d, h, mi, sec) return time.date(y, mo, d, h, mi, sec, 0, time.utc):in_location(j):format('-07 MST') end\n"
      "eq(at(2024, 2, 29, 22, 59, 59), '+01 AAA') eq(at(2024, 2, 29, 23, 0, 0), '+02 BBB')\n"
      "eq(at(2023, 2, 28, 23, 0, 0), '+02 BBB')\n"
      "eq(at(2024, 10, 27, 22, 59, 59), '+02 BBB') eq(at(2024, 10, 27, 23, 0, 0), '+01 AAA')\n"
      "eq(at(2023, 10, 28, 23, 0, 0), '+01 AAA') eq(at(2023, 10, 28, 22, 59, 0), '+02 BBB')\n"
      "local fx = assert(time.load_location('Test/Fixed'))\n"
      "eq(time.date(1800, 1, 1, 0, 0, 0, 0, fx):format('-07:00:00 MST'), '-03:25:45 LMT')\n"
      "eq(s(time.date(2024, 1, 1, 0, 0, 0, 0, fx)), '2024-01-01 00:00:00 -0300 -03')\n"
      "eq(s(time.date(2400, 1, 1, 0, 0, 0, 0, fx)), '2400-01-01 00:00:00 -0300 -03')\n"
      "for _, n in ipairs({'Test/BadMagic', 'Test/Truncated', 'Test/BadIndex'}) do\n"
      "  local l, err = time.load_location(n)\n"
      "  eq(l, nil, n) eq(err:kind(), 'NotFound')\n"
      "  assert(err:message():find('malformed'), err:message())\n"
      "end\n"
      "local l, err = time.load_location('Test')\n" /* a directory */
      "eq(l, nil) eq(err:kind(), 'NotFound')\n"
      "l, err = time.load_location('Test/Missing')\n"
      "eq(err:message(), 'unknown time zone Test/Missing')\n")) {
    const char *m = lua_tostring(L, -1);
    fprintf(stderr, "lua: %s\n", m);
    remove_zones();
    abort();
  }
  lua_close(L);
  remove_zones();
  return 0;
}

/* Extreme instants must not overflow anywhere (run under UBSan). */
TEST(extremes) {
  lua_State *L = newstate("UTC");
  run(L,
      "local big, small = time.unix(math.maxinteger, 0):utc(), time.unix(math.mininteger, 0):utc()\n"
      "eq(tostring(big), '292277026596-12-04 15:30:07 +0000 UTC')\n"
      "eq(tostring(small), '-292277022657-01-27 08:29:52 +0000 UTC')\n"
      "eq(big:sub(small):nanoseconds(), math.maxinteger)\n"
      "eq(small:sub(big):nanoseconds(), math.mininteger)\n"
      "eq(big:add(time.HOUR):unix(), math.maxinteger)\n"
      "eq(small:add(-time.HOUR):unix(), math.mininteger)\n"
      "local H = time.parse_duration('1h')\n"
      "big:round(H) big:truncate(H) small:round(H) small:truncate(H)\n"
      "big:round(time.parse_duration(math.maxinteger)) small:truncate(time.parse_duration(math.maxinteger))\n"
      "for _, t in ipairs({big, small}) do\n"
      "  for _, z in ipairs({time.fixed_zone('A', 86399), time.fixed_zone('B', -86399)}) do\n"
      "    local x = t:in_location(z) tostring(x) x:weekday() x:year_day() x:format(time.RFC3339)\n"
      "  end\n"
      "  assert(not pcall(t.add_date, t, 1, 0, 0) or true)\n"
      "end\n"
      "assert(not pcall(big.add_date, big, 1, 0, 0))\n"
      "assert(not pcall(small.add_date, small, -1, 0, 0))\n"
      "assert(not pcall(big.add_date, big, math.maxinteger, 0, 0))\n"
      "assert(not pcall(time.unix, math.maxinteger, 1000000000))\n"
      "assert(not pcall(time.unix, math.mininteger, -1))\n"
      "eq(time.unix(math.mininteger + 1, -1000000000):unix(), math.mininteger)\n"
      "eq(time.date(200000000000, 1, 1, 0, 0, 0, 0, time.utc):year(), 200000000000)\n"
      "eq(time.date(-200000000000, 1, 1, 0, 0, 0, 0, time.utc):year(), -200000000000)\n"
      "assert(not pcall(time.date, 200000000001, 1, 1, 0, 0, 0, 0, time.utc))\n"
      "assert(not pcall(time.date, 2024, math.mininteger, 1, 0, 0, 0, 0, time.utc))\n"
      "assert(not pcall(time.date, 2024, 1, math.maxinteger, 0, 0, 0, 0, time.utc))\n"
      "assert(not pcall(time.date, 2024, 1, 1, math.mininteger, 0, 0, 0, time.utc))\n"
      "eq(time.date(2024, 1, 1, 0, 0, 0, math.maxinteger, time.utc):year(), 2316)\n"
      "eq(time.date(2024, 1, 1, 0, 0, math.mininteger, 0, time.utc):year() < 0, true)\n");
  if (luaL_dostring(L,
                    "local ny = time.load_location('America/New_York') if not ny then return end\n"
                    "for _, t in ipairs({time.unix(math.maxinteger, 0), time.unix(math.mininteger, 0)}) do\n"
                    "  tostring(t:in_location(ny))\n"
                    "end\n"
                    "time.date(200000000000, 7, 1, 0, 0, 0, 0, ny)\n"
                    "time.date(-200000000000, 7, 1, 0, 0, 0, 0, ny)\n"))
    TEST_FAIL("lua: %s", lua_tostring(L, -1));
  lua_close(L);
  return 0;
}

TEST_LIST = {
    TEST_ENTRY(constants),
    TEST_ENTRY(unix_epoch_and_tostring),
    TEST_ENTRY(accessors),
    TEST_ENTRY(date_normalisation),
    TEST_ENTRY(add_date_and_add),
    TEST_ENTRY(sub_and_compare),
    TEST_ENTRY(round_truncate),
    TEST_ENTRY(format_go_vectors),
    TEST_ENTRY(format_elements),
    TEST_ENTRY(parse_round_trip_layouts),
    TEST_ENTRY(parse_values),
    TEST_ENTRY(parse_errors),
    TEST_ENTRY(durations),
    TEST_ENTRY(c_api),
    TEST_ENTRY(locations),
    TEST_ENTRY(new_york_dst),
    TEST_ENTRY(southern_and_half_hour_zones),
    TEST_ENTRY(local_zone_from_tz),
    TEST_ENTRY(local_zone_fallbacks),
    TEST_ENTRY(local_zone_empty_tz),
    TEST_ENTRY(local_zone_unset_tz),
    TEST_ENTRY(tzif_synthetic),
    TEST_ENTRY(extremes),
    TEST_END,
};
