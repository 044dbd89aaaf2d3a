/*
 * sock: waiting on a descriptor and connecting a stream socket, both with
 * a deadline on the monotonic clock (timeutil's mono_ms()).
 *
 * Owns nothing: the caller owns the descriptors.  Used where a tool
 * speaks to a socket without libcurl: HAProxy's runtime API
 * (rollout/haproxy) and a registry's plain-HTTP HEAD (net/registry).
 */
#ifndef CI_SOCK_H
#define CI_SOCK_H

#include <sys/socket.h>

/* Wait until fd is ready for events (POLLIN, POLLOUT): 1 ready, 0 the
 * deadline passed, -1 poll failed (errno set).  EINTR is retried. */
int fd_wait(int fd, short events, long long deadline);

/* A connected non-blocking stream socket (close-on-exec) to sa, or -1
 * with errno (ETIMEDOUT when the deadline passed first).  A Unix socket
 * whose listen queue is full is tried again until the deadline. */
int sock_connect(int family, const struct sockaddr *sa, socklen_t salen, long long deadline);

/* All n bytes of data to the non-blocking socket fd: 0, or -1 with errno
 * (ETIMEDOUT when the deadline passed first; EPIPE, never SIGPIPE, when
 * the peer closed). */
int sock_send_all(int fd, const void *data, size_t n, long long deadline);

#endif
