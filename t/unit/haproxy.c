/*
 * Unit tests for lib/rollout/haproxy.c: the "show stat" CSV parser on a
 * capture from HAProxy 2.6 (t/data/haproxy/show-stat.csv) and on broken
 * input; name and command checks; and the socket client against a fake
 * runtime API (a forked child on a Unix and a TCP socket, answering what
 * the test wrote to its "answer" file) for answers HAProxy gives and
 * some it should not: errors, silence, floods, a peer that hangs up.
 *
 * With arguments it is a small client of a real HAProxy instead, for
 * t/t0500-canary-haproxy.sh:
 *
 *   haproxy.t cmd SOCKET show-stat | info | get-weight B/S | set-weight B/S N
 *                 | set-state B/S STATE | shutdown B/S | save-state B|- PATH
 *                 | raw COMMAND
 *
 * Results go to stdout as simple lines; errors as "error: MSG" on stderr
 * with exit status 1 (2 for a usage error).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "rollout/haproxy.h"
#include "tap.h"

#define DATA "t/data/haproxy/"
/* haproxy.c's cap on a command. */
#define CMD_MAX_TEST (1024 * 1024)

static struct err e;

/* ok(), showing the error message when it fails. */
#define oke(cond, ...) do { \
	if (!ok(cond, __VA_ARGS__)) \
		printf("#   error: %s\n", e.msg); \
} while (0)

/* The command line client. */

static int
usage(void)
{
	fprintf(stderr, "usage: haproxy.t cmd SOCKET show-stat | info | get-weight B/S |\n"
	    "           set-weight B/S N | set-state B/S STATE | shutdown B/S |\n"
	    "           save-state B|- PATH | raw COMMAND\n");
	return 2;
}

/* "B/S" into its two names (split at the first slash). */
static void
split_bs(const char *arg, char **px, char **sv)
{
	const char *slash = strchr(arg, '/');

	*px = slash ? xstrndup(arg, (size_t)(slash - arg)) : xstrdup(arg);
	*sv = xstrdup(slash ? slash + 1 : "");
}

static void
print_row(const struct hap_row *r)
{
	printf("%s/%s weight=%lld stot=%lld req_tot=%lld 1xx=%lld 2xx=%lld 3xx=%lld "
	    "4xx=%lld 5xx=%lld other=%lld econ=%lld eresp=%lld rtime=%lld check=%s status=%s\n",
	    r->px, r->sv, r->weight, r->stot, r->req_tot, r->hrsp[1], r->hrsp[2],
	    r->hrsp[3], r->hrsp[4], r->hrsp[5], r->hrsp[0], r->econ, r->eresp,
	    r->rtime, r->check_status, r->status);
}

static int
cli(int argc, char **argv)
{
	struct haproxy h = { NULL, 0 };
	struct hap_stat st;
	const char *op;
	char *px = NULL, *sv = NULL, *ans, *end;
	long long pid, up;
	int r = -1, cur, init;
	long n;

	log_init("haproxy.t");
	if (argc < 4 || strcmp(argv[1], "cmd") != 0)
		return usage();
	h.addr = argv[2];
	op = argv[3];
	if (strcmp(op, "show-stat") == 0 && argc == 4) {
		if ((r = haproxy_show_stat(&h, &st, &e)) == 0) {
			size_t i;

			for (i = 0; i < st.n; i++)
				print_row(&st.rows[i]);
			hap_stat_free(&st);
		}
	} else if (strcmp(op, "info") == 0 && argc == 4) {
		if ((r = haproxy_info(&h, &pid, &up, &e)) == 0)
			printf("pid=%lld\nuptime_sec=%lld\n", pid, up);
	} else if (strcmp(op, "get-weight") == 0 && argc == 5) {
		split_bs(argv[4], &px, &sv);
		if ((r = haproxy_get_weight(&h, px, sv, &cur, &init, &e)) == 0)
			printf("weight=%d initial=%d\n", cur, init);
	} else if (strcmp(op, "set-weight") == 0 && argc == 6) {
		errno = 0;
		n = strtol(argv[5], &end, 10);
		if (errno || end == argv[5] || *end || n < -1000 || n > 1000)
			return usage();
		split_bs(argv[4], &px, &sv);
		r = haproxy_set_weight(&h, px, sv, (int)n, &e);
	} else if (strcmp(op, "set-state") == 0 && argc == 6) {
		split_bs(argv[4], &px, &sv);
		r = haproxy_set_state(&h, px, sv, argv[5], &e);
	} else if (strcmp(op, "shutdown") == 0 && argc == 5) {
		split_bs(argv[4], &px, &sv);
		r = haproxy_shutdown_sessions(&h, px, sv, &e);
	} else if (strcmp(op, "save-state") == 0 && argc == 6) {
		r = haproxy_save_state(&h, strcmp(argv[4], "-") == 0 ? NULL : argv[4],
		    argv[5], &e);
	} else if (strcmp(op, "raw") == 0 && argc == 5) {
		if ((r = haproxy_cmd(&h, argv[4], &ans, &e)) == 0) {
			fputs(ans, stdout);
			free(ans);
		}
	} else {
		return usage();
	}
	free(px);
	free(sv);
	if (r != 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		return 1;
	}
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}

/* The fake runtime API. */

static char fdir[64];		/* its directory: answer, last, sock */
static char fsock[96];		/* its Unix socket */
static int fport;		/* its TCP port on 127.0.0.1 */
static int fport6;		/* and on ::1 (0: no IPv6 here) */
static pid_t fpid;

static char *
F(const char *name)
{
	static char path[4][400];
	static int i;

	i = (i + 1) % 4;
	snprintf(path[i], sizeof(path[i]), "%s/%s", fdir, name);
	return path[i];
}

static void
put(const char *path, const char *s, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		return;
	if (n)
		(void)fwrite(s, 1, n, f);
	fclose(f);
}

/* What the fake says to the next command: text, or "@sleep" (nothing,
 * for 3 s), "@big" (17 MiB), "@close" (hang up at once, reading nothing). */
static void
fake_say(const char *answer)
{
	put(F("answer"), answer, strlen(answer));
	unlink(F("last"));
}

/* The last command the fake received, or NULL when none came. */
static char *
fake_last(void)
{
	static char *last;
	struct err fe;

	free(last);
	last = read_file(F("last"), 4 * 1024 * 1024, NULL, &fe);
	return last;
}

static void
fake_conn(int c)
{
	struct buf cmd;
	char *answer, chunk[4096];
	struct pollfd p;
	struct err fe;
	size_t alen = 0;

	answer = read_file(F("answer"), 1024 * 1024, &alen, &fe);
	if (!answer)
		answer = xstrdup("");
	if (strcmp(answer, "@close") == 0) {
		free(answer);
		return;
	}
	buf_init(&cmd, 2 * 1024 * 1024);
	for (;;) {
		ssize_t r;

		p.fd = c;
		p.events = POLLIN;
		if (poll(&p, 1, 2000) <= 0 || (r = read(c, chunk, sizeof(chunk))) <= 0 ||
		    buf_add(&cmd, chunk, (size_t)r) != 0)
			break;
		if (memchr(chunk, '\n', (size_t)r))
			break;
	}
	if (cmd.len && cmd.data[cmd.len - 1] == '\n')
		cmd.data[--cmd.len] = '\0';
	put(F("last"), buf_str(&cmd), cmd.len);
	buf_free(&cmd);
	if (strcmp(answer, "@sleep") == 0) {
		/* Until the client gives up (or 3 s). */
		p.fd = c;
		p.events = POLLIN;
		(void)poll(&p, 1, 3000);
	} else if (strcmp(answer, "@big") == 0) {
		size_t sent;

		memset(chunk, 'x', sizeof(chunk));
		for (sent = 0; sent < 17u * 1024 * 1024; sent += sizeof(chunk))
			if (write(c, chunk, sizeof(chunk)) < 0)
				break;
	} else {
		(void)!write(c, answer, alen);
	}
	free(answer);
}

static void fake_rmdir(void);

static void
fake_serve(int ufd, int tfd, int t6fd, pid_t parent)
{
	struct pollfd p[3];
	int i, c;

	/* A client that hangs up early must not end the fake. */
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		/* The test died (a crash is what some tests look for): clean
		 * up after it. */
		if (getppid() != parent) {
			fake_rmdir();
			_exit(0);
		}
		p[0].fd = ufd;
		p[1].fd = tfd;
		p[2].fd = t6fd;		/* poll() skips it when it is -1 */
		p[0].events = p[1].events = p[2].events = POLLIN;
		if (poll(p, 3, 200) <= 0)
			continue;
		for (i = 0; i < 3; i++) {
			if (!(p[i].revents & POLLIN) || (c = accept(p[i].fd, NULL, NULL)) < 0)
				continue;
			fake_conn(c);
			close(c);
		}
	}
}

static int
fake_start(void)
{
	struct sockaddr_un sun;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	socklen_t sl = sizeof(sin), sl6 = sizeof(sin6);
	const char *tmp = getenv("TMPDIR");
	pid_t parent = getpid();
	int ufd, tfd, t6fd;

	snprintf(fdir, sizeof(fdir), "%s/haproxy-unit.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(fdir))
		return -1;
	snprintf(fsock, sizeof(fsock), "%s/sock", fdir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fsock);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((ufd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    bind(ufd, (struct sockaddr *)&sun, sizeof(sun)) != 0 || listen(ufd, 16) != 0 ||
	    (tfd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(tfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(tfd, 16) != 0 ||
	    getsockname(tfd, (struct sockaddr *)&sin, &sl) != 0)
		return -1;
	fport = ntohs(sin.sin_port);
	/* IPv6 when the machine has it. */
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	if ((t6fd = socket(AF_INET6, SOCK_STREAM, 0)) >= 0 &&
	    (bind(t6fd, (struct sockaddr *)&sin6, sizeof(sin6)) != 0 || listen(t6fd, 16) != 0 ||
	    getsockname(t6fd, (struct sockaddr *)&sin6, &sl6) != 0)) {
		close(t6fd);
		t6fd = -1;
	}
	fport6 = t6fd >= 0 ? ntohs(sin6.sin6_port) : 0;
	fflush(stdout);
	if ((fpid = fork()) < 0)
		return -1;
	if (fpid == 0)
		fake_serve(ufd, tfd, t6fd, parent);
	close(ufd);
	close(tfd);
	if (t6fd >= 0)
		close(t6fd);
	return 0;
}

static void
fake_rmdir(void)
{
	DIR *d;
	struct dirent *de;

	if ((d = opendir(fdir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				unlink(F(de->d_name));
		closedir(d);
	}
	rmdir(fdir);
}

static void
fake_stop(void)
{
	if (fpid > 0) {
		kill(fpid, SIGTERM);
		waitpid(fpid, NULL, 0);
	}
	fake_rmdir();
}

/* The parser. */

static char *
slurp(const char *name)
{
	char path[256];
	char *s;

	snprintf(path, sizeof(path), DATA "%s", name);
	if (!(s = read_file(path, 1024 * 1024, NULL, &e))) {
		ok(0, "read %s: %s", path, e.msg);
		return xstrdup("");
	}
	return s;
}

/* s with every "\n" as "\r\n". */
static char *
crlf(const char *s)
{
	struct buf b = BUF_INIT;

	for (; *s; s++) {
		if (*s == '\n')
			buf_addc(&b, '\r');
		buf_addc(&b, *s);
	}
	return buf_detach(&b, NULL);
}

static void
check_fixture(const struct hap_stat *st, const char *how)
{
	const struct hap_row *r;

	is_int(st->n, 4, "%s: four rows (frontend, two servers, backend)", how);
	if ((r = hap_stat_find(st, "fe", "FRONTEND")) != NULL) {
		is_int(r->stot, 56, "%s: fe/FRONTEND stot", how);
		is_int(r->weight, -1, "%s: fe/FRONTEND has no weight (empty: -1)", how);
		is_int(r->rtime, -1, "%s: fe/FRONTEND has no rtime", how);
		is_int(r->econ, -1, "%s: fe/FRONTEND has no econ", how);
		is_str(r->status, "OPEN", "%s: fe/FRONTEND status", how);
		is_str(r->check_status, "", "%s: fe/FRONTEND check_status empty", how);
	} else {
		ok(0, "%s: fe/FRONTEND found", how);
	}
	if ((r = hap_stat_find(st, "app", "blue")) != NULL) {
		is_int(r->stot, 51, "%s: blue stot", how);
		is_int(r->req_tot, 51, "%s: blue req_tot", how);
		ok(r->hrsp[0] == 0 && r->hrsp[1] == 0 && r->hrsp[2] == 41 &&
		    r->hrsp[3] == 2 && r->hrsp[4] == 4 && r->hrsp[5] == 4,
		    "%s: blue hrsp other,1xx..5xx = 0,0,41,2,4,4", how);
		ok(r->econ == 0 && r->eresp == 0, "%s: blue econ, eresp 0", how);
		is_int(r->weight, 90, "%s: blue weight", how);
		is_str(r->status, "UP", "%s: blue status", how);
		is_str(r->check_status, "L7OK", "%s: blue check_status", how);
		is_int(r->rtime, 2, "%s: blue rtime", how);
	} else {
		ok(0, "%s: app/blue found", how);
	}
	if ((r = hap_stat_find(st, "app", "green")) != NULL) {
		ok(r->stot == 5 && r->weight == 10 && r->rtime == 17 && r->hrsp[2] == 4 &&
		    r->hrsp[3] == 1, "%s: green stot 5, weight 10, rtime 17, 2xx 4, 3xx 1", how);
	} else {
		ok(0, "%s: app/green found", how);
	}
	if ((r = hap_stat_find(st, "app", "BACKEND")) != NULL)
		ok(r->weight == 100 && r->stot == 56 && strcmp(r->check_status, "") == 0,
		    "%s: app/BACKEND weight 100, stot 56", how);
	else
		ok(0, "%s: app/BACKEND found", how);
}

static void
test_fixture(void)
{
	struct hap_stat st;
	char *csv = slurp("show-stat.csv"), *c2, *nl;

	oke(hap_stat_parse(csv, "show stat", &st, &e) == 0, "the 2.6 capture parses");
	check_fixture(&st, "capture");
	ok(hap_stat_find(&st, "app", "nosuch") == NULL, "find: no such server");
	ok(hap_stat_find(&st, "nosuch", "blue") == NULL, "find: no such backend");
	ok(hap_stat_find(&st, "blue", "app") == NULL, "find: names not swapped");
	hap_stat_free(&st);
	ok(st.n == 0 && st.rows == NULL, "hap_stat_free empties");
	hap_stat_free(&st);

	c2 = crlf(csv);
	oke(hap_stat_parse(c2, "crlf", &st, &e) == 0, "CRLF line ends");
	check_fixture(&st, "crlf");
	hap_stat_free(&st);
	free(c2);

	/* Without the trailing empty line, and without a final newline. */
	nl = strstr(csv, "\n\n");
	if (nl)
		nl[1] = '\0';
	oke(hap_stat_parse(csv, "one nl", &st, &e) == 0 && st.n == 4,
	    "no trailing empty line");
	hap_stat_free(&st);
	if (nl)
		nl[0] = '\0';
	oke(hap_stat_parse(csv, "no nl", &st, &e) == 0 && st.n == 4,
	    "no final newline");
	hap_stat_free(&st);
	free(csv);
}

static void
test_layouts(void)
{
	struct hap_stat st;
	const struct hap_row *r;

	/* Columns found by name, in any order; optional ones may be absent. */
	oke(hap_stat_parse("# weight,status,svname,stot,pxname\n"
	    "7,DRAIN,s1,12,b\n", "order", &st, &e) == 0, "columns in another order");
	r = hap_stat_find(&st, "b", "s1");
	ok(r && r->weight == 7 && r->stot == 12 && strcmp(r->status, "DRAIN") == 0,
	    "fields by header name, not position");
	ok(r && r->req_tot == -1 && r->rtime == -1 && r->hrsp[2] == -1 && r->econ == -1 &&
	    r->check_status && strcmp(r->check_status, "") == 0,
	    "absent optional columns: -1 and \"\"");
	hap_stat_free(&st);

	oke(hap_stat_parse("# pxname,svname,stot,weight,status,check_desc,check_status,\n"
	    "b,s,1,2,\"DOWN, really\",\"say \"\"hi\"\"\nthere\",L4CON,\n", "quoted", &st, &e) == 0,
	    "quoted fields, a doubled quote, a line break inside quotes");
	r = hap_stat_find(&st, "b", "s");
	ok(r && strcmp(r->status, "DOWN, really") == 0 && strcmp(r->check_status, "L4CON") == 0,
	    "a quoted comma stays in its field");
	hap_stat_free(&st);

	ok(hap_stat_parse("# pxname,svname,stot,weight,status,\n", "none", &st, &e) == 0 &&
	    st.n == 0 && st.rows == NULL, "a header and no rows: 0 rows");
	hap_stat_free(&st);

	ok(hap_stat_parse("# pxname,svname,stot,weight,status,\n\n\r\n\n", "blanks", &st, &e) == 0 &&
	    st.n == 0, "trailing empty lines");
	hap_stat_free(&st);

	ok(hap_stat_parse("# pxname,svname,stot,weight,status\r\nb,s,1,2,UP\r\n", "crlf", &st, &e) == 0 &&
	    st.n == 1 && strcmp(st.rows[0].status, "UP") == 0, "CRLF after the last column is not in it");
	hap_stat_free(&st);

	ok(hap_stat_parse("#pxname,svname,stot,weight,status\nb,s,-1,0,UP", "nospace", &st, &e) == 0 &&
	    st.n == 1 && st.rows[0].stot == -1 && st.rows[0].weight == 0,
	    "'#' without a space; a negative number; no final newline");
	hap_stat_free(&st);
}

/* Parse csv, expect an error whose message holds want, and an empty st. */
static void
bad(const char *csv, const char *want, const char *what)
{
	struct hap_stat st = { (struct hap_row *)&st, 99 };

	err_clear(&e);
	ok(hap_stat_parse(csv, "show stat", &st, &e) == -1, "%s: refused", what);
	like(e.msg, want, "%s: message", what);
	ok(e.code == EX_SERVICE && st.n == 0 && st.rows == NULL,
	    "%s: EX_SERVICE, nothing left in the result", what);
}

static void
test_bad(void)
{
	struct buf b = BUF_INIT;
	char *big;
	size_t i;

	bad("", "show stat: an empty answer, no '# pxname,svname,...' header", "empty input");
	bad(NULL, "no '# pxname", "NULL input");
	bad("fe,FRONTEND,,,0\n", "show stat:1: no '# pxname,svname,...' header: 'fe,FRONTEND,,,0'",
	    "no header");
	bad("Permission denied\n\n", "header: 'Permission denied'", "a refusal instead of a header");
	bad("# pxname,svname,qcur,\n", "show stat:1: the header lacks the columns 'stot', 'weight', 'status'",
	    "missing columns");
	bad("# pxname,svname,stot,status\n", "lacks the column 'weight'", "one missing column");
	bad("# pxname,svname,status,weight,stot,\n"
	    "app,green,UP,5,1,\n"
	    "app,blue,UP,100,xyz,\n", "show stat:3:17: 'stot' is not a number: 'xyz'", "a non-number");
	bad("# pxname,svname,status,weight,stot,\n"
	    "app,blue,UP,1e3,1,\n", "show stat:2:13: 'weight' is not a number: '1e3'", "1e3");
	bad("# pxname,svname,status,weight,stot,\n"
	    "app,blue,UP,1,99999999999999999999,\n", "'stot' is not a number: '99999999999999999999'",
	    "a number past long long");
	bad("# pxname,svname,status,weight,stot,\n"
	    "app,blue,UP,1,-,\n", "'stot' is not a number: '-'", "a lone minus");
	bad("# pxname,svname,status,weight,stot,\n"
	    "app,blue,UP,1,\" 5\",\n", "'stot' is not a number: ' 5'", "a quoted number with a space");
	bad("# pxname,svname,status,weight,stot,\n"
	    "app,green,UP,5,1,\n"
	    "app,blue,UP\n", "show stat:3: 3 fields where the header has 6", "a short row");
	bad("# pxname,svname,status,weight,stot,\n"
	    "app,blue,UP,1,2,3,4\n", "show stat:2: 7 fields where the header has 6", "a long row");
	bad("# pxname,svname,status,weight,stot,\n"
	    "\n"
	    "app,blue,UP,1,2,\n", "show stat:2: an empty line before more rows", "an empty line midway");
	bad("# pxname,svname,status,weight,stot,\n"
	    "app,\"blue,UP,1,2,\n", "show stat:2:5: a quoted field never ends", "an open quote");
	bad("# pxname,svname,status,weight,stot,\n"
	    "app,\"blue\"x,UP,1,2,\n", "show stat:2:11: text after a closing quote", "text after a quote");
	bad("# pxname,svname,status,weight,stot,\n"
	    "app,blue,UP,\x01\x1b[31m,2,\n", "'weight' is not a number: '??[31m'",
	    "control bytes are not echoed");

	/* A 1 MiB line: as a row, and as the header. */
	buf_adds(&b, "# pxname,svname,status,weight,stot,\napp,blue,UP,1,");
	for (i = 0; i < 1024 * 1024; i++)
		buf_addc(&b, '7');
	buf_adds(&b, ",\n");
	bad(buf_str(&b), "'stot' is not a number: '7777", "a 1 MiB number");
	ok(strlen(e.msg) < 400, "... quoted briefly (%zu bytes)", strlen(e.msg));
	buf_reset(&b);
	buf_adds(&b, "# pxname,svname,status,weight,stot,\napp,blue,UP,1,2,");
	for (i = 0; i < 512 * 1024; i++)
		buf_adds(&b, "x,");
	buf_adds(&b, "\n");
	bad(buf_str(&b), "show stat:2: 524294 fields where the header has 6", "a 1 MiB row");
	buf_reset(&b);
	buf_adds(&b, "# ");
	for (i = 0; i < 512 * 1024; i++)
		buf_adds(&b, "x,");
	buf_adds(&b, "\n");
	bad(buf_str(&b), "lacks the columns 'pxname', 'svname', 'stot'", "a 1 MiB header");
	big = buf_detach(&b, NULL);
	free(big);
}

/* Random bytes, and the capture with random damage: every answer is a
 * clean success or a clean error (ASan and UBSan watch the rest). */
static void
test_fuzz(void)
{
	struct hap_stat st;
	char *csv = slurp("show-stat.csv"), *s;
	size_t len = strlen(csv), i, n, bad_results = 0, parsed = 0;
	unsigned long seed = 20260501;
	int round;

	s = xmalloc(len + 4096 + 1);
	for (round = 0; round < 3000; round++) {
		if (round % 2) {
			n = (seed = seed * 6364136223846793005UL + 1442695040888963407UL) >> 33;
			n %= 4096;
			for (i = 0; i < n; i++) {
				seed = seed * 6364136223846793005UL + 1442695040888963407UL;
				s[i] = (char)((seed >> 33) % 255 + 1);
			}
			/* Half of the random ones behind a good header. */
			if (round % 4 == 1 && n > 40)
				memcpy(s, "# pxname,svname,stot,weight,status,\n", 36);
			s[n] = '\0';
		} else {
			memcpy(s, csv, len + 1);
			for (i = 0; i < 4; i++) {
				seed = seed * 6364136223846793005UL + 1442695040888963407UL;
				s[(seed >> 33) % len] = "\n,\"\r#x-9 \x80"[(seed >> 20) % 10];
			}
		}
		err_clear(&e);
		if (hap_stat_parse(s, "fuzz", &st, &e) == 0) {
			parsed++;
			for (i = 0; i < st.n; i++)
				if (!st.rows[i].px || !st.rows[i].sv || !st.rows[i].status ||
				    !st.rows[i].check_status)
					bad_results++;
			hap_stat_free(&st);
		} else if (st.n != 0 || st.rows != NULL || e.code != EX_SERVICE ||
		    strncmp(e.msg, "fuzz:", 5) != 0) {
			bad_results++;
		}
	}
	ok(bad_results == 0, "3000 damaged inputs: clean results or clean errors "
	    "(%zu parsed)", parsed);
	free(s);
	free(csv);
}

/* Names and commands. */

static void
test_names(void)
{
	static const char *const good[] = { "app", "app-v2.1_x:y", "A", "0", NULL };
	static const char *const nope[] = {
		"", "a b", "a/b", "a;b", "a\nb", "caf\xc3\xa9", "a\"b", "a'b", "a\\b", NULL
	};
	struct haproxy h = { NULL, 0 };
	char longname[HAPROXY_NAME_MAX + 2];
	int i;

	for (i = 0; good[i]; i++)
		ok(haproxy_check_name("backend", good[i], &e) == 0, "good name '%s'", good[i]);
	for (i = 0; nope[i]; i++) {
		err_clear(&e);
		ok(haproxy_check_name("server", nope[i], &e) == -1 && e.code == EX_USAGE_,
		    "bad name %d refused (EX_USAGE_)", i);
	}
	like(e.msg, "invalid haproxy server name 'a\\b'", "the message names it");
	ok(haproxy_check_name("server", NULL, &e) == -1, "NULL name refused");
	memset(longname, 'a', sizeof(longname) - 1);
	longname[HAPROXY_NAME_MAX] = '\0';
	ok(haproxy_check_name("backend", longname, &e) == 0, "a name of %d bytes", HAPROXY_NAME_MAX);
	longname[HAPROXY_NAME_MAX] = 'a';
	longname[HAPROXY_NAME_MAX + 1] = '\0';
	ok(haproxy_check_name("backend", longname, &e) == -1, "a name of %d bytes refused",
	    HAPROXY_NAME_MAX + 1);

	/* Through the calls: refused before a connection (to the fake,
	 * which would note the command). */
	h.addr = fsock;
	fake_say("\n");
	err_clear(&e);
	ok(haproxy_set_weight(&h, "app;shutdown sessions server app", "blue", 5, &e) == -1 &&
	    e.code == EX_USAGE_, "set weight: a backend name with ';' refused");
	like(e.msg, "invalid haproxy backend name 'app;shutdown sessions server app'",
	    "... naming it");
	ok(haproxy_set_state(&h, "app", "green\nshutdown", "maint", &e) == -1 &&
	    e.code == EX_USAGE_, "set state: a server name with a newline refused");
	like(e.msg, "invalid haproxy server name 'green?shutdown'", "... the newline not echoed");
	ok(haproxy_get_weight(&h, "", "blue", NULL, NULL, &e) == -1 && e.code == EX_USAGE_,
	    "get weight: an empty backend name refused");
	ok(haproxy_shutdown_sessions(&h, "app", "a b", &e) == -1 && e.code == EX_USAGE_,
	    "shutdown sessions: a name with a space refused");
	ok(haproxy_save_state(&h, "app/x", F("state"), &e) == -1 && e.code == EX_USAGE_,
	    "save state: a bad backend name refused");
	ok(haproxy_set_state(&h, "app", "green", "maint;x", &e) == -1 && e.code == EX_USAGE_,
	    "set state: a state outside ready|drain|maint refused");
	like(e.msg, "invalid server state 'maint;x' for 'app/green': use ready, drain or maint",
	    "... naming it");
	ok(haproxy_set_weight(&h, "app", "green", 257, &e) == -1 && e.code == EX_USAGE_,
	    "weight 257 refused");
	like(e.msg, "weight 257 for 'app/green' is out of range", "... naming it");
	ok(haproxy_set_weight(&h, "app", "green", -1, &e) == -1 && e.code == EX_USAGE_,
	    "weight -1 refused");
	ok(fake_last() == NULL, "none of them reached the socket");
}

static void
test_injection(void)
{
	struct haproxy h = { NULL, 0 };
	char *ans = (char *)"x";

	h.addr = fsock;
	fake_say("\n");
	ok(haproxy_cmd(&h, "show info; shutdown sessions server app/blue", &ans, &e) == -1 &&
	    e.code == EX_USAGE_ && ans == NULL, "a command with ';' refused (EX_USAGE_)");
	like(e.msg, "refusing haproxy command 'show info; shutdown sessions server app/blue': "
	    "';' would start another command", "... naming it");
	ok(haproxy_cmd(&h, "show info\nshutdown sessions server app/blue", &ans, &e) == -1 &&
	    e.code == EX_USAGE_, "a command with a newline refused");
	like(e.msg, "'show info?shutdown sessions server app/blue': a newline", "... naming it");
	ok(haproxy_cmd(&h, "show info\r", &ans, &e) == -1 && e.code == EX_USAGE_,
	    "a carriage return refused");
	ok(haproxy_cmd(&h, "show\tinfo", &ans, &e) == -1 && e.code == EX_USAGE_,
	    "a control character refused");
	ok(haproxy_cmd(&h, "", &ans, &e) == -1 && e.code == EX_USAGE_, "an empty command refused");
	ok(fake_last() == NULL, "none of them reached the socket");
}

/* The client against the fake. */

static void
test_client(void)
{
	struct haproxy h = { NULL, 0 };
	struct hap_stat st;
	char addr[64], addr4[64], *ans, *s, *stat = slurp("show-stat.csv");
	int cur = -2, init = -2;
	long long pid = 0, up = 0;

	h.addr = fsock;
	fake_say("\n");
	oke(haproxy_set_weight(&h, "app", "green", 5, &e) == 0, "set weight over a Unix socket");
	is_str(fake_last(), "set weight app/green 5", "... sends 'set weight app/green 5'");
	fake_say("");
	ok(haproxy_set_weight(&h, "app", "green", 256, &e) == 0, "an empty answer is success too");
	is_str(fake_last(), "set weight app/green 256", "... weight 256");

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", fport);
	h.addr = addr;
	fake_say("\n");
	oke(haproxy_set_state(&h, "app", "green", "drain", &e) == 0, "over TCP, HOST:PORT");
	is_str(fake_last(), "set server app/green state drain", "... sends 'set server app/green state drain'");
	snprintf(addr4, sizeof(addr4), "ipv4@127.0.0.1:%d", fport);
	h.addr = addr4;
	oke(haproxy_shutdown_sessions(&h, "app", "green", &e) == 0, "over TCP, ipv4@HOST:PORT");
	is_str(fake_last(), "shutdown sessions server app/green", "... sends 'shutdown sessions server app/green'");
	snprintf(addr4, sizeof(addr4), "[127.0.0.1]:%d", fport);
	oke(haproxy_cmd(&h, "show version", &ans, &e) == 0 && strcmp(ans, "\n") == 0,
	    "[HOST]:PORT; haproxy_cmd hands back the answer");
	free(ans);
	if (fport6) {
		snprintf(addr4, sizeof(addr4), "[::1]:%d", fport6);
		oke(haproxy_set_weight(&h, "app", "green", 7, &e) == 0, "over TCP, [::1]:PORT");
		is_str(fake_last(), "set weight app/green 7", "... sends 'set weight app/green 7'");
		snprintf(addr4, sizeof(addr4), "ipv6@::1:%d", fport6);
		oke(haproxy_set_weight(&h, "app", "green", 8, &e) == 0, "over TCP, ipv6@::1:PORT");
		is_str(fake_last(), "set weight app/green 8", "... sends 'set weight app/green 8'");
	} else {
		for (cur = 0; cur < 4; cur++)
			ok(1, "IPv6 # SKIP no ::1 here");
	}

	/* HAProxy's refusals, as 2.6 words them. */
	h.addr = fsock;
	fake_say("No such server.\n\n");
	ok(haproxy_set_weight(&h, "app", "nosuch", 5, &e) == -1 && e.code == EX_USAGE_,
	    "'No such server.': EX_USAGE_");
	s = xasprintf("haproxy at '%s': 'set weight app/nosuch 5': No such server.", fsock);
	is_str(e.msg, s, "... naming the socket, the command and HAProxy's words");
	free(s);
	fake_say("No such backend.\n\n");
	ok(haproxy_set_state(&h, "nosuch", "blue", "maint", &e) == -1 && e.code == EX_USAGE_,
	    "'No such backend.': EX_USAGE_");
	like(e.msg, "'set server nosuch/blue state maint': No such backend.", "... named");
	fake_say("Require 'backend/server'.\n\n");
	ok(haproxy_shutdown_sessions(&h, "app", "blue", &e) == -1 && e.code == EX_SERVICE,
	    "another complaint: EX_SERVICE");
	like(e.msg, ": Require 'backend/server'.", "... in HAProxy's words");
	fake_say("Unknown command, but maybe one of the following ones is a better match:\n"
	    "  add acl [@<ver>] <acl> <pattern>           : add an acl entry\n\n");
	ok(haproxy_set_weight(&h, "app", "blue", 1, &e) == -1 && e.code == EX_SERVICE,
	    "'Unknown command': EX_SERVICE");
	ok(strstr(e.msg, "Unknown command, but maybe") && !strstr(e.msg, "add acl"),
	    "... its first line only: %s", e.msg);
	fake_say("Permission denied\n\n");
	ok(haproxy_set_weight(&h, "app", "blue", 1, &e) == -1 && e.code == EX_AUTH,
	    "'Permission denied' (a socket below level admin): EX_AUTH");

	/* get weight */
	fake_say("5 (initial 1)\n\n");
	ok(haproxy_get_weight(&h, "app", "green", &cur, &init, &e) == 0 && cur == 5 && init == 1,
	    "get weight: '5 (initial 1)' is 5 and 1");
	is_str(fake_last(), "get weight app/green", "... sends 'get weight app/green'");
	fake_say("256 (initial 0)\r\n");
	ok(haproxy_get_weight(&h, "app", "green", &cur, &init, &e) == 0 && cur == 256 && init == 0,
	    "get weight: 256 (initial 0), CRLF");
	fake_say("No such server.\n\n");
	ok(haproxy_get_weight(&h, "app", "nosuch", &cur, &init, &e) == -1 && e.code == EX_USAGE_,
	    "get weight: no such server");
	like(e.msg, "'get weight app/nosuch': No such server.", "... named");
	fake_say("5 (initial x)\n");
	ok(haproxy_get_weight(&h, "app", "green", &cur, &init, &e) == -1 && e.code == EX_SERVICE,
	    "get weight: a garbled answer");
	like(e.msg, "expected 'N (initial N)', got '5 (initial x)'", "... quoted");
	fake_say("5 (initial 1) and more\n");
	ok(haproxy_get_weight(&h, "app", "green", &cur, &init, &e) == -1, "get weight: trailing text");
	fake_say("99999999999 (initial 1)\n");
	ok(haproxy_get_weight(&h, "app", "green", &cur, &init, &e) == -1, "get weight: past int");

	/* show info */
	s = slurp("show-info.txt");
	fake_say(s);
	free(s);
	oke(haproxy_info(&h, &pid, &up, &e) == 0 && pid == 2136 && up == 23,
	    "show info (2.6 capture): Pid 2136, Uptime_sec 23");
	is_str(fake_last(), "show info", "... sends 'show info'");
	ok(haproxy_info(&h, NULL, NULL, &e) == 0, "show info: NULL outputs");
	fake_say("Name: HAProxy\nUptime_sec: 3\n\n");
	ok(haproxy_info(&h, &pid, &up, &e) == -1 && e.code == EX_SERVICE, "show info without Pid");
	like(e.msg, "'show info': no 'Pid' line", "... says so");
	fake_say("Name: HAProxy\nPid: 12x\nUptime_sec: 3\n");
	ok(haproxy_info(&h, &pid, &up, &e) == -1, "show info: a bad Pid");
	like(e.msg, "'show info':2: 'Pid' is not a number: '12x'", "... line and value");
	fake_say("Pid: 7\r\nUptime_sec: 8\r\n");
	ok(haproxy_info(&h, &pid, &up, &e) == 0 && pid == 7 && up == 8, "show info, CRLF");
	fake_say("Permission denied\n\n");
	ok(haproxy_info(&h, &pid, &up, &e) == -1 && e.code == EX_AUTH, "show info refused");

	/* show stat through the socket */
	fake_say(stat);
	oke(haproxy_show_stat(&h, &st, &e) == 0, "show stat through the socket");
	check_fixture(&st, "socket");
	is_str(fake_last(), "show stat", "... sends 'show stat'");
	hap_stat_free(&st);
	fake_say("# pxname,svname,stot,weight,status,\nb,s,x,1,UP,\n");
	ok(haproxy_show_stat(&h, &st, &e) == -1 && e.code == EX_SERVICE && st.n == 0,
	    "show stat: a bad answer");
	s = xasprintf("haproxy at '%s': show stat:2:5: 'stot' is not a number: 'x'", fsock);
	is_str(e.msg, s, "... naming the socket, line and column");
	free(s);

	/* save state */
	put(F("state"), "old\n", 4);
	fake_say("1\n# be_id be_name srv_id srv_name\n3 app 1 blue\n3 app 2 green\n\n");
	oke(haproxy_save_state(&h, "app", F("state"), &e) == 0, "save state");
	is_str(fake_last(), "show servers state app", "... sends 'show servers state app'");
	s = read_file(F("state"), 4096, NULL, &e);
	is_str(s, "1\n# be_id be_name srv_id srv_name\n3 app 1 blue\n3 app 2 green\n\n",
	    "... the file holds the answer as it came");
	free(s);
	ok(haproxy_save_state(&h, NULL, F("state"), &e) == 0, "save state of every backend");
	is_str(fake_last(), "show servers state", "... sends 'show servers state'");
	fake_say("Can't find backend.\n\n");
	ok(haproxy_save_state(&h, "nosuch", F("state"), &e) == -1 && e.code == EX_USAGE_,
	    "save state: no such backend");
	like(e.msg, "'show servers state nosuch': Can't find backend.", "... named");
	fake_say("2\n# something new\n");
	ok(haproxy_save_state(&h, "app", F("state"), &e) == -1 && e.code == EX_SERVICE,
	    "save state: a version we do not know");
	like(e.msg, "unknown server-state version '2'", "... named");
	fake_say("");
	ok(haproxy_save_state(&h, "app", F("state"), &e) == -1, "save state: an empty answer");
	like(e.msg, "an empty answer", "... says so");
	s = read_file(F("state"), 4096, NULL, &e);
	ok(s && strncmp(s, "1\n# be_id", 9) == 0, "refused answers left the good file alone");
	free(s);
	fake_say("1\n");
	ok(haproxy_save_state(&h, "app", "/nonexistent/dir/state", &e) == -1 &&
	    e.code == EX_IOERR_, "save state to an unwritable path: EX_IOERR_");

	/* A NUL in an answer */
	put(F("answer"), "5 (initial 1)\n\0junk", 19);
	ok(haproxy_cmd(&h, "get weight app/x", &ans, &e) == -1 && e.code == EX_SERVICE,
	    "an answer with a NUL byte refused");
	like(e.msg, "holds a NUL byte", "... says so");

	free(stat);
}

static void
test_faults(void)
{
	struct haproxy h = { NULL, 0 };
	struct sockaddr_in sin;
	struct sockaddr_un sun;
	socklen_t sl = sizeof(sin);
	char addr[100], *ans = NULL, *s, *longcmd;
	long long t0;
	int fd, i, lfd, fds[64], nfds = 0;

	/* Nothing at the path. */
	h.addr = "/nonexistent/haproxy.sock";
	ok(haproxy_cmd(&h, "show info", &ans, &e) == -1 && e.code == EX_SERVICE,
	    "no socket at the path: EX_SERVICE");
	is_str(e.msg, "cannot reach haproxy at '/nonexistent/haproxy.sock': No such file or directory",
	    "... naming the address");

	/* Nothing on the port. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
		getsockname(fd, (struct sockaddr *)&sin, &sl);
	close(fd);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sin.sin_port));
	h.addr = addr;
	ok(haproxy_cmd(&h, "show info", &ans, &e) == -1 && e.code == EX_SERVICE,
	    "nothing on the port: EX_SERVICE");
	s = xasprintf("cannot reach haproxy at '%s': Connection refused", addr);
	is_str(e.msg, s, "... naming the address");
	free(s);

	/* Addresses that are not. */
	h.addr = "ipv4@localhost";
	ok(haproxy_cmd(&h, "show info", &ans, &e) == -1 && e.code == EX_USAGE_,
	    "ipv4@ without a port: EX_USAGE_");
	like(e.msg, "invalid haproxy address 'ipv4@localhost': expected ipv4@HOST:PORT", "... says so");
	h.addr = "ipv4@127.0.0.1:70000";
	ok(haproxy_cmd(&h, "show info", &ans, &e) == -1 && e.code == EX_USAGE_, "port 70000");
	s = xmalloc(200);
	memset(s, 'a', 199);
	s[0] = '/';
	s[199] = '\0';
	h.addr = s;
	ok(haproxy_cmd(&h, "show info", &ans, &e) == -1 && e.code == EX_USAGE_,
	    "a socket path too long for sun_path");
	free(s);
	h.addr = "";
	ok(haproxy_cmd(&h, "show info", &ans, &e) == -1 && e.code == EX_USAGE_, "an empty address");

	/* The fake says nothing: the timeout ends the wait. */
	h.addr = fsock;
	h.timeout_ms = 300;
	fake_say("@sleep");
	t0 = mono_ms();
	ok(haproxy_cmd(&h, "show info", &ans, &e) == -1 && e.code == EX_SERVICE,
	    "no answer: EX_SERVICE");
	ok(mono_ms() - t0 < 2000, "... after the timeout, not the fake's 3 s (%lld ms)",
	    mono_ms() - t0);
	s = xasprintf("haproxy at '%s': 'show info': no answer within 300ms", fsock);
	is_str(e.msg, s, "... naming the address and the timeout");
	free(s);

	/* A listen queue that is full: connect() cannot complete. */
	snprintf(addr, sizeof(addr), "%s/full.sock", fdir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", addr);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) == 0 && listen(lfd, 0) == 0) {
		for (i = 0; i < 64; i++) {
			fds[nfds] = socket(AF_UNIX, SOCK_STREAM, 0);
			fcntl(fds[nfds], F_SETFL, O_NONBLOCK);
			if (connect(fds[nfds], (struct sockaddr *)&sun, sizeof(sun)) != 0) {
				close(fds[nfds]);
				break;
			}
			nfds++;
		}
	}
	h.addr = addr;
	t0 = mono_ms();
	ok(haproxy_cmd(&h, "show info", &ans, &e) == -1 && e.code == EX_SERVICE,
	    "a full listen queue: EX_SERVICE");
	ok(mono_ms() - t0 >= 250 && mono_ms() - t0 < 2000, "... after the timeout (%lld ms)",
	    mono_ms() - t0);
	s = xasprintf("cannot reach haproxy at '%s': no connection within 300ms", addr);
	is_str(e.msg, s, "... naming the address");
	free(s);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	close(lfd);

	/* 17 MiB of answer: refused, not truncated. */
	h.addr = fsock;
	h.timeout_ms = 20000;
	fake_say("@big");
	ok(haproxy_cmd(&h, "show stat", &ans, &e) == -1 && e.code == EX_SERVICE && ans == NULL,
	    "an answer past 16 MiB refused");
	like(e.msg, "'show stat': the answer is longer than 16 MiB", "... says so");

	/* A peer that hangs up while we send: EPIPE, never SIGPIPE (which
	 * would end this test right here). */
	fake_say("@close");
	longcmd = xmalloc(512 * 1024 + 1);
	memset(longcmd, 'x', 512 * 1024);
	longcmd[512 * 1024] = '\0';
	ok(haproxy_cmd(&h, longcmd, &ans, &e) == -1 && e.code == EX_SERVICE,
	    "a peer that hangs up: an error, and we are still here");
	s = xasprintf("haproxy at '%s': ", fsock);
	ok(strncmp(e.msg, s, strlen(s)) == 0 && strstr(e.msg, "'xxxxxxxxxx"),
	    "... naming the address and the command");
	ok(strlen(e.msg) < 300, "... shortened (%zu bytes)", strlen(e.msg));
	free(s);
	free(longcmd);
	longcmd = xmalloc(CMD_MAX_TEST + 2);
	memset(longcmd, 'x', CMD_MAX_TEST + 1);
	longcmd[CMD_MAX_TEST + 1] = '\0';
	ok(haproxy_cmd(&h, longcmd, &ans, &e) == -1 && e.code == EX_USAGE_,
	    "a command longer than 1 MiB refused");
	free(longcmd);
}

int
main(int argc, char **argv)
{
	if (argc > 1)
		return cli(argc, argv);
	log_init("haproxy.t");
	test_fixture();
	test_layouts();
	test_bad();
	test_fuzz();
	if (fake_start() != 0) {
		ok(0, "start the fake runtime API: %s", strerror(errno));
		return done_testing();
	}
	test_names();
	test_injection();
	test_client();
	test_faults();
	fake_stop();
	return done_testing();
}
