/*
 * fuzz.h: what the fuzz targets t/fuzz/NAME.c share (see t/README).
 *
 * Each target defines LLVMFuzzerTestOneInput(), the libFuzzer entry point:
 * built with clang -fsanitize=fuzzer by `make fuzz`, or with the normal
 * compiler beside t/fuzz/driver.c (t/fuzz/NAME.run) so that `make check`
 * replays every seed and regression.  A target calls the real lib/ entry
 * point, frees everything it got and never exits.
 *
 * fuzz_init() runs once per process: lib/'s warnings off (a fuzzer runs a
 * million inputs), and a private temporary directory, removed at exit,
 * for the parsers that only take a path.  Strings returned are the
 * caller's (fuzz_str) or static (fuzz_dir, fuzz_file).
 */
#ifndef CI_FUZZ_H
#define CI_FUZZ_H

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "core/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_tmp[4096];

/* Remove path and what is below it (the targets leave files and a few
 * directories, no more). */
static void
fuzz_rm(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;

	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode) && (d = opendir(path))) {
		while ((de = readdir(d))) {
			char sub[4200];

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			fuzz_rm(sub);
		}
		closedir(d);
		rmdir(path);
		return;
	}
	unlink(path);
}

static void
fuzz_cleanup(void)
{
	if (fuzz_tmp[0])
		fuzz_rm(fuzz_tmp);
}

static void __attribute__((unused))
fuzz_init(void)
{
	static int done;
	const char *t;

	if (done)
		return;
	done = 1;
	log_init("fuzz");
	log_set_level(LOG_QUIET);
	/* A memory file system when there is one: a million small files. */
	t = getenv("TMPDIR");
	if (!t || !*t)
		t = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(fuzz_tmp, sizeof(fuzz_tmp), "%s/ci-fuzz.XXXXXX", t);
	if (!mkdtemp(fuzz_tmp)) {
		/* Nothing to fuzz against: say so once, loudly. */
		perror(fuzz_tmp);
		abort();
	}
	atexit(fuzz_cleanup);
}

/* The per-process temporary directory. */
static __attribute__((unused)) const char *
fuzz_dir(void)
{
	return fuzz_tmp;
}

/* data as a file named name in the temporary directory; its path. */
static __attribute__((unused)) const char *
fuzz_file(const char *name, const uint8_t *data, size_t size)
{
	static char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fuzz_tmp, name);
	/* Written over, then cut: truncating to zero first makes ext4 flush
	 * the old content on close (auto_da_alloc), a thousand times slower. */
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) ||
	    ftruncate(fd, (off_t)size) < 0) {
		perror(path);
		abort();
	}
	close(fd);
	return path;
}

/* data as a fresh NUL-terminated string (a NUL inside ends it early, as
 * it would for a C caller holding a string). */
static __attribute__((unused)) char *
fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
