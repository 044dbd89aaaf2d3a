/*
 * resources: CPU and memory of an instance from its cgroup (resources.h).
 */
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "core/fsutil.h"
#include "core/json.h"
#include "core/log.h"
#include "core/proc.h"
#include "core/timeutil.h"
#include "rollout/resources.h"

#define FILE_CAP (1024 * 1024)	/* /proc/stat of a big host is the largest */
#define PIDFILE_CAP 4096

/* C_ACCT is CPU time: cpuacct on v1, cpu.stat (there without a
 * controller) on v2. */
enum { C_ACCT, C_CPU, C_CPUSET, C_MEM, C_N };
static const char *const ctl_name[C_N] = { "cpuacct", "cpu", "cpuset", "memory" };

static char cg_root[PATH_MAX / 2] = "/sys/fs/cgroup";
static char proc_root[PATH_MAX / 2] = "/proc";

/* The cgroup's directory in each hierarchy (NULL: left out); its first
 * top[c] bytes are the hierarchy's root. */
struct cg {
	int v2;
	char *dir[C_N];
	size_t top[C_N];
};

void
resources_set_root(const char *sysfs_cgroup, const char *proc)
{
	snprintf(cg_root, sizeof(cg_root), "%s", sysfs_cgroup ? sysfs_cgroup : "/sys/fs/cgroup");
	snprintf(proc_root, sizeof(proc_root), "%s", proc ? proc : "/proc");
}

/* Say that path holds text (its first line, cut short) instead of what. */
static int
bad(struct err *e, const char *path, const char *what, const char *text)
{
	char got[48];
	size_t i;

	for (i = 0; i < 40 && text[i] && text[i] != '\n'; i++)
		got[i] = isprint((unsigned char)text[i]) ? text[i] : '?';
	got[i] = '\0';
	return err_set(e, EX_SERVICE, "'%s': expected %s, got '%s'", path, what, got);
}

/* Read dir/name into *text (owned), its name into path: 1; 0 when
 * optional and missing; -1. */
static int
dir_file(const char *dir, const char *name, int optional, char *path, char **text,
    struct err *e)
{
	int n = snprintf(path, PATH_MAX, "%s/%s", dir, name);

	if (n < 0 || n >= PATH_MAX)
		return err_set(e, EX_USAGE_, "path '%s/%s' is too long", dir, name);
	if (optional && !path_exists(path))
		return 0;
	return (*text = read_file(path, FILE_CAP, NULL, e)) ? 1 : -1;
}

/* The decimal number that is all of [p, end), trailing blanks aside. */
static int
ull(const char *p, const char *end, unsigned long long *v)
{
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	if (p == end)
		return -1;
	for (*v = 0; p < end; p++) {
		if (!isdigit((unsigned char)*p) || *v > (ULLONG_MAX - 9) / 10)
			return -1;
		*v = *v * 10 + (unsigned)(*p - '0');
	}
	return 0;
}

/* The number on the "KEY NUMBER [UNIT]" line of a flat keyed file. */
static int
keyed(const char *path, const char *text, const char *key, const char *unit,
    unsigned long long *v, struct err *e)
{
	size_t kl = strlen(key), ul = unit ? strlen(unit) : 0;
	const char *p, *num, *end, *rest;
	char what[64];

	for (p = text; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, kl) || p[kl] != ' ')
			continue;
		num = p + kl + strspn(p + kl, " ");
		end = num + strcspn(num, unit ? " \n" : "\n");
		rest = end + strspn(end, " ");
		if (ull(num, end, v) == 0 && (!unit || (!strncmp(rest, unit, ul) &&
		    strchr("\n", rest[ul]))))
			return 0;
		snprintf(what, sizeof(what), "'%s NUMBER%s%s'", key, unit ? " " : "",
		    unit ? unit : "");
		return bad(e, path, what, p);
	}
	return err_set(e, EX_SERVICE, "'%s': no '%s' line", path, key);
}

enum { OPTIONAL = 1, POSITIVE = 2 };

/*
 * The number in dir/name: all of the file, or with key, of its KEY line.
 * 1 with *v; 0 when the file is the word max_word ("max", "-1"), or is
 * missing and flags has OPTIONAL; -1.  POSITIVE refuses 0.
 */
static int
number(const char *dir, const char *name, const char *key, const char *max_word, int flags,
    unsigned long long *v, struct err *e)
{
	char path[PATH_MAX], what[64], *t;
	size_t ml = max_word ? strlen(max_word) : 0;
	int rc;

	if ((rc = dir_file(dir, name, flags & OPTIONAL, path, &t, e)) <= 0)
		return rc;
	if (key)
		rc = keyed(path, t, key, NULL, v, e) < 0 ? -1 : 1;
	else if (max_word && !strncmp(t, max_word, ml) && !t[ml + strspn(t + ml, " \n")])
		rc = 0;
	else if (ull(t, t + strlen(t), v) < 0 || (!*v && (flags & POSITIVE))) {
		snprintf(what, sizeof(what), "a %snumber%s%s%s",
		    flags & POSITIVE ? "positive " : "", max_word ? " or '" : "",
		    max_word ? max_word : "", max_word ? "'" : "");
		rc = bad(e, path, what, t);
	}
	free(t);
	return rc;
}

/* How many CPUs a list like "0-3,8" names; 0 when it is empty. */
static int
cpu_list(const char *path, const char *text, long *n, struct err *e)
{
	const char *p = text + strspn(text, " \n"), *what = "a CPU list like '0-3,8'";
	unsigned long a, b;
	char *end;

	*n = 0;
	if (!*p)
		return 0;
	while (isdigit((unsigned char)*p)) {
		a = b = strtoul(p, &end, 10);
		if (*end == '-' && isdigit((unsigned char)end[1]))
			b = strtoul(end + 1, &end, 10);
		if (b < a || b > 65535)
			break;
		*n += (long)(b - a + 1);
		if (*end != ',')
			return end[strspn(end, " \n")] ? bad(e, path, what, text) : 0;
		p = end + 1;
	}
	return bad(e, path, what, text);
}

/* 1 when word is one of the names in list (len bytes) between seps. */
static int
names(const char *list, size_t len, const char *seps, const char *word)
{
	size_t wl = strlen(word), i, j;

	for (i = 0; i < len; i = j + 1) {
		for (j = i; j < len && !strchr(seps, list[j]); j++)
			;
		if (j - i == wl && !strncmp(list + i, word, wl))
			return 1;
	}
	return 0;
}

static int
is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The v1 hierarchy of ctl: ROOT/ctl, else a ROOT/a,b naming it; or NULL. */
static char *
hierarchy(const char *ctl)
{
	struct dirent *de;
	char *p = xasprintf("%s/%s", cg_root, ctl), *found = NULL;
	DIR *d;

	if (is_dir(p))
		return p;
	free(p);
	if (!(d = opendir(cg_root)))
		return NULL;
	while (!found && (de = readdir(d))) {
		if (!strchr(de->d_name, ',') || !names(de->d_name, strlen(de->d_name), ",", ctl))
			continue;
		found = xasprintf("%s/%s", cg_root, de->d_name);
		if (!is_dir(found)) {
			free(found);
			found = NULL;
		}
	}
	closedir(d);
	return found;
}

/* Set the directory of controller c: hierarchy hier (owned; NULL leaves
 * it out) and cgroup path p (len bytes) from src (a file; NULL: the
 * user's), absolute, with no "." or ".." part. */
static int
set_dir(struct cg *cg, int c, char *hier, const char *p, size_t len, const char *src,
    struct err *e)
{
	const char *why = len && p[0] == '/' ? NULL : "does not start with '/'";
	size_t i, j;

	while (len > 1 && p[len - 1] == '/')
		len--;
	for (i = 1; !why && i < len; i = j + 1) {
		for (j = i; j < len && p[j] != '/'; j++)
			;
		if ((j - i == 1 && p[i] == '.') || (j - i == 2 && !strncmp(p + i, "..", 2)))
			why = "has a '.' or '..' part";
	}
	free(cg->dir[c]);
	cg->dir[c] = hier && !why ? xasprintf("%s%.*s", hier, len > 1 ? (int)len : 0, p) : NULL;
	cg->top[c] = hier ? strlen(hier) : 0;
	free(hier);
	if (why)
		return err_set(e, src ? EX_SERVICE : EX_USAGE_, "%s%s%scgroup path '%.*s' %s",
		    src ? "'" : "", src ? src : "", src ? "': " : "", (int)len, p, why);
	return 0;
}

static int
from_path(struct cg *cg, const char *p, struct err *e)
{
	size_t rl = strlen(cg_root), len;
	int c;

	/* A directory under the root: its cgroup path, without the v1
	 * hierarchy ("/sys/fs/cgroup/memory/app" is "/app"). */
	if (!strncmp(p, cg_root, rl) && (p[rl] == '/' || !p[rl])) {
		p += rl;
		len = *p ? strcspn(p + 1, "/") : 0;
		for (c = 0; !cg->v2 && len && c < C_N; c++)
			if (names(p + 1, len, ",", ctl_name[c])) {
				p += 1 + len;
				break;
			}
		if (!*p)
			p = "/";
	}
	for (c = 0; c < C_N; c++)
		if (set_dir(cg, c, cg->v2 ? xstrdup(cg_root) : hierarchy(ctl_name[c]), p, strlen(p),
		    NULL, e) < 0)
			return -1;
	return 0;
}

static int
from_pid(struct cg *cg, long pid, struct err *e)
{
	char name[32], path[PATH_MAX], *t, *line, *next, *c1, *c2;
	int c, rc, found = 0;

	snprintf(name, sizeof(name), "%ld/cgroup", pid);
	if ((rc = dir_file(proc_root, name, 1, path, &t, e)) <= 0)
		return rc ? -1 : err_set(e, EX_SERVICE, "no process %ld ('%s' does not exist)", pid,
		    path);
	for (rc = 0, line = t; rc == 0 && *line; line = next) {
		next = line + strcspn(line, "\n");
		if (*next)
			*next++ = '\0';
		if (!(c1 = strchr(line, ':')) || !(c2 = strchr(c1 + 1, ':'))) {
			rc = bad(e, path, "'ID:CONTROLLERS:PATH' lines", line);
			break;
		}
		for (c = 0; rc == 0 && c < C_N; c++)
			if (cg->v2 ? !strncmp(line, "0::", 3) :
			    names(c1 + 1, (size_t)(c2 - c1 - 1), ",", ctl_name[c])) {
				found = 1;
				rc = set_dir(cg, c, cg->v2 ? xstrdup(cg_root) :
				    hierarchy(ctl_name[c]), c2 + 1, strlen(c2 + 1), path, e);
			}
	}
	free(t);
	if (rc == 0 && cg->v2 && !found)
		return err_set(e, EX_SERVICE, "'%s': no '0::' line for cgroup v2", path);
	return rc;
}

/* A process id: decimal, positive, a pid_t. */
static int
parse_pid(const char *s, long *pid)
{
	unsigned long long v;

	if (!*s || ull(s, s + strlen(s), &v) < 0 || v == 0 || v > INT_MAX)
		return -1;
	*pid = (long)v;
	return 0;
}

static int
pidfile_pid(const char *file, long *pid, struct err *e)
{
	char *t = read_file(file, PIDFILE_CAP, NULL, e), *p;
	int rc = 0;

	if (!t) {
		e->code = EX_SERVICE;
		return err_prefix(e, "pidfile");
	}
	p = t + strspn(t, " \t\n");
	if (parse_pid(p, pid) < 0)
		rc = bad(e, file, "a process id", *p ? p : "(empty)");
	free(t);
	return rc;
}

/* The pid of container id's init, from "runc [--root DIR] state ID". */
static int
runc_pid(const char *id, const char *root, long *pid, struct err *e)
{
	char *argv[] = { "runc", "--root", (char *)root, "state", (char *)id, NULL };
	char name[300], last[200];
	struct json_opts o = { name, 0, 0 };
	struct proc_spec spec;
	struct proc_result r;
	const char *status, *p, *q;
	cJSON *j = NULL;
	long long v = 0;
	int rc;

	if (!*id || *id == '-')
		return err_set(e, EX_USAGE_, "'%s' is not a container id", id);
	if (!root || !*root) {
		argv[1] = "state";
		argv[2] = (char *)id;
		argv[3] = NULL;
	}
	snprintf(name, sizeof(name), "'runc state %s' output", id);
	memset(&spec, 0, sizeof(spec));
	spec.argv = argv;
	spec.timeout_ms = 10000;
	spec.tail_bytes = 4096;
	rc = proc_capture(&spec, &r, e);
	if (rc == 0 && r.status != 0) {
		/* runc's last line is its reason: msg="container does not exist". */
		for (q = r.err + strlen(r.err); q > r.err && isspace((unsigned char)q[-1]); q--)
			;
		for (p = q; p > r.err && p[-1] != '\n'; p--)
			;
		snprintf(last, sizeof(last), "%.*s", (int)(q - p), p);
		rc = err_set(e, EX_SERVICE, "'runc state %s' %s%s%s", id, r.how, *last ? ": " : "",
		    last);
	} else if (rc == 0 && !(j = json_parse(r.out, r.out_len, &o, NULL, e))) {
		rc = -1;
	} else if (rc == 0 && (json_get_i64(cJSON_GetObjectItemCaseSensitive(j, "pid"), &v) < 0 ||
	    v <= 0 || v > INT_MAX)) {
		status = json_str(j, "status");
		rc = err_set(e, EX_SERVICE, "container '%s' is not running (status '%s')", id,
		    status ? status : "unknown");
	}
	if (rc < 0 && e)
		e->code = EX_SERVICE;
	*pid = (long)v;
	cJSON_Delete(j);
	proc_result_free(&r);
	return rc;
}

static int
locate(struct cg *cg, const char *where, const char *runc_root, struct err *e)
{
	long pid = 0;

	if (!strncmp(where, "cgroup:", 7))
		return from_path(cg, where + 7, e);
	if (!strncmp(where, "pid:", 4)) {
		if (parse_pid(where + 4, &pid) < 0)
			return err_set(e, EX_USAGE_, "'%s' is not a process id", where + 4);
	} else if (!strncmp(where, "pidfile:", 8)) {
		if (pidfile_pid(where + 8, &pid, e) < 0)
			return -1;
	} else if (!strncmp(where, "runc:", 5)) {
		if (runc_pid(where + 5, runc_root, &pid, e) < 0)
			return -1;
	} else {
		return err_set(e, EX_USAGE_,
		    "expected cgroup:PATH, pid:N, pidfile:FILE or runc:ID");
	}
	return from_pid(cg, pid, e);
}

/*
 * The tightest limit of c over the cgroup and its ancestors: C_CPU in
 * *cores (0: none), C_MEM in *bytes (ULLONG_MAX: none).  Only the
 * cgroup's own files must be there, unless it is the root.
 */
static int
limit(const struct cg *cg, int c, double *cores, unsigned long long *bytes, struct err *e)
{
	char *dir = xstrdup(cg->dir[c]), path[PATH_MAX], *t, *sp;
	int opt = strlen(dir) > cg->top[c] ? 0 : OPTIONAL, rc;
	unsigned long long q, per;

	for (;;) {
		q = 0;
		if (c == C_MEM) {
			rc = number(dir, cg->v2 ? "memory.max" : "memory.limit_in_bytes", NULL,
			    cg->v2 ? "max" : NULL, opt, &q, e);
			if (rc > 0 && q < *bytes)
				*bytes = q;
		} else if (!cg->v2) {
			rc = number(dir, "cpu.cfs_quota_us", NULL, "-1", opt | POSITIVE, &q, e);
			if (rc > 0)
				rc = number(dir, "cpu.cfs_period_us", NULL, NULL, POSITIVE, &per,
				    e);
		} else if ((rc = dir_file(dir, "cpu.max", opt, path, &t, e)) > 0) {
			sp = strchr(t, ' ');
			if (!sp || ull(sp + 1, sp + strlen(sp), &per) < 0 || !per ||
			    (strncmp(t, "max ", 4) && (ull(t, sp, &q) < 0 || !q)))
				rc = bad(e, path, "'QUOTA PERIOD' or 'max PERIOD'", t);
			free(t);
		}
		if (rc > 0 && q && c != C_MEM && (*cores == 0 || (double)q / (double)per < *cores))
			*cores = (double)q / (double)per;
		if (rc < 0 || strlen(dir) <= cg->top[c])
			break;
		*strrchr(dir + cg->top[c], '/') = '\0';
		opt = OPTIONAL;
	}
	free(dir);
	return rc < 0 ? -1 : 0;
}

static int
read_cpu(const struct cg *cg, struct res_sample *s, struct err *e)
{
	char path[PATH_MAX], *t;
	unsigned long long v;
	double cores = 0;
	long host = 0, set = 0;
	const char *p;
	int rc;

	s->at_ms = mono_ms();
	if (cg->dir[C_ACCT]) {
		if (number(cg->dir[C_ACCT], cg->v2 ? "cpu.stat" : "cpuacct.usage",
		    cg->v2 ? "usage_usec" : NULL, NULL, 0, &v, e) < 0)
			return -1;
		s->cpu_usec = cg->v2 ? v : v / 1000;
		s->has_cpu = 1;
	}
	if (cg->dir[C_CPU] && limit(cg, C_CPU, &cores, NULL, e) < 0)
		return -1;
	if (cg->dir[C_CPUSET]) {
		if (cg->v2)
			rc = dir_file(cg->dir[C_CPUSET], "cpuset.cpus.effective", 0, path, &t, e);
		else if (!(rc = dir_file(cg->dir[C_CPUSET], "cpuset.effective_cpus", OPTIONAL,
		    path, &t, e)))
			rc = dir_file(cg->dir[C_CPUSET], "cpuset.cpus", 0, path, &t, e);
		if (rc < 0)
			return -1;
		rc = cpu_list(path, t, &set, e);
		free(t);
		if (rc < 0)
			return -1;
	}
	/* The host's online CPUs: the cpuN lines of /proc/stat. */
	if (dir_file(proc_root, "stat", 0, path, &t, e) < 0)
		return -1;
	for (p = t; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		host += !strncmp(p, "cpu", 3) && isdigit((unsigned char)p[3]);
	free(t);
	if (!host)
		return err_set(e, EX_SERVICE, "'%s': no 'cpuN' line", path);
	s->cpu_limit = (double)host;
	if (cores > 0 && cores < s->cpu_limit)
		s->cpu_limit = cores;
	if (set > 0 && (double)set < s->cpu_limit)
		s->cpu_limit = (double)set;
	s->cpu_limited = s->cpu_limit < (double)host;
	return 0;
}

static int
read_mem(const struct cg *cg, struct res_sample *s, struct err *e)
{
	char path[PATH_MAX], *t;
	unsigned long long use, inactive, total, lim = ULLONG_MAX;
	const char *dir = cg->dir[C_MEM];
	int rc;

	if (!dir)
		return 0;
	if (number(dir, cg->v2 ? "memory.current" : "memory.usage_in_bytes", NULL, NULL, 0, &use,
	    e) < 0 || number(dir, "memory.stat", cg->v2 ? "inactive_file" : "total_inactive_file",
	    NULL, 0, &inactive, e) < 0 || limit(cg, C_MEM, NULL, &lim, e) < 0 ||
	    dir_file(proc_root, "meminfo", 0, path, &t, e) < 0)
		return -1;
	rc = keyed(path, t, "MemTotal:", "kB", &total, e);
	free(t);
	if (rc < 0)
		return -1;
	total = total > ULLONG_MAX / 1024 ? ULLONG_MAX : total * 1024;
	s->mem_bytes = use > inactive ? use - inactive : 0;
	s->mem_limit = lim < total ? lim : total;
	s->mem_limited = lim < total;
	s->has_mem = 1;
	return 0;
}

int
resources_read(const char *where, const char *runc_root, struct res_sample *s, struct err *e)
{
	char path[PATH_MAX], *t;
	struct err le;
	struct cg cg;
	int c, rc;

	memset(s, 0, sizeof(*s));
	memset(&cg, 0, sizeof(cg));
	err_clear(&le);
	snprintf(path, sizeof(path), "%s/cgroup.controllers", cg_root);
	cg.v2 = path_exists(path);
	rc = locate(&cg, where, runc_root, &le);
	/* v2: leave out the controllers the cgroup does not have. */
	if (rc == 0 && cg.v2 && (rc = dir_file(cg.dir[C_ACCT], "cgroup.controllers", 0, path, &t,
	    &le)) > 0) {
		for (c = C_CPU; c < C_N; c++)
			if (!names(t, strlen(t), " \n", ctl_name[c])) {
				free(cg.dir[c]);
				cg.dir[c] = NULL;
			}
		free(t);
		rc = 0;
	}
	if (rc == 0)
		rc = read_cpu(&cg, s, &le);
	if (rc == 0)
		rc = read_mem(&cg, s, &le);
	if (rc == 0 && !s->has_cpu && !s->has_mem)
		rc = err_set(&le, EX_SERVICE, "no cpuacct or memory hierarchy under '%s'", cg_root);
	for (c = 0; c < C_N; c++)
		free(cg.dir[c]);
	if (rc < 0) {
		memset(s, 0, sizeof(*s));
		if (le.code == EX_IOERR_)
			le.code = EX_SERVICE;
		err_prefix(&le, "resources of '%s'", where);
		if (e)
			*e = le;
	}
	return rc;
}

double
resources_cpu_percent(const struct res_sample *a, const struct res_sample *b)
{
	if (!a->has_cpu || !b->has_cpu || b->at_ms <= a->at_ms || b->cpu_usec < a->cpu_usec ||
	    b->cpu_limit <= 0)
		return -1;
	/* usec / ms is a thousandth of a core; percent of the limit. */
	return (double)(b->cpu_usec - a->cpu_usec) / 10.0 / (double)(b->at_ms - a->at_ms) /
	    b->cpu_limit;
}

double
resources_mem_percent(const struct res_sample *s)
{
	if (!s->has_mem || !s->mem_limit)
		return -1;
	return (double)s->mem_bytes * 100.0 / (double)s->mem_limit;
}
