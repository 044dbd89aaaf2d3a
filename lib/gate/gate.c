/*
 * gate: the gate section of the pipeline document.  See gate.h.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "gate/gate.h"

/* Counts and the failed cases, as "classname.name". */
static void
junit_json(cJSON *ju, const struct junit_result *jr)
{
	cJSON *failed;
	size_t i;

	cJSON_AddNumberToObject(ju, "tests", jr->tests);
	cJSON_AddNumberToObject(ju, "failures", jr->failures);
	cJSON_AddNumberToObject(ju, "errors", jr->errors);
	cJSON_AddNumberToObject(ju, "skipped", jr->skipped);
	failed = cJSON_AddArrayToObject(ju, "failed");
	for (i = 0; i < jr->ncases; i++) {
		const struct junit_case *c = &jr->cases[i];
		char *name;

		if (c->status != JUNIT_FAILED && c->status != JUNIT_ERROR)
			continue;
		name = *c->classname ? xasprintf("%s.%s", c->classname, c->name) :
		    xstrdup(c->name);
		cJSON_AddItemToArray(failed, cJSON_CreateString(name));
		free(name);
	}
}

static void
coverage_json(cJSON *cv, const struct gate_job *j)
{
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
	} else if (j->run) {
		cJSON_AddStringToObject(o, "run", j->run);
	} else {
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
	if (j->have_junit)
		junit_json(cJSON_AddObjectToObject(o, "junit"), &j->jr);
	if (j->have_cov)
		coverage_json(cJSON_AddObjectToObject(o, "coverage"), j);
	return o;
}

cJSON *
gate_section(const struct gate *g, const char *spec, long long started, long long dur,
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


