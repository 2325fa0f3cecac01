/*
** test_node_equal.h: equality of YAML trees (app/yamltree.h) for the tests
** and the YAML fuzz target: same types, values (NaN equals NaN; 0.0 and
** -0.0 differ), strings byte for byte, items and keys in the same order.
** Lines are ignored; a missing child equals a null node.
*/
#ifndef WP_TEST_NODE_EQUAL_H
#define WP_TEST_NODE_EQUAL_H
#include <math.h>
#include <string.h>

#include "yamltree.h"

static inline int node_equal(const struct wp_node *a, const struct wp_node *b) {
  enum wp_node_type ta = a ? a->type : WP_NODE_NULL, tb = b ? b->type : WP_NODE_NULL;
  if (ta != tb) return 0;
  switch (ta) {
    case WP_NODE_NULL: return 1;
    case WP_NODE_BOOL: return a->u.b == b->u.b;
    case WP_NODE_INT: return a->u.i == b->u.i;
    case WP_NODE_FLOAT:
      return isnan(a->u.f) ? isnan(b->u.f)
                           : a->u.f == b->u.f && signbit(a->u.f) == signbit(b->u.f);
    case WP_NODE_STR:
      return a->u.str.len == b->u.str.len &&
             memcmp(a->u.str.s, b->u.str.s, a->u.str.len) == 0;
    case WP_NODE_SEQ:
      if (a->u.seq.n != b->u.seq.n) return 0;
      for (size_t i = 0; i < a->u.seq.n; i++)
        if (!node_equal(a->u.seq.items[i], b->u.seq.items[i])) return 0;
      return 1;
    case WP_NODE_MAP:
      if (a->u.map.n != b->u.map.n) return 0;
      for (size_t i = 0; i < a->u.map.n; i++)
        if (strcmp(a->u.map.keys[i], b->u.map.keys[i]) != 0 ||
            !node_equal(a->u.map.vals[i], b->u.map.vals[i]))
          return 0;
      return 1;
  }
  return 0;
}
#endif
