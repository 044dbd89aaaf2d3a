/*
 * rollout: one ci-canary stage, from the spec to the verdict.
 *
 * The rollout walks the steps: set the canary's weight, then measure
 * every interval until the step's pause has passed and the canary has
 * served min_requests; too little traffic extends the step (up to
 * max_extend, the pause by default) and then pauses the rollout (exit 3),
 * never passes it.  Failed measurements count up to failure_limit; a
 * critical one (canary DOWN, error budget gone, a metric marked critical)
 * aborts at once.  Abort puts all traffic on stable before anything else
 * is done and measures how long that took (rollback_ms).  A step of
 * weight 100 promotes: the slots swap roles and the state says so.
 *
 * Every decision is saved (rollout/state.h) before it is acted on, so
 * kill -9 and a re-run resume at the same step with the same deadline;
 * the load balancer's weight is read back and re-applied if it differs.
 * SIGINT/SIGTERM save and return EX_TEMP, or abort first with
 * abort_on_signal.
 */
#ifndef CI_ROLLOUT_ROLLOUT_H
#define CI_ROLLOUT_ROLLOUT_H

#include <stdio.h>
#include <cJSON.h>

#include "core/log.h"
#include "core/stage.h"
#include "rollout/spec.h"

enum canary_action { CANARY_RUN, CANARY_PROMOTE, CANARY_ABORT };

struct canary_cmd {
	struct rollout_spec spec;
	const char *image;		/* --image, else from the document */
	const char *state_dir;		/* $CI_STATE_DIR or .ci-state */
	int action;			/* enum canary_action */
	int abort_on_signal;
	int ask;			/* may ask for approval on the terminal */
	const char *report;		/* --report FILE.svg, or NULL */
	const char *ledger;		/* CI_LEDGER git:REMOTE: the lease runners share */
	int dashboard;			/* redraw a panel on stderr each interval */
	int cols;			/* the terminal's width, for the panel */
	int color;			/* ANSI colors in the panel */
};

/* The stage's work (core/stage.h). */
int canary_work(struct stage *s, void *arg, cJSON **section, struct err *e);

/* The slot the next release must be deployed to, printed on out. */
int canary_print_slot(struct canary_cmd *c, FILE *out, struct err *e);

#endif
