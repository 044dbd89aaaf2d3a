/*
 * ledger: the release history of an app, which ci-rollback keeps and reads
 * to know what is stable, what failed and what to go back to.
 *
 * The ledger is append-only JSON lines, one record per change of a
 * release's status, oldest first:
 *
 *   {"app": "shop", "version": "2.4.1", "image": "reg/shop@sha256:...",
 *    "digest": "sha256:...", "slot": "green", "status": "failed",
 *    "at": "2026-12-05T10:02:03.120Z", "reason": "...", "pipeline": RUN_ID}
 *
 * status is stable, failed, rolled_back or superseded; a release's status
 * is that of its last record.  Records are never rewritten: making a
 * release stable appends its record and a "superseded" one for the
 * stable release before it.
 *
 * Two backends hold the lines:
 *
 *   file   $CI_STATE_DIR/releases.jsonl (every app in one file), appended
 *          with one write(2) per transaction and fsynced, under an
 *          exclusive lock on releases.lock beside it.  A write cut short
 *          (kill -9, a full disk) leaves a last line without its newline:
 *          readers read past it with a warning, and the next append starts
 *          on a line of its own.  A line that is not a release record
 *          (foreign, corrupted) is read past with a warning naming it.
 *   git    "git:REMOTE" (a remote of the current repository, or any URL or
 *          path git takes): the same lines in the file releases.jsonl of
 *          the ref refs/ci/ledger/APP of that repository, one commit per
 *          transaction.  A transaction fetches the ref, appends, and
 *          pushes with a lease on the commit it read (compare and swap):
 *          when another runner pushed first, the push is refused, and the
 *          transaction reads again and decides again.  So runners sharing
 *          the remote never lose a record nor both act on a stale view.
 *          A private bare repository in $CI_STATE_DIR/ledger.git holds
 *          the objects; the user's repository and work tree are never
 *          touched.
 *
 * Errors: EX_IOERR_ for a file that cannot be read or written, EX_SERVICE
 * for git (fetch, push) failing, with git's words; EX_USAGE_ for a bad
 * --ledger value.  struct release and struct ledger own their strings.
 */
#ifndef CI_RELEASE_LEDGER_H
#define CI_RELEASE_LEDGER_H

#include <stddef.h>

#include "core/gitref.h"
#include "core/log.h"

#define LEDGER_FILE "releases.jsonl"
#define LEDGER_MAX_BYTES (64u << 20)

struct release {
	char *app, *version, *image, *digest, *slot, *status, *at, *reason, *pipeline;
	int line;		/* where it was read (1-based) */
};

struct release_list {
	struct release *v;
	size_t n;
};

enum ledger_kind { LEDGER_FILE_KIND = 1, LEDGER_GIT };

struct ledger {
	int kind;
	char *app;
	char *name;		/* for messages: the file, or "git:REMOTE refs/ci/ledger/APP" */
	char *path;		/* file: the ledger file */
	char *lock;		/* file: the lock file */
	struct gitref git;	/* git: refs/ci/ledger/APP of the remote */
	int warned;		/* torn or foreign lines were read past */
};

/*
 * Open the ledger of app: where is NULL (the file in state_dir) or
 * "git:REMOTE".  Nothing is read yet.
 */
int ledger_open(struct ledger *l, const char *state_dir, const char *where, const char *app,
    struct err *e);
void ledger_close(struct ledger *l);

/* Every record of l's app, oldest first (torn and foreign lines are read
 * past, each with a warning on stderr). */
int ledger_read(struct ledger *l, struct release_list *out, struct err *e);

/*
 * A transaction: decide() sees the current records (l's app) and fills
 * add with the records to append (it may leave it empty); they are
 * appended at once, with "at" set where it is NULL.  decide() may be
 * called more than once (git: after losing a race); it must decide from
 * what it is shown.  Returns what decide() returned (>= 0), or -1 with e.
 */
int ledger_update(struct ledger *l,
    int (*decide)(const struct release_list *cur, struct release_list *add, void *arg,
    struct err *e), void *arg, struct err *e);

/* The release whose last record says stable (borrowed from list), or NULL. */
const struct release *ledger_stable(const struct release_list *list);
/* The last record of the release (version, or digest "sha256:..."), or NULL. */
const struct release *ledger_find(const struct release_list *list, const char *version_or_digest);
/* The stable release before the current one: the last release that was
 * stable and is not the current stable, or NULL. */
const struct release *ledger_previous(const struct release_list *list);

/* Append a copy of r to list. */
void release_list_add(struct release_list *list, const struct release *r);
void release_list_free(struct release_list *list);
void release_free(struct release *r);

/* One record as its JSON line (no newline); owned. */
char *release_line(const struct release *r);

#endif
