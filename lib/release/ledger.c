/*
 * ledger: the release history, in a file or in a git ref (ledger.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/gitref.h"
#include "core/json.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "release/ledger.h"

#define CAS_TRIES 20

static const char *const statuses[] = { "stable", "failed", "rolled_back", "superseded", NULL };

void
release_free(struct release *r)
{
	free(r->app);
	free(r->version);
	free(r->image);
	free(r->digest);
	free(r->slot);
	free(r->status);
	free(r->at);
	free(r->reason);
	free(r->pipeline);
	memset(r, 0, sizeof(*r));
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void
release_list_add(struct release_list *list, const struct release *r)
{
	struct release *d;

	list->v = xrealloc(list->v, (list->n + 1) * sizeof(*list->v));
	d = &list->v[list->n++];
	d->app = dup_or_null(r->app);
	d->version = dup_or_null(r->version);
	d->image = dup_or_null(r->image);
	d->digest = dup_or_null(r->digest);
	d->slot = dup_or_null(r->slot);
	d->status = dup_or_null(r->status);
	d->at = dup_or_null(r->at);
	d->reason = dup_or_null(r->reason);
	d->pipeline = dup_or_null(r->pipeline);
	d->line = r->line;
}

void
release_list_free(struct release_list *list)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		release_free(&list->v[i]);
	free(list->v);
	list->v = NULL;
	list->n = 0;
}

char *
release_line(const struct release *r)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

#define ADD(k) if (r->k) cJSON_AddStringToObject(o, #k, r->k)
	ADD(app);
	ADD(version);
	ADD(image);
	ADD(digest);
	ADD(slot);
	ADD(status);
	ADD(at);
	ADD(reason);
	ADD(pipeline);
#undef ADD
	s = json_print(o);
	cJSON_Delete(o);
	return s;
}

/* One line (lineno of file) into r: 1, or 0 with why set when it is
 * not a record. */
static int
parse_line(const char *line, size_t len, const char *file, int lineno, struct release *r,
    char *why, size_t whysz)
{
	struct json_opts o = { file, 0, 0 };
	struct err e = { 0, "" };
	cJSON *j = json_parse(line, len, &o, NULL, &e);
	char name[600];
	const char *st;
	size_t fl = strlen(file);
	int i;

	memset(r, 0, sizeof(*r));
	snprintf(name, sizeof(name), "%s:%d", file, lineno);
	if (!j) {
		/* The parser counts lines of the one line: "FILE:1:COL" is
		 * "FILE:LINENO:COL" of the file. */
		if (!strncmp(e.msg, file, fl) && !strncmp(e.msg + fl, ":1:", 3))
			snprintf(why, whysz, "%s:%d:%s", file, lineno, e.msg + fl + 3);
		else
			snprintf(why, whysz, "%s: %s", name, e.msg);
		return 0;
	}
	st = json_str(j, "status");
	for (i = 0; st && statuses[i] && strcmp(st, statuses[i]); i++)
		;
	if (!cJSON_IsObject(j) || !json_str(j, "app") || !json_str(j, "version") || !st ||
	    !statuses[i]) {
		snprintf(why, whysz, "%s: not a release record (app, version and a status of "
		    "stable, failed, rolled_back or superseded)", name);
		cJSON_Delete(j);
		return 0;
	}
#define GET(k) r->k = dup_or_null(json_str(j, #k))
	GET(app);
	GET(version);
	GET(image);
	GET(digest);
	GET(slot);
	GET(status);
	GET(at);
	GET(reason);
	GET(pipeline);
#undef GET
	cJSON_Delete(j);
	return 1;
}

/* The records of app in text (what file says, for messages). */
static void
parse_text(struct ledger *l, const char *text, size_t len, const char *file,
    struct release_list *out)
{
	const char *p = text, *end = text + len;
	int lineno = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char why[1400];
		struct release r;

		lineno++;
		if (!nl) {
			log_warn("%s:%d: a torn last line (a write cut short); read past it", file,
			    lineno);
			l->warned = 1;
			break;
		}
		if (n > 0 && !(n == 1 && *p == '\r')) {
			if (!parse_line(p, n, file, lineno, &r, why, sizeof(why))) {
				log_warn("%s; read past it", why);
				l->warned = 1;
			} else if (!strcmp(r.app, l->app)) {
				r.line = lineno;
				release_list_add(out, &r);
				release_free(&r);
			} else {
				release_free(&r);
			}
		}
		p = nl + 1;
	}
}

/* ---- the file backend --------------------------------------------------- */

static int
file_text(struct ledger *l, char **text, size_t *len, struct err *e)
{
	*text = NULL;
	*len = 0;
	if (!path_exists(l->path))
		return 0;
	if (!(*text = read_file(l->path, LEDGER_MAX_BYTES, len, e)))
		return -1;
	return 0;
}

/* Append data on a line of its own, and fsync; all or nothing. */
static int
file_append(struct ledger *l, const char *data, size_t len, struct err *e)
{
	struct buf b = BUF_INIT;
	struct stat sb;
	char last = '\n';
	int fd, rc;

	if (mkdir_parent(l->path, e) < 0)
		return -1;
	fd = open(l->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_set(e, EX_IOERR_, "cannot open '%s': %s", l->path, strerror(errno));
	if (fstat(fd, &sb) == 0 && sb.st_size > 0 &&
	    pread(fd, &last, 1, sb.st_size - 1) != 1)
		last = '\n';
	/* A torn line stays torn, alone: ours starts on a line of its own. */
	if (last != '\n')
		buf_addc(&b, '\n');
	buf_add(&b, data, len);
	rc = append_whole(fd, l->path, b.data, b.len, e);
	close(fd);
	buf_free(&b);
	return rc;
}

/* ---- the git backend: core/gitref ---------------------------------------- */

/* ---- the interface ------------------------------------------------------ */

int
ledger_open(struct ledger *l, const char *state_dir, const char *where, const char *app,
    struct err *e)
{
	memset(l, 0, sizeof(*l));
	if (!app || !*app || strchr(app, '/') || !strcmp(app, ".") || !strcmp(app, ".."))
		return err_set(e, EX_USAGE_, "'%s' is not an app name for the ledger", app ? app : "");
	l->app = xstrdup(app);
	if (!where || !*where) {
		l->kind = LEDGER_FILE_KIND;
		l->path = xasprintf("%s/%s", state_dir, LEDGER_FILE);
		l->lock = xasprintf("%s/releases.lock", state_dir);
		l->name = xstrdup(l->path);
		return 0;
	}
	l->kind = LEDGER_GIT;
	{
		char *ref = xasprintf("refs/ci/ledger/%s", app);
		int rc = gitref_open(&l->git, state_dir, where, ref, e);

		free(ref);
		if (rc < 0) {
			err_prefix(e, "--ledger");
			ledger_close(l);
			return -1;
		}
	}
	l->name = xasprintf("ledger %s", l->git.name);
	return 0;
}

void
ledger_close(struct ledger *l)
{
	free(l->app);
	free(l->name);
	free(l->path);
	free(l->lock);
	gitref_close(&l->git);
	memset(l, 0, sizeof(*l));
}

int
ledger_read(struct ledger *l, struct release_list *out, struct err *e)
{
	char *text = NULL, oid[GITREF_OID_MAX];
	size_t len = 0;
	int rc;

	out->v = NULL;
	out->n = 0;
	if (l->kind == LEDGER_GIT)
		rc = gitref_fetch(&l->git, oid, e) < 0 ? -1 :
		    gitref_read(&l->git, oid, LEDGER_FILE, &text, &len, e);
	else
		rc = file_text(l, &text, &len, e);
	if (rc < 0)
		return -1;
	if (text)
		parse_text(l, text, len, l->kind == LEDGER_GIT ? l->git.ref : l->path, out);
	free(text);
	return 0;
}

/* The lines of add, "at" filled in. */
static char *
lines_of(struct release_list *add)
{
	struct buf b = BUF_INIT;
	char at[40];
	size_t i;

	format_rfc3339_ms(now_ms(), at, sizeof(at));
	for (i = 0; i < add->n; i++) {
		char *s;

		if (!add->v[i].at)
			add->v[i].at = xstrdup(at);
		s = release_line(&add->v[i]);
		buf_adds(&b, s);
		buf_addc(&b, '\n');
		free(s);
	}
	return buf_detach(&b, NULL);
}

static int
update_file(struct ledger *l,
    int (*decide)(const struct release_list *, struct release_list *, void *, struct err *),
    void *arg, struct err *e)
{
	struct release_list cur = { NULL, 0 }, add = { NULL, 0 };
	int fd, rc;

	if (mkdir_parent(l->lock, e) < 0 || (fd = lock_file(l->lock, 1, e)) < 0)
		return -1;
	rc = ledger_read(l, &cur, e);
	if (rc == 0)
		rc = decide(&cur, &add, arg, e);
	if (rc >= 0 && add.n) {
		char *text = lines_of(&add);

		if (file_append(l, text, strlen(text), e) < 0)
			rc = -1;
		free(text);
	}
	unlock_file(fd);
	release_list_free(&cur);
	release_list_free(&add);
	return rc;
}

static int
update_git(struct ledger *l,
    int (*decide)(const struct release_list *, struct release_list *, void *, struct err *),
    void *arg, struct err *e)
{
	int try;

	for (try = 0; try < CAS_TRIES; try++) {
		struct release_list cur = { NULL, 0 }, add = { NULL, 0 };
		struct gitref_file f;
		char oid[GITREF_OID_MAX], *text = NULL, *more, *all;
		size_t len = 0;
		int rc, pushed;

		if (gitref_fetch(&l->git, oid, e) < 0 ||
		    gitref_read(&l->git, oid, LEDGER_FILE, &text, &len, e) < 0)
			return -1;
		if (text)
			parse_text(l, text, len, l->git.ref, &cur);
		rc = decide(&cur, &add, arg, e);
		release_list_free(&cur);
		if (rc < 0 || !add.n) {
			free(text);
			release_list_free(&add);
			return rc;
		}
		more = lines_of(&add);
		release_list_free(&add);
		/* A torn last line stays apart from ours. */
		all = xasprintf("%s%s%s", text ? text : "", len && text[len - 1] != '\n' ? "\n" : "",
		    more);
		free(more);
		free(text);
		f.name = LEDGER_FILE;
		f.data = all;
		f.len = strlen(all);
		pushed = gitref_write(&l->git, oid, &f, 1, "ci-rollback: ledger", e);
		free(all);
		if (pushed < 0)
			return -1;
		if (pushed == 0)
			return rc;
		log_verbose("%s: another runner wrote first; reading again", l->name);
		sleep_ms(50 + 50 * try, NULL);
	}
	return err_set(e, EX_SERVICE, "%s: %d pushes in a row lost the race to other runners",
	    l->name, CAS_TRIES);
}

int
ledger_update(struct ledger *l,
    int (*decide)(const struct release_list *, struct release_list *, void *, struct err *),
    void *arg, struct err *e)
{
	if (l->kind == LEDGER_GIT)
		return update_git(l, decide, arg, e);
	return update_file(l, decide, arg, e);
}

/* The last record of each release, in the order releases first appear;
 * index i of list (its last record) for each. */
static int
is_last_of_release(const struct release_list *list, size_t i)
{
	size_t j;

	for (j = i + 1; j < list->n; j++)
		if (!strcmp(list->v[j].version, list->v[i].version) &&
		    (!list->v[j].digest || !list->v[i].digest ||
		    !strcmp(list->v[j].digest, list->v[i].digest)))
			return 0;
	return 1;
}

const struct release *
ledger_stable(const struct release_list *list)
{
	size_t i;

	for (i = list->n; i-- > 0; )
		if (!strcmp(list->v[i].status, "stable") && is_last_of_release(list, i))
			return &list->v[i];
	return NULL;
}

const struct release *
ledger_find(const struct release_list *list, const char *what)
{
	size_t i;

	for (i = list->n; i-- > 0; ) {
		const struct release *r = &list->v[i];

		if (!strcmp(r->version, what) || (r->digest && !strcmp(r->digest, what)) ||
		    (r->image && !strcmp(r->image, what)))
			return r;
	}
	return NULL;
}

const struct release *
ledger_previous(const struct release_list *list)
{
	const struct release *cur = ledger_stable(list);
	size_t i;

	for (i = list->n; i-- > 0; ) {
		const struct release *r = &list->v[i];

		if (strcmp(r->status, "stable"))
			continue;
		if (cur && !strcmp(r->version, cur->version) &&
		    (!r->digest || !cur->digest || !strcmp(r->digest, cur->digest)))
			continue;
		return r;
	}
	return NULL;
}
