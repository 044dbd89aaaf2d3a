/*
 * job: a gate and its jobs.  See job.h.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
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
		if (j->proc.pid > 0)
			proc_free(&j->proc);
		free(j->log_path);
		free(j->reason);
		free(j->tail);
		junit_result_free(&j->jr);
	}
	free(g->jobs);
	g->jobs = NULL;
	g->njobs = 0;
}
