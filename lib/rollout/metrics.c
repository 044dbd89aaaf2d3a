/*
 * metrics: measuring canary and stable each interval (metrics.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "core/buf.h"
#include "core/encode.h"
#include "core/json.h"
#include "core/log.h"
#include "net/http.h"
#include "rollout/haproxy.h"
#include "rollout/metrics.h"
#include "rollout/stats.h"
#include "smoke/smoke.h"
#include "core/timeutil.h"

#define LOG_SAMPLES_MAX 2000000
#define LOG_DGRAM_MAX 65536

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
	const char *slots[2] = { traffic_compare(m->t), m->t->canary };
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

static void
logs_reset(struct metrics_ctx *m)
{
	size_t i;

	for (i = 0; i < m->nlogs; i++) {
		int k;

		for (k = 0; k < 2; k++) {
			m->logs[i].lat[k].n = m->logs[i].done[k].n = 0;
			m->logs[i].lat[k].dropped = m->logs[i].done[k].dropped = 0;
		}
	}
}

int
metrics_begin(struct metrics_ctx *m, struct err *e)
{
	m->have_last = 0;
	memset(m->delta, 0, sizeof(m->delta));
	logs_reset(m);
	probes_begin(m);
	if (m->t->cfg->driver != TRAFFIC_HAPROXY)
		return 0;
	if (read_counters(m, m->last, &m->pid, &m->uptime, e) < 0)
		return -1;
	m->have_last = 1;
	return 0;
}

static void drain(struct metrics_ctx *m, struct loglistener *L);

int
metrics_sample(struct metrics_ctx *m, struct err *e)
{
	struct counters now[2];
	long long pid, up;
	int i, reset;
	size_t j;

	/* The log records of the interval that ends now are measured apart
	 * from those that keep arriving. */
	for (j = 0; j < m->nlogs; j++) {
		struct loglistener *L = &m->logs[j];

		drain(m, L);
		for (i = 0; i < 2; i++) {
			struct latencies t = L->done[i];

			L->done[i] = L->lat[i];
			L->lat[i] = t;
			L->lat[i].n = 0;
			L->lat[i].dropped = 0;
		}
	}
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

void
metrics_judge(const struct rollout_metric *mt, struct measurement *o, double tolerance_p)
{
	if (mt->has_max && o->canary > mt->max) {
		o->verdict = V_FAIL;
		snprintf(o->why, sizeof(o->why), "%s %g > %g", mt->name, o->canary, mt->max);
		return;
	}
	if (mt->has_max_increase && o->has_stable && o->canary - o->stable > mt->max_increase &&
	    (tolerance_p < 0 || o->p < tolerance_p)) {
		o->verdict = V_FAIL;
		snprintf(o->why, sizeof(o->why), "%s %g is %g over %s's %g (at most +%g)",
		    mt->name, o->canary, o->canary - o->stable, o->versus, o->stable,
		    mt->max_increase);
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
	metrics_judge(mt, o, m->spec->alpha);
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
			    " vs %s %.1f%%: more than +%g%% (p = %.3g)", o->versus, o->stable,
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
	struct json_opts jo = { name, 0, 0 };
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

/* 1 value, 0 no data, -1 error (usage errors keep their code). */
static int
prom_query(const struct rollout_metric *mt, const char *canary, const char *stable, double *v,
    struct err *e)
{
	struct http_opts ho;
	struct http_response resp = HTTP_RESPONSE_INIT;
	static const char *const names[] = { "canary", "stable" };
	const char *values[2] = { canary, stable };
	char *q, *enc, *url, *shown;
	size_t L = strlen(mt->address);
	CURL *c;
	int rc;

	/* Checked here, as the hurl file of a synthetic metric is: a CA
	 * file that cannot be used is the spec's fault. */
	if (mt->ca_file && http_ca_file_check(mt->ca_file, e) < 0) {
		err_prefix(e, "metric '%s': ca_file", mt->name);
		return -1;
	}
	if (curl_load(e) < 0)
		return err_prefix(e, "metric '%s'", mt->name);
	q = rollout_subst(mt->query, names, values, 2);
	enc = http_urlencode(q);
	/* Credentials in the address are sent, never shown. */
	shown = url_redact(mt->address);
	memset(&ho, 0, sizeof(ho));
	ho.connect_timeout_ms = 5000;
	ho.max_time_ms = 10000;
	ho.body_max = 16u << 20;
	ho.ca_file = mt->ca_file;
	url = xasprintf("%.*s/api/v1/query?query=%s", (int)(L && mt->address[L - 1] == '/' ?
	    L - 1 : L), mt->address, enc);
	c = http_easy(&ho, &resp);
	curl_easy_setopt(c, CURLOPT_URL, url);
	{
		char what[512];

		snprintf(what, sizeof(what), "metric '%s': Prometheus at '%s'", mt->name, shown);
		rc = http_perform(c, &resp, what, e);
	}
	if (rc == 0 && resp.status == 400) {
		rc = err_set(e, EX_USAGE_, "metric '%s': Prometheus refused the query '%s': %.200s",
		    mt->name, q, buf_str(&resp.body));
	} else if (rc == 0 && resp.status != 200) {
		rc = err_set(e, EX_SERVICE, "metric '%s': Prometheus at '%s' answered %ld", mt->name,
		    shown, resp.status);
	} else if (rc == 0) {
		char name[256];

		snprintf(name, sizeof(name), "metric '%s': Prometheus answer", mt->name);
		rc = prometheus_parse(buf_str(&resp.body), resp.body.len, name, v, e);
	}
	curl_easy_cleanup(c);
	http_response_free(&resp);
	free_secret(url);
	free(enc);
	free(q);
	free(shown);
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

/* One side's value of a one-number source: 1 with *v, 0 for no data, -1
 * with e set.  side 1 is the canary, 0 what it is compared with. */
static int
side_value(struct metrics_ctx *m, const struct rollout_metric *mt, int side, const char *role,
    double *v, struct err *e)
{
	const char *me = side ? m->t->canary : traffic_compare(m->t);
	const char *other = side ? traffic_compare(m->t) : m->t->canary;

	switch (mt->source) {
	case METRIC_PROMETHEUS:
		return prom_query(mt, me, other, v, e);
	case METRIC_RESOURCES:
		return probe_resources_value(m, mt, side, v, e);
	}
	return exec_query(mt, me, role, v, e);
}

static void
measure_value(struct metrics_ctx *m, const struct rollout_metric *mt, struct measurement *o)
{
	struct err e = { 0, "" };
	int rc, rs = 0;

	rc = side_value(m, mt, 1, "canary", &o->canary, &e);
	if (rc == 1 && mt->has_max_increase) {
		struct err e2 = { 0, "" };

		rs = side_value(m, mt, 0, o->versus, &o->stable, &e2);
		if (rs < 0) {
			rc = -1;
			e = e2;
		}
	}
	if (rc < 0) {
		o->error = 1;
		o->verdict = V_INCONCLUSIVE;
		/* A query Prometheus refuses is the spec's fault: say so loudly. */
		o->critical = e.code == EX_USAGE_ && mt->source == METRIC_PROMETHEUS;
		snprintf(o->why, sizeof(o->why), "%s", e.msg);
		return;
	}
	if (rc == 0) {
		/* Read fine, nothing in it: no verdict, which the step's own
		 * rule (every metric judged once) turns into a wait. */
		o->verdict = V_INCONCLUSIVE;
		snprintf(o->why, sizeof(o->why), "metric '%s': no data%s", mt->name,
		    mt->source == METRIC_RESOURCES ? " (a first CPU sample: no rate yet)" : "");
		return;
	}
	o->has_canary = 1;
	o->has_stable = rs == 1;
	metrics_judge(mt, o, -1);
	if (o->verdict == V_FAIL && mt->source == METRIC_RESOURCES)
		snprintf(o->why + strlen(o->why), sizeof(o->why) - strlen(o->why),
		    " (%% of the %s limit of '%s')", mt->resource == RESOURCE_CPU ? "CPU" : "memory",
		    m->t->canary);
}

/* ---- haproxy-log: per-request records over UDP syslog ------------------ */

static int
all_digits(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* "TR/Tw/Tc/Tr/Ta" (each -1, N or +N): Ta into *ta. */
static int
timers(const char *s, size_t n, long long *ta)
{
	const char *p = s, *end = s + n;
	int k;

	for (k = 0; k < 5; k++) {
		const char *q = p;
		long long v = 0;
		int neg = 0;

		if (q < end && (*q == '+' || *q == '-')) {
			neg = *q == '-';
			q++;
		}
		if (q >= end || *q < '0' || *q > '9')
			return 0;
		while (q < end && *q >= '0' && *q <= '9') {
			if (v > 100000000000LL)
				return 0;
			v = v * 10 + (*q++ - '0');
		}
		if (k < 4 && (q >= end || *q != '/'))
			return 0;
		if (k == 4 && q != end)
			return 0;
		if (k == 4)
			*ta = neg ? -v : v;
		p = q + 1;
	}
	return 1;
}

int
haproxy_log_parse(const char *line, size_t len, char *backend, char *server, long *status,
    long long *ta_ms)
{
	const char *tok[64];
	size_t tlen[64], nt = 0, i = 0, k;

	/* Split on spaces; HAProxy's httplog fields never hold one before
	 * the request line, which comes last. */
	while (i < len && nt < 64) {
		while (i < len && (line[i] == ' ' || line[i] == '\n' || line[i] == '\r'))
			i++;
		if (i >= len || line[i] == '"')
			break;
		tok[nt] = line + i;
		while (i < len && line[i] != ' ' && line[i] != '\n' && line[i] != '\r')
			i++;
		tlen[nt] = (size_t)(line + i - tok[nt]);
		nt++;
	}
	/* "backend/server" "TR/Tw/Tc/Tr/Ta" "status": the first such triple. */
	for (k = 0; k + 2 < nt; k++) {
		const char *slash = memchr(tok[k], '/', tlen[k]);
		size_t bl, sl;

		if (!slash || !timers(tok[k + 1], tlen[k + 1], ta_ms))
			continue;
		if (!(tlen[k + 2] == 3 && all_digits(tok[k + 2], 3)) &&
		    !(tlen[k + 2] == 2 && !memcmp(tok[k + 2], "-1", 2)))
			continue;
		bl = (size_t)(slash - tok[k]);
		sl = tlen[k] - bl - 1;
		if (bl == 0 || sl == 0 || bl > 127 || sl > 127)
			continue;
		memcpy(backend, tok[k], bl);
		backend[bl] = '\0';
		memcpy(server, slash + 1, sl);
		server[sl] = '\0';
		/* The three digits themselves: the token need not end in a NUL
		 * (a datagram is not a string), and strtol() would read on. */
		*status = tok[k + 2][0] == '-' ? -1 : (tok[k + 2][0] - '0') * 100L +
		    (tok[k + 2][1] - '0') * 10 + (tok[k + 2][2] - '0');
		return 1;
	}
	return 0;
}

static int
bind_udp(const char *addr, struct err *e)
{
	struct sockaddr_in sa;
	const char *colon = strrchr(addr, ':');
	char host[64];
	long port;
	char *end;
	int fd, sz = 4 << 20;

	if (!colon || (size_t)(colon - addr) >= sizeof(host) || colon == addr)
		return err_set(e, EX_USAGE_, "haproxy-log: listen address '%s': expected HOST:PORT", addr);
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	if (errno || *end || port < 1 || port > 65535 || inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return err_set(e, EX_USAGE_, "haproxy-log: listen address '%s': expected an IPv4 "
		    "HOST:PORT like 127.0.0.1:5514", addr);
	sa.sin_port = htons((unsigned short)port);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, EX_SERVICE, "haproxy-log: socket: %s", strerror(errno));
	/* A second of records at a few thousand a second fits. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int saved = errno;

		close(fd);
		return err_set(e, EX_SERVICE, "haproxy-log: cannot listen on '%s': %s", addr,
		    strerror(saved));
	}
	return fd;
}

int
metrics_open(struct metrics_ctx *m, struct err *e)
{
	size_t i, j;

	if (probes_open(m, e) < 0)
		return -1;
	for (i = 0; i < m->spec->nmetrics; i++) {
		const struct rollout_metric *mt = &m->spec->metrics[i];
		int fd;

		if (mt->source != METRIC_HAPROXY_LOG)
			continue;
		for (j = 0; j < m->nlogs; j++)
			if (!strcmp(m->logs[j].addr, mt->listen))
				break;
		if (j < m->nlogs)
			continue;
		if ((fd = bind_udp(mt->listen, e)) < 0)
			return -1;
		m->logs = xrealloc(m->logs, (m->nlogs + 1) * sizeof(*m->logs));
		memset(&m->logs[m->nlogs], 0, sizeof(m->logs[0]));
		m->logs[m->nlogs].addr = xstrdup(mt->listen);
		m->logs[m->nlogs].fd = fd;
		m->nlogs++;
	}
	return 0;
}

void
metrics_close(struct metrics_ctx *m)
{
	size_t i;

	for (i = 0; i < m->nlogs; i++) {
		close(m->logs[i].fd);
		free(m->logs[i].addr);
		free(m->logs[i].lat[0].v);
		free(m->logs[i].lat[1].v);
		free(m->logs[i].done[0].v);
		free(m->logs[i].done[1].v);
	}
	free(m->logs);
	m->logs = NULL;
	m->nlogs = 0;
	probes_close(m);
}

static void
lat_add(struct latencies *l, long long v)
{
	if (l->n >= LOG_SAMPLES_MAX) {
		l->dropped++;
		return;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = v;
}

static void
drain(struct metrics_ctx *m, struct loglistener *L)
{
	char buf[LOG_DGRAM_MAX + 1], be[128], sv[128];
	long status;
	long long ta;
	ssize_t n;

	while ((n = recv(L->fd, buf, LOG_DGRAM_MAX, 0)) >= 0) {
		L->lines++;
		if (!haproxy_log_parse(buf, (size_t)n, be, sv, &status, &ta) || ta < 0 ||
		    strcmp(be, m->t->cfg->backend ? m->t->cfg->backend : "")) {
			L->foreign++;
			continue;
		}
		if (!strcmp(sv, traffic_compare(m->t)))
			lat_add(&L->lat[0], ta);
		else if (!strcmp(sv, m->t->canary))
			lat_add(&L->lat[1], ta);
		else
			L->foreign++;
	}
}

int
metrics_wait(struct metrics_ctx *m, long long ms, const volatile sig_atomic_t *stop)
{
	struct pollfd pf[16];
	long long end = mono_ms() + ms;
	size_t i, n = m->nlogs < 16 ? m->nlogs : 16;

	if (n == 0)
		return sleep_ms(ms, stop);
	for (;;) {
		long long left = end - mono_ms();

		if (stop && *stop)
			return -1;
		for (i = 0; i < n; i++) {
			pf[i].fd = m->logs[i].fd;
			pf[i].events = POLLIN;
			pf[i].revents = 0;
		}
		if (poll(pf, (nfds_t)n, left <= 0 ? 0 : left > 100 ? 100 : (int)left) > 0) {
			for (i = 0; i < n; i++)
				if (pf[i].revents & POLLIN)
					drain(m, &m->logs[i]);
			/* Let records gather: one wake-up per 10 ms, not one per
			 * datagram (the socket buffer holds far more). */
			if (left > 20 && sleep_ms(10, stop) < 0)
				return -1;
		}
		if (left <= 0)
			return 0;
	}
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static double *
as_doubles(const struct latencies *l)
{
	double *d = xmalloc((l->n ? l->n : 1) * sizeof(*d));
	size_t i;

	for (i = 0; i < l->n; i++)
		d[i] = (double)l->v[i];
	return d;
}

static void
measure_log(struct metrics_ctx *m, const struct rollout_metric *mt, struct measurement *o)
{
	struct loglistener *L = NULL;
	struct latencies *c, *s;
	size_t i;

	for (i = 0; i < m->nlogs && !L; i++)
		if (!strcmp(m->logs[i].addr, mt->listen))
			L = &m->logs[i];
	if (!L) {
		o->error = 1;
		o->verdict = V_INCONCLUSIVE;
		snprintf(o->why, sizeof(o->why), "%s: no listener on '%s'", mt->name, mt->listen);
		return;
	}
	s = &L->done[0];
	c = &L->done[1];
	o->canary_n = (long long)c->n;
	o->stable_n = (long long)s->n;
	if (c->n == 0) {
		o->verdict = V_INCONCLUSIVE;
		snprintf(o->why, sizeof(o->why), "%s: no request of the canary in HAProxy's log "
		    "(%lld records on '%s')", mt->name, L->lines, L->addr);
		return;
	}
	qsort(c->v, c->n, sizeof(*c->v), cmp_ll);
	o->has_canary = 1;
	o->canary = (double)smoke_percentile(c->v, c->n, mt->quantile);
	if (s->n > 0) {
		double *x = as_doubles(c), *y = as_doubles(s);

		qsort(s->v, s->n, sizeof(*s->v), cmp_ll);
		o->has_stable = 1;
		o->stable = (double)smoke_percentile(s->v, s->n, mt->quantile);
		o->p = stats_mann_whitney_greater(x, c->n, y, s->n);
		free(x);
		free(y);
	}
	metrics_judge(mt, o, m->spec->alpha);
	if (o->verdict == V_FAIL) {
		if (mt->has_max && o->canary > mt->max)
			snprintf(o->why, sizeof(o->why), "%s %gms > %gms (p%g of %zu canary requests)",
			    mt->name, o->canary, mt->max, mt->quantile, c->n);
		else
			snprintf(o->why, sizeof(o->why), "%s %gms vs %s %gms: more than +%gms "
			    "(Mann-Whitney p = %.3g, %zu and %zu requests)", mt->name, o->canary,
			    o->versus, o->stable, mt->max_increase, o->p, c->n, s->n);
	}
}

void
metrics_measure(struct metrics_ctx *m, const struct rollout_metric *mt, struct measurement *o)
{
	memset(o, 0, sizeof(*o));
	o->p = -1;
	o->versus = m->t->baseline ? "baseline" : "stable";
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
	case METRIC_HAPROXY_LOG:
		measure_log(m, mt, o);
		break;
	case METRIC_SYNTHETIC:
		measure_synthetic(m, mt, o);
		break;
	default:
		measure_value(m, mt, o);
		break;
	}
	if (mt->critical && o->verdict == V_FAIL)
		o->critical = 1;
}
