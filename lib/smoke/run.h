/*
 * smoke/run: one ci-smoke stage from options to verdict: load and check
 * the Hurl files, build the variables (environment, then the document's
 * push.reference and run.source.version, then -v/--secret/--variables-file
 * in command-line order), wait for the service, run the files, and write
 * the section and the reports (TAP, JUnit).  The command fills struct
 * smoke_cmd from its options and hands smoke_work() to the stage skeleton
 * (core/stage.h); the strings it points to are borrowed.
 */
#ifndef CI_SMOKE_RUN_H
#define CI_SMOKE_RUN_H

#include <stdio.h>
#include <cJSON.h>

#include "core/log.h"
#include "core/stage.h"

#define SMOKE_DEFAULT_MAX_TIME_MS 30000
#define SMOKE_DEFAULT_WAIT_MS 60000

/* A -v, --secret or --variables-file, in command-line order. */
struct smoke_varg {
	int kind;		/* 'v', 's' (secret), 'f' (file) */
	const char *arg;
};

struct smoke_cmd {
	struct smoke_varg *vargs;
	size_t nvargs;
	long jobs;
	long repeat;
	long long retry;
	long long retry_interval_ms;
	long long connect_timeout_ms;
	long long max_time_ms;
	long long max_body;		/* --max-body; 0: the default */
	long long max_p99_ms;		/* -1: no gate */
	int insecure;
	const char *ca_file;
	int continue_on_error;
	const char *wait_url;
	long long wait_timeout_ms;
	int tap;			/* 1: --tap */
	const char *tap_file;		/* NULL or "-": tap_out, instead of the document */
	FILE *tap_out;			/* where TAP goes without a file (the command's standard output) */
	const char *junit;
	char **files;
	size_t nfiles;
	char *const *environ;		/* the environment variables come from */
};

/* The defaults of ci-smoke(1). */
void smoke_cmd_init(struct smoke_cmd *c);
void smoke_cmd_free(struct smoke_cmd *c);
void smoke_cmd_add_var(struct smoke_cmd *c, int kind, const char *arg);

/* Does TAP take the place of the document on standard output? */
int smoke_cmd_tap_replaces_document(const struct smoke_cmd *c);

/* The stage's work (stage_work): arg is the struct smoke_cmd. */
int smoke_work(struct stage *st, void *arg, cJSON **section, struct err *e);
/* The stage was skipped: TAP says so. */
void smoke_skipped(struct stage *st, void *arg, const char *failed_stage);

/* --dry-run: parse and check the files, print the entries to out. */
int smoke_dry_run(const struct smoke_cmd *c, FILE *out, struct err *e);

#endif
