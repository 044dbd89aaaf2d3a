/*
 * spec: the gate's jobs from a spec file and the command line.  See spec.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "gate/builtin.h"
#include "gate/spec.h"

/* The keys every job has; a built-in job's other keys are its options. */
static const char *const generic_keys[] = {
	"builtin", "needs", "timeout", "env", "cwd", "allow_failure", NULL
};

static int
spec_string_list(const struct json_src *src, const cJSON *v, const char *path,
    char ***out, struct err *e)
{
	const cJSON *it;
	int i = 0;

	if (cJSON_IsString(v)) {
		*out = strv_push(*out, v->valuestring);
		return 0;
	}
	if (!cJSON_IsArray(v))
		return json_error_at(e, src, v, path, "expected a string or an array of strings");
	cJSON_ArrayForEach(it, v) {
		if (!cJSON_IsString(it))
			return json_error_at(e, src, it, path, "item %d: expected a string", i);
		*out = strv_push(*out, it->valuestring);
		i++;
	}
	return 0;
}

static int
spec_duration(const struct json_src *src, const cJSON *v, const char *path,
    long long *ms, struct err *e)
{
	const char *why = NULL;

	if (!cJSON_IsString(v))
		return json_error_at(e, src, v, path, "expected a duration string such as \"10m\"");
	if (parse_duration(v->valuestring, ms, &why) < 0)
		return json_error_at(e, src, v, path, "bad duration '%s': %s", v->valuestring,
		    why ? why : "invalid");
	return 0;
}

static int
spec_percent(const struct json_src *src, const cJSON *v, const char *path,
    double *out, struct err *e)
{
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 100)
		return json_error_at(e, src, v, path, "expected a percentage from 0 to 100");
	*out = v->valuedouble;
	return 0;
}

static int
spec_coverage(const struct json_src *src, struct gate_job *j, const cJSON *cov,
    const char *path, struct err *e)
{
	const cJSON *it;
	char p[512];

	if (!cJSON_IsObject(cov))
		return json_error_at(e, src, cov, path, "expected an object");
	cJSON_ArrayForEach(it, cov) {
		int fmt = coverage_format(it->string);

		snprintf(p, sizeof(p), "%s.%s", path, it->string);
		if (fmt >= 0) {
			if (j->cov_format >= 0)
				return json_error_at(e, src, it, p, "only one of lcov, cobertura, istanbul may be given");
			if (!cJSON_IsString(it) || !*it->valuestring)
				return json_error_at(e, src, it, p, "expected the report's path");
			j->cov_format = fmt;
			j->cov_path = xstrdup(it->valuestring);
		} else if (!strcmp(it->string, "min_lines")) {
			if (spec_percent(src, it, p, &j->min_lines, e) < 0)
				return -1;
		} else if (!strcmp(it->string, "min_branches")) {
			if (spec_percent(src, it, p, &j->min_branches, e) < 0)
				return -1;
		} else {
			return json_error_at(e, src, it, p, "unknown key (expected lcov, cobertura, istanbul, min_lines, min_branches)");
		}
	}
	if (j->cov_format < 0)
		return json_error_at(e, src, cov, path, "needs the report: one of lcov, cobertura, istanbul");
	return 0;
}

/* Check a built-in job's options where they are written, and keep them
 * (without the generic keys) as the JSON text its child will read. */
static int
builtin_options(const struct json_src *src, struct gate_job *j, const cJSON *def,
    const char *path, struct err *e)
{
	struct err be = { 0, "" };
	const cJSON *bad = NULL;
	cJSON *dup;
	size_t i;

	if (gate_builtin_check(j->builtin, def, generic_keys, &bad, &be) < 0) {
		char where[512];

		json_where(src, bad ? bad : def, where, sizeof(where));
		return err_set(e, EX_USAGE_, "%s: %s.%s", where, path, be.msg);
	}
	dup = cJSON_Duplicate(def, 1);
	for (i = 0; generic_keys[i]; i++)
		cJSON_DeleteItemFromObjectCaseSensitive(dup, generic_keys[i]);
	j->bopts = json_print(dup);
	cJSON_Delete(dup);
	return 0;
}

static int
spec_env(const struct json_src *src, struct gate_job *j, const cJSON *it, const char *p,
    struct err *e)
{
	const cJSON *kv;

	if (!cJSON_IsObject(it))
		return json_error_at(e, src, it, p, "expected an object of strings");
	cJSON_ArrayForEach(kv, it) {
		char *pair;

		if (!*kv->string || strchr(kv->string, '='))
			return json_error_at(e, src, kv, p, "bad variable name '%s'", kv->string);
		if (!cJSON_IsString(kv))
			return json_error_at(e, src, kv, p, "%s: expected a string", kv->string);
		pair = xasprintf("%s=%s", kv->string, kv->valuestring);
		j->env = strv_push(j->env, pair);
		free(pair);
	}
	return 0;
}

/* One key of a job's definition. */
static int
spec_key(const struct json_src *src, struct gate_job *j, const cJSON *it, const char *p,
    struct err *e)
{
	const char *k = it->string;

	if (j->builtin && (!strcmp(k, "run") || !strcmp(k, "argv") || !strcmp(k, "junit") ||
	    !strcmp(k, "coverage")))
		return json_error_at(e, src, it, p, "not allowed in a built-in job");
	if (!strcmp(k, "run")) {
		if (!cJSON_IsString(it) || !*it->valuestring)
			return json_error_at(e, src, it, p, "expected a shell command");
		j->run = xstrdup(it->valuestring);
	} else if (!strcmp(k, "argv")) {
		if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) == 0)
			return json_error_at(e, src, it, p, "expected a non-empty array of strings");
		return spec_string_list(src, it, p, &j->argv, e);
	} else if (!strcmp(k, "needs")) {
		return spec_string_list(src, it, p, &j->needs, e);
	} else if (!strcmp(k, "timeout")) {
		return spec_duration(src, it, p, &j->timeout_ms, e);
	} else if (!strcmp(k, "env")) {
		return spec_env(src, j, it, p, e);
	} else if (!strcmp(k, "cwd")) {
		if (!cJSON_IsString(it) || !*it->valuestring)
			return json_error_at(e, src, it, p, "expected a directory");
		j->cwd = xstrdup(it->valuestring);
	} else if (!strcmp(k, "allow_failure")) {
		if (!cJSON_IsBool(it))
			return json_error_at(e, src, it, p, "expected true or false");
		j->allow_failure = cJSON_IsTrue(it);
	} else if (!strcmp(k, "junit")) {
		return spec_string_list(src, it, p, &j->junit, e);
	} else if (!strcmp(k, "coverage")) {
		return spec_coverage(src, j, it, p, e);
	} else if (!strcmp(k, "builtin") || j->builtin) {
		/* checked by spec_job(); a built-in's option, checked there too */
	} else {
		return json_error_at(e, src, it, p, "unknown key");
	}
	return 0;
}

static int
spec_job(const struct json_src *src, struct gate *g, const cJSON *def, struct err *e)
{
	const cJSON *it, *bi;
	struct gate_job *j;
	char path[256], p[300];

	snprintf(path, sizeof(path), "jobs.%s", def->string);
	if (!gate_job_name_valid(def->string))
		return json_error_at(e, src, def, path, "bad job name (letters, digits, '_', '.', '-')");
	if (!cJSON_IsObject(def))
		return json_error_at(e, src, def, path, "expected an object");
	j = gate_job_add(g, def->string);
	bi = cJSON_GetObjectItemCaseSensitive(def, "builtin");
	if (bi) {
		snprintf(p, sizeof(p), "%s.builtin", path);
		if (!cJSON_IsString(bi))
			return json_error_at(e, src, bi, p, "expected \"secrets\" or \"review\"");
		if (!gate_builtin_known(bi->valuestring))
			return json_error_at(e, src, bi, p, "unknown built-in '%s' (expected secrets or review)",
			    bi->valuestring);
		j->builtin = xstrdup(bi->valuestring);
	}
	cJSON_ArrayForEach(it, def) {
		snprintf(p, sizeof(p), "%s.%s", path, it->string);
		if (spec_key(src, j, it, p, e) < 0)
			return -1;
	}
	if (j->builtin)
		return builtin_options(src, j, def, path, e);
	if (j->run && j->argv)
		return json_error_at(e, src, def, path, "give either run or argv, not both");
	if (!j->run && !j->argv)
		return json_error_at(e, src, def, path, "needs run (a shell command), argv or builtin");
	return 0;
}

/* One top-level key of the spec. */
static int
spec_top(const struct json_src *src, struct gate *g, const cJSON *it, struct err *e)
{
	const char *k = it->string;
	const cJSON *def;

	if (!strcmp(k, "jobs")) {
		if (!cJSON_IsObject(it))
			return json_error_at(e, src, it, k, "expected an object of jobs");
		cJSON_ArrayForEach(def, it)
			if (spec_job(src, g, def, e) < 0)
				return -1;
	} else if (!strcmp(k, "timeout")) {
		return spec_duration(src, it, k, &g->timeout_ms, e);
	} else if (!strcmp(k, "max_parallel")) {
		if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > 1024 ||
		    it->valuedouble != (double)(int)it->valuedouble)
			return json_error_at(e, src, it, k, "expected an integer from 1 to 1024");
		g->max_parallel = (size_t)it->valuedouble;
	} else if (!strcmp(k, "fail_fast")) {
		if (!cJSON_IsBool(it))
			return json_error_at(e, src, it, k, "expected true or false");
		g->fail_fast = cJSON_IsTrue(it);
	} else if (strcmp(k, "$schema") != 0 && strcmp(k, "description") != 0) {
		/* ($schema and description are for humans and editors) */
		return json_error_at(e, src, it, k, "unknown key");
	}
	return 0;
}

int
gate_spec_load(struct gate *g, const char *file, struct err *e)
{
	struct json_src src = { NULL, NULL, 0, 0 };
	cJSON *root, *it;
	int rc = -1;

	root = json_load(file, GATE_SPEC_MAX_BYTES, 1, &src, e);
	if (!root) {
		json_src_free(&src);
		e->code = EX_USAGE_;
		return -1;
	}
	if (!cJSON_IsObject(root)) {
		json_error_at(e, &src, root, "(top)", "expected an object with \"jobs\"");
		goto out;
	}
	cJSON_ArrayForEach(it, root)
		if (spec_top(&src, g, it, e) < 0)
			goto out;
	if (!cJSON_GetObjectItemCaseSensitive(root, "jobs")) {
		json_error_at(e, &src, root, "jobs", "missing");
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(root);
	json_src_free(&src);
	return rc;
}

int
gate_inline_check(const char *arg, struct err *e)
{
	const char *eq = strchr(arg, '=');
	char *name;
	int ok;

	if (!eq || eq == arg || !eq[1])
		return err_set(e, EX_USAGE_, "-g '%s': expected NAME=COMMAND", arg);
	name = xstrndup(arg, (size_t)(eq - arg));
	ok = gate_job_name_valid(name);
	if (!ok)
		err_set(e, EX_USAGE_, "-g '%s': bad job name '%s' (letters, digits, '_', '.', '-')",
		    arg, name);
	free(name);
	return ok ? 0 : -1;
}

int
gate_add_inline(struct gate *g, const char *arg, struct err *e)
{
	const char *eq = strchr(arg, '=');
	char *name;
	struct gate_job *j;

	if (gate_inline_check(arg, e) < 0)
		return -1;
	name = xstrndup(arg, (size_t)(eq - arg));
	if (gate_job_find(g, name)) {
		err_set(e, EX_USAGE_, "-g: job '%s' is defined twice", name);
		free(name);
		return -1;
	}
	j = gate_job_add(g, name);
	j->run = xstrdup(eq + 1);
	free(name);
	return 0;
}

int
gate_add_needs(struct gate *g, const char *arg, struct err *e)
{
	const char *colon = strchr(arg, ':');
	struct gate_job *j;
	char *name, *copy, *tok, *save = NULL;

	if (!colon || colon == arg || !colon[1])
		return err_set(e, EX_USAGE_, "--needs '%s': expected JOB:DEP[,DEP...]", arg);
	name = xstrndup(arg, (size_t)(colon - arg));
	j = gate_job_find(g, name);
	if (!j) {
		err_set(e, EX_USAGE_, "--needs %s: no job named '%s'", arg, name);
		free(name);
		return -1;
	}
	free(name);
	copy = xstrdup(colon + 1);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		j->needs = strv_push(j->needs, tok);
	free(copy);
	return 0;
}

int
gate_add_builtin(struct gate *g, const char *name, const char *builtin,
    const cJSON *opts, struct err *e)
{
	struct gate_job *j;

	if (!gate_builtin_known(builtin))
		return err_set(e, EX_USAGE_, "unknown built-in '%s' (expected secrets or review)",
		    builtin);
	if (gate_builtin_check(builtin, opts, NULL, NULL, e) < 0)
		return -1;
	if (gate_job_find(g, name))
		return err_set(e, EX_USAGE_, "job '%s' is defined twice", name);
	j = gate_job_add(g, name);
	j->builtin = xstrdup(builtin);
	j->bopts = json_print(opts);
	return 0;
}
