/* Unit tests for lib/rollout/nginx: the upstream file it renders, reading
 * it back, refusing files it did not write, and putting the previous
 * file back when the check fails; the traffic interface on top. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "rollout/nginx.h"
#include "rollout/spec.h"
#include "rollout/traffic.h"

static const char *const addrs[2] = { "127.0.0.1:8001", "127.0.0.1:8002" };

static void
test_render(void)
{
	static const struct {
		int w[2];
		const char *want;
	} cases[] = {
		{ { 90, 10 }, "upstream app {\n    server 127.0.0.1:8001 weight=90;\n"
		  "    server 127.0.0.1:8002 weight=10;\n}\n" },
		{ { 100, 0 }, "upstream app {\n    server 127.0.0.1:8001 weight=100;\n"
		  "    server 127.0.0.1:8002 down;\n}\n" },
		{ { 0, 100 }, "upstream app {\n    server 127.0.0.1:8001 down;\n"
		  "    server 127.0.0.1:8002 weight=100;\n}\n" },
		{ { 1, 99 }, "upstream app {\n    server 127.0.0.1:8001 weight=1;\n"
		  "    server 127.0.0.1:8002 weight=99;\n}\n" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = nginx_render("app", STICKY_NONE, NULL, addrs, cases[i].w);

		is_str(text, cases[i].want, "render %d/%d: weights, and 'down' for 0", cases[i].w[0],
		    cases[i].w[1]);
		free(text);
	}
}

static void
test_round_trip(void)
{
	int k, bad = 0;

	/* Every split the driver can write reads back as itself. */
	for (k = 0; k <= 100; k++) {
		struct err e = { 0, "" };
		int w[2] = { 100 - k, k }, got[2] = { -1, -1 };
		char *text = nginx_render("app", STICKY_NONE, NULL, addrs, w);

		if (nginx_parse("f.conf", text, "app", STICKY_NONE, NULL, addrs, got, &e) < 0 ||
		    got[0] != w[0] ||
		    got[1] != w[1]) {
			printf("# %d: got %d/%d: %s\n", k, got[0], got[1], e.msg);
			bad++;
		}
		free(text);
	}
	is_int(bad, 0, "every rendering from 0 to 100 parses back to its weights");
	{
		struct err e = { 0, "" };
		int got[2] = { -1, -1 };
		const char *text = "\nupstream\tapp   {\r\n\n\tserver 127.0.0.1:8002   down;\n"
		    "  server  127.0.0.1:8001 weight=7;  \n}\n\n";

		ok(nginx_parse("f.conf", text, "app", STICKY_NONE, NULL, addrs, got, &e) == 0 && got[0] == 7 &&
		    got[1] == 0, "blanks, blank lines, CRLF and the servers' order do not matter");
	}
}

static void
test_foreign(void)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{ "", "f.conf: empty; expected 'upstream app {'" },
		{ "\n  \n", "f.conf: empty" },
		{ "upstream other {\n    server 127.0.0.1:8001 weight=1;\n}\n",
		  "f.conf:1: 'upstream other {': expected the upstream 'app'" },
		{ "# ours\nupstream app {\n", "f.conf:1: '# ours': expected 'upstream NAME {'" },
		{ "upstream app{\n", "f.conf:1: 'upstream app{': expected 'upstream NAME {'" },
		{ "http {\nupstream app {\n", "f.conf:1: 'http {'" },
		{ "upstream app {\n    server 127.0.0.1:8001 weight=50;\n    keepalive 16;\n"
		  "    server 127.0.0.1:8002 weight=50;\n}\n",
		  "f.conf:3: 'keepalive 16;': expected 'server ADDRESS weight=N;', 'server ADDRESS "
		  "down;' or '}'" },
		{ "upstream app {\n    server 127.0.0.1:8001 weight=50 max_fails=3;\n",
		  "f.conf:2: 'server 127.0.0.1:8001 weight=50 max_fails=3;': expected 'server" },
		{ "upstream app {\n    server 127.0.0.1:9999 weight=50;\n",
		  "f.conf:2: 'server 127.0.0.1:9999 weight=50;': a server not in traffic.servers" },
		{ "upstream app {\n    server 127.0.0.1:8001 weight=50;\n"
		  "    server 127.0.0.1:8001 weight=50;\n", "f.conf:3: " },
		{ "upstream app {\n    server 127.0.0.1:8001 weight=0;\n", "f.conf:2: " },
		{ "upstream app {\n    server 127.0.0.1:8001 weight=101;\n", "'weight=N;' (N from 1 to 100)" },
		{ "upstream app {\n    server 127.0.0.1:8001 weight=050;\n", "f.conf:2: " },
		{ "upstream app {\n    server 127.0.0.1:8001 weight=-5;\n", "f.conf:2: " },
		{ "upstream app {\n    server 127.0.0.1:8001 weight=99999999999999;\n", "f.conf:2: " },
		{ "upstream app {\n    server 127.0.0.1:8001 weight=5\n", "f.conf:2: " },
		{ "upstream app {\n    server 127.0.0.1:8001 down\n", "f.conf:2: " },
		{ "upstream app {\n    server 127.0.0.1:8001 weight=5;\n}\n",
		  "f.conf:3: upstream 'app' has no server '127.0.0.1:8002'" },
		{ "upstream app {\n    server 127.0.0.1:8001 down;\n    server 127.0.0.1:8002 down;\n}\n",
		  "f.conf:4: every server of upstream 'app' is down" },
		{ "upstream app {\n    server 127.0.0.1:8001 weight=5;\n    server 127.0.0.1:8002 weight=95;\n",
		  "f.conf:3: upstream 'app' has no closing '}'" },
		{ "upstream app {\n    server 127.0.0.1:8001 weight=5;\n    server 127.0.0.1:8002 weight=95;\n"
		  "}\nupstream app {\n", "f.conf:5: 'upstream app {': more after the upstream block" },
		{ "upstream app {\n    server 127.0.0.1:8001 \033[2Jweight=5;\n", "'server 127.0.0.1:8001 ?[2Jweight=5;'" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct err e = { 0, "" };
		int got[2] = { -1, -1 };

		ok(nginx_parse("f.conf", cases[i].text, "app", STICKY_NONE, NULL, addrs, got, &e) < 0 &&
		    e.code == EX_USAGE_, "a file it did not write is refused (%zu)", i);
		like(e.msg, cases[i].msg, "... naming the file and the line");
	}
}

static void
test_names(void)
{
	static const char *const good_up[] = { "app", "shop.v2-blue_1" };
	static const char *const bad_up[] = { "", "app {", "a;b", "a\nb", "a}", "a$b" };
	static const char *const good_addr[] = { "127.0.0.1:8001", "[::1]:80", "unix:/run/app.sock",
		"app.internal:8080" };
	static const char *const bad_addr[] = { "", "1.2.3.4:80; server evil", "a b", "x\ny",
		"h:1 weight=100", "h:1#", "'h:1'" };
	struct err e = { 0, "" };
	size_t i;

	for (i = 0; i < sizeof(good_up) / sizeof(good_up[0]); i++)
		ok(nginx_check_upstream(good_up[i], &e) == 0, "upstream name '%s' is taken", good_up[i]);
	for (i = 0; i < sizeof(bad_up) / sizeof(bad_up[0]); i++)
		ok(nginx_check_upstream(bad_up[i], &e) < 0 && e.code == EX_USAGE_ &&
		    strstr(e.msg, "invalid nginx upstream name") && !strchr(e.msg, '\n'),
		    "upstream name %zu is refused, on one line", i);
	for (i = 0; i < sizeof(good_addr) / sizeof(good_addr[0]); i++)
		ok(nginx_check_server(good_addr[i], &e) == 0, "address '%s' is taken", good_addr[i]);
	for (i = 0; i < sizeof(bad_addr) / sizeof(bad_addr[0]); i++)
		ok(nginx_check_server(bad_addr[i], &e) < 0 && e.code == EX_USAGE_ &&
		    strstr(e.msg, "invalid nginx server address") && !strchr(e.msg, '\n'),
		    "address %zu is refused: it would not stay one word of the file", i);
}

static void
put(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp) {
		fputs(text, fp);
		fclose(fp);
	}
}

/* The file's content, "(none)" when there is none; static. */
static const char *
slurp(const char *path)
{
	static char *last;
	struct err e = { 0, "" };

	free(last);
	last = read_file(path, 1 << 20, NULL, &e);
	return last ? last : "(none)";
}

static void
cfg_init(struct rollout_traffic *c, const char *file, const char *test, const char *reload)
{
	memset(c, 0, sizeof(*c));
	c->driver = TRAFFIC_NGINX;
	c->upstream = xstrdup("app");
	c->file = xstrdup(file);
	c->server_slot[0] = xstrdup("blue");
	c->server_slot[1] = xstrdup("green");
	c->server_addr[0] = xstrdup(addrs[0]);
	c->server_addr[1] = xstrdup(addrs[1]);
	c->slots[0] = xstrdup("blue");
	c->slots[1] = xstrdup("green");
	c->test = xstrdup(test);
	c->reload = xstrdup(reload);
}

static void
cfg_free(struct rollout_traffic *c)
{
	struct rollout_spec s;

	rollout_spec_init(&s);
	s.traffic = *c;
	rollout_spec_free(&s);
	memset(c, 0, sizeof(*c));
}

static void
test_set(const char *dir)
{
	struct rollout_traffic c;
	struct err e = { 0, "" };
	struct stat st;
	char file[256], flag[256], cmd[600], link[256];
	const char *old = "upstream app {\n    server 127.0.0.1:8001;\n}\n";
	int w = -1;

	snprintf(file, sizeof(file), "%s/app-upstream.conf", dir);
	snprintf(flag, sizeof(flag), "%s/reloaded", dir);
	snprintf(cmd, sizeof(cmd), "touch '%s'", flag);

	/* The check passes: the file is ours, nginx reloads. */
	put(file, old);
	chmod(file, 0640);
	cfg_init(&c, file, "true", cmd);
	ok(nginx_set(&c, "blue", "green", 10, &e) == 0, "set 10%% to green: check passes, reload");
	is_str(slurp(file), "upstream app {\n    server 127.0.0.1:8001 weight=90;\n"
	    "    server 127.0.0.1:8002 weight=10;\n}\n", "... the file holds the new weights");
	ok(stat(file, &st) == 0 && (st.st_mode & 07777) == 0640, "... with the old file's mode");
	ok(access(flag, F_OK) == 0, "... and the reload ran");
	ok(nginx_get(&c, "blue", "green", &w, &e) == 0 && w == 10, "read back: the canary has 10");
	ok(nginx_get(&c, "green", "blue", &w, &e) == 0 && w == 90, "... and the other slot 90");
	cfg_free(&c);

	/* The check sees the new file: it runs after the write. */
	snprintf(cmd, sizeof(cmd), "grep -q 'server 127.0.0.1:8002 weight=30;' '%s'", file);
	cfg_init(&c, file, cmd, "true");
	ok(nginx_set(&c, "blue", "green", 30, &e) == 0, "the check reads the file it is to check");
	cfg_free(&c);

	/* The check fails: the previous file comes back, byte for byte. */
	unlink(flag);
	put(file, old);
	snprintf(cmd, sizeof(cmd), "touch '%s'", flag);
	cfg_init(&c, file, "echo 'nginx: [emerg] invalid port in upstream' >&2; "
	    "echo 'nginx: configuration file test failed' >&2; exit 1", cmd);
	ok(nginx_set(&c, "blue", "green", 50, &e) < 0 && e.code == EX_SERVICE,
	    "a failing check is an error, exit 69");
	like(e.msg, "nginx refused '", "... saying nginx refused it");
	like(e.msg, file, "... naming the file");
	like(e.msg, "exited with status 1: nginx: [emerg] invalid port in upstream; nginx: "
	    "configuration file test failed", "... with the tail of the check's output");
	like(e.msg, "the previous file is back", "... and that the previous file is back");
	is_str(slurp(file), old, "the previous file is back, byte for byte");
	ok(access(flag, F_OK) != 0, "... and nginx was not reloaded");
	cfg_free(&c);

	cfg_init(&c, file, "false", "true");
	ok(nginx_set(&c, "blue", "green", 0, &e) < 0 && e.code == EX_SERVICE,
	    "\"false\" as the check: refused");
	like(e.msg, "'false' exited with status 1; the previous file is back", "... saying how it ended");
	is_str(slurp(file), old, "... and the file is as it was");
	cfg_free(&c);

	/* No file before: none after a refused check. */
	unlink(file);
	cfg_init(&c, file, "false", "true");
	ok(nginx_set(&c, "blue", "green", 10, &e) < 0 && access(file, F_OK) != 0,
	    "a refused first file is removed again");
	cfg_free(&c);

	/* A failed reload: the checked file stays for nginx's next reload. */
	cfg_init(&c, file, "true", "echo 'nginx: [error] invalid PID number' >&2; exit 1");
	ok(nginx_set(&c, "blue", "green", 25, &e) < 0 && e.code == EX_SERVICE,
	    "a failing reload is an error, exit 69");
	like(e.msg, "nginx did not reload: 'echo", "... saying so");
	like(e.msg, "invalid PID number", "... with its output");
	ok(nginx_get(&c, "blue", "green", &w, &e) == 0 && w == 25, "... the new file stays");
	cfg_free(&c);

	/* A check that hangs is stopped: 30 s is too long for a test, so
	 * only a command that cannot start. */
	cfg_init(&c, file, "exec /nonexistent/nginx -t", "true");
	ok(nginx_set(&c, "blue", "green", 40, &e) < 0 && e.code == EX_SERVICE &&
	    nginx_get(&c, "blue", "green", &w, &e) == 0 && w == 25,
	    "a check that cannot run: refused, the previous file back");
	cfg_free(&c);

	/* Slots not in servers, a link, a foreign file to read back. */
	cfg_init(&c, file, "true", "true");
	ok(nginx_set(&c, "blue", "red", 10, &e) < 0 && e.code == EX_USAGE_, "a slot without an address");
	like(e.msg, "traffic.servers has no address for the slot 'red'", "... is named");
	ok(nginx_get(&c, "blue", "green", &w, &e) == 0 && w == 25, "... and the file is untouched");
	put(file, "upstream app {\n    server 127.0.0.1:8001 weight=5;\n    server 127.0.0.1:8002 weight=5;\n"
	    "    least_conn;\n}\n");
	ok(nginx_get(&c, "blue", "green", &w, &e) < 0 && e.code == EX_USAGE_,
	    "reading back a file edited by hand is refused");
	like(e.msg, "app-upstream.conf:4: 'least_conn;'", "... naming its line");
	unlink(file);
	ok(nginx_get(&c, "blue", "green", &w, &e) < 0 && e.code == EX_IOERR_, "a missing file: exit 74");
	like(e.msg, "app-upstream.conf", "... naming it");
	snprintf(link, sizeof(link), "%s/real.conf", dir);
	put(link, old);
	if (symlink(link, file) == 0) {
		ok(nginx_set(&c, "blue", "green", 10, &e) < 0 && e.code == EX_USAGE_,
		    "a symbolic link is refused: the rename would replace it");
		like(e.msg, "is not a regular file", "... saying so");
		is_str(slurp(link), old, "... and its target is untouched");
		unlink(file);
	}
	cfg_free(&c);
}

static void
test_traffic(const char *dir)
{
	struct rollout_traffic c;
	struct traffic t;
	struct err e = { 0, "" };
	char file[256], status[32];
	int w = -1, up = 0;

	snprintf(file, sizeof(file), "%s/t.conf", dir);
	cfg_init(&c, file, "true", "true");
	traffic_init(&t, &c, "reg/shop:v2");
	t.stable = "blue";
	t.canary = "green";
	ok(traffic_set(&t, 20, &e) == 0 && traffic_get(&t, &w, &e) == 1 && w == 20,
	    "traffic_set, traffic_get: 20%% to the canary");
	ok(traffic_abort(&t, &e) == 0, "abort");
	is_str(slurp(file), "upstream app {\n    server 127.0.0.1:8001 weight=100;\n"
	    "    server 127.0.0.1:8002 down;\n}\n", "... the canary down, stable 100");
	ok(traffic_get(&t, &w, &e) == 1 && w == 0, "... read back as 0");
	ok(traffic_promote(&t, &e) == 0, "promote");
	is_str(slurp(file), "upstream app {\n    server 127.0.0.1:8001 down;\n"
	    "    server 127.0.0.1:8002 weight=100;\n}\n", "... the canary 100, stable down");
	ok(traffic_health(&t, "green", &up, status, sizeof(status), &e) == 0 && up == 1,
	    "health: nginx has no check to ask, so up");
	is_str(status, "no check", "... and says so");
	ok(traffic_slot_weights(&t, &w, &w, &e) < 0 && e.code == EX_INTERNAL,
	    "slot weights are HAProxy's alone");
	cfg_free(&c);
}

static void
test_sticky(void)
{
	static const int w[2] = { 95, 5 };
	struct err e = { 0, "" };
	int got[2] = { -1, -1 };
	char *text;

	text = nginx_render("my-app", STICKY_COOKIE, "session", addrs, w);
	is_str(text, "map $cookie_session $ci_sticky_my_app {\n    \"\" $remote_addr;\n"
	    "    default $cookie_session;\n}\nupstream my-app {\n"
	    "    hash $ci_sticky_my_app consistent;\n    server 127.0.0.1:8001 weight=95;\n"
	    "    server 127.0.0.1:8002 weight=5;\n}\n",
	    "sticky cookie: a map of the cookie (the address without one), hashed consistently");
	ok(nginx_parse("f.conf", text, "my-app", STICKY_COOKIE, "session", addrs, got, &e) == 0 &&
	    got[0] == 95 && got[1] == 5, "... and it reads back");
	ok(nginx_parse("f.conf", text, "my-app", STICKY_NONE, NULL, addrs, got, &e) < 0 &&
	    strstr(e.msg, "f.conf:1:") && strstr(e.msg, "expected 'upstream NAME {'"),
	    "... a file with a map is not the file without stickiness: %s", e.msg);
	ok(nginx_parse("f.conf", text, "my-app", STICKY_COOKIE, "sid", addrs, got, &e) < 0 &&
	    strstr(e.msg, "f.conf:1:") && strstr(e.msg, "$cookie_sid"),
	    "... nor the file for another cookie: %s", e.msg);
	free(text);

	text = nginx_render("app", STICKY_HEADER, "X-User-Id", addrs, w);
	ok(strstr(text, "map $http_x_user_id $ci_sticky_app {") != NULL,
	    "sticky header: nginx's $http_ variable, lowercase with '_'");
	ok(nginx_parse("f.conf", text, "app", STICKY_HEADER, "X-User-Id", addrs, got, &e) == 0,
	    "... reads back");
	free(text);

	text = nginx_render("app", STICKY_SOURCE, NULL, addrs, w);
	is_str(text, "upstream app {\n    hash $remote_addr consistent;\n"
	    "    server 127.0.0.1:8001 weight=95;\n    server 127.0.0.1:8002 weight=5;\n}\n",
	    "sticky source: the client's address, hashed consistently");
	ok(nginx_parse("f.conf", text, "app", STICKY_SOURCE, NULL, addrs, got, &e) == 0 &&
	    got[1] == 5, "... reads back");
	ok(nginx_parse("f.conf", "upstream app {\n    server 127.0.0.1:8001 weight=95;\n}\n",
	    "app", STICKY_SOURCE, NULL, addrs, got, &e) < 0 && strstr(e.msg, "f.conf:2:") &&
	    strstr(e.msg, "hash $remote_addr consistent;"),
	    "a block without the hash line is refused, naming the line: %s", e.msg);
	ok(nginx_parse("f.conf", "map $cookie_session $ci_sticky_app {\n", "app", STICKY_COOKIE,
	    "session", addrs, got, &e) < 0 && strstr(e.msg, "ends early"),
	    "a map cut short is refused: %s", e.msg);
	free(text);
}

int
main(void)
{
	char dir[] = "/tmp/nginx-unit.XXXXXX", cmd[300];

	log_init("nginx.t");
	test_render();
	test_round_trip();
	test_foreign();
	test_names();
	test_sticky();
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return done_testing();
	}
	test_set(dir);
	test_traffic(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return done_testing();
}
