/*
 * runtime: run one command in a root filesystem directory through an OCI
 * runtime (runc), the way a Dockerfile RUN needs it.
 *
 * runtime_run() writes an OCI runtime spec 1.0 bundle (config.json) into
 * bundle_dir and runs "RUNTIME run --bundle DIR ID" in the foreground:
 * stdin is /dev/null, stdout and stderr go, line by line, to our stderr
 * as "PREFIX | line" and the last lines are kept in the result.  The
 * container gets its own pid, ipc, uts and mount namespaces, and its own
 * network namespace with loopback only unless network_host; no new
 * privileges; a minimal /dev (runc makes null, zero, full, random,
 * urandom, tty); /sys read-only; runc spec's masked and read-only paths;
 * Docker's default capability set for uid 0 (none effective for other
 * uids); the caller's rlimits; no host path but the binds asked for.  Mount destinations are
 * resolved by the runtime inside the rootfs (a symlink to / stays
 * inside); a bind whose container path is relative or has a ".."
 * component is refused.
 *
 * The runtime creates, in the rootfs, the mount points it needs (/proc,
 * /dev, /sys, the bind targets) and the working directory when missing:
 * a caller diffing the tree should make them before its snapshot.  The
 * container id is unique (pid, counter, random); the container is always
 * deleted ("RUNTIME delete -f ID"), after a failure or a timeout too.
 * The bundle directory is created when missing; the files we write there
 * (config.json, the runtime's log) are removed.
 *
 * Ownership: the spec's strings are borrowed; runtime_config() returns a
 * fresh string.
 */
#ifndef CI_RUNTIME_H
#define CI_RUNTIME_H

#include "core/log.h"

struct run_spec {
	const char *runtime;		/* "runc": a path, or a name in PATH; NULL: "runc" */
	const char *rootfs;		/* directory, the container's / */
	const char *bundle_dir;		/* scratch dir for config.json (created) */
	char *const *argv;		/* the process, exec form (shell form is the
					 * caller's {"/bin/sh", "-c", TEXT}) */
	char *const *env;		/* "K=V"; a default PATH is added when none */
	const char *cwd;		/* absolute in the container; NULL: "/" */
	unsigned uid, gid;		/* USER, resolved by the caller */
	int network_host;		/* 0: own netns, loopback only; 1: the host's */
	const char *const *ro_binds;	/* "HOSTPATH:CTRPATH" read-only, or NULL */
	const char *const *rw_binds;	/* "HOSTPATH:CTRPATH" read-write, or NULL */
	long long timeout_ms;		/* 0: none */
	const char *log_prefix;		/* "#3 RUN": lines go to stderr as
					 * "#3 RUN | line"; NULL: not shown */
};

struct run_result {
	int status;		/* the command's exit status, 128+N when killed by signal N */
	int timed_out;		/* killed (SIGKILL, status 137) at timeout_ms */
	char tail[4096];	/* the last lines of its output, whole lines */
	long long ms;		/* how long the runtime ran */
};

/*
 * Run s->argv.  Returns 0 when the command ran, whatever its status (a
 * timeout too: r->timed_out); -1 with e set when the runtime could not
 * run it: runtime missing (EX_SERVICE, naming it), bad spec or bind
 * (EX_USAGE_), the command could not be executed in the container
 * (missing, not executable: EX_FAIL, the runtime's message), any other
 * runtime failure (EX_SERVICE).  r is filled in every case.
 * Binds are "HOSTPATH:CTRPATH", split at the last ':' (host paths of the
 * build cache may hold one); both absolute.
 */
int runtime_run(const struct run_spec *s, struct run_result *r, struct err *e);

/* The config.json text runtime_run() uses (fresh), or NULL when the spec
 * is refused (the reason in e, which may be NULL). */
char *runtime_config(const struct run_spec *s, struct err *e);

#endif
