/*
 * ci-gate: run quality-gate jobs (lint, tests, scans) as a DAG, in
 * parallel, with timeouts, captured logs, JUnit and coverage thresholds,
 * and add the verdict to the pipeline document.  The first stage: an
 * empty stdin starts a document.
 *
 * This file is the command line; the work is lib/gate (lib/gate/README).
 * Built-in jobs run as children of this executable, with the hidden first
 * argument --builtin-child (gate/builtin.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "core/stage.h"
#include "core/timeutil.h"
#include "format/html.h"
#include "gate/builtin.h"
#include "gate/gate.h"
#include "gate/spec.h"

struct options {
	struct gate_opts g;
	char **inline_jobs;	/* -g (strv) */
	char **needs;		/* --needs (strv) */
	int dry_run;
	int list_rules;
	int secrets;		/* --secrets */
	cJSON *scan;		/* its options, from the flags below */
	const char *scan_flag;	/* the first of them given, for messages */
};

enum {
	OPT_NEEDS = STAGE_KEY, OPT_FAIL_FAST, OPT_TIMEOUT, OPT_GRACE, OPT_JUNIT, OPT_SARIF,
	OPT_CQ, OPT_IGNORE_BLOCK, OPT_SECRETS, OPT_ALL_FILES, OPT_SINCE, OPT_STAGED,
	OPT_BASELINE, OPT_WRITE_BASELINE, OPT_LIST_RULES
};

static const struct stage_opt opts[] = {
	{ "file", 'f', required_argument, "FILE",
	  "job spec (JSON, comments allowed); default ./gates.json" },
	{ "gate", 'g', required_argument, "NAME=CMD", "add a job running CMD with sh -c" },
	{ "needs", OPT_NEEDS, required_argument, "JOB:DEPS",
	  "JOB runs after DEPS (comma-separated)" },
	{ "jobs", 'j', required_argument, "N", "run at most N jobs at once (default: CPUs)" },
	{ "keep-going", 'k', no_argument, NULL,
	  "after a failure, run what does not depend on it" },
	{ "fail-fast", OPT_FAIL_FAST, no_argument, NULL,
	  "cancel everything at the first failure (default)" },
	{ "timeout", OPT_TIMEOUT, required_argument, "DUR", "default job timeout (default 1h; 0: none)" },
	{ "grace", OPT_GRACE, required_argument, "DUR",
	  "SIGTERM to SIGKILL delay on timeout (default 5s)" },
	{ "out", 'o', required_argument, "DIR", "job logs go to DIR (default ci-out/gate)" },
	{ "junit", OPT_JUNIT, required_argument, "FILE", "write a JUnit XML report of the jobs" },
	{ "sarif", OPT_SARIF, required_argument, "FILE", "write the secrets found as SARIF 2.1.0" },
	{ "codequality", OPT_CQ, required_argument, "FILE",
	  "write the secrets found as GitLab Code Quality JSON" },
	{ "ignore-block", OPT_IGNORE_BLOCK, no_argument, NULL,
	  "run even while ci-rollback blocks the pipeline" },
	{ "secrets", OPT_SECRETS, no_argument, NULL,
	  "run only the secret scanner, on PATHs (default .)" },
	{ "all-files", OPT_ALL_FILES, no_argument, NULL, "scan every file, not only those git tracks" },
	{ "since", OPT_SINCE, required_argument, "REV", "scan only the lines added since REV forked" },
	{ "staged", OPT_STAGED, no_argument, NULL, "scan only the lines staged for commit" },
	{ "baseline", OPT_BASELINE, required_argument, "FILE",
	  "do not report the findings FILE lists" },
	{ "write-baseline", OPT_WRITE_BASELINE, required_argument, "FILE",
	  "record every finding in FILE, then pass" },
	{ "list-rules", OPT_LIST_RULES, no_argument, NULL,
	  "print the secret scanner's rules (-v: with their EREs)" },
	{ "dry-run", 'n', no_argument, NULL, "print the plan, run nothing" },
	STAGE_OPT_END
};

/* A flag of the secret scanner: its option in the built-in job's terms. */
static void
scan_opt(struct options *o, const char *flag, const char *key, cJSON *val)
{
	if (!o->scan_flag)
		o->scan_flag = flag;
	json_set(o->scan, key, val);
}

static int
option(struct stage *st, struct options *o, int c, const char *arg)
{
	struct err e = { 0, "" };
	const char *why = NULL;
	char *end;

	switch (c) {
	case 'f':
		o->g.spec = arg;
		break;
	case 'g':
		if (gate_inline_check(arg, &e) < 0)
			return stage_usage_error(st, "%s", e.msg);
		o->inline_jobs = strv_push(o->inline_jobs, arg);
		break;
	case OPT_NEEDS:
		end = strchr(arg, ':');
		if (!end || end == arg || !end[1])
			return stage_usage_error(st, "--needs '%s': expected JOB:DEP[,DEP...]", arg);
		o->needs = strv_push(o->needs, arg);
		break;
	case 'j':
		o->g.jobs = strtol(arg, &end, 10);
		if (end == arg || *end || o->g.jobs < 1 || o->g.jobs > 1024)
			return stage_usage_error(st, "-j '%s': expected a number of jobs from 1 "
			    "to 1024", arg);
		break;
	case 'k':
	case OPT_FAIL_FAST:
		o->g.keep_going = c == 'k';
		break;
	case OPT_TIMEOUT:
	case OPT_GRACE:
		if (parse_duration(arg, c == OPT_GRACE ? &o->g.grace_ms : &o->g.timeout_ms,
		    &why) < 0)
			return stage_usage_error(st, "--%s '%s': %s", c == OPT_GRACE ? "grace" :
			    "timeout", arg, why);
		break;
	case 'o':
		o->g.out_dir = arg;
		break;
	case OPT_JUNIT:
		o->g.junit_out = arg;
		break;
	case OPT_SARIF:
		o->g.sarif_out = arg;
		break;
	case OPT_CQ:
		o->g.cq_out = arg;
		break;
	case OPT_IGNORE_BLOCK:
		o->g.ignore_block = 1;
		break;
	case OPT_SECRETS:
		o->secrets = 1;
		break;
	case OPT_ALL_FILES:
		scan_opt(o, "--all-files", "all_files", cJSON_CreateTrue());
		break;
	case OPT_STAGED:
		scan_opt(o, "--staged", "staged", cJSON_CreateTrue());
		break;
	case OPT_SINCE:
		if (!*arg || arg[0] == '-')
			return stage_usage_error(st, "--since '%s': expected a revision", arg);
		scan_opt(o, "--since", "since", cJSON_CreateString(arg));
		break;
	case OPT_BASELINE:
		scan_opt(o, "--baseline", "baseline", cJSON_CreateString(arg));
		break;
	case OPT_WRITE_BASELINE:
		scan_opt(o, "--write-baseline", "write_baseline", cJSON_CreateString(arg));
		break;
	case OPT_LIST_RULES:
		o->list_rules = 1;
		break;
	case 'n':
		o->dry_run = 1;
		break;
	}
	return 0;
}

/* After the options: what goes together; the PATH arguments. */
static int
finish(struct stage *st, struct options *o, int argc, char **argv)
{
	cJSON *paths;
	int i, modes;

	o->g.inline_jobs = o->inline_jobs;
	o->g.needs = o->needs;
	if (!o->secrets) {
		if (optind < argc)
			return stage_usage_error(st, "unexpected argument '%s' (paths go with "
			    "--secrets)", argv[optind]);
		if (o->scan_flag)
			return stage_usage_error(st, "%s goes with --secrets (in a spec file, it is "
			    "an option of a \"builtin\": \"secrets\" job)", o->scan_flag);
		return 0;
	}
	if (o->g.spec || o->inline_jobs || o->needs)
		return stage_usage_error(st, "--secrets runs the secret scanner alone: it takes "
		    "no -f, -g or --needs (add a \"builtin\": \"secrets\" job to the spec file "
		    "instead)");
	modes = cJSON_HasObjectItem(o->scan, "all_files") + cJSON_HasObjectItem(o->scan,
	    "staged") + cJSON_HasObjectItem(o->scan, "since");
	if (modes > 1)
		return stage_usage_error(st, "give at most one of --all-files, --since and "
		    "--staged");
	if (optind < argc) {
		paths = cJSON_CreateArray();
		for (i = optind; i < argc; i++)
			cJSON_AddItemToArray(paths, cJSON_CreateString(argv[i]));
		json_set(o->scan, "paths", paths);
	}
	o->g.secrets = o->scan;
	return 0;
}

static int
parse_args(struct stage *st, int argc, char **argv, struct options *o)
{
	int c;

	st->synopsis =
	    "ci-gate [-hknqv] [-f FILE] [-g NAME=COMMAND]... [--needs JOB:DEP[,DEP]]...\n"
	    "               [-j N] [--keep-going | --fail-fast] [--timeout DURATION]\n"
	    "               [--grace DURATION] [-o DIR] [--junit FILE] [--sarif FILE]\n"
	    "               [--codequality FILE] [--ignore-block] [--dry-run]\n"
	    "               [--html FILE] [--new] [--version-tag VERSION]\n"
	    "       ci-gate --secrets [-nqv] [--all-files | --since REV | --staged]\n"
	    "               [--baseline FILE] [--write-baseline FILE] [--sarif FILE]\n"
	    "               [--codequality FILE] [--timeout DURATION] [-o DIR] [--junit FILE]\n"
	    "               [--ignore-block] [--html FILE] [--new] [--version-tag VERSION]\n"
	    "               [PATH ...]\n"
	    "       ci-gate --list-rules [-v]\n"
	    "       ci-gate --version";
	st->about = "Run the quality-gate jobs of a spec file and the command line as a DAG,\n"
	    "in parallel, and add the verdict to the pipeline document on stdin.";
	st->opts = opts;
	while ((c = stage_getopt(st, argc, argv)) != -1)
		if (option(st, o, c, optarg) != 0)
			return EX_USAGE_;
	if (st->exit >= 0)
		return st->exit;
	if (finish(st, o, argc, argv) != 0)
		return EX_USAGE_;
	return -1;
}

static int
work(struct stage *st, void *arg, cJSON **section, struct err *e)
{
	struct options *o = arg;

	(void)st;
	o->g.stop = &stage_signal;
	return gate_work(&o->g, section, e);
}

/* What --dry-run and --list-rules print instead of a document. */
static int
print(const struct buf *b)
{
	fputs(buf_str(b), stdout);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		log_error("cannot write to stdout: %s", strerror(errno));
		return EX_IOERR_;
	}
	return EX_PASS;
}

int
main(int argc, char **argv)
{
	struct stage st;
	struct options o;
	struct err e = { 0, "" };
	struct buf out = BUF_INIT;
	int rc;

	log_init("ci-gate");
	if (argc >= 2 && !strcmp(argv[1], GATE_CHILD_ARG)) {
		rc = gate_builtin_child(argc, argv, stdout);
		return fflush(stdout) == EOF || ferror(stdout) ? (rc ? rc : EX_IOERR_) : rc;
	}
	stage_init(&st, "ci-gate", "gate", "running the gate");
	st.html = html_report_write;
	st.first = 1;
	memset(&o, 0, sizeof(o));
	gate_opts_init(&o.g, argv[0]);
	{
		/* The runners' shared block lives where their ledger does. */
		const char *l = getenv("CI_LEDGER");

		if (l && !strncmp(l, "git:", 4))
			o.g.shared_block = l;
	}
	o.scan = cJSON_CreateObject();
	rc = parse_args(&st, argc, argv, &o);
	if (rc < 0 && o.list_rules) {
		gate_builtin_rules(&out, log_level() >= LOG_VERBOSE);
		rc = print(&out);
	} else if (rc < 0 && o.dry_run) {
		rc = gate_dry_run(&o.g, &out, &e) < 0 ? err_report(&e) : print(&out);
	} else if (rc < 0) {
		rc = stage_run(&st, work, &o);
	}
	buf_free(&out);
	stage_free(&st);
	strv_free(o.inline_jobs);
	strv_free(o.needs);
	cJSON_Delete(o.scan);
	return rc;
}
