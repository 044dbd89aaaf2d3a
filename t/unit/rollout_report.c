/* Unit tests for lib/rollout/report.c: the canary section drawn as SVG,
 * checked with xmllint and with our own XML reader. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cJSON.h>

#include "tap.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "format/xml.h"
#include "rollout/report.h"

static char dir[] = "/tmp/rollout-report-t.XXXXXX";
static int have_xmllint;

static char *
path_of(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

/* 1 when xmllint --noout accepts the file (or xmllint is missing). */
static int
wellformed(const char *path)
{
	char *cmd;
	int st;

	if (!have_xmllint)
		return 1;
	cmd = xasprintf("xmllint --noout '%s' 2>/dev/null", path);
	st = system(cmd);
	free(cmd);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static char *
slurp(const char *path)
{
	return read_file(path, 1 << 24, NULL, NULL);
}

/* Elements called name (anywhere below n) whose attribute attr is val
 * (any element called name when attr is NULL). */
static int
count_el(const struct xml_node *n, const char *name, const char *attr, const char *val)
{
	const struct xml_node *c;
	const char *a = attr ? xml_attr(n, attr) : NULL;
	int k = strcmp(n->name, name) == 0 && (!attr || (a && strcmp(a, val) == 0));

	for (c = n->child; c; c = c->next)
		k += count_el(c, name, attr, val);
	return k;
}

/* The number of points of the k-th polyline of class cls, or -1. */
static int
points(const struct xml_node *n, const char *cls, int *k)
{
	const struct xml_node *c;
	const char *p = xml_attr(n, "points"), *a = xml_attr(n, "class");
	int r = 1;

	if (strcmp(n->name, "polyline") == 0 && p && a && strcmp(a, cls) == 0 && (*k)-- == 0) {
		for (; *p; p++)
			r += *p == ' ';
		return r;
	}
	for (c = n->child; c; c = c->next)
		if ((r = points(c, cls, k)) >= 0)
			return r;
	return -1;
}

static int
npoints(const struct xml_node *root, const char *cls, int k)
{
	return root ? points(root, cls, &k) : -1;
}

static int
count_str(const char *s, const char *needle)
{
	int k = 0;

	while (s && (s = strstr(s, needle)) != NULL) {
		k++;
		s += strlen(needle);
	}
	return k;
}

/* Case-insensitive strstr, for "nan" and "inf" in any spelling. */
static int
has_ci(const char *s, const char *needle)
{
	char *l = xstrdup(s), *p;
	int r;

	for (p = l; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	r = strstr(l, needle) != NULL;
	free(l);
	return r;
}

/* A measurement; a value of NONE is left out (NAN goes in as a number). */
#define NONE 12345.678

static cJSON *
metric(const char *source, double canary, double stable, const char *verdict)
{
	cJSON *m = cJSON_CreateObject();

	cJSON_AddStringToObject(m, "source", source);
	if (canary != NONE)
		cJSON_AddNumberToObject(m, "canary", canary);
	if (stable != NONE)
		cJSON_AddNumberToObject(m, "stable", stable);
	cJSON_AddStringToObject(m, "verdict", verdict);
	return m;
}

static cJSON *
interval(cJSON *sec, int step, const char *at, double weight)
{
	cJSON *iv = cJSON_CreateObject();

	cJSON_AddNumberToObject(iv, "step", step);
	cJSON_AddStringToObject(iv, "at", at);
	cJSON_AddNumberToObject(iv, "weight", weight);
	cJSON_AddObjectToObject(iv, "metrics");
	cJSON_AddItemToArray(cJSON_GetObjectItem(sec, "intervals"), iv);
	return cJSON_GetObjectItem(iv, "metrics");
}

static cJSON *
section(const char *app, const char *status, const char *reason)
{
	static const int w[] = { 5, 25, 50, 100 };
	static const char *const st[] = { "passed", "running", "pending", "pending" };
	cJSON *sec = cJSON_CreateObject(), *steps;
	size_t i;

	cJSON_AddStringToObject(sec, "status", status);
	cJSON_AddStringToObject(sec, "app", app);
	cJSON_AddStringToObject(sec, "image", "registry.example/shop:v2");
	if (reason)
		cJSON_AddStringToObject(sec, "reason", reason);
	steps = cJSON_AddArrayToObject(sec, "steps");
	for (i = 0; i < 4; i++) {
		cJSON *s = cJSON_CreateObject();

		cJSON_AddNumberToObject(s, "weight", w[i]);
		cJSON_AddStringToObject(s, "status", st[i]);
		cJSON_AddItemToArray(steps, s);
	}
	cJSON_AddArrayToObject(sec, "intervals");
	return sec;
}

/* Write sec to name; the SVG's text (or NULL) and its parsed tree in *root. */
static char *
render(const cJSON *sec, const char *name, struct xml_node **root, const char *what)
{
	struct err e = { 0, "" };
	char *p = path_of(name), *svg = NULL;
	int rc = rollout_report_svg(sec, p, &e);

	if (!ok(rc == 0, "%s: written", what))
		printf("#   %s\n", e.msg);
	ok(wellformed(p), "%s: xmllint --noout accepts it", what);
	if (rc == 0)
		svg = slurp(p);
	*root = svg ? xml_parse(svg, strlen(svg), p, &e) : NULL;
	ok(*root && strcmp((*root)->name, "svg") == 0 &&
	    strcmp(xml_attr(*root, "xmlns") ? xml_attr(*root, "xmlns") : "",
	    "http://www.w3.org/2000/svg") == 0 &&
	    strcmp(xml_attr(*root, "version") ? xml_attr(*root, "version") : "", "1.1") == 0,
	    "%s: an SVG 1.1 root element", what);
	ok(svg && !has_ci(svg, "<script") && !has_ci(svg, "href") && !has_ci(svg, "url(") &&
	    !has_ci(svg, "@font-face") && !has_ci(svg, "@import"),
	    "%s: no scripts, links or fonts from elsewhere", what);
	free(p);
	return svg;
}

static void
test_rollout(void)
{
	cJSON *sec = section("shop<&>\"'", "failed",
	    "error-rate 21.3% (32 of 150 requests) > 5%, <b>3 of 3</b> failures");
	struct xml_node *r;
	char *svg, *h;
	cJSON *m;

	m = interval(sec, 1, "2026-12-05T07:00:00Z", 5);
	cJSON_AddItemToObject(m, "error-rate", metric("haproxy", 1.5, 0.5, "pass"));
	cJSON_AddItemToObject(m, "p99", metric("haproxy-log", 120, 110, "pass"));
	cJSON_AddItemToObject(m, "health", metric("health", NONE, NONE, "pass"));
	m = interval(sec, 2, "2026-12-05T07:01:00Z", 25);
	cJSON_AddItemToObject(m, "error-rate", metric("haproxy", 9, 0.4, "fail"));
	cJSON_AddItemToObject(m, "p99", metric("haproxy-log", 130, 115, "pass"));
	cJSON_AddItemToObject(m, "health", metric("health", NONE, NONE, "pass"));
	m = interval(sec, 2, "2026-12-05T07:02:00Z", 25);
	cJSON_AddItemToObject(m, "error-rate", metric("haproxy", 21.3, 0.45, "fail"));
	cJSON_AddItemToObject(m, "p99", metric("haproxy-log", NONE, 112, "inconclusive"));
	cJSON_AddItemToObject(m, "health", metric("health", NONE, NONE, "fail"));
	svg = render(sec, "rollout.svg", &r, "a failed rollout");
	like(svg, "shop&lt;&amp;&gt;&quot;&apos; registry.example/shop:v2",
	    "the title has the app, escaped, and the image");
	ok(svg && !strstr(svg, "shop<") && !strstr(svg, "<b>"), "... nothing from the section unescaped");
	like(svg, "status: failed; error-rate 21.3% (32 of 150 requests) &gt; 5%, &lt;b&gt;3 of 3",
	    "the status and the reason, escaped");
	h = xasprintf("height=\"%d\"", 60 + 3 * 160 + 10);
	like(svg, h, "two metric panels with numbers and the weight panel: 3 panels high");
	free(h);
	ok(r && count_el(r, "rect", "stroke", "#999") == 3, "... three frames");
	ok(svg && !strstr(svg, ">health"), "... none for the health check, which has no numbers");
	ok(r && count_el(r, "polyline", "class", "canary") == 2 &&
	    count_el(r, "polyline", "class", "stable") == 2, "a canary and a stable polyline per metric");
	is_int(npoints(r, "canary", 0), 3, "error-rate's canary line: a point an interval");
	is_int(npoints(r, "canary", 1), 2, "p99's: no point where nothing was measured");
	is_int(npoints(r, "weight", 0), 6, "the weight: a step an interval, two points each");
	ok(r && count_el(r, "polyline", "class", "weight") == 1, "one weight line");
	ok(svg && count_str(svg, "<polyline") == 5, "... and no other");
	ok(r && count_el(r, "circle", "fill", "red") == 4,
	    "red dots: error-rate twice, the weight line twice (interval 2 and 3)");
	like(svg, ">error-rate (haproxy)</text>", "the metric's name and source");
	like(svg, ">canary 21.3</tspan>", "... its last canary value");
	like(svg, ">stable 0.45</tspan>", "... and its last stable value");
	like(svg, ">canary 130</tspan>", "p99: the last canary value that was measured");
	like(svg, ">21.3</text>", "the y axis's max");
	like(svg, ">0.4</text>", "... and min");
	like(svg, ">100%</text>", "the weight axis goes to 100%%");
	like(svg, ">#1 2026-12-05T07:00:00Z</text>", "the x axis's first interval");
	like(svg, ">#3 2026-12-05T07:02:00Z</text>", "... and last");
	like(svg, "steps: 5% passed, 25% running, 50% pending, 100% pending", "the steps and their status");
	xml_free(r);
	free(svg);
	cJSON_Delete(sec);
}

static void
test_not_finite(void)
{
	cJSON *sec = section("shop", "running", NULL), *m, *s;
	struct xml_node *r;
	char *svg;

	s = cJSON_GetArrayItem(cJSON_GetObjectItem(sec, "steps"), 2);
	cJSON_ReplaceItemInObject(s, "weight", cJSON_CreateNumber(INFINITY));
	m = interval(sec, 1, "2026-12-05T07:00:00Z", NAN);
	cJSON_AddItemToObject(m, "latency", metric("prometheus", NAN, INFINITY, "inconclusive"));
	cJSON_AddItemToObject(m, "queue", metric("exec", -INFINITY, 3, "fail"));
	m = interval(sec, 1, "2026-12-05T07:01:00Z", 5);
	cJSON_AddItemToObject(m, "latency", metric("prometheus", NAN, -INFINITY, "fail"));
	cJSON_AddItemToObject(m, "queue", metric("exec", 4, NAN, "pass"));
	svg = render(sec, "nan.svg", &r, "NaN and infinities");
	ok(svg && !has_ci(svg, "nan") && !has_ci(svg, "inf"), "no 'nan' or 'inf' anywhere");
	ok(r && count_el(r, "polyline", "class", "canary") == 1 &&
	    count_el(r, "polyline", "class", "stable") == 1,
	    "only queue has numbers: one panel, one point a series");
	ok(npoints(r, "canary", 0) == 1 && npoints(r, "stable", 0) == 1 && npoints(r, "weight", 0) == 2,
	    "... NaN and infinities are no points, on the weight line too");
	ok(svg && !strstr(svg, ">latency"), "latency, all NaN and infinite, has no panel");
	ok(r && count_el(r, "circle", "fill", "red") == 3,
	    "queue's failure marked (with no canary value), and both intervals on the weight line");
	like(svg, "steps: 5% passed, 25% running, ? pending", "an infinite step weight is shown as '?'");
	xml_free(r);
	free(svg);
	cJSON_Delete(sec);
}

static void
test_no_intervals(void)
{
	cJSON *sec = section("shop", "paused", "waiting for approval");
	struct xml_node *r;
	char *svg, *h;

	svg = render(sec, "empty.svg", &r, "no intervals");
	h = xasprintf("height=\"%d\"", 60 + 160 + 10);
	like(svg, h, "... the title and one panel");
	free(h);
	like(svg, "status: paused; waiting for approval", "... the status and reason");
	ok(r && count_el(r, "polyline", "class", "weight") == 1 &&
	    count_el(r, "polyline", "stroke-dasharray", "6,4") == 1 &&
	    count_str(svg, "<polyline") == 1, "... the planned steps as a dashed weight line");
	xml_free(r);
	free(svg);
	cJSON_DeleteItemFromObject(sec, "intervals");
	cJSON_DeleteItemFromObject(sec, "steps");
	svg = render(sec, "bare.svg", &r, "no intervals and no steps");
	ok(svg && count_str(svg, "<polyline") == 0 && strstr(svg, "canary weight"),
	    "... an empty weight panel");
	xml_free(r);
	free(svg);
	cJSON_Delete(sec);
}

/* Long reasons are cut at a character boundary; bad UTF-8 is replaced. */
static void
test_text(void)
{
	struct buf b = BUF_INIT;
	cJSON *sec;
	struct xml_node *r;
	char *svg, *line = NULL, *end;
	int i;

	buf_adds(&b, "x");
	for (i = 0; i < 200; i++)
		buf_adds(&b, "\xc3\xa9");
	sec = section("shop\xff\x01\xc3", "failed", buf_str(&b));
	svg = render(sec, "text.svg", &r, "a long reason, an app that is not UTF-8");
	if (svg && (line = strstr(svg, "status: failed; x")) && (end = strstr(line, "</text>")))
		*end = '\0';
	ok(line && strlen(line) > 100 && strlen(line) < 160 &&
	    strcmp(line + strlen(line) - 5, "\xc3\xa9...") == 0 && !strstr(line, "\xef\xbf\xbd"),
	    "the reason is cut to a line, after a whole character, with '...'");
	ok(svg && strstr(svg, "shop\xef\xbf\xbd") && !strchr(svg, '\x01') && !strchr(svg, '\xff'),
	    "bytes that are not UTF-8 in the app become U+FFFD, control characters go");
	xml_free(r);
	free(svg);
	cJSON_Delete(sec);
	buf_free(&b);
}

static void
test_refused(void)
{
	static const struct {
		const char *json;
		const char *msg;
	} cases[] = {
		{ "[]", "canary section: not an object" },
		{ "\"x\"", "canary section: not an object" },
		{ "{\"intervals\":{}}", "'intervals' is not an array" },
		{ "{\"steps\":7}", "'steps' is not an array" },
		{ "{\"app\":7}", "'app' is not a string" },
		{ "{\"reason\":[]}", "'reason' is not a string" },
		{ "{\"steps\":[{},3]}", "'steps[1]' is not an object" },
		{ "{\"steps\":[{\"weight\":\"5\"}]}", "'steps[0].weight' is not a number" },
		{ "{\"intervals\":[1]}", "'intervals[0]' is not an object" },
		{ "{\"intervals\":[{},{\"at\":1}]}", "'intervals[1].at' is not a string" },
		{ "{\"intervals\":[{\"weight\":true}]}", "'intervals[0].weight' is not a number" },
		{ "{\"intervals\":[{\"metrics\":[]}]}", "'intervals[0].metrics' is not an object" },
		{ "{\"intervals\":[{\"metrics\":{\"e\":5}}]}", "'intervals[0].metrics.e' is not a named object" },
		{ "{\"intervals\":[{\"metrics\":{\"e\":{\"canary\":\"1\"}}}]}",
		  "'intervals[0].metrics.e.canary' is not a number" },
		{ "{\"intervals\":[{\"metrics\":{\"e\":{\"stable\":{}}}}]}",
		  "'intervals[0].metrics.e.stable' is not a number" },
		{ "{\"intervals\":[{\"metrics\":{\"e\":{\"verdict\":0}}}]}",
		  "'intervals[0].metrics.e.verdict' is not a string" },
	};
	char *p = path_of("refused.svg"), *old;
	struct err e;
	size_t i;

	atomic_write(p, "old\n", 4, 0644, NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *j = cJSON_Parse(cases[i].json);

		err_clear(&e);
		ok(j && rollout_report_svg(j, p, &e) == -1 && e.code == EX_INTERNAL,
		    "%s is refused as an internal error", cases[i].json);
		like(e.msg, cases[i].msg, "... saying what is wrong");
		cJSON_Delete(j);
	}
	err_clear(&e);
	ok(rollout_report_svg(NULL, p, &e) == -1 && e.code == EX_INTERNAL, "no section is refused");
	old = slurp(p);
	is_str(old, "old\n", "the file is left as it was");
	free(old);
	free(p);
	err_clear(&e);
	{
		cJSON *sec = section("shop", "passed", NULL);

		ok(rollout_report_svg(sec, NULL, &e) == -1 && e.code == EX_INTERNAL,
		    "no path is refused");
		cJSON_Delete(sec);
	}
}

static void
test_ioerr(void)
{
	cJSON *sec = section("shop", "passed", NULL);
	char *p = path_of("a-file/r.svg"), *old, *f = path_of("a-file");
	struct err e = { 0, "" };

	/* Under a regular file: no directory can be made there. */
	atomic_write(f, "x\n", 2, 0644, NULL);
	free(f);
	ok(rollout_report_svg(sec, p, &e) == -1 && e.code == EX_IOERR_,
	    "a file that cannot be written is an I/O error");
	like(e.msg, p, "... naming the path");
	ok(!path_exists(p), "... and nothing is left behind");
	free(p);
	p = path_of("over.svg");
	atomic_write(p, "old\n", 4, 0644, NULL);
	err_clear(&e);
	ok(rollout_report_svg(sec, p, &e) == 0, "an existing file is replaced");
	old = slurp(p);
	ok(old && strncmp(old, "<?xml", 5) == 0 && strcmp(old + strlen(old) - 7, "</svg>\n") == 0,
	    "... by the whole SVG");
	free(old);
	free(p);
	cJSON_Delete(sec);
}

int
main(void)
{
	char *cmd;

	have_xmllint = system("xmllint --version >/dev/null 2>&1") == 0;
	if (!have_xmllint)
		ok(1, "# skip xmllint not installed: well-formedness by our reader only");
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return done_testing();
	}
	test_rollout();
	test_not_finite();
	test_no_intervals();
	test_text();
	test_refused();
	test_ioerr();
	cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		ok(0, "remove %s", dir);
	free(cmd);
	return done_testing();
}
