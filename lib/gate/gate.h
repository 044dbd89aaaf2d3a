/*
 * gate: the work of ci-gate, and the gate section it adds to the
 * pipeline document (ci-pipeline(5), ci-gate(1) "The gate section").
 *
 * gate_work() is the stage's work (core/stage.h): check the rollback
 * block (block.h), load the jobs (spec.h) and resolve them (dag.h), run
 * them (sched.h) while the view (view.h) shows them, build the section
 * and write the reports (reports.h).  The options are plain values the
 * command line filled; struct gate_opts borrows all its strings.
 */
#ifndef CI_GATE_H
#define CI_GATE_H

#include <limits.h>
#include <signal.h>
#include <cJSON.h>

#include "core/buf.h"
#include "core/log.h"
#include "gate/job.h"

#define GATE_DEFAULT_OUT "ci-out/gate"
#define GATE_DEFAULT_GRACE_MS 5000

struct gate_opts {
	/* The jobs. */
	const char *spec;	/* -f; NULL: ./gates.json unless there are inline jobs */
	char **inline_jobs;	/* -g NAME=COMMAND (strv) */
	char **needs;		/* --needs JOB:DEP[,DEP] (strv) */
	const cJSON *secrets;	/* --secrets: the one secrets job's options, or NULL */
	/* The run. */
	long jobs;		/* -j; 0: unset */
	int keep_going;		/* -1: unset (the spec's fail_fast), 0 fail fast, 1 keep going */
	long long timeout_ms;	/* -1: unset (the spec's, else 1h) */
	long long grace_ms;
	const char *out_dir;
	int ignore_block;
	const char *shared_block;	/* $CI_LEDGER when it is git:REMOTE: the runners' block */
	const volatile sig_atomic_t *stop;	/* a signal: cancel (may be NULL) */
	char self[PATH_MAX];	/* our executable, for built-in children */
	/* The reports (NULL: none). */
	const char *junit_out, *sarif_out, *cq_out;
};

/* Defaults; argv0 names our executable when /proc/self/exe cannot. */
void gate_opts_init(struct gate_opts *o, const char *argv0);

/* Build the resolved gate from the options; *spec_used is the spec file
 * read, or NULL.  Errors are EX_USAGE_ (a spec or job graph not valid). */
int gate_load(struct gate *g, const struct gate_opts *o, const char **spec_used,
    struct err *e);

/* --dry-run: load the gate and append its plan (dag.h) to out. */
int gate_dry_run(const struct gate_opts *o, struct buf *out, struct err *e);

/*
 * Run the gate; *section is its section.  Returns EX_PASS, EX_FAIL (a
 * job failed the gate, or the pipeline is blocked), or -1 with e set:
 * then *section says "error" when the jobs could not be loaded, or is
 * the gate's verdict all the same when a report could not be written or
 * a signal stopped the run (EX_TEMP).
 */
int gate_work(const struct gate_opts *o, cJSON **section, struct err *e);

/*
 * The section of a gate that ran: status passed or failed (and why),
 * started_at, duration_ms, spec (when not NULL), one object a job, the
 * summary of statuses and the names of the jobs that failed it.
 * *failed is set when the gate did not pass.  The caller owns the result.
 */
cJSON *gate_section(const struct gate *g, const char *spec, long long started_ms,
    long long duration_ms, int *failed);

#endif
