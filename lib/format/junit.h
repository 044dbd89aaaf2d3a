/*
 * junit: the one JUnit XML writer, for any command's results.
 *
 * Callers convert what they ran (gate jobs, Hurl entries, canary steps)
 * into plain suites and cases; this module knows nothing of them.  The
 * output is what CI servers read (Jenkins, GitLab, GitHub report
 * actions): <testsuites> with totals, one <testsuite> per suite with its
 * counts (computed here from the cases, so they always agree), one
 * <testcase> per case with <failure>, <error> or <skipped> carrying the
 * message as an attribute and the detail (a log tail, a diff) as text.
 * Text is escaped for XML; characters XML 1.0 cannot hold are replaced.
 * All strings are borrowed for the duration of the call.
 */
#ifndef CI_JUNIT_H
#define CI_JUNIT_H

#include <stddef.h>

#include "core/buf.h"
#include "core/log.h"

enum junit_status { JUNIT_PASSED, JUNIT_FAILED, JUNIT_ERROR, JUNIT_SKIPPED };

struct junit_tcase {
	const char *classname;
	const char *name;
	double time_s;
	enum junit_status status;
	const char *message;	/* NULL: none */
	const char *detail;	/* NULL: none */
};

struct junit_suite {
	const char *name;
	double time_s;
	const struct junit_tcase *cases;
	size_t ncases;
};

/* Append the XML document to b. */
void junit_render(struct buf *b, const char *name, double time_s,
    const struct junit_suite *suites, size_t nsuites);

/* Render and write it to path atomically (parent directories made). */
int junit_write(const char *path, const char *name, double time_s,
    const struct junit_suite *suites, size_t nsuites, struct err *e);

#endif
