/*
 * smoke: run Hurl entries with libcurl's multi interface and judge them
 * (see smoke.h for the design).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "core/buf.h"
#include "core/crypto-load.h"
#include "core/encode.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "core/size.h"
#include "core/timeutil.h"
#include "format/jsonpath.h"
#include "net/http.h"
#include "oci/oci.h"
#include "smoke/smoke.h"
#include "smoke/xml-load.h"

#define BODY_EXCERPT 1024
#define FILE_BODY_MAX (64u << 20)

enum { ST_START, ST_WAIT, ST_SEND, ST_XFER, ST_DONE };

struct run {
	const struct hurl_file *hf;
	struct smoke_file *fr;
	const struct smoke_opts *o;
	CURLM *multi;
	struct smoke_vars vars;
	size_t entry;
	int round;
	int attempt;
	int state;
	long long wake;
	int round_failed;
	long long t0;
	/* the current entry's settings */
	long long retry, interval, delay, max_time, connect_timeout, max_redirs;
	int location, insecure, skip, digest, compressed, http_version, ip_resolve;
	int location_trusted, path_as_is;
	char *user;		/* "user:password" of the option (a secret) */
	char *aws_sigv4, *output;
	struct curl_slist *opt_headers;	/* of "header" options */
	/* the current transfer */
	CURL *c;
	struct http_response resp;
	struct curl_slist *hdrs;
	curl_mime *mime;
	char *body;
	size_t bodylen;
	char *url;
	cJSON *json;		/* the response body, parsed on demand */
	char *json_err;
	int json_tried;
	long long duration_ms;
	/* A body past --max-body: resp.body keeps its start, the rest is
	 * counted and hashed as it streams (on_body). */
	int body_cut;
	long long body_total;		/* bytes of the whole body */
	struct sha256 body_hash;	/* of the whole body, once cut */
	char body_digest[OCI_DIGEST_SIZE];	/* the same, when the transfer ended */
	/* what libcurl knows of the transfer, read when it is done */
	char *ip;
	long version;		/* CURL_HTTP_VERSION_... */
	char *cert[5];		/* Subject, Issuer, Start date, Expire date, Serial Number */
};

/* The outcome of one attempt at an entry. */
struct attempt {
	struct smoke_assert *a;
	size_t na;
	char *error;
	char **captures;
	size_t ncaptures;
	int failed;
};

/* ---- checking variables before anything runs -------------------------- */

struct names {
	const char **v;
	size_t n;
};

static void
names_add(struct names *ns, const char *s)
{
	ns->v = xrealloc(ns->v, (ns->n + 1) * sizeof(*ns->v));
	ns->v[ns->n++] = s;
}

static int
names_has(const struct names *ns, const char *s)
{
	size_t i;

	for (i = 0; i < ns->n; i++)
		if (!strcmp(ns->v[i], s))
			return 1;
	return 0;
}

/* A file name that would leave the Hurl file's directory: absolute, or
 * with a ".." part. */
static int
file_escapes(const char *name)
{
	const char *p;

	if (name[0] == '/')
		return 1;
	for (p = name; *p; ) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
}

/* The files an entry reads (bodies, multipart parts, predicate values)
 * must stay under the Hurl file's directory, as the run checks. */
static int
check_files(const struct hurl_file *f, const struct hurl_entry *en, struct err *e)
{
	const struct hurl_str *names[3];
	size_t i, n = 0;

	if (en->req.body.kind == HB_FILE)
		names[n++] = &en->req.body.text;
	if (en->resp.body.kind == HB_FILE)
		names[n++] = &en->resp.body.text;
	for (i = 0; i < n; i++)
		if (!names[i]->has_tmpl && file_escapes(names[i]->s))
			goto bad;
	for (i = 0; i < en->req.nmultipart; i++)
		if (en->req.multipart[i].is_file && !en->req.multipart[i].value.has_tmpl &&
		    file_escapes(en->req.multipart[i].value.s)) {
			names[0] = &en->req.multipart[i].value;
			i = 0;
			goto bad;
		}
	for (i = 0; i < en->resp.nasserts; i++)
		if (en->resp.asserts[i].pred.v.kind == HV_FILE && !en->resp.asserts[i].pred.v.s.has_tmpl &&
		    file_escapes(en->resp.asserts[i].pred.v.s.s)) {
			names[0] = &en->resp.asserts[i].pred.v.s;
			i = 0;
			goto bad;
		}
	return 0;
bad:
	return err_set(e, EX_USAGE_, "%s:%d: file '%s': a file must stay under the Hurl file's "
	    "directory", f->path, names[i]->line, names[i]->s);
}

int
smoke_check(const struct hurl_file *f, const struct smoke_vars *vars, struct err *e)
{
	struct names ns = { NULL, 0 };
	size_t i, k;
	int rc = 0;

	for (i = 0; vars && i < vars->n; i++)
		names_add(&ns, vars->v[i].name);
	for (i = 0; i < f->nentries && rc == 0; i++) {
		const struct hurl_entry *en = &f->entries[i];
		int phase;

		if ((rc = check_files(f, en, e)) < 0)
			break;
		for (k = 0; k < en->req.noptions; k++)
			if (en->req.options[k].kind == HO_VARIABLE)
				names_add(&ns, en->req.options[k].var_name);
		for (phase = 0; phase < 2 && rc == 0; phase++) {
			if (phase == 1)
				for (k = 0; k < en->resp.ncaptures; k++)
					names_add(&ns, en->resp.captures[k].name);
			for (k = 0; k < en->nrefs; k++)
				if (en->refs[k].phase == phase && !names_has(&ns, en->refs[k].name) &&
				    hurl_function(en->refs[k].name) == HURL_FN_REFUSED) {
					rc = err_set(e, EX_USAGE_, "%s:%d: the '%s' function is not supported "
					    "by ci-smoke", f->path, en->refs[k].line, en->refs[k].name);
					break;
				} else if (en->refs[k].phase == phase && !names_has(&ns, en->refs[k].name) &&
				    hurl_function(en->refs[k].name) == HURL_FN_NONE) {
					rc = err_set(e, EX_USAGE_, "%s:%d: undefined variable '%s' "
					    "(give it with -v %s=VALUE, --variables-file, HURL_%s, or capture it)",
					    f->path, en->refs[k].line, en->refs[k].name, en->refs[k].name,
					    en->refs[k].name);
					break;
				}
		}
	}
	free(ns.v);
	return rc;
}

/* ---- templates ------------------------------------------------------ */

/*
 * The value of a built-in function (hurl_function() == HURL_FN_RUN), fresh
 * at each use: newUuid a random version 4 UUID, newDate the current time
 * in RFC 3339 (UTC, milliseconds).  NULL for any other name, or when no
 * random bytes could be had.
 */
static char *
function_text(const char *name)
{
	if (!strcmp(name, "newUuid")) {
		unsigned char u[16];

		if (random_bytes(u, sizeof(u)) < 0)
			return NULL;
		u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
		u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
		return xasprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		    "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
		    u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	}
	if (!strcmp(name, "newDate")) {
		char d[64];

		format_rfc3339_ms(now_ms(), d, sizeof(d));
		return xstrdup(d);
	}
	return NULL;
}

static void
json_escape_into(struct buf *b, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			buf_addf(b, "\\%c", c);
		else if (c == '\n')
			buf_adds(b, "\\n");
		else if (c == '\r')
			buf_adds(b, "\\r");
		else if (c == '\t')
			buf_adds(b, "\\t");
		else if (c < 0x20)
			buf_addf(b, "\\u%04x", c);
		else
			buf_addc(b, c);
	}
}

/*
 * Render hs with the run's variables into out.  In JSON mode a variable
 * inside a string is escaped for it, and outside one a string variable
 * becomes a JSON string while numbers, booleans, null, lists and objects
 * are written as JSON.  Returns 0, or -1 with *why (fresh) naming the
 * undefined variable and its line.
 */
static int
render(const struct run *r, const struct hurl_str *hs, int json, struct buf *out, char **why)
{
	const char *s = hs->s, *t, *end;
	char name[256];
	int in_str = 0, esc = 0;

	if (!hs->has_tmpl) {
		buf_adds(out, s ? s : "");
		return 0;
	}
	while ((t = hurl_next_template(s, name, sizeof(name), &end)) != NULL) {
		const struct smoke_var *v = smoke_vars_get(&r->vars, name);
		const char *c;
		char *text;

		for (c = s; c < t; c++) {
			if (json) {
				if (in_str) {
					if (esc)
						esc = 0;
					else if (*c == '\\')
						esc = 1;
					else if (*c == '"')
						in_str = 0;
				} else if (*c == '"') {
					in_str = 1;
				}
			}
			buf_addc(out, *c);
		}
		if (!v && (text = function_text(name)) != NULL) {
			if (json && !in_str)
				buf_addc(out, '"');
			buf_adds(out, text);
			if (json && !in_str)
				buf_addc(out, '"');
			free(text);
			s = end;
			continue;
		}
		if (!v) {
			int line = hs->line;

			for (c = hs->s; c < t; c++)
				line += *c == '\n';
			*why = xasprintf("%s:%d: undefined variable '%s'", r->hf->path, line, name);
			return -1;
		}
		text = v->text ? xstrdup(v->text) : sval_text(&v->v);
		if (json && in_str)
			json_escape_into(out, text, strlen(text));
		else if (json && (v->v.type == SV_STRING || v->v.type == SV_BYTES)) {
			buf_addc(out, '"');
			json_escape_into(out, text, strlen(text));
			buf_addc(out, '"');
		} else {
			buf_adds(out, text);
		}
		free_secret(text);
		s = end;
	}
	buf_adds(out, s);
	return 0;
}

/*
 * A ```graphql string as Hurl sends it: {"query":"..."} with the
 * rendered query, and "variables" (rendered as JSON) when it has them.
 */
static int
render_graphql(const struct run *r, const struct hurl_str *q, const struct hurl_str *vars,
    struct buf *out, char **why)
{
	struct buf t = BUF_INIT;

	buf_init(&t, 0);
	if (render(r, q, 0, &t, why) < 0) {
		buf_free(&t);
		return -1;
	}
	buf_adds(out, "{\"query\":\"");
	json_escape_into(out, t.data ? t.data : "", t.len);
	buf_addc(out, '"');
	buf_free(&t);
	if (vars->s) {
		struct err e2 = { 0, "" };
		struct json_opts jo = { "the graphql variables", 0, 0 };
		cJSON *j;
		char *text;

		buf_init(&t, 0);
		if (render(r, vars, 1, &t, why) < 0) {
			buf_free(&t);
			return -1;
		}
		j = json_parse(t.data ? t.data : "", t.len, &jo, NULL, &e2);
		buf_free(&t);
		if (!j) {
			*why = xasprintf("%s:%d: %s", r->hf->path, vars->line, e2.msg);
			return -1;
		}
		text = json_print(j);
		cJSON_Delete(j);
		buf_adds(out, ",\"variables\":");
		buf_adds(out, text);
		free(text);
	}
	buf_addc(out, '}');
	return 0;
}

/* render() into a fresh string, or NULL with *why. */
static char *
render_str(const struct run *r, const struct hurl_str *hs, char **why)
{
	struct buf b = BUF_INIT;

	if (render(r, hs, 0, &b, why) < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

/* ---- values from responses ------------------------------------------ */

/* The integer part of d; -1 when d is not a number or out of range, as
 * converting it would be undefined behaviour. */
static int
double_to_ll(double d, long long *out)
{
	/* -2^63 is a double exactly; 2^63 is the first one too big */
	if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
		return -1;
	*out = (long long)d;
	return 0;
}

static void
sval_from_json(struct sval *v, const cJSON *item)
{
	memset(v, 0, sizeof(*v));
	if (!item)
		return;
	if (cJSON_IsNull(item)) {
		v->type = SV_NULL;
	} else if (cJSON_IsBool(item)) {
		v->type = SV_BOOL;
		v->b = cJSON_IsTrue(item);
	} else if (cJSON_IsRaw(item)) {
		/* an integer too big for a double (lib/json) */
		long long ll;

		if (json_get_i64(item, &ll) == 0) {
			v->type = SV_INT;
			v->i = ll;
		} else {
			v->type = SV_FLOAT;
			v->f = strtod(item->valuestring, NULL);
		}
	} else if (cJSON_IsNumber(item)) {
		double d = item->valuedouble;

		if (d == floor(d) && fabs(d) < 9.2e18 && double_to_ll(d, &v->i) == 0) {
			v->type = SV_INT;
		} else {
			v->type = SV_FLOAT;
			v->f = d;
		}
	} else if (cJSON_IsString(item)) {
		v->type = SV_STRING;
		v->s = xstrdup(item->valuestring);
		v->len = strlen(v->s);
	} else if (cJSON_IsArray(item)) {
		v->type = SV_LIST;
		v->j = cJSON_Duplicate(item, 1);
	} else if (cJSON_IsObject(item)) {
		v->type = SV_OBJECT;
		v->j = cJSON_Duplicate(item, 1);
	}
}

static void
set_string(struct sval *v, const char *s, size_t len)
{
	memset(v, 0, sizeof(*v));
	v->type = SV_STRING;
	v->s = xmalloc(len + 1);
	memcpy(v->s, s, len);
	v->s[len] = '\0';
	v->len = len;
}

/* The nodes a jsonpath selects from root, as one value (definite path)
 * or as a list. */
static int
jsonpath_value(const struct jsonpath *jp, const cJSON *root, struct sval *out, char **why)
{
	const cJSON **nodes;
	size_t n, i;
	struct err e2 = { 0, "" };

	memset(out, 0, sizeof(*out));
	if (jsonpath_eval(jp, root, &nodes, &n, &e2) < 0) {
		*why = xstrdup(e2.msg);
		return -1;
	}
	if (jsonpath_definite(jp)) {
		if (n)
			sval_from_json(out, nodes[0]);
	} else {
		out->type = SV_LIST;
		out->nodeset = 1;
		out->j = cJSON_CreateArray();
		for (i = 0; i < n; i++)
			cJSON_AddItemToArray(out->j, cJSON_Duplicate(nodes[i], 1));
	}
	free(nodes);
	return 0;
}

static int
with_jsonpath(const struct run *r, const struct hurl_str *arg, const struct jsonpath *compiled,
    const cJSON *root, struct sval *out, char **why)
{
	struct jsonpath *jp = NULL;
	struct err e2 = { 0, "" };
	int rc;

	if (!compiled) {
		char *expr = render_str(r, arg, why);

		if (!expr)
			return -1;
		if (jsonpath_compile(expr, &jp, &e2) < 0) {
			*why = xstrdup(e2.msg);
			free(expr);
			return -1;
		}
		free(expr);
		compiled = jp;
	}
	rc = jsonpath_value(compiled, root, out, why);
	jsonpath_free(jp);
	return rc;
}

/* Match rx (or the rendered pattern) on s: the first group, or the match. */
static int
with_regex(const struct run *r, const struct hurl_str *arg, const struct hurl_regex *compiled,
    const char *s, struct sval *out, char **why)
{
	struct hurl_regex tmp;
	regmatch_t m[10];
	size_t g;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&tmp, 0, sizeof(tmp));
	if (!compiled->compiled) {
		char msg[256], *pat = render_str(r, arg, why);

		if (!pat)
			return -1;
		if (hurl_regex_compile(&tmp, pat, msg, sizeof(msg)) < 0) {
			*why = xasprintf("bad regex '%s': %s", pat, msg);
			free(pat);
			return -1;
		}
		free(pat);
		compiled = &tmp;
	}
	g = compiled->group < 10 ? compiled->group : 0;
	rc = regexec(&compiled->re, s, 10, m, 0);
	if (rc == 0 && m[g].rm_so >= 0)
		set_string(out, s + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
	hurl_regex_free(&tmp);
	return 0;
}

static const char *
body_text(const struct run *r)
{
	return r->resp.body.data ? r->resp.body.data : "";
}

/*
 * The body as it arrives: kept in resp.body up to its cap, for the
 * asserts; past the cap, counted and hashed (from its first byte) and
 * let go, so that a body of any size costs at most the cap in memory.
 */
static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct run *r = arg;
	size_t len = size * n, room = r->resp.body.cap_max - r->resp.body.len;

	if (!r->body_cut) {
		if (len <= room) {
			buf_add(&r->resp.body, data, len);
			r->body_total += (long long)len;
			return len;
		}
		r->body_cut = 1;
		sha256_init(&r->body_hash);
		sha256_update(&r->body_hash, body_text(r), r->resp.body.len);
		buf_add(&r->resp.body, data, room);
	}
	sha256_update(&r->body_hash, data, len);
	r->body_total += (long long)len;
	return len;
}

/* Why a query cannot look at a body that passed the cap. */
static char *
body_cut_why(const struct run *r)
{
	char cap[32], got[32];

	format_size((long long)r->resp.body.cap_max, cap, sizeof(cap));
	format_size(r->body_total, got, sizeof(got));
	return xasprintf("the body (%s, %s) passed the %s kept for asserts (--max-body SIZE "
	    "raises it); only 'bytes count' and 'sha256' look past it", got, r->body_digest, cap);
}

static const cJSON *
body_json(struct run *r, char **why)
{
	if (!r->json_tried) {
		struct err e2 = { 0, "" };
		struct json_opts jo = { "the response body", 0, 0 };

		r->json_tried = 1;
		r->json = json_parse(body_text(r), r->resp.body.len, &jo, NULL, &e2);
		/* Ours keeps big integers exact but refuses a repeated key, which
		 * servers do send: cJSON takes it (the first one wins). */
		if (!r->json)
			r->json = cJSON_ParseWithOpts(body_text(r), NULL, 1);
		if (!r->json)
			r->json_err = xstrdup(e2.msg);
	}
	if (!r->json) {
		*why = xasprintf("the body is not JSON: %s", r->json_err);
		return NULL;
	}
	return r->json;
}

/* The body is HTML (for xpath) when its Content-Type says so. */
static int
body_is_html(const struct run *r)
{
	const char *ct = http_header(&r->resp, "Content-Type");

	return ct && strstr(ct, "html") != NULL;
}

/* An HTTP date of a cookie's Expires: "Wed, 13 Jan 2021 22:23:01 GMT", or
 * with dashes. */
static int
cookie_date(const char *v, long long *us)
{
	return sval_parse_date(v, "%a, %d %b %Y %H:%M:%S GMT", us) == 0 ||
	    sval_parse_date(v, "%a, %d-%b-%Y %H:%M:%S GMT", us) == 0 ? 0 : -1;
}

/*
 * "name" or "name[Attribute]" of the response's Set-Cookie headers (the
 * last one of that name): the value, Expires (a date), Max-Age (an
 * integer), Domain, Path, SameSite; Secure and HttpOnly are true when set.
 */
static int
cookie_value(struct run *r, const char *arg, struct sval *out, char **why)
{
	const char *br = strchr(arg, '['), *found = NULL;
	char *name = br ? xstrndup(arg, (size_t)(br - arg)) : xstrdup(arg);
	char *attr = br ? xstrndup(br + 1, strlen(br + 1) - (arg[strlen(arg) - 1] == ']')) : NULL;
	size_t i, n = strlen(name);
	int rc = 0;

	for (i = 0; i < r->resp.nheaders; i++) {
		const char *v = r->resp.headers[i].value;

		if (!strcasecmp(r->resp.headers[i].name, "Set-Cookie") && !strncmp(v, name, n) &&
		    v[n] == '=')
			found = v;
	}
	if (!found)
		goto out;
	if (!attr || !strcmp(attr, "Value")) {
		size_t len = strcspn(found + n + 1, ";");

		set_string(out, found + n + 1, len);
		goto out;
	}
	{
		const char *p = strchr(found, ';');

		while (p) {
			const char *k, *ke, *ve, *v;

			p++;
			while (*p == ' ')
				p++;
			k = p;
			ve = p + strcspn(p, ";");
			ke = k + strcspn(k, "=;");
			v = *ke == '=' ? ke + 1 : NULL;
			while (ke > k && ke[-1] == ' ')
				ke--;
			if ((size_t)(ke - k) == strlen(attr) && !strncasecmp(k, attr, strlen(attr))) {
				char *val = v ? xstrndup(v, (size_t)(ve - v)) : NULL;

				if (!strcmp(attr, "Secure") || !strcmp(attr, "HttpOnly")) {
					out->type = SV_BOOL;
					out->b = 1;
				} else if (!val) {
					;
				} else if (!strcmp(attr, "Expires")) {
					long long us;

					if (cookie_date(val, &us) < 0) {
						*why = xasprintf("cookie '%s': bad Expires date '%s'", name, val);
						rc = -1;
					} else {
						out->type = SV_DATE;
						out->i = us;
					}
				} else if (!strcmp(attr, "Max-Age")) {
					char *end;

					errno = 0;
					out->i = strtoll(val, &end, 10);
					if (end == val || *end || errno) {
						*why = xasprintf("cookie '%s': bad Max-Age '%s'", name, val);
						rc = -1;
					} else {
						out->type = SV_INT;
					}
				} else {
					set_string(out, val, strlen(val));
				}
				free(val);
				break;
			}
			p = *ve ? ve : NULL;
		}
	}
out:
	free(name);
	free(attr);
	return rc;
}

static int
eval_query(struct run *r, const struct hurl_query *q, struct sval *out, char **why)
{
	char *arg = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	switch (q->kind) {
	case HQ_STATUS:
		out->type = SV_INT;
		out->i = r->resp.status;
		return 0;
	case HQ_URL:
		if (r->resp.effective_url)
			set_string(out, r->resp.effective_url, strlen(r->resp.effective_url));
		return 0;
	case HQ_DURATION:
		out->type = SV_INT;
		out->i = r->duration_ms;
		return 0;
	case HQ_BODY:
		set_string(out, body_text(r), r->resp.body.len);
		return 0;
	case HQ_BYTES:
		set_string(out, body_text(r), r->resp.body.len);
		out->type = SV_BYTES;
		return 0;
	case HQ_HEADER: {
		size_t i, n = 0;
		const char *last = NULL;

		if (!(arg = render_str(r, &q->arg, why)))
			return -1;
		for (i = 0; i < r->resp.nheaders; i++)
			if (!strcasecmp(r->resp.headers[i].name, arg)) {
				n++;
				last = r->resp.headers[i].value;
			}
		if (n == 1) {
			set_string(out, last, strlen(last));
		} else if (n > 1) {
			out->type = SV_LIST;
			out->j = cJSON_CreateArray();
			for (i = 0; i < r->resp.nheaders; i++)
				if (!strcasecmp(r->resp.headers[i].name, arg))
					cJSON_AddItemToArray(out->j,
					    cJSON_CreateString(r->resp.headers[i].value));
		}
		break;
	}
	case HQ_VARIABLE: {
		const struct smoke_var *v;

		if (!(arg = render_str(r, &q->arg, why)))
			return -1;
		if ((v = smoke_vars_get(&r->vars, arg)) != NULL)
			sval_copy(out, &v->v);
		break;
	}
	case HQ_JSONPATH: {
		const cJSON *root = body_json(r, why);

		if (!root)
			return -1;
		rc = with_jsonpath(r, &q->arg, q->jp, root, out, why);
		break;
	}
	case HQ_REGEX:
		rc = with_regex(r, &q->arg, &q->rx, body_text(r), out, why);
		break;
	case HQ_RAWBYTES:
		/* ci-smoke decodes nothing unless the "compressed" option asks
		 * libcurl to: the bytes received, then, are the body */
		if (r->compressed) {
			*why = xstrdup("rawbytes: not kept with the 'compressed' option "
			    "(libcurl decodes the body as it arrives)");
			return -1;
		}
		set_string(out, body_text(r), r->resp.body.len);
		out->type = SV_BYTES;
		return 0;
	case HQ_SHA256:
	case HQ_MD5: {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int n = 0;

		if (!EVP_Digest(body_text(r), r->resp.body.len, md, &n,
		    q->kind == HQ_SHA256 ? EVP_sha256() : EVP_md5(), NULL)) {
			*why = xstrdup("cannot compute the digest of the body");
			return -1;
		}
		set_string(out, (const char *)md, n);
		out->type = SV_BYTES;
		return 0;
	}
	case HQ_IP:
		if (r->ip && *r->ip)
			set_string(out, r->ip, strlen(r->ip));
		return 0;
	case HQ_VERSION: {
		const char *v = r->version == CURL_HTTP_VERSION_1_0 ? "1.0" :
		    r->version == CURL_HTTP_VERSION_1_1 ? "1.1" :
		    r->version == CURL_HTTP_VERSION_2_0 ? "2" :
		    r->version == CURL_HTTP_VERSION_3 ? "3" : NULL;

		if (v)
			set_string(out, v, strlen(v));
		return 0;
	}
	case HQ_REDIRECTS: {
		size_t i;

		out->type = SV_LIST;
		out->j = cJSON_CreateArray();
		for (i = 0; i < r->resp.nredirects; i++) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "location", r->resp.redirects[i]);
			cJSON_AddItemToArray(out->j, o);
		}
		return 0;
	}
	case HQ_CERTIFICATE: {
		static const char *const fields[] = {
			"Subject", "Issuer", "Start-Date", "Expire-Date", "Serial-Number"
		};
		size_t i;

		if (!(arg = render_str(r, &q->arg, why)))
			return -1;
		for (i = 0; i < 5; i++)
			if (!strcmp(arg, fields[i]))
				break;
		if (i == 5) {
			*why = xasprintf("certificate: unknown field '%s'", arg);
			rc = -1;
		} else if (r->cert[i] && (i == 2 || i == 3)) {
			long long us;

			if (sval_parse_date(r->cert[i], "%b %d %H:%M:%S %Y GMT", &us) == 0) {
				out->type = SV_DATE;
				out->i = us;
			}
		} else if (r->cert[i]) {
			set_string(out, r->cert[i], strlen(r->cert[i]));
		}
		break;
	}
	case HQ_COOKIE:
		if (!(arg = render_str(r, &q->arg, why)))
			return -1;
		rc = cookie_value(r, arg, out, why);
		break;
	case HQ_XPATH:
		if (!(arg = render_str(r, &q->arg, why)))
			return -1;
		rc = sval_xpath(body_text(r), r->resp.body.len, body_is_html(r), arg, out, why);
		break;
	}
	free(arg);
	return rc;
}

static const char *
type_name(int t)
{
	static const char *const names[] = {
		"none", "null", "a boolean", "an integer", "a float", "a string", "bytes",
		"a list", "an object", "a date"
	};

	return t >= 0 && t <= SV_DATE ? names[t] : "?";
}

static int bytes_like(const struct sval *v);

/* s is well-formed UTF-8. */
static int
utf8_valid(const char *s, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		if ((k = utf8_len(s + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

/* HTML character references decoded: the named ones of XML and a few
 * common others, and numeric ones (a ';' optional, as browsers do). */
static char *
html_unescape(const char *s, size_t *len)
{
	static const struct { const char *name; unsigned long cp; } names[] = {
		{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' },
		{ "nbsp", 0xa0 }, { "copy", 0xa9 }, { "reg", 0xae }, { "eacute", 0xe9 },
		{ "euro", 0x20ac },
	};
	struct buf b = BUF_INIT;

	while (*s) {
		size_t i;

		if (*s != '&') {
			buf_addc(&b, *s++);
			continue;
		}
		if (s[1] == '#') {
			const char *p = s + 2;
			int hex = *p == 'x' || *p == 'X';
			unsigned long cp = 0;
			int nd = 0;

			p += hex;
			while (hex ? isxdigit((unsigned char)*p) : isdigit((unsigned char)*p)) {
				cp = cp * (hex ? 16 : 10) + (unsigned long)(isdigit((unsigned char)*p) ?
				    *p - '0' : tolower((unsigned char)*p) - 'a' + 10);
				if (cp > 0x10ffff)
					break;
				p++;
				nd++;
			}
			if (nd && cp && cp <= 0x10ffff && !(cp >= 0xd800 && cp < 0xe000)) {
				buf_add_utf8(&b, cp);
				s = *p == ';' ? p + 1 : p;
				continue;
			}
		} else {
			for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
				size_t n = strlen(names[i].name);

				if (!strncmp(s + 1, names[i].name, n) && s[1 + n] == ';') {
					buf_add_utf8(&b, names[i].cp);
					s += n + 2;
					break;
				}
			}
			if (i < sizeof(names) / sizeof(names[0]))
				continue;
		}
		buf_addc(&b, *s++);
	}
	if (!b.data)
		buf_adds(&b, "");
	return buf_detach(&b, len);
}

/* Apply filter f to v in place.  -1 with *why on a type error. */
static int
eval_filter(struct run *r, const struct hurl_filter *f, struct sval *v, char **why)
{
	struct sval out;
	const char *name = hurl_filter_name(f->kind);

	if (v->type == SV_NONE)
		return 0;	/* nothing stays nothing */
	memset(&out, 0, sizeof(out));
	switch (f->kind) {
	case HF_COUNT:
		if (v->type == SV_LIST || v->type == SV_OBJECT)
			out.i = cJSON_GetArraySize(v->j);
		else if (v->type == SV_BYTES)
			out.i = (long long)v->len;
		else
			goto type;
		out.type = SV_INT;
		break;
	case HF_NTH: {
		long long n, k = f->n;

		if (v->type != SV_LIST)
			goto type;
		n = cJSON_GetArraySize(v->j);
		if (k < 0)
			k += n;
		if (k >= 0 && k < n)
			sval_from_json(&out, cJSON_GetArrayItem(v->j, (int)k));
		break;
	}
	case HF_REGEX:
		if (v->type != SV_STRING)
			goto type;
		if (with_regex(r, &f->arg, &f->rx, v->s, &out, why) < 0)
			return -1;
		break;
	case HF_TOINT:
		if (v->type == SV_INT) {
			return 0;
		} else if (v->type == SV_FLOAT) {
			if (double_to_ll(v->f, &out.i) < 0) {
				char *sh = sval_show(v);

				*why = xasprintf("toInt: %s does not fit a 64-bit integer", sh);
				free(sh);
				return -1;
			}
		} else if (v->type == SV_STRING) {
			char *end;

			errno = 0;
			out.i = strtoll(v->s, &end, 10);
			if (end == v->s || *end || errno) {
				char *sh = sval_show(v);

				*why = xasprintf("toInt: %s is not an integer", sh);
				free(sh);
				return -1;
			}
		} else {
			goto type;
		}
		out.type = SV_INT;
		break;
	case HF_TOFLOAT:
		if (v->type == SV_FLOAT) {
			return 0;
		} else if (v->type == SV_INT) {
			out.f = (double)v->i;
		} else if (v->type == SV_STRING) {
			char *end;

			errno = 0;
			out.f = strtod(v->s, &end);
			if (end == v->s || *end || errno) {
				char *sh = sval_show(v);

				*why = xasprintf("toFloat: %s is not a number", sh);
				free(sh);
				return -1;
			}
		} else {
			goto type;
		}
		out.type = SV_FLOAT;
		break;
	case HF_TOSTRING: {
		char *t = sval_text(v);

		set_string(&out, t, strlen(t));
		free(t);
		break;
	}
	case HF_SPLIT: {
		char *sep, *p, *q;

		if (v->type != SV_STRING)
			goto type;
		if (!(sep = render_str(r, &f->arg, why)))
			return -1;
		out.type = SV_LIST;
		out.j = cJSON_CreateArray();
		for (p = v->s; *sep && (q = strstr(p, sep)) != NULL; p = q + strlen(sep)) {
			char *part = xstrndup(p, (size_t)(q - p));

			cJSON_AddItemToArray(out.j, cJSON_CreateString(part));
			free(part);
		}
		cJSON_AddItemToArray(out.j, cJSON_CreateString(p));
		free(sep);
		break;
	}
	case HF_REPLACE: {
		struct buf b = BUF_INIT;
		char *old = NULL, *new;
		const char *p = v->s;

		if (v->type != SV_STRING)
			goto type;
		if (!(new = render_str(r, &f->arg2, why)))
			return -1;
		if (f->regex_literal) {
			struct hurl_regex tmp;
			const struct hurl_regex *rx = &f->rx;
			regmatch_t m;

			memset(&tmp, 0, sizeof(tmp));
			if (!rx->compiled) {
				char msg[256], *pat = render_str(r, &f->arg, why);

				if (!pat || hurl_regex_compile(&tmp, pat, msg, sizeof(msg)) < 0) {
					if (pat)
						*why = xasprintf("bad regex '%s': %s", pat, msg);
					free(pat);
					free(new);
					return -1;
				}
				free(pat);
				rx = &tmp;
			}
			/* REG_STARTEND: regexec() would take strlen() of the
			 * rest at each match, quadratic on a long body; its
			 * offsets are then from v->s, and '^' stays at the start. */
			size_t end = strlen(v->s);

			for (;;) {
				m.rm_so = (regoff_t)(p - v->s);
				m.rm_eo = (regoff_t)end;
				if (!*p || regexec(&rx->re, v->s, 1, &m, REG_STARTEND) != 0)
					break;
				buf_add(&b, p, (size_t)(v->s + m.rm_so - p));
				buf_adds(&b, new);
				if (v->s + m.rm_eo == p) {
					buf_addc(&b, *p);
					p++;
				} else {
					p = v->s + m.rm_eo;
				}
			}
			buf_adds(&b, p);
			hurl_regex_free(&tmp);
		} else {
			const char *q;
			size_t n;

			if (!(old = render_str(r, &f->arg, why))) {
				free(new);
				return -1;
			}
			n = strlen(old);
			while (n && (q = strstr(p, old)) != NULL) {
				buf_add(&b, p, (size_t)(q - p));
				buf_adds(&b, new);
				p = q + n;
			}
			buf_adds(&b, p);
		}
		out.type = SV_STRING;
		out.s = buf_detach(&b, &out.len);
		free(old);
		free(new);
		break;
	}
	case HF_JSONPATH: {
		cJSON *root = NULL;
		int rc;

		if (v->type == SV_STRING) {
			struct err e2 = { 0, "" };
			struct json_opts jo = { "the value", 0, 0 };

			if (!(root = json_parse(v->s, v->len, &jo, NULL, &e2))) {
				*why = xasprintf("jsonpath: %s", e2.msg);
				return -1;
			}
		} else if (v->type != SV_LIST && v->type != SV_OBJECT) {
			goto type;
		}
		rc = with_jsonpath(r, &f->arg, f->jp, root ? root : v->j, &out, why);
		cJSON_Delete(root);
		if (rc < 0)
			return -1;
		break;
	}
	case HF_URLDECODE: {
		char *dec;
		int n;

		if (v->type != SV_STRING)
			goto type;
		if (v->len > INT_MAX || !(dec = curl_easy_unescape(NULL, v->s, (int)v->len, &n))) {
			*why = xstrdup("urlDecode: the value is too long to decode");
			return -1;
		}
		set_string(&out, dec, (size_t)n);
		curl_free(dec);
		break;
	}
	case HF_URLENCODE: {
		char *enc;
		struct buf b = BUF_INIT;
		const char *p;

		if (v->type != SV_STRING)
			goto type;
		/* Hurl keeps '/' as it is */
		enc = http_urlencode(v->s);
		for (p = enc; *p; p++) {
			if (!strncmp(p, "%2F", 3)) {
				buf_addc(&b, '/');
				p += 2;
			} else {
				buf_addc(&b, *p);
			}
		}
		free(enc);
		out.type = SV_STRING;
		out.s = buf_detach(&b, &out.len);
		break;
	}
	case HF_B64DECODE:
	case HF_B64URLDECODE: {
		unsigned char *dec;
		size_t n;

		if (v->type != SV_STRING)
			goto type;
		if (b64_decode(v->s, v->len, f->kind == HF_B64DECODE ? B64_STD : B64_URL, &dec, &n) < 0) {
			*why = xasprintf("%s: the value is not base64", name);
			return -1;
		}
		set_string(&out, (const char *)dec, n);
		out.type = SV_BYTES;
		free(dec);
		break;
	}
	case HF_B64ENCODE:
	case HF_B64URLENCODE: {
		char *enc;

		if (!bytes_like(v))
			goto type;
		enc = f->kind == HF_B64ENCODE ? b64_encode(v->s, v->len, B64_STD, 1) :
		    b64_encode(v->s, v->len, B64_URL, 0);
		set_string(&out, enc, strlen(enc));
		free(enc);
		break;
	}
	case HF_TOHEX: {
		char *hex;

		if (v->type != SV_BYTES)
			goto type;
		hex = xmalloc(2 * v->len + 1);
		hex_encode(v->s, v->len, hex);
		set_string(&out, hex, 2 * v->len);
		free(hex);
		break;
	}
	case HF_UTF8ENCODE:
		if (v->type != SV_STRING)
			goto type;
		sval_copy(&out, v);
		out.type = SV_BYTES;
		break;
	case HF_UTF8DECODE:
	case HF_CHARSETDECODE: {
		char *cs = NULL;

		if (v->type != SV_BYTES)
			goto type;
		if (f->kind == HF_CHARSETDECODE && !(cs = render_str(r, &f->arg, why)))
			return -1;
		if (!cs || !strcasecmp(cs, "utf-8") || !strcasecmp(cs, "utf8")) {
			if (!utf8_valid(v->s, v->len)) {
				*why = xasprintf("%s: the bytes are not UTF-8", name);
				free(cs);
				return -1;
			}
			set_string(&out, v->s, v->len);
		} else if (!strcasecmp(cs, "iso-8859-1") || !strcasecmp(cs, "latin1") ||
		    !strcasecmp(cs, "us-ascii") || !strcasecmp(cs, "ascii")) {
			struct buf b = BUF_INIT;
			size_t i;

			for (i = 0; i < v->len; i++)
				buf_add_utf8(&b, (unsigned char)v->s[i]);
			out.type = SV_STRING;
			out.s = buf_detach(&b, &out.len);
		} else {
			*why = xasprintf("%s: the charset '%s' is not supported by ci-smoke "
			    "(utf-8, iso-8859-1, us-ascii)", name, cs);
			free(cs);
			return -1;
		}
		free(cs);
		break;
	}
	case HF_FIRST:
	case HF_LAST: {
		int n;

		if (v->type != SV_LIST)
			goto type;
		n = cJSON_GetArraySize(v->j);
		if (n)
			sval_from_json(&out, cJSON_GetArrayItem(v->j, f->kind == HF_FIRST ? 0 : n - 1));
		break;
	}
	case HF_LOCATION: {
		const cJSON *l;

		if (v->type != SV_OBJECT || !cJSON_IsString(l = cJSON_GetObjectItemCaseSensitive(v->j,
		    "location")))
			goto type;
		set_string(&out, l->valuestring, strlen(l->valuestring));
		break;
	}
	case HF_HTMLESCAPE: {
		struct buf b = BUF_INIT;
		size_t i;

		if (v->type != SV_STRING)
			goto type;
		for (i = 0; i < v->len; i++)
			switch (v->s[i]) {
			case '&': buf_adds(&b, "&amp;"); break;
			case '<': buf_adds(&b, "&lt;"); break;
			case '>': buf_adds(&b, "&gt;"); break;
			case '"': buf_adds(&b, "&quot;"); break;
			case '\'': buf_adds(&b, "&#x27;"); break;
			default: buf_addc(&b, v->s[i]);
			}
		out.type = SV_STRING;
		out.s = buf_detach(&b, &out.len);
		break;
	}
	case HF_HTMLUNESCAPE:
		if (v->type != SV_STRING)
			goto type;
		out.type = SV_STRING;
		out.s = html_unescape(v->s, &out.len);
		break;
	case HF_REPLACEREGEX: {
		struct hurl_filter rf = *f;

		/* replace with its pattern as a regex */
		rf.kind = HF_REPLACE;
		rf.regex_literal = 1;
		return eval_filter(r, &rf, v, why);
	}
	case HF_URLQUERYPARAM: {
		char *pn, *dec = NULL;
		const char *q;

		if (v->type != SV_STRING)
			goto type;
		if (!(pn = render_str(r, &f->arg, why)))
			return -1;
		for (q = strchr(v->s, '?'); q && *q; ) {
			const char *k = q + 1, *e = k + strcspn(k, "&#"), *eq = memchr(k, '=', (size_t)(e - k));
			char *key = xstrndup(k, (size_t)((eq ? eq : e) - k));
			int n = 0;
			char *kd = curl_easy_unescape(NULL, key, 0, &n);

			free(key);
			if (kd && !strcmp(kd, pn)) {
				const char *val = eq ? eq + 1 : e;
				char *raw = xstrndup(val, (size_t)(e - val)), *c;

				for (c = raw; *c; c++)
					if (*c == '+')
						*c = ' ';
				dec = curl_easy_unescape(NULL, raw, 0, &n);
				free(raw);
				if (dec)
					set_string(&out, dec, (size_t)n);
				curl_free(dec);
				curl_free(kd);
				break;
			}
			curl_free(kd);
			q = *e == '&' ? e : NULL;
		}
		free(pn);
		break;
	}
	case HF_TODATE: {
		char *fmt;

		if (v->type != SV_STRING)
			goto type;
		if (!(fmt = render_str(r, &f->arg, why)))
			return -1;
		if (sval_parse_date(v->s, fmt, &out.i) < 0) {
			char *sh = sval_show(v);

			*why = xasprintf("toDate: %s does not match the format \"%s\"", sh, fmt);
			free(sh);
			free(fmt);
			return -1;
		}
		free(fmt);
		out.type = SV_DATE;
		break;
	}
	case HF_DATEFORMAT: {
		char *fmt, *t;

		if (v->type != SV_DATE)
			goto type;
		if (!(fmt = render_str(r, &f->arg, why)))
			return -1;
		t = sval_format_date(v->i, fmt);
		if (!t) {
			*why = xasprintf("dateFormat: cannot format the date with \"%s\"", fmt);
			free(fmt);
			return -1;
		}
		set_string(&out, t, strlen(t));
		free(t);
		free(fmt);
		break;
	}
	case HF_DAYSAFTERNOW:
	case HF_DAYSBEFORENOW: {
		long long d = v->i / 1000000LL - now_ms() / 1000;

		if (v->type != SV_DATE)
			goto type;
		out.type = SV_INT;
		out.i = (f->kind == HF_DAYSAFTERNOW ? d : -d) / 86400;
		break;
	}
	case HF_XPATH: {
		char *expr;
		int rc;

		if (v->type != SV_STRING)
			goto type;
		if (!(expr = render_str(r, &f->arg, why)))
			return -1;
		rc = sval_xpath(v->s, v->len, 0, expr, &out, why);
		free(expr);
		if (rc < 0)
			return -1;
		break;
	}
	default:
		break;
	}
	sval_free(v);
	*v = out;
	return 0;
type:
	*why = xasprintf("the '%s' filter cannot take %s", name, type_name(v->type));
	return -1;
}

/* The query and its filters. */
static int
eval_chain(struct run *r, const struct hurl_query *q, const struct hurl_filter *fs, size_t nf,
    struct sval *out, char **why)
{
	size_t i = 0;

	if (r->body_cut && q->kind == HQ_SHA256 && r->body_digest[0]) {
		/* Past the cap the body is gone, but it was hashed whole as it
		 * streamed. */
		unsigned char *md;
		size_t n;

		if (hex_decode(r->body_digest + 7, strlen(r->body_digest + 7), &md, &n) < 0) {
			*why = xstrdup("cannot compute the digest of the body");
			return -1;
		}
		memset(out, 0, sizeof(*out));
		set_string(out, (const char *)md, n);
		out->type = SV_BYTES;
		free(md);
	} else if (r->body_cut && q->kind != HQ_STATUS && q->kind != HQ_URL &&
	    q->kind != HQ_HEADER && q->kind != HQ_VARIABLE && q->kind != HQ_DURATION &&
	    q->kind != HQ_COOKIE && q->kind != HQ_IP && q->kind != HQ_VERSION &&
	    q->kind != HQ_REDIRECTS && q->kind != HQ_CERTIFICATE) {
		/* Past the cap the body is gone: its length is all there is. */
		if (q->kind != HQ_BYTES || nf == 0 || fs[0].kind != HF_COUNT) {
			*why = body_cut_why(r);
			return -1;
		}
		memset(out, 0, sizeof(*out));
		out->type = SV_INT;
		out->i = r->body_total;
		i = 1;
	} else if (eval_query(r, q, out, why) < 0) {
		return -1;
	}
	for (; i < nf; i++)
		if (eval_filter(r, &fs[i], out, why) < 0) {
			sval_free(out);
			return -1;
		}
	return 0;
}

/* ---- predicates ----------------------------------------------------- */

static int
is_num(const struct sval *v)
{
	return v->type == SV_INT || v->type == SV_FLOAT;
}

static double
num(const struct sval *v)
{
	return v->type == SV_INT ? (double)v->i : v->f;
}

static int
eq(const struct sval *a, const struct sval *b)
{
	if (is_num(a) && is_num(b)) {
		if (a->type == SV_INT && b->type == SV_INT)
			return a->i == b->i;
		return num(a) == num(b);
	}
	/* strings and bytes compare by their bytes */
	if ((a->type == SV_STRING || a->type == SV_BYTES) && (b->type == SV_STRING || b->type == SV_BYTES))
		return a->len == b->len && !memcmp(a->s ? a->s : "", b->s ? b->s : "", a->len);
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case SV_NULL: return 1;
	case SV_BOOL: return a->b == b->b;
	case SV_DATE: return a->i == b->i;
	case SV_LIST:
	case SV_OBJECT: return cJSON_Compare(a->j, b->j, 1);
	default: return 0;
	}
}

/* -1, 0, 1, or 2 when a and b do not compare. */
static int
cmp(const struct sval *a, const struct sval *b)
{
	if (is_num(a) && is_num(b)) {
		if (a->type == SV_INT && b->type == SV_INT)
			return a->i < b->i ? -1 : a->i > b->i;
		return num(a) < num(b) ? -1 : num(a) > num(b);
	}
	if (a->type == SV_STRING && b->type == SV_STRING) {
		int c = strcmp(a->s, b->s);

		return c < 0 ? -1 : c > 0;
	}
	if (a->type == SV_DATE && b->type == SV_DATE)
		return a->i < b->i ? -1 : a->i > b->i;
	return 2;
}

static int
includes(const struct sval *list, const struct sval *x)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, list->j) {
		struct sval v;
		int same;

		sval_from_json(&v, it);
		same = eq(&v, x);
		sval_free(&v);
		if (same)
			return 1;
	}
	return 0;
}

static int
bytes_like(const struct sval *v)
{
	return v->type == SV_STRING || v->type == SV_BYTES;
}

static char *read_body_file(const struct run *r, const char *name, size_t *len, char **why);

/* The expected value of a predicate (rendered), and its text for reports. */
static int
expected_value(struct run *r, const struct hurl_pred *p, struct sval *ev, struct hurl_regex *rx,
    const struct hurl_regex **use_rx, char **why)
{
	memset(ev, 0, sizeof(*ev));
	*use_rx = NULL;
	switch (p->v.kind) {
	case HV_NULL: ev->type = SV_NULL; break;
	case HV_BOOL: ev->type = SV_BOOL; ev->b = p->v.b; break;
	case HV_INT: ev->type = SV_INT; ev->i = p->v.i; break;
	case HV_FLOAT: ev->type = SV_FLOAT; ev->f = p->v.f; break;
	case HV_BYTES:
		set_string(ev, (const char *)p->v.bytes, p->v.len);
		ev->type = SV_BYTES;
		break;
	case HV_EXPR: {
		const struct smoke_var *v = smoke_vars_get(&r->vars, p->v.s.s);
		char *text;

		if (!v && (text = function_text(p->v.s.s)) != NULL) {
			set_string(ev, text, strlen(text));
			free(text);
			break;
		}
		if (!v) {
			*why = xasprintf("%s:%d: undefined variable '%s'", r->hf->path, p->v.s.line, p->v.s.s);
			return -1;
		}
		sval_copy(ev, &v->v);
		break;
	}
	case HV_STRING:
	case HV_REGEX: {
		struct buf b = BUF_INIT;
		int rc = p->v.lang && !strcmp(p->v.lang, "graphql") ?
		    render_graphql(r, &p->v.s, &p->v.gvars, &b, why) : render(r, &p->v.s, 0, &b, why);

		if (rc < 0) {
			buf_free(&b);
			return -1;
		}
		set_string(ev, b.data ? b.data : "", b.len);
		buf_free(&b);
		break;
	}
	case HV_FILE: {
		char *name = render_str(r, &p->v.s, why), *data;
		size_t n;

		if (!name)
			return -1;
		data = read_body_file(r, name, &n, why);
		free(name);
		if (!data)
			return -1;
		set_string(ev, data, n);
		ev->type = SV_BYTES;
		free(data);
		break;
	}
	default:
		break;
	}
	if (p->kind == HP_MATCHES) {
		if (p->v.rx.compiled) {
			*use_rx = &p->v.rx;
		} else if (ev->type == SV_STRING) {
			char msg[256];

			if (hurl_regex_compile(rx, ev->s, msg, sizeof(msg)) < 0) {
				*why = xasprintf("bad regex '%s': %s", ev->s, msg);
				return -1;
			}
			*use_rx = rx;
		} else {
			*why = xasprintf("matches needs a pattern, not %s", type_name(ev->type));
			return -1;
		}
	}
	return 0;
}

static int
pred_true(int kind, const struct sval *a, const struct sval *ev, const struct hurl_regex *rx)
{
	int c;

	if (a->type == SV_NONE)
		return 0;
	switch (kind) {
	case HP_EXISTS:
		return !(a->nodeset && cJSON_GetArraySize(a->j) == 0);
	case HP_EQ:
		return eq(a, ev);
	case HP_NE:
		return !eq(a, ev);
	case HP_GT:
		return (c = cmp(a, ev)) == 1;
	case HP_GE:
		return (c = cmp(a, ev)) == 1 || c == 0;
	case HP_LT:
		return cmp(a, ev) == -1;
	case HP_LE:
		return (c = cmp(a, ev)) == -1 || c == 0;
	case HP_STARTS:
		return bytes_like(a) && bytes_like(ev) && a->len >= ev->len &&
		    !memcmp(a->s, ev->s, ev->len);
	case HP_ENDS:
		return bytes_like(a) && bytes_like(ev) && a->len >= ev->len &&
		    !memcmp(a->s + a->len - ev->len, ev->s, ev->len);
	case HP_CONTAINS:
		if (a->type == SV_LIST)
			return includes(a, ev);
		return bytes_like(a) && bytes_like(ev) && mem_find(a->s, a->len, ev->s, ev->len) != NULL;
	case HP_MATCHES:
		return a->type == SV_STRING && rx && regexec(&rx->re, a->s, 0, NULL, 0) == 0;
	case HP_INCLUDES:
		return a->type == SV_LIST && includes(a, ev);
	case HP_ISINT:
		return a->type == SV_INT;
	case HP_ISFLOAT:
		return a->type == SV_FLOAT;
	case HP_ISNUMBER:
		return is_num(a);
	case HP_ISSTRING:
		return a->type == SV_STRING;
	case HP_ISBOOL:
		return a->type == SV_BOOL;
	case HP_ISCOLL:
		return a->type == SV_LIST || a->type == SV_OBJECT;
	case HP_ISEMPTY:
		if (a->type == SV_LIST || a->type == SV_OBJECT)
			return cJSON_GetArraySize(a->j) == 0;
		return bytes_like(a) && a->len == 0;
	case HP_ISDATE:
		return a->type == SV_DATE;
	case HP_ISISODATE: {
		long long us;

		return a->type == SV_STRING && sval_parse_date(a->s, "%+", &us) == 0;
	}
	case HP_ISIPV4:
	case HP_ISIPV6: {
		unsigned char addr[16];

		return a->type == SV_STRING &&
		    inet_pton(kind == HP_ISIPV4 ? AF_INET : AF_INET6, a->s, addr) == 1;
	}
	case HP_ISUUID: {
		size_t i;

		if (a->type != SV_STRING || a->len != 36)
			return 0;
		for (i = 0; i < 36; i++)
			if (i == 8 || i == 13 || i == 18 || i == 23 ? a->s[i] != '-' :
			    !isxdigit((unsigned char)a->s[i]))
				return 0;
		return 1;
	}
	case HP_ISLIST:
		return a->type == SV_LIST;
	case HP_ISOBJECT:
		return a->type == SV_OBJECT;
	}
	return 0;
}

static char *
expected_text(const struct hurl_pred *p, const struct sval *ev)
{
	struct buf b = BUF_INIT;
	char *sh;

	if (p->negate)
		buf_adds(&b, "not ");
	buf_adds(&b, hurl_pred_name(p->kind));
	if (p->v.kind != HV_NONE) {
		if (p->v.kind == HV_REGEX) {
			buf_addf(&b, " /%s/", ev->s ? ev->s : "");
		} else {
			sh = sval_show(ev);
			buf_addf(&b, " %s", sh);
			free(sh);
		}
	}
	return buf_detach(&b, NULL);
}

/* ---- judging an attempt --------------------------------------------- */

/* An assert, named by its line of the file: redacted too, since a file
 * may spell out a secret ("Basic YWxp..." after a [BasicAuth]). */
static struct smoke_assert *
add_assert(struct run *r, struct attempt *at, int line, const char *text)
{
	struct smoke_assert *a;

	at->a = xrealloc(at->a, (at->na + 1) * sizeof(*at->a));
	a = &at->a[at->na++];
	memset(a, 0, sizeof(*a));
	a->line = line;
	a->text = smoke_redact(r->o->secrets, text);
	return a;
}

static void
fail_assert(struct run *r, struct attempt *at, struct smoke_assert *a, const char *msg)
{
	(void)r;
	a->passed = 0;
	at->failed = 1;
	if (msg && !a->message)
		a->message = xstrdup(msg);
}

static void
judge_status(struct run *r, const struct hurl_response *rs, struct attempt *at)
{
	char text[64], want[32];
	struct smoke_assert *a;

	if (rs->version) {
		long v = 0;
		const char *got = "HTTP/1.1";
		int ok;

		curl_easy_getinfo(r->c, CURLINFO_HTTP_VERSION, &v);
		got = v == CURL_HTTP_VERSION_1_0 ? "HTTP/1.0" : v == CURL_HTTP_VERSION_2_0 ? "HTTP/2" :
		    v == CURL_HTTP_VERSION_3 ? "HTTP/3" : "HTTP/1.1";
		snprintf(want, sizeof(want), "%s", rs->version == 10 ? "HTTP/1.0" : rs->version == 11 ?
		    "HTTP/1.1" : rs->version == 20 ? "HTTP/2" : rs->version == 30 ? "HTTP/3" : "HTTP/*");
		ok = rs->version == -1 || !strcmp(got, want);
		snprintf(text, sizeof(text), "%s", want);
		a = add_assert(r, at, rs->line, text);
		a->expected = xasprintf("== %s", want);
		a->actual = xstrdup(got);
		a->passed = ok;
		if (!ok)
			fail_assert(r, at, a, NULL);
	}
	if (rs->status >= 0) {
		snprintf(text, sizeof(text), "HTTP %d", rs->status);
		a = add_assert(r, at, rs->line, text);
		a->expected = xasprintf("== %d", rs->status);
		a->actual = xasprintf("%ld", r->resp.status);
		a->passed = r->resp.status == rs->status;
		if (!a->passed)
			fail_assert(r, at, a, NULL);
	}
}

static void
judge_headers(struct run *r, const struct hurl_response *rs, struct attempt *at)
{
	size_t i, k;

	for (i = 0; i < rs->nheaders; i++) {
		const struct hurl_kv *kv = &rs->headers[i];
		struct smoke_assert *a;
		char *why = NULL, *name, *want, *raw;
		struct buf got = BUF_INIT;
		int found = 0, match = 0;

		raw = xasprintf("%s: %s", kv->key.s, kv->value.s);
		a = add_assert(r, at, kv->line, raw);
		free(raw);
		name = render_str(r, &kv->key, &why);
		want = name ? render_str(r, &kv->value, &why) : NULL;
		if (!want) {
			a->expected = xstrdup("");
			a->actual = xstrdup("none");
			fail_assert(r, at, a, why);
			free(why);
			free(name);
			continue;
		}
		for (k = 0; k < r->resp.nheaders; k++)
			if (!strcasecmp(r->resp.headers[k].name, name)) {
				char *q = NULL;
				struct sval sv;

				set_string(&sv, r->resp.headers[k].value, strlen(r->resp.headers[k].value));
				q = sval_show(&sv);
				buf_addf(&got, "%s%s", found ? ", " : "", q);
				free(q);
				sval_free(&sv);
				found = 1;
				if (!strcmp(r->resp.headers[k].value, want))
					match = 1;
			}
		{
			struct sval ws;
			char *q;

			set_string(&ws, want, strlen(want));
			q = sval_show(&ws);
			raw = xasprintf("== %s", q);
			a->expected = smoke_redact(r->o->secrets, raw);
			free(raw);
			free(q);
			sval_free(&ws);
		}
		raw = found ? buf_detach(&got, NULL) : xstrdup("none");
		a->actual = smoke_redact(r->o->secrets, raw);
		free_secret(raw);
		buf_free(&got);
		a->passed = match;
		if (!match)
			fail_assert(r, at, a, found ? NULL : "no such header");
		free(name);
		free_secret(want);
	}
}

static void
judge_captures(struct run *r, const struct hurl_response *rs, struct attempt *at)
{
	size_t i;

	for (i = 0; i < rs->ncaptures; i++) {
		const struct hurl_capture *c = &rs->captures[i];
		struct sval v;
		char *why = NULL;

		if (eval_chain(r, &c->q, c->filters, c->nfilters, &v, &why) < 0 || v.type == SV_NONE) {
			struct smoke_assert *a = add_assert(r, at, c->line, c->text);
			char *msg = why ? xasprintf("capture '%s': %s", c->name, why) :
			    xasprintf("capture '%s': the query found nothing", c->name);

			a->expected = xstrdup("a value to capture");
			a->actual = xstrdup("none");
			fail_assert(r, at, a, NULL);
			a->message = smoke_redact(r->o->secrets, msg);
			free(msg);
			free(why);
			sval_free(&v);
			continue;
		}
		if (c->redact) {
			char *t = sval_text(&v);

			smoke_secret_add(r->o->secrets, t);
			free_secret(t);
		}
		smoke_vars_set(&r->vars, c->name, &v, NULL);
		at->captures = xrealloc(at->captures, (at->ncaptures + 1) * sizeof(char *));
		at->captures[at->ncaptures++] = xstrdup(c->name);
		sval_free(&v);
	}
}

static void
judge_asserts(struct run *r, const struct hurl_response *rs, struct attempt *at)
{
	size_t i;

	for (i = 0; i < rs->nasserts; i++) {
		const struct hurl_assert *as = &rs->asserts[i];
		struct smoke_assert *a = add_assert(r, at, as->line, as->text);
		struct sval v, ev;
		struct hurl_regex rx;
		const struct hurl_regex *use_rx = NULL;
		char *why = NULL, *t;
		int res;

		memset(&rx, 0, sizeof(rx));
		memset(&ev, 0, sizeof(ev));
		if (eval_chain(r, &as->q, as->filters, as->nfilters, &v, &why) < 0) {
			t = expected_text(&as->pred, &ev);
			a->expected = smoke_redact(r->o->secrets, t);
			free(t);
			a->actual = xstrdup("none");
			fail_assert(r, at, a, NULL);
			a->message = smoke_redact(r->o->secrets, why);
			free(why);
			continue;
		}
		if (expected_value(r, &as->pred, &ev, &rx, &use_rx, &why) < 0) {
			a->expected = xstrdup(hurl_pred_name(as->pred.kind));
			t = sval_show(&v);
			a->actual = smoke_redact(r->o->secrets, t);
			free_secret(t);
			fail_assert(r, at, a, NULL);
			a->message = smoke_redact(r->o->secrets, why);
			free(why);
			sval_free(&v);
			sval_free(&ev);
			hurl_regex_free(&rx);
			continue;
		}
		res = pred_true(as->pred.kind, &v, &ev, use_rx);
		if (as->pred.negate)
			res = !res;
		t = expected_text(&as->pred, &ev);
		a->expected = smoke_redact(r->o->secrets, t);
		free_secret(t);
		t = sval_show(&v);
		a->actual = smoke_redact(r->o->secrets, t);
		free_secret(t);
		a->passed = res;
		if (!res)
			fail_assert(r, at, a, NULL);
		sval_free(&v);
		sval_free(&ev);
		hurl_regex_free(&rx);
	}
}

/* Read a file body; name is relative to the Hurl file and stays under it. */
static char *
read_body_file(const struct run *r, const char *name, size_t *len, char **why)
{
	struct err e2 = { 0, "" };
	char *path, *data;

	if (file_escapes(name))
		goto escape;
	path = xasprintf("%s/%s", r->hf->dir, name);
	data = read_file(path, FILE_BODY_MAX, len, &e2);
	free(path);
	if (!data)
		*why = xstrdup(e2.msg);
	return data;
escape:
	*why = xasprintf("file '%s': a file body must stay under the Hurl file's directory", name);
	return NULL;
}

static void
judge_body(struct run *r, const struct hurl_response *rs, struct attempt *at)
{
	const struct hurl_body *b = &rs->body;
	struct smoke_assert *a;
	char *why = NULL, *want = NULL;
	size_t wantlen = 0;
	int ok = 0;

	if (b->kind == HB_NONE)
		return;
	/* named by what the file shows at that line */
	if (b->kind == HB_BYTES) {
		a = add_assert(r, at, b->line, "body (bytes)");
	} else if (b->kind == HB_FILE) {
		char *t = xasprintf("file,%s;", b->text.s);

		a = add_assert(r, at, b->line, t);
		free(t);
	} else if (b->text.s && b->kind != HB_TEXT) {
		size_t n = strcspn(b->text.s, "\n");
		char *t = xasprintf("%.*s%s", (int)(n > 60 ? 60 : n), b->text.s,
		    n > 60 || b->text.s[n] ? " ..." : "");

		a = add_assert(r, at, b->line, t);
		free(t);
	} else {
		a = add_assert(r, at, b->line, "body (the multiline string)");
	}
	if (r->body_cut) {
		/* Past the cap the body is gone: nothing to compare. */
		why = body_cut_why(r);
	} else if (b->kind == HB_BYTES) {
		want = xmalloc(b->len + 1);
		memcpy(want, b->bytes, b->len);
		want[b->len] = '\0';
		wantlen = b->len;
	} else if (b->kind == HB_FILE) {
		char *name = render_str(r, &b->text, &why);

		if (name)
			want = read_body_file(r, name, &wantlen, &why);
		free(name);
	} else {
		struct buf w = BUF_INIT;
		int rc2 = b->lang && !strcmp(b->lang, "graphql") ?
		    render_graphql(r, &b->text, &b->gvars, &w, &why) :
		    render(r, &b->text, b->kind == HB_JSON, &w, &why);

		if (rc2 == 0)
			want = buf_detach(&w, &wantlen);
		buf_free(&w);
	}
	if (!want) {
		a->expected = xstrdup("the body of the file");
		a->actual = xstrdup("none");
		fail_assert(r, at, a, NULL);
		a->message = smoke_redact(r->o->secrets, why);
		free(why);
		return;
	}
	if (b->kind == HB_JSON || (b->kind == HB_TEXT && b->lang && !strcmp(b->lang, "json"))) {
		struct err e2 = { 0, "" };
		struct json_opts jo = { "the expected body", 0, 0 };
		cJSON *wj = json_parse(want, wantlen, &jo, NULL, &e2);
		const cJSON *got = NULL;

		if (!wj)
			why = xstrdup(e2.msg);
		else
			got = body_json(r, &why);
		ok = wj && got && cJSON_Compare(wj, got, 1);
		cJSON_Delete(wj);
	} else {
		ok = r->resp.body.len == wantlen && !memcmp(body_text(r), want, wantlen);
	}
	{
		struct sval ws, gs;
		char *t;

		set_string(&ws, want, wantlen);
		set_string(&gs, body_text(r), r->resp.body.len);
		t = sval_show(&ws);
		a->expected = smoke_redact(r->o->secrets, t);
		free_secret(t);
		t = sval_show(&gs);
		a->actual = smoke_redact(r->o->secrets, t);
		free_secret(t);
		sval_free(&ws);
		sval_free(&gs);
	}
	a->passed = ok;
	if (!ok) {
		fail_assert(r, at, a, NULL);
		if (why)
			a->message = smoke_redact(r->o->secrets, why);
	}
	free(why);
	free_secret(want);
}

static void
attempt_free(struct attempt *at)
{
	size_t i;

	for (i = 0; i < at->na; i++) {
		free(at->a[i].text);
		free(at->a[i].expected);
		free(at->a[i].actual);
		free(at->a[i].message);
	}
	free(at->a);
	for (i = 0; i < at->ncaptures; i++)
		free(at->captures[i]);
	free(at->captures);
	free(at->error);
	memset(at, 0, sizeof(*at));
}

/* ---- the transfer --------------------------------------------------- */

static void
xfer_free(struct run *r)
{
	if (r->c) {
		curl_multi_remove_handle(r->multi, r->c);
		curl_easy_cleanup(r->c);
		r->c = NULL;
	}
	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
	curl_mime_free(r->mime);
	r->mime = NULL;
	free_secret(r->body);
	r->body = NULL;
	r->bodylen = 0;
	free_secret(r->url);
	r->url = NULL;
	http_response_free(&r->resp);
	{
		struct http_response fresh = HTTP_RESPONSE_INIT;

		r->resp = fresh;
	}
	cJSON_Delete(r->json);
	r->json = NULL;
	free(r->json_err);
	r->json_err = NULL;
	r->json_tried = 0;
	if (r->body_cut && !r->body_digest[0])
		sha256_final(&r->body_hash, r->body_digest);
	r->body_cut = 0;
	r->body_total = 0;
	r->body_digest[0] = '\0';
	{
		size_t i;

		free(r->ip);
		r->ip = NULL;
		r->version = 0;
		for (i = 0; i < 5; i++) {
			free(r->cert[i]);
			r->cert[i] = NULL;
		}
	}
}

static int
has_header(const struct curl_slist *h, const char *name)
{
	size_t n = strlen(name);

	for (; h; h = h->next)
		if (!strncasecmp(h->data, name, n) && (h->data[n] == ':' || h->data[n] == ';'))
			return 1;
	return 0;
}

/* "k=v", both URL-encoded (fresh: free_secret it). */
static char *
kv_pair(const char *k, const char *v)
{
	char *ek = http_urlencode(k), *ev = http_urlencode(v), *kv = xasprintf("%s=%s", ek, ev);

	free(ek);
	free_secret(ev);
	return kv;
}

/* The flags libcurl itself parses a transfer's URL with. */
#define URL_FLAGS (CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME | CURLU_PATH_AS_IS)

/*
 * What a request logs in with is a secret, whether or not --secret said
 * so: the password of a [BasicAuth] or of the URL's userinfo, and the
 * Basic header they make (an echo, a failed assert, may quote either).
 */
static void
login_secrets(struct smoke_secrets *s, const char *user, const char *password)
{
	char *pair, *b64;

	if (!s || !password || !*password)
		return;
	smoke_secret_add(s, password);
	pair = xasprintf("%s:%s", user ? user : "", password);
	b64 = b64_encode(pair, strlen(pair), B64_STD, 1);
	smoke_secret_add(s, b64);
	free_secret(b64);
	free_secret(pair);
}

static void
url_login_secrets(struct smoke_secrets *s, const char *url)
{
	CURLU *u = curl_url();
	char *user = NULL, *pw = NULL, *duser = NULL, *dpw = NULL;

	if (u && curl_url_set(u, CURLUPART_URL, url, URL_FLAGS) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PASSWORD, &pw, 0) == CURLUE_OK) {
		curl_url_get(u, CURLUPART_USER, &user, 0);
		/* As written, and as sent (decoded). */
		login_secrets(s, user, pw);
		curl_url_get(u, CURLUPART_USER, &duser, CURLU_URLDECODE);
		curl_url_get(u, CURLUPART_PASSWORD, &dpw, CURLU_URLDECODE);
		login_secrets(s, duser, dpw);
	}
	if (pw)
		memset(pw, 0, strlen(pw));
	if (dpw)
		memset(dpw, 0, strlen(dpw));
	curl_free(user);
	curl_free(pw);
	curl_free(duser);
	curl_free(dpw);
	curl_url_cleanup(u);
}

/*
 * Append the [Query] parameters to r->url.  curl's URL parser knows where
 * a query goes (before a fragment) and whether the URL has one already.
 */
static int
add_query(struct run *r, const struct hurl_request *rq, char **why)
{
	CURLU *u = curl_url();
	CURLUcode uc;
	char *k = NULL, *v = NULL, *kv, *out = NULL, *p;
	size_t i;
	int rc = -1;

	if (!u) {
		*why = xstrdup("cannot create a curl URL handle");
		return -1;
	}
	if ((uc = curl_url_set(u, CURLUPART_URL, r->url, URL_FLAGS)) != CURLUE_OK) {
		char *shown = smoke_redact(r->o->secrets, r->url);

		*why = xasprintf("%s:%d: bad URL '%s': %s", r->hf->path, rq->line, shown,
		    curl_url_strerror(uc));
		free(shown);
		goto out;
	}
	for (i = 0; i < rq->nquery; i++) {
		if (!(k = render_str(r, &rq->query[i].key, why)) ||
		    !(v = render_str(r, &rq->query[i].value, why)))
			goto out;
		kv = kv_pair(k, v);
		uc = curl_url_set(u, CURLUPART_QUERY, kv, CURLU_APPENDQUERY);
		free_secret(kv);
		free(k);
		free_secret(v);
		k = v = NULL;
		if (uc != CURLUE_OK) {
			*why = xasprintf("%s:%d: cannot add a query parameter: %s", r->hf->path,
			    rq->query[i].line, curl_url_strerror(uc));
			goto out;
		}
	}
	if ((uc = curl_url_get(u, CURLUPART_URL, &out, 0)) != CURLUE_OK) {
		*why = xasprintf("%s:%d: cannot build the URL: %s", r->hf->path, rq->line,
		    curl_url_strerror(uc));
		goto out;
	}
	free_secret(r->url);
	r->url = xstrdup(out);
	rc = 0;
out:
	for (p = out; p && *p; p++)
		*(volatile char *)p = '\0';	/* it may hold a secret */
	curl_free(out);
	free(k);
	free_secret(v);
	curl_url_cleanup(u);
	return rc;
}

/* Render the entry's request and hand it to the multi handle. */
static int
send_entry(struct run *r, char **why)
{
	const struct hurl_request *rq = &r->hf->entries[r->entry].req;
	struct smoke_entry *res = &r->fr->entries[r->entry];
	struct http_opts ho;
	struct buf url = BUF_INIT, b = BUF_INIT;
	char *k = NULL, *v = NULL;
	size_t i;
	int body_set = 0, json_ct = 0;

	memset(&ho, 0, sizeof(ho));
	ho.ca_file = r->o->ca_file;
	ho.insecure_tls = r->insecure;
	ho.connect_timeout_ms = r->connect_timeout;
	ho.max_time_ms = r->max_time;
	ho.follow = r->location;
	ho.body_max = (size_t)(r->o->max_body > 0 ? r->o->max_body : SMOKE_BODY_MAX);

	if (render(r, &rq->url, 0, &url, why) < 0)
		goto bad;
	r->url = buf_detach(&url, NULL);
	url_login_secrets(r->o->secrets, r->url);
	if (rq->nquery && add_query(r, rq, why) < 0)
		goto bad;
	free(res->url);
	res->url = smoke_redact(r->o->secrets, r->url);

	r->c = http_easy(&ho, &r->resp);
	if (r->c) {
		curl_easy_setopt(r->c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(r->c, CURLOPT_WRITEDATA, r);
	}
	if (!r->c) {
		*why = xstrdup("cannot create a curl handle");
		goto bad;
	}
	curl_easy_setopt(r->c, CURLOPT_URL, r->url);
	curl_easy_setopt(r->c, CURLOPT_PRIVATE, (void *)r);
	/* the certificate query reads the server's certificate */
	curl_easy_setopt(r->c, CURLOPT_CERTINFO, 1L);
	if (r->max_redirs != -2)
		curl_easy_setopt(r->c, CURLOPT_MAXREDIRS, (long)r->max_redirs);
	if (r->location_trusted)
		curl_easy_setopt(r->c, CURLOPT_UNRESTRICTED_AUTH, 1L);
	if (r->path_as_is)
		curl_easy_setopt(r->c, CURLOPT_PATH_AS_IS, 1L);
	if (r->compressed)
		curl_easy_setopt(r->c, CURLOPT_ACCEPT_ENCODING, "");
	if (r->http_version)
		curl_easy_setopt(r->c, CURLOPT_HTTP_VERSION, (long)r->http_version);
	if (r->ip_resolve)
		curl_easy_setopt(r->c, CURLOPT_IPRESOLVE, (long)r->ip_resolve);
	if (r->user) {
		curl_easy_setopt(r->c, CURLOPT_USERPWD, r->user);
		curl_easy_setopt(r->c, CURLOPT_HTTPAUTH, (long)(r->digest ? CURLAUTH_DIGEST :
		    r->aws_sigv4 ? CURLAUTH_AWS_SIGV4 : CURLAUTH_BASIC));
	}
	if (r->aws_sigv4)
		curl_easy_setopt(r->c, CURLOPT_AWS_SIGV4, r->aws_sigv4);
	{
		const struct curl_slist *h;

		for (h = r->opt_headers; h; h = h->next)
			r->hdrs = curl_slist_append(r->hdrs, h->data);
	}

	for (i = 0; i < rq->nheaders; i++) {
		char *line;

		if (!(k = render_str(r, &rq->headers[i].key, why)) ||
		    !(v = render_str(r, &rq->headers[i].value, why)))
			goto bad;
		line = *v ? xasprintf("%s: %s", k, v) : xasprintf("%s;", k);
		r->hdrs = curl_slist_append(r->hdrs, line);
		free_secret(line);
		free(k);
		free_secret(v);
		k = v = NULL;
	}
	if (rq->ncookies) {
		buf_init(&b, 0);
		buf_adds(&b, "Cookie: ");
		for (i = 0; i < rq->ncookies; i++) {
			if (!(k = render_str(r, &rq->cookies[i].key, why)) ||
			    !(v = render_str(r, &rq->cookies[i].value, why)))
				goto bad;
			buf_addf(&b, "%s%s=%s", i ? "; " : "", k, v);
			free(k);
			free_secret(v);
			k = v = NULL;
		}
		r->hdrs = curl_slist_append(r->hdrs, buf_str(&b));
		buf_free(&b);
	}
	if (rq->basic_auth) {
		if (!(k = render_str(r, &rq->basic_auth->key, why)) ||
		    !(v = render_str(r, &rq->basic_auth->value, why)))
			goto bad;
		curl_easy_setopt(r->c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(r->c, CURLOPT_USERNAME, k);
		curl_easy_setopt(r->c, CURLOPT_PASSWORD, v);
		login_secrets(r->o->secrets, k, v);
		free(k);
		free_secret(v);
		k = v = NULL;
	}

	/* the body */
	switch (rq->body.kind) {
	case HB_JSON:
	case HB_XML:
	case HB_TEXT:
		buf_init(&b, 0);
		if (rq->body.lang && !strcmp(rq->body.lang, "graphql")) {
			if (render_graphql(r, &rq->body.text, &rq->body.gvars, &b, why) < 0)
				goto bad;
		} else if (render(r, &rq->body.text, rq->body.kind == HB_JSON ||
		    (rq->body.lang && !strcmp(rq->body.lang, "json")), &b, why) < 0) {
			goto bad;
		}
		r->body = buf_detach(&b, &r->bodylen);
		json_ct = rq->body.kind == HB_JSON || (rq->body.lang && (!strcmp(rq->body.lang, "json") ||
		    !strcmp(rq->body.lang, "graphql")));
		body_set = 1;
		break;
	case HB_BYTES:
		r->body = xmalloc(rq->body.len + 1);
		memcpy(r->body, rq->body.bytes, rq->body.len);
		r->body[rq->body.len] = '\0';
		r->bodylen = rq->body.len;
		body_set = 1;
		break;
	case HB_FILE: {
		char *name = render_str(r, &rq->body.text, why);

		if (!name)
			goto bad;
		r->body = read_body_file(r, name, &r->bodylen, why);
		free(name);
		if (!r->body)
			goto bad;
		body_set = 1;
		break;
	}
	default:
		if (rq->nform) {
			buf_init(&b, 0);
			for (i = 0; i < rq->nform; i++) {
				char *kv;

				if (!(k = render_str(r, &rq->form[i].key, why)) ||
				    !(v = render_str(r, &rq->form[i].value, why)))
					goto bad;
				if (i)
					buf_addc(&b, '&');
				kv = kv_pair(k, v);
				buf_adds(&b, kv);
				free_secret(kv);
				free(k);
				free_secret(v);
				k = v = NULL;
			}
			r->body = buf_detach(&b, &r->bodylen);
			body_set = 2;	/* curl's form content type is right */
		} else if (rq->nmultipart) {
			r->mime = curl_mime_init(r->c);
			for (i = 0; i < rq->nmultipart; i++) {
				const struct hurl_kv *kv = &rq->multipart[i];
				curl_mimepart *part = curl_mime_addpart(r->mime);

				if (!(k = render_str(r, &kv->key, why)) || !(v = render_str(r, &kv->value, why)))
					goto bad;
				curl_mime_name(part, k);
				if (kv->is_file) {
					size_t n;
					char *data = read_body_file(r, v, &n, why);
					const char *base = strrchr(v, '/');

					if (!data)
						goto bad;
					curl_mime_data(part, data, n);
					curl_mime_filename(part, base ? base + 1 : v);
					curl_mime_type(part, kv->content_type ? kv->content_type :
					    "application/octet-stream");
					free(data);
				} else {
					curl_mime_data(part, v, CURL_ZERO_TERMINATED);
				}
				free(k);
				free_secret(v);
				k = v = NULL;
			}
			curl_easy_setopt(r->c, CURLOPT_MIMEPOST, r->mime);
		}
		break;
	}
	if (body_set == 1 && !has_header(r->hdrs, "Content-Type"))
		r->hdrs = curl_slist_append(r->hdrs, json_ct ? "Content-Type: application/json" :
		    "Content-Type:");
	/* no 100-continue round trip for bodies over 1 KiB */
	r->hdrs = curl_slist_append(r->hdrs, "Expect:");
	curl_easy_setopt(r->c, CURLOPT_HTTPHEADER, r->hdrs);

	if (!strcmp(rq->method, "HEAD")) {
		curl_easy_setopt(r->c, CURLOPT_NOBODY, 1L);
	} else if (r->mime) {
		if (strcmp(rq->method, "POST") != 0)
			curl_easy_setopt(r->c, CURLOPT_CUSTOMREQUEST, rq->method);
	} else if (body_set) {
		curl_easy_setopt(r->c, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(r->c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->bodylen);
		if (strcmp(rq->method, "POST") != 0)
			curl_easy_setopt(r->c, CURLOPT_CUSTOMREQUEST, rq->method);
	} else if (!strcmp(rq->method, "POST")) {
		curl_easy_setopt(r->c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(r->c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	} else if (strcmp(rq->method, "GET") != 0) {
		curl_easy_setopt(r->c, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	if (curl_multi_add_handle(r->multi, r->c) != CURLM_OK) {
		*why = xstrdup("cannot add the transfer to the curl multi handle");
		goto bad;
	}
	return 0;
bad:
	free(k);
	free_secret(v);
	buf_free(&url);
	buf_free(&b);
	xfer_free(r);
	return -1;
}

/* ---- results -------------------------------------------------------- */

static void
entry_details_free(struct smoke_entry *en)
{
	size_t i;

	for (i = 0; i < en->nasserts; i++) {
		free(en->asserts[i].text);
		free(en->asserts[i].expected);
		free(en->asserts[i].actual);
		free(en->asserts[i].message);
	}
	free(en->asserts);
	en->asserts = NULL;
	en->nasserts = 0;
	for (i = 0; i < en->ncaptures; i++)
		free(en->captures[i]);
	free(en->captures);
	en->captures = NULL;
	en->ncaptures = 0;
	free(en->error);
	en->error = NULL;
	free(en->reason);
	en->reason = NULL;
	free(en->body);
	en->body = NULL;
}

/* The first 1 KiB of the body, printable, redacted. */
static char *
body_excerpt(const struct run *r)
{
	size_t n = r->resp.body.len < BODY_EXCERPT ? r->resp.body.len : BODY_EXCERPT, i;
	char *raw = xmalloc(n + 1), *out;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)body_text(r)[i];

		raw[i] = (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? '.' : (char)c;
	}
	raw[n] = '\0';
	out = smoke_redact(r->o->secrets, raw);
	free_secret(raw);
	return out;
}

/* Keep this round's outcome in the entry's result. */
static void
record(struct run *r, struct attempt *at, long http_status)
{
	struct smoke_entry *en = &r->fr->entries[r->entry];
	size_t i;

	en->rounds++;
	if (http_status > 0) {
		en->durations = xrealloc(en->durations, (en->ndurations + 1) * sizeof(long long));
		en->durations[en->ndurations++] = r->duration_ms;
	}
	/* The details of the first failing round, or of the last round. */
	if (en->failures == 0) {
		entry_details_free(en);
		en->http_status = http_status;
		en->duration_ms = r->duration_ms;
		en->attempts = r->attempt;
		en->asserts = at->a;
		en->nasserts = at->na;
		en->captures = at->captures;
		en->ncaptures = at->ncaptures;
		en->error = at->error;
		at->a = NULL;
		at->na = 0;
		at->captures = NULL;
		at->ncaptures = 0;
		at->error = NULL;
		if (at->failed) {
			if (en->error) {
				en->reason = xstrdup(en->error);
			} else {
				for (i = 0; i < en->nasserts; i++)
					if (!en->asserts[i].passed)
						break;
				if (i < en->nasserts) {
					const struct smoke_assert *a = &en->asserts[i];

					en->reason = a->message ?
					    xasprintf("%s:%d: %s: %s", r->hf->path, a->line, a->text, a->message) :
					    xasprintf("%s:%d: %s: expected %s, got %s", r->hf->path, a->line,
						a->text, a->expected, a->actual);
				}
			}
			if (http_status > 0)
				en->body = body_excerpt(r);
		}
	}
	en->last_failed = at->failed;
	if (at->failed) {
		en->failures++;
		en->status = SM_FAILED;
		r->round_failed = 1;
	} else if (en->status != SM_FAILED) {
		en->status = SM_PASSED;
	}
	attempt_free(at);
	if (r->o->on_entry)
		r->o->on_entry(r->fr, r->entry, r->o->arg);
}

/* An entry that could not be sent (a variable, a file, an option). */
static void
record_error(struct run *r, char *why)
{
	struct attempt at;

	memset(&at, 0, sizeof(at));
	at.failed = 1;
	at.error = smoke_redact(r->o->secrets, why);
	free(why);
	r->duration_ms = 0;
	record(r, &at, 0);
}

/* The response arrived (or the transfer failed): judge it, then retry or
 * go on. */
/* What the queries ip, version and certificate read, while the handle lives. */
static void
transfer_info(struct run *r)
{
	static const char *const keys[] = {
		"Subject:", "Issuer:", "Start date:", "Expire date:", "Serial Number:"
	};
	struct curl_certinfo *ci = NULL;
	char *ip = NULL;
	long v = 0;
	size_t k;

	if (curl_easy_getinfo(r->c, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip)
		r->ip = xstrdup(ip);
	if (curl_easy_getinfo(r->c, CURLINFO_HTTP_VERSION, &v) == CURLE_OK)
		r->version = v;
	/* the server's certificate is the first of the chain */
	if (curl_easy_getinfo(r->c, CURLINFO_CERTINFO, &ci) == CURLE_OK && ci && ci->num_of_certs > 0) {
		struct curl_slist *l;

		for (l = ci->certinfo[0]; l; l = l->next)
			for (k = 0; k < 5; k++)
				if (!strncmp(l->data, keys[k], strlen(keys[k])) && !r->cert[k])
					r->cert[k] = xstrdup(l->data + strlen(keys[k]));
	}
}

/* The "output" option: the response body to a file (a failure to write,
 * or a body past --max-body, fails the entry). */
static void
write_output(struct run *r, struct attempt *at)
{
	struct err e2 = { 0, "" };
	char *why = NULL;

	/* a body past --max-body is only counted: half a file is no output */
	if (r->body_cut)
		why = body_cut_why(r);
	else if (atomic_write(r->output, body_text(r), r->resp.body.len, 0644, &e2) < 0)
		why = xstrdup(e2.msg);
	if (why) {
		struct smoke_assert *a = add_assert(r, at, r->hf->entries[r->entry].req.line,
		    "output");

		a->expected = xasprintf("the body written to '%s'", r->output);
		a->actual = xstrdup("none");
		fail_assert(r, at, a, NULL);
		a->message = smoke_redact(r->o->secrets, why);
		free(why);
	}
}

static void
judge(struct run *r, CURLcode rc)
{
	const struct hurl_entry *en = &r->hf->entries[r->entry];
	struct attempt at;
	struct err e2 = { 0, "" };
	char what[64];
	long status;

	memset(&at, 0, sizeof(at));
	r->attempt++;
	r->fr->requests++;
	snprintf(what, sizeof(what), "%s", en->req.method);
	if (r->body_cut)
		sha256_final(&r->body_hash, r->body_digest);
	if (http_finish(r->c, rc, &r->resp, what, &e2) < 0) {
		at.failed = 1;
		at.error = xasprintf("%s %s: %s", en->req.method, r->fr->entries[r->entry].url,
		    r->resp.errbuf[0] ? r->resp.errbuf : curl_easy_strerror(rc));
		{
			char *red = smoke_redact(r->o->secrets, at.error);

			free_secret(at.error);
			at.error = red;
		}
		r->resp.status = 0;
	}
	r->duration_ms = llround(r->resp.time_total_s * 1000);
	transfer_info(r);
	if (!at.failed && r->output)
		write_output(r, &at);
	if (!at.failed && en->resp.present) {
		judge_status(r, &en->resp, &at);
		judge_headers(r, &en->resp, &at);
		judge_captures(r, &en->resp, &at);
		judge_asserts(r, &en->resp, &at);
		judge_body(r, &en->resp, &at);
	}
	status = r->resp.status;
	if (at.failed && (r->retry < 0 || r->attempt <= r->retry) &&
	    !(r->o->stop && *r->o->stop)) {
		log_verbose("%s:%d: attempt %d failed; retrying in %lld ms", r->hf->path, en->req.line,
		    r->attempt, r->interval);
		attempt_free(&at);
		xfer_free(r);
		r->wake = mono_ms() + r->interval;
		r->state = ST_WAIT;
		return;
	}
	record(r, &at, status);
	xfer_free(r);
	r->entry++;
	r->state = ST_START;
}

/* Settings of the entry: the defaults, then its [Options]. */
static void settings_free(struct run *r);

static int
prepare(struct run *r, char **why)
{
	const struct hurl_request *rq = &r->hf->entries[r->entry].req;
	size_t i;

	r->retry = r->o->retry;
	r->interval = r->o->retry_interval_ms;
	r->delay = 0;
	r->max_time = r->o->max_time_ms;
	r->connect_timeout = r->o->connect_timeout_ms;
	r->location = 0;
	r->insecure = r->o->insecure;
	r->skip = 0;
	r->attempt = 0;
	r->max_redirs = -2;	/* not set: lib/http's */
	r->digest = r->compressed = r->http_version = r->ip_resolve = 0;
	r->location_trusted = r->path_as_is = 0;
	settings_free(r);
	for (i = 0; i < rq->noptions; i++) {
		const struct hurl_option *op = &rq->options[i];
		long long n = op->num;
		char *text = NULL;

		if (op->value.has_tmpl || op->kind == HO_VARIABLE) {
			const char *bad = NULL;

			if (!(text = render_str(r, &op->value, why)))
				return -1;
			if (op->kind == HO_VARIABLE) {
				smoke_vars_set_text(&r->vars, op->var_name, text);
				free_secret(text);
				continue;
			}
			if (hurl_option_value(op->kind, text, &n, &bad) < 0) {
				if (op->kind == HO_USER)
					*why = xasprintf("%s:%d: option 'user': %s", r->hf->path, op->line, bad);
				else
					*why = xasprintf("%s:%d: option '%s': %s, not '%s'", r->hf->path,
					    op->line, hurl_option_name(op->kind), bad, text);
				free_secret(text);
				return -1;
			}
		}
		switch (op->kind) {
		case HO_USER: {
			const char *v = text ? text : op->value.s, *colon = strchr(v, ':');
			char *u = xstrndup(v, (size_t)(colon - v));

			free_secret(r->user);
			r->user = xstrdup(v);
			login_secrets(r->o->secrets, u, colon + 1);
			free(u);
			break;
		}
		case HO_AWS_SIGV4:
			free(r->aws_sigv4);
			r->aws_sigv4 = xstrdup(text ? text : op->value.s);
			break;
		case HO_OUTPUT:
			/* a name made from captures is the server's choice:
			 * it may not leave the current directory */
			if (text && file_escapes(text)) {
				*why = xasprintf("%s:%d: option 'output': '%s' leaves the current "
				    "directory (absolute, or with '..'); a templated name may not",
				    r->hf->path, op->line, text);
				free_secret(text);
				return -1;
			}
			free(r->output);
			r->output = xstrdup(text ? text : op->value.s);
			break;
		case HO_HEADER:
			r->opt_headers = curl_slist_append(r->opt_headers, text ? text : op->value.s);
			break;
		default:
			break;
		}
		free_secret(text);
		switch (op->kind) {
		case HO_RETRY: r->retry = n; break;
		case HO_RETRY_INTERVAL: r->interval = n; break;
		case HO_DELAY: r->delay = n; break;
		case HO_LOCATION: r->location = (int)n; break;
		case HO_INSECURE: r->insecure = (int)n; break;
		case HO_SKIP: r->skip = (int)n; break;
		case HO_MAX_TIME: r->max_time = n; break;
		case HO_CONNECT_TIMEOUT: r->connect_timeout = n; break;
		case HO_DIGEST: r->digest = (int)n; break;
		case HO_COMPRESSED: r->compressed = (int)n; break;
		/* the last one given wins, as in Hurl; false leaves curl's choice */
		case HO_HTTP10: r->http_version = n ? (int)CURL_HTTP_VERSION_1_0 : 0; break;
		case HO_HTTP11: r->http_version = n ? (int)CURL_HTTP_VERSION_1_1 : 0; break;
		case HO_HTTP2: r->http_version = n ? (int)CURL_HTTP_VERSION_2_0 : 0; break;
		case HO_IPV4: r->ip_resolve = n ? (int)CURL_IPRESOLVE_V4 : 0; break;
		case HO_IPV6: r->ip_resolve = n ? (int)CURL_IPRESOLVE_V6 : 0; break;
		case HO_MAX_REDIRS: r->max_redirs = n; break;
		case HO_LOCATION_TRUSTED:
			r->location_trusted = (int)n;
			if (n)
				r->location = 1;
			break;
		case HO_PATH_AS_IS: r->path_as_is = (int)n; break;
		default: break;
		}
	}
	return 0;
}

/* What prepare() set from an entry's options. */
static void
settings_free(struct run *r)
{
	free_secret(r->user);
	free(r->aws_sigv4);
	free(r->output);
	r->user = r->aws_sigv4 = r->output = NULL;
	curl_slist_free_all(r->opt_headers);
	r->opt_headers = NULL;
}

static void
start_round(struct run *r)
{
	smoke_vars_free(&r->vars);
	smoke_vars_copy(&r->vars, r->o->vars);
	r->entry = 0;
	r->round_failed = 0;
}

/* Move a run on as far as it goes without waiting; 1 when it changed. */
static int
advance(struct run *r)
{
	int changed = 0;

	for (;;) {
		char *why = NULL;

		switch (r->state) {
		case ST_START:
			if (r->entry < r->hf->nentries && r->round_failed && !r->o->continue_on_error) {
				/* a failure stops the round: the rest did not run */
				r->entry = r->hf->nentries;
			}
			if (r->entry >= r->hf->nentries) {
				if (++r->round < r->o->repeat && !(r->o->stop && *r->o->stop)) {
					start_round(r);
					changed = 1;
					continue;
				}
				r->state = ST_DONE;
				return 1;
			}
			changed = 1;
			if (prepare(r, &why) < 0) {
				record_error(r, why);
				r->entry++;
				continue;
			}
			if (r->skip) {
				struct smoke_entry *en = &r->fr->entries[r->entry];

				if (en->status == SM_NOT_RUN)
					en->status = SM_SKIPPED;
				r->entry++;
				continue;
			}
			if (r->delay > 0) {
				r->wake = mono_ms() + r->delay;
				r->state = ST_WAIT;
				return 1;
			}
			r->state = ST_SEND;
			continue;
		case ST_WAIT:
			if (mono_ms() < r->wake)
				return changed;
			r->state = ST_SEND;
			changed = 1;
			continue;
		case ST_SEND:
			changed = 1;
			if (send_entry(r, &why) < 0) {
				record_error(r, why);
				r->entry++;
				r->state = ST_START;
				continue;
			}
			r->state = ST_XFER;
			return 1;
		default:
			return changed;
		}
	}
}

static void
file_init(struct smoke_file *fr, const struct hurl_file *hf)
{
	size_t i;

	memset(fr, 0, sizeof(*fr));
	fr->path = xstrdup(hf->path);
	fr->nentries = hf->nentries;
	fr->entries = xcalloc(hf->nentries ? hf->nentries : 1, sizeof(*fr->entries));
	for (i = 0; i < hf->nentries; i++) {
		const struct hurl_entry *en = &hf->entries[i];
		struct smoke_entry *e = &fr->entries[i];

		e->line = en->req.line;
		e->method = xstrdup(en->req.method);
		e->name = en->name ? xstrdup(en->name) :
		    xasprintf("%s:%d %s %s", hf->path, en->req.line, en->req.method, en->req.url_text);
		e->status = SM_NOT_RUN;
	}
}

/* Does a query or filter of the files evaluate XPath (libxml2)? */
static int
query_xpath(const struct hurl_query *q, const struct hurl_filter *f, size_t nf)
{
	size_t i;

	if (q->kind == HQ_XPATH)
		return 1;
	for (i = 0; i < nf; i++)
		if (f[i].kind == HF_XPATH)
			return 1;
	return 0;
}

static int
uses_xpath(const struct hurl_file *files, size_t nfiles)
{
	size_t i, j, k;

	for (i = 0; i < nfiles; i++)
		for (j = 0; j < files[i].nentries; j++) {
			const struct hurl_response *r = &files[i].entries[j].resp;

			for (k = 0; k < r->ncaptures; k++)
				if (query_xpath(&r->captures[k].q, r->captures[k].filters,
				    r->captures[k].nfilters))
					return 1;
			for (k = 0; k < r->nasserts; k++)
				if (query_xpath(&r->asserts[k].q, r->asserts[k].filters,
				    r->asserts[k].nfilters))
					return 1;
		}
	return 0;
}

int
smoke_run(const struct hurl_file *files, size_t nfiles, const struct smoke_opts *o,
    struct smoke_result *res, struct err *e)
{
	CURLM *m;
	struct run *runs;
	size_t next = 0, active = 0, done = 0, i, jobs = o->jobs ? o->jobs : 1;

	memset(res, 0, sizeof(*res));
	res->nfiles = nfiles;
	res->files = xcalloc(nfiles ? nfiles : 1, sizeof(*res->files));
	for (i = 0; i < nfiles; i++)
		file_init(&res->files[i], &files[i]);
	/* libcrypto (a cut body's digest, sha256 and md5 queries) comes
	 * with libcurl: crypto_load() finds it. */
	if (curl_load(e) < 0 || crypto_load(e) < 0)
		return -1;
	/* libxml2 is opened here, not at start-up: a missing one stops the
	 * run before its first request. */
	if (uses_xpath(files, nfiles) && libxml_load(e) < 0)
		return -1;
	if (!(m = curl_multi_init()))
		return err_set(e, EX_INTERNAL, "cannot create a curl multi handle");
	runs = xcalloc(nfiles ? nfiles : 1, sizeof(*runs));
	while (done < nfiles) {
		int progress = 0, running = 0;
		long long now, timeout = 1000;
		CURLMsg *msg;
		int left;

		if (o->stop && *o->stop) {
			res->interrupted = 1;
			break;
		}
		while (active < jobs && next < nfiles) {
			struct run *r = &runs[next];
			struct http_response fresh = HTTP_RESPONSE_INIT;

			r->hf = &files[next];
			r->fr = &res->files[next];
			r->o = o;
			r->multi = m;
			r->resp = fresh;
			r->t0 = mono_ms();
			r->state = ST_START;
			start_round(r);
			next++;
			active++;
		}
		for (i = 0; i < next; i++) {
			struct run *r = &runs[i];

			if (r->state == ST_DONE)
				continue;
			progress |= advance(r);
			if (r->state == ST_DONE) {
				size_t k;

				r->fr->duration_ms = mono_ms() - r->t0;
				r->fr->status = SM_PASSED;
				for (k = 0; k < r->fr->nentries; k++)
					if (r->fr->entries[k].status == SM_FAILED)
						r->fr->status = SM_FAILED;
				res->requests += r->fr->requests;
				smoke_vars_free(&r->vars);
				active--;
				done++;
			}
		}
		if (done == nfiles)
			break;
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			struct run *r = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
			if (!r)
				continue;
			curl_multi_remove_handle(m, r->c);
			judge(r, msg->data.result);
			progress = 1;
		}
		if (progress)
			continue;
		now = mono_ms();
		for (i = 0; i < next; i++)
			if (runs[i].state == ST_WAIT && runs[i].wake - now < timeout)
				timeout = runs[i].wake - now;
		if (timeout < 0)
			timeout = 0;
		curl_multi_poll(m, NULL, 0, (int)timeout, NULL);
	}
	/* Interrupted: drop what is in flight. */
	for (i = 0; i < next; i++) {
		if (runs[i].state != ST_DONE) {
			runs[i].fr->status = SM_FAILED;
			runs[i].fr->duration_ms = mono_ms() - runs[i].t0;
			res->requests += runs[i].fr->requests;
		}
		xfer_free(&runs[i]);
		settings_free(&runs[i]);
		smoke_vars_free(&runs[i].vars);
	}
	for (i = next; i < nfiles; i++)
		res->files[i].status = SM_FAILED;
	free(runs);
	curl_multi_cleanup(m);
	return 0;
}

void
smoke_result_free(struct smoke_result *r)
{
	size_t i, k;

	for (i = 0; i < r->nfiles; i++) {
		struct smoke_file *f = &r->files[i];

		for (k = 0; k < f->nentries; k++) {
			struct smoke_entry *en = &f->entries[k];

			entry_details_free(en);
			free(en->name);
			free(en->method);
			free(en->url);
			free(en->durations);
		}
		free(f->entries);
		free(f->path);
	}
	free(r->files);
	memset(r, 0, sizeof(*r));
}

long long
smoke_percentile(const long long *sorted, size_t n, double p)
{
	size_t rank;

	if (!n)
		return 0;
	rank = (size_t)ceil(p / 100.0 * (double)n);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

/* ---- waiting for the service ---------------------------------------- */

static char *
wait_redact(const void *secrets, const char *text)
{
	return smoke_redact(secrets, text);
}

int
smoke_wait(const char *url, long long timeout_ms, const struct smoke_opts *o, int *attempts,
    struct err *e)
{
	struct http_wait w;
	char *shown = smoke_redact(o->secrets, url);
	int rc;

	memset(&w, 0, sizeof(w));
	w.url = url;
	w.shown = shown;
	w.timeout_ms = timeout_ms;
	w.ca_file = o->ca_file;
	w.insecure_tls = o->insecure;
	w.stop = o->stop;
	w.redact = wait_redact;
	w.redact_ctx = o->secrets;
	rc = http_wait(&w, e);
	*attempts = w.attempts;
	free(shown);
	return rc;
}
