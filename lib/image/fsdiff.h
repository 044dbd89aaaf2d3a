/*
 * fsdiff: what a command changed in a directory tree, from metadata only.
 *
 * A snapshot records, for every entry below a root (not the root itself),
 * its mode, owner, size, mtime and ctime in nanoseconds, inode, device and
 * link target, without following symlinks and without entering other
 * file systems (an entry whose st_dev is not the root's is left out,
 * mount points with it).  fs_diff() walks the tree again and compares:
 * no file is read, so an unchanged tree of any size costs one walk.
 *
 * A file (any non-directory) is modified when its size, mtime, ctime,
 * inode, mode (type included), owner or link target changed, or when its
 * ctime is not older than the snapshot (it may have changed again in the
 * same clock tick, unseen: git's "racily clean"); a directory when its
 * mode, owner or mtime changed.  A directory that was deleted and
 * made again (another inode) is modified and "opaque": whatever it held
 * before is gone, and all it holds now is in the delta.  A deleted path
 * is listed once: not below a deleted directory, nor below one that is
 * opaque or became a non-directory.
 *
 * fs_delta_entries() turns a delta into the entries of a layer
 * (image/layer.h): content read from the tree (entry src), owners and
 * modes as they are, mtimes clamped to the build's epoch, every parent
 * directory of a change included, deletions as ".wh.NAME" whiteouts,
 * opaque directories with ".wh..wh..opq".  Hard links are stored as
 * separate regular files (a first version: correct, not deduplicated);
 * sockets are left out.
 *
 * Ownership: the snapshot owns its strings; delta and entry arrays are
 * the caller's (fs_delta_free(), layer_entry_free() then free()).
 */
#ifndef CI_FSDIFF_H
#define CI_FSDIFF_H

#include <stddef.h>

#include "core/log.h"
#include "image/layer.h"

struct fs_snapshot;

struct fs_snapshot *fs_snapshot_take(const char *root, struct err *e);
void fs_snapshot_free(struct fs_snapshot *s);
/* How many entries the snapshot holds. */
size_t fs_snapshot_count(const struct fs_snapshot *s);

enum fs_change { FS_ADDED = 1, FS_MODIFIED, FS_DELETED };

struct fs_delta {
	char *path;		/* relative, no leading "./" */
	int change;		/* enum fs_change */
	int is_dir;		/* now (added, modified) or before (deleted) */
	int opaque;		/* a directory deleted and made again */
};

/*
 * Compare before with the tree at root now (before must have been taken
 * of the same root).  *out: every added, modified and deleted path,
 * sorted bytewise by path.  Returns 0, or -1 with e set.
 */
int fs_diff(const struct fs_snapshot *before, const char *root, struct fs_delta **out,
    size_t *n, struct err *e);
void fs_delta_free(struct fs_delta *v, size_t n);

/*
 * Take out of the delta the points a step made under root before the
 * snapshot for the runtime (mount points, /proc, the working directory),
 * which are not its change: paths (relative, each parent before its
 * children) that the delta lists as modified, with nothing listed below
 * them, and that differ from what before saw in their times alone.
 * Times cannot decide for these: one made in the clock tick of the
 * snapshot counts as changed (racily clean) whatever happens to it.
 * A point the step wrote below, or changed the mode of, stays.
 */
void fs_delta_drop_points(const struct fs_snapshot *before, const char *root,
    struct fs_delta *v, size_t *n, const char *const *paths, size_t npaths);

/*
 * The layer entries of a delta, sorted (layer_sort()), ready for
 * layer_write().  mtimes above clamp_epoch become clamp_epoch (negative:
 * no clamp); whiteouts get mode 0, owner 0 and the epoch (or 0).  A path
 * gone since fs_diff() is an EX_IOERR_ error.
 */
int fs_delta_entries(const struct fs_delta *v, size_t n, const char *root,
    long long clamp_epoch, struct layer_entry **out, size_t *nout, struct err *e);

#endif
