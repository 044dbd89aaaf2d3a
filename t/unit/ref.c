/* Image references: Docker's defaults, hosts, tags, digests, bad input. */
#include <stdlib.h>
#include <string.h>

#include "oci/ref.h"
#include "tap.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct good {
	const char *in, *registry, *repository, *tag, *digest, *full;
};

static const struct good goods[] = {
	{ "alpine", "docker.io", "library/alpine", NULL, NULL, "docker.io/library/alpine" },
	{ "alpine:3.19", "docker.io", "library/alpine", "3.19", NULL, "docker.io/library/alpine:3.19" },
	{ "team/app", "docker.io", "team/app", NULL, NULL, "docker.io/team/app" },
	{ "docker.io/alpine", "docker.io", "library/alpine", NULL, NULL, "docker.io/library/alpine" },
	{ "index.docker.io/library/alpine:edge", "docker.io", "library/alpine", "edge", NULL,
	  "docker.io/library/alpine:edge" },
	{ "localhost/app", "localhost", "app", NULL, NULL, "localhost/app" },
	{ "localhost:5000/app:v1", "localhost:5000", "app", "v1", NULL, "localhost:5000/app:v1" },
	{ "127.0.0.1:5000/a/b/c:x_Y.z-1", "127.0.0.1:5000", "a/b/c", "x_Y.z-1", NULL,
	  "127.0.0.1:5000/a/b/c:x_Y.z-1" },
	{ "Registry.Example.COM/app", "registry.example.com", "app", NULL, NULL,
	  "registry.example.com/app" },
	{ "[::1]:5000/app:v1", "[::1]:5000", "app", "v1", NULL, "[::1]:5000/app:v1" },
	{ "ghcr.io/o/app@sha256:" D64, "ghcr.io", "o/app", NULL, "sha256:" D64,
	  "ghcr.io/o/app@sha256:" D64 },
	{ "ghcr.io/o/app:v2@sha256:" D64, "ghcr.io", "o/app", "v2", "sha256:" D64,
	  "ghcr.io/o/app:v2@sha256:" D64 },
	{ "reg.example:443/my-app__x.y/z---w:latest", "reg.example:443", "my-app__x.y/z---w", "latest",
	  NULL, "reg.example:443/my-app__x.y/z---w:latest" },
	{ "localhost:5000", "docker.io", "library/localhost", "5000", NULL,
	  "docker.io/library/localhost:5000" },
};

struct bad {
	const char *in, *why;
};

static const struct bad bads[] = {
	{ "", "empty" },
	{ "App", "lowercase" },
	{ "reg.example/Team/app", "lowercase" },
	{ "app:", "empty tag" },
	{ "app:-x", "tag must be" },
	{ "app:a/b", "invalid" },
	{ "app@sha256:abc", "digest must be" },
	{ "app@md5:" D64, "digest must be" },
	{ "app@sha256:" D64 "@sha256:" D64, "more than one" },
	{ "a//b", "empty path component" },
	{ "a/b/", "empty path component" },
	{ "reg.example/", "empty" },
	{ "reg.example:99999/app", "invalid registry host" },
	{ "reg.example:x/app", "invalid registry host" },
	{ "-reg.example/app", "invalid registry host" },
	{ "app-", "start and end" },
	{ "a_.b", "start and end" },
	{ "a b", "space" },
	{ "https://reg.example/app", "URL scheme" },
	{ "reg.example/app:v1\n", "control" },
	{ ":tag", "no repository" },
	{ "@sha256:" D64, "no repository" },
};

int
main(void)
{
	struct image_ref r, c;
	struct err e;
	char *s, big[5000];
	size_t i;

	for (i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		const struct good *g = &goods[i];

		memset(&e, 0, sizeof(e));
		if (!ok(ref_parse(g->in, &r, &e) == 0, "parse '%s'", g->in)) {
			printf("#   %s\n", e.msg);
			continue;
		}
		is_str(r.registry, g->registry, "'%s' registry", g->in);
		is_str(r.repository, g->repository, "'%s' repository", g->in);
		is_str(r.tag, g->tag, "'%s' tag", g->in);
		is_str(r.digest, g->digest, "'%s' digest", g->in);
		s = ref_string(&r);
		is_str(s, g->full, "'%s' full name", g->in);
		free(s);
		ref_free(&r);
	}

	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		char name[64];
		size_t k;

		/* control characters would break the TAP line */
		snprintf(name, sizeof(name), "%s", bads[i].in);
		for (k = 0; name[k]; k++)
			if ((unsigned char)name[k] < ' ')
				name[k] = '?';
		memset(&e, 0, sizeof(e));
		ok(ref_parse(bads[i].in, &r, &e) < 0 && e.code == EX_USAGE_, "refuse '%s'", name);
		like(e.msg, bads[i].why, "'%s': message says why", name);
		ok(r.registry == NULL && r.repository == NULL && r.tag == NULL, "nothing left allocated");
	}

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ok(ref_parse(big, &r, &e) < 0, "a 5000-character reference is refused");
	memset(big, 'a', 300);
	big[300] = '\0';
	ok(ref_parse(big, &r, &e) < 0 && strstr(e.msg, "255"), "a 300-character repository is refused");
	ok(ref_parse(NULL, &r, &e) < 0, "NULL is refused");

	/* Helpers. */
	ok(ref_parse("alpine", &r, &e) == 0, "parse alpine again");
	is_str(ref_api_host(&r), "registry-1.docker.io", "docker.io talks to registry-1.docker.io");
	s = ref_with_digest(&r, "sha256:" D64);
	is_str(s, "docker.io/library/alpine@sha256:" D64, "ref_with_digest");
	free(s);
	s = ref_name(&r);
	is_str(s, "docker.io/library/alpine", "ref_name");
	free(s);
	ref_copy(&c, &r);
	ref_free(&r);
	is_str(c.repository, "library/alpine", "ref_copy is deep");
	ref_free(&c);
	ok(ref_parse("localhost:5000/x", &r, &e) == 0, "parse localhost:5000/x");
	is_str(ref_api_host(&r), "localhost:5000", "other registries are their own API host");
	ref_free(&r);

	ok(ref_tag_valid("v1.2.3-rc_1"), "tag v1.2.3-rc_1");
	ok(!ref_tag_valid(".x"), "tag .x refused");
	memset(big, 'a', 129);
	big[129] = '\0';
	ok(!ref_tag_valid(big), "129-character tag refused");
	big[128] = '\0';
	ok(ref_tag_valid(big), "128-character tag accepted");
	ok(ref_repository_valid("a/b-c/d__e"), "repository a/b-c/d__e");
	ok(!ref_repository_valid("a/B"), "repository a/B refused");
	return done_testing();
}
