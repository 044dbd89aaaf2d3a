/*
 * layer: image layers as reproducible tar streams, compressed and
 * digested in one pass, and read back.
 *
 * layer_write() turns a list of entries into a blob: the tar (libarchive,
 * pax restricted: plain ustar headers unless a name or size needs an
 * extended header, never atime/ctime) is digested as it is made (the
 * diff_id), compressed, digested again (the blob digest) and written to a
 * file.  Nothing about the machine gets in: the caller gives each entry
 * its mode, owner and mtime, and the order (layer_sort() sorts bytewise
 * by path, which puts parents first).
 *
 * gzip is made pigz-style: the input is cut into fixed blocks, each
 * deflated on its own with the previous 32 KiB as its dictionary and
 * ended by a sync flush, the blocks joined in order and their CRCs
 * combined.  The bytes depend on the level and the block size only, never
 * on the number of threads.  The header has mtime 0, no name, XFL 0 and
 * OS 255 (unknown).  zstd goes through libarchive's zstd filter, one
 * thread, so the same libzstd gives the same bytes.
 *
 * The file-hash cache remembers the sha256 of files by path and stat data
 * (device, inode, size, mtime and ctime in nanoseconds), so that an
 * unchanged file is not read again to compute a layer's cache key.
 *
 * Ownership: struct layer_entry strings are owned by the entry
 * (layer_entry_free()); readers own their state until closed.
 */
#ifndef CI_LAYER_H
#define CI_LAYER_H

#include <signal.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core/log.h"
#include "oci/oci.h"

enum layer_type {
	LE_FILE, LE_DIR, LE_SYMLINK, LE_HARDLINK, LE_CHAR, LE_BLOCK, LE_FIFO
};

enum layer_compression { LAYER_GZIP, LAYER_ZSTD, LAYER_NONE };

#define LAYER_DEFAULT_BLOCK (128u << 10)
/* Goes into both cache keys: one more whenever the bytes a setting gives
 * change (2: level 1 reaches back 8 KiB into the dictionary, not 32; 3:
 * level 1 probes less where nothing matches; 4: level 1 indexes four
 * positions within every match), so that a layer cached by an older
 * ci-build is not taken for this one's. */
#define LAYER_ENCODER_REV 4
#define LAYER_GZIP_DEFAULT_LEVEL 1
#define LAYER_ZSTD_DEFAULT_LEVEL 3

struct layer_entry {
	char *path;		/* relative, cleaned, no trailing '/' */
	enum layer_type type;
	unsigned mode;		/* permission bits, 07777 */
	long long uid, gid;
	char *uname, *gname;	/* NULL: empty names */
	long long mtime;	/* seconds, already clamped */
	long long size;		/* regular files */
	char *link;		/* symlink target, or hardlink target path */
	char *src;		/* regular files: where the content is read */
	unsigned devmajor, devminor;
	char digest[OCI_DIGEST_SIZE];	/* content sha256, or "" until known */
};

void layer_entry_free(struct layer_entry *e);
void layer_entry_copy(struct layer_entry *dst, const struct layer_entry *src);
/* Sort bytewise by path (parents come first). */
void layer_sort(struct layer_entry *v, size_t n);

struct layer_opts {
	enum layer_compression compression;
	int level;		/* -1: the default of the compression */
	int threads;		/* 0: the number of online CPUs */
	size_t block_size;	/* gzip block; 0: LAYER_DEFAULT_BLOCK */
	volatile sig_atomic_t *stop;	/* when set and non-zero: stop (EX_TEMP) */
};

struct layer_result {
	char diff_id[OCI_DIGEST_SIZE];
	char digest[OCI_DIGEST_SIZE];
	long long size;		/* of the blob */
	long long tar_size;
	const char *media_type;	/* static string */
};

const char *layer_media_type(enum layer_compression c);

/*
 * Write entries, in the order given, as a compressed tar into a new file
 * path (mode 0644; removed on failure).  A regular file must still have
 * the size its entry says (else EX_IOERR_ "changed while read").  Entries
 * whose digest is "" get their content sha256 filled in.
 */
int layer_write(struct layer_entry *v, size_t n, const struct layer_opts *o,
    const char *path, struct layer_result *r, struct err *e);

/* ---- gzip, pigz-style, on its own (tests, benchmarks) ------------------- */

typedef int (*layer_sink_fn)(void *arg, const void *p, size_t n, struct err *e);

struct pgz;

/* A compressor that hands its output, in order, to sink. */
struct pgz *pgz_new(int level, int threads, size_t block_size, layer_sink_fn sink,
    void *arg, struct err *e);
int pgz_write(struct pgz *z, const void *p, size_t n, struct err *e);
/*
 * The free room of the block being filled (never 0): a caller may put up
 * to *room bytes there (read(2) into it) and then pass exactly that
 * pointer to pgz_write(), which then copies nothing.  Valid until the
 * next call on z.
 */
void *pgz_space(struct pgz *z, size_t *room);
/*
 * Digest what goes in (in_hash) and the whole gzip stream that comes out
 * (out_hash), either may be NULL, on the compression threads, block after
 * block in order, so that the caller's thread only feeds and writes.
 * Call before the first pgz_write(); the digests are complete once
 * pgz_finish() returns.
 */
void pgz_digest(struct pgz *z, struct sha256 *in_hash, struct sha256 *out_hash);
/*
 * pgz_write(), the bytes going into also as well: with pgz_digest()'s
 * input digest, on the compression threads with it (sha256_update2()),
 * a file's own digest and the tar's, and also is complete once
 * pgz_finish() returns (it must live until then, or until pgz_free());
 * without one, at once.
 */
int pgz_write_hashed(struct pgz *z, const void *p, size_t n, struct sha256 *also,
    struct err *e);
/* Flush the last block and the trailer. */
int pgz_finish(struct pgz *z, struct err *e);
void pgz_free(struct pgz *z);

/*
 * Level 1's own deflate encoder on its own (tests): in[0..n) as raw
 * deflate, one final block, into out.  Returns the bytes written, or -1
 * when they would not fit in cap; nothing is ever written past out[cap-1].
 * layer_deflate_bound(n) bytes are always enough.
 */
long long layer_deflate_quick(const void *in, size_t n, void *out, size_t cap);
size_t layer_deflate_bound(size_t n);

/* Inflate a gzip stream (several members allowed) from fd to sink. */
int gunzip_fd(int fd, layer_sink_fn sink, void *arg, struct err *e);

/* ---- reading layers and archives ----------------------------------------- */

struct layer_reader;

/*
 * Open a tar, plain or compressed with gzip, zstd, bzip2 or xz.  With
 * probe set, a file that is not such an archive gives 0 (and no reader)
 * instead of an error: ADD copies such a file as it is.
 */
int layer_reader_open(struct layer_reader **r, const char *path, int probe, struct err *e);
/*
 * The next entry: 1 and ent filled (strings borrowed until the next
 * call; path cleaned, without "./" or '/' in front), 0 at the end, -1 on
 * error.  A path that climbs out of the root ("../x") is an error.
 */
int layer_reader_next(struct layer_reader *r, struct layer_entry *ent, struct err *e);
/* Copy the current entry's content to fd, digesting it into digest. */
int layer_reader_copy(struct layer_reader *r, int fd, char digest[OCI_DIGEST_SIZE],
    struct err *e);
void layer_reader_close(struct layer_reader *r);

/* ---- the file-hash cache ------------------------------------------------ */

struct layer_fcache;

/* Load from path (a missing file is an empty cache). */
struct layer_fcache *layer_fcache_load(const char *path);
/* The digest of the file at path when its stat data match, else NULL. */
const char *layer_fcache_get(struct layer_fcache *c, const char *path, const struct stat *st);
void layer_fcache_put(struct layer_fcache *c, const char *path, const struct stat *st,
    const char *digest);
/* Write back (atomically) when something changed; drops entries not used
 * in this run whose paths are under the given root (NULL: drops none). */
int layer_fcache_save(struct layer_fcache *c, const char *root, struct err *e);
void layer_fcache_free(struct layer_fcache *c);
/*
 * 1 when st's mtime or ctime is so recent that the file could still
 * change within the same timestamp (git's racy-clean rule): its stat data
 * are not to be trusted yet.
 */
int layer_stat_recent(const struct stat *st);

/*
 * The cache key of a layer: sha256 over a canonical text of the entries
 * (every field but src) and the compression settings.  Every regular
 * file must have its digest.
 */
void layer_cache_key(const struct layer_entry *v, size_t n, const struct layer_opts *o,
    char key[OCI_DIGEST_SIZE]);

/*
 * The stat key of a layer: as the cache key, but a regular file without
 * a digest stands for its source path and stat data (st[i]: device,
 * inode, size, mtime, ctime in nanoseconds, mode) instead of its
 * content, so that nothing is read.  -1 when such a file has no stat
 * data or no source.
 */
int layer_stat_key(const struct layer_entry *v, size_t n, const struct stat *const *st,
    const struct layer_opts *o, char key[OCI_DIGEST_SIZE]);

#endif
