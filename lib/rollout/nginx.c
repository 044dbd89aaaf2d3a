/*
 * nginx: the nginx traffic driver (see nginx.h).  The file is the whole
 * interface: written whole, checked by nginx, reloaded, read back.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/proc.h"
#include "rollout/nginx.h"

#define CMD_TIMEOUT_MS (30 * 1000)
/* Ours is a few lines; a previous file of someone else's is kept in
 * memory to be put back, so it has a cap too. */
#define FILE_MAX (1024 * 1024)
/* For a limit in a message. */
#define STR_(x) #x
#define STR(x) STR_(x)
#define NAME_MAX_ 128
#define ADDR_MAX 256
/* A route's header name and value. */
#define ROUTE_MAX 100
/* How much of a foreign string, of a command and of its output a message
 * quotes. */
#define SHOWN_MAX 80
#define CMD_SHOWN 200
#define TAIL_MAX 400
#define TAIL_LINES 3

static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* At most dstsz - 4 bytes of s[0..n) for a message, control bytes as
 * '?': a file or a spec cannot forge lines on our stderr. */
static void
shown(char *dst, size_t dstsz, const char *s, size_t n)
{
	size_t i, max = dstsz - 4;

	for (i = 0; i < n && i < max; i++) {
		unsigned char ch = (unsigned char)s[i];

		dst[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	if (i < n) {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = '\0';
}

/* 0 when s is 1 to max bytes of alnum and extra; else -1 with e saying
 * before 's' after, s shown. */
static int
check_word(const char *s, size_t max, const char *extra, const char *before,
    const char *after, struct err *e)
{
	char buf[SHOWN_MAX + 4];
	size_t n = s ? strlen(s) : 0, k;

	for (k = 0; k < n && k < max; k++)
		if (!strchr(alnum, s[k]) && !strchr(extra, s[k]))
			break;
	if (n > 0 && k == n)
		return 0;
	shown(buf, sizeof(buf), s ? s : "", n);
	return err_set(e, EX_USAGE_, "%s'%s'%s", before, buf, after);
}

int
nginx_check_upstream(const char *name, struct err *e)
{
	return check_word(name, NAME_MAX_, "._-", "invalid nginx upstream name ",
	    ": use 1 to " STR(NAME_MAX_) " letters, digits and '._-'", e);
}

int
nginx_check_server(const char *addr, struct err *e)
{
	return check_word(addr, ADDR_MAX, "._-:/[]", "invalid nginx server address ",
	    ": expected HOST:PORT, [V6]:PORT or unix:PATH, in letters, digits and '._-:/[]'", e);
}

int
nginx_check_header(const char *name, struct err *e)
{
	return check_word(name, ROUTE_MAX, "-_", "nginx reads a header as $http_NAME: ",
	    " must be 1 to " STR(ROUTE_MAX) " letters, digits, '-' and '_'", e);
}

int
nginx_check_route_value(const char *v, struct err *e)
{
	char buf[SHOWN_MAX + 4];
	const char *why = NULL;
	size_t n = v ? strlen(v) : 0, k;

	for (k = 0; k < n && !why; k++)
		if ((unsigned char)v[k] <= ' ' || (unsigned char)v[k] >= 0x7f ||
		    strchr("\"\\${};", v[k]))
			why = "use printable ASCII without blanks, '\"', '\\', '$', '{', '}' or ';', "
			    "which would not stay one string of nginx's map";
	if (!why && (n == 0 || n > ROUTE_MAX))
		why = "use 1 to " STR(ROUTE_MAX) " bytes";
	else if (!why && v[0] == '~')
		why = "nginx's map takes a value starting with '~' for a regular expression";
	else if (!why && (!strcmp(v, "default") || !strcmp(v, "include")))
		why = "'default' and 'include' are words of nginx's map";
	if (!why)
		return 0;
	shown(buf, sizeof(buf), v ? v : "", n);
	return err_set(e, EX_USAGE_, "'%s': %s", buf, why);
}

/* The name of a variable of ours for upstream: prefix and the upstream's
 * name, with what a variable name cannot hold as '_'. */
static void
upstream_var(char *dst, size_t dstsz, const char *prefix, const char *upstream)
{
	size_t i = (size_t)snprintf(dst, dstsz, "%s", prefix);

	for (; *upstream && i + 1 < dstsz; upstream++)
		dst[i++] = ((*upstream >= 'a' && *upstream <= 'z') || (*upstream >= 'A' &&
		    *upstream <= 'Z') || (*upstream >= '0' && *upstream <= '9')) ? *upstream : '_';
	dst[i] = '\0';
}

/* nginx's variable for a cookie or a header: $cookie_NAME, or
 * $http_NAME lowercased with '-' as '_'. */
static void
name_var(char *dst, size_t dstsz, int sticky, const char *name)
{
	size_t i = (size_t)snprintf(dst, dstsz, "$%s_", sticky == STICKY_COOKIE ? "cookie" : "http");

	for (; *name && i + 1 < dstsz; name++)
		dst[i++] = sticky == STICKY_COOKIE ? *name : *name == '-' ? '_' :
		    (*name >= 'A' && *name <= 'Z') ? (char)(*name - 'A' + 'a') : *name;
	dst[i] = '\0';
}

/* What stickiness adds before the block (the map) and in it (hash). */
static void
sticky_text(const struct nginx_file *f, struct buf *pre, struct buf *hash)
{
	char var[NAME_MAX_ + 16], nv[NAME_MAX_ + 16];

	if (f->sticky == STICKY_NONE)
		return;
	if (f->sticky == STICKY_SOURCE) {
		buf_adds(hash, "    hash $remote_addr consistent;\n");
		return;
	}
	/* Users without the cookie or header yet hash by their address, not
	 * all onto one server by the empty string. */
	upstream_var(var, sizeof(var), "ci_sticky_", f->upstream);
	name_var(nv, sizeof(nv), f->sticky, f->sticky_name ? f->sticky_name : "");
	buf_addf(pre, "map %s $%s {\n    \"\" $remote_addr;\n    default %s;\n}\n", nv, var, nv);
	buf_addf(hash, "    hash $%s consistent;\n", var);
}

/* What a route adds: its map, after the sticky one, and while it leads
 * to the canary the canary's upstream after the block. */
static void
route_text(const struct nginx_file *f, int to_canary, struct buf *pre, struct buf *post)
{
	char var[NAME_MAX_ + 16], nv[ROUTE_MAX + 16];

	if (!f->route_header)
		return;
	upstream_var(var, sizeof(var), "ci_route_", f->upstream);
	name_var(nv, sizeof(nv), STICKY_HEADER, f->route_header);
	buf_addf(pre, "map %s $%s {\n    \"%s\" %s%s;\n    default %s;\n}\n", nv, var,
	    f->route_value, f->upstream, to_canary ? "_canary" : "", f->upstream);
	if (to_canary)
		buf_addf(post, "upstream %s_canary {\n    server %s;\n}\n", f->upstream,
		    f->addr[f->canary]);
}

/* 1 when the route leads to the canary's upstream: it has part of the
 * traffic (it is up, and so is another server). */
static int
route_to_canary(const struct nginx_file *f, const int w[TRAFFIC_SERVERS_MAX])
{
	int i, others = 0;

	if (!f->route_header)
		return 0;
	for (i = 0; i < TRAFFIC_SERVERS_MAX && f->addr[i]; i++)
		if (i != f->canary)
			others += w[i];
	return w[f->canary] > 0 && others > 0;
}

char *
nginx_render(const struct nginx_file *f, const int w[TRAFFIC_SERVERS_MAX])
{
	struct buf b = BUF_INIT, hash = BUF_INIT, post = BUF_INIT;
	int i;

	sticky_text(f, &b, &hash);
	route_text(f, route_to_canary(f, w), &b, &post);
	buf_addf(&b, "upstream %s {\n", f->upstream);
	buf_adds(&b, buf_str(&hash));
	for (i = 0; i < TRAFFIC_SERVERS_MAX && f->addr[i]; i++) {
		if (w[i] > 0)
			buf_addf(&b, "    server %s weight=%d;\n", f->addr[i], w[i]);
		else
			buf_addf(&b, "    server %s down;\n", f->addr[i]);
	}
	buf_adds(&b, "}\n");
	buf_adds(&b, buf_str(&post));
	buf_free(&hash);
	buf_free(&post);
	return buf_detach(&b, NULL);
}

/* Split line (modified) into at most max words at blanks; returns how
 * many there were, max + 1 when more. */
static int
split_words(char *line, char **w, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (!*p)
			return n;
		if (n == max)
			return max + 1;
		w[n++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r')
			p++;
		if (*p)
			*p++ = '\0';
	}
}

/* "weight=N;" (1..100) or "down;" into *w (0 for down); -1 otherwise. */
static int
parse_weight(const char *s, int *w)
{
	const char *p;
	int v = 0;

	if (!strcmp(s, "down;")) {
		*w = 0;
		return 0;
	}
	if (strncmp(s, "weight=", 7))
		return -1;
	for (p = s + 7; *p >= '0' && *p <= '9' && p - s < 11; p++)
		v = v * 10 + (*p - '0');
	if (p == s + 7 || strcmp(p, ";") || v < 1 || v > 100 || s[7] == '0')
		return -1;
	*w = v;
	return 0;
}

static int
refuse_line(struct err *e, const char *path, int lineno, const char *line, const char *what)
{
	char buf[SHOWN_MAX + 4];
	size_t n;

	while (*line == ' ' || *line == '\t')
		line++;
	n = strlen(line);
	while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
		n--;
	shown(buf, sizeof(buf), line, n);
	return err_set(e, EX_USAGE_, "%s:%d: '%s': %s; ci-canary reads back only the upstream "
	    "block it writes, so traffic.file must be a file of its own", path, lineno, buf, what);
}

/* One line of the block, in words: a server (its weight into w, seen
 * marked), or the closing brace (1); -1 with e set for anything else. */
static int
body_line(char **word, int n, const struct nginx_file *f, int w[TRAFFIC_SERVERS_MAX],
    int seen[TRAFFIC_SERVERS_MAX], const char *path, int lineno, const char *orig,
    struct err *e)
{
	int i, v;

	if (n == 1 && !strcmp(word[0], "}"))
		return 1;
	if (n != 3 || strcmp(word[0], "server"))
		return refuse_line(e, path, lineno, orig,
		    "expected 'server ADDRESS weight=N;', 'server ADDRESS down;' or '}'");
	for (i = 0; i < TRAFFIC_SERVERS_MAX && f->addr[i] && strcmp(word[1], f->addr[i]); i++)
		;
	if (i == TRAFFIC_SERVERS_MAX || !f->addr[i])
		return refuse_line(e, path, lineno, orig, "a server not in traffic.servers");
	if (seen[i])
		return refuse_line(e, path, lineno, orig, "the same server twice");
	if (parse_weight(word[2], &v) < 0)
		return refuse_line(e, path, lineno, orig,
		    "expected 'weight=N;' (N from 1 to 100) or 'down;' after the address");
	seen[i] = 1;
	w[i] = v;
	return 0;
}

/* The next non-blank line of text at *p, its words joined by one blank,
 * into a buf; 0 at the end. */
static int
next_norm(const char **p, struct buf *out)
{
	char *line, *word[64];
	int n, i;

	while (**p) {
		const char *nl = strchr(*p, '\n');
		size_t len = nl ? (size_t)(nl - *p) : strlen(*p);

		line = xstrndup(*p, len);
		*p += len + (nl ? 1 : 0);
		n = split_words(line, word, 63);
		if (n == 0) {
			free(line);
			continue;
		}
		buf_reset(out);
		for (i = 0; i < n && i < 63; i++)
			buf_addf(out, "%s%s", i ? " " : "", word[i]);
		free(line);
		return 1;
	}
	return 0;
}

/* The lines the file holds around its servers, in order, words joined by
 * one blank: the maps before the block, the hash line in it, the canary's
 * upstream after it. */
#define WANTS_MAX 16
struct wants {
	char *line[WANTS_MAX];
	char *alt[WANTS_MAX];		/* the route's line in its other state, or NULL */
	const char *why[WANTS_MAX];	/* the spec's key that asks for it */
	int n, at;
};

/* Add the lines of text, each with alt_text's line at its place when
 * that differs. */
static void
wants_add(struct wants *ws, const char *text, const char *alt_text, const char *why)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	const char *p = text, *q = alt_text ? alt_text : text;

	while (ws->n < WANTS_MAX && next_norm(&p, &a)) {
		int more = next_norm(&q, &b);

		ws->line[ws->n] = xstrdup(buf_str(&a));
		ws->alt[ws->n] = more && strcmp(buf_str(&a), buf_str(&b)) ? xstrdup(buf_str(&b)) :
		    NULL;
		ws->why[ws->n++] = why;
	}
	buf_free(&a);
	buf_free(&b);
}

static void
wants_free(struct wants *ws)
{
	int i;

	for (i = 0; i < ws->n; i++) {
		free(ws->line[i]);
		free(ws->alt[i]);
	}
}

/* The wants of a file of f: before, in and after the block. */
static void
wants_init(const struct nginx_file *f, struct wants *pre, struct wants *hash,
    struct wants *post)
{
	struct buf smap = BUF_INIT, hline = BUF_INIT, rmap = BUF_INIT, rmap0 = BUF_INIT,
	    cblock = BUF_INIT;

	memset(pre, 0, sizeof(*pre));
	memset(hash, 0, sizeof(*hash));
	memset(post, 0, sizeof(*post));
	sticky_text(f, &smap, &hline);
	route_text(f, 1, &rmap, &cblock);
	route_text(f, 0, &rmap0, &cblock);
	wants_add(pre, buf_str(&smap), NULL, "traffic.sticky");
	wants_add(pre, buf_str(&rmap), buf_str(&rmap0), "traffic.route");
	wants_add(hash, buf_str(&hline), NULL, "traffic.sticky");
	wants_add(post, buf_str(&cblock), NULL, "traffic.route");
	buf_free(&smap);
	buf_free(&hline);
	buf_free(&rmap);
	buf_free(&rmap0);
	buf_free(&cblock);
}

/* Match line (normalized) with the next of ws: 0 (*alt 0 or 1 for the
 * line or its other state), or -1 with e set. */
static int
want_line(struct wants *ws, const char *line, int *alt, const char *path, int lineno,
    const char *orig, struct err *e)
{
	char what[2 * SHOWN_MAX + 64], a[SHOWN_MAX + 4], b[SHOWN_MAX + 4];
	int k = ws->at;

	*alt = 0;
	if (!strcmp(line, ws->line[k])) {
		ws->at++;
		return 0;
	}
	if (ws->alt[k] && !strcmp(line, ws->alt[k])) {
		*alt = 1;
		ws->at++;
		return 0;
	}
	shown(a, sizeof(a), ws->line[k], strlen(ws->line[k]));
	if (ws->alt[k]) {
		shown(b, sizeof(b), ws->alt[k], strlen(ws->alt[k]));
		snprintf(what, sizeof(what), "expected '%s' or '%s' (%s)", a, b, ws->why[k]);
	} else {
		snprintf(what, sizeof(what), "expected '%s' (%s)", a, ws->why[k]);
	}
	return refuse_line(e, path, lineno, orig, what);
}

/* The servers the block closed at line closing had: each of f's, not
 * all down. */
static int
check_servers(const char *path, int closing, const struct nginx_file *f,
    const int w[TRAFFIC_SERVERS_MAX], const int seen[TRAFFIC_SERVERS_MAX], struct err *e)
{
	char a[SHOWN_MAX + 4];
	int i, sum = 0;

	for (i = 0; i < TRAFFIC_SERVERS_MAX && f->addr[i]; i++) {
		if (!seen[i]) {
			shown(a, sizeof(a), f->addr[i], strlen(f->addr[i]));
			return err_set(e, EX_USAGE_, "%s:%d: upstream '%s' has no server '%s'; "
			    "ci-canary writes one line for each of traffic.servers", path, closing,
			    f->upstream, a);
		}
		sum += w[i];
	}
	if (sum == 0)
		return err_set(e, EX_USAGE_, "%s:%d: every server of upstream '%s' is down; "
		    "ci-canary never writes that", path, closing, f->upstream);
	return 0;
}

int
nginx_parse(const char *path, const char *text, const struct nginx_file *f,
    int w[TRAFFIC_SERVERS_MAX], struct err *e)
{
	/* Where we are: the maps before "upstream", the hash line and the
	 * servers in the block, the canary's upstream, after it all. */
	enum { PRE, HEAD, HASH, BODY, POST, TAIL } at;
	struct wants pre, hash, post, *ws;
	struct buf got = BUF_INIT;
	const char *p = text, *nl, *q;
	char *line = NULL, *orig = NULL, *route = NULL, *word[4], what[NAME_MAX_ + 64];
	int lineno = 0, closing = 0, route_line = 0, to_canary = 0, nonblank = 0, alt, n, i,
	    rc = -1, seen[TRAFFIC_SERVERS_MAX] = { 0 };

	for (i = 0; i < TRAFFIC_SERVERS_MAX; i++)
		w[i] = 0;
	wants_init(f, &pre, &hash, &post);
	at = pre.n ? PRE : HEAD;
	while (*p) {
		nl = strchr(p, '\n');
		free(line);
		free(orig);
		line = xstrndup(p, nl ? (size_t)(nl - p) : strlen(p));
		orig = xstrdup(line);
		p = nl ? nl + 1 : p + strlen(p);
		lineno++;
		q = orig;
		if (!next_norm(&q, &got))
			continue;
		nonblank = 1;
		if (at == PRE || at == HASH || at == POST) {
			ws = at == PRE ? &pre : at == HASH ? &hash : &post;
			if (ws->alt[ws->at]) {
				/* The route's line: which upstream it leads to. */
				route_line = lineno;
				free(route);
				route = xstrdup(orig);
			}
			if (want_line(ws, buf_str(&got), &alt, path, lineno, orig, e) < 0)
				goto out;
			if (route_line == lineno)
				to_canary = !alt;
			if (ws->at == ws->n)
				at = at == PRE ? HEAD : at == HASH ? BODY : TAIL;
			continue;
		}
		n = split_words(line, word, 3);
		if (at == HEAD) {
			if (n != 3 || strcmp(word[0], "upstream") || strcmp(word[2], "{")) {
				refuse_line(e, path, lineno, orig, "expected 'upstream NAME {'");
				goto out;
			}
			if (strcmp(word[1], f->upstream)) {
				snprintf(what, sizeof(what), "expected the upstream '%s'", f->upstream);
				refuse_line(e, path, lineno, orig, what);
				goto out;
			}
			at = hash.n ? HASH : BODY;
		} else if (at == BODY) {
			if ((n = body_line(word, n, f, w, seen, path, lineno, orig, e)) < 0)
				goto out;
			if (n == 1) {
				closing = lineno;
				at = to_canary ? POST : TAIL;
			}
		} else {
			refuse_line(e, path, lineno, orig, "more after the upstream block");
			goto out;
		}
	}
	if (at == PRE || at == HEAD) {
		err_set(e, EX_USAGE_, "%s: %s; expected %s%s%s'upstream %s {', the block%s ci-canary "
		    "writes", path, nonblank ? "ends early" : "empty", at == PRE ? "the map of " : "",
		    at == PRE ? pre.why[pre.at] : "", at == PRE ? " and " : "", f->upstream,
		    at == PRE ? "s" : "");
		goto out;
	}
	if (at == BODY || at == HASH) {
		err_set(e, EX_USAGE_, "%s:%d: upstream '%s' has no closing '}'", path, lineno,
		    f->upstream);
		goto out;
	}
	if (at == POST) {
		shown(what, sizeof(what), post.line[post.at], strlen(post.line[post.at]));
		err_set(e, EX_USAGE_, "%s:%d: ends early; expected '%s' (traffic.route)", path,
		    lineno, what);
		goto out;
	}
	if (check_servers(path, closing, f, w, seen, e) < 0)
		goto out;
	if (f->route_header && to_canary != route_to_canary(f, w)) {
		snprintf(what, sizeof(what), "the route does not go with the weights, by which the "
		    "canary has %s of the traffic", to_canary ? "none or all" : "part");
		refuse_line(e, path, route_line, route, what);
		goto out;
	}
	rc = 0;
out:
	free(line);
	free(orig);
	free(route);
	buf_free(&got);
	wants_free(&pre);
	wants_free(&hash);
	wants_free(&post);
	return rc;
}

/* Which of cfg's servers is name (the role's, for messages); -1 with e
 * set when none is. */
static int
server_index(const struct rollout_traffic *cfg, const char *name, const char *role,
    struct err *e)
{
	int i;

	for (i = 0; i < TRAFFIC_SERVERS_MAX && cfg->server_slot[i]; i++)
		if (name && !strcmp(cfg->server_slot[i], name))
			return i;
	return err_set(e, EX_USAGE_, "traffic.servers has no address for the %s '%s'", role,
	    name ? name : "");
}

/* The file cfg describes for these slots, and the index of the stable
 * slot's server and of the baseline's (-1 without one). */
static int
file_of(const struct rollout_traffic *cfg, const char *stable, const char *canary,
    struct nginx_file *f, int *si, int *bi, struct err *e)
{
	int n;

	memset(f, 0, sizeof(*f));
	if (!cfg->file || !cfg->upstream || !cfg->server_addr[0] || !cfg->server_addr[1])
		return err_set(e, EX_USAGE_,
		    "the nginx driver needs 'file', 'upstream' and 'servers'");
	if (nginx_check_upstream(cfg->upstream, e) < 0)
		return -1;
	for (n = 0; n < TRAFFIC_SERVERS_MAX && cfg->server_addr[n]; n++) {
		if (nginx_check_server(cfg->server_addr[n], e) < 0)
			return -1;
		f->addr[n] = cfg->server_addr[n];
	}
	if (n < TRAFFIC_SERVERS_MAX && cfg->baseline)
		return err_set(e, EX_USAGE_, "traffic.servers has no address for the baseline '%s'",
		    cfg->baseline);
	if (n == TRAFFIC_SERVERS_MAX && !cfg->baseline)
		return err_set(e, EX_USAGE_, "traffic.servers has three servers, but there is no "
		    "traffic.baseline");
	if (cfg->route_header && (nginx_check_header(cfg->route_header, e) < 0 ||
	    nginx_check_route_value(cfg->route_value, e) < 0))
		return -1;
	*bi = -1;
	if ((*si = server_index(cfg, stable, "slot", e)) < 0 ||
	    (f->canary = server_index(cfg, canary, "slot", e)) < 0 ||
	    (cfg->baseline && (*bi = server_index(cfg, cfg->baseline, "baseline", e)) < 0))
		return -1;
	if (*si == f->canary || *si == *bi || f->canary == *bi)
		return err_set(e, EX_INTERNAL, "stable '%s', canary '%s' and baseline '%s' are not "
		    "three servers", stable, canary, cfg->baseline ? cfg->baseline : "");
	f->upstream = cfg->upstream;
	f->sticky = cfg->sticky;
	f->sticky_name = cfg->sticky_name;
	f->route_header = cfg->route_header;
	f->route_value = cfg->route_value;
	return 0;
}

/* The last TAIL_LINES lines of s, at most TAIL_MAX bytes, on one line. */
static void
one_line_tail(char *dst, size_t dstsz, const char *s)
{
	const char *end = s + strlen(s), *start;
	size_t i = 0;
	int lines = 0;

	while (end > s && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	for (start = end; start > s; start--)
		if (start[-1] == '\n' && ++lines == TAIL_LINES)
			break;
	if (end - start > TAIL_MAX) {
		start = end - TAIL_MAX;
		i = (size_t)snprintf(dst, dstsz, "...");
	}
	for (; start < end && i + 3 < dstsz; start++) {
		unsigned char ch = (unsigned char)*start;

		if (ch == '\r')
			continue;
		if (ch == '\n') {
			dst[i++] = ';';
			dst[i++] = ' ';
			continue;
		}
		dst[i++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	dst[i] = '\0';
}

/* Run text as sh -c: 0 when it exited 0; else -1 with msg saying how it
 * ended and what it last printed. */
static int
run_sh(const char *text, char *msg, size_t msgsz)
{
	struct proc_spec spec;
	struct proc_result r;
	struct err pe = { 0, "" };
	char tail[TAIL_MAX + 8], cmd[CMD_SHOWN + 4];
	int rc;

	memset(&spec, 0, sizeof(spec));
	spec.shell = text;
	spec.timeout_ms = CMD_TIMEOUT_MS;
	spec.grace_ms = 2000;
	spec.out_cap = 64 * 1024;
	spec.tail_bytes = 4096;
	rc = proc_capture(&spec, &r, &pe);
	if (rc == 0 && r.status == 0) {
		proc_result_free(&r);
		return 0;
	}
	shown(cmd, sizeof(cmd), text, strlen(text));
	if (rc < 0 && !strcmp(r.how, "not started")) {
		snprintf(msg, msgsz, "'%s': %s", cmd, pe.msg);
	} else {
		/* nginx -t speaks on stderr; a wrapper script may use stdout. */
		one_line_tail(tail, sizeof(tail), r.err && *r.err ? r.err : r.out ? r.out : "");
		snprintf(msg, msgsz, "'%s' %s%s%s", cmd, r.how, *tail ? ": " : "", tail);
	}
	proc_result_free(&r);
	return -1;
}

/* The file as it is: 1 with *text (owned), *len and *mode; 0 when there
 * is none (*mode the default); -1 when it cannot be read. */
static int
read_previous(const char *path, char **text, size_t *len, mode_t *mode, struct err *e)
{
	struct stat st;

	*text = NULL;
	*len = 0;
	*mode = 0644;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return err_set(e, EX_IOERR_, "cannot read '%s': %s", path, strerror(errno));
	}
	/* The file is replaced by a rename, which would replace a link with
	 * a file and leave its target as it was. */
	if (!S_ISREG(st.st_mode))
		return err_set(e, EX_USAGE_, "'%s' is not a regular file: traffic.file must be "
		    "the file itself, which ci-canary replaces", path);
	*mode = st.st_mode & 07777;
	*text = read_file(path, FILE_MAX, len, e);
	return *text ? 1 : -1;
}

/* Put the previous file back (or remove ours when there was none);
 * -1 with why set when that failed. */
static int
restore(const char *path, int had, const char *prev, size_t len, mode_t mode, char *why,
    size_t whysz)
{
	struct err re = { 0, "" };

	if (had) {
		if (atomic_write(path, prev, len, mode, &re) == 0)
			return 0;
		snprintf(why, whysz, "%s", re.msg);
		return -1;
	}
	if (unlink(path) == 0 || errno == ENOENT)
		return 0;
	snprintf(why, whysz, "cannot remove '%s': %s", path, strerror(errno));
	return -1;
}

int
nginx_set(const struct rollout_traffic *cfg, const char *stable, const char *canary,
    int weight, int baseline_weight, struct err *e)
{
	struct nginx_file f;
	char *text = NULL, *prev = NULL;
	char how[1024], why[512];
	size_t plen;
	mode_t mode;
	int w[TRAFFIC_SERVERS_MAX] = { 0 }, si, bi, had, rc = -1;

	if (weight < 0 || weight > 100 || baseline_weight < 0 || baseline_weight > 100 - weight)
		return err_set(e, EX_INTERNAL, "nginx: weights %d and %d (baseline) are not from 0 "
		    "to 100 in all", weight, baseline_weight);
	if (file_of(cfg, stable, canary, &f, &si, &bi, e) < 0)
		return -1;
	if (bi < 0 && baseline_weight > 0)
		return err_set(e, EX_INTERNAL, "nginx: weight %d for a baseline there is not",
		    baseline_weight);
	w[f.canary] = weight;
	if (bi >= 0)
		w[bi] = baseline_weight;
	w[si] = 100 - weight - baseline_weight;
	if ((had = read_previous(cfg->file, &prev, &plen, &mode, e)) < 0)
		return -1;
	text = nginx_render(&f, w);
	if (atomic_write(cfg->file, text, strlen(text), mode, e) < 0)
		goto out;
	if (run_sh(cfg->test ? cfg->test : "nginx -t", how, sizeof(how)) < 0) {
		/* nginx refused it: put back what it had accepted, so that
		 * no reload, ours or anyone's, meets the refused file. */
		if (restore(cfg->file, had, prev, plen, mode, why, sizeof(why)) < 0)
			err_set(e, EX_SERVICE, "nginx refused '%s': %s; and the previous file could "
			    "not be put back: %s", cfg->file, how, why);
		else
			err_set(e, EX_SERVICE, "nginx refused '%s': %s; the previous file is back",
			    cfg->file, how);
		goto out;
	}
	if (run_sh(cfg->reload ? cfg->reload : "nginx -s reload", how, sizeof(how)) < 0) {
		err_set(e, EX_SERVICE, "nginx did not reload: %s; '%s' holds the new weights, "
		    "which nginx checked, for its next reload", how, cfg->file);
		goto out;
	}
	rc = 0;
out:
	free(text);
	free(prev);
	return rc;
}

int
nginx_get(const struct rollout_traffic *cfg, const char *stable, const char *canary,
    int *weight, struct err *e)
{
	struct nginx_file f;
	char *text;
	size_t len;
	int w[TRAFFIC_SERVERS_MAX], si, bi, i, sum = 0;

	if (file_of(cfg, stable, canary, &f, &si, &bi, e) < 0)
		return -1;
	if (!(text = read_file(cfg->file, FILE_MAX, &len, e)))
		return -1;
	if (strlen(text) != len) {
		free(text);
		return err_set(e, EX_USAGE_, "%s: holds a NUL byte; ci-canary reads back only the "
		    "upstream block it writes", cfg->file);
	}
	if (nginx_parse(cfg->file, text, &f, w, e) < 0) {
		free(text);
		return -1;
	}
	free(text);
	/* The parser refuses a file with every server down. */
	for (i = 0; i < TRAFFIC_SERVERS_MAX && f.addr[i]; i++)
		sum += w[i];
	*weight = (w[f.canary] * 100 + sum / 2) / sum;
	return 0;
}
