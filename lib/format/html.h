/*
 * html: the pipeline document as one page people look at (--html FILE).
 *
 * html_report_render() appends to b a self-contained HTML5 page: a header
 * (app, version, commit, the pipeline's verdict, total duration), the
 * stages on a timeline, then one section per stage the document holds, in
 * pipeline order: gate (jobs, coverage), build (the image), push (where
 * it went), deploy (an object keyed by environment, shown member by
 * member), smoke (the requests), canary (the weights over time and each
 * metric's canary, stable or baseline values against its thresholds, as
 * inline SVG; the verdict), rollback (traffic, timeline, alerts, ledger,
 * block), then any other stage that "stages" names, shown generically.
 *
 * Invariants: the document is borrowed and never changed, and may have any
 * shape: a missing section is left out, a member of the wrong type counts
 * as absent, unknown members are ignored.  Every string taken from the
 * document is escaped (format/xml.h) before it reaches the page, in text
 * and in attributes alike; attributes otherwise hold only our own class
 * names and numbers.  The page loads nothing: no script, no link to a
 * stylesheet, font or image, and no URL in a src or href attribute.  A
 * status is always a word and a symbol as well as a colour.  A table
 * stops at HTML_MAX_ROWS rows and says how many it left out.
 *
 * html_report_write() renders the page and writes it to path atomically
 * (core/fsutil.h: a temp file beside it, fsync, rename), making missing
 * parent directories.  Errors are EX_IOERR_, naming the path: the file
 * cannot be written, or the page would pass HTML_CAP bytes.
 */
#ifndef CI_HTML_H
#define CI_HTML_H

#include <cJSON.h>

#include "core/buf.h"
#include "core/log.h"

#define HTML_CAP	(64u << 20)	/* bytes of a page, at most */
#define HTML_MAX_ROWS	500		/* rows of one table, at most */

void html_report_render(struct buf *b, const cJSON *doc);

int html_report_write(const cJSON *doc, const char *path, struct err *e);

#endif
