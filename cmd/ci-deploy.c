/*
 * ci-deploy: the deploy stage.  Runs the user's own deploy command
 * (kubectl, ssh, runc, a cloud CLI) with the document's facts in its
 * environment, waits for the service to answer, and records the outcome
 * as deploy.ENV, one section per environment.  See ci-deploy(1); the work
 * is lib/release/deploy.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/pipeline.h"
#include "core/stage.h"
#include "format/html.h"
#include "net/curl-load.h"
#include "net/http.h"
#include "release/deploy.h"

enum { OPT_TO = STAGE_KEY, OPT_WAIT, OPT_TIMEOUT, OPT_SLOT, OPT_CA_FILE };

static const struct stage_opt opts[] = {
	{ "to", OPT_TO, required_argument, "ENV",
	  "staging, production...: CI_ENV, and the section deploy.ENV" },
	{ "wait", OPT_WAIT, required_argument, "URL",
	  "then wait until URL answers 2xx or 3xx" },
	{ "timeout", OPT_TIMEOUT, required_argument, "DUR",
	  "for the command and the wait together (default 10m)" },
	{ "slot", OPT_SLOT, required_argument, "NAME",
	  "CI_SLOT (default: the slot of the canary section)" },
	{ "ca-file", OPT_CA_FILE, required_argument, "FILE",
	  "with --wait: trust the CA certificates in FILE too" },
	STAGE_OPT_END
};

/* Returns -1 to go on, else the exit status. */
static int
parse_args(struct stage *st, int argc, char **argv, struct deploy_cmd *c)
{
	struct err ue = { 0, "" };
	int ch, rc = 0;

	st->synopsis = "ci-deploy [-qv] --to ENV [--wait URL] [--ca-file FILE] [--timeout DURATION]\n"
	    "                 [--slot NAME] [--new] [--version-tag VERSION] -- COMMAND [ARG...]\n"
	    "       ci-deploy --version";
	st->about = "The deploy stage: run COMMAND with CI_IMAGE, CI_IMAGE_TAG, CI_VERSION,\n"
	    "CI_COMMIT, CI_ENV and CI_SLOT from the document, wait for URL, and record\n"
	    "deploy.ENV.  See ci-deploy(1).";
	st->opts = opts;
	st->ordered = 1;
	while (rc == 0 && (ch = stage_getopt(st, argc, argv)) != -1) {
		switch (ch) {
		case OPT_CA_FILE:
			if (http_ca_file_check(optarg, &ue) < 0)
				rc = ue.code == EX_SERVICE ? err_report(&ue) :
				    stage_usage_error(st, "--ca-file: %s", ue.msg);
			c->ca_file = optarg;
			break;
		case OPT_SLOT:
			c->slot = optarg;
			if (!*optarg)
				rc = stage_usage_error(st, "--slot: expected a name");
			break;
		case OPT_TIMEOUT:
			rc = stage_duration_arg(st, "--timeout", optarg, &c->timeout_ms);
			if (rc == 0 && c->timeout_ms <= 0)
				rc = stage_usage_error(st, "--timeout '%s': expected more than 0", optarg);
			break;
		case OPT_TO:
			c->env = optarg;
			break;
		case OPT_WAIT:
			c->wait_url = optarg;
			break;
		}
	}
	if (st->exit >= 0)
		return st->exit;
	if (rc)
		return rc;
	if (!c->env)
		return stage_usage_error(st, "no environment: give --to ENV");
	if (!deploy_env_valid(c->env))
		return stage_usage_error(st, "--to '%s': expected 1 to %d letters, digits, '_' "
		    "or '-'", c->env, DEPLOY_ENV_MAX);
	if (c->wait_url && http_url_check(c->wait_url, "http,https", &ue) < 0)
		return ue.code == EX_SERVICE ? err_report(&ue) :
		    stage_usage_error(st, "--wait: %s", ue.msg);
	if (optind >= argc)
		return stage_usage_error(st, "no command: give it after --, as in "
		    "'ci-deploy --to %s -- ./deploy.sh'", c->env);
	c->argv = argv + optind;
	return -1;
}

int
main(int argc, char **argv)
{
	struct stage st;
	struct deploy_cmd c;
	char name[16 + DEPLOY_ENV_MAX], verb[32 + DEPLOY_ENV_MAX];
	int rc;

	stage_init(&st, "ci-deploy", "deploy", "deploying");
	st.html = html_report_write;
	memset(&c, 0, sizeof(c));
	c.timeout_ms = DEPLOY_TIMEOUT_DEFAULT_MS;
	c.state_dir = state_dir();
	rc = parse_args(&st, argc, argv, &c);
	if (rc < 0) {
		/* One section per environment: deploy.staging, deploy.production. */
		snprintf(name, sizeof(name), "deploy.%s", c.env);
		snprintf(verb, sizeof(verb), "deploying to %s", c.env);
		st.name = name;
		st.verb = verb;
		rc = stage_run(&st, deploy_work, &c);
		curl_global_cleanup();
	}
	stage_free(&st);
	return rc;
}
