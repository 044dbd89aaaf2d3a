/*
 * report: what test tools leave behind, read back.
 *
 * JUnit XML (as written by Jest, pytest, Maven Surefire, go-junit-report:
 * <testsuites> or a bare <testsuite>, nested suites, <testcase> with
 * <failure>, <error>, <skipped>) and coverage reports in three formats:
 * lcov .info (LF/LH, BRF/BRH, else the DA and BRDA records), Cobertura XML
 * (the root <coverage> element's lines-valid/lines-covered/branches-valid/
 * branches-covered, falling back to line-rate/branch-rate) and Istanbul's
 * coverage-summary.json (total.lines / total.branches).  A malformed
 * report is an error naming the file and the place (line, or key), never
 * a guess.
 *
 * Coverage reports are read as tools leave them: lines of captured output
 * around the records (make's "Entering directory", a tool's banner) are
 * skipped, and so are elements and keys we do not know; each kind is
 * named once in the coverage's warnings, with its place, never an error.
 * A report with no branch to count has no branch data (branches_pct -1),
 * not 100%.  Results own their strings; free them with the matching
 * _free().
 */
#ifndef CI_REPORT_H
#define CI_REPORT_H

#include <stddef.h>

#include "core/log.h"
#include "format/junit.h"

struct junit_case {
	char *suite;		/* enclosing testsuite name, may be "" */
	char *classname;	/* may be "" */
	char *name;
	double time_s;
	int status;		/* enum junit_status */
	char *message;		/* failure/error message attribute or text, may be NULL */
};

struct junit_result {
	int tests, failures, errors, skipped;
	struct junit_case *cases;
	size_t ncases, alloc;
	int files;		/* files parsed into this result */
};

/* Parse one JUnit XML file and add its cases to r (which may already hold
 * others).  Counts come from the cases themselves, not from attributes. */
int junit_parse_file(const char *path, struct junit_result *r, struct err *e);
int junit_parse_text(const char *text, size_t len, const char *name,
    struct junit_result *r, struct err *e);
void junit_result_free(struct junit_result *r);

enum cov_format { COV_LCOV, COV_COBERTURA, COV_ISTANBUL };

#define COV_WARNINGS_MAX 10	/* then one saying there are more */

struct coverage {
	int format;
	long long lines_total, lines_hit;
	long long branches_total, branches_hit;
	double lines_pct;	/* 0..100; 100 when there are no lines */
	double branches_pct;	/* 0..100; -1 when the report has no branch data */
	char **warnings;	/* strv (core/buf.h) or NULL: "FILE:LINE: what was skipped" */
};

/* Parse a coverage report of the given format (code EX_USAGE_ on bad
 * content, EX_IOERR_ when unreadable). */
int coverage_parse_file(const char *path, int format, struct coverage *c, struct err *e);
int coverage_parse_text(const char *text, size_t len, const char *name, int format,
    struct coverage *c, struct err *e);
/* Free the warnings (c is left zeroed). */
void coverage_free(struct coverage *c);
/* "lcov", "cobertura", "istanbul" -> enum, -1 when unknown. */
int coverage_format(const char *name);
const char *coverage_format_name(int format);

#endif
