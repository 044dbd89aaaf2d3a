/*
 * builtin: the built-in jobs (secrets, review) and their child protocol.
 *
 * A built-in runs as a child of ci-gate like any job: ci-gate executes
 * itself (/proc/self/exe) as
 *     SELF --builtin-child NAME RESULT-FILE OPTIONS-FILE
 * so a built-in gets the same process group, timeout, cancellation and
 * log file as any job, and a crash or a hang in it cannot take the gate
 * down.  The parent writes the options (the job's keys but the generic
 * ones, as JSON) to OUT/NAME.options.json; the child writes its log on
 * the stream it is given and its verdict to OUT/NAME.result.json:
 *     {"status": "passed"|"failed"|"error", "reason": ...,
 *      "findings": [...], "scan": {...}, "baseline_written": {...},
 *      "review": {...}}
 * and exits 0, 1 or 2 to match; the parent trusts the verdict only when
 * the exit status agrees.
 */
#ifndef CI_GATE_BUILTIN_H
#define CI_GATE_BUILTIN_H

#include <stdio.h>
#include <cJSON.h>

#include "core/buf.h"
#include "core/log.h"
#include "gate/job.h"

#define GATE_CHILD_ARG "--builtin-child"
#define GATE_CHILD_ARGC 5	/* SELF --builtin-child NAME RESULT OPTIONS */
#define GATE_RESULT_MAX_BYTES (64u << 20)

/* "secrets" or "review". */
int gate_builtin_known(const char *name);

/*
 * Check a built-in's options, skipping the keys in ignore (may be NULL):
 * on error -1 with e->msg "KEY: what" and *bad the offending item (bad
 * may be NULL).
 */
int gate_builtin_check(const char *builtin, const cJSON *opts,
    const char *const *ignore, const cJSON **bad, struct err *e);

/* --list-rules: the secret scanner's rules, one a line: id, severity,
 * title (verbose: and case, the ERE), tab-separated, appended to out. */
void gate_builtin_rules(struct buf *out, int verbose);

/*
 * The parent's side, before the start: write j's options file (under
 * out_dir, made absolute, since the child runs in the job's cwd), remove
 * a stale result, and fill argv (GATE_CHILD_ARGC + 1 entries, borrowing
 * self and j's strings) with the child's command line.
 */
int gate_builtin_prepare(struct gate_job *j, const char *out_dir, const char *self,
    char **argv, struct err *e);

/*
 * The parent's side, after the end: j's status and reason from the
 * verdict file (j->result takes it), or an error when there is none or
 * the exit status disagrees with it; how is proc_describe()'s text.
 * Paths of findings are made relative to where ci-gate runs.
 */
void gate_builtin_finished(struct gate_job *j, const char *how);

/*
 * The child's side: argv as above.  Run the built-in, write its log to
 * log and its verdict to RESULT-FILE; return the exit status (messages
 * on stderr).  The caller flushes log.
 */
int gate_builtin_child(int argc, char **argv, FILE *log);

#endif
