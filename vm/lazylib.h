/*
** lazylib.h: library tables that fill themselves on first use.
**
** A lazy table starts empty but for a marker; its (shared, per-state)
** metatable's __index looks a missing key up in a static description and
** stores what it finds with rawset. A process that calls only process.send
** and process.pid interns those two names and nothing else: building a
** library costs one table, whatever its size. Functions are light C
** functions (no allocation). `pairs` over a lazy table shows only what was
** used so far.
*/
#ifndef WP_LAZYLIB_H
#define WP_LAZYLIB_H

#include <lua.h>

enum { WP_LE_FUNC, WP_LE_INT, WP_LE_STR, WP_LE_NUM, WP_LE_SUB };

struct wp_libdef;

struct wp_libentry {
  const char *name;
  int kind;
  lua_CFunction fn;             /* WP_LE_FUNC */
  lua_Integer ival;             /* WP_LE_INT */
  const char *sval;             /* WP_LE_STR */
  double nval;                  /* WP_LE_NUM */
  const struct wp_libdef *sub;  /* WP_LE_SUB: a nested lazy table */
};

struct wp_libdef {
  const char *name;
  const struct wp_libentry *entries; /* ended by a NULL name */
  /* Optional: called once, with the table at index 1, when a name is not
  ** among the entries: fills the rest of the library eagerly. */
  void (*fill)(lua_State *L, int idx);
};

#define WP_LF(n, f) {n, WP_LE_FUNC, f, 0, NULL, 0, NULL}
#define WP_LI(n, v) {n, WP_LE_INT, NULL, v, NULL, 0, NULL}
#define WP_LS(n, v) {n, WP_LE_STR, NULL, 0, v, 0, NULL}
#define WP_LN(n, v) {n, WP_LE_NUM, NULL, 0, NULL, v, NULL}
#define WP_LSUB(n, d) {n, WP_LE_SUB, NULL, 0, NULL, 0, d}
#define WP_LEND {NULL, 0, NULL, 0, NULL, 0, NULL}

/* Pushes a new lazy table for def (borrowed; must be static). */
void wp_lazylib_push(lua_State *L, const struct wp_libdef *def);
/* Pushes the value of entry `name` of def, or returns 0 (nothing pushed). */
int wp_lazylib_entry(lua_State *L, const struct wp_libdef *def, const char *name);

/* Standard library functions captured once at boot from a scratch state
** (lua_tocfunction), so a process can materialise them one by one. */
int wp_stdlib_capture(void);
/* Libraries built from the captured functions (with Wippy's changes:
** UTF-8 upper/lower, error objects accepted as strings, coroutine.spawn, the
** os subset). */
extern const struct wp_libdef wp_lib_string, wp_lib_table, wp_lib_os, wp_lib_coroutine;
/* A base function by name (NULL if not a base function we expose). */
lua_CFunction wp_stdlib_base(const char *name);
/* Pushes a new string library table (lazy, callable as a cast). */
void wp_stdlib_push_string(lua_State *L);
/* Sets the string metatable for string values of L (arithmetic coercion and
** __index = the lazy string library). */
void wp_stdlib_string_mt(lua_State *L);

#endif
