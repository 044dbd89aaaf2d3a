#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "release/alert.h"
#include "core/buf.h"
#include "core/encode.h"
#include "core/json.h"
#include "core/log.h"
#include "core/retry.h"
#include "core/timeutil.h"
#include "core/version.h"
#include "net/http.h"

/* UTF-8 of the few symbols the messages use. */
#define SIREN "\xF0\x9F\x9A\xA8"		/* U+1F6A8 */
#define WARNING "\xE2\x9A\xA0\xEF\xB8\x8F"	/* U+26A0 U+FE0F */
#define CHECK "\xE2\x9C\x85"			/* U+2705 */
#define ELLIPSIS "\xE2\x80\xA6"			/* U+2026 */

#define TEXT_MAX (64u << 10)	/* no message comes near: every field is cut */
#define FIELD_MAX 512		/* bytes of a name, version, time, URL, ... */
#define REASON_MAX 4000		/* bytes of a reason */
#define ANSWER_MAX 160		/* bytes of a server's answer quoted in an error */

static const char *const kind_names[] = { NULL, "slack", "pagerduty", "webhook", "email" };

const char *
alert_kind_name(int kind)
{
	return kind >= ALERT_SLACK && kind <= ALERT_EMAIL ? kind_names[kind] : NULL;
}

int
alert_kind_parse(const char *name)
{
	int k;

	for (k = ALERT_SLACK; name && k <= ALERT_EMAIL; k++)
		if (strcmp(name, kind_names[k]) == 0)
			return k;
	return 0;
}

/* ---- text ------------------------------------------------------------- */

/*
 * Append at most max bytes of s: control characters become spaces (a
 * newline stays when keep_nl, a CR goes), bytes that are not UTF-8 become
 * '?', and a cut ends in "…".  Nothing from an event can add a line to a
 * header or break the JSON's UTF-8.
 */
static void
add_clean(struct buf *b, const char *s, size_t max, int keep_nl)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t used = 0, n, left = strlen(s);

	while (*p) {
		n = utf8_len(p, left);
		if (used + (n ? n : 1) > max) {
			buf_adds(b, ELLIPSIS);
			return;
		}
		if (n == 0) {
			buf_addc(b, '?');
			n = 1;
		} else if (n == 1 && *p == '\r' && keep_nl) {
			n = 1;	/* CRLF in a reason: keep the LF only */
		} else if (n == 1 && (*p < 0x20 || *p == 0x7f)) {
			buf_addc(b, *p == '\n' && keep_nl ? '\n' : ' ');
		} else {
			buf_add(b, p, n);
		}
		used += n;
		p += n;
		left -= n;
	}
}

/* A fresh cleaned copy of s (NULL stays NULL). */
static char *
clean(const char *s, size_t max, int keep_nl)
{
	struct buf b;

	if (!s)
		return NULL;
	buf_init(&b, TEXT_MAX);
	add_clean(&b, s, max, keep_nl);
	return buf_detach(&b, NULL);
}

static int
given(const char *s)
{
	return s && *s;
}

/* What the release is called: the version, else the image or digest. */
static const char *
version_of(const struct alert_event *ev)
{
	if (given(ev->version))
		return ev->version;
	if (given(ev->image))
		return ev->image;
	if (given(ev->digest))
		return ev->digest;
	return "unknown";
}

/* "[APP ]VERSION" */
static void
add_release(struct buf *b, const struct alert_event *ev)
{
	if (given(ev->app)) {
		add_clean(b, ev->app, FIELD_MAX, 0);
		buf_addc(b, ' ');
	}
	add_clean(b, version_of(ev), FIELD_MAX, 0);
}

/* "\nLABEL: VALUE" when value is given. */
static void
add_line(struct buf *b, const char *label, const char *v)
{
	if (!given(v))
		return;
	buf_addf(b, "\n%s: ", label);
	add_clean(b, v, FIELD_MAX, 0);
}

static void
add_image_pipeline(struct buf *b, const struct alert_event *ev)
{
	if (given(ev->image)) {
		buf_adds(b, "\nImage: ");
		add_clean(b, ev->image, FIELD_MAX, 0);
		if (given(ev->digest)) {
			buf_adds(b, " (");
			add_clean(b, ev->digest, FIELD_MAX, 0);
			buf_addc(b, ')');
		}
	} else {
		add_line(b, "Digest", ev->digest);
	}
	add_line(b, "Pipeline", ev->pipeline_id);
}

char *
alert_slack_text(const struct alert_event *ev)
{
	struct buf b;
	char d[64];

	buf_init(&b, TEXT_MAX);
	switch (ev->kind) {
	case ALERT_SUCCESS:
		buf_adds(&b, CHECK " ");
		add_release(&b, ev);
		buf_adds(&b, " deployed to production successfully!");
		add_image_pipeline(&b, ev);
		break;
	case ALERT_RESOLVE:
		buf_adds(&b, CHECK " RESOLVED: Deployment ");
		add_release(&b, ev);
		buf_adds(&b, ": the pipeline is unblocked\nReason: ");
		add_clean(&b, given(ev->unblock_reason) ? ev->unblock_reason : "none given",
		    REASON_MAX, 1);
		add_image_pipeline(&b, ev);
		break;
	default:
		buf_adds(&b, SIREN " ROLLBACK: Deployment ");
		add_release(&b, ev);
		buf_adds(&b, " failed");
		if (!ev->traffic_restored)
			buf_adds(&b, "\n" WARNING " Traffic may NOT be back on stable: the rollback"
			    " could not confirm it, check the load balancer now");
		buf_addc(&b, '\n');
		add_clean(&b, given(ev->reason) ? ev->reason : "Reason: unknown", REASON_MAX, 1);
		buf_adds(&b, "\nRolled back to: ");
		add_clean(&b, given(ev->rolled_back_to) ? ev->rolled_back_to : "unknown",
		    FIELD_MAX, 0);
		if (ev->weight >= 0)
			buf_addf(&b, "\nAffected users: ~%d%%", ev->weight);
		buf_adds(&b, "\nAction required: Fix and redeploy");
		add_image_pipeline(&b, ev);
		add_line(&b, "Detected", ev->detected_at);
		add_line(&b, "Rollback started", ev->rollback_started_at);
		add_line(&b, "Traffic restored", ev->traffic_restored_at);
		if (ev->rollback_ms >= 0) {
			format_duration(ev->rollback_ms, d, sizeof(d));
			buf_addf(&b, "\nTime to rollback: %s", d);
		}
		add_line(&b, "Alert", ev->alert_at);
		break;
	}
	return buf_detach(&b, NULL);
}

cJSON *
alert_slack_body(const struct alert_event *ev)
{
	char *text = alert_slack_text(ev), *p;
	struct buf b;
	cJSON *o = cJSON_CreateObject();

	/* Slack reads <...> as links and mentions: its three escapes. */
	buf_init(&b, 3 * TEXT_MAX);
	for (p = text; *p; p++) {
		if (*p == '&')
			buf_adds(&b, "&amp;");
		else if (*p == '<')
			buf_adds(&b, "&lt;");
		else if (*p == '>')
			buf_adds(&b, "&gt;");
		else
			buf_addc(&b, *p);
	}
	cJSON_AddStringToObject(o, "text", buf_str(&b));
	buf_free(&b);
	free(text);
	return o;
}

char *
alert_dedup_key(const struct alert_event *ev)
{
	struct buf b;

	buf_init(&b, TEXT_MAX);
	if (given(ev->dedup_key)) {
		add_clean(&b, ev->dedup_key, 255, 0);
	} else {
		buf_adds(&b, "ci-rollback/");
		if (given(ev->app)) {
			add_clean(&b, ev->app, 100, 0);
			buf_addc(&b, '/');
		}
		add_clean(&b, version_of(ev), 120, 0);
	}
	return buf_detach(&b, NULL);
}

/* Cut s (in b) to at most max bytes on a UTF-8 boundary, ending in "…". */
static void
cut_utf8(struct buf *b, size_t max)
{
	size_t n;

	if (b->len <= max)
		return;
	n = max - (sizeof(ELLIPSIS) - 1);
	while (n > 0 && ((unsigned char)b->data[n] & 0xC0) == 0x80)
		n--;
	b->len = n;
	b->data[n] = '\0';
	buf_adds(b, ELLIPSIS);
}

static void
add_str(cJSON *o, const char *key, const char *v, size_t max, int keep_nl)
{
	char *s;

	if (!v) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	s = clean(v, max, keep_nl);
	cJSON_AddStringToObject(o, key, s);
	free(s);
}

static const char *
event_name(int kind)
{
	return kind == ALERT_SUCCESS ? "success" : kind == ALERT_RESOLVE ? "resolve" : "rollback";
}

/* Every field of the event into o (the webhook body, PagerDuty's details). */
static void
add_fields(cJSON *o, const struct alert_event *ev)
{
	char *text = alert_slack_text(ev), *key = alert_dedup_key(ev);

	cJSON_AddStringToObject(o, "event", event_name(ev->kind));
	cJSON_AddStringToObject(o, "text", text);
	add_str(o, "app", ev->app, FIELD_MAX, 0);
	add_str(o, "version", ev->version, FIELD_MAX, 0);
	add_str(o, "image", ev->image, FIELD_MAX, 0);
	add_str(o, "digest", ev->digest, FIELD_MAX, 0);
	add_str(o, "reason", ev->reason, REASON_MAX, 1);
	add_str(o, "rolled_back_to", ev->rolled_back_to, FIELD_MAX, 0);
	if (ev->weight >= 0)
		cJSON_AddNumberToObject(o, "weight", ev->weight);
	else
		cJSON_AddNullToObject(o, "weight");
	cJSON_AddBoolToObject(o, "traffic_restored", ev->traffic_restored != 0);
	add_str(o, "pipeline_id", ev->pipeline_id, FIELD_MAX, 0);
	cJSON_AddStringToObject(o, "dedup_key", key);
	add_str(o, "detected_at", ev->detected_at, FIELD_MAX, 0);
	add_str(o, "rollback_started_at", ev->rollback_started_at, FIELD_MAX, 0);
	add_str(o, "traffic_restored_at", ev->traffic_restored_at, FIELD_MAX, 0);
	add_str(o, "alert_at", ev->alert_at, FIELD_MAX, 0);
	if (ev->rollback_ms >= 0)
		json_add_i64(o, "rollback_ms", ev->rollback_ms);
	else
		cJSON_AddNullToObject(o, "rollback_ms");
	add_str(o, "unblock_reason", ev->unblock_reason, REASON_MAX, 1);
	free(text);
	free(key);
}

cJSON *
alert_webhook_body(const struct alert_event *ev)
{
	cJSON *o = cJSON_CreateObject();

	add_fields(o, ev);
	return o;
}

cJSON *
alert_pagerduty_body(const struct alert_event *ev, const char *routing_key)
{
	cJSON *o, *p;
	char *key;
	struct buf s;
	time_t t;

	if (ev->kind != ALERT_ROLLBACK && ev->kind != ALERT_RESOLVE)
		return NULL;
	o = cJSON_CreateObject();
	if (routing_key)
		cJSON_AddStringToObject(o, "routing_key", routing_key);
	cJSON_AddStringToObject(o, "event_action", ev->kind == ALERT_RESOLVE ? "resolve" : "trigger");
	key = alert_dedup_key(ev);
	cJSON_AddStringToObject(o, "dedup_key", key);
	free(key);
	if (ev->kind == ALERT_RESOLVE)
		return o;

	/* The summary: what the on-call engineer reads first, on one line. */
	buf_init(&s, TEXT_MAX);
	buf_adds(&s, "ROLLBACK: Deployment ");
	add_release(&s, ev);
	buf_adds(&s, " failed");
	if (!ev->traffic_restored)
		buf_adds(&s, " (traffic may NOT be back on stable)");
	buf_adds(&s, ": ");
	add_clean(&s, given(ev->reason) ? ev->reason : "reason unknown", REASON_MAX, 0);
	buf_adds(&s, "; rolled back to ");
	add_clean(&s, given(ev->rolled_back_to) ? ev->rolled_back_to : "unknown", FIELD_MAX, 0);
	if (ev->weight >= 0)
		buf_addf(&s, "; ~%d%% of users affected", ev->weight);
	cut_utf8(&s, ALERT_SUMMARY_MAX);

	p = cJSON_AddObjectToObject(o, "payload");
	cJSON_AddStringToObject(p, "summary", buf_str(&s));
	buf_free(&s);
	add_str(p, "source", given(ev->app) ? ev->app : "ci-rollback", FIELD_MAX, 0);
	cJSON_AddStringToObject(p, "severity", "critical");
	if (given(ev->detected_at) && parse_rfc3339(ev->detected_at, &t) == 0)
		cJSON_AddStringToObject(p, "timestamp", ev->detected_at);
	if (given(ev->app))
		add_str(p, "component", ev->app, FIELD_MAX, 0);
	if (given(ev->pipeline_id))
		add_str(p, "group", ev->pipeline_id, FIELD_MAX, 0);
	cJSON_AddStringToObject(p, "class", "deployment");
	add_fields(cJSON_AddObjectToObject(p, "custom_details"), ev);
	cJSON_AddStringToObject(o, "client", "ci-rollback");
	return o;
}

/* ---- email ------------------------------------------------------------ */

char *
alert_email_subject(const struct alert_event *ev)
{
	struct buf b;

	buf_init(&b, TEXT_MAX);
	switch (ev->kind) {
	case ALERT_SUCCESS:
		add_release(&b, ev);
		buf_adds(&b, " deployed to production successfully");
		break;
	case ALERT_RESOLVE:
		buf_adds(&b, "RESOLVED: Deployment ");
		add_release(&b, ev);
		buf_adds(&b, ": the pipeline is unblocked");
		break;
	default:
		buf_adds(&b, "ROLLBACK: Deployment ");
		add_release(&b, ev);
		buf_adds(&b, " failed");
		if (!ev->traffic_restored)
			buf_adds(&b, " - traffic may NOT be back on stable");
		break;
	}
	return buf_detach(&b, NULL);
}

/*
 * "Name: value" folded before a word that would pass 78 columns (RFC
 * 5322 section 2.2.3); value has no CR or LF.
 */
static void
add_header(struct buf *b, const char *name, const char *value)
{
	size_t col = strlen(name) + 1, n;
	const char *p = value, *sp;
	int first = 1;

	buf_adds(b, name);
	buf_addc(b, ':');
	while (*p) {
		sp = strchr(p, ' ');
		n = sp ? (size_t)(sp - p) : strlen(p);
		if (!first && col + 1 + n > 78) {
			buf_adds(b, "\r\n");
			col = 0;
		}
		buf_addc(b, ' ');
		buf_add(b, p, n);
		col += 1 + n;
		first = 0;
		p += n;
		while (*p == ' ')
			p++;
	}
	buf_adds(b, "\r\n");
}

/* A subject in RFC 2047 encoded words when it is not plain ASCII: words of
 * at most 39 bytes (52 of base64: "Subject: " and the first word fit in
 * 78 columns), cut between characters. */
static char *
subject_encoded(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	struct buf b;
	size_t i, n, len;
	char *enc;

	for (i = 0; p[i]; i++)
		if (p[i] >= 0x80)
			break;
	if (!p[i])
		return xstrdup(s);
	buf_init(&b, TEXT_MAX);
	len = strlen(s);
	for (i = 0; i < len; i += n) {
		n = len - i > 39 ? 39 : len - i;
		while (i + n < len && n > 0 && (p[i + n] & 0xC0) == 0x80)
			n--;
		enc = b64_encode(p + i, n, B64_STD, 1);
		buf_addf(&b, "%s=?UTF-8?B?%s?=", i ? " " : "", enc);
		free(enc);
	}
	return buf_detach(&b, NULL);
}

/* Quoted-printable (RFC 2045 section 6.7) of text, "\n" becoming CRLF;
 * a '.' opening a line is encoded too, so no line is SMTP's end mark. */
static void
add_qp(struct buf *b, const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t col = 0;
	char tok[4];

	for (; *p; p++) {
		int lit;

		if (*p == '\n') {
			buf_adds(b, "\r\n");
			col = 0;
			continue;
		}
		lit = (*p >= 33 && *p <= 126 && *p != '=') ||
		    ((*p == ' ' || *p == '\t') && p[1] && p[1] != '\n');
		if (col + (lit ? 1 : 3) > 75) {
			buf_adds(b, "=\r\n");
			col = 0;
		}
		if (col == 0 && *p == '.')
			lit = 0;
		if (lit) {
			buf_addc(b, *p);
			col++;
		} else {
			snprintf(tok, sizeof(tok), "=%02X", *p);
			buf_adds(b, tok);
			col += 3;
		}
	}
	buf_adds(b, "\r\n");
}

char *
alert_email_message(const struct alert_event *ev, const char *from, const char *to,
    const char *date_rfc5322, const char *message_id)
{
	struct buf b, body;
	char *v, *subject, *text;
	const char *names[] = { "Date", "From", "To", NULL, "Message-ID" };
	const char *vals[] = { date_rfc5322, from, to, NULL, message_id };
	size_t i;

	buf_init(&b, TEXT_MAX);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!names[i]) {
			v = alert_email_subject(ev);
			subject = subject_encoded(v);
			free(v);
			add_header(&b, "Subject", subject);
			free(subject);
			continue;
		}
		if (!vals[i])
			continue;
		v = clean(vals[i], 900, 0);
		add_header(&b, names[i], v);
		free(v);
	}
	buf_adds(&b, "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "\r\n");
	text = alert_slack_text(ev);
	buf_init(&body, TEXT_MAX);
	buf_adds(&body, text);
	buf_addf(&body, "\n\n-- \nci-rollback (ci-tools %s)\n", ci_version);
	add_qp(&b, buf_str(&body));
	buf_free(&body);
	free(text);
	return buf_detach(&b, NULL);
}

/* "Thu, 26 Nov 2026 09:00:00 +0000": names from a table, not the locale. */
static void
rfc5322_date(long long ms, char *out, size_t outsz)
{
	static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mo[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
		"Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, outsz, "%s, %02d %s %04d %02d:%02d:%02d +0000", wd[tm.tm_wday],
	    tm.tm_mday, mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * The address in "Name <a@b>" or "a@b", as "<a@b>" for the envelope;
 * NULL when there is none (no '@', blanks, brackets or controls in it).
 */
static char *
envelope_addr(const char *s, size_t n)
{
	const char *lt = memchr(s, '<', n), *gt, *e = s + n;
	const char *p;

	if (lt) {
		gt = memchr(lt, '>', (size_t)(e - lt));
		if (!gt)
			return NULL;
		s = lt + 1;
		e = gt;
	}
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (s == e || !memchr(s, '@', (size_t)(e - s)) || e - s > 254)
		return NULL;
	for (p = s; p < e; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>' ||
		    *p == ',')
			return NULL;
	return xasprintf("<%.*s>", (int)(e - s), s);
}

/* The recipients of a comma-separated list (commas in quotes do not
 * count); -1 with *bad at the first one that is not an address. */
static int
recipients(const char *to, struct curl_slist **out, const char **bad)
{
	const char *p = to, *start = to;
	int quoted = 0, n = 0;
	char *a;

	*out = NULL;
	for (;; p++) {
		if (*p == '"')
			quoted = !quoted;
		if ((*p == ',' && !quoted) || !*p) {
			const char *q = start;

			while (q < p && (*q == ' ' || *q == '\t'))
				q++;
			if (q < p) {
				if (!(a = envelope_addr(start, (size_t)(p - start)))) {
					*bad = start;
					curl_slist_free_all(*out);
					*out = NULL;
					return -1;
				}
				*out = curl_slist_append(*out, a);
				free(a);
				n++;
			}
			if (!*p)
				break;
			start = p + 1;
		}
	}
	if (!n)
		*bad = to;
	return n ? 0 : -1;
}

/* ---- secrets ---------------------------------------------------------- */

#define NSECRETS 10

struct secrets {
	char *v[NSECRETS];
	int n;
	int weak;	/* one is shorter than 4 bytes: quote no server text */
};

/* Kept longest first, so that a secret inside another goes with it. */
static void
secret_add(struct secrets *s, const char *v)
{
	int i, j;

	if (!v || !*v || s->n == NSECRETS)
		return;
	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i], v) == 0)
			return;
	if (strlen(v) < 4)
		s->weak = 1;
	for (i = 0; i < s->n && strlen(s->v[i]) >= strlen(v); i++)
		;
	for (j = s->n; j > i; j--)
		s->v[j] = s->v[j - 1];
	s->v[i] = xstrdup(v);
	s->n++;
}

static void
secret_part(struct secrets *s, CURLU *u, CURLUPart part, unsigned flags)
{
	char *v = NULL;

	if (curl_url_get(u, part, &v, flags) == CURLUE_OK && v &&
	    !(part == CURLUPART_PATH && strcmp(v, "/") == 0))
		secret_add(s, v);
	curl_free(v);
}

/* What must not be shown of url (user, password, path, query, as written
 * and decoded) and the routing key. */
static void
secrets_of(struct secrets *s, const char *url, const char *key)
{
	CURLU *u = curl_url();

	memset(s, 0, sizeof(*s));
	if (u && url && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
		secret_part(s, u, CURLUPART_PASSWORD, 0);
		secret_part(s, u, CURLUPART_USER, 0);
		secret_part(s, u, CURLUPART_PATH, 0);
		secret_part(s, u, CURLUPART_PATH, CURLU_URLDECODE);
		secret_part(s, u, CURLUPART_QUERY, 0);
		secret_part(s, u, CURLUPART_QUERY, CURLU_URLDECODE);
		secret_part(s, u, CURLUPART_PASSWORD, CURLU_URLDECODE);
		secret_part(s, u, CURLUPART_USER, CURLU_URLDECODE);
	} else if (url) {
		secret_add(s, url);	/* not a URL: all of it */
	}
	if (u)
		curl_url_cleanup(u);
	secret_add(s, key);
}

static void
secrets_free(struct secrets *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		free_secret(s->v[i]);
	s->n = 0;
}

/* Copy text into out (outsz bytes), cut on a UTF-8 boundary. */
static void
copy_utf8(char *out, size_t outsz, const char *text)
{
	size_t n = strlen(text);

	if (n >= outsz) {
		n = outsz - 1;
		while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(out, text, n);
	out[n] = '\0';
}

/*
 * Append what a server or libcurl said, every secret in it replaced with
 * "…" before it is cut to max bytes (a cut never leaves half a secret).
 */
static void
add_scrubbed(struct buf *w, const char *text, size_t max, const struct secrets *s)
{
	struct buf b;
	char *t = xstrdup(text);
	const char *p, *q;
	int i;

	for (i = 0; i < s->n; i++) {
		if (!strstr(t, s->v[i]))
			continue;
		buf_init(&b, TEXT_MAX);
		for (p = t; (q = strstr(p, s->v[i])) != NULL; p = q + strlen(s->v[i])) {
			buf_add(&b, p, (size_t)(q - p));
			buf_adds(&b, ELLIPSIS);
		}
		buf_adds(&b, p);
		free(t);
		t = buf_detach(&b, NULL);
	}
	add_clean(w, t, max, 0);
	free(t);
}

char *
alert_url_shown(const char *url)
{
	struct http_url u;
	const char *auth, *rest;
	char *red, *out;

	if (!url || http_url_parse(url, &u) < 0)
		return xstrdup("(not a URL)");
	http_url_free(&u);
	/* The userinfo as url_redact() shows it, then the path and query
	 * (Slack's token) as an ellipsis. */
	red = url_redact(url);
	if (!(auth = strstr(red, "://"))) {
		free(red);
		return xstrdup("(not a URL)");
	}
	auth += 3;
	rest = auth + strcspn(auth, "/?#");
	out = xasprintf("%.*s%s", (int)(rest - red), red,
	    *rest && strcmp(rest, "/") != 0 ? "/" ELLIPSIS : "");
	free(red);
	return out;
}

/* ---- delivery --------------------------------------------------------- */

enum { TRY_OK, TRY_AGAIN, TRY_FINAL };

struct job {
	const struct alert_target *t;
	const char *url;
	char *what;			/* "slack 'https://hooks.slack.com/…'" */
	char *body;			/* the JSON, or the whole mail */
	size_t len;
	char *mail_from;		/* "<a@b>" */
	struct curl_slist *rcpt;
	int starttls;			/* smtp:// with a password: TLS or nothing */
	const struct secrets *sec;	/* what no message may show */
	long long retry_after_ms;	/* of the last answer, -1 when none */
	char why[sizeof(((struct alert_result *)0)->error)];
};

/* libcurl failures that another attempt will not mend. */
static int
curl_final(CURLcode rc)
{
	switch (rc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_LOGIN_DENIED:
	case CURLE_USE_SSL_FAILED:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_TOO_MANY_REDIRECTS:
		return 1;
	default:
		return 0;
	}
}

/* j->why from http_finish()'s "WHAT: libcurl's words", those scrubbed. */
static void
curl_why(struct job *j, const char *msg)
{
	struct buf w;
	size_t n = strlen(j->what);

	buf_init(&w, TEXT_MAX);
	buf_adds(&w, j->what);
	if (strncmp(msg, j->what, n) == 0)
		msg += n;
	else
		buf_adds(&w, ": ");
	add_scrubbed(&w, msg, 300, j->sec);
	copy_utf8(j->why, sizeof(j->why), buf_str(&w));
	buf_free(&w);
}

static void
http_options(const struct job *j, struct http_opts *o)
{
	long long to = j->t->timeout_ms > 0 ? j->t->timeout_ms : 10000;

	memset(o, 0, sizeof(*o));
	o->connect_timeout_ms = to < 10000 ? to : 10000;
	o->max_time_ms = to;
	o->body_max = 64u << 10;
	o->ca_file = j->t->ca_file;
}

static int
try_http(struct job *j, struct alert_result *r)
{
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct http_opts o;
	struct curl_slist *h = NULL;
	struct err e = { 0, "" };
	CURL *c;
	CURLcode rc;
	int out;

	http_options(j, &o);
	if (!(c = http_easy(&o, &resp))) {
		snprintf(j->why, sizeof(j->why), "%s: cannot start libcurl", j->what);
		http_response_free(&resp);
		return TRY_FINAL;
	}
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");	/* no 100-continue round trip */
	curl_easy_setopt(c, CURLOPT_URL, j->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->len);
	rc = curl_easy_perform(c);
	if (http_finish(c, rc, &resp, j->what, &e) < 0 &&
	    !(resp.body_too_large && resp.status >= 200 && resp.status < 300)) {
		r->status = 0;
		curl_why(j, e.msg);
		out = curl_final(rc) ? TRY_FINAL : TRY_AGAIN;
	} else if ((r->status = resp.status) >= 200 && resp.status < 300) {
		/* Accepted, even when the answer was too long to keep. */
		out = TRY_OK;
	} else {
		struct buf w;
		const char *body = buf_str(&resp.body);
		size_t n = strcspn(body, "\r\n");

		buf_init(&w, TEXT_MAX);
		buf_addf(&w, "%s answered %ld", j->what, resp.status);
		/* A secret of a few bytes cannot be cut out of free text. */
		if (n && !j->sec->weak) {
			char *line = xstrndup(body, n);

			buf_adds(&w, ": ");
			add_scrubbed(&w, line, ANSWER_MAX, j->sec);
			free(line);
		}
		copy_utf8(j->why, sizeof(j->why), buf_str(&w));
		buf_free(&w);
		out = resp.status == 429 || resp.status >= 500 ? TRY_AGAIN : TRY_FINAL;
		if (out == TRY_AGAIN)
			j->retry_after_ms = http_retry_after_ms(http_header(&resp, "Retry-After"));
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	http_response_free(&resp);
	return out;
}

struct reader {
	const char *p;
	size_t left;
};

static size_t
on_read(char *dst, size_t size, size_t n, void *arg)
{
	struct reader *rd = arg;
	size_t k = size * n;

	if (k > rd->left)
		k = rd->left;
	memcpy(dst, rd->p, k);
	rd->p += k;
	rd->left -= k;
	return k;
}

static int
try_smtp(struct job *j, struct alert_result *r)
{
	struct http_response resp = HTTP_RESPONSE_INIT;
	struct http_opts o;
	struct reader rd = { j->body, j->len };
	struct err e = { 0, "" };
	CURL *c;
	CURLcode rc;
	int out;

	http_options(j, &o);
	if (!(c = http_easy(&o, &resp))) {
		snprintf(j->why, sizeof(j->why), "%s: cannot start libcurl", j->what);
		http_response_free(&resp);
		return TRY_FINAL;
	}
	/* http_easy() allows HTTP only; this handle speaks SMTP only. */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(c, CURLOPT_URL, j->url);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, j->mail_from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, j->rcpt);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &rd);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)j->len);
	if (j->starttls)
		curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	rc = curl_easy_perform(c);
	if (http_finish(c, rc, &resp, j->what, &e) == 0) {
		r->status = resp.status;
		out = TRY_OK;
	} else {
		/* The server's reply code: 4xx is "try later", 5xx "never"
		 * (a 2xx here is a greeting before libcurl gave up). */
		r->status = resp.status >= 400 ? resp.status : 0;
		curl_why(j, e.msg);
		if (resp.status >= 500 || curl_final(rc))
			out = TRY_FINAL;
		else
			out = TRY_AGAIN;
	}
	curl_easy_cleanup(c);
	http_response_free(&resp);
	return out;
}

/* Build what kind t sends; -1 with j->why for a target that cannot work. */
static int
prepare(struct job *j, const struct alert_event *ev, const char *scheme, const char *url)
{
	const struct alert_target *t = j->t;
	cJSON *body = NULL;
	const char *bad = NULL;

	if (t->kind == ALERT_EMAIL) {
		char date[64], mid[200], hex[17], *domain, *msg;
		const char *at;
		CURLU *u;
		char *pw = NULL;

		if (strcmp(scheme, "smtp") != 0 && strcmp(scheme, "smtps") != 0)
			return snprintf(j->why, sizeof(j->why),
			    "%s: an email URL is smtp:// or smtps://", j->what), -1;
		if (!given(t->from) || !(j->mail_from = envelope_addr(t->from, strlen(t->from))))
			return snprintf(j->why, sizeof(j->why), "%s: no sender address in '%.100s'",
			    j->what, t->from ? t->from : ""), -1;
		if (!given(t->to) || recipients(t->to, &j->rcpt, &bad) < 0)
			return snprintf(j->why, sizeof(j->why), "%s: not a recipient address: '%.100s'",
			    j->what, bad ? bad : ""), -1;
		if ((u = curl_url()) != NULL) {
			if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
			    curl_url_get(u, CURLUPART_PASSWORD, &pw, 0) == CURLUE_OK && pw &&
			    strcmp(scheme, "smtp") == 0)
				j->starttls = 1;
			curl_free(pw);
			curl_url_cleanup(u);
		}
		rfc5322_date(now_ms(), date, sizeof(date));
		if (random_hex(hex, 16) < 0)
			snprintf(hex, sizeof(hex), "%lld", mono_ms());
		at = strchr(j->mail_from, '@');
		domain = xstrndup(at + 1, strlen(at + 1) - 1);
		snprintf(mid, sizeof(mid), "<%lld.%s@%s>", now_ms(), hex, domain);
		free(domain);
		msg = alert_email_message(ev, t->from, t->to, date, mid);
		j->len = strlen(msg);
		j->body = msg;
		return 0;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
		return snprintf(j->why, sizeof(j->why), "%s: a %s URL is http:// or https://",
		    j->what, alert_kind_name(t->kind)), -1;
	switch (t->kind) {
	case ALERT_SLACK:
		body = alert_slack_body(ev);
		break;
	case ALERT_PAGERDUTY:
		if (!given(t->routing_key))
			return snprintf(j->why, sizeof(j->why), "%s: no routing key", j->what), -1;
		if (ev->kind == ALERT_SUCCESS)
			return snprintf(j->why, sizeof(j->why),
			    "%s: a success pages nobody (only a rollback triggers, an unblock resolves)",
			    j->what), -1;
		body = alert_pagerduty_body(ev, t->routing_key);
		break;
	default:
		body = alert_webhook_body(ev);
		break;
	}
	j->body = json_print(body);
	j->len = strlen(j->body);
	cJSON_Delete(body);
	return 0;
}

int
alert_send(const struct alert_target *t, const struct alert_event *ev0, struct alert_result *r)
{
	struct alert_event ev;
	struct job j;
	struct secrets sec;
	struct http_url u;
	struct retry_policy pol;
	struct retry_state st = { 0, 0 };
	char alert_at[40], *shown;
	const char *name, *url;
	long long start = mono_ms(), wait, ra;
	int rc = TRY_FINAL;

	memset(r, 0, sizeof(*r));
	memset(&j, 0, sizeof(j));
	if (!t || !ev0 || !(name = alert_kind_name(t->kind))) {
		snprintf(r->error, sizeof(r->error), "alert: unknown alert kind %d", t ? t->kind : 0);
		return -1;
	}
	ev = *ev0;
	if (!ev.alert_at) {
		format_rfc3339_ms(now_ms(), alert_at, sizeof(alert_at));
		ev.alert_at = alert_at;
	}
	url = t->url ? t->url : t->kind == ALERT_PAGERDUTY ? ALERT_PAGERDUTY_URL : NULL;
	if (!given(url)) {
		snprintf(r->error, sizeof(r->error), "%s: no URL", name);
		return -1;
	}
	{
		struct err le = { 0, "" };

		if (curl_load(&le) < 0) {
			snprintf(r->error, sizeof(r->error), "%s: %s", name, le.msg);
			return -1;
		}
	}
	secrets_of(&sec, url, t->routing_key);
	shown = alert_url_shown(url);
	j.t = t;
	j.url = url;
	j.what = xasprintf("%s '%s'", name, shown);
	j.sec = &sec;
	free(shown);

	if (http_url_parse(url, &u) < 0) {
		snprintf(j.why, sizeof(j.why), "%s: not a URL", j.what);
		goto done;
	}
	if (prepare(&j, &ev, u.scheme, url) < 0) {
		http_url_free(&u);
		goto done;
	}
	http_url_free(&u);

	pol.max_attempts = t->max_attempts > 0 ? t->max_attempts : 4;
	pol.base_ms = 500;
	pol.cap_ms = 4000;
	pol.max_total_ms = 0;	/* the attempts and their timeouts bound it */
	for (;;) {
		r->attempts++;
		j.retry_after_ms = -1;
		rc = t->kind == ALERT_EMAIL ? try_smtp(&j, r) : try_http(&j, r);
		if (rc != TRY_AGAIN)
			break;
		ra = j.retry_after_ms > ALERT_RETRY_AFTER_MAX_MS ? ALERT_RETRY_AFTER_MAX_MS :
		    j.retry_after_ms;
		if ((wait = retry_next(&pol, &st, ra)) < 0)
			break;
		if (sleep_ms(wait, t->stop) < 0) {
			size_t n = strlen(j.why);

			snprintf(j.why + n, sizeof(j.why) - n, "; stopped by a signal");
			break;
		}
	}
	if (rc == TRY_OK) {
		r->delivered = 1;
		format_rfc3339_ms(now_ms(), r->at, sizeof(r->at));
	}

done:
	r->ms = mono_ms() - start;
	if (!r->delivered) {
		struct buf w;
		char why[440];

		/* Cut before the count is added, so that the count stays. */
		copy_utf8(why, sizeof(why), j.why);
		buf_init(&w, TEXT_MAX);
		buf_adds(&w, why);
		if (r->attempts == 1 && rc == TRY_FINAL)
			buf_adds(&w, " (not retried)");
		else if (r->attempts)
			buf_addf(&w, " (%d attempts)", r->attempts);
		copy_utf8(r->error, sizeof(r->error), buf_str(&w));
		buf_free(&w);
	}
	secrets_free(&sec);
	free(j.what);
	free(j.body);
	free(j.mail_from);
	curl_slist_free_all(j.rcpt);
	return r->delivered ? 0 : -1;
}
