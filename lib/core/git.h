/*
 * git: running git, and the few facts about the source tree the pipeline
 * document records.
 *
 * git runs through core/proc (an argv, never a shell) in the current
 * directory, with stdin from /dev/null; any number of arguments.  Three
 * ways to run it:
 *   - git_capture(): a short answer, or NULL (stderr dropped);
 *   - gitx_run(): stdout up to a cap, with git's exit status (to tell
 *     "no" from "broken": merge-base --is-ancestor, merge-tree) and git's
 *     own message when it fails (a shallow clone, a bad revision);
 *   - gitx_each(): output of any size (a file list, a diff), streamed as
 *     records, each at most GIT_RECORD_MAX bytes.
 * Outside a work tree every git_source field stays NULL; with no ".git"
 * in the current directory or above it (and neither GIT_DIR nor
 * GIT_WORK_TREE set), git is not even run.  In a plain repository or
 * linked work tree the source facts are read from .git directly (HEAD,
 * refs, packed-refs, the config files, the commit from a loose object or
 * a pack), without a process; anything the reader does not follow as git
 * does (a GIT_ variable other than the author, committer, ceiling,
 * NOSYSTEM and transport ones, an include, a bare, SHA-256 or reftable
 * repository, replace refs, a commit stored as a delta, another owner)
 * and git is asked instead.  The repository
 * URL has any user:password part removed before it is stored, so a token
 * in a remote URL never reaches the document.  struct git_source and
 * struct gitx own their strings.
 */
#ifndef CI_GIT_H
#define CI_GIT_H

#include <stddef.h>

#include "core/log.h"

#define GIT_CAPTURE_MAX	(1024 * 1024)	/* git_capture()'s output cap */
#define GIT_RECORD_MAX	(64u << 20)	/* gitx_each()'s longest record */

struct git_source {
	char *repository;	/* remote.origin.url (userinfo shown as ***: url_redact), else top-level path */
	char *commit;		/* 40 hex digits */
	char *ref;		/* "refs/heads/main", or "HEAD" when detached */
	long long commit_time;	/* committer time of HEAD, -1 when unknown */
};

/* Fill s; returns 0, or -1 (e set) when not inside a git work tree or git
 * is missing.  A repository with no commit yet fills only repository. */
int git_source_read(struct git_source *s, struct err *e);
void git_source_free(struct git_source *s);

/*
 * Run git with args (without the leading "git", NULL-terminated); return
 * its stdout (at most GIT_CAPTURE_MAX bytes) with trailing newlines
 * removed, or NULL when it fails.  *status (may be NULL) gets git's exit
 * status, or -1 when git could not run or was killed.
 */
char *git_capture(const char *const *args, int *status);

struct gitx {
	int status;		/* git's exit status; -1 when killed by a signal */
	char err[512];		/* git's standard error, its lines joined by "; " */
	char *out;		/* gitx_run(): standard output (NUL-terminated) */
	size_t len;
};

/*
 * Run git with args (without the leading "git", NULL-terminated) and keep
 * its standard output, at most cap bytes (0: GIT_CAPTURE_MAX), trailing
 * newlines removed.  Returns 0 whatever git's exit status (see g->status),
 * or -1 with e set when git cannot be started or its output passes cap.
 */
int gitx_run(struct gitx *g, const char *const *args, size_t cap, struct err *e);

/*
 * Run git and call fn for each record of its standard output, split on
 * delim ('\n' or '\0'), the delimiter removed and the record NUL-
 * terminated (writable, valid during the call only).  fn returns 0 to go
 * on, -1 to stop (git's remaining output is drained and discarded, and
 * gitx_each returns -1 with e as fn left it).  A record longer than
 * GIT_RECORD_MAX also stops it, with e set.
 */
int gitx_each(struct gitx *g, const char *const *args, int delim,
    int (*fn)(void *ctx, char *rec, size_t len, struct err *e), void *ctx,
    struct err *e);

void gitx_free(struct gitx *g);

/* 1 when git, run with args, succeeds and prints "true" (rev-parse --is-*). */
int gitx_true(const char *const *args);
/* 1 when the current directory is inside a git work tree. */
int gitx_in_work_tree(void);

#endif
