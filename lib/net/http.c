#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/crypto-load.h"
#include "core/dynlib.h"
#include "core/encode.h"
#include "net/http.h"
#include "core/retry.h"
#include "core/timeutil.h"
#include "core/version.h"

#define WAIT_BASE_MS 100		/* http_wait(): the first delay is at most this */
#define WAIT_CAP_MS 2000		/* ... and none is longer than this */

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct http_response *r = arg;
	size_t len = size * n, end = len;
	const char *colon;

	while (end && (data[end - 1] == '\n' || data[end - 1] == '\r'))
		end--;
	if (end >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue or a redirect) starts over. */
		size_t i;
		const char *sp = r->status_line ? strchr(r->status_line, ' ') : NULL;
		char *url = NULL;

		/* After a 3xx with a Location, this is the redirect's answer:
		 * libcurl already moved its URL there. */
		if (sp && sp[1] == '3' && http_header(r, "Location") && r->handle &&
		    curl_easy_getinfo(r->handle, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url &&
		    r->nredirects < 1000) {
			r->redirects = xrealloc(r->redirects, (r->nredirects + 1) * sizeof(char *));
			r->redirects[r->nredirects++] = xstrdup(url);
		}

		for (i = 0; i < r->nheaders; i++) {
			free(r->headers[i].name);
			free(r->headers[i].value);
		}
		r->nheaders = 0;
		free(r->status_line);
		r->status_line = xstrndup(data, end);
		return len;
	}
	colon = memchr(data, ':', end);
	if (!colon || colon == data)
		return len;	/* the blank line, or a malformed one: ignore */
	if (r->nheaders == r->alloc) {
		r->alloc = r->alloc ? 2 * r->alloc : 16;
		if (r->alloc > 1000)
			return 0;	/* a flood of headers: abort the transfer */
		r->headers = xrealloc(r->headers, r->alloc * sizeof(*r->headers));
	}
	{
		const char *v = colon + 1, *ve = data + end;

		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		r->headers[r->nheaders].name = xstrndup(data, (size_t)(colon - data));
		r->headers[r->nheaders].value = xstrndup(v, (size_t)(ve - v));
		r->nheaders++;
	}
	return len;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct http_response *r = arg;

	if (buf_add(&r->body, data, size * n) < 0) {
		r->body_too_large = 1;
		return 0;
	}
	return size * n;
}

/* The PEM certificates of a CA file, added to store when non-NULL: how
 * many, or -1 when it cannot be read. */
static int
pem_certs(const char *path, X509_STORE *store)
{
	BIO *bio = BIO_new_file(path, "r");
	X509 *x;
	int n = 0;

	if (!bio) {
		ERR_clear_error();
		return -1;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!store || X509_STORE_add_cert(store, x) == 1)
			n++;
		X509_free(x);
	}
	ERR_clear_error();
	BIO_free(bio);
	return n;
}

/*
 * libssl's one function here, found when first called (core/dynlib.h):
 * the tools do not link libssl, as only libcurl's TLS needs it; add_ca()
 * runs inside libcurl, which has loaded it by then.
 */
static X509_STORE *(*cert_store)(const SSL_CTX *);
static const struct dynlib_sym ssl_syms[] = { { "SSL_CTX_get_cert_store", 0 } };
static struct dynlib ssl = DYNLIB_INIT("libssl.so.3", "libssl", "libssl3", NULL, ssl_syms,
    cert_store);
DYNLIB_READY(ssl_ready, ssl)

/* Add the certificates of an extra CA file to the system ones. */
static CURLcode
add_ca(CURL *c, void *sslctx, void *arg)
{
	struct err e = { 0, "" };

	(void)c;
	if (!ssl_ready() || crypto_load(&e) < 0)
		return CURLE_SSL_CACERT_BADFILE;
	return pem_certs((const char *)arg, cert_store((SSL_CTX *)sslctx)) > 0 ?
	    CURLE_OK : CURLE_SSL_CACERT_BADFILE;
}

int
http_url_check(const char *url, const char *schemes, struct err *e)
{
	struct http_url u;
	struct buf want = BUF_INIT;
	char *shown, *list, *tok, *save = NULL;
	int ok = 0, parsed;

	/* libcurl parses it: without libcurl, say that, not "not a URL". */
	if (curl_load(e) < 0)
		return -1;
	shown = url_redact(url);
	list = xstrdup(schemes);
	parsed = http_url_parse(url, &u) == 0;

	/* "http,https": "an http or https URL". */
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		buf_addf(&want, "%s%s", want.len ? " or " : "", tok);
		ok |= parsed && !strcmp(u.scheme, tok);
	}
	if (!parsed)
		err_set(e, EX_USAGE_, "'%s' is not an absolute URL: expected an %s URL", shown,
		    buf_str(&want));
	else if (!ok)
		err_set(e, EX_USAGE_, "'%s': expected an %s URL, not %s", shown, buf_str(&want),
		    u.scheme);
	if (parsed)
		http_url_free(&u);
	buf_free(&want);
	free(list);
	free(shown);
	return ok ? 0 : -1;
}

int
http_ca_file_check(const char *path, struct err *e)
{
	int n;

	/* libcrypto reads it: without libcrypto, say that (EX_SERVICE). */
	if (crypto_load(e) < 0)
		return -1;
	n = pem_certs(path, NULL);
	if (n < 0)
		return err_set(e, EX_USAGE_, "cannot read '%s': %s", path, strerror(errno));
	if (n == 0)
		return err_set(e, EX_USAGE_, "'%s' holds no PEM certificate", path);
	return n;
}

CURL *
http_easy(const struct http_opts *o, struct http_response *resp)
{
	static const struct http_opts defaults;
	CURL *c = curl_easy_init();
	char ua[64];

	if (!c)
		return NULL;
	if (!o)
		o = &defaults;
	buf_init(&resp->body, o->body_max ? o->body_max : HTTP_BODY_MAX);
	resp->errbuf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, resp->errbuf);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
	resp->handle = c;
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	/* libcurl copies string options: ua may go out of scope. */
	snprintf(ua, sizeof(ua), "ci-tools/%s", ci_version);
	curl_easy_setopt(c, CURLOPT_USERAGENT, o->user_agent ? o->user_agent : ua);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)(o->connect_timeout_ms ? o->connect_timeout_ms : 10000));
	if (o->max_time_ms)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)o->max_time_ms);
	if (o->stall_ms > 0) {
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)((o->stall_ms + 999) / 1000));
	}
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (o->follow) {
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	}
	if (o->insecure_tls) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (o->ca_file) {
		curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, add_ca);
		curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, (void *)o->ca_file);
	}
	return c;
}

int
http_finish(CURL *c, CURLcode rc, struct http_response *r, const char *what, struct err *e)
{
	char *url = NULL;
	curl_off_t got = 0;

	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r->time_total_s);
	curl_easy_getinfo(c, CURLINFO_CONNECT_TIME, &r->time_connect_s);
	curl_easy_getinfo(c, CURLINFO_STARTTRANSFER_TIME, &r->time_starttransfer_s);
	curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &got);
	r->bytes_received = (long long)got;
	curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &url);
	free(r->effective_url);
	r->effective_url = url ? xstrdup(url) : NULL;
	if (rc == CURLE_OK)
		return 0;
	if (r->body_too_large)
		return err_set(e, EX_SERVICE, "%s: the response body is larger than %zu bytes",
		    what, r->body.cap_max);
	{
		/* libcurl may quote a URL (a proxy's) with its userinfo. */
		char *said = url_redact(r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));

		err_set(e, EX_SERVICE, "%s: %s", what, said);
		free(said);
	}
	return -1;
}

int
http_perform(CURL *c, struct http_response *r, const char *what, struct err *e)
{
	return http_finish(c, curl_easy_perform(c), r, what, e);
}

const char *
http_header(const struct http_response *r, const char *name)
{
	size_t i = r->nheaders;

	while (i-- > 0)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

void
http_response_reset(struct http_response *r)
{
	size_t i;

	for (i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	r->nheaders = 0;
	free(r->status_line);
	r->status_line = NULL;
	buf_reset(&r->body);
	r->status = 0;
	r->body_too_large = 0;
	r->errbuf[0] = '\0';
	for (i = 0; i < r->nredirects; i++)
		free(r->redirects[i]);
	free(r->redirects);
	r->redirects = NULL;
	r->nredirects = 0;
}

void
http_response_free(struct http_response *r)
{
	http_response_reset(r);
	free(r->headers);
	r->headers = NULL;
	r->alloc = 0;
	buf_free(&r->body);
	free(r->effective_url);
	r->effective_url = NULL;
}

/* ---- WWW-Authenticate -------------------------------------------------- */

static const char *
skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

int
http_parse_challenge(const char *h, struct http_challenge *c)
{
	const char *p = skip_ws(h), *start;

	memset(c, 0, sizeof(*c));
	start = p;
	while (*p && !isspace((unsigned char)*p) && *p != ',')
		p++;
	if (p == start)
		return -1;
	c->scheme = xstrndup(start, (size_t)(p - start));
	for (;;) {
		const char *k, *ke;
		struct buf v = BUF_INIT;
		char **slot = NULL;

		p = skip_ws(p);
		while (*p == ',')
			p = skip_ws(p + 1);
		if (!*p)
			return 0;
		k = p;
		while (*p && (isalnum((unsigned char)*p) || *p == '_' || *p == '-'))
			p++;
		ke = p;
		p = skip_ws(p);
		if (ke == k || *p != '=')
			goto bad;
		p = skip_ws(p + 1);
		buf_init(&v, 8192);
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				buf_addc(&v, *p);
			}
			if (*p != '"') {
				buf_free(&v);
				goto bad;
			}
			p++;
		} else {
			while (*p && *p != ',' && !isspace((unsigned char)*p))
				buf_addc(&v, *p++);
		}
		if ((size_t)(ke - k) == 5 && strncasecmp(k, "realm", 5) == 0)
			slot = &c->realm;
		else if ((size_t)(ke - k) == 7 && strncasecmp(k, "service", 7) == 0)
			slot = &c->service;
		else if ((size_t)(ke - k) == 5 && strncasecmp(k, "scope", 5) == 0)
			slot = &c->scope;
		else if ((size_t)(ke - k) == 5 && strncasecmp(k, "error", 5) == 0)
			slot = &c->error;
		if (slot && !*slot)
			*slot = buf_detach(&v, NULL);
		buf_free(&v);
	}
bad:
	http_challenge_free(c);
	return -1;
}

void
http_challenge_free(struct http_challenge *c)
{
	free(c->scheme);
	free(c->realm);
	free(c->service);
	free(c->scope);
	free(c->error);
	memset(c, 0, sizeof(*c));
}

long long
http_retry_after_ms(const char *v)
{
	char *end;
	long long s, now;
	time_t t;

	if (!v || !*v)
		return -1;
	errno = 0;
	s = strtoll(v, &end, 10);
	if (end != v && *skip_ws(end) == '\0' && !errno)
		return s < 0 ? -1 : s > 86400 ? 86400000LL : s * 1000;
	t = curl_getdate(v, NULL);
	if (t == (time_t)-1)
		return -1;
	/* A date past or far ahead (year 20300) is bounded as delta-seconds
	 * are, before it is turned into milliseconds. */
	now = now_ms();
	if ((long long)t <= now / 1000)
		return 0;
	if ((long long)t - now / 1000 >= 86400)
		return 86400000LL;
	s = (long long)t * 1000 - now;
	return s < 0 ? 0 : s;
}

int
http_token_ok(const char *s)
{
	const char *p;

	if (!s || !*s)
		return 0;
	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || (*p && strchr("!#$%&'*+-.^_`|~", *p))))
			return 0;
	return 1;
}

char *
http_urlencode(const char *s)
{
	/* Since libcurl 7.82 the handle is not needed. */
	char *enc = curl_easy_escape(NULL, s, 0), *out;

	/*
	 * It fails only when memory runs out (the x* allocators' policy) or
	 * when libcurl cannot be loaded, which the callers' entry points have
	 * ruled out (curl_load()).
	 */
	if (!enc) {
		struct err e = { 0, "" };

		log_error("cannot percent-encode: %s", curl_load(&e) < 0 ? e.msg : "out of memory");
		abort();
	}
	out = xstrdup(enc);
	/* The value may be a secret (a refresh token in a form body). */
	memset(enc, 0, strlen(enc));
	curl_free(enc);
	return out;
}

/* A part of u as a fresh string (ours, not libcurl's), or NULL. */
static char *
url_part(CURLU *u, CURLUPart what, unsigned flags)
{
	char *v = NULL, *out;

	if (curl_url_get(u, what, &v, flags) != CURLUE_OK || !v)
		return NULL;
	out = xstrdup(v);
	curl_free(v);
	return out;
}

/* Fill out from the parsed handle u; -1 when u has no host. */
static int
url_fill(CURLU *u, struct http_url *out)
{
	char *port = NULL;
	size_t i;

	memset(out, 0, sizeof(*out));
	/* Never carried on, never printed. */
	curl_url_set(u, CURLUPART_USER, NULL, 0);
	curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
	curl_url_set(u, CURLUPART_OPTIONS, NULL, 0);
	curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
	out->scheme = url_part(u, CURLUPART_SCHEME, 0);
	out->host = url_part(u, CURLUPART_HOST, 0);
	out->url = url_part(u, CURLUPART_URL, 0);
	if (!out->scheme || !out->host || !*out->host || !out->url) {
		http_url_free(out);
		return -1;
	}
	for (i = 0; out->scheme[i]; i++)
		out->scheme[i] = (char)tolower((unsigned char)out->scheme[i]);
	port = url_part(u, CURLUPART_PORT, 0);
	out->hostport = port ? xasprintf("%s:%s", out->host, port) : xstrdup(out->host);
	free(port);
	port = url_part(u, CURLUPART_PORT, CURLU_DEFAULT_PORT);
	out->port = port ? strtol(port, NULL, 10) : 0;
	free(port);
	return 0;
}

int
http_url_parse(const char *url, struct http_url *out)
{
	CURLU *u = curl_url();
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!u)
		return -1;
	if (url && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK)
		rc = url_fill(u, out);
	curl_url_cleanup(u);
	return rc;
}

void
http_url_free(struct http_url *u)
{
	free(u->url);
	free(u->scheme);
	free(u->host);
	free(u->hostport);
	memset(u, 0, sizeof(*u));
}

static int
is_http(const struct http_url *u)
{
	return !strcmp(u->scheme, "http") || !strcmp(u->scheme, "https");
}

char *
http_resolve(const char *base, const char *loc)
{
	CURLU *u = curl_url();
	struct http_url r;
	char *out = NULL;

	if (!u)
		return NULL;
	/* Set on a handle that holds base, a relative URL resolves against it. */
	if (base && loc && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, loc, 0) == CURLUE_OK && url_fill(u, &r) == 0) {
		if (is_http(&r)) {
			out = r.url;
			r.url = NULL;
		}
		http_url_free(&r);
	}
	curl_url_cleanup(u);
	return out;
}

int
http_same_origin(const char *a, const char *b)
{
	struct http_url ua, ub;
	int same;

	if (http_url_parse(a, &ua) < 0)
		return 0;
	if (http_url_parse(b, &ub) < 0) {
		http_url_free(&ua);
		return 0;
	}
	/* Host names are case-insensitive; libcurl keeps them as written. */
	same = !strcmp(ua.scheme, ub.scheme) && !strcasecmp(ua.host, ub.host) &&
	    ua.port == ub.port;
	http_url_free(&ua);
	http_url_free(&ub);
	return same;
}

char *
http_url_add_query(const char *url, const char *name, const char *value)
{
	CURLU *u = curl_url();
	char *base = NULL, *query = NULL, *enc, *full, *out = NULL;

	if (!u)
		return NULL;
	if (url && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
		curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
		base = url_part(u, CURLUPART_URL, 0);
		query = url_part(u, CURLUPART_QUERY, 0);
	}
	if (base) {
		/*
		 * Appended as text and parsed again: libcurl 7.88 writes the
		 * hex of a query part it is given in lowercase, a whole URL it
		 * keeps as it is.
		 */
		enc = http_urlencode(value);
		full = xasprintf("%s%s%s=%s", base, query && *query ? "&" :
		    base[strlen(base) - 1] == '?' ? "" : "?", name, enc);
		if (curl_url_set(u, CURLUPART_URL, full, 0) == CURLUE_OK)
			out = url_part(u, CURLUPART_URL, 0);
		/* The value may be a secret. */
		free_secret(full);
		free_secret(enc);
	}
	free(base);
	free(query);
	curl_url_cleanup(u);
	return out;
}

/* ---- waiting for a service ------------------------------------------- */

/* What the last attempt got, for messages: "HTTP 503", or libcurl's reason. */
static char *
wait_answer(const struct http_wait *w, const struct http_response *resp, const struct err *e2)
{
	const char *raw = resp->errbuf[0] ? resp->errbuf : e2->msg;
	char *said, *out;

	if (resp->status > 0)
		return xasprintf("HTTP %ld", resp->status);
	said = url_redact(raw);
	out = w->redact ? w->redact(w->redact_ctx, said) : xstrdup(said);
	free(said);
	return out;
}

static int
wait_ready(const struct http_wait *w, long status)
{
	return status >= 200 && (status < 300 || (w->accept_3xx && status < 400));
}

int
http_wait(struct http_wait *w, struct err *e)
{
	/* A service coming up is the crowd case a jittered backoff is for. */
	static const struct retry_policy policy = { INT_MAX, WAIT_BASE_MS, WAIT_CAP_MS, 0 };
	struct retry_state rs = { 0, 0 };
	long long end = mono_ms() + w->timeout_ms, delay, ra;
	char *shown = url_redact(w->shown ? w->shown : w->url), *last = xstrdup("no answer yet"), d[32];
	int rc = -1;

	w->attempts = 0;
	w->status = 0;
	if (curl_load(e) < 0) {
		free(shown);
		free(last);
		return -1;
	}
	for (;;) {
		struct http_response resp = HTTP_RESPONSE_INIT;
		struct http_opts ho;
		struct err e2 = { 0, "" };
		long long left = end - mono_ms();
		CURL *c;

		if (w->stop && *w->stop) {
			err_set(e, EX_TEMP, "interrupted while waiting for '%s'", shown);
			break;
		}
		memset(&ho, 0, sizeof(ho));
		ho.ca_file = w->ca_file;
		ho.insecure_tls = w->insecure_tls;
		ho.connect_timeout_ms = left < 2000 ? (left > 1 ? left : 1) : 2000;
		ho.max_time_ms = left < 10000 ? (left > 1 ? left : 1) : 10000;
		ho.body_max = 1u << 20;
		c = http_easy(&ho, &resp);
		if (!c) {
			err_set(e, EX_INTERNAL, "cannot create a curl handle");
			break;
		}
		curl_easy_setopt(c, CURLOPT_URL, w->url);
		w->attempts++;
		if (http_perform(c, &resp, "GET", &e2) == 0 && wait_ready(w, resp.status)) {
			w->status = resp.status;
			log_verbose("'%s' is ready (HTTP %ld) after %d attempt%s", shown, resp.status,
			    w->attempts, w->attempts == 1 ? "" : "s");
			curl_easy_cleanup(c);
			http_response_free(&resp);
			rc = 0;
			break;
		}
		/*
		 * An attempt that got no answer because the time ran out while
		 * it ran (its timeouts were what was left) says nothing about
		 * the service: what the one before got stands as the last word.
		 */
		if (w->attempts == 1 || resp.status > 0 || left >= 10000 || mono_ms() < end - 10) {
			w->status = resp.status;
			free(last);
			last = wait_answer(w, &resp, &e2);
		}
		ra = resp.status > 0 ? http_retry_after_ms(http_header(&resp, "Retry-After")) : -1;
		curl_easy_cleanup(c);
		http_response_free(&resp);
		log_verbose("waiting for '%s': %s (attempt %d)", shown, last, w->attempts);
		left = end - mono_ms();
		delay = left > 0 ? retry_next(&policy, &rs, ra) : -1;
		if (delay >= 0 && delay < left) {
			sleep_ms(delay, w->stop);
			continue;
		}
		/* the service asks for more time than is left: say so now
		 * rather than sleep out the timeout knowing the end */
		if (ra >= 0 && ra >= left && left > 0) {
			char d2[32];

			format_duration(w->timeout_ms - left, d, sizeof(d));
			format_duration(ra, d2, sizeof(d2));
			err_set(e, EX_FAIL, "'%s' was not ready after %s (it asks to retry after %s, "
			    "past the timeout; %d attempt%s; last: %s)", shown, d, d2, w->attempts,
			    w->attempts == 1 ? "" : "s", last);
			break;
		}
		/*
		 * No time for another attempt (a Retry-After may ask for more
		 * than is left): wait out the time rather than make an attempt
		 * squeezed into what remains, whose timeout would hide what the
		 * service last said.
		 */
		if (left > 0 && sleep_ms(left, w->stop) < 0) {
			err_set(e, EX_TEMP, "interrupted while waiting for '%s'", shown);
			break;
		}
		format_duration(w->timeout_ms, d, sizeof(d));
		err_set(e, EX_FAIL, "'%s' was not ready after %s (%d attempt%s; last: %s)", shown,
		    d, w->attempts, w->attempts == 1 ? "" : "s", last);
		break;
	}
	free(shown);
	free(last);
	return rc;
}
