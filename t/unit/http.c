/* Unit tests for lib/http's parsers: challenges, Retry-After, URLs. */
#include <stdlib.h>
#include <string.h>

#include "net/http.h"
#include "tap.h"

static void
challenge(const char *h, const char *scheme, const char *realm, const char *service,
    const char *scope, const char *error)
{
	struct http_challenge c;

	if (!ok(http_parse_challenge(h, &c) == 0, "parses: %s", h))
		return;
	is_str(c.scheme, scheme, "scheme");
	is_str(c.realm, realm, "realm");
	is_str(c.service, service, "service");
	is_str(c.scope, scope, "scope");
	is_str(c.error, error, "error");
	http_challenge_free(&c);
}

static void
resolve(const char *base, const char *loc, const char *want)
{
	char *got = http_resolve(base, loc);

	is_str(got, want, "resolve '%s' against '%s'", loc, base);
	free(got);
}

int
main(void)
{
	struct http_challenge c;
	char *s;

	challenge("Bearer realm=\"https://auth.example.com/token\",service=\"registry.example.com\",scope=\"repository:app:pull,push\"",
	    "Bearer", "https://auth.example.com/token", "registry.example.com", "repository:app:pull,push", NULL);
	challenge("Basic realm=\"Registry Realm\"", "Basic", "Registry Realm", NULL, NULL, NULL);
	challenge("Bearer realm=\"r\", error=\"insufficient_scope\", scope=\"repository:a:push\"",
	    "Bearer", "r", NULL, "repository:a:push", "insufficient_scope");
	challenge("Bearer realm=\"a\\\"b\"", "Bearer", "a\"b", NULL, NULL, NULL);
	challenge("Bearer realm=unquoted,service=svc", "Bearer", "unquoted", "svc", NULL, NULL);
	challenge("Basic", "Basic", NULL, NULL, NULL, NULL);
	ok(http_parse_challenge("", &c) == -1, "empty challenge refused");
	ok(http_parse_challenge("Bearer realm=\"unterminated", &c) == -1, "unterminated quote refused");
	ok(http_parse_challenge("Bearer =x", &c) == -1, "missing parameter name refused");

	is_int(http_retry_after_ms("3"), 3000, "Retry-After seconds");
	is_int(http_retry_after_ms("0"), 0, "Retry-After 0");
	is_int(http_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT"), 0, "a past date means now");
	ok(http_retry_after_ms("Fri, 31 Dec 2100 23:59:59 GMT") > 1000, "a future date means later");
	is_int(http_retry_after_ms("soon"), -1, "garbage refused");
	is_int(http_retry_after_ms(NULL), -1, "missing");
	is_int(http_retry_after_ms("-5"), -1, "negative refused");

	s = http_urlencode("repository:a/b:pull,push ~x");
	is_str(s, "repository%3Aa%2Fb%3Apull%2Cpush%20~x", "urlencode");
	free(s);

	resolve("http://127.0.0.1:5000/v2/app/blobs/uploads/", "/v2/app/blobs/uploads/uuid?_state=x",
	    "http://127.0.0.1:5000/v2/app/blobs/uploads/uuid?_state=x");
	resolve("http://h/v2/a/b", "https://other/x", "https://other/x");
	resolve("https://h:8443/v2/a/b?q=1", "c?d", "https://h:8443/v2/a/c?d");
	resolve("https://h/v2/a/b", "//cdn.example/x", "https://cdn.example/x");
	resolve("https://h", "x", "https://h/x");

	ok(http_same_origin("https://a.example/x", "https://a.example:443/y"), "default https port");
	ok(http_same_origin("http://A.example/x", "http://a.example:80"), "case and default http port");
	ok(!http_same_origin("https://a.example/x", "http://a.example/x"), "scheme differs");
	ok(!http_same_origin("https://a.example/x", "https://b.example/x"), "host differs");
	ok(!http_same_origin("http://127.0.0.1:5000/", "http://127.0.0.1:5001/"), "port differs");
	ok(!http_same_origin("https://a.example@b.example/", "https://a.example/"), "userinfo is not the host");
	ok(http_same_origin("http://[::1]:5000/v2/", "http://[::1]:5000/x"), "IPv6 literal");
	return done_testing();
}
