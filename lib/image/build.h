/*
 * build: run a Dockerfile without a daemon, into an OCI image layout.
 *
 * build_run() parses the Dockerfile, works out which stages the target
 * needs, and runs their instructions against a view of each stage's file
 * system (rootfs.h): COPY/ADD/WORKDIR make layers (layer.h), the others
 * change the image config (config.h).  Stages that only feed COPY
 * --from make no layers at all.  Base images come from "scratch", an OCI
 * layout ("oci:DIR[:TAG]") or a registry (registry.h, when the caller
 * gives a client).  Layers are reused from a content-addressed cache
 * keyed by their inputs.  The target's layers, config and manifest end up
 * as blobs of the output layout; index.json and tags are the caller's.
 *
 * Everything that gets into the image is fixed by the inputs: entries
 * sorted, owner 0:0 unless --chown (or kept from an image or archive),
 * permission bits only, mtimes clamped to the source date epoch, which is
 * also every "created" time.
 *
 * Errors carry DOCKERFILE:LINE and the exit status: EX_USAGE_ for the
 * Dockerfile, its arguments, the context, and base images or archives
 * that are broken; EX_IOERR_ for local files; EX_TEMP when stopped; or
 * what the registry client says (EX_SERVICE, EX_AUTH).
 *
 * Ownership: the caller owns opts; build_result_free() frees a result.
 * How the work is split between build, plan, base, copy and cache:
 * builder.h.
 */
#ifndef CI_BUILD_H
#define CI_BUILD_H

#include <signal.h>
#include <stddef.h>

#include "image/layer.h"
#include "core/log.h"
#include "oci/oci.h"

struct registry;
struct registry_opts;

struct build_opts {
	const char *dockerfile;		/* path of the Dockerfile */
	const char *context;		/* the build context directory */
	char *const *build_args;	/* "KEY=VALUE", or "KEY" (from the environment) */
	size_t nbuild_args;
	const char *target;		/* stage name or index; NULL: the last */
	const char *platform;		/* "os/arch[/variant]"; NULL: the base's, or this host's */
	long long sde;			/* SOURCE_DATE_EPOCH */
	struct layer_opts layer;
	const char *cache_dir;		/* NULL: no cache */
	const char *work_dir;		/* scratch space on the output's file system */
	struct registry_opts *regopts;	/* NULL: FROM a registry image is refused; else
					 * the client's options (platform is set per
					 * pull), the client made at the first pull */
	const char *revision;		/* annotations; each may be NULL */
	const char *source;
	const char *version;
	volatile sig_atomic_t *stop;	/* a signal came: stop soon (EX_TEMP) */
	char *const *exclude;		/* absolute paths the context walk skips (the
					 * output itself); "PREFIX*" skips names that start so */
	size_t nexclude;
	const char *runtime;		/* RUN's OCI runtime; NULL: "runc" */
};

struct build_layer {
	char digest[OCI_DIGEST_SIZE];
	char diff_id[OCI_DIGEST_SIZE];
	long long size;
	const char *media_type;		/* static */
	int from_base;			/* a layer of the base image */
	int cached;			/* taken from the layer cache */
};

struct build_result {
	struct oci_desc manifest;
	struct oci_desc config;
	struct build_layer *layers;
	size_t nlayers;
	char *platform;			/* "linux/amd64" */
	char *base_name;		/* as FROM named it, NULL for scratch */
	char base_digest[OCI_DIGEST_SIZE];	/* "" for scratch */
	char *target;			/* the stage built */
	int layers_built, layers_cached;
	char **warnings;		/* a strv (core/buf.h), or NULL */
	char **unpinned;		/* a strv of the URLs ADD fetched without
					 * --checksum (shown without userinfo), or NULL */
};

int build_run(const struct build_opts *o, struct oci_layout *out, struct build_result *r,
    struct err *e);
void build_result_free(struct build_result *r);

/*
 * The dry run: parse the Dockerfile, resolve the stages, ARGs and the
 * target as build_run() would, and write the plan into out, one line per
 * step ("DOCKERFILE:LINE: INSTRUCTION: what it would do").  Reads the
 * Dockerfile only: no context, no base image, no network, nothing
 * written.  Errors as build_run()'s, with DOCKERFILE:LINE.
 */
struct buf;
int build_plan(const struct build_opts *o, struct buf *out, struct err *e);

/* "linux/amd64" (or arm64, ...) for this machine; static. */
const char *build_host_platform(void);

/* Link (or copy, across file systems) a blob file into layout l. */
int build_blob_link(const char *src, const struct oci_layout *l, const char *digest,
    long long size, struct err *e);

#endif
