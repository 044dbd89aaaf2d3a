/*
 * runtime: one command in a rootfs through runc (see runtime.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "core/log.h"
#include "core/proc.h"
#include "core/timeutil.h"
#include "image/runtime.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define POLL_MS 100
#define KILL_GRACE_MS 10000		/* after our "runc kill": the backstop */
#define HELPER_TIMEOUT_MS 30000		/* runc kill, runc delete */
#define RUNC_LOG_CAP (1u << 20)

/* Docker's default set: what package managers and adduser need, no more. */
static const char *const default_caps[] = {
	"CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID",
	"CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT", NULL
};

/* runc spec's mounts, less the cgroup file system. */
static const struct {
	const char *dest, *type, *source;
	const char *opts[7];
} base_mounts[] = {
	{ "/proc", "proc", "proc", { NULL } },
	{ "/dev", "tmpfs", "tmpfs", { "nosuid", "strictatime", "mode=755", "size=65536k", NULL } },
	{ "/dev/pts", "devpts", "devpts",
	    { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5", NULL } },
	{ "/dev/shm", "tmpfs", "shm", { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL } },
	{ "/dev/mqueue", "mqueue", "mqueue", { "nosuid", "noexec", "nodev", NULL } },
	{ "/sys", "sysfs", "sysfs", { "nosuid", "noexec", "nodev", "ro", NULL } },
};

static const char *const masked_paths[] = {
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
	"/proc/scsi", NULL
};

static const char *const readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL
};

static cJSON *
str_array(const char *const *v)
{
	cJSON *a = cJSON_CreateArray();

	for (; v && *v; v++)
		cJSON_AddItemToArray(a, cJSON_CreateString(*v));
	return a;
}

static cJSON *
process_json(const struct run_spec *s)
{
	cJSON *p = cJSON_CreateObject(), *user, *caps, *env;
	const char *const *eff = s->uid == 0 ? default_caps : NULL;
	char *const *v;
	int has_path = 0;

	cJSON_AddFalseToObject(p, "terminal");
	user = cJSON_AddObjectToObject(p, "user");
	cJSON_AddNumberToObject(user, "uid", s->uid);
	cJSON_AddNumberToObject(user, "gid", s->gid);
	cJSON_AddItemToObject(p, "args", str_array((const char *const *)s->argv));
	env = cJSON_AddArrayToObject(p, "env");
	for (v = s->env; v && *v; v++) {
		has_path |= !strncmp(*v, "PATH=", 5);
		cJSON_AddItemToArray(env, cJSON_CreateString(*v));
	}
	if (!has_path)
		cJSON_AddItemToArray(env, cJSON_CreateString(DEFAULT_PATH));
	cJSON_AddStringToObject(p, "cwd", s->cwd && *s->cwd ? s->cwd : "/");
	/* A non-root user keeps the bounding set only, as after setuid(). */
	caps = cJSON_AddObjectToObject(p, "capabilities");
	cJSON_AddItemToObject(caps, "bounding", str_array(default_caps));
	cJSON_AddItemToObject(caps, "effective", str_array(eff));
	cJSON_AddItemToObject(caps, "permitted", str_array(eff));
	/* No rlimits: the build's own limits are inherited (raising them
	 * needs CAP_SYS_RESOURCE, which a CI container may lack). */
	cJSON_AddTrueToObject(p, "noNewPrivileges");
	return p;
}

/* 1 when p is absolute and no component of it is "..". */
static int
safe_ctr_path(const char *p)
{
	const char *c = p;

	if (*p != '/')
		return 0;
	while ((c = strstr(c, "..")) != NULL) {
		if ((c == p || c[-1] == '/') && (c[2] == '\0' || c[2] == '/'))
			return 0;
		c += 2;
	}
	return 1;
}

static int
add_binds(cJSON *mounts, const char *const *binds, int ro, struct err *e)
{
	for (; binds && *binds; binds++) {
		const char *colon = strrchr(*binds, ':');
		cJSON *m;
		char *host;

		if (!colon || colon == *binds || **binds != '/')
			return err_set(e, EX_USAGE_, "bind '%s': want 'HOSTPATH:CTRPATH', both absolute",
			    *binds);
		if (!safe_ctr_path(colon + 1))
			return err_set(e, EX_USAGE_,
			    "bind '%s': the container path must be absolute, without '..'", *binds);
		host = xstrndup(*binds, (size_t)(colon - *binds));
		m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "destination", colon + 1);
		cJSON_AddStringToObject(m, "type", "bind");
		cJSON_AddStringToObject(m, "source", host);
		cJSON_AddItemToObject(m, "options", str_array((const char *const[]){
		    "rbind", "rprivate", "nosuid", "nodev", ro ? "ro" : "rw", NULL }));
		cJSON_AddItemToArray(mounts, m);
		free(host);
	}
	return 0;
}

static cJSON *
linux_json(const struct run_spec *s)
{
	static const char *const ns[] = { "pid", "ipc", "uts", "mount", "network" };
	cJSON *l = cJSON_CreateObject(), *nsa, *res, *dev;
	size_t i;

	res = cJSON_AddObjectToObject(l, "resources");
	dev = cJSON_CreateObject();
	cJSON_AddFalseToObject(dev, "allow");
	cJSON_AddStringToObject(dev, "access", "rwm");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(res, "devices"), dev);
	nsa = cJSON_AddArrayToObject(l, "namespaces");
	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		cJSON *o;

		if (s->network_host && !strcmp(ns[i], "network"))
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "type", ns[i]);
		cJSON_AddItemToArray(nsa, o);
	}
	cJSON_AddItemToObject(l, "maskedPaths", str_array(masked_paths));
	cJSON_AddItemToObject(l, "readonlyPaths", str_array(readonly_paths));
	return l;
}

char *
runtime_config(const struct run_spec *s, struct err *e)
{
	cJSON *c, *root, *mounts;
	char abs[PATH_MAX], *text;
	size_t i;

	if (!s->argv || !s->argv[0] || !s->rootfs || !*s->rootfs) {
		err_set(e, EX_USAGE_, "run: no command or no root file system");
		return NULL;
	}
	if (s->cwd && *s->cwd && *s->cwd != '/') {
		err_set(e, EX_USAGE_, "run: working directory '%s' is not absolute", s->cwd);
		return NULL;
	}
	c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "ociVersion", "1.0.2");
	cJSON_AddItemToObject(c, "process", process_json(s));
	root = cJSON_AddObjectToObject(c, "root");
	cJSON_AddStringToObject(root, "path", realpath(s->rootfs, abs) ? abs : s->rootfs);
	cJSON_AddFalseToObject(root, "readonly");
	cJSON_AddStringToObject(c, "hostname", "ci-build");
	mounts = cJSON_AddArrayToObject(c, "mounts");
	for (i = 0; i < sizeof(base_mounts) / sizeof(base_mounts[0]); i++) {
		cJSON *m = cJSON_CreateObject();

		cJSON_AddStringToObject(m, "destination", base_mounts[i].dest);
		cJSON_AddStringToObject(m, "type", base_mounts[i].type);
		cJSON_AddStringToObject(m, "source", base_mounts[i].source);
		if (base_mounts[i].opts[0])
			cJSON_AddItemToObject(m, "options", str_array(base_mounts[i].opts));
		cJSON_AddItemToArray(mounts, m);
	}
	if (add_binds(mounts, s->ro_binds, 1, e) < 0 || add_binds(mounts, s->rw_binds, 0, e) < 0) {
		cJSON_Delete(c);
		return NULL;
	}
	cJSON_AddItemToObject(c, "linux", linux_json(s));
	text = cJSON_Print(c);
	cJSON_Delete(c);
	return text;
}

/* 1 when the runtime can be executed: a path, or a name found in PATH. */
static int
runtime_found(const char *rt)
{
	const char *path = getenv("PATH"), *p;

	if (strchr(rt, '/'))
		return access(rt, X_OK) == 0;
	for (p = path ? path : "/usr/bin:/bin"; ; p++) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char *cand = xasprintf("%.*s/%s", (int)n, n ? p : ".", rt);
		int found = access(cand, X_OK) == 0;

		free(cand);
		if (found)
			return 1;
		if (!end)
			return 0;
		p = end;
	}
}

static void
make_id(char *out, size_t outsz)
{
	static unsigned counter;
	unsigned rnd = (unsigned)mono_ms();
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, &rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd))
			rnd ^= (unsigned)now_ms();
		close(fd);
	}
	snprintf(out, outsz, "ci-build-%ld-%u-%08x", (long)getpid(), ++counter, rnd);
}

/* Run "RUNTIME A1 A2 A3" to its end (kill, delete); its output is not shown. */
static void
runtime_cmd(const char *rt, const char *a1, const char *a2, const char *a3)
{
	char *argv[] = { (char *)rt, (char *)a1, (char *)a2, (char *)a3, NULL };
	struct proc_spec ps;
	struct proc_result pr;
	struct err ignored = { 0, "" };

	memset(&ps, 0, sizeof(ps));
	ps.argv = argv;
	ps.timeout_ms = HELPER_TIMEOUT_MS;
	ps.out_cap = 64 << 10;
	proc_capture(&ps, &pr, &ignored);
	proc_result_free(&pr);
}

/* The first error the runtime logged (JSON lines), fresh, or NULL. */
static char *
runtime_error(const char *log_path)
{
	char *text = read_file(log_path, RUNC_LOG_CAP, NULL, NULL), *line, *next, *msg = NULL;

	for (line = text; line && *line && !msg; line = next) {
		cJSON *j;
		const char *lvl, *m;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		else
			next = line + strlen(line);
		j = cJSON_Parse(line);
		lvl = json_str(j, "level");
		m = json_str(j, "msg");
		if (lvl && m && (!strcmp(lvl, "error") || !strcmp(lvl, "fatal")))
			msg = xstrdup(m);
		cJSON_Delete(j);
	}
	free(text);
	return msg;
}

/* The tail ring as whole lines, into out. */
static void
fill_tail(const struct ring *tail, char *out, size_t outsz)
{
	char *t = ring_lines(tail, INT_MAX), *start = t;
	size_t n;

	if (tail->total > tail->len) {
		char *nl = strchr(t, '\n');

		start = nl ? nl + 1 : t + strlen(t);
	}
	n = strlen(start);
	if (n >= outsz)
		start += n - (outsz - 1);
	snprintf(out, outsz, "%s", start);
	free(t);
}

struct bundle_files {
	char *config, *rt_log;
};

static void
bundle_files_drop(struct bundle_files *b)
{
	unlink(b->config);
	unlink(b->rt_log);
	free(b->config);
	free(b->rt_log);
}

/* Poll the runtime to its end (proc shows its output), killing the
 * container at the deadline. */
static void
wait_shown(struct proc *p, const struct run_spec *s, const char *rt, const char *id,
    struct run_result *r)
{
	long long deadline = s->timeout_ms > 0 ? mono_ms() + s->timeout_ms : 0;

	while (p->state != PROC_DONE) {
		int wait = POLL_MS;

		if (deadline && !r->timed_out) {
			long long left = deadline - mono_ms();

			if (left <= 0) {
				r->timed_out = 1;
				runtime_cmd(rt, "kill", id, "KILL");
				left = POLL_MS;
			}
			if (left < wait)
				wait = (int)left;
		}
		proc_poll(&p, 1, wait);
	}
}

int
runtime_run(const struct run_spec *s, struct run_result *r, struct err *e)
{
	const char *rt = s->runtime && *s->runtime ? s->runtime : "runc";
	struct bundle_files bf;
	struct proc_spec ps;
	struct proc p;
	char id[64], *config, *msg, *argv[10];
	int rc = 0;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (!s->bundle_dir || !*s->bundle_dir)
		return err_set(e, EX_USAGE_, "run: no bundle directory");
	if (!runtime_found(rt))
		return err_set(e, EX_SERVICE, "OCI runtime '%s' not found (install runc, or name "
		    "another runtime)", rt);
	config = runtime_config(s, e);
	if (!config)
		return -1;
	if (mkdir_p(s->bundle_dir, 0700, e) < 0) {
		free(config);
		return -1;
	}
	bf.config = xasprintf("%s/config.json", s->bundle_dir);
	bf.rt_log = xasprintf("%s/runtime.log", s->bundle_dir);
	unlink(bf.rt_log);
	rc = atomic_write(bf.config, config, strlen(config), 0600, e);
	free(config);
	if (rc < 0) {
		bundle_files_drop(&bf);
		return -1;
	}
	make_id(id, sizeof(id));
	argv[0] = (char *)rt;
	argv[1] = "--log";
	argv[2] = bf.rt_log;
	argv[3] = "--log-format";
	argv[4] = "json";
	argv[5] = "run";
	argv[6] = "--bundle";
	argv[7] = (char *)s->bundle_dir;
	argv[8] = id;
	argv[9] = NULL;
	memset(&ps, 0, sizeof(ps));
	ps.argv = argv;
	ps.tail_bytes = sizeof(r->tail) - 1;
	ps.show_prefix = log_level() > LOG_QUIET ? s->log_prefix : NULL;
	/* The deadline is ours (runc kill); this one is for a runtime that hangs. */
	ps.timeout_ms = s->timeout_ms > 0 ? s->timeout_ms + KILL_GRACE_MS : 0;
	if (proc_start(&p, &ps, e) < 0) {
		bundle_files_drop(&bf);
		return err_prefix(e, "cannot start the OCI runtime '%s'", rt);
	}
	wait_shown(&p, s, rt, id, r);
	r->status = proc_status(&p);
	r->ms = proc_elapsed_ms(&p);
	fill_tail(&p.tail, r->tail, sizeof(r->tail));
	msg = r->timed_out ? NULL : runtime_error(bf.rt_log);
	if (p.exec_msg || p.timed_out) {
		char how[256];

		proc_describe(&p, how, sizeof(how));
		rc = err_set(e, EX_SERVICE, "OCI runtime '%s': %s", rt, how);
	} else if (msg) {
		/* exec: the command itself is missing or not executable. */
		rc = err_set(e, strstr(msg, "exec:") ? EX_FAIL : EX_SERVICE,
		    "OCI runtime '%s': %s", rt, msg);
	}
	free(msg);
	proc_free(&p);
	runtime_cmd(rt, "delete", "-f", id);
	bundle_files_drop(&bf);
	return rc;
}
