/*
 * oci: digests, descriptors, manifests and the OCI image layout on disk.
 *
 * A layout is a directory holding "oci-layout", "index.json" and
 * blobs/sha256/<hex> (OCI image-spec, image-layout.md).  Blobs are content
 * addressed and written atomically (temp file, fsync, rename), so a
 * crashed writer leaves no half blob under its digest.  Readers verify
 * what they read against its digest and size.  index.json is rewritten
 * atomically; its manifests keep their order, and a tag
 * (org.opencontainers.image.ref.name) names at most one of them.
 *
 * Ownership: struct oci_layout owns dir and index; struct oci_desc and
 * struct oci_manifest own their strings and JSON (free with the _free()
 * functions).  Digests are "sha256:" + 64 lowercase hex digits.
 */
#ifndef CI_OCI_H
#define CI_OCI_H

#include <stddef.h>
#include <stdint.h>
#include <cJSON.h>

#include "core/log.h"

#define OCI_DIGEST_SIZE 72	/* "sha256:" + 64 + NUL */

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define MT_OCI_LAYER_TAR "application/vnd.oci.image.layer.v1.tar"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"

#define ANN_REF_NAME "org.opencontainers.image.ref.name"

/* ---- sha256 ---------------------------------------------------------- */

struct sha256 {
	void *ctx;		/* libcrypto's EVP_MD_CTX; NULL: ours, below */
	uint32_t st[8];
	unsigned char buf[64];
	size_t n;		/* bytes in buf */
	unsigned long long total;
};

/*
 * Streaming (sha256.c): with the CPU's SHA extensions where it has them,
 * else libcrypto's.  Either way crypto_load() must have succeeded first
 * (core/crypto-load.h): called before, sha256_init() says so and aborts,
 * on any CPU.
 */
void sha256_init(struct sha256 *h);
void sha256_update(struct sha256 *h, const void *p, size_t n);
/* The same bytes into a and b: with the SHA extensions, and a and b
 * at the same place of a block, one message schedule serves both (1.6
 * times the speed of two updates).  The digests are those of two
 * sha256_update()s. */
void sha256_update2(struct sha256 *a, struct sha256 *b, const void *p, size_t n);
/* Writes "sha256:<hex>" into out and frees the context. */
void sha256_final(struct sha256 *h, char out[OCI_DIGEST_SIZE]);
/* One-shot: as the streaming ones, or before libcrypto is loaded (a
 * manifest, a config) in plain C on a CPU without the extensions. */
void sha256_digest(const void *p, size_t n, char out[OCI_DIGEST_SIZE]);
/* Digest and size of a file, streamed (one-shot as above); of what is
 * left of fd (name for messages). */
int sha256_fd(int fd, const char *name, char out[OCI_DIGEST_SIZE], long long *size,
    struct err *e);
int sha256_file(const char *path, char out[OCI_DIGEST_SIZE], long long *size, struct err *e);
/* For the tests: on 0 stop using the SHA extensions, on 1 use them if
 * the CPU has them, on -1 leave it; returns 1 when they are in use. */
int sha256_accel(int on);
/* 1 when d is a well-formed sha256 digest. */
int digest_valid(const char *d);

/* ---- descriptors and manifests ---------------------------------------- */

struct oci_desc {
	char *media_type;
	char digest[OCI_DIGEST_SIZE];
	long long size;
	char *os, *arch, *variant;	/* platform, for index entries; may be NULL */
	cJSON *annotations;		/* object or NULL */
};

struct oci_manifest {
	char *media_type;		/* of the manifest itself */
	int is_index;			/* an image index / manifest list */
	struct oci_desc config;		/* images only */
	struct oci_desc *layers;	/* images: layers; indexes: manifests */
	size_t nlayers;
	cJSON *json;			/* the parsed document */
};

/* Parse a descriptor object; where names it in messages ("layers[2]"). */
int oci_desc_parse(const cJSON *o, const char *where, struct oci_desc *d, struct err *e);
/* A descriptor object (mediaType, digest, size, platform, annotations). */
cJSON *oci_desc_json(const struct oci_desc *d);
void oci_desc_copy(struct oci_desc *dst, const struct oci_desc *src);
void oci_desc_free(struct oci_desc *d);

/*
 * Parse an image manifest or an index (OCI or Docker schema 2), by its
 * mediaType field or, when absent, by its shape; refuses schema 1, bad
 * digests, negative sizes, missing fields (code EX_USAGE_, or the
 * caller's).  media_type_hint (a Content-Type) may be NULL.
 */
int oci_manifest_parse(const char *text, size_t len, const char *media_type_hint,
    struct oci_manifest *m, struct err *e);
void oci_manifest_free(struct oci_manifest *m);

/* ---- the layout -------------------------------------------------------- */

struct oci_layout {
	char *dir;
	cJSON *index;			/* index.json */
	int staged;			/* files written in place, not synced */
};

/* Open an existing layout: oci-layout must say imageLayoutVersion 1.0.0 and
 * index.json must parse (errors name the file). */
int oci_layout_open(struct oci_layout *l, const char *dir, struct err *e);
/* Open, or create an empty one (directories, oci-layout, index.json). */
int oci_layout_create(struct oci_layout *l, const char *dir, struct err *e);
/* The same, for a layout being put together in a directory nobody reads
 * yet: index.json, oci-layout and blobs stored with oci_blob_put() are
 * written in place and not synced, until oci_layout_sync() syncs every
 * file and directory of it (once, before it is renamed into use). */
int oci_layout_create_staged(struct oci_layout *l, const char *dir, struct err *e);
int oci_layout_sync(struct oci_layout *l, struct err *e);
void oci_layout_close(struct oci_layout *l);

/* "DIR/blobs/sha256/<hex>", fresh string; NULL when digest is not valid
 * (a path is never built from an unchecked digest). */
char *oci_blob_path(const struct oci_layout *l, const char *digest);
int oci_blob_exists(const struct oci_layout *l, const char *digest);
/* Store bytes as a blob; digest_out receives its digest. */
int oci_blob_put(const struct oci_layout *l, const void *p, size_t n,
    char digest_out[OCI_DIGEST_SIZE], struct err *e);
/* Move a finished temp file (in the same file system) in as blob digest. */
int oci_blob_adopt(const struct oci_layout *l, const char *tmp_path, const char *digest,
    struct err *e);
/* Read a small blob (manifest, config) and verify digest and size
 * (size < 0: unknown; max 0: no limit).  Returns a NUL-terminated fresh
 * buffer.  A missing or damaged blob is EX_IOERR_ ("blob sha256:... is
 * missing from 'DIR'", "digest mismatch for sha256:...: content hashes
 * to sha256:...", "size mismatch for ..."). */
char *oci_blob_read(const struct oci_layout *l, const char *digest, long long size,
    size_t max, size_t *len, struct err *e);
/* Stream-verify a blob's digest and size. */
int oci_blob_verify(const struct oci_layout *l, const char *digest, long long size, struct err *e);

/*
 * Find a manifest in index.json: by tag (ref.name annotation), by digest,
 * or (ref NULL) the only one.  Errors: no such tag (listing the tags there
 * are), several manifests and no ref.
 */
int oci_layout_find(const struct oci_layout *l, const char *ref, struct oci_desc *out, struct err *e);
/* Add or replace (by ref name, when given) an entry of index.json in memory. */
void oci_index_add(struct oci_layout *l, const struct oci_desc *d, const char *ref_name);
/* Write index.json atomically. */
int oci_index_write(const struct oci_layout *l, struct err *e);

/*
 * Check that everything an image needs is present and intact: the
 * manifest (and, for an index, each manifest it lists), the config and
 * every layer, digests and sizes verified.  Fills m when non-NULL.
 */
int oci_image_check(const struct oci_layout *l, const struct oci_desc *d,
    struct oci_manifest *m, struct err *e);

#endif
