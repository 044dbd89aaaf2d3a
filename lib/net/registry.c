/*
 * registry.c: the session of the OCI Distribution client.
 *
 * Owns the options (registry_opts_*), the client and its hosts (which
 * scheme, which challenge, which credentials), and every request: a
 * struct xfer run on the client's one curl multi handle, so connections
 * are pooled for the whole client.  xfer_done() applies the rules every
 * request shares -- a 401 challenge is learnt and answered with Basic
 * credentials or a bearer token from net/auth, a 403 fails, connection
 * errors, 408, 429 and 5xx are transient and retried on core/retry's
 * policy (--retries, --retry-time, Retry-After as a floor) -- and hands
 * the final response to the caller.  reg_run_tasks() drives many struct
 * task state machines at once; reg_host_ping() learns a host.  What a
 * push, a pull and the blob cache do with that is in push.c, pull.c and
 * blobcache.c (registry_int.h).
 */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "core/crypto-load.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "core/retry.h"
#include "core/size.h"
#include "core/sock.h"
#include "core/timeutil.h"
#include "core/version.h"
#include "net/registry_int.h"

#define PROGRESS_EVERY_MS 100
#define BACKOFF_BASE_MS 250
#define BACKOFF_CAP_MS 10000
#define STALL_TIMEOUT_MS 60000

static int
stopped(const struct registry *r)
{
	return r->o->stop && *r->o->stop;
}

/* ---- options ---------------------------------------------------------- */

const char *
registry_options_help(const char *omit)
{
	static char text[sizeof(REGISTRY_OPTIONS_HELP)];
	const char *all = REGISTRY_OPTIONS_HELP, *at = strstr(all, omit), *bol, *eol;

	if (!at)
		return all;
	for (bol = at; bol > all && bol[-1] != '\n'; bol--)
		;
	eol = strchr(at, '\n');
	eol = eol ? eol + 1 : at + strlen(at);
	/* Both pieces come out of the text: they fit. */
	memcpy(text, all, (size_t)(bol - all));
	memcpy(text + (bol - all), eol, strlen(eol) + 1);
	return text;
}

void
registry_opts_init(struct registry_opts *o)
{
	memset(o, 0, sizeof(*o));
}

static int
parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int
registry_opts_arg(struct registry_opts *o, int opt, const char *arg, struct err *e)
{
	const char *why = NULL;
	long v;

	switch (opt) {
	case REGOPT_INSECURE:
		if (!*arg || strchr(arg, '/') || strchr(arg, ' '))
			return err_set(e, EX_USAGE_, "--insecure-registry '%s': expected HOST or "
			    "HOST:PORT", arg);
		o->insecure = strv_push(o->insecure, arg);
		return 1;
	case REGOPT_CA_FILE:
		if (http_ca_file_check(arg, e) < 0) {
			err_prefix(e, "--ca-file");
			return -1;
		}
		o->ca_file = arg;
		return 1;
	case REGOPT_USERNAME:
		if (!*arg)
			return err_set(e, EX_USAGE_, "--username: empty name");
		free(o->username);
		o->username = xstrdup(arg);
		return 1;
	case REGOPT_PASSWORD_STDIN:
		o->password_stdin = 1;
		return 1;
	case REGOPT_PASSWORD_FILE:
		o->password_file = arg;
		return 1;
	case REGOPT_AUTHFILE:
		o->authfile = arg;
		return 1;
	case REGOPT_PARALLEL:
		if (parse_int(arg, 1, 64, &v) < 0)
			return err_set(e, EX_USAGE_, "--parallel '%s': expected 1 to 64", arg);
		o->parallel = (int)v;
		return 1;
	case REGOPT_CHUNK_SIZE:
		if (parse_size(arg, &o->chunk_size) < 0 || o->chunk_size < 1)
			return err_set(e, EX_USAGE_, "--chunk-size '%s': expected a size such as "
			    "16M, 512k or 1048576", arg);
		return 1;
	case REGOPT_RETRIES:
		if (parse_int(arg, 1, 100, &v) < 0)
			return err_set(e, EX_USAGE_, "--retries '%s': expected 1 to 100", arg);
		o->retries = (int)v;
		return 1;
	case REGOPT_RETRY_TIME:
		if (parse_duration(arg, &o->retry_time_ms, &why) < 0 || o->retry_time_ms <= 0)
			return err_set(e, EX_USAGE_, "--retry-time '%s': %s", arg,
			    why ? why : "expected a positive duration");
		return 1;
	case REGOPT_STALL_TIMEOUT:
		if (parse_duration(arg, &o->stall_timeout_ms, &why) < 0 ||
		    o->stall_timeout_ms < 1000)
			return err_set(e, EX_USAGE_, "--stall-timeout '%s': %s", arg,
			    why ? why : "expected a duration of at least 1s");
		return 1;
	case REGOPT_NO_CACHE:
		o->no_cache = 1;
		return 1;
	default:
		return 0;
	}
}

/* The first line of text, without its newline, as a fresh secret. */
static char *
first_line(const char *text, size_t len)
{
	size_t n = 0;

	while (n < len && text[n] != '\n' && text[n] != '\r')
		n++;
	return xstrndup(text, n);
}

int
registry_opts_finish(struct registry_opts *o, struct err *e)
{
	char *text = NULL;
	size_t len = 0;

	if (o->password_stdin && o->password_file)
		return err_set(e, EX_USAGE_, "give --password-stdin or --password-file, not both");
	if ((o->password_stdin || o->password_file) && !o->username)
		return err_set(e, EX_USAGE_, "--password-%s needs --username",
		    o->password_stdin ? "stdin" : "file");
	if (o->authfile && access(o->authfile, R_OK) != 0)
		return err_set(e, EX_USAGE_, "--authfile '%s': %s", o->authfile, strerror(errno));
	if (o->password_stdin) {
		struct buf b;
		char c[256];
		ssize_t n;

		buf_init(&b, 8192);
		while ((n = read(0, c, sizeof(c))) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 || buf_add(&b, c, (size_t)n) < 0) {
				memset(c, 0, sizeof(c));
				if (b.data)
					memset(b.data, 0, b.len);
				buf_free(&b);
				return err_set(e, n < 0 ? EX_IOERR_ : EX_USAGE_,
				    "--password-stdin: %s", n < 0 ? strerror(errno) :
				    "more than 8 KiB on stdin");
			}
			if (memchr(c, '\n', (size_t)n))
				break;
		}
		memset(c, 0, sizeof(c));
		len = b.len;
		text = buf_detach(&b, NULL);
	} else if (o->password_file) {
		if (!(text = read_file(o->password_file, 8192, &len, e)))
			return err_prefix(e, "--password-file");
	}
	if (text) {
		free_secret(o->password);
		o->password = first_line(text, len);
		memset(text, 0, len);
		free(text);
		if (!*o->password)
			return err_set(e, EX_USAGE_, "--password-%s: the password is empty",
			    o->password_stdin ? "stdin" : "file");
	}
	return 0;
}

void
registry_opts_free(struct registry_opts *o)
{
	strv_free(o->insecure);
	free(o->username);
	free_secret(o->password);
	o->insecure = NULL;
	o->username = NULL;
	o->password = NULL;
}

/* ---- hosts --------------------------------------------------------------- */

/* Split "host:port" / "[v6]:port" into its host part (lowercase). */
static void
host_part(const char *hp, char *out, size_t outsz)
{
	size_t n, i;

	if (hp[0] == '[') {
		const char *rb = strchr(hp, ']');

		n = rb ? (size_t)(rb - hp) + 1 : strlen(hp);
	} else {
		n = strcspn(hp, ":");
	}
	if (n >= outsz)
		n = outsz - 1;
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)hp[i]);
	out[n] = '\0';
}

static int
is_loopback(const char *host)
{
	return !strcmp(host, "localhost") || !strncmp(host, "127.", 4) ||
	    !strcmp(host, "[::1]") || !strcmp(host, "::1");
}

/* May hostport ("host", "host:port") be spoken to over plain HTTP? */
static int
http_allowed(const struct registry_opts *o, const char *hostport)
{
	char host[300], ent[300];
	size_t i;

	host_part(hostport, host, sizeof(host));
	if (!o->no_default_insecure && is_loopback(host))
		return 1;
	for (i = 0; o->insecure && o->insecure[i]; i++) {
		const char *x = o->insecure[i];

		if (!strcasecmp(x, hostport))
			return 1;
		host_part(x, ent, sizeof(ent));
		/* "host" alone allows every port of it */
		if (!strcmp(ent, x) && !strcmp(ent, host))
			return 1;
	}
	return 0;
}

struct host *
reg_host(struct registry *r, const struct image_ref *ref)
{
	struct host *h;
	size_t i;

	for (i = 0; i < r->nhosts; i++)
		if (!strcmp(r->hosts[i]->name, ref->registry))
			return r->hosts[i];
	h = xcalloc(1, sizeof(*h));
	h->name = xstrdup(ref->registry);
	h->api = xstrdup(ref_api_host(ref));
	h->allow_http = http_allowed(r->o, h->api) || http_allowed(r->o, h->name);
	r->hosts = xrealloc(r->hosts, (r->nhosts + 1) * sizeof(*r->hosts));
	r->hosts[r->nhosts++] = h;
	return h;
}

static void
host_free(struct host *h)
{
	free(h->name);
	free(h->api);
	free(h->base);
	free(h->realm);
	free(h->service);
	auth_creds_free(&h->creds);
	free_secret(h->basic);
	free(h);
}

/* ---- the client ------------------------------------------------------- */

struct registry *
registry_new(const struct registry_opts *o)
{
	struct registry *r = xcalloc(1, sizeof(*r));

	r->o = o;
	r->ho.ca_file = o->ca_file;
	r->ho.connect_timeout_ms = 10000;
	r->ho.stall_ms = o->stall_timeout_ms > 0 ? o->stall_timeout_ms : STALL_TIMEOUT_MS;
	r->ho.body_max = ERRBODY_MAX;
	return r;
}

/* The multi handle, made at the first transfer: a client that sends no
 * request (a build FROM scratch) never loads libcurl and its dozens of
 * libraries, tens of milliseconds. */
CURLM *
reg_multi(struct registry *r)
{
	if (!r->multi && (r->multi = curl_multi_init()) != NULL)
		curl_multi_setopt(r->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
		    (long)(r->o->host_conns > 0 ? r->o->host_conns :
		    REGISTRY_DEFAULT_HOST_CONNS));
	return r->multi;
}

void
registry_free(struct registry *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nhosts; i++)
		host_free(r->hosts[i]);
	free(r->hosts);
	auth_tokens_free(&r->tokens);
	if (r->multi)
		curl_multi_cleanup(r->multi);
	blobcache_free(&r->cache);
	free(r);
}

int
reg_retries(const struct registry *r)
{
	return r->o->retries > 0 ? r->o->retries : REGISTRY_DEFAULT_RETRIES;
}

static long long
opt_retry_time(const struct registry *r)
{
	return r->o->retry_time_ms > 0 ? r->o->retry_time_ms : REGISTRY_DEFAULT_RETRY_TIME_MS;
}

/* --retries and --retry-time: the one policy (core/retry.h) for every
 * request and every upload session. */
static void
retry_policy_of(const struct registry *r, struct retry_policy *p)
{
	p->max_attempts = reg_retries(r);
	p->base_ms = BACKOFF_BASE_MS;
	p->cap_ms = BACKOFF_CAP_MS;
	p->max_total_ms = opt_retry_time(r);
}

void
reg_progress(struct registry *r, int final)
{
	struct registry_progress p;
	long long now;

	if (!r->o->progress)
		return;
	now = mono_ms();
	if (!final && now - r->last_progress_ms < PROGRESS_EVERY_MS)
		return;
	r->last_progress_ms = now;
	p.op = r->op ? r->op : "push";
	p.bytes_done = r->bytes_moved < r->bytes_total ? r->bytes_moved : r->bytes_total;
	p.bytes_total = r->bytes_total;
	p.blobs_done = r->blobs_done;
	p.blobs_total = r->blobs_total;
	p.final = final;
	r->o->progress(&p, r->o->progress_arg);
}

/* ---- requests --------------------------------------------------------- */

void
reg_describe_status(const struct http_response *resp, char *out, size_t outsz)
{
	struct err pe;
	cJSON *j = NULL, *errs, *first;
	const char *code = NULL, *msg = NULL;

	if (resp->body.len && resp->body.len < ERRBODY_MAX)
		j = json_parse(buf_str(&resp->body), resp->body.len, NULL, NULL, &pe);
	errs = j ? cJSON_GetObjectItemCaseSensitive(j, "errors") : NULL;
	first = cJSON_IsArray(errs) ? cJSON_GetArrayItem(errs, 0) : NULL;
	if (cJSON_IsObject(first)) {
		code = json_str(first, "code");
		msg = json_str(first, "message");
	}
	if (code || msg)
		snprintf(out, outsz, "HTTP %ld (%.60s%s%.200s)", resp->status, code ? code : "",
		    code && msg ? ": " : "", msg ? msg : "");
	else
		snprintf(out, outsz, "HTTP %ld", resp->status);
	cJSON_Delete(j);
}

void
xfer_init(struct xfer *x, struct registry *r, struct host *h)
{
	memset(x, 0, sizeof(*x));
	x->r = r;
	x->h = h;
	x->fd = -1;
	x->sink_fd = -1;
	x->resp = (struct http_response)HTTP_RESPONSE_INIT;
}

static void
xfer_clear_request(struct xfer *x)
{
	size_t i;

	free(x->url);
	x->url = NULL;
	for (i = 0; i < x->nscopes; i++)
		free(x->scopes[i]);
	x->nscopes = 0;
	for (i = 0; i < x->nhdrs; i++)
		free(x->hdrs[i]);
	x->nhdrs = 0;
	x->body = BODY_NONE;
	x->mem = NULL;
	x->fd = -1;
	x->off = x->len = x->pos = 0;
	x->body_check = NULL;
	x->body_arg = NULL;
	x->body_refused = 0;
	x->simple_retry = 0;
	x->auth_soft = 0;
	x->body_max = 0;
	memset(&x->retry, 0, sizeof(x->retry));
	x->not_before_ms = 0;
	x->auth_rounds = 0;
	x->transient = 0;
	x->retry_after_ms = -1;
}

void
xfer_release(struct xfer *x)
{
	if (x->c) {
		if (x->in_flight) {
			curl_multi_remove_handle(x->r->multi, x->c);
			x->r->inflight--;
		}
		curl_easy_cleanup(x->c);
		x->c = NULL;
	}
	x->in_flight = 0;
	curl_slist_free_all(x->slist);
	x->slist = NULL;
	free_secret(x->auth_hdr);
	x->auth_hdr = NULL;
	if (x->sink_hashing) {
		char dummy[OCI_DIGEST_SIZE];

		sha256_final(&x->sink_hash, dummy);
		x->sink_hashing = 0;
	}
}

void
xfer_free(struct xfer *x)
{
	xfer_release(x);
	xfer_clear_request(x);
	http_response_free(&x->resp);
}

void
xfer_prepare(struct xfer *x, const char *method, char *url_taken, const char *what)
{
	xfer_release(x);
	xfer_clear_request(x);
	x->method = method;
	x->url = url_taken;
	x->what = what;
}

void
xfer_header(struct xfer *x, const char *fmt, ...)
{
	va_list ap;

	if (x->nhdrs == MAX_HDRS)
		return;
	va_start(ap, fmt);
	x->hdrs[x->nhdrs++] = xvasprintf(fmt, ap);
	va_end(ap);
}

void
xfer_scope(struct xfer *x, const char *repo, const char *actions)
{
	char *s;
	size_t i;

	if (x->nscopes == MAX_SCOPES)
		return;
	s = xasprintf("repository:%s:%s", repo, actions);
	for (i = 0; i < x->nscopes; i++)
		if (!strcmp(x->scopes[i], s)) {
			free(s);
			return;
		}
	x->scopes[x->nscopes++] = s;
}

static size_t
on_read(char *dst, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t want = size * n;
	long long left = x->len - x->pos;

	if (stopped(x->r))
		return CURL_READFUNC_ABORT;
	if (left <= 0)
		return 0;
	if ((long long)want > left)
		want = (size_t)left;
	if (x->body == BODY_MEM) {
		memcpy(dst, x->mem + x->off + x->pos, want);
	} else {
		ssize_t got;

		do
			got = pread(x->fd, dst, want, (off_t)(x->off + x->pos));
		while (got < 0 && errno == EINTR);
		if (got <= 0)
			return CURL_READFUNC_ABORT;
		want = (size_t)got;
		if (x->body_check && x->body_check(x->body_arg, (unsigned char *)dst, want,
		    x->off + x->pos, &x->body_err) < 0) {
			x->body_refused = 1;
			return CURL_READFUNC_ABORT;
		}
	}
	x->pos += (long long)want;
	if (x->body == BODY_FILE)
		x->r->bytes_moved += (long long)want;
	return want;
}

/* libcurl rewinds a body to send it again (a reused connection died). */
static int
on_seek(void *arg, curl_off_t off, int origin)
{
	struct xfer *x = arg;

	if (origin != SEEK_SET || off < 0 || off > x->len)
		return CURL_SEEKFUNC_CANTSEEK;
	x->pos = (long long)off;
	return CURL_SEEKFUNC_OK;
}

static size_t
on_sink(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n, done = 0;
	long status = 0;

	curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200 || x->sink_fd < 0) {
		if (buf_add(&x->resp.body, data, len) < 0) {
			x->resp.body_too_large = 1;
			return 0;
		}
		return len;
	}
	if (x->sink_max >= 0 && x->sunk + (long long)len > x->sink_max) {
		x->sink_errno = EFBIG;
		return 0;
	}
	while (done < len) {
		ssize_t w = write(x->sink_fd, data + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			x->sink_errno = w < 0 ? errno : EIO;
			return 0;
		}
		done += (size_t)w;
	}
	sha256_update(&x->sink_hash, data, len);
	x->sunk += (long long)len;
	x->r->bytes_moved += (long long)len;
	return len;
}

static int
same_origin_as_host(const struct xfer *x)
{
	return x->h->base && http_same_origin(x->url, x->h->base);
}

static int
load_creds(struct registry *r, struct host *h, struct err *e)
{
	struct auth_sources s;
	int rc;

	if (h->creds_state)
		return 0;
	s.username = r->o->username;
	s.password = r->o->password;
	s.authfile = r->o->authfile;
	rc = auth_find(&s, h->name, &h->creds, e);
	if (rc < 0)
		return -1;
	h->creds_state = rc ? 1 : 2;
	if (rc && h->creds.username && h->creds.password)
		h->basic = auth_basic(&h->creds);
	return 0;
}

static int
bearer_for(struct registry *r, struct xfer *x, const char **token, struct err *e)
{
	struct auth_token_req q;
	struct http_url realm;

	if (load_creds(r, x->h, e) < 0)
		return -1;
	memset(&q, 0, sizeof(q));
	q.realm = x->h->realm;
	q.service = x->h->service;
	q.scopes = x->scopes;
	q.nscopes = x->nscopes;
	q.creds = x->h->creds_state == 1 ? &x->h->creds : NULL;
	q.http = &r->ho;
	/* A realm that is no URL is auth_token_get()'s to refuse. */
	if (http_url_parse(x->h->realm, &realm) == 0) {
		q.allow_http = http_allowed(r->o, realm.hostport);
		http_url_free(&realm);
	}
	q.retries = reg_retries(r) < 3 ? reg_retries(r) : 3;
	q.retry_time_ms = opt_retry_time(r);
	return auth_token_get(&r->tokens, &q, token, e);
}

static void
drop_token(struct registry *r, struct xfer *x)
{
	struct auth_token_req q;

	memset(&q, 0, sizeof(q));
	q.realm = x->h->realm;
	q.service = x->h->service;
	q.scopes = x->scopes;
	q.nscopes = x->nscopes;
	q.creds = x->h->creds_state == 1 ? &x->h->creds : NULL;
	auth_token_drop(&r->tokens, &q);
}

/* Build the easy handle for x and add it to the multi handle. */
static int
xfer_start(struct xfer *x, struct err *e)
{
	struct registry *r = x->r;
	struct http_opts ho = r->ho;
	struct retry_policy p;
	long long left;
	CURL *c;
	size_t i;

	xfer_release(x);
	http_response_free(&x->resp);
	x->resp = (struct http_response)HTTP_RESPONSE_INIT;
	x->transient = 0;
	x->token_failed = 0;
	x->retry_after_ms = -1;
	if (x->body_max)
		ho.body_max = x->body_max;
	if (x->probe)
		ho.insecure_tls = 1;
	/*
	 * After a failure, the attempt must end within what is left of
	 * --retry-time.  A blob may rightly take longer than that to move,
	 * so only its stall timeout is cut; any other request is small.
	 */
	retry_policy_of(r, &p);
	if ((left = retry_left_ms(&p, &x->retry)) > 0) {
		if (x->body == BODY_FILE || x->sink_fd >= 0) {
			if (left < ho.stall_ms)
				ho.stall_ms = left;
		} else {
			ho.max_time_ms = left;
		}
	}
	/* Blobs and manifests are digested as they come and go. */
	if (curl_load(e) < 0 || crypto_load(e) < 0)
		return -1;
	c = x->c = http_easy(&ho, &x->resp);
	if (!c)
		return err_set(e, EX_INTERNAL, "cannot create a curl handle");
	curl_easy_setopt(c, CURLOPT_URL, x->url);
	curl_easy_setopt(c, CURLOPT_PRIVATE, x);
	for (i = 0; i < x->nhdrs; i++)
		x->slist = curl_slist_append(x->slist, x->hdrs[i]);
	x->slist = curl_slist_append(x->slist, "Expect:");
	/* Credentials go only to the registry's own origin. */
	if (same_origin_as_host(x)) {
		const char *tok = NULL;

		if (x->h->auth == AUTH_BASIC && x->h->basic) {
			x->auth_hdr = xasprintf("Authorization: %s", x->h->basic);
		} else if (x->h->auth == AUTH_BEARER && x->nscopes) {
			if (bearer_for(r, x, &tok, e) < 0) {
				x->token_failed = 1;
				return -1;
			}
			x->auth_hdr = xasprintf("Authorization: Bearer %s", tok);
		}
		if (x->auth_hdr)
			x->slist = curl_slist_append(x->slist, x->auth_hdr);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->slist);
	/* A probe ends after the TLS handshake: no request is sent. */
	if (x->probe)
		curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
	if (!strcmp(x->method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(x->method, "GET")) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else if (!strcmp(x->method, "POST") && x->body == BODY_NONE) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	} else if (!strcmp(x->method, "DELETE")) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
	} else {
		/* PUT and PATCH, with or without a body, stream through on_read. */
		x->pos = 0;
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, x);
		curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(c, CURLOPT_SEEKDATA, x);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->len);
		if (strcmp(x->method, "PUT") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, x->method);
	}
	if (x->sink_fd >= 0) {
		if (ftruncate(x->sink_fd, 0) != 0 || lseek(x->sink_fd, 0, SEEK_SET) < 0)
			return err_set(e, EX_IOERR_, "cannot truncate a download file: %s",
			    strerror(errno));
		sha256_init(&x->sink_hash);
		x->sink_hashing = 1;
		x->sunk = 0;
		x->sink_errno = 0;
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_sink);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	}
	if (!reg_multi(r) || curl_multi_add_handle(r->multi, c) != CURLM_OK)
		return err_set(e, EX_INTERNAL, "cannot add a transfer to the curl multi handle");
	x->in_flight = 1;
	r->inflight++;
	return 0;
}

int
xfer_backoff(struct xfer *x, struct err *e)
{
	struct retry_policy p;
	long long wait;

	retry_policy_of(x->r, &p);
	wait = retry_next(&p, &x->retry, x->retry_after_ms);
	if (wait < 0) {
		err_set(e, EX_SERVICE, "%s", x->terr.msg);
		if (x->retry.attempts > 1)
			err_prefix(e, "gave up after %d attempts", x->retry.attempts);
		return -1;
	}
	log_verbose("%s; retrying in %lld ms", x->terr.msg, wait);
	x->not_before_ms = mono_ms() + wait;
	return 0;
}

static int
is_transient_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_SEND_FAIL_REWIND:
		return 1;
	default:
		return 0;
	}
}

void
xfer_name(const struct xfer *x, char *out, size_t outsz)
{
	const char *q = strchr(x->url, '?');

	/* Query strings carry upload state, not worth printing. */
	snprintf(out, outsz, "%s %.*s", x->method, q ? (int)(q - x->url) : (int)strlen(x->url),
	    x->url);
}

/* Does the scope have ("repository:app:pull,push") grant every action
 * of want ("repository:app:pull")? */
static int
scope_covers(const char *have, const char *want)
{
	const char *ha = strrchr(have, ':'), *wa = strrchr(want, ':'), *p;

	if (!ha || !wa || ha - have != wa - want || strncmp(have, want, (size_t)(ha - have)) != 0)
		return 0;
	for (p = wa + 1; *p; ) {
		size_t n = strcspn(p, ","), i;
		const char *q = ha + 1;
		int found = 0;

		while (*q && !found) {
			i = strcspn(q, ",");
			found = i == n && !strncmp(q, p, n);
			q += i + (q[i] == ',');
		}
		if (!found)
			return 0;
		p += n + (p[n] == ',');
	}
	return 1;
}

/* Learn the challenge of a 401: scheme, realm, service; scopes it names
 * are added to x's, unless one of x's grants them already (so that a
 * HEAD asked for the push's scope shares the push's token).  *insufficient is set for error="insufficient_scope". */
static int
learn_challenge(struct xfer *x, int *insufficient, struct err *e)
{
	struct host *h = x->h;
	const char *wa = http_header(&x->resp, "WWW-Authenticate");
	struct http_challenge ch;
	char name[600];

	*insufficient = 0;
	xfer_name(x, name, sizeof(name));
	if (!wa || http_parse_challenge(wa, &ch) < 0)
		return err_set(e, EX_AUTH, "%s: HTTP 401 without a usable WWW-Authenticate "
		    "challenge", name);
	if (!strcasecmp(ch.scheme, "Basic")) {
		h->auth = AUTH_BASIC;
	} else if (!strcasecmp(ch.scheme, "Bearer")) {
		h->auth = AUTH_BEARER;
		*insufficient = ch.error && !strcmp(ch.error, "insufficient_scope");
		if (ch.realm) {
			free(h->realm);
			h->realm = ch.realm;
			ch.realm = NULL;
		}
		if (ch.service) {
			free(h->service);
			h->service = ch.service;
			ch.service = NULL;
		}
		if (ch.scope && !x->ping) {
			/* Several scopes may come space separated. */
			char *tok, *save = NULL;
			size_t i;

			for (tok = strtok_r(ch.scope, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
				int had = 0;

				for (i = 0; i < x->nscopes; i++)
					had |= scope_covers(x->scopes[i], tok);
				if (!had && x->nscopes < MAX_SCOPES)
					x->scopes[x->nscopes++] = xstrdup(tok);
			}
		}
	} else {
		err_set(e, EX_AUTH, "registry '%s' asks for '%.40s' authentication, which is "
		    "not supported", h->name, ch.scheme);
		http_challenge_free(&ch);
		return -1;
	}
	http_challenge_free(&ch);
	return 0;
}

/*
 * A 401 arrived.  Returns 0 to try again (with credentials or a fresh
 * token), 1 when the response is final for the caller, -1 on failure.
 */
static int
on_unauthorized(struct xfer *x, struct err *e)
{
	struct registry *r = x->r;
	struct host *h = x->h;
	char who[512], name[600];
	int insufficient, sent = x->auth_hdr != NULL;

	xfer_name(x, name, sizeof(name));
	if (!same_origin_as_host(x))
		return err_set(e, EX_AUTH, "%s: HTTP 401 from a host we send no credentials to",
		    name);
	if (learn_challenge(x, &insufficient, e) < 0)
		return -1;
	if (x->ping)
		return 1;
	if (load_creds(r, h, e) < 0)
		return -1;
	auth_describe(h->creds_state == 1 ? &h->creds : NULL, who, sizeof(who));
	x->auth_rounds++;
	if (h->auth == AUTH_BASIC) {
		if (h->creds_state != 1 || !h->basic)
			return err_set(e, EX_AUTH, "registry '%s' requires a login and no "
			    "credentials were found for it (--username, CI_REGISTRY_USER or an "
			    "auth file)", h->name);
		if (sent || x->auth_rounds > 1)
			return x->auth_soft ? 1 : err_set(e, EX_AUTH, "registry '%s' refused %s",
			    h->name, who);
		return 0;
	}
	if (sent)
		drop_token(r, x);
	if (x->auth_rounds > 2 || (sent && x->auth_rounds > 1)) {
		if (x->auth_soft)
			return 1;
		return err_set(e, EX_AUTH, "registry '%s' refused %s%s for '%s'", h->name, who,
		    insufficient ? " (insufficient scope)" : "",
		    x->nscopes ? x->scopes[0] : name);
	}
	return 0;
}

static int scheme_switched(struct xfer *x, CURLcode rc);

/*
 * A transfer of x ended with rc.  Returns XF_OK (the response is for the
 * caller; x->transient set when it is a transient failure the caller must
 * handle), XF_AGAIN (start x again at x->not_before_ms) or XF_FAIL.
 */
static int
xfer_done(struct xfer *x, CURLcode rc, struct err *e)
{
	struct err ce = { 0, "" };
	char name[600];
	long st;
	int fin;

	if (x->sink_hashing && rc != CURLE_OK) {
		char dummy[OCI_DIGEST_SIZE];

		sha256_final(&x->sink_hash, dummy);
		x->sink_hashing = 0;
	}
	if (x->c && x->in_flight) {
		curl_multi_remove_handle(x->r->multi, x->c);
		x->r->inflight--;
		x->in_flight = 0;
	}
	xfer_name(x, name, sizeof(name));
	if (stopped(x->r))
		return err_set(e, EX_TEMP, "interrupted"), XF_FAIL;
	fin = http_finish(x->c, rc, &x->resp, name, &ce);
	if (scheme_switched(x, rc)) {
		x->not_before_ms = 0;
		return XF_AGAIN;
	}
	if (fin < 0) {
		if (x->sink_errno)
			return err_set(e, EX_IOERR_, "%s: cannot store the download: %s", name,
			    strerror(x->sink_errno)), XF_FAIL;
		if (rc == CURLE_ABORTED_BY_CALLBACK && x->body_refused) {
			*e = x->body_err;
			return XF_FAIL;
		}
		if (rc == CURLE_ABORTED_BY_CALLBACK && x->body == BODY_FILE)
			return err_set(e, EX_IOERR_, "%s: cannot read the blob file: %s", name,
			    strerror(errno)), XF_FAIL;
		if (!is_transient_curl(rc)) {
			err_set(e, EX_SERVICE, "%s", ce.msg);
			return XF_FAIL;
		}
		x->terr = ce;
		x->transient = 1;
	} else {
		st = x->resp.status;
		if (st == 401) {
			int a = on_unauthorized(x, e);

			if (a < 0)
				return XF_FAIL;
			if (a > 0)
				return XF_OK;
			x->not_before_ms = 0;
			return XF_AGAIN;
		}
		if (st == 403 && !x->auth_soft) {
			char why[400];
			char who[512];

			reg_describe_status(&x->resp, why, sizeof(why));
			auth_describe(x->h->creds_state == 1 ? &x->h->creds : NULL, who, sizeof(who));
			return err_set(e, EX_AUTH, "%s: permission denied for %s: %s", name, who,
			    why), XF_FAIL;
		}
		if (st == 408 || st == 429 || (st >= 500 && st <= 599)) {
			char why[400];

			reg_describe_status(&x->resp, why, sizeof(why));
			err_set(&x->terr, EX_SERVICE, "%s: registry '%s' answered %s", name,
			    x->h->name, why);
			x->retry_after_ms = http_retry_after_ms(http_header(&x->resp, "Retry-After"));
			x->transient = 1;
		}
	}
	if (!x->transient)
		return XF_OK;
	if (!x->simple_retry)
		return XF_OK;
	if (xfer_backoff(x, e) < 0)
		return XF_FAIL;
	return XF_AGAIN;
}

/* Drive the multi handle once: wait up to wait_ms for activity, unless
 * a transfer already finished. */
static int
multi_step(struct registry *r, int wait_ms, struct err *e)
{
	int running = 0;

	if (!reg_multi(r) || curl_multi_perform(r->multi, &running) != CURLM_OK)
		return err_set(e, EX_INTERNAL, "curl multi handle failed");
	if (running < r->inflight)
		return 0;
	if (curl_multi_poll(r->multi, NULL, 0, wait_ms, NULL) != CURLM_OK)
		return err_set(e, EX_INTERNAL, "curl multi poll failed");
	if (curl_multi_perform(r->multi, &running) != CURLM_OK)
		return err_set(e, EX_INTERNAL, "curl multi handle failed");
	return 0;
}

/* Wait for x (started) to finish; *cc gets libcurl's result. */
static int
wait_one(struct xfer *x, CURLcode *cc, struct err *e)
{
	struct registry *r = x->r;
	CURLMsg *m;
	int left, done = 0;

	while (!done) {
		if (multi_step(r, 100, e) < 0)
			return -1;
		if (stopped(r)) {
			xfer_release(x);
			return err_set(e, EX_TEMP, "interrupted");
		}
		while ((m = curl_multi_info_read(r->multi, &left)) != NULL)
			if (m->msg == CURLMSG_DONE && m->easy_handle == x->c) {
				*cc = m->data.result;
				done = 1;
			}
		reg_progress(r, 0);
	}
	return 0;
}

int
xfer_run(struct xfer *x, struct err *e)
{
	struct registry *r = x->r;

	for (;;) {
		CURLcode cc = CURLE_OK;
		int st;

		while (x->not_before_ms > mono_ms()) {
			long long w = x->not_before_ms - mono_ms();

			if (stopped(r))
				return err_set(e, EX_TEMP, "interrupted");
			sleep_ms(w > 100 ? 100 : w, NULL);
		}
		if (xfer_start(x, e) < 0 || wait_one(x, &cc, e) < 0)
			return -1;
		st = xfer_done(x, cc, e);
		if (st == XF_FAIL)
			return -1;
		if (st == XF_OK)
			return 0;
	}
}

/* ---- tasks ----------------------------------------------------------------- */

int
reg_run_tasks(struct registry *r, struct task **tasks, size_t n, int parallel, struct err *e)
{
	size_t next = 0, i, active = 0, finished = 0;
	int rc = 0;

	while (finished < n) {
		CURLMsg *m;
		int left;
		long long now = mono_ms(), wake = now + 100;

		if (stopped(r)) {
			rc = err_set(e, EX_TEMP, "interrupted");
			break;
		}
		while (next < n && active < (size_t)parallel) {
			struct task *t = tasks[next++];
			int s;

			active++;
			s = t->step(t, e);
			if (s < 0) {
				rc = -1;
				goto out;
			}
			if (s == 0) {
				t->finished = 1;
				finished++;
				active--;
			}
		}
		/* Start what is ready; note when the next one will be. */
		for (i = 0; i < next; i++) {
			struct task *t = tasks[i];

			if (t->finished || t->x.in_flight)
				continue;
			if (t->x.not_before_ms > now) {
				if (t->x.not_before_ms < wake)
					wake = t->x.not_before_ms;
				continue;
			}
			if (xfer_start(&t->x, e) < 0) {
				rc = -1;
				goto out;
			}
		}
		if (finished == n)
			break;
		if (multi_step(r, (int)(wake - now > 0 ? wake - now : 0), e) < 0) {
			rc = -1;
			goto out;
		}
		while ((m = curl_multi_info_read(r->multi, &left)) != NULL) {
			struct xfer *x = NULL;
			struct task *t = NULL;
			int st, s;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			for (i = 0; i < next && x; i++)
				if (&tasks[i]->x == x)
					t = tasks[i];
			if (!t)
				continue;
			st = xfer_done(x, m->data.result, e);
			if (st == XF_FAIL) {
				rc = -1;
				goto out;
			}
			if (st == XF_AGAIN)
				continue;
			s = t->step(t, e);
			if (s < 0) {
				rc = -1;
				goto out;
			}
			if (s == 0) {
				xfer_release(&t->x);
				t->finished = 1;
				finished++;
				active--;
			}
		}
		reg_progress(r, 0);
	}
out:
	for (i = 0; i < n; i++)
		xfer_release(&tasks[i]->x);
	return rc;
}

/* ---- hosts: scheme and ping ----------------------------------------------- */

/*
 * Learn the scheme of h without sending a request: https, or http where
 * allowed and the server does not speak TLS at all (a TLS handshake
 * tells, without loading the CAs for nothing: a TLS server then gets
 * verified requests).  h->probe_cc keeps what the handshake gave, for
 * the ping's messages.
 */
int
reg_host_scheme(struct registry *r, struct host *h, struct err *e)
{
	struct xfer x;
	char *known;
	int rc = 0;

	if (h->base)
		return 0;
	h->base = xasprintf("https://%s", h->api);
	h->probe_cc = CURLE_OK;
	if (!h->allow_http)
		return 0;
	if (!h->scheme_doubted && (known = schemecache_get(r, h->api))) {
		free(h->base);
		h->base = xasprintf("%s://%s", known, h->api);
		h->scheme_remembered = 1;
		free(known);
		return 0;
	}
	xfer_init(&x, r, h);
	xfer_prepare(&x, "GET", xasprintf("%s/v2/", h->base), "ping");
	x.probe = 1;
	if (xfer_start(&x, e) < 0 || wait_one(&x, &h->probe_cc, e) < 0) {
		free(h->base);
		h->base = NULL;
		rc = -1;
	} else if (h->probe_cc == CURLE_SSL_CONNECT_ERROR) {
		free(h->base);
		h->base = xasprintf("http://%s", h->api);
		log_verbose("registry '%s' does not speak TLS; using plain HTTP", h->name);
		if (!h->scheme_doubted)
			schemecache_put(r, h->api, "http");
	} else if (h->probe_cc == CURLE_OK && !h->scheme_doubted) {
		schemecache_put(r, h->api, "https");
	}
	xfer_free(&x);
	return rc;
}

/* ---- a HEAD without libcurl ---------------------------------------------- */

#define PLAIN_HEAD_MAX (16u << 10)
#define PLAIN_HEAD_MS 2000

/* A connected socket to host:port, or -1. */
static int
plain_connect(const char *host, const char *port, long long deadline)
{
	struct addrinfo hints, *ai, *a;
	int fd = -1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -1;
	for (a = ai; a && fd < 0; a = a->ai_next)
		fd = sock_connect(a->ai_family, a->ai_addr, a->ai_addrlen, deadline);
	freeaddrinfo(ai);
	return fd;
}

/* The value of header name in the header block head (lines ending in
 * CRLF), copied, or NULL. */
static char *
plain_header(const char *head, const char *name)
{
	size_t n = strlen(name);
	const char *p = strstr(head, "\r\n"), *v, *end;

	while (p && p[2] != '\r') {
		p += 2;
		end = strstr(p, "\r\n");
		if (!end)
			return NULL;
		if ((size_t)(end - p) > n && p[n] == ':' && !strncasecmp(p, name, n)) {
			for (v = p + n + 1; v < end && (*v == ' ' || *v == '\t'); v++)
				;
			while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			return xstrndup(v, (size_t)(end - v));
		}
		p = end;
	}
	return NULL;
}

/*
 * (registry_int.h) The answer to reg_plain_head()'s HEAD: len bytes of
 * buf (a NUL after them), which hold a whole header block.  1 with
 * *status (200 or 404) and *digest (Docker-Content-Digest, or NULL) when
 * it is a registry's (Docker-Distribution-API-Version); 0 for anything
 * else.
 */
int
reg_plain_answer(const char *buf, size_t len, int *status, char **digest)
{
	char *end, *api;
	int code;

	*status = 0;
	*digest = NULL;
	if (memchr(buf, '\0', len) || !strstr(buf, "\r\n\r\n") || strncmp(buf, "HTTP/1.", 7) != 0 ||
	    !isdigit((unsigned char)buf[7]) || buf[8] != ' ')
		return 0;
	code = (int)strtol(buf + 9, &end, 10);
	if (end != buf + 12 || (*end != ' ' && *end != '\r') || (code != 200 && code != 404))
		return 0;
	if (!(api = plain_header(buf, "Docker-Distribution-API-Version")))
		return 0;
	free(api);
	*status = code;
	*digest = code == 200 ? plain_header(buf, "Docker-Content-Digest") : NULL;
	return 1;
}

/*
 * (registry_int.h) HEAD url (http://HOST[:PORT]/PATH) over a plain socket, for the one
 * question of a push whose every piece may already be there: does the
 * registry hold this manifest?  Loading libcurl and its libraries costs
 * more than the whole answer on a loopback registry.  Taken only where
 * nothing calls for libcurl: a host known to speak plain HTTP (the
 * scheme cache), no proxy in the environment, no credentials for the
 * host.  1 with *status (200 or 404) and *digest (Docker-Content-Digest,
 * or NULL) when a registry answered (Docker-Distribution-API-Version);
 * 0 for anything else (a refused or slow connection, a 401, a redirect,
 * an answer not a registry's): the caller asks again through libcurl,
 * which reports, authenticates and follows as on every request.
 */
int
reg_plain_head(struct registry *r, struct host *h, const char *url, int *status, char **digest)
{
	static const char *const proxies[] = { "http_proxy", "all_proxy", "ALL_PROXY", NULL };
	const char *hp, *path, *colon;
	char *host = NULL, *port = NULL, *req = NULL;
	char buf[PLAIN_HEAD_MAX + 1];
	size_t got = 0, i;
	long long deadline;
	int fd = -1, ok = 0;
	struct err e = { 0, "" };

	*status = 0;
	*digest = NULL;
	for (i = 0; proxies[i]; i++)
		if (getenv(proxies[i]) && *getenv(proxies[i]))
			return 0;
	if (!h->scheme_remembered || strncmp(url, "http://", 7) != 0 ||
	    load_creds(r, h, &e) < 0 || h->creds_state == 1)
		return 0;
	hp = url + 7;
	if (!(path = strchr(hp, '/')))
		return 0;
	if (*hp == '[') {
		const char *rb = memchr(hp, ']', (size_t)(path - hp));

		if (!rb)
			return 0;
		host = xstrndup(hp + 1, (size_t)(rb - hp - 1));
		colon = rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(hp, ':', (size_t)(path - hp));
		host = xstrndup(hp, (size_t)((colon ? colon : path) - hp));
	}
	port = colon ? xstrndup(colon + 1, (size_t)(path - colon - 1)) : xstrdup("80");
	deadline = mono_ms() + PLAIN_HEAD_MS;
	if ((fd = plain_connect(host, port, deadline)) < 0)
		goto out;
	req = xasprintf("HEAD %s HTTP/1.1\r\nHost: %.*s\r\nUser-Agent: ci-tools/%s\r\n%s\r\n"
	    "Connection: close\r\n\r\n", path, (int)(path - hp), hp, ci_version, MANIFEST_ACCEPT);
	if (sock_send_all(fd, req, strlen(req), deadline) < 0)
		goto out;
	for (;;) {
		ssize_t n;

		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
		if (got == PLAIN_HEAD_MAX)
			goto out;
		n = recv(fd, buf + got, PLAIN_HEAD_MAX - got, 0);
		if (n > 0)
			got += (size_t)n;
		else if (n < 0 && errno == EAGAIN && fd_wait(fd, POLLIN, deadline) > 0)
			continue;
		else if (!(n < 0 && errno == EINTR))
			goto out;
	}
	ok = reg_plain_answer(buf, got, status, digest);
out:
	if (!ok)
		log_verbose("HEAD %s without libcurl: no plain answer; asking through libcurl", url);
	if (fd >= 0)
		close(fd);
	free(req);
	free(host);
	free(port);
	return ok;
}

/*
 * The first answer over a remembered scheme (reg_host_scheme()): 1 when
 * it shows the other scheme is spoken now, the entry forgotten, h->base
 * and x->url switched to it (as the TLS probe would have found); else 0,
 * and an answer that is HTTP over the scheme confirms it.  A TLS server
 * answers plain HTTP with a bare 400 (Go's net/http, which a registry
 * sends with its Docker-Distribution-API-Version header) or nothing at
 * all; a plain-HTTP server answers a TLS handshake with a 400, which
 * OpenSSL reports as a connect error.
 */
static int
scheme_switched(struct xfer *x, CURLcode rc)
{
	struct host *h = x->h;
	int tls = !strncmp(h->base, "https:", 6);
	size_t blen = strlen(h->base);
	char *base, *url;

	if (!h->scheme_remembered || x->probe)
		return 0;
	if (rc == CURLE_OK && (tls || x->resp.status != 400 ||
	    http_header(&x->resp, "Docker-Distribution-API-Version"))) {
		h->scheme_remembered = 0;
		return 0;
	}
	if (!(tls ? rc == CURLE_SSL_CONNECT_ERROR : rc == CURLE_OK || rc == CURLE_GOT_NOTHING ||
	    rc == CURLE_RECV_ERROR || rc == CURLE_WEIRD_SERVER_REPLY))
		return 0;
	if (strncmp(x->url, h->base, blen) != 0)
		return 0;
	base = xasprintf("%s://%s", tls ? "http" : "https", h->api);
	url = xasprintf("%s%s", base, x->url + blen);
	log_verbose("registry '%s' no longer speaks %s; using %s", h->name,
	    tls ? "TLS" : "plain HTTP", tls ? "plain HTTP" : "HTTPS");
	free(h->base);
	h->base = base;
	free(x->url);
	x->url = url;
	h->scheme_remembered = 0;
	h->scheme_doubted = 1;
	schemecache_put(x->r, h->api, NULL);
	return 1;
}

/*
 * Learn the scheme (reg_host_scheme()) and the auth challenge, and check
 * that the host answers GET /v2/ as a registry does.
 */
int
reg_host_ping(struct registry *r, struct host *h, struct err *e)
{
	struct xfer x;
	CURLcode cc = CURLE_OK;
	int st;

	if (h->pinged)
		return 0;
	if (reg_host_scheme(r, h, e) < 0)
		return -1;
	xfer_init(&x, r, h);
	xfer_prepare(&x, "GET", xasprintf("%s/v2/", h->base), "ping");
	x.simple_retry = 1;
	x.ping = 1;
	if (h->allow_http) {
		if (xfer_run(&x, e) < 0) {
			/* Nothing listening is not a TLS problem: say which it is. */
			cc = h->probe_cc;
			if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
			    cc == CURLE_OPERATION_TIMEDOUT)
				err_prefix(e, "cannot reach registry '%s'", h->name);
			else if (!strncmp(h->base, "https:", 6))
				err_prefix(e, "no TLS connection to registry '%s'%s", h->name,
				    r->o->ca_file ? "" : " (--ca-file adds a CA to trust)");
			goto fail;
		}
	} else {
		/* The first try tells a TLS problem from a passing one. */
		if (xfer_start(&x, e) < 0 || wait_one(&x, &cc, e) < 0)
			goto fail;
		if (cc == CURLE_SSL_CONNECT_ERROR && strstr(x.resp.errbuf, "wrong version number")) {
			err_set(e, EX_SERVICE, "registry '%s' does not speak TLS (%s); plain HTTP is "
			    "allowed only for localhost, 127.0.0.0/8, [::1] and hosts named with "
			    "--insecure-registry", h->name, x.resp.errbuf);
			goto fail;
		}
		st = xfer_done(&x, cc, e);
		if (st == XF_FAIL) {
			if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
			    cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_SSL_CERTPROBLEM)
				err_prefix(e, "no TLS connection to registry '%s'%s", h->name,
				    r->o->ca_file ? "" : " (--ca-file adds a CA to trust)");
			goto fail;
		}
		if (st == XF_AGAIN && xfer_run(&x, e) < 0)
			goto fail;
	}
	if (x.resp.status == 200) {
		/* open, unless it took the credentials a HEAD learnt it wants */
		if (!x.auth_hdr)
			h->auth = AUTH_NONE;
	} else if (x.resp.status != 401) {
		char why[400];

		reg_describe_status(&x.resp, why, sizeof(why));
		err_set(e, EX_SERVICE, "'%s' does not look like an OCI registry: GET %s/v2/ "
		    "answered %s", h->name, h->base, why);
		goto fail;
	}
	h->pinged = 1;
	xfer_free(&x);
	return 0;
fail:
	/* Ping again next time rather than trust a half-learnt scheme. */
	free(h->base);
	h->base = NULL;
	xfer_free(&x);
	return -1;
}

/* ---- what push and pull share ------------------------------------------- */

char *
reg_repo_url(const struct target *tg, const char *fmt, const char *arg)
{
	char *tail = xasprintf(fmt, arg);
	char *u = xasprintf("%s/v2/%s/%s", tg->h->base, tg->ref.repository, tail);

	free(tail);
	return u;
}

const char *
reg_manifest_type(const struct oci_desc *d, const struct oci_manifest *m)
{
	if (m->media_type && *m->media_type)
		return m->media_type;
	if (d->media_type && *d->media_type)
		return d->media_type;
	return m->is_index ? MT_OCI_INDEX : MT_OCI_MANIFEST;
}
