/*
 * dag: the needs of a gate's jobs as a graph.
 *
 * gate_resolve() turns each job's needs (names) into deps (indices),
 * refusing unknown names, self-needs and cycles (EX_USAGE_, naming the
 * cycle as "a -> c -> b -> a"); after it the graph is acyclic and the
 * scheduler (sched.h) and the plan may rely on that.
 */
#ifndef CI_GATE_DAG_H
#define CI_GATE_DAG_H

#include <stddef.h>

#include "core/buf.h"
#include "core/log.h"
#include "gate/job.h"

int gate_resolve(struct gate *g, struct err *e);

/*
 * The dry run's plan, appended to out: the jobs in steps, each job in
 * the step after the last of those it needs, at most limit at once:
 *   plan: 4 jobs in 2 steps, at most 3 at once
 *     1: lint
 *     2: test (after lint), integration (after lint)   [parallel]
 */
void gate_plan(const struct gate *g, size_t limit, struct buf *out);

#endif
