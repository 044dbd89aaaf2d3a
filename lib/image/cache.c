/*
 * cache: the layer cache.  Owns the cache directory (an OCI layout of
 * layers and pulled bases, one record per layer under layers/, and the
 * file-hash cache "files"), the cache key of a layer's entries (which
 * needs every file's content digest: from the file-hash cache, else read),
 * making a layer (linked from the cache, else written into the output and
 * kept), and linking blobs between layouts (copied across file systems).
 * A cache that cannot be written costs a warning, never the build.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "image/builder.h"
#include "image/config.h"

/* ---- blobs ------------------------------------------------------------------ */

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
	rc = file_copy(src, tmp, 0644, 1, e);
	if (rc == 0 && rename(tmp, dst) != 0) {
		rc = err_set(e, EX_IOERR_, "cannot rename '%s': %s", tmp, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	free(dst);
	return rc;
}

/* ---- the layer cache ----------------------------------------------------- */

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
write_record(struct builder *b, const char *sub, const char *key, const struct build_layer *bl)
{
	char *dir = xasprintf("%s/%s", b->o->cache_dir, sub), *path;
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

/* The file-hash cache, loaded on first use: a build whose every layer
 * is found by its stat key never reads it. */
static struct layer_fcache *
fcache(struct builder *b)
{
	if (!b->fcache && b->have_cache) {
		char *p = xasprintf("%s/files", b->o->cache_dir);

		b->fcache = layer_fcache_load(p);
		free(p);
	}
	return b->fcache;
}

/*
 * Every file's content digest in ents: from the file-hash cache, else (with
 * force, or when layers are cached) read.  Returns 1 when all are known,
 * 0 when some are not (left for the layer's write), -1 on error.
 */
static int
entry_digests(struct builder *b, struct lb *lb, struct layer_entry *ents,
    const struct df_inst *in, int force)
{
	size_t i;
	int known = 1;

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
		if ((d = layer_fcache_get(fcache(b), le->src, &st)))
			snprintf(le->digest, sizeof(le->digest), "%s", d);
		else
			known = 0;
	}
	/* With layers in the cache, reading the files is cheaper than a
	 * compression that may not be needed (a fresh checkout of an
	 * unchanged tree); with none, the write digests them anyway. */
	if (known || !(force || b->cache_has_layers))
		return known;
	for (i = 0; i < lb->n; i++) {
		struct layer_entry *le = &ents[i];
		long long size;

		if (le->type != LE_FILE || le->digest[0])
			continue;
		if (sha256_file(le->src, le->digest, &size, b->e) < 0)
			return builder_prefix(b, in);
		if (size != le->size)
			return builder_err(b, in, EX_IOERR_, "'%s' changed while it was read",
			    le->src);
	}
	return 1;
}

void
cache_fold(struct build_stage *s, const char *what)
{
	char *text = xasprintf("%s\n%s", s->state, what);

	sha256_digest(text, strlen(text), s->state);
	free(text);
}

int
cache_fold_layer(struct builder *b, struct build_stage *s, struct lb *lb,
    struct layer_entry *ents, const struct df_inst *in)
{
	char key[OCI_DIGEST_SIZE];

	/* cache_layer() found the key already (by stat key, the digests
	 * may not be known). */
	if (lb->key[0]) {
		cache_fold(s, lb->key);
		return 0;
	}
	if (!s->chain && entry_digests(b, lb, ents, in, 1) < 0)
		return -1;
	layer_cache_key(ents, lb->n, &b->o->layer, key);
	cache_fold(s, key);
	return 0;
}

/* The layer recorded under key, linked into the output: 1, else 0. */
static int
cache_get(struct builder *b, const char *key, struct build_layer *bl)
{
	char *rec = xasprintf("%s/layers/%s.json", b->o->cache_dir, key + 7);
	int got = 0;

	if (read_record(rec, bl) == 0) {
		char *blob = oci_blob_path(&b->cache, bl->digest);
		struct stat st;

		if (blob && stat(blob, &st) == 0 && st.st_size == bl->size &&
		    build_blob_link(blob, b->out, bl->digest, bl->size, b->e) == 0)
			got = 1;
		err_clear(b->e);
		free(blob);
	}
	free(rec);
	if (!got)
		memset(bl, 0, sizeof(*bl));
	return got;
}

/*
 * The stat key of lb's entries (layer_stat_key()): only context files
 * with their stat data, in a build with a cache.  -1 when there is none;
 * *recent set when some file changed too recently to be trusted by its
 * stat data (then no step record is written).
 */
static int
stat_key(struct builder *b, struct lb *lb, const struct layer_entry *ents,
    char key[OCI_DIGEST_SIZE], int *recent)
{
	const struct stat **st;
	size_t i;
	int rc;

	*recent = 0;
	if (!b->have_cache || !lb->n)
		return -1;
	st = xcalloc(lb->n, sizeof(*st));
	for (i = 0; i < lb->n; i++)
		if (ents[i].type == LE_FILE && lb->v[i].have_st && ents[i].src &&
		    !is_scratch(b, ents[i].src)) {
			st[i] = &lb->v[i].st;
			if (layer_stat_recent(st[i]))
				*recent = 1;
		}
	rc = layer_stat_key(ents, lb->n, st, &b->o->layer, key);
	free(st);
	return rc;
}

/* The layer key a step record names, or -1. */
static int
step_get(struct builder *b, const char *sk, char key[OCI_DIGEST_SIZE])
{
	char *rec = xasprintf("%s/steps/%s.json", b->o->cache_dir, sk + 7);
	struct err e = { 0, "" };
	cJSON *j = json_load(rec, 4096, 0, NULL, &e);
	const char *k = j ? json_str(j, "key") : NULL;
	int rc = -1;

	if (k && digest_valid(k)) {
		snprintf(key, OCI_DIGEST_SIZE, "%s", k);
		rc = 0;
	}
	cJSON_Delete(j);
	free(rec);
	return rc;
}

static void
step_put(struct builder *b, const char *sk, const char *key)
{
	char *dir = xasprintf("%s/steps", b->o->cache_dir), *path;
	char *text = xasprintf("{\"key\": \"%s\"}\n", key);
	struct err e = { 0, "" };

	path = xasprintf("%s/%s.json", dir, sk + 7);
	if (mkdir_p(dir, 0755, &e) < 0 || atomic_write(path, text, strlen(text), 0644, &e) < 0)
		log_warn("cannot write to the layer cache: %s", e.msg);
	free(text);
	free(path);
	free(dir);
}

int
cache_layer(struct builder *b, struct build_stage *s, struct lb *lb, struct layer_entry *ents,
    const struct df_inst *in)
{
	struct build_layer bl;
	char key[OCI_DIGEST_SIZE], sk[OCI_DIGEST_SIZE];
	size_t i;
	int known, cached = 0, have_sk, recent, by_stat = 0;

	memset(&bl, 0, sizeof(bl));
	/* First the stat key: when every file has the stat data it had
	 * when a layer was made of them, that layer is taken as it is. */
	have_sk = stat_key(b, lb, ents, sk, &recent) == 0;
	if (have_sk && step_get(b, sk, key) == 0 && cache_get(b, key, &bl)) {
		cached = by_stat = 1;
		b->stat_hits++;
		goto done;
	}
	/* Else the cache key, which needs every file's content digest. */
	if ((known = entry_digests(b, lb, ents, in, 0)) < 0)
		return -1;
	/* Without every digest, the key waits for the layer's write. */
	if (known) {
		layer_cache_key(ents, lb->n, &b->o->layer, key);
		if (b->o->cache_dir && cache_get(b, key, &bl))
			cached = 1;
	}
	if (!cached) {
		struct layer_result lr;
		char *tmp = xasprintf("%s/layer-%d.tmp", b->o->work_dir, ++b->seq);

		if (layer_write(ents, lb->n, &b->o->layer, tmp, &lr, b->e) < 0) {
			free(tmp);
			return builder_prefix(b, in);
		}
		if (oci_blob_adopt(b->out, tmp, lr.digest, b->e) < 0) {
			unlink(tmp);
			free(tmp);
			return -1;
		}
		free(tmp);
		memcpy(bl.digest, lr.digest, OCI_DIGEST_SIZE);
		memcpy(bl.diff_id, lr.diff_id, OCI_DIGEST_SIZE);
		bl.size = lr.size;
		bl.media_type = lr.media_type;
		if (!known)
			layer_cache_key(ents, lb->n, &b->o->layer, key);
		if (b->o->cache_dir) {
			char *src = oci_blob_path(b->out, bl.digest);

			if (build_blob_link(src, &b->cache, bl.digest, bl.size, b->e) == 0)
				write_record(b, "layers", key, &bl);
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
			layer_fcache_put(fcache(b), ents[i].src, &st, ents[i].digest);
		}
	/* And the step, unless a file changed too recently to be trusted
	 * by its stat data (the next build records it). */
	if (have_sk && !recent && b->o->cache_dir)
		step_put(b, sk, key);
done:
	memcpy(lb->key, key, OCI_DIGEST_SIZE);
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
	    bl.size, by_stat ? ", cached, by stat data" : cached ? ", cached" : "");
	return 0;
}

/* ---- RUN's cache: a step's layer by the step's key ------------------------ */

/* The stage takes layer bl (its blob in the cache layout). */
static int
stage_take(struct builder *b, struct build_stage *s, const struct build_layer *bl,
    int cached, const struct df_inst *in)
{
	if (!s->chain)
		return 0;
	if (cached) {
		char *blob = oci_blob_path(&b->cache, bl->digest);
		int rc = build_blob_link(blob, b->out, bl->digest, bl->size, b->e);

		free(blob);
		if (rc < 0)
			return builder_prefix(b, in);
	}
	s->layers = xrealloc(s->layers, (s->nlayers + 1) * sizeof(*s->layers));
	s->layers[s->nlayers].info = *bl;
	s->layers[s->nlayers].info.cached = cached;
	s->layers[s->nlayers].path = oci_blob_path(b->out, bl->digest);
	s->nlayers++;
	imgconfig_add_diff_id(s->cfg, bl->diff_id);
	return 0;
}

char *
cache_run_get(struct builder *b, struct build_stage *s, const char *key,
    const struct df_inst *in)
{
	struct build_layer bl;
	char *rec, *blob = NULL;
	struct stat st;

	if (!b->have_cache)
		return NULL;
	memset(&bl, 0, sizeof(bl));
	rec = xasprintf("%s/runs/%s.json", b->o->cache_dir, key + 7);
	if (read_record(rec, &bl) == 0) {
		blob = oci_blob_path(&b->cache, bl.digest);
		if (!blob || stat(blob, &st) != 0 || st.st_size != bl.size) {
			free(blob);
			blob = NULL;
		}
	}
	free(rec);
	if (blob && stage_take(b, s, &bl, 1, in) < 0) {
		/* Linking failed: run the step instead. */
		log_verbose("%s:%d: cached layer not usable: %s", b->df.name, in->line,
		    b->e->msg);
		err_clear(b->e);
		free(blob);
		return NULL;
	}
	if (blob) {
		if (s->chain)
			b->r->layers_cached++;
		log_verbose("%s:%d: layer %s (%lld bytes, cached)", b->df.name, in->line,
		    bl.digest, bl.size);
	}
	return blob;
}

int
cache_run_put(struct builder *b, struct build_stage *s, const char *key, struct lb *lb,
    struct layer_entry *ents, const struct df_inst *in)
{
	struct build_layer bl;

	if (s->chain) {
		if (cache_layer(b, s, lb, ents, in) < 0)
			return -1;
		bl = s->layers[s->nlayers - 1].info;
	} else {
		struct layer_result lr;
		char *tmp;

		if (!b->have_cache)
			return 0;
		/* A stage the image does not build on: the layer only for
		 * the cache, so that the step is not run again. */
		tmp = xasprintf("%s/layer-%d.tmp", b->o->work_dir, ++b->seq);
		if (layer_write(ents, lb->n, &b->o->layer, tmp, &lr, b->e) < 0 ||
		    oci_blob_adopt(&b->cache, tmp, lr.digest, b->e) < 0) {
			log_warn("cannot keep the layer of %s:%d in the cache: %s", b->df.name,
			    in->line, b->e->msg);
			err_clear(b->e);
			unlink(tmp);
			free(tmp);
			return 0;
		}
		free(tmp);
		memset(&bl, 0, sizeof(bl));
		memcpy(bl.digest, lr.digest, OCI_DIGEST_SIZE);
		memcpy(bl.diff_id, lr.diff_id, OCI_DIGEST_SIZE);
		bl.size = lr.size;
		bl.media_type = lr.media_type;
	}
	if (b->have_cache) {
		char *blob = oci_blob_path(&b->cache, bl.digest);
		struct stat st;

		/* cache_layer() keeps it there unless the cache failed. */
		if (blob && stat(blob, &st) == 0)
			write_record(b, "runs", key, &bl);
		free(blob);
	}
	return 0;
}

/* ---- the cache directory ------------------------------------------------ */

int
cache_open(struct builder *b)
{
	const char *dir = b->o->cache_dir;
	char *p;
	DIR *d;
	struct dirent *de;

	if (oci_layout_create(&b->cache, dir, b->e) < 0) {
		err_prefix(b->e, "cache");
		return -1;
	}
	b->have_cache = 1;
	/* Some layer is cached: digesting the files first may spare a
	 * compression (see cache_layer()). */
	p = xasprintf("%s/layers", dir);
	d = opendir(p);
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.') {
			b->cache_has_layers = 1;
			break;
		}
	if (d)
		closedir(d);
	free(p);
	return 0;
}

void
cache_save(struct builder *b)
{
	/* Files of the layers found by stat key were not looked up: keep
	 * every entry then, rather than drop theirs as unused. */
	if (b->fcache && layer_fcache_save(b->fcache, b->stat_hits ? NULL : b->ctx_real,
	    b->e) < 0) {
		log_warn("cannot save the file-hash cache: %s", b->e->msg);
		err_clear(b->e);
	}
}

void
cache_close(struct builder *b)
{
	if (b->have_cache)
		oci_layout_close(&b->cache);
	b->have_cache = 0;
	layer_fcache_free(b->fcache);
	b->fcache = NULL;
}
