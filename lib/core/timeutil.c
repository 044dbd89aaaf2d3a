#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/timeutil.h"

/* About 100 years: anything longer is a typo, not a timeout. */
#define DUR_MAX_MS	(36525LL * 86400000LL)

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
refuse(const char **why, const char *what)
{
	if (why)
		*why = what;
	return -1;
}

/* Milliseconds per unit, or 0 when the unit is unknown. */
static long long
unit_ms(const char *u, size_t n)
{
	if (n == 2 && u[0] == 'm' && u[1] == 's')
		return 1;
	if (n == 1 && u[0] == 's')
		return 1000;
	if (n == 1 && u[0] == 'm')
		return 60000;
	if (n == 1 && u[0] == 'h')
		return 3600000;
	return 0;
}

int
parse_duration(const char *s, long long *ms, const char **why)
{
	static char unknown[64];
	long long total = 0;
	const char *p = s;

	if (!s || !*s)
		return refuse(why, "empty duration");
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	while (*p) {
		long long ip = 0, fp = 0, unit, v, pow10 = 1;
		const char *frac = NULL, *fend = NULL, *u;
		size_t k, un;

		if (!is_digit((unsigned char)*p))
			return refuse(why, "number expected");
		for (; is_digit((unsigned char)*p); p++) {
			ip = ip * 10 + (*p - '0');
			if (ip > DUR_MAX_MS)
				return refuse(why, "too large");
		}
		if (*p == '.') {
			p++;
			if (!is_digit((unsigned char)*p))
				return refuse(why, "digit expected after '.'");
			frac = p;
			while (is_digit((unsigned char)*p))
				p++;
			/* Trailing zeros add nothing; drop them before the
			 * precision check so "1.500s" is as good as "1.5s". */
			fend = p;
			while (fend > frac && fend[-1] == '0')
				fend--;
		}
		u = p;
		while (is_alpha((unsigned char)*p))
			p++;
		un = (size_t)(p - u);
		if (un == 0)
			return refuse(why, "missing unit");
		if ((unit = unit_ms(u, un)) == 0) {
			snprintf(unknown, sizeof(unknown), "unknown unit '%.*s'",
			    un > 40 ? 40 : (int)un, u);
			return refuse(why, unknown);
		}
		if (ip > DUR_MAX_MS / unit)
			return refuse(why, "too large");
		v = ip * unit;
		if (frac) {
			k = (size_t)(fend - frac);
			/* A unit is at most 2^7*3^2*5^5 ms, so a fraction
			 * whose last digit is not 0 and has more than 7
			 * digits can never come to whole milliseconds. */
			if (k > 7)
				return refuse(why, "below millisecond precision");
			for (; frac < fend; frac++) {
				fp = fp * 10 + (*frac - '0');
				pow10 *= 10;
			}
			if ((fp * unit) % pow10 != 0)
				return refuse(why, "below millisecond precision");
			v += fp * unit / pow10;
		}
		if (v > DUR_MAX_MS - total)
			return refuse(why, "too large");
		total += v;
	}
	*ms = total;
	return 0;
}

void
format_duration(long long ms, char *out, size_t outsz)
{
	char tmp[96];
	unsigned long long u, h, m, sec, milli;
	size_t n = 0;
	int neg = ms < 0;

	if (outsz == 0)
		return;
	if (ms == 0) {
		snprintf(out, outsz, "0s");
		return;
	}
	/* Negative values cannot be parsed back, but print them honestly. */
	u = neg ? 0ULL - (unsigned long long)ms : (unsigned long long)ms;
	h = u / 3600000;
	m = u / 60000 % 60;
	sec = u / 1000 % 60;
	milli = u % 1000;
	if (neg)
		tmp[n++] = '-';
	if (h)
		n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%lluh", h);
	if (m)
		n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%llum", m);
	if (sec && milli) {
		char f[8];
		int k;

		/* Seconds with a trimmed fraction: "1.5s", "1.001s". */
		snprintf(f, sizeof(f), "%03llu", milli);
		for (k = 2; k > 0 && f[k] == '0'; k--)
			f[k] = '\0';
		n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%llu.%ss", sec, f);
	} else if (sec) {
		n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%llus", sec);
	} else if (milli) {
		/* "1m5ms" is never longer than "1m0.005s". */
		n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%llums", milli);
	}
	snprintf(out, outsz, "%s", tmp);
}

long long
now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return (long long)time(NULL) * 1000;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long
mono_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
format_rfc3339(time_t t, char *out, size_t outsz)
{
	struct tm tm;

	if (outsz == 0)
		return;
	/* Years outside 0000-9999 have no RFC 3339 form: give "". */
	if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
		out[0] = '\0';
		return;
	}
	snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void
format_rfc3339_ms(long long ms, char *out, size_t outsz)
{
	long long sec = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
	size_t n;

	format_rfc3339((time_t)sec, out, outsz);
	n = strlen(out);
	/* "...:00Z" -> "...:00.123Z" */
	if (n == 20 && outsz >= 25)
		snprintf(out + 19, outsz - 19, ".%03lldZ", ms - sec * 1000);
}

/* Read exactly n digits; -1 when any is missing. */
static int
digits(const char **pp, int n)
{
	const char *p = *pp;
	int v = 0;

	while (n-- > 0) {
		if (!is_digit((unsigned char)*p))
			return -1;
		v = v * 10 + (*p++ - '0');
	}
	*pp = p;
	return v;
}

static int
is_leap(long long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(long long y, int m)
{
	static const int md[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : md[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so neither timegm() nor TZ is involved. */
static long long
days_from_civil(long long y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
parse_rfc3339(const char *s, time_t *t)
{
	const char *p = s;
	int year, mon, day, hour, min, sec, oh = 0, om = 0, sign = 0;
	long long v;

	if (!s)
		return -1;
	if ((year = digits(&p, 4)) < 0 || *p++ != '-' ||
	    (mon = digits(&p, 2)) < 0 || *p++ != '-' ||
	    (day = digits(&p, 2)) < 0)
		return -1;
	if (*p != 'T' && *p != 't')
		return -1;
	p++;
	if ((hour = digits(&p, 2)) < 0 || *p++ != ':' ||
	    (min = digits(&p, 2)) < 0 || *p++ != ':' ||
	    (sec = digits(&p, 2)) < 0)
		return -1;
	if (*p == '.') {
		p++;
		if (!is_digit((unsigned char)*p))
			return -1;
		while (is_digit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if ((oh = digits(&p, 2)) < 0 || *p++ != ':' ||
		    (om = digits(&p, 2)) < 0)
			return -1;
		if (oh > 23 || om > 59)
			return -1;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	if (mon < 1 || mon > 12 || day < 1 || day > month_days(year, mon) ||
	    hour > 23 || min > 59 || sec > 60)
		return -1;
	v = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
	/* The local time is UTC plus the offset. */
	v -= (long long)sign * (oh * 3600 + om * 60);
	if ((long long)(time_t)v != v)
		return -1;
	*t = (time_t)v;
	return 0;
}

int
sleep_ms(long long ms, const volatile sig_atomic_t *stop)
{
	struct timespec ts;

	if (ms <= 0)
		return stop && *stop ? -1 : 0;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0) {
		if (errno != EINTR || (stop && *stop))
			return -1;
	}
	return stop && *stop ? -1 : 0;
}
