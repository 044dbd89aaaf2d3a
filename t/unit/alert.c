/*
 * Unit tests for lib/release/alert.c: the Slack, PagerDuty, webhook and
 * email bodies, field by field, and real deliveries to
 * t/helpers/alert-receiver and t/helpers/smtp-receiver, which this test
 * starts itself (skipped, saying why, when python3 is missing).
 *
 *   t/unit/alert.t [--bodies]     (--bodies: no deliveries, for valgrind)
 *
 * Run from the top of the tree (make check does), where t/helpers is.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cJSON.h>
#include <curl/curl.h>

#include "port.h"
#include "tap.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "release/alert.h"

#define SLACK_PATH "/services/T000/B000/XXXXSECRETXXXX"

/* The seed's example: v2.4.1 failed at 5%, back on v2.3.9. */
static struct alert_event
seed_event(void)
{
	struct alert_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = ALERT_ROLLBACK;
	ev.version = "v2.4.1";
	ev.reason = "Error rate: 12.3% (threshold: 5%)";
	ev.rolled_back_to = "v2.3.9";
	ev.weight = 5;
	ev.traffic_restored = 1;
	ev.rollback_ms = -1;
	return ev;
}

/* Every field given. */
static struct alert_event
full_event(void)
{
	struct alert_event ev = seed_event();

	ev.app = "shop";
	ev.image = "registry.acme.com/shop:v2.4.1";
	ev.digest = "sha256:4f1c";
	ev.pipeline_id = "gh-1234";
	ev.dedup_key = "ci-rollback/shop/v2.4.1";
	ev.detected_at = "2026-11-26T09:02:00Z";
	ev.rollback_started_at = "2026-11-26T09:02:01Z";
	ev.traffic_restored_at = "2026-11-26T09:02:03Z";
	ev.alert_at = "2026-11-26T09:02:04Z";
	ev.rollback_ms = 2100;
	return ev;
}

static const char *
jstr(const cJSON *o, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static int
valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int n;

	while (*p) {
		if (*p < 0x80)
			n = 0;
		else if ((*p & 0xE0) == 0xC0)
			n = 1;
		else if ((*p & 0xF0) == 0xE0)
			n = 2;
		else if ((*p & 0xF8) == 0xF0)
			n = 3;
		else
			return 0;
		for (p++; n > 0; n--, p++)
			if ((*p & 0xC0) != 0x80)
				return 0;
	}
	return 1;
}

static void
test_slack_text(void)
{
	struct alert_event ev = seed_event();
	char *t;
	cJSON *b;

	t = alert_slack_text(&ev);
	is_str(t, "\xF0\x9F\x9A\xA8 ROLLBACK: Deployment v2.4.1 failed\n"
	    "Error rate: 12.3% (threshold: 5%)\n"
	    "Rolled back to: v2.3.9\n"
	    "Affected users: ~5%\n"
	    "Action required: Fix and redeploy",
	    "the seed's event gives the seed's Slack message, line for line");
	free(t);

	ev = full_event();
	t = alert_slack_text(&ev);
	is_str(t, "\xF0\x9F\x9A\xA8 ROLLBACK: Deployment shop v2.4.1 failed\n"
	    "Error rate: 12.3% (threshold: 5%)\n"
	    "Rolled back to: v2.3.9\n"
	    "Affected users: ~5%\n"
	    "Action required: Fix and redeploy\n"
	    "Image: registry.acme.com/shop:v2.4.1 (sha256:4f1c)\n"
	    "Pipeline: gh-1234\n"
	    "Detected: 2026-11-26T09:02:00Z\n"
	    "Rollback started: 2026-11-26T09:02:01Z\n"
	    "Traffic restored: 2026-11-26T09:02:03Z\n"
	    "Time to rollback: 2.1s\n"
	    "Alert: 2026-11-26T09:02:04Z",
	    "every field: the app, the image, the pipeline and the timeline follow");
	free(t);

	ev = seed_event();
	ev.traffic_restored = 0;
	ev.rolled_back_to = NULL;
	ev.weight = -1;
	ev.reason = NULL;
	ev.version = NULL;
	ev.image = "reg/shop@sha256:abc";
	t = alert_slack_text(&ev);
	is_str(t, "\xF0\x9F\x9A\xA8 ROLLBACK: Deployment reg/shop@sha256:abc failed\n"
	    "\xE2\x9A\xA0\xEF\xB8\x8F Traffic may NOT be back on stable: the rollback could not"
	    " confirm it, check the load balancer now\n"
	    "Reason: unknown\n"
	    "Rolled back to: unknown\n"
	    "Action required: Fix and redeploy\n"
	    "Image: reg/shop@sha256:abc",
	    "traffic not restored is said on the second line; unknowns say so; no weight, no line");
	free(t);

	ev = seed_event();
	ev.kind = ALERT_SUCCESS;
	t = alert_slack_text(&ev);
	is_str(t, "\xE2\x9C\x85 v2.4.1 deployed to production successfully!",
	    "the seed's success message");
	free(t);
	ev.app = "shop";
	ev.pipeline_id = "gh-9";
	t = alert_slack_text(&ev);
	is_str(t, "\xE2\x9C\x85 shop v2.4.1 deployed to production successfully!\nPipeline: gh-9",
	    "... with the app and the pipeline");
	free(t);

	ev = full_event();
	ev.kind = ALERT_RESOLVE;
	ev.unblock_reason = "fixed in v2.4.2";
	ev.image = ev.digest = NULL;
	t = alert_slack_text(&ev);
	is_str(t, "\xE2\x9C\x85 RESOLVED: Deployment shop v2.4.1: the pipeline is unblocked\n"
	    "Reason: fixed in v2.4.2\nPipeline: gh-1234", "an unblock resolves, with its reason");
	free(t);

	/* Controls cannot forge lines, except the reason's own newlines. */
	ev = seed_event();
	ev.app = "shop\r\nAction required: nothing";
	ev.reason = "error rate 9% > 5%\r\n3 of 3 failures\x1b[31m";
	ev.version = "v1\xff";
	t = alert_slack_text(&ev);
	is_str(t, "\xF0\x9F\x9A\xA8 ROLLBACK: Deployment shop  Action required: nothing v1? failed\n"
	    "error rate 9% > 5%\n3 of 3 failures [31m\n"
	    "Rolled back to: v2.3.9\nAffected users: ~5%\nAction required: Fix and redeploy",
	    "control characters become spaces, bad UTF-8 '?', a reason keeps its lines");
	b = alert_slack_body(&ev);
	like(jstr(b, "text"), "error rate 9% &gt; 5%", "Slack's body escapes '>'");
	cJSON_Delete(b);
	free(t);

	ev = seed_event();
	ev.reason = "a < b & c > d <!channel>";
	b = alert_slack_body(&ev);
	ok(b && cJSON_GetArraySize(b) == 1, "the Slack body is {\"text\": ...}");
	like(jstr(b, "text"), "\na &lt; b &amp; c &gt; d &lt;!channel&gt;\n",
	    "... with &, < and > escaped, so no mention or link is forged");
	cJSON_Delete(b);
}

static void
test_pagerduty(void)
{
	struct alert_event ev = full_event();
	cJSON *b, *p, *d;
	char *key, reason[4000];
	size_t i;
	const char *s;

	b = alert_pagerduty_body(&ev, "R0UTINGKEY");
	p = cJSON_GetObjectItem(b, "payload");
	d = cJSON_GetObjectItem(p, "custom_details");
	is_str(jstr(b, "routing_key"), "R0UTINGKEY", "pagerduty: routing_key");
	is_str(jstr(b, "event_action"), "trigger", "a rollback triggers");
	is_str(jstr(b, "dedup_key"), "ci-rollback/shop/v2.4.1", "dedup_key as given");
	is_str(jstr(p, "severity"), "critical", "severity critical");
	is_str(jstr(p, "summary"), "ROLLBACK: Deployment shop v2.4.1 failed: Error rate: 12.3%"
	    " (threshold: 5%); rolled back to v2.3.9; ~5% of users affected", "the summary");
	is_str(jstr(p, "source"), "shop", "source: the app");
	is_str(jstr(p, "component"), "shop", "component: the app");
	is_str(jstr(p, "group"), "gh-1234", "group: the pipeline");
	is_str(jstr(p, "class"), "deployment", "class: deployment");
	is_str(jstr(p, "timestamp"), "2026-11-26T09:02:00Z", "timestamp: detection");
	is_str(jstr(b, "client"), "ci-rollback", "client");
	ok(d && !strcmp(jstr(d, "rolled_back_to"), "v2.3.9") &&
	    cJSON_GetObjectItem(d, "weight")->valuedouble == 5 &&
	    cJSON_IsTrue(cJSON_GetObjectItem(d, "traffic_restored")) &&
	    cJSON_GetObjectItem(d, "rollback_ms")->valuedouble == 2100 &&
	    !strcmp(jstr(d, "traffic_restored_at"), "2026-11-26T09:02:03Z") &&
	    !strncmp(jstr(d, "text"), "\xF0\x9F\x9A\xA8 ROLLBACK", 8),
	    "custom_details: the fields and the text");
	cJSON_Delete(b);

	ev.kind = ALERT_RESOLVE;
	b = alert_pagerduty_body(&ev, "R0UTINGKEY");
	ok(b && cJSON_GetArraySize(b) == 3 && !strcmp(jstr(b, "event_action"), "resolve") &&
	    !strcmp(jstr(b, "dedup_key"), "ci-rollback/shop/v2.4.1") &&
	    !strcmp(jstr(b, "routing_key"), "R0UTINGKEY"),
	    "an unblock resolves: routing_key, event_action and the same dedup_key only");
	cJSON_Delete(b);
	ev.kind = ALERT_SUCCESS;
	ok(alert_pagerduty_body(&ev, "k") == NULL, "a success pages nobody");

	ev = seed_event();
	ev.app = "shop";
	key = alert_dedup_key(&ev);
	is_str(key, "ci-rollback/shop/v2.4.1", "the default dedup key: app and version");
	free(key);
	ev.kind = ALERT_RESOLVE;
	b = alert_pagerduty_body(&ev, NULL);
	ok(b && !strcmp(jstr(b, "dedup_key"), "ci-rollback/shop/v2.4.1") &&
	    !cJSON_GetObjectItem(b, "routing_key"),
	    "... the same for the resolve of another process; no key: left out");
	cJSON_Delete(b);

	/* A long reason of 2-byte characters: cut at 1024 bytes, on a boundary. */
	ev = seed_event();
	ev.traffic_restored = 0;
	for (i = 0; i + 2 < sizeof(reason); i += 2)
		memcpy(reason + i, "\xC3\xA9", 2);
	reason[i] = '\0';
	ev.reason = reason;
	ev.detected_at = "yesterday";
	b = alert_pagerduty_body(&ev, "k");
	p = cJSON_GetObjectItem(b, "payload");
	s = jstr(p, "summary");
	ok(s && strlen(s) <= ALERT_SUMMARY_MAX && strlen(s) > ALERT_SUMMARY_MAX - 8 &&
	    valid_utf8(s) && !strcmp(s + strlen(s) - 3, "\xE2\x80\xA6"),
	    "a long summary is cut to 1024 bytes on a UTF-8 boundary, ending in an ellipsis");
	like(s, "ROLLBACK: Deployment v2.4.1 failed (traffic may NOT be back on stable): ",
	    "... and says first that traffic may not be back");
	is_str(jstr(p, "source"), "ci-rollback", "no app: the source is ci-rollback");
	ok(!cJSON_GetObjectItem(p, "timestamp"), "a detection time that is not RFC 3339 is left out");
	cJSON_Delete(b);
}

static void
test_webhook(void)
{
	static const char *const keys[] = { "event", "text", "app", "version", "image", "digest",
		"reason", "rolled_back_to", "weight", "traffic_restored", "pipeline_id", "dedup_key",
		"detected_at", "rollback_started_at", "traffic_restored_at", "alert_at",
		"rollback_ms", "unblock_reason" };
	struct alert_event ev = full_event();
	cJSON *b = alert_webhook_body(&ev);
	size_t i, have = 0;
	char *t = alert_slack_text(&ev);

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		have += cJSON_GetObjectItemCaseSensitive(b, keys[i]) != NULL;
	is_int(have, sizeof(keys) / sizeof(keys[0]), "webhook: every field is there");
	is_int(cJSON_GetArraySize(b), sizeof(keys) / sizeof(keys[0]), "... and nothing else");
	ok(!strcmp(jstr(b, "event"), "rollback") && !strcmp(jstr(b, "version"), "v2.4.1") &&
	    !strcmp(jstr(b, "digest"), "sha256:4f1c") && !strcmp(jstr(b, "text"), t) &&
	    cJSON_GetObjectItem(b, "weight")->valuedouble == 5 &&
	    cJSON_IsNull(cJSON_GetObjectItem(b, "unblock_reason")),
	    "... with the values, the plain text, and null for what is unknown");
	cJSON_Delete(b);
	free(t);
	ev = seed_event();
	ev.kind = ALERT_SUCCESS;
	ev.weight = -1;
	b = alert_webhook_body(&ev);
	ok(!strcmp(jstr(b, "event"), "success") && cJSON_IsNull(cJSON_GetObjectItem(b, "weight")) &&
	    cJSON_IsNull(cJSON_GetObjectItem(b, "rollback_ms")) &&
	    cJSON_IsNull(cJSON_GetObjectItem(b, "app")),
	    "a success; unknown numbers are null");
	cJSON_Delete(b);
}

/* Quoted-printable decoded, CRLF as "\n". */
static char *
qp_decode(const char *s)
{
	struct buf b;
	unsigned v;

	buf_init(&b, 0);
	while (*s) {
		if (s[0] == '=' && s[1] == '\r' && s[2] == '\n') {
			s += 3;
		} else if (s[0] == '=' && sscanf(s + 1, "%2x", &v) == 1) {
			buf_addc(&b, (int)v);
			s += 3;
		} else if (s[0] == '\r' && s[1] == '\n') {
			buf_addc(&b, '\n');
			s += 2;
		} else {
			buf_addc(&b, *s++);
		}
	}
	return buf_detach(&b, NULL);
}

/* Every line ends in CRLF and has at most max characters. */
static int
crlf_lines(const char *m, size_t max)
{
	const char *p = m, *nl;

	while (*p) {
		if (!(nl = strchr(p, '\n')) || nl == p || nl[-1] != '\r' ||
		    (size_t)(nl - 1 - p) > max)
			return 0;
		p = nl + 1;
	}
	return p > m;
}

static void
test_email(void)
{
	struct alert_event ev = full_event();
	char *m, *body, *t, *want;
	const char *sep;

	m = alert_email_message(&ev, "CI <ci@acme.com>", "Team Lead <lead@acme.com>",
	    "Thu, 26 Nov 2026 09:02:04 +0000", "<1.abc@acme.com>");
	sep = strstr(m, "\r\n\r\n");
	ok(sep != NULL, "email: headers, a blank line, the body");
	ok(!strncmp(m, "Date: Thu, 26 Nov 2026 09:02:04 +0000\r\n"
	    "From: CI <ci@acme.com>\r\n"
	    "To: Team Lead <lead@acme.com>\r\n"
	    "Subject: ROLLBACK: Deployment shop v2.4.1 failed\r\n"
	    "Message-ID: <1.abc@acme.com>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n", (size_t)(sep - m) + 4),
	    "the headers: Date, From, To, Subject, Message-ID, MIME-Version, Content-Type");
	ok(crlf_lines(m, 76), "every line ends in CRLF, none longer than 76");
	body = qp_decode(sep ? sep + 4 : "");
	t = alert_slack_text(&ev);
	want = xasprintf("%s\n\n-- \n", t);
	ok(!strncmp(body, want, strlen(want)), "the body is the Slack text, timeline included, "
	    "then a signature");
	like(body, "\nDetected: 2026-11-26T09:02:00Z\n", "... the timeline is there");
	free(want);
	free(t);
	free(body);
	free(m);

	/* Header injection through a field, a non-ASCII subject, a long To. */
	ev = seed_event();
	ev.app = "caf\xC3\xA9\r\nBcc: evil@x.example";
	m = alert_email_message(&ev, "ci@acme.com", "a@acme.com, b@acme.com, c@acme.com, "
	    "d@acme.com, e@acme.com, f@acme.com, g@acme.com", "Thu, 26 Nov 2026 09:02:04 +0000",
	    "<2@acme.com>");
	ok(!strstr(m, "\r\nBcc:"), "a CR LF in a field adds no header");
	like(m, "\r\nSubject: =?UTF-8?B?", "a non-ASCII subject is an RFC 2047 encoded word");
	ok(crlf_lines(m, 78), "long headers are folded to 78");
	like(m, "To: a@acme.com, b@acme.com, c@acme.com, d@acme.com, e@acme.com, f@acme.com,\r\n"
	    " g@acme.com\r\n", "... To folded at a space");
	free(m);

	/* A line starting with '.' and a long reason: QP keeps SMTP safe. */
	ev = seed_event();
	ev.reason = ".hidden line and a very long reason that goes on and on past the"
	    " seventy-six characters of a quoted-printable line = fine";
	m = alert_email_message(&ev, "ci@acme.com", "a@acme.com", "Thu, 26 Nov 2026 09:02:04 +0000",
	    "<3@acme.com>");
	like(m, "\r\n=2Ehidden", "a line opening with '.' is encoded");
	ok(crlf_lines(m, 76), "soft line breaks keep lines to 76");
	body = qp_decode(strstr(m, "\r\n\r\n") + 4);
	like(body, ev.reason, "... and it decodes back");
	free(body);
	free(m);

	ev.kind = ALERT_SUCCESS;
	t = alert_email_subject(&ev);
	is_str(t, "v2.4.1 deployed to production successfully", "a success's subject");
	free(t);
	ev.kind = ALERT_ROLLBACK;
	ev.traffic_restored = 0;
	t = alert_email_subject(&ev);
	is_str(t, "ROLLBACK: Deployment v2.4.1 failed - traffic may NOT be back on stable",
	    "traffic not restored is in the subject too");
	free(t);
}

static void
test_url_shown(void)
{
	static const struct {
		const char *url, *want;
	} cases[] = {
		{ "https://hooks.slack.com/services/T000/B000/XXXX", "https://hooks.slack.com/\xE2\x80\xA6" },
		{ "https://user:pass@hooks.example.com:8443/x?token=abc", "https://***@hooks.example.com:8443/\xE2\x80\xA6" },
		{ "smtps://ci%40acme.com:s3cret@smtp.acme.com:465", "smtps://***@smtp.acme.com:465" },
		{ "smtp://mail.acme.com", "smtp://mail.acme.com" },
		{ "http://127.0.0.1:9/", "http://127.0.0.1:9" },
		{ "https://events.pagerduty.com/v2/enqueue", "https://events.pagerduty.com/\xE2\x80\xA6" },
		{ "http://[::1]:8080/hook#frag", "http://[::1]:8080/\xE2\x80\xA6" },
		{ "https://h.example?q=secret", "https://h.example/\xE2\x80\xA6" },
		{ "not a url with a secret", "(not a URL)" },
		{ "", "(not a URL)" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = alert_url_shown(cases[i].url);

		is_str(s, cases[i].want, "url shown: '%s'", cases[i].want);
		free(s);
	}
	ok(alert_kind_parse("pagerduty") == ALERT_PAGERDUTY && alert_kind_parse("email") ==
	    ALERT_EMAIL && alert_kind_parse("sms") == 0 && !strcmp(alert_kind_name(ALERT_SLACK),
	    "slack") && alert_kind_name(9) == NULL, "kind names, both ways");
}

/* ---- deliveries ------------------------------------------------------- */

static char dir[256];

struct receiver {
	pid_t pid;
	int port;
	char out[300], ready[300], portf[300];
};

static int
start_receiver(struct receiver *rv, const char *helper, const char *name, const char *opt,
    const char *val)
{
	char *argv[14];
	int n = 0;

	memset(rv, 0, sizeof(*rv));
	snprintf(rv->out, sizeof(rv->out), "%s/%s.jsonl", dir, name);
	snprintf(rv->ready, sizeof(rv->ready), "%s/%s.ready", dir, name);
	snprintf(rv->portf, sizeof(rv->portf), "%s/%s.port", dir, name);
	argv[n++] = "python3";
	argv[n++] = (char *)helper;
	argv[n++] = "--port";
	argv[n++] = "0";
	argv[n++] = "--port-file";
	argv[n++] = rv->portf;
	argv[n++] = "--out";
	argv[n++] = rv->out;
	argv[n++] = "--ready-file";
	argv[n++] = rv->ready;
	if (opt) {
		argv[n++] = (char *)opt;
		argv[n++] = (char *)val;
	}
	argv[n] = NULL;
	fflush(stdout);
	if ((rv->pid = fork()) < 0)
		return -1;
	if (rv->pid == 0) {
		/* Not on our standard output: prove would wait for its end. */
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0)
			dup2(fd, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	return 0;
}

/* Wait until it listens (30 s at most: a loaded machine starts Python
 * slowly); the port, or -1. */
static int
wait_receiver(struct receiver *rv)
{
	long long end = mono_ms() + 30000;
	char *s;

	if (rv->pid <= 0)
		return -1;
	while (!path_exists(rv->ready)) {
		if (waitpid(rv->pid, NULL, WNOHANG) == rv->pid) {
			rv->pid = 0;	/* it died: nothing to stop */
			return -1;
		}
		if (mono_ms() > end)
			return -1;	/* stop_receiver() ends it */
		sleep_ms(20, NULL);
	}
	s = read_file(rv->portf, 100, NULL, NULL);
	rv->port = s ? (int)strtol(s, NULL, 10) : -1;
	free(s);
	return rv->port;
}

static void
stop_receiver(struct receiver *rv)
{
	if (rv->pid > 0) {
		kill(rv->pid, SIGTERM);
		waitpid(rv->pid, NULL, 0);
		rv->pid = 0;
	}
	unlink(rv->out);
	unlink(rv->ready);
	unlink(rv->portf);
}

/* The records of a receiver (an array), and how many have path (all of
 * them when path is NULL). */
static cJSON *
records(const struct receiver *rv, const char *path, int *n)
{
	char *text = read_file(rv->out, 1 << 20, NULL, NULL), *line, *save = NULL;
	cJSON *all = cJSON_CreateArray(), *r;

	*n = 0;
	for (line = text ? strtok_r(text, "\n", &save) : NULL; line;
	    line = strtok_r(NULL, "\n", &save)) {
		if (!(r = cJSON_Parse(line)))
			continue;
		if (!path || (jstr(r, "path") && !strcmp(jstr(r, "path"), path)))
			(*n)++;
		cJSON_AddItemToArray(all, r);
	}
	free(text);
	return all;
}

static void
target(struct alert_target *t, int kind, const char *url, int attempts)
{
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->url = url;
	t->max_attempts = attempts;
	t->timeout_ms = 5000;
}

enum { RV_OK, R_FAIL2, R_400, R_503, R_SMTP, R_SMTP550, NRECV };

static void
test_deliveries(void)
{
	static const struct {
		const char *helper, *name, *opt, *val;
	} spec[NRECV] = {
		{ "t/helpers/alert-receiver", "ok", NULL, NULL },
		{ "t/helpers/alert-receiver", "fail2", "--fail-first", "2" },
		{ "t/helpers/alert-receiver", "s400", "--status", "400" },
		{ "t/helpers/alert-receiver", "s503", "--status", "503" },
		{ "t/helpers/smtp-receiver", "smtp", NULL, NULL },
		{ "t/helpers/smtp-receiver", "smtp550", "--rcpt-status", "550" },
	};
	struct receiver rv[NRECV];
	struct alert_target t;
	struct alert_result r;
	struct alert_event ev = full_event();
	char url[300];
	cJSON *all, *rec, *want;
	int i, n, up = 1;
	const char *tmp = getenv("TMPDIR");

	if (system("command -v python3 >/dev/null 2>&1") != 0) {
		ok(1, "# SKIP deliveries: python3 is missing (the receivers are Python)");
		return;
	}
	if (access("t/helpers/alert-receiver", R_OK) != 0) {
		ok(1, "# SKIP deliveries: run from the top of the tree (no t/helpers here)");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/alert-t.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	/* Started together: each takes about a second to come up. */
	for (i = 0; i < NRECV; i++)
		if (start_receiver(&rv[i], spec[i].helper, spec[i].name, spec[i].opt, spec[i].val) < 0)
			up = 0;
	for (i = 0; i < NRECV; i++)
		if (wait_receiver(&rv[i]) < 0) {
			printf("# %s %s %s did not start\n", spec[i].helper, spec[i].opt ? spec[i].opt : "",
			    spec[i].val ? spec[i].val : "");
			up = 0;
		}
	if (!ok(up, "the receivers listen"))
		goto out;

	/* Slack, delivered once. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d" SLACK_PATH, rv[RV_OK].port);
	target(&t, ALERT_SLACK, url, 0);
	ev.reason = "error rate 12.3% > 5% on green at 5% weight, 3 of 3 failures";
	ok(alert_send(&t, &ev, &r) == 0 && r.delivered && r.attempts == 1 && r.status == 200,
	    "slack: delivered at the first attempt (200)");
	ok(strlen(r.at) == 24 && r.at[23] == 'Z' && r.ms >= 0, "... at %s, in %lld ms", r.at, r.ms);
	all = records(&rv[RV_OK], SLACK_PATH, &n);
	is_int(n, 1, "the receiver got one POST on the webhook's path");
	rec = cJSON_GetArrayItem(all, 0);
	want = alert_slack_body(&ev);
	ok(rec && cJSON_Compare(cJSON_GetObjectItem(rec, "body"), want, 1),
	    "... whose body is the Slack body");
	like(jstr(cJSON_GetObjectItem(rec, "body"), "text"), "on green at 5% weight, 3 of 3 failures\n"
	    "Rolled back to: v2.3.9\nAffected users: ~5%\nAction required: Fix and redeploy",
	    "... with the seed's lines and the reason (> escaped)");
	is_str(jstr(cJSON_GetObjectItem(rec, "headers"), "content-type"), "application/json",
	    "... as application/json");
	cJSON_Delete(want);
	cJSON_Delete(all);

	/* 429 twice, then 200: three attempts, each after Retry-After: 1. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d" SLACK_PATH, rv[R_FAIL2].port);
	target(&t, ALERT_SLACK, url, 0);
	ok(alert_send(&t, &ev, &r) == 0 && r.delivered, "slack after two 429s: delivered");
	is_int(r.attempts, 3, "... at the third attempt");
	ok(r.ms >= 1900, "... having waited Retry-After: 1 each time (%lld ms)", r.ms);
	cJSON_Delete(records(&rv[R_FAIL2], SLACK_PATH, &n));
	is_int(n, 3, "... the receiver saw 3 POSTs");

	/* 400 is final; nothing of the path appears. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d" SLACK_PATH, rv[R_400].port);
	target(&t, ALERT_SLACK, url, 0);
	ok(alert_send(&t, &ev, &r) < 0 && !r.delivered, "slack answering 400: not delivered");
	ok(r.attempts == 1 && r.status == 400, "... after 1 attempt, status 400");
	like(r.error, "answered 400", "... the error names the status");
	like(r.error, "127.0.0.1", "... and the host");
	like(r.error, "cannot POST \xE2\x80\xA6", "... quoting the answer with the path cut out");
	ok(!strstr(r.error, "XXXXSECRETXXXX") && !strstr(r.error, "/services/T000"),
	    "... never the URL's secret path: %s", r.error);

	/* user:password@ in a URL, and a routing key, never shown either. */
	snprintf(url, sizeof(url), "http://hookuser:pa55w0rd@127.0.0.1:%d/hook/abcdef", rv[R_400].port);
	target(&t, ALERT_WEBHOOK, url, 0);
	ok(alert_send(&t, &ev, &r) < 0 && !strstr(r.error, "pa55w0rd") && !strstr(r.error, "hookuser") &&
	    !strstr(r.error, "abcdef"), "webhook: no user, password or path in '%s'", r.error);

	/* 503 is retried, up to max_attempts. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v2/enqueue", rv[R_503].port);
	target(&t, ALERT_PAGERDUTY, url, 2);
	t.routing_key = "R0UT1NGKEYR0UT1NGKEY";
	ok(alert_send(&t, &ev, &r) < 0 && r.attempts == 2 && r.status == 503,
	    "pagerduty answering 503 with max_attempts 2: 2 attempts, not delivered");
	like(r.error, "(2 attempts)", "... the error counts them");
	cJSON_Delete(records(&rv[R_503], "/v2/enqueue", &n));
	is_int(n, 2, "... the receiver saw 2 POSTs");

	/* Nothing listening. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d" SLACK_PATH, closed_port());
	target(&t, ALERT_SLACK, url, 2);
	ok(alert_send(&t, &ev, &r) < 0 && r.attempts == 2 && r.status == 0,
	    "a refused connection: retried, not delivered");
	ok(strstr(r.error, "onnect") && strstr(r.error, "slack 'http://127.0.0.1:") &&
	    !strstr(r.error, "SECRET"), "... saying so readably: %s", r.error);

	/* PagerDuty trigger then resolve, as sent. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v2/enqueue", rv[RV_OK].port);
	target(&t, ALERT_PAGERDUTY, url, 0);
	t.routing_key = "R0UT1NGKEYR0UT1NGKEY";
	ok(alert_send(&t, &ev, &r) == 0 && r.attempts == 1, "pagerduty: trigger delivered");
	ev.kind = ALERT_RESOLVE;
	ev.unblock_reason = "fixed";
	ok(alert_send(&t, &ev, &r) == 0, "pagerduty: resolve delivered");
	all = records(&rv[RV_OK], "/v2/enqueue", &n);
	is_int(n, 2, "the receiver got both");
	ev.kind = ALERT_ROLLBACK;
	ev.unblock_reason = NULL;
	want = alert_pagerduty_body(&ev, t.routing_key);
	if (!ok(cJSON_Compare(cJSON_GetObjectItem(cJSON_GetArrayItem(all, 1), "body"), want, 1),
	    "the trigger arrived as sent")) {
		char *g = cJSON_PrintUnformatted(cJSON_GetArrayItem(all, 1)), *w = cJSON_PrintUnformatted(want);

		printf("#   got:  %s\n#   want: %s\n", g, w);
		free(g);
		free(w);
	}
	cJSON_Delete(want);
	rec = cJSON_GetObjectItem(cJSON_GetArrayItem(all, 2), "body");
	ok(rec && !strcmp(jstr(rec, "event_action"), "resolve") &&
	    !strcmp(jstr(rec, "dedup_key"), "ci-rollback/shop/v2.4.1"),
	    "the resolve carries the trigger's dedup_key");
	cJSON_Delete(all);
	ev.kind = ALERT_SUCCESS;
	ok(alert_send(&t, &ev, &r) < 0 && r.attempts == 0, "pagerduty: a success is refused, unsent");
	like(r.error, "a success pages nobody", "... saying why");
	ev.kind = ALERT_ROLLBACK;

	/* Email. */
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", rv[R_SMTP].port);
	target(&t, ALERT_EMAIL, url, 0);
	t.from = "CI Tools <ci@acme.example>";
	t.to = "Team Lead <lead@acme.example>, \"Ops, on call\" <oncall@acme.example>";
	ok(alert_send(&t, &ev, &r) == 0 && r.attempts == 1 && r.status == 250,
	    "email: accepted (250)");
	all = records(&rv[R_SMTP], NULL, &n);
	rec = cJSON_GetArrayItem(all, 0);
	is_str(jstr(rec, "from"), "ci@acme.example", "the envelope sender");
	ok(cJSON_GetArraySize(cJSON_GetObjectItem(rec, "to")) == 2 &&
	    !strcmp(cJSON_GetArrayItem(cJSON_GetObjectItem(rec, "to"), 0)->valuestring,
	    "lead@acme.example") &&
	    !strcmp(cJSON_GetArrayItem(cJSON_GetObjectItem(rec, "to"), 1)->valuestring,
	    "oncall@acme.example"), "both recipients, a comma in quotes kept");
	like(jstr(rec, "data"), "\r\nFrom: CI Tools <ci@acme.example>\r\n", "From header");
	like(jstr(rec, "data"), "\r\nTo: Team Lead <lead@acme.example>, \"Ops, on call\"", "To header");
	like(jstr(rec, "data"), "\r\nSubject: ROLLBACK: Deployment shop v2.4.1 failed\r\n", "Subject");
	like(jstr(rec, "data"), "\r\nMessage-ID: <", "a Message-ID");
	like(jstr(rec, "data"), "@acme.example>\r\n", "... in the sender's domain");
	ok(jstr(rec, "data") && !strncmp(jstr(rec, "data"), "Date: ", 6) &&
	    strstr(jstr(rec, "data"), " +0000\r\n"), "a Date");
	like(jstr(rec, "data"), "Rolled back to: v2.3.9", "the data holds the text and the version");
	cJSON_Delete(all);

	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", rv[R_SMTP550].port);
	t.url = url;
	ok(alert_send(&t, &ev, &r) < 0 && r.attempts == 1 && r.status == 550,
	    "email refused with 550: final at once");
	like(r.error, "550", "... the error names the code: %s", r.error);

	/* A password over plain SMTP needs STARTTLS, which this server lacks. */
	snprintf(url, sizeof(url), "smtp://ci:pl41nt3xt@127.0.0.1:%d", rv[R_SMTP].port);
	t.url = url;
	ok(alert_send(&t, &ev, &r) < 0 && r.attempts == 1 && !strstr(r.error, "pl41nt3xt"),
	    "smtp:// with a password and no STARTTLS: refused, final, the password unshown");
	like(r.error, "STARTTLS", "... saying why: %s", r.error);
	cJSON_Delete(records(&rv[R_SMTP], NULL, &n));
	is_int(n, 1, "... and nothing more was sent");

	t.url = "ftp://127.0.0.1/x";
	ok(alert_send(&t, &ev, &r) < 0 && r.attempts == 0 && strstr(r.error, "smtp://"),
	    "email to an ftp:// URL: refused before any attempt");
	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", rv[R_SMTP].port);
	t.url = url;
	t.to = "lead@acme.example, not an address";
	ok(alert_send(&t, &ev, &r) < 0 && r.attempts == 0 && strstr(r.error, "not an address"),
	    "a bad recipient: refused, named");
	target(&t, ALERT_SLACK, NULL, 0);
	ok(alert_send(&t, &ev, &r) < 0 && r.attempts == 0 && !strcmp(r.error, "slack: no URL"),
	    "slack without a URL: refused");
out:
	for (i = 0; i < NRECV; i++)
		stop_receiver(&rv[i]);
	rmdir(dir);
}

int
main(int argc, char **argv)
{
	test_slack_text();
	test_pagerduty();
	test_webhook();
	test_email();
	test_url_shown();
	if (argc < 2 || strcmp(argv[1], "--bodies") != 0)
		test_deliveries();
	curl_global_cleanup();
	return done_testing();
}
