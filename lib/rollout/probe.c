/*
 * probe: the metric sources that look at the instances themselves rather
 * than at the load balancer (metrics.h).
 *
 *   resources  CPU or memory of each slot's instance from its cgroup
 *              (rollout/resources.h), in percent of its limits.  CPU is a
 *              rate: the first sample of a slot is taken when a step
 *              begins, and each interval measures from the last one.
 *   synthetic  a Hurl file (ci-smoke's engine) run against each slot
 *              every interval, {{base_url}} the slot's own address
 *              (HAProxy's "show stat" addr, nginx's traffic.servers, or
 *              the metric's "urls") and {{slot}} its name.  Value: the
 *              requests that failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "rollout/haproxy.h"
#include "rollout/metrics.h"
#include "rollout/resources.h"
#include "smoke/hurl.h"
#include "smoke/smoke.h"

/* A synthetic request gets the analysis interval, but no less than
 * SYNTH_MIN_TIME_MS (a short interval must not turn a loaded but healthy
 * canary's slow answer into a failed check) and no more than
 * SYNTH_MAX_TIME_MS. */
#define SYNTH_MIN_TIME_MS 2000
#define SYNTH_MAX_TIME_MS 10000
#define SYNTH_CONNECT_MS 2000

struct probe {
	/* resources: the last CPU sample of [0] the compared side, [1] the
	 * canary, and which instance it was of (the slots swap). */
	struct res_sample last[2];
	char *where[2];
	/* synthetic */
	struct hurl_file hurl;
	int loaded;
};

int
probes_open(struct metrics_ctx *m, struct err *e)
{
	size_t i;

	m->probes = xcalloc(m->spec->nmetrics + 1, sizeof(*m->probes));
	for (i = 0; i < m->spec->nmetrics; i++) {
		const struct rollout_metric *mt = &m->spec->metrics[i];
		struct probe *p = &m->probes[i];
		struct smoke_vars vars = { NULL, 0, 0 };
		int rc;

		if (mt->source != METRIC_SYNTHETIC)
			continue;
		if (!mt->urls && m->t->cfg->driver == TRAFFIC_EXEC)
			return err_set(e, EX_USAGE_, "metric '%s': with the exec driver, give 'urls' "
			    "(each slot's base URL)", mt->name);
		/* What a failed load parsed is freed by probes_close() too. */
		p->loaded = 1;
		if (hurl_load(mt->file, &p->hurl, e) < 0) {
			err_prefix(e, "metric '%s'", mt->name);
			return -1;
		}
		smoke_vars_set_text(&vars, "base_url", "http://127.0.0.1:1");
		smoke_vars_set_text(&vars, "slot", "blue");
		rc = smoke_check(&p->hurl, &vars, e);
		smoke_vars_free(&vars);
		if (rc < 0) {
			err_prefix(e, "metric '%s'", mt->name);
			return -1;
		}
	}
	return 0;
}

void
probes_close(struct metrics_ctx *m)
{
	size_t i;

	if (!m->probes)
		return;
	for (i = 0; i < m->spec->nmetrics; i++) {
		free(m->probes[i].where[0]);
		free(m->probes[i].where[1]);
		if (m->probes[i].loaded)
			hurl_file_free(&m->probes[i].hurl);
	}
	free(m->probes);
	m->probes = NULL;
}

static struct probe *
probe_of(struct metrics_ctx *m, const struct rollout_metric *mt)
{
	return &m->probes[mt - m->spec->metrics];
}

/* ---- resources ---------------------------------------------------------- */

int
probe_resources_value(struct metrics_ctx *m, const struct rollout_metric *mt, int side, double *v,
    struct err *e)
{
	struct probe *p = probe_of(m, mt);
	const char *slot = side ? m->t->canary : traffic_compare(m->t);
	const char *role = side ? "canary" : m->t->baseline ? "baseline" : "stable";
	struct res_sample now;
	static const char *const names[] = { "slot", "role" };
	const char *values[2] = { slot ? slot : "", role };
	char *where = rollout_subst(mt->instance, names, values, 2);
	int rc;

	if (resources_read(where, mt->runc_root, &now, e) < 0) {
		free(where);
		return -1;
	}
	if (mt->resource == RESOURCE_MEMORY) {
		free(where);
		*v = resources_mem_percent(&now);
		if (*v < 0)
			return err_set(e, EX_SERVICE, "resources of '%s': no memory controller",
			    mt->instance);
		return 1;
	}
	rc = 0;
	if (p->where[side] && !strcmp(p->where[side], where)) {
		*v = resources_cpu_percent(&p->last[side], &now);
		rc = *v >= 0;
	}
	free(p->where[side]);
	p->where[side] = where;
	p->last[side] = now;
	if (!now.has_cpu)
		return err_set(e, EX_SERVICE, "resources of '%s': no CPU accounting", where);
	return rc;
}

void
probes_begin(struct metrics_ctx *m)
{
	size_t i;

	if (!m->probes)
		return;
	for (i = 0; i < m->spec->nmetrics; i++) {
		const struct rollout_metric *mt = &m->spec->metrics[i];
		struct err e = { 0, "" };
		double v;

		/* A CPU rate needs a sample to start from; a failure shows
		 * when the interval is measured. */
		if (mt->source == METRIC_RESOURCES && mt->resource == RESOURCE_CPU) {
			probe_resources_value(m, mt, 1, &v, &e);
			probe_resources_value(m, mt, 0, &v, &e);
		}
	}
}

/* ---- synthetic ---------------------------------------------------------- */

/* The base URL of slot: the metric's urls, else the load balancer's
 * address for it.  Owned; NULL with e set. */
static char *
base_url(struct metrics_ctx *m, const struct rollout_metric *mt, const char *slot,
    struct err *e)
{
	const struct rollout_traffic *c = m->t->cfg;
	const cJSON *u = mt->urls ? cJSON_GetObjectItemCaseSensitive(mt->urls, slot) : NULL;
	struct hap_stat st;
	const struct hap_row *r;
	const char *addr;
	char *url;

	if (u)
		return xstrdup(u->valuestring);
	if (mt->urls || c->driver == TRAFFIC_EXEC) {
		err_set(e, EX_USAGE_, "metric '%s': 'urls' has no URL for the slot '%s'", mt->name,
		    slot);
		return NULL;
	}
	if (c->driver == TRAFFIC_NGINX) {
		addr = rollout_server_addr(c, slot);
		if (!addr || !strncmp(addr, "unix:", 5)) {
			err_set(e, EX_USAGE_, "metric '%s': no TCP address for the slot '%s' in "
			    "traffic.servers: give 'urls'", mt->name, slot);
			return NULL;
		}
		return xasprintf("http://%s", addr);
	}
	if (haproxy_show_stat(&m->t->hap, &st, e) < 0)
		return NULL;
	r = hap_stat_find(&st, c->backend, slot);
	if (!r || !r->addr || !*r->addr) {
		err_set(e, EX_SERVICE, "metric '%s': HAProxy shows no address for '%s/%s': give "
		    "'urls'", mt->name, c->backend, slot);
		hap_stat_free(&st);
		return NULL;
	}
	url = xasprintf("http://%s", r->addr);
	hap_stat_free(&st);
	return url;
}

/* Run the checks against slot: 1 with *failed (requests that failed) and
 * *n (requests), -1 with e set. */
static int
synth_run(struct metrics_ctx *m, const struct rollout_metric *mt, const char *slot,
    double *failed, long long *n, char *first, size_t firstsz, struct err *e)
{
	struct probe *p = probe_of(m, mt);
	struct smoke_vars vars = { NULL, 0, 0 };
	struct smoke_secrets secrets = { NULL, 0 };
	struct smoke_opts o;
	struct smoke_result res;
	char *url = base_url(m, mt, slot, e);
	size_t i;
	long long budget = m->spec->interval_ms;

	if (!url)
		return -1;
	smoke_vars_set_text(&vars, "base_url", url);
	smoke_vars_set_text(&vars, "slot", slot);
	free(url);
	memset(&o, 0, sizeof(o));
	o.jobs = 1;
	o.repeat = 1;
	o.retry = 0;
	o.connect_timeout_ms = SYNTH_CONNECT_MS;
	o.max_time_ms = budget < SYNTH_MIN_TIME_MS ? SYNTH_MIN_TIME_MS :
	    budget > SYNTH_MAX_TIME_MS ? SYNTH_MAX_TIME_MS : budget;
	o.continue_on_error = 1;
	o.vars = &vars;
	o.secrets = &secrets;
	memset(&res, 0, sizeof(res));
	if (smoke_run(&p->hurl, 1, &o, &res, e) < 0) {
		smoke_vars_free(&vars);
		smoke_secrets_free(&secrets);
		return -1;
	}
	*failed = 0;
	*n = res.requests;
	for (i = 0; res.nfiles && i < res.files[0].nentries; i++) {
		const struct smoke_entry *en = &res.files[0].entries[i];

		if (en->status != SM_FAILED)
			continue;
		if (*failed == 0 && first)
			snprintf(first, firstsz, "%s: %s", en->name ? en->name : "?",
			    en->reason ? en->reason : en->error ? en->error : "failed");
		*failed += 1;
	}
	smoke_result_free(&res);
	smoke_vars_free(&vars);
	smoke_secrets_free(&secrets);
	return 1;
}

void
measure_synthetic(struct metrics_ctx *m, const struct rollout_metric *mt, struct measurement *o)
{
	struct err e = { 0, "" };
	char first[600] = "";

	if (synth_run(m, mt, m->t->canary, &o->canary, &o->canary_n, first, sizeof(first),
	    &e) < 0 || (mt->has_max_increase && synth_run(m, mt, traffic_compare(m->t),
	    &o->stable, &o->stable_n, NULL, 0, &e) < 0)) {
		o->error = 1;
		o->verdict = V_INCONCLUSIVE;
		o->critical = e.code == EX_USAGE_;
		snprintf(o->why, sizeof(o->why), "%s", e.msg);
		return;
	}
	o->has_canary = 1;
	o->has_stable = mt->has_max_increase;
	metrics_judge(mt, o, -1);
	if (o->verdict == V_FAIL && *first)
		snprintf(o->why + strlen(o->why), sizeof(o->why) - strlen(o->why),
		    " failed checks on '%s' (first: %.400s)", m->t->canary, first);
}
