/*
 * git: git as a child through core/proc, and the source facts.
 * See git.h for the contract.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/encode.h"
#include "core/fsutil.h"
#include "core/git.h"
#include "core/log.h"
#include "core/proc.h"

/* "git" and args, as a vector of our own: no limit on their number. */
static char **
git_argv(const char *const *args)
{
	char **argv = strv_push(NULL, "git");
	size_t i;

	for (i = 0; args[i]; i++)
		argv = strv_push(argv, args[i]);
	return argv;
}

/* git's stderr as one line of ours: its lines joined by "; ". */
static void
join_lines(char *out, size_t outsz, const char *raw)
{
	size_t n = strlen(raw), i, o = 0;

	while (n && (raw[n - 1] == '\n' || raw[n - 1] == '\r' || raw[n - 1] == ' '))
		n--;
	for (i = 0; i < n && o + 3 < outsz; i++) {
		if (raw[i] == '\n') {
			out[o++] = ';';
			out[o++] = ' ';
		} else if (raw[i] != '\r') {
			out[o++] = raw[i];
		}
	}
	out[o] = '\0';
}

static void
trim_newlines(char *s, size_t *len)
{
	while (*len && (s[*len - 1] == '\n' || s[*len - 1] == '\r'))
		s[--*len] = '\0';
}

int
gitx_run(struct gitx *g, const char *const *args, size_t cap, struct err *e)
{
	struct proc_spec spec;
	struct proc_result r;
	struct err pe;
	char **argv = git_argv(args);
	int rc;

	memset(g, 0, sizeof(*g));
	g->status = -1;
	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	spec.out_cap = cap ? cap : GIT_CAPTURE_MAX;
	err_clear(&pe);
	rc = proc_capture(&spec, &r, &pe);
	strv_free(argv);
	if (rc == -1 && r.status == -1) {
		if (e)
			*e = pe;
		proc_result_free(&r);
		return -1;
	}
	if (r.exec_errno) {
		proc_result_free(&r);
		return err_set(e, EX_USAGE_, "cannot run git: %s", strerror(r.exec_errno));
	}
	if (r.overflowed) {
		proc_result_free(&r);
		return err_set(e, EX_IOERR_, "'git %s' printed more than %zu bytes",
		    args[0] ? args[0] : "", spec.out_cap);
	}
	/* Otherwise an answer: an exit status, or killed (status -1). */
	g->status = rc == 0 ? r.status : -1;
	join_lines(g->err, sizeof(g->err), r.err);
	g->out = r.out;
	g->len = r.out_len;
	r.out = NULL;
	trim_newlines(g->out, &g->len);
	proc_result_free(&r);
	return 0;
}

/* gitx_each(): git's stdout cut into records on the way in. */
struct records {
	const char *cmd;	/* git's subcommand, for messages */
	int delim;
	struct buf rec;		/* the record so far, at most GIT_RECORD_MAX */
	int (*fn)(void *ctx, char *rec, size_t len, struct err *e);
	void *ctx;
	struct err *e;
	int rc;			/* -1 once stopped: the rest is discarded */
};

static void
take_record(struct records *k)
{
	if (k->fn(k->ctx, k->rec.data, k->rec.len, k->e) < 0)
		k->rc = -1;
	buf_reset(&k->rec);
}

static void
on_git_out(void *ctx, const char *data, size_t len)
{
	struct records *k = ctx;
	const char *end = data + len, *d;

	while (k->rc == 0 && data < end) {
		d = memchr(data, k->delim, (size_t)(end - data));
		if (buf_add(&k->rec, data, (size_t)((d ? d : end) - data)) == -1) {
			k->rc = err_set(k->e, EX_IOERR_, "'git %s' printed a record "
			    "longer than %u bytes", k->cmd, GIT_RECORD_MAX);
			return;
		}
		if (!d)
			return;
		take_record(k);
		data = d + 1;
	}
}

int
gitx_each(struct gitx *g, const char *const *args, int delim,
    int (*fn)(void *ctx, char *rec, size_t len, struct err *e), void *ctx,
    struct err *e)
{
	struct proc_spec spec;
	struct records k;
	struct proc p;
	char **argv = git_argv(args);
	char *tail;
	int rc;

	memset(g, 0, sizeof(*g));
	g->status = -1;
	memset(&k, 0, sizeof(k));
	k.cmd = args[0] ? args[0] : "";
	k.delim = delim;
	buf_init(&k.rec, GIT_RECORD_MAX);
	k.fn = fn;
	k.ctx = ctx;
	k.e = e;
	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	spec.on_out = on_git_out;
	spec.on_out_ctx = &k;
	rc = proc_run(&p, &spec, e);
	strv_free(argv);
	if (rc == 0 && p.exec_errno)
		rc = err_set(e, EX_USAGE_, "cannot run git: %s", strerror(p.exec_errno));
	if (rc == 0) {
		/* A last record without its delimiter is a record too. */
		if (k.rc == 0 && k.rec.len > 0)
			take_record(&k);
		rc = k.rc;
		g->status = proc_exit_code(&p);
		tail = ring_lines(&p.tail, INT_MAX);
		join_lines(g->err, sizeof(g->err), tail);
		free(tail);
	}
	proc_free(&p);
	buf_free(&k.rec);
	return rc;
}

void
gitx_free(struct gitx *g)
{
	free(g->out);
	g->out = NULL;
	g->len = 0;
}

int
gitx_true(const char *const *args)
{
	struct gitx g;
	int yes;

	if (gitx_run(&g, args, 4096, NULL) < 0)
		return 0;
	yes = g.status == 0 && g.out && !strcmp(g.out, "true");
	gitx_free(&g);
	return yes;
}

/*
 * Whether git could find a work tree from here: GIT_DIR or GIT_WORK_TREE
 * set, or a ".git" in the current directory or one above it.  Without
 * any, git would answer "not inside a work tree"; not asking it saves a
 * process (10 ms and more on a busy runner) to a stage outside a
 * repository.  When in doubt (a path too long, a .git we cannot look
 * at), git is asked.
 */
static int
maybe_work_tree(void)
{
	char dir[PATH_MAX], path[PATH_MAX + 8], *slash;
	struct stat st;
	size_t n;

	if (getenv("GIT_DIR") || getenv("GIT_WORK_TREE") || !getcwd(dir, sizeof(dir)))
		return 1;
	for (;;) {
		n = strlen(dir);
		snprintf(path, sizeof(path), "%s/.git", n > 1 ? dir : "");
		if (lstat(path, &st) == 0 || (errno != ENOENT && errno != ENOTDIR))
			return 1;
		if (n <= 1 || !(slash = strrchr(dir, '/')))
			return 0;
		slash[slash == dir] = '\0';
	}
}

int
gitx_in_work_tree(void)
{
	static const char *const args[] = { "rev-parse", "--is-inside-work-tree", NULL };

	return maybe_work_tree() && gitx_true(args);
}

char *
git_capture(const char *const *args, int *status)
{
	struct gitx g;

	if (status)
		*status = -1;
	if (gitx_run(&g, args, GIT_CAPTURE_MAX, NULL) == -1)
		return NULL;
	if (status)
		*status = g.status;
	if (g.status != 0) {
		gitx_free(&g);
		return NULL;
	}
	return g.out;
}

/*
 * The source facts read from .git directly, without running git: in a
 * plain repository (or a linked work tree) the six questions above cost
 * six processes, some 30 ms of a warm build.  The reader answers only
 * what it understands exactly as git would; anything else (a GIT_*
 * variable that changes where git looks, an include in a config file, a
 * bare or reftable or SHA-256 repository, replace refs, a commit stored
 * as a delta, a repository owned by another user...) makes it decline,
 * and git is asked as before.
 */

#define GD_DECLINE	(-1)
#define GD_OUTSIDE	0
#define GD_ANSWERED	1
#define GD_OID_HEX	40

/* The variables that leave git's answers as they are (others: decline). */
static int
harmless_git_var(const char *name)
{
	static const char *const ok[] = {
		"GIT_AUTHOR_", "GIT_COMMITTER_", "GIT_CONFIG_NOSYSTEM=", "GIT_CEILING_DIRECTORIES=",
		"GIT_TERMINAL_PROMPT=", "GIT_SSH=", "GIT_SSH_COMMAND=", "GIT_ASKPASS=",
		"GIT_PAGER=", "GIT_EDITOR=", "GIT_TRACE", "GIT_HTTP_", "GIT_SSL_", "GIT_LFS_",
		NULL
	};
	size_t i;

	for (i = 0; ok[i]; i++)
		if (!strncmp(name, ok[i], strlen(ok[i])))
			return 1;
	return 0;
}

static int
git_env_plain(void)
{
	extern char **environ;
	char **v;

	for (v = environ; v && *v; v++)
		if (!strncmp(*v, "GIT_", 4) && !harmless_git_var(*v))
			return 0;
	return 1;
}

/* Length of the longest GIT_CEILING_DIRECTORIES entry that is a proper
 * ancestor of dir (0: none); -1 when the list is one we do not follow. */
static long
ceiling_len(const char *dir)
{
	const char *list = getenv("GIT_CEILING_DIRECTORIES"), *p, *colon;
	char entry[PATH_MAX], real[PATH_MAX];
	size_t n, best = 0;

	if (!list)
		return 0;
	for (p = list; ; p = colon + 1) {
		colon = strchr(p, ':');
		n = colon ? (size_t)(colon - p) : strlen(p);
		if (n == 0 || n >= sizeof(entry))
			return -1;
		memcpy(entry, p, n);
		entry[n] = '\0';
		if (entry[0] == '/' && realpath(entry, real)) {
			n = strlen(real);
			if (n == 1)
				n = 0;	/* "/": the walk may look at / itself? keep git's answer */
			if (n == 0)
				return -1;
			if (!strncmp(dir, real, n) && dir[n] == '/' && n > best)
				best = n;
		}
		if (!colon)
			break;
	}
	return (long)best;
}

/* A small file of dir, NUL-terminated, trailing blanks removed; NULL when
 * it is not there, too big or unreadable (errno set). */
static char *
gd_slurp(const char *dir, const char *name, size_t cap)
{
	char path[PATH_MAX];
	char *text;
	size_t len;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	errno = 0;
	text = read_file(path, cap, &len, NULL);
	if (!text) {
		if (errno == 0)
			errno = EFBIG;
		return NULL;
	}
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' ' || text[len - 1] == '\t'))
		text[--len] = '\0';
	if (strlen(text) != len) {
		free(text);
		errno = EINVAL;
		return NULL;
	}
	return text;
}

static int
is_oid(const char *s)
{
	size_t i;

	for (i = 0; i < GD_OID_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/*
 * A ref name git itself would follow (git check-ref-format's rules): no
 * component that starts with '.' or ends with ".lock", no "..", "//" or
 * "@{", no control character, space or any of ~^:?*[\, and no '/' or
 * '.' at the end.  Anything else ("refs/heads/../../x", say) would read
 * a file outside refs/: the reader declines and git is asked.
 */
static int
ref_name_ok(const char *ref)
{
	const char *p, *comp = ref;
	size_t n;

	if (!*ref || !strcmp(ref, "@"))
		return 0;
	for (p = ref;; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '/' || c == '\0') {
			n = (size_t)(p - comp);
			if (n == 0 || comp[0] == '.' ||
			    (n >= 5 && !memcmp(p - 5, ".lock", 5)))
				return 0;
			if (c == '\0')
				break;
			comp = p + 1;
			continue;
		}
		if (c < 0x20 || c == 0x7f || strchr(" ~^:?*[\\", c) ||
		    (c == '.' && p[1] == '.') || (c == '@' && p[1] == '{'))
			return 0;
	}
	return p[-1] != '.';
}

/* path relative to base made absolute into out. */
static int
gd_join(char *out, const char *base, const char *path)
{
	char tmp[PATH_MAX];
	int n;

	n = path[0] == '/' ? snprintf(tmp, sizeof(tmp), "%s", path) :
	    snprintf(tmp, sizeof(tmp), "%s/%s", base, path);
	if (n < 0 || n >= (int)sizeof(tmp) || !realpath(tmp, out))
		return -1;
	return 0;
}

struct gd {
	char top[PATH_MAX];	/* the work tree */
	char git[PATH_MAX];	/* its git directory (HEAD) */
	char common[PATH_MAX];	/* refs, objects, config */
	char *url;		/* the last remote.origin.url seen */
};

/*
 * One config file, as git reads it, for the few keys that matter:
 * remote.origin.url (the last one wins), and those that make us decline
 * (includes, extensions, core.bare true, core.worktree).  Returns 0, or
 * GD_DECLINE on anything it does not follow.
 */
static int
gd_config(struct gd *g, const char *path)
{
	char *text, *p, sect[64], sub[256], key[64];
	struct buf val;
	size_t len, n;
	int rc = GD_DECLINE, quote, space;

	errno = 0;
	text = read_file(path, 1 << 20, &len, NULL);
	if (!text)
		return errno == ENOENT || errno == ENOTDIR ? 0 : GD_DECLINE;
	if (strlen(text) != len || memchr(text, '\r', len))
		goto out;
	sect[0] = sub[0] = '\0';
	buf_init(&val, 1 << 20);
	for (p = text; *p; ) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		if (*p == '#' || *p == ';') {
			while (*p && *p != '\n')
				p++;
			continue;
		}
		if (*p == '[') {
			for (p++, n = 0; isalnum((unsigned char)*p) || *p == '-'; p++) {
				if (n + 1 >= sizeof(sect))
					goto bad;
				sect[n++] = (char)tolower((unsigned char)*p);
			}
			sect[n] = '\0';
			sub[0] = '\0';
			if (n == 0)
				goto bad;
			if (*p == ' ' || *p == '\t') {
				while (*p == ' ' || *p == '\t')
					p++;
				if (*p++ != '"')
					goto bad;
				for (n = 0; *p != '"'; p++) {
					if (!*p || *p == '\n' || *p == '\\' || n + 1 >= sizeof(sub))
						goto bad;
					sub[n++] = *p;
				}
				sub[n] = '\0';
				p++;
			}
			if (*p++ != ']')
				goto bad;
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p && *p != '\n')
				goto bad;
			if (!strcmp(sect, "include") || !strcmp(sect, "includeif") ||
			    !strcmp(sect, "extensions"))
				goto bad;
			continue;
		}
		if (!sect[0] || !isalpha((unsigned char)*p))
			goto bad;
		for (n = 0; isalnum((unsigned char)*p) || *p == '-'; p++) {
			if (n + 1 >= sizeof(key))
				goto bad;
			key[n++] = (char)tolower((unsigned char)*p);
		}
		key[n] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '=')
			goto bad;	/* a key with no value: not one we need */
		p++;
		buf_reset(&val);
		quote = 0;
		space = 0;
		for (;; p++) {
			if (!*p || *p == '\n') {
				if (quote)
					goto bad;
				break;
			}
			if ((*p == ' ' || *p == '\t') && !quote) {
				if (val.len)
					space++;
				continue;
			}
			if (!quote && (*p == ';' || *p == '#')) {
				while (*p && *p != '\n')
					p++;
				break;
			}
			for (; space; space--)
				buf_addc(&val, ' ');
			if (*p == '\\') {
				p++;
				if (*p == 't')
					buf_addc(&val, '\t');
				else if (*p == 'b')
					buf_addc(&val, '\b');
				else if (*p == '\\' || *p == '"')
					buf_addc(&val, *p);
				else
					goto bad;	/* a continuation line, \n: decline */
				continue;
			}
			if (*p == '"') {
				quote = !quote;
				continue;
			}
			buf_addc(&val, *p);
		}
		if (!strcmp(sect, "remote") && !strcmp(sub, "origin") && !strcmp(key, "url")) {
			free(g->url);
			g->url = xstrdup(buf_str(&val));
		} else if (!strcmp(sect, "core") && !sub[0] && !strcmp(key, "bare")) {
			if (strcmp(buf_str(&val), "false") && strcmp(buf_str(&val), "0"))
				goto bad;
		} else if (!strcmp(sect, "core") && !sub[0] && !strcmp(key, "worktree")) {
			goto bad;
		}
	}
	rc = 0;
bad:
	buf_free(&val);
out:
	free(text);
	return rc;
}

/* Find the work tree and its git directories from the current directory
 * up, as git's discovery does. */
static int
gd_find(struct gd *g)
{
	char dir[PATH_MAX], path[PATH_MAX + 64], *slash, *t;
	struct stat st, top;
	dev_t dev;
	long ceil;
	size_t n;

	if (!getcwd(dir, sizeof(dir)) || stat(dir, &st) != 0)
		return GD_DECLINE;
	dev = st.st_dev;
	if ((ceil = ceiling_len(dir)) < 0)
		return GD_DECLINE;
	for (;;) {
		n = strlen(dir);
		slash = strrchr(dir, '/');
		if (slash && !strcmp(slash, "/.git"))
			return GD_DECLINE;	/* inside a git directory */
		snprintf(path, sizeof(path), "%s/.git", n > 1 ? dir : "");
		if (lstat(path, &st) == 0)
			break;
		if (errno != ENOENT && errno != ENOTDIR)
			return GD_DECLINE;
		snprintf(path, sizeof(path), "%s/HEAD", n > 1 ? dir : "");
		if (lstat(path, &st) == 0 || errno != ENOENT)
			return GD_DECLINE;	/* maybe a bare repository */
		if (n <= 1 || !slash)
			return GD_OUTSIDE;
		slash[slash == dir] = '\0';
		if ((long)strlen(dir) <= ceil)
			return GD_OUTSIDE;
		if (stat(dir, &st) != 0 || st.st_dev != dev)
			return GD_DECLINE;
	}
	if (snprintf(g->top, sizeof(g->top), "%s", dir) >= (int)sizeof(g->top) ||
	    stat(g->top, &top) != 0 || top.st_uid != geteuid())
		return GD_DECLINE;
	if (S_ISDIR(st.st_mode)) {
		if (!realpath(path, g->git))
			return GD_DECLINE;
	} else if (S_ISREG(st.st_mode)) {
		t = gd_slurp(g->top, ".git", 4096);
		if (!t || strncmp(t, "gitdir: ", 8) || gd_join(g->git, g->top, t + 8) < 0) {
			free(t);
			return GD_DECLINE;
		}
		free(t);
	} else {
		return GD_DECLINE;
	}
	t = gd_slurp(g->git, "commondir", 4096);
	if (t) {
		if (gd_join(g->common, g->git, t) < 0) {
			free(t);
			return GD_DECLINE;
		}
		free(t);
	} else if (errno == ENOENT) {
		snprintf(g->common, sizeof(g->common), "%s", g->git);
	} else {
		return GD_DECLINE;
	}
	if (stat(g->git, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    stat(g->common, &st) != 0 || !S_ISDIR(st.st_mode))
		return GD_DECLINE;
	snprintf(path, sizeof(path), "%s/objects", g->common);
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return GD_DECLINE;
	snprintf(path, sizeof(path), "%s/refs/replace", g->common);
	if (lstat(path, &st) == 0 || errno != ENOENT)
		return GD_DECLINE;
	return GD_ANSWERED;
}

/* The config files git reads, in its order. */
static int
gd_configs(struct gd *g)
{
	const char *home = getenv("HOME"), *xdg = getenv("XDG_CONFIG_HOME");
	const char *nosys = getenv("GIT_CONFIG_NOSYSTEM");
	char path[PATH_MAX + 64];

	if (!nosys || !*nosys || !strcmp(nosys, "0") || !strcmp(nosys, "false")) {
		if (nosys && *nosys)
			return GD_DECLINE;
		if (gd_config(g, "/etc/gitconfig") < 0)
			return GD_DECLINE;
	} else if (strcmp(nosys, "1") && strcmp(nosys, "true")) {
		return GD_DECLINE;
	}
	if (!home || !*home || strlen(home) > PATH_MAX || (xdg && strlen(xdg) > PATH_MAX))
		return GD_DECLINE;
	if (xdg && *xdg)
		snprintf(path, sizeof(path), "%s/git/config", xdg);
	else
		snprintf(path, sizeof(path), "%s/.config/git/config", home);
	if (gd_config(g, path) < 0)
		return GD_DECLINE;
	snprintf(path, sizeof(path), "%s/.gitconfig", home);
	if (gd_config(g, path) < 0)
		return GD_DECLINE;
	snprintf(path, sizeof(path), "%s/config", g->common);
	return gd_config(g, path) < 0 ? GD_DECLINE : 0;
}

/* The object name ref points at into oid (NUL: no such ref). */
static int
gd_resolve(const struct gd *g, const char *ref, char oid[GD_OID_HEX + 1])
{
	char *t, *line, *next;
	size_t n = strlen(ref);
	int rc = 0;

	oid[0] = '\0';
	t = gd_slurp(g->common, ref, 4096);
	if (t) {
		if (strlen(t) != GD_OID_HEX || !is_oid(t))
			rc = GD_DECLINE;
		else
			memcpy(oid, t, GD_OID_HEX + 1);
		free(t);
		return rc;
	}
	if (errno != ENOENT && errno != ENOTDIR)
		return GD_DECLINE;
	t = gd_slurp(g->common, "packed-refs", 64u << 20);
	if (!t)
		return errno == ENOENT ? 0 : GD_DECLINE;
	for (line = t; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (*line == '#' || *line == '^')
			continue;
		if (strlen(line) < GD_OID_HEX + 2 || !is_oid(line) || line[GD_OID_HEX] != ' ') {
			rc = GD_DECLINE;
			break;
		}
		if (!strncmp(line + GD_OID_HEX + 1, "refs/replace/", 13)) {
			rc = GD_DECLINE;
			break;
		}
		if (!strncmp(line + GD_OID_HEX + 1, ref, n) && line[GD_OID_HEX + 1 + n] == '\0') {
			memcpy(oid, line, GD_OID_HEX);
			oid[GD_OID_HEX] = '\0';
		}
	}
	free(t);
	if (rc < 0)
		oid[0] = '\0';
	return rc;
}

/* Inflate the start of a zlib stream: at most cap - 1 bytes, NUL-ended. */
static size_t
gd_inflate(const unsigned char *in, size_t inlen, char *out, size_t cap)
{
	z_stream z;
	int zr;
	size_t n;

	memset(&z, 0, sizeof(z));
	if (inflateInit(&z) != Z_OK)
		return 0;
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)inlen;
	z.next_out = (unsigned char *)out;
	z.avail_out = (uInt)(cap - 1);
	zr = inflate(&z, Z_SYNC_FLUSH);
	n = (zr == Z_OK || zr == Z_STREAM_END || zr == Z_BUF_ERROR) ? cap - 1 - z.avail_out : 0;
	inflateEnd(&z);
	out[n] = '\0';
	return n;
}

#define GD_READ	(64 * 1024)

/* The start of object oid from a pack, when it is stored whole as a
 * commit; 0 when it is not in this pack, GD_DECLINE when not readable. */
static int
gd_from_pack(const char *idxpath, const unsigned char bin[20], char *out, size_t cap, size_t *len)
{
	unsigned char head[8 + 256 * 4], *buf = NULL, *q;
	char packpath[PATH_MAX];
	uint32_t lo, hi, mid, nobj;
	uint64_t off;
	struct stat st;
	unsigned char *map = MAP_FAILED;
	size_t maplen = 0;
	int fd, rc = GD_DECLINE, c;
	ssize_t got;

	if ((fd = open(idxpath, O_RDONLY | O_CLOEXEC)) < 0)
		return GD_DECLINE;
	if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(head) ||
	    pread(fd, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
	    memcmp(head, "\377tOc\0\0\0\2", 8))
		goto out;
#define BE32(p) ((uint32_t)(p)[0] << 24 | (uint32_t)(p)[1] << 16 | (uint32_t)(p)[2] << 8 | (p)[3])
	nobj = BE32(head + 8 + 255 * 4);
	hi = BE32(head + 8 + bin[0] * 4);
	lo = bin[0] ? BE32(head + 8 + (bin[0] - 1) * 4) : 0;
	maplen = (size_t)st.st_size;
	if ((uint64_t)maplen < sizeof(head) + (uint64_t)nobj * 28 + 40 || lo > hi || hi > nobj)
		goto out;
	map = mmap(NULL, maplen, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		goto out;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = memcmp(map + sizeof(head) + (size_t)mid * 20, bin, 20);
		if (c == 0)
			break;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo >= hi) {
		rc = 0;
		goto out;
	}
	q = map + sizeof(head) + (size_t)nobj * 24 + (size_t)mid * 4;
	off = BE32(q);
	if (off & 0x80000000u) {
		q = map + sizeof(head) + (size_t)nobj * 28 + (size_t)(off & 0x7fffffffu) * 8;
		if (q + 8 > map + maplen - 40)
			goto out;
		off = (uint64_t)BE32(q) << 32 | BE32(q + 4);
	}
#undef BE32
	snprintf(packpath, sizeof(packpath), "%.*s.pack", (int)(strlen(idxpath) - 4), idxpath);
	close(fd);
	if ((fd = open(packpath, O_RDONLY | O_CLOEXEC)) < 0)
		return GD_DECLINE;
	buf = xmalloc(GD_READ);
	got = pread(fd, buf, GD_READ, (off_t)off);
	if (got < 2 || ((buf[0] >> 4) & 7) != 1)
		goto out;	/* not a whole commit (a delta): git is asked */
	for (q = buf; *q & 0x80; q++)
		if (q - buf >= 10 || q + 1 >= buf + got)
			goto out;
	q++;
	*len = gd_inflate(q, (size_t)(got - (q - buf)), out, cap);
	rc = *len ? 1 : GD_DECLINE;
out:
	if (map != MAP_FAILED)
		munmap(map, maplen);
	free(buf);
	close(fd);
	return rc;
}

/* HEAD's committer time, from the commit's header. */
static int
gd_commit_time(const struct gd *g, const char *oid, long long *when)
{
	char path[PATH_MAX + NAME_MAX + 64], text[16384], *p, *end, *gt;
	unsigned char bin[20], raw[GD_READ];
	struct dirent *de;
	size_t len = 0, i;
	ssize_t got;
	int fd, rc = 0;
	DIR *d;

	{
		unsigned char *b = NULL;
		size_t blen = 0;

		if (hex_decode(oid, GD_OID_HEX, &b, &blen) < 0 || blen != 20) {
			free(b);
			return GD_DECLINE;
		}
		memcpy(bin, b, 20);
		free(b);
	}
	snprintf(path, sizeof(path), "%s/objects/%.2s/%s", g->common, oid, oid + 2);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		got = read(fd, raw, sizeof(raw));
		close(fd);
		if (got <= 0)
			return GD_DECLINE;
		len = gd_inflate(raw, (size_t)got, text, sizeof(text));
		if (len < 7 || strncmp(text, "commit ", 7) || !(p = memchr(text, '\0', len)))
			return GD_DECLINE;
		p++;
	} else {
		if (errno != ENOENT)
			return GD_DECLINE;
		snprintf(path, sizeof(path), "%s/objects/pack", g->common);
		if (!(d = opendir(path)))
			return GD_DECLINE;
		while (rc == 0 && (de = readdir(d))) {
			i = strlen(de->d_name);
			if (i < 5 || strcmp(de->d_name + i - 4, ".idx"))
				continue;
			snprintf(path, sizeof(path), "%s/objects/pack/%s", g->common, de->d_name);
			rc = gd_from_pack(path, bin, text, sizeof(text), &len);
		}
		closedir(d);
		if (rc != 1)
			return GD_DECLINE;	/* not found: alternates, a promisor */
		p = text;
	}
	if (strncmp(p, "tree ", 5))
		return GD_DECLINE;
	for (;;) {
		end = strchr(p, '\n');
		if (!end || end == p)
			return GD_DECLINE;	/* the header ended, or we have not all of it */
		if (!strncmp(p, "committer ", 10))
			break;
		p = end + 1;
	}
	*end = '\0';
	gt = strrchr(p, '>');
	if (!gt || gt[1] != ' ' || !isdigit((unsigned char)gt[2]))
		return GD_DECLINE;
	for (p = gt + 2, i = 0; isdigit((unsigned char)*p); p++, i++)
		;
	if (i > 15 || *p != ' ' || (p[1] != '+' && p[1] != '-') || strlen(p + 2) != 4 ||
	    strspn(p + 2, "0123456789") != 4)
		return GD_DECLINE;
	*when = strtoll(gt + 2, NULL, 10);
	return GD_ANSWERED;
}

static int
git_source_direct(struct git_source *s)
{
	struct gd g;
	char oid[GD_OID_HEX + 1], *head, *ref = NULL;
	long long when = -1;
	int rc;

	if (!git_env_plain())
		return GD_DECLINE;
	memset(&g, 0, sizeof(g));
	if ((rc = gd_find(&g)) != GD_ANSWERED)
		return rc;
	rc = GD_DECLINE;
	if (gd_configs(&g) < 0 || (g.url && (!*g.url || strchr(g.url, '\n'))))
		goto out;
	head = gd_slurp(g.git, "HEAD", 4096);
	if (!head)
		goto out;
	if (!strncmp(head, "ref: refs/heads/", 16)) {
		ref = xstrdup(head + 5);
		free(head);
		if (!ref_name_ok(ref) || gd_resolve(&g, ref, oid) < 0)
			goto out;
	} else if (strlen(head) == GD_OID_HEX && is_oid(head)) {
		memcpy(oid, head, sizeof(oid));
		free(head);
	} else {
		free(head);
		goto out;
	}
	if (oid[0] && gd_commit_time(&g, oid, &when) != GD_ANSWERED)
		goto out;
	if (g.url) {
		s->repository = url_redact(g.url);
	} else {
		s->repository = xstrdup(g.top);
	}
	if (oid[0]) {
		s->commit = xstrdup(oid);
		s->ref = ref ? ref : xstrdup("HEAD");
		ref = NULL;
		s->commit_time = when;
	}
	rc = GD_ANSWERED;
out:
	free(ref);
	free_secret(g.url);
	return rc;
}

int
git_source_read(struct git_source *s, struct err *e)
{
	static const char *const inside[] = { "rev-parse", "--is-inside-work-tree", NULL };
	static const char *const url[] = { "config", "--get", "remote.origin.url", NULL };
	static const char *const top[] = { "rev-parse", "--show-toplevel", NULL };
	static const char *const head[] = { "rev-parse", "--verify", "-q", "HEAD^{commit}", NULL };
	static const char *const ref[] = { "symbolic-ref", "-q", "HEAD", NULL };
	static const char *const when[] = { "log", "-1", "--format=%ct", "HEAD", NULL };
	struct gitx g;
	char *t;
	int yes;

	memset(s, 0, sizeof(*s));
	s->commit_time = -1;
	switch (git_source_direct(s)) {
	case GD_ANSWERED:
		return 0;
	case GD_OUTSIDE:
		return err_set(e, EX_USAGE_, "not inside a git work tree");
	}
	if (!maybe_work_tree())
		return err_set(e, EX_USAGE_, "not inside a git work tree");
	if (gitx_run(&g, inside, 4096, e) == -1)
		return -1;
	yes = g.status == 0 && !strcmp(g.out, "true");
	gitx_free(&g);
	if (!yes)
		return err_set(e, EX_USAGE_, "not inside a git work tree");
	s->repository = git_capture(url, NULL);
	if (s->repository) {
		/* An origin may carry a token (GitLab's CI_REPOSITORY_URL does). */
		t = url_redact(s->repository);
		free_secret(s->repository);
		s->repository = t;
	} else {
		s->repository = git_capture(top, NULL);
	}
	s->commit = git_capture(head, NULL);
	if (!s->commit)
		return 0;
	s->ref = git_capture(ref, NULL);
	if (!s->ref)
		s->ref = xstrdup("HEAD");
	t = git_capture(when, NULL);
	if (t) {
		char *end;
		long long v = strtoll(t, &end, 10);

		if (end != t && *end == '\0')
			s->commit_time = v;
		free(t);
	}
	return 0;
}

void
git_source_free(struct git_source *s)
{
	free(s->repository);
	free(s->commit);
	free(s->ref);
	memset(s, 0, sizeof(*s));
}
