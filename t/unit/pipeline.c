/* Unit tests for lib/pipeline: read, validate, set sections, skip, write. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "core/pipeline.h"
#include "tap.h"

/* Feed text to pipeline_read through a pipe. */
static int
read_text(struct pipeline *p, const char *text, size_t len, struct err *e)
{
	char path[] = "/tmp/ci-pipeline-test.XXXXXX";
	int fd = mkstemp(path), rc;

	if (fd < 0)
		return -2;
	if (write(fd, text, len) != (ssize_t)len)
		return -2;
	lseek(fd, 0, SEEK_SET);
	unlink(path);
	rc = pipeline_read(p, fd, "<stdin>", e);
	close(fd);
	return rc;
}

static char *
write_text(const struct pipeline *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	struct err e = { 0, "" };

	if (pipeline_write(p, fp, &e) < 0)
		return NULL;
	fclose(fp);
	return buf;
}

static const char good[] =
    "{\"ci\":1,\"run\":{\"id\":\"r1\",\"started_at\":\"2026-11-26T09:00:00Z\"},"
    "\"status\":\"running\",\"stages\":[{\"name\":\"gate\",\"status\":\"passed\"}],"
    "\"gate\":{\"status\":\"passed\"},\"user\":{\"n\":123456789012345678901234567890,\"f\":0.1}}";

static void
test_read_write(void)
{
	struct pipeline p;
	struct err e = { 0, "" };
	char *out, *want;

	is_int(read_text(&p, good, strlen(good), &e), 1, "a valid document is read");
	out = write_text(&p);
	want = xasprintf("%s\n", good);
	is_str(out, want, "written back byte for byte, one line");
	free(out);
	free(want);
	pipeline_free(&p);

	is_int(read_text(&p, " \n\t", 3, &e), 0, "whitespace only means no document");
	is_int(read_text(&p, "", 0, &e), 0, "empty input means no document");
}

static void
test_bad(const char *text, size_t len, const char *needle, const char *name)
{
	struct pipeline p;
	struct err e = { 0, "" };

	is_int(read_text(&p, text, len, &e), -1, "refused: %s", name);
	is_int(e.code, EX_DOC, "exit 65: %s", name);
	like(e.msg, needle, "message: %s", name);
	ok(p.doc == NULL, "no document kept: %s", name);
}

static void
test_sections(void)
{
	struct pipeline p;
	struct err e = { 0, "" };
	cJSON *sec;
	const char *failed;

	read_text(&p, good, strlen(good), &e);
	ok(pipeline_failed_stage(&p) == NULL, "a passing document has no failed stage");

	sec = cJSON_CreateObject();
	cJSON_AddStringToObject(sec, "status", "passed");
	pipeline_set_section(&p, "build", sec, 1795683600000LL, 1234);
	is_int(cJSON_GetArraySize(cJSON_GetObjectItem(p.doc, "stages")), 2, "a stages entry is added");
	is_str(json_str(json_path(p.doc, "stages[1]"), "name"), "build", "named build");
	is_str(json_str(json_path(p.doc, "stages[1]"), "started_at"), "2026-11-26T09:00:00Z", "with its start");
	{
		long long d = 0;

		json_get_i64(json_path(p.doc, "stages[1].duration_ms"), &d);
		is_int(d, 1234, "and its duration");
	}
	/* The new section goes last; unknown keys keep their place. */
	{
		const cJSON *last = p.doc->child;

		while (last->next)
			last = last->next;
		is_str(last->string, "build", "a new section goes last, after the user's");
	}

	sec = cJSON_CreateObject();
	cJSON_AddStringToObject(sec, "status", "failed");
	pipeline_set_section(&p, "gate", sec, 1795683600000LL, 10);
	is_int(cJSON_GetArraySize(cJSON_GetObjectItem(p.doc, "stages")), 2, "replacing keeps one entry per stage");
	is_str(json_str(json_path(p.doc, "stages[0]"), "status"), "failed", "the entry is updated in place");
	is_str(p.doc->child->next->next->next->next->string, "gate", "the section keeps its place");
	is_str(json_str(p.doc, "status"), "failed", "a failed section fails the document");
	failed = pipeline_failed_stage(&p);
	is_str(failed, "gate", "the failed stage is named");

	pipeline_skip(&p, "push", "gate");
	is_str(json_str(json_path(p.doc, "push"), "status"), "skipped", "skip adds a skipped section");
	is_str(json_str(json_path(p.doc, "push"), "reason"), "upstream stage 'gate' failed", "naming the failed stage");
	is_str(json_str(json_path(p.doc, "stages[2]"), "status"), "skipped", "and a skipped stages entry");
	pipeline_free(&p);
}

/* A stage named KEY.SUB: one section per target, under one object. */
static void
test_nested(void)
{
	struct pipeline p;
	struct err e = { 0, "" };
	cJSON *sec;
	char *text;

	read_text(&p, good, strlen(good), &e);
	sec = cJSON_CreateObject();
	cJSON_AddStringToObject(sec, "status", "passed");
	pipeline_set_section(&p, "deploy.staging", sec, 1795683600000LL, 5);
	sec = cJSON_CreateObject();
	cJSON_AddStringToObject(sec, "status", "failed");
	pipeline_set_section(&p, "deploy.production", sec, 1795683600000LL, 6);
	is_str(json_str(json_path(p.doc, "deploy.staging"), "status"), "passed",
	    "nested: deploy.staging is doc.deploy.staging");
	is_str(json_str(json_path(p.doc, "deploy.production"), "status"), "failed",
	    "nested: a second one keeps the first");
	ok(pipeline_section(p.doc, "deploy.production") == json_path(p.doc, "deploy.production"),
	    "nested: pipeline_section() finds it");
	ok(pipeline_section(p.doc, "deploy.qa") == NULL && pipeline_section(p.doc, "nope.x") == NULL,
	    "nested: none for a missing one");
	is_str(json_str(json_path(p.doc, "stages[2]"), "name"), "deploy.production",
	    "nested: each has its stages entry");
	is_str(pipeline_failed_stage(&p), "deploy.production", "nested: the failed one is named");
	pipeline_skip(&p, "smoke", pipeline_failed_stage(&p));
	is_str(json_str(json_path(p.doc, "smoke"), "reason"), "upstream stage 'deploy.production' failed",
	    "nested: later stages skip, naming it");
	sec = cJSON_CreateObject();
	cJSON_AddStringToObject(sec, "status", "passed");
	pipeline_set_section(&p, "deploy.staging", sec, 1795683600000LL, 7);
	is_int(cJSON_GetArraySize(cJSON_GetObjectItem(p.doc, "stages")), 4,
	    "nested: replacing one keeps one entry each");
	is_str(cJSON_GetObjectItem(p.doc, "deploy")->child->string, "staging",
	    "nested: and its place in the object");
	text = write_text(&p);
	pipeline_free(&p);
	is_int(read_text(&p, text, strlen(text), &e), 1, "nested: the document reads back valid");
	free(text);
	pipeline_free(&p);
	text = xstrdup("{\"ci\":1,\"run\":{\"id\":\"x\"},\"stages\":[{\"name\":\"deploy.qa\","
	    "\"status\":\"passed\"}],\"deploy\":{\"staging\":{\"status\":\"passed\"}}}");
	test_bad(text, strlen(text), "deploy.qa: the section of stage 'deploy.qa' is missing",
	    "a nested stage without its section");
	free(text);
	/* A KEY that is not an object becomes one. */
	read_text(&p, good, strlen(good), &e);
	json_set(p.doc, "deploy", cJSON_CreateString("user text"));
	sec = cJSON_CreateObject();
	cJSON_AddStringToObject(sec, "status", "passed");
	pipeline_set_section(&p, "deploy.staging", sec, 1795683600000LL, 5);
	is_str(json_str(json_path(p.doc, "deploy.staging"), "status"), "passed",
	    "nested: a KEY that was not an object is one now");
	pipeline_free(&p);
}

static void
test_start(void)
{
	struct pipeline p;
	struct err e = { 0, "" };
	const char *id;
	char *out;
	struct pipeline q;

	ok(pipeline_start(&p, "2.4.1", &e) == 0, "a document is started");
	id = json_str(json_path(p.doc, "run"), "id");
	ok(id && strlen(id) == 24 && id[8] == 'T' && id[15] == 'Z' && id[16] == '-',
	    "run.id looks like 20261126T090000Z-abc123f (%s)", id ? id : "null");
	is_str(json_str(json_path(p.doc, "run.source"), "version"), "2.4.1", "version recorded");
	ok(pipeline_validate(p.doc, &e) == 0, "a started document validates");
	out = write_text(&p);
	ok(out && read_text(&q, out, strlen(out), &e) == 1, "and reads back");
	free(out);
	pipeline_free(&q);
	pipeline_free(&p);
}

static void
test_write_error(void)
{
	struct pipeline p;
	struct err e = { 0, "" };
	FILE *full = fopen("/dev/full", "w");

	read_text(&p, good, strlen(good), &e);
	if (!full) {
		ok(1, "# skip no /dev/full");
	} else {
		is_int(pipeline_write(&p, full, &e), -1, "a full disk is an error");
		is_int(e.code, EX_IOERR_, "exit 74");
		fclose(full);
	}
	pipeline_free(&p);
}

/* pipeline_open() reads fd 0: point it at text for the duration. */
static int
open_with(const char *text, int first, struct pipeline *p, struct err *e)
{
	char path[] = "/tmp/ci-pipeline-open.XXXXXX";
	int fd = mkstemp(path), saved = dup(0), rc;

	if (fd < 0 || saved < 0 || write(fd, text, strlen(text)) < 0)
		return -2;
	lseek(fd, 0, SEEK_SET);
	unlink(path);
	dup2(fd, 0);
	close(fd);
	rc = pipeline_open(p, 1, first, NULL, e);
	dup2(saved, 0);
	close(saved);
	return rc;
}

static void
test_open(void)
{
	struct pipeline p;
	struct err e = { 0, "" };

	is_int(open_with("", 1, &p, &e), 0, "the first stage starts a document on empty input");
	ok(p.doc && p.started, "a new one");
	pipeline_free(&p);
	is_int(open_with("  \n", 0, &p, &e), -1, "a later stage refuses empty input");
	is_int(e.code, EX_DOC, "with exit 65");
	like(e.msg, "use --new", "saying how to start one");
	ok(p.doc == NULL, "and holds no document");
	is_int(open_with(good, 0, &p, &e), 0, "a later stage reads a document");
	ok(p.doc && !p.started, "read, not started");
	ok(pipeline_skip_upstream(&p, "push", "pushing") == 0, "nothing upstream failed");
	pipeline_free(&p);
	is_int(open_with("{\"ci\":1,\"run\":{\"id\":\"x\"},\"status\":\"failed\","
	    "\"stages\":[{\"name\":\"build\",\"status\":\"error\"}],\"build\":{\"status\":\"error\"}}",
	    0, &p, &e), 0, "a failed document is read");
	ok(pipeline_skip_upstream(&p, "push", "pushing") == 1, "the stage after a failure skips");
	is_str(json_str(json_path(p.doc, "push"), "failed_stage"), "build", "naming the failed stage");
	pipeline_free(&p);
}

int
main(void)
{
	static const char nul[] = "{\"ci\":1,\0\"run\":{}}";

	log_init("pipeline-test");
	log_set_level(LOG_QUIET);
	test_read_write();
	test_bad("{\"ci\":1,", strlen("{\"ci\":1,"), "1:9", "truncated");
	test_bad("[]", strlen("[]"), "expected a JSON object", "array");
	test_bad("{\"run\":{\"id\":\"x\"}}", strlen("{\"run\":{\"id\":\"x\"}}"), "'ci' is missing", "no version");
	test_bad("{\"ci\":\"1\",\"run\":{\"id\":\"x\"}}", strlen("{\"ci\":\"1\",\"run\":{\"id\":\"x\"}}"), "ci: expected an integer", "version as a string is not 1");
	test_bad("{\"ci\":1.5,\"run\":{\"id\":\"x\"}}", strlen("{\"ci\":1.5,\"run\":{\"id\":\"x\"}}"), "ci: expected an integer", "fractional version");
	test_bad("{\"ci\":1}", strlen("{\"ci\":1}"), "run: missing", "no run");
	test_bad("{\"ci\":1,\"run\":{\"id\":\"x\"},\"status\":\"great\"}", strlen("{\"ci\":1,\"run\":{\"id\":\"x\"},\"status\":\"great\"}"), "status: expected one of", "bad status");
	test_bad("{\"ci\":1,\"run\":{\"id\":\"x\"},\"stages\":{}}", strlen("{\"ci\":1,\"run\":{\"id\":\"x\"},\"stages\":{}}"), "stages: expected an array", "stages not an array");
	test_bad("{\"ci\":1,\"run\":{\"id\":\"x\"},\"stages\":[1]}", strlen("{\"ci\":1,\"run\":{\"id\":\"x\"},\"stages\":[1]}"), "stages[0]: expected an object", "stage not an object");
	test_bad(nul, sizeof(nul) - 1, "NUL", "NUL byte");
#define BAD(t, needle, name) test_bad(t, strlen(t), needle, name)
	BAD("{\"ci\":1,\"run\":{\"id\":\"x\"},\"gate\":5}", "gate: expected an object", "a section that is a number");
	BAD("{\"ci\":1,\"run\":{\"id\":\"x\"},\"canary\":[1,2]}", "canary: expected an object", "a section that is an array");
	BAD("{\"ci\":1,\"run\":{\"id\":\"x\"},\"rollback\":null}", "rollback: expected an object", "a section that is null");
	BAD("{\"ci\":1,\"run\":{\"id\":\"x\"},\"deploy\":{\"staging\":\"up\"}}", "deploy.staging: expected an object", "an environment that is a string");
#undef BAD
	test_bad("{\"ci\":1,\"run\":{\"id\":\"x\",\"source\":{\"commit\":7}}}", strlen("{\"ci\":1,\"run\":{\"id\":\"x\",\"source\":{\"commit\":7}}}"), "run.source.commit: expected a string", "commit type");
	test_sections();
	test_nested();
	test_start();
	test_write_error();
	test_open();
	return done_testing();
}
