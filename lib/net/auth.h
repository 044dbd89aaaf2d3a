/*
 * auth: registry credentials and bearer tokens.
 *
 * auth_find() looks credentials up for one registry host, first match
 * wins:
 *   1. the command line (--username with a password from --password-stdin
 *      or --password-file, or CI_REGISTRY_PASSWORD), for every registry;
 *   2. CI_REGISTRY_USER and CI_REGISTRY_PASSWORD, for the host named by
 *      CI_REGISTRY when that is set, else for every registry;
 *   3. the auth file: --authfile, else $REGISTRY_AUTH_FILE, else
 *      $DOCKER_CONFIG/config.json, else ~/.docker/config.json; in it
 *      credHelpers[HOST] (runs docker-credential-NAME get), then
 *      auths[HOST] ("auth": base64 of user:password, or "username" and
 *      "password", or "identitytoken"), then credsStore (a helper for
 *      every host).  Keys may be written "HOST", "https://HOST" or
 *      "https://HOST/v1/"; docker.io also matches index.docker.io.
 *   4. none: anonymous.
 *
 * Tokens: auth_token_get() returns a bearer token for a realm, service and
 * set of scopes, from the cache while it is fresh, else from the token
 * server (GET with Basic credentials, or an OAuth2 POST with the refresh
 * token when only an identity token is known).  Connection errors, 408,
 * 429 and 5xx are retried with core/retry's backoff, a Retry-After as its
 * floor.  The realm is parsed by net/http: its user:password@, if any, is
 * neither sent nor printed.
 *
 * Secrets (passwords, identity tokens, bearer tokens, helper output) are
 * wiped before they are freed and never appear in a message: messages say
 * where credentials came from (their source), never what they are.
 * Ownership: struct auth_creds and struct auth_tokens own their strings.
 */
#ifndef CI_AUTH_H
#define CI_AUTH_H

#include "net/http.h"
#include "core/log.h"

#define AUTH_HELPER_TIMEOUT_MS 30000

struct auth_creds {
	char *username;
	char *password;			/* secret, or NULL */
	char *identity_token;		/* secret (OAuth2 refresh token), or NULL */
	char *source;			/* "--username", "CI_REGISTRY_USER", "FILE", "docker-credential-NAME" */
};

struct auth_sources {
	const char *username;		/* from --username, or NULL */
	const char *password;		/* from --password-stdin/--password-file, or NULL */
	const char *authfile;		/* --authfile, or NULL */
};

/*
 * Credentials for registry (a host as in a reference: "localhost:5000",
 * "docker.io").  Returns 1 when found, 0 when there are none (anonymous),
 * -1 on error: EX_AUTH for a credential helper that is missing or fails,
 * EX_USAGE_ for an auth file that does not parse or --username without a
 * password.
 */
int auth_find(const struct auth_sources *s, const char *registry, struct auth_creds *c,
    struct err *e);
void auth_creds_free(struct auth_creds *c);
/* "Basic BASE64(user:password)" (a secret: free with free_secret()). */
char *auth_basic(const struct auth_creds *c);
/* "the credentials of 'alice' (from SOURCE)" or "anonymous access", for messages. */
void auth_describe(const struct auth_creds *c, char *out, size_t outsz);

/* ---- bearer tokens ------------------------------------------------------ */

struct auth_token {
	char *key;			/* realm, service and sorted scopes */
	char *token;			/* secret */
	long long expires_ms;		/* monotonic */
};

struct auth_tokens {
	struct auth_token *v;
	size_t n;
};

struct auth_token_req {
	const char *realm;		/* from the challenge */
	const char *service;		/* may be NULL */
	char *const *scopes;		/* "repository:team/app:pull,push", ... */
	size_t nscopes;
	const struct auth_creds *creds;	/* NULL: anonymous */
	const struct http_opts *http;
	int allow_http;			/* the realm may be plain http:// */
	int retries;			/* attempts; 0: 3 */
	long long retry_time_ms;	/* retrying stops after this; 0: no bound */
};

/*
 * A token for q from the cache, or fetched (and cached).  *token is
 * borrowed from tc.  Errors: EX_AUTH when the token server refuses the
 * credentials, EX_SERVICE when it cannot be reached or answers nonsense,
 * EX_USAGE_ for a realm that is not http(s) or plain http not allowed.
 */
int auth_token_get(struct auth_tokens *tc, const struct auth_token_req *q,
    const char **token, struct err *e);
/* Forget the token cached for q (the registry refused it). */
void auth_token_drop(struct auth_tokens *tc, const struct auth_token_req *q);
void auth_tokens_free(struct auth_tokens *tc);

#endif
