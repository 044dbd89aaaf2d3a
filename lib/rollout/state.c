/*
 * state: the rollout's snapshot, journal and lock (state.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/json.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "rollout/state.h"

#define SNAPSHOT_MAX (16u << 20)

static char *
path_of(const struct rollout_state *st, const char *suffix)
{
	return xasprintf("%s/%s%s", st->dir, st->app, suffix);
}

int
rollout_state_open(struct rollout_state *st, const char *state_dir, const char *app,
    int lock, struct err *e)
{
	char *p;
	const char *c;

	memset(st, 0, sizeof(*st));
	st->lock_fd = -1;
	/* The app names files: keep it to a plain name. */
	for (c = app; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.'))
			break;
	if (!*app || *c || app[0] == '.' || strlen(app) > 100)
		return err_set(e, EX_USAGE_,
		    "app name '%s': use letters, digits, '-', '_' and '.' (at most 100)", app);
	st->app = xstrdup(app);
	st->dir = xasprintf("%s/canary", state_dir);
	if (mkdir_p(st->dir, 0755, e) < 0)
		return -1;
	if (lock) {
		p = path_of(st, ".lock");
		st->lock_fd = lock_file(p, 0, e);
		free(p);
		if (st->lock_fd < 0)
			return err_prefix(e, "another rollout of '%s' is running", app);
	}
	return 0;
}

static char *
dup_str(const cJSON *o, const char *k)
{
	const char *s = json_str(o, k);

	return s ? xstrdup(s) : NULL;
}

static long long
get_ll(const cJSON *o, const char *k)
{
	long long v = 0;

	json_get_i64(cJSON_GetObjectItemCaseSensitive(o, k), &v);
	return v;
}

int
rollout_state_load(struct rollout_state *st, struct err *e)
{
	struct json_opts jo = { NULL, 0, 0 };
	char *p = path_of(st, ".json"), *text;
	size_t len;
	cJSON *j, *sec;

	if (!path_exists(p)) {
		free(p);
		return 0;
	}
	text = read_file(p, SNAPSHOT_MAX, &len, e);
	if (!text) {
		free(p);
		return -1;
	}
	jo.name = p;
	j = json_parse(text, len, &jo, NULL, e);
	free(text);
	if (!j || !cJSON_IsObject(j) || !json_str(j, "status") || !json_str(j, "app")) {
		if (j)
			err_set(e, EX_IOERR_, "%s: not a rollout snapshot", p);
		cJSON_Delete(j);
		err_prefix(e, "the rollout state is damaged (move it away to start over)");
		e->code = EX_IOERR_;
		free(p);
		return -1;
	}
	free(p);
	free(st->image);
	free(st->status);
	free(st->stable_slot);
	free(st->canary_slot);
	free(st->reason);
	cJSON_Delete(st->section);
	st->image = dup_str(j, "image");
	st->status = dup_str(j, "status");
	st->stable_slot = dup_str(j, "stable_slot");
	st->canary_slot = dup_str(j, "canary_slot");
	st->reason = dup_str(j, "reason");
	st->step = (int)get_ll(j, "step");
	st->step_started_ms = get_ll(j, "step_started_ms");
	st->step_deadline_ms = get_ll(j, "step_deadline_ms");
	st->step_pause_end_ms = get_ll(j, "step_pause_end_ms");
	st->failures = (int)get_ll(j, "failures");
	st->consecutive_errors = (int)get_ll(j, "consecutive_errors");
	st->approved = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "approved"));
	sec = cJSON_DetachItemFromObjectCaseSensitive(j, "section");
	st->section = cJSON_IsObject(sec) ? sec : NULL;
	if (!st->section)
		cJSON_Delete(sec);
	cJSON_Delete(j);
	return 1;
}

static void
add_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

int
rollout_state_save(const struct rollout_state *st, struct err *e)
{
	cJSON *j = cJSON_CreateObject();
	char *p, *text;
	int rc;

	cJSON_AddStringToObject(j, "app", st->app);
	add_str(j, "image", st->image);
	add_str(j, "status", st->status ? st->status : "running");
	add_str(j, "stable_slot", st->stable_slot);
	add_str(j, "canary_slot", st->canary_slot);
	cJSON_AddNumberToObject(j, "step", st->step);
	json_add_i64(j, "step_started_ms", st->step_started_ms);
	json_add_i64(j, "step_deadline_ms", st->step_deadline_ms);
	json_add_i64(j, "step_pause_end_ms", st->step_pause_end_ms);
	cJSON_AddNumberToObject(j, "failures", st->failures);
	cJSON_AddNumberToObject(j, "consecutive_errors", st->consecutive_errors);
	cJSON_AddBoolToObject(j, "approved", st->approved);
	add_str(j, "reason", st->reason);
	if (st->section)
		cJSON_AddItemToObject(j, "section", cJSON_Duplicate(st->section, 1));
	text = json_print(j);
	cJSON_Delete(j);
	p = path_of(st, ".json");
	rc = atomic_write(p, text, strlen(text), 0644, e);
	free(p);
	free(text);
	return rc;
}

int
rollout_state_event(const struct rollout_state *st, const char *event, cJSON *fields,
    struct err *e)
{
	cJSON *j = cJSON_CreateObject(), *c;
	char at[40], *text, *p;
	long long now = now_ms();
	size_t len;
	int fd, rc = 0;

	format_rfc3339_ms(now, at, sizeof(at));
	/* "at" and "event" first: easier to read with grep. */
	cJSON_AddStringToObject(j, "at", at);
	cJSON_AddStringToObject(j, "event", event);
	while (fields && (c = fields->child)) {
		cJSON_DetachItemViaPointer(fields, c);
		/* The journal's own time and name win over a field's. */
		if (!strcmp(c->string, "at") || !strcmp(c->string, "event")) {
			cJSON_Delete(c);
			continue;
		}
		cJSON_AddItemToObject(j, c->string, c);
	}
	cJSON_Delete(fields);
	text = json_print(j);
	cJSON_Delete(j);
	len = strlen(text);
	text = xrealloc(text, len + 2);
	text[len++] = '\n';
	text[len] = '\0';
	p = path_of(st, ".events.jsonl");
	fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = err_set(e, EX_IOERR_, "cannot open '%s': %s", p, strerror(errno));
	} else {
		rc = append_whole(fd, p, text, len, e);
		if (close(fd) != 0 && rc == 0)
			rc = err_set(e, EX_IOERR_, "cannot write '%s': %s", p, strerror(errno));
	}
	free(p);
	free(text);
	return rc;
}

void
rollout_state_reset(struct rollout_state *st, const char *image)
{
	free(st->image);
	free(st->status);
	free(st->reason);
	cJSON_Delete(st->section);
	st->image = image ? xstrdup(image) : NULL;
	st->status = xstrdup("running");
	st->reason = NULL;
	st->section = NULL;
	st->step = 0;
	st->step_started_ms = st->step_deadline_ms = st->step_pause_end_ms = 0;
	st->failures = st->consecutive_errors = 0;
	st->approved = 0;
}

void
rollout_state_free(struct rollout_state *st)
{
	if (st->lock_fd >= 0)
		unlock_file(st->lock_fd);
	free(st->app);
	free(st->image);
	free(st->status);
	free(st->stable_slot);
	free(st->canary_slot);
	free(st->reason);
	free(st->dir);
	cJSON_Delete(st->section);
	memset(st, 0, sizeof(*st));
	st->lock_fd = -1;
}
