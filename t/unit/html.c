/* Tests for lib/format/html.c: the pipeline document as an HTML page:
 * escaping, sections left out, the canary's charts, the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "core/log.h"
#include "format/html.h"
#include "tap.h"

static char *
render(const char *json)
{
	struct err e = { 0, "" };
	struct json_opts o = { "doc", 0, 0 };
	struct buf b = BUF_INIT;
	cJSON *doc = json_parse(json, strlen(json), &o, NULL, &e);

	if (!doc) {
		printf("# bad test document: %s\n", e.msg);
		return xstrdup("");
	}
	html_report_render(&b, doc);
	cJSON_Delete(doc);
	return buf_detach(&b, NULL);
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (; (hay = strstr(hay, needle)) != NULL; hay += strlen(needle))
		n++;
	return n;
}

/* Case-insensitive: is there "<script" anywhere? */
static int
has_script(const char *s)
{
	for (; *s; s++)
		if (strncasecmp(s, "<script", 7) == 0)
			return 1;
	return 0;
}

/* The d="..." of the first <path class="CLS" after from, as a fresh
 * string. */
static char *
path_of(const char *html, const char *from, const char *cls)
{
	char key[64];
	const char *p, *q;

	snprintf(key, sizeof(key), "<path class=\"%s\" d=\"", cls);
	if (!(html = strstr(html, from)) || !(p = strstr(html, key)))
		return NULL;
	p += strlen(key);
	q = strchr(p, '"');
	return q ? xstrndup(p, (size_t)(q - p)) : NULL;
}

/* The points "Mx y Lx y ..." of a path, into xs and ys; how many. */
static int
points(const char *d, double *xs, double *ys, int max)
{
	int n = 0;
	char *end;

	while (d && *d && n < max) {
		if (*d != 'M' && *d != 'L') {
			d++;
			continue;
		}
		xs[n] = strtod(d + 1, &end);
		ys[n] = strtod(end, &end);
		d = end;
		n++;
	}
	return n;
}

/* What a page must hold, and why. */
struct want {
	const char *text, *name;
};

static void
likes(const char *h, const struct want *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		like(h, w[i].text, "%s", w[i].name);
}

#define LIKES(h, table) likes((h), (table), sizeof(table) / sizeof((table)[0]))

static void
escaping(void)
{
	static const struct want want[] = {
		{ "&lt;script&gt;alert(1)&lt;/script&gt;", "a job named <script> is shown as text" },
		{ "&lt;/pre&gt;&lt;script&gt;x()&lt;/script&gt;", "a log tail cannot close its <pre>" },
		{ "&lt;img src=x onerror=alert(2)&gt;", "an unknown status is shown, escaped" },
		{ "http://a/?q=&quot;&gt;&lt;iframe src=//evil&gt;", "a URL is text, quotes escaped" },
		{ "<span class=\"ver\">1.0 &amp; &quot;x&quot;</span>", "the version escaped" },
		{ "<h1>sh\xC3\xB6p <span", "the app from the canary; control characters dropped" },
		{ "<title>sh\xC3\xB6p 1.0 &amp; &quot;x&quot;: failed</title>",
		  "the title names app, version, status" },
		{ "run r&lt;1&gt;", "the run id in the footer escaped" },
	};
	char *h = render("{\"ci\":1,\"run\":{\"id\":\"r<1>\",\"source\":{\"version\":\"1.0 & \\\"x\\\"\"}},"
	    "\"status\":\"failed\",\"stages\":[{\"name\":\"gate\",\"status\":\"failed\"}],"
	    "\"gate\":{\"status\":\"failed\",\"reason\":\"bad <b>news</b>\",\"jobs\":{"
	    "\"<script>alert(1)</script>\":{\"status\":\"failed\",\"tail\":\"</pre><script>x()</script>\"},"
	    "\"ok\":{\"status\":\"<img src=x onerror=alert(2)>\"}}},"
	    "\"smoke\":{\"status\":\"passed\",\"files\":[{\"entries\":[{\"name\":\"n\",\"method\":\"GET\","
	    "\"url\":\"http://a/?q=\\\"><iframe src=//evil>\",\"status\":\"passed\"}]}]},"
	    "\"canary\":{\"app\":\"sh\\u00f6p\\u0001\",\"status\":\"running\"}}");

	ok(!has_script(h), "no <script> comes through, whatever the document holds");
	ok(!strstr(h, "<img") && !strstr(h, "<iframe") && !strstr(h, "<b>news"),
	    "no element from the document's strings");
	LIKES(h, want);
	free(h);
}

static void
missing(void)
{
	char *h = render("{}");

	like(h, "<!DOCTYPE html>", "an empty document is still a page");
	like(h, "<meta charset=\"utf-8\">", "it says its charset");
	like(h, "<title>pipeline: unknown</title>", "a title without an app or a status");
	is_int(count(h, "<section"), 0, "no section when the document has none");
	ok(!has_script(h) && !strstr(h, "href=") && !strstr(h, "src="),
	    "no script, no link, no source");
	free(h);

	h = render("{\"ci\":1,\"status\":\"running\",\"stages\":[{\"name\":\"gate\",\"status\":\"passed\","
	    "\"started_at\":\"2026-12-05T10:00:00Z\",\"duration_ms\":5230}],"
	    "\"gate\":{\"status\":\"passed\",\"jobs\":{\"lint\":{\"status\":\"passed\",\"duration_ms\":1210}}}}");
	is_int(count(h, "<section"), 2, "a gate alone: the stages and the gate");
	like(h, "<h2>Gate <span class=\"st ok\">\xE2\x9C\x93 passed</span><span class=\"dur\">5.2s</span></h2>",
	    "the status is a symbol and a word, the duration from stages");
	ok(!strstr(h, "Canary") && !strstr(h, "Rollback") && !strstr(h, "Image") &&
	    !strstr(h, "Smoke") && !strstr(h, "Deploy"), "no heading for the sections that are not there");
	free(h);

	h = render("{\"status\":7,\"run\":[1],\"stages\":{\"name\":\"gate\"},\"gate\":\"passed\","
	    "\"build\":{\"image\":[]},\"push\":{\"blobs\":\"many\",\"tags\":{\"a\":1}},"
	    "\"smoke\":{\"files\":{\"x\":1}},\"canary\":{\"steps\":{},\"intervals\":[1,null,{\"at\":5,"
	    "\"metrics\":[]}],\"weights\":\"all\"},\"rollback\":{\"timeline\":[],\"alerts\":{}},"
	    "\"deploy\":[1,2]}");
	ok(strstr(h, "</html>") != NULL, "members of the wrong type: a page all the same");
	ok(!strstr(h, "<h2>Gate"), "a gate that is not an object is left out");
	free(h);
}

/* A canary that rolled back in its second step: 5%, then 25%. */
static const char canary_doc[] =
	"{\"ci\":1,\"status\":\"failed\",\"stages\":[{\"name\":\"canary\",\"status\":\"failed\"}],"
	"\"canary\":{\"status\":\"failed\",\"app\":\"shop\",\"verdict\":\"rollback\","
	"\"reason\":\"error-rate 9.8% > 5%, 3 of 3 failures\","
	"\"slots\":{\"stable\":\"blue\",\"canary\":\"green\",\"baseline\":\"base\"},"
	"\"steps\":[{\"weight\":5,\"status\":\"passed\",\"started_at\":\"2026-12-05T10:04:00.000Z\"},"
	"{\"weight\":25,\"status\":\"running\",\"started_at\":\"2026-12-05T10:05:00.000Z\"},"
	"{\"weight\":100,\"status\":\"pending\"}],"
	"\"analysis\":{\"failure_limit\":3,\"metrics\":{\"error-rate\":{\"source\":\"haproxy\","
	"\"unit\":\"%\",\"max\":5},\"p99\":{\"source\":\"haproxy-log\",\"unit\":\"ms\",\"max\":500}}},"
	"\"intervals\":["
	"{\"at\":\"2026-12-05T10:04:20.000Z\",\"weight\":5,\"metrics\":{\"error-rate\":{\"canary\":0.5,\"stable\":0.4,\"versus\":\"baseline\",\"verdict\":\"pass\"},\"p99\":{\"canary\":180,\"stable\":170,\"verdict\":\"pass\"}}},"
	"{\"at\":\"2026-12-05T10:04:40.000Z\",\"weight\":5,\"metrics\":{\"error-rate\":{\"canary\":0.7,\"stable\":0.3,\"versus\":\"baseline\",\"verdict\":\"pass\"},\"p99\":{\"canary\":190,\"stable\":171,\"verdict\":\"pass\"}}},"
	"{\"at\":\"2026-12-05T10:05:20.000Z\",\"weight\":25,\"metrics\":{\"error-rate\":{\"canary\":6.2,\"stable\":0.4,\"versus\":\"baseline\",\"verdict\":\"fail\",\"why\":\"error-rate 6.2% > 5%\"},\"p99\":{\"canary\":300,\"stable\":172,\"verdict\":\"pass\"}}},"
	"{\"at\":\"2026-12-05T10:05:40.000Z\",\"weight\":25,\"metrics\":{\"error-rate\":{\"canary\":7.5,\"stable\":0.5,\"versus\":\"baseline\",\"verdict\":\"fail\"},\"p99\":{\"canary\":450,\"stable\":170,\"verdict\":\"pass\"}}},"
	"{\"at\":\"2026-12-05T10:06:00.000Z\",\"weight\":25,\"metrics\":{\"error-rate\":{\"canary\":9.8,\"stable\":0.4,\"versus\":\"baseline\",\"verdict\":\"fail\"},\"p99\":{\"canary\":520,\"stable\":173,\"verdict\":\"fail\"}}}],"
	"\"weights\":{\"stable\":100,\"canary\":0},\"failures\":3,\"rollback_ms\":7}}";

static void
chart(void)
{
	static const double err[] = { 0.5, 0.7, 6.2, 7.5, 9.8 };
	char *h = render(canary_doc), *d, *w;
	const char *thr, *p;
	double xs[16], ys[16], ty = -1, first_y;
	int n, i, above = 1;

	is_int(count(h, "<svg class=\"chart\""), 3, "charts: the weight, error-rate, p99");
	like(h, "<b>error-rate</b>", "error-rate has its chart");
	like(h, "max 5%</span>", "the error-rate threshold in the caption");
	like(h, "max 500 ms</span>", "the p99 threshold in its unit");
	like(h, "3 of 5 measurements failed", "failed measurements counted");
	like(h, "last: canary 9.8%, baseline 0.4%", "the stable side is the baseline when it says so");
	is_int(count(h, "<line class=\"thr\""), 2 + 1, "each threshold is a line (and in the legend)");
	is_int(count(h, "<circle class=\"fail\""), 3 + 1 + 3 + 1,
	    "a red dot per failed measurement, on its metric and on the weight (and in the legend)");
	like(h, "<title>failed: error-rate 6.2% &gt; 5%</title>", "a failed dot says why");

	/* error-rate: five points, left to right; over the line exactly
	 * where the value is over 5. */
	d = path_of(h, "<b>error-rate</b>", "s-canary");
	n = points(d, xs, ys, 16);
	is_int(n, 5, "the canary's error rate: one point per measurement");
	thr = strstr(h, "<b>error-rate</b>");
	thr = thr ? strstr(thr, "<line class=\"thr\" x1=\"") : NULL;
	if (thr && (p = strstr(thr, "y1=\"")) != NULL)
		ty = strtod(p + 4, NULL);
	ok(ty > 0, "the threshold line has a height");
	for (i = 0; i < n && i < 5; i++) {
		above &= (err[i] > 5) == (ys[i] < ty);
		if (i)
			above &= xs[i] > xs[i - 1];
	}
	ok(n == 5 && above, "points over the threshold are drawn above its line, in time order");
	ok(n == 5 && xs[1] - xs[0] > 0 && xs[2] - xs[1] > 1.9 * (xs[1] - xs[0]) &&
	    xs[2] - xs[1] < 2.1 * (xs[1] - xs[0]), "x is time: a 40 s gap is twice a 20 s one");
	free(d);

	/* The weight: 5% from the first step, 25% from the second, 0 at the
	 * verdict; a step line. */
	w = path_of(h, "<b>canary weight</b>", "w-line");
	ok(w && w[0] == 'M' && strchr(w, 'H') && strchr(w, 'V'), "the weight is a step line");
	first_y = w ? strtod(strchr(w, ' ') + 1, NULL) : 0;
	p = w ? strchr(w, 'V') : NULL;
	ok(p && strtod(p + 1, NULL) < first_y, "it steps up at the second step");
	p = w ? strrchr(w, 'V') : NULL;
	ok(p && strtod(p + 1, NULL) > first_y, "and ends below where it started: at 0");
	is_int(count(w ? w : "", "V"), 2, "two changes: 5 to 25, 25 to 0");
	like(h, ">25%</text>", "the weights are labelled");
	like(h, "<b>25%</b>", "the steps are listed");
	like(h, "\xE2\x97\x8F running</span>", "with their status");
	free(w);
	free(h);

	/* Nothing measured yet: the planned steps, dashed. */
	h = render("{\"canary\":{\"status\":\"paused\",\"steps\":[{\"weight\":10},{\"weight\":50},"
	    "{\"weight\":100}],\"intervals\":[]}}");
	is_int(count(h, "<svg class=\"chart\""), 1, "no measurement: the weight chart alone");
	like(h, "<path class=\"w-plan\"", "the plan is dashed");
	like(h, "nothing was measured", "and says so");
	free(h);
}

static void
rollback_and_more(void)
{
	static const struct want want[] = {
		{ "\xE2\x9C\x97 rolled back</span>", "the outcome" },
		{ "Rolled back to <b>2.4.0</b>", "the header says where it went" },
		{ "<time>10:06:00.257</time>traffic restored <span class=\"muted\">+7ms</span>",
		  "each entry of the timeline with its time and its offset" },
		{ "rollback took 7ms", "and how long it took" },
		{ "\xE2\x9C\x93 delivered", "an alert delivered" },
		{ "<h3>staging <span class=\"st ok\">", "a deploy environment with its status" },
		{ "deploy &lt;x&gt;", "its members as they are, escaped" },
		{ "<dt>duration_ms</dt><dd>8.4s</dd>", "a *_ms member as a duration" },
		{ "<dd>a, b</dd>", "a list of strings on one line" },
		{ "<h2>audit <span class=\"st ok\">", "a stage we do not know gets a section" },
		{ "<dt>findings</dt><dd>3</dd>", "with its members" },
	};
	char *h = render("{\"status\":\"failed\",\"stages\":[{\"name\":\"rollback\",\"status\":\"failed\"},"
	    "{\"name\":\"audit\",\"status\":\"passed\"}],"
	    "\"rollback\":{\"status\":\"failed\",\"outcome\":\"rolled_back\","
	    "\"rolled_back_to\":{\"version\":\"2.4.0\",\"slot\":\"blue\"},"
	    "\"traffic\":{\"restored\":true,\"attempts\":1},"
	    "\"timeline\":{\"traffic_restored_at\":\"2026-12-05T10:06:00.257Z\","
	    "\"detected_at\":\"2026-12-05T10:06:00.250Z\"},\"rollback_ms\":7,"
	    "\"alerts\":[{\"kind\":\"slack\",\"target\":\"https://hooks.example\",\"delivered\":true}]},"
	    "\"deploy\":{\"staging\":{\"status\":\"passed\",\"command\":\"deploy <x>\",\"duration_ms\":8400,"
	    "\"hosts\":[\"a\",\"b\"],\"extra\":{\"k\":true}}},"
	    "\"audit\":{\"status\":\"passed\",\"findings\":3}}");
	const char *det = strstr(h, "detected</li>"), *res = strstr(h, "traffic restored");

	ok(det && res && det < res, "the timeline in order of time, not of the keys");
	ok(!strstr(h, "href="), "a URL of the document never becomes a link");
	LIKES(h, want);
	free(h);
}

static void
caps(void)
{
	struct buf j = BUF_INIT;
	char *h;
	int i;

	buf_adds(&j, "{\"gate\":{\"status\":\"passed\",\"jobs\":{");
	for (i = 0; i < HTML_MAX_ROWS + 20; i++)
		buf_addf(&j, "%s\"j%d\":{\"status\":\"passed\"}", i ? "," : "", i);
	buf_adds(&j, "}}}");
	h = render(buf_str(&j));
	ok(strstr(h, ">j499<") && !strstr(h, ">j500<"), "a table stops at HTML_MAX_ROWS rows");
	like(h, "and 20 more not shown", "and says how many it left out");
	free(h);
	buf_free(&j);
}

static void
file(void)
{
	struct err e = { 0, "" };
	char dir[] = "/tmp/html-XXXXXX", path[256], blocker[256];
	struct json_opts o = { "doc", 0, 0 };
	cJSON *doc = json_parse(canary_doc, strlen(canary_doc), &o, NULL, &e);
	struct buf b = BUF_INIT;
	char *text;
	size_t len;
	struct stat st;

	ok(mkdtemp(dir) != NULL, "a scratch directory");
	snprintf(path, sizeof(path), "%s/sub/dir/report.html", dir);
	ok(html_report_write(doc, path, &e) == 0, "the page is written, parents made");
	text = read_file(path, HTML_CAP, &len, &e);
	html_report_render(&b, doc);
	ok(text && len == b.len && memcmp(text, b.data, len) == 0, "the file is the page");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644, "readable by all");
	free(text);
	buf_free(&b);

	snprintf(blocker, sizeof(blocker), "%s/file", dir);
	ok(atomic_write(blocker, "x", 1, 0644, &e) == 0, "a file where a directory should be");
	snprintf(path, sizeof(path), "%s/file/report.html", dir);
	memset(&e, 0, sizeof(e));
	ok(html_report_write(doc, path, &e) < 0 && e.code == EX_IOERR_ && strstr(e.msg, "file"),
	    "a page that cannot be written is an I/O error naming the path");
	memset(&e, 0, sizeof(e));
	ok(html_report_write(doc, "", &e) < 0 && e.code == EX_IOERR_, "no file named: an I/O error");
	cJSON_Delete(doc);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	ok(system(path) == 0, "cleaned up");
}

int
main(void)
{
	escaping();
	missing();
	chart();
	rollback_and_more();
	caps();
	file();
	return done_testing();
}
