/*
 * pipeline: the JSON document every tool reads on stdin and writes on
 * stdout (specified in ci-pipeline(5)).
 *
 * A document is an object {"ci": 1, "run": {...}, "status": ..., "stages":
 * [...], <one section per stage>, <anything users add>}.  A tool reads it
 * (or starts one), replaces only its own section and its entry in "stages",
 * and writes it back compact on one line; every other key is kept, in
 * order, byte for byte where numbers are concerned (see json.h).
 * struct pipeline owns doc.
 *
 * A stage's name is the key of its section, doc[NAME]; or KEY.SUB, split
 * at the first dot, for a stage that runs once per target: its section
 * is the member SUB of the object doc[KEY] ("deploy.staging" is
 * doc.deploy.staging), and the stages of one KEY share that object.
 */
#ifndef CI_PIPELINE_H
#define CI_PIPELINE_H

#include <stdio.h>
#include <cJSON.h>

#include "core/log.h"

#define PIPELINE_VERSION 1
#define PIPELINE_MAX_BYTES (32u << 20)

struct pipeline {
	cJSON *doc;
	int started;		/* 1: started here, 0: read from input */
};

/*
 * Read a document from fd.  Returns 1 when a document was read, 0 when the
 * input holds none (only whitespace), -1 on invalid input with e->code
 * EX_DOC and a message naming the byte offset or key.
 */
/* The state directory the tools keep between runs (the block, the
 * ledger, rollouts): $CI_STATE_DIR, else STATE_DIR_DEFAULT in the current
 * directory (borrowed from the environment, or static). */
#define STATE_DIR_DEFAULT ".ci-state"
const char *state_dir(void);

int pipeline_read(struct pipeline *p, int fd, const char *name, struct err *e);

/* Check that doc has the shape ci-pipeline(5) requires. */
int pipeline_validate(const cJSON *doc, struct err *e);

/*
 * Start a new document: run.id, run.started_at and run.source from git
 * (repository, commit, ref; version when non-NULL).  Outside git the source
 * is empty and a warning says so.
 */
int pipeline_start(struct pipeline *p, const char *version, struct err *e);

/*
 * Get the document every tool starts from (ci-pipeline(5)): read it from
 * stdin unless read_stdin is 0 (--new, or stdin carries a password) or
 * stdin is a terminal, else start a new one.  Empty input is a new
 * document only for the first stage; for the others it means the stage
 * before died, and is refused with EX_DOC.
 */
int pipeline_open(struct pipeline *p, int read_stdin, int first_stage,
    const char *version, struct err *e);

/*
 * When an upstream stage failed, add the skipped section for stage name,
 * say so on stderr ("not VERB: upstream stage 'X' failed") and return 1;
 * else return 0.  The caller then writes the document and exits 1.
 */
int pipeline_skip_upstream(struct pipeline *p, const char *name, const char *verb);

/* The section of stage name in doc: doc[name], or doc[KEY][SUB] for a
 * name KEY.SUB; NULL when there is none (borrowed). */
cJSON *pipeline_section(const cJSON *doc, const char *name);

/* The name of the first stage whose status is failed or error, or NULL
 * when the pipeline has not failed (borrowed). */
const char *pipeline_failed_stage(const struct pipeline *p);

/*
 * Put section (taken) where stage name's goes (pipeline_section()),
 * replacing one already there in place (a KEY that is not an object
 * becomes one), and add or replace {"name", "status", "started_at", "duration_ms"}
 * in "stages".  Top-level status becomes "failed" when the section's status
 * is failed or error.
 */
void pipeline_set_section(struct pipeline *p, const char *name, cJSON *section,
    long long started_wall_ms, long long duration_ms);

/* The upstream failed: add a skipped section naming the failed stage. */
void pipeline_skip(struct pipeline *p, const char *name, const char *failed_stage);

/* Write compact, newline-terminated, and check the stream (EX_IOERR_). */
int pipeline_write(const struct pipeline *p, FILE *out, struct err *e);

void pipeline_free(struct pipeline *p);

#endif
