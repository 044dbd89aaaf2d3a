/*
 * imgarchive: oci-archive and docker-archive tar files, reproducible.
 */
#include <archive.h>
#include <archive_entry.h>
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
#include "image/archive-load.h"
#include "image/archive.h"
#include "image/layer.h"

#define CHUNK (256u << 10)
#define SMALL_BLOB_MAX (16u << 20)

struct tw {
	struct archive *a;
	struct archive_entry *ae;
	struct outfile of;	/* the archive (core/fsutil.h) */
	int fd;
	const char *path;
	long long mtime;
	struct err *e;
	int failed;
};

static la_ssize_t
tw_out(struct archive *a, void *client, const void *buf, size_t n)
{
	struct tw *t = client;
	size_t off = 0;

	(void)a;
	/* A failure is recorded, not returned: libarchive in its fatal state
	 * leaks its writer on free (3.6), and every caller checks t->failed. */
	while (!t->failed && off < n) {
		ssize_t k = write(t->fd, (const char *)buf + off, n - off);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			err_set(t->e, EX_IOERR_, "cannot write '%s': %s", t->path,
			    strerror(errno));
			t->failed = 1;
			break;
		}
		off += (size_t)k;
	}
	return (la_ssize_t)n;
}

static int
tw_open(struct tw *t, const char *path, long long mtime, struct err *e)
{
	memset(t, 0, sizeof(*t));
	t->mtime = mtime;
	t->e = e;
	t->fd = -1;
	if (archive_load(e) < 0 || outfile_open(&t->of, path, 0644, e) < 0)
		return -1;
	t->fd = t->of.fd;
	t->path = t->of.path;
	t->a = archive_write_new();
	archive_write_set_format_pax_restricted(t->a);
	archive_write_set_bytes_per_block(t->a, 0);
	if (archive_write_open2(t->a, t, NULL, tw_out, NULL, NULL) != ARCHIVE_OK)
		return err_set(e, EX_INTERNAL, "libarchive: %s", archive_error_string(t->a));
	t->ae = archive_entry_new();
	return 0;
}

static int
tw_header(struct tw *t, const char *name, int dir, long long size)
{
	archive_entry_clear(t->ae);
	archive_entry_copy_pathname(t->ae, name);
	archive_entry_set_filetype(t->ae, dir ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(t->ae, dir ? 0755 : 0644);
	archive_entry_set_size(t->ae, dir ? 0 : size);
	archive_entry_set_mtime(t->ae, (time_t)t->mtime, 0);
	if (archive_write_header(t->a, t->ae) < ARCHIVE_WARN || t->failed) {
		if (!t->failed)
			err_set(t->e, EX_IOERR_, "cannot add '%s' to '%s': %s", name, t->path,
			    archive_error_string(t->a));
		return -1;
	}
	return 0;
}

static int
tw_dir(struct tw *t, const char *name)
{
	return tw_header(t, name, 1, 0);
}

static int
tw_bytes(struct tw *t, const char *name, const void *p, size_t n)
{
	if (tw_header(t, name, 0, (long long)n) < 0)
		return -1;
	if (n && (archive_write_data(t->a, p, n) != (la_ssize_t)n || t->failed)) {
		if (!t->failed)
			err_set(t->e, EX_IOERR_, "cannot write '%s': %s", t->path,
			    archive_error_string(t->a));
		return -1;
	}
	return 0;
}

static int
tw_file(struct tw *t, const char *name, const char *src)
{
	struct stat st;
	char *buf;
	long long done = 0;
	int fd = open(src, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0 || fstat(fd, &st) != 0) {
		if (fd >= 0)
			close(fd);
		return err_set(t->e, EX_IOERR_, "cannot read '%s': %s", src, strerror(errno));
	}
	if (tw_header(t, name, 0, (long long)st.st_size) < 0) {
		close(fd);
		return -1;
	}
	buf = xmalloc(CHUNK);
	while (done < (long long)st.st_size) {
		ssize_t n = read(fd, buf, CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = err_set(t->e, EX_IOERR_, "cannot read '%s': %s", src,
			    n < 0 ? strerror(errno) : "it shrank");
			break;
		}
		if (archive_write_data(t->a, buf, (size_t)n) != n || t->failed) {
			if (!t->failed)
				err_set(t->e, EX_IOERR_, "cannot write '%s': %s", t->path,
				    archive_error_string(t->a));
			rc = -1;
			break;
		}
		done += n;
	}
	free(buf);
	close(fd);
	return rc;
}

static int
tw_close(struct tw *t, int ok)
{
	int rc = ok ? 0 : -1;

	if (t->a) {
		if (ok && (archive_write_close(t->a) != ARCHIVE_OK || t->failed)) {
			if (!t->failed)
				err_set(t->e, EX_IOERR_, "cannot finish '%s': %s", t->path,
				    archive_error_string(t->a));
			rc = -1;
		}
		archive_write_free(t->a);
	}
	if (t->ae)
		archive_entry_free(t->ae);
	if (t->fd >= 0) {
		if (rc == 0)
			rc = outfile_commit(&t->of, t->e);
		else
			outfile_abort(&t->of);
	}
	t->a = NULL;
	t->ae = NULL;
	t->fd = -1;
	t->path = NULL;
	return rc;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
imgarchive_oci(const struct oci_layout *l, const char *path, long long mtime, struct err *e)
{
	char *blobdir = xasprintf("%s/blobs/sha256", l->dir), **names = NULL;
	size_t n = 0, i;
	struct tw t;
	DIR *d;
	struct dirent *de;
	int ok = 0;

	if (!(d = opendir(blobdir))) {
		err_set(e, EX_IOERR_, "cannot read '%s': %s", blobdir, strerror(errno));
		free(blobdir);
		return -1;
	}
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			names = strv_push(names, de->d_name);
			n++;
		}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	if (tw_open(&t, path, mtime, e) == 0 && tw_dir(&t, "blobs/") == 0 &&
	    tw_dir(&t, "blobs/sha256/") == 0) {
		ok = 1;
		for (i = 0; i < n && ok; i++) {
			char *src = xasprintf("%s/%s", blobdir, names[i]);
			char *name = xasprintf("blobs/sha256/%s", names[i]);

			ok = tw_file(&t, name, src) == 0;
			free(src);
			free(name);
		}
		if (ok) {
			char *idx = xasprintf("%s/index.json", l->dir);
			char *lay = xasprintf("%s/oci-layout", l->dir);

			ok = tw_file(&t, "index.json", idx) == 0 && tw_file(&t, "oci-layout", lay) == 0;
			free(idx);
			free(lay);
		}
	}
	strv_free(names);
	ok = tw_close(&t, ok) == 0;
	free(blobdir);
	return ok ? 0 : -1;
}

struct fdsink {
	int fd;
	const char *path;
};

static int
fd_sink(void *arg, const void *p, size_t n, struct err *e)
{
	struct fdsink *s = arg;
	size_t off = 0;

	while (off < n) {
		ssize_t k = write(s->fd, (const char *)p + off, n - off);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return err_set(e, EX_IOERR_, "cannot write '%s': %s", s->path, strerror(errno));
		}
		off += (size_t)k;
	}
	return 0;
}

/* Uncompress a layer blob into a fresh scratch file. */
static char *
uncompress_layer(const struct oci_layout *l, const struct oci_desc *d, const char *scratch,
    struct err *e)
{
	char *blob = oci_blob_path(l, d->digest), *tmp;
	struct fdsink s;
	int in, rc = 0;

	if (!blob) {
		err_set(e, EX_DOC, "bad layer digest '%s'", d->digest);
		return NULL;
	}
	tmp = xasprintf("%s/layerXXXXXX", scratch);
	s.fd = mkstemp(tmp);
	s.path = tmp;
	if (s.fd < 0) {
		err_set(e, EX_IOERR_, "cannot create a file in '%s': %s", scratch, strerror(errno));
		free(tmp);
		free(blob);
		return NULL;
	}
	in = open(blob, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		rc = err_set(e, EX_IOERR_, "cannot read '%s': %s", blob, strerror(errno));
	} else if (strstr(d->media_type, "zstd") && archive_load(e) < 0) {
		rc = -1;
	} else if (strstr(d->media_type, "zstd")) {
		struct archive *a = archive_read_new();
		struct archive_entry *ae;
		char *buf = xmalloc(CHUNK);

		archive_read_support_filter_zstd(a);
		archive_read_support_format_raw(a);
		if (archive_read_open_fd(a, in, CHUNK) != ARCHIVE_OK ||
		    archive_read_next_header(a, &ae) != ARCHIVE_OK) {
			rc = err_set(e, EX_DOC, "cannot read '%s': %s", blob, archive_error_string(a));
		} else {
			la_ssize_t n;

			while ((n = archive_read_data(a, buf, CHUNK)) > 0)
				if (fd_sink(&s, buf, (size_t)n, e) < 0) {
					rc = -1;
					break;
				}
			if (n < 0 && rc == 0)
				rc = err_set(e, EX_DOC, "cannot read '%s': %s", blob,
				    archive_error_string(a));
		}
		archive_read_free(a);
		free(buf);
	} else if (strstr(d->media_type, "gzip") || !strcmp(d->media_type, MT_DOCKER_LAYER)) {
		rc = gunzip_fd(in, fd_sink, &s, e);
		if (rc < 0)
			err_prefix(e, "layer '%s'", d->digest);
	} else {
		char *buf = xmalloc(CHUNK);
		ssize_t n;

		while ((n = read(in, buf, CHUNK)) > 0)
			if (fd_sink(&s, buf, (size_t)n, e) < 0) {
				rc = -1;
				break;
			}
		if (n < 0 && rc == 0)
			rc = err_set(e, EX_IOERR_, "cannot read '%s': %s", blob, strerror(errno));
		free(buf);
	}
	if (in >= 0)
		close(in);
	if (close(s.fd) != 0 && rc == 0)
		rc = err_set(e, EX_IOERR_, "cannot write '%s': %s", tmp, strerror(errno));
	free(blob);
	if (rc < 0) {
		unlink(tmp);
		free(tmp);
		return NULL;
	}
	return tmp;
}

int
imgarchive_docker(const struct oci_layout *l, const struct oci_desc *manifest,
    char *const *tags, size_t ntags, const char *path, const char *scratch_dir,
    long long mtime, struct err *e)
{
	struct oci_manifest m;
	char *text, *cfg_text = NULL, *mtext = NULL;
	size_t len, cfg_len = 0, i;
	cJSON *cfg = NULL, *ids, *top = NULL, *ent, *arr;
	struct tw t;
	int ok = 0;
	char **names = NULL;

	memset(&t, 0, sizeof(t));
	t.fd = -1;
	text = oci_blob_read(l, manifest->digest, manifest->size, SMALL_BLOB_MAX, &len, e);
	if (!text)
		return -1;
	if (oci_manifest_parse(text, len, manifest->media_type, &m, e) < 0) {
		free(text);
		return -1;
	}
	free(text);
	if (m.is_index) {
		oci_manifest_free(&m);
		return err_set(e, EX_USAGE_, "docker-archive needs an image, not an index");
	}
	cfg_text = oci_blob_read(l, m.config.digest, m.config.size, SMALL_BLOB_MAX, &cfg_len, e);
	if (!cfg_text)
		goto out;
	{
		struct json_opts o = { "config", 0, 0 };

		cfg = json_parse(cfg_text, cfg_len, &o, NULL, e);
	}
	if (!cfg)
		goto out;
	ids = json_path(cfg, "rootfs.diff_ids");
	if (!cJSON_IsArray(ids) || (size_t)cJSON_GetArraySize(ids) != m.nlayers) {
		err_set(e, EX_DOC, "the config's diff_ids do not match the manifest's layers");
		goto out;
	}
	/* manifest.json, as docker save writes it. */
	top = cJSON_CreateArray();
	ent = cJSON_CreateObject();
	cJSON_AddItemToArray(top, ent);
	{
		char *cname = xasprintf("%s.json", m.config.digest + 7);

		cJSON_AddStringToObject(ent, "Config", cname);
		free(cname);
	}
	arr = cJSON_AddArrayToObject(ent, "RepoTags");
	for (i = 0; i < ntags; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(tags[i]));
	arr = cJSON_AddArrayToObject(ent, "Layers");
	names = xcalloc(m.nlayers + 1, sizeof(*names));
	for (i = 0; i < m.nlayers; i++) {
		const cJSON *id = cJSON_GetArrayItem(ids, (int)i);

		if (!cJSON_IsString(id) || !digest_valid(id->valuestring)) {
			err_set(e, EX_DOC, "bad diff_id %zu in the config", i);
			goto out;
		}
		names[i] = xasprintf("%s/layer.tar", id->valuestring + 7);
		cJSON_AddItemToArray(arr, cJSON_CreateString(names[i]));
	}
	mtext = json_print(top);

	if (tw_open(&t, path, mtime, e) < 0)
		goto out;
	{
		/* Sorted: HEX.json and HEX/ directories, then manifest.json. */
		struct item {
			char *name;
			int kind;	/* 0 config, 1 layer dir, 2 layer tar, 3 manifest */
			size_t layer;
		} *items = xcalloc(2 * m.nlayers + 2, sizeof(*items));
		size_t nitems = 0, j, k;

		items[nitems].name = xasprintf("%s.json", m.config.digest + 7);
		items[nitems++].kind = 0;
		for (j = 0; j < m.nlayers; j++) {
			int dup = 0;

			for (k = 0; k < j; k++)
				if (!strcmp(names[k], names[j]))
					dup = 1;
			if (dup)
				continue;
			items[nitems].name = xstrndup(names[j], strlen(names[j]) - strlen("layer.tar"));
			items[nitems++].kind = 1;
			items[nitems].name = xstrdup(names[j]);
			items[nitems].kind = 2;
			items[nitems++].layer = j;
		}
		items[nitems].name = xstrdup("manifest.json");
		items[nitems++].kind = 3;
		for (j = 1; j < nitems; j++)
			for (k = j; k > 0 && strcmp(items[k - 1].name, items[k].name) > 0; k--) {
				struct item x = items[k];

				items[k] = items[k - 1];
				items[k - 1] = x;
			}
		ok = 1;
		for (j = 0; j < nitems && ok; j++) {
			switch (items[j].kind) {
			case 0:
				ok = tw_bytes(&t, items[j].name, cfg_text, cfg_len) == 0;
				break;
			case 1:
				ok = tw_dir(&t, items[j].name) == 0;
				break;
			case 2: {
				char *u = uncompress_layer(l, &m.layers[items[j].layer], scratch_dir, e);

				ok = u && tw_file(&t, items[j].name, u) == 0;
				if (u) {
					unlink(u);
					free(u);
				}
				break;
			}
			case 3:
				ok = tw_bytes(&t, items[j].name, mtext, strlen(mtext)) == 0;
				break;
			}
		}
		for (j = 0; j < nitems; j++)
			free(items[j].name);
		free(items);
	}
	ok = tw_close(&t, ok) == 0;
out:
	if (t.a || t.fd >= 0) {
		if (t.a)
			archive_write_free(t.a);
		if (t.ae)
			archive_entry_free(t.ae);
		if (t.fd >= 0)
			outfile_abort(&t.of);
	}
	strv_free(names);
	free(mtext);
	free(cfg_text);
	cJSON_Delete(cfg);
	cJSON_Delete(top);
	oci_manifest_free(&m);
	return ok ? 0 : -1;
}
