/* rollout/dashboard: ci-canary's live panel (dashboard.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/timeutil.h"
#include "rollout/dashboard.h"

#define RED	"\033[31m"
#define GREEN	"\033[32m"
#define YELLOW	"\033[33m"
#define BOLD	"\033[1m"
#define RESET	"\033[m"
#define MIN_COLS 40
#define BAR_MAX	60		/* columns of the weight bar, at most */
#define VAL_W	7		/* columns of a value: "100.0%", "1234 ms" */
#define ROW_W	21		/* "  canary  " + value + " !" + "  " */
#define ELLIPSIS 0x2026
#define SHADE	0x2591		/* ░, the stable part of the bar */
#define FULL	0x2588		/* █, the canary part, and the top block */

void
dash_series_push(struct dash_series *s, int has, double v)
{
	if (s->n >= DASH_HIST) {
		memmove(s->v, s->v + 1, (DASH_HIST - 1) * sizeof(s->v[0]));
		memmove(s->has, s->has + 1, (DASH_HIST - 1) * sizeof(s->has[0]));
		s->n = DASH_HIST - 1;
	}
	s->v[s->n] = v;
	s->has[s->n] = has && isfinite(v);
	s->n++;
}

/* The length of the well-formed UTF-8 sequence at s (n > 0 bytes left),
 * with its code point in *cp; 0 when it is not well-formed. */
static size_t
u8_dec(const unsigned char *s, size_t n, unsigned long *cp)
{
	static const unsigned long least[] = { 0, 0, 0x80, 0x800, 0x10000 };
	unsigned long c = s[0];
	size_t len, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
	if (len == 0 || len > n || c > 0xf4)
		return 0;
	c &= 0x3fUL >> (len - 1);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < least[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Our glyphs are one column; any other non-ASCII is counted as two, so a
 * wide character never overflows a line (see dashboard.h). */
static int
cp_cols(unsigned long cp)
{
	return cp < 0x80 || cp == ELLIPSIS || (cp >= 0x2580 && cp <= 0x259f) ? 1 : 2;
}

/* The bytes of line s (n bytes, well-formed: built here) whose characters
 * fit in limit columns, escape sequences counting none. */
static size_t
fit(const unsigned char *s, size_t n, int limit)
{
	size_t i = 0, k;
	unsigned long cp;
	int col = 0;

	while (i < n) {
		if (s[i] == 033) {
			/* ESC [ parameters final: the final byte is 0x40..0x7e. */
			for (k = 2; i + k < n && (s[i + k] < 0x40 || s[i + k] > 0x7e); k++)
				;
			i += k + 1 < n - i ? k + 1 : n - i;
			continue;
		}
		if ((k = u8_dec(s + i, n - i, &cp)) == 0)
			k = 1, cp = '?';
		if (col + cp_cols(cp) > limit)
			break;
		col += cp_cols(cp);
		i += k;
	}
	return i;
}

/* Append line ln, cut to cols columns, and "\n" to out; empty ln. */
static void
put_line(struct buf *out, struct buf *ln, int cols, int color, int *nlines)
{
	const unsigned char *s = (const unsigned char *)buf_str(ln);

	if (fit(s, ln->len, cols) == ln->len) {
		buf_add(out, s, ln->len);
	} else {
		buf_add(out, s, fit(s, ln->len, cols - 1));
		buf_add_utf8(out, ELLIPSIS);
		if (color)
			buf_adds(out, RESET);
	}
	buf_addc(out, '\n');
	buf_reset(ln);
	(*nlines)++;
}

/* A string of the view, sanitized (dashboard.h); "-" when NULL or empty. */
static void
add_text(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned long cp;
	size_t n, k;

	if (!s || !*s) {
		buf_addc(b, '-');
		return;
	}
	for (n = strlen(s); n > 0; p += k, n -= k) {
		if ((k = u8_dec(p, n, &cp)) == 0) {
			k = 1;
			buf_addc(b, '?');
		} else if (cp == '\t' || cp == '\n' || cp == '\r') {
			buf_addc(b, ' ');
		} else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			buf_addc(b, '?');	/* C0, DEL, C1: ESC and CSI among them */
		} else {
			buf_add(b, p, k);
		}
	}
}

static void
fmt_pct(char *o, size_t sz, int has, double v)
{
	if (has && isfinite(v))
		snprintf(o, sz, "%.1f%%", v);
	else
		snprintf(o, sz, "-");
}

static void
fmt_ms(char *o, size_t sz, int has, double v)
{
	if (!has || !isfinite(v))
		snprintf(o, sz, "-");
	else if (v < 999.5)
		snprintf(o, sz, "%.0f ms", v);
	else
		snprintf(o, sz, "%.1f s", v / 1000);
}

/* A duration to the second, as format_duration() writes it; "-" if < 0. */
static void
fmt_dur(char *o, size_t sz, long long ms)
{
	if (ms < 0)
		snprintf(o, sz, "-");
	else
		format_duration(ms / 1000 * 1000, o, sz);
}

static void
fmt_count(char *o, size_t sz, long long n)
{
	if (n < 0)
		snprintf(o, sz, "-");
	else
		snprintf(o, sz, "%lld", n);
}

/* The last points of s that fit in width columns, as a sparkline. */
static void
add_spark(struct buf *b, const struct dash_series *s, int has_max, double max,
    int width)
{
	size_t n = s->n < DASH_HIST ? s->n : DASH_HIST, from, i;
	double top = has_max && isfinite(max) ? max : 0, q;

	from = width < 0 ? n : n > (size_t)width ? n - (size_t)width : 0;
	for (i = from; i < n; i++)
		if (s->has[i] && isfinite(s->v[i]) && s->v[i] > top)
			top = s->v[i];
	for (i = from; i < n; i++) {
		if (!s->has[i] || !isfinite(s->v[i])) {
			buf_addc(b, ' ');
			continue;
		}
		/* The least eighth that reaches v; 1e-9 keeps 4.0000000001 a 4. */
		q = top > 0 ? ceil(8 * s->v[i] / top - 1e-9) : 1;
		buf_add_utf8(b, 0x2580 + (q < 1 ? 1 : q > 8 ? 8 : (unsigned long)q));
	}
}

/* One side's row of a metric: name, value (judged against the threshold
 * when both exist), sparkline. */
static void
add_row(struct buf *ln, const char *name, const char *txt, int has, double v,
    int has_max, double max, const struct dash_series *s, int cols, int color)
{
	int judged = has && isfinite(v) && has_max && isfinite(max);
	int over = judged && v > max;

	buf_addf(ln, "  %-6s  ", name);
	if (color && judged)
		buf_adds(ln, over ? RED : GREEN);
	buf_addf(ln, "%*s", VAL_W, txt);
	if (color && judged)
		buf_adds(ln, RESET);
	buf_adds(ln, over ? " !  " : "    ");
	add_spark(ln, s, has_max, max, cols - ROW_W);
}

static int
clamp_pct(int w)
{
	return w < 0 ? 0 : w > 100 ? 100 : w;
}

/* The weights as a bar: stable ░ on the left, canary █ on the right;
 * a weight above 0 gets at least one cell. */
static void
add_bar(struct buf *ln, int sw, int cw, int cols, int color)
{
	int width = cols - 2 < BAR_MAX ? cols - 2 : BAR_MAX, ncan = 0, i;

	if (sw + cw > 0)
		ncan = (width * cw + (sw + cw) / 2) / (sw + cw);
	if (cw > 0 && ncan < 1)
		ncan = 1;
	if (sw > 0 && ncan > width - 1)
		ncan = width - 1;
	buf_adds(ln, "  ");
	for (i = 0; i < width - ncan; i++)
		buf_add_utf8(ln, SHADE);
	if (color && ncan > 0)
		buf_adds(ln, YELLOW);
	for (i = 0; i < ncan; i++)
		buf_add_utf8(ln, FULL);
	if (color && ncan > 0)
		buf_adds(ln, RESET);
}

int
dash_render(struct buf *out, const struct dash_view *v, int cols, int color,
    int prev_lines)
{
	struct buf ln = BUF_INIT;
	const struct dash_side *st = &v->stable, *ca = &v->canary;
	char a[48], b[48];
	int n = 0, sw = clamp_pct(st->weight), cw = clamp_pct(ca->weight);

	if (cols < MIN_COLS)
		cols = MIN_COLS;
	if (prev_lines > 0)
		buf_addf(out, "\033[%dF\033[J", prev_lines);

	if (color)
		buf_adds(&ln, BOLD);
	add_text(&ln, v->app);
	if (color)
		buf_adds(&ln, RESET);
	buf_adds(&ln, "  ");
	add_text(&ln, v->image);
	put_line(out, &ln, cols, color, &n);

	fmt_count(a, sizeof(a), v->step > 0 ? v->step : -1);
	fmt_count(b, sizeof(b), v->nsteps > 0 ? v->nsteps : -1);
	buf_addf(&ln, "step %s of %s  ", a, b);
	fmt_dur(a, sizeof(a), v->step_left_ms);
	fmt_dur(b, sizeof(b), v->elapsed_ms);
	buf_addf(&ln, "%s left  elapsed %s", a, b);
	put_line(out, &ln, cols, color, &n);

	/* The weights before the slots: at 40 columns a long name is cut. */
	buf_addf(&ln, "stable %d%% (", sw);
	add_text(&ln, st->slot);
	buf_addf(&ln, ")  canary %d%% (", cw);
	add_text(&ln, ca->slot);
	buf_addc(&ln, ')');
	put_line(out, &ln, cols, color, &n);
	add_bar(&ln, sw, cw, cols, color);
	put_line(out, &ln, cols, color, &n);

	fmt_count(a, sizeof(a), st->requests);
	fmt_count(b, sizeof(b), ca->requests);
	buf_addf(&ln, "requests  stable %s  canary %s", a, b);
	put_line(out, &ln, cols, color, &n);

	fmt_pct(a, sizeof(a), v->has_max_err, v->max_err);
	buf_addf(&ln, "error rate  max %s", a);
	put_line(out, &ln, cols, color, &n);
	fmt_pct(a, sizeof(a), st->has_err, st->err_pct);
	add_row(&ln, "stable", a, st->has_err, st->err_pct, v->has_max_err,
	    v->max_err, &st->err, cols, color);
	put_line(out, &ln, cols, color, &n);
	fmt_pct(a, sizeof(a), ca->has_err, ca->err_pct);
	add_row(&ln, "canary", a, ca->has_err, ca->err_pct, v->has_max_err,
	    v->max_err, &ca->err, cols, color);
	put_line(out, &ln, cols, color, &n);

	fmt_ms(a, sizeof(a), v->has_max_p99, v->max_p99);
	buf_addf(&ln, "p99 latency  max %s", a);
	put_line(out, &ln, cols, color, &n);
	fmt_ms(a, sizeof(a), st->has_p99, st->p99_ms);
	add_row(&ln, "stable", a, st->has_p99, st->p99_ms, v->has_max_p99,
	    v->max_p99, &st->p99, cols, color);
	put_line(out, &ln, cols, color, &n);
	fmt_ms(a, sizeof(a), ca->has_p99, ca->p99_ms);
	add_row(&ln, "canary", a, ca->has_p99, ca->p99_ms, v->has_max_p99,
	    v->max_p99, &ca->p99, cols, color);
	put_line(out, &ln, cols, color, &n);

	fmt_count(a, sizeof(a), v->failure_limit > 0 ? v->failure_limit : -1);
	if (color && v->failures > 0)
		buf_adds(&ln, v->failure_limit > 0 && v->failures >= v->failure_limit ?
		    RED : YELLOW);
	buf_addf(&ln, "failures %d of %s", v->failures, a);
	if (color && v->failures > 0)
		buf_adds(&ln, RESET);
	buf_adds(&ln, "  ");
	add_text(&ln, v->status);
	put_line(out, &ln, cols, color, &n);

	buf_adds(&ln, "last: ");
	add_text(&ln, v->last);
	put_line(out, &ln, cols, color, &n);

	buf_free(&ln);
	return out->failed ? -1 : n;
}
