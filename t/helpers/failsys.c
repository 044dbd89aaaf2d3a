/*
 * failsys.c: an LD_PRELOAD shim for tests that need a system call to fail
 * where no file system setup can make it (we run as root).
 *
 *   FAIL_RENAME_TO=PATH   rename(2) to PATH fails with EIO (with
 *                         FAIL_RENAME_ONCE=1, only the first time)
 *   FAIL_FSYNC_DIR=PATH   fsync(2) of the directory PATH (as realpath
 *                         gives it) fails with EIO
 *   FAIL_MKDIR_MATCH=TEXT mkdir(2) of a path holding TEXT fails with EIO
 *
 * Build: cc -shared -fPIC -o failsys.so failsys.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

int
rename(const char *from, const char *to)
{
	static int (*real)(const char *, const char *);
	static int failed;
	const char *f = getenv("FAIL_RENAME_TO"), *once = getenv("FAIL_RENAME_ONCE");

	if (!real)
		real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
	if (f && *f && !strcmp(to, f) && !(once && *once && failed)) {
		failed = 1;
		errno = EIO;
		return -1;
	}
	return real(from, to);
}

int
fsync(int fd)
{
	static int (*real)(int);
	const char *f = getenv("FAIL_FSYNC_DIR");
	char link[64], path[PATH_MAX + 1];
	ssize_t n;

	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (f && *f) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, path, PATH_MAX);
		if (n > 0) {
			path[n] = '\0';
			if (!strcmp(path, f)) {
				errno = EIO;
				return -1;
			}
		}
	}
	return real(fd);
}

int
mkdir(const char *path, mode_t mode)
{
	static int (*real)(const char *, mode_t);
	const char *f = getenv("FAIL_MKDIR_MATCH");

	if (!real)
		real = (int (*)(const char *, mode_t))dlsym(RTLD_NEXT, "mkdir");
	if (f && *f && strstr(path, f)) {
		errno = EIO;
		return -1;
	}
	return real(path, mode);
}
