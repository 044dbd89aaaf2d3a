/*
 * alert: telling people what ci-rollback did (the seed's step 6: "Alert
 * fires to Slack + PagerDuty", an email to the team lead, and the
 * "Notify success" message).
 *
 *   slack      an incoming webhook: POST {"text": TEXT}.  TEXT is
 *              alert_slack_text() with &, < and > escaped as Slack wants.
 *   pagerduty  the Events API v2 (default endpoint
 *              https://events.pagerduty.com/v2/enqueue): a rollback
 *              triggers an incident, an unblock resolves it (the same
 *              dedup_key).  A success pages nobody: alert_send()
 *              refuses it (attempts 0), so the caller skips PagerDuty
 *              then.
 *   webhook    POST of a JSON object with every field of the event.
 *   email      SMTP through libcurl: smtp:// plain, smtps:// TLS from the
 *              first byte; user:password@ in the URL logs in, and then a
 *              smtp:// URL must upgrade with STARTTLS (a password never
 *              travels in clear).  One message, RFC 5322 with CRLF line
 *              ends, the text quoted-printable in UTF-8.
 *
 * The rollback text (Slack's, the email's body; PagerDuty's summary is
 * the same facts on one line):
 *
 *     🚨 ROLLBACK: Deployment [APP ]VERSION failed
 *     ⚠️ Traffic may NOT be back on stable: ...    (traffic_restored == 0)
 *     REASON                                       ("Reason: unknown")
 *     Rolled back to: STABLE                       ("unknown")
 *     Affected users: ~WEIGHT%                     (weight >= 0)
 *     Action required: Fix and redeploy
 *     Image: IMAGE (DIGEST)  /  Pipeline: ID       (when given)
 *     Detected: / Rollback started: / Traffic restored: /
 *     Time to rollback: / Alert:                   (the timeline, when given)
 *
 * so the seed's event (reason "Error rate: 12.3% (threshold: 5%)", no
 * app) gives the seed's five lines exactly.  VERSION is the version, else
 * the image, else the digest, else "unknown".  A success is "✅ [APP
 * ]VERSION deployed to production successfully!"; an unblock is "✅
 * RESOLVED: ..." with the unblock reason.
 *
 * Delivery: each attempt has its own timeout; 429, 5xx and connection
 * errors (timeouts included) are retried with core/retry's backoff
 * (base 500 ms, cap 4 s; a Retry-After is honoured up to
 * ALERT_RETRY_AFTER_MAX_MS), 3xx and other 4xx are final (so are SMTP's
 * 5xx replies, a refused login, a bad URL, a missing STARTTLS and a
 * certificate that does not verify; SMTP's 4xx are retried).  Redirects
 * are not followed.  At least once: an attempt that timed out after the
 * server took the message is sent again (PagerDuty folds the copies by
 * dedup_key; Slack shows both).  Nothing here logs.
 *
 * Secrets: a webhook URL's path and query (Slack's is a credential), a
 * URL's user and password and a PagerDuty routing key never appear in
 * an error: URLs are shown through alert_url_shown(), and what a server
 * answers is scrubbed of them before it is quoted (not quoted at all when
 * one of them is shorter than 4 bytes).
 *
 * Ownership: the event and the target are borrowed; every char * and
 * cJSON * returned belongs to the caller.  Text taken from the event has
 * its control characters (other than newlines in the reasons) turned into
 * spaces and bytes that are not UTF-8 into '?', so a value cannot add a
 * header or forge a line; a field is cut at 512 bytes, a reason at 4000,
 * with "…".
 */
#ifndef CI_RELEASE_ALERT_H
#define CI_RELEASE_ALERT_H

#include <signal.h>
#include <cJSON.h>

enum alert_kind { ALERT_SLACK = 1, ALERT_PAGERDUTY, ALERT_WEBHOOK, ALERT_EMAIL };
enum alert_event_kind { ALERT_ROLLBACK = 1, ALERT_SUCCESS, ALERT_RESOLVE };

#define ALERT_PAGERDUTY_URL "https://events.pagerduty.com/v2/enqueue"
#define ALERT_SUMMARY_MAX 1024		/* PagerDuty's cap on payload.summary, bytes */
#define ALERT_RETRY_AFTER_MAX_MS 5000	/* a longer Retry-After is shortened to this */

struct alert_event {
	int kind;			/* enum alert_event_kind */
	const char *app;		/* the release: any may be NULL */
	const char *version;
	const char *image;
	const char *digest;
	const char *reason;		/* "Error rate: 12.3% (threshold: 5%)" */
	const char *rolled_back_to;	/* the stable version, or NULL: "unknown" */
	int weight;			/* canary weight when it failed (~N% of users); -1 unknown */
	int traffic_restored;		/* 0: traffic may NOT be back on stable (said loudly) */
	const char *pipeline_id;
	const char *dedup_key;		/* PagerDuty's; NULL: alert_dedup_key() */
	/* The timeline, RFC 3339 or NULL; alert_at NULL: alert_send() uses now. */
	const char *detected_at;
	const char *rollback_started_at;
	const char *traffic_restored_at;
	const char *alert_at;
	long long rollback_ms;		/* detection to traffic back; -1 unknown */
	const char *unblock_reason;	/* ALERT_RESOLVE */
};

struct alert_target {
	int kind;			/* enum alert_kind */
	/* slack/webhook URL; pagerduty endpoint (NULL: ALERT_PAGERDUTY_URL);
	 * email: smtp://[user:password@]host[:port] or smtps://... */
	const char *url;
	const char *routing_key;	/* pagerduty: the integration key (a secret) */
	const char *from, *to;		/* email: "Name <a@b>" or "a@b"; to: comma-separated */
	long long timeout_ms;		/* per attempt; 0: 10 s */
	int max_attempts;		/* 0: 4 */
	const char *ca_file;		/* extra CA bundle (PEM) for TLS, or NULL */
	const volatile sig_atomic_t *stop;	/* set by a signal: no more waiting, or NULL */
};

struct alert_result {
	int delivered;			/* 2xx (SMTP: the message was accepted) */
	int attempts;
	long status;			/* the last HTTP status or SMTP reply code; 0: none */
	long long ms;			/* total time, waits included */
	char at[40];			/* RFC 3339 with ms when delivered, else "" */
	char error[512];		/* why not: the target shown, the answer, attempts */
};

/*
 * Deliver ev to t.  Returns 0 when delivered, -1 when not (r says why:
 * a bad target, such as a missing URL or routing key, fails with
 * attempts 0, as does a libcurl that cannot be loaded: net/curl-load.h).
 * Never exits, never prints.
 */
int alert_send(const struct alert_target *t, const struct alert_event *ev,
    struct alert_result *r);

/* "slack", "pagerduty", "webhook", "email", or NULL; and back (0 when
 * name is not one). */
const char *alert_kind_name(int kind);
int alert_kind_parse(const char *name);

/* The message bodies, for tests and for showing what would be sent. */

/* The plain text described above (UTF-8, "\n" line ends, no final newline). */
char *alert_slack_text(const struct alert_event *ev);
/* {"text": the text with Slack's escapes}. */
cJSON *alert_slack_body(const struct alert_event *ev);
/*
 * Events API v2.  Rollback: routing_key, event_action "trigger",
 * dedup_key, payload {summary (at most ALERT_SUMMARY_MAX bytes, cut on a
 * UTF-8 boundary with "…"), source (the app, else "ci-rollback"),
 * severity "critical", timestamp (detected_at when it is RFC 3339),
 * component (the app), group (the pipeline), class "deployment",
 * custom_details {every known field, the text}}, client "ci-rollback".
 * Resolve: routing_key, event_action "resolve", dedup_key only.  A
 * success: NULL.  routing_key NULL leaves the key out (for showing).
 */
cJSON *alert_pagerduty_body(const struct alert_event *ev, const char *routing_key);
/*
 * Every field: {"event": "rollback"|"success"|"resolve", "text", "app",
 * "version", "image", "digest", "reason", "rolled_back_to", "weight",
 * "traffic_restored", "pipeline_id", "dedup_key", "detected_at",
 * "rollback_started_at", "traffic_restored_at", "alert_at",
 * "rollback_ms", "unblock_reason"}; unknown values are null.
 */
cJSON *alert_webhook_body(const struct alert_event *ev);
/*
 * The whole message: Date, From, To, Subject (RFC 2047 encoded when not
 * ASCII), Message-ID, MIME-Version, Content-Type text/plain;
 * charset=utf-8, Content-Transfer-Encoding quoted-printable, a blank
 * line, the text and a signature; CRLF line ends, headers folded at 78
 * columns where they have spaces, body lines of at most 76.  date is RFC
 * 5322's ("Thu, 26 Nov 2026 09:00:00 +0000"), message_id with its angle
 * brackets; alert_send() makes both (the Message-ID in the sender's
 * domain).  A NULL argument leaves its header out.
 */
char *alert_email_message(const struct alert_event *ev, const char *from, const char *to,
    const char *date_rfc5322, const char *message_id);
/* "ROLLBACK: Deployment [APP ]VERSION failed" and the like, unencoded. */
char *alert_email_subject(const struct alert_event *ev);

/* ev->dedup_key, else "ci-rollback/APP/VERSION" (the same for the trigger
 * and the resolve of one release, in any process). */
char *alert_dedup_key(const struct alert_event *ev);

/* A URL as it may be shown: scheme, "***@" when it had userinfo (as
 * core/encode's url_redact() shows it), host and port, then "/…" when it
 * had a path or query ("https://hooks.slack.com/…"); "(not a URL)" when
 * it cannot be parsed.  Never user, password, path or query. */
char *alert_url_shown(const char *url);

#endif
