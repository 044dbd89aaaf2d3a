/*
 * Unit tests for lib/core/git (source facts; git_capture, gitx_run and
 * gitx_each with any number of arguments, statuses, messages, records)
 * and lib/core/log (the error record).
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/git.h"
#include "core/log.h"
#include "core/proc.h"
#include "tap.h"

static int
sh(const char *cmd)
{
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	struct proc_spec spec;
	struct proc_result r;
	struct err e;
	int st;

	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	st = proc_capture(&spec, &r, &e) == 0 ? r.status : -1;
	proc_result_free(&r);
	return st;
}

/*
 * More arguments than the old fixed vector held (30): every one reaches
 * git.  "rev-parse --sq-quote" prints its arguments back, quoted.
 */
static void
test_many_args(void)
{
	enum { NARG = 40 };
	const char *args[NARG + 3];
	char names[NARG][8];
	struct buf want;
	struct gitx g;
	struct err e;
	char *got;
	int i, st = 0;

	buf_init(&want, 0);
	args[0] = "rev-parse";
	args[1] = "--sq-quote";
	for (i = 0; i < NARG; i++) {
		snprintf(names[i], sizeof(names[i]), "a%d", i + 1);
		args[i + 2] = names[i];
		buf_addf(&want, " '%s'", names[i]);
	}
	args[NARG + 2] = NULL;
	got = git_capture(args, &st);
	is_int(st, 0, "42 arguments: git ran");
	is_str(got, buf_str(&want), "42 arguments: git_capture passed every one");
	free(got);
	ok(gitx_run(&g, args, 0, &e) == 0, "42 arguments: gitx_run ran");
	is_str(g.out, buf_str(&want), "42 arguments: gitx_run passed every one");
	gitx_free(&g);
	buf_free(&want);
}

struct recs {
	struct buf seen;	/* records joined by '|' */
	int n, stop_at;
};

static int
on_rec(void *ctx, char *rec, size_t len, struct err *e)
{
	struct recs *r = ctx;

	buf_addf(&r->seen, "%s%.*s", r->n ? "|" : "", (int)len, rec);
	if (++r->n == r->stop_at)
		return err_set(e, EX_DOC, "stopped at record %d", r->n);
	return 0;
}

/* gitx_run statuses and messages; gitx_each records; outside any repo. */
static void
test_gitx(void)
{
	static const char *const fail[] = { "rev-parse", "--verify", "-q",
	    "no-such-rev", NULL };
	static const char *const bad[] = { "no-such-subcommand", NULL };
	static const char *const quote[] = { "rev-parse", "--sq-quote",
	    "x", "y", NULL };
	const char *lines[] = { "-c", "core.quotePath=false", "rev-parse",
	    "--sq-quote", NULL, NULL };
	struct recs r;
	struct gitx g;
	struct err e;
	int rc;

	ok(gitx_run(&g, bad, 4096, &e) == 0, "gitx_run: a failing git is an answer");
	ok(g.status > 0, "gitx_run: with git's exit status");
	like(g.err, "no-such-subcommand", "gitx_run: and git's message");
	ok(!strchr(g.err, '\n'), "gitx_run: on one line");
	gitx_free(&g);

	ok(gitx_run(&g, quote, 4, &e) == -1, "gitx_run: output past the cap refused");
	is_int(e.code, EX_IOERR_, "gitx_run: EX_IOERR_");
	like(e.msg, "'git rev-parse' printed more than 4 bytes", "gitx_run: saying so");

	memset(&r, 0, sizeof(r));
	buf_init(&r.seen, 0);
	lines[4] = "one\ntwo\n\nfour";
	rc = gitx_each(&g, lines, '\n', on_rec, &r, &e);
	is_int(rc, 0, "gitx_each: ran");
	is_int(g.status, 0, "gitx_each: status 0");
	is_str(buf_str(&r.seen), " 'one|two||four'",
	    "gitx_each: records split on newlines, empty ones kept");
	buf_free(&r.seen);

	/* Split on NUL, of which there is none: one record, no delimiter. */
	memset(&r, 0, sizeof(r));
	buf_init(&r.seen, 0);
	rc = gitx_each(&g, quote, '\0', on_rec, &r, &e);
	is_int(rc, 0, "gitx_each NUL: ran");
	is_str(buf_str(&r.seen), " 'x' 'y'\n",
	    "gitx_each NUL: the last record without its delimiter counts");
	buf_free(&r.seen);

	memset(&r, 0, sizeof(r));
	buf_init(&r.seen, 0);
	r.stop_at = 2;
	lines[4] = "one\ntwo\nthree\nfour";
	rc = gitx_each(&g, lines, '\n', on_rec, &r, &e);
	is_int(rc, -1, "gitx_each: fn stopping it fails it");
	is_str(e.msg, "stopped at record 2", "gitx_each: with fn's message");
	is_int(r.n, 2, "gitx_each: no record after the stop");
	is_int(g.status, 0, "gitx_each: git still ran to its end");
	buf_free(&r.seen);

	memset(&r, 0, sizeof(r));
	buf_init(&r.seen, 0);
	rc = gitx_each(&g, fail, '\n', on_rec, &r, &e);
	is_int(rc, 0, "gitx_each: a failing git is an answer");
	ok(g.status > 0, "gitx_each: git's exit status");
	is_int(r.n, 0, "gitx_each: no records");
	buf_free(&r.seen);
}

int
main(void)
{
	struct err e = { 0, "" };
	struct git_source gs;
	char dir[] = "/tmp/ci-git-test.XXXXXX", cwd[4096];
	static const char *const bad[] = { "no-such-subcommand", NULL };
	int st = 0;

	log_init("git-test");
	log_set_level(LOG_QUIET);

	is_int(err_set(&e, EX_DOC, "bad '%s'", "x"), -1, "err_set returns -1");
	is_int(e.code, EX_DOC, "err_set keeps the code");
	err_prefix(&e, "reading %s", "doc");
	is_str(e.msg, "reading doc: bad 'x'", "err_prefix adds context");
	is_int(err_set(NULL, 1, "ignored"), -1, "err_set with no record");

	if (!getcwd(cwd, sizeof(cwd)) || !mkdtemp(dir))
		return 1;
	if (chdir(dir) < 0)
		return 1;
	setenv("GIT_CEILING_DIRECTORIES", "/tmp", 1);
	test_many_args();
	test_gitx();
	ok(git_source_read(&gs, &e) == -1, "outside a work tree: an error");
	like(e.msg, "not inside a git work tree", "saying so");
	git_source_free(&gs);
	{
		/* No .git here or above: git is not even run (no PATH finds it). */
		char *path = xstrdup(getenv("PATH"));

		setenv("PATH", "/nonexistent", 1);
		ok(git_source_read(&gs, &e) == -1, "no .git up the tree: an error");
		like(e.msg, "not inside a git work tree", "without running git");
		git_source_free(&gs);
		ok(!gitx_in_work_tree(), "gitx_in_work_tree says no too");
		setenv("GIT_DIR", dir, 1);
		ok(git_source_read(&gs, &e) == -1, "GIT_DIR set: git is asked");
		like(e.msg, "cannot run git", "and found missing");
		git_source_free(&gs);
		unsetenv("GIT_DIR");
		ok(mkdir("sub", 0755) == 0 && mkdir("sub/dir", 0755) == 0 &&
		    close(open(".git", O_WRONLY | O_CREAT, 0644)) == 0, "setup: a .git above");
		ok(chdir("sub/dir") == 0, "setup: two levels below it");
		ok(git_source_read(&gs, &e) == -1, "a .git above: git is asked");
		like(e.msg, "cannot run git", "and found missing");
		git_source_free(&gs);
		ok(chdir("../..") == 0 && rmdir("sub/dir") == 0 && rmdir("sub") == 0 &&
		    unlink(".git") == 0, "cleanup");
		setenv("PATH", path, 1);
		free(path);
	}

	ok(sh("git init -q -b main . && git remote add origin https://u:p4ss@example.com/r.git") == 0,
	    "setup: an empty repository");
	ok(git_source_read(&gs, &e) == 0, "a repository with no commit yet");
	ok(gs.commit == NULL && gs.ref == NULL, "has no commit and no ref");
	is_str(gs.repository, "https://***@example.com/r.git",
	    "but a repository, its userinfo shown as ***");
	git_source_free(&gs);

	ok(sh("echo a >f && git add f && GIT_COMMITTER_DATE='2026-11-26T09:00:00Z' "
	    "git -c user.name=n -c user.email=e@x commit -q -m one") == 0, "setup: a commit");
	ok(git_source_read(&gs, &e) == 0, "a repository with a commit");
	ok(gs.commit && strlen(gs.commit) == 40, "a 40-hex commit");
	is_str(gs.ref, "refs/heads/main", "the branch");
	is_int(gs.commit_time, 1795683600, "the committer time");
	git_source_free(&gs);

	ok(sh("git checkout -q --detach") == 0, "setup: detached HEAD");
	ok(git_source_read(&gs, &e) == 0, "detached");
	is_str(gs.ref, "HEAD", "ref says HEAD when detached");
	git_source_free(&gs);

	ok(git_capture(bad, &st) == NULL, "a failing git command gives NULL");
	ok(st != 0, "and its status");

	if (chdir(cwd) < 0)
		return 1;
	{
		char *rm = xasprintf("rm -rf '%s'", dir);

		sh(rm);
		free(rm);
	}
	return done_testing();
}
