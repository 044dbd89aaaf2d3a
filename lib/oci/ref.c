#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/encode.h"
#include "oci/ref.h"

static int
is_lower_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*; why says what
 * is wrong when it is not. */
static int
component_valid(const char *s, size_t n, const char **why)
{
	size_t i = 0;

	if (n == 0) {
		*why = "empty path component";
		return 0;
	}
	while (i < n) {
		size_t run;

		if (!is_lower_alnum((unsigned char)s[i])) {
			if (isupper((unsigned char)s[i]))
				*why = "repository must be lowercase";
			else if (s[i] == '.' || s[i] == '_' || s[i] == '-')
				*why = "a path component must start and end with a letter or digit";
			else
				*why = "invalid character in repository";
			return 0;
		}
		while (i < n && is_lower_alnum((unsigned char)s[i]))
			i++;
		if (i == n)
			break;
		/* a separator: '.', '_', '__' or a run of '-' */
		run = 0;
		if (s[i] == '.') {
			run = 1;
		} else if (s[i] == '_') {
			run = (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
		} else if (s[i] == '-') {
			while (i + run < n && s[i + run] == '-')
				run++;
		} else {
			*why = isupper((unsigned char)s[i]) ? "repository must be lowercase" :
			    "invalid character in repository";
			return 0;
		}
		i += run;
		if (i >= n || !is_lower_alnum((unsigned char)s[i])) {
			*why = i < n && isupper((unsigned char)s[i]) ? "repository must be lowercase" :
			    "a path component must start and end with a letter or digit";
			return 0;
		}
	}
	return 1;
}

static int
repo_valid(const char *s, const char **why)
{
	const char *p = s;

	if (!*s) {
		*why = "empty repository";
		return 0;
	}
	if (strlen(s) > 255) {
		*why = "repository longer than 255 characters";
		return 0;
	}
	for (;;) {
		size_t n = strcspn(p, "/");

		if (!component_valid(p, n, why))
			return 0;
		if (!p[n])
			return 1;
		p += n + 1;
	}
}

int
ref_repository_valid(const char *repo)
{
	const char *why;

	return repo_valid(repo, &why);
}

int
ref_tag_valid(const char *t)
{
	size_t i, n = strlen(t);

	if (n == 0 || n > 128)
		return 0;
	if (!isalnum((unsigned char)t[0]) && t[0] != '_')
		return 0;
	for (i = 1; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && !strchr("_.-", t[i]))
			return 0;
	return 1;
}

static int
digest_ok(const char *d)
{
	size_t i;

	if (strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71)
		return 0;
	for (i = 7; i < 71; i++)
		if (!((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f')))
			return 0;
	return 1;
}

/* HOST, HOST:PORT or [V6]:PORT. */
static int
host_valid(const char *s, size_t n)
{
	size_t i = 0, end = n;
	const char *colon;

	if (n == 0)
		return 0;
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', n);

		if (!rb || rb == s + 1)
			return 0;
		for (i = 1; s + i < rb; i++)
			if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
				return 0;
		i = (size_t)(rb - s) + 1;
		if (i == n)
			return 1;
		if (s[i] != ':')
			return 0;
		colon = s + i;
	} else {
		colon = memchr(s, ':', n);
		end = colon ? (size_t)(colon - s) : n;
		if (end == 0)
			return 0;
		for (i = 0; i < end; i++)
			if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-')
				return 0;
		if (s[0] == '.' || s[0] == '-' || s[end - 1] == '.' || s[end - 1] == '-')
			return 0;
	}
	if (colon) {
		size_t plen = n - (size_t)(colon - s) - 1;
		long port = 0;

		if (plen == 0 || plen > 5)
			return 0;
		for (i = 1; i <= plen; i++) {
			if (!isdigit((unsigned char)colon[i]))
				return 0;
			port = port * 10 + (colon[i] - '0');
		}
		if (port < 1 || port > 65535)
			return 0;
	}
	return 1;
}

static int
bad(struct err *e, const char *s, const char *why)
{
	return err_set(e, EX_USAGE_, "invalid reference '%.200s': %s", s, why);
}

int
ref_parse(const char *s, struct image_ref *r, struct err *e)
{
	const char *at, *slash, *name_end, *colon, *p;
	char *name = NULL, *first = NULL;
	const char *why = NULL;
	size_t n;

	memset(r, 0, sizeof(*r));
	if (!s || !*s)
		return err_set(e, EX_USAGE_, "invalid reference '': empty");
	n = strlen(s);
	if (n > REF_MAX)
		return bad(e, s, "longer than 4096 characters");
	for (p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return bad(e, s, "contains a space or control character");
	if (strstr(s, "://")) {
		/* Never the password of "https://user:pw@host/repo". */
		char *shown = url_redact(s);
		int rc = err_set(e, EX_USAGE_, "invalid reference '%.200s': give HOST/REPO "
		    "without a URL scheme%s", shown, strcmp(shown, s) ? " (and credentials "
		    "in the environment or a credentials file, never in the reference)" : "");

		free(shown);
		return rc;
	}

	at = strchr(s, '@');
	name_end = at ? at : s + n;
	if (at) {
		if (strchr(at + 1, '@'))
			return bad(e, s, "more than one '@'");
		if (!digest_ok(at + 1))
			return bad(e, s, "digest must be sha256: and 64 lowercase hex digits");
	}
	/* a tag: the last ':' after the last '/' */
	colon = NULL;
	for (p = name_end; p > s; p--) {
		if (p[-1] == '/')
			break;
		if (p[-1] == ':') {
			colon = p - 1;
			break;
		}
	}
	/* "[::1]:5000" alone has colons but no '/': that is a host, no repo */
	if (colon && colon[1] != '\0' && colon + 1 < name_end) {
		char *tag = xstrndup(colon + 1, (size_t)(name_end - colon - 1));

		if (!ref_tag_valid(tag)) {
			free(tag);
			return bad(e, s, "tag must be 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'");
		}
		r->tag = tag;
		name_end = colon;
	} else if (colon) {
		return bad(e, s, "empty tag after ':'");
	}
	if (name_end == s) {
		ref_free(r);
		return bad(e, s, "no repository");
	}
	name = xstrndup(s, (size_t)(name_end - s));
	slash = strchr(name, '/');
	if (slash) {
		first = xstrndup(name, (size_t)(slash - name));
		if (strchr(first, '.') || strchr(first, ':') || !strcmp(first, "localhost") ||
		    first[0] == '[') {
			if (!host_valid(first, strlen(first))) {
				why = "invalid registry host";
				goto fail;
			}
			r->registry = first;
			first = NULL;
			r->repository = xstrdup(slash + 1);
		}
	}
	if (!r->registry) {
		r->registry = xstrdup(REF_DOCKER_HUB);
		r->repository = xstrdup(name);
	} else {
		size_t i;

		/* Host names are case-insensitive: keep one spelling. */
		for (i = 0; r->registry[i]; i++)
			r->registry[i] = (char)tolower((unsigned char)r->registry[i]);
		if (!strcmp(r->registry, "index.docker.io") ||
		    !strcmp(r->registry, "registry-1.docker.io")) {
			free(r->registry);
			r->registry = xstrdup(REF_DOCKER_HUB);
		}
	}
	if (strchr(r->repository, ':') || r->repository[0] == '[') {
		why = "a registry host needs a repository after it (HOST/REPO)";
		goto fail;
	}
	if (!repo_valid(r->repository, &why))
		goto fail;
	if (!strcmp(r->registry, REF_DOCKER_HUB) && !strchr(r->repository, '/')) {
		char *full = xasprintf("library/%s", r->repository);

		free(r->repository);
		r->repository = full;
	}
	if (at)
		r->digest = xstrdup(at + 1);
	free(name);
	free(first);
	return 0;
fail:
	free(name);
	free(first);
	ref_free(r);
	return bad(e, s, why);
}

const char *
ref_api_host(const struct image_ref *r)
{
	return strcmp(r->registry, REF_DOCKER_HUB) == 0 ? REF_DOCKER_HUB_API : r->registry;
}

char *
ref_string(const struct image_ref *r)
{
	return xasprintf("%s/%s%s%s%s%s", r->registry, r->repository,
	    r->tag ? ":" : "", r->tag ? r->tag : "",
	    r->digest ? "@" : "", r->digest ? r->digest : "");
}

char *
ref_name(const struct image_ref *r)
{
	return xasprintf("%s/%s", r->registry, r->repository);
}

char *
ref_with_digest(const struct image_ref *r, const char *digest)
{
	return xasprintf("%s/%s@%s", r->registry, r->repository, digest);
}

void
ref_copy(struct image_ref *dst, const struct image_ref *src)
{
	dst->registry = src->registry ? xstrdup(src->registry) : NULL;
	dst->repository = src->repository ? xstrdup(src->repository) : NULL;
	dst->tag = src->tag ? xstrdup(src->tag) : NULL;
	dst->digest = src->digest ? xstrdup(src->digest) : NULL;
}

void
ref_free(struct image_ref *r)
{
	free(r->registry);
	free(r->repository);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}
