/*
 * dag: needs as a graph; cycles refused.  See dag.h.
 */
#include <stdlib.h>
#include <string.h>

#include "gate/dag.h"

/* needs -> deps, without duplicates; unknown names and self-needs refused. */
static int
link_needs(struct gate *g, struct gate_job *j, struct err *e)
{
	size_t k, n = strv_len(j->needs);

	j->deps = xcalloc(n ? n : 1, sizeof(*j->deps));
	j->ndeps = 0;
	for (k = 0; k < n; k++) {
		struct gate_job *d = gate_job_find(g, j->needs[k]);
		size_t m;

		if (!d)
			return err_set(e, EX_USAGE_, "job '%s' needs '%s', which is not defined",
			    j->name, j->needs[k]);
		if (d == j)
			return err_set(e, EX_USAGE_, "job '%s' needs itself", j->name);
		for (m = 0; m < j->ndeps; m++)
			if (j->deps[m] == (size_t)(d - g->jobs))
				break;
		if (m == j->ndeps)
			j->deps[j->ndeps++] = (size_t)(d - g->jobs);
	}
	return 0;
}

/* The cycle through d, from the DFS stack, as "a -> c -> b -> a". */
static int
cycle_error(const struct gate *g, const size_t *stack, size_t top, size_t d, struct err *e)
{
	struct buf cyc = BUF_INIT;
	size_t s;

	for (s = 0; s <= top && stack[s] != d; s++)
		;
	for (; s <= top; s++)
		buf_addf(&cyc, "%s -> ", g->jobs[stack[s]].name);
	buf_adds(&cyc, g->jobs[d].name);
	err_set(e, EX_USAGE_, "the needs form a cycle: %s", buf_str(&cyc));
	buf_free(&cyc);
	return -1;
}

/* Iterative DFS from root: colour 0 white, 1 on the stack, 2 done. */
static int
visit(const struct gate *g, size_t root, int *color, size_t *stack, size_t *next,
    struct err *e)
{
	size_t top = 0;

	stack[0] = root;
	next[0] = 0;
	color[root] = 1;
	for (;;) {
		const struct gate_job *j = &g->jobs[stack[top]];

		if (next[top] < j->ndeps) {
			size_t d = j->deps[next[top]++];

			if (color[d] == 1)
				return cycle_error(g, stack, top, d, e);
			if (color[d] == 0) {
				color[d] = 1;
				stack[++top] = d;
				next[top] = 0;
			}
			continue;
		}
		color[stack[top]] = 2;
		if (top == 0)
			return 0;
		top--;
	}
}

int
gate_resolve(struct gate *g, struct err *e)
{
	size_t i, *stack, *next;
	int *color, rc = 0;

	for (i = 0; i < g->njobs; i++)
		if (link_needs(g, &g->jobs[i], e) < 0)
			return -1;
	color = xcalloc(g->njobs + 1, sizeof(*color));
	stack = xcalloc(g->njobs + 1, sizeof(*stack));
	next = xcalloc(g->njobs + 1, sizeof(*next));
	for (i = 0; i < g->njobs && rc == 0; i++)
		if (!color[i])
			rc = visit(g, i, color, stack, next, e);
	free(stack);
	free(next);
	free(color);
	return rc;
}

void
gate_plan(const struct gate *g, size_t limit, struct buf *out)
{
	int *level = xcalloc(g->njobs + 1, sizeof(*level));
	int max = 0, changed = 1, l;
	size_t i, k;

	/* Longest path from a root; the graph is acyclic by now. */
	while (changed) {
		changed = 0;
		for (i = 0; i < g->njobs; i++)
			for (k = 0; k < g->jobs[i].ndeps; k++)
				if (level[i] < level[g->jobs[i].deps[k]] + 1) {
					level[i] = level[g->jobs[i].deps[k]] + 1;
					changed = 1;
				}
	}
	for (i = 0; i < g->njobs; i++)
		if (level[i] > max)
			max = level[i];
	buf_addf(out, "plan: %zu job%s in %d step%s, at most %zu at once\n", g->njobs,
	    g->njobs == 1 ? "" : "s", max + 1, max ? "s" : "", limit);
	for (l = 0; l <= max; l++) {
		int n = 0;

		buf_addf(out, "  %d:", l + 1);
		for (i = 0; i < g->njobs; i++) {
			const struct gate_job *j = &g->jobs[i];

			if (level[i] != l)
				continue;
			buf_addf(out, "%s %s", n++ ? "," : "", j->name);
			if (!j->ndeps)
				continue;
			buf_adds(out, " (after");
			for (k = 0; k < j->ndeps; k++)
				buf_addf(out, "%s %s", k ? "," : "", g->jobs[j->deps[k]].name);
			buf_adds(out, ")");
		}
		buf_addf(out, "%s\n", n > 1 ? "   [parallel]" : "");
	}
	free(level);
}
