#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/stage.h"
#include "core/timeutil.h"
#include "core/version.h"

volatile sig_atomic_t stage_signal;

static const struct stage_opt common_opts[] = {
	{ "new", STAGE_KEY_NEW, no_argument, NULL,
	  "start a new document; do not read stdin" },
	{ "version-tag", STAGE_KEY_VERSION_TAG, required_argument, "VERSION",
	  "the release version a new document records (run.source.version)" },
	{ "quiet", 'q', no_argument, NULL, "only errors on stderr" },
	{ "verbose", STAGE_KEY_VERBOSE, no_argument, NULL, "more detail on stderr" },
	{ "help", 'h', no_argument, NULL, "print this help and exit" },
	{ "version", STAGE_KEY_VERSION, no_argument, NULL, "print the version and exit" },
	STAGE_OPT_END
};

/* Offered by the commands that set the html hook. */
static const struct stage_opt html_opts[] = {
	{ "html", STAGE_KEY_HTML, required_argument, "FILE",
	  "also write the pipeline as an HTML page to FILE" },
	STAGE_OPT_END
};

void
stage_init(struct stage *s, const char *prog, const char *name, const char *verb)
{
	memset(s, 0, sizeof(*s));
	s->prog = prog;
	s->name = name;
	s->verb = verb;
	s->exit = -1;
	log_init(prog);
}

static int
claims(const struct stage_opt *o, int key)
{
	for (; o && (o->name || o->key); o++)
		if (o->key == key)
			return 1;
	return 0;
}

static void
add_table(const struct stage_opt *o, struct option **lo, size_t *nlo, struct buf *so)
{
	for (; o && (o->name || o->key); o++) {
		if (o->name) {
			*lo = xrealloc(*lo, (*nlo + 2) * sizeof(**lo));
			(*lo)[*nlo].name = o->name;
			(*lo)[*nlo].has_arg = o->arg;
			(*lo)[*nlo].flag = NULL;
			(*lo)[*nlo].val = o->key;
			(*nlo)++;
		}
		if (o->key > 0 && o->key < 0x80) {
			buf_addc(so, (char)o->key);
			if (o->arg == required_argument)
				buf_addc(so, ':');
			else if (o->arg == optional_argument)
				buf_adds(so, "::");
		}
	}
}

static void
build_tables(struct stage *s)
{
	struct option *lo = NULL;
	size_t nlo = 0;
	struct buf so = BUF_INIT;
	const struct option *m;

	/* '+': stop at the first operand; ':': report a missing argument as ':'. */
	buf_adds(&so, s->ordered ? "+:" : ":");
	add_table(s->opts, &lo, &nlo, &so);
	if (s->html)
		add_table(html_opts, &lo, &nlo, &so);
	add_table(common_opts, &lo, &nlo, &so);
	if (!claims(s->opts, 'v'))
		buf_addc(&so, 'v');
	for (m = s->more_opts; m && m->name; m++) {
		lo = xrealloc(lo, (nlo + 2) * sizeof(*lo));
		lo[nlo++] = *m;
	}
	lo = xrealloc(lo, (nlo + 1) * sizeof(*lo));
	memset(&lo[nlo], 0, sizeof(*lo));
	s->longopts_ = lo;
	s->shortopts_ = buf_detach(&so, NULL);
}

static int
print_and_exit(struct stage *s, int what)
{
	if (what == 'h')
		stage_usage(s, stdout);
	else
		printf("%s %s\n", s->prog, ci_version);
	s->exit = fflush(stdout) == EOF || ferror(stdout) ? EX_IOERR_ : EX_PASS;
	if (s->exit)
		log_error("cannot write to stdout: %s", strerror(errno));
	return -1;
}

/* The option as the user wrote it, for messages. */
static void
option_name(const struct stage *s, char **argv, int c, char *out, size_t outsz)
{
	const char *w = optind > 0 ? argv[optind - 1] : NULL;

	if (c && c != '?' && c != ':' && c < 0x80 && c > ' ' &&
	    (!w || w[0] != '-' || w[1] == '-')) {
		snprintf(out, outsz, "-%c", c);
		return;
	}
	if (w && w[0] == '-' && w[1] == '-') {
		size_t n = strcspn(w, "=");

		snprintf(out, outsz, "%.*s", (int)n, w);
		return;
	}
	if (c > 0 && c < 0x80)
		snprintf(out, outsz, "-%c", c);
	else
		snprintf(out, outsz, "%s", w ? w : "?");
	(void)s;
}

/* The value of a common option, which may not be empty. */
static int
value(struct stage *s, const char *opt, const char *what, const char **out)
{
	if (!*optarg) {
		s->exit = stage_usage_error(s, "%s: expected %s", opt, what);
		return -1;
	}
	*out = optarg;
	return 0;
}

int
stage_getopt(struct stage *s, int argc, char **argv)
{
	int c;
	char name[128];

	if (!s->longopts_)
		build_tables(s);
	if (s->exit >= 0)
		return -1;
	opterr = 0;
	for (;;) {
		c = getopt_long(argc, argv, s->shortopts_, s->longopts_, NULL);
		switch (c) {
		case -1:
			return -1;
		case 'h':
			if (claims(s->opts, 'h'))
				return c;
			return print_and_exit(s, 'h');
		case STAGE_KEY_VERSION:
			return print_and_exit(s, 'V');
		case STAGE_KEY_NEW:
			s->new_doc = 1;
			continue;
		case STAGE_KEY_VERSION_TAG:
			if (value(s, "--version-tag", "a version", &s->version_tag) < 0)
				return -1;
			continue;
		case STAGE_KEY_HTML:
			if (value(s, "--html", "a file name", &s->html_path) < 0)
				return -1;
			continue;
		case 'q':
			if (claims(s->opts, 'q'))
				return c;
			log_set_level(LOG_QUIET);
			continue;
		case 'v':
			if (claims(s->opts, 'v'))
				return c;
			/* fall through */
		case STAGE_KEY_VERBOSE:
			log_set_level(log_level() < LOG_NORMAL ? LOG_VERBOSE : log_level() + 1);
			continue;
		case ':':
			option_name(s, argv, optopt, name, sizeof(name));
			s->exit = stage_usage_error(s, "option '%s' needs a value", name);
			return -1;
		case '?':
			if (optopt && optopt < 0x80)
				snprintf(name, sizeof(name), "-%c", optopt);
			else
				option_name(s, argv, 0, name, sizeof(name));
			s->exit = stage_usage_error(s, "unknown option '%s'", name);
			return -1;
		default:
			return c;
		}
	}
}

static void
usage_lines(FILE *fp, const struct stage_opt *o, const struct stage *s)
{
	for (; o && (o->name || o->key); o++) {
		char left[64];
		int n;

		if (!o->help)
			continue;
		if (o->key > 0 && o->key < 0x80 && o->name)
			n = snprintf(left, sizeof(left), "  -%c, --%s", o->key, o->name);
		else if (o->key > 0 && o->key < 0x80)
			n = snprintf(left, sizeof(left), "  -%c", o->key);
		else
			n = snprintf(left, sizeof(left), "      --%s", o->name);
		if (o->argname && n > 0 && (size_t)n < sizeof(left))
			snprintf(left + n, sizeof(left) - (size_t)n, o->arg == optional_argument ?
			    "[=%s]" : " %s", o->argname);
		if (o == &common_opts[3] && !claims(s->opts, 'v'))
			fprintf(fp, "  -v, --verbose           %s\n", o->help);
		else if (strlen(left) < 25)
			fprintf(fp, "%-25s %s\n", left, o->help);
		else
			fprintf(fp, "%s\n%-25s %s\n", left, "", o->help);
	}
}

void
stage_usage(const struct stage *s, FILE *fp)
{
	fprintf(fp, "usage: %s\n", s->synopsis ? s->synopsis : s->prog);
	if (s->about)
		fprintf(fp, "\n%s\n", s->about);
	fputc('\n', fp);
	usage_lines(fp, s->opts, s);
	if (s->html)
		usage_lines(fp, html_opts, s);
	usage_lines(fp, common_opts, s);
	if (s->more_help)
		fprintf(fp, "\n%s", s->more_help);
}

int
stage_usage_error(const struct stage *s, const char *fmt, ...)
{
	va_list ap;
	char msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s", msg);
	fprintf(stderr, "%s: try '%s --help'\n", s->prog, s->prog);
	return EX_USAGE_;
}

int
stage_exit_code(int code)
{
	switch (code) {
	case EX_PASS: case EX_FAIL: case EX_USAGE_: case EX_PAUSED: case EX_DOC:
	case EX_SERVICE: case EX_INTERNAL: case EX_IOERR_: case EX_TEMP: case EX_AUTH:
		return code;
	}
	return EX_INTERNAL;
}

static void
on_signal(int sig)
{
	stage_signal = sig;
}

int
stage_write(struct stage *s, struct err *e)
{
	if (s->no_write)
		return 0;
	if (pipeline_write(&s->p, stdout, e) < 0)
		return -1;
	/* fclose reports what a full disk or closed pipe did to the buffer. */
	if (fclose(stdout) == EOF)
		return err_set(e, EX_IOERR_, "cannot write the pipeline document: %s",
		    strerror(errno));
	return 0;
}

/*
 * The page of the document as it goes out (--html).  A page that cannot
 * be written is said, and a verdict (passed, failed, paused) becomes
 * EX_IOERR_ as a document that cannot be written does; an error status
 * already says more about the run, and stays.
 */
static int
write_report(struct stage *s, int rc)
{
	struct err e = { 0, "" };

	if (!s->html || !s->html_path || !s->p.doc)
		return rc;
	if (s->html(s->p.doc, s->html_path, &e) == 0)
		return rc;
	if (!e.msg[0])
		err_set(&e, EX_IOERR_, "cannot write '%s'", s->html_path);
	log_error("%s", e.msg);
	return rc == EX_PASS || rc == EX_FAIL || rc == EX_PAUSED ? EX_IOERR_ : rc;
}

int
stage_run(struct stage *s, stage_work *work, void *arg)
{
	struct err e = { 0, "" };
	struct sigaction sa;
	cJSON *sec = NULL;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (pipeline_open(&s->p, !s->new_doc && !s->no_stdin, s->first, s->version_tag, &e) < 0)
		return stage_exit_code(err_report(&e));
	if (!s->acts_on_failure && pipeline_skip_upstream(&s->p, s->name, s->verb)) {
		if (s->on_skip)
			s->on_skip(s, arg, json_str(pipeline_section(s->p.doc, s->name), "failed_stage"));
		rc = write_report(s, EX_FAIL);
		return stage_write(s, &e) < 0 ? err_report(&e) : rc;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	s->started_ms = now_ms();
	s->t0 = mono_ms();
	rc = work(s, arg, &sec, &e);
	if (rc < 0) {
		if (!e.code)
			e.code = EX_INTERNAL;
		if (stage_signal && e.code != EX_TEMP)
			err_set(&e, EX_TEMP, "interrupted by signal %d: %s", (int)stage_signal,
			    e.msg);
		rc = stage_exit_code(err_report(&e));
		if (!sec && rc == EX_USAGE_)
			return rc;
		if (!sec) {
			sec = cJSON_CreateObject();
			cJSON_AddStringToObject(sec, "status", "error");
			cJSON_AddStringToObject(sec, "reason", e.msg);
		}
	} else {
		rc = stage_exit_code(rc);
	}
	if (sec)
		pipeline_set_section(&s->p, s->name, sec, s->started_ms, mono_ms() - s->t0);
	rc = write_report(s, rc);
	if (stage_write(s, &e) < 0)
		rc = err_report(&e);
	return rc;
}

void
stage_free(struct stage *s)
{
	pipeline_free(&s->p);
	free(s->longopts_);
	free(s->shortopts_);
	s->longopts_ = NULL;
	s->shortopts_ = NULL;
}

int
stage_duration_arg(const struct stage *s, const char *opt, const char *arg, long long *out)
{
	const char *why = NULL;

	if (parse_duration(arg, out, &why) < 0)
		return stage_usage_error(s, "%s '%s': %s", opt, arg, why ? why : "bad duration");
	return 0;
}

int
stage_long_arg(const struct stage *s, const char *opt, const char *arg, long lo, long hi,
    long *out)
{
	char *end;

	errno = 0;
	*out = strtol(arg, &end, 10);
	if (errno || end == arg || *end || *out < lo || *out > hi)
		return stage_usage_error(s, "%s '%s': expected a number from %ld to %ld", opt, arg,
		    lo, hi);
	return 0;
}
