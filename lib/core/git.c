/*
 * git: git as a child through core/proc, and the source facts.
 * See git.h for the contract.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/encode.h"
#include "core/git.h"
#include "core/log.h"
#include "core/proc.h"

/* "git" and args, as a vector of our own: no limit on their number. */
static char **
git_argv(const char *const *args)
{
	char **argv = strv_push(NULL, "git");
	size_t i;

	for (i = 0; args[i]; i++)
		argv = strv_push(argv, args[i]);
	return argv;
}

/* git's stderr as one line of ours: its lines joined by "; ". */
static void
join_lines(char *out, size_t outsz, const char *raw)
{
	size_t n = strlen(raw), i, o = 0;

	while (n && (raw[n - 1] == '\n' || raw[n - 1] == '\r' || raw[n - 1] == ' '))
		n--;
	for (i = 0; i < n && o + 3 < outsz; i++) {
		if (raw[i] == '\n') {
			out[o++] = ';';
			out[o++] = ' ';
		} else if (raw[i] != '\r') {
			out[o++] = raw[i];
		}
	}
	out[o] = '\0';
}

static void
trim_newlines(char *s, size_t *len)
{
	while (*len && (s[*len - 1] == '\n' || s[*len - 1] == '\r'))
		s[--*len] = '\0';
}

int
gitx_run(struct gitx *g, const char *const *args, size_t cap, struct err *e)
{
	struct proc_spec spec;
	struct proc_result r;
	struct err pe;
	char **argv = git_argv(args);
	int rc;

	memset(g, 0, sizeof(*g));
	g->status = -1;
	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	spec.out_cap = cap ? cap : GIT_CAPTURE_MAX;
	err_clear(&pe);
	rc = proc_capture(&spec, &r, &pe);
	strv_free(argv);
	if (rc == -1 && r.status == -1) {
		if (e)
			*e = pe;
		proc_result_free(&r);
		return -1;
	}
	if (r.exec_errno) {
		proc_result_free(&r);
		return err_set(e, EX_USAGE_, "cannot run git: %s", strerror(r.exec_errno));
	}
	if (r.overflowed) {
		proc_result_free(&r);
		return err_set(e, EX_IOERR_, "'git %s' printed more than %zu bytes",
		    args[0] ? args[0] : "", spec.out_cap);
	}
	/* Otherwise an answer: an exit status, or killed (status -1). */
	g->status = rc == 0 ? r.status : -1;
	join_lines(g->err, sizeof(g->err), r.err);
	g->out = r.out;
	g->len = r.out_len;
	r.out = NULL;
	trim_newlines(g->out, &g->len);
	proc_result_free(&r);
	return 0;
}

/* gitx_each(): git's stdout cut into records on the way in. */
struct records {
	const char *cmd;	/* git's subcommand, for messages */
	int delim;
	struct buf rec;		/* the record so far, at most GIT_RECORD_MAX */
	int (*fn)(void *ctx, char *rec, size_t len, struct err *e);
	void *ctx;
	struct err *e;
	int rc;			/* -1 once stopped: the rest is discarded */
};

static void
take_record(struct records *k)
{
	if (k->fn(k->ctx, k->rec.data, k->rec.len, k->e) < 0)
		k->rc = -1;
	buf_reset(&k->rec);
}

static void
on_git_out(void *ctx, const char *data, size_t len)
{
	struct records *k = ctx;
	const char *end = data + len, *d;

	while (k->rc == 0 && data < end) {
		d = memchr(data, k->delim, (size_t)(end - data));
		if (buf_add(&k->rec, data, (size_t)((d ? d : end) - data)) == -1) {
			k->rc = err_set(k->e, EX_IOERR_, "'git %s' printed a record "
			    "longer than %u bytes", k->cmd, GIT_RECORD_MAX);
			return;
		}
		if (!d)
			return;
		take_record(k);
		data = d + 1;
	}
}

int
gitx_each(struct gitx *g, const char *const *args, int delim,
    int (*fn)(void *ctx, char *rec, size_t len, struct err *e), void *ctx,
    struct err *e)
{
	struct proc_spec spec;
	struct records k;
	struct proc p;
	char **argv = git_argv(args);
	char *tail;
	int rc;

	memset(g, 0, sizeof(*g));
	g->status = -1;
	memset(&k, 0, sizeof(k));
	k.cmd = args[0] ? args[0] : "";
	k.delim = delim;
	buf_init(&k.rec, GIT_RECORD_MAX);
	k.fn = fn;
	k.ctx = ctx;
	k.e = e;
	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	spec.on_out = on_git_out;
	spec.on_out_ctx = &k;
	rc = proc_run(&p, &spec, e);
	strv_free(argv);
	if (rc == 0 && p.exec_errno)
		rc = err_set(e, EX_USAGE_, "cannot run git: %s", strerror(p.exec_errno));
	if (rc == 0) {
		/* A last record without its delimiter is a record too. */
		if (k.rc == 0 && k.rec.len > 0)
			take_record(&k);
		rc = k.rc;
		g->status = proc_exit_code(&p);
		tail = ring_lines(&p.tail, INT_MAX);
		join_lines(g->err, sizeof(g->err), tail);
		free(tail);
	}
	proc_free(&p);
	buf_free(&k.rec);
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
gitx_true(const char *const *args)
{
	struct gitx g;
	int yes;

	if (gitx_run(&g, args, 4096, NULL) < 0)
		return 0;
	yes = g.status == 0 && g.out && !strcmp(g.out, "true");
	gitx_free(&g);
	return yes;
}

/*
 * Whether git could find a work tree from here: GIT_DIR or GIT_WORK_TREE
 * set, or a ".git" in the current directory or one above it.  Without
 * any, git would answer "not inside a work tree"; not asking it saves a
 * process (10 ms and more on a busy runner) to a stage outside a
 * repository.  When in doubt (a path too long, a .git we cannot look
 * at), git is asked.
 */
static int
maybe_work_tree(void)
{
	char dir[PATH_MAX], path[PATH_MAX + 8], *slash;
	struct stat st;
	size_t n;

	if (getenv("GIT_DIR") || getenv("GIT_WORK_TREE") || !getcwd(dir, sizeof(dir)))
		return 1;
	for (;;) {
		n = strlen(dir);
		snprintf(path, sizeof(path), "%s/.git", n > 1 ? dir : "");
		if (lstat(path, &st) == 0 || (errno != ENOENT && errno != ENOTDIR))
			return 1;
		if (n <= 1 || !(slash = strrchr(dir, '/')))
			return 0;
		slash[slash == dir] = '\0';
	}
}

int
gitx_in_work_tree(void)
{
	static const char *const args[] = { "rev-parse", "--is-inside-work-tree", NULL };

	return maybe_work_tree() && gitx_true(args);
}

char *
git_capture(const char *const *args, int *status)
{
	struct gitx g;

	if (status)
		*status = -1;
	if (gitx_run(&g, args, GIT_CAPTURE_MAX, NULL) == -1)
		return NULL;
	if (status)
		*status = g.status;
	if (g.status != 0) {
		gitx_free(&g);
		return NULL;
	}
	return g.out;
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
	struct gitx g;
	char *t;
	int yes;

	memset(s, 0, sizeof(*s));
	s->commit_time = -1;
	if (!maybe_work_tree())
		return err_set(e, EX_USAGE_, "not inside a git work tree");
	if (gitx_run(&g, inside, 4096, e) == -1)
		return -1;
	yes = g.status == 0 && !strcmp(g.out, "true");
	gitx_free(&g);
	if (!yes)
		return err_set(e, EX_USAGE_, "not inside a git work tree");
	s->repository = git_capture(url, NULL);
	if (s->repository) {
		/* An origin may carry a token (GitLab's CI_REPOSITORY_URL does). */
		t = url_redact(s->repository);
		free_secret(s->repository);
		s->repository = t;
	} else {
		s->repository = git_capture(top, NULL);
	}
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
