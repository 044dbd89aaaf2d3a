/*
 * gitref: a few small files kept in one ref of a git remote, shared by
 * every runner that can reach it (ci-rollback's ledger, the pipeline
 * block).  "git:REMOTE" names the remote: a remote of the repository in
 * the current directory ("git:origin"), or any URL or path git takes.
 *
 * Reading fetches the ref into a private bare repository
 * (STATE_DIR/ledger.git) and reads the files of its tree; the user's
 * repository and work tree are never touched.  Writing commits the
 * whole set of files over the commit that was read and pushes it with a
 * lease on that commit (compare and swap): when another runner pushed
 * first the push is refused and gitref_write() says so (1), so that the
 * caller reads again and decides again.  Deleting the ref is also leased.
 *
 * Errors: EX_USAGE_ for a bad "git:" value or an unknown remote name,
 * EX_SERVICE for git failing (with git's words, credentials removed from
 * URLs), EX_IOERR_ for the private repository.  Messages name the remote
 * and the ref.  struct gitref owns its strings.
 */
#ifndef CI_CORE_GITREF_H
#define CI_CORE_GITREF_H

#include <stddef.h>

#include "core/log.h"

#define GITREF_FILE_MAX (64u << 20)
#define GITREF_OID_MAX 128

struct gitref {
	char *url;		/* the remote's URL */
	char *gitdir;		/* our private bare repository */
	char *ref;		/* refs/ci/... */
	char *name;		/* "REMOTE-WITHOUT-CREDENTIALS REF", for messages */
};

/* One file of the ref's tree (name without '/'), its bytes. */
struct gitref_file {
	const char *name;
	const char *data;
	size_t len;
};

int gitref_open(struct gitref *g, const char *state_dir, const char *where, const char *ref,
    struct err *e);
void gitref_close(struct gitref *g);

/* The remote's commit of the ref into oid ("" when the ref does not
 * exist), fetched. */
int gitref_fetch(struct gitref *g, char oid[GITREF_OID_MAX], struct err *e);

/* The file name of commit oid: 1 with *text (owned, NUL-ended) and *len,
 * 0 when the commit has no such file (or oid is ""). */
int gitref_read(struct gitref *g, const char *oid, const char *name, char **text, size_t *len,
    struct err *e);

/* Commit files (the whole tree) over old ("" for a new ref) and push with
 * a lease on old: 0, 1 when the remote moved since old, -1 with e.  With
 * n == 0 the ref is deleted (leased the same way). */
int gitref_write(struct gitref *g, const char *old, const struct gitref_file *files, size_t n,
    const char *message, struct err *e);

#endif
