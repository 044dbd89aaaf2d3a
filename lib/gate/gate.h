/*
 * gate: the gate section ci-gate adds to the pipeline document
 * (ci-pipeline(5), ci-gate(1) "The gate section").
 */
#ifndef CI_GATE_H
#define CI_GATE_H

#include <cJSON.h>

#include "gate/job.h"

/*
 * The section of a gate that ran: status passed or failed (and why),
 * started_at, duration_ms, spec (when not NULL), one object a job, the
 * summary of statuses and the names of the jobs that failed it.
 * *failed is set when the gate did not pass.  The caller owns the result.
 */
cJSON *gate_section(const struct gate *g, const char *spec, long long started_ms,
    long long duration_ms, int *failed);

#endif
