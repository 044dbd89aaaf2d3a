/*
 * HTTP headers: net/http's parsers of what a server sends, the input as
 * one header value: WWW-Authenticate (http_parse_challenge), Retry-After
 * (http_retry_after_ms), a token (http_token_ok), and a Location
 * resolved against a registry's upload URL (http_resolve, http_url_parse,
 * http_same_origin: the libcurl URL API under our rules).
 */
#include "net/http.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char base[] = "https://reg.example:5000/v2/team/app/blobs/uploads/?x=1";
	struct http_challenge c;
	struct http_url u;
	char *v, *r;

	fuzz_init();
	v = fuzz_str(data, size);
	if (http_parse_challenge(v, &c) == 0)
		http_challenge_free(&c);
	http_retry_after_ms(v);
	http_token_ok(v);
	if (http_url_parse(v, &u) == 0)
		http_url_free(&u);
	if ((r = http_resolve(base, v))) {
		http_same_origin(base, r);
		free(r);
	}
	free(v);
	return 0;
}
