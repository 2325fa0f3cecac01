/*
** timer.c: hierarchical timing wheel (see timer.h).
**
** DESIGN NOTE
**
** Tick. One tick is one millisecond of wp_clock_ms(). Deadlines are absolute
** ticks. The wheel never rounds: a caller that turns a duration into a deadline
** rounds it up (now + ceil(d / 1 ms)), so that a timer never fires early; it
** may fire up to one tick late, plus whatever delay the timer thread adds.
**
** Levels. The wheel has five levels of slots. Level 0 has 256 slots of one
** tick each. Levels 1 to 4 have 64 slots each, and a slot of level L covers
** 2^(8 + 6(L-1)) ticks: 256 ticks, 16 s, 17 min and 18 h. Together they cover
** 2^32 ticks (about 49.7 days). A timer is linked into the lowest level whose
** slot can hold both the current tick and its deadline: the highest bit in
** which `now` and `deadline` differ selects the level, and the deadline's
** digit at that level selects the slot. Hence every occupied slot lies
** strictly after the current tick's digit at its level, and a level-0 slot
** holds timers of exactly one deadline.
**
** Cascading. When the current tick enters a new slot of level L (all of its
** lower digits are zero), the timers of that slot are linked again from the
** current tick, which moves each of them to a lower level; those due at that
** very tick land in level 0 and fire at once. Deadlines beyond the top level
** (their bits above 32 differ from the current tick's) wait in a separate
** `far` list. The wheel remembers the least far deadline (a lower bound once
** that timer is cancelled) and re-links the far list in the same way when the
** current tick reaches the start of that deadline's 2^32-tick block; timers
** still too far stay there. Far timers are rare (about 50 days away), so a
** plain list is enough.
**
** Advancing. Each level keeps an occupancy bitmap (one bit per slot). Since
** occupied slots always lie ahead of the current tick, the lowest set bit of
** the lowest non-empty level is the next tick at which anything happens: a
** level-0 slot to fire or an outer slot to cascade. wp_wheel_advance jumps
** straight from one such tick to the next, so advancing 10 s over an idle
** wheel costs a handful of bit scans, not 10,000 iterations.
**
** Order. Lists are FIFO and cascading keeps their order, so timers with the
** same deadline fire in arming order: a timer armed later can only join a
** deadline's list after every earlier timer of that deadline has cascaded to
** the same level. Deadlines fire in increasing order because ticks are
** visited in increasing order.
**
** Past deadlines. A deadline <= the current tick goes to the `due` list,
** kept sorted by deadline (ties in arming order), which the next advance
** fires before anything else. A timer re-armed from a callback with such a
** deadline therefore fires on the next call, never in a loop inside this one.
**
** Cancellation. Lists are doubly linked around a sentinel, so cancelling is
** an O(1) unlink that clears the slot's bitmap bit when the slot empties. A
** timer is unlinked before its callback runs, so the callback may cancel,
** re-arm or free any timer, its own included (but must not call
** wp_wheel_advance or wp_wheel_free on the same wheel).
**
** Not done here: bounding the work per advance (ERTS's yield limit) is left
** to the caller, which may advance in smaller steps.
*/
#include "timer.h"

#include "alloc.h"

#define WHEEL_LEVELS 5
#define L0_BITS 8 /* level 0: 256 slots of one tick */
#define LN_BITS 6 /* levels 1..4: 64 slots each */
#define L0_SLOTS (1 << L0_BITS)
#define LN_SLOTS (1 << LN_BITS)
#define WHEEL_SLOTS (L0_SLOTS + (WHEEL_LEVELS - 1) * LN_SLOTS) /* 512 */
#define WHEEL_BITS (L0_BITS + (WHEEL_LEVELS - 1) * LN_BITS)   /* 32 */

/*
** Lists outside the wheel's slots, stored after them. Their timers carry
** level AUX_LEVEL; their `slot` field is not used by anything.
*/
enum {
  LIST_FAR = WHEEL_SLOTS, /* deadlines beyond the top level */
  LIST_DUE,               /* deadlines already reached, sorted */
  LIST_FIRING,            /* the `due` batch being fired by an advance */
  NLISTS
};
#define AUX_LEVEL WHEEL_LEVELS

/* First tick bit of each level's digit; shift[WHEEL_LEVELS] is the span. */
static const unsigned level_shift[WHEEL_LEVELS + 1] = {0, 8, 14, 20, 26, 32};
/* Index of each level's first slot in wheel->list. */
static const int level_base[WHEEL_LEVELS] = {0, 256, 320, 384, 448};

struct wp_wheel {
  uint64_t now;                      /* current tick: all ticks <= now done */
  uint64_t far_min;                  /* <= every deadline in the far list */
  size_t count;                      /* armed timers */
  uint64_t map[WHEEL_SLOTS / 64];    /* occupancy bit per slot */
  struct wp_timer list[NLISTS];      /* sentinel heads of circular lists */
};

/* {====================================================================
** Circular lists with a sentinel head
** ===================================================================== */

static void list_init(struct wp_timer *h) { h->next = h->prev = h; }

static int list_empty(const struct wp_timer *h) { return h->next == h; }

/* Links t after p. */
static void list_insert_after(struct wp_timer *p, struct wp_timer *t) {
  t->prev = p;
  t->next = p->next;
  p->next->prev = t;
  p->next = t;
}

static void list_unlink(struct wp_timer *t) {
  t->prev->next = t->next;
  t->next->prev = t->prev;
  t->next = t->prev = NULL;
}

/* Moves every node of list `from` to the tail of list `to`. */
static void list_splice(struct wp_timer *from, struct wp_timer *to) {
  if (list_empty(from)) return;
  struct wp_timer *first = from->next, *last = from->prev;
  first->prev = to->prev;
  to->prev->next = first;
  last->next = to;
  to->prev = last;
  list_init(from);
}

/* }==================================================================== */

/* {====================================================================
** Linking timers into slots
** ===================================================================== */

static void map_set(struct wp_wheel *w, int idx) {
  w->map[idx >> 6] |= UINT64_C(1) << (idx & 63);
}

static void map_clear(struct wp_wheel *w, int idx) {
  w->map[idx >> 6] &= ~(UINT64_C(1) << (idx & 63));
}

/* Appends t to list `idx` and records where it is. */
static void link_tail(struct wp_wheel *w, struct wp_timer *t, int level, int idx) {
  list_insert_after(w->list[idx].prev, t);
  t->level = level;
  t->slot = idx;
  if (idx < WHEEL_SLOTS) map_set(w, idx);
}

/*
** Links a timer whose deadline is >= now into the wheel (or the far list).
** The highest bit in which deadline and now differ picks the level: below
** bit 8 both share one level-0 turn; bits 8..13 mean level 1, and so on.
*/
static void link_wheel(struct wp_wheel *w, struct wp_timer *t) {
  uint64_t diff = t->deadline ^ w->now;
  int level = 0;
  if (diff >= L0_SLOTS) {
    int top = 63 - __builtin_clzll(diff);
    if (top >= WHEEL_BITS) { /* a bound left by cancelled timers may be stale */
      if (list_empty(&w->list[LIST_FAR]) || t->deadline < w->far_min)
        w->far_min = t->deadline;
      link_tail(w, t, AUX_LEVEL, LIST_FAR);
      return;
    }
    level = 1 + (top - L0_BITS) / LN_BITS;
  }
  uint64_t mask = level == 0 ? L0_SLOTS - 1 : LN_SLOTS - 1;
  int slot = (int)((t->deadline >> level_shift[level]) & mask);
  link_tail(w, t, level, level_base[level] + slot);
}

/*
** Links a timer whose deadline has passed into the `due` list, after every
** timer with a deadline <= its own (scanning from the tail: callers almost
** always pass the current tick, so this is O(1) in practice).
*/
static void link_due(struct wp_wheel *w, struct wp_timer *t) {
  struct wp_timer *h = &w->list[LIST_DUE], *p = h->prev;
  while (p != h && p->deadline > t->deadline) p = p->prev;
  list_insert_after(p, t);
  t->level = AUX_LEVEL;
  t->slot = LIST_DUE;
}

/* Unlinks an armed timer and marks it not armed. */
static void unlink_timer(struct wp_wheel *w, struct wp_timer *t) {
  int idx = t->slot;
  list_unlink(t);
  if (t->level < WHEEL_LEVELS && list_empty(&w->list[idx])) map_clear(w, idx);
  t->level = -1;
  t->slot = -1;
  w->count--;
}

/* }==================================================================== */

/* {====================================================================
** Advancing
** ===================================================================== */

/*
** Finds the first tick after now at which the wheel has work, stored in
** *tick; returns 0 if the wheel proper and the far list are empty. Every
** event of level L comes before every event of level L+1 (the latter start a
** later slot of level L+1), and far timers come after all of them, so the
** lowest non-empty level decides.
*/
static int next_event(const struct wp_wheel *w, uint64_t *tick) {
  uint64_t now = w->now;
  for (int i = 0; i < L0_SLOTS / 64; i++) {
    if (w->map[i]) { /* a level-0 slot of the current turn */
      uint64_t slot = (uint64_t)(i * 64 + __builtin_ctzll(w->map[i]));
      *tick = (now & ~(uint64_t)(L0_SLOTS - 1)) + slot;
      return 1;
    }
  }
  for (int level = 1; level < WHEEL_LEVELS; level++) {
    uint64_t bits = w->map[level_base[level] >> 6];
    if (bits) { /* the start of an outer slot, to cascade */
      unsigned up = level_shift[level + 1];
      uint64_t slot = (uint64_t)__builtin_ctzll(bits);
      *tick = ((now >> up) << up) + (slot << level_shift[level]);
      return 1;
    }
  }
  if (!list_empty(&w->list[LIST_FAR])) {
    /* the block of the least far deadline starts after now */
    *tick = (w->far_min >> WHEEL_BITS) << WHEEL_BITS;
    return 1;
  }
  return 0;
}

/* Re-links every timer of list `idx` from the current tick, in list order. */
static void relink_list(struct wp_wheel *w, int idx) {
  struct wp_timer tmp;
  list_init(&tmp);
  list_splice(&w->list[idx], &tmp);
  if (idx < WHEEL_SLOTS) map_clear(w, idx);
  while (!list_empty(&tmp)) {
    struct wp_timer *t = tmp.next;
    list_unlink(t);
    link_wheel(w, t);
  }
}

/*
** Cascades the outer slots that start at the current tick, outermost first,
** so that timers fall level by level in their original order.
*/
static void cascade(struct wp_wheel *w) {
  uint64_t now = w->now;
  if ((now & ((UINT64_C(1) << WHEEL_BITS) - 1)) == 0) {
    w->far_min = UINT64_MAX; /* recomputed by the timers that stay far */
    relink_list(w, LIST_FAR);
  }
  for (int level = WHEEL_LEVELS - 1; level >= 1; level--) {
    unsigned sh = level_shift[level];
    if ((now & ((UINT64_C(1) << sh) - 1)) != 0) continue;
    int slot = (int)((now >> sh) & (LN_SLOTS - 1));
    int idx = level_base[level] + slot;
    if (!list_empty(&w->list[idx])) relink_list(w, idx);
  }
}

/*
** Fires list `idx` from its head until it is empty. Each timer is unlinked
** before its callback, which may therefore cancel or re-arm any timer. No
** callback can add to this list: a level-0 slot only receives deadlines of
** a later tick, and a deadline <= now goes to `due`, not `firing`.
*/
static size_t fire_list(struct wp_wheel *w, int idx,
                        void (*fire)(struct wp_timer *t, void *ud), void *ud) {
  struct wp_timer *h = &w->list[idx];
  size_t n = 0;
  while (!list_empty(h)) {
    struct wp_timer *t = h->next;
    unlink_timer(w, t);
    n++;
    fire(t, ud);
  }
  return n;
}

/* }==================================================================== */

struct wp_wheel *wp_wheel_new(uint64_t now) {
  struct wp_wheel *w = wp_malloc(sizeof *w);
  if (w == NULL) return NULL;
  w->now = now;
  w->far_min = UINT64_MAX;
  w->count = 0;
  for (int i = 0; i < WHEEL_SLOTS / 64; i++) w->map[i] = 0;
  for (int i = 0; i < NLISTS; i++) {
    wp_timer_init(&w->list[i]);
    list_init(&w->list[i]);
  }
  return w;
}

void wp_wheel_free(struct wp_wheel *w) { wp_free(w); }

/* Resets the wheel-private fields and the deadline; id/target are kept. */
void wp_timer_init(struct wp_timer *t) {
  t->next = t->prev = NULL;
  t->deadline = 0;
  t->level = -1;
  t->slot = -1;
}

void wp_wheel_add(struct wp_wheel *w, struct wp_timer *t, uint64_t deadline) {
  if (wp_timer_armed(t)) unlink_timer(w, t);
  t->deadline = deadline;
  if (deadline <= w->now)
    link_due(w, t);
  else
    link_wheel(w, t);
  w->count++;
}

int wp_wheel_cancel(struct wp_wheel *w, struct wp_timer *t) {
  if (!wp_timer_armed(t)) return 0;
  unlink_timer(w, t);
  return 1;
}

/*
** Fires the `due` batch first (moved aside, so that timers re-armed into
** `due` by callbacks wait for the next call), then visits only the ticks at
** which the wheel has work, up to `now`.
*/
size_t wp_wheel_advance(struct wp_wheel *w, uint64_t now,
                        void (*fire)(struct wp_timer *t, void *ud), void *ud) {
  list_splice(&w->list[LIST_DUE], &w->list[LIST_FIRING]);
  size_t n = fire_list(w, LIST_FIRING, fire, ud);
  while (w->now < now) {
    uint64_t tick;
    if (!next_event(w, &tick) || tick > now) {
      w->now = now; /* nothing happens in between: jump */
      break;
    }
    w->now = tick;
    cascade(w);
    n += fire_list(w, (int)(tick & (L0_SLOTS - 1)), fire, ud);
  }
  return n;
}

uint64_t wp_wheel_next(const struct wp_wheel *w) {
  uint64_t tick;
  if (!list_empty(&w->list[LIST_DUE]) || !list_empty(&w->list[LIST_FIRING]))
    return 0;
  if (!next_event(w, &tick)) return UINT64_MAX;
  return tick - w->now;
}

size_t wp_wheel_count(const struct wp_wheel *w) { return w->count; }

uint64_t wp_wheel_now(const struct wp_wheel *w) { return w->now; }
