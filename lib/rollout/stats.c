#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "rollout/stats.h"

/*
 * Counts above this are refused (1.0).  Up to it every count, sum and
 * product below is exact or nearly so in a double, and a tail walk takes
 * at most a few million steps.
 */
#define FISHER_COUNT_MAX	(1LL << 40)

/* A tail stops once what is left is provably below this share of it. */
#define TAIL_REL_EPS		1e-17

/*
 * Exact Mann-Whitney up to this many values a side (and no ties): the
 * counts of the U distribution then stay below C(40,20) < 2^53, exact in
 * a double, and fit in a small array on the stack.
 */
#define MWU_EXACT_MAX		20

#define LN_2PI			1.837877066409345483560659472811

/*
 * log(n!) - log(sqrt(2 pi n) (n/e)^n), the error of Stirling's formula,
 * for n >= 1.  Computed directly instead of as lgamma(n+1) minus the rest
 * because lgamma of a million is about 1.3e7, whose last bit is 2e-9: a
 * difference of such numbers would cost the p-value seven digits.  Small n
 * take lgamma, where the cancellation is harmless; large n the series.
 */
static double
stirlerr(double n)
{
	const double s0 = 1.0 / 12, s1 = 1.0 / 360, s2 = 1.0 / 1260;
	const double s3 = 1.0 / 1680, s4 = 1.0 / 1188;
	double nn = n * n;

	if (n <= 15)
		return lgamma(n + 1) - (n + 0.5) * log(n) + n - 0.5 * LN_2PI;
	if (n > 500)
		return (s0 - s1 / nn) / n;
	if (n > 80)
		return (s0 - (s1 - s2 / nn) / nn) / n;
	if (n > 35)
		return (s0 - (s1 - (s2 - s3 / nn) / nn) / nn) / n;
	return (s0 - (s1 - (s2 - (s3 - s4 / nn) / nn) / nn) / nn) / n;
}

/*
 * x log(x/m) + m - x, the deviance term, for x > 0, m > 0.  Near x == m
 * the two halves cancel, so there it is summed as the series in
 * v = (x-m)/(x+m), which has no cancellation.
 */
static double
bd0(double x, double m)
{
	double v, s, s1, ej;
	int j;

	if (fabs(x - m) < 0.1 * (x + m)) {
		v = (x - m) / (x + m);
		s = (x - m) * v;
		ej = 2 * x * v;
		v *= v;
		for (j = 1; j < 1000; j++) {
			ej *= v;
			s1 = s + ej / (2 * j + 1);
			if (s1 == s)
				return s1;
			s = s1;
		}
		return s;
	}
	return x * log(x / m) + m - x;
}

/*
 * log of the binomial probability of x in n at p (q = 1 - p, passed so
 * that neither is computed as one minus the other), 0 <= x <= n, n >= 1,
 * 0 < p < 1.  Loader's saddle-point form: Stirling errors and deviances,
 * every one a small number, so no large logs cancel.
 */
static double
ldbinom(double x, double n, double p, double q)
{
	double lc, lf;

	if (x == 0)
		return n * (p < 0.5 ? log1p(-p) : log(q));
	if (x == n)
		return n * (q < 0.5 ? log1p(-q) : log(p));
	lc = stirlerr(n) - stirlerr(x) - stirlerr(n - x) -
	    bd0(x, n * p) - bd0(n - x, n * q);
	lf = LN_2PI + log(x) + log1p(-x / n);
	return lc - 0.5 * lf;
}

/*
 * log P(X == k) for X hypergeometric: n drawn from r marked and b
 * unmarked.  The ratio of three binomials at p = n/(r+b): the powers of
 * p and q cancel and leave C(r,k) C(b,n-k) / C(r+b,n).
 */
static double
ldhyper(double k, double r, double b, double n)
{
	double p = n / (r + b), q = (r + b - n) / (r + b);

	return ldbinom(k, r, p, q) + ldbinom(n - k, b, p, q) -
	    ldbinom(n, r + b, p, q);
}

/*
 * P(X == k0) plus its neighbours walking away from the mode (dir +1:
 * up to kmax, -1: down to kmin), as the log of the sum.  Each term comes
 * from the one before by the exact ratio of binomials.  The pmf is
 * log-concave, so away from the mode the ratios only shrink: once the
 * current ratio r is below 1 everything still to come is at most
 * t r / (1 - r), and the walk stops when that cannot show in the sum.
 */
static double
tail_log(double k0, int dir, double K, double N, double n1, double kmin,
    double kmax)
{
	double k, r, s, t;

	s = t = 1;
	for (k = k0; dir > 0 ? k < kmax : k > kmin; k += dir) {
		if (dir > 0)
			r = (K - k) * (n1 - k) / ((k + 1) * (N - K - n1 + k + 1));
		else
			r = k * (N - K - n1 + k) / ((K - k + 1) * (n1 - k + 1));
		t *= r;
		s += t;
		if (r < 1 && t * r <= (1 - r) * s * TAIL_REL_EPS)
			break;
	}
	return ldhyper(k0, K, N - K, n1) + log(s);
}

double
stats_fisher_greater(long long a_err, long long a_n, long long b_err,
    long long b_n)
{
	double a, K, N, n1, kmin, kmax, mode, p;

	if (a_err < 0 || b_err < 0 || a_err > a_n || b_err > b_n ||
	    a_n > FISHER_COUNT_MAX || b_n > FISHER_COUNT_MAX)
		return 1.0;
	a = (double)a_err;
	n1 = (double)a_n;
	K = (double)a_err + (double)b_err;
	N = (double)a_n + (double)b_n;
	/* X, the canary's errors given the margins, lives on [kmin, kmax]. */
	kmin = fmax(0, n1 - (N - K));
	kmax = fmin(K, n1);
	/* An empty canary, no errors at all, or margins that fix X. */
	if (a_n == 0 || K == 0 || kmin >= kmax || a <= kmin)
		return 1.0;

	/*
	 * Sum the short side of the distribution so terms only fall: above
	 * the mode the upper tail itself, else one minus the lower tail
	 * (which is then at least about a half, so nothing is lost).
	 */
	mode = floor((n1 + 1) * (K + 1) / (N + 2));
	if (a > mode)
		p = exp(tail_log(a, 1, K, N, n1, kmin, kmax));
	else
		p = 1 - exp(tail_log(a - 1, -1, K, N, n1, kmin, kmax));
	return p < 0 ? 0 : p > 1 ? 1 : p;
}

/* The Mann-Whitney counts of two samples, NaNs left out. */
struct mwu {
	size_t n1, n2;		/* sizes without the NaNs */
	double u;		/* pairs with x > y, a tie counting one half */
	double ties;		/* sum of t^3 - t over groups of t equal values */
};

static int
cmp_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;

	return (a > b) - (a < b);
}

static size_t
count_valid(const double *v, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		if (!isnan(v[i]))
			c++;
	return c;
}

static size_t
copy_valid(double *dst, const double *v, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		if (!isnan(v[i]))
			dst[c++] = v[i];
	return c;
}

/*
 * Sort copies of both samples and walk them together one group of equal
 * values at a time: each x in a group beats the y already passed and ties
 * the y in the group.  That is U in O((n1+n2) log(n1+n2)) without forming
 * ranks, and the groups give the tie correction.  -1 when out of memory
 * (m->n1 and m->n2 are set all the same).
 */
static int
mwu_count(const double *x, size_t nx, const double *y, size_t ny,
    struct mwu *m)
{
	double *xs, *ys, v;
	size_t i, j, cx, cy, t;

	if (x == NULL)
		nx = 0;
	if (y == NULL)
		ny = 0;
	m->n1 = count_valid(x, nx);
	m->n2 = count_valid(y, ny);
	m->u = 0;
	m->ties = 0;
	if (m->n1 == 0 || m->n2 == 0)
		return 0;
	if (m->n1 > SIZE_MAX / sizeof(double) - m->n2)
		return -1;
	xs = malloc((m->n1 + m->n2) * sizeof(double));
	if (xs == NULL)
		return -1;
	ys = xs + m->n1;
	copy_valid(xs, x, nx);
	copy_valid(ys, y, ny);
	qsort(xs, m->n1, sizeof(double), cmp_double);
	qsort(ys, m->n2, sizeof(double), cmp_double);

	i = j = 0;
	while (i < m->n1 || j < m->n2) {
		if (j == m->n2 || (i < m->n1 && xs[i] < ys[j]))
			v = xs[i];
		else
			v = ys[j];
		for (cx = 0; i + cx < m->n1 && xs[i + cx] == v; cx++)
			;
		for (cy = 0; j + cy < m->n2 && ys[j + cy] == v; cy++)
			;
		/* j values of y lie below v. */
		m->u += (double)cx * ((double)j + 0.5 * (double)cy);
		t = cx + cy;
		if (t > 1)
			m->ties += (double)t * t * t - (double)t;
		i += cx;
		j += cy;
	}
	free(xs);
	return 0;
}

/*
 * P(U >= u) under H0 for samples of m and n values without ties, by
 * counting: the number of orderings with U == k is the coefficient of q^k
 * in the Gaussian binomial [m+n choose m]_q, built as the product over
 * i = 1..m of (1 - q^(n+i)) / (1 - q^i).  After each step the polynomial
 * is [n+i choose i]_q, so every value stays an integer below 2^53.
 */
static double
mwu_exact_sf(size_t m, size_t n, double u)
{
	double c[(MWU_EXACT_MAX + 1) * MWU_EXACT_MAX + 1];
	double tail, total;
	size_t i, k, deg, sz;

	sz = m * n + m + 1;
	for (k = 0; k < sz; k++)
		c[k] = 0;
	c[0] = 1;
	deg = 0;
	for (i = 1; i <= m; i++) {
		/* Times (1 - q^(n+i)), from the top down. */
		for (k = deg + n + i; k >= n + i; k--)
			c[k] -= c[k - (n + i)];
		/* Divided by (1 - q^i): the quotient's terms from the bottom up. */
		for (k = i; k <= deg + n; k++)
			c[k] += c[k - i];
		/* The division is exact; what is above the quotient is spent. */
		for (k = deg + n + 1; k <= deg + n + i; k++)
			c[k] = 0;
		deg += n;
	}
	tail = total = 0;
	for (k = 0; k <= deg; k++) {
		total += c[k];
		if ((double)k >= u)
			tail += c[k];
	}
	return tail / total;
}

double
stats_mann_whitney_u(const double *x, size_t nx, const double *y, size_t ny)
{
	struct mwu m;

	if (mwu_count(x, nx, y, ny, &m) == -1)
		return 0.5 * (double)m.n1 * (double)m.n2;
	return m.u;
}

double
stats_mann_whitney_greater(const double *x, size_t nx, const double *y,
    size_t ny)
{
	struct mwu m;
	double n1, n2, n, var, z, p;

	if (mwu_count(x, nx, y, ny, &m) == -1 || m.n1 == 0 || m.n2 == 0)
		return 1.0;
	if (m.ties == 0 && m.n1 <= MWU_EXACT_MAX && m.n2 <= MWU_EXACT_MAX) {
		/* The distribution is symmetric in m and n: loop on the smaller. */
		if (m.n1 <= m.n2)
			return mwu_exact_sf(m.n1, m.n2, m.u);
		return mwu_exact_sf(m.n2, m.n1, m.u);
	}

	n1 = (double)m.n1;
	n2 = (double)m.n2;
	n = n1 + n2;
	var = n1 * n2 / 12 * ((n + 1) - m.ties / (n * (n - 1)));
	/* Every value equal: U sits on its mean and says nothing. */
	if (!(var > 0))
		return 1.0;
	/* Less a half: the normal tail then also covers the mass at U. */
	z = (m.u - 0.5 * n1 * n2 - 0.5) / sqrt(var);
	p = 0.5 * erfc(z / M_SQRT2);
	return p < 0 ? 0 : p > 1 ? 1 : p;
}
