/*
 * ci-gate: run quality-gate jobs (lint, tests, scans) as a DAG, in
 * parallel, with timeouts, captured logs, JUnit and coverage thresholds,
 * and add the verdict to the pipeline document.
 *
 * Built-in jobs ("builtin": "secrets" or "review") run as a child of
 * ci-gate too: ci-gate executes itself (/proc/self/exe) with the hidden
 * first argument --builtin-child, so a built-in gets the same process
 * group, timeout, cancellation and log file as any job, and a crash or a
 * hang in it cannot take the gate down.  The child reads its options from
 * OUT/NAME.options.json and writes its verdict to OUT/NAME.result.json,
 * which ci-gate reads back into the job.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "core/log.h"
#include "core/pipeline.h"
#include "core/timeutil.h"
#include "core/version.h"
#include "gate/block.h"
#include "gate/builtin.h"
#include "gate/dag.h"
#include "gate/gate.h"
#include "gate/job.h"
#include "gate/reports.h"
#include "gate/sched.h"
#include "gate/secrets.h"
#include "gate/spec.h"
#include "gate/view.h"


struct options {
	const char *spec;
	char **inline_jobs;	/* "NAME=COMMAND" */
	size_t ninline;
	char **needs;		/* "JOB:DEP,..." (strv) */
	long jobs;		/* 0: unset */
	int keep_going;		/* -1 unset, 0 fail fast, 1 keep going */
	long long timeout_ms;	/* -1 unset */
	long long grace_ms;
	const char *out_dir;
	const char *junit_out;
	const char *version;
	int dry_run;
	int new_doc;
	const char *sarif_out;
	const char *cq_out;
	int ignore_block;
	int list_rules;
	/* --secrets: one built-in secrets job, from these */
	int secrets;
	int all_files, staged;
	const char *since;
	const char *baseline;
	const char *write_baseline;
	char **paths;		/* borrowed from argv */
	size_t npaths;
	const char *self;	/* our executable, for built-in children */
};

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	interrupted = sig;
}

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: ci-gate [-hknqv] [-f FILE] [-g NAME=COMMAND]... [--needs JOB:DEP[,DEP]]...\n"
	    "               [-j N] [--keep-going | --fail-fast] [--timeout DURATION]\n"
	    "               [--grace DURATION] [-o DIR] [--junit FILE] [--sarif FILE]\n"
	    "               [--codequality FILE] [--ignore-block] [--dry-run]\n"
	    "               [--new] [--version-tag VERSION]\n"
	    "       ci-gate --secrets [-nqv] [--all-files | --since REV | --staged]\n"
	    "               [--baseline FILE] [--write-baseline FILE] [--sarif FILE]\n"
	    "               [--codequality FILE] [--timeout DURATION] [-o DIR] [--junit FILE]\n"
	    "               [--ignore-block] [--new] [--version-tag VERSION] [PATH ...]\n"
	    "       ci-gate --list-rules [-v]\n"
	    "       ci-gate --version\n"
	    "\n"
	    "  -f, --file FILE        job spec (JSON, comments allowed); default ./gates.json\n"
	    "  -g, --gate NAME=CMD    add a job running CMD with sh -c\n"
	    "      --needs JOB:DEPS   JOB runs after DEPS (comma-separated)\n"
	    "  -j, --jobs N           run at most N jobs at once (default: CPUs)\n"
	    "  -k, --keep-going       after a failure, run what does not depend on it\n"
	    "      --fail-fast        cancel everything at the first failure (default)\n"
	    "      --timeout DUR      default job timeout (default 1h; 0: none)\n"
	    "      --grace DUR        SIGTERM to SIGKILL delay on timeout (default 5s)\n"
	    "  -o, --out DIR          job logs go to DIR (default ci-out/gate)\n"
	    "      --junit FILE       write a JUnit XML report of the jobs\n"
	    "      --sarif FILE       write the secrets found as SARIF 2.1.0\n"
	    "      --codequality FILE write the secrets found as GitLab Code Quality JSON\n"
	    "      --ignore-block     run even while ci-rollback blocks the pipeline\n"
	    "      --secrets          run only the secret scanner, on PATHs (default .)\n"
	    "      --all-files        scan every file, not only those git tracks\n"
	    "      --since REV        scan only the lines added since REV forked\n"
	    "      --staged           scan only the lines staged for commit\n"
	    "      --baseline FILE    do not report the findings FILE lists\n"
	    "      --write-baseline FILE  record every finding in FILE, then pass\n"
	    "      --list-rules       print the secret scanner's rules (-v: with their EREs)\n"
	    "  -n, --dry-run          print the plan, run nothing\n"
	    "      --new              start a new document; do not read stdin\n"
	    "      --version-tag V    record V as run.source.version in a new document\n"
	    "  -q, --quiet            only errors on stderr\n"
	    "  -v, --verbose          more detail on stderr\n"
	    "  -h, --help             this text\n"
	    "      --version          print the version\n");
}

/* ---- main ----------------------------------------------------------- */

enum {
	OPT_NEEDS = 256, OPT_FAIL_FAST, OPT_TIMEOUT, OPT_GRACE, OPT_JUNIT, OPT_NEW,
	OPT_VERSION, OPT_VERSION_TAG, OPT_SARIF, OPT_CQ, OPT_IGNORE_BLOCK, OPT_SECRETS,
	OPT_ALL_FILES, OPT_SINCE, OPT_STAGED, OPT_BASELINE, OPT_WRITE_BASELINE, OPT_LIST_RULES
};

static int
parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "all-files", no_argument, NULL, OPT_ALL_FILES },
		{ "baseline", required_argument, NULL, OPT_BASELINE },
		{ "codequality", required_argument, NULL, OPT_CQ },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "fail-fast", no_argument, NULL, OPT_FAIL_FAST },
		{ "file", required_argument, NULL, 'f' },
		{ "gate", required_argument, NULL, 'g' },
		{ "grace", required_argument, NULL, OPT_GRACE },
		{ "help", no_argument, NULL, 'h' },
		{ "ignore-block", no_argument, NULL, OPT_IGNORE_BLOCK },
		{ "jobs", required_argument, NULL, 'j' },
		{ "junit", required_argument, NULL, OPT_JUNIT },
		{ "keep-going", no_argument, NULL, 'k' },
		{ "list-rules", no_argument, NULL, OPT_LIST_RULES },
		{ "needs", required_argument, NULL, OPT_NEEDS },
		{ "new", no_argument, NULL, OPT_NEW },
		{ "out", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "sarif", required_argument, NULL, OPT_SARIF },
		{ "secrets", no_argument, NULL, OPT_SECRETS },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "staged", no_argument, NULL, OPT_STAGED },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "version-tag", required_argument, NULL, OPT_VERSION_TAG },
		{ "write-baseline", required_argument, NULL, OPT_WRITE_BASELINE },
		{ NULL, 0, NULL, 0 }
	};
	const char *why;
	char *end, *colon;
	int c;

	while ((c = getopt_long(argc, argv, "f:g:hj:kno:qv", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->spec = optarg;
			break;
		case 'g':
			o->inline_jobs = xrealloc(o->inline_jobs, (o->ninline + 1) * sizeof(char *));
			o->inline_jobs[o->ninline++] = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'j':
			errno = 0;
			o->jobs = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || o->jobs < 1 || o->jobs > 1024) {
				log_error("-j '%s': expected a number of jobs from 1 to 1024", optarg);
				return -1;
			}
			break;
		case 'k':
			o->keep_going = 1;
			break;
		case 'n':
			o->dry_run = 1;
			break;
		case 'o':
			o->out_dir = optarg;
			break;
		case 'q':
			log_set_level(LOG_QUIET);
			break;
		case 'v':
			log_set_level(log_level() + 1);
			break;
		case OPT_FAIL_FAST:
			o->keep_going = 0;
			break;
		case OPT_GRACE:
		case OPT_TIMEOUT:
			if (parse_duration(optarg, c == OPT_GRACE ? &o->grace_ms : &o->timeout_ms, &why) < 0) {
				log_error("--%s '%s': %s", c == OPT_GRACE ? "grace" : "timeout", optarg, why);
				return -1;
			}
			break;
		case OPT_JUNIT:
			o->junit_out = optarg;
			break;
		case OPT_NEEDS:
			colon = strchr(optarg, ':');
			if (!colon || colon == optarg || !colon[1]) {
				log_error("--needs '%s': expected JOB:DEP[,DEP...]", optarg);
				return -1;
			}
			o->needs = strv_push(o->needs, optarg);
			break;
		case OPT_NEW:
			o->new_doc = 1;
			break;
		case OPT_VERSION:
			printf("ci-gate %s\n", ci_version);
			exit(0);
		case OPT_VERSION_TAG:
			o->version = optarg;
			break;
		case OPT_SARIF:
			o->sarif_out = optarg;
			break;
		case OPT_CQ:
			o->cq_out = optarg;
			break;
		case OPT_IGNORE_BLOCK:
			o->ignore_block = 1;
			break;
		case OPT_SECRETS:
			o->secrets = 1;
			break;
		case OPT_ALL_FILES:
			o->all_files = 1;
			break;
		case OPT_SINCE:
			if (!*optarg || optarg[0] == '-') {
				log_error("--since '%s': expected a revision", optarg);
				return -1;
			}
			o->since = optarg;
			break;
		case OPT_STAGED:
			o->staged = 1;
			break;
		case OPT_BASELINE:
			o->baseline = optarg;
			break;
		case OPT_WRITE_BASELINE:
			o->write_baseline = optarg;
			break;
		case OPT_LIST_RULES:
			o->list_rules = 1;
			break;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (!o->secrets) {
		const char *needs = o->all_files ? "--all-files" : o->since ? "--since" :
		    o->staged ? "--staged" : o->baseline ? "--baseline" :
		    o->write_baseline ? "--write-baseline" : NULL;

		if (optind < argc) {
			log_error("unexpected argument '%s' (paths go with --secrets)", argv[optind]);
			usage(stderr);
			return -1;
		}
		if (needs) {
			log_error("%s goes with --secrets (in a spec file, it is an option of a "
			    "\"builtin\": \"secrets\" job)", needs);
			return -1;
		}
		return 0;
	}
	if (o->spec || o->ninline || o->needs) {
		log_error("--secrets runs the secret scanner alone: it takes no -f, -g or --needs "
		    "(add a \"builtin\": \"secrets\" job to the spec file instead)");
		return -1;
	}
	if (o->all_files + o->staged + (o->since != NULL) > 1) {
		log_error("give at most one of --all-files, --since and --staged");
		return -1;
	}
	o->paths = argv + optind;
	o->npaths = (size_t)(argc - optind);
	return 0;
}

static void
options_free(struct options *o)
{
	strv_free(o->needs);
	free(o->inline_jobs);
}

/* Build the gate from the spec file and the command line. */
static int
load_gate(const struct options *o, struct gate *g, const char **spec_used, struct err *e)
{
	size_t i;

	*spec_used = NULL;
	if (o->secrets) {
		cJSON *opts = cJSON_CreateObject();
		int rc;

		if (o->npaths) {
			cJSON *a = cJSON_AddArrayToObject(opts, "paths");

			for (i = 0; i < o->npaths; i++)
				cJSON_AddItemToArray(a, cJSON_CreateString(o->paths[i]));
		}
		if (o->all_files)
			cJSON_AddTrueToObject(opts, "all_files");
		if (o->staged)
			cJSON_AddTrueToObject(opts, "staged");
		if (o->since)
			cJSON_AddStringToObject(opts, "since", o->since);
		if (o->baseline)
			cJSON_AddStringToObject(opts, "baseline", o->baseline);
		if (o->write_baseline)
			cJSON_AddStringToObject(opts, "write_baseline", o->write_baseline);
		rc = gate_add_builtin(g, "secrets", "secrets", opts, e);
		cJSON_Delete(opts);
		if (rc < 0)
			return err_prefix(e, "--secrets");
		return gate_resolve(g, e);
	}
	if (o->spec) {
		*spec_used = o->spec;
	} else if (!o->ninline) {
		if (!path_exists("gates.json"))
			return err_set(e, EX_USAGE_, "no jobs: there is no gates.json here; "
			    "give a spec with -f FILE or jobs with -g NAME=COMMAND");
		*spec_used = "gates.json";
	}
	if (*spec_used && gate_spec_load(g, *spec_used, e) < 0)
		return -1;
	for (i = 0; i < o->ninline; i++)
		if (gate_add_inline(g, o->inline_jobs[i], e) < 0)
			return -1;
	for (i = 0; o->needs && o->needs[i]; i++)
		if (gate_add_needs(g, o->needs[i], e) < 0)
			return -1;
	if (!g->njobs)
		return err_set(e, EX_USAGE_, "%s: no jobs defined", *spec_used ? *spec_used : "command line");
	return gate_resolve(g, e);
}

int
main(int argc, char **argv)
{
	struct options o;
	struct gate g;
	struct pipeline p = { NULL, 0 };
	struct err e = { 0, "" };
	struct gate_view v;
	struct gate_sched sc;
	struct sigaction sa;
	const char *spec = NULL;
	long long started, t0;
	int rc, run_rc = 0, gate_failed = 0;
	cJSON *sec, *blocked = NULL;
	char self[PATH_MAX];
	ssize_t sl;

	log_init("ci-gate");
	if (argc >= 2 && !strcmp(argv[1], GATE_CHILD_ARG)) {
		rc = gate_builtin_child(argc, argv, stdout);
		if (fflush(stdout) == EOF || ferror(stdout))
			rc = rc ? rc : EX_IOERR_;
		return rc;
	}
	memset(&o, 0, sizeof(o));
	gate_init(&g);
	memset(&v, 0, sizeof(v));
	o.keep_going = -1;
	o.timeout_ms = -1;
	o.grace_ms = 5000;
	o.out_dir = "ci-out/gate";
	/* Built-in jobs run this very executable again. */
	sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl > 0) {
		self[sl] = '\0';
		o.self = self;
	} else {
		o.self = strchr(argv[0], '/') ? argv[0] : "ci-gate";
	}
	if (parse_args(argc, argv, &o) < 0) {
		options_free(&o);
		return EX_USAGE_;
	}
	signal(SIGPIPE, SIG_IGN);

	if (o.list_rules) {
		size_t i, n;
		const struct secret_rule_info *ri = secrets_rules(&n);

		for (i = 0; i < n; i++) {
			printf("%s\t%s\t%s", ri[i].id, ri[i].severity, ri[i].title);
			if (log_level() >= LOG_VERBOSE)
				printf("\t%s\t%s", ri[i].icase ? "icase" : "case", ri[i].regex);
			putchar('\n');
		}
		options_free(&o);
		return fflush(stdout) == EOF || ferror(stdout) ? EX_IOERR_ : EX_PASS;
	}
	if (o.dry_run) {
		if (load_gate(&o, &g, &spec, &e) < 0) {
			rc = err_report(&e);
		} else {
			struct buf plan = BUF_INIT;

			gate_plan(&g, gate_limit(&g, o.jobs), &plan);
			fputs(buf_str(&plan), stdout);
			buf_free(&plan);
			rc = fflush(stdout) == EOF || ferror(stdout) ? EX_IOERR_ : 0;
		}
		gate_free(&g);
		options_free(&o);
		return rc;
	}

	/* The document: from stdin when there is one, else a new one. */
	if (pipeline_open(&p, !o.new_doc, 1, o.version, &e) < 0) {
		options_free(&o);
		return err_report(&e);
	}
	if (pipeline_skip_upstream(&p, "gate", "running the gate")) {
		rc = pipeline_write(&p, stdout, &e) < 0 ? err_report(&e) : EX_FAIL;
		pipeline_free(&p);
		options_free(&o);
		return rc;
	}

	started = now_ms();
	t0 = mono_ms();
	if (block_check(o.ignore_block, &blocked, &sec)) {
		pipeline_set_section(&p, "gate", sec, started, 0);
		rc = pipeline_write(&p, stdout, &e) < 0 ? err_report(&e) : EX_FAIL;
		goto out;
	}
	if (load_gate(&o, &g, &spec, &e) < 0 || mkdir_p(o.out_dir, 0755, &e) < 0) {
		/* A spec error is the gate's verdict too: write it down so the
		 * stages downstream do not act. */
		sec = cJSON_CreateObject();
		cJSON_AddStringToObject(sec, "status", "error");
		cJSON_AddStringToObject(sec, "reason", e.msg);
		pipeline_set_section(&p, "gate", sec, started, 0);
		rc = err_report(&e);
		if (pipeline_write(&p, stdout, &e) < 0)
			rc = err_report(&e);
		goto out;
	}

	gate_view_init(&v);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	memset(&sc, 0, sizeof(sc));
	sc.out_dir = o.out_dir;
	sc.self = o.self;
	sc.limit = gate_limit(&g, o.jobs);
	sc.timeout_ms = o.timeout_ms >= 0 ? o.timeout_ms : g.timeout_ms >= 0 ? g.timeout_ms :
	    GATE_DEFAULT_TIMEOUT_MS;
	sc.grace_ms = o.grace_ms;
	sc.fail_fast = o.keep_going >= 0 ? !o.keep_going : g.fail_fast >= 0 ? g.fail_fast : 1;
	sc.stop = &interrupted;
	sc.started = gate_view_started;
	sc.finished = gate_view_finished;
	sc.tick = gate_view_draw;
	sc.tick_ms = gate_view_tick_ms(&v);
	sc.arg = &v;
	if (gate_run(&g, &sc, &e) < 0)
		run_rc = err_report(&e);
	sec = gate_section(&g, spec, started, mono_ms() - t0, &gate_failed);
	if (blocked) {
		cJSON_AddItemToObject(sec, "blocked", blocked);
		blocked = NULL;
	}
	gate_view_end(&v, &g, json_str(sec, "status"));
	if (!v.quiet)
		log_info("gate %s: %s", json_str(sec, "status"),
		    json_str(sec, "reason") ? json_str(sec, "reason") : "every job passed");
	pipeline_set_section(&p, "gate", sec, started, mono_ms() - t0);
	rc = interrupted ? EX_TEMP : run_rc ? run_rc : gate_failed ? EX_FAIL : EX_PASS;
	if (o.junit_out && gate_write_junit(&g, o.junit_out, mono_ms() - t0, &e) < 0)
		rc = err_report(&e);
	if (gate_write_findings(&g, o.sarif_out, o.cq_out, &e) < 0)
		rc = err_report(&e);
	if (pipeline_write(&p, stdout, &e) < 0)
		rc = err_report(&e);
out:
	cJSON_Delete(blocked);
	gate_free(&g);
	pipeline_free(&p);
	options_free(&o);
	return rc;
}
