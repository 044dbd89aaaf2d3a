/*
 * smokeval: the values, variables and secrets of lib/smoke (see smoke.h).
 */
/* strptime(3) is XSI */
#define _XOPEN_SOURCE 700

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/encode.h"
#include "core/fsutil.h"
#include "net/http.h"
#include "core/json.h"
#include "smoke/smoke.h"

#define SHOW_MAX 200
#define VARS_FILE_MAX (1u << 20)

void
sval_free(struct sval *v)
{
	free(v->s);
	cJSON_Delete(v->j);
	memset(v, 0, sizeof(*v));
}

void
sval_copy(struct sval *dst, const struct sval *src)
{
	*dst = *src;
	if (src->s) {
		dst->s = xmalloc(src->len + 1);
		memcpy(dst->s, src->s, src->len);
		dst->s[src->len] = '\0';
	}
	if (src->j)
		dst->j = cJSON_Duplicate(src->j, 1);
}

/* Shortest text that reads back as d; always with a '.' or an exponent. */
static void
fmt_double(double d, char *out, size_t n)
{
	int prec;

	if (!isfinite(d)) {
		snprintf(out, n, "%s", isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
		return;
	}
	for (prec = 15; prec <= 17; prec++) {
		snprintf(out, n, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			break;
	}
	if (!strpbrk(out, ".e"))
		snprintf(out + strlen(out), n - strlen(out), ".0");
}

char *
sval_text(const struct sval *v)
{
	char num[64];

	switch (v->type) {
	case SV_NULL:
		return xstrdup("null");
	case SV_BOOL:
		return xstrdup(v->b ? "true" : "false");
	case SV_INT:
		return xasprintf("%lld", v->i);
	case SV_FLOAT:
		fmt_double(v->f, num, sizeof(num));
		return xstrdup(num);
	case SV_STRING:
	case SV_BYTES:
		return xstrndup(v->s ? v->s : "", v->len);
	case SV_LIST:
	case SV_OBJECT:
		return json_print(v->j);
	case SV_DATE: {
		char *t = sval_format_date(v->i, "%Y-%m-%dT%H:%M:%S%.fZ");

		return t ? t : xstrdup("");
	}
	default:
		return xstrdup("");
	}
}

/* s as a JSON string literal, at most max bytes of it. */
static char *
quote(const char *s, size_t len, size_t max)
{
	struct buf b = BUF_INIT;
	size_t i;

	buf_addc(&b, '"');
	for (i = 0; i < len && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			buf_addf(&b, "\\%c", c);
		else if (c == '\n')
			buf_adds(&b, "\\n");
		else if (c == '\t')
			buf_adds(&b, "\\t");
		else if (c == '\r')
			buf_adds(&b, "\\r");
		else if (c < 0x20 || c == 0x7f)
			buf_addf(&b, "\\u%04x", c);
		else
			buf_addc(&b, c);
	}
	buf_addc(&b, '"');
	if (len > max)
		buf_adds(&b, "...");
	return buf_detach(&b, NULL);
}

char *
sval_show(const struct sval *v)
{
	char *t;

	switch (v->type) {
	case SV_NONE:
		return xstrdup("none");
	case SV_STRING:
		return quote(v->s ? v->s : "", v->len, SHOW_MAX);
	case SV_BYTES: {
		struct buf b = BUF_INIT;
		size_t i;

		buf_adds(&b, "hex,");
		for (i = 0; i < v->len && i < 32; i++)
			buf_addf(&b, "%02x", (unsigned char)v->s[i]);
		buf_adds(&b, i < v->len ? "...;" : ";");
		if (v->len > 32)
			buf_addf(&b, " (%zu bytes)", v->len);
		return buf_detach(&b, NULL);
	}
	case SV_LIST:
	case SV_OBJECT:
		t = json_print(v->j);
		if (strlen(t) > SHOW_MAX) {
			t[SHOW_MAX] = '\0';
			t = xrealloc(t, SHOW_MAX + 4);
			memcpy(t + SHOW_MAX, "...", 4);
		}
		return t;
	default:
		return sval_text(v);
	}
}

/* "-?(0|[1-9][0-9]*)" and, with frac, "\.[0-9]+" after it: only forms that
 * read back to the same text are typed, so "007" stays a string. */
static int
canonical_number(const char *s, int frac)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (isdigit((unsigned char)*s))
			s++;
	else
		return 0;
	if (!frac)
		return *s == '\0';
	if (*s++ != '.' || !isdigit((unsigned char)*s))
		return 0;
	while (isdigit((unsigned char)*s))
		s++;
	return *s == '\0';
}

void
sval_from_text(struct sval *v, const char *text)
{
	memset(v, 0, sizeof(*v));
	if (!strcmp(text, "true") || !strcmp(text, "false")) {
		v->type = SV_BOOL;
		v->b = text[0] == 't';
		return;
	}
	if (!strcmp(text, "null")) {
		v->type = SV_NULL;
		return;
	}
	if (canonical_number(text, 0)) {
		errno = 0;
		v->i = strtoll(text, NULL, 10);
		if (!errno) {
			v->type = SV_INT;
			return;
		}
	}
	if (canonical_number(text, 1)) {
		v->type = SV_FLOAT;
		v->f = strtod(text, NULL);
		return;
	}
	v->type = SV_STRING;
	v->s = xstrdup(text);
	v->len = strlen(text);
}

/* ---- dates ---------------------------------------------------------- */

#define US 1000000LL

/* Digits of a fraction of a second at *pp (after its '.'): microseconds. */
static long long
fraction_us(const char **pp)
{
	const char *p = *pp;
	long long us = 0;
	int n = 0;

	while (isdigit((unsigned char)*p)) {
		if (n < 6)
			us = us * 10 + (*p - '0');
		n++;
		p++;
	}
	for (; n < 6; n++)
		us *= 10;
	*pp = p;
	return us;
}

/* n digits at *pp, as a number; -1 when they are not there. */
static int
digits(const char **pp, int n)
{
	int v = 0;

	for (; n > 0; n--, (*pp)++) {
		if (!isdigit((unsigned char)**pp))
			return -1;
		v = v * 10 + (**pp - '0');
	}
	return v;
}

/* RFC 3339 at *pp into tm, *frac and *off (seconds east of UTC). */
static int
parse_rfc3339_at(const char **pp, struct tm *tm, long long *frac, long *off)
{
	const char *p = *pp;
	int y, mo, d, h, mi, se;

	if ((y = digits(&p, 4)) < 0 || *p++ != '-' || (mo = digits(&p, 2)) < 0 || *p++ != '-' ||
	    (d = digits(&p, 2)) < 0 || (*p != 'T' && *p != 't' && *p != ' ') ||
	    (p++, (h = digits(&p, 2)) < 0) || *p++ != ':' || (mi = digits(&p, 2)) < 0 ||
	    *p++ != ':' || (se = digits(&p, 2)) < 0)
		return -1;
	/* timegm() would carry 2024-13-45 into 2025: refuse it */
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	tm->tm_year = y - 1900;
	tm->tm_mon = mo - 1;
	tm->tm_mday = d;
	tm->tm_hour = h;
	tm->tm_min = mi;
	tm->tm_sec = se;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		*frac = fraction_us(&p);
	}
	if (*p == 'Z' || *p == 'z') {
		*off = 0;
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om;

		p++;
		if ((oh = digits(&p, 2)) < 0 || *p++ != ':' || (om = digits(&p, 2)) < 0 ||
		    oh > 23 || om > 59)
			return -1;
		*off = sign * (oh * 3600L + om * 60L);
	} else {
		return -1;
	}
	*pp = p;
	return 0;
}

/* The end of the part of a date format at f that the C library knows:
 * the next "%+" or "%.", or the end. */
static const char *
plain_end(const char *f)
{
	for (; *f; f++)
		if (f[0] == '%' && (f[1] == '+' || f[1] == '.'))
			break;
		else if (f[0] == '%' && f[1])
			f++;
	return f;
}

int
sval_parse_date(const char *s, const char *fmt, long long *us)
{
	struct tm tm;
	const char *p = s, *f = fmt;
	long long frac = 0;
	long off = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = 1;
	while (*f) {
		const char *e;
		char *seg;

		if (!strncmp(f, "%+", 2)) {
			if (parse_rfc3339_at(&p, &tm, &frac, &off) < 0)
				return -1;
			f += 2;
			continue;
		}
		if (!strncmp(f, "%.f", 3) || !strncmp(f, "%.3f", 4) || !strncmp(f, "%.6f", 4) ||
		    !strncmp(f, "%.9f", 4)) {
			if (*p == '.') {
				p++;
				frac = fraction_us(&p);
			}
			f += f[2] == 'f' ? 3 : 4;
			continue;
		}
		/* the rest up to the next of those, for strptime(3) */
		e = plain_end(f);
		if (e == f)	/* a "%." that is none of the above */
			return -1;
		seg = xstrndup(f, (size_t)(e - f));
		tm.tm_gmtoff = 0;
		p = strptime(p, seg, &tm);
		free(seg);
		if (!p)
			return -1;
		if (tm.tm_gmtoff)
			off = tm.tm_gmtoff;
		f = e;
	}
	if (*p)
		return -1;
	t = timegm(&tm);
	if (t == (time_t)-1 && !(tm.tm_year == 69 && tm.tm_mon == 11 && tm.tm_mday == 31))
		return -1;
	/* "%s" takes any number: the microseconds must fit */
	if ((long long)t > LLONG_MAX / US - 86400 || (long long)t < LLONG_MIN / US + 86400)
		return -1;
	*us = ((long long)t - off) * US + frac;
	return 0;
}

char *
sval_format_date(long long us, const char *fmt)
{
	struct buf b = BUF_INIT;
	long long secs = us / US, frac = us % US;
	time_t t;
	struct tm tm;
	const char *f = fmt;

	if (frac < 0) {
		frac += US;
		secs--;
	}
	t = (time_t)secs;
	if (!gmtime_r(&t, &tm))
		return NULL;
	buf_init(&b, 1u << 16);
	while (*f) {
		const char *e;
		char out[512], *seg;
		size_t n;

		if (!strncmp(f, "%.3f", 4) || !strncmp(f, "%.6f", 4) || !strncmp(f, "%.9f", 4)) {
			/* a fixed number of digits, as chrono prints them */
			if (f[2] == '3')
				buf_addf(&b, ".%03lld", frac / 1000);
			else if (f[2] == '6')
				buf_addf(&b, ".%06lld", frac);
			else
				buf_addf(&b, ".%06lld000", frac);
			f += 4;
			continue;
		}
		if (!strncmp(f, "%+", 2) || !strncmp(f, "%.f", 3)) {
			if (f[1] == '+') {
				strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%S", &tm);
				buf_adds(&b, out);
			}
			/* as chrono does: no digits for a whole second, else 3 or 6 */
			if (frac % 1000 == 0 && frac)
				buf_addf(&b, ".%03lld", frac / 1000);
			else if (frac)
				buf_addf(&b, ".%06lld", frac);
			if (f[1] == '+')
				buf_adds(&b, "+00:00");
			f += f[1] == '+' ? 2 : 3;
			continue;
		}
		e = plain_end(f);
		if (e == f) {	/* a "%." that is none of the above */
			buf_free(&b);
			return NULL;
		}
		seg = xstrndup(f, (size_t)(e - f));
		/* strftime() returns 0 for an empty result too: a leading
		 * space tells the two apart */
		out[0] = '\0';
		{
			char *sp = xasprintf(" %s", seg);

			n = strftime(out, sizeof(out), sp, &tm);
			free(sp);
		}
		free(seg);
		if (!n) {
			buf_free(&b);
			return NULL;
		}
		buf_adds(&b, out + 1);
		f = e;
	}
	if (b.failed) {
		buf_free(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

/* ---- variables ------------------------------------------------------ */

static struct smoke_var *
find(const struct smoke_vars *vs, const char *name)
{
	size_t i;

	for (i = 0; i < vs->n; i++)
		if (!strcmp(vs->v[i].name, name))
			return &vs->v[i];
	return NULL;
}

void
smoke_vars_set(struct smoke_vars *vs, const char *name, const struct sval *v, const char *text)
{
	struct smoke_var *sv = find(vs, name);

	if (sv) {
		sval_free(&sv->v);
		free(sv->text);
	} else {
		if (vs->n == vs->alloc) {
			vs->alloc = vs->alloc ? 2 * vs->alloc : 16;
			vs->v = xrealloc(vs->v, vs->alloc * sizeof(*vs->v));
		}
		sv = &vs->v[vs->n++];
		sv->name = xstrdup(name);
	}
	sval_copy(&sv->v, v);
	sv->text = text ? xstrdup(text) : NULL;
}

void
smoke_vars_set_text(struct smoke_vars *vs, const char *name, const char *text)
{
	struct sval v;

	sval_from_text(&v, text);
	smoke_vars_set(vs, name, &v, text);
	sval_free(&v);
}

const struct smoke_var *
smoke_vars_get(const struct smoke_vars *vs, const char *name)
{
	return vs ? find(vs, name) : NULL;
}

void
smoke_vars_copy(struct smoke_vars *dst, const struct smoke_vars *src)
{
	size_t i;

	memset(dst, 0, sizeof(*dst));
	for (i = 0; src && i < src->n; i++)
		smoke_vars_set(dst, src->v[i].name, &src->v[i].v, src->v[i].text);
}

void
smoke_vars_free(struct smoke_vars *vs)
{
	size_t i;

	for (i = 0; i < vs->n; i++) {
		free(vs->v[i].name);
		sval_free(&vs->v[i].v);
		free_secret(vs->v[i].text);
	}
	free(vs->v);
	memset(vs, 0, sizeof(*vs));
}

static int
valid_name(const char *s, size_t n)
{
	size_t i;

	if (!n || n > 200)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

int
smoke_vars_parse(struct smoke_vars *vs, const char *arg, const char *where, struct err *e)
{
	const char *eq = strchr(arg, '=');
	char *name;

	if (!eq)
		return err_set(e, EX_USAGE_, "%s: expected NAME=VALUE", where);
	if (!valid_name(arg, (size_t)(eq - arg)))
		return err_set(e, EX_USAGE_, "%s: bad variable name '%.*s' (letters, digits, '_', '-')",
		    where, (int)(eq - arg > 100 ? 100 : eq - arg), arg);
	name = xstrndup(arg, (size_t)(eq - arg));
	smoke_vars_set_text(vs, name, eq + 1);
	free(name);
	return 0;
}

int
smoke_vars_load(struct smoke_vars *vs, const char *path, struct err *e)
{
	size_t len, ln = 0;
	char *text = read_file(path, VARS_FILE_MAX, &len, e), *line, *save = NULL;

	if (!text)
		return -1;
	if (memchr(text, '\0', len)) {
		free_secret(text);
		return err_set(e, EX_USAGE_, "%s: a NUL byte (not a text file?)", path);
	}
	/* strtok_r would merge empty lines and miscount them: split by hand. */
	for (line = text; line; line = save) {
		char *nl = strchr(line, '\n'), *s, *end, where[1100];

		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		ln++;
		if (!nl && !*line)
			break;
		for (s = line; *s == ' ' || *s == '\t'; s++)
			;
		end = s + strlen(s);
		while (end > s && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (!*s || *s == '#')
			continue;
		snprintf(where, sizeof(where), "%s:%zu", path, ln);
		if (smoke_vars_parse(vs, s, where, e) < 0) {
			free_secret(text);
			return -1;
		}
	}
	free_secret(text);
	return 0;
}

void
smoke_vars_from_env(struct smoke_vars *vs, char **envp)
{
	size_t i;
	int pass;

	/* HURL_VARIABLE_name (newer Hurl) wins over HURL_name. */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; envp && envp[i]; i++) {
			const char *s = envp[i], *eq = strchr(s, '=');
			const char *name;
			int var = !strncmp(s, "HURL_VARIABLE_", 14);
			char *n;

			if (!eq || strncmp(s, "HURL_", 5) != 0 || var != pass)
				continue;
			name = s + (var ? 14 : 5);
			if (!valid_name(name, (size_t)(eq - name)))
				continue;
			n = xstrndup(name, (size_t)(eq - name));
			smoke_vars_set_text(vs, n, eq + 1);
			free(n);
		}
}

/* ---- secrets -------------------------------------------------------- */

static void
secret_push(struct smoke_secrets *s, const char *v)
{
	size_t i;

	if (!*v)
		return;
	for (i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], v))
			return;
	s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
	s->v[s->n++] = xstrdup(v);
	/* Longest first, so that a secret inside another is not half-hidden. */
	for (i = s->n - 1; i > 0 && strlen(s->v[i]) > strlen(s->v[i - 1]); i--) {
		char *t = s->v[i];

		s->v[i] = s->v[i - 1];
		s->v[i - 1] = t;
	}
}

void
smoke_secret_add(struct smoke_secrets *s, const char *value)
{
	char *enc, *q;
	size_t n;

	if (!value || !*value)
		return;
	secret_push(s, value);
	enc = http_urlencode(value);
	secret_push(s, enc);
	/* libcurl's URL API writes its escapes in lowercase ("%2f"): that
	 * form is the same secret too. */
	if (strchr(enc, '%')) {
		char *p;

		for (p = enc; *p; p++)
			if (*p == '%' && p[1] && p[2]) {
				p[1] = (char)tolower((unsigned char)p[1]);
				p[2] = (char)tolower((unsigned char)p[2]);
			}
		secret_push(s, enc);
	}
	free_secret(enc);
	q = quote(value, strlen(value), (size_t)-1);
	n = strlen(q);
	q[n - 1] = '\0';	/* the body of the JSON string, without quotes */
	secret_push(s, q + 1);
	free_secret(q);
}

char *
smoke_redact(const struct smoke_secrets *s, const char *text)
{
	struct buf b = BUF_INIT;
	const char *p;
	char *t, *out;

	if (!text)
		return NULL;
	for (p = text; s && s->n && *p;) {
		size_t i, n = 0;

		for (i = 0; i < s->n; i++) {
			n = strlen(s->v[i]);
			if (!strncmp(p, s->v[i], n))
				break;
		}
		if (i < s->n) {
			buf_adds(&b, "***");
			p += n;
		} else {
			buf_addc(&b, *p++);
		}
	}
	buf_adds(&b, p);
	/* And the userinfo of a URL (a request's, one an answer quotes). */
	t = buf_detach(&b, NULL);
	out = url_redact(t);
	free_secret(t);
	return out;
}

void
smoke_secrets_free(struct smoke_secrets *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free_secret(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}
