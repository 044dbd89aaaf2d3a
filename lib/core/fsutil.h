/*
 * fsutil: files that must not be left half-written.
 *
 * atomic_write() writes to a temp file beside the target, fsyncs it, renames
 * it over the target and fsyncs the directory, so readers see the old or the
 * new content, never a mix.  mkdir_p() creates every missing parent.  The
 * lock is an advisory fcntl() lock on a file, released by close (or exit).
 */
#ifndef CI_FSUTIL_H
#define CI_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "core/log.h"

int atomic_write(const char *path, const void *data, size_t len, mode_t mode, struct err *e);
int mkdir_p(const char *path, mode_t mode, struct err *e);
/* mkdir_p() of the directory part of path. */
int mkdir_parent(const char *path, struct err *e);

/*
 * A file the user named as an output (a report, an archive).  When it is a
 * regular file or missing, it is written as atomic_write() does: a temp
 * file beside it, renamed over it (its directory made when missing).  A
 * symlink is followed: its target is replaced, the link stays.  Anything
 * else -- a FIFO, a character device such as /dev/full, /dev/stdout on a
 * pipe -- is written in place, and its write errors are reported, never
 * hidden by a rename over it.  A directory is refused.  Errors: EX_IOERR_
 * naming the path.
 */
struct outfile {
	char *path;		/* what is written: the target */
	char *tmp;		/* the temp file, or NULL: in place */
	int fd;
};
int outfile_open(struct outfile *o, const char *path, mode_t mode, struct err *e);
/* fsync (a regular file), close, rename; on error nothing is left. */
int outfile_commit(struct outfile *o, struct err *e);
void outfile_abort(struct outfile *o);
/* outfile_open(), the data, outfile_commit(). */
int output_write(const char *path, const void *data, size_t len, mode_t mode, struct err *e);

/* Take an exclusive lock on path (created if missing).  wait: block until
 * free; else fail at once with EX_TEMP when held.  Returns the fd to keep. */
int lock_file(const char *path, int wait, struct err *e);
void unlock_file(int fd);

/*
 * Append data to fd (opened O_APPEND; path names it in messages) in full,
 * then fsync.  When that fails -- a full disk cuts the write short -- the
 * file is truncated back to its size before, so no torn record is left.
 * Errors: EX_IOERR_ naming path.
 */
int append_whole(int fd, const char *path, const void *data, size_t len, struct err *e);

/* Read a whole (small) file; NUL-terminated; cap as json_slurp. */
char *read_file(const char *path, size_t cap, size_t *len, struct err *e);

/*
 * Copy the regular file src to dst, created (O_EXCL unless replace) with
 * mode and not through a symlink; in the kernel (copy_file_range) where it
 * can, else read and write.  On failure dst is removed.  Errors:
 * EX_IOERR_ naming the file.
 */
int file_copy(const char *src, const char *dst, mode_t mode, int replace, struct err *e);

/* 1 when path exists (any type), else 0. */
int path_exists(const char *path);

#endif
