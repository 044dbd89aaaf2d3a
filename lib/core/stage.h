/*
 * stage: the skeleton every ci-* command runs, in the spirit of mblaze's
 * blaze822_loop() and git's run_builtin(): a command declares its options
 * and its work, the skeleton does the rest the same way for every tool.
 *
 *   options   one table (struct stage_opt) gives getopt_long its entries
 *             and --help its text; -h/--help, --version, --new, -q/--quiet,
 *             --verbose (and -v unless the command claims it) and
 *             --version-tag are common and handled here.  A bad option
 *             prints "PROG: error: ..." and a hint, never argv[0]'s path.
 *   stdin     the document is read from stdin, except when stdin is a
 *             terminal or another character device (/dev/null), or with
 *             --new: then a new one is started.  An empty pipe or empty
 *             file means the stage before died: exit 65 (only a first
 *             stage, ci-gate, starts a document from it).
 *   upstream  when an earlier stage failed, the section says "skipped",
 *             the document is written and the exit status is 1, without
 *             calling the work at all (unless acts_on_failure).
 *   work      the command's function fills the section.  It returns 0, 1
 *             or 3 (passed, verdict failed, paused), or -1 with e set.
 *   stages    the skeleton adds the "stages" entry with the start time
 *             and the duration of the work.
 *   report    with --html FILE (offered when the command sets the html
 *             hook), the finished document, skipped or failed stages too,
 *             is also written as a page; a page that cannot be written is
 *             said and turns a verdict (0, 1, 3) into exit 74.
 *   write     the document goes to stdout, with fflush, ferror and fclose
 *             checked: a full disk or closed pipe is exit 74 with a message.
 *   exit      errors map onto the closed set of ci-pipeline(5); a usage
 *             error (2) with no section leaves the document alone: nothing
 *             is written, so a pipeline stops at the mistake.
 *
 * Signals: SIGPIPE is ignored (writes fail instead); SIGINT and SIGTERM set
 * stage_signal, which long work polls (and passes as a stop flag to
 * sleep_ms and the registry client) to save state and return.
 */
#ifndef CI_STAGE_H
#define CI_STAGE_H

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <cJSON.h>

#include "core/log.h"
#include "core/pipeline.h"

/* Keys for long-only options start here (below: the skeleton's own). */
#define STAGE_KEY 0x200
enum {
	STAGE_KEY_HELP = 0x100,
	STAGE_KEY_VERSION,
	STAGE_KEY_NEW,
	STAGE_KEY_VERBOSE,
	STAGE_KEY_VERSION_TAG,
	STAGE_KEY_HTML
};

struct stage_opt {
	const char *name;	/* long name without "--", or NULL */
	int key;		/* a short letter, or a value >= STAGE_KEY */
	int arg;		/* no_argument, required_argument, optional_argument */
	const char *argname;	/* "DIR" in --help */
	const char *help;	/* one line of --help; NULL leaves it out */
};
#define STAGE_OPT_END { NULL, 0, 0, NULL, NULL }

struct stage;

/*
 * The work of a command.  On return *section (taken) is its section of
 * the document, or NULL.  Return EX_PASS, EX_FAIL or EX_PAUSED, or -1 with
 * e set: when *section is NULL the skeleton then writes
 * {"status": "error", "reason": MESSAGE}, except for usage errors.
 */
typedef int stage_work(struct stage *s, void *arg, cJSON **section, struct err *e);

/* Write doc (borrowed) as a page to path; 0, or -1 with e.  The command
 * passes format/html's writer: core cannot include format. */
typedef int stage_report(const cJSON *doc, const char *path, struct err *e);

struct stage {
	/* Set by the command before stage_getopt(). */
	const char *prog;		/* "ci-push" */
	const char *name;		/* the section and stages name: "push", or
					 * KEY.SUB for one of many (pipeline.h) */
	const char *verb;		/* "pushing": "not pushing: upstream ..." */
	const char *synopsis;		/* the lines after "usage: " */
	const char *about;		/* a paragraph after the synopsis */
	const struct stage_opt *opts;	/* the command's own, ending STAGE_OPT_END */
	const struct option *more_opts;	/* more getopt entries (registry options) */
	const char *more_help;		/* their --help text */
	int first;			/* empty stdin starts a document */
	int acts_on_failure;		/* run the work even when upstream failed */
	int no_stdin;			/* stdin holds something else (a password) */
	int no_write;			/* standard output carries something else (TAP) */
	int ordered;			/* options end at the first operand: the rest is
					 * a command's (ci-deploy -- CMD ARGS) */
	/* Called after the upstream skip added its section, before the write
	 * (ci-smoke's TAP says "1..0 # SKIP" there); may be NULL. */
	void (*on_skip)(struct stage *s, void *arg, const char *failed_stage);
	/* Set: the command takes --html FILE, and this writes the page. */
	stage_report *html;

	/* Set by stage_getopt() from the common options. */
	int new_doc;			/* --new */
	const char *version_tag;	/* --version-tag VERSION */
	const char *html_path;		/* --html FILE */
	int exit;			/* >= 0: --help/--version/bad option: exit with it */

	/* Set by stage_run(). */
	struct pipeline p;
	long long started_ms;		/* wall clock when the work began */
	long long t0;			/* mono_ms() then */

	/* getopt state, built from the tables. */
	struct option *longopts_;
	char *shortopts_;
};

/* Set to the signal number by SIGINT/SIGTERM once stage_run() began. */
extern volatile sig_atomic_t stage_signal;

/* Name the program in messages (log_init) and clear the state. */
void stage_init(struct stage *s, const char *prog, const char *name, const char *verb);

/*
 * getopt_long over the tables: returns the key of the command's next
 * option (optarg set), or -1 at the end of the options or when the
 * command must exit now (s->exit >= 0: --help and --version printed, or
 * a bad option reported).  Common options are handled here.
 */
int stage_getopt(struct stage *s, int argc, char **argv);

/* Print the --help text to fp. */
void stage_usage(const struct stage *s, FILE *fp);

/* "PROG: error: MESSAGE" and "PROG: try 'PROG --help'"; returns EX_USAGE_
 * (for option values the command itself refuses). */
int stage_usage_error(const struct stage *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Option values: a duration (core/timeutil.h) or a whole number from lo to
 * hi.  0, or a usage error naming opt as written ("--interval", "-j"). */
int stage_duration_arg(const struct stage *s, const char *opt, const char *arg, long long *out);
int stage_long_arg(const struct stage *s, const char *opt, const char *arg, long lo, long hi,
    long *out);

/*
 * Open the document, skip on upstream failure, run work, add the section
 * and its stages entry, write the document; return the exit status.
 */
int stage_run(struct stage *s, stage_work *work, void *arg);

/* Write the document to stdout and close it, checked; returns 0 or -1
 * with e (EX_IOERR_).  stage_run() does this; exported for --dry-run
 * style paths that write without running. */
int stage_write(struct stage *s, struct err *e);

/* An exit status from the closed set of ci-pipeline(5): anything else a
 * library returned is a bug, EX_INTERNAL. */
int stage_exit_code(int code);

void stage_free(struct stage *s);

#endif
