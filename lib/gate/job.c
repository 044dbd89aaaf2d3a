/*
 * job: a gate and its jobs.  See job.h.
 */
#include <ctype.h>
#include <glob.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "gate/builtin.h"
#include "gate/job.h"

static const char *const status_names[GATE_NSTATUS] = {
	"waiting", "passed", "failed", "timed_out", "cancelled", "skipped", "error"
};

void
gate_init(struct gate *g)
{
	memset(g, 0, sizeof(*g));
	g->timeout_ms = -1;
	g->fail_fast = -1;
}

struct gate_job *
gate_job_add(struct gate *g, const char *name)
{
	struct gate_job *j;

	g->jobs = xrealloc(g->jobs, (g->njobs + 1) * sizeof(*g->jobs));
	j = &g->jobs[g->njobs++];
	memset(j, 0, sizeof(*j));
	j->name = xstrdup(name);
	j->timeout_ms = -1;
	j->cov_format = -1;
	j->min_lines = -1;
	j->min_branches = -1;
	j->proc.pid = -1;
	return j;
}

struct gate_job *
gate_job_find(struct gate *g, const char *name)
{
	size_t i;

	for (i = 0; i < g->njobs; i++)
		if (!strcmp(g->jobs[i].name, name))
			return &g->jobs[i];
	return NULL;
}

int
gate_job_name_valid(const char *s)
{
	if (!*s || strlen(s) > 100 || *s == '.' || *s == '-')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return 0;
	return 1;
}

const char *
gate_status_name(int status)
{
	return status >= 0 && status < GATE_NSTATUS ? status_names[status] : "?";
}

int
gate_job_bad(const struct gate_job *j)
{
	return j->status == GATE_FAILED || j->status == GATE_TIMED_OUT ||
	    j->status == GATE_ERROR;
}

int
gate_job_ok(const struct gate_job *j)
{
	return j->status == GATE_PASSED || (j->allow_failure && gate_job_bad(j));
}

void
gate_job_reason(struct gate_job *j, const char *fmt, ...)
{
	va_list ap;

	free(j->reason);
	va_start(ap, fmt);
	j->reason = xvasprintf(fmt, ap);
	va_end(ap);
}

static char *
join_path(const char *dir, const char *path)
{
	if (!dir || path[0] == '/')
		return xstrdup(path);
	return xasprintf("%s/%s", dir, path);
}

/* Read the JUnit reports a job left; may turn a pass into failed or error. */
static void
collect_junit(struct gate_job *j)
{
	size_t i, k;
	int matched = 0;

	if (!j->junit)
		return;
	for (i = 0; j->junit[i]; i++) {
		char *pat = join_path(j->cwd, j->junit[i]);
		glob_t gl;
		int rc = glob(pat, 0, NULL, &gl);

		for (k = 0; rc == 0 && k < gl.gl_pathc; k++) {
			struct err e = { 0, "" };

			matched++;
			if (junit_parse_file(gl.gl_pathv[k], &j->jr, &e) < 0 &&
			    (j->status == GATE_PASSED || j->status == GATE_FAILED)) {
				j->status = GATE_ERROR;
				gate_job_reason(j, "bad JUnit report: %s", e.msg);
			}
		}
		if (rc != GLOB_NOMATCH)
			globfree(&gl);
		free(pat);
	}
	j->have_junit = matched > 0;
	if (!matched && j->status == GATE_PASSED) {
		j->status = GATE_ERROR;
		gate_job_reason(j, "no JUnit report matches '%s'", j->junit[0]);
		return;
	}
	if (j->status == GATE_PASSED && (j->jr.failures || j->jr.errors)) {
		j->status = GATE_FAILED;
		gate_job_reason(j, "the command passed but the JUnit report has %d failures and "
		    "%d errors", j->jr.failures, j->jr.errors);
	}
}

/* Read the coverage report of a job that passed; check the thresholds. */
static void
collect_coverage(struct gate_job *j)
{
	struct err e = { 0, "" };
	char *path;

	if (j->cov_format < 0 || j->status != GATE_PASSED)
		return;
	path = join_path(j->cwd, j->cov_path);
	if (coverage_parse_file(path, j->cov_format, &j->cov, &e) < 0) {
		j->status = GATE_ERROR;
		gate_job_reason(j, "coverage: %s", e.msg);
		free(path);
		return;
	}
	free(path);
	j->have_cov = 1;
	j->cov_ok = 1;
	if (j->min_lines >= 0 && j->cov.lines_pct + 1e-9 < j->min_lines) {
		j->cov_ok = 0;
		gate_job_reason(j, "line coverage %.2f%% is below the required %g%%",
		    j->cov.lines_pct, j->min_lines);
	}
	if (j->cov_ok && j->min_branches >= 0) {
		/* A threshold that cannot be checked does not pass (see the
		 * man page): the tool may have stopped measuring branches. */
		if (j->cov.branches_pct < 0) {
			j->status = GATE_ERROR;
			gate_job_reason(j, "branch coverage: no data in '%s' (it counts no branch), "
			    "so min_branches %g%% cannot be checked", j->cov_path, j->min_branches);
			return;
		}
		if (j->cov.branches_pct + 1e-9 < j->min_branches) {
			j->cov_ok = 0;
			gate_job_reason(j, "branch coverage %.2f%% is below the required %g%%",
			    j->cov.branches_pct, j->min_branches);
		}
	}
	if (!j->cov_ok)
		j->status = GATE_FAILED;
}

/* A command's verdict from how its process ended. */
static void
command_finished(struct gate_job *j, const char *how)
{
	int code = proc_exit_code(&j->proc);

	if (j->proc.cancelled) {
		j->status = GATE_CANCELLED;
	} else if (j->proc.timed_out) {
		j->status = GATE_TIMED_OUT;
		gate_job_reason(j, "%s", how);
	} else if (j->proc.exec_errno || (j->run && (code == 127 || code == 126))) {
		j->status = GATE_ERROR;
		gate_job_reason(j, "%s", how);
	} else if (code == 0) {
		j->status = GATE_PASSED;
	} else {
		j->status = GATE_FAILED;
		gate_job_reason(j, "%s", how);
	}
}

void
gate_job_finished(struct gate_job *j)
{
	char how[256];

	j->state = GATE_DONE;
	j->duration_ms = proc_elapsed_ms(&j->proc);
	j->tail = ring_lines(&j->proc.tail, GATE_TAIL_LINES);
	proc_describe(&j->proc, how, sizeof(how));
	if (j->builtin)
		gate_builtin_finished(j, how);
	else
		command_finished(j, how);
	if (j->proc.log_errno) {
		/* A log cut short is no record: it goes, the tail stays. */
		free(j->io_error);
		j->io_error = xasprintf("cannot write '%s': %s (the partial log was removed)",
		    j->log_path, strerror(j->proc.log_errno));
		if (j->status == GATE_PASSED) {
			j->status = GATE_ERROR;
			gate_job_reason(j, "%s", j->io_error);
		}
		unlink(j->log_path);
		free(j->log_path);
		j->log_path = NULL;
	}
	if (j->builtin)
		return;
	collect_junit(j);
	collect_coverage(j);
}

void
gate_free(struct gate *g)
{
	size_t i;

	for (i = 0; i < g->njobs; i++) {
		struct gate_job *j = &g->jobs[i];

		free(j->name);
		free(j->run);
		strv_free(j->argv);
		strv_free(j->needs);
		free(j->deps);
		strv_free(j->env);
		free(j->cwd);
		strv_free(j->junit);
		free(j->builtin);
		free(j->bopts);
		free(j->opts_path);
		free(j->result_path);
		cJSON_Delete(j->result);
		free(j->cov_path);
		coverage_free(&j->cov);
		if (j->proc.pid > 0)
			proc_free(&j->proc);
		free(j->log_path);
		free(j->io_error);
		free(j->reason);
		free(j->tail);
		junit_result_free(&j->jr);
	}
	free(g->jobs);
	g->jobs = NULL;
	g->njobs = 0;
}
