/*
 * gitx: git as a child with its status, its message and large output.
 * See gitx.h for the contract.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/gitx.h"
#include "core/log.h"

extern char **environ;

struct child {
	pid_t pid;
	FILE *out;		/* read end of the pipe from git's output */
	FILE *errf;		/* temp file holding stderr */
};

static int
spawn(struct child *c, const char *const *args, struct err *e)
{
	posix_spawn_file_actions_t fa;
	char **argv;
	size_t n, i;
	int fds[2], rc;

	memset(c, 0, sizeof(*c));
	c->pid = -1;
	for (n = 0; args[n]; n++)
		;
	argv = xcalloc(n + 2, sizeof(*argv));
	argv[0] = "git";
	for (i = 0; i < n; i++)
		argv[i + 1] = (char *)args[i];
	c->errf = tmpfile();
	if (!c->errf) {
		free(argv);
		return err_set(e, EX_IOERR_, "cannot create a temporary file: %s", strerror(errno));
	}
	if (pipe(fds) < 0) {
		fclose(c->errf);
		free(argv);
		return err_set(e, EX_TEMP, "cannot create a pipe: %s", strerror(errno));
	}
	fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[1]);
	posix_spawn_file_actions_adddup2(&fa, fileno(c->errf), 2);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	rc = posix_spawnp(&c->pid, "git", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	free(argv);
	close(fds[1]);
	if (rc != 0) {
		close(fds[0]);
		fclose(c->errf);
		c->pid = -1;
		return err_set(e, EX_USAGE_, "cannot run git: %s", strerror(rc));
	}
	c->out = fdopen(fds[0], "r");
	if (!c->out) {
		close(fds[0]);
		return err_set(e, EX_INTERNAL, "fdopen: %s", strerror(errno));
	}
	return 0;
}

/* Wait for git and keep its status and message. */
static void
finish(struct child *c, struct gitx *g)
{
	int st = 0;
	size_t n, i, o = 0;
	char raw[sizeof(g->err)];

	if (c->out)
		fclose(c->out);
	c->out = NULL;
	if (c->pid > 0)
		while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
			;
	g->status = c->pid > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	g->err[0] = '\0';
	if (!c->errf)
		return;
	rewind(c->errf);
	n = fread(raw, 1, sizeof(raw) - 1, c->errf);
	fclose(c->errf);
	c->errf = NULL;
	/* Lines joined by "; ", so a message fits on one line of ours. */
	while (n && (raw[n - 1] == '\n' || raw[n - 1] == '\r' || raw[n - 1] == ' '))
		n--;
	for (i = 0; i < n && o + 3 < sizeof(g->err); i++) {
		if (raw[i] == '\n') {
			g->err[o++] = ';';
			g->err[o++] = ' ';
		} else if (raw[i] != '\r') {
			g->err[o++] = raw[i];
		}
	}
	g->err[o] = '\0';
}

int
gitx_run(struct gitx *g, const char *const *args, size_t cap, struct err *e)
{
	struct child c;
	struct buf b;
	char chunk[16384];
	size_t r;

	memset(g, 0, sizeof(*g));
	g->status = -1;
	if (spawn(&c, args, e) < 0)
		return -1;
	buf_init(&b, cap);
	while ((r = fread(chunk, 1, sizeof(chunk), c.out)) > 0)
		buf_add(&b, chunk, r);
	finish(&c, g);
	if (b.failed) {
		buf_free(&b);
		return err_set(e, EX_IOERR_, "'git %s' printed more than %zu bytes", args[0], cap);
	}
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.data[--b.len] = '\0';
	g->out = buf_detach(&b, &g->len);
	return 0;
}

int
gitx_each(struct gitx *g, const char *const *args, int delim,
    int (*fn)(void *ctx, char *rec, size_t len, struct err *e), void *ctx,
    struct err *e)
{
	struct child c;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	memset(g, 0, sizeof(*g));
	g->status = -1;
	if (spawn(&c, args, e) < 0)
		return -1;
	while ((n = getdelim(&line, &cap, delim, c.out)) > 0) {
		if (rc < 0)
			continue;	/* drain, so git is not killed by SIGPIPE */
		if (line[n - 1] == delim)
			line[--n] = '\0';
		if (fn(ctx, line, (size_t)n, e) < 0)
			rc = -1;
	}
	free(line);
	finish(&c, g);
	return rc;
}

void
gitx_free(struct gitx *g)
{
	free(g->out);
	g->out = NULL;
	g->len = 0;
}

int
gitx_in_work_tree(void)
{
	static const char *const args[] = { "rev-parse", "--is-inside-work-tree", NULL };
	struct gitx g;
	int yes;

	if (gitx_run(&g, args, 4096, NULL) < 0)
		return 0;
	yes = g.status == 0 && g.out && !strcmp(g.out, "true");
	gitx_free(&g);
	return yes;
}
