/*
** route.c: a process's mailbox, routed: its private message queues, the
** user messages waiting for a receiver (inbox and listeners), the tasks
** waiting for an exec'd child, and the drain that sorts the mailbox into
** all of these.
**
** Design note: routing. The run loop (vmproc.c) drains the mailbox before it
** resumes a task. Each message goes where it is waited for: a timer's firing
** to its sleeping task or channel (task.c), terminal input to the task
** blocked in a read, a child's EXIT to the task blocked in exec, other EXITs,
** LINK_DOWNs (trapped; else a pending link kill) and CANCELs to the events
** queue, user messages to the inbox queue (one on a reserved "@" topic, a
** runtime subscription's, goes to its listener or, closed, nowhere), a funcs
** callee's EXIT to its call (fcall.c), a bus event to its subscription's
** queue (evbus.c). The channel that reads the queue, if the process made one
** (process.inbox(), events(), a listener's), is then told
** (wp_chan_source_ready): it hands the queued messages to the receivers
** waiting on it now. A sleeping task's timer (or an idle collection's, or one
** cancelled since) needs no Lua and is routed without it (wp_route_light);
** anything else is routed in a protected call on the runtime's stack
** (wp_sys_L), which an allocation failure may unwind (the run loop then ends
** the process): the message being routed or decoded sits in vp->routing or
** vp->decoding meanwhile, and the teardown frees it. Nothing here may raise
** where no handler is: values for a suspended task are made on the running,
** protected stack and moved over (hand_over), since an error raised on the
** suspended thread would find none. The drain's loop (wp_route_drain) is
** inline in vm_int.h, in the run loop that calls it before every resume.
** The queues and everything here are used only by the thread running the
** process.
*/
#include <string.h>

#include "alloc.h"
#include "codec.h"
#include "errobj.h"
#include "vm.h"
#include "vm_int.h"

/* ---- message queues ---- */

void wp_mq_push(struct wp_mqueue *q, struct wp_msg *m) {
  atomic_store_explicit(&m->node.next, NULL, memory_order_relaxed);
  if (q->tail)
    atomic_store_explicit(&q->tail->node.next, &m->node, memory_order_relaxed);
  else
    q->head = m;
  q->tail = m;
  q->n++;
}

struct wp_msg *wp_mq_pop(struct wp_mqueue *q) {
  struct wp_msg *m = q->head;
  if (!m) return NULL;
  q->head = (struct wp_msg *)atomic_load_explicit(&m->node.next, memory_order_relaxed);
  if (!q->head) q->tail = NULL;
  q->n--;
  return m;
}

void wp_mq_free(struct wp_mqueue *q) {
  struct wp_msg *m;
  while ((m = wp_mq_pop(q))) wp_msg_free(m);
}

/* ---- pending user messages and listeners ---- */

static struct wp_listener *listener_for(struct wp_vmproc *vp, const struct wp_msg *m) {
  for (struct wp_listener *l = vp->listeners; l; l = l->next)
    if (l->tlen == m->topic_len && memcmp(l->topic, wp_msg_topic(m), l->tlen) == 0) return l;
  return NULL;
}

/* Finds the first pending message routed to l (NULL = the inbox), and the
** link that points to it. */
static struct wp_msg *find_user(struct wp_vmproc *vp, struct wp_listener *l,
                                struct wp_msg **prevp) {
  struct wp_msg *prev = NULL;
  for (struct wp_msg *m = vp->inbox_q.head; m; prev = m,
                      m = (struct wp_msg *)atomic_load_explicit(&m->node.next,
                                                                memory_order_relaxed)) {
    if (l ? (l->tlen == m->topic_len && memcmp(l->topic, wp_msg_topic(m), l->tlen) == 0)
          : (!vp->listeners || !listener_for(vp, m))) {
      if (prevp) *prevp = prev;
      return m;
    }
  }
  return NULL;
}

int wp_vm_has_user(struct wp_vmproc *vp, struct wp_listener *l) {
  if (!l && !vp->listeners) return vp->inbox_q.n > 0; /* the common case */
  return find_user(vp, l, NULL) != NULL;
}

struct wp_msg *wp_vm_take_user(struct wp_vmproc *vp, struct wp_listener *l) {
  if (!l && !vp->listeners) return wp_mq_pop(&vp->inbox_q);
  struct wp_msg *prev;
  struct wp_msg *m = find_user(vp, l, &prev);
  if (!m) return NULL;
  struct wp_mqueue *q = &vp->inbox_q;
  struct wp_mnode *next = atomic_load_explicit(&m->node.next, memory_order_relaxed);
  if (prev)
    atomic_store_explicit(&prev->node.next, next, memory_order_relaxed);
  else
    q->head = (struct wp_msg *)next;
  if (q->tail == m) q->tail = prev;
  q->n--;
  return m;
}

void wp_vm_reroute(lua_State *L, struct wp_vmproc *vp) {
  for (struct wp_listener *l = vp->listeners; l; l = l->next)
    wp_chan_source_ready(L, l->chan);
  if (vp->inbox) wp_chan_source_ready(L, vp->inbox);
}

/* ---- exec and function calls ---- */

int wp_route_push_result(lua_State *th, struct wp_msg *m) {
  int n = wp_codec_decode(th, wp_msg_payload(m), m->len);
  if (n != 2) {
    if (n > 0) lua_pop(th, n);
    lua_pushnil(th);
    wp_err_push(th, WP_KIND_INTERNAL, WP_RESULT_LOST, -1);
    return 2;
  }
  if (lua_isnil(th, -1)) { /* no error: the value */
    lua_pop(th, 1);
    return 1;
  }
  lua_pushnil(th);
  lua_replace(th, -3);
  return 2;
}

/* Moves the n values at the top of L (running, protected) to the
** suspended task thread th. Anything that allocates for a suspended thread
** is made on L first: an error raised on th would find no handler there. */
static void hand_over(lua_State *L, lua_State *th, int n) {
  if (!lua_checkstack(th, n)) luaL_error(L, "not enough memory");
  lua_xmove(L, th, n);
}

/* If m is the EXIT of a child some task waits for, completes that task
** (the result is decoded on L, which runs protected). */
static int exitwait_done(struct wp_vmproc *vp, lua_State *L, struct wp_msg *m) {
  uint64_t c = wp_pid_parse(wp_msg_from(m), m->from_len);
  for (struct wp_exitwait **pp = &vp->exitwaits; *pp; pp = &(*pp)->next) {
    struct wp_exitwait *w = *pp;
    if (w->counter != c) continue;
    *pp = w->next;
    struct wp_task *t = w->task;
    wp_free(w);
    luaL_checkstack(L, 4, NULL);
    vp->decoding = m; /* freed at teardown if the decoding raises */
    int n = wp_route_push_result(L, m);
    vp->decoding = NULL;
    wp_msg_free(m);
    hand_over(L, t->th, n);
    wp_task_ready(vp, t, n);
    return 1;
  }
  return 0;
}

int wp_vm_exec(lua_State *L, const char *id, const char *host_id, int first, int n,
               int flags) {
  struct wp_vmproc *vp = wp_vm_self(L);
  struct wp_task *t = wp_vm_blockable(L, "process.exec");
  struct wp_exitwait *w = wp_malloc(sizeof *w);
  if (!w) return luaL_error(L, "not enough memory");
  struct wp_proc *child;
  const char *kind, *msg;
  if (wp_rt_spawn(vp->rt, vp, id, host_id, L, first, n, flags | WP_SPAWN_MONITOR, NULL,
                  &child, &kind, &msg)) {
    wp_free(w);
    return wp_err_return(L, kind, msg);
  }
  w->counter = child->counter;
  wp_proc_release(child);
  w->task = t;
  w->next = vp->exitwaits;
  vp->exitwaits = w;
  wp_task_block(vp, t, w);
  return lua_yield(L, 0);
}

/* ---- replies of runtime threads (cluster names) ---- */

int wp_vm_reply_wait(lua_State *L, struct wp_task *t, uint64_t id) {
  struct wp_vmproc *vp = wp_vm_self(L);
  struct wp_exitwait *w = wp_malloc(sizeof *w);
  if (!w) return luaL_error(L, "not enough memory");
  w->counter = id;
  w->task = t;
  w->next = vp->replywaits;
  vp->replywaits = w;
  wp_task_block(vp, t, w);
  return lua_yield(L, 0);
}

/* Completes the task waiting for reply m, if any (on L, protected). */
static void reply_done(struct wp_vmproc *vp, lua_State *L, struct wp_msg *m) {
  for (struct wp_exitwait **pp = &vp->replywaits; *pp; pp = &(*pp)->next) {
    struct wp_exitwait *w = *pp;
    if (w->counter != m->aux) continue;
    *pp = w->next;
    struct wp_task *t = w->task;
    wp_free(w);
    int n = 1;
    vp->routing = m; /* freed at teardown if this raises */
    luaL_checkstack(L, 3, NULL);
    if (m->flags >= WP_REPLY_ERROR) {
      lua_pushnil(L);
      wp_err_pushl(L, wp_msg_topic(m), (const char *)wp_msg_payload(m), m->len,
                   m->flags == WP_REPLY_RETRYABLE ? 1 : -1);
      n = 2;
    } else {
      lua_pushboolean(L, m->flags == WP_REPLY_TRUE);
    }
    hand_over(L, t->th, n);
    vp->routing = NULL;
    wp_task_ready(vp, t, n);
    return;
  }
}

/* ---- mailbox routing ---- */

static void route(struct wp_vmproc *vp, lua_State *L, struct wp_msg *m) {
  switch (m->kind) {
    case WP_MSG_TIMER: {
      uint64_t id = m->aux;
      wp_msg_free(m); /* first: wp_vtimer_fired may raise (out of memory) */
      wp_vtimer_fired(vp, L, id);
      return;
    }
    case WP_MSG_IO:
      if (vp->io_task) {
        struct wp_task *t = vp->io_task;
        int n = 1;
        vp->routing = m; /* freed at teardown if this raises */
        if (m->aux == WP_IO_OK) {
          lua_pushlstring(L, (const char *)wp_msg_payload(m), m->len);
        } else {
          lua_pushnil(L);
          if (m->aux == WP_IO_EOF)
            wp_err_push(L, "", "EOF", -1);
          else if (m->aux == WP_IO_NOMEM)
            wp_err_push(L, WP_KIND_INTERNAL, "input lost: the runtime ran out of memory", -1);
          else
            wp_err_push(L, WP_KIND_CANCELED, "interrupted", -1);
          n = 2;
        }
        hand_over(L, t->th, n);
        vp->routing = NULL;
        vp->io_task = NULL;
        wp_task_ready(vp, t, n);
      }
      wp_msg_free(m);
      return;
    case WP_MSG_REPLY:
      reply_done(vp, L, m);
      wp_msg_free(m);
      return;
    case WP_MSG_EVENT:
      wp_evbus_route(vp, L, m);
      return;
    case WP_MSG_EXIT:
      if (vp->calls && wp_fcall_exit(vp, L, m)) return;
      if (vp->exitwaits && exitwait_done(vp, L, m)) return;
      wp_mq_push(&vp->events_q, m);
      if (vp->events) wp_chan_source_ready(L, vp->events);
      return;
    case WP_MSG_LINK_DOWN:
      if (!vp->trap_links) {
        wp_msg_free(m);
        int none = WP_KILL_NONE;
        atomic_compare_exchange_strong(&vp->p->kill, &none, WP_KILL_LINK);
        return;
      }
      /* fallthrough */
    case WP_MSG_CANCEL:
      wp_mq_push(&vp->events_q, m);
      if (vp->events) wp_chan_source_ready(L, vp->events);
      return;
    default: {
      struct wp_listener *l = vp->listeners ? listener_for(vp, m) : NULL;
      if (!l && m->topic_len && wp_msg_topic(m)[0] == '@') {
        /* A reserved topic is the runtime's own subscription (a pg
        ** monitor): no process sends one. Without its listener the
        ** subscription was closed, and what it had on the way is not for
        ** the inbox. */
        wp_msg_free(m);
        return;
      }
      wp_mq_push(&vp->inbox_q, m);
      if (l)
        wp_chan_source_ready(L, l->chan);
      else if (vp->inbox)
        wp_chan_source_ready(L, vp->inbox);
      return;
    }
  }
}

/* Routes vp->routing (taken from the mailbox) and the rest of the mailbox
** (wp_route_drain). route() owns each message it is given. */
int wp_route_drain_protected(lua_State *L) {
  struct wp_vmproc *vp = wp_vm_self(L);
  struct wp_msg *m = vp->routing;
  vp->routing = NULL;
  do route(vp, L, m);
  while ((m = wp_mbox_take_sc(&vp->p->mbox)));
  return 0;
}

/* Routes what needs no Lua: a sleeping task's timer (or one cancelled
** since). Returns 0 when m needs a Lua stack. */
int wp_route_light(struct wp_vmproc *vp, struct wp_msg *m) {
  if (m->kind != WP_MSG_TIMER) return 0;
  struct wp_vtimer *vt = wp_vtimer_find(vp, m->aux);
  if (vt && vt->kind != WP_VT_SLEEP && vt->kind != WP_VT_GC) return 0;
  if (vt) {
    if (vt->kind == WP_VT_GC)
      vp->mem_state = (unsigned char)((vp->mem_state & ~WP_MEM_GC_ARMED) | WP_MEM_GC_DUE);
    else if (vt->task)
      wp_task_ready(vp, vt->task, 0);
    wp_vtimer_free(vp, vt);
  }
  wp_msg_free(m);
  return 1;
}

/* ---- teardown ---- */

void wp_route_free_waits(struct wp_vmproc *vp) {
  while (vp->listeners) {
    struct wp_listener *l = vp->listeners;
    vp->listeners = l->next;
    wp_free(l);
  }
  while (vp->exitwaits) {
    struct wp_exitwait *w = vp->exitwaits;
    vp->exitwaits = w->next;
    wp_free(w);
  }
  while (vp->replywaits) {
    struct wp_exitwait *w = vp->replywaits;
    vp->replywaits = w->next;
    wp_free(w);
  }
}
