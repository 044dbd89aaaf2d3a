/*
 * builder: the state of one build_run(), shared by the files of the build.
 * Internal to lib/image: not an API.
 *
 *   build.c   the driver: build_run(), the target's config and manifest
 *   plan.c    stages and what the target needs, the instruction walk,
 *             ARG/ENV expansion, --build-arg
 *   base.c    FROM: scratch, an earlier stage, oci:DIR, registry pulls;
 *             platforms; a stage's file system from its base layers
 *   copy.c    COPY, ADD and WORKDIR: sources (the context walk, archives,
 *             --from), --chown/--chmod, and the entries of a layer
 *   cache.c   the layer cache and the file-hash cache; blobs linked
 *             between layouts
 *   run.c     RUN: the view written out, the command in the OCI runtime,
 *             its changes as a layer (cache, pulls, output)
 *
 * Functions shared between these files are named after the file that
 * defines them (plan_, base_, copy_, cache_) or after struct builder
 * (builder_).  A failing one sets b->e, with DOCKERFILE:LINE when it knows
 * the instruction, and returns -1 or NULL.
 *
 * Ownership: the builder owns what it points to except o, out, r and e
 * (build_run()'s caller's); a stage owns its config, view, layers and
 * variables.
 */
#ifndef CI_BUILDER_H
#define CI_BUILDER_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <cJSON.h>

#include "core/buf.h"
#include "core/log.h"
#include "image/build.h"
#include "image/dockerfile.h"
#include "image/dockerignore.h"
#include "image/layer.h"
#include "image/rootfs.h"
#include "oci/oci.h"

#define SMALL_MAX (16u << 20)		/* manifests and configs */
#define HISTORY_COMMENT "ci-build.dockerfile.v0"

/* ARG values of a scope: the global one (before the first FROM), a
 * stage's, or --build-arg. */
struct var {
	char *name;
	char *value;		/* NULL: declared without a value */
};

struct vars {
	struct var *v;
	size_t n;
};

/* A layer of an image or a stage, and its blob file. */
struct lref {
	struct build_layer info;
	char *path;		/* the blob file */
};

/* A base image loaded (a layout's or a registry's). */
struct image {
	char *ref;		/* as written */
	char *name;		/* for annotations, or NULL */
	char digest[OCI_DIGEST_SIZE];
	cJSON *cfg;
	struct lref *layers;
	size_t nlayers;
	struct rootfs *fs;	/* for COPY --from=IMAGE */
};

/* One FROM and its instructions. */
struct build_stage {
	int idx;
	char *name;		/* lowercase, or NULL */
	size_t first, end;	/* instructions [first, end), first is FROM */
	int needed, chain;
	int base_stage;		/* -1: an image or scratch */
	char *base_ref;		/* FROM, expanded */
	char *platform;		/* FROM --platform, expanded */

	int built;
	cJSON *cfg;
	struct rootfs *fs;
	int fs_ready;
	struct lref *layers;
	size_t nlayers, nbase;
	struct vars args;
	int cmd_set;
	char **labels;		/* keys LABEL set in this stage (strv) */
	char *base_name;
	char base_digest[OCI_DIGEST_SIZE];
	const struct df_inst *cur;	/* for messages */
	/* What the view holds, as a digest folded over the base and each
	 * change (cache_fold()); kept when the build has a RUN: RUN's cache
	 * key starts from it. */
	char state[OCI_DIGEST_SIZE];
	char *run_dir;			/* the view written out by the last RUN */
	int run_gen;			/* the view's generation it matches */
};

/* One build_run(). */
struct builder {
	const struct build_opts *o;
	struct dockerfile df;
	struct dockerignore di;
	char *ctx_real;
	size_t ctx_len;
	struct oci_layout *out;
	struct oci_layout cache;
	int have_cache;
	struct oci_layout pull;		/* without a cache: pulls land here */
	struct registry *reg;		/* made at the first pull (base.c): a build
					 * from scratch or a layout loads no libcurl */
	int have_pull;
	struct layer_fcache *fcache;	/* loaded on first use (cache.c) */
	int stat_hits;			/* layers found by their stat key */
	int cache_has_layers;		/* some layer is cached: worth digesting first */
	int has_run;			/* some needed stage has a RUN: keep states */
	struct vars bargs;		/* --build-arg */
	int *consumed;
	struct vars global;		/* ARG before the first FROM */
	struct build_stage *st;
	size_t nst;
	struct image **imgs;		/* loaded for COPY --from=IMAGE */
	size_t nimgs;
	char *scratch;
	int seq;
	char created[32];
	char *platform;			/* the target platform, "os/arch[/variant]" */
	size_t target;
	char **warnings;		/* strv */
	char **unpinned;		/* strv: URLs ADD fetched without --checksum */
	struct build_result *r;
	struct err *e;
};

struct platform {
	char os[32], arch[32], variant[32];
};

/* A layer being collected: copy.c fills it, cache.c makes the blob. */
struct item {
	struct layer_entry ent;
	struct stat st;
	int have_st;		/* st is the context file's */
};

struct lb_slot {
	size_t hash;		/* of the item's path */
	size_t idx;		/* index + 1; 0: empty */
};

struct lb {
	struct item *v;
	size_t n, cap;
	struct lb_slot *tab;	/* open addressing, power of two */
	size_t tabsz;
	char key[OCI_DIGEST_SIZE];	/* cache_layer(): the layer's cache key */
};

/* build.c */
void builder_warn(struct builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "DOCKERFILE:LINE: what" (in may be NULL); returns -1. */
int builder_err(struct builder *b, const struct df_inst *in, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prefix an error from lib/ with the place and the instruction; returns -1. */
int builder_prefix(struct builder *b, const struct df_inst *in);

/* plan.c */
/* Split the Dockerfile into stages, expand FROM, mark what the target
 * needs; refuse RUN in those. */
int plan_stages(struct builder *b);
/* --build-arg KEY=VALUE (or KEY, from the environment) into b->bargs. */
int plan_build_args(struct builder *b);
/* Expand word in stage s (NULL: the global scope of FROM lines). */
int plan_expand(struct builder *b, struct build_stage *s, const struct df_inst *in,
    const char *word, char **out);
/* An unquoted heredoc's body, expanded in stage s (df_expand_heredoc()). */
int plan_expand_heredoc(struct builder *b, struct build_stage *s, const struct df_inst *in,
    const char *body, char **out);
/* Run one instruction of stage s (not FROM). */
int plan_dispatch(struct builder *b, struct build_stage *s, const struct df_inst *in);
/* The dry run: every stage and step, one line each, into out; checks
 * what can be checked without the context or the bases. */
int plan_dry_run(struct builder *b, struct buf *out);
/* A stage by name or index among the first `before`, or NULL. */
struct build_stage *plan_find_stage(struct builder *b, const char *name, size_t before);
/* The stages and the variables. */
void plan_free(struct builder *b);

/* base.c */
/* "os/arch[/variant]"; -1 on anything else. */
int base_platform_parse(const char *s, struct platform *p);
/* "os/arch[/variant]" of an image config (caller frees). */
char *base_platform_of(const cJSON *cfg);
/* Start stage s from its FROM: config, layers, ONBUILD triggers. */
int base_start(struct builder *b, struct build_stage *s);
/* The stage's file system, made from its base layers on first use. */
struct rootfs *base_stage_fs(struct builder *b, struct build_stage *s);
/* An image (or scratch) for COPY --from, loaded once (borrowed). */
struct image *base_image(struct builder *b, const struct df_inst *in, const char *ref);
/* The images loaded and the pull layout. */
void base_free(struct builder *b);

/* copy.c */
int copy_do(struct builder *b, struct build_stage *s, const struct df_inst *in); /* COPY, ADD */
int copy_workdir(struct builder *b, struct build_stage *s, const struct df_inst *in);
/* The view --from=FROM names (a stage built before s, or an image, loaded
 * once); ident, when non-NULL, gets what identifies it (the stage's state
 * or the image's digest).  what: "COPY" in messages. */
struct rootfs *copy_from_fs(struct builder *b, struct build_stage *s, const struct df_inst *in,
    const char *what, const char *from, char *ident);
/* RUN --mount=type=bind without from=: the build context's files at
 * source (.dockerignore honoured) as a view of their own, *top where they
 * are in it; ident: a digest of their names, modes and contents. */
struct rootfs *copy_ctx_fs(struct builder *b, const struct df_inst *in, const char *source,
    char **top, char *ident);
/* --chmod's octal mode; -1 on anything else. */
int copy_parse_chmod(const char *s, int *mode);
/* USER's "user[:group]" to ids, by the stage's /etc/passwd and /etc/group. */
int copy_user(struct builder *b, struct build_stage *s, const struct df_inst *in, const char *spec,
    long long *uid, long long *gid);

/* run.c: RUN through the OCI runtime. */
int run_do(struct builder *b, struct build_stage *s, const struct df_inst *in);
/* One RUN --mount=SPEC (expanded); a relative target is taken from cwd. */
enum { RM_BIND, RM_CACHE };
struct run_mount {
	int type;		/* RM_BIND, RM_CACHE */
	char *target;		/* absolute, cleaned */
	char *source;		/* bind: in from's view, absolute, cleaned ("/") */
	char *from;		/* bind: a stage or an image */
	char *id;		/* cache: its name (default: target) */
	int rw;			/* bind: writable (writes thrown away) */
	int locked;		/* cache: sharing=locked or private */
	unsigned mode;		/* cache: the directory made (0755) */
	long long uid, gid;	/* cache: its owner (0) */
	char *host;		/* set when written out (mount_write()) */
	int is_file;		/* bind: the source is a file */
	struct rootfs *view;	/* bind: the view of the source (ctx or a stage's) */
	struct rootfs *ctx;	/* bind: the build context's own view, owned */
	char *res;		/* bind: the source resolved in view */
};
int run_mount_parse(const char *spec, const char *cwd, struct run_mount *m, struct err *e);
void run_mount_free(struct run_mount *m);

/* cache.c */
/* Open (or make) the cache directory b->o->cache_dir. */
int cache_open(struct builder *b);
/*
 * The layer of ents (lb's entries, sorted) for stage s: linked from the
 * layer cache when its key is there, else written into the output and
 * kept in the cache.  It joins the stage's layers and diff_ids.
 */
int cache_layer(struct builder *b, struct build_stage *s, struct lb *lb,
    struct layer_entry *ents, const struct df_inst *in);
/* Fold what into s->state. */
void cache_fold(struct build_stage *s, const char *what);
/* Fold the layer of ents (its cache key) into s->state; a stage the
 * target does not build on has its files digested for it. */
int cache_fold_layer(struct builder *b, struct build_stage *s, struct lb *lb,
    struct layer_entry *ents, const struct df_inst *in);
/*
 * RUN's layer by its step key: on a hit, the stage takes the cached layer
 * (linked into the output when the target builds on s) and the blob's
 * path in the cache is returned (fresh) for the view; NULL on a miss.
 */
char *cache_run_get(struct builder *b, struct build_stage *s, const char *key,
    const struct df_inst *in);
/* The layer of a RUN that ran: cache_layer() in a stage the target builds
 * on, else written to the cache alone; then recorded under key. */
int cache_run_put(struct builder *b, struct build_stage *s, const char *key, struct lb *lb,
    struct layer_entry *ents, const struct df_inst *in);
/* Write the file-hash cache back (a failure is a warning). */
void cache_save(struct builder *b);
void cache_close(struct builder *b);

#endif
