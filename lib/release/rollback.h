/*
 * rollback: the work of ci-rollback, the pipeline's safety net.
 *
 * As the last filter of a pipeline (rollback_work, a stage_work):
 *
 *   failed   the canary failed (its section says failed or error) or any
 *            stage after push failed: traffic goes to 100% stable through
 *            the canary section's traffic config (idempotent, retried, so
 *            it works even when ci-canary died), the release is recorded
 *            as failed in the ledger, the alerts go out (each at most once
 *            per release: what was delivered is kept in
 *            $CI_STATE_DIR/rollback/APP.json with the PagerDuty dedup
 *            key), the block file is written, the section says
 *            rolled_back, exit 1.  Traffic that cannot be restored is
 *            exit 69 (the block and the alerts still go out, saying so).
 *   passed   every stage passed and the canary promoted the release: it
 *            is the new stable in the ledger (the one before superseded),
 *            the success notice goes where asked, the registry's "stable"
 *            tag moves to its digest with --tag-stable; exit 0.
 *   nothing  no canary section and no failed stage, or a failure before
 *            anything was pushed: nothing to roll back; exit 0 with a
 *            note (1 when the pipeline had failed).
 *
 * By hand (rollback_status, rollback_unblock, rollback_to): the ledger
 * as a table or JSON, lifting the block (and resolving the PagerDuty
 * incident), and going back to an earlier release.
 */
#ifndef CI_RELEASE_ROLLBACK_H
#define CI_RELEASE_ROLLBACK_H

#include <stdio.h>
#include <cJSON.h>

#include "core/log.h"
#include "core/stage.h"
#include "net/registry.h"

struct rollback_cmd {
	const char *app;		/* --app, else the canary's, else the image's name */
	const char *state_dir;
	const char *ledger;		/* --ledger git:REMOTE, or NULL */
	/* alerts */
	const char *slack;		/* --slack-webhook / CI_SLACK_WEBHOOK */
	const char *pagerduty_key;	/* --pagerduty-key / CI_PAGERDUTY_ROUTING_KEY */
	const char *pagerduty_url;	/* --pagerduty-url / CI_PAGERDUTY_URL */
	const char *webhook;		/* --webhook / CI_ALERT_WEBHOOK */
	const char *smtp_url;		/* --smtp-url / CI_SMTP_URL */
	const char *email_to;		/* --email-to / CI_ALERT_EMAIL */
	const char *email_from;		/* --email-from (default ci-rollback@HOST) */
	int notify_success;		/* --notify-success */
	int alert_attempts;		/* per alert (default 4) */
	/* traffic */
	int traffic_attempts;		/* restoring traffic (default 3) */
	const char *spec;		/* -f rollout.json (by hand: the traffic config) */
	/* --tag-stable */
	int tag_stable;
	struct registry_opts *reg;	/* registry options, for --tag-stable (and
					 * --ca-file for the alerts too) */
	/* by hand */
	const char *to;			/* --to previous|VERSION|DIGEST */
	const char *deploy_cmd;		/* --deploy-cmd TEXT ({{image}}, {{version}}, {{slot}}) */
	const char *reason;		/* --reason TEXT */
	int json;			/* --json */
	int tty;			/* output to a terminal: --status prints a table */
};

/* The slot the release of doc runs in, from its canary section: the
 * stable one once the canary was promoted, else the canary's; NULL when
 * the section names none (borrowed). */
const char *rollback_slot(const cJSON *doc);

/* The pipeline filter (core/stage.h); arg is the struct rollback_cmd. */
int rollback_work(struct stage *s, void *arg, cJSON **section, struct err *e);

/* --status: the ledger of the app on out (a table, or JSON lines). */
int rollback_status(const struct rollback_cmd *c, FILE *out, struct err *e);

/* --unblock --reason TEXT: remove the block file, record why, resolve the
 * PagerDuty incident of the blocked release.  0, or -1 with e (EX_FAIL
 * when there was no block). */
int rollback_unblock(const struct rollback_cmd *c, struct err *e);

/* --to previous|VERSION|DIGEST: put that release back (traffic to its slot
 * when it still runs there, else --deploy-cmd), record it stable and the
 * one it replaces rolled_back.  A summary line on out. */
int rollback_to(const struct rollback_cmd *c, FILE *out, struct err *e);

#endif
