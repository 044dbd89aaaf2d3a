/*
 * gitx: running git for the built-in gates, with its exit status, its
 * error message and output of any size.
 *
 * git.h's git_capture() is enough for a few short answers; the secret
 * scanner and the review gate also need a file list or a diff that may be
 * large (streamed line by line), git's exit status to tell "no" from
 * "broken" (merge-base --is-ancestor, merge-tree), and git's own message
 * when it fails (a shallow clone, a bad revision).  git runs as a child
 * (posix_spawnp, an argv, never a shell) in the current directory, with
 * stdin from /dev/null.  struct gitx owns its strings.
 */
#ifndef CI_GITX_H
#define CI_GITX_H

#include <stddef.h>

#include "core/log.h"

struct gitx {
	int status;		/* git's exit status; -1 when killed by a signal */
	char err[512];		/* git's standard error, first lines joined by "; " */
	char *out;		/* gitx_run(): standard output (NUL-terminated) */
	size_t len;
};

/*
 * Run git with args (without the leading "git", NULL-terminated) and keep
 * its standard output, at most cap bytes, trailing newlines removed.
 * Returns 0 whatever git's exit status (see g->status), or -1 with e set
 * when git cannot be started or its output passes cap.
 */
int gitx_run(struct gitx *g, const char *const *args, size_t cap, struct err *e);

/*
 * Run git and call fn for each record of its standard output, split on
 * delim ('\n' or '\0'), the delimiter removed and the record NUL-
 * terminated (writable, valid during the call only).  fn returns 0 to go
 * on, -1 to stop (git's remaining output is drained and discarded, and
 * gitx_each returns -1 with e as fn left it).
 */
int gitx_each(struct gitx *g, const char *const *args, int delim,
    int (*fn)(void *ctx, char *rec, size_t len, struct err *e), void *ctx,
    struct err *e);

void gitx_free(struct gitx *g);

/* 1 when the current directory is inside a git work tree. */
int gitx_in_work_tree(void);

#endif
