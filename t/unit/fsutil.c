/* Unit tests for lib/fsutil.c: atomic writes, mkdir -p, locks, reads, appends. */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/log.h"
#include "tap.h"

static char dir[4096];

static char *
P(const char *name)
{
	static char path[8][4200];
	static int i;

	i = (i + 1) % 8;
	snprintf(path[i], sizeof(path[i]), "%s/%s", dir, name);
	return path[i];
}

static void
rm_rf(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;

	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode) && (d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			char sub[4200];

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			rm_rf(sub);
		}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

/* Number of entries in path whose name contains ".tmp.". */
static int
count_temps(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".tmp."))
			n++;
	closedir(d);
	return n;
}

static void
put(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(s, f);
		fclose(f);
	}
}

static char *
get(const char *path)
{
	static char data[256];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(data, 1, sizeof(data) - 1, f);
	data[n] = '\0';
	fclose(f);
	return data;
}

static int
mode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static int
isdir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void
msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void
test_atomic_write(void)
{
	struct err e;
	char want[128], *big;
	size_t i;

	err_clear(&e);
	is_int(atomic_write(P("out.json"), "{\"a\":1}\n", 8, 0640, &e), 0,
	    "atomic_write creates a file");
	is_str(get(P("out.json")), "{\"a\":1}\n", "with the content");
	is_int(mode_of(P("out.json")), 0640, "and the mode");
	is_int(atomic_write(P("out.json"), "new", 3, 0600, &e), 0,
	    "atomic_write replaces a file");
	is_str(get(P("out.json")), "new", "with the new content");
	is_int(mode_of(P("out.json")), 0600, "and the new mode");
	is_int(atomic_write(P("out.json"), NULL, 0, 0644, &e), 0,
	    "atomic_write of nothing");
	is_str(get(P("out.json")), "", "gives an empty file");
	is_int(mode_of(P("out.json")), 0644, "mode is not masked by umask");

	big = malloc(1 << 20);
	for (i = 0; i < 1 << 20; i++)
		big[i] = (char)('a' + i % 26);
	is_int(atomic_write(P("big"), big, 1 << 20, 0644, &e), 0,
	    "atomic_write of 1 MiB");
	{
		size_t len = 0;
		char *back = read_file(P("big"), 0, &len, &e);

		ok(back && len == 1 << 20 && memcmp(back, big, len) == 0,
		    "reads back the same 1 MiB");
		free(back);
	}
	free(big);
	is_int(count_temps(dir), 0, "no temp files left after success");

	put(P("file"), "x");
	err_clear(&e);
	is_int(atomic_write(P("file/out"), "x", 1, 0644, &e), -1,
	    "atomic_write under a regular file fails");
	is_int(e.code, EX_IOERR_, "with EX_IOERR_");
	snprintf(want, sizeof(want), "cannot write '%s': %s", P("file/out"),
	    strerror(ENOTDIR));
	is_str(e.msg, want, "saying what and why");

	err_clear(&e);
	is_int(atomic_write(P("nope/out"), "x", 1, 0644, &e), -1,
	    "atomic_write in a missing directory fails");
	snprintf(want, sizeof(want), "cannot write '%s': %s", P("nope/out"),
	    strerror(ENOENT));
	is_str(e.msg, want, "saying so");

	mkdir(P("adir"), 0755);
	err_clear(&e);
	is_int(atomic_write(P("adir"), "x", 1, 0644, &e), -1,
	    "atomic_write over a directory fails at the rename");
	like(e.msg, "cannot write '", "with a message");
	ok(isdir(P("adir")), "the directory is untouched");
	is_int(count_temps(dir), 0, "the temp file was removed");

	/* A write that fails half-way (file size limit) leaves no temp file
	 * and no partial target. */
	{
		struct rlimit old, lim;
		void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);

		if (getrlimit(RLIMIT_FSIZE, &old) == 0) {
			lim = old;
			lim.rlim_cur = 10;
			setrlimit(RLIMIT_FSIZE, &lim);
			err_clear(&e);
			is_int(atomic_write(P("fbig"), "0123456789abcdef", 16, 0644, &e),
			    -1, "atomic_write failing in write()");
			snprintf(want, sizeof(want), "cannot write '%s': %s",
			    P("fbig"), strerror(EFBIG));
			is_str(e.msg, want, "says why");
			ok(!path_exists(P("fbig")), "the target was not created");
			is_int(count_temps(dir), 0, "the temp file was removed");
			setrlimit(RLIMIT_FSIZE, &old);
		}
		signal(SIGXFSZ, oldsig);
	}

	if (geteuid() != 0) {
		mkdir(P("ro"), 0500);
		err_clear(&e);
		is_int(atomic_write(P("ro/out"), "x", 1, 0644, &e), -1,
		    "atomic_write in an unwritable directory fails");
		like(e.msg, strerror(EACCES), "permission denied");
		is_int(count_temps(P("ro")), 0, "no temp file there");
		chmod(P("ro"), 0700);
	}
	is_int(count_temps(dir), 0, "no temp files left after failures");
}

static void
test_mkdir(void)
{
	struct err e;
	char want[256];

	err_clear(&e);
	is_int(mkdir_p(P("a/b/c"), 0755, &e), 0, "mkdir_p creates nested dirs");
	ok(isdir(P("a/b/c")), "a/b/c is a directory");
	is_int(mkdir_p(P("a/b/c"), 0755, &e), 0, "mkdir_p on an existing dir");
	is_int(mkdir_p(P("a/b"), 0755, &e), 0, "mkdir_p on an existing parent");
	is_int(mkdir_p(P("a//b2///c2/"), 0755, &e), 0, "repeated and trailing slashes");
	ok(isdir(P("a/b2/c2")), "a/b2/c2 is a directory");
	is_int(mkdir_p(P("m1/m2"), 0700, &e), 0, "mkdir_p with a mode");
	is_int(mode_of(P("m1/m2")), 0700, "the last component gets it");
	is_int(mkdir_p("/", 0755, &e), 0, "mkdir_p /");
	is_int(mkdir_p(dir, 0755, &e), 0, "mkdir_p of an absolute existing dir");

	put(P("a/f"), "x");
	err_clear(&e);
	is_int(mkdir_p(P("a/f/g/h"), 0755, &e), -1, "a file in the way fails");
	is_int(e.code, EX_IOERR_, "with EX_IOERR_");
	snprintf(want, sizeof(want), "cannot create directory '%s': '%s' is not "
	    "a directory", P("a/f/g/h"), P("a/f"));
	is_str(e.msg, want, "naming the file");
	ok(!path_exists(P("a/f/g")), "nothing created below it");
	err_clear(&e);
	is_int(mkdir_p(P("a/f"), 0755, &e), -1, "mkdir_p on a file fails");
	like(e.msg, "is not a directory", "saying so");
	err_clear(&e);
	is_int(mkdir_p("", 0755, &e), -1, "mkdir_p of an empty name fails");
	ok(e.msg[0] != '\0', "with a message");

	is_int(mkdir_parent("noslash.txt", &e), 0, "mkdir_parent without a slash");
	ok(!path_exists("noslash.txt"), "creates nothing");
	is_int(mkdir_parent("/etc/passwd", &e), 0, "mkdir_parent of /etc/passwd");
	is_int(mkdir_parent(P("p/q/r.json"), &e), 0, "mkdir_parent of a new path");
	ok(isdir(P("p/q")), "creates the directory");
	ok(!path_exists(P("p/q/r.json")), "but not the file");
	err_clear(&e);
	is_int(mkdir_parent(P("a/f/x/y"), &e), -1, "mkdir_parent past a file fails");
	like(e.msg, "is not a directory", "saying so");
}

static void
test_lock(void)
{
	struct err e;
	char want[256], c;
	int fd, up[2], down[2], st;
	pid_t pid;

	err_clear(&e);
	fd = lock_file(P("lock"), 0, &e);
	ok(fd >= 0, "lock_file on a new file");
	ok(path_exists(P("lock")), "creates it");
	ok(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC), "close-on-exec");
	unlock_file(fd);

	if (pipe(up) != 0 || pipe(down) != 0) {
		ok(0, "pipe: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	if ((pid = fork()) == 0) {
		struct err ce;
		int cfd = lock_file(P("lock"), 0, &ce);

		c = cfd >= 0 ? 'y' : 'n';
		if (write(up[1], &c, 1) != 1)
			_exit(2);
		/* Hold the lock until the parent says go. */
		if (read(down[0], &c, 1) != 1)
			_exit(2);
		_exit(cfd >= 0 ? 0 : 1);
	}
	close(up[1]);
	close(down[0]);
	c = 0;
	ok(pid > 0 && read(up[0], &c, 1) == 1 && c == 'y', "a child takes the lock");
	err_clear(&e);
	fd = lock_file(P("lock"), 0, &e);
	is_int(fd, -1, "a non-waiting lock fails while the child holds it");
	is_int(e.code, EX_TEMP, "with EX_TEMP");
	snprintf(want, sizeof(want), "'%s' is locked by another process (pid %ld)",
	    P("lock"), (long)pid);
	is_str(e.msg, want, "naming the child's pid");
	if (write(down[1], "x", 1) != 1)
		ok(0, "write to child");
	st = -1;
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child exited");
	close(up[0]);
	close(down[1]);
	err_clear(&e);
	fd = lock_file(P("lock"), 0, &e);
	ok(fd >= 0, "after the child exits the lock succeeds");
	unlock_file(fd);

	/* A waiting lock blocks until the holder lets go. */
	if (pipe(up) != 0) {
		ok(0, "pipe: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	if ((pid = fork()) == 0) {
		struct err ce;
		int cfd = lock_file(P("lock"), 0, &ce);

		c = cfd >= 0 ? 'y' : 'n';
		if (write(up[1], &c, 1) != 1)
			_exit(2);
		msleep(200);
		unlock_file(cfd);
		_exit(0);
	}
	close(up[1]);
	c = 0;
	ok(pid > 0 && read(up[0], &c, 1) == 1 && c == 'y', "a child takes the lock again");
	close(up[0]);
	err_clear(&e);
	fd = lock_file(P("lock"), 1, &e);
	ok(fd >= 0, "a waiting lock gets it once the child lets go");
	waitpid(pid, &st, 0);
	unlock_file(fd);

	err_clear(&e);
	is_int(lock_file(P("nope/lock"), 0, &e), -1, "lock_file in a missing dir fails");
	is_int(e.code, EX_IOERR_, "with EX_IOERR_");
	like(e.msg, P("nope/lock"), "naming the path");
}

static void
test_read(void)
{
	struct err e;
	char want[256], *s;
	size_t len;
	int i;

	put(P("hundred"), "");
	{
		FILE *f = fopen(P("hundred"), "w");

		for (i = 0; i < 100; i++)
			fputc('0' + i % 10, f);
		fclose(f);
	}
	len = 0;
	s = read_file(P("hundred"), 100, &len, &e);
	ok(s != NULL, "read_file at exactly the cap");
	is_int(len, 100, "length");
	ok(s && s[100] == '\0' && strncmp(s, "0123456789", 10) == 0,
	    "content, NUL-terminated");
	free(s);
	s = read_file(P("hundred"), 0, NULL, &e);
	ok(s && strlen(s) == 100, "cap 0 means no cap; len may be NULL");
	free(s);
	err_clear(&e);
	len = 7;
	s = read_file(P("hundred"), 99, &len, &e);
	ok(s == NULL, "read_file over the cap fails");
	is_int(e.code, EX_USAGE_, "with EX_USAGE_");
	snprintf(want, sizeof(want), "'%s' is larger than the 99-byte limit",
	    P("hundred"));
	is_str(e.msg, want, "saying so");
	free(s);
	s = read_file(P("hundred"), 1, &len, &e);
	ok(s == NULL, "cap 1 too");
	free(s);

	put(P("empty"), "");
	len = 7;
	s = read_file(P("empty"), 10, &len, &e);
	ok(s && *s == '\0' && len == 0, "an empty file is \"\"");
	free(s);

	err_clear(&e);
	s = read_file(P("missing"), 10, &len, &e);
	ok(s == NULL, "a missing file fails");
	is_int(e.code, EX_IOERR_, "with EX_IOERR_");
	like(e.msg, strerror(ENOENT), "saying why");
	like(e.msg, P("missing"), "and naming it");

	err_clear(&e);
	s = read_file(dir, 10, &len, &e);
	ok(s == NULL, "a directory fails");
	is_int(e.code, EX_IOERR_, "with EX_IOERR_");
	like(e.msg, strerror(EISDIR), "saying why");
}

static void
test_exists(void)
{
	ok(path_exists(dir), "path_exists on a dir");
	ok(path_exists(P("empty")), "path_exists on a file");
	ok(!path_exists(P("missing")), "path_exists on nothing");
	if (symlink("missing", P("dangling")) == 0)
		ok(path_exists(P("dangling")), "path_exists on a dangling symlink");
	else
		ok(0, "symlink: %s", strerror(errno));
}

static void
test_append(void)
{
	struct rlimit old, lim;
	struct stat st;
	struct err e;
	char want[256], *text;
	void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
	int fd = open(P("journal"), O_RDWR | O_APPEND | O_CREAT, 0644);

	err_clear(&e);
	is_int(append_whole(fd, P("journal"), "one\n", 4, &e), 0, "append_whole appends");
	/* A file size limit cuts the next write short, as a full disk does:
	 * what went in is taken back out. */
	if (getrlimit(RLIMIT_FSIZE, &old) == 0) {
		lim = old;
		lim.rlim_cur = 10;
		setrlimit(RLIMIT_FSIZE, &lim);
		is_int(append_whole(fd, P("journal"), "two, cut short\n", 15, &e), -1,
		    "append_whole cut short fails");
		setrlimit(RLIMIT_FSIZE, &old);
		snprintf(want, sizeof(want), "cannot append to '%s': %s", P("journal"),
		    strerror(EFBIG));
		is_str(e.msg, want, "says why");
		ok(fstat(fd, &st) == 0 && st.st_size == 4, "the part written is taken back");
	}
	signal(SIGXFSZ, oldsig);
	is_int(append_whole(fd, P("journal"), "three\n", 6, &e), 0, "the next append is whole");
	close(fd);
	text = read_file(P("journal"), 0, NULL, &e);
	is_str(text, "one\nthree\n", "no torn record between them");
	free(text);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");

	umask(022);
	snprintf(dir, sizeof(dir), "%s/fsutil.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return done_testing();
	}
	test_atomic_write();
	test_mkdir();
	test_lock();
	test_read();
	test_exists();
	test_append();
	rm_rf(dir);
	ok(!path_exists(dir), "scratch directory removed");
	return done_testing();
}
