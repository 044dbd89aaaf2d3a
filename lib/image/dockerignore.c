/*
 * dockerignore: Docker's .dockerignore patterns, compiled to a small token
 * list and matched by backtracking (what patternmatcher does with a
 * regular expression), remembering failed states so that no pattern
 * takes more than polynomial time.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "image/dockerignore.h"
#include "core/fsutil.h"

#define IGNORE_MAX_BYTES (4u << 20)
#define IGNORE_MAX_PATTERN 4096u

enum tok_kind {
	T_LIT,		/* one byte */
	T_STAR,		/* [^/]* */
	T_QMARK,	/* [^/] */
	T_DSTAR_MID,	/* (.*\/)? : "**" before more pattern */
	T_DSTAR_END,	/* .*      : "**" at the end */
	T_CLASS		/* [...] */
};

struct di_token {
	enum tok_kind kind;
	int c;
	int negate;
	unsigned char set[32];	/* bitmap of the class */
};

char *
path_clean(const char *p)
{
	size_t n = strlen(p), i = 0, outlen = 0, dotdot = 0;
	int rooted = n > 0 && p[0] == '/';
	char *out = xmalloc(n + 2);

	if (rooted) {
		out[outlen++] = '/';
		i = 1;
		dotdot = 1;
	}
	while (i < n) {
		if (p[i] == '/') {
			i++;
		} else if (p[i] == '.' && (i + 1 == n || p[i + 1] == '/')) {
			i++;
		} else if (p[i] == '.' && p[i + 1] == '.' && (i + 2 == n || p[i + 2] == '/')) {
			i += 2;
			if (outlen > dotdot) {
				/* Back to the previous separator. */
				outlen--;
				while (outlen > dotdot && out[outlen] != '/')
					outlen--;
			} else if (!rooted) {
				if (outlen > 0)
					out[outlen++] = '/';
				out[outlen++] = '.';
				out[outlen++] = '.';
				dotdot = outlen;
			}
		} else {
			if ((rooted && outlen != 1) || (!rooted && outlen != 0))
				out[outlen++] = '/';
			for (; i < n && p[i] != '/'; i++)
				out[outlen++] = p[i];
		}
	}
	if (outlen == 0)
		out[outlen++] = '.';
	out[outlen] = '\0';
	return out;
}

static void
tok_push(struct di_pattern *p, const struct di_token *t)
{
	p->tok = xrealloc(p->tok, (p->ntok + 1) * sizeof(*p->tok));
	p->tok[p->ntok++] = *t;
}

static void
set_bit(unsigned char *set, int c)
{
	set[(unsigned char)c >> 3] |= (unsigned char)(1u << (c & 7));
}

static int
compile(struct di_pattern *p, const char **why)
{
	const char *s = p->text;
	size_t i = 0, n = strlen(s);
	struct di_token t;

	while (i < n) {
		memset(&t, 0, sizeof(t));
		if (s[i] == '*') {
			if (i + 1 < n && s[i + 1] == '*') {
				i += 2;
				if (i < n && s[i] == '/')
					i++;
				t.kind = i == n ? T_DSTAR_END : T_DSTAR_MID;
			} else {
				t.kind = T_STAR;
				i++;
			}
			p->wild = 1;
		} else if (s[i] == '?') {
			t.kind = T_QMARK;
			p->wild = 1;
			i++;
		} else if (s[i] == '\\') {
			t.kind = T_LIT;
			t.c = i + 1 < n ? (unsigned char)s[i + 1] : '\\';
			i += i + 1 < n ? 2 : 1;
		} else if (s[i] == '[') {
			int first = 1, prev = -1;

			t.kind = T_CLASS;
			p->wild = 1;
			i++;
			if (i < n && s[i] == '^') {
				t.negate = 1;
				i++;
			}
			for (;;) {
				int c;

				if (i >= n) {
					*why = "unterminated character class";
					return -1;
				}
				if (s[i] == ']' && !first)
					break;
				first = 0;
				c = (unsigned char)s[i];
				if (c == '\\' && i + 1 < n)
					c = (unsigned char)s[++i];
				if (s[i] == '-' && prev >= 0 && i + 1 < n && s[i + 1] != ']') {
					int hi = (unsigned char)s[i + 1], k;

					if (hi == '\\' && i + 2 < n) {
						hi = (unsigned char)s[i + 2];
						i++;
					}
					if (hi < prev) {
						*why = "bad range in character class";
						return -1;
					}
					for (k = prev; k <= hi; k++)
						set_bit(t.set, k);
					i += 2;
					prev = -1;
					continue;
				}
				set_bit(t.set, c);
				prev = c;
				i++;
			}
			i++;	/* ']' */
		} else {
			t.kind = T_LIT;
			t.c = (unsigned char)s[i++];
		}
		tok_push(p, &t);
	}
	while (p->pre < p->ntok && p->tok[p->pre].kind == T_LIT)
		p->pre++;
	while (p->suf < p->ntok && p->tok[p->ntok - 1 - p->suf].kind == T_LIT)
		p->suf++;
	return 0;
}

static int
class_has(const struct di_token *t, int c)
{
	int in = (t->set[(unsigned char)c >> 3] >> (c & 7)) & 1;

	return t->negate ? !in : in;
}

/*
 * Match tokens [ti..] against s by backtracking.  Each '*' and '**' tries
 * every split of the rest, so a pattern of many stars against a long path
 * would take exponential time; m->failed remembers each (token, offset)
 * that could not match, so no state is tried twice: at most ntok * len
 * states, each a loop over the path.
 */
struct di_memo {
	const struct di_token *tok;
	size_t ntok;
	const char *base;
	size_t len;
	unsigned char *failed;	/* bit (ti * (len + 1) + off) */
};

static int match_at(struct di_memo *m, size_t ti, const char *s);

static int
match_memo(struct di_memo *m, size_t ti, const char *s)
{
	size_t bit = ti * (m->len + 1) + (size_t)(s - m->base);

	if (m->failed[bit >> 3] & (1u << (bit & 7)))
		return 0;
	if (match_at(m, ti, s))
		return 1;
	m->failed[bit >> 3] |= (unsigned char)(1u << (bit & 7));
	return 0;
}

static int
match_at(struct di_memo *m, size_t ti, const char *s)
{
	const char *q;

	while (ti < m->ntok) {
		const struct di_token *t = &m->tok[ti];

		switch (t->kind) {
		case T_LIT:
			if ((unsigned char)*s != t->c || !*s)
				return 0;
			s++;
			ti++;
			break;
		case T_QMARK:
			if (!*s || *s == '/')
				return 0;
			s++;
			ti++;
			break;
		case T_CLASS:
			/* Go's [^a] does match '/': only '*' and '?' stop there. */
			if (!*s || !class_has(t, (unsigned char)*s))
				return 0;
			s++;
			ti++;
			break;
		case T_STAR:
			for (q = s;; q++) {
				if (match_memo(m, ti + 1, q))
					return 1;
				if (!*q || *q == '/')
					return 0;
			}
		case T_DSTAR_END:
			return 1;
		case T_DSTAR_MID:
			/* Empty, or anything that ends with '/'. */
			if (match_memo(m, ti + 1, s))
				return 1;
			for (q = s; *q; q++)
				if (*q == '/' && match_memo(m, ti + 1, q + 1))
					return 1;
			return 0;
		}
	}
	return *s == '\0';
}

/* p against path, of len bytes. */
static int
match_len(const struct di_pattern *p, const char *path, size_t len)
{
	unsigned char small[512];
	struct di_memo m;
	size_t bytes, k;
	int r;

	m.len = len;
	/* Most patterns are refused by their literal ends (a name, "*.log"):
	 * in a pattern of literals alone, pre and suf are the whole of it. */
	if (p->pre == p->ntok ? m.len != p->ntok : m.len < p->pre + p->suf)
		return 0;
	for (k = 0; k < p->pre; k++)
		if ((unsigned char)path[k] != p->tok[k].c)
			return 0;
	for (k = 0; k < p->suf; k++)
		if ((unsigned char)path[m.len - p->suf + k] != p->tok[p->ntok - p->suf + k].c)
			return 0;
	m.tok = p->tok;
	m.ntok = p->ntok;
	m.base = path;
	bytes = ((p->ntok + 1) * (m.len + 1) + 7) / 8;
	m.failed = bytes <= sizeof(small) ? small : xmalloc(bytes);
	memset(m.failed, 0, bytes);
	r = match_at(&m, 0, path);
	if (m.failed != small)
		free(m.failed);
	return r;
}

int
dockerignore_pattern_match(const struct di_pattern *p, const char *path)
{
	return match_len(p, path, strlen(path));
}

static int
add_pattern(struct dockerignore *d, const char *raw, int line, const char *name,
    struct err *e)
{
	struct di_pattern p;
	const char *why = NULL;
	char *clean;
	int excl = 0;

	memset(&p, 0, sizeof(p));
	if (*raw == '!') {
		excl = 1;
		raw++;
		while (*raw == ' ' || *raw == '\t')
			raw++;
		if (!*raw)
			return err_set(e, EX_USAGE_, "%s:%d: '!' needs a pattern after it", name, line);
	}
	/* No path is longer than PATH_MAX, and the matcher's memory is
	 * the pattern's length times the path's. */
	if (strlen(raw) > IGNORE_MAX_PATTERN)
		return err_set(e, EX_USAGE_, "%s:%d: pattern longer than %u bytes",
		    name, line, IGNORE_MAX_PATTERN);
	clean = path_clean(raw);
	if (clean[0] == '/' && clean[1]) {
		p.text = xstrdup(clean + 1);
		free(clean);
	} else {
		p.text = clean;
	}
	p.exclusion = excl;
	p.line = line;
	if (compile(&p, &why) < 0) {
		err_set(e, EX_USAGE_, "%s:%d: bad pattern '%s': %s", name, line, p.text, why);
		free(p.text);
		free(p.tok);
		return -1;
	}
	d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
	d->v[d->n++] = p;
	if (excl)
		d->exclusions = 1;
	return 0;
}

int
dockerignore_parse(struct dockerignore *d, const char *text, size_t len,
    const char *name, struct err *e)
{
	const char *p = text, *end = text + len;
	int line = 0;

	memset(d, 0, sizeof(*d));
	if (len >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		p += 3;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *s = xstrndup(p, n), *b, *t;

		p += n + (nl ? 1 : 0);
		line++;
		/* A comment only when '#' is the very first character. */
		if (s[0] == '#') {
			free(s);
			continue;
		}
		for (b = s; *b && isspace((unsigned char)*b); b++)
			;
		for (t = b + strlen(b); t > b && isspace((unsigned char)t[-1]); t--)
			;
		*t = '\0';
		if (*b && add_pattern(d, b, line, name, e) < 0) {
			free(s);
			dockerignore_free(d);
			return -1;
		}
		free(s);
	}
	return 0;
}

int
dockerignore_load(struct dockerignore *d, const char *path, struct err *e)
{
	size_t len;
	char *text;
	int rc;

	memset(d, 0, sizeof(*d));
	if (!path_exists(path))
		return 0;
	text = read_file(path, IGNORE_MAX_BYTES, &len, e);
	if (!text)
		return -1;
	rc = dockerignore_parse(d, text, len, path, e);
	free(text);
	return rc;
}

void
dockerignore_free(struct dockerignore *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->n; i++) {
		free(d->v[i].text);
		free(d->v[i].tok);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

int
dockerignore_excluded(const struct dockerignore *d, const char *path)
{
	int matched = 0;
	size_t i, len;
	char *parents = NULL;
	const char *slash;

	if (!d->n)
		return 0;
	len = strlen(path);
	slash = strrchr(path, '/');
	for (i = 0; i < d->n; i++) {
		const struct di_pattern *p = &d->v[i];
		int m;

		/* An exception matters only once excluded, and the reverse. */
		if (p->exclusion != matched)
			continue;
		m = match_len(p, path, len);
		if (!m && slash) {
			char *q;

			if (!parents)
				parents = xstrndup(path, (size_t)(slash - path));
			/* Each parent: "a", "a/b", ... */
			for (q = parents;; q++) {
				if (*q == '/' || !*q) {
					char save = *q;

					*q = '\0';
					m = match_len(p, parents, (size_t)(q - parents));
					*q = save;
					if (m || !save)
						break;
				}
			}
		}
		if (m)
			matched = !p->exclusion;
	}
	free(parents);
	return matched;
}

int
dockerignore_may_include_under(const struct dockerignore *d, const char *dir)
{
	size_t i, n = strlen(dir);

	if (!d->exclusions)
		return 0;
	for (i = 0; i < d->n; i++) {
		const struct di_pattern *p = &d->v[i];

		if (!p->exclusion)
			continue;
		if (p->wild)
			return 1;
		if (!strncmp(p->text, dir, n) && p->text[n] == '/')
			return 1;
		if (!strcmp(dir, "."))
			return 1;
	}
	return 0;
}
