/*
 * copy: the instructions that make layers, COPY, ADD and WORKDIR.  Owns
 * their sources (the build context walked in order with .dockerignore,
 * wildcards, symlinks that must stay inside the context, local archives
 * that ADD extracts, and another stage's or image's files for --from),
 * the metadata they get (--chown by number or by the stage's
 * /etc/passwd and /etc/group, --chmod, mtimes clamped to the epoch),
 * where they land (destinations resolved through the stage's symlinks),
 * and the entries of a layer: parents, hard links, order.  cache.c makes
 * the blob.
 *
 * Sources that are no file of the context: a heredoc (its body, expanded
 * unless its delimiter was quoted; mode 0644) and, for ADD, an http(s)
 * URL fetched through libcurl (mode 0600, as Docker; never extracted),
 * checked against --checksum when given, else a warning and the URL in
 * the build's unpinned list.  Both are written to the scratch directory
 * and get the source date epoch as their time: the layer depends on
 * their bytes only.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/encode.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "image/archive-load.h"
#include "image/builder.h"
#include "image/config.h"
#include "net/http.h"

#define PASSWD_MAX (4u << 20)

/* ---- small helpers ------------------------------------------------------ */

static char *
path_join(const char *dir, const char *name)
{
	if (!*name || !strcmp(name, "."))
		return xstrdup(dir);
	if (!*dir || !strcmp(dir, "."))
		return xstrdup(name);
	return xasprintf("%s/%s", dir, name);
}

static const char *
base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static char *
dir_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? xstrndup(p, (size_t)(s - p)) : xstrdup(".");
}

/* Image path ("/a/b", "a/b/", "/") to view path ("a/b", "."). */
static char *
view_path(const char *p)
{
	char *c = path_clean(p[0] == '/' ? p : p), *r;

	if (c[0] == '/') {
		r = xstrdup(c[1] ? c + 1 : ".");
		free(c);
		return r;
	}
	return c;
}

static int
has_glob(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			continue;
		}
		if (*s == '*' || *s == '?' || *s == '[')
			return 1;
	}
	return 0;
}

/* ---- users and groups --------------------------------------------------------- */

/* Look name up in an /etc/passwd or /etc/group text: 0 and *id (and *gid,
 * the user's group) when found. */
static int
db_lookup(const char *text, const char *name, long long *id, long long *gid)
{
	const char *p = text;

	while (p && *p) {
		const char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p);
		char *line = xstrndup(p, (size_t)(end - p)), *f[4] = { NULL, NULL, NULL, NULL };
		char *s = line, *c;
		int k = 0, found = 0;

		while (k < 4 && (c = strchr(s, ':'))) {
			*c = '\0';
			f[k++] = s;
			s = c + 1;
		}
		if (k < 4 && k >= 0)
			f[k++] = s;
		if (f[0] && !strcmp(f[0], name) && f[2]) {
			char *end2;

			errno = 0;
			*id = strtoll(f[2], &end2, 10);
			if (!errno && end2 != f[2]) {
				found = 1;
				if (gid && f[3])
					*gid = strtoll(f[3], NULL, 10);
			}
		}
		free(line);
		if (found)
			return 0;
		p = nl ? nl + 1 : NULL;
	}
	return -1;
}

static int
parse_id(const char *s, long long *out)
{
	char *end;
	long long v;

	if (!*s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 0 || v > 0x7fffffffLL)
		return -1;
	*out = v;
	return 0;
}

struct owner {
	long long uid, gid;
	char *uname, *gname;
	int set;
};

static void
owner_free(struct owner *ow)
{
	free(ow->uname);
	free(ow->gname);
	memset(ow, 0, sizeof(*ow));
}

/*
 * "user[:group]" by number or by name in the stage's /etc/passwd and
 * /etc/group.  A user alone gets its primary group (a number alone, the
 * same number), as BuildKit does.
 */
static int
resolve_owner(struct builder *b, struct build_stage *s, const struct df_inst *in, const char *spec,
    const char *what, struct owner *ow)
{
	char *user = xstrdup(spec), *group = strchr(user, ':');
	char *passwd = NULL, *grp = NULL;
	struct rootfs *fs;
	int rc = -1;

	memset(ow, 0, sizeof(*ow));
	if (group)
		*group++ = '\0';
	if (!*user || (group && (!*group || strchr(group, ':')))) {
		builder_err(b, in, EX_USAGE_, "%s: %s '%s': expected USER[:GROUP]",
		    df_kind_name(in->kind),
		    what, spec);
		goto out;
	}
	if (parse_id(user, &ow->uid) == 0) {
		ow->gid = ow->uid;
	} else {
		if (!(fs = base_stage_fs(b, s))) {
			builder_prefix(b, in);
			goto out;
		}
		passwd = rootfs_read(fs, "etc/passwd", b->scratch, PASSWD_MAX, b->e);
		if (!passwd || db_lookup(passwd, user, &ow->uid, &ow->gid) < 0) {
			builder_err(b, in, EX_USAGE_, "%s: %s '%s': no user '%s' in the image's "
			    "/etc/passwd", df_kind_name(in->kind), what, spec, user);
			goto out;
		}
		ow->uname = xstrdup(user);
	}
	if (group) {
		if (parse_id(group, &ow->gid) < 0) {
			if (!(fs = base_stage_fs(b, s))) {
				builder_prefix(b, in);
				goto out;
			}
			grp = rootfs_read(fs, "etc/group", b->scratch, PASSWD_MAX, b->e);
			if (!grp || db_lookup(grp, group, &ow->gid, NULL) < 0) {
				builder_err(b, in, EX_USAGE_,
				    "%s: %s '%s': no group '%s' in the image's "
				    "/etc/group", df_kind_name(in->kind), what, spec, group);
				goto out;
			}
			ow->gname = xstrdup(group);
		}
	}
	ow->set = 1;
	rc = 0;
out:
	if (rc < 0)
		owner_free(ow);
	free(user);
	free(passwd);
	free(grp);
	return rc;
}

int
copy_user(struct builder *b, struct build_stage *s, const struct df_inst *in, const char *spec,
    long long *uid, long long *gid)
{
	struct owner ow;

	if (resolve_owner(b, s, in, spec, "USER", &ow) < 0)
		return -1;
	*uid = ow.uid;
	*gid = ow.gid;
	owner_free(&ow);
	return 0;
}

/* ---- the entries of a layer ------------------------------------------- */

static size_t
hstr(const char *s)
{
	size_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/*
 * The slot of path in lb's table: where it is, or the empty slot where
 * it goes.  A slot keeps its path's hash: a probe reads an item (a cache
 * miss, in a table of thousands) only when the hashes agree.
 */
static struct lb_slot *
lb_slot(const struct lb *lb, const char *path, size_t h)
{
	size_t i;

	for (i = h & (lb->tabsz - 1); lb->tab[i].idx; i = (i + 1) & (lb->tabsz - 1))
		if (lb->tab[i].hash == h && !strcmp(lb->v[lb->tab[i].idx - 1].ent.path, path))
			break;
	return &lb->tab[i];
}

static struct item *
lb_get(const struct lb *lb, const char *path)
{
	struct lb_slot *t;

	if (!lb->tabsz)
		return NULL;
	t = lb_slot(lb, path, hstr(path));
	return t->idx ? &lb->v[t->idx - 1] : NULL;
}

/* A table twice the size, from the hashes the slots keep. */
static void
lb_rehash(struct lb *lb)
{
	struct lb_slot *old = lb->tab;
	size_t i, j, oldsz = lb->tabsz;

	lb->tabsz = oldsz ? oldsz * 2 : 1024;
	lb->tab = xcalloc(lb->tabsz, sizeof(*lb->tab));
	for (i = 0; i < oldsz; i++) {
		if (!old[i].idx)
			continue;
		for (j = old[i].hash & (lb->tabsz - 1); lb->tab[j].idx; j = (j + 1) & (lb->tabsz - 1))
			;
		lb->tab[j] = old[i];
	}
	free(old);
}

/* Add (taking ent's strings) or replace what is at the same path. */
static void
lb_put(struct lb *lb, struct layer_entry *ent, const struct stat *st)
{
	size_t h = hstr(ent->path);
	struct lb_slot *t;
	struct item *x;

	if ((lb->n + 1) * 2 > lb->tabsz)
		lb_rehash(lb);
	t = lb_slot(lb, ent->path, h);
	x = t->idx ? &lb->v[t->idx - 1] : NULL;

	if (x) {
		layer_entry_free(&x->ent);
		x->ent = *ent;
		x->have_st = st != NULL;
		if (st)
			x->st = *st;
		memset(ent, 0, sizeof(*ent));
		return;
	}
	if (lb->n == lb->cap) {
		lb->cap = lb->cap ? lb->cap * 2 : 64;
		lb->v = xrealloc(lb->v, lb->cap * sizeof(*lb->v));
	}
	x = &lb->v[lb->n++];
	memset(x, 0, sizeof(*x));
	x->ent = *ent;
	x->have_st = st != NULL;
	if (st)
		x->st = *st;
	memset(ent, 0, sizeof(*ent));
	t->hash = h;
	t->idx = lb->n;
}

static void
lb_free(struct lb *lb)
{
	size_t i;

	for (i = 0; i < lb->n; i++)
		layer_entry_free(&lb->v[i].ent);
	free(lb->v);
	free(lb->tab);
	memset(lb, 0, sizeof(*lb));
}

static long long
clamp_mtime(const struct builder *b, long long t)
{
	if (t > b->o->sde)
		return b->o->sde;
	return t < 0 ? 0 : t;
}

/* What a COPY applies to every entry it copies. */
struct copy_params {
	struct owner own;	/* --chown, or unset */
	int chmod;		/* --chmod, or -1 */
	int keep_owner;		/* from an image or archive: keep uid/gid */
};

static void
apply_params(struct builder *b, const struct copy_params *cp, struct layer_entry *le)
{
	le->mtime = clamp_mtime(b, le->mtime);
	if (cp->own.set) {
		le->uid = cp->own.uid;
		le->gid = cp->own.gid;
		free(le->uname);
		free(le->gname);
		le->uname = cp->own.uname ? xstrdup(cp->own.uname) : NULL;
		le->gname = cp->own.gname ? xstrdup(cp->own.gname) : NULL;
	} else if (!cp->keep_owner) {
		le->uid = le->gid = 0;
		free(le->uname);
		free(le->gname);
		le->uname = le->gname = NULL;
	}
	if (cp->chmod >= 0 && le->type != LE_SYMLINK && le->type != LE_HARDLINK)
		le->mode = (unsigned)cp->chmod;
}

/*
 * Where a path of the image really is: its parent resolved through the
 * stage's symlinks (so /lib/x lands in /usr/lib/x when /lib -> usr/lib);
 * with dir set, the path itself too when it is a link to a directory.
 */
static int
resolve_dest(struct builder *b, struct rootfs *fs, const char *path, int dir, char **out)
{
	char *parent = dir_name(path), *rp, *cand;
	struct rootfs_node *x;

	*out = NULL;
	if (!strcmp(path, ".")) {
		free(parent);
		*out = xstrdup(".");
		return 0;
	}
	if (rootfs_resolve(fs, parent, 1, &rp, b->e) < 0) {
		free(parent);
		return -1;
	}
	free(parent);
	cand = path_join(rp, base_name(path));
	free(rp);
	x = rootfs_get(fs, cand);
	if (dir && x && x->ent.type == LE_SYMLINK) {
		char *r2;

		if (rootfs_resolve(fs, cand, 1, &r2, b->e) < 0) {
			free(cand);
			return -1;
		}
		free(cand);
		cand = r2;
	}
	*out = cand;
	return 0;
}

/* Add the parents of every entry that the layer lacks: existing ones with
 * the metadata the stage has, new ones as 0755 directories. */
static int
lb_add_parents(struct builder *b, struct build_stage *s, struct lb *lb, const struct owner *own,
    const struct df_inst *in)
{
	struct rootfs *fs = s->fs;
	size_t i, n = lb->n;

	for (i = 0; i < n; i++) {
		char *p = xstrdup(lb->v[i].ent.path), *slash;

		while ((slash = strrchr(p, '/'))) {
			struct rootfs_node *x;
			struct layer_entry d;
			struct item *it;

			*slash = '\0';
			if ((it = lb_get(lb, p))) {
				if (it->ent.type != LE_DIR) {
					builder_err(b, in, EX_USAGE_,
					    "%s: '/%s' would be both a file and a "
					    "directory", df_kind_name(in->kind), p);
					free(p);
					return -1;
				}
				break;
			}
			memset(&d, 0, sizeof(d));
			x = fs ? rootfs_get(fs, p) : NULL;
			if (x && x->ent.type != LE_DIR) {
				builder_err(b, in, EX_USAGE_,
				    "%s: cannot copy to '/%s': '/%s' is not a "
				    "directory in the image", df_kind_name(in->kind),
				    lb->v[i].ent.path, p);
				free(p);
				return -1;
			}
			if (x) {
				layer_entry_copy(&d, &x->ent);
				free(d.src);
				d.src = NULL;
				d.mtime = clamp_mtime(b, d.mtime);
			} else {
				d.path = xstrdup(p);
				d.type = LE_DIR;
				d.mode = 0755;
				d.mtime = b->o->sde;
				if (own && own->set) {
					d.uid = own->uid;
					d.gid = own->gid;
					d.uname = own->uname ? xstrdup(own->uname) : NULL;
					d.gname = own->gname ? xstrdup(own->gname) : NULL;
				}
			}
			lb_put(lb, &d, NULL);
			/* lb->v may have moved; the loop re-reads it by index. */
		}
		free(p);
	}
	return 0;
}

struct hl {
	dev_t dev;
	ino_t ino;
	size_t idx;
};

static int
hl_cmp(const void *a, const void *b)
{
	const struct hl *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

static struct lb *hl_sort_lb;

static int
hl_path_cmp(const void *a, const void *b)
{
	const struct hl *x = a, *y = b;
	int c = hl_cmp(a, b);

	if (c)
		return c;
	return strcmp(hl_sort_lb->v[x->idx].ent.path, hl_sort_lb->v[y->idx].ent.path);
}

/* Files of the context that are hard links of each other stay so: the
 * first by path keeps the content, the others link to it. */
static void
lb_hardlinks(struct lb *lb)
{
	struct hl *v = NULL;
	size_t n = 0, i, j;

	for (i = 0; i < lb->n; i++) {
		const struct item *x = &lb->v[i];

		if (x->have_st && x->ent.type == LE_FILE && x->st.st_nlink > 1) {
			v = xrealloc(v, (n + 1) * sizeof(*v));
			v[n].dev = x->st.st_dev;
			v[n].ino = x->st.st_ino;
			v[n++].idx = i;
		}
	}
	if (n < 2) {
		free(v);
		return;
	}
	hl_sort_lb = lb;
	qsort(v, n, sizeof(*v), hl_path_cmp);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && !hl_cmp(&v[i], &v[j]); j++) {
			struct layer_entry *le = &lb->v[v[j].idx].ent;

			le->type = LE_HARDLINK;
			free(le->link);
			le->link = xstrdup(lb->v[v[i].idx].ent.path);
			le->size = 0;
			free(le->src);
			le->src = NULL;
		}
	}
	free(v);
}

/*
 * In a tar, a hard link comes after what it links to.  Links are pointed
 * straight at the entry with the content, and in each group the first
 * path (bytewise, the order of the tar) is made the one with the content.
 */
static int
lb_link_order(struct builder *b, struct lb *lb, const struct df_inst *in)
{
	size_t i, k;

	for (i = 0; i < lb->n; i++) {
		struct item *x = &lb->v[i], *t;
		int hops = 0;

		if (x->ent.type != LE_HARDLINK)
			continue;
		t = lb_get(lb, x->ent.link);
		while (t && t->ent.type == LE_HARDLINK && hops++ < 40)
			t = lb_get(lb, t->ent.link);
		if (!t || t->ent.type != LE_FILE)
			return builder_err(b, in, EX_USAGE_,
			    "%s: '/%s' is a hard link to '/%s', which is "
			    "not a file this %s copies", df_kind_name(in->kind), x->ent.path,
			    x->ent.link, df_kind_name(in->kind));
		if (strcmp(t->ent.path, x->ent.link) != 0) {
			free(x->ent.link);
			x->ent.link = xstrdup(t->ent.path);
		}
	}
	for (i = 0; i < lb->n; i++) {
		struct item *x = &lb->v[i], *t;
		char *old;

		if (x->ent.type != LE_HARDLINK || !(t = lb_get(lb, x->ent.link)) ||
		    strcmp(x->ent.path, t->ent.path) >= 0)
			continue;
		/* x comes first: it takes the content, t links to it. */
		x->ent.type = LE_FILE;
		x->ent.size = t->ent.size;
		x->ent.src = t->ent.src;
		memcpy(x->ent.digest, t->ent.digest, OCI_DIGEST_SIZE);
		x->st = t->st;
		x->have_st = t->have_st;
		free(x->ent.link);
		x->ent.link = NULL;
		t->ent.src = NULL;
		t->ent.type = LE_HARDLINK;
		free(t->ent.link);
		t->ent.link = xstrdup(x->ent.path);
		t->ent.size = 0;
		t->ent.digest[0] = '\0';
		t->have_st = 0;
		old = xstrdup(t->ent.path);
		for (k = 0; k < lb->n; k++)
			if (lb->v[k].ent.type == LE_HARDLINK && !strcmp(lb->v[k].ent.link, old)) {
				free(lb->v[k].ent.link);
				lb->v[k].ent.link = xstrdup(x->ent.path);
			}
		free(old);
		/* Look at the links to x again: one may come before it still. */
		i = (size_t)-1;
	}
	return 0;
}

static int
lb_ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->ent.path, ((const struct item *)b)->ent.path);
}

/*
 * Turn the collected entries into a layer of stage s: parents, hard
 * links, order; then, in a stage the target builds on, the layer itself
 * (the cache's or a fresh blob: cache_layer()); then the stage's view,
 * config and history.
 */
static int
lb_commit(struct builder *b, struct build_stage *s, struct lb *lb, const struct owner *own,
    const struct df_inst *in, const char *created_by)
{
	struct layer_entry *ents;
	size_t i;
	int rc = -1;

	if (lb_add_parents(b, s, lb, own, in) < 0)
		return -1;
	lb_hardlinks(lb);
	if (lb_link_order(b, lb, in) < 0)
		return -1;
	if (lb->n > 1)
		qsort(lb->v, lb->n, sizeof(*lb->v), lb_ent_cmp);
	free(lb->tab);
	lb->tab = NULL;
	lb->tabsz = 0;
	ents = xcalloc(lb->n + 1, sizeof(*ents));
	for (i = 0; i < lb->n; i++)
		ents[i] = lb->v[i].ent;	/* borrowed: lb still owns the strings */
	if (s->chain && cache_layer(b, s, lb, ents, in) < 0)
		goto out;
	if (b->has_run && cache_fold_layer(b, s, lb, ents, in) < 0)
		goto out;
	imgconfig_add_history(s->cfg, b->created, created_by, HISTORY_COMMENT, !s->chain);
	/* Later instructions see the new entries, content on disk (the
	 * view takes them: lb is done with). */
	for (i = 0; i < lb->n; i++) {
		memcpy(lb->v[i].ent.digest, ents[i].digest, OCI_DIGEST_SIZE);
		rootfs_take(s->fs, &lb->v[i].ent, -1);
	}
	rc = 0;
out:
	free(ents);
	return rc;
}

/* ---- sources: the build context ------------------------------------------------- */

struct copy_job;
static void new_dir(struct builder *b, struct copy_job *j, const char *path);

/* Context-relative path of an absolute path inside the context. */
static const char *
ctx_rel(struct builder *b, const char *abs)
{
	if (!strcmp(abs, b->ctx_real))
		return ".";
	return abs + b->ctx_len + 1;
}

struct copy_job {
	struct builder *b;
	struct build_stage *s;
	const struct df_inst *in;
	struct lb lb;
	struct copy_params cp;
	int nwalked;
};

/* A directory the COPY makes: 0755, the --chown owner, the epoch. */
static void
new_dir(struct builder *b, struct copy_job *j, const char *path)
{
	struct layer_entry d;

	if (!strcmp(path, ".") || lb_get(&j->lb, path))
		return;
	memset(&d, 0, sizeof(d));
	d.path = xstrdup(path);
	d.type = LE_DIR;
	d.mode = 0755;
	d.mtime = b->o->sde;
	if (j->cp.own.set) {
		d.uid = j->cp.own.uid;
		d.gid = j->cp.own.gid;
		d.uname = j->cp.own.uname ? xstrdup(j->cp.own.uname) : NULL;
		d.gname = j->cp.own.gname ? xstrdup(j->cp.own.gname) : NULL;
	}
	lb_put(&j->lb, &d, NULL);
}

static void
add_ctx_entry(struct copy_job *j, const char *dest, const char *abs, const struct stat *st)
{
	struct layer_entry le;

	memset(&le, 0, sizeof(le));
	le.path = xstrdup(dest);
	le.mode = (unsigned)st->st_mode & 07777;
	le.mtime = (long long)st->st_mtim.tv_sec;
	if (S_ISDIR(st->st_mode)) {
		le.type = LE_DIR;
	} else if (S_ISLNK(st->st_mode)) {
		char buf[PATH_MAX + 1];
		ssize_t n = readlink(abs, buf, PATH_MAX);

		le.type = LE_SYMLINK;
		le.link = xstrndup(buf, n > 0 ? (size_t)n : 0);
	} else {
		le.type = LE_FILE;
		le.size = (long long)st->st_size;
		le.src = xstrdup(abs);
	}
	apply_params(j->b, &j->cp, &le);
	lb_put(&j->lb, &le, S_ISREG(st->st_mode) ? st : NULL);
}

/* The output of this very build, when it lies inside the context. */
static int
excluded_abs(struct builder *b, const char *abs)
{
	size_t i;

	for (i = 0; i < b->o->nexclude; i++) {
		const char *x = b->o->exclude[i];
		size_t n = x ? strlen(x) : 0;

		if (n && x[n - 1] == '*' ? !strncmp(abs, x, n - 1) : !strcmp(abs, x))
			return 1;
	}
	return 0;
}

static int
not_dots(const struct dirent *d)
{
	return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

/* Bytewise, whatever the locale: the order of the tar. */
static int
dirent_qcmp(const void *a, const void *b)
{
	return strcmp((*(struct dirent *const *)a)->d_name, (*(struct dirent *const *)b)->d_name);
}

static void dirents_free(struct dirent **v, size_t n);

/* The entries of dir but "." and "..", sorted; *n of them.  With keep,
 * *keep is the directory, left open for the caller (fstatat() on its fd,
 * closedir()): one open of each directory, not scandir()'s and then the
 * caller's. */
static struct dirent **
read_dir_sorted(const char *dir, DIR **keep, size_t *n, struct err *e)
{
	struct dirent **v = NULL, *de;
	size_t cap = 0;
	DIR *d = opendir(dir);
	int saved;

	*n = 0;
	if (!d) {
		err_set(e, EX_IOERR_, "cannot read '%s': %s", dir, strerror(errno));
		return NULL;
	}
	/* Each entry copied whole, as scandir() does: d_reclen covers it. */
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!not_dots(de))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[*n] = xmalloc(de->d_reclen);
		memcpy(v[*n], de, de->d_reclen);
		(*n)++;
	}
	if (errno) {
		saved = errno;
		dirents_free(v, *n);
		*n = 0;
		closedir(d);
		err_set(e, EX_IOERR_, "cannot read '%s': %s", dir, strerror(saved));
		return NULL;
	}
	if (*n > 1)
		qsort(v, *n, sizeof(*v), dirent_qcmp);
	if (!v)
		v = xcalloc(1, sizeof(*v));
	if (keep)
		*keep = d;
	else
		closedir(d);
	return v;
}

static void
dirents_free(struct dirent **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Copy the contents of context directory abs (relative rel) to dest,
 * honouring .dockerignore; returns how many entries it added (-1 on
 * error).  dest is already resolved against the image's symlinks.
 */
static int
walk_ctx(struct copy_job *j, const char *abs, const char *rel, const char *dest,
    int *self_excluded)
{
	struct builder *b = j->b;
	struct dirent **names;
	DIR *dir = NULL;
	size_t n, i;
	int added = 0, dfd;

	names = read_dir_sorted(abs, &dir, &n, b->e);
	if (!names)
		return builder_prefix(b, j->in);
	/* Each entry's stat relative to its directory: the kernel does not
	 * walk the whole path again for every file. */
	dfd = dirfd(dir);
	for (i = 0; i < n; i++) {
		char *cabs = xasprintf("%s/%s", abs, names[i]->d_name);
		char *crel = path_join(rel, names[i]->d_name);
		char *cdest = path_join(dest, names[i]->d_name);
		struct stat st;
		int excluded;

		if (b->o->stop && *b->o->stop) {
			err_set(b->e, EX_TEMP, "interrupted");
			goto fail;
		}
		if ((dfd >= 0 ? fstatat(dfd, names[i]->d_name, &st, AT_SYMLINK_NOFOLLOW) :
		    lstat(cabs, &st)) != 0) {
			builder_err(b, j->in, EX_IOERR_, "cannot read '%s': %s", cabs,
			    strerror(errno));
			goto fail;
		}
		excluded = dockerignore_excluded(&b->di, crel);
		if (excluded_abs(b, cabs)) {
			if (self_excluded)
				*self_excluded = 1;
			goto next;
		}
		if (S_ISDIR(st.st_mode)) {
			struct rootfs_node *x = rootfs_get(j->s->fs, cdest);
			char *rdest = NULL;
			int k, ours = 0;

			if (excluded && !dockerignore_may_include_under(&b->di, crel))
				goto next;
			if (x && x->ent.type == LE_SYMLINK) {
				if (resolve_dest(b, j->s->fs, cdest, 1, &rdest) < 0) {
					builder_prefix(b, j->in);
					goto fail;
				}
				x = rootfs_get(j->s->fs, rdest);
			} else {
				rdest = xstrdup(cdest);
			}
			if (x && x->ent.type != LE_DIR) {
				builder_err(b, j->in, EX_USAGE_,
				    "%s: cannot copy directory '%s' onto "
				    "'/%s', which is not a directory in the image",
				    df_kind_name(j->in->kind), crel, rdest);
				free(rdest);
				goto fail;
			}
			k = walk_ctx(j, cabs, crel, rdest, &ours);
			if (k < 0) {
				free(rdest);
				goto fail;
			}
			/* A directory that only held our own output is not copied. */
			if ((!excluded && !(ours && k == 0)) || k > 0) {
				add_ctx_entry(j, rdest, cabs, &st);
				k++;
			}
			added += k;
			free(rdest);
		} else if (!excluded) {
			if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
				struct rootfs_node *x = rootfs_get(j->s->fs, cdest);

				if (x && x->ent.type == LE_DIR) {
					builder_err(b, j->in, EX_USAGE_,
					    "%s: cannot copy file '%s' onto "
					    "'/%s', which is a directory in the image",
					    df_kind_name(j->in->kind), crel, cdest);
					goto fail;
				}
				add_ctx_entry(j, cdest, cabs, &st);
				added++;
			} else {
				builder_warn(b,
				    "%s:%d: skipping '%s' of the context: %s are not copied",
				    b->df.name, j->in->line, crel,
				    S_ISSOCK(st.st_mode) ? "sockets" :
				    S_ISFIFO(st.st_mode) ? "named pipes" : "device files");
			}
		}
next:
		free(cabs);
		free(crel);
		free(cdest);
		continue;
fail:
		free(cabs);
		free(crel);
		free(cdest);
		dirents_free(names, n);
		closedir(dir);
		return -1;
	}
	dirents_free(names, n);
	closedir(dir);
	return added;
}

/*
 * libarchive and its libraries take tens of milliseconds to load, on one
 * core, when the layer writer first needs them: with no layer cached yet
 * (a cold build), one will be written, and they load on the other core
 * while the context is walked.  A build that may find its layers cached
 * loads nothing ahead.  An error stays for archive_load() to report.
 */
static void *
preload_archive(void *arg)
{
	struct err e;

	(void)arg;
	(void)archive_load(&e);
	return NULL;
}

static int
preload_start(const struct builder *b, pthread_t *t)
{
	return !b->cache_has_layers && pthread_create(t, NULL, preload_archive, NULL) == 0;
}

/* Match a wildcard source against the context, level by level. */
static int
glob_ctx(struct builder *b, const struct df_inst *in, const char *dir_rel, const char *pat,
    char ***out)
{
	const char *slash = strchr(pat, '/');
	char *seg = slash ? xstrndup(pat, (size_t)(slash - pat)) : xstrdup(pat);
	const char *rest = slash ? slash + 1 : NULL;
	char *abs = strcmp(dir_rel, ".") ? xasprintf("%s/%s", b->ctx_real, dir_rel) :
	    xstrdup(b->ctx_real);
	struct dirent **names;
	size_t n, i;
	int rc = 0;

	while (rest && *rest == '/')
		rest++;
	if (rest && !*rest)
		rest = NULL;
	if (!has_glob(seg)) {
		char *crel = path_join(dir_rel, seg), *cabs = xasprintf("%s/%s", abs, seg);
		struct stat st;

		if (lstat(cabs, &st) == 0 && !dockerignore_excluded(&b->di, crel)) {
			if (!rest)
				*out = strv_push(*out, crel);
			else if (S_ISDIR(st.st_mode))
				rc = glob_ctx(b, in, crel, rest, out);
		}
		free(crel);
		free(cabs);
		free(seg);
		free(abs);
		return rc;
	}
	names = read_dir_sorted(abs, NULL, &n, b->e);
	free(abs);
	if (!names) {
		free(seg);
		err_clear(b->e);
		return 0;
	}
	for (i = 0; i < n && rc == 0; i++) {
		char *crel;

		if (fnmatch(seg, names[i]->d_name, 0) != 0)
			continue;
		crel = path_join(dir_rel, names[i]->d_name);
		if (!dockerignore_excluded(&b->di, crel)) {
			if (!rest)
				*out = strv_push(*out, crel);
			else {
				char *cabs = xasprintf("%s/%s", b->ctx_real, crel);
				struct stat st;

				if (lstat(cabs, &st) == 0 && S_ISDIR(st.st_mode))
					rc = glob_ctx(b, in, crel, rest, out);
				free(cabs);
			}
		}
		free(crel);
	}
	dirents_free(names, n);
	free(seg);
	return rc;
}

/* A source of the context: cleaned, inside the context, and where it
 * really is once its symlinks are followed. */
static int
ctx_source(struct builder *b, const struct df_inst *in, const char *rel, char **real_abs)
{
	char *abs = strcmp(rel, ".") ? xasprintf("%s/%s", b->ctx_real, rel) : xstrdup(b->ctx_real);
	char *real = realpath(abs, NULL);
	const char *kw = df_kind_name(in->kind);

	*real_abs = NULL;
	if (!real) {
		struct stat st;

		if (lstat(abs, &st) == 0 && S_ISLNK(st.st_mode)) {
			char buf[PATH_MAX + 1];
			ssize_t n = readlink(abs, buf, PATH_MAX);

			buf[n > 0 ? n : 0] = '\0';
			builder_err(b, in, EX_USAGE_,
			    "%s: '%s' is a symlink to '%s', which does not "
			    "exist", kw, rel, buf);
		} else {
			builder_err(b, in, EX_USAGE_,
			    "%s: '%s' not found in the build context '%s'", kw,
			    rel, b->o->context);
		}
		free(abs);
		return -1;
	}
	if (strcmp(real, b->ctx_real) != 0 && (strncmp(real, b->ctx_real, b->ctx_len) != 0 ||
	    real[b->ctx_len] != '/')) {
		builder_err(b, in, EX_USAGE_, "%s: '%s' leads to '%s', outside the build context; "
		    "copy what it points to into the context instead", kw, rel, real);
		free(real);
		free(abs);
		return -1;
	}
	if (strcmp(rel, ".") && (dockerignore_excluded(&b->di, rel) ||
	    (strcmp(ctx_rel(b, real), ".") && dockerignore_excluded(&b->di, ctx_rel(b, real))))) {
		builder_err(b, in, EX_USAGE_, "%s: '%s' is excluded by .dockerignore", kw, rel);
		free(real);
		free(abs);
		return -1;
	}
	free(abs);
	*real_abs = real;
	return 0;
}

/* ---- sources: ADD of a local archive ------------------------------------------- */

static int
extract_archive(struct copy_job *j, struct layer_reader *r, const char *dest)
{
	struct builder *b = j->b;
	struct layer_entry ent;
	int nr;

	while ((nr = layer_reader_next(r, &ent, b->e)) > 0) {
		struct layer_entry le;
		char *path;

		if (!strcmp(ent.path, "."))
			continue;
		path = path_join(dest, ent.path);
		layer_entry_copy(&le, &ent);
		free(le.path);
		le.path = path;
		le.src = NULL;
		if (le.type == LE_HARDLINK) {
			char *t = path_join(dest, ent.link);

			free(le.link);
			le.link = t;
		}
		if (le.type == LE_FILE) {
			char *tmp = xasprintf("%s/addXXXXXX", b->scratch);
			int fd = mkstemp(tmp);

			if (fd < 0) {
				builder_err(b, j->in, EX_IOERR_, "cannot create a file in '%s': %s",
				    b->scratch, strerror(errno));
				free(tmp);
				layer_entry_free(&le);
				return -1;
			}
			if (layer_reader_copy(r, fd, le.digest, b->e) < 0 || close(fd) != 0) {
				free(tmp);
				layer_entry_free(&le);
				return builder_prefix(b, j->in);
			}
			le.src = tmp;
		}
		apply_params(b, &j->cp, &le);
		lb_put(&j->lb, &le, NULL);
	}
	if (nr < 0)
		return builder_prefix(b, j->in);
	return 0;
}

/* ---- sources: another stage or an image -------------------------------------------- */

/* Match a wildcard against a view, level by level. */
static void
glob_view(struct rootfs *fs, const char *dir, const char *pat, char ***out)
{
	const char *slash = strchr(pat, '/');
	char *seg = slash ? xstrndup(pat, (size_t)(slash - pat)) : xstrdup(pat);
	const char *rest = slash ? slash + 1 : NULL;
	struct rootfs_node **kids;
	size_t n, i, dl = strcmp(dir, ".") ? strlen(dir) + 1 : 0;

	while (rest && *rest == '/')
		rest++;
	if (rest && !*rest)
		rest = NULL;
	kids = rootfs_list(fs, dir, &n);
	for (i = 0; i < n; i++) {
		const char *name = kids[i]->ent.path + dl;

		if (strchr(name, '/') || fnmatch(seg, name, 0) != 0)
			continue;
		if (!rest)
			*out = strv_push(*out, kids[i]->ent.path);
		else if (kids[i]->ent.type == LE_DIR)
			glob_view(fs, kids[i]->ent.path, rest, out);
	}
	free(kids);
	free(seg);
}

/* A node of a view with its own metadata and content ready. */
static int
add_view_entry(struct copy_job *j, struct rootfs *fs, struct rootfs_node *x,
    const char *dest, const char *src_root, const char *dest_root)
{
	struct layer_entry le;

	layer_entry_copy(&le, &x->ent);
	free(le.path);
	le.path = xstrdup(dest);
	if (le.type == LE_HARDLINK) {
		/* A link inside what is copied stays a link; else, a copy. */
		size_t sl = strcmp(src_root, ".") ? strlen(src_root) : 0;
		struct rootfs_node *t = rootfs_get(fs, x->ent.link);

		if (!t) {
			layer_entry_free(&le);
			return builder_err(j->b, j->in, EX_DOC,
			    "%s: '/%s' is a hard link to '/%s', "
			    "which is missing", df_kind_name(j->in->kind), x->ent.path,
			    x->ent.link);
		}
		if (sl == 0 || (!strncmp(x->ent.link, src_root, sl) && x->ent.link[sl] == '/')) {
			free(le.link);
			le.link = path_join(dest_root, x->ent.link + (sl ? sl + 1 : 0));
		} else {
			if (t->ent.type != LE_FILE) {
				layer_entry_free(&le);
				return builder_err(j->b, j->in, EX_DOC, "%s: '/%s' links to '/%s', "
				    "which is not a file", df_kind_name(j->in->kind),
				    x->ent.path, x->ent.link);
			}
			if (!t->ent.src && rootfs_materialize(fs, &t, 1, j->b->scratch,
			    j->b->e) < 0) {
				layer_entry_free(&le);
				return builder_prefix(j->b, j->in);
			}
			le.type = LE_FILE;
			free(le.link);
			le.link = NULL;
			le.size = t->ent.size;
			le.src = xstrdup(t->ent.src);
			memcpy(le.digest, t->ent.digest, OCI_DIGEST_SIZE);
		}
	}
	apply_params(j->b, &j->cp, &le);
	lb_put(&j->lb, &le, NULL);
	return 0;
}

/* ---- COPY and ADD -------------------------------------------------------------- */

struct src {
	char *rel;		/* as matched */
	char *real;		/* context: the real path; view: resolved path */
	struct stat st;		/* context */
	struct rootfs_node *node;	/* view */
	int archive;		/* ADD: extract */
	int generated;		/* a heredoc or a URL, written to real (st: its
				 * mode and size) */
	char *url;		/* a URL that names no file (rel is NULL),
				 * shown without its userinfo */
};

#define ADD_URL_MAX (256u << 20)

/* A signal stops a download as it stops every other step. */
static int
fetch_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	const struct builder *b = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return b->o->stop && *b->o->stop;
}

/* ADD's URL: its bytes into out, checked against sum (NULL: none). */
static int
fetch_url(struct builder *b, const struct df_inst *in, const char *url, const char *sum,
    struct buf *out)
{
	struct http_opts ho;
	struct http_response resp = HTTP_RESPONSE_INIT;
	char *shown = url_redact(url), got[OCI_DIGEST_SIZE];
	CURL *c = NULL;
	int rc = -1;

	memset(&ho, 0, sizeof(ho));
	ho.follow = 1;
	ho.body_max = ADD_URL_MAX;
	ho.stall_ms = 60000;
	if (curl_load(b->e) < 0) {
		builder_prefix(b, in);
		goto out;
	}
	if (!(c = http_easy(&ho, &resp))) {
		builder_err(b, in, EX_INTERNAL, "ADD '%s': cannot set up libcurl", shown);
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, fetch_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, b);
	log_verbose("ADD: fetching %s", shown);
	if (http_perform(c, &resp, shown, b->e) < 0) {
		if (resp.body_too_large) {
			err_clear(b->e);
			builder_err(b, in, EX_USAGE_, "ADD '%s': larger than %u MiB; download it "
			    "before the build and COPY it", shown, ADD_URL_MAX >> 20);
		} else if (b->o->stop && *b->o->stop) {
			err_clear(b->e);
			builder_err(b, in, EX_TEMP, "ADD '%s': interrupted", shown);
		} else {
			builder_prefix(b, in);
		}
		goto out;
	}
	if (resp.status != 200) {
		builder_err(b, in, resp.status >= 500 ? EX_SERVICE : EX_USAGE_,
		    "ADD '%s': the server answered %ld", shown, resp.status);
		goto out;
	}
	sha256_digest(resp.body.data ? resp.body.data : "", resp.body.len, got);
	if (sum && strcasecmp(sum, got) != 0) {
		builder_err(b, in, EX_USAGE_, "ADD '%s': checksum mismatch: --checksum wants "
		    "%s, the server sent %s", shown, sum, got);
		goto out;
	}
	if (!sum) {
		builder_warn(b, "%s:%d: ADD '%s' has no --checksum: the build is not "
		    "reproducible (the server may send other bytes next time; it sent %s)",
		    b->df.name, in->line, shown, got);
		b->unpinned = strv_push(b->unpinned, shown);
	}
	/* hand the body over rather than copy it: up to 256 MiB */
	buf_free(out);
	*out = resp.body;
	buf_init(&resp.body, 0);
	rc = 0;
out:
	if (c)
		curl_easy_cleanup(c);
	http_response_free(&resp);
	free(shown);
	return rc;
}

/* The file name a URL gives: its path's last segment. */
static char *
url_file_name(const char *url)
{
	const char *p = strstr(url, "://"), *slash, *end;

	p = p ? p + 3 : url;
	end = p + strcspn(p, "?#");
	slash = memchr(p, '/', (size_t)(end - p));
	if (!slash)
		return NULL;
	for (p = end; p > slash && p[-1] != '/'; p--)
		;
	if (p == end || (end - p == 1 && *p == '.') || (end - p == 2 && !strncmp(p, "..", 2)))
		return NULL;
	return xstrndup(p, (size_t)(end - p));
}

/* A heredoc's body or a URL's bytes as a source, written to the scratch
 * directory. */
static int
gen_source(struct builder *b, struct build_stage *s, const struct df_inst *in,
    const struct df_heredoc *h, const char *url, const char *sum, struct src *sr)
{
	struct buf data = BUF_INIT;
	char *name;
	int rc;

	memset(sr, 0, sizeof(*sr));
	if (h) {
		char *body = NULL;

		if (h->expand) {
			if (plan_expand_heredoc(b, s, in, h->body, &body) < 0)
				return -1;
		} else {
			body = xstrdup(h->body);
		}
		buf_adds(&data, body);
		free(body);
		name = xstrdup(h->name);
	} else {
		/* NULL when the URL names no file: then the destination must
		 * (copy_do checks, once it knows whether it is a directory) */
		name = url_file_name(url);
		if (fetch_url(b, in, url, sum, &data) < 0) {
			free(name);
			buf_free(&data);
			return -1;
		}
	}
	sr->rel = name;
	if (!name)
		sr->url = url_redact(url);
	sr->real = xasprintf("%s/gen-%d", b->scratch, ++b->seq);
	sr->generated = 1;
	sr->st.st_mode = S_IFREG | (h ? 0644 : 0600);
	sr->st.st_size = (off_t)data.len;
	rc = atomic_write(sr->real, buf_str(&data), data.len, 0600, b->e);
	buf_free(&data);
	if (rc < 0) {
		builder_prefix(b, in);
		free(sr->rel);
		free(sr->real);
		free(sr->url);
		return -1;
	}
	return 0;
}

/* Where a file named name lands: in dest (a directory) or at dest,
 * resolved through the stage's symlinks. */
static int
file_target(struct builder *b, struct build_stage *s, const struct df_inst *in, const char *dest,
    int dest_dir, const char *name, char **out)
{
	char *target = dest_dir ? path_join(dest, name) : xstrdup(dest);
	int rc = resolve_dest(b, s->fs, target, 0, out);

	free(target);
	return rc < 0 ? builder_prefix(b, in) : 0;
}

/* A generated source's entry at dest. */
static void
add_gen_entry(struct copy_job *j, const char *dest, const struct src *sr)
{
	struct layer_entry le;

	memset(&le, 0, sizeof(le));
	le.path = xstrdup(dest);
	le.type = LE_FILE;
	le.mode = (unsigned)sr->st.st_mode & 07777;
	le.mtime = j->b->o->sde;
	le.size = (long long)sr->st.st_size;
	le.src = xstrdup(sr->real);
	apply_params(j->b, &j->cp, &le);
	lb_put(&j->lb, &le, NULL);
}

int
copy_parse_chmod(const char *s, int *mode)
{
	char *end;
	long v;

	if (!*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 8);
	if (errno || *end || v < 0 || v > 07777)
		return -1;
	*mode = (int)v;
	return 0;
}

struct rootfs *
copy_from_fs(struct builder *b, struct build_stage *s, const struct df_inst *in,
    const char *what, const char *from, char *ident)
{
	struct build_stage *fs_st = plan_find_stage(b, from, (size_t)s->idx);
	struct build_stage *later;
	struct rootfs *fs;
	struct image *im;
	const char *p;

	if (fs_st) {
		if (!fs_st->built) {
			builder_err(b, in, EX_USAGE_, "%s --from='%s': that stage was not built "
			    "(name stages in --from without variables)", what, from);
			return NULL;
		}
		if (!(fs = base_stage_fs(b, fs_st))) {
			builder_prefix(b, in);
			return NULL;
		}
		if (ident)
			memcpy(ident, fs_st->state, OCI_DIGEST_SIZE);
		return fs;
	}
	later = plan_find_stage(b, from, b->nst);
	for (p = from; *p >= '0' && *p <= '9'; p++)
		;
	if (later || (!*p && p != from)) {
		builder_err(b, in, EX_USAGE_, "%s --from='%s': %s", what, from, later ?
		    "that stage is not defined before this one" :
		    "there is no stage with that index before this one");
		return NULL;
	}
	if (!(im = base_image(b, in, from)))
		return NULL;
	if (ident)
		memcpy(ident, im->digest, OCI_DIGEST_SIZE);
	return im->fs;
}

/*
 * RUN --mount=type=bind without from=: the context's files at source (a
 * path from the context's root, .dockerignore honoured as COPY does) as a
 * view of their own, its files read from the context; *top is where they
 * are in it ("." for a directory).  ident gets a digest of their names,
 * types, modes, link targets and contents.
 */
struct rootfs *
copy_ctx_fs(struct builder *b, const struct df_inst *in, const char *source, char **top,
    char *ident)
{
	const char *rel = source;
	struct build_stage tmp;
	struct copy_job j;
	struct buf k;
	struct stat st;
	char *real = NULL;
	size_t i;

	*top = NULL;
	while (*rel == '/')
		rel++;
	if (!*rel)
		rel = ".";
	if (ctx_source(b, in, rel, &real) < 0)
		return NULL;
	if (stat(real, &st) < 0) {
		builder_err(b, in, EX_IOERR_, "cannot read '%s': %s", real, strerror(errno));
		free(real);
		return NULL;
	}
	memset(&tmp, 0, sizeof(tmp));
	tmp.fs = rootfs_new();
	memset(&j, 0, sizeof(j));
	j.b = b;
	j.s = &tmp;
	j.in = in;
	j.cp.chmod = -1;
	if (S_ISDIR(st.st_mode)) {
		if (walk_ctx(&j, real, ctx_rel(b, real), ".", NULL) < 0)
			goto fail;
		*top = xstrdup(".");
	} else if (S_ISREG(st.st_mode)) {
		add_ctx_entry(&j, base_name(rel), real, &st);
		*top = xstrdup(base_name(rel));
	} else {
		builder_err(b, in, EX_USAGE_, "RUN --mount: source='%s' is neither a file "
		    "nor a directory", source);
		goto fail;
	}
	if (j.lb.n > 1)
		qsort(j.lb.v, j.lb.n, sizeof(*j.lb.v), lb_ent_cmp);
	buf_init(&k, 0);
	for (i = 0; i < j.lb.n; i++) {
		const struct layer_entry *le = &j.lb.v[i].ent;
		char d[OCI_DIGEST_SIZE] = "";

		if (le->type == LE_FILE && sha256_file(le->src, d, NULL, b->e) < 0) {
			buf_free(&k);
			builder_prefix(b, in);
			goto fail;
		}
		buf_addf(&k, "%s\n%d %o %s %s\n", le->path, (int)le->type, le->mode,
		    le->link ? le->link : "", d);
		rootfs_put(tmp.fs, le, -1);
	}
	sha256_digest(k.data ? k.data : "", k.len, ident);
	buf_free(&k);
	lb_free(&j.lb);
	free(real);
	return tmp.fs;
fail:
	lb_free(&j.lb);
	rootfs_free(tmp.fs);
	free(real);
	free(*top);
	*top = NULL;
	return NULL;
}

int
copy_do(struct builder *b, struct build_stage *s, const struct df_inst *in)
{
	struct copy_job j;
	char **words = NULL, *from = NULL, *dest = NULL, *dest_r = NULL, *sum = NULL;
	struct src *srcs = NULL;
	size_t nw = 0, nsrc = 0, i, k;
	struct rootfs *srcfs = NULL;
	int is_add = in->kind == DF_ADD, dest_dir, rc = -1;
	const char *kw = df_kind_name(in->kind);
	const char *f;
	pthread_t preload;
	int preloading = 0;

	memset(&j, 0, sizeof(j));
	j.b = b;
	j.s = s;
	j.in = in;
	j.cp.chmod = -1;
	if (!base_stage_fs(b, s))
		return builder_prefix(b, in);
	for (i = 0; i < in->nargs; i++) {
		char *w;

		if (plan_expand(b, s, in, in->args[i], &w) < 0)
			goto out;
		words = strv_push(words, w);
		nw++;
		free(w);
	}
	if (df_has_flag(in, "exclude")) {
		builder_err(b, in, EX_USAGE_, "%s --exclude is not supported; use .dockerignore",
		    kw);
		goto out;
	}
	if ((f = df_flag(in, "chown"))) {
		char *v;

		if (plan_expand(b, s, in, f, &v) < 0)
			goto out;
		if (resolve_owner(b, s, in, v, "--chown", &j.cp.own) < 0) {
			free(v);
			goto out;
		}
		free(v);
	}
	if ((f = df_flag(in, "chmod"))) {
		char *v;

		if (plan_expand(b, s, in, f, &v) < 0)
			goto out;
		if (copy_parse_chmod(v, &j.cp.chmod) < 0) {
			builder_err(b, in, EX_USAGE_,
			    "%s --chmod '%s': expected an octal mode such as "
			    "0755 (symbolic modes are not supported)", kw, v);
			free(v);
			goto out;
		}
		free(v);
	}
	if ((f = df_flag(in, "from"))) {
		if (plan_expand(b, s, in, f, &from) < 0)
			goto out;
		if (!(srcfs = copy_from_fs(b, s, in, kw, from, NULL)))
			goto out;
		j.cp.keep_owner = 1;
	}
	if ((f = df_flag(in, "checksum"))) {
		if (plan_expand(b, s, in, f, &sum) < 0)
			goto out;
		if (!df_checksum_ok(sum)) {
			builder_err(b, in, EX_USAGE_, "ADD --checksum='%s': expected sha256: and "
			    "64 hex digits", sum);
			goto out;
		}
		/* the parser let a "$VAR" source through: now it is known */
		if (nw != 2 || (strncmp(words[0], "http://", 7) && strncmp(words[0], "https://", 8))) {
			builder_err(b, in, EX_USAGE_, "ADD --checksum applies to one source that "
			    "is a URL (http:// or https://)");
			goto out;
		}
	}
	dest = words[nw - 1];
	if (nw > 2 && (!*dest || dest[strlen(dest) - 1] != '/')) {
		builder_err(b, in, EX_USAGE_,
		    "%s with several sources needs a destination directory "
		    "ending in '/' (not '%s')", kw, dest);
		goto out;
	}

	/* The sources, each matched and checked. */
	for (i = 0; i + 1 < nw; i++) {
		char *clean, **matches = NULL;
		size_t m;
		const struct df_heredoc *h = df_heredoc_of(in, in->args[i]);

		if (is_add && df_is_git_url(words[i])) {
			char *shown = url_redact(words[i]);

			builder_err(b, in, EX_USAGE_, "ADD of a git repository is not supported "
			    "('%s'); clone it before the build and COPY the files", shown);
			free(shown);
			goto out;
		}
		if (h || (is_add && (!strncmp(words[i], "http://", 7) ||
		    !strncmp(words[i], "https://", 8)))) {
			struct src sr;
			size_t dl = strlen(dest);

			/* a URL that names no file into what is plainly a
			 * directory: say so before fetching it */
			if (!h && (nw > 2 || !dl || dest[dl - 1] == '/' || !strcmp(dest, "."))) {
				char *name = url_file_name(words[i]);

				if (!name) {
					char *shown = url_redact(words[i]);

					builder_err(b, in, EX_USAGE_, "ADD '%s': the URL names no "
					    "file; give the destination file's name", shown);
					free(shown);
					goto out;
				}
				free(name);
			}
			if (gen_source(b, s, in, h, words[i], sum, &sr) < 0)
				goto out;
			srcs = xrealloc(srcs, (nsrc + 1) * sizeof(*srcs));
			srcs[nsrc++] = sr;
			continue;
		}

		if (srcfs) {
			clean = view_path(words[i]);
		} else {
			const char *p = words[i];

			while (*p == '/')
				p++;
			clean = path_clean(*p ? p : ".");
			if (!strcmp(clean, "..") || !strncmp(clean, "../", 3)) {
				builder_err(b, in, EX_USAGE_,
				    "%s: '%s' is outside the build context", kw,
				    words[i]);
				free(clean);
				goto out;
			}
		}
		if (has_glob(clean)) {
			if (srcfs)
				glob_view(srcfs, ".", clean, &matches);
			else if (glob_ctx(b, in, ".", clean, &matches) < 0) {
				strv_free(matches);
				free(clean);
				goto out;
			}
			if (!matches)
				builder_warn(b, "%s:%d: %s: '%s' matches nothing", b->df.name,
				    in->line, kw,
				    words[i]);
		} else {
			matches = strv_push(NULL, clean);
		}
		free(clean);
		for (m = 0; matches && matches[m]; m++) {
			struct src sr;

			memset(&sr, 0, sizeof(sr));
			sr.rel = xstrdup(matches[m]);
			if (srcfs) {
				if (rootfs_resolve(srcfs, sr.rel, 1, &sr.real, b->e) < 0) {
					builder_prefix(b, in);
					free(sr.rel);
					strv_free(matches);
					goto out;
				}
				sr.node = rootfs_get(srcfs, sr.real);
				if (!sr.node) {
					builder_err(b, in, EX_USAGE_, "%s: '/%s' not found in '%s'",
					    kw, sr.rel,
					    from);
					free(sr.rel);
					free(sr.real);
					strv_free(matches);
					goto out;
				}
			} else {
				if (ctx_source(b, in, sr.rel, &sr.real) < 0 || lstat(sr.real,
				    &sr.st) != 0) {
					if (sr.real)
						builder_err(b, in, EX_IOERR_,
						    "cannot read '%s': %s", sr.real,
						    strerror(errno));
					free(sr.rel);
					free(sr.real);
					strv_free(matches);
					goto out;
				}
				if (is_add && S_ISREG(sr.st.st_mode)) {
					struct layer_reader *r = NULL;
					int pr = layer_reader_open(&r, sr.real, 1, b->e);

					if (pr < 0) {
						free(sr.rel);
						free(sr.real);
						strv_free(matches);
						builder_prefix(b, in);
						goto out;
					}
					sr.archive = pr > 0;
					layer_reader_close(r);
				}
			}
			srcs = xrealloc(srcs, (nsrc + 1) * sizeof(*srcs));
			srcs[nsrc++] = sr;
		}
		strv_free(matches);
	}

	/* The destination: relative to WORKDIR; a directory when it ends in
	 * '/' (or is "."), when there are several sources, or when it is one
	 * in the image already. */
	{
		const char *wd = json_str(imgconfig_rt(s->cfg), "WorkingDir");
		size_t dl = strlen(dest);
		char *abs;

		dest_dir = dl == 0 || dest[dl - 1] == '/' || !strcmp(dest, ".") ||
		    (dl >= 2 && !strcmp(dest + dl - 2, "/.")) || nsrc > 1;
		abs = dest[0] == '/' ? xstrdup(dest) : xasprintf("%s/%s", wd && *wd ? wd : "/",
		    dest);
		dest_r = view_path(abs);
		free(abs);
		{
			char *r2;

			if (resolve_dest(b, s->fs, dest_r, 1, &r2) < 0) {
				builder_prefix(b, in);
				goto out;
			}
			free(dest_r);
			dest_r = r2;
		}
		{
			struct rootfs_node *x = rootfs_get(s->fs, dest_r);

			if (x && x->ent.type == LE_DIR)
				dest_dir = 1;
			if (dest_dir && x && x->ent.type != LE_DIR) {
				builder_err(b, in, EX_USAGE_,
				    "%s: the destination '/%s' is not a directory "
				    "in the image", kw, dest_r);
				goto out;
			}
		}
	}

	for (k = 0; k < nsrc; k++) {
		struct src *sr = &srcs[k];

		if (sr->generated) {
			char *rt;

			if (!sr->rel && dest_dir) {
				builder_err(b, in, EX_USAGE_, "ADD '%s': the URL names no file; "
				    "give the destination file's name", sr->url);
				goto out;
			}
			if (file_target(b, s, in, dest_r, dest_dir, sr->rel, &rt) < 0)
				goto out;
			add_gen_entry(&j, rt, sr);
			free(rt);
			continue;
		}
		if (!srcfs) {
			if (S_ISDIR(sr->st.st_mode)) {
				struct rootfs_node *x = rootfs_get(s->fs, dest_r);

				if (x && x->ent.type != LE_DIR) {
					builder_err(b, in, EX_USAGE_,
					    "%s: cannot copy directory '%s' onto "
					    "'/%s', which is not a directory in the image", kw,
					    sr->rel, dest_r);
					goto out;
				}
				if (!preloading)
					preloading = preload_start(b, &preload);
				/* The contents go in; a missing destination is made like
				 * any parent, so the context root's own mode never shows. */
				if (walk_ctx(&j, sr->real, ctx_rel(b, sr->real), dest_r, NULL) < 0)
					goto out;
				if (!x)
					new_dir(b, &j, dest_r);
			} else if (sr->archive) {
				struct layer_reader *r;

				if (layer_reader_open(&r, sr->real, 0, b->e) < 0) {
					builder_prefix(b, in);
					goto out;
				}
				/* What an archive says about owners is kept, as Docker does. */
				j.cp.keep_owner = 1;
				rc = extract_archive(&j, r, dest_r);
				j.cp.keep_owner = 0;
				layer_reader_close(r);
				if (rc < 0)
					goto out;
				rc = -1;
			} else if (S_ISREG(sr->st.st_mode)) {
				char *rt;

				if (file_target(b, s, in, dest_r, dest_dir, base_name(sr->rel), &rt) < 0)
					goto out;
				add_ctx_entry(&j, rt, sr->real, &sr->st);
				free(rt);
			} else {
				builder_warn(b,
				    "%s:%d: %s: skipping '%s': special files are not copied",
				    b->df.name, in->line, kw, sr->rel);
			}
			continue;
		}
		/* From a stage or an image. */
		if (sr->node->ent.type == LE_DIR) {
			struct rootfs_node **kids, **need = NULL;
			size_t n, q, nneed = 0, sl = strcmp(sr->real,
			    ".") ? strlen(sr->real) + 1 : 0;
			struct rootfs_node *x = rootfs_get(s->fs, dest_r);

			if (x && x->ent.type != LE_DIR) {
				builder_err(b, in, EX_USAGE_,
				    "%s: cannot copy directory '/%s' onto '/%s', "
				    "which is not a directory in the image", kw, sr->rel, dest_r);
				goto out;
			}
			if (!x)
				new_dir(b, &j, dest_r);
			kids = rootfs_list(srcfs, sr->real, &n);
			for (q = 0; q < n; q++)
				if (kids[q]->ent.type == LE_FILE && !kids[q]->ent.src) {
					need = xrealloc(need, (nneed + 1) * sizeof(*need));
					need[nneed++] = kids[q];
				}
			if (nneed && rootfs_materialize(srcfs, need, nneed, b->scratch, b->e) < 0) {
				free(need);
				free(kids);
				builder_prefix(b, in);
				goto out;
			}
			free(need);
			for (q = 0; q < n; q++) {
				char *d = path_join(dest_r, kids[q]->ent.path + sl);
				int r2 = add_view_entry(&j, srcfs, kids[q], d, sr->real, dest_r);

				free(d);
				if (r2 < 0) {
					free(kids);
					goto out;
				}
			}
			free(kids);
		} else {
			char *target = dest_dir ? path_join(dest_r, base_name(sr->rel)) :
			    xstrdup(dest_r);
			char *rt;
			struct rootfs_node *node = sr->node;

			if (node->ent.type == LE_FILE && !node->ent.src &&
			    rootfs_materialize(srcfs, &node, 1, b->scratch, b->e) < 0) {
				free(target);
				builder_prefix(b, in);
				goto out;
			}
			if (resolve_dest(b, s->fs, target, 0, &rt) < 0) {
				free(target);
				builder_prefix(b, in);
				goto out;
			}
			free(target);
			rc = add_view_entry(&j, srcfs, node, rt, sr->real, dest_r);
			free(rt);
			if (rc < 0)
				goto out;
			rc = -1;
		}
	}
	rc = lb_commit(b, s, &j.lb, &j.cp.own, in, in->text);
out:
	if (preloading)
		pthread_join(preload, NULL);
	for (i = 0; i < nsrc; i++) {
		free(srcs[i].rel);
		free(srcs[i].real);
		free(srcs[i].url);
	}
	free(srcs);
	strv_free(words);
	free(from);
	free(sum);
	free(dest_r);
	owner_free(&j.cp.own);
	lb_free(&j.lb);
	return rc;
}

/* ---- WORKDIR ------------------------------------------------------------ */

int
copy_workdir(struct builder *b, struct build_stage *s, const struct df_inst *in)
{
	char *v, *abs, *path, *rp;
	const char *wd = json_str(imgconfig_rt(s->cfg), "WorkingDir");
	struct rootfs_node *x;
	int rc = -1;

	if (plan_expand(b, s, in, in->rest, &v) < 0)
		return -1;
	abs = v[0] == '/' ? xstrdup(v) : xasprintf("%s/%s", wd && *wd ? wd : "/", v);
	free(v);
	path = view_path(abs);
	free(abs);
	abs = strcmp(path, ".") ? xasprintf("/%s", path) : xstrdup("/");
	imgconfig_set_str(s->cfg, "WorkingDir", abs);
	free(abs);
	if (!base_stage_fs(b, s)) {
		free(path);
		return builder_prefix(b, in);
	}
	if (rootfs_resolve(s->fs, path, 1, &rp, b->e) < 0) {
		free(path);
		return builder_prefix(b, in);
	}
	free(path);
	x = rootfs_get(s->fs, rp);
	if (x && x->ent.type == LE_DIR) {
		imgconfig_add_history(s->cfg, b->created, in->text, HISTORY_COMMENT, 1);
		free(rp);
		return 0;
	}
	if (x) {
		builder_err(b, in, EX_USAGE_, "WORKDIR: '/%s' is not a directory in the image", rp);
		free(rp);
		return -1;
	}
	{
		/* Created like BuildKit does: owned by the current USER. */
		struct lb lb;
		struct layer_entry d;
		struct owner own;
		const char *user = json_str(imgconfig_rt(s->cfg), "User");

		memset(&lb, 0, sizeof(lb));
		memset(&own, 0, sizeof(own));
		if (user && *user && resolve_owner(b, s, in, user, "USER", &own) < 0) {
			free(rp);
			return -1;
		}
		memset(&d, 0, sizeof(d));
		d.path = xstrdup(rp);
		d.type = LE_DIR;
		d.mode = 0755;
		d.mtime = b->o->sde;
		if (own.set) {
			d.uid = own.uid;
			d.gid = own.gid;
			d.uname = own.uname ? xstrdup(own.uname) : NULL;
			d.gname = own.gname ? xstrdup(own.gname) : NULL;
		}
		lb_put(&lb, &d, NULL);
		rc = lb_commit(b, s, &lb, &own, in, in->text);
		lb_free(&lb);
		owner_free(&own);
	}
	free(rp);
	return rc;
}
