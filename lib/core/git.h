/*
 * git: the few facts about the source tree the pipeline document records.
 *
 * Runs git as a child (posix_spawnp, an argv, never a shell) in the current
 * directory.  Outside a work tree every field stays NULL.  The repository
 * URL has any user:password part removed before it is stored, so a token in
 * a remote URL never reaches the document.  Fields are owned by the struct.
 */
#ifndef CI_GIT_H
#define CI_GIT_H

#include "core/log.h"

struct git_source {
	char *repository;	/* remote.origin.url (credentials stripped), else top-level path */
	char *commit;		/* 40 hex digits */
	char *ref;		/* "refs/heads/main", or "HEAD" when detached */
	long long commit_time;	/* committer time of HEAD, -1 when unknown */
};

/* Fill s; returns 0, or -1 (e set) when not inside a git work tree or git
 * is missing.  A repository with no commit yet fills only repository. */
int git_source_read(struct git_source *s, struct err *e);
void git_source_free(struct git_source *s);

/* Run git with argv (without the leading "git"); return its stdout with the
 * trailing newline removed, or NULL when it fails (stderr discarded). */
char *git_capture(const char *const *args, int *status);

/* Remove "user:pass@" from a URL in place. */
void url_strip_credentials(char *url);

#endif
