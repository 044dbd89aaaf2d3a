/*
 * secrets-scan: the scanner.  See secrets-scan.h for what this file owns,
 * secrets.h for the contract; the rules it runs are secrets-rules.c's,
 * the files it reads come from secrets-source.c.
 *
 * How a file is scanned: one pass of an Aho-Corasick automaton (bytes in
 * classes, letters folded, four slices of the file at once) finds the
 * keywords; each line holding keywords is then matched against the
 * expressions of the rules those keywords belong to, only there.  Every
 * match of a rule's expression contains one of its keywords, so nothing
 * is lost.  The generic rule is first parsed by hand at each keyword, and
 * its expression runs only where the value already passes its checks
 * (glibc's regexec with subexpressions is slow; most "token" or
 * "password" lines assign a name or a call).  A match becomes a finding
 * once the rule's checks pass (word boundary, entropy, placeholder, a JWT
 * header, a key body), unless it overlaps a finding made before on the
 * same text (a token in "token = ..." is one finding).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/crypto-load.h"
#include "core/encode.h"
#include "core/json.h"
#include "gate/secrets-rules.h"
#include "gate/secrets-scan.h"
#include "gate/secrets.h"

#define LONG_LINE 4096		/* longer lines are matched in windows around keywords */
#define WIN_BEFORE 512
#define WIN_AFTER 2048
#define HITS_MAX 65536		/* keyword positions kept per line */
#define STREAMS 4		/* slices of a text the automaton runs over at once */
#define STREAM_MIN 512		/* a shorter text is one slice */
#define NMATCH 10
#define KEY_BODY_MIN 64		/* base64 characters a private key body needs */
#define KEY_RUN_MIN 40		/* ... with one run this long (prose has spaces) */
#define KEY_BODY_CAP 16384
#define GENERIC_MIN 8
#define GENERIC_MAX 512
#define JWT_HEADER_MAX 340	/* base64 characters of a JWT header decoded (255 bytes) */

/* Marks that suppress the findings of their line, PREFIX:allow: ours,
 * and gitleaks', so that a tree moving from gitleaks keeps its
 * suppressions. */
static const char *const allow_marks[] = { "ci-gate", "gitleaks", NULL };

/* Words that, after the keyword, make a key name something else than the
 * secret: "password_hash", "token_url", "secretName". */
static const char *const key_tails[] = {
	"url", "urls", "uri", "path", "paths", "file", "filename", "dir", "name",
	"names", "type", "field", "label", "len", "length", "size", "hash",
	"hashed", "regex", "regexp", "pattern", "header", "prefix", "suffix",
	"format", "id", "ids", "env", "var", "variable", "count", "ttl",
	"timeout", "expiry", "expires", "expiration", "endpoint", "mode",
	"policy", "store", "class", "provider", "ref", "param", "placeholder",
	"prompt", "hint", "message", "msg", "error", "help", "text",
	"description", "enabled", "required", "min", "max", "version", NULL
};

struct span {
	size_t a, b;
};

/* A keyword at pos: the rules it belongs to (a stream's hits hold the
 * automaton's state row instead, looked up once the streams are merged). */
struct hit {
	size_t pos;
	uint64_t mask;
};

struct hitv {
	struct hit *h;
	size_t n, alloc;
};

struct secrets {
	const struct secrets_opts *o;
	const struct secrets *parent;	/* of a fork: owns what is shared */
	/* The rules' expressions (the generic rule's anchored form), each
	 * compiled when this scanner first needs it: most rules never run on
	 * most trees, and stripe-key's bounded repeat alone takes
	 * milliseconds, once per thread. */
	regex_t re[SECRETS_NRULES];
	int enabled[SECRETS_NRULES];
	int compiled[SECRETS_NRULES];	/* 1: compiled; -1: it does not */
	char broken[256];	/* the first rule that did not compile, and why */
	struct secrets_allow allow;
	struct secrets_baseline baseline;
	/* the prefilter */
	uint16_t *ac_next;	/* [state * ncls + class]: next state * ncls */
	uint64_t *ac_out;	/* [state]: rules whose keyword ends there */
	uint8_t ac_cls[256];	/* byte -> class */
	size_t nstates, ac_ncls;
	size_t ac_first_out;	/* states from here on end a keyword */
	/* scratch, reused from file to file */
	char *line;
	size_t line_alloc;
	char *fbuf;
	size_t fbuf_alloc;
	struct span *spans;
	size_t nspans, spans_alloc;
	struct hitv hits;	/* the keywords of the current line */
	int hits_over;		/* more than HITS_MAX on the line: match it whole */
	struct hitv sh[STREAMS];	/* keywords found by each stream, in text order */
};

/* ---- checks and findings' forms ----------------------------------------- */

double
secrets_entropy(const char *s, size_t n)
{
	size_t count[256] = { 0 }, i;
	double h = 0;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		count[(unsigned char)s[i]]++;
	for (i = 0; i < 256; i++) {
		double p;

		if (!count[i])
			continue;
		p = (double)count[i] / (double)n;
		h -= p * log2(p);
	}
	return h;
}

static int
has_ci(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle), i, j;

	for (i = 0; i + k <= n; i++) {
		for (j = 0; j < k; j++)
			if (tolower((unsigned char)s[i + j]) != needle[j])
				break;
		if (j == k)
			return 1;
	}
	return 0;
}

int
secrets_placeholder(const char *s, size_t n, int generic)
{
	static const char *const any[] = {
		"${", "{{", "}}", "xxxx", "changeme", "change_me", "change-me",
		"changeit", "example", "<%", NULL
	};
	static const char *const gen[] = {
		"placeholder", "redacted", "dummy", "your_", "your-", "yourkey",
		"****", "....", "<", ">", "%s", "%(", "process.env", "os.environ",
		"getenv", "secret_here", "token_here", NULL
	};
	size_t i;

	for (i = 0; any[i]; i++)
		if (has_ci(s, n, any[i]))
			return 1;
	if (!generic)
		return 0;
	for (i = 0; gen[i]; i++)
		if (has_ci(s, n, gen[i]))
			return 1;
	/* A reference to a variable, not a value: $VAR, @Vault(...), %VAR%. */
	return n && (s[0] == '$' || s[0] == '@' || s[0] == '%');
}

char *
secrets_redact(const char *s, size_t n)
{
	size_t chars = 0, show, i, end;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			chars++;
	show = chars >= 16 ? 4 : chars / 4;
	/* Cut after `show` whole characters. */
	for (i = 0, end = 0; i < n; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (show == 0)
				break;
			show--;
		}
		end = i + 1;
	}
	if (end > n)
		end = n;
	while (end < n && ((unsigned char)s[end] & 0xc0) == 0x80)
		end++;
	return xasprintf("%.*s\xe2\x80\xa6", (int)end, s);
}

void
secrets_fingerprint(const char *rule, const char *path, const char *secret,
    size_t n, char out[SECRETS_FP_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	out[0] = '\0';
	if (!c)
		return;
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	EVP_DigestUpdate(c, rule, strlen(rule) + 1);
	EVP_DigestUpdate(c, path, strlen(path) + 1);
	EVP_DigestUpdate(c, secret, n);
	EVP_DigestFinal_ex(c, md, &mdlen);
	EVP_MD_CTX_free(c);
	if (mdlen == SECRETS_FP_LEN / 2)
		hex_encode(md, mdlen, out);
}


/* ---- the prefilter ---------------------------------------------------- */

/* Build the automaton: a trie of the keywords, failure links by BFS, then
 * every missing edge filled in, so the scan is one lookup per byte. */
static void
ac_build(struct secrets *s)
{
	size_t cap = 1, i, k, head, tail;
	int32_t *go;
	size_t *fail, *queue;
	const char *p;

	for (i = 0; i < SECRETS_NRULES; i++)
		cap += strlen(secrets_rule_defs[i].keywords) + 1;
	go = xmalloc(cap * 256 * sizeof(*go));
	for (k = 0; k < cap * 256; k++)
		go[k] = -1;
	s->ac_out = xcalloc(cap, sizeof(*s->ac_out));
	s->nstates = 1;
	for (i = 0; i < SECRETS_NRULES; i++) {
		if (!s->enabled[i])
			continue;
		for (p = secrets_rule_defs[i].keywords; *p;) {
			size_t st = 0;

			for (; *p && *p != '|'; p++) {
				unsigned char c = (unsigned char)*p;

				if (go[st * 256 + c] < 0)
					go[st * 256 + c] = (int32_t)s->nstates++;
				st = (size_t)go[st * 256 + c];
			}
			s->ac_out[st] |= (uint64_t)1 << i;
			if (*p == '|')
				p++;
		}
	}
	fail = xcalloc(s->nstates, sizeof(*fail));
	queue = xcalloc(s->nstates, sizeof(*queue));
	head = tail = 0;
	for (k = 0; k < 256; k++) {
		if (go[k] < 0) {
			go[k] = 0;
		} else {
			fail[go[k]] = 0;
			queue[tail++] = (size_t)go[k];
		}
	}
	while (head < tail) {
		size_t st = queue[head++];

		s->ac_out[st] |= s->ac_out[fail[st]];
		for (k = 0; k < 256; k++) {
			int32_t nx = go[st * 256 + k];

			if (nx < 0) {
				go[st * 256 + k] = go[fail[st] * 256 + k];
			} else {
				fail[nx] = (size_t)go[fail[st] * 256 + k];
				queue[tail++] = (size_t)nx;
			}
		}
	}
	/*
	 * The table the scan uses, small enough for the L1 cache: bytes fall
	 * into classes (each byte of a keyword its own, uppercase as its
	 * lowercase, every other byte class 0); states are renumbered so that
	 * those where a keyword ends come last, and an entry holds the next
	 * state's row offset.  The scan is then one load and one compare a
	 * byte.
	 */
	{
		size_t ncls = 1, *order = xcalloc(s->nstates, sizeof(*order));
		size_t *newid = xcalloc(s->nstates, sizeof(*newid));
		uint64_t *out = xcalloc(s->nstates, sizeof(*out));
		unsigned char rep[256];
		size_t n = 0;

		memset(s->ac_cls, 0, sizeof(s->ac_cls));
		rep[0] = 0;	/* NUL is in no keyword: class 0 moves as it does */
		for (i = 0; i < SECRETS_NRULES; i++)
			for (p = secrets_rule_defs[i].keywords; *p; p++) {
				unsigned char c = (unsigned char)*p;

				if (c != '|' && !s->ac_cls[c]) {
					s->ac_cls[c] = (uint8_t)ncls;
					rep[ncls++] = c;
				}
			}
		for (k = 'A'; k <= 'Z'; k++)
			s->ac_cls[k] = s->ac_cls[k + 32];
		for (i = 0; i < s->nstates; i++)
			if (!s->ac_out[i])
				order[n++] = i;
		s->ac_first_out = n;
		for (i = 0; i < s->nstates; i++)
			if (s->ac_out[i])
				order[n++] = i;
		for (i = 0; i < s->nstates; i++)
			newid[order[i]] = i;
		s->ac_ncls = ncls;
		s->ac_next = xmalloc(s->nstates * ncls * sizeof(*s->ac_next));
		for (i = 0; i < s->nstates; i++) {
			size_t old = order[i];

			out[i] = s->ac_out[old];
			for (k = 0; k < ncls; k++)
				s->ac_next[i * ncls + k] =
				    (uint16_t)(newid[go[old * 256 + rep[k]]] * ncls);
		}
		free(s->ac_out);
		s->ac_out = out;
		free(order);
		free(newid);
	}
	free(go);
	free(fail);
	free(queue);
}

/* ---- the scanner --------------------------------------------------------- */

/* Rule k's expression, compiled on first use (each thread has its own:
 * glibc's regexec holds a lock per expression); NULL when it does not
 * compile, which s->broken then says for secrets_failed(). */
static regex_t *
rule_re(struct secrets *s, int k)
{
	const struct secrets_rule_def *rd = &secrets_rule_defs[k];
	int rc;

	if (s->compiled[k])
		return s->compiled[k] > 0 ? &s->re[k] : NULL;
	rc = regcomp(&s->re[k], rd->kind == RULE_GENERIC ? secrets_generic_anchored : rd->re,
	    REG_EXTENDED | (rd->icase || rd->kind == RULE_GENERIC ? REG_ICASE : 0));
	if (rc != 0) {
		char why[200];

		regerror(rc, &s->re[k], why, sizeof(why));
		if (!s->broken[0])
			snprintf(s->broken, sizeof(s->broken), "rule '%s' does not compile: %s",
			    rd->info.id, why);
		s->compiled[k] = -1;
		return NULL;
	}
	s->compiled[k] = 1;
	return &s->re[k];
}

int
secrets_failed(const struct secrets *s, struct err *e)
{
	return s->broken[0] ? err_set(e, EX_INTERNAL, "%s", s->broken) : 0;
}

struct secrets *
secrets_new(const struct secrets_opts *o, struct err *e)
{
	struct secrets *s;
	size_t i, k;

	/* A finding's fingerprint is a digest. */
	if (crypto_load(e) < 0)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->o = o;
	for (i = 0; i < SECRETS_NRULES; i++) {
		s->enabled[i] = 1;
		for (k = 0; o->disable && o->disable[k]; k++)
			if (!strcmp(o->disable[k], secrets_rule_defs[i].info.id))
				s->enabled[i] = 0;
	}
	if (secrets_allow_compile(&s->allow, o, e) < 0 ||
	    (o->baseline && secrets_baseline_load(&s->baseline, o->baseline, e) < 0)) {
		secrets_free(s);
		return NULL;
	}
	ac_build(s);
	return s;
}

struct secrets *
secrets_fork(const struct secrets *parent)
{
	struct secrets *s = xcalloc(1, sizeof(*s));

	s->parent = parent;
	s->o = parent->o;
	memcpy(s->enabled, parent->enabled, sizeof(s->enabled));
	/* Read only from here on: the prefilter, allowlists, baseline. */
	s->allow = parent->allow;
	s->baseline = parent->baseline;
	s->ac_next = parent->ac_next;
	s->ac_out = parent->ac_out;
	memcpy(s->ac_cls, parent->ac_cls, sizeof(s->ac_cls));
	s->nstates = parent->nstates;
	s->ac_ncls = parent->ac_ncls;
	s->ac_first_out = parent->ac_first_out;
	return s;
}

void
secrets_free(struct secrets *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < SECRETS_NRULES; i++)
		if (s->compiled[i] > 0)
			regfree(&s->re[i]);
	if (!s->parent) {
		secrets_allow_free(&s->allow);
		secrets_baseline_free(&s->baseline);
		free(s->ac_next);
		free(s->ac_out);
	}
	free(s->line);
	free(s->fbuf);
	free(s->spans);
	free(s->hits.h);
	for (i = 0; i < STREAMS; i++)
		free(s->sh[i].h);
	free(s);
}

static int
is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int
b64_char(int c)
{
	return is_alnum(c) || c == '+' || c == '/' || c == '=';
}

/*
 * Does a JWT's first segment (n bytes at s) decode to a header, JSON with
 * "alg" or "typ"?  Only its start is decoded (JWT_HEADER_MAX characters,
 * a multiple of 4: whole bytes); a last lone character adds no byte.
 */
static int
jwt_header(const char *s, size_t n)
{
	unsigned char *hdr;
	size_t len;
	int yes;

	if (n > JWT_HEADER_MAX)
		n = JWT_HEADER_MAX;
	if (n % 4 == 1)
		n--;
	if (b64_decode(s, n, B64_ANY, &hdr, &len) < 0)
		return 0;
	yes = strstr((char *)hdr, "\"alg\"") || strstr((char *)hdr, "\"typ\"");
	free(hdr);
	return yes;
}

/* Room for one more element (size bytes) in p, which holds n of *alloc:
 * the vectors of the scanner double, from first. */
static void *
grow(void *p, size_t n, size_t *alloc, size_t size, size_t first)
{
	if (n < *alloc)
		return p;
	*alloc = *alloc ? 2 * *alloc : first;
	return xrealloc(p, *alloc * size);
}

/* Copy n bytes of the text to s->line, NUL-terminated (regexec wants a
 * string; the text is not one). */
static void
line_copy(struct secrets *s, const char *t, size_t n)
{
	if (n + 1 > s->line_alloc) {
		s->line_alloc = n + 1 > 4096 ? n + 1 : 4096;
		free(s->line);
		s->line = xmalloc(s->line_alloc);
	}
	memcpy(s->line, t, n);
	s->line[n] = '\0';
}

static int
overlaps(const struct secrets *s, size_t a, size_t b)
{
	size_t i;

	for (i = 0; i < s->nspans; i++)
		if (a < s->spans[i].b && s->spans[i].a < b)
			return 1;
	return 0;
}

static void
add_span(struct secrets *s, size_t a, size_t b)
{
	s->spans = grow(s->spans, s->nspans, &s->spans_alloc, sizeof(*s->spans), 16);
	s->spans[s->nspans].a = a;
	s->spans[s->nspans].b = b;
	s->nspans++;
}

/* Where a scan is: the file, its text and the line being matched. */
struct ctx {
	struct secrets *s;
	struct secrets_result *r;
	const char *path;
	const char *text;
	size_t len;
	const long *linemap;
	size_t ls, le;		/* the line: [ls, le); ls once line_start() found it */
	size_t first;		/* the line's first keyword */
	int ls_known;
	/* Counted only when a match is reported (most lines with a keyword
	 * have none): the 0-based index of the line starting at counted. */
	size_t counted;
	long lineno;
	int allow;		/* the line says ci-gate:allow or gitleaks:allow;
				 * -1: not looked at yet */
};

static int has_mark(const char *s, size_t n);

/* Where the current line starts: looked for only when needed (a match of
 * the generic rule, the most common keywords', needs no line start). */
static size_t
line_start(struct ctx *c)
{
	if (!c->ls_known) {
		c->ls = c->first;
		while (c->ls > 0 && c->text[c->ls - 1] != '\n')
			c->ls--;
		c->ls_known = 1;
	}
	return c->ls;
}

/* The 0-based index in the text of the current line: the newlines from
 * where the last count stopped (lines are visited in order). */
static long
line_index(struct ctx *c)
{
	const char *nl;

	line_start(c);
	while (c->counted < c->ls) {
		nl = memchr(c->text + c->counted, '\n', c->ls - c->counted);
		if (!nl)
			break;
		c->lineno++;
		c->counted = (size_t)(nl - c->text) + 1;
	}
	if (c->counted < c->ls)
		c->counted = c->ls;
	return c->lineno;
}

/* Record a match that passed its rule's checks. */
static void
report(struct ctx *c, int rule, size_t at, size_t a, size_t b, const char *secret, size_t n)
{
	struct secrets *s = c->s;
	struct secrets_result *r = c->r;
	struct secret_finding *f;
	size_t i;
	long col = 1;

	if (overlaps(s, a, b))
		return;
	add_span(s, a, b);
	line_start(c);
	if (c->allow < 0)
		c->allow = has_mark(c->text + c->ls, c->le - c->ls);
	if (c->allow) {
		r->st.sup_inline++;
		return;
	}
	if (secrets_known_example(secret, n) || secrets_allow_value(&s->allow, secret, n)) {
		r->st.sup_allowlist++;
		return;
	}
	r->f = grow(r->f, r->n, &r->alloc, sizeof(*r->f), 16);
	f = &r->f[r->n++];
	memset(f, 0, sizeof(*f));
	f->rule = rule;
	f->path = xstrdup(c->path);
	f->line = c->linemap ? c->linemap[line_index(c)] : line_index(c) + 1;
	for (i = c->ls; i < at; i++)
		if (((unsigned char)c->text[i] & 0xc0) != 0x80)
			col++;
	f->column = col;
	f->redacted = secrets_redact(secret, n);
	secrets_fingerprint(secrets_rule_defs[rule].info.id, c->path, secret, n, f->fingerprint);
	if (secrets_baseline_has(&s->baseline, f->fingerprint)) {
		f->baselined = 1;
		r->st.sup_baseline++;
	}
}

static int
tail_word(const char *w, size_t n)
{
	size_t i, k;

	/* "fields" and "field2" are "field": the same kind of thing. */
	while (n > 1 && isdigit((unsigned char)w[n - 1]))
		n--;
	if (n > 3 && (w[n - 1] == 's' || w[n - 1] == 'S'))
		if (tail_word(w, n - 1))
			return 1;
	for (i = 0; key_tails[i]; i++) {
		k = strlen(key_tails[i]);
		if (k == n && !strncasecmp(w, key_tails[i], n))
			return 1;
	}
	return 0;
}

/* Does a word of the key after its keyword make it name something else
 * ("password_hash", "token_url", "secretName", "secret_name_list")?
 * Words are split at '_', '-', '.' and camelCase humps. */
static int
key_tail_excluded(const char *key, size_t n)
{
	size_t i = 0, w;

	while (i < n) {
		while (i < n && (key[i] == '_' || key[i] == '-' || key[i] == '.'))
			i++;
		w = i;
		if (i < n)
			i++;
		while (i < n && key[i] != '_' && key[i] != '-' && key[i] != '.' &&
		    !(isupper((unsigned char)key[i]) && islower((unsigned char)key[i - 1])))
			i++;
		if (i > w && tail_word(key + w, i - w))
			return 1;
	}
	return 0;
}

/* Could a value be a secret rather than a name ("session_id-requestMap")?
 * Random text mixes cases and digits; passwords have symbols; hex and
 * base64 and long lowercase keys are the usual exceptions. */
static int
looks_random(const char *v, size_t n)
{
	size_t i;
	int up = 0, low = 0, digit = 0, hex = 1, sep = 0, sym = 0, b64 = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		up |= isupper(c) != 0;
		low |= islower(c) != 0;
		digit |= isdigit(c) != 0;
		hex &= isxdigit(c) != 0;
		sep |= c == '_' || c == '-' || c == '.';
		b64 |= c == '+' || c == '/';
		sym |= !isalnum(c) && c != '_' && c != '-' && c != '.';
	}
	if (up && low && digit)
		return 1;
	if (sym && (digit || up))
		return 1;
	if (n >= 16 && digit && (hex || b64))
		return 1;
	return n >= 20 && digit && (up || low) && !sep;
}

static int
dotted_name(const char *v, size_t n)
{
	size_t i;
	int dots = 0, start = 1;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '.') {
			if (start)
				return 0;
			dots++;
			start = 1;
		} else if (start) {
			if (!isalpha(c) && c != '_')
				return 0;
			start = 0;
		} else if (!isalnum(c) && c != '_') {
			return 0;
		}
	}
	return dots > 0 && !start;
}

static int
generic_ok(const struct secrets *s, const char *v, size_t n, int quoted, int next)
{
	size_t i;

	if (n < GENERIC_MIN || n > GENERIC_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (isspace((unsigned char)v[i]))
			return 0;
	/* Unquoted and followed by "(" or "[": a call or an index; or a
	 * dotted name ("ed25519.Ed25519PrivateKey", a type or an attribute). */
	if (!quoted && (next == '(' || next == '[' || dotted_name(v, n)))
		return 0;
	if (!looks_random(v, n))
		return 0;
	if (v[0] == '/' || (v[0] == '.' && v[1] == '/') || (v[0] == '~' && v[1] == '/') ||
	    has_ci(v, n, "://"))
		return 0;
	if (secrets_placeholder(v, n, 1))
		return 0;
	return secrets_entropy(v, n) >= s->o->entropy;
}

/* The body of a private key after its header: base64 lines, maybe
 * escaped as \n in a string, maybe with RFC 1421 headers first. */
static size_t
key_body(const char *t, size_t len, size_t p, struct buf *body)
{
	size_t run = 0, maxrun = 0, end = p;
	int at_line_start = 1;

	while (p < len) {
		unsigned char c = (unsigned char)t[p];

		if (at_line_start && isalpha(c)) {
			/* "Proc-Type: 4,ENCRYPTED", "Version: GnuPG": skip the line. */
			size_t q = p;

			while (q < len && (isalnum((unsigned char)t[q]) || t[q] == '-'))
				q++;
			if (q < len && t[q] == ':' && q + 1 < len && t[q + 1] == ' ') {
				while (q < len && t[q] != '\n' && !(t[q] == '\\' && q + 1 < len && t[q + 1] == 'n'))
					q++;
				p = q;
				continue;
			}
		}
		if (b64_char(c)) {
			buf_addc(body, (int)c);
			run++;
			if (run > maxrun)
				maxrun = run;
			at_line_start = 0;
			p++;
			end = p;
		} else if (c == '\n' || c == '\r' || c == ' ' || c == '\t' || c == '"' || c == '\'' || c == ',') {
			if (c == '\n')
				at_line_start = 1;
			run = 0;
			p++;
		} else if (c == '\\' && p + 1 < len && (t[p + 1] == 'n' || t[p + 1] == 'r')) {
			at_line_start = 1;
			run = 0;
			p += 2;
		} else if (c == '-' && p + 5 <= len && !strncmp(t + p, "-----", 5)) {
			break;
		} else {
			break;
		}
		if (body->len >= KEY_BODY_CAP)
			break;
	}
	if (body->len < KEY_BODY_MIN || maxrun < KEY_RUN_MIN)
		return 0;
	return end;
}

/* Does the last piece of a token (after its last '-', '/' or '_') mix two
 * of upper case, lower case and digits, as random text does? */
static int
last_piece_mixed(const char *s, size_t n)
{
	size_t i = n;
	int up = 0, low = 0, digit = 0;

	while (i > 0 && s[i - 1] != '-' && s[i - 1] != '/' && s[i - 1] != '_')
		i--;
	for (; i < n; i++) {
		up |= isupper((unsigned char)s[i]) != 0;
		low |= islower((unsigned char)s[i]) != 0;
		digit |= isdigit((unsigned char)s[i]) != 0;
	}
	return up + low + digit >= 2;
}

static void
check_match(struct ctx *c, int k, size_t base, const regmatch_t *m)
{
	const struct secrets_rule_def *rd = &secrets_rule_defs[k];
	const char *t = c->text;
	size_t a, b;

	if (rd->kind == RULE_PRIVKEY) {
		struct buf body = BUF_INIT;
		size_t end;

		a = base + (size_t)m[0].rm_so;
		b = base + (size_t)m[0].rm_eo;
		buf_init(&body, KEY_BODY_CAP + 16);
		end = key_body(t, c->len, b, &body);
		if (end && !secrets_placeholder(body.data, body.len, 0) &&
		    secrets_entropy(body.data, body.len) >= 4.0)
			report(c, k, a, a, end, body.data, body.len);
		buf_free(&body);
		return;
	}
	if (rd->kind == RULE_GENERIC) {	/* m from the anchored form */
		int g, vg = -1;
		size_t ka, kb, wa, wb;

		for (g = GENERIC_VALUE; g <= GENERIC_BARE; g++)
			if (m[g].rm_so >= 0) {
				vg = g;
				break;
			}
		if (vg < 0 || m[GENERIC_KEY].rm_so < 0 || m[GENERIC_KEYWORD].rm_so < 0)
			return;
		ka = base + (size_t)m[GENERIC_KEYWORD].rm_eo;	/* the key after its keyword */
		kb = base + (size_t)m[GENERIC_KEY].rm_eo;
		if (key_tail_excluded(t + ka, kb - ka))
			return;
		wa = base + (size_t)m[vg].rm_so;
		wb = base + (size_t)m[vg].rm_eo;
		if (!generic_ok(c->s, t + wa, wb - wa, vg != GENERIC_BARE, wb < c->le ? (unsigned char)t[wb] : 0))
			return;
		report(c, k, wa, wa, wb, t + wa, wb - wa);
		return;
	}
	if (m[rd->group].rm_so < 0)
		return;
	a = base + (size_t)m[rd->group].rm_so;
	b = base + (size_t)m[rd->group].rm_eo;
	if (rd->bound && b < c->le) {
		unsigned char nx = (unsigned char)t[b];

		if (is_alnum(nx) || (nx && strchr(rd->bound, nx)))
			return;
	}
	if (secrets_placeholder(t + a, b - a, 0) ||
	    secrets_entropy(t + a, b - a) < rd->min_entropy || (rd->mixed && !last_piece_mixed(t + a, b - a)))
		return;
	if (rd->kind == RULE_JWT) {
		const char *dot = memchr(t + a, '.', b - a);

		if (!jwt_header(t + a, dot ? (size_t)(dot - (t + a)) : b - a))
			return;
	}
	report(c, k, a, a, b, t + a, b - a);
}

/* Match rule k against text[wa, wb), a window of the current line. */
static void
match_window(struct ctx *c, int k, size_t wa, size_t wb)
{
	struct secrets *s = c->s;
	size_t n = wb - wa, off = 0, i;
	regmatch_t m[NMATCH];
	int base_flags = (wa > c->ls ? REG_NOTBOL : 0) | (wb < c->le ? REG_NOTEOL : 0);
	regex_t *re = rule_re(s, k);

	if (!re)
		return;
	line_copy(s, c->text + wa, n);
	for (i = 0; i < n; i++)
		if (s->line[i] == '\0')
			s->line[i] = ' ';
	while (off < n) {
		int flags = base_flags | (off ? REG_NOTBOL : 0);

		if (regexec(re, s->line + off, NMATCH, m, flags) != 0)
			break;
		check_match(c, k, wa + off, m);
		off += m[0].rm_eo > m[0].rm_so ? (size_t)m[0].rm_eo : (size_t)m[0].rm_so + 1;
	}
}

static int
has_mark(const char *s, size_t n)
{
	const char *p, *end = s + n;
	size_t i, k;

	/* At each ":allow", the prefixes before it; found by its 'w', a
	 * rarer byte than ':' or 'c' in code, so memchr stops less often. */
	for (p = s; (p = memchr(p, 'w', (size_t)(end - p))) != NULL; p++) {
		if (p - s < 5 || memcmp(p - 5, ":allo", 5) != 0)
			continue;
		for (i = 0; allow_marks[i]; i++) {
			k = strlen(allow_marks[i]);
			if ((size_t)(p - s) >= k + 5 && !memcmp(p - 5 - k, allow_marks[i], k))
				return 1;
		}
	}
	return 0;
}

/*
 * What the generic rule needs after its keyword: more of the key, maybe
 * a closing quote, blanks, then '=' or ':'.  Checked by hand first, as
 * most lines that say "token" or "password" assign nothing.
 */
static int
assign_follows(const char *t, size_t p, size_t end)
{
	while (p < end && (is_alnum((unsigned char)t[p]) || t[p] == '_' || t[p] == '.' || t[p] == '-'))
		p++;
	if (p < end && (t[p] == '"' || t[p] == '\''))
		p++;
	while (p < end && t[p] != '\n' && isspace((unsigned char)t[p]))
		p++;
	return p < end && (t[p] == '=' || t[p] == ':');
}

static int
key_char(int c)
{
	return is_alnum(c) || c == '_' || c == '.' || c == '-';
}

/* The bytes that end a bare value: those of the generic expression's
 * [^][(){}<>"'`[:space:],;#|&] and NUL. */
static const unsigned char value_end[256] = {
	[0] = 1, ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1, [' '] = 1,
	['['] = 1, [']'] = 1, ['('] = 1, [')'] = 1, ['{'] = 1, ['}'] = 1, ['<'] = 1, ['>'] = 1,
	['"'] = 1, ['\''] = 1, ['`'] = 1, [','] = 1, [';'] = 1, ['#'] = 1, ['|'] = 1, ['&'] = 1,
};

int
secrets_generic_parse(const char *t, size_t n, size_t *va, size_t *vb, int *quoted)
{
	size_t p = 0;
	char q;

	while (p < n && key_char((unsigned char)t[p]))
		p++;
	if (p < n && (t[p] == '"' || t[p] == '\''))
		p++;
	while (p < n && isspace((unsigned char)t[p]))
		p++;
	if (p + 1 < n && ((t[p] == ':' && t[p + 1] == '=') || (t[p] == '=' && t[p + 1] == '>')))
		p += 2;
	else if (p < n && (t[p] == '=' || t[p] == ':'))
		p++;
	else
		return -1;
	while (p < n && isspace((unsigned char)t[p]))
		p++;
	if (p < n && (t[p] == '"' || t[p] == '\'' || t[p] == '`')) {
		const char *end;

		q = t[p++];
		end = memchr(t + p, q, n - p);
		if (!end)
			return -1;
		*va = p;
		*vb = (size_t)(end - t);
		*quoted = 1;
		return 0;
	}
	*va = p;
	while (p < n && !value_end[(unsigned char)t[p]])
		p++;
	if (p == *va)
		return -1;
	*vb = p;
	*quoted = 0;
	return 0;
}

/* The generic rule at its keyword ending at p on the current line, if an
 * assignment follows: the anchored expression from the start of the key.
 * *last: the start of the key tried last (two keywords in one key are
 * one try). */
static void
generic_at(struct ctx *c, int k, size_t p, size_t *last)
{
	struct secrets *s = c->s;
	size_t ks = p, n, va, vb;
	regmatch_t m[NMATCH];
	regex_t *re;
	int quoted;

	if (!assign_follows(c->text, p + 1, c->le))
		return;
	while (ks > 0 && key_char((unsigned char)c->text[ks - 1]))	/* '\n' is no key_char */
		ks--;
	if (ks == *last)
		return;
	*last = ks;
	n = c->le - ks < WIN_AFTER ? c->le - ks : WIN_AFTER;
	/* By hand first: most values are names or calls, and glibc's regexec
	 * with subexpressions is slow.  The expression decides. */
	if (secrets_generic_parse(c->text + ks, n, &va, &vb, &quoted) < 0 ||
	    !generic_ok(s, c->text + ks + va, vb - va, quoted,
	    ks + vb < c->le ? (unsigned char)c->text[ks + vb] : 0))
		return;
	if (memchr(c->text + ks, '\0', n) || !(re = rule_re(s, k)))
		return;
	line_copy(s, c->text + ks, n);
	if (regexec(re, s->line, NMATCH, m, n < c->le - ks ? REG_NOTEOL : 0) == 0)
		check_match(c, k, ks, m);
}

/* The generic rule on the current line, at each of its keywords: those
 * kept, or when the line holds more than HITS_MAX keywords, all of them
 * found again by the automaton (no match is lost on such a line). */
static void
generic_line(struct ctx *c, int k)
{
	struct secrets *s = c->s;
	uint64_t bit = (uint64_t)1 << k;
	size_t h, i, st, last = (size_t)-1;
	const size_t ncls = s->ac_ncls, first = s->ac_first_out * ncls;
	const unsigned char *u = (const unsigned char *)c->text;

	if (!s->hits_over) {
		for (h = 0; h < s->hits.n; h++)
			if (s->hits.h[h].mask & bit)
				generic_at(c, k, s->hits.h[h].pos, &last);
		return;
	}
	/* A line starts in the automaton's first state: no keyword holds a
	 * newline. */
	for (i = line_start(c), st = 0; i < c->le; i++) {
		st = s->ac_next[st + s->ac_cls[u[i]]];
		if (st >= first && (s->ac_out[st / ncls] & bit))
			generic_at(c, k, i, &last);
	}
}

static void
flush_line(struct ctx *c, uint64_t mask)
{
	struct secrets *s = c->s;
	size_t k, h;

	c->allow = -1;	/* looked at when a match is reported */
	for (k = 0; k < SECRETS_NRULES; k++) {
		uint64_t bit = (uint64_t)1 << k;
		size_t last = 0;
		int any = 0;

		if (!(mask & bit) || !s->enabled[k])
			continue;
		if (secrets_rule_defs[k].kind == RULE_GENERIC) {
			generic_line(c, (int)k);
			continue;
		}
		line_start(c);
		if (c->le - c->ls <= LONG_LINE || s->hits_over) {
			match_window(c, (int)k, c->ls, c->le);
			continue;
		}
		/* A long line: windows around the keywords, not the whole line. */
		for (h = 0; h < s->hits.n; h++) {
			size_t p = s->hits.h[h].pos;

			if (!(s->hits.h[h].mask & bit) || (any && p < last + 64))
				continue;
			match_window(c, (int)k, p > c->ls + WIN_BEFORE ? p - WIN_BEFORE : c->ls,
			    p + WIN_AFTER < c->le ? p + WIN_AFTER : c->le);
			last = p;
			any = 1;
		}
	}
}

static void
hitv_push(struct hitv *v, size_t pos, uint64_t mask)
{
	v->h = grow(v->h, v->n, &v->alloc, sizeof(*v->h), 64);
	v->h[v->n].pos = pos;
	v->h[v->n].mask = mask;
	v->n++;
}

static void
add_hit(struct secrets *s, size_t pos, uint64_t mask)
{
	if (s->hits.n == HITS_MAX) {
		s->hits_over = 1;	/* then the whole line is matched */
		s->hits.h[s->hits.n - 1].mask |= mask;
		return;
	}
	hitv_push(&s->hits, pos, mask);
}

/*
 * Find every keyword of the text: the automaton runs over STREAMS slices
 * of it at once (each slice starts at a line start, and no keyword spans
 * lines), because one stream waits on its table lookups and four keep the
 * processor busy.  The hits go to s->sh[0..n), the slices in text order;
 * returns n.
 */
static size_t
ac_collect(struct secrets *s, const unsigned char *u, size_t len)
{
	const uint16_t *next = s->ac_next;
	const uint8_t *cls = s->ac_cls;
	const size_t first = s->ac_first_out * s->ac_ncls;
	size_t lo[STREAMS], hi[STREAMS], k, n, m;
	size_t i0, i1, i2, i3, o0 = 0, o1 = 0, o2 = 0, o3 = 0;

	n = len >= STREAM_MIN ? STREAMS : 1;
	lo[0] = 0;
	for (k = 1; k <= n; k++) {
		size_t p = k == n ? len : len * k / n;
		const unsigned char *nl;

		if (p < lo[k - 1])
			p = lo[k - 1];
		nl = k == n || p >= len ? NULL : memchr(u + p, '\n', len - p);
		hi[k - 1] = k == n ? len : nl ? (size_t)(nl - u) + 1 : len;
		if (k < n)
			lo[k] = hi[k - 1];
	}
	for (k = 0; k < STREAMS; k++)
		s->sh[k].n = 0;
	if (n == STREAMS) {
		i0 = lo[0], i1 = lo[1], i2 = lo[2], i3 = lo[3];
		m = hi[0] - lo[0];
		for (k = 1; k < STREAMS; k++)
			if (hi[k] - lo[k] < m)
				m = hi[k] - lo[k];
		for (k = 0; k < m; k++) {
			o0 = next[o0 + cls[u[i0]]];
			o1 = next[o1 + cls[u[i1]]];
			o2 = next[o2 + cls[u[i2]]];
			o3 = next[o3 + cls[u[i3]]];
			if (o0 >= first)
				hitv_push(&s->sh[0], i0, o0);
			if (o1 >= first)
				hitv_push(&s->sh[1], i1, o1);
			if (o2 >= first)
				hitv_push(&s->sh[2], i2, o2);
			if (o3 >= first)
				hitv_push(&s->sh[3], i3, o3);
			i0++, i1++, i2++, i3++;
		}
		lo[0] = i0, lo[1] = i1, lo[2] = i2, lo[3] = i3;
	}
	/* What is left of each slice, one at a time. */
	for (k = 0; k < n; k++) {
		size_t off = k == 0 ? o0 : k == 1 ? o1 : k == 2 ? o2 : o3, i;

		if (n == 1)
			off = 0;
		for (i = lo[k]; i < hi[k]; i++) {
			off = next[off + cls[u[i]]];
			if (off >= first)
				hitv_push(&s->sh[k], i, off);
		}
	}
	return n;
}

void
secrets_scan_text(struct secrets *s, const char *path, const char *text,
    size_t len, const long *linemap, struct secrets_result *r)
{
	const size_t ncls = s->ac_ncls;
	struct ctx c;
	uint64_t mask = 0, m;
	size_t h, k, ns;

	if (secrets_allow_path(&s->allow, path)) {
		r->st.skipped_allowlist++;
		return;
	}
	r->st.files++;
	r->st.bytes += (long long)len;
	memset(&c, 0, sizeof(c));
	c.s = s;
	c.r = r;
	c.path = path;
	c.text = text;
	c.len = len;
	c.linemap = linemap;
	s->nspans = 0;
	s->hits.n = 0;
	s->hits_over = 0;
	ns = ac_collect(s, (const unsigned char *)text, len);
	for (k = 0; k < ns; k++) {
		for (h = 0; h < s->sh[k].n; h++) {
			size_t i = s->sh[k].h[h].pos;
			const char *nl;

			m = s->ac_out[s->sh[k].h[h].mask / ncls];
			if (mask && i < c.le) {
				mask |= m;
				add_hit(s, i, m);
				continue;
			}
			if (mask)
				flush_line(&c, mask);
			/* A new line: find its ends (its number is counted if a match
			 * is reported on it). */
			c.first = i;
			c.ls_known = 0;
			nl = memchr(text + i, '\n', len - i);
			c.le = nl ? (size_t)(nl - text) : len;
			mask = m;
			s->hits.n = 0;
			s->hits_over = 0;
			add_hit(s, i, m);
		}
	}
	if (mask)
		flush_line(&c, mask);
}

/* ---- reading a file ---------------------------------------------------- */

const struct secrets_opts *
secrets_options(const struct secrets *s)
{
	return s->o;
}

int
secrets_binary(const char *p, size_t n)
{
	return memchr(p, '\0', n < SECRETS_BINARY_PROBE ? n : SECRETS_BINARY_PROBE) != NULL;
}

void
secrets_scan_file(struct secrets *s, int dirfd, const char *name, const char *path, int regular,
    struct secrets_result *r)
{
	struct stat sb;
	size_t n = 0;
	ssize_t got;
	int fd = -1;

	/*
	 * A file its directory listed as regular is opened at once and its
	 * size read from the descriptor (one lookup of the path, not two);
	 * O_NONBLOCK in case it became a FIFO since.  Anything else is looked
	 * at first, so that no device or FIFO is ever opened.
	 */
	if (regular) {
		fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd >= 0 && fstat(fd, &sb) < 0) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0 && fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		r->st.skipped_other++;	/* gone */
		return;
	}
	if (!S_ISREG(sb.st_mode))
		r->st.skipped_other++;	/* a symlink, a submodule, a special file */
	else if (sb.st_size > s->o->max_file_size)
		r->st.skipped_large++;
	else if (secrets_allow_path(&s->allow, path))
		r->st.skipped_allowlist++;
	else if (fd < 0 && (fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) < 0)
		r->st.skipped_other++;
	else
		goto read;
	if (fd >= 0)
		close(fd);
	return;
read:
	if ((size_t)sb.st_size + 1 > s->fbuf_alloc) {
		s->fbuf_alloc = (size_t)sb.st_size + 1 > 65536 ? (size_t)sb.st_size + 1 : 65536;
		free(s->fbuf);
		s->fbuf = xmalloc(s->fbuf_alloc);
	}
	while (n < (size_t)sb.st_size) {
		got = read(fd, s->fbuf + n, (size_t)sb.st_size - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	s->fbuf[n] = '\0';
	if (secrets_binary(s->fbuf, n)) {
		r->st.skipped_binary++;
		return;
	}
	secrets_scan_text(s, path, s->fbuf, n, NULL, r);
}

/* ---- results -------------------------------------------------------- */

size_t
secrets_live(const struct secrets_result *r)
{
	size_t i, n = 0;

	for (i = 0; i < r->n; i++)
		n += !r->f[i].baselined;
	return n;
}

cJSON *
secrets_findings_json(const struct secrets_result *r)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct secret_finding *f = &r->f[i];
		cJSON *o;

		if (f->baselined)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "rule", secrets_rule_defs[f->rule].info.id);
		cJSON_AddStringToObject(o, "file", f->path);
		cJSON_AddNumberToObject(o, "line", (double)f->line);
		cJSON_AddNumberToObject(o, "column", (double)f->column);
		cJSON_AddStringToObject(o, "match", f->redacted);
		cJSON_AddStringToObject(o, "fingerprint", f->fingerprint);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

cJSON *
secrets_stats_json(const struct secrets_result *r, const struct secrets_opts *o)
{
	cJSON *j = cJSON_CreateObject(), *sk, *su;

	cJSON_AddStringToObject(j, "mode", r->st.mode ? r->st.mode : "tracked");
	if (o->mode == SECRETS_SINCE && o->since)
		cJSON_AddStringToObject(j, "since", o->since);
	json_add_i64(j, "files", r->st.files);
	json_add_i64(j, "bytes", r->st.bytes);
	json_add_i64(j, "max_file_size", o->max_file_size);
	sk = cJSON_AddObjectToObject(j, "skipped");
	json_add_i64(sk, "binary", r->st.skipped_binary);
	json_add_i64(sk, "too_large", r->st.skipped_large);
	json_add_i64(sk, "allowlist", r->st.skipped_allowlist);
	json_add_i64(sk, "other", r->st.skipped_other);
	su = cJSON_AddObjectToObject(j, "suppressed");
	json_add_i64(su, "inline", r->st.sup_inline);
	json_add_i64(su, "allowlist", r->st.sup_allowlist);
	json_add_i64(su, "baseline", r->st.sup_baseline);
	return j;
}
void
secrets_result_free(struct secrets_result *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->f[i].path);
		free(r->f[i].redacted);
	}
	free(r->f);
	memset(r, 0, sizeof(*r));
}
