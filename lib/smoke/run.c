#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "smoke/hurl.h"
#include "smoke/report.h"
#include "smoke/run.h"
#include "smoke/smoke.h"

void
smoke_cmd_init(struct smoke_cmd *c)
{
	memset(c, 0, sizeof(*c));
	c->jobs = 1;
	c->repeat = 1;
	c->retry_interval_ms = 1000;
	c->max_time_ms = SMOKE_DEFAULT_MAX_TIME_MS;
	c->max_p99_ms = -1;
	c->wait_timeout_ms = SMOKE_DEFAULT_WAIT_MS;
}

void
smoke_cmd_free(struct smoke_cmd *c)
{
	free(c->vargs);
	c->vargs = NULL;
	c->nvargs = 0;
}

void
smoke_cmd_add_var(struct smoke_cmd *c, int kind, const char *arg)
{
	c->vargs = xrealloc(c->vargs, (c->nvargs + 1) * sizeof(*c->vargs));
	c->vargs[c->nvargs].kind = kind;
	c->vargs[c->nvargs++].arg = arg;
}

int
smoke_cmd_tap_replaces_document(const struct smoke_cmd *c)
{
	return c->tap && (!c->tap_file || !strcmp(c->tap_file, "-"));
}

/* Environment, then the document, then the command line in order. */
static int
build_vars(const struct smoke_cmd *o, const struct pipeline *p, struct smoke_vars *vars,
    struct smoke_secrets *secrets, struct err *e)
{
	const cJSON *v;
	size_t i;

	smoke_vars_from_env(vars, (char **)o->environ);
	if ((v = json_path(p->doc, "push.reference")) && cJSON_IsString(v))
		smoke_vars_set_text(vars, "image", v->valuestring);
	if ((v = json_path(p->doc, "run.source.version")) && cJSON_IsString(v))
		smoke_vars_set_text(vars, "version", v->valuestring);
	for (i = 0; i < o->nvargs; i++) {
		const struct smoke_varg *a = &o->vargs[i];

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

static void
print_plan(FILE *out, const struct hurl_file *files, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		fprintf(out, "%s: %zu entr%s\n", files[i].path, files[i].nentries,
		    files[i].nentries == 1 ? "y" : "ies");
		for (k = 0; k < files[i].nentries; k++) {
			const struct hurl_entry *en = &files[i].entries[k];

			fprintf(out, "  %d: %s %s", en->req.line, en->req.method, en->req.url_text);
			if (en->name)
				fprintf(out, "  (%s)", en->name);
			if (en->resp.present) {
				if (en->resp.status >= 0)
					fprintf(out, " -> %d", en->resp.status);
				else
					fprintf(out, " -> *");
				fprintf(out, ", %zu assert%s, %zu capture%s", en->resp.nasserts,
				    en->resp.nasserts == 1 ? "" : "s", en->resp.ncaptures,
				    en->resp.ncaptures == 1 ? "" : "s");
			}
			fprintf(out, "\n");
		}
	}
}

int
smoke_dry_run(const struct smoke_cmd *c, FILE *out, struct err *e)
{
	struct smoke_vars vars = { NULL, 0, 0 };
	struct smoke_secrets secrets = { NULL, 0 };
	struct pipeline p = { NULL, 0 };
	struct hurl_file *files = xcalloc(c->nfiles + 1, sizeof(*files));
	size_t i, nloaded = 0;
	int rc = 0;

	for (i = 0; i < c->nfiles && rc == 0; i++, nloaded++)
		rc = hurl_load(c->files[i], &files[i], e);
	/* no document is read: stand in for what one would give */
	p.doc = cJSON_CreateObject();
	if (rc == 0)
		rc = build_vars(c, &p, &vars, &secrets, e);
	if (!smoke_vars_get(&vars, "image"))
		smoke_vars_set_text(&vars, "image", "IMAGE");
	if (!smoke_vars_get(&vars, "version"))
		smoke_vars_set_text(&vars, "version", "VERSION");
	for (i = 0; i < nloaded && rc == 0; i++)
		rc = smoke_check(&files[i], &vars, e);
	if (rc == 0) {
		print_plan(out, files, nloaded);
		if (fflush(out) == EOF || ferror(out))
			rc = err_set(e, EX_IOERR_, "cannot write the plan: %s", strerror(errno));
	}
	for (i = 0; i < nloaded; i++)
		hurl_file_free(&files[i]);
	free(files);
	pipeline_free(&p);
	smoke_vars_free(&vars);
	smoke_secrets_free(&secrets);
	return rc;
}

void
smoke_skipped(struct stage *st, void *arg, const char *failed_stage)
{
	const struct smoke_cmd *c = arg;
	struct err e = { 0, "" };
	char *t;

	(void)st;
	if (!c->tap)
		return;
	t = xasprintf("1..0 # SKIP upstream stage '%s' failed\n", failed_stage ? failed_stage : "?");
	if (tap_emit(c->tap_file, c->tap_out, t, &e) < 0)
		err_report(&e);
	free(t);
}

/* The stage could not even start (bad file, bad variable): the section
 * says so, so that the stages downstream do not act, and TAP bails out. */
static int
cannot_start(const struct smoke_cmd *c, cJSON **section, struct err *e)
{
	struct err te = { 0, "" };

	*section = cJSON_CreateObject();
	cJSON_AddStringToObject(*section, "status", "error");
	cJSON_AddStringToObject(*section, "reason", e->msg);
	if (c->tap) {
		/* TAP's word for a run that could not go on */
		char *t = xasprintf("Bail out! %s\n", e->msg);

		if (tap_emit(c->tap_file, c->tap_out, t, &te) < 0)
			err_report(&te);
		free(t);
	}
	return -1;
}

/* --wait: a service that never came up is the smoke verdict. */
static int
wait_ready(const struct smoke_cmd *c, struct smoke_opts *so, const struct smoke_secrets *secrets,
    cJSON **wait, cJSON **section, struct err *e)
{
	int attempts = 0, rc;
	long long w0 = mono_ms();
	char *shown = smoke_redact(secrets, c->wait_url);
	struct err te = { 0, "" };

	rc = smoke_wait(c->wait_url, c->wait_timeout_ms, so, &attempts, e);
	*wait = cJSON_CreateObject();
	cJSON_AddStringToObject(*wait, "url", shown);
	cJSON_AddBoolToObject(*wait, "ready", rc == 0);
	cJSON_AddNumberToObject(*wait, "attempts", attempts);
	json_add_i64(*wait, "duration_ms", mono_ms() - w0);
	free(shown);
	if (rc == 0)
		return 0;
	log_error("%s", e->msg);
	*section = cJSON_CreateObject();
	cJSON_AddStringToObject(*section, "status", "failed");
	cJSON_AddStringToObject(*section, "reason", e->msg);
	cJSON_AddItemToObject(*section, "wait", *wait);
	*wait = NULL;
	if (c->tap) {
		char *t = xasprintf("1..1\nnot ok 1 - wait for the service\n#   %s\n", e->msg);

		if (tap_emit(c->tap_file, c->tap_out, t, &te) < 0) {
			free(t);
			*e = te;
			err_report(e);
			return EX_IOERR_;
		}
		free(t);
	}
	return e->code == EX_TEMP ? EX_TEMP : EX_FAIL;
}

int
smoke_work(struct stage *st, void *arg, cJSON **section, struct err *e)
{
	const struct smoke_cmd *c = arg;
	struct smoke_vars vars = { NULL, 0, 0 };
	struct smoke_secrets secrets = { NULL, 0 };
	struct smoke_opts so;
	struct smoke_result res;
	struct hurl_file *files = xcalloc(c->nfiles + 1, sizeof(*files));
	struct progress pg;
	cJSON *wait = NULL;
	size_t i, nloaded = 0;
	int rc = 0, failed = 0;

	memset(&res, 0, sizeof(res));
	for (i = 0; i < c->nfiles && rc == 0; i++, nloaded++)
		rc = hurl_load(c->files[i], &files[i], e);
	if (rc == 0)
		rc = build_vars(c, &st->p, &vars, &secrets, e);
	for (i = 0; i < nloaded && rc == 0; i++)
		rc = smoke_check(&files[i], &vars, e);
	if (rc < 0) {
		rc = cannot_start(c, section, e);
		goto out;
	}

	memset(&so, 0, sizeof(so));
	so.jobs = (size_t)c->jobs;
	so.repeat = (int)c->repeat;
	so.retry = c->retry;
	so.retry_interval_ms = c->retry_interval_ms;
	so.connect_timeout_ms = c->connect_timeout_ms;
	so.max_time_ms = c->max_time_ms;
	so.max_body = c->max_body;
	so.insecure = c->insecure;
	so.ca_file = c->ca_file;
	so.continue_on_error = c->continue_on_error;
	so.vars = &vars;
	so.secrets = &secrets;
	so.stop = &stage_signal;
	pg.quiet = log_level() < LOG_NORMAL;
	so.on_entry = on_entry;
	so.arg = &pg;

	if (c->wait_url && (rc = wait_ready(c, &so, &secrets, &wait, section, e)) != 0)
		goto out;
	if (smoke_run(files, nloaded, &so, &res, e) < 0) {
		rc = cannot_start(c, section, e);
		goto out;
	}
	if (c->max_p99_ms >= 0)
		apply_p99(&res, c->max_p99_ms);
	*section = smoke_json(&res, c, &st->p, st->started_ms, mono_ms() - st->t0, wait, &failed);
	if (log_level() >= LOG_NORMAL) {
		struct counts k;

		count(&res, &k);
		if (failed)
			log_info("smoke failed: %s", json_str(*section, "reason"));
		else
			log_info("smoke passed: %d entr%s in %zu file%s (%lld request%s)", k.passed,
			    k.passed == 1 ? "y" : "ies", res.nfiles, res.nfiles == 1 ? "" : "s",
			    res.requests, res.requests == 1 ? "" : "s");
	}
	rc = stage_signal ? EX_TEMP : failed ? EX_FAIL : EX_PASS;
	if (c->junit && write_junit(&res, c->junit, mono_ms() - st->t0, e) < 0)
		rc = err_report(e);
	if (c->tap && write_tap(&res, c->tap_file, c->tap_out, e) < 0)
		rc = err_report(e);
out:
	for (i = 0; i < nloaded; i++)
		hurl_file_free(&files[i]);
	free(files);
	cJSON_Delete(wait);
	smoke_result_free(&res);
	smoke_vars_free(&vars);
	smoke_secrets_free(&secrets);
	return rc;
}
