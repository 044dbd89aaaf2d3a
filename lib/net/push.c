/*
 * push.c: putting an image (or an index) from a layout into repositories.
 *
 * registry_push() checks the layout first (every manifest parsed, every
 * blob present with its size; the config hashed), then for each target
 * repository moves the blobs in two phases: look (HEAD; a mount from a
 * repository an earlier target or the blob cache knows, which may also
 * open an upload session) for all of them, then upload those that must
 * go up -- a monolithic PUT up to --chunk-size, else a session of PATCHes
 * with Content-Range closed by a PUT.  A blob is hashed as it is read to
 * go up, and its last bytes leave only when the whole matches its digest
 * (blob_check()): a layer that lies is never completed in a registry.  A failed
 * PATCH or PUT asks the session where it stands (GET, Range) and resumes,
 * or starts over after a HEAD.  The manifests go last: an index's by
 * digest, then the manifest once per tag, so nothing is tagged before all
 * it needs is there.  Before all that, one HEAD per tag asks whether the
 * tag already holds the manifest: a push again of what every tag holds
 * is that one request per tag and nothing else.  reg_put_manifest() is
 * also registry_tag()'s.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/crypto-load.h"
#include "core/timeutil.h"
#include "net/registry_int.h"

#define MAX_MOUNT_TRIES 2

enum { OUT_NONE, OUT_SKIPPED, OUT_MOUNTED, OUT_UPLOADED };

struct blob {
	char digest[OCI_DIGEST_SIZE];
	long long size;
	char *path;
	int fd;
	int verified;			/* its content was hashed and matches */
	struct sha256 h;		/* the bytes read to go up, in order */
	long long hashed;		/* how many of them */
};

enum {
	P_START, P_HEAD, P_MOUNT, P_POST, P_PATCH, P_PUT, P_STATUS
};

struct push_task {
	struct task t;
	struct registry *r;
	struct target *tg;
	struct blob *b;
	char *mount_from[MAX_MOUNT_TRIES];
	size_t nmount, imount;
	char *location;			/* the latest upload URL */
	long long offset;		/* bytes the registry holds */
	long long chunk;		/* PATCH size */
	int outcome;
	struct retry_state retry;	/* failures of the upload session */
	int restarts;
	int phase;			/* 1: look (HEAD, mounts); 2: upload */
	int need_upload;		/* phase 1 ended: this blob must go up */
	int headed;			/* its HEAD was asked */
	int in_target;			/* the cache says the target repository holds it */
	char what[200];
};

static int
blob_open(struct blob *b, struct err *e)
{
	if (b->fd >= 0)
		return 0;
	if ((b->fd = open(b->path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(e, EX_IOERR_, "cannot open blob '%s': %s", b->path, strerror(errno));
	return 0;
}

/* loc plus "digest=D" as a query parameter (loc came from
 * http_resolve(): it is a URL). */
static char *
with_digest(const char *loc, const char *digest)
{
	char *u = http_url_add_query(loc, "digest", digest);

	return u ? u : xstrdup(loc);
}

static void
push_prepare(struct push_task *p, const char *method, char *url)
{
	xfer_prepare(&p->t.x, method, url, p->what);
	xfer_scope(&p->t.x, p->tg->ref.repository, "pull,push");
}

static int
take_location(struct push_task *p, struct err *e)
{
	const char *loc = http_header(&p->t.x.resp, "Location");

	if (!loc || !*loc)
		return err_set(e, EX_SERVICE, "registry '%s' opened an upload for %s without a "
		    "Location", p->tg->h->name, p->b->digest);
	free(p->location);
	if (!(p->location = http_resolve(p->t.x.url, loc)))
		return err_set(e, EX_SERVICE, "registry '%s' opened an upload for %s at a "
		    "Location that is not an http(s) URL", p->tg->h->name, p->b->digest);
	return 0;
}

/* The registry's minimum chunk length, when the answer opening the
 * session announces one. */
static void
take_chunk_min(struct push_task *p)
{
	const char *min = http_header(&p->t.x.resp, "OCI-Chunk-Min-Length");
	long long v = min ? strtoll(min, NULL, 10) : 0;

	p->chunk = v > 0 ? v : 0;
}

/*
 * The body_check of an upload: the blob's bytes are hashed in the order
 * they are read, and its last piece is let go only when the whole hashes
 * to its digest.  A blob that lies is so never completed: a monolithic
 * PUT ends short of its length, a session never gets its last PATCH nor
 * its closing PUT.  A piece read again (a resent request, a resumed
 * session) was hashed already.  Reads never skip ahead, but should one,
 * the file is hashed whole there and then.
 */
static int
blob_matches(struct blob *b, const char *got, struct err *e)
{
	if (strcmp(got, b->digest) != 0)
		return err_set(e, EX_DOC, "digest mismatch for %s: content hashes to %s",
		    b->digest, got);
	b->verified = 1;
	return 0;
}

/* The whole file hashed now, where the bytes read could not be. */
static int
blob_hash_whole(struct blob *b, struct err *e)
{
	char got[OCI_DIGEST_SIZE];
	long long size;

	if (sha256_file(b->path, got, &size, e) < 0)
		return -1;
	return blob_matches(b, got, e);
}

static int
blob_check(void *arg, const unsigned char *p, size_t n, long long at, struct err *e)
{
	struct blob *b = arg;
	char got[OCI_DIGEST_SIZE];

	if (b->verified || at + (long long)n <= b->hashed)
		return 0;
	if (at > b->hashed)
		return blob_hash_whole(b, e);
	if (b->hashed == 0)
		sha256_init(&b->h);
	sha256_update(&b->h, p + (b->hashed - at), (size_t)(at + (long long)n - b->hashed));
	b->hashed = at + (long long)n;
	if (b->hashed < b->size)
		return 0;
	sha256_final(&b->h, got);
	return blob_matches(b, got, e);
}

/* The blob's bytes from off, len of them, as the body of the request. */
static void
upload_body(struct push_task *p, long long off, long long len)
{
	struct xfer *x = &p->t.x;

	x->body = BODY_FILE;
	x->fd = p->b->fd;
	x->off = off;
	x->len = len;
	x->body_check = blob_check;
	x->body_arg = p->b;
	xfer_header(x, "Content-Type: application/octet-stream");
}

/*
 * A PUT or PATCH of the upload proper.  It is never retried by itself
 * (push_recover() is), so its retry state is free to carry the session's
 * failures: xfer_start() then ends it within what is left of
 * --retry-time.
 */
static void
upload_prepare(struct push_task *p, const char *method, char *url)
{
	push_prepare(p, method, url);
	p->t.x.retry = p->retry;
}

/* Start the next request of the upload proper: a PUT or a PATCH. */
static int
push_upload(struct push_task *p, struct err *e)
{
	struct xfer *x = &p->t.x;
	long long chunk_opt = p->r->o->chunk_size > 0 ? p->r->o->chunk_size : REGISTRY_DEFAULT_CHUNK;

	if (blob_open(p->b, e) < 0)
		return -1;
	if (p->offset == 0 && p->b->size <= chunk_opt) {
		/* Monolithic: the whole blob in the closing PUT (an empty
		 * one has no piece for blob_check() to see). */
		if (!p->b->size && !p->b->verified && blob_hash_whole(p->b, e) < 0)
			return -1;
		upload_prepare(p, "PUT", with_digest(p->location, p->b->digest));
		upload_body(p, 0, p->b->size);
		p->t.state = P_PUT;
		return 1;
	}
	if (p->chunk < chunk_opt)
		p->chunk = chunk_opt;
	if (p->offset >= p->b->size) {
		/* Everything is there: close the session, if what went up
		 * was the blob (the registry's bytes were all read here,
		 * unless a mount's session came with them). */
		if (!p->b->verified && blob_hash_whole(p->b, e) < 0)
			return -1;
		upload_prepare(p, "PUT", with_digest(p->location, p->b->digest));
		x->body = BODY_MEM;
		x->mem = "";
		x->len = 0;
		p->t.state = P_PUT;
		return 1;
	}
	upload_prepare(p, "PATCH", xstrdup(p->location));
	upload_body(p, p->offset, p->b->size - p->offset < p->chunk ? p->b->size - p->offset :
	    p->chunk);
	xfer_header(x, "Content-Range: %lld-%lld", x->off, x->off + x->len - 1);
	p->t.state = P_PATCH;
	return 1;
}

static int
push_post(struct push_task *p)
{
	push_prepare(p, "POST", reg_repo_url(p->tg, "blobs/uploads/%s", ""));
	p->t.x.simple_retry = 1;
	p->t.state = P_POST;
	return 1;
}

static int
push_head(struct push_task *p)
{
	p->headed = 1;
	push_prepare(p, "HEAD", reg_repo_url(p->tg, "blobs/%s", p->b->digest));
	p->t.x.simple_retry = 1;
	p->t.state = P_HEAD;
	return 1;
}

/* A mount of the blob from the next repository that may hold it. */
static int
push_mount(struct push_task *p)
{
	const char *from = p->mount_from[p->imount++];
	char *q = xasprintf("blobs/uploads/?mount=%s&from=%s", p->b->digest, from);

	push_prepare(p, "POST", reg_repo_url(p->tg, "%s", q));
	free(q);
	xfer_scope(&p->t.x, from, "pull");
	p->t.x.simple_retry = 1;
	p->t.x.auth_soft = 1;
	p->t.state = P_MOUNT;
	return 1;
}

/* The upload failed in a way worth retrying: after a pause, ask the
 * registry where the session stands (GET on the upload URL). */
static int
push_recover(struct push_task *p, struct err *e)
{
	struct xfer *x = &p->t.x;
	struct err terr = x->terr;
	long long ra = x->retry_after_ms;

	push_prepare(p, "GET", xstrdup(p->location));
	x->simple_retry = 1;
	x->retry = p->retry;
	x->terr = terr;
	x->retry_after_ms = ra;
	if (xfer_backoff(x, e) < 0)
		return -1;
	p->retry = x->retry;
	memset(&x->retry, 0, sizeof(x->retry));
	p->t.state = P_STATUS;
	return 1;
}

/* Looking is over and the blob must be uploaded: in the first phase,
 * stop here (uploads start once every blob has been looked at). */
static int
push_looked(struct push_task *p, struct err *e)
{
	if (p->phase == 1) {
		p->need_upload = 1;
		return 0;
	}
	return p->location ? push_upload(p, e) : push_post(p);
}

static int
push_done(struct push_task *p, int outcome)
{
	struct registry *r = p->r;

	p->outcome = outcome;
	r->blobs_done++;
	if (outcome != OUT_UPLOADED)
		r->bytes_total -= p->b->size;
	blobcache_note(r, p->b->digest, p->tg->h, p->tg->ref.repository);
	return 0;
}

/* Compare a Docker-Content-Digest answer with what we sent. */
static int
check_digest_header(struct push_task *p, struct err *e)
{
	const char *d = http_header(&p->t.x.resp, "Docker-Content-Digest");

	if (d && strcmp(d, p->b->digest) != 0)
		return err_set(e, EX_SERVICE, "registry '%s' stored blob %s as '%.100s' "
		    "(Docker-Content-Digest differs)", p->tg->h->name, p->b->digest, d);
	return 0;
}

static int
push_unexpected(struct push_task *p, struct err *e)
{
	char why[400], name[600];

	reg_describe_status(&p->t.x.resp, why, sizeof(why));
	xfer_name(&p->t.x, name, sizeof(name));
	return err_set(e, EX_SERVICE, "%s: registry '%s' answered %s", name, p->tg->h->name, why);
}

/* Parse "Range: 0-N" into N; -1 when absent or malformed. */
static long long
range_end(const struct http_response *resp)
{
	const char *v = http_header(resp, "Range");
	char *end;
	long long a, b;

	if (!v)
		return -1;
	if (!strncmp(v, "bytes=", 6))
		v += 6;
	a = strtoll(v, &end, 10);
	if (end == v || *end != '-' || a != 0)
		return -1;
	v = end + 1;
	b = strtoll(v, &end, 10);
	if (end == v || *end || b < 0)
		return -1;
	return b;
}

static int
push_step(struct task *t, struct err *e)
{
	struct push_task *p = (struct push_task *)t;
	struct xfer *x = &t->x;
	long st = x->resp.status;

	switch (t->state) {
	case P_START:
		if (p->phase == 2)
			return p->location ? push_upload(p, e) : push_post(p);
		/* With a repository to mount it from, the mount comes first,
		 * without a HEAD: a registry answers the mount of a blob the
		 * repository holds as a mount.  Unless the cache says the
		 * repository holds it: then the HEAD, as without a source. */
		if (p->imount < p->nmount && !p->in_target)
			return push_mount(p);
		return push_head(p);
	case P_HEAD:
		if (x->transient)
			return err_set(e, EX_SERVICE, "%s", x->terr.msg);
		if (st == 200)
			return push_done(p, OUT_SKIPPED);
		if (st != 404)
			return push_unexpected(p, e);
		/* Asked after a mount that opened a session: upload there. */
		if (p->location)
			return push_looked(p, e);
		/* FALLTHROUGH */
	case P_MOUNT:
		if (t->state == P_MOUNT) {
			if (st == 201) {
				if (check_digest_header(p, e) < 0)
					return -1;
				return push_done(p, OUT_MOUNTED);
			}
			if (st == 202 && !x->transient) {
				/* No mount, but an upload session: use it, once
				 * a HEAD (if none was asked) says the repository
				 * does not hold the blob. */
				if (take_location(p, e) < 0)
					return -1;
				take_chunk_min(p);
				return p->headed ? push_looked(p, e) : push_head(p);
			}
			log_verbose("mount of %s from '%s' failed (HTTP %ld)", p->b->digest,
			    p->mount_from[p->imount - 1], st);
		}
		if (p->imount < p->nmount)
			return push_mount(p);
		/* Every mount failed, and no HEAD was asked: ask now,
		 * before an upload the repository may not need. */
		if (!p->headed)
			return push_head(p);
		return push_looked(p, e);
	case P_POST:
		if (st != 202)
			return push_unexpected(p, e);
		if (take_location(p, e) < 0)
			return -1;
		take_chunk_min(p);
		p->offset = 0;
		return push_upload(p, e);
	case P_PATCH:
		if (x->transient)
			return push_recover(p, e);
		if (st == 416 || st == 404 || (st == 400 && p->restarts < 3)) {
			x->terr.code = EX_SERVICE;
			snprintf(x->terr.msg, sizeof(x->terr.msg), "PATCH of %s: HTTP %ld",
			    p->b->digest, st);
			return push_recover(p, e);
		}
		if (st != 202)
			return push_unexpected(p, e);
		{
			long long end = range_end(&x->resp), want = x->off + x->len - 1;

			if (end > want)
				return err_set(e, EX_SERVICE, "registry '%s' says it holds bytes 0-%lld "
				    "of %s after we sent up to %lld", p->tg->h->name, end,
				    p->b->digest, want);
			p->offset = end >= 0 ? end + 1 : want + 1;
		}
		if (http_header(&x->resp, "Location") && take_location(p, e) < 0)
			return -1;
		memset(&p->retry, 0, sizeof(p->retry));
		return push_upload(p, e);
	case P_PUT:
		if (x->transient)
			return push_recover(p, e);
		if (st == 201 || st == 204) {
			if (check_digest_header(p, e) < 0)
				return -1;
			return push_done(p, OUT_UPLOADED);
		}
		if (st == 416 || st == 404) {
			x->terr.code = EX_SERVICE;
			snprintf(x->terr.msg, sizeof(x->terr.msg), "PUT of %s: HTTP %ld",
			    p->b->digest, st);
			return push_recover(p, e);
		}
		return push_unexpected(p, e);
	case P_STATUS:
		if (st == 204 || st == 202) {
			long long end = range_end(&x->resp);

			if (http_header(&x->resp, "Location") && take_location(p, e) < 0)
				return -1;
			/* "0-0" cannot tell 0 bytes from 1: start over then. */
			if (end > 0 && end < p->b->size) {
				p->offset = end + 1;
				log_verbose("resuming %s at byte %lld", p->b->digest, p->offset);
				return push_upload(p, e);
			}
		}
		if (++p->restarts > reg_retries(p->r))
			return err_set(e, EX_SERVICE, "upload of %s to '%s' keeps failing: %s",
			    p->b->digest, p->tg->h->name, x->terr.msg[0] ? x->terr.msg : "restarted too often");
		/* The session is gone (or useless): the blob may even be
		 * complete now, so look again before a new upload. */
		p->offset = 0;
		p->chunk = 0;
		p->imount = p->nmount;
		free(p->location);
		p->location = NULL;
		return push_head(p);
	}
	return err_set(e, EX_INTERNAL, "push task in unknown state %d", t->state);
}

/* Mount sources for b in target i: earlier targets on the same registry,
 * then what the cache remembers. */
static void
mount_sources(struct registry *r, struct push_task *p, struct target *tgs, size_t i)
{
	const struct target *tg = &tgs[i];
	const char *known[BLOBCACHE_MAX_REPOS];
	size_t j, n;

	for (j = 0; j < i && p->nmount < MAX_MOUNT_TRIES; j++)
		if (tgs[j].h == tg->h && strcmp(tgs[j].ref.repository, tg->ref.repository) != 0)
			p->mount_from[p->nmount++] = xstrdup(tgs[j].ref.repository);
	n = blobcache_repos(r, p->b->digest, tg->h, known, BLOBCACHE_MAX_REPOS);
	for (j = 0; j < n; j++)
		if (!strcmp(known[j], tg->ref.repository))
			p->in_target = 1;
	for (j = 0; j < n && p->nmount < MAX_MOUNT_TRIES; j++) {
		size_t k;
		int dup = 0;

		if (!strcmp(known[j], tg->ref.repository) || !ref_repository_valid(known[j]))
			continue;
		for (k = 0; k < p->nmount; k++)
			dup |= !strcmp(p->mount_from[k], known[j]);
		if (!dup)
			p->mount_from[p->nmount++] = xstrdup(known[j]);
	}
}

/* Layout problems are bad input (EX_DOC), unless the disk failed. */
static int
layout_error(const struct oci_layout *l, struct err *e)
{
	if (e->code != EX_IOERR_ || (!strstr(e->msg, "cannot read") && !strstr(e->msg, "cannot open")))
		e->code = EX_DOC;
	return err_prefix(e, "layout '%s'", l->dir);
}

/*
 * Push the blobs to target i in two phases: first look (HEAD, mounts)
 * for all of them, then upload those that must go up.
 */
static int
push_blobs(struct registry *r, const struct oci_layout *l, struct target *tgs, size_t i,
    struct blob *blobs, size_t nb, struct registry_push_result *res, struct err *e)
{
	struct push_task *ps;
	struct task **ts;
	int parallel = r->o->parallel > 0 ? r->o->parallel : REGISTRY_DEFAULT_PARALLEL;
	size_t k, m, nup = 0;
	int rc;

	/* Uploads hash what they send (blob_check()), with libcrypto's
	 * speed: loaded now, where a missing one is exit 69. */
	if (crypto_load(e) < 0)
		return -1;
	ps = xcalloc(nb ? nb : 1, sizeof(*ps));
	ts = xcalloc(nb ? nb : 1, sizeof(*ts));
	r->blobs_total += (int)nb;
	for (k = 0; k < nb; k++) {
		struct push_task *p = &ps[k];

		p->t.step = push_step;
		xfer_init(&p->t.x, r, tgs[i].h);
		p->r = r;
		p->tg = &tgs[i];
		p->b = &blobs[k];
		p->phase = 1;
		snprintf(p->what, sizeof(p->what), "blob %s", blobs[k].digest);
		mount_sources(r, p, tgs, i);
		r->bytes_total += blobs[k].size;
		ts[k] = &p->t;
	}
	rc = reg_run_tasks(r, ts, nb, parallel, e);
	if (rc == 0) {
		for (k = 0; k < nb; k++) {
			struct push_task *p = &ps[k];

			if (!p->need_upload)
				continue;
			xfer_release(&p->t.x);
			p->phase = 2;
			p->t.state = P_START;
			p->t.finished = 0;
			ts[nup++] = &p->t;
		}
		rc = reg_run_tasks(r, ts, nup, parallel, e);
	}
	for (k = 0; k < nb; k++) {
		struct push_task *p = &ps[k];

		if (p->outcome == OUT_SKIPPED)
			res->skipped++;
		else if (p->outcome == OUT_MOUNTED)
			res->mounted++;
		else if (p->outcome == OUT_UPLOADED)
			res->uploaded++;
		xfer_free(&p->t.x);
		for (m = 0; m < p->nmount; m++)
			free(p->mount_from[m]);
		free(p->location);
	}
	free(ps);
	free(ts);
	if (rc < 0 && e->code == EX_DOC)
		layout_error(l, e);	/* blob_check() */
	else if (rc < 0)
		err_prefix(e, "cannot push to '%s/%s'", tgs[i].h->name, tgs[i].ref.repository);
	return rc;
}

int
reg_put_manifest(struct registry *r, struct target *tg, const char *ref,
    const char *media_type, const char *text, size_t len, const char *digest, struct err *e)
{
	struct xfer x;
	const char *got;
	int rc = -1;

	xfer_init(&x, r, tg->h);
	xfer_prepare(&x, "PUT", reg_repo_url(tg, "manifests/%s", ref), "manifest");
	xfer_scope(&x, tg->ref.repository, "pull,push");
	xfer_header(&x, "Content-Type: %s", media_type);
	x.body = BODY_MEM;
	x.mem = text;
	x.len = (long long)len;
	x.simple_retry = 1;
	if (xfer_run(&x, e) < 0)
		goto out;
	if (x.resp.status != 201 && x.resp.status != 200) {
		char why[400];

		reg_describe_status(&x.resp, why, sizeof(why));
		err_set(e, EX_SERVICE, "registry '%s' refused the manifest for '%s/%s:%s': %s",
		    tg->h->name, tg->h->name, tg->ref.repository, ref, why);
		goto out;
	}
	got = http_header(&x.resp, "Docker-Content-Digest");
	if (got && strcmp(got, digest) != 0) {
		err_set(e, EX_SERVICE, "registry '%s' stored the manifest for '%s' as '%.100s', "
		    "not %s (Docker-Content-Digest differs)", tg->h->name, ref, got, digest);
		goto out;
	}
	rc = 0;
out:
	xfer_free(&x);
	return rc;
}

/*
 * Is the manifest already in tg under each of its tags (by its digest
 * when tg has none)?  One HEAD per reference, the first stopping at the
 * first that is not, and nothing before them: no /v2/ ping (the scheme
 * is learnt from a TLS handshake, a 401 starts the auth flow as on any
 * request).  tg->present[k] is set for each reference whose
 * Docker-Content-Digest is digest.  Any other answer (not found,
 * another digest, no Docker-Content-Digest, a transient failure, which
 * is not retried here, or a failure of the connection) leaves the
 * reference to the ordinary push, which reports what fails; a failure
 * that the ordinary push would only repeat (credentials refused, no
 * token from the token server, an interruption) fails here.  Returns how
 * many are present, or -1.
 */
static int
manifest_present(struct registry *r, struct target *tg, const char *digest, struct err *e)
{
	struct xfer x;
	size_t k, n = tg->tags ? strv_len(tg->tags) : 1;
	int found = 0;

	tg->present = xcalloc(n, sizeof(*tg->present));
	if (reg_host_scheme(r, tg->h, e) < 0)
		return e->code == EX_TEMP ? -1 : 0;
	/* A plain-HTTP registry answers without libcurl, where it can. */
	for (k = 0; k < n; k++) {
		char *url = reg_repo_url(tg, "manifests/%s", tg->tags ? tg->tags[k] : digest);
		char *got = NULL;
		int status, plain = reg_plain_head(r, tg->h, url, &status, &got);
		int same = plain && status == 200 && got && !strcmp(got, digest);

		free(url);
		free(got);
		if (!plain)
			break;
		if (!same)
			return found;
		tg->present[k] = 1;
		found++;
	}
	if (k == n)
		return found;
	xfer_init(&x, r, tg->h);
	for (; k < n; k++) {
		const char *ref = tg->tags ? tg->tags[k] : digest;
		const char *got;
		struct err he = { 0, "" };

		xfer_prepare(&x, "HEAD", reg_repo_url(tg, "manifests/%s", ref), "manifest");
		/* The push's scope: its token serves the rest of the push. */
		xfer_scope(&x, tg->ref.repository, "pull,push");
		xfer_header(&x, "%s", MANIFEST_ACCEPT);
		if (xfer_run(&x, &he) < 0) {
			if (he.code == EX_TEMP || he.code == EX_AUTH || x.token_failed) {
				*e = he;
				xfer_free(&x);
				return -1;
			}
			log_verbose("HEAD of the manifest '%s': %s; pushing it", ref, he.msg);
			break;
		}
		got = http_header(&x.resp, "Docker-Content-Digest");
		if (x.transient || x.resp.status != 200 || !got || strcmp(got, digest) != 0)
			break;
		tg->present[k] = 1;
		found++;
	}
	xfer_free(&x);
	return found;
}

static void
targets_free(struct target *tgs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		ref_free(&tgs[i].ref);
		strv_free(tgs[i].tags);
		free(tgs[i].present);
	}
	free(tgs);
}

/* Group references by repository, keeping their order. */
static int
make_targets(struct registry *r, char *const *refs, size_t nrefs, struct target **out,
    size_t *nout, struct err *e)
{
	struct target *tgs = NULL;
	size_t n = 0, i, j;

	for (i = 0; i < nrefs; i++) {
		struct image_ref ref;

		if (ref_parse(refs[i], &ref, e) < 0) {
			targets_free(tgs, n);
			return -1;
		}
		if (ref.digest) {
			err_set(e, EX_USAGE_, "cannot push to '%s': a push target names a tag, not "
			    "a digest", refs[i]);
			ref_free(&ref);
			targets_free(tgs, n);
			return -1;
		}
		for (j = 0; j < n; j++)
			if (!strcmp(tgs[j].ref.registry, ref.registry) &&
			    !strcmp(tgs[j].ref.repository, ref.repository))
				break;
		if (j == n) {
			tgs = xrealloc(tgs, (n + 1) * sizeof(*tgs));
			memset(&tgs[n], 0, sizeof(*tgs));
			tgs[n].ref.registry = xstrdup(ref.registry);
			tgs[n].ref.repository = xstrdup(ref.repository);
			tgs[n].h = reg_host(r, &ref);
			n++;
		}
		if (ref.tag) {
			size_t k;
			int dup = 0;

			for (k = 0; tgs[j].tags && tgs[j].tags[k]; k++)
				dup |= !strcmp(tgs[j].tags[k], ref.tag);
			if (!dup)
				tgs[j].tags = strv_push(tgs[j].tags, ref.tag);
		}
		ref_free(&ref);
	}
	*out = tgs;
	*nout = n;
	return 0;
}

static int
add_blob(struct blob **bs, size_t *n, const struct oci_layout *l, const struct oci_desc *d,
    const char *what, struct err *e)
{
	struct stat st;
	struct blob *b;
	size_t i;

	for (i = 0; i < *n; i++)
		if (!strcmp((*bs)[i].digest, d->digest))
			return 0;
	*bs = xrealloc(*bs, (*n + 1) * sizeof(**bs));
	b = &(*bs)[*n];
	memset(b, 0, sizeof(*b));
	memcpy(b->digest, d->digest, OCI_DIGEST_SIZE);
	b->size = d->size;
	b->path = oci_blob_path(l, d->digest);
	b->fd = -1;
	(*n)++;
	if (!b->path)
		return err_set(e, EX_DOC, "layout '%s': %s: bad digest '%.100s'", l->dir, what,
		    d->digest);
	if (stat(b->path, &st) != 0 || !S_ISREG(st.st_mode))
		return err_set(e, errno == ENOENT || errno == 0 ? EX_DOC : EX_IOERR_,
		    "layout '%s': blob %s (%s) is missing", l->dir, d->digest, what);
	if ((long long)st.st_size != d->size)
		return err_set(e, EX_DOC, "layout '%s': size mismatch for %s (%s): blob has %lld "
		    "bytes, the manifest says %lld", l->dir, d->digest, what,
		    (long long)st.st_size, d->size);
	return 0;
}

/* An image's config (verified now: it is small) and layers (their sizes
 * now, their content before they are uploaded). */
static int
add_image_blobs(struct blob **bs, size_t *n, const struct oci_layout *l,
    const struct oci_manifest *m, struct err *e)
{
	char what[32];
	size_t k;

	if (add_blob(bs, n, l, &m->config, "config", e) < 0)
		return -1;
	if (oci_blob_verify(l, m->config.digest, m->config.size, e) < 0)
		return layout_error(l, e);
	for (k = 0; k < *n; k++)
		if (!strcmp((*bs)[k].digest, m->config.digest))
			(*bs)[k].verified = 1;
	for (k = 0; k < m->nlayers; k++) {
		snprintf(what, sizeof(what), "layers[%zu]", k);
		if (add_blob(bs, n, l, &m->layers[k], what, e) < 0)
			return -1;
	}
	return 0;
}

struct child {
	struct oci_desc d;
	char *text;
	size_t len;
	const char *type;
	struct oci_manifest m;
};

int
registry_push(struct registry *r, const struct oci_layout *l,
    const struct oci_desc *manifest, char *const *refs, size_t nrefs,
    struct registry_push_result *res, struct err *e)
{
	struct oci_manifest m;
	struct target *tgs = NULL;
	struct blob *blobs = NULL;
	struct child *kids = NULL;
	size_t ntg = 0, nb = 0, nkids = 0, i, k;
	char *text = NULL;
	size_t len = 0;
	long long t0 = mono_ms(), sent0 = r->bytes_moved;
	int rc = -1, all;

	memset(res, 0, sizeof(*res));
	memset(&m, 0, sizeof(m));
	r->op = "push";
	/* No multi handle yet: a push whose manifest is already there
	 * (reg_plain_head()) may never load libcurl. */
	if (nrefs == 0)
		return err_set(e, EX_USAGE_, "nothing to push to: no reference given");
	if (make_targets(r, refs, nrefs, &tgs, &ntg, e) < 0)
		return -1;
	/* The layout's structure is checked before the first request; the
	 * content of the blobs that must go up, before the first upload. */
	if (!(text = oci_blob_read(l, manifest->digest, manifest->size, MANIFEST_MAX, &len, e)) ||
	    oci_manifest_parse(text, len, manifest->media_type, &m, e) < 0) {
		layout_error(l, e);
		goto out;
	}
	if (m.is_index) {
		for (i = 0; i < m.nlayers; i++) {
			struct child *c;

			kids = xrealloc(kids, (nkids + 1) * sizeof(*kids));
			c = &kids[nkids++];
			memset(c, 0, sizeof(*c));
			oci_desc_copy(&c->d, &m.layers[i]);
			if (!(c->text = oci_blob_read(l, c->d.digest, c->d.size, MANIFEST_MAX, &c->len, e)) ||
			    oci_manifest_parse(c->text, c->len, c->d.media_type, &c->m, e) < 0) {
				err_prefix(e, "manifests[%zu]", i);
				layout_error(l, e);
				goto out;
			}
			if (c->m.is_index) {
				err_set(e, EX_DOC, "layout '%s': nested index %s is not supported",
				    l->dir, c->d.digest);
				goto out;
			}
			c->type = reg_manifest_type(&c->d, &c->m);
			if (add_image_blobs(&blobs, &nb, l, &c->m, e) < 0)
				goto out;
		}
	} else if (add_image_blobs(&blobs, &nb, l, &m, e) < 0) {
		goto out;
	}

	for (i = 0, all = 1; i < ntg; i++) {
		struct target *tg = &tgs[i];
		const char *type = reg_manifest_type(manifest, &m);
		int found = manifest_present(r, tg, manifest->digest, e);

		if (found < 0) {
			if (e->code != EX_TEMP)
				err_prefix(e, "cannot push to '%s/%s'", tg->h->name, tg->ref.repository);
			goto out;
		}
		if ((size_t)found < (tg->tags ? strv_len(tg->tags) : 1))
			all = 0;
		if (found > 0) {
			/* The manifest is in the repository: so are its blobs
			 * (and an index's manifests), which a registry checks
			 * before it takes a manifest. */
			for (k = 0; k < nb; k++)
				blobcache_note(r, blobs[k].digest, tg->h, tg->ref.repository);
			res->skipped += (int)nb;
		} else if (reg_host_ping(r, tg->h, e) < 0 ||
		    push_blobs(r, l, tgs, i, blobs, nb, res, e) < 0) {
			goto out;
		}
		/* An index's manifests go first, by digest; then the manifest,
		 * once per tag: nothing is tagged before all it needs is there. */
		for (k = 0; k < nkids && !found; k++)
			if (reg_put_manifest(r, tg, kids[k].d.digest, kids[k].type, kids[k].text,
			    kids[k].len, kids[k].d.digest, e) < 0)
				goto out;
		if (!tg->tags && !tg->present[0] &&
		    reg_put_manifest(r, tg, manifest->digest, type, text, len, manifest->digest, e) < 0)
			goto out;
		for (k = 0; tg->tags && tg->tags[k]; k++) {
			char *full;

			if (!tg->present[k] && reg_put_manifest(r, tg, tg->tags[k], type, text, len,
			    manifest->digest, e) < 0)
				goto out;
			full = xasprintf("%s/%s:%s", tg->h->name, tg->ref.repository, tg->tags[k]);
			res->tags = strv_push(res->tags, full);
			free(full);
		}
		{
			char *ref = ref_with_digest(&tg->ref, manifest->digest);

			res->references = strv_push(res->references, ref);
			free(ref);
		}
	}
	if (!res->tags)
		res->tags = xcalloc(1, sizeof(*res->tags));
	res->registry = xstrdup(tgs[0].ref.registry);
	res->repository = xstrdup(tgs[0].ref.repository);
	memcpy(res->digest, manifest->digest, OCI_DIGEST_SIZE);
	res->reference = xstrdup(res->references[0]);
	res->already = all;
	rc = 0;
out:
	res->bytes_sent = r->bytes_moved - sent0;
	reg_progress(r, 1);
	blobcache_save(r);
	res->duration_ms = mono_ms() - t0;
	for (i = 0; i < nb; i++) {
		if (blobs[i].fd >= 0)
			close(blobs[i].fd);
		free(blobs[i].path);
		/* An upload that stopped part way left its hash open: a
		 * libcrypto context to free (ours hold no memory). */
		if (blobs[i].h.ctx) {
			char unused[OCI_DIGEST_SIZE];

			sha256_final(&blobs[i].h, unused);
		}
	}
	free(blobs);
	for (i = 0; i < nkids; i++) {
		oci_desc_free(&kids[i].d);
		free(kids[i].text);
		oci_manifest_free(&kids[i].m);
	}
	free(kids);
	free(text);
	oci_manifest_free(&m);
	targets_free(tgs, ntg);
	if (rc < 0) {
		/* Keep the counts for the document; drop the names. */
		strv_free(res->tags);
		strv_free(res->references);
		res->tags = res->references = NULL;
	}
	return rc;
}

void
registry_push_result_free(struct registry_push_result *res)
{
	free(res->registry);
	free(res->repository);
	free(res->reference);
	strv_free(res->references);
	strv_free(res->tags);
	memset(res, 0, sizeof(*res));
}
