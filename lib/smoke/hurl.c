/*
 * hurl: parse the Hurl language of ci-smoke(1) into entries (see hurl.h).
 *
 * The file is split into lines once; the parser walks them with an index,
 * and single lines with a cursor (struct lx).  Constructs that may span
 * lines (JSON and XML bodies, base64 and hex bodies, multi-line strings in
 * bodies and predicate values, the last through p->resume) are scanned on the
 * original text and the line index is moved past their end.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/encode.h"
#include "core/fsutil.h"
#include "smoke/hurl.h"
#include "core/json.h"
#include "core/timeutil.h"

#define NAME_MAX_LEN 200

struct line {
	const char *s;
	size_t len;		/* without the newline and a trailing CR */
};

struct parser {
	const char *name;
	const char *text;
	size_t textlen;
	struct line *lines;
	size_t nlines;
	size_t ln;		/* the next line to read */
	struct err *e;
	int failed;
	char *pending_name;	/* the last "# name:" comment seen */
	struct hurl_entry *entry;
	int phase;		/* refs: 0 request, 1 response */
	size_t resume;		/* after a line-based item that took more lines
				 * (a ``` value): its last line, else 0 */
};

/* A cursor on one line. */
struct lx {
	struct parser *p;
	const char *s;
	size_t n, i;
	int line;
};

enum sec {
	S_NONE, S_QUERY, S_FORM, S_MULTIPART, S_COOKIES, S_BASICAUTH, S_OPTIONS,
	S_CAPTURES, S_ASSERTS
};

static const char *const sec_names[] = {
	"", "QueryStringParams", "FormParams", "MultipartFormData", "Cookies",
	"BasicAuth", "Options", "Captures", "Asserts"
};

static const char *const query_names[] = {
	"status", "url", "header", "body", "bytes", "jsonpath", "regex", "variable", "duration",
	"cookie", "xpath", "sha256", "md5", "certificate", "ip", "version", "redirects",
	"rawbytes"
};
static const char *const filter_names[] = {
	"count", "nth", "regex", "toInt", "toFloat", "toString", "split", "replace",
	"jsonpath", "urlDecode", "urlEncode", "base64Decode", "base64Encode",
	"base64UrlSafeDecode", "base64UrlSafeEncode", "charsetDecode", "daysAfterNow",
	"daysBeforeNow", "first", "dateFormat", "htmlEscape", "htmlUnescape", "last", "location",
	"replaceRegex", "toDate", "toHex", "urlQueryParam", "utf8Decode", "utf8Encode", "xpath"
};
static const char *const pred_names[] = {
	"==", "!=", ">", ">=", "<", "<=", "startsWith", "endsWith", "contains",
	"matches", "exists", "includes", "isInteger", "isFloat", "isNumber",
	"isString", "isBoolean", "isCollection", "isEmpty", "isDate", "isIsoDate", "isIpv4",
	"isIpv6", "isUuid", "isList", "isObject"
};
static const char *const option_names[] = {
	"retry", "retry-interval", "delay", "location", "insecure", "variable",
	"skip", "max-time", "connect-timeout", "user", "digest", "aws-sigv4", "compressed",
	"http1.0", "http1.1", "http2", "ipv4", "ipv6", "max-redirs", "location-trusted",
	"path-as-is", "output", "header"
};

/* Hurl's options that ci-smoke refuses by name. */
static const char *const other_options[] = {
	"cacert", "cert", "connect-to", "http3", "key", "limit-rate", "negotiate", "netrc",
	"netrc-file", "netrc-optional", "ntlm", "pinnedpubkey", "proxy", "repeat", "resolve",
	"unix-socket", "ignore-asserts", "http2-prior-knowledge", "no-jsonpath-coercion",
	"variables-file", "fail-with-body", NULL
};

const char *
hurl_query_name(int k)
{
	return k >= 0 && k < HQ_COUNT_ ? query_names[k] : "?";
}

const char *
hurl_filter_name(int k)
{
	return k >= 0 && k < HF_COUNT_ ? filter_names[k] : "?";
}

const char *
hurl_pred_name(int k)
{
	return k >= 0 && k < HP_COUNT_ ? pred_names[k] : "?";
}

const char *
hurl_option_name(int k)
{
	return k >= 0 && k < HO_COUNT_ ? option_names[k] : "?";
}

static int
in_list(const char *w, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(w, *list))
			return 1;
	return 0;
}

static int __attribute__((format(printf, 4, 5)))
perr(struct parser *p, int line, size_t col, const char *fmt, ...)
{
	char what[800];
	va_list ap;

	if (p->failed)
		return -1;
	p->failed = 1;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return err_set(p->e, EX_USAGE_, "%s:%d:%zu: %s", p->name, line, col, what);
}

/* What a ``` string holds. */
struct mstr {
	struct hurl_str text;
	const char *lang;	/* NULL, "json", "xml", "graphql" or "raw" */
	struct hurl_str gvars;	/* graphql variables, or s NULL */
	int oneline;		/* ```text``` on one line */
	const char *end;	/* oneline: after the closing ``` */
	size_t last;		/* multiline: the line of the closing ``` */
};

static int multiline(struct parser *p, size_t ln, const char *start, struct mstr *m);

#define lxerr(x, ...) perr((x)->p, (x)->line, (x)->i + 1, __VA_ARGS__)
/* What is left of the line, at most 20 bytes, for "%.*s". */
#define REST(x) (int)((x)->n - (x)->i < 20 ? (x)->n - (x)->i : 20), (x)->s + (x)->i

/* ---- templates and strings ------------------------------------------ */

static int
var_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '-';
}

static const char *const run_functions[] = { "newUuid", "newDate", NULL };
static const char *const refused_functions[] = {
	"getEnv", "randomBool", "randomEmail", "randomFirstName", "randomFullName", "randomInt",
	"randomLastName", "randomString", "randomWord", NULL
};

int
hurl_function(const char *name)
{
	if (in_list(name, run_functions))
		return HURL_FN_RUN;
	if (in_list(name, refused_functions))
		return HURL_FN_REFUSED;
	return HURL_FN_NONE;
}

const char *
hurl_next_template(const char *s, char *name, size_t namesz, const char **end)
{
	const char *t = s;

	while ((t = strstr(t, "{{")) != NULL) {
		const char *q = t + 2, *ns;
		size_t n;

		while (*q == ' ' || *q == '\t')
			q++;
		ns = q;
		while (var_char((unsigned char)*q))
			q++;
		n = (size_t)(q - ns);
		while (*q == ' ' || *q == '\t')
			q++;
		if (n && q[0] == '}' && q[1] == '}') {
			if (n >= namesz)
				n = namesz - 1;
			memcpy(name, ns, n);
			name[n] = '\0';
			*end = q + 2;
			return t;
		}
		t++;
	}
	return NULL;
}

static void
add_ref(struct parser *p, const char *name, int line)
{
	struct hurl_entry *en = p->entry;

	if (!en)
		return;
	en->refs = xrealloc(en->refs, (en->nrefs + 1) * sizeof(*en->refs));
	en->refs[en->nrefs].name = xstrdup(name);
	en->refs[en->nrefs].line = line;
	en->refs[en->nrefs].phase = p->phase;
	en->nrefs++;
}

/* Check every "{{" of s (which starts on line) and record the variables. */
static int
scan_templates(struct parser *p, const char *s, int line, size_t col, int *has)
{
	const char *t = s;
	int l = line;

	*has = 0;
	while ((t = strstr(t, "{{")) != NULL) {
		const char *q = t + 2, *ns, *x;
		char name[NAME_MAX_LEN + 1];
		size_t n;

		for (x = s; x < t; x++)
			if (*x == '\n')
				l++;
		s = t;
		while (*q == ' ' || *q == '\t')
			q++;
		ns = q;
		while (var_char((unsigned char)*q))
			q++;
		n = (size_t)(q - ns);
		while (*q == ' ' || *q == '\t')
			q++;
		if (!n || q[0] != '}' || q[1] != '}') {
			if (!strstr(t, "}}"))
				return perr(p, l, col, "unterminated template '{{' (no '}}')");
			if (n && n <= NAME_MAX_LEN) {
				/* "{{randomInt 10 99}}": a function with arguments */
				memcpy(name, ns, n);
				name[n] = '\0';
				if (hurl_function(name) == HURL_FN_REFUSED)
					return perr(p, l, col, "the '%s' function is not supported by ci-smoke",
					    name);
				if (hurl_function(name) == HURL_FN_RUN)
					return perr(p, l, col, "the '%s' function takes no arguments", name);
			}
			return perr(p, l, col, "bad template: expected '{{name}}' with a name of letters, digits, '_' and '-'");
		}
		if (n > NAME_MAX_LEN)
			return perr(p, l, col, "variable name too long");
		memcpy(name, ns, n);
		name[n] = '\0';
		add_ref(p, name, l);
		*has = 1;
		t = q + 2;
	}
	return 0;
}

static int
make_str(struct parser *p, struct hurl_str *hs, char *s, int line, size_t col)
{
	hs->s = s;
	hs->line = line;
	return scan_templates(p, s, line, col, &hs->has_tmpl);
}

static void
str_free(struct hurl_str *hs)
{
	free(hs->s);
	hs->s = NULL;
}

/*
 * The escape at x->s[x->i] ('\\'): append its character to b.  extra lists
 * the characters that may follow a backslash as themselves in this context
 * (besides \\ and the control escapes).
 */
static int
lx_escape(struct lx *x, struct buf *b, const char *extra)
{
	char c = x->i + 1 < x->n ? x->s[x->i + 1] : '\0';

	if (c == '\\' || (c && strchr(extra, c))) {
		buf_addc(b, c);
		x->i += 2;
		return 0;
	}
	switch (c) {
	case 'b': buf_addc(b, '\b'); break;
	case 'f': buf_addc(b, '\f'); break;
	case 'n': buf_addc(b, '\n'); break;
	case 'r': buf_addc(b, '\r'); break;
	case 't': buf_addc(b, '\t'); break;
	case 'u': {
		unsigned long cp = 0;
		size_t k = x->i + 2, digits = 0;

		if (k >= x->n || x->s[k] != '{')
			return lxerr(x, "bad unicode escape: expected '\\u{hex}'");
		for (k++; k < x->n && isxdigit((unsigned char)x->s[k]) && digits < 7; k++, digits++)
			cp = cp * 16 + (unsigned long)(isdigit((unsigned char)x->s[k]) ?
			    x->s[k] - '0' : (tolower((unsigned char)x->s[k]) - 'a' + 10));
		if (!digits || k >= x->n || x->s[k] != '}' || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp < 0xe000) || cp == 0)
			return lxerr(x, "bad unicode escape: expected '\\u{hex}' with a valid code point");
		buf_add_utf8(b, cp);
		x->i = k + 1;
		return 0;
	}
	default:
		if (!c)
			return lxerr(x, "a backslash at the end of the line");
		return lxerr(x, "bad escape '\\%c'", c);
	}
	x->i += 2;
	return 0;
}

/* ---- lines ---------------------------------------------------------- */

static void
lx_init(struct lx *x, struct parser *p, size_t ln)
{
	x->p = p;
	x->s = p->lines[ln].s;
	x->n = p->lines[ln].len;
	x->i = 0;
	x->line = (int)ln + 1;
}

static int
is_sp(char c)
{
	return c == ' ' || c == '\t';
}

static void
lx_sp(struct lx *x)
{
	while (x->i < x->n && is_sp(x->s[x->i]))
		x->i++;
}

static char
lx_peek(const struct lx *x)
{
	return x->i < x->n ? x->s[x->i] : '\0';
}

static int
lx_at(const struct lx *x, const char *w)
{
	size_t n = strlen(w);

	return x->n - x->i >= n && memcmp(x->s + x->i, w, n) == 0;
}

/* At the end of the line, or at a comment, after blanks. */
static int
lx_end(struct lx *x)
{
	lx_sp(x);
	return x->i >= x->n || x->s[x->i] == '#';
}

static int
lx_need_end(struct lx *x, const char *after)
{
	size_t at;

	lx_sp(x);
	at = x->i;
	if (lx_end(x))
		return 0;
	x->i = at;
	return lxerr(x, "unexpected '%.*s' after %s", REST(x), after);
}

/* Require at least one blank. */
static int
lx_need_sp(struct lx *x, const char *what)
{
	if (!is_sp(lx_peek(x)))
		return lxerr(x, "expected a space %s", what);
	lx_sp(x);
	return 0;
}

/* A word: letters, digits, '_', '-', '.'; fresh or NULL when none. */
static char *
lx_word(struct lx *x)
{
	size_t s = x->i;

	while (x->i < x->n && (isalnum((unsigned char)x->s[x->i]) || x->s[x->i] == '_' ||
	    x->s[x->i] == '-' || x->s[x->i] == '.'))
		x->i++;
	return x->i > s ? xstrndup(x->s + s, x->i - s) : NULL;
}

static int
line_blank(const struct line *l)
{
	size_t i = 0;

	while (i < l->len && is_sp(l->s[i]))
		i++;
	return i >= l->len || l->s[i] == '#';
}

/* "# name: Login flow" names the next entry. */
static void
note_comment(struct parser *p, const struct line *l)
{
	size_t i = 0, e;

	while (i < l->len && is_sp(l->s[i]))
		i++;
	if (i >= l->len || l->s[i] != '#')
		return;
	i++;
	while (i < l->len && is_sp(l->s[i]))
		i++;
	if (l->len - i < 5 || memcmp(l->s + i, "name:", 5) != 0)
		return;
	i += 5;
	while (i < l->len && is_sp(l->s[i]))
		i++;
	e = l->len;
	while (e > i && is_sp(l->s[e - 1]))
		e--;
	if (e == i)
		return;
	free(p->pending_name);
	p->pending_name = xstrndup(l->s + i, e - i);
}

/* Skip blank and comment lines; 1 when a line is left. */
static int
next_line(struct parser *p)
{
	while (p->ln < p->nlines && line_blank(&p->lines[p->ln])) {
		note_comment(p, &p->lines[p->ln]);
		p->ln++;
	}
	return p->ln < p->nlines;
}

static const char *
trimmed(const struct line *l, size_t *rest)
{
	size_t i = 0;

	while (i < l->len && is_sp(l->s[i]))
		i++;
	*rest = l->len - i;
	return l->s + i;
}

/* "HTTP" then "/..." or a blank. */
static int
is_status_line(const struct line *l)
{
	size_t n;
	const char *s = trimmed(l, &n);

	return n > 4 && memcmp(s, "HTTP", 4) == 0 && (s[4] == '/' || is_sp(s[4]));
}

/* "METHOD url": capitals, blanks, then something. */
static int
is_request_line(const struct line *l)
{
	size_t n, i = 0;
	const char *s = trimmed(l, &n);

	while (i < n && s[i] >= 'A' && s[i] <= 'Z')
		i++;
	if (!i || i >= n || !is_sp(s[i]))
		return 0;
	while (i < n && is_sp(s[i]))
		i++;
	/* "ID : 5" is a key and its value */
	return i < n && s[i] != '#' && s[i] != ':';
}

/* "[Name]": the section, or S_NONE; *unknown set for other bracketed words. */
static int
section_of(const struct line *l, char *word, size_t wsz)
{
	size_t n, i = 1, k;
	const char *s = trimmed(l, &n);

	*word = '\0';
	if (!n || s[0] != '[')
		return -1;
	while (i < n && isalpha((unsigned char)s[i]))
		i++;
	if (i == 1 || i >= n || s[i] != ']')
		return -1;
	k = i - 1 < wsz - 1 ? i - 1 : wsz - 1;
	memcpy(word, s + 1, k);
	word[k] = '\0';
	for (i++; i < n && is_sp(s[i]); i++)
		;
	if (i < n && s[i] != '#')
		return -1;
	/* [true] [false] [null] are JSON bodies */
	if (!strcmp(word, "true") || !strcmp(word, "false") || !strcmp(word, "null"))
		return -1;
	if (!strcmp(word, "QueryStringParams") || !strcmp(word, "Query"))
		return S_QUERY;
	if (!strcmp(word, "FormParams") || !strcmp(word, "Form"))
		return S_FORM;
	if (!strcmp(word, "MultipartFormData") || !strcmp(word, "Multipart"))
		return S_MULTIPART;
	if (!strcmp(word, "Cookies"))
		return S_COOKIES;
	if (!strcmp(word, "BasicAuth"))
		return S_BASICAUTH;
	if (!strcmp(word, "Options"))
		return S_OPTIONS;
	if (!strcmp(word, "Captures"))
		return S_CAPTURES;
	if (!strcmp(word, "Asserts"))
		return S_ASSERTS;
	return S_NONE;
}

static int
is_body_start(const struct line *l)
{
	size_t n;
	const char *s = trimmed(l, &n);

	if (!n)
		return 0;
	/* "{{name}}: value" is a header with a template, not JSON */
	return (s[0] == '{' && (n < 2 || s[1] != '{')) || s[0] == '[' || s[0] == '<' || s[0] == '`' ||
	    s[0] == '"' ||
	    (n >= 7 && !memcmp(s, "base64,", 7)) || (n >= 4 && !memcmp(s, "hex,", 4)) ||
	    (n >= 5 && !memcmp(s, "file,", 5));
}

/* The line that holds pointer q into the text. */
static size_t
line_of(const struct parser *p, const char *q)
{
	size_t lo = 0, hi = p->nlines;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->lines[mid].s <= q)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* ---- key: value ----------------------------------------------------- */

static void kv_free(struct hurl_kv *kv);

/*
 * "key: value" on line ln.  Returns 1 with kv filled, 0 when the line is
 * not of that shape, -1 on error.  The value ends at an unescaped '#'.
 * With empty_ok (headers), "Name;" is a name with an empty value.
 */
static int
parse_kv(struct parser *p, size_t ln, struct hurl_kv *kv, int empty_ok)
{
	struct lx x;
	struct buf k = BUF_INIT, v = BUF_INIT;
	size_t kcol, vcol, vend;

	memset(kv, 0, sizeof(*kv));
	lx_init(&x, p, ln);
	lx_sp(&x);
	kcol = x.i + 1;
	buf_init(&k, 0);	/* bounded by the file, HURL_MAX_BYTES */
	for (;;) {
		char c = lx_peek(&x);

		if (!c || c == '#' || c == '"')
			goto notkv;
		if (c == ':')
			break;
		if (c == ';' && empty_ok && k.len) {
			/* "Name;": a header with an empty value, as curl writes it */
			size_t at = x.i;

			x.i++;
			if (!lx_end(&x)) {
				x.i = at;
				goto notkv;
			}
			kv->line = (int)ln + 1;
			if (make_str(p, &kv->key, buf_detach(&k, NULL), kv->line, kcol) < 0) {
				kv_free(kv);
				return -1;
			}
			kv->value.s = xstrdup("");
			kv->value.line = kv->line;
			return 1;
		}
		if (is_sp(c)) {
			lx_sp(&x);
			if (lx_peek(&x) == ':')
				break;
			goto notkv;
		}
		if (c == '\\') {
			if (lx_escape(&x, &k, ":#\" ") < 0)
				goto bad;
			continue;
		}
		if (c == '{' && x.i + 1 < x.n && x.s[x.i + 1] == '{') {
			/* a template may hold blanks */
			const char *close = NULL;
			size_t j;

			for (j = x.i + 2; j + 1 < x.n; j++)
				if (x.s[j] == '}' && x.s[j + 1] == '}') {
					close = x.s + j;
					break;
				}
			if (!close)
				goto notkv;
			buf_add(&k, x.s + x.i, (size_t)(close + 2 - (x.s + x.i)));
			x.i = (size_t)(close + 2 - x.s);
			continue;
		}
		buf_addc(&k, c);
		x.i++;
	}
	if (!k.len)
		goto notkv;
	x.i++;		/* ':' */
	lx_sp(&x);
	vcol = x.i + 1;
	buf_init(&v, 0);
	while (x.i < x.n && x.s[x.i] != '#') {
		if (x.s[x.i] == '\\') {
			if (lx_escape(&x, &v, "#:\"'") < 0)
				goto bad;
			continue;
		}
		buf_addc(&v, x.s[x.i]);
		x.i++;
	}
	vend = v.len;
	while (vend && is_sp(v.data[vend - 1]))
		vend--;
	if (v.data)
		v.data[vend] = '\0';
	v.len = vend;
	kv->line = (int)ln + 1;
	/* The value is detached only once the key is good: a bad template in
	 * the key must not leave it behind in v. */
	if (make_str(p, &kv->key, buf_detach(&k, NULL), kv->line, kcol) < 0) {
		buf_free(&v);
		kv_free(kv);
		return -1;
	}
	if (make_str(p, &kv->value, buf_detach(&v, NULL), kv->line, vcol) < 0) {
		kv_free(kv);
		return -1;
	}
	return 1;
notkv:
	buf_free(&k);
	return 0;
bad:
	buf_free(&k);
	buf_free(&v);
	return -1;
}

static void
kv_free(struct hurl_kv *kv)
{
	str_free(&kv->key);
	str_free(&kv->value);
	free(kv->content_type);
}

static void
kvs_free(struct hurl_kv *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		kv_free(&v[i]);
	free(v);
}

static struct hurl_kv *
kv_push(struct hurl_kv **v, size_t *n, const struct hurl_kv *kv)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[*n] = *kv;
	return &(*v)[(*n)++];
}

/* ---- tokens inside asserts and captures ----------------------------- */

/* A string at x (on its opening quote q) up to the closing q; fresh,
 * with the escapes that form allows decoded. */
static char *
lx_delimited(struct lx *x, char q, const char *escapes)
{
	struct buf b;

	buf_init(&b, 0);	/* bounded by the file */
	x->i++;
	for (;;) {
		char c = lx_peek(x);

		if (!c) {
			buf_free(&b);
			lxerr(x, "unterminated string: expected '%c'", q);
			return NULL;
		}
		if (c == q) {
			x->i++;
			break;
		}
		if (c == '\\') {
			if (lx_escape(x, &b, escapes) < 0) {
				buf_free(&b);
				return NULL;
			}
			continue;
		}
		buf_addc(&b, c);
		x->i++;
	}
	return buf_detach(&b, NULL);
}

/* A "quoted string" at x (on '"'). */
static char *
lx_quoted(struct lx *x)
{
	return lx_delimited(x, '"', "\"/#");
}

/* A `oneline string` at x (on '`'). */
static char *
lx_backtick(struct lx *x)
{
	return lx_delimited(x, '`', "`#");
}

/* A /regex/ at x (on '/'): "\/" is a slash, other escapes stay for regcomp. */
static char *
lx_regex(struct lx *x)
{
	struct buf b;

	buf_init(&b, 0);
	x->i++;
	for (;;) {
		char c = lx_peek(x);

		if (!c) {
			buf_free(&b);
			lxerr(x, "unterminated regex: expected '/'");
			return NULL;
		}
		if (c == '/') {
			x->i++;
			break;
		}
		if (c == '\\' && x->i + 1 < x->n) {
			if (x->s[x->i + 1] == '/') {
				buf_addc(&b, '/');
			} else {
				buf_addc(&b, '\\');
				buf_addc(&b, x->s[x->i + 1]);
			}
			x->i += 2;
			continue;
		}
		buf_addc(&b, c);
		x->i++;
	}
	return buf_detach(&b, NULL);
}

/* A quoted-string argument: the string, with templates checked. */
static int
lx_string_arg(struct lx *x, struct hurl_str *hs, const char *what)
{
	size_t col;
	char *s;

	if (lx_need_sp(x, what) < 0)
		return -1;
	if (lx_peek(x) != '"')
		return lxerr(x, "expected a quoted string %s", what);
	col = x->i + 1;
	if (!(s = lx_quoted(x)))
		return -1;
	return make_str(x->p, hs, s, x->line, col);
}

/* A pattern: "quoted" or /regex/. */
static int
lx_pattern_arg(struct lx *x, struct hurl_str *hs, int *literal, const char *what)
{
	size_t col;
	char *s;

	if (lx_need_sp(x, what) < 0)
		return -1;
	col = x->i + 1;
	if (lx_peek(x) == '"') {
		s = lx_quoted(x);
		*literal = 0;
	} else if (lx_peek(x) == '/') {
		s = lx_regex(x);
		*literal = 1;
	} else {
		return lxerr(x, "expected a quoted string or a /regex/ %s", what);
	}
	if (!s)
		return -1;
	return make_str(x->p, hs, s, x->line, col);
}

static int
compile_rx(struct lx *x, struct hurl_regex *rx, const struct hurl_str *hs, size_t col)
{
	char why[256];

	if (hs->has_tmpl)
		return 0;
	if (hurl_regex_compile(rx, hs->s, why, sizeof(why)) < 0)
		return perr(x->p, x->line, col, "bad regex '%s': %s", hs->s, why);
	return 0;
}

static int
compile_jp(struct lx *x, struct jsonpath **jp, const struct hurl_str *hs, size_t col)
{
	struct err e2 = { 0, "" };

	if (hs->has_tmpl)
		return 0;
	if (jsonpath_compile(hs->s, jp, &e2) < 0)
		return perr(x->p, x->line, col, "%s", e2.msg);
	return 0;
}

static const char *const cert_fields[] = {
	"Subject", "Issuer", "Start-Date", "Expire-Date", "Serial-Number", NULL
};

/* The attributes "cookie" knows: "name[Attr]". */
static const char *const cookie_attrs[] = {
	"Value", "Expires", "Max-Age", "Domain", "Path", "Secure", "HttpOnly", "SameSite", NULL
};

static int
check_cookie_arg(struct lx *x, const struct hurl_str *hs, size_t col)
{
	const char *br;
	char *attr;
	int ok;

	if (hs->has_tmpl)
		return 0;
	if (!*hs->s)
		return perr(x->p, x->line, col, "cookie: expected a cookie name");
	if (!(br = strchr(hs->s, '[')))
		return 0;
	if (br == hs->s || hs->s[strlen(hs->s) - 1] != ']')
		return perr(x->p, x->line, col, "cookie: expected 'name' or 'name[Attribute]'");
	attr = xstrndup(br + 1, strlen(br + 1) - 1);
	ok = in_list(attr, cookie_attrs);
	if (!ok)
		perr(x->p, x->line, col, "cookie: unknown attribute '%s' (Value, Expires, Max-Age, "
		    "Domain, Path, Secure, HttpOnly or SameSite)", attr);
	free(attr);
	return ok ? 0 : -1;
}

static int
parse_query(struct lx *x, struct hurl_query *q)
{
	size_t col = x->i + 1, acol;
	char *w = lx_word(x);
	int k;

	memset(q, 0, sizeof(*q));
	if (!w) {
		if (!lx_peek(x) || lx_peek(x) == '#')
			return lxerr(x, "expected a query (status, header, jsonpath, ...)");
		return lxerr(x, "expected a query (status, header, jsonpath, ...), not '%.*s'", REST(x));
	}
	for (k = 0; k < HQ_COUNT_; k++)
		if (!strcmp(w, query_names[k]))
			break;
	if (k >= HQ_COUNT_) {
		perr(x->p, x->line, col, "unknown query '%s'", w);
		free(w);
		return -1;
	}
	free(w);
	q->kind = k;
	switch (k) {
	case HQ_HEADER:
	case HQ_VARIABLE:
		return lx_string_arg(x, &q->arg, k == HQ_HEADER ? "after 'header'" : "after 'variable'");
	case HQ_XPATH:
		return lx_string_arg(x, &q->arg, "after 'xpath'");
	case HQ_COOKIE:
		acol = x->i + 2;
		if (lx_string_arg(x, &q->arg, "after 'cookie'") < 0)
			return -1;
		return check_cookie_arg(x, &q->arg, acol);
	case HQ_CERTIFICATE:
		acol = x->i + 2;
		if (lx_string_arg(x, &q->arg, "after 'certificate'") < 0)
			return -1;
		if (!q->arg.has_tmpl && !in_list(q->arg.s, cert_fields))
			return perr(x->p, x->line, acol, "certificate: expected Subject, Issuer, "
			    "Start-Date, Expire-Date or Serial-Number, not '%s'", q->arg.s);
		return 0;
	case HQ_JSONPATH:
		if (lx_string_arg(x, &q->arg, "after 'jsonpath'") < 0)
			return -1;
		return compile_jp(x, &q->jp, &q->arg, col);
	case HQ_REGEX:
		acol = x->i + 1;
		if (lx_pattern_arg(x, &q->arg, &q->regex_literal, "after 'regex'") < 0)
			return -1;
		return compile_rx(x, &q->rx, &q->arg, acol);
	default:
		return 0;
	}
}

static void
query_free(struct hurl_query *q)
{
	str_free(&q->arg);
	jsonpath_free(q->jp);
	hurl_regex_free(&q->rx);
}

static void
filter_free(struct hurl_filter *f)
{
	str_free(&f->arg);
	str_free(&f->arg2);
	jsonpath_free(f->jp);
	hurl_regex_free(&f->rx);
}

static void
filters_free(struct hurl_filter *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		filter_free(&v[i]);
	free(v);
}

/* Filters after a query, up to a word that is not one.  Returns 0 or -1. */
static int
parse_filters(struct lx *x, struct hurl_filter **out, size_t *nout)
{
	for (;;) {
		size_t save = x->i, col;
		struct hurl_filter f;
		char *w;
		int k;

		if (!is_sp(lx_peek(x)))
			return 0;
		lx_sp(x);
		col = x->i + 1;
		w = lx_word(x);
		if (!w) {
			x->i = save;
			return 0;
		}
		/* older names of charsetDecode and dateFormat */
		if (!strcmp(w, "decode"))
			k = HF_CHARSETDECODE;
		else if (!strcmp(w, "format"))
			k = HF_DATEFORMAT;
		else
			for (k = 0; k < HF_COUNT_; k++)
				if (!strcmp(w, filter_names[k]))
					break;
		if (k >= HF_COUNT_) {
			free(w);
			x->i = save;
			return 0;
		}
		free(w);
		memset(&f, 0, sizeof(f));
		f.kind = k;
		switch (k) {
		case HF_NTH: {
			char *end;

			if (lx_need_sp(x, "after 'nth'") < 0)
				return -1;
			errno = 0;
			f.n = strtoll(x->s + x->i, &end, 10);
			if (end == x->s + x->i || errno || (size_t)(end - x->s) > x->n)
				return lxerr(x, "expected an index after 'nth'");
			x->i = (size_t)(end - x->s);
			break;
		}
		case HF_REGEX: {
			size_t acol = x->i + 2;

			if (lx_pattern_arg(x, &f.arg, &f.regex_literal, "after 'regex'") < 0 ||
			    compile_rx(x, &f.rx, &f.arg, acol) < 0) {
				filter_free(&f);
				return -1;
			}
			break;
		}
		case HF_SPLIT:
			if (lx_string_arg(x, &f.arg, "after 'split'") < 0) {
				filter_free(&f);
				return -1;
			}
			break;
		case HF_REPLACE: {
			size_t acol = x->i + 2;

			if (lx_pattern_arg(x, &f.arg, &f.regex_literal, "after 'replace'") < 0 ||
			    (f.regex_literal && compile_rx(x, &f.rx, &f.arg, acol) < 0) ||
			    lx_string_arg(x, &f.arg2, "after the pattern of 'replace'") < 0) {
				filter_free(&f);
				return -1;
			}
			break;
		}
		case HF_JSONPATH:
			if (lx_string_arg(x, &f.arg, "after 'jsonpath'") < 0 ||
			    compile_jp(x, &f.jp, &f.arg, col) < 0) {
				filter_free(&f);
				return -1;
			}
			break;
		case HF_REPLACEREGEX: {
			size_t acol = x->i + 2;

			if (lx_pattern_arg(x, &f.arg, &f.regex_literal, "after 'replaceRegex'") < 0 ||
			    compile_rx(x, &f.rx, &f.arg, acol) < 0 ||
			    lx_string_arg(x, &f.arg2, "after the pattern of 'replaceRegex'") < 0) {
				filter_free(&f);
				return -1;
			}
			break;
		}
		case HF_CHARSETDECODE: case HF_DATEFORMAT: case HF_TODATE: case HF_URLQUERYPARAM:
		case HF_XPATH: {
			char after[64];

			snprintf(after, sizeof(after), "after '%s'", filter_names[k]);
			if (lx_string_arg(x, &f.arg, after) < 0) {
				filter_free(&f);
				return -1;
			}
			break;
		}
		default:
			break;
		}
		*out = xrealloc(*out, (*nout + 1) * sizeof(**out));
		(*out)[(*nout)++] = f;
	}
}

static void
value_free(struct hurl_value *v)
{
	free(v->num_text);
	str_free(&v->s);
	str_free(&v->gvars);
	free(v->bytes);
	hurl_regex_free(&v->rx);
}

/* The bytes of "hex,...;" or "base64,...;" (Hurl takes either base64
 * alphabet, padding optional). */
static int
decode_bytes(int hex, const char *s, size_t n, unsigned char **out, size_t *len)
{
	return hex ? hex_decode(s, n, out, len) : b64_decode(s, n, B64_ANY, out, len);
}

/* The NAME of "file,NAME;" at x, up to the ';' (passed): blanks around
 * it trimmed, "\ " and "\;" for a blank or a ';' in it. */
static int
lx_file_name(struct lx *x, struct hurl_str *hs)
{
	struct buf b;
	size_t col, n;

	lx_sp(x);
	col = x->i + 1;
	buf_init(&b, 0);	/* bounded by the file */
	while (x->i < x->n && x->s[x->i] != ';') {
		if (x->s[x->i] == '\\') {
			if (lx_escape(x, &b, " ;#") < 0) {
				buf_free(&b);
				return -1;
			}
			continue;
		}
		buf_addc(&b, x->s[x->i]);
		x->i++;
	}
	if (x->i >= x->n) {
		buf_free(&b);
		return lxerr(x, "expected ';' after the file name");
	}
	x->i++;
	n = b.len;
	while (n && is_sp(b.data[n - 1]))
		n--;
	if (!n) {
		buf_free(&b);
		x->i = col - 1;
		return lxerr(x, "expected a file name after 'file,'");
	}
	b.data[n] = '\0';
	b.len = n;
	return make_str(x->p, hs, buf_detach(&b, NULL), x->line, col);
}

/* "hex,...;" or "base64,...;" on one line, at x. */
static int
lx_bytes(struct lx *x, struct hurl_value *v)
{
	int hex = lx_at(x, "hex,");
	size_t start = x->i + (hex ? 4 : 7), semi = start;

	while (semi < x->n && x->s[semi] != ';')
		semi++;
	if (semi >= x->n)
		return lxerr(x, "expected ';' to end the %s value", hex ? "hex" : "base64");
	if (decode_bytes(hex, x->s + start, semi - start, &v->bytes, &v->len) < 0)
		return lxerr(x, "bad %s value", hex ? "hex" : "base64");
	v->kind = HV_BYTES;
	x->i = semi + 1;
	return 0;
}

/* A predicate value at x: the kinds allowed are a mask of 1 << HV_... */
static int
parse_value(struct lx *x, struct hurl_value *v, unsigned allowed, const char *after)
{
	char c = lx_peek(x);
	size_t col = x->i + 1;
	char *s;

	memset(v, 0, sizeof(*v));
	if (c == '"') {
		if (!(s = lx_quoted(x)) || make_str(x->p, &v->s, s, x->line, col) < 0)
			return -1;
		v->kind = HV_STRING;
	} else if (lx_at(x, "```")) {
		struct mstr m;
		int rc = multiline(x->p, (size_t)x->line - 1, x->s + x->i, &m);

		v->s = m.text;
		v->gvars = m.gvars;
		v->lang = m.lang;
		v->kind = HV_STRING;
		if (rc < 0)
			return -1;
		if (m.oneline) {
			x->i = (size_t)(m.end - x->s);
		} else {
			x->i = x->n;
			x->p->resume = m.last;
		}
	} else if (c == '`') {
		if (!(s = lx_backtick(x)) || make_str(x->p, &v->s, s, x->line, col) < 0)
			return -1;
		v->kind = HV_STRING;
	} else if (lx_at(x, "file,")) {
		x->i += 5;
		if (lx_file_name(x, &v->s) < 0)
			return -1;
		v->kind = HV_FILE;
	} else if (c == '/') {
		if (!(s = lx_regex(x)) || make_str(x->p, &v->s, s, x->line, col) < 0)
			return -1;
		v->kind = HV_REGEX;
	} else if (lx_at(x, "{{")) {
		const char *end, *t;
		char name[NAME_MAX_LEN + 1];
		int has;

		t = hurl_next_template(x->s + x->i, name, sizeof(name), &end);
		if (!t || t != x->s + x->i || (size_t)(end - x->s) > x->n)
			return lxerr(x, "bad template: expected '{{name}}'");
		v->kind = HV_EXPR;
		v->s.s = xstrdup(name);
		v->s.line = x->line;
		s = xstrndup(x->s + x->i, (size_t)(end - (x->s + x->i)));
		if (scan_templates(x->p, s, x->line, col, &has) < 0) {
			free(s);
			return -1;
		}
		free(s);
		x->i = (size_t)(end - x->s);
	} else if (lx_at(x, "hex,") || lx_at(x, "base64,")) {
		if (lx_bytes(x, v) < 0)
			return -1;
	} else if (c == '-' || isdigit((unsigned char)c)) {
		size_t st = x->i;
		char *end, *text;
		int isf = 0;

		if (c == '-')
			x->i++;
		while (isdigit((unsigned char)lx_peek(x)))
			x->i++;
		if (lx_peek(x) == '.') {
			isf = 1;
			x->i++;
			while (isdigit((unsigned char)lx_peek(x)))
				x->i++;
		}
		if (lx_peek(x) == 'e' || lx_peek(x) == 'E') {
			isf = 1;
			x->i++;
			if (lx_peek(x) == '+' || lx_peek(x) == '-')
				x->i++;
			while (isdigit((unsigned char)lx_peek(x)))
				x->i++;
		}
		text = xstrndup(x->s + st, x->i - st);
		errno = 0;
		if (isf) {
			v->f = strtod(text, &end);
			v->kind = HV_FLOAT;
		} else {
			v->i = strtoll(text, &end, 10);
			v->kind = HV_INT;
			if (!*end && errno == ERANGE) {
				/* a big integer: compared as a number, as Hurl does */
				errno = 0;
				v->f = strtod(text, &end);
				v->kind = HV_FLOAT;
			}
		}
		if (*end || errno) {
			free(text);
			x->i = st;
			return lxerr(x, "bad number");
		}
		v->num_text = text;
	} else {
		char *w = lx_word(x);

		if (w && !strcmp(w, "true")) {
			v->kind = HV_BOOL;
			v->b = 1;
		} else if (w && !strcmp(w, "false")) {
			v->kind = HV_BOOL;
		} else if (w && !strcmp(w, "null")) {
			v->kind = HV_NULL;
		} else {
			free(w);
			x->i = col - 1;
			if (!c || c == '#')
				return lxerr(x, "expected a value after '%s'", after);
			return lxerr(x, "expected a value after '%s', not '%.*s'", after, REST(x));
		}
		free(w);
	}
	if (!(allowed & (1u << v->kind))) {
		static const char *const kinds[] = {
			"nothing", "null", "a boolean", "an integer", "a number", "a string",
			"a variable", "bytes", "a regex", "a file"
		};

		x->i = col - 1;
		return lxerr(x, "'%s' cannot take %s", after, kinds[v->kind]);
	}
	return 0;
}

static int
parse_predicate(struct lx *x, struct hurl_pred *pr)
{
	size_t col;
	char *w = NULL;
	int k = -1;
	unsigned any = (1u << HV_NULL) | (1u << HV_BOOL) | (1u << HV_INT) | (1u << HV_FLOAT) |
	    (1u << HV_STRING) | (1u << HV_EXPR) | (1u << HV_BYTES) | (1u << HV_FILE);
	unsigned num = (1u << HV_INT) | (1u << HV_FLOAT) | (1u << HV_STRING) | (1u << HV_EXPR);
	unsigned str = (1u << HV_STRING) | (1u << HV_EXPR) | (1u << HV_BYTES) | (1u << HV_FILE);
	unsigned rx = (1u << HV_STRING) | (1u << HV_EXPR) | (1u << HV_REGEX);
	unsigned scalar = any & ~((1u << HV_BYTES) | (1u << HV_FILE));
	unsigned in = any;

	memset(pr, 0, sizeof(pr[0]));
	if (lx_need_sp(x, "before the predicate") < 0)
		return -1;
	if (lx_at(x, "not") && (x->i + 3 >= x->n || is_sp(x->s[x->i + 3]))) {
		pr->negate = 1;
		x->i += 3;
		if (lx_need_sp(x, "after 'not'") < 0)
			return -1;
	}
	col = x->i + 1;
	if (lx_at(x, "==")) { k = HP_EQ; x->i += 2; }
	else if (lx_at(x, "!=")) { k = HP_NE; x->i += 2; }
	else if (lx_at(x, ">=")) { k = HP_GE; x->i += 2; }
	else if (lx_at(x, "<=")) { k = HP_LE; x->i += 2; }
	else if (lx_at(x, ">")) { k = HP_GT; x->i += 1; }
	else if (lx_at(x, "<")) { k = HP_LT; x->i += 1; }
	else {
		static const struct { const char *w; int k; } words[] = {
			{ "equals", HP_EQ }, { "notEquals", HP_NE }, { "greaterThan", HP_GT },
			{ "greaterThanOrEquals", HP_GE }, { "lessThan", HP_LT },
			{ "lessThanOrEquals", HP_LE }, { "startsWith", HP_STARTS },
			{ "endsWith", HP_ENDS }, { "contains", HP_CONTAINS }, { "matches", HP_MATCHES },
			{ "exists", HP_EXISTS }, { "includes", HP_INCLUDES }, { "isInteger", HP_ISINT },
			{ "isFloat", HP_ISFLOAT }, { "isNumber", HP_ISNUMBER }, { "isString", HP_ISSTRING },
			{ "isBoolean", HP_ISBOOL }, { "isCollection", HP_ISCOLL }, { "isEmpty", HP_ISEMPTY },
			{ "isDate", HP_ISDATE }, { "isIsoDate", HP_ISISODATE }, { "isIpv4", HP_ISIPV4 },
			{ "isIpv6", HP_ISIPV6 }, { "isUuid", HP_ISUUID }, { "isList", HP_ISLIST },
			{ "isObject", HP_ISOBJECT },
		};
		size_t i;

		w = lx_word(x);
		if (!w) {
			if (!lx_peek(x) || lx_peek(x) == '#')
				return lxerr(x, "expected a predicate (==, !=, <, exists, ...)");
			return lxerr(x, "expected a predicate (==, !=, <, exists, ...), not '%.*s'", REST(x));
		}
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (!strcmp(w, words[i].w))
				k = words[i].k;
		if (k < 0) {
			perr(x->p, x->line, col, "unknown predicate or filter '%s'", w);
			free(w);
			return -1;
		}
		free(w);
	}
	pr->kind = k;
	switch (k) {
	case HP_EXISTS: case HP_ISINT: case HP_ISFLOAT: case HP_ISNUMBER: case HP_ISSTRING:
	case HP_ISBOOL: case HP_ISCOLL: case HP_ISEMPTY: case HP_ISDATE: case HP_ISISODATE:
	case HP_ISIPV4: case HP_ISIPV6: case HP_ISUUID: case HP_ISLIST: case HP_ISOBJECT:
		return 0;
	default:
		break;
	}
	if (lx_need_sp(x, "after the predicate") < 0)
		return -1;
	if (parse_value(x, &pr->v, k == HP_EQ || k == HP_NE ? any :
	    k == HP_GT || k == HP_GE || k == HP_LT || k == HP_LE ? num :
	    k == HP_MATCHES ? rx : k == HP_INCLUDES ? scalar : k == HP_CONTAINS ? in : str,
	    pred_names[k]) < 0)
		return -1;
	if (k == HP_MATCHES && (pr->v.kind == HV_REGEX || pr->v.kind == HV_STRING))
		return compile_rx(x, &pr->v.rx, &pr->v.s, col);
	return 0;
}

static char *
text_between(const struct lx *x, size_t from, size_t to)
{
	while (to > from && is_sp(x->s[to - 1]))
		to--;
	return xstrndup(x->s + from, to - from);
}

static void
assert_free(struct hurl_assert *a)
{
	free(a->text);
	query_free(&a->q);
	filters_free(a->filters, a->nfilters);
	value_free(&a->pred.v);
}

static void
capture_free(struct hurl_capture *c)
{
	free(c->name);
	free(c->text);
	query_free(&c->q);
	filters_free(c->filters, c->nfilters);
}

static int
parse_assert(struct parser *p, size_t ln, struct hurl_response *r)
{
	struct lx x;
	struct hurl_assert a;
	size_t start;

	memset(&a, 0, sizeof(a));
	lx_init(&x, p, ln);
	lx_sp(&x);
	start = x.i;
	a.line = x.line;
	if (parse_query(&x, &a.q) < 0 || parse_filters(&x, &a.filters, &a.nfilters) < 0 ||
	    parse_predicate(&x, &a.pred) < 0)
		goto bad;
	a.text = text_between(&x, start, x.i);
	if (lx_need_end(&x, "the assert") < 0)
		goto bad;
	r->asserts = xrealloc(r->asserts, (r->nasserts + 1) * sizeof(*r->asserts));
	r->asserts[r->nasserts++] = a;
	return 0;
bad:
	assert_free(&a);
	return -1;
}

static int
valid_var_name(const char *s)
{
	if (!*s || strlen(s) > NAME_MAX_LEN)
		return 0;
	for (; *s; s++)
		if (!var_char((unsigned char)*s))
			return 0;
	return 1;
}

static int
parse_capture(struct parser *p, size_t ln, struct hurl_response *r)
{
	struct lx x;
	struct hurl_capture c;
	size_t start, ns;

	memset(&c, 0, sizeof(c));
	lx_init(&x, p, ln);
	lx_sp(&x);
	start = ns = x.i;
	c.line = x.line;
	while (x.i < x.n && x.s[x.i] != ':' && !is_sp(x.s[x.i]))
		x.i++;
	c.name = xstrndup(x.s + ns, x.i - ns);
	lx_sp(&x);
	if (lx_peek(&x) != ':') {
		lxerr(&x, "expected 'name: query' in [Captures]");
		goto bad;
	}
	if (!valid_var_name(c.name)) {
		x.i = ns;
		lxerr(&x, "bad capture name '%s' (letters, digits, '_', '-')", c.name);
		goto bad;
	}
	x.i++;
	lx_sp(&x);
	if (parse_query(&x, &c.q) < 0 || parse_filters(&x, &c.filters, &c.nfilters) < 0)
		goto bad;
	{
		size_t save = x.i;
		char *w;

		lx_sp(&x);
		w = lx_word(&x);
		if (w && !strcmp(w, "redact"))
			c.redact = 1;
		else
			x.i = save;
		if (w && !c.redact) {
			x.i = save;
			lx_sp(&x);
			lxerr(&x, "unknown filter '%s'", w);
			free(w);
			goto bad;
		}
		free(w);
	}
	c.text = text_between(&x, start, x.i);
	if (lx_need_end(&x, "the capture") < 0)
		goto bad;
	r->captures = xrealloc(r->captures, (r->ncaptures + 1) * sizeof(*r->captures));
	r->captures[r->ncaptures++] = c;
	return 0;
bad:
	capture_free(&c);
	return -1;
}

/* ---- options -------------------------------------------------------- */

static int
parse_bool_text(const char *s, long long *out)
{
	if (!strcmp(s, "true")) {
		*out = 1;
		return 0;
	}
	if (!strcmp(s, "false")) {
		*out = 0;
		return 0;
	}
	return -1;
}

/*
 * Milliseconds: a bare integer, or a duration with units ("500ms", "2s").
 * A bare integer is read as "Nms", so that it has the bound every duration
 * has: the engine adds it to the clock, which must not overflow.
 */
static int
parse_ms_text(const char *s, long long *out)
{
	const char *why;
	char ms[32];
	size_t n = strspn(s, "0123456789");

	if (n && !s[n] && n + 3 <= sizeof(ms)) {
		snprintf(ms, sizeof(ms), "%sms", s);
		return parse_duration(ms, out, &why);
	}
	return parse_duration(s, out, &why);
}

/* Check (and parse) one option value; also used at run time on a value
 * whose templates were rendered.  Returns -1 with why set. */
static int
option_value(int kind, const char *s, long long *num, const char **why)
{
	char *end;

	switch (kind) {
	case HO_RETRY:
		errno = 0;
		*num = strtoll(s, &end, 10);
		if (end == s || *end || errno || *num < -1 || *num > 1000000) {
			*why = "expected a number of retries (-1: no limit)";
			return -1;
		}
		return 0;
	case HO_RETRY_INTERVAL: case HO_DELAY: case HO_MAX_TIME: case HO_CONNECT_TIMEOUT:
		if (parse_ms_text(s, num) < 0) {
			*why = "expected milliseconds or a duration such as 500ms or 2s";
			return -1;
		}
		return 0;
	case HO_MAX_REDIRS:
		errno = 0;
		*num = strtoll(s, &end, 10);
		if (end == s || *end || errno || *num < -1 || *num > 1000000) {
			*why = "expected a number of redirects (-1: no limit)";
			return -1;
		}
		return 0;
	case HO_USER:
		if (!strchr(s, ':')) {
			*why = "expected USER:PASSWORD";
			return -1;
		}
		return 0;
	case HO_AWS_SIGV4:
		if (!*s || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:") !=
		    strlen(s)) {
			*why = "expected PROVIDER1[:PROVIDER2[:REGION[:SERVICE]]]";
			return -1;
		}
		return 0;
	case HO_OUTPUT:
		if (!*s || !strcmp(s, "-")) {
			*why = !*s ? "expected a file name" :
			    "'-' is not supported by ci-smoke (the standard output carries the document)";
			return -1;
		}
		return 0;
	case HO_HEADER: {
		const char *c = strchr(s, ':');

		if (!c || c == s) {
			*why = "expected 'Name: value'";
			return -1;
		}
		return 0;
	}
	default:
		if (parse_bool_text(s, num) < 0) {
			*why = "expected true or false";
			return -1;
		}
		return 0;
	}
}

static int
parse_option(struct parser *p, const struct hurl_kv *kv, struct hurl_request *rq)
{
	struct hurl_option o;
	const char *name = kv->key.s, *why = NULL;
	int k;

	memset(&o, 0, sizeof(o));
	for (k = 0; k < HO_COUNT_; k++)
		if (!strcmp(name, option_names[k]))
			break;
	if (k >= HO_COUNT_) {
		long long dummy;

		/* Output-only options change nothing we report. */
		if (!strcmp(name, "verbose") || !strcmp(name, "very-verbose")) {
			if (kv->value.has_tmpl || parse_bool_text(kv->value.s, &dummy) == 0)
				return 0;
			return perr(p, kv->line, 1, "option '%s': expected true or false", name);
		}
		if (in_list(name, other_options))
			return perr(p, kv->line, 1, "the '%s' option is not supported by ci-smoke", name);
		return perr(p, kv->line, 1, "unknown option '%s'", name);
	}
	o.kind = k;
	o.line = kv->line;
	if (k == HO_VARIABLE) {
		const char *eq = strchr(kv->value.s, '=');
		char *vn;

		if (!eq || eq == kv->value.s)
			return perr(p, kv->line, 1, "option 'variable': expected NAME=VALUE");
		vn = xstrndup(kv->value.s, (size_t)(eq - kv->value.s));
		if (!valid_var_name(vn)) {
			perr(p, kv->line, 1, "option 'variable': bad name '%s' (letters, digits, '_', '-')", vn);
			free(vn);
			return -1;
		}
		o.var_name = vn;
		o.value.s = xstrdup(eq + 1);
		o.value.line = kv->line;
		o.value.has_tmpl = strstr(eq + 1, "{{") != NULL;
	} else {
		o.value.s = xstrdup(kv->value.s);
		o.value.line = kv->line;
		o.value.has_tmpl = kv->value.has_tmpl;
		if (!o.value.has_tmpl && option_value(k, o.value.s, &o.num, &why) < 0) {
			/* a password is not quoted back, nor a value the reason names */
			if (k == HO_USER || (k == HO_OUTPUT && !strcmp(o.value.s, "-")))
				perr(p, kv->line, 1, "option '%s': %s", name, why);
			else
				perr(p, kv->line, 1, "option '%s': %s, not '%s'", name, why, o.value.s);
			free(o.value.s);
			return -1;
		}
	}
	rq->options = xrealloc(rq->options, (rq->noptions + 1) * sizeof(*rq->options));
	rq->options[rq->noptions++] = o;
	return 0;
}

/* ---- bodies --------------------------------------------------------- */

static void
body_free(struct hurl_body *b)
{
	str_free(&b->text);
	str_free(&b->gvars);
	free(b->bytes);
	memset(b, 0, sizeof(*b));
}

/* After a construct that ends at pointer q: the rest of its line must be
 * blank or a comment; move past that line. */
static int
finish_at(struct parser *p, const char *q, const char *what)
{
	size_t ln = line_of(p, q);
	struct lx x;

	lx_init(&x, p, ln);
	x.i = (size_t)(q - x.s);
	if (lx_need_end(&x, what) < 0)
		return -1;
	p->ln = ln + 1;
	return 0;
}

/* JSON: from '{' or '[' to the bracket that closes it. */
/*
 * A body that starts on line ln and ends at q on some later line (JSON,
 * XML): take text (owned from here on), check its templates, and move
 * past q.
 */
static int
inline_body(struct parser *p, struct hurl_body *b, int kind, size_t ln, char *text,
    const char *q, const char *what)
{
	int has;

	b->kind = kind;
	b->line = (int)ln + 1;
	if (scan_templates(p, text, b->line, 1, &has) < 0) {
		free(text);
		return -1;
	}
	b->text.s = text;
	b->text.line = b->line;
	b->text.has_tmpl = has;
	return finish_at(p, q, what);
}

static int
body_json(struct parser *p, const char *start, struct hurl_body *b)
{
	const char *q = start, *end = p->text + p->textlen;
	int depth = 0, in_str = 0, esc = 0;
	size_t ln = line_of(p, start), i, nl;
	struct buf chk = BUF_INIT;
	struct err e2 = { 0, "" };
	struct json_opts jo;
	cJSON *j;
	char *text;

	for (; q < end; q++) {
		char c = *q;

		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"' || c == '\n') {
				in_str = 0;
				/* a JSON string as the whole body: "Hello" */
				if (c == '"' && depth == 0)
					break;
			}
			continue;
		}
		if (c == '"')
			in_str = 1;
		else if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
			break;
	}
	if (q >= end)
		return perr(p, (int)ln + 1, (size_t)(start - p->lines[ln].s) + 1,
		    "the JSON body is not closed");
	q++;
	/* The body without CRs, as the request will send it. */
	{
		struct buf t = BUF_INIT;
		const char *c;

		buf_init(&t, HURL_MAX_BYTES);
		for (c = start; c < q; c++)
			if (*c != '\r')
				buf_addc(&t, *c);
		text = buf_detach(&t, NULL);
	}
	/* Check it is JSON, with templates outside strings standing for null and
	 * the lines and columns of the file kept for messages. */
	buf_init(&chk, 0);
	for (nl = 0; nl < ln; nl++)
		buf_addc(&chk, '\n');
	for (i = 0; i < (size_t)(start - p->lines[ln].s); i++)
		buf_addc(&chk, ' ');
	in_str = esc = 0;
	for (i = 0; text[i]; i++) {
		char c = text[i];

		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
			buf_addc(&chk, c);
			continue;
		}
		if (c == '"')
			in_str = 1;
		if (c == '{' && text[i + 1] == '{') {
			const char *close = strstr(text + i, "}}");

			if (close) {
				size_t n = (size_t)(close + 2 - (text + i)), k;

				buf_adds(&chk, "null");
				for (k = 4; k < n; k++)
					buf_addc(&chk, ' ');
				i += n - 1;
				continue;
			}
		}
		buf_addc(&chk, c);
	}
	jo.name = p->name;
	jo.comments = 0;
	jo.lasting = 0;
	j = json_parse(chk.data, chk.len, &jo, NULL, &e2);
	buf_free(&chk);
	if (!j) {
		free(text);
		if (p->failed)
			return -1;
		p->failed = 1;
		return err_set(p->e, EX_USAGE_, "%s (in the JSON body)", e2.msg);
	}
	cJSON_Delete(j);
	return inline_body(p, b, HB_JSON, ln, text, q, "the JSON body");
}

/* XML: from '<' to the end of the root element. */
static int
body_xml(struct parser *p, const char *start, struct hurl_body *b)
{
	const char *q = start, *end = p->text + p->textlen, *close;
	size_t ln = line_of(p, start);
	int depth = 0, root = 0;
	struct buf t = BUF_INIT;
	char *text;

	while (q < end) {
		if (*q != '<') {
			q++;
			continue;
		}
		if (end - q >= 4 && !memcmp(q, "<!--", 4)) {
			close = strstr(q, "-->");
			close = close ? close + 3 : NULL;
		} else if (end - q >= 9 && !memcmp(q, "<![CDATA[", 9)) {
			close = strstr(q, "]]>");
			close = close ? close + 3 : NULL;
		} else if (end - q >= 2 && (q[1] == '?' || q[1] == '!')) {
			close = memchr(q, '>', (size_t)(end - q));
			close = close ? close + 1 : NULL;
		} else {
			const char *c = q + 1;
			char quote = 0;

			for (; c < end; c++) {
				if (quote) {
					if (*c == quote)
						quote = 0;
				} else if (*c == '"' || *c == '\'') {
					quote = *c;
				} else if (*c == '>') {
					break;
				}
			}
			if (c >= end)
				break;
			if (q[1] == '/') {
				depth--;
			} else {
				root = 1;
				if (c[-1] != '/')
					depth++;
			}
			q = c + 1;
			if (root && depth == 0)
				goto done;
			continue;
		}
		if (!close)
			break;
		q = close;
	}
	return perr(p, (int)ln + 1, (size_t)(start - p->lines[ln].s) + 1, "the XML body is not closed");
done:
	buf_init(&t, HURL_MAX_BYTES);
	for (close = start; close < q; close++)
		if (*close != '\r')
			buf_addc(&t, *close);
	text = buf_detach(&t, NULL);
	return inline_body(p, b, HB_XML, ln, text, q, "the XML body");
}

/* A graphql string: the query, and the object of an optional
 * "variables {...}" block after it (both template-checked). */
static int
graphql_split(struct parser *p, struct mstr *m, char *text, int line)
{
	char *v = text, *q;
	size_t n;
	int has;

	for (;;) {
		char *l = v;

		while (*l == ' ' || *l == '\t')
			l++;
		if (!strncmp(l, "variables", 9)) {
			q = l + 9;
			while (*q == ' ' || *q == '\t')
				q++;
			if (*q == '{')
				break;
		}
		if (!(v = strchr(v, '\n')))
			break;
		v++;
	}
	if (v) {
		char *open = strchr(v, '{'), *vars;
		int vline = line;

		for (q = text; q < v; q++)
			vline += *q == '\n';
		n = strlen(open);
		while (n && isspace((unsigned char)open[n - 1]))
			n--;
		if (!n || open[n - 1] != '}') {
			free(text);
			return perr(p, vline, 1, "graphql: the variables block is not a JSON object");
		}
		vars = xstrndup(open, n);
		*v = '\0';
		if (make_str(p, &m->gvars, vars, vline, 1) < 0) {
			free(text);
			return -1;
		}
	}
	n = strlen(text);
	while (n && isspace((unsigned char)text[n - 1]))
		text[--n] = '\0';
	m->text.s = text;
	m->text.line = line;
	if (scan_templates(p, text, line, 1, &has) < 0)
		return -1;
	m->text.has_tmpl = has;
	return 0;
}

/*
 * A ``` string starting at start on line ln: ```one line``` or ``` and a
 * language hint, the lines, and a line of ```.
 */
static int
multiline(struct parser *p, size_t ln, const char *start, struct mstr *m)
{
	const struct line *l = &p->lines[ln];
	const char *s = start + 3, *le = l->s + l->len, *c;
	struct buf t = BUF_INIT;
	char lang[32];
	size_t n = 0, k;
	int has;

	memset(m, 0, sizeof(*m));
	for (c = s; c + 2 < le && memcmp(c, "```", 3) != 0; c++)
		;
	if (c + 2 < le) {
		m->oneline = 1;
		m->end = c + 3;
		return make_str(p, &m->text, xstrndup(s, (size_t)(c - s)), (int)ln + 1,
		    (size_t)(s - l->s) + 1);
	}
	while (s < le && is_sp(*s))
		s++;
	while (s < le && n < sizeof(lang) - 1 && (isalnum((unsigned char)*s) || *s == ','))
		lang[n++] = *s++;
	lang[n] = '\0';
	while (s < le && is_sp(*s))
		s++;
	if (s < le && *s != '#')
		return perr(p, (int)ln + 1, (size_t)(s - l->s) + 1,
		    "unexpected text after the opening ``` of a multiline string");
	if (!strcmp(lang, "json"))
		m->lang = "json";
	else if (!strcmp(lang, "xml"))
		m->lang = "xml";
	else if (!strcmp(lang, "graphql"))
		m->lang = "graphql";
	else if (!strcmp(lang, "raw"))
		m->lang = "raw";
	else if (strchr(lang, ',') || !strcmp(lang, "escape") || !strcmp(lang, "novariable"))
		return perr(p, (int)ln + 1, (size_t)(start - l->s) + 4,
		    "the multiline string attributes of '%s' (escape, novariable) are not supported by ci-smoke",
		    lang);
	else if (*lang)
		return perr(p, (int)ln + 1, (size_t)(start - l->s) + 4,
		    "unknown multiline string language '%s' (json, xml, graphql, raw or none)", lang);
	buf_init(&t, HURL_MAX_BYTES);
	for (k = ln + 1; k < p->nlines; k++) {
		size_t r;
		const char *tr = trimmed(&p->lines[k], &r);

		while (r && is_sp(tr[r - 1]))
			r--;
		if (r == 3 && !memcmp(tr, "```", 3))
			break;
		buf_add(&t, p->lines[k].s, p->lines[k].len);
		buf_addc(&t, '\n');
	}
	if (k >= p->nlines) {
		buf_free(&t);
		return perr(p, (int)ln + 1, (size_t)(start - l->s) + 1,
		    "the multiline string is not closed (no line with ```)");
	}
	m->last = k;
	if (m->lang && !strcmp(m->lang, "graphql"))
		return graphql_split(p, m, buf_detach(&t, NULL), (int)ln + 2);
	m->text.s = buf_detach(&t, NULL);
	m->text.line = (int)ln + 2;
	if (m->lang && !strcmp(m->lang, "raw"))
		return 0;	/* no templates: the text as it is */
	if (scan_templates(p, m->text.s, (int)ln + 2, 1, &has) < 0)
		return -1;
	m->text.has_tmpl = has;
	return 0;
}

static int
body_multiline(struct parser *p, size_t ln, const char *start, struct hurl_body *b)
{
	struct mstr m;
	int rc = multiline(p, ln, start, &m);

	b->kind = HB_TEXT;
	b->line = (int)ln + 1;
	b->text = m.text;
	b->gvars = m.gvars;
	b->lang = m.lang;
	if (rc < 0)
		return -1;
	if (m.oneline) {
		struct lx x;

		lx_init(&x, p, ln);
		x.i = (size_t)(m.end - x.s);
		if (lx_need_end(&x, "the string") < 0)
			return -1;
		p->ln = ln + 1;
		return 0;
	}
	p->ln = m.last + 1;
	return 0;
}

static int
parse_body(struct parser *p, struct hurl_body *b)
{
	size_t ln = p->ln, n;
	const struct line *l = &p->lines[ln];
	const char *s = trimmed(l, &n);
	struct lx x;

	memset(b, 0, sizeof(*b));
	if (s[0] == '{' || s[0] == '[' || s[0] == '"')
		return body_json(p, s, b);
	if (s[0] == '<')
		return body_xml(p, s, b);
	if (n >= 3 && !memcmp(s, "```", 3))
		return body_multiline(p, ln, s, b);
	lx_init(&x, p, ln);
	x.i = (size_t)(s - l->s);
	b->line = x.line;
	if (s[0] == '`') {
		char *t = lx_backtick(&x);

		if (!t || make_str(p, &b->text, t, x.line, x.i + 1) < 0)
			return -1;
		b->kind = HB_TEXT;
		if (lx_need_end(&x, "the body") < 0)
			return -1;
		p->ln = ln + 1;
		return 0;
	}
	if (!memcmp(s, "file,", 5)) {
		x.i += 5;
		if (lx_file_name(&x, &b->text) < 0)
			return -1;
		b->kind = HB_FILE;
		if (lx_need_end(&x, "the file body") < 0)
			return -1;
		p->ln = ln + 1;
		return 0;
	}
	/* hex,...; or base64,...; possibly over several lines */
	{
		int hex = s[0] == 'h';
		const char *from = s + (hex ? 4 : 7), *semi;

		semi = memchr(from, ';', (size_t)(p->text + p->textlen - from));
		if (!semi)
			return perr(p, (int)ln + 1, (size_t)(s - l->s) + 1, "expected ';' to end the %s body",
			    hex ? "hex" : "base64");
		if (decode_bytes(hex, from, (size_t)(semi - from), &b->bytes, &b->len) < 0)
			return perr(p, (int)ln + 1, (size_t)(s - l->s) + 1, "bad %s body", hex ? "hex" : "base64");
		b->kind = HB_BYTES;
		return finish_at(p, semi + 1, "the body");
	}
}

/* ---- entries -------------------------------------------------------- */

static void
request_free(struct hurl_request *r)
{
	size_t i;

	free(r->method);
	str_free(&r->url);
	free(r->url_text);
	kvs_free(r->headers, r->nheaders);
	kvs_free(r->query, r->nquery);
	kvs_free(r->form, r->nform);
	kvs_free(r->multipart, r->nmultipart);
	kvs_free(r->cookies, r->ncookies);
	kvs_free(r->basic_auth, r->basic_auth ? 1 : 0);
	for (i = 0; i < r->noptions; i++) {
		free(r->options[i].var_name);
		str_free(&r->options[i].value);
	}
	free(r->options);
	body_free(&r->body);
}

static void
response_free(struct hurl_response *r)
{
	size_t i;

	kvs_free(r->headers, r->nheaders);
	for (i = 0; i < r->ncaptures; i++)
		capture_free(&r->captures[i]);
	free(r->captures);
	for (i = 0; i < r->nasserts; i++)
		assert_free(&r->asserts[i]);
	free(r->asserts);
	body_free(&r->body);
}

static void
entry_free(struct hurl_entry *en)
{
	size_t i;

	free(en->name);
	request_free(&en->req);
	response_free(&en->resp);
	for (i = 0; i < en->nrefs; i++)
		free(en->refs[i].name);
	free(en->refs);
}

static int
parse_request_line(struct parser *p, struct hurl_request *rq)
{
	struct lx x;
	size_t ms, us, ucol;

	lx_init(&x, p, p->ln);
	lx_sp(&x);
	rq->line = x.line;
	ms = x.i;
	while (x.i < x.n && x.s[x.i] >= 'A' && x.s[x.i] <= 'Z')
		x.i++;
	if (x.i == ms || !is_sp(lx_peek(&x)))
		return lxerr(&x, "expected a request: 'METHOD URL' (such as 'GET https://example.org/')");
	rq->method = xstrndup(x.s + ms, x.i - ms);
	lx_sp(&x);
	us = x.i;
	ucol = x.i + 1;
	while (x.i < x.n && !is_sp(x.s[x.i])) {
		if (x.s[x.i] == '{' && x.i + 1 < x.n && x.s[x.i + 1] == '{') {
			size_t j;

			for (j = x.i + 2; j + 1 < x.n; j++)
				if (x.s[j] == '}' && x.s[j + 1] == '}')
					break;
			if (j + 1 >= x.n)
				return lxerr(&x, "unterminated template '{{' in the URL");
			x.i = j + 2;
			continue;
		}
		x.i++;
	}
	rq->url_text = xstrndup(x.s + us, x.i - us);
	if (make_str(p, &rq->url, xstrdup(rq->url_text), x.line, ucol) < 0)
		return -1;
	if (lx_need_end(&x, "the URL") < 0)
		return -1;
	p->ln++;
	return 0;
}

/* A section's lines; stop at anything that is not one of its items. */
static int
parse_section_items(struct parser *p, int sec, struct hurl_request *rq, struct hurl_response *rs)
{
	while (next_line(p)) {
		const struct line *l = &p->lines[p->ln];
		struct hurl_kv kv;
		char w[64];
		int r;

		if (section_of(l, w, sizeof(w)) >= 0 || is_status_line(l) || is_request_line(l) ||
		    is_body_start(l))
			return 0;
		if (sec == S_ASSERTS) {
			p->resume = 0;
			if (parse_assert(p, p->ln, rs) < 0)
				return -1;
			if (p->resume)
				p->ln = p->resume;
			p->ln++;
			continue;
		}
		if (sec == S_CAPTURES) {
			if (parse_capture(p, p->ln, rs) < 0)
				return -1;
			p->ln++;
			continue;
		}
		r = parse_kv(p, p->ln, &kv, 0);
		if (r < 0)
			return -1;
		if (r == 0) {
			size_t n;
			const char *s = trimmed(l, &n);

			return perr(p, (int)p->ln + 1, (size_t)(s - l->s) + 1,
			    "expected 'name: value' in [%s]", sec_names[sec]);
		}
		switch (sec) {
		case S_QUERY:
			kv_push(&rq->query, &rq->nquery, &kv);
			break;
		case S_FORM:
			kv_push(&rq->form, &rq->nform, &kv);
			break;
		case S_COOKIES:
			kv_push(&rq->cookies, &rq->ncookies, &kv);
			break;
		case S_BASICAUTH:
			if (rq->basic_auth) {
				kv_free(&kv);
				return perr(p, kv.line, 1, "[BasicAuth] holds one 'user: password' line");
			}
			rq->basic_auth = xmalloc(sizeof(*rq->basic_auth));
			*rq->basic_auth = kv;
			break;
		case S_MULTIPART: {
			struct hurl_kv *k = kv_push(&rq->multipart, &rq->nmultipart, &kv);

			if (!strncmp(k->value.s, "file,", 5)) {
				char *v = k->value.s + 5, *semi = strchr(v, ';'), *name, *ct;

				if (!semi)
					return perr(p, k->line, 1, "expected 'file,NAME;' in [%s]", sec_names[sec]);
				while (is_sp(*v))
					v++;
				name = xstrndup(v, (size_t)(semi - v));
				while (*name && is_sp(name[strlen(name) - 1]))
					name[strlen(name) - 1] = '\0';
				ct = semi + 1;
				while (is_sp(*ct))
					ct++;
				k->content_type = *ct ? xstrdup(ct) : NULL;
				free(k->value.s);
				k->value.s = name;
				k->is_file = 1;
				if (!*name)
					return perr(p, k->line, 1, "expected a file name after 'file,'");
			}
			break;
		}
		case S_OPTIONS:
			r = parse_option(p, &kv, rq);
			kv_free(&kv);
			if (r < 0)
				return -1;
			break;
		default:
			kv_free(&kv);
			break;
		}
		p->ln++;
	}
	return 0;
}

static int
parse_response(struct parser *p, struct hurl_response *rs)
{
	struct lx x;
	unsigned seen = 0;

	lx_init(&x, p, p->ln);
	lx_sp(&x);
	rs->present = 1;
	rs->line = x.line;
	x.i += 4;
	if (lx_at(&x, "/1.0")) { rs->version = 10; x.i += 4; }
	else if (lx_at(&x, "/1.1")) { rs->version = 11; x.i += 4; }
	else if (lx_at(&x, "/2")) { rs->version = 20; x.i += 2; }
	else if (lx_at(&x, "/3")) { rs->version = 30; x.i += 2; }
	else if (lx_at(&x, "/*")) { rs->version = -1; x.i += 2; }
	else if (lx_peek(&x) == '/')
		return lxerr(&x, "expected HTTP, HTTP/1.0, HTTP/1.1, HTTP/2, HTTP/3 or HTTP/*");
	if (lx_need_sp(&x, "after the HTTP version") < 0)
		return -1;
	if (lx_peek(&x) == '*') {
		rs->status = -1;
		x.i++;
	} else {
		size_t st = x.i;
		long v = 0;

		while (isdigit((unsigned char)lx_peek(&x)) && x.i - st < 4)
			v = v * 10 + (lx_peek(&x) - '0'), x.i++;
		if (x.i - st != 3 || v < 100 || v > 999) {
			x.i = st;
			return lxerr(&x, "expected a status code of three digits (100 to 999), or '*'");
		}
		rs->status = (int)v;
	}
	if (lx_need_end(&x, "the status") < 0)
		return -1;
	p->ln++;
	p->phase = 1;
	/* headers, then sections, then a body */
	while (next_line(p)) {
		const struct line *l = &p->lines[p->ln];
		char w[64];
		int sec = section_of(l, w, sizeof(w));
		struct hurl_kv kv;
		int r;

		if (is_request_line(l) && !is_status_line(l))
			return 0;
		if (is_status_line(l))
			return perr(p, (int)p->ln + 1, 1, "a second response line: each entry has one");
		if (sec >= 0) {
			if (sec == S_NONE)
				return perr(p, (int)p->ln + 1, 1, "unknown section '[%s]'", w);
			if (sec != S_CAPTURES && sec != S_ASSERTS)
				return perr(p, (int)p->ln + 1, 1,
				    "section '[%s]' belongs to the request, before the HTTP line", w);
			if (seen & (1u << sec))
				return perr(p, (int)p->ln + 1, 1, "section '[%s]' appears twice", sec_names[sec]);
			seen |= 1u << sec;
			p->ln++;
			if (parse_section_items(p, sec, NULL, rs) < 0)
				return -1;
			continue;
		}
		if (is_body_start(l)) {
			if (parse_body(p, &rs->body) < 0)
				return -1;
			if (next_line(p) && !is_request_line(&p->lines[p->ln]))
				return perr(p, (int)p->ln + 1, 1, "the body ends the response: expected the next request");
			return 0;
		}
		if (seen)
			return perr(p, (int)p->ln + 1, 1, "expected an assert, a capture, a section or the next request");
		r = parse_kv(p, p->ln, &kv, 1);
		if (r < 0)
			return -1;
		if (r == 0)
			return perr(p, (int)p->ln + 1, 1,
			    "expected a header 'Name: value', a section or a body after the status");
		kv_push(&rs->headers, &rs->nheaders, &kv);
		p->ln++;
	}
	return 0;
}

static int
parse_entry(struct parser *p, struct hurl_entry *en)
{
	struct hurl_request *rq = &en->req;
	unsigned seen = 0;

	p->entry = en;
	p->phase = 0;
	en->name = p->pending_name;
	p->pending_name = NULL;
	if (is_status_line(&p->lines[p->ln]))
		return perr(p, (int)p->ln + 1, 1, "a response line without a request before it");
	if (!is_request_line(&p->lines[p->ln])) {
		const struct line *l = &p->lines[p->ln];
		size_t n;
		const char *s = trimmed(l, &n);

		return perr(p, (int)p->ln + 1, (size_t)(s - l->s) + 1,
		    "expected a request: 'METHOD URL' (such as 'GET https://example.org/')");
	}
	if (parse_request_line(p, rq) < 0)
		return -1;
	while (next_line(p)) {
		const struct line *l = &p->lines[p->ln];
		char w[64];
		int sec = section_of(l, w, sizeof(w)), r;
		struct hurl_kv kv;

		if (is_status_line(l))
			return parse_response(p, &en->resp);
		if (is_request_line(l))
			return 0;
		if (sec >= 0) {
			if (sec == S_NONE)
				return perr(p, (int)p->ln + 1, 1, "unknown section '[%s]'", w);
			if (sec == S_CAPTURES || sec == S_ASSERTS)
				return perr(p, (int)p->ln + 1, 1,
				    "section '[%s]' needs a response line ('HTTP 200', 'HTTP *') before it", w);
			if (seen & (1u << sec))
				return perr(p, (int)p->ln + 1, 1, "section '[%s]' appears twice", sec_names[sec]);
			seen |= 1u << sec;
			p->ln++;
			if (parse_section_items(p, sec, rq, NULL) < 0)
				return -1;
			continue;
		}
		if (is_body_start(l)) {
			if (parse_body(p, &rq->body) < 0)
				return -1;
			if (!next_line(p))
				return 0;
			if (is_status_line(&p->lines[p->ln]))
				return parse_response(p, &en->resp);
			if (is_request_line(&p->lines[p->ln]))
				return 0;
			return perr(p, (int)p->ln + 1, 1,
			    "the body ends the request: expected the response line or the next request");
		}
		if (seen)
			return perr(p, (int)p->ln + 1, 1,
			    "headers come right after the request line, before the sections");
		r = parse_kv(p, p->ln, &kv, 1);
		if (r < 0)
			return -1;
		if (r == 0) {
			size_t n;
			const char *s = trimmed(l, &n);

			return perr(p, (int)p->ln + 1, (size_t)(s - l->s) + 1,
			    "expected a header 'Name: value', a section, a body or 'HTTP <status>'");
		}
		kv_push(&rq->headers, &rq->nheaders, &kv);
		p->ln++;
	}
	return 0;
}

int
hurl_parse(const char *text, size_t len, const char *name, struct hurl_file *f, struct err *e)
{
	struct parser p;
	size_t i, start = 0;
	const char *slash;
	char *copy;
	int rc = 0;

	memset(f, 0, sizeof(*f));
	memset(&p, 0, sizeof(p));
	f->path = xstrdup(name);
	slash = strrchr(name, '/');
	f->dir = slash ? xstrndup(name, (size_t)(slash - name) + (slash == name)) : xstrdup(".");
	p.name = name;
	p.text = text;
	p.textlen = len;
	p.e = e;
	if (memchr(text, '\0', len)) {
		size_t off = (size_t)((const char *)memchr(text, '\0', len) - text), ln = 1;

		for (i = 0; i < off; i++)
			ln += text[i] == '\n';
		return err_set(e, EX_USAGE_, "%s:%zu: a NUL byte (not a text file?)", name, ln);
	}
	/* The lexer's string functions (strstr, strtoll) stop at a NUL, not
	 * at len: they get a terminated copy, not the caller's bytes. */
	p.text = text = copy = xstrndup(text, len);
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		start = 3;
	for (i = start; i <= len; i++) {
		if (i == len || text[i] == '\n') {
			size_t n = i - start;

			if (i == len && n == 0)
				break;
			if (n && text[start + n - 1] == '\r')
				n--;
			p.lines = xrealloc(p.lines, (p.nlines + 1) * sizeof(*p.lines));
			p.lines[p.nlines].s = text + start;
			p.lines[p.nlines].len = n;
			p.nlines++;
			start = i + 1;
		}
	}
	while (next_line(&p)) {
		struct hurl_entry *en;

		f->entries = xrealloc(f->entries, (f->nentries + 1) * sizeof(*f->entries));
		en = &f->entries[f->nentries++];
		memset(en, 0, sizeof(*en));
		if (parse_entry(&p, en) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && !f->nentries)
		rc = err_set(e, EX_USAGE_, "%s: no request in the file", name);
	free(p.lines);
	free(copy);
	free(p.pending_name);
	if (rc < 0) {
		for (i = 0; i < f->nentries; i++)
			entry_free(&f->entries[i]);
		free(f->entries);
		f->entries = NULL;
		f->nentries = 0;
	}
	return rc;
}

int
hurl_load(const char *path, struct hurl_file *f, struct err *e)
{
	size_t len = 0;
	char *text = read_file(path, HURL_MAX_BYTES, &len, e);
	int rc;

	memset(f, 0, sizeof(*f));
	/* A file that is not there is a bad argument, not an I/O error. */
	if (access(path, F_OK) < 0 && errno == ENOENT) {
		free(text);
		return err_set(e, EX_USAGE_, "cannot open '%s': %s", path, strerror(ENOENT));
	}
	if (!text)
		return -1;
	rc = hurl_parse(text, len, path, f, e);
	free(text);
	return rc;
}

void
hurl_file_free(struct hurl_file *f)
{
	size_t i;

	for (i = 0; i < f->nentries; i++)
		entry_free(&f->entries[i]);
	free(f->entries);
	free(f->path);
	free(f->dir);
	memset(f, 0, sizeof(*f));
}

/* ---- regular expressions -------------------------------------------- */

/*
 * A bracket expression starting after its '[' at *sp: translate Perl's
 * escapes inside it, put a literal ']' first and a literal '-' last as
 * POSIX wants them.  Leaves *sp on the closing ']'.
 */
static int
regex_class(struct buf *b, const char **sp, char *why, size_t whysz)
{
	const char *s = *sp;
	struct buf in = BUF_INIT;
	int neg = 0, rbracket = 0, dash = 0;

	buf_init(&in, 0);
	if (*s == '^') {
		neg = 1;
		s++;
	}
	if (*s == ']') {
		rbracket = 1;
		s++;
	}
	for (; *s && *s != ']'; s++) {
		if (s[0] == '[' && s[1] == ':') {
			const char *e = strstr(s + 2, ":]");

			if (!e)
				break;
			buf_add(&in, s, (size_t)(e + 2 - s));
			s = e + 1;
			continue;
		}
		if (*s != '\\' || !s[1]) {
			buf_addc(&in, *s);
			continue;
		}
		s++;
		switch (*s) {
		case 'd': buf_adds(&in, "0-9"); break;
		case 'w': buf_adds(&in, "A-Za-z0-9_"); break;
		case 's': buf_adds(&in, "[:space:]"); break;
		case 'n': buf_addc(&in, '\n'); break;
		case 't': buf_addc(&in, '\t'); break;
		case 'r': buf_addc(&in, '\r'); break;
		case ']': rbracket = 1; break;
		case '-': dash = 1; break;
		case 'D': case 'W': case 'S':
			snprintf(why, whysz, "'\\%c' inside [...] is not supported", *s);
			buf_free(&in);
			return -1;
		default:
			if (isalnum((unsigned char)*s)) {
				snprintf(why, whysz, "the escape '\\%c' is not supported", *s);
				buf_free(&in);
				return -1;
			}
			buf_addc(&in, *s);	/* \\ \. \[ \^ ...: the character */
		}
	}
	if (*s != ']') {
		buf_free(&in);
		snprintf(why, whysz, "unterminated [...]");
		return -1;
	}
	buf_addc(b, '[');
	if (neg)
		buf_addc(b, '^');
	if (rbracket)
		buf_addc(b, ']');
	buf_add(b, in.data ? in.data : "", in.len);
	if (dash)
		buf_addc(b, '-');
	buf_addc(b, ']');
	buf_free(&in);
	*sp = s;
	return 0;
}

int
hurl_regex_compile(struct hurl_regex *rx, const char *pat, char *why, size_t whysz)
{
	struct buf b;
	int flags = REG_EXTENDED, rc;
	size_t group = 0, first = 0;
	const char *s = pat;

	memset(rx, 0, sizeof(*rx));
	if (!strncmp(s, "(?i)", 4)) {
		flags |= REG_ICASE;
		s += 4;
	}
	buf_init(&b, 1u << 20);
	for (; *s; s++) {
		char c = *s;

		if (c == '[') {
			s++;
			if (regex_class(&b, &s, why, whysz) < 0) {
				buf_free(&b);
				return -1;
			}
			continue;
		}
		if (c == '\\' && s[1]) {
			s++;
			switch (*s) {
			case 'd': buf_adds(&b, "[0-9]"); break;
			case 'D': buf_adds(&b, "[^0-9]"); break;
			case 'w': buf_adds(&b, "[A-Za-z0-9_]"); break;
			case 'W': buf_adds(&b, "[^A-Za-z0-9_]"); break;
			case 's': buf_adds(&b, "[[:space:]]"); break;
			case 'S': buf_adds(&b, "[^[:space:]]"); break;
			case 'n': buf_addc(&b, '\n'); break;
			case 't': buf_addc(&b, '\t'); break;
			case 'r': buf_addc(&b, '\r'); break;
			default:
				/* \b and \B: glibc's word boundaries */
				if (isalnum((unsigned char)*s) && *s != 'b' && *s != 'B') {
					snprintf(why, whysz, "the escape '\\%c' is not supported", *s);
					buf_free(&b);
					return -1;
				}
				buf_addc(&b, '\\');
				buf_addc(&b, *s);
			}
			continue;
		}
		if (c == '(') {
			if (s[1] == '?') {
				if (s[2] == ':') {
					/* POSIX has no such group: number it, skip it */
					group++;
					buf_addc(&b, '(');
					s += 2;
					continue;
				}
				snprintf(why, whysz, "'(?%c' (lookaround, named groups, flags) is not supported",
				    s[2] ? s[2] : ' ');
				buf_free(&b);
				return -1;
			}
			group++;
			if (!first)
				first = group;
			buf_addc(&b, '(');
			continue;
		}
		if ((c == '*' || c == '+' || c == '?' || c == '}') && s[1] == '?') {
			snprintf(why, whysz, "lazy quantifiers ('%c?') are not supported", c);
			buf_free(&b);
			return -1;
		}
		buf_addc(&b, c);
	}
	if (b.failed) {
		buf_free(&b);
		snprintf(why, whysz, "pattern too long");
		return -1;
	}
	rc = regcomp(&rx->re, buf_str(&b), flags);
	buf_free(&b);
	if (rc != 0) {
		regerror(rc, &rx->re, why, whysz);
		regfree(&rx->re);
		return -1;
	}
	rx->compiled = 1;
	rx->group = first;
	return 0;
}

void
hurl_regex_free(struct hurl_regex *rx)
{
	if (rx->compiled)
		regfree(&rx->re);
	rx->compiled = 0;
}

int
hurl_option_value(int kind, const char *s, long long *num, const char **why)
{
	return option_value(kind, s, num, why);
}
