/*
 * lease: the rollout lock runners share through a git remote (lease.h).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "core/encode.h"
#include "core/git.h"
#include "core/gitref.h"
#include "core/json.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "rollout/lease.h"

#define LEASE_TRIES 10

/* "HOST:/abs/state/dir": who this runner is. */
static char *
holder_of(const char *state_dir)
{
	char host[256] = "localhost", dir[PATH_MAX];

	if (gethostname(host, sizeof(host)) < 0 || !*host)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if (!realpath(state_dir, dir))
		snprintf(dir, sizeof(dir), "%s", state_dir);
	return xasprintf("%s:%s", host, dir);
}

/* The lease's holder in text, or NULL (garbage is nobody's). */
static cJSON *
parse_lease(const char *text, size_t len)
{
	struct json_opts o = { LEASE_FILE, 0, 0 };
	struct err e = { 0, "" };
	cJSON *j = json_parse(text, len, &o, NULL, &e);

	if (j && !json_str(j, "holder")) {
		cJSON_Delete(j);
		j = NULL;
	}
	return j;
}

static int
lease_set(const char *state_dir, const char *where, const char *app, const char *image,
    int take, struct err *e)
{
	struct gitref g;
	char *ref = xasprintf("refs/ci/lock/%s", app), *me = holder_of(state_dir);
	int try, rc = -1;

	if (gitref_open(&g, state_dir, where, ref, e) < 0) {
		free(ref);
		free(me);
		return -1;
	}
	for (try = 0; try < LEASE_TRIES; try++) {
		char oid[GITREF_OID_MAX], *text = NULL, *body = NULL, since[40];
		size_t len = 0;
		cJSON *cur = NULL, *o;
		struct gitref_file f;
		int r;

		if (gitref_fetch(&g, oid, e) < 0 || gitref_read(&g, oid, LEASE_FILE, &text, &len, e) < 0)
			break;
		cur = text ? parse_lease(text, len) : NULL;
		free(text);
		if (cur && strcmp(json_str(cur, "holder"), me)) {
			if (take) {
				char *remote = url_redact(where + 4);

				err_set(e, EX_USAGE_, "a rollout of '%s' is held by another runner, %s "
				    "(%s, since %s); when that runner is gone for good, clear it with "
				    "'git push %s :%s'", app, json_str(cur, "holder"),
				    json_str(cur, "image") ? json_str(cur, "image") : "?",
				    json_str(cur, "since") ? json_str(cur, "since") : "?", remote, ref);
				free(remote);
			} else {
				rc = 0;
			}
			cJSON_Delete(cur);
			break;
		}
		if ((take && cur) || (!take && !*oid)) {
			/* Ours already, or nothing to drop. */
			cJSON_Delete(cur);
			rc = 0;
			break;
		}
		cJSON_Delete(cur);
		if (take) {
			o = cJSON_CreateObject();
			format_rfc3339_ms(now_ms(), since, sizeof(since));
			cJSON_AddStringToObject(o, "holder", me);
			cJSON_AddStringToObject(o, "image", image ? image : "");
			cJSON_AddStringToObject(o, "since", since);
			cJSON_AddNumberToObject(o, "pid", (double)getpid());
			body = json_print(o);
			cJSON_Delete(o);
		}
		f.name = LEASE_FILE;
		f.data = body;
		f.len = body ? strlen(body) : 0;
		r = gitref_write(&g, oid, &f, take ? 1 : 0, "ci-canary: rollout lease", e);
		free(body);
		if (r <= 0) {
			rc = r;
			break;
		}
		sleep_ms(50 + 50 * try, NULL);
	}
	if (rc < 0 && !e->code)
		err_set(e, EX_SERVICE, "%s: lost the race to other runners %d times", g.name,
		    LEASE_TRIES);
	gitref_close(&g);
	free(ref);
	free(me);
	return rc;
}

int
lease_take(const char *state_dir, const char *where, const char *app, const char *image,
    struct err *e)
{
	return lease_set(state_dir, where, app, image, 1, e);
}

int
lease_drop(const char *state_dir, const char *where, const char *app, struct err *e)
{
	return lease_set(state_dir, where, app, NULL, 0, e);
}
