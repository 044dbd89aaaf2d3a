/*
 * block: the rollback block, the file that stops new releases until the
 * cause of a failed one is fixed.
 *
 * ci-rollback writes $CI_STATE_DIR/blocked.json after it rolled a release
 * back; ci-gate refuses to pass while the file exists; clearing it (by
 * ci-rollback --unblock --reason, or by hand) lifts the block.  The file
 * is one JSON object (ci-pipeline(5)): {"since": RFC 3339 time,
 * "release": version, "digest": "sha256:...", "reason": text}; other keys
 * are kept for later versions.  Reading fails safe: a block file that
 * cannot be read or parsed still blocks, and the caller says why.  The
 * state directory is $CI_STATE_DIR, or ".ci-state" in the current
 * directory when that is unset or empty.  struct block owns its strings.
 */
#ifndef CI_BLOCK_H
#define CI_BLOCK_H

#include <cJSON.h>

#include "core/log.h"
#include "core/pipeline.h"

#define BLOCK_FILE "blocked.json"
#define BLOCK_MAX_BYTES (1u << 20)
#define BLOCK_REF "refs/ci/block"

struct block {
	char *path;		/* the block file */
	char *since;
	char *release;
	char *digest;
	char *reason;
};

/*
 * Look for the block file in dir (state_dir() when NULL).  Returns 0 when
 * there is none, 1 when there is one and b holds it, -1 when one exists
 * (or cannot be ruled out) but cannot be read or is malformed: then b->path
 * is set and e says what is wrong, and the caller must treat the pipeline
 * as blocked.
 */
int block_read(const char *dir, struct block *b, struct err *e);

/* Write the block file atomically (for ci-rollback), creating dir.  since
 * may be NULL for now. */
int block_write(const char *dir, const struct block *b, struct err *e);

/*
 * The block runners share: the file blocked.json of the ref
 * refs/ci/block of a git remote ("git:REMOTE", core/gitref.h), which
 * ci-rollback writes beside its own when its ledger is in that remote.
 * Reading is block_read()'s contract (b->path names the remote, the ref
 * and the file; a remote that cannot be read is -1: the caller blocks);
 * writing wins any race; removing a block that is not there is 0.
 */
int block_read_shared(const char *where, struct block *b, struct err *e);
int block_write_shared(const char *where, const struct block *b, struct err *e);
int block_remove_shared(const char *where, struct err *e);

void block_free(struct block *b);

/*
 * The gate's check (state_dir(), then the shared block when shared is a
 * "git:REMOTE"): 0 when the gate may run (no block, or
 * ignore set: then a warning), 1 when it is blocked: then *section is
 * the gate section that says so (status failed, the reason with how to
 * clear it, "blocked") and the error is logged.  *info, when set, is the
 * "blocked" object for the section of a gate that runs anyway.  Both are
 * the caller's.
 */
int block_check(int ignore, const char *shared, cJSON **info, cJSON **section);

#endif
