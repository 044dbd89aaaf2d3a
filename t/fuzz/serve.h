/*
 * serve.h: a server in a thread that answers with the fuzz input, for the
 * parsers that read what a server says and have no entry point but the
 * one that asks it (HTTP responses through libcurl, HAProxy's runtime
 * API).  Include after fuzz.h.
 *
 * serve_start() listens once per process: on 127.0.0.1 (HTTP; returns the
 * port) or on a Unix socket in fuzz_dir() (HAProxy; its path in *path).
 * serve_set() gives the answers for the next requests: the input cut at
 * each SERVE_NEXT line, the n-th request getting the n-th part and every
 * later one the last.  In an answer, {{port}} becomes the server's port
 * (a token realm can name the server).  A connection gets one answer and
 * is closed, so a reader of "everything until the end" gets an end.
 * An HTTP request is read to its blank line and its Content-Length body; a
 * TLS ClientHello gets what a plain HTTP server says to one, so a client
 * that tries TLS first goes on in plain HTTP.  A HAProxy command is read to
 * its newline.  The thread lives as long as the process; serve_set() and
 * the thread share the answers under a mutex.
 */
#ifndef CI_FUZZ_SERVE_H
#define CI_FUZZ_SERVE_H

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#define SERVE_NEXT "\n--next--\n"
#define SERVE_MAX_PARTS 16

enum { SERVE_HTTP, SERVE_HAPROXY };

static struct {
	int kind, fd, port;
	pthread_mutex_t lock;
	char *parts[SERVE_MAX_PARTS];
	size_t lens[SERVE_MAX_PARTS], nparts, served;
} serve = { 0, -1, 0, PTHREAD_MUTEX_INITIALIZER, { NULL }, { 0 }, 0, 0 };

/* The first needle in hay, or NULL (memmem() is not C99 nor POSIX);
 * icase: ASCII letters in any case. */
static const char *
serve_find(const char *hay, size_t n, const char *needle, size_t nl, int icase)
{
	size_t i, j;

	for (i = 0; i + nl <= n; i++) {
		for (j = 0; j < nl; j++) {
			int a = (unsigned char)hay[i + j], b = (unsigned char)needle[j];

			if (icase && a >= 'A' && a <= 'Z')
				a += 'a' - 'A';
			if (a != b)
				break;
		}
		if (j == nl)
			return hay + i;
	}
	return NULL;
}

/* Read from c until the request ends; 0, or -1 when it never does (the
 * client went away or sent nothing for a second). */
static int
serve_read_request(int c, int *tls)
{
	char buf[65536];
	size_t len = 0;
	long body = -1;

	*tls = 0;
	for (;;) {
		struct pollfd p = { c, POLLIN, 0 };
		ssize_t r;

		if (poll(&p, 1, 1000) <= 0)
			return -1;
		r = read(c, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			return -1;
		len += (size_t)r;
		buf[len] = '\0';
		if (serve.kind == SERVE_HAPROXY) {
			if (memchr(buf, '\n', len))
				return 0;
		} else if (len && (unsigned char)buf[0] == 0x16) {
			*tls = 1;
			return 0;
		} else {
			const char *end = serve_find(buf, len, "\r\n\r\n", 4, 0);

			if (end && body < 0) {
				const char *cl = serve_find(buf, len, "\r\ncontent-length:", 17, 1);

				body = cl && cl < end ? strtol(cl + 17, NULL, 10) : 0;
				body += (long)(end + 4 - buf);
			}
			if (body >= 0 && (long)len >= body)
				return 0;
		}
		if (len == sizeof(buf) - 1)
			return -1;
	}
}

/* Write an answer, {{port}} replaced. */
static void
serve_write(int c, const char *a, size_t n)
{
	char port[16];
	size_t plen = (size_t)snprintf(port, sizeof(port), "%d", serve.port);

	while (n) {
		const char *t = serve_find(a, n, "{{port}}", 8, 0);
		size_t k = t ? (size_t)(t - a) : n;

		if ((k && send(c, a, k, MSG_NOSIGNAL) < 0) ||
		    (t && send(c, port, plen, MSG_NOSIGNAL) < 0))
			return;
		a += t ? k + 8 : k;
		n -= t ? k + 8 : k;
	}
}

static void *
serve_loop(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(serve.fd, NULL, NULL), tls;
		char drain[4096];

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		if (serve_read_request(c, &tls) == 0) {
			pthread_mutex_lock(&serve.lock);
			if (tls) {
				static const char no[] = "HTTP/1.1 400 Bad Request\r\n\r\n";

				serve_write(c, no, sizeof(no) - 1);
			} else if (serve.nparts) {
				size_t i = serve.served < serve.nparts ? serve.served : serve.nparts - 1;

				serve.served++;
				serve_write(c, serve.parts[i], serve.lens[i]);
			}
			pthread_mutex_unlock(&serve.lock);
		}
		/* Our end first, then what the client already sent and we
		 * did not read, so that it sees the answer and an end rather
		 * than a reset; no waiting for it (a client keeping the
		 * connection alive would make us wait for nothing). */
		shutdown(c, SHUT_WR);
		{
			struct pollfd p = { c, POLLIN, 0 };

			while (poll(&p, 1, 0) > 0 && read(c, drain, sizeof(drain)) > 0)
				;
		}
		close(c);
	}
}

static int __attribute__((unused))
serve_start(int kind, char *path, size_t pathsz)
{
	pthread_t t;

	if (serve.fd >= 0)
		return serve.port;
	serve.kind = kind;
	if (kind == SERVE_HTTP) {
		struct sockaddr_in sin;
		socklen_t sl = sizeof(sin);

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if ((serve.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
		    bind(serve.fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
		    getsockname(serve.fd, (struct sockaddr *)&sin, &sl) < 0) {
			perror("serve: 127.0.0.1");
			abort();
		}
		serve.port = ntohs(sin.sin_port);
	} else {
		struct sockaddr_un sun;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/sock", fuzz_dir()) >=
		    (int)sizeof(sun.sun_path)) {
			fprintf(stderr, "serve: '%s' is too long for a socket path\n", fuzz_dir());
			abort();
		}
		snprintf(path, pathsz, "%s", sun.sun_path);
		if ((serve.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
		    bind(serve.fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			perror(sun.sun_path);
			abort();
		}
	}
	if (listen(serve.fd, 64) < 0 || pthread_create(&t, NULL, serve_loop, NULL) != 0) {
		perror("serve");
		abort();
	}
	pthread_detach(t);
	return serve.port;
}

/* The answers for the requests that follow: data cut at SERVE_NEXT. */
static void __attribute__((unused))
serve_set(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	size_t i, sl = strlen(SERVE_NEXT);

	pthread_mutex_lock(&serve.lock);
	for (i = 0; i < serve.nparts; i++)
		free(serve.parts[i]);
	serve.nparts = 0;
	serve.served = 0;
	for (;;) {
		const char *cut = serve_find(p, (size_t)(end - p), SERVE_NEXT, sl, 0);
		size_t n = cut && serve.nparts < SERVE_MAX_PARTS - 1 ? (size_t)(cut - p) :
		    (size_t)(end - p);

		serve.parts[serve.nparts] = malloc(n + 1);
		if (!serve.parts[serve.nparts])
			abort();
		memcpy(serve.parts[serve.nparts], p, n);
		serve.lens[serve.nparts++] = n;
		if (n == (size_t)(end - p))
			break;
		p += n + sl;
	}
	pthread_mutex_unlock(&serve.lock);
}

#endif
