/*
 * secrets-source: what the scanner reads.  The files git tracks (git
 * ls-files), every file under the paths (.git skipped, in name order),
 * the lines added since a base revision or staged in the index (a
 * unified diff with no context, its added lines scanned with a map back
 * to their line numbers in the file).  Implements secrets_run() and
 * secrets_unquote() of secrets.h; reading a file and matching it are
 * secrets-scan.c's (secrets-scan.h).
 *
 * git runs through core/gitx (an argv, never a shell), its output
 * streamed record by record, so a large tree or diff is never held whole:
 * only one file's added lines are, and those within max_file_size.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/git.h"
#include "gate/secrets-scan.h"
#include "gate/secrets.h"

/* ---- git's quoted paths ------------------------------------------------ */

int
secrets_unquote(char *s)
{
	size_t n = strlen(s), i = 1, o = 0;

	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return -1;
	while (i < n - 1) {
		char c = s[i++];

		if (c != '\\') {
			s[o++] = c;
			continue;
		}
		if (i >= n - 1)
			break;
		c = s[i++];
		switch (c) {
		case 'a': s[o++] = '\a'; break;
		case 'b': s[o++] = '\b'; break;
		case 'f': s[o++] = '\f'; break;
		case 'n': s[o++] = '\n'; break;
		case 'r': s[o++] = '\r'; break;
		case 't': s[o++] = '\t'; break;
		case 'v': s[o++] = '\v'; break;
		default:
			if (c >= '0' && c <= '7') {
				int v = c - '0', k;

				for (k = 0; k < 2 && i < n - 1 && s[i] >= '0' && s[i] <= '7'; k++)
					v = v * 8 + (s[i++] - '0');
				s[o++] = (char)v;
			} else {
				s[o++] = c;	/* \" and \\ */
			}
		}
	}
	s[o] = '\0';
	return 0;
}

/* ---- tracked files and trees --------------------------------------------- */

struct run {
	struct secrets *s;
	struct secrets_result *r;
};

static int
on_tracked(void *ctx, char *rec, size_t len, struct err *e)
{
	struct run *run = ctx;

	(void)e;
	if (len)
		secrets_scan_file(run->s, rec, run->r);
	return 0;
}

/* Neither ".", ".." nor .git (a work tree's history is not its content). */
static int
entry_wanted(const struct dirent *de)
{
	return strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, ".git");
}

/* Byte order, whatever the locale: the same tree gives the same report. */
static int
entry_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int
walk(struct secrets *s, const char *path, struct secrets_result *r, int top, struct err *e)
{
	struct stat sb;
	struct dirent **ents;
	int n, i;

	if (lstat(path, &sb) < 0) {
		if (top)
			return err_set(e, EX_USAGE_, "cannot scan '%s': %s", path, strerror(errno));
		r->st.skipped_other++;
		return 0;
	}
	if (!S_ISDIR(sb.st_mode)) {
		secrets_scan_file(s, path, r);
		return 0;
	}
	n = scandir(path, &ents, entry_wanted, entry_cmp);
	if (n < 0) {
		if (top)
			return err_set(e, EX_USAGE_, "cannot scan '%s': %s", path, strerror(errno));
		r->st.skipped_other++;
		return 0;
	}
	for (i = 0; i < n; i++) {
		char *sub = strcmp(path, ".") ? xasprintf("%s%s%s", path,
		    path[strlen(path) - 1] == '/' ? "" : "/", ents[i]->d_name) : xstrdup(ents[i]->d_name);

		walk(s, sub, r, 0, e);
		free(sub);
		free(ents[i]);
	}
	free(ents);
	return 0;
}

/* ---- diffs --------------------------------------------------------------- */

/* The added lines of a unified diff, file by file. */
struct diff {
	struct secrets *s;
	struct secrets_result *r;
	char *path;
	struct buf text;
	long *map;
	size_t nmap, mapalloc;
	long newline, rem_old, rem_new;
	int binary, large;
};

static void
diff_flush(struct diff *d)
{
	if (d->binary)
		d->r->st.skipped_binary++;
	else if (d->large)
		d->r->st.skipped_large++;
	else if (d->path && d->text.len) {
		if (secrets_binary(d->text.data, d->text.len))
			d->r->st.skipped_binary++;
		else
			secrets_scan_text(d->s, d->path, d->text.data, d->text.len, d->map, d->r);
	}
	free(d->path);
	d->path = NULL;
	buf_reset(&d->text);
	d->nmap = 0;
	d->binary = d->large = 0;
	d->rem_old = d->rem_new = 0;
}

static long
hunk_num(const char **p, long dflt_count, long *count)
{
	char *end;
	long v = strtol(*p, &end, 10);

	*count = dflt_count;
	if (*end == ',')
		*count = strtol(end + 1, &end, 10);
	*p = end;
	return v;
}

static int
on_diff_line(void *ctx, char *l, size_t len, struct err *e)
{
	struct diff *d = ctx;

	(void)e;
	if (d->rem_old > 0 || d->rem_new > 0) {
		switch (l[0]) {
		case '+':
			if (!d->large) {
				if ((long long)(d->text.len + len) > secrets_options(d->s)->max_file_size) {
					d->large = 1;
				} else {
					buf_add(&d->text, l + 1, len - 1);
					buf_addc(&d->text, '\n');
					if (d->nmap == d->mapalloc) {
						d->mapalloc = d->mapalloc ? 2 * d->mapalloc : 64;
						d->map = xrealloc(d->map, d->mapalloc * sizeof(*d->map));
					}
					d->map[d->nmap++] = d->newline;
				}
			}
			d->newline++;
			d->rem_new--;
			return 0;
		case '-':
			d->rem_old--;
			return 0;
		case ' ':
			d->rem_old--;
			d->rem_new--;
			d->newline++;
			return 0;
		case '\\':
			return 0;
		default:
			d->rem_old = d->rem_new = 0;	/* not a hunk line after all */
		}
	}
	if (!strncmp(l, "diff --git ", 11)) {
		diff_flush(d);
	} else if (!strncmp(l, "+++ ", 4)) {
		char *p = l + 4;

		free(d->path);
		d->path = NULL;
		if (*p == '"') {
			if (secrets_unquote(p) < 0)
				return 0;
		} else if (len > 4 && l[len - 1] == '\t') {
			l[len - 1] = '\0';	/* git's mark after a name with a space */
		}
		if (!strncmp(p, "b/", 2))
			d->path = xstrdup(p + 2);
	} else if (!strncmp(l, "Binary files ", 13)) {
		d->binary = 1;
	} else if (!strncmp(l, "@@ -", 4)) {
		const char *p = l + 4;
		long cnt;

		hunk_num(&p, 1, &cnt);
		d->rem_old = cnt;
		if (strncmp(p, " +", 2) != 0)
			return 0;
		p += 2;
		d->newline = hunk_num(&p, 1, &cnt);
		d->rem_new = cnt;
	}
	return 0;
}

/* ---- running the sources ------------------------------------------------ */

static void
add_paths(const char **args, size_t *n, char **paths)
{
	size_t i;

	args[(*n)++] = "--";
	for (i = 0; paths && paths[i]; i++)
		args[(*n)++] = paths[i];
}

static size_t
count_paths(char **paths)
{
	size_t n = 0;

	while (paths && paths[n])
		n++;
	return n;
}

static const char *
shallow_hint(void)
{
	static const char *const args[] = { "rev-parse", "--is-shallow-repository", NULL };
	struct gitx g;
	int shallow;

	if (gitx_run(&g, args, 4096, NULL) < 0)
		return "";
	shallow = g.status == 0 && g.out && !strcmp(g.out, "true");
	gitx_free(&g);
	return shallow ? " (this is a shallow clone: fetch more history, as with "
	    "'git fetch --unshallow', or fetch-depth: 0 in actions/checkout)" : "";
}

static int
run_diff(struct secrets *s, struct secrets_result *r, struct err *e)
{
	const struct secrets_opts *o = secrets_options(s);
	const char **args;
	struct diff d;
	struct gitx g;
	char *base = NULL;
	size_t n = 0;
	int rc;

	if (!gitx_in_work_tree())
		return err_set(e, EX_USAGE_, "%s needs a git work tree, and '.' is not in one",
		    o->mode == SECRETS_SINCE ? "since" : "staged");
	if (o->mode == SECRETS_SINCE) {
		char *rev = xasprintf("%s^{commit}", o->since);
		const char *verify[] = { "rev-parse", "--verify", "--quiet", rev, NULL };
		const char *mb[] = { "merge-base", NULL, "HEAD", NULL };

		rc = gitx_run(&g, verify, 4096, e);
		free(rev);
		if (rc < 0)
			return -1;
		if (g.status != 0 || !g.out || !*g.out) {
			gitx_free(&g);
			return err_set(e, EX_USAGE_, "since '%s': no such commit here%s", o->since, shallow_hint());
		}
		mb[1] = g.out;
		rc = gitx_run(&g, mb, 4096, e);
		free((char *)mb[1]);
		if (rc < 0)
			return -1;
		if (g.status != 0 || !g.out || !*g.out) {
			gitx_free(&g);
			return err_set(e, EX_USAGE_, "since '%s': HEAD has no common ancestor with it%s",
			    o->since, shallow_hint());
		}
		base = g.out;
	}
	args = xcalloc(16 + count_paths(o->paths), sizeof(*args));
	args[n++] = "-c";
	args[n++] = "core.quotePath=false";
	args[n++] = "diff";
	args[n++] = "--no-color";
	args[n++] = "--no-ext-diff";
	args[n++] = "--no-textconv";
	args[n++] = "-U0";
	args[n++] = "--src-prefix=a/";
	args[n++] = "--dst-prefix=b/";
	if (base)
		args[n++] = base;
	else
		args[n++] = "--cached";
	add_paths(args, &n, o->paths);
	args[n] = NULL;
	memset(&d, 0, sizeof(d));
	d.s = s;
	d.r = r;
	buf_init(&d.text, 0);
	rc = gitx_each(&g, args, '\n', on_diff_line, &d, e);
	diff_flush(&d);
	buf_free(&d.text);
	free(d.map);
	free(args);
	free(base);
	if (rc < 0)
		return -1;
	if (g.status != 0)
		return err_set(e, EX_USAGE_, "git diff failed: %s", *g.err ? g.err : "no message");
	return 0;
}

int
secrets_run(struct secrets *s, struct secrets_result *r, struct err *e)
{
	const struct secrets_opts *o = secrets_options(s);
	struct run run = { s, r };
	size_t i;

	switch (o->mode) {
	case SECRETS_SINCE:
	case SECRETS_STAGED:
		r->st.mode = o->mode == SECRETS_SINCE ? "since" : "staged";
		return run_diff(s, r, e);
	case SECRETS_TRACKED:
		if (gitx_in_work_tree()) {
			const char **args = xcalloc(8 + count_paths(o->paths), sizeof(*args));
			struct gitx g;
			size_t n = 0;
			int rc;

			r->st.mode = "tracked";
			args[n++] = "ls-files";
			args[n++] = "-z";
			args[n++] = "--cached";
			if (o->paths)
				args[n++] = "--error-unmatch";
			add_paths(args, &n, o->paths);
			args[n] = NULL;
			rc = gitx_each(&g, args, '\0', on_tracked, &run, e);
			free(args);
			if (rc < 0)
				return -1;
			if (g.status != 0)
				return err_set(e, EX_USAGE_, "git ls-files failed: %s%s",
				    *g.err ? g.err : "no message",
				    o->paths ? " (only files git tracks are scanned; all_files scans the others)" : "");
			return 0;
		}
		/* Outside git there is nothing tracked: scan what is there. */
		/* FALLTHROUGH */
	default:
		r->st.mode = "all";
		if (!o->paths)
			return walk(s, ".", r, 1, e);
		for (i = 0; o->paths[i]; i++) {
			const char *p = o->paths[i];

			/* "./src" is reported as "src/...". */
			while (p[0] == '.' && p[1] == '/')
				for (p += 2; *p == '/'; p++)
					;
			if (walk(s, *p ? p : ".", r, 1, e) < 0)
				return -1;
		}
		return 0;
	}
}

