/*
 * reports: JUnit, SARIF and Code Quality files of a gate.  See reports.h.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/crypto-load.h"
#include "core/json.h"
#include "core/version.h"
#include "format/junit.h"
#include "format/sarif.h"
#include "gate/reports.h"
#include "gate/secrets.h"

static int
junit_status(const struct gate_job *j)
{
	if (j->status == GATE_PASSED)
		return JUNIT_PASSED;
	if (j->status == GATE_SKIPPED || j->status == GATE_CANCELLED)
		return JUNIT_SKIPPED;
	if (j->status == GATE_ERROR || j->status == GATE_TIMED_OUT)
		return JUNIT_ERROR;
	return JUNIT_FAILED;
}

/* A job's cases into c (room for jr.ncases + 1); returns how many. */
static size_t
job_cases(const struct gate_job *j, struct junit_tcase *c)
{
	int st = junit_status(j), failing = 0;
	size_t k, n = 0;

	if (j->have_junit) {
		for (k = 0; k < j->jr.ncases; k++) {
			const struct junit_case *jc = &j->jr.cases[k];

			c[n].classname = *jc->classname ? jc->classname : j->name;
			c[n].name = jc->name;
			c[n].time_s = jc->time_s;
			c[n].status = jc->status;
			c[n].message = jc->message;
			c[n].detail = NULL;
			failing |= jc->status == JUNIT_FAILED || jc->status == JUNIT_ERROR;
			n++;
		}
		/* A job that failed with all its cases passing still fails. */
		if (n && (st == JUNIT_PASSED || st == JUNIT_SKIPPED || failing))
			return n;
	}
	c[n].classname = "ci-gate";
	c[n].name = j->name;
	c[n].time_s = (double)j->duration_ms / 1000;
	c[n].status = st;
	c[n].message = j->reason;
	c[n].detail = j->tail;
	return n + 1;
}

int
gate_write_junit(const struct gate *g, const char *path, long long duration_ms,
    struct err *e)
{
	struct junit_suite *suites = xcalloc(g->njobs + 1, sizeof(*suites));
	struct junit_tcase **cases = xcalloc(g->njobs + 1, sizeof(*cases));
	size_t i;
	int rc;

	for (i = 0; i < g->njobs; i++) {
		const struct gate_job *j = &g->jobs[i];

		cases[i] = xcalloc(j->jr.ncases + 1, sizeof(**cases));
		suites[i].name = j->name;
		suites[i].time_s = (double)j->duration_ms / 1000;
		suites[i].cases = cases[i];
		suites[i].ncases = job_cases(j, cases[i]);
	}
	rc = junit_write(path, "ci-gate", (double)duration_ms / 1000, suites, g->njobs, e);
	for (i = 0; i < g->njobs; i++)
		free(cases[i]);
	free(cases);
	free(suites);
	return rc;
}

/* The secrets rules as report rules (the caller frees the array). */
static struct report_rule *
report_rules(size_t *n)
{
	const struct secret_rule_info *ri = secrets_rules(n);
	struct report_rule *rules = xcalloc(*n + 1, sizeof(*rules));
	size_t i;

	for (i = 0; i < *n; i++) {
		rules[i].id = ri[i].id;
		rules[i].name = ri[i].name;
		rules[i].title = ri[i].title;
		rules[i].help = ri[i].help;
		rules[i].severity = ri[i].severity;
		rules[i].security_severity = ri[i].security_severity;
	}
	return rules;
}

/* Every secrets job's findings; messages go in *msgs (strv). */
static struct report_finding *
report_findings(const struct gate *g, char ***msgs, size_t *np)
{
	struct report_finding *rf = NULL;
	size_t i, n = 0;

	for (i = 0; i < g->njobs; i++) {
		const cJSON *fs, *f;

		if (!g->jobs[i].result || strcmp(g->jobs[i].builtin, "secrets"))
			continue;
		fs = cJSON_GetObjectItemCaseSensitive(g->jobs[i].result, "findings");
		cJSON_ArrayForEach(f, fs) {
			const char *rule = json_str(f, "rule"), *file = json_str(f, "file");
			const char *match = json_str(f, "match");
			const cJSON *ln = cJSON_GetObjectItemCaseSensitive(f, "line");
			const cJSON *cl = cJSON_GetObjectItemCaseSensitive(f, "column");
			const struct secret_rule_info *r;
			char *msg;

			if (!rule || !file || !json_str(f, "fingerprint"))
				continue;
			r = secrets_rule(rule);
			msg = xasprintf("%s: %s", r ? r->title : rule, match ? match : "");
			*msgs = strv_push(*msgs, msg);
			free(msg);
			rf = xrealloc(rf, (n + 1) * sizeof(*rf));
			rf[n].rule = rule;
			rf[n].path = file;
			rf[n].line = cJSON_IsNumber(ln) ? (long)ln->valuedouble : 1;
			rf[n].column = cJSON_IsNumber(cl) ? (long)cl->valuedouble : 0;
			rf[n].message = (*msgs)[n];
			rf[n].fingerprint = json_str(f, "fingerprint");
			n++;
		}
	}
	*np = n;
	return rf;
}

int
gate_write_findings(const struct gate *g, const char *sarif_path, const char *cq_path,
    struct err *e)
{
	struct report_rule *rules;
	struct report_finding *rf;
	struct report_tool tool;
	char **msgs = NULL, cwd[PATH_MAX], *t;
	size_t nrules, n;
	int rc = 0;

	if (!sarif_path && !cq_path)
		return 0;
	/* The reports' fingerprints are digests (format/sarif). */
	if (crypto_load(e) < 0)
		return -1;
	rules = report_rules(&nrules);
	rf = report_findings(g, &msgs, &n);
	memset(&tool, 0, sizeof(tool));
	tool.name = "ci-gate";
	tool.version = ci_version;
	tool.srcroot = getcwd(cwd, sizeof(cwd));
	if (sarif_path) {
		t = sarif_render(&tool, rules, nrules, rf, n);
		rc = report_write(sarif_path, t, e);
		free(t);
	}
	if (cq_path) {
		struct err ce = { 0, "" };

		/* Each report is tried: one that failed is said, the last kept. */
		t = codequality_render(rules, nrules, rf, n);
		if (report_write(cq_path, t, &ce) < 0) {
			if (rc < 0)
				err_report(e);
			*e = ce;
			rc = -1;
		}
		free(t);
	}
	strv_free(msgs);
	free(rf);
	free(rules);
	return rc;
}
