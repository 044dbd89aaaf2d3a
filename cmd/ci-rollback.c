/*
 * ci-rollback: the safety net.  The last filter of a pipeline: a failed
 * release goes back to stable, into the ledger as failed, out as alerts,
 * and blocks the pipeline; a passed one becomes the new stable.  By hand:
 * the ledger, lifting the block, going back to an earlier release.  See
 * ci-rollback(1); the work is lib/release/rollback.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/stage.h"
#include "net/curl-load.h"
#include "net/http.h"
#include "format/html.h"
#include "gate/block.h"
#include "net/registry.h"
#include "release/rollback.h"

enum {
	OPT_APP = STAGE_KEY, OPT_LEDGER, OPT_SLACK, OPT_PD_KEY, OPT_PD_URL, OPT_WEBHOOK,
	OPT_SMTP_URL, OPT_EMAIL_TO, OPT_EMAIL_FROM, OPT_NOTIFY_SUCCESS, OPT_TAG_STABLE,
	OPT_TO, OPT_DEPLOY_CMD, OPT_STATUS, OPT_JSON, OPT_UNBLOCK, OPT_REASON, OPT_RETRIES,
	OPT_ALERT_ATTEMPTS
};

static const struct stage_opt opts[] = {
	{ "app", OPT_APP, required_argument, "NAME",
	  "the application (default: the canary's, else the image's name)" },
	{ "ledger", OPT_LEDGER, required_argument, "git:REMOTE",
	  "keep the ledger and the block in a git remote (or CI_LEDGER)" },
	{ "slack-webhook", OPT_SLACK, required_argument, "URL",
	  "Slack incoming webhook (or CI_SLACK_WEBHOOK)" },
	{ "pagerduty-key", OPT_PD_KEY, required_argument, "KEY",
	  "PagerDuty Events API v2 routing key (or CI_PAGERDUTY_ROUTING_KEY)" },
	{ "pagerduty-url", OPT_PD_URL, required_argument, "URL",
	  "PagerDuty events endpoint (or CI_PAGERDUTY_URL)" },
	{ "webhook", OPT_WEBHOOK, required_argument, "URL",
	  "a generic JSON webhook (or CI_ALERT_WEBHOOK)" },
	{ "smtp-url", OPT_SMTP_URL, required_argument, "URL",
	  "mail server, smtp:// or smtps:// (or CI_SMTP_URL)" },
	{ "email-to", OPT_EMAIL_TO, required_argument, "ADDR",
	  "mail the alert to ADDR (or CI_ALERT_EMAIL)" },
	{ "email-from", OPT_EMAIL_FROM, required_argument, "ADDR",
	  "the sender (default ci-rollback@HOSTNAME)" },
	{ "notify-success", OPT_NOTIFY_SUCCESS, no_argument, NULL,
	  "tell Slack and the webhook when a release goes stable" },
	{ "tag-stable", OPT_TAG_STABLE, no_argument, NULL,
	  "move the registry's 'stable' tag to a release that passed" },
	{ "retries", OPT_RETRIES, required_argument, "N",
	  "attempts at restoring traffic (default 3)" },
	{ "alert-attempts", OPT_ALERT_ATTEMPTS, required_argument, "N",
	  "attempts per alert on 429, 5xx and network errors (default 4)" },
	{ "to", OPT_TO, required_argument, "previous|VERSION|DIGEST",
	  "put an earlier release back, and exit" },
	{ "deploy-cmd", OPT_DEPLOY_CMD, required_argument, "CMD",
	  "with --to: how to deploy it ({{image}}, {{version}}, {{slot}})" },
	{ "file", 'f', required_argument, "FILE", "with --to: the rollout spec's traffic" },
	{ "status", OPT_STATUS, no_argument, NULL, "print the ledger, and exit" },
	{ "json", OPT_JSON, no_argument, NULL, "with --status: JSON lines, even on a terminal" },
	{ "unblock", OPT_UNBLOCK, no_argument, NULL, "lift the block, and exit" },
	{ "reason", OPT_REASON, required_argument, "TEXT", "with --unblock: what was fixed" },
	STAGE_OPT_END
};

static const struct option registry_longopts[] = {
	REGISTRY_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 }
};

enum { ACT_PIPELINE, ACT_STATUS, ACT_UNBLOCK, ACT_TO };

static const char *
env_or(const char *v, const char *name)
{
	const char *s;

	if (v)
		return v;
	s = getenv(name);
	return s && *s ? s : NULL;
}

/* Returns -1 to go on, else the exit status. */
static int
parse_args(struct stage *st, int argc, char **argv, struct rollback_cmd *c,
    struct registry_opts *ro, int *action)
{
	struct err e = { 0, "" };
	int ch, rc = 0, actions = 0;
	long n;

	st->synopsis = "ci-rollback [-q] [--app NAME] [--ledger git:REMOTE] [--slack-webhook URL]\n"
	    "                   [--pagerduty-key KEY] [--webhook URL] [--smtp-url URL\n"
	    "                   --email-to ADDR] [--notify-success] [--tag-stable]\n"
	    "                   [--html FILE] [--new] [registry options]\n"
	    "       ci-rollback --app NAME --status [--json]\n"
	    "       ci-rollback [--app NAME] --unblock --reason TEXT\n"
	    "       ci-rollback --app NAME --to previous|VERSION|DIGEST [--deploy-cmd CMD]\n"
	    "       ci-rollback --version";
	st->about = "The last stage: a failed release goes back to stable, is recorded, alerted\n"
	    "and blocks the pipeline; a passed one becomes stable.  See ci-rollback(1).";
	st->opts = opts;
	st->more_opts = registry_longopts;
	/* --retries is ci-rollback's own (traffic): the registry's is hidden. */
	st->more_help = registry_options_help("--retries");
	while (rc == 0 && (ch = stage_getopt(st, argc, argv)) != -1) {
		if (ch >= REGOPT_FIRST && ch < REGOPT_LAST) {
			if (registry_opts_arg(ro, ch, optarg, &e) < 0)
				return err_report(&e);
			continue;
		}
		switch (ch) {
		case 'f':
			c->spec = optarg;
			break;
		case OPT_APP:
			c->app = optarg;
			break;
		case OPT_LEDGER:
			c->ledger = optarg;
			break;
		case OPT_SLACK:
			c->slack = optarg;
			break;
		case OPT_PD_KEY:
			c->pagerduty_key = optarg;
			break;
		case OPT_PD_URL:
			c->pagerduty_url = optarg;
			break;
		case OPT_WEBHOOK:
			c->webhook = optarg;
			break;
		case OPT_SMTP_URL:
			c->smtp_url = optarg;
			break;
		case OPT_EMAIL_TO:
			c->email_to = optarg;
			break;
		case OPT_EMAIL_FROM:
			c->email_from = optarg;
			break;
		case OPT_NOTIFY_SUCCESS:
			c->notify_success = 1;
			break;
		case OPT_TAG_STABLE:
			c->tag_stable = 1;
			break;
		case OPT_RETRIES:
			rc = stage_long_arg(st, "--retries", optarg, 1, 100, &n);
			c->traffic_attempts = (int)n;
			break;
		case OPT_ALERT_ATTEMPTS:
			rc = stage_long_arg(st, "--alert-attempts", optarg, 1, 100, &n);
			c->alert_attempts = (int)n;
			break;
		case OPT_TO:
			c->to = optarg;
			*action = ACT_TO;
			actions++;
			break;
		case OPT_DEPLOY_CMD:
			c->deploy_cmd = optarg;
			break;
		case OPT_STATUS:
			*action = ACT_STATUS;
			actions++;
			break;
		case OPT_JSON:
			c->json = 1;
			break;
		case OPT_UNBLOCK:
			*action = ACT_UNBLOCK;
			actions++;
			break;
		case OPT_REASON:
			c->reason = optarg;
			break;
		}
	}
	if (st->exit >= 0)
		return st->exit;
	if (rc)
		return rc;
	if (optind < argc)
		return stage_usage_error(st, "unexpected argument '%s'", argv[optind]);
	if (actions > 1)
		return stage_usage_error(st, "--to, --status and --unblock go alone");
	if (c->deploy_cmd && *action != ACT_TO)
		return stage_usage_error(st, "--deploy-cmd goes with --to");
	if (c->json && *action != ACT_STATUS)
		return stage_usage_error(st, "--json goes with --status");
	if (c->reason && *action != ACT_UNBLOCK)
		return stage_usage_error(st, "--reason goes with --unblock");
	if (c->spec && *action != ACT_TO)
		return stage_usage_error(st, "-f goes with --to");
	if (*action == ACT_UNBLOCK && (!c->reason || !*c->reason))
		return stage_usage_error(st, "--unblock needs --reason TEXT: what was fixed");
	if ((*action == ACT_STATUS || *action == ACT_TO) && !c->app)
		return stage_usage_error(st, "%s needs --app NAME", *action == ACT_TO ? "--to" :
		    "--status");
	c->ledger = env_or(c->ledger, "CI_LEDGER");
	c->slack = env_or(c->slack, "CI_SLACK_WEBHOOK");
	c->pagerduty_key = env_or(c->pagerduty_key, "CI_PAGERDUTY_ROUTING_KEY");
	c->pagerduty_url = env_or(c->pagerduty_url, "CI_PAGERDUTY_URL");
	c->webhook = env_or(c->webhook, "CI_ALERT_WEBHOOK");
	c->smtp_url = env_or(c->smtp_url, "CI_SMTP_URL");
	c->email_to = env_or(c->email_to, "CI_ALERT_EMAIL");
	if (c->email_to && !c->smtp_url)
		return stage_usage_error(st, "--email-to needs --smtp-url (or CI_SMTP_URL)");
	{
		/* Every URL checked now, not when the first alert fails. */
		const struct {
			const char *opt, *url, *schemes;
		} urls[] = {
			{ "--slack-webhook", c->slack, "http,https" },
			{ "--pagerduty-url", c->pagerduty_url, "http,https" },
			{ "--webhook", c->webhook, "http,https" },
			{ "--smtp-url", c->smtp_url, "smtp,smtps" },
		};
		size_t i;

		for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
			if (urls[i].url && http_url_check(urls[i].url, urls[i].schemes, &e) < 0)
				return e.code == EX_SERVICE ? err_report(&e) :
				    stage_usage_error(st, "%s: %s", urls[i].opt, e.msg);
	}
	if (ro->password_stdin && *action == ACT_PIPELINE)
		return stage_usage_error(st, "--password-stdin: standard input carries the document; "
		    "use --password-file");
	if (c->tag_stable && *action != ACT_PIPELINE)
		return stage_usage_error(st, "--tag-stable goes with a pipeline document");
	if (registry_opts_finish(ro, &e) < 0)
		return err_report(&e);
	return -1;
}

int
main(int argc, char **argv)
{
	struct stage st;
	struct rollback_cmd c;
	struct registry_opts ro;
	struct err e = { 0, "" };
	char from[300];
	int rc, action = ACT_PIPELINE;

	stage_init(&st, "ci-rollback", "rollback", "rolling back");
	st.html = html_report_write;
	st.acts_on_failure = 1;
	memset(&c, 0, sizeof(c));
	registry_opts_init(&ro);
	c.state_dir = state_dir();
	c.traffic_attempts = 3;
	c.alert_attempts = 4;
	c.reg = &ro;
	c.tty = isatty(1);
	rc = parse_args(&st, argc, argv, &c, &ro, &action);
	if (rc < 0) {
		if (!c.email_from) {
			char host[256] = "localhost";

			if (gethostname(host, sizeof(host)) < 0 || !*host)
				snprintf(host, sizeof(host), "localhost");
			host[sizeof(host) - 1] = '\0';
			snprintf(from, sizeof(from), "ci-rollback@%s", host);
			c.email_from = from;
		}
		switch (action) {
		case ACT_STATUS:
			rc = rollback_status(&c, stdout, &e) < 0 ? err_report(&e) : 0;
			break;
		case ACT_UNBLOCK:
			rc = rollback_unblock(&c, &e) < 0 ? err_report(&e) : 0;
			break;
		case ACT_TO:
			rc = rollback_to(&c, stdout, &e) < 0 ? err_report(&e) : 0;
			break;
		default:
			rc = stage_run(&st, rollback_work, &c);
			break;
		}
		if (action != ACT_PIPELINE && rc == 0 && (fflush(stdout) || ferror(stdout))) {
			log_error("cannot write to standard output");
			rc = EX_IOERR_;
		}
		curl_global_cleanup();
	}
	registry_opts_free(&ro);
	stage_free(&st);
	return rc;
}
