/*
 * metrics: measuring canary and stable each interval (metrics.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "net/http.h"
#include "rollout/haproxy.h"
#include "rollout/metrics.h"
#include "rollout/stats.h"

static long long
nz(long long v)
{
	return v < 0 ? 0 : v;
}

static void
row_counters(const struct hap_row *r, struct counters *c)
{
	c->req = r->req_tot >= 0 ? r->req_tot : r->stot;
	c->err = nz(r->hrsp[5]) + nz(r->eresp) + nz(r->econ);
}

static int
read_counters(struct metrics_ctx *m, struct counters now[2], long long *pid, long long *up,
    struct err *e)
{
	struct hap_stat st;
	const char *slots[2] = { m->t->stable, m->t->canary };
	int i;

	if (haproxy_info(&m->t->hap, pid, up, e) < 0 || haproxy_show_stat(&m->t->hap, &st, e) < 0)
		return -1;
	for (i = 0; i < 2; i++) {
		const struct hap_row *r = hap_stat_find(&st, m->t->cfg->backend, slots[i]);

		if (!r) {
			hap_stat_free(&st);
			return err_set(e, EX_USAGE_, "haproxy at '%s': no server '%s/%s'",
			    m->t->hap.addr, m->t->cfg->backend, slots[i]);
		}
		row_counters(r, &now[i]);
	}
	hap_stat_free(&st);
	return 0;
}

int
metrics_begin(struct metrics_ctx *m, struct err *e)
{
	m->have_last = 0;
	memset(m->delta, 0, sizeof(m->delta));
	if (m->t->cfg->driver != TRAFFIC_HAPROXY)
		return 0;
	if (read_counters(m, m->last, &m->pid, &m->uptime, e) < 0)
		return -1;
	m->have_last = 1;
	return 0;
}

int
metrics_sample(struct metrics_ctx *m, struct err *e)
{
	struct counters now[2];
	long long pid, up;
	int i, reset;

	if (m->t->cfg->driver != TRAFFIC_HAPROXY)
		return 0;
	if (read_counters(m, now, &pid, &up, e) < 0)
		return -1;
	/* A reload or restart starts HAProxy's counters again: what we see
	 * now is all that came since, so it is the delta. */
	reset = !m->have_last || pid != m->pid || up < m->uptime;
	for (i = 0; i < 2; i++)
		if (now[i].req < m->last[i].req || now[i].err < m->last[i].err)
			reset = 1;
	for (i = 0; i < 2; i++) {
		m->delta[i].req = reset ? now[i].req : now[i].req - m->last[i].req;
		m->delta[i].err = reset ? now[i].err : now[i].err - m->last[i].err;
		if (m->delta[i].err > m->delta[i].req)
			m->delta[i].err = m->delta[i].req;
		m->last[i] = now[i];
	}
	if (reset && m->have_last)
		m->reset_seen = 1;
	m->pid = pid;
	m->uptime = up;
	m->have_last = 1;
	return 0;
}

static void
judge(const struct rollout_metric *mt, struct measurement *o, double tolerance_p)
{
	if (mt->has_max && o->canary > mt->max) {
		o->verdict = V_FAIL;
		snprintf(o->why, sizeof(o->why), "%s %g > %g", mt->name, o->canary, mt->max);
		return;
	}
	if (mt->has_max_increase && o->has_stable && o->canary - o->stable > mt->max_increase &&
	    (tolerance_p < 0 || o->p < tolerance_p)) {
		o->verdict = V_FAIL;
		snprintf(o->why, sizeof(o->why), "%s %g is %g over stable's %g (at most +%g)",
		    mt->name, o->canary, o->canary - o->stable, o->stable, mt->max_increase);
		return;
	}
	o->verdict = V_PASS;
}

static void
measure_haproxy(struct metrics_ctx *m, const struct rollout_metric *mt, struct measurement *o)
{
	const struct counters *s = &m->delta[0], *c = &m->delta[1];

	o->canary_n = c->req;
	o->stable_n = s->req;
	if (c->req == 0) {
		o->verdict = V_INCONCLUSIVE;
		snprintf(o->why, sizeof(o->why), "%s: no request reached the canary", mt->name);
		return;
	}
	o->has_canary = 1;
	o->canary = 100.0 * (double)c->err / (double)c->req;
	if (s->req > 0) {
		o->has_stable = 1;
		o->stable = 100.0 * (double)s->err / (double)s->req;
		o->p = stats_fisher_greater(c->err, c->req, s->err, s->req);
	}
	judge(mt, o, m->spec->alpha);
	if (o->verdict == V_FAIL) {
		size_t L = strlen(o->why);

		/* Rates in the message as people read them. */
		snprintf(o->why, sizeof(o->why), "%s %.1f%% (%lld of %lld requests)", mt->name,
		    o->canary, c->err, c->req);
		L = strlen(o->why);
		if (mt->has_max && o->canary > mt->max)
			snprintf(o->why + L, sizeof(o->why) - L, " > %g%%", mt->max);
		else
			snprintf(o->why + L, sizeof(o->why) - L,
			    " vs stable %.1f%%: more than +%g%% (p = %.3g)", o->stable,
			    mt->max_increase, o->p);
	}
}

static void
measure_health(struct metrics_ctx *m, const struct rollout_metric *mt, struct measurement *o)
{
	char status[64];
	struct err e = { 0, "" };
	int up;

	if (traffic_health(m->t, m->t->canary, &up, status, sizeof(status), &e) < 0) {
		o->error = 1;
		o->verdict = V_INCONCLUSIVE;
		snprintf(o->why, sizeof(o->why), "%s: %s", mt->name, e.msg);
		return;
	}
	o->has_canary = 1;
	o->canary = up;
	if (!up) {
		o->verdict = V_FAIL;
		o->critical = 1;
		snprintf(o->why, sizeof(o->why), "the canary '%s' is %s in the load balancer's health "
		    "check", m->t->canary, status);
	} else {
		o->verdict = V_PASS;
	}
}

int
prometheus_parse(const char *body, size_t len, const char *name, double *v, struct err *e)
{
	struct json_opts jo = { name, 0 };
	cJSON *j = json_parse(body, len, &jo, NULL, e), *data, *res, *val = NULL;
	const char *type, *s;
	char *end;
	int rc = -1;

	if (!j) {
		e->code = EX_SERVICE;
		return err_prefix(e, "not a Prometheus answer");
	}
	data = cJSON_GetObjectItemCaseSensitive(j, "data");
	type = json_str(data, "resultType");
	res = cJSON_GetObjectItemCaseSensitive(data, "result");
	if (!json_str(j, "status") || strcmp(json_str(j, "status"), "success") || !type || !res) {
		err_set(e, EX_SERVICE, "%s: not a successful Prometheus query answer", name);
		goto out;
	}
	if (!strcmp(type, "vector")) {
		if (!cJSON_IsArray(res)) {
			err_set(e, EX_SERVICE, "%s: data.result is not an array", name);
			goto out;
		}
		if (cJSON_GetArraySize(res) == 0) {
			rc = 0;
			goto out;
		}
		val = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(res, 0), "value");
	} else if (!strcmp(type, "scalar")) {
		val = res;
	} else {
		err_set(e, EX_SERVICE, "%s: a '%s' result; the query must give a vector or a scalar",
		    name, type);
		goto out;
	}
	s = cJSON_IsArray(val) && cJSON_GetArraySize(val) == 2 ?
	    cJSON_GetStringValue(cJSON_GetArrayItem(val, 1)) : NULL;
	if (!s) {
		err_set(e, EX_SERVICE, "%s: a sample is not [time, \"value\"]", name);
		goto out;
	}
	errno = 0;
	*v = strtod(s, &end);
	if (end == s || *end) {
		err_set(e, EX_SERVICE, "%s: the sample '%.40s' is not a number", name, s);
		goto out;
	}
	rc = isnan(*v) ? 0 : 1;
out:
	cJSON_Delete(j);
	return rc;
}

static char *
subst(const char *q, const char *canary, const char *stable)
{
	struct buf b = BUF_INIT;

	while (*q) {
		if (!strncmp(q, "{{canary}}", 10)) {
			buf_adds(&b, canary);
			q += 10;
		} else if (!strncmp(q, "{{stable}}", 10)) {
			buf_adds(&b, stable);
			q += 10;
		} else {
			buf_addc(&b, *q++);
		}
	}
	return buf_detach(&b, NULL);
}

/* 1 value, 0 no data, -1 error (usage errors keep their code). */
static int
prom_query(const struct rollout_metric *mt, const char *canary, const char *stable, double *v,
    struct err *e)
{
	struct http_opts ho;
	struct http_response resp = HTTP_RESPONSE_INIT;
	char *q = subst(mt->query, canary, stable), *enc = http_urlencode(q), *url;
	size_t L = strlen(mt->address);
	CURL *c;
	int rc;

	memset(&ho, 0, sizeof(ho));
	ho.connect_timeout_ms = 5000;
	ho.max_time_ms = 10000;
	ho.body_max = 16u << 20;
	url = xasprintf("%.*s/api/v1/query?query=%s", (int)(L && mt->address[L - 1] == '/' ?
	    L - 1 : L), mt->address, enc);
	c = http_easy(&ho, &resp);
	curl_easy_setopt(c, CURLOPT_URL, url);
	rc = http_perform(c, &resp, "prometheus", e);
	if (rc == 0 && resp.status == 400) {
		rc = err_set(e, EX_USAGE_, "metric '%s': Prometheus refused the query '%s': %.200s",
		    mt->name, q, buf_str(&resp.body));
	} else if (rc == 0 && resp.status != 200) {
		rc = err_set(e, EX_SERVICE, "metric '%s': Prometheus at '%s' answered %ld", mt->name,
		    mt->address, resp.status);
	} else if (rc == 0) {
		char name[256];

		snprintf(name, sizeof(name), "metric '%s': Prometheus answer", mt->name);
		rc = prometheus_parse(buf_str(&resp.body), resp.body.len, name, v, e);
	}
	curl_easy_cleanup(c);
	http_response_free(&resp);
	free(url);
	free(enc);
	free(q);
	return rc;
}

static int
exec_query(const struct rollout_metric *mt, const char *slot, const char *role, double *v,
    struct err *e)
{
	static const char *const names[] = { "slot", "role" };
	const char *values[2] = { slot, role };
	char what[160], *out = NULL, *end;
	int rc;

	snprintf(what, sizeof(what), "metric '%s'", mt->name);
	if (rollout_sh(what, mt->command, names, values, 2, &out, e) < 0)
		return -1;
	errno = 0;
	*v = strtod(out, &end);
	while (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r')
		end++;
	if (end == out || *end || errno) {
		size_t L = strlen(out);

		while (L && (out[L - 1] == '\n' || out[L - 1] == '\r' || out[L - 1] == ' '))
			out[--L] = '\0';
		rc = err_set(e, EX_SERVICE, "metric '%s': the command printed '%.60s', not one number",
		    mt->name, out);
	} else {
		rc = isnan(*v) ? 0 : 1;
	}
	free(out);
	return rc;
}

static void
measure_value(struct metrics_ctx *m, const struct rollout_metric *mt, struct measurement *o)
{
	struct err e = { 0, "" };
	int rc, rs = 0;

	if (mt->source == METRIC_PROMETHEUS)
		rc = prom_query(mt, m->t->canary, m->t->stable, &o->canary, &e);
	else
		rc = exec_query(mt, m->t->canary, "canary", &o->canary, &e);
	if (rc == 1 && mt->has_max_increase) {
		struct err e2 = { 0, "" };

		if (mt->source == METRIC_PROMETHEUS)
			rs = prom_query(mt, m->t->stable, m->t->canary, &o->stable, &e2);
		else
			rs = exec_query(mt, m->t->stable, "stable", &o->stable, &e2);
		if (rs < 0) {
			rc = -1;
			e = e2;
		}
	}
	if (rc < 0) {
		o->error = 1;
		o->verdict = V_INCONCLUSIVE;
		/* A query Prometheus refuses is the spec's fault: say so loudly. */
		o->critical = e.code == EX_USAGE_;
		snprintf(o->why, sizeof(o->why), "%s", e.msg);
		return;
	}
	if (rc == 0) {
		o->verdict = V_INCONCLUSIVE;
		o->error = 1;
		snprintf(o->why, sizeof(o->why), "metric '%s': no data", mt->name);
		return;
	}
	o->has_canary = 1;
	o->has_stable = rs == 1;
	judge(mt, o, -1);
}

void
metrics_measure(struct metrics_ctx *m, const struct rollout_metric *mt, struct measurement *o)
{
	memset(o, 0, sizeof(*o));
	o->p = -1;
	switch (mt->source) {
	case METRIC_HAPROXY:
		measure_haproxy(m, mt, o);
		if (m->spec->error_budget > 0 && m->delta[1].err >= m->spec->error_budget) {
			o->verdict = V_FAIL;
			o->critical = 1;
			snprintf(o->why, sizeof(o->why), "error budget gone: %lld failed requests on "
			    "the canary in one interval (budget %lld)", m->delta[1].err,
			    m->spec->error_budget);
		}
		break;
	case METRIC_HEALTH:
		measure_health(m, mt, o);
		break;
	default:
		measure_value(m, mt, o);
		break;
	}
	if (mt->critical && o->verdict == V_FAIL)
		o->critical = 1;
}
