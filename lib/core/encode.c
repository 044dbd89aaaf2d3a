#ifdef __linux__
#include <sys/random.h>
#endif

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "core/buf.h"
#include "core/encode.h"
#include "core/log.h"

static const char b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *
b64_encode(const void *p, size_t n, enum b64_alphabet a, int pad)
{
	const unsigned char *s = p;
	const char *tab = a == B64_URL ? b64_url : b64_std;
	char *out = xmalloc(4 * ((n + 2) / 3) + 1), *o = out;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned long v = (unsigned long)s[i] << 16 | (unsigned long)s[i + 1] << 8 | s[i + 2];

		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = tab[v >> 6 & 63];
		*o++ = tab[v & 63];
	}
	if (i < n) {
		unsigned long v = (unsigned long)s[i] << 16 | (i + 1 < n ? (unsigned long)s[i + 1] << 8 : 0);

		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		if (i + 1 < n)
			*o++ = tab[v >> 6 & 63];
		else if (pad)
			*o++ = '=';
		if (pad)
			*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int
b64_value(int c, enum b64_alphabet a)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if ((c == '+' && a != B64_URL) || (c == '-' && a != B64_STD))
		return 62;
	if ((c == '/' && a != B64_URL) || (c == '_' && a != B64_STD))
		return 63;
	return -1;
}

int
b64_decode(const char *s, size_t n, enum b64_alphabet a, unsigned char **out, size_t *len)
{
	unsigned char *o = xmalloc(n / 4 * 3 + 4);
	unsigned long acc = 0;
	size_t i, k = 0;
	int bits = 0, pad = 0;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i], v;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || (v = b64_value(c, a)) < 0)
			goto bad;
		acc = (acc << 6) | (unsigned long)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[k++] = (unsigned char)(acc >> bits);
			acc &= (1ul << bits) - 1;
		}
	}
	/* Six bits left over cannot come from whole bytes. */
	if (pad > 2 || bits >= 6)
		goto bad;
	o[k] = '\0';
	*out = o;
	*len = k;
	return 0;
bad:
	/* What was decoded may be part of a password. */
	memset(o, 0, n / 4 * 3 + 4);
	free(o);
	return -1;
}

void
hex_encode(const void *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[s[i] >> 4];
		out[2 * i + 1] = hex[s[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hex_decode(const char *s, size_t n, unsigned char **out, size_t *len)
{
	unsigned char *o = xmalloc(n / 2 + 1);
	size_t i, k = 0;
	int hi = -1;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i], v;

		if (isspace(c))
			continue;
		if ((v = hex_value(c)) < 0) {
			free(o);
			return -1;
		}
		if (hi < 0) {
			hi = v;
		} else {
			o[k++] = (unsigned char)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0) {
		free(o);
		return -1;
	}
	o[k] = '\0';
	*out = o;
	*len = k;
	return 0;
}

/*
 * The kernel's generator first: a tool that wants a run id or a nonce
 * and no other cryptography would otherwise set up OpenSSL's generator
 * for it, 5 ms of a short ci-gate run.  OpenSSL when the call is missing
 * (ENOSYS, or a filter refusing it).
 */
int
random_bytes(void *p, size_t n)
{
#ifdef __linux__
	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		p = (unsigned char *)p + r;
		n -= (size_t)r;
	}
#endif
	while (n > 0) {
		int chunk = n > 1u << 20 ? 1 << 20 : (int)n;

		if (RAND_bytes(p, chunk) != 1)
			return -1;
		p = (unsigned char *)p + chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

int
random_hex(char *out, size_t n)
{
	unsigned char raw[64];
	size_t have = (n + 1) / 2, i;
	char tmp[2 * sizeof(raw) + 1];

	out[0] = '\0';
	for (i = 0; i < n; i += 2 * sizeof(raw)) {
		size_t take = have - i / 2 < sizeof(raw) ? have - i / 2 : sizeof(raw);
		size_t digits = n - i < 2 * take ? n - i : 2 * take;

		if (random_bytes(raw, take) < 0)
			return -1;
		hex_encode(raw, take, tmp);
		memcpy(out + i, tmp, digits);
		out[i + digits] = '\0';
	}
	return 0;
}

unsigned long long
random_below(unsigned long long n)
{
	unsigned long long v, limit;

	if (n <= 1)
		return 0;
	/* Reject the top sliver so every value is equally likely. */
	limit = ~0ULL - (~0ULL % n);
	do {
		if (random_bytes(&v, sizeof(v)) < 0)
			return 0;
	} while (v >= limit);
	return v % n;
}

char *
url_redact(const char *s)
{
	struct buf b = BUF_INIT;
	const char *p = s, *auth, *end, *at, *q;

	/* Every URL of a text (a message may quote two); its authority ends
	 * at the path, the query, the fragment or a blank. */
	while ((auth = strstr(p, "://")) != NULL) {
		auth += 3;
		end = auth + strcspn(auth, "/?# \t\r\n");
		for (at = NULL, q = auth; q < end; q++)
			if (*q == '@')
				at = q;
		if (at) {
			buf_add(&b, p, (size_t)(auth - p));
			buf_adds(&b, "***");
			buf_add(&b, at, (size_t)(end - at));
		} else {
			buf_add(&b, p, (size_t)(end - p));
		}
		p = end;
	}
	buf_adds(&b, p);
	return buf_detach(&b, NULL);
}
