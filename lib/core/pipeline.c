#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/encode.h"
#include "core/git.h"
#include "core/json.h"
#include "core/pipeline.h"
#include "core/timeutil.h"

static const char *const section_status[] = {
	"passed", "failed", "skipped", "paused", "error", NULL
};
static const char *const doc_status[] = { "running", "passed", "failed", NULL };
/* The tools' sections: each, when present, is an object. */
static const char *const tool_section[] = {
	"gate", "build", "push", "smoke", "deploy", "canary", "rollback", NULL
};

static int
one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(s, *set) == 0)
			return 1;
	return 0;
}

static int
want_string(const cJSON *obj, const char *key, const char *where, int required,
    struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!v && !required)
		return 0;
	if (!v)
		return err_set(e, EX_DOC, "%s%s: missing", where, key);
	if (!cJSON_IsString(v))
		return err_set(e, EX_DOC, "%s%s: expected a string", where, key);
	return 0;
}

int
pipeline_validate(const cJSON *doc, struct err *e)
{
	const cJSON *v, *run, *st;
	long long version;
	int i = 0;

	if (!cJSON_IsObject(doc))
		return err_set(e, EX_DOC, "not a pipeline document: expected a JSON object");
	v = cJSON_GetObjectItemCaseSensitive(doc, "ci");
	if (!v)
		return err_set(e, EX_DOC, "not a pipeline document: key 'ci' is missing");
	if ((!cJSON_IsNumber(v) && !cJSON_IsRaw(v)) || json_get_i64(v, &version) < 0)
		return err_set(e, EX_DOC, "ci: expected an integer");
	if (version != PIPELINE_VERSION)
		return err_set(e, EX_DOC, "ci: document version %lld is not supported (this is version %d)",
		    version, PIPELINE_VERSION);
	run = cJSON_GetObjectItemCaseSensitive(doc, "run");
	if (!cJSON_IsObject(run))
		return err_set(e, EX_DOC, "run: %s", run ? "expected an object" : "missing");
	if (want_string(run, "id", "run.", 1, e) < 0 ||
	    want_string(run, "started_at", "run.", 0, e) < 0)
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(run, "source");
	if (v && !cJSON_IsObject(v))
		return err_set(e, EX_DOC, "run.source: expected an object");
	if (v && (want_string(v, "repository", "run.source.", 0, e) < 0 ||
	    want_string(v, "commit", "run.source.", 0, e) < 0 ||
	    want_string(v, "ref", "run.source.", 0, e) < 0 ||
	    want_string(v, "version", "run.source.", 0, e) < 0))
		return -1;
	v = cJSON_GetObjectItemCaseSensitive(doc, "status");
	if (v && (!cJSON_IsString(v) || !one_of(v->valuestring, doc_status)))
		return err_set(e, EX_DOC, "status: expected one of running, passed, failed");
	for (i = 0; tool_section[i]; i++) {
		v = cJSON_GetObjectItemCaseSensitive(doc, tool_section[i]);
		if (v && !cJSON_IsObject(v))
			return err_set(e, EX_DOC, "%s: expected an object", tool_section[i]);
	}
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(doc, "deploy"))
		if (!cJSON_IsObject(v))
			return err_set(e, EX_DOC, "deploy.%s: expected an object", v->string);
	i = 0;
	st = cJSON_GetObjectItemCaseSensitive(doc, "stages");
	if (st && !cJSON_IsArray(st))
		return err_set(e, EX_DOC, "stages: expected an array");
	cJSON_ArrayForEach(v, st) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name");
		const cJSON *status = cJSON_GetObjectItemCaseSensitive(v, "status");

		if (!cJSON_IsObject(v))
			return err_set(e, EX_DOC, "stages[%d]: expected an object", i);
		if (!cJSON_IsString(name))
			return err_set(e, EX_DOC, "stages[%d].name: expected a string", i);
		if (!cJSON_IsString(status) || !one_of(status->valuestring, section_status))
			return err_set(e, EX_DOC, "stages[%d].status: expected one of passed, failed, skipped, paused, error", i);
		/* Each stage named must have its section, with a status. */
		{
			const cJSON *sec = pipeline_section(doc, name->valuestring);
			const cJSON *ss = cJSON_GetObjectItemCaseSensitive(sec, "status");

			if (!cJSON_IsObject(sec))
				return err_set(e, EX_DOC, "%s: the section of stage '%s' is missing",
				    name->valuestring, name->valuestring);
			if (!cJSON_IsString(ss) || !one_of(ss->valuestring, section_status))
				return err_set(e, EX_DOC, "%s.status: expected one of passed, failed, skipped, paused, error",
				    name->valuestring);
		}
		i++;
	}
	return 0;
}

int
pipeline_read(struct pipeline *p, int fd, const char *name, struct err *e)
{
	struct json_opts o = { name, 0, 1 };
	struct json_text t;
	size_t i;

	p->doc = NULL;
	p->started = 0;
	if (json_text_read(&t, fd, name, PIPELINE_MAX_BYTES, e) < 0) {
		e->code = e->code == EX_IOERR_ ? EX_IOERR_ : EX_DOC;
		return -1;
	}
	for (i = 0; i < t.len; i++)
		if (!strchr(" \t\r\n", t.data[i]))
			break;
	if (i == t.len) {
		json_text_release(&t);
		return 0;
	}
	p->doc = json_parse(t.data, t.len, &o, NULL, e);
	if (json_text_release(&t)) {
		cJSON_Delete(p->doc);
		p->doc = NULL;
		return err_set(e, EX_IOERR_, "%s changed while it was read (someone truncated it)",
		    name);
	}
	if (!p->doc) {
		e->code = EX_DOC;
		return err_prefix(e, "invalid pipeline document");
	}
	if (pipeline_validate(p->doc, e) < 0) {
		cJSON_Delete(p->doc);
		p->doc = NULL;
		return err_prefix(e, "invalid pipeline document on %s", name);
	}
	return 1;
}

int
pipeline_start(struct pipeline *p, const char *version, struct err *e)
{
	struct git_source gs;
	struct err gerr = { 0, "" };
	cJSON *run, *source;
	char when[32], id[64], tag[17];
	time_t t = (time_t)(now_ms() / 1000);
	p->started = 1;
	p->doc = cJSON_CreateObject();
	cJSON_AddNumberToObject(p->doc, "ci", PIPELINE_VERSION);
	run = cJSON_AddObjectToObject(p->doc, "run");
	if (git_source_read(&gs, &gerr) < 0)
		log_warn("%s; run.source has no commit", gerr.msg);
	format_rfc3339(t, when, sizeof(when));
	/* The id sorts by time and names the commit: 20261126T090000Z-abc123f. */
	{
		char compact[32];
		size_t i, j = 0;

		for (i = 0; when[i]; i++)
			if (when[i] != '-' && when[i] != ':')
				compact[j++] = when[i];
		compact[j] = '\0';
		if (gs.commit)
			snprintf(tag, sizeof(tag), "%.7s", gs.commit);
		else if (random_hex(tag, 7) < 0) {
			git_source_free(&gs);
			cJSON_Delete(p->doc);
			p->doc = NULL;
			return err_set(e, EX_INTERNAL, "cannot make a run id: the random "
			    "generator failed");
		}
		snprintf(id, sizeof(id), "%s-%s", compact, tag);
	}
	cJSON_AddStringToObject(run, "id", id);
	cJSON_AddStringToObject(run, "started_at", when);
	source = cJSON_AddObjectToObject(run, "source");
	if (gs.repository)
		cJSON_AddStringToObject(source, "repository", gs.repository);
	if (gs.commit)
		cJSON_AddStringToObject(source, "commit", gs.commit);
	if (gs.ref)
		cJSON_AddStringToObject(source, "ref", gs.ref);
	if (gs.commit_time >= 0)
		json_add_i64(source, "commit_time", gs.commit_time);
	if (version)
		cJSON_AddStringToObject(source, "version", version);
	git_source_free(&gs);
	cJSON_AddStringToObject(p->doc, "status", "running");
	cJSON_AddArrayToObject(p->doc, "stages");
	return 0;
}

/*
 * A terminal or another character device (/dev/null, as CI steps and
 * "cmd </dev/null" give) carries no document: start one.  A pipe or a
 * file is read, and an empty one means the stage before died.
 */
static int
stdin_has_document(void)
{
	struct stat st;

	if (isatty(0))
		return 0;
	if (fstat(0, &st) == 0 && S_ISCHR(st.st_mode))
		return 0;
	return 1;
}

int
pipeline_open(struct pipeline *p, int read_stdin, int first_stage,
    const char *version, struct err *e)
{
	int rc = 0;

	p->doc = NULL;
	p->started = 0;
	if (read_stdin && stdin_has_document()) {
		rc = pipeline_read(p, 0, "<stdin>", e);
		if (rc < 0)
			return -1;
		if (rc == 0 && !first_stage)
			return err_set(e, EX_DOC, "no pipeline document on stdin (did the previous "
			    "stage fail? use --new to start one)");
	}
	if (!p->doc)
		return pipeline_start(p, version, e);
	return 0;
}

int
pipeline_skip_upstream(struct pipeline *p, const char *name, const char *verb)
{
	const char *failed = pipeline_failed_stage(p);
	char *fs;

	if (!failed)
		return 0;
	fs = xstrdup(failed);	/* borrowed from the section being replaced */
	log_warn("not %s: upstream stage '%s' failed", verb, fs);
	pipeline_skip(p, name, fs);
	free(fs);
	return 1;
}

cJSON *
pipeline_section(const cJSON *doc, const char *name)
{
	const char *dot = strchr(name, '.');
	const cJSON *parent;
	char *key;

	if (!dot)
		return cJSON_GetObjectItemCaseSensitive(doc, name);
	key = xstrndup(name, (size_t)(dot - name));
	parent = cJSON_GetObjectItemCaseSensitive(doc, key);
	free(key);
	return cJSON_IsObject(parent) ? cJSON_GetObjectItemCaseSensitive(parent, dot + 1) : NULL;
}

/* doc[name] = section, or doc[KEY][SUB] for a name KEY.SUB. */
static void
put_section(cJSON *doc, const char *name, cJSON *section)
{
	const char *dot = strchr(name, '.');
	cJSON *parent;
	char *key;

	if (!dot) {
		json_set(doc, name, section);
		return;
	}
	key = xstrndup(name, (size_t)(dot - name));
	parent = cJSON_GetObjectItemCaseSensitive(doc, key);
	if (!cJSON_IsObject(parent)) {
		parent = cJSON_CreateObject();
		json_set(doc, key, parent);
	}
	json_set(parent, dot + 1, section);
	free(key);
}

const char *
pipeline_failed_stage(const struct pipeline *p)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(p->doc, "stages"), *s;

	cJSON_ArrayForEach(s, st) {
		const char *status = json_str(s, "status");

		if (status && (!strcmp(status, "failed") || !strcmp(status, "error")))
			return json_str(s, "name");
	}
	/* A document marked failed with no failed stage still blocks. */
	{
		const char *status = json_str(p->doc, "status");

		if (status && !strcmp(status, "failed"))
			return "(unknown)";
	}
	return NULL;
}

void
pipeline_set_section(struct pipeline *p, const char *name, cJSON *section,
    long long started_wall_ms, long long duration_ms)
{
	cJSON *stages, *entry, *s;
	const char *status = json_str(section, "status");
	char when[32];

	if (!status)
		status = "error";
	entry = cJSON_CreateObject();
	cJSON_AddStringToObject(entry, "name", name);
	cJSON_AddStringToObject(entry, "status", status);
	format_rfc3339((time_t)(started_wall_ms / 1000), when, sizeof(when));
	cJSON_AddStringToObject(entry, "started_at", when);
	json_add_i64(entry, "duration_ms", duration_ms);

	stages = cJSON_GetObjectItemCaseSensitive(p->doc, "stages");
	if (!cJSON_IsArray(stages)) {
		stages = cJSON_CreateArray();
		json_set(p->doc, "stages", stages);
	}
	{
		int i = 0, at = -1;

		cJSON_ArrayForEach(s, stages) {
			const char *n = json_str(s, "name");

			if (n && !strcmp(n, name))
				at = i;
			i++;
		}
		if (at >= 0)
			cJSON_ReplaceItemInArray(stages, at, entry);
		else
			cJSON_AddItemToArray(stages, entry);
	}
	if (!strcmp(status, "failed") || !strcmp(status, "error"))
		json_set(p->doc, "status", cJSON_CreateString("failed"));
	else if (!cJSON_GetObjectItemCaseSensitive(p->doc, "status"))
		json_set(p->doc, "status", cJSON_CreateString("running"));
	put_section(p->doc, name, section);
}

void
pipeline_skip(struct pipeline *p, const char *name, const char *failed_stage)
{
	cJSON *sec = cJSON_CreateObject();
	char *why = xasprintf("upstream stage '%s' failed", failed_stage);
	long long t = now_ms();

	cJSON_AddStringToObject(sec, "status", "skipped");
	cJSON_AddStringToObject(sec, "reason", why);
	cJSON_AddStringToObject(sec, "failed_stage", failed_stage);
	free(why);
	pipeline_set_section(p, name, sec, t, 0);
}

int
pipeline_write(const struct pipeline *p, FILE *out, struct err *e)
{
	if (json_write(out, p->doc) < 0 || putc('\n', out) == EOF || fflush(out) == EOF ||
	    ferror(out))
		return err_set(e, EX_IOERR_, "cannot write the pipeline document: %s",
		    strerror(errno));
	return 0;
}

void
pipeline_free(struct pipeline *p)
{
	cJSON_Delete(p->doc);
	p->doc = NULL;
}

const char *
state_dir(void)
{
	const char *d = getenv("CI_STATE_DIR");

	return d && *d ? d : STATE_DIR_DEFAULT;
}
