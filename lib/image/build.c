/*
 * build: the Dockerfile interpreter behind ci-build.  See build.h for the
 * contract; the comments here say where we follow Docker (BuildKit) and
 * why we differ.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "image/build.h"
#include "core/buf.h"
#include "image/dockerfile.h"
#include "image/dockerignore.h"
#include "core/fsutil.h"
#include "image/config.h"
#include "core/json.h"
#include "oci/ref.h"
#include "net/registry.h"
#include "image/rootfs.h"
#include "core/timeutil.h"

#define DOCKERFILE_MAX (16u << 20)
#define SMALL_MAX (16u << 20)
#define PASSWD_MAX (4u << 20)
#define HISTORY_COMMENT "ci-build.dockerfile.v0"
#define COPY_BUF (256u << 10)

/* ---- small helpers ------------------------------------------------------ */

static char *
path_join(const char *dir, const char *name)
{
	if (!*name || !strcmp(name, "."))
		return xstrdup(dir);
	if (!*dir || !strcmp(dir, "."))
		return xstrdup(name);
	return xasprintf("%s/%s", dir, name);
}

static const char *
base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static char *
dir_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? xstrndup(p, (size_t)(s - p)) : xstrdup(".");
}

/* Image path ("/a/b", "a/b/", "/") to view path ("a/b", "."). */
static char *
view_path(const char *p)
{
	char *c = path_clean(p[0] == '/' ? p : p), *r;

	if (c[0] == '/') {
		r = xstrdup(c[1] ? c + 1 : ".");
		free(c);
		return r;
	}
	return c;
}

static int
has_glob(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			continue;
		}
		if (*s == '*' || *s == '?' || *s == '[')
			return 1;
	}
	return 0;
}

/* ---- variables ------------------------------------------------------------ */

struct var {
	char *name;
	char *value;		/* NULL: declared without a value */
};

struct vars {
	struct var *v;
	size_t n;
};

static struct var *
vars_find(const struct vars *vs, const char *name)
{
	size_t i;

	for (i = vs->n; i > 0; i--)
		if (!strcmp(vs->v[i - 1].name, name))
			return &vs->v[i - 1];
	return NULL;
}

static void
vars_set(struct vars *vs, const char *name, const char *value)
{
	struct var *x = vars_find(vs, name);

	if (x) {
		free(x->value);
		x->value = value ? xstrdup(value) : NULL;
		return;
	}
	vs->v = xrealloc(vs->v, (vs->n + 1) * sizeof(*vs->v));
	vs->v[vs->n].name = xstrdup(name);
	vs->v[vs->n].value = value ? xstrdup(value) : NULL;
	vs->n++;
}

static void
vars_free(struct vars *vs)
{
	size_t i;

	for (i = 0; i < vs->n; i++) {
		free(vs->v[i].name);
		free(vs->v[i].value);
	}
	free(vs->v);
	memset(vs, 0, sizeof(*vs));
}

/* ---- images, stages, the builder ----------------------------------------- */

struct lref {
	struct build_layer info;
	char *path;		/* the blob file */
};

struct image {
	char *ref;		/* as written */
	char *name;		/* for annotations, or NULL */
	char digest[OCI_DIGEST_SIZE];
	cJSON *cfg;
	struct lref *layers;
	size_t nlayers;
	struct rootfs *fs;	/* for COPY --from=IMAGE */
};

struct stage {
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
};

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
	int have_pull;
	struct layer_fcache *fcache;
	int cache_has_layers;		/* some layer is cached: worth digesting first */
	struct vars bargs;		/* --build-arg */
	int *consumed;
	struct vars global;		/* ARG before the first FROM */
	struct stage *st;
	size_t nst;
	struct image **imgs;		/* loaded for COPY --from=IMAGE */
	size_t nimgs;
	char *scratch;
	int seq;
	char created[32];
	char *platform;			/* the target platform, "os/arch[/variant]" */
	size_t target;
	char **warnings;		/* strv */
	struct build_result *r;
	struct err *e;
};

static void
warn(struct builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
warn(struct builder *b, const char *fmt, ...)
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
static int
ierr(struct builder *b, const struct df_inst *in, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
ierr(struct builder *b, const struct df_inst *in, int code, const char *fmt, ...)
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
static int
iprefix(struct builder *b, const struct df_inst *in)
{
	if (in)
		err_prefix(b->e, "%s:%d: %s", b->df.name, in->line, df_kind_name(in->kind));
	return -1;
}

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

struct platform {
	char os[32], arch[32], variant[32];
};

static int
platform_parse(const char *s, struct platform *p)
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

static char *
platform_of(const cJSON *cfg)
{
	const char *os = json_str(cfg, "os"), *arch = json_str(cfg, "architecture");
	const char *v = json_str(cfg, "variant");

	if (v && *v)
		return xasprintf("%s/%s/%s", os ? os : "linux", arch ? arch : "amd64", v);
	return xasprintf("%s/%s", os ? os : "linux", arch ? arch : "amd64");
}

/* Automatic platform ARGs (BuildKit's TARGETPLATFORM and friends). */
static const char *
platform_arg(struct builder *b, const char *name)
{
	static char val[8][128];
	struct platform t, h;
	const char *tp = b->platform ? b->platform : build_host_platform();

	if (platform_parse(tp, &t) < 0 || platform_parse(build_host_platform(), &h) < 0)
		return NULL;
	if (!strcmp(name, "TARGETPLATFORM"))
		return snprintf(val[0], sizeof(val[0]), "%s", tp), val[0];
	if (!strcmp(name, "TARGETOS"))
		return snprintf(val[1], sizeof(val[1]), "%s", t.os), val[1];
	if (!strcmp(name, "TARGETARCH"))
		return snprintf(val[2], sizeof(val[2]), "%s", t.arch), val[2];
	if (!strcmp(name, "TARGETVARIANT"))
		return snprintf(val[3], sizeof(val[3]), "%s", t.variant), val[3];
	if (!strcmp(name, "BUILDPLATFORM"))
		return snprintf(val[4], sizeof(val[4]), "%s", build_host_platform()), val[4];
	if (!strcmp(name, "BUILDOS"))
		return snprintf(val[5], sizeof(val[5]), "%s", h.os), val[5];
	if (!strcmp(name, "BUILDARCH"))
		return snprintf(val[6], sizeof(val[6]), "%s", h.arch), val[6];
	if (!strcmp(name, "BUILDVARIANT"))
		return snprintf(val[7], sizeof(val[7]), "%s", h.variant), val[7];
	return NULL;
}

/* ---- expansion -------------------------------------------------------------- */

struct scope {
	struct builder *b;
	struct stage *s;	/* NULL: the global scope (FROM lines) */
};

static const char *
scope_lookup(const char *name, void *arg)
{
	struct scope *sc = arg;
	struct var *x;

	if (!sc->s) {
		if ((x = vars_find(&sc->b->global, name)))
			return x->value;
		return platform_arg(sc->b, name);
	}
	/* ENV wins over ARG, as in Docker. */
	{
		const char *v = imgconfig_env_get(sc->s->cfg, name);

		if (v)
			return v;
	}
	if ((x = vars_find(&sc->s->args, name)))
		return x->value;
	return NULL;
}

static int
expand(struct builder *b, struct stage *s, const struct df_inst *in, const char *word,
    char **out)
{
	struct scope sc;

	sc.b = b;
	sc.s = s;
	if (df_expand(word, b->df.escape, scope_lookup, &sc, out, b->e) < 0)
		return iprefix(b, in);
	return 0;
}

/* A --build-arg value, marking it used. */
static const char *
build_arg(struct builder *b, const char *name)
{
	size_t i;

	for (i = 0; i < b->bargs.n; i++)
		if (!strcmp(b->bargs.v[i].name, name)) {
			b->consumed[i] = 1;
			return b->bargs.v[i].value;
		}
	return NULL;
}

/* ---- blobs ------------------------------------------------------------------ */

static int
copy_file(const char *src, const char *dst, struct err *e)
{
	char *buf = xmalloc(COPY_BUF);
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
	ssize_t n;

	if (in < 0) {
		free(buf);
		return err_set(e, EX_IOERR_, "cannot read '%s': %s", src, strerror(errno));
	}
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		rc = err_set(e, EX_IOERR_, "cannot create '%s': %s", dst, strerror(errno));
		goto done;
	}
	while ((n = read(in, buf, COPY_BUF)) != 0) {
		ssize_t off = 0;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = err_set(e, EX_IOERR_, "cannot read '%s': %s", src, strerror(errno));
			break;
		}
		while (off < n) {
			ssize_t k = write(out, buf + off, (size_t)(n - off));

			if (k < 0) {
				if (errno == EINTR)
					continue;
				rc = err_set(e, EX_IOERR_, "cannot write '%s': %s", dst, strerror(errno));
				goto done;
			}
			off += k;
		}
	}
done:
	if (out >= 0 && close(out) != 0 && rc == 0)
		rc = err_set(e, EX_IOERR_, "cannot write '%s': %s", dst, strerror(errno));
	close(in);
	free(buf);
	if (rc < 0)
		unlink(dst);
	return rc;
}

int
build_blob_link(const char *src, const struct oci_layout *l, const char *digest,
    long long size, struct err *e)
{
	char *dst = oci_blob_path(l, digest), *tmp;
	struct stat st;
	int rc;

	if (!dst)
		return err_set(e, EX_DOC, "bad digest '%s'", digest);
	if (stat(dst, &st) == 0 && S_ISREG(st.st_mode) && (size < 0 || st.st_size == size)) {
		free(dst);
		return 0;
	}
	{
		char *d = xasprintf("%s/blobs/sha256", l->dir);

		rc = mkdir_p(d, 0755, e);
		free(d);
		if (rc < 0) {
			free(dst);
			return -1;
		}
	}
	unlink(dst);
	if (link(src, dst) == 0) {
		free(dst);
		return 0;
	}
	/* Another file system, or links not allowed: copy, then rename. */
	tmp = xasprintf("%s.tmp.%ld", dst, (long)getpid());
	rc = copy_file(src, tmp, e);
	if (rc == 0 && rename(tmp, dst) != 0) {
		rc = err_set(e, EX_IOERR_, "cannot rename '%s': %s", tmp, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	free(dst);
	return rc;
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
	text = oci_blob_read(l, d.digest, d.size, SMALL_MAX, &len, b->e);
	if (!text)
		goto out;
	if (oci_manifest_parse(text, len, d.media_type, &m, b->e) < 0) {
		free(text);
		goto out;
	}
	free(text);
	if (m.is_index) {
		struct oci_desc pick;

		if (pick_platform(&m, want, what, &pick, b->e) < 0) {
			oci_manifest_free(&m);
			goto out;
		}
		oci_manifest_free(&m);
		oci_desc_free(&d);
		d = pick;
		text = oci_blob_read(l, d.digest, d.size, SMALL_MAX, &len, b->e);
		if (!text)
			goto out;
		if (oci_manifest_parse(text, len, d.media_type, &m, b->e) < 0) {
			free(text);
			goto out;
		}
		free(text);
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
			err_set(b->e, EX_DOC, "%s: layer '%s' is missing from '%s'", what, ld->digest,
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
	if (platform_parse(plat ? plat : build_host_platform(), &want) < 0) {
		ierr(b, in, EX_USAGE_, "bad platform '%s' (expected OS/ARCH[/VARIANT])", plat);
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
			ierr(b, in, EX_USAGE_, "'%s': expected oci:DIR[:TAG]", ref);
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
			iprefix(b, in);
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
			iprefix(b, in);
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
		if (!b->o->reg) {
			ierr(b, in, EX_USAGE_, "FROM '%s': pulling from a registry is not built yet; "
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
		rc = registry_pull(b->o->reg, im->name, l, &d, idx, b->e);
		if (rc < 0) {
			/* A base that does not exist is the Dockerfile's error. */
			if (b->e->code == EX_FAIL)
				b->e->code = EX_USAGE_;
			iprefix(b, in);
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
			iprefix(b, in);
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

static struct rootfs *
stage_fs(struct builder *b, struct stage *s)
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

/* ---- users and groups --------------------------------------------------------- */

/* Look name up in an /etc/passwd or /etc/group text: 0 and *id (and *gid,
 * the user's group) when found. */
static int
db_lookup(const char *text, const char *name, long long *id, long long *gid)
{
	const char *p = text;

	while (p && *p) {
		const char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p);
		char *line = xstrndup(p, (size_t)(end - p)), *f[4] = { NULL, NULL, NULL, NULL };
		char *s = line, *c;
		int k = 0, found = 0;

		while (k < 4 && (c = strchr(s, ':'))) {
			*c = '\0';
			f[k++] = s;
			s = c + 1;
		}
		if (k < 4 && k >= 0)
			f[k++] = s;
		if (f[0] && !strcmp(f[0], name) && f[2]) {
			char *end2;

			errno = 0;
			*id = strtoll(f[2], &end2, 10);
			if (!errno && end2 != f[2]) {
				found = 1;
				if (gid && f[3])
					*gid = strtoll(f[3], NULL, 10);
			}
		}
		free(line);
		if (found)
			return 0;
		p = nl ? nl + 1 : NULL;
	}
	return -1;
}

static int
parse_id(const char *s, long long *out)
{
	char *end;
	long long v;

	if (!*s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 0 || v > 0x7fffffffLL)
		return -1;
	*out = v;
	return 0;
}

struct owner {
	long long uid, gid;
	char *uname, *gname;
	int set;
};

static void
owner_free(struct owner *ow)
{
	free(ow->uname);
	free(ow->gname);
	memset(ow, 0, sizeof(*ow));
}

/*
 * "user[:group]" by number or by name in the stage's /etc/passwd and
 * /etc/group.  A user alone gets its primary group (a number alone, the
 * same number), as BuildKit does.
 */
static int
resolve_owner(struct builder *b, struct stage *s, const struct df_inst *in, const char *spec,
    const char *what, struct owner *ow)
{
	char *user = xstrdup(spec), *group = strchr(user, ':');
	char *passwd = NULL, *grp = NULL;
	struct rootfs *fs;
	int rc = -1;

	memset(ow, 0, sizeof(*ow));
	if (group)
		*group++ = '\0';
	if (!*user || (group && (!*group || strchr(group, ':')))) {
		ierr(b, in, EX_USAGE_, "%s: %s '%s': expected USER[:GROUP]", df_kind_name(in->kind),
		    what, spec);
		goto out;
	}
	if (parse_id(user, &ow->uid) == 0) {
		ow->gid = ow->uid;
	} else {
		if (!(fs = stage_fs(b, s))) {
			iprefix(b, in);
			goto out;
		}
		passwd = rootfs_read(fs, "etc/passwd", b->scratch, PASSWD_MAX, b->e);
		if (!passwd || db_lookup(passwd, user, &ow->uid, &ow->gid) < 0) {
			ierr(b, in, EX_USAGE_, "%s: %s '%s': no user '%s' in the image's "
			    "/etc/passwd", df_kind_name(in->kind), what, spec, user);
			goto out;
		}
		ow->uname = xstrdup(user);
	}
	if (group) {
		if (parse_id(group, &ow->gid) < 0) {
			if (!(fs = stage_fs(b, s))) {
				iprefix(b, in);
				goto out;
			}
			grp = rootfs_read(fs, "etc/group", b->scratch, PASSWD_MAX, b->e);
			if (!grp || db_lookup(grp, group, &ow->gid, NULL) < 0) {
				ierr(b, in, EX_USAGE_, "%s: %s '%s': no group '%s' in the image's "
				    "/etc/group", df_kind_name(in->kind), what, spec, group);
				goto out;
			}
			ow->gname = xstrdup(group);
		}
	}
	ow->set = 1;
	rc = 0;
out:
	if (rc < 0)
		owner_free(ow);
	free(user);
	free(passwd);
	free(grp);
	return rc;
}

/* ---- layer building --------------------------------------------------------------- */

struct item {
	struct layer_entry ent;
	struct stat st;
	int have_st;		/* st is the context file's */
};

struct lb {
	struct item *v;
	size_t n, cap;
	size_t *tab;		/* open addressing: index + 1 */
	size_t tabsz;
};

static size_t
hstr(const char *s)
{
	size_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct item *
lb_get(const struct lb *lb, const char *path)
{
	size_t i;

	if (!lb->tabsz)
		return NULL;
	for (i = hstr(path) & (lb->tabsz - 1); lb->tab[i]; i = (i + 1) & (lb->tabsz - 1))
		if (!strcmp(lb->v[lb->tab[i] - 1].ent.path, path))
			return &lb->v[lb->tab[i] - 1];
	return NULL;
}

static void
lb_rehash(struct lb *lb)
{
	size_t i, j;

	free(lb->tab);
	lb->tabsz = lb->tabsz ? lb->tabsz * 2 : 1024;
	while (lb->tabsz < lb->n * 2)
		lb->tabsz *= 2;
	lb->tab = xcalloc(lb->tabsz, sizeof(*lb->tab));
	for (i = 0; i < lb->n; i++) {
		for (j = hstr(lb->v[i].ent.path) & (lb->tabsz - 1); lb->tab[j];
		    j = (j + 1) & (lb->tabsz - 1))
			;
		lb->tab[j] = i + 1;
	}
}

/* Add (taking ent's strings) or replace what is at the same path. */
static void
lb_put(struct lb *lb, struct layer_entry *ent, const struct stat *st)
{
	struct item *x = lb_get(lb, ent->path);
	size_t j;

	if (x) {
		layer_entry_free(&x->ent);
		x->ent = *ent;
		x->have_st = st != NULL;
		if (st)
			x->st = *st;
		memset(ent, 0, sizeof(*ent));
		return;
	}
	if (lb->n == lb->cap) {
		lb->cap = lb->cap ? lb->cap * 2 : 64;
		lb->v = xrealloc(lb->v, lb->cap * sizeof(*lb->v));
	}
	x = &lb->v[lb->n++];
	memset(x, 0, sizeof(*x));
	x->ent = *ent;
	x->have_st = st != NULL;
	if (st)
		x->st = *st;
	memset(ent, 0, sizeof(*ent));
	if (lb->n * 2 > lb->tabsz) {
		lb_rehash(lb);
		return;
	}
	for (j = hstr(x->ent.path) & (lb->tabsz - 1); lb->tab[j]; j = (j + 1) & (lb->tabsz - 1))
		;
	lb->tab[j] = lb->n;
}

static void
lb_free(struct lb *lb)
{
	size_t i;

	for (i = 0; i < lb->n; i++)
		layer_entry_free(&lb->v[i].ent);
	free(lb->v);
	free(lb->tab);
	memset(lb, 0, sizeof(*lb));
}

static long long
clamp_mtime(const struct builder *b, long long t)
{
	if (t > b->o->sde)
		return b->o->sde;
	return t < 0 ? 0 : t;
}

/* What a COPY applies to every entry it copies. */
struct copy_params {
	struct owner own;	/* --chown, or unset */
	int chmod;		/* --chmod, or -1 */
	int keep_owner;		/* from an image or archive: keep uid/gid */
};

static void
apply_params(struct builder *b, const struct copy_params *cp, struct layer_entry *le)
{
	le->mtime = clamp_mtime(b, le->mtime);
	if (cp->own.set) {
		le->uid = cp->own.uid;
		le->gid = cp->own.gid;
		free(le->uname);
		free(le->gname);
		le->uname = cp->own.uname ? xstrdup(cp->own.uname) : NULL;
		le->gname = cp->own.gname ? xstrdup(cp->own.gname) : NULL;
	} else if (!cp->keep_owner) {
		le->uid = le->gid = 0;
		free(le->uname);
		free(le->gname);
		le->uname = le->gname = NULL;
	}
	if (cp->chmod >= 0 && le->type != LE_SYMLINK && le->type != LE_HARDLINK)
		le->mode = (unsigned)cp->chmod;
}

/*
 * Where a path of the image really is: its parent resolved through the
 * stage's symlinks (so /lib/x lands in /usr/lib/x when /lib -> usr/lib);
 * with dir set, the path itself too when it is a link to a directory.
 */
static int
resolve_dest(struct builder *b, struct rootfs *fs, const char *path, int dir, char **out)
{
	char *parent = dir_name(path), *rp, *cand;
	struct rootfs_node *x;

	*out = NULL;
	if (!strcmp(path, ".")) {
		free(parent);
		*out = xstrdup(".");
		return 0;
	}
	if (rootfs_resolve(fs, parent, 1, &rp, b->e) < 0) {
		free(parent);
		return -1;
	}
	free(parent);
	cand = path_join(rp, base_name(path));
	free(rp);
	x = rootfs_get(fs, cand);
	if (dir && x && x->ent.type == LE_SYMLINK) {
		char *r2;

		if (rootfs_resolve(fs, cand, 1, &r2, b->e) < 0) {
			free(cand);
			return -1;
		}
		free(cand);
		cand = r2;
	}
	*out = cand;
	return 0;
}

/* Add the parents of every entry that the layer lacks: existing ones with
 * the metadata the stage has, new ones as 0755 directories. */
static int
lb_add_parents(struct builder *b, struct stage *s, struct lb *lb, const struct owner *own,
    const struct df_inst *in)
{
	struct rootfs *fs = s->fs;
	size_t i, n = lb->n;

	for (i = 0; i < n; i++) {
		char *p = xstrdup(lb->v[i].ent.path), *slash;

		while ((slash = strrchr(p, '/'))) {
			struct rootfs_node *x;
			struct layer_entry d;
			struct item *it;

			*slash = '\0';
			if ((it = lb_get(lb, p))) {
				if (it->ent.type != LE_DIR) {
					ierr(b, in, EX_USAGE_, "%s: '/%s' would be both a file and a "
					    "directory", df_kind_name(in->kind), p);
					free(p);
					return -1;
				}
				break;
			}
			memset(&d, 0, sizeof(d));
			x = fs ? rootfs_get(fs, p) : NULL;
			if (x && x->ent.type != LE_DIR) {
				ierr(b, in, EX_USAGE_, "%s: cannot copy to '/%s': '/%s' is not a "
				    "directory in the image", df_kind_name(in->kind),
				    lb->v[i].ent.path, p);
				free(p);
				return -1;
			}
			if (x) {
				layer_entry_copy(&d, &x->ent);
				free(d.src);
				d.src = NULL;
				d.mtime = clamp_mtime(b, d.mtime);
			} else {
				d.path = xstrdup(p);
				d.type = LE_DIR;
				d.mode = 0755;
				d.mtime = b->o->sde;
				if (own && own->set) {
					d.uid = own->uid;
					d.gid = own->gid;
					d.uname = own->uname ? xstrdup(own->uname) : NULL;
					d.gname = own->gname ? xstrdup(own->gname) : NULL;
				}
			}
			lb_put(lb, &d, NULL);
			/* lb->v may have moved; the loop re-reads it by index. */
		}
		free(p);
	}
	return 0;
}

struct hl {
	dev_t dev;
	ino_t ino;
	size_t idx;
};

static int
hl_cmp(const void *a, const void *b)
{
	const struct hl *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

static struct lb *hl_sort_lb;

static int
hl_path_cmp(const void *a, const void *b)
{
	const struct hl *x = a, *y = b;
	int c = hl_cmp(a, b);

	if (c)
		return c;
	return strcmp(hl_sort_lb->v[x->idx].ent.path, hl_sort_lb->v[y->idx].ent.path);
}

/* Files of the context that are hard links of each other stay so: the
 * first by path keeps the content, the others link to it. */
static void
lb_hardlinks(struct lb *lb)
{
	struct hl *v = NULL;
	size_t n = 0, i, j;

	for (i = 0; i < lb->n; i++) {
		const struct item *x = &lb->v[i];

		if (x->have_st && x->ent.type == LE_FILE && x->st.st_nlink > 1) {
			v = xrealloc(v, (n + 1) * sizeof(*v));
			v[n].dev = x->st.st_dev;
			v[n].ino = x->st.st_ino;
			v[n++].idx = i;
		}
	}
	if (n < 2) {
		free(v);
		return;
	}
	hl_sort_lb = lb;
	qsort(v, n, sizeof(*v), hl_path_cmp);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && !hl_cmp(&v[i], &v[j]); j++) {
			struct layer_entry *le = &lb->v[v[j].idx].ent;

			le->type = LE_HARDLINK;
			free(le->link);
			le->link = xstrdup(lb->v[v[i].idx].ent.path);
			le->size = 0;
			free(le->src);
			le->src = NULL;
		}
	}
	free(v);
}

/*
 * In a tar, a hard link comes after what it links to.  Links are pointed
 * straight at the entry with the content, and in each group the first
 * path (bytewise, the order of the tar) is made the one with the content.
 */
static int
lb_link_order(struct builder *b, struct lb *lb, const struct df_inst *in)
{
	size_t i, k;

	for (i = 0; i < lb->n; i++) {
		struct item *x = &lb->v[i], *t;
		int hops = 0;

		if (x->ent.type != LE_HARDLINK)
			continue;
		t = lb_get(lb, x->ent.link);
		while (t && t->ent.type == LE_HARDLINK && hops++ < 40)
			t = lb_get(lb, t->ent.link);
		if (!t || t->ent.type != LE_FILE)
			return ierr(b, in, EX_USAGE_, "%s: '/%s' is a hard link to '/%s', which is "
			    "not a file this %s copies", df_kind_name(in->kind), x->ent.path,
			    x->ent.link, df_kind_name(in->kind));
		if (strcmp(t->ent.path, x->ent.link) != 0) {
			free(x->ent.link);
			x->ent.link = xstrdup(t->ent.path);
		}
	}
	for (i = 0; i < lb->n; i++) {
		struct item *x = &lb->v[i], *t;
		char *old;

		if (x->ent.type != LE_HARDLINK || !(t = lb_get(lb, x->ent.link)) ||
		    strcmp(x->ent.path, t->ent.path) >= 0)
			continue;
		/* x comes first: it takes the content, t links to it. */
		x->ent.type = LE_FILE;
		x->ent.size = t->ent.size;
		x->ent.src = t->ent.src;
		memcpy(x->ent.digest, t->ent.digest, OCI_DIGEST_SIZE);
		x->st = t->st;
		x->have_st = t->have_st;
		free(x->ent.link);
		x->ent.link = NULL;
		t->ent.src = NULL;
		t->ent.type = LE_HARDLINK;
		free(t->ent.link);
		t->ent.link = xstrdup(x->ent.path);
		t->ent.size = 0;
		t->ent.digest[0] = '\0';
		t->have_st = 0;
		old = xstrdup(t->ent.path);
		for (k = 0; k < lb->n; k++)
			if (lb->v[k].ent.type == LE_HARDLINK && !strcmp(lb->v[k].ent.link, old)) {
				free(lb->v[k].ent.link);
				lb->v[k].ent.link = xstrdup(x->ent.path);
			}
		free(old);
		/* Look at the links to x again: one may come before it still. */
		i = (size_t)-1;
	}
	return 0;
}

static int
lb_ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->ent.path, ((const struct item *)b)->ent.path);
}

static int
is_scratch(struct builder *b, const char *path)
{
	size_t n = strlen(b->o->work_dir);

	return !strncmp(path, b->o->work_dir, n) && path[n] == '/';
}

static int
read_record(const char *path, struct build_layer *bl)
{
	struct err e = { 0, "" };
	cJSON *j = json_load(path, 4096, 0, NULL, &e);
	const char *d, *id, *mt;
	long long size;
	int rc = -1;

	if (!j)
		return -1;
	d = json_str(j, "digest");
	id = json_str(j, "diff_id");
	mt = json_str(j, "media_type");
	if (d && id && mt && digest_valid(d) && digest_valid(id) &&
	    json_get_i64(cJSON_GetObjectItemCaseSensitive(j, "size"), &size) == 0) {
		snprintf(bl->digest, sizeof(bl->digest), "%s", d);
		snprintf(bl->diff_id, sizeof(bl->diff_id), "%s", id);
		bl->size = size;
		bl->media_type = !strcmp(mt, MT_OCI_LAYER_ZSTD) ? MT_OCI_LAYER_ZSTD :
		    !strcmp(mt, MT_OCI_LAYER_TAR) ? MT_OCI_LAYER_TAR : MT_OCI_LAYER_GZIP;
		rc = 0;
	}
	cJSON_Delete(j);
	return rc;
}

static void
write_record(struct builder *b, const char *key, const struct build_layer *bl)
{
	char *dir = xasprintf("%s/layers", b->o->cache_dir), *path;
	cJSON *j = cJSON_CreateObject();
	char *text;
	struct err e = { 0, "" };

	path = xasprintf("%s/%s.json", dir, key + 7);
	cJSON_AddStringToObject(j, "digest", bl->digest);
	cJSON_AddStringToObject(j, "diff_id", bl->diff_id);
	json_add_i64(j, "size", bl->size);
	cJSON_AddStringToObject(j, "media_type", bl->media_type);
	text = json_print(j);
	if (mkdir_p(dir, 0755, &e) < 0 || atomic_write(path, text, strlen(text), 0644, &e) < 0)
		log_warn("cannot write to the layer cache: %s", e.msg);
	free(text);
	cJSON_Delete(j);
	free(path);
	free(dir);
}

/*
 * Turn the collected entries into a layer of stage s: parents, hard
 * links, order, then the layer cache or a fresh blob in the output, then
 * the stage's view, config and history.
 */
static int
lb_commit(struct builder *b, struct stage *s, struct lb *lb, const struct owner *own,
    const struct df_inst *in, const char *created_by)
{
	struct layer_entry *ents;
	struct build_layer bl;
	char key[OCI_DIGEST_SIZE];
	size_t i;
	int known = 1, rc = -1, cached = 0;

	if (lb_add_parents(b, s, lb, own, in) < 0)
		return -1;
	lb_hardlinks(lb);
	if (lb_link_order(b, lb, in) < 0)
		return -1;
	if (lb->n > 1)
		qsort(lb->v, lb->n, sizeof(*lb->v), lb_ent_cmp);
	free(lb->tab);
	lb->tab = NULL;
	lb->tabsz = 0;
	ents = xcalloc(lb->n + 1, sizeof(*ents));
	for (i = 0; i < lb->n; i++)
		ents[i] = lb->v[i].ent;	/* borrowed: lb still owns the strings */
	memset(&bl, 0, sizeof(bl));

	if (s->chain) {
		/* The cache key needs every file's content digest. */
		for (i = 0; i < lb->n; i++) {
			struct layer_entry *le = &ents[i];
			struct stat st;
			const char *d;

			if (le->type != LE_FILE || le->digest[0])
				continue;
			if (le->size == 0) {
				sha256_digest("", 0, le->digest);
				continue;
			}
			if (lb->v[i].have_st)
				st = lb->v[i].st;
			else if (stat(le->src, &st) != 0) {
				known = 0;
				continue;
			}
			if ((d = layer_fcache_get(b->fcache, le->src, &st)))
				snprintf(le->digest, sizeof(le->digest), "%s", d);
			else
				known = 0;
		}
		/* With layers in the cache, reading the files is cheaper than a
		 * compression that may not be needed (a fresh checkout of an
		 * unchanged tree); with none, the write digests them anyway. */
		if (!known && b->cache_has_layers) {
			known = 1;
			for (i = 0; i < lb->n && known; i++) {
				struct layer_entry *le = &ents[i];
				long long size;

				if (le->type != LE_FILE || le->digest[0])
					continue;
				if (sha256_file(le->src, le->digest, &size, b->e) < 0) {
					iprefix(b, in);
					goto out;
				}
				if (size != le->size) {
					ierr(b, in, EX_IOERR_, "'%s' changed while it was read", le->src);
					goto out;
				}
			}
		}
		layer_cache_key(ents, lb->n, &b->o->layer, key);
		if (known && b->o->cache_dir) {
			char *rec = xasprintf("%s/layers/%s.json", b->o->cache_dir, key + 7);

			if (read_record(rec, &bl) == 0) {
				char *blob = oci_blob_path(&b->cache, bl.digest);
				struct stat st;

				if (blob && stat(blob, &st) == 0 && st.st_size == bl.size &&
				    build_blob_link(blob, b->out, bl.digest, bl.size, b->e) == 0)
					cached = 1;
				err_clear(b->e);
				free(blob);
			}
			free(rec);
		}
		if (!cached) {
			struct layer_result lr;
			char *tmp = xasprintf("%s/layer-%d.tmp", b->o->work_dir, ++b->seq);

			if (layer_write(ents, lb->n, &b->o->layer, tmp, &lr, b->e) < 0) {
				free(tmp);
				iprefix(b, in);
				goto out;
			}
			if (oci_blob_adopt(b->out, tmp, lr.digest, b->e) < 0) {
				unlink(tmp);
				free(tmp);
				goto out;
			}
			free(tmp);
			memcpy(bl.digest, lr.digest, OCI_DIGEST_SIZE);
			memcpy(bl.diff_id, lr.diff_id, OCI_DIGEST_SIZE);
			bl.size = lr.size;
			bl.media_type = lr.media_type;
			if (b->o->cache_dir) {
				char *src = oci_blob_path(b->out, bl.digest);

				layer_cache_key(ents, lb->n, &b->o->layer, key);
				if (build_blob_link(src, &b->cache, bl.digest, bl.size, b->e) == 0)
					write_record(b, key, &bl);
				else
					log_warn("cannot keep the layer in the cache: %s", b->e->msg);
				err_clear(b->e);
				free(src);
			}
		}
		/* Digests are all known now: remember the files. */
		for (i = 0; i < lb->n; i++)
			if (ents[i].type == LE_FILE && ents[i].src && ents[i].digest[0] &&
			    !is_scratch(b, ents[i].src)) {
				struct stat st;

				if (lb->v[i].have_st)
					st = lb->v[i].st;
				else if (stat(ents[i].src, &st) != 0)
					continue;
				layer_fcache_put(b->fcache, ents[i].src, &st, ents[i].digest);
			}
		bl.cached = cached;
		s->layers = xrealloc(s->layers, (s->nlayers + 1) * sizeof(*s->layers));
		s->layers[s->nlayers].info = bl;
		s->layers[s->nlayers].path = oci_blob_path(b->out, bl.digest);
		s->nlayers++;
		imgconfig_add_diff_id(s->cfg, bl.diff_id);
		if (cached)
			b->r->layers_cached++;
		else
			b->r->layers_built++;
		log_verbose("%s:%d: layer %s (%lld bytes%s)", b->df.name, in->line, bl.digest,
		    bl.size, cached ? ", cached" : "");
	}
	imgconfig_add_history(s->cfg, b->created, created_by, HISTORY_COMMENT, !s->chain);
	/* Later instructions see the new entries, content on disk. */
	for (i = 0; i < lb->n; i++) {
		memcpy(lb->v[i].ent.digest, ents[i].digest, OCI_DIGEST_SIZE);
		rootfs_put(s->fs, &lb->v[i].ent, -1);
	}
	rc = 0;
out:
	free(ents);
	return rc;
}

/* ---- sources: the build context ------------------------------------------------- */

struct copy_job;
static void new_dir(struct builder *b, struct copy_job *j, const char *path);

/* Context-relative path of an absolute path inside the context. */
static const char *
ctx_rel(struct builder *b, const char *abs)
{
	if (!strcmp(abs, b->ctx_real))
		return ".";
	return abs + b->ctx_len + 1;
}

struct copy_job {
	struct builder *b;
	struct stage *s;
	const struct df_inst *in;
	struct lb lb;
	struct copy_params cp;
	int nwalked;
};

/* A directory the COPY makes: 0755, the --chown owner, the epoch. */
static void
new_dir(struct builder *b, struct copy_job *j, const char *path)
{
	struct layer_entry d;

	if (!strcmp(path, ".") || lb_get(&j->lb, path))
		return;
	memset(&d, 0, sizeof(d));
	d.path = xstrdup(path);
	d.type = LE_DIR;
	d.mode = 0755;
	d.mtime = b->o->sde;
	if (j->cp.own.set) {
		d.uid = j->cp.own.uid;
		d.gid = j->cp.own.gid;
		d.uname = j->cp.own.uname ? xstrdup(j->cp.own.uname) : NULL;
		d.gname = j->cp.own.gname ? xstrdup(j->cp.own.gname) : NULL;
	}
	lb_put(&j->lb, &d, NULL);
}

static void
add_ctx_entry(struct copy_job *j, const char *dest, const char *abs, const struct stat *st)
{
	struct layer_entry le;

	memset(&le, 0, sizeof(le));
	le.path = xstrdup(dest);
	le.mode = (unsigned)st->st_mode & 07777;
	le.mtime = (long long)st->st_mtim.tv_sec;
	if (S_ISDIR(st->st_mode)) {
		le.type = LE_DIR;
	} else if (S_ISLNK(st->st_mode)) {
		char buf[PATH_MAX + 1];
		ssize_t n = readlink(abs, buf, PATH_MAX);

		le.type = LE_SYMLINK;
		le.link = xstrndup(buf, n > 0 ? (size_t)n : 0);
	} else {
		le.type = LE_FILE;
		le.size = (long long)st->st_size;
		le.src = xstrdup(abs);
	}
	apply_params(j->b, &j->cp, &le);
	lb_put(&j->lb, &le, S_ISREG(st->st_mode) ? st : NULL);
}

/* The output of this very build, when it lies inside the context. */
static int
excluded_abs(struct builder *b, const char *abs)
{
	size_t i;

	for (i = 0; i < b->o->nexclude; i++) {
		const char *x = b->o->exclude[i];
		size_t n = x ? strlen(x) : 0;

		if (n && x[n - 1] == '*' ? !strncmp(abs, x, n - 1) : !strcmp(abs, x))
			return 1;
	}
	return 0;
}

static int
not_dots(const struct dirent *d)
{
	return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

/* Bytewise, whatever the locale: the order of the tar. */
static int
dirent_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* The entries of dir but "." and "..", sorted; *n of them (scandir grows
 * its list itself: a directory of 100,000 files costs no more than that). */
static struct dirent **
read_dir_sorted(const char *dir, size_t *n, struct err *e)
{
	struct dirent **v = NULL;
	int k = scandir(dir, &v, not_dots, dirent_cmp);

	*n = 0;
	if (k < 0) {
		err_set(e, EX_IOERR_, "cannot read '%s': %s", dir, strerror(errno));
		return NULL;
	}
	*n = (size_t)k;
	if (!v)
		v = xcalloc(1, sizeof(*v));
	return v;
}

static void
dirents_free(struct dirent **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Copy the contents of context directory abs (relative rel) to dest,
 * honouring .dockerignore; returns how many entries it added (-1 on
 * error).  dest is already resolved against the image's symlinks.
 */
static int
walk_ctx(struct copy_job *j, const char *abs, const char *rel, const char *dest,
    int *self_excluded)
{
	struct builder *b = j->b;
	struct dirent **names;
	size_t n, i;
	int added = 0;

	names = read_dir_sorted(abs, &n, b->e);
	if (!names)
		return iprefix(b, j->in);
	for (i = 0; i < n; i++) {
		char *cabs = xasprintf("%s/%s", abs, names[i]->d_name);
		char *crel = path_join(rel, names[i]->d_name);
		char *cdest = path_join(dest, names[i]->d_name);
		struct stat st;
		int excluded;

		if (b->o->stop && *b->o->stop) {
			err_set(b->e, EX_TEMP, "interrupted");
			goto fail;
		}
		if (lstat(cabs, &st) != 0) {
			ierr(b, j->in, EX_IOERR_, "cannot read '%s': %s", cabs, strerror(errno));
			goto fail;
		}
		excluded = dockerignore_excluded(&b->di, crel);
		if (excluded_abs(b, cabs)) {
			if (self_excluded)
				*self_excluded = 1;
			goto next;
		}
		if (S_ISDIR(st.st_mode)) {
			struct rootfs_node *x = rootfs_get(j->s->fs, cdest);
			char *rdest = NULL;
			int k, ours = 0;

			if (excluded && !dockerignore_may_include_under(&b->di, crel))
				goto next;
			if (x && x->ent.type == LE_SYMLINK) {
				if (resolve_dest(b, j->s->fs, cdest, 1, &rdest) < 0) {
					iprefix(b, j->in);
					goto fail;
				}
				x = rootfs_get(j->s->fs, rdest);
			} else {
				rdest = xstrdup(cdest);
			}
			if (x && x->ent.type != LE_DIR) {
				ierr(b, j->in, EX_USAGE_, "%s: cannot copy directory '%s' onto "
				    "'/%s', which is not a directory in the image",
				    df_kind_name(j->in->kind), crel, rdest);
				free(rdest);
				goto fail;
			}
			k = walk_ctx(j, cabs, crel, rdest, &ours);
			if (k < 0) {
				free(rdest);
				goto fail;
			}
			/* A directory that only held our own output is not copied. */
			if ((!excluded && !(ours && k == 0)) || k > 0) {
				add_ctx_entry(j, rdest, cabs, &st);
				k++;
			}
			added += k;
			free(rdest);
		} else if (!excluded) {
			if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
				struct rootfs_node *x = rootfs_get(j->s->fs, cdest);

				if (x && x->ent.type == LE_DIR) {
					ierr(b, j->in, EX_USAGE_, "%s: cannot copy file '%s' onto "
					    "'/%s', which is a directory in the image",
					    df_kind_name(j->in->kind), crel, cdest);
					goto fail;
				}
				add_ctx_entry(j, cdest, cabs, &st);
				added++;
			} else {
				warn(b, "%s:%d: skipping '%s' of the context: %s are not copied",
				    b->df.name, j->in->line, crel, S_ISSOCK(st.st_mode) ? "sockets" :
				    S_ISFIFO(st.st_mode) ? "named pipes" : "device files");
			}
		}
next:
		free(cabs);
		free(crel);
		free(cdest);
		continue;
fail:
		free(cabs);
		free(crel);
		free(cdest);
		dirents_free(names, n);
		return -1;
	}
	dirents_free(names, n);
	return added;
}

/* Match a wildcard source against the context, level by level. */
static int
glob_ctx(struct builder *b, const struct df_inst *in, const char *dir_rel, const char *pat,
    char ***out)
{
	const char *slash = strchr(pat, '/');
	char *seg = slash ? xstrndup(pat, (size_t)(slash - pat)) : xstrdup(pat);
	const char *rest = slash ? slash + 1 : NULL;
	char *abs = strcmp(dir_rel, ".") ? xasprintf("%s/%s", b->ctx_real, dir_rel) :
	    xstrdup(b->ctx_real);
	struct dirent **names;
	size_t n, i;
	int rc = 0;

	while (rest && *rest == '/')
		rest++;
	if (rest && !*rest)
		rest = NULL;
	if (!has_glob(seg)) {
		char *crel = path_join(dir_rel, seg), *cabs = xasprintf("%s/%s", abs, seg);
		struct stat st;

		if (lstat(cabs, &st) == 0 && !dockerignore_excluded(&b->di, crel)) {
			if (!rest)
				*out = strv_push(*out, crel);
			else if (S_ISDIR(st.st_mode))
				rc = glob_ctx(b, in, crel, rest, out);
		}
		free(crel);
		free(cabs);
		free(seg);
		free(abs);
		return rc;
	}
	names = read_dir_sorted(abs, &n, b->e);
	free(abs);
	if (!names) {
		free(seg);
		err_clear(b->e);
		return 0;
	}
	for (i = 0; i < n && rc == 0; i++) {
		char *crel;

		if (fnmatch(seg, names[i]->d_name, 0) != 0)
			continue;
		crel = path_join(dir_rel, names[i]->d_name);
		if (!dockerignore_excluded(&b->di, crel)) {
			if (!rest)
				*out = strv_push(*out, crel);
			else {
				char *cabs = xasprintf("%s/%s", b->ctx_real, crel);
				struct stat st;

				if (lstat(cabs, &st) == 0 && S_ISDIR(st.st_mode))
					rc = glob_ctx(b, in, crel, rest, out);
				free(cabs);
			}
		}
		free(crel);
	}
	dirents_free(names, n);
	free(seg);
	return rc;
}

/* A source of the context: cleaned, inside the context, and where it
 * really is once its symlinks are followed. */
static int
ctx_source(struct builder *b, const struct df_inst *in, const char *rel, char **real_abs)
{
	char *abs = strcmp(rel, ".") ? xasprintf("%s/%s", b->ctx_real, rel) : xstrdup(b->ctx_real);
	char *real = realpath(abs, NULL);
	const char *kw = df_kind_name(in->kind);

	*real_abs = NULL;
	if (!real) {
		struct stat st;

		if (lstat(abs, &st) == 0 && S_ISLNK(st.st_mode)) {
			char buf[PATH_MAX + 1];
			ssize_t n = readlink(abs, buf, PATH_MAX);

			buf[n > 0 ? n : 0] = '\0';
			ierr(b, in, EX_USAGE_, "%s: '%s' is a symlink to '%s', which does not "
			    "exist", kw, rel, buf);
		} else {
			ierr(b, in, EX_USAGE_, "%s: '%s' not found in the build context '%s'", kw,
			    rel, b->o->context);
		}
		free(abs);
		return -1;
	}
	if (strcmp(real, b->ctx_real) != 0 && (strncmp(real, b->ctx_real, b->ctx_len) != 0 ||
	    real[b->ctx_len] != '/')) {
		ierr(b, in, EX_USAGE_, "%s: '%s' leads to '%s', outside the build context; "
		    "copy what it points to into the context instead", kw, rel, real);
		free(real);
		free(abs);
		return -1;
	}
	if (strcmp(rel, ".") && (dockerignore_excluded(&b->di, rel) ||
	    (strcmp(ctx_rel(b, real), ".") && dockerignore_excluded(&b->di, ctx_rel(b, real))))) {
		ierr(b, in, EX_USAGE_, "%s: '%s' is excluded by .dockerignore", kw, rel);
		free(real);
		free(abs);
		return -1;
	}
	free(abs);
	*real_abs = real;
	return 0;
}

/* ---- sources: ADD of a local archive ------------------------------------------- */

static int
extract_archive(struct copy_job *j, struct layer_reader *r, const char *dest)
{
	struct builder *b = j->b;
	struct layer_entry ent;
	int nr;

	while ((nr = layer_reader_next(r, &ent, b->e)) > 0) {
		struct layer_entry le;
		char *path;

		if (!strcmp(ent.path, "."))
			continue;
		path = path_join(dest, ent.path);
		layer_entry_copy(&le, &ent);
		free(le.path);
		le.path = path;
		le.src = NULL;
		if (le.type == LE_HARDLINK) {
			char *t = path_join(dest, ent.link);

			free(le.link);
			le.link = t;
		}
		if (le.type == LE_FILE) {
			char *tmp = xasprintf("%s/addXXXXXX", b->scratch);
			int fd = mkstemp(tmp);

			if (fd < 0) {
				ierr(b, j->in, EX_IOERR_, "cannot create a file in '%s': %s",
				    b->scratch, strerror(errno));
				free(tmp);
				layer_entry_free(&le);
				return -1;
			}
			if (layer_reader_copy(r, fd, le.digest, b->e) < 0 || close(fd) != 0) {
				free(tmp);
				layer_entry_free(&le);
				return iprefix(b, j->in);
			}
			le.src = tmp;
		}
		apply_params(b, &j->cp, &le);
		lb_put(&j->lb, &le, NULL);
	}
	if (nr < 0)
		return iprefix(b, j->in);
	return 0;
}

/* ---- sources: another stage or an image -------------------------------------------- */

/* Match a wildcard against a view, level by level. */
static void
glob_view(struct rootfs *fs, const char *dir, const char *pat, char ***out)
{
	const char *slash = strchr(pat, '/');
	char *seg = slash ? xstrndup(pat, (size_t)(slash - pat)) : xstrdup(pat);
	const char *rest = slash ? slash + 1 : NULL;
	struct rootfs_node **kids;
	size_t n, i, dl = strcmp(dir, ".") ? strlen(dir) + 1 : 0;

	while (rest && *rest == '/')
		rest++;
	if (rest && !*rest)
		rest = NULL;
	kids = rootfs_list(fs, dir, &n);
	for (i = 0; i < n; i++) {
		const char *name = kids[i]->ent.path + dl;

		if (strchr(name, '/') || fnmatch(seg, name, 0) != 0)
			continue;
		if (!rest)
			*out = strv_push(*out, kids[i]->ent.path);
		else if (kids[i]->ent.type == LE_DIR)
			glob_view(fs, kids[i]->ent.path, rest, out);
	}
	free(kids);
	free(seg);
}

/* A node of a view with its own metadata and content ready. */
static int
add_view_entry(struct copy_job *j, struct rootfs *fs, struct rootfs_node *x,
    const char *dest, const char *src_root, const char *dest_root)
{
	struct layer_entry le;

	layer_entry_copy(&le, &x->ent);
	free(le.path);
	le.path = xstrdup(dest);
	if (le.type == LE_HARDLINK) {
		/* A link inside what is copied stays a link; else, a copy. */
		size_t sl = strcmp(src_root, ".") ? strlen(src_root) : 0;
		struct rootfs_node *t = rootfs_get(fs, x->ent.link);

		if (!t) {
			layer_entry_free(&le);
			return ierr(j->b, j->in, EX_DOC, "%s: '/%s' is a hard link to '/%s', "
			    "which is missing", df_kind_name(j->in->kind), x->ent.path, x->ent.link);
		}
		if (sl == 0 || (!strncmp(x->ent.link, src_root, sl) && x->ent.link[sl] == '/')) {
			free(le.link);
			le.link = path_join(dest_root, x->ent.link + (sl ? sl + 1 : 0));
		} else {
			if (t->ent.type != LE_FILE) {
				layer_entry_free(&le);
				return ierr(j->b, j->in, EX_DOC, "%s: '/%s' links to '/%s', "
				    "which is not a file", df_kind_name(j->in->kind),
				    x->ent.path, x->ent.link);
			}
			if (!t->ent.src && rootfs_materialize(fs, &t, 1, j->b->scratch, j->b->e) < 0) {
				layer_entry_free(&le);
				return iprefix(j->b, j->in);
			}
			le.type = LE_FILE;
			free(le.link);
			le.link = NULL;
			le.size = t->ent.size;
			le.src = xstrdup(t->ent.src);
			memcpy(le.digest, t->ent.digest, OCI_DIGEST_SIZE);
		}
	}
	apply_params(j->b, &j->cp, &le);
	lb_put(&j->lb, &le, NULL);
	return 0;
}

/* ---- COPY and ADD -------------------------------------------------------------- */

struct src {
	char *rel;		/* as matched */
	char *real;		/* context: the real path; view: resolved path */
	struct stat st;		/* context */
	struct rootfs_node *node;	/* view */
	int archive;		/* ADD: extract */
};

static int
parse_chmod(const char *s, int *mode)
{
	char *end;
	long v;

	if (!*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 8);
	if (errno || *end || v < 0 || v > 07777)
		return -1;
	*mode = (int)v;
	return 0;
}

static struct stage *find_stage(struct builder *b, const char *name, size_t before);
static struct image *get_image(struct builder *b, const struct df_inst *in, const char *ref);

static int
do_copy(struct builder *b, struct stage *s, const struct df_inst *in)
{
	struct copy_job j;
	char **words = NULL, *from = NULL, *dest = NULL, *dest_r = NULL;
	struct src *srcs = NULL;
	size_t nw = 0, nsrc = 0, i, k;
	struct rootfs *srcfs = NULL;
	int is_add = in->kind == DF_ADD, dest_dir, rc = -1;
	const char *kw = df_kind_name(in->kind);
	const char *f;

	memset(&j, 0, sizeof(j));
	j.b = b;
	j.s = s;
	j.in = in;
	j.cp.chmod = -1;
	if (!stage_fs(b, s))
		return iprefix(b, in);
	for (i = 0; i < in->nargs; i++) {
		char *w;

		if (expand(b, s, in, in->args[i], &w) < 0)
			goto out;
		words = xrealloc(words, (nw + 1) * sizeof(*words));
		words[nw++] = w;
	}
	if (df_has_flag(in, "exclude")) {
		ierr(b, in, EX_USAGE_, "%s --exclude is not supported; use .dockerignore", kw);
		goto out;
	}
	if ((f = df_flag(in, "chown"))) {
		char *v;

		if (expand(b, s, in, f, &v) < 0)
			goto out;
		if (resolve_owner(b, s, in, v, "--chown", &j.cp.own) < 0) {
			free(v);
			goto out;
		}
		free(v);
	}
	if ((f = df_flag(in, "chmod"))) {
		char *v;

		if (expand(b, s, in, f, &v) < 0)
			goto out;
		if (parse_chmod(v, &j.cp.chmod) < 0) {
			ierr(b, in, EX_USAGE_, "%s --chmod '%s': expected an octal mode such as "
			    "0755 (symbolic modes are not supported)", kw, v);
			free(v);
			goto out;
		}
		free(v);
	}
	if ((f = df_flag(in, "from"))) {
		struct stage *fs_st;

		if (expand(b, s, in, f, &from) < 0)
			goto out;
		if ((fs_st = find_stage(b, from, (size_t)s->idx))) {
			if (!fs_st->built) {
				ierr(b, in, EX_USAGE_, "%s --from='%s': that stage was not built (name "
				    "stages in --from without variables)", kw, from);
				goto out;
			}
			if (!(srcfs = stage_fs(b, fs_st))) {
				iprefix(b, in);
				goto out;
			}
		} else {
			struct stage *later = find_stage(b, from, b->nst);
			struct image *im;
			const char *p;

			for (p = from; *p >= '0' && *p <= '9'; p++)
				;
			if (later || (!*p && p != from)) {
				ierr(b, in, EX_USAGE_, "%s --from='%s': %s", kw, from, later ?
				    "that stage is not defined before this one" :
				    "there is no stage with that index before this one");
				goto out;
			}
			if (!(im = get_image(b, in, from)))
				goto out;
			srcfs = im->fs;
		}
		j.cp.keep_owner = 1;
	}
	dest = words[nw - 1];
	for (i = 0; i + 1 < nw; i++) {
		if (is_add && (!strncmp(words[i], "http://", 7) || !strncmp(words[i], "https://", 8) ||
		    !strncmp(words[i], "git@", 4) || !strncmp(words[i], "git://", 6))) {
			ierr(b, in, EX_USAGE_, "ADD of a URL or git repository ('%s') is not "
			    "supported; download it before the build and COPY the file", words[i]);
			goto out;
		}
	}
	if (nw > 2 && dest[strlen(dest) - 1] != '/') {
		ierr(b, in, EX_USAGE_, "%s with several sources needs a destination directory "
		    "ending in '/' (not '%s')", kw, dest);
		goto out;
	}

	/* The sources, each matched and checked. */
	for (i = 0; i + 1 < nw; i++) {
		char *clean, **matches = NULL;
		size_t m;

		if (srcfs) {
			clean = view_path(words[i]);
		} else {
			const char *p = words[i];

			while (*p == '/')
				p++;
			clean = path_clean(*p ? p : ".");
			if (!strcmp(clean, "..") || !strncmp(clean, "../", 3)) {
				ierr(b, in, EX_USAGE_, "%s: '%s' is outside the build context", kw,
				    words[i]);
				free(clean);
				goto out;
			}
		}
		if (has_glob(clean)) {
			if (srcfs)
				glob_view(srcfs, ".", clean, &matches);
			else if (glob_ctx(b, in, ".", clean, &matches) < 0) {
				strv_free(matches);
				free(clean);
				goto out;
			}
			if (!matches)
				warn(b, "%s:%d: %s: '%s' matches nothing", b->df.name, in->line, kw,
				    words[i]);
		} else {
			matches = strv_push(NULL, clean);
		}
		free(clean);
		for (m = 0; matches && matches[m]; m++) {
			struct src sr;

			memset(&sr, 0, sizeof(sr));
			sr.rel = xstrdup(matches[m]);
			if (srcfs) {
				if (rootfs_resolve(srcfs, sr.rel, 1, &sr.real, b->e) < 0) {
					iprefix(b, in);
					free(sr.rel);
					strv_free(matches);
					goto out;
				}
				sr.node = rootfs_get(srcfs, sr.real);
				if (!sr.node) {
					ierr(b, in, EX_USAGE_, "%s: '/%s' not found in '%s'", kw, sr.rel,
					    from);
					free(sr.rel);
					free(sr.real);
					strv_free(matches);
					goto out;
				}
			} else {
				if (ctx_source(b, in, sr.rel, &sr.real) < 0 || lstat(sr.real, &sr.st) != 0) {
					if (sr.real)
						ierr(b, in, EX_IOERR_, "cannot read '%s': %s", sr.real,
						    strerror(errno));
					free(sr.rel);
					free(sr.real);
					strv_free(matches);
					goto out;
				}
				if (is_add && S_ISREG(sr.st.st_mode)) {
					struct layer_reader *r = NULL;
					int pr = layer_reader_open(&r, sr.real, 1, b->e);

					if (pr < 0) {
						free(sr.rel);
						free(sr.real);
						strv_free(matches);
						iprefix(b, in);
						goto out;
					}
					sr.archive = pr > 0;
					layer_reader_close(r);
				}
			}
			srcs = xrealloc(srcs, (nsrc + 1) * sizeof(*srcs));
			srcs[nsrc++] = sr;
		}
		strv_free(matches);
	}

	/* The destination: relative to WORKDIR; a directory when it ends in
	 * '/' (or is "."), when there are several sources, or when it is one
	 * in the image already. */
	{
		const char *wd = json_str(imgconfig_rt(s->cfg), "WorkingDir");
		size_t dl = strlen(dest);
		char *abs;

		dest_dir = dl == 0 || dest[dl - 1] == '/' || !strcmp(dest, ".") ||
		    (dl >= 2 && !strcmp(dest + dl - 2, "/.")) || nsrc > 1;
		abs = dest[0] == '/' ? xstrdup(dest) : xasprintf("%s/%s", wd && *wd ? wd : "/", dest);
		dest_r = view_path(abs);
		free(abs);
		{
			char *r2;

			if (resolve_dest(b, s->fs, dest_r, 1, &r2) < 0) {
				iprefix(b, in);
				goto out;
			}
			free(dest_r);
			dest_r = r2;
		}
		{
			struct rootfs_node *x = rootfs_get(s->fs, dest_r);

			if (x && x->ent.type == LE_DIR)
				dest_dir = 1;
			if (dest_dir && x && x->ent.type != LE_DIR) {
				ierr(b, in, EX_USAGE_, "%s: the destination '/%s' is not a directory "
				    "in the image", kw, dest_r);
				goto out;
			}
		}
	}

	for (k = 0; k < nsrc; k++) {
		struct src *sr = &srcs[k];

		if (!srcfs) {
			if (S_ISDIR(sr->st.st_mode)) {
				struct rootfs_node *x = rootfs_get(s->fs, dest_r);

				if (x && x->ent.type != LE_DIR) {
					ierr(b, in, EX_USAGE_, "%s: cannot copy directory '%s' onto "
					    "'/%s', which is not a directory in the image", kw,
					    sr->rel, dest_r);
					goto out;
				}
				/* The contents go in; a missing destination is made like
				 * any parent, so the context root's own mode never shows. */
				if (walk_ctx(&j, sr->real, ctx_rel(b, sr->real), dest_r, NULL) < 0)
					goto out;
				if (!x)
					new_dir(b, &j, dest_r);
			} else if (sr->archive) {
				struct layer_reader *r;

				if (layer_reader_open(&r, sr->real, 0, b->e) < 0) {
					iprefix(b, in);
					goto out;
				}
				/* What an archive says about owners is kept, as Docker does. */
				j.cp.keep_owner = 1;
				rc = extract_archive(&j, r, dest_r);
				j.cp.keep_owner = 0;
				layer_reader_close(r);
				if (rc < 0)
					goto out;
				rc = -1;
			} else if (S_ISREG(sr->st.st_mode)) {
				char *target = dest_dir ? path_join(dest_r, base_name(sr->rel)) :
				    xstrdup(dest_r);
				char *rt;

				if (resolve_dest(b, s->fs, target, 0, &rt) < 0) {
					free(target);
					iprefix(b, in);
					goto out;
				}
				free(target);
				add_ctx_entry(&j, rt, sr->real, &sr->st);
				free(rt);
			} else {
				warn(b, "%s:%d: %s: skipping '%s': special files are not copied",
				    b->df.name, in->line, kw, sr->rel);
			}
			continue;
		}
		/* From a stage or an image. */
		if (sr->node->ent.type == LE_DIR) {
			struct rootfs_node **kids, **need = NULL;
			size_t n, q, nneed = 0, sl = strcmp(sr->real, ".") ? strlen(sr->real) + 1 : 0;
			struct rootfs_node *x = rootfs_get(s->fs, dest_r);

			if (x && x->ent.type != LE_DIR) {
				ierr(b, in, EX_USAGE_, "%s: cannot copy directory '/%s' onto '/%s', "
				    "which is not a directory in the image", kw, sr->rel, dest_r);
				goto out;
			}
			if (!x)
				new_dir(b, &j, dest_r);
			kids = rootfs_list(srcfs, sr->real, &n);
			for (q = 0; q < n; q++)
				if (kids[q]->ent.type == LE_FILE && !kids[q]->ent.src) {
					need = xrealloc(need, (nneed + 1) * sizeof(*need));
					need[nneed++] = kids[q];
				}
			if (nneed && rootfs_materialize(srcfs, need, nneed, b->scratch, b->e) < 0) {
				free(need);
				free(kids);
				iprefix(b, in);
				goto out;
			}
			free(need);
			for (q = 0; q < n; q++) {
				char *d = path_join(dest_r, kids[q]->ent.path + sl);
				int r2 = add_view_entry(&j, srcfs, kids[q], d, sr->real, dest_r);

				free(d);
				if (r2 < 0) {
					free(kids);
					goto out;
				}
			}
			free(kids);
		} else {
			char *target = dest_dir ? path_join(dest_r, base_name(sr->rel)) :
			    xstrdup(dest_r);
			char *rt;
			struct rootfs_node *node = sr->node;

			if (node->ent.type == LE_FILE && !node->ent.src &&
			    rootfs_materialize(srcfs, &node, 1, b->scratch, b->e) < 0) {
				free(target);
				iprefix(b, in);
				goto out;
			}
			if (resolve_dest(b, s->fs, target, 0, &rt) < 0) {
				free(target);
				iprefix(b, in);
				goto out;
			}
			free(target);
			rc = add_view_entry(&j, srcfs, node, rt, sr->real, dest_r);
			free(rt);
			if (rc < 0)
				goto out;
			rc = -1;
		}
	}
	rc = lb_commit(b, s, &j.lb, &j.cp.own, in, in->text);
out:
	for (i = 0; i < nsrc; i++) {
		free(srcs[i].rel);
		free(srcs[i].real);
	}
	free(srcs);
	for (i = 0; i < nw; i++)
		free(words[i]);
	free(words);
	free(from);
	free(dest_r);
	owner_free(&j.cp.own);
	lb_free(&j.lb);
	return rc;
}

/* ---- the other instructions ------------------------------------------------------- */

static int
do_workdir(struct builder *b, struct stage *s, const struct df_inst *in)
{
	char *v, *abs, *path, *rp;
	const char *wd = json_str(imgconfig_rt(s->cfg), "WorkingDir");
	struct rootfs_node *x;
	int rc = -1;

	if (expand(b, s, in, in->rest, &v) < 0)
		return -1;
	abs = v[0] == '/' ? xstrdup(v) : xasprintf("%s/%s", wd && *wd ? wd : "/", v);
	free(v);
	path = view_path(abs);
	free(abs);
	abs = strcmp(path, ".") ? xasprintf("/%s", path) : xstrdup("/");
	imgconfig_set_str(s->cfg, "WorkingDir", abs);
	free(abs);
	if (!stage_fs(b, s)) {
		free(path);
		return iprefix(b, in);
	}
	if (rootfs_resolve(s->fs, path, 1, &rp, b->e) < 0) {
		free(path);
		return iprefix(b, in);
	}
	free(path);
	x = rootfs_get(s->fs, rp);
	if (x && x->ent.type == LE_DIR) {
		imgconfig_add_history(s->cfg, b->created, in->text, HISTORY_COMMENT, 1);
		free(rp);
		return 0;
	}
	if (x) {
		ierr(b, in, EX_USAGE_, "WORKDIR: '/%s' is not a directory in the image", rp);
		free(rp);
		return -1;
	}
	{
		/* Created like BuildKit does: owned by the current USER. */
		struct lb lb;
		struct layer_entry d;
		struct owner own;
		const char *user = json_str(imgconfig_rt(s->cfg), "User");

		memset(&lb, 0, sizeof(lb));
		memset(&own, 0, sizeof(own));
		if (user && *user && resolve_owner(b, s, in, user, "USER", &own) < 0) {
			free(rp);
			return -1;
		}
		memset(&d, 0, sizeof(d));
		d.path = xstrdup(rp);
		d.type = LE_DIR;
		d.mode = 0755;
		d.mtime = b->o->sde;
		if (own.set) {
			d.uid = own.uid;
			d.gid = own.gid;
			d.uname = own.uname ? xstrdup(own.uname) : NULL;
			d.gname = own.gname ? xstrdup(own.gname) : NULL;
		}
		lb_put(&lb, &d, NULL);
		rc = lb_commit(b, s, &lb, &own, in, in->text);
		lb_free(&lb);
		owner_free(&own);
	}
	free(rp);
	return rc;
}

/* CMD, ENTRYPOINT and SHELL arguments as a JSON array. */
static cJSON *
command_json(struct stage *s, const struct df_inst *in)
{
	cJSON *arr = cJSON_CreateArray();
	size_t i;

	if (in->exec_form) {
		for (i = 0; i < in->nargs; i++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(in->args[i]));
		return arr;
	}
	{
		const cJSON *sh = cJSON_GetObjectItemCaseSensitive(imgconfig_rt(s->cfg), "Shell"), *it;

		if (cJSON_IsArray(sh) && cJSON_GetArraySize(sh) > 0) {
			cJSON_ArrayForEach(it, sh)
				if (cJSON_IsString(it))
					cJSON_AddItemToArray(arr, cJSON_CreateString(it->valuestring));
		} else {
			cJSON_AddItemToArray(arr, cJSON_CreateString("/bin/sh"));
			cJSON_AddItemToArray(arr, cJSON_CreateString("-c"));
		}
	}
	cJSON_AddItemToArray(arr, cJSON_CreateString(in->rest));
	return arr;
}

static int
do_healthcheck(struct builder *b, struct stage *s, const struct df_inst *in)
{
	cJSON *hc = cJSON_CreateObject(), *test = cJSON_CreateArray();
	static const struct {
		const char *flag, *key;
	} durs[] = { { "interval", "Interval" }, { "timeout", "Timeout" },
		{ "start-period", "StartPeriod" }, { "start-interval", "StartInterval" } };
	size_t i;
	const char *v;

	(void)b;
	if (in->hc_none) {
		cJSON_AddItemToArray(test, cJSON_CreateString("NONE"));
		cJSON_AddItemToObject(hc, "Test", test);
		json_set(imgconfig_rt(s->cfg), "Healthcheck", hc);
		return 0;
	}
	if (in->exec_form) {
		cJSON_AddItemToArray(test, cJSON_CreateString("CMD"));
		for (i = 0; i < in->nargs; i++)
			cJSON_AddItemToArray(test, cJSON_CreateString(in->args[i]));
	} else {
		cJSON_AddItemToArray(test, cJSON_CreateString("CMD-SHELL"));
		cJSON_AddItemToArray(test, cJSON_CreateString(in->rest));
	}
	cJSON_AddItemToObject(hc, "Test", test);
	for (i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
		long long ns;

		if ((v = df_flag(in, durs[i].flag)) && df_parse_duration(v, &ns) == 0 && ns > 0)
			json_add_i64(hc, durs[i].key, ns);
	}
	if ((v = df_flag(in, "retries")) && strtol(v, NULL, 10) > 0)
		json_add_i64(hc, "Retries", strtol(v, NULL, 10));
	json_set(imgconfig_rt(s->cfg), "Healthcheck", hc);
	return 0;
}

/* "80", "80/tcp", "53/udp", "8000-8002/tcp". */
static int
do_expose(struct builder *b, struct stage *s, const struct df_inst *in)
{
	size_t i;

	for (i = 0; i < in->nargs; i++) {
		char *w, **parts;
		size_t np, k;

		if (expand(b, s, in, in->args[i], &w) < 0)
			return -1;
		parts = df_split_words(w, &np);
		free(w);
		for (k = 0; k < np; k++) {
			char *p = parts[k], *slash = strchr(p, '/'), *dash, *end;
			const char *proto = "tcp";
			long lo, hi, port;

			if (slash) {
				*slash = '\0';
				proto = slash + 1;
				for (char *c = slash + 1; *c; c++)
					*c = (char)tolower((unsigned char)*c);
				if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp")) {
					ierr(b, in, EX_USAGE_, "EXPOSE: unknown protocol '%s' (tcp, udp "
					    "or sctp)", proto);
					strv_free(parts);
					return -1;
				}
			}
			dash = strchr(p, '-');
			errno = 0;
			lo = strtol(p, &end, 10);
			if (end == p || (dash ? end != dash : *end != '\0'))
				goto bad;
			hi = lo;
			if (dash) {
				hi = strtol(dash + 1, &end, 10);
				if (end == dash + 1 || *end)
					goto bad;
			}
			if (errno || lo < 1 || hi > 65535 || hi < lo)
				goto bad;
			for (port = lo; port <= hi; port++) {
				char key[32];

				snprintf(key, sizeof(key), "%ld/%s", port, proto);
				imgconfig_set_add(s->cfg, "ExposedPorts", key);
			}
			continue;
bad:
			ierr(b, in, EX_USAGE_, "EXPOSE: '%s' is not a port or port range", parts[k]);
			strv_free(parts);
			return -1;
		}
		strv_free(parts);
	}
	return 0;
}

static int
do_arg(struct builder *b, struct stage *s, const struct df_inst *in)
{
	size_t i;

	for (i = 0; i < in->nkvs; i++) {
		const char *name = in->kvs[i].key, *ba = build_arg(b, name);
		char *val = NULL;

		if (ba) {
			val = xstrdup(ba);
		} else if (in->kvs[i].value) {
			if (expand(b, s, in, in->kvs[i].value, &val) < 0)
				return -1;
		} else if (s) {
			struct var *g = vars_find(&b->global, name);
			const char *pa = platform_arg(b, name);

			if (g && g->value)
				val = xstrdup(g->value);
			else if (pa)
				val = xstrdup(pa);
		} else {
			const char *pa = platform_arg(b, name);

			if (pa)
				val = xstrdup(pa);
		}
		vars_set(s ? &s->args : &b->global, name, val);
		free(val);
	}
	return 0;
}

static int
do_kv(struct builder *b, struct stage *s, const struct df_inst *in)
{
	char **keys = xcalloc(in->nkvs + 1, sizeof(*keys));
	char **vals = xcalloc(in->nkvs + 1, sizeof(*vals));
	size_t i;
	int rc = -1;

	/* Every value is expanded before any is set: ENV A=1 B=$A sees the old A. */
	for (i = 0; i < in->nkvs; i++) {
		if (expand(b, s, in, in->kvs[i].key, &keys[i]) < 0 ||
		    expand(b, s, in, in->kvs[i].value, &vals[i]) < 0)
			goto out;
		if (!*keys[i]) {
			ierr(b, in, EX_USAGE_, "%s: a name cannot be empty", df_kind_name(in->kind));
			goto out;
		}
		if (in->kind == DF_ENV && strchr(keys[i], '=')) {
			ierr(b, in, EX_USAGE_, "ENV: bad name '%s'", keys[i]);
			goto out;
		}
	}
	for (i = 0; i < in->nkvs; i++) {
		if (in->kind == DF_ENV) {
			imgconfig_env_set(s->cfg, keys[i], vals[i]);
		} else {
			imgconfig_label(s->cfg, keys[i], vals[i]);
			s->labels = strv_push(s->labels, keys[i]);
		}
	}
	rc = 0;
out:
	for (i = 0; i < in->nkvs; i++) {
		free(keys[i]);
		free(vals[i]);
	}
	free(keys);
	free(vals);
	return rc;
}

static int
is_signal(const char *s)
{
	const char *p = s;

	if (!*s)
		return 0;
	if (isdigit((unsigned char)*s)) {
		long v = strtol(s, NULL, 10);

		for (; *p; p++)
			if (!isdigit((unsigned char)*p))
				return 0;
		return v >= 1 && v <= 64;
	}
	for (; *p; p++)
		if (!isupper((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '+' &&
		    *p != '-')
			return 0;
	return 1;
}

static int dispatch(struct builder *b, struct stage *s, const struct df_inst *in);

static int
dispatch(struct builder *b, struct stage *s, const struct df_inst *in)
{
	char *v = NULL;
	size_t i;
	int rc = 0;

	s->cur = in;
	switch (in->kind) {
	case DF_FROM:
		return ierr(b, in, EX_INTERNAL, "FROM in the middle of a stage");
	case DF_RUN:
		return ierr(b, in, EX_USAGE_, "RUN needs an OCI runtime; not yet supported (run "
		    "the step before ci-build, in a ci-gate job for instance, and COPY its output)");
	case DF_COPY:
	case DF_ADD:
		return do_copy(b, s, in);
	case DF_WORKDIR:
		return do_workdir(b, s, in);
	case DF_ARG:
		rc = do_arg(b, s, in);
		break;
	case DF_ENV:
	case DF_LABEL:
		rc = do_kv(b, s, in);
		break;
	case DF_EXPOSE:
		rc = do_expose(b, s, in);
		break;
	case DF_VOLUME:
		for (i = 0; i < in->nargs && rc == 0; i++) {
			if ((rc = expand(b, s, in, in->args[i], &v)) == 0) {
				if (!*v)
					rc = ierr(b, in, EX_USAGE_, "VOLUME: a path cannot be empty");
				else
					imgconfig_set_add(s->cfg, "Volumes", v);
			}
			free(v);
			v = NULL;
		}
		break;
	case DF_USER:
		if ((rc = expand(b, s, in, in->rest, &v)) == 0)
			imgconfig_set_str(s->cfg, "User", v);
		break;
	case DF_STOPSIGNAL:
		if ((rc = expand(b, s, in, in->rest, &v)) == 0) {
			if (!is_signal(v))
				rc = ierr(b, in, EX_USAGE_, "STOPSIGNAL: '%s' is not a signal "
				    "(SIGTERM, SIGQUIT, 9, ...)", v);
			else
				imgconfig_set_str(s->cfg, "StopSignal", v);
		}
		break;
	case DF_CMD:
		imgconfig_set_array(s->cfg, "Cmd", command_json(s, in));
		s->cmd_set = 1;
		break;
	case DF_ENTRYPOINT:
		imgconfig_set_array(s->cfg, "Entrypoint", command_json(s, in));
		/* An inherited CMD does not outlive a new ENTRYPOINT. */
		if (!s->cmd_set)
			imgconfig_set_array(s->cfg, "Cmd", NULL);
		break;
	case DF_SHELL:
		imgconfig_set_array(s->cfg, "Shell", command_json(s, in));
		break;
	case DF_HEALTHCHECK:
		rc = do_healthcheck(b, s, in);
		break;
	case DF_MAINTAINER:
		json_set(s->cfg, "author", cJSON_CreateString(in->rest));
		break;
	case DF_ONBUILD: {
		cJSON *rt = imgconfig_rt(s->cfg), *ob = cJSON_GetObjectItemCaseSensitive(rt, "OnBuild");

		if (!cJSON_IsArray(ob)) {
			ob = cJSON_CreateArray();
			json_set(rt, "OnBuild", ob);
		}
		cJSON_AddItemToArray(ob, cJSON_CreateString(in->rest));
		break;
	}
	}
	free(v);
	if (rc == 0)
		imgconfig_add_history(s->cfg, b->created, in->text, HISTORY_COMMENT, 1);
	return rc;
}

/* ---- stages ------------------------------------------------------------------- */

static int
valid_stage_name(const char *s)
{
	if (!islower((unsigned char)*s))
		return 0;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && !strchr("-_.", *s))
			return 0;
	return 1;
}

/* A stage by name or index, among the first `before` stages. */
static struct stage *
find_stage(struct builder *b, const char *name, size_t before)
{
	size_t i;
	char *end;
	long idx;

	for (i = 0; i < before && i < b->nst; i++)
		if (b->st[i].name && !strcasecmp(b->st[i].name, name))
			return &b->st[i];
	errno = 0;
	idx = strtol(name, &end, 10);
	if (!errno && end != name && !*end && idx >= 0 && (size_t)idx < before && (size_t)idx < b->nst)
		return &b->st[idx];
	return NULL;
}

static struct image *
get_image(struct builder *b, const struct df_inst *in, const char *ref)
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
				iprefix(b, in);
				return NULL;
			}
	}
	b->imgs = xrealloc(b->imgs, (b->nimgs + 1) * sizeof(*b->imgs));
	b->imgs[b->nimgs++] = im;
	return im;
}

static int
stage_start(struct builder *b, struct stage *s)
{
	const struct df_inst *from = &b->df.v[s->first];
	struct image *im = NULL;
	size_t i;

	if (s->base_stage >= 0) {
		struct stage *p = &b->st[s->base_stage];

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

		if (platform_parse(plat, &p) < 0)
			return ierr(b, from, EX_USAGE_, "bad platform '%s' (expected "
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
	/* Our "created" and no leftover "author" of the base's build. */
	json_set(s->cfg, "created", cJSON_CreateString(b->created));
	if (s->chain) {
		for (i = 0; i < s->nbase; i++)
			if (build_blob_link(s->layers[i].path, b->out, s->layers[i].info.digest,
			    s->layers[i].info.size, b->e) < 0)
				return iprefix(b, from);
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
				rc = ierr(b, from, EX_USAGE_, "the base image's ONBUILD %s needs an OCI "
				    "runtime; not yet supported", trig.text);
			} else {
				rc = dispatch(b, s, &trig);
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

/* Add our annotations and labels to the target's config. */
static void
set_oci_labels(struct builder *b, struct stage *s, cJSON *ann)
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

static void
stage_free(struct stage *s)
{
	size_t i;

	free(s->name);
	free(s->base_ref);
	free(s->platform);
	cJSON_Delete(s->cfg);
	rootfs_free(s->fs);
	for (i = 0; i < s->nlayers; i++)
		free(s->layers[i].path);
	free(s->layers);
	vars_free(&s->args);
	strv_free(s->labels);
	free(s->base_name);
}

/* Split the Dockerfile into stages, expand FROM, and find what the
 * target needs. */
static int
plan(struct builder *b)
{
	size_t i, k;
	struct stage *t;

	for (i = 0; i < b->df.n; i++) {
		const struct df_inst *in = &b->df.v[i];

		if (in->kind == DF_FROM) {
			struct stage s;
			char *img, *plat = NULL;
			const char *pf;

			memset(&s, 0, sizeof(s));
			s.idx = (int)b->nst;
			s.first = i;
			s.base_stage = -1;
			if (expand(b, NULL, in, in->args[0], &img) < 0)
				return -1;
			if (!*img) {
				free(img);
				return ierr(b, in, EX_USAGE_, "FROM: the image name is empty (is "
				    "'%s' set with ARG before FROM?)", in->args[0]);
			}
			if ((pf = df_flag(in, "platform"))) {
				struct platform p;

				if (expand(b, NULL, in, pf, &plat) < 0) {
					free(img);
					return -1;
				}
				if (platform_parse(plat, &p) < 0) {
					ierr(b, in, EX_USAGE_, "FROM --platform '%s': expected "
					    "OS/ARCH[/VARIANT]", plat);
					free(img);
					free(plat);
					return -1;
				}
			}
			s.base_ref = img;
			s.platform = plat;
			if (in->nargs == 3) {
				char *lc = xstrdup(in->args[2]);

				for (k = 0; lc[k]; k++)
					lc[k] = (char)tolower((unsigned char)lc[k]);
				if (!valid_stage_name(lc)) {
					ierr(b, in, EX_USAGE_, "FROM: bad stage name '%s' (a letter, "
					    "then letters, digits, '-', '_' or '.')", in->args[2]);
					free(lc);
					stage_free(&s);
					return -1;
				}
				if (find_stage(b, lc, b->nst) && !isdigit((unsigned char)*lc)) {
					ierr(b, in, EX_USAGE_, "FROM: stage name '%s' is used twice", lc);
					free(lc);
					stage_free(&s);
					return -1;
				}
				s.name = lc;
			}
			{
				struct stage *p = find_stage(b, img, b->nst);

				/* A name wins over an image; an index does not. */
				if (p && p->name && !strcasecmp(p->name, img))
					s.base_stage = p->idx;
			}
			if (b->nst)
				b->st[b->nst - 1].end = i;
			b->st = xrealloc(b->st, (b->nst + 1) * sizeof(*b->st));
			b->st[b->nst++] = s;
			continue;
		}
		if (!b->nst) {
			if (in->kind != DF_ARG)
				return ierr(b, in, EX_USAGE_, "%s before the first FROM: only ARG may "
				    "come before FROM", df_kind_name(in->kind));
			if (do_arg(b, NULL, in) < 0)
				return -1;
		}
	}
	if (!b->nst)
		return err_set(b->e, EX_USAGE_, "%s: no FROM: a Dockerfile needs at least one stage",
		    b->df.name);
	b->st[b->nst - 1].end = b->df.n;

	/* The target, and the stages it needs. */
	if (b->o->target) {
		t = find_stage(b, b->o->target, b->nst);
		if (!t) {
			struct buf names = BUF_INIT;

			for (i = 0; i < b->nst; i++)
				if (b->st[i].name)
					buf_addf(&names, "%s%s", names.len ? ", " : "", b->st[i].name);
			err_set(b->e, EX_USAGE_, "%s: no stage '%s' to build (stages: %s)", b->df.name,
			    b->o->target, names.len ? buf_str(&names) : "none named");
			buf_free(&names);
			return -1;
		}
	} else {
		t = &b->st[b->nst - 1];
	}
	b->target = (size_t)t->idx;
	t->needed = 1;
	for (t->chain = 1, k = (size_t)t->idx; b->st[k].base_stage >= 0; k = (size_t)b->st[k].base_stage)
		b->st[b->st[k].base_stage].chain = 1;
	/* Walk backwards: a stage needed marks what it builds on. */
	for (i = (size_t)t->idx + 1; i-- > 0;) {
		struct stage *s = &b->st[i];

		if (s->chain)
			s->needed = 1;
		if (!s->needed)
			continue;
		if (s->base_stage >= 0)
			b->st[s->base_stage].needed = 1;
		for (k = s->first + 1; k < s->end; k++) {
			const struct df_inst *in = &b->df.v[k];
			const char *f;

			if (in->kind == DF_COPY && (f = df_flag(in, "from"))) {
				struct stage *p = find_stage(b, f, (size_t)s->idx);

				if (p)
					p->needed = 1;
			}
		}
	}
	/* RUN cannot be done: refuse before any work. */
	for (i = 0; i < b->nst; i++) {
		if (!b->st[i].needed)
			continue;
		for (k = b->st[i].first + 1; k < b->st[i].end; k++)
			if (b->df.v[k].kind == DF_RUN)
				return dispatch(b, &b->st[i], &b->df.v[k]);
	}
	return 0;
}

/* ---- the build ------------------------------------------------------------------- */

static int
parse_build_args(struct builder *b)
{
	size_t i;

	for (i = 0; i < b->o->nbuild_args; i++) {
		const char *a = b->o->build_args[i], *eq = strchr(a, '=');

		if (eq == a)
			return err_set(b->e, EX_USAGE_, "--build-arg '%s': expected KEY=VALUE or KEY", a);
		if (eq) {
			char *k = xstrndup(a, (size_t)(eq - a));

			vars_set(&b->bargs, k, eq + 1);
			free(k);
		} else if (getenv(a)) {
			vars_set(&b->bargs, a, getenv(a));
		}
	}
	b->consumed = xcalloc(b->bargs.n + 1, sizeof(*b->consumed));
	return 0;
}

static int
finish(struct builder *b, struct stage *t, struct build_result *r)
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
	r->platform = platform_of(t->cfg);
	if (r->manifest.media_type) {
		struct platform p;

		if (platform_parse(r->platform, &p) == 0) {
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

int
build_run(const struct build_opts *o, struct oci_layout *out, struct build_result *r,
    struct err *e)
{
	struct builder b;
	char *text = NULL, *ign = NULL;
	size_t len, i, k;
	int rc = -1;
	struct stage *t = NULL;

	memset(&b, 0, sizeof(b));
	memset(r, 0, sizeof(*r));
	b.o = o;
	b.out = out;
	b.e = e;
	b.r = r;
	format_rfc3339((time_t)o->sde, b.created, sizeof(b.created));
	if (o->platform) {
		struct platform p;

		if (platform_parse(o->platform, &p) < 0)
			return err_set(e, EX_USAGE_, "--platform '%s': expected OS/ARCH[/VARIANT]",
			    o->platform);
	}
	b.platform = xstrdup(o->platform ? o->platform : build_host_platform());

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
	text = read_file(o->dockerfile, DOCKERFILE_MAX, &len, e);
	if (!text) {
		if (e->code == EX_IOERR_ && !path_exists(o->dockerfile))
			e->code = EX_USAGE_;
		goto out;
	}
	if (dockerfile_parse(text, len, o->dockerfile, &b.df, e) < 0)
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
	if (o->cache_dir) {
		char *fc = xasprintf("%s/files", o->cache_dir);

		if (oci_layout_create(&b.cache, o->cache_dir, e) < 0) {
			free(fc);
			err_prefix(e, "cache");
			goto out;
		}
		b.have_cache = 1;
		b.fcache = layer_fcache_load(fc);
		free(fc);
		fc = xasprintf("%s/layers", o->cache_dir);
		{
			DIR *d = opendir(fc);
			struct dirent *de;

			while (d && (de = readdir(d)))
				if (de->d_name[0] != '.') {
					b.cache_has_layers = 1;
					break;
				}
			if (d)
				closedir(d);
		}
		free(fc);
	}
	if (parse_build_args(&b) < 0)
		goto out;
	if (plan(&b) < 0)
		goto out;
	for (i = 0; i < b.nst; i++) {
		struct stage *s = &b.st[i];

		if (!s->needed)
			continue;
		log_verbose("stage %zu%s%s: FROM %s", i, s->name ? " " : "", s->name ? s->name : "",
		    s->base_ref);
		if (stage_start(&b, s) < 0)
			goto out;
		for (k = s->first + 1; k < s->end; k++) {
			if (o->stop && *o->stop) {
				err_set(e, EX_TEMP, "interrupted");
				goto out;
			}
			if (dispatch(&b, s, &b.df.v[k]) < 0)
				goto out;
		}
		s->built = 1;
	}
	t = &b.st[b.target];
	for (i = 0; i < b.bargs.n; i++)
		if (!b.consumed[i])
			warn(&b, "--build-arg %s was not used by any ARG of the stages built",
			    b.bargs.v[i].name);
	if (finish(&b, t, r) < 0)
		goto out;
	if (b.fcache && layer_fcache_save(b.fcache, b.ctx_real, e) < 0) {
		log_warn("cannot save the file-hash cache: %s", e->msg);
		err_clear(e);
	}
	rc = 0;
out:
	/* A broken base image or archive is the Dockerfile's problem (exit 2),
	 * not a bad pipeline document (65). */
	if (rc < 0 && e->code == EX_DOC)
		e->code = EX_USAGE_;
	if (rc == 0) {
		r->warnings = b.warnings;
		b.warnings = NULL;
	}
	strv_free(b.warnings);
	free(text);
	free(ign);
	free(b.ctx_real);
	free(b.scratch);
	free(b.platform);
	dockerfile_free(&b.df);
	dockerignore_free(&b.di);
	if (b.have_cache)
		oci_layout_close(&b.cache);
	if (b.have_pull)
		oci_layout_close(&b.pull);
	layer_fcache_free(b.fcache);
	vars_free(&b.bargs);
	vars_free(&b.global);
	free(b.consumed);
	for (i = 0; i < b.nst; i++)
		stage_free(&b.st[i]);
	free(b.st);
	for (i = 0; i < b.nimgs; i++)
		image_free(b.imgs[i]);
	free(b.imgs);
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
	memset(r, 0, sizeof(*r));
}
