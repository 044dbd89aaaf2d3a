/*
 * Token answers: net/auth's auth_token_get() against a server in this
 * process (serve.h) that answers with the input, a raw HTTP response:
 * the status line and headers through net/http, the JSON token answer
 * through net/auth.  Basic credentials, one attempt, a fresh cache.
 */
#include "net/auth.h"
#include "fuzz.h"
#include "serve.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char realm[64];
	static char *const scopes[] = { "repository:team/app:pull,push" };
	struct auth_creds creds = { "alice", "secret", NULL, "--username" };
	struct http_opts ho;
	struct auth_token_req q;
	struct auth_tokens tc = { NULL, 0 };
	struct err e = { 0, "" };
	const char *tok;

	fuzz_init();
	if (!realm[0])
		snprintf(realm, sizeof(realm), "http://127.0.0.1:%d/token",
		    serve_start(SERVE_HTTP, NULL, 0));
	serve_set(data, size);
	memset(&ho, 0, sizeof(ho));
	ho.connect_timeout_ms = 2000;
	ho.max_time_ms = 5000;
	memset(&q, 0, sizeof(q));
	q.realm = realm;
	q.service = "registry.test";
	q.scopes = scopes;
	q.nscopes = 1;
	q.creds = &creds;
	q.http = &ho;
	q.allow_http = 1;
	q.retries = 1;
	auth_token_get(&tc, &q, &tok, &e);
	auth_tokens_free(&tc);
	return 0;
}
