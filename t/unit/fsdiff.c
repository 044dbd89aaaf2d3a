/* Unit tests of lib/image/fsdiff: metadata snapshots, their delta, and
 * the layer entries (whiteouts, opaque directories) written and read back. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/crypto-load.h"
#include "core/fsutil.h"
#include "image/fsdiff.h"
#include "image/layer.h"
#include "tap.h"

static char dir[256];

static char *
at(const char *rel)
{
	static char p[1024];

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return p;
}

static void
put(const char *rel, const char *text)
{
	struct err e = { 0, "" };

	if (mkdir_parent(at(rel), &e) < 0 || atomic_write(at(rel), text, strlen(text), 0644, &e) < 0)
		ok(0, "write %s: %s", rel, e.msg);
}

static void
mkd(const char *rel)
{
	struct err e = { 0, "" };

	if (mkdir_p(at(rel), 0755, &e) < 0)
		ok(0, "mkdir %s: %s", rel, e.msg);
}

/* Past the coarse clock's tick, so that nothing is "racily clean". */
static void
settle(void)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* In place: the same inode, the directory untouched. */
static void
overwrite(const char *rel, const char *text)
{
	int fd = open(at(rel), O_WRONLY);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		ok(0, "overwrite %s", rel);
	if (fd >= 0)
		close(fd);
}

static void
rm_rf(const char *path)
{
	char *cmd = xasprintf("rm -rf '%s'", path);

	if (system(cmd) != 0)
		ok(0, "%s", cmd);
	free(cmd);
}

/* "A path", "D path/", "M path (opaque)": one line each. */
static char *
delta_text(const struct fs_delta *v, size_t n)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < n; i++)
		buf_addf(&b, "%c %s%s%s\n", " AMD"[v[i].change], v[i].path, v[i].is_dir ? "/" : "",
		    v[i].opaque ? " (opaque)" : "");
	return buf_detach(&b, NULL);
}

static const char *const type_names[] = { "f", "d", "l", "h", "c", "b", "p" };

static char *
entries_text(const struct layer_entry *v, size_t n)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < n; i++)
		buf_addf(&b, "%s %s %o %lld:%lld %lld%s%s\n", type_names[v[i].type], v[i].path,
		    v[i].mode, v[i].uid, v[i].gid, v[i].mtime, v[i].link ? " -> " : "",
		    v[i].link ? v[i].link : "");
	return buf_detach(&b, NULL);
}

/* 5,000 files that do not change: an empty delta, quickly. */
static void
test_big_unchanged(void)
{
	struct err e = { 0, "" };
	struct fs_snapshot *s;
	struct fs_delta *d = NULL;
	size_t n = 99, i;
	char rel[64];

	for (i = 0; i < 50; i++) {
		snprintf(rel, sizeof(rel), "big/d%02zu", i);
		mkd(rel);
	}
	for (i = 0; i < 5000; i++) {
		int fd;

		snprintf(rel, sizeof(rel), "big/d%02zu/f%04zu", i % 50, i);
		fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, rel, strlen(rel)) < 0)
			ok(0, "create %s", rel);
		if (fd >= 0)
			close(fd);
	}
	settle();
	s = fs_snapshot_take(at("big"), &e);
	ok(s != NULL, "snapshot of 5,050 entries: %s", e.msg);
	is_int(fs_snapshot_count(s), 5050, "every entry is in the snapshot");
	ok(fs_diff(s, at("big"), &d, &n, &e) == 0, "diff of the unchanged tree");
	is_int(n, 0, "an unchanged tree gives an empty delta");
	fs_delta_free(d, n);
	/* One file of the 5,000 touched: exactly it. */
	put("big/d07/f0007", "big/d07/f0007");
	ok(fs_diff(s, at("big"), &d, &n, &e) == 0, "diff after one rewrite");
	{
		char *t = delta_text(d, n);

		is_str(t, "M d07/\nM d07/f0007\n", "one file among 5,000 replaced (same "
		    "size, same content: the inode and ctime changed; its directory too)");
		free(t);
	}
	fs_delta_free(d, n);
	fs_snapshot_free(s);
}

static const char *const want_delta =
    "A added/\n"
    "A added/f\n"
    "D gone\n"
    "M mod/same\n"
    "M mod/sneaky\n"
    "M owner\n"
    "M perm\n"
    "M redo/ (opaque)\n"
    "A redo/new\n"
    "A sp ace \xc3\xa9\n"
    "M swap\n"
    "D tree/\n";

/* Epoch 1000: every mtime of the tree is clamped to it. */
static const char *const want_entries =
    "f .wh.gone 0 0:0 1000\n"
    "f .wh.tree 0 0:0 1000\n"
    "d added 755 0:0 1000\n"
    "f added/f 644 0:0 1000\n"
    "d mod 755 0:0 1000\n"
    "f mod/same 644 0:0 1000\n"
    "f mod/sneaky 644 0:0 1000\n"
    "f owner 644 1000:1001 1000\n"
    "f perm 600 0:0 1000\n"
    "d redo 755 0:0 1000\n"
    "f redo/.wh..wh..opq 0 0:0 1000\n"
    "f redo/new 644 0:0 1000\n"
    "f sp ace \xc3\xa9 644 0:0 1000\n"
    "l swap 777 0:0 1000 -> mod/same\n";

/* What the layer holds, read back through layer_reader. */
static char *
layer_names(const char *blob)
{
	struct layer_reader *r;
	struct layer_entry le;
	struct err e = { 0, "" };
	struct buf b = BUF_INIT;

	if (layer_reader_open(&r, blob, 0, &e) != 1)
		return xasprintf("cannot open: %s", e.msg);
	while (layer_reader_next(r, &le, &e) > 0)
		buf_addf(&b, "%s%s\n", le.path, le.type == LE_DIR ? "/" : "");
	layer_reader_close(r);
	return buf_detach(&b, NULL);
}

static void
test_changes(void)
{
	struct err e = { 0, "" };
	struct fs_snapshot *s;
	struct fs_delta *d = NULL;
	struct layer_entry *le = NULL;
	struct layer_opts o = { LAYER_GZIP, -1, 1, 0, NULL };
	struct layer_result lr;
	struct timespec later[2];
	struct stat st;
	size_t n = 0, nle = 0, i;
	char *t, *root = xstrdup(at("t")), *blob = xasprintf("%s/layer.tgz", dir);
	int is_root = geteuid() == 0;

	put("t/keep/a", "aaaa");
	put("t/keep/b", "bbbb");
	put("t/mod/same", "1234");
	put("t/mod/sneaky", "abcd");
	put("t/perm", "p");
	put("t/owner", "o");
	put("t/gone", "g");
	put("t/tree/x", "x");
	put("t/tree/sub/y", "y");
	put("t/swap", "s");
	put("t/redo/old", "old");
	settle();
	s = fs_snapshot_take(root, &e);
	ok(s != NULL, "snapshot: %s", e.msg);
	is_int(fs_snapshot_count(s), 16, "the snapshot holds every entry but the root");

	/* Same size, other content, mtime bumped. */
	overwrite("t/mod/same", "5678");
	stat(at("t/mod/same"), &st);
	later[0] = st.st_atim;
	later[1] = st.st_mtim;
	later[1].tv_sec += 10;
	utimensat(AT_FDCWD, at("t/mod/same"), later, 0);
	/* Same size, other content, the old mtime put back: ctime tells. */
	stat(at("t/mod/sneaky"), &st);
	later[1] = st.st_mtim;
	overwrite("t/mod/sneaky", "ABCD");
	utimensat(AT_FDCWD, at("t/mod/sneaky"), later, 0);
	chmod(at("t/perm"), 0600);
	if (is_root && chown(at("t/owner"), 1000, 1001) < 0)
		ok(0, "chown");
	unlink(at("t/gone"));
	rm_rf(at("t/tree"));
	unlink(at("t/swap"));
	if (symlink("mod/same", at("t/swap")) < 0)
		ok(0, "symlink");
	/* Made again: the new directory exists before the old one goes,
	 * so that it cannot get the old inode back. */
	put("t/redo2/new", "new");
	rm_rf(at("t/redo"));
	{
		char *from = xstrdup(at("t/redo2"));

		if (rename(from, at("t/redo")) < 0)
			ok(0, "rename redo2");
		free(from);
	}
	put("t/added/f", "f");
	put("t/sp ace \xc3\xa9", "utf-8");

	ok(fs_diff(s, root, &d, &n, &e) == 0, "diff: %s", e.msg);
	t = delta_text(d, n);
	if (is_root) {
		is_str(t, want_delta, "the delta: added, modified (content, mtime, ctime, mode, "
		    "owner, type), deleted once per tree, a directory made again is opaque");
	} else {
		ok(1, "# skip the exact delta: chown needs root");
	}
	free(t);

	ok(fs_delta_entries(d, n, root, 1000, &le, &nle, &e) == 0, "entries: %s", e.msg);
	t = entries_text(le, nle);
	if (is_root)
		is_str(t, want_entries, "the entries: whiteouts in their parent, the opaque "
		    "marker inside the directory made again, parents included, mtimes clamped");
	free(t);
	for (i = 0; i < nle; i++)
		if (le[i].type == LE_FILE && le[i].size > 0 && !le[i].src)
			ok(0, "%s has content but no src", le[i].path);

	ok(layer_write(le, nle, &o, blob, &lr, &e) == 0, "layer_write: %s", e.msg);
	t = layer_names(blob);
	like(t, ".wh.gone\n", "the layer holds the whiteout of a deleted file");
	like(t, ".wh.tree\n", "the layer holds the whiteout of a deleted tree, once");
	ok(strstr(t, "tree/") == NULL, "nothing below the deleted tree");
	like(t, "redo/.wh..wh..opq\n", "the layer holds the opaque marker");
	ok(strstr(t, ".wh.old") == NULL, "no whiteout below an opaque directory");
	like(t, "sp ace \xc3\xa9\n", "a name with a space and UTF-8 survives");
	free(t);
	for (i = 0; i < nle; i++)
		layer_entry_free(&le[i]);
	free(le);
	fs_delta_free(d, n);

	/* An entry that went away between the diff and the entries. */
	ok(fs_diff(s, root, &d, &n, &e) == 0, "diff again");
	unlink(at("t/added/f"));
	ok(fs_delta_entries(d, n, root, 1000, &le, &nle, &e) == -1 && e.code == EX_IOERR_,
	    "a path gone since the diff is an I/O error: %s", e.msg);
	fs_delta_free(d, n);

	/* A directory that became a file: its old children are not listed. */
	rm_rf(at("t/keep"));
	put("t/keep", "now a file");
	ok(fs_diff(s, root, &d, &n, &e) == 0, "diff after a directory became a file");
	t = delta_text(d, n);
	like(t, "M keep\n", "the directory that became a file is modified");
	ok(strstr(t, "keep/a") == NULL, "its old children are not listed as deleted");
	free(t);
	fs_delta_free(d, n);
	fs_snapshot_free(s);
	ok(fs_snapshot_take(at("nope"), &e) == NULL && e.code == EX_IOERR_,
	    "a missing root is an I/O error: %s", e.msg);
	free(root);
	free(blob);
}

/*
 * Points made for the runtime, whose times changed (as one made in the
 * tick of the snapshot looks): out of the delta, unless the step wrote
 * below one or changed more than its times.
 */
static void
test_points(void)
{
	static const char *const paths[] = { "file", "mnt", "par", "par/sub", "wrote",
	    "mode", "nothere" };
	static const char *const touched[] = { "p/file", "p/mnt", "p/par", "p/par/sub",
	    "p/wrote", "p/mode" };
	struct timespec later[2] = { { 2000000000, 0 }, { 2000000000, 0 } };
	struct err e = { 0, "" };
	struct fs_snapshot *s;
	struct fs_delta *d = NULL;
	size_t n = 0, i;
	char *t;

	mkd("p/mnt");
	mkd("p/par/sub");
	mkd("p/wrote");
	mkd("p/mode");
	put("p/file", "");
	settle();
	s = fs_snapshot_take(at("p"), &e);
	ok(s != NULL, "snapshot of the points: %s", e.msg);
	for (i = 0; i < sizeof(touched) / sizeof(*touched); i++)
		if (utimensat(AT_FDCWD, at(touched[i]), later, AT_SYMLINK_NOFOLLOW) < 0)
			ok(0, "utimensat %s", touched[i]);
	put("p/wrote/new", "x");
	if (chmod(at("p/mode"), 0700) < 0)
		ok(0, "chmod");
	ok(fs_diff(s, at("p"), &d, &n, &e) == 0, "diff of the points: %s", e.msg);
	t = delta_text(d, n);
	is_str(t, "M file\nM mnt/\nM mode/\nM par/\nM par/sub/\nM wrote/\nA wrote/new\n",
	    "every point whose times changed is in the delta");
	free(t);
	fs_delta_drop_points(s, at("p"), d, &n, paths, sizeof(paths) / sizeof(*paths));
	t = delta_text(d, n);
	is_str(t, "M mode/\nM wrote/\nA wrote/new\n", "points changed in their times alone "
	    "go, deepest first (a parent whose child went goes too); one the step wrote below "
	    "or changed the mode of stays");
	free(t);
	fs_delta_free(d, n);
	fs_snapshot_free(s);
}

int
main(void)
{
	struct err ce = { 0, "" };

	/* The digests need libcrypto (core/crypto-load.h). */
	if (crypto_load(&ce) < 0) {
		printf("Bail out! %s\n", ce.msg);
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/fsdiffXXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	test_changes();
	test_big_unchanged();
	test_points();
	rm_rf(dir);
	return done_testing();
}
