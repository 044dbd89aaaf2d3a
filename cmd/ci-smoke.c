/*
 * ci-smoke: run HTTP smoke tests written in the Hurl file format against
 * a staging service, and add the verdict to the pipeline document.
 * The work is lib/smoke/run.h's; this file holds the options.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/size.h"
#include "core/stage.h"
#include "core/timeutil.h"
#include "format/html.h"
#include "net/curl-load.h"
#include "net/http.h"
#include "smoke/run.h"

extern char **environ;

enum {
	OPT_VARFILE = STAGE_KEY, OPT_SECRET, OPT_WAIT, OPT_WAIT_TIMEOUT, OPT_RETRY,
	OPT_RETRY_INTERVAL, OPT_CONNECT_TIMEOUT, OPT_MAX_TIME, OPT_MAX_BODY, OPT_INSECURE, OPT_CACERT,
	OPT_REPEAT, OPT_MAX_P99, OPT_CONTINUE, OPT_TAP, OPT_JUNIT
};

static const struct stage_opt opts[] = {
	{ "variable", 'v', required_argument, "NAME=VALUE", "define {{NAME}} for the files" },
	{ "variables-file", OPT_VARFILE, required_argument, "FILE", "NAME=VALUE lines" },
	{ "secret", OPT_SECRET, required_argument, "NAME=VALUE",
	  "define {{NAME}} and hide VALUE in every output" },
	{ "jobs", 'j', required_argument, "N", "run N files at once (default 1)" },
	{ "wait", OPT_WAIT, required_argument, "URL", "first wait until URL answers 2xx" },
	{ "wait-timeout", OPT_WAIT_TIMEOUT, required_argument, "DUR",
	  "give up waiting after DUR (default 60s)" },
	{ "retry", OPT_RETRY, required_argument, "N",
	  "retry a failing entry N times (-1: no limit; default 0)" },
	{ "retry-interval", OPT_RETRY_INTERVAL, required_argument, "DUR",
	  "between retries (default 1s)" },
	{ "connect-timeout", OPT_CONNECT_TIMEOUT, required_argument, "DUR",
	  "per request (default 10s)" },
	{ "max-time", OPT_MAX_TIME, required_argument, "DUR", "per request (default 30s; 0: none)" },
	{ "max-body", OPT_MAX_BODY, required_argument, "SIZE",
	  "keep at most SIZE of a body for asserts (default 32M)" },
	{ "insecure", OPT_INSECURE, no_argument, NULL, "do not verify TLS certificates" },
	{ "cacert", OPT_CACERT, required_argument, "FILE", "trust the CA certificates in FILE too" },
	{ "repeat", OPT_REPEAT, required_argument, "N",
	  "run each file N times; report p50/p95/p99 per entry" },
	{ "max-p99", OPT_MAX_P99, required_argument, "DUR",
	  "fail an entry whose p99 duration is over DUR" },
	{ "continue-on-error", OPT_CONTINUE, no_argument, NULL,
	  "run the rest of a file after a failed entry" },
	{ "tap", OPT_TAP, optional_argument, "FILE",
	  "write TAP to FILE, or to stdout instead of the document" },
	{ "junit", OPT_JUNIT, required_argument, "FILE", "write a JUnit XML report" },
	{ "dry-run", 'n', no_argument, NULL,
	  "parse and check the files, print the entries, run nothing" },
	STAGE_OPT_END
};

/* Returns -1 to go on, else the exit status. */
static int
parse_args(struct stage *st, int argc, char **argv, struct smoke_cmd *o, int *dry_run)
{
	long n;
	int c, rc = 0;

	st->synopsis = "ci-smoke [-hnq] [-j N] [-v NAME=VALUE]... [--variables-file FILE]...\n"
	    "                [--secret NAME=VALUE]... [--wait URL] [--wait-timeout DURATION]\n"
	    "                [--retry N] [--retry-interval DURATION] [--connect-timeout DURATION]\n"
	    "                [--max-time DURATION] [--insecure] [--cacert FILE] [--repeat N]\n"
	    "                [--max-p99 DURATION] [--continue-on-error] [--tap[=FILE]]\n"
	    "                [--junit FILE] [--html FILE] [--new] [--version-tag VERSION]\n"
	    "                [--verbose] FILE...\n"
	    "       ci-smoke --version";
	st->opts = opts;
	while (rc == 0 && (c = stage_getopt(st, argc, argv)) != -1) {
		switch (c) {
		case 'j':
			rc = stage_long_arg(st, "-j", optarg, 1, 1024, &o->jobs);
			break;
		case 'n':
			*dry_run = 1;
			break;
		case 'v':
			smoke_cmd_add_var(o, 'v', optarg);
			break;
		case OPT_CACERT: {
			struct err ce = { 0, "" };

			if (http_ca_file_check(optarg, &ce) < 0)
				rc = ce.code == EX_SERVICE ? err_report(&ce) :
				    stage_usage_error(st, "--cacert: %s", ce.msg);
			o->ca_file = optarg;
			break;
		}
		case OPT_CONNECT_TIMEOUT:
			rc = stage_duration_arg(st, "--connect-timeout", optarg, &o->connect_timeout_ms);
			break;
		case OPT_CONTINUE:
			o->continue_on_error = 1;
			break;
		case OPT_INSECURE:
			o->insecure = 1;
			break;
		case OPT_JUNIT:
			o->junit = optarg;
			break;
		case OPT_MAX_P99:
			rc = stage_duration_arg(st, "--max-p99", optarg, &o->max_p99_ms);
			break;
		case OPT_MAX_BODY:
			if (parse_size(optarg, &o->max_body) < 0 || o->max_body < 1)
				rc = stage_usage_error(st, "--max-body '%s': expected a size such "
				    "as 64M or 1G", optarg);
			break;
		case OPT_MAX_TIME:
			rc = stage_duration_arg(st, "--max-time", optarg, &o->max_time_ms);
			break;
		case OPT_REPEAT:
			rc = stage_long_arg(st, "--repeat", optarg, 1, 1000000, &o->repeat);
			break;
		case OPT_RETRY:
			rc = stage_long_arg(st, "--retry", optarg, -1, 1000000, &n);
			o->retry = n;
			break;
		case OPT_RETRY_INTERVAL:
			rc = stage_duration_arg(st, "--retry-interval", optarg, &o->retry_interval_ms);
			break;
		case OPT_SECRET:
			smoke_cmd_add_var(o, 's', optarg);
			break;
		case OPT_TAP:
			o->tap = 1;
			o->tap_file = optarg;
			break;
		case OPT_VARFILE:
			smoke_cmd_add_var(o, 'f', optarg);
			break;
		case OPT_WAIT: {
			struct err ue = { 0, "" };

			if (http_url_check(optarg, "http,https", &ue) < 0)
				rc = ue.code == EX_SERVICE ? err_report(&ue) :
				    stage_usage_error(st, "--wait: %s", ue.msg);
			o->wait_url = optarg;
			break;
		}
		case OPT_WAIT_TIMEOUT:
			rc = stage_duration_arg(st, "--wait-timeout", optarg, &o->wait_timeout_ms);
			break;
		}
	}
	if (rc)
		return rc;
	if (st->exit >= 0)
		return st->exit;
	if (optind >= argc)
		return stage_usage_error(st, "no Hurl file given");
	o->files = argv + optind;
	o->nfiles = (size_t)(argc - optind);
	o->environ = environ;
	o->tap_out = stdout;
	return -1;
}

int
main(int argc, char **argv)
{
	struct stage st;
	struct smoke_cmd o;
	struct err e = { 0, "" };
	int rc, dry_run = 0;

	stage_init(&st, "ci-smoke", "smoke", "running the smoke tests");
	st.html = html_report_write;
	smoke_cmd_init(&o);
	rc = parse_args(&st, argc, argv, &o, &dry_run);
	if (rc < 0) {
		if (dry_run) {
			rc = smoke_dry_run(&o, stdout, &e) < 0 ? err_report(&e) : EX_PASS;
		} else {
			/* --tap without a file takes stdout: the document is not written. */
			st.no_write = smoke_cmd_tap_replaces_document(&o);
			st.on_skip = smoke_skipped;
			rc = stage_run(&st, smoke_work, &o);
		}
		curl_global_cleanup();
	}
	stage_free(&st);
	smoke_cmd_free(&o);
	return rc;
}
