/*
 * gitref: small files in one ref of a git remote (gitref.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/encode.h"
#include "core/fsutil.h"
#include "core/git.h"
#include "core/gitref.h"
#include "core/log.h"
#include "core/proc.h"

#define GIT_TIMEOUT_MS (120 * 1000)

/* Run git in our private repository, stdin from in (may be NULL).
 * Returns git's exit status (*out set, owned, trailing newlines off;
 * errbuf git's stderr on one line), or -1 with e. */
static int
git_in(struct gitref *g, const char *const *args, const char *in, size_t inlen, char **out,
    char *errbuf, size_t errsz, struct err *e)
{
	static char *const env[] = {
		"GIT_AUTHOR_NAME=ci-tools", "GIT_AUTHOR_EMAIL=ci-tools@localhost",
		"GIT_COMMITTER_NAME=ci-tools", "GIT_COMMITTER_EMAIL=ci-tools@localhost",
		"GIT_TERMINAL_PROMPT=0", NULL
	};
	struct proc_spec spec;
	struct proc_result r;
	char **argv = NULL, *gd = xasprintf("--git-dir=%s", g->gitdir);
	size_t i, n;
	int rc;

	argv = strv_push(argv, "git");
	argv = strv_push(argv, gd);
	for (i = 0; args[i]; i++)
		argv = strv_push(argv, args[i]);
	free(gd);
	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	spec.env = env;
	spec.timeout_ms = GIT_TIMEOUT_MS;
	spec.out_cap = GITREF_FILE_MAX;
	spec.tail_bytes = 4096;
	spec.in_data = in;
	spec.in_len = inlen;
	rc = proc_capture(&spec, &r, e);
	strv_free(argv);
	if (rc < 0) {
		err_prefix(e, "%s", g->name);
		e->code = EX_SERVICE;
		proc_result_free(&r);
		return -1;
	}
	snprintf(errbuf, errsz, "%s", r.err ? r.err : "");
	for (n = strlen(errbuf); n && (errbuf[n - 1] == '\n' || errbuf[n - 1] == '\r'); )
		errbuf[--n] = '\0';
	for (i = 0; errbuf[i]; i++)
		if (errbuf[i] == '\n')
			errbuf[i] = ' ';
	if (out) {
		*out = r.out;
		r.out = NULL;
		if (*out)
			for (n = strlen(*out); n && (*out)[n - 1] == '\n'; )
				(*out)[--n] = '\0';
	}
	rc = r.status;
	proc_result_free(&r);
	return rc;
}

static int
git_fail(struct gitref *g, const char *what, const char *words, struct err *e)
{
	/* git may name the remote in what it says, token and all. */
	char *shown = url_redact(words);

	err_set(e, EX_SERVICE, "%s: %s failed%s%s", g->name, what, *shown ? ": " : "", shown);
	free(shown);
	return -1;
}

int
gitref_open(struct gitref *g, const char *state_dir, const char *where, const char *ref,
    struct err *e)
{
	const char *r;
	char *shown;

	memset(g, 0, sizeof(g[0]));
	if (!where || strncmp(where, "git:", 4) || !where[4])
		return err_set(e, EX_USAGE_, "'%s': expected git:REMOTE (a remote's name, a URL or "
		    "a path)", where ? where : "");
	r = where + 4;
	g->ref = xstrdup(ref);
	g->gitdir = xasprintf("%s/ledger.git", state_dir);
	/* A remote's name (no '/' nor ':') is looked up in the current
	 * repository; anything else is a URL or a path already. */
	if (!strpbrk(r, "/:")) {
		const char *a[] = { "remote", "get-url", r, NULL };
		struct gitx x;

		memset(&x, 0, sizeof(x));
		if (gitx_run(&x, a, 0, e) < 0 || x.status != 0) {
			if (x.status != 0)
				err_set(e, EX_USAGE_, "'%s': no remote '%s' in the current repository "
				    "(%s)", where, r, x.err);
			gitx_free(&x);
			gitref_close(g);
			return -1;
		}
		g->url = xstrdup(x.out);
		gitx_free(&x);
	} else {
		g->url = xstrdup(r);
	}
	shown = url_redact(g->url);
	g->name = xasprintf("%s %s", shown, ref);
	free(shown);
	if (!path_exists(g->gitdir)) {
		const char *a[] = { "init", "-q", "--bare", g->gitdir, NULL };
		struct gitx x;

		memset(&x, 0, sizeof(x));
		if (mkdir_p(state_dir, 0755, e) < 0 || gitx_run(&x, a, 0, e) < 0 || x.status != 0) {
			if (x.status != 0)
				err_set(e, EX_IOERR_, "cannot create '%s': %s", g->gitdir, x.err);
			gitx_free(&x);
			gitref_close(g);
			return -1;
		}
		gitx_free(&x);
	}
	return 0;
}

void
gitref_close(struct gitref *g)
{
	free(g->url);
	free(g->gitdir);
	free(g->ref);
	free(g->name);
	memset(g, 0, sizeof(g[0]));
}

int
gitref_fetch(struct gitref *g, char oid[GITREF_OID_MAX], struct err *e)
{
	const char *ls[] = { "ls-remote", "--refs", g->url, g->ref, NULL };
	char *out = NULL, errb[1024], *spec;
	int st;

	*oid = '\0';
	if ((st = git_in(g, ls, NULL, 0, &out, errb, sizeof(errb), e)) < 0)
		return -1;
	if (st != 0) {
		free(out);
		return git_fail(g, "ls-remote", errb, e);
	}
	if (*out) {
		size_t n = strcspn(out, " \t");

		if (n == 0 || n >= GITREF_OID_MAX) {
			err_set(e, EX_SERVICE, "%s: ls-remote answered '%.80s'", g->name, out);
			free(out);
			return -1;
		}
		memcpy(oid, out, n);
		oid[n] = '\0';
	}
	free(out);
	if (!*oid)
		return 0;
	spec = xasprintf("+%s:%s", g->ref, g->ref);
	{
		const char *fa[] = { "fetch", "--no-tags", "-q", g->url, spec, NULL };

		st = git_in(g, fa, NULL, 0, NULL, errb, sizeof(errb), e);
	}
	free(spec);
	if (st < 0)
		return -1;
	if (st != 0)
		return git_fail(g, "fetch", errb, e);
	return 0;
}

int
gitref_read(struct gitref *g, const char *oid, const char *name, char **text, size_t *len,
    struct err *e)
{
	char *obj, *kind = NULL, errb[1024];
	int st;

	*text = NULL;
	*len = 0;
	if (!*oid)
		return 0;
	obj = xasprintf("%s:%s", oid, name);
	{
		/* Is it there?  A missing path is no error. */
		const char *a[] = { "cat-file", "-t", obj, NULL };

		st = git_in(g, a, NULL, 0, &kind, errb, sizeof(errb), e);
	}
	if (st != 0 || strcmp(kind ? kind : "", "blob")) {
		free(kind);
		free(obj);
		return st < 0 ? -1 : 0;
	}
	free(kind);
	{
		struct proc_spec spec;
		struct proc_result r;
		char *gd = xasprintf("--git-dir=%s", g->gitdir);
		const char *argv[] = { "git", gd, "cat-file", "blob", obj, NULL };

		/* The bytes as they are (git_in() would take trailing
		 * newlines off). */
		memset(&spec, 0, sizeof(spec));
		spec.argv = (char *const *)argv;
		spec.timeout_ms = GIT_TIMEOUT_MS;
		spec.out_cap = GITREF_FILE_MAX;
		if (proc_capture(&spec, &r, e) < 0 || r.status != 0) {
			if (r.status > 0)
				git_fail(g, "cat-file", r.err ? r.err : "", e);
			proc_result_free(&r);
			free(gd);
			free(obj);
			return -1;
		}
		*text = r.out;
		*len = r.out_len;
		r.out = NULL;
		proc_result_free(&r);
		free(gd);
	}
	free(obj);
	return 1;
}

/* The tree of files, written; its id into *tree (owned). */
static int
make_tree(struct gitref *g, const struct gitref_file *files, size_t n, char **tree,
    struct err *e)
{
	struct buf list = BUF_INIT;
	char errb[1024];
	size_t i;
	int st = 0;

	for (i = 0; i < n && st == 0; i++) {
		const char *a[] = { "hash-object", "-w", "--stdin", NULL };
		char *blob = NULL;

		if (!*files[i].name || strchr(files[i].name, '/') || strchr(files[i].name, '\n')) {
			buf_free(&list);
			return err_set(e, EX_INTERNAL, "gitref: bad file name '%s'", files[i].name);
		}
		st = git_in(g, a, files[i].data, files[i].len, &blob, errb, sizeof(errb), e);
		if (st > 0)
			git_fail(g, "hash-object", errb, e);
		if (st == 0)
			buf_addf(&list, "100644 blob %s\t%s\n", blob, files[i].name);
		free(blob);
	}
	if (st == 0) {
		const char *a[] = { "mktree", NULL };

		st = git_in(g, a, list.data ? list.data : "", list.len, tree, errb, sizeof(errb), e);
		if (st > 0)
			git_fail(g, "mktree", errb, e);
	}
	buf_free(&list);
	return st == 0 ? 0 : -1;
}

int
gitref_write(struct gitref *g, const char *old, const struct gitref_file *files, size_t n,
    const char *message, struct err *e)
{
	char *tree = NULL, *commit = NULL, *lease, *spec, *out = NULL, errb[1024];
	int st, rc = -1;

	if (n > 0) {
		const char *a[] = { "commit-tree", NULL, "-m", message, NULL };
		const char *b[] = { "commit-tree", NULL, "-p", old, "-m", message, NULL };

		if (make_tree(g, files, n, &tree, e) < 0)
			goto out;
		a[1] = b[1] = tree;
		st = git_in(g, *old ? b : a, NULL, 0, &commit, errb, sizeof(errb), e);
		if (st != 0) {
			if (st > 0)
				git_fail(g, "commit-tree", errb, e);
			goto out;
		}
	}
	lease = xasprintf("--force-with-lease=%s:%s", g->ref, old);
	spec = xasprintf("%s:%s", commit ? commit : "", g->ref);
	{
		const char *a[] = { "push", "-q", "--porcelain", lease, g->url, spec, NULL };

		st = git_in(g, a, NULL, 0, &out, errb, sizeof(errb), e);
	}
	/* A refused lease, a non-fast-forward, or the remote's own check of
	 * the old value as it locks the ref: another runner won. */
	if (st > 0 && ((out && (strstr(out, "[rejected]") || strstr(out, "stale info"))) ||
	    strstr(errb, "stale info") || strstr(errb, "rejected") || strstr(errb, "fetch first") ||
	    (strstr(errb, "cannot lock ref") && strstr(errb, "but expected"))))
		rc = 1;
	else if (st > 0)
		git_fail(g, "push", errb, e);
	else if (st == 0)
		rc = 0;
	free(out);
	free(lease);
	free(spec);
out:
	free(tree);
	free(commit);
	return rc;
}
