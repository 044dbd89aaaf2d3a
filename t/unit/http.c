/* Unit tests for net/http's parsers: challenges, Retry-After, URLs; and
 * http_wait() against a port nothing listens on. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "net/http.h"
#include "port.h"
#include "tap.h"

static void
test_wait(void)
{
	static volatile sig_atomic_t stop;
	struct http_wait w;
	struct err e = { 0, "" };
	char url[128], shown[128];
	int port = closed_port();

	snprintf(url, sizeof(url), "http://alice:hunter2@127.0.0.1:%d/health", port);
	snprintf(shown, sizeof(shown), "'http://***@127.0.0.1:%d/health' was not ready after 300ms",
	    port);
	memset(&w, 0, sizeof(w));
	w.url = url;
	w.timeout_ms = 300;
	w.accept_3xx = 1;
	is_int(http_wait(&w, &e), -1, "wait: nothing listens, not ready");
	is_int(e.code, EX_FAIL, "wait: a verdict, exit 1");
	like(e.msg, shown, "wait: the message names the URL, its userinfo as ***");
	ok(!strstr(e.msg, "hunter2") && !strstr(e.msg, "alice"), "wait: no password in it");
	ok(w.attempts >= 1 && w.status == 0, "wait: asked, got no answer");
	stop = SIGTERM;
	w.stop = &stop;
	w.shown = "the service";
	is_int(http_wait(&w, &e), -1, "wait: a signal stops it");
	is_int(e.code, EX_TEMP, "wait: exit 75 then");
	is_str(e.msg, "interrupted while waiting for 'the service'", "wait: saying so, as shown");
	is_int(w.attempts, 0, "wait: before asking");
}

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
	struct http_url u;
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
	is_int(http_retry_after_ms("Wed, 21 Oct 20300 07:28:00 GMT"), 86400000,
	    "a date far ahead is bounded to a day, as seconds are");
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
	/* Dot segments, RFC 3986 section 5.2.4. */
	resolve("http://h:5000/v2/app/blobs/uploads/", "../uploads/u1", "http://h:5000/v2/app/blobs/uploads/u1");
	resolve("http://h/v2/a/b/c", "../../x", "http://h/v2/x");
	resolve("http://h/v2/a", "../../../../x", "http://h/x");
	resolve("http://h/v2/a/./b/../c", "d", "http://h/v2/a/d");
	/* An encoded slash is part of a segment, not a separator. */
	resolve("http://h/v2/team%2Fapp/blobs/x", "y", "http://h/v2/team%2Fapp/blobs/y");
	resolve("http://h/v2/team%2Fapp/blobs/x", "../z", "http://h/v2/team%2Fapp/z");
	resolve("http://h/v2/", "/v2/a?_state=a%2Fb%3D%3D&x=y+z", "http://h/v2/a?_state=a%2Fb%3D%3D&x=y+z");
	/* Userinfo is never carried on; a fragment is never sent. */
	resolve("http://h/v2/", "http://user:secret@other.example/x", "http://other.example/x");
	resolve("http://user:secret@h/v2/a", "b#frag", "http://h/v2/b");
	resolve("http://[::1]:5000/v2/a/b", "../c", "http://[::1]:5000/v2/c");
	s = http_resolve("http://h/", "ftp://h/x");
	ok(s == NULL, "a Location that is not http(s) is refused");
	free(s);
	s = http_resolve("http://h/", "http://other/x y");
	ok(s == NULL, "a malformed Location is refused");
	free(s);

	ok(http_url_parse("https://alice:hunter2@Reg.Example:8443/v2/?q#f", &u) == 0, "parse a URL");
	is_str(u.url, "https://Reg.Example:8443/v2/?q", "... without userinfo and fragment");
	ok(!strstr(u.url, "hunter2") && !strstr(u.hostport, "alice"), "... the password is gone");
	is_str(u.scheme, "https", "... scheme");
	is_str(u.hostport, "Reg.Example:8443", "... host:port as named");
	is_int(u.port, 8443, "... port");
	http_url_free(&u);
	ok(http_url_parse("HTTP://h/x", &u) == 0 && !strcmp(u.scheme, "http") && u.port == 80 &&
	    !strcmp(u.hostport, "h"), "default port, no port named");
	http_url_free(&u);
	ok(http_url_parse("http://[::1]:5000/v2/", &u) == 0 && !strcmp(u.host, "[::1]") &&
	    !strcmp(u.hostport, "[::1]:5000") && u.port == 5000, "IPv6 host and port");
	http_url_free(&u);
	ok(http_url_parse("/token", &u) < 0, "a relative URL is not absolute");
	ok(http_url_parse("Registry Realm", &u) < 0, "... nor is a phrase");
	ok(http_url_parse(NULL, &u) < 0, "... nor NULL");

	ok(http_same_origin("https://a.example/x", "https://a.example:443/y"), "default https port");
	ok(http_same_origin("http://A.example/x", "http://a.example:80"), "case and default http port");
	ok(http_same_origin("http://h:80/v2/", "http://h/v2/"), "http://h:80 and http://h");
	ok(!http_same_origin("http://h:443/", "https://h/"), "same port number, other scheme");
	ok(!http_same_origin("https://h:80/", "http://h/"), "... the other way round");
	ok(!http_same_origin("https://a.example/x", "http://a.example/x"), "scheme differs");
	ok(!http_same_origin("https://a.example/x", "https://b.example/x"), "host differs");
	ok(!http_same_origin("http://127.0.0.1:5000/", "http://127.0.0.1:5001/"), "port differs");
	ok(!http_same_origin("https://a.example@b.example/", "https://a.example/"), "userinfo is not the host");
	ok(http_same_origin("https://u:p@a.example/", "https://a.example/"), "... and does not change it");
	ok(!http_same_origin("https://a.example%2Fb.example/", "https://a.example/"), "an encoded slash in the host");
	ok(http_same_origin("http://[::1]:5000/v2/", "http://[::1]:5000/x"), "IPv6 literal");
	ok(http_same_origin("http://[0:0::1]:5000/", "http://[::1]:5000/"), "IPv6 literal, two spellings");
	ok(!http_same_origin("http://[::1]:5000/", "http://[::1]:5001/"), "IPv6 literal, port differs");
	ok(!http_same_origin("http://[::1]/", "http://127.0.0.1/"), "IPv6 and IPv4 loopback differ");
	ok(!http_same_origin("/v2/", "/v2/"), "relative URLs have no origin");

	s = http_url_add_query("https://auth.example/token", "scope", "repository:a/b:pull,push");
	is_str(s, "https://auth.example/token?scope=repository%3Aa%2Fb%3Apull%2Cpush", "add a query parameter");
	free(s);
	s = http_url_add_query("https://auth.example/token?x=1#f", "service", "reg example");
	is_str(s, "https://auth.example/token?x=1&service=reg%20example", "... after an existing one");
	free(s);
	s = http_url_add_query("https://auth.example/token?", "a", "b");
	is_str(s, "https://auth.example/token?a=b", "... after an empty query");
	free(s);
	s = http_url_add_query("not a url", "a", "b");
	ok(s == NULL, "... not to a non-URL");
	free(s);
	log_init("http.t");
	log_set_level(LOG_QUIET);
	test_wait();
	return done_testing();
}
