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

#include <cJSON.h>

#include "core/log.h"

#define GATE_CHILD_ARG "--builtin-child"

/* "secrets" or "review". */
int gate_builtin_known(const char *name);

/*
 * Check a built-in's options, skipping the keys in ignore (may be NULL):
 * on error -1 with e->msg "KEY: what" and *bad the offending item (bad
 * may be NULL).
 */
int gate_builtin_check(const char *builtin, const cJSON *opts,
    const char *const *ignore, const cJSON **bad, struct err *e);

#endif
