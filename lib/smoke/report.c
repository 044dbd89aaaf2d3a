#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "format/junit.h"
#include "format/xml.h"
#include "smoke/report.h"

static const char *
status_name(int s)
{
	static const char *const names[] = { "passed", "failed", "skipped", "not_run" };

	return s >= 0 && s <= SM_NOT_RUN ? names[s] : "?";
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

struct stats {
	long long min, p50, p95, p99, max;
	size_t n;
};

static void
entry_stats(const struct smoke_entry *en, struct stats *st)
{
	long long *d;

	memset(st, 0, sizeof(*st));
	if (!en->ndurations)
		return;
	d = xmalloc(en->ndurations * sizeof(*d));
	memcpy(d, en->durations, en->ndurations * sizeof(*d));
	qsort(d, en->ndurations, sizeof(*d), cmp_ll);
	st->n = en->ndurations;
	st->min = d[0];
	st->max = d[st->n - 1];
	st->p50 = smoke_percentile(d, st->n, 50);
	st->p95 = smoke_percentile(d, st->n, 95);
	st->p99 = smoke_percentile(d, st->n, 99);
	free(d);
}

/* The --max-p99 gate: an entry over it fails. */
void
apply_p99(struct smoke_result *r, long long max_ms)
{
	size_t i, k;

	for (i = 0; i < r->nfiles; i++)
		for (k = 0; k < r->files[i].nentries; k++) {
			struct smoke_entry *en = &r->files[i].entries[k];
			struct stats st;
			char got[32], lim[32];

			entry_stats(en, &st);
			if (!st.n || st.p99 <= max_ms)
				continue;
			format_duration(st.p99, got, sizeof(got));
			format_duration(max_ms, lim, sizeof(lim));
			if (en->status != SM_FAILED) {
				free(en->reason);
				en->reason = xasprintf("%s:%d: p99 duration %s is over --max-p99 %s",
				    r->files[i].path, en->line, got, lim);
				en->status = SM_FAILED;
			}
			r->files[i].status = SM_FAILED;
		}
}

static cJSON *
entry_json(const struct smoke_entry *en, int repeat, int want_stats)
{
	cJSON *o = cJSON_CreateObject(), *arr;
	size_t i;

	cJSON_AddStringToObject(o, "name", en->name);
	cJSON_AddNumberToObject(o, "line", en->line);
	cJSON_AddStringToObject(o, "method", en->method);
	if (en->url)
		cJSON_AddStringToObject(o, "url", en->url);
	cJSON_AddStringToObject(o, "status", status_name(en->status));
	if (en->status == SM_PASSED || en->status == SM_FAILED) {
		if (en->http_status)
			cJSON_AddNumberToObject(o, "http_status", en->http_status);
		json_add_i64(o, "duration_ms", en->duration_ms);
		cJSON_AddNumberToObject(o, "attempts", en->attempts);
	}
	if (en->nasserts) {
		arr = cJSON_AddArrayToObject(o, "asserts");
		for (i = 0; i < en->nasserts; i++) {
			const struct smoke_assert *a = &en->asserts[i];
			cJSON *x = cJSON_CreateObject();

			cJSON_AddNumberToObject(x, "line", a->line);
			cJSON_AddStringToObject(x, "assert", a->text);
			cJSON_AddStringToObject(x, "status", a->passed ? "passed" : "failed");
			cJSON_AddStringToObject(x, "expected", a->expected ? a->expected : "");
			cJSON_AddStringToObject(x, "actual", a->actual ? a->actual : "");
			if (a->message)
				cJSON_AddStringToObject(x, "message", a->message);
			cJSON_AddItemToArray(arr, x);
		}
	}
	if (en->ncaptures) {
		arr = cJSON_AddArrayToObject(o, "captures");
		for (i = 0; i < en->ncaptures; i++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(en->captures[i]));
	}
	if (en->error)
		cJSON_AddStringToObject(o, "error", en->error);
	if (en->reason && en->status == SM_FAILED)
		cJSON_AddStringToObject(o, "reason", en->reason);
	if (want_stats && en->ndurations) {
		struct stats st;
		cJSON *d = cJSON_AddObjectToObject(o, "durations");

		entry_stats(en, &st);
		cJSON_AddNumberToObject(d, "rounds", repeat);
		cJSON_AddNumberToObject(d, "failed", en->failures);
		json_add_i64(d, "min_ms", st.min);
		json_add_i64(d, "p50_ms", st.p50);
		json_add_i64(d, "p95_ms", st.p95);
		json_add_i64(d, "p99_ms", st.p99);
		json_add_i64(d, "max_ms", st.max);
	}
	return o;
}

void
count(const struct smoke_result *r, struct counts *c)
{
	size_t i, k;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < r->nfiles; i++)
		for (k = 0; k < r->files[i].nentries; k++) {
			int s = r->files[i].entries[k].status;

			c->entries++;
			if (s == SM_PASSED)
				c->passed++;
			else if (s == SM_FAILED)
				c->failed++;
			else if (s == SM_SKIPPED)
				c->skipped++;
			else
				c->not_run++;
		}
}

cJSON *
smoke_json(const struct smoke_result *r, const struct smoke_cmd *o, const struct pipeline *p,
    long long started, long long dur, const cJSON *wait, int *failed)
{
	cJSON *sec = cJSON_CreateObject(), *files, *sum, *fl;
	const cJSON *v;
	struct counts c;
	struct buf why = BUF_INIT;
	char when[32];
	size_t i, k;
	int want_stats = o->repeat > 1 || o->max_p99_ms >= 0;

	count(r, &c);
	cJSON_AddStringToObject(sec, "status", "passed");
	format_rfc3339((time_t)(started / 1000), when, sizeof(when));
	cJSON_AddStringToObject(sec, "started_at", when);
	json_add_i64(sec, "duration_ms", dur);
	if ((v = json_path(p->doc, "push.reference")) && cJSON_IsString(v))
		cJSON_AddStringToObject(sec, "image", v->valuestring);
	if ((v = json_path(p->doc, "run.source.version")) && cJSON_IsString(v))
		cJSON_AddStringToObject(sec, "version", v->valuestring);
	if (wait)
		cJSON_AddItemToObject(sec, "wait", cJSON_Duplicate(wait, 1));
	if (o->repeat > 1)
		cJSON_AddNumberToObject(sec, "repeat", o->repeat);
	if (o->max_p99_ms >= 0)
		json_add_i64(sec, "max_p99_ms", o->max_p99_ms);
	sum = cJSON_AddObjectToObject(sec, "summary");
	cJSON_AddNumberToObject(sum, "files", (double)r->nfiles);
	cJSON_AddNumberToObject(sum, "entries", c.entries);
	cJSON_AddNumberToObject(sum, "passed", c.passed);
	cJSON_AddNumberToObject(sum, "failed", c.failed);
	cJSON_AddNumberToObject(sum, "skipped", c.skipped);
	cJSON_AddNumberToObject(sum, "not_run", c.not_run);
	json_add_i64(sum, "requests", r->requests);
	files = cJSON_AddArrayToObject(sec, "files");
	fl = cJSON_CreateArray();
	for (i = 0; i < r->nfiles; i++) {
		const struct smoke_file *f = &r->files[i];
		cJSON *fo = cJSON_CreateObject(), *ents;

		cJSON_AddStringToObject(fo, "file", f->path);
		cJSON_AddStringToObject(fo, "status", f->status == SM_PASSED ? "passed" : "failed");
		json_add_i64(fo, "duration_ms", f->duration_ms);
		json_add_i64(fo, "requests", f->requests);
		ents = cJSON_AddArrayToObject(fo, "entries");
		for (k = 0; k < f->nentries; k++) {
			const struct smoke_entry *en = &f->entries[k];

			cJSON_AddItemToArray(ents, entry_json(en, o->repeat, want_stats));
			if (en->status == SM_FAILED) {
				char *id = xasprintf("%s:%d %s", f->path, en->line, en->name);

				/* names without a "# name:" already start with file:line */
				if (!strncmp(en->name, f->path, strlen(f->path)) &&
				    en->name[strlen(f->path)] == ':') {
					free(id);
					id = xstrdup(en->name);
				}
				cJSON_AddItemToArray(fl, cJSON_CreateString(id));
				buf_addf(&why, "%s%s", why.len ? "; " : "", en->reason ? en->reason : id);
				free(id);
			}
		}
		cJSON_AddItemToArray(files, fo);
	}
	cJSON_AddItemToObject(sec, "failed", fl);
	*failed = c.failed > 0 || r->interrupted;
	if (*failed) {
		char *reason = r->interrupted ? xstrdup("interrupted before every entry ran") :
		    xasprintf("%d of %d entr%s failed: %s", c.failed, c.entries,
			c.entries == 1 ? "y" : "ies", buf_str(&why));

		json_set(sec, "status", cJSON_CreateString("failed"));
		cJSON_AddStringToObject(sec, "reason", reason);
		free(reason);
	}
	buf_free(&why);
	return sec;
}

/* A test name fit for TAP: no newline, '#' escaped. */
static void
tap_name(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '#')
			buf_adds(b, "\\#");
		else if (*s == '\n' || *s == '\r')
			buf_addc(b, ' ');
		else
			buf_addc(b, *s);
	}
}

static void
tap_comment(struct buf *b, const char *text)
{
	const char *s = text;

	while (*s) {
		size_t n = strcspn(s, "\n");

		buf_addf(b, "#   %.*s\n", (int)n, s);
		s += n;
		if (*s)
			s++;
	}
}

void
describe_failure(struct buf *b, const struct smoke_file *f, const struct smoke_entry *en)
{
	size_t i;
	char *t;

	buf_addf(b, "%s:%d %s %s\n", f->path, en->line, en->method, en->url ? en->url : "(not sent)");
	if (en->http_status)
		buf_addf(b, "HTTP %ld in %lld ms (attempt %d)\n", en->http_status, en->duration_ms,
		    en->attempts);
	if (en->error)
		buf_addf(b, "error: %s\n", en->error);
	for (i = 0; i < en->nasserts; i++) {
		const struct smoke_assert *a = &en->asserts[i];

		if (a->passed)
			continue;
		buf_addf(b, "assert %s:%d: %s\n", f->path, a->line, a->text);
		if (a->message)
			buf_addf(b, "  %s\n", a->message);
		buf_addf(b, "  expected: %s\n  actual:   %s\n", a->expected ? a->expected : "",
		    a->actual ? a->actual : "");
	}
	if (!en->nasserts && !en->error && en->reason)
		buf_addf(b, "%s\n", en->reason);
	if (en->body && *en->body) {
		buf_adds(b, "body (first 1 KiB):\n");
		t = en->body;
		while (*t) {
			size_t n = strcspn(t, "\n");

			buf_addf(b, "  %.*s\n", (int)n, t);
			t += n;
			if (*t)
				t++;
		}
	}
}

static char *
tap_text(const struct smoke_result *r)
{
	struct buf b = BUF_INIT;
	size_t i, k;
	int n = 0, total = 0;

	for (i = 0; i < r->nfiles; i++)
		total += (int)r->files[i].nentries;
	buf_addf(&b, "1..%d\n", total);
	for (i = 0; i < r->nfiles; i++) {
		const struct smoke_file *f = &r->files[i];

		for (k = 0; k < f->nentries; k++) {
			const struct smoke_entry *en = &f->entries[k];

			n++;
			buf_addf(&b, "%sok %d - ", en->status == SM_FAILED ? "not " : "", n);
			tap_name(&b, en->name);
			if (en->status == SM_SKIPPED)
				buf_adds(&b, " # SKIP the skip option");
			else if (en->status == SM_NOT_RUN)
				buf_adds(&b, r->interrupted ? " # SKIP interrupted" :
				    " # SKIP not run: an earlier entry of the file failed");
			buf_addc(&b, '\n');
			if (en->status == SM_FAILED) {
				struct buf d = BUF_INIT;

				describe_failure(&d, f, en);
				tap_comment(&b, buf_str(&d));
				buf_free(&d);
			}
		}
	}
	return buf_detach(&b, NULL);
}

/* Write TAP text to --tap's file, or to out. */
int
tap_emit(const char *path, FILE *out, const char *t, struct err *e)
{
	if (!path || !strcmp(path, "-")) {
		fputs(t, out);
		if (fflush(out) == EOF || ferror(out))
			return err_set(e, EX_IOERR_, "cannot write TAP to standard output: %s", strerror(errno));
		return 0;
	}
	return output_write(path, t, strlen(t), 0644, e);
}

int
write_tap(const struct smoke_result *r, const char *path, FILE *out, struct err *e)
{
	char *t = tap_text(r);
	int rc = tap_emit(path, out, t, e);

	free(t);
	return rc;
}


/* The JUnit report: a suite per file, a case per entry. */
int
write_junit(const struct smoke_result *r, const char *path, long long dur, struct err *e)
{
	struct junit_suite *suites = xcalloc(r->nfiles + 1, sizeof(*suites));
	struct buf *details;
	size_t i, k, n = 0, m = 0;
	int rc;

	for (i = 0; i < r->nfiles; i++)
		n += r->files[i].nentries;
	details = xcalloc(n + 1, sizeof(*details));
	for (i = 0; i < r->nfiles; i++) {
		const struct smoke_file *f = &r->files[i];
		struct junit_tcase *cases = xcalloc(f->nentries + 1, sizeof(*cases));

		for (k = 0; k < f->nentries; k++) {
			const struct smoke_entry *en = &f->entries[k];
			struct junit_tcase *c = &cases[k];

			c->classname = f->path;
			c->name = en->name;
			c->time_s = (double)en->duration_ms / 1000;
			if (en->status == SM_PASSED) {
				c->status = JUNIT_PASSED;
			} else if (en->status == SM_FAILED) {
				c->status = en->error ? JUNIT_ERROR : JUNIT_FAILED;
				c->message = en->reason ? en->reason : "failed";
				buf_init(&details[m], 0);
				describe_failure(&details[m], f, en);
				c->detail = buf_str(&details[m++]);
			} else {
				c->status = JUNIT_SKIPPED;
				c->message = en->status == SM_SKIPPED ? "the skip option" :
				    r->interrupted ? "interrupted" :
				    "not run: an earlier entry of the file failed";
			}
		}
		suites[i].name = f->path;
		suites[i].time_s = (double)f->duration_ms / 1000;
		suites[i].cases = cases;
		suites[i].ncases = f->nentries;
	}
	rc = junit_write(path, "ci-smoke", (double)dur / 1000, suites, r->nfiles, e);
	for (i = 0; i < r->nfiles; i++)
		free((void *)suites[i].cases);
	free(suites);
	for (i = 0; i < m; i++)
		buf_free(&details[i]);
	free(details);
	return rc;
}
