/*
 * smoke/report: what a smoke run reports, in every form ci-smoke writes:
 * the smoke section of the pipeline document (entries, timings, p50/p95/
 * p99 with --repeat, the verdict and its reason), TAP, JUnit (through
 * format/junit) and the human description of a failed entry that stderr,
 * TAP and JUnit share.  Results are read, never changed, except by
 * apply_p99(), which fails entries over the --max-p99 bound.
 */
#ifndef CI_SMOKE_REPORT_H
#define CI_SMOKE_REPORT_H

#include <stdio.h>
#include <cJSON.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/pipeline.h"
#include "smoke/run.h"
#include "smoke/smoke.h"

struct counts {
	int entries, passed, failed, skipped, not_run;
};

void count(const struct smoke_result *r, struct counts *c);

/* Fail every entry whose p99 duration is over max_ms. */
void apply_p99(struct smoke_result *r, long long max_ms);

/* The smoke section (caller owns it); *failed tells the verdict. */
cJSON *smoke_json(const struct smoke_result *r, const struct smoke_cmd *o,
    const struct pipeline *p, long long started, long long dur, const cJSON *wait,
    int *failed);

/* The story of a failed entry: request, status, the asserts that failed. */
void describe_failure(struct buf *b, const struct smoke_file *f, const struct smoke_entry *en);

/* TAP text to path, or to out when path is NULL or "-". */
int tap_emit(const char *path, FILE *out, const char *t, struct err *e);
int write_tap(const struct smoke_result *r, const char *path, FILE *out, struct err *e);
int write_junit(const struct smoke_result *r, const char *path, long long dur, struct err *e);

#endif
