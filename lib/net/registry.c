/*
 * registry.c: the OCI Distribution client.
 *
 * Every request is a struct xfer run on one curl multi handle (so
 * connections are pooled for the whole client).  xfer_done() applies the
 * rules every request shares -- auth challenges, transient failures and
 * backoff -- and hands the final response to the caller.  Work that takes
 * several requests (a blob push: HEAD, mount, POST, PUT or PATCHes) is a
 * struct task: a small state machine whose step() looks at the response
 * and prepares the next request.  engine_run() drives many tasks at once.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net/auth.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "net/http.h"
#include "core/json.h"
#include "core/retry.h"
#include "core/size.h"
#include "net/registry.h"
#include "core/timeutil.h"

#define MANIFEST_MAX (4u << 20)
#define ERRBODY_MAX (64u << 10)
#define CACHE_FILE "blob-locations.json"
#define CACHE_MAX_BYTES (16u << 20)
#define CACHE_MAX_DIGESTS 20000
#define CACHE_MAX_REPOS 8
#define MAX_MOUNT_TRIES 2
#define PROGRESS_EVERY_MS 100
#define MAX_SCOPES 4
#define MAX_HDRS 6
#define BACKOFF_BASE_MS 250
#define BACKOFF_CAP_MS 10000
#define MANIFEST_ACCEPT "Accept: " MT_OCI_MANIFEST ", " MT_OCI_INDEX ", " \
	MT_DOCKER_MANIFEST ", " MT_DOCKER_LIST

enum { AUTH_UNKNOWN, AUTH_NONE, AUTH_BASIC, AUTH_BEARER };
enum { BODY_NONE, BODY_MEM, BODY_FILE };
enum { XF_OK, XF_AGAIN, XF_FAIL };

struct host {
	char *name;			/* as in references: "localhost:5000", "docker.io" */
	char *api;			/* where to connect: "registry-1.docker.io" for docker.io */
	char *base;			/* "https://API" or "http://API", once pinged */
	int allow_http;
	int auth;			/* AUTH_* from the /v2/ challenge */
	char *realm, *service;
	int creds_state;		/* 0 not looked up, 1 found, 2 none */
	struct auth_creds creds;
	char *basic;			/* "Basic ..." (secret) */
};

struct registry;

struct xfer {
	struct registry *r;
	struct host *h;
	const char *method;		/* static string */
	char *url;
	char *scopes[MAX_SCOPES];
	size_t nscopes;
	char *hdrs[MAX_HDRS];
	size_t nhdrs;
	int body;			/* BODY_* */
	const char *mem;		/* BODY_MEM (borrowed) */
	int fd;				/* BODY_FILE: borrowed fd */
	long long off, len, pos;
	int sink_fd;			/* downloads: >= 0 to store a 200 body there */
	struct sha256 sink_hash;
	int sink_hashing;
	long long sunk, sink_max;
	int sink_errno;
	size_t body_max;		/* response body cap; 0: ERRBODY_MAX */
	int simple_retry;		/* retry transient failures here */
	int ping;			/* GET /v2/: a 401 is an answer, not a failure */
	int probe;			/* only asks whether TLS is spoken: no verification */
	int auth_soft;			/* hand 401/403 back instead of failing */
	const char *what;		/* for messages: "HEAD blob sha256:..." */

	CURL *c;
	struct curl_slist *slist;
	char *auth_hdr;			/* secret */
	struct http_response resp;
	int in_flight;

	struct retry_state retry;	/* transient failures of this request */
	long long not_before_ms;
	int auth_rounds;
	int transient;			/* the response is a transient failure */
	long long retry_after_ms;
	struct err terr;		/* what the last transient failure was */
};

struct registry {
	const struct registry_opts *o;
	struct http_opts ho;
	CURLM *multi;
	struct host **hosts;
	size_t nhosts;
	struct auth_tokens tokens;
	/* progress */
	const char *op;
	long long bytes_moved, bytes_total, last_progress_ms;
	int blobs_done, blobs_total;
	int inflight;			/* easy handles in the multi handle */
	/* blob-location cache: {"sha256:...": ["host/repo", ...]} */
	cJSON *cache;
	cJSON *cache_add;		/* what this run learnt, merged on save */
	int cache_loaded;
};

static int stopped(const struct registry *r)
{
	return r->o->stop && *r->o->stop;
}

/* ---- options ---------------------------------------------------------- */

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
	size_t n = 0;

	switch (opt) {
	case REGOPT_INSECURE:
		if (!*arg || strchr(arg, '/') || strchr(arg, ' '))
			return err_set(e, EX_USAGE_, "--insecure-registry '%s': expected HOST or "
			    "HOST:PORT", arg);
		while (o->insecure && o->insecure[n])
			n++;
		o->insecure = xrealloc(o->insecure, (n + 2) * sizeof(*o->insecure));
		o->insecure[n] = xstrdup(arg);
		o->insecure[n + 1] = NULL;
		return 1;
	case REGOPT_CA_FILE:
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
	if (o->ca_file && access(o->ca_file, R_OK) != 0)
		return err_set(e, EX_USAGE_, "--ca-file '%s': %s", o->ca_file, strerror(errno));
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
	size_t i;

	for (i = 0; o->insecure && o->insecure[i]; i++)
		free(o->insecure[i]);
	free(o->insecure);
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

static struct host *
host_get(struct registry *r, const struct image_ref *ref)
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

	curl_global_init(CURL_GLOBAL_DEFAULT);
	r->o = o;
	r->ho.ca_file = o->ca_file;
	r->ho.connect_timeout_ms = 10000;
	r->ho.body_max = ERRBODY_MAX;
	r->multi = curl_multi_init();
	if (r->multi) {
		curl_multi_setopt(r->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
		    (long)(o->host_conns > 0 ? o->host_conns : REGISTRY_DEFAULT_HOST_CONNS));
	}
	return r;
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
	cJSON_Delete(r->cache);
	cJSON_Delete(r->cache_add);
	free(r);
	curl_global_cleanup();
}

static int
opt_retries(const struct registry *r)
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
	p->max_attempts = opt_retries(r);
	p->base_ms = BACKOFF_BASE_MS;
	p->cap_ms = BACKOFF_CAP_MS;
	p->max_total_ms = opt_retry_time(r);
}

static void
progress(struct registry *r, int final)
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

/* "HTTP 400 (DIGEST_INVALID: provided digest did not match)" */
static void
describe_status(const struct http_response *resp, char *out, size_t outsz)
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

static void
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
	x->simple_retry = 0;
	x->auth_soft = 0;
	x->body_max = 0;
	memset(&x->retry, 0, sizeof(x->retry));
	x->not_before_ms = 0;
	x->auth_rounds = 0;
	x->transient = 0;
	x->retry_after_ms = -1;
}

static void
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

static void
xfer_free(struct xfer *x)
{
	xfer_release(x);
	xfer_clear_request(x);
	http_response_free(&x->resp);
}

/* Prepare a new request (forgetting the previous one). */
static void
xfer_prepare(struct xfer *x, const char *method, char *url_taken, const char *what)
{
	xfer_release(x);
	xfer_clear_request(x);
	x->method = method;
	x->url = url_taken;
	x->what = what;
}

static void
xfer_header(struct xfer *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
xfer_header(struct xfer *x, const char *fmt, ...)
{
	va_list ap;

	if (x->nhdrs == MAX_HDRS)
		return;
	va_start(ap, fmt);
	x->hdrs[x->nhdrs++] = xvasprintf(fmt, ap);
	va_end(ap);
}

static void
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
	q.retries = opt_retries(r) < 3 ? opt_retries(r) : 3;
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
	CURL *c;
	size_t i;

	xfer_release(x);
	http_response_free(&x->resp);
	x->resp = (struct http_response)HTTP_RESPONSE_INIT;
	x->transient = 0;
	x->retry_after_ms = -1;
	if (x->body_max)
		ho.body_max = x->body_max;
	if (x->probe)
		ho.insecure_tls = 1;
	c = x->c = http_easy(&ho, &x->resp);
	if (!c)
		return err_set(e, EX_INTERNAL, "cannot create a curl handle");
	curl_easy_setopt(c, CURLOPT_URL, x->url);
	curl_easy_setopt(c, CURLOPT_PRIVATE, x);
	/* A stalled transfer fails instead of hanging forever. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
	    (long)((r->o->timeout_ms > 0 ? r->o->timeout_ms : 60000) / 1000));
	for (i = 0; i < x->nhdrs; i++)
		x->slist = curl_slist_append(x->slist, x->hdrs[i]);
	x->slist = curl_slist_append(x->slist, "Expect:");
	/* Credentials go only to the registry's own origin. */
	if (same_origin_as_host(x)) {
		const char *tok = NULL;

		if (x->h->auth == AUTH_BASIC && x->h->basic) {
			x->auth_hdr = xasprintf("Authorization: %s", x->h->basic);
		} else if (x->h->auth == AUTH_BEARER && x->nscopes) {
			if (bearer_for(r, x, &tok, e) < 0)
				return -1;
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
	if (curl_multi_add_handle(r->multi, c) != CURLM_OK)
		return err_set(e, EX_INTERNAL, "cannot add a transfer to the curl multi handle");
	x->in_flight = 1;
	r->inflight++;
	return 0;
}

/*
 * A transient failure happened (x->terr says what): schedule the next
 * attempt, or fail when the attempts or the time are used up.
 */
static int
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

/* Say what x is for messages: "PUT http://h/v2/app/manifests/v1". */
static void
xfer_name(const struct xfer *x, char *out, size_t outsz)
{
	const char *q = strchr(x->url, '?');

	/* Query strings carry upload state, not worth printing. */
	snprintf(out, outsz, "%s %.*s", x->method, q ? (int)(q - x->url) : (int)strlen(x->url),
	    x->url);
}

/* Learn the challenge of a 401: scheme, realm, service; scopes it names
 * are added to x's.  *insufficient is set for error="insufficient_scope". */
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
					had |= !strcmp(x->scopes[i], tok);
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
	if (http_finish(x->c, rc, &x->resp, name, &ce) < 0) {
		if (x->sink_errno)
			return err_set(e, EX_IOERR_, "%s: cannot store the download: %s", name,
			    strerror(x->sink_errno)), XF_FAIL;
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

			describe_status(&x->resp, why, sizeof(why));
			auth_describe(x->h->creds_state == 1 ? &x->h->creds : NULL, who, sizeof(who));
			return err_set(e, EX_AUTH, "%s: permission denied for %s: %s", name, who,
			    why), XF_FAIL;
		}
		if (st == 408 || st == 429 || (st >= 500 && st <= 599)) {
			char why[400];

			describe_status(&x->resp, why, sizeof(why));
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

	if (curl_multi_perform(r->multi, &running) != CURLM_OK)
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
		progress(r, 0);
	}
	return 0;
}

/* Run one request to its final response (retries and auth included). */
static int
run_one(struct xfer *x, struct err *e)
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

struct task {
	/* Prepare the next request in t->x (return 1), finish (0) or fail (-1).
	 * Called first with no response, then after each final response. */
	int (*step)(struct task *t, struct err *e);
	struct xfer x;
	int state;
	int started;
	int finished;
	void *arg;
};

/*
 * Run tasks, at most parallel at once.  On the first failure the rest are
 * stopped and e says what failed.
 */
static int
engine_run(struct registry *r, struct task **tasks, size_t n, int parallel, struct err *e)
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

			t->started = 1;
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
		progress(r, 0);
	}
out:
	for (i = 0; i < n; i++)
		xfer_release(&tasks[i]->x);
	return rc;
}

/* ---- hosts: ping ----------------------------------------------------------- */

/*
 * GET /v2/ once per host: learn the scheme (https, or http where allowed
 * and the server does not speak TLS) and the auth challenge.
 */
static int
host_ping(struct registry *r, struct host *h, struct err *e)
{
	struct xfer x;
	CURLcode cc = CURLE_OK;
	int st;

	if (h->base)
		return 0;
	xfer_init(&x, r, h);
	h->base = xasprintf("https://%s", h->api);
	xfer_prepare(&x, "GET", xasprintf("%s/v2/", h->base), "ping");
	x.simple_retry = 1;
	x.ping = 1;
	if (h->allow_http) {
		/*
		 * May it be plain HTTP?  A TLS handshake tells whether TLS is
		 * spoken at all, without loading the CAs for nothing and
		 * without sending a request: a TLS server then gets a
		 * verified ping below.
		 */
		x.probe = 1;
		if (xfer_start(&x, e) < 0 || wait_one(&x, &cc, e) < 0)
			goto fail;
		x.probe = 0;
		xfer_release(&x);
		if (cc == CURLE_SSL_CONNECT_ERROR) {
			free(h->base);
			h->base = xasprintf("http://%s", h->api);
			free(x.url);
			x.url = xasprintf("%s/v2/", h->base);
			log_verbose("registry '%s' does not speak TLS; using plain HTTP", h->name);
		}
		if (run_one(&x, e) < 0) {
			/* Nothing listening is not a TLS problem: say which it is. */
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
		if (st == XF_AGAIN && run_one(&x, e) < 0)
			goto fail;
	}
	if (x.resp.status == 200) {
		h->auth = AUTH_NONE;
	} else if (x.resp.status != 401) {
		char why[400];

		describe_status(&x.resp, why, sizeof(why));
		err_set(e, EX_SERVICE, "'%s' does not look like an OCI registry: GET %s/v2/ "
		    "answered %s", h->name, h->base, why);
		goto fail;
	}
	xfer_free(&x);
	return 0;
fail:
	/* Ping again next time rather than trust a half-learnt scheme. */
	free(h->base);
	h->base = NULL;
	xfer_free(&x);
	return -1;
}

/* ---- the blob-location cache --------------------------------------------- */

static char *
cache_path(const struct registry *r)
{
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	if (r->o->cache_dir)
		return xasprintf("%s/%s", r->o->cache_dir, CACHE_FILE);
	if (x && *x)
		return xasprintf("%s/ci-tools/%s", x, CACHE_FILE);
	if (home && *home)
		return xasprintf("%s/.cache/ci-tools/%s", home, CACHE_FILE);
	return NULL;
}

/* Read the cache; a missing, unreadable or damaged one is just empty. */
static cJSON *
cache_read(const char *path)
{
	struct err e;
	char *text;
	size_t len;
	cJSON *j = NULL;

	if (path && path_exists(path) && (text = read_file(path, CACHE_MAX_BYTES, &len, &e))) {
		j = json_parse(text, len, NULL, NULL, &e);
		free(text);
	}
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		j = cJSON_CreateObject();
	}
	return j;
}

static void
cache_load(struct registry *r)
{
	char *path;

	if (r->cache_loaded || r->o->no_cache)
		return;
	r->cache_loaded = 1;
	path = cache_path(r);
	r->cache = cache_read(path);
	free(path);
}

/* Record that digest is in "registry/repo" (most recent first). */
static void
cache_note_in(cJSON *c, const char *digest, const char *where)
{
	cJSON *list = cJSON_DetachItemFromObjectCaseSensitive(c, digest), *it, *next;
	int n = 0;

	if (!cJSON_IsArray(list)) {
		cJSON_Delete(list);
		list = cJSON_CreateArray();
	}
	for (it = list->child; it; it = next) {
		next = it->next;
		if (!cJSON_IsString(it) || !strcmp(it->valuestring, where) || ++n >= CACHE_MAX_REPOS)
			cJSON_Delete(cJSON_DetachItemViaPointer(list, it));
	}
	if (list->child)
		cJSON_InsertItemInArray(list, 0, cJSON_CreateString(where));
	else
		cJSON_AddItemToArray(list, cJSON_CreateString(where));
	/* Moved to the end: the oldest entries are first to go. */
	cJSON_AddItemToObject(c, digest, list);
	while (cJSON_GetArraySize(c) > CACHE_MAX_DIGESTS)
		cJSON_Delete(cJSON_DetachItemViaPointer(c, c->child));
}

static void
cache_note(struct registry *r, const char *digest, const struct host *h, const char *repo)
{
	char *where;

	cJSON *list, *first;

	if (r->o->no_cache)
		return;
	cache_load(r);
	where = xasprintf("%s/%s", h->name, repo);
	/* Already the latest news: nothing to write. */
	list = cJSON_GetObjectItemCaseSensitive(r->cache, digest);
	first = cJSON_IsArray(list) ? list->child : NULL;
	if (cJSON_IsString(first) && !strcmp(first->valuestring, where)) {
		free(where);
		return;
	}
	if (!r->cache_add)
		r->cache_add = cJSON_CreateObject();
	cache_note_in(r->cache, digest, where);
	cache_note_in(r->cache_add, digest, where);
	free(where);
}

/* Temp file and rename, without fsync: losing a cache costs a mount. */
static int
write_cache(const char *path, const char *text, struct err *e)
{
	char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	size_t len = strlen(text), done = 0;
	int fd = mkstemp(tmp);

	if (fd < 0) {
		err_set(e, EX_IOERR_, "cannot create '%s': %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	while (done < len) {
		ssize_t w = write(fd, text + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	if (close(fd) != 0 || done < len || rename(tmp, path) != 0) {
		err_set(e, EX_IOERR_, "cannot write '%s': %s", path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

/* Merge what this run learnt into the file, under a lock.  Failures only
 * cost a later mount: warn, never fail the push. */
static void
cache_save(struct registry *r)
{
	char *path, *lock, *text;
	struct err e = { 0, "" };
	cJSON *disk, *it;
	int fd;

	if (r->o->no_cache || !r->cache_add || !r->cache_add->child)
		return;
	if (!(path = cache_path(r)))
		return;
	lock = xasprintf("%s.lock", path);
	if (mkdir_parent(path, &e) < 0 || (fd = lock_file(lock, 1, &e)) < 0) {
		log_verbose("blob-location cache not saved: %s", e.msg);
		free(path);
		free(lock);
		return;
	}
	disk = cache_read(path);
	for (it = r->cache_add->child; it; it = it->next) {
		cJSON *w;

		cJSON_ArrayForEach(w, it)
			if (cJSON_IsString(w))
				cache_note_in(disk, it->string, w->valuestring);
	}
	text = json_print(disk);
	if (write_cache(path, text, &e) < 0)
		log_verbose("blob-location cache not saved: %s", e.msg);
	free(text);
	cJSON_Delete(disk);
	cJSON_Delete(r->cache_add);
	r->cache_add = NULL;
	unlock_file(fd);
	free(lock);
	free(path);
}

/* ---- push -------------------------------------------------------------------- */

enum { OUT_NONE, OUT_SKIPPED, OUT_MOUNTED, OUT_UPLOADED };

struct blob {
	char digest[OCI_DIGEST_SIZE];
	long long size;
	char *path;
	int fd;
	int verified;			/* its content was hashed and matches */
	int need;			/* an upload needs it verified */
	struct err verr;		/* why verification failed */
};

struct target {
	struct image_ref ref;		/* registry and repository; tag unused */
	struct host *h;
	char **tags;			/* NULL-terminated */
	size_t ntags;
};

enum {
	P_START, P_HEAD, P_MOUNT, P_POST, P_PATCH, P_PUT, P_STATUS
};

struct push_task {
	struct task t;
	struct registry *r;
	struct target *tg;
	struct blob *b;
	struct target *targets;		/* all of them, for mount sources */
	size_t itarget;
	char *mount_from[MAX_MOUNT_TRIES];
	size_t nmount, imount;
	char *location;			/* the latest upload URL */
	long long offset;		/* bytes the registry holds */
	long long chunk;		/* PATCH size */
	int outcome;
	struct retry_state retry;	/* failures of the upload session */
	int restarts;
	int phase;			/* 1: look (HEAD, mounts); 2: upload */
	int need_upload;		/* phase 1 ended: this blob must go up */
	char what[200];
};

static int
blob_open(struct blob *b, struct err *e)
{
	if (b->fd >= 0)
		return 0;
	if ((b->fd = open(b->path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(e, EX_IOERR_, "cannot open blob '%s': %s", b->path, strerror(errno));
	return 0;
}

static char *
repo_url(const struct target *tg, const char *fmt, const char *arg)
{
	char *tail = xasprintf(fmt, arg);
	char *u = xasprintf("%s/v2/%s/%s", tg->h->base, tg->ref.repository, tail);

	free(tail);
	return u;
}

/* loc plus "digest=D" as a query parameter (loc came from
 * http_resolve(): it is a URL). */
static char *
with_digest(const char *loc, const char *digest)
{
	char *u = http_url_add_query(loc, "digest", digest);

	return u ? u : xstrdup(loc);
}

static void
push_prepare(struct push_task *p, const char *method, char *url)
{
	xfer_prepare(&p->t.x, method, url, p->what);
	xfer_scope(&p->t.x, p->tg->ref.repository, "pull,push");
}

static int
take_location(struct push_task *p, struct err *e)
{
	const char *loc = http_header(&p->t.x.resp, "Location");

	if (!loc || !*loc)
		return err_set(e, EX_SERVICE, "registry '%s' opened an upload for %s without a "
		    "Location", p->tg->h->name, p->b->digest);
	free(p->location);
	if (!(p->location = http_resolve(p->t.x.url, loc)))
		return err_set(e, EX_SERVICE, "registry '%s' opened an upload for %s at a "
		    "Location that is not an http(s) URL", p->tg->h->name, p->b->digest);
	return 0;
}

/* The registry's minimum chunk length, when the answer opening the
 * session announces one. */
static void
take_chunk_min(struct push_task *p)
{
	const char *min = http_header(&p->t.x.resp, "OCI-Chunk-Min-Length");
	long long v = min ? strtoll(min, NULL, 10) : 0;

	p->chunk = v > 0 ? v : 0;
}

/* Start the next request of the upload proper: a PUT or a PATCH. */
static int
push_upload(struct push_task *p, struct err *e)
{
	struct xfer *x = &p->t.x;
	long long chunk_opt = p->r->o->chunk_size > 0 ? p->r->o->chunk_size : REGISTRY_DEFAULT_CHUNK;

	if (blob_open(p->b, e) < 0)
		return -1;
	if (p->offset == 0 && p->b->size <= chunk_opt) {
		/* Monolithic: the whole blob in the closing PUT. */
		push_prepare(p, "PUT", with_digest(p->location, p->b->digest));
		x->body = BODY_FILE;
		x->fd = p->b->fd;
		x->off = 0;
		x->len = p->b->size;
		xfer_header(x, "Content-Type: application/octet-stream");
		p->t.state = P_PUT;
		return 1;
	}
	if (p->chunk < chunk_opt)
		p->chunk = chunk_opt;
	if (p->offset >= p->b->size) {
		/* Everything is there: close the session. */
		push_prepare(p, "PUT", with_digest(p->location, p->b->digest));
		x->body = BODY_MEM;
		x->mem = "";
		x->len = 0;
		p->t.state = P_PUT;
		return 1;
	}
	push_prepare(p, "PATCH", xstrdup(p->location));
	x->body = BODY_FILE;
	x->fd = p->b->fd;
	x->off = p->offset;
	x->len = p->b->size - p->offset < p->chunk ? p->b->size - p->offset : p->chunk;
	xfer_header(x, "Content-Type: application/octet-stream");
	xfer_header(x, "Content-Range: %lld-%lld", x->off, x->off + x->len - 1);
	p->t.state = P_PATCH;
	return 1;
}

static int
push_post(struct push_task *p)
{
	push_prepare(p, "POST", repo_url(p->tg, "blobs/uploads/%s", ""));
	p->t.x.simple_retry = 1;
	p->t.state = P_POST;
	return 1;
}

static int
push_head(struct push_task *p)
{
	push_prepare(p, "HEAD", repo_url(p->tg, "blobs/%s", p->b->digest));
	p->t.x.simple_retry = 1;
	p->t.state = P_HEAD;
	return 1;
}

/* The upload failed in a way worth retrying: after a pause, ask the
 * registry where the session stands (GET on the upload URL). */
static int
push_recover(struct push_task *p, struct err *e)
{
	struct xfer *x = &p->t.x;
	struct err terr = x->terr;
	long long ra = x->retry_after_ms;

	push_prepare(p, "GET", xstrdup(p->location));
	x->simple_retry = 1;
	x->retry = p->retry;
	x->terr = terr;
	x->retry_after_ms = ra;
	if (xfer_backoff(x, e) < 0)
		return -1;
	p->retry = x->retry;
	memset(&x->retry, 0, sizeof(x->retry));
	p->t.state = P_STATUS;
	return 1;
}

/* Looking is over and the blob must be uploaded: in the first phase,
 * stop here (its content is verified before any upload starts). */
static int
push_looked(struct push_task *p, struct err *e)
{
	if (p->phase == 1) {
		p->need_upload = 1;
		p->b->need = 1;
		return 0;
	}
	return p->location ? push_upload(p, e) : push_post(p);
}

static int
push_done(struct push_task *p, int outcome)
{
	struct registry *r = p->r;

	p->outcome = outcome;
	r->blobs_done++;
	if (outcome != OUT_UPLOADED)
		r->bytes_total -= p->b->size;
	cache_note(r, p->b->digest, p->tg->h, p->tg->ref.repository);
	return 0;
}

/* Compare a Docker-Content-Digest answer with what we sent. */
static int
check_digest_header(struct push_task *p, struct err *e)
{
	const char *d = http_header(&p->t.x.resp, "Docker-Content-Digest");

	if (d && strcmp(d, p->b->digest) != 0)
		return err_set(e, EX_SERVICE, "registry '%s' stored blob %s as '%.100s' "
		    "(Docker-Content-Digest differs)", p->tg->h->name, p->b->digest, d);
	return 0;
}

static int
push_unexpected(struct push_task *p, struct err *e)
{
	char why[400], name[600];

	describe_status(&p->t.x.resp, why, sizeof(why));
	xfer_name(&p->t.x, name, sizeof(name));
	return err_set(e, EX_SERVICE, "%s: registry '%s' answered %s", name, p->tg->h->name, why);
}

/* Parse "Range: 0-N" into N; -1 when absent or malformed. */
static long long
range_end(const struct http_response *resp)
{
	const char *v = http_header(resp, "Range");
	char *end;
	long long a, b;

	if (!v)
		return -1;
	if (!strncmp(v, "bytes=", 6))
		v += 6;
	a = strtoll(v, &end, 10);
	if (end == v || *end != '-' || a != 0)
		return -1;
	v = end + 1;
	b = strtoll(v, &end, 10);
	if (end == v || *end || b < 0)
		return -1;
	return b;
}

static int
push_step(struct task *t, struct err *e)
{
	struct push_task *p = (struct push_task *)t;
	struct xfer *x = &t->x;
	long st = x->resp.status;

	switch (t->state) {
	case P_START:
		if (p->phase == 2)
			return p->location ? push_upload(p, e) : push_post(p);
		return push_head(p);
	case P_HEAD:
		if (x->transient)
			return err_set(e, EX_SERVICE, "%s", x->terr.msg);
		if (st == 200)
			return push_done(p, OUT_SKIPPED);
		if (st != 404)
			return push_unexpected(p, e);
		/* FALLTHROUGH */
	case P_MOUNT:
		if (t->state == P_MOUNT) {
			if (st == 201) {
				if (check_digest_header(p, e) < 0)
					return -1;
				return push_done(p, OUT_MOUNTED);
			}
			if (st == 202 && !x->transient) {
				/* No mount, but an upload session: use it. */
				if (take_location(p, e) < 0)
					return -1;
				take_chunk_min(p);
				return push_looked(p, e);
			}
			log_verbose("mount of %s from '%s' failed (HTTP %ld)", p->b->digest,
			    p->mount_from[p->imount - 1], st);
		}
		if (p->imount < p->nmount) {
			const char *from = p->mount_from[p->imount++];
			char *q = xasprintf("blobs/uploads/?mount=%s&from=%s", p->b->digest, from);

			push_prepare(p, "POST", repo_url(p->tg, "%s", q));
			free(q);
			xfer_scope(x, from, "pull");
			x->simple_retry = 1;
			x->auth_soft = 1;
			t->state = P_MOUNT;
			return 1;
		}
		return push_looked(p, e);
	case P_POST:
		if (st != 202)
			return push_unexpected(p, e);
		if (take_location(p, e) < 0)
			return -1;
		take_chunk_min(p);
		p->offset = 0;
		return push_upload(p, e);
	case P_PATCH:
		if (x->transient)
			return push_recover(p, e);
		if (st == 416 || st == 404 || (st == 400 && p->restarts < 3)) {
			x->terr.code = EX_SERVICE;
			snprintf(x->terr.msg, sizeof(x->terr.msg), "PATCH of %s: HTTP %ld",
			    p->b->digest, st);
			return push_recover(p, e);
		}
		if (st != 202)
			return push_unexpected(p, e);
		{
			long long end = range_end(&x->resp), want = x->off + x->len - 1;

			if (end > want)
				return err_set(e, EX_SERVICE, "registry '%s' says it holds bytes 0-%lld "
				    "of %s after we sent up to %lld", p->tg->h->name, end,
				    p->b->digest, want);
			p->offset = end >= 0 ? end + 1 : want + 1;
		}
		if (http_header(&x->resp, "Location") && take_location(p, e) < 0)
			return -1;
		memset(&p->retry, 0, sizeof(p->retry));
		return push_upload(p, e);
	case P_PUT:
		if (x->transient)
			return push_recover(p, e);
		if (st == 201 || st == 204) {
			if (check_digest_header(p, e) < 0)
				return -1;
			return push_done(p, OUT_UPLOADED);
		}
		if (st == 416 || st == 404) {
			x->terr.code = EX_SERVICE;
			snprintf(x->terr.msg, sizeof(x->terr.msg), "PUT of %s: HTTP %ld",
			    p->b->digest, st);
			return push_recover(p, e);
		}
		return push_unexpected(p, e);
	case P_STATUS:
		if (st == 204 || st == 202) {
			long long end = range_end(&x->resp);

			if (http_header(&x->resp, "Location") && take_location(p, e) < 0)
				return -1;
			/* "0-0" cannot tell 0 bytes from 1: start over then. */
			if (end > 0 && end < p->b->size) {
				p->offset = end + 1;
				log_verbose("resuming %s at byte %lld", p->b->digest, p->offset);
				return push_upload(p, e);
			}
		}
		if (++p->restarts > opt_retries(p->r))
			return err_set(e, EX_SERVICE, "upload of %s to '%s' keeps failing: %s",
			    p->b->digest, p->tg->h->name, x->terr.msg[0] ? x->terr.msg : "restarted too often");
		/* The session is gone (or useless): the blob may even be
		 * complete now, so look again before a new upload. */
		p->offset = 0;
		p->chunk = 0;
		p->imount = p->nmount;
		free(p->location);
		p->location = NULL;
		return push_head(p);
	}
	return err_set(e, EX_INTERNAL, "push task in unknown state %d", t->state);
}

/* Mount sources for b in target i: earlier targets on the same registry,
 * then what the cache remembers. */
static void
mount_sources(struct registry *r, struct push_task *p, struct target *tgs, size_t i)
{
	const struct target *tg = &tgs[i];
	size_t j, plen;
	cJSON *list, *it;
	char *prefix;

	for (j = 0; j < i && p->nmount < MAX_MOUNT_TRIES; j++)
		if (tgs[j].h == tg->h && strcmp(tgs[j].ref.repository, tg->ref.repository) != 0)
			p->mount_from[p->nmount++] = xstrdup(tgs[j].ref.repository);
	if (r->o->no_cache)
		return;
	cache_load(r);
	list = cJSON_GetObjectItemCaseSensitive(r->cache, p->b->digest);
	prefix = xasprintf("%s/", tg->h->name);
	plen = strlen(prefix);
	cJSON_ArrayForEach(it, list) {
		const char *repo;
		size_t k;
		int dup = 0;

		if (p->nmount >= MAX_MOUNT_TRIES)
			break;
		if (!cJSON_IsString(it) || strncmp(it->valuestring, prefix, plen) != 0)
			continue;
		repo = it->valuestring + plen;
		if (!strcmp(repo, tg->ref.repository) || !ref_repository_valid(repo))
			continue;
		for (k = 0; k < p->nmount; k++)
			dup |= !strcmp(p->mount_from[k], repo);
		if (!dup)
			p->mount_from[p->nmount++] = xstrdup(repo);
	}
	free(prefix);
}

/* ---- verifying blobs before they go up ------------------------------------ */

struct verify_pool {
	const struct oci_layout *l;
	struct blob *blobs;
	size_t nb;
	size_t next;
	pthread_mutex_t mu;
};

static void *
verify_worker(void *arg)
{
	struct verify_pool *vp = arg;

	for (;;) {
		struct blob *b = NULL;

		pthread_mutex_lock(&vp->mu);
		while (vp->next < vp->nb && !b) {
			struct blob *c = &vp->blobs[vp->next++];

			if (c->need && !c->verified)
				b = c;
		}
		pthread_mutex_unlock(&vp->mu);
		if (!b)
			return NULL;
		memset(&b->verr, 0, sizeof(b->verr));
		if (oci_blob_verify(vp->l, b->digest, b->size, &b->verr) == 0)
			b->verified = 1;
	}
}

/* Hash the blobs an upload needs, on every core: a layout that lies is
 * refused before a single byte of it goes up. */
static int
verify_blobs(const struct oci_layout *l, struct blob *blobs, size_t nb, struct err *e)
{
	struct verify_pool vp;
	pthread_t th[8];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t i, want = 0, nth, started = 0;

	for (i = 0; i < nb; i++)
		if (blobs[i].need && !blobs[i].verified)
			want++;
	if (!want)
		return 0;
	memset(&vp, 0, sizeof(vp));
	vp.l = l;
	vp.blobs = blobs;
	vp.nb = nb;
	pthread_mutex_init(&vp.mu, NULL);
	nth = ncpu > 1 ? (size_t)ncpu : 1;
	if (nth > want)
		nth = want;
	if (nth > sizeof(th) / sizeof(th[0]))
		nth = sizeof(th) / sizeof(th[0]);
	for (i = 1; i < nth; i++)
		if (pthread_create(&th[started], NULL, verify_worker, &vp) == 0)
			started++;
	verify_worker(&vp);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&vp.mu);
	for (i = 0; i < nb; i++)
		if (blobs[i].need && !blobs[i].verified) {
			*e = blobs[i].verr;
			if (e->code != EX_IOERR_ || (!strstr(e->msg, "cannot read") &&
			    !strstr(e->msg, "cannot open")))
				e->code = EX_DOC;
			return err_prefix(e, "layout '%s'", l->dir);
		}
	return 0;
}

/*
 * Push the blobs to target i in two phases: first look (HEAD, mounts)
 * for all of them, then verify the content of those that must go up,
 * then upload them.
 */
static int
push_blobs(struct registry *r, const struct oci_layout *l, struct target *tgs, size_t i,
    struct blob *blobs, size_t nb, struct registry_push_result *res, struct err *e)
{
	struct push_task *ps = xcalloc(nb ? nb : 1, sizeof(*ps));
	struct task **ts = xcalloc(nb ? nb : 1, sizeof(*ts));
	int parallel = r->o->parallel > 0 ? r->o->parallel : REGISTRY_DEFAULT_PARALLEL;
	size_t k, m, nup = 0;
	int rc;

	r->blobs_total += (int)nb;
	for (k = 0; k < nb; k++) {
		struct push_task *p = &ps[k];

		p->t.step = push_step;
		xfer_init(&p->t.x, r, tgs[i].h);
		p->r = r;
		p->tg = &tgs[i];
		p->b = &blobs[k];
		p->phase = 1;
		snprintf(p->what, sizeof(p->what), "blob %s", blobs[k].digest);
		mount_sources(r, p, tgs, i);
		r->bytes_total += blobs[k].size;
		ts[k] = &p->t;
	}
	rc = engine_run(r, ts, nb, parallel, e);
	if (rc == 0)
		rc = verify_blobs(l, blobs, nb, e);
	if (rc == 0) {
		for (k = 0; k < nb; k++) {
			struct push_task *p = &ps[k];

			if (!p->need_upload)
				continue;
			xfer_release(&p->t.x);
			p->phase = 2;
			p->t.state = P_START;
			p->t.started = p->t.finished = 0;
			ts[nup++] = &p->t;
		}
		rc = engine_run(r, ts, nup, parallel, e);
	}
	for (k = 0; k < nb; k++) {
		struct push_task *p = &ps[k];

		if (p->outcome == OUT_SKIPPED)
			res->skipped++;
		else if (p->outcome == OUT_MOUNTED)
			res->mounted++;
		else if (p->outcome == OUT_UPLOADED)
			res->uploaded++;
		xfer_free(&p->t.x);
		for (m = 0; m < p->nmount; m++)
			free(p->mount_from[m]);
		free(p->location);
	}
	free(ps);
	free(ts);
	if (rc < 0 && e->code != EX_DOC)
		err_prefix(e, "cannot push to '%s/%s'", tgs[i].h->name, tgs[i].ref.repository);
	return rc;
}

static int
put_manifest(struct registry *r, struct target *tg, const char *ref, const char *media_type,
    const char *text, size_t len, const char *digest, struct err *e)
{
	struct xfer x;
	const char *got;
	int rc = -1;

	xfer_init(&x, r, tg->h);
	xfer_prepare(&x, "PUT", repo_url(tg, "manifests/%s", ref), "manifest");
	xfer_scope(&x, tg->ref.repository, "pull,push");
	xfer_header(&x, "Content-Type: %s", media_type);
	x.body = BODY_MEM;
	x.mem = text;
	x.len = (long long)len;
	x.simple_retry = 1;
	if (run_one(&x, e) < 0)
		goto out;
	if (x.resp.status != 201 && x.resp.status != 200) {
		char why[400];

		describe_status(&x.resp, why, sizeof(why));
		err_set(e, EX_SERVICE, "registry '%s' refused the manifest for '%s/%s:%s': %s",
		    tg->h->name, tg->h->name, tg->ref.repository, ref, why);
		goto out;
	}
	got = http_header(&x.resp, "Docker-Content-Digest");
	if (got && strcmp(got, digest) != 0) {
		err_set(e, EX_SERVICE, "registry '%s' stored the manifest for '%s' as '%.100s', "
		    "not %s (Docker-Content-Digest differs)", tg->h->name, ref, got, digest);
		goto out;
	}
	rc = 0;
out:
	xfer_free(&x);
	return rc;
}

static char **
vec_add(char **v, size_t *n, const char *s)
{
	v = xrealloc(v, (*n + 2) * sizeof(*v));
	v[(*n)++] = xstrdup(s);
	v[*n] = NULL;
	return v;
}

static void
vec_free(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void
targets_free(struct target *tgs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		ref_free(&tgs[i].ref);
		vec_free(tgs[i].tags);
	}
	free(tgs);
}

/* Group references by repository, keeping their order. */
static int
make_targets(struct registry *r, char *const *refs, size_t nrefs, struct target **out,
    size_t *nout, struct err *e)
{
	struct target *tgs = NULL;
	size_t n = 0, i, j;

	for (i = 0; i < nrefs; i++) {
		struct image_ref ref;

		if (ref_parse(refs[i], &ref, e) < 0) {
			targets_free(tgs, n);
			return -1;
		}
		if (ref.digest) {
			err_set(e, EX_USAGE_, "cannot push to '%s': a push target names a tag, not "
			    "a digest", refs[i]);
			ref_free(&ref);
			targets_free(tgs, n);
			return -1;
		}
		for (j = 0; j < n; j++)
			if (!strcmp(tgs[j].ref.registry, ref.registry) &&
			    !strcmp(tgs[j].ref.repository, ref.repository))
				break;
		if (j == n) {
			tgs = xrealloc(tgs, (n + 1) * sizeof(*tgs));
			memset(&tgs[n], 0, sizeof(*tgs));
			tgs[n].ref.registry = xstrdup(ref.registry);
			tgs[n].ref.repository = xstrdup(ref.repository);
			tgs[n].h = host_get(r, &ref);
			n++;
		}
		if (ref.tag) {
			size_t k;
			int dup = 0;

			for (k = 0; k < tgs[j].ntags; k++)
				dup |= !strcmp(tgs[j].tags[k], ref.tag);
			if (!dup)
				tgs[j].tags = vec_add(tgs[j].tags, &tgs[j].ntags, ref.tag);
		}
		ref_free(&ref);
	}
	*out = tgs;
	*nout = n;
	return 0;
}

/* Layout problems are bad input (EX_DOC), unless the disk failed. */
static int
layout_error(const struct oci_layout *l, struct err *e)
{
	if (e->code != EX_IOERR_ || (!strstr(e->msg, "cannot read") && !strstr(e->msg, "cannot open")))
		e->code = EX_DOC;
	return err_prefix(e, "layout '%s'", l->dir);
}

static int
add_blob(struct blob **bs, size_t *n, const struct oci_layout *l, const struct oci_desc *d,
    const char *what, struct err *e)
{
	struct stat st;
	struct blob *b;
	size_t i;

	for (i = 0; i < *n; i++)
		if (!strcmp((*bs)[i].digest, d->digest))
			return 0;
	*bs = xrealloc(*bs, (*n + 1) * sizeof(**bs));
	b = &(*bs)[*n];
	memset(b, 0, sizeof(*b));
	memcpy(b->digest, d->digest, OCI_DIGEST_SIZE);
	b->size = d->size;
	b->path = oci_blob_path(l, d->digest);
	b->fd = -1;
	(*n)++;
	if (!b->path)
		return err_set(e, EX_DOC, "layout '%s': %s: bad digest '%.100s'", l->dir, what,
		    d->digest);
	if (stat(b->path, &st) != 0 || !S_ISREG(st.st_mode))
		return err_set(e, errno == ENOENT || errno == 0 ? EX_DOC : EX_IOERR_,
		    "layout '%s': blob %s (%s) is missing", l->dir, d->digest, what);
	if ((long long)st.st_size != d->size)
		return err_set(e, EX_DOC, "layout '%s': size mismatch for %s (%s): blob has %lld "
		    "bytes, the manifest says %lld", l->dir, d->digest, what,
		    (long long)st.st_size, d->size);
	return 0;
}

/* An image's config (verified now: it is small) and layers (their sizes
 * now, their content before they are uploaded). */
static int
add_image_blobs(struct blob **bs, size_t *n, const struct oci_layout *l,
    const struct oci_manifest *m, struct err *e)
{
	char what[32];
	size_t k;

	if (add_blob(bs, n, l, &m->config, "config", e) < 0)
		return -1;
	if (oci_blob_verify(l, m->config.digest, m->config.size, e) < 0)
		return layout_error(l, e);
	for (k = 0; k < *n; k++)
		if (!strcmp((*bs)[k].digest, m->config.digest))
			(*bs)[k].verified = 1;
	for (k = 0; k < m->nlayers; k++) {
		snprintf(what, sizeof(what), "layers[%zu]", k);
		if (add_blob(bs, n, l, &m->layers[k], what, e) < 0)
			return -1;
	}
	return 0;
}

static const char *
manifest_type(const struct oci_desc *d, const struct oci_manifest *m)
{
	if (m->media_type && *m->media_type)
		return m->media_type;
	if (d->media_type && *d->media_type)
		return d->media_type;
	return m->is_index ? MT_OCI_INDEX : MT_OCI_MANIFEST;
}

struct child {
	struct oci_desc d;
	char *text;
	size_t len;
	const char *type;
	struct oci_manifest m;
};

int
registry_push(struct registry *r, const struct oci_layout *l,
    const struct oci_desc *manifest, char *const *refs, size_t nrefs,
    struct registry_push_result *res, struct err *e)
{
	struct oci_manifest m;
	struct target *tgs = NULL;
	struct blob *blobs = NULL;
	struct child *kids = NULL;
	size_t ntg = 0, nb = 0, nkids = 0, nrefs_out = 0, ntags_out = 0, i, k;
	char *text = NULL;
	size_t len = 0;
	long long t0 = mono_ms(), sent0 = r->bytes_moved;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	memset(&m, 0, sizeof(m));
	r->op = "push";
	if (!r->multi)
		return err_set(e, EX_INTERNAL, "cannot create a curl multi handle");
	if (nrefs == 0)
		return err_set(e, EX_USAGE_, "nothing to push to: no reference given");
	if (make_targets(r, refs, nrefs, &tgs, &ntg, e) < 0)
		return -1;
	/* The layout's structure is checked before the first request; the
	 * content of the blobs that must go up, before the first upload. */
	if (!(text = oci_blob_read(l, manifest->digest, manifest->size, MANIFEST_MAX, &len, e)) ||
	    oci_manifest_parse(text, len, manifest->media_type, &m, e) < 0) {
		layout_error(l, e);
		goto out;
	}
	if (m.is_index) {
		for (i = 0; i < m.nlayers; i++) {
			struct child *c;

			kids = xrealloc(kids, (nkids + 1) * sizeof(*kids));
			c = &kids[nkids++];
			memset(c, 0, sizeof(*c));
			oci_desc_copy(&c->d, &m.layers[i]);
			if (!(c->text = oci_blob_read(l, c->d.digest, c->d.size, MANIFEST_MAX, &c->len, e)) ||
			    oci_manifest_parse(c->text, c->len, c->d.media_type, &c->m, e) < 0) {
				err_prefix(e, "manifests[%zu]", i);
				layout_error(l, e);
				goto out;
			}
			if (c->m.is_index) {
				err_set(e, EX_DOC, "layout '%s': nested index %s is not supported",
				    l->dir, c->d.digest);
				goto out;
			}
			c->type = manifest_type(&c->d, &c->m);
			if (add_image_blobs(&blobs, &nb, l, &c->m, e) < 0)
				goto out;
		}
	} else if (add_image_blobs(&blobs, &nb, l, &m, e) < 0) {
		goto out;
	}

	for (i = 0; i < ntg; i++) {
		struct target *tg = &tgs[i];
		const char *type = manifest_type(manifest, &m);

		if (host_ping(r, tg->h, e) < 0)
			goto out;
		if (push_blobs(r, l, tgs, i, blobs, nb, res, e) < 0)
			goto out;
		/* An index's manifests go first, by digest; then the manifest,
		 * once per tag: nothing is tagged before all it needs is there. */
		for (k = 0; k < nkids; k++)
			if (put_manifest(r, tg, kids[k].d.digest, kids[k].type, kids[k].text,
			    kids[k].len, kids[k].d.digest, e) < 0)
				goto out;
		if (tg->ntags == 0) {
			if (put_manifest(r, tg, manifest->digest, type, text, len, manifest->digest, e) < 0)
				goto out;
		}
		for (k = 0; k < tg->ntags; k++) {
			char *full;

			if (put_manifest(r, tg, tg->tags[k], type, text, len, manifest->digest, e) < 0)
				goto out;
			full = xasprintf("%s/%s:%s", tg->h->name, tg->ref.repository, tg->tags[k]);
			res->tags = vec_add(res->tags, &ntags_out, full);
			free(full);
		}
		{
			char *ref = ref_with_digest(&tg->ref, manifest->digest);

			res->references = vec_add(res->references, &nrefs_out, ref);
			free(ref);
		}
	}
	if (!res->tags)
		res->tags = xcalloc(1, sizeof(*res->tags));
	res->registry = xstrdup(tgs[0].ref.registry);
	res->repository = xstrdup(tgs[0].ref.repository);
	memcpy(res->digest, manifest->digest, OCI_DIGEST_SIZE);
	res->reference = xstrdup(res->references[0]);
	rc = 0;
out:
	res->bytes_sent = r->bytes_moved - sent0;
	progress(r, 1);
	cache_save(r);
	res->duration_ms = mono_ms() - t0;
	for (i = 0; i < nb; i++) {
		if (blobs[i].fd >= 0)
			close(blobs[i].fd);
		free(blobs[i].path);
	}
	free(blobs);
	for (i = 0; i < nkids; i++) {
		oci_desc_free(&kids[i].d);
		free(kids[i].text);
		oci_manifest_free(&kids[i].m);
	}
	free(kids);
	free(text);
	oci_manifest_free(&m);
	targets_free(tgs, ntg);
	if (rc < 0) {
		/* Keep the counts for the document; drop the names. */
		vec_free(res->tags);
		vec_free(res->references);
		res->tags = res->references = NULL;
	}
	return rc;
}

void
registry_push_result_free(struct registry_push_result *res)
{
	free(res->registry);
	free(res->repository);
	free(res->reference);
	vec_free(res->references);
	vec_free(res->tags);
	memset(res, 0, sizeof(*res));
}

/* ---- pull, resolve, tag ------------------------------------------------------- */

/* A fetched manifest. */
struct fetched {
	char *text;
	size_t len;
	char *type;			/* Content-Type, parameters dropped */
	char digest[OCI_DIGEST_SIZE];
};

static void
fetched_free(struct fetched *f)
{
	free(f->text);
	free(f->type);
	memset(f, 0, sizeof(*f));
}

static int
not_found(const struct http_response *resp)
{
	return resp->status == 404 || (resp->status == 400 && resp->body.data &&
	    strstr(resp->body.data, "MANIFEST_UNKNOWN"));
}

/*
 * GET (or, with head, HEAD) a manifest by tag or digest, verified: its
 * sha256 must equal the digest asked for, and Docker-Content-Digest when
 * the registry sends one.
 */
static int
fetch_manifest(struct registry *r, struct target *tg, const char *ref, int head,
    struct fetched *f, long long *size_out, struct err *e)
{
	struct xfer x;
	const char *ct, *dcd;
	char name[600];
	int rc = -1;

	memset(f, 0, sizeof(*f));
	xfer_init(&x, r, tg->h);
	xfer_prepare(&x, head ? "HEAD" : "GET", repo_url(tg, "manifests/%s", ref), "manifest");
	xfer_scope(&x, tg->ref.repository, "pull");
	xfer_header(&x, "%s", MANIFEST_ACCEPT);
	x.simple_retry = 1;
	x.body_max = MANIFEST_MAX;
	if (run_one(&x, e) < 0)
		goto out;
	snprintf(name, sizeof(name), "%s/%s%s%s", tg->h->name, tg->ref.repository,
	    digest_valid(ref) ? "@" : ":", ref);
	if (not_found(&x.resp)) {
		err_set(e, EX_USAGE_, "'%s' not found in the registry", name);
		goto out;
	}
	if (x.resp.status != 200) {
		char why[400];

		describe_status(&x.resp, why, sizeof(why));
		err_set(e, EX_SERVICE, "cannot get the manifest of '%s': registry answered %s",
		    name, why);
		goto out;
	}
	ct = http_header(&x.resp, "Content-Type");
	if (ct)
		f->type = xstrndup(ct, strcspn(ct, "; "));
	dcd = http_header(&x.resp, "Docker-Content-Digest");
	if (head) {
		const char *cl = http_header(&x.resp, "Content-Length");

		if (!dcd || !digest_valid(dcd)) {
			/* Nothing to go by: fetch the bytes. */
			xfer_free(&x);
			fetched_free(f);
			return fetch_manifest(r, tg, ref, 0, f, size_out, e);
		}
		memcpy(f->digest, dcd, OCI_DIGEST_SIZE);
		*size_out = cl ? strtoll(cl, NULL, 10) : -1;
		rc = 0;
		goto out;
	}
	f->len = x.resp.body.len;
	f->text = buf_detach(&x.resp.body, NULL);
	sha256_digest(f->text, f->len, f->digest);
	if (digest_valid(ref) && strcmp(ref, f->digest) != 0) {
		err_set(e, EX_SERVICE, "registry '%s' answered a manifest for '%s' whose digest is "
		    "%s", tg->h->name, name, f->digest);
		goto out;
	}
	if (dcd && !strncmp(dcd, "sha256:", 7) && strcmp(dcd, f->digest) != 0) {
		err_set(e, EX_SERVICE, "the manifest of '%s' has digest %s but registry '%s' says "
		    "'%.100s' (Docker-Content-Digest)", name, f->digest, tg->h->name, dcd);
		goto out;
	}
	if (size_out)
		*size_out = (long long)f->len;
	rc = 0;
out:
	if (rc < 0)
		fetched_free(f);
	xfer_free(&x);
	return rc;
}

/* Parse a reference into a one-repository target (tag defaults to latest). */
static int
target_for(struct registry *r, const char *s, struct target *tg, const char **refpart,
    struct err *e)
{
	memset(tg, 0, sizeof(*tg));
	if (ref_parse(s, &tg->ref, e) < 0)
		return -1;
	tg->h = host_get(r, &tg->ref);
	if (tg->ref.digest)
		*refpart = tg->ref.digest;
	else if (tg->ref.tag)
		*refpart = tg->ref.tag;
	else
		*refpart = "latest";
	return host_ping(r, tg->h, e);
}

static int
platform_match(const struct oci_desc *d, const char *os, const char *arch, const char *variant)
{
	if (!d->os || !d->arch || strcmp(d->os, os) != 0 || strcmp(d->arch, arch) != 0)
		return 0;
	if (*variant)
		return d->variant && !strcmp(d->variant, variant);
	return 1;
}

static int
pick_platform(const struct oci_manifest *idx, const char *platform, const char *name,
    size_t *out, struct err *e)
{
	char os[64] = "", arch[64] = "", variant[64] = "";
	struct buf have = BUF_INIT;
	size_t i;
	int found = -1;

	if (sscanf(platform, "%63[^/]/%63[^/]/%63s", os, arch, variant) < 2)
		return err_set(e, EX_USAGE_, "bad platform '%s': expected OS/ARCH[/VARIANT]",
		    platform);
	for (i = 0; i < idx->nlayers && found < 0; i++)
		if (platform_match(&idx->layers[i], os, arch, variant) &&
		    (*variant || !idx->layers[i].variant))
			found = (int)i;
	for (i = 0; i < idx->nlayers && found < 0; i++)
		if (platform_match(&idx->layers[i], os, arch, variant))
			found = (int)i;
	if (found >= 0) {
		*out = (size_t)found;
		return 0;
	}
	for (i = 0; i < idx->nlayers; i++) {
		const struct oci_desc *d = &idx->layers[i];

		if (d->os && d->arch)
			buf_addf(&have, "%s%s/%s%s%s", have.len ? ", " : "", d->os, d->arch,
			    d->variant ? "/" : "", d->variant ? d->variant : "");
	}
	err_set(e, EX_USAGE_, "'%s' has no image for platform %s (it has: %s)", name, platform,
	    have.len ? buf_str(&have) : "none named");
	buf_free(&have);
	return -1;
}

struct pull_task {
	struct task t;
	struct registry *r;
	struct target *tg;
	struct oci_desc *d;
	struct oci_layout *l;
	char *tmp;
	int fd;
	int redirects;
	char what[200];
};

static int
pull_step(struct task *t, struct err *e)
{
	struct pull_task *p = (struct pull_task *)t;
	struct xfer *x = &t->x;
	long st = x->resp.status;

	if (t->state == 0) {
		xfer_prepare(x, "GET", repo_url(p->tg, "blobs/%s", p->d->digest), p->what);
		xfer_scope(x, p->tg->ref.repository, "pull");
		x->simple_retry = 1;
		x->sink_fd = p->fd;
		x->sink_max = p->d->size;
		t->state = 1;
		return 1;
	}
	if ((st == 301 || st == 302 || st == 303 || st == 307 || st == 308) &&
	    http_header(&x->resp, "Location")) {
		/* Blobs often live elsewhere (a CDN): follow, and the
		 * Authorization header stays behind unless the origin is the
		 * registry's own. */
		char *to = http_resolve(x->url, http_header(&x->resp, "Location"));

		if (!to)
			return err_set(e, EX_SERVICE, "blob %s: redirected to a Location that is not "
			    "an http(s) URL", p->d->digest);
		if (++p->redirects > 5) {
			free(to);
			return err_set(e, EX_SERVICE, "blob %s: too many redirects", p->d->digest);
		}
		xfer_prepare(x, "GET", to, p->what);
		xfer_scope(x, p->tg->ref.repository, "pull");
		x->simple_retry = 1;
		x->sink_fd = p->fd;
		x->sink_max = p->d->size;
		return 1;
	}
	if (st != 200) {
		char why[400];

		describe_status(&x->resp, why, sizeof(why));
		return err_set(e, EX_SERVICE, "cannot get blob %s from '%s/%s': %s", p->d->digest,
		    p->tg->h->name, p->tg->ref.repository, why);
	}
	{
		char got[OCI_DIGEST_SIZE];

		sha256_final(&x->sink_hash, got);
		x->sink_hashing = 0;
		if (x->sunk != p->d->size || strcmp(got, p->d->digest) != 0)
			return err_set(e, EX_SERVICE, "blob %s from '%s' is damaged: got %lld bytes "
			    "with digest %s", p->d->digest, p->tg->h->name, x->sunk, got);
	}
	p->r->blobs_done++;
	return 0;
}

static int
pull_blobs(struct registry *r, struct target *tg, struct oci_layout *l, struct oci_desc *ds,
    size_t nd, struct err *e)
{
	struct pull_task *ps = xcalloc(nd ? nd : 1, sizeof(*ps));
	struct task **ts = xcalloc(nd ? nd : 1, sizeof(*ts));
	size_t n = 0, i;
	int rc = -1;

	for (i = 0; i < nd; i++) {
		struct pull_task *p;
		char *path;
		size_t j;
		int dup = 0;

		for (j = 0; j < i; j++)
			dup |= !strcmp(ds[j].digest, ds[i].digest);
		if (dup)
			continue;
		if (oci_blob_exists(l, ds[i].digest)) {
			struct err ve;

			if (oci_blob_verify(l, ds[i].digest, ds[i].size, &ve) == 0) {
				cache_note(r, ds[i].digest, tg->h, tg->ref.repository);
				continue;
			}
			log_verbose("fetching %s again: %s", ds[i].digest, ve.msg);
		}
		p = &ps[n];
		p->t.step = pull_step;
		xfer_init(&p->t.x, r, tg->h);
		p->r = r;
		p->tg = tg;
		p->d = &ds[i];
		p->l = l;
		snprintf(p->what, sizeof(p->what), "blob %s", ds[i].digest);
		path = oci_blob_path(l, ds[i].digest);
		if (!path || mkdir_parent(path, e) < 0) {
			free(path);
			if (!path)
				err_set(e, EX_SERVICE, "bad digest '%.100s'", ds[i].digest);
			goto out;
		}
		p->tmp = xasprintf("%s.tmp.XXXXXX", path);
		free(path);
		if ((p->fd = mkstemp(p->tmp)) < 0) {
			err_set(e, EX_IOERR_, "cannot create '%s': %s", p->tmp, strerror(errno));
			free(p->tmp);
			p->tmp = NULL;
			goto out;
		}
		r->bytes_total += ds[i].size;
		ts[n++] = &p->t;
	}
	r->blobs_total += (int)n;
	if (engine_run(r, ts, n, r->o->parallel > 0 ? r->o->parallel : REGISTRY_DEFAULT_PARALLEL,
	    e) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		close(ps[i].fd);
		ps[i].fd = -1;
		if (oci_blob_adopt(l, ps[i].tmp, ps[i].d->digest, e) < 0)
			goto out;
		free(ps[i].tmp);
		ps[i].tmp = NULL;
		cache_note(r, ps[i].d->digest, tg->h, tg->ref.repository);
	}
	rc = 0;
out:
	for (i = 0; i < n; i++) {
		if (ps[i].tmp) {
			if (ps[i].fd >= 0)
				close(ps[i].fd);
			unlink(ps[i].tmp);
			free(ps[i].tmp);
		}
		xfer_free(&ps[i].t.x);
	}
	free(ps);
	free(ts);
	return rc;
}

int
registry_pull(struct registry *r, const char *refstr, struct oci_layout *l,
    struct oci_desc *out, char index_digest[OCI_DIGEST_SIZE], struct err *e)
{
	struct target tg;
	struct fetched f, child;
	struct oci_manifest m, cm;
	struct oci_desc *ds = NULL;
	const char *refpart, *platform = r->o->platform ? r->o->platform : "linux/amd64";
	char pdigest[OCI_DIGEST_SIZE];
	size_t nd = 0, i, pick = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&f, 0, sizeof(f));
	memset(&child, 0, sizeof(child));
	memset(&m, 0, sizeof(m));
	memset(&cm, 0, sizeof(cm));
	if (index_digest)
		index_digest[0] = '\0';
	r->op = "pull";
	if (!r->multi)
		return err_set(e, EX_INTERNAL, "cannot create a curl multi handle");
	if (target_for(r, refstr, &tg, &refpart, e) < 0)
		goto out;
	if (fetch_manifest(r, &tg, refpart, 0, &f, NULL, e) < 0)
		goto out;
	if (oci_manifest_parse(f.text, f.len, f.type, &m, e) < 0) {
		e->code = EX_SERVICE;
		err_prefix(e, "manifest of '%s'", refstr);
		goto out;
	}
	if (m.is_index) {
		if (pick_platform(&m, platform, refstr, &pick, e) < 0)
			goto out;
		if (index_digest)
			memcpy(index_digest, f.digest, OCI_DIGEST_SIZE);
		if (fetch_manifest(r, &tg, m.layers[pick].digest, 0, &child, NULL, e) < 0)
			goto out;
		if (oci_manifest_parse(child.text, child.len, child.type, &cm, e) < 0 || cm.is_index) {
			if (cm.is_index)
				err_set(e, EX_SERVICE, "'%s': an index inside an index", refstr);
			e->code = EX_SERVICE;
			goto out;
		}
		oci_desc_copy(out, &m.layers[pick]);
		free(out->media_type);
		out->media_type = xstrdup(manifest_type(&m.layers[pick], &cm));
		out->size = (long long)child.len;
		cJSON_Delete(out->annotations);
		out->annotations = NULL;
	} else {
		child = f;
		memset(&f, 0, sizeof(f));
		cm = m;
		memset(&m, 0, sizeof(m));
		out->media_type = xstrdup(manifest_type(out, &cm));
		memcpy(out->digest, child.digest, OCI_DIGEST_SIZE);
		out->size = (long long)child.len;
	}
	ds = xcalloc(cm.nlayers + 1, sizeof(*ds));
	ds[nd++] = cm.config;
	for (i = 0; i < cm.nlayers; i++)
		ds[nd++] = cm.layers[i];
	if (pull_blobs(r, &tg, l, ds, nd, e) < 0)
		goto out;
	/* The manifest last: a layout never lists what it does not hold. */
	if (oci_blob_put(l, child.text, child.len, pdigest, e) < 0)
		goto out;
	rc = 0;
out:
	progress(r, 1);
	cache_save(r);
	free(ds);
	if (rc < 0)
		oci_desc_free(out);
	fetched_free(&f);
	fetched_free(&child);
	oci_manifest_free(&m);
	oci_manifest_free(&cm);
	ref_free(&tg.ref);
	return rc;
}

int
registry_resolve(struct registry *r, const char *refstr, struct oci_desc *out, struct err *e)
{
	struct target tg;
	struct fetched f;
	const char *refpart;
	long long size = -1;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (target_for(r, refstr, &tg, &refpart, e) < 0)
		goto out;
	if (fetch_manifest(r, &tg, refpart, 1, &f, &size, e) < 0)
		goto out;
	memcpy(out->digest, f.digest, OCI_DIGEST_SIZE);
	out->size = size;
	out->media_type = f.type ? xstrdup(f.type) : NULL;
	fetched_free(&f);
	rc = 0;
out:
	ref_free(&tg.ref);
	return rc;
}

int
registry_tag(struct registry *r, const char *src, const char *new_tag,
    char digest_out[OCI_DIGEST_SIZE], struct err *e)
{
	struct target tg;
	struct fetched f;
	const char *refpart;
	int rc = -1;

	memset(&f, 0, sizeof(f));
	if (!ref_tag_valid(new_tag))
		return err_set(e, EX_USAGE_, "invalid tag '%s'", new_tag);
	if (target_for(r, src, &tg, &refpart, e) < 0)
		goto out;
	if (fetch_manifest(r, &tg, refpart, 0, &f, NULL, e) < 0)
		goto out;
	if (put_manifest(r, &tg, new_tag, f.type ? f.type : MT_OCI_MANIFEST, f.text, f.len,
	    f.digest, e) < 0)
		goto out;
	if (digest_out)
		memcpy(digest_out, f.digest, OCI_DIGEST_SIZE);
	rc = 0;
out:
	fetched_free(&f);
	ref_free(&tg.ref);
	return rc;
}
