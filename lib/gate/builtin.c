/*
 * builtin: the built-in jobs and their child protocol.  See builtin.h.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "core/size.h"
#include "gate/builtin.h"
#include "gate/review.h"
#include "gate/secrets.h"

#define REASON_FINDINGS 3	/* findings named in a secrets job's reason */

int
gate_builtin_known(const char *name)
{
	return name && (!strcmp(name, "secrets") || !strcmp(name, "review"));
}

int
gate_builtin_check(const char *builtin, const cJSON *opts, const char *const *ignore,
    const cJSON **bad, struct err *e)
{
	int rc;

	if (!strcmp(builtin, "secrets")) {
		struct secrets_opts so;

		secrets_opts_init(&so);
		rc = secrets_opts_parse(&so, opts, ignore, bad, e);
		secrets_opts_free(&so);
	} else {
		struct review_opts ro;

		review_opts_init(&ro);
		rc = review_opts_parse(&ro, opts, ignore, bad, e);
		review_opts_free(&ro);
	}
	return rc;
}

void
gate_builtin_rules(struct buf *out, int verbose)
{
	size_t i, n;
	const struct secret_rule_info *ri = secrets_rules(&n);

	for (i = 0; i < n; i++) {
		buf_addf(out, "%s\t%s\t%s", ri[i].id, ri[i].severity, ri[i].title);
		if (verbose)
			buf_addf(out, "\t%s\t%s", ri[i].icase ? "icase" : "case", ri[i].regex);
		buf_addc(out, '\n');
	}
}

/* ---- the parent's side ------------------------------------------------ */

int
gate_builtin_prepare(struct gate_job *j, const char *out_dir, const char *self,
    char **argv, struct err *e)
{
	char cwd[PATH_MAX], *base;

	if (out_dir[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		base = xasprintf("%s/%s", out_dir, j->name);
	else
		base = xasprintf("%s/%s/%s", cwd, out_dir, j->name);
	/* The options go in a file: a list of paths can be long. */
	free(j->opts_path);
	free(j->result_path);
	j->opts_path = xasprintf("%s.options.json", base);
	j->result_path = xasprintf("%s.result.json", base);
	free(base);
	unlink(j->result_path);
	if (atomic_write(j->opts_path, j->bopts, strlen(j->bopts), 0644, e) < 0)
		return -1;
	argv[0] = (char *)self;
	argv[1] = GATE_CHILD_ARG;
	argv[2] = j->builtin;
	argv[3] = j->result_path;
	argv[4] = j->opts_path;
	argv[5] = NULL;
	return 0;
}

/* A path that a job running in cwd reported, as seen from here. */
static char *
under_cwd(const char *cwd, const char *path)
{
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	if (!cwd || !strcmp(cwd, ".") || path[0] == '/')
		return xstrdup(path);
	return xasprintf("%s%s%s", cwd, cwd[strlen(cwd) - 1] == '/' ? "" : "/", path);
}

static void
findings_under_cwd(const char *cwd, cJSON *res)
{
	cJSON *fs = cJSON_GetObjectItemCaseSensitive(res, "findings"), *f;

	if (!cwd || !cJSON_IsArray(fs))
		return;
	cJSON_ArrayForEach(f, fs) {
		const char *file = json_str(f, "file");

		if (file) {
			char *np = under_cwd(cwd, file);

			json_set(f, "file", cJSON_CreateString(np));
			free(np);
		}
	}
}

void
gate_builtin_finished(struct gate_job *j, const char *how)
{
	struct err e = { 0, "" };
	cJSON *res;
	const char *st;
	int code;

	if (j->proc.cancelled) {
		j->status = GATE_CANCELLED;
		return;
	}
	if (j->proc.timed_out || j->proc.exec_errno) {
		j->status = j->proc.timed_out ? GATE_TIMED_OUT : GATE_ERROR;
		gate_job_reason(j, "%s", how);
		return;
	}
	res = json_load(j->result_path, GATE_RESULT_MAX_BYTES, 0, NULL, &e);
	st = res ? json_str(res, "status") : NULL;
	if (!st || (strcmp(st, "passed") && strcmp(st, "failed") && strcmp(st, "error"))) {
		j->status = GATE_ERROR;
		gate_job_reason(j, "built-in '%s' ended without a verdict: %s", j->builtin, how);
		cJSON_Delete(res);
		return;
	}
	/* The exit status must agree: a child that wrote its verdict and then
	 * crashed (or a sanitizer that found a leak) is not to be trusted. */
	code = proc_exit_code(&j->proc);
	if (code != (!strcmp(st, "passed") ? EX_PASS : !strcmp(st, "failed") ? EX_FAIL : EX_USAGE_)) {
		j->status = GATE_ERROR;
		gate_job_reason(j, "built-in '%s' %s after its verdict (%s)", j->builtin, how, st);
		cJSON_Delete(res);
		return;
	}
	j->result = res;
	j->status = !strcmp(st, "passed") ? GATE_PASSED : !strcmp(st, "failed") ? GATE_FAILED :
	    GATE_ERROR;
	if (j->status != GATE_PASSED)
		gate_job_reason(j, "%s", json_str(res, "reason") ? json_str(res, "reason") : how);
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "io_error")))
		j->io_error = xstrdup(j->reason);
	/* Paths are relative to the job's cwd; the document's, to ours. */
	findings_under_cwd(j->cwd, res);
}

/* ---- the child's side ------------------------------------------------- */

/* A path for a log line: control characters shown as '?', and never a
 * line beginning with "::" (GitHub would read a workflow command). */
static void
log_path(FILE *log, const char *p)
{
	if (p[0] == ':')
		fputs("./", log);
	for (; *p; p++)
		fputc((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p, log);
}

static int
child_error(FILE *log, cJSON *res, const char *what, const struct err *e)
{
	fprintf(log, "%s: error: %s\n", what, e->msg);
	json_set(res, "status", cJSON_CreateString("error"));
	cJSON_AddStringToObject(res, "reason", e->msg);
	return EX_USAGE_;
}

/* "3 secrets found: aws-access-key-id at a.js:3, ... and 2 more". */
static void
secrets_reason(const struct secrets_result *r, size_t live, struct buf *why)
{
	const struct secret_rule_info *rules = secrets_rules(NULL);
	size_t i, shown = 0;
	const char *p;

	buf_addf(why, "%zu secret%s found: ", live, live == 1 ? "" : "s");
	for (i = 0; i < r->n && shown < REASON_FINDINGS; i++) {
		if (r->f[i].baselined)
			continue;
		buf_addf(why, "%s%s at ", shown ? ", " : "", rules[r->f[i].rule].id);
		for (p = r->f[i].path; *p; p++)
			buf_addc(why, (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
		buf_addf(why, ":%ld", r->f[i].line);
		shown++;
	}
	if (live > shown)
		buf_addf(why, " and %zu more", live - shown);
}

static void
secrets_log(FILE *log, const struct secrets_result *r, const struct secrets_opts *so)
{
	const struct secret_rule_info *rules = secrets_rules(NULL);
	const struct secrets_stats *st = &r->st;
	char size[32], cap[32];
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct secret_finding *f = &r->f[i];

		if (f->baselined)
			continue;
		log_path(log, f->path);
		fprintf(log, ":%ld:%ld: %s: %s (%s)\n", f->line, f->column, rules[f->rule].id,
		    f->redacted, rules[f->rule].title);
	}
	format_size(st->bytes, size, sizeof(size));
	format_size(so->max_file_size, cap, sizeof(cap));
	fprintf(log, "scanned %lld file%s (%s, %s)", st->files, st->files == 1 ? "" : "s", size,
	    !strcmp(st->mode, "tracked") ? "the files git tracks" : !strcmp(st->mode, "all") ?
	    "every file" : !strcmp(st->mode, "since") ? "lines added since the base" :
	    "lines staged for commit");
	fprintf(log, "; skipped %lld binary, %lld over %s, %lld allowlisted, %lld other\n",
	    st->skipped_binary, st->skipped_large, cap, st->skipped_allowlist, st->skipped_other);
	if (st->sup_inline || st->sup_allowlist || st->sup_baseline)
		fprintf(log, "not reported: %lld marked to allow, %lld allowlisted, %lld in "
		    "the baseline\n", st->sup_inline, st->sup_allowlist, st->sup_baseline);
}

/* --write-baseline: record every finding, then judge as the next run
 * with --baseline will. */
static int
secrets_baseline(FILE *log, struct secrets_result *r, const char *path, cJSON *res,
    struct err *e)
{
	cJSON *bw;
	size_t i;

	if (secrets_write_baseline(path, r, e) < 0)
		return -1;
	fprintf(log, "wrote the baseline '%s' with %zu finding%s\n", path, r->n,
	    r->n == 1 ? "" : "s");
	for (i = 0; i < r->n; i++)
		if (!r->f[i].baselined) {
			r->f[i].baselined = 1;
			r->st.sup_baseline++;
		}
	bw = cJSON_AddObjectToObject(res, "baseline_written");
	cJSON_AddStringToObject(bw, "file", path);
	cJSON_AddNumberToObject(bw, "findings", (double)r->n);
	return 0;
}

static int
child_secrets(FILE *log, const cJSON *opts, cJSON *res)
{
	struct secrets_opts so;
	struct secrets_result r;
	struct secrets *s = NULL;
	struct err e = { 0, "" };
	struct buf why = BUF_INIT;
	size_t live;
	int rc;

	memset(&r, 0, sizeof(r));
	secrets_opts_init(&so);
	if (secrets_opts_parse(&so, opts, NULL, NULL, &e) < 0 || !(s = secrets_new(&so, &e)) ||
	    secrets_run(s, &r, &e) < 0) {
		rc = child_error(log, res, "secrets", &e);
		goto out;
	}
	secrets_log(log, &r, &so);
	if (so.write_baseline && secrets_baseline(log, &r, so.write_baseline, res, &e) < 0) {
		rc = child_error(log, res, "secrets", &e);
		/* An output that could not be written: the parent exits 74. */
		if (e.code == EX_IOERR_)
			cJSON_AddBoolToObject(res, "io_error", 1);
		goto out;
	}
	live = secrets_live(&r);
	if (live) {
		secrets_reason(&r, live, &why);
		json_set(res, "status", cJSON_CreateString("failed"));
		cJSON_AddStringToObject(res, "reason", buf_str(&why));
		fprintf(log, "%s\n", buf_str(&why));
	} else {
		json_set(res, "status", cJSON_CreateString("passed"));
		fputs("no secrets found\n", log);
	}
	cJSON_AddItemToObject(res, "findings", secrets_findings_json(&r));
	cJSON_AddItemToObject(res, "scan", secrets_stats_json(&r, &so));
	rc = live ? EX_FAIL : EX_PASS;
out:
	buf_free(&why);
	secrets_free(s);
	secrets_result_free(&r);
	secrets_opts_free(&so);
	return rc;
}

static int
child_review(FILE *log, const cJSON *opts, cJSON *res)
{
	struct review_opts ro;
	struct review_result rr;
	struct err e = { 0, "" };
	int rc;

	memset(&rr, 0, sizeof(rr));
	review_opts_init(&ro);
	if (review_opts_parse(&ro, opts, NULL, NULL, &e) < 0 || review_run(&ro, &rr, &e) < 0) {
		rc = child_error(log, res, "review", &e);
		goto out;
	}
	fputs(buf_str(&rr.notes), log);
	json_set(res, "status", cJSON_CreateString(rr.passed ? "passed" : "failed"));
	if (rr.reason) {
		cJSON_AddStringToObject(res, "reason", rr.reason);
		fprintf(log, "review failed: %s\n", rr.reason);
	} else {
		fputs("review passed\n", log);
	}
	cJSON_AddItemToObject(res, "review", rr.json);
	rr.json = NULL;
	rc = rr.passed ? EX_PASS : EX_FAIL;
out:
	review_result_free(&rr);
	review_opts_free(&ro);
	return rc;
}

int
gate_builtin_child(int argc, char **argv, FILE *log)
{
	struct err e = { 0, "" };
	cJSON *opts, *res;
	char *text;
	int rc;

	if (argc != GATE_CHILD_ARGC || !gate_builtin_known(argv[2])) {
		log_error("%s is for ci-gate's own use: %s NAME RESULT-FILE OPTIONS-FILE",
		    GATE_CHILD_ARG, GATE_CHILD_ARG);
		return EX_USAGE_;
	}
	opts = json_load(argv[4], GATE_RESULT_MAX_BYTES, 0, NULL, &e);
	if (!opts)
		return err_report(&e);
	res = cJSON_CreateObject();
	cJSON_AddStringToObject(res, "status", "error");
	rc = !strcmp(argv[2], "secrets") ? child_secrets(log, opts, res) :
	    child_review(log, opts, res);
	cJSON_Delete(opts);
	text = json_print(res);
	cJSON_Delete(res);
	if (atomic_write(argv[3], text, strlen(text), 0644, &e) < 0)
		rc = err_report(&e);
	free(text);
	return rc;
}
