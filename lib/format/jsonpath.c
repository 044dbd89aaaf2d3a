/*
 * jsonpath: compile a JSONPath expression into segments of selectors, then
 * walk a cJSON tree with it (see jsonpath.h for the subset).
 */
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "format/jsonpath.h"

#define FILTER_MAX_DEPTH 64

enum sel_kind { SEL_NAME, SEL_INDEX, SEL_WILD, SEL_SLICE, SEL_FILTER };
enum fx_kind { FX_OR, FX_AND, FX_NOT, FX_CMP, FX_EXISTS, FX_TEST };
enum fx_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };
enum opd_kind { OPD_REL, OPD_ROOT, OPD_LIT, OPD_FUNC };
/* RFC 9535's function extensions (section 2.4). */
enum fn_kind { FN_LENGTH, FN_COUNT, FN_MATCH, FN_SEARCH, FN_VALUE };

struct fexpr;

struct sel {
	int kind;
	char *name;
	long long index;
	long long start, end, step;
	int has_start, has_end;
	struct fexpr *filter;
};

struct seg {
	int descendant;
	struct sel *sels;
	size_t nsels;
};

struct jsonpath {
	struct seg *segs;
	size_t nsegs;
	int definite;
};

struct operand {
	int kind;
	struct jsonpath *path;	/* OPD_REL, OPD_ROOT */
	cJSON *lit;		/* OPD_LIT */
	int fn;			/* OPD_FUNC: its arguments in args */
	struct operand *args;
	size_t nargs;
	regex_t *re;		/* match(), search() of a literal pattern:
				 * compiled once, at parse time */
	int re_bad;		/* that pattern does not compile */
};

struct fexpr {
	int kind;
	struct fexpr *a, *b;	/* FX_OR, FX_AND, FX_NOT (a) */
	int op;
	struct operand l, r;	/* FX_CMP; FX_EXISTS and FX_TEST use l */
};

struct parser {
	const char *expr;
	const char *s;
	size_t i;
	struct err *e;
	int failed;
	int depth;
};

static void path_free(struct jsonpath *p);
static struct fexpr *parse_or(struct parser *p);
static int parse_segments(struct parser *p, struct jsonpath *jp);

static int __attribute__((format(printf, 2, 3)))
perr(struct parser *p, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	if (p->failed)
		return -1;
	p->failed = 1;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return err_set(p->e, EX_USAGE_, "jsonpath '%s': column %zu: %s", p->expr, p->i + 1, what);
}

static void
skip_ws(struct parser *p)
{
	while (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r')
		p->i++;
}

static int
name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '_' || c == '-' || c >= 0x80;
}

static int
hex4(const char *s, unsigned long *out)
{
	unsigned long v = 0;
	int k;

	for (k = 0; k < 4; k++) {
		char c = s[k];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned long)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned long)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned long)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* A quoted string literal at p->i (either quote); fresh string or NULL. */
static char *
parse_quoted(struct parser *p)
{
	char q = p->s[p->i];
	struct buf b;

	buf_init(&b, 1u << 20);
	p->i++;
	for (;;) {
		char c = p->s[p->i];

		if (!c) {
			buf_free(&b);
			perr(p, "unterminated string");
			return NULL;
		}
		if (c == q) {
			p->i++;
			break;
		}
		if (c != '\\') {
			buf_addc(&b, c);
			p->i++;
			continue;
		}
		c = p->s[++p->i];
		switch (c) {
		case '\\': case '/': case '\'': case '"':
			buf_addc(&b, c);
			break;
		case 'b': buf_addc(&b, '\b'); break;
		case 'f': buf_addc(&b, '\f'); break;
		case 'n': buf_addc(&b, '\n'); break;
		case 'r': buf_addc(&b, '\r'); break;
		case 't': buf_addc(&b, '\t'); break;
		case 'u': {
			unsigned long cp, lo;

			if (hex4(p->s + p->i + 1, &cp) < 0) {
				buf_free(&b);
				perr(p, "bad \\u escape: expected 4 hex digits");
				return NULL;
			}
			p->i += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && p->s[p->i + 1] == '\\' && p->s[p->i + 2] == 'u' &&
			    hex4(p->s + p->i + 3, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p->i += 6;
			} else if (cp >= 0xd800 && cp < 0xe000) {
				buf_free(&b);
				perr(p, "bad \\u escape: a lone surrogate");
				return NULL;
			}
			buf_add_utf8(&b, cp);
			break;
		}
		default:
			buf_free(&b);
			perr(p, "bad escape '\\%c' in a string", c ? c : '0');
			return NULL;
		}
		p->i++;
	}
	if (b.failed) {
		buf_free(&b);
		perr(p, "string too long");
		return NULL;
	}
	return buf_detach(&b, NULL);
}

static int
parse_int(struct parser *p, long long *out)
{
	const char *start = p->s + p->i;
	char *end;

	if (!((*start >= '0' && *start <= '9') || (*start == '-' && start[1] >= '0' && start[1] <= '9')))
		return perr(p, "expected an integer");
	errno = 0;
	*out = strtoll(start, &end, 10);
	if (errno)
		return perr(p, "integer out of range");
	p->i += (size_t)(end - start);
	return 0;
}

static struct sel *
add_sel(struct seg *sg)
{
	struct sel *s;

	sg->sels = xrealloc(sg->sels, (sg->nsels + 1) * sizeof(*sg->sels));
	s = &sg->sels[sg->nsels++];
	memset(s, 0, sizeof(*s));
	return s;
}

static void
operand_free(struct operand *o)
{
	size_t i;

	path_free(o->path);
	cJSON_Delete(o->lit);
	for (i = 0; i < o->nargs; i++)
		operand_free(&o->args[i]);
	free(o->args);
	if (o->re) {
		regfree(o->re);
		free(o->re);
	}
	memset(o, 0, sizeof(*o));
}

static void
fexpr_free(struct fexpr *f)
{
	if (!f)
		return;
	fexpr_free(f->a);
	fexpr_free(f->b);
	operand_free(&f->l);
	operand_free(&f->r);
	free(f);
}

/* One selector inside brackets. */
static int
parse_selector(struct parser *p, struct seg *sg)
{
	char c = p->s[p->i];
	struct sel *s;

	if (c == '\'' || c == '"') {
		char *name = parse_quoted(p);

		if (!name)
			return -1;
		s = add_sel(sg);
		s->kind = SEL_NAME;
		s->name = name;
		return 0;
	}
	if (c == '*') {
		p->i++;
		add_sel(sg)->kind = SEL_WILD;
		return 0;
	}
	if (c == '?') {
		struct fexpr *f;

		p->i++;
		skip_ws(p);
		if (++p->depth > FILTER_MAX_DEPTH)
			return perr(p, "filters nested too deeply");
		f = parse_or(p);
		p->depth--;
		if (!f)
			return -1;
		s = add_sel(sg);
		s->kind = SEL_FILTER;
		s->filter = f;
		return 0;
	}
	if ((c >= '0' && c <= '9') || c == '-' || c == ':') {
		long long a = 0, b = 0, st = 1;
		int ha = 0, hb = 0;

		if (c != ':') {
			if (parse_int(p, &a) < 0)
				return -1;
			ha = 1;
			skip_ws(p);
			if (p->s[p->i] != ':') {
				s = add_sel(sg);
				s->kind = SEL_INDEX;
				s->index = a;
				return 0;
			}
		}
		p->i++;		/* the ':' */
		skip_ws(p);
		if (p->s[p->i] == '-' || (p->s[p->i] >= '0' && p->s[p->i] <= '9')) {
			if (parse_int(p, &b) < 0)
				return -1;
			hb = 1;
			skip_ws(p);
		}
		if (p->s[p->i] == ':') {
			p->i++;
			skip_ws(p);
			if (p->s[p->i] == '-' || (p->s[p->i] >= '0' && p->s[p->i] <= '9')) {
				if (parse_int(p, &st) < 0)
					return -1;
			}
		}
		s = add_sel(sg);
		s->kind = SEL_SLICE;
		s->start = a;
		s->end = b;
		s->step = st;
		s->has_start = ha;
		s->has_end = hb;
		return 0;
	}
	if (!c)
		return perr(p, "unexpected end: expected a selector and ']'");
	return perr(p, "unexpected '%c': expected a quoted name, an index, a slice, '*' or a filter '?'", c);
}

static int
parse_bracket(struct parser *p, struct seg *sg)
{
	p->i++;		/* '[' */
	for (;;) {
		skip_ws(p);
		if (parse_selector(p, sg) < 0)
			return -1;
		skip_ws(p);
		if (p->s[p->i] == ',') {
			p->i++;
			continue;
		}
		if (p->s[p->i] == ']') {
			p->i++;
			return 0;
		}
		if (!p->s[p->i])
			return perr(p, "unexpected end: expected ']'");
		return perr(p, "unexpected '%c': expected ',' or ']'", p->s[p->i]);
	}
}

static char *
parse_name(struct parser *p)
{
	size_t start = p->i;

	while (name_char((unsigned char)p->s[p->i]))
		p->i++;
	if (p->i == start)
		return NULL;
	return xstrndup(p->s + start, p->i - start);
}

static struct seg *
add_seg(struct jsonpath *jp, int descendant)
{
	struct seg *sg;

	jp->segs = xrealloc(jp->segs, (jp->nsegs + 1) * sizeof(*jp->segs));
	sg = &jp->segs[jp->nsegs++];
	memset(sg, 0, sizeof(*sg));
	sg->descendant = descendant;
	return sg;
}

/* The segments after '$' or '@', up to whatever cannot continue a path. */
static int
parse_segments(struct parser *p, struct jsonpath *jp)
{
	for (;;) {
		char c = p->s[p->i];
		struct seg *sg;

		if (c == '.' && p->s[p->i + 1] == '.') {
			p->i += 2;
			sg = add_seg(jp, 1);
			if (p->s[p->i] == '*') {
				p->i++;
				add_sel(sg)->kind = SEL_WILD;
			} else if (p->s[p->i] == '[') {
				if (parse_bracket(p, sg) < 0)
					return -1;
			} else {
				char *name = parse_name(p);
				struct sel *s;

				if (!name)
					return perr(p, "expected a name, '*' or '[' after '..'");
				s = add_sel(sg);
				s->kind = SEL_NAME;
				s->name = name;
			}
		} else if (c == '.' && p->s[p->i + 1] == '[') {
			/* "$.[0]", "$.a.[?(...)]": Hurl reads the dot before a
			 * bracket as nothing, so do we. */
			p->i++;
		} else if (c == '.') {
			p->i++;
			sg = add_seg(jp, 0);
			if (p->s[p->i] == '*') {
				p->i++;
				add_sel(sg)->kind = SEL_WILD;
			} else {
				char *name = parse_name(p);
				struct sel *s;

				if (!name)
					return perr(p, "expected a name or '*' after '.'");
				s = add_sel(sg);
				s->kind = SEL_NAME;
				s->name = name;
			}
		} else if (c == '[') {
			sg = add_seg(jp, 0);
			if (parse_bracket(p, sg) < 0)
				return -1;
		} else {
			return 0;
		}
	}
}

static int
compute_definite(const struct jsonpath *jp)
{
	size_t i;

	for (i = 0; i < jp->nsegs; i++) {
		const struct seg *sg = &jp->segs[i];

		if (sg->descendant || sg->nsels != 1 ||
		    (sg->sels[0].kind != SEL_NAME && sg->sels[0].kind != SEL_INDEX))
			return 0;
	}
	return 1;
}

static struct jsonpath *
parse_subpath(struct parser *p)
{
	struct jsonpath *jp = xcalloc(1, sizeof(*jp));

	p->i++;		/* '$' or '@' */
	if (parse_segments(p, jp) < 0) {
		path_free(jp);
		return NULL;
	}
	jp->definite = compute_definite(jp);
	return jp;
}

static int
word_at(const struct parser *p, const char *w)
{
	size_t n = strlen(w);

	return strncmp(p->s + p->i, w, n) == 0 && !name_char((unsigned char)p->s[p->i + n]);
}

static const char *const fn_names[] = { "length", "count", "match", "search", "value" };

static int parse_operand(struct parser *p, struct operand *o);

/* match()'s pattern must match the whole string, search()'s a part. */
static int
pattern_compile(regex_t *re, int fn, const char *pat)
{
	struct buf b = BUF_INIT;
	int rc = -1;

	if (fn == FN_MATCH)
		buf_addf(&b, "^(%s)$", pat);
	else
		buf_adds(&b, pat);
	if (!b.failed && regcomp(re, buf_str(&b), REG_EXTENDED | REG_NOSUB) == 0)
		rc = 0;
	buf_free(&b);
	return rc;
}

/*
 * name(arg, ...) at p.  The arguments are typed as RFC 9535 section 2.4
 * has them: count() and value() take a path (any path: its nodes),
 * length() a value (a singular path, a literal or a function giving a
 * value), match() and search() two values.
 */
static int
parse_function(struct parser *p, struct operand *o, int fn)
{
	size_t want = fn == FN_MATCH || fn == FN_SEARCH ? 2 : 1;
	const char *name = fn_names[fn];

	o->kind = OPD_FUNC;
	o->fn = fn;
	p->i += strlen(name);
	skip_ws(p);
	p->i++;		/* '(' */
	if (++p->depth > FILTER_MAX_DEPTH)
		return perr(p, "filter nested too deeply");
	for (;;) {
		struct operand *a;

		skip_ws(p);
		if (o->nargs == want)
			return perr(p, "%s() takes %zu argument%s", name, want, want > 1 ? "s" : "");
		o->args = xrealloc(o->args, (o->nargs + 1) * sizeof(*o->args));
		a = &o->args[o->nargs];
		memset(a, 0, sizeof(*a));
		o->nargs++;
		if (parse_operand(p, a) < 0)
			return -1;
		if ((fn == FN_COUNT || fn == FN_VALUE) && a->kind != OPD_REL && a->kind != OPD_ROOT)
			return perr(p, "%s() takes a path (@... or $...)", name);
		if (fn != FN_COUNT && fn != FN_VALUE && a->path && !a->path->definite)
			return perr(p, "%s() takes a value: a path that selects at most one value", name);
		if (a->kind == OPD_FUNC && (a->fn == FN_MATCH || a->fn == FN_SEARCH))
			return perr(p, "%s() gives true or false, not a value", fn_names[a->fn]);
		skip_ws(p);
		if (p->s[p->i] == ',') {
			p->i++;
			continue;
		}
		if (p->s[p->i] != ')')
			return p->s[p->i] ? perr(p, "unexpected '%c': expected ',' or ')'", p->s[p->i]) :
			    perr(p, "unexpected end: expected ')'");
		break;
	}
	if (o->nargs != want)
		return perr(p, "%s() takes %zu argument%s", name, want, want > 1 ? "s" : "");
	p->i++;
	p->depth--;
	/* a literal pattern is compiled here, not once per value tested */
	if (want == 2 && o->args[1].kind == OPD_LIT && cJSON_IsString(o->args[1].lit)) {
		o->re = xmalloc(sizeof(*o->re));
		if (pattern_compile(o->re, fn, o->args[1].lit->valuestring) < 0) {
			free(o->re);
			o->re = NULL;
			o->re_bad = 1;
		}
	}
	return 0;
}

static int
parse_operand(struct parser *p, struct operand *o)
{
	char c = p->s[p->i];
	int fn;

	memset(o, 0, sizeof(*o));
	for (fn = 0; fn < (int)(sizeof(fn_names) / sizeof(*fn_names)); fn++) {
		size_t n = strlen(fn_names[fn]), k = p->i + n;

		if (strncmp(p->s + p->i, fn_names[fn], n) != 0)
			continue;
		while (p->s[k] == ' ' || p->s[k] == '\t')
			k++;
		if (p->s[k] == '(')
			return parse_function(p, o, fn);
	}
	if (c == '@' || c == '$') {
		o->kind = c == '@' ? OPD_REL : OPD_ROOT;
		o->path = parse_subpath(p);
		return o->path ? 0 : -1;
	}
	o->kind = OPD_LIT;
	if (c == '\'' || c == '"') {
		char *s = parse_quoted(p);

		if (!s)
			return -1;
		o->lit = cJSON_CreateString(s);
		free(s);
		return 0;
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		const char *start = p->s + p->i;
		char *end;
		double d;

		errno = 0;
		d = strtod(start, &end);
		if (end == start || errno || !isfinite(d))
			return perr(p, "bad number");
		p->i += (size_t)(end - start);
		o->lit = cJSON_CreateNumber(d);
		return 0;
	}
	if (word_at(p, "true")) {
		p->i += 4;
		o->lit = cJSON_CreateTrue();
		return 0;
	}
	if (word_at(p, "false")) {
		p->i += 5;
		o->lit = cJSON_CreateFalse();
		return 0;
	}
	if (word_at(p, "null")) {
		p->i += 4;
		o->lit = cJSON_CreateNull();
		return 0;
	}
	if (!c)
		return perr(p, "unexpected end of the filter: expected a value or a path");
	return perr(p, "unexpected '%c' in a filter: expected @, $, a number, a string, true, false, null or a function (length, count, match, search, value)", c);
}

static int
parse_op(struct parser *p, int *op)
{
	const char *s = p->s + p->i;

	if (s[0] == '=' && s[1] == '=') { *op = OP_EQ; p->i += 2; return 1; }
	if (s[0] == '!' && s[1] == '=') { *op = OP_NE; p->i += 2; return 1; }
	if (s[0] == '<' && s[1] == '=') { *op = OP_LE; p->i += 2; return 1; }
	if (s[0] == '>' && s[1] == '=') { *op = OP_GE; p->i += 2; return 1; }
	if (s[0] == '<') { *op = OP_LT; p->i += 1; return 1; }
	if (s[0] == '>') { *op = OP_GT; p->i += 1; return 1; }
	if (s[0] == '=')
		return perr(p, "'=' is not an operator: use '=='");
	return 0;
}

static struct fexpr *
parse_unary(struct parser *p)
{
	struct fexpr *f;
	int op = OP_EQ, r;

	skip_ws(p);
	if (++p->depth > FILTER_MAX_DEPTH) {
		perr(p, "filter nested too deeply");
		return NULL;
	}
	if (p->s[p->i] == '!' && p->s[p->i + 1] != '=') {
		p->i++;
		f = xcalloc(1, sizeof(*f));
		f->kind = FX_NOT;
		f->a = parse_unary(p);
		p->depth--;
		if (!f->a) {
			fexpr_free(f);
			return NULL;
		}
		return f;
	}
	if (p->s[p->i] == '(') {
		p->i++;
		f = parse_or(p);
		p->depth--;
		if (!f)
			return NULL;
		skip_ws(p);
		if (p->s[p->i] != ')') {
			perr(p, "expected ')'");
			fexpr_free(f);
			return NULL;
		}
		p->i++;
		return f;
	}
	p->depth--;
	f = xcalloc(1, sizeof(*f));
	f->kind = FX_CMP;
	if (parse_operand(p, &f->l) < 0) {
		fexpr_free(f);
		return NULL;
	}
	skip_ws(p);
	r = parse_op(p, &op);
	if (r < 0) {
		fexpr_free(f);
		return NULL;
	}
	if (f->l.kind == OPD_FUNC && (f->l.fn == FN_MATCH || f->l.fn == FN_SEARCH)) {
		if (r == 0) {
			f->kind = FX_TEST;
			return f;
		}
		perr(p, "%s() gives true or false: it cannot be compared", fn_names[f->l.fn]);
		fexpr_free(f);
		return NULL;
	}
	if (r == 0) {
		if (f->l.kind == OPD_LIT || f->l.kind == OPD_FUNC) {
			perr(p, "expected a comparison operator after %s",
			    f->l.kind == OPD_LIT ? "a literal" : "a function's value");
			fexpr_free(f);
			return NULL;
		}
		f->kind = FX_EXISTS;
		return f;
	}
	f->op = op;
	skip_ws(p);
	if (parse_operand(p, &f->r) < 0) {
		fexpr_free(f);
		return NULL;
	}
	if (f->r.kind == OPD_FUNC && (f->r.fn == FN_MATCH || f->r.fn == FN_SEARCH)) {
		perr(p, "%s() gives true or false: it cannot be compared", fn_names[f->r.fn]);
		fexpr_free(f);
		return NULL;
	}
	if ((f->l.path && !f->l.path->definite) || (f->r.path && !f->r.path->definite)) {
		perr(p, "a comparison needs paths that select at most one value (names and indexes only)");
		fexpr_free(f);
		return NULL;
	}
	return f;
}

static struct fexpr *
parse_and(struct parser *p)
{
	struct fexpr *l = parse_unary(p);

	while (l) {
		struct fexpr *n;

		skip_ws(p);
		if (p->s[p->i] != '&' || p->s[p->i + 1] != '&')
			return l;
		p->i += 2;
		n = xcalloc(1, sizeof(*n));
		n->kind = FX_AND;
		n->a = l;
		n->b = parse_unary(p);
		if (!n->b) {
			fexpr_free(n);
			return NULL;
		}
		l = n;
	}
	return NULL;
}

static struct fexpr *
parse_or(struct parser *p)
{
	struct fexpr *l = parse_and(p);

	while (l) {
		struct fexpr *n;

		skip_ws(p);
		if (p->s[p->i] != '|' || p->s[p->i + 1] != '|')
			return l;
		p->i += 2;
		n = xcalloc(1, sizeof(*n));
		n->kind = FX_OR;
		n->a = l;
		n->b = parse_and(p);
		if (!n->b) {
			fexpr_free(n);
			return NULL;
		}
		l = n;
	}
	return NULL;
}

static void
path_free(struct jsonpath *jp)
{
	size_t i, k;

	if (!jp)
		return;
	for (i = 0; i < jp->nsegs; i++) {
		for (k = 0; k < jp->segs[i].nsels; k++) {
			free(jp->segs[i].sels[k].name);
			fexpr_free(jp->segs[i].sels[k].filter);
		}
		free(jp->segs[i].sels);
	}
	free(jp->segs);
	free(jp);
}

void
jsonpath_free(struct jsonpath *p)
{
	path_free(p);
}

int
jsonpath_compile(const char *expr, struct jsonpath **out, struct err *e)
{
	struct parser p;
	struct jsonpath *jp;

	*out = NULL;
	memset(&p, 0, sizeof(p));
	p.expr = expr;
	p.s = expr;
	p.e = e;
	skip_ws(&p);
	if (p.s[p.i] != '$')
		return perr(&p, "a path starts with '$'");
	jp = parse_subpath(&p);
	if (!jp)
		return -1;
	skip_ws(&p);
	if (p.s[p.i]) {
		perr(&p, "unexpected '%c': expected '.', '..' or '['", p.s[p.i]);
		path_free(jp);
		return -1;
	}
	*out = jp;
	return 0;
}

int
jsonpath_definite(const struct jsonpath *p)
{
	return p->definite;
}

/* ---- evaluation ----------------------------------------------------- */

struct nodes {
	const cJSON **v;
	size_t n, alloc;
	int overflow;
};

static void
push(struct nodes *ns, const cJSON *item)
{
	if (ns->n >= JSONPATH_MAX_RESULTS) {
		ns->overflow = 1;
		return;
	}
	if (ns->n == ns->alloc) {
		ns->alloc = ns->alloc ? 2 * ns->alloc : 8;
		ns->v = xrealloc(ns->v, ns->alloc * sizeof(*ns->v));
	}
	ns->v[ns->n++] = item;
}

static void eval_path(const struct jsonpath *jp, const cJSON *start, const cJSON *root,
    struct nodes *out);

/* The one node a definite path selects from start, or NULL. */
static const cJSON *
singular(const struct jsonpath *jp, const cJSON *start)
{
	size_t i;
	const cJSON *cur = start;

	for (i = 0; i < jp->nsegs && cur; i++) {
		const struct sel *s = &jp->segs[i].sels[0];

		if (s->kind == SEL_NAME) {
			cur = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, s->name) : NULL;
		} else {
			long long n = cJSON_IsArray(cur) ? cJSON_GetArraySize(cur) : 0, k = s->index;

			if (k < 0)
				k += n;
			cur = cJSON_IsArray(cur) && k >= 0 && k < n ? cJSON_GetArrayItem(cur, (int)k) : NULL;
		}
	}
	return cur;
}

static int
number_of(const cJSON *v, double *d)
{
	if (cJSON_IsNumber(v)) {
		*d = v->valuedouble;
		return 1;
	}
	/* lib/json keeps integers a double cannot hold as Raw literals. */
	if (cJSON_IsRaw(v) && v->valuestring) {
		char *end;

		*d = strtod(v->valuestring, &end);
		return end != v->valuestring && !*end;
	}
	return 0;
}

static int
values_equal(const cJSON *a, const cJSON *b)
{
	double x, y;

	if (number_of(a, &x) && number_of(b, &y)) {
		if (cJSON_IsRaw(a) && cJSON_IsRaw(b))
			return strcmp(a->valuestring, b->valuestring) == 0;
		return x == y;
	}
	if (cJSON_IsString(a) && cJSON_IsString(b))
		return strcmp(a->valuestring, b->valuestring) == 0;
	if (cJSON_IsBool(a) && cJSON_IsBool(b))
		return cJSON_IsTrue(a) == cJSON_IsTrue(b);
	if (cJSON_IsNull(a) && cJSON_IsNull(b))
		return 1;
	if ((cJSON_IsArray(a) && cJSON_IsArray(b)) || (cJSON_IsObject(a) && cJSON_IsObject(b)))
		return cJSON_Compare(a, b, 1);
	return 0;
}

/* a < b for numbers and strings; 0 for anything else. */
static int
values_less(const cJSON *a, const cJSON *b)
{
	double x, y;

	if (number_of(a, &x) && number_of(b, &y))
		return x < y;
	if (cJSON_IsString(a) && cJSON_IsString(b))
		return strcmp(a->valuestring, b->valuestring) < 0;
	return 0;
}

static int
compare(int op, const cJSON *a, const cJSON *b)
{
	/* RFC 9535: two missing values are equal; one is equal to nothing. */
	if (!a || !b) {
		int eq = !a && !b;

		switch (op) {
		case OP_EQ: return eq;
		case OP_NE: return !eq;
		case OP_LE: case OP_GE: return eq;
		default: return 0;
		}
	}
	switch (op) {
	case OP_EQ: return values_equal(a, b);
	case OP_NE: return !values_equal(a, b);
	case OP_LT: return values_less(a, b);
	case OP_LE: return values_less(a, b) || values_equal(a, b);
	case OP_GT: return values_less(b, a);
	case OP_GE: return values_less(b, a) || values_equal(a, b);
	}
	return 0;
}

/* Unicode scalar values in a UTF-8 string: its bytes but continuation bytes. */
static size_t
utf8_length(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static const cJSON *
operand_value(const struct operand *o, const cJSON *cur, const cJSON *root, cJSON **owned)
{
	const cJSON *v;
	cJSON *inner = NULL;
	struct nodes ns = { NULL, 0, 0, 0 };
	double n = -1;

	*owned = NULL;
	if (o->kind == OPD_LIT)
		return o->lit;
	if (o->kind != OPD_FUNC)
		return singular(o->path, o->kind == OPD_REL ? cur : root);
	switch (o->fn) {
	case FN_LENGTH:
		/* RFC 9535: characters of a string, members of an array or an
		 * object; nothing for any other value. */
		v = operand_value(&o->args[0], cur, root, &inner);
		if (cJSON_IsString(v))
			n = (double)utf8_length(v->valuestring);
		else if (cJSON_IsArray(v) || cJSON_IsObject(v))
			n = cJSON_GetArraySize(v);
		cJSON_Delete(inner);
		break;
	case FN_COUNT:
		eval_path(o->args[0].path, o->args[0].kind == OPD_REL ? cur : root, root, &ns);
		n = (double)ns.n;
		free(ns.v);
		break;
	case FN_VALUE:
		eval_path(o->args[0].path, o->args[0].kind == OPD_REL ? cur : root, root, &ns);
		v = ns.n == 1 ? ns.v[0] : NULL;
		free(ns.v);
		return v;
	default:
		return NULL;
	}
	if (n < 0)
		return NULL;
	*owned = cJSON_CreateNumber(n);
	return *owned;
}

/*
 * match() (the whole string) and search() (a part of it): false, never an
 * error, when either argument is not a string or the pattern does not
 * compile, as RFC 9535 has it.  The pattern is read as a POSIX extended
 * regular expression, which covers I-Regexp's common forms.
 */
static int
function_true(const struct operand *o, const cJSON *cur, const cJSON *root)
{
	cJSON *own_s = NULL, *own_re = NULL;
	const cJSON *str = operand_value(&o->args[0], cur, root, &own_s);
	regex_t re;
	int yes = 0;

	if (!cJSON_IsString(str) || o->re_bad) {
		/* false */
	} else if (o->re) {
		yes = regexec(o->re, str->valuestring, 0, NULL, 0) == 0;
	} else {
		const cJSON *pat = operand_value(&o->args[1], cur, root, &own_re);

		if (cJSON_IsString(pat) && pattern_compile(&re, o->fn, pat->valuestring) == 0) {
			yes = regexec(&re, str->valuestring, 0, NULL, 0) == 0;
			regfree(&re);
		}
	}
	cJSON_Delete(own_s);
	cJSON_Delete(own_re);
	return yes;
}

static int
filter_true(const struct fexpr *f, const cJSON *cur, const cJSON *root)
{
	const cJSON *a, *b;
	cJSON *own_a, *own_b;
	int yes;

	switch (f->kind) {
	case FX_OR:
		return filter_true(f->a, cur, root) || filter_true(f->b, cur, root);
	case FX_AND:
		return filter_true(f->a, cur, root) && filter_true(f->b, cur, root);
	case FX_NOT:
		return !filter_true(f->a, cur, root);
	case FX_EXISTS: {
		struct nodes ns = { NULL, 0, 0, 0 };
		int found;

		eval_path(f->l.path, f->l.kind == OPD_REL ? cur : root, root, &ns);
		found = ns.n > 0;
		free(ns.v);
		return found;
	}
	case FX_TEST:
		return function_true(&f->l, cur, root);
	default:
		break;
	}
	a = operand_value(&f->l, cur, root, &own_a);
	b = operand_value(&f->r, cur, root, &own_b);
	yes = compare(f->op, a, b);
	cJSON_Delete(own_a);
	cJSON_Delete(own_b);
	return yes;
}

static void
apply_slice(const struct sel *s, const cJSON *arr, struct nodes *out)
{
	long long n = cJSON_GetArraySize(arr), st = s->step, start, end, lo, hi, i;

	if (st == 0)
		return;
	/* RFC 9535 section 2.3.4.2.2. */
	if (st > 0) {
		start = s->has_start ? s->start : 0;
		end = s->has_end ? s->end : n;
	} else {
		start = s->has_start ? s->start : n - 1;
		end = s->has_end ? s->end : -n - 1;
	}
	if (start < 0)
		start += n;
	if (end < 0)
		end += n;
	if (st > 0) {
		lo = start < 0 ? 0 : start > n ? n : start;
		hi = end < 0 ? 0 : end > n ? n : end;
		for (i = lo; i < hi; i += st)
			push(out, cJSON_GetArrayItem(arr, (int)i));
	} else {
		hi = start < -1 ? -1 : start > n - 1 ? n - 1 : start;
		lo = end < -1 ? -1 : end > n - 1 ? n - 1 : end;
		for (i = hi; i > lo; i += st)
			push(out, cJSON_GetArrayItem(arr, (int)i));
	}
}

static void
apply_sel(const struct sel *s, const cJSON *node, const cJSON *root, struct nodes *out)
{
	const cJSON *c;

	switch (s->kind) {
	case SEL_NAME:
		if (cJSON_IsObject(node) && (c = cJSON_GetObjectItemCaseSensitive(node, s->name)))
			push(out, c);
		break;
	case SEL_INDEX:
		if (cJSON_IsArray(node)) {
			long long n = cJSON_GetArraySize(node), k = s->index < 0 ? s->index + n : s->index;

			if (k >= 0 && k < n)
				push(out, cJSON_GetArrayItem(node, (int)k));
		}
		break;
	case SEL_WILD:
		if (cJSON_IsObject(node) || cJSON_IsArray(node))
			for (c = node->child; c; c = c->next)
				push(out, c);
		break;
	case SEL_SLICE:
		if (cJSON_IsArray(node))
			apply_slice(s, node, out);
		break;
	case SEL_FILTER:
		if (cJSON_IsObject(node) || cJSON_IsArray(node))
			for (c = node->child; c; c = c->next)
				if (filter_true(s->filter, c, root))
					push(out, c);
		break;
	}
}

static void
descend(const struct seg *sg, const cJSON *node, const cJSON *root, struct nodes *out)
{
	const cJSON *c;
	size_t k;

	if (out->overflow)
		return;
	for (k = 0; k < sg->nsels; k++)
		apply_sel(&sg->sels[k], node, root, out);
	if (cJSON_IsObject(node) || cJSON_IsArray(node))
		for (c = node->child; c; c = c->next)
			descend(sg, c, root, out);
}

static void
eval_path(const struct jsonpath *jp, const cJSON *start, const cJSON *root, struct nodes *out)
{
	struct nodes cur = { NULL, 0, 0, 0 };
	size_t i, j, k;

	push(&cur, start);
	for (i = 0; i < jp->nsegs && cur.n && !cur.overflow; i++) {
		const struct seg *sg = &jp->segs[i];
		struct nodes next = { NULL, 0, 0, 0 };

		for (j = 0; j < cur.n && !next.overflow; j++) {
			if (sg->descendant)
				descend(sg, cur.v[j], root, &next);
			else
				for (k = 0; k < sg->nsels; k++)
					apply_sel(&sg->sels[k], cur.v[j], root, &next);
		}
		free(cur.v);
		cur = next;
	}
	for (j = 0; j < cur.n; j++)
		push(out, cur.v[j]);
	if (cur.overflow)
		out->overflow = 1;
	free(cur.v);
}

int
jsonpath_eval(const struct jsonpath *p, const cJSON *root, const cJSON ***out, size_t *n,
    struct err *e)
{
	struct nodes ns = { NULL, 0, 0, 0 };

	*out = NULL;
	*n = 0;
	if (!root)
		return 0;
	eval_path(p, root, root, &ns);
	if (ns.overflow) {
		free(ns.v);
		return err_set(e, EX_USAGE_, "jsonpath: more than %d results", JSONPATH_MAX_RESULTS);
	}
	*out = ns.v;
	*n = ns.n;
	return 0;
}
