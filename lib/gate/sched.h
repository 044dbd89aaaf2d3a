/*
 * sched: run a resolved gate (dag.h), its jobs as child processes
 * (core/proc.h) in dependency order, at most limit at once.
 *
 * A job starts once every job it needs has ended ok (job.h); a job whose
 * needs can no longer be met is skipped, naming the cause.  With
 * fail_fast the first failure starts nothing new and cancels what runs;
 * *stop (a signal) cancels everything.  Whatever never started ends
 * skipped, so every job is GATE_DONE on return.  The callbacks, all
 * optional, let a view (view.h) follow along; the scheduler itself
 * prints nothing but the one warning that it was interrupted.
 */
#ifndef CI_GATE_SCHED_H
#define CI_GATE_SCHED_H

#include <signal.h>
#include <stddef.h>

#include "core/log.h"
#include "gate/job.h"

#define GATE_DEFAULT_TIMEOUT_MS (60LL * 60 * 1000)

struct gate_sched {
	const char *out_dir;		/* job logs; a built-in's files */
	const char *self;		/* our executable, for built-in children */
	size_t limit;			/* jobs at once, >= 1 */
	long long timeout_ms;		/* a job's unless it sets one; 0: none */
	long long grace_ms;		/* SIGTERM to SIGKILL */
	int fail_fast;
	const volatile sig_atomic_t *stop;	/* non-zero: cancel (may be NULL) */

	void (*started)(const struct gate_job *j, void *arg);
	void (*finished)(const struct gate *g, const struct gate_job *j, void *arg);
	void (*tick)(const struct gate *g, void *arg);	/* after each poll */
	int tick_ms;			/* how long a poll waits; 0: 1000 */
	void *arg;
};

/*
 * The jobs at once: jobs (-j) when > 0, else the spec's max_parallel,
 * else the number of online processors.
 */
size_t gate_limit(const struct gate *g, long jobs);

/* Run every job.  Returns 0, or -1 with e set when a job could not be
 * started (the rest are then skipped, and the verdicts still stand). */
int gate_run(struct gate *g, const struct gate_sched *s, struct err *e);

#endif
