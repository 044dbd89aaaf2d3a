#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/size.h"

#define SIZE_MAX_BYTES (1LL << 50)

int
parse_size(const char *s, long long *out)
{
	char *end;
	double v, mul = 1;

	if (!s || !((*s >= '0' && *s <= '9') || *s == '.'))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -1;
	switch (*end) {
	case 'k': case 'K':
		mul = 1024.0;
		break;
	case 'm': case 'M':
		mul = 1024.0 * 1024;
		break;
	case 'g': case 'G':
		mul = 1024.0 * 1024 * 1024;
		break;
	case 't': case 'T':
		mul = 1024.0 * 1024 * 1024 * 1024;
		break;
	}
	if (mul > 1) {
		end++;
		if (*end == 'i')
			end++;
	}
	if (*end == 'B' || (*end == 'b' && mul > 1))
		end++;
	v *= mul;
	if (*end || v > (double)SIZE_MAX_BYTES || v != floor(v))
		return -1;
	*out = (long long)v;
	return 0;
}

void
format_size(long long n, char *out, size_t outsz)
{
	if (n >= 1LL << 30)
		snprintf(out, outsz, "%.2f GiB", (double)n / (1 << 30));
	else if (n >= 100LL << 20)
		snprintf(out, outsz, "%.0f MiB", (double)n / (1 << 20));
	else if (n >= 1 << 20)
		snprintf(out, outsz, "%.1f MiB", (double)n / (1 << 20));
	else if (n >= 1 << 10)
		snprintf(out, outsz, "%.1f KiB", (double)n / (1 << 10));
	else
		snprintf(out, outsz, "%lld bytes", n);
}
