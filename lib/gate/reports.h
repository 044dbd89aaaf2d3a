/*
 * reports: the files a gate that ran leaves for other tools.
 *
 * JUnit XML of the jobs (format/junit.h): a suite a job; a job that read
 * JUnit reports contributes their cases, plus one case (class "ci-gate")
 * for the job itself when it failed although its cases all passed; any
 * other job is that one case alone, its message the reason and its text
 * the tail.  And the findings of every secrets job as SARIF 2.1.0 and as
 * GitLab Code Quality JSON (format/sarif.h).  Files are written
 * atomically, missing directories made; errors are EX_IOERR_.
 */
#ifndef CI_GATE_REPORTS_H
#define CI_GATE_REPORTS_H

#include "core/log.h"
#include "gate/job.h"

int gate_write_junit(const struct gate *g, const char *path, long long duration_ms,
    struct err *e);

/* Either path may be NULL (not written). */
int gate_write_findings(const struct gate *g, const char *sarif_path, const char *cq_path,
    struct err *e);

#endif
