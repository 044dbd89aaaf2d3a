/*
 * harness.h: a unit-test harness in one header.  Tests are plain functions
 * listed in a table; checks record every failure with its file:line; the
 * run prints TAP-style lines and writes a JUnit XML report that CI tools
 * (ci-gate, GitLab, Jenkins) read.  Include it from exactly one file.
 *
 *	static void test_add(void) { CHECK_INT(add(2, 2), 4); }
 *	static const struct test tests[] = { { "math", "add", test_add } };
 *	int main(int argc, char **argv) {
 *		return run_tests("unit", tests, sizeof(tests) / sizeof(tests[0]),
 *		    argc > 1 ? argv[1] : NULL);
 *	}
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct test {
	const char *classname;
	const char *name;
	void (*fn)(void);
};

#define CHECK(cond) \
	check_((cond) != 0, __FILE__, __LINE__, "%s", #cond)
#define CHECK_INT(got, want) \
	check_int_((long long)(got), (long long)(want), #got, __FILE__, __LINE__)
#define CHECK_STR(got, want) \
	check_str_((got), (want), #got, __FILE__, __LINE__)

static char harness_msg[4096];	/* this test's failures */
static size_t harness_len;
static int harness_failed;

static void
check_(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
check_(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ok)
		return;
	harness_failed = 1;
	if (harness_len >= sizeof(harness_msg) - 1)
		return;
	n = snprintf(harness_msg + harness_len, sizeof(harness_msg) - harness_len,
	    "%s:%d: failed: ", file, line);
	if (n > 0)
		harness_len += (size_t)n;
	if (harness_len < sizeof(harness_msg) - 1) {
		va_start(ap, fmt);
		n = vsnprintf(harness_msg + harness_len, sizeof(harness_msg) - harness_len, fmt, ap);
		va_end(ap);
		if (n > 0)
			harness_len += (size_t)n;
	}
	if (harness_len < sizeof(harness_msg) - 1)
		harness_msg[harness_len++] = '\n';
	if (harness_len >= sizeof(harness_msg))
		harness_len = sizeof(harness_msg) - 1;
	harness_msg[harness_len] = '\0';
}

static void
check_int_(long long got, long long want, const char *expr, const char *file, int line)
{
	check_(got == want, file, line, "%s is %lld, want %lld", expr, got, want);
}

static void
check_str_(const char *got, const char *want, const char *expr, const char *file, int line)
{
	int same = got && want ? strcmp(got, want) == 0 : got == want;

	check_(same, file, line, "%s is \"%s\", want \"%s\"", expr,
	    got ? got : "(null)", want ? want : "(null)");
}

static void
xml_put(FILE *fp, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '&')
			fputs("&amp;", fp);
		else if (c == '<')
			fputs("&lt;", fp);
		else if (c == '>')
			fputs("&gt;", fp);
		else if (c == '"')
			fputs("&quot;", fp);
		else if (c < 0x20 && c != '\n' && c != '\t')
			fputc('?', fp);	/* not allowed in XML 1.0 */
		else
			fputc(c, fp);
	}
}

static double
harness_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run every test; write the JUnit report to junit_path (unless NULL);
 * return 0 when all passed, 1 otherwise. */
static int
run_tests(const char *suite, const struct test *tests, size_t n, const char *junit_path)
{
	static char msgs[256][sizeof(harness_msg)];
	double times[256], t0, total = 0;
	int failed[256], failures = 0;
	size_t i;
	FILE *fp;
	char tmp[4096];

	if (n > 256) {
		fprintf(stderr, "harness: at most 256 tests, not %zu\n", n);
		return 1;
	}
	printf("1..%zu\n", n);
	for (i = 0; i < n; i++) {
		harness_len = 0;
		harness_msg[0] = '\0';
		harness_failed = 0;
		t0 = harness_now();
		tests[i].fn();
		times[i] = harness_now() - t0;
		total += times[i];
		failed[i] = harness_failed;
		memcpy(msgs[i], harness_msg, sizeof(harness_msg));
		printf("%s %zu - %s.%s\n", harness_failed ? "not ok" : "ok", i + 1,
		    tests[i].classname, tests[i].name);
		if (harness_failed) {
			const char *p = harness_msg, *nl;

			failures++;
			while ((nl = strchr(p, '\n'))) {
				printf("#   %.*s\n", (int)(nl - p), p);
				p = nl + 1;
			}
		}
	}
	printf("# %zu tests, %d failed\n", n, failures);
	fflush(stdout);
	if (!junit_path)
		return failures ? 1 : 0;

	/* Write next to the target and rename, so no reader sees half a file. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", junit_path);
	fp = fopen(tmp, "w");
	if (!fp) {
		perror(tmp);
		return 1;
	}
	fprintf(fp, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
	fprintf(fp, "  <testsuite name=\"");
	xml_put(fp, suite);
	fprintf(fp, "\" tests=\"%zu\" failures=\"%d\" errors=\"0\" skipped=\"0\" time=\"%.6f\">\n",
	    n, failures, total);
	for (i = 0; i < n; i++) {
		fprintf(fp, "    <testcase classname=\"");
		xml_put(fp, suite);
		fputc('.', fp);
		xml_put(fp, tests[i].classname);
		fprintf(fp, "\" name=\"");
		xml_put(fp, tests[i].name);
		fprintf(fp, "\" time=\"%.6f\"", times[i]);
		if (!failed[i]) {
			fprintf(fp, "/>\n");
			continue;
		}
		fprintf(fp, ">\n      <failure message=\"");
		/* The first failure is the message; all of them are the text. */
		{
			const char *nl = strchr(msgs[i], '\n');
			char first[512];

			snprintf(first, sizeof(first), "%.*s",
			    (int)(nl ? (size_t)(nl - msgs[i]) : strlen(msgs[i])), msgs[i]);
			xml_put(fp, first);
		}
		fprintf(fp, "\">");
		xml_put(fp, msgs[i]);
		fprintf(fp, "</failure>\n    </testcase>\n");
	}
	fprintf(fp, "  </testsuite>\n</testsuites>\n");
	if (fclose(fp) == EOF || rename(tmp, junit_path) < 0) {
		perror(junit_path);
		remove(tmp);
		return 1;
	}
	return failures ? 1 : 0;
}

#endif
