/*
 * smoke: run parsed Hurl files (lib/hurl.h) against a service and judge
 * the responses, for ci-smoke(1).
 *
 * Design: one thread, one curl multi handle.  Each file is a small state
 * machine (render the next entry, wait for its delay, transfer, judge,
 * retry or go on); smoke_run() keeps at most o->jobs of them active and
 * drives every transfer with curl_multi_poll(), so files really overlap on
 * the network while the judging stays sequential and needs no lock.
 * Entries within a file run in order; --repeat runs a file's entries again
 * from the start, after the previous round.
 *
 * Values: queries, filters and variables produce struct sval values
 * (typed like Hurl's: integers, floats, strings, bytes, lists, objects).
 * Variables come from the caller (smoke_vars) and grow with captures,
 * separately for each file and each round.
 *
 * Secrets: every string a result holds (URLs, expected and actual values,
 * error messages, body excerpts) has already gone through
 * smoke_redact(), so a caller that prints only results never prints a
 * secret.  Captures marked "redact" add their values to the secrets, and
 * so does what a request logs in with: the password of a [BasicAuth] or
 * of the URL's userinfo, and the Basic header they make.
 *
 * Ownership: struct smoke_result owns everything in it
 * (smoke_result_free()); the files passed in must outlive smoke_run().
 */
#ifndef CI_SMOKE_H
#define CI_SMOKE_H

#include <signal.h>
#include <stddef.h>
#include <cJSON.h>

#include "smoke/hurl.h"
#include "core/log.h"

enum sv_type {
	SV_NONE, SV_NULL, SV_BOOL, SV_INT, SV_FLOAT, SV_STRING, SV_BYTES, SV_LIST, SV_OBJECT,
	SV_DATE
};

struct sval {
	int type;
	int b;
	long long i;		/* SV_INT; SV_DATE: microseconds since the epoch, UTC */
	double f;
	char *s;		/* SV_STRING, SV_BYTES (len bytes, NUL-terminated) */
	size_t len;
	cJSON *j;		/* SV_LIST, SV_OBJECT (owned) */
	int nodeset;		/* a list from a jsonpath query that may be empty */
};

void sval_free(struct sval *v);
void sval_copy(struct sval *dst, const struct sval *src);
/* The value's text as a template renders it (fresh). */
char *sval_text(const struct sval *v);
/* The value for messages: strings quoted, long ones cut (fresh). */
char *sval_show(const struct sval *v);
/* Hurl's typing of text given on the command line: true, false, null,
 * integers, floats, else a string. */
void sval_from_text(struct sval *v, const char *text);

/*
 * Dates, as Hurl's toDate and dateFormat filters write them: strftime(3)
 * and strptime(3) formats plus chrono's "%+" (RFC 3339, "2024-03-20T11:23:56.773+02:00")
 * and "%.f" (a fraction of a second, "." and its digits).  sval_parse_date()
 * returns 0 with *us the microseconds since the epoch, or -1 when s does
 * not match fmt; sval_format_date() returns a fresh string, or NULL when
 * fmt is too long to expand.
 */
int sval_parse_date(const char *s, const char *fmt, long long *us);
char *sval_format_date(long long us, const char *fmt);

/*
 * XPath 1.0 on a body (libxml2): as HTML when html is set, else as XML.
 * Prefixes declared in the document can be used, "_" for its default
 * namespace.  A node set is a list of the nodes' string values; numbers,
 * booleans and strings are themselves.  0, or -1 with *why (fresh).
 */
int sval_xpath(const char *body, size_t len, int html, const char *expr, struct sval *out,
    char **why);

/* ---- variables and secrets -------------------------------------------- */

struct smoke_var {
	char *name;
	struct sval v;
	char *text;		/* as given, when it came as text: templates render it */
};

struct smoke_vars {
	struct smoke_var *v;
	size_t n, alloc;
};

void smoke_vars_set(struct smoke_vars *vs, const char *name, const struct sval *v,
    const char *text);
void smoke_vars_set_text(struct smoke_vars *vs, const char *name, const char *text);
const struct smoke_var *smoke_vars_get(const struct smoke_vars *vs, const char *name);
void smoke_vars_copy(struct smoke_vars *dst, const struct smoke_vars *src);
void smoke_vars_free(struct smoke_vars *vs);
/* "NAME=VALUE" (-v, a variables file line); -1 with e set (EX_USAGE_). */
int smoke_vars_parse(struct smoke_vars *vs, const char *arg, const char *where, struct err *e);
/* Lines "NAME=VALUE" ('#' comments, blank lines); EX_USAGE_ or EX_IOERR_. */
int smoke_vars_load(struct smoke_vars *vs, const char *path, struct err *e);
/* Every HURL_NAME=VALUE of the environment as NAME. */
void smoke_vars_from_env(struct smoke_vars *vs, char **envp);

/* Secret values (and their URL- and JSON-escaped forms) to hide. */
struct smoke_secrets {
	char **v;
	size_t n;
};

void smoke_secret_add(struct smoke_secrets *s, const char *value);
/* s with every secret replaced by "***", and the userinfo of every URL in
 * it (core/encode's url_redact()); fresh, NULL stays NULL. */
char *smoke_redact(const struct smoke_secrets *s, const char *text);
void smoke_secrets_free(struct smoke_secrets *s);

/* ---- running ---------------------------------------------------------- */

struct smoke_file;

/* What of a response body is kept for the asserts, by default
 * (--max-body); past it the body is only counted and hashed. */
#define SMOKE_BODY_MAX (32LL << 20)

struct smoke_opts {
	size_t jobs;			/* files at once, >= 1 */
	int repeat;			/* rounds of each file, >= 1 */
	long long retry;		/* retries of an entry without its own option; -1 no limit */
	long long retry_interval_ms;
	long long connect_timeout_ms;	/* 0: lib/http's default */
	long long max_time_ms;		/* 0: none */
	long long max_body;		/* bytes of a body kept; 0: SMOKE_BODY_MAX */
	int insecure;
	const char *ca_file;
	int continue_on_error;		/* run the rest of a file after a failure */
	const struct smoke_vars *vars;	/* the starting variables of every file */
	struct smoke_secrets *secrets;	/* grows with redacted captures */
	volatile sig_atomic_t *stop;	/* set by a signal: end early */
	/* Called when an entry's round is judged, for progress on stderr. */
	void (*on_entry)(const struct smoke_file *fr, size_t entry, void *arg);
	void *arg;
};

enum smoke_status { SM_PASSED, SM_FAILED, SM_SKIPPED, SM_NOT_RUN };

struct smoke_assert {
	int line;
	char *text;		/* as written ("jsonpath "$.a" == 1"), or "HTTP 200" */
	int passed;
	char *expected;		/* "== 1", "exists" */
	char *actual;		/* "2", "none", "\"text\"" */
	char *message;		/* why it could not be judged, or NULL */
};

struct smoke_entry {
	int line;
	char *name;		/* "# name:" text, or "FILE:LINE METHOD URL" as written */
	char *method;
	char *url;		/* rendered and redacted; NULL when never rendered */
	int status;		/* enum smoke_status, over all rounds */
	long http_status;	/* of the last attempt; 0: no response */
	long long duration_ms;	/* of the last attempt */
	int attempts;		/* of the round reported */
	struct smoke_assert *asserts;	/* of the round reported */
	size_t nasserts;
	char **captures;	/* names */
	size_t ncaptures;
	char *error;		/* a request that could not be made or judged */
	char *reason;		/* the first failure, one line */
	char *body;		/* first 1 KiB of the failing response body */
	long long *durations;	/* one per round that got a response */
	size_t ndurations;
	int rounds, failures;	/* rounds run, rounds failed */
	int last_failed;	/* the round just judged failed (for on_entry) */
};

struct smoke_file {
	char *path;
	int status;		/* SM_PASSED or SM_FAILED */
	long long duration_ms;
	struct smoke_entry *entries;
	size_t nentries;
	long long requests;
};

struct smoke_result {
	struct smoke_file *files;
	size_t nfiles;
	long long requests;
	int interrupted;
};

/*
 * Check that every {{variable}} of every entry is defined where it is
 * used: by o->vars, an option "variable" or a capture of an earlier entry
 * (or of the same entry, in its response).  -1 with e set to
 * "FILE:LINE: undefined variable 'name'" (EX_USAGE_).
 */
int smoke_check(const struct hurl_file *f, const struct smoke_vars *vars, struct err *e);

/* Run the files; results in r (one per file, in the order given).
 * Returns 0, or -1 with e set when the runner itself failed (EX_INTERNAL). */
int smoke_run(const struct hurl_file *files, size_t nfiles, const struct smoke_opts *o,
    struct smoke_result *r, struct err *e);
void smoke_result_free(struct smoke_result *r);

/* Percentile p (0..100) of n sorted values, nearest rank. */
long long smoke_percentile(const long long *sorted, size_t n, double p);

/*
 * Poll url until it answers 2xx or timeout_ms passes (net/http's
 * http_wait(), with o's TLS options and its secrets hidden in messages:
 * backoff through core/retry).  Returns 0 when ready, or -1 with e set (EX_FAIL, or
 * EX_TEMP when o->stop was set) naming the last answer; *attempts is the
 * number of requests made.
 */
int smoke_wait(const char *url, long long timeout_ms, const struct smoke_opts *o,
    int *attempts, struct err *e);

#endif
