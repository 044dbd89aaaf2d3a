/*
 * proc: child processes in their own process group, with captured output
 * and a timeout.  See proc.h for the contract.
 *
 * Between fork and exec the child only makes async-signal-safe calls: the
 * environment (ours with the spec's pairs replacing same-named entries) and
 * every PATH candidate for argv[0] are prepared before fork, and the child
 * walks the candidates with execve() the way execvp() would (including the
 * ENOEXEC fallback to sh).  The PATH searched is the one of the child's
 * environment, as if the pairs had been set with setenv() before execvp().
 *
 * The child is made with vfork(): it borrows our memory until it execs
 * or exits, so starting a job costs no copy of our page tables (a fork
 * of this process cost a job more than the job itself: 50 trivial jobs
 * ran at twice the time of make -j2).  That is safe because the child
 * only makes the calls above on what was prepared before, never returns
 * from child_run(), and runs with every signal blocked until it has reset
 * their handlers, so none of ours runs on our memory in its place.
 *
 * The child reports a failed chdir or exec through a close-on-exec pipe
 * (EOF there means exec succeeded).  SIGCHLD wakes proc_poll() through a
 * self-pipe; when another handler owns SIGCHLD, proc_poll() falls back to
 * polling for exits every CHLD_POLL_MS.
 *
 * Our ends of every pipe are non-blocking: stdin is fed as the pipe takes
 * it, between reads of the output, so a child that writes a lot before it
 * reads all its input cannot deadlock us.  SIGPIPE is blocked while we
 * feed, so a child that exits without reading costs an EPIPE, not us.
 */
/* pipe2() */
#define _GNU_SOURCE
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <dirent.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/proc.h"
#include "core/size.h"
#include "core/timeutil.h"

#define TAIL_DEFAULT	(64 * 1024)
#define GRACE_DEFAULT	5000
#define DRAIN_MS	200	/* pipe kept open by an escaped grandchild */
#define CHLD_POLL_MS	50	/* exit polling when SIGCHLD is not ours */
#define READ_CHUNK	16384
#define READ_ROUNDS	16	/* per process and poll, so no job starves the rest */
#define CAPTURE_DEFAULT	(1024 * 1024)	/* proc_capture()'s output cap */
#define SHOW_LINE_MAX	8192	/* show_prefix: a longer line is shown in pieces */

extern char **environ;

/* What the child writes to the status pipe before it ends with 127. */
enum { FAIL_SETUP = 1, FAIL_CHDIR, FAIL_EXEC };
struct child_fail {
	int stage;
	int err;
};

static int chld_pipe[2] = { -1, -1 };
static int chld_tried;
static int devnull_fd = -1;	/* the children's stdin, opened once */

/* Everything the child needs, built before fork. */
struct launch {
	char **envp;		/* pointers borrowed from environ and the spec */
	char **cands;		/* PATH candidates for argv[0] (owned strings) */
	size_t ncands;
	char **shargv;		/* "sh" CAND ARGV[1..]: the ENOEXEC fallback */
	char *const *argv;
	char *shell_argv[4];
	int devnull;		/* borrowed: devnull_fd */
	int in_r;		/* stdin's pipe, or -1: /dev/null */
	int out_w;
	int err_w;		/* stderr's own pipe, or -1: stderr shares out_w */
	int stat_w;
};

static void
on_sigchld(int sig)
{
	int saved = errno;
	ssize_t r;

	(void)sig;
	r = write(chld_pipe[1], "x", 1);
	(void)r;
	errno = saved;
}

/*
 * Install the SIGCHLD self-pipe once, unless the program has its own
 * handler.  Also undoes an inherited SIG_IGN, which would make the kernel
 * reap our children before we see their status.
 */
static void
chld_init(void)
{
	struct sigaction old, sa;
	int fds[2], i;

	if (chld_tried)
		return;
	chld_tried = 1;
	if (sigaction(SIGCHLD, NULL, &old) == -1)
		return;
	if ((old.sa_flags & SA_SIGINFO) ||
	    (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN))
		return;
	if (pipe(fds) == -1)
		return;
	for (i = 0; i < 2; i++) {
		fcntl(fds[i], F_SETFD, FD_CLOEXEC);
		fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
	}
	chld_pipe[0] = fds[0];
	chld_pipe[1] = fds[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	if (sigaction(SIGCHLD, &sa, NULL) == -1) {
		close(fds[0]);
		close(fds[1]);
		chld_pipe[0] = chld_pipe[1] = -1;
	}
}

/* Is our handler (still) the one that runs on SIGCHLD? */
static int
chld_active(void)
{
	struct sigaction cur;

	if (chld_pipe[0] < 0 || sigaction(SIGCHLD, NULL, &cur) == -1)
		return 0;
	return !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == on_sigchld;
}

static void
chld_drain(void)
{
	char buf[64];

	while (read(chld_pipe[0], buf, sizeof(buf)) > 0)
		;
}

/* Keep our fds off 0-2, so the child's dup2() calls cannot clobber them. */
static int
move_high(int fd)
{
	int nfd;

	if (fd < 0 || fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

static int
cloexec_pipe(int fds[2])
{
	int i;

	if (pipe2(fds, O_CLOEXEC) == -1)
		return -1;
	for (i = 0; i < 2; i++)
		fds[i] = move_high(fds[i]);
	if (fds[0] < 0 || fds[1] < 0) {
		if (fds[0] >= 0)
			close(fds[0]);
		if (fds[1] >= 0)
			close(fds[1]);
		return -1;
	}
	return 0;
}

static void
close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* Signal the whole group; never pid 0 or 1, whose groups are not ours. */
static void
signal_group(pid_t pid, int sig)
{
	if (pid > 1)
		kill(-pid, sig);
}

static size_t
key_len(const char *kv)
{
	const char *eq = strchr(kv, '=');

	return eq ? (size_t)(eq - kv) : strlen(kv);
}

static int
same_key(const char *a, const char *b)
{
	size_t n = key_len(a);

	return n == key_len(b) && strncmp(a, b, n) == 0;
}

/* 1 when the name of kv is one of names. */
static int
named(const char *kv, char *const *names)
{
	for (; names && *names; names++)
		if (key_len(kv) == strlen(*names) && strncmp(kv, *names, strlen(*names)) == 0)
			return 1;
	return 0;
}

/* Our environment, less the names unset, with the spec's pairs replacing
 * entries of the same name. */
static int
build_env(struct launch *l, char *const *extra, char *const *unset, struct err *e)
{
	size_t n = 0, nx = 0, i, j, k = 0;

	for (i = 0; environ && environ[i]; i++)
		n++;
	for (i = 0; extra && extra[i]; i++) {
		if (!strchr(extra[i], '=') || extra[i][0] == '=')
			return err_set(e, EX_USAGE_,
			    "bad environment entry '%s': want KEY=VALUE", extra[i]);
		nx++;
	}
	l->envp = xcalloc(n + nx + 1, sizeof(*l->envp));
	for (i = 0; i < n; i++) {
		for (j = 0; j < nx; j++)
			if (same_key(environ[i], extra[j]))
				break;
		if (j == nx && !named(environ[i], unset))
			l->envp[k++] = environ[i];
	}
	/* A later pair wins over an earlier one with the same key. */
	for (i = 0; i < nx; i++) {
		for (j = i + 1; j < nx; j++)
			if (same_key(extra[i], extra[j]))
				break;
		if (j == nx)
			l->envp[k++] = extra[i];
	}
	l->envp[k] = NULL;
	return 0;
}

/* execvp()'s candidate list for name, from the child's PATH. */
static void
build_cands(struct launch *l, const char *name)
{
	const char *path = NULL, *p, *colon;
	size_t i, n;

	if (name[0] == '\0')
		return;
	if (strchr(name, '/')) {
		l->cands = xcalloc(1, sizeof(*l->cands));
		l->cands[0] = xstrdup(name);
		l->ncands = 1;
		return;
	}
	for (i = 0; l->envp[i]; i++)
		if (strncmp(l->envp[i], "PATH=", 5) == 0)
			path = l->envp[i] + 5;
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (n = 1, p = path; *p; p++)
		if (*p == ':')
			n++;
	l->cands = xcalloc(n, sizeof(*l->cands));
	for (p = path;; p = colon + 1) {
		size_t dl;

		colon = strchr(p, ':');
		dl = colon ? (size_t)(colon - p) : strlen(p);
		/* An empty element means the current directory. */
		if (dl == 0)
			l->cands[l->ncands++] = xstrdup(name);
		else
			l->cands[l->ncands++] = xasprintf("%.*s/%s", (int)dl, p, name);
		if (!colon)
			break;
	}
}

static void
launch_free(struct launch *l)
{
	size_t i;

	free(l->envp);
	for (i = 0; i < l->ncands; i++)
		free(l->cands[i]);
	free(l->cands);
	free(l->shargv);
	close_fd(&l->in_r);
	close_fd(&l->out_w);
	close_fd(&l->err_w);
	close_fd(&l->stat_w);
}

/*
 * The log, a new file each run.  A regular file an earlier run left is
 * unlinked, not truncated: ext4 writes a file truncated to zero out when
 * it is closed (auto_da_alloc), and truncating it again waits for that
 * write; a log truncated and rewritten took 2 ms where a new one takes
 * 0.2.  A link, or a file with more names than this one, is opened
 * through and truncated as before.
 */
static int
open_log(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1)
		unlink(path);
	return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

/* Overwrite what may have been a secret; volatile, so it is not elided. */
static void
wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n--)
		*v++ = 0;
}

static void __attribute__((noreturn))
child_fail(int fd, int stage, int err)
{
	struct child_fail f;
	ssize_t r;

	f.stage = stage;
	f.err = err;
	r = write(fd, &f, sizeof(f));
	(void)r;
	_Exit(127);	/* async-signal-safe, no atexit handlers */
}

/* In the child: async-signal-safe calls only. */
static void __attribute__((noreturn))
child_run(const struct launch *l, const struct proc_spec *spec)
{
	struct sigaction dfl;
	sigset_t none;
	size_t i;
	int sig, err, saw_eacces = 0;

	setpgid(0, 0);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	/* Ignored signals survive exec: a job must not inherit our SIG_IGN. */
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (dup2(l->in_r >= 0 ? l->in_r : l->devnull, 0) == -1)
		child_fail(l->stat_w, FAIL_SETUP, errno);
	if (spec->inherit_output) {
		/* Our standard output carries the document: jobs talk to stderr. */
		dup2(2, 1);
	} else if (dup2(l->out_w, 1) == -1 ||
	    dup2(l->err_w >= 0 ? l->err_w : l->out_w, 2) == -1) {
		child_fail(l->stat_w, FAIL_SETUP, errno);
	}
	if (spec->cwd && chdir(spec->cwd) == -1)
		child_fail(l->stat_w, FAIL_CHDIR, errno);

	if (spec->shell) {
		execve("/bin/sh", (char *const *)l->shell_argv, l->envp);
		child_fail(l->stat_w, FAIL_EXEC, errno);
	}
	for (i = 0; i < l->ncands; i++) {
		execve(l->cands[i], l->argv, l->envp);
		err = errno;
		switch (err) {
		case ENOEXEC:
			/* No #! line: run it as a shell script, as execvp does. */
			l->shargv[1] = l->cands[i];
			execve("/bin/sh", l->shargv, l->envp);
			child_fail(l->stat_w, FAIL_EXEC, err);
		case EACCES:
			saw_eacces = 1;
			break;
		case ENOENT:
		case ENOTDIR:
		case ESTALE:
		case ENODEV:
		case ETIMEDOUT:
			break;
		default:
			child_fail(l->stat_w, FAIL_EXEC, err);
		}
	}
	child_fail(l->stat_w, FAIL_EXEC, saw_eacces ? EACCES : ENOENT);
}

static void
set_exec_msg(struct proc *p, const struct proc_spec *spec,
    const struct child_fail *f)
{
	const char *name = spec->shell ? "/bin/sh" : spec->argv[0];

	p->exec_errno = f->err;
	if (f->stage == FAIL_CHDIR)
		p->exec_msg = xasprintf("cannot chdir to '%s': %s", spec->cwd,
		    strerror(f->err));
	else if (f->stage == FAIL_SETUP)
		p->exec_msg = xasprintf("cannot set up the child of '%s': %s",
		    name, strerror(f->err));
	else if (f->err == ENOENT && !strchr(name, '/'))
		p->exec_msg = xasprintf("command not found: '%s'", name);
	else
		p->exec_msg = xasprintf("cannot execute '%s': %s", name,
		    strerror(f->err));
}

/* Read the child's exec report: 0 when it exec'd, 1 when it failed. */
static int
read_child_fail(int fd, struct child_fail *f)
{
	ssize_t r;

	do
		r = read(fd, f, sizeof(*f));
	while (r == -1 && errno == EINTR);
	return r == (ssize_t)sizeof(*f);
}

static void
proc_clear(struct proc *p)
{
	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->state = PROC_DONE;
	p->out_fd = -1;
	p->log_fd = -1;
	p->in_fd = -1;
	p->err_fd = -1;
	buf_init(&p->out, 0);
}

static void
show_free(struct proc *p)
{
	if (p->show_line)
		wipe(p->show_line, SHOW_LINE_MAX);
	free(p->show_line);
	free(p->show_prefix);
	p->show_line = p->show_prefix = NULL;
	p->show_len = 0;
}

/* A pipe whose read end (which) the child gets; ours is non-blocking. */
static int
child_pipe(int *ours, int *theirs, int child_reads, struct err *e)
{
	int fds[2];

	if (cloexec_pipe(fds) == -1)
		return err_set(e, EX_TEMP, "cannot create a pipe: %s",
		    strerror(errno));
	*ours = child_reads ? fds[1] : fds[0];
	*theirs = child_reads ? fds[0] : fds[1];
	/* A new pipe's end has no status flag but its access mode, which
	 * F_SETFL leaves alone: no F_GETFL needed. */
	fcntl(*ours, F_SETFL, O_NONBLOCK);
	return 0;
}

/* The whole group: sig (SIGTERM) now, SIGKILL after the grace (check_deadlines). */
static void
begin_stop(struct proc *p, long long now, int sig)
{
	if (p->reaped || p->term_sent_ms)
		return;
	signal_group(p->pid, sig);
	signal_group(p->pid, SIGCONT);
	p->term_sent_ms = now;
}

/*
 * Write what the pipe takes of the stdin bytes; close it when all are in
 * or the child stopped reading.  SIGPIPE is blocked meanwhile, and one our
 * write raised is taken back, so a child that exits unread costs EPIPE.
 */
static void
feed(struct proc *p)
{
	struct timespec zero = { 0, 0 };
	sigset_t pipe_set, old, pending;
	int err = 0, was_pending;
	ssize_t w;

	if (p->in_fd < 0)
		return;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigemptyset(&pending);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE) == 1;
	while (p->in_off < p->in_len) {
		w = write(p->in_fd, p->in_data + p->in_off, p->in_len - p->in_off);
		if (w > 0) {
			p->in_off += (size_t)w;
		} else if (w == -1 && errno == EINTR) {
			continue;
		} else if (w == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			break;
		} else {
			err = w == -1 ? errno : EIO;
			break;
		}
	}
	if (err == EPIPE && !was_pending)
		while (sigtimedwait(&pipe_set, NULL, &zero) == -1 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		p->in_errno = err;
	if (err || p->in_off == p->in_len)
		close_fd(&p->in_fd);
}

int
proc_start(struct proc *p, const struct proc_spec *spec, struct err *e)
{
	struct launch l;
	struct child_fail f;
	sigset_t all, saved;
	int st[2] = { -1, -1 };
	size_t i, n;
	pid_t pid;

	proc_clear(p);
	memset(&l, 0, sizeof(l));
	l.devnull = l.in_r = l.out_w = l.err_w = l.stat_w = -1;
	if (!spec->shell && (!spec->argv || !spec->argv[0]))
		return err_set(e, EX_INTERNAL, "no command to run");
	p->split = !spec->inherit_output && (spec->out_cap > 0 || spec->on_out);
	p->on_out = spec->on_out;
	p->on_out_ctx = spec->on_out_ctx;
	if (spec->show_prefix && !spec->inherit_output) {
		p->show_prefix = xstrdup(spec->show_prefix);
		p->show_line = xmalloc(SHOW_LINE_MAX);
	}
	if (p->split && !p->on_out)
		buf_init(&p->out, spec->out_cap);

	if (build_env(&l, spec->env, spec->unset_env, e) == -1)
		goto fail;
	if (spec->shell) {
		l.shell_argv[0] = "sh";
		l.shell_argv[1] = "-c";
		l.shell_argv[2] = (char *)spec->shell;
		l.shell_argv[3] = NULL;
	} else {
		l.argv = spec->argv;
		build_cands(&l, spec->argv[0]);
		for (n = 0; spec->argv[n]; n++)
			;
		l.shargv = xcalloc(n + 2, sizeof(*l.shargv));
		l.shargv[0] = "sh";
		for (i = 1; i < n; i++)
			l.shargv[i + 1] = spec->argv[i];
	}

	if (spec->log_path && !spec->inherit_output) {
		p->log_fd = open_log(spec->log_path);
		if (p->log_fd >= 0)
			p->log_fd = move_high(p->log_fd);
		if (p->log_fd < 0) {
			err_set(e, EX_IOERR_, "cannot open log '%s': %s",
			    spec->log_path, strerror(errno));
			goto fail;
		}
	}
	if (!spec->in_data && devnull_fd < 0 &&
	    (devnull_fd = move_high(open("/dev/null", O_RDONLY | O_CLOEXEC))) < 0) {
		err_set(e, EX_IOERR_, "cannot open '/dev/null': %s", strerror(errno));
		goto fail;
	}
	l.devnull = devnull_fd;
	if (spec->in_data) {
		if (child_pipe(&p->in_fd, &l.in_r, 1, e) == -1)
			goto fail;
		p->in_len = spec->in_len;
		p->in_data = xmalloc(p->in_len ? p->in_len : 1);
		if (p->in_len)
			memcpy(p->in_data, spec->in_data, p->in_len);
	}
	if (!spec->inherit_output &&
	    child_pipe(&p->out_fd, &l.out_w, 0, e) == -1)
		goto fail;
	if (p->split && child_pipe(&p->err_fd, &l.err_w, 0, e) == -1)
		goto fail;
	if (cloexec_pipe(st) == -1) {
		err_set(e, EX_TEMP, "cannot create a pipe: %s", strerror(errno));
		goto fail;
	}
	l.stat_w = st[1];

	chld_init();
	ring_init(&p->tail, spec->tail_bytes ? spec->tail_bytes : TAIL_DEFAULT);
	p->timeout_ms = spec->timeout_ms > 0 ? spec->timeout_ms : 0;
	p->grace_ms = spec->grace_ms > 0 ? spec->grace_ms : GRACE_DEFAULT;
	p->started_ms = mono_ms();

	/* No handler of ours may run in the child before it resets them. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &saved);
	pid = vfork();
	if (pid == 0)
		child_run(&l, spec);
	if (pid == -1) {
		int saved_errno = errno;

		sigprocmask(SIG_SETMASK, &saved, NULL);
		err_set(e, EX_TEMP, "cannot fork: %s", strerror(saved_errno));
		close_fd(&st[0]);
		goto fail;
	}
	sigprocmask(SIG_SETMASK, &saved, NULL);
	/* Both sides call setpgid, so the group exists whoever runs first. */
	setpgid(pid, pid);
	p->pid = pid;
	p->state = PROC_RUNNING;
	close_fd(&l.stat_w);
	close_fd(&l.in_r);
	close_fd(&l.out_w);
	close_fd(&l.err_w);

	if (read_child_fail(st[0], &f)) {
		/* The child ends with 127 right after its report. */
		while (waitpid(pid, &p->status, 0) == -1 && errno == EINTR)
			;
		set_exec_msg(p, spec, &f);
		close_fd(&p->in_fd);
		close_fd(&p->out_fd);
		close_fd(&p->err_fd);
		close_fd(&p->log_fd);
		p->reaped = 1;
		p->ended_ms = mono_ms();
		p->state = PROC_DONE;
	}
	close_fd(&st[0]);
	launch_free(&l);
	feed(p);
	return 0;

fail:
	launch_free(&l);
	close_fd(&p->in_fd);
	close_fd(&p->out_fd);
	close_fd(&p->err_fd);
	close_fd(&p->log_fd);
	ring_free(&p->tail);
	free(p->in_data);
	p->in_data = NULL;
	show_free(p);
	p->state = PROC_DONE;
	p->pid = -1;
	return -1;
}

static void
show_line(struct proc *p)
{
	fprintf(stderr, "%s | %.*s\n", p->show_prefix, (int)p->show_len, p->show_line);
	p->show_len = 0;
}

/* The output shown as it comes, a line at a time (show_prefix). */
static void
show(struct proc *p, const char *s, size_t n)
{
	size_t i;

	if (!p->show_prefix)
		return;
	for (i = 0; i < n; i++) {
		if (s[i] == '\n') {
			show_line(p);
			continue;
		}
		if (p->show_len == SHOW_LINE_MAX)
			show_line(p);
		p->show_line[p->show_len++] = s[i];
	}
}

static void
log_write(struct proc *p, const char *s, size_t n)
{
	ssize_t w;

	if (p->log_fd < 0 || p->log_errno)
		return;
	while (n > 0) {
		w = write(p->log_fd, s, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			/* Remember it and keep draining: the job must not block. */
			p->log_errno = w == -1 ? errno : EIO;
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

/*
 * Bytes read from the child: stdout captured apart goes to the callback or
 * the capped buffer (passing the cap stops the group), the rest to the
 * tail; all of it to the log.
 */
static void
take(struct proc *p, int captured, char *s, size_t n)
{
	log_write(p, s, n);
	if (!captured) {
		ring_add(&p->tail, s, n);
		show(p, s, n);
		return;
	}
	if (p->on_out) {
		p->on_out(p->on_out_ctx, s, n);
	} else if (!p->overflowed && buf_add(&p->out, s, n) == -1) {
		p->overflowed = 1;
		begin_stop(p, mono_ms(), SIGTERM);
	}
	wipe(s, n);
}

/* Read what is there on *fd (bounded), closing the pipe at EOF. */
static void
drain(struct proc *p, int *fd)
{
	char buf[READ_CHUNK];
	int captured = p->split && fd == &p->out_fd;
	ssize_t r;
	int i;

	for (i = 0; *fd >= 0 && i < READ_ROUNDS; i++) {
		r = read(*fd, buf, sizeof(buf));
		if (r > 0) {
			take(p, captured, buf, (size_t)r);
		} else if (r == 0) {
			close_fd(fd);
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			break;
		} else {
			close_fd(fd);
		}
	}
}

static void
drain_all(struct proc *p)
{
	drain(p, &p->out_fd);
	drain(p, &p->err_fd);
}

/*
 * If the leader has exited, kill what is left of its group, then reap it.
 * WNOWAIT keeps the zombie, and so the group id, ours until the kill.
 */
static void
try_reap(struct proc *p, long long now)
{
	siginfo_t si;
	int r;

	memset(&si, 0, sizeof(si));
	do
		r = waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT);
	while (r == -1 && errno == EINTR);
	if (r == -1) {
		/* Someone else reaped it: we cannot know how it ended. */
		p->exec_errno = errno;
		free(p->exec_msg);
		p->exec_msg = xasprintf("lost track of process %ld: %s",
		    (long)p->pid, strerror(errno));
		p->status = 127 << 8;
	} else if (si.si_pid == 0) {
		return;
	} else {
		signal_group(p->pid, SIGKILL);
		while (waitpid(p->pid, &p->status, 0) == -1 && errno == EINTR)
			;
	}
	p->reaped = 1;
	p->ended_ms = now;
	/* Nothing of the group is left to read what stdin still had. */
	close_fd(&p->in_fd);
	drain_all(p);
}

static void
check_deadlines(struct proc *p, long long now)
{
	if (p->reaped)
		return;
	if (!p->term_sent_ms && p->timeout_ms > 0 &&
	    now >= p->started_ms + p->timeout_ms) {
		p->timed_out = 1;
		begin_stop(p, now, SIGTERM);
	} else if (p->term_sent_ms && !p->kill_sent &&
	    now >= p->term_sent_ms + p->grace_ms) {
		signal_group(p->pid, SIGKILL);
		p->kill_sent = 1;
	}
}

/* The next moment this process needs attention without an event, or -1. */
static long long
next_deadline(const struct proc *p)
{
	if (p->reaped)
		return p->out_fd >= 0 || p->err_fd >= 0 ?
		    p->ended_ms + DRAIN_MS : -1;
	if (!p->term_sent_ms)
		return p->timeout_ms > 0 ? p->started_ms + p->timeout_ms : -1;
	return p->kill_sent ? -1 : p->term_sent_ms + p->grace_ms;
}

/* Which of a process's pipes poll() found ready. */
enum { READY_OUT = 1, READY_ERR = 2, READY_IN = 4 };

/*
 * Handle what is due for one running process: stdin to feed, output, an
 * exited leader, deadlines, a drain that took too long.  1 when it is done.
 */
static int
service(struct proc *p, long long now, int ready)
{
	if (ready & READY_IN)
		feed(p);
	if (ready & READY_OUT)
		drain(p, &p->out_fd);
	if (ready & READY_ERR)
		drain(p, &p->err_fd);
	if (!p->reaped)
		try_reap(p, now);
	check_deadlines(p, now);
	if (p->reaped && (p->out_fd >= 0 || p->err_fd >= 0) &&
	    now >= p->ended_ms + DRAIN_MS) {
		/* An escaped grandchild holds a pipe: stop waiting. */
		drain_all(p);
		close_fd(&p->out_fd);
		close_fd(&p->err_fd);
	}
	if (p->reaped && p->out_fd < 0 && p->err_fd < 0) {
		close_fd(&p->log_fd);
		if (p->show_len)
			show_line(p);
		p->state = PROC_DONE;
		return 1;
	}
	return 0;
}

/* Add fd to the poll set; its slot, or (size_t)-1 for no fd. */
static size_t
watch(struct pollfd *pfd, size_t *nfd, int fd, short events)
{
	if (fd < 0)
		return (size_t)-1;
	pfd[*nfd].fd = fd;
	pfd[*nfd].events = events;
	pfd[*nfd].revents = 0;
	return (*nfd)++;
}

static int
fired(const struct pollfd *pfd, size_t slot, int bit)
{
	return slot != (size_t)-1 && pfd[slot].revents ? bit : 0;
}

int
proc_poll(struct proc **ps, size_t n, int wait_ms)
{
	struct pollfd *pfd;
	size_t *slot, i, nfd = 0;
	long long now, dl, next = -1;
	int chld, running = 0, timeout, r, done = 0;

	/*
	 * Look before sleeping: an exit whose SIGCHLD byte another call
	 * consumed, or a deadline already past, must not wait for an event.
	 */
	chld = chld_active();
	now = mono_ms();
	for (i = 0; i < n; i++) {
		if (!ps[i] || ps[i]->state != PROC_RUNNING)
			continue;
		if (service(ps[i], now, 0)) {
			done++;
			continue;
		}
		running++;
		dl = next_deadline(ps[i]);
		if (dl >= 0 && (next < 0 || dl < next))
			next = dl;
		if (!ps[i]->reaped && !chld &&
		    (next < 0 || now + CHLD_POLL_MS < next))
			next = now + CHLD_POLL_MS;
	}
	if (done || !running)
		return done;

	timeout = wait_ms < 0 ? -1 : wait_ms;
	if (next >= 0) {
		long long left = next > now ? next - now : 0;

		if (timeout < 0 || left < timeout)
			timeout = left > INT_MAX ? INT_MAX : (int)left;
	}

	/* Three pipes a process: stdout (or both), stderr apart, stdin. */
	pfd = xcalloc(3 * n + 1, sizeof(*pfd));
	slot = xcalloc(3 * n, sizeof(*slot));
	for (i = 0; i < n; i++) {
		slot[3 * i] = slot[3 * i + 1] = slot[3 * i + 2] = (size_t)-1;
		if (!ps[i] || ps[i]->state != PROC_RUNNING)
			continue;
		slot[3 * i] = watch(pfd, &nfd, ps[i]->out_fd, POLLIN);
		slot[3 * i + 1] = watch(pfd, &nfd, ps[i]->err_fd, POLLIN);
		slot[3 * i + 2] = watch(pfd, &nfd, ps[i]->in_fd, POLLOUT);
	}
	if (chld)
		watch(pfd, &nfd, chld_pipe[0], POLLIN);
	r = poll(pfd, (nfds_t)nfd, timeout);
	if (r == -1) {
		/* EINTR: let the caller look at its signal flags first. */
		free(pfd);
		free(slot);
		return 0;
	}
	if (chld)
		chld_drain();

	now = mono_ms();
	for (i = 0; i < n; i++) {
		if (!ps[i] || ps[i]->state != PROC_RUNNING)
			continue;
		done += service(ps[i], now,
		    fired(pfd, slot[3 * i], READY_OUT) |
		    fired(pfd, slot[3 * i + 1], READY_ERR) |
		    fired(pfd, slot[3 * i + 2], READY_IN));
	}
	free(pfd);
	free(slot);
	return done;
}

void
proc_stop(struct proc *p, int sig)
{
	if (p->state != PROC_RUNNING || p->reaped)
		return;
	p->cancelled = 1;
	begin_stop(p, mono_ms(), sig);
}

void
proc_cancel(struct proc *p)
{
	proc_stop(p, SIGTERM);
}

int
proc_run(struct proc *p, const struct proc_spec *spec, struct err *e)
{
	if (proc_start(p, spec, e) == -1)
		return -1;
	while (p->state != PROC_DONE)
		proc_poll(&p, 1, -1);
	return 0;
}

/* "250ms", "30s", "1.5s", "1h30m": like format_duration(), kept local. */
static void
fmt_ms(long long ms, char *out, size_t outsz)
{
	long long h, m, s;
	int frac, len;
	char fbuf[8];

	if (ms < 1000) {
		snprintf(out, outsz, "%lldms", ms < 0 ? 0 : ms);
		return;
	}
	h = ms / 3600000;
	m = ms / 60000 % 60;
	s = ms / 1000 % 60;
	frac = (int)(ms % 1000);
	fbuf[0] = '\0';
	if (frac) {
		snprintf(fbuf, sizeof(fbuf), ".%03d", frac);
		len = (int)strlen(fbuf);
		while (fbuf[len - 1] == '0')
			fbuf[--len] = '\0';
	}
	len = 0;
	out[0] = '\0';
	if (h)
		len += snprintf(out + len, outsz - (size_t)len, "%lldh", h);
	if (m && (size_t)len < outsz)
		len += snprintf(out + len, outsz - (size_t)len, "%lldm", m);
	if ((s || frac) && (size_t)len < outsz)
		snprintf(out + len, outsz - (size_t)len, "%lld%ss", s, fbuf);
}

/* "exited with status 3", "killed by SIGKILL", with 126/127 explained. */
static void
describe_status(int status, char *out, size_t outsz)
{
	char sb[32];

	if (WIFEXITED(status)) {
		int code = WEXITSTATUS(status);

		snprintf(out, outsz, "exited with status %d%s", code,
		    code == 127 ? " (command not found)" :
		    code == 126 ? " (command not executable)" : "");
	} else if (WIFSIGNALED(status)) {
		snprintf(out, outsz, "killed by %s%s",
		    sig_name(WTERMSIG(status), sb, sizeof(sb)),
#ifdef WCOREDUMP
		    WCOREDUMP(status) ? " (core dumped)" :
#endif
		    "");
	} else {
		snprintf(out, outsz, "ended with wait status %d", status);
	}
}

void
proc_describe(const struct proc *p, char *out, size_t outsz)
{
	char how[128], dur[32];

	if (!outsz)
		return;
	if (p->pid <= 0) {
		snprintf(out, outsz, "not started");
		return;
	}
	if (p->state != PROC_DONE) {
		snprintf(out, outsz, "running");
		return;
	}
	if (p->exec_msg) {
		snprintf(out, outsz, "%s", p->exec_msg);
		return;
	}
	describe_status(p->status, how, sizeof(how));
	if (p->overflowed) {
		format_size((long long)p->out.cap_max, dur, sizeof(dur));
		snprintf(out, outsz, "printed more than %s (%s)", dur, how);
	} else if (p->timed_out) {
		fmt_ms(p->timeout_ms, dur, sizeof(dur));
		snprintf(out, outsz, "%s after timeout %s", how, dur);
	} else if (p->cancelled) {
		snprintf(out, outsz, "cancelled (%s)", how);
	} else {
		snprintf(out, outsz, "%s", how);
	}
}

int
proc_exit_code(const struct proc *p)
{
	if (p->state != PROC_DONE || p->pid <= 0 || !WIFEXITED(p->status))
		return -1;
	return WEXITSTATUS(p->status);
}

int
proc_signal(const struct proc *p)
{
	if (p->state != PROC_DONE || p->pid <= 0 || !WIFSIGNALED(p->status))
		return 0;
	return WTERMSIG(p->status);
}

int
proc_status(const struct proc *p)
{
	if (p->state != PROC_DONE || p->pid <= 0)
		return -1;
	if (WIFEXITED(p->status))
		return WEXITSTATUS(p->status);
	if (WIFSIGNALED(p->status))
		return 128 + WTERMSIG(p->status);
	return -1;
}

long long
proc_elapsed_ms(const struct proc *p)
{
	if (p->pid <= 0)
		return 0;
	if (p->reaped)
		return p->ended_ms - p->started_ms;
	return mono_ms() - p->started_ms;
}

/* Free a buffer's bytes, wiping all it ever held (alloc, not just len). */
static void
buf_wipe_free(struct buf *b)
{
	if (b->data)
		wipe(b->data, b->alloc);
	buf_free(b);
}

void
proc_free(struct proc *p)
{
	close_fd(&p->in_fd);
	close_fd(&p->out_fd);
	close_fd(&p->err_fd);
	close_fd(&p->log_fd);
	/* The ring fills from its start: past total nothing was written, and
	 * wiping there would only fault in untouched pages. */
	if (p->tail.data)
		wipe(p->tail.data, p->tail.total < p->tail.max ? p->tail.total : p->tail.max);
	ring_free(&p->tail);
	buf_wipe_free(&p->out);
	if (p->in_data)
		wipe(p->in_data, p->in_len);
	free(p->in_data);
	p->in_data = NULL;
	free(p->exec_msg);
	p->exec_msg = NULL;
	show_free(p);
}

int
proc_capture(const struct proc_spec *spec, struct proc_result *r,
    struct err *e)
{
	struct proc_spec s = *spec;
	struct proc p;
	const char *name = spec->shell ? "sh" : spec->argv ? spec->argv[0] : "";
	int answered, code;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	s.inherit_output = 0;
	s.on_out = NULL;
	if (s.out_cap == 0)
		s.out_cap = CAPTURE_DEFAULT;
	if (proc_run(&p, &s, e) == -1) {
		snprintf(r->how, sizeof(r->how), "not started");
		proc_free(&p);
		return -1;
	}
	r->status = proc_status(&p);
	r->exec_errno = p.exec_errno;
	r->timed_out = p.timed_out;
	r->overflowed = p.overflowed;
	proc_describe(&p, r->how, sizeof(r->how));
	r->out = buf_detach(&p.out, &r->out_len);
	r->err = ring_lines(&p.tail, INT_MAX);
	answered = WIFEXITED(p.status) && !p.exec_msg && !p.timed_out &&
	    !p.overflowed;
	proc_free(&p);
	if (answered)
		return 0;
	if (r->exec_errno)
		return err_set(e, EX_USAGE_, "%s", r->how);
	code = r->overflowed ? EX_IOERR_ : r->timed_out ? EX_TEMP : EX_INTERNAL;
	return err_set(e, code, "'%s' %s", name, r->how);
}

void
proc_result_free(struct proc_result *r)
{
	if (r->out)
		wipe(r->out, r->out_len);
	if (r->err)
		wipe(r->err, strlen(r->err));
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
	r->out_len = 0;
}

static const struct {
	int sig;
	const char *name;
} sigs[] = {
	{ SIGHUP, "SIGHUP" }, { SIGINT, "SIGINT" }, { SIGQUIT, "SIGQUIT" },
	{ SIGILL, "SIGILL" }, { SIGTRAP, "SIGTRAP" }, { SIGABRT, "SIGABRT" },
	{ SIGBUS, "SIGBUS" }, { SIGFPE, "SIGFPE" }, { SIGKILL, "SIGKILL" },
	{ SIGUSR1, "SIGUSR1" }, { SIGSEGV, "SIGSEGV" }, { SIGUSR2, "SIGUSR2" },
	{ SIGPIPE, "SIGPIPE" }, { SIGALRM, "SIGALRM" }, { SIGTERM, "SIGTERM" },
	{ SIGCHLD, "SIGCHLD" }, { SIGCONT, "SIGCONT" }, { SIGSTOP, "SIGSTOP" },
	{ SIGTSTP, "SIGTSTP" }, { SIGTTIN, "SIGTTIN" }, { SIGTTOU, "SIGTTOU" },
	{ SIGURG, "SIGURG" }, { SIGXCPU, "SIGXCPU" }, { SIGXFSZ, "SIGXFSZ" },
	{ SIGVTALRM, "SIGVTALRM" }, { SIGPROF, "SIGPROF" },
#ifdef SIGWINCH
	{ SIGWINCH, "SIGWINCH" },
#endif
#ifdef SIGIO
	{ SIGIO, "SIGIO" },
#endif
#ifdef SIGPWR
	{ SIGPWR, "SIGPWR" },
#endif
	{ SIGSYS, "SIGSYS" },
};

const char *
sig_name(int sig, char *buf, size_t bufsz)
{
	size_t i;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigs[i].sig == sig)
			return sigs[i].name;
	snprintf(buf, bufsz, "signal %d", sig);
	return buf;
}

/* ---- orphans ------------------------------------------------------------ */

void
proc_subreaper(void)
{
#if defined(__linux__) && defined(PR_SET_CHILD_SUBREAPER)
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		log_verbose("cannot become a subreaper: %s", strerror(errno));
#endif
}

/* Whether pid is in keep. */
static int
kept(const pid_t *keep, size_t nkeep, pid_t pid)
{
	size_t i;

	for (i = 0; i < nkeep; i++)
		if (keep[i] == pid)
			return 1;
	return 0;
}

/*
 * The children of this process that are not in keep, from the kernel's
 * list of the main thread's children: one small read, where a directory
 * of threads cost five calls more a finished job.  An orphan goes to the
 * first live thread of its subreaper, the main thread while that lives;
 * another thread's list holds only what that thread started itself.  -1
 * when the kernel keeps no such list (CONFIG_PROC_CHILDREN) or it does
 * not fit a page.
 */
static long
adopted_fast(const pid_t *keep, size_t nkeep, pid_t *out, size_t max)
{
	char path[64], buf[4096], *p, *end;
	size_t n = 0;
	int fd, len;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)getpid());
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	len = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	/* More children than a page holds: the slow way sees all. */
	if (len < 0 || len == (int)sizeof(buf) - 1)
		return -1;
	buf[len] = '\0';
	for (p = buf; n < max; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		if (v > 0 && !kept(keep, nkeep, (pid_t)v))
			out[n++] = (pid_t)v;
	}
	return (long)n;
}

/* The children of this process that are not in keep. */
static size_t
adopted(const pid_t *keep, size_t nkeep, pid_t *out, size_t max)
{
	long fast = adopted_fast(keep, nkeep, out, max);
	DIR *d;
	struct dirent *de;
	pid_t me;
	size_t n = 0;

	if (fast >= 0)
		return (size_t)fast;
	me = getpid();
	/* Without the children files: every process's parent, from /proc. */
	d = opendir("/proc");
	while (d && n < max && (de = readdir(d))) {
		char path[64], buf[512], *rp;
		long long ppid;
		pid_t pid;
		int fd, len;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = (pid_t)strtol(de->d_name, NULL, 10);
		snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		len = (int)read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		/* "PID (COMM) STATE PPID ...": COMM may hold anything. */
		if (!(rp = strrchr(buf, ')')) || sscanf(rp + 1, " %*c %lld", &ppid) != 1 ||
		    ppid != (long long)me)
			continue;
		if (!kept(keep, nkeep, pid))
			out[n++] = pid;
	}
	if (d)
		closedir(d);
	return n;
}

int
proc_end_adopted(const pid_t *keep, size_t nkeep, int grace_ms)
{
	pid_t v[256];
	size_t n, i;
	int ended = 0, round, waited;

	/* Each round ends what is there; their own children come next. */
	for (round = 0; round < 16 && (n = adopted(keep, nkeep, v, 256)) > 0; round++) {
		for (i = 0; i < n; i++)
			kill(v[i], SIGTERM);
		for (waited = 0; waited <= grace_ms; waited += 10) {
			size_t left = 0;

			for (i = 0; i < n; i++) {
				if (v[i] > 0 && waitpid(v[i], NULL, WNOHANG) == v[i])
					v[i] = 0;
				left += v[i] > 0;
			}
			if (!left)
				break;
			sleep_ms(10, NULL);
		}
		for (i = 0; i < n; i++)
			if (v[i] > 0) {
				kill(v[i], SIGKILL);
				while (waitpid(v[i], NULL, 0) < 0 && errno == EINTR)
					;
			}
		ended += (int)n;
	}
	return ended;
}
