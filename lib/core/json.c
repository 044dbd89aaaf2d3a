/*
 * json: a strict RFC 8259 parser that builds a cJSON tree and remembers
 * where every value came from, plus small lookup and writing helpers.
 *
 * The parser is recursive descent; JSON_MAX_DEPTH bounds the recursion, so
 * hostile input cannot exhaust the C stack.  Every error names the place
 * as "name:line:col" (1-based, columns count bytes).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"

/* 2^53: the largest magnitude below which every integer is a double. */
#define JSON_EXACT_MAX 9007199254740992LL
#define JSON_EXACT_DIGITS "9007199254740992"

/* Objects up to this many members are checked for duplicates by a scan. */
#define JSON_DUP_SCAN 16

struct parser {
	const char *s;
	size_t len, pos;
	size_t line_start;	/* offset of the first byte of the current line */
	int line;
	const char *name;
	int comments;
	struct json_src *src;
	struct err *e;
	struct open {
		char ch;	/* innermost open container, for messages */
		int line, col;
	} open;
};

/* A set of keys of one large object, for duplicate detection. */
struct keyset {
	const char **slot;
	size_t n, size;
};

static cJSON *parse_value(struct parser *, int, int, int);

static cJSON *
chk(cJSON *item)
{
	/* cJSON allocates with malloc; treat exhaustion as xmalloc does. */
	if (!item) {
		fprintf(stderr, "%s: fatal: out of memory (json)\n", log_prog());
		abort();
	}
	return item;
}

/*
 * The arena of lasting trees (json_opts.lasting): a tree that lives until
 * the process exits, such as the pipeline document, is a few thousand
 * small allocations; from malloc each new page of them costs a fault, a
 * 1 MiB document several milliseconds on a VM.  Its nodes and strings come
 * instead from large chunks mapped and populated in one call each, never
 * given back.  cJSON allocates through hooks, installed the first time a
 * lasting tree is parsed: they take from the arena only while such a
 * parse runs on this thread, and free() anything not in the arena, so
 * every other tree (spec files, HTTP answers) is freed for real, and so
 * are nodes added to a lasting tree later.  With hooks set cJSON stops
 * using realloc (its printers grow by malloc and copy); ours do not care.
 * Under AddressSanitizer there is no arena, so that the lifetime of the
 * document keeps being checked.
 */
#if defined(__SANITIZE_ADDRESS__)
#define JSON_ARENA 0
#else
#define JSON_ARENA 1
#endif
#define ARENA_CHUNKS 32

static struct {
	char *base[ARENA_CHUNKS];
	size_t size[ARENA_CHUNKS];
	int n;
	char *next, *end;
	int hooked;
} arena;
static __thread int arena_on;

/* A new chunk of at least n bytes to allocate from; -1 when none. */
static int
arena_chunk(size_t n)
{
	size_t sz = arena.n ? arena.size[arena.n - 1] * 2 : 256 * 1024;
	void *p;

	while (sz < n)
		sz *= 2;
	if (arena.n == ARENA_CHUNKS)
		return -1;
	p = mmap(NULL, sz, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	arena.base[arena.n] = p;
	arena.size[arena.n++] = sz;
	arena.next = p;
	arena.end = arena.next + sz;
	return 0;
}

static void *
arena_alloc(size_t n)
{
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (n > (size_t)(arena.end - arena.next) && arena_chunk(n) < 0)
		return malloc(n);
	p = arena.next;
	arena.next += n;
	return p;
}

static void *
hook_malloc(size_t n)
{
	return arena_on ? arena_alloc(n) : malloc(n);
}

static void
hook_free(void *p)
{
	int i;

	for (i = 0; i < arena.n; i++)
		if ((char *)p >= arena.base[i] && (char *)p < arena.base[i] + arena.size[i])
			return;
	free(p);
}

/* Start (on) or end a parse whose tree lasts; len sizes the first chunk. */
static void
arena_use(int on, size_t len)
{
	static cJSON_Hooks hooks = { hook_malloc, hook_free };

	if (!JSON_ARENA)
		return;
	if (on && !arena.hooked) {
		cJSON_InitHooks(&hooks);
		arena.hooked = 1;
	}
	/* Room for a typical tree (about twice its text) in one chunk. */
	if (on && arena.n == 0)
		(void)arena_chunk(2 * len + 64 * 1024);
	arena_on = on;
}

static int
clamp_int(size_t v)
{
	return v > INT_MAX ? INT_MAX : (int)v;
}

static int
col_of(const struct parser *p, size_t at)
{
	return clamp_int(at - p->line_start + 1);
}

static int __attribute__((format(printf, 4, 5)))
fail_at(struct parser *p, int line, int col, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return err_set(p->e, EX_USAGE_, "%s:%d:%d: %s", p->name, line, col, what);
}

/* Positions given to fail() must lie on the current line. */
#define fail(p, at, ...) fail_at((p), (p)->line, col_of((p), (at)), __VA_ARGS__)

/* "'x'" for a printable byte, "byte 0xNN" otherwise, for messages. */
static const char *
show_byte(unsigned char c, char *buf, size_t bufsz)
{
	if (c == '\'')
		snprintf(buf, bufsz, "\"'\"");
	else if (c > 0x20 && c < 0x7f)
		snprintf(buf, bufsz, "'%c'", c);
	else
		snprintf(buf, bufsz, "byte 0x%02x", c);
	return buf;
}

/* A key fit for a message: bounded, control bytes shown as '?'. */
static const char *
show_key(const char *k, char *buf, size_t bufsz)
{
	size_t i, n = 0;

	for (i = 0; k[i] && n + 4 < bufsz; i++)
		buf[n++] = (unsigned char)k[i] < 0x20 || k[i] == 0x7f ? '?' : k[i];
	if (k[i] && n + 4 >= bufsz) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

static int
eof_error(struct parser *p)
{
	if (p->open.ch)
		return fail(p, p->len, "unexpected end of input (unclosed '%c' at %d:%d)",
		    p->open.ch, p->open.line, p->open.col);
	return fail(p, p->len, "unexpected end of input");
}

static void
record(struct parser *p, const cJSON *item, int line, int col)
{
	struct json_src *src = p->src;

	if (!src)
		return;
	if (src->n == src->alloc) {
		src->alloc = src->alloc ? src->alloc * 2 : 64;
		src->locs = xrealloc(src->locs, src->alloc * sizeof(*src->locs));
	}
	src->locs[src->n].item = item;
	src->locs[src->n].line = line;
	src->locs[src->n].col = col;
	src->n++;
}

/* Skip whitespace and, when allowed, comments. */
static int
skip_ws(struct parser *p)
{
	const char *s = p->s;

	while (p->pos < p->len) {
		char c = s[p->pos];

		if (c == ' ' || c == '\t' || c == '\r') {
			p->pos++;
		} else if (c == '\n') {
			p->pos++;
			p->line++;
			p->line_start = p->pos;
		} else if (c == '/' && p->pos + 1 < p->len &&
		    (s[p->pos + 1] == '/' || s[p->pos + 1] == '*')) {
			int line = p->line, col = col_of(p, p->pos);

			if (!p->comments)
				return fail(p, p->pos, "comments are not allowed here");
			if (s[p->pos + 1] == '/') {
				while (p->pos < p->len && s[p->pos] != '\n')
					p->pos++;
				continue;
			}
			p->pos += 2;
			for (;;) {
				if (p->pos + 1 >= p->len) {
					p->pos = p->len;
					return fail_at(p, line, col, "unterminated block comment");
				}
				if (s[p->pos] == '*' && s[p->pos + 1] == '/') {
					p->pos += 2;
					break;
				}
				if (s[p->pos] == '\n') {
					p->line++;
					p->line_start = p->pos + 1;
				}
				p->pos++;
			}
		} else {
			break;
		}
	}
	return 0;
}

static int
hex4(const char *s, size_t avail, unsigned *out)
{
	unsigned v = 0;
	size_t i;

	if (avail < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t
utf8_put(unsigned long cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * How many of the n bytes from u go into a JSON string as they are: none
 * below 0x20, no quote, no backslash, and with ascii none above 0x7f (the
 * reader checks those as UTF-8).  Eight bytes at a time while none of
 * them stops the run: the classic test for a zero byte, on the word minus
 * 0x20 and on the word xor quotes and xor backslashes.
 */
static inline size_t
plain_run(const unsigned char *u, size_t n, int ascii)
{
	const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
	size_t i = 0;

	while (i + 8 <= n) {
		uint64_t x, q, b;

		memcpy(&x, u + i, 8);
		q = x ^ (ones * '"');
		b = x ^ (ones * '\\');
		if (((ascii ? x : 0) | ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) |
		    ((b - ones) & ~b)) & high)
			break;
		i += 8;
	}
	while (i < n && u[i] >= 0x20 && u[i] != '"' && u[i] != '\\' && (!ascii || u[i] < 0x80))
		i++;
	return i;
}

/*
 * Decode the string starting at the opening quote into a buffer of
 * cJSON's allocator (the arena during a lasting parse): the value or key
 * the tree keeps, decoded in place rather than built aside and copied.
 * The decoded text is never longer than the quoted one (an escape is
 * longer than what it stands for), so the buffer is sized on the quoted
 * string, found first; a string of plain ASCII, most of them, is copied
 * in one go.  NULL when it is not valid (reported).  Strings cannot hold
 * a raw newline, so every error is on the current line.
 */
static char *
parse_string(struct parser *p)
{
	const unsigned char *s = (const unsigned char *)p->s;
	size_t start = p->pos + 1, end = start;
	int plain = 1;
	char *out, *o;

	while (end < p->len && (end += plain_run(s + end, p->len - end, 1)) < p->len &&
	    s[end] != '"') {
		plain = 0;
		end += s[end] == '\\' ? 2 : 1;
	}
	if (end > p->len)
		end = p->len;
	out = cJSON_malloc(end - start + 1);
	if (!out)
		chk(NULL);
	if (plain && end < p->len) {
		memcpy(out, p->s + start, end - start);
		out[end - start] = '\0';
		p->pos = end + 1;
		return out;
	}
	o = out;
	p->pos = start;
	for (;;) {
		size_t run = p->pos, n;
		unsigned c;

		/* Copy plain ASCII runs in one go. */
		p->pos += plain_run(s + p->pos, p->len - p->pos, 1);
		memcpy(o, p->s + run, p->pos - run);
		o += p->pos - run;
		if (p->pos >= p->len) {
			eof_error(p);
			break;
		}
		c = s[p->pos];
		if (c == '"') {
			p->pos++;
			*o = '\0';
			return out;
		}
		if (c < 0x20) {
			fail(p, p->pos, "unescaped control character 0x%02x in string", c);
			break;
		}
		if (c >= 0x80) {
			n = utf8_len(s + p->pos, p->len - p->pos);
			if (n == 0) {
				fail(p, p->pos, "invalid UTF-8 in string");
				break;
			}
			memcpy(o, p->s + p->pos, n);
			o += n;
			p->pos += n;
			continue;
		}
		/* A backslash escape. */
		if (p->pos + 1 >= p->len) {
			eof_error(p);
			break;
		}
		c = s[p->pos + 1];
		if (c == 'u') {
			unsigned hi, lo;
			unsigned long cp;
			size_t at = p->pos;

			if (hex4(p->s + at + 2, p->len - at - 2, &hi) < 0) {
				size_t k;

				/* Hex digits up to the end of input: truncated. */
				for (k = at + 2; k < p->len && k < at + 6 &&
				    strchr("0123456789abcdefABCDEF", p->s[k]); k++)
					;
				if (k == p->len)
					eof_error(p);
				else
					fail(p, at, "invalid \\u escape: expected 4 hex digits");
				break;
			}
			p->pos += 6;
			if (hi == 0) {
				fail(p, at, "\\u0000 in a string is not supported");
				break;
			}
			if (hi >= 0xdc00 && hi <= 0xdfff) {
				fail(p, at, "unpaired surrogate \\u%04X in string", hi);
				break;
			}
			cp = hi;
			if (hi >= 0xd800 && hi <= 0xdbff) {
				if (p->pos + 1 < p->len && s[p->pos] == '\\' &&
				    s[p->pos + 1] == 'u' &&
				    hex4(p->s + p->pos + 2, p->len - p->pos - 2, &lo) == 0 &&
				    lo >= 0xdc00 && lo <= 0xdfff) {
					cp = 0x10000 + (((unsigned long)hi - 0xd800) << 10) +
					    (lo - 0xdc00);
					p->pos += 6;
				} else {
					fail(p, at, "unpaired surrogate \\u%04X in string", hi);
					break;
				}
			}
			o += utf8_put(cp, o);
			continue;
		}
		switch (c) {
		case '"': case '\\': case '/':
			*o = (char)c;
			break;
		case 'b': *o = '\b'; break;
		case 'f': *o = '\f'; break;
		case 'n': *o = '\n'; break;
		case 'r': *o = '\r'; break;
		case 't': *o = '\t'; break;
		default:
			if (c < 0x20 || c >= 0x7f)
				fail(p, p->pos, "invalid escape in string");
			else
				fail(p, p->pos, "invalid escape '\\%c' in string", c);
			cJSON_free(out);
			return NULL;
		}
		o++;
		p->pos += 2;
	}
	cJSON_free(out);
	return NULL;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static cJSON *
parse_number(struct parser *p)
{
	const char *s = p->s;
	size_t start = p->pos, i = p->pos, dstart, ndig, n;
	int integral = 1;
	char stackbuf[64], *lit;
	double d;
	cJSON *item;

	if (s[i] == '-')
		i++;
	dstart = i;
	if (i >= p->len) {
		p->pos = i;
		eof_error(p);
		return NULL;
	}
	if (s[i] == '0') {
		i++;
		if (i < p->len && is_digit(s[i])) {
			fail(p, start, "leading zero in number");
			return NULL;
		}
	} else if (is_digit(s[i])) {
		while (i < p->len && is_digit(s[i]))
			i++;
	} else {
		fail(p, i, "expected a digit after '-'");
		return NULL;
	}
	ndig = i - dstart;
	if (i < p->len && s[i] == '.') {
		integral = 0;
		i++;
		if (i >= p->len || !is_digit(s[i])) {
			p->pos = i;
			if (i >= p->len)
				eof_error(p);
			else
				fail(p, i, "expected a digit after '.' in number");
			return NULL;
		}
		while (i < p->len && is_digit(s[i]))
			i++;
	}
	if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
		integral = 0;
		i++;
		if (i < p->len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= p->len || !is_digit(s[i])) {
			p->pos = i;
			if (i >= p->len)
				eof_error(p);
			else
				fail(p, i, "expected a digit in the exponent of number");
			return NULL;
		}
		while (i < p->len && is_digit(s[i]))
			i++;
	}
	n = i - start;
	/* The text need not be NUL-terminated: strtod gets its own copy. */
	lit = n < sizeof(stackbuf) ? stackbuf : xmalloc(n + 1);
	memcpy(lit, s + start, n);
	lit[n] = '\0';
	if (integral && (ndig > 16 ||
	    (ndig == 16 && memcmp(s + dstart, JSON_EXACT_DIGITS, 16) > 0))) {
		/* A double would round it: keep the literal itself. */
		item = chk(cJSON_CreateRaw(lit));
	} else {
		d = strtod(lit, NULL);
		if (isinf(d)) {
			if (lit != stackbuf)
				free(lit);
			fail(p, start, "number out of range");
			return NULL;
		}
		item = chk(cJSON_CreateNumber(d));
	}
	if (lit != stackbuf)
		free(lit);
	p->pos = i;
	return item;
}

static cJSON *
parse_literal(struct parser *p, const char *word, cJSON *(*make)(void))
{
	size_t n = strlen(word), i;

	for (i = 0; i < n; i++) {
		if (p->pos + i >= p->len) {
			p->pos += i;
			eof_error(p);
			return NULL;
		}
		if (p->s[p->pos + i] != word[i]) {
			fail(p, p->pos, "invalid literal, expected '%s'", word);
			return NULL;
		}
	}
	p->pos += n;
	return chk(make());
}

static cJSON *
make_true(void)
{
	return cJSON_CreateTrue();
}

static cJSON *
make_false(void)
{
	return cJSON_CreateFalse();
}

static cJSON *
make_null(void)
{
	return cJSON_CreateNull();
}

static size_t
key_hash(const char *k)
{
	size_t h = 2166136261u;

	while (*k)
		h = (h ^ (unsigned char)*k++) * 16777619u;
	return h;
}

/* Insert k; 1 when it was there already. */
static int
keyset_add(struct keyset *ks, const char *k)
{
	size_t i;

	if ((ks->n + 1) * 2 > ks->size) {
		const char **old = ks->slot;
		size_t oldsize = ks->size, j;

		ks->size = ks->size ? ks->size * 2 : 64;
		ks->slot = xcalloc(ks->size, sizeof(*ks->slot));
		ks->n = 0;
		for (j = 0; j < oldsize; j++)
			if (old[j])
				keyset_add(ks, old[j]);
		free(old);
	}
	for (i = key_hash(k) & (ks->size - 1); ks->slot[i]; i = (i + 1) & (ks->size - 1))
		if (strcmp(ks->slot[i], k) == 0)
			return 1;
	ks->slot[i] = k;
	ks->n++;
	return 0;
}

/* Track the innermost open container; the previous one goes to *save. */
static void
open_push(struct parser *p, char ch, int line, int col, struct open *save)
{
	*save = p->open;
	p->open.ch = ch;
	p->open.line = line;
	p->open.col = col;
}

static cJSON *
parse_object(struct parser *p, int depth, int line, int col)
{
	cJSON *obj = chk(cJSON_CreateObject()), *val, *it;
	struct keyset ks = { NULL, 0, 0 };
	struct open save;
	size_t nmembers = 0;
	char b[16];

	record(p, obj, line, col);
	/* Members are recorded at their key; an unclosed bracket is shown as is. */
	open_push(p, '{', p->line, col_of(p, p->pos), &save);
	p->pos++;
	if (skip_ws(p) < 0)
		goto bad;
	if (p->pos < p->len && p->s[p->pos] == '}') {
		p->pos++;
		p->open = save;
		return obj;
	}
	for (;;) {
		int kline, kcol, dup = 0;
		char *key;

		if (p->pos >= p->len) {
			eof_error(p);
			goto bad;
		}
		if (p->s[p->pos] != '"') {
			if (p->s[p->pos] == '}' && nmembers > 0)
				fail(p, p->pos, "trailing comma in object");
			else
				fail(p, p->pos, "expected a string key%s, found %s",
				    nmembers ? "" : " or '}'",
				    show_byte((unsigned char)p->s[p->pos], b, sizeof(b)));
			goto bad;
		}
		kline = p->line;
		kcol = col_of(p, p->pos);
		if (!(key = parse_string(p)))
			goto bad;
		/* Small objects: scan; large ones: a hash set of their keys. */
		if (nmembers < JSON_DUP_SCAN) {
			for (it = obj->child; it; it = it->next)
				if (strcmp(it->string, key) == 0)
					dup = 1;
		} else {
			if (ks.size == 0)
				for (it = obj->child; it; it = it->next)
					keyset_add(&ks, it->string);
			dup = keyset_add(&ks, key);
		}
		if (dup) {
			char kb[80];

			fail_at(p, kline, kcol, "duplicate key '%s'",
			    show_key(key, kb, sizeof(kb)));
			cJSON_free(key);
			goto bad;
		}
		if (skip_ws(p) < 0) {
			cJSON_free(key);
			goto bad;
		}
		if (p->pos >= p->len || p->s[p->pos] != ':') {
			if (p->pos >= p->len)
				eof_error(p);
			else
				fail(p, p->pos, "expected ':' after object key");
			cJSON_free(key);
			goto bad;
		}
		p->pos++;
		if (skip_ws(p) < 0 ||
		    !(val = parse_value(p, depth, kline, kcol))) {
			cJSON_free(key);
			goto bad;
		}
		/*
		 * Hand our copy of the key to cJSON instead of copying it
		 * again; the key set keeps pointing at it, now owned by obj.
		 */
		val->string = key;
		cJSON_AddItemToArray(obj, val);
		nmembers++;
		if (skip_ws(p) < 0)
			goto bad;
		if (p->pos >= p->len) {
			eof_error(p);
			goto bad;
		}
		if (p->s[p->pos] == '}') {
			p->pos++;
			break;
		}
		if (p->s[p->pos] != ',') {
			fail(p, p->pos, "expected ',' or '}' after object member");
			goto bad;
		}
		p->pos++;
		if (skip_ws(p) < 0)
			goto bad;
	}
	free(ks.slot);
	p->open = save;
	return obj;
bad:
	free(ks.slot);
	p->open = save;
	cJSON_Delete(obj);
	return NULL;
}

static cJSON *
parse_array(struct parser *p, int depth, int line, int col)
{
	cJSON *arr = chk(cJSON_CreateArray()), *val;
	struct open save;
	int n = 0;

	record(p, arr, line, col);
	open_push(p, '[', p->line, col_of(p, p->pos), &save);
	p->pos++;
	if (skip_ws(p) < 0)
		goto bad;
	if (p->pos < p->len && p->s[p->pos] == ']') {
		p->pos++;
		p->open = save;
		return arr;
	}
	for (;;) {
		if (n > 0 && p->pos < p->len && p->s[p->pos] == ']') {
			fail(p, p->pos, "trailing comma in array");
			goto bad;
		}
		if (!(val = parse_value(p, depth, 0, 0)))
			goto bad;
		cJSON_AddItemToArray(arr, val);
		n++;
		if (skip_ws(p) < 0)
			goto bad;
		if (p->pos >= p->len) {
			eof_error(p);
			goto bad;
		}
		if (p->s[p->pos] == ']') {
			p->pos++;
			break;
		}
		if (p->s[p->pos] != ',') {
			fail(p, p->pos, "expected ',' or ']' after array element");
			goto bad;
		}
		p->pos++;
		if (skip_ws(p) < 0)
			goto bad;
	}
	p->open = save;
	return arr;
bad:
	p->open = save;
	cJSON_Delete(arr);
	return NULL;
}

/*
 * Parse the value at p->pos (whitespace already skipped).  depth counts
 * the containers around it.  Its position is recorded at (line, col), or
 * where it starts when line is 0 (object members give their key's).
 */
static cJSON *
parse_value(struct parser *p, int depth, int line, int col)
{
	cJSON *item;
	char b[16];
	char c;

	if (p->pos >= p->len) {
		eof_error(p);
		return NULL;
	}
	if (line == 0) {
		line = p->line;
		col = col_of(p, p->pos);
	}
	c = p->s[p->pos];
	if (c == '{' || c == '[') {
		if (depth >= JSON_MAX_DEPTH) {
			fail(p, p->pos, "nesting deeper than %d", JSON_MAX_DEPTH);
			return NULL;
		}
		return c == '{' ? parse_object(p, depth + 1, line, col) :
		    parse_array(p, depth + 1, line, col);
	}
	if (c == '"') {
		char *str = parse_string(p);

		if (!str)
			return NULL;
		/* The tree takes the decoded string as it is: a reference
		 * made its own (freed with the item). */
		item = chk(cJSON_CreateStringReference(str));
		item->type &= ~cJSON_IsReference;
	} else if (c == '-' || is_digit(c))
		item = parse_number(p);
	else if (c == 't')
		item = parse_literal(p, "true", make_true);
	else if (c == 'f')
		item = parse_literal(p, "false", make_false);
	else if (c == 'n')
		item = parse_literal(p, "null", make_null);
	else {
		fail(p, p->pos, "expected a value, found %s",
		    show_byte((unsigned char)c, b, sizeof(b)));
		return NULL;
	}
	if (item)
		record(p, item, line, col);
	return item;
}

static int
loc_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const struct json_loc *)a)->item;
	uintptr_t y = (uintptr_t)((const struct json_loc *)b)->item;

	return x < y ? -1 : x > y;
}

cJSON *
json_parse(const char *text, size_t len, const struct json_opts *o,
    struct json_src *src, struct err *e)
{
	struct parser p;
	const char *nul;
	cJSON *root;
	char b[16];

	memset(&p, 0, sizeof(p));
	p.s = text ? text : "";
	p.len = text ? len : 0;
	p.line = 1;
	p.name = o && o->name ? o->name : "<input>";
	p.comments = o ? o->comments : 0;
	p.e = e;
	if (src) {
		src->name = xstrdup(p.name);
		src->locs = NULL;
		src->n = src->alloc = 0;
		p.src = src;
	}

	/* NUL bytes first: nothing after one can be trusted to be text. */
	if (p.len && (nul = memchr(p.s, '\0', p.len)) != NULL) {
		size_t off = (size_t)(nul - p.s), i;

		for (i = 0; i < off; i++)
			if (p.s[i] == '\n') {
				p.line++;
				p.line_start = i + 1;
			}
		fail(&p, off, "NUL byte at offset %zu", off);
		goto bad;
	}
	if (p.len >= 3 && memcmp(p.s, "\xef\xbb\xbf", 3) == 0) {
		fail(&p, 0, "byte order mark is not allowed");
		goto bad;
	}
	if (skip_ws(&p) < 0)
		goto bad;
	if (o && o->lasting)
		arena_use(1, p.len);
	root = parse_value(&p, 0, 0, 0);
	arena_use(0, 0);
	if (!root)
		goto bad;
	if (skip_ws(&p) < 0) {
		cJSON_Delete(root);
		goto bad;
	}
	if (p.pos < p.len) {
		fail(&p, p.pos, "unexpected %s after the JSON value",
		    show_byte((unsigned char)p.s[p.pos], b, sizeof(b)));
		cJSON_Delete(root);
		goto bad;
	}
	/* Sorted by item, so that json_where() can bsearch. */
	if (src && src->n > 1)
		qsort(src->locs, src->n, sizeof(*src->locs), loc_cmp);
	return root;
bad:
	if (src)
		json_src_free(src);
	return NULL;
}

/*
 * Map the whole pages of n bytes at p now, in one call: on a VM each page
 * first touched costs a trap of several microseconds, a 1 MiB buffer 256
 * of them.  Only worth it for large buffers; harmless when the kernel
 * cannot (before Linux 5.14 the call fails and pages come on demand).
 */
static void
prefault(void *p, size_t n)
{
#ifdef MADV_POPULATE_WRITE
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = ((uintptr_t)p + pg - 1) & ~(pg - 1);
	uintptr_t z = ((uintptr_t)p + n) & ~(pg - 1);

	if (n >= 64 * 1024 && z > a)
		(void)madvise((void *)a, z - a, MADV_POPULATE_WRITE);
#else
	(void)p;
	(void)n;
#endif
}

char *
json_slurp_fd(int fd, const char *name, size_t cap, size_t *len, struct err *e)
{
	struct stat st;
	size_t n = 0, alloc;
	char *data;

	if (!name)
		name = "<input>";
	if (cap == 0 || cap > SIZE_MAX / 2)
		cap = SIZE_MAX / 2;
	if (len)
		*len = 0;
	alloc = 64 * 1024;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		if ((unsigned long long)st.st_size > cap) {
			err_set(e, EX_USAGE_, "'%s' is larger than the %zu-byte limit", name, cap);
			return NULL;
		}
		/* Room for the whole file, the NUL and a byte to see EOF. */
		alloc = (size_t)st.st_size + 2;
	}
	if (alloc > cap + 2)
		alloc = cap + 2;
	data = xmalloc(alloc);
	prefault(data, alloc);
	for (;;) {
		ssize_t r;
		size_t want;

		if (n + 1 >= alloc) {
			size_t old = alloc;

			alloc = alloc > (cap + 2) / 2 ? cap + 2 : alloc * 2;
			data = xrealloc(data, alloc);
			prefault(data + old, alloc - old);
		}
		/* Read at most one byte past the cap: enough to know it is passed. */
		want = alloc - 1 - n;
		if (want > cap + 1 - n)
			want = cap + 1 - n;
		r = read(fd, data + n, want);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err_set(e, EX_IOERR_, "cannot read '%s': %s", name, strerror(errno));
			free(data);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > cap) {
			err_set(e, EX_USAGE_, "'%s' is larger than the %zu-byte limit", name, cap);
			free(data);
			return NULL;
		}
	}
	data[n] = '\0';
	if (len)
		*len = n;
	return data;
}

/*
 * A mapped document that someone truncates while we read it: the pages
 * past its new end are gone, and touching one is a SIGBUS.  While a text
 * is mapped, this handler puts zero pages in their place, from the page
 * that faulted to the end of the map, and notes it (json_text_release()
 * tells); the read goes on and sees NULs, which no JSON holds.  A SIGBUS
 * anywhere else gets the action there was before.  One map at a time:
 * the tools read one document, before any thread starts.
 */
static char *bus_lo, *bus_hi;
static uintptr_t bus_page;
static volatile sig_atomic_t bus_hit;
static struct sigaction bus_old;

static void
on_sigbus(int sig, siginfo_t *si, void *uc)
{
	char *a = si->si_addr;

	(void)sig;
	(void)uc;
	if (bus_lo && a >= bus_lo && a < bus_hi) {
		char *from = (char *)((uintptr_t)a & ~(bus_page - 1));

		/* mmap() is a system call and nothing more: safe here. */
		if (mmap(from, (size_t)(bus_hi - from), PROT_READ,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
			bus_hit = 1;
			return;
		}
	}
	/* Not ours: the fault comes again, under the action from before. */
	sigaction(SIGBUS, &bus_old, NULL);
}

static int
bus_guard(void *map, size_t len)
{
	struct sigaction sa;

	if (bus_lo)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	bus_hit = 0;
	bus_page = (uintptr_t)sysconf(_SC_PAGESIZE);
	bus_lo = map;
	bus_hi = (char *)map + len;
	if (sigaction(SIGBUS, &sa, &bus_old) != 0) {
		bus_lo = bus_hi = NULL;
		return -1;
	}
	return 0;
}

int
json_text_read(struct json_text *t, int fd, const char *name, size_t cap, struct err *e)
{
	struct stat st;
	off_t pos;

	memset(t, 0, sizeof(*t));
	if (!name)
		name = "<input>";
	/*
	 * A large regular file is mapped, its pages populated in one call: no
	 * copy of it and no fault per page.  From where fd stands, which is
	 * left at the end as reading it would.
	 */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 64 * 1024 &&
	    (pos = lseek(fd, 0, SEEK_CUR)) >= 0 && pos < st.st_size) {
		off_t pg = (off_t)sysconf(_SC_PAGESIZE), at = pos & ~(pg - 1);
		size_t n = (size_t)(st.st_size - pos);
		void *m;

		if (cap && n > cap) {
			err_set(e, EX_USAGE_, "'%s' is larger than the %zu-byte limit", name, cap);
			return -1;
		}
		m = mmap(NULL, n + (size_t)(pos - at), PROT_READ, MAP_PRIVATE | MAP_POPULATE,
		    fd, at);
		if (m != MAP_FAILED && lseek(fd, st.st_size, SEEK_SET) >= 0 &&
		    bus_guard(m, n + (size_t)(pos - at)) == 0) {
			t->map = m;
			t->maplen = n + (size_t)(pos - at);
			t->data = (const char *)m + (pos - at);
			t->len = n;
			return 0;
		}
		if (m != MAP_FAILED)
			munmap(m, n + (size_t)(pos - at));
	}
	if (!(t->heap = json_slurp_fd(fd, name, cap, &t->len, e)))
		return -1;
	t->data = t->heap;
	return 0;
}

int
json_text_release(struct json_text *t)
{
	int changed = 0;

	if (t->map) {
		sigaction(SIGBUS, &bus_old, NULL);
		changed = bus_hit != 0;
		bus_lo = bus_hi = NULL;
		munmap(t->map, t->maplen);
	}
	free(t->heap);
	memset(t, 0, sizeof(*t));
	return changed;
}

char *
json_slurp(const char *path, size_t cap, size_t *len, struct err *e)
{
	char *data;
	int fd, saved;

	if (strcmp(path, "-") == 0)
		return json_slurp_fd(STDIN_FILENO, "<stdin>", cap, len, e);
	do
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		err_set(e, EX_IOERR_, "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	data = json_slurp_fd(fd, path, cap, len, e);
	saved = errno;
	close(fd);
	errno = saved;
	return data;
}

cJSON *
json_load(const char *path, size_t cap, int comments, struct json_src *src, struct err *e)
{
	struct json_opts o;
	size_t len;
	char *text;
	cJSON *root;

	o.name = strcmp(path, "-") == 0 ? "<stdin>" : path;
	o.comments = comments;
	if (!(text = json_slurp(path, cap, &len, e))) {
		if (src)
			memset(src, 0, sizeof(*src));
		return NULL;
	}
	root = json_parse(text, len, &o, src, e);
	free(text);
	return root;
}

void
json_where(const struct json_src *src, const cJSON *item, char *out, size_t outsz)
{
	const char *name = src && src->name ? src->name : "<input>";
	const struct json_loc *l = NULL;
	struct json_loc key;

	if (!out || outsz == 0)
		return;
	if (src && item && src->n > 0) {
		key.item = item;
		l = bsearch(&key, src->locs, src->n, sizeof(*src->locs), loc_cmp);
	}
	if (l)
		snprintf(out, outsz, "%s:%d:%d", name, l->line, l->col);
	else
		snprintf(out, outsz, "%s", name);
}

void
json_src_free(struct json_src *src)
{
	if (!src)
		return;
	free(src->name);
	free(src->locs);
	src->name = NULL;
	src->locs = NULL;
	src->n = src->alloc = 0;
}

cJSON *
json_path(const cJSON *root, const char *path)
{
	const cJSON *cur = root;
	const char *s = path;
	char *key;

	if (!root || !path)
		return NULL;
	/* No key is longer than the path it came from. */
	key = xmalloc(strlen(path) + 1);
	while (*s) {
		if (*s == '[' && s[1] != '\'' && s[1] != '"') {
			/* [N]: digits only. */
			long idx = 0;

			s++;
			if (!is_digit(*s))
				goto bad;
			while (is_digit(*s)) {
				idx = idx * 10 + (*s++ - '0');
				if (idx > INT_MAX)
					goto bad;
			}
			if (*s++ != ']' || !cJSON_IsArray(cur))
				goto bad;
			for (cur = cur->child; cur && idx > 0; idx--)
				cur = cur->next;
			if (!cur)
				goto bad;
			continue;
		}
		if (*s == '[') {
			/* ['key'] or ["key"], with \\ and \<quote> escapes. */
			char q = s[1];
			size_t n = 0;

			s += 2;
			while (*s && *s != q) {
				if (*s == '\\' && (s[1] == q || s[1] == '\\'))
					s++;
				key[n++] = *s++;
			}
			key[n] = '\0';
			if (*s != q || s[1] != ']')
				goto bad;
			s += 2;
		} else {
			/* A bare key, after a dot except at the start. */
			const char *k;

			if (*s == '.')
				s++;
			else if (s != path)
				goto bad;
			k = s;
			while (*s && *s != '.' && *s != '[')
				s++;
			if (s == k)
				goto bad;
			memcpy(key, k, (size_t)(s - k));
			key[s - k] = '\0';
		}
		if (!cJSON_IsObject(cur) ||
		    !(cur = cJSON_GetObjectItemCaseSensitive(cur, key)))
			goto bad;
	}
	free(key);
	return (cJSON *)cur;
bad:
	free(key);
	return NULL;
}

const char *
json_str(const cJSON *obj, const char *key)
{
	const cJSON *v;

	if (!cJSON_IsObject(obj) || !key)
		return NULL;
	v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* "-?[0-9]+" read exactly into *out. */
static int
decimal_i64(const char *s, long long *out)
{
	const char *d = s[0] == '-' ? s + 1 : s;
	long long v;
	char *end;

	if (!is_digit(*d))
		return -1;
	while (is_digit(*d))
		d++;
	if (*d)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE || *end)
		return -1;
	*out = v;
	return 0;
}

int
json_get_i64(const cJSON *item, long long *out)
{
	if (!item || !out)
		return -1;
	if (cJSON_IsNumber(item)) {
		double d = item->valuedouble;

		/* Range first: the cast is only defined for values that fit. */
		if (!(d >= -(double)JSON_EXACT_MAX && d <= (double)JSON_EXACT_MAX) ||
		    (double)(long long)d != d)
			return -1;
		*out = (long long)d;
		return 0;
	}
	if ((cJSON_IsRaw(item) || cJSON_IsString(item)) && item->valuestring)
		return decimal_i64(item->valuestring, out);
	return -1;
}

cJSON *
json_add_i64(cJSON *obj, const char *key, long long v)
{
	cJSON *item;

	if (!cJSON_IsObject(obj) || !key)
		return NULL;
	if (v > JSON_EXACT_MAX || v < -JSON_EXACT_MAX) {
		char lit[32];

		snprintf(lit, sizeof(lit), "%lld", v);
		item = chk(cJSON_CreateRaw(lit));
	} else
		item = chk(cJSON_CreateNumber((double)v));
	/* Replace rather than add a second member with the same key. */
	json_set(obj, key, item);
	return item;
}

void
json_set(cJSON *obj, const char *key, cJSON *val)
{
	cJSON *old;

	if (!val)
		return;
	if (!cJSON_IsObject(obj) || !key) {
		cJSON_Delete(val);
		return;
	}
	old = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (old == val)
		return;
	if (old) {
		/* Sets val's key and swaps it in where old was, freeing old. */
		if (!cJSON_ReplaceItemInObjectCaseSensitive(obj, key, val))
			chk(NULL);
		return;
	}
	if (!cJSON_AddItemToObject(obj, key, val))
		chk(NULL);
}

/*
 * The one JSON printer: compact text, byte for byte what
 * cJSON_PrintUnformatted() gives (its escapes, "null" for NaN and
 * infinities, Raw text verbatim), except for numbers: cJSON prints "%1.15g"
 * and only falls back to "%1.17g" when that reads back off by more than a
 * relative DBL_EPSILON, so 9007199254740992 or 0.30000000000000004 would
 * come out rounded; we print the shortest of "%.15g", "%.16g" and "%.17g"
 * that reads back exactly.  Output goes through a fixed window flushed to
 * a stream or a buf when full, so a large tree never needs one string.
 */
struct jw {
	char *win;
	size_t len, size;
	FILE *f;		/* flush to f, or else to b */
	struct buf *b;
	int failed;
};

static void
jw_flush(struct jw *w)
{
	if (w->len == 0 || w->failed)
		goto out;
	if (w->f) {
		if (fwrite(w->win, 1, w->len, w->f) != w->len)
			w->failed = 1;
	} else if (buf_add(w->b, w->win, w->len) < 0) {
		w->failed = 1;
	}
out:
	w->len = 0;
}

static void
jw_put(struct jw *w, const char *p, size_t n)
{
	while (n > 0) {
		size_t room = w->size - w->len, k = n < room ? n : room;

		memcpy(w->win + w->len, p, k);
		w->len += k;
		p += k;
		n -= k;
		if (w->len == w->size)
			jw_flush(w);
	}
}

static void
jw_putc(struct jw *w, char c)
{
	if (w->len == w->size)
		jw_flush(w);
	w->win[w->len++] = c;
}

static void
jw_string(struct jw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s, *end;
	size_t run;

	jw_putc(w, '"');
	end = u ? u + strlen(s) : u;
	while (u < end) {
		char esc[6];
		const char *e = esc;
		size_t elen = 2;

		/* Copy the run of bytes that need no escape in one go. */
		run = plain_run(u, (size_t)(end - u), 0);
		if (run > 0) {
			jw_put(w, (const char *)u, run);
			u += run;
			continue;
		}
		switch (*u) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\b': e = "\\b"; break;
		case '\f': e = "\\f"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[*u >> 4];
			esc[5] = hex[*u & 15];
			elen = 6;
			break;
		}
		jw_put(w, e, elen);
		u++;
	}
	jw_putc(w, '"');
}

/* The text of a number, in b (at least 40 bytes); returns its length. */
static size_t
number_text(const cJSON *item, char *b, size_t bsz)
{
	double d = item->valuedouble;
	int prec, n = 0;

	if (!isfinite(d))
		return (size_t)snprintf(b, bsz, "null");
	if (d > -1e15 && d < 1e15 && (double)(long long)d == d && !(d == 0 && signbit(d))) {
		/* What "%1.15g" gives for such an integer ("-0" is left to it). */
		unsigned long long v = d < 0 ? (unsigned long long)-(long long)d :
		    (unsigned long long)d;
		char t[24];
		size_t k = sizeof(t);

		do
			t[--k] = (char)('0' + v % 10);
		while ((v /= 10) > 0);
		if (d < 0)
			t[--k] = '-';
		memcpy(b, t + k, sizeof(t) - k);
		return sizeof(t) - k;
	}
	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(b, bsz, "%.*g", prec, d);
		if (strtod(b, NULL) == d)
			break;
	}
	return (size_t)n;
}

static void
jw_value(struct jw *w, const cJSON *item, int depth)
{
	const cJSON *c;
	char b[40];

	switch (item->type & 0xFF) {
	case cJSON_NULL:
		jw_put(w, "null", 4);
		break;
	case cJSON_False:
		jw_put(w, "false", 5);
		break;
	case cJSON_True:
		jw_put(w, "true", 4);
		break;
	case cJSON_Number:
		jw_put(w, b, number_text(item, b, sizeof(b)));
		break;
	case cJSON_Raw:
		if (item->valuestring)
			jw_put(w, item->valuestring, strlen(item->valuestring));
		else
			jw_put(w, "null", 4);
		break;
	case cJSON_String:
		jw_string(w, item->valuestring);
		break;
	case cJSON_Array:
	case cJSON_Object:
		/* Deeper than any tree our parser builds: such a tree is
		 * corrupt (a cycle), not a document. */
		if (depth > 4 * JSON_MAX_DEPTH) {
			w->failed = 1;
			return;
		}
		jw_putc(w, (item->type & 0xFF) == cJSON_Array ? '[' : '{');
		for (c = item->child; c && !w->failed; c = c->next) {
			if (c != item->child)
				jw_putc(w, ',');
			if ((item->type & 0xFF) == cJSON_Object) {
				jw_string(w, c->string);
				jw_putc(w, ':');
			}
			jw_value(w, c, depth + 1);
		}
		jw_putc(w, (item->type & 0xFF) == cJSON_Array ? ']' : '}');
		break;
	default:
		/* cJSON_Invalid: cJSON's printer gives up on it too. */
		w->failed = 1;
		break;
	}
}

int
json_write(FILE *f, const cJSON *item)
{
	char win[64 * 1024];
	struct jw w = { win, 0, sizeof(win), f, NULL, 0 };

	if (item)
		jw_value(&w, item, 0);
	else
		jw_put(&w, "null", 4);
	jw_flush(&w);
	return w.failed ? -1 : 0;
}

char *
json_print(const cJSON *item)
{
	char win[4096];
	struct buf b = BUF_INIT;
	struct jw w = { win, 0, sizeof(win), NULL, &b, 0 };

	if (item)
		jw_value(&w, item, 0);
	else
		jw_put(&w, "null", 4);
	jw_flush(&w);
	if (w.failed) {
		/* No cap on b: only a corrupt tree gets here. */
		fprintf(stderr, "%s: fatal: cannot print a JSON tree\n", log_prog());
		abort();
	}
	return buf_detach(&b, NULL);
}

int
json_refuse(const cJSON **bad, const cJSON *at, struct err *e, const char *fmt, ...)
{
	char msg[sizeof(e->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (bad)
		*bad = at;
	return err_set(e, EX_USAGE_, "%s", msg);
}

int
json_error_at(struct err *e, const struct json_src *src, const cJSON *at, const char *path,
    const char *fmt, ...)
{
	char where[512], what[512];
	va_list ap;

	json_where(src, at, where, sizeof(where));
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return err_set(e, EX_USAGE_, "%s: %s: %s", where, path, what);
}
