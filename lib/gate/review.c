/*
 * review: approvals from trailers, up to date, no conflicts, signatures.
 * See review.h for the contract.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/git.h"
#include "core/json.h"
#include "gate/review.h"

#define OUT_CAP (64u << 20)
#define LIST_MAX 5		/* names shown in a message before "and N more" */

static const char *const default_trailers[] = { "Reviewed-by", "Approved-by", "Acked-by", NULL };

/* ---- options ------------------------------------------------------------ */

void
review_opts_init(struct review_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->approvals = REVIEW_DEFAULT_APPROVALS;
	o->require_up_to_date = 1;
	o->require_no_conflicts = 1;
	o->stale_approvals = 1;
}

void
review_opts_free(struct review_opts *o)
{
	free(o->base);
	free(o->head);
	strv_free(o->trailers);
	memset(o, 0, sizeof(*o));
}

static int
valid_trailer_key(const char *s)
{
	if (!*s || strlen(s) > 100)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return 0;
	return 1;
}

static int
rev_opt(const cJSON *it, const char *k, char **out, const cJSON **bad, struct err *e)
{
	if (!cJSON_IsString(it) || !*it->valuestring)
		return json_refuse(bad, it, e, "%s: expected a revision, as \"origin/main\"", k);
	if (it->valuestring[0] == '-')
		return json_refuse(bad, it, e, "%s: a revision may not begin with '-'", k);
	free(*out);
	*out = xstrdup(it->valuestring);
	return 0;
}

int
review_opts_parse(struct review_opts *o, const cJSON *obj,
    const char *const *ignore, const cJSON **bad, struct err *e)
{
	static const struct { const char *key; size_t off; } bools[] = {
		{ "require_up_to_date", offsetof(struct review_opts, require_up_to_date) },
		{ "require_no_conflicts", offsetof(struct review_opts, require_no_conflicts) },
		{ "require_signed", offsetof(struct review_opts, require_signed) },
		{ "stale_approvals", offsetof(struct review_opts, stale_approvals) },
	};
	const cJSON *it, *t;
	size_t i;

	if (!cJSON_IsObject(obj))
		return json_refuse(bad, obj, e, "options: expected an object");
	cJSON_ArrayForEach(it, obj) {
		const char *k = it->string;
		int skip = 0;

		for (i = 0; ignore && ignore[i]; i++)
			if (!strcmp(k, ignore[i]))
				skip = 1;
		if (skip)
			continue;
		for (i = 0; i < sizeof(bools) / sizeof(bools[0]); i++)
			if (!strcmp(k, bools[i].key))
				break;
		if (i < sizeof(bools) / sizeof(bools[0])) {
			if (!cJSON_IsBool(it))
				return json_refuse(bad, it, e, "%s: expected true or false", k);
			*(int *)(void *)((char *)o + bools[i].off) = cJSON_IsTrue(it);
		} else if (!strcmp(k, "base")) {
			if (rev_opt(it, k, &o->base, bad, e) < 0)
				return -1;
		} else if (!strcmp(k, "head")) {
			if (rev_opt(it, k, &o->head, bad, e) < 0)
				return -1;
		} else if (!strcmp(k, "approvals")) {
			if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 100 ||
			    it->valuedouble != (double)(int)it->valuedouble)
				return json_refuse(bad, it, e, "%s: expected an integer from 0 to 100", k);
			o->approvals = (int)it->valuedouble;
		} else if (!strcmp(k, "trailers")) {
			int n = 0;

			if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) == 0)
				return json_refuse(bad, it, e, "%s: expected a non-empty array of trailer keys", k);
			strv_free(o->trailers);
			o->trailers = NULL;
			cJSON_ArrayForEach(t, it) {
				if (!cJSON_IsString(t) || !valid_trailer_key(t->valuestring))
					return json_refuse(bad, t, e, "%s[%d]: expected a trailer key, as \"Reviewed-by\"", k, n);
				o->trailers = strv_push(o->trailers, t->valuestring);
				n++;
			}
		} else {
			return json_refuse(bad, it, e, "%s: unknown key (expected base, head, approvals, trailers, "
			    "require_up_to_date, require_no_conflicts, require_signed, stale_approvals)", k);
		}
	}
	return 0;
}

/* ---- trailers --------------------------------------------------------- */

static char *
trim(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return xstrndup(s, n);
}

static char *
lower(char *s)
{
	char *p;

	for (p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

int
review_trailer(const char *line, char **key, char **value, char **identity)
{
	const char *colon = strchr(line, ':'), *lt, *gt;
	size_t i;

	*key = *value = *identity = NULL;
	if (!colon || colon == line)
		return -1;
	for (i = 0; line + i < colon; i++)
		if (!isalnum((unsigned char)line[i]) && line[i] != '-' && line[i] != '_')
			return -1;
	*key = xstrndup(line, (size_t)(colon - line));
	*value = trim(colon + 1, strlen(colon + 1));
	lt = strrchr(*value, '<');
	gt = lt ? strchr(lt, '>') : NULL;
	if (lt && gt && gt > lt + 1)
		*identity = lower(trim(lt + 1, (size_t)(gt - lt - 1)));
	else
		*identity = lower(xstrdup(*value));
	if (!**value) {
		free(*key);
		free(*value);
		free(*identity);
		*key = *value = *identity = NULL;
		return -1;
	}
	return 0;
}

/* ---- running git ---------------------------------------------------- */

/* Run git; -1 (e set) only when git itself could not run. */
static int
git(struct gitx *g, const char *const *args, struct err *e)
{
	return gitx_run(g, args, OUT_CAP, e);
}

static int
is_shallow(void)
{
	static const char *const args[] = { "rev-parse", "--is-shallow-repository", NULL };

	return gitx_true(args);
}

static const char *
shallow_hint(void)
{
	return is_shallow() ? "; this is a shallow clone, which lacks that history: fetch it, as with "
	    "'git fetch --unshallow origin' (or fetch-depth: 0 in actions/checkout)" : "";
}

/* The commit a revision names, or NULL. */
static char *
verify(const char *rev, struct err *e, int *failed)
{
	char *spec = xasprintf("%s^{commit}", rev);
	const char *args[] = { "rev-parse", "--verify", "--quiet", spec, NULL };
	struct gitx g;
	char *sha = NULL;

	*failed = 0;
	if (git(&g, args, e) < 0) {
		*failed = 1;
		free(spec);
		return NULL;
	}
	free(spec);
	if (g.status == 0 && g.out && strlen(g.out) >= 40)
		sha = xstrdup(g.out);
	gitx_free(&g);
	return sha;
}

struct commit {
	char *sha, *author, *email, *sig;
	char *trailers;
};

static void
commits_free(struct commit *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(c[i].sha);
		free(c[i].author);
		free(c[i].email);
		free(c[i].sig);
		free(c[i].trailers);
	}
	free(c);
}

/* The commits of base..head, newest first. */
static int
list_commits(const char *base, const char *head, int signatures,
    struct commit **out, size_t *nout, struct err *e)
{
	char *range = xasprintf("%s..%s", base, head);
	char *fmt = xasprintf("--format=%%H%%x1f%%aN <%%aE>%%x1f%%aE%%x1f%s%%x1f%%(trailers:only,unfold)%%x1e",
	    signatures ? "%G?" : "");
	const char *args[] = { "-c", "log.showSignature=false", "log", fmt, range, "--", NULL };
	struct gitx g;
	struct commit *c = NULL;
	size_t n = 0;
	char *rec, *save = NULL;

	*out = NULL;
	*nout = 0;
	if (git(&g, args, e) < 0) {
		free(range);
		free(fmt);
		return -1;
	}
	free(fmt);
	if (g.status != 0) {
		err_set(e, EX_USAGE_, "cannot list the commits of %s: %s", range, g.err);
		free(range);
		gitx_free(&g);
		return -1;
	}
	free(range);
	for (rec = strtok_r(g.out ? g.out : (char *)"", "\x1e", &save); rec;
	    rec = strtok_r(NULL, "\x1e", &save)) {
		char *f[5], *p = rec;
		int k;

		while (*p == '\n')
			p++;
		if (!*p)
			continue;
		for (k = 0; k < 5; k++) {
			f[k] = p;
			p = strchr(p, '\x1f');
			if (!p)
				break;
			*p++ = '\0';
		}
		if (k < 4)
			continue;
		c = xrealloc(c, (n + 1) * sizeof(*c));
		c[n].sha = xstrdup(f[0]);
		c[n].author = xstrdup(f[1]);
		c[n].email = lower(xstrdup(f[2]));
		c[n].sig = xstrdup(f[3]);
		c[n].trailers = xstrdup(f[4]);
		n++;
	}
	gitx_free(&g);
	*out = c;
	*nout = n;
	return 0;
}

/* ---- the checks ------------------------------------------------------- */

static int
strv_has(char **v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return 1;
	return 0;
}

static void
add_check(cJSON *checks, const char *name, const char *status, const char *detail)
{
	cJSON *c = cJSON_CreateObject();

	cJSON_AddStringToObject(c, "name", name);
	cJSON_AddStringToObject(c, "status", status);
	if (detail)
		cJSON_AddStringToObject(c, "detail", detail);
	cJSON_AddItemToArray(checks, c);
}

/* "a, b and c", at most LIST_MAX names then "and N more". */
static void
list_words(struct buf *b, cJSON *arr)
{
	int n = cJSON_GetArraySize(arr), i;

	for (i = 0; i < n && i < LIST_MAX; i++) {
		if (i)
			buf_adds(b, i == n - 1 ? " and " : ", ");
		buf_adds(b, cJSON_GetArrayItem(arr, i)->valuestring);
	}
	if (n > LIST_MAX)
		buf_addf(b, " and %d more", n - LIST_MAX);
}

static void
fail_reason(struct review_result *r, struct buf *why, const char *detail)
{
	r->passed = 0;
	buf_addf(why, "%s%s", why->len ? "; " : "", detail);
}

static void
check_approvals(const struct review_opts *o, struct commit *c, size_t n,
    struct review_result *r, cJSON *checks, struct buf *why)
{
	const char *const *keys = o->trailers ? (const char *const *)o->trailers : default_trailers;
	cJSON *ap = cJSON_AddObjectToObject(r->json, "approvals");
	cJSON *who = cJSON_CreateArray(), *nc = cJSON_CreateArray(), *ks;
	char **ids = NULL, **authors = xcalloc(n ? n : 1, sizeof(*authors));
	size_t nids = 0, i, k, scan = o->stale_approvals ? n : (n ? 1 : 0);
	struct buf d = BUF_INIT;

	for (i = 0; i < n; i++)
		authors[i] = c[i].email;
	for (i = 0; i < scan; i++) {
		char *line, *save = NULL, *t = xstrdup(c[i].trailers);

		for (line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *key, *value, *id, *shown;

			if (review_trailer(line, &key, &value, &id) < 0)
				continue;
			for (k = 0; keys[k]; k++)
				if (!strcasecmp(keys[k], key))
					break;
			if (keys[k]) {
				shown = xasprintf("%s: %s", keys[k], value);
				if (strv_has(authors, n, id)) {
					cJSON *x = cJSON_CreateObject();

					cJSON_AddStringToObject(x, "trailer", shown);
					cJSON_AddStringToObject(x, "commit", c[i].sha);
					cJSON_AddStringToObject(x, "why", "an author of the change");
					cJSON_AddItemToArray(nc, x);
				} else if (!strv_has(ids, nids, id)) {
					ids = xrealloc(ids, (nids + 1) * sizeof(*ids));
					ids[nids++] = xstrdup(id);
					cJSON_AddItemToArray(who, cJSON_CreateString(shown));
				}
				free(shown);
			}
			free(key);
			free(value);
			free(id);
		}
		free(t);
	}
	cJSON_AddNumberToObject(ap, "required", o->approvals);
	cJSON_AddNumberToObject(ap, "count", (double)nids);
	cJSON_AddBoolToObject(ap, "stale_approvals", o->stale_approvals);
	ks = cJSON_AddArrayToObject(ap, "trailers");
	for (k = 0; keys[k]; k++)
		cJSON_AddItemToArray(ks, cJSON_CreateString(keys[k]));
	cJSON_AddItemToObject(ap, "reviewers", who);
	cJSON_AddItemToObject(ap, "not_counted", nc);

	buf_addf(&d, "%zu of %d approval%s", nids, o->approvals, o->approvals == 1 ? "" : "s");
	if (nids) {
		buf_adds(&d, ": ");
		list_words(&d, who);
	}
	if (cJSON_GetArraySize(nc)) {
		cJSON *x;
		int m = 0;

		buf_adds(&d, " (not counted, by an author of the change: ");
		cJSON_ArrayForEach(x, nc)
			buf_addf(&d, "%s%s", m++ ? ", " : "", json_str(x, "trailer"));
		buf_adds(&d, ")");
	}
	if (!o->stale_approvals && n)
		buf_adds(&d, " on the tip commit");
	if ((int)nids >= o->approvals) {
		add_check(checks, "approvals", "passed", buf_str(&d));
	} else {
		add_check(checks, "approvals", "failed", buf_str(&d));
		fail_reason(r, why, buf_str(&d));
	}
	buf_addf(&r->notes, "approvals: %s\n", buf_str(&d));
	buf_free(&d);
	for (i = 0; i < nids; i++)
		free(ids[i]);
	free(ids);
	free(authors);
}

static int
check_up_to_date(const struct review_opts *o, const char *base_name, const char *base,
    const char *head, struct review_result *r, cJSON *checks, struct buf *why, struct err *e)
{
	const char *anc[] = { "merge-base", "--is-ancestor", base, head, NULL };
	char *range = xasprintf("%s..%s", head, base);
	const char *cnt[] = { "rev-list", "--count", range, NULL };
	struct gitx g;
	long behind = 0;
	int up;

	if (git(&g, anc, e) < 0)
		goto bad;
	if (g.status != 0 && g.status != 1) {
		err_set(e, EX_USAGE_, "git merge-base --is-ancestor failed: %s%s", g.err, shallow_hint());
		gitx_free(&g);
		goto bad;
	}
	up = g.status == 0;
	gitx_free(&g);
	if (!up) {
		if (git(&g, cnt, e) < 0)
			goto bad;
		if (g.status == 0 && g.out)
			behind = strtol(g.out, NULL, 10);
		gitx_free(&g);
	}
	free(range);
	cJSON_AddBoolToObject(r->json, "up_to_date", up);
	cJSON_AddNumberToObject(r->json, "behind", (double)behind);
	if (up) {
		char *d = xasprintf("branch is up to date with %s", base_name);

		add_check(checks, "up_to_date", "passed", d);
		buf_addf(&r->notes, "up to date: %s\n", d);
		free(d);
	} else {
		char *d = xasprintf("branch is %ld commit%s behind %s", behind, behind == 1 ? "" : "s", base_name);

		if (o->require_up_to_date) {
			add_check(checks, "up_to_date", "failed", d);
			fail_reason(r, why, d);
		} else {
			add_check(checks, "up_to_date", "skipped", d);
		}
		buf_addf(&r->notes, "up to date: %s%s\n", d, o->require_up_to_date ? "" : " (not required)");
		free(d);
	}
	return 0;
bad:
	free(range);
	return -1;
}

static int
check_conflicts(const struct review_opts *o, const char *base, const char *head,
    struct review_result *r, cJSON *checks, struct buf *why, struct err *e)
{
	const char *args[] = { "merge-tree", "--write-tree", "--name-only", "--no-messages", base, head, NULL };
	cJSON *paths = cJSON_AddArrayToObject(r->json, "conflicts");
	struct gitx g;
	char *line, *save = NULL;
	int first = 1;

	if (git(&g, args, e) < 0)
		return -1;
	if (g.status != 0 && g.status != 1) {
		err_set(e, EX_USAGE_, "git merge-tree failed: %s%s", *g.err ? g.err : "no message",
		    shallow_hint());
		gitx_free(&g);
		return -1;
	}
	if (g.status == 1) {
		/* The tree, then the conflicted paths up to a blank line. */
		for (line = strtok_r(g.out ? g.out : (char *)"", "\n", &save); line;
		    line = strtok_r(NULL, "\n", &save)) {
			cJSON *p;
			int dup = 0;

			if (first) {
				first = 0;
				continue;
			}
			if (!*line)
				break;
			cJSON_ArrayForEach(p, paths)
				if (!strcmp(p->valuestring, line))
					dup = 1;
			if (!dup)
				cJSON_AddItemToArray(paths, cJSON_CreateString(line));
		}
		if (!cJSON_GetArraySize(paths)) {
			err_set(e, EX_USAGE_, "git merge-tree reported a conflict but named no file: %s", g.err);
			gitx_free(&g);
			return -1;
		}
	}
	gitx_free(&g);
	if (!cJSON_GetArraySize(paths)) {
		add_check(checks, "no_conflicts", "passed", "merges cleanly");
		buf_adds(&r->notes, "conflicts: none, merges cleanly\n");
	} else {
		struct buf d = BUF_INIT;

		buf_adds(&d, cJSON_GetArraySize(paths) == 1 ? "conflict in " : "conflicts in ");
		list_words(&d, paths);
		if (o->require_no_conflicts) {
			add_check(checks, "no_conflicts", "failed", buf_str(&d));
			fail_reason(r, why, buf_str(&d));
		} else {
			add_check(checks, "no_conflicts", "skipped", buf_str(&d));
		}
		buf_addf(&r->notes, "conflicts: %s%s\n", buf_str(&d), o->require_no_conflicts ? "" : " (not required)");
		buf_free(&d);
	}
	return 0;
}

static void
check_signed(struct commit *c, size_t n, struct review_result *r, cJSON *checks, struct buf *why)
{
	cJSON *un = cJSON_AddArrayToObject(r->json, "unsigned");
	struct buf d = BUF_INIT;
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(c[i].sig, "G") != 0) {
			char *s = xstrndup(c[i].sha, 7);

			cJSON_AddItemToArray(un, cJSON_CreateString(s));
			free(s);
		}
	if (!cJSON_GetArraySize(un)) {
		buf_addf(&d, "all %zu commit%s signed", n, n == 1 ? "" : "s");
		add_check(checks, "signed", "passed", buf_str(&d));
	} else {
		buf_addf(&d, "%d of %zu commit%s not signed: ", cJSON_GetArraySize(un), n,
		    n == 1 ? " is" : "s are");
		list_words(&d, un);
		add_check(checks, "signed", "failed", buf_str(&d));
		fail_reason(r, why, buf_str(&d));
	}
	buf_addf(&r->notes, "signatures: %s\n", buf_str(&d));
	buf_free(&d);
}

int
review_run(const struct review_opts *o, struct review_result *r, struct err *e)
{
	const char *head_name = o->head ? o->head : "HEAD";
	const char *base_name = o->base;
	char *head = NULL, *base = NULL, *mb = NULL;
	struct commit *c = NULL;
	size_t n = 0;
	struct buf why = BUF_INIT;
	cJSON *checks;
	struct gitx g;
	int failed, rc = -1;

	memset(r, 0, sizeof(*r));
	buf_init(&r->notes, 0);
	if (!gitx_in_work_tree())
		return err_set(e, EX_USAGE_, "the review gate needs a git work tree, and '.' is not in one");
	head = verify(head_name, e, &failed);
	if (failed)
		goto out;
	if (!head) {
		err_set(e, EX_USAGE_, "head '%s' is not a commit here", head_name);
		goto out;
	}
	if (base_name) {
		base = verify(base_name, e, &failed);
		if (failed)
			goto out;
		if (!base) {
			err_set(e, EX_USAGE_, "base '%s' is not a commit here%s", base_name, shallow_hint());
			goto out;
		}
	} else {
		base_name = "origin/main";
		base = verify(base_name, e, &failed);
		if (!base && !failed) {
			base_name = "main";
			base = verify(base_name, e, &failed);
		}
		if (failed)
			goto out;
		if (!base) {
			err_set(e, EX_USAGE_, "no base to compare with: neither 'origin/main' nor 'main' is a "
			    "commit here (set base)%s", shallow_hint());
			goto out;
		}
	}
	{
		const char *args[] = { "merge-base", base, head, NULL };

		if (git(&g, args, e) < 0)
			goto out;
		if (g.status != 0 || !g.out || !*g.out) {
			gitx_free(&g);
			if (is_shallow())
				err_set(e, EX_USAGE_, "cannot find where '%s' forked from '%s'%s",
				    head_name, base_name, shallow_hint());
			else
				err_set(e, EX_USAGE_, "'%s' and '%s' have no common history", head_name, base_name);
			goto out;
		}
		mb = g.out;
	}
	if (list_commits(base, head, o->require_signed, &c, &n, e) < 0)
		goto out;

	r->passed = 1;
	r->json = cJSON_CreateObject();
	cJSON_AddStringToObject(r->json, "base", base_name);
	cJSON_AddStringToObject(r->json, "base_commit", base);
	cJSON_AddStringToObject(r->json, "head", head_name);
	cJSON_AddStringToObject(r->json, "head_commit", head);
	cJSON_AddStringToObject(r->json, "merge_base", mb);
	cJSON_AddNumberToObject(r->json, "commits", (double)n);
	buf_addf(&r->notes, "base %s (%.7s), head %s (%.7s), %zu commit%s in %s..%s\n",
	    base_name, base, head_name, head, n, n == 1 ? "" : "s", base_name, head_name);
	checks = cJSON_CreateArray();
	check_approvals(o, c, n, r, checks, &why);
	if (check_up_to_date(o, base_name, base, head, r, checks, &why, e) < 0 ||
	    check_conflicts(o, base, head, r, checks, &why, e) < 0)
		goto bad;
	if (o->require_signed)
		check_signed(c, n, r, checks, &why);
	cJSON_AddItemToObject(r->json, "checks", checks);
	checks = NULL;
	if (!r->passed)
		r->reason = buf_detach(&why, NULL);
	rc = 0;
	goto out;
bad:
	cJSON_Delete(checks);
	cJSON_Delete(r->json);
	r->json = NULL;
out:
	buf_free(&why);
	commits_free(c, n);
	free(head);
	free(base);
	free(mb);
	return rc;
}

void
review_result_free(struct review_result *r)
{
	free(r->reason);
	cJSON_Delete(r->json);
	buf_free(&r->notes);
	memset(r, 0, sizeof(*r));
}
