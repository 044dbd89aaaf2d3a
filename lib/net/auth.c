#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "net/auth.h"
#include "core/buf.h"
#include "core/encode.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "core/proc.h"
#include "core/retry.h"
#include "core/timeutil.h"

#define AUTHFILE_MAX (1u << 20)
#define HELPER_OUT_MAX (64u << 10)
#define HELPER_ERR_TAIL 4096		/* the helper's stderr, read by no one */
#define HELPER_GRACE_MS 2000		/* SIGTERM to SIGKILL at the timeout */
#define TOKEN_BODY_MAX (1u << 20)
#define DOCKER_HUB_URL "https://index.docker.io/v1/"
#define TOKEN_BACKOFF_BASE_MS 200
#define TOKEN_BACKOFF_CAP_MS 5000

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void
creds_set(struct auth_creds *c, const char *user, const char *pass, const char *idtok,
    const char *source)
{
	c->username = dup_or_null(user);
	c->password = dup_or_null(pass);
	c->identity_token = dup_or_null(idtok);
	c->source = xstrdup(source);
}

void
auth_creds_free(struct auth_creds *c)
{
	free(c->username);
	free_secret(c->password);
	free_secret(c->identity_token);
	free(c->source);
	memset(c, 0, sizeof(*c));
}

static int
is_docker_hub(const char *host)
{
	return !strcasecmp(host, "docker.io") || !strcasecmp(host, "index.docker.io") ||
	    !strcasecmp(host, "registry-1.docker.io");
}

/* Does an auths/credHelpers key name registry?  Keys are "h:5000" or a
 * URL, "https://h:5000/v1/" (its host and the port it names). */
static int
key_matches(const char *key, const char *registry)
{
	struct http_url u;
	size_t n;
	char host[512];
	int rc;

	if (strstr(key, "://")) {
		if (http_url_parse(key, &u) < 0)
			return 0;
		rc = !strcasecmp(u.hostport, registry) ||
		    (is_docker_hub(u.host) && is_docker_hub(registry));
		http_url_free(&u);
		return rc;
	}
	n = strcspn(key, "/");
	if (n == 0 || n >= sizeof(host))
		return 0;
	memcpy(host, key, n);
	host[n] = '\0';
	if (!strcasecmp(host, registry))
		return 1;
	return is_docker_hub(host) && is_docker_hub(registry);
}

static const cJSON *
find_key(const cJSON *obj, const char *registry)
{
	const cJSON *it;

	if (!cJSON_IsObject(obj))
		return NULL;
	/* An exact key first, then the spellings with a scheme or path. */
	cJSON_ArrayForEach(it, obj)
		if (!strcasecmp(it->string, registry))
			return it;
	cJSON_ArrayForEach(it, obj)
		if (key_matches(it->string, registry))
			return it;
	return NULL;
}

static int
valid_helper_name(const char *s)
{
	if (!*s || strlen(s) > 100)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return 0;
	return 1;
}

/*
 * Run "docker-credential-NAME get" with server on stdin, through core/proc:
 * in its own process group, its stdout captured up to HELPER_OUT_MAX into
 * r, its stderr (which may hold anything) kept off ours, the whole group
 * killed at the timeout.  Returns the exit status (>= 0), or -1 with e set
 * when it could not run, did not answer in time, was killed or wrote too
 * much.  r holds the output either way: the caller frees it.
 */
static int
run_helper(const char *name, const char *server, const char *why,
    struct proc_result *r, struct err *e)
{
	struct proc_spec spec;
	char prog[128];
	char *argv[3];

	snprintf(prog, sizeof(prog), "docker-credential-%s", name);
	argv[0] = prog;
	argv[1] = (char *)"get";
	argv[2] = NULL;
	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	spec.in_data = server;
	spec.in_len = strlen(server);
	spec.out_cap = HELPER_OUT_MAX;
	spec.tail_bytes = HELPER_ERR_TAIL;
	spec.timeout_ms = AUTH_HELPER_TIMEOUT_MS;
	spec.grace_ms = HELPER_GRACE_MS;
	if (proc_capture(&spec, r, e) == 0) {
		/* The protocol's command-not-found, from a shell wrapper. */
		if (r->status == 127 && r->out_len == 0)
			return err_set(e, EX_AUTH, "credential helper '%s' could not run "
			    "(exit status 127) (%s)", prog, why);
		return r->status;
	}
	if (r->status == -1)
		return err_prefix(e, "cannot run credential helper '%s' (%s)", prog, why);
	if (r->exec_errno)
		return err_set(e, EX_AUTH, "credential helper '%s' %s (%s)", prog,
		    r->exec_errno == ENOENT ? "is not installed: not found in PATH" :
		    strerror(r->exec_errno), why);
	if (r->timed_out)
		return err_set(e, EX_AUTH, "credential helper '%s' did not answer within "
		    "%d s (%s)", prog, AUTH_HELPER_TIMEOUT_MS / 1000, why);
	if (r->overflowed)
		return err_set(e, EX_AUTH, "credential helper '%s' wrote more than %u bytes (%s)",
		    prog, HELPER_OUT_MAX, why);
	return err_set(e, EX_AUTH, "credential helper '%s' was %s (%s)", prog, r->how, why);
}

static int
from_helper(const char *name, const char *registry, const char *why, struct auth_creds *c,
    struct err *e)
{
	struct proc_result out;
	cJSON *j;
	const char *user, *secret;
	char src[160];
	int st, rc = -1;

	if (!valid_helper_name(name))
		return err_set(e, EX_AUTH, "bad credential helper name '%.100s' (%s)", name, why);
	st = run_helper(name, is_docker_hub(registry) ? DOCKER_HUB_URL : registry, why, &out, e);
	if (st < 0)
		goto done;
	if (st != 0) {
		/* The protocol's way to say "nothing stored for that host". */
		if (strstr(out.out, "credentials not found"))
			rc = 0;
		else
			err_set(e, EX_AUTH, "credential helper 'docker-credential-%s' failed with exit "
			    "status %d for '%s' (%s)", name, st, registry, why);
		goto done;
	}
	j = json_parse(out.out, out.out_len, NULL, NULL, e);
	if (!j || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		err_set(e, EX_AUTH, "credential helper 'docker-credential-%s' answered something "
		    "other than a JSON object for '%s' (%s)", name, registry, why);
		goto done;
	}
	user = json_str(j, "Username");
	secret = json_str(j, "Secret");
	if (!secret || !*secret) {
		err_set(e, EX_AUTH, "credential helper 'docker-credential-%s' gave no Secret for "
		    "'%s' (%s)", name, registry, why);
	} else {
		snprintf(src, sizeof(src), "docker-credential-%s", name);
		/* Username "<token>" marks an identity token. */
		if (user && !strcmp(user, "<token>"))
			creds_set(c, NULL, NULL, secret, src);
		else
			creds_set(c, user ? user : "", secret, NULL, src);
		rc = 1;
	}
	{
		/* Wipe the secret strings inside the tree before freeing it. */
		cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "Secret");

		if (cJSON_IsString(s))
			memset(s->valuestring, 0, strlen(s->valuestring));
	}
	cJSON_Delete(j);
done:
	proc_result_free(&out);
	return rc;
}

static int
from_auths_entry(const cJSON *ent, const char *file, const char *registry,
    struct auth_creds *c, struct err *e)
{
	const char *auth = json_str(ent, "auth"), *idtok = json_str(ent, "identitytoken");
	const char *user = json_str(ent, "username"), *pass = json_str(ent, "password");

	if (!cJSON_IsObject(ent))
		return err_set(e, EX_USAGE_, "%s: auths['%s']: expected an object", file, ent->string);
	if (auth && *auth) {
		size_t len = 0;
		unsigned char *raw = NULL;
		char *dec, *colon;

		/* Decoded data ends in a NUL (core/encode.h): a string. */
		if (b64_decode(auth, strlen(auth), B64_STD, &raw, &len) < 0)
			raw = NULL;
		dec = (char *)raw;
		if (!dec || memchr(dec, '\0', len) || !(colon = strchr(dec, ':'))) {
			free_secret(dec);
			return err_set(e, EX_USAGE_, "%s: auths['%s'].auth: expected base64 of "
			    "user:password", file, ent->string);
		}
		*colon = '\0';
		creds_set(c, dec, colon + 1, idtok && *idtok ? idtok : NULL, file);
		free_secret(dec);
		return 1;
	}
	if (user && pass && *user) {
		creds_set(c, user, pass, idtok && *idtok ? idtok : NULL, file);
		return 1;
	}
	if (idtok && *idtok) {
		creds_set(c, NULL, NULL, idtok, file);
		return 1;
	}
	(void)registry;
	return 0;	/* an empty entry: docker writes them when a store holds the secret */
}

static const char *
default_authfile(char *out, size_t outsz)
{
	const char *p = getenv("REGISTRY_AUTH_FILE");
	const char *home;

	if (p && *p)
		return p;
	p = getenv("DOCKER_CONFIG");
	if (p && *p) {
		snprintf(out, outsz, "%s/config.json", p);
		return out;
	}
	home = getenv("HOME");
	if (!home || !*home)
		return NULL;
	snprintf(out, outsz, "%s/.docker/config.json", home);
	return out;
}

static int
from_file(const char *file, int explicit, const char *registry, struct auth_creds *c,
    struct err *e)
{
	char *text, why[600];
	size_t len;
	cJSON *root;
	const cJSON *helpers, *ent, *store;
	int rc = 0;

	if (!explicit && !path_exists(file))
		return 0;
	text = read_file(file, AUTHFILE_MAX, &len, e);
	if (!text)
		return err_prefix(e, "auth file");
	root = json_parse(text, len, &(struct json_opts){ file, 0, 0 }, NULL, e);
	free_secret(text);
	if (!root) {
		e->code = EX_USAGE_;
		return -1;
	}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return err_set(e, EX_USAGE_, "%s: expected a JSON object", file);
	}
	helpers = cJSON_GetObjectItemCaseSensitive(root, "credHelpers");
	if ((ent = find_key(helpers, registry)) != NULL) {
		if (!cJSON_IsString(ent)) {
			rc = err_set(e, EX_USAGE_, "%s: credHelpers['%s']: expected a helper name",
			    file, ent->string);
		} else {
			snprintf(why, sizeof(why), "named by credHelpers in %s for '%s'", file,
			    ent->string);
			rc = from_helper(ent->valuestring, registry, why, c, e);
		}
		goto out;
	}
	ent = find_key(cJSON_GetObjectItemCaseSensitive(root, "auths"), registry);
	if (ent && (rc = from_auths_entry(ent, file, registry, c, e)) != 0)
		goto out;
	store = cJSON_GetObjectItemCaseSensitive(root, "credsStore");
	if (cJSON_IsString(store) && *store->valuestring) {
		snprintf(why, sizeof(why), "named by credsStore in %s", file);
		rc = from_helper(store->valuestring, registry, why, c, e);
	}
out:
	cJSON_Delete(root);
	return rc;
}

int
auth_find(const struct auth_sources *s, const char *registry, struct auth_creds *c,
    struct err *e)
{
	const char *eu = getenv("CI_REGISTRY_USER"), *ep = getenv("CI_REGISTRY_PASSWORD");
	const char *ehost = getenv("CI_REGISTRY"), *file;
	char path[4096];

	memset(c, 0, sizeof(*c));
	if (s && s->username) {
		const char *pw = s->password ? s->password : ep;

		if (!pw)
			return err_set(e, EX_USAGE_, "--username '%s' needs a password: "
			    "--password-stdin, --password-file or CI_REGISTRY_PASSWORD", s->username);
		creds_set(c, s->username, pw, NULL, "--username");
		return 1;
	}
	if (eu && *eu && ep && (!ehost || !*ehost || key_matches(ehost, registry))) {
		creds_set(c, eu, ep, NULL, "CI_REGISTRY_USER");
		return 1;
	}
	if (s && s->authfile)
		return from_file(s->authfile, 1, registry, c, e);
	file = default_authfile(path, sizeof(path));
	if (!file)
		return 0;
	/* A default file that is missing just means anonymous. */
	return from_file(file, 0, registry, c, e);
}

char *
auth_basic(const struct auth_creds *c)
{
	char *plain = xasprintf("%s:%s", c->username ? c->username : "",
	    c->password ? c->password : "");
	char *enc = b64_encode(plain, strlen(plain), B64_STD, 1);
	char *out = xasprintf("Basic %s", enc);

	free_secret(plain);
	free_secret(enc);
	return out;
}

void
auth_describe(const struct auth_creds *c, char *out, size_t outsz)
{
	if (!c || (!c->username && !c->identity_token))
		snprintf(out, outsz, "anonymous access");
	else if (c->username && *c->username)
		snprintf(out, outsz, "the credentials of '%.100s' (from %.300s)", c->username,
		    c->source ? c->source : "?");
	else
		snprintf(out, outsz, "the identity token (from %.300s)", c->source ? c->source : "?");
}

/* ---- tokens --------------------------------------------------------------- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
token_key(const struct auth_token_req *q)
{
	struct buf b = BUF_INIT;
	char **s = xcalloc(q->nscopes + 1, sizeof(*s));
	size_t i;

	for (i = 0; i < q->nscopes; i++)
		s[i] = q->scopes[i];
	qsort(s, q->nscopes, sizeof(*s), cmp_str);
	buf_addf(&b, "%s|%s|%s", q->realm, q->service ? q->service : "",
	    q->creds && (q->creds->username || q->creds->identity_token) ? "auth" : "anon");
	for (i = 0; i < q->nscopes; i++)
		buf_addf(&b, "|%s", s[i]);
	free(s);
	return buf_detach(&b, NULL);
}

static struct auth_token *
token_find(struct auth_tokens *tc, const char *key)
{
	size_t i;

	for (i = 0; i < tc->n; i++)
		if (!strcmp(tc->v[i].key, key))
			return &tc->v[i];
	return NULL;
}

static void
token_remove(struct auth_tokens *tc, struct auth_token *t)
{
	size_t i = (size_t)(t - tc->v);

	free(t->key);
	free_secret(t->token);
	memmove(&tc->v[i], &tc->v[i + 1], (tc->n - i - 1) * sizeof(*tc->v));
	tc->n--;
}

void
auth_token_drop(struct auth_tokens *tc, const struct auth_token_req *q)
{
	char *key = token_key(q);
	struct auth_token *t = token_find(tc, key);

	if (t)
		token_remove(tc, t);
	free(key);
}

void
auth_tokens_free(struct auth_tokens *tc)
{
	size_t i;

	for (i = 0; i < tc->n; i++) {
		free(tc->v[i].key);
		free_secret(tc->v[i].token);
	}
	free(tc->v);
	memset(tc, 0, sizeof(*tc));
}

/* The URL of a GET token request: realm?service=..&scope=..&scope=..
 * (realm is a parsed http(s) URL, so adding to it cannot fail). */
static char *
token_url(const char *realm, const struct auth_token_req *q)
{
	char *url = xstrdup(realm), *next;
	size_t i;

	if (q->service) {
		next = http_url_add_query(url, "service", q->service);
		free(url);
		url = next;
	}
	for (i = 0; url && i < q->nscopes; i++) {
		next = http_url_add_query(url, "scope", q->scopes[i]);
		free(url);
		url = next;
	}
	return url ? url : xstrdup(realm);
}

/* The form body of an OAuth2 refresh-token request. */
static char *
token_form(const struct auth_token_req *q)
{
	struct buf b = BUF_INIT;
	char *v;
	size_t i;

	v = http_urlencode(q->creds->identity_token);
	buf_addf(&b, "grant_type=refresh_token&client_id=ci-tools&refresh_token=%s", v);
	free_secret(v);
	if (q->service) {
		v = http_urlencode(q->service);
		buf_addf(&b, "&service=%s", v);
		free(v);
	}
	if (q->nscopes) {
		struct buf s = BUF_INIT;

		for (i = 0; i < q->nscopes; i++)
			buf_addf(&s, "%s%s", i ? " " : "", q->scopes[i]);
		v = http_urlencode(buf_str(&s));
		buf_addf(&b, "&scope=%s", v);
		free(v);
		buf_free(&s);
	}
	return buf_detach(&b, NULL);
}

/* GET (or POST, for a refresh token) a token from realm, a checked
 * http(s) URL without userinfo: it names the server in messages. */
static int
fetch_token(const struct auth_token_req *q, const char *realm, char **token,
    long long *expires_in_ms, struct err *e)
{
	struct http_opts ho;
	struct retry_policy pol = { 0, TOKEN_BACKOFF_BASE_MS, TOKEN_BACKOFF_CAP_MS, 0 };
	struct retry_state rs = { 0, 0 };
	int use_form = q->creds && q->creds->identity_token && !q->creds->password;
	int rc = -1;

	memset(&ho, 0, sizeof(ho));
	if (q->http)
		ho = *q->http;
	ho.body_max = TOKEN_BODY_MAX;
	ho.follow = 0;
	pol.max_attempts = q->retries > 0 ? q->retries : 3;
	pol.max_total_ms = q->retry_time_ms;
	for (;;) {
		struct http_response resp = HTTP_RESPONSE_INIT;
		struct curl_slist *h = NULL;
		char *url = use_form ? xstrdup(realm) : token_url(realm, q), *form = NULL, *basic = NULL;
		char *hdr = NULL;
		CURL *c = http_easy(&ho, &resp);
		cJSON *j;
		const char *tok;
		long long exp, retry_after = -1, wait, left;
		int retry = 0;

		if (!c) {
			free(url);
			return err_set(e, EX_INTERNAL, "cannot create a curl handle");
		}
		curl_easy_setopt(c, CURLOPT_URL, url);
		/* After a failure, end within what is left of the retry time. */
		if ((left = retry_left_ms(&pol, &rs)) > 0)
			curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left);
		if (use_form) {
			form = token_form(q);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
			h = curl_slist_append(h, "Content-Type: application/x-www-form-urlencoded");
		} else if (q->creds && q->creds->username) {
			basic = auth_basic(q->creds);
			hdr = xasprintf("Authorization: %s", basic);
			h = curl_slist_append(h, hdr);
		}
		if (h)
			curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		if (http_perform(c, &resp, "token server", e) < 0) {
			retry = 1;
			err_prefix(e, "cannot get a token from '%s'", realm);
		} else if (resp.status == 401 || resp.status == 403) {
			char who[512];

			auth_describe(q->creds, who, sizeof(who));
			err_set(e, EX_AUTH, "token server '%s' refused %s (HTTP %ld)", realm, who,
			    resp.status);
		} else if (resp.status == 408 || resp.status == 429 || resp.status >= 500) {
			retry = 1;
			retry_after = http_retry_after_ms(http_header(&resp, "Retry-After"));
			err_set(e, EX_SERVICE, "token server '%s' answered HTTP %ld", realm,
			    resp.status);
		} else if (resp.status != 200) {
			err_set(e, EX_SERVICE, "token server '%s' answered HTTP %ld", realm,
			    resp.status);
		} else if (!(j = json_parse(buf_str(&resp.body), resp.body.len, NULL, NULL, e)) ||
		    !cJSON_IsObject(j)) {
			cJSON_Delete(j);
			err_set(e, EX_SERVICE, "token server '%s' answered something other than a "
			    "JSON object", realm);
		} else {
			tok = json_str(j, "token");
			if (!tok || !*tok)
				tok = json_str(j, "access_token");
			if (!tok || !*tok) {
				err_set(e, EX_SERVICE, "token server '%s' answered without a token",
				    realm);
			} else {
				const cJSON *ei = cJSON_GetObjectItemCaseSensitive(j, "expires_in");

				exp = cJSON_IsNumber(ei) && ei->valuedouble >= 1 &&
				    ei->valuedouble < 1e7 ? (long long)ei->valuedouble : 60;
				*token = xstrdup(tok);
				*expires_in_ms = exp * 1000;
				rc = 0;
			}
			{
				cJSON *t;

				if (cJSON_IsString(t = cJSON_GetObjectItemCaseSensitive(j, "token")))
					memset(t->valuestring, 0, strlen(t->valuestring));
				if (cJSON_IsString(t = cJSON_GetObjectItemCaseSensitive(j, "access_token")))
					memset(t->valuestring, 0, strlen(t->valuestring));
			}
			cJSON_Delete(j);
		}
		if (resp.body.data)
			memset(resp.body.data, 0, resp.body.len);
		curl_slist_free_all(h);
		curl_easy_cleanup(c);
		http_response_free(&resp);
		free(url);
		free_secret(form);
		free_secret(basic);
		free_secret(hdr);
		if (rc == 0 || !retry)
			break;
		if ((wait = retry_next(&pol, &rs, retry_after)) < 0)
			break;
		sleep_ms(wait, NULL);
	}
	return rc;
}

int
auth_token_get(struct auth_tokens *tc, const struct auth_token_req *q,
    const char **token, struct err *e)
{
	char *key, *tok = NULL;
	struct auth_token *t;
	struct http_url realm;
	long long exp_ms = 0;
	int rc;

	if (!q->realm || !*q->realm)
		return err_set(e, EX_SERVICE, "the registry asked for a bearer token without "
		    "naming a realm");
	/* From here on the realm is named without its userinfo, if any. */
	if (http_url_parse(q->realm, &realm) < 0)
		return err_set(e, EX_SERVICE, "token realm '%.300s' is not an http(s) URL",
		    q->realm);
	if (strcmp(realm.scheme, "https") != 0) {
		if (strcmp(realm.scheme, "http") != 0)
			rc = err_set(e, EX_SERVICE, "token realm '%.300s' is not an http(s) URL",
			    realm.url);
		else if (!q->allow_http)
			rc = err_set(e, EX_AUTH, "token realm '%.300s' is plain http and its host "
			    "is not allowed plain HTTP (--insecure-registry)", realm.url);
		else
			rc = 0;
		if (rc < 0) {
			http_url_free(&realm);
			return -1;
		}
	}
	key = token_key(q);
	t = token_find(tc, key);
	if (t && t->expires_ms > mono_ms()) {
		free(key);
		http_url_free(&realm);
		*token = t->token;
		return 0;
	}
	if (t)
		token_remove(tc, t);
	rc = fetch_token(q, realm.url, &tok, &exp_ms, e);
	http_url_free(&realm);
	if (rc < 0) {
		free(key);
		return -1;
	}
	tc->v = xrealloc(tc->v, (tc->n + 1) * sizeof(*tc->v));
	t = &tc->v[tc->n++];
	t->key = key;
	t->token = tok;
	/* Renew a little early so a token never expires mid-request. */
	t->expires_ms = mono_ms() + (exp_ms > 20000 ? exp_ms - 10000 : exp_ms / 2);
	*token = t->token;
	return 0;
}
