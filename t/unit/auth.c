/* Credentials: flags, env, auth files, credential helpers, token keys,
 * and token fetches against a scripted server on 127.0.0.1. */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/auth.h"
#include "core/timeutil.h"
#include "tap.h"

/*
 * A token server that answers each connection with the next canned
 * response (one request per connection: "Connection: close") and keeps
 * the request heads it saw.
 */
struct server {
	int fd;
	int port;
	const char *const *answers;	/* NULL-terminated */
	char seen[4][2048];
	int nseen;
	pthread_t th;
};

static void *
serve(void *arg)
{
	struct server *sv = arg;
	int i;

	for (i = 0; sv->answers[i]; i++) {
		int c = accept(sv->fd, NULL, NULL);
		char *req = sv->seen[i < 4 ? i : 3];
		size_t got = 0;
		ssize_t n;

		if (c < 0)
			break;
		memset(req, 0, sizeof(sv->seen[0]));
		while (got < sizeof(sv->seen[0]) - 1 && !strstr(req, "\r\n\r\n") &&
		    (n = read(c, req + got, sizeof(sv->seen[0]) - 1 - got)) > 0)
			got += (size_t)n;
		sv->nseen = i + 1;
		if (write(c, sv->answers[i], strlen(sv->answers[i])) < 0)
			break;
		close(c);
	}
	return NULL;
}

static int
server_start(struct server *sv, const char *const *answers)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);

	memset(sv, 0, sizeof(*sv));
	sv->answers = answers;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((sv->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(sv->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(sv->fd, 4) != 0 ||
	    getsockname(sv->fd, (struct sockaddr *)&a, &al) != 0)
		return -1;
	sv->port = ntohs(a.sin_port);
	return pthread_create(&sv->th, NULL, serve, sv) == 0 ? 0 : -1;
}

/* Stop the server (a connection of our own unblocks a pending accept). */
static void
server_stop(struct server *sv)
{
	struct sockaddr_in a;
	int c;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((unsigned short)sv->port);
	while (sv->answers[sv->nseen] && (c = socket(AF_INET, SOCK_STREAM, 0)) >= 0) {
		int n = sv->nseen;

		if (connect(c, (struct sockaddr *)&a, sizeof(a)) != 0) {
			close(c);
			break;
		}
		close(c);
		while (sv->nseen == n)
			sleep_ms(10, NULL);
	}
	pthread_join(sv->th, NULL);
	close(sv->fd);
}

#define TOKEN_OK "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" \
	"Content-Length: 31\r\nConnection: close\r\n\r\n{\"token\":\"t0k\",\"expires_in\":60}"

static void
token_fetches(void)
{
	static const char *const busy_then_ok[] = {
		"HTTP/1.1 503 Busy\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		TOKEN_OK, NULL
	};
	static const char *const busy_long[] = {
		"HTTP/1.1 429 Slow down\r\nRetry-After: 30\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		TOKEN_OK, NULL
	};
	static const char *const just_ok[] = { TOKEN_OK, NULL };
	char *scopes[] = { "repository:team/app:pull,push" };
	char realm[200];
	struct auth_tokens tc = { NULL, 0 };
	struct auth_token_req q;
	struct auth_creds anon;
	struct server sv;
	struct err e = { 0, "" };
	const char *tok = NULL;
	long long t0;
	int rc;

	memset(&q, 0, sizeof(q));
	memset(&anon, 0, sizeof(anon));
	q.service = "reg example";
	q.scopes = scopes;
	q.nscopes = 1;
	q.allow_http = 1;
	q.retries = 3;

	/* A 503 with Retry-After: 1 waits at least the second asked for. */
	if (server_start(&sv, busy_then_ok) < 0) {
		ok(0, "start a token server");
		return;
	}
	snprintf(realm, sizeof(realm), "http://127.0.0.1:%d/token", sv.port);
	q.realm = realm;
	t0 = mono_ms();
	rc = auth_token_get(&tc, &q, &tok, &e);
	ok(rc == 0 && tok && !strcmp(tok, "t0k"), "a 503 is retried, then the token comes");
	ok(mono_ms() - t0 >= 950, "... after the Retry-After of 1 s (waited %lld ms)", mono_ms() - t0);
	like(sv.seen[1], "GET /token?service=reg%20example&scope=repository%3Ateam%2Fapp%3Apull%2Cpush ",
	    "... the query names service and scope, encoded");
	server_stop(&sv);
	auth_tokens_free(&tc);

	/* A Retry-After beyond the retry time: give up now, not in 30 s. */
	if (server_start(&sv, busy_long) < 0) {
		ok(0, "start a token server");
		return;
	}
	snprintf(realm, sizeof(realm), "http://127.0.0.1:%d/token", sv.port);
	q.retry_time_ms = 2000;
	t0 = mono_ms();
	memset(&e, 0, sizeof(e));
	rc = auth_token_get(&tc, &q, &tok, &e);
	ok(rc < 0 && e.code == EX_SERVICE, "a Retry-After past --retry-time: EX_SERVICE");
	ok(mono_ms() - t0 < 2000, "... at once (%lld ms)", mono_ms() - t0);
	like(e.msg, "answered HTTP 429", "... saying what the server answered");
	server_stop(&sv);
	q.retry_time_ms = 0;
	auth_tokens_free(&tc);

	/* user:password@ in a realm is never sent (libcurl would make it
	 * Basic credentials) and never printed. */
	if (server_start(&sv, just_ok) < 0) {
		ok(0, "start a token server");
		return;
	}
	snprintf(realm, sizeof(realm), "http://mallory:hunter2@127.0.0.1:%d/token#x", sv.port);
	q.creds = &anon;
	rc = auth_token_get(&tc, &q, &tok, &e);
	ok(rc == 0, "a realm with userinfo: the token comes");
	ok(sv.nseen == 1 && !strstr(sv.seen[0], "Authorization"), "... no Authorization was sent");
	ok(sv.nseen == 1 && strstr(sv.seen[0], "GET /token?service=") == sv.seen[0],
	    "... and the query goes before the fragment");
	server_stop(&sv);
	auth_tokens_free(&tc);
	q.creds = NULL;
	q.realm = "ftp://mallory:hunter2@x/token";
	rc = auth_token_get(&tc, &q, &tok, &e);
	ok(rc < 0 && strstr(e.msg, "not an http(s) URL") && !strstr(e.msg, "hunter2"),
	    "an ftp realm is refused without printing its password");
	q.realm = "http://mallory:hunter2@tokens.example/token";
	q.allow_http = 0;
	rc = auth_token_get(&tc, &q, &tok, &e);
	ok(rc < 0 && e.code == EX_AUTH && !strstr(e.msg, "hunter2") && strstr(e.msg, "tokens.example"),
	    "a plain http realm is refused without printing its password");
	auth_tokens_free(&tc);
}

static char dir[256];

static void
put(const char *name, const char *text, int mode)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
	chmod(path, (mode_t)mode);
}

static int
find(const struct auth_sources *s, const char *reg, struct auth_creds *c, struct err *e)
{
	memset(e, 0, sizeof(*e));
	return auth_find(s, reg, c, e);
}

int
main(void)
{
	struct auth_sources s = { NULL, NULL, NULL };
	struct auth_creds c;
	struct err e;
	char path[512], cfg[512], newpath[4096], who[600];
	const char *tmp = getenv("TMPDIR");
	char *b;
	int rc;

	snprintf(dir, sizeof(dir), "%s/auth-unit.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	unsetenv("CI_REGISTRY_USER");
	unsetenv("CI_REGISTRY_PASSWORD");
	unsetenv("CI_REGISTRY");
	unsetenv("REGISTRY_AUTH_FILE");
	unsetenv("DOCKER_CONFIG");
	setenv("HOME", dir, 1);

	rc = find(&s, "reg.example", &c, &e);
	is_int(rc, 0, "no file, no env: anonymous");

	/* --username */
	s.username = "alice";
	s.password = "s3cret";
	rc = find(&s, "reg.example", &c, &e);
	is_int(rc, 1, "--username with a password");
	is_str(c.username, "alice", "user");
	is_str(c.password, "s3cret", "password");
	is_str(c.source, "--username", "source");
	b = auth_basic(&c);
	is_str(b, "Basic YWxpY2U6czNjcmV0", "Basic header value");
	free_secret(b);
	auth_describe(&c, who, sizeof(who));
	like(who, "'alice' (from --username)", "describe names user and source");
	ok(!strstr(who, "s3cret"), "describe never shows the password");
	auth_creds_free(&c);
	s.password = NULL;
	rc = find(&s, "reg.example", &c, &e);
	ok(rc < 0 && e.code == EX_USAGE_, "--username without a password is a usage error");
	like(e.msg, "needs a password", "... saying so");
	setenv("CI_REGISTRY_PASSWORD", "envpw", 1);
	rc = find(&s, "reg.example", &c, &e);
	ok(rc == 1 && c.password && !strcmp(c.password, "envpw"),
	    "--username takes CI_REGISTRY_PASSWORD");
	auth_creds_free(&c);
	s.username = NULL;

	/* CI_REGISTRY_USER, optionally for CI_REGISTRY only */
	setenv("CI_REGISTRY_USER", "ciuser", 1);
	rc = find(&s, "reg.example", &c, &e);
	ok(rc == 1 && !strcmp(c.username, "ciuser") && !strcmp(c.source, "CI_REGISTRY_USER"),
	    "CI_REGISTRY_USER and CI_REGISTRY_PASSWORD");
	auth_creds_free(&c);
	setenv("CI_REGISTRY", "other.example:5000", 1);
	rc = find(&s, "reg.example", &c, &e);
	is_int(rc, 0, "CI_REGISTRY names another host: not used");
	rc = find(&s, "other.example:5000", &c, &e);
	is_int(rc, 1, "CI_REGISTRY names this host: used");
	auth_creds_free(&c);
	unsetenv("CI_REGISTRY_USER");
	unsetenv("CI_REGISTRY_PASSWORD");
	unsetenv("CI_REGISTRY");

	/* ~/.docker/config.json: auths */
	snprintf(path, sizeof(path), "%s/.docker", dir);
	mkdir(path, 0700);
	put(".docker/config.json",
	    "{\"auths\": {\"https://reg.example/v1/\": {\"auth\": \"Ym9iOnB3OndpdGg6Y29sb25z\"},"
	    " \"plain.example\": {\"username\": \"carol\", \"password\": \"cpw\"},"
	    " \"https://index.docker.io/v1/\": {\"auth\": \"aHViOmh1YnB3\"},"
	    " \"tok.example\": {\"identitytoken\": \"refresh-me\"},"
	    " \"empty.example\": {}}}", 0600);
	rc = find(&s, "reg.example", &c, &e);
	ok(rc == 1 && !strcmp(c.username, "bob") && !strcmp(c.password, "pw:with:colons"),
	    "auths: base64 auth, key with scheme and path, password with colons");
	like(c.source, ".docker/config.json", "source is the file");
	auth_creds_free(&c);
	rc = find(&s, "plain.example", &c, &e);
	ok(rc == 1 && !strcmp(c.username, "carol") && !strcmp(c.password, "cpw"),
	    "auths: username and password fields");
	auth_creds_free(&c);
	rc = find(&s, "docker.io", &c, &e);
	ok(rc == 1 && !strcmp(c.username, "hub"), "docker.io matches index.docker.io");
	auth_creds_free(&c);
	rc = find(&s, "tok.example", &c, &e);
	ok(rc == 1 && !c.username && c.identity_token && !strcmp(c.identity_token, "refresh-me"),
	    "identitytoken");
	auth_creds_free(&c);
	rc = find(&s, "empty.example", &c, &e);
	is_int(rc, 0, "an empty entry is no credentials");
	rc = find(&s, "nowhere.example", &c, &e);
	is_int(rc, 0, "an unknown host is anonymous");

	/* REGISTRY_AUTH_FILE wins over the docker file; DOCKER_CONFIG too */
	put("auth.json", "{\"auths\": {\"reg.example\": {\"auth\": \"ZGF2ZTpkcHc=\"}}}", 0600);
	snprintf(path, sizeof(path), "%s/auth.json", dir);
	setenv("REGISTRY_AUTH_FILE", path, 1);
	rc = find(&s, "reg.example", &c, &e);
	ok(rc == 1 && !strcmp(c.username, "dave"), "REGISTRY_AUTH_FILE");
	auth_creds_free(&c);
	unsetenv("REGISTRY_AUTH_FILE");
	s.authfile = path;
	rc = find(&s, "reg.example", &c, &e);
	ok(rc == 1 && !strcmp(c.username, "dave"), "--authfile");
	auth_creds_free(&c);
	s.authfile = NULL;

	/* credential helpers */
	snprintf(path, sizeof(path), "%s/bin", dir);
	mkdir(path, 0700);
	put("bin/docker-credential-test",
	    "#!/bin/sh\nread server\n"
	    "case \"$1:$server\" in\n"
	    "get:helped.example) echo '{\"ServerURL\":\"helped.example\",\"Username\":\"erin\",\"Secret\":\"hpw\"}' ;;\n"
	    "get:tokened.example) echo '{\"Username\":\"<token>\",\"Secret\":\"idtok\"}' ;;\n"
	    "get:garbage.example) echo 'not json' ;;\n"
	    "*) echo 'credentials not found in native keychain'; exit 1 ;;\n"
	    "esac\n", 0755);
	put("bin/docker-credential-broken", "#!/bin/sh\necho oops >&2\nexit 3\n", 0755);
	snprintf(newpath, sizeof(newpath), "%s/bin:%s", dir, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	setenv("PATH", newpath, 1);
	put("helpers.json",
	    "{\"credHelpers\": {\"helped.example\": \"test\", \"tokened.example\": \"test\","
	    " \"garbage.example\": \"test\", \"missing.example\": \"nosuch\","
	    " \"broken.example\": \"broken\", \"bad.example\": \"../x\"},"
	    " \"auths\": {\"helped.example\": {\"auth\": \"eDp5\"}},"
	    " \"credsStore\": \"test\"}", 0600);
	snprintf(cfg, sizeof(cfg), "%s/helpers.json", dir);
	s.authfile = cfg;
	rc = find(&s, "helped.example", &c, &e);
	ok(rc == 1 && !strcmp(c.username, "erin") && !strcmp(c.password, "hpw"),
	    "credHelpers runs docker-credential-NAME get (before auths)");
	is_str(c.source, "docker-credential-test", "source names the helper");
	auth_creds_free(&c);
	rc = find(&s, "tokened.example", &c, &e);
	ok(rc == 1 && !c.username && c.identity_token && !strcmp(c.identity_token, "idtok"),
	    "helper Username <token> is an identity token");
	auth_creds_free(&c);
	rc = find(&s, "garbage.example", &c, &e);
	ok(rc < 0 && e.code == EX_AUTH, "helper answering garbage: EX_AUTH");
	like(e.msg, "other than a JSON object", "... saying so");
	rc = find(&s, "missing.example", &c, &e);
	ok(rc < 0 && e.code == EX_AUTH, "missing helper: EX_AUTH");
	like(e.msg, "'docker-credential-nosuch' is not installed", "... naming it");
	like(e.msg, "helpers.json", "... and the file that names it");
	rc = find(&s, "broken.example", &c, &e);
	ok(rc < 0 && e.code == EX_AUTH, "failing helper: EX_AUTH");
	like(e.msg, "exit status 3", "... with its status");
	rc = find(&s, "bad.example", &c, &e);
	ok(rc < 0 && e.code == EX_AUTH, "helper name with a slash refused");
	rc = find(&s, "store-miss.example", &c, &e);
	is_int(rc, 0, "credsStore: 'credentials not found' is anonymous");
	s.authfile = NULL;

	/* bad files */
	put("bad.json", "{\"auths\": ", 0600);
	snprintf(path, sizeof(path), "%s/bad.json", dir);
	s.authfile = path;
	rc = find(&s, "reg.example", &c, &e);
	ok(rc < 0 && e.code == EX_USAGE_, "an auth file that does not parse");
	like(e.msg, "bad.json:1:", "... names file and place");
	put("bad2.json", "{\"auths\": {\"reg.example\": {\"auth\": \"!!!\"}}}", 0600);
	snprintf(path, sizeof(path), "%s/bad2.json", dir);
	rc = find(&s, "reg.example", &c, &e);
	ok(rc < 0 && e.code == EX_USAGE_ && strstr(e.msg, "base64"), "bad base64 in auth");
	put("unpadded.json", "{\"auths\": {\"reg.example\": {\"auth\": \"ZGF2ZTpkcHc\"}}}", 0600);
	snprintf(path, sizeof(path), "%s/unpadded.json", dir);
	rc = find(&s, "reg.example", &c, &e);
	ok(rc == 1 && !strcmp(c.username, "dave") && !strcmp(c.password, "dpw"),
	    "auth without '=' padding decodes");
	auth_creds_free(&c);
	put("nocolon.json", "{\"auths\": {\"reg.example\": {\"auth\": \"ZGF2ZQ==\"}}}", 0600);
	snprintf(path, sizeof(path), "%s/nocolon.json", dir);
	rc = find(&s, "reg.example", &c, &e);
	ok(rc < 0 && e.code == EX_USAGE_ && strstr(e.msg, "user:password"), "auth without a colon refused");
	snprintf(path, sizeof(path), "%s/none.json", dir);
	rc = find(&s, "reg.example", &c, &e);
	ok(rc < 0, "--authfile that does not exist is an error");
	s.authfile = NULL;

	/* token cache keys */
	{
		struct auth_tokens tc = { NULL, 0 };
		char *sc1[] = { "repository:a:pull", "repository:b:pull,push" };
		char *sc2[] = { "repository:b:pull,push", "repository:a:pull" };
		struct auth_token_req q;
		const char *tok = NULL;

		memset(&q, 0, sizeof(q));
		q.realm = "ftp://x/token";
		rc = auth_token_get(&tc, &q, &tok, &e);
		ok(rc < 0 && strstr(e.msg, "not an http(s) URL"), "realm must be http(s)");
		q.realm = "http://tokens.example/token";
		q.allow_http = 0;
		rc = auth_token_get(&tc, &q, &tok, &e);
		ok(rc < 0 && e.code == EX_AUTH && strstr(e.msg, "plain http"),
		    "plain http realm refused unless allowed");
		/* Seed the cache by hand: same scopes in another order hit it. */
		q.scopes = sc1;
		q.nscopes = 2;
		q.allow_http = 1;
		tc.v = calloc(1, sizeof(*tc.v));
		tc.v[0].key = strdup("http://tokens.example/token||anon|repository:a:pull|repository:b:pull,push");
		tc.v[0].token = strdup("cached-token");
		tc.v[0].expires_ms = (long long)1 << 62;
		tc.n = 1;
		q.scopes = sc2;
		rc = auth_token_get(&tc, &q, &tok, &e);
		ok(rc == 0 && tok && !strcmp(tok, "cached-token"), "token cache is per scope set, any order");
		auth_token_drop(&tc, &q);
		is_int(tc.n, 0, "auth_token_drop forgets it");
		auth_tokens_free(&tc);
	}

	token_fetches();

	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		ok(0, "cleanup");
	return done_testing();
}
