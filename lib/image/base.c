/*
 * base: where a stage starts (FROM).  Owns the bases: scratch, an earlier
 * stage, an OCI layout ("oci:DIR[:TAG]") and registry images pulled
 * through net/registry (into the cache, else into a scratch layout), the
 * choice of a platform's image in an index, the base's ONBUILD triggers,
 * images loaded for COPY --from=IMAGE, and a stage's file system (view)
 * built lazily from its base layers.  Platforms ("os/arch[/variant]")
 * are parsed here.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "core/buf.h"
#include "core/json.h"
#include "image/builder.h"
#include "image/config.h"
#include "net/registry.h"
#include "oci/ref.h"

/* ---- platforms ------------------------------------------------------------- */

const char *
build_host_platform(void)
{
	static char buf[96];
	struct utsname u;
	const char *arch = "amd64";

	if (buf[0])
		return buf;
	if (uname(&u) == 0) {
		if (!strcmp(u.machine, "x86_64"))
			arch = "amd64";
		else if (!strcmp(u.machine, "aarch64") || !strcmp(u.machine, "arm64"))
			arch = "arm64";
		else if (!strncmp(u.machine, "armv7", 5))
			arch = "arm/v7";
		else if (!strncmp(u.machine, "armv6", 5))
			arch = "arm/v6";
		else if (!strcmp(u.machine, "i386") || !strcmp(u.machine, "i686"))
			arch = "386";
		else
			arch = u.machine;
	}
	snprintf(buf, sizeof(buf), "linux/%s", arch);
	return buf;
}

int
base_platform_parse(const char *s, struct platform *p)
{
	const char *a = strchr(s, '/'), *v;

	memset(p, 0, sizeof(*p));
	if (!a || a == s || (size_t)(a - s) >= sizeof(p->os))
		return -1;
	memcpy(p->os, s, (size_t)(a - s));
	a++;
	v = strchr(a, '/');
	if (v) {
		if (v == a || (size_t)(v - a) >= sizeof(p->arch) || !v[1] ||
		    strlen(v + 1) >= sizeof(p->variant) || strchr(v + 1, '/'))
			return -1;
		memcpy(p->arch, a, (size_t)(v - a));
		snprintf(p->variant, sizeof(p->variant), "%s", v + 1);
	} else {
		if (!*a || strlen(a) >= sizeof(p->arch))
			return -1;
		snprintf(p->arch, sizeof(p->arch), "%s", a);
	}
	return 0;
}

char *
base_platform_of(const cJSON *cfg)
{
	const char *os = json_str(cfg, "os"), *arch = json_str(cfg, "architecture");
	const char *v = json_str(cfg, "variant");

	if (v && *v)
		return xasprintf("%s/%s/%s", os ? os : "linux", arch ? arch : "amd64", v);
	return xasprintf("%s/%s", os ? os : "linux", arch ? arch : "amd64");
}

/* ---- loading images ----------------------------------------------------------- */

static void
image_free(struct image *im)
{
	size_t i;

	if (!im)
		return;
	free(im->ref);
	free(im->name);
	cJSON_Delete(im->cfg);
	for (i = 0; i < im->nlayers; i++)
		free(im->layers[i].path);
	free(im->layers);
	rootfs_free(im->fs);
	free(im);
}

/* Pick the manifest for platform p out of an index. */
static int
pick_platform(const struct oci_manifest *idx, const struct platform *p, const char *what,
    struct oci_desc *out, struct err *e)
{
	size_t i;
	struct buf have = BUF_INIT;

	for (i = 0; i < idx->nlayers; i++) {
		const struct oci_desc *d = &idx->layers[i];

		if (d->os && d->arch && !strcmp(d->os, p->os) && !strcmp(d->arch, p->arch) &&
		    (!p->variant[0] || (d->variant && !strcmp(d->variant, p->variant)))) {
			oci_desc_copy(out, d);
			buf_free(&have);
			return 0;
		}
		if (d->os && d->arch)
			buf_addf(&have, "%s%s/%s%s%s", have.len ? ", " : "", d->os, d->arch,
			    d->variant ? "/" : "", d->variant ? d->variant : "");
	}
	err_set(e, EX_USAGE_, "%s has no image for %s/%s%s%s (it has: %s)", what, p->os, p->arch,
	    p->variant[0] ? "/" : "", p->variant, have.len ? buf_str(&have) : "none");
	buf_free(&have);
	return -1;
}

/* The manifest (or index) d of layout l. */
static int
read_manifest(struct builder *b, struct oci_layout *l, const struct oci_desc *d,
    struct oci_manifest *m)
{
	size_t len;
	char *text = oci_blob_read(l, d->digest, d->size, SMALL_MAX, &len, b->e);
	int rc;

	if (!text)
		return -1;
	rc = oci_manifest_parse(text, len, d->media_type, m, b->e);
	free(text);
	return rc;
}

/* Read manifest (following an index) and config from a layout. */
static int
image_from_layout(struct builder *b, struct oci_layout *l, const struct oci_desc *top,
    const char *what, const struct platform *want, int want_given, struct image *im)
{
	struct oci_manifest m;
	struct oci_desc d;
	char *text;
	size_t len, i;
	int rc = -1;

	oci_desc_copy(&d, top);
	if (read_manifest(b, l, &d, &m) < 0)
		goto out;
	if (m.is_index) {
		struct oci_desc pick;

		if (pick_platform(&m, want, what, &pick, b->e) < 0) {
			oci_manifest_free(&m);
			goto out;
		}
		oci_manifest_free(&m);
		oci_desc_free(&d);
		d = pick;
		if (read_manifest(b, l, &d, &m) < 0)
			goto out;
		if (m.is_index) {
			oci_manifest_free(&m);
			err_set(b->e, EX_DOC, "%s: an index inside an index", what);
			goto out;
		}
	}
	memcpy(im->digest, d.digest, OCI_DIGEST_SIZE);
	text = oci_blob_read(l, m.config.digest, m.config.size, SMALL_MAX, &len, b->e);
	if (!text) {
		oci_manifest_free(&m);
		goto out;
	}
	im->cfg = imgconfig_parse(text, len, what, b->e);
	free(text);
	if (!im->cfg) {
		oci_manifest_free(&m);
		goto out;
	}
	if (imgconfig_ndiff_ids(im->cfg) != m.nlayers) {
		err_set(b->e, EX_DOC, "%s: the config lists %zu diff_ids for %zu layers", what,
		    imgconfig_ndiff_ids(im->cfg), m.nlayers);
		oci_manifest_free(&m);
		goto out;
	}
	if (want_given) {
		const char *os = json_str(im->cfg, "os"), *arch = json_str(im->cfg, "architecture");

		if (strcmp(os, want->os) != 0 || strcmp(arch, want->arch) != 0) {
			oci_manifest_free(&m);
			err_set(b->e, EX_USAGE_, "%s is %s/%s, not the %s/%s asked for", what, os,
			    arch, want->os, want->arch);
			goto out;
		}
	}
	im->layers = xcalloc(m.nlayers + 1, sizeof(*im->layers));
	for (i = 0; i < m.nlayers; i++) {
		const struct oci_desc *ld = &m.layers[i];
		const cJSON *id = cJSON_GetArrayItem(json_path(im->cfg, "rootfs.diff_ids"), (int)i);
		struct lref *lr = &im->layers[i];

		if (strstr(ld->media_type, "gzip"))
			lr->info.media_type = ld->media_type && !strcmp(ld->media_type,
			    MT_DOCKER_LAYER) ? MT_DOCKER_LAYER : MT_OCI_LAYER_GZIP;
		else if (strstr(ld->media_type, "zstd"))
			lr->info.media_type = MT_OCI_LAYER_ZSTD;
		else if (!strcmp(ld->media_type, MT_OCI_LAYER_TAR) ||
		    !strcmp(ld->media_type, "application/vnd.docker.image.rootfs.diff.tar"))
			lr->info.media_type = MT_OCI_LAYER_TAR;
		else {
			im->nlayers = i;
			err_set(b->e, EX_DOC, "%s: layer %zu has media type '%s', which ci-build "
			    "cannot read", what, i, ld->media_type);
			oci_manifest_free(&m);
			goto out;
		}
		memcpy(lr->info.digest, ld->digest, OCI_DIGEST_SIZE);
		snprintf(lr->info.diff_id, sizeof(lr->info.diff_id), "%s", id->valuestring);
		lr->info.size = ld->size;
		lr->info.from_base = 1;
		lr->path = oci_blob_path(l, ld->digest);
		im->nlayers = i + 1;
		if (!oci_blob_exists(l, ld->digest)) {
			err_set(b->e, EX_DOC, "%s: layer '%s' is missing from '%s'", what,
			    ld->digest,
			    l->dir);
			oci_manifest_free(&m);
			goto out;
		}
	}
	oci_manifest_free(&m);
	rc = 0;
out:
	oci_desc_free(&d);
	return rc;
}

static int
split_oci_ref(const char *ref, char **dir, char **tag)
{
	const char *rest = ref + 4, *colon = strrchr(rest, ':');

	if (!*rest)
		return -1;
	if (colon && colon != rest && !strchr(colon, '/') && colon[1]) {
		*dir = xstrndup(rest, (size_t)(colon - rest));
		*tag = xstrdup(colon + 1);
	} else {
		*dir = xstrdup(rest);
		*tag = NULL;
	}
	return 0;
}

static struct image *
load_image(struct builder *b, const struct df_inst *in, const char *ref, const char *platform)
{
	struct image *im = xcalloc(1, sizeof(*im));
	struct platform want;
	int want_given = platform != NULL;
	const char *plat = platform ? platform : b->o->platform ? b->o->platform : NULL;

	if (plat)
		want_given = 1;
	if (base_platform_parse(plat ? plat : build_host_platform(), &want) < 0) {
		builder_err(b, in, EX_USAGE_, "bad platform '%s' (expected OS/ARCH[/VARIANT])",
		    plat);
		image_free(im);
		return NULL;
	}
	im->ref = xstrdup(ref);
	if (!strncmp(ref, "oci:", 4)) {
		struct oci_layout l;
		struct oci_desc d;
		char *dir = NULL, *tag = NULL, *what;
		int rc;

		if (split_oci_ref(ref, &dir, &tag) < 0) {
			builder_err(b, in, EX_USAGE_, "'%s': expected oci:DIR[:TAG]", ref);
			image_free(im);
			return NULL;
		}
		what = xasprintf("image '%s'", ref);
		memset(&d, 0, sizeof(d));
		rc = oci_layout_open(&l, dir, b->e);
		if (rc == 0) {
			rc = oci_layout_find(&l, tag, &d, b->e);
			if (rc == 0)
				rc = image_from_layout(b, &l, &d, what, &want, want_given, im);
			oci_desc_free(&d);
			oci_layout_close(&l);
		}
		free(what);
		free(dir);
		free(tag);
		if (rc < 0) {
			if (b->e->code == EX_IOERR_ || b->e->code == EX_FAIL)
				b->e->code = EX_USAGE_;
			builder_prefix(b, in);
			image_free(im);
			return NULL;
		}
		return im;
	}
	/* A registry reference. */
	{
		struct image_ref r;
		struct oci_desc d;
		char idx[OCI_DIGEST_SIZE];
		struct oci_layout *l;
		char *what;
		int rc;

		if (ref_parse(ref, &r, b->e) < 0) {
			builder_prefix(b, in);
			image_free(im);
			return NULL;
		}
		im->name = ref_string(&r);
		if (!r.tag && !r.digest) {
			free(im->name);
			r.tag = xstrdup("latest");
			im->name = ref_string(&r);
		}
		ref_free(&r);
		if (!b->o->regopts) {
			builder_err(b, in, EX_USAGE_,
			    "FROM '%s': pulling from a registry is not built yet; "
			    "pull it into an OCI layout with skopeo and use FROM oci:DIR:TAG", ref);
			image_free(im);
			return NULL;
		}
		if (b->have_cache) {
			l = &b->cache;
		} else {
			if (!b->have_pull) {
				char *dir = xasprintf("%s/pull", b->o->work_dir);

				rc = oci_layout_create(&b->pull, dir, b->e);
				free(dir);
				if (rc < 0) {
					image_free(im);
					return NULL;
				}
				b->have_pull = 1;
			}
			l = &b->pull;
		}
		if (b->o->regopts) {
			static char pbuf[96];

			snprintf(pbuf, sizeof(pbuf), "%s/%s%s%s", want.os, want.arch,
			    want.variant[0] ? "/" : "", want.variant);
			b->o->regopts->platform = pbuf;
		}
		log_info("pulling %s", im->name);
		memset(&d, 0, sizeof(d));
		if (!b->reg)
			b->reg = registry_new(b->o->regopts);
		rc = registry_pull(b->reg, im->name, l, &d, idx, b->e);
		if (rc < 0) {
			/* A base that does not exist is the Dockerfile's error. */
			if (b->e->code == EX_FAIL)
				b->e->code = EX_USAGE_;
			builder_prefix(b, in);
			image_free(im);
			return NULL;
		}
		what = xasprintf("image '%s'", im->name);
		rc = image_from_layout(b, l, &d, what, &want, want_given, im);
		free(what);
		if (rc == 0 && b->have_cache) {
			oci_index_add(&b->cache, &d, NULL);
			if (oci_index_write(&b->cache, b->e) < 0)
				log_warn("cannot update the cache's index: %s", b->e->msg);
			err_clear(b->e);
		}
		oci_desc_free(&d);
		if (rc < 0) {
			builder_prefix(b, in);
			image_free(im);
			return NULL;
		}
		return im;
	}
}

/* ---- the stage's file system ------------------------------------------------- */

/* A layer into a view, its listing cached by digest: a rebuild on the
 * same base reads no base layer at all. */
static int
apply_layer(struct builder *b, struct rootfs *fs, const struct lref *l)
{
	char *listing = b->o->cache_dir && digest_valid(l->info.digest) ?
	    xasprintf("%s/views/%s", b->o->cache_dir, l->info.digest + 7) : NULL;
	int rc = rootfs_apply_layer(fs, l->path, listing, b->e);

	free(listing);
	return rc;
}

struct rootfs *
base_stage_fs(struct builder *b, struct build_stage *s)
{
	size_t i;

	if (s->fs_ready)
		return s->fs;
	if (s->base_stage >= 0 && b->st[s->base_stage].fs_ready) {
		s->fs = rootfs_clone(b->st[s->base_stage].fs);
	} else {
		s->fs = rootfs_new();
		for (i = 0; i < s->nbase; i++)
			if (apply_layer(b, s->fs, &s->layers[i]) < 0) {
				err_prefix(b->e, "reading layer '%s' of the base image",
				    s->layers[i].info.digest);
				rootfs_free(s->fs);
				s->fs = NULL;
				return NULL;
			}
	}
	s->fs_ready = 1;
	return s->fs;
}

/* ---- stages --------------------------------------------------------------- */

struct image *
base_image(struct builder *b, const struct df_inst *in, const char *ref)
{
	struct image *im;
	size_t i;

	for (i = 0; i < b->nimgs; i++)
		if (!strcmp(b->imgs[i]->ref, ref))
			return b->imgs[i];
	if (!strcmp(ref, "scratch")) {
		im = xcalloc(1, sizeof(*im));
		im->ref = xstrdup(ref);
		im->fs = rootfs_new();
	} else {
		im = load_image(b, in, ref, NULL);
		if (!im)
			return NULL;
		im->fs = rootfs_new();
		for (i = 0; i < im->nlayers; i++)
			if (apply_layer(b, im->fs, &im->layers[i]) < 0) {
				image_free(im);
				builder_prefix(b, in);
				return NULL;
			}
	}
	b->imgs = xrealloc(b->imgs, (b->nimgs + 1) * sizeof(*b->imgs));
	b->imgs[b->nimgs++] = im;
	return im;
}

int
base_start(struct builder *b, struct build_stage *s)
{
	const struct df_inst *from = &b->df.v[s->first];
	struct image *im = NULL;
	size_t i;

	if (s->base_stage >= 0) {
		struct build_stage *p = &b->st[s->base_stage];

		s->cfg = cJSON_Duplicate(p->cfg, 1);
		s->layers = xcalloc(p->nlayers + 1, sizeof(*s->layers));
		for (i = 0; i < p->nlayers; i++) {
			s->layers[i].info = p->layers[i].info;
			s->layers[i].path = xstrdup(p->layers[i].path);
		}
		s->nlayers = s->nbase = p->nlayers;
		s->base_name = p->base_name ? xstrdup(p->base_name) : NULL;
		memcpy(s->base_digest, p->base_digest, OCI_DIGEST_SIZE);
		for (i = 0; p->labels && p->labels[i]; i++)
			s->labels = strv_push(s->labels, p->labels[i]);
		if (p->fs_ready) {
			s->fs = rootfs_clone(p->fs);
			s->fs_ready = 1;
		}
	} else if (!strcmp(s->base_ref, "scratch")) {
		struct platform p;
		const char *plat = s->platform ? s->platform : b->platform;

		if (base_platform_parse(plat, &p) < 0)
			return builder_err(b, from, EX_USAGE_, "bad platform '%s' (expected "
			    "OS/ARCH[/VARIANT])", plat);
		s->cfg = imgconfig_new(p.os, p.arch, p.variant);
		s->fs = rootfs_new();
		s->fs_ready = 1;
	} else {
		im = load_image(b, from, s->base_ref, s->platform);
		if (!im)
			return -1;
		s->cfg = im->cfg;
		im->cfg = NULL;
		s->layers = im->layers;
		s->nlayers = s->nbase = im->nlayers;
		im->layers = NULL;
		im->nlayers = 0;
		s->base_name = xstrdup(im->name ? im->name : s->base_ref);
		memcpy(s->base_digest, im->digest, OCI_DIGEST_SIZE);
		image_free(im);
		/* BuildKit's default environment, as a base without one gets it. */
		if (!imgconfig_env_get(s->cfg, "PATH") && !strcmp(json_str(s->cfg, "os"), "linux"))
			imgconfig_env_set(s->cfg, "PATH",
			    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	}
	if (!s->base_name && s->base_stage < 0 && strcmp(s->base_ref, "scratch") != 0)
		s->base_name = xstrdup(s->base_ref);
	/* What the view starts from, for RUN's cache. */
	if (s->base_stage >= 0) {
		memcpy(s->state, b->st[s->base_stage].state, OCI_DIGEST_SIZE);
	} else {
		char *what = !strcmp(s->base_ref, "scratch") ? xasprintf("scratch %s",
		    s->platform ? s->platform : b->platform) : xasprintf("image %s", s->base_digest);

		sha256_digest(what, strlen(what), s->state);
		free(what);
	}
	/* Our "created" and no leftover "author" of the base's build. */
	json_set(s->cfg, "created", cJSON_CreateString(b->created));
	if (s->chain) {
		for (i = 0; i < s->nbase; i++)
			if (build_blob_link(s->layers[i].path, b->out, s->layers[i].info.digest,
			    s->layers[i].info.size, b->e) < 0)
				return builder_prefix(b, from);
	}
	if (!strcmp(s->base_ref, "scratch") && s->base_stage < 0)
		imgconfig_env_set(s->cfg, "PATH",
		    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	/* ONBUILD triggers of the base (an image or a stage, as in BuildKit)
	 * run first, then are gone. */
	{
		cJSON *rt = imgconfig_rt(s->cfg);
		cJSON *ob = cJSON_DetachItemFromObjectCaseSensitive(rt, "OnBuild"), *it;
		int rc = 0;

		cJSON_ArrayForEach(it, ob) {
			struct df_inst trig;

			if (!cJSON_IsString(it))
				continue;
			if (dockerfile_parse_line(it->valuestring, '\\', b->df.name, from->line,
			    &trig, b->e) < 0) {
				err_prefix(b->e, "ONBUILD trigger of the base image");
				rc = -1;
				break;
			}
			if (trig.kind == DF_RUN) {
				rc = builder_err(b, from, EX_USAGE_,
				    "the base image's ONBUILD %s needs an OCI "
				    "runtime; not yet supported", trig.text);
			} else {
				rc = plan_dispatch(b, s, &trig);
			}
			df_inst_free(&trig);
			if (rc < 0)
				break;
		}
		cJSON_Delete(ob);
		if (rc < 0)
			return -1;
	}
	return 0;
}

void
base_free(struct builder *b)
{
	size_t i;

	for (i = 0; i < b->nimgs; i++)
		image_free(b->imgs[i]);
	free(b->imgs);
	b->imgs = NULL;
	b->nimgs = 0;
	if (b->have_pull)
		oci_layout_close(&b->pull);
	b->have_pull = 0;
	registry_free(b->reg);
	b->reg = NULL;
}
