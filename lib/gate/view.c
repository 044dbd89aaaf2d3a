/*
 * view: a running gate on stderr.  See view.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "format/annotate.h"
#include "gate/secrets.h"
#include "gate/view.h"

void
gate_view_init(struct gate_view *v)
{
	const char *gha = getenv("GITHUB_ACTIONS"), *term = getenv("TERM");

	memset(v, 0, sizeof(*v));
	v->github = gha && !strcmp(gha, "true");
	v->tty = !v->github && isatty(2) && log_level() >= LOG_NORMAL && term &&
	    strcmp(term, "dumb") != 0;
	v->quiet = log_level() < LOG_NORMAL;
}

int
gate_view_tick_ms(const struct gate_view *v)
{
	return v->tty ? 200 : 1000;
}

static void
live_clear(struct gate_view *v)
{
	if (!v->tty || !v->drawn)
		return;
	fprintf(stderr, "\033[%dA\033[J", v->drawn);
	v->drawn = 0;
}

static const char *
live_mark(const struct gate_job *j)
{
	if (j->status == GATE_PASSED)
		return "\033[32m[ ok ]\033[m";
	if (j->status == GATE_SKIPPED || j->status == GATE_CANCELLED)
		return "\033[2m[skip]\033[m";
	return j->allow_failure ? "\033[33m[warn]\033[m" : "\033[31m[FAIL]\033[m";
}

void
gate_view_draw(const struct gate *g, void *view)
{
	struct gate_view *v = view;
	size_t i;
	char dur[32];

	if (!v->tty || v->quiet)
		return;
	live_clear(v);
	for (i = 0; i < g->njobs; i++) {
		const struct gate_job *j = &g->jobs[i];
		int skipped = j->status == GATE_SKIPPED;

		if (j->state == GATE_RUNNING) {
			format_duration(proc_elapsed_ms(&j->proc) / 1000 * 1000, dur, sizeof(dur));
			fprintf(stderr, "  \033[33m[ .. ]\033[m %-20s running %s\033[K\n", j->name, dur);
		} else if (j->state == GATE_DONE) {
			format_duration(j->duration_ms, dur, sizeof(dur));
			fprintf(stderr, "  %s %-20s %s%s%s%s%.60s\033[K\n", live_mark(j), j->name,
			    gate_status_name(j->status), skipped ? "" : " in ", skipped ? "" : dur,
			    j->reason ? ": " : "", j->reason ? j->reason : "");
		} else {
			fprintf(stderr, "  \033[2m[wait]\033[m %-20s\033[K\n", j->name);
		}
		v->drawn++;
	}
	fflush(stderr);
}

/* Write an annotation unless GitHub's budget is spent; the first one
 * over it is a warning that says so.  Returns 0 once over. */
static int
annotate(struct gate_view *v, const struct annotation *a)
{
	struct buf b = BUF_INIT;

	if (v->annotations > ANNOTATE_GITHUB_MAX)
		return 0;
	if (v->annotations++ == ANNOTATE_GITHUB_MAX) {
		struct annotation more = { ANNOTATE_WARNING, NULL, 0, 0, "ci-gate",
			"more failures than GitHub shows annotations for; see the step summary" };

		annotate_github(&b, &more);
	} else {
		annotate_github(&b, a);
	}
	fputs(buf_str(&b), stderr);
	buf_free(&b);
	return v->annotations <= ANNOTATE_GITHUB_MAX;
}

/* One annotation per secret found, at its place; the match is redacted. */
static int
gh_findings(struct gate_view *v, const struct gate_job *j)
{
	const cJSON *fs = j->result ? cJSON_GetObjectItemCaseSensitive(j->result, "findings") : NULL;
	const cJSON *f;

	if (!cJSON_IsArray(fs) || !cJSON_GetArraySize(fs))
		return 0;
	cJSON_ArrayForEach(f, fs) {
		const char *rule = json_str(f, "rule"), *match = json_str(f, "match");
		const char *fp = json_str(f, "fingerprint"), *file = json_str(f, "file");
		const struct secret_rule_info *ri = secrets_rule(rule ? rule : "");
		const cJSON *ln = cJSON_GetObjectItemCaseSensitive(f, "line");
		const cJSON *cl = cJSON_GetObjectItemCaseSensitive(f, "column");
		struct annotation a;
		int more;

		a.level = j->allow_failure ? ANNOTATE_WARNING : ANNOTATE_ERROR;
		a.file = file ? file : "";
		a.line = cJSON_IsNumber(ln) ? (long)ln->valuedouble : 1;
		a.col = cJSON_IsNumber(cl) ? (long)cl->valuedouble : 0;
		a.title = xasprintf("ci-gate: %s: %s", j->name, rule ? rule : "secret");
		a.message = xasprintf("%s: %s (fingerprint %.12s)", ri ? ri->title : "secret",
		    match ? match : "", fp ? fp : "");
		more = annotate(v, &a);
		free((char *)a.title);
		free((char *)a.message);
		if (!more)
			break;
	}
	return 1;
}

static void
gh_group(const struct gate_job *j)
{
	char dur[32], *log;
	size_t len = 0;

	format_duration(j->duration_ms, dur, sizeof(dur));
	fprintf(stderr, "::group::%s: %s in %s\n", j->name, gate_status_name(j->status), dur);
	if (j->log_path && (log = read_file(j->log_path, GATE_VIEW_MAX_LOG, &len, NULL))) {
		fwrite(log, 1, len, stderr);
		if (len && log[len - 1] != '\n')
			fputc('\n', stderr);
		free(log);
	} else if (j->log_path) {
		fprintf(stderr, "(log too large to show here: see %s)\n", j->log_path);
	}
	fputs("::endgroup::\n", stderr);
}

static void
gh_finished(struct gate_view *v, const struct gate_job *j)
{
	struct annotation a;
	size_t n;
	char *title, *msg;

	if (!v->quiet)
		gh_group(j);
	if (gate_job_bad(j) && !(j->status == GATE_FAILED && gh_findings(v, j))) {
		/* The reason, then the last lines of the output. */
		n = j->tail ? strlen(j->tail) : 0;
		if (n && j->tail[n - 1] == '\n')
			n--;
		title = xasprintf("ci-gate: %s %s", j->name, gate_status_name(j->status));
		msg = xasprintf("%s%s%.*s", j->reason ? j->reason : gate_status_name(j->status),
		    n ? "\n" : "", (int)n, n ? j->tail : "");
		memset(&a, 0, sizeof(a));
		a.level = j->allow_failure ? ANNOTATE_WARNING : ANNOTATE_ERROR;
		a.title = title;
		a.message = msg;
		annotate(v, &a);
		free(title);
		free(msg);
	}
	fflush(stderr);
}

/* "lines 92.00% (23 of 25), branches no data": a job's coverage in words. */
static void
coverage_words(struct buf *b, const struct gate_job *j)
{
	const struct coverage *c = &j->cov;

	buf_addf(b, "lines %.2f%% (%lld of %lld), ", c->lines_pct, c->lines_hit, c->lines_total);
	if (c->branches_pct < 0)
		buf_adds(b, "branches no data");
	else if (c->branches_total > 0)
		buf_addf(b, "branches %.2f%% (%lld of %lld)", c->branches_pct, c->branches_hit,
		    c->branches_total);
	else
		buf_addf(b, "branches %.2f%%", c->branches_pct);
}

/* What the coverage report held that was skipped: on stderr, as warnings,
 * or as warning annotations on GitHub; the document has them too. */
static void
coverage_warnings(struct gate_view *v, const struct gate_job *j)
{
	size_t i;

	for (i = 0; j->have_cov && j->cov.warnings && j->cov.warnings[i]; i++) {
		if (v->github) {
			struct annotation a;
			char *title = xasprintf("ci-gate: %s coverage", j->name);

			memset(&a, 0, sizeof(a));
			a.level = ANNOTATE_WARNING;
			a.title = title;
			a.message = j->cov.warnings[i];
			annotate(v, &a);
			free(title);
		} else {
			log_warn("%s: coverage: %s", j->name, j->cov.warnings[i]);
		}
	}
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

void
gate_view_started(const struct gate_job *j, void *view)
{
	struct gate_view *v = view;

	if (v->quiet || v->tty)
		return;
	log_info("%s: started", j->name);
}

void
gate_view_finished(const struct gate *g, const struct gate_job *j, void *view)
{
	struct gate_view *v = view;
	char dur[32];
	int bad = gate_job_bad(j);

	if (v->github) {
		coverage_warnings(v, j);
		gh_finished(v, j);
		return;
	}
	live_clear(v);
	coverage_warnings(v, j);
	if (v->quiet)
		return;
	format_duration(j->duration_ms, dur, sizeof(dur));
	if (!v->tty || bad)
		log_info("%s: %s%s%s (%s)%s", j->name, gate_status_name(j->status),
		    j->reason ? ": " : "", j->reason ? j->reason : "", dur,
		    bad && j->allow_failure ? " [allowed to fail]" : "");
	if (!v->tty && j->have_cov) {
		struct buf b = BUF_INIT;

		coverage_words(&b, j);
		log_info("%s: coverage: %s", j->name, buf_str(&b));
		buf_free(&b);
	}
	if (bad && j->tail && *j->tail) {
		fprintf(stderr, "  last lines of %s:\n", j->log_path ? j->log_path : "the output");
		print_tail(j->tail);
	}
	gate_view_draw(g, v);
}

/* The step summary: a row a job. */
static void
summary(const struct gate *g, const char *status)
{
	static const char *const cols[] = { "Job", "Status", "Duration", "Details" };
	const char *path = getenv("GITHUB_STEP_SUMMARY");
	struct err e = { 0, "" };
	const char **cells;
	char **own;
	char *heading;
	size_t i;

	if (!path || !*path)
		return;
	cells = xcalloc(g->njobs * 4 + 1, sizeof(*cells));
	own = xcalloc(g->njobs * 3 + 1, sizeof(*own));
	for (i = 0; i < g->njobs; i++) {
		const struct gate_job *j = &g->jobs[i];
		struct buf d = BUF_INIT;
		char dur[32] = "";

		if (j->status != GATE_SKIPPED)
			format_duration(j->duration_ms, dur, sizeof(dur));
		if (j->have_junit)
			buf_addf(&d, "%d tests, %d failed; ", j->jr.tests, j->jr.failures + j->jr.errors);
		if (j->have_cov) {
			coverage_words(&d, j);
			if (j->reason)
				buf_adds(&d, "; ");
		}
		buf_adds(&d, j->reason ? j->reason : "");
		own[i * 3] = xasprintf("%s %s", j->status == GATE_PASSED ? ":white_check_mark:" :
		    j->status == GATE_SKIPPED || j->status == GATE_CANCELLED ? ":fast_forward:" :
		    j->allow_failure ? ":warning:" : ":x:", gate_status_name(j->status));
		own[i * 3 + 1] = xstrdup(dur);
		own[i * 3 + 2] = buf_detach(&d, NULL);
		cells[i * 4] = j->name;
		cells[i * 4 + 1] = own[i * 3];
		cells[i * 4 + 2] = own[i * 3 + 1];
		cells[i * 4 + 3] = own[i * 3 + 2];
	}
	heading = xasprintf("ci-gate: %s", status);
	if (annotate_summary(path, heading, cols, 4, cells, g->njobs, &e) < 0)
		log_warn("GITHUB_STEP_SUMMARY: %s", e.msg);
	free(heading);
	for (i = 0; i < g->njobs * 3; i++)
		free(own[i]);
	free(own);
	free(cells);
}

void
gate_view_end(struct gate_view *v, const struct gate *g, const char *status)
{
	v->drawn = 0;	/* leave the final block on screen */
	if (v->github)
		summary(g, status);
}
