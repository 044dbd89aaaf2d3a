/*
 * registry: a client of the OCI Distribution API (push, pull, tag).
 *
 * One struct registry talks to any number of registries: it keeps, per
 * registry host, the scheme that works (https, or http for the hosts
 * allowed plain HTTP), the auth challenge and a token per scope set, and
 * a pool of connections (libcurl share + multi).  Blobs move in parallel
 * (opts.parallel at once, at most opts.host_conns connections per host),
 * large ones in chunks; every request is retried with jittered exponential
 * backoff on connection errors, 408, 429 and 5xx (Retry-After honoured),
 * bounded by opts.retries attempts and opts.retry_time_ms in total.  A
 * transfer that moves no byte for opts.stall_timeout_ms fails (and is
 * retried); once a request has failed, each new attempt gets at most
 * what is left of opts.retry_time_ms, so that a stalled server cannot
 * stretch the retries past it: a request without a blob body as its
 * whole time, a blob transfer (which may rightly take long) as its stall
 * timeout.
 *
 * Plain HTTP: only for hosts named in opts.insecure (HOST or HOST:PORT)
 * and, unless opts.no_default_insecure, for the loopback names localhost,
 * 127.0.0.0/8 and [::1].  Even for those, https is tried first; http is
 * used only when the server does not speak TLS at all.  A certificate that
 * fails verification is an error, never a reason to fall back.
 *
 * Credentials (net/auth.h): --username with --password-stdin or
 * --password-file, else CI_REGISTRY_USER/CI_REGISTRY_PASSWORD, else the
 * auth file (--authfile, REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json,
 * ~/.docker/config.json: auths, credHelpers, credsStore), else anonymous.
 * They are sent only to the registry host they belong to (and to the token
 * realm it names), never after a redirect to another host.
 *
 * Errors: EX_USAGE_ bad reference or option, EX_AUTH credentials refused or
 * missing, EX_SERVICE unreachable or failing after retries (or answering
 * nonsense), EX_IOERR_ local files, EX_DOC a corrupt layout.  Messages
 * never contain a secret.
 *
 * Ownership: the caller owns opts (it must outlive the client) and every
 * result struct (free with the matching _free()).
 */
#ifndef CI_REGISTRY_H
#define CI_REGISTRY_H

#include <signal.h>
#include <stddef.h>

#include "core/log.h"
#include "oci/oci.h"
#include "oci/ref.h"

#define REGISTRY_DEFAULT_PARALLEL 4
#define REGISTRY_DEFAULT_HOST_CONNS 6
#define REGISTRY_DEFAULT_CHUNK (64LL << 20)	/* chunked above 64 MiB */
#define REGISTRY_DEFAULT_RETRIES 6		/* attempts per request */
#define REGISTRY_DEFAULT_RETRY_TIME_MS 60000LL	/* per request, in total */

/* What the progress callback sees; called from the calling thread, at
 * most a few times a second and once at the end (final = 1). */
struct registry_progress {
	const char *op;			/* "push" or "pull" */
	long long bytes_done;		/* bytes sent (push) or received (pull) */
	long long bytes_total;		/* of the blobs that need moving */
	int blobs_done, blobs_total;
	int final;
};

typedef void (*registry_progress_fn)(const struct registry_progress *p, void *arg);

struct registry_opts {
	char **insecure;		/* hosts allowed plain HTTP; NULL-terminated or NULL */
	int no_default_insecure;	/* 1: not even localhost/127.0.0.1/[::1] */
	const char *ca_file;		/* extra CA bundle (PEM) */
	char *username;			/* --username (owned) */
	char *password;			/* from --password-stdin/--password-file (owned, wiped) */
	const char *authfile;		/* --authfile: instead of the default files */
	int parallel;			/* blobs at once; 0: REGISTRY_DEFAULT_PARALLEL */
	int host_conns;			/* connections per host; 0: default */
	long long chunk_size;		/* 0: REGISTRY_DEFAULT_CHUNK */
	int retries;			/* attempts per request; 0: default; 1: no retry */
	long long retry_time_ms;	/* 0: default */
	long long stall_timeout_ms;	/* a transfer moving no byte this long fails; 0: 60 s */
	const char *platform;		/* for pulls of an index: "linux/amd64" (NULL: that) */
	const char *cache_dir;		/* blob locations, registry schemes; NULL: $XDG_CACHE_HOME/ci-tools */
	int no_cache;			/* 1: do not read or write either */
	registry_progress_fn progress;	/* NULL: none */
	void *progress_arg;
	/* When non-NULL and *stop becomes non-zero (a signal handler sets
	 * it), transfers stop and the call fails with EX_TEMP. */
	const volatile sig_atomic_t *stop;

	/* Set by registry_opts_arg()/registry_opts_finish(); tools read them. */
	int password_stdin;		/* stdin carried the password: no document there */
	const char *password_file;
};

/*
 * The command-line options ci-build, ci-push and ci-rollback share.  Put
 * REGISTRY_LONG_OPTIONS in the getopt_long() table (it needs <getopt.h>),
 * pass every option value >= REGOPT_FIRST to registry_opts_arg(), print
 * REGISTRY_OPTIONS_HELP in the usage text, and call registry_opts_finish()
 * after the loop.
 */
enum {
	REGOPT_FIRST = 0x1100,
	REGOPT_INSECURE = REGOPT_FIRST,	/* --insecure-registry HOST (repeatable) */
	REGOPT_CA_FILE,			/* --ca-file FILE */
	REGOPT_USERNAME,		/* --username NAME */
	REGOPT_PASSWORD_STDIN,		/* --password-stdin */
	REGOPT_PASSWORD_FILE,		/* --password-file FILE */
	REGOPT_AUTHFILE,		/* --authfile FILE */
	REGOPT_PARALLEL,		/* --parallel N */
	REGOPT_CHUNK_SIZE,		/* --chunk-size SIZE (k, M, G suffixes) */
	REGOPT_RETRIES,			/* --retries N */
	REGOPT_RETRY_TIME,		/* --retry-time DURATION */
	REGOPT_STALL_TIMEOUT,		/* --stall-timeout DURATION */
	REGOPT_NO_CACHE,		/* --no-blob-cache */
	REGOPT_LAST
};

#define REGISTRY_LONG_OPTIONS \
	{ "insecure-registry", required_argument, NULL, REGOPT_INSECURE }, \
	{ "ca-file", required_argument, NULL, REGOPT_CA_FILE }, \
	{ "username", required_argument, NULL, REGOPT_USERNAME }, \
	{ "password-stdin", no_argument, NULL, REGOPT_PASSWORD_STDIN }, \
	{ "password-file", required_argument, NULL, REGOPT_PASSWORD_FILE }, \
	{ "authfile", required_argument, NULL, REGOPT_AUTHFILE }, \
	{ "parallel", required_argument, NULL, REGOPT_PARALLEL }, \
	{ "chunk-size", required_argument, NULL, REGOPT_CHUNK_SIZE }, \
	{ "retries", required_argument, NULL, REGOPT_RETRIES }, \
	{ "retry-time", required_argument, NULL, REGOPT_RETRY_TIME }, \
	{ "stall-timeout", required_argument, NULL, REGOPT_STALL_TIMEOUT }, \
	{ "no-blob-cache", no_argument, NULL, REGOPT_NO_CACHE }

#define REGISTRY_OPTIONS_HELP \
	"registry options:\n" \
	"      --insecure-registry HOST  allow plain HTTP to HOST[:PORT] (repeatable)\n" \
	"      --ca-file FILE     trust the CA certificates in FILE too\n" \
	"      --username NAME    log in as NAME (password from --password-stdin,\n" \
	"                         --password-file or CI_REGISTRY_PASSWORD)\n" \
	"      --password-stdin   read the password from stdin (then no document there)\n" \
	"      --password-file F  read the password from the first line of F\n" \
	"      --authfile FILE    credentials file (containers-auth.json / config.json)\n" \
	"      --parallel N       move N blobs at once (default 4)\n" \
	"      --chunk-size SIZE  upload blobs above SIZE in chunks (default 64M)\n" \
	"      --retries N        attempts per request (default 6; 1: no retry)\n" \
	"      --retry-time DUR   give up on a request after DUR of retries (default 60s)\n" \
	"      --stall-timeout D  a transfer moving no byte for D fails (default 60s)\n" \
	"      --no-blob-cache    do not use the blob-location cache\n"

/* REGISTRY_OPTIONS_HELP without the line of the option omit (such as
 * "--chunk-size"), for a tool that does not take it; a static string. */
const char *registry_options_help(const char *omit);

void registry_opts_init(struct registry_opts *o);
/*
 * Handle one option from REGISTRY_LONG_OPTIONS.  Returns 1 when handled, 0
 * when opt is not a registry option, -1 on a bad value (e: EX_USAGE_).
 */
int registry_opts_arg(struct registry_opts *o, int opt, const char *arg, struct err *e);
/*
 * After option parsing: read the password (stdin or file; EX_IOERR_ or
 * EX_USAGE_ on failure), check combinations (--password-* needs
 * --username).  Call once.
 */
int registry_opts_finish(struct registry_opts *o, struct err *e);
void registry_opts_free(struct registry_opts *o);

/* ---- the client ------------------------------------------------------- */

struct registry;

/* A client; o is borrowed and must outlive it.  Never NULL. */
struct registry *registry_new(const struct registry_opts *o);
void registry_free(struct registry *r);

/*
 * Pull: resolve ref (by tag, "latest" when it has neither tag nor
 * digest, or by digest); for an index or manifest list pick the entry for
 * opts.platform ("os/arch[/variant]", default "linux/amd64"); fetch the
 * manifest, its config and its layers into the layout l, each verified
 * against its digest and size (blobs already in l are verified, not
 * fetched again).  out receives the descriptor of the image manifest (not
 * of the index), with its platform when the index named one.  index.json
 * is not changed: add out with oci_index_add() if the image should be
 * listed there.  index_digest (may be NULL) receives the digest of the
 * index when ref named one, else "".  An image the registry does not
 * have, or an index without the platform, is EX_USAGE_.
 */
int registry_pull(struct registry *r, const char *ref, struct oci_layout *l,
    struct oci_desc *out, char index_digest[OCI_DIGEST_SIZE], struct err *e);

/* What a push did, for the document. */
struct registry_push_result {
	char *registry;			/* of the first target: "localhost:5000" */
	char *repository;		/* "team/app" */
	char digest[OCI_DIGEST_SIZE];	/* of the manifest (or index) pushed */
	char *reference;		/* "HOST/REPO@sha256:..." */
	char **references;		/* one per repository pushed to, NULL-terminated */
	char **tags;			/* full names pushed, "HOST/REPO:TAG", NULL-terminated */
	int uploaded, skipped, mounted;	/* blobs, summed over the repositories */
	int already;			/* every tag held the manifest: nothing was sent */
	long long bytes_sent;		/* blob bytes sent (retries count again) */
	long long duration_ms;
};

/*
 * Push the image (or index) described by manifest from layout l to every
 * reference in refs ("HOST/REPO[:TAG]"; a reference with no tag pushes by
 * digest only).  References may name several repositories and registries:
 * each repository gets the blobs (HEAD, then mount when the blob-location
 * cache or an earlier target knows a repository on the same registry
 * that has it, else upload), then the manifest once per tag, last.  The
 * layout is checked completely (oci_image_check) before any request.
 * The first request to each repository is a HEAD of the manifest by its
 * first tag (by digest without one): when the registry answers with our
 * digest (Docker-Content-Digest), the repository holds the manifest and
 * its blobs, so no blob is looked at and only the tags that differ are
 * put; when every tag already holds it, that is one HEAD per tag and
 * nothing else (res->already).
 */
int registry_push(struct registry *r, const struct oci_layout *l,
    const struct oci_desc *manifest, char *const *refs, size_t nrefs,
    struct registry_push_result *res, struct err *e);
void registry_push_result_free(struct registry_push_result *res);

/*
 * Resolve ref to the descriptor of what it names now (HEAD on the
 * manifest, GET when the registry sends no digest): media type, digest,
 * size.  A reference the registry does not know is EX_USAGE_, with a
 * message naming it (as in registry_pull()).
 */
int registry_resolve(struct registry *r, const char *ref, struct oci_desc *out, struct err *e);

/*
 * Tag: make HOST/REPO:new_tag point at what src names (a tag or digest in
 * the same repository), by fetching the manifest bytes and putting them
 * back under new_tag (ci-rollback's "stable").  digest_out (may be NULL)
 * receives the digest tagged.
 */
int registry_tag(struct registry *r, const char *src, const char *new_tag,
    char digest_out[OCI_DIGEST_SIZE], struct err *e);

#endif
