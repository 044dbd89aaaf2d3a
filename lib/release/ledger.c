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
#include "core/git.h"
#include "core/json.h"
#include "core/log.h"
#include "core/proc.h"
#include "core/timeutil.h"
#include "release/ledger.h"

#define GIT_TIMEOUT_MS (120 * 1000)
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
	struct json_opts o = { file, 0 };
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

/* Append data in one write, on a line of its own, and fsync. */
static int
file_append(struct ledger *l, const char *data, size_t len, struct err *e)
{
	struct buf b = BUF_INIT;
	struct stat sb;
	char last = '\n';
	int fd, rc = -1;
	ssize_t w;

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
	w = write(fd, b.data, b.len);
	if (w < 0 || (size_t)w != b.len) {
		err_set(e, EX_IOERR_, "cannot append to '%s': %s", l->path,
		    w < 0 ? strerror(errno) : "short write");
	} else if (fsync(fd) < 0) {
		err_set(e, EX_IOERR_, "cannot fsync '%s': %s", l->path, strerror(errno));
	} else {
		rc = 0;
	}
	close(fd);
	buf_free(&b);
	return rc;
}

/* ---- the git backend ---------------------------------------------------- */

/* Run git in our private repository; stdin from in (may be NULL).
 * Returns git's exit status (out set, owned), or -1 with e. */
static int
git_in(struct ledger *l, const char *const *args, const char *in, size_t inlen, char **out,
    char *errbuf, size_t errsz, struct err *e)
{
	static char *const env[] = {
		"GIT_AUTHOR_NAME=ci-rollback", "GIT_AUTHOR_EMAIL=ci-rollback@localhost",
		"GIT_COMMITTER_NAME=ci-rollback", "GIT_COMMITTER_EMAIL=ci-rollback@localhost",
		"GIT_TERMINAL_PROMPT=0", NULL
	};
	struct proc_spec spec;
	struct proc_result r;
	char **argv = NULL, *gd = xasprintf("--git-dir=%s", l->gitdir);
	size_t i;
	int rc;

	argv = strv_push(argv, "git");
	argv = strv_push(argv, gd);
	for (i = 0; args[i]; i++)
		argv = strv_push(argv, args[i]);
	free(gd);
	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	spec.env = env;
	spec.timeout_ms = GIT_TIMEOUT_MS;
	spec.out_cap = LEDGER_MAX_BYTES;
	spec.tail_bytes = 4096;
	spec.in_data = in;
	spec.in_len = inlen;
	rc = proc_capture(&spec, &r, e);
	strv_free(argv);
	if (rc < 0) {
		err_prefix(e, "%s", l->name);
		e->code = EX_SERVICE;
		proc_result_free(&r);
		return -1;
	}
	if (errbuf) {
		size_t n;

		snprintf(errbuf, errsz, "%s", r.err ? r.err : "");
		for (n = strlen(errbuf); n && (errbuf[n - 1] == '\n' || errbuf[n - 1] == '\r'); )
			errbuf[--n] = '\0';
		for (i = 0; errbuf[i]; i++)
			if (errbuf[i] == '\n')
				errbuf[i] = ' ';
	}
	if (out) {
		*out = r.out;
		r.out = NULL;
		if (*out) {
			size_t n = strlen(*out);

			while (n && ((*out)[n - 1] == '\n'))
				(*out)[--n] = '\0';
		}
	}
	rc = r.status;
	proc_result_free(&r);
	return rc;
}

static int
git_fail(struct ledger *l, const char *what, const char *words, struct err *e)
{
	char shown[1024];

	/* git's words may quote the URL: no credentials in them. */
	snprintf(shown, sizeof(shown), "%s", words);
	url_strip_credentials(shown);
	return err_set(e, EX_SERVICE, "%s: %s failed%s%s", l->name, what, *shown ? ": " : "",
	    shown);
}

/* The remote's commit of the ref into *oid ("" when there is none yet),
 * fetched into our repository. */
static int
git_fetch(struct ledger *l, char *oid, size_t oidsz, struct err *e)
{
	const char *ls[] = { "ls-remote", "--refs", l->url, l->ref, NULL };
	char *out = NULL, errb[1024], *spec;
	int st;

	*oid = '\0';
	if ((st = git_in(l, ls, NULL, 0, &out, errb, sizeof(errb), e)) < 0)
		return -1;
	if (st != 0) {
		free(out);
		return git_fail(l, "ls-remote", errb, e);
	}
	if (*out) {
		size_t n = strcspn(out, " \t");

		if (n == 0 || n >= oidsz) {
			err_set(e, EX_SERVICE, "%s: ls-remote answered '%.80s'", l->name, out);
			free(out);
			return -1;
		}
		memcpy(oid, out, n);
		oid[n] = '\0';
	}
	free(out);
	if (!*oid)
		return 0;
	spec = xasprintf("+%s:%s", l->ref, l->ref);
	{
		const char *fa[] = { "fetch", "--no-tags", "-q", l->url, spec, NULL };

		st = git_in(l, fa, NULL, 0, NULL, errb, sizeof(errb), e);
	}
	free(spec);
	if (st < 0)
		return -1;
	if (st != 0)
		return git_fail(l, "fetch", errb, e);
	return 0;
}

static int
git_text(struct ledger *l, const char *oid, char **text, size_t *len, struct err *e)
{
	char *obj, errb[1024];
	int st;

	*text = NULL;
	*len = 0;
	if (!*oid)
		return 0;
	obj = xasprintf("%s:%s", oid, LEDGER_FILE);
	{
		const char *a[] = { "cat-file", "blob", obj, NULL };

		st = git_in(l, a, NULL, 0, text, errb, sizeof(errb), e);
	}
	free(obj);
	if (st < 0)
		return -1;
	if (st != 0) {
		free(*text);
		*text = NULL;
		return git_fail(l, "reading " LEDGER_FILE, errb, e);
	}
	/* git_in took the last newlines off: every record has one. */
	*len = strlen(*text);
	if (*len) {
		char *t = xasprintf("%s\n", *text);

		free(*text);
		*text = t;
		*len += 1;
	}
	return 0;
}

/* Commit text over old and push it with a lease on old: 0, 1 when the
 * remote moved (someone else won), -1 with e. */
static int
git_push(struct ledger *l, const char *old, const char *text, size_t len, struct err *e)
{
	char *blob = NULL, *tree = NULL, *commit = NULL, *line, *lease, *spec, errb[1024];
	int st, rc = -1;

	{
		const char *a[] = { "hash-object", "-w", "--stdin", NULL };

		if ((st = git_in(l, a, text, len, &blob, errb, sizeof(errb), e)) != 0) {
			if (st > 0)
				git_fail(l, "hash-object", errb, e);
			goto out;
		}
	}
	line = xasprintf("100644 blob %s\t%s\n", blob, LEDGER_FILE);
	{
		const char *a[] = { "mktree", NULL };

		st = git_in(l, a, line, strlen(line), &tree, errb, sizeof(errb), e);
	}
	free(line);
	if (st != 0) {
		if (st > 0)
			git_fail(l, "mktree", errb, e);
		goto out;
	}
	{
		const char *a[] = { "commit-tree", tree, "-m", "ci-rollback: ledger", NULL };
		const char *b[] = { "commit-tree", tree, "-p", old, "-m", "ci-rollback: ledger", NULL };

		st = git_in(l, *old ? b : a, NULL, 0, &commit, errb, sizeof(errb), e);
	}
	if (st != 0) {
		if (st > 0)
			git_fail(l, "commit-tree", errb, e);
		goto out;
	}
	lease = xasprintf("--force-with-lease=%s:%s", l->ref, old);
	spec = xasprintf("%s:%s", commit, l->ref);
	{
		const char *a[] = { "push", "-q", "--porcelain", lease, l->url, spec, NULL };
		char *out = NULL;

		st = git_in(l, a, NULL, 0, &out, errb, sizeof(errb), e);
		/* A refused lease or a non-fast-forward: another runner won. */
		if (st > 0 && ((out && (strstr(out, "[rejected]") || strstr(out, "stale info"))) ||
		    strstr(errb, "stale info") || strstr(errb, "rejected") ||
		    strstr(errb, "fetch first")))
			rc = 1;
		else if (st > 0)
			git_fail(l, "push", errb, e);
		else if (st == 0)
			rc = 0;
		free(out);
	}
	free(lease);
	free(spec);
out:
	free(blob);
	free(tree);
	free(commit);
	return rc;
}

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
	if (strncmp(where, "git:", 4) || !where[4]) {
		ledger_close(l);
		return err_set(e, EX_USAGE_, "--ledger '%s': expected git:REMOTE (a remote's name, "
		    "a URL or a path), or leave it out for the file in the state directory", where);
	}
	l->kind = LEDGER_GIT;
	l->ref = xasprintf("refs/ci/ledger/%s", app);
	l->gitdir = xasprintf("%s/ledger.git", state_dir);
	{
		/* A remote's name (no '/' nor ':') is looked up in the current
		 * repository; anything else is a URL or a path already. */
		const char *r = where + 4;

		if (!strpbrk(r, "/:")) {
			const char *a[] = { "remote", "get-url", r, NULL };
			struct gitx g;

			memset(&g, 0, sizeof(g));
			if (gitx_run(&g, a, 0, e) < 0 || g.status != 0) {
				if (g.status != 0)
					err_set(e, EX_USAGE_, "--ledger '%s': no remote '%s' in the current "
					    "repository (%s)", where, r, g.err);
				gitx_free(&g);
				ledger_close(l);
				return -1;
			}
			l->url = xstrdup(g.out);
			gitx_free(&g);
		} else {
			l->url = xstrdup(r);
		}
	}
	{
		char shown[1024];

		snprintf(shown, sizeof(shown), "%s", l->url);
		url_strip_credentials(shown);
		l->name = xasprintf("ledger %s %s", shown, l->ref);
	}
	if (!path_exists(l->gitdir)) {
		const char *a[] = { "init", "-q", "--bare", l->gitdir, NULL };
		struct gitx g;

		memset(&g, 0, sizeof(g));
		if (mkdir_p(state_dir, 0755, e) < 0 || gitx_run(&g, a, 0, e) < 0 || g.status != 0) {
			if (g.status != 0)
				err_set(e, EX_IOERR_, "cannot create '%s': %s", l->gitdir, g.err);
			gitx_free(&g);
			ledger_close(l);
			return -1;
		}
		gitx_free(&g);
	}
	return 0;
}

void
ledger_close(struct ledger *l)
{
	free(l->app);
	free(l->name);
	free(l->path);
	free(l->lock);
	free(l->url);
	free(l->gitdir);
	free(l->ref);
	memset(l, 0, sizeof(*l));
}

int
ledger_read(struct ledger *l, struct release_list *out, struct err *e)
{
	char *text = NULL, oid[128];
	size_t len = 0;
	int rc;

	out->v = NULL;
	out->n = 0;
	if (l->kind == LEDGER_GIT)
		rc = git_fetch(l, oid, sizeof(oid), e) < 0 ? -1 : git_text(l, oid, &text, &len, e);
	else
		rc = file_text(l, &text, &len, e);
	if (rc < 0)
		return -1;
	if (text)
		parse_text(l, text, len, l->kind == LEDGER_GIT ? l->ref : l->path, out);
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
		char oid[128], *text = NULL, *more, *all;
		size_t len = 0;
		int rc, pushed;

		if (git_fetch(l, oid, sizeof(oid), e) < 0 || git_text(l, oid, &text, &len, e) < 0)
			return -1;
		if (text)
			parse_text(l, text, len, l->ref, &cur);
		rc = decide(&cur, &add, arg, e);
		release_list_free(&cur);
		if (rc < 0 || !add.n) {
			free(text);
			release_list_free(&add);
			return rc;
		}
		more = lines_of(&add);
		release_list_free(&add);
		all = xasprintf("%s%s", text ? text : "", more);
		free(more);
		free(text);
		pushed = git_push(l, oid, all, strlen(all), e);
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
