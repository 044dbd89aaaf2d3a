/*
 * job: a gate and its jobs, as the spec defines them and as they end.
 *
 * struct gate owns its jobs and every string in them.  A job is defined
 * once (spec.h fills the definition), resolved once (dag.h turns needs
 * into deps), run once (sched.h starts it and polls its proc) and then
 * judged here: gate_job_finished() turns how the process ended, and the
 * JUnit and coverage reports it left (format/report.h), into a status and
 * a reason.  The jobs array is reallocated by gate_job_add(): pointers
 * into it stay valid only until the next add.
 */
#ifndef CI_GATE_JOB_H
#define CI_GATE_JOB_H

#include <stddef.h>
#include <cJSON.h>

#include "core/proc.h"
#include "format/report.h"

#define GATE_TAIL_LINES 20	/* lines of output kept in the document */

enum gate_job_state { GATE_WAITING, GATE_RUNNING, GATE_DONE };

/* The order is the document's and the summary's: see gate_status_name(). */
enum gate_status {
	GATE_NONE, GATE_PASSED, GATE_FAILED, GATE_TIMED_OUT, GATE_CANCELLED,
	GATE_SKIPPED, GATE_ERROR, GATE_NSTATUS
};

struct gate_job {
	/* The definition (spec.h). */
	char *name;
	char *run;		/* shell text, or ... */
	char **argv;		/* ... an argv (strv) */
	char **needs;		/* names (strv) */
	size_t *deps;		/* indices of needs (dag.h) */
	size_t ndeps;
	long long timeout_ms;	/* -1: the gate's */
	char **env;		/* "KEY=VALUE" (strv) */
	char *cwd;
	int allow_failure;
	char **junit;		/* globs (strv) */
	char *builtin;		/* "secrets", "review", or NULL */
	char *bopts;		/* the built-in's options, JSON text */
	int cov_format;		/* enum cov_format; -1: no coverage */
	char *cov_path;
	double min_lines, min_branches;	/* -1: no threshold */

	/* The run (sched.h) and the verdict (gate_job_finished()). */
	int state;		/* enum gate_job_state */
	int status;		/* enum gate_status */
	struct proc proc;	/* pid -1 until started */
	char *log_path;		/* NULL once a log that failed was removed */
	char *reason;
	char *tail;
	char *io_error;		/* its log or a built-in's output could not be written */
	long long started_wall, duration_ms;
	struct junit_result jr;
	int have_junit;
	struct coverage cov;
	int have_cov;
	int cov_ok;
	char *opts_path;	/* a built-in's options, for the child */
	char *result_path;	/* a built-in's verdict, written by the child */
	cJSON *result;		/* that verdict, read back */
};

struct gate {
	struct gate_job *jobs;
	size_t njobs;
	size_t max_parallel;	/* 0: unset */
	long long timeout_ms;	/* -1: unset */
	int fail_fast;		/* -1: unset */
};

void gate_init(struct gate *g);
void gate_free(struct gate *g);

/* Add a job with defaults (the name is copied, not checked), or find one. */
struct gate_job *gate_job_add(struct gate *g, const char *name);
struct gate_job *gate_job_find(struct gate *g, const char *name);

/* Letters, digits, '_', '.', '-'; not starting with '.' or '-'; <= 100. */
int gate_job_name_valid(const char *s);

/* "passed", "timed_out", ... (static). */
const char *gate_status_name(int status);

/* The job lets its dependants run and the gate pass: it passed, or it
 * failed, timed out or was in error while allowed to fail. */
int gate_job_ok(const struct gate_job *j);
/* It failed, timed out or was in error (allowed or not). */
int gate_job_bad(const struct gate_job *j);

void gate_job_reason(struct gate_job *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The job's process has ended: set state, duration, tail, status and
 * reason, reading a built-in's verdict (builtin.h) or the job's JUnit
 * and coverage reports (format/report.h). */
void gate_job_finished(struct gate_job *j);

#endif
