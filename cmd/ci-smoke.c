/*
 * ci-smoke: run HTTP smoke tests written in the Hurl file format against
 * a staging service, and add the verdict to the pipeline document.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "smoke/hurl.h"
#include "core/json.h"
#include "core/log.h"
#include "core/pipeline.h"
#include "smoke/smoke.h"
#include "core/timeutil.h"
#include "format/xml.h"

#define VERSION "0.1.0"
#define DEFAULT_MAX_TIME_MS 30000
#define DEFAULT_WAIT_MS 60000

extern char **environ;

/* A -v, --secret or --variables-file, in command-line order. */
struct varg {
	int kind;		/* 'v', 's' (secret), 'f' (file) */
	const char *arg;
};

struct options {
	struct varg *vargs;
	size_t nvargs;
	long jobs;
	long repeat;
	long long retry;
	long long retry_interval_ms;
	long long connect_timeout_ms;
	long long max_time_ms;
	long long max_p99_ms;		/* -1: no gate */
	int insecure;
	const char *ca_file;
	int continue_on_error;
	const char *wait_url;
	long long wait_timeout_ms;
	int tap;			/* 1: --tap */
	const char *tap_file;		/* NULL or "-": stdout, instead of the document */
	const char *junit;
	int new_doc;
	const char *version;
	int dry_run;
	char **files;
	size_t nfiles;
};

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	interrupted = sig;
}

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: ci-smoke [-hnq] [-j N] [-v NAME=VALUE]... [--variables-file FILE]...\n"
	    "                [--secret NAME=VALUE]... [--wait URL] [--wait-timeout DURATION]\n"
	    "                [--retry N] [--retry-interval DURATION] [--connect-timeout DURATION]\n"
	    "                [--max-time DURATION] [--insecure] [--cacert FILE] [--repeat N]\n"
	    "                [--max-p99 DURATION] [--continue-on-error] [--tap[=FILE]]\n"
	    "                [--junit FILE] [--new] [--version-tag VERSION] [--verbose] FILE...\n"
	    "       ci-smoke --version\n"
	    "\n"
	    "  -v, --variable NAME=VALUE  define {{NAME}} for the files\n"
	    "      --variables-file FILE  NAME=VALUE lines\n"
	    "      --secret NAME=VALUE    define {{NAME}} and hide VALUE in every output\n"
	    "  -j, --jobs N               run N files at once (default 1)\n"
	    "      --wait URL             first wait until URL answers 2xx\n"
	    "      --wait-timeout DUR     give up waiting after DUR (default 60s)\n"
	    "      --retry N              retry a failing entry N times (-1: no limit; default 0)\n"
	    "      --retry-interval DUR   between retries (default 1s)\n"
	    "      --connect-timeout DUR  per request (default 10s)\n"
	    "      --max-time DUR         per request (default 30s; 0: none)\n"
	    "      --insecure             do not verify TLS certificates\n"
	    "      --cacert FILE          trust the CA certificates in FILE too\n"
	    "      --repeat N             run each file N times; report p50/p95/p99 per entry\n"
	    "      --max-p99 DUR          fail an entry whose p99 duration is over DUR\n"
	    "      --continue-on-error    run the rest of a file after a failed entry\n"
	    "      --tap[=FILE]           write TAP to FILE, or to stdout instead of the document\n"
	    "      --junit FILE           write a JUnit XML report\n"
	    "  -n, --dry-run              parse and check the files, print the entries, run nothing\n"
	    "      --new                  start a new document; do not read stdin\n"
	    "      --version-tag V        record V as run.source.version in a new document\n"
	    "  -q, --quiet                only errors on stderr\n"
	    "      --verbose              every entry and retry on stderr\n"
	    "  -h, --help                 this text\n"
	    "      --version              print the version\n");
}

enum {
	OPT_VARFILE = 256, OPT_SECRET, OPT_WAIT, OPT_WAIT_TIMEOUT, OPT_RETRY, OPT_RETRY_INTERVAL,
	OPT_CONNECT_TIMEOUT, OPT_MAX_TIME, OPT_INSECURE, OPT_CACERT, OPT_REPEAT, OPT_MAX_P99,
	OPT_CONTINUE, OPT_TAP, OPT_JUNIT, OPT_NEW, OPT_VERSION_TAG, OPT_VERBOSE, OPT_VERSION
};

static int
duration_arg(const char *opt, const char *arg, long long *out)
{
	const char *why = NULL;

	if (parse_duration(arg, out, &why) < 0) {
		log_error("--%s '%s': %s", opt, arg, why ? why : "bad duration");
		return -1;
	}
	return 0;
}

static int
long_arg(const char *opt, const char *arg, long lo, long hi, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(arg, &end, 10);
	if (errno || end == arg || *end || *out < lo || *out > hi) {
		log_error("%s '%s': expected a number from %ld to %ld", opt, arg, lo, hi);
		return -1;
	}
	return 0;
}

static void
add_varg(struct options *o, int kind, const char *arg)
{
	o->vargs = xrealloc(o->vargs, (o->nvargs + 1) * sizeof(*o->vargs));
	o->vargs[o->nvargs].kind = kind;
	o->vargs[o->nvargs++].arg = arg;
}

static int
parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "cacert", required_argument, NULL, OPT_CACERT },
		{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
		{ "continue-on-error", no_argument, NULL, OPT_CONTINUE },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "insecure", no_argument, NULL, OPT_INSECURE },
		{ "jobs", required_argument, NULL, 'j' },
		{ "junit", required_argument, NULL, OPT_JUNIT },
		{ "max-p99", required_argument, NULL, OPT_MAX_P99 },
		{ "max-time", required_argument, NULL, OPT_MAX_TIME },
		{ "new", no_argument, NULL, OPT_NEW },
		{ "quiet", no_argument, NULL, 'q' },
		{ "repeat", required_argument, NULL, OPT_REPEAT },
		{ "retry", required_argument, NULL, OPT_RETRY },
		{ "retry-interval", required_argument, NULL, OPT_RETRY_INTERVAL },
		{ "secret", required_argument, NULL, OPT_SECRET },
		{ "tap", optional_argument, NULL, OPT_TAP },
		{ "variable", required_argument, NULL, 'v' },
		{ "variables-file", required_argument, NULL, OPT_VARFILE },
		{ "verbose", no_argument, NULL, OPT_VERBOSE },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "version-tag", required_argument, NULL, OPT_VERSION_TAG },
		{ "wait", required_argument, NULL, OPT_WAIT },
		{ "wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT },
		{ NULL, 0, NULL, 0 }
	};
	long n;
	int c;

	while ((c = getopt_long(argc, argv, "hj:nqv:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			exit(fflush(stdout) == EOF ? EX_IOERR_ : 0);
		case 'j':
			if (long_arg("-j", optarg, 1, 1024, &o->jobs) < 0)
				return -1;
			break;
		case 'n':
			o->dry_run = 1;
			break;
		case 'q':
			log_set_level(LOG_QUIET);
			break;
		case 'v':
			add_varg(o, 'v', optarg);
			break;
		case OPT_CACERT:
			o->ca_file = optarg;
			break;
		case OPT_CONNECT_TIMEOUT:
			if (duration_arg("connect-timeout", optarg, &o->connect_timeout_ms) < 0)
				return -1;
			break;
		case OPT_CONTINUE:
			o->continue_on_error = 1;
			break;
		case OPT_INSECURE:
			o->insecure = 1;
			break;
		case OPT_JUNIT:
			o->junit = optarg;
			break;
		case OPT_MAX_P99:
			if (duration_arg("max-p99", optarg, &o->max_p99_ms) < 0)
				return -1;
			break;
		case OPT_MAX_TIME:
			if (duration_arg("max-time", optarg, &o->max_time_ms) < 0)
				return -1;
			break;
		case OPT_NEW:
			o->new_doc = 1;
			break;
		case OPT_REPEAT:
			if (long_arg("--repeat", optarg, 1, 1000000, &o->repeat) < 0)
				return -1;
			break;
		case OPT_RETRY:
			if (long_arg("--retry", optarg, -1, 1000000, &n) < 0)
				return -1;
			o->retry = n;
			break;
		case OPT_RETRY_INTERVAL:
			if (duration_arg("retry-interval", optarg, &o->retry_interval_ms) < 0)
				return -1;
			break;
		case OPT_SECRET:
			add_varg(o, 's', optarg);
			break;
		case OPT_TAP:
			o->tap = 1;
			o->tap_file = optarg;
			break;
		case OPT_VARFILE:
			add_varg(o, 'f', optarg);
			break;
		case OPT_VERBOSE:
			log_set_level(LOG_VERBOSE);
			break;
		case OPT_VERSION:
			printf("ci-smoke %s\n", VERSION);
			exit(fflush(stdout) == EOF ? EX_IOERR_ : 0);
		case OPT_VERSION_TAG:
			o->version = optarg;
			break;
		case OPT_WAIT:
			o->wait_url = optarg;
			break;
		case OPT_WAIT_TIMEOUT:
			if (duration_arg("wait-timeout", optarg, &o->wait_timeout_ms) < 0)
				return -1;
			break;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind >= argc) {
		log_error("no Hurl file given");
		usage(stderr);
		return -1;
	}
	o->files = argv + optind;
	o->nfiles = (size_t)(argc - optind);
	return 0;
}

/* ---- variables -------------------------------------------------------- */

/* Environment, then the document, then the command line in order. */
static int
build_vars(const struct options *o, const struct pipeline *p, struct smoke_vars *vars,
    struct smoke_secrets *secrets, struct err *e)
{
	const cJSON *v;
	size_t i;

	smoke_vars_from_env(vars, environ);
	if ((v = json_path(p->doc, "push.reference")) && cJSON_IsString(v))
		smoke_vars_set_text(vars, "image", v->valuestring);
	if ((v = json_path(p->doc, "run.source.version")) && cJSON_IsString(v))
		smoke_vars_set_text(vars, "version", v->valuestring);
	for (i = 0; i < o->nvargs; i++) {
		const struct varg *a = &o->vargs[i];

		if (a->kind == 'f') {
			if (smoke_vars_load(vars, a->arg, e) < 0)
				return -1;
		} else if (smoke_vars_parse(vars, a->arg, a->kind == 's' ? "--secret" : "-v", e) < 0) {
			return -1;
		} else if (a->kind == 's') {
			smoke_secret_add(secrets, strchr(a->arg, '=') + 1);
		}
	}
	return 0;
}

/* ---- reports ---------------------------------------------------------- */

static const char *
status_name(int s)
{
	static const char *const names[] = { "passed", "failed", "skipped", "not_run" };

	return s >= 0 && s <= SM_NOT_RUN ? names[s] : "?";
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

struct stats {
	long long min, p50, p95, p99, max;
	size_t n;
};

static void
entry_stats(const struct smoke_entry *en, struct stats *st)
{
	long long *d;

	memset(st, 0, sizeof(*st));
	if (!en->ndurations)
		return;
	d = xmalloc(en->ndurations * sizeof(*d));
	memcpy(d, en->durations, en->ndurations * sizeof(*d));
	qsort(d, en->ndurations, sizeof(*d), cmp_ll);
	st->n = en->ndurations;
	st->min = d[0];
	st->max = d[st->n - 1];
	st->p50 = smoke_percentile(d, st->n, 50);
	st->p95 = smoke_percentile(d, st->n, 95);
	st->p99 = smoke_percentile(d, st->n, 99);
	free(d);
}

/* The --max-p99 gate: an entry over it fails. */
static void
apply_p99(struct smoke_result *r, long long max_ms)
{
	size_t i, k;

	for (i = 0; i < r->nfiles; i++)
		for (k = 0; k < r->files[i].nentries; k++) {
			struct smoke_entry *en = &r->files[i].entries[k];
			struct stats st;
			char got[32], lim[32];

			entry_stats(en, &st);
			if (!st.n || st.p99 <= max_ms)
				continue;
			format_duration(st.p99, got, sizeof(got));
			format_duration(max_ms, lim, sizeof(lim));
			if (en->status != SM_FAILED) {
				free(en->reason);
				en->reason = xasprintf("%s:%d: p99 duration %s is over --max-p99 %s",
				    r->files[i].path, en->line, got, lim);
				en->status = SM_FAILED;
			}
			r->files[i].status = SM_FAILED;
		}
}

static cJSON *
entry_json(const struct smoke_entry *en, int repeat, int want_stats)
{
	cJSON *o = cJSON_CreateObject(), *arr;
	size_t i;

	cJSON_AddStringToObject(o, "name", en->name);
	cJSON_AddNumberToObject(o, "line", en->line);
	cJSON_AddStringToObject(o, "method", en->method);
	if (en->url)
		cJSON_AddStringToObject(o, "url", en->url);
	cJSON_AddStringToObject(o, "status", status_name(en->status));
	if (en->status == SM_PASSED || en->status == SM_FAILED) {
		if (en->http_status)
			cJSON_AddNumberToObject(o, "http_status", en->http_status);
		json_add_i64(o, "duration_ms", en->duration_ms);
		cJSON_AddNumberToObject(o, "attempts", en->attempts);
	}
	if (en->nasserts) {
		arr = cJSON_AddArrayToObject(o, "asserts");
		for (i = 0; i < en->nasserts; i++) {
			const struct smoke_assert *a = &en->asserts[i];
			cJSON *x = cJSON_CreateObject();

			cJSON_AddNumberToObject(x, "line", a->line);
			cJSON_AddStringToObject(x, "assert", a->text);
			cJSON_AddStringToObject(x, "status", a->passed ? "passed" : "failed");
			cJSON_AddStringToObject(x, "expected", a->expected ? a->expected : "");
			cJSON_AddStringToObject(x, "actual", a->actual ? a->actual : "");
			if (a->message)
				cJSON_AddStringToObject(x, "message", a->message);
			cJSON_AddItemToArray(arr, x);
		}
	}
	if (en->ncaptures) {
		arr = cJSON_AddArrayToObject(o, "captures");
		for (i = 0; i < en->ncaptures; i++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(en->captures[i]));
	}
	if (en->error)
		cJSON_AddStringToObject(o, "error", en->error);
	if (en->reason && en->status == SM_FAILED)
		cJSON_AddStringToObject(o, "reason", en->reason);
	if (want_stats && en->ndurations) {
		struct stats st;
		cJSON *d = cJSON_AddObjectToObject(o, "durations");

		entry_stats(en, &st);
		cJSON_AddNumberToObject(d, "rounds", repeat);
		cJSON_AddNumberToObject(d, "failed", en->failures);
		json_add_i64(d, "min_ms", st.min);
		json_add_i64(d, "p50_ms", st.p50);
		json_add_i64(d, "p95_ms", st.p95);
		json_add_i64(d, "p99_ms", st.p99);
		json_add_i64(d, "max_ms", st.max);
	}
	return o;
}

struct counts {
	int entries, passed, failed, skipped, not_run;
};

static void
count(const struct smoke_result *r, struct counts *c)
{
	size_t i, k;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < r->nfiles; i++)
		for (k = 0; k < r->files[i].nentries; k++) {
			int s = r->files[i].entries[k].status;

			c->entries++;
			if (s == SM_PASSED)
				c->passed++;
			else if (s == SM_FAILED)
				c->failed++;
			else if (s == SM_SKIPPED)
				c->skipped++;
			else
				c->not_run++;
		}
}

static cJSON *
smoke_json(const struct smoke_result *r, const struct options *o, const struct pipeline *p,
    long long started, long long dur, const cJSON *wait, int *failed)
{
	cJSON *sec = cJSON_CreateObject(), *files, *sum, *fl;
	const cJSON *v;
	struct counts c;
	struct buf why = BUF_INIT;
	char when[32];
	size_t i, k;
	int want_stats = o->repeat > 1 || o->max_p99_ms >= 0;

	count(r, &c);
	cJSON_AddStringToObject(sec, "status", "passed");
	format_rfc3339((time_t)(started / 1000), when, sizeof(when));
	cJSON_AddStringToObject(sec, "started_at", when);
	json_add_i64(sec, "duration_ms", dur);
	if ((v = json_path(p->doc, "push.reference")) && cJSON_IsString(v))
		cJSON_AddStringToObject(sec, "image", v->valuestring);
	if ((v = json_path(p->doc, "run.source.version")) && cJSON_IsString(v))
		cJSON_AddStringToObject(sec, "version", v->valuestring);
	if (wait)
		cJSON_AddItemToObject(sec, "wait", cJSON_Duplicate(wait, 1));
	if (o->repeat > 1)
		cJSON_AddNumberToObject(sec, "repeat", o->repeat);
	if (o->max_p99_ms >= 0)
		json_add_i64(sec, "max_p99_ms", o->max_p99_ms);
	sum = cJSON_AddObjectToObject(sec, "summary");
	cJSON_AddNumberToObject(sum, "files", (double)r->nfiles);
	cJSON_AddNumberToObject(sum, "entries", c.entries);
	cJSON_AddNumberToObject(sum, "passed", c.passed);
	cJSON_AddNumberToObject(sum, "failed", c.failed);
	cJSON_AddNumberToObject(sum, "skipped", c.skipped);
	cJSON_AddNumberToObject(sum, "not_run", c.not_run);
	json_add_i64(sum, "requests", r->requests);
	files = cJSON_AddArrayToObject(sec, "files");
	fl = cJSON_CreateArray();
	for (i = 0; i < r->nfiles; i++) {
		const struct smoke_file *f = &r->files[i];
		cJSON *fo = cJSON_CreateObject(), *ents;

		cJSON_AddStringToObject(fo, "file", f->path);
		cJSON_AddStringToObject(fo, "status", f->status == SM_PASSED ? "passed" : "failed");
		json_add_i64(fo, "duration_ms", f->duration_ms);
		json_add_i64(fo, "requests", f->requests);
		ents = cJSON_AddArrayToObject(fo, "entries");
		for (k = 0; k < f->nentries; k++) {
			const struct smoke_entry *en = &f->entries[k];

			cJSON_AddItemToArray(ents, entry_json(en, o->repeat, want_stats));
			if (en->status == SM_FAILED) {
				char *id = xasprintf("%s:%d %s", f->path, en->line, en->name);

				/* names without a "# name:" already start with file:line */
				if (!strncmp(en->name, f->path, strlen(f->path)) &&
				    en->name[strlen(f->path)] == ':') {
					free(id);
					id = xstrdup(en->name);
				}
				cJSON_AddItemToArray(fl, cJSON_CreateString(id));
				buf_addf(&why, "%s%s", why.len ? "; " : "", en->reason ? en->reason : id);
				free(id);
			}
		}
		cJSON_AddItemToArray(files, fo);
	}
	cJSON_AddItemToObject(sec, "failed", fl);
	*failed = c.failed > 0 || r->interrupted;
	if (*failed) {
		char *reason = r->interrupted ? xstrdup("interrupted before every entry ran") :
		    xasprintf("%d of %d entr%s failed: %s", c.failed, c.entries,
			c.entries == 1 ? "y" : "ies", buf_str(&why));

		json_set(sec, "status", cJSON_CreateString("failed"));
		cJSON_AddStringToObject(sec, "reason", reason);
		free(reason);
	}
	buf_free(&why);
	return sec;
}

/* A test name fit for TAP: no newline, '#' escaped. */
static void
tap_name(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '#')
			buf_adds(b, "\\#");
		else if (*s == '\n' || *s == '\r')
			buf_addc(b, ' ');
		else
			buf_addc(b, *s);
	}
}

static void
tap_comment(struct buf *b, const char *text)
{
	const char *s = text;

	while (*s) {
		size_t n = strcspn(s, "\n");

		buf_addf(b, "#   %.*s\n", (int)n, s);
		s += n;
		if (*s)
			s++;
	}
}

static void
describe_failure(struct buf *b, const struct smoke_file *f, const struct smoke_entry *en)
{
	size_t i;
	char *t;

	buf_addf(b, "%s:%d %s %s\n", f->path, en->line, en->method, en->url ? en->url : "(not sent)");
	if (en->http_status)
		buf_addf(b, "HTTP %ld in %lld ms (attempt %d)\n", en->http_status, en->duration_ms,
		    en->attempts);
	if (en->error)
		buf_addf(b, "error: %s\n", en->error);
	for (i = 0; i < en->nasserts; i++) {
		const struct smoke_assert *a = &en->asserts[i];

		if (a->passed)
			continue;
		buf_addf(b, "assert %s:%d: %s\n", f->path, a->line, a->text);
		if (a->message)
			buf_addf(b, "  %s\n", a->message);
		buf_addf(b, "  expected: %s\n  actual:   %s\n", a->expected ? a->expected : "",
		    a->actual ? a->actual : "");
	}
	if (!en->nasserts && !en->error && en->reason)
		buf_addf(b, "%s\n", en->reason);
	if (en->body && *en->body) {
		buf_adds(b, "body (first 1 KiB):\n");
		t = en->body;
		while (*t) {
			size_t n = strcspn(t, "\n");

			buf_addf(b, "  %.*s\n", (int)n, t);
			t += n;
			if (*t)
				t++;
		}
	}
}

static char *
tap_text(const struct smoke_result *r)
{
	struct buf b = BUF_INIT;
	size_t i, k;
	int n = 0, total = 0;

	for (i = 0; i < r->nfiles; i++)
		total += (int)r->files[i].nentries;
	buf_addf(&b, "1..%d\n", total);
	for (i = 0; i < r->nfiles; i++) {
		const struct smoke_file *f = &r->files[i];

		for (k = 0; k < f->nentries; k++) {
			const struct smoke_entry *en = &f->entries[k];

			n++;
			buf_addf(&b, "%sok %d - ", en->status == SM_FAILED ? "not " : "", n);
			tap_name(&b, en->name);
			if (en->status == SM_SKIPPED)
				buf_adds(&b, " # SKIP the skip option");
			else if (en->status == SM_NOT_RUN)
				buf_adds(&b, r->interrupted ? " # SKIP interrupted" :
				    " # SKIP not run: an earlier entry of the file failed");
			buf_addc(&b, '\n');
			if (en->status == SM_FAILED) {
				struct buf d = BUF_INIT;

				describe_failure(&d, f, en);
				tap_comment(&b, buf_str(&d));
				buf_free(&d);
			}
		}
	}
	return buf_detach(&b, NULL);
}

/* Write TAP text to --tap's file, or to stdout. */
static int
tap_emit(const char *path, const char *t, struct err *e)
{
	if (!path || !strcmp(path, "-")) {
		fputs(t, stdout);
		if (fflush(stdout) == EOF || ferror(stdout))
			return err_set(e, EX_IOERR_, "cannot write TAP to stdout: %s", strerror(errno));
		return 0;
	}
	return mkdir_parent(path, e) < 0 ? -1 : atomic_write(path, t, strlen(t), 0644, e);
}

static int
write_tap(const struct smoke_result *r, const char *path, struct err *e)
{
	char *t = tap_text(r);
	int rc = tap_emit(path, t, e);

	free(t);
	return rc;
}

static int
write_junit(const struct smoke_result *r, const char *path, long long dur, struct err *e)
{
	struct buf b;
	struct counts c;
	size_t i, k;
	int errors = 0, rc;

	count(r, &c);
	for (i = 0; i < r->nfiles; i++)
		for (k = 0; k < r->files[i].nentries; k++)
			if (r->files[i].entries[k].status == SM_FAILED && r->files[i].entries[k].error)
				errors++;
	buf_init(&b, 0);
	buf_addf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<testsuites name=\"ci-smoke\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.3f\">\n",
	    c.entries, c.failed - errors, errors, c.skipped + c.not_run, (double)dur / 1000);
	for (i = 0; i < r->nfiles; i++) {
		const struct smoke_file *f = &r->files[i];
		int fail = 0, err = 0, skip = 0;

		for (k = 0; k < f->nentries; k++) {
			const struct smoke_entry *en = &f->entries[k];

			if (en->status == SM_FAILED)
				en->error ? err++ : fail++;
			else if (en->status != SM_PASSED)
				skip++;
		}
		buf_adds(&b, "  <testsuite name=\"");
		xml_escape(&b, f->path);
		buf_addf(&b, "\" tests=\"%zu\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.3f\">\n",
		    f->nentries, fail, err, skip, (double)f->duration_ms / 1000);
		for (k = 0; k < f->nentries; k++) {
			const struct smoke_entry *en = &f->entries[k];
			const char *tag = en->error ? "error" : "failure";

			buf_adds(&b, "    <testcase classname=\"");
			xml_escape(&b, f->path);
			buf_adds(&b, "\" name=\"");
			xml_escape(&b, en->name);
			buf_addf(&b, "\" time=\"%.3f\"", (double)en->duration_ms / 1000);
			if (en->status == SM_PASSED) {
				buf_adds(&b, "/>\n");
				continue;
			}
			buf_adds(&b, ">\n");
			if (en->status == SM_FAILED) {
				struct buf d = BUF_INIT;

				describe_failure(&d, f, en);
				buf_addf(&b, "      <%s message=\"", tag);
				xml_escape(&b, en->reason ? en->reason : "failed");
				buf_adds(&b, "\">");
				xml_escape(&b, buf_str(&d));
				buf_addf(&b, "</%s>\n", tag);
				buf_free(&d);
			} else {
				buf_adds(&b, "      <skipped message=\"");
				xml_escape(&b, en->status == SM_SKIPPED ? "the skip option" :
				    r->interrupted ? "interrupted" : "not run: an earlier entry of the file failed");
				buf_adds(&b, "\"/>\n");
			}
			buf_adds(&b, "    </testcase>\n");
		}
		buf_adds(&b, "  </testsuite>\n");
	}
	buf_adds(&b, "</testsuites>\n");
	rc = mkdir_parent(path, e) < 0 ? -1 : atomic_write(path, b.data, b.len, 0644, e);
	buf_free(&b);
	return rc;
}

/* ---- progress on stderr ----------------------------------------------- */

struct progress {
	int quiet;
};

static void
on_entry(const struct smoke_file *f, size_t k, void *arg)
{
	const struct progress *pg = arg;
	const struct smoke_entry *en = &f->entries[k];

	if (pg->quiet)
		return;
	if (en->last_failed && en->failures == 1) {
		struct buf d = BUF_INIT;
		const char *s;

		/* the whole story once; later rounds of --repeat only count */
		describe_failure(&d, f, en);
		if (en->rounds > 1)
			fprintf(stderr, "%s: FAIL %s (round %d)\n", log_prog(), en->name, en->rounds);
		else
			fprintf(stderr, "%s: FAIL %s\n", log_prog(), en->name);
		for (s = buf_str(&d); *s;) {
			size_t n = strcspn(s, "\n");

			fprintf(stderr, "  %.*s\n", (int)n, s);
			s += n;
			if (*s)
				s++;
		}
		buf_free(&d);
	} else if (log_level() >= LOG_VERBOSE) {
		log_verbose("%s %s:%d %s %s -> %ld (%lld ms)", en->last_failed ? "FAIL" : "ok",
		    f->path, en->line, en->method, en->url ? en->url : "", en->http_status, en->duration_ms);
	}
}

/* ---- main ------------------------------------------------------------- */

static void
print_plan(const struct hurl_file *files, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		printf("%s: %zu entr%s\n", files[i].path, files[i].nentries,
		    files[i].nentries == 1 ? "y" : "ies");
		for (k = 0; k < files[i].nentries; k++) {
			const struct hurl_entry *en = &files[i].entries[k];

			printf("  %d: %s %s", en->req.line, en->req.method, en->req.url_text);
			if (en->name)
				printf("  (%s)", en->name);
			if (en->resp.present) {
				if (en->resp.status >= 0)
					printf(" -> %d", en->resp.status);
				else
					printf(" -> *");
				printf(", %zu assert%s, %zu capture%s", en->resp.nasserts,
				    en->resp.nasserts == 1 ? "" : "s", en->resp.ncaptures,
				    en->resp.ncaptures == 1 ? "" : "s");
			}
			printf("\n");
		}
	}
}

/* The stage could not even start (bad file, bad variable): say so in the
 * document, so that the stages downstream do not act. */
static int
write_error(struct pipeline *p, const struct options *o, const struct err *e0, long long started)
{
	struct err e = *e0;
	cJSON *sec = cJSON_CreateObject();
	int rc = err_report(&e);

	cJSON_AddStringToObject(sec, "status", "error");
	cJSON_AddStringToObject(sec, "reason", e.msg);
	pipeline_set_section(p, "smoke", sec, started, 0);
	if (o->tap) {
		/* TAP's word for a run that could not go on */
		char *t = xasprintf("Bail out! %s\n", e.msg);

		if (tap_emit(o->tap_file, t, &e) < 0)
			rc = err_report(&e);
		free(t);
	}
	if (!(o->tap && (!o->tap_file || !strcmp(o->tap_file, "-"))) &&
	    pipeline_write(p, stdout, &e) < 0)
		rc = err_report(&e);
	return rc;
}

int
main(int argc, char **argv)
{
	struct options o;
	struct pipeline p = { NULL, 0 };
	struct err e = { 0, "" };
	struct smoke_vars vars = { NULL, 0, 0 };
	struct smoke_secrets secrets = { NULL, 0 };
	struct smoke_opts so;
	struct smoke_result res;
	struct hurl_file *files = NULL;
	struct progress pg;
	struct sigaction sa;
	cJSON *sec, *wait = NULL;
	long long started, t0;
	int rc = 0, failed = 0, tap_stdout;
	size_t i, nloaded = 0;

	log_init("ci-smoke");
	memset(&o, 0, sizeof(o));
	memset(&res, 0, sizeof(res));
	o.jobs = 1;
	o.repeat = 1;
	o.retry_interval_ms = 1000;
	o.max_time_ms = DEFAULT_MAX_TIME_MS;
	o.max_p99_ms = -1;
	o.wait_timeout_ms = DEFAULT_WAIT_MS;
	if (parse_args(argc, argv, &o) < 0) {
		free(o.vargs);
		return EX_USAGE_;
	}
	tap_stdout = o.tap && (!o.tap_file || !strcmp(o.tap_file, "-"));
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	started = now_ms();
	t0 = mono_ms();

	if (o.dry_run) {
		files = xcalloc(o.nfiles, sizeof(*files));
		for (i = 0; i < o.nfiles && rc == 0; i++, nloaded++)
			if (hurl_load(o.files[i], &files[i], &e) < 0)
				rc = err_report(&e);
		p.doc = cJSON_CreateObject();
		if (rc == 0 && build_vars(&o, &p, &vars, &secrets, &e) < 0)
			rc = err_report(&e);
		/* no document is read: stand in for what one would give */
		if (!smoke_vars_get(&vars, "image"))
			smoke_vars_set_text(&vars, "image", "IMAGE");
		if (!smoke_vars_get(&vars, "version"))
			smoke_vars_set_text(&vars, "version", "VERSION");
		for (i = 0; i < nloaded && rc == 0; i++)
			if (smoke_check(&files[i], &vars, &e) < 0)
				rc = err_report(&e);
		if (rc == 0) {
			print_plan(files, nloaded);
			rc = fflush(stdout) == EOF || ferror(stdout) ? EX_IOERR_ : 0;
		}
		goto out;
	}

	/* The document: from stdin unless it is a terminal or --new.  An
	 * empty pipe means the stage before died without writing one. */
	if (pipeline_open(&p, !o.new_doc, 0, o.version, &e) < 0) {
		rc = err_report(&e);
		goto out;
	}
	rc = 0;
	if (pipeline_skip_upstream(&p, "smoke", "running the smoke tests")) {
		const char *fs = json_str(json_path(p.doc, "smoke"), "failed_stage");

		if (o.tap) {
			char *t = xasprintf("1..0 # SKIP upstream stage '%s' failed\n", fs);

			if (tap_emit(o.tap_file, t, &e) < 0)
				rc = err_report(&e);
			free(t);
		}
		if (!tap_stdout && pipeline_write(&p, stdout, &e) < 0)
			rc = err_report(&e);
		if (!rc)
			rc = EX_FAIL;
		goto out;
	}

	files = xcalloc(o.nfiles, sizeof(*files));
	for (i = 0; i < o.nfiles; i++, nloaded++)
		if (hurl_load(o.files[i], &files[i], &e) < 0) {
			nloaded++;
			rc = write_error(&p, &o, &e, started);
			goto out;
		}
	if (build_vars(&o, &p, &vars, &secrets, &e) < 0) {
		rc = write_error(&p, &o, &e, started);
		goto out;
	}
	for (i = 0; i < nloaded; i++)
		if (smoke_check(&files[i], &vars, &e) < 0) {
			rc = write_error(&p, &o, &e, started);
			goto out;
		}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	memset(&so, 0, sizeof(so));
	so.jobs = (size_t)o.jobs;
	so.repeat = (int)o.repeat;
	so.retry = o.retry;
	so.retry_interval_ms = o.retry_interval_ms;
	so.connect_timeout_ms = o.connect_timeout_ms;
	so.max_time_ms = o.max_time_ms;
	so.insecure = o.insecure;
	so.ca_file = o.ca_file;
	so.continue_on_error = o.continue_on_error;
	so.vars = &vars;
	so.secrets = &secrets;
	so.stop = &interrupted;
	pg.quiet = log_level() < LOG_NORMAL;
	so.on_entry = on_entry;
	so.arg = &pg;

	if (o.wait_url) {
		int attempts = 0;
		long long w0 = mono_ms();
		char *shown = smoke_redact(&secrets, o.wait_url);
		int wrc = smoke_wait(o.wait_url, o.wait_timeout_ms, &so, &attempts, &e);

		wait = cJSON_CreateObject();
		cJSON_AddStringToObject(wait, "url", shown);
		cJSON_AddBoolToObject(wait, "ready", wrc == 0);
		cJSON_AddNumberToObject(wait, "attempts", attempts);
		json_add_i64(wait, "duration_ms", mono_ms() - w0);
		free(shown);
		if (wrc < 0) {
			/* The service never came up: that is the smoke verdict. */
			int code = e.code;

			sec = cJSON_CreateObject();
			cJSON_AddStringToObject(sec, "status", "failed");
			cJSON_AddStringToObject(sec, "reason", e.msg);
			cJSON_AddItemToObject(sec, "wait", wait);
			wait = NULL;
			log_error("%s", e.msg);
			pipeline_set_section(&p, "smoke", sec, started, mono_ms() - t0);
			if (o.tap) {
				char *t = xasprintf("1..1\nnot ok 1 - wait for the service\n#   %s\n",
				    json_str(sec, "reason"));

				if (tap_emit(o.tap_file, t, &e) < 0)
					code = err_report(&e);
				free(t);
			}
			if (!tap_stdout && pipeline_write(&p, stdout, &e) < 0)
				code = err_report(&e);
			rc = code == EX_TEMP ? EX_TEMP : code == EX_IOERR_ ? EX_IOERR_ : EX_FAIL;
			goto out;
		}
	}

	if (smoke_run(files, nloaded, &so, &res, &e) < 0) {
		rc = write_error(&p, &o, &e, started);
		goto out;
	}
	if (o.max_p99_ms >= 0)
		apply_p99(&res, o.max_p99_ms);
	sec = smoke_json(&res, &o, &p, started, mono_ms() - t0, wait, &failed);
	if (log_level() >= LOG_NORMAL) {
		struct counts c;

		count(&res, &c);
		if (failed)
			log_info("smoke failed: %s", json_str(sec, "reason"));
		else
			log_info("smoke passed: %d entr%s in %zu file%s (%lld request%s)", c.passed,
			    c.passed == 1 ? "y" : "ies", res.nfiles, res.nfiles == 1 ? "" : "s",
			    res.requests, res.requests == 1 ? "" : "s");
	}
	pipeline_set_section(&p, "smoke", sec, started, mono_ms() - t0);
	rc = interrupted ? EX_TEMP : failed ? EX_FAIL : EX_PASS;
	if (o.junit && write_junit(&res, o.junit, mono_ms() - t0, &e) < 0)
		rc = err_report(&e);
	if (o.tap && write_tap(&res, o.tap_file, &e) < 0)
		rc = err_report(&e);
	if (!tap_stdout && pipeline_write(&p, stdout, &e) < 0)
		rc = err_report(&e);
out:
	for (i = 0; i < nloaded; i++)
		hurl_file_free(&files[i]);
	free(files);
	cJSON_Delete(wait);
	smoke_result_free(&res);
	smoke_vars_free(&vars);
	smoke_secrets_free(&secrets);
	pipeline_free(&p);
	free(o.vargs);
	curl_global_cleanup();
	return rc;
}
