/* The .git reader: core/git's git_source_read() in a work tree the input
 * describes, read directly from HEAD, refs, packed-refs, the config files
 * and the commit's loose object or pack.
 *
 * The input is a list of files under the work tree w/, each a line
 * "== PATH" and the bytes that follow, up to the newline before the next
 * "== " at the start of a line (or the end).  A PATH ending in "/" is a
 * directory; parents are made as needed.  A line "=> PATH" instead makes
 * the reader start from that directory of w/ (w/ itself otherwise).
 * PATH is letters, digits and "._-/", no "." or ".." part.  HOME is w/home
 * (so home/.gitconfig is read), the system config is off, the walk up
 * stops at w/, and PATH names no directory: when the reader declines, the
 * fallback finds no git and fails at once, rather than running one per
 * input. */
#include "core/git.h"
#include "fuzz.h"

static int home_fd = -1;

/* Whether p (n bytes) is a path we make: safe characters, no empty, "."
 * or ".." part but a final "/" (a directory). */
static int
fuzz_git_path(const char *p, size_t n)
{
	size_t i, part = 0;

	if (n == 0 || n > 200 || p[0] == '/')
		return 0;
	for (i = 0; i <= n; i++) {
		if (i == n || p[i] == '/') {
			if (i == n && p[i - 1] == '/')
				break;
			if (i == part || (i - part == 1 && p[part] == '.') ||
			    (i - part == 2 && p[part] == '.' && p[part + 1] == '.'))
				return 0;
			part = i + 1;
			continue;
		}
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9') || p[i] == '.' || p[i] == '_' || p[i] == '-'))
			return 0;
	}
	return 1;
}

/* Make the directories of path (a relative one under the current
 * directory), the last too when dir is set; where a file is in the way,
 * the input simply loses that entry. */
static void
fuzz_git_mkdirs(char *path, int dir)
{
	char *s;

	for (s = path; (s = strchr(s, '/')); s++) {
		*s = '\0';
		(void)mkdir(path, 0700);
		*s = '/';
	}
	if (dir && path[0])
		(void)mkdir(path, 0700);
}

static void
fuzz_git_env(void)
{
	extern char **environ;
	char buf[4200], *names[64];
	size_t i, n = 0;
	char **v;

	for (v = environ; v && *v && n < 64; v++)
		if (!strncmp(*v, "GIT_", 4) && strchr(*v, '='))
			names[n++] = strndup(*v, (size_t)(strchr(*v, '=') - *v));
	for (i = 0; i < n; i++) {
		unsetenv(names[i]);
		free(names[i]);
	}
	unsetenv("XDG_CONFIG_HOME");
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CEILING_DIRECTORIES", fuzz_dir(), 1);
	snprintf(buf, sizeof(buf), "%s/w/home", fuzz_dir());
	setenv("HOME", buf, 1);
	snprintf(buf, sizeof(buf), "%s/no-git-here", fuzz_dir());
	setenv("PATH", buf, 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *end = in + size, *p, *nl, *next;
	char top[4200], path[256], cwd[256] = "";
	struct git_source s;
	struct err e = { 0, "" };
	size_t n;
	int dir;

	fuzz_init();
	if (home_fd < 0) {
		/* The driver and libFuzzer name files relative to here. */
		if ((home_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			abort();
		fuzz_git_env();
	}
	snprintf(top, sizeof(top), "%s/w", fuzz_dir());
	fuzz_rm(top);
	if (mkdir(top, 0700) < 0 || chdir(top) < 0)
		abort();
	/* The first header: at the start or after a newline. */
	for (p = in; p < end && !(end - p >= 3 && (p[0] == '=' && (p[1] == '=' || p[1] == '>') &&
	    p[2] == ' ') && (p == in || p[-1] == '\n')); p++)
		;
	while (p < end) {
		int go = p[1] == '>';

		p += 3;
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((nl ? nl : end) - p);
		/* The content: to the "\n== " or "\n=> " of the next header. */
		for (next = nl ? nl : end; next < end; next++)
			if (next[0] == '\n' && end - next >= 4 && next[1] == '=' &&
			    (next[2] == '=' || next[2] == '>') && next[3] == ' ')
				break;
		if (fuzz_git_path(p, n)) {
			memcpy(path, p, n);
			path[n] = '\0';
			dir = path[n - 1] == '/';
			if (dir)
				path[n - 1] = '\0';
			if (go) {
				fuzz_git_mkdirs(path, 1);
				snprintf(cwd, sizeof(cwd), "%s", path);
			} else if (nl) {
				struct stat st;
				int fd;

				fuzz_git_mkdirs(path, dir);
				if (!dir && (lstat(path, &st) < 0 || S_ISREG(st.st_mode))) {
					fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
					if (fd >= 0) {
						if (next > nl && write(fd, nl + 1,
						    (size_t)(next - nl - 1)) < 0)
							abort();
						close(fd);
					}
				}
			}
		}
		p = next < end ? next + 1 : end;
	}
	if (cwd[0] && chdir(cwd) < 0)
		cwd[0] = '\0';		/* a file in the way: from w/ */
	if (git_source_read(&s, &e) == 0) {
		if (s.commit && (strlen(s.commit) != 40 || !s.ref))
			abort();
	}
	git_source_free(&s);
	if (fchdir(home_fd) < 0)
		abort();
	return 0;
}
