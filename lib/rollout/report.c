/* rollout/report: the canary section drawn as an SVG file (report.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "core/log.h"
#include "format/xml.h"
#include "rollout/report.h"

#define WIDTH	900
#define TITLE	60		/* height of the title */
#define PANEL	160		/* height of one panel */
#define PL	70		/* the plot inside a panel: left and right edge, */
#define PR	(WIDTH - 20)
#define PT	28		/* top and bottom, from the panel's top */
#define PB	(PANEL - 30)
#define SVG_CAP	(64u << 20)	/* bytes of SVG, at most */
#define CLIP	120		/* bytes of a reason or a step list shown */

#define C_CANARY "#d95f02"
#define C_STABLE "#1b9e77"
#define C_WEIGHT "#7570b3"

typedef cJSON_bool (*is_fn)(const cJSON *);

/* 0 when key is absent, null or of the right type, else -1 naming it. */
static int
want(const cJSON *o, const char *where, const char *key, is_fn is,
    const char *type, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v || cJSON_IsNull(v) || is(v))
		return 0;
	return err_set(e, EX_INTERNAL, "canary section: '%s%s%s' is not %s",
	    where, *where ? "." : "", key, type);
}

static int
check_section(const cJSON *sec, struct err *e)
{
	static const char *const strs[] = { "app", "image", "status", "reason" };
	const cJSON *it, *m;
	char w[160];
	size_t i;
	int k = 0;

	if (!cJSON_IsObject(sec))
		return err_set(e, EX_INTERNAL, "canary section: not an object");
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (want(sec, "", strs[i], cJSON_IsString, "a string", e) < 0)
			return -1;
	if (want(sec, "", "steps", cJSON_IsArray, "an array", e) < 0 ||
	    want(sec, "", "intervals", cJSON_IsArray, "an array", e) < 0)
		return -1;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(sec, "steps")) {
		snprintf(w, sizeof(w), "steps[%d]", k++);
		if (!cJSON_IsObject(it))
			return err_set(e, EX_INTERNAL, "canary section: '%s' is not an object", w);
		if (want(it, w, "weight", cJSON_IsNumber, "a number", e) < 0 ||
		    want(it, w, "status", cJSON_IsString, "a string", e) < 0)
			return -1;
	}
	k = 0;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(sec, "intervals")) {
		int j = k++;

		snprintf(w, sizeof(w), "intervals[%d]", j);
		if (!cJSON_IsObject(it))
			return err_set(e, EX_INTERNAL, "canary section: '%s' is not an object", w);
		if (want(it, w, "at", cJSON_IsString, "a string", e) < 0 ||
		    want(it, w, "weight", cJSON_IsNumber, "a number", e) < 0 ||
		    want(it, w, "metrics", cJSON_IsObject, "an object", e) < 0)
			return -1;
		cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(it, "metrics")) {
			snprintf(w, sizeof(w), "intervals[%d].metrics.%s", j,
			    m->string ? m->string : "");
			if (!m->string || !cJSON_IsObject(m))
				return err_set(e, EX_INTERNAL, "canary section: '%s' is not a named object", w);
			if (want(m, w, "canary", cJSON_IsNumber, "a number", e) < 0 ||
			    want(m, w, "stable", cJSON_IsNumber, "a number", e) < 0 ||
			    want(m, w, "source", cJSON_IsString, "a string", e) < 0 ||
			    want(m, w, "verdict", cJSON_IsString, "a string", e) < 0)
				return -1;
		}
	}
	return 0;
}

/* The finite number at key, else NAN (never printed: callers test isfinite). */
static double
num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : NAN;
}

static int
failed(const cJSON *m)
{
	const char *v = json_str(m, "verdict");

	return v && strcmp(v, "fail") == 0;
}

/* Interval i of n: off 0 its left edge, 0.5 its middle. */
static double
xmap(size_t i, size_t n, double off)
{
	return PL + ((double)i + off) * (PR - PL) / (double)(n ? n : 1);
}

/* Halves first, so that lo and hi near DBL_MAX do not overflow. */
static double
ymap(int top, double v, double lo, double hi)
{
	double span = hi / 2 - lo / 2, y;

	if (!(span > 0))
		return top + (PT + PB) / 2.0;
	y = top + PB - (v / 2 - lo / 2) / span * (PB - PT);
	return fmin(fmax(y, top + PT), top + PB);
}

/* The smallest and largest finite values; 0 when there are none. */
static int
range(const double *v, size_t n, double *lo, double *hi)
{
	size_t i;
	int any = 0;

	for (i = 0; i < n; i++) {
		if (!isfinite(v[i]))
			continue;
		if (!any || v[i] < *lo)
			*lo = v[i];
		if (!any || v[i] > *hi)
			*hi = v[i];
		any = 1;
	}
	return any;
}

static double
last(const double *v, size_t n)
{
	while (n > 0 && !isfinite(v[n - 1]))
		n--;
	return n ? v[n - 1] : NAN;
}

static void
text(struct buf *b, double x, double y, const char *attrs, const char *s)
{
	buf_addf(b, "<text x=\"%.1f\" y=\"%.1f\"%s>", x, y, attrs);
	xml_escape(b, s);
	buf_adds(b, "</text>\n");
}

/* s escaped, cut to CLIP bytes at a character boundary. */
static void
clipped(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	char *c;

	if (n > CLIP) {
		n = CLIP;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	c = xasprintf("%.*s%s", (int)n, s, s[n] ? "..." : "");
	xml_escape(b, c);
	free(c);
}

/* The finite values of v[0..n) as one polyline; step: across each cell. */
static void
line(struct buf *b, int top, const double *v, size_t n, double lo, double hi,
    int step, const char *attrs)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		double y;

		if (!isfinite(v[i]))
			continue;
		y = ymap(top, v[i], lo, hi);
		buf_adds(b, k++ ? " " : "<polyline fill=\"none\" points=\"");
		if (step)
			buf_addf(b, "%.1f,%.1f %.1f,%.1f", xmap(i, n, 0), y, xmap(i + 1, n, 0), y);
		else
			buf_addf(b, "%.1f,%.1f", xmap(i, n, 0.5), y);
	}
	if (k)
		buf_addf(b, "\" %s/>\n", attrs);
}

static void
dot(struct buf *b, size_t i, size_t n, double y)
{
	buf_addf(b, "<circle class=\"fail\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"red\"/>\n",
	    xmap(i, n, 0.5), y);
}

/* The frame, min and max on the y axis, first and last interval on x. */
static void
axes(struct buf *b, int top, double lo, double hi, const char *unit,
    const cJSON *ivs, size_t n)
{
	const char *a;
	char *s;

	buf_addf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>\n",
	    PL, top + PT, PR - PL, PB - PT);
	buf_addf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.4g%s</text>\n",
	    PL - 6, top + PT + 4, hi, unit);
	buf_addf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.4g%s</text>\n",
	    PL - 6, top + PB + 4, lo, unit);
	if (n == 0)
		return;
	a = json_str(cJSON_GetArrayItem(ivs, 0), "at");
	s = xasprintf("#1 %s", a ? a : "");
	text(b, PL, top + PB + 16, "", s);
	free(s);
	if (n == 1)
		return;
	a = json_str(cJSON_GetArrayItem(ivs, (int)n - 1), "at");
	s = xasprintf("#%zu %s", n, a ? a : "");
	text(b, PR, top + PB + 16, " text-anchor=\"end\"", s);
	free(s);
}

/* The panel of metric name at top, if it has numbers: 1 if drawn, else 0.
 * v has room for 2n values: canary, then stable. */
static int
metric_panel(struct buf *b, int top, const char *name, const cJSON *ivs,
    size_t n, double *v)
{
	const cJSON *it, *m;
	const char *src = NULL;
	double lo = 0, hi = 0, c, s;
	size_t i = 0;

	cJSON_ArrayForEach(it, ivs) {
		m = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(it, "metrics"), name);
		v[i] = num(m, "canary");
		v[n + i] = num(m, "stable");
		if (!src)
			src = json_str(m, "source");
		i++;
	}
	if (!range(v, 2 * n, &lo, &hi))
		return 0;
	buf_addf(b, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">", PL, top + 18);
	xml_escape(b, name);
	if (src) {
		buf_adds(b, " (");
		xml_escape(b, src);
		buf_adds(b, ")");
	}
	buf_addf(b, "</text>\n<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", PR, top + 18);
	if (isfinite(c = last(v, n)))
		buf_addf(b, "<tspan fill=\"%s\">canary %.4g</tspan> ", C_CANARY, c);
	if (isfinite(s = last(v + n, n)))
		buf_addf(b, "<tspan fill=\"%s\">stable %.4g</tspan>", C_STABLE, s);
	buf_adds(b, "</text>\n");
	axes(b, top, lo, hi, "", ivs, n);
	line(b, top, v + n, n, lo, hi, 0, "class=\"stable\" stroke=\"" C_STABLE "\" stroke-width=\"2\"");
	line(b, top, v, n, lo, hi, 0, "class=\"canary\" stroke=\"" C_CANARY "\" stroke-width=\"2\"");
	i = 0;
	cJSON_ArrayForEach(it, ivs) {
		m = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(it, "metrics"), name);
		if (failed(m))
			dot(b, i, n, ymap(top, isfinite(v[i]) ? v[i] : isfinite(v[n + i]) ?
			    v[n + i] : lo, lo, hi));
		i++;
	}
	return 1;
}

/* The canary's weight per interval, a red dot where any metric failed;
 * the planned steps, dashed, when nothing was measured. */
static void
weight_panel(struct buf *b, int top, const cJSON *sec, const cJSON *ivs,
    size_t n, double *v)
{
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(sec, "steps"), *it, *m;
	struct buf t = BUF_INIT;
	size_t i = 0, ns = 0;
	double w;

	cJSON_ArrayForEach(it, steps) {
		const char *st = json_str(it, "status");

		v[ns++] = w = num(it, "weight");
		buf_adds(&t, ns > 1 ? ", " : "steps: ");
		if (isfinite(w))
			buf_addf(&t, "%.4g%%", w);
		else
			buf_adds(&t, "?");
		if (st)
			buf_addf(&t, " %s", st);
	}
	text(b, PL, top + 18, " font-weight=\"bold\"", n ? "canary weight" :
	    "canary weight: planned steps, nothing measured yet");
	buf_addf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", PR, top + 18);
	clipped(b, buf_str(&t));
	buf_adds(b, "</text>\n");
	buf_free(&t);
	axes(b, top, 0, 100, "%", ivs, n);
	if (n == 0) {
		line(b, top, v, ns, 0, 100, 1, "class=\"weight\" stroke=\"" C_WEIGHT
		    "\" stroke-width=\"2\" stroke-dasharray=\"6,4\"");
		return;
	}
	cJSON_ArrayForEach(it, ivs)
		v[i++] = num(it, "weight");
	line(b, top, v, n, 0, 100, 1, "class=\"weight\" stroke=\"" C_WEIGHT "\" stroke-width=\"2\"");
	i = 0;
	cJSON_ArrayForEach(it, ivs) {
		int bad = 0;

		cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(it, "metrics"))
			bad |= failed(m);
		if (bad)
			dot(b, i, n, ymap(top, isfinite(v[i]) ? v[i] : 0, 0, 100));
		i++;
	}
}

static void
header(struct buf *b, const cJSON *sec, int height)
{
	const char *app = json_str(sec, "app"), *image = json_str(sec, "image");
	const char *status = json_str(sec, "status"), *reason = json_str(sec, "reason");

	buf_addf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
	    "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
	    "<title>canary ", WIDTH, height, WIDTH, height);
	xml_escape(b, app ? app : "?");
	buf_adds(b, ": ");
	xml_escape(b, status ? status : "unknown");
	buf_addf(b, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n"
	    "<text x=\"%d\" y=\"24\" font-size=\"16\" font-weight=\"bold\">", WIDTH, height, PL);
	xml_escape(b, app ? app : "?");
	buf_adds(b, " ");
	xml_escape(b, image ? image : "");
	buf_addf(b, "</text>\n<text x=\"%d\" y=\"46\">status: ", PL);
	xml_escape(b, status ? status : "unknown");
	if (reason && *reason) {
		buf_adds(b, "; ");
		clipped(b, reason);
	}
	buf_addf(b, "</text>\n<text x=\"%d\" y=\"46\" text-anchor=\"end\">"
	    "<tspan fill=\"%s\">canary</tspan> <tspan fill=\"%s\">stable</tspan> "
	    "<tspan fill=\"red\">failed</tspan></text>\n", PR, C_CANARY, C_STABLE);
}

int
rollout_report_svg(const cJSON *sec, const char *path, struct err *e)
{
	const cJSON *ivs, *it, *m;
	const char **names = NULL;
	struct buf body, out;
	size_t n, ns, nn = 0, i, panels = 0;
	double *v;
	int rc;

	if (!path || !*path)
		return err_set(e, EX_INTERNAL, "canary report: no file named");
	if (check_section(sec, e) < 0)
		return -1;
	ivs = cJSON_GetObjectItemCaseSensitive(sec, "intervals");
	n = (size_t)cJSON_GetArraySize(ivs);
	ns = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sec, "steps"));
	cJSON_ArrayForEach(it, ivs) {
		cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(it, "metrics")) {
			for (i = 0; i < nn && strcmp(names[i], m->string) != 0; i++)
				;
			if (i == nn) {
				names = xrealloc(names, (nn + 1) * sizeof(*names));
				names[nn++] = m->string;
			}
		}
	}
	v = xcalloc(2 * (n > ns ? n : ns) + 1, sizeof(*v));
	buf_init(&body, SVG_CAP);
	for (i = 0; i < nn; i++)
		panels += metric_panel(&body, TITLE + (int)panels * PANEL, names[i], ivs, n, v);
	weight_panel(&body, TITLE + (int)panels * PANEL, sec, ivs, n, v);
	buf_init(&out, SVG_CAP);
	header(&out, sec, TITLE + (int)(panels + 1) * PANEL + 10);
	buf_add(&out, buf_str(&body), body.len);
	buf_adds(&out, "</svg>\n");
	if (body.failed || out.failed)
		rc = err_set(e, EX_INTERNAL, "canary report: '%s' would pass %u MiB",
		    path, SVG_CAP >> 20);
	else
		rc = output_write(path, out.data, out.len, 0644, e);
	buf_free(&body);
	buf_free(&out);
	free(v);
	free(names);
	return rc;
}
