#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/git.h"

extern char **environ;

char *
git_capture(const char *const *args, int *status)
{
	posix_spawn_file_actions_t fa;
	char *argv[32];
	struct buf out;
	char chunk[4096];
	int fds[2], st = -1;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	argv[n++] = "git";
	while (args[n - 1] && n < 31) {
		argv[n] = (char *)args[n - 1];
		n++;
	}
	argv[n] = NULL;
	if (status)
		*status = -1;
	if (pipe(fds) < 0)
		return NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[1]);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, "git", &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(fds[0]);
		close(fds[1]);
		return NULL;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	buf_init(&out, 1 << 20);
	for (;;) {
		r = read(fds[0], chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		buf_add(&out, chunk, (size_t)r);
	}
	close(fds[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (status)
		*status = st;
	if (out.failed || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		buf_free(&out);
		return NULL;
	}
	while (out.len && (out.data[out.len - 1] == '\n' || out.data[out.len - 1] == '\r'))
		out.data[--out.len] = '\0';
	return buf_detach(&out, NULL);
}

void
url_strip_credentials(char *url)
{
	char *scheme = strstr(url, "://");
	char *host, *at, *slash;

	if (!scheme)
		return;		/* scp-like "git@host:repo" has a user, no secret */
	host = scheme + 3;
	slash = strchr(host, '/');
	at = strchr(host, '@');
	if (!at || (slash && at > slash))
		return;
	memmove(host, at + 1, strlen(at + 1) + 1);
}

int
git_source_read(struct git_source *s, struct err *e)
{
	static const char *const inside[] = { "rev-parse", "--is-inside-work-tree", NULL };
	static const char *const url[] = { "config", "--get", "remote.origin.url", NULL };
	static const char *const top[] = { "rev-parse", "--show-toplevel", NULL };
	static const char *const head[] = { "rev-parse", "--verify", "-q", "HEAD^{commit}", NULL };
	static const char *const ref[] = { "symbolic-ref", "-q", "HEAD", NULL };
	static const char *const when[] = { "log", "-1", "--format=%ct", "HEAD", NULL };
	char *yes, *t;
	int st;

	memset(s, 0, sizeof(*s));
	s->commit_time = -1;
	yes = git_capture(inside, &st);
	if (!yes || strcmp(yes, "true") != 0) {
		free(yes);
		if (st == -1)
			return err_set(e, EX_USAGE_, "cannot run git: %s", strerror(ENOENT));
		return err_set(e, EX_USAGE_, "not inside a git work tree");
	}
	free(yes);
	s->repository = git_capture(url, NULL);
	if (s->repository)
		url_strip_credentials(s->repository);
	else
		s->repository = git_capture(top, NULL);
	s->commit = git_capture(head, NULL);
	if (!s->commit)
		return 0;
	s->ref = git_capture(ref, NULL);
	if (!s->ref)
		s->ref = xstrdup("HEAD");
	t = git_capture(when, NULL);
	if (t) {
		char *end;
		long long v = strtoll(t, &end, 10);

		if (end != t && *end == '\0')
			s->commit_time = v;
		free(t);
	}
	return 0;
}

void
git_source_free(struct git_source *s)
{
	free(s->repository);
	free(s->commit);
	free(s->ref);
	memset(s, 0, sizeof(*s));
}
