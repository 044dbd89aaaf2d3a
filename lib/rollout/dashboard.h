/*
 * dashboard: ci-canary's live panel, for standard error on a terminal.
 *
 * The caller keeps a struct dash_view up to date (pushing each interval's
 * error rate and p99 into the sides' series), and after every analysis
 * interval calls dash_render() and writes the bytes to fd 2.  This module
 * only renders: it never writes, never reads the clock, never exits.
 * A frame at 80 columns (the bar is at most 60 wide; a sparkline shows
 * at most cols - 21 points):
 *
 *   shop  registry.example/shop:v2.4.1
 *   step 2 of 4  20s left  elapsed 5m30s
 *   stable 75% (blue)  canary 25% (green)
 *     ░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░███████████████
 *   requests  stable 1202  canary 402
 *   error rate  max 5.0%
 *     stable     0.4%    ▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁
 *     canary     6.0% !  ▁▂▂▂ ▃▄▄▄▅▅▆▆▇█
 *   p99 latency  max 500 ms
 *     stable   180 ms    ▃▃▄▄▃▃▄▄▃▃▄▄▃▃▃
 *     canary   490 ms    ▄▄▄▅▅▆▆▆▇▇█████
 *   failures 2 of 3  running
 *   last: interval 7: error-rate 6.2% (25 of 400 requests) > 5%
 *
 * Numbers: an error rate with one decimal ("12.3%"), a p99 as "480 ms"
 * below a second and "1.2 s" from one, requests as an integer, and "-"
 * for anything unknown (a NULL or empty string, a has_ flag of 0, a
 * negative count or time, NaN).  A value over its threshold (value > max,
 * the rule metrics.c judges by) is followed by " !", and is red when
 * color is on; a value within its threshold is green.
 *
 * Sparklines: one character per point, the newest on the right, as many
 * of the last points as fit (at most DASH_HIST).  A missing point is a
 * space.  The scale top is the larger of the largest point shown and the
 * threshold (when there is one), so a value at the threshold is a full
 * block.  A point v shows the block whose height in eighths of the top is
 * the least that reaches v: k = ceil(8 * v / top), clamped to 1..8, drawn
 * as "▁▂▃▄▅▆▇█"[k - 1].  So 0, top/2 and top draw "▁▄█", anything up to
 * top/8 draws "▁", and a series of zeros with no threshold draws "▁"s.
 *
 * Invariants: every line ends with "\n" and is at most cols display
 * columns (cols clamped to >= 40), escape sequences counted as zero
 * columns; a line that would be longer is cut and ends in "…".  Strings
 * from the view are borrowed and shown sanitized: control characters and
 * invalid UTF-8 become '?' (tabs and newlines a space), so a frame always
 * has the line count dash_render() returns.  Other than ASCII and our own
 * glyphs (▁..█, ░, …), a code point is counted as two columns: a wide
 * character never overflows a line, a narrow one may cut it early.
 */
#ifndef CI_ROLLOUT_DASHBOARD_H
#define CI_ROLLOUT_DASHBOARD_H

#include <stddef.h>

#include "core/buf.h"

#define DASH_HIST 40		/* points kept per series */

/* The last n (<= DASH_HIST) points, v[0] the oldest; has[i] 0: missing. */
struct dash_series {
	double v[DASH_HIST];
	int has[DASH_HIST];
	size_t n;
};

#define DASH_SERIES_INIT { { 0 }, { 0 }, 0 }

/* Append a point, dropping the oldest when the series is full. */
void dash_series_push(struct dash_series *s, int has, double v);

/* One of stable and canary. */
struct dash_side {
	const char *slot;		/* server name, e.g. "blue"; may be NULL */
	int weight;			/* percent */
	long long requests;		/* over the last interval, -1 unknown */
	int has_err;
	double err_pct;			/* percent */
	int has_p99;
	double p99_ms;
	struct dash_series err, p99;	/* history of err_pct and p99_ms */
};

struct dash_view {
	const char *app, *image;	/* may be NULL */
	int step, nsteps;		/* 1-based step; <= 0 unknown */
	long long step_left_ms;		/* time left in the step's pause, -1 none */
	long long elapsed_ms;		/* since the rollout started, -1 unknown */
	struct dash_side stable, canary;
	int has_max_err;
	double max_err;			/* threshold, percent */
	int has_max_p99;
	double max_p99;			/* threshold, ms */
	int failures, failure_limit;	/* failure_limit <= 0 unknown */
	const char *status;		/* "running", "paused", ...; may be NULL */
	const char *last;		/* the last verdict line; may be NULL */
};

/*
 * Append one frame to out.  cols: the terminal's width (clamped to >= 40).
 * color: ANSI SGR colors when nonzero.  prev_lines: the line count the
 * previous frame returned (0 for the first); when nonzero the frame starts
 * with ESC[<prev_lines>F ESC[J, which moves to the start of the previous
 * frame and clears to the end of the screen, so this frame replaces it
 * (a frame taller than the terminal cannot be replaced whole).  Returns the
 * number of lines appended, or -1 when out passed its cap (out is then
 * empty and failed, see core/buf.h).
 */
int dash_render(struct buf *out, const struct dash_view *v, int cols, int color,
    int prev_lines);

#endif
