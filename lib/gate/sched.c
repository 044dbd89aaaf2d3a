/*
 * sched: run the gate's jobs in dependency order.  See sched.h.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/timeutil.h"
#include "gate/builtin.h"
#include "gate/sched.h"

size_t
gate_limit(const struct gate *g, long jobs)
{
	long n;

	if (jobs > 0)
		return (size_t)jobs;
	if (g->max_parallel)
		return g->max_parallel;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (size_t)n : 1;
}

static int
interrupted(const struct gate_sched *s)
{
	return s->stop && *s->stop;
}

static void
finished(const struct gate_sched *s, const struct gate *g, const struct gate_job *j)
{
	if (s->finished)
		s->finished(g, j, s->arg);
}

static int
job_start(struct gate_job *j, const struct gate_sched *s, struct err *e)
{
	struct proc_spec ps;
	char *child[GATE_CHILD_ARGC + 1];

	memset(&ps, 0, sizeof(ps));
	j->log_path = xasprintf("%s/%s.log", s->out_dir, j->name);
	ps.argv = j->argv;
	ps.shell = j->run;
	if (j->builtin) {
		if (gate_builtin_prepare(j, s->out_dir, s->self, child, e) < 0)
			return -1;
		ps.argv = child;
		ps.shell = NULL;
	}
	ps.cwd = j->cwd;
	ps.env = j->env;
	ps.log_path = j->log_path;
	ps.timeout_ms = j->timeout_ms >= 0 ? j->timeout_ms : s->timeout_ms;
	ps.grace_ms = s->grace_ms;
	j->started_wall = now_ms();
	if (proc_start(&j->proc, &ps, e) < 0)
		return -1;
	j->state = GATE_RUNNING;
	return 0;
}

/* Mark waiting jobs whose needs can no longer be met as skipped. */
static void
propagate_skips(struct gate *g, const struct gate_sched *s)
{
	size_t i, k;
	int changed;

	do {
		changed = 0;
		for (i = 0; i < g->njobs; i++) {
			struct gate_job *j = &g->jobs[i];

			if (j->state != GATE_WAITING)
				continue;
			for (k = 0; k < j->ndeps; k++) {
				struct gate_job *d = &g->jobs[j->deps[k]];

				if (d->state != GATE_DONE || gate_job_ok(d))
					continue;
				j->state = GATE_DONE;
				j->status = GATE_SKIPPED;
				if (d->status == GATE_SKIPPED)
					gate_job_reason(j, "needs '%s', which was skipped (%s)", d->name,
					    d->reason);
				else
					gate_job_reason(j, "needs '%s', which %s", d->name,
					    d->status == GATE_CANCELLED ? "was cancelled" :
					    d->status == GATE_TIMED_OUT ? "timed out" :
					    d->status == GATE_ERROR ? "could not run" : "failed");
				finished(s, g, j);
				changed = 1;
				break;
			}
		}
	} while (changed);
}

static int
deps_done(const struct gate *g, const struct gate_job *j)
{
	size_t k;

	for (k = 0; k < j->ndeps; k++)
		if (g->jobs[j->deps[k]].state != GATE_DONE)
			return 0;
	return 1;
}

static void
tick(const struct gate_sched *s, const struct gate *g)
{
	if (s->tick)
		s->tick(g, s->arg);
}

/* Start what may start; -1 with e when a job could not be started. */
static int
start_ready(struct gate *g, const struct gate_sched *s, size_t *running, struct err *e)
{
	size_t i;

	for (i = 0; i < g->njobs && *running < s->limit; i++) {
		struct gate_job *j = &g->jobs[i];

		if (j->state != GATE_WAITING || !deps_done(g, j))
			continue;
		if (job_start(j, s, e) < 0)
			return -1;
		(*running)++;
		if (s->started)
			s->started(j, s->arg);
	}
	return 0;
}

/* Whatever never started was skipped; say why. */
static void
skip_rest(struct gate *g, const struct gate_sched *s, int rc, const char *first_failure,
    const struct err *e)
{
	size_t i;

	propagate_skips(g, s);
	for (i = 0; i < g->njobs; i++) {
		struct gate_job *j = &g->jobs[i];

		if (j->state != GATE_WAITING)
			continue;
		j->state = GATE_DONE;
		j->status = GATE_SKIPPED;
		if (interrupted(s))
			gate_job_reason(j, "not started: ci-gate was interrupted");
		else if (rc < 0)
			gate_job_reason(j, "not started: %s", e->msg);
		else
			gate_job_reason(j, "not started: '%s' failed (fail-fast)",
			    first_failure ? first_failure : "?");
		finished(s, g, j);
	}
}

int
gate_run(struct gate *g, const struct gate_sched *s, struct err *e)
{
	size_t i, running = 0;
	struct proc **procs = xcalloc(g->njobs + 1, sizeof(*procs));
	struct gate_job **owners = xcalloc(g->njobs + 1, sizeof(*owners));
	pid_t *keep = xcalloc(g->njobs + 1, sizeof(*keep));
	int stop = 0, rc = 0;
	const char *first_failure = NULL;

	/* A job's descendant that leaves its process group (setsid) comes
	 * back to us when its parent dies, and ends with the job's turn. */
	proc_subreaper();
	tick(s, g);
	for (;;) {
		size_t n = 0;

		if (!stop) {
			if (start_ready(g, s, &running, e) < 0) {
				rc = -1;
				stop = 1;
			}
			tick(s, g);
		}
		for (i = 0; i < g->njobs; i++)
			if (g->jobs[i].state == GATE_RUNNING) {
				owners[n] = &g->jobs[i];
				procs[n++] = &g->jobs[i].proc;
			}
		if (n == 0)
			break;
		proc_poll(procs, n, s->tick_ms > 0 ? s->tick_ms : 1000);
		if (interrupted(s) && !stop) {
			stop = 1;
			log_warn("interrupted by %s: cancelling running jobs",
			    *s->stop == SIGINT ? "SIGINT" : "SIGTERM");
			for (i = 0; i < n; i++)
				proc_cancel(procs[i]);
		}
		for (i = 0; i < n; i++) {
			struct gate_job *j = owners[i];

			if (j->proc.state != PROC_DONE)
				continue;
			running--;
			gate_job_finished(j);
			/* What the verdict needed is taken: the tail ring goes now,
			 * for the next job's to reuse its memory. */
			proc_free(&j->proc);
			if (j->status == GATE_CANCELLED)
				gate_job_reason(j, interrupted(s) ? "cancelled: ci-gate was interrupted" :
				    "cancelled after '%s' failed (fail-fast)",
				    first_failure ? first_failure : "?");
			finished(s, g, j);
			if (!gate_job_ok(j) && j->status != GATE_CANCELLED && !first_failure) {
				size_t m;

				first_failure = j->name;
				if (!s->fail_fast)
					continue;
				stop = 1;
				for (m = 0; m < n; m++)
					if (procs[m]->state != PROC_DONE)
						proc_cancel(procs[m]);
			}
		}
		/* Orphans of the jobs that ended: none outlives its job. */
		{
			size_t k = 0;

			for (i = 0; i < n; i++)
				if (procs[i]->state != PROC_DONE)
					keep[k++] = procs[i]->pid;
			if (k < n && proc_end_adopted(keep, k, 500) > 0)
				log_verbose("ended processes the finished jobs left behind");
		}
		propagate_skips(g, s);
		tick(s, g);
	}
	if (proc_end_adopted(NULL, 0, 500) > 0)
		log_verbose("ended processes the jobs left behind");
	skip_rest(g, s, rc, first_failure, e);
	tick(s, g);
	free(procs);
	free(owners);
	free(keep);
	return rc;
}
