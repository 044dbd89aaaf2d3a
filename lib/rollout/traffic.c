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
		int hit = 0;

		if (p[0] == '{' && p[1] == '{') {
			for (i = 0; i < n; i++) {
				size_t k = strlen(names[i]);

				if (!strncmp(p + 2, names[i], k) && !strncmp(p + 2 + k, "}}", 2)) {
					buf_addf(&b, "\"$%d\"", i + 1);
					p += 4 + k;
					hit = 1;
					break;
				}
			}
		}
		if (!hit)
			buf_addc(&b, *p++);
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
		"canary" };
	char sw[16], cw[16];
	const char *values[5];

	snprintf(sw, sizeof(sw), "%d", 100 - weight);
	snprintf(cw, sizeof(cw), "%d", weight);
	values[0] = sw;
	values[1] = cw;
	values[2] = t->image;
	values[3] = t->stable ? t->stable : "";
	values[4] = t->canary ? t->canary : "";
	return rollout_sh(what, text, names, values, 5, NULL, e);
}

static int
hap_save(struct traffic *t, struct err *e)
{
	if (!t->cfg->state_file)
		return 0;
	return haproxy_save_state(&t->hap, t->cfg->backend, t->cfg->state_file, e);
}

int
traffic_set(struct traffic *t, int weight, struct err *e)
{
	const char *px = t->cfg->backend;

	switch (t->cfg->driver) {
	case TRAFFIC_EXEC:
		return exec_set(t, t->cfg->set, weight, "traffic.set", e);
	case TRAFFIC_NGINX:
		return nginx_set(t->cfg, t->stable, t->canary, weight, e);
	}
	/* A canary left in maint by an earlier abort comes back first; the
	 * stable slot is never in maint while it serves. */
	if (haproxy_set_state(&t->hap, px, t->stable, "ready", e) < 0 ||
	    haproxy_set_weight(&t->hap, px, t->stable, 100 - weight, e) < 0)
		return -1;
	if (weight > 0 && haproxy_set_state(&t->hap, px, t->canary, "ready", e) < 0)
		return -1;
	if (haproxy_set_weight(&t->hap, px, t->canary, weight, e) < 0)
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
	int cur, init, scur;

	switch (t->cfg->driver) {
	case TRAFFIC_EXEC:
		return exec_get(t, weight, e);
	case TRAFFIC_NGINX:
		return nginx_get(t->cfg, t->stable, t->canary, weight, e) < 0 ? -1 : 1;
	}
	if (haproxy_get_weight(&t->hap, t->cfg->backend, t->canary, &cur, &init, e) < 0 ||
	    haproxy_get_weight(&t->hap, t->cfg->backend, t->stable, &scur, &init, e) < 0)
		return -1;
	if (cur + scur == 0) {
		*weight = 0;
		return 1;
	}
	*weight = (cur * 100 + (cur + scur) / 2) / (cur + scur);
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
		return nginx_set(t->cfg, t->stable, t->canary, 0, e);
	}
	/* Weight first: from here no new request reaches the canary; then
	 * maint and shutdown move the users that a cookie or a hash pinned. */
	if (haproxy_set_weight(&t->hap, px, t->canary, 0, e) < 0 ||
	    haproxy_set_weight(&t->hap, px, t->stable, 100, e) < 0 ||
	    haproxy_set_state(&t->hap, px, t->stable, "ready", e) < 0 ||
	    haproxy_set_state(&t->hap, px, t->canary, "maint", e) < 0 ||
	    haproxy_shutdown_sessions(&t->hap, px, t->canary, e) < 0)
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
		return nginx_set(t->cfg, t->stable, t->canary, 100, e);
	}
	if (haproxy_set_state(&t->hap, px, t->canary, "ready", e) < 0 ||
	    haproxy_set_weight(&t->hap, px, t->canary, 100, e) < 0 ||
	    haproxy_set_weight(&t->hap, px, t->stable, 0, e) < 0)
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
