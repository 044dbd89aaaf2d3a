/*
 * metrics: one measurement of each metric of the analysis per interval,
 * canary and stable side by side, and the verdict on it.
 *
 *   haproxy     HAProxy's per-server counters from "show stat" as deltas
 *               over the interval: requests (req_tot, else sessions) and
 *               errors (5xx answers, response and connection errors).  A
 *               reload or restart (Pid or Uptime_sec going back, a counter
 *               going down) starts the deltas from zero, never negative.
 *               Value: the error rate in percent.
 *   health      HAProxy's health check of the canary: DOWN is critical.
 *   prometheus  GET ADDRESS/api/v1/query?query=Q, Q with {{canary}} and
 *               {{stable}} replaced by the slots' names; the first sample
 *               of a vector, or a scalar.  An empty vector or NaN is "no
 *               data", never a pass.  HTTP 400 (a bad query) is EX_USAGE_.
 *   exec        sh -c COMMAND with {{slot}} as "$1" and {{role}} ("canary"
 *               or "stable") as "$2"; it prints one number.
 *   haproxy-log per-request records HAProxy sends over UDP syslog ("log
 *               HOST:PORT local0" with the default "option httplog"
 *               format): the backend/server, the timers TR/Tw/Tc/Tr/Ta and
 *               the status.  Value: the quantile (nearest rank, as
 *               ci-smoke's) of Ta, the total active time, in ms; canary
 *               against stable with Mann-Whitney U.
 *
 * A verdict is pass, fail or inconclusive (no data, too few requests).
 * Comparisons with stable: the error rate's increase counts only when
 * Fisher's exact test finds the canary worse (p < alpha), so a zero-error
 * stable does not make one canary error fatal (rollout/stats.h).
 */
#ifndef CI_ROLLOUT_METRICS_H
#define CI_ROLLOUT_METRICS_H

#include <signal.h>
#include <cJSON.h>

#include "core/log.h"
#include "rollout/spec.h"
#include "rollout/traffic.h"

enum verdict { V_PASS, V_FAIL, V_INCONCLUSIVE };

struct counters {
	long long req, err;
};

/* Latencies of one slot over an interval, in ms. */
struct latencies {
	long long *v;
	size_t n, cap;
	long long dropped;	/* past LOG_SAMPLES_MAX in one interval */
};

/* One UDP syslog listener (metrics that name the same address share it). */
struct loglistener {
	char *addr;
	int fd;
	struct latencies lat[2];	/* [0] stable, [1] canary: filling */
	struct latencies done[2];	/* the interval metrics_sample() closed */
	long long lines, foreign;	/* records seen; lines that are not ours */
};

struct probe;	/* resources and synthetic metrics (rollout/probe.c) */

/* What the analysis keeps between intervals. */
struct metrics_ctx {
	struct traffic *t;
	const struct rollout_spec *spec;
	long long pid, uptime;
	struct counters last[2];	/* [0] stable, [1] canary: at interval start */
	int have_last;
	struct counters delta[2];	/* over the last interval */
	int reset_seen;			/* a counter reset was handled */
	struct loglistener *logs;	/* haproxy-log listeners */
	size_t nlogs;
	struct probe *probes;		/* one per metric of the spec */
};

struct measurement {
	int verdict;		/* enum verdict */
	int error;		/* the source could not be read (why says so) */
	int critical;		/* a failure that aborts at once */
	int has_canary, has_stable;
	double canary, stable;
	long long canary_n, stable_n;	/* requests (haproxy) */
	double p;		/* p-value of the comparison, or -1 */
	const char *versus;	/* "stable", or "baseline" when the spec has one */
	char why[1200];		/* for the document and the verdict */
};

/* Bind the haproxy-log listeners (EX_USAGE_ for a bad address,
 * EX_SERVICE when it cannot be bound). */
int metrics_open(struct metrics_ctx *m, struct err *e);
void metrics_close(struct metrics_ctx *m);

/* Wait ms, receiving log records meanwhile; -1 at once when *stop is set. */
int metrics_wait(struct metrics_ctx *m, long long ms, const volatile sig_atomic_t *stop);

/* Take one syslog datagram apart: 1 with backend/server (at most 127
 * bytes each), the status and Ta; 0 when it is not an httplog record. */
int haproxy_log_parse(const char *line, size_t len, char *backend, char *server, long *status,
    long long *ta_ms);

/* Start the counters (at a step's start, after a weight change). */
int metrics_begin(struct metrics_ctx *m, struct err *e);

/* Read the counters for the interval that just ended (haproxy driver). */
int metrics_sample(struct metrics_ctx *m, struct err *e);

/* Measure metric mt over the interval just sampled. */
void metrics_measure(struct metrics_ctx *m, const struct rollout_metric *mt,
    struct measurement *out);

/* The verdict on o from mt's thresholds: max on the canary's value,
 * max_increase over the other side's (counted only when o->p is below
 * tolerance_p, unless that is negative). */
void metrics_judge(const struct rollout_metric *mt, struct measurement *o, double tolerance_p);

/* rollout/probe.c: load each synthetic metric's Hurl file (EX_USAGE_
 * with FILE:LINE for a bad one) and take each resources metric's first
 * sample; probes_close() frees them. */
int probes_open(struct metrics_ctx *m, struct err *e);
void probes_close(struct metrics_ctx *m);
/* At a step's start: the first CPU sample of each resources metric. */
void probes_begin(struct metrics_ctx *m);
/* A resources metric's value for side 1 (the canary) or 0 (what it is
 * compared with): 1 with *v, 0 for no data yet (a first CPU sample), -1
 * with e set. */
int probe_resources_value(struct metrics_ctx *m, const struct rollout_metric *mt, int side,
    double *v, struct err *e);
void measure_synthetic(struct metrics_ctx *m, const struct rollout_metric *mt,
    struct measurement *o);

/* Parse a Prometheus /api/v1/query answer: 1 with *v, 0 for no data,
 * -1 with e for an answer that is not one ("NAME: ...", EX_SERVICE). */
int prometheus_parse(const char *body, size_t len, const char *name, double *v, struct err *e);

#endif
