#include <string.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "format/junit.h"
#include "format/xml.h"

struct counts {
	size_t tests;
	int failures, errors, skipped;
};

static void
count(const struct junit_tcase *c, size_t n, struct counts *k)
{
	size_t i;

	for (i = 0; i < n; i++) {
		k->tests++;
		k->failures += c[i].status == JUNIT_FAILED;
		k->errors += c[i].status == JUNIT_ERROR;
		k->skipped += c[i].status == JUNIT_SKIPPED;
	}
}

static void
render_case(struct buf *b, const struct junit_tcase *c)
{
	const char *tag = c->status == JUNIT_SKIPPED ? "skipped" :
	    c->status == JUNIT_ERROR ? "error" : "failure";

	buf_adds(b, "    <testcase classname=\"");
	xml_escape(b, c->classname ? c->classname : "");
	buf_adds(b, "\" name=\"");
	xml_escape(b, c->name ? c->name : "");
	buf_addf(b, "\" time=\"%.3f\"", c->time_s);
	if (c->status == JUNIT_PASSED) {
		buf_adds(b, "/>\n");
		return;
	}
	buf_addf(b, ">\n      <%s message=\"", tag);
	xml_escape(b, c->message ? c->message : "");
	if (c->detail && *c->detail) {
		buf_adds(b, "\">");
		xml_escape(b, c->detail);
		buf_addf(b, "</%s>\n", tag);
	} else {
		buf_adds(b, "\"/>\n");
	}
	buf_adds(b, "    </testcase>\n");
}

void
junit_render(struct buf *b, const char *name, double time_s,
    const struct junit_suite *suites, size_t nsuites)
{
	struct counts all;
	size_t i, k;

	memset(&all, 0, sizeof(all));
	for (i = 0; i < nsuites; i++)
		count(suites[i].cases, suites[i].ncases, &all);
	buf_adds(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"");
	xml_escape(b, name);
	buf_addf(b, "\" tests=\"%zu\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.3f\">\n",
	    all.tests, all.failures, all.errors, all.skipped, time_s);
	for (i = 0; i < nsuites; i++) {
		const struct junit_suite *s = &suites[i];
		struct counts c;

		memset(&c, 0, sizeof(c));
		count(s->cases, s->ncases, &c);
		buf_adds(b, "  <testsuite name=\"");
		xml_escape(b, s->name ? s->name : "");
		buf_addf(b, "\" tests=\"%zu\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" "
		    "time=\"%.3f\">\n", c.tests, c.failures, c.errors, c.skipped, s->time_s);
		for (k = 0; k < s->ncases; k++)
			render_case(b, &s->cases[k]);
		buf_adds(b, "  </testsuite>\n");
	}
	buf_adds(b, "</testsuites>\n");
}

int
junit_write(const char *path, const char *name, double time_s,
    const struct junit_suite *suites, size_t nsuites, struct err *e)
{
	struct buf b;
	int rc;

	buf_init(&b, 0);
	junit_render(&b, name, time_s, suites, nsuites);
	rc = output_write(path, b.data, b.len, 0644, e);
	buf_free(&b);
	return rc;
}
