/*
 * rollout: the steps, the analysis, the verdict (rollout.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "core/stage.h"
#include "core/timeutil.h"
#include "rollout/dashboard.h"
#include "rollout/lease.h"
#include "rollout/metrics.h"
#include "rollout/report.h"
#include "rollout/rollout.h"
#include "rollout/state.h"
#include "rollout/traffic.h"

#define MAX_INTERVALS 10000
#define HEALTHY_WAIT_MS 10000

struct run {
	struct canary_cmd *c;
	const struct rollout_spec *spec;
	struct rollout_state st;
	struct traffic t;
	struct metrics_ctx m;
	cJSON *sec;			/* st.section, borrowed */
	long long rollback_ms;
	cJSON *pending;			/* a measure event to journal after the abort */
	unsigned char *judged;		/* per metric: a conclusive measurement this step */
	struct dash_view dv;		/* the panel on a terminal */
	int dash_lines;			/* lines of the last frame */
	unsigned long dash_logs;	/* log_lines() after it */
	long long started_ms;		/* this run's start (monotonic) */
};

/* The panel: what the interval measured, then a frame on stderr.  A log
 * message written since the last frame keeps it (the new one goes
 * below), so the panel never draws over anyone's words. */
static void
dash_interval(struct run *r, int stepi, const struct measurement *err,
    const struct rollout_metric *errm, const struct measurement *lat,
    const struct rollout_metric *latm, int failed_now, const char *last)
{
	struct dash_view *v = &r->dv;
	struct buf out = BUF_INIT;
	long long now = now_ms();
	int n, w = r->spec->steps[stepi].weight;

	v->app = r->spec->app;
	v->image = r->st.image;
	v->step = stepi + 1;
	v->nsteps = (int)r->spec->nsteps;
	v->step_left_ms = r->st.step_pause_end_ms > now ? r->st.step_pause_end_ms - now : 0;
	v->elapsed_ms = mono_ms() - r->started_ms;
	v->stable.slot = traffic_compare(&r->t);
	v->canary.slot = r->t.canary;
	v->canary.weight = w;
	v->stable.weight = r->t.baseline ? (w < 100 - w ? w : 100 - w) : 100 - w;
	v->stable.requests = r->m.have_last ? r->m.delta[0].req : -1;
	v->canary.requests = r->m.have_last ? r->m.delta[1].req : -1;
	v->canary.has_err = err && err->has_canary;
	v->canary.err_pct = err ? err->canary : 0;
	v->stable.has_err = err && err->has_stable;
	v->stable.err_pct = err ? err->stable : 0;
	v->has_max_err = errm && errm->has_max;
	v->max_err = errm ? errm->max : 0;
	v->canary.has_p99 = lat && lat->has_canary;
	v->canary.p99_ms = lat ? lat->canary : 0;
	v->stable.has_p99 = lat && lat->has_stable;
	v->stable.p99_ms = lat ? lat->stable : 0;
	v->has_max_p99 = latm && latm->has_max;
	v->max_p99 = latm ? latm->max : 0;
	dash_series_push(&v->canary.err, v->canary.has_err, v->canary.err_pct);
	dash_series_push(&v->stable.err, v->stable.has_err, v->stable.err_pct);
	dash_series_push(&v->canary.p99, v->canary.has_p99, v->canary.p99_ms);
	dash_series_push(&v->stable.p99, v->stable.has_p99, v->stable.p99_ms);
	v->failures = r->st.failures + failed_now;
	v->failure_limit = r->spec->failure_limit;
	v->status = "running";
	v->last = last;
	if (log_lines() != r->dash_logs)
		r->dash_lines = 0;
	n = dash_render(&out, v, r->c->cols, r->c->color, r->dash_lines);
	if (n >= 0) {
		fwrite(buf_str(&out), 1, out.len, stderr);
		fflush(stderr);
		r->dash_lines = n;
	}
	r->dash_logs = log_lines();
	buf_free(&out);
}

static void
set_str(cJSON *o, const char *k, const char *v)
{
	json_set(o, k, v ? cJSON_CreateString(v) : cJSON_CreateNull());
}

static void
set_num(cJSON *o, const char *k, double v)
{
	json_set(o, k, cJSON_CreateNumber(v));
}

static void
event(struct run *r, const char *name, cJSON *fields)
{
	struct err e = { 0, "" };

	/* The journal is a record, not a decision: a full disk is said, and
	 * the snapshot's own save is what stops the rollout. */
	if (rollout_state_event(&r->st, name, fields, &e) < 0)
		log_warn("%s", e.msg);
}

static int
save(struct run *r, struct err *e)
{
	return rollout_state_save(&r->st, e);
}

static void
set_status(struct run *r, const char *status, const char *reason)
{
	free(r->st.status);
	r->st.status = xstrdup(status);
	free(r->st.reason);
	r->st.reason = reason ? xstrdup(reason) : NULL;
	set_str(r->sec, "status", status);
	if (reason)
		set_str(r->sec, "reason", reason);
	else
		cJSON_DeleteItemFromObjectCaseSensitive(r->sec, "reason");
}

static cJSON *
step_entry(struct run *r, int i)
{
	cJSON *steps = cJSON_GetObjectItemCaseSensitive(r->sec, "steps");

	return cJSON_GetArrayItem(steps, i);
}

/* Each metric's bounds, so that a reader of the section (a chart, a
 * report) can draw what the values were judged against. */
static void
add_thresholds(cJSON *ms, const struct rollout_spec *s)
{
	size_t i;

	for (i = 0; i < s->nmetrics; i++) {
		const struct rollout_metric *mt = &s->metrics[i];
		cJSON *m = cJSON_CreateObject();

		cJSON_AddStringToObject(m, "source", metric_source_name(mt->source));
		if (mt->source == METRIC_HAPROXY || mt->source == METRIC_RESOURCES)
			cJSON_AddStringToObject(m, "unit", "%");
		else if (mt->source == METRIC_HAPROXY_LOG)
			cJSON_AddStringToObject(m, "unit", "ms");
		if (mt->has_max)
			cJSON_AddNumberToObject(m, "max", mt->max);
		if (mt->has_max_increase)
			cJSON_AddNumberToObject(m, "max_increase", mt->max_increase);
		if (mt->critical)
			cJSON_AddBoolToObject(m, "critical", 1);
		cJSON_AddItemToObject(ms, mt->name, m);
	}
}

static void
section_init(struct run *r)
{
	const struct rollout_spec *s = r->spec;
	cJSON *sec = cJSON_CreateObject(), *slots, *steps, *th;
	size_t i;

	cJSON_AddStringToObject(sec, "status", "running");
	cJSON_AddStringToObject(sec, "app", s->app);
	cJSON_AddStringToObject(sec, "image", r->st.image ? r->st.image : "");
	slots = cJSON_AddObjectToObject(sec, "slots");
	cJSON_AddStringToObject(slots, "stable", r->st.stable_slot ? r->st.stable_slot : "");
	cJSON_AddStringToObject(slots, "canary", r->st.canary_slot ? r->st.canary_slot : "");
	if (s->traffic.baseline)
		cJSON_AddStringToObject(slots, "baseline", s->traffic.baseline);
	steps = cJSON_AddArrayToObject(sec, "steps");
	for (i = 0; i < s->nsteps; i++) {
		cJSON *st = cJSON_CreateObject();
		char d[32];

		cJSON_AddNumberToObject(st, "weight", s->steps[i].weight);
		format_duration(s->steps[i].pause_ms, d, sizeof(d));
		cJSON_AddStringToObject(st, "pause", d);
		cJSON_AddStringToObject(st, "status", "pending");
		cJSON_AddItemToArray(steps, st);
	}
	th = cJSON_AddObjectToObject(sec, "analysis");
	{
		char d[32];

		format_duration(s->interval_ms, d, sizeof(d));
		cJSON_AddStringToObject(th, "interval", d);
	}
	cJSON_AddNumberToObject(th, "failure_limit", s->failure_limit);
	cJSON_AddNumberToObject(th, "min_requests", (double)s->min_requests);
	add_thresholds(cJSON_AddObjectToObject(th, "metrics"), s);
	cJSON_AddArrayToObject(sec, "intervals");
	cJSON_AddNumberToObject(sec, "failures", 0);
	if (s->traffic.json)
		cJSON_AddItemToObject(sec, "traffic", cJSON_Duplicate(s->traffic.json, 1));
	cJSON_Delete(r->st.section);
	r->st.section = sec;
	r->sec = sec;
}

/* The image of this release: --image, the pushed reference, the build's tag. */
static const char *
doc_image(const struct canary_cmd *c, const cJSON *doc)
{
	const cJSON *v;

	if (c->image)
		return c->image;
	if ((v = json_path(doc, "push.reference")) && cJSON_IsString(v))
		return v->valuestring;
	if ((v = json_path(doc, "build.image.tags[0]")) && cJSON_IsString(v))
		return v->valuestring;
	return NULL;
}

/* "registry.example/team/shop:v1" -> "shop": the app, when nothing names it. */
static char *
image_app(const char *image)
{
	const char *p = strrchr(image, '/'), *q;
	size_t n;

	p = p ? p + 1 : image;
	q = p + strcspn(p, ":@");
	n = (size_t)(q - p);
	return n ? xstrndup(p, n) : NULL;
}

/* Which slot carries the stable release, when no state says it: the
 * one HAProxy gives traffic to. */
static int
discover_slots(struct run *r, struct err *e)
{
	const struct rollout_traffic *tc = &r->spec->traffic;
	int w0, w1;

	if (r->st.stable_slot && r->st.canary_slot)
		return 0;
	if (tc->driver != TRAFFIC_HAPROXY) {
		r->st.stable_slot = xstrdup(tc->slots[0]);
		r->st.canary_slot = xstrdup(tc->slots[1]);
		return 0;
	}
	if (traffic_slot_weights(&r->t, &w0, &w1, e) < 0)
		return -1;
	if ((w0 > 0) == (w1 > 0))
		return err_set(e, EX_USAGE_, "cannot tell which slot is stable: HAProxy gives %s "
		    "weight %d and %s weight %d; the stable one must carry all traffic (set the other "
		    "to 0) before the first rollout", tc->slots[0], w0, tc->slots[1], w1);
	r->st.stable_slot = xstrdup(w0 > 0 ? tc->slots[0] : tc->slots[1]);
	r->st.canary_slot = xstrdup(w0 > 0 ? tc->slots[1] : tc->slots[0]);
	return 0;
}

static void
bind_slots(struct run *r)
{
	r->t.stable = r->st.stable_slot;
	r->t.canary = r->st.canary_slot;
}

/* Traffic back to stable: first thing on a failing verdict. */
static int
do_abort(struct run *r, const char *reason, struct err *e)
{
	long long t0 = mono_ms();
	struct err ae = { 0, "" };
	cJSON *w, *ev;
	int rc;

	rc = traffic_abort(&r->t, &ae);
	r->rollback_ms = mono_ms() - t0;
	/* Only now the journal of the measurement that decided it. */
	if (r->pending) {
		event(r, "measure", r->pending);
		r->pending = NULL;
	}
	set_status(r, "failed", reason);
	set_str(r->sec, "verdict", "rollback");
	set_num(r->sec, "rollback_ms", (double)r->rollback_ms);
	w = cJSON_CreateObject();
	cJSON_AddNumberToObject(w, "stable", rc == 0 ? 100 : -1);
	cJSON_AddNumberToObject(w, "canary", rc == 0 ? 0 : -1);
	json_set(r->sec, "weights", w);
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "reason", reason);
	cJSON_AddNumberToObject(ev, "rollback_ms", (double)r->rollback_ms);
	if (rc < 0)
		cJSON_AddStringToObject(ev, "error", ae.msg);
	event(r, "abort", ev);
	if (rc < 0) {
		/* The verdict stands; that traffic could not be moved is worse
		 * news and must be what the user reads first. */
		char msg[sizeof(ae.msg) + 64];

		snprintf(msg, sizeof(msg), "rollback failed: %s", ae.msg);
		set_str(r->sec, "rollback_error", ae.msg);
		log_error("%s (verdict: %s)", msg, reason);
	} else {
		log_info("rolled back in %lld ms: %s", r->rollback_ms, reason);
	}
	if (save(r, e) < 0)
		return -1;
	if (rc < 0) {
		*e = ae;
		return -1;
	}
	return EX_FAIL;
}

static int
apply_weight(struct run *r, int weight, struct err *e)
{
	cJSON *ev;
	cJSON *w;

	if (traffic_set(&r->t, weight, e) < 0)
		return -1;
	ev = cJSON_CreateObject();
	cJSON_AddNumberToObject(ev, "canary", weight);
	cJSON_AddNumberToObject(ev, "stable", 100 - weight);
	event(r, "weight", ev);
	w = cJSON_CreateObject();
	cJSON_AddNumberToObject(w, "stable", 100 - weight);
	cJSON_AddNumberToObject(w, "canary", weight);
	json_set(r->sec, "weights", w);
	return 0;
}

static const char *
verdict_name(int v)
{
	return v == V_PASS ? "pass" : v == V_FAIL ? "fail" : "inconclusive";
}

/* One interval's measurements into the section and the journal.  Sets
 * *abort_reason (static text in buf) when the rollout must stop. */
static int
analyse(struct run *r, int stepi, long long *step_requests, char *why, size_t whysz)
{
	const struct rollout_spec *s = r->spec;
	cJSON *iv = cJSON_CreateObject(), *ms, *ivs;
	struct err e = { 0, "" };
	char at[40];
	size_t i;
	int critical = 0, failed = 0, errors = 0, any_ok = 0, spec_error = 0;
	struct buf line = BUF_INIT;
	struct measurement err_o, lat_o;
	const struct rollout_metric *errm = NULL, *latm = NULL;

	*why = '\0';
	format_rfc3339_ms(now_ms(), at, sizeof(at));
	cJSON_AddNumberToObject(iv, "step", stepi + 1);
	cJSON_AddStringToObject(iv, "at", at);
	cJSON_AddNumberToObject(iv, "weight", s->steps[stepi].weight);
	ms = cJSON_AddObjectToObject(iv, "metrics");
	if (metrics_sample(&r->m, &e) < 0) {
		errors = 1;
		cJSON_AddStringToObject(iv, "error", e.msg);
		snprintf(why, whysz, "%s", e.msg);
	} else {
		*step_requests += r->m.delta[1].req;
		for (i = 0; i < s->nmetrics; i++) {
			const struct rollout_metric *mt = &s->metrics[i];
			struct measurement o;
			cJSON *mj = cJSON_CreateObject();

			metrics_measure(&r->m, mt, &o);
			if (mt->source == METRIC_HAPROXY && !errm) {
				errm = mt;
				err_o = o;
			} else if (mt->source == METRIC_HAPROXY_LOG && !latm) {
				latm = mt;
				lat_o = o;
			}
			cJSON_AddStringToObject(mj, "source", metric_source_name(mt->source));
			if (o.has_canary)
				cJSON_AddNumberToObject(mj, "canary", o.canary);
			if (o.has_stable)
				cJSON_AddNumberToObject(mj, "stable", o.stable);
			if (mt->source == METRIC_HAPROXY || mt->source == METRIC_HAPROXY_LOG) {
				cJSON_AddNumberToObject(mj, "canary_requests", (double)o.canary_n);
				cJSON_AddNumberToObject(mj, "stable_requests", (double)o.stable_n);
			}
			if (o.p >= 0)
				cJSON_AddNumberToObject(mj, "p", o.p);
			if (r->t.baseline && o.has_stable)
				cJSON_AddStringToObject(mj, "versus", o.versus);
			cJSON_AddStringToObject(mj, "verdict", verdict_name(o.verdict));
			if (o.why[0])
				cJSON_AddStringToObject(mj, "why", o.why);
			cJSON_AddItemToObject(ms, mt->name, mj);
			if (o.verdict != V_INCONCLUSIVE)
				r->judged[i] = 1;
			if (o.has_canary)
				buf_addf(&line, "; %s %.4g%s", mt->name, o.canary,
				    o.verdict == V_FAIL ? " FAIL" : "");
			else
				buf_addf(&line, "; %s %s", mt->name, o.error ? "unreadable" : "no data");
			if (o.error)
				errors++;
			else
				any_ok = 1;
			if (o.verdict == V_FAIL) {
				failed = 1;
				if (o.critical && !critical) {
					critical = 1;
					snprintf(why, whysz, "%s", o.why);
				} else if (!critical && !*why) {
					snprintf(why, whysz, "%s", o.why);
				}
			} else if (o.critical && o.error && !critical) {
				/* a spec the metric source refuses */
				critical = 1;
				spec_error = 1;
				snprintf(why, whysz, "%s", o.why);
			} else if (o.error && !*why) {
				snprintf(why, whysz, "%s", o.why);
			}
		}
	}
	if (r->m.reset_seen) {
		cJSON_AddBoolToObject(iv, "counter_reset", 1);
		r->m.reset_seen = 0;
	}
	ivs = cJSON_GetObjectItemCaseSensitive(r->sec, "intervals");
	if (cJSON_GetArraySize(ivs) >= MAX_INTERVALS)
		cJSON_DeleteItemFromArray(ivs, 0);
	cJSON_AddItemToArray(ivs, cJSON_Duplicate(iv, 1));
	/* An abort moves traffic before the journal is written (fsync). */
	cJSON_Delete(r->pending);
	r->pending = iv;

	if (r->c->dashboard) {
		char *last = xasprintf("canary %lld requests%s", r->m.delta[1].req, buf_str(&line));

		dash_interval(r, stepi, errm ? &err_o : NULL, errm, latm ? &lat_o : NULL, latm,
		    failed, last);
		free(last);
	} else {
		log_info("step %d of %zu (%d%%): canary %lld requests%s", stepi + 1, s->nsteps,
		    s->steps[stepi].weight, r->m.delta[1].req, buf_str(&line));
	}
	buf_free(&line);
	if (failed)
		r->st.failures++;
	if (errors && !any_ok)
		r->st.consecutive_errors++;
	else
		r->st.consecutive_errors = 0;
	set_num(r->sec, "failures", r->st.failures);
	if (spec_error)
		return 3;
	if (critical)
		return 2;
	if (failed && r->st.failures >= s->failure_limit) {
		size_t L = strlen(why);

		snprintf(why + L, whysz - L, ", %d of %d failures", r->st.failures, s->failure_limit);
		return 2;
	}
	if (r->st.consecutive_errors >= s->consecutive_error_limit) {
		char *tmp = xasprintf("the metrics could not be read %d times in a row: %s",
		    r->st.consecutive_errors, why);

		snprintf(why, whysz, "%s", tmp);
		free(tmp);
		return 2;
	}
	event(r, "measure", r->pending);
	r->pending = NULL;
	return 0;
}

/* Ask on the terminal; 1 yes, 0 no or no terminal. */
static int
ask(const char *question)
{
	char ans[16];
	int fd, n;

	if (!isatty(2) || (fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) < 0)
		return 0;
	dprintf(fd, "%s: %s [y/N] ", log_prog(), question);
	n = (int)read(fd, ans, sizeof(ans) - 1);
	close(fd);
	return n > 0 && (ans[0] == 'y' || ans[0] == 'Y');
}

static int
pause_for(struct run *r, const char *reason, struct err *e)
{
	set_status(r, "paused", reason);
	{
		cJSON *ev = cJSON_CreateObject();

		cJSON_AddStringToObject(ev, "reason", reason);
		event(r, "pause", ev);
	}
	if (save(r, e) < 0)
		return -1;
	log_info("paused: %s; 'ci-canary --promote' continues, 'ci-canary --abort' rolls back",
	    reason);
	return EX_PAUSED;
}

static int
promote(struct run *r, struct err *e)
{
	char *old;
	cJSON *slots, *w;

	if (traffic_promote(&r->t, e) < 0)
		return -1;
	event(r, "promote", NULL);
	/* The release is stable now: the slots swap roles. */
	old = r->st.stable_slot;
	r->st.stable_slot = r->st.canary_slot;
	r->st.canary_slot = old;
	slots = cJSON_GetObjectItemCaseSensitive(r->sec, "slots");
	set_str(slots, "stable", r->st.stable_slot);
	set_str(slots, "canary", r->st.canary_slot);
	w = cJSON_CreateObject();
	cJSON_AddNumberToObject(w, "stable", 100);
	cJSON_AddNumberToObject(w, "canary", 0);
	json_set(r->sec, "weights", w);
	set_status(r, "passed", NULL);
	set_str(r->sec, "verdict", "promoted");
	if (save(r, e) < 0)
		return -1;
	log_info("promoted: %s serves all traffic from slot '%s'", r->st.image, r->st.stable_slot);
	return EX_PASS;
}

static int
wait_healthy(struct run *r, char *why, size_t whysz, struct err *e)
{
	long long end = mono_ms() + HEALTHY_WAIT_MS;
	char status[64];
	int up = 0;

	for (;;) {
		if (traffic_health(&r->t, r->t.canary, &up, status, sizeof(status), e) < 0)
			return -1;
		if (up)
			return 0;
		if (mono_ms() >= end || stage_signal)
			break;
		sleep_ms(100, &stage_signal);
	}
	snprintf(why, whysz, "the canary '%s' is %s in the load balancer's health check",
	    r->t.canary, status);
	return 1;
}

/* 0 when every metric was judged (pass or fail) at least once in the step;
 * else 1 with why naming the first that was not: no data is no verdict. */
static int
unjudged(struct run *r, char *why, size_t whysz, int stepi)
{
	size_t i;

	for (i = 0; i < r->spec->nmetrics; i++)
		if (!r->judged[i]) {
			snprintf(why, whysz, "metric '%s' gave no verdict during step %d (no data)",
			    r->spec->metrics[i].name, stepi + 1);
			return 1;
		}
	return 0;
}

static int
run_steps(struct run *r, struct err *e)
{
	const struct rollout_spec *s = r->spec;
	char why[2048];
	int rc;

	while ((size_t)r->st.step < s->nsteps) {
		int i = r->st.step;
		const struct rollout_step *step = &s->steps[i];
		cJSON *se = step_entry(r, i);
		long long requests = 0, now;
		int cur;

		if (r->st.step_started_ms == 0) {
			char at[40];

			if ((s->approval == APPROVAL_BEFORE && i == 0) ||
			    (s->approval == APPROVAL_AFTER_STEP && i == s->approval_step)) {
				if (!r->st.approved && !(r->c->ask &&
				    ask("approve the next step of the rollout?"))) {
					snprintf(why, sizeof(why), "waiting for approval before step %d "
					    "(%d%%)", i + 1, step->weight);
					return pause_for(r, why, e);
				}
			}
			r->st.approved = 0;
			if (step->weight == 100) {
				if (se)
					set_str(se, "status", "passed");
				return promote(r, e);
			}
			if (apply_weight(r, step->weight, e) < 0)
				return -1;
			now = now_ms();
			r->st.step_started_ms = now;
			r->st.step_pause_end_ms = now + step->pause_ms;
			r->st.step_deadline_ms = now + step->pause_ms;
			format_rfc3339_ms(now, at, sizeof(at));
			if (se) {
				set_str(se, "status", "running");
				set_str(se, "started_at", at);
				set_num(se, "requests", 0);
			}
			set_status(r, "running", NULL);
			if (save(r, e) < 0)
				return -1;
			log_info("step %d of %zu: %d%% of traffic to '%s' for %s", i + 1, s->nsteps,
			    step->weight, r->t.canary, cJSON_GetStringValue(
			    cJSON_GetObjectItemCaseSensitive(se, "pause")));
			if (i == 0 && s->traffic.driver == TRAFFIC_HAPROXY) {
				rc = wait_healthy(r, why, sizeof(why), e);
				if (rc < 0)
					return -1;
				if (rc > 0)
					return do_abort(r, why, e);
			}
		} else {
			/* Resumed: the load balancer must still say what we set. */
			rc = traffic_get(&r->t, &cur, e);
			if (rc < 0)
				return -1;
			if (rc > 0 && cur != step->weight) {
				cJSON *ev = cJSON_CreateObject();

				cJSON_AddNumberToObject(ev, "found", cur);
				cJSON_AddNumberToObject(ev, "weight", step->weight);
				event(r, "reapply", ev);
				log_info("resuming step %d: the canary had weight %d, setting %d again",
				    i + 1, cur, step->weight);
				if (apply_weight(r, step->weight, e) < 0)
					return -1;
			} else {
				log_info("resuming step %d of %zu (%d%%)", i + 1, s->nsteps,
				    step->weight);
			}
			set_status(r, "running", NULL);
			if (se) {
				const cJSON *q = cJSON_GetObjectItemCaseSensitive(se, "requests");

				if (cJSON_IsNumber(q))
					requests = (long long)q->valuedouble;
			}
		}
		if (metrics_begin(&r->m, e) < 0)
			return -1;
		memset(r->judged, 0, s->nmetrics);
		for (;;) {
			long long left, wait;

			now = now_ms();
			left = r->st.step_deadline_ms - now;
			wait = left < s->interval_ms ? left : s->interval_ms;
			if (wait > 0 && metrics_wait(&r->m, wait, &stage_signal) < 0) {
				if (r->c->abort_on_signal)
					return do_abort(r, "interrupted by a signal (--abort-on-signal)", e);
				if (save(r, e) < 0)
					return -1;
				return err_set(e, EX_TEMP, "interrupted at step %d; the state is saved: run "
				    "ci-canary again to resume", i + 1);
			}
			rc = analyse(r, i, &requests, why, sizeof(why));
			if (se)
				set_num(se, "requests", (double)requests);
			if (rc == 2)
				return do_abort(r, why, e);
			if (rc == 3) {
				/* The spec's fault, not the canary's: roll back all
				 * the same, and say error. */
				if (do_abort(r, why, e) < 0)
					return -1;
				set_status(r, "error", why);
				cJSON_DeleteItemFromObjectCaseSensitive(r->sec, "verdict");
				if (save(r, e) < 0)
					return -1;
				return err_set(e, EX_USAGE_, "%s", why);
			}
			now = now_ms();
			if (now >= r->st.step_pause_end_ms && requests >= s->min_requests &&
			    unjudged(r, why, sizeof(why), i) == 0)
				break;
			if (now >= r->st.step_deadline_ms) {
				long long ext = s->max_extend_ms >= 0 ? s->max_extend_ms : step->pause_ms;

				if (r->st.step_deadline_ms < r->st.step_pause_end_ms + ext) {
					r->st.step_deadline_ms = r->st.step_pause_end_ms + ext;
					if (requests < s->min_requests)
						log_info("step %d: %lld of %lld canary requests: extending "
						    "the step", i + 1, requests, s->min_requests);
					else
						log_info("step %d: %s: extending the step", i + 1, why);
				} else {
					if (requests < s->min_requests)
						snprintf(why, sizeof(why), "too little traffic at step %d "
						    "(%d%%): %lld canary requests, %lld needed", i + 1,
						    step->weight, requests, s->min_requests);
					else
						unjudged(r, why, sizeof(why), i);
					return pause_for(r, why, e);
				}
			}
			if (save(r, e) < 0)
				return -1;
		}
		{
			char at[40];

			format_rfc3339_ms(now_ms(), at, sizeof(at));
			if (se) {
				set_str(se, "status", "passed");
				set_str(se, "ended_at", at);
			}
		}
		{
			cJSON *ev = cJSON_CreateObject();

			cJSON_AddNumberToObject(ev, "step", i + 1);
			cJSON_AddNumberToObject(ev, "requests", (double)requests);
			event(r, "step_passed", ev);
		}
		r->st.step++;
		r->st.step_started_ms = r->st.step_deadline_ms = r->st.step_pause_end_ms = 0;
		if (save(r, e) < 0)
			return -1;
	}
	return promote(r, e);
}

int
canary_work(struct stage *stg, void *arg, cJSON **section, struct err *e)
{
	struct canary_cmd *c = arg;
	struct run r;
	const char *image = doc_image(c, stg->p.doc);
	int rc, have;

	memset(&r, 0, sizeof(r));
	r.c = c;
	r.spec = &c->spec;
	r.started_ms = mono_ms();
	if (rollout_spec_check(&c->spec, e) < 0)
		return -1;
	if (!c->spec.app && image)
		c->spec.app = image_app(image);
	if (!c->spec.app)
		return err_set(e, EX_USAGE_, "no app: give --app, \"app\" in the spec, or an image");
	if (rollout_state_open(&r.st, c->state_dir, c->spec.app, 1, e) < 0) {
		rollout_state_free(&r.st);
		return -1;
	}
	have = rollout_state_load(&r.st, e);
	if (have < 0)
		goto fail;
	/* Across runners: the lease, before anything changes.  An abort is
	 * an emergency, and goes ahead whoever holds it. */
	if (c->ledger && c->action != CANARY_ABORT &&
	    lease_take(c->state_dir, c->ledger, c->spec.app, image ? image : r.st.image, e) < 0)
		goto fail;
	traffic_init(&r.t, &c->spec.traffic, image);
	r.m.t = &r.t;
	r.m.spec = &c->spec;
	r.judged = xcalloc(c->spec.nmetrics + 1, 1);
	/* The log listeners first: a bad or taken address changes nothing. */
	if (metrics_open(&r.m, e) < 0)
		goto fail;
	if (have && r.st.status && (!strcmp(r.st.status, "running") ||
	    !strcmp(r.st.status, "paused"))) {
		/* A rollout in progress: this run resumes it, or acts on it. */
		if (image && r.st.image && strcmp(image, r.st.image)) {
			err_set(e, EX_USAGE_, "a rollout of '%s' is in progress for '%s' (%s at step %d); "
			    "finish it with --promote or --abort first", r.st.image, c->spec.app,
			    r.st.status, r.st.step + 1);
			goto fail;
		}
		r.t.image = r.st.image ? r.st.image : "";
		if (!r.st.section)
			section_init(&r);
		r.sec = r.st.section;
		bind_slots(&r);
		if (c->action != CANARY_ABORT && traffic_check(&r.t, e) < 0)
			goto fail;
		if (c->action == CANARY_ABORT) {
			rc = do_abort(&r, "aborted by hand (--abort)", e);
			goto done;
		}
		if (c->action == CANARY_PROMOTE) {
			if (strcmp(r.st.status, "paused")) {
				err_set(e, EX_USAGE_, "the rollout of '%s' is not paused (it is %s); "
				    "--promote acts on a paused rollout", c->spec.app, r.st.status);
				goto fail;
			}
			r.st.approved = 1;
			/* Paused for traffic: the step passes as it stands. */
			if (r.st.step_started_ms) {
				r.st.step++;
				r.st.step_started_ms = 0;
			}
			event(&r, "approve", NULL);
		}
	} else {
		if (c->action != CANARY_RUN) {
			err_set(e, EX_USAGE_, "no rollout of '%s' to %s: none is running or paused",
			    c->spec.app, c->action == CANARY_ABORT ? "abort" : "promote");
			goto fail;
		}
		if (!image) {
			err_set(e, EX_USAGE_, "no image to roll out: give --image, or run ci-canary "
			    "after ci-push in a pipeline");
			goto fail;
		}
		rollout_state_reset(&r.st, image);
		r.t.image = r.st.image;
		if (discover_slots(&r, e) < 0)
			goto fail;
		bind_slots(&r);
		if (traffic_check(&r.t, e) < 0)
			goto fail;
		section_init(&r);
		{
			cJSON *ev = cJSON_CreateObject();

			cJSON_AddStringToObject(ev, "image", image);
			cJSON_AddStringToObject(ev, "stable", r.st.stable_slot);
			cJSON_AddStringToObject(ev, "canary", r.st.canary_slot);
			event(&r, "start", ev);
		}
		if (save(&r, e) < 0)
			goto fail;
	}
	rc = run_steps(&r, e);
done:
	metrics_close(&r.m);
	cJSON_Delete(r.pending);
	free(r.judged);
	if (rc < 0 && e->code != EX_TEMP && r.sec && r.st.status &&
	    strcmp(r.st.status, "failed")) {
		/* An error mid-rollout: the canary is not trusted; say so. */
		set_str(r.sec, "status", "error");
		set_str(r.sec, "reason", e->msg);
	}
	if (r.sec && c->report) {
		struct err re = { 0, "" };

		/* The chart never hides the verdict: a rollout that failed
		 * still exits 1; only a passed one turns into an I/O error. */
		if (rollout_report_svg(r.sec, c->report, &re) < 0) {
			if (rc == EX_PASS) {
				*e = re;
				rc = -1;
			} else {
				log_error("%s", re.msg);
			}
		}
	}
	if (r.sec) {
		*section = cJSON_Duplicate(r.sec, 1);
		if (rc < 0 && e->code == EX_TEMP)
			set_str(*section, "status", "paused");
	}
	/* A rollout that ended lets the next one in, on any runner. */
	if (c->ledger && rc != EX_PAUSED && !(rc < 0 && e->code == EX_TEMP) &&
	    r.st.status && strcmp(r.st.status, "running") && strcmp(r.st.status, "paused")) {
		struct err le = { 0, "" };

		if (lease_drop(c->state_dir, c->ledger, c->spec.app, &le) < 0)
			log_warn("the rollout lease stays: %s", le.msg);
	}
	rollout_state_free(&r.st);
	return rc;
fail:
	metrics_close(&r.m);
	free(r.judged);
	rollout_state_free(&r.st);
	return -1;
}

int
canary_print_slot(struct canary_cmd *c, FILE *out, struct err *e)
{
	struct run r;
	int have;

	memset(&r, 0, sizeof(r));
	r.spec = &c->spec;
	if (!c->spec.traffic.driver)
		return err_set(e, EX_USAGE_, "--slot needs the traffic config (-f FILE or --socket)");
	if (rollout_state_open(&r.st, c->state_dir, c->spec.app, 0, e) < 0 ||
	    (have = rollout_state_load(&r.st, e)) < 0) {
		rollout_state_free(&r.st);
		return -1;
	}
	traffic_init(&r.t, &c->spec.traffic, NULL);
	if (have && r.st.status && (!strcmp(r.st.status, "running") ||
	    !strcmp(r.st.status, "paused"))) {
		err_set(e, EX_USAGE_, "a rollout of '%s' is in progress: its canary is in '%s'",
		    c->spec.app, r.st.canary_slot ? r.st.canary_slot : "?");
		rollout_state_free(&r.st);
		return -1;
	}
	if (discover_slots(&r, e) < 0) {
		rollout_state_free(&r.st);
		return -1;
	}
	fprintf(out, "%s\n", r.st.canary_slot);
	rollout_state_free(&r.st);
	return 0;
}
