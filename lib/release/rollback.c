/*
 * rollback: the pipeline's safety net (rollback.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/encode.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "core/log.h"
#include "core/retry.h"
#include "core/timeutil.h"
#include "gate/block.h"
#include "net/registry.h"
#include "oci/ref.h"
#include "release/alert.h"
#include "release/ledger.h"
#include "release/rollback.h"
#include "rollout/spec.h"
#include "rollout/state.h"
#include "rollout/traffic.h"

#define STATE_MAX_BYTES (1u << 20)

/* ---- what the document says ---------------------------------------------- */

/* The release of the document. */
struct rel {
	char *version, *image, *digest, *app, *slot, *pipeline;
};

static void
rel_free(struct rel *r)
{
	free(r->version);
	free(r->image);
	free(r->digest);
	free(r->app);
	free(r->slot);
	free(r->pipeline);
	memset(r, 0, sizeof(*r));
}

/* The last path component of an image's repository, without tag/digest. */
static char *
name_of_image(const char *image)
{
	const char *at = strchr(image, '@'), *end = at ? at : image + strlen(image);
	const char *slash, *colon;
	size_t n;

	for (slash = end; slash > image && slash[-1] != '/'; slash--)
		;
	colon = memchr(slash, ':', (size_t)(end - slash));
	n = (size_t)((colon ? colon : end) - slash);
	return n ? xstrndup(slash, n) : NULL;
}

const char *
rollback_slot(const cJSON *doc)
{
	const cJSON *canary = cJSON_GetObjectItemCaseSensitive(doc, "canary");
	const char *st = json_str(canary, "status"), *v;

	/* A promoted canary's slot is the stable one now. */
	v = json_str(json_path(canary, "slots"), st && !strcmp(st, "passed") ? "stable" : "canary");
	return v && *v ? v : NULL;
}

static void
rel_from_doc(const cJSON *doc, const struct rollback_cmd *c, struct rel *r)
{
	const cJSON *canary = cJSON_GetObjectItemCaseSensitive(doc, "canary");
	const char *image = json_str(canary, "image"), *v, *at;

	memset(r, 0, sizeof(*r));
	if (!image || !*image)
		image = json_str(json_path(doc, "push"), "reference");
	r->image = image && *image ? xstrdup(image) : NULL;
	v = json_str(json_path(doc, "push"), "digest");
	if ((!v || !*v) && image && (at = strchr(image, '@')))
		v = at + 1;
	r->digest = v && *v ? xstrdup(v) : NULL;
	v = json_str(doc, "version");
	if (!v || !*v)
		v = json_str(json_path(doc, "run.source"), "version");
	if (v && *v) {
		r->version = xstrdup(v);
	} else if (image && !strchr(image, '@')) {
		const char *colon = strrchr(image, ':');

		if (colon && !strchr(colon, '/'))
			r->version = xstrdup(colon + 1);
	}
	if (!r->version && r->digest)
		r->version = xstrndup(r->digest, strncmp(r->digest, "sha256:", 7) ? 12 : 19);
	if (c->app)
		r->app = xstrdup(c->app);
	else if ((v = json_str(canary, "app")) && *v)
		r->app = xstrdup(v);
	else if (image)
		r->app = name_of_image(image);
	v = rollback_slot(doc);
	r->slot = v ? xstrdup(v) : NULL;
	v = json_str(json_path(doc, "run"), "id");
	r->pipeline = v ? xstrdup(v) : NULL;
}

/* The first failed stage after push, or the canary's failure; NULL when
 * the release did not fail.  *before_push: a stage failed before anything
 * was pushed. */
static const char *
failed_after_push(const cJSON *doc, int *before_push)
{
	const cJSON *stages = cJSON_GetObjectItemCaseSensitive(doc, "stages"), *s;
	const char *st = json_str(json_path(doc, "canary"), "status");
	int pushed = 0;

	*before_push = 0;
	if (st && (!strcmp(st, "failed") || !strcmp(st, "error")))
		return "canary";
	cJSON_ArrayForEach(s, stages) {
		const char *name = json_str(s, "name"), *status = json_str(s, "status");

		if (!name || !status || !strcmp(name, "rollback"))
			continue;
		if (!strcmp(name, "push") && strcmp(status, "failed") && strcmp(status, "error"))
			pushed = 1;
		if (!strcmp(status, "failed") || !strcmp(status, "error")) {
			if (pushed)
				return name;
			*before_push = 1;
			return NULL;
		}
	}
	return NULL;
}

/* ---- the alert state ----------------------------------------------------- */

static char *
alert_state_path(const struct rollback_cmd *c, const char *app)
{
	return xasprintf("%s/rollback/%s.json", c->state_dir, app);
}

/* The state of app when it is about this release, else a fresh one. */
static cJSON *
alert_state_load(const struct rollback_cmd *c, const struct rel *r)
{
	char *path = alert_state_path(c, r->app);
	struct err e = { 0, "" };
	cJSON *j = NULL;

	if (path_exists(path)) {
		j = json_load(path, STATE_MAX_BYTES, 0, NULL, &e);
		if (!j)
			log_warn("%s; starting it again", e.msg);
	}
	free(path);
	if (j && (!json_str(j, "release") || strcmp(json_str(j, "release"), r->version) ||
	    (r->digest && json_str(j, "digest") && strcmp(json_str(j, "digest"), r->digest)))) {
		cJSON_Delete(j);
		j = NULL;
	}
	if (!j) {
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "release", r->version);
		if (r->digest)
			cJSON_AddStringToObject(j, "digest", r->digest);
	}
	if (!json_str(j, "dedup_key")) {
		char *k = xasprintf("ci-rollback/%s/%s%s%s", r->app, r->version,
		    r->digest ? "@" : "", r->digest ? r->digest : "");

		cJSON_AddStringToObject(j, "dedup_key", k);
		free(k);
	}
	if (!cJSON_GetObjectItemCaseSensitive(j, "delivered"))
		cJSON_AddObjectToObject(j, "delivered");
	return j;
}

static int
alert_state_save(const struct rollback_cmd *c, const char *app, const cJSON *j, struct err *e)
{
	char *path = alert_state_path(c, app), *text = cJSON_Print(j);
	int rc;

	rc = mkdir_parent(path, e) < 0 ? -1 : atomic_write(path, text, strlen(text), 0644, e);
	free(text);
	free(path);
	return rc;
}

/* Where send_alerts() records each delivery as it happens, so that a
 * process killed between two alerts does not send the first again. */
struct alert_record {
	const struct rollback_cmd *c;
	const char *app;
	struct err io;		/* the first record that could not be saved,
				 * cleared when a later one is */
	int saved;		/* the state as it stands is on disk */
};

static void
record_delivery(struct alert_record *rec, const cJSON *state)
{
	struct err e = { 0, "" };

	rec->saved = alert_state_save(rec->c, rec->app, state, &e) == 0;
	if (!rec->saved && !rec->io.code) {
		log_error("%s: a re-run may alert again", e.msg);
		rec->io = e;
	} else if (rec->saved && rec->io.code) {
		/* the whole state is on disk now: no re-run alerts again */
		log_info("the alert state is saved after all");
		err_clear(&rec->io);
	}
}

/* ---- traffic ------------------------------------------------------------- */

/*
 * All traffic on stable through traffic (the canary section's, or a
 * spec's), slots as given: attempts tries with backoff.  Fills out with
 * what happened.  0 when the load balancer says the canary has none.
 */
static int
restore_traffic(const struct rollback_cmd *c, const cJSON *traffic, const char *stable,
    const char *canary, const char *baseline, cJSON *out, struct err *e)
{
	struct rollout_spec spec;
	struct traffic t;
	struct retry_policy policy = { c->traffic_attempts, 500, 4000, 0 };
	struct retry_state rs = { 0, 0 };
	int attempt, w = -1, got = 0, rc = -1;
	long long t0 = mono_ms();

	rollout_spec_init(&spec);
	if (rollout_spec_load_traffic(&spec, traffic, "canary.traffic", e) < 0) {
		rollout_spec_free(&spec);
		return -1;
	}
	traffic_init(&t, &spec.traffic, NULL);
	t.stable = stable;
	t.canary = canary;
	t.baseline = baseline;
	/* core/retry's backoff: 0.5 s, 1 s, 2 s... with jitter, at most 4 s. */
	for (attempt = 1;; attempt++) {
		long long wait;

		err_clear(e);
		if (traffic_abort(&t, e) == 0 && (got = traffic_get(&t, &w, e)) >= 0) {
			if (got == 0 || w == 0) {
				rc = 0;
				break;
			}
			err_set(e, EX_SERVICE, "the load balancer still gives the canary '%s' %d%%",
			    canary, w);
		}
		if ((wait = retry_next(&policy, &rs, -1)) < 0)
			break;
		log_warn("restoring traffic, attempt %d of %d: %s", attempt, c->traffic_attempts,
		    e->msg);
		sleep_ms(wait, NULL);
	}
	cJSON_AddNumberToObject(out, "attempts", attempt);
	cJSON_AddBoolToObject(out, "restored", rc == 0);
	if (rc == 0 && got == 1)
		cJSON_AddNumberToObject(out, "canary_weight", w);
	cJSON_AddNumberToObject(out, "ms", (double)(mono_ms() - t0));
	if (rc < 0)
		cJSON_AddStringToObject(out, "error", e->msg);
	rollout_spec_free(&spec);
	return rc;
}

/* ---- alerts -------------------------------------------------------------- */

struct targets {
	struct alert_target v[4];
	const char *name[4];
	int n;
};

static void
targets_of(const struct rollback_cmd *c, struct targets *ts, int success)
{
	memset(ts, 0, sizeof(*ts));
	if (c->slack) {
		ts->v[ts->n].kind = ALERT_SLACK;
		ts->v[ts->n].url = c->slack;
		ts->name[ts->n++] = "slack";
	}
	if (c->pagerduty_key && !success) {
		ts->v[ts->n].kind = ALERT_PAGERDUTY;
		ts->v[ts->n].url = c->pagerduty_url;
		ts->v[ts->n].routing_key = c->pagerduty_key;
		ts->name[ts->n++] = "pagerduty";
	}
	if (c->webhook) {
		ts->v[ts->n].kind = ALERT_WEBHOOK;
		ts->v[ts->n].url = c->webhook;
		ts->name[ts->n++] = "webhook";
	}
	if (c->smtp_url && c->email_to && !success) {
		ts->v[ts->n].kind = ALERT_EMAIL;
		ts->v[ts->n].url = c->smtp_url;
		ts->v[ts->n].from = c->email_from;
		ts->v[ts->n].to = c->email_to;
		ts->name[ts->n++] = "email";
	}
	for (int i = 0; i < ts->n; i++) {
		ts->v[i].max_attempts = c->alert_attempts;
		/* --ca-file is for every server ci-rollback speaks TLS to. */
		ts->v[i].ca_file = c->reg ? c->reg->ca_file : NULL;
	}
}

/* Send ev to every target not yet delivered for this release (state's
 * "delivered"); the results into arr.  With rec, the state is saved after
 * each delivery.  Returns how many failed. */
static int
send_alerts(const struct targets *ts, const struct alert_event *ev, cJSON *state, cJSON *arr,
    char *last_at, size_t lastsz, struct alert_record *rec)
{
	cJSON *done = cJSON_GetObjectItemCaseSensitive(state, "delivered");
	int i, failed = 0;

	for (i = 0; i < ts->n; i++) {
		struct alert_result res;
		cJSON *a = cJSON_CreateObject();
		char *shown = alert_url_shown(ts->v[i].url ? ts->v[i].url :
		    "https://events.pagerduty.com/v2/enqueue");
		const char *was = json_str(done, ts->name[i]);

		cJSON_AddStringToObject(a, "kind", ts->name[i]);
		cJSON_AddStringToObject(a, "target", shown);
		free(shown);
		if (was) {
			/* A re-run never pages twice. */
			cJSON_AddBoolToObject(a, "delivered", 1);
			cJSON_AddStringToObject(a, "at", was);
			cJSON_AddBoolToObject(a, "earlier", 1);
			cJSON_AddItemToArray(arr, a);
			continue;
		}
		memset(&res, 0, sizeof(res));
		if (alert_send(&ts->v[i], ev, &res) == 0) {
			cJSON_AddBoolToObject(a, "delivered", 1);
			cJSON_AddStringToObject(a, "at", res.at);
			cJSON_AddStringToObject(done, ts->name[i], res.at);
			if (strcmp(res.at, last_at) > 0)
				snprintf(last_at, lastsz, "%s", res.at);
			/* Recorded first: nothing more between delivery and record. */
			if (rec)
				record_delivery(rec, state);
			log_info("%s alert delivered (%d attempt%s)", ts->name[i], res.attempts,
			    res.attempts == 1 ? "" : "s");
		} else {
			cJSON_AddBoolToObject(a, "delivered", 0);
			cJSON_AddStringToObject(a, "error", res.error);
			log_warn("%s alert not delivered: %s", ts->name[i], res.error);
			failed++;
		}
		cJSON_AddNumberToObject(a, "attempts", res.attempts);
		cJSON_AddItemToArray(arr, a);
	}
	return failed;
}

/* ---- the ledger's decisions ---------------------------------------------- */

/* A record of the document's release r, with status and reason. */
static void
add_record(struct release_list *add, const struct rel *r, const char *status,
    const char *reason)
{
	struct release rec;

	memset(&rec, 0, sizeof(rec));
	rec.app = r->app;
	rec.version = r->version;
	rec.image = r->image;
	rec.digest = r->digest;
	rec.slot = r->slot;
	rec.status = (char *)status;
	rec.reason = (char *)reason;
	rec.pipeline = r->pipeline;
	release_list_add(add, &rec);
}

struct failed_arg {
	const struct rel *r;
	const char *reason;
	char *rolled_back_to;		/* out: the stable version */
	char *rolled_back_image;
	int already;			/* out: this pipeline's failure was recorded before */
};

static int
decide_failed(const struct release_list *cur, struct release_list *add, void *arg,
    struct err *e)
{
	struct failed_arg *a = arg;
	const struct release *st = ledger_stable(cur), *last = ledger_find(cur, a->r->version);

	(void)e;
	free(a->rolled_back_to);
	free(a->rolled_back_image);
	a->rolled_back_to = st ? xstrdup(st->version) : NULL;
	a->rolled_back_image = st && st->image ? xstrdup(st->image) : NULL;
	a->already = last && !strcmp(last->status, "failed") && last->pipeline && a->r->pipeline &&
	    !strcmp(last->pipeline, a->r->pipeline);
	if (a->already)
		return 0;
	add_record(add, a->r, "failed", a->reason);
	return 0;
}

struct stable_arg {
	const struct rel *r;
	const char *superseded_status;	/* "superseded" or "rolled_back" */
	char *previous;			/* out */
	int already;
};

static int
decide_stable(const struct release_list *cur, struct release_list *add, void *arg,
    struct err *e)
{
	struct stable_arg *a = arg;
	const struct release *st = ledger_stable(cur);
	struct release rec;

	(void)e;
	free(a->previous);
	a->previous = NULL;
	if (st && !strcmp(st->version, a->r->version) &&
	    (!st->digest || !a->r->digest || !strcmp(st->digest, a->r->digest))) {
		a->already = 1;
		return 0;
	}
	if (st) {
		a->previous = xstrdup(st->version);
		rec = *st;
		rec.status = (char *)a->superseded_status;
		rec.at = NULL;
		rec.reason = xasprintf("%s by %s", !strcmp(a->superseded_status, "superseded") ?
		    "superseded" : "rolled back to", a->r->version);
		rec.pipeline = a->r->pipeline;
		release_list_add(add, &rec);
		free(rec.reason);
	}
	add_record(add, a->r, "stable", NULL);
	return 0;
}

/* ---- the pipeline filter ------------------------------------------------- */

static void
set_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
}

/* The section's "release". */
static void
release_json(cJSON *sec, const struct rel *r, const char *status)
{
	cJSON *rj = cJSON_AddObjectToObject(sec, "release");

	set_str(rj, "app", r->app);
	set_str(rj, "version", r->version);
	set_str(rj, "image", r->image);
	set_str(rj, "digest", r->digest);
	set_str(rj, "slot", r->slot);
	set_str(rj, "status", status);
}

/* When the failure was seen: the canary's last measurement, else the
 * end of the failed stage, else now. */
static void
detected_at(const cJSON *doc, const char *stage, char *out, size_t outsz)
{
	const cJSON *ivs = json_path(doc, "canary.intervals"), *s;
	const char *at = NULL;

	if (!strcmp(stage, "canary") && cJSON_GetArraySize(ivs) > 0)
		at = json_str(cJSON_GetArrayItem(ivs, cJSON_GetArraySize(ivs) - 1), "at");
	if (!at) {
		cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(doc, "stages")) {
			const char *name = json_str(s, "name");
			time_t t0;
			long long d = 0;

			if (!name || strcmp(name, stage) || !json_str(s, "started_at") ||
			    parse_rfc3339(json_str(s, "started_at"), &t0) < 0)
				continue;
			json_get_i64(cJSON_GetObjectItemCaseSensitive(s, "duration_ms"), &d);
			format_rfc3339_ms((long long)t0 * 1000 + d, out, outsz);
			return;
		}
	}
	if (at)
		snprintf(out, outsz, "%s", at);
	else
		format_rfc3339_ms(now_ms(), out, outsz);
}

/* The first local I/O error in a row of steps that go on regardless (a
 * remote ledger that does not answer stays the section's word alone). */
static void
keep_io(struct err *first, struct err *e)
{
	if (!first->code && e->code == EX_IOERR_)
		*first = *e;
	err_clear(e);
}

static int
on_failure(struct rollback_cmd *c, const cJSON *doc, const char *stage, struct rel *r,
    cJSON *sec, struct err *e)
{
	const cJSON *canary = cJSON_GetObjectItemCaseSensitive(doc, "canary");
	const cJSON *traffic = cJSON_GetObjectItemCaseSensitive(canary, "traffic");
	const char *creason = json_str(canary, "reason");
	char det[40], started[40], restored_at[40] = "", sent_at[40] = "", *reason;
	cJSON *tl, *tj, *alerts, *state;
	struct ledger l;
	struct failed_arg fa;
	struct targets ts;
	struct alert_event ev;
	struct block b;
	struct err te = { 0, "" }, io = { 0, "" };
	struct alert_record rec = { NULL, NULL, { 0, "" }, 0 };
	int traffic_ok = 1, rc = EX_FAIL, weight = -1;
	long long rb_ms = -1;

	detected_at(doc, stage, det, sizeof(det));
	format_rfc3339_ms(now_ms(), started, sizeof(started));
	reason = !strcmp(stage, "canary") && creason ? xstrdup(creason) :
	    xasprintf("the %s stage failed%s%s", stage, json_str(json_path(doc, stage), "reason") ?
	    ": " : "", json_str(json_path(doc, stage), "reason") ? json_str(json_path(doc, stage),
	    "reason") : "");
	/* The release failed (the stage's status); what was done about it. */
	cJSON_AddStringToObject(sec, "status", "failed");
	cJSON_AddStringToObject(sec, "outcome", "rolled_back");
	cJSON_AddStringToObject(sec, "failed_stage", stage);
	cJSON_AddStringToObject(sec, "reason", reason);
	release_json(sec, r, NULL);
	{
		const cJSON *steps = json_path(canary, "steps"), *s;

		cJSON_ArrayForEach(s, steps) {
			const char *st = json_str(s, "status");
			long long wv;

			if (st && strcmp(st, "pending") &&
			    json_get_i64(cJSON_GetObjectItemCaseSensitive(s, "weight"), &wv) == 0)
				weight = (int)wv;
		}
	}

	/* 1. Traffic back on stable, whatever ci-canary managed. */
	tj = cJSON_AddObjectToObject(sec, "traffic");
	if (traffic && json_str(json_path(canary, "slots"), "stable")) {
		const cJSON *slots = json_path(canary, "slots");

		if (restore_traffic(c, traffic, json_str(slots, "stable"), json_str(slots, "canary"),
		    json_str(slots, "baseline"), tj, &te) < 0) {
			traffic_ok = 0;
			log_error("traffic may not be back on stable: %s", te.msg);
		} else {
			format_rfc3339_ms(now_ms(), restored_at, sizeof(restored_at));
		}
		if (json_get_i64(cJSON_GetObjectItemCaseSensitive(canary, "rollback_ms"), &rb_ms) == 0 &&
		    traffic_ok) {
			/* ci-canary moved it at its verdict; we only made sure. */
			time_t t;

			cJSON_AddBoolToObject(tj, "by_canary", 1);
			if (parse_rfc3339(det, &t) == 0) {
				long long ms = 0;
				const char *dot = strchr(det, '.');

				if (dot)
					ms = strtol(dot + 1, NULL, 10);
				format_rfc3339_ms((long long)t * 1000 + ms + rb_ms, restored_at,
				    sizeof(restored_at));
				snprintf(started, sizeof(started), "%s", det);
			}
		}
	} else {
		cJSON_AddBoolToObject(tj, "restored", 0);
		cJSON_AddStringToObject(tj, "note", "no canary traffic config in the document: "
		    "nothing to move");
	}

	/* 2. The ledger. */
	memset(&fa, 0, sizeof(fa));
	fa.r = r;
	fa.reason = reason;
	if (ledger_open(&l, c->state_dir, c->ledger, r->app, e) < 0 ||
	    ledger_update(&l, decide_failed, &fa, e) < 0) {
		log_error("%s", e->msg);
		cJSON_AddStringToObject(sec, "ledger_error", e->msg);
		keep_io(&io, e);
	} else {
		cJSON_AddStringToObject(sec, "ledger", l.name);
	}
	ledger_close(&l);
	if (fa.rolled_back_to) {
		cJSON *to = cJSON_AddObjectToObject(sec, "rolled_back_to");

		set_str(to, "version", fa.rolled_back_to);
		set_str(to, "image", fa.rolled_back_image);
		set_str(to, "slot", json_str(json_path(canary, "slots"), "stable"));
	}

	/* 3. The block, before the alerts: it must not wait on a webhook. */
	memset(&b, 0, sizeof(b));
	b.release = r->version;
	b.digest = r->digest ? r->digest : (char *)"unknown";
	b.reason = reason;
	if (block_write(c->state_dir, &b, e) < 0) {
		log_error("%s", e->msg);
		cJSON_AddStringToObject(sec, "block_error", e->msg);
		keep_io(&io, e);
	} else {
		char *p = xasprintf("%s/%s", c->state_dir, BLOCK_FILE);

		cJSON_AddStringToObject(sec, "blocked", p);
		free(p);
	}
	/* Runners that share the ledger share the block. */
	if (c->ledger) {
		if (block_write_shared(c->ledger, &b, e) < 0) {
			log_error("%s", e->msg);
			cJSON_AddStringToObject(sec, "block_shared_error", e->msg);
			err_clear(e);
		} else {
			char *where = url_redact(c->ledger);
			char *p = xasprintf("%s %s:%s", where, BLOCK_REF, BLOCK_FILE);

			cJSON_AddStringToObject(sec, "blocked_shared", p);
			free(p);
			free(where);
		}
	}

	/* 4. The alerts, each once per release. */
	state = alert_state_load(c, r);
	memset(&ev, 0, sizeof(ev));
	ev.kind = ALERT_ROLLBACK;
	ev.app = r->app;
	ev.version = r->version;
	ev.image = r->image;
	ev.digest = r->digest;
	ev.reason = reason;
	ev.rolled_back_to = fa.rolled_back_to;
	ev.weight = weight;
	ev.traffic_restored = traffic_ok;
	ev.pipeline_id = r->pipeline;
	ev.dedup_key = json_str(state, "dedup_key");
	ev.detected_at = det;
	ev.rollback_started_at = started;
	ev.traffic_restored_at = *restored_at ? restored_at : NULL;
	ev.rollback_ms = rb_ms;
	targets_of(c, &ts, 0);
	alerts = cJSON_AddArrayToObject(sec, "alerts");
	rec.c = c;
	rec.app = r->app;
	send_alerts(&ts, &ev, state, alerts, sent_at, sizeof(sent_at), &rec);
	if (!rec.saved && !rec.io.code)
		record_delivery(&rec, state);
	if (rec.io.code)
		keep_io(&io, &rec.io);
	cJSON_Delete(state);

	tl = cJSON_AddObjectToObject(sec, "timeline");
	cJSON_AddStringToObject(tl, "detected_at", det);
	cJSON_AddStringToObject(tl, "rollback_started_at", started);
	if (*restored_at)
		cJSON_AddStringToObject(tl, "traffic_restored_at", restored_at);
	if (*sent_at)
		cJSON_AddStringToObject(tl, "alerts_sent_at", sent_at);
	if (rb_ms >= 0)
		cJSON_AddNumberToObject(sec, "rollback_ms", (double)rb_ms);

	log_info("release %s rolled back%s%s: %s", r->version, fa.rolled_back_to ? " to " : "",
	    fa.rolled_back_to ? fa.rolled_back_to : "", reason);
	if (!traffic_ok) {
		cJSON_ReplaceItemInObjectCaseSensitive(sec, "status", cJSON_CreateString("error"));
		cJSON_ReplaceItemInObjectCaseSensitive(sec, "outcome",
		    cJSON_CreateString("traffic_not_restored"));
		*e = te;
		e->code = EX_SERVICE;
		rc = -1;
	} else if (io.code) {
		/* Rolled back, but what records it is incomplete: say so. */
		*e = io;
		rc = -1;
	}
	free(fa.rolled_back_to);
	free(fa.rolled_back_image);
	free(reason);
	return rc;
}

static int
on_success(struct rollback_cmd *c, struct rel *r, cJSON *sec, struct err *e)
{
	struct ledger l;
	struct stable_arg sa;
	int rc = EX_PASS;

	memset(&sa, 0, sizeof(sa));
	sa.r = r;
	sa.superseded_status = "superseded";
	if (ledger_open(&l, c->state_dir, c->ledger, r->app, e) < 0)
		return -1;
	if (ledger_update(&l, decide_stable, &sa, e) < 0) {
		ledger_close(&l);
		return -1;
	}
	cJSON_AddStringToObject(sec, "status", "passed");
	cJSON_AddStringToObject(sec, "outcome", sa.already ? "stable_already" : "stable");
	cJSON_AddStringToObject(sec, "ledger", l.name);
	ledger_close(&l);
	release_json(sec, r, "stable");
	if (sa.previous)
		cJSON_AddStringToObject(sec, "superseded", sa.previous);
	log_info("release %s is stable%s%s", r->version, sa.previous ? "; superseded " : "",
	    sa.previous ? sa.previous : "");
	if (c->tag_stable) {
		struct registry *reg;
		char digest[OCI_DIGEST_SIZE] = "";
		cJSON *tag = cJSON_AddObjectToObject(sec, "tag_stable");

		if (!r->image || !strchr(r->image, '@')) {
			free(sa.previous);
			return err_set(e, EX_USAGE_, "--tag-stable needs the image by digest (push."
			    "reference or canary.image)");
		}
		reg = registry_new(c->reg);
		if (registry_tag(reg, r->image, "stable", digest, e) < 0) {
			registry_free(reg);
			cJSON_AddStringToObject(tag, "error", e->msg);
			free(sa.previous);
			return -1;
		}
		registry_free(reg);
		cJSON_AddStringToObject(tag, "tag", "stable");
		cJSON_AddStringToObject(tag, "digest", digest);
		log_info("tagged %s as stable", r->image);
	}
	if (c->notify_success && !sa.already) {
		struct targets ts;
		struct alert_event ev;
		cJSON *state = cJSON_CreateObject(), *alerts;
		char sent[40] = "";

		cJSON_AddObjectToObject(state, "delivered");
		memset(&ev, 0, sizeof(ev));
		ev.kind = ALERT_SUCCESS;
		ev.app = r->app;
		ev.version = r->version;
		ev.image = r->image;
		ev.digest = r->digest;
		ev.weight = -1;
		ev.traffic_restored = 1;
		ev.pipeline_id = r->pipeline;
		ev.rollback_ms = -1;
		targets_of(c, &ts, 1);
		alerts = cJSON_AddArrayToObject(sec, "alerts");
		send_alerts(&ts, &ev, state, alerts, sent, sizeof(sent), NULL);
		cJSON_Delete(state);
	}
	free(sa.previous);
	return rc;
}

int
rollback_work(struct stage *s, void *arg, cJSON **section, struct err *e)
{
	struct rollback_cmd *c = arg;
	const cJSON *doc = s->p.doc;
	const char *stage, *cst = json_str(json_path(doc, "canary"), "status");
	struct rel r;
	cJSON *sec = cJSON_CreateObject();
	int before_push = 0, rc;

	stage = failed_after_push(doc, &before_push);
	if (!stage) {
		const char *failed = pipeline_failed_stage(&s->p);

		if (before_push || failed || !cst || strcmp(cst, "passed")) {
			const char *note = before_push || failed ?
			    "nothing to roll back: the pipeline failed before anything was pushed" :
			    cst ? "nothing to do: the canary did not finish (it is paused)" :
			    "nothing to do: no canary section and no failed stage";

			cJSON_AddStringToObject(sec, "status", before_push || failed ? "skipped" : "passed");
			cJSON_AddStringToObject(sec, "note", note);
			log_info("%s", note);
			*section = sec;
			return before_push || failed ? EX_FAIL : EX_PASS;
		}
	}
	rel_from_doc(doc, c, &r);
	if (!r.app || !r.version) {
		cJSON_Delete(sec);
		rel_free(&r);
		return err_set(e, EX_USAGE_, "cannot tell the release: the document has no %s (give "
		    "--app, or run after ci-push and ci-canary)", !r.app ? "app" : "version");
	}
	rc = stage ? on_failure(c, doc, stage, &r, sec, e) : on_success(c, &r, sec, e);
	if (rc < 0 && !json_str(sec, "status")) {
		cJSON_AddStringToObject(sec, "status", "error");
		cJSON_AddStringToObject(sec, "reason", e->msg);
	}
	if (rc == EX_PASS)
		json_set(s->p.doc, "status", cJSON_CreateString("passed"));
	rel_free(&r);
	*section = sec;
	return rc;
}

/* ---- by hand ------------------------------------------------------------- */

int
rollback_status(const struct rollback_cmd *c, FILE *out, struct err *e)
{
	struct ledger l;
	struct release_list list;
	const struct release *st;
	size_t i;

	if (!c->app)
		return err_set(e, EX_USAGE_, "--status needs --app NAME");
	if (ledger_open(&l, c->state_dir, c->ledger, c->app, e) < 0)
		return -1;
	if (ledger_read(&l, &list, e) < 0) {
		ledger_close(&l);
		return -1;
	}
	st = ledger_stable(&list);
	if (c->json || !c->tty) {
		for (i = 0; i < list.n; i++) {
			char *s = release_line(&list.v[i]);

			fprintf(out, "%s\n", s);
			free(s);
		}
	} else {
		fprintf(out, "%-24s %-12s %-8s %-24s %s\n", "VERSION", "STATUS", "SLOT", "AT", "REASON");
		for (i = list.n; i-- > 0; ) {
			const struct release *x = &list.v[i];

			fprintf(out, "%-24s %-12s %-8s %-24s %s\n", x->version, x->status,
			    x->slot ? x->slot : "-", x->at ? x->at : "-", x->reason ? x->reason : "");
		}
		fprintf(out, "stable: %s\n", st ? st->version : "none");
	}
	release_list_free(&list);
	ledger_close(&l);
	return 0;
}

int
rollback_unblock(const struct rollback_cmd *c, struct err *e)
{
	struct block b;
	char *path;
	int rc;

	if (!c->reason || !*c->reason)
		return err_set(e, EX_USAGE_, "--unblock needs --reason TEXT: say what was fixed");
	memset(&b, 0, sizeof(b));
	rc = block_read(c->state_dir, &b, e);
	if (rc == 0 && c->ledger) {
		/* Only the runners' shared block: that is the one to lift. */
		block_free(&b);
		if ((rc = block_read_shared(c->ledger, &b, e)) < 0 && e->code == EX_SERVICE) {
			block_free(&b);
			return -1;
		}
	}
	if (rc == 0) {
		block_free(&b);
		return err_set(e, EX_FAIL, "no block to lift: %s/%s does not exist%s", c->state_dir,
		    BLOCK_FILE, c->ledger ? ", nor one in the shared ledger" : "");
	}
	path = xasprintf("%s/%s", c->state_dir, BLOCK_FILE);
	if (unlink(path) < 0 && errno != ENOENT) {
		err_set(e, EX_IOERR_, "cannot remove '%s': %s", path, strerror(errno));
		free(path);
		block_free(&b);
		return -1;
	}
	if (c->ledger && block_remove_shared(c->ledger, e) < 0) {
		free(path);
		block_free(&b);
		return -1;
	}
	log_info("block lifted (release %s, blocked since %s): %s", b.release ? b.release : "?",
	    b.since ? b.since : "?", c->reason);
	free(path);
	err_clear(e);
	/* The incident of the blocked release is resolved where it was opened. */
	if (c->pagerduty_key && c->app && b.release) {
		struct rel r;
		cJSON *state;
		struct alert_target t;
		struct alert_event ev;
		struct alert_result res;

		memset(&r, 0, sizeof(r));
		r.app = xstrdup(c->app);
		r.version = xstrdup(b.release);
		r.digest = b.digest && strcmp(b.digest, "unknown") ? xstrdup(b.digest) : NULL;
		state = alert_state_load(c, &r);
		memset(&t, 0, sizeof(t));
		t.kind = ALERT_PAGERDUTY;
		t.url = c->pagerduty_url;
		t.routing_key = c->pagerduty_key;
		t.max_attempts = c->alert_attempts;
		memset(&ev, 0, sizeof(ev));
		ev.kind = ALERT_RESOLVE;
		ev.app = r.app;
		ev.version = r.version;
		ev.digest = r.digest;
		ev.weight = -1;
		ev.traffic_restored = 1;
		ev.rollback_ms = -1;
		ev.dedup_key = json_str(state, "dedup_key");
		ev.unblock_reason = c->reason;
		memset(&res, 0, sizeof(res));
		if (alert_send(&t, &ev, &res) == 0)
			log_info("pagerduty incident resolved");
		else
			log_warn("pagerduty incident not resolved: %s", res.error);
		{
			cJSON *u = cJSON_CreateObject();
			char at[40];

			format_rfc3339_ms(now_ms(), at, sizeof(at));
			cJSON_AddStringToObject(u, "at", at);
			cJSON_AddStringToObject(u, "reason", c->reason);
			json_set(state, "unblocked", u);
			if (alert_state_save(c, r.app, state, e) < 0) {
				log_warn("%s", e->msg);
				err_clear(e);
			}
		}
		cJSON_Delete(state);
		rel_free(&r);
	}
	block_free(&b);
	return 0;
}

/* The traffic config for --to: -f SPEC, else what ci-canary keeps. */
static cJSON *
traffic_for(const struct rollback_cmd *c, char **stable_slot, struct err *e)
{
	struct rollout_state st;
	cJSON *t = NULL;

	*stable_slot = NULL;
	if (c->spec) {
		cJSON *root = json_load(c->spec, STATE_MAX_BYTES, 1, NULL, e);

		if (!root)
			return NULL;
		t = cJSON_DetachItemFromObjectCaseSensitive(root, "traffic");
		cJSON_Delete(root);
		if (!t)
			err_set(e, EX_USAGE_, "%s: no traffic object", c->spec);
	}
	memset(&st, 0, sizeof(st));
	if (rollout_state_open(&st, c->state_dir, c->app, 0, e) == 0 &&
	    rollout_state_load(&st, e) > 0) {
		if (!t && st.section)
			t = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(st.section, "traffic"), 1);
		if (st.stable_slot)
			*stable_slot = xstrdup(st.stable_slot);
	}
	rollout_state_free(&st);
	err_clear(e);
	return t;
}

int
rollback_to(const struct rollback_cmd *c, FILE *out, struct err *e)
{
	struct ledger l;
	struct release_list list;
	const struct release *target, *cur;
	struct rel r;
	char *stable_slot = NULL, *slot_holder = NULL;
	cJSON *traffic = NULL;
	int rc = -1;
	size_t i;

	if (!c->app)
		return err_set(e, EX_USAGE_, "--to needs --app NAME");
	if (ledger_open(&l, c->state_dir, c->ledger, c->app, e) < 0)
		return -1;
	if (ledger_read(&l, &list, e) < 0)
		goto out;
	cur = ledger_stable(&list);
	target = !strcmp(c->to, "previous") ? ledger_previous(&list) : ledger_find(&list, c->to);
	if (!target) {
		err_set(e, EX_USAGE_, "%s: no release '%s' for '%s'%s", l.name, c->to, c->app,
		    !strcmp(c->to, "previous") ? " (no stable release before the current one)" : "");
		goto out;
	}
	if (cur && !strcmp(cur->version, target->version)) {
		err_set(e, EX_USAGE_, "'%s' is the stable release already", target->version);
		goto out;
	}
	/* Who runs in the target's slot now: the last release recorded there. */
	for (i = list.n; target->slot && i-- > 0; )
		if (list.v[i].slot && !strcmp(list.v[i].slot, target->slot)) {
			slot_holder = list.v[i].version;
			break;
		}
	memset(&r, 0, sizeof(r));
	r.app = xstrdup(c->app);
	r.version = xstrdup(target->version);
	r.image = target->image ? xstrdup(target->image) : NULL;
	r.digest = target->digest ? xstrdup(target->digest) : NULL;
	r.slot = target->slot ? xstrdup(target->slot) : NULL;
	if (c->deploy_cmd) {
		static const char *const names[] = { "image", "version", "slot" };
		const char *values[3] = { r.image ? r.image : "", r.version, r.slot ? r.slot : "" };

		log_info("deploying %s: %s", r.version, c->deploy_cmd);
		if (rollout_sh("--deploy-cmd", c->deploy_cmd, names, values, 3, NULL, e) < 0) {
			rel_free(&r);
			goto out;
		}
	} else if (target->slot && slot_holder && !strcmp(slot_holder, target->version) &&
	    (traffic = traffic_for(c, &stable_slot, e)) && cur && cur->slot &&
	    strcmp(cur->slot, target->slot)) {
		struct rollout_spec spec;
		struct traffic t;

		rollout_spec_init(&spec);
		if (rollout_spec_load_traffic(&spec, traffic, "traffic", e) < 0) {
			rollout_spec_free(&spec);
			rel_free(&r);
			goto out;
		}
		traffic_init(&t, &spec.traffic, r.image);
		t.stable = cur->slot;
		t.canary = target->slot;
		rc = traffic_promote(&t, e);
		rollout_spec_free(&spec);
		if (rc < 0) {
			rel_free(&r);
			goto out;
		}
		rc = -1;
		log_info("traffic: all of it to '%s', where %s still runs", target->slot, r.version);
		{
			/* ci-canary's next rollout must know the new stable slot. */
			struct rollout_state st;
			struct err se = { 0, "" };

			memset(&st, 0, sizeof(st));
			if (rollout_state_open(&st, c->state_dir, c->app, 1, &se) == 0 &&
			    rollout_state_load(&st, &se) >= 0) {
				free(st.stable_slot);
				free(st.canary_slot);
				st.stable_slot = xstrdup(target->slot);
				st.canary_slot = xstrdup(cur->slot);
				if (rollout_state_save(&st, &se) < 0)
					log_warn("%s", se.msg);
			} else {
				log_warn("%s", se.msg);
			}
			rollout_state_free(&st);
		}
	} else {
		err_set(e, EX_USAGE_, "cannot put %s back by traffic alone (%s): give --deploy-cmd "
		    "with {{image}}", target->version, !target->slot ? "the ledger has no slot for it" :
		    slot_holder && strcmp(slot_holder, target->version) ?
		    "its slot runs another release now" : "no traffic config: -f rollout.json, or "
		    "ci-canary's state");
		rel_free(&r);
		goto out;
	}
	{
		struct stable_arg sa;

		memset(&sa, 0, sizeof(sa));
		sa.r = &r;
		sa.superseded_status = "rolled_back";
		if (ledger_update(&l, decide_stable, &sa, e) < 0) {
			rel_free(&r);
			free(sa.previous);
			goto out;
		}
		fprintf(out, "%s: %s is stable again%s%s\n", c->app, r.version,
		    sa.previous ? "; rolled back " : "", sa.previous ? sa.previous : "");
		free(sa.previous);
	}
	rel_free(&r);
	rc = 0;
out:
	cJSON_Delete(traffic);
	free(stable_slot);
	release_list_free(&list);
	ledger_close(&l);
	return rc;
}
