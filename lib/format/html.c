/*
 * html: the pipeline document as one HTML page (html.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "core/size.h"
#include "core/timeutil.h"
#include "core/version.h"
#include "format/html.h"
#include "format/xml.h"

#define GENERIC_DEPTH	6	/* nesting shown of a member we do not know */
#define TAIL_MAX	8192	/* bytes of a job's output tail shown */
#define MARKERS_MAX	120	/* points above which a series has no markers */

/* A chart's frame (viewBox units): the plot sits in [CL,CR] x [CT,CB]. */
#define CW	860
#define CH	190
#define CL	58
#define CR	(CW - 14)
#define CT	12
#define CB	(CH - 26)

/* ✓ ✗ – ● and the ellipsis, in UTF-8. */
#define G_CHECK	"\xE2\x9C\x93"
#define G_CROSS	"\xE2\x9C\x97"
#define G_DASH	"\xE2\x80\x93"
#define G_DOT	"\xE2\x97\x8F"
#define G_MORE	"\xE2\x80\xA6"
#define SEP	" \xC2\xB7 "	/* " · " between facts */

static const char css[] =
	":root{--fg:#1f2328;--mut:#59636e;--line:#d1d9e0;--soft:#f6f8fa;"
	"--ok:#1a7f37;--okbg:#dafbe1;--bad:#cf222e;--badbg:#ffebe9;--warn:#9a6700;"
	"--warnbg:#fff8c5;--info:#0969da;--infobg:#ddf4ff;--canary:#d95f02;"
	"--stable:#1b9e77;--base:#7570b3;--weight:#0969da}\n"
	"*{box-sizing:border-box}\n"
	"body{margin:0;color:var(--fg);background:#fff;font:14px/1.45 system-ui,"
	"-apple-system,'Segoe UI',Roboto,'DejaVu Sans',Arial,sans-serif}\n"
	"main{max-width:1080px;margin:0 auto;padding:18px 24px 32px}\n"
	"header.top{border-bottom:2px solid var(--line);padding-bottom:12px;margin-bottom:6px}\n"
	"h1{font-size:24px;margin:0 12px 0 0;display:inline}\n"
	"h1 .ver{color:var(--mut);font-weight:500}\n"
	"h2{font-size:17px;margin:0 0 10px}\n"
	"h3{font-size:14px;margin:14px 0 6px}\n"
	"h2 .dur,h3 .dur{color:var(--mut);font-weight:400;font-size:13px;margin-left:6px}\n"
	"section{border:1px solid var(--line);border-radius:8px;padding:14px 18px;"
	"margin:14px 0;break-inside:avoid}\n"
	"p{margin:6px 0}\n"
	".verdict{font-size:15px;margin:8px 0}\n"
	".st{display:inline-block;padding:0 8px;border:1px solid;border-radius:10px;"
	"font-size:12px;font-weight:600;line-height:18px;white-space:nowrap;vertical-align:1px}\n"
	".st.big{font-size:15px;line-height:24px;padding:0 12px;border-radius:13px}\n"
	".ok{color:var(--ok)}.bad{color:var(--bad)}.warn{color:var(--warn)}"
	".muted{color:var(--mut)}.info{color:var(--info)}\n"
	".st.ok{background:var(--okbg)}.st.bad{background:var(--badbg)}"
	".st.warn{background:var(--warnbg)}.st.muted{background:var(--soft)}"
	".st.info{background:var(--infobg)}\n"
	".reason{padding:6px 10px;border-left:4px solid;background:var(--soft);"
	"white-space:pre-wrap;word-break:break-word}\n"
	"dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:6px 0}\n"
	"dl.kv dt{color:var(--mut)}dl.kv dd{margin:0;min-width:0;word-break:break-word}\n"
	"dl.kv dl.kv{margin:0}\n"
	"dl.meta{display:flex;flex-wrap:wrap;gap:2px 22px;margin:8px 0 0}\n"
	"dl.meta div{display:flex;gap:6px}dl.meta dt{color:var(--mut)}dl.meta dd{margin:0}\n"
	"code{font:12px/1.4 ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;"
	"word-break:break-all}\n"
	"table{border-collapse:collapse;width:100%;font-size:13px;margin:6px 0}\n"
	"th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e6eaef;vertical-align:top}\n"
	"th{color:var(--mut);font-weight:600;border-bottom:1px solid var(--line)}\n"
	".num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
	"tr.why td{border-bottom:1px solid #e6eaef;padding-top:0;color:var(--bad)}\n"
	".track{position:relative;height:14px;background:var(--soft);border-radius:3px;min-width:160px}\n"
	".bar{position:absolute;top:0;bottom:0;min-width:3px;border-radius:3px}\n"
	".bar.ok{background:var(--ok)}.bar.bad{background:var(--bad)}.bar.warn{background:#d4a72c}"
	".bar.muted{background:#afb8c1}.bar.info{background:var(--info)}\n"
	".meter{display:inline-block;width:90px;height:8px;background:var(--soft);"
	"border:1px solid var(--line);border-radius:4px;margin-right:6px;overflow:hidden;vertical-align:0}\n"
	".meter span{display:block;height:100%;background:var(--ok)}\n"
	".meter.low span{background:var(--bad)}\n"
	"ol.steps{list-style:none;display:flex;flex-wrap:wrap;gap:8px;padding:0;margin:8px 0}\n"
	"ol.steps li{border:1px solid var(--line);border-radius:6px;padding:4px 10px}\n"
	"ol.steps b{font-size:16px;margin-right:6px}\n"
	"ol.timeline{list-style:none;padding:0 0 0 14px;margin:8px 0;border-left:3px solid var(--line)}\n"
	"ol.timeline li{position:relative;padding:2px 0 6px 10px}\n"
	"ol.timeline li::before{content:'';position:absolute;left:-23px;top:7px;width:11px;"
	"height:11px;border-radius:50%;background:#fff;border:3px solid var(--bad)}\n"
	"ol.timeline time{font-variant-numeric:tabular-nums;font-weight:600;margin-right:8px}\n"
	"figure{margin:10px 0}figcaption{font-size:13px;margin-bottom:2px}\n"
	"svg.chart{width:100%;height:auto;display:block;font-size:11px}\n"
	"svg.chart text{fill:var(--mut)}\n"
	".grid{stroke:#e6eaef}.axis{stroke:#afb8c1}\n"
	".s-canary{stroke:var(--canary);fill:none;stroke-width:2}\n"
	".s-stable{stroke:var(--stable);fill:none;stroke-width:2}\n"
	".s-baseline{stroke:var(--base);fill:none;stroke-width:2;stroke-dasharray:2 3}\n"
	".m-canary{fill:var(--canary)}.m-stable{fill:var(--stable)}.m-baseline{fill:var(--base)}\n"
	".thr{stroke:var(--bad);stroke-width:1.5;stroke-dasharray:6 4;fill:none}\n"
	"svg.chart text.thr-l{fill:var(--bad);font-weight:600}\n"
	".fail{fill:var(--bad);stroke:#fff;stroke-width:1.5}\n"
	".w-line{stroke:var(--weight);stroke-width:2;fill:none}\n"
	".w-area{fill:var(--weight);fill-opacity:.12;stroke:none}\n"
	".w-plan{stroke:var(--weight);stroke-width:2;fill:none;stroke-dasharray:6 4}\n"
	"svg.chart text.w-l{fill:var(--weight);font-weight:600}\n"
	".legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px;color:var(--mut)}\n"
	".legend svg{width:26px;height:10px;vertical-align:middle;margin-right:4px}\n"
	"details{margin-top:4px}summary{cursor:pointer;color:var(--mut)}\n"
	"pre{background:var(--soft);padding:8px;overflow-x:auto;font-size:12px;"
	"white-space:pre-wrap;word-break:break-all;margin:4px 0}\n"
	"ul.plain{margin:4px 0;padding-left:18px}\n"
	"footer{color:var(--mut);font-size:12px;margin-top:18px}\n"
	"@media print{body{font-size:11px}main{max-width:none;padding:0}"
	"section{border-color:#999;padding:8px 12px}details{display:block}"
	"*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}\n";

/* --- reading the document: a member of the wrong type is absent --- */

static const cJSON *
get(const cJSON *o, const char *k)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const cJSON *
get_obj(const cJSON *o, const char *k)
{
	const cJSON *v = get(o, k);

	return cJSON_IsObject(v) ? v : NULL;
}

static const cJSON *
get_arr(const cJSON *o, const char *k)
{
	const cJSON *v = get(o, k);

	return cJSON_IsArray(v) ? v : NULL;
}

static const char *
get_str(const cJSON *o, const char *k)
{
	const cJSON *v = get(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A finite number (an exact big integer too); else NAN. */
static double
num_of(const cJSON *v)
{
	long long n;

	if (cJSON_IsNumber(v) && isfinite(v->valuedouble))
		return v->valuedouble;
	if (cJSON_IsRaw(v) && json_get_i64(v, &n) == 0)
		return (double)n;
	return NAN;
}

static double
get_num(const cJSON *o, const char *k)
{
	return num_of(get(o, k));
}

/* 1 with *out when o[k] is a whole number (not a string), else 0. */
static int
get_int(const cJSON *o, const char *k, long long *out)
{
	const cJSON *v = get(o, k);

	return v && !cJSON_IsString(v) && json_get_i64(v, out) == 0;
}

/* Wall-clock ms of an RFC 3339 time, its fraction kept to the ms. */
static int
parse_ms(const char *s, long long *ms)
{
	const char *dot;
	time_t t;
	long long f = 0, scale = 100;
	int k;

	if (!s || parse_rfc3339(s, &t) < 0)
		return 0;
	if ((dot = strchr(s, '.')) != NULL)
		for (k = 1; k <= 3 && dot[k] >= '0' && dot[k] <= '9'; k++, scale /= 10)
			f += (dot[k] - '0') * scale;
	*ms = (long long)t * 1000 + f;
	return 1;
}

/* --- text --- */

static void
esc(struct buf *b, const char *s)
{
	xml_escape(b, s ? s : "");
}

/* "12:03:05" (with ".250" when millis) in UTC. */
static void
clock_text(long long ms, int millis, char *out, size_t outsz)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms < 0 || !gmtime_r(&t, &tm)) {
		snprintf(out, outsz, "?");
		return;
	}
	if (millis)
		snprintf(out, outsz, "%02d:%02d:%02d.%03lld", tm.tm_hour, tm.tm_min, tm.tm_sec,
		    ms % 1000);
	else
		snprintf(out, outsz, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* A duration as people read it: "250ms", "5.2s", "1m27s". */
static void
dur_text(long long ms, char *out, size_t outsz)
{
	if (ms < 0) {
		snprintf(out, outsz, "-");
		return;
	}
	if (ms >= 60000)
		ms = (ms + 500) / 1000 * 1000;
	else if (ms >= 1000)
		ms = (ms + 50) / 100 * 100;
	format_duration(ms, out, outsz);
}

/* A measured value in its unit: "33.3%", "305 ms", "0.75". */
static void
val_text(double v, const char *unit, char *out, size_t outsz)
{
	if (!isfinite(v))
		snprintf(out, outsz, "-");
	else if (unit && strcmp(unit, "%") == 0)
		snprintf(out, outsz, "%.1f%%", v);
	else if (unit && *unit)
		snprintf(out, outsz, "%.4g %.16s", v, unit);
	else
		snprintf(out, outsz, "%.4g", v);
}

/* A bound as it was given: "5%", "400 ms". */
static void
bound_text(double v, const char *unit, char *out, size_t outsz)
{
	if (unit && strcmp(unit, "%") == 0)
		snprintf(out, outsz, "%g%%", v);
	else if (unit && *unit)
		snprintf(out, outsz, "%g %.16s", v, unit);
	else
		snprintf(out, outsz, "%g", v);
}

/* --- statuses: a colour, and always a symbol and the word --- */

enum tone { TONE_OK, TONE_BAD, TONE_WARN, TONE_MUTED, TONE_INFO };

static const char *const tone_class[] = { "ok", "bad", "warn", "muted", "info" };
static const char *const tone_glyph[] = { G_CHECK, G_CROSS, "!", G_DASH, G_DOT };

/* The tone of each status any section may have; others are muted. */
static const struct {
	const char *status;
	enum tone tone;
} tones[] = {
	{ "passed", TONE_OK }, { "pass", TONE_OK }, { "promoted", TONE_OK },
	{ "stable", TONE_OK }, { "stable_already", TONE_OK }, { "delivered", TONE_OK },
	{ "restored", TONE_OK }, { "ready", TONE_OK },
	{ "failed", TONE_BAD }, { "fail", TONE_BAD }, { "error", TONE_BAD },
	{ "timed_out", TONE_BAD }, { "rollback", TONE_BAD }, { "rolled_back", TONE_BAD },
	{ "traffic_not_restored", TONE_BAD }, { "not delivered", TONE_BAD },
	{ "not restored", TONE_BAD }, { "not ready", TONE_BAD },
	{ "paused", TONE_WARN }, { "inconclusive", TONE_WARN }, { "cancelled", TONE_WARN },
	{ "running", TONE_INFO },
};

static enum tone
tone_of(const char *st)
{
	size_t i;

	for (i = 0; st && i < sizeof(tones) / sizeof(tones[0]); i++)
		if (strcmp(st, tones[i].status) == 0)
			return tones[i].tone;
	return TONE_MUTED;
}

/* The word, "timed_out" read as "timed out". */
static void
status_word(struct buf *b, const char *st)
{
	char *w = xstrdup(st && *st ? st : "unknown"), *p;

	for (p = w; *p; p++)
		if (*p == '_')
			*p = ' ';
	esc(b, w);
	free(w);
}

static void
pill_cls(struct buf *b, const char *st, const char *extra)
{
	enum tone t = tone_of(st);

	buf_addf(b, "<span class=\"st %s%s\">%s ", tone_class[t], extra, tone_glyph[t]);
	status_word(b, st);
	buf_adds(b, "</span>");
}

static void
pill(struct buf *b, const char *st)
{
	pill_cls(b, st, "");
}

/* --- building blocks --- */

static void
kv_begin(struct buf *b, const char *label)
{
	buf_adds(b, "<dt>");
	esc(b, label);
	buf_adds(b, "</dt><dd>");
}

static void
kv_end(struct buf *b)
{
	buf_adds(b, "</dd>\n");
}

static void
kv_text(struct buf *b, const char *label, const char *v)
{
	if (!v)
		return;
	kv_begin(b, label);
	esc(b, v);
	kv_end(b);
}

static void
kv_code(struct buf *b, const char *label, const char *v)
{
	if (!v)
		return;
	kv_begin(b, label);
	buf_adds(b, "<code>");
	esc(b, v);
	buf_adds(b, "</code>");
	kv_end(b);
}

/* The string members of o that a table names, under its labels. */
struct field {
	const char *label, *key;
};

static void
kv_fields(struct buf *b, const cJSON *o, const struct field *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		kv_text(b, f[i].label, get_str(o, f[i].key));
}

#define KV_FIELDS(b, o, table) kv_fields((b), (o), (table), sizeof(table) / sizeof((table)[0]))

/* " <tag class="cls">s</tag>", set beside a value, when s is. */
static void
aside(struct buf *b, const char *tag, const char *cls, const char *s)
{
	if (!s)
		return;
	buf_addf(b, " <%s class=\"%s\">", tag, cls);
	esc(b, s);
	buf_addf(b, "</%s>", tag);
}

typedef void num_fmt(long long v, char *out, size_t outsz);

/* o[k] written by fmt ("46.1 MiB", "5.2s"), when it is a whole number. */
static void
kv_num(struct buf *b, const char *label, const cJSON *o, const char *k, num_fmt *fmt)
{
	long long v;
	char t[64];

	if (!get_int(o, k, &v))
		return;
	fmt(v, t, sizeof(t));
	kv_text(b, label, t);
}

/* The strings of an array as code, one after the other. */
static void
kv_codes(struct buf *b, const char *label, const cJSON *a)
{
	const cJSON *v;
	size_t k = 0;

	if (!a || !a->child)
		return;
	kv_begin(b, label);
	cJSON_ArrayForEach(v, a) {
		if (!cJSON_IsString(v))
			continue;
		if (k++ >= HTML_MAX_ROWS)
			break;
		buf_adds(b, k > 1 ? "<br><code>" : "<code>");
		esc(b, v->valuestring);
		buf_adds(b, "</code>");
	}
	kv_end(b);
}

static void
rows_left_out(struct buf *b, size_t total, size_t shown, int cols)
{
	if (total > shown)
		buf_addf(b, "<tr><td colspan=\"%d\" class=\"muted\">" G_MORE
		    " and %zu more not shown</td></tr>\n", cols, total - shown);
}

/* The duration of stage name from "stages", else the section's own. */
static int
stage_ms(const cJSON *doc, const char *name, const cJSON *sec, long long *ms)
{
	const cJSON *st;

	cJSON_ArrayForEach(st, get_arr(doc, "stages")) {
		const char *n = get_str(st, "name");

		if (n && strcmp(n, name) == 0 && get_int(st, "duration_ms", ms))
			return 1;
	}
	return get_int(sec, "duration_ms", ms);
}

/* <section>, its heading (title, status, duration) and the reason of a
 * section that did not pass. */
static void
section_open(struct buf *b, const cJSON *doc, const char *name, const char *title,
    const cJSON *sec)
{
	const char *st = get_str(sec, "status"), *reason = get_str(sec, "reason");
	char d[32];
	long long ms;

	buf_adds(b, "<section class=\"stage\">\n<h2>");
	esc(b, title);
	if (st) {
		buf_adds(b, " ");
		pill(b, st);
	}
	if (stage_ms(doc, name, sec, &ms)) {
		dur_text(ms, d, sizeof(d));
		buf_addf(b, "<span class=\"dur\">%s</span>", d);
	}
	buf_adds(b, "</h2>\n");
	if (reason && *reason && (!st || strcmp(st, "passed") != 0)) {
		buf_addf(b, "<p class=\"reason %s\">", tone_class[tone_of(st)]);
		esc(b, reason);
		buf_adds(b, "</p>\n");
	}
}

static void
section_close(struct buf *b)
{
	buf_adds(b, "</section>\n");
}

/* --- what we do not know, shown as it is --- */

static void generic(struct buf *b, const cJSON *v, int depth, const char *skip);

static void
generic_scalar(struct buf *b, const cJSON *v)
{
	size_t klen = v->string ? strlen(v->string) : 0;
	long long i;
	char d[32];

	if (klen > 3 && strcmp(v->string + klen - 3, "_ms") == 0 && !cJSON_IsString(v) &&
	    json_get_i64(v, &i) == 0) {
		dur_text(i, d, sizeof(d));
		buf_adds(b, d);
	} else if (cJSON_IsString(v))
		esc(b, v->valuestring);
	else if (cJSON_IsBool(v))
		buf_adds(b, cJSON_IsTrue(v) ? "yes" : "no");
	else if (json_get_i64(v, &i) == 0)
		buf_addf(b, "%lld", i);
	else if (cJSON_IsNumber(v))
		buf_addf(b, "%.6g", v->valuedouble);
	else if (cJSON_IsRaw(v))
		esc(b, v->valuestring);
	else
		buf_adds(b, "<span class=\"muted\">none</span>");
}

static void
generic(struct buf *b, const cJSON *v, int depth, const char *skip)
{
	const cJSON *c;
	size_t k = 0, n = (size_t)cJSON_GetArraySize(v);
	int scalars = 1;

	if (depth >= GENERIC_DEPTH) {
		buf_adds(b, G_MORE);
		return;
	}
	if (cJSON_IsObject(v)) {
		buf_adds(b, "<dl class=\"kv\">\n");
		cJSON_ArrayForEach(c, v) {
			if (skip && c->string && strcmp(c->string, skip) == 0)
				continue;
			if (k++ >= HTML_MAX_ROWS) {
				kv_begin(b, G_MORE);
				buf_addf(b, "%zu more not shown", n - HTML_MAX_ROWS);
				kv_end(b);
				break;
			}
			kv_begin(b, c->string);
			if (c->string && strcmp(c->string, "status") == 0 && cJSON_IsString(c))
				pill(b, c->valuestring);
			else
				generic(b, c, depth + 1, NULL);
			kv_end(b);
		}
		buf_adds(b, "</dl>");
		return;
	}
	if (!cJSON_IsArray(v)) {
		generic_scalar(b, v);
		return;
	}
	cJSON_ArrayForEach(c, v)
		scalars &= !cJSON_IsObject(c) && !cJSON_IsArray(c);
	buf_adds(b, scalars ? "" : "<ol>");
	cJSON_ArrayForEach(c, v) {
		if (k++ >= HTML_MAX_ROWS) {
			buf_addf(b, scalars ? ", " G_MORE " %zu more" : "<li>" G_MORE " %zu more</li>",
			    n - HTML_MAX_ROWS);
			break;
		}
		if (scalars) {
			buf_adds(b, k > 1 ? ", " : "");
			generic_scalar(b, c);
		} else {
			buf_adds(b, "<li>");
			generic(b, c, depth + 1, NULL);
			buf_adds(b, "</li>");
		}
	}
	buf_adds(b, scalars ? "" : "</ol>");
}

/* --- the header: what, which version, the verdict --- */

/* "registry.example/team/shop:v1@sha256:..." -> "shop". */
static char *
ref_name(const char *ref)
{
	const char *p, *q;

	if (!ref || !*ref)
		return NULL;
	q = ref + strcspn(ref, "@");
	for (p = q; p > ref && p[-1] != '/'; p--)
		;
	q = p + strcspn(p, ":@");
	return q > p ? xstrndup(p, (size_t)(q - p)) : NULL;
}

/* The app, from whichever section names it; owned by the caller. */
static char *
app_name(const cJSON *doc)
{
	const char *a = get_str(get_obj(doc, "canary"), "app");
	const char *repo = get_str(get_obj(get_obj(doc, "run"), "source"), "repository");
	const cJSON *tags = get_arr(get_obj(get_obj(doc, "build"), "image"), "tags");
	char *n;

	if (a && *a)
		return xstrdup(a);
	a = get_str(get_obj(get_obj(doc, "rollback"), "release"), "app");
	if (a && *a)
		return xstrdup(a);
	if ((n = ref_name(get_str(get_obj(doc, "push"), "reference"))) != NULL)
		return n;
	if (tags && cJSON_IsString(tags->child) &&
	    (n = ref_name(tags->child->valuestring)) != NULL)
		return n;
	if (repo && *repo) {
		const char *base = strrchr(repo, '/');
		size_t len;

		base = base && base[1] ? base + 1 : repo;
		len = strlen(base);
		if (len > 4 && strcmp(base + len - 4, ".git") == 0)
			len -= 4;
		if (len)
			return xstrndup(base, len);
	}
	return xstrdup("pipeline");
}

static const char *
version_of(const cJSON *doc)
{
	const char *v = get_str(get_obj(get_obj(doc, "run"), "source"), "version");

	if (!v)
		v = get_str(get_obj(get_obj(doc, "rollback"), "release"), "version");
	if (!v)
		v = get_str(doc, "version");
	return v;
}

/* The span of the stages: first start to last end; or the sum of their
 * durations when they carry no times. */
static int
total_ms(const cJSON *doc, long long *out)
{
	const cJSON *st;
	long long t0 = 0, t1 = 0, s, d, sum = 0;
	int timed = 0, any = 0;

	cJSON_ArrayForEach(st, get_arr(doc, "stages")) {
		if (!get_int(st, "duration_ms", &d) || d < 0)
			d = 0;
		else
			any = 1;
		sum += d;
		if (!parse_ms(get_str(st, "started_at"), &s))
			continue;
		if (!timed || s < t0)
			t0 = s;
		if (!timed || s + d > t1)
			t1 = s + d;
		timed = 1;
	}
	if (timed && t1 > t0)
		*out = t1 - t0;
	else
		*out = sum;
	return timed || any;
}

/* The first stage that failed, and its section. */
static const char *
failed_stage(const cJSON *doc, const cJSON **sec)
{
	const cJSON *st;

	cJSON_ArrayForEach(st, get_arr(doc, "stages")) {
		const char *n = get_str(st, "name"), *s = get_str(st, "status");

		if (n && s && (strcmp(s, "failed") == 0 || strcmp(s, "error") == 0)) {
			*sec = get_obj(doc, n);
			return n;
		}
	}
	return NULL;
}

static void
meta(struct buf *b, const char *label, const char *v, int code)
{
	if (!v || !*v)
		return;
	buf_adds(b, "<div><dt>");
	esc(b, label);
	buf_adds(b, code ? "</dt><dd><code>" : "</dt><dd>");
	esc(b, v);
	buf_adds(b, code ? "</code></dd></div>\n" : "</dd></div>\n");
}

static void
header(struct buf *b, const cJSON *doc, const char *app, const char *version)
{
	const cJSON *run = get_obj(doc, "run"), *src = get_obj(run, "source");
	const cJSON *rb = get_obj(doc, "rollback"), *fsec = NULL;
	const char *status = get_str(doc, "status"), *fname = failed_stage(doc, &fsec);
	const char *back = get_str(get_obj(rb, "rolled_back_to"), "version");
	char d[32];
	long long ms;

	buf_adds(b, "<header class=\"top\">\n<h1>");
	esc(b, app);
	if (version) {
		buf_adds(b, " <span class=\"ver\">");
		esc(b, version);
		buf_adds(b, "</span>");
	}
	buf_adds(b, "</h1>");
	pill_cls(b, status ? status : "unknown", " big");
	buf_adds(b, "\n<p class=\"verdict\">");
	if (fname) {
		const char *reason = get_str(fsec, "reason");

		buf_adds(b, "Failed at <b>");
		esc(b, fname);
		buf_adds(b, "</b>");
		if (reason && *reason) {
			buf_adds(b, ": ");
			esc(b, reason);
		}
		buf_adds(b, ".");
	} else if (status && strcmp(status, "passed") == 0) {
		buf_adds(b, "Every stage passed.");
	} else {
		buf_adds(b, "No stage has failed so far.");
	}
	if (back) {
		buf_adds(b, " Rolled back to <b>");
		esc(b, back);
		buf_adds(b, "</b>.");
	}
	buf_adds(b, "</p>\n<dl class=\"meta\">\n");
	meta(b, "commit", get_str(src, "commit"), 1);
	meta(b, "ref", get_str(src, "ref"), 0);
	meta(b, "repository", get_str(src, "repository"), 0);
	meta(b, "run", get_str(run, "id"), 0);
	meta(b, "started", get_str(run, "started_at"), 0);
	if (total_ms(doc, &ms)) {
		dur_text(ms, d, sizeof(d));
		meta(b, "total duration", d, 0);
	}
	buf_adds(b, "</dl>\n</header>\n");
}

/* --- stages on one timeline --- */

static void
stages_section(struct buf *b, const cJSON *doc)
{
	const cJSON *stages = get_arr(doc, "stages"), *st;
	long long t0 = 0, t1 = 0, s, d;
	size_t k = 0, n = (size_t)cJSON_GetArraySize(stages);
	char c[32], dt[32];
	int timed = 0;

	if (!n)
		return;
	cJSON_ArrayForEach(st, stages) {
		if (!parse_ms(get_str(st, "started_at"), &s))
			continue;
		if (!get_int(st, "duration_ms", &d) || d < 0)
			d = 0;
		if (!timed || s < t0)
			t0 = s;
		if (!timed || s + d > t1)
			t1 = s + d;
		timed = 1;
	}
	buf_adds(b, "<section class=\"stages\">\n<h2>Stages</h2>\n<table>\n<thead><tr>"
	    "<th>Stage</th><th>Status</th><th>Started</th><th class=\"num\">Duration</th>"
	    "<th style=\"width:45%\">Timeline</th></tr></thead>\n<tbody>\n");
	cJSON_ArrayForEach(st, stages) {
		const char *status = get_str(st, "status");
		int has_s = parse_ms(get_str(st, "started_at"), &s);
		int has_d = get_int(st, "duration_ms", &d) && d >= 0;

		if (k++ >= HTML_MAX_ROWS)
			break;
		buf_adds(b, "<tr><td><b>");
		esc(b, get_str(st, "name"));
		buf_adds(b, "</b></td><td>");
		pill(b, status);
		if (has_s)
			clock_text(s, 0, c, sizeof(c));
		dur_text(has_d ? d : -1, dt, sizeof(dt));
		buf_addf(b, "</td><td>%s</td><td class=\"num\">%s</td><td><div class=\"track\">",
		    has_s ? c : "-", dt);
		if (has_s) {
			double span = t1 > t0 ? (double)(t1 - t0) : 1;

			buf_addf(b, "<div class=\"bar %s\" style=\"left:%.2f%%;width:%.2f%%\"></div>",
			    tone_class[tone_of(status)], 100.0 * (double)(s - t0) / span,
			    100.0 * (double)(has_d ? d : 0) / span);
		}
		buf_adds(b, "</div></td></tr>\n");
	}
	rows_left_out(b, n, k > HTML_MAX_ROWS ? HTML_MAX_ROWS : k, 5);
	buf_adds(b, "</tbody></table>\n</section>\n");
}

/* --- gate --- */

/* "4 jobs · 3 passed · 1 failed": the total under key noun (or "total"),
 * then the counts of keys that are not 0 (the first one always). */
static void
counts(struct buf *b, const cJSON *sum, const char *const *keys, const char *noun)
{
	long long v, total = -1;
	int k;

	if (!sum)
		return;
	buf_adds(b, "<p>");
	if (get_int(sum, "total", &total) || get_int(sum, noun, &total))
		buf_addf(b, "<b>%lld</b> %s", total, noun);
	for (k = 0; keys[k]; k++)
		if (get_int(sum, keys[k], &v) && (v || k == 0)) {
			buf_addf(b, "%s%lld ", k || total >= 0 ? SEP : "", v);
			status_word(b, keys[k]);
		}
	buf_adds(b, "</p>\n");
}

/* The last TAIL_MAX bytes of s, from a character's start. */
static void
tail_block(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	const char *p = s;

	if (n > TAIL_MAX) {
		p = s + n - TAIL_MAX;
		while (*p && ((unsigned char)*p & 0xC0) == 0x80)
			p++;
	}
	buf_adds(b, "<details><summary>output</summary><pre>");
	esc(b, p);
	buf_adds(b, "</pre></details>");
}

static void
job_details(struct buf *b, const cJSON *j, const char *status)
{
	const cJSON *ju = get_obj(j, "junit"), *cov = get_obj(j, "coverage");
	const char *sep = "", *sig = get_str(j, "signal"), *bi = get_str(j, "builtin");
	const char *reason = get_str(j, "reason"), *tail = get_str(j, "tail");
	long long v, f = 0, e = 0;
	double lines;

	if (cJSON_IsTrue(get(j, "allow_failure"))) {
		buf_adds(b, "allowed to fail");
		sep = SEP;
	}
	if (bi) {
		buf_addf(b, "%sbuilt-in ", sep);
		esc(b, bi);
		sep = SEP;
	}
	if (get_int(j, "exit_code", &v) && v != 0) {
		buf_addf(b, "%sexit %lld", sep, v);
		sep = SEP;
	}
	if (sig) {
		buf_addf(b, "%s", sep);
		esc(b, sig);
		sep = SEP;
	}
	if (ju && get_int(ju, "tests", &v)) {
		get_int(ju, "failures", &f);
		get_int(ju, "errors", &e);
		buf_addf(b, "%s%lld tests, %lld failed", sep, v, f + e);
		sep = SEP;
	}
	if (cov && isfinite(lines = get_num(cov, "lines"))) {
		buf_addf(b, "%scoverage %.2f%%", sep, lines);
		sep = SEP;
	}
	if (get_arr(j, "findings")) {
		buf_addf(b, "%s%d secret findings", sep, cJSON_GetArraySize(get(j, "findings")));
		sep = SEP;
	}
	if (reason && status && strcmp(status, "passed") != 0) {
		buf_addf(b, "%s<span class=\"%s\">", sep, tone_class[tone_of(status)]);
		esc(b, reason);
		buf_adds(b, "</span>");
	}
	if (tail && *tail && status && strcmp(status, "passed") != 0)
		tail_block(b, tail);
}

static void
meter(struct buf *b, double pct, int low)
{
	if (!isfinite(pct))
		return;
	pct = pct < 0 ? 0 : pct > 100 ? 100 : pct;
	buf_addf(b, "<span class=\"meter%s\"><span style=\"width:%.1f%%\"></span></span>",
	    low ? " low" : "", pct);
}

static void
coverage_cell(struct buf *b, const cJSON *cov, const char *what, double min)
{
	char k[32];
	double v = get_num(cov, what);
	long long hit, total;

	buf_adds(b, "<td>");
	if (isfinite(v)) {
		meter(b, v, isfinite(min) && v < min);
		buf_addf(b, "%.2f%%", v);
		snprintf(k, sizeof(k), "%s_hit", what);
		if (get_int(cov, k, &hit)) {
			snprintf(k, sizeof(k), "%s_total", what);
			if (get_int(cov, k, &total))
				buf_addf(b, " <span class=\"muted\">(%lld of %lld)</span>", hit, total);
		}
	} else {
		buf_adds(b, "-");
	}
	buf_adds(b, "</td>");
}

static void
coverage_table(struct buf *b, const cJSON *jobs)
{
	const cJSON *j, *cov;
	size_t n = 0;

	cJSON_ArrayForEach(j, jobs) {
		double ml, mb;

		if (!(cov = get_obj(j, "coverage")))
			continue;
		if (n++ == 0)
			buf_adds(b, "<h3>Coverage</h3>\n<table>\n<thead><tr><th>Job</th><th>Lines</th>"
			    "<th>Branches</th><th>Minimum</th><th>Result</th></tr></thead>\n<tbody>\n");
		if (n > HTML_MAX_ROWS)
			continue;
		ml = get_num(cov, "min_lines");
		mb = get_num(cov, "min_branches");
		buf_adds(b, "<tr><td>");
		esc(b, j->string);
		buf_adds(b, "</td>");
		coverage_cell(b, cov, "lines", ml);
		coverage_cell(b, cov, "branches", mb);
		buf_adds(b, "<td>");
		if (isfinite(ml))
			buf_addf(b, "lines %g%%", ml);
		if (isfinite(mb))
			buf_addf(b, "%sbranches %g%%", isfinite(ml) ? ", " : "", mb);
		if (!isfinite(ml) && !isfinite(mb))
			buf_adds(b, "-");
		buf_adds(b, "</td><td>");
		if (cJSON_IsBool(get(cov, "passed")))
			pill(b, cJSON_IsTrue(get(cov, "passed")) ? "passed" : "failed");
		buf_adds(b, "</td></tr>\n");
	}
	if (n) {
		rows_left_out(b, n, n > HTML_MAX_ROWS ? HTML_MAX_ROWS : n, 5);
		buf_adds(b, "</tbody></table>\n");
	}
}

static void
gate_section(struct buf *b, const cJSON *g)
{
	static const char *const keys[] = { "passed", "failed", "timed_out", "cancelled",
		"skipped", "error", "allowed_failures", NULL };
	const cJSON *jobs, *j, *blk;
	size_t k = 0, n;
	char d[32];
	long long ms;

	if ((blk = get_obj(g, "blocked")) != NULL) {
		buf_adds(b, "<p class=\"reason warn\">Blocked");
		if (get_str(blk, "release")) {
			buf_adds(b, " by release ");
			esc(b, get_str(blk, "release"));
		}
		if (get_str(blk, "since")) {
			buf_adds(b, " since ");
			esc(b, get_str(blk, "since"));
		}
		if (get_str(blk, "reason")) {
			buf_adds(b, ": ");
			esc(b, get_str(blk, "reason"));
		}
		buf_adds(b, cJSON_IsTrue(get(blk, "ignored")) ? " (ignored)</p>\n" : "</p>\n");
	}
	counts(b, get_obj(g, "summary"), keys, "jobs");
	jobs = get_obj(g, "jobs");
	n = (size_t)cJSON_GetArraySize(jobs);
	if (n) {
		buf_adds(b, "<table>\n<thead><tr><th>Job</th><th>Status</th>"
		    "<th class=\"num\">Duration</th><th>Details</th></tr></thead>\n<tbody>\n");
		cJSON_ArrayForEach(j, jobs) {
			const char *st = get_str(j, "status");

			if (k++ >= HTML_MAX_ROWS)
				break;
			buf_adds(b, "<tr><td><b>");
			esc(b, j->string);
			buf_adds(b, "</b></td><td>");
			pill(b, st);
			dur_text(get_int(j, "duration_ms", &ms) ? ms : -1, d, sizeof(d));
			buf_addf(b, "</td><td class=\"num\">%s</td><td>", d);
			job_details(b, j, st);
			buf_adds(b, "</td></tr>\n");
		}
		rows_left_out(b, n, k > HTML_MAX_ROWS ? HTML_MAX_ROWS : k, 4);
		buf_adds(b, "</tbody></table>\n");
	}
	coverage_table(b, jobs);
}

/* --- build and push --- */

static void
build_section(struct buf *b, const cJSON *sec)
{
	static const struct field fields[] = {
		{ "Dockerfile", "dockerfile" }, { "context", "context" }, { "target", "target" },
		{ "OCI archive", "oci_archive" }, { "Docker archive", "docker_archive" },
	};
	const cJSON *img, *base, *w;
	long long built, cached;

	img = get_obj(sec, "image");
	buf_adds(b, "<dl class=\"kv\">\n");
	kv_code(b, "digest", get_str(img, "digest"));
	kv_num(b, "size", img, "size", format_size);
	kv_text(b, "platform", get_str(img, "platform"));
	kv_codes(b, "tags", get_arr(img, "tags"));
	if ((base = get_obj(img, "base")) != NULL && get_str(base, "name")) {
		kv_begin(b, "base");
		esc(b, get_str(base, "name"));
		aside(b, "code", "muted", get_str(base, "digest"));
		kv_end(b);
	}
	if (get_arr(img, "layers") || get_int(sec, "layers_built", &built)) {
		kv_begin(b, "layers");
		if (get_arr(img, "layers"))
			buf_addf(b, "%d", cJSON_GetArraySize(get(img, "layers")));
		if (get_int(sec, "layers_built", &built) && get_int(sec, "layers_cached", &cached))
			buf_addf(b, " (%lld built, %lld from the cache)", built, cached);
		kv_end(b);
	}
	KV_FIELDS(b, sec, fields);
	kv_text(b, "layout", get_str(img, "layout"));
	buf_adds(b, "</dl>\n");
	if ((w = get_arr(sec, "warnings")) != NULL && w->child) {
		const cJSON *x;

		buf_adds(b, "<h3>Warnings</h3>\n<ul class=\"plain warn\">\n");
		cJSON_ArrayForEach(x, w)
			if (cJSON_IsString(x)) {
				buf_adds(b, "<li>");
				esc(b, x->valuestring);
				buf_adds(b, "</li>\n");
			}
		buf_adds(b, "</ul>\n");
	}
}

static void
push_section(struct buf *b, const cJSON *sec)
{
	const cJSON *blobs, *refs;
	const char *reg, *repo;
	long long u = 0, s = 0, m = 0;
	char t[64];

	reg = get_str(sec, "registry");
	repo = get_str(sec, "repository");
	buf_adds(b, "<dl class=\"kv\">\n");
	if (reg || repo) {
		kv_begin(b, "destination");
		buf_adds(b, "<b>");
		esc(b, reg);
		buf_adds(b, reg && repo ? "/" : "");
		esc(b, repo);
		buf_adds(b, "</b>");
		kv_end(b);
	}
	kv_code(b, "reference", get_str(sec, "reference"));
	refs = get_arr(sec, "references");
	if (cJSON_GetArraySize(refs) > 1)
		kv_codes(b, "references", refs);
	kv_codes(b, "tags", get_arr(sec, "tags"));
	if (!get_str(sec, "reference"))
		kv_code(b, "digest", get_str(sec, "digest"));
	if ((blobs = get_obj(sec, "blobs")) != NULL) {
		get_int(blobs, "uploaded", &u);
		get_int(blobs, "skipped", &s);
		get_int(blobs, "mounted", &m);
		snprintf(t, sizeof(t), "%lld uploaded, %lld already there, %lld mounted", u, s, m);
		kv_text(b, "blobs", t);
	}
	kv_num(b, "sent", sec, "bytes_sent", format_size);
	buf_adds(b, "</dl>\n");
}

/* --- deploy, by environment, member by member --- */

static void
deploy_section(struct buf *b, const cJSON *dep)
{
	const cJSON *env;

	cJSON_ArrayForEach(env, dep) {
		long long ms;
		char d[32];

		if (!cJSON_IsObject(env)) {
			if (env->string && strcmp(env->string, "status") && strcmp(env->string, "reason")) {
				buf_adds(b, "<dl class=\"kv\">");
				kv_begin(b, env->string);
				generic(b, env, 1, NULL);
				kv_end(b);
				buf_adds(b, "</dl>\n");
			}
			continue;
		}
		buf_adds(b, "<h3>");
		esc(b, env->string);
		if (get_str(env, "status")) {
			buf_adds(b, " ");
			pill(b, get_str(env, "status"));
		}
		if (get_int(env, "duration_ms", &ms)) {
			dur_text(ms, d, sizeof(d));
			buf_addf(b, "<span class=\"dur\">%s</span>", d);
		}
		buf_adds(b, "</h3>\n");
		generic(b, env, 1, "status");
		buf_adds(b, "\n");
	}
}

/* --- smoke --- */

static void
smoke_entry(struct buf *b, const cJSON *en)
{
	const cJSON *a, *dur = get_obj(en, "durations");
	const char *st = get_str(en, "status"), *why;
	long long v, pass = 0, fail = 0;
	char d[32];

	cJSON_ArrayForEach(a, get_arr(en, "asserts")) {
		const char *s = get_str(a, "status");

		pass += s && strcmp(s, "passed") == 0;
		fail += s && strcmp(s, "failed") == 0;
	}
	buf_adds(b, "<tr><td>");
	esc(b, get_str(en, "name"));
	buf_adds(b, "</td><td><code>");
	esc(b, get_str(en, "method"));
	buf_adds(b, "</code></td><td><code>");
	esc(b, get_str(en, "url"));
	buf_adds(b, "</code></td><td>");
	pill(b, st);
	buf_adds(b, "</td><td class=\"num\">");
	if (get_int(en, "http_status", &v))
		buf_addf(b, "%lld", v);
	buf_adds(b, "</td><td>");
	if (get_arr(en, "asserts"))
		buf_addf(b, "<span class=\"ok\">%lld passed</span>%s", pass, fail ? ", " : "");
	if (fail)
		buf_addf(b, "<span class=\"bad\">%lld failed</span>", fail);
	buf_adds(b, "</td><td class=\"num\">");
	if (get_int(en, "duration_ms", &v)) {
		dur_text(v, d, sizeof(d));
		buf_adds(b, d);
	}
	if (dur && get_int(dur, "p50_ms", &v)) {
		buf_addf(b, "<br><span class=\"muted\">p50 %lld ms", v);
		if (get_int(dur, "p99_ms", &v))
			buf_addf(b, ", p99 %lld ms", v);
		buf_adds(b, "</span>");
	}
	buf_adds(b, "</td></tr>\n");
	why = get_str(en, "reason");
	if (!why)
		why = get_str(en, "error");
	if (why && st && strcmp(st, "passed") != 0) {
		buf_adds(b, "<tr class=\"why\"><td></td><td colspan=\"6\">");
		esc(b, why);
		buf_adds(b, "</td></tr>\n");
	}
}

static void
smoke_section(struct buf *b, const cJSON *sec)
{
	static const char *const keys[] = { "passed", "failed", "skipped", "not_run", NULL };
	const cJSON *w, *f, *en;
	const cJSON *sum;
	size_t k = 0, n = 0;
	long long v;
	char d[32];

	buf_adds(b, "<dl class=\"kv\">\n");
	kv_code(b, "image", get_str(sec, "image"));
	kv_text(b, "version", get_str(sec, "version"));
	if ((w = get_obj(sec, "wait")) != NULL) {
		kv_begin(b, "waited for");
		buf_adds(b, "<code>");
		esc(b, get_str(w, "url"));
		buf_adds(b, "</code> ");
		pill(b, cJSON_IsTrue(get(w, "ready")) ? "ready" : "not ready");
		if (get_int(w, "attempts", &v))
			buf_addf(b, " after %lld attempts", v);
		if (get_int(w, "duration_ms", &v)) {
			dur_text(v, d, sizeof(d));
			buf_addf(b, " in %s", d);
		}
		kv_end(b);
	}
	if (get_int(sec, "repeat", &v)) {
		snprintf(d, sizeof(d), "%lld", v);
		kv_text(b, "rounds", d);
	}
	if (get_int(sec, "max_p99_ms", &v)) {
		snprintf(d, sizeof(d), "%lld ms", v);
		kv_text(b, "p99 limit", d);
	}
	buf_adds(b, "</dl>\n");
	sum = get_obj(sec, "summary");
	counts(b, sum, keys, "entries");
	if (get_int(sum, "requests", &v))
		buf_addf(b, "<p class=\"muted\">%lld requests sent</p>\n", v);
	cJSON_ArrayForEach(f, get_arr(sec, "files"))
		n += (size_t)cJSON_GetArraySize(get_arr(f, "entries"));
	if (n) {
		buf_adds(b, "<table>\n<thead><tr><th>Entry</th><th>Method</th><th>URL</th>"
		    "<th>Result</th><th class=\"num\">HTTP</th><th>Asserts</th>"
		    "<th class=\"num\">Time</th></tr></thead>\n<tbody>\n");
		cJSON_ArrayForEach(f, get_arr(sec, "files"))
			cJSON_ArrayForEach(en, get_arr(f, "entries"))
				if (k++ < HTML_MAX_ROWS)
					smoke_entry(b, en);
		rows_left_out(b, n, k > HTML_MAX_ROWS ? HTML_MAX_ROWS : k, 7);
		buf_adds(b, "</tbody></table>\n");
	}
}

/* --- the canary: weights and metrics over time, as SVG --- */

/* x: wall-clock ms when every interval has its time, else the index. */
struct chart {
	double x0, x1;		/* the domain of x, padded */
	double y0, y1;
	int timed;
};

/* The least of 1, 2, 2.5, 5 times a power of ten that is >= v. */
static double
nice_top(double v)
{
	double e, f;

	if (!(v > 0) || !isfinite(v))
		return 1;
	e = pow(10, floor(log10(v)));
	f = v / e;
	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * e;
}

static double
xpos(const struct chart *c, double x)
{
	if (!(c->x1 > c->x0))
		return (CL + CR) / 2.0;
	return CL + (x - c->x0) / (c->x1 - c->x0) * (CR - CL);
}

static double
ypos(const struct chart *c, double y)
{
	double p;

	if (!(c->y1 > c->y0))
		return (CT + CB) / 2.0;
	p = CB - (y - c->y0) / (c->y1 - c->y0) * (CB - CT);
	return p < CT ? CT : p > CB ? CB : p;
}

/* The least of the steps that cuts span into at most 6 parts. */
static double
tick_step(double span, int timed)
{
	static const double ms[] = { 100, 200, 500, 1e3, 2e3, 5e3, 10e3, 15e3, 30e3, 60e3,
		120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 21600e3, 43200e3, 86400e3 };
	size_t k;

	if (!timed)
		return span <= 6 ? 1 : nice_top(span / 6);
	for (k = 0; k < sizeof(ms) / sizeof(ms[0]); k++)
		if (span / ms[k] <= 6)
			return ms[k];
	return nice_top(span / 6 / 86400e3) * 86400e3;
}

/* x labels at round steps from the start: its time of day, then "+1m";
 * or the measurement's number. */
static void
x_ticks(struct buf *b, const struct chart *c)
{
	double first = c->timed ? c->x0 : ceil(c->x0), step, x;
	char t[48];
	int k;

	step = tick_step(c->x1 - first, c->timed);
	/* Counted, not summed: at most 7 labels, whatever the numbers. */
	for (k = 0; k <= 6 && (x = first + k * step) <= c->x1 + 1e-9; k++) {
		if (!c->timed)
			snprintf(t, sizeof(t), "#%.0f", x + 1);
		else if (k == 0)
			clock_text((long long)x, 0, t, sizeof(t));
		else {
			t[0] = '+';
			dur_text((long long)(x - first), t + 1, sizeof(t) - 1);
		}
		buf_addf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">%s</text>\n",
		    xpos(c, x), CH - 8, k == 0 && c->timed ? "start" : "middle", t);
	}
}

/* Grid, y labels (bottom, middle, top) and x labels. */
static void
chart_frame(struct buf *b, const struct chart *c, const char *unit, const char *label)
{
	double ys[3];
	char t[48];
	int k;

	buf_addf(b, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", CW, CH);
	esc(b, label);
	buf_adds(b, "\">\n");
	ys[0] = c->y0;
	ys[1] = (c->y0 + c->y1) / 2;
	ys[2] = c->y1;
	for (k = 0; k < 3; k++) {
		bound_text(ys[k], unit, t, sizeof(t));
		buf_addf(b, "<line class=\"%s\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
		    "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", k ? "grid" : "axis", CL,
		    ypos(c, ys[k]), CR, ypos(c, ys[k]), CL - 6, ypos(c, ys[k]) + 4);
		esc(b, t);
		buf_adds(b, "</text>\n");
	}
	x_ticks(b, c);
}

/* A series as one path, broken where a value is missing; markers (with
 * the value as a tooltip) when there are few points. */
static void
series(struct buf *b, const struct chart *c, const double *x, const double *v, size_t n,
    const char *name, const char *unit, int markers)
{
	size_t i;
	int pen = 0, any = 0;
	char t[48];

	for (i = 0; i < n; i++) {
		if (!isfinite(v[i])) {
			pen = 0;
			continue;
		}
		if (!any)
			buf_addf(b, "<path class=\"s-%s\" d=\"", name);
		buf_addf(b, "%c%.1f %.1f ", pen ? 'L' : 'M', xpos(c, x[i]), ypos(c, v[i]));
		pen = any = 1;
	}
	if (any)
		buf_adds(b, "\"/>\n");
	if (!markers || n > MARKERS_MAX)
		return;
	for (i = 0; i < n; i++) {
		if (!isfinite(v[i]))
			continue;
		val_text(v[i], unit, t, sizeof(t));
		buf_addf(b, "<circle class=\"m-%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"><title>%s ",
		    name, xpos(c, x[i]), ypos(c, v[i]), name);
		esc(b, t);
		buf_adds(b, "</title></circle>\n");
	}
}

static void
fail_dot(struct buf *b, const struct chart *c, double x, double y, const char *why)
{
	buf_addf(b, "<circle class=\"fail\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\"><title>failed",
	    xpos(c, x), ypos(c, y));
	if (why) {
		buf_adds(b, ": ");
		esc(b, why);
	}
	buf_adds(b, "</title></circle>\n");
}

/* What the charts of one canary section share. */
struct rollout {
	const cJSON *sec, *ivs;
	size_t n;		/* intervals */
	double *x;		/* n: each interval's x */
	double *v;		/* 3n of scratch */
	struct chart c;		/* x domain */
	const cJSON *stepx;	/* steps, when their start times give the weights */
};

static int
interval_failed(const cJSON *it)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, get_obj(it, "metrics")) {
		const char *v = get_str(m, "verdict");

		if (v && strcmp(v, "fail") == 0)
			return 1;
	}
	return 0;
}

/* The x domain: every interval's time and every step's start and end
 * when all intervals have a time, else the interval index. */
static void
rollout_domain(struct rollout *r)
{
	const cJSON *it, *st;
	long long ms;
	double lo = 0, hi = 0, pad;
	size_t i = 0;
	int timed = r->n > 0, steps_timed = 0;

	cJSON_ArrayForEach(it, r->ivs) {
		if (parse_ms(get_str(it, "at"), &ms))
			r->x[i] = (double)ms;
		else
			timed = 0;
		i++;
	}
	if (!timed)
		for (i = 0; i < r->n; i++)
			r->x[i] = (double)i;
	for (i = 0; i < r->n; i++) {
		lo = i == 0 || r->x[i] < lo ? r->x[i] : lo;
		hi = i == 0 || r->x[i] > hi ? r->x[i] : hi;
	}
	if (timed) {
		cJSON_ArrayForEach(st, get_arr(r->sec, "steps")) {
			if (parse_ms(get_str(st, "started_at"), &ms)) {
				lo = ms < lo ? (double)ms : lo;
				hi = ms > hi ? (double)ms : hi;
				steps_timed = 1;
			}
			if (parse_ms(get_str(st, "ended_at"), &ms))
				hi = ms > hi ? (double)ms : hi;
		}
	}
	r->stepx = steps_timed ? get_arr(r->sec, "steps") : NULL;
	pad = timed ? (hi - lo) * 0.04 : 0.5;
	if (timed && pad < 200)
		pad = 200;
	r->c.timed = timed;
	r->c.x0 = timed ? lo : -0.5;
	r->c.x1 = timed ? hi + pad : (double)(r->n ? r->n : 1) - 0.5;
}

static void
legend(struct buf *b, const char *cmp, int baseline)
{
	buf_adds(b, "<div class=\"legend\">"
	    "<span><svg viewBox=\"0 0 26 10\"><line class=\"s-canary\" x1=\"0\" y1=\"5\" x2=\"26\" "
	    "y2=\"5\"/></svg>canary</span>");
	buf_addf(b, "<span><svg viewBox=\"0 0 26 10\"><line class=\"s-%s\" x1=\"0\" y1=\"5\" "
	    "x2=\"26\" y2=\"5\"/></svg>%s</span>", cmp, cmp);
	if (baseline && strcmp(cmp, "baseline") != 0)
		buf_adds(b, "<span><svg viewBox=\"0 0 26 10\"><line class=\"s-baseline\" x1=\"0\" "
		    "y1=\"5\" x2=\"26\" y2=\"5\"/></svg>baseline</span>");
	buf_adds(b, "<span><svg viewBox=\"0 0 26 10\"><line class=\"thr\" x1=\"0\" y1=\"5\" "
	    "x2=\"26\" y2=\"5\"/></svg>threshold</span>"
	    "<span><svg viewBox=\"0 0 26 10\"><circle class=\"fail\" cx=\"13\" cy=\"5\" r=\"4\"/>"
	    "</svg>failed measurement</span></div>\n");
}

/* The canary's share of traffic: a step line from each step's start (or
 * each measurement), to the weight the rollout left. */
static void
weight_chart(struct buf *b, struct rollout *r)
{
	const cJSON *steps = get_arr(r->sec, "steps"), *st, *it;
	size_t ns = (size_t)cJSON_GetArraySize(steps), cap = (r->n > ns ? r->n : ns) + 1;
	double *px = xcalloc(cap, sizeof(double)), *pw = xcalloc(cap, sizeof(double));
	double fin = get_num(get_obj(r->sec, "weights"), "canary"), xmax = r->c.x0;
	struct chart c = r->c;
	size_t k = 0, i;
	long long ms;

	c.y0 = 0;
	c.y1 = 100;
	if (r->stepx) {
		cJSON_ArrayForEach(st, r->stepx)
			if (parse_ms(get_str(st, "started_at"), &ms) && isfinite(get_num(st, "weight"))) {
				px[k] = (double)ms;
				pw[k++] = get_num(st, "weight");
			}
	} else if (r->n) {
		i = 0;
		cJSON_ArrayForEach(it, r->ivs) {
			px[k] = r->x[i++];
			pw[k] = get_num(it, "weight");
			k += isfinite(pw[k]) != 0;
		}
	} else {
		/* Nothing measured: the plan, one step a slot. */
		cJSON_ArrayForEach(st, steps) {
			px[k] = (double)k;
			pw[k++] = get_num(st, "weight");
		}
		c.x0 = -0.5;
		c.x1 = (double)(k ? k : 1) - 0.5;
	}
	for (i = 0; i < k; i++)
		xmax = px[i] > xmax ? px[i] : xmax;
	for (i = 0; i < r->n; i++)
		xmax = r->x[i] > xmax ? r->x[i] : xmax;
	if ((r->n || r->stepx) && isfinite(fin) && fin >= 0 && k < cap) {
		px[k] = xmax;
		pw[k++] = fin;
	}
	buf_adds(b, "<figure>\n<figcaption><b>canary weight</b>");
	if (!r->n)
		buf_adds(b, " <span class=\"muted\">(planned steps: nothing was measured)</span>");
	buf_adds(b, "</figcaption>\n");
	chart_frame(b, &c, "%", "canary weight over time");
	if (k) {
		struct buf path = BUF_INIT;
		double right = r->n || r->stepx ? c.x1 : px[k - 1] + 0.5;

		for (i = 0; i < k; i++) {
			double y = ypos(&c, isfinite(pw[i]) ? pw[i] : 0);

			buf_addf(&path, i ? "H%.1f V%.1f " : "M%.1f %.1f ", xpos(&c, px[i]), y);
		}
		buf_addf(&path, "H%.1f", xpos(&c, right));
		buf_addf(b, "<path class=\"w-area\" d=\"%s V%.1f H%.1f Z\"/>\n", buf_str(&path),
		    ypos(&c, 0), xpos(&c, px[0]));
		buf_addf(b, "<path class=\"%s\" d=\"%s\"/>\n", r->n || r->stepx ? "w-line" : "w-plan",
		    buf_str(&path));
		buf_free(&path);
		for (i = 0; i < k; i++)
			if (isfinite(pw[i]) && (i == 0 || pw[i] != pw[i - 1]))
				buf_addf(b, "<text class=\"w-l\" x=\"%.1f\" y=\"%.1f\">%g%%</text>\n",
				    xpos(&c, px[i]) + 3, ypos(&c, pw[i]) - 4, pw[i]);
	}
	i = 0;
	cJSON_ArrayForEach(it, r->ivs) {
		double w = get_num(it, "weight");

		if (interval_failed(it))
			fail_dot(b, &c, r->x[i], isfinite(w) ? w : 0, NULL);
		i++;
	}
	buf_adds(b, "</svg>\n</figure>\n");
	free(px);
	free(pw);
}

/* One metric: canary, stable (or baseline), the bounds as lines.  Drawn
 * only when it has a number. */
static void
metric_chart(struct buf *b, struct rollout *r, const char *name)
{
	const cJSON *th = get_obj(get_obj(get_obj(r->sec, "analysis"), "metrics"), name);
	const cJSON *it, *m, *last = NULL;
	const char *unit = get_str(th, "unit"), *src = get_str(th, "source"), *cmp = "stable";
	double *ca = r->v, *st = r->v + r->n, *bl = r->v + 2 * r->n;
	double max = get_num(th, "max"), inc = get_num(th, "max_increase");
	double lo = 0, hi = 0, lastc = NAN, lasts = NAN;
	struct chart c = r->c;
	size_t i = 0, nfail = 0, njudged = 0;
	int any = 0, has_bl = 0;
	char t[64];

	cJSON_ArrayForEach(it, r->ivs) {
		const char *vs, *verdict;

		m = get_obj(get_obj(it, "metrics"), name);
		ca[i] = get_num(m, "canary");
		st[i] = get_num(m, "stable");
		bl[i] = get_num(m, "baseline");
		if (!src)
			src = get_str(m, "source");
		if ((vs = get_str(m, "versus")) != NULL && strcmp(vs, "baseline") == 0)
			cmp = "baseline";
		if ((verdict = get_str(m, "verdict")) != NULL && strcmp(verdict, "inconclusive")) {
			njudged++;
			nfail += strcmp(verdict, "fail") == 0;
		}
		if (isfinite(ca[i]))
			lastc = ca[i];
		if (isfinite(st[i]))
			lasts = st[i];
		if (m)
			last = m;
		has_bl |= isfinite(bl[i]);
		i++;
	}
	for (i = 0; i < 3 * r->n; i++) {
		if (!isfinite(r->v[i]))
			continue;
		lo = !any || r->v[i] < lo ? r->v[i] : lo;
		hi = !any || r->v[i] > hi ? r->v[i] : hi;
		any = 1;
	}
	if (!any)
		return;
	/* The bounds are in view: a line drawn off the chart says nothing. */
	for (i = 0; isfinite(inc) && i < r->n; i++)
		if (isfinite(st[i]) && st[i] + inc > hi)
			hi = st[i] + inc;
	if (isfinite(max))
		hi = max > hi ? max : hi;
	c.y0 = lo < 0 ? -nice_top(-lo) : 0;
	c.y1 = nice_top(hi * 1.08);
	if (c.y1 <= c.y0)
		c.y1 = c.y0 + 1;

	buf_adds(b, "<figure>\n<figcaption><b>");
	esc(b, name);
	buf_adds(b, "</b>");
	if (src) {
		buf_adds(b, " <span class=\"muted\">(");
		esc(b, src);
		buf_adds(b, ")</span>");
	}
	val_text(lastc, unit, t, sizeof(t));
	buf_adds(b, SEP "last: canary ");
	esc(b, t);
	if (isfinite(lasts)) {
		val_text(lasts, unit, t, sizeof(t));
		buf_addf(b, ", %s ", cmp);
		esc(b, t);
	}
	if (isfinite(max)) {
		bound_text(max, unit, t, sizeof(t));
		buf_adds(b, SEP "<span class=\"bad\">max ");
		esc(b, t);
		buf_adds(b, "</span>");
	}
	if (isfinite(inc)) {
		bound_text(inc, unit, t, sizeof(t));
		buf_addf(b, SEP "<span class=\"bad\">at most %s + ", cmp);
		esc(b, t);
		buf_adds(b, "</span>");
	}
	if (njudged)
		buf_addf(b, SEP "<span class=\"%s\">%zu of %zu measurements failed</span>",
		    nfail ? "bad" : "ok", nfail, njudged);
	if (last && get_str(last, "why")) {
		buf_adds(b, "<br><span class=\"muted\">");
		esc(b, get_str(last, "why"));
		buf_adds(b, "</span>");
	}
	buf_adds(b, "</figcaption>\n");
	snprintf(t, sizeof(t), "%.40s over time", name);
	chart_frame(b, &c, unit, t);
	if (isfinite(max)) {
		bound_text(max, unit, t, sizeof(t));
		/* The label on the left: the rollout's start is where values
		 * are low, its end where they may cross the line. */
		buf_addf(b, "<line class=\"thr\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
		    "<text class=\"thr-l\" x=\"%d\" y=\"%.1f\">max ", CL, ypos(&c, max), CR,
		    ypos(&c, max), CL + 4, ypos(&c, max) - 4);
		esc(b, t);
		buf_adds(b, "</text>\n");
	}
	if (isfinite(inc)) {
		double *lim = xcalloc(r->n ? r->n : 1, sizeof(double));

		for (i = 0; i < r->n; i++)
			lim[i] = isfinite(st[i]) ? st[i] + inc : NAN;
		buf_adds(b, "<g class=\"thr\">");
		series(b, &c, r->x, lim, r->n, "limit", NULL, 0);
		buf_adds(b, "</g>\n");
		free(lim);
	}
	series(b, &c, r->x, st, r->n, cmp, unit, 1);
	if (has_bl)
		series(b, &c, r->x, bl, r->n, "baseline", unit, 1);
	series(b, &c, r->x, ca, r->n, "canary", unit, 1);
	i = 0;
	cJSON_ArrayForEach(it, r->ivs) {
		const char *verdict;

		m = get_obj(get_obj(it, "metrics"), name);
		verdict = get_str(m, "verdict");
		if (verdict && strcmp(verdict, "fail") == 0)
			fail_dot(b, &c, r->x[i], isfinite(ca[i]) ? ca[i] : isfinite(st[i]) ? st[i] : 0,
			    get_str(m, "why"));
		i++;
	}
	buf_adds(b, "</svg>\n</figure>\n");
}

static void
steps_list(struct buf *b, const cJSON *steps)
{
	const cJSON *st;
	long long v;
	size_t k = 0;

	if (!steps || !steps->child)
		return;
	buf_adds(b, "<ol class=\"steps\">\n");
	cJSON_ArrayForEach(st, steps) {
		double w = get_num(st, "weight");

		if (k++ >= HTML_MAX_ROWS)
			break;
		buf_adds(b, "<li>");
		if (isfinite(w))
			buf_addf(b, "<b>%g%%</b>", w);
		if (get_str(st, "pause")) {
			buf_adds(b, "<span class=\"muted\">pause ");
			esc(b, get_str(st, "pause"));
			buf_adds(b, "</span> ");
		}
		pill(b, get_str(st, "status"));
		if (get_int(st, "requests", &v))
			buf_addf(b, " <span class=\"muted\">%lld requests</span>", v);
		buf_adds(b, "</li>\n");
	}
	buf_adds(b, "</ol>\n");
}

static void
canary_facts(struct buf *b, const cJSON *sec)
{
	const cJSON *slots = get_obj(sec, "slots"), *an = get_obj(sec, "analysis");
	const cJSON *w = get_obj(sec, "weights");
	long long f, lim;
	char t[64];

	buf_adds(b, "<dl class=\"kv\">\n");
	kv_text(b, "app", get_str(sec, "app"));
	kv_code(b, "image", get_str(sec, "image"));
	if (slots) {
		kv_begin(b, "slots");
		buf_adds(b, "stable <b>");
		esc(b, get_str(slots, "stable"));
		buf_adds(b, "</b>, canary <b>");
		esc(b, get_str(slots, "canary"));
		buf_adds(b, "</b>");
		if (get_str(slots, "baseline")) {
			buf_adds(b, ", baseline <b>");
			esc(b, get_str(slots, "baseline"));
			buf_adds(b, "</b>");
		}
		kv_end(b);
	}
	if (get_str(sec, "verdict")) {
		kv_begin(b, "verdict");
		pill(b, get_str(sec, "verdict"));
		kv_end(b);
	}
	if (get_int(sec, "failures", &f)) {
		kv_begin(b, "failed measurements");
		buf_addf(b, "%lld", f);
		if (get_int(an, "failure_limit", &lim))
			buf_addf(b, " of %lld allowed", lim);
		kv_end(b);
	}
	if (get_str(an, "interval"))
		kv_text(b, "analysis every", get_str(an, "interval"));
	if (w && isfinite(get_num(w, "canary"))) {
		snprintf(t, sizeof(t), "stable %g%%, canary %g%%", get_num(w, "stable"),
		    get_num(w, "canary"));
		kv_text(b, "weights at the end", t);
	}
	kv_num(b, "traffic back on stable in", sec, "rollback_ms", dur_text);
	if (get_str(sec, "rollback_error")) {
		kv_begin(b, "rollback error");
		buf_adds(b, "<span class=\"bad\">");
		esc(b, get_str(sec, "rollback_error"));
		buf_adds(b, "</span>");
		kv_end(b);
	}
	buf_adds(b, "</dl>\n");
}

static void
canary_section(struct buf *b, const cJSON *sec)
{
	const cJSON *it, *m;
	struct rollout r;
	const char **names = NULL;
	const char *cmp = "stable";
	size_t nn = 0, i;
	int baseline;

	canary_facts(b, sec);
	steps_list(b, get_arr(sec, "steps"));
	memset(&r, 0, sizeof(r));
	r.sec = sec;
	r.ivs = get_arr(sec, "intervals");
	r.n = (size_t)cJSON_GetArraySize(r.ivs);
	if (!r.n && !get_arr(sec, "steps"))
		return;
	r.x = xcalloc(r.n + 1, sizeof(double));
	r.v = xcalloc(3 * r.n + 1, sizeof(double));
	rollout_domain(&r);
	baseline = get_str(get_obj(sec, "slots"), "baseline") != NULL;
	cJSON_ArrayForEach(it, r.ivs) {
		cJSON_ArrayForEach(m, get_obj(it, "metrics")) {
			const char *vs = get_str(m, "versus");

			if (vs && strcmp(vs, "baseline") == 0)
				cmp = "baseline";
			for (i = 0; i < nn && strcmp(names[i], m->string) != 0; i++)
				;
			if (i == nn && m->string) {
				names = xrealloc(names, (nn + 1) * sizeof(*names));
				names[nn++] = m->string;
			}
		}
	}
	legend(b, cmp, baseline);
	weight_chart(b, &r);
	for (i = 0; i < nn; i++)
		metric_chart(b, &r, names[i]);
	free(names);
	free(r.x);
	free(r.v);
}

/* --- rollback --- */

struct event {
	long long ms;
	const char *key;
};

static int
event_cmp(const void *a, const void *b)
{
	const struct event *x = a, *y = b;

	return x->ms < y->ms ? -1 : x->ms > y->ms;
}

/* Each "*_at" of the timeline, in order of time, "+offset" from the first. */
static void
timeline(struct buf *b, const cJSON *tl, const cJSON *sec)
{
	const cJSON *v;
	struct event *ev;
	size_t n = 0, i;
	long long ms;
	char c[32], d[32];

	if (!tl || !tl->child)
		return;
	ev = xcalloc((size_t)cJSON_GetArraySize(tl), sizeof(*ev));
	cJSON_ArrayForEach(v, tl) {
		size_t len = v->string ? strlen(v->string) : 0;

		if (len > 3 && strcmp(v->string + len - 3, "_at") == 0 &&
		    cJSON_IsString(v) && parse_ms(v->valuestring, &ms)) {
			ev[n].ms = ms;
			ev[n++].key = v->string;
		}
	}
	qsort(ev, n, sizeof(*ev), event_cmp);
	buf_adds(b, "<h3>Timeline</h3>\n<ol class=\"timeline\">\n");
	for (i = 0; i < n; i++) {
		char *label = xstrndup(ev[i].key, strlen(ev[i].key) - 3);

		clock_text(ev[i].ms, 1, c, sizeof(c));
		buf_addf(b, "<li><time>%s</time>", c);
		status_word(b, label);
		if (i) {
			dur_text(ev[i].ms - ev[0].ms, d, sizeof(d));
			buf_addf(b, " <span class=\"muted\">+%s</span>", d);
		}
		buf_adds(b, "</li>\n");
		free(label);
	}
	if (get_int(tl, "rollback_ms", &ms) || get_int(sec, "rollback_ms", &ms)) {
		dur_text(ms, d, sizeof(d));
		buf_addf(b, "<li><b>rollback took %s</b></li>\n", d);
	}
	buf_adds(b, "</ol>\n");
	free(ev);
}

static void
alerts(struct buf *b, const cJSON *a)
{
	const cJSON *al;
	size_t k = 0, n = (size_t)cJSON_GetArraySize(a);
	long long v;

	if (!n)
		return;
	buf_adds(b, "<h3>Alerts</h3>\n<table>\n<thead><tr><th>Kind</th><th>Target</th>"
	    "<th>Delivered</th><th>At</th><th class=\"num\">Attempts</th><th>Note</th>"
	    "</tr></thead>\n<tbody>\n");
	cJSON_ArrayForEach(al, a) {
		if (k++ >= HTML_MAX_ROWS)
			break;
		buf_adds(b, "<tr><td>");
		esc(b, get_str(al, "kind"));
		buf_adds(b, "</td><td><code>");
		esc(b, get_str(al, "target"));
		buf_adds(b, "</code></td><td>");
		pill(b, cJSON_IsTrue(get(al, "delivered")) ? "delivered" : "not delivered");
		buf_adds(b, "</td><td>");
		esc(b, get_str(al, "at"));
		buf_adds(b, "</td><td class=\"num\">");
		if (get_int(al, "attempts", &v))
			buf_addf(b, "%lld", v);
		buf_adds(b, "</td><td>");
		if (get_str(al, "error")) {
			buf_adds(b, "<span class=\"bad\">");
			esc(b, get_str(al, "error"));
			buf_adds(b, "</span>");
		} else if (get(al, "earlier")) {
			buf_adds(b, "delivered by an earlier run");
		}
		buf_adds(b, "</td></tr>\n");
	}
	rows_left_out(b, n, k > HTML_MAX_ROWS ? HTML_MAX_ROWS : k, 6);
	buf_adds(b, "</tbody></table>\n");
}

/* "v2 (image) on green": a release as the section names it. */
static void
release_text(struct buf *b, const cJSON *r)
{
	const char *v = get_str(r, "version"), *img = get_str(r, "image");
	const char *slot = get_str(r, "slot");

	buf_adds(b, "<b>");
	esc(b, get_str(r, "app"));
	buf_adds(b, get_str(r, "app") && v ? " " : "");
	esc(b, v);
	buf_adds(b, "</b>");
	if (slot) {
		buf_adds(b, " on ");
		esc(b, slot);
	}
	aside(b, "code", "muted", img);
}

static void
rollback_section(struct buf *b, const cJSON *sec)
{
	static const struct field fields[] = {
		{ "ledger", "ledger" }, { "ledger error", "ledger_error" },
		{ "pipeline blocked", "blocked" }, { "block error", "block_error" },
		{ "superseded", "superseded" },
	};
	const cJSON *tr, *rel, *to, *ts;
	long long v;
	char t[64];

	buf_adds(b, "<dl class=\"kv\">\n");
	if (get_str(sec, "outcome")) {
		kv_begin(b, "outcome");
		pill(b, get_str(sec, "outcome"));
		kv_end(b);
	}
	kv_text(b, "note", get_str(sec, "note"));
	if ((rel = get_obj(sec, "release")) != NULL) {
		kv_begin(b, "release");
		release_text(b, rel);
		kv_end(b);
	}
	kv_text(b, "failed stage", get_str(sec, "failed_stage"));
	if ((to = get_obj(sec, "rolled_back_to")) != NULL) {
		kv_begin(b, "rolled back to");
		release_text(b, to);
		kv_end(b);
	}
	if ((tr = get_obj(sec, "traffic")) != NULL) {
		kv_begin(b, "traffic");
		pill(b, cJSON_IsTrue(get(tr, "restored")) ? "restored" : "not restored");
		if (isfinite(get_num(tr, "canary_weight")))
			buf_addf(b, " canary weight %g", get_num(tr, "canary_weight"));
		if (get_int(tr, "attempts", &v))
			buf_addf(b, ", %lld attempt%s", v, v == 1 ? "" : "s");
		if (get_int(tr, "ms", &v)) {
			dur_text(v, t, sizeof(t));
			buf_addf(b, ", %s", t);
		}
		if (cJSON_IsTrue(get(tr, "by_canary")))
			buf_adds(b, ", moved by the canary at its verdict");
		if (get_str(tr, "error") || get_str(tr, "note")) {
			buf_addf(b, "<br><span class=\"%s\">", get_str(tr, "error") ? "bad" : "muted");
			esc(b, get_str(tr, "error") ? get_str(tr, "error") : get_str(tr, "note"));
			buf_adds(b, "</span>");
		}
		kv_end(b);
	}
	KV_FIELDS(b, sec, fields);
	if ((ts = get_obj(sec, "tag_stable")) != NULL) {
		kv_begin(b, "stable tag");
		esc(b, get_str(ts, "tag"));
		aside(b, "span", "bad", get_str(ts, "error"));
		kv_end(b);
	}
	buf_adds(b, "</dl>\n");
	timeline(b, get_obj(sec, "timeline"), sec);
	alerts(b, get_arr(sec, "alerts"));
}

/* --- the page --- */

typedef void section_fn(struct buf *b, const cJSON *sec);

/* The sections we know, in pipeline order: each one the document has
 * gets its heading, then what its function draws. */
static const struct {
	const char *name, *title;
	section_fn *render;
} sections[] = {
	{ "gate", "Gate", gate_section }, { "build", "Image", build_section },
	{ "push", "Push", push_section }, { "deploy", "Deploy", deploy_section },
	{ "smoke", "Smoke tests", smoke_section }, { "canary", "Canary", canary_section },
	{ "rollback", "Rollback", rollback_section },
};

/* The stages "stages" names that no renderer knows: as they are. */
static void
other_sections(struct buf *b, const cJSON *doc)
{
	const cJSON *st, *sec;
	size_t i;

	cJSON_ArrayForEach(st, get_arr(doc, "stages")) {
		const char *name = get_str(st, "name");

		for (i = 0; name && i < sizeof(sections) / sizeof(sections[0]); i++)
			if (strcmp(name, sections[i].name) == 0)
				break;
		if (!name || i < sizeof(sections) / sizeof(sections[0]) ||
		    !(sec = get_obj(doc, name)))
			continue;
		section_open(b, doc, name, name, sec);
		generic(b, sec, 1, "status");
		buf_adds(b, "\n");
		section_close(b);
	}
}

void
html_report_render(struct buf *b, const cJSON *doc)
{
	char *app = app_name(doc);
	const char *version = version_of(doc), *status = get_str(doc, "status");
	size_t i;

	buf_adds(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
	esc(b, app);
	if (version) {
		buf_adds(b, " ");
		esc(b, version);
	}
	buf_adds(b, ": ");
	esc(b, status ? status : "unknown");
	buf_addf(b, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n", css);
	header(b, doc, app, version);
	stages_section(b, doc);
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		const cJSON *sec = get_obj(doc, sections[i].name);

		if (!sec)
			continue;
		section_open(b, doc, sections[i].name, sections[i].title, sec);
		sections[i].render(b, sec);
		section_close(b);
	}
	other_sections(b, doc);
	buf_addf(b, "<footer>ci-tools %s", ci_version);
	if (get_str(get_obj(doc, "run"), "id")) {
		buf_adds(b, SEP "run ");
		esc(b, get_str(get_obj(doc, "run"), "id"));
	}
	buf_adds(b, "</footer>\n</main>\n</body>\n</html>\n");
	free(app);
}

int
html_report_write(const cJSON *doc, const char *path, struct err *e)
{
	struct buf b;
	int rc;

	if (!path || !*path)
		return err_set(e, EX_IOERR_, "cannot write the HTML report: no file named");
	buf_init(&b, HTML_CAP);
	html_report_render(&b, doc);
	if (b.failed)
		rc = err_set(e, EX_IOERR_, "cannot write '%s': the report would pass %u MiB",
		    path, HTML_CAP >> 20);
	else
		rc = output_write(path, b.data, b.len, 0644, e);
	/* Whatever went wrong, the page was not written: an I/O error. */
	if (rc < 0 && e)
		e->code = EX_IOERR_;
	buf_free(&b);
	return rc;
}
