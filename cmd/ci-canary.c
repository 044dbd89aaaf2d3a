/*
 * ci-canary: roll a release out progressively (5% -> 25% -> 50% -> 100%)
 * behind the load balancer, analysing canary against stable at every
 * interval, and roll it back at once when it fails.
 * The work is lib/rollout/rollout.h's; this file holds the options.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "core/log.h"
#include "core/stage.h"
#include "core/timeutil.h"
#include "format/html.h"
#include "net/curl-load.h"
#include "rollout/rollout.h"

enum {
	OPT_APP = STAGE_KEY, OPT_SOCKET, OPT_BACKEND, OPT_SLOTS, OPT_STATE_FILE, OPT_IMAGE,
	OPT_STEPS, OPT_PAUSE, OPT_INTERVAL, OPT_MAX_ERROR_RATE, OPT_MAX_P99, OPT_FAILURE_LIMIT,
	OPT_MIN_REQUESTS, OPT_PROMOTE, OPT_ABORT, OPT_SLOT, OPT_ABORT_ON_SIGNAL, OPT_RESUME,
	OPT_LOG_LISTEN, OPT_REPORT, OPT_DASHBOARD, OPT_NO_DASHBOARD
};

static const struct stage_opt opts[] = {
	{ "file", 'f', required_argument, "FILE", "the rollout spec (JSON, comments allowed)" },
	{ "app", OPT_APP, required_argument, "NAME", "the application (default: the spec's, "
	  "else the image's name)" },
	{ "image", OPT_IMAGE, required_argument, "REF", "the release (default: push.reference "
	  "of the document)" },
	{ "socket", OPT_SOCKET, required_argument, "ADDR",
	  "HAProxy's stats socket (a path or HOST:PORT)" },
	{ "backend", OPT_BACKEND, required_argument, "NAME", "HAProxy's backend" },
	{ "slots", OPT_SLOTS, required_argument, "A,B", "its two servers (default blue,green)" },
	{ "state-file", OPT_STATE_FILE, required_argument, "FILE",
	  "HAProxy's server-state-file, rewritten after every change" },
	{ "steps", OPT_STEPS, required_argument, "LIST", "canary weights (default 5,25,50,100)" },
	{ "pause", OPT_PAUSE, required_argument, "DUR", "with --steps: each step's pause" },
	{ "interval", OPT_INTERVAL, required_argument, "DUR", "analysis interval (default 60s)" },
	{ "max-error-rate", OPT_MAX_ERROR_RATE, required_argument, "PCT",
	  "fail a measurement over PCT% errors (default 5)" },
	{ "log-listen", OPT_LOG_LISTEN, required_argument, "ADDR",
	  "receive HAProxy's request log on UDP ADDR: p99 latency (< 500ms)" },
	{ "max-p99", OPT_MAX_P99, required_argument, "DUR",
	  "fail a measurement whose p99 latency is over DUR" },
	{ "failure-limit", OPT_FAILURE_LIMIT, required_argument, "N",
	  "failed measurements that abort (default 3)" },
	{ "min-requests", OPT_MIN_REQUESTS, required_argument, "N",
	  "canary requests a step needs (default 50)" },
	{ "promote", OPT_PROMOTE, no_argument, NULL, "continue a paused rollout" },
	{ "abort", OPT_ABORT, no_argument, NULL, "roll a running or paused rollout back" },
	{ "resume", OPT_RESUME, no_argument, NULL,
	  "continue a rollout after a crash (the default when one is in progress)" },
	{ "slot", OPT_SLOT, no_argument, NULL,
	  "print the slot the next release must be deployed to, and exit" },
	{ "abort-on-signal", OPT_ABORT_ON_SIGNAL, no_argument, NULL,
	  "on SIGINT/SIGTERM roll back before exiting" },
	{ "report", OPT_REPORT, required_argument, "FILE",
	  "write an SVG chart of weights and metrics over the rollout" },
	{ "dashboard", OPT_DASHBOARD, no_argument, NULL,
	  "redraw a live panel on stderr each interval (default: on a terminal)" },
	{ "no-dashboard", OPT_NO_DASHBOARD, no_argument, NULL,
	  "one log line per interval, even on a terminal" },
	STAGE_OPT_END
};

struct flags {
	const char *file, *app, *socket, *backend, *slots, *state_file, *steps, *log_listen;
	long long pause_ms, interval_ms, max_p99_ms;
	int has_max_p99;
	int has_pause, has_interval, has_max_err, has_failure_limit, has_min_requests;
	double max_err;
	long failure_limit, min_requests;
	int slot;
	int dashboard;		/* 1 --dashboard, -1 --no-dashboard, 0 auto */
};

/* The panel goes to a terminal that can draw it, unless told. */
static void
dashboard_setup(const struct flags *f, struct canary_cmd *c)
{
	const char *term = getenv("TERM"), *cols = getenv("COLUMNS");
	int tty = isatty(2) && term && *term && strcmp(term, "dumb");
	struct winsize ws;

	c->dashboard = f->dashboard > 0 || (f->dashboard == 0 && tty);
	c->color = tty && !getenv("NO_COLOR");
	c->cols = 80;
	if (tty && ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		c->cols = ws.ws_col;
	else if (cols && strtol(cols, NULL, 10) > 0 && strtol(cols, NULL, 10) < 10000)
		c->cols = (int)strtol(cols, NULL, 10);
}

/* Returns -1 to go on, else the exit status. */
static int
parse_args(struct stage *st, int argc, char **argv, struct flags *f, struct canary_cmd *c)
{
	int ch, rc = 0, actions = 0;
	char *end;

	st->synopsis = "ci-canary [-q] [-f FILE] [--app NAME] [--image REF] [--socket ADDR]\n"
	    "                 [--backend NAME] [--slots A,B] [--state-file FILE] [--steps LIST]\n"
	    "                 [--pause DUR] [--interval DUR] [--max-error-rate PCT]\n"
	    "                 [--log-listen ADDR] [--max-p99 DUR] [--failure-limit N]\n"
	    "                 [--min-requests N] [--abort-on-signal] [--report FILE]\n"
	    "                 [--html FILE] [--new] [--version-tag VERSION] [--verbose]\n"
	    "       ci-canary [-f FILE] [--app NAME] --promote | --abort | --resume\n"
	    "       ci-canary [-f FILE] [--app NAME] [--socket ADDR --backend NAME] --slot\n"
	    "       ci-canary --version";
	st->about = "Without a spec the seed's rollout: 5% (10m), 25% (10m), 50% (5m), 100%;\n"
	    "analysis every 60s; error rate under 5%; 3 failures abort.  See ci-canary(1).";
	st->opts = opts;
	while (rc == 0 && (ch = stage_getopt(st, argc, argv)) != -1) {
		switch (ch) {
		case 'f':
			f->file = optarg;
			break;
		case OPT_ABORT:
			c->action = CANARY_ABORT;
			actions++;
			break;
		case OPT_ABORT_ON_SIGNAL:
			c->abort_on_signal = 1;
			break;
		case OPT_APP:
			f->app = optarg;
			break;
		case OPT_BACKEND:
			f->backend = optarg;
			break;
		case OPT_FAILURE_LIMIT:
			rc = stage_long_arg(st, "--failure-limit", optarg, 1, 1000, &f->failure_limit);
			f->has_failure_limit = 1;
			break;
		case OPT_IMAGE:
			c->image = optarg;
			break;
		case OPT_INTERVAL:
			rc = stage_duration_arg(st, "--interval", optarg, &f->interval_ms);
			if (rc == 0 && f->interval_ms < 100)
				rc = stage_usage_error(st, "--interval '%s': at least 100ms", optarg);
			f->has_interval = 1;
			break;
		case OPT_MAX_ERROR_RATE:
			errno = 0;
			f->max_err = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(f->max_err >= 0 && f->max_err <= 100))
				rc = stage_usage_error(st, "--max-error-rate '%s': expected a percent "
				    "from 0 to 100", optarg);
			f->has_max_err = 1;
			break;
		case OPT_LOG_LISTEN:
			f->log_listen = optarg;
			break;
		case OPT_MAX_P99:
			rc = stage_duration_arg(st, "--max-p99", optarg, &f->max_p99_ms);
			f->has_max_p99 = 1;
			break;
		case OPT_MIN_REQUESTS:
			rc = stage_long_arg(st, "--min-requests", optarg, 0, 1000000000L, &f->min_requests);
			f->has_min_requests = 1;
			break;
		case OPT_PAUSE:
			rc = stage_duration_arg(st, "--pause", optarg, &f->pause_ms);
			f->has_pause = 1;
			break;
		case OPT_PROMOTE:
			c->action = CANARY_PROMOTE;
			actions++;
			break;
		case OPT_REPORT:
			c->report = optarg;
			break;
		case OPT_DASHBOARD:
			f->dashboard = 1;
			break;
		case OPT_NO_DASHBOARD:
			f->dashboard = -1;
			break;
		case OPT_RESUME:
			c->action = CANARY_RUN;
			actions++;
			break;
		case OPT_SLOT:
			f->slot = 1;
			break;
		case OPT_SLOTS:
			f->slots = optarg;
			break;
		case OPT_SOCKET:
			f->socket = optarg;
			break;
		case OPT_STATE_FILE:
			f->state_file = optarg;
			break;
		case OPT_STEPS:
			f->steps = optarg;
			break;
		}
	}
	if (rc)
		return rc;
	if (st->exit >= 0)
		return st->exit;
	if (optind < argc)
		return stage_usage_error(st, "unexpected argument '%s'", argv[optind]);
	if (actions > 1)
		return stage_usage_error(st, "--promote, --abort and --resume go alone");
	if (f->has_pause && !f->steps)
		return stage_usage_error(st, "--pause goes with --steps");
	return -1;
}

static int
apply_flags(struct stage *st, struct flags *f, struct canary_cmd *c)
{
	struct rollout_spec *s = &c->spec;
	struct rollout_traffic *t = &s->traffic;
	struct err e = { 0, "" };

	if (f->file && rollout_spec_load(s, f->file, &e) < 0)
		return err_report(&e);
	if (f->app) {
		free(s->app);
		s->app = xstrdup(f->app);
	}
	if (f->socket || f->backend) {
		if (t->driver && t->driver != TRAFFIC_HAPROXY)
			return stage_usage_error(st, "--socket and --backend are for the haproxy driver");
		t->driver = TRAFFIC_HAPROXY;
		if (f->socket) {
			free(t->socket);
			t->socket = xstrdup(f->socket);
		}
		if (f->backend) {
			free(t->backend);
			t->backend = xstrdup(f->backend);
		}
	}
	if (f->state_file) {
		free(t->state_file);
		t->state_file = xstrdup(f->state_file);
	}
	if (f->slots) {
		const char *comma = strchr(f->slots, ',');

		if (!comma || comma == f->slots || !comma[1] || strchr(comma + 1, ',') ||
		    (strlen(comma + 1) == (size_t)(comma - f->slots) &&
		    !strncmp(f->slots, comma + 1, (size_t)(comma - f->slots))))
			return stage_usage_error(st, "--slots '%s': expected two names, like blue,green",
			    f->slots);
		free(t->slots[0]);
		free(t->slots[1]);
		t->slots[0] = xstrndup(f->slots, (size_t)(comma - f->slots));
		t->slots[1] = xstrdup(comma + 1);
	}
	if (!t->slots[0]) {
		t->slots[0] = xstrdup("blue");
		t->slots[1] = xstrdup("green");
	}
	if (t->driver == TRAFFIC_HAPROXY && (!t->socket || !t->backend))
		return stage_usage_error(st, "the haproxy driver needs --socket and --backend");
	if (f->steps && rollout_spec_set_steps(s, f->steps, f->has_pause ? f->pause_ms :
	    10 * 60 * 1000LL, &e) < 0)
		return stage_usage_error(st, "%s", e.msg);
	if (f->has_interval)
		s->interval_ms = f->interval_ms;
	if (f->has_failure_limit)
		s->failure_limit = (int)f->failure_limit;
	if (f->has_min_requests)
		s->min_requests = f->min_requests;
	if (f->has_max_err)
		rollout_spec_set_max(s, METRIC_HAPROXY, "error-rate", f->max_err);
	if (f->log_listen) {
		struct rollout_metric *m = s->metrics, *end = s->metrics + s->nmetrics;

		/* A haproxy-log metric of the spec keeps its bound; a new one
		 * gets the seed's 500 ms. */
		while (m < end && m->source != METRIC_HAPROXY_LOG)
			m++;
		if (m == end) {
			rollout_spec_set_max(s, METRIC_HAPROXY_LOG, "p99", 500);
			m = &s->metrics[s->nmetrics - 1];
		}
		free(m->listen);
		m->listen = xstrdup(f->log_listen);
		if (!m->quantile)
			m->quantile = 99;
	}
	if (f->has_max_p99) {
		size_t i;

		for (i = 0; i < s->nmetrics && s->metrics[i].source != METRIC_HAPROXY_LOG; i++)
			;
		if (i == s->nmetrics)
			return stage_usage_error(st, "--max-p99 needs per-request latencies: give "
			    "--log-listen HOST:PORT (HAProxy's \"log\" target) or a haproxy-log "
			    "metric in the spec");
		s->metrics[i].has_max = 1;
		s->metrics[i].max = (double)f->max_p99_ms;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct stage st;
	struct canary_cmd c;
	struct flags f;
	struct err e = { 0, "" };
	int rc;

	stage_init(&st, "ci-canary", "canary", "rolling out");
	st.html = html_report_write;
	memset(&c, 0, sizeof(c));
	memset(&f, 0, sizeof(f));
	rollout_spec_init(&c.spec);
	c.state_dir = state_dir();
	c.ask = 1;
	{
		/* Runners that share a git ledger share the rollout lease. */
		const char *l = getenv("CI_LEDGER");

		if (l && !strncmp(l, "git:", 4))
			c.ledger = l;
	}
	rc = parse_args(&st, argc, argv, &f, &c);
	if (rc < 0 && (rc = apply_flags(&st, &f, &c)) == 0) {
		if (f.slot) {
			if (!c.spec.app)
				rc = stage_usage_error(&st, "--slot needs the app: --app NAME or a spec");
			else if (canary_print_slot(&c, stdout, &e) < 0)
				rc = err_report(&e);
			if (rc == 0 && (fflush(stdout) || ferror(stdout))) {
				log_error("cannot write to standard output");
				rc = EX_IOERR_;
			}
		} else {
			dashboard_setup(&f, &c);
			rc = stage_run(&st, canary_work, &c);
		}
		curl_global_cleanup();
	}
	stage_free(&st);
	rollout_spec_free(&c.spec);
	return rc;
}
