/* Unit tests for lib/timeutil.c: durations and RFC 3339 times. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tap.h"
#include "core/timeutil.h"

static const struct {
	const char *in;
	long long ms;
} good[] = {
	{ "0", 0 },
	{ "0s", 0 },
	{ "0ms", 0 },
	{ "1ms", 1 },
	{ "250ms", 250 },
	{ "500ms", 500 },
	{ "1s", 1000 },
	{ "10s", 10000 },
	{ "1.5s", 1500 },
	{ "1.500s", 1500 },
	{ "1.001s", 1001 },
	{ "0.001s", 1 },
	{ "0.5m", 30000 },
	{ "5m", 300000 },
	{ "1h", 3600000 },
	{ "1.5h", 5400000 },
	{ "0.0005h", 1800 },
	{ "1h30m", 5400000 },
	{ "1m30s", 90000 },
	{ "1m1.001s", 61001 },
	{ "2h3m4s5ms", 7384005 },
	{ "90m", 5400000 },
	{ "1.0ms", 1 },
	{ "1.000000000000000000000s", 1000 },
	{ "876600h", 876600LL * 3600000 },
};

static const struct {
	const char *in;
	const char *why;
} bad[] = {
	{ "", "empty duration" },
	{ "10", "missing unit" },
	{ "00", "missing unit" },
	{ "1h30", "missing unit" },
	{ "5x", "unknown unit 'x'" },
	{ "5sec", "unknown unit 'sec'" },
	{ "5S", "unknown unit 'S'" },
	{ "1d", "unknown unit 'd'" },
	{ "5us", "unknown unit 'us'" },
	{ "-1s", "number expected" },
	{ "+1s", "number expected" },
	{ "1h-", "number expected" },
	{ "s", "number expected" },
	{ ".5s", "number expected" },
	{ " 1s", "number expected" },
	{ "1s ", "number expected" },
	{ "1 s", "missing unit" },
	{ "1.s", "digit expected after '.'" },
	{ "0.5ms", "below millisecond precision" },
	{ "1.0001s", "below millisecond precision" },
	{ "0.00000001h", "below millisecond precision" },
	{ "0.1234567891h", "below millisecond precision" },
	{ "876601h", "too large" },
	{ "99999999999999999999999s", "too large" },
	{ "9223372036854775807ms", "too large" },
	{ "876600h1ms", "too large" },
};

static const struct {
	long long ms;
	const char *out;
} fmt[] = {
	{ 0, "0s" },
	{ 1, "1ms" },
	{ 250, "250ms" },
	{ 1000, "1s" },
	{ 1500, "1.5s" },
	{ 1010, "1.01s" },
	{ 1001, "1.001s" },
	{ 30000, "30s" },
	{ 60000, "1m" },
	{ 90000, "1m30s" },
	{ 61001, "1m1.001s" },
	{ 60005, "1m5ms" },
	{ 3600000, "1h" },
	{ 3600250, "1h250ms" },
	{ 5400000, "1h30m" },
	{ 3601500, "1h1.5s" },
	{ 7384005, "2h3m4.005s" },
	{ 90000000, "25h" },
	{ -1500, "-1.5s" },
};

static const struct {
	const char *in;
	long long t;
} rfc[] = {
	{ "1970-01-01T00:00:00Z", 0 },
	{ "1970-01-01T00:00:01Z", 1 },
	{ "1969-12-31T23:59:59Z", -1 },
	{ "2000-02-29T00:00:00Z", 951782400 },
	{ "2000-03-01T00:00:00Z", 951868800 },
	{ "2026-11-26T09:00:00Z", 1795683600 },
	{ "2026-11-26t09:00:00z", 1795683600 },
	{ "2026-11-26T09:00:00.999Z", 1795683600 },
	{ "2026-11-26T09:00:00.5+00:00", 1795683600 },
	{ "2026-11-26T10:00:00+01:00", 1795683600 },
	{ "2026-11-26T04:30:00-04:30", 1795683600 },
	{ "2026-11-27T08:59:00+23:59", 1795683600 },
	{ "2026-11-26T09:00:00-00:00", 1795683600 },
	{ "2024-02-29T12:00:00Z", 1709208000 },
	{ "2016-12-31T23:59:60Z", 1483228800 },
	{ "2038-01-19T03:14:08Z", 2147483648LL },
	{ "1900-03-01T00:00:00Z", -2203891200LL },
	{ "9999-12-31T23:59:59Z", 253402300799LL },
};

static const char *rfc_bad[] = {
	"",
	"garbage",
	"2026-11-26",
	"2026-11-26T09:00:00",
	"2026-11-26T09:00Z",
	"2026-11-26 09:00:00Z",
	"2026-11-26T09:00:00ZZ",
	"2026-11-26T09:00:00Z ",
	" 2026-11-26T09:00:00Z",
	"2026-11-26T09:00:00.Z",
	"2026-11-26T09:00:00+0100",
	"2026-11-26T09:00:00+1:00",
	"2026-11-26T09:00:00+24:00",
	"2026-11-26T09:00:00+01:60",
	"2026-02-29T00:00:00Z",
	"1900-02-29T00:00:00Z",
	"2026-04-31T00:00:00Z",
	"2026-00-10T00:00:00Z",
	"2026-13-10T00:00:00Z",
	"2026-11-00T00:00:00Z",
	"2026-11-26T24:00:00Z",
	"2026-11-26T23:60:00Z",
	"2026-11-26T23:59:61Z",
	"26-11-26T09:00:00Z",
	"2026-1-26T09:00:00Z",
	"2026/11/26T09:00:00Z",
	"-026-11-26T09:00:00Z",
};

int
main(void)
{
	char out[64];
	const char *why;
	long long ms, x;
	time_t t;
	size_t i;
	int rc, ok_all;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = -42;
		why = NULL;
		rc = parse_duration(good[i].in, &ms, &why);
		is_int(rc, 0, "parse_duration('%s') succeeds", good[i].in);
		is_int(ms, good[i].ms, "parse_duration('%s') = %lld", good[i].in,
		    good[i].ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms = -42;
		why = NULL;
		rc = parse_duration(bad[i].in, &ms, &why);
		is_int(rc, -1, "parse_duration('%s') refused", bad[i].in);
		is_str(why, bad[i].why, "parse_duration('%s') says '%s'", bad[i].in,
		    bad[i].why);
		is_int(ms, -42, "parse_duration('%s') leaves *ms alone", bad[i].in);
	}
	is_int(parse_duration(NULL, &ms, &why), -1, "parse_duration(NULL) refused");
	is_int(parse_duration("5x", &ms, NULL), -1, "why may be NULL");

	for (i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		format_duration(fmt[i].ms, out, sizeof(out));
		is_str(out, fmt[i].out, "format_duration(%lld)", fmt[i].ms);
	}
	format_duration(5400000, out, 3);
	is_str(out, "1h", "format_duration truncates to the buffer");

	/* Round trip over a spread of values, sparse and dense. */
	ok_all = 1;
	for (x = 0; x < 200000 && ok_all; x += 7) {
		format_duration(x, out, sizeof(out));
		if (parse_duration(out, &ms, &why) != 0 || ms != x) {
			ok_all = 0;
			printf("# round trip failed for %lld ('%s')\n", x, out);
		}
	}
	for (x = 1; x < 36525LL * 86400000 && ok_all; x = x * 3 + 1) {
		format_duration(x, out, sizeof(out));
		if (parse_duration(out, &ms, &why) != 0 || ms != x) {
			ok_all = 0;
			printf("# round trip failed for %lld ('%s')\n", x, out);
		}
	}
	ok(ok_all, "parse_duration(format_duration(x)) == x");
	format_duration(36525LL * 86400000, out, sizeof(out));
	ok(parse_duration(out, &ms, &why) == 0 && ms == 36525LL * 86400000,
	    "the largest duration round-trips ('%s')", out);

	x = now_ms();
	ok(x > 1700000000000LL && x / 1000 - (long long)time(NULL) <= 1 &&
	    (long long)time(NULL) - x / 1000 <= 1, "now_ms is wall-clock ms");
	x = mono_ms();
	ok(mono_ms() >= x, "mono_ms does not go backwards");

	for (i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
		t = 12345;
		rc = parse_rfc3339(rfc[i].in, &t);
		is_int(rc, 0, "parse_rfc3339('%s') succeeds", rfc[i].in);
		is_int(t, rfc[i].t, "parse_rfc3339('%s') = %lld", rfc[i].in, rfc[i].t);
	}
	for (i = 0; i < sizeof(rfc_bad) / sizeof(rfc_bad[0]); i++) {
		t = 12345;
		rc = parse_rfc3339(rfc_bad[i], &t);
		is_int(rc, -1, "parse_rfc3339('%s') refused", rfc_bad[i]);
		is_int(t, 12345, "parse_rfc3339('%s') leaves *t alone", rfc_bad[i]);
	}
	is_int(parse_rfc3339(NULL, &t), -1, "parse_rfc3339(NULL) refused");

	format_rfc3339(0, out, sizeof(out));
	is_str(out, "1970-01-01T00:00:00Z", "format_rfc3339(0)");
	format_rfc3339((time_t)1795683600, out, sizeof(out));
	is_str(out, "2026-11-26T09:00:00Z", "format_rfc3339(1795683600)");
	format_rfc3339((time_t)951782400, out, sizeof(out));
	is_str(out, "2000-02-29T00:00:00Z", "format_rfc3339 on a leap day");
	{
		char small[21];

		format_rfc3339((time_t)253402300799LL, small, sizeof(small));
		is_str(small, "9999-12-31T23:59:59Z", "21 bytes are enough");
	}
	format_rfc3339((time_t)253402300800LL, out, sizeof(out));
	is_str(out, "", "year 10000 has no RFC 3339 form");

	format_rfc3339_ms(1764925200123LL, out, sizeof(out));
	is_str(out, "2025-12-05T09:00:00.123Z", "milliseconds after the seconds");
	format_rfc3339_ms(1764925200005LL, out, sizeof(out));
	is_str(out, "2025-12-05T09:00:00.005Z", "... zero-padded");
	format_rfc3339_ms(-1, out, sizeof(out));
	is_str(out, "1969-12-31T23:59:59.999Z", "... and right before the epoch");
	ok(parse_rfc3339("2025-12-05T09:00:00.123Z", &t) == 0 && (long long)t == 1764925200LL,
	    "parse_rfc3339 reads them back");

	/* Format then parse, across a range of times. */
	ok_all = 1;
	for (x = -2208988800LL; x < 4102444800LL && ok_all; x += 86400LL * 37 + 3671) {
		format_rfc3339((time_t)x, out, sizeof(out));
		if (parse_rfc3339(out, &t) != 0 || (long long)t != x) {
			ok_all = 0;
			printf("# rfc3339 round trip failed for %lld ('%s')\n", x, out);
		}
	}
	ok(ok_all, "parse_rfc3339(format_rfc3339(t)) == t from 1900 to 2100");
	return done_testing();
}
