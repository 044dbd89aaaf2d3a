/* greet serve: one connection at a time, which is all a health check or a
 * smoke test needs.  Stops cleanly on SIGTERM (docker stop).  greet
 * healthcheck: the client side, for the image's HEALTHCHECK. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "greet.h"

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void
answer(int fd)
{
	struct timeval tv = { 5, 0 };
	FILE *in, *out;
	int fd2;

	/* A client that sends nothing must not hold the server forever. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	fd2 = dup(fd);
	in = fdopen(fd, "r");
	out = fd2 >= 0 ? fdopen(fd2, "w") : NULL;
	if (!in || !out) {
		if (in)
			fclose(in);
		else
			close(fd);
		if (out)
			fclose(out);
		else if (fd2 >= 0)
			close(fd2);
		return;
	}
	http_handle(in, out);
	fclose(out);
	fclose(in);
}

int
serve(int port)
{
	struct sockaddr_in sa;
	struct sigaction act;
	int fd, one = 1;

	memset(&act, 0, sizeof(act));
	act.sa_handler = on_signal;	/* no SA_RESTART: accept() must return */
	sigemptyset(&act.sa_mask);
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);
	signal(SIGPIPE, SIG_IGN);

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		fprintf(stderr, "greet: socket: %s\n", strerror(errno));
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_ANY);
	sa.sin_port = htons((unsigned short)port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		fprintf(stderr, "greet: cannot listen on port %d: %s\n", port, strerror(errno));
		close(fd);
		return 1;
	}
	fprintf(stderr, "greet %s: listening on port %d\n", GREET_VERSION, port);
	while (!stopping) {
		int c = accept(fd, NULL, NULL);

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "greet: accept: %s\n", strerror(errno));
			close(fd);
			return 1;
		}
		answer(c);
	}
	fprintf(stderr, "greet: stopping\n");
	close(fd);
	return 0;
}

int
healthcheck(int port)
{
	static const char req[] = "GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n";
	struct timeval tv = { 3, 0 };	/* the HEALTHCHECK's --timeout */
	struct sockaddr_in sa;
	char line[64];
	size_t n = 0, off = 0;
	ssize_t r;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		fprintf(stderr, "greet: socket: %s\n", strerror(errno));
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((unsigned short)port);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "greet: healthcheck: cannot connect to 127.0.0.1:%d: %s\n",
		    port, strerror(errno));
		close(fd);
		return 1;
	}
	while (off < sizeof(req) - 1) {
		r = write(fd, req + off, sizeof(req) - 1 - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "greet: healthcheck: cannot send to 127.0.0.1:%d: %s\n",
			    port, r < 0 ? strerror(errno) : "nothing written");
			close(fd);
			return 1;
		}
		off += (size_t)r;
	}
	/* Only the status line matters: "HTTP/1.0 200 OK". */
	while (n < sizeof(line) - 1 && !memchr(line, '\n', n)) {
		r = read(fd, line + n, sizeof(line) - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	line[n] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (strlen(line) < 12 || strncmp(line, "HTTP/1.", 7) ||
	    strncmp(line + 8, " 200", 4) || (line[12] && line[12] != ' ')) {
		fprintf(stderr, "greet: healthcheck: 127.0.0.1:%d/health answered '%s'\n",
		    port, n ? line : "nothing");
		return 1;
	}
	return 0;
}
