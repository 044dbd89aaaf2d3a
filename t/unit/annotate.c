/* Tests for lib/format/annotate.c: GitHub workflow commands and the
 * step summary table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "format/annotate.h"
#include "tap.h"

static char *
gh(int level, const char *file, long line, long col, const char *title, const char *msg)
{
	struct annotation a = { level, file, line, col, title, msg };
	struct buf b = BUF_INIT;

	annotate_github(&b, &a);
	return buf_detach(&b, NULL);
}

static void
check(char *got, const char *want, const char *name)
{
	is_str(got, want, "%s", name);
	free(got);
}

int
main(void)
{
	const char *cols[] = { "Job", "Status" };
	const char *cells[] = { "a|b", "ok", "c", NULL };
	struct buf b = BUF_INIT;
	struct err e = { 0, "" };
	char path[] = "/tmp/annotate-XXXXXX", *text;
	size_t len;
	int fd;

	check(gh(ANNOTATE_ERROR, NULL, 0, 0, NULL, "plain"), "::error::plain\n", "no properties");
	check(gh(ANNOTATE_WARNING, NULL, 0, 0, "ci-gate: x failed", "50%, a: b\nnext"),
	    "::warning title=ci-gate%3A x failed::50%25, a: b%0Anext\n",
	    "title escaped as a property, message as data");
	check(gh(ANNOTATE_ERROR, "conf/a,b.js", 3, 15, "t", "m"),
	    "::error file=conf/a%2Cb.js,line=3,col=15,title=t::m\n", "file, line, column");
	check(gh(ANNOTATE_NOTICE, "f", 0, 9, NULL, "m"), "::notice file=f::m\n",
	    "no line: no column either");
	check(gh(ANNOTATE_ERROR, "a\n::warning::x", 1, 0, NULL, "\r"),
	    "::error file=a%0A%3A%3Awarning%3A%3Ax,line=1::%0D\n",
	    "a file name cannot start another command");
	check(gh(42, NULL, 0, 0, NULL, "m"), "::error::m\n", "an unknown level is an error");

	annotate_summary_render(&b, "ci-gate: failed", cols, 2, cells, 2);
	is_str(buf_str(&b), "### ci-gate: failed\n\n| Job | Status |\n|---|---|\n"
	    "| a\\|b | ok |\n| c |  |\n\n", "summary table, cells escaped, NULL empty");
	buf_free(&b);

	fd = mkstemp(path);
	ok(fd >= 0, "temporary file");
	close(fd);
	ok(annotate_summary(path, "one", cols, 2, cells, 1, &e) == 0, "append once");
	ok(annotate_summary(path, "two", cols, 2, cells, 1, &e) == 0, "append twice");
	text = read_file(path, 1 << 16, &len, &e);
	ok(text && strstr(text, "### one") && strstr(text, "### two") &&
	    strstr(text, "### one") < strstr(text, "### two"), "both sections, in order");
	free(text);
	unlink(path);
	ok(annotate_summary("/nonexistent/dir/summary.md", "x", cols, 2, cells, 1, &e) < 0 &&
	    e.code == EX_IOERR_ && strstr(e.msg, "/nonexistent/dir/summary.md"),
	    "an unwritable summary is an I/O error naming the file");
	return done_testing();
}
