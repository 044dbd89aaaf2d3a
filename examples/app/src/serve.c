/* greet serve: one connection at a time, which is all a health check or a
 * smoke test needs.  Stops cleanly on SIGTERM (docker stop). */
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
