/*
** control.h: the control endpoint of a running node (control.c, the server
** in `wippy run`) and its clients (ctlclient.c: `wippy top`, `wippy
** inspect`). The protocol is in docs/control.md.
**
** Where the socket is. One Unix stream socket per running node:
**
**   DIR/KEY.NODE.PID.sock
**
** DIR is $XDG_RUNTIME_DIR/wippy when that is set and short enough, else
** /tmp/wippy-UID: a directory of the user's own, mode 0700, never inside
** the project (so not in .wippy/, Wippy's modules folder), and short, for
** the 108-byte limit of a socket path. KEY is 16 hex digits of a hash of
** the project directory's real path, NODE the node name ("local"
** standalone), PID the node's process id: nodes started from one project
** never collide, and a client finds the nodes of its project by KEY.
*/
#ifndef WP_CONTROL_H
#define WP_CONTROL_H

#include <stddef.h>

#include "vm.h"

#define WP_CONTROL_PROTOCOL 1
#define WP_CONTROL_LINE_MAX 4096 /* the longest request line, newline included */

/* The socket directory into out (cap bytes). With `create`, makes it (0700)
** when missing. Either way it must be a directory (not a link) owned by
** this user that nobody else may enter. 0, or -1 with the reason in err. */
int wp_control_dir(char *out, size_t cap, int create, char *err, size_t errlen);
/* The project directory's key: 16 hex digits and a NUL. */
void wp_control_key(const char *project_dir, char out[17]);

struct wp_control;

/* Opens the node's socket and starts the endpoint's thread. node: the node
** name (NULL: "local"). Every failure is a warning in the log and NULL: a
** node runs without its endpoint rather than not at all. The test-only
** environment variable WIPPY_TEST_CONTROL_DIR puts the socket in that
** directory as it is, with mode 0666 (tests/control/ checks that the
** server itself refuses a peer of another uid). */
struct wp_control *wp_control_start(struct wp_rt *rt, const char *node);
/* Stops the thread, closes every connection and removes the socket. NULL
** is fine. Before the scheduler stops. */
void wp_control_stop(struct wp_control *c);

/* ---- clients (ctlclient.c) ---- */

/* The socket to talk to: `socket` when given; else the only node of the
** project containing the working directory (the nearest directory up
** with a wippy.lock, else the working directory), or the one named
** `node`. 0 with the path in out, or -1 with a message in err (no node
** running; several, naming them). */
int wp_ctlc_find(const char *socket, const char *node, char *out, size_t cap, char *err,
                 size_t errlen);
/* Connects; the descriptor, or -1 with err. */
int wp_ctlc_connect(const char *path, char *err, size_t errlen);
/* Sends one request line (without its newline) and reads one answer line:
** a malloc'd NUL-terminated string without the newline, or NULL with err
** (the node closed the connection, a timeout of `timeout_ms`). */
char *wp_ctlc_request(int fd, const char *req, int timeout_ms, char *err, size_t errlen);

/* The commands (top.c, inspect.c): argv after the command word. */
int wp_top_main(int argc, char **argv);
int wp_inspect_main(int argc, char **argv);

#endif
