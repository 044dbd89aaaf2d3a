#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "core/log.h"
#include "format/report.h"
#include "format/xml.h"

/* Reports are machine-written and can be big, but not this big. */
#define REPORT_MAX ((size_t)64 << 20)
/* Longest failure message we keep: a summary line, not the stack. */
#define MESSAGE_MAX 200

/*
 * JUnit
 */

/* The first non-blank line of s, trimmed and cut to MESSAGE_MAX bytes on a
 * character boundary; NULL when s has none. */
static char *
first_line(const char *s)
{
	const char *end;
	size_t n;

	if (!s)
		return NULL;
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r')
			s++;
		if (*s != '\n')
			break;
		s++;
	}
	if (!*s)
		return NULL;
	end = strchr(s, '\n');
	n = end ? (size_t)(end - s) : strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n > MESSAGE_MAX) {
		n = MESSAGE_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
		while (n > 0 && isspace((unsigned char)s[n - 1]))
			n--;
	}
	return xstrndup(s, n);
}

/*
 * Test durations, leniently: "0.012", "1.2E-4", and what Surefire writes
 * under some locales, "1,234.5" or "0,012" or "1.234,5".  When both '.' and
 * ',' occur the last one is the decimal point; a lone ',' is a decimal
 * comma unless it groups thousands ("1,234").  Anything else is 0: a time
 * is informative, not worth failing a report over.
 */
static double
parse_time(const char *s)
{
	char t[64], u[64];
	size_t n = 0, k, m = 0;
	const char *dot, *comma, *dec = NULL;
	char *end;
	double v;

	if (!s)
		return 0;
	while (isspace((unsigned char)*s))
		s++;
	while (s[n] && !isspace((unsigned char)s[n]))
		n++;
	if (n == 0 || n >= sizeof(t))
		return 0;
	memcpy(t, s, n);
	t[n] = '\0';
	for (k = 0; k < n; k++)
		if (!strchr("0123456789.,eE+-", t[k]))
			return 0;
	dot = strrchr(t, '.');
	comma = strrchr(t, ',');
	if (dot && comma)
		dec = dot > comma ? dot : comma;
	else if (dot)
		dec = strchr(t, '.') == dot ? dot : NULL;
	else if (comma && strchr(t, ',') == comma) {
		size_t after = strspn(comma + 1, "0123456789");
		int zero = comma == t + 1 && t[0] == '0';

		dec = after == 3 && comma[4] == '\0' && !zero && comma != t ? NULL : comma;
	}
	for (k = 0; k < n; k++) {
		if (t + k == dec)
			u[m++] = '.';
		else if (t[k] != ',' && t[k] != '.')
			u[m++] = t[k];
	}
	u[m] = '\0';
	errno = 0;
	v = strtod(u, &end);
	if (end == u || *end || errno || !isfinite(v) || v < 0)
		return 0;
	return v;
}

static void
free_case(struct junit_case *c)
{
	free(c->suite);
	free(c->classname);
	free(c->name);
	free(c->message);
}

static int
add_case(const struct xml_node *tc, const char *suite, const char *file,
    struct junit_result *r, struct err *e)
{
	static const struct {
		const char *tag;
		int status;
	} outcome[] = {
		{ "failure", JUNIT_FAILED }, { "error", JUNIT_ERROR }, { "skipped", JUNIT_SKIPPED },
	};
	const char *name = xml_attr(tc, "name"), *cls = xml_attr(tc, "classname");
	struct junit_case *c;
	size_t k;

	if (!name)
		return err_set(e, EX_USAGE_, "%s:%d:%d: testcase without a 'name' attribute",
		    file, tc->line, tc->col);
	if (r->ncases == r->alloc) {
		r->alloc = r->alloc ? r->alloc * 2 : 16;
		r->cases = xrealloc(r->cases, r->alloc * sizeof(*r->cases));
	}
	c = &r->cases[r->ncases++];
	memset(c, 0, sizeof(*c));
	c->suite = xstrdup(suite);
	c->classname = xstrdup(cls ? cls : "");
	c->name = xstrdup(name);
	c->time_s = parse_time(xml_attr(tc, "time"));
	c->status = JUNIT_PASSED;
	for (k = 0; k < sizeof(outcome) / sizeof(outcome[0]); k++) {
		const struct xml_node *o = xml_child(tc, outcome[k].tag);

		if (!o)
			continue;
		c->status = outcome[k].status;
		c->message = first_line(xml_attr(o, "message"));
		if (!c->message)
			c->message = first_line(o->text);
		break;
	}
	r->tests++;
	if (c->status == JUNIT_FAILED)
		r->failures++;
	else if (c->status == JUNIT_ERROR)
		r->errors++;
	else if (c->status == JUNIT_SKIPPED)
		r->skipped++;
	return 0;
}

/* Cases below n, in document order; suites nest (PHPUnit, Surefire), and
 * the XML reader already bounds the depth of this recursion. */
static int
walk(const struct xml_node *n, const char *suite, const char *file,
    struct junit_result *r, struct err *e)
{
	const struct xml_node *c;

	for (c = xml_child(n, NULL); c; c = xml_next(c, NULL)) {
		int rc = 0;

		if (strcmp(c->name, "testcase") == 0)
			rc = add_case(c, suite, file, r, e);
		else if (strcmp(c->name, "testsuite") == 0) {
			const char *sn = xml_attr(c, "name");

			rc = walk(c, sn ? sn : "", file, r, e);
		} else if (strcmp(c->name, "testsuites") == 0)
			rc = walk(c, suite, file, r, e);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int
junit_parse_text(const char *text, size_t len, const char *name,
    struct junit_result *r, struct err *e)
{
	struct junit_result saved = *r;
	struct xml_node *root;
	int rc;

	if (!(root = xml_parse(text, len, name, e)))
		return -1;
	if (strcmp(root->name, "testsuites") == 0)
		rc = walk(root, "", name, r, e);
	else if (strcmp(root->name, "testsuite") == 0) {
		const char *sn = xml_attr(root, "name");

		rc = walk(root, sn ? sn : "", name, r, e);
	} else
		rc = err_set(e, EX_USAGE_, "'%s': root element is '%s', not a JUnit testsuite(s)",
		    name, root->name);
	xml_free(root);
	if (rc < 0) {
		/* Leave r as it was: all of a file or none of it. */
		while (r->ncases > saved.ncases)
			free_case(&r->cases[--r->ncases]);
		r->tests = saved.tests;
		r->failures = saved.failures;
		r->errors = saved.errors;
		r->skipped = saved.skipped;
		return -1;
	}
	r->files++;
	return 0;
}

int
junit_parse_file(const char *path, struct junit_result *r, struct err *e)
{
	size_t len;
	char *text;
	int rc;

	if (!(text = read_file(path, REPORT_MAX, &len, e)))
		return -1;
	rc = junit_parse_text(text, len, path, r, e);
	free(text);
	return rc;
}

void
junit_result_free(struct junit_result *r)
{
	size_t k;

	for (k = 0; k < r->ncases; k++)
		free_case(&r->cases[k]);
	free(r->cases);
	memset(r, 0, sizeof(*r));
}

/*
 * Coverage
 */

/* A warning about what a report held that was skipped; past the cap, one
 * that says more were left out. */
static void
cov_warn(struct coverage *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
cov_warn(struct coverage *c, const char *fmt, ...)
{
	size_t n = strv_len(c->warnings);
	va_list ap;
	char *msg;

	if (n > COV_WARNINGS_MAX)
		return;
	if (n == COV_WARNINGS_MAX) {
		c->warnings = strv_push(c->warnings, "more warnings left out");
		return;
	}
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	/* names from the file, cut at 64 bytes: keep the document UTF-8 */
	{
		struct buf b = BUF_INIT;

		buf_add_utf8_clean(&b, msg, strlen(msg));
		c->warnings = strv_push(c->warnings, buf_str(&b));
		buf_free(&b);
	}
	free(msg);
}

/* Is [p, q) blank (spaces, tabs, a CR)? */
static int
blank(const char *p, const char *q)
{
	while (p < q && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	return p == q;
}

/*
 * Captured output around a report (a tool's banner, make's "Entering
 * directory" lines): the lines before the first one that starts with
 * open, and after the last one that ends with close.  Returns a copy of
 * the text with those lines blanked (newlines kept, so that the places
 * the parsers name stay right), or NULL when there are none; warns once
 * for each end, naming the line of its first.
 */
static char *
blank_around(const char *text, size_t len, char open, char close, const char *what,
    const char *name, struct coverage *c)
{
	const char *end = text + len, *a, *z, *p, *nl, *bom;
	int before = 0, after = 0, first_after;
	char *t;

	/* a: the start of the first line whose first non-blank byte is open
	 * (after a byte order mark, which the XML reader skips) */
	a = text;
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		a += 3;
	bom = a;
	for (; a < end; a = nl + 1) {
		for (p = a; p < end && (*p == ' ' || *p == '\t' || *p == '\r'); p++)
			;
		if (p < end && *p == open)
			break;
		nl = memchr(a, '\n', (size_t)(end - a));
		if (!nl)
			nl = end;
		before += !blank(a, nl);
		if (nl == end) {
			a = end;
			break;
		}
	}
	/* z: the end of the last line whose last non-blank byte is close */
	for (z = end; z > a;) {
		for (p = z; p > a && isspace((unsigned char)p[-1]); p--)
			;
		if (p > a && p[-1] == close) {
			z = p;
			break;
		}
		/* p is at the end of a line of text (or a): skip that line */
		while (p > a && p[-1] != '\n')
			p--;
		after++;
		z = p;
	}
	/* No line opens a report: it is not one, and its parser says why. */
	if (a == end || (!before && !after))
		return NULL;
	t = xmalloc(len + 1);
	memcpy(t, text, len);
	t[len] = '\0';
	for (p = bom; p < a; p++)	/* the mark stays where the reader looks */
		if (*p != '\n')
			t[p - text] = ' ';
	for (p = z; p < end; p++)
		if (*p != '\n')
			t[p - text] = ' ';
	if (before)
		cov_warn(c, "%s:1: skipped %d line%s before the %s (not part of the report)",
		    name, before, before == 1 ? "" : "s", what);
	if (after) {
		first_after = 1;
		for (p = text; p < z; p++)
			first_after += *p == '\n';
		for (p = z; p < end && *p != '\n'; p++)
			;
		/* the first skipped line with text: after the one z ends */
		for (first_after++, p = p < end ? p + 1 : end; p < end; first_after++) {
			nl = memchr(p, '\n', (size_t)(end - p));
			if (!blank(p, nl ? nl : end))
				break;
			p = nl ? nl + 1 : end;
		}
		cov_warn(c, "%s:%d: skipped %d line%s after the %s (not part of the report)",
		    name, first_after, after, after == 1 ? "" : "s", what);
	}
	return t;
}

void
coverage_free(struct coverage *c)
{
	strv_free(c->warnings);
	memset(c, 0, sizeof(*c));
}

static double
pct(long long hit, long long total)
{
	return total > 0 ? 100.0 * (double)hit / (double)total : 100.0;
}

/* A non-negative decimal integer filling [s, s+n); saturates when sat is
 * set (gcov counters can be huge), else overflow is an error. */
static int
parse_nn(const char *s, size_t n, int sat, long long *out)
{
	long long v = 0;
	size_t k;

	if (n == 0)
		return -1;
	for (k = 0; k < n; k++) {
		int d = s[k] - '0';

		if (s[k] < '0' || s[k] > '9')
			return -1;
		if (v > (LLONG_MAX - d) / 10) {
			if (!sat)
				return -1;
			v = LLONG_MAX;
		} else
			v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Execution counts: lcov has seen negative ones from broken gcov data;
 * they mean "not executed", not a broken file. */
static int
parse_hits(const char *s, size_t n, long long *out)
{
	if (n > 1 && s[0] == '-') {
		if (parse_nn(s + 1, n - 1, 1, out) < 0)
			return -1;
		*out = 0;
		return 0;
	}
	return parse_nn(s, n, 1, out);
}

struct lrec {
	int open;
	long long lf, lh, brf, brh;
	int has_lf, has_lh, has_brf, has_brh;
	int lh_line, brh_line;
	long long da, da_hit, brda, brda_hit;
};

static int
lcov_close(struct lrec *rec, const char *name, struct coverage *c, int *branch_data,
    struct err *e)
{
	long long lt, lh, bt, bh;

	if (!rec->open)
		return 0;
	if (rec->has_lf && rec->has_lh) {
		if (rec->lh > rec->lf)
			return err_set(e, EX_USAGE_, "%s:%d: LH (%lld) is greater than LF (%lld)",
			    name, rec->lh_line, rec->lh, rec->lf);
		lt = rec->lf;
		lh = rec->lh;
	} else {
		lt = rec->da;
		lh = rec->da_hit;
	}
	if (rec->has_brf && rec->has_brh) {
		if (rec->brh > rec->brf)
			return err_set(e, EX_USAGE_, "%s:%d: BRH (%lld) is greater than BRF (%lld)",
			    name, rec->brh_line, rec->brh, rec->brf);
		bt = rec->brf;
		bh = rec->brh;
	} else {
		bt = rec->brda;
		bh = rec->brda_hit;
	}
	/* BRF:0 (c8 and nyc write it for every file) counts no branch */
	if (bt > 0)
		*branch_data = 1;
	if (lt > LLONG_MAX - c->lines_total || bt > LLONG_MAX - c->branches_total)
		return err_set(e, EX_USAGE_, "'%s': counts too large", name);
	c->lines_total += lt;
	c->lines_hit += lh;
	c->branches_total += bt;
	c->branches_hit += bh;
	memset(rec, 0, sizeof(*rec));
	return 0;
}

static int
lcov_parse(const char *text, size_t len, const char *name, struct coverage *c,
    struct err *e)
{
	struct lrec rec;
	const char *p = text, *end = text + len;
	int lineno = 0, records = 0, branch_data = 0, junk = 0, first_junk = 0;

	memset(&rec, 0, sizeof(rec));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *v, *comma, *last;
		size_t klen, vlen;
		long long a, b;

		lineno++;
		while (le > p && isspace((unsigned char)le[-1]))
			le--;
		if (memchr(p, '\0', (size_t)(le - p)))
			return err_set(e, EX_USAGE_, "%s:%d: NUL byte", name, lineno);
		if (le == p || ((size_t)(le - p) == 13 && memcmp(p, "end_of_record", 13) == 0)) {
			if (le != p && lcov_close(&rec, name, c, &branch_data, e) < 0)
				return -1;
			p = nl ? nl + 1 : end;
			continue;
		}
		for (klen = 0; p + klen < le && (isupper((unsigned char)p[klen]) || p[klen] == '_');
		    klen++)
			;
		if (klen == 0 || p + klen >= le || p[klen] != ':') {
			/* Captured output, not a record ("make: Entering ...":
			 * lcov's keys are capitals): skipped, and said once. */
			if (!junk++)
				first_junk = lineno;
			p = nl ? nl + 1 : end;
			continue;
		}
		v = p + klen + 1;
		vlen = (size_t)(le - v);
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(p, k, klen) == 0)
		if (KEY("SF")) {
			if (lcov_close(&rec, name, c, &branch_data, e) < 0)
				return -1;
			rec.open = 1;
			records++;
		} else if (KEY("DA") || KEY("LF") || KEY("LH") || KEY("BRDA") || KEY("BRF") ||
		    KEY("BRH")) {
			if (!rec.open)
				return err_set(e, EX_USAGE_,
				    "%s:%d: bad lcov line ('%.*s' before any 'SF:' line)",
				    name, lineno, (int)klen, p);
			if (KEY("DA")) {
				/* DA:<line>,<hits>[,<checksum>] */
				comma = memchr(v, ',', vlen);
				last = comma ? memchr(comma + 1, ',', (size_t)(le - comma - 1)) : NULL;
				if (!comma || parse_nn(v, (size_t)(comma - v), 0, &a) < 0 ||
				    parse_hits(comma + 1, (size_t)((last ? last : le) - comma - 1), &b) < 0)
					return err_set(e, EX_USAGE_,
					    "%s:%d: bad lcov line (expected 'DA:<line>,<hits>')",
					    name, lineno);
				rec.da++;
				if (b > 0)
					rec.da_hit++;
			} else if (KEY("BRDA")) {
				/* BRDA:<line>,<block>,<branch>,<taken>; lcov 2 lets
				 * block and branch be expressions, so only the ends
				 * are read */
				const char *q;
				int commas = 0;

				comma = memchr(v, ',', vlen);
				last = NULL;
				for (q = v; q < le; q++)
					if (*q == ',') {
						commas++;
						last = q;
					}
				if (commas < 3 || parse_nn(v, (size_t)(comma - v), 0, &a) < 0 ||
				    (!(le - last == 2 && last[1] == '-') &&
				    parse_hits(last + 1, (size_t)(le - last - 1), &b) < 0))
					return err_set(e, EX_USAGE_, "%s:%d: bad lcov line "
					    "(expected 'BRDA:<line>,<block>,<branch>,<taken>')",
					    name, lineno);
				if (le - last == 2 && last[1] == '-')
					b = 0;
				rec.brda++;
				if (b > 0)
					rec.brda_hit++;
			} else {
				if (parse_nn(v, vlen, 0, &a) < 0)
					return err_set(e, EX_USAGE_,
					    "%s:%d: bad lcov line (expected '%.*s:<count>')",
					    name, lineno, (int)klen, p);
				if (KEY("LF")) {
					rec.lf = a;
					rec.has_lf = 1;
				} else if (KEY("LH")) {
					rec.lh = a;
					rec.has_lh = 1;
					rec.lh_line = lineno;
				} else if (KEY("BRF")) {
					rec.brf = a;
					rec.has_brf = 1;
				} else {
					rec.brh = a;
					rec.has_brh = 1;
					rec.brh_line = lineno;
				}
			}
		}
		/* TN, FN, FNDA, FNF, FNH, FNL, FNA, VER, ...: not ours */
#undef KEY
		p = nl ? nl + 1 : end;
	}
	if (lcov_close(&rec, name, c, &branch_data, e) < 0)
		return -1;
	if (records == 0)
		return err_set(e, EX_USAGE_, "'%s': no coverage records", name);
	if (junk == 1)
		cov_warn(c, "%s:%d: skipped a line that is not an lcov record", name, first_junk);
	else if (junk)
		cov_warn(c, "%s:%d: skipped %d lines that are not lcov records, the first here",
		    name, first_junk, junk);
	c->lines_pct = pct(c->lines_hit, c->lines_total);
	c->branches_pct = branch_data ? pct(c->branches_hit, c->branches_total) : -1;
	return 0;
}

/* Integer attribute: 1 when present (in *v), 0 when absent, -1 when bad. */
static int
int_attr(const struct xml_node *n, const char *attr, const char *name, long long *v,
    struct err *e)
{
	const char *s = xml_attr(n, attr);

	if (!s)
		return 0;
	if (parse_nn(s, strlen(s), 0, v) < 0)
		return err_set(e, EX_USAGE_,
		    "%s:%d:%d: bad '%s' value '%.40s' (expected a non-negative integer)",
		    name, n->line, n->col, attr, s);
	return 1;
}

/* A rate in 0..1: 1 when present, 0 when absent, -1 when bad. */
static int
rate_attr(const struct xml_node *n, const char *attr, const char *name, double *v,
    struct err *e)
{
	const char *s = xml_attr(n, attr);
	char *end;

	if (!s)
		return 0;
	errno = 0;
	*v = strtod(s, &end);
	/* strtod alone would take " 0.5", "nan" and "0x1p-1" */
	if (end == s || *end || errno || strspn(s, "0123456789.eE+-") != strlen(s) ||
	    !(*v >= 0 && *v <= 1))
		return err_set(e, EX_USAGE_,
		    "%s:%d:%d: bad '%s' value '%.40s' (expected a number from 0 to 1)",
		    name, n->line, n->col, attr, s);
	return 1;
}

/*
 * Elements Cobertura's DTD does not have, named once each with the place
 * of the first (not descended into: what is below them is theirs).  The
 * reader bounds the depth of this recursion.
 */
static void
cobertura_unknown(const struct xml_node *n, const char *name, char ***seen,
    struct coverage *c)
{
	static const char *const known[] = {
		"coverage", "sources", "source", "packages", "package", "classes", "class",
		"methods", "method", "lines", "line", "conditions", "condition", NULL
	};
	const struct xml_node *k;
	size_t i;

	for (k = xml_child(n, NULL); k; k = xml_next(k, NULL)) {
		for (i = 0; known[i] && strcmp(k->name, known[i]); i++)
			;
		if (known[i]) {
			cobertura_unknown(k, name, seen, c);
			continue;
		}
		if (strv_len(c->warnings) > COV_WARNINGS_MAX)
			return;
		for (i = 0; *seen && (*seen)[i] && strcmp((*seen)[i], k->name); i++)
			;
		if (*seen && (*seen)[i])
			continue;
		*seen = strv_push(*seen, k->name);
		cov_warn(c, "%s:%d:%d: skipped the unknown element '%.64s'", name, k->line, k->col,
		    k->name);
	}
}

static int
cobertura_parse(const char *text, size_t len, const char *name, struct coverage *c,
    struct err *e)
{
	struct xml_node *root;
	long long lv = 0, lc = 0, bv = 0, bc = 0;
	double lr = 0, br = 0;
	int hlv, hlc, hbv, hbc, hlr, hbr, rc = -1;
	char *clean = blank_around(text, len, '<', '>', "XML", name, c), **seen = NULL;

	if (clean) {
		/* The XML declaration is no longer at the start: blank it too
		 * (it can only say UTF-8, which is what we read). */
		char *d = clean + strspn(clean, " \t\r\n"), *q;

		if (!strncmp(d, "<?xml", 5) && (q = strstr(d, "?>")) != NULL)
			for (q += 2; d < q; d++)
				if (*d != '\n')
					*d = ' ';
	}
	root = xml_parse(clean ? clean : text, len, name, e);
	free(clean);
	if (!root)
		return -1;
	if (strcmp(root->name, "coverage") != 0) {
		err_set(e, EX_USAGE_, "'%s': root element is '%s', not a Cobertura 'coverage'",
		    name, root->name);
		goto out;
	}
	/* Every attribute present must be sound, used or not. */
	if ((hlv = int_attr(root, "lines-valid", name, &lv, e)) < 0 ||
	    (hlc = int_attr(root, "lines-covered", name, &lc, e)) < 0 ||
	    (hbv = int_attr(root, "branches-valid", name, &bv, e)) < 0 ||
	    (hbc = int_attr(root, "branches-covered", name, &bc, e)) < 0 ||
	    (hlr = rate_attr(root, "line-rate", name, &lr, e)) < 0 ||
	    (hbr = rate_attr(root, "branch-rate", name, &br, e)) < 0)
		goto out;
	if (hlv && hlc) {
		if (lc > lv) {
			err_set(e, EX_USAGE_, "%s:%d:%d: 'lines-covered' (%lld) is greater than "
			    "'lines-valid' (%lld)", name, root->line, root->col, lc, lv);
			goto out;
		}
		c->lines_total = lv;
		c->lines_hit = lc;
		c->lines_pct = pct(lc, lv);
	} else if (hlr)
		c->lines_pct = 100.0 * lr;
	else {
		err_set(e, EX_USAGE_, "%s:%d:%d: 'coverage' has neither 'lines-valid' and "
		    "'lines-covered' nor 'line-rate'", name, root->line, root->col);
		goto out;
	}
	/* coverage.py writes branches-valid="0" branch-rate="0" when it did
	 * not measure branches: that is no data, not 0% */
	if (hbv && hbc) {
		if (bc > bv) {
			err_set(e, EX_USAGE_, "%s:%d:%d: 'branches-covered' (%lld) is greater than "
			    "'branches-valid' (%lld)", name, root->line, root->col, bc, bv);
			goto out;
		}
		c->branches_total = bv;
		c->branches_hit = bc;
		c->branches_pct = bv > 0 ? pct(bc, bv) : -1;
	} else if (hbr)
		c->branches_pct = 100.0 * br;
	else
		c->branches_pct = -1;
	cobertura_unknown(root, name, &seen, c);
	strv_free(seen);
	rc = 0;
out:
	xml_free(root);
	return rc;
}

/* Keys of obj not in known, named once each (the key path is prefix). */
static void
istanbul_unknown(const cJSON *obj, const char *const *known, const char *prefix,
    const char *name, struct coverage *c)
{
	const cJSON *it;
	size_t i;

	cJSON_ArrayForEach(it, obj) {
		for (i = 0; known[i] && strcmp(it->string, known[i]); i++)
			;
		if (!known[i])
			cov_warn(c, "'%s': %s.%.64s: skipped the unknown key", name, prefix, it->string);
	}
}

/* One of total.lines / total.branches: 1 when present, 0 when absent,
 * -1 when malformed. */
static int
istanbul_metric(const cJSON *total, const char *key, const char *name,
    long long *t, long long *h, struct err *e)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(total, key), *pc, *it;

	if (!m)
		return 0;
	if (!cJSON_IsObject(m))
		return err_set(e, EX_USAGE_, "'%s': total.%s: expected an object", name, key);
	it = cJSON_GetObjectItemCaseSensitive(m, "total");
	if (!(cJSON_IsNumber(it) || cJSON_IsRaw(it)) || json_get_i64(it, t) < 0 || *t < 0)
		return err_set(e, EX_USAGE_, "'%s': total.%s.total: expected a non-negative integer",
		    name, key);
	it = cJSON_GetObjectItemCaseSensitive(m, "covered");
	if (!(cJSON_IsNumber(it) || cJSON_IsRaw(it)) || json_get_i64(it, h) < 0 || *h < 0)
		return err_set(e, EX_USAGE_,
		    "'%s': total.%s.covered: expected a non-negative integer", name, key);
	if (*h > *t)
		return err_set(e, EX_USAGE_, "'%s': total.%s.covered (%lld) is greater than "
		    "total.%s.total (%lld)", name, key, *h, key, *t);
	/* The counts give the exact figure; pct (rounded, or "Unknown" when
	 * there is nothing to count) is only checked. */
	pc = cJSON_GetObjectItemCaseSensitive(m, "pct");
	if (!cJSON_IsNumber(pc) &&
	    !(cJSON_IsString(pc) && strcmp(pc->valuestring, "Unknown") == 0))
		return err_set(e, EX_USAGE_, "'%s': total.%s.pct: expected a number", name, key);
	return 1;
}

static int
istanbul_parse(const char *text, size_t len, const char *name, struct coverage *c,
    struct err *e)
{
	static const char *const metrics[] = {
		"lines", "statements", "functions", "branches", "branchesTrue", NULL
	};
	static const char *const counts[] = { "total", "covered", "skipped", "pct", NULL };
	struct json_opts o = { name, 0, 0 };
	const cJSON *total, *m;
	cJSON *root;
	int rc = -1, has;
	char *clean = blank_around(text, len, '{', '}', "JSON", name, c);

	root = json_parse(clean ? clean : text, len, &o, NULL, e);
	free(clean);
	if (!root)
		return -1;
	total = cJSON_GetObjectItemCaseSensitive(root, "total");
	if (!cJSON_IsObject(root))
		err_set(e, EX_USAGE_, "'%s': expected a JSON object", name);
	else if (!total && root->child && cJSON_IsObject(root->child) &&
	    cJSON_GetObjectItemCaseSensitive(root->child, "statementMap"))
		err_set(e, EX_USAGE_, "'%s': total: missing; this is Istanbul's coverage-final.json, "
		    "which is not supported: use the json-summary reporter's coverage-summary.json",
		    name);
	else if (!total)
		err_set(e, EX_USAGE_, "'%s': total: missing", name);
	else if (!cJSON_IsObject(total))
		err_set(e, EX_USAGE_, "'%s': total: expected an object", name);
	else if ((has = istanbul_metric(total, "lines", name, &c->lines_total,
	    &c->lines_hit, e)) < 0)
		;
	else if (!has)
		err_set(e, EX_USAGE_, "'%s': total.lines: missing", name);
	else if ((has = istanbul_metric(total, "branches", name, &c->branches_total,
	    &c->branches_hit, e)) >= 0) {
		c->lines_pct = pct(c->lines_hit, c->lines_total);
		/* total 0: nothing to count (pct "Unknown", or 100 in newer
		 * Istanbul), which is no data */
		c->branches_pct = has && c->branches_total > 0 ?
		    pct(c->branches_hit, c->branches_total) : -1;
		istanbul_unknown(total, metrics, "total", name, c);
		if ((m = cJSON_GetObjectItemCaseSensitive(total, "lines")) != NULL)
			istanbul_unknown(m, counts, "total.lines", name, c);
		if ((m = cJSON_GetObjectItemCaseSensitive(total, "branches")) != NULL)
			istanbul_unknown(m, counts, "total.branches", name, c);
		rc = 0;
	}
	cJSON_Delete(root);
	return rc;
}

int
coverage_parse_text(const char *text, size_t len, const char *name, int format,
    struct coverage *c, struct err *e)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->format = format;
	switch (format) {
	case COV_LCOV:
		rc = lcov_parse(text, len, name, c, e);
		break;
	case COV_COBERTURA:
		rc = cobertura_parse(text, len, name, c, e);
		break;
	case COV_ISTANBUL:
		rc = istanbul_parse(text, len, name, c, e);
		break;
	default:
		return err_set(e, EX_USAGE_, "'%s': unknown coverage format %d", name, format);
	}
	if (rc < 0) {
		coverage_free(c);
		c->format = format;
	}
	return rc;
}

int
coverage_parse_file(const char *path, int format, struct coverage *c, struct err *e)
{
	size_t len;
	char *text;
	int rc;

	if (!(text = read_file(path, REPORT_MAX, &len, e)))
		return -1;
	rc = coverage_parse_text(text, len, path, format, c, e);
	free(text);
	return rc;
}

/* In enum cov_format order. */
static const char *const format_names[] = { "lcov", "cobertura", "istanbul" };

int
coverage_format(const char *name)
{
	int k;

	for (k = 0; k < 3; k++)
		if (name && strcmp(name, format_names[k]) == 0)
			return k;
	return -1;
}

const char *
coverage_format_name(int format)
{
	return format >= 0 && format < 3 ? format_names[format] : "unknown";
}
