/*
 * ci-build: build an OCI image from a Dockerfile, without a daemon and
 * reproducibly, and add it to the pipeline document.  The options are
 * read here; the run is lib/image/job, the build lib/image/build.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/stage.h"
#include "format/html.h"
#include "image/job.h"
#include "image/layer.h"
#include "net/curl-load.h"
#include "net/registry.h"

struct options {
	struct build_job job;
	struct registry_opts ro;
	const char *level;		/* --compression-level, checked once C is known */
	int dry_run;
};

enum {
	OPT_BUILD_ARG = STAGE_KEY, OPT_TARGET, OPT_PLATFORM, OPT_OCI_ARCHIVE,
	OPT_DOCKER_ARCHIVE, OPT_COMPRESSION, OPT_LEVEL, OPT_CACHE_DIR, OPT_NO_CACHE, OPT_SDE, OPT_RUNTIME
};

static const struct stage_opt opts[] = {
	{ "file", 'f', required_argument, "FILE", "the Dockerfile (default CONTEXT/Dockerfile)" },
	{ "tag", 't', required_argument, "NAME[:TAG]", "tag the image (repeatable)" },
	{ "build-arg", OPT_BUILD_ARG, required_argument, "K[=V]",
	  "set a build argument (V from the environment if absent)" },
	{ "target", OPT_TARGET, required_argument, "STAGE", "build this stage (default: the last)" },
	{ "platform", OPT_PLATFORM, required_argument, "P",
	  "os/arch[/variant] (default: the base's, else this host's)" },
	{ "output", 'o', required_argument, "DIR",
	  "the OCI image layout to write (default ci-out/image)" },
	{ "oci-archive", OPT_OCI_ARCHIVE, required_argument, "FILE",
	  "also write the layout as a tar file" },
	{ "docker-archive", OPT_DOCKER_ARCHIVE, required_argument, "F",
	  "also write a 'docker save' tar file" },
	{ "compression", OPT_COMPRESSION, required_argument, "C", "gzip (default), zstd or none" },
	{ "compression-level", OPT_LEVEL, required_argument, "N",
	  "gzip 1-9 (default 1), zstd 1-19 (default 3)" },
	{ "jobs", 'j', required_argument, "N", "compression threads (default: CPUs)" },
	{ "cache-dir", OPT_CACHE_DIR, required_argument, "DIR",
	  "layer and base image cache (default ~/.cache/ci-tools/build)" },
	{ "no-cache", OPT_NO_CACHE, no_argument, NULL, "neither read nor write the cache" },
	{ "dry-run", 'n', no_argument, NULL, "print the plan, one line per step; build nothing" },
	{ "runtime", OPT_RUNTIME, required_argument, "PATH", "the OCI runtime RUN uses (default runc)" },
	{ "source-date-epoch", OPT_SDE, required_argument, "S",
	  "the image's time (default $SOURCE_DATE_EPOCH, HEAD's, 0)" },
	STAGE_OPT_END
};

static const struct option registry_longopts[] = {
	REGISTRY_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 }
};

static int
parse_ll(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* --compression-level against --compression, whichever came first. */
static int
check_level(const struct stage *st, struct options *o)
{
	struct layer_opts *l = &o->job.layer;
	long long v;

	if (!o->level)
		return -1;
	if (parse_ll(o->level, 0, 22, &v) < 0)
		return stage_usage_error(st, "--compression-level '%s': expected a number", o->level);
	l->level = (int)v;
	if (l->level == 0 && l->compression != LAYER_NONE)
		return stage_usage_error(st, "--compression-level 0: use --compression none for no "
		    "compression");
	if (l->level > 9 && l->compression == LAYER_GZIP)
		return stage_usage_error(st, "--compression-level %d: gzip levels go from 1 to 9",
		    l->level);
	if (l->level > 19 && l->compression == LAYER_ZSTD)
		return stage_usage_error(st, "--compression-level %d: zstd levels go from 1 to 19",
		    l->level);
	return -1;
}

/* One option of ci-build's own; -1 when taken, else the exit status. */
static int
take_option(struct stage *st, struct options *o, int c, const char *arg)
{
	struct build_job *j = &o->job;
	long long v;

	switch (c) {
	case 'f':
		j->file = arg;
		break;
	case 't':
		j->tags = strv_push(j->tags, arg);
		break;
	case 'o':
		j->out = arg;
		break;
	case 'n':
		o->dry_run = 1;
		break;
	case 'j':
		if (parse_ll(arg, 1, 64, &v) < 0)
			return stage_usage_error(st, "-j '%s': expected a number of threads from 1 "
			    "to 64", arg);
		j->layer.threads = (int)v;
		break;
	case OPT_BUILD_ARG:
		j->build_args = strv_push(j->build_args, arg);
		break;
	case OPT_TARGET:
		j->target = arg;
		break;
	case OPT_PLATFORM:
		j->platform = arg;
		break;
	case OPT_OCI_ARCHIVE:
		j->oci_archive = arg;
		break;
	case OPT_DOCKER_ARCHIVE:
		j->docker_archive = arg;
		break;
	case OPT_COMPRESSION:
		if (!strcmp(arg, "gzip"))
			j->layer.compression = LAYER_GZIP;
		else if (!strcmp(arg, "zstd"))
			j->layer.compression = LAYER_ZSTD;
		else if (!strcmp(arg, "none"))
			j->layer.compression = LAYER_NONE;
		else
			return stage_usage_error(st, "--compression '%s': expected gzip, zstd or none",
			    arg);
		break;
	case OPT_LEVEL:
		o->level = arg;
		break;
	case OPT_CACHE_DIR:
		j->cache_dir = arg;
		break;
	case OPT_RUNTIME:
		o->job.runtime = arg;
		break;
	case OPT_NO_CACHE:
		j->no_cache = 1;
		break;
	case OPT_SDE:
		if (build_parse_epoch(arg, &j->sde) < 0)
			return stage_usage_error(st, "--source-date-epoch '%s': expected seconds since "
			    "1970", arg);
		break;
	}
	return -1;
}

/*
 * "--version VERSION" was the release version before --version-tag: a
 * script still written so gets a usage error, not our version on stdout
 * in place of the document.
 */
static int
old_version_flag(const struct stage *st, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (!strncmp(argv[i], "--version=", 10) || (!strcmp(argv[i], "--version") &&
		    i + 1 < argc && argv[i + 1][0] != '-'))
			return stage_usage_error(st, "--version takes no value: the release version "
			    "is --version-tag VERSION");
	return -1;
}

static int
parse_args(struct stage *st, int argc, char **argv, struct options *o)
{
	struct err e = { 0, "" };
	int c, rc;

	st->synopsis = "ci-build [-hnqv] [-f FILE] [-t NAME[:TAG]]... [--version-tag VERSION]\n"
	    "                [--build-arg KEY[=VALUE]]... [--target STAGE]\n"
	    "                [--platform OS/ARCH[/VARIANT]] [-o DIR] [--oci-archive FILE]\n"
	    "                [--docker-archive FILE] [--compression gzip|zstd|none]\n"
	    "                [--compression-level N] [-j N] [--cache-dir DIR] [--no-cache]\n"
	    "                [--source-date-epoch SECONDS] [--html FILE] [--new]\n"
	    "                [registry options] [CONTEXT]\n"
	    "       ci-build --version";
	st->about = "Build the Dockerfile of CONTEXT (default .) into an OCI image layout and add\n"
	    "the build section to the document on stdin.  --version-tag VERSION also tags\n"
	    "the image vVERSION-<short commit> (default: the document's run.source.version).";
	st->opts = opts;
	st->more_opts = registry_longopts;
	/* Chunks are for uploads, and a build only pulls. */
	st->more_help = registry_options_help("--chunk-size");
	if ((rc = old_version_flag(st, argc, argv)) >= 0)
		return rc;
	while ((c = stage_getopt(st, argc, argv)) != -1) {
		if (c == REGOPT_CHUNK_SIZE)
			return stage_usage_error(st, "--chunk-size: ci-build only pulls, and chunks "
			    "are for uploads (an option of ci-push)");
		if (c >= REGOPT_FIRST && c < REGOPT_LAST) {
			if (registry_opts_arg(&o->ro, c, optarg, &e) < 0)
				return err_report(&e);
			continue;
		}
		if ((rc = take_option(st, o, c, optarg)) >= 0)
			return rc;
	}
	if (st->exit >= 0)
		return st->exit;
	if ((rc = check_level(st, o)) >= 0)
		return rc;
	if (optind < argc)
		o->job.context = argv[optind++];
	if (optind < argc)
		return stage_usage_error(st, "unexpected argument '%s' (one build context only)",
		    argv[optind]);
	if (registry_opts_finish(&o->ro, &e) < 0)
		return err_report(&e);
	/* stdin carries the password: it cannot carry a document too. */
	st->no_stdin = o->ro.password_stdin;
	o->job.version = st->version_tag;
	return -1;
}

/* --dry-run: the plan on stdout instead of a document. */
static int
dry_run(struct options *o)
{
	struct buf out = BUF_INIT;
	struct err e = { 0, "" };
	int rc = EX_PASS;

	if (build_job_plan(&o->job, &out, &e) < 0) {
		rc = err_report(&e);
	} else {
		fputs(buf_str(&out), stdout);
		if (fflush(stdout) == EOF || ferror(stdout)) {
			log_error("cannot write to stdout: %s", strerror(errno));
			rc = EX_IOERR_;
		}
	}
	buf_free(&out);
	return rc;
}

static int
build(struct stage *st, void *arg, cJSON **section, struct err *e)
{
	struct options *o = arg;

	o->job.stop = &stage_signal;
	o->ro.stop = &stage_signal;
	return build_job_run(&o->job, st->p.doc, section, e) < 0 ? -1 : EX_PASS;
}

int
main(int argc, char **argv)
{
	struct stage st;
	struct options o;
	int rc;

	stage_init(&st, "ci-build", "build", "building");
	st.html = html_report_write;
	memset(&o, 0, sizeof(o));
	o.job.context = ".";
	o.job.out = "ci-out/image";
	o.job.sde = -1;
	o.job.layer.compression = LAYER_GZIP;
	o.job.layer.level = -1;
	o.job.ro = &o.ro;
	registry_opts_init(&o.ro);
	rc = parse_args(&st, argc, argv, &o);
	if (rc < 0 && o.dry_run) {
		rc = dry_run(&o);
	} else if (rc < 0) {
		/* libcurl is loaded when first needed (FROM, ADD URL, --push):
		 * net/curl-load.h. */
		rc = stage_run(&st, build, &o);
		curl_global_cleanup();
	}
	stage_free(&st);
	registry_opts_free(&o.ro);
	strv_free(o.job.tags);
	strv_free(o.job.build_args);
	return rc;
}
