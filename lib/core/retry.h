/*
 * retry: the one backoff policy for everything that retries (registry
 * transfers, token fetches, ci-smoke's --wait and [Options] retry).
 *
 * Exponential backoff with "equal jitter": attempt k waits half of
 * min(cap, base * 2^k) fixed plus up to the other half at random, so a
 * crowd of clients that failed together does not come back together.  A
 * server's Retry-After (parsed by net/http) is a floor, never shortened.
 * The attempts and the total time are both bounded.
 */
#ifndef CI_RETRY_H
#define CI_RETRY_H

#include <signal.h>

struct retry_policy {
	int max_attempts;	/* including the first; <= 0 means 1 */
	long long base_ms;	/* first delay's upper bound */
	long long cap_ms;	/* no delay is longer (Retry-After aside) */
	long long max_total_ms;	/* since the first failure; <= 0: no bound */
};

struct retry_state {
	int attempts;		/* failures so far */
	long long first_fail_ms;/* mono_ms() of the first failure */
};

/* The delay before attempt number attempt+1 (attempt counts from 0). */
long long retry_delay_ms(const struct retry_policy *p, int attempt, long long retry_after_ms);

/*
 * One more failure happened: return the delay to wait before trying
 * again, or -1 when the attempts or the time are used up.  retry_after_ms
 * is the server's Retry-After (-1 when none).
 */
long long retry_next(const struct retry_policy *p, struct retry_state *s,
    long long retry_after_ms);

/*
 * What is left of p's time since the first failure (at least 1), for
 * capping the next attempt's own timeout so that a stalled server cannot
 * make one attempt outlive the budget; -1 when there is no bound yet (no
 * failure so far, or no max_total_ms).
 */
long long retry_left_ms(const struct retry_policy *p, const struct retry_state *s);

#endif
