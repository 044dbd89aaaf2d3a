/* Unit tests for lib/core/encode.c (base64, hex, random), lib/core/size.c
 * and lib/core/retry.c: the one of each that core hands every domain. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "core/encode.h"
#include "core/retry.h"
#include "core/size.h"
#include "core/timeutil.h"

static const struct {
	const char *plain, *std, *url_nopad;
} b64[] = {
	{ "", "", "" },
	{ "f", "Zg==", "Zg" },
	{ "fo", "Zm8=", "Zm8" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg==", "Zm9vYg" },
	{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
	{ "\xfb\xff\xfe", "+//+", "-__-" },
	{ "user:pa ss", "dXNlcjpwYSBzcw==", "dXNlcjpwYSBzcw" },
};

static void
test_b64(void)
{
	size_t i;

	for (i = 0; i < sizeof(b64) / sizeof(b64[0]); i++) {
		char *e = b64_encode(b64[i].plain, strlen(b64[i].plain), B64_STD, 1);
		char *u = b64_encode(b64[i].plain, strlen(b64[i].plain), B64_URL, 0);
		unsigned char *d = NULL;
		size_t n = 0;

		is_str(e, b64[i].std, "b64 std encode '%s'", b64[i].std);
		is_str(u, b64[i].url_nopad, "b64 url encode '%s'", b64[i].url_nopad);
		ok(b64_decode(e, strlen(e), B64_STD, &d, &n) == 0 && n == strlen(b64[i].plain) &&
		    !memcmp(d, b64[i].plain, n) && d[n] == '\0', "b64 std decode '%s'", e);
		free(d);
		d = NULL;
		ok(b64_decode(u, strlen(u), B64_URL, &d, &n) == 0 && n == strlen(b64[i].plain) &&
		    !memcmp(d, b64[i].plain, n), "b64 url decode without padding '%s'", u);
		free(d);
		d = NULL;
		ok(b64_decode(u, strlen(u), B64_ANY, &d, &n) == 0 && n == strlen(b64[i].plain),
		    "b64 any alphabet decodes url '%s'", u);
		free(d);
		free(e);
		free(u);
	}
	{
		unsigned char *d = NULL;
		size_t n;
		const char *folded = "Zm9v\nYmFy\r\n";

		ok(b64_decode(folded, strlen(folded), B64_STD, &d, &n) == 0 && n == 6 &&
		    !memcmp(d, "foobar", 6), "b64 skips newlines");
		free(d);
		ok(b64_decode("Zm9v!", 5, B64_STD, &d, &n) < 0, "b64 refuses '!'");
		ok(b64_decode("-__-", 4, B64_STD, &d, &n) < 0, "b64 std refuses the url alphabet");
		ok(b64_decode("+//+", 4, B64_URL, &d, &n) < 0, "b64 url refuses the std alphabet");
		ok(b64_decode("Zg==Zg", 6, B64_STD, &d, &n) < 0, "b64 refuses data after padding");
		ok(b64_decode("Z", 1, B64_STD, &d, &n) < 0, "b64 refuses a dangling 6-bit group");
		ok(b64_decode("Zg===", 5, B64_STD, &d, &n) < 0, "b64 refuses three '='");
	}
}

static void
test_hex_random(void)
{
	unsigned char *d = NULL;
	size_t n;
	char out[65], a[41], b[41];
	int i, seen[10] = { 0 }, all = 1;

	hex_encode("\x00\xab\xff", 3, out);
	is_str(out, "00abff", "hex encode");
	ok(hex_decode("00AbfF", 6, &d, &n) == 0 && n == 3 && d[1] == 0xab, "hex decode either case");
	free(d);
	ok(hex_decode("abc", 3, &d, &n) < 0, "hex refuses an odd count");
	ok(hex_decode("zz", 2, &d, &n) < 0, "hex refuses 'z'");
	ok(random_hex(a, 40) == 0 && strlen(a) == 40 && strspn(a, "0123456789abcdef") == 40,
	    "random_hex gives 40 hex digits");
	ok(random_hex(b, 40) == 0 && strcmp(a, b) != 0, "two random_hex differ");
	ok(random_hex(b, 7) == 0 && strlen(b) == 7, "random_hex odd length");
	for (i = 0; i < 2000; i++) {
		unsigned long long v = random_below(10);

		if (v >= 10)
			all = 0;
		else
			seen[v]++;
	}
	for (i = 0; i < 10; i++)
		all = all && seen[i] > 0;
	ok(all, "random_below(10) stays below 10 and reaches every value");
	is_int(random_below(1), 0, "random_below(1) is 0");
}

static const struct {
	const char *in;
	long long want;		/* -1: refused */
} sizes[] = {
	{ "0", 0 }, { "4096", 4096 }, { "512k", 512 << 10 }, { "512K", 512 << 10 },
	{ "64M", 64LL << 20 }, { "1.5M", 3LL << 19 }, { "8MiB", 8LL << 20 },
	{ "2GB", 2LL << 30 }, { "1G", 1LL << 30 }, { "1Gi", 1LL << 30 }, { "3T", 3LL << 40 },
	{ "100B", 100 }, { "1kb", 1024 },
	{ "", -1 }, { "k", -1 }, { "-1", -1 }, { "1.5", -1 }, { "0.1k", -1 },
	{ "1X", -1 }, { "1M ", -1 }, { " 1M", -1 }, { "1e3", 1000 }, { "nan", -1 },
	{ "inf", -1 }, { "1025T", -1 }, { "1b", -1 },
};

static void
test_size(void)
{
	size_t i;
	char out[32];

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		long long v = -7;
		int rc = parse_size(sizes[i].in, &v);

		if (sizes[i].want < 0)
			ok(rc < 0 && v == -7, "parse_size refuses '%s'", sizes[i].in);
		else
			ok(rc == 0 && v == sizes[i].want, "parse_size '%s' = %lld (got %lld)",
			    sizes[i].in, sizes[i].want, v);
	}
	format_size(512, out, sizeof(out));
	is_str(out, "512 bytes", "format_size bytes");
	format_size(1536, out, sizeof(out));
	is_str(out, "1.5 KiB", "format_size KiB");
	format_size(12LL << 20, out, sizeof(out));
	is_str(out, "12.0 MiB", "format_size MiB");
	format_size(3LL << 30, out, sizeof(out));
	is_str(out, "3.00 GiB", "format_size GiB");
}

static void
test_retry(void)
{
	struct retry_policy p = { 4, 200, 1000, 0 };
	struct retry_state s = { 0, 0 };
	int i, in_range = 1;

	for (i = 0; i < 200; i++) {
		long long d0 = retry_delay_ms(&p, 0, -1), d3 = retry_delay_ms(&p, 3, -1),
		    d60 = retry_delay_ms(&p, 60, -1);

		in_range = in_range && d0 >= 100 && d0 <= 200 && d3 >= 500 && d3 <= 1000 &&
		    d60 >= 500 && d60 <= 1000;
	}
	ok(in_range, "delays: equal jitter within [base/2, base], capped, no overflow");
	ok(retry_delay_ms(&p, 0, 5000) == 5000, "Retry-After is a floor above the cap");
	ok(retry_next(&p, &s, -1) >= 0 && retry_next(&p, &s, -1) >= 0 &&
	    retry_next(&p, &s, -1) >= 0, "three retries allowed with 4 attempts");
	ok(retry_next(&p, &s, -1) < 0, "the fourth failure gives up");
	{
		struct retry_policy t = { 100, 200, 1000, 300 };
		struct retry_state ts = { 0, 0 };

		ok(retry_next(&t, &ts, 250) >= 0, "a wait within the total time is allowed");
		ok(retry_next(&t, &ts, 400) < 0, "a wait past the total time gives up");
	}
	{
		struct retry_policy t = { 100, 200, 1000, 60000 }, nob = { 100, 200, 1000, 0 };
		struct retry_state ts = { 0, 0 };
		long long left;

		ok(retry_left_ms(&t, &ts) == -1, "no failure yet: no bound on the attempt");
		ts.attempts = 1;
		ts.first_fail_ms = mono_ms() - 59000;
		left = retry_left_ms(&t, &ts);
		ok(left > 0 && left <= 1000, "an attempt gets what is left of the time (%lld ms)",
		    left);
		ts.first_fail_ms = mono_ms() - 70000;
		ok(retry_left_ms(&t, &ts) == 1, "the time used up: 1 ms, never 0 (no timeout)");
		ok(retry_left_ms(&nob, &ts) == -1, "no total time: no bound");
	}
}

static void
test_url_redact(void)
{
	static const char *const cases[][2] = {
		{ "https://alice:pw@reg.example/r", "https://***@reg.example/r" },
		{ "http://tok@h:5000/a?x=@y", "http://***@h:5000/a?x=@y" },
		{ "smtp://u:p@a@mail.example", "smtp://***@mail.example" },
		{ "https://reg.example/u@x", "https://reg.example/u@x" },
		{ "reg.example/repo@sha256:ab", "reg.example/repo@sha256:ab" },
		{ "", "" },
		{ "fatal: 'https://ci:tok@git.example/a.git' and 'http://u:p@b/': no",
		  "fatal: 'https://***@git.example/a.git' and 'http://***@b/': no" },
		{ "http://u:p@h failed; mail a@b", "http://***@h failed; mail a@b" },
		{ "https://user:tok3n@git.example.com/acme/app.git",
		  "https://***@git.example.com/acme/app.git" },
		{ "git@github.com:acme/app.git", "git@github.com:acme/app.git" },
		{ "/srv/repos/app", "/srv/repos/app" },
		{ "file:///srv/a@b", "file:///srv/a@b" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *r = url_redact(cases[i][0]);

		is_str(r, cases[i][1], "url_redact %s", cases[i][0]);
		free(r);
	}
}

int
main(void)
{
	test_url_redact();
	test_b64();
	test_hex_random();
	test_size();
	test_retry();
	return done_testing();
}
