/*
 * proc: child processes in their own process group, with captured output
 * and a timeout.
 *
 * A started process runs as the leader of a new process group with stdin
 * from /dev/null and stdout+stderr on one pipe, which proc_poll() drains into
 * a log file (when asked) and a bounded tail ring.  The deadline sends
 * SIGTERM to the whole group, then SIGKILL after the grace period.  When the
 * leader has exited, what remains of its group is killed, so nothing a job
 * started outlives it.  Exec failures (command not found, not executable)
 * are reported distinctly from exit statuses.  struct proc owns its fds,
 * the ring and its strings; proc_free() releases them.
 */
#ifndef CI_PROC_H
#define CI_PROC_H

#include <sys/types.h>

#include "core/buf.h"
#include "core/log.h"

struct proc_spec {
	char *const *argv;	/* argv[0] looked up in PATH; or ... */
	const char *shell;	/* ... text run as: sh -c TEXT (argv unused) */
	const char *cwd;	/* NULL: inherit */
	char *const *env;	/* extra "KEY=VALUE" pairs (NULL-terminated), or NULL */
	const char *log_path;	/* full output goes here (created/truncated); NULL: none */
	size_t tail_bytes;	/* size of the tail ring; 0: 64 KiB */
	long long timeout_ms;	/* 0: no timeout */
	long long grace_ms;	/* SIGTERM to SIGKILL; 0: 5000 */
	int inherit_output;	/* 1: share our stderr, capture nothing */
};

enum proc_state { PROC_RUNNING, PROC_DONE };

struct proc {
	pid_t pid;		/* also the process group id */
	int state;
	int out_fd;		/* read end of the output pipe, -1 once at EOF */
	int log_fd;
	struct ring tail;
	long long started_ms;	/* monotonic */
	long long ended_ms;
	long long timeout_ms;
	long long grace_ms;
	long long term_sent_ms;	/* 0 until SIGTERM was sent */
	int timed_out;		/* the deadline passed */
	int cancelled;		/* proc_cancel() was called */
	int status;		/* wait status, valid when state == PROC_DONE */
	int exec_errno;		/* exec failed with this errno (status then 127) */
	int log_errno;		/* writing the log failed with this errno */
	/* Bookkeeping of proc.c; callers only read exec_msg (via proc_describe). */
	int reaped;		/* the leader was waited for (ended_ms is then set) */
	int kill_sent;		/* SIGKILL went to the group after the grace */
	char *exec_msg;		/* "command not found: 'foo'", or NULL */
};

/* Start a process; on failure return -1 with e set (p not running). */
int proc_start(struct proc *p, const struct proc_spec *spec, struct err *e);

/*
 * Wait up to wait_ms (-1: until something happens) for output, exits or
 * deadlines of the n running processes, handle them, and return the number
 * of processes that finished during this call.  Processes already done are
 * skipped.  Interrupted by a signal, it returns 0.
 */
int proc_poll(struct proc **ps, size_t n, int wait_ms);

/* Start the TERM, grace, KILL sequence now for the whole group. */
void proc_cancel(struct proc *p);

/* Start and wait for one process: convenience for simple callers. */
int proc_run(struct proc *p, const struct proc_spec *spec, struct err *e);

/*
 * Describe how a finished process ended, e.g. "exited with status 1",
 * "killed by SIGKILL after timeout 30s", "command not found: 'foo'".
 */
void proc_describe(const struct proc *p, char *out, size_t outsz);
/* Exit code when it exited, else -1. */
int proc_exit_code(const struct proc *p);
/* Signal number when killed by one, else 0. */
int proc_signal(const struct proc *p);
/* Elapsed milliseconds (so far, when still running). */
long long proc_elapsed_ms(const struct proc *p);

void proc_free(struct proc *p);

/* Signal name without "SIG"-less guessing: "SIGKILL", or "signal 42". */
const char *sig_name(int sig, char *buf, size_t bufsz);

#endif
