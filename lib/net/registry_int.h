/*
 * registry_int: what the files of the registry client share; not an API
 * (net/registry.h is).  Only lib/net/registry.c, push.c, pull.c and
 * blobcache.c include it.
 *
 *   registry.c   the session: options, the client and its hosts, every
 *                request as a struct xfer on one curl multi handle (auth
 *                challenges handed to net/auth, retries on core/retry),
 *                tasks run side by side, the /v2/ ping
 *   push.c       blob uploads (HEAD, mount, monolithic PUT, chunked PATCH
 *                with Content-Range), manifests and tags
 *   pull.c       manifests and indexes by tag or digest, blobs into a
 *                layout (FROM), resolve and retag
 *   blobcache.c  which repositories are known to hold a blob, for mounts,
 *                and the scheme learnt for each plain-HTTP-allowed host
 *
 * Requests: a struct xfer is one request and its response.  xfer_prepare()
 * forgets the previous request; xfer_done() applies the rules every
 * request shares (401 challenges, 403, transient failures and backoff) and
 * says whether the response is the caller's (XF_OK), the request must run
 * again (XF_AGAIN, at x->not_before_ms) or it failed (XF_FAIL, e set).
 * Work that takes several requests is a struct task whose step() looks at
 * the final response and prepares the next request.
 *
 * Ownership: the client owns its hosts (never freed before the client);
 * an xfer owns its URL, headers and response, borrows its body (mem or
 * fd); a target owns its reference and tags.
 */
#ifndef CI_REGISTRY_INT_H
#define CI_REGISTRY_INT_H

#include <signal.h>
#include <stddef.h>

#include "core/json.h"
#include "core/log.h"
#include "core/retry.h"
#include "net/auth.h"
#include "net/http.h"
#include "net/registry.h"
#include "oci/oci.h"
#include "oci/ref.h"

#define MANIFEST_MAX (4u << 20)
#define MANIFEST_ACCEPT "Accept: " MT_OCI_MANIFEST ", " MT_OCI_INDEX ", " \
	MT_DOCKER_MANIFEST ", " MT_DOCKER_LIST
#define ERRBODY_MAX (64u << 10)
#define MAX_SCOPES 4
#define MAX_HDRS 6

enum { AUTH_UNKNOWN, AUTH_NONE, AUTH_BASIC, AUTH_BEARER };
enum { BODY_NONE, BODY_MEM, BODY_FILE };
enum { XF_OK, XF_AGAIN, XF_FAIL };

struct host {
	char *name;			/* as in references: "localhost:5000", "docker.io" */
	char *api;			/* where to connect: "registry-1.docker.io" for docker.io */
	char *base;			/* "https://API" or "http://API", once known */
	CURLcode probe_cc;		/* what the TLS handshake of reg_host_scheme() gave */
	int scheme_remembered;		/* base from the scheme cache, no request yet confirms it */
	int scheme_doubted;		/* the remembered scheme failed: probe, remember nothing */
	int pinged;			/* GET /v2/ answered as a registry does */
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
	/* BODY_FILE: sees each piece read from fd (at: its offset in the
	 * file) before libcurl sends it; -1 stops the transfer there, the
	 * piece unsent, and the request fails with body_err. */
	int (*body_check)(void *arg, const unsigned char *p, size_t n, long long at,
	    struct err *e);
	void *body_arg;
	int body_refused;
	struct err body_err;
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
	int token_failed;		/* no token for it: the token server failed */
	long long retry_after_ms;
	struct err terr;		/* what the last transient failure was */
};

/* The blob-location cache: {"sha256:...": ["host/repo", ...]}, most
 * recent first; blobcache.c alone reads and writes it. */
struct blobcache {
	cJSON *known;			/* the file's content and what was learnt since */
	cJSON *learnt;			/* what this run learnt, merged on save */
	int loaded;
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
	struct blobcache cache;
};

struct task {
	/* Prepare the next request in t->x (return 1), finish (0) or fail (-1).
	 * Called first with no response, then after each final response. */
	int (*step)(struct task *t, struct err *e);
	struct xfer x;
	int state;
	int finished;
};

/* One repository on one registry, and the tags to push there. */
struct target {
	struct image_ref ref;		/* registry and repository; tag unused */
	struct host *h;			/* borrowed from the client */
	char **tags;			/* NULL-terminated (core/buf.h strv) */
	int *present;			/* per tag (or the digest): already there (push.c) */
};

/* ---- registry.c: the session ---------------------------------------------- */

struct host *reg_host(struct registry *r, const struct image_ref *ref);
/* The scheme to use (h->base), without an HTTP request. */
int reg_host_scheme(struct registry *r, struct host *h, struct err *e);
/* HEAD of a manifest over a plain socket, without libcurl, where h is
 * known to speak plain HTTP and nothing (a proxy, credentials) calls for
 * libcurl: 1 with *status 200 or 404 and *digest (Docker-Content-Digest,
 * allocated, or NULL) when a registry answered; 0 when declined, for
 * the caller to ask through libcurl.  See registry.c. */
int reg_plain_head(struct registry *r, struct host *h, const char *url, int *status,
    char **digest);
/* Its answer: len bytes of buf (NUL after them) holding a header block;
 * 1 with *status and *digest when a registry's, else 0. */
int reg_plain_answer(const char *buf, size_t len, int *status, char **digest);
/* GET /v2/ once per host: the scheme to use and the auth challenge. */
int reg_host_ping(struct registry *r, struct host *h, struct err *e);
int reg_retries(const struct registry *r);
/* The curl multi handle, made (libcurl loaded) at the first use; NULL when it cannot be. */
CURLM *reg_multi(struct registry *r);
void reg_progress(struct registry *r, int final);
/* "HTTP 400 (DIGEST_INVALID: provided digest did not match)" */
void reg_describe_status(const struct http_response *resp, char *out, size_t outsz);
/* "BASE/v2/REPO/" + fmt with arg. */
char *reg_repo_url(const struct target *tg, const char *fmt, const char *arg);
/* The media type of a manifest: its own field, else the descriptor's. */
const char *reg_manifest_type(const struct oci_desc *d, const struct oci_manifest *m);

void xfer_init(struct xfer *x, struct registry *r, struct host *h);
/* Prepare a new request (forgetting the previous one); url is taken. */
void xfer_prepare(struct xfer *x, const char *method, char *url_taken, const char *what);
void xfer_header(struct xfer *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xfer_scope(struct xfer *x, const char *repo, const char *actions);
/* End the transfer (the request stays); xfer_free() forgets it all. */
void xfer_release(struct xfer *x);
void xfer_free(struct xfer *x);
/* "PUT http://h/v2/app/manifests/v1", without the query. */
void xfer_name(const struct xfer *x, char *out, size_t outsz);
/* A transient failure (x->terr) happened: set x->not_before_ms for the
 * next attempt, or fail when --retries or --retry-time are used up. */
int xfer_backoff(struct xfer *x, struct err *e);
/* Run one request to its final response (retries and auth included). */
int xfer_run(struct xfer *x, struct err *e);
/* Run tasks, at most parallel at once; the first failure stops them all. */
int reg_run_tasks(struct registry *r, struct task **tasks, size_t n, int parallel,
    struct err *e);

/* ---- push.c ----------------------------------------------------------------- */

/* PUT a manifest under ref (a tag or its digest); the registry's
 * Docker-Content-Digest, when sent, must be digest. */
int reg_put_manifest(struct registry *r, struct target *tg, const char *ref,
    const char *media_type, const char *text, size_t len, const char *digest, struct err *e);

/* ---- blobcache.c ------------------------------------------------------------ */

/* Remember that digest is in h's repo (no-op with --no-blob-cache). */
void blobcache_note(struct registry *r, const char *digest, const struct host *h,
    const char *repo);
#define BLOBCACHE_MAX_REPOS 8		/* remembered per blob */

/* Up to max repositories on h known to hold digest, most recent first
 * (borrowed: valid until the next blobcache call). */
size_t blobcache_repos(struct registry *r, const char *digest, const struct host *h,
    const char **out, size_t max);
/* Merge what was learnt into the file; failures only warn. */
void blobcache_save(struct registry *r);
void blobcache_free(struct blobcache *c);
/* The scheme ("http", "https") remembered for a host's api, or NULL
 * (none, or --no-blob-cache); the caller frees it. */
char *schemecache_get(struct registry *r, const char *api);
/* Remember scheme for api; NULL forgets it.  Failures only warn. */
void schemecache_put(struct registry *r, const char *api, const char *scheme);

#endif
