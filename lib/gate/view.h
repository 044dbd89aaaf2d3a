/*
 * view: how a running gate looks on stderr.
 *
 * Three faces, chosen once by gate_view_init(): on a terminal (TERM set
 * and not "dumb") a block of status lines, one a job, redrawn in place;
 * under GitHub Actions (GITHUB_ACTIONS=true) each job's log in a
 * ::group:: and its failure as an annotation (format/annotate.h), at most
 * ANNOTATE_GITHUB_MAX of them, then the step summary; otherwise a plain
 * line when a job starts and ends, with the last lines of a failure.
 * The callbacks match struct gate_sched's (sched.h), with the view as arg.
 */
#ifndef CI_GATE_VIEW_H
#define CI_GATE_VIEW_H

#include "gate/job.h"

#define GATE_VIEW_MAX_LOG (1u << 20)	/* a job's log shown in its group */

struct gate_view {
	int tty;		/* live status block */
	int github;		/* GitHub Actions workflow commands */
	int quiet;		/* -q: annotations only */
	int drawn;		/* lines of the live block on screen */
	int annotations;	/* error and warning annotations written */
};

/* From the environment, isatty(2) and the log level. */
void gate_view_init(struct gate_view *v);

/* How long the scheduler should wait between redraws, in ms. */
int gate_view_tick_ms(const struct gate_view *v);

void gate_view_started(const struct gate_job *j, void *view);
void gate_view_finished(const struct gate *g, const struct gate_job *j, void *view);
void gate_view_draw(const struct gate *g, void *view);

/* The run is over: leave the last block on screen and, under GitHub
 * Actions, append the table of jobs to $GITHUB_STEP_SUMMARY (a warning
 * when it cannot be written); status is the gate's. */
void gate_view_end(struct gate_view *v, const struct gate *g, const char *status);

#endif
