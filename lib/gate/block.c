/*
 * block: the rollback block file.  See block.h.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "gate/block.h"
#include "core/buf.h"
#include "core/encode.h"
#include "core/fsutil.h"
#include "core/gitref.h"
#include "core/json.h"
#include "core/timeutil.h"

static int
valid_digest(const char *s)
{
	const char *colon = strchr(s, ':');
	size_t i;

	if (!colon || colon == s || !colon[1])
		return 0;
	for (i = 0; s + i < colon; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && !strchr("+._-", s[i]))
			return 0;
	for (i = 1; colon[i]; i++)
		if (!isxdigit((unsigned char)colon[i]))
			return 0;
	return strncmp(s, "sha256:", 7) != 0 || strlen(colon + 1) == 64;
}

/* The block in text (name for messages) into b (b->path set by the
 * caller): 1, or -1 with e. */
static int
block_parse(const char *text, size_t len, const char *name, struct block *b, struct err *e)
{
	struct json_opts o = { name, 0, 0 };
	struct json_src src = { NULL, NULL, 0, 0 };
	cJSON *root;
	const char *keys[] = { "since", "release", "digest", "reason" };
	char **dst[4];
	size_t i;
	int rc = -1;

	root = json_parse(text, len, &o, &src, e);
	if (!root) {
		json_src_free(&src);
		return -1;
	}
	dst[0] = &b->since;
	dst[1] = &b->release;
	dst[2] = &b->digest;
	dst[3] = &b->reason;
	if (!cJSON_IsObject(root)) {
		err_set(e, EX_USAGE_, "%s: expected a JSON object", name);
		goto out;
	}
	for (i = 0; i < 4; i++) {
		const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, keys[i]);
		char where[512];

		if (!it) {
			err_set(e, EX_USAGE_, "%s: %s: missing", name, keys[i]);
			goto out;
		}
		json_where(&src, it, where, sizeof(where));
		if (!cJSON_IsString(it) || !*it->valuestring) {
			err_set(e, EX_USAGE_, "%s: %s: expected a non-empty string", where, keys[i]);
			goto out;
		}
		*dst[i] = xstrdup(it->valuestring);
	}
	{
		time_t t;

		if (parse_rfc3339(b->since, &t) < 0) {
			err_set(e, EX_USAGE_, "%s: since: '%s' is not an RFC 3339 time", name, b->since);
			goto out;
		}
	}
	/* "unknown": a release rolled out by tag, whose digest nobody saw. */
	if (!valid_digest(b->digest) && strcmp(b->digest, "unknown")) {
		err_set(e, EX_USAGE_, "%s: digest: '%s' is not a digest such as sha256:<64 hex "
		    "digits>, nor \"unknown\"", name, b->digest);
		goto out;
	}
	rc = 1;
out:
	cJSON_Delete(root);
	json_src_free(&src);
	return rc;
}

int
block_read(const char *dir, struct block *b, struct err *e)
{
	struct stat sb;
	char *text;
	size_t len;
	int rc;

	memset(b, 0, sizeof(*b));
	b->path = xasprintf("%s/%s", dir ? dir : state_dir(), BLOCK_FILE);
	if (stat(b->path, &sb) < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			free(b->path);
			b->path = NULL;
			return 0;
		}
		return err_set(e, EX_IOERR_, "cannot tell whether '%s' exists: %s", b->path,
		    strerror(errno));
	}
	if (!(text = json_slurp(b->path, BLOCK_MAX_BYTES, &len, e)))
		return -1;
	rc = block_parse(text, len, b->path, b, e);
	free(text);
	return rc;
}

int
block_read_shared(const char *where, struct block *b, struct err *e)
{
	struct gitref g;
	char oid[GITREF_OID_MAX], *text = NULL;
	size_t len = 0;
	int rc;

	memset(b, 0, sizeof(*b));
	if (gitref_open(&g, state_dir(), where, BLOCK_REF, e) < 0)
		return -1;
	b->path = xasprintf("%s:%s", g.name, BLOCK_FILE);
	rc = gitref_fetch(&g, oid, e);
	if (rc == 0)
		rc = gitref_read(&g, oid, BLOCK_FILE, &text, &len, e);
	if (rc > 0)
		rc = block_parse(text, len, b->path, b, e);
	if (rc == 0) {
		free(b->path);
		b->path = NULL;
	}
	free(text);
	gitref_close(&g);
	return rc;
}

/* The block's JSON text, with a newline; owned. */
static char *
block_text(const struct block *b)
{
	cJSON *o = cJSON_CreateObject();
	char when[32], *text, *withnl;

	if (b->since) {
		cJSON_AddStringToObject(o, "since", b->since);
	} else {
		format_rfc3339(time(NULL), when, sizeof(when));
		cJSON_AddStringToObject(o, "since", when);
	}
	cJSON_AddStringToObject(o, "release", b->release ? b->release : "");
	cJSON_AddStringToObject(o, "digest", b->digest ? b->digest : "");
	cJSON_AddStringToObject(o, "reason", b->reason ? b->reason : "");
	text = json_print(o);
	cJSON_Delete(o);
	withnl = xasprintf("%s\n", text);
	free(text);
	return withnl;
}

/* Write (text) or remove (NULL) the shared block, winning any race. */
static int
shared_set(const char *where, const char *text, struct err *e)
{
	struct gitref g;
	int try, rc = -1;

	if (gitref_open(&g, state_dir(), where, BLOCK_REF, e) < 0)
		return -1;
	for (try = 0; try < 10; try++) {
		char oid[GITREF_OID_MAX];
		struct gitref_file f = { BLOCK_FILE, text, text ? strlen(text) : 0 };

		if (gitref_fetch(&g, oid, e) < 0)
			break;
		if (!text && !*oid) {
			rc = 0;
			break;
		}
		rc = gitref_write(&g, oid, &f, text ? 1 : 0, "ci-rollback: the block", e);
		if (rc <= 0)
			break;
		rc = -1;
		sleep_ms(100, NULL);
	}
	if (rc < 0 && !e->code)
		err_set(e, EX_SERVICE, "%s: lost the race to other runners 10 times", g.name);
	gitref_close(&g);
	return rc;
}

int
block_write_shared(const char *where, const struct block *b, struct err *e)
{
	char *text = block_text(b);
	int rc = shared_set(where, text, e);

	free(text);
	return rc;
}

int
block_remove_shared(const char *where, struct err *e)
{
	return shared_set(where, NULL, e);
}

int
block_write(const char *dir, const struct block *b, struct err *e)
{
	char *text = block_text(b), *path;
	int rc;

	if (!dir)
		dir = state_dir();
	path = xasprintf("%s/%s", dir, BLOCK_FILE);
	rc = mkdir_p(dir, 0755, e) < 0 ? -1 : atomic_write(path, text, strlen(text), 0644, e);
	free(path);
	free(text);
	return rc;
}

void
block_free(struct block *b)
{
	free(b->path);
	free(b->since);
	free(b->release);
	free(b->digest);
	free(b->reason);
	memset(b, 0, sizeof(*b));
}

int
block_check(int ignore, const char *shared, cJSON **info, cJSON **section)
{
	struct block b;
	struct err e = { 0, "" };
	struct buf why = BUF_INIT;
	int rc = block_read(NULL, &b, &e);

	/* The runner's own block first; then the one runners share. */
	if (rc == 0 && shared && *shared) {
		block_free(&b);
		rc = block_read_shared(shared, &b, &e);
		if (rc < 0 && !b.path)
			b.path = url_redact(shared);
	}

	*info = NULL;
	*section = NULL;
	if (rc == 0)
		return 0;
	*info = cJSON_CreateObject();
	cJSON_AddStringToObject(*info, "file", b.path);
	if (rc > 0) {
		cJSON_AddStringToObject(*info, "since", b.since);
		cJSON_AddStringToObject(*info, "release", b.release);
		cJSON_AddStringToObject(*info, "digest", b.digest);
		cJSON_AddStringToObject(*info, "reason", b.reason);
		buf_addf(&why, "the pipeline is blocked since %s: release %s (%s) failed: %s",
		    b.since, b.release, b.digest, b.reason);
	} else {
		cJSON_AddStringToObject(*info, "error", e.msg);
		buf_addf(&why, "the pipeline is blocked: the block file cannot be read (%s), and "
		    "a block file that cannot be read blocks all the same", e.msg);
	}
	cJSON_AddBoolToObject(*info, "ignored", ignore);
	if (ignore) {
		log_warn("%s; running anyway, as --ignore-block asks", buf_str(&why));
	} else {
		buf_addf(&why, "; fix the cause, then clear the block with "
		    "'ci-rollback --unblock --reason TEXT' (or remove '%s'), or run with "
		    "--ignore-block", b.path);
		log_error("%s", buf_str(&why));
		*section = cJSON_CreateObject();
		cJSON_AddStringToObject(*section, "status", "failed");
		cJSON_AddStringToObject(*section, "reason", buf_str(&why));
		cJSON_AddItemToObject(*section, "blocked", *info);
		*info = NULL;
	}
	buf_free(&why);
	block_free(&b);
	return !ignore;
}
