/*
 * http: the HTTP layer every networked tool shares, on libcurl.
 *
 * http_easy() returns an easy handle set up the way all our tools want it:
 * TLS verified with the system CAs plus an optional extra CA file, no
 * proxy surprises beyond libcurl's own environment handling, timeouts,
 * our User-Agent, no signals, and response headers and body captured into
 * a struct http_response (body capped).  Callers add method, URL, request
 * headers and body, then run it with http_perform() or inside their own
 * curl multi handle (call http_finish() when the transfer is done).
 *
 * Ownership: struct http_response owns its headers, body and strings;
 * http_response_free() releases them.  Header values are borrowed.
 * Nothing here logs a request header: Authorization never reaches a log.
 */
#ifndef CI_HTTP_H
#define CI_HTTP_H

#include <signal.h>
#include <stddef.h>
#include "net/curl-load.h"

#include "core/buf.h"
#include "core/log.h"

#define HTTP_BODY_MAX (64u << 20)

struct http_opts {
	const char *ca_file;		/* extra CA bundle (PEM), or NULL */
	int insecure_tls;		/* 1: do not verify the peer (ci-smoke --insecure) */
	long long connect_timeout_ms;	/* 0: 10 s */
	long long max_time_ms;		/* 0: none */
	long long stall_ms;		/* a transfer that moves no byte for this long
					 * fails (whole seconds, rounded up); 0: never */
	int follow;			/* follow redirects (at most 10) */
	size_t body_max;		/* 0: HTTP_BODY_MAX */
	const char *user_agent;		/* NULL: "ci-tools/VERSION" */
};

struct http_header {
	char *name;			/* as received */
	char *value;			/* trimmed */
};

struct http_response {
	long status;			/* 0 until a status line arrived */
	char *status_line;		/* "HTTP/1.1 201 Created" (last response) */
	struct http_header *headers;	/* of the last response only */
	size_t nheaders, alloc;
	struct buf body;
	int body_too_large;		/* the body passed body_max: transfer aborted */
	char *effective_url;		/* after redirects */
	double time_total_s;		/* from libcurl */
	double time_connect_s;
	double time_starttransfer_s;
	long long bytes_received;
	char errbuf[CURL_ERROR_SIZE];	/* libcurl's error text, for messages */
	/* With follow: the URL of each redirect followed, in order (the
	 * Location of a 3xx response, resolved). */
	char **redirects;
	size_t nredirects;
	CURL *handle;			/* set by http_easy() */
};

#define HTTP_RESPONSE_INIT { 0, NULL, NULL, 0, 0, BUF_INIT, 0, NULL, 0, 0, 0, 0, "", NULL, 0, NULL }

/* A configured easy handle capturing into resp (which must outlive it). */
CURL *http_easy(const struct http_opts *o, struct http_response *resp);

/*
 * Perform a transfer set up by http_easy() and fill the timing fields.
 * Returns 0 when an HTTP response arrived (whatever its status), or -1 with
 * e set (EX_SERVICE for connection and timeout errors, naming what and
 * libcurl's reason, any URL in it through url_redact(); EX_AUTH-free: TLS failures are EX_SERVICE too, with the
 * certificate problem in the message).
 */
int http_perform(CURL *c, struct http_response *resp, const char *what, struct err *e);
/* After a transfer driven by a multi handle finished with result rc. */
int http_finish(CURL *c, CURLcode rc, struct http_response *resp, const char *what, struct err *e);

/* Case-insensitive lookup of the last header named name, or NULL. */
const char *http_header(const struct http_response *r, const char *name);
/* Forget headers, body and status, for reusing resp on a new transfer. */
void http_response_reset(struct http_response *r);
void http_response_free(struct http_response *r);

/*
 * Parse a WWW-Authenticate challenge: scheme ("Bearer", "Basic") and its
 * auth-params (realm, service, scope, error), quoted-string aware.
 * Returns 0, or -1 when the header is malformed.  Values are fresh
 * strings the caller frees (NULL when absent).
 */
struct http_challenge {
	char *scheme;
	char *realm;
	char *service;
	char *scope;
	char *error;
};
int http_parse_challenge(const char *header, struct http_challenge *c);
void http_challenge_free(struct http_challenge *c);

/* Retry-After: delta-seconds or an HTTP-date; milliseconds from now, or -1. */
long long http_retry_after_ms(const char *value);

/* 1 when s is an RFC 9110 token (a header or cookie name): one or more of
 * letters, digits and !#$%&'*+-.^_`|~. */
int http_token_ok(const char *s);

/*
 * Waiting for a service to come up (ci-smoke --wait, ci-deploy --wait):
 * GET url until it answers 2xx (or 3xx too, with accept_3xx; redirects
 * are not followed) or timeout_ms has passed.  A refused connection, a
 * timeout and any other answer mean "not yet": back off through
 * core/retry (at most 100 ms at first, doubling up to 2 s, jittered, or
 * as long as a Retry-After asks) and ask again, each request bounded by
 * what is left of the time; when the pause would pass the time, no
 * request is squeezed into what is left: it fails with what the last
 * one got (a request the end of the time cut short, without an answer,
 * leaves the word to the one before).  Messages name the URL as shown (the caller's form without
 * its other secrets, or url when NULL), its userinfo as *** (core/encode's
 * url_redact(), as libcurl's error texts); redact, when set, hides more
 * secrets in those texts (it returns a fresh string).
 */
struct http_wait {
	const char *url;
	const char *shown;
	long long timeout_ms;
	int accept_3xx;
	const char *ca_file;
	int insecure_tls;
	const volatile sig_atomic_t *stop;	/* set by a signal: give up now */
	char *(*redact)(const void *ctx, const char *text);
	const void *redact_ctx;
	/* Filled in by http_wait(). */
	int attempts;			/* requests made */
	long status;			/* of the last answer; 0 when none came */
};

/* 0 once the service answered; -1 with e set: EX_FAIL "'URL' was not ready
 * after 1m (4 attempts; last: HTTP 503)", EX_TEMP when stop was set. */
int http_wait(struct http_wait *w, struct err *e);

/*
 * URLs go through libcurl's URL API (curl_url), never a parser of our
 * own: the same rules decide what is requested and where credentials go.
 */

/* Percent-encode s for a URL query value (RFC 3986 unreserved kept). */
char *http_urlencode(const char *s);

/*
 * An absolute URL taken apart.  url is the URL normalised by libcurl (dot
 * segments removed, scheme lowercase) without userinfo or fragment: what
 * may be requested and printed.  user:password@ in the input is dropped
 * here and never reaches a request or a message.
 */
struct http_url {
	char *url;
	char *scheme;			/* lowercase: "https" */
	char *host;			/* as written; IPv6 in brackets: "[::1]" */
	char *hostport;			/* host, plus ":PORT" when the URL names a port */
	long port;			/* the port named, else the scheme's default */
};

/* The number of PEM certificates in a CA file (at least one), or -1 with
 * e set (EX_USAGE_): missing, unreadable, or none in it; or (EX_SERVICE)
 * when libcrypto, which reads it, cannot be loaded (core/crypto-load). */
int http_ca_file_check(const char *path, struct err *e);

/*
 * A URL an option names, checked before anything is sent: absolute, its
 * scheme one of the comma-separated schemes ("http,https").  -1 with e
 * set (EX_USAGE_, the URL shown without its userinfo) when it is not, or
 * (EX_SERVICE) when libcurl, which parses it, cannot be loaded.
 */
int http_url_check(const char *url, const char *schemes, struct err *e);

/* Parse an absolute URL of any scheme libcurl knows; -1 when it is not
 * one (relative, no scheme, bad syntax).  Free with http_url_free(). */
int http_url_parse(const char *url, struct http_url *u);
void http_url_free(struct http_url *u);

/*
 * Resolve a Location against the URL it came from (RFC 3986: absolute,
 * "//host/...", "/path", "rel" and "../rel" all work).  The result is
 * normalised as in struct http_url, without userinfo.  Fresh string, or
 * NULL when base or location is malformed or the result is not http(s).
 */
char *http_resolve(const char *base, const char *location);

/* 1 when a and b have the same scheme, host and port (a port the URL does
 * not name is the scheme's default: http://h and http://h:80 agree). */
int http_same_origin(const char *a, const char *b);

/*
 * url with the query parameter name=value appended ('?' or '&' as
 * needed; value percent-encoded).  Fresh string, or NULL when url is not
 * an absolute URL.
 */
char *http_url_add_query(const char *url, const char *name, const char *value);

#endif
