/*
** chan.c: channels and select (spec 04 §1), process-local.
**
** Design note. A channel is a userdata (struct wp_chan) whose buffered values
** live in its user value table, as a ring indexed by head/count. Tasks that
** cannot proceed wait in FIFO queues of waiters: one waiter per case of the
** blocked operation, all in one selrec kept on the blocked task's stack (so
** the GC keeps it exactly as long as the task waits). Whoever makes a case
** ready completes it: unlinks every waiter of that selrec from every channel,
** pushes the operation's results onto the waiting task's stack and marks the
** task ready. Values to be sent by a blocked task are held by registry refs.
**
** The inbox and events channels are "source" channels: besides their own
** queues they receive from the process's pending message queue, one message
** per receive, decoded only when a task takes it.
**
** All of this runs on the worker that runs the process; no locks.
*/
#include <string.h>

#include "alloc.h"
#include "errobj.h"
#include "vm.h"

#define CASE_MT "wippy.case"

struct wp_selrec;

struct wp_waiter {
  struct wp_waiter *next, *prev;
  struct wp_chan *chan;
  struct wp_selrec *sel;
  int case_index; /* 1-based; 0 for a direct send/receive */
  int is_send;
  int uv;         /* the selrec's user value holding the channel (for a
                     select's result); a send's value is in uv + 1 */
};

/* What a blocked send, receive or select waits on. It is a userdata left on
** the blocked task's stack (in the frame of the C function that yielded, at
** index idx), which keeps it, and through its user values the channels and
** the values to send, alive until the task resumes: no registry refs to
** make and drop per blocking call. */
struct wp_selrec {
  struct wp_task *task;
  int is_select;
  int n;
  int idx;
  struct wp_waiter w[];
};

struct wp_chan {
  int cap, count, head;
  int bufref;                          /* registry ref of the buffer table */
  int closed;
  int kind;
  struct wp_waiter *rq_head, *rq_tail; /* waiting receivers */
  struct wp_waiter *sq_head, *sq_tail; /* waiting senders */
  struct wp_vtimer *vt;                /* time.after: the pending timer */
  struct wp_listener *lst;             /* LISTEN: its subscription */
  struct wp_evsub *evs;                /* EVSUB: its event subscription, until
                                          it ends (evbus.c) */
};

struct wp_case {
  int is_send;
};

/* ---- waiter queues ---- */

static void q_append(struct wp_waiter **head, struct wp_waiter **tail, struct wp_waiter *w) {
  w->next = NULL;
  w->prev = *tail;
  if (*tail)
    (*tail)->next = w;
  else
    *head = w;
  *tail = w;
}

static void q_remove(struct wp_waiter **head, struct wp_waiter **tail, struct wp_waiter *w) {
  if (w->prev)
    w->prev->next = w->next;
  else
    *head = w->next;
  if (w->next)
    w->next->prev = w->prev;
  else
    *tail = w->prev;
  w->next = w->prev = NULL;
}

/* Unlinks every waiter of a selrec (the values it holds go with it). */
static void sel_detach(struct wp_selrec *s) {
  for (int i = 0; i < s->n; i++) {
    struct wp_waiter *w = &s->w[i];
    if (!w->chan) continue;
    if (w->is_send)
      q_remove(&w->chan->sq_head, &w->chan->sq_tail, w);
    else
      q_remove(&w->chan->rq_head, &w->chan->rq_tail, w);
    w->chan = NULL;
  }
}

/* Pushes the result of a completed select: {channel, value, ok}. The
** value and then the channel are at the top of L and are consumed. */
static void push_select_result(lua_State *L, int ok) {
  lua_createtable(L, 0, 3); /* [value, channel, t] */
  wp_state_key(L, WP_K_CHANNEL);
  lua_pushvalue(L, -3);
  lua_rawset(L, -3);
  wp_state_key(L, WP_K_VALUE);
  lua_pushvalue(L, -4);
  lua_rawset(L, -3);
  wp_state_key(L, WP_K_OK);
  lua_pushboolean(L, ok);
  lua_rawset(L, -3);
  lua_replace(L, -3); /* [t, channel] */
  lua_pop(L, 1);
}

/* The waiting task's thread th is suspended: an error raised on it would
** find no handler. What may allocate (its stack growing, a select's result
** table) is done first, on S (running, protected), and the results moved
** over; a failure then leaves the waiter as it was. */
static lua_State *waiter_stack(lua_State *S, struct wp_selrec *s) {
  lua_State *th = s->task->th;
  if (!lua_checkstack(th, 4)) luaL_error(S, "not enough memory");
  return th;
}

/* Completes a waiting receiver with the value on top of S (moved). */
static void complete_recv(lua_State *S, struct wp_waiter *w, int ok) {
  struct wp_selrec *s = w->sel;
  struct wp_vmproc *vp = wp_vm_self(S);
  lua_State *th = waiter_stack(S, s);
  if (s->is_select) {
    lua_getiuservalue(th, s->idx, w->uv);
    lua_xmove(th, S, 1);
    push_select_result(S, ok);
    sel_detach(s);
    lua_xmove(S, th, 1);
    wp_task_ready(vp, s->task, 1);
  } else {
    sel_detach(s);
    lua_xmove(S, th, 1);
    lua_pushboolean(th, ok);
    wp_task_ready(vp, s->task, 2);
  }
}

/* Completes a waiting sender: its value is pushed onto S first (the caller
** takes it), then the sender gets its result. */
static void take_from_sender(lua_State *S, struct wp_waiter *w) {
  struct wp_selrec *s = w->sel;
  struct wp_vmproc *vp = wp_vm_self(S);
  lua_State *th = waiter_stack(S, s);
  lua_getiuservalue(th, s->idx, w->uv + 1);
  lua_xmove(th, S, 1);
  if (s->is_select) {
    lua_pushvalue(S, -1);
    lua_getiuservalue(th, s->idx, w->uv);
    lua_xmove(th, S, 1);
    push_select_result(S, 1);
    sel_detach(s);
    lua_xmove(S, th, 1);
    wp_task_ready(vp, s->task, 1);
  } else {
    sel_detach(s);
    lua_pushboolean(th, 1);
    wp_task_ready(vp, s->task, 1);
  }
}

/* ---- buffer ---- */

/* The buffer is a table held by a registry ref, so that the runtime (a
** timer firing) can fill a channel without its userdata at hand. */
static void buf_put(lua_State *L, struct wp_chan *c) {
  /* value at top */
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->bufref);
  lua_insert(L, -2);
  lua_rawseti(L, -2, (c->head + c->count) % c->cap + 1);
  lua_pop(L, 1);
  c->count++;
}

static void buf_take(lua_State *L, struct wp_chan *c) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->bufref);
  int slot = c->head + 1;
  lua_rawgeti(L, -1, slot);
  lua_pushnil(L);
  lua_rawseti(L, -3, slot);
  lua_remove(L, -2);
  c->head = (c->head + 1) % c->cap;
  c->count--;
}

/* ---- readiness and immediate operations ---- */

/* Source channels: is a message waiting for c? */
static int source_has(lua_State *L, struct wp_chan *c) {
  struct wp_vmproc *vp = wp_vm_self(L);
  switch (c->kind) {
    case WP_CHAN_EVENTS: return vp->events_q.n > 0;
    case WP_CHAN_INBOX: return wp_vm_has_user(vp, NULL);
    case WP_CHAN_EVSUB: return c->evs && wp_evbus_has(c->evs);
    default: return c->lst && wp_vm_has_user(vp, c->lst); /* listen, subscribe */
  }
}

/* Pushes the next message for source channel c (source_has was true). */
static void source_take(lua_State *L, struct wp_chan *c) {
  struct wp_vmproc *vp = wp_vm_self(L);
  if (c->kind == WP_CHAN_EVENTS) {
    wp_message_push_lua(L, wp_mq_pop(&vp->events_q));
  } else if (c->kind == WP_CHAN_INBOX) {
    wp_message_push_lua(L, wp_vm_take_user(vp, NULL));
  } else if (c->kind == WP_CHAN_EVSUB) {
    wp_evbus_take(L, c->evs);
  } else if (c->lst->raw) {
    wp_message_push_raw(L, wp_vm_take_user(vp, c->lst));
  } else {
    wp_message_push_lua(L, wp_vm_take_user(vp, c->lst));
  }
}

/* A plain channel is a source too while a subscribe() routes a topic to it. */
static int is_source(const struct wp_chan *c) { return c->kind != WP_CHAN_PLAIN || c->lst; }

static int can_recv(lua_State *L, struct wp_chan *c) {
  if (c->count > 0 || c->sq_head || c->closed) return 1;
  return is_source(c) && source_has(L, c);
}

static int can_send(struct wp_chan *c) {
  return !c->closed && (c->rq_head != NULL || c->count < c->cap);
}

/* Receives one value (pushed on L) from a channel that can_recv; returns ok. */
static int do_recv(lua_State *L, struct wp_chan *c) {
  if (c->count > 0) {
    buf_take(L, c);
    if (c->sq_head) { /* a blocked sender's value moves into the buffer */
      take_from_sender(L, c->sq_head);
      buf_put(L, c);
    }
    return 1;
  }
  if (c->sq_head) {
    take_from_sender(L, c->sq_head);
    return 1;
  }
  if (is_source(c) && source_has(L, c)) {
    source_take(L, c);
    return 1;
  }
  lua_pushnil(L);
  return 0;
}

/* Sends the value at the top of L (consumed) on a channel that can_send. */
static void do_send(lua_State *L, struct wp_chan *c) {
  if (c->rq_head) {
    complete_recv(L, c->rq_head, 1);
    return;
  }
  buf_put(L, c);
}

/* ---- construction ---- */

static int chan_gc(lua_State *L) {
  struct wp_chan *c = lua_touserdata(L, 1);
  luaL_unref(L, LUA_REGISTRYINDEX, c->bufref);
  c->bufref = LUA_NOREF;
  if (c->evs) /* nobody can read its events any more */
    wp_evbus_chan_gone(wp_vm_self(L), c->evs);
  if (c->vt) {
    struct wp_vmproc *vp = wp_vm_self(L);
    c->vt->chan = NULL;
    wp_vtimer_free(vp, c->vt);
    c->vt = NULL;
  }
  return 0;
}

static int chan_tostring(lua_State *L) {
  lua_pushfstring(L, "channel: %p", lua_touserdata(L, 1));
  return 1;
}

static void push_chan_mt(lua_State *L) {
  if (wp_state_mt_new(L, WP_MT_CHAN, WP_CHAN_MT)) {
    static const luaL_Reg meth[] = {{"send", wp_chan_l_send},
                                    {"receive", wp_chan_l_receive},
                                    {"close", wp_chan_l_close},
                                    {"case_send", wp_chan_l_case_send},
                                    {"case_receive", wp_chan_l_case_receive},
                                    {NULL, NULL}};
    luaL_newlib(L, meth);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, chan_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, chan_tostring);
    lua_setfield(L, -2, "__tostring");
  }
}

struct wp_chan *wp_chan_new(lua_State *L, int cap, int kind) {
  if (cap < 0) cap = 0;
  struct wp_chan *c = lua_newuserdatauv(L, sizeof *c, 1); /* uv 1: cached receive case */
  memset(c, 0, sizeof *c);
  c->cap = cap;
  c->kind = kind;
  c->bufref = LUA_NOREF;
  if (cap > 0) {
    lua_createtable(L, cap < 64 ? cap : 64, 0);
    c->bufref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  push_chan_mt(L);
  lua_setmetatable(L, -2);
  return c;
}

struct wp_chan *wp_chan_check(lua_State *L, int idx) {
  return wp_state_mt_check(L, idx, WP_MT_CHAN, WP_CHAN_MT);
}

struct wp_chan *wp_chan_test(lua_State *L, int idx) {
  return wp_state_mt_test(L, idx, WP_MT_CHAN);
}

int wp_chan_l_new(lua_State *L) {
  lua_Integer n = luaL_optinteger(L, 1, 0);
  if (n > (1 << 24)) return luaL_error(L, "channel size too large");
  wp_chan_new(L, (int)n, WP_CHAN_PLAIN);
  return 1;
}

/* ---- runtime-side operations ---- */

int wp_chan_offer(lua_State *L, struct wp_chan *c) {
  if (!can_send(c)) {
    lua_pop(L, 1);
    return 0;
  }
  do_send(L, c);
  return 1;
}

void wp_chan_close(lua_State *L, struct wp_chan *c) {
  if (c->closed) return;
  c->closed = 1;
  struct wp_vmproc *vp = wp_vm_self(L);
  while (c->rq_head) {
    lua_pushnil(L);
    complete_recv(L, c->rq_head, 0);
  }
  while (c->sq_head) {
    struct wp_selrec *s = c->sq_head->sel;
    lua_State *th = waiter_stack(L, s);
    lua_pushnil(L);
    wp_err_push(L, WP_KIND_INTERNAL, "send on closed channel", -1);
    sel_detach(s);
    lua_xmove(L, th, 2);
    wp_task_ready(vp, s->task, 2);
  }
}

void wp_chan_source_ready(lua_State *L, struct wp_chan *c) {
  while (c->rq_head && source_has(L, c)) {
    source_take(L, c);
    complete_recv(L, c->rq_head, 1);
  }
}

void wp_chan_set_listener(struct wp_chan *c, struct wp_listener *l) { c->lst = l; }
struct wp_listener *wp_chan_get_listener(struct wp_chan *c) { return c->lst; }

/* ---- Lua API ---- */

/* Pushes a selrec for n waiters (two user values each) and returns it. */
static struct wp_selrec *new_selrec(lua_State *L, struct wp_task *t, int n, int is_select) {
  struct wp_selrec *s =
      lua_newuserdatauv(L, sizeof *s + (size_t)n * sizeof(struct wp_waiter), 2 * n);
  memset(s, 0, sizeof *s + (size_t)n * sizeof(struct wp_waiter));
  s->task = t;
  s->is_select = is_select;
  s->n = n;
  s->idx = lua_gettop(L);
  return s;
}

static void wait_on(struct wp_waiter *w, struct wp_selrec *s, struct wp_chan *c,
                    int case_index, int is_send, int uv) {
  w->sel = s;
  w->chan = c;
  w->case_index = case_index;
  w->is_send = is_send;
  w->uv = uv;
  if (is_send)
    q_append(&c->sq_head, &c->sq_tail, w);
  else
    q_append(&c->rq_head, &c->rq_tail, w);
}

int wp_chan_l_send(lua_State *L) {
  struct wp_chan *c = wp_chan_check(L, 1);
  lua_settop(L, 2);
  if (c->closed) return luaL_error(L, "send on closed channel");
  if (can_send(c)) {
    do_send(L, c);
    lua_pushboolean(L, 1);
    return 1;
  }
  struct wp_task *t = wp_vm_blockable(L, "channel send");
  struct wp_selrec *s = new_selrec(L, t, 1, 0);
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, s->idx, 2);
  wait_on(&s->w[0], s, c, 0, 1, 1);
  wp_task_block(wp_vm_self(L), t, s);
  return lua_yield(L, 0);
}

int wp_chan_l_receive(lua_State *L) {
  struct wp_chan *c = wp_chan_check(L, 1);
  lua_settop(L, 1);
  if (can_recv(L, c)) {
    int ok = do_recv(L, c);
    lua_pushboolean(L, ok);
    return 2;
  }
  struct wp_task *t = wp_vm_blockable(L, "channel receive");
  if (c->kind != WP_CHAN_PLAIN) /* more telling for inspect: which channel */
    wp_vm_note_wait(wp_vm_self(L), c->kind == WP_CHAN_INBOX    ? "inbox receive"
                                   : c->kind == WP_CHAN_EVENTS ? "events receive"
                                                               : "listener receive");
  struct wp_selrec *s = new_selrec(L, t, 1, 0);
  wait_on(&s->w[0], s, c, 0, 0, 1);
  wp_task_block(wp_vm_self(L), t, s);
  return lua_yield(L, 0);
}

int wp_chan_l_close(lua_State *L) {
  wp_chan_close(L, wp_chan_check(L, 1));
  return 0;
}

static int make_case(lua_State *L, int is_send) {
  wp_chan_check(L, 1);
  /* a receive case carries no value: one per channel is enough (cached in
  ** the channel's user value). Returned from the top, whatever else the
  ** call was given. */
  if (!is_send && lua_getiuservalue(L, 1, 1) == LUA_TUSERDATA) return 1;
  lua_settop(L, 2); /* a receive case's value: nil */
  struct wp_case *k = lua_newuserdatauv(L, sizeof *k, 2);
  k->is_send = is_send;
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, -2, 2);
  if (wp_state_mt_new(L, WP_MT_CASE, CASE_MT)) {
    lua_pushliteral(L, "select case");
    lua_setfield(L, -2, "__name");
  }
  lua_setmetatable(L, -2);
  if (!is_send) {
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, 1);
  }
  return 1;
}

int wp_chan_l_case_send(lua_State *L) { return make_case(L, 1); }
int wp_chan_l_case_receive(lua_State *L) { return make_case(L, 0); }

/* The cases a select found in its first pass, for the second (the blocking
** one), which then need not look each value up and check its type again:
** up to SEL_SEEN of them, each left on the stack as [case, channel] (which
** keeps both alive whatever happens to the list meanwhile: a finaliser run
** by an allocation may change it). With more cases the second pass reads
** the list again. */
#define SEL_SEEN 8
struct sel_seen {
  struct wp_case *k;
  struct wp_chan *c;
  lua_Integer i;
};

int wp_chan_l_select(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int dflt = lua_toboolean(L, 2);
  lua_settop(L, 1);
  lua_Integer n;
  if (lua_getmetatable(L, 1)) { /* __index and __len may answer */
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "default") != LUA_TNIL) dflt = dflt || lua_toboolean(L, -1);
    lua_pop(L, 1);
    n = luaL_len(L, 1);
  } else { /* the same answers without the C string's lookup and lua_len's call */
    wp_state_key(L, WP_K_DEFAULT);
    if (lua_rawget(L, 1) != LUA_TNIL) dflt = dflt || lua_toboolean(L, -1);
    lua_pop(L, 1);
    n = (lua_Integer)lua_rawlen(L, 1);
  }
  luaL_checkstack(L, 2 * SEL_SEEN + LUA_MINSTACK, "channel.select");
  int ncases = 0;
  struct sel_seen seen[SEL_SEEN];
  /* 1: the first ready case in array order */
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    struct wp_case *k = wp_state_mt_test(L, -1, WP_MT_CASE);
    if (!k) {
      lua_pop(L, 1);
      continue;
    }
    lua_getiuservalue(L, -1, 1);
    struct wp_chan *c = lua_touserdata(L, -1);
    int ud = lua_gettop(L);
    if (k->is_send ? can_send(c) : can_recv(L, c)) {
      int ok = 1;
      if (k->is_send) {
        lua_getiuservalue(L, ud - 1, 2);
        lua_pushvalue(L, -1);
        do_send(L, c); /* the copy is consumed; the value stays */
      } else {
        ok = do_recv(L, c);
      }
      lua_pushvalue(L, ud); /* [value, channel] */
      push_select_result(L, ok);
      return 1;
    }
    if (ncases < SEL_SEEN)
      seen[ncases] = (struct sel_seen){k, c, i}; /* [case, channel] stay */
    else
      lua_pop(L, 2);
    ncases++;
  }
  if (dflt) {
    lua_createtable(L, 0, 2);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "default");
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "ok");
    return 1;
  }
  /* 2: block on every case */
  struct wp_task *t = wp_vm_blockable(L, "channel.select");
  struct wp_selrec *s = new_selrec(L, t, ncases, 1);
  int w = 0;
  for (lua_Integer i = 1, j = 0; i <= n && w < ncases; i++) {
    struct sel_seen e;
    if (ncases <= SEL_SEEN) { /* pass 1's: [case, channel] at 2 + 2j */
      if (j == ncases) break; /* the rest were closed sends */
      e = seen[j];
      i = e.i;
      lua_pushvalue(L, (int)(2 + 2 * j));
      lua_pushvalue(L, (int)(3 + 2 * j));
      j++;
    } else {
      lua_rawgeti(L, 1, i);
      if (!(e.k = wp_state_mt_test(L, -1, WP_MT_CASE))) {
        lua_pop(L, 1);
        continue;
      }
      lua_getiuservalue(L, -1, 1);
      e.c = lua_touserdata(L, -1);
    }
    if (e.k->is_send) {
      if (e.c->closed) { /* never ready (spec 04 §1.3) */
        lua_pop(L, 2);
        s->n--;
        continue;
      }
      lua_getiuservalue(L, -2, 2);
      lua_setiuservalue(L, s->idx, 2 * w + 2);
    }
    lua_setiuservalue(L, s->idx, 2 * w + 1); /* the channel, for the result table */
    wait_on(&s->w[w], s, e.c, (int)i, e.k->is_send, 2 * w + 1);
    w++;
    lua_pop(L, 1);
  }
  s->n = w;
  wp_task_block(wp_vm_self(L), t, s);
  return lua_yield(L, 0);
}

void wp_chan_set_evsub(struct wp_chan *c, struct wp_evsub *s) { c->evs = s; }
struct wp_evsub *wp_chan_get_evsub(struct wp_chan *c) { return c->evs; }
void wp_chan_set_timer(struct wp_chan *c, struct wp_vtimer *vt) { c->vt = vt; }
struct wp_vtimer *wp_chan_get_timer(struct wp_chan *c) { return c->vt; }
void wp_chan_reopen(struct wp_chan *c) { c->closed = 0; }
