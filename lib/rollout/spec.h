/*
 * spec: what a rollout is to do, from a rollout.json (JSON with comments)
 * and the command's flags, with the seed's defaults for whatever neither
 * says: steps 5% (pause 10m), 25% (10m), 50% (5m), 100%; analysis every
 * 60s; error rate < 5%; failure limit 3.
 *
 *   {"app": "shop",
 *    "traffic": {"driver": "haproxy", "socket": "/run/haproxy/admin.sock",
 *                "backend": "app", "slots": ["blue", "green"]},
 *    (or {"driver": "nginx", "upstream": "app", "file": PATH,
 *         "servers": {"blue": "127.0.0.1:8001", "green": "127.0.0.1:8002"}},
 *     or {"driver": "exec", "set": COMMAND}),
 *    "steps": [{"weight": 5, "pause": "10m"}, ..., {"weight": 100}],
 *    "analysis": {"interval": "60s", "failure_limit": 3, "min_requests": 50,
 *                 "metrics": [{"name": "error-rate", "source": "haproxy",
 *                              "max": 5}]},
 *    "approval": "before" | {"after_step": N}}
 *
 * traffic may also hold "sticky" ("cookie[:NAME]", "header:NAME",
 * "source"), "route" ({"header", "value", "map"} for haproxy, {"header",
 * "value"} for nginx, which writes its map into its file) and "baseline"
 * (a third server: every driver; nginx's "servers" then has its address
 * too); a metric of source
 * "resources" has "resource" (cpu, memory) and "instance", one of source
 * "synthetic" has "file" and optionally "urls".
 *
 * Unknown keys are refused with their path and file:line:col, as are a
 * traffic key of another driver, weights that do not increase, a last
 * step that is not 100, bad durations.  struct rollout_spec owns every
 * string and array in it.
 */
#ifndef CI_ROLLOUT_SPEC_H
#define CI_ROLLOUT_SPEC_H

#include <stddef.h>
#include <cJSON.h>

#include "core/log.h"

enum traffic_driver { TRAFFIC_HAPROXY = 1, TRAFFIC_EXEC, TRAFFIC_NGINX };

/* How a user stays on one version (traffic.sticky). */
enum sticky { STICKY_NONE, STICKY_COOKIE, STICKY_HEADER, STICKY_SOURCE };

enum metric_source {
	METRIC_HAPROXY = 1,	/* error ratio from HAProxy's per-server counters */
	METRIC_HEALTH,		/* HAProxy's health check: canary DOWN is critical */
	METRIC_PROMETHEUS,	/* an instant query; one number */
	METRIC_EXEC,		/* a command that prints one number */
	METRIC_HAPROXY_LOG,	/* a latency quantile from HAProxy's request log */
	METRIC_RESOURCES,	/* CPU or memory of an instance, % of its limit */
	METRIC_SYNTHETIC	/* a Hurl file run against each instance */
};

enum resource { RESOURCE_CPU = 1, RESOURCE_MEMORY };

/* nginx's servers: the two slots and a baseline. */
#define TRAFFIC_SERVERS_MAX 3

struct rollout_step {
	int weight;		/* percent of traffic to the canary, 1..100 */
	long long pause_ms;	/* how long the step lasts (0 for the last) */
};

struct rollout_metric {
	char *name;
	int source;		/* enum metric_source */
	int has_max;
	double max;		/* fail when the canary's value is over it */
	int has_max_increase;
	double max_increase;	/* fail when canary - stable is over it */
	int critical;		/* one failure aborts at once */
	char *query;		/* prometheus: {{canary}}, {{stable}} substituted */
	char *address;		/* prometheus: base URL */
	char *ca_file;		/* prometheus: an extra CA bundle (PEM), or NULL */
	char *command;		/* exec: sh -c TEXT, {{slot}}/{{role}} as $1/$2 */
	char *listen;		/* haproxy-log: HOST:PORT to receive syslog on */
	double quantile;	/* haproxy-log: 50..100 (default 99) */
	int resource;		/* resources: enum resource */
	char *instance;		/* resources: "cgroup:P", "pid:N", "pidfile:F", "runc:ID",
				 * {{slot}} and {{role}} substituted */
	char *runc_root;	/* resources: runc's --root */
	char *file;		/* synthetic: the Hurl file */
	cJSON *urls;		/* synthetic: {"SLOT": "http://HOST:PORT", ...} or NULL */
};

struct rollout_traffic {
	int driver;		/* enum traffic_driver */
	char *socket;		/* haproxy: stats socket path or HOST:PORT */
	char *backend;		/* haproxy: backend name */
	char *slots[2];		/* haproxy: the two servers (default blue, green) */
	char *state_file;	/* haproxy: server-state-file to keep across reloads */
	char *set;		/* exec: command setting weights */
	char *get;		/* exec: command printing "STABLE CANARY" (optional) */
	char *promote;		/* exec: command run when the canary reaches 100 */
	char *upstream;		/* nginx: the upstream block's name */
	char *file;		/* nginx: the file holding that block alone, ours */
	/* nginx: the servers of "servers", in its order: the two slots and,
	 * with a baseline, its server; the entries after the last are NULL. */
	char *server_slot[TRAFFIC_SERVERS_MAX];	/* the names ... */
	char *server_addr[TRAFFIC_SERVERS_MAX];	/* ... and addresses (HOST:PORT, unix:PATH) */
	char *test;		/* nginx: the config check (default "nginx -t") */
	char *reload;		/* nginx: the reload (default "nginx -s reload") */
	int sticky;		/* enum sticky */
	char *sticky_name;	/* the cookie's or the header's name, or NULL */
	char *route_header;	/* requests with this header (haproxy, nginx) ... */
	char *route_value;	/* ... set to this value go to the canary */
	char *route_map;	/* haproxy: the map file the config looks the value up in */
	char *baseline;		/* a third server: the stable release, started fresh */
	cJSON *json;		/* the traffic object as given, for the document */
};

enum approval { APPROVAL_NONE, APPROVAL_BEFORE, APPROVAL_AFTER_STEP };

struct rollout_spec {
	char *app;
	struct rollout_traffic traffic;
	struct rollout_step *steps;
	size_t nsteps;
	long long interval_ms;
	int failure_limit;		/* failed measurements that abort */
	int consecutive_error_limit;	/* unreadable measurements in a row that abort */
	long long min_requests;		/* canary requests a step needs to pass */
	long long max_extend_ms;	/* how long a step may be extended for data */
	long long error_budget;		/* canary 5xx in one interval that abort (0: off) */
	double alpha;			/* significance of the canary/stable tests */
	struct rollout_metric *metrics;
	size_t nmetrics;
	int approval;			/* enum approval */
	int approval_step;		/* APPROVAL_AFTER_STEP: 1-based */
};

/* The seed's defaults; traffic unset (the caller must give one). */
void rollout_spec_init(struct rollout_spec *s);
void rollout_spec_free(struct rollout_spec *s);

/* Read a spec file over the defaults.  Errors: EX_USAGE_, "FILE:LINE:COL:
 * PATH: what". */
int rollout_spec_load(struct rollout_spec *s, const char *path, struct err *e);

/* A traffic object (the document's canary.traffic, which ci-rollback
 * uses to put traffic back), checked as a spec's; name for messages. */
int rollout_spec_load_traffic(struct rollout_spec *s, const cJSON *traffic, const char *name,
    struct err *e);

/* "5,25,50,100" -> steps, each but the last with pause_ms. */
int rollout_spec_set_steps(struct rollout_spec *s, const char *list, long long pause_ms,
    struct err *e);

/* Set the first metric of a source (adding it when missing) to max. */
void rollout_spec_set_max(struct rollout_spec *s, int source, const char *name, double max);

/* Checks that need every part: traffic given, steps increasing and ending
 * at 100, a metric at least. */
int rollout_spec_check(const struct rollout_spec *s, struct err *e);

/* The address traffic.servers gives the server name (nginx), or NULL;
 * borrowed. */
const char *rollout_server_addr(const struct rollout_traffic *t, const char *name);

/* The name of a source, for messages and the document. */
const char *metric_source_name(int source);

#endif
