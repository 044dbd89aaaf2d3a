/* Unit tests of lib/image/runtime: commands run by runc in a busybox
 * rootfs (status, output, user, env, cwd, network, binds, timeout), and
 * no container left behind.  Skipped without root or runc. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "core/fsutil.h"
#include "core/json.h"
#include "core/proc.h"
#include "image/runtime.h"
#include "tap.h"

static char dir[256];
static char *rootfs, *bundle;

static const char *const applets[] = {
	"sh", "echo", "id", "cat", "mkdir", "sleep", "pwd", "touch", "tail", "cut", "tr", NULL
};

/* system() of fmt with every %s replaced by arg. */
static int
sh(const char *fmt, const char *arg)
{
	char *cmd = xasprintf(fmt, arg, arg, arg);
	int rc = system(cmd);

	free(cmd);
	return rc;
}

static int
make_rootfs(void)
{
	struct err e = { 0, "" };
	const char *passwd = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n";
	size_t i;

	rootfs = xasprintf("%s/rootfs", dir);
	bundle = xasprintf("%s/bundle", dir);
	if (mkdir_p(rootfs, 0755, &e) < 0 || sh("mkdir -p '%s/bin' '%s/etc' '%s/work'", rootfs) ||
	    sh("cp /bin/busybox '%s/bin/busybox'", rootfs))
		return -1;
	for (i = 0; applets[i]; i++) {
		char *p = xasprintf("%s/bin/%s", rootfs, applets[i]);
		int rc = symlink("busybox", p);

		free(p);
		if (rc < 0)
			return -1;
	}
	{
		char *p = xasprintf("%s/etc/passwd", rootfs);
		int rc = atomic_write(p, passwd, strlen(passwd), 0644, &e);

		free(p);
		return rc;
	}
}

/* A spec for the test rootfs. */
static struct run_spec
spec(char **argv)
{
	struct run_spec s;

	memset(&s, 0, sizeof(s));
	s.runtime = "runc";
	s.rootfs = rootfs;
	s.bundle_dir = bundle;
	s.argv = argv;
	s.log_prefix = "#1 RUN";
	return s;
}

/* Containers of ours the runtime still lists. */
static int
ours_listed(void)
{
	char *argv[] = { "runc", "list", "-q", NULL };
	char *mine = xasprintf("ci-build-%ld-", (long)getpid());
	struct proc_spec ps;
	struct proc_result pr;
	struct err e = { 0, "" };
	int found;

	memset(&ps, 0, sizeof(ps));
	ps.argv = argv;
	proc_capture(&ps, &pr, &e);
	found = pr.out && strstr(pr.out, mine) != NULL;
	proc_result_free(&pr);
	free(mine);
	return found;
}

static void
test_basic(void)
{
	char *argv[] = { "/bin/sh", "-c",
	    "echo hi; echo err >&2; mkdir /out && echo x > /out/f; exit 3", NULL };
	struct run_spec s = spec(argv);
	struct run_result r;
	struct err e = { 0, "" };
	char *log = xasprintf("%s/stderr", dir), *shown, *f;
	int saved = dup(2), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	/* Our stderr into a file for the time of the run: the lines shown. */
	dup2(fd, 2);
	close(fd);
	ok(runtime_run(&s, &r, &e) == 0, "the command ran: %s", e.msg);
	dup2(saved, 2);
	close(saved);
	is_int(r.status, 3, "its exit status comes back");
	like(r.tail, "hi\n", "the tail holds stdout");
	like(r.tail, "err\n", "the tail holds stderr");
	ok(!r.timed_out && r.ms > 0, "no timeout, a duration (%lld ms)", r.ms);
	f = xasprintf("%s/out/f", rootfs);
	ok(path_exists(f), "the file it made is in the rootfs");
	free(f);
	shown = read_file(log, 1 << 20, NULL, &e);
	like(shown, "#1 RUN | hi\n", "stdout is shown on stderr with the prefix");
	like(shown, "#1 RUN | err\n", "stderr is shown with the prefix");
	free(shown);
	free(log);
	f = xasprintf("%s/config.json", bundle);
	ok(!path_exists(f), "the bundle's config.json is removed afterwards");
	free(f);
}

/* Run sh -c TEXT with s's settings into r (tail "" when it did not run). */
static void
run_text(struct run_spec *s, const char *text, struct run_result *r)
{
	char *argv[] = { "/bin/sh", "-c", (char *)text, NULL };
	struct err e = { 0, "" };

	s->argv = argv;
	s->log_prefix = NULL;
	if (runtime_run(s, r, &e) < 0) {
		ok(0, "run '%s': %s", text, e.msg);
		r->tail[0] = '\0';
	}
}

static void
test_process(void)
{
	char *env[] = { "FOO=bar baz", NULL };
	char *argv0[] = { NULL };
	struct run_spec s = spec(argv0);
	struct run_result r;

	s.uid = 1000;
	s.gid = 1000;
	run_text(&s, "id -u; id -g; touch /root-owned 2>/dev/null || echo denied", &r);
	is_str(r.tail, "1000\n1000\ndenied\n", "uid and gid 1000, without root's powers");
	s.uid = s.gid = 0;
	s.env = env;
	run_text(&s, "echo \"$FOO\"; echo \"$PATH\"", &r);
	is_str(r.tail, "bar baz\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
	    "the environment is passed, with a default PATH");
	s.env = NULL;
	s.cwd = "/work";
	run_text(&s, "pwd", &r);
	is_str(r.tail, "/work\n", "the working directory is honoured");
	s.cwd = NULL;
	{
		char *argv[] = { "echo", "exec", "form", NULL };
		struct err e = { 0, "" };

		s.argv = argv;
		ok(runtime_run(&s, &r, &e) == 0 && r.status == 0, "exec form, found in PATH");
		is_str(r.tail, "exec form\n", "exec form output");
	}
}

static void
test_network(void)
{
	char *argv0[] = { NULL };
	struct run_spec s = spec(argv0);
	struct run_result r;
	const char *list = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '";

	run_text(&s, list, &r);
	is_str(r.tail, "lo\n", "no network: loopback only");
	s.network_host = 1;
	run_text(&s, list, &r);
	ok(strstr(r.tail, "lo\n") && strcmp(r.tail, "lo\n"), "the host's network: more than lo");
}

static void
test_binds(void)
{
	char *argv0[] = { NULL };
	struct run_spec s = spec(argv0);
	struct run_result r;
	struct err e = { 0, "" };
	char *host = xasprintf("%s/host", dir), *cache = xasprintf("%s/cache", dir);
	char *ro = xasprintf("%s:/mnt/ro", host), *rw = xasprintf("%s:/var/cache/x", cache);
	char *file = xasprintf("%s/hello", host), *made;
	const char *ros[] = { ro, NULL }, *rws[] = { rw, NULL };
	const char *bad[] = { "/tmp:/mnt/../../etc", NULL }, *rel[] = { "/tmp:mnt", NULL };
	char *argv[] = { "/bin/sh", "-c", "true", NULL };

	mkdir_p(host, 0755, &e);
	mkdir_p(cache, 0755, &e);
	atomic_write(file, "hello from the host\n", 20, 0644, &e);
	s.ro_binds = ros;
	s.rw_binds = rws;
	run_text(&s, "cat /mnt/ro/hello; touch /mnt/ro/new 2>/dev/null || echo read-only; "
	    "echo cached > /var/cache/x/f", &r);
	is_str(r.tail, "hello from the host\nread-only\n", "a read-only bind: readable, not writable");
	made = xasprintf("%s/new", host);
	ok(!path_exists(made), "nothing was written through the read-only bind");
	free(made);
	made = xasprintf("%s/f", cache);
	ok(path_exists(made), "a read-write bind writes to the host");
	free(made);

	s.argv = argv;
	s.rw_binds = NULL;
	s.ro_binds = bad;
	ok(runtime_run(&s, &r, &e) == -1 && e.code == EX_USAGE_, "'..' in a bind is refused: %s",
	    e.msg);
	s.ro_binds = rel;
	ok(runtime_run(&s, &r, &e) == -1 && e.code == EX_USAGE_,
	    "a relative container path is refused: %s", e.msg);
	free(host);
	free(cache);
	free(ro);
	free(rw);
	free(file);
}

static void
test_failures(void)
{
	char *sleep[] = { "/bin/sleep", "100", NULL }, *nope[] = { "/bin/nope", NULL };
	struct run_spec s = spec(sleep);
	struct run_result r;
	struct err e = { 0, "" };

	s.timeout_ms = 500;
	ok(runtime_run(&s, &r, &e) == 0, "a timeout: the command ran: %s", e.msg);
	ok(r.timed_out && r.status == 137, "killed at the timeout (status %d)", r.status);
	ok(r.ms < 10000, "soon (%lld ms)", r.ms);
	ok(!ours_listed(), "the container is deleted after the timeout");

	s.timeout_ms = 0;
	s.argv = nope;
	ok(runtime_run(&s, &r, &e) == -1 && e.code == EX_FAIL, "a missing executable: %s", e.msg);
	like(e.msg, "/bin/nope", "the message names it");

	s.runtime = "/nonexistent/runc";
	ok(runtime_run(&s, &r, &e) == -1 && e.code == EX_SERVICE, "a missing runtime: %s", e.msg);
	like(e.msg, "'/nonexistent/runc'", "the message names the runtime");
}

static void
test_config(void)
{
	char *argv[] = { "/bin/true", NULL };
	struct run_spec s = spec(argv);
	struct err e = { 0, "" };
	char *text, *ns;
	cJSON *c;

	s.uid = 1000;
	text = runtime_config(&s, &e);
	c = cJSON_Parse(text ? text : "");
	ok(c != NULL, "the config is JSON");
	ns = json_print(json_path(c, "linux.namespaces"));
	is_str(ns, "[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"},"
	    "{\"type\":\"network\"}]", "own pid, ipc, uts, mount and network namespaces");
	ok(cJSON_IsTrue(json_path(c, "process.noNewPrivileges")), "no new privileges");
	is_int(cJSON_GetArraySize(json_path(c, "process.capabilities.effective")), 0,
	    "no effective capabilities for uid 1000");
	ok(cJSON_IsFalse(json_path(c, "root.readonly")), "a writable root");
	free(ns);
	free(text);
	cJSON_Delete(c);
	s.network_host = 1;
	text = runtime_config(&s, &e);
	ok(text && !strstr(text, "\"network\""), "network_host: no network namespace");
	free(text);
}

int
main(void)
{
	snprintf(dir, sizeof(dir), "%s/runtimeXXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (geteuid() != 0 || system("runc --version >/dev/null 2>&1") != 0) {
		printf("1..0 # SKIP %s\n", geteuid() ? "needs root" : "runc not found");
		return 0;
	}
	if (!mkdtemp(dir) || make_rootfs() < 0) {
		printf("1..0 # SKIP cannot make a rootfs from /bin/busybox\n");
		return 0;
	}
	test_config();
	test_basic();
	test_process();
	test_network();
	test_binds();
	test_failures();
	ok(!ours_listed(), "no container of ours is left (runc list)");
	sh("rm -rf '%s'", dir);
	free(rootfs);
	free(bundle);
	return done_testing();
}
