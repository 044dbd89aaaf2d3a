/*
 * ci-gate: run quality-gate jobs (lint, tests, scans) as a DAG, in
 * parallel, with timeouts, captured logs, JUnit and coverage thresholds,
 * and add the verdict to the pipeline document.
 *
 * Built-in jobs ("builtin": "secrets" or "review") run as a child of
 * ci-gate too: ci-gate executes itself (/proc/self/exe) with the hidden
 * first argument --builtin-child, so a built-in gets the same process
 * group, timeout, cancellation and log file as any job, and a crash or a
 * hang in it cannot take the gate down.  The child reads its options from
 * OUT/NAME.options.json and writes its verdict to OUT/NAME.result.json,
 * which ci-gate reads back into the job.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gate/block.h"
#include "gate/builtin.h"
#include "gate/dag.h"
#include "gate/job.h"
#include "gate/sched.h"
#include "gate/spec.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "core/log.h"
#include "core/pipeline.h"
#include "core/proc.h"
#include "format/report.h"
#include "gate/review.h"
#include "format/sarif.h"
#include "gate/secrets.h"
#include "core/timeutil.h"
#include "format/xml.h"

#define VERSION "0.1.0"
#define REPORT_MAX_BYTES (64u << 20)
#define GH_MAX_ERRORS 10
#define GH_MAX_LOG (1u << 20)

struct options {
	const char *spec;
	char **inline_jobs;	/* "NAME=COMMAND" */
	size_t ninline;
	char **needs;		/* "JOB:DEP,..." (strv) */
	long jobs;		/* 0: unset */
	int keep_going;		/* -1 unset, 0 fail fast, 1 keep going */
	long long timeout_ms;	/* -1 unset */
	long long grace_ms;
	const char *out_dir;
	const char *junit_out;
	const char *version;
	int dry_run;
	int new_doc;
	const char *sarif_out;
	const char *cq_out;
	int ignore_block;
	int list_rules;
	/* --secrets: one built-in secrets job, from these */
	int secrets;
	int all_files, staged;
	const char *since;
	const char *baseline;
	const char *write_baseline;
	char **paths;		/* borrowed from argv */
	size_t npaths;
	const char *self;	/* our executable, for built-in children */
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
	    "usage: ci-gate [-hknqv] [-f FILE] [-g NAME=COMMAND]... [--needs JOB:DEP[,DEP]]...\n"
	    "               [-j N] [--keep-going | --fail-fast] [--timeout DURATION]\n"
	    "               [--grace DURATION] [-o DIR] [--junit FILE] [--sarif FILE]\n"
	    "               [--codequality FILE] [--ignore-block] [--dry-run]\n"
	    "               [--new] [--version-tag VERSION]\n"
	    "       ci-gate --secrets [-nqv] [--all-files | --since REV | --staged]\n"
	    "               [--baseline FILE] [--write-baseline FILE] [--sarif FILE]\n"
	    "               [--codequality FILE] [--timeout DURATION] [-o DIR] [--junit FILE]\n"
	    "               [--ignore-block] [--new] [--version-tag VERSION] [PATH ...]\n"
	    "       ci-gate --list-rules [-v]\n"
	    "       ci-gate --version\n"
	    "\n"
	    "  -f, --file FILE        job spec (JSON, comments allowed); default ./gates.json\n"
	    "  -g, --gate NAME=CMD    add a job running CMD with sh -c\n"
	    "      --needs JOB:DEPS   JOB runs after DEPS (comma-separated)\n"
	    "  -j, --jobs N           run at most N jobs at once (default: CPUs)\n"
	    "  -k, --keep-going       after a failure, run what does not depend on it\n"
	    "      --fail-fast        cancel everything at the first failure (default)\n"
	    "      --timeout DUR      default job timeout (default 1h; 0: none)\n"
	    "      --grace DUR        SIGTERM to SIGKILL delay on timeout (default 5s)\n"
	    "  -o, --out DIR          job logs go to DIR (default ci-out/gate)\n"
	    "      --junit FILE       write a JUnit XML report of the jobs\n"
	    "      --sarif FILE       write the secrets found as SARIF 2.1.0\n"
	    "      --codequality FILE write the secrets found as GitLab Code Quality JSON\n"
	    "      --ignore-block     run even while ci-rollback blocks the pipeline\n"
	    "      --secrets          run only the secret scanner, on PATHs (default .)\n"
	    "      --all-files        scan every file, not only those git tracks\n"
	    "      --since REV        scan only the lines added since REV forked\n"
	    "      --staged           scan only the lines staged for commit\n"
	    "      --baseline FILE    do not report the findings FILE lists\n"
	    "      --write-baseline FILE  record every finding in FILE, then pass\n"
	    "      --list-rules       print the secret scanner's rules (-v: with their EREs)\n"
	    "  -n, --dry-run          print the plan, run nothing\n"
	    "      --new              start a new document; do not read stdin\n"
	    "      --version-tag V    record V as run.source.version in a new document\n"
	    "  -q, --quiet            only errors on stderr\n"
	    "  -v, --verbose          more detail on stderr\n"
	    "  -h, --help             this text\n"
	    "      --version          print the version\n");
}

/* ---- output while running ------------------------------------------ */

struct view {
	int tty;		/* live status block on stderr */
	int github;		/* GitHub Actions workflow commands */
	int quiet;
	int drawn;		/* lines of the live block on screen */
	int gh_errors;
};

static void
live_clear(struct view *v)
{
	if (!v->tty || !v->drawn)
		return;
	fprintf(stderr, "\033[%dA\033[J", v->drawn);
	v->drawn = 0;
}

static void
live_draw(const struct gate *g, void *arg)
{
	struct view *v = arg;
	size_t i;
	char dur[32];

	if (!v->tty || v->quiet)
		return;
	live_clear(v);
	for (i = 0; i < g->njobs; i++) {
		const struct gate_job *j = &g->jobs[i];
		const char *mark = "     ";

		if (j->state == GATE_RUNNING) {
			format_duration(proc_elapsed_ms(&j->proc) / 1000 * 1000, dur, sizeof(dur));
			fprintf(stderr, "  \033[33m[ .. ]\033[m %-20s running %s\033[K\n", j->name, dur);
		} else if (j->state == GATE_DONE) {
			format_duration(j->duration_ms, dur, sizeof(dur));
			if (j->status == GATE_PASSED)
				mark = "\033[32m[ ok ]\033[m";
			else if (j->status == GATE_SKIPPED || j->status == GATE_CANCELLED)
				mark = "\033[2m[skip]\033[m";
			else if (j->allow_failure)
				mark = "\033[33m[warn]\033[m";
			else
				mark = "\033[31m[FAIL]\033[m";
			fprintf(stderr, "  %s %-20s %s%s%s%s%.60s\033[K\n", mark, j->name,
			    gate_status_name(j->status),
			    j->status == GATE_SKIPPED ? "" : " in ",
			    j->status == GATE_SKIPPED ? "" : dur,
			    j->reason ? ": " : "", j->reason ? j->reason : "");
		} else {
			fprintf(stderr, "  \033[2m[wait]\033[m %-20s\033[K\n", j->name);
		}
		v->drawn++;
	}
	fflush(stderr);
}

/* GitHub workflow command escaping: data, and property values. */
static void
gh_escape(struct buf *b, const char *s, int property)
{
	for (; *s; s++) {
		if (*s == '%')
			buf_adds(b, "%25");
		else if (*s == '\r')
			buf_adds(b, "%0D");
		else if (*s == '\n')
			buf_adds(b, "%0A");
		else if (property && *s == ':')
			buf_adds(b, "%3A");
		else if (property && *s == ',')
			buf_adds(b, "%2C");
		else
			buf_addc(b, *s);
	}
}

/* One annotation per secret found, at its place; the match is redacted. */
static int
gh_findings(struct view *v, const struct gate_job *j)
{
	const cJSON *fs = j->result ? cJSON_GetObjectItemCaseSensitive(j->result, "findings") : NULL;
	const cJSON *f;

	if (!cJSON_IsArray(fs) || !cJSON_GetArraySize(fs))
		return 0;
	cJSON_ArrayForEach(f, fs) {
		const struct secret_rule_info *ri = secrets_rule(json_str(f, "rule") ? json_str(f, "rule") : "");
		const cJSON *ln = cJSON_GetObjectItemCaseSensitive(f, "line");
		const cJSON *cl = cJSON_GetObjectItemCaseSensitive(f, "column");
		struct buf b = BUF_INIT;
		char *title, *msg;

		if (v->gh_errors == GH_MAX_ERRORS) {
			fprintf(stderr, "::warning title=ci-gate::more failures than GitHub shows annotations for; see the step summary\n");
			v->gh_errors++;
			break;
		}
		if (v->gh_errors > GH_MAX_ERRORS)
			break;
		v->gh_errors++;
		buf_adds(&b, j->allow_failure ? "::warning file=" : "::error file=");
		gh_escape(&b, json_str(f, "file") ? json_str(f, "file") : "", 1);
		buf_addf(&b, ",line=%ld", cJSON_IsNumber(ln) ? (long)ln->valuedouble : 1L);
		if (cJSON_IsNumber(cl))
			buf_addf(&b, ",col=%ld", (long)cl->valuedouble);
		title = xasprintf("ci-gate: %s: %s", j->name, json_str(f, "rule") ? json_str(f, "rule") : "secret");
		buf_adds(&b, ",title=");
		gh_escape(&b, title, 1);
		free(title);
		msg = xasprintf("%s: %s (fingerprint %.12s)", ri ? ri->title : "secret",
		    json_str(f, "match") ? json_str(f, "match") : "", json_str(f, "fingerprint") ?
		    json_str(f, "fingerprint") : "");
		buf_adds(&b, "::");
		gh_escape(&b, msg, 0);
		free(msg);
		fprintf(stderr, "%s\n", buf_str(&b));
		buf_free(&b);
	}
	fflush(stderr);
	return 1;
}

static void
gh_job_finished(struct view *v, const struct gate_job *j)
{
	char dur[32];
	char *log;
	size_t len = 0;

	format_duration(j->duration_ms, dur, sizeof(dur));
	if (v->quiet)
		goto annotate;
	fprintf(stderr, "::group::%s: %s in %s\n", j->name, gate_status_name(j->status), dur);
	if (j->log_path && (log = read_file(j->log_path, GH_MAX_LOG, &len, NULL))) {
		fwrite(log, 1, len, stderr);
		if (len && log[len - 1] != '\n')
			fputc('\n', stderr);
		free(log);
	} else if (j->log_path) {
		fprintf(stderr, "(log too large to show here: see %s)\n", j->log_path);
	}
	fprintf(stderr, "::endgroup::\n");
annotate:
	if (j->status == GATE_FAILED && gh_findings(v, j))
		return;
	if (j->status != GATE_PASSED && j->status != GATE_SKIPPED && j->status != GATE_CANCELLED) {
		struct buf b = BUF_INIT;

		if (v->gh_errors == GH_MAX_ERRORS) {
			fprintf(stderr, "::warning title=ci-gate::more failures than GitHub shows annotations for; see the step summary\n");
			v->gh_errors++;
			return;
		}
		if (v->gh_errors > GH_MAX_ERRORS)
			return;
		v->gh_errors++;
		buf_adds(&b, j->allow_failure ? "::warning title=" : "::error title=");
		{
			char *title = xasprintf("ci-gate: %s %s", j->name, gate_status_name(j->status));

			gh_escape(&b, title, 1);
			free(title);
		}
		buf_adds(&b, "::");
		gh_escape(&b, j->reason ? j->reason : gate_status_name(j->status), 0);
		if (j->tail && *j->tail) {
			size_t n = strlen(j->tail);
			char *t = xstrndup(j->tail, n && j->tail[n - 1] == '\n' ? n - 1 : n);

			buf_adds(&b, "%0A");
			gh_escape(&b, t, 0);
			free(t);
		}
		fprintf(stderr, "%s\n", buf_str(&b));
		buf_free(&b);
	}
	fflush(stderr);
}

static void
print_tail(const char *tail)
{
	const char *p = tail, *nl;

	while (*p) {
		nl = strchr(p, '\n');
		if (!nl) {
			fprintf(stderr, "    | %s\n", p);
			break;
		}
		fprintf(stderr, "    | %.*s\n", (int)(nl - p), p);
		p = nl + 1;
	}
}

static void
report_start(const struct gate_job *j, void *arg)
{
	struct view *v = arg;

	if (v->quiet || v->tty)
		return;
	log_info("%s: started", j->name);
}

static void
report_finish(const struct gate *g, const struct gate_job *j, void *arg)
{
	struct view *v = arg;
	char dur[32];
	int bad = j->status != GATE_PASSED && j->status != GATE_SKIPPED &&
	    j->status != GATE_CANCELLED;

	if (v->github) {
		gh_job_finished(v, j);
		return;
	}
	if (v->quiet)
		return;
	live_clear(v);
	format_duration(j->duration_ms, dur, sizeof(dur));
	if (!v->tty || bad)
		log_info("%s: %s%s%s (%s)%s", j->name, gate_status_name(j->status),
		    j->reason ? ": " : "", j->reason ? j->reason : "", dur,
		    bad && j->allow_failure ? " [allowed to fail]" : "");
	if (bad && j->tail && *j->tail) {
		fprintf(stderr, "  last lines of %s:\n", j->log_path ? j->log_path : "the output");
		print_tail(j->tail);
	}
	live_draw(g, v);
}

/* ---- results -------------------------------------------------------- */

static cJSON *
job_json(const struct gate_job *j)
{
	cJSON *o = cJSON_CreateObject(), *a;
	size_t i;
	int code = j->proc.pid > 0 && j->proc.state == PROC_DONE ? proc_exit_code(&j->proc) : -1;
	int sig = j->proc.pid > 0 && j->proc.state == PROC_DONE ? proc_signal(&j->proc) : 0;

	cJSON_AddStringToObject(o, "status", gate_status_name(j->status));
	if (j->reason)
		cJSON_AddStringToObject(o, "reason", j->reason);
	if (j->builtin) {
		cJSON_AddStringToObject(o, "builtin", j->builtin);
		code = -1;	/* our own child's status says nothing more */
	} else if (j->run)
		cJSON_AddStringToObject(o, "run", j->run);
	else {
		a = cJSON_AddArrayToObject(o, "argv");
		for (i = 0; j->argv[i]; i++)
			cJSON_AddItemToArray(a, cJSON_CreateString(j->argv[i]));
	}
	a = cJSON_AddArrayToObject(o, "needs");
	for (i = 0; j->needs && j->needs[i]; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(j->needs[i]));
	if (j->allow_failure)
		cJSON_AddTrueToObject(o, "allow_failure");
	if (j->status != GATE_SKIPPED) {
		char when[32];

		format_rfc3339((time_t)(j->started_wall / 1000), when, sizeof(when));
		cJSON_AddStringToObject(o, "started_at", when);
		json_add_i64(o, "duration_ms", j->duration_ms);
		if (code >= 0)
			cJSON_AddNumberToObject(o, "exit_code", code);
		if (sig) {
			char sb[32];

			cJSON_AddStringToObject(o, "signal", sig_name(sig, sb, sizeof(sb)));
		}
		if (j->log_path)
			cJSON_AddStringToObject(o, "log", j->log_path);
		cJSON_AddStringToObject(o, "tail", j->tail ? j->tail : "");
	}
	if (j->result) {
		static const char *const keys[] = { "findings", "scan", "baseline_written", "review", NULL };

		for (i = 0; keys[i]; i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(j->result, keys[i]);

			if (v)
				cJSON_AddItemToObject(o, keys[i], cJSON_Duplicate(v, 1));
		}
	}
	if (j->have_junit) {
		cJSON *ju = cJSON_AddObjectToObject(o, "junit");
		cJSON *failed;

		cJSON_AddNumberToObject(ju, "tests", j->jr.tests);
		cJSON_AddNumberToObject(ju, "failures", j->jr.failures);
		cJSON_AddNumberToObject(ju, "errors", j->jr.errors);
		cJSON_AddNumberToObject(ju, "skipped", j->jr.skipped);
		failed = cJSON_AddArrayToObject(ju, "failed");
		for (i = 0; i < j->jr.ncases; i++) {
			const struct junit_case *c = &j->jr.cases[i];
			char *name;

			if (c->status != JUNIT_FAILED && c->status != JUNIT_ERROR)
				continue;
			name = *c->classname ? xasprintf("%s.%s", c->classname, c->name) :
			    xstrdup(c->name);
			cJSON_AddItemToArray(failed, cJSON_CreateString(name));
			free(name);
		}
	}
	if (j->have_cov) {
		cJSON *cv = cJSON_AddObjectToObject(o, "coverage");

		cJSON_AddStringToObject(cv, "format", coverage_format_name(j->cov_format));
		cJSON_AddStringToObject(cv, "report", j->cov_path);
		cJSON_AddNumberToObject(cv, "lines", (double)(long long)(j->cov.lines_pct * 100 + 0.5) / 100);
		json_add_i64(cv, "lines_total", j->cov.lines_total);
		json_add_i64(cv, "lines_hit", j->cov.lines_hit);
		if (j->cov.branches_pct >= 0) {
			cJSON_AddNumberToObject(cv, "branches",
			    (double)(long long)(j->cov.branches_pct * 100 + 0.5) / 100);
			json_add_i64(cv, "branches_total", j->cov.branches_total);
			json_add_i64(cv, "branches_hit", j->cov.branches_hit);
		}
		if (j->min_lines >= 0)
			cJSON_AddNumberToObject(cv, "min_lines", j->min_lines);
		if (j->min_branches >= 0)
			cJSON_AddNumberToObject(cv, "min_branches", j->min_branches);
		cJSON_AddBoolToObject(cv, "passed", j->cov_ok);
	}
	return o;
}

static cJSON *
gate_json(const struct gate *g, const char *spec, long long started, long long dur,
    int *failed_out)
{
	cJSON *sec = cJSON_CreateObject(), *jobs, *sum, *failed;
	int counts[GATE_NSTATUS] = { 0 }, allowed = 0, bad = 0;
	size_t i;
	char when[32];
	struct buf why = BUF_INIT;

	cJSON_AddStringToObject(sec, "status", "passed");
	format_rfc3339((time_t)(started / 1000), when, sizeof(when));
	cJSON_AddStringToObject(sec, "started_at", when);
	json_add_i64(sec, "duration_ms", dur);
	if (spec)
		cJSON_AddStringToObject(sec, "spec", spec);
	jobs = cJSON_AddObjectToObject(sec, "jobs");
	failed = cJSON_CreateArray();
	for (i = 0; i < g->njobs; i++) {
		const struct gate_job *j = &g->jobs[i];

		cJSON_AddItemToObject(jobs, j->name, job_json(j));
		counts[j->status]++;
		if (j->status == GATE_PASSED)
			continue;
		if (gate_job_ok(j)) {
			allowed++;
			continue;
		}
		if (j->status == GATE_SKIPPED || j->status == GATE_CANCELLED)
			continue;
		cJSON_AddItemToArray(failed, cJSON_CreateString(j->name));
		buf_addf(&why, "%s%s", bad ? ", " : "", j->name);
		bad++;
	}
	/* Skips and cancels with no failure behind them mean an interrupt. */
	if (!bad && (counts[GATE_SKIPPED] || counts[GATE_CANCELLED]))
		bad = -1;
	sum = cJSON_AddObjectToObject(sec, "summary");
	cJSON_AddNumberToObject(sum, "total", (double)g->njobs);
	for (i = 1; i < GATE_NSTATUS; i++)
		cJSON_AddNumberToObject(sum, gate_status_name(i), counts[i]);
	cJSON_AddNumberToObject(sum, "allowed_failures", allowed);
	cJSON_AddItemToObject(sec, "failed", failed);
	if (bad) {
		char *r = bad > 0 ? xasprintf("%d of %zu jobs did not pass: %s", bad, g->njobs, buf_str(&why)) :
		    xstrdup("interrupted before every job ran");

		json_set(sec, "status", cJSON_CreateString("failed"));
		cJSON_AddStringToObject(sec, "reason", r);
		free(r);
	}
	buf_free(&why);
	*failed_out = bad != 0;
	return sec;
}

static void
junit_write_case(struct buf *b, const char *classname, const char *name, double t,
    int status, const char *message, const char *detail)
{
	buf_adds(b, "    <testcase classname=\"");
	xml_escape(b, classname);
	buf_adds(b, "\" name=\"");
	xml_escape(b, name);
	buf_addf(b, "\" time=\"%.3f\"", t);
	if (status == JUNIT_PASSED) {
		buf_adds(b, "/>\n");
		return;
	}
	buf_adds(b, ">\n      <");
	buf_adds(b, status == JUNIT_SKIPPED ? "skipped" : status == JUNIT_ERROR ? "error" : "failure");
	buf_adds(b, " message=\"");
	xml_escape(b, message ? message : "");
	buf_adds(b, "\">");
	if (detail)
		xml_escape(b, detail);
	buf_adds(b, "</");
	buf_adds(b, status == JUNIT_SKIPPED ? "skipped" : status == JUNIT_ERROR ? "error" : "failure");
	buf_adds(b, ">\n    </testcase>\n");
}

static int
gate_junit_write(const struct gate *g, const char *path, long long dur, struct err *e)
{
	struct buf b;
	size_t i, k;
	int rc;

	buf_init(&b, 0);
	buf_addf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<testsuites name=\"ci-gate\" time=\"%.3f\">\n", (double)dur / 1000);
	for (i = 0; i < g->njobs; i++) {
		const struct gate_job *j = &g->jobs[i];
		int tests, failures = 0, errors = 0, skipped = 0;
		int st = j->status == GATE_PASSED ? JUNIT_PASSED :
		    j->status == GATE_SKIPPED || j->status == GATE_CANCELLED ? JUNIT_SKIPPED :
		    j->status == GATE_ERROR || j->status == GATE_TIMED_OUT ? JUNIT_ERROR : JUNIT_FAILED;

		if (j->have_junit && j->jr.ncases) {
			tests = (int)j->jr.ncases;
			failures = j->jr.failures;
			errors = j->jr.errors;
			skipped = j->jr.skipped;
			/* A job that failed with all its cases passing still fails. */
			if (st != JUNIT_PASSED && st != JUNIT_SKIPPED && !failures && !errors) {
				tests++;
				if (st == JUNIT_ERROR)
					errors++;
				else
					failures++;
			}
		} else {
			tests = 1;
			failures = st == JUNIT_FAILED;
			errors = st == JUNIT_ERROR;
			skipped = st == JUNIT_SKIPPED;
		}
		buf_adds(&b, "  <testsuite name=\"");
		xml_escape(&b, j->name);
		buf_addf(&b, "\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.3f\">\n",
		    tests, failures, errors, skipped, (double)j->duration_ms / 1000);
		if (j->have_junit && j->jr.ncases) {
			for (k = 0; k < j->jr.ncases; k++) {
				const struct junit_case *c = &j->jr.cases[k];

				junit_write_case(&b, *c->classname ? c->classname : j->name, c->name,
				    c->time_s, c->status, c->message, NULL);
			}
			if (tests > (int)j->jr.ncases)
				junit_write_case(&b, "ci-gate", j->name, (double)j->duration_ms / 1000,
				    st, j->reason, j->tail);
		} else {
			junit_write_case(&b, "ci-gate", j->name, (double)j->duration_ms / 1000,
			    st, j->reason, j->tail);
		}
		buf_adds(&b, "  </testsuite>\n");
	}
	buf_adds(&b, "</testsuites>\n");
	rc = mkdir_parent(path, e) < 0 ? -1 : atomic_write(path, b.data, b.len, 0644, e);
	buf_free(&b);
	return rc;
}

static void
md_cell(FILE *fp, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			fputs("\\|", fp);
		else if (*s == '\n' || *s == '\r')
			fputc(' ', fp);
		else
			fputc(*s, fp);
	}
}

static void
github_summary(const struct gate *g, const cJSON *sec)
{
	const char *path = getenv("GITHUB_STEP_SUMMARY");
	FILE *fp;
	size_t i;

	if (!path || !*path)
		return;
	fp = fopen(path, "a");
	if (!fp) {
		log_warn("cannot append to GITHUB_STEP_SUMMARY '%s': %s", path, strerror(errno));
		return;
	}
	fprintf(fp, "### ci-gate: %s\n\n| Job | Status | Duration | Details |\n|---|---|---|---|\n",
	    json_str(sec, "status"));
	for (i = 0; i < g->njobs; i++) {
		const struct gate_job *j = &g->jobs[i];
		char dur[32] = "";

		if (j->status != GATE_SKIPPED)
			format_duration(j->duration_ms, dur, sizeof(dur));
		fputs("| ", fp);
		md_cell(fp, j->name);
		fprintf(fp, " | %s %s | %s | ", j->status == GATE_PASSED ? ":white_check_mark:" :
		    j->status == GATE_SKIPPED || j->status == GATE_CANCELLED ? ":fast_forward:" :
		    j->allow_failure ? ":warning:" : ":x:", gate_status_name(j->status), dur);
		if (j->have_junit)
			fprintf(fp, "%d tests, %d failed; ", j->jr.tests, j->jr.failures + j->jr.errors);
		if (j->have_cov)
			fprintf(fp, "lines %.1f%%; ", j->cov.lines_pct);
		md_cell(fp, j->reason);
		fputs(" |\n", fp);
	}
	fputc('\n', fp);
	if (fclose(fp) == EOF)
		log_warn("cannot write GITHUB_STEP_SUMMARY '%s': %s", path, strerror(errno));
}

/* ---- reports of findings --------------------------------------------- */

static int
write_finding_reports(const struct gate *g, const struct options *o, struct err *e)
{
	const struct secret_rule_info *ri;
	struct report_rule *rules;
	struct report_finding *rf = NULL;
	struct report_tool tool;
	char **msgs = NULL, cwd[PATH_MAX];
	size_t nrules, i, n = 0;
	int rc = 0;

	if (!o->sarif_out && !o->cq_out)
		return 0;
	ri = secrets_rules(&nrules);
	rules = xcalloc(nrules, sizeof(*rules));
	for (i = 0; i < nrules; i++) {
		rules[i].id = ri[i].id;
		rules[i].name = ri[i].name;
		rules[i].title = ri[i].title;
		rules[i].help = ri[i].help;
		rules[i].severity = ri[i].severity;
		rules[i].security_severity = ri[i].security_severity;
	}
	for (i = 0; i < g->njobs; i++) {
		const cJSON *fs, *f;

		if (!g->jobs[i].result || strcmp(g->jobs[i].builtin, "secrets"))
			continue;
		fs = cJSON_GetObjectItemCaseSensitive(g->jobs[i].result, "findings");
		cJSON_ArrayForEach(f, fs) {
			const char *rule = json_str(f, "rule"), *file = json_str(f, "file");
			const cJSON *ln = cJSON_GetObjectItemCaseSensitive(f, "line");
			const cJSON *cl = cJSON_GetObjectItemCaseSensitive(f, "column");
			const struct secret_rule_info *r;

			if (!rule || !file || !json_str(f, "fingerprint"))
				continue;
			r = secrets_rule(rule);
			rf = xrealloc(rf, (n + 1) * sizeof(*rf));
			msgs = xrealloc(msgs, (n + 1) * sizeof(*msgs));
			msgs[n] = xasprintf("%s: %s", r ? r->title : rule,
			    json_str(f, "match") ? json_str(f, "match") : "");
			rf[n].rule = rule;
			rf[n].path = file;
			rf[n].line = cJSON_IsNumber(ln) ? (long)ln->valuedouble : 1;
			rf[n].column = cJSON_IsNumber(cl) ? (long)cl->valuedouble : 0;
			rf[n].message = msgs[n];
			rf[n].fingerprint = json_str(f, "fingerprint");
			n++;
		}
	}
	memset(&tool, 0, sizeof(tool));
	tool.name = "ci-gate";
	tool.version = VERSION;
	tool.srcroot = getcwd(cwd, sizeof(cwd));
	if (o->sarif_out) {
		char *t = sarif_render(&tool, rules, nrules, rf, n);

		if (report_write(o->sarif_out, t, e) < 0)
			rc = -1;
		free(t);
	}
	if (o->cq_out && rc == 0) {
		char *t = codequality_render(rules, nrules, rf, n);

		if (report_write(o->cq_out, t, e) < 0)
			rc = -1;
		free(t);
	}
	for (i = 0; i < n; i++)
		free(msgs[i]);
	free(msgs);
	free(rf);
	free(rules);
	return rc;
}

/* ---- the rollback block ----------------------------------------------- */

/*
 * Returns 0 when the gate may run (no block, or --ignore-block), or 1
 * when it is blocked: then *sec is the gate section that says so.  A
 * block file that cannot be read blocks too.  *info, when set, goes
 * into the gate section as "blocked".
 */
static int
check_block(const struct options *o, cJSON **info, cJSON **sec)
{
	struct block b;
	struct err e = { 0, "" };
	struct buf why = BUF_INIT;
	int rc = block_read(NULL, &b, &e);

	*info = NULL;
	*sec = NULL;
	if (rc == 0)
		return 0;
	*info = cJSON_CreateObject();
	cJSON_AddStringToObject(*info, "file", b.path);
	if (rc > 0) {
		cJSON_AddStringToObject(*info, "since", b.since);
		cJSON_AddStringToObject(*info, "release", b.release);
		cJSON_AddStringToObject(*info, "digest", b.digest);
		cJSON_AddStringToObject(*info, "reason", b.reason);
		buf_addf(&why, "the pipeline is blocked since %s: release %s (%s) failed: %s",
		    b.since, b.release, b.digest, b.reason);
	} else {
		cJSON_AddStringToObject(*info, "error", e.msg);
		buf_addf(&why, "the pipeline is blocked: the block file cannot be read (%s), and "
		    "a block file that cannot be read blocks all the same", e.msg);
	}
	cJSON_AddBoolToObject(*info, "ignored", o->ignore_block);
	if (o->ignore_block) {
		log_warn("%s; running anyway, as --ignore-block asks", buf_str(&why));
	} else {
		buf_addf(&why, "; fix the cause, then clear the block with "
		    "'ci-rollback --unblock --reason TEXT' (ci-rollback is not released yet: "
		    "until then, remove '%s'), or run with --ignore-block", b.path);
		log_error("%s", buf_str(&why));
		*sec = cJSON_CreateObject();
		cJSON_AddStringToObject(*sec, "status", "failed");
		cJSON_AddStringToObject(*sec, "reason", buf_str(&why));
		cJSON_AddItemToObject(*sec, "blocked", *info);
		*info = NULL;
	}
	buf_free(&why);
	block_free(&b);
	return !o->ignore_block;
}

/* ---- main ----------------------------------------------------------- */

enum {
	OPT_NEEDS = 256, OPT_FAIL_FAST, OPT_TIMEOUT, OPT_GRACE, OPT_JUNIT, OPT_NEW,
	OPT_VERSION, OPT_VERSION_TAG, OPT_SARIF, OPT_CQ, OPT_IGNORE_BLOCK, OPT_SECRETS,
	OPT_ALL_FILES, OPT_SINCE, OPT_STAGED, OPT_BASELINE, OPT_WRITE_BASELINE, OPT_LIST_RULES
};

static int
parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "all-files", no_argument, NULL, OPT_ALL_FILES },
		{ "baseline", required_argument, NULL, OPT_BASELINE },
		{ "codequality", required_argument, NULL, OPT_CQ },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "fail-fast", no_argument, NULL, OPT_FAIL_FAST },
		{ "file", required_argument, NULL, 'f' },
		{ "gate", required_argument, NULL, 'g' },
		{ "grace", required_argument, NULL, OPT_GRACE },
		{ "help", no_argument, NULL, 'h' },
		{ "ignore-block", no_argument, NULL, OPT_IGNORE_BLOCK },
		{ "jobs", required_argument, NULL, 'j' },
		{ "junit", required_argument, NULL, OPT_JUNIT },
		{ "keep-going", no_argument, NULL, 'k' },
		{ "list-rules", no_argument, NULL, OPT_LIST_RULES },
		{ "needs", required_argument, NULL, OPT_NEEDS },
		{ "new", no_argument, NULL, OPT_NEW },
		{ "out", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "sarif", required_argument, NULL, OPT_SARIF },
		{ "secrets", no_argument, NULL, OPT_SECRETS },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "staged", no_argument, NULL, OPT_STAGED },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "version-tag", required_argument, NULL, OPT_VERSION_TAG },
		{ "write-baseline", required_argument, NULL, OPT_WRITE_BASELINE },
		{ NULL, 0, NULL, 0 }
	};
	const char *why;
	char *end, *colon;
	int c;

	while ((c = getopt_long(argc, argv, "f:g:hj:kno:qv", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->spec = optarg;
			break;
		case 'g':
			o->inline_jobs = xrealloc(o->inline_jobs, (o->ninline + 1) * sizeof(char *));
			o->inline_jobs[o->ninline++] = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'j':
			errno = 0;
			o->jobs = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || o->jobs < 1 || o->jobs > 1024) {
				log_error("-j '%s': expected a number of jobs from 1 to 1024", optarg);
				return -1;
			}
			break;
		case 'k':
			o->keep_going = 1;
			break;
		case 'n':
			o->dry_run = 1;
			break;
		case 'o':
			o->out_dir = optarg;
			break;
		case 'q':
			log_set_level(LOG_QUIET);
			break;
		case 'v':
			log_set_level(log_level() + 1);
			break;
		case OPT_FAIL_FAST:
			o->keep_going = 0;
			break;
		case OPT_GRACE:
		case OPT_TIMEOUT:
			if (parse_duration(optarg, c == OPT_GRACE ? &o->grace_ms : &o->timeout_ms, &why) < 0) {
				log_error("--%s '%s': %s", c == OPT_GRACE ? "grace" : "timeout", optarg, why);
				return -1;
			}
			break;
		case OPT_JUNIT:
			o->junit_out = optarg;
			break;
		case OPT_NEEDS:
			colon = strchr(optarg, ':');
			if (!colon || colon == optarg || !colon[1]) {
				log_error("--needs '%s': expected JOB:DEP[,DEP...]", optarg);
				return -1;
			}
			o->needs = strv_push(o->needs, optarg);
			break;
		case OPT_NEW:
			o->new_doc = 1;
			break;
		case OPT_VERSION:
			printf("ci-gate %s\n", VERSION);
			exit(0);
		case OPT_VERSION_TAG:
			o->version = optarg;
			break;
		case OPT_SARIF:
			o->sarif_out = optarg;
			break;
		case OPT_CQ:
			o->cq_out = optarg;
			break;
		case OPT_IGNORE_BLOCK:
			o->ignore_block = 1;
			break;
		case OPT_SECRETS:
			o->secrets = 1;
			break;
		case OPT_ALL_FILES:
			o->all_files = 1;
			break;
		case OPT_SINCE:
			if (!*optarg || optarg[0] == '-') {
				log_error("--since '%s': expected a revision", optarg);
				return -1;
			}
			o->since = optarg;
			break;
		case OPT_STAGED:
			o->staged = 1;
			break;
		case OPT_BASELINE:
			o->baseline = optarg;
			break;
		case OPT_WRITE_BASELINE:
			o->write_baseline = optarg;
			break;
		case OPT_LIST_RULES:
			o->list_rules = 1;
			break;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (!o->secrets) {
		const char *needs = o->all_files ? "--all-files" : o->since ? "--since" :
		    o->staged ? "--staged" : o->baseline ? "--baseline" :
		    o->write_baseline ? "--write-baseline" : NULL;

		if (optind < argc) {
			log_error("unexpected argument '%s' (paths go with --secrets)", argv[optind]);
			usage(stderr);
			return -1;
		}
		if (needs) {
			log_error("%s goes with --secrets (in a spec file, it is an option of a "
			    "\"builtin\": \"secrets\" job)", needs);
			return -1;
		}
		return 0;
	}
	if (o->spec || o->ninline || o->needs) {
		log_error("--secrets runs the secret scanner alone: it takes no -f, -g or --needs "
		    "(add a \"builtin\": \"secrets\" job to the spec file instead)");
		return -1;
	}
	if (o->all_files + o->staged + (o->since != NULL) > 1) {
		log_error("give at most one of --all-files, --since and --staged");
		return -1;
	}
	o->paths = argv + optind;
	o->npaths = (size_t)(argc - optind);
	return 0;
}

static void
options_free(struct options *o)
{
	strv_free(o->needs);
	free(o->inline_jobs);
}

/* Build the gate from the spec file and the command line. */
static int
load_gate(const struct options *o, struct gate *g, const char **spec_used, struct err *e)
{
	size_t i;

	*spec_used = NULL;
	if (o->secrets) {
		cJSON *opts = cJSON_CreateObject();
		int rc;

		if (o->npaths) {
			cJSON *a = cJSON_AddArrayToObject(opts, "paths");

			for (i = 0; i < o->npaths; i++)
				cJSON_AddItemToArray(a, cJSON_CreateString(o->paths[i]));
		}
		if (o->all_files)
			cJSON_AddTrueToObject(opts, "all_files");
		if (o->staged)
			cJSON_AddTrueToObject(opts, "staged");
		if (o->since)
			cJSON_AddStringToObject(opts, "since", o->since);
		if (o->baseline)
			cJSON_AddStringToObject(opts, "baseline", o->baseline);
		if (o->write_baseline)
			cJSON_AddStringToObject(opts, "write_baseline", o->write_baseline);
		rc = gate_add_builtin(g, "secrets", "secrets", opts, e);
		cJSON_Delete(opts);
		if (rc < 0)
			return err_prefix(e, "--secrets");
		return gate_resolve(g, e);
	}
	if (o->spec) {
		*spec_used = o->spec;
	} else if (!o->ninline) {
		if (!path_exists("gates.json"))
			return err_set(e, EX_USAGE_, "no jobs: there is no gates.json here; "
			    "give a spec with -f FILE or jobs with -g NAME=COMMAND");
		*spec_used = "gates.json";
	}
	if (*spec_used && gate_spec_load(g, *spec_used, e) < 0)
		return -1;
	for (i = 0; i < o->ninline; i++)
		if (gate_add_inline(g, o->inline_jobs[i], e) < 0)
			return -1;
	for (i = 0; o->needs && o->needs[i]; i++)
		if (gate_add_needs(g, o->needs[i], e) < 0)
			return -1;
	if (!g->njobs)
		return err_set(e, EX_USAGE_, "%s: no jobs defined", *spec_used ? *spec_used : "command line");
	return gate_resolve(g, e);
}

int
main(int argc, char **argv)
{
	struct options o;
	struct gate g;
	struct pipeline p = { NULL, 0 };
	struct err e = { 0, "" };
	struct view v;
	struct gate_sched sc;
	struct sigaction sa;
	const char *spec = NULL;
	const char *gha = getenv("GITHUB_ACTIONS");
	long long started, t0;
	int rc, run_rc = 0, gate_failed = 0;
	cJSON *sec, *blocked = NULL;
	char self[PATH_MAX];
	ssize_t sl;

	log_init("ci-gate");
	if (argc >= 2 && !strcmp(argv[1], GATE_CHILD_ARG)) {
		rc = gate_builtin_child(argc, argv, stdout);
		if (fflush(stdout) == EOF || ferror(stdout))
			rc = rc ? rc : EX_IOERR_;
		return rc;
	}
	memset(&o, 0, sizeof(o));
	gate_init(&g);
	memset(&v, 0, sizeof(v));
	o.keep_going = -1;
	o.timeout_ms = -1;
	o.grace_ms = 5000;
	o.out_dir = "ci-out/gate";
	/* Built-in jobs run this very executable again. */
	sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl > 0) {
		self[sl] = '\0';
		o.self = self;
	} else {
		o.self = strchr(argv[0], '/') ? argv[0] : "ci-gate";
	}
	if (parse_args(argc, argv, &o) < 0) {
		options_free(&o);
		return EX_USAGE_;
	}
	signal(SIGPIPE, SIG_IGN);

	if (o.list_rules) {
		size_t i, n;
		const struct secret_rule_info *ri = secrets_rules(&n);

		for (i = 0; i < n; i++) {
			printf("%s\t%s\t%s", ri[i].id, ri[i].severity, ri[i].title);
			if (log_level() >= LOG_VERBOSE)
				printf("\t%s\t%s", ri[i].icase ? "icase" : "case", ri[i].regex);
			putchar('\n');
		}
		options_free(&o);
		return fflush(stdout) == EOF || ferror(stdout) ? EX_IOERR_ : EX_PASS;
	}
	if (o.dry_run) {
		if (load_gate(&o, &g, &spec, &e) < 0) {
			rc = err_report(&e);
		} else {
			struct buf plan = BUF_INIT;

			gate_plan(&g, gate_limit(&g, o.jobs), &plan);
			fputs(buf_str(&plan), stdout);
			buf_free(&plan);
			rc = fflush(stdout) == EOF || ferror(stdout) ? EX_IOERR_ : 0;
		}
		gate_free(&g);
		options_free(&o);
		return rc;
	}

	/* The document: from stdin when there is one, else a new one. */
	if (pipeline_open(&p, !o.new_doc, 1, o.version, &e) < 0) {
		options_free(&o);
		return err_report(&e);
	}
	if (pipeline_skip_upstream(&p, "gate", "running the gate")) {
		rc = pipeline_write(&p, stdout, &e) < 0 ? err_report(&e) : EX_FAIL;
		pipeline_free(&p);
		options_free(&o);
		return rc;
	}

	started = now_ms();
	t0 = mono_ms();
	if (check_block(&o, &blocked, &sec)) {
		pipeline_set_section(&p, "gate", sec, started, 0);
		rc = pipeline_write(&p, stdout, &e) < 0 ? err_report(&e) : EX_FAIL;
		goto out;
	}
	if (load_gate(&o, &g, &spec, &e) < 0 || mkdir_p(o.out_dir, 0755, &e) < 0) {
		/* A spec error is the gate's verdict too: write it down so the
		 * stages downstream do not act. */
		sec = cJSON_CreateObject();
		cJSON_AddStringToObject(sec, "status", "error");
		cJSON_AddStringToObject(sec, "reason", e.msg);
		pipeline_set_section(&p, "gate", sec, started, 0);
		rc = err_report(&e);
		if (pipeline_write(&p, stdout, &e) < 0)
			rc = err_report(&e);
		goto out;
	}

	v.github = gha && !strcmp(gha, "true");
	v.tty = !v.github && isatty(2) && log_level() >= LOG_NORMAL &&
	    getenv("TERM") && strcmp(getenv("TERM"), "dumb") != 0;
	v.quiet = log_level() < LOG_NORMAL;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	memset(&sc, 0, sizeof(sc));
	sc.out_dir = o.out_dir;
	sc.self = o.self;
	sc.limit = gate_limit(&g, o.jobs);
	sc.timeout_ms = o.timeout_ms >= 0 ? o.timeout_ms : g.timeout_ms >= 0 ? g.timeout_ms :
	    GATE_DEFAULT_TIMEOUT_MS;
	sc.grace_ms = o.grace_ms;
	sc.fail_fast = o.keep_going >= 0 ? !o.keep_going : g.fail_fast >= 0 ? g.fail_fast : 1;
	sc.stop = &interrupted;
	sc.started = report_start;
	sc.finished = report_finish;
	sc.tick = live_draw;
	sc.tick_ms = v.tty ? 200 : 1000;
	sc.arg = &v;
	if (gate_run(&g, &sc, &e) < 0)
		run_rc = err_report(&e);
	v.drawn = 0;	/* leave the final block on screen */
	sec = gate_json(&g, spec, started, mono_ms() - t0, &gate_failed);
	if (blocked) {
		cJSON_AddItemToObject(sec, "blocked", blocked);
		blocked = NULL;
	}
	if (v.github)
		github_summary(&g, sec);
	if (!v.quiet)
		log_info("gate %s: %s", json_str(sec, "status"),
		    json_str(sec, "reason") ? json_str(sec, "reason") : "every job passed");
	pipeline_set_section(&p, "gate", sec, started, mono_ms() - t0);
	rc = interrupted ? EX_TEMP : run_rc ? run_rc : gate_failed ? EX_FAIL : EX_PASS;
	if (o.junit_out && gate_junit_write(&g, o.junit_out, mono_ms() - t0, &e) < 0)
		rc = err_report(&e);
	if (write_finding_reports(&g, &o, &e) < 0)
		rc = err_report(&e);
	if (pipeline_write(&p, stdout, &e) < 0)
		rc = err_report(&e);
out:
	cJSON_Delete(blocked);
	gate_free(&g);
	pipeline_free(&p);
	options_free(&o);
	return rc;
}
