/*
 * ref: image references, "[HOST[:PORT]/]REPO[:TAG][@sha256:HEX]".
 *
 * Parsing follows Docker's rules: the first path component is a registry
 * host when it contains a '.' or a ':' or is "localhost"; otherwise the
 * registry is docker.io, and a one-component repository on docker.io gets
 * "library/" in front ("alpine" is "docker.io/library/alpine").  The
 * repository is lowercase path components of [a-z0-9] joined by '.', '_',
 * '__' or '-' runs, separated by '/'; a tag is [A-Za-z0-9_][A-Za-z0-9_.-]
 * of at most 128 characters; a digest is "sha256:" and 64 lowercase hex
 * digits.  A reference with neither tag nor digest has tag NULL: callers
 * decide whether "latest" applies.
 *
 * Ownership: struct image_ref owns its strings (ref_free()).
 */
#ifndef CI_REF_H
#define CI_REF_H

#include "core/log.h"

#define REF_DOCKER_HUB "docker.io"
#define REF_DOCKER_HUB_API "registry-1.docker.io"
#define REF_MAX 4096

struct image_ref {
	char *registry;		/* "docker.io", "localhost:5000", "[::1]:5000" */
	char *repository;	/* "library/alpine", "team/app" */
	char *tag;		/* or NULL */
	char *digest;		/* "sha256:..." or NULL */
};

/*
 * Parse s into r.  Errors (code EX_USAGE_) say what is wrong and quote
 * the reference: "invalid reference 'App:1': repository must be lowercase".
 */
int ref_parse(const char *s, struct image_ref *r, struct err *e);

/* Parse a tag alone ("v1.2"); 1 when valid. */
int ref_tag_valid(const char *tag);
/* A repository path alone ("team/app"); 1 when valid. */
int ref_repository_valid(const char *repo);

/* The host to talk to: registry-1.docker.io for docker.io, else registry. */
const char *ref_api_host(const struct image_ref *r);

/*
 * The full name, fresh: "HOST/REPO" plus ":TAG" and "@DIGEST" when set.
 * Docker Hub names keep their "docker.io/" prefix, so every name printed
 * is unambiguous.
 */
char *ref_string(const struct image_ref *r);
/* "HOST/REPO", fresh. */
char *ref_name(const struct image_ref *r);
/* "HOST/REPO@DIGEST" for the given digest, fresh. */
char *ref_with_digest(const struct image_ref *r, const char *digest);

void ref_copy(struct image_ref *dst, const struct image_ref *src);
void ref_free(struct image_ref *r);

#endif
