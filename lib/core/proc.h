/*
 * proc: the one way to run a child process: in its own process group,
 * with captured output and a timeout.
 *
 * A started process runs as the leader of a new process group.  Its stdin
 * is /dev/null, or a pipe proc feeds the spec's bytes into (then closes).
 * Its stdout and stderr share one pipe that proc_poll() drains into a log
 * file (when asked) and a bounded tail ring, and, with show_prefix, line by
 * line to our stderr as they come; or, when the spec captures stdout
 * (out_cap or on_out), stdout has a pipe of its own, into a capped buffer
 * or a callback, and the tail ring (and the lines shown) hold stderr
 * alone.  The deadline sends SIGTERM to the whole group, then SIGKILL
 * after the grace period; so does stdout passing out_cap, and proc_stop()
 * with the signal it is given.  When the leader has exited, what
 * remains of its group is killed, so nothing a job started outlives it.
 * Exec failures (command not found, not executable) are reported
 * distinctly from exit statuses.  struct proc owns its fds, the ring, the
 * output buffer, its copy of the stdin bytes and its strings; proc_free()
 * releases them, wiping what passed through them (a credential helper's
 * stdin and stdout carry secrets).
 *
 * Two ways in: proc_start() and proc_poll() for many jobs at once (the
 * gate's scheduler); proc_capture() to run one child to its end and get
 * its status, stdout and the tail of its stderr (git, credential helpers).
 * Children get an argv, never a shell splice (spec.shell is for job text
 * the user wrote as shell).
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
	char *const *unset_env;	/* names the child does not inherit (env may still set them) */
	const char *log_path;	/* full output goes here, a new file (a regular file
				 * there is replaced, a link's target truncated); NULL: none */
	size_t tail_bytes;	/* size of the tail ring; 0: 64 KiB */
	long long timeout_ms;	/* 0: no timeout */
	long long grace_ms;	/* SIGTERM to SIGKILL; 0: 5000 */
	int inherit_output;	/* 1: share our stderr, capture nothing */
	const char *show_prefix;	/* also show the output on our stderr, a line at a
				 * time, as "PREFIX | line"; NULL: not shown */
	const void *in_data;	/* bytes for the child's stdin (copied); NULL: /dev/null */
	size_t in_len;
	size_t out_cap;		/* >0: capture output apart, at most this many bytes */
	/* Set: stdout apart, each chunk as it is read (out_cap unused). */
	void (*on_out)(void *ctx, const char *data, size_t len);
	void *on_out_ctx;
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
	int in_fd;		/* write end of the stdin pipe, -1 when fed or none */
	int in_errno;		/* feeding stdin failed (EPIPE: the child stopped reading) */
	int err_fd;		/* output apart: stderr's own pipe, -1 once at EOF */
	struct buf out;		/* output captured with out_cap (NUL-terminated) */
	int overflowed;		/* output passed out_cap: out is empty, the group stopped */
	/* Bookkeeping of proc.c; callers only read exec_msg (via proc_describe). */
	int reaped;		/* the leader was waited for (ended_ms is then set) */
	int kill_sent;		/* SIGKILL went to the group after the grace */
	char *exec_msg;		/* "command not found: 'foo'", or NULL */
	int split;		/* output has a pipe of its own (out_fd) */
	char *in_data;		/* our copy of spec.in_data */
	size_t in_len, in_off;
	void (*on_out)(void *ctx, const char *data, size_t len);
	void *on_out_ctx;
	char *show_prefix;	/* copy of spec.show_prefix, or NULL */
	char *show_line;	/* the line being shown, show_len bytes so far */
	size_t show_len;
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

/*
 * Orphans: a job's descendant that left its process group (setsid) is
 * out of reach of proc_cancel().  proc_subreaper() makes this process
 * their parent when theirs dies (Linux PR_SET_CHILD_SUBREAPER; elsewhere
 * nothing); proc_end_adopted() ends every child of the main thread (where
 * orphans go) that is not one of keep (SIGTERM, then SIGKILL after
 * grace_ms) and reaps it, and returns how many it ended.
 */
void proc_subreaper(void);
int proc_end_adopted(const pid_t *keep, size_t nkeep, int grace_ms);
/* The same sequence begun with sig instead of SIGTERM: a tool passes on
 * the SIGINT or SIGTERM it was sent. */
void proc_stop(struct proc *p, int sig);

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
/* The shell's way: exit code, 128+N when killed by signal N; -1 not done. */
int proc_status(const struct proc *p);
/* Elapsed milliseconds (so far, when still running). */
long long proc_elapsed_ms(const struct proc *p);

void proc_free(struct proc *p);

/* What proc_capture() found; owns out and err. */
struct proc_result {
	int status;		/* as proc_status(): 127 when exec failed, -1 not started */
	char *out;		/* standard output, NUL-terminated (never NULL once started) */
	size_t out_len;
	char *err;		/* the tail of stderr, NUL-terminated (never NULL once started) */
	int exec_errno;		/* exec (or chdir) failed with this errno */
	int timed_out;		/* killed at the spec's timeout */
	int overflowed;		/* standard output passed the cap */
	char how[256];		/* proc_describe() of the end: "exited with status 1" */
};

/*
 * Run spec to its end with stdout captured apart (at most spec->out_cap
 * bytes; 0: 1 MiB) and the tail of stderr kept (spec->tail_bytes).
 * Returns 0 when the child exited, whatever its exit status (r->status);
 * -1 with e set, naming argv[0], when it gave no exit status: it could not
 * start or exec, it was killed by a signal or at its timeout, or stdout
 * passed the cap.  r is filled in either case (r->how says what happened),
 * so a caller can word its own message; free it with proc_result_free().
 */
int proc_capture(const struct proc_spec *spec, struct proc_result *r,
    struct err *e);
/* Free r's strings, wiping them (they may carry a secret). */
void proc_result_free(struct proc_result *r);

/* Signal name without "SIG"-less guessing: "SIGKILL", or "signal 42". */
const char *sig_name(int sig, char *buf, size_t bufsz);

#endif
