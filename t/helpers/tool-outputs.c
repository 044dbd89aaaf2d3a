/*
 * tool-outputs.c: an LD_PRELOAD shim that records which files a ci-* tool
 * writes, so that test-lib.sh can sweep them for credentials (t/README,
 * "No secret leaked").  test-lib.sh builds it and preloads it into every
 * tool through the wrappers it puts first on PATH.
 *
 *   SWEEP_OUTPUTS=FILE   where the records go (appended)
 *   SWEEP_TOOLS=DIR      the directory of the real tools
 *   SWEEP_PRELOAD=LIST   the LD_PRELOAD the test had set, if any
 *   SWEEP_TOOL=NAME      set by a tool for its children: a git it runs
 *                        records too
 *
 * A record is "KIND TAB PROG TAB PATH NUL": KIND 1 or 2 for the regular
 * file a tool's standard output or error is, w for a regular file it
 * opened for writing, created, renamed or linked into place, d for a
 * directory it renamed into place (all it holds is the tool's); PROG
 * names the tool.  Only the tool records, and the git it runs (the ledger's
 * clone is the tool's state): any other child (a gate job, a deploy
 * command) gets back the test's own LD_PRELOAD, without this shim.
 *
 * Interposers may run in a child between fork and exec: they use only
 * system calls and no allocation once the constructor has run.
 *
 * Build: cc -shared -fPIC -o tool-outputs.so tool-outputs.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static int active;
static char logpath[PATH_MAX];
static char prog[64];

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);

static void
resolve(void)
{
	if (!real_open)
		real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	if (!real_openat)
		real_openat = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
}

/* Append one record; errno is left as it was. */
static void
record(char kind, int fd)
{
	char rec[PATH_MAX + 80], link[40] = "/proc/self/fd/";
	struct stat st;
	size_t n = 0, k;
	ssize_t len;
	int saved = errno, lfd, i = (int)strlen(link), d = fd, digits = 1;

	if (!active || fd < 0 || fstat(fd, &st) < 0)
		goto out;
	/* A directory put in place whole (a layout built aside, renamed). */
	if (S_ISDIR(st.st_mode) && kind == 'w')
		kind = 'd';
	else if (!S_ISREG(st.st_mode))
		goto out;
	while (d >= 10) {
		d /= 10;
		digits++;
	}
	for (d = fd, k = (size_t)digits; k-- > 0; d /= 10)
		link[i + (int)k] = (char)('0' + d % 10);
	link[i + digits] = '\0';
	rec[n++] = kind;
	rec[n++] = '\t';
	k = strlen(prog);
	memcpy(rec + n, prog, k);
	n += k;
	rec[n++] = '\t';
	len = readlink(link, rec + n, PATH_MAX);
	if (len <= 0)
		goto out;
	n += (size_t)len;
	rec[n++] = '\0';
	lfd = real_open(logpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (lfd >= 0) {
		/* writev, not write: t0961 kills a tool at its Nth write(2),
		 * and the record must not move that count. */
		struct iovec iov = { rec, n };

		len = writev(lfd, &iov, 1);
		(void)len;
		close(lfd);
	}
out:
	errno = saved;
}

/* A path that now exists (the target of a rename or a link). */
static void
record_at(int dirfd, const char *path)
{
	int fd;

	if (!active)
		return;
	fd = real_openat(dirfd, path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		record('w', fd);
		close(fd);
	}
}

static int
writes(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC));
}

static const char *
base(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

__attribute__((constructor)) static void
init(void)
{
	const char *log = getenv("SWEEP_OUTPUTS"), *tools = getenv("SWEEP_TOOLS");
	const char *orig = getenv("SWEEP_PRELOAD"), *parent = getenv("SWEEP_TOOL");
	char exe[PATH_MAX];
	ssize_t n;
	size_t tl;

	resolve();
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	tl = tools ? strlen(tools) : 0;
	if (log && *log && tl && !strncmp(exe, tools, tl) && exe[tl] == '/' &&
	    !strncmp(exe + tl + 1, "ci-", 3) && !strchr(exe + tl + 1, '/')) {
		snprintf(prog, sizeof(prog), "%.60s", exe + tl + 1);
		setenv("SWEEP_TOOL", prog, 1);
		active = 1;
	} else if (log && *log && parent && *parent && !strncmp(base(exe), "git", 3)) {
		snprintf(prog, sizeof(prog), "%.30s (%.30s)", parent, base(exe));
		active = 1;
	} else {
		/* Not ours to watch: the test's own preload, nothing more. */
		if (orig && *orig)
			setenv("LD_PRELOAD", orig, 1);
		else
			unsetenv("LD_PRELOAD");
		unsetenv("SWEEP_TOOL");
		return;
	}
	snprintf(logpath, sizeof(logpath), "%s", log);
	record('1', 1);
	record('2', 2);
}

/* The mode argument of an open() that creates, or 0. */
#define MODE(flags, mode) do { \
	va_list ap_; \
	va_start(ap_, flags); \
	mode = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap_, int) : 0; \
	va_end(ap_); \
} while (0)

static int
opened(int fd, int flags)
{
	if (fd >= 0 && writes(flags))
		record('w', fd);
	return fd;
}

int
open(const char *path, int flags, ...)
{
	int mode;

	resolve();
	MODE(flags, mode);
	return opened(real_open(path, flags, mode), flags);
}

int
open64(const char *path, int flags, ...)
{
	int mode;

	MODE(flags, mode);
	return open(path, flags, mode);
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	int mode;

	resolve();
	MODE(flags, mode);
	return opened(real_openat(dirfd, path, flags, mode), flags);
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
	int mode;

	MODE(flags, mode);
	return openat(dirfd, path, flags, mode);
}

/* What the compiler calls for open() under _FORTIFY_SOURCE. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

int
__open_2(const char *path, int flags)
{
	return open(path, flags, 0);
}

int
__open64_2(const char *path, int flags)
{
	return open(path, flags, 0);
}

int
__openat_2(int dirfd, const char *path, int flags)
{
	return openat(dirfd, path, flags, 0);
}

int
__openat64_2(int dirfd, const char *path, int flags)
{
	return openat(dirfd, path, flags, 0);
}

int
creat(const char *path, mode_t mode)
{
	return open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

int
creat64(const char *path, mode_t mode)
{
	return open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

/* real: the next definition of name, libc's (or another preload's). */
#define REAL(name) \
	static __typeof__(name) *real; \
	if (!real) \
		real = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

/* libc's stdio opens files without going through open(). */
static FILE *
note_stream(FILE *f, const char *how)
{
	if (f && strpbrk(how, "wa+"))
		record('w', fileno(f));
	return f;
}

FILE *
fopen(const char *path, const char *how)
{
	REAL(fopen);
	return note_stream(real(path, how), how);
}

FILE *
fopen64(const char *path, const char *how)
{
	REAL(fopen64);
	return note_stream(real(path, how), how);
}

FILE *
freopen(const char *path, const char *how, FILE *stream)
{
	REAL(freopen);
	return note_stream(real(path, how, stream), how);
}

/* So do the mkstemp family. */
static int
note_fd(int fd)
{
	if (fd >= 0)
		record('w', fd);
	return fd;
}

int
mkstemp(char *tmpl)
{
	REAL(mkstemp);
	return note_fd(real(tmpl));
}

int
mkostemp(char *tmpl, int flags)
{
	REAL(mkostemp);
	return note_fd(real(tmpl, flags));
}

int
mkstemps(char *tmpl, int suffixlen)
{
	REAL(mkstemps);
	return note_fd(real(tmpl, suffixlen));
}

int
mkostemps(char *tmpl, int suffixlen, int flags)
{
	REAL(mkostemps);
	return note_fd(real(tmpl, suffixlen, flags));
}

/* A file put in place under a new name: the name is written too. */
static int
note_name(int rc, int dirfd, const char *to)
{
	if (rc == 0)
		record_at(dirfd, to);
	return rc;
}

int
rename(const char *from, const char *to)
{
	REAL(rename);
	return note_name(real(from, to), AT_FDCWD, to);
}

int
renameat(int fromfd, const char *from, int tofd, const char *to)
{
	REAL(renameat);
	return note_name(real(fromfd, from, tofd, to), tofd, to);
}

int
renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned flags)
{
	REAL(renameat2);
	return note_name(real(fromfd, from, tofd, to, flags), tofd, to);
}

int
link(const char *from, const char *to)
{
	REAL(link);
	return note_name(real(from, to), AT_FDCWD, to);
}

int
linkat(int fromfd, const char *from, int tofd, const char *to, int flags)
{
	REAL(linkat);
	return note_name(real(fromfd, from, tofd, to, flags), tofd, to);
}
