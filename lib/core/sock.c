/*
 * sock: see sock.h.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <unistd.h>

#include "core/sock.h"
#include "core/timeutil.h"

/* (sock.h) */
int
fd_wait(int fd, short events, long long deadline)
{
	struct pollfd pfd;
	long long left;
	int r;

	for (;;) {
		left = deadline - mono_ms();
		if (left <= 0)
			return 0;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* (sock.h) */
int
sock_connect(int family, const struct sockaddr *sa, socklen_t salen, long long deadline)
{
	int fd, flags, soerr, saved;
	socklen_t sl;

	if ((fd = socket(family, SOCK_STREAM, 0)) < 0)
		return -1;
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		goto fail;
#ifdef SO_NOSIGPIPE
	{
		int one = 1;

		(void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
	}
#endif
	for (;;) {
		if (connect(fd, sa, salen) == 0)
			return fd;
		/* After EINTR the connection goes on in the background. */
		if (errno == EINPROGRESS || errno == EINTR)
			break;
		/* A Unix socket whose listen queue is full refuses with EAGAIN
		 * at once instead of queueing us: try again until the deadline. */
		if (errno == EAGAIN && family == AF_UNIX) {
			if (mono_ms() >= deadline) {
				errno = ETIMEDOUT;
				goto fail;
			}
			(void)poll(NULL, 0, 10);
			continue;
		}
		goto fail;
	}
	switch (fd_wait(fd, POLLOUT, deadline)) {
	case 0:
		errno = ETIMEDOUT;
		goto fail;
	case -1:
		goto fail;
	}
	sl = sizeof(soerr);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
		goto fail;
	if (soerr != 0) {
		errno = soerr;
		goto fail;
	}
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* (sock.h) */
int
sock_send_all(int fd, const void *data, size_t n, long long deadline)
{
	const char *p = data;

	while (n > 0) {
		/* MSG_NOSIGNAL: a peer that closed gives EPIPE, not SIGPIPE. */
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w >= 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		switch (fd_wait(fd, POLLOUT, deadline)) {
		case 0:
			errno = ETIMEDOUT;
			return -1;
		case -1:
			return -1;
		}
	}
	return 0;
}
