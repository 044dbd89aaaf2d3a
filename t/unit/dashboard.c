/* Unit tests for lib/rollout/dashboard.c: ci-canary's live panel, checked
 * line by line in plain text, and for width, redraw and bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "core/buf.h"
#include "core/log.h"
#include "rollout/dashboard.h"

#define LINES 13		/* lines of a frame */

/* The view of dashboard.h's picture: step 2 of 4, canary over max_err. */
static void
sample(struct dash_view *v)
{
	memset(v, 0, sizeof(*v));
	v->app = "shop";
	v->image = "registry.example/shop:v2.4.1";
	v->step = 2;
	v->nsteps = 4;
	v->step_left_ms = 80500;
	v->elapsed_ms = 270000;
	v->stable.slot = "blue";
	v->stable.weight = 75;
	v->stable.requests = 1200;
	v->stable.has_err = 1;
	v->stable.err_pct = 0.4;
	v->stable.has_p99 = 1;
	v->stable.p99_ms = 180;
	v->canary.slot = "green";
	v->canary.weight = 25;
	v->canary.requests = 400;
	v->canary.has_err = 1;
	v->canary.err_pct = 6.25;
	v->canary.has_p99 = 1;
	v->canary.p99_ms = 480;
	v->has_max_err = 1;
	v->max_err = 5;
	v->has_max_p99 = 1;
	v->max_p99 = 500;
	v->failures = 1;
	v->failure_limit = 3;
	v->status = "running";
	v->last = "interval 7: error-rate 6.2% (25 of 400 requests) > 5%, 1 of 3 failures";
}

/* A frame as a fresh string; *nl gets dash_render()'s answer. */
static char *
render(const struct dash_view *v, int cols, int color, int prev, int *nl)
{
	struct buf b = BUF_INIT;
	int r = dash_render(&b, v, cols, color, prev);

	if (nl)
		*nl = r;
	return buf_detach(&b, NULL);
}

/* Line i (0-based) of s, a fresh string without its "\n"; "" past the end. */
static char *
line(const char *s, int i)
{
	const char *e;

	for (; i > 0 && s; i--)
		s = (s = strchr(s, '\n')) ? s + 1 : NULL;
	if (!s)
		return xstrdup("");
	e = strchr(s, '\n');
	return xasprintf("%.*s", (int)(e ? e - s : (long)strlen(s)), s);
}

/* What the row of a metric shows after name and value: the sparkline. */
static char *
spark_of(const char *row)
{
	const char *p = strlen(row) > 21 ? row + 21 : "";

	return xstrdup(p);
}

static int
count_str(const char *s, const char *needle)
{
	int k = 0;

	while ((s = strstr(s, needle)) != NULL) {
		k++;
		s += strlen(needle);
	}
	return k;
}

/* Display columns of one line, counted independently of the module:
 * escapes none, the U+2026 and U+25xx glyphs one, other non-ASCII two. */
static int
cols_of(const char *l)
{
	const unsigned char *p = (const unsigned char *)l;
	int c = 0;

	while (*p) {
		if (*p == 033) {
			for (p += 2; *p && (*p < 0x40 || *p > 0x7e); p++)
				;
			if (*p)
				p++;
			continue;
		}
		if (*p < 0x80)
			c += 1;
		else if ((*p & 0xc0) != 0x80)
			c += (p[0] == 0xe2 && (p[1] == 0x96 || (p[1] == 0x80 && p[2] == 0xa6))) ? 1 : 2;
		p++;
	}
	return c;
}

/* The widest line of frame s. */
static int
widest(const char *s)
{
	int i, w = 0, c;
	char *l;

	for (i = 0; i <= LINES; i++) {
		l = line(s, i);
		if ((c = cols_of(l)) > w)
			w = c;
		free(l);
	}
	return w;
}

/* A frame's line i is want (plain, cols 80). */
static void
is_line(const struct dash_view *v, int i, const char *want, const char *name)
{
	char *s = render(v, 80, 0, 0, NULL), *l = line(s, i);

	is_str(l, want, "%s", name);
	free(l);
	free(s);
}

/* The sparkline of the canary's error rate for points (NAN: missing). */
static void
is_spark(const double *pts, int n, int has_max, double max, const char *want,
    const char *name)
{
	struct dash_view v;
	char *s, *l, *sp;
	int i;

	sample(&v);
	v.has_max_err = has_max;
	v.max_err = max;
	for (i = 0; i < n; i++)
		dash_series_push(&v.canary.err, !isnan(pts[i]), pts[i]);
	s = render(&v, 80, 0, 0, NULL);
	l = line(s, 7);
	sp = spark_of(l);
	is_str(sp, want, "sparkline: %s", name);
	free(sp);
	free(l);
	free(s);
}

static void
test_content(void)
{
	struct dash_view v;
	char *s, *l;
	int nl;

	sample(&v);
	s = render(&v, 80, 0, 0, &nl);
	is_int(nl, LINES, "a frame is %d lines", LINES);
	is_int(count_str(s, "\n"), LINES, "and dash_render() counts them");
	ok(strchr(s, 033) == NULL, "no escape sequence without color or redraw");
	free(s);
	is_line(&v, 0, "shop  registry.example/shop:v2.4.1", "app and image");
	is_line(&v, 1, "step 2 of 4  1m20s left  elapsed 4m30s", "phase, time left to the second");
	is_line(&v, 2, "stable 75% (blue)  canary 25% (green)", "weights and slots");
	/* 80 columns: a bar of 60, the canary's quarter on the right. */
	s = render(&v, 80, 0, 0, NULL);
	l = line(s, 3);
	ok(strncmp(l, "  ", 2) == 0 && count_str(l, "░") == 45 && count_str(l, "█") == 15 &&
	    strstr(l, "░█") != NULL && strstr(l, "█░") == NULL,
	    "weight bar: 45 stable cells, then 15 canary cells");
	free(l);
	free(s);
	is_line(&v, 4, "requests  stable 1200  canary 400", "requests");
	is_line(&v, 5, "error rate  max 5.0%", "error threshold");
	is_line(&v, 6, "  stable     0.4%    ", "stable error rate within max: no mark");
	is_line(&v, 7, "  canary     6.2% !  ", "canary error rate over max: marked");
	is_line(&v, 8, "p99 latency  max 500 ms", "p99 threshold");
	is_line(&v, 9, "  stable   180 ms    ", "stable p99");
	is_line(&v, 10, "  canary   480 ms    ", "canary p99 within max");
	is_line(&v, 11, "failures 1 of 3  running", "failures and status");
	is_line(&v, 12, "last: interval 7: error-rate 6.2% (25 of 400 requests) > 5%, 1 of 3 failures",
	    "last verdict");

	v.canary.p99_ms = 1234;
	is_line(&v, 10, "  canary    1.2 s !  ", "p99 over a second, over max");
	v.canary.p99_ms = 999.6;
	is_line(&v, 10, "  canary    1.0 s !  ", "999.6 ms rounds to a second");
	v.canary.p99_ms = 500;
	is_line(&v, 10, "  canary   500 ms    ", "at the threshold is not over it");
	v.has_max_p99 = 0;
	v.canary.p99_ms = 9000;
	is_line(&v, 8, "p99 latency  max -", "no p99 threshold");
	is_line(&v, 10, "  canary    9.0 s    ", "nothing to be over without a threshold");
	v.failures = 3;
	v.status = "extending: too few requests";
	is_line(&v, 11, "failures 3 of 3  extending: too few requests", "status text");
	v.stable.weight = 0;
	v.canary.weight = 100;
	is_line(&v, 2, "stable 0% (blue)  canary 100% (green)", "promoted weights");
	s = render(&v, 80, 0, 0, NULL);
	l = line(s, 3);
	ok(count_str(l, "█") == 60 && count_str(l, "░") == 0, "a full canary bar");
	free(l);
	free(s);
	v.stable.weight = 99;
	v.canary.weight = 1;
	s = render(&v, 80, 0, 0, NULL);
	l = line(s, 3);
	ok(count_str(l, "█") == 1 && count_str(l, "░") == 59, "1%% of traffic still gets a cell");
	free(l);
	free(s);
}

static void
test_spark(void)
{
	static const double half[] = { 0, 2.5, 5 };
	static const double eighths[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	static const double edge[] = { 1, 1.01, 8 };
	static const double gap[] = { 4, NAN, 8 };
	static const double above[] = { 10, 5, 0 };
	static const double zeros[] = { 0, 0 };
	static const double neg[] = { -3, 2 };
	static const double low[] = { 1.5, 1.5 };

	/* The rule of dashboard.h: k = ceil(8 v / top) in 1..8. */
	is_spark(half, 3, 1, 5, "▁▄█", "0, max/2, max");
	is_spark(eighths, 8, 0, 0, "▁▂▃▄▅▆▇█", "eighths of the largest point");
	is_spark(edge, 3, 0, 0, "▁▂█", "top/8 is the lowest block, a bit more the next");
	is_spark(gap, 3, 0, 0, "▄ █", "a missing point is a space");
	is_spark(above, 3, 1, 5, "█▄▁", "a point above max sets the top");
	is_spark(zeros, 2, 0, 0, "▁▁", "zeros and no threshold");
	is_spark(neg, 2, 1, 4, "▁▄", "a negative point is the lowest block");
	is_spark(low, 2, 1, 8, "▂▂", "the threshold sets the top over small points");
	is_spark(NULL, 0, 1, 5, "", "an empty series");
}

static void
test_redraw(void)
{
	struct dash_view v;
	char *s;
	int nl;

	sample(&v);
	s = render(&v, 80, 0, LINES, &nl);
	ok(strncmp(s, "\033[13F\033[Jshop  ", 14) == 0,
	    "redraw: up 13 lines to the first column, clear to the end");
	is_int(nl, LINES, "the prefix adds no line");
	is_int(count_str(s, "\033["), 2, "and no other escape");
	free(s);
	s = render(&v, 80, 0, 0, NULL);
	ok(strncmp(s, "shop  ", 6) == 0, "the first frame has no prefix");
	free(s);
}

static void
test_width(void)
{
	static const int widths[] = { 40, 120, 10, 41, 79 };
	struct dash_view v;
	char *s, *l, *sp;
	size_t i, k;
	int j;

	sample(&v);
	v.image = "registry.example.com/some/long/path/to/the/shop-frontend:v2.4.1-rc.7";
	v.status = "paused: waiting for approval after step 2 (ci-canary --promote)";
	v.step_left_ms = 5 * 3600000LL + 59 * 60000 + 59000;
	v.elapsed_ms = 12 * 3600000LL + 1000;
	v.stable.requests = 123456789012LL;
	v.last = "interval 42: error-rate 61.0% (61 of 100 requests) > 5%, 3 of 3 failures; "
	    "p99 latency 9.9 s > 500 ms; traffic back on stable in 12ms; see the canary "
	    "section of the pipeline document for every measurement";
	for (j = 0; j < 60; j++) {
		dash_series_push(&v.stable.err, 1, j % 7);
		dash_series_push(&v.canary.err, j % 5 != 0, j);
		dash_series_push(&v.stable.p99, 1, 100 + j);
		dash_series_push(&v.canary.p99, 1, 1e6 * j);
	}
	for (i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		int want = widths[i] < 40 ? 40 : widths[i];

		for (k = 0; k < 2; k++) {
			s = render(&v, widths[i], (int)k, 0, NULL);
			/* Long strings fill the width: the widest line is exactly it. */
			ok(widest(s) == want, "cols %d, color %d: no line over %d columns (widest %d)",
			    widths[i], (int)k, want, widest(s));
			free(s);
		}
	}
	s = render(&v, 40, 0, 0, NULL);
	l = line(s, 0);
	ok(cols_of(l) == 40 && strstr(l, "…") && !strncmp(l, "shop  registry", 14),
	    "a long header is cut to 40 columns and ends in an ellipsis");
	free(l);
	l = line(s, 7);
	ok(cols_of(l) == 40 && !strncmp(l, "  canary     6.2% !  ", 21),
	    "at 40 columns the row still shows value and mark");
	free(l);
	free(s);
	s = render(&v, 120, 0, 0, NULL);
	l = line(s, 12);
	ok(cols_of(l) == 120 && strstr(l, "…"), "a long verdict is cut at 120 columns");
	free(l);
	l = line(s, 6);
	is_int(cols_of(l), 21 + DASH_HIST, "at 120 columns a sparkline has all %d points", DASH_HIST);
	free(l);
	free(s);
	s = render(&v, 40, 0, 0, NULL);
	l = line(s, 6);
	sp = spark_of(l);
	ok(cols_of(l) == 40 && cols_of(sp) == 19 && !strstr(l, "…"),
	    "at 40 columns it has the last 19, uncut");
	free(sp);
	free(l);
	free(s);

	/* Wide characters are counted as two columns, never overflow. */
	v.app = "店店店店店店店店店店店店店店店店店店店店店店店店";
	s = render(&v, 40, 0, 0, NULL);
	l = line(s, 0);
	ok(cols_of(l) <= 40 && cols_of(l) >= 38 && strstr(l, "…"), "a wide name is cut at 40 columns");
	free(l);
	free(s);
}

static void
test_empty(void)
{
	struct dash_view v;
	char *s;
	int nl;

	memset(&v, 0, sizeof(v));
	v.image = "";
	v.stable.requests = -1;
	v.canary.requests = -1;
	v.step_left_ms = -1;
	v.elapsed_ms = -1;
	s = render(&v, 80, 1, 0, &nl);
	is_int(nl, LINES, "an empty view still renders %d lines", LINES);
	free(s);
	is_line(&v, 0, "-  -", "no app, no image: '-'");
	is_line(&v, 1, "step - of -  - left  elapsed -", "no step, no times");
	is_line(&v, 2, "stable 0% (-)  canary 0% (-)", "no slots");
	is_line(&v, 4, "requests  stable -  canary -", "unknown requests: '-'");
	is_line(&v, 5, "error rate  max -", "no error threshold");
	is_line(&v, 7, "  canary        -    ", "no error rate");
	is_line(&v, 8, "p99 latency  max -", "no p99 threshold");
	is_line(&v, 10, "  canary        -    ", "no p99");
	is_line(&v, 11, "failures 0 of -  -", "no failure limit, no status");
	is_line(&v, 12, "last: -", "no verdict yet");
	v.canary.has_err = 1;
	v.canary.err_pct = NAN;
	v.canary.has_p99 = 1;
	v.canary.p99_ms = INFINITY;
	is_line(&v, 7, "  canary        -    ", "a NaN error rate: '-'");
	is_line(&v, 10, "  canary        -    ", "an infinite p99: '-'");
}

static void
test_series(void)
{
	struct dash_series s = DASH_SERIES_INIT;
	struct dash_view v;
	char *out, *l, *sp;
	int i, good = 1;

	for (i = 1; i <= DASH_HIST + 10; i++)
		dash_series_push(&s, i != DASH_HIST + 5, i);
	is_int(s.n, DASH_HIST, "a full series keeps %d points", DASH_HIST);
	for (i = 0; i < DASH_HIST; i++)
		good &= s.v[i] == i + 11 && s.has[i] == (i + 11 != DASH_HIST + 5);
	ok(good, "the last %d, oldest first, with their missing point", DASH_HIST);
	dash_series_push(&s, 1, NAN);
	ok(s.n == DASH_HIST && !s.has[DASH_HIST - 1] && s.v[0] == 12, "a NaN point is missing");

	/* 8 pushes of 0 then 8 of max: at 120 columns only the last 40 show. */
	sample(&v);
	for (i = 0; i < DASH_HIST + 8; i++)
		dash_series_push(&v.canary.err, 1, i < 8 ? 0 : 5);
	out = render(&v, 120, 0, 0, NULL);
	l = line(out, 7);
	sp = spark_of(l);
	is_int(count_str(sp, "█"), DASH_HIST, "only the last %d points are drawn", DASH_HIST);
	is_int(count_str(sp, "▁"), 0, "the dropped ones are gone");
	free(sp);
	free(l);
	free(out);
}

static void
test_hostile(void)
{
	struct dash_view v;
	struct buf small;
	char *s, *l;
	int nl;

	sample(&v);
	v.last = "boom\033[2J\nsecond line\r\x9b\xff\xc3(";
	v.canary.slot = "gr\x7f" "een\t";
	s = render(&v, 120, 0, 0, &nl);
	is_int(nl, LINES, "control characters do not add lines");
	is_int(count_str(s, "\n"), LINES, "nor newlines");
	ok(strchr(s, 033) == NULL, "an escape in a string is not passed through");
	free(s);
	is_line(&v, 12, "last: boom?[2J second line ??" "?(", "the verdict line sanitized");
	is_line(&v, 2, "stable 75% (blue)  canary 25% (gr?een )", "a slot sanitized");

	sample(&v);
	s = render(&v, 80, 1, 0, NULL);
	l = line(s, 7);
	like(l, "\033[31m   6.2%\033[m !", "color: over the threshold is red");
	free(l);
	l = line(s, 6);
	like(l, "\033[32m   0.4%\033[m", "color: within it is green");
	free(l);
	free(s);

	buf_init(&small, 100);
	is_int(dash_render(&small, &v, 80, 0, 0), -1, "a buffer cap passed: -1");
	ok(small.failed && small.len == 0, "and the buffer is empty");
	buf_free(&small);
}

int
main(void)
{
	test_content();
	test_spark();
	test_redraw();
	test_width();
	test_empty();
	test_series();
	test_hostile();
	return done_testing();
}
