/*
 * lease: the rollout lock that runners on several machines share.  The
 * state's lock file (rollout/state.h) keeps two rollouts of an app apart
 * on one runner; with CI_LEDGER=git:REMOTE (core/gitref.h) the file
 * lease.json of the ref refs/ci/lock/APP of that remote keeps them apart
 * across runners: {"holder": "HOST:STATE_DIR", "image": REF, "since":
 * RFC 3339, "pid": N}.  It is taken by compare and swap, so two runners
 * can never both hold it; it is held while the rollout runs or is
 * paused, and dropped when it ends (passed, failed, aborted).
 *
 * The holder is the runner (its host and state directory), not the
 * process: a re-run on the same runner resumes under the lease it holds.
 * Errors: EX_USAGE_ when another runner holds it (the message names the
 * holder, the image, since when, and how to clear a lease whose runner
 * is gone), EX_SERVICE when the remote cannot be read or written.
 */
#ifndef CI_ROLLOUT_LEASE_H
#define CI_ROLLOUT_LEASE_H

#include "core/log.h"

#define LEASE_FILE "lease.json"

/* Take the lease of app (or find it ours already): 0, or -1 with e. */
int lease_take(const char *state_dir, const char *where, const char *app, const char *image,
    struct err *e);

/* Drop it when it is ours (another runner's is left alone): 0, or -1. */
int lease_drop(const char *state_dir, const char *where, const char *app, struct err *e);

#endif
