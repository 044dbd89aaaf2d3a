/*
 * deploy: run the user's deploy command with the document's facts, then
 * wait for the service (see deploy.h).
 */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "core/buf.h"
#include "core/encode.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "core/pipeline.h"
#include "core/proc.h"
#include "core/timeutil.h"
#include "net/http.h"
#include "oci/ref.h"
#include "release/deploy.h"
#include "release/rollback.h"

#define TAIL_LINES 5		/* of the output, in the reason of a failure */
#define POLL_MS 200		/* a signal is passed on within this */

/* What the command is told: borrowed from the document, but tag. */
struct facts {
	const char *image, *version, *commit, *slot;
	char *tag;
};

int
deploy_env_valid(const char *env)
{
	size_t i, n = env ? strlen(env) : 0;

	if (n == 0 || n > DEPLOY_ENV_MAX || env[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)env[i]) && env[i] != '_' && env[i] != '-')
			return 0;
	return 1;
}

static const char *
nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

/* The tag of the first name pushed ("v2.4.1-abc123f"), fresh, or NULL. */
static char *
first_tag(const cJSON *push)
{
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(push, "tags");
	struct err ignored = { 0, "" };
	struct image_ref r;
	char *tag = NULL;

	if (!cJSON_IsArray(tags) || !cJSON_IsString(tags->child))
		return NULL;
	if (ref_parse(tags->child->valuestring, &r, &ignored) == 0) {
		tag = r.tag ? xstrdup(r.tag) : NULL;
		ref_free(&r);
	}
	return tag;
}

static void
facts_read(const cJSON *doc, const struct deploy_cmd *c, struct facts *f)
{
	const cJSON *push = cJSON_GetObjectItemCaseSensitive(doc, "push");
	const cJSON *source = json_path(doc, "run.source");

	f->image = nonempty(json_str(push, "reference"));
	f->tag = first_tag(push);
	f->version = nonempty(json_str(source, "version"));
	f->commit = nonempty(json_str(source, "commit"));
	f->slot = c->slot ? c->slot : rollback_slot(doc);
}

/* NAME=VALUE into env; without a value, NAME into unset, and -v says why. */
static void
fact(char ***env, char ***unset, const char *name, const char *value, const char *from)
{
	char *kv;

	if (!value) {
		log_verbose("%s not set: %s", name, from);
		*unset = strv_push(*unset, name);
		return;
	}
	kv = xasprintf("%s=%s", name, value);
	log_verbose("%s", kv);
	*env = strv_push(*env, kv);
	free(kv);
}

/* STATE_DIR/deploy/ENV-20261126T090000Z.log (-2, -3 ... when taken), fresh;
 * NULL with e when the directory cannot be made. */
static char *
log_path(const struct deploy_cmd *c, struct err *e)
{
	char *dir = xasprintf("%s/deploy", c->state_dir), *path = NULL, when[32];
	time_t t = (time_t)(now_ms() / 1000);
	struct tm tm;
	int i;

	if (mkdir_p(dir, 0755, e) < 0) {
		free(dir);
		return NULL;
	}
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
	for (i = 1; !path || path_exists(path); i++) {
		free(path);
		path = i == 1 ? xasprintf("%s/%s-%s.log", dir, c->env, when) :
		    xasprintf("%s/%s-%s-%d.log", dir, c->env, when, i);
	}
	free(dir);
	return path;
}

/* The section as far as it is known before the command runs. */
static cJSON *
section_new(const struct deploy_cmd *c, const struct facts *f, const char *log)
{
	static const char *const keys[] = { "image", "version", "slot", "log" };
	const char *values[] = { f->image, f->version, f->slot, log };
	cJSON *sec = cJSON_CreateObject(), *cmd;
	size_t i;

	cJSON_AddStringToObject(sec, "status", "error");
	cmd = cJSON_AddArrayToObject(sec, "command");
	for (i = 0; c->argv[i]; i++)
		cJSON_AddItemToArray(cmd, cJSON_CreateString(c->argv[i]));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (values[i])
			cJSON_AddStringToObject(sec, keys[i], values[i]);
	return sec;
}

/* Give sec its status, and its reason when there is one; returns rc. */
static int
verdict(cJSON *sec, const char *status, const char *reason, int rc)
{
	json_set(sec, "status", cJSON_CreateString(status));
	if (reason)
		cJSON_AddStringToObject(sec, "reason", reason);
	return rc;
}

/* Run the command to its end, passing a signal on to its group; 0, or -1
 * with e when it could not be started. */
static int
run(const struct deploy_cmd *c, char **env, char **unset, const char *log, struct proc *p,
    struct err *e)
{
	struct proc_spec ps;
	int passed_on = 0;

	memset(&ps, 0, sizeof(ps));
	ps.argv = c->argv;
	ps.env = env;
	ps.unset_env = unset;
	ps.log_path = log;
	ps.timeout_ms = c->timeout_ms;
	ps.show_prefix = log_level() > LOG_QUIET ? c->env : NULL;
	if (proc_start(p, &ps, e) < 0)
		return -1;
	while (p->state != PROC_DONE) {
		if (stage_signal && !passed_on) {
			log_warn("passing signal %d on to the command", (int)stage_signal);
			proc_stop(p, stage_signal);
			passed_on = 1;
		}
		proc_poll(&p, 1, POLL_MS);
	}
	return 0;
}

/* How the command ended, as a reason: "the command exited with status 3;
 * its last lines:\n...", fresh. */
static char *
failure(const struct proc *p)
{
	char how[256], *tail = ring_lines(&p->tail, TAIL_LINES), *why;
	size_t n = strlen(tail);

	while (n && (tail[n - 1] == '\n' || tail[n - 1] == '\r'))
		tail[--n] = '\0';
	proc_describe(p, how, sizeof(how));
	why = xasprintf("the command %s%s%s%s", strncmp(how, "killed", 6) &&
	    strncmp(how, "cancelled", 9) ? "" : "was ", how,
	    n ? "; its last lines:\n" : "", tail);
	free(tail);
	return why;
}

/* --wait: poll the URL for what is left of the time. */
static int
wait_for(const struct deploy_cmd *c, long long left, cJSON *sec, struct err *e)
{
	struct http_wait w;
	struct http_url hu;
	char *shown;
	struct err we = { 0, "" };
	long long t0 = mono_ms();
	char d[32], *why;
	cJSON *wj;
	int rc;

	if (http_url_parse(c->wait_url, &hu) < 0) {
		err_set(e, EX_USAGE_, "--wait: not an absolute URL");
		return verdict(sec, "error", e->msg, -1);
	}
	http_url_free(&hu);
	/* The document and the log show the URL as given, its userinfo
	 * as ***. */
	shown = url_redact(c->wait_url);
	memset(&w, 0, sizeof(w));
	w.url = c->wait_url;
	w.shown = shown;
	w.timeout_ms = left > 0 ? left : 1;
	w.accept_3xx = 1;
	w.ca_file = c->ca_file;
	w.stop = &stage_signal;
	log_info("waiting for '%s' to answer", shown);
	rc = http_wait(&w, &we);
	wj = cJSON_AddObjectToObject(sec, "wait");
	cJSON_AddStringToObject(wj, "url", shown);
	cJSON_AddBoolToObject(wj, "ready", rc == 0);
	cJSON_AddNumberToObject(wj, "attempts", w.attempts);
	if (w.status)
		cJSON_AddNumberToObject(wj, "http_status", w.status);
	json_add_i64(wj, "duration_ms", mono_ms() - t0);
	if (rc == 0) {
		format_duration(mono_ms() - t0, d, sizeof(d));
		log_info("'%s' answered HTTP %ld after %s", shown, w.status, d);
		rc = verdict(sec, "passed", NULL, EX_PASS);
	} else if (we.code != EX_FAIL) {
		*e = we;
		rc = verdict(sec, "error", e->msg, -1);
	} else {
		why = xasprintf("the command passed, but %s", we.msg);
		log_error("deploy to %s failed: %s", c->env, why);
		rc = verdict(sec, "failed", why, EX_FAIL);
		free(why);
	}
	free(shown);
	return rc;
}

/* The command's outcome into sec; the status to exit with, or -1 with e. */
static int
judge(const struct deploy_cmd *c, const struct proc *p, cJSON *sec, struct err *e)
{
	char sb[32], d[32], *why;
	int rc;

	if (p->exec_msg) {
		/* The invocation names nothing that runs: a usage error. */
		err_set(e, EX_USAGE_, "cannot deploy to %s: %s", c->env, p->exec_msg);
		return verdict(sec, "error", e->msg, -1);
	}
	json_add_i64(sec, "exit_status", proc_status(p));
	if (proc_signal(p))
		cJSON_AddStringToObject(sec, "signal", sig_name(proc_signal(p), sb, sizeof(sb)));
	json_add_i64(sec, "duration_ms", proc_elapsed_ms(p));
	if (p->cancelled) {
		why = failure(p);
		err_set(e, EX_TEMP, "interrupted by signal %d: %s", (int)stage_signal, why);
		free(why);
		return verdict(sec, "error", e->msg, -1);
	}
	if (proc_status(p) != 0) {
		why = failure(p);
		log_error("deploy to %s failed: %s", c->env, why);
		rc = verdict(sec, "failed", why, EX_FAIL);
		free(why);
		return rc;
	}
	format_duration(proc_elapsed_ms(p), d, sizeof(d));
	log_info("deployed to %s in %s", c->env, d);
	if (c->wait_url)
		return wait_for(c, c->timeout_ms - proc_elapsed_ms(p), sec, e);
	return verdict(sec, "passed", NULL, EX_PASS);
}

/*
 * The log could not be written in full (a full disk): a log cut short is
 * no record, so it goes (a failure's reason keeps the last lines); the
 * deploy is then a local I/O error, exit 74 (a passed one says error),
 * unless an error stopped it already.  Returns the status to exit with.
 */
static int
log_lost(const char *log, int errnum, cJSON *sec, int rc, struct err *e)
{
	struct err le = { 0, "" };

	unlink(log);
	cJSON_DeleteItemFromObjectCaseSensitive(sec, "log");
	err_set(&le, EX_IOERR_, "cannot write '%s': %s (the partial log was removed)", log,
	    strerror(errnum));
	if (rc < 0) {
		/* The error that stopped it stands. */
		log_error("%s", le.msg);
		return rc;
	}
	if (rc == EX_PASS)
		verdict(sec, "error", le.msg, -1);
	*e = le;
	return -1;
}

int
deploy_work(struct stage *s, void *arg, cJSON **section, struct err *e)
{
	const struct deploy_cmd *c = arg;
	struct facts f;
	struct proc p;
	struct buf shown = BUF_INIT;
	char **env = NULL, **unset = NULL, *log;
	size_t i;
	int rc;

	facts_read(s->p.doc, c, &f);
	fact(&env, &unset, "CI_ENV", c->env, "");
	fact(&env, &unset, "CI_IMAGE", f.image, "the document has no push.reference");
	fact(&env, &unset, "CI_IMAGE_TAG", f.tag, "the document has no tag in push.tags");
	fact(&env, &unset, "CI_VERSION", f.version, "the document has no run.source.version");
	fact(&env, &unset, "CI_COMMIT", f.commit, "the document has no run.source.commit");
	fact(&env, &unset, "CI_SLOT", f.slot, "no --slot, and no slot in the canary section");
	log = log_path(c, e);
	*section = section_new(c, &f, log);
	if (!log) {
		rc = verdict(*section, "error", e->msg, -1);
	} else if (stage_signal) {
		err_set(e, EX_TEMP, "interrupted before the command started");
		rc = verdict(*section, "error", e->msg, -1);
	} else {
		for (i = 0; c->argv[i]; i++)
			buf_addf(&shown, "%s%s", i ? " " : "", c->argv[i]);
		log_info("deploying to %s: %s (log: %s)", c->env, buf_str(&shown), log);
		if (run(c, env, unset, log, &p, e) < 0)
			rc = verdict(*section, "error", e->msg, -1);
		else
			rc = judge(c, &p, *section, e);
		if (p.log_errno)
			rc = log_lost(log, p.log_errno, *section, rc, e);
		proc_free(&p);
	}
	buf_free(&shown);
	strv_free(env);
	strv_free(unset);
	free(f.tag);
	free(log);
	return rc;
}
