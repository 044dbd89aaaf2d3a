/* Unit tests for the greet library: run as `unit-tests [JUNIT.xml]`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "greet.h"
#include "harness.h"

/* ---- greeting ---- */

static void
test_greeting_times_of_day(void)
{
	char out[64];

	CHECK_INT(greeting("Ada", 9, out, sizeof(out)), 0);
	CHECK_STR(out, "Good morning, Ada!");
	CHECK_INT(greeting("Ada", 12, out, sizeof(out)), 0);
	CHECK_STR(out, "Good afternoon, Ada!");
	CHECK_INT(greeting("Ada", 18, out, sizeof(out)), 0);
	CHECK_STR(out, "Good evening, Ada!");
	CHECK_INT(greeting("Ada", 23, out, sizeof(out)), 0);
	CHECK_STR(out, "Hello, Ada!");
	CHECK_INT(greeting("Ada", 4, out, sizeof(out)), 0);
	CHECK_STR(out, "Hello, Ada!");
	CHECK_INT(greeting("Grace Hopper", -1, out, sizeof(out)), 0);
	CHECK_STR(out, "Hello, Grace Hopper!");
}

static void
test_greeting_bad_input(void)
{
	char out[64], name[GREET_NAME_MAX + 2];

	CHECK_INT(greeting("", 9, out, sizeof(out)), -1);
	CHECK_INT(greeting(NULL, 9, out, sizeof(out)), -1);
	CHECK_INT(greeting("Ada", 24, out, sizeof(out)), -1);
	CHECK_INT(greeting("Ada", -2, out, sizeof(out)), -1);
	CHECK_INT(greeting("A\nB", 9, out, sizeof(out)), -1);
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	CHECK_INT(greeting(name, 9, out, sizeof(out)), -1);
	name[GREET_NAME_MAX] = '\0';	/* exactly the longest ... */
	CHECK_INT(greeting(name, 9, out, sizeof(out)), -1);	/* ... needs 80 bytes */
	{
		char big[128];

		CHECK_INT(greeting(name, 9, big, sizeof(big)), 0);
	}
	CHECK_INT(greeting("Ada", 9, out, 5), -1);
	CHECK_INT(greeting("Ada", 9, out, 0), -1);
}

/* ---- slugify ---- */

static void
test_slugify(void)
{
	char out[64];

	CHECK_INT(slugify("Hello, World!", out, sizeof(out)), 0);
	CHECK_STR(out, "hello-world");
	CHECK_INT(slugify("  --Ci/CD   in 10 steps--  ", out, sizeof(out)), 0);
	CHECK_STR(out, "ci-cd-in-10-steps");
	CHECK_INT(slugify("caf\xc3\xa9 au lait", out, sizeof(out)), 0);
	CHECK_STR(out, "caf-au-lait");
	CHECK_INT(slugify("x", out, sizeof(out)), 0);
	CHECK_STR(out, "x");
}

static void
test_slugify_bad_input(void)
{
	char out[8];

	CHECK_INT(slugify("", out, sizeof(out)), -1);
	CHECK_INT(slugify("!!! ???", out, sizeof(out)), -1);
	CHECK_INT(slugify(NULL, out, sizeof(out)), -1);
	CHECK_INT(slugify("abcdefgh", out, sizeof(out)), -1);	/* 8 + NUL */
	CHECK_INT(slugify("abcdefg", out, sizeof(out)), 0);
	CHECK_INT(slugify("abc defg", out, sizeof(out)), -1);	/* the dash */
	CHECK_INT(slugify("abc", out, 0), -1);
}

/* ---- prices ---- */

static void
test_price_parse(void)
{
	long long c = -1;

	CHECK_INT(price_parse("12", &c), 0);
	CHECK_INT(c, 1200);
	CHECK_INT(price_parse("12.5", &c), 0);
	CHECK_INT(c, 1250);
	CHECK_INT(price_parse("$0.99", &c), 0);
	CHECK_INT(c, 99);
	CHECK_INT(price_parse("0.05", &c), 0);
	CHECK_INT(c, 5);
	CHECK_INT(price_parse("1000000000.00", &c), 0);
	CHECK_INT(c, 100000000000LL);
}

static void
test_price_parse_bad_input(void)
{
	static const char *const bad[] = {
		"", "$", "abc", "-1", "+1", "1.", ".5", "1.234", "1,00", "12 ",
		"1000000000.01", "99999999999999999999", "1e3"
	};
	long long c = 42;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_(price_parse(bad[i], &c) == -1, __FILE__, __LINE__,
		    "price_parse(\"%s\") accepted it", bad[i]);
	CHECK_INT(c, 42);	/* untouched on error */
	CHECK_INT(price_parse(NULL, &c), -1);
	CHECK_INT(price_parse("1", NULL), -1);
}

static void
test_price_format(void)
{
	char out[32];

	CHECK_INT(price_format(1234, out, sizeof(out)), 0);
	CHECK_STR(out, "12.34");
	CHECK_INT(price_format(5, out, sizeof(out)), 0);
	CHECK_STR(out, "0.05");
	CHECK_INT(price_format(-105, out, sizeof(out)), 0);
	CHECK_STR(out, "-1.05");
	CHECK_INT(price_format(0, out, sizeof(out)), 0);
	CHECK_STR(out, "0.00");
	CHECK_INT(price_format(123456, out, 4), -1);
	CHECK_INT(price_format(1, NULL, 4), -1);
}

static void
test_price_total(void)
{
	long long t = -1;

	CHECK_INT(price_total(999, 3, 0, 0, &t), 0);
	CHECK_INT(t, 2997);
	/* 29.97 - 10% (3.00, half up) = 26.97; + 20% (5.39) = 32.36 */
	CHECK_INT(price_total(999, 3, 10, 20, &t), 0);
	CHECK_INT(t, 3236);
	CHECK_INT(price_total(1, 1, 50, 0, &t), 0);	/* 0.5 cent rounds up */
	CHECK_INT(t, 0);
	CHECK_INT(price_total(1000, 0, 0, 25, &t), 0);
	CHECK_INT(t, 0);
	CHECK_INT(price_total(1000, 2, 100, 25, &t), 0);
	CHECK_INT(t, 0);
	CHECK_INT(price_total(100000000000LL, 10000, 0, 100, &t), 0);
	CHECK_INT(t, 2000000000000000LL);
}

static void
test_price_total_bad_input(void)
{
	long long t = 7;

	CHECK_INT(price_total(-1, 1, 0, 0, &t), -1);
	CHECK_INT(price_total(100000000001LL, 1, 0, 0, &t), -1);
	CHECK_INT(price_total(100, -1, 0, 0, &t), -1);
	CHECK_INT(price_total(100, 10001, 0, 0, &t), -1);
	CHECK_INT(price_total(100, 1, -1, 0, &t), -1);
	CHECK_INT(price_total(100, 1, 101, 0, &t), -1);
	CHECK_INT(price_total(100, 1, 0, -1, &t), -1);
	CHECK_INT(price_total(100, 1, 0, 101, &t), -1);
	CHECK_INT(price_total(100, 1, 0, 0, NULL), -1);
	CHECK_INT(t, 7);
}

/* ---- URLs ---- */

static void
test_url_decode(void)
{
	char out[32];
	const char *s;

	s = "%41da+Lovelace";
	CHECK_INT(url_decode(s, strlen(s), out, sizeof(out)), 0);
	CHECK_STR(out, "Ada Lovelace");
	s = "caf%C3%a9";
	CHECK_INT(url_decode(s, strlen(s), out, sizeof(out)), 0);
	CHECK_STR(out, "caf\xc3\xa9");
	CHECK_INT(url_decode("abc", 2, out, sizeof(out)), 0);
	CHECK_STR(out, "ab");
	CHECK_INT(url_decode("%4", 2, out, sizeof(out)), -1);
	CHECK_INT(url_decode("%41", 2, out, sizeof(out)), -1);	/* cut by len */
	CHECK_INT(url_decode("%zz", 3, out, sizeof(out)), -1);
	CHECK_INT(url_decode("%4g", 3, out, sizeof(out)), -1);
	CHECK_INT(url_decode("a%00b", 5, out, sizeof(out)), -1);
	CHECK_INT(url_decode("abcd", 4, out, 4), -1);
	CHECK_INT(url_decode("abc", 3, out, 4), 0);
	CHECK_INT(url_decode(NULL, 0, out, 4), -1);
}

static void
test_query_get(void)
{
	char out[16];

	CHECK_INT(query_get("name=Ada&hour=9", "hour", out, sizeof(out)), 1);
	CHECK_STR(out, "9");
	CHECK_INT(query_get("name=Ada&hour=9", "name", out, sizeof(out)), 1);
	CHECK_STR(out, "Ada");
	CHECK_INT(query_get("hourly=1&hour=2", "hour", out, sizeof(out)), 1);
	CHECK_STR(out, "2");
	CHECK_INT(query_get("flag&x=1", "flag", out, sizeof(out)), 1);
	CHECK_STR(out, "");
	CHECK_INT(query_get("a=1&&b=2", "b", out, sizeof(out)), 1);
	CHECK_STR(out, "2");
	CHECK_INT(query_get("a=1", "b", out, sizeof(out)), 0);
	CHECK_INT(query_get("", "b", out, sizeof(out)), 0);
	CHECK_INT(query_get("a=%zz", "a", out, sizeof(out)), -1);
	CHECK_INT(query_get("a=0123456789abcdefg", "a", out, sizeof(out)), -1);
	CHECK_INT(query_get(NULL, "a", out, sizeof(out)), -1);
}

/* ---- routing ---- */

static void
test_route(void)
{
	static const struct {
		const char *method, *target;
		int status;
		const char *body;
	} cases[] = {
		{ "GET", "/health", 200, "ok\n" },
		{ "GET", "/version", 200, GREET_VERSION "\n" },
		{ "GET", "/greet?name=Ada+Lovelace&hour=8", 200, "Good morning, Ada Lovelace!\n" },
		{ "GET", "/greet?name=Ada", 200, "Hello, Ada!\n" },
		{ "GET", "/slug?text=Hello%2C+World%21", 200, "hello-world\n" },
		{ "GET", "/price?amount=9.99&qty=3&discount=10&tax=20", 200, "32.36\n" },
		{ "GET", "/price?amount=9.99", 200, "9.99\n" },
		{ "GET", "/greet", 400, NULL },
		{ "GET", "/greet?name=Ada&hour=25", 400, NULL },
		{ "GET", "/greet?name=Ada&hour=nine", 400, NULL },
		{ "GET", "/greet?name=Ada&hour=%zz", 400, NULL },
		{ "GET", "/slug?text=%21%21", 400, NULL },
		{ "GET", "/price?amount=free", 400, NULL },
		{ "GET", "/price?amount=1&qty=-1", 400, NULL },
		{ "GET", "/nope", 404, NULL },
		{ "GET", "/healthz", 404, NULL },
		{ "POST", "/greet?name=Ada", 405, NULL },
	};
	char long_path[300];
	struct response r;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&r, 0, sizeof(r));
		http_route(cases[i].method, cases[i].target, &r);
		check_(r.status == cases[i].status, __FILE__, __LINE__,
		    "%s %s: status %d, want %d", cases[i].method, cases[i].target,
		    r.status, cases[i].status);
		if (cases[i].body)
			CHECK_STR(r.body, cases[i].body);
		else
			CHECK(r.body[0] != '\0' && r.body[strlen(r.body) - 1] == '\n' &&
			    (cases[i].status != 400 || !strncmp(r.body, "error: ", 7)));
	}
	long_path[0] = '/';
	memset(long_path + 1, 'a', sizeof(long_path) - 2);
	long_path[sizeof(long_path) - 1] = '\0';
	http_route("GET", long_path, &r);
	CHECK_INT(r.status, 404);
}

static void
test_reason(void)
{
	CHECK_STR(http_reason(200), "OK");
	CHECK_STR(http_reason(400), "Bad Request");
	CHECK_STR(http_reason(404), "Not Found");
	CHECK_STR(http_reason(405), "Method Not Allowed");
	CHECK_STR(http_reason(500), "Internal Server Error");
}

/* Feed req to http_handle; the response is returned (free it). */
static char *
handle(const char *req)
{
	FILE *in = fmemopen((void *)(size_t)req, strlen(req), "r");
	char *resp = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&resp, &len);

	if (!in || !out) {
		check_(0, __FILE__, __LINE__, "cannot open memory streams");
		if (in)
			fclose(in);
		if (out)
			fclose(out);
		free(resp);
		return NULL;
	}
	CHECK_INT(http_handle(in, out), 0);
	fclose(in);
	fclose(out);
	return resp;
}

static void
test_handle(void)
{
	char *resp;

	resp = handle("GET /greet?name=Ada&hour=20 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
	CHECK_STR(resp, "HTTP/1.0 200 OK\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: 19\r\n"
	    "Connection: close\r\n"
	    "\r\n"
	    "Good evening, Ada!\n");
	free(resp);

	resp = handle("GET /health HTTP/1.0\n\n");	/* bare LFs are fine */
	CHECK(resp && strstr(resp, "HTTP/1.0 200 OK\r\n") == resp);
	CHECK(resp && strstr(resp, "\r\n\r\nok\n"));
	free(resp);

	resp = handle("GET /missing HTTP/1.1\r\n\r\n");
	CHECK(resp && strstr(resp, "HTTP/1.0 404 Not Found\r\n") == resp);
	free(resp);
}

static void
test_handle_bad_requests(void)
{
	static const char *const bad[] = {
		"",				/* nothing at all */
		"GET /health\r\n\r\n",		/* no version */
		"GET /health SPDY/3\r\n\r\n",	/* not HTTP/1.x */
		"GET health HTTP/1.1\r\n\r\n",	/* not a path */
		"GET /health HTTP/1.1",		/* no end of line */
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *resp = handle(bad[i]);

		check_(resp && strstr(resp, "HTTP/1.0 400 Bad Request\r\n") == resp,
		    __FILE__, __LINE__, "request %zu: got \"%.40s\"", i, resp ? resp : "(null)");
		free(resp);
	}
}

static const struct test tests[] = {
	{ "greeting", "times_of_day", test_greeting_times_of_day },
	{ "greeting", "bad_input", test_greeting_bad_input },
	{ "slug", "slugify", test_slugify },
	{ "slug", "bad_input", test_slugify_bad_input },
	{ "price", "parse", test_price_parse },
	{ "price", "parse_bad_input", test_price_parse_bad_input },
	{ "price", "format", test_price_format },
	{ "price", "total", test_price_total },
	{ "price", "total_bad_input", test_price_total_bad_input },
	{ "http", "url_decode", test_url_decode },
	{ "http", "query_get", test_query_get },
	{ "http", "route", test_route },
	{ "http", "reason", test_reason },
	{ "http", "handle", test_handle },
	{ "http", "handle_bad_requests", test_handle_bad_requests },
};

int
main(int argc, char **argv)
{
	return run_tests("unit", tests, sizeof(tests) / sizeof(tests[0]),
	    argc > 1 ? argv[1] : NULL);
}
