/*
 * rootfs: a stage's file system as a hash of paths, built from layer
 * headers; contents stay in the blobs until someone needs them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "image/dockerignore.h"
#include "core/fsutil.h"
#include "image/rootfs.h"

#define MAX_LINKS 40

/* The hash of the path's first n bytes. */
static size_t
hash_path_n(const char *s, size_t n)
{
	size_t h = 1469598103934665603ULL, i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static size_t
hash_path(const char *s)
{
	return hash_path_n(s, strlen(s));
}

static void
put_root(struct rootfs *fs)
{
	struct layer_entry root;

	memset(&root, 0, sizeof(root));
	root.path = ".";
	root.type = LE_DIR;
	root.mode = 0755;
	rootfs_put(fs, &root, -1);
}

struct rootfs *
rootfs_new(void)
{
	struct rootfs *fs = xcalloc(1, sizeof(*fs));

	fs->nbuckets = 1024;
	fs->tab = xcalloc(fs->nbuckets, sizeof(*fs->tab));
	put_root(fs);
	return fs;
}

static void
node_free(struct rootfs_node *x)
{
	layer_entry_free(&x->ent);
	free(x);
}

void
rootfs_free(struct rootfs *fs)
{
	size_t i;

	if (!fs)
		return;
	for (i = 0; i < fs->nbuckets; i++) {
		struct rootfs_node *x = fs->tab[i], *nx;

		for (; x; x = nx) {
			nx = x->next;
			node_free(x);
		}
	}
	for (i = 0; i < fs->nlayers; i++)
		free(fs->layers[i]);
	free(fs->layers);
	free(fs->tab);
	free(fs);
}

/* The node at the path's first n bytes. */
static struct rootfs_node *
get_n(const struct rootfs *fs, const char *path, size_t n)
{
	struct rootfs_node *x;

	for (x = fs->tab[hash_path_n(path, n) % fs->nbuckets]; x; x = x->next)
		if (!strncmp(x->ent.path, path, n) && x->ent.path[n] == '\0')
			return x;
	return NULL;
}

struct rootfs_node *
rootfs_get(const struct rootfs *fs, const char *path)
{
	return get_n(fs, path, strlen(path));
}

static void
grow(struct rootfs *fs)
{
	size_t nb = fs->nbuckets * 4, i;
	struct rootfs_node **t = xcalloc(nb, sizeof(*t));

	for (i = 0; i < fs->nbuckets; i++) {
		struct rootfs_node *x = fs->tab[i], *nx;

		for (; x; x = nx) {
			size_t b = hash_path(x->ent.path) % nb;

			nx = x->next;
			x->next = t[b];
			t[b] = x;
		}
	}
	free(fs->tab);
	fs->tab = t;
	fs->nbuckets = nb;
}

struct rootfs *
rootfs_clone(const struct rootfs *fs)
{
	struct rootfs *c = xcalloc(1, sizeof(*c));
	size_t i;

	c->nbuckets = fs->nbuckets;
	c->tab = xcalloc(c->nbuckets, sizeof(*c->tab));
	for (i = 0; i < fs->nbuckets; i++) {
		const struct rootfs_node *x;

		for (x = fs->tab[i]; x; x = x->next) {
			struct rootfs_node *y = xcalloc(1, sizeof(*y));

			layer_entry_copy(&y->ent, &x->ent);
			y->layer = x->layer;
			y->depth = x->depth;
			y->next = c->tab[i];
			c->tab[i] = y;
			c->n++;
		}
	}
	c->nlayers = fs->nlayers;
	c->layers = xcalloc(fs->nlayers + 1, sizeof(*c->layers));
	for (i = 0; i < fs->nlayers; i++)
		c->layers[i] = xstrdup(fs->layers[i]);
	c->generation = fs->generation;
	return c;
}

static int
is_under(const char *path, const char *dir, size_t dl)
{
	if (!strcmp(dir, "."))
		return strcmp(path, ".") != 0;
	return !strncmp(path, dir, dl) && path[dl] == '/';
}

/* Remove the nodes below dir whose depth is below max_depth (-1: all). */
static void
remove_under(struct rootfs *fs, const char *dir, int max_depth)
{
	size_t i, dl = strlen(dir);

	for (i = 0; i < fs->nbuckets; i++) {
		struct rootfs_node **pp = &fs->tab[i];

		while (*pp) {
			struct rootfs_node *x = *pp;

			if (is_under(x->ent.path, dir, dl) && (max_depth < 0 || x->depth < max_depth)) {
				*pp = x->next;
				node_free(x);
				fs->n--;
			} else {
				pp = &x->next;
			}
		}
	}
}

void
rootfs_remove(struct rootfs *fs, const char *path, int with_children)
{
	struct rootfs_node **pp = &fs->tab[hash_path(path) % fs->nbuckets];

	fs->generation++;
	if (with_children)
		remove_under(fs, path, -1);
	if (!strcmp(path, "."))
		return;
	for (; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->ent.path, path)) {
			struct rootfs_node *x = *pp;

			*pp = x->next;
			node_free(x);
			fs->n--;
			return;
		}
}

/* Directories a tar names only as parents exist all the same. */
static void
ensure_parents(struct rootfs *fs, const char *path, int depth)
{
	const char *last = strrchr(path, '/');
	char *p, *slash;

	/* Most often the parent is there already (a tar names it first). */
	if (!last || get_n(fs, path, (size_t)(last - path)))
		return;
	p = xstrdup(path);
	while ((slash = strrchr(p, '/'))) {
		*slash = '\0';
		if (rootfs_get(fs, p))
			break;
		{
			struct layer_entry d;
			struct rootfs_node *x;

			memset(&d, 0, sizeof(d));
			d.path = p;
			d.type = LE_DIR;
			d.mode = 0755;
			rootfs_put(fs, &d, -1);
			if ((x = rootfs_get(fs, p)))
				x->depth = depth;
		}
	}
	free(p);
}

/* Add or replace; the node's entry is *ent itself (its strings taken). */
static void
put(struct rootfs *fs, struct layer_entry *ent, int layer)
{
	struct rootfs_node *x = rootfs_get(fs, ent->path);

	fs->generation++;
	if (x) {
		if (x->ent.type == LE_DIR && ent->type != LE_DIR)
			remove_under(fs, ent->path, -1);
		layer_entry_free(&x->ent);
		x->ent = *ent;
		x->layer = layer;
		x->depth = layer >= 0 ? layer : (int)fs->nlayers;
		return;
	}
	if (fs->n >= fs->nbuckets * 2)
		grow(fs);
	x = xcalloc(1, sizeof(*x));
	x->ent = *ent;
	x->layer = layer;
	x->depth = layer >= 0 ? layer : (int)fs->nlayers;
	{
		size_t b = hash_path(x->ent.path) % fs->nbuckets;

		x->next = fs->tab[b];
		fs->tab[b] = x;
	}
	fs->n++;
	if (strcmp(x->ent.path, ".") != 0)
		ensure_parents(fs, x->ent.path, x->depth);
}

void
rootfs_put(struct rootfs *fs, const struct layer_entry *ent, int layer)
{
	struct layer_entry c;

	layer_entry_copy(&c, ent);
	put(fs, &c, layer);
}

void
rootfs_take(struct rootfs *fs, struct layer_entry *ent, int layer)
{
	put(fs, ent, layer);
	memset(ent, 0, sizeof(*ent));
}

/* One entry of layer idx, whiteouts applied to the layers below. */
static void
apply_entry(struct rootfs *fs, int idx, const struct layer_entry *ent)
{
	const char *slash = strrchr(ent->path, '/');
	const char *base = slash ? slash + 1 : ent->path;
	struct rootfs_node *x;

	if (!strcmp(ent->path, "."))
		return;
	if (!strncmp(base, ".wh.", 4)) {
		char *dir = slash ? xstrndup(ent->path, (size_t)(slash - ent->path)) :
		    xstrdup(".");

		if (!strcmp(base, ".wh..wh..opq")) {
			remove_under(fs, dir, idx);
		} else {
			char *victim = !strcmp(dir, ".") ? xstrdup(base + 4) :
			    xasprintf("%s/%s", dir, base + 4);

			x = rootfs_get(fs, victim);
			remove_under(fs, victim, idx);
			if (x && x->depth < idx)
				rootfs_remove(fs, victim, 0);
			free(victim);
		}
		free(dir);
		return;
	}
	rootfs_put(fs, ent, ent->type == LE_FILE ? idx : -1);
	if ((x = rootfs_get(fs, ent->path)))
		x->depth = idx;
}

/*
 * The listing of a layer: "ci-build-listing 1\n", then per entry a line
 * "TYPE MODE UID GID MTIME SIZE MAJOR MINOR PATHLEN LINKLEN\n" followed
 * by the path and link bytes and a newline (names may hold anything).
 */
static void
listing_add(struct buf *b, const struct layer_entry *e)
{
	size_t pl = strlen(e->path), ll = e->link ? strlen(e->link) : 0;

	buf_addf(b, "%d %o %lld %lld %lld %lld %u %u %zu %zu\n", (int)e->type, e->mode, e->uid,
	    e->gid, e->mtime, e->size, e->devmajor, e->devminor, pl, ll);
	buf_add(b, e->path, pl);
	if (ll)
		buf_add(b, e->link, ll);
	buf_addc(b, '\n');
}

static int
apply_listing(struct rootfs *fs, int idx, const char *text, size_t len)
{
	const char *p = text, *end = text + len;

	if (len < 19 || memcmp(p, "ci-build-listing 1\n", 19) != 0)
		return -1;
	p += 19;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct layer_entry e;
		int type, n = 0;
		unsigned mode;
		size_t pl, ll;
		char head[256];

		if (!nl || (size_t)(nl - p) >= sizeof(head))
			return -1;
		memcpy(head, p, (size_t)(nl - p));
		head[nl - p] = '\0';
		memset(&e, 0, sizeof(e));
		if (sscanf(head, "%d %o %lld %lld %lld %lld %u %u %zu %zu%n", &type, &mode, &e.uid,
		    &e.gid, &e.mtime, &e.size, &e.devmajor, &e.devminor, &pl, &ll, &n) != 10 ||
		    head[n] || type < LE_FILE || type > LE_FIFO)
			return -1;
		p = nl + 1;
		if ((size_t)(end - p) < pl + ll + 1 || p[pl + ll] != '\n' || !pl)
			return -1;
		e.type = (enum layer_type)type;
		e.mode = mode;
		e.path = xstrndup(p, pl);
		e.link = ll ? xstrndup(p + pl, ll) : NULL;
		apply_entry(fs, idx, &e);
		free(e.path);
		free(e.link);
		p += pl + ll + 1;
	}
	return 0;
}

int
rootfs_apply_layer(struct rootfs *fs, const char *blob_path, const char *listing,
    struct err *e)
{
	struct layer_reader *r;
	struct layer_entry ent;
	struct buf lst = BUF_INIT;
	int idx = (int)fs->nlayers, rc;

	fs->layers = xrealloc(fs->layers, (fs->nlayers + 2) * sizeof(*fs->layers));
	fs->layers[fs->nlayers++] = xstrdup(blob_path);
	if (listing && path_exists(listing)) {
		struct err le = { 0, "" };
		size_t len;
		char *text = read_file(listing, 256u << 20, &len, &le);

		/* A listing that does not parse is read again from the blob; what
		 * it added is replaced by the blob's entries all the same. */
		rc = text ? apply_listing(fs, idx, text, len) : -1;
		free(text);
		if (rc == 0)
			return 0;
	}
	if (layer_reader_open(&r, blob_path, 0, e) < 0)
		return -1;
	buf_init(&lst, 256u << 20);
	if (listing)
		buf_adds(&lst, "ci-build-listing 1\n");
	while ((rc = layer_reader_next(r, &ent, e)) > 0) {
		if (listing)
			listing_add(&lst, &ent);
		apply_entry(fs, idx, &ent);
	}
	layer_reader_close(r);
	if (rc == 0 && listing && !lst.failed) {
		struct err we = { 0, "" };

		/* Only a cache: failing to keep it is no failure. */
		if (mkdir_parent(listing, &we) < 0 ||
		    atomic_write(listing, lst.data, lst.len, 0644, &we) < 0)
			log_warn("%s", we.msg);
	}
	buf_free(&lst);
	return rc < 0 ? -1 : 0;
}

/* ---- paths ------------------------------------------------------------ */

static char *
join(const char *dir, const char *name)
{
	if (!*dir || !strcmp(dir, "."))
		return xstrdup(name);
	return xasprintf("%s/%s", dir, name);
}

int
rootfs_resolve(const struct rootfs *fs, const char *path, int follow_last, char **out,
    struct err *e)
{
	struct buf todo = BUF_INIT;	/* components still to walk, '/'-separated */
	char *done = xstrdup(".");
	int hops = 0;

	*out = NULL;
	buf_adds(&todo, path);
	for (;;) {
		const char *t = buf_str(&todo), *slash;
		char *comp, *rest, *cand;
		struct rootfs_node *x;

		while (*t == '/')
			t++;
		if (!*t)
			break;
		slash = strchr(t, '/');
		comp = slash ? xstrndup(t, (size_t)(slash - t)) : xstrdup(t);
		rest = xstrdup(slash ? slash : "");
		if (!strcmp(comp, ".")) {
			free(comp);
		} else if (!strcmp(comp, "..")) {
			char *s = strrchr(done, '/');

			if (s)
				*s = '\0';
			else {
				free(done);
				done = xstrdup(".");
			}
			free(comp);
		} else {
			int last;
			const char *r = rest;

			while (*r == '/')
				r++;
			last = !*r;
			cand = join(done, comp);
			free(comp);
			x = rootfs_get(fs, cand);
			if (x && x->ent.type == LE_SYMLINK && (!last || follow_last)) {
				char *nt;

				if (++hops > MAX_LINKS) {
					free(cand);
					free(rest);
					free(done);
					buf_free(&todo);
					return err_set(e, EX_USAGE_, "too many levels of symbolic "
					    "links resolving '/%s'", path);
				}
				nt = xasprintf("%s%s", x->ent.link, rest);
				if (x->ent.link[0] == '/') {
					free(done);
					done = xstrdup(".");
				}
				free(cand);
				buf_reset(&todo);
				buf_adds(&todo, nt);
				free(nt);
				free(rest);
				continue;
			}
			free(done);
			done = cand;
		}
		buf_reset(&todo);
		buf_adds(&todo, rest);
		free(rest);
	}
	buf_free(&todo);
	*out = done;
	return 0;
}

static int
node_cmp(const void *a, const void *b)
{
	return strcmp((*(struct rootfs_node *const *)a)->ent.path,
	    (*(struct rootfs_node *const *)b)->ent.path);
}

struct rootfs_node **
rootfs_list(const struct rootfs *fs, const char *dir, size_t *n)
{
	struct rootfs_node **v = NULL;
	size_t i, k = 0, cap = 0, dl = strlen(dir);

	for (i = 0; i < fs->nbuckets; i++) {
		struct rootfs_node *x;

		for (x = fs->tab[i]; x; x = x->next)
			if (is_under(x->ent.path, dir, dl)) {
				if (k == cap) {
					cap = cap ? cap * 2 : 64;
					v = xrealloc(v, cap * sizeof(*v));
				}
				v[k++] = x;
			}
	}
	if (!v)
		v = xcalloc(1, sizeof(*v));
	qsort(v, k, sizeof(*v), node_cmp);
	*n = k;
	return v;
}

int
rootfs_materialize(struct rootfs *fs, struct rootfs_node **nodes, size_t n,
    const char *scratch_dir, struct err *e)
{
	size_t i;
	int l, rc = 0;

	for (i = 0; i < n; i++)
		nodes[i]->want = nodes[i]->ent.type == LE_FILE && !nodes[i]->ent.src &&
		    nodes[i]->layer >= 0 && (size_t)nodes[i]->layer < fs->nlayers;
	for (l = 0; l < (int)fs->nlayers && rc == 0; l++) {
		struct layer_reader *r;
		struct layer_entry ent;
		int any = 0, nr;

		for (i = 0; i < n; i++)
			if (nodes[i]->want && nodes[i]->layer == l)
				any = 1;
		if (!any)
			continue;
		if (layer_reader_open(&r, fs->layers[l], 0, e) < 0)
			return -1;
		while ((nr = layer_reader_next(r, &ent, e)) > 0) {
			struct rootfs_node *x;
			char *tmp;
			int fd;

			if (ent.type != LE_FILE || !(x = rootfs_get(fs, ent.path)) || !x->want ||
			    x->layer != l)
				continue;
			tmp = xasprintf("%s/fromXXXXXX", scratch_dir);
			fd = mkstemp(tmp);
			if (fd < 0) {
				rc = err_set(e, EX_IOERR_, "cannot create a file in '%s': %s",
				    scratch_dir, strerror(errno));
				free(tmp);
				break;
			}
			if (layer_reader_copy(r, fd, x->ent.digest, e) < 0) {
				close(fd);
				free(tmp);
				rc = -1;
				break;
			}
			if (close(fd) != 0) {
				rc = err_set(e, EX_IOERR_, "cannot write '%s': %s", tmp,
				    strerror(errno));
				free(tmp);
				break;
			}
			free(x->ent.src);
			x->ent.src = tmp;
			x->ent.size = ent.size;
		}
		if (nr < 0)
			rc = -1;
		layer_reader_close(r);
	}
	for (i = 0; i < n; i++) {
		if (rc == 0 && nodes[i]->want && !nodes[i]->ent.src)
			rc = err_set(e, EX_DOC, "'/%s' is missing from its layer '%s'",
			    nodes[i]->ent.path, fs->layers[nodes[i]->layer]);
		nodes[i]->want = 0;
	}
	return rc;
}

char *
rootfs_read(struct rootfs *fs, const char *path, const char *scratch_dir, size_t cap,
    struct err *e)
{
	struct rootfs_node *x;
	char *real;
	size_t len;
	int hops = 0;

	if (rootfs_resolve(fs, path, 1, &real, e) < 0)
		return NULL;
	x = rootfs_get(fs, real);
	free(real);
	while (x && x->ent.type == LE_HARDLINK && hops++ < MAX_LINKS)
		x = rootfs_get(fs, x->ent.link);
	if (!x || x->ent.type != LE_FILE)
		return NULL;
	if (!x->ent.src && rootfs_materialize(fs, &x, 1, scratch_dir, e) < 0)
		return NULL;
	if (!x->ent.src)
		return NULL;
	return read_file(x->ent.src, cap, &len, e);
}
