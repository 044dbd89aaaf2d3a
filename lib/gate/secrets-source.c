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
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* ---- scanning files on every core ------------------------------------------ */

#define WORKERS_AUTO_MAX 8	/* threads by default, at most (one per core) */
#define QUEUE_LEN 512		/* files waiting for a worker */
#define BATCH 16		/* files a worker takes at once */

/*
 * Files are named by one thread (the walk of a tree, git ls-files) and
 * read and matched by workers, each with its own fork of the scanner and
 * its own result.  Every file gets a number in the order it was named;
 * the findings are merged by it at the end, so the result is the one a
 * single thread gives, whatever the number of threads and their timing.
 */
/* A directory open while files of it wait (under the pool's lock). */
struct dirref {
	int fd;
	int refs;		/* the walk's, and one per file queued */
};

struct queued {
	char *path;
	size_t name;		/* where in path its name in dir starts */
	struct dirref *dir;	/* NULL: path from the current directory */
	int regular;
	size_t seq;
};

struct worker {
	struct pool *pool;
	struct secrets *s;
	struct secrets_result r;
	size_t *seq;		/* per finding of r: its file's number */
	size_t seq_alloc;
	pthread_t tid;
	int started;
};

struct pool {
	struct secrets *s;
	struct secrets_result *r;
	struct worker *w;
	size_t nw;		/* 0: the files are scanned as they come */
	pthread_mutex_t mu;
	pthread_cond_t more, room;
	struct queued q[QUEUE_LEN];
	size_t head, n;		/* the queue, a ring */
	size_t seq;		/* files named so far */
	int done, idle, full;	/* no more files; workers waiting; the namer waiting */
};

static void
dir_release(struct dirref *d)
{
	if (d && --d->refs == 0) {
		close(d->fd);
		free(d);
	}
}

static void
scan_queued(struct secrets *s, const struct queued *q, struct secrets_result *r)
{
	secrets_scan_file(s, q->dir ? q->dir->fd : AT_FDCWD, q->path + q->name, q->path,
	    q->regular, r);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;
	struct queued batch[BATCH];
	size_t k, nb = 0, f;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		for (k = 0; k < nb; k++)
			dir_release(batch[k].dir);
		while (!p->n && !p->done) {
			p->idle++;
			pthread_cond_wait(&p->more, &p->mu);
			p->idle--;
		}
		for (nb = 0; nb < BATCH && p->n; nb++) {
			batch[nb] = p->q[p->head];
			p->head = (p->head + 1) % QUEUE_LEN;
			p->n--;
		}
		if (nb && p->full)
			pthread_cond_signal(&p->room);
		pthread_mutex_unlock(&p->mu);
		if (!nb)
			return NULL;	/* done, and nothing left */
		for (k = 0; k < nb; k++) {
			f = w->r.n;
			scan_queued(w->s, &batch[k], &w->r);
			if (w->r.n > f && w->r.n > w->seq_alloc) {
				w->seq_alloc = w->r.alloc;
				w->seq = xrealloc(w->seq, w->seq_alloc * sizeof(*w->seq));
			}
			for (; f < w->r.n; f++)
				w->seq[f] = batch[k].seq;
			free(batch[k].path);
		}
	}
}

/* How many threads scan: the option, or one per online processor. */
static size_t
pool_threads(const struct secrets_opts *o)
{
	long n;

	if (o->threads > 0)
		return (size_t)o->threads;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > WORKERS_AUTO_MAX ? WORKERS_AUTO_MAX : (size_t)n;
}

/* Start the workers; with one thread (or when none starts) the files
 * are scanned by the caller as they are named. */
static void
pool_start(struct pool *p, struct secrets *s, struct secrets_result *r)
{
	size_t n = pool_threads(secrets_options(s)), i;
	struct err e;

	memset(p, 0, sizeof(*p));
	p->s = s;
	p->r = r;
	if (n < 2)
		return;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->more, NULL);
	pthread_cond_init(&p->room, NULL);
	p->w = xcalloc(n, sizeof(*p->w));
	for (i = 0; i < n; i++) {
		struct worker *w = &p->w[p->nw];

		w->pool = p;
		if (!(w->s = secrets_fork(s, &e)))
			break;
		if (pthread_create(&w->tid, NULL, worker_main, w) != 0) {
			secrets_free(w->s);
			w->s = NULL;
			break;
		}
		w->started = 1;
		p->nw++;
	}
}

/* Scan the file at path (name from where path + name is, in dir), now
 * or by a worker; path is freed. */
static void
pool_add(struct pool *p, char *path, size_t name, struct dirref *dir, int regular)
{
	struct queued q = { path, name, dir, regular, 0 };

	if (!p->nw) {
		scan_queued(p->s, &q, p->r);
		free(path);
		return;
	}
	pthread_mutex_lock(&p->mu);
	while (p->n == QUEUE_LEN) {
		p->full = 1;
		pthread_cond_wait(&p->room, &p->mu);
		p->full = 0;
	}
	q.seq = p->seq++;
	if (dir)
		dir->refs++;
	p->q[(p->head + p->n) % QUEUE_LEN] = q;
	p->n++;
	if (p->idle)
		pthread_cond_signal(&p->more);
	pthread_mutex_unlock(&p->mu);
}

struct ref {
	size_t seq, w, i;
};

static int
ref_cmp(const void *pa, const void *pb)
{
	const struct ref *a = pa, *b = pb;

	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	if (a->w != b->w)
		return a->w < b->w ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

static void
stats_add(struct secrets_stats *to, const struct secrets_stats *from)
{
	to->files += from->files;
	to->bytes += from->bytes;
	to->skipped_binary += from->skipped_binary;
	to->skipped_large += from->skipped_large;
	to->skipped_allowlist += from->skipped_allowlist;
	to->skipped_other += from->skipped_other;
	to->sup_inline += from->sup_inline;
	to->sup_allowlist += from->sup_allowlist;
	to->sup_baseline += from->sup_baseline;
}

/* No more files: wait for the workers, and merge their findings into
 * the result in the order the files were named. */
static void
pool_finish(struct pool *p)
{
	struct secrets_result *r = p->r;
	struct ref *refs;
	size_t i, k, n = 0;

	if (!p->nw)
		return;
	pthread_mutex_lock(&p->mu);
	p->done = 1;
	pthread_cond_broadcast(&p->more);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nw; i++) {
		pthread_join(p->w[i].tid, NULL);
		n += p->w[i].r.n;
	}
	refs = xcalloc(n ? n : 1, sizeof(*refs));
	for (i = 0, n = 0; i < p->nw; i++)
		for (k = 0; k < p->w[i].r.n; k++)
			refs[n++] = (struct ref){ p->w[i].seq[k], i, k };
	qsort(refs, n, sizeof(*refs), ref_cmp);
	if (r->n + n > r->alloc) {
		r->alloc = r->n + n;
		r->f = xrealloc(r->f, r->alloc * sizeof(*r->f));
	}
	for (i = 0; i < n; i++)
		r->f[r->n++] = p->w[refs[i].w].r.f[refs[i].i];	/* the strings move */
	free(refs);
	for (i = 0; i < p->nw; i++) {
		struct worker *w = &p->w[i];

		stats_add(&r->st, &w->r.st);
		free(w->r.f);
		free(w->seq);
		secrets_free(w->s);
	}
	free(p->w);
	pthread_cond_destroy(&p->more);
	pthread_cond_destroy(&p->room);
	pthread_mutex_destroy(&p->mu);
	p->nw = 0;
}

/* ---- tracked files and trees --------------------------------------------- */

static int
on_tracked(void *ctx, char *rec, size_t len, struct err *e)
{
	(void)e;
	if (len)
		pool_add(ctx, xstrdup(rec), 0, NULL, 0);
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

/* path cannot be read: an error for a path given, counted below it. */
static int
walk_fail(struct pool *p, char *path, int top, struct err *e)
{
	if (top)
		err_set(e, EX_USAGE_, "cannot scan '%s': %s", path, strerror(errno));
	else
		p->r->st.skipped_other++;
	free(path);
	return top ? -1 : 0;
}

/* Scan path (which walk frees): a file, or a directory and all below it.
 * type is what its directory said it is (d_type), DT_UNKNOWN to look. */
static int
walk(struct pool *p, struct dirref *in, char *path, size_t name, int type, int top, struct err *e)
{
	struct dirref *dir = NULL;
	int fd;
	struct stat sb;
	struct dirent **ents;
	int n, i, regular = type == DT_REG;

	if (type == DT_UNKNOWN) {
		if (lstat(path, &sb) < 0)
			return walk_fail(p, path, top, e);
		type = S_ISDIR(sb.st_mode) ? DT_DIR : S_ISREG(sb.st_mode) ? DT_REG : DT_LNK;
	}
	if (type != DT_DIR) {
		if (type == DT_REG || top) {
			pool_add(p, path, name, in, regular);	/* looked at: scan_file looks again */
		} else {
			p->r->st.skipped_other++;	/* a symlink or a special file */
			free(path);
		}
		return 0;
	}
	n = scandir(path, &ents, entry_wanted, entry_cmp);
	if (n < 0)
		return walk_fail(p, path, top, e);
	/* Its files are opened from it (without one, by their whole path:
	 * a tree deeper than the descriptors a process may hold). */
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		dir = xcalloc(1, sizeof(*dir));
		dir->fd = fd;
		dir->refs = 1;
	}
	for (i = 0; i < n; i++) {
		char *sub = strcmp(path, ".") ? xasprintf("%s%s%s", path,
		    path[strlen(path) - 1] == '/' ? "" : "/", ents[i]->d_name) : xstrdup(ents[i]->d_name);

		walk(p, dir, sub, dir ? strlen(sub) - strlen(ents[i]->d_name) : 0, ents[i]->d_type, 0, e);
		free(ents[i]);
	}
	free(ents);
	free(path);
	if (p->nw)
		pthread_mutex_lock(&p->mu);
	dir_release(dir);
	if (p->nw)
		pthread_mutex_unlock(&p->mu);
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

/* The files git tracks under the paths, as git ls-files names them. */
static int
run_tracked(struct pool *p, struct err *e)
{
	const struct secrets_opts *o = secrets_options(p->s);
	const char **args = xcalloc(8 + count_paths(o->paths), sizeof(*args));
	struct gitx g;
	size_t n = 0;
	int rc;

	args[n++] = "ls-files";
	args[n++] = "-z";
	args[n++] = "--cached";
	if (o->paths)
		args[n++] = "--error-unmatch";
	add_paths(args, &n, o->paths);
	args[n] = NULL;
	rc = gitx_each(&g, args, '\0', on_tracked, p, e);
	free(args);
	if (rc < 0)
		return -1;
	if (g.status != 0)
		return err_set(e, EX_USAGE_, "git ls-files failed: %s%s",
		    *g.err ? g.err : "no message",
		    o->paths ? " (only files git tracks are scanned; all_files scans the others)" : "");
	return 0;
}

/* Every file under the paths. */
static int
run_tree(struct pool *p, struct err *e)
{
	const struct secrets_opts *o = secrets_options(p->s);
	size_t i;

	if (!o->paths)
		return walk(p, NULL, xstrdup("."), 0, DT_UNKNOWN, 1, e);
	for (i = 0; o->paths[i]; i++) {
		const char *path = o->paths[i];

		/* "./src" is reported as "src/...". */
		while (path[0] == '.' && path[1] == '/')
			for (path += 2; *path == '/'; path++)
				;
		if (walk(p, NULL, xstrdup(*path ? path : "."), 0, DT_UNKNOWN, 1, e) < 0)
			return -1;
	}
	return 0;
}

int
secrets_run(struct secrets *s, struct secrets_result *r, struct err *e)
{
	const struct secrets_opts *o = secrets_options(s);
	struct pool p;
	int tracked, rc;

	if (o->mode == SECRETS_SINCE || o->mode == SECRETS_STAGED) {
		r->st.mode = o->mode == SECRETS_SINCE ? "since" : "staged";
		return run_diff(s, r, e);
	}
	/* Outside git there is nothing tracked: scan what is there. */
	tracked = o->mode == SECRETS_TRACKED && gitx_in_work_tree();
	r->st.mode = tracked ? "tracked" : "all";
	pool_start(&p, s, r);
	rc = tracked ? run_tracked(&p, e) : run_tree(&p, e);
	pool_finish(&p);
	return rc;
}
