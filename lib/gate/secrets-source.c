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
#define QUEUE_LEN 512		/* files waiting for a thread */
#define BATCH 16		/* files a thread takes at once, at most */
#define ADD_BATCH 64		/* files of a directory queued at once */

/*
 * Files are named by the caller's thread (the walk of a tree, git
 * ls-files) and read and matched by all the threads, the caller's
 * included (when the queue is full and once the naming is done), each
 * with its own fork of the scanner and its own result.  Every file gets a
 * number in the order it was named; the findings are merged by it at the
 * end, so the result is the one a single thread gives, whatever the
 * number of threads and their timing.
 */
/* A directory open while files of it wait (refs under the pool's lock). */
struct dirref {
	DIR *d;			/* its files are opened from dirfd(d) */
	char *prefix;		/* what comes before a name in a path: "" or "dir/" */
	char *names;		/* the names of its entries, NUL-separated */
	int refs;		/* the walk's, and one per file queued */
};

struct queued {
	struct dirref *dir;	/* NULL: path is whole, from the current directory */
	const char *name;	/* in dir->names */
	char *path;		/* with no dir: owned */
	int regular;		/* its directory listed it as a regular file */
	size_t seq;
};

struct worker {
	struct pool *pool;
	struct secrets *s;
	struct secrets_result r;
	size_t *seq;		/* per finding of r: its file's number */
	size_t seq_alloc;
	struct buf path;	/* scratch: a queued file's path */
	pthread_t tid;
	int started;
};

struct pool {
	struct secrets *s;
	struct secrets_result *r;
	struct worker *w;	/* w[0] is the caller's thread */
	size_t nw;		/* 0: the files are scanned as they come */
	struct buf path;	/* with no workers: scratch */
	pthread_mutex_t mu;
	pthread_cond_t more;
	struct queued q[QUEUE_LEN];
	size_t head, n;		/* the queue, a ring */
	size_t seq;		/* files named so far */
	int done, idle;		/* no more files; threads waiting */
};

static void
dir_release(struct dirref *d)
{
	if (d && --d->refs == 0) {
		closedir(d->d);
		free(d->prefix);
		free(d->names);
		free(d);
	}
}

static void
scan_queued(struct secrets *s, const struct queued *q, struct buf *path, struct secrets_result *r)
{
	if (!q->dir) {
		secrets_scan_file(s, AT_FDCWD, q->path, q->path, q->regular, r);
		return;
	}
	buf_reset(path);
	buf_adds(path, q->dir->prefix);
	buf_adds(path, q->name);
	secrets_scan_file(s, dirfd(q->dir->d), q->name, buf_str(path), q->regular, r);
}

/* Take files off the queue into batch (under the lock): at most BATCH,
 * fewer when the queue runs short, so that every thread has some until
 * the end. */
static size_t
pool_take(struct pool *p, struct queued *batch)
{
	size_t nb, want = p->n / p->nw;

	if (want > BATCH)
		want = BATCH;
	if (want < 1)
		want = 1;
	for (nb = 0; nb < want && p->n; nb++) {
		batch[nb] = p->q[p->head];
		p->head = (p->head + 1) % QUEUE_LEN;
		p->n--;
	}
	return nb;
}

/* Scan the files taken, as worker w (the lock not held). */
static void
worker_scan(struct worker *w, struct queued *batch, size_t nb)
{
	size_t k, f;

	for (k = 0; k < nb; k++) {
		f = w->r.n;
		scan_queued(w->s, &batch[k], &w->path, &w->r);
		if (w->r.n > f && w->r.n > w->seq_alloc) {
			w->seq_alloc = w->r.alloc;
			w->seq = xrealloc(w->seq, w->seq_alloc * sizeof(*w->seq));
		}
		for (; f < w->r.n; f++)
			w->seq[f] = batch[k].seq;
		free(batch[k].path);
	}
}

static void
batch_release(struct queued *batch, size_t nb)
{
	size_t k;

	for (k = 0; k < nb; k++)
		dir_release(batch[k].dir);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;
	struct queued batch[BATCH];
	size_t nb = 0;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		batch_release(batch, nb);
		while (!p->n && !p->done) {
			p->idle++;
			pthread_cond_wait(&p->more, &p->mu);
			p->idle--;
		}
		nb = pool_take(p, batch);
		pthread_mutex_unlock(&p->mu);
		if (!nb)
			return NULL;	/* done, and nothing left */
		worker_scan(w, batch, nb);
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

/* Start the workers besides the caller's thread; with one thread (or
 * when none starts) the files are scanned by the caller as they are
 * named. */
static void
pool_start(struct pool *p, struct secrets *s, struct secrets_result *r)
{
	size_t n = pool_threads(secrets_options(s)), i;

	memset(p, 0, sizeof(*p));
	p->s = s;
	p->r = r;
	buf_init(&p->path, 0);
	if (n < 2)
		return;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->more, NULL);
	p->w = xcalloc(n, sizeof(*p->w));
	p->w[0].pool = p;
	p->w[0].s = s;
	buf_init(&p->w[0].path, 0);
	for (p->nw = 1, i = 1; i < n; i++) {
		struct worker *w = &p->w[p->nw];

		w->pool = p;
		w->s = secrets_fork(s);
		buf_init(&w->path, 0);
		if (pthread_create(&w->tid, NULL, worker_main, w) != 0) {
			secrets_free(w->s);
			w->s = NULL;
			break;
		}
		w->started = 1;
		p->nw++;
	}
	if (p->nw == 1) {	/* no thread started: scan as they come */
		buf_free(&p->w[0].path);
		free(p->w);
		p->w = NULL;
		p->nw = 0;
		pthread_cond_destroy(&p->more);
		pthread_mutex_destroy(&p->mu);
	}
}

/* Scan the n files of q (a path with no dir is freed), now or on any
 * thread; when the queue is full, the caller scans some itself. */
static void
pool_add(struct pool *p, struct queued *q, size_t n)
{
	struct queued batch[BATCH];
	size_t i, nb;

	if (!p->nw) {
		for (i = 0; i < n; i++) {
			scan_queued(p->s, &q[i], &p->path, p->r);
			free(q[i].path);
		}
		return;
	}
	pthread_mutex_lock(&p->mu);
	for (i = 0; i < n; i++) {
		while (p->n == QUEUE_LEN) {
			nb = pool_take(p, batch);
			pthread_mutex_unlock(&p->mu);
			worker_scan(&p->w[0], batch, nb);
			pthread_mutex_lock(&p->mu);
			batch_release(batch, nb);
		}
		q[i].seq = p->seq++;
		if (q[i].dir)
			q[i].dir->refs++;
		p->q[(p->head + p->n) % QUEUE_LEN] = q[i];
		p->n++;
	}
	if (p->idle)
		pthread_cond_broadcast(&p->more);
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

/* No more files: scan what is left on every thread, wait for the
 * workers, and merge the findings into the result in the order the
 * files were named.  -1 with e set when a fork's rule did not compile. */
static int
pool_finish(struct pool *p, struct err *e)
{
	struct secrets_result *r = p->r;
	struct queued batch[BATCH];
	struct ref *refs;
	size_t i, k, n = 0, nb;
	int rc = 0;

	buf_free(&p->path);
	if (!p->nw)
		return 0;
	pthread_mutex_lock(&p->mu);
	p->done = 1;
	pthread_cond_broadcast(&p->more);
	while ((nb = pool_take(p, batch)) > 0) {
		pthread_mutex_unlock(&p->mu);
		worker_scan(&p->w[0], batch, nb);
		pthread_mutex_lock(&p->mu);
		batch_release(batch, nb);
	}
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nw; i++) {
		if (p->w[i].started)
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
		buf_free(&w->path);
		if (i > 0) {
			if (rc == 0 && e && secrets_failed(w->s, e) < 0)
				rc = -1;
			secrets_free(w->s);
		}
	}
	free(p->w);
	pthread_cond_destroy(&p->more);
	pthread_mutex_destroy(&p->mu);
	p->nw = 0;
	return rc;
}

/* ---- tracked files and trees --------------------------------------------- */

static int
on_tracked(void *ctx, char *rec, size_t len, struct err *e)
{
	struct queued q = { NULL, NULL, NULL, 0, 0 };

	(void)e;
	if (len) {
		q.path = xstrdup(rec);
		pool_add(ctx, &q, 1);
	}
	return 0;
}

/* An entry of a directory being walked. */
struct entry {
	const char *name;
	unsigned char type;	/* d_type */
};

/* Byte order, whatever the locale: the same tree gives the same report. */
static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
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

/*
 * Scan the directory at path (which walk_dir frees) and all below it.
 * Its names are read into one block and sorted; its regular files are
 * queued in runs, opened later from its descriptor, which stays open
 * while any of them waits.  Neither ".", ".." nor .git (a work tree's
 * history is not its content) is walked.
 */
static int
walk_dir(struct pool *p, char *path, int top, struct err *e)
{
	struct buf names = BUF_INIT;
	struct queued run[ADD_BATCH];
	struct dirref *dir;
	struct dirent *de;
	struct entry *ents = NULL;
	size_t *offs = NULL, n = 0, alloc = 0, i, nrun = 0;
	unsigned char *types = NULL;
	DIR *d = opendir(path);

	if (!d)
		return walk_fail(p, path, top, e);
	buf_init(&names, 0);
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, ".git"))
			continue;
		if (n == alloc) {
			alloc = alloc ? 2 * alloc : 64;
			offs = xrealloc(offs, alloc * sizeof(*offs));
			types = xrealloc(types, alloc);
		}
		offs[n] = names.len;
		types[n++] = de->d_type;
		buf_add(&names, de->d_name, strlen(de->d_name) + 1);
	}
	dir = xcalloc(1, sizeof(*dir));
	dir->d = d;
	dir->prefix = !strcmp(path, ".") ? xstrdup("") :
	    xasprintf("%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/");
	dir->names = buf_detach(&names, NULL);
	dir->refs = 1;
	free(path);
	ents = xcalloc(n ? n : 1, sizeof(*ents));
	for (i = 0; i < n; i++) {
		ents[i].name = dir->names + offs[i];
		ents[i].type = types[i];
	}
	free(offs);
	free(types);
	qsort(ents, n, sizeof(*ents), entry_cmp);
	for (i = 0; i < n; i++) {
		int type = ents[i].type;
		struct stat sb;

		if (type == DT_UNKNOWN) {
			if (fstatat(dirfd(d), ents[i].name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
				p->r->st.skipped_other++;	/* gone */
				continue;
			}
			type = S_ISDIR(sb.st_mode) ? DT_DIR : S_ISREG(sb.st_mode) ? DT_REG : DT_LNK;
		}
		if (type == DT_REG) {
			/* Looked at, or listed as regular: scan_file looks again
			 * only at the first. */
			run[nrun++] = (struct queued){ dir, ents[i].name, NULL, ents[i].type == DT_REG, 0 };
			if (nrun == ADD_BATCH) {
				pool_add(p, run, nrun);
				nrun = 0;
			}
		} else if (type == DT_DIR) {
			pool_add(p, run, nrun);	/* the files before it come first */
			nrun = 0;
			walk_dir(p, xasprintf("%s%s", dir->prefix, ents[i].name), 0, e);
		} else {
			p->r->st.skipped_other++;	/* a symlink or a special file */
		}
	}
	pool_add(p, run, nrun);
	free(ents);
	if (p->nw)
		pthread_mutex_lock(&p->mu);
	dir_release(dir);
	if (p->nw)
		pthread_mutex_unlock(&p->mu);
	return 0;
}

/* Scan path (which walk frees), a path given: a file, or a directory and
 * all below it. */
static int
walk(struct pool *p, char *path, struct err *e)
{
	struct stat sb;
	struct queued q = { NULL, NULL, NULL, 0, 0 };

	if (lstat(path, &sb) < 0)
		return walk_fail(p, path, 1, e);
	if (S_ISDIR(sb.st_mode))
		return walk_dir(p, path, 1, e);
	q.path = path;	/* scan_file looks again, and skips what is not a file */
	pool_add(p, &q, 1);
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
		return walk(p, xstrdup("."), e);
	for (i = 0; o->paths[i]; i++) {
		const char *path = o->paths[i];

		/* "./src" is reported as "src/...". */
		while (path[0] == '.' && path[1] == '/')
			for (path += 2; *path == '/'; path++)
				;
		if (walk(p, xstrdup(*path ? path : "."), e) < 0)
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
		if (run_diff(s, r, e) < 0)
			return -1;
		return secrets_failed(s, e);
	}
	/* Outside git there is nothing tracked: scan what is there. */
	tracked = o->mode == SECRETS_TRACKED && gitx_in_work_tree();
	r->st.mode = tracked ? "tracked" : "all";
	pool_start(&p, s, r);
	rc = tracked ? run_tracked(&p, e) : run_tree(&p, e);
	if (pool_finish(&p, rc < 0 ? NULL : e) < 0)
		rc = -1;
	if (rc == 0 && secrets_failed(s, e) < 0)
		rc = -1;
	return rc;
}
