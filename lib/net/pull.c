/*
 * pull.c: getting images out of a registry (FROM), and looking them up.
 *
 * registry_pull() fetches a manifest by tag or digest (verified: its
 * sha256 is the digest asked for, and Docker-Content-Digest when sent);
 * for an index or manifest list it picks the platform's manifest; then it
 * fetches the config and layers side by side into the layout, each
 * streamed to a temp file while hashed and adopted only when digest and
 * size match, following redirects to blob stores (credentials stay with
 * the registry's origin).  Blobs the layout already holds are verified,
 * not fetched.  registry_resolve() is a HEAD on the manifest;
 * registry_tag() puts a manifest's bytes back under a new tag.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "net/registry_int.h"

/* A fetched manifest. */
struct fetched {
	char *text;
	size_t len;
	char *type;			/* Content-Type, parameters dropped */
	char digest[OCI_DIGEST_SIZE];
};

static void
fetched_free(struct fetched *f)
{
	free(f->text);
	free(f->type);
	memset(f, 0, sizeof(*f));
}

static int
not_found(const struct http_response *resp)
{
	return resp->status == 404 || (resp->status == 400 && resp->body.data &&
	    strstr(resp->body.data, "MANIFEST_UNKNOWN"));
}

/*
 * GET (or, with head, HEAD) a manifest by tag or digest, verified: its
 * sha256 must equal the digest asked for, and Docker-Content-Digest when
 * the registry sends one.
 */
static int
fetch_manifest(struct registry *r, struct target *tg, const char *ref, int head,
    struct fetched *f, long long *size_out, struct err *e)
{
	struct xfer x;
	const char *ct, *dcd;
	char name[600];
	int rc = -1;

	memset(f, 0, sizeof(*f));
	xfer_init(&x, r, tg->h);
	xfer_prepare(&x, head ? "HEAD" : "GET", reg_repo_url(tg, "manifests/%s", ref), "manifest");
	xfer_scope(&x, tg->ref.repository, "pull");
	xfer_header(&x, "%s", MANIFEST_ACCEPT);
	x.simple_retry = 1;
	x.body_max = MANIFEST_MAX;
	if (xfer_run(&x, e) < 0)
		goto out;
	snprintf(name, sizeof(name), "%s/%s%s%s", tg->h->name, tg->ref.repository,
	    digest_valid(ref) ? "@" : ":", ref);
	if (not_found(&x.resp)) {
		err_set(e, EX_USAGE_, "'%s' not found in the registry", name);
		goto out;
	}
	if (x.resp.status != 200) {
		char why[400];

		reg_describe_status(&x.resp, why, sizeof(why));
		err_set(e, EX_SERVICE, "cannot get the manifest of '%s': registry answered %s",
		    name, why);
		goto out;
	}
	ct = http_header(&x.resp, "Content-Type");
	if (ct)
		f->type = xstrndup(ct, strcspn(ct, "; "));
	dcd = http_header(&x.resp, "Docker-Content-Digest");
	if (head) {
		const char *cl = http_header(&x.resp, "Content-Length");

		if (!dcd || !digest_valid(dcd)) {
			/* Nothing to go by: fetch the bytes. */
			xfer_free(&x);
			fetched_free(f);
			return fetch_manifest(r, tg, ref, 0, f, size_out, e);
		}
		memcpy(f->digest, dcd, OCI_DIGEST_SIZE);
		*size_out = cl ? strtoll(cl, NULL, 10) : -1;
		rc = 0;
		goto out;
	}
	f->len = x.resp.body.len;
	f->text = buf_detach(&x.resp.body, NULL);
	sha256_digest(f->text, f->len, f->digest);
	if (digest_valid(ref) && strcmp(ref, f->digest) != 0) {
		err_set(e, EX_SERVICE, "registry '%s' answered a manifest for '%s' whose digest is "
		    "%s", tg->h->name, name, f->digest);
		goto out;
	}
	if (dcd && !strncmp(dcd, "sha256:", 7) && strcmp(dcd, f->digest) != 0) {
		err_set(e, EX_SERVICE, "the manifest of '%s' has digest %s but registry '%s' says "
		    "'%.100s' (Docker-Content-Digest)", name, f->digest, tg->h->name, dcd);
		goto out;
	}
	if (size_out)
		*size_out = (long long)f->len;
	rc = 0;
out:
	if (rc < 0)
		fetched_free(f);
	xfer_free(&x);
	return rc;
}

/* Parse a reference into a one-repository target (tag defaults to latest). */
static int
target_for(struct registry *r, const char *s, struct target *tg, const char **refpart,
    struct err *e)
{
	memset(tg, 0, sizeof(*tg));
	if (ref_parse(s, &tg->ref, e) < 0)
		return -1;
	tg->h = reg_host(r, &tg->ref);
	if (tg->ref.digest)
		*refpart = tg->ref.digest;
	else if (tg->ref.tag)
		*refpart = tg->ref.tag;
	else
		*refpart = "latest";
	return reg_host_ping(r, tg->h, e);
}

static int
platform_match(const struct oci_desc *d, const char *os, const char *arch, const char *variant)
{
	if (!d->os || !d->arch || strcmp(d->os, os) != 0 || strcmp(d->arch, arch) != 0)
		return 0;
	if (*variant)
		return d->variant && !strcmp(d->variant, variant);
	return 1;
}

static int
pick_platform(const struct oci_manifest *idx, const char *platform, const char *name,
    size_t *out, struct err *e)
{
	char os[64] = "", arch[64] = "", variant[64] = "";
	struct buf have = BUF_INIT;
	size_t i;
	int found = -1;

	if (sscanf(platform, "%63[^/]/%63[^/]/%63s", os, arch, variant) < 2)
		return err_set(e, EX_USAGE_, "bad platform '%s': expected OS/ARCH[/VARIANT]",
		    platform);
	for (i = 0; i < idx->nlayers && found < 0; i++)
		if (platform_match(&idx->layers[i], os, arch, variant) &&
		    (*variant || !idx->layers[i].variant))
			found = (int)i;
	for (i = 0; i < idx->nlayers && found < 0; i++)
		if (platform_match(&idx->layers[i], os, arch, variant))
			found = (int)i;
	if (found >= 0) {
		*out = (size_t)found;
		return 0;
	}
	for (i = 0; i < idx->nlayers; i++) {
		const struct oci_desc *d = &idx->layers[i];

		if (d->os && d->arch)
			buf_addf(&have, "%s%s/%s%s%s", have.len ? ", " : "", d->os, d->arch,
			    d->variant ? "/" : "", d->variant ? d->variant : "");
	}
	err_set(e, EX_USAGE_, "'%s' has no image for platform %s (it has: %s)", name, platform,
	    have.len ? buf_str(&have) : "none named");
	buf_free(&have);
	return -1;
}

struct pull_task {
	struct task t;
	struct registry *r;
	struct target *tg;
	struct oci_desc *d;
	struct oci_layout *l;
	char *tmp;
	int fd;
	int redirects;
	char what[200];
};

static int
pull_step(struct task *t, struct err *e)
{
	struct pull_task *p = (struct pull_task *)t;
	struct xfer *x = &t->x;
	long st = x->resp.status;

	if (t->state == 0) {
		xfer_prepare(x, "GET", reg_repo_url(p->tg, "blobs/%s", p->d->digest), p->what);
		xfer_scope(x, p->tg->ref.repository, "pull");
		x->simple_retry = 1;
		x->sink_fd = p->fd;
		x->sink_max = p->d->size;
		t->state = 1;
		return 1;
	}
	if ((st == 301 || st == 302 || st == 303 || st == 307 || st == 308) &&
	    http_header(&x->resp, "Location")) {
		/* Blobs often live elsewhere (a CDN): follow, and the
		 * Authorization header stays behind unless the origin is the
		 * registry's own. */
		char *to = http_resolve(x->url, http_header(&x->resp, "Location"));

		if (!to)
			return err_set(e, EX_SERVICE, "blob %s: redirected to a Location that is not "
			    "an http(s) URL", p->d->digest);
		if (++p->redirects > 5) {
			free(to);
			return err_set(e, EX_SERVICE, "blob %s: too many redirects", p->d->digest);
		}
		xfer_prepare(x, "GET", to, p->what);
		xfer_scope(x, p->tg->ref.repository, "pull");
		x->simple_retry = 1;
		x->sink_fd = p->fd;
		x->sink_max = p->d->size;
		return 1;
	}
	if (st != 200) {
		char why[400];

		reg_describe_status(&x->resp, why, sizeof(why));
		return err_set(e, EX_SERVICE, "cannot get blob %s from '%s/%s': %s", p->d->digest,
		    p->tg->h->name, p->tg->ref.repository, why);
	}
	{
		char got[OCI_DIGEST_SIZE];

		sha256_final(&x->sink_hash, got);
		x->sink_hashing = 0;
		if (x->sunk != p->d->size || strcmp(got, p->d->digest) != 0)
			return err_set(e, EX_SERVICE, "blob %s from '%s' is damaged: got %lld bytes "
			    "with digest %s", p->d->digest, p->tg->h->name, x->sunk, got);
	}
	p->r->blobs_done++;
	return 0;
}

static int
pull_blobs(struct registry *r, struct target *tg, struct oci_layout *l, struct oci_desc *ds,
    size_t nd, struct err *e)
{
	struct pull_task *ps = xcalloc(nd ? nd : 1, sizeof(*ps));
	struct task **ts = xcalloc(nd ? nd : 1, sizeof(*ts));
	size_t n = 0, i;
	int rc = -1;

	for (i = 0; i < nd; i++) {
		struct pull_task *p;
		char *path;
		size_t j;
		int dup = 0;

		for (j = 0; j < i; j++)
			dup |= !strcmp(ds[j].digest, ds[i].digest);
		if (dup)
			continue;
		if (oci_blob_exists(l, ds[i].digest)) {
			struct err ve;

			if (oci_blob_verify(l, ds[i].digest, ds[i].size, &ve) == 0) {
				blobcache_note(r, ds[i].digest, tg->h, tg->ref.repository);
				continue;
			}
			log_verbose("fetching %s again: %s", ds[i].digest, ve.msg);
		}
		p = &ps[n];
		p->t.step = pull_step;
		xfer_init(&p->t.x, r, tg->h);
		p->r = r;
		p->tg = tg;
		p->d = &ds[i];
		p->l = l;
		snprintf(p->what, sizeof(p->what), "blob %s", ds[i].digest);
		path = oci_blob_path(l, ds[i].digest);
		if (!path || mkdir_parent(path, e) < 0) {
			free(path);
			if (!path)
				err_set(e, EX_SERVICE, "bad digest '%.100s'", ds[i].digest);
			goto out;
		}
		p->tmp = xasprintf("%s.tmp.XXXXXX", path);
		free(path);
		if ((p->fd = mkstemp(p->tmp)) < 0) {
			err_set(e, EX_IOERR_, "cannot create '%s': %s", p->tmp, strerror(errno));
			free(p->tmp);
			p->tmp = NULL;
			goto out;
		}
		r->bytes_total += ds[i].size;
		ts[n++] = &p->t;
	}
	r->blobs_total += (int)n;
	if (reg_run_tasks(r, ts, n, r->o->parallel > 0 ? r->o->parallel : REGISTRY_DEFAULT_PARALLEL,
	    e) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		close(ps[i].fd);
		ps[i].fd = -1;
		if (oci_blob_adopt(l, ps[i].tmp, ps[i].d->digest, e) < 0)
			goto out;
		free(ps[i].tmp);
		ps[i].tmp = NULL;
		blobcache_note(r, ps[i].d->digest, tg->h, tg->ref.repository);
	}
	rc = 0;
out:
	for (i = 0; i < n; i++) {
		if (ps[i].tmp) {
			if (ps[i].fd >= 0)
				close(ps[i].fd);
			unlink(ps[i].tmp);
			free(ps[i].tmp);
		}
		xfer_free(&ps[i].t.x);
	}
	free(ps);
	free(ts);
	return rc;
}

int
registry_pull(struct registry *r, const char *refstr, struct oci_layout *l,
    struct oci_desc *out, char index_digest[OCI_DIGEST_SIZE], struct err *e)
{
	struct target tg;
	struct fetched f, child;
	struct oci_manifest m, cm;
	struct oci_desc *ds = NULL;
	const char *refpart, *platform = r->o->platform ? r->o->platform : "linux/amd64";
	char pdigest[OCI_DIGEST_SIZE];
	size_t nd = 0, i, pick = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&f, 0, sizeof(f));
	memset(&child, 0, sizeof(child));
	memset(&m, 0, sizeof(m));
	memset(&cm, 0, sizeof(cm));
	if (index_digest)
		index_digest[0] = '\0';
	r->op = "pull";
	if (!reg_multi(r))
		return err_set(e, EX_INTERNAL, "cannot create a curl multi handle");
	if (target_for(r, refstr, &tg, &refpart, e) < 0)
		goto out;
	if (fetch_manifest(r, &tg, refpart, 0, &f, NULL, e) < 0)
		goto out;
	if (oci_manifest_parse(f.text, f.len, f.type, &m, e) < 0) {
		e->code = EX_SERVICE;
		err_prefix(e, "manifest of '%s'", refstr);
		goto out;
	}
	if (m.is_index) {
		if (pick_platform(&m, platform, refstr, &pick, e) < 0)
			goto out;
		if (index_digest)
			memcpy(index_digest, f.digest, OCI_DIGEST_SIZE);
		if (fetch_manifest(r, &tg, m.layers[pick].digest, 0, &child, NULL, e) < 0)
			goto out;
		if (oci_manifest_parse(child.text, child.len, child.type, &cm, e) < 0 || cm.is_index) {
			if (cm.is_index)
				err_set(e, EX_SERVICE, "'%s': an index inside an index", refstr);
			e->code = EX_SERVICE;
			goto out;
		}
		oci_desc_copy(out, &m.layers[pick]);
		free(out->media_type);
		out->media_type = xstrdup(reg_manifest_type(&m.layers[pick], &cm));
		out->size = (long long)child.len;
		cJSON_Delete(out->annotations);
		out->annotations = NULL;
	} else {
		child = f;
		memset(&f, 0, sizeof(f));
		cm = m;
		memset(&m, 0, sizeof(m));
		out->media_type = xstrdup(reg_manifest_type(out, &cm));
		memcpy(out->digest, child.digest, OCI_DIGEST_SIZE);
		out->size = (long long)child.len;
	}
	ds = xcalloc(cm.nlayers + 1, sizeof(*ds));
	ds[nd++] = cm.config;
	for (i = 0; i < cm.nlayers; i++)
		ds[nd++] = cm.layers[i];
	if (pull_blobs(r, &tg, l, ds, nd, e) < 0)
		goto out;
	/* The manifest last: a layout never lists what it does not hold. */
	if (oci_blob_put(l, child.text, child.len, pdigest, e) < 0)
		goto out;
	rc = 0;
out:
	reg_progress(r, 1);
	blobcache_save(r);
	free(ds);
	if (rc < 0)
		oci_desc_free(out);
	fetched_free(&f);
	fetched_free(&child);
	oci_manifest_free(&m);
	oci_manifest_free(&cm);
	ref_free(&tg.ref);
	return rc;
}

int
registry_resolve(struct registry *r, const char *refstr, struct oci_desc *out, struct err *e)
{
	struct target tg;
	struct fetched f;
	const char *refpart;
	long long size = -1;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (target_for(r, refstr, &tg, &refpart, e) < 0)
		goto out;
	if (fetch_manifest(r, &tg, refpart, 1, &f, &size, e) < 0)
		goto out;
	memcpy(out->digest, f.digest, OCI_DIGEST_SIZE);
	out->size = size;
	out->media_type = f.type ? xstrdup(f.type) : NULL;
	fetched_free(&f);
	rc = 0;
out:
	ref_free(&tg.ref);
	return rc;
}

int
registry_tag(struct registry *r, const char *src, const char *new_tag,
    char digest_out[OCI_DIGEST_SIZE], struct err *e)
{
	struct target tg;
	struct fetched f;
	const char *refpart;
	int rc = -1;

	memset(&f, 0, sizeof(f));
	if (!ref_tag_valid(new_tag))
		return err_set(e, EX_USAGE_, "invalid tag '%s'", new_tag);
	if (target_for(r, src, &tg, &refpart, e) < 0)
		goto out;
	if (fetch_manifest(r, &tg, refpart, 0, &f, NULL, e) < 0)
		goto out;
	if (reg_put_manifest(r, &tg, new_tag, f.type ? f.type : MT_OCI_MANIFEST, f.text, f.len,
	    f.digest, e) < 0)
		goto out;
	if (digest_out)
		memcpy(digest_out, f.digest, OCI_DIGEST_SIZE);
	rc = 0;
out:
	fetched_free(&f);
	ref_free(&tg.ref);
	return rc;
}
