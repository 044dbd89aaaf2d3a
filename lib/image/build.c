/*
 * build: the driver of build_run() (see build.h for the contract, and
 * builder.h for how the build is split): read the Dockerfile and the
 * .dockerignore, plan the stages, run the instructions of each stage the
 * target needs, then write the target's config and manifest.  Also the
 * builder's messages (warnings, errors with DOCKERFILE:LINE) and the
 * annotations the image gets.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "core/timeutil.h"
#include "image/builder.h"
#include "image/config.h"

#define DOCKERFILE_MAX (16u << 20)

/* ---- messages ----------------------------------------------------------- */

void
builder_warn(struct builder *b, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	log_warn("%s", msg);
	b->warnings = strv_push(b->warnings, msg);
	free(msg);
}

/* "DOCKERFILE:LINE: KEYWORD: what". */
int
builder_err(struct builder *b, const struct df_inst *in, int code, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (in)
		err_set(b->e, code, "%s:%d: %s", b->df.name, in->line, msg);
	else
		err_set(b->e, code, "%s", msg);
	free(msg);
	return -1;
}

/* Prefix an error from lib/ with the place and the instruction. */
int
builder_prefix(struct builder *b, const struct df_inst *in)
{
	if (in)
		err_prefix(b->e, "%s:%d: %s", b->df.name, in->line, df_kind_name(in->kind));
	return -1;
}

/* ---- the image -------------------------------------------------------- */

/* Add our annotations and labels to the target's config. */
static void
set_oci_labels(struct builder *b, struct build_stage *s, cJSON *ann)
{
	const struct build_opts *o = b->o;
	struct {
		const char *key, *val;
	} kv[6];
	size_t n = 0, i, k;

	kv[n].key = "org.opencontainers.image.created";
	kv[n++].val = b->created;
	if (o->revision)
		kv[n].key = "org.opencontainers.image.revision", kv[n++].val = o->revision;
	if (o->source)
		kv[n].key = "org.opencontainers.image.source", kv[n++].val = o->source;
	if (o->version)
		kv[n].key = "org.opencontainers.image.version", kv[n++].val = o->version;
	if (s->base_name && strncmp(s->base_name, "oci:", 4) != 0)
		kv[n].key = "org.opencontainers.image.base.name", kv[n++].val = s->base_name;
	if (s->base_digest[0])
		kv[n].key = "org.opencontainers.image.base.digest", kv[n++].val = s->base_digest;
	for (i = 0; i < n; i++) {
		int mine = 0;

		for (k = 0; s->labels && s->labels[k]; k++)
			if (!strcmp(s->labels[k], kv[i].key))
				mine = 1;
		if (!mine)
			imgconfig_label(s->cfg, kv[i].key, kv[i].val);
		json_set(ann, kv[i].key, cJSON_CreateString(kv[i].val));
	}
}

static int
finish(struct builder *b, struct build_stage *t, struct build_result *r)
{
	struct oci_desc cdesc, *ldescs;
	cJSON *ann = cJSON_CreateObject();
	char *ctext, *mtext;
	size_t i;
	int rc = -1;

	set_oci_labels(b, t, ann);
	ctext = imgconfig_text(t->cfg);
	memset(&cdesc, 0, sizeof(cdesc));
	cdesc.media_type = xstrdup(MT_OCI_CONFIG);
	cdesc.size = (long long)strlen(ctext);
	if (oci_blob_put(b->out, ctext, strlen(ctext), cdesc.digest, b->e) < 0) {
		free(ctext);
		oci_desc_free(&cdesc);
		cJSON_Delete(ann);
		return -1;
	}
	free(ctext);
	ldescs = xcalloc(t->nlayers + 1, sizeof(*ldescs));
	r->layers = xcalloc(t->nlayers + 1, sizeof(*r->layers));
	for (i = 0; i < t->nlayers; i++) {
		ldescs[i].media_type = (char *)t->layers[i].info.media_type;
		memcpy(ldescs[i].digest, t->layers[i].info.digest, OCI_DIGEST_SIZE);
		ldescs[i].size = t->layers[i].info.size;
		r->layers[i] = t->layers[i].info;
	}
	r->nlayers = t->nlayers;
	mtext = imgmanifest_text(&cdesc, ldescs, t->nlayers, ann);
	free(ldescs);
	memset(&r->manifest, 0, sizeof(r->manifest));
	r->manifest.media_type = xstrdup(MT_OCI_MANIFEST);
	r->manifest.size = (long long)strlen(mtext);
	if (oci_blob_put(b->out, mtext, strlen(mtext), r->manifest.digest, b->e) == 0)
		rc = 0;
	free(mtext);
	r->config = cdesc;
	r->platform = base_platform_of(t->cfg);
	if (r->manifest.media_type) {
		struct platform p;

		if (base_platform_parse(r->platform, &p) == 0) {
			r->manifest.os = xstrdup(p.os);
			r->manifest.arch = xstrdup(p.arch);
			if (p.variant[0])
				r->manifest.variant = xstrdup(p.variant);
		}
	}
	r->base_name = t->base_name ? xstrdup(t->base_name) : NULL;
	memcpy(r->base_digest, t->base_digest, OCI_DIGEST_SIZE);
	r->target = t->name ? xstrdup(t->name) : xasprintf("%d", t->idx);
	cJSON_Delete(ann);
	return rc;
}

/* The target platform and the Dockerfile, parsed into b->df. */
static int
read_dockerfile(struct builder *b)
{
	const struct build_opts *o = b->o;
	char *text;
	size_t len;
	int rc;

	if (o->platform) {
		struct platform p;

		if (base_platform_parse(o->platform, &p) < 0)
			return err_set(b->e, EX_USAGE_, "--platform '%s': expected "
			    "OS/ARCH[/VARIANT]", o->platform);
	}
	b->platform = xstrdup(o->platform ? o->platform : build_host_platform());
	text = read_file(o->dockerfile, DOCKERFILE_MAX, &len, b->e);
	if (!text) {
		if (b->e->code == EX_IOERR_ && !path_exists(o->dockerfile))
			b->e->code = EX_USAGE_;
		return -1;
	}
	rc = dockerfile_parse(text, len, o->dockerfile, &b->df, b->e);
	free(text);
	return rc;
}

int
build_run(const struct build_opts *o, struct oci_layout *out, struct build_result *r,
    struct err *e)
{
	struct builder b;
	char *ign = NULL;
	size_t i, k;
	int rc = -1;
	struct build_stage *t = NULL;

	memset(&b, 0, sizeof(b));
	memset(r, 0, sizeof(*r));
	b.o = o;
	b.out = out;
	b.e = e;
	b.r = r;
	format_rfc3339((time_t)o->sde, b.created, sizeof(b.created));
	b.ctx_real = realpath(o->context, NULL);
	if (!b.ctx_real) {
		err_set(e, EX_USAGE_, "build context '%s': %s", o->context, strerror(errno));
		goto out;
	}
	{
		struct stat st;

		if (stat(b.ctx_real, &st) != 0 || !S_ISDIR(st.st_mode)) {
			err_set(e, EX_USAGE_, "build context '%s' is not a directory", o->context);
			goto out;
		}
	}
	b.ctx_len = strlen(b.ctx_real);
	if (!strcmp(b.ctx_real, "/"))
		b.ctx_len = 0;
	if (read_dockerfile(&b) < 0)
		goto out;
	/* Dockerfile.dockerignore beside the Dockerfile wins, as in BuildKit. */
	ign = xasprintf("%s.dockerignore", o->dockerfile);
	if (!path_exists(ign)) {
		free(ign);
		ign = xasprintf("%s/.dockerignore", b.ctx_real);
	}
	if (dockerignore_load(&b.di, ign, e) < 0)
		goto out;
	if (mkdir_p(o->work_dir, 0700, e) < 0)
		goto out;
	b.scratch = xasprintf("%s/scratch", o->work_dir);
	if (mkdir_p(b.scratch, 0700, e) < 0)
		goto out;
	if (o->cache_dir && cache_open(&b) < 0)
		goto out;
	if (plan_build_args(&b) < 0)
		goto out;
	if (plan_stages(&b) < 0)
		goto out;
	for (i = 0; i < b.nst; i++) {
		struct build_stage *s = &b.st[i];

		if (!s->needed)
			continue;
		log_verbose("stage %zu%s%s: FROM %s", i, s->name ? " " : "", s->name ? s->name : "",
		    s->base_ref);
		if (base_start(&b, s) < 0)
			goto out;
		for (k = s->first + 1; k < s->end; k++) {
			if (o->stop && *o->stop) {
				err_set(e, EX_TEMP, "interrupted");
				goto out;
			}
			if (plan_dispatch(&b, s, &b.df.v[k]) < 0)
				goto out;
		}
		s->built = 1;
	}
	t = &b.st[b.target];
	for (i = 0; i < b.bargs.n; i++)
		if (!b.consumed[i])
			builder_warn(&b,
			    "--build-arg %s was not used by any ARG of the stages built",
			    b.bargs.v[i].name);
	if (finish(&b, t, r) < 0)
		goto out;
	cache_save(&b);
	rc = 0;
out:
	/* A broken base image or archive is the Dockerfile's problem (exit 2),
	 * not a bad pipeline document (65). */
	if (rc < 0 && e->code == EX_DOC)
		e->code = EX_USAGE_;
	if (rc == 0) {
		r->warnings = b.warnings;
		b.warnings = NULL;
		r->unpinned = b.unpinned;
		b.unpinned = NULL;
	}
	strv_free(b.warnings);
	strv_free(b.unpinned);
	free(ign);
	free(b.ctx_real);
	free(b.scratch);
	free(b.platform);
	dockerfile_free(&b.df);
	dockerignore_free(&b.di);
	plan_free(&b);
	base_free(&b);
	cache_close(&b);
	return rc;
}

int
build_plan(const struct build_opts *o, struct buf *out, struct err *e)
{
	struct builder b;
	struct build_result r;
	size_t i;
	int rc = -1;

	memset(&b, 0, sizeof(b));
	memset(&r, 0, sizeof(r));
	b.o = o;
	b.e = e;
	b.r = &r;
	if (read_dockerfile(&b) < 0 || plan_build_args(&b) < 0 || plan_stages(&b) < 0 ||
	    plan_dry_run(&b, out) < 0)
		goto out;
	for (i = 0; i < b.bargs.n; i++)
		if (!b.consumed[i])
			builder_warn(&b,
			    "--build-arg %s was not used by any ARG of the stages built",
			    b.bargs.v[i].name);
	rc = 0;
out:
	strv_free(b.warnings);
	free(b.platform);
	dockerfile_free(&b.df);
	plan_free(&b);
	return rc;
}

void
build_result_free(struct build_result *r)
{
	if (!r)
		return;
	oci_desc_free(&r->manifest);
	oci_desc_free(&r->config);
	free(r->layers);
	free(r->platform);
	free(r->base_name);
	free(r->target);
	strv_free(r->warnings);
	strv_free(r->unpinned);
	memset(r, 0, sizeof(*r));
}
