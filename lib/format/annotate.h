/*
 * annotate: what CI servers show next to a run, from plain inputs.
 *
 * GitHub Actions workflow commands (an annotation is one line on the
 * log, "::error file=F,line=N,col=N,title=T::MESSAGE"), escaped by
 * GitHub's rules: '%', CR and LF in the message, and also ':' and ','
 * in property values, are percent-encoded, so that no text (a file name,
 * a log line) can end the command early or start another one.  And the
 * step summary: Markdown appended to the file $GITHUB_STEP_SUMMARY
 * names, here a heading and one table.  Nothing here knows a gate job:
 * callers pass strings, all borrowed for the duration of the call.
 */
#ifndef CI_ANNOTATE_H
#define CI_ANNOTATE_H

#include <stddef.h>

#include "core/buf.h"
#include "core/log.h"

/* GitHub shows at most this many error (and warning) annotations a step. */
#define ANNOTATE_GITHUB_MAX 10

enum annotate_level { ANNOTATE_NOTICE, ANNOTATE_WARNING, ANNOTATE_ERROR };

struct annotation {
	int level;		/* enum annotate_level */
	const char *file;	/* NULL: not about a file */
	long line, col;		/* 1-based; 0: not given (with file only) */
	const char *title;	/* NULL: none */
	const char *message;	/* may hold newlines */
};

/* Append the workflow command for a, newline-terminated, to b. */
void annotate_github(struct buf *b, const struct annotation *a);

/* Append s escaped as a workflow command's data (property: as a
 * property value). */
void annotate_escape(struct buf *b, const char *s, int property);

/*
 * Append to b a Markdown section: "### heading", then a table with the
 * ncols column names of cols and nrows rows of cells (row-major, NULL
 * as empty).  Cells are escaped: '|' as "\|", line breaks as spaces.
 */
void annotate_summary_render(struct buf *b, const char *heading, const char *const *cols,
    size_t ncols, const char *const *cells, size_t nrows);

/* The same, appended to the file path (EX_IOERR_ when it cannot be). */
int annotate_summary(const char *path, const char *heading, const char *const *cols,
    size_t ncols, const char *const *cells, size_t nrows, struct err *e);

#endif
