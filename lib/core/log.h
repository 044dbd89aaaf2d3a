/*
 * log: diagnostics on stderr and the error record lib/ hands back.
 *
 * Every message has the form "PROG: LEVEL: text" ("ci-gate: error: ...").
 * lib/ never exits and never writes to stdout: a failing function fills a
 * struct err (a message and an exit status from DESIGN's closed set) and
 * returns -1; the command prints it and chooses the exit status.
 */
#ifndef CI_LOG_H
#define CI_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* The closed set of exit statuses every tool shares (ci-pipeline(5)). */
enum {
	EX_PASS = 0,
	EX_FAIL = 1,
	EX_USAGE_ = 2,
	EX_PAUSED = 3,
	EX_DOC = 65,
	EX_SERVICE = 69,
	EX_INTERNAL = 70,
	EX_IOERR_ = 74,
	EX_TEMP = 75,
	EX_AUTH = 77
};

enum log_level { LOG_QUIET = -1, LOG_NORMAL = 0, LOG_VERBOSE = 1, LOG_DEBUG = 2 };

struct err {
	int code;		/* exit status the command should use */
	char msg[1024];		/* lowercase, no full stop, names quoted */
};

void log_init(const char *prog);
const char *log_prog(void);
void log_set_level(int level);
int log_level(void);
/* How many messages went to stderr so far (a terminal display that redraws
 * itself knows when someone wrote below it). */
unsigned long log_lines(void);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Informational: silent with -q. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only with -v. */
void log_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Fill e (which may be NULL) and return -1, so callers write
 * "return err_set(e, EX_DOC, "...")". */
int err_set(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefix an existing message: "context: old message". Returns -1. */
int err_prefix(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void err_clear(struct err *e);

/* Print e as "PROG: error: msg" and return its code. */
int err_report(const struct err *e);

/* Allocation that cannot fail silently: on exhaustion it prints a message
 * and aborts the process (there is nothing sane a tool can do after that). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a fresh allocation. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap);
/* Overwrite then free: for secrets. */
void free_secret(char *s);

#endif
