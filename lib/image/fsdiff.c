/*
 * fsdiff: metadata snapshots of a tree, their difference, and the layer
 * entries of a difference (see fsdiff.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "image/fsdiff.h"
#include "image/layer.h"

struct snap_ent {
	char *path;		/* relative to the root */
	char *link;		/* symlink target, or NULL */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	off_t size;
	long long mtime_ns, ctime_ns;
	ino_t ino;
};

struct fs_snapshot {
	dev_t dev;		/* the root's file system */
	long long taken_ns;	/* the coarse clock when the walk began */
	struct snap_ent *v;
	size_t n, alloc;
	size_t *tab;		/* open addressing: index + 1, 0 empty */
	size_t nb;		/* a power of two */
};

static size_t
hash_path(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

static void
index_build(struct fs_snapshot *s)
{
	size_t i;

	for (s->nb = 16; s->nb < 2 * s->n; s->nb *= 2)
		;
	s->tab = xcalloc(s->nb, sizeof(*s->tab));
	for (i = 0; i < s->n; i++) {
		size_t b = hash_path(s->v[i].path) & (s->nb - 1);

		while (s->tab[b])
			b = (b + 1) & (s->nb - 1);
		s->tab[b] = i + 1;
	}
}

/* The entry at path, or NULL. */
static const struct snap_ent *
lookup(const struct fs_snapshot *s, const char *path)
{
	size_t b = hash_path(path) & (s->nb - 1);

	for (; s->tab[b]; b = (b + 1) & (s->nb - 1))
		if (!strcmp(s->v[s->tab[b] - 1].path, path))
			return &s->v[s->tab[b] - 1];
	return NULL;
}

static long long
ns(const struct timespec *t)
{
	return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static char *
read_link_at(int dfd, const char *name, const char *shown, struct err *e)
{
	char buf[PATH_MAX + 1];
	ssize_t n = readlinkat(dfd, name, buf, PATH_MAX);

	if (n < 0) {
		err_set(e, EX_IOERR_, "cannot read link '%s': %s", shown, strerror(errno));
		return NULL;
	}
	return xstrndup(buf, (size_t)n);
}

/* Record the entries of root/rel ("" for the root), then their subdirectories. */
static int
walk(struct fs_snapshot *s, const char *root, const char *rel, struct err *e)
{
	char *abs = *rel ? xasprintf("%s/%s", root, rel) : xstrdup(root);
	DIR *d = opendir(abs);
	struct dirent *de;
	size_t first = s->n, last, i;

	if (!d) {
		err_set(e, EX_IOERR_, "cannot read directory '%s': %s", abs, strerror(errno));
		free(abs);
		return -1;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		struct snap_ent *x;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;	/* gone while we looked */
			err_set(e, EX_IOERR_, "cannot stat '%s/%s': %s", abs, de->d_name,
			    strerror(errno));
			goto fail;
		}
		if (st.st_dev != s->dev)
			continue;	/* a mount point: another file system */
		if (s->n == s->alloc) {
			s->alloc = s->alloc ? 2 * s->alloc : 256;
			s->v = xrealloc(s->v, s->alloc * sizeof(*s->v));
		}
		x = &s->v[s->n];
		memset(x, 0, sizeof(*x));
		x->path = *rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		s->n++;
		x->mode = st.st_mode;
		x->uid = st.st_uid;
		x->gid = st.st_gid;
		x->size = st.st_size;
		x->mtime_ns = ns(&st.st_mtim);
		x->ctime_ns = ns(&st.st_ctim);
		x->ino = st.st_ino;
		if (S_ISLNK(st.st_mode) && !(x->link = read_link_at(dirfd(d), de->d_name,
		    x->path, e)))
			goto fail;
		errno = 0;
	}
	if (errno) {
		err_set(e, EX_IOERR_, "cannot read directory '%s': %s", abs, strerror(errno));
		goto fail;
	}
	closedir(d);
	free(abs);
	last = s->n;	/* the walks below add their own entries after ours */
	for (i = first; i < last; i++)
		if (S_ISDIR(s->v[i].mode)) {
			char *sub = xstrdup(s->v[i].path);	/* v moves as it grows */
			int rc = walk(s, root, sub, e);

			free(sub);
			if (rc < 0)
				return -1;
		}
	return 0;
fail:
	closedir(d);
	free(abs);
	return -1;
}

struct fs_snapshot *
fs_snapshot_take(const char *root, struct err *e)
{
	struct fs_snapshot *s;
	struct timespec now;
	struct stat st;

	if (lstat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		err_set(e, EX_IOERR_, "'%s' is not a directory", root);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->dev = st.st_dev;
	/*
	 * The clock of file times ticks coarsely: what was written in the
	 * tick the walk begins in would count as changed (racily clean).
	 * A tree just written out is, so the walk begins at the next tick
	 * (a few milliseconds at most).
	 */
#ifdef CLOCK_REALTIME_COARSE
	{
		struct timespec t0, nap = { 0, 500000 };
		int i;

		clock_gettime(CLOCK_REALTIME_COARSE, &t0);
		for (i = 0; i < 100; i++) {
			clock_gettime(CLOCK_REALTIME_COARSE, &now);
			if (ns(&now) != ns(&t0))
				break;
			nanosleep(&nap, NULL);
		}
	}
#else
	clock_gettime(CLOCK_REALTIME, &now);
#endif
	s->taken_ns = ns(&now);
	if (walk(s, root, "", e) < 0) {
		fs_snapshot_free(s);
		return NULL;
	}
	index_build(s);
	return s;
}

void
fs_snapshot_free(struct fs_snapshot *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++) {
		free(s->v[i].path);
		free(s->v[i].link);
	}
	free(s->v);
	free(s->tab);
	free(s);
}

size_t
fs_snapshot_count(const struct fs_snapshot *s)
{
	return s ? s->n : 0;
}

/*
 * b as the snapshot before saw it, a as it is now.  A file whose ctime is
 * not older than the snapshot may have changed again within the same
 * clock tick, unseen (git's "racily clean"): it counts as changed.
 */
static int
changed(const struct snap_ent *a, const struct snap_ent *b, long long taken_ns)
{
	if (a->mode != b->mode || a->uid != b->uid || a->gid != b->gid ||
	    a->mtime_ns != b->mtime_ns)
		return 1;
	if (S_ISDIR(a->mode))
		return 0;
	return b->ctime_ns >= taken_ns || a->size != b->size || a->ctime_ns != b->ctime_ns ||
	    a->ino != b->ino || (a->link && b->link && strcmp(a->link, b->link));
}

/* 1 when an ancestor of path is an opaque directory of after. */
static int
under_opaque(const struct fs_snapshot *after, const unsigned char *opq, const char *path)
{
	char *p = xstrdup(path), *slash;
	int found = 0;

	while (!found && (slash = strrchr(p, '/')) != NULL) {
		const struct snap_ent *x;

		*slash = '\0';
		x = lookup(after, p);
		found = x && opq[x - after->v];
	}
	free(p);
	return found;
}

/* 1 when the deletion of path is not implied by its parent's fate. */
static int
deletion_shown(const struct fs_snapshot *after, const unsigned char *opq, const char *path)
{
	const char *slash = strrchr(path, '/');
	const struct snap_ent *parent;
	char *dir;

	if (!slash)
		return 1;
	dir = xstrndup(path, (size_t)(slash - path));
	parent = lookup(after, dir);
	free(dir);
	return parent && S_ISDIR(parent->mode) && !opq[parent - after->v];
}

static void
delta_push(struct fs_delta **v, size_t *n, size_t *alloc, const char *path, int change,
    int is_dir, int opaque)
{
	if (*n == *alloc) {
		*alloc = *alloc ? 2 * *alloc : 64;
		*v = xrealloc(*v, *alloc * sizeof(**v));
	}
	(*v)[*n].path = xstrdup(path);
	(*v)[*n].change = change;
	(*v)[*n].is_dir = is_dir;
	(*v)[*n].opaque = opaque;
	(*n)++;
}

static int
delta_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fs_delta *)a)->path, ((const struct fs_delta *)b)->path);
}

int
fs_diff(const struct fs_snapshot *before, const char *root, struct fs_delta **out,
    size_t *n, struct err *e)
{
	struct fs_snapshot *after = fs_snapshot_take(root, e);
	struct fs_delta *v = NULL;
	unsigned char *opq, *listed;
	size_t i, nv = 0, alloc = 0, nopq = 0;

	*out = NULL;
	*n = 0;
	if (!after)
		return -1;
	opq = xcalloc(after->n + 1, 1);
	listed = xcalloc(after->n + 1, 1);
	for (i = 0; i < after->n; i++) {
		const struct snap_ent *a = &after->v[i], *b = lookup(before, a->path);
		int dir = S_ISDIR(a->mode);

		if (!b) {
			delta_push(&v, &nv, &alloc, a->path, FS_ADDED, dir, 0);
		} else if (dir && S_ISDIR(b->mode) && a->ino != b->ino) {
			opq[i] = 1;
			nopq++;
			delta_push(&v, &nv, &alloc, a->path, FS_MODIFIED, 1, 1);
		} else if (changed(a, b, before->taken_ns)) {
			delta_push(&v, &nv, &alloc, a->path, FS_MODIFIED, dir, 0);
		} else {
			continue;
		}
		listed[i] = 1;
	}
	/* All that an opaque directory holds goes in, changed or not. */
	for (i = 0; nopq && i < after->n; i++)
		if (!listed[i] && under_opaque(after, opq, after->v[i].path))
			delta_push(&v, &nv, &alloc, after->v[i].path, FS_MODIFIED,
			    S_ISDIR(after->v[i].mode), 0);
	for (i = 0; i < before->n; i++) {
		const struct snap_ent *b = &before->v[i];

		if (!lookup(after, b->path) && deletion_shown(after, opq, b->path))
			delta_push(&v, &nv, &alloc, b->path, FS_DELETED, S_ISDIR(b->mode), 0);
	}
	free(opq);
	free(listed);
	fs_snapshot_free(after);
	if (nv)
		qsort(v, nv, sizeof(*v), delta_cmp);
	*out = v;
	*n = nv;
	return 0;
}

void
fs_delta_free(struct fs_delta *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

/* 1 when path under root is, but for its times, as before saw it. */
static int
same_but_times(const struct fs_snapshot *before, const char *root, const char *path)
{
	const struct snap_ent *b = lookup(before, path);
	char *full;
	struct stat st;
	int r;

	if (!b)
		return 0;
	full = xasprintf("%s/%s", root, path);
	r = lstat(full, &st);
	free(full);
	return r == 0 && st.st_mode == b->mode && st.st_uid == b->uid && st.st_gid == b->gid &&
	    st.st_size == b->size && st.st_ino == b->ino && !S_ISLNK(st.st_mode);
}

void
fs_delta_drop_points(const struct fs_snapshot *before, const char *root, struct fs_delta *v,
    size_t *n, const char *const *paths, size_t npaths)
{
	size_t k = npaths;

	while (k-- > 0) {
		const char *p = paths[k];
		size_t len = strlen(p), i, at = *n;
		int below = 0;

		for (i = 0; i < *n && !below; i++) {
			if (!strcmp(v[i].path, p))
				at = i;
			else if (!strncmp(v[i].path, p, len) && v[i].path[len] == '/')
				below = 1;
		}
		if (below || at == *n || v[at].change != FS_MODIFIED || v[at].opaque ||
		    !same_but_times(before, root, p))
			continue;
		free(v[at].path);
		memmove(&v[at], &v[at + 1], (*n - at - 1) * sizeof(*v));
		(*n)--;
	}
}

/* ---- layer entries ------------------------------------------------------- */

struct ents {
	struct layer_entry *v;
	size_t n, alloc;
	const char *root;
	long long epoch;
};

static struct layer_entry *
ents_new(struct ents *x, const char *path)
{
	struct layer_entry *le;

	if (x->n == x->alloc) {
		x->alloc = x->alloc ? 2 * x->alloc : 64;
		x->v = xrealloc(x->v, x->alloc * sizeof(*x->v));
	}
	le = &x->v[x->n++];
	memset(le, 0, sizeof(*le));
	le->path = xstrdup(path);
	return le;
}

static long long
clamp(const struct ents *x, long long t)
{
	if (x->epoch >= 0 && t > x->epoch)
		return x->epoch;
	return t < 0 ? 0 : t;
}

/* An empty regular file named dir/.wh.NAME (or dir/.wh..wh..opq). */
static void
add_whiteout(struct ents *x, const char *path)
{
	struct layer_entry *le = ents_new(x, path);

	le->type = LE_FILE;
	le->mtime = x->epoch >= 0 ? x->epoch : 0;
}

/* The entry of path as it is in the tree now; sockets are left out. */
static int
add_from_tree(struct ents *x, const char *path, struct err *e)
{
	char *abs = xasprintf("%s/%s", x->root, path);
	struct layer_entry *le;
	struct stat st;

	if (lstat(abs, &st) < 0) {
		err_set(e, EX_IOERR_, "cannot stat '%s': %s", abs, strerror(errno));
		free(abs);
		return -1;
	}
	if (S_ISSOCK(st.st_mode)) {
		free(abs);
		return 0;
	}
	le = ents_new(x, path);
	le->mode = (unsigned)st.st_mode & 07777;
	le->uid = st.st_uid;
	le->gid = st.st_gid;
	le->mtime = clamp(x, (long long)st.st_mtim.tv_sec);
	if (S_ISDIR(st.st_mode)) {
		le->type = LE_DIR;
	} else if (S_ISLNK(st.st_mode)) {
		le->type = LE_SYMLINK;
		if (!(le->link = read_link_at(AT_FDCWD, abs, abs, e))) {
			free(abs);
			return -1;
		}
	} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		le->type = S_ISCHR(st.st_mode) ? LE_CHAR : LE_BLOCK;
		le->devmajor = major(st.st_rdev);
		le->devminor = minor(st.st_rdev);
	} else if (S_ISFIFO(st.st_mode)) {
		le->type = LE_FIFO;
	} else {
		le->type = LE_FILE;	/* hard links too: a copy each */
		le->size = (long long)st.st_size;
		le->src = abs;
		return 0;
	}
	free(abs);
	return 0;
}

/* The directories above path, so that their modes and owners are kept. */
static int
add_parents(struct ents *x, const char *path, struct err *e)
{
	char *p = xstrdup(path), *slash;
	int rc = 0;

	while (rc == 0 && (slash = strrchr(p, '/')) != NULL) {
		*slash = '\0';
		rc = add_from_tree(x, p, e);
	}
	free(p);
	return rc;
}

int
fs_delta_entries(const struct fs_delta *v, size_t n, const char *root,
    long long clamp_epoch, struct layer_entry **out, size_t *nout, struct err *e)
{
	struct ents x;
	size_t i, j;

	memset(&x, 0, sizeof(x));
	x.root = root;
	x.epoch = clamp_epoch;
	for (i = 0; i < n; i++) {
		const char *slash = strrchr(v[i].path, '/');
		char *wh;
		int rc;

		if (v[i].change == FS_DELETED) {
			wh = slash ? xasprintf("%.*s/.wh.%s", (int)(slash - v[i].path), v[i].path,
			    slash + 1) : xasprintf(".wh.%s", v[i].path);
			add_whiteout(&x, wh);
			free(wh);
			rc = 0;
		} else {
			rc = add_from_tree(&x, v[i].path, e);
			if (rc == 0 && v[i].opaque) {
				wh = xasprintf("%s/.wh..wh..opq", v[i].path);
				add_whiteout(&x, wh);
				free(wh);
			}
		}
		if (rc == 0)
			rc = add_parents(&x, v[i].path, e);
		if (rc < 0) {
			for (j = 0; j < x.n; j++)
				layer_entry_free(&x.v[j]);
			free(x.v);
			return err_prefix(e, "the layer of '%s'", root);
		}
	}
	if (x.n)
		layer_sort(x.v, x.n);
	/* Parents are added once per change below them: keep one of each. */
	for (i = j = 0; i < x.n; i++) {
		if (j && !strcmp(x.v[j - 1].path, x.v[i].path)) {
			layer_entry_free(&x.v[i]);
			continue;
		}
		x.v[j++] = x.v[i];
	}
	*out = x.v;
	*nout = j;
	return 0;
}
