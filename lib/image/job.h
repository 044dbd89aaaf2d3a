/*
 * job: one run of ci-build, from its options and the pipeline document to
 * an OCI layout in place and the build section (ci-build(1)).
 *
 * build_job_run() takes the commit, the repository and the version from
 * the document's run.source (else from git), works out the source date
 * epoch, makes the tags, builds (build.h) into a temporary layout beside
 * the output (".NAME.tmp-PID"), writes its index.json and the archives
 * asked for, and only then swaps it in: a failed or interrupted build
 * leaves the output as it was.  Temporary layouts of builds that were
 * killed are removed on the way.
 *
 * Errors: as build.h, plus EX_USAGE_ for bad tags, a bad
 * SOURCE_DATE_EPOCH and an output that exists and is not a layout,
 * EX_IOERR_ when the layout cannot be moved into place, and EX_TEMP when
 * stopped.
 *
 * Ownership: the caller owns the job; *section is the caller's.
 */
#ifndef CI_JOB_H
#define CI_JOB_H

#include <signal.h>
#include <cJSON.h>

#include "core/log.h"
#include "image/layer.h"

struct registry_opts;

struct build_job {
	const char *file;		/* the Dockerfile; NULL: CONTEXT/Dockerfile */
	const char *context;		/* the build context directory */
	const char *runtime;		/* RUN's OCI runtime (--runtime); NULL: runc */
	char **tags;			/* -t NAME[:TAG] (strv), or NULL */
	const char *version;		/* the release version; NULL: run.source.version */
	char **build_args;		/* "KEY=VALUE" or "KEY" (strv), or NULL */
	const char *target;		/* NULL: the last stage */
	const char *platform;		/* NULL: the base's, or this host's */
	const char *out;		/* the OCI layout to write */
	const char *oci_archive;	/* also write these, when not NULL */
	const char *docker_archive;
	const char *cache_dir;		/* NULL: $XDG_CACHE_HOME/ci-tools/build */
	int no_cache;
	long long sde;			/* -1: $SOURCE_DATE_EPOCH, the commit time, 0 */
	struct layer_opts layer;
	struct registry_opts *ro;	/* for FROM a registry image */
	volatile sig_atomic_t *stop;	/* the signal number once one came, or NULL */
};

/*
 * Run the job against doc (borrowed).  Returns 0 with *section the build
 * section (status "passed"), or -1 with e set and *section the error
 * section ({"status": "error", "reason", "exit_code"}).
 */
int build_job_run(const struct build_job *j, const cJSON *doc, cJSON **section, struct err *e);

/*
 * ci-build --dry-run: the plan of the job's Dockerfile into out
 * (build_plan()); no document, no output, nothing fetched.
 */
struct buf;
int build_job_plan(const struct build_job *j, struct buf *out, struct err *e);

/* Seconds since 1970, up to the end of year 9999 (--source-date-epoch,
 * SOURCE_DATE_EPOCH); -1 on anything else. */
int build_parse_epoch(const char *s, long long *out);

#endif
