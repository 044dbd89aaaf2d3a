/* memmem() */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"

void
buf_init(struct buf *b, size_t cap_max)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap_max = cap_max;
	b->failed = 0;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	b->failed = 0;
	if (b->data)
		b->data[0] = '\0';
}

static int
fail(struct buf *b)
{
	buf_free(b);
	b->failed = 1;
	return -1;
}

int
buf_add(struct buf *b, const void *p, size_t n)
{
	size_t cap = b->cap_max ? b->cap_max : SIZE_MAX / 2;
	size_t want;

	if (b->failed)
		return -1;
	if (n > cap || b->len > cap - n)
		return fail(b);
	want = b->len + n + 1;
	if (want > b->alloc) {
		size_t a = b->alloc ? b->alloc : 64;

		while (a < want)
			a = a > SIZE_MAX / 4 ? want : a * 2;
		b->data = xrealloc(b->data, a);
		b->alloc = a;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_addc(struct buf *b, int c)
{
	char ch = (char)c;

	return buf_add(b, &ch, 1);
}

int
buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	char small[256];
	va_list ap2;
	int n, rc;
	char *big;

	va_copy(ap2, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return fail(b);
	if ((size_t)n < sizeof(small))
		return buf_add(b, small, (size_t)n);
	big = xmalloc((size_t)n + 1);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	rc = buf_add(b, big, (size_t)n);
	free(big);
	return rc;
}

/* UTF-8 of one code point (the caller has checked it is one). */
int
buf_add_utf8(struct buf *b, unsigned long cp)
{
	unsigned char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | (cp >> 18));
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_add(b, u, n);
}

int
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vaddf(b, fmt, ap);
	va_end(ap);
	return rc;
}

const char *
buf_str(const struct buf *b)
{
	return b->data ? b->data : "";
}

char *
buf_detach(struct buf *b, size_t *len)
{
	char *p = b->data ? b->data : xstrdup("");

	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->failed = 0;
	return p;
}

void
ring_init(struct ring *r, size_t max_bytes)
{
	r->max = max_bytes ? max_bytes : 1;
	r->data = xmalloc(r->max);
	r->start = 0;
	r->len = 0;
	r->total = 0;
}

void
ring_free(struct ring *r)
{
	free(r->data);
	r->data = NULL;
	r->len = 0;
}

void
ring_add(struct ring *r, const void *p, size_t n)
{
	const char *s = p;

	if (!r->data)
		return;
	r->total += n;
	if (n >= r->max) {
		memcpy(r->data, s + n - r->max, r->max);
		r->start = 0;
		r->len = r->max;
		return;
	}
	while (n) {
		size_t end = (r->start + r->len) % r->max;
		size_t room = r->max - end;
		size_t k = n < room ? n : room;

		memcpy(r->data + end, s, k);
		s += k;
		n -= k;
		if (r->len + k > r->max) {
			r->start = (r->start + (r->len + k - r->max)) % r->max;
			r->len = r->max;
		} else {
			r->len += k;
		}
	}
}

char *
ring_lines(const struct ring *r, int nlines)
{
	char *flat, *p, *out;
	size_t i, len = r->data ? r->len : 0;
	int seen = 0;

	flat = xmalloc(len + 1);
	/* The result is a C string: a NUL from the stream would cut off the
	 * very lines a log tail is for, so show it as '?'. */
	for (i = 0; i < len; i++) {
		flat[i] = r->data[(r->start + i) % r->max];
		if (flat[i] == '\0')
			flat[i] = '?';
	}
	flat[len] = '\0';
	/* Walk back over nlines newlines; a final newline ends the last line
	 * rather than starting an empty one. */
	p = flat + len;
	if (p > flat && p[-1] == '\n')
		p--;
	while (p > flat) {
		if (p[-1] == '\n' && ++seen == nlines)
			break;
		p--;
	}
	/* If the ring wrapped, the first line is probably partial: drop it. */
	if (p == flat && r->total > len) {
		char *nl = memchr(flat, '\n', len);

		if (nl && nl + 1 < flat + len)
			p = nl + 1;
	}
	out = xstrdup(p);
	free(flat);
	return out;
}

size_t
strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

char **
strv_push(char **v, const char *s)
{
	size_t n = strv_len(v);

	v = xrealloc(v, (n + 2) * sizeof(*v));
	v[n] = xstrdup(s);
	v[n + 1] = NULL;
	return v;
}

void
strv_free(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

const void *
mem_find(const void *h, size_t hn, const void *n, size_t nn)
{
	if (nn == 0)
		return h;
	return memmem(h, hn, n, nn);
}

size_t
utf8_len(const void *p, size_t avail)
{
	const unsigned char *s = p;
	unsigned char c, lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (avail == 0)
		return 0;
	c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return 0;
	if (avail < n)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

int
buf_add_utf8_clean(struct buf *b, const void *p, size_t n)
{
	const char *s = p;
	size_t i = 0, k;

	while (i < n) {
		if ((k = utf8_len(s + i, n - i)) == 0) {
			buf_adds(b, "\xef\xbf\xbd");
			i++;
			continue;
		}
		buf_add(b, s + i, k);
		i += k;
	}
	return b->failed ? -1 : 0;
}
