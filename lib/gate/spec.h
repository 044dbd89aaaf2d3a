/*
 * spec: the gate's jobs, from a spec file and from the command line.
 *
 * A spec file is JSON with comments (core/json.h):
 *   {"jobs": {NAME: JOB, ...}, "timeout": "1h", "max_parallel": N,
 *    "fail_fast": BOOL, "$schema": ..., "description": ...}
 * where JOB has run or argv, needs, timeout, env, cwd, allow_failure,
 * junit and coverage, or is a built-in ("builtin": "secrets"/"review",
 * see builtin.h) whose other keys are its options.  Every error is
 * EX_USAGE_ and says where: "FILE:LINE:COL: jobs.NAME.KEY: what".
 * Nothing is resolved here: needs stay names until gate_resolve() (dag.h).
 */
#ifndef CI_GATE_SPEC_H
#define CI_GATE_SPEC_H

#include <cJSON.h>

#include "core/log.h"
#include "gate/job.h"

#define GATE_SPEC_MAX_BYTES (4u << 20)

/* Add the jobs and settings of the spec file to g. */
int gate_spec_load(struct gate *g, const char *file, struct err *e);

/* -g NAME=COMMAND: a job running COMMAND with sh -c.  gate_inline_check()
 * checks the form alone (the name too), for the option parser. */
int gate_add_inline(struct gate *g, const char *arg, struct err *e);
int gate_inline_check(const char *arg, struct err *e);

/* --needs JOB:DEP[,DEP...]: more needs for a job already defined. */
int gate_add_needs(struct gate *g, const char *arg, struct err *e);

/* A built-in job with options opts (checked here, copied). */
int gate_add_builtin(struct gate *g, const char *name, const char *builtin,
    const cJSON *opts, struct err *e);

#endif
