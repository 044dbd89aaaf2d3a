/*
 * review: the code-review gate, judged from git alone.
 *
 * Four conditions on the change HEAD brings over a base (by default
 * origin/main, else main):
 *   approvals     distinct reviewers named in trailers (Reviewed-by,
 *                 Approved-by, Acked-by) of the commits in base..HEAD, or
 *                 of the tip only; an author of the change does not count;
 *   up to date    the base is an ancestor of HEAD;
 *   no conflicts  git merge-tree --write-tree merges them cleanly;
 *   signed        every commit has a good signature (off by default).
 * Revisions are checked with git rev-parse --verify before any other use,
 * because git 2.39's merge-tree exits on a bad revision as on a conflict.
 * Each condition that fails is reported on its own, in plain words.
 * A base that is not there, or history a shallow clone lacks, is an error
 * (the gate cannot judge), not a failure.  Results own their strings.
 */
#ifndef CI_REVIEW_H
#define CI_REVIEW_H

#include <cJSON.h>

#include "core/buf.h"
#include "core/log.h"

#define REVIEW_DEFAULT_APPROVALS 2

struct review_opts {
	char *base;		/* NULL: origin/main, falling back to main */
	char *head;		/* NULL: HEAD */
	int approvals;
	char **trailers;	/* NULL: Reviewed-by, Approved-by, Acked-by */
	int require_up_to_date;
	int require_no_conflicts;
	int require_signed;
	int stale_approvals;	/* 1: any commit of the range; 0: the tip only */
};

void review_opts_init(struct review_opts *o);
/* As secrets_opts_parse(): e->msg "KEY: what", *bad the item. */
int review_opts_parse(struct review_opts *o, const cJSON *obj,
    const char *const *ignore, const cJSON **bad, struct err *e);
void review_opts_free(struct review_opts *o);

struct review_result {
	int passed;
	char *reason;		/* failed conditions joined by "; ", or NULL */
	cJSON *json;		/* the "review" object of the job */
	struct buf notes;	/* human lines for the job's log */
};

/* Judge the change.  Returns 0 with r filled (passed or not), or -1 with
 * e set when it cannot be judged (no git, bad base, shallow history). */
int review_run(const struct review_opts *o, struct review_result *r, struct err *e);
void review_result_free(struct review_result *r);

/* "Reviewed-by: Ana <ANA@example.com>" -> key "Reviewed-by", identity
 * "ana@example.com" (the e-mail address, else the value lowercased).
 * Returns 0, or -1 when line is not a trailer.  Strings are the caller's. */
int review_trailer(const char *line, char **key, char **value, char **identity);

#endif
