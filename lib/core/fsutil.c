/* copy_file_range() */
#define _GNU_SOURCE
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/log.h"

/* The directory part of path: "a/b/c" -> "a/b", "/c" -> "/", "c" -> ".". */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash)
		return xstrdup(".");
	n = (size_t)(slash - path);
	while (n > 0 && path[n - 1] == '/')
		n--;
	if (n == 0)
		return xstrdup("/");
	return xstrndup(path, n);
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Make a rename in path's directory durable.  Some file systems cannot
 * fsync a directory (EINVAL); the new content is in place either way. */
static int
sync_dir(const char *path, struct err *e)
{
	char *dir = dir_of(path);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	free(dir);
	if (dfd < 0)
		return 0;
	if (fsync(dfd) != 0 && errno != EINVAL && errno != ENOTSUP && errno != EROFS)
		rc = err_set(e, EX_IOERR_, "cannot write '%s': %s", path, strerror(errno));
	close(dfd);
	return rc;
}

/* o->path's temp file beside it, with mode; o freed on failure. */
static int
tmp_open(struct outfile *o, mode_t mode, struct err *e)
{
	o->tmp = xasprintf("%s.tmp.XXXXXX", o->path);
	if ((o->fd = mkstemp(o->tmp)) < 0) {
		err_set(e, EX_IOERR_, "cannot write '%s': %s", o->path, strerror(errno));
		free(o->tmp);
		o->tmp = NULL;
		outfile_abort(o);
		return -1;
	}
	(void)fcntl(o->fd, F_SETFD, FD_CLOEXEC);
	if (fchmod(o->fd, mode) != 0) {
		err_set(e, EX_IOERR_, "cannot write '%s': %s", o->path, strerror(errno));
		outfile_abort(o);
		return -1;
	}
	return 0;
}

/* data into the open o, then outfile_commit(). */
static int
write_commit(struct outfile *o, const void *data, size_t len, struct err *e)
{
	if (write_all(o->fd, data, len) != 0) {
		err_set(e, EX_IOERR_, "cannot write '%s': %s", o->path, strerror(errno));
		outfile_abort(o);
		return -1;
	}
	return outfile_commit(o, e);
}

int
atomic_write(const char *path, const void *data, size_t len, mode_t mode, struct err *e)
{
	struct outfile o;

	memset(&o, 0, sizeof(o));
	o.path = xstrdup(path);
	return tmp_open(&o, mode, e) < 0 ? -1 : write_commit(&o, data, len, e);
}

static int
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Create one directory; an existing directory (or symlink to one) is fine. */
static int
mkdir_one(const char *full, const char *path, mode_t mode, struct err *e)
{
	struct stat st;
	int saved;

	if (mkdir(path, mode) == 0)
		return 0;
	saved = errno;
	/* Checking afterwards covers EEXIST and also EACCES/EROFS, which some
	 * systems report for a directory that is already there. */
	if (is_dir(path))
		return 0;
	if (saved == EEXIST || (stat(path, &st) == 0 && !S_ISDIR(st.st_mode)))
		return err_set(e, EX_IOERR_, "cannot create directory '%s': '%s' "
		    "is not a directory", full, path);
	return err_set(e, EX_IOERR_, "cannot create directory '%s': %s", full,
	    strerror(saved));
}

int
mkdir_p(const char *path, mode_t mode, struct err *e)
{
	char *p, *s;
	size_t n;
	int rc = 0;

	if (!path || !*path)
		return err_set(e, EX_USAGE_, "cannot create directory '': empty name");
	p = xstrdup(path);
	/* "a/b/" is "a/b": the last component gets mode, not the parent's. */
	n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	s = p;
	while (*s == '/')
		s++;
	while (*s) {
		char *slash = strchr(s, '/');

		if (!slash) {
			rc = mkdir_one(path, p, mode, e);
			break;
		}
		*slash = '\0';
		/* Parents must stay usable for us whatever mode asks for,
		 * as with mkdir -p -m. */
		rc = mkdir_one(path, p, mode | S_IWUSR | S_IXUSR, e);
		*slash = '/';
		if (rc != 0)
			break;
		s = slash + 1;
		while (*s == '/')
			s++;
	}
	free(p);
	return rc;
}

int
outfile_open(struct outfile *o, const char *path, mode_t mode, struct err *e)
{
	struct stat st;
	int flags = O_WRONLY | O_CLOEXEC, exists = lstat(path, &st) == 0;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	if (exists && S_ISLNK(st.st_mode) && stat(path, &st) != 0) {
		/* A dangling link: its target is made, in place. */
		flags |= O_CREAT | O_TRUNC;
	} else if (exists && S_ISDIR(st.st_mode)) {
		return err_set(e, EX_IOERR_, "cannot write '%s': it is a directory", path);
	} else if (!exists || S_ISREG(st.st_mode)) {
		/* Missing or regular (through a link too): a temp file renamed
		 * over the target, so a link stays a link. */
		if (!exists)
			o->path = xstrdup(path);
		else if (!(o->path = realpath(path, NULL)))
			return err_set(e, EX_IOERR_, "cannot write '%s': %s", path,
			    strerror(errno));
		if (mkdir_parent(o->path, e) < 0) {
			err_prefix(e, "cannot write '%s'", o->path);
			outfile_abort(o);
			return -1;
		}
		return tmp_open(o, mode, e);
	}
	/* A FIFO, a device: in place, its errors ours. */
	o->path = xstrdup(path);
	if ((o->fd = open(path, flags, mode)) < 0) {
		err_set(e, EX_IOERR_, "cannot write '%s': %s", path, strerror(errno));
		outfile_abort(o);
		return -1;
	}
	return 0;
}

int
outfile_commit(struct outfile *o, struct err *e)
{
	int rc = 0;

	if (o->tmp && fsync(o->fd) != 0)
		rc = err_set(e, EX_IOERR_, "cannot write '%s': %s", o->path, strerror(errno));
	if (close(o->fd) != 0 && rc == 0)
		rc = err_set(e, EX_IOERR_, "cannot write '%s': %s", o->path, strerror(errno));
	o->fd = -1;
	if (rc == 0 && o->tmp && rename(o->tmp, o->path) != 0)
		rc = err_set(e, EX_IOERR_, "cannot write '%s': %s", o->path, strerror(errno));
	if (rc == 0 && o->tmp) {
		free(o->tmp);
		o->tmp = NULL;
		rc = sync_dir(o->path, e);
	}
	outfile_abort(o);
	return rc;
}

void
outfile_abort(struct outfile *o)
{
	if (o->fd >= 0)
		close(o->fd);
	if (o->tmp)
		unlink(o->tmp);
	free(o->tmp);
	free(o->path);
	memset(o, 0, sizeof(*o));
	o->fd = -1;
}

int
output_write(const char *path, const void *data, size_t len, mode_t mode, struct err *e)
{
	struct outfile o;

	return outfile_open(&o, path, mode, e) < 0 ? -1 : write_commit(&o, data, len, e);
}

int
append_whole(int fd, const char *path, const void *data, size_t len, struct err *e)
{
	struct stat st;
	int saved;

	if (fstat(fd, &st) != 0)
		return err_set(e, EX_IOERR_, "cannot append to '%s': %s", path, strerror(errno));
	if (write_all(fd, data, len) == 0 && fsync(fd) == 0)
		return 0;
	saved = errno;
	/* Take the part that went in back out, and make that stick. */
	if (ftruncate(fd, st.st_size) == 0)
		(void)fsync(fd);
	return err_set(e, EX_IOERR_, "cannot append to '%s': %s", path, strerror(saved));
}

int
mkdir_parent(const char *path, struct err *e)
{
	char *dir;
	int rc;

	if (!strchr(path, '/'))
		return 0;
	dir = dir_of(path);
	rc = strcmp(dir, "/") == 0 ? 0 : mkdir_p(dir, 0777, e);
	free(dir);
	return rc;
}

int
lock_file(const char *path, int wait, struct err *e)
{
	struct flock fl;
	int fd, saved, tries;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return err_set(e, EX_IOERR_, "cannot open lock file '%s': %s", path,
		    strerror(errno));
	for (tries = 0; tries < 3; tries++) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, wait ? F_SETLKW : F_SETLK, &fl) == 0)
			return fd;
		saved = errno;
		if (wait || (saved != EACCES && saved != EAGAIN)) {
			close(fd);
			if (saved == EINTR || saved == EDEADLK)
				return err_set(e, EX_TEMP, "cannot lock '%s': %s",
				    path, strerror(saved));
			return err_set(e, EX_IOERR_, "cannot lock '%s': %s", path,
			    strerror(saved));
		}
		/* Name the holder; if it let go meanwhile, try again. */
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) {
			close(fd);
			return err_set(e, EX_TEMP, "'%s' is locked by another "
			    "process (pid %ld)", path, (long)fl.l_pid);
		}
	}
	close(fd);
	return err_set(e, EX_TEMP, "'%s' is locked by another process", path);
}

void
unlock_file(int fd)
{
	if (fd >= 0)
		close(fd);
}

char *
read_file(const char *path, size_t cap, size_t *len, struct err *e)
{
	size_t lim = cap ? cap : SIZE_MAX / 2, n = 0, alloc = 0;
	char *p = NULL;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		err_set(e, EX_IOERR_, "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		ssize_t r;

		if (alloc - n < 2) {
			/* Grow, but never much beyond the cap plus one byte,
			 * which is all we need to notice a file too big. */
			alloc = alloc ? alloc * 2 : 8192;
			if (alloc > lim + 2)
				alloc = lim + 2;
			p = xrealloc(p, alloc);
		}
		r = read(fd, p + n, alloc - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			free(p);
			err_set(e, EX_IOERR_, "cannot read '%s': %s", path,
			    strerror(saved));
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > lim) {
			close(fd);
			free(p);
			err_set(e, EX_USAGE_, "'%s' is larger than the "
			    "%zu-byte limit", path, cap);
			return NULL;
		}
	}
	close(fd);
	p[n] = '\0';
	if (len)
		*len = n;
	return p;
}

int
file_copy(const char *src, const char *dst, mode_t mode, int replace, struct err *e)
{
	int in, out, rc = 0, kernel = 1;
	char *buf = NULL;
	ssize_t n;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(e, EX_IOERR_, "cannot read '%s': %s", src, strerror(errno));
	out = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
	    (replace ? O_TRUNC : O_EXCL), mode);
	if (out < 0) {
		rc = err_set(e, EX_IOERR_, "cannot create '%s': %s", dst, strerror(errno));
		close(in);
		return rc;
	}
	for (;;) {
		if (kernel) {
			n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
			if (n < 0 && (errno == ENOSYS || errno == EXDEV || errno == EINVAL ||
			    errno == EOPNOTSUPP)) {
				kernel = 0;
				buf = xmalloc(1 << 18);
				continue;
			}
		} else {
			n = read(in, buf, 1 << 18);
			if (n > 0 && write_all(out, buf, (size_t)n) < 0) {
				rc = err_set(e, EX_IOERR_, "cannot write '%s': %s", dst,
				    strerror(errno));
				break;
			}
		}
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = err_set(e, EX_IOERR_, "cannot copy '%s' to '%s': %s", src, dst,
			    strerror(errno));
			break;
		}
	}
	free(buf);
	close(in);
	if (close(out) < 0 && rc == 0)
		rc = err_set(e, EX_IOERR_, "cannot write '%s': %s", dst, strerror(errno));
	if (rc < 0)
		unlink(dst);
	return rc;
}

int
path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}
