#include "core/encode.h"
#include "core/retry.h"
#include "core/timeutil.h"

long long
retry_delay_ms(const struct retry_policy *p, int attempt, long long retry_after_ms)
{
	long long base = p->base_ms > 0 ? p->base_ms : 1, d;
	int k;

	/* Double without overflowing: stop once the cap is reached. */
	for (k = 0; k < attempt && (p->cap_ms <= 0 || base < p->cap_ms) && base < (1LL << 40); k++)
		base *= 2;
	if (p->cap_ms > 0 && base > p->cap_ms)
		base = p->cap_ms;
	d = base / 2 + (long long)random_below((unsigned long long)(base / 2 + 1));
	return retry_after_ms > d ? retry_after_ms : d;
}

long long
retry_next(const struct retry_policy *p, struct retry_state *s, long long retry_after_ms)
{
	long long now = mono_ms(), wait;

	if (!s->attempts)
		s->first_fail_ms = now;
	s->attempts++;
	wait = retry_delay_ms(p, s->attempts - 1, retry_after_ms);
	if (s->attempts >= (p->max_attempts > 0 ? p->max_attempts : 1))
		return -1;
	if (p->max_total_ms > 0 && now + wait - s->first_fail_ms > p->max_total_ms)
		return -1;
	return wait;
}

long long
retry_left_ms(const struct retry_policy *p, const struct retry_state *s)
{
	long long left;

	if (!s->attempts || p->max_total_ms <= 0)
		return -1;
	left = p->max_total_ms - (mono_ms() - s->first_fail_ms);
	return left > 1 ? left : 1;
}
