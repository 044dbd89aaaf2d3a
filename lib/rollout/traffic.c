/*
 * traffic: the load balancer drivers behind one interface (traffic.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/proc.h"
#include "rollout/haproxy.h"
#include "rollout/nginx.h"
#include "rollout/traffic.h"

#define SH_TIMEOUT_MS (60 * 1000)
#define SH_OUT_CAP (1u << 20)

void
traffic_init(struct traffic *t, const struct rollout_traffic *cfg, const char *image)
{
	memset(t, 0, sizeof(*t));
	t->cfg = cfg;
	t->hap.addr = cfg->socket;
	t->hap.timeout_ms = 5000;
	t->image = image ? image : "";
	t->baseline = cfg->baseline;
}

/* The baseline's share when the canary has weight. */
static int
baseline_weight(const struct traffic *t, int weight)
{
	if (!t->baseline || weight >= 100)
		return 0;
	return weight < 100 - weight ? weight : 100 - weight;
}

/* Where text (at p) holds {{names[i]}}: i, else -1. */
static int
placeholder(const char *p, const char *const *names, int n)
{
	int i;

	if (p[0] != '{' || p[1] != '{')
		return -1;
	for (i = 0; i < n; i++) {
		size_t k = strlen(names[i]);

		if (!strncmp(p + 2, names[i], k) && !strncmp(p + 2 + k, "}}", 2))
			return i;
	}
	return -1;
}

char *
rollout_subst(const char *text, const char *const *names, const char *const *values, int n)
{
	struct buf b = BUF_INIT;
	const char *p = text;
	int i;

	while (*p) {
		if ((i = placeholder(p, names, n)) >= 0) {
			buf_adds(&b, values[i] ? values[i] : "");
			p += 4 + strlen(names[i]);
		} else {
			buf_addc(&b, *p++);
		}
	}
	return buf_detach(&b, NULL);
}

int
rollout_sh(const char *what, const char *text, const char *const *names,
    const char *const *values, int n, char **out, struct err *e)
{
	struct proc_spec spec;
	struct proc_result r;
	struct buf b = BUF_INIT;
	char **argv = NULL;
	const char *p = text;
	int i, rc;

	/* {{name}} -> "$N": the value is an argument, never shell text. */
	while (*p) {
		if ((i = placeholder(p, names, n)) >= 0) {
			buf_addf(&b, "\"$%d\"", i + 1);
			p += 4 + strlen(names[i]);
		} else {
			buf_addc(&b, *p++);
		}
	}
	argv = strv_push(argv, "sh");
	argv = strv_push(argv, "-c");
	argv = strv_push(argv, buf_str(&b));
	argv = strv_push(argv, "sh");
	for (i = 0; i < n; i++)
		argv = strv_push(argv, values[i] ? values[i] : "");
	buf_free(&b);
	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	spec.timeout_ms = SH_TIMEOUT_MS;
	spec.grace_ms = 2000;
	spec.out_cap = SH_OUT_CAP;
	spec.tail_bytes = 4096;
	rc = proc_capture(&spec, &r, e);
	strv_free(argv);
	if (rc == 0 && r.status != 0) {
		char tail[512];
		size_t L;

		snprintf(tail, sizeof(tail), "%s", r.err ? r.err : "");
		L = strlen(tail);
		while (L && (tail[L - 1] == '\n' || tail[L - 1] == '\r'))
			tail[--L] = '\0';
		rc = err_set(e, EX_SERVICE, "%s: the command %s%s%s", what, r.how,
		    *tail ? ": " : "", tail);
	} else if (rc < 0) {
		err_prefix(e, "%s", what);
		e->code = EX_SERVICE;
	}
	if (rc == 0 && out) {
		*out = r.out;
		r.out = NULL;
	}
	proc_result_free(&r);
	return rc;
}

static int
exec_set(struct traffic *t, const char *text, int weight, const char *what, struct err *e)
{
	static const char *const names[] = { "stable_weight", "canary_weight", "image", "stable",
		"canary", "baseline_weight", "baseline" };
	char sw[16], cw[16], bw[16];
	const char *values[7];
	int b = baseline_weight(t, weight);

	snprintf(sw, sizeof(sw), "%d", 100 - weight - b);
	snprintf(cw, sizeof(cw), "%d", weight);
	snprintf(bw, sizeof(bw), "%d", b);
	values[0] = sw;
	values[1] = cw;
	values[2] = t->image;
	values[3] = t->stable ? t->stable : "";
	values[4] = t->canary ? t->canary : "";
	values[5] = bw;
	values[6] = t->baseline ? t->baseline : "";
	return rollout_sh(what, text, names, values, 7, NULL, e);
}

static int
hap_save(struct traffic *t, struct err *e)
{
	if (!t->cfg->state_file)
		return 0;
	return haproxy_save_state(&t->hap, t->cfg->backend, t->cfg->state_file, e);
}

/* The route's entry: the canary's name while it has traffic, else none. */
static int
hap_route(struct traffic *t, int weight, struct err *e)
{
	const struct rollout_traffic *c = t->cfg;

	if (!c->route_map)
		return 0;
	return haproxy_map_set(&t->hap, c->route_map, c->route_value, weight > 0 ? t->canary : NULL,
	    e);
}

static int
hap_baseline(struct traffic *t, int weight, struct err *e)
{
	const char *px = t->cfg->backend;
	int b = baseline_weight(t, weight);

	if (!t->baseline)
		return 0;
	if (b > 0 && haproxy_set_state(&t->hap, px, t->baseline, "ready", e) < 0)
		return -1;
	return haproxy_set_weight(&t->hap, px, t->baseline, b, e);
}

int
traffic_set(struct traffic *t, int weight, struct err *e)
{
	const char *px = t->cfg->backend;

	switch (t->cfg->driver) {
	case TRAFFIC_EXEC:
		return exec_set(t, t->cfg->set, weight, "traffic.set", e);
	case TRAFFIC_NGINX:
		return nginx_set(t->cfg, t->stable, t->canary, weight, baseline_weight(t, weight),
		    e);
	}
	/* A canary left in maint by an earlier abort comes back first; the
	 * stable slot is never in maint while it serves. */
	if (haproxy_set_state(&t->hap, px, t->stable, "ready", e) < 0 ||
	    haproxy_set_weight(&t->hap, px, t->stable, 100 - weight - baseline_weight(t, weight),
	    e) < 0 || hap_baseline(t, weight, e) < 0)
		return -1;
	if (weight > 0 && haproxy_set_state(&t->hap, px, t->canary, "ready", e) < 0)
		return -1;
	if (haproxy_set_weight(&t->hap, px, t->canary, weight, e) < 0 ||
	    hap_route(t, weight, e) < 0)
		return -1;
	return hap_save(t, e);
}

static int
exec_get(struct traffic *t, int *weight, struct err *e)
{
	static const char *const names[] = { "image", "stable", "canary" };
	const char *values[3] = { t->image, t->stable, t->canary };
	char *out = NULL, *end;
	long s, c;

	if (!t->cfg->get)
		return 0;
	if (rollout_sh("traffic.get", t->cfg->get, names, values, 3, &out, e) < 0)
		return -1;
	s = strtol(out, &end, 10);
	c = strtol(end, &end, 10);
	while (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r')
		end++;
	if (*end || s < 0 || c < 0 || s + c == 0) {
		err_set(e, EX_SERVICE, "traffic.get: expected \"STABLE CANARY\" weights, got '%.60s'",
		    out);
		free(out);
		return -1;
	}
	free(out);
	*weight = (int)((c * 100 + (s + c) / 2) / (s + c));
	return 1;
}

int
traffic_get(struct traffic *t, int *weight, struct err *e)
{
	int cur, init, scur, bcur = 0;

	switch (t->cfg->driver) {
	case TRAFFIC_EXEC:
		return exec_get(t, weight, e);
	case TRAFFIC_NGINX:
		return nginx_get(t->cfg, t->stable, t->canary, weight, e) < 0 ? -1 : 1;
	}
	if (haproxy_get_weight(&t->hap, t->cfg->backend, t->canary, &cur, &init, e) < 0 ||
	    haproxy_get_weight(&t->hap, t->cfg->backend, t->stable, &scur, &init, e) < 0 ||
	    (t->baseline && haproxy_get_weight(&t->hap, t->cfg->backend, t->baseline, &bcur,
	    &init, e) < 0))
		return -1;
	if (cur + scur + bcur == 0) {
		*weight = 0;
		return 1;
	}
	*weight = (cur * 100 + (cur + scur + bcur) / 2) / (cur + scur + bcur);
	return 1;
}

int
traffic_abort(struct traffic *t, struct err *e)
{
	const char *px = t->cfg->backend;

	switch (t->cfg->driver) {
	case TRAFFIC_EXEC:
		return exec_set(t, t->cfg->set, 0, "traffic.set", e);
	case TRAFFIC_NGINX:
		/* The canary "down": nginx's new workers send it nothing; the
		 * old ones only finish the requests they hold. */
		return nginx_set(t->cfg, t->stable, t->canary, 0, 0, e);
	}
	/* Weight first: from here no new request reaches the canary; then
	 * maint and shutdown move the users that a cookie or a hash pinned. */
	if (haproxy_set_weight(&t->hap, px, t->canary, 0, e) < 0 ||
	    haproxy_set_weight(&t->hap, px, t->stable, 100, e) < 0 ||
	    haproxy_set_state(&t->hap, px, t->stable, "ready", e) < 0 ||
	    haproxy_set_state(&t->hap, px, t->canary, "maint", e) < 0 ||
	    haproxy_shutdown_sessions(&t->hap, px, t->canary, e) < 0 ||
	    hap_baseline(t, 0, e) < 0 || hap_route(t, 0, e) < 0)
		return -1;
	return hap_save(t, e);
}

int
traffic_promote(struct traffic *t, struct err *e)
{
	const char *px = t->cfg->backend;

	switch (t->cfg->driver) {
	case TRAFFIC_EXEC:
		if (exec_set(t, t->cfg->set, 100, "traffic.set", e) < 0)
			return -1;
		return t->cfg->promote ? exec_set(t, t->cfg->promote, 100, "traffic.promote", e) : 0;
	case TRAFFIC_NGINX:
		return nginx_set(t->cfg, t->stable, t->canary, 100, 0, e);
	}
	if (haproxy_set_state(&t->hap, px, t->canary, "ready", e) < 0 ||
	    haproxy_set_weight(&t->hap, px, t->canary, 100, e) < 0 ||
	    haproxy_set_weight(&t->hap, px, t->stable, 0, e) < 0 ||
	    hap_baseline(t, 100, e) < 0 || hap_route(t, 0, e) < 0)
		return -1;
	return hap_save(t, e);
}

int
traffic_health(struct traffic *t, const char *slot, int *up, char *status, size_t statussz,
    struct err *e)
{
	struct hap_stat st;
	const struct hap_row *r;

	*up = 1;
	if (status && statussz)
		snprintf(status, statussz, "unknown");
	switch (t->cfg->driver) {
	case TRAFFIC_EXEC:
		return 0;
	case TRAFFIC_NGINX:
		/* Open source nginx has no active health check to ask. */
		if (status && statussz)
			snprintf(status, statussz, "no check");
		return 0;
	}
	if (haproxy_show_stat(&t->hap, &st, e) < 0)
		return -1;
	r = hap_stat_find(&st, t->cfg->backend, slot);
	if (!r) {
		hap_stat_free(&st);
		return err_set(e, EX_USAGE_, "haproxy at '%s': no server '%s/%s' in 'show stat'",
		    t->hap.addr, t->cfg->backend, slot);
	}
	if (status && statussz)
		snprintf(status, statussz, "%s", r->status ? r->status : "");
	*up = r->status && (!strncmp(r->status, "UP", 2) || !strcmp(r->status, "no check") ||
	    !strncmp(r->status, "NOLB", 4));
	hap_stat_free(&st);
	return 0;
}

int
traffic_slot_weights(struct traffic *t, int *w0, int *w1, struct err *e)
{
	int init;

	if (t->cfg->driver != TRAFFIC_HAPROXY)
		return err_set(e, EX_INTERNAL, "slot weights need the haproxy driver");
	if (haproxy_get_weight(&t->hap, t->cfg->backend, t->cfg->slots[0], w0, &init, e) < 0 ||
	    haproxy_get_weight(&t->hap, t->cfg->backend, t->cfg->slots[1], w1, &init, e) < 0)
		return -1;
	return 0;
}

static int
hap_server(struct traffic *t, const struct hap_stat *st, const char *sv,
    const struct hap_row **row, struct err *e)
{
	*row = hap_stat_find(st, t->cfg->backend, sv);
	if (*row)
		return 0;
	if (!hap_stat_find(st, t->cfg->backend, "BACKEND"))
		return err_set(e, EX_USAGE_, "haproxy at '%s': no backend '%s' (traffic.backend)",
		    t->hap.addr, t->cfg->backend);
	return err_set(e, EX_USAGE_, "haproxy at '%s': backend '%s' has no server '%s'",
	    t->hap.addr, t->cfg->backend, sv);
}

static int
hap_check_sticky(struct traffic *t, const struct hap_stat *st, struct err *e)
{
	const struct rollout_traffic *c = t->cfg;
	const char *sv[3] = { c->slots[0], c->slots[1], t->baseline }, *px = c->backend;
	const struct hap_row *be = hap_stat_find(st, px, "BACKEND"), *r[3] = { NULL, NULL, NULL };
	const char *algo = be && be->algo ? be->algo : "";
	int i, n = t->baseline ? 3 : 2;

	for (i = 0; i < n; i++)
		if (hap_server(t, st, sv[i], &r[i], e) < 0)
			return -1;
	switch (c->sticky) {
	case STICKY_COOKIE:
		if (!be || !be->cookie || !*be->cookie)
			return err_set(e, EX_USAGE_, "traffic.sticky is cookie, but backend '%s' sets "
			    "no cookie (add 'cookie %s insert indirect nocache' to it, and 'cookie "
			    "NAME' to each server)", px, c->sticky_name ? c->sticky_name : "SRV");
		if (c->sticky_name && strcmp(be->cookie, c->sticky_name))
			return err_set(e, EX_USAGE_, "traffic.sticky is cookie:%s, but backend '%s' "
			    "sets the cookie '%s'", c->sticky_name, px, be->cookie);
		for (i = 0; i < n; i++)
			if (!r[i]->cookie || !*r[i]->cookie)
				return err_set(e, EX_USAGE_, "traffic.sticky is cookie, but server "
				    "'%s/%s' has no cookie value (add 'cookie %s' to its line)", px,
				    sv[i], sv[i]);
		for (i = 1; i < n; i++)
			if (!strcmp(r[i]->cookie, r[0]->cookie) ||
			    (i == 2 && !strcmp(r[2]->cookie, r[1]->cookie)))
				return err_set(e, EX_USAGE_, "traffic.sticky is cookie, but servers of "
				    "'%s' share the cookie value '%s': users could not be told apart",
				    px, r[i]->cookie);
		break;
	case STICKY_HEADER:
		if (strcmp(algo, "hdr"))
			return err_set(e, EX_USAGE_, "traffic.sticky is header:%s, but backend '%s' "
			    "balances by '%s' (add 'balance hdr(%s)' and 'hash-type consistent')",
			    c->sticky_name, px, *algo ? algo : "?", c->sticky_name);
		break;
	case STICKY_SOURCE:
		if (strcmp(algo, "source"))
			return err_set(e, EX_USAGE_, "traffic.sticky is source, but backend '%s' "
			    "balances by '%s' (add 'balance source' and 'hash-type consistent')", px,
			    *algo ? algo : "?");
		break;
	}
	return 0;
}

int
traffic_check(struct traffic *t, struct err *e)
{
	const struct rollout_traffic *c = t->cfg;
	struct hap_stat st;
	char *v = NULL;
	int rc;

	if (c->driver != TRAFFIC_HAPROXY)
		return 0;
	if (haproxy_show_stat(&t->hap, &st, e) < 0)
		return -1;
	rc = hap_check_sticky(t, &st, e);
	hap_stat_free(&st);
	if (rc < 0)
		return -1;
	if (c->route_map && haproxy_map_get(&t->hap, c->route_map, c->route_value, &v, e) < 0) {
		err_prefix(e, "traffic.route.map");
		return -1;
	}
	free(v);
	return 0;
}
