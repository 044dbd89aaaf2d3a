/* Unit tests for lib/git (source facts) and lib/log (the error record). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/git.h"
#include "core/log.h"
#include "tap.h"

static void
strip(const char *in, const char *want)
{
	char *s = xstrdup(in);

	url_strip_credentials(s);
	is_str(s, want, "strip credentials from '%s'", in);
	free(s);
}

static int
sh(const char *cmd)
{
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		execvp("sh", argv);
		_Exit(127);
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
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

	strip("https://user:tok3n@git.example.com/acme/app.git", "https://git.example.com/acme/app.git");
	strip("https://tok3n@git.example.com/a", "https://git.example.com/a");
	strip("https://git.example.com/a@b", "https://git.example.com/a@b");
	strip("git@github.com:acme/app.git", "git@github.com:acme/app.git");
	strip("/srv/repos/app", "/srv/repos/app");

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
	ok(git_source_read(&gs, &e) == -1, "outside a work tree: an error");
	like(e.msg, "not inside a git work tree", "saying so");
	git_source_free(&gs);

	ok(sh("git init -q -b main . && git remote add origin https://u:p4ss@example.com/r.git") == 0,
	    "setup: an empty repository");
	ok(git_source_read(&gs, &e) == 0, "a repository with no commit yet");
	ok(gs.commit == NULL && gs.ref == NULL, "has no commit and no ref");
	is_str(gs.repository, "https://example.com/r.git", "but a repository, without the password");
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
