/*
** ctlraw.c: a test helper for tests/control/: sends its standard input,
** bytes as they are, to a control socket and prints everything the node
** answers until it closes the connection or stays silent for the timeout.
**
**   ctlraw SOCKET [TIMEOUT_MS] < request-bytes
**
** The requests a test cannot type through `wippy top`: binary bytes, a
** NUL, a line past the limit, several requests in one write. Exits 0 when
** the node closed the connection, 3 when it went silent (the connection
** still open), 2 when it could not connect.
*/
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: ctlraw SOCKET [TIMEOUT_MS] < request\n");
    return 2;
  }
  int timeout = argc > 2 ? atoi(argv[2]) : 2000;
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  snprintf(a.sun_path, sizeof a.sun_path, "%s", argv[1]);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    fprintf(stderr, "ctlraw: cannot connect to %s: %s\n", argv[1], strerror(errno));
    return 2;
  }
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
    for (size_t off = 0; off < n;) {
      ssize_t w = send(fd, buf + off, n - off, MSG_NOSIGNAL);
      if (w <= 0) goto read; /* the node closed on us: read what it said */
      off += (size_t)w;
    }
read:
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, timeout) <= 0) return 3;
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r <= 0) return 0;
    fwrite(buf, 1, (size_t)r, stdout);
    fflush(stdout);
  }
}
