/* Unit tests for lib/rollout/nginx: the upstream file it renders (with
 * stickiness, a baseline, a route), reading it back, refusing files it
 * did not write, and putting the previous file back when the check fails;
 * the traffic interface on top. */
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

static const char *const addrs[3] = { "127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003" };

/* The file of upstream with the two slots' servers, blue's first; the
 * canary green. */
static struct nginx_file
file2(const char *upstream, int sticky, const char *sticky_name)
{
	struct nginx_file f;

	memset(&f, 0, sizeof(f));
	f.upstream = upstream;
	f.sticky = sticky;
	f.sticky_name = sticky_name;
	f.addr[0] = addrs[0];
	f.addr[1] = addrs[1];
	f.canary = 1;
	return f;
}

/* Render f with weights a, b (and c) and parse it back: 0 when it
 * reads back as those weights. */
static int
round_trip(const struct nginx_file *f, int a, int b, int c, struct err *e)
{
	int w[3] = { a, b, c }, got[3] = { -1, -1, -1 }, rc;
	char *text = nginx_render(f, w);

	rc = nginx_parse("f.conf", text, f, got, e);
	if (rc == 0 && (got[0] != a || got[1] != b || (f->addr[2] && got[2] != c)))
		rc = err_set(e, EX_INTERNAL, "read back as %d/%d/%d", got[0], got[1], got[2]);
	free(text);
	return rc;
}

/* The canary's baseline weight at w, as traffic.h says. */
static int
base_w(int w)
{
	return w >= 100 ? 0 : w < 100 - w ? w : 100 - w;
}

/* Every split from 0 to 100 the driver writes for f (green the canary,
 * with the baseline's share when f has one), rendered and read back: how
 * many did not read back as themselves. */
static int
round_trips(const struct nginx_file *f)
{
	int k, b, bad = 0;

	for (k = 0; k <= 100; k++) {
		struct err e = { 0, "" };

		b = f->addr[2] ? base_w(k) : 0;
		if (round_trip(f, 100 - k - b, k, b, &e) < 0) {
			printf("# %d: %s\n", k, e.msg);
			bad++;
		}
	}
	return bad;
}

static void
test_render(void)
{
	static const struct {
		int w[3];
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
	struct nginx_file f = file2("app", STICKY_NONE, NULL);
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = nginx_render(&f, cases[i].w);

		is_str(text, cases[i].want, "render %d/%d: weights, and 'down' for 0", cases[i].w[0],
		    cases[i].w[1]);
		free(text);
	}
}

static void
test_round_trip(void)
{
	struct nginx_file f = file2("app", STICKY_NONE, NULL);

	is_int(round_trips(&f), 0, "every rendering from 0 to 100 parses back to its weights");
	{
		struct err e = { 0, "" };
		int got[3] = { -1, -1, -1 };
		const char *text = "\nupstream\tapp   {\r\n\n\tserver 127.0.0.1:8002   down;\n"
		    "  server  127.0.0.1:8001 weight=7;  \n}\n\n";

		ok(nginx_parse("f.conf", text, &f, got, &e) == 0 && got[0] == 7 && got[1] == 0,
		    "blanks, blank lines, CRLF and the servers' order do not matter");
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
	struct nginx_file f = file2("app", STICKY_NONE, NULL);
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct err e = { 0, "" };
		int got[3] = { -1, -1, -1 };

		ok(nginx_parse("f.conf", cases[i].text, &f, got, &e) < 0 &&
		    e.code == EX_USAGE_, "a file it did not write is refused (%zu)", i);
		like(e.msg, cases[i].msg, "... naming the file and the line");
	}
}

/* check takes each of good, and refuses each of bad with EX_USAGE_, on
 * one line, saying needle. */
static void
names(int (*check)(const char *, struct err *), const char *what, const char *needle,
    const char *const *good, size_t ngood, const char *const *bad, size_t nbad)
{
	struct err e = { 0, "" };
	size_t i;

	for (i = 0; i < ngood; i++)
		ok(check(good[i], &e) == 0, "%s '%s' is taken", what, good[i]);
	for (i = 0; i < nbad; i++)
		ok(check(bad[i], &e) < 0 && e.code == EX_USAGE_ && strstr(e.msg, needle) &&
		    !strchr(e.msg, '\n') && !strchr(e.msg, '\t'), "%s %zu is refused, on one line: %s",
		    what, i, e.msg);
}
#define NAMES(check, what, needle, good, bad) \
	names(check, what, needle, good, sizeof(good) / sizeof(good[0]), bad, \
	    sizeof(bad) / sizeof(bad[0]))

static void
test_names(void)
{
	static const char *const good_up[] = { "app", "shop.v2-blue_1" };
	static const char *const bad_up[] = { "", "app {", "a;b", "a\nb", "a}", "a$b" };
	static const char *const good_addr[] = { "127.0.0.1:8001", "[::1]:80", "unix:/run/app.sock",
		"app.internal:8080" };
	static const char *const bad_addr[] = { "", "1.2.3.4:80; server evil", "a b", "x\ny",
		"h:1 weight=100", "h:1#", "'h:1'" };

	NAMES(nginx_check_upstream, "upstream name", "invalid nginx upstream name", good_up,
	    bad_up);
	NAMES(nginx_check_server, "address", "invalid nginx server address", good_addr, bad_addr);
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
	ok(nginx_set(&c, "blue", "green", 10, 0, &e) == 0, "set 10%% to green: check passes, reload");
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
	ok(nginx_set(&c, "blue", "green", 30, 0, &e) == 0, "the check reads the file it is to check");
	cfg_free(&c);

	/* The check fails: the previous file comes back, byte for byte. */
	unlink(flag);
	put(file, old);
	snprintf(cmd, sizeof(cmd), "touch '%s'", flag);
	cfg_init(&c, file, "echo 'nginx: [emerg] invalid port in upstream' >&2; "
	    "echo 'nginx: configuration file test failed' >&2; exit 1", cmd);
	ok(nginx_set(&c, "blue", "green", 50, 0, &e) < 0 && e.code == EX_SERVICE,
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
	ok(nginx_set(&c, "blue", "green", 0, 0, &e) < 0 && e.code == EX_SERVICE,
	    "\"false\" as the check: refused");
	like(e.msg, "'false' exited with status 1; the previous file is back", "... saying how it ended");
	is_str(slurp(file), old, "... and the file is as it was");
	cfg_free(&c);

	/* No file before: none after a refused check. */
	unlink(file);
	cfg_init(&c, file, "false", "true");
	ok(nginx_set(&c, "blue", "green", 10, 0, &e) < 0 && access(file, F_OK) != 0,
	    "a refused first file is removed again");
	cfg_free(&c);

	/* A failed reload: the checked file stays for nginx's next reload. */
	cfg_init(&c, file, "true", "echo 'nginx: [error] invalid PID number' >&2; exit 1");
	ok(nginx_set(&c, "blue", "green", 25, 0, &e) < 0 && e.code == EX_SERVICE,
	    "a failing reload is an error, exit 69");
	like(e.msg, "nginx did not reload: 'echo", "... saying so");
	like(e.msg, "invalid PID number", "... with its output");
	ok(nginx_get(&c, "blue", "green", &w, &e) == 0 && w == 25, "... the new file stays");
	cfg_free(&c);

	/* A check that hangs is stopped: 30 s is too long for a test, so
	 * only a command that cannot start. */
	cfg_init(&c, file, "exec /nonexistent/nginx -t", "true");
	ok(nginx_set(&c, "blue", "green", 40, 0, &e) < 0 && e.code == EX_SERVICE &&
	    nginx_get(&c, "blue", "green", &w, &e) == 0 && w == 25,
	    "a check that cannot run: refused, the previous file back");
	cfg_free(&c);

	/* Slots not in servers, a link, a foreign file to read back. */
	cfg_init(&c, file, "true", "true");
	ok(nginx_set(&c, "blue", "red", 10, 0, &e) < 0 && e.code == EX_USAGE_, "a slot without an address");
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
		ok(nginx_set(&c, "blue", "green", 10, 0, &e) < 0 && e.code == EX_USAGE_,
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
	static const int w[3] = { 95, 5, 0 };
	struct nginx_file f = file2("my-app", STICKY_COOKIE, "session"), g;
	struct err e = { 0, "" };
	int got[3] = { -1, -1, -1 };
	char *text;

	text = nginx_render(&f, w);
	is_str(text, "map $cookie_session $ci_sticky_my_app {\n    \"\" $remote_addr;\n"
	    "    default $cookie_session;\n}\nupstream my-app {\n"
	    "    hash $ci_sticky_my_app consistent;\n    server 127.0.0.1:8001 weight=95;\n"
	    "    server 127.0.0.1:8002 weight=5;\n}\n",
	    "sticky cookie: a map of the cookie (the address without one), hashed consistently");
	ok(nginx_parse("f.conf", text, &f, got, &e) == 0 && got[0] == 95 && got[1] == 5,
	    "... and it reads back");
	g = file2("my-app", STICKY_NONE, NULL);
	ok(nginx_parse("f.conf", text, &g, got, &e) < 0 && strstr(e.msg, "f.conf:1:") &&
	    strstr(e.msg, "expected 'upstream NAME {'"),
	    "... a file with a map is not the file without stickiness: %s", e.msg);
	g = file2("my-app", STICKY_COOKIE, "sid");
	ok(nginx_parse("f.conf", text, &g, got, &e) < 0 && strstr(e.msg, "f.conf:1:") &&
	    strstr(e.msg, "$cookie_sid"), "... nor the file for another cookie: %s", e.msg);
	free(text);

	f = file2("app", STICKY_HEADER, "X-User-Id");
	text = nginx_render(&f, w);
	ok(strstr(text, "map $http_x_user_id $ci_sticky_app {") != NULL,
	    "sticky header: nginx's $http_ variable, lowercase with '_'");
	ok(nginx_parse("f.conf", text, &f, got, &e) == 0, "... reads back");
	free(text);

	f = file2("app", STICKY_SOURCE, NULL);
	text = nginx_render(&f, w);
	is_str(text, "upstream app {\n    hash $remote_addr consistent;\n"
	    "    server 127.0.0.1:8001 weight=95;\n    server 127.0.0.1:8002 weight=5;\n}\n",
	    "sticky source: the client's address, hashed consistently");
	ok(nginx_parse("f.conf", text, &f, got, &e) == 0 && got[1] == 5, "... reads back");
	ok(nginx_parse("f.conf", "upstream app {\n    server 127.0.0.1:8001 weight=95;\n}\n", &f,
	    got, &e) < 0 && strstr(e.msg, "f.conf:2:") &&
	    strstr(e.msg, "hash $remote_addr consistent;"),
	    "a block without the hash line is refused, naming the line: %s", e.msg);
	f = file2("app", STICKY_COOKIE, "session");
	ok(nginx_parse("f.conf", "map $cookie_session $ci_sticky_app {\n", &f, got, &e) < 0 &&
	    strstr(e.msg, "ends early"), "a map cut short is refused: %s", e.msg);
	free(text);
}

static void
test_baseline(void)
{
	struct nginx_file f = file2("app", STICKY_NONE, NULL), two = f;
	struct err e = { 0, "" };
	int got[3] = { -1, -1, -1 }, w[3] = { 90, 5, 5 };
	char *text;

	f.addr[2] = addrs[2];
	is_int(round_trips(&f), 0, "a baseline: every rendering from 0 to 100 parses back to its "
	    "weights");
	text = nginx_render(&f, w);
	ok(nginx_parse("f.conf", text, &two, got, &e) < 0 && strstr(e.msg, "f.conf:4: "
	    "'server 127.0.0.1:8003 weight=5;': a server not in traffic.servers"),
	    "the baseline's server is refused where traffic.servers has none: %s", e.msg);
	free(text);
	text = nginx_render(&two, w);
	ok(nginx_parse("f.conf", text, &f, got, &e) < 0 &&
	    strstr(e.msg, "f.conf:4: upstream 'app' has no server '127.0.0.1:8003'"),
	    "a block without the baseline's server is refused: %s", e.msg);
	free(text);
	ok(nginx_parse("f.conf", "upstream app {\n    server 127.0.0.1:8001 down;\n    server "
	    "127.0.0.1:8002 down;\n    server 127.0.0.1:8003 down;\n}\n", &f, got, &e) < 0 &&
	    strstr(e.msg, "f.conf:5: every server of upstream 'app' is down"),
	    "... and one with the three down: %s", e.msg);
}

/* traffic_set, _abort and _promote with a baseline: the file at each. */
static void
test_traffic_baseline(const char *dir)
{
	static const struct {
		int weight;	/* -1: abort, 101: promote */
		const char *w[3];
		int share;
	} cases[] = {
		{ 5, { "weight=90", "weight=5", "weight=5" }, 5 },
		{ 50, { "down", "weight=50", "weight=50" }, 50 },
		{ 60, { "down", "weight=60", "weight=40" }, 60 },
		{ 101, { "down", "weight=100", "down" }, 100 },
		{ -1, { "weight=100", "down", "down" }, 0 },
	};
	struct rollout_traffic c;
	struct traffic t;
	struct err e = { 0, "" };
	char file[256], want[512];
	size_t i;
	int w = -1, rc;

	snprintf(file, sizeof(file), "%s/b.conf", dir);
	cfg_init(&c, file, "true", "true");
	c.server_slot[2] = xstrdup("base");
	c.server_addr[2] = xstrdup(addrs[2]);
	c.baseline = xstrdup("base");
	traffic_init(&t, &c, "reg/shop:v2");
	t.stable = "blue";
	t.canary = "green";
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = cases[i].weight < 0 ? traffic_abort(&t, &e) : cases[i].weight > 100 ?
		    traffic_promote(&t, &e) : traffic_set(&t, cases[i].weight, &e);
		snprintf(want, sizeof(want), "upstream app {\n    server %s %s;\n    server %s %s;\n"
		    "    server %s %s;\n}\n", addrs[0], cases[i].w[0], addrs[1], cases[i].w[1],
		    addrs[2], cases[i].w[2]);
		ok(rc == 0, "baseline, canary at %d: set (%s)", cases[i].weight, e.msg);
		is_str(slurp(file), want, "... stable %s, canary %s, baseline %s", cases[i].w[0],
		    cases[i].w[1], cases[i].w[2]);
		ok(traffic_get(&t, &w, &e) == 1 && w == cases[i].share,
		    "... read back: the canary has %d of the sum", cases[i].share);
	}
	free(c.baseline);
	c.baseline = NULL;
	ok(traffic_set(&t, 5, &e) < 0 && e.code == EX_USAGE_ &&
	    strstr(e.msg, "traffic.servers has three servers, but there is no traffic.baseline"),
	    "three servers without a baseline are refused: %s", e.msg);
	c.baseline = xstrdup("base");
	free(c.server_slot[2]);
	free(c.server_addr[2]);
	c.server_slot[2] = c.server_addr[2] = NULL;
	ok(traffic_set(&t, 5, &e) < 0 && e.code == EX_USAGE_ &&
	    strstr(e.msg, "traffic.servers has no address for the baseline 'base'"),
	    "a baseline without a server is refused: %s", e.msg);
	cfg_free(&c);
}

/* A file with a route to X-Canary: 1, the canary green (8002). */
static struct nginx_file
file_route(int sticky, const char *sticky_name)
{
	struct nginx_file f = file2("app", sticky, sticky_name);

	f.route_header = "X-Canary";
	f.route_value = "1";
	return f;
}

/* What the route to X-Canary: 1 adds, leading to the canary or to app;
 * the canary's upstream after the block. */
static const char map_canary[] = "map $http_x_canary $ci_route_app {\n"
    "    \"1\" app_canary;\n    default app;\n}\n";
static const char map_main[] = "map $http_x_canary $ci_route_app {\n"
    "    \"1\" app;\n    default app;\n}\n";
static const char block_canary[] = "upstream app_canary {\n    server 127.0.0.1:8002;\n}\n";

static void
test_route(void)
{
	static const struct {
		int w[3];
		const char *map, *servers, *after, *name;
	} cases[] = {
		{ { 90, 10, 0 }, map_canary, "weight=90;\n    server 127.0.0.1:8002 weight=10;",
		  block_canary, "the canary with traffic: the map leads the value to the canary's "
		  "upstream, after the block" },
		{ { 100, 0, 0 }, map_main, "weight=100;\n    server 127.0.0.1:8002 down;", "",
		  "the canary without traffic (abort): the map leads the value to 'app', no "
		  "canary upstream" },
		{ { 0, 100, 0 }, map_main, "down;\n    server 127.0.0.1:8002 weight=100;", "",
		  "the canary with all of it (promotion): to 'app' too" },
	};
	struct nginx_file f = file_route(STICKY_NONE, NULL);
	char want[1024], *text;
	int w[3] = { 90, 5, 5 };
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		text = nginx_render(&f, cases[i].w);
		snprintf(want, sizeof(want), "%supstream app {\n    server 127.0.0.1:8001 %s\n}\n%s",
		    cases[i].map, cases[i].servers, cases[i].after);
		is_str(text, want, "a route, %s", cases[i].name);
		free(text);
	}
	is_int(round_trips(&f), 0, "a route: every rendering from 0 to 100 parses back to its "
	    "weights");

	f = file_route(STICKY_COOKIE, "session");
	f.addr[2] = addrs[2];
	text = nginx_render(&f, w);
	snprintf(want, sizeof(want), "map $cookie_session $ci_sticky_app {\n    \"\" $remote_addr;\n"
	    "    default $cookie_session;\n}\n%supstream app {\n    hash $ci_sticky_app consistent;\n"
	    "    server 127.0.0.1:8001 weight=90;\n    server 127.0.0.1:8002 weight=5;\n"
	    "    server 127.0.0.1:8003 weight=5;\n}\n%s", map_canary, block_canary);
	is_str(text, want, "sticky, route and baseline: the sticky map, the route's, the block "
	    "hashed, the canary's upstream");
	free(text);
	is_int(round_trips(&f), 0, "... every rendering from 0 to 100 parses back to its weights");
	f = file_route(STICKY_SOURCE, NULL);
	is_int(round_trips(&f), 0, "sticky source and a route: every rendering parses back");
}

static void
test_route_foreign(void)
{
	static const char plain[] = "upstream app {\n    server 127.0.0.1:8001 weight=90;\n"
	    "    server 127.0.0.1:8002 weight=10;\n}\n";
	static const struct {
		const char *pre, *block, *post, *msg;
	} cases[] = {
		{ "", plain, "", "f.conf:1: 'upstream app {': expected 'map $http_x_canary "
		  "$ci_route_app {' (traffic.route)" },
		{ "map $http_x_canary $ci_route_app {\n    \"2\" app_canary;\n    default app;\n}\n",
		  plain, "", "f.conf:2: '\"2\" app_canary;': expected '\"1\" app_canary;' or '\"1\" "
		  "app;' (traffic.route)" },
		{ "map $http_x_canary $ci_route_app {\n    \"1\" app_canary;\n    default app_canary;\n}\n",
		  plain, "", "f.conf:3: 'default app_canary;': expected 'default app;'" },
		{ map_main, plain, "", "f.conf:2: '\"1\" app;': the route does not go with the "
		  "weights, by which the canary has part of the traffic" },
		{ map_canary, "upstream app {\n    server 127.0.0.1:8001 weight=100;\n"
		  "    server 127.0.0.1:8002 down;\n}\n", block_canary, "f.conf:2: '\"1\" "
		  "app_canary;': the route does not go with the weights, by which the canary has "
		  "none or all of the traffic" },
		{ map_canary, plain, "", "f.conf:8: ends early; expected 'upstream app_canary {' "
		  "(traffic.route)" },
		{ map_canary, plain, "upstream app_canary {\n    server 127.0.0.1:8001;\n}\n",
		  "f.conf:10: 'server 127.0.0.1:8001;': expected 'server 127.0.0.1:8002;' "
		  "(traffic.route)" },
		{ map_canary, plain, "upstream app_canary {\n    server 127.0.0.1:8002;\n}\n"
		  "upstream other {\n", "f.conf:12: 'upstream other {': more after the upstream "
		  "block" },
		{ map_main, "upstream app {\n    server 127.0.0.1:8001 weight=100;\n"
		  "    server 127.0.0.1:8002 down;\n}\n", "upstream app_canary {\n",
		  "f.conf:9: 'upstream app_canary {': more after the upstream block" },
	};
	struct nginx_file f = file_route(STICKY_NONE, NULL);
	char text[1024];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct err e = { 0, "" };
		int got[3] = { -1, -1, -1 };

		snprintf(text, sizeof(text), "%s%s%s", cases[i].pre, cases[i].block, cases[i].post);
		ok(nginx_parse("f.conf", text, &f, got, &e) < 0 && e.code == EX_USAGE_,
		    "a route file it did not write is refused (%zu)", i);
		like(e.msg, cases[i].msg, "... naming the file and the line");
	}
	{
		struct err e = { 0, "" };
		int w[3] = { 90, 10, 0 }, got[3];
		char *t = nginx_render(&f, w);

		f.canary = 0;
		ok(nginx_parse("f.conf", t, &f, got, &e) < 0 && strstr(e.msg, "f.conf:10: "
		    "'server 127.0.0.1:8002;': expected 'server 127.0.0.1:8001;'"),
		    "the canary's upstream of the other slot is refused: %s", e.msg);
		free(t);
	}
}

static void
test_route_names(void)
{
	static const char *const good_hdr[] = { "X-Canary", "x_canary_2" };
	static const char *const bad_hdr[] = { "", "X.Canary", "X Canary", "X$a",
		"Xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		"xxxxxxxxxxxxxxxxxxxxxxxxxxx" };
	static const char *const good_val[] = { "1", "beta-testers", "a'b#c!~", "Default" };
	static const char *const bad_val[] = { "", "a b", "a\"b", "a\\b", "$host", "a{", "a}",
		"a;b", "a\tb", "a\nb", "caf\xc3\xa9", "~*.", "default", "include" };

	NAMES(nginx_check_header, "route header", "$http_NAME", good_hdr, bad_hdr);
	NAMES(nginx_check_route_value, "route value", "': ", good_val, bad_val);
}

/* traffic_set, _abort and _promote with a route: where the map leads. */
static void
test_traffic_route(const char *dir)
{
	struct rollout_traffic c;
	struct traffic t;
	struct err e = { 0, "" };
	char file[256];
	int w = -1;

	snprintf(file, sizeof(file), "%s/r.conf", dir);
	cfg_init(&c, file, "true", "true");
	c.route_header = xstrdup("X-Canary");
	c.route_value = xstrdup("1");
	traffic_init(&t, &c, "reg/shop:v2");
	t.stable = "blue";
	t.canary = "green";
	ok(traffic_set(&t, 10, &e) == 0 && traffic_get(&t, &w, &e) == 1 && w == 10,
	    "a route: set 10%%, read back");
	like(slurp(file), "\"1\" app_canary;", "... the value leads to the canary's upstream");
	like(slurp(file), "upstream app_canary {\n    server 127.0.0.1:8002;\n}\n",
	    "... which holds the canary alone");
	ok(traffic_abort(&t, &e) == 0 && traffic_get(&t, &w, &e) == 1 && w == 0, "abort");
	like(slurp(file), "\"1\" app;", "... the value leads to 'app'");
	ok(!strstr(slurp(file), "app_canary"), "... and the canary's upstream is gone");
	ok(traffic_promote(&t, &e) == 0 && traffic_get(&t, &w, &e) == 1 && w == 100, "promote");
	like(slurp(file), "\"1\" app;", "... the value leads to 'app', which is the canary's now");
	free(c.route_value);
	c.route_value = xstrdup("a;b");
	ok(traffic_set(&t, 10, &e) < 0 && e.code == EX_USAGE_ && strstr(e.msg, "'a;b'"),
	    "a route value nginx cannot take is refused before the file is written: %s", e.msg);
	cfg_free(&c);
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
	test_baseline();
	test_route();
	test_route_foreign();
	test_route_names();
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return done_testing();
	}
	test_set(dir);
	test_traffic(dir);
	test_traffic_baseline(dir);
	test_traffic_route(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return done_testing();
}
