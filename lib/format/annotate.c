/*
 * annotate: GitHub workflow commands and the step summary.  See annotate.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "format/annotate.h"

static const char *const level_names[] = { "notice", "warning", "error" };

void
annotate_escape(struct buf *b, const char *s, int property)
{
	for (; s && *s; s++) {
		if (*s == '%')
			buf_adds(b, "%25");
		else if (*s == '\r')
			buf_adds(b, "%0D");
		else if (*s == '\n')
			buf_adds(b, "%0A");
		else if (property && *s == ':')
			buf_adds(b, "%3A");
		else if (property && *s == ',')
			buf_adds(b, "%2C");
		else
			buf_addc(b, *s);
	}
}

void
annotate_github(struct buf *b, const struct annotation *a)
{
	int level = a->level >= ANNOTATE_NOTICE && a->level <= ANNOTATE_ERROR ? a->level :
	    ANNOTATE_ERROR;
	const char *sep = " ";

	buf_addf(b, "::%s", level_names[level]);
	if (a->file) {
		buf_adds(b, " file=");
		annotate_escape(b, a->file, 1);
		if (a->line > 0)
			buf_addf(b, ",line=%ld", a->line);
		if (a->line > 0 && a->col > 0)
			buf_addf(b, ",col=%ld", a->col);
		sep = ",";
	}
	if (a->title) {
		buf_addf(b, "%stitle=", sep);
		annotate_escape(b, a->title, 1);
	}
	buf_adds(b, "::");
	annotate_escape(b, a->message, 0);
	buf_addc(b, '\n');
}

static void
md_cell(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			buf_adds(b, "\\|");
		else if (*s == '\n' || *s == '\r')
			buf_addc(b, ' ');
		else
			buf_addc(b, *s);
	}
}

static void
md_row(struct buf *b, const char *const *cells, size_t n)
{
	size_t i;

	buf_adds(b, "|");
	for (i = 0; i < n; i++) {
		buf_adds(b, " ");
		md_cell(b, cells[i]);
		buf_adds(b, " |");
	}
	buf_addc(b, '\n');
}

void
annotate_summary_render(struct buf *b, const char *heading, const char *const *cols,
    size_t ncols, const char *const *cells, size_t nrows)
{
	size_t i;

	buf_adds(b, "### ");
	md_cell(b, heading);
	buf_adds(b, "\n\n");
	md_row(b, cols, ncols);
	buf_adds(b, "|");
	for (i = 0; i < ncols; i++)
		buf_adds(b, "---|");
	buf_addc(b, '\n');
	for (i = 0; i < nrows; i++)
		md_row(b, cells + i * ncols, ncols);
	buf_addc(b, '\n');
}

int
annotate_summary(const char *path, const char *heading, const char *const *cols,
    size_t ncols, const char *const *cells, size_t nrows, struct err *e)
{
	struct buf b = BUF_INIT;
	FILE *fp;
	int rc = 0;

	fp = fopen(path, "a");
	if (!fp)
		return err_set(e, EX_IOERR_, "cannot append to '%s': %s", path, strerror(errno));
	annotate_summary_render(&b, heading, cols, ncols, cells, nrows);
	if (fwrite(b.data, 1, b.len, fp) != b.len || fflush(fp) == EOF)
		rc = err_set(e, EX_IOERR_, "cannot write '%s': %s", path, strerror(errno));
	if (fclose(fp) == EOF && rc == 0)
		rc = err_set(e, EX_IOERR_, "cannot write '%s': %s", path, strerror(errno));
	buf_free(&b);
	return rc;
}
