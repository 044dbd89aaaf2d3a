/* Prices in integer cents: no floating point anywhere near money. */
#include <ctype.h>
#include <stdio.h>

#include "greet.h"

#define PRICE_MAX 100000000000LL	/* 1,000,000,000.00 */

int
price_parse(const char *s, long long *cents)
{
	long long whole = 0;
	int digits = 0, frac = 0, nfrac = 0;

	if (!s || !cents)
		return -1;
	if (*s == '$')
		s++;
	for (; isdigit((unsigned char)*s); s++) {
		whole = whole * 10 + (*s - '0');
		if (whole > PRICE_MAX / 100)
			return -1;
		digits++;
	}
	if (digits == 0)
		return -1;
	if (*s == '.') {
		for (s++; isdigit((unsigned char)*s); s++) {
			if (++nfrac > 2)
				return -1;
			frac = frac * 10 + (*s - '0');
		}
		if (nfrac == 0)
			return -1;
		if (nfrac == 1)
			frac *= 10;
	}
	if (*s != '\0')
		return -1;
	whole = whole * 100 + frac;
	if (whole > PRICE_MAX)
		return -1;
	*cents = whole;
	return 0;
}

int
price_format(long long cents, char *out, size_t size)
{
	unsigned long long a;
	int n;

	if (!out || size == 0)
		return -1;
	/* Negate as unsigned so LLONG_MIN does not overflow. */
	a = cents < 0 ? 0ULL - (unsigned long long)cents : (unsigned long long)cents;
	n = snprintf(out, size, "%s%llu.%02llu", cents < 0 ? "-" : "", a / 100, a % 100);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* amount * pct / 100, rounded half up; amount and pct are non-negative. */
static long long
percent_of(long long amount, int pct)
{
	return (amount * pct + 50) / 100;
}

int
price_total(long long unit_cents, long qty, int discount_pct, int tax_pct,
    long long *total)
{
	long long sum;

	if (!total || unit_cents < 0 || unit_cents > PRICE_MAX || qty < 0 ||
	    qty > 10000 || discount_pct < 0 || discount_pct > 100 ||
	    tax_pct < 0 || tax_pct > 100)
		return -1;
	/* The bounds keep every product below 2^63. */
	sum = unit_cents * qty;
	sum -= percent_of(sum, discount_pct);
	sum += percent_of(sum, tax_pct);
	*total = sum;
	return 0;
}
