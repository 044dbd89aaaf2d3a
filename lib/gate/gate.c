/*
 * gate: the work of ci-gate and its section of the document.  See gate.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "gate/block.h"
#include "gate/dag.h"
#include "gate/gate.h"
#include "gate/reports.h"
#include "gate/sched.h"
#include "gate/spec.h"
#include "gate/view.h"

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
	if (j->cov.warnings) {
		cJSON *w = cJSON_AddArrayToObject(cv, "warnings");
		size_t i;

		for (i = 0; j->cov.warnings[i]; i++)
			cJSON_AddItemToArray(w, cJSON_CreateString(j->cov.warnings[i]));
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


/* ---- the work ------------------------------------------------------- */

void
gate_opts_init(struct gate_opts *o, const char *argv0)
{
	ssize_t n;

	memset(o, 0, sizeof(*o));
	o->keep_going = -1;
	o->timeout_ms = -1;
	o->grace_ms = GATE_DEFAULT_GRACE_MS;
	o->out_dir = GATE_DEFAULT_OUT;
	/* Built-in jobs run this very executable again. */
	n = readlink("/proc/self/exe", o->self, sizeof(o->self) - 1);
	if (n > 0)
		o->self[n] = '\0';
	else
		snprintf(o->self, sizeof(o->self), "%s",
		    argv0 && strchr(argv0, '/') ? argv0 : "ci-gate");
}

int
gate_load(struct gate *g, const struct gate_opts *o, const char **spec_used, struct err *e)
{
	size_t i;

	*spec_used = NULL;
	if (o->secrets) {
		if (gate_add_builtin(g, "secrets", "secrets", o->secrets, e) < 0)
			return err_prefix(e, "--secrets");
		return gate_resolve(g, e);
	}
	if (o->spec) {
		*spec_used = o->spec;
	} else if (!o->inline_jobs) {
		if (!path_exists("gates.json"))
			return err_set(e, EX_USAGE_, "no jobs: there is no gates.json here; "
			    "give a spec with -f FILE or jobs with -g NAME=COMMAND");
		*spec_used = "gates.json";
	}
	if (*spec_used && gate_spec_load(g, *spec_used, e) < 0)
		return -1;
	for (i = 0; o->inline_jobs && o->inline_jobs[i]; i++)
		if (gate_add_inline(g, o->inline_jobs[i], e) < 0)
			return -1;
	for (i = 0; o->needs && o->needs[i]; i++)
		if (gate_add_needs(g, o->needs[i], e) < 0)
			return -1;
	if (!g->njobs)
		return err_set(e, EX_USAGE_, "%s: no jobs defined", *spec_used ? *spec_used :
		    "command line");
	return gate_resolve(g, e);
}

int
gate_dry_run(const struct gate_opts *o, struct buf *out, struct err *e)
{
	struct gate g;
	const char *spec;
	int rc;

	gate_init(&g);
	rc = gate_load(&g, o, &spec, e);
	if (rc == 0)
		gate_plan(&g, gate_limit(&g, o->jobs), out);
	gate_free(&g);
	return rc;
}

/* Keep the latest error in e, reporting the one it replaces. */
static void
keep_error(struct err *e, const struct err *next)
{
	if (e->code)
		err_report(e);
	*e = *next;
}

/* A job whose output could not be written is the gate's local I/O
 * error (exit 74), whatever its own verdict. */
static void
io_errors(const struct gate *g, struct err *e)
{
	struct err re = { 0, "" };
	size_t i;

	for (i = 0; i < g->njobs; i++)
		if (g->jobs[i].io_error) {
			err_set(&re, EX_IOERR_, "%s: %s", g->jobs[i].name, g->jobs[i].io_error);
			keep_error(e, &re);
		}
}

static void
run(struct gate *g, const struct gate_opts *o, struct gate_view *v, struct err *e)
{
	struct gate_sched sc;
	struct err re = { 0, "" };

	memset(&sc, 0, sizeof(sc));
	sc.out_dir = o->out_dir;
	sc.self = o->self;
	sc.limit = gate_limit(g, o->jobs);
	sc.timeout_ms = o->timeout_ms >= 0 ? o->timeout_ms : g->timeout_ms >= 0 ?
	    g->timeout_ms : GATE_DEFAULT_TIMEOUT_MS;
	sc.grace_ms = o->grace_ms;
	sc.fail_fast = o->keep_going >= 0 ? !o->keep_going : g->fail_fast >= 0 ?
	    g->fail_fast : 1;
	sc.stop = o->stop;
	sc.started = gate_view_started;
	sc.finished = gate_view_finished;
	sc.tick = gate_view_draw;
	sc.tick_ms = gate_view_tick_ms(v);
	sc.arg = v;
	if (gate_run(g, &sc, &re) < 0)
		keep_error(e, &re);
}

int
gate_work(const struct gate_opts *o, cJSON **section, struct err *e)
{
	struct gate g;
	struct gate_view v;
	struct err re = { 0, "" };
	const char *spec = NULL;
	long long started = now_ms(), t0 = mono_ms();
	cJSON *blocked = NULL, *sec;
	int failed = 0;

	*section = NULL;
	err_clear(e);
	if (block_check(o->ignore_block, o->shared_block, &blocked, section))
		return EX_FAIL;
	gate_init(&g);
	if (gate_load(&g, o, &spec, e) < 0 || mkdir_p(o->out_dir, 0755, e) < 0) {
		/* A spec error is the gate's verdict too: write it down so the
		 * stages downstream do not act. */
		*section = cJSON_CreateObject();
		cJSON_AddStringToObject(*section, "status", "error");
		cJSON_AddStringToObject(*section, "reason", e->msg);
		cJSON_Delete(blocked);
		gate_free(&g);
		return -1;
	}
	gate_view_init(&v);
	run(&g, o, &v, e);
	sec = gate_section(&g, spec, started, mono_ms() - t0, &failed);
	if (blocked)
		cJSON_AddItemToObject(sec, "blocked", blocked);
	gate_view_end(&v, &g, json_str(sec, "status"));
	log_info("gate %s: %s", json_str(sec, "status"),
	    json_str(sec, "reason") ? json_str(sec, "reason") : "every job passed");
	if (o->stop && *o->stop) {
		err_set(&re, EX_TEMP, "interrupted by %s: the running jobs were cancelled",
		    *o->stop == SIGINT ? "SIGINT" : "SIGTERM");
		keep_error(e, &re);
	}
	io_errors(&g, e);
	if (o->junit_out && gate_write_junit(&g, o->junit_out, mono_ms() - t0, &re) < 0)
		keep_error(e, &re);
	if (gate_write_findings(&g, o->sarif_out, o->cq_out, &re) < 0)
		keep_error(e, &re);
	gate_free(&g);
	*section = sec;
	if (e->code)
		return -1;
	return failed ? EX_FAIL : EX_PASS;
}
