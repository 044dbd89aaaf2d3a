/*
 * haproxy: the runtime API client (see haproxy.h).  One connection per
 * command: connect, send "CMD\n", read until HAProxy closes, all under
 * one deadline.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/sock.h"
#include "core/timeutil.h"
#include "rollout/haproxy.h"

#define DEFAULT_TIMEOUT_MS 5000
/* Far above HAProxy's own line limit (tune.bufsize, 16 KiB by default):
 * only a cap against a runaway caller. */
#define CMD_MAX (1024 * 1024)
/* How much of a foreign string an error message quotes. */
#define SHOWN_MAX 120

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0		/* SO_NOSIGPIPE is set on the socket instead */
#endif

/*
 * At most SHOWN_MAX bytes of s[0..n) for a message, control and
 * non-ASCII bytes as '?': whatever HAProxy (or an attacker in the middle)
 * sends cannot forge lines on our stderr or flood it.
 */
static void
shown(char *dst, size_t dstsz, const char *s, size_t n)
{
	size_t i, max = dstsz - 4;

	if (max > SHOWN_MAX)
		max = SHOWN_MAX;
	for (i = 0; i < n && i < max; i++) {
		unsigned char ch = (unsigned char)s[i];

		dst[i] = ch < 0x20 || ch >= 0x7f ? '?' : (char)ch;
	}
	if (i < n) {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = '\0';
}

/* The first line of an answer, trimmed, for a message. */
static void
first_line(char *dst, size_t dstsz, const char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	n = strcspn(s, "\n");
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\r' || s[n - 1] == '\t'))
		n--;
	shown(dst, dstsz, s, n);
}

int
haproxy_check_name(const char *what, const char *name, struct err *e)
{
	char buf[SHOWN_MAX + 4];
	size_t n;

	if (!name || !*name)
		return err_set(e, EX_USAGE_, "empty haproxy %s name", what);
	n = strlen(name);
	if (n > HAPROXY_NAME_MAX || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._:-") != n) {
		shown(buf, sizeof(buf), name, n);
		return err_set(e, EX_USAGE_, "invalid haproxy %s name '%s': "
		    "use 1 to %d letters, digits and '._:-'", what, buf, HAPROXY_NAME_MAX);
	}
	return 0;
}

/* Refuse what HAProxy's CLI would read as more than one command: it
 * splits commands at ';' and at newlines. */
static int
check_cmd(const char *cmd, struct err *e)
{
	const unsigned char *p;
	char buf[SHOWN_MAX + 4];
	size_t n;

	if (!cmd || !*cmd)
		return err_set(e, EX_USAGE_, "empty haproxy command");
	n = strlen(cmd);
	shown(buf, sizeof(buf), cmd, n);
	if (n > CMD_MAX)
		return err_set(e, EX_USAGE_, "haproxy command '%s' is longer than 1 MiB", buf);
	for (p = (const unsigned char *)cmd; *p; p++) {
		if (*p == ';')
			return err_set(e, EX_USAGE_, "refusing haproxy command '%s': "
			    "';' would start another command", buf);
		if (*p == '\n' || *p == '\r')
			return err_set(e, EX_USAGE_, "refusing haproxy command '%s': "
			    "a newline would start another command", buf);
		if (*p < 0x20 || *p == 0x7f)
			return err_set(e, EX_USAGE_, "refusing haproxy command '%s': "
			    "it holds a control character", buf);
	}
	return 0;
}

/* Where the socket is. */
struct hap_addr {
	int family;		/* AF_UNIX; AF_INET, AF_INET6 or AF_UNSPEC: TCP */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char host[256];
	char port[6];
};

/* "HOST:PORT" or "[HOST]:PORT" into a; -1 when s is not of that form.
 * bare_colons: HOST may hold ':' without brackets (after "ipv6@"). */
static int
split_host_port(const char *s, int bare_colons, struct hap_addr *a)
{
	const char *host, *colon, *port;
	size_t hl, pl;
	long v;

	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -1;
		host = s + 1;
		hl = (size_t)(rb - host);
		colon = rb + 1;
	} else {
		if (!(colon = strrchr(s, ':')))
			return -1;
		host = s;
		hl = (size_t)(colon - s);
		if (!bare_colons && memchr(host, ':', hl))
			return -1;
	}
	port = colon + 1;
	pl = strlen(port);
	if (hl == 0 || hl >= sizeof(a->host) || pl == 0 || pl > 5 ||
	    strspn(port, "0123456789") != pl)
		return -1;
	v = strtol(port, NULL, 10);
	if (v < 1 || v > 65535)
		return -1;
	memcpy(a->host, host, hl);
	a->host[hl] = '\0';
	memcpy(a->port, port, pl + 1);
	return 0;
}

static int
parse_addr(const char *addr, struct hap_addr *a, struct err *e)
{
	const char *path = addr;

	memset(a, 0, sizeof(*a));
	if (strncmp(addr, "ipv4@", 5) == 0 || strncmp(addr, "ipv6@", 5) == 0) {
		a->family = addr[3] == '4' ? AF_INET : AF_INET6;
		if (split_host_port(addr + 5, a->family == AF_INET6, a) != 0)
			return err_set(e, EX_USAGE_, "invalid haproxy address '%s': "
			    "expected %sHOST:PORT", addr, a->family == AF_INET ? "ipv4@" : "ipv6@");
		return 0;
	}
	if (strncmp(addr, "unix@", 5) == 0) {
		path = addr + 5;
	} else if (!strchr(addr, '/') && split_host_port(addr, 0, a) == 0) {
		a->family = AF_UNSPEC;
		return 0;
	}
	/* Anything else names a Unix socket: "admin.sock" is a path too. */
	a->family = AF_UNIX;
	if (!*path)
		return err_set(e, EX_USAGE_, "invalid haproxy address '%s': no socket path", addr);
	if (strlen(path) >= sizeof(a->path))
		return err_set(e, EX_USAGE_, "haproxy socket path '%s' is too long "
		    "(at most %zu bytes)", path, sizeof(a->path) - 1);
	memcpy(a->path, path, strlen(path) + 1);
	return 0;
}

static int
unreachable(const char *addr, int err, const char *tbuf, struct err *e)
{
	if (err == ETIMEDOUT)
		return err_set(e, EX_SERVICE, "cannot reach haproxy at '%s': "
		    "no connection within %s", addr, tbuf);
	return err_set(e, EX_SERVICE, "cannot reach haproxy at '%s': %s", addr, strerror(err));
}

static int
open_addr(const char *addr, const struct hap_addr *a, long long deadline, const char *tbuf,
    struct err *e)
{
	struct addrinfo hints, *res, *ai;
	int fd, r, last = ECONNREFUSED;

	if (a->family == AF_UNIX) {
		struct sockaddr_un sun;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		memcpy(sun.sun_path, a->path, strlen(a->path) + 1);
		if ((fd = sock_connect(AF_UNIX, (struct sockaddr *)&sun, sizeof(sun), deadline)) < 0)
			return unreachable(addr, errno, tbuf, e);
		return fd;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = a->family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((r = getaddrinfo(a->host, a->port, &hints, &res)) != 0)
		return err_set(e, EX_SERVICE, "cannot reach haproxy at '%s': "
		    "cannot resolve '%s': %s", addr, a->host,
		    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
	/* Each address in turn (localhost is ::1 and 127.0.0.1), all under
	 * the one deadline. */
	for (ai = res; ai; ai = ai->ai_next) {
		if ((fd = sock_connect(ai->ai_family, ai->ai_addr, ai->ai_addrlen, deadline)) >= 0) {
			freeaddrinfo(res);
			return fd;
		}
		last = errno;
		if (last == ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	return unreachable(addr, last, tbuf, e);
}

/* Read until EOF into b: 0; -1 with errno; -2 past the deadline; -3 past
 * the cap of b. */
static int
read_all(int fd, struct buf *b, long long deadline)
{
	char chunk[65536];

	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));

		if (r == 0)
			return 0;
		if (r > 0) {
			if (buf_add(b, chunk, (size_t)r) != 0)
				return -3;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		switch (fd_wait(fd, POLLIN, deadline)) {
		case 0:
			return -2;
		case -1:
			return -1;
		}
	}
}

int
haproxy_cmd(const struct haproxy *h, const char *cmd, char **out, struct err *e)
{
	struct hap_addr a;
	struct buf ans;
	long long timeout, deadline;
	char tbuf[32], what[SHOWN_MAX + 4], *line;
	int fd, r, saved;

	*out = NULL;
	if (check_cmd(cmd, e) != 0)
		return -1;
	if (!h || !h->addr || !*h->addr)
		return err_set(e, EX_USAGE_, "no haproxy socket address");
	if (parse_addr(h->addr, &a, e) != 0)
		return -1;
	shown(what, sizeof(what), cmd, strlen(cmd));
	timeout = h->timeout_ms > 0 ? h->timeout_ms : DEFAULT_TIMEOUT_MS;
	format_duration(timeout, tbuf, sizeof(tbuf));
	deadline = mono_ms() + timeout;
	if ((fd = open_addr(h->addr, &a, deadline, tbuf, e)) < 0)
		return -1;

	line = xasprintf("%s\n", cmd);
	r = sock_send_all(fd, line, strlen(line), deadline);
	saved = errno;
	free(line);
	if (r != 0) {
		close(fd);
		if (saved == ETIMEDOUT)
			return err_set(e, EX_SERVICE, "haproxy at '%s': '%s': "
			    "cannot send it within %s", h->addr, what, tbuf);
		return err_set(e, EX_SERVICE, "haproxy at '%s': cannot send '%s': %s",
		    h->addr, what, strerror(saved));
	}

	buf_init(&ans, HAPROXY_ANSWER_MAX);
	r = read_all(fd, &ans, deadline);
	saved = errno;
	close(fd);
	if (r != 0) {
		buf_free(&ans);
		switch (r) {
		case -2:
			return err_set(e, EX_SERVICE, "haproxy at '%s': '%s': "
			    "no answer within %s", h->addr, what, tbuf);
		case -3:
			return err_set(e, EX_SERVICE, "haproxy at '%s': '%s': "
			    "the answer is longer than %d MiB", h->addr, what,
			    HAPROXY_ANSWER_MAX / (1024 * 1024));
		default:
			return err_set(e, EX_SERVICE, "haproxy at '%s': '%s': "
			    "cannot read the answer: %s", h->addr, what, strerror(saved));
		}
	}
	/* The answer is text; a NUL would cut it short unnoticed. */
	if (ans.len > 0 && memchr(ans.data, '\0', ans.len)) {
		buf_free(&ans);
		return err_set(e, EX_SERVICE, "haproxy at '%s': '%s': "
		    "the answer holds a NUL byte", h->addr, what);
	}
	*out = buf_detach(&ans, NULL);
	return 0;
}

/* HAProxy's complaint about cmd as an error: its first line.  The code
 * tells a name the spec got wrong from a socket that cannot do it. */
static int
refused(const struct haproxy *h, const char *cmd, const char *ans, struct err *e)
{
	/* HAProxy 2.6's words for a name it does not know. */
	static const char *const unknown[] = {
		"No such server", "No such backend", "Can't find backend",
		"Unknown map identifier", NULL
	};
	char words[SHOWN_MAX + 4];
	int i, code = EX_SERVICE;

	first_line(words, sizeof(words), ans);
	if (!*words)
		return err_set(e, EX_SERVICE, "haproxy at '%s': '%s': an empty answer",
		    h->addr, cmd);
	for (i = 0; unknown[i]; i++)
		if (strncmp(words, unknown[i], strlen(unknown[i])) == 0)
			code = EX_USAGE_;
	if (strncmp(words, "Permission denied", 17) == 0)
		code = EX_AUTH;
	return err_set(e, code, "haproxy at '%s': '%s': %s", h->addr, cmd, words);
}

/* Run a command that answers nothing (or an empty line) when it worked. */
static int
cmd_quiet(const struct haproxy *h, const char *cmd, struct err *e)
{
	char *ans;
	const char *p;
	int r = 0;

	if (haproxy_cmd(h, cmd, &ans, e) != 0)
		return -1;
	for (p = ans; *p == '\n' || *p == '\r' || *p == ' '; p++)
		;
	if (*p)
		r = refused(h, cmd, ans, e);
	free(ans);
	return r;
}

static int
check_names(const char *px, const char *sv, struct err *e)
{
	if (haproxy_check_name("backend", px, e) != 0 ||
	    haproxy_check_name("server", sv, e) != 0)
		return -1;
	return 0;
}

/* Digits at *p (at most max) into *v, advancing *p; -1 when none. */
static int
scan_uint(const char **p, long long max, long long *v)
{
	const char *s = *p;
	long long n = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (max - (*s - '0')) / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	*p = s;
	*v = n;
	return 0;
}

/* Only blanks and line ends from p on. */
static int
only_blanks(const char *p)
{
	return p[strspn(p, " \t\r\n")] == '\0';
}

/* "5 (initial 1)\n": 0, or -1 when the answer is not of that form. */
static int
parse_weight(const char *ans, int *cur, int *init)
{
	const char *p = ans;
	long long c, i;

	if (scan_uint(&p, INT_MAX, &c) != 0 || strncmp(p, " (initial ", 10) != 0)
		return -1;
	p += 10;
	if (scan_uint(&p, INT_MAX, &i) != 0 || *p++ != ')' || !only_blanks(p))
		return -1;
	*cur = (int)c;
	*init = (int)i;
	return 0;
}

int
haproxy_get_weight(const struct haproxy *h, const char *px, const char *sv,
    int *cur, int *init, struct err *e)
{
	char *cmd, *ans, buf[SHOWN_MAX + 4];
	int r = 0, c, i;

	if (check_names(px, sv, e) != 0)
		return -1;
	cmd = xasprintf("get weight %s/%s", px, sv);
	if (haproxy_cmd(h, cmd, &ans, e) != 0) {
		free(cmd);
		return -1;
	}
	if (parse_weight(ans, &c, &i) == 0) {
		if (cur)
			*cur = c;
		if (init)
			*init = i;
	} else if (*ans < '0' || *ans > '9') {
		r = refused(h, cmd, ans, e);
	} else {
		first_line(buf, sizeof(buf), ans);
		r = err_set(e, EX_SERVICE, "haproxy at '%s': '%s': "
		    "expected 'N (initial N)', got '%s'", h->addr, cmd, buf);
	}
	free(ans);
	free(cmd);
	return r;
}

int
haproxy_set_weight(const struct haproxy *h, const char *px, const char *sv, int w,
    struct err *e)
{
	char *cmd;
	int r;

	if (check_names(px, sv, e) != 0)
		return -1;
	if (w < 0 || w > 256)
		return err_set(e, EX_USAGE_, "weight %d for '%s/%s' is out of range: "
		    "HAProxy takes 0 to 256", w, px, sv);
	cmd = xasprintf("set weight %s/%s %d", px, sv, w);
	r = cmd_quiet(h, cmd, e);
	free(cmd);
	return r;
}

int
haproxy_set_state(const struct haproxy *h, const char *px, const char *sv,
    const char *state, struct err *e)
{
	char *cmd, buf[SHOWN_MAX + 4];
	int r;

	if (check_names(px, sv, e) != 0)
		return -1;
	if (!state || (strcmp(state, "ready") != 0 && strcmp(state, "drain") != 0 &&
	    strcmp(state, "maint") != 0)) {
		shown(buf, sizeof(buf), state ? state : "", state ? strlen(state) : 0);
		return err_set(e, EX_USAGE_, "invalid server state '%s' for '%s/%s': "
		    "use ready, drain or maint", buf, px, sv);
	}
	cmd = xasprintf("set server %s/%s state %s", px, sv, state);
	r = cmd_quiet(h, cmd, e);
	free(cmd);
	return r;
}

int
haproxy_shutdown_sessions(const struct haproxy *h, const char *px, const char *sv,
    struct err *e)
{
	char *cmd;
	int r;

	if (check_names(px, sv, e) != 0)
		return -1;
	cmd = xasprintf("shutdown sessions server %s/%s", px, sv);
	r = cmd_quiet(h, cmd, e);
	free(cmd);
	return r;
}

/* A map name or an entry that stays one word of one command line. */
static int
map_word(const char *what, const char *s, struct err *e)
{
	char buf[SHOWN_MAX + 4];
	const char *p;

	for (p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == ';' || *p == '\\' || *p == 0x7f)
			break;
	if (*s && !*p)
		return 0;
	shown(buf, sizeof(buf), s, strlen(s));
	return err_set(e, EX_USAGE_, "%s '%s': not one word without ';' or '\\' for the "
	    "runtime API", what, buf);
}

int
haproxy_map_get(const struct haproxy *h, const char *map, const char *key, char **value,
    struct err *e)
{
	char *cmd, *ans, *line, *next, buf[SHOWN_MAX + 4];
	int r = 0;

	*value = NULL;
	if (map_word("map", map, e) != 0 || map_word("map key", key, e) != 0)
		return -1;
	cmd = xasprintf("show map %s", map);
	if (haproxy_cmd(h, cmd, &ans, e) != 0) {
		free(cmd);
		return -1;
	}
	/* Each entry is "0xID KEY VALUE"; a complaint is anything else. */
	for (line = ans; *line && r == 0; line = next) {
		char *k, *v, *end;

		next = line + strcspn(line, "\n");
		if (*next)
			*next++ = '\0';
		if (!*line || *line == '\r')
			continue;
		if (strncmp(line, "0x", 2) != 0 || !(k = strchr(line, ' '))) {
			first_line(buf, sizeof(buf), line);
			r = line == ans ? refused(h, cmd, line, e) :
			    err_set(e, EX_SERVICE, "haproxy at '%s': '%s': expected '0xID KEY "
			    "VALUE', got '%s'", h->addr, cmd, buf);
			break;
		}
		k++;
		if (!(v = strchr(k, ' ')))
			continue;
		*v++ = '\0';
		if ((end = strchr(v, '\r')))
			*end = '\0';
		if (!strcmp(k, key) && !*value)
			*value = xstrdup(v);
	}
	free(ans);
	free(cmd);
	if (r != 0) {
		free(*value);
		*value = NULL;
		return -1;
	}
	return *value ? 1 : 0;
}

int
haproxy_map_set(const struct haproxy *h, const char *map, const char *key, const char *value,
    struct err *e)
{
	char *cur = NULL, *cmd;
	int had, r;

	if ((had = haproxy_map_get(h, map, key, &cur, e)) < 0)
		return -1;
	if (value && map_word("map value", value, e) != 0) {
		free(cur);
		return -1;
	}
	if (!value && !had)
		return 0;
	if (value && had && !strcmp(cur, value)) {
		free(cur);
		return 0;
	}
	free(cur);
	if (!value)
		cmd = xasprintf("del map %s %s", map, key);
	else if (had)
		cmd = xasprintf("set map %s %s %s", map, key, value);
	else
		cmd = xasprintf("add map %s %s %s", map, key, value);
	r = cmd_quiet(h, cmd, e);
	free(cmd);
	return r;
}

int
haproxy_save_state(const struct haproxy *h, const char *px, const char *path, struct err *e)
{
	char *cmd, *ans, buf[SHOWN_MAX + 4];
	int r;

	if (px && haproxy_check_name("backend", px, e) != 0)
		return -1;
	if (!path || !*path)
		return err_set(e, EX_USAGE_, "no path for the haproxy server-state file");
	cmd = px ? xasprintf("show servers state %s", px) : xstrdup("show servers state");
	if (haproxy_cmd(h, cmd, &ans, e) != 0) {
		free(cmd);
		return -1;
	}
	/* The file format's version comes first ("1" from HAProxy 2.6).
	 * Anything else is a complaint or a format we do not know, and must
	 * not replace a good file. */
	if (strncmp(ans, "1\n", 2) == 0) {
		r = atomic_write(path, ans, strlen(ans), 0644, e);
	} else if (*ans >= '0' && *ans <= '9') {
		first_line(buf, sizeof(buf), ans);
		r = err_set(e, EX_SERVICE, "haproxy at '%s': '%s': "
		    "unknown server-state version '%s' (expected '1')", h->addr, cmd, buf);
	} else {
		r = refused(h, cmd, ans, e);
	}
	free(ans);
	free(cmd);
	return r;
}

int
haproxy_info(const struct haproxy *h, long long *pid, long long *uptime_sec, struct err *e)
{
	static const char *const names[2] = { "Pid", "Uptime_sec" };
	long long v[2];
	int found[2] = { 0, 0 }, i, r = 0;
	size_t lineno = 0;
	char *ans, buf[SHOWN_MAX + 4];
	const char *line, *next;

	if (haproxy_cmd(h, "show info", &ans, e) != 0)
		return -1;
	/* "Name: value" lines; an answer without a colon on its first line
	 * is HAProxy refusing. */
	if (!memchr(ans, ':', strcspn(ans, "\n"))) {
		r = refused(h, "show info", ans, e);
		free(ans);
		return r;
	}
	for (line = ans; *line && r == 0; line = next) {
		size_t len = strcspn(line, "\n");

		next = line[len] ? line + len + 1 : line + len;
		lineno++;
		for (i = 0; i < 2; i++) {
			size_t nl = strlen(names[i]);
			const char *p, *end = line + len;

			if (len < nl + 2 || strncmp(line, names[i], nl) != 0 ||
			    line[nl] != ':' || line[nl + 1] != ' ')
				continue;
			p = line + nl + 2;
			while (end > p && end[-1] == '\r')
				end--;
			if (scan_uint(&p, LLONG_MAX, &v[i]) != 0 || p != end) {
				shown(buf, sizeof(buf), line + nl + 2, (size_t)(end - line) - nl - 2);
				r = err_set(e, EX_SERVICE, "haproxy at '%s': 'show info':%zu: "
				    "'%s' is not a number: '%s'", h->addr, lineno, names[i], buf);
				break;
			}
			found[i] = 1;
		}
	}
	free(ans);
	if (r != 0)
		return r;
	for (i = 0; i < 2; i++)
		if (!found[i])
			return err_set(e, EX_SERVICE, "haproxy at '%s': 'show info': "
			    "no '%s' line", h->addr, names[i]);
	if (pid)
		*pid = v[0];
	if (uptime_sec)
		*uptime_sec = v[1];
	return 0;
}

/*
 * The CSV of "show stat".  HAProxy writes one header line, "# " and the
 * column names, then one line per proxy, frontend, backend and server;
 * every line ends with a comma, so the last column has no name.  String
 * fields are quoted when they hold a comma, a quote or a line break
 * (csv_enc() in HAProxy's tools.c), so a field may span lines.
 */
enum {
	F_PX, F_SV, F_STOT, F_REQ_TOT, F_HRSP_OTHER, F_HRSP_1XX, F_HRSP_2XX,
	F_HRSP_3XX, F_HRSP_4XX, F_HRSP_5XX, F_ECON, F_ERESP, F_WEIGHT,
	F_STATUS, F_CHECK_STATUS, F_RTIME, F_COOKIE, F_ALGO, F_ADDR, NFIELDS
};

static const struct {
	const char *name;
	int required;
} columns[NFIELDS] = {
	[F_PX] = { "pxname", 1 },
	[F_SV] = { "svname", 1 },
	[F_STOT] = { "stot", 1 },
	[F_REQ_TOT] = { "req_tot", 0 },
	[F_HRSP_OTHER] = { "hrsp_other", 0 },
	[F_HRSP_1XX] = { "hrsp_1xx", 0 },
	[F_HRSP_2XX] = { "hrsp_2xx", 0 },
	[F_HRSP_3XX] = { "hrsp_3xx", 0 },
	[F_HRSP_4XX] = { "hrsp_4xx", 0 },
	[F_HRSP_5XX] = { "hrsp_5xx", 0 },
	[F_ECON] = { "econ", 0 },
	[F_ERESP] = { "eresp", 0 },
	[F_WEIGHT] = { "weight", 1 },
	[F_STATUS] = { "status", 1 },
	[F_CHECK_STATUS] = { "check_status", 0 },
	[F_RTIME] = { "rtime", 0 },
	[F_COOKIE] = { "cookie", 0 },
	[F_ALGO] = { "algo", 0 },
	[F_ADDR] = { "addr", 0 },
};

struct csv {
	const char *p, *end;	/* what is left to read */
	const char *line;	/* where the current line starts, for columns */
	size_t lineno;
	const char *name;	/* for messages */
};

struct field {
	const char *s;		/* the raw bytes, quotes included */
	size_t len;
	size_t lineno, col;	/* where it starts */
	int quoted;
};

/* Scan the field at c->p into f: 1 when a comma follows (more fields in
 * this row), 0 at the end of the row (its line end consumed), -1 on a
 * malformed quoted field. */
static int
csv_field(struct csv *c, struct field *f, struct err *e)
{
	const char *p = c->p;

	f->s = p;
	f->lineno = c->lineno;
	f->col = (size_t)(p - c->line) + 1;
	f->quoted = 0;
	if (p < c->end && *p == '"') {
		f->quoted = 1;
		for (p++;; p++) {
			if (p == c->end)
				return err_set(e, EX_SERVICE, "%s:%zu:%zu: a quoted field never ends",
				    c->name, f->lineno, f->col);
			if (*p == '"') {
				if (p + 1 < c->end && p[1] == '"') {
					p++;
					continue;
				}
				break;
			}
			if (*p == '\n') {
				c->lineno++;
				c->line = p + 1;
			}
		}
		p++;
		f->len = (size_t)(p - f->s);
		if (p + 1 < c->end && p[0] == '\r' && p[1] == '\n')
			p++;
		if (p < c->end && *p != ',' && *p != '\n')
			return err_set(e, EX_SERVICE, "%s:%zu:%zu: text after a closing quote",
			    c->name, c->lineno, (size_t)(p - c->line) + 1);
	} else {
		while (p < c->end && *p != ',' && *p != '\n')
			p++;
		f->len = (size_t)(p - f->s);
		if (p < c->end && *p == '\n' && f->len > 0 && p[-1] == '\r')
			f->len--;
	}
	if (p == c->end) {
		c->p = p;
		return 0;
	}
	c->p = p + 1;
	if (*p == ',')
		return 1;
	c->lineno++;
	c->line = c->p;
	return 0;
}

/* The text of a field, quotes undone; owned by the caller. */
static char *
field_text(const struct field *f)
{
	char *out, *o;
	size_t i;

	if (!f->quoted)
		return xstrndup(f->s, f->len);
	out = o = xmalloc(f->len);
	/* Between the quotes, "" stands for one quote. */
	for (i = 1; i + 1 < f->len; i++) {
		*o++ = f->s[i];
		if (f->s[i] == '"')
			i++;
	}
	*o = '\0';
	return out;
}

/* A numeric field: -1 when empty, else a decimal integer. */
static int
field_number(const struct csv *c, const struct field *f, int col, long long *v, struct err *e)
{
	char *text = f->quoted ? field_text(f) : NULL;
	const char *s = text ? text : f->s;
	size_t n = text ? strlen(text) : f->len, i = 0;
	char buf[SHOWN_MAX + 4];
	long long m = 0;
	int neg = 0;

	if (n == 0) {
		*v = -1;
		free(text);
		return 0;
	}
	if (s[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i == n)
		goto bad;
	for (; i < n; i++) {
		int d = s[i] - '0';

		if (d < 0 || d > 9 || m > (LLONG_MAX - d) / 10)
			goto bad;
		m = m * 10 + d;
	}
	*v = neg ? -m : m;
	free(text);
	return 0;
bad:
	shown(buf, sizeof(buf), s, n);
	free(text);
	return err_set(e, EX_SERVICE, "%s:%zu:%zu: '%s' is not a number: '%s'",
	    c->name, f->lineno, f->col, columns[col].name, buf);
}

static void
row_free(struct hap_row *r)
{
	free(r->px);
	free(r->sv);
	free(r->status);
	free(r->check_status);
	free(r->cookie);
	free(r->algo);
	free(r->addr);
}

void
hap_stat_free(struct hap_stat *st)
{
	size_t i;

	if (!st)
		return;
	for (i = 0; i < st->n; i++)
		row_free(&st->rows[i]);
	free(st->rows);
	st->rows = NULL;
	st->n = 0;
}

/* The header line: which column holds each field we read. */
static int
stat_header(struct csv *c, long col_of[NFIELDS], size_t *ncols, struct err *e)
{
	struct field f;
	char buf[SHOWN_MAX + 4], missing[256];
	size_t n = 0, used = 0;
	int i, r;

	for (i = 0; i < NFIELDS; i++)
		col_of[i] = -1;
	if (c->p == c->end)
		return err_set(e, EX_SERVICE, "%s: an empty answer, no '# pxname,svname,...' header",
		    c->name);
	if (*c->p != '#') {
		first_line(buf, sizeof(buf), c->p);
		return err_set(e, EX_SERVICE, "%s:1: no '# pxname,svname,...' header: '%s'",
		    c->name, buf);
	}
	for (c->p++; c->p < c->end && *c->p == ' '; c->p++)
		;
	do {
		if ((r = csv_field(c, &f, e)) < 0)
			return -1;
		for (i = 0; i < NFIELDS; i++)
			if (col_of[i] < 0 && !f.quoted && f.len == strlen(columns[i].name) &&
			    memcmp(f.s, columns[i].name, f.len) == 0)
				col_of[i] = (long)n;
		n++;
	} while (r == 1);
	missing[0] = '\0';
	for (i = 0; i < NFIELDS; i++) {
		if (col_of[i] >= 0 || !columns[i].required)
			continue;
		r = snprintf(missing + used, sizeof(missing) - used, "%s'%s'",
		    used ? ", " : "", columns[i].name);
		if (r > 0 && (size_t)r < sizeof(missing) - used)
			used += (size_t)r;
	}
	if (used)
		return err_set(e, EX_SERVICE, "%s:1: the header lacks the column%s %s",
		    c->name, strchr(missing, ',') ? "s" : "", missing);
	*ncols = n;
	return 0;
}

/* One data row into row (zeroed by the caller, who frees it also when
 * this fails half-way). */
static int
stat_row(struct csv *c, const long col_of[NFIELDS], size_t ncols, struct hap_row *row,
    struct err *e)
{
	struct field f, got[NFIELDS];
	long long *num[NFIELDS] = { 0 };
	char **str[NFIELDS] = { 0 };
	size_t n = 0, lineno = c->lineno;
	int i, r;

	do {
		if ((r = csv_field(c, &f, e)) < 0)
			return -1;
		for (i = 0; i < NFIELDS; i++)
			if (col_of[i] == (long)n)
				got[i] = f;
		n++;
	} while (r == 1);
	if (n != ncols)
		return err_set(e, EX_SERVICE, "%s:%zu: %zu field%s where the header has %zu",
		    c->name, lineno, n, n == 1 ? "" : "s", ncols);

	num[F_STOT] = &row->stot;
	num[F_REQ_TOT] = &row->req_tot;
	num[F_HRSP_OTHER] = &row->hrsp[0];
	num[F_HRSP_1XX] = &row->hrsp[1];
	num[F_HRSP_2XX] = &row->hrsp[2];
	num[F_HRSP_3XX] = &row->hrsp[3];
	num[F_HRSP_4XX] = &row->hrsp[4];
	num[F_HRSP_5XX] = &row->hrsp[5];
	num[F_ECON] = &row->econ;
	num[F_ERESP] = &row->eresp;
	num[F_WEIGHT] = &row->weight;
	num[F_RTIME] = &row->rtime;
	str[F_PX] = &row->px;
	str[F_SV] = &row->sv;
	str[F_STATUS] = &row->status;
	str[F_CHECK_STATUS] = &row->check_status;
	str[F_COOKIE] = &row->cookie;
	str[F_ALGO] = &row->algo;
	str[F_ADDR] = &row->addr;
	/* Strings first, so that every row (even a failed one) has them. */
	for (i = 0; i < NFIELDS; i++)
		if (str[i])
			*str[i] = col_of[i] >= 0 ? field_text(&got[i]) : xstrdup("");
	for (i = 0; i < NFIELDS; i++) {
		if (!num[i])
			continue;
		*num[i] = -1;
		if (col_of[i] >= 0 && field_number(c, &got[i], i, num[i], e) != 0)
			return -1;
	}
	return 0;
}

int
hap_stat_parse(const char *csv, const char *name, struct hap_stat *st, struct err *e)
{
	struct csv c;
	long col_of[NFIELDS];
	size_t ncols = 0, alloc = 0;

	st->rows = NULL;
	st->n = 0;
	c.p = c.line = csv ? csv : "";
	c.end = c.p + strlen(c.p);
	c.lineno = 1;
	c.name = name ? name : "show stat";
	if (stat_header(&c, col_of, &ncols, e) != 0)
		return -1;
	while (c.p < c.end) {
		struct hap_row *row;

		/* HAProxy ends the dump with an empty line; an empty line
		 * with rows after it is two answers run together. */
		if (*c.p == '\n' || (*c.p == '\r' && c.p + 1 < c.end && c.p[1] == '\n')) {
			if (c.p[strspn(c.p, "\r\n")] == '\0')
				break;
			hap_stat_free(st);
			return err_set(e, EX_SERVICE, "%s:%zu: an empty line before more rows",
			    c.name, c.lineno);
		}
		if (st->n == alloc) {
			alloc = alloc ? alloc * 2 : 16;
			st->rows = xrealloc(st->rows, alloc * sizeof(*st->rows));
		}
		row = &st->rows[st->n++];
		memset(row, 0, sizeof(*row));
		if (stat_row(&c, col_of, ncols, row, e) != 0) {
			hap_stat_free(st);
			return -1;
		}
	}
	return 0;
}

const struct hap_row *
hap_stat_find(const struct hap_stat *st, const char *px, const char *sv)
{
	size_t i;

	if (!st || !px || !sv)
		return NULL;
	for (i = 0; i < st->n; i++)
		if (strcmp(st->rows[i].px, px) == 0 && strcmp(st->rows[i].sv, sv) == 0)
			return &st->rows[i];
	return NULL;
}

int
haproxy_show_stat(const struct haproxy *h, struct hap_stat *st, struct err *e)
{
	char *ans;
	int r;

	st->rows = NULL;
	st->n = 0;
	if (haproxy_cmd(h, "show stat", &ans, e) != 0)
		return -1;
	r = hap_stat_parse(ans, "show stat", st, e);
	free(ans);
	if (r != 0)
		return err_prefix(e, "haproxy at '%s'", h->addr);
	return 0;
}
