/*
 * rootfs: what a build stage's file system holds, without unpacking it.
 *
 * A view maps each path to its metadata (a struct layer_entry) and to
 * where its content is: a file on disk (entry.src: a context file or a
 * scratch copy) or a member of one of the layer blobs the view was built
 * from (layer >= 0).  Layers are applied in order with OCI whiteouts
 * (".wh.NAME" removes NAME from the layers below, ".wh..wh..opq" empties
 * its directory of them).  Paths are relative and cleaned; the root is
 * ".".  Symlinks are resolved inside the view, as a chroot would.
 *
 * Ownership: the view owns its nodes and layer paths; nodes returned are
 * borrowed until the view changes.
 */
#ifndef CI_ROOTFS_H
#define CI_ROOTFS_H

#include <stddef.h>

#include "image/layer.h"
#include "core/log.h"

struct rootfs_node {
	struct layer_entry ent;		/* ent.path is the key */
	int layer;			/* content in layers[layer], or -1 */
	int depth;			/* layer the entry came from, for whiteouts */
	int want;			/* rootfs_materialize() bookkeeping */
	struct rootfs_node *next;	/* hash chain */
};

struct rootfs {
	struct rootfs_node **tab;
	size_t nbuckets, n;
	char **layers;			/* blob paths, by index */
	size_t nlayers;
	int generation;			/* bumped by every change */
};

struct rootfs *rootfs_new(void);
struct rootfs *rootfs_clone(const struct rootfs *fs);
void rootfs_free(struct rootfs *fs);

/*
 * Read a layer blob (any compression layer_reader opens) into the view.
 * With listing non-NULL, the entries are taken from that file when it
 * exists (written by an earlier call: no decompression then), and the
 * file is written when it does not.
 */
int rootfs_apply_layer(struct rootfs *fs, const char *blob_path, const char *listing,
    struct err *e);

/* Add or replace an entry (copied); a non-directory over a directory
 * removes what was below it. */
void rootfs_put(struct rootfs *fs, const struct layer_entry *ent, int layer);
/* The same, taking ent's strings (ent is zeroed): no copy of each path. */
void rootfs_take(struct rootfs *fs, struct layer_entry *ent, int layer);
void rootfs_remove(struct rootfs *fs, const char *path, int with_children);
struct rootfs_node *rootfs_get(const struct rootfs *fs, const char *path);

/*
 * Resolve path (absolute or relative to the root) through the view's
 * symlinks; with follow_last the last component is followed too.  The
 * result (fresh, cleaned, "." for the root) may name something missing.
 * Errors: a loop of links (EX_USAGE_).
 */
int rootfs_resolve(const struct rootfs *fs, const char *path, int follow_last, char **out,
    struct err *e);

/* Every node strictly below dir ("." for all), sorted by path; the array
 * is fresh, the nodes borrowed. */
struct rootfs_node **rootfs_list(const struct rootfs *fs, const char *dir, size_t *n);

/*
 * Make the content of these nodes readable from a file: members of layer
 * blobs are copied into scratch_dir (one pass per layer) and their src
 * and digest set.  Nodes that already have src are left alone.
 */
int rootfs_materialize(struct rootfs *fs, struct rootfs_node **nodes, size_t n,
    const char *scratch_dir, struct err *e);

/* The content of one file (for /etc/passwd): a fresh NUL-terminated
 * string, NULL when the path is missing or not a regular file. */
char *rootfs_read(struct rootfs *fs, const char *path, const char *scratch_dir, size_t cap,
    struct err *e);

#endif
