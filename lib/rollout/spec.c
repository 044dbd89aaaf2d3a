/*
 * spec: the rollout spec, its defaults and its checks (spec.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "net/http.h"
#include "rollout/nginx.h"
#include "rollout/spec.h"

#define SPEC_MAX_BYTES (1u << 20)
#define MAX_STEPS 100
#define MAX_METRICS 64

static const struct rollout_step seed_steps[] = {
	{ 5, 10 * 60 * 1000LL }, { 25, 10 * 60 * 1000LL }, { 50, 5 * 60 * 1000LL }, { 100, 0 }
};

const char *
metric_source_name(int source)
{
	switch (source) {
	case METRIC_HAPROXY: return "haproxy";
	case METRIC_HEALTH: return "health";
	case METRIC_PROMETHEUS: return "prometheus";
	case METRIC_EXEC: return "exec";
	case METRIC_HAPROXY_LOG: return "haproxy-log";
	case METRIC_RESOURCES: return "resources";
	case METRIC_SYNTHETIC: return "synthetic";
	}
	return "?";
}

static void
metric_free(struct rollout_metric *m)
{
	free(m->name);
	free(m->query);
	free(m->address);
	free(m->ca_file);
	free(m->command);
	free(m->listen);
	free(m->instance);
	free(m->runc_root);
	free(m->file);
	cJSON_Delete(m->urls);
	memset(m, 0, sizeof(*m));
}

static struct rollout_metric *
metric_add(struct rollout_spec *s, const char *name, int source)
{
	struct rollout_metric *m, *v;

	v = xrealloc(s->metrics, (s->nmetrics + 1) * sizeof(*v));
	s->metrics = v;
	m = &v[s->nmetrics++];
	memset(m, 0, sizeof(*m));
	m->name = xstrdup(name);
	m->source = source;
	return m;
}

void
rollout_spec_init(struct rollout_spec *s)
{
	struct rollout_metric *m;

	memset(s, 0, sizeof(*s));
	s->nsteps = sizeof(seed_steps) / sizeof(seed_steps[0]);
	s->steps = xmalloc(sizeof(seed_steps));
	memcpy(s->steps, seed_steps, sizeof(seed_steps));
	s->interval_ms = 60 * 1000;
	s->failure_limit = 3;
	s->consecutive_error_limit = 4;
	s->min_requests = 50;
	s->max_extend_ms = -1;		/* the step's own pause, when not given */
	s->alpha = 0.05;
	/* The seed's analysis: error rate under 5%; the load balancer's
	 * health check of the canary is watched too. */
	m = metric_add(s, "error-rate", METRIC_HAPROXY);
	if (m) {
		m->has_max = 1;
		m->max = 5;
	}
	m = metric_add(s, "health", METRIC_HEALTH);
	if (m)
		m->critical = 1;
}

void
rollout_spec_free(struct rollout_spec *s)
{
	size_t i;

	free(s->app);
	free(s->traffic.socket);
	free(s->traffic.backend);
	free(s->traffic.slots[0]);
	free(s->traffic.slots[1]);
	free(s->traffic.state_file);
	free(s->traffic.set);
	free(s->traffic.get);
	free(s->traffic.promote);
	free(s->traffic.upstream);
	free(s->traffic.file);
	for (i = 0; i < TRAFFIC_SERVERS_MAX; i++) {
		free(s->traffic.server_slot[i]);
		free(s->traffic.server_addr[i]);
	}
	free(s->traffic.test);
	free(s->traffic.reload);
	free(s->traffic.sticky_name);
	free(s->traffic.route_header);
	free(s->traffic.route_value);
	free(s->traffic.route_map);
	free(s->traffic.baseline);
	cJSON_Delete(s->traffic.json);
	free(s->steps);
	for (i = 0; i < s->nmetrics; i++)
		metric_free(&s->metrics[i]);
	free(s->metrics);
	memset(s, 0, sizeof(*s));
}

/* Refuse keys of obj not in the NULL-terminated list. */
static int
known_keys(const cJSON *obj, const char *path, const char *const *keys,
    const struct json_src *src, struct err *e)
{
	const cJSON *it;
	size_t i;

	if (!cJSON_IsObject(obj))
		return json_error_at(e, src, obj, path, "expected an object");
	cJSON_ArrayForEach(it, obj) {
		for (i = 0; keys[i]; i++)
			if (!strcmp(it->string, keys[i]))
				break;
		if (!keys[i]) {
			struct buf b = BUF_INIT;
			int rc;

			for (i = 0; keys[i]; i++)
				buf_addf(&b, "%s%s", i ? ", " : "", keys[i]);
			rc = json_error_at(e, src, it, path, "unknown key '%s' (expected %s)", it->string,
			    buf_str(&b));
			buf_free(&b);
			return rc;
		}
	}
	return 0;
}

static int
get_string(const cJSON *obj, const char *key, const char *path, char **out,
    const struct json_src *src, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!v)
		return 0;
	if (!cJSON_IsString(v) || !*v->valuestring)
		return json_error_at(e, src, v, path, "'%s' must be a non-empty string", key);
	free(*out);
	*out = xstrdup(v->valuestring);
	return 0;
}

static int
get_duration(const cJSON *obj, const char *key, const char *path, long long *out,
    const struct json_src *src, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	const char *why = NULL;

	if (!v)
		return 0;
	if (!cJSON_IsString(v) || parse_duration(v->valuestring, out, &why) < 0)
		return json_error_at(e, src, v, path, "'%s' must be a duration like \"60s\" or \"10m\"%s%s",
		    key, why ? ": " : "", why ? why : "");
	return 0;
}

static int
get_int(const cJSON *obj, const char *key, const char *path, long long lo, long long hi,
    long long *out, const struct json_src *src, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	long long n;

	if (!v)
		return 0;
	if (json_get_i64(v, &n) < 0 || cJSON_IsString(v) || n < lo || n > hi)
		return json_error_at(e, src, v, path, "'%s' must be a whole number from %lld to %lld", key,
		    lo, hi);
	*out = n;
	return 0;
}

static int
get_number(const cJSON *obj, const char *key, const char *path, int *has, double *out,
    const struct json_src *src, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return json_error_at(e, src, v, path, "'%s' must be a number", key);
	*out = v->valuedouble;
	*has = 1;
	return 0;
}

const char *
rollout_server_addr(const struct rollout_traffic *t, const char *name)
{
	int i;

	for (i = 0; i < TRAFFIC_SERVERS_MAX && t->server_slot[i]; i++)
		if (name && !strcmp(t->server_slot[i], name))
			return t->server_addr[i];
	return NULL;
}

static const char *
driver_name(int driver)
{
	switch (driver) {
	case TRAFFIC_HAPROXY: return "haproxy";
	case TRAFFIC_EXEC: return "exec";
	case TRAFFIC_NGINX: return "nginx";
	}
	return "?";
}

/* The keys of the traffic object, and which drivers read each: a key of
 * another driver is a mistake the user must hear about, not a no-op. */
#define FOR_ALL ((1 << TRAFFIC_HAPROXY) | (1 << TRAFFIC_EXEC) | (1 << TRAFFIC_NGINX))
static const struct {
	const char *key;
	int drivers;
} traffic_keys[] = {
	{ "driver", FOR_ALL }, { "slots", FOR_ALL },
	{ "socket", 1 << TRAFFIC_HAPROXY }, { "backend", 1 << TRAFFIC_HAPROXY },
	{ "state_file", 1 << TRAFFIC_HAPROXY },
	{ "set", 1 << TRAFFIC_EXEC }, { "get", 1 << TRAFFIC_EXEC }, { "promote", 1 << TRAFFIC_EXEC },
	{ "upstream", 1 << TRAFFIC_NGINX }, { "file", 1 << TRAFFIC_NGINX },
	{ "servers", 1 << TRAFFIC_NGINX }, { "test", 1 << TRAFFIC_NGINX },
	{ "reload", 1 << TRAFFIC_NGINX },
	{ "sticky", 1 << TRAFFIC_HAPROXY | 1 << TRAFFIC_NGINX },
	{ "route", 1 << TRAFFIC_HAPROXY | 1 << TRAFFIC_NGINX },
	{ "baseline", FOR_ALL },
};
#define NTRAFFIC_KEYS (sizeof(traffic_keys) / sizeof(traffic_keys[0]))

static int
driver_keys(const struct rollout_traffic *tr, const cJSON *t, const struct json_src *src,
    struct err *e)
{
	const cJSON *it;
	size_t i;
	int d;

	cJSON_ArrayForEach(it, t) {
		for (i = 0; i < NTRAFFIC_KEYS; i++)
			if (!strcmp(it->string, traffic_keys[i].key))
				break;
		if (i == NTRAFFIC_KEYS || (traffic_keys[i].drivers & (1 << tr->driver)))
			continue;
		{
			char names[64] = "";
			int k = 0;

			for (d = TRAFFIC_HAPROXY; d <= TRAFFIC_NGINX; d++)
				if (traffic_keys[i].drivers & (1 << d))
					snprintf(names + strlen(names), sizeof(names) - strlen(names),
					    "%s%s", k++ ? " and " : "", driver_name(d));
			return json_error_at(e, src, it, "traffic", "'%s' is for the %s driver%s, not %s",
			    it->string, names, k > 1 ? "s" : "", driver_name(tr->driver));
		}
	}
	return 0;
}

/* The nginx driver's servers: the slots' and, with a baseline, its own. */
static int
load_servers(struct rollout_traffic *tr, const cJSON *t, const struct json_src *src,
    struct err *e)
{
	const cJSON *sv = cJSON_GetObjectItemCaseSensitive(t, "servers"), *it;
	const char *slot[2];
	struct err ce = { 0, "" };
	int n, i = 0, k;

	if (!sv)
		return json_error_at(e, src, t, "traffic", "the nginx driver needs 'servers' (each "
		    "slot's address, like {\"blue\": \"127.0.0.1:8001\", \"green\": \"127.0.0.1:8002\"})");
	n = cJSON_IsObject(sv) ? cJSON_GetArraySize(sv) : 0;
	if (n != 2 && n != TRAFFIC_SERVERS_MAX)
		return json_error_at(e, src, sv, "traffic.servers", "expected the two slots' "
		    "addresses, like {\"blue\": \"127.0.0.1:8001\", \"green\": \"127.0.0.1:8002\"}, "
		    "and the baseline's with traffic.baseline");
	if (n == TRAFFIC_SERVERS_MAX && !tr->baseline)
		return json_error_at(e, src, sv, "traffic.servers", "three servers, but no "
		    "traffic.baseline: name the third there, or give the two slots alone");
	cJSON_ArrayForEach(it, sv) {
		if (!cJSON_IsString(it))
			return json_error_at(e, src, it, "traffic.servers",
			    "'%s' must be an address string, like \"127.0.0.1:8001\"", it->string);
		if (nginx_check_server(it->valuestring, &ce) < 0)
			return json_error_at(e, src, it, "traffic.servers", "'%s': %s", it->string,
			    ce.msg);
		free(tr->server_slot[i]);
		free(tr->server_addr[i]);
		tr->server_slot[i] = xstrdup(it->string);
		tr->server_addr[i++] = xstrdup(it->valuestring);
	}
	for (i = 0; i < n; i++)
		for (k = i + 1; k < n; k++)
			if (!strcmp(tr->server_addr[i], tr->server_addr[k]))
				return json_error_at(e, src, sv, "traffic.servers", "'%s' and '%s' have "
				    "the same address '%s': each must be a server of its own",
				    tr->server_slot[i], tr->server_slot[k], tr->server_addr[i]);
	slot[0] = tr->slots[0] ? tr->slots[0] : "blue";
	slot[1] = tr->slots[1] ? tr->slots[1] : "green";
	for (k = 0; k < 2; k++)
		if (!rollout_server_addr(tr, slot[k]))
			return json_error_at(e, src, sv, "traffic.servers", "no address for the slot "
			    "'%s' (the slots are '%s' and '%s')", slot[k], slot[0], slot[1]);
	if (tr->baseline && !rollout_server_addr(tr, tr->baseline))
		return json_error_at(e, src, cJSON_GetObjectItemCaseSensitive(t, "baseline"),
		    "traffic.baseline", "'%s' is not in traffic.servers: give its address there "
		    "too", tr->baseline);
	return 0;
}

/* The nginx driver's keys: the upstream, its file, the servers. */
static int
load_nginx(struct rollout_traffic *tr, const cJSON *t, const struct json_src *src,
    struct err *e)
{
	struct err ce = { 0, "" };

	if (get_string(t, "upstream", "traffic.upstream", &tr->upstream, src, e) < 0 ||
	    get_string(t, "file", "traffic.file", &tr->file, src, e) < 0 ||
	    get_string(t, "test", "traffic.test", &tr->test, src, e) < 0 ||
	    get_string(t, "reload", "traffic.reload", &tr->reload, src, e) < 0)
		return -1;
	if (!tr->upstream)
		return json_error_at(e, src, t, "traffic",
		    "the nginx driver needs 'upstream' (the name of the upstream block it writes)");
	if (nginx_check_upstream(tr->upstream, &ce) < 0)
		return json_error_at(e, src, cJSON_GetObjectItemCaseSensitive(t, "upstream"),
		    "traffic.upstream", "%s", ce.msg);
	if (!tr->file)
		return json_error_at(e, src, t, "traffic", "the nginx driver needs 'file' (a file "
		    "of its own for the upstream block, which nginx.conf includes)");
	if (load_servers(tr, t, src, e) < 0)
		return -1;
	if (!tr->test)
		tr->test = xstrdup("nginx -t");
	if (!tr->reload)
		tr->reload = xstrdup("nginx -s reload");
	return 0;
}

/* "sticky": "cookie", "cookie:NAME", "header:NAME" or "source". */
static int
load_sticky(struct rollout_traffic *tr, const cJSON *t, const struct json_src *src,
    struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "sticky");
	const char *s, *name = NULL;
	struct err ce = { 0, "" };

	if (!v)
		return 0;
	if (!cJSON_IsString(v))
		goto bad;
	s = v->valuestring;
	if (!strcmp(s, "cookie")) {
		tr->sticky = STICKY_COOKIE;
	} else if (!strncmp(s, "cookie:", 7)) {
		tr->sticky = STICKY_COOKIE;
		name = s + 7;
	} else if (!strncmp(s, "header:", 7)) {
		tr->sticky = STICKY_HEADER;
		name = s + 7;
	} else if (!strcmp(s, "source")) {
		tr->sticky = STICKY_SOURCE;
	} else {
		goto bad;
	}
	if (name && !http_token_ok(name))
		return json_error_at(e, src, v, "traffic.sticky", "'%s' is not a cookie or header "
		    "name (letters, digits and !#$%%&'*+-.^_`|~)", name);
	if (name && strlen(name) > 100)
		return json_error_at(e, src, v, "traffic.sticky", "the name is longer than 100 bytes");
	if (name && tr->driver == TRAFFIC_NGINX && tr->sticky == STICKY_COOKIE &&
	    name[strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")])
		return json_error_at(e, src, v, "traffic.sticky", "nginx reads a cookie as "
		    "$cookie_NAME: the name '%s' must be letters, digits and '_'", name);
	if (name && tr->driver == TRAFFIC_NGINX && tr->sticky == STICKY_HEADER &&
	    nginx_check_header(name, &ce) < 0)
		return json_error_at(e, src, v, "traffic.sticky", "%s", ce.msg);
	if (name)
		tr->sticky_name = xstrdup(name);
	if (tr->driver == TRAFFIC_NGINX && tr->sticky == STICKY_COOKIE && !name)
		return json_error_at(e, src, v, "traffic.sticky", "nginx cannot insert a cookie: "
		    "name the application's own, as \"cookie:NAME\"");
	return 0;
bad:
	return json_error_at(e, src, v, "traffic.sticky",
	    "expected \"cookie\", \"cookie:NAME\", \"header:NAME\" or \"source\"");
}

/* "route": {"header": NAME, "value": TEXT} and, for haproxy, "map": PATH;
 * nginx's map is in the file ci-canary writes. */
static int
load_route(struct rollout_traffic *tr, const cJSON *t, const struct json_src *src,
    struct err *e)
{
	static const char *const keys[] = { "header", "value", "map", NULL };
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(t, "route"), *m;
	const int ngx = tr->driver == TRAFFIC_NGINX;
	struct err ce = { 0, "" };
	const char *p;

	if (!r)
		return 0;
	if (!cJSON_IsObject(r))
		return json_error_at(e, src, r, "traffic.route", "expected {\"header\": NAME, "
		    "\"value\": TEXT%s}", ngx ? "" : ", \"map\": PATH");
	if (known_keys(r, "traffic.route", keys, src, e) < 0)
		return -1;
	if (ngx && (m = cJSON_GetObjectItemCaseSensitive(r, "map")))
		return json_error_at(e, src, m, "traffic.route", "'map' is for the haproxy driver: "
		    "ci-canary writes nginx's map into traffic.file");
	if (get_string(r, "header", "traffic.route.header", &tr->route_header, src, e) < 0 ||
	    get_string(r, "value", "traffic.route.value", &tr->route_value, src, e) < 0 ||
	    get_string(r, "map", "traffic.route.map", &tr->route_map, src, e) < 0)
		return -1;
	if (ngx && (!tr->route_header || !tr->route_value))
		return json_error_at(e, src, r, "traffic.route", "needs 'header' and 'value'");
	if (!ngx && (!tr->route_header || !tr->route_value || !tr->route_map))
		return json_error_at(e, src, r, "traffic.route", "needs 'header', 'value' and "
		    "'map' (the map file HAProxy's configuration looks the header up in)");
	if (!http_token_ok(tr->route_header))
		return json_error_at(e, src, r, "traffic.route.header", "'%s' is not a header "
		    "name", tr->route_header);
	if (ngx) {
		if (nginx_check_header(tr->route_header, &ce) < 0)
			return json_error_at(e, src, cJSON_GetObjectItemCaseSensitive(r, "header"),
			    "traffic.route.header", "%s", ce.msg);
		if (nginx_check_route_value(tr->route_value, &ce) < 0)
			return json_error_at(e, src, cJSON_GetObjectItemCaseSensitive(r, "value"),
			    "traffic.route.value", "%s", ce.msg);
		return 0;
	}
	/* The value and the path travel in one runtime API command line. */
	for (p = tr->route_value; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == ';' || *p == '\\' || *p == 0x7f)
			return json_error_at(e, src, r, "traffic.route.value", "'%s': blanks, "
			    "';' and control characters cannot be looked up in a map",
			    tr->route_value);
	for (p = tr->route_map; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == ';' || *p == 0x7f)
			return json_error_at(e, src, r, "traffic.route.map", "'%s': a path "
			    "without blanks or ';'", tr->route_map);
	return 0;
}

static int
load_traffic(struct rollout_spec *s, const cJSON *t, const struct json_src *src, struct err *e)
{
	const char *keys[NTRAFFIC_KEYS + 1];
	const cJSON *d, *slots;
	char *driver = NULL;
	size_t i;

	for (i = 0; i < NTRAFFIC_KEYS; i++)
		keys[i] = traffic_keys[i].key;
	keys[i] = NULL;
	if (known_keys(t, "traffic", keys, src, e) < 0)
		return -1;
	d = cJSON_GetObjectItemCaseSensitive(t, "driver");
	if (!d)
		return json_error_at(e, src, t, "traffic", "'driver' is missing (haproxy, nginx or exec)");
	if (get_string(t, "driver", "traffic.driver", &driver, src, e) < 0)
		return -1;
	if (!strcmp(driver, "haproxy")) {
		s->traffic.driver = TRAFFIC_HAPROXY;
	} else if (!strcmp(driver, "exec")) {
		s->traffic.driver = TRAFFIC_EXEC;
	} else if (!strcmp(driver, "nginx")) {
		s->traffic.driver = TRAFFIC_NGINX;
	} else {
		free(driver);
		return json_error_at(e, src, d, "traffic.driver",
		    "unknown driver (expected haproxy, nginx or exec)");
	}
	free(driver);
	if (driver_keys(&s->traffic, t, src, e) < 0)
		return -1;
	if (get_string(t, "socket", "traffic.socket", &s->traffic.socket, src, e) < 0 ||
	    get_string(t, "backend", "traffic.backend", &s->traffic.backend, src, e) < 0 ||
	    get_string(t, "state_file", "traffic.state_file", &s->traffic.state_file, src, e) < 0 ||
	    get_string(t, "set", "traffic.set", &s->traffic.set, src, e) < 0 ||
	    get_string(t, "get", "traffic.get", &s->traffic.get, src, e) < 0 ||
	    get_string(t, "promote", "traffic.promote", &s->traffic.promote, src, e) < 0)
		return -1;
	slots = cJSON_GetObjectItemCaseSensitive(t, "slots");
	if (slots) {
		const cJSON *a = cJSON_GetArrayItem(slots, 0), *b = cJSON_GetArrayItem(slots, 1);

		if (!cJSON_IsArray(slots) || cJSON_GetArraySize(slots) != 2 ||
		    !cJSON_IsString(a) || !cJSON_IsString(b) || !*a->valuestring ||
		    !*b->valuestring || !strcmp(a->valuestring, b->valuestring))
			return json_error_at(e, src, slots, "traffic.slots",
			    "expected two different server names, like [\"blue\", \"green\"]");
		free(s->traffic.slots[0]);
		free(s->traffic.slots[1]);
		s->traffic.slots[0] = xstrdup(a->valuestring);
		s->traffic.slots[1] = xstrdup(b->valuestring);
	}
	if (load_sticky(&s->traffic, t, src, e) < 0 || load_route(&s->traffic, t, src, e) < 0 ||
	    get_string(t, "baseline", "traffic.baseline", &s->traffic.baseline, src, e) < 0)
		return -1;
	if (s->traffic.baseline) {
		const char *a = s->traffic.slots[0] ? s->traffic.slots[0] : "blue";
		const char *b = s->traffic.slots[1] ? s->traffic.slots[1] : "green";

		if (!*s->traffic.baseline || !strcmp(s->traffic.baseline, a) ||
		    !strcmp(s->traffic.baseline, b))
			return json_error_at(e, src, cJSON_GetObjectItemCaseSensitive(t, "baseline"),
			    "traffic.baseline", "expected a third server, not one of the slots "
			    "'%s' and '%s'", a, b);
	}
	switch (s->traffic.driver) {
	case TRAFFIC_HAPROXY:
		if (!s->traffic.socket)
			return json_error_at(e, src, t, "traffic", "the haproxy driver needs 'socket'");
		if (!s->traffic.backend)
			return json_error_at(e, src, t, "traffic", "the haproxy driver needs 'backend'");
		break;
	case TRAFFIC_EXEC:
		if (!s->traffic.set)
			return json_error_at(e, src, t, "traffic", "the exec driver needs 'set'");
		break;
	case TRAFFIC_NGINX:
		if (load_nginx(&s->traffic, t, src, e) < 0)
			return -1;
		break;
	}
	cJSON_Delete(s->traffic.json);
	s->traffic.json = cJSON_Duplicate(t, 1);
	return 0;
}

static int
load_steps(struct rollout_spec *s, const cJSON *a, const struct json_src *src, struct err *e)
{
	static const char *const keys[] = { "weight", "pause", NULL };
	struct rollout_step *v;
	const cJSON *it;
	size_t n = 0;
	char path[64];

	if (!cJSON_IsArray(a))
		return json_error_at(e, src, a, "steps", "expected an array of {\"weight\": N, \"pause\": DURATION}");
	if (cJSON_GetArraySize(a) < 1 || cJSON_GetArraySize(a) > MAX_STEPS)
		return json_error_at(e, src, a, "steps", "expected 1 to %d steps", MAX_STEPS);
	v = xcalloc((size_t)cJSON_GetArraySize(a), sizeof(*v));
	cJSON_ArrayForEach(it, a) {
		long long w = -1;

		snprintf(path, sizeof(path), "steps[%zu]", n);
		if (known_keys(it, path, keys, src, e) < 0 ||
		    get_int(it, "weight", path, 1, 100, &w, src, e) < 0 ||
		    get_duration(it, "pause", path, &v[n].pause_ms, src, e) < 0)
			goto fail;
		if (w < 0) {
			json_error_at(e, src, it, path, "'weight' is missing");
			goto fail;
		}
		if (n > 0 && w <= v[n - 1].weight) {
			json_error_at(e, src, it, path, "weights must increase: %lld after %d", w, v[n - 1].weight);
			goto fail;
		}
		v[n++].weight = (int)w;
	}
	if (v[n - 1].weight != 100) {
		json_error_at(e, src, cJSON_GetArrayItem(a, (int)n - 1), "steps",
		    "the last step must have weight 100 (the canary takes all traffic)");
		goto fail;
	}
	free(s->steps);
	s->steps = v;
	s->nsteps = n;
	return 0;
fail:
	free(v);
	return -1;
}

/* The keys of a resources metric: "resource" and "instance". */
static int
load_resources(struct rollout_metric *mm, const char *resource, const cJSON *m, const char *path,
    const struct json_src *src, struct err *e)
{
	static const char *const kinds[] = { "cgroup:", "pid:", "pidfile:", "runc:", NULL };
	int i;

	if (mm->source != METRIC_RESOURCES) {
		if (resource || mm->instance || mm->runc_root)
			return json_error_at(e, src, m, path, "'resource', 'instance' and 'runc_root' "
			    "are for resources metrics");
		return 0;
	}
	if (!resource || !mm->instance)
		return json_error_at(e, src, m, path, "a resources metric needs 'resource' (cpu or "
		    "memory) and 'instance' (cgroup:PATH, pid:N, pidfile:FILE or runc:ID, with "
		    "{{slot}} for the slot's name)");
	if (!strcmp(resource, "cpu"))
		mm->resource = RESOURCE_CPU;
	else if (!strcmp(resource, "memory"))
		mm->resource = RESOURCE_MEMORY;
	else
		return json_error_at(e, src, cJSON_GetObjectItemCaseSensitive(m, "resource"), path,
		    "unknown resource '%s' (expected cpu or memory)", resource);
	for (i = 0; kinds[i]; i++)
		if (!strncmp(mm->instance, kinds[i], strlen(kinds[i])))
			break;
	if (!kinds[i])
		return json_error_at(e, src, cJSON_GetObjectItemCaseSensitive(m, "instance"), path,
		    "'%s': expected cgroup:PATH, pid:N, pidfile:FILE or runc:ID", mm->instance);
	if (!mm->name || !strcmp(mm->name, "resources")) {
		free(mm->name);
		mm->name = xstrdup(resource);
	}
	return 0;
}

/* The keys of a synthetic metric: "file" and "urls". */
static int
load_synthetic(struct rollout_metric *mm, const cJSON *m, const char *path,
    const struct json_src *src, struct err *e)
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(m, "urls"), *it;

	if (mm->source != METRIC_SYNTHETIC) {
		if (mm->file || u)
			return json_error_at(e, src, m, path, "'file' and 'urls' are for synthetic "
			    "metrics");
		return 0;
	}
	if (!mm->file)
		return json_error_at(e, src, m, path, "a synthetic metric needs 'file' (a Hurl file "
		    "run against each slot, its base URL in {{base_url}})");
	if (!mm->has_max && !mm->has_max_increase) {
		/* Any failed request of the checks is one too many. */
		mm->has_max = 1;
		mm->max = 0;
	}
	if (!u)
		return 0;
	if (!cJSON_IsObject(u) || !cJSON_GetArraySize(u))
		return json_error_at(e, src, u, path, "'urls' maps each slot to its base URL, like "
		    "{\"blue\": \"http://127.0.0.1:8001\", \"green\": \"http://127.0.0.1:8002\"}");
	cJSON_ArrayForEach(it, u)
		if (!cJSON_IsString(it) || (strncmp(it->valuestring, "http://", 7) &&
		    strncmp(it->valuestring, "https://", 8)))
			return json_error_at(e, src, it, path, "urls.%s: expected an http:// or "
			    "https:// URL", it->string);
	mm->urls = cJSON_Duplicate(u, 1);
	return 0;
}

static int
load_metric(struct rollout_spec *s, const cJSON *m, const char *path,
    const struct json_src *src, struct err *e)
{
	static const char *const keys[] = { "name", "source", "max", "max_increase", "critical",
		"query", "address", "command", "listen", "quantile", "resource", "instance",
		"runc_root", "file", "urls", "ca_file", NULL };
	struct rollout_metric mm, *dst;
	const cJSON *c;
	char *source = NULL, *resource = NULL;
	int has_q = 0;

	memset(&mm, 0, sizeof(mm));
	if (known_keys(m, path, keys, src, e) < 0 ||
	    get_string(m, "source", path, &source, src, e) < 0)
		return -1;
	if (!source)
		return json_error_at(e, src, m, path,
		    "'source' is missing (haproxy, haproxy-log, health, prometheus, exec, "
		    "resources or synthetic)");
	if (!strcmp(source, "haproxy"))
		mm.source = METRIC_HAPROXY;
	else if (!strcmp(source, "health"))
		mm.source = METRIC_HEALTH;
	else if (!strcmp(source, "prometheus"))
		mm.source = METRIC_PROMETHEUS;
	else if (!strcmp(source, "exec"))
		mm.source = METRIC_EXEC;
	else if (!strcmp(source, "haproxy-log"))
		mm.source = METRIC_HAPROXY_LOG;
	else if (!strcmp(source, "resources"))
		mm.source = METRIC_RESOURCES;
	else if (!strcmp(source, "synthetic"))
		mm.source = METRIC_SYNTHETIC;
	free(source);
	if (!mm.source) {
		c = cJSON_GetObjectItemCaseSensitive(m, "source");
		return json_error_at(e, src, c, path,
		    "unknown source '%s' (expected haproxy, haproxy-log, health, prometheus, "
		    "exec, resources or synthetic)", c->valuestring);
	}
	if (get_string(m, "name", path, &mm.name, src, e) < 0 ||
	    get_string(m, "query", path, &mm.query, src, e) < 0 ||
	    get_string(m, "address", path, &mm.address, src, e) < 0 ||
	    get_string(m, "ca_file", path, &mm.ca_file, src, e) < 0 ||
	    get_string(m, "command", path, &mm.command, src, e) < 0 ||
	    get_string(m, "listen", path, &mm.listen, src, e) < 0 ||
	    get_string(m, "resource", path, &resource, src, e) < 0 ||
	    get_string(m, "instance", path, &mm.instance, src, e) < 0 ||
	    get_string(m, "runc_root", path, &mm.runc_root, src, e) < 0 ||
	    get_string(m, "file", path, &mm.file, src, e) < 0 ||
	    get_number(m, "quantile", path, &has_q, &mm.quantile, src, e) < 0 ||
	    get_number(m, "max", path, &mm.has_max, &mm.max, src, e) < 0 ||
	    get_number(m, "max_increase", path, &mm.has_max_increase, &mm.max_increase, src, e) < 0)
		goto fail;
	c = cJSON_GetObjectItemCaseSensitive(m, "critical");
	if (c && !cJSON_IsBool(c)) {
		json_error_at(e, src, c, path, "'critical' must be true or false");
		goto fail;
	}
	mm.critical = cJSON_IsTrue(c);
	if (!mm.name)
		mm.name = xstrdup(metric_source_name(mm.source));
	if (mm.source == METRIC_PROMETHEUS && (!mm.query || !mm.address)) {
		json_error_at(e, src, m, path, "a prometheus metric needs 'address' and 'query'");
		goto fail;
	}
	if (mm.source == METRIC_HAPROXY_LOG) {
		if (!mm.listen) {
			json_error_at(e, src, m, path, "a haproxy-log metric needs 'listen' "
			    "(HOST:PORT of HAProxy's \"log\" target)");
			goto fail;
		}
		if (!has_q)
			mm.quantile = 99;
		if (mm.quantile < 50 || mm.quantile > 100) {
			json_error_at(e, src, cJSON_GetObjectItemCaseSensitive(m, "quantile"), path,
			    "'quantile' must be from 50 to 100");
			goto fail;
		}
	} else if (has_q || mm.listen) {
		json_error_at(e, src, m, path, "'listen' and 'quantile' are for haproxy-log metrics");
		goto fail;
	}
	if (mm.source == METRIC_EXEC && !mm.command) {
		json_error_at(e, src, m, path, "an exec metric needs 'command'");
		goto fail;
	}
	if (load_resources(&mm, resource, m, path, src, e) < 0 ||
	    load_synthetic(&mm, m, path, src, e) < 0)
		goto fail;
	free(resource);
	resource = NULL;
	if (mm.source != METRIC_HEALTH && !mm.has_max && !mm.has_max_increase) {
		json_error_at(e, src, m, path, "give 'max', 'max_increase' or both");
		goto fail;
	}
	if (mm.source == METRIC_HEALTH && (mm.has_max || mm.has_max_increase)) {
		json_error_at(e, src, m, path, "a health metric has no threshold: a canary that is DOWN fails it");
		goto fail;
	}
	if (mm.source == METRIC_HEALTH)
		mm.critical = 1;
	if (s->nmetrics >= MAX_METRICS) {
		json_error_at(e, src, m, path, "more than %d metrics", MAX_METRICS);
		goto fail;
	}
	dst = metric_add(s, mm.name, mm.source);
	if (!dst) {
		err_set(e, EX_INTERNAL, "out of memory");
		goto fail;
	}
	free(dst->name);
	*dst = mm;
	return 0;
fail:
	free(resource);
	metric_free(&mm);
	return -1;
}

static int
load_analysis(struct rollout_spec *s, const cJSON *a, const struct json_src *src, struct err *e)
{
	static const char *const keys[] = { "interval", "failure_limit", "consecutive_error_limit",
		"min_requests", "max_extend", "error_budget", "alpha", "metrics", NULL };
	const cJSON *ms, *it;
	long long n;
	size_t i = 0;
	int has = 0;
	char path[64];

	if (known_keys(a, "analysis", keys, src, e) < 0 ||
	    get_duration(a, "interval", "analysis", &s->interval_ms, src, e) < 0 ||
	    get_duration(a, "max_extend", "analysis", &s->max_extend_ms, src, e) < 0 ||
	    get_int(a, "min_requests", "analysis", 0, 1000000000LL, &s->min_requests, src, e) < 0 ||
	    get_int(a, "error_budget", "analysis", 0, 1000000000LL, &s->error_budget, src, e) < 0 ||
	    get_number(a, "alpha", "analysis", &has, &s->alpha, src, e) < 0)
		return -1;
	if (s->interval_ms < 100)
		return json_error_at(e, src, cJSON_GetObjectItemCaseSensitive(a, "interval"), "analysis",
		    "'interval' must be at least 100ms");
	if (has && (s->alpha <= 0 || s->alpha >= 0.5))
		return json_error_at(e, src, cJSON_GetObjectItemCaseSensitive(a, "alpha"), "analysis",
		    "'alpha' must be above 0 and below 0.5");
	n = s->failure_limit;
	if (get_int(a, "failure_limit", "analysis", 1, 1000, &n, src, e) < 0)
		return -1;
	s->failure_limit = (int)n;
	n = s->consecutive_error_limit;
	if (get_int(a, "consecutive_error_limit", "analysis", 1, 1000, &n, src, e) < 0)
		return -1;
	s->consecutive_error_limit = (int)n;
	ms = cJSON_GetObjectItemCaseSensitive(a, "metrics");
	if (!ms)
		return 0;
	if (!cJSON_IsArray(ms) || cJSON_GetArraySize(ms) == 0)
		return json_error_at(e, src, ms, "analysis.metrics", "expected a non-empty array of metrics");
	/* Metrics given replace the defaults. */
	for (i = 0; i < s->nmetrics; i++)
		metric_free(&s->metrics[i]);
	s->nmetrics = 0;
	i = 0;
	cJSON_ArrayForEach(it, ms) {
		snprintf(path, sizeof(path), "analysis.metrics[%zu]", i++);
		if (load_metric(s, it, path, src, e) < 0)
			return -1;
	}
	return 0;
}

int
rollout_spec_load(struct rollout_spec *s, const char *path, struct err *e)
{
	static const char *const keys[] = { "app", "traffic", "steps", "analysis", "approval",
		NULL };
	struct json_src src = { 0 };
	cJSON *root, *v;
	int rc = -1;

	root = json_load(path, SPEC_MAX_BYTES, 1, &src, e);
	if (!root) {
		json_src_free(&src);
		return -1;
	}
	if (!cJSON_IsObject(root)) {
		json_error_at(e, &src, root, "(top)", "expected a JSON object");
		goto out;
	}
	if (known_keys(root, "(top)", keys, &src, e) < 0 ||
	    get_string(root, "app", "app", &s->app, &src, e) < 0)
		goto out;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "traffic")) &&
	    load_traffic(s, v, &src, e) < 0)
		goto out;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "steps")) && load_steps(s, v, &src, e) < 0)
		goto out;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "analysis")) &&
	    load_analysis(s, v, &src, e) < 0)
		goto out;
	if ((v = cJSON_GetObjectItemCaseSensitive(root, "approval"))) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(v, "after_step");
		long long k = 0;

		if (cJSON_IsString(v) && !strcmp(v->valuestring, "before")) {
			s->approval = APPROVAL_BEFORE;
		} else if (cJSON_IsObject(v) && n && cJSON_GetArraySize(v) == 1 &&
		    get_int(v, "after_step", "approval", 1, (long long)s->nsteps - 1 > 0 ?
		    (long long)s->nsteps - 1 : 1, &k, &src, e) == 0) {
			s->approval = APPROVAL_AFTER_STEP;
			s->approval_step = (int)k;
		} else {
			if (!e->code)
				json_error_at(e, &src, v, "approval",
				    "expected \"before\" or {\"after_step\": N}");
			goto out;
		}
	}
	rc = 0;
out:
	cJSON_Delete(root);
	json_src_free(&src);
	return rc;
}

int
rollout_spec_set_steps(struct rollout_spec *s, const char *list, long long pause_ms,
    struct err *e)
{
	struct rollout_step *v;
	const char *p = list;
	size_t n = 0;

	v = xcalloc(MAX_STEPS, sizeof(*v));
	while (*p) {
		char *end;
		long w;

		errno = 0;
		w = strtol(p, &end, 10);
		if (errno || end == p || w < 1 || w > 100 || (*end && *end != ',') ||
		    (*end == ',' && !end[1]) || n >= MAX_STEPS) {
			free(v);
			return err_set(e, EX_USAGE_,
			    "--steps '%s': expected increasing weights from 1 to 100, like 5,25,50,100",
			    list);
		}
		if (n > 0 && w <= v[n - 1].weight) {
			int prev = v[n - 1].weight;

			free(v);
			return err_set(e, EX_USAGE_, "--steps '%s': weights must increase: %ld after %d",
			    list, w, prev);
		}
		v[n].weight = (int)w;
		v[n++].pause_ms = pause_ms;
		p = *end ? end + 1 : end;
	}
	if (n == 0 || v[n - 1].weight != 100) {
		free(v);
		return err_set(e, EX_USAGE_, "--steps '%s': the last weight must be 100", list);
	}
	v[n - 1].pause_ms = 0;
	free(s->steps);
	s->steps = v;
	s->nsteps = n;
	return 0;
}

void
rollout_spec_set_max(struct rollout_spec *s, int source, const char *name, double max)
{
	struct rollout_metric *m = NULL;
	size_t i;

	for (i = 0; i < s->nmetrics && !m; i++)
		if (s->metrics[i].source == source)
			m = &s->metrics[i];
	if (!m)
		m = metric_add(s, name, source);
	if (m) {
		m->has_max = 1;
		m->max = max;
	}
}

int
rollout_spec_check(const struct rollout_spec *s, struct err *e)
{
	size_t i;

	if (!s->traffic.driver)
		return err_set(e, EX_USAGE_,
		    "no traffic driver: give a spec with \"traffic\" (-f FILE) or --socket and --backend");
	if (s->nsteps == 0 || s->steps[s->nsteps - 1].weight != 100)
		return err_set(e, EX_USAGE_, "the last step must have weight 100");
	if (s->nmetrics == 0)
		return err_set(e, EX_USAGE_, "no metric to analyse");
	for (i = 0; i < s->nmetrics; i++) {
		const struct rollout_metric *m = &s->metrics[i];

		if ((m->source == METRIC_HAPROXY || m->source == METRIC_HEALTH ||
		    m->source == METRIC_HAPROXY_LOG) &&
		    s->traffic.driver != TRAFFIC_HAPROXY)
			return err_set(e, EX_USAGE_,
			    "metric '%s': the %s source reads %s and needs the haproxy driver; with "
			    "the %s driver use prometheus or exec metrics", m->name,
			    metric_source_name(m->source), m->source == METRIC_HEALTH ?
			    "HAProxy's health check" : m->source == METRIC_HAPROXY_LOG ?
			    "HAProxy's request log" : "HAProxy's counters",
			    driver_name(s->traffic.driver));
	}
	if (s->approval == APPROVAL_AFTER_STEP && (size_t)s->approval_step >= s->nsteps)
		return err_set(e, EX_USAGE_, "approval after step %d: there are only %zu steps",
		    s->approval_step, s->nsteps);
	return 0;
}

int
rollout_spec_load_traffic(struct rollout_spec *s, const cJSON *traffic, const char *name,
    struct err *e)
{
	struct json_opts o = { name, 0, 0 };
	struct json_src src = { 0 };
	char *text;
	cJSON *t;
	int rc;

	if (!cJSON_IsObject(traffic))
		return err_set(e, EX_USAGE_, "%s: expected the traffic object", name);
	/* Parsed again, so that a refusal names the place in it. */
	text = json_print(traffic);
	t = json_parse(text, strlen(text), &o, &src, e);
	free(text);
	if (!t) {
		json_src_free(&src);
		return -1;
	}
	rc = load_traffic(s, t, &src, e);
	cJSON_Delete(t);
	json_src_free(&src);
	return rc;
}
