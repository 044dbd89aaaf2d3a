/*
 * Unit tests for lib/proc: exit statuses, captured output, env and cwd,
 * exec failures, timeouts and cancellation of whole process groups,
 * parallel jobs, bounded tails and pipes held open by grandchildren; and
 * proc_capture(): stdin bytes, stdout apart from stderr, the stdout cap,
 * a timeout that kills a grandchild ignoring SIGTERM, env, cwd.
 * No assertion depends on wall-clock timing.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/proc.h"
#include "tap.h"

static char dir[PATH_MAX];

static char *
path_in(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

/* Whole file as a string (NULL when missing); *len gets its size. */
static char *
slurp(const char *path, size_t *len)
{
	struct buf b;
	char chunk[4096];
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0)
		return NULL;
	buf_init(&b, 0);
	while ((r = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(&b, chunk, (size_t)r);
	close(fd);
	return buf_detach(&b, len);
}

static void
spit(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			perror("write");
		close(fd);
	}
}

/* Run shell text to completion; the caller frees p. */
static int
run_sh(struct proc *p, const char *text, struct proc_spec *spec)
{
	struct proc_spec def;
	struct err e;

	if (!spec) {
		memset(&def, 0, sizeof(def));
		spec = &def;
	}
	spec->shell = text;
	if (proc_run(p, spec, &e) == -1) {
		printf("# proc_run: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static char *
tail_of(const struct proc *p, int n)
{
	return ring_lines(&p->tail, n);
}

/* Run shell text to completion and return the last n lines of its output. */
static char *
sh_tail(const char *text, struct proc_spec *spec, int n)
{
	struct proc p;
	char *t;

	run_sh(&p, text, spec);
	t = tail_of(&p, n);
	proc_free(&p);
	return t;
}

/* Gone, or a zombie waiting for init: either way it runs no more. */
static int
is_dead(pid_t pid)
{
	char path[64], *stat, *rp;
	int dead = 0;

	if (kill(pid, 0) == -1 && errno == ESRCH)
		return 1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((stat = slurp(path, NULL)) != NULL) {
		rp = strrchr(stat, ')');
		dead = rp && rp[1] == ' ' && rp[2] == 'Z';
		free(stat);
	}
	return dead;
}

/* Poll for death for up to ~5 s: only a bound against hanging. */
static int
wait_dead(pid_t pid)
{
	int i;

	for (i = 0; i < 500; i++) {
		if (is_dead(pid))
			return 1;
		usleep(10000);
	}
	return 0;
}

/* Read a pid some job wrote to a file, waiting up to ~5 s for it. */
static pid_t
read_pid(const char *name)
{
	char *path = path_in(name), *s = NULL;
	long v = 0;
	int i;

	for (i = 0; i < 500; i++) {
		if ((s = slurp(path, NULL)) != NULL && *s)
			break;
		free(s);
		s = NULL;
		usleep(10000);
	}
	if (s)
		v = strtol(s, NULL, 10);
	free(s);
	free(path);
	return (pid_t)v;
}

static void
test_exit_codes(void)
{
	struct proc p;
	char d[256];
	char *argv_true[] = { "true", NULL };
	char *argv_3[] = { "sh", "-c", "exit 3", NULL };
	struct proc_spec spec;
	struct err e;

	memset(&spec, 0, sizeof(spec));
	spec.argv = argv_true;
	ok(proc_run(&p, &spec, &e) == 0, "argv: true runs");
	is_int(p.state, PROC_DONE, "true: done");
	is_int(proc_exit_code(&p), 0, "true: exit 0");
	is_int(proc_signal(&p), 0, "true: no signal");
	proc_describe(&p, d, sizeof(d));
	is_str(d, "exited with status 0", "true: described");
	ok(proc_elapsed_ms(&p) >= 0, "true: elapsed is not negative");
	proc_free(&p);

	spec.argv = argv_3;
	ok(proc_run(&p, &spec, &e) == 0, "argv: sh -c 'exit 3' runs");
	is_int(proc_exit_code(&p), 3, "exit 3");
	proc_describe(&p, d, sizeof(d));
	is_str(d, "exited with status 3", "exit 3: described");
	is_int(p.exec_errno, 0, "exit 3: no exec error");
	proc_free(&p);

	run_sh(&p, "kill -KILL $$", NULL);
	is_int(proc_signal(&p), SIGKILL, "killed by SIGKILL: signal");
	is_int(proc_exit_code(&p), -1, "killed: no exit code");
	proc_describe(&p, d, sizeof(d));
	is_str(d, "killed by SIGKILL", "killed: described");
	proc_free(&p);
}

static void
test_output(void)
{
	struct proc p;
	struct proc_spec spec;
	char *log = path_in("out.log"), *s, *t;

	memset(&spec, 0, sizeof(spec));
	spec.log_path = log;
	run_sh(&p, "echo to-stdout; echo to-stderr >&2; printf partial", &spec);
	is_int(proc_exit_code(&p), 0, "output job: exit 0");
	s = slurp(log, NULL);
	is_str(s, "to-stdout\nto-stderr\npartial", "stdout and stderr both in the log");
	t = tail_of(&p, 10);
	is_str(t, "to-stdout\nto-stderr\npartial", "and in the tail");
	is_int(p.tail.total, 27, "ring counted every byte");
	is_int(p.log_errno, 0, "no log error");
	is_int(p.out_fd, -1, "pipe closed when done");
	is_int(p.log_fd, -1, "log closed when done");
	free(s);
	free(t);
	proc_free(&p);

	/* The log is truncated, not appended to. */
	run_sh(&p, "echo again", &spec);
	s = slurp(log, NULL);
	is_str(s, "again\n", "log truncated on start");
	free(s);
	proc_free(&p);
	proc_free(&p);	/* a second free is harmless: the scheduler frees early */

	/* The log is a new file (the old one is unlinked, not truncated),
	 * except through a link or when the file has another name: then it
	 * is truncated in place, as before. */
	{
		char *sym = path_in("link.log"), *other = path_in("other.log");
		struct stat st;

		if (symlink(log, sym) != 0)
			perror("symlink");
		spec.log_path = sym;
		run_sh(&p, "echo via-link", &spec);
		ok(lstat(sym, &st) == 0 && S_ISLNK(st.st_mode), "log through a link: still a link");
		s = slurp(log, NULL);
		is_str(s, "via-link\n", "log through a link: the target written");
		free(s);
		proc_free(&p);
		if (link(log, other) != 0)
			perror("link");
		spec.log_path = log;
		run_sh(&p, "echo shared", &spec);
		s = slurp(other, NULL);
		is_str(s, "shared\n", "log with a second name: truncated in place, both see it");
		free(s);
		proc_free(&p);
		unlink(other);
		unlink(sym);
		free(other);
		free(sym);
	}

	/* stdin is /dev/null: cat ends at once. */
	run_sh(&p, "cat; echo after-cat", NULL);
	t = tail_of(&p, 10);
	is_str(t, "after-cat\n", "stdin is /dev/null");
	free(t);
	proc_free(&p);

	/* A log that cannot be written: reading goes on, the error is kept. */
	spec.log_path = "/dev/full";
	run_sh(&p, "echo into-full-disk", &spec);
	is_int(p.log_errno, ENOSPC, "log write error remembered");
	is_int(proc_exit_code(&p), 0, "job unaffected by the log error");
	t = tail_of(&p, 10);
	is_str(t, "into-full-disk\n", "tail still captured");
	free(t);
	proc_free(&p);
	free(log);
}

static void
test_log_open_fails(void)
{
	struct proc p;
	struct proc_spec spec;
	struct err e;
	char d[64];
	char *argv[] = { "true", NULL };

	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	spec.log_path = "/nonexistent-ci-proc-dir/x.log";
	err_clear(&e);
	is_int(proc_start(&p, &spec, &e), -1, "unopenable log: proc_start fails");
	is_int(e.code, EX_IOERR_, "unopenable log: EX_IOERR_");
	like(e.msg, "cannot open log '/nonexistent-ci-proc-dir/x.log'",
	    "unopenable log: message names the file");
	ok(p.state != PROC_RUNNING, "unopenable log: not running");
	proc_describe(&p, d, sizeof(d));
	is_str(d, "not started", "unopenable log: described as not started");
	proc_cancel(&p);	/* must not signal anything */
	proc_free(&p);

	memset(&spec, 0, sizeof(spec));
	is_int(proc_start(&p, &spec, &e), -1, "no command: proc_start fails");
	proc_free(&p);
}

static void
test_env_cwd(void)
{
	struct proc p;
	struct proc_spec spec;
	char *env[] = { "CI_PROC_A=hello world", "CI_PROC_OVR=new",
	    "CI_PROC_B=first", "CI_PROC_B=second", NULL };
	char *bad_env[] = { "NO_EQUALS_SIGN", NULL };
	char real[PATH_MAX], d[PATH_MAX + 64], want[PATH_MAX + 64], *t, *sub;
	struct err e;

	setenv("CI_PROC_OVR", "old", 1);
	memset(&spec, 0, sizeof(spec));
	spec.env = env;
	t = sh_tail("printf '%s|%s|%s|' \"$CI_PROC_A\" \"$CI_PROC_OVR\" \"$CI_PROC_B\";"
	    " env | grep -c '^CI_PROC_OVR='; env | grep -c '^CI_PROC_B='", &spec, 10);
	is_str(t, "hello world|new|second|1\n1\n",
	    "env pairs passed, replacing ours, the last one winning");
	free(t);
	is_str(getenv("CI_PROC_OVR"), "old", "our own environment untouched");

	spec.env = bad_env;
	spec.shell = "true";
	is_int(proc_start(&p, &spec, &e), -1, "env entry without '=' refused");
	like(e.msg, "NO_EQUALS_SIGN", "and named");
	proc_free(&p);

	memset(&spec, 0, sizeof(spec));
	spec.cwd = dir;
	run_sh(&p, "pwd -P", &spec);
	t = tail_of(&p, 1);
	if (!realpath(dir, real))
		real[0] = '\0';
	snprintf(want, sizeof(want), "%s\n", real);
	is_str(t, want, "cwd honoured");
	free(t);
	proc_free(&p);

	sub = path_in("no-such-subdir");
	spec.cwd = sub;
	run_sh(&p, "true", &spec);
	is_int(p.state, PROC_DONE, "bad cwd: done");
	is_int(p.exec_errno, ENOENT, "bad cwd: ENOENT");
	is_int(proc_exit_code(&p), 127, "bad cwd: status 127");
	proc_describe(&p, d, sizeof(d));
	snprintf(want, sizeof(want), "cannot chdir to '%s': %s", sub,
	    strerror(ENOENT));
	is_str(d, want, "bad cwd: described");
	proc_free(&p);
	free(sub);
}

static void
test_exec_failures(void)
{
	struct proc p;
	struct proc_spec spec;
	struct err e;
	char d[PATH_MAX + 64], want[PATH_MAX + 64], *t, *path_env;
	char *nf[] = { "ci-proc-no-such-command", NULL };
	char *noexec[] = { NULL, NULL };
	char *script[] = { "ci-proc-script", "arg1", NULL };
	char *nobang[] = { "ci-proc-nobang", "x", "y", NULL };
	char *env[] = { NULL, NULL };
	char *bindir = path_in("bin"), *file;

	memset(&spec, 0, sizeof(spec));
	spec.argv = nf;
	ok(proc_start(&p, &spec, &e) == 0, "not found: proc_start succeeds");
	is_int(p.state, PROC_DONE, "not found: already done");
	is_int(p.exec_errno, ENOENT, "not found: ENOENT");
	is_int(proc_exit_code(&p), 127, "not found: status 127");
	is_int(proc_poll((struct proc *[]){ &p }, 1, 0), 0,
	    "poll skips a finished process");
	proc_describe(&p, d, sizeof(d));
	is_str(d, "command not found: 'ci-proc-no-such-command'",
	    "not found: described");
	proc_free(&p);

	mkdir(bindir, 0755);
	file = path_in("bin/ci-proc-noexec");
	spit(file, "#!/bin/sh\necho hi\n", 0644);
	noexec[0] = file;
	spec.argv = noexec;
	proc_run(&p, &spec, &e);
	is_int(p.exec_errno, EACCES, "not executable: EACCES");
	proc_describe(&p, d, sizeof(d));
	snprintf(want, sizeof(want), "cannot execute '%s': %s", file,
	    strerror(EACCES));
	is_str(d, want, "not executable: described");
	proc_free(&p);

	/* Via sh -c, sh itself reports 127 and 126. */
	run_sh(&p, "ci-proc-no-such-command 2>/dev/null", NULL);
	is_int(p.exec_errno, 0, "sh: no exec error of our own");
	is_int(proc_exit_code(&p), 127, "sh: missing command exits 127");
	proc_describe(&p, d, sizeof(d));
	is_str(d, "exited with status 127 (command not found)", "sh: 127 described");
	proc_free(&p);

	snprintf(want, sizeof(want), "'%s' 2>/dev/null", file);
	run_sh(&p, want, NULL);
	is_int(proc_exit_code(&p), 126, "sh: not executable exits 126");
	proc_describe(&p, d, sizeof(d));
	is_str(d, "exited with status 126 (command not executable)",
	    "sh: 126 described");
	proc_free(&p);
	free(file);

	/* PATH comes from the child's environment. */
	file = path_in("bin/ci-proc-script");
	spit(file, "#!/bin/sh\necho \"script $1\"\n", 0755);
	free(file);
	file = path_in("bin/ci-proc-nobang");
	spit(file, "echo \"nobang $# $2\"\n", 0755);
	free(file);
	path_env = xasprintf("PATH=/nonexistent-ci:%s:/usr/bin:/bin", bindir);
	env[0] = path_env;
	memset(&spec, 0, sizeof(spec));
	spec.argv = script;
	spec.env = env;
	proc_run(&p, &spec, &e);
	t = tail_of(&p, 5);
	is_str(t, "script arg1\n", "argv[0] found in the job's PATH");
	free(t);
	proc_free(&p);

	spec.argv = nobang;
	proc_run(&p, &spec, &e);
	is_int(proc_exit_code(&p), 0, "script without #! runs");
	t = tail_of(&p, 5);
	is_str(t, "nobang 2 y\n", "script without #! runs through sh with its args");
	free(t);
	proc_free(&p);
	free(path_env);
	free(bindir);
}

static void
test_timeout_group(void)
{
	struct proc p;
	struct proc_spec spec;
	char d[256], *pidfile, *text;
	pid_t gc;

	pidfile = path_in("gc.pid");
	memset(&spec, 0, sizeof(spec));
	spec.timeout_ms = 200;
	spec.grace_ms = 200;
	/* Both the leader and its background child ignore SIGTERM. */
	text = xasprintf("trap '' TERM; sleep 100 & echo $! > '%s'; sleep 100",
	    pidfile);
	run_sh(&p, text, &spec);
	is_int(p.state, PROC_DONE, "timeout: done");
	is_int(p.timed_out, 1, "timeout: timed_out set");
	ok(p.term_sent_ms > 0, "timeout: SIGTERM was sent");
	is_int(proc_signal(&p), SIGKILL, "timeout: SIGTERM ignored, so SIGKILL");
	proc_describe(&p, d, sizeof(d));
	is_str(d, "killed by SIGKILL after timeout 200ms", "timeout: described");
	gc = read_pid("gc.pid");
	ok(gc > 1, "timeout: grandchild pid recorded");
	ok(gc > 1 && wait_dead(gc), "timeout: grandchild killed with the group");
	proc_free(&p);
	free(text);

	/* A job that dies of SIGTERM at its timeout. */
	spec.timeout_ms = 1100;
	spec.grace_ms = 0;
	run_sh(&p, "sleep 100", &spec);
	proc_describe(&p, d, sizeof(d));
	is_str(d, "killed by SIGTERM after timeout 1.1s", "timeout: SIGTERM described");
	proc_free(&p);

	/* The leader exits at once: what it left running is killed. */
	memset(&spec, 0, sizeof(spec));
	text = xasprintf("sleep 100 >/dev/null 2>&1 & echo $! > '%s'; exit 0",
	    pidfile);
	unlink(pidfile);
	run_sh(&p, text, &spec);
	is_int(proc_exit_code(&p), 0, "leader exits 0");
	is_int(p.timed_out, 0, "leader exits: no timeout");
	gc = read_pid("gc.pid");
	ok(gc > 1 && wait_dead(gc), "leader exits: background child killed");
	proc_free(&p);
	free(text);
	free(pidfile);
}

static void
test_cancel(void)
{
	struct proc p, *ps[1];
	struct proc_spec spec;
	struct err e;
	char d[256];
	int i, n;

	memset(&spec, 0, sizeof(spec));
	spec.shell = "echo ready; sleep 100";
	ps[0] = &p;
	ok(proc_start(&p, &spec, &e) == 0, "cancel: started");
	for (i = 0; i < 1000 && p.tail.total == 0; i++)
		proc_poll(ps, 1, 10);
	ok(p.tail.total > 0, "cancel: job got going");
	is_int(p.state, PROC_RUNNING, "cancel: still running");
	ok(proc_elapsed_ms(&p) >= 0, "cancel: elapsed while running");
	proc_describe(&p, d, sizeof(d));
	is_str(d, "running", "cancel: described as running");
	proc_cancel(&p);
	for (n = 0, i = 0; i < 100000 && p.state != PROC_DONE; i++)
		n += proc_poll(ps, 1, -1);
	is_int(n, 1, "cancel: poll reported one finished process");
	is_int(p.cancelled, 1, "cancel: cancelled set");
	is_int(proc_signal(&p), SIGTERM, "cancel: SIGTERM");
	proc_describe(&p, d, sizeof(d));
	is_str(d, "cancelled (killed by SIGTERM)", "cancel: described");
	proc_cancel(&p);	/* no-op once done */
	is_int(p.state, PROC_DONE, "cancel: still done after a second cancel");
	proc_free(&p);

	/* A job ignoring SIGTERM is killed after the grace. */
	spec.shell = "trap '' TERM; echo ready; sleep 100";
	spec.grace_ms = 100;
	ok(proc_start(&p, &spec, &e) == 0, "cancel+grace: started");
	for (i = 0; i < 1000 && p.tail.total == 0; i++)
		proc_poll(ps, 1, 10);
	proc_cancel(&p);
	while (p.state != PROC_DONE)
		proc_poll(ps, 1, -1);
	proc_describe(&p, d, sizeof(d));
	is_str(d, "cancelled (killed by SIGKILL)", "cancel+grace: SIGKILL after grace");
	proc_free(&p);
}

/* proc_stop(): the signal given goes to the whole group first. */
static void
test_stop(void)
{
	struct proc p, *ps[1] = { &p };
	struct proc_spec spec;
	struct err e;
	char d[256], *got = path_in("stop-got"), *t;
	int i;

	memset(&spec, 0, sizeof(spec));
	spec.shell = t = xasprintf("trap 'echo INT > %s; exit 9' INT; echo ready;"
	    " while :; do sleep 0.05; done", got);
	ok(proc_start(&p, &spec, &e) == 0, "stop: started");
	for (i = 0; i < 1000 && p.tail.total == 0; i++)
		proc_poll(ps, 1, 10);
	proc_stop(&p, SIGINT);
	while (p.state != PROC_DONE)
		proc_poll(ps, 1, -1);
	free(t);
	t = slurp(got, NULL);
	is_str(t, "INT\n", "stop: the job got SIGINT, not SIGTERM");
	proc_describe(&p, d, sizeof(d));
	is_str(d, "cancelled (exited with status 9)", "stop: described as cancelled");
	free(t);
	free(got);
	proc_free(&p);
}

/* unset_env: names the child does not inherit, unless env sets them. */
static void
test_unset_env(void)
{
	struct proc_spec spec;
	char *unset[] = { "CI_PROC_GONE", "CI_PROC_SET", NULL };
	char *env[] = { "CI_PROC_SET=mine", NULL };
	char *t;

	setenv("CI_PROC_GONE", "stale", 1);
	setenv("CI_PROC_GONE_NOT", "kept", 1);
	setenv("CI_PROC_SET", "stale", 1);
	memset(&spec, 0, sizeof(spec));
	spec.unset_env = unset;
	spec.env = env;
	t = sh_tail("env | grep '^CI_PROC_' | grep -v OVR | sort", &spec, 10);
	is_str(t, "CI_PROC_GONE_NOT=kept\nCI_PROC_SET=mine\n",
	    "unset_env: a name unset is gone, a longer one kept, env still sets one");
	free(t);
	is_str(getenv("CI_PROC_GONE"), "stale", "unset_env: our own environment untouched");
	unsetenv("CI_PROC_GONE");
	unsetenv("CI_PROC_GONE_NOT");
	unsetenv("CI_PROC_SET");
}

/* show_prefix: each line on our stderr as it comes, the last one too. */
static void
test_show(void)
{
	struct proc p;
	struct proc_spec spec;
	const char *want = "env | one\nenv | two\nenv | no newline\nbig | apart\nbig | x";
	char *shown = path_in("shown"), *t, *big;
	int saved = dup(2), fd = open(shown, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	fflush(stderr);
	dup2(fd, 2);
	close(fd);
	memset(&spec, 0, sizeof(spec));
	spec.show_prefix = "env";
	run_sh(&p, "echo one; echo two >&2; printf 'no newline'", &spec);
	proc_free(&p);
	spec.show_prefix = NULL;
	run_sh(&p, "echo hidden", &spec);
	proc_free(&p);
	spec.show_prefix = "big";
	spec.out_cap = 1024;
	run_sh(&p, "echo captured; echo apart >&2; head -c 9000 /dev/zero | tr '\\0' x >&2", &spec);
	proc_free(&p);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	t = slurp(shown, NULL);
	big = xmalloc(8192 + 1);
	memset(big, 'x', 8192);
	big[8192] = '\0';
	ok(t && strncmp(t, want, strlen(want)) == 0,
	    "show: lines prefixed, stderr too, a last line without newline");
	ok(t && strstr(t, big) && strstr(t, "\nbig | xxxxxxxx") && !strstr(t, "hidden") &&
	    !strstr(t, "captured"),
	    "show: a long line in pieces; nothing without a prefix, nor stdout captured apart");
	free(big);
	free(t);
	free(shown);
}

static void
test_parallel(void)
{
	struct proc a, b, *ps[2] = { &a, &b };
	struct proc_spec sa, sb;
	struct err e;
	char *ta, *tb, *t;
	int done = 0, i;

	/* Each waits for the other's marker: they finish only if they overlap. */
	ta = xasprintf("cd '%s' && touch a && "
	    "while [ ! -e b ]; do sleep 0.01; done; echo A-done", dir);
	tb = xasprintf("cd '%s' && touch b && "
	    "while [ ! -e a ]; do sleep 0.01; done; echo B-done", dir);
	memset(&sa, 0, sizeof(sa));
	sa.shell = ta;
	sa.timeout_ms = 30000;	/* only a bound against hanging */
	sb = sa;
	sb.shell = tb;
	ok(proc_start(&a, &sa, &e) == 0 && proc_start(&b, &sb, &e) == 0,
	    "parallel: both started");
	for (i = 0; i < 100000 && done < 2; i++)
		done += proc_poll(ps, 2, -1);
	is_int(done, 2, "parallel: poll reported both finished");
	is_int(proc_exit_code(&a), 0, "parallel: a exits 0");
	is_int(proc_exit_code(&b), 0, "parallel: b exits 0");
	ok(!a.timed_out && !b.timed_out, "parallel: neither timed out");
	t = tail_of(&a, 1);
	is_str(t, "A-done\n", "parallel: a saw b's marker");
	free(t);
	t = tail_of(&b, 1);
	is_str(t, "B-done\n", "parallel: b saw a's marker");
	free(t);
	is_int(proc_poll(ps, 2, -1), 0, "parallel: poll with nothing running returns");
	proc_free(&a);
	proc_free(&b);
	free(ta);
	free(tb);
}

static void
test_big_output(void)
{
	struct proc p;
	struct proc_spec spec;
	char *log = path_in("big.log"), *t, *s;
	size_t len, want = 0;
	char line[32];
	int i;

	for (i = 1; i <= 20000; i++)
		want += (size_t)snprintf(line, sizeof(line), "line %d\n", i);
	memset(&spec, 0, sizeof(spec));
	spec.log_path = log;
	spec.tail_bytes = 4096;
	run_sh(&p, "i=1; while [ $i -le 20000 ]; do echo \"line $i\"; i=$((i+1)); done",
	    &spec);
	is_int(proc_exit_code(&p), 0, "big output: exit 0 (never blocked)");
	s = slurp(log, &len);
	is_int(len, want, "big output: log holds everything");
	ok(s && strncmp(s, "line 1\nline 2\n", 14) == 0, "big output: log starts at line 1");
	is_int(p.tail.total, want, "big output: ring saw every byte");
	ok(p.tail.len <= 4096, "big output: ring bounded");
	t = tail_of(&p, 2);
	is_str(t, "line 19999\nline 20000\n", "big output: tail has the last lines");
	free(t);
	t = tail_of(&p, 100000);
	ok(strncmp(t, "line 1\n", 7) != 0 && strlen(t) <= 4096,
	    "big output: tail dropped the start");
	free(t);
	free(s);
	proc_free(&p);
	free(log);
}

static void
test_pipe_held_open(void)
{
	struct proc p;
	struct proc_spec spec;
	char *text, *t, *pidfile;
	pid_t gc;

	/* Same group: killed when the leader exits, so the pipe closes. */
	memset(&spec, 0, sizeof(spec));
	run_sh(&p, "sleep 100 & echo leader-done", &spec);
	is_int(proc_exit_code(&p), 0, "held pipe (group): exit 0");
	t = tail_of(&p, 5);
	is_str(t, "leader-done\n", "held pipe (group): output kept");
	free(t);
	proc_free(&p);

	/* Escaped with setsid: we stop waiting for the pipe soon after. */
	if (access("/usr/bin/setsid", X_OK) != 0) {
		ok(1, "# SKIP no setsid");
		return;
	}
	pidfile = path_in("escaped.pid");
	text = xasprintf("setsid sh -c 'echo $$ > \"$0.tmp\"; mv \"$0.tmp\" \"$0\"; "
	    "exec sleep 100' '%s' & while [ ! -s '%s' ]; do sleep 0.01; done; "
	    "echo leader-done", pidfile, pidfile);
	run_sh(&p, text, &spec);
	is_int(p.state, PROC_DONE, "held pipe (setsid): proc_run returned");
	is_int(proc_exit_code(&p), 0, "held pipe (setsid): exit 0");
	t = tail_of(&p, 5);
	is_str(t, "leader-done\n", "held pipe (setsid): output kept");
	free(t);
	gc = read_pid("escaped.pid");
	ok(gc > 1 && !is_dead(gc), "held pipe (setsid): escaped process still ran");
	if (gc > 1)
		kill(gc, SIGKILL);
	proc_free(&p);
	free(text);
	free(pidfile);
}

static void
test_inherit(void)
{
	struct proc p;
	struct proc_spec spec;

	memset(&spec, 0, sizeof(spec));
	spec.inherit_output = 1;
	spec.log_path = NULL;
	run_sh(&p, "exit 5", &spec);
	is_int(proc_exit_code(&p), 5, "inherit_output: exit 5");
	is_int(p.out_fd, -1, "inherit_output: no pipe");
	is_int(p.tail.total, 0, "inherit_output: nothing captured");
	proc_free(&p);
}

/* proc_capture() of sh -c TEXT with stdin bytes (in may be NULL). */
static int
capture_sh(const char *text, const char *in, size_t in_len,
    struct proc_spec *spec, struct proc_result *r, struct err *e)
{
	struct proc_spec def;
	char *argv[] = { "sh", "-c", (char *)text, NULL };

	if (!spec) {
		memset(&def, 0, sizeof(def));
		spec = &def;
	}
	if (!spec->timeout_ms)
		spec->timeout_ms = 20000;	/* only a bound against hanging */
	spec->argv = argv;
	spec->in_data = in;
	spec->in_len = in_len;
	err_clear(e);
	return proc_capture(spec, r, e);
}

static void
test_capture_stdin(void)
{
	struct proc_result r;
	struct proc_spec spec;
	struct err e;
	char *big;
	size_t i, n = 1 << 20;
	int rc;

	rc = capture_sh("read server; printf 'got %s' \"$server\"",
	    "https://reg.example\n", 20, NULL, &r, &e);
	is_int(rc, 0, "stdin: ran");
	is_str(r.out, "got https://reg.example", "stdin: the bytes reached the child");
	is_int(r.status, 0, "stdin: status 0");
	proc_result_free(&r);

	/* Without a trailing newline, and empty: EOF follows the bytes. */
	capture_sh("cat; echo '|eof'", "no-newline", 10, NULL, &r, &e);
	is_str(r.out, "no-newline|eof\n", "stdin: closed after the bytes");
	proc_result_free(&r);
	capture_sh("cat; echo '|eof'", "", 0, NULL, &r, &e);
	is_str(r.out, "|eof\n", "stdin: empty bytes give EOF at once");
	proc_result_free(&r);

	/* More than a pipe holds, echoed back: fed while stdout drains. */
	big = xmalloc(n);
	for (i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	memset(&spec, 0, sizeof(spec));
	spec.out_cap = 2 * n;
	rc = capture_sh("cat", big, n, &spec, &r, &e);
	is_int(rc, 0, "stdin 1 MiB through cat: ran");
	ok(r.out_len == n && memcmp(r.out, big, n) == 0,
	    "stdin 1 MiB through cat: every byte back, in order");
	proc_result_free(&r);

	/* A child that reads nothing: EPIPE for us, never SIGPIPE. */
	rc = capture_sh("exit 4", big, n, NULL, &r, &e);
	is_int(rc, 0, "stdin unread: we are still here");
	is_int(r.status, 4, "stdin unread: the child's status");
	proc_result_free(&r);
	free(big);
}

static void
test_capture_split(void)
{
	struct proc_result r;
	struct err e;
	int rc;

	rc = capture_sh("echo out1; echo err1 >&2; echo out2; echo err2 >&2; exit 3",
	    NULL, 0, NULL, &r, &e);
	is_int(rc, 0, "split: an exit status is an answer");
	is_int(r.status, 3, "split: status 3");
	is_str(r.out, "out1\nout2\n", "split: stdout alone in out");
	is_str(r.err, "err1\nerr2\n", "split: stderr alone in err");
	is_str(r.how, "exited with status 3", "split: how");
	proc_result_free(&r);

	/* No stdin bytes: /dev/null. */
	capture_sh("cat; echo done", NULL, 0, NULL, &r, &e);
	is_str(r.out, "done\n", "no stdin bytes: /dev/null");
	proc_result_free(&r);

	rc = capture_sh("kill -KILL $$", NULL, 0, NULL, &r, &e);
	is_int(rc, -1, "killed: no answer");
	is_int(r.status, 128 + SIGKILL, "killed: status 128+9");
	is_str(e.msg, "'sh' killed by SIGKILL", "killed: the message names the command");
	proc_result_free(&r);
}

static void
test_capture_cap(void)
{
	struct proc_result r;
	struct proc_spec spec;
	struct err e;
	int rc;

	memset(&spec, 0, sizeof(spec));
	spec.out_cap = 4096;
	rc = capture_sh("head -c 4096 /dev/zero | tr '\\0' x", NULL, 0, &spec, &r, &e);
	is_int(rc, 0, "cap: exactly the cap is fine");
	is_int(r.out_len, 4096, "cap: all 4096 bytes");
	is_int(r.overflowed, 0, "cap: not overflowed");
	proc_result_free(&r);

	rc = capture_sh("head -c 4097 /dev/zero | tr '\\0' x", NULL, 0, &spec, &r, &e);
	is_int(rc, -1, "cap: one byte more is refused");
	is_int(r.overflowed, 1, "cap: overflowed");
	is_int(r.out_len, 0, "cap: nothing truncated handed back");
	is_int(e.code, EX_IOERR_, "cap: EX_IOERR_");
	like(e.msg, "'sh' printed more than 4.0 KiB", "cap: message says so");
	proc_result_free(&r);

	/* A child that would print for ever is stopped, not waited for. */
	rc = capture_sh("yes", NULL, 0, &spec, &r, &e);
	is_int(rc, -1, "cap: endless output refused");
	is_int(r.status, 128 + SIGTERM, "cap: endless output stopped by SIGTERM");
	is_int(r.timed_out, 0, "cap: no timeout was needed");
	proc_result_free(&r);
}

static void
test_capture_timeout(void)
{
	struct proc_result r;
	struct proc_spec spec;
	struct err e;
	char *pidfile, *text;
	pid_t gc;
	int rc;

	/*
	 * The leader dies of SIGTERM at the timeout; its grandchild ignores
	 * SIGTERM and holds stdout, so only the kill of the whole group once
	 * the leader is gone ends it.  The leader waits until the grandchild
	 * has set its trap, so the timeout never comes first.
	 */
	pidfile = path_in("capture-gc.pid");
	unlink(pidfile);
	text = xasprintf("sh -c 'trap \"\" TERM; echo $$ > \"$0.tmp\"; "
	    "mv \"$0.tmp\" \"$0\"; exec sleep 100' '%s' & "
	    "while [ ! -s '%s' ]; do sleep 0.01; done; echo waiting; sleep 100",
	    pidfile, pidfile);
	memset(&spec, 0, sizeof(spec));
	spec.timeout_ms = 500;
	spec.grace_ms = 60000;	/* the grace must not be what kills it */
	rc = capture_sh(text, NULL, 0, &spec, &r, &e);
	is_int(rc, -1, "timeout: no answer");
	is_int(r.timed_out, 1, "timeout: timed_out");
	is_int(r.status, 128 + SIGTERM, "timeout: leader killed by SIGTERM");
	is_int(e.code, EX_TEMP, "timeout: EX_TEMP");
	is_str(e.msg, "'sh' killed by SIGTERM after timeout 500ms",
	    "timeout: message names command and timeout");
	is_str(r.out, "waiting\n", "timeout: output up to then kept");
	gc = read_pid("capture-gc.pid");
	ok(gc > 1, "timeout: grandchild pid recorded");
	ok(gc > 1 && wait_dead(gc),
	    "timeout: grandchild ignoring SIGTERM killed with its group");
	if (gc > 1 && !is_dead(gc))
		kill(gc, SIGKILL);
	proc_result_free(&r);
	free(text);
	free(pidfile);
}

static void
test_capture_env_cwd(void)
{
	struct proc_result r;
	struct proc_spec spec;
	struct err e;
	char *env[] = { "CI_PROC_CAP=set by spec", "HOME=/ci-proc-home", NULL };
	char *nf[] = { "ci-proc-no-such-command", NULL };
	char real[PATH_MAX], *want;
	int rc;

	memset(&spec, 0, sizeof(spec));
	spec.env = env;
	spec.cwd = dir;
	rc = capture_sh("printf '%s|%s|' \"$CI_PROC_CAP\" \"$HOME\"; pwd -P",
	    NULL, 0, &spec, &r, &e);
	is_int(rc, 0, "env+cwd: ran");
	if (!realpath(dir, real))
		real[0] = '\0';
	want = xasprintf("set by spec|/ci-proc-home|%s\n", real);
	is_str(r.out, want, "env+cwd: added, overridden, and the directory");
	free(want);
	proc_result_free(&r);
	ok(!getenv("CI_PROC_CAP"), "env+cwd: our environment untouched");

	memset(&spec, 0, sizeof(spec));
	spec.argv = nf;
	err_clear(&e);
	rc = proc_capture(&spec, &r, &e);
	is_int(rc, -1, "not found: no answer");
	is_int(r.status, 127, "not found: status 127");
	is_int(r.exec_errno, ENOENT, "not found: ENOENT");
	is_str(e.msg, "command not found: 'ci-proc-no-such-command'",
	    "not found: message");
	proc_result_free(&r);

	memset(&spec, 0, sizeof(spec));
	err_clear(&e);
	rc = proc_capture(&spec, &r, &e);
	is_int(rc, -1, "no command: refused");
	is_int(r.status, -1, "no command: not started");
	proc_result_free(&r);
}

/* on_out: stdout as it comes, stderr still in the tail. */
struct sink {
	size_t bytes, calls, lines;
};

static void
count_out(void *ctx, const char *data, size_t len)
{
	struct sink *k = ctx;
	size_t i;

	k->bytes += len;
	k->calls++;
	for (i = 0; i < len; i++)
		k->lines += data[i] == '\n';
}

static void
test_on_out(void)
{
	struct proc p;
	struct proc_spec spec;
	struct sink k = { 0, 0, 0 };
	struct err e;
	char *argv[] = { "sh", "-c", "i=0; while [ $i -lt 20000 ]; do "
	    "echo \"line $i\"; i=$((i+1)); done; echo to-stderr >&2", NULL };
	char *t;

	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	spec.on_out = count_out;
	spec.on_out_ctx = &k;
	ok(proc_run(&p, &spec, &e) == 0, "on_out: ran");
	is_int(proc_status(&p), 0, "on_out: status 0");
	is_int(k.lines, 20000, "on_out: every stdout line seen");
	ok(k.calls > 1, "on_out: in more than one chunk");
	t = tail_of(&p, 5);
	is_str(t, "to-stderr\n", "on_out: the tail holds stderr alone");
	free(t);
	is_int(p.out.len, 0, "on_out: nothing buffered");
	proc_free(&p);
}

static void
test_sig_name(void)
{
	char b[32];

	is_str(sig_name(SIGKILL, b, sizeof(b)), "SIGKILL", "sig_name SIGKILL");
	is_str(sig_name(SIGTERM, b, sizeof(b)), "SIGTERM", "sig_name SIGTERM");
	is_str(sig_name(SIGSYS, b, sizeof(b)), "SIGSYS", "sig_name SIGSYS");
	is_str(sig_name(200, b, sizeof(b)), "signal 200", "sig_name unknown");
}

static void
cleanup(void)
{
	struct proc p;
	struct proc_spec spec;
	struct err e;
	char *argv[] = { "rm", "-rf", dir, NULL };

	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	if (proc_run(&p, &spec, &e) == 0)
		proc_free(&p);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");

	/* A hang is a failure, not a stuck prove. */
	alarm(120);
	log_init("proc.t");
	snprintf(dir, sizeof(dir), "%s/ci-proc-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_exit_codes();
	test_output();
	test_log_open_fails();
	test_env_cwd();
	test_exec_failures();
	test_timeout_group();
	test_cancel();
	test_stop();
	test_unset_env();
	test_show();
	test_parallel();
	test_big_output();
	test_pipe_held_open();
	test_inherit();
	test_capture_stdin();
	test_capture_split();
	test_capture_cap();
	test_capture_timeout();
	test_capture_env_cwd();
	test_on_out();
	test_sig_name();
	cleanup();
	return done_testing();
}
