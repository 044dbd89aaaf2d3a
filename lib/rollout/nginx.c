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
#define NAME_MAX_ 128
#define ADDR_MAX 256
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

/* 1 when s is 1 to max bytes of alnum and extra. */
static int
word_ok(const char *s, size_t max, const char *extra)
{
	size_t n = s ? strlen(s) : 0, k;

	if (n == 0 || n > max)
		return 0;
	for (k = 0; k < n; k++)
		if (!strchr(alnum, s[k]) && !strchr(extra, s[k]))
			return 0;
	return 1;
}

int
nginx_check_upstream(const char *name, struct err *e)
{
	char buf[SHOWN_MAX + 4];

	if (word_ok(name, NAME_MAX_, "._-"))
		return 0;
	shown(buf, sizeof(buf), name ? name : "", name ? strlen(name) : 0);
	return err_set(e, EX_USAGE_, "invalid nginx upstream name '%s': use 1 to %d letters, "
	    "digits and '._-'", buf, NAME_MAX_);
}

int
nginx_check_server(const char *addr, struct err *e)
{
	char buf[SHOWN_MAX + 4];

	if (word_ok(addr, ADDR_MAX, "._-:/[]"))
		return 0;
	shown(buf, sizeof(buf), addr ? addr : "", addr ? strlen(addr) : 0);
	return err_set(e, EX_USAGE_, "invalid nginx server address '%s': expected HOST:PORT, "
	    "[V6]:PORT or unix:PATH, in letters, digits and '._-:/[]'", buf);
}

/* The name of the variable the sticky key goes in: ci_sticky_UPSTREAM,
 * with what a variable name cannot hold as '_'. */
static void
sticky_var(char *dst, size_t dstsz, const char *upstream)
{
	size_t i = (size_t)snprintf(dst, dstsz, "ci_sticky_");

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
sticky_text(const char *upstream, int sticky, const char *name, struct buf *pre,
    struct buf *hash)
{
	char var[NAME_MAX_ + 16], nv[NAME_MAX_ + 16];

	if (sticky == STICKY_NONE)
		return;
	if (sticky == STICKY_SOURCE) {
		buf_adds(hash, "    hash $remote_addr consistent;\n");
		return;
	}
	/* Users without the cookie or header yet hash by their address, not
	 * all onto one server by the empty string. */
	sticky_var(var, sizeof(var), upstream);
	name_var(nv, sizeof(nv), sticky, name ? name : "");
	buf_addf(pre, "map %s $%s {\n    \"\" $remote_addr;\n    default %s;\n}\n", nv, var, nv);
	buf_addf(hash, "    hash $%s consistent;\n", var);
}

char *
nginx_render(const char *upstream, int sticky, const char *sticky_name,
    const char *const addr[2], const int w[2])
{
	struct buf b = BUF_INIT, hash = BUF_INIT;
	int i;

	sticky_text(upstream, sticky, sticky_name, &b, &hash);
	buf_addf(&b, "upstream %s {\n", upstream);
	buf_adds(&b, buf_str(&hash));
	buf_free(&hash);
	for (i = 0; i < 2; i++) {
		if (w[i] > 0)
			buf_addf(&b, "    server %s weight=%d;\n", addr[i], w[i]);
		else
			buf_addf(&b, "    server %s down;\n", addr[i]);
	}
	buf_adds(&b, "}\n");
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
body_line(char **word, int n, const char *const addr[2], int w[2], int seen[2],
    const char *path, int lineno, const char *orig, struct err *e)
{
	int i, v;

	if (n == 1 && !strcmp(word[0], "}"))
		return 1;
	if (n != 3 || strcmp(word[0], "server"))
		return refuse_line(e, path, lineno, orig,
		    "expected 'server ADDRESS weight=N;', 'server ADDRESS down;' or '}'");
	for (i = 0; i < 2 && strcmp(word[1], addr[i]); i++)
		;
	if (i == 2)
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

int
nginx_parse(const char *path, const char *text, const char *upstream, int sticky,
    const char *sticky_name, const char *const addr[2], int w[2], struct err *e)
{
	/* Where we are: the map stickiness adds, before "upstream", the
	 * hash line, in the block, after its "}". */
	enum { PRE, HEAD, HASH, BODY, TAIL } at = PRE;
	struct buf pre = BUF_INIT, hash = BUF_INIT, want = BUF_INIT;
	const char *p = text, *nl, *pp;
	char *line = NULL, *orig = NULL, *word[4], what[NAME_MAX_ + 64], a[SHOWN_MAX + 4];
	int lineno = 0, closing = 0, seen[2] = { 0, 0 }, nonblank = 0, n, i, rc = -1;

	sticky_text(upstream, sticky, sticky_name, &pre, &hash);
	pp = buf_str(&pre);
	if (!next_norm(&pp, &want))
		at = HEAD;
	while (*p) {
		nl = strchr(p, '\n');
		free(line);
		free(orig);
		line = xstrndup(p, nl ? (size_t)(nl - p) : strlen(p));
		orig = xstrdup(line);
		p = nl ? nl + 1 : p + strlen(p);
		lineno++;
		if (at == PRE || at == HASH) {
			struct buf got = BUF_INIT;
			const char *q = orig;
			int same;

			if (!next_norm(&q, &got)) {
				buf_free(&got);
				continue;
			}
			nonblank = 1;
			same = !strcmp(buf_str(&got), buf_str(&want));
			buf_free(&got);
			if (!same) {
				snprintf(what, sizeof(what), "expected '%.*s' (traffic.sticky)",
				    NAME_MAX_, buf_str(&want));
				refuse_line(e, path, lineno, orig, what);
				goto out;
			}
			if (at == HASH)
				at = BODY;
			else if (!next_norm(&pp, &want))
				at = HEAD;
			continue;
		}
		if ((n = split_words(line, word, 3)) == 0)
			continue;
		nonblank = 1;
		if (at == HEAD) {
			if (n != 3 || strcmp(word[0], "upstream") || strcmp(word[2], "{")) {
				refuse_line(e, path, lineno, orig, "expected 'upstream NAME {'");
				goto out;
			}
			if (strcmp(word[1], upstream)) {
				snprintf(what, sizeof(what), "expected the upstream '%s'", upstream);
				refuse_line(e, path, lineno, orig, what);
				goto out;
			}
			pp = buf_str(&hash);
			at = next_norm(&pp, &want) ? HASH : BODY;
		} else if (at == BODY) {
			if ((n = body_line(word, n, addr, w, seen, path, lineno, orig, e)) < 0)
				goto out;
			if (n == 1) {
				closing = lineno;
				at = TAIL;
			}
		} else {
			refuse_line(e, path, lineno, orig, "more after the upstream block");
			goto out;
		}
	}
	if (at == PRE || at == HEAD) {
		err_set(e, EX_USAGE_, "%s: %s; expected %s'upstream %s {', the block%s ci-canary "
		    "writes", path, nonblank ? "ends early" : "empty", at == PRE ? "the sticky map and " :
		    "", upstream, at == PRE ? "s" : "");
		goto out;
	}
	if (at == BODY || at == HASH) {
		err_set(e, EX_USAGE_, "%s:%d: upstream '%s' has no closing '}'", path, lineno,
		    upstream);
		goto out;
	}
	for (i = 0; i < 2; i++) {
		if (!seen[i]) {
			shown(a, sizeof(a), addr[i], strlen(addr[i]));
			err_set(e, EX_USAGE_, "%s:%d: upstream '%s' has no server '%s'; ci-canary "
			    "writes one line for each of traffic.servers", path, closing, upstream,
			    a);
			goto out;
		}
	}
	if (w[0] + w[1] == 0) {
		err_set(e, EX_USAGE_, "%s:%d: every server of upstream '%s' is down; ci-canary "
		    "never writes that", path, closing, upstream);
		goto out;
	}
	rc = 0;
out:
	free(line);
	free(orig);
	buf_free(&pre);
	buf_free(&hash);
	buf_free(&want);
	return rc;
}

/* Which of cfg's servers is slot; -1 with e set when none is. */
static int
slot_index(const struct rollout_traffic *cfg, const char *slot, struct err *e)
{
	int i;

	for (i = 0; i < 2; i++)
		if (slot && cfg->server_slot[i] && !strcmp(cfg->server_slot[i], slot))
			return i;
	return err_set(e, EX_USAGE_, "traffic.servers has no address for the slot '%s'",
	    slot ? slot : "");
}

static int
check_cfg(const struct rollout_traffic *cfg, const char *stable, const char *canary,
    int *si, int *ci, struct err *e)
{
	if (!cfg->file || !cfg->upstream || !cfg->server_addr[0] || !cfg->server_addr[1])
		return err_set(e, EX_USAGE_,
		    "the nginx driver needs 'file', 'upstream' and 'servers'");
	if (nginx_check_upstream(cfg->upstream, e) < 0 ||
	    nginx_check_server(cfg->server_addr[0], e) < 0 ||
	    nginx_check_server(cfg->server_addr[1], e) < 0)
		return -1;
	if ((*si = slot_index(cfg, stable, e)) < 0 || (*ci = slot_index(cfg, canary, e)) < 0)
		return -1;
	if (*si == *ci)
		return err_set(e, EX_INTERNAL, "stable and canary are both the slot '%s'", stable);
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
    int weight, struct err *e)
{
	const char *addr[2];
	char *text = NULL, *prev = NULL;
	char how[1024], why[512];
	size_t plen;
	mode_t mode;
	int w[2], si, ci, had, rc = -1;

	if (weight < 0 || weight > 100)
		return err_set(e, EX_INTERNAL, "nginx: weight %d is not from 0 to 100", weight);
	if (check_cfg(cfg, stable, canary, &si, &ci, e) < 0)
		return -1;
	addr[0] = cfg->server_addr[0];
	addr[1] = cfg->server_addr[1];
	w[ci] = weight;
	w[si] = 100 - weight;
	if ((had = read_previous(cfg->file, &prev, &plen, &mode, e)) < 0)
		return -1;
	text = nginx_render(cfg->upstream, cfg->sticky, cfg->sticky_name, addr, w);
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
	const char *addr[2];
	char *text;
	size_t len;
	int w[2] = { 0, 0 }, si, ci;

	if (check_cfg(cfg, stable, canary, &si, &ci, e) < 0)
		return -1;
	if (!(text = read_file(cfg->file, FILE_MAX, &len, e)))
		return -1;
	if (strlen(text) != len) {
		free(text);
		return err_set(e, EX_USAGE_, "%s: holds a NUL byte; ci-canary reads back only the "
		    "upstream block it writes", cfg->file);
	}
	addr[0] = cfg->server_addr[0];
	addr[1] = cfg->server_addr[1];
	if (nginx_parse(cfg->file, text, cfg->upstream, cfg->sticky, cfg->sticky_name, addr, w,
	    e) < 0) {
		free(text);
		return -1;
	}
	free(text);
	*weight = (w[ci] * 100 + (w[ci] + w[si]) / 2) / (w[ci] + w[si]);
	return 0;
}
