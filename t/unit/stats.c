/*
 * Unit tests for lib/rollout/stats.c: Fisher's exact test and the
 * Mann-Whitney U test, against values computed independently.
 *
 * Where the reference values come from:
 *   - Fisher: Python, exact rational arithmetic on big integers
 *     (math.comb and the term ratio, summed until what is left is below
 *     1e-30 of the sum), printed to 17 digits; scipy 1.10.1's
 *     fisher_exact(alternative='greater') agrees to 1e-15 on small tables
 *     and to 3e-10 on the million-scale ones (its own rounding), so the
 *     exact value is what is written here.
 *   - Mann-Whitney: scipy 1.10.1's mannwhitneyu(x, y,
 *     alternative='greater', method=...) with the method named on each
 *     row; U checked by counting pairs, and the small exact p-values also
 *     by enumerating every split of the pooled sample.  The generated
 *     samples come from lcg() below, reproduced bit for bit in Python:
 *         s = (s * 6364136223846793005 + 1442695040888963407) % 2**64
 *         value = float((s >> 33) % mod + add)
 *   - Brute force here in C, for every small table and every small
 *     sample: the hypergeometric tail from exact integer binomials, and
 *     the U distribution by enumerating every split.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "rollout/stats.h"

/* Relative tolerances: ours against exact Fisher values, and ours against
 * scipy (which rounds in its own way, e.g. its normal tail). */
#define REL_FISHER	1e-10
#define REL_SCIPY	1e-9

static int
near(double got, double want, double rel)
{
	if (isnan(got))
		return 0;
	if (want == 0)
		return fabs(got) <= rel;
	return fabs(got - want) <= rel * fabs(want);
}

#define is_near(got, want, rel, ...) do { \
	double g_ = (got), w_ = (want); \
	if (!ok(near(g_, w_, (rel)), __VA_ARGS__)) \
		printf("#   got:  %.17g\n#   want: %.17g\n", g_, w_); \
} while (0)

static const struct {
	long long a_err, a_n, b_err, b_n;
	double p;
	const char *what;
} fisher[] = {
	/* Lady tasting tea: 17/70. */
	{ 3, 4, 1, 4, 0.24285714285714285, "tea tasting [[3,1],[1,3]]" },
	{ 1, 100, 0, 100, 0.5, "one canary error, stable clean" },
	{ 1, 10000, 0, 10000, 0.5, "one canary error in 10000, stable clean" },
	{ 1, 10, 0, 1000, 0.0099009900990099011, "one error in a small canary" },
	{ 5, 1000, 0, 1000, 0.031093789258174406, "five canary errors, stable clean" },
	{ 120, 10000, 80, 10000, 0.002724024565539798, "120/10000 against 80/10000" },
	{ 80, 10000, 120, 10000, 0.99826544834300068, "80/10000 against 120/10000" },
	{ 10, 100, 10, 100, 0.5928511035198103, "identical rates, small" },
	{ 1000, 1000000, 1000, 1000000, 0.50892396867220135,
	    "identical rates, a million each" },
	{ 1100, 1000000, 1000, 1000000, 0.01531653887096932,
	    "1100 against 1000 in a million" },
	{ 2000, 1000000, 1000, 1000000, 3.92666688503378e-76,
	    "twice the errors in a million: tiny, not zero" },
	{ 500600, 1000000, 499400, 1000000, 0.04497683099632549,
	    "half of a million failing, 1200 apart" },
	{ 12, 5000, 3, 20000, 1.0018979803674191e-06,
	    "unequal sizes" },
};

/* Refused, degenerate or certain: every one is exactly 1.0. */
static const struct {
	long long a_err, a_n, b_err, b_n;
	const char *what;
} fisher_one[] = {
	{ -1, 10, 0, 10, "negative canary errors" },
	{ 1, -10, 0, 10, "negative canary total" },
	{ 1, 10, -1, 10, "negative stable errors" },
	{ 1, 10, 0, -10, "negative stable total" },
	{ 11, 10, 0, 10, "canary errors above its total" },
	{ 1, 10, 11, 10, "stable errors above its total" },
	{ 0, 0, 5, 100, "empty canary" },
	{ 0, 0, 0, 0, "empty table" },
	{ 0, 100, 0, 100, "no errors at all" },
	{ 0, 100, 5, 100, "canary clean" },
	{ 3, 10, 0, 0, "empty stable" },
	{ 10, 10, 10, 10, "everything failed" },
	{ 1, (1LL << 40) + 1, 0, 10, "canary total above 2^40" },
	{ 1, 10, 0, (1LL << 40) + 1, "stable total above 2^40" },
	{ LLONG_MAX, LLONG_MAX, LLONG_MAX, LLONG_MAX, "LLONG_MAX everywhere" },
	{ LLONG_MIN, 10, 0, 10, "LLONG_MIN errors" },
};

/* C(n, k) exactly, n <= 60. */
static uint64_t
choose(int n, int k)
{
	uint64_t c = 1;
	int i;

	if (k < 0 || k > n)
		return 0;
	for (i = 1; i <= k; i++)
		c = c * (uint64_t)(n - k + i) / (uint64_t)i;
	return c;
}

/* Every table with totals up to 12: the tail from exact binomials. */
static void
fisher_brute(void)
{
	int an, bn, a, b, k, K, N, bad = 0, count = 0;
	uint64_t sum;
	double want, got;

	for (an = 1; an <= 12; an++)
		for (bn = 0; bn <= 12; bn++)
			for (a = 0; a <= an; a++)
				for (b = 0; b <= bn; b++) {
					K = a + b;
					N = an + bn;
					sum = 0;
					for (k = a; k <= K && k <= an; k++)
						sum += choose(K, k) * choose(N - K, an - k);
					want = (double)sum / (double)choose(N, an);
					got = stats_fisher_greater(a, an, b, bn);
					count++;
					if (!near(got, want, 1e-12) && bad++ == 0)
						printf("# [[%d,%d],[%d,%d]]: got %.17g, want %.17g\n",
						    a, an - a, b, bn - b, got, want);
				}
	ok(bad == 0, "fisher: all %d tables with totals <= 12 match exact binomials",
	    count);
}

static uint64_t lcg_s;

static uint64_t
lcg(void)
{
	lcg_s = lcg_s * 6364136223846793005ULL + 1442695040888963407ULL;
	return lcg_s >> 33;
}

static void
gen(double *v, size_t n, uint64_t seed, uint64_t mod, double add)
{
	size_t i;

	lcg_s = seed;
	for (i = 0; i < n; i++)
		v[i] = (double)(lcg() % mod) + add;
}

static double
brute_u(const double *x, size_t nx, const double *y, size_t ny)
{
	double u = 0;
	size_t i, j;

	for (i = 0; i < nx; i++)
		for (j = 0; j < ny; j++)
			u += x[i] > y[j] ? 1 : x[i] == y[j] ? 0.5 : 0;
	return u;
}

/*
 * Every split of 1..m+n into x (m values) and y (n), m, n <= 8: U against
 * counting pairs, and the exact p-value against the share of splits whose
 * U is at least as large.
 */
static void
mwu_brute(void)
{
	double x[8], y[8], pool[16], got, want;
	unsigned hist[65], mask, tot, tail;
	int m, n, i, nx, ny, u, v, badu = 0, badp = 0, count = 0;

	for (m = 1; m <= 8; m++)
		for (n = 1; n <= 8; n++) {
			for (i = 0; i < m + n; i++)
				pool[i] = i + 1;
			memset(hist, 0, sizeof(hist));
			tot = 0;
			for (mask = 0; mask < 1U << (m + n); mask++) {
				if (__builtin_popcount(mask) != m)
					continue;
				for (nx = ny = i = 0; i < m + n; i++)
					if (mask & 1U << i)
						x[nx++] = pool[i];
					else
						y[ny++] = pool[i];
				hist[(int)brute_u(x, nx, y, ny)]++;
				tot++;
			}
			for (mask = 0; mask < 1U << (m + n); mask++) {
				if (__builtin_popcount(mask) != m)
					continue;
				/* Descending order: inputs need not be sorted. */
				for (nx = ny = 0, i = m + n - 1; i >= 0; i--)
					if (mask & 1U << i)
						x[nx++] = pool[i];
					else
						y[ny++] = pool[i];
				u = (int)brute_u(x, nx, y, ny);
				for (tail = 0, v = u; v <= m * n; v++)
					tail += hist[v];
				want = (double)tail / tot;
				count++;
				got = stats_mann_whitney_u(x, nx, y, ny);
				if (got != u && badu++ == 0)
					printf("# %dx%d mask %#x: U %g, want %d\n", m, n,
					    mask, got, u);
				got = stats_mann_whitney_greater(x, nx, y, ny);
				if (!near(got, want, 1e-13) && badp++ == 0)
					printf("# %dx%d mask %#x: p %.17g, want %.17g\n", m, n,
					    mask, got, want);
			}
		}
	ok(badu == 0, "mann-whitney: U of all %d splits with m, n <= 8 counts pairs",
	    count);
	ok(badp == 0, "mann-whitney: exact p of all %d splits matches enumeration",
	    count);
}

/* U with ties and unsorted input against counting pairs. */
static void
mwu_ties_brute(void)
{
	double x[30], y[30];
	int trial, bad = 0;
	size_t nx, ny;

	lcg_s = 42;
	for (trial = 0; trial < 500; trial++) {
		nx = 1 + lcg() % 30;
		ny = 1 + lcg() % 30;
		gen(x, nx, lcg_s, 4, 0);
		gen(y, ny, lcg_s, 5, 0);
		if (stats_mann_whitney_u(x, nx, y, ny) != brute_u(x, nx, y, ny) &&
		    bad++ == 0)
			printf("# trial %d: U %g, want %g\n", trial,
			    stats_mann_whitney_u(x, nx, y, ny), brute_u(x, nx, y, ny));
	}
	ok(bad == 0, "mann-whitney: U with heavy ties counts pairs (500 samples)");
}

static void
mwu_small(void)
{
	const double a[] = { 1, 2, 3 }, b[] = { 4, 5, 6 };
	const double m[] = { 19, 22, 16, 29, 24 }, f[] = { 20, 11, 17, 12 };
	const double tx[] = { 1, 2, 2, 3, 5 }, ty[] = { 2, 3, 3, 4 };
	const double e[] = { 5, 5, 5 };
	const double nx[] = { 1, NAN, 2, 3 }, ny[] = { 4, 5, NAN, 6 };
	const double nan3[] = { NAN, NAN, NAN };
	const double inf[] = { INFINITY }, one2[] = { 1, 2 };

	is_near(stats_mann_whitney_u(a, 3, b, 3), 0, 0, "U {1,2,3} vs {4,5,6} = 0");
	is_near(stats_mann_whitney_greater(a, 3, b, 3), 1, 1e-15,
	    "p {1,2,3} > {4,5,6} = 1 (exact)");
	is_near(stats_mann_whitney_u(b, 3, a, 3), 9, 0, "U {4,5,6} vs {1,2,3} = 9");
	is_near(stats_mann_whitney_greater(b, 3, a, 3), 0.05, 1e-15,
	    "p {4,5,6} > {1,2,3} = 1/20 (exact)");
	is_near(stats_mann_whitney_u(m, 5, f, 4), 17, 0, "U scipy's example = 17");
	is_near(stats_mann_whitney_greater(m, 5, f, 4), 0.055555555555555552,
	    1e-15, "p scipy's example = 1/18 (exact)");

	/* Ties: the normal approximation with tie correction. */
	is_near(stats_mann_whitney_u(tx, 5, ty, 4), 7, 0, "U with ties = 7");
	is_near(stats_mann_whitney_greater(tx, 5, ty, 4), 0.81257142865832999,
	    REL_SCIPY, "p with ties (asymptotic)");
	is_near(stats_mann_whitney_u(ty, 4, tx, 5), 13, 0, "U with ties, reversed = 13");
	is_near(stats_mann_whitney_greater(ty, 4, tx, 5), 0.26308423887807164,
	    REL_SCIPY, "p with ties, reversed (asymptotic)");
	is_near(stats_mann_whitney_u(e, 3, e, 3), 4.5, 0, "U all equal = 4.5");
	is_near(stats_mann_whitney_greater(e, 3, e, 3), 1, 0,
	    "p all equal = 1 (no variance, no evidence)");
	is_near(stats_mann_whitney_u(inf, 1, one2, 2), 2, 0, "U infinity beats all");
	is_near(stats_mann_whitney_greater(inf, 1, one2, 2), 1.0 / 3, 1e-15,
	    "p infinity against two = 1/3 (exact)");
	is_near(stats_mann_whitney_u(inf, 1, inf, 1), 0.5, 0,
	    "U infinity against itself is a tie");

	/* NaN is left out: the same answers as without it. */
	is_near(stats_mann_whitney_u(nx, 4, ny, 4), 0, 0, "U NaNs left out = 0");
	is_near(stats_mann_whitney_greater(nx, 4, ny, 4), 1, 1e-15,
	    "p NaNs left out = 1");
	is_near(stats_mann_whitney_u(ny, 4, nx, 4), 9, 0,
	    "U NaNs left out, reversed = 9");
	is_near(stats_mann_whitney_greater(ny, 4, nx, 4), 0.05, 1e-15,
	    "p NaNs left out, reversed = 1/20");
	is_near(stats_mann_whitney_u(nan3, 3, b, 3), 0, 0, "U all-NaN sample = 0");
	is_near(stats_mann_whitney_greater(nan3, 3, b, 3), 1, 0,
	    "p all-NaN canary = 1");
	is_near(stats_mann_whitney_greater(b, 3, nan3, 3), 1, 0,
	    "p all-NaN stable = 1");

	/* Empty samples. */
	is_near(stats_mann_whitney_greater(b, 0, a, 3), 1, 0, "p empty canary = 1");
	is_near(stats_mann_whitney_greater(b, 3, a, 0), 1, 0, "p empty stable = 1");
	is_near(stats_mann_whitney_greater(NULL, 0, NULL, 0), 1, 0,
	    "p both empty (NULL) = 1");
	is_near(stats_mann_whitney_u(b, 3, NULL, 0), 0, 0, "U empty stable = 0");
}

static void
mwu_generated(void)
{
	static double x[2002], y[2000], xc[2002], yc[2000];

	/* 20 against 20, distinct: the exact path. */
	gen(x, 20, 1, 1000000, 400000);
	gen(y, 20, 2, 1000000, 0);
	is_near(stats_mann_whitney_u(x, 20, y, 20), 294, 0, "U 20 vs 20 = 294");
	is_near(stats_mann_whitney_greater(x, 20, y, 20), 0.005157018766343135,
	    1e-12, "p 20 vs 20 is scipy's exact (not its asymptotic 0.005716)");

	/* 20 against 21: the normal approximation. */
	gen(x, 20, 3, 1000000, 150000);
	gen(y, 21, 4, 1000000, 0);
	is_near(stats_mann_whitney_u(x, 20, y, 21), 309, 0, "U 20 vs 21 = 309");
	is_near(stats_mann_whitney_greater(x, 20, y, 21), 0.0050984513782942253,
	    REL_SCIPY, "p 20 vs 21 is scipy's asymptotic");

	/* 3 against 1000. */
	gen(x, 3, 9, 1000000, 0);
	gen(y, 1000, 10, 1000000, 0);
	is_near(stats_mann_whitney_u(x, 3, y, 1000), 1959, 0, "U 3 vs 1000 = 1959");
	is_near(stats_mann_whitney_greater(x, 3, y, 1000), 0.18005080551151992,
	    REL_SCIPY, "p 3 vs 1000 is scipy's asymptotic");

	/* 2000 against 2000, canary shifted up by 3% of the range. */
	gen(x, 2000, 5, 100000, 3000);
	gen(y, 2000, 6, 100000, 0);
	memcpy(xc, x, sizeof(x));
	memcpy(yc, y, sizeof(y));
	is_near(stats_mann_whitney_u(x, 2000, y, 2000), 2124873, 0,
	    "U 2000 vs 2000 = 2124873");
	is_near(stats_mann_whitney_greater(x, 2000, y, 2000),
	    0.00031385825210627762, REL_SCIPY,
	    "p 2000 vs 2000 is scipy's asymptotic");
	ok(memcmp(x, xc, sizeof(x)) == 0 && memcmp(y, yc, sizeof(y)) == 0,
	    "inputs are not modified");
	is_near(stats_mann_whitney_greater(y, 2000, x, 2000), 0.9996861733339264,
	    REL_SCIPY, "p 2000 vs 2000 reversed is scipy's asymptotic");

	/* The same with two NaNs in the canary: left out, same answer. */
	x[2000] = NAN;
	x[2001] = x[7];
	x[7] = NAN;
	is_near(stats_mann_whitney_u(x, 2002, y, 2000), 2124873, 0,
	    "U 2000 (+2 NaN) vs 2000 = 2124873");
	is_near(stats_mann_whitney_greater(x, 2002, y, 2000),
	    0.00031385825210627762, REL_SCIPY,
	    "p 2000 (+2 NaN) vs 2000 as without them");

	/* Integers 0..50 against 0..49: nearly every value tied. */
	gen(x, 2000, 7, 51, 0);
	gen(y, 2000, 8, 50, 0);
	is_near(stats_mann_whitney_u(x, 2000, y, 2000), 2015630.5, 0,
	    "U 2000 vs 2000 heavy ties = 2015630.5");
	is_near(stats_mann_whitney_greater(x, 2000, y, 2000),
	    0.33429683424894235, REL_SCIPY,
	    "p 2000 vs 2000 heavy ties is scipy's asymptotic (tie-corrected)");
}

int
main(void)
{
	size_t i;
	double p;

	for (i = 0; i < sizeof(fisher) / sizeof(fisher[0]); i++)
		is_near(stats_fisher_greater(fisher[i].a_err, fisher[i].a_n,
		    fisher[i].b_err, fisher[i].b_n), fisher[i].p, REL_FISHER,
		    "fisher %s: %lld/%lld vs %lld/%lld", fisher[i].what,
		    fisher[i].a_err, fisher[i].a_n, fisher[i].b_err, fisher[i].b_n);
	for (i = 0; i < sizeof(fisher_one) / sizeof(fisher_one[0]); i++)
		is_near(stats_fisher_greater(fisher_one[i].a_err, fisher_one[i].a_n,
		    fisher_one[i].b_err, fisher_one[i].b_n), 1, 0,
		    "fisher %s: 1.0", fisher_one[i].what);

	/* At the 2^40 limit: accepted, and far out in the tail. */
	p = stats_fisher_greater(600000, 1LL << 40, 500000, 1LL << 40);
	ok(p >= 0 && p < 1e-100, "fisher at 2^40 each: 600000 vs 500000 errors, p %g",
	    p);
	/* So far out that it underflows: 0, not NaN. */
	is_near(stats_fisher_greater(50000, 1000000, 1000, 1000000), 0, 0,
	    "fisher 50000 vs 1000 in a million: p underflows to 0");
	fisher_brute();

	mwu_small();
	mwu_generated();
	mwu_brute();
	mwu_ties_brute();
	return done_testing();
}
