/*
 * state: what a rollout remembers between runs of ci-canary, so that a
 * crash, a kill -9 or an approval pause resumes at the same step with the
 * same deadline.
 *
 * Files, in DIR/canary/ (DIR is $CI_STATE_DIR, default .ci-state):
 *   APP.json          the snapshot, one JSON object, replaced atomically
 *                     (temp file, fsync, rename, directory fsync) after
 *                     every decision;
 *   APP.events.jsonl  the journal: one JSON object a line, appended and
 *                     fsynced (weight changes, measurements, verdicts);
 *                     a reader skips a torn last line;
 *   APP.lock          an fcntl lock held while a rollout of APP runs.
 *
 * The snapshot outlives the rollout: after a promotion it records which
 * slot is stable, which is how the next release learns its slot.
 * struct rollout_state owns its strings and the section tree.
 */
#ifndef CI_ROLLOUT_STATE_H
#define CI_ROLLOUT_STATE_H

#include <cJSON.h>

#include "core/log.h"

struct rollout_state {
	char *app;
	char *image;		/* the release being rolled out */
	char *status;		/* running, paused, passed, failed */
	char *stable_slot;	/* the server carrying the stable release */
	char *canary_slot;	/* the server receiving the release */
	int step;		/* index of the current step */
	long long step_started_ms;	/* wall clock */
	long long step_deadline_ms;	/* wall clock: pause end, extensions included */
	long long step_pause_end_ms;	/* wall clock: the pause's own end */
	int failures;		/* failed measurements so far */
	int consecutive_errors;	/* unreadable measurements in a row */
	int approved;		/* --promote granted the pending approval */
	char *reason;		/* why paused or failed */
	cJSON *section;		/* the canary section built so far */
	/* Not saved. */
	char *dir;		/* DIR/canary */
	int lock_fd;
};

/* Fill the paths; take the lock (EX_TEMP naming the holder's file when
 * another rollout of app runs) when lock is set. */
int rollout_state_open(struct rollout_state *st, const char *state_dir, const char *app,
    int lock, struct err *e);

/* Read the snapshot: 1 when there is one, 0 when none, -1 when it cannot
 * be read (a damaged snapshot is an error naming the file, never ignored). */
int rollout_state_load(struct rollout_state *st, struct err *e);

/* Write the snapshot atomically. */
int rollout_state_save(const struct rollout_state *st, struct err *e);

/* Append one event ({"at": RFC 3339 ms, "event": NAME, ...fields}), taken. */
int rollout_state_event(const struct rollout_state *st, const char *event, cJSON *fields,
    struct err *e);

/* Forget the rollout but keep the slots (for the next one). */
void rollout_state_reset(struct rollout_state *st, const char *image);

void rollout_state_free(struct rollout_state *st);

#endif
