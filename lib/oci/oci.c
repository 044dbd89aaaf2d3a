/*
 * oci: digests, descriptors, manifests and the OCI image layout on disk.
 * See oci.h for the contract.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "core/log.h"
#include "oci/oci.h"

#define LAYOUT_FILE_MAX (64 * 1024)
#define INDEX_MAX (16 * 1024 * 1024)
#define MANIFEST_MAX (4 * 1024 * 1024)	/* what registries accept */
#define INDEX_DEPTH_MAX 8
#define LAYOUT_VERSION "1.0.0"

/* "where.field" for messages. */
static int
bad_digest(struct err *e, const char *where, const char *d)
{
	const char *colon = strchr(d, ':');

	if (colon && strncmp(d, "sha256:", 7) != 0 && colon - d < 32)
		return err_set(e, EX_USAGE_, "%s.digest: digest algorithm '%.*s' is not "
		    "supported (only sha256)", where, (int)(colon - d), d);
	return err_set(e, EX_USAGE_, "%s.digest: '%.200s' is not a valid sha256 digest",
	    where, d);
}

/* ---- descriptors ------------------------------------------------------- */

static char *
opt_str(const cJSON *o, const char *key, const char *where, int *bad, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v || cJSON_IsNull(v))
		return NULL;
	if (!cJSON_IsString(v)) {
		err_set(e, EX_USAGE_, "%s.%s: expected a string", where, key);
		*bad = 1;
		return NULL;
	}
	return xstrdup(v->valuestring);
}

int
oci_desc_parse(const cJSON *o, const char *where, struct oci_desc *d, struct err *e)
{
	const cJSON *v, *plat, *ann;
	int bad = 0;

	memset(d, 0, sizeof(*d));
	if (!where)
		where = "descriptor";
	if (!cJSON_IsObject(o))
		return err_set(e, EX_USAGE_, "%s: expected an object", where);

	v = cJSON_GetObjectItemCaseSensitive(o, "mediaType");
	if (!v)
		return err_set(e, EX_USAGE_, "%s.mediaType: missing", where);
	if (!cJSON_IsString(v) || !*v->valuestring)
		return err_set(e, EX_USAGE_, "%s.mediaType: expected a non-empty string", where);

	v = cJSON_GetObjectItemCaseSensitive(o, "digest");
	if (!v)
		return err_set(e, EX_USAGE_, "%s.digest: missing", where);
	if (!cJSON_IsString(v))
		return err_set(e, EX_USAGE_, "%s.digest: expected a string", where);
	if (!digest_valid(v->valuestring))
		return bad_digest(e, where, v->valuestring);
	memcpy(d->digest, v->valuestring, OCI_DIGEST_SIZE);

	v = cJSON_GetObjectItemCaseSensitive(o, "size");
	if (!v)
		return err_set(e, EX_USAGE_, "%s.size: missing", where);
	/* A number only: json_get_i64 would also take a decimal string. */
	if (!(cJSON_IsNumber(v) || cJSON_IsRaw(v)) || json_get_i64(v, &d->size) != 0)
		return err_set(e, EX_USAGE_, "%s.size: expected an integer", where);
	if (d->size < 0)
		return err_set(e, EX_USAGE_, "%s.size: %lld is negative", where, d->size);

	plat = cJSON_GetObjectItemCaseSensitive(o, "platform");
	if (plat && !cJSON_IsNull(plat)) {
		char pw[256];

		if (!cJSON_IsObject(plat))
			return err_set(e, EX_USAGE_, "%s.platform: expected an object", where);
		snprintf(pw, sizeof(pw), "%s.platform", where);
		d->os = opt_str(plat, "os", pw, &bad, e);
		if (!bad)
			d->arch = opt_str(plat, "architecture", pw, &bad, e);
		if (!bad)
			d->variant = opt_str(plat, "variant", pw, &bad, e);
		if (bad) {
			oci_desc_free(d);
			return -1;
		}
	}

	ann = cJSON_GetObjectItemCaseSensitive(o, "annotations");
	if (ann && !cJSON_IsNull(ann)) {
		const cJSON *a;

		if (!cJSON_IsObject(ann)) {
			oci_desc_free(d);
			return err_set(e, EX_USAGE_, "%s.annotations: expected an object", where);
		}
		cJSON_ArrayForEach(a, ann) {
			if (!cJSON_IsString(a)) {
				oci_desc_free(d);
				return err_set(e, EX_USAGE_, "%s.annotations['%.200s']: expected "
				    "a string", where, a->string);
			}
		}
		d->annotations = cJSON_Duplicate(ann, 1);
	}
	d->media_type = xstrdup(cJSON_GetObjectItemCaseSensitive(o, "mediaType")->valuestring);
	return 0;
}

cJSON *
oci_desc_json(const struct oci_desc *d)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "mediaType", d->media_type ? d->media_type : "");
	cJSON_AddStringToObject(o, "digest", d->digest);
	json_add_i64(o, "size", d->size);
	if (d->os || d->arch || d->variant) {
		cJSON *p = cJSON_AddObjectToObject(o, "platform");

		if (d->arch)
			cJSON_AddStringToObject(p, "architecture", d->arch);
		if (d->os)
			cJSON_AddStringToObject(p, "os", d->os);
		if (d->variant)
			cJSON_AddStringToObject(p, "variant", d->variant);
	}
	if (d->annotations && cJSON_GetArraySize(d->annotations) > 0)
		cJSON_AddItemToObject(o, "annotations", cJSON_Duplicate(d->annotations, 1));
	return o;
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void
oci_desc_copy(struct oci_desc *dst, const struct oci_desc *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->media_type = dup_or_null(src->media_type);
	memcpy(dst->digest, src->digest, OCI_DIGEST_SIZE);
	dst->size = src->size;
	dst->os = dup_or_null(src->os);
	dst->arch = dup_or_null(src->arch);
	dst->variant = dup_or_null(src->variant);
	dst->annotations = src->annotations ? cJSON_Duplicate(src->annotations, 1) : NULL;
}

void
oci_desc_free(struct oci_desc *d)
{
	if (!d)
		return;
	free(d->media_type);
	free(d->os);
	free(d->arch);
	free(d->variant);
	cJSON_Delete(d->annotations);
	memset(d, 0, sizeof(*d));
}

/* ---- manifests ---------------------------------------------------------- */

/* The media type without parameters ("; charset=utf-8"), in out. */
static void
bare_type(const char *t, char *out, size_t outsz)
{
	size_t n = strcspn(t, "; \t");

	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, t, n);
	out[n] = '\0';
}

static int
is_schema1_type(const char *t)
{
	static const char v1[] = "application/vnd.docker.distribution.manifest.v1";

	return strncmp(t, v1, sizeof(v1) - 1) == 0;
}

/* Parse the descriptors of array arr (named key) into m->layers. */
static int
parse_desc_array(const cJSON *root, const char *key, struct oci_manifest *m, struct err *e)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, key), *it;
	size_t i = 0;

	if (!arr)
		return err_set(e, EX_USAGE_, "%s: missing", key);
	if (!cJSON_IsArray(arr))
		return err_set(e, EX_USAGE_, "%s: expected an array", key);
	m->nlayers = 0;
	m->layers = xcalloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*m->layers));
	cJSON_ArrayForEach(it, arr) {
		char where[64];

		snprintf(where, sizeof(where), "%s[%zu]", key, i++);
		if (oci_desc_parse(it, where, &m->layers[m->nlayers], e) != 0)
			return -1;
		m->nlayers++;
	}
	return 0;
}

static int
manifest_parse(const char *text, size_t len, const char *hint, struct oci_manifest *m,
    struct err *e)
{
	struct json_opts o = { "manifest", 0, 0 };
	const cJSON *v;
	const char *mt;
	char hintbuf[128];
	long long sv;

	if (!(m->json = json_parse(text, len, &o, NULL, e)))
		return -1;
	if (!cJSON_IsObject(m->json))
		return err_set(e, EX_USAGE_, "manifest: expected a JSON object");

	mt = json_str(m->json, "mediaType");
	v = cJSON_GetObjectItemCaseSensitive(m->json, "mediaType");
	if (v && !cJSON_IsString(v))
		return err_set(e, EX_USAGE_, "mediaType: expected a string");
	if (!mt && hint && *hint) {
		bare_type(hint, hintbuf, sizeof(hintbuf));
		mt = hintbuf;
	}

	v = cJSON_GetObjectItemCaseSensitive(m->json, "schemaVersion");
	if ((v && json_get_i64(v, &sv) == 0 && sv == 1) || (mt && is_schema1_type(mt)))
		return err_set(e, EX_USAGE_, "schema 1 manifests are not supported");
	if (!v)
		return err_set(e, EX_USAGE_, "schemaVersion: missing");
	if (!cJSON_IsNumber(v) || json_get_i64(v, &sv) != 0 || sv != 2)
		return err_set(e, EX_USAGE_, "schemaVersion: expected 2");

	/* A hint that names neither kind (application/json, octet-stream)
	 * says nothing: fall back to the shape. */
	if (mt && strcmp(mt, MT_OCI_MANIFEST) != 0 && strcmp(mt, MT_DOCKER_MANIFEST) != 0 &&
	    strcmp(mt, MT_OCI_INDEX) != 0 && strcmp(mt, MT_DOCKER_LIST) != 0) {
		if (json_str(m->json, "mediaType"))
			return err_set(e, EX_USAGE_, "mediaType: unsupported manifest media "
			    "type '%.200s'", mt);
		mt = NULL;
	}
	if (!mt)
		mt = cJSON_GetObjectItemCaseSensitive(m->json, "manifests") ? MT_OCI_INDEX :
		    MT_OCI_MANIFEST;
	m->media_type = xstrdup(mt);
	m->is_index = strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0;

	if (m->is_index)
		return parse_desc_array(m->json, "manifests", m, e);
	v = cJSON_GetObjectItemCaseSensitive(m->json, "config");
	if (!v)
		return err_set(e, EX_USAGE_, "config: missing");
	if (oci_desc_parse(v, "config", &m->config, e) != 0)
		return -1;
	return parse_desc_array(m->json, "layers", m, e);
}

int
oci_manifest_parse(const char *text, size_t len, const char *media_type_hint,
    struct oci_manifest *m, struct err *e)
{
	memset(m, 0, sizeof(*m));
	if (manifest_parse(text, len, media_type_hint, m, e) != 0) {
		oci_manifest_free(m);
		return -1;
	}
	return 0;
}

void
oci_manifest_free(struct oci_manifest *m)
{
	size_t i;

	if (!m)
		return;
	free(m->media_type);
	oci_desc_free(&m->config);
	if (m->layers)
		for (i = 0; i < m->nlayers; i++)
			oci_desc_free(&m->layers[i]);
	free(m->layers);
	cJSON_Delete(m->json);
	memset(m, 0, sizeof(*m));
}

/* ---- the layout -------------------------------------------------------- */

static int
check_layout_file(const char *dir, struct err *e)
{
	char *path = xasprintf("%s/oci-layout", dir);
	const cJSON *v;
	cJSON *j;
	struct stat st;

	if (stat(path, &st) != 0) {
		int saved = errno;

		free(path);
		if (saved == ENOENT && stat(dir, &st) != 0)
			return err_set(e, EX_USAGE_, "no OCI layout at '%s': %s", dir,
			    strerror(errno));
		if (saved == ENOENT)
			return err_set(e, EX_USAGE_, "'%s' is not an OCI layout: it has "
			    "no 'oci-layout' file", dir);
		return err_set(e, EX_IOERR_, "cannot read '%s/oci-layout': %s", dir,
		    strerror(saved));
	}
	if (!(j = json_load(path, LAYOUT_FILE_MAX, 0, NULL, e))) {
		free(path);
		return -1;
	}
	v = cJSON_GetObjectItemCaseSensitive(j, "imageLayoutVersion");
	if (!cJSON_IsObject(j) || !cJSON_IsString(v)) {
		err_set(e, EX_USAGE_, "%s: imageLayoutVersion: missing", path);
	} else if (strcmp(v->valuestring, LAYOUT_VERSION) != 0) {
		err_set(e, EX_USAGE_, "%s: imageLayoutVersion is '%.100s', expected '"
		    LAYOUT_VERSION "'", path, v->valuestring);
	} else {
		cJSON_Delete(j);
		free(path);
		return 0;
	}
	cJSON_Delete(j);
	free(path);
	return -1;
}

/* Load and check index.json into l->index. */
static int
load_index(struct oci_layout *l, struct err *e)
{
	char *path = xasprintf("%s/index.json", l->dir);
	struct json_src src;
	const cJSON *v, *it;
	long long sv;
	size_t i = 0;
	int rc = -1;

	if (!(l->index = json_load(path, INDEX_MAX, 0, &src, e))) {
		free(path);
		return -1;
	}
	v = cJSON_GetObjectItemCaseSensitive(l->index, "schemaVersion");
	if (!cJSON_IsObject(l->index)) {
		err_set(e, EX_USAGE_, "%s: expected a JSON object", path);
		goto out;
	}
	if (!v || json_get_i64(v, &sv) != 0 || sv != 2) {
		err_set(e, EX_USAGE_, "%s: schemaVersion: expected 2", path);
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(l->index, "manifests");
	if (!cJSON_IsArray(v)) {
		err_set(e, EX_USAGE_, "%s: manifests: %s", path, v ? "expected an array" :
		    "missing");
		goto out;
	}
	cJSON_ArrayForEach(it, v) {
		struct oci_desc d;
		char where[64], loc[4200];

		snprintf(where, sizeof(where), "manifests[%zu]", i++);
		if (oci_desc_parse(it, where, &d, e) != 0) {
			json_where(&src, it, loc, sizeof(loc));
			err_prefix(e, "%s", loc);
			goto out;
		}
		oci_desc_free(&d);
	}
	rc = 0;
out:
	json_src_free(&src);
	free(path);
	if (rc != 0) {
		cJSON_Delete(l->index);
		l->index = NULL;
	}
	return rc;
}

int
oci_layout_open(struct oci_layout *l, const char *dir, struct err *e)
{
	memset(l, 0, sizeof(*l));
	if (check_layout_file(dir, e) != 0)
		return -1;
	l->dir = xstrdup(dir);
	if (load_index(l, e) != 0) {
		oci_layout_close(l);
		return -1;
	}
	return 0;
}

/*
 * A file of a staged layout: written in place and not synced (nobody
 * reads the layout before oci_layout_sync()), with the mode atomic_write
 * gives.
 */
static int
write_staged(const char *path, const void *data, size_t len, struct err *e)
{
	const char *p = data;
	int fd, saved;
	ssize_t n;

	/* Never through a hard link (a blob linked from the cache). */
	if (unlink(path) != 0 && errno != ENOENT)
		return err_set(e, EX_IOERR_, "cannot replace '%s': %s", path, strerror(errno));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_set(e, EX_IOERR_, "cannot create '%s': %s", path, strerror(errno));
	if (fchmod(fd, 0644) != 0)
		goto bad;
	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto bad;
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) != 0) {
		fd = -1;
		goto bad;
	}
	return 0;
bad:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(path);
	return err_set(e, EX_IOERR_, "cannot write '%s': %s", path, strerror(saved ? saved : EIO));
}

static int
write_layout_file(const struct oci_layout *l, const char *path, const void *data, size_t len,
    struct err *e)
{
	return l->staged ? write_staged(path, data, len, e) : atomic_write(path, data, len, 0644, e);
}

static int
write_json_file(const struct oci_layout *l, const char *name, const cJSON *j, struct err *e)
{
	char *path = xasprintf("%s/%s", l->dir, name), *text = json_print(j);
	int rc = write_layout_file(l, path, text, strlen(text), e);

	free(text);
	free(path);
	return rc;
}

static int layout_create(struct oci_layout *l, const char *dir, int staged, struct err *e);

int
oci_layout_create(struct oci_layout *l, const char *dir, struct err *e)
{
	return layout_create(l, dir, 0, e);
}

int
oci_layout_create_staged(struct oci_layout *l, const char *dir, struct err *e)
{
	return layout_create(l, dir, 1, e);
}

static int
layout_create(struct oci_layout *l, const char *dir, int staged, struct err *e)
{
	struct oci_layout w;
	char *blobs = xasprintf("%s/blobs/sha256", dir);
	char *index = xasprintf("%s/index.json", dir);
	char *layout = xasprintf("%s/oci-layout", dir);
	int rc = -1;

	memset(l, 0, sizeof(*l));
	memset(&w, 0, sizeof(w));
	w.dir = (char *)dir;
	w.staged = staged;
	if (mkdir_p(blobs, 0755, e) != 0)
		goto out;
	/* index.json first, oci-layout last: a layout whose oci-layout file
	 * exists is complete, even after a crash in here. */
	if (!path_exists(index)) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddNumberToObject(j, "schemaVersion", 2);
		cJSON_AddStringToObject(j, "mediaType", MT_OCI_INDEX);
		cJSON_AddArrayToObject(j, "manifests");
		rc = write_json_file(&w, "index.json", j, e);
		cJSON_Delete(j);
		if (rc != 0)
			goto out;
	}
	if (!path_exists(layout)) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "imageLayoutVersion", LAYOUT_VERSION);
		rc = write_json_file(&w, "oci-layout", j, e);
		cJSON_Delete(j);
		if (rc != 0)
			goto out;
	}
	rc = oci_layout_open(l, dir, e);
	l->staged = staged;
out:
	free(blobs);
	free(index);
	free(layout);
	return rc;
}

void
oci_layout_close(struct oci_layout *l)
{
	if (!l)
		return;
	free(l->dir);
	cJSON_Delete(l->index);
	memset(l, 0, sizeof(*l));
}

/* ---- blobs ------------------------------------------------------------- */

char *
oci_blob_path(const struct oci_layout *l, const char *digest)
{
	/* Never build a path from an unchecked digest ("sha256:../../x"). */
	if (!digest_valid(digest))
		return NULL;
	return xasprintf("%s/blobs/sha256/%s", l->dir, digest + 7);
}

int
oci_blob_exists(const struct oci_layout *l, const char *digest)
{
	char *path = oci_blob_path(l, digest);
	struct stat st;
	int rc;

	if (!path)
		return 0;
	rc = stat(path, &st) == 0 && S_ISREG(st.st_mode);
	free(path);
	return rc;
}

static int
ensure_blob_dir(const struct oci_layout *l, struct err *e)
{
	char *d = xasprintf("%s/blobs/sha256", l->dir);
	int rc = mkdir_p(d, 0755, e);

	free(d);
	return rc;
}

int
oci_blob_put(const struct oci_layout *l, const void *p, size_t n,
    char digest_out[OCI_DIGEST_SIZE], struct err *e)
{
	struct stat st;
	char *path;
	int rc = 0;

	sha256_digest(p, n, digest_out);
	if (ensure_blob_dir(l, e) != 0)
		return -1;
	path = oci_blob_path(l, digest_out);
	/* Content addressed: a blob of the right size is already this one
	 * (oci_blob_verify catches the damaged ones). */
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size != n)
		rc = write_layout_file(l, path, p, n, e);
	free(path);
	return rc;
}

/* fsync path (a file, or a directory where the file system can). */
static int
sync_path(const char *path, int flags, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | flags), saved;

	if (fd < 0)
		return err_set(e, EX_IOERR_, "cannot open '%s': %s", path, strerror(errno));
	if (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP && errno != EROFS) {
		saved = errno;
		close(fd);
		return err_set(e, EX_IOERR_, "cannot sync '%s': %s", path, strerror(saved));
	}
	close(fd);
	return 0;
}

static int
fsync_dir(const char *dir, struct err *e)
{
	return sync_path(dir, O_DIRECTORY, e);
}

int
oci_layout_sync(struct oci_layout *l, struct err *e)
{
	static const char *const top[] = { "index.json", "oci-layout", NULL };
	char *blobs = xasprintf("%s/blobs/sha256", l->dir), *p;
	struct dirent *de;
	DIR *d;
	size_t i;
	int rc = 0;

	if (!(d = opendir(blobs))) {
		rc = err_set(e, EX_IOERR_, "cannot open '%s': %s", blobs, strerror(errno));
		goto out;
	}
	while (rc == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s", blobs, de->d_name);
		rc = sync_path(p, 0, e);
		free(p);
	}
	closedir(d);
	for (i = 0; rc == 0 && top[i]; i++) {
		p = xasprintf("%s/%s", l->dir, top[i]);
		rc = sync_path(p, 0, e);
		free(p);
	}
	if (rc == 0)
		rc = sync_path(blobs, O_DIRECTORY, e);
	if (rc == 0) {
		p = xasprintf("%s/blobs", l->dir);
		rc = sync_path(p, O_DIRECTORY, e);
		free(p);
	}
	if (rc == 0)
		rc = sync_path(l->dir, O_DIRECTORY, e);
	if (rc == 0)
		l->staged = 0;
out:
	free(blobs);
	return rc;
}

int
oci_blob_adopt(const struct oci_layout *l, const char *tmp_path, const char *digest,
    struct err *e)
{
	char *path, *dir;
	int fd, rc;

	if (!digest_valid(digest))
		return err_set(e, EX_INTERNAL, "cannot store '%s' as a blob: '%.200s' is "
		    "not a valid sha256 digest", tmp_path, digest ? digest : "(null)");
	if (ensure_blob_dir(l, e) != 0)
		return -1;
	/* The content must be on disk before its name is. */
	if ((fd = open(tmp_path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(e, EX_IOERR_, "cannot open '%s': %s", tmp_path, strerror(errno));
	if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
		int saved = errno;

		close(fd);
		return err_set(e, EX_IOERR_, "cannot sync '%s': %s", tmp_path,
		    strerror(saved));
	}
	close(fd);
	path = oci_blob_path(l, digest);
	if (rename(tmp_path, path) != 0) {
		err_set(e, EX_IOERR_, "cannot move '%s' to '%s': %s", tmp_path, path,
		    strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	dir = xasprintf("%s/blobs/sha256", l->dir);
	rc = fsync_dir(dir, e);
	free(dir);
	return rc;
}

/* " (label)" or "" for messages. */
static void
label_fmt(char *out, size_t outsz, const char *label)
{
	if (label && *label)
		snprintf(out, outsz, " (%s)", label);
	else
		out[0] = '\0';
}

/* Open blob digest for reading, with the messages a layout reader needs. */
static int
blob_open(const struct oci_layout *l, const char *digest, const char *label,
    char **pathp, struct err *e)
{
	char lb[256], *path;
	int fd;

	label_fmt(lb, sizeof(lb), label);
	if (!(path = oci_blob_path(l, digest)))
		return err_set(e, EX_USAGE_, "'%.200s'%s is not a valid sha256 digest",
		    digest ? digest : "(null)", lb);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			err_set(e, EX_IOERR_, "blob %s%s is missing from '%s'", digest, lb,
			    l->dir);
		else
			err_set(e, EX_IOERR_, "cannot open blob '%s'%s: %s", path, lb,
			    strerror(errno));
		free(path);
		return -1;
	}
	*pathp = path;
	return fd;
}

static int
size_mismatch(struct err *e, const char *digest, const char *label, long long got,
    long long want)
{
	char lb[256];

	label_fmt(lb, sizeof(lb), label);
	return err_set(e, EX_IOERR_, "size mismatch for %s%s: blob has %lld bytes, "
	    "descriptor says %lld", digest, lb, got, want);
}

static int
digest_mismatch(struct err *e, const char *digest, const char *label, const char *got)
{
	char lb[256];

	label_fmt(lb, sizeof(lb), label);
	return err_set(e, EX_IOERR_, "digest mismatch for %s%s: content hashes to %s",
	    digest, lb, got);
}

static char *
blob_read(const struct oci_layout *l, const char *digest, long long size, size_t max,
    size_t *len, const char *label, struct err *e)
{
	char got[OCI_DIGEST_SIZE], lb[256], *path, *data;
	struct stat st;
	size_t n;
	int fd;

	if ((fd = blob_open(l, digest, label, &path, e)) < 0)
		return NULL;
	label_fmt(lb, sizeof(lb), label);
	if (fstat(fd, &st) != 0) {
		err_set(e, EX_IOERR_, "cannot read '%s': %s", path, strerror(errno));
		goto fail;
	}
	if (size >= 0 && (long long)st.st_size != size) {
		size_mismatch(e, digest, label, (long long)st.st_size, size);
		goto fail;
	}
	if (max && (unsigned long long)st.st_size > max) {
		err_set(e, EX_USAGE_, "blob %s%s is %lld bytes, more than the %zu-byte limit",
		    digest, lb, (long long)st.st_size, max);
		goto fail;
	}
	if (!(data = json_slurp_fd(fd, path, max, &n, e)))
		goto fail;
	close(fd);
	free(path);
	if (size >= 0 && (long long)n != size) {
		free(data);
		size_mismatch(e, digest, label, (long long)n, size);
		return NULL;
	}
	sha256_digest(data, n, got);
	if (strcmp(got, digest) != 0) {
		free(data);
		digest_mismatch(e, digest, label, got);
		return NULL;
	}
	if (len)
		*len = n;
	return data;
fail:
	close(fd);
	free(path);
	return NULL;
}

char *
oci_blob_read(const struct oci_layout *l, const char *digest, long long size,
    size_t max, size_t *len, struct err *e)
{
	return blob_read(l, digest, size, max, len, NULL, e);
}

static int
blob_verify(const struct oci_layout *l, const char *digest, long long size,
    const char *label, struct err *e)
{
	char got[OCI_DIGEST_SIZE], *path;
	struct stat st;
	long long n;
	int fd, rc;

	if ((fd = blob_open(l, digest, label, &path, e)) < 0)
		return -1;
	/* A wrong size is known without reading a byte. */
	if (fstat(fd, &st) == 0 && size >= 0 && (long long)st.st_size != size) {
		close(fd);
		free(path);
		return size_mismatch(e, digest, label, (long long)st.st_size, size);
	}
	rc = sha256_fd(fd, path, got, &n, e);
	close(fd);
	free(path);
	if (rc != 0)
		return -1;
	if (size >= 0 && n != size)
		return size_mismatch(e, digest, label, n, size);
	if (strcmp(got, digest) != 0)
		return digest_mismatch(e, digest, label, got);
	return 0;
}

int
oci_blob_verify(const struct oci_layout *l, const char *digest, long long size, struct err *e)
{
	return blob_verify(l, digest, size, NULL, e);
}

/* ---- index.json ---------------------------------------------------------- */

static const char *
ref_name_of(const cJSON *entry)
{
	return json_str(cJSON_GetObjectItemCaseSensitive(entry, "annotations"), ANN_REF_NAME);
}

static cJSON *
index_manifests(const struct oci_layout *l)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(l->index, "manifests");

	return cJSON_IsArray(v) ? v : NULL;
}

/* "t1, t2" (or "none"), for messages. */
static char *
tag_list(const cJSON *arr)
{
	struct buf b;
	const cJSON *it;
	const char *t;

	buf_init(&b, 600);
	cJSON_ArrayForEach(it, arr) {
		if (!(t = ref_name_of(it)))
			continue;
		if ((b.len ? buf_adds(&b, ", ") : 0) != 0 || buf_addf(&b, "'%s'", t) != 0) {
			buf_adds(&b, "...");
			break;
		}
	}
	if (b.len == 0)
		buf_adds(&b, "none");
	return buf_detach(&b, NULL);
}

int
oci_layout_find(const struct oci_layout *l, const char *ref, struct oci_desc *out, struct err *e)
{
	const cJSON *arr = index_manifests(l), *it, *hit = NULL;
	int n = 0, total = arr ? cJSON_GetArraySize(arr) : 0;
	char *tags;

	memset(out, 0, sizeof(*out));
	if (!ref) {
		if (total == 1)
			return oci_desc_parse(cJSON_GetArrayItem(arr, 0), "manifests[0]", out, e);
		if (total == 0)
			return err_set(e, EX_USAGE_, "'%s' holds no image", l->dir);
		tags = tag_list(arr);
		err_set(e, EX_USAGE_, "'%s' holds %d manifests: name one by tag or digest "
		    "(tags: %s)", l->dir, total, tags);
		free(tags);
		return -1;
	}
	if (strncmp(ref, "sha256:", 7) == 0) {
		if (!digest_valid(ref))
			return err_set(e, EX_USAGE_, "'%.200s' is not a valid sha256 digest", ref);
		cJSON_ArrayForEach(it, arr) {
			if (strcmp(json_str(it, "digest") ? json_str(it, "digest") : "", ref) == 0) {
				hit = it;
				break;
			}
		}
		if (!hit)
			return err_set(e, EX_USAGE_, "no manifest %s in '%s'", ref, l->dir);
		return oci_desc_parse(hit, "manifest", out, e);
	}
	cJSON_ArrayForEach(it, arr) {
		const char *t = ref_name_of(it);

		if (t && strcmp(t, ref) == 0) {
			if (!hit)
				hit = it;
			n++;
		}
	}
	if (n > 1)
		return err_set(e, EX_USAGE_, "tag '%.200s' names %d manifests in '%s/index.json'",
		    ref, n, l->dir);
	if (!hit) {
		tags = tag_list(arr);
		err_set(e, EX_USAGE_, "no tag '%.200s' in '%s' (tags: %s)", ref, l->dir, tags);
		free(tags);
		return -1;
	}
	return oci_desc_parse(hit, "manifest", out, e);
}

void
oci_index_add(struct oci_layout *l, const struct oci_desc *d, const char *ref_name)
{
	cJSON *arr, *entry, *ann, *it;
	int i = 0;

	if (!l->index)
		l->index = cJSON_CreateObject();
	if (!(arr = index_manifests(l))) {
		cJSON_DeleteItemFromObjectCaseSensitive(l->index, "manifests");
		arr = cJSON_AddArrayToObject(l->index, "manifests");
	}
	entry = oci_desc_json(d);
	if (ref_name) {
		if (!(ann = cJSON_GetObjectItemCaseSensitive(entry, "annotations")))
			ann = cJSON_AddObjectToObject(entry, "annotations");
		json_set(ann, ANN_REF_NAME, cJSON_CreateString(ref_name));
	} else {
		ref_name = ref_name_of(entry);
	}
	/* A tag names one manifest: replace its entry in place.  Untagged,
	 * the same digest is not listed twice. */
	cJSON_ArrayForEach(it, arr) {
		const char *t = ref_name_of(it), *dg = json_str(it, "digest");

		if (ref_name ? t && strcmp(t, ref_name) == 0 :
		    !t && dg && strcmp(dg, d->digest) == 0) {
			cJSON_ReplaceItemInArray(arr, i, entry);
			return;
		}
		i++;
	}
	cJSON_AddItemToArray(arr, entry);
}

int
oci_index_write(const struct oci_layout *l, struct err *e)
{
	cJSON *out = cJSON_CreateObject(), *arr = index_manifests(l);
	const cJSON *it;
	int rc;

	/* Fixed key order, so the same index gives the same bytes. */
	cJSON_AddNumberToObject(out, "schemaVersion", 2);
	cJSON_AddStringToObject(out, "mediaType", MT_OCI_INDEX);
	cJSON_AddItemToObject(out, "manifests", arr ? cJSON_Duplicate(arr, 1) :
	    cJSON_CreateArray());
	if (l->index)
		cJSON_ArrayForEach(it, l->index) {
			if (strcmp(it->string, "schemaVersion") != 0 &&
			    strcmp(it->string, "mediaType") != 0 &&
			    strcmp(it->string, "manifests") != 0)
				cJSON_AddItemToObject(out, it->string, cJSON_Duplicate(it, 1));
		}
	rc = write_json_file(l, "index.json", out, e);
	cJSON_Delete(out);
	return rc;
}

/* ---- checking an image ------------------------------------------------- */

/* where: "" for the top manifest, "manifests[1]" and so on inside an index. */
static void
label_at(char *out, size_t outsz, const char *where, const char *what)
{
	snprintf(out, outsz, "%s%s%s", where, *where ? " " : "", what);
}

static int
image_check(const struct oci_layout *l, const struct oci_desc *d, const char *where,
    int depth, struct oci_manifest *m, struct err *e)
{
	char *text, lb[300];
	size_t len, i, present = 0;
	int rc = 0;

	memset(m, 0, sizeof(*m));
	label_at(lb, sizeof(lb), where, "manifest");
	if (depth > INDEX_DEPTH_MAX)
		return err_set(e, EX_USAGE_, "%s %s: indexes nested more than %d deep", lb,
		    d->digest, INDEX_DEPTH_MAX);
	if (!(text = blob_read(l, d->digest, d->size, MANIFEST_MAX, &len, lb, e)))
		return -1;
	if (oci_manifest_parse(text, len, d->media_type, m, e) != 0) {
		free(text);
		return err_prefix(e, "%s %s", lb, d->digest);
	}
	free(text);
	if (m->is_index) {
		for (i = 0; i < m->nlayers && rc == 0; i++) {
			struct oci_manifest sub;

			if (!oci_blob_exists(l, m->layers[i].digest))
				continue;
			present++;
			snprintf(lb, sizeof(lb), "%s%smanifests[%zu]", where, *where ? " " : "", i);
			rc = image_check(l, &m->layers[i], lb, depth + 1, &sub, e);
			oci_manifest_free(&sub);
		}
		if (rc == 0 && present == 0 && m->nlayers > 0)
			rc = err_set(e, EX_IOERR_, "none of the %zu manifests of index %s is "
			    "in '%s'", m->nlayers, d->digest, l->dir);
	} else {
		label_at(lb, sizeof(lb), where, "config");
		rc = blob_verify(l, m->config.digest, m->config.size, lb, e);
		for (i = 0; i < m->nlayers && rc == 0; i++) {
			char what[32];

			snprintf(what, sizeof(what), "layers[%zu]", i);
			label_at(lb, sizeof(lb), where, what);
			rc = blob_verify(l, m->layers[i].digest, m->layers[i].size, lb, e);
		}
	}
	if (rc != 0)
		oci_manifest_free(m);
	return rc;
}

int
oci_image_check(const struct oci_layout *l, const struct oci_desc *d,
    struct oci_manifest *m, struct err *e)
{
	struct oci_manifest tmp;
	int rc;

	if (!digest_valid(d->digest))
		return err_set(e, EX_USAGE_, "'%.200s' is not a valid sha256 digest", d->digest);
	rc = image_check(l, d, "", 0, m ? m : &tmp, e);
	if (rc == 0 && !m)
		oci_manifest_free(&tmp);
	return rc;
}
