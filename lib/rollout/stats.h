/*
 * stats: the statistics of canary analysis, canary against stable (or
 * baseline) over the same interval.
 *
 *   errors   stats_fisher_greater(): the one-sided p-value of Fisher's
 *            exact test that the canary's error ratio is greater than the
 *            stable's (hypergeometric tail, computed in log space so
 *            counts in the millions neither overflow nor underflow).
 *   latency  stats_mann_whitney_greater(): the one-sided p-value of the
 *            Mann-Whitney U test that canary latencies tend to be larger
 *            than stable's; exact (by counting) for small samples, else
 *            the normal approximation with tie and continuity corrections.
 *
 * Pure functions: no allocation visible to the caller, no I/O.  A test
 * that cannot be computed (an empty sample, counts that make no sense,
 * memory that cannot be had) returns 1.0: "no evidence of a regression",
 * which the analysis then treats as inconclusive, never as a pass, through
 * its own sample-size rule.
 *
 * NaN samples are left out, as if never observed (a metric source gives
 * NaN for an empty window); the sizes that count are those without them.
 * The Mann-Whitney p-value is exact when neither sample has more than 20
 * values and no two values are equal, else the normal approximation.
 */
#ifndef CI_ROLLOUT_STATS_H
#define CI_ROLLOUT_STATS_H

#include <stddef.h>

/* P(X >= a_err) under H0 for a 2x2 table: canary a_err of a_n failed,
 * stable b_err of b_n.  Counts are >= 0, errors <= totals and totals
 * <= 2^40; anything else, an empty canary, or no errors at all: 1.0. */
double stats_fisher_greater(long long a_err, long long a_n, long long b_err, long long b_n);

/* One-sided p-value that x (canary) is stochastically greater than y
 * (stable).  Arrays need not be sorted and are not modified; a NULL
 * array is an empty sample. */
double stats_mann_whitney_greater(const double *x, size_t nx, const double *y, size_t ny);

/* The U statistic of x against y: the pairs with x > y, ties counting one
 * half (0 when a sample is empty).  Out of memory: its mean under H0,
 * n1*n2/2, again no evidence either way. */
double stats_mann_whitney_u(const double *x, size_t nx, const double *y, size_t ny);

#endif
