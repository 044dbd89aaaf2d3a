/*
 * blobcache.c: which repositories are known to hold a blob.
 *
 * A push that finds a blob missing in its repository may mount it from
 * another repository on the same registry instead of uploading it, if it
 * knows one that has it.  This file remembers, across runs, where blobs
 * were seen: $XDG_CACHE_HOME/ci-tools/blob-locations.json (or
 * opts.cache_dir), {"sha256:...": ["host/repo", ...]}, most recent first,
 * at most BLOBCACHE_MAX_REPOS per blob and CACHE_MAX_DIGESTS blobs (the
 * oldest go first).  It is a hint, never a truth: a missing, unreadable
 * or damaged file is empty, a stale entry costs a failed mount, and a file
 * that cannot be written costs a later mount (a warning, never a failure).
 * Saving merges into what is on disk under a lock, so parallel runs add up.
 *
 * Beside it, registry-schemes.json remembers the scheme the TLS probe of
 * reg_host_scheme() learnt for a host that may be spoken to over plain
 * HTTP, {"127.0.0.1:5000": "http"}, so that later runs skip the probe.
 * Also a hint: a wrong entry is found out by the first request
 * (registry.c) and forgotten.
 */
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/json.h"
#include "net/registry_int.h"

#define CACHE_FILE "blob-locations.json"
#define SCHEME_FILE "registry-schemes.json"
#define CACHE_MAX_BYTES (16u << 20)
#define CACHE_MAX_DIGESTS 20000
#define SCHEME_MAX_HOSTS 1000

static char *
cache_path(const struct registry *r, const char *file)
{
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	if (r->o->cache_dir)
		return xasprintf("%s/%s", r->o->cache_dir, file);
	if (x && *x)
		return xasprintf("%s/ci-tools/%s", x, file);
	if (home && *home)
		return xasprintf("%s/.cache/ci-tools/%s", home, file);
	return NULL;
}

/* Read the cache; a missing, unreadable or damaged one is just empty. */
static cJSON *
cache_read(const char *path)
{
	struct err e;
	char *text;
	size_t len;
	cJSON *j = NULL;

	if (path && path_exists(path) && (text = read_file(path, CACHE_MAX_BYTES, &len, &e))) {
		j = json_parse(text, len, NULL, NULL, &e);
		free(text);
	}
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		j = cJSON_CreateObject();
	}
	return j;
}

static void
cache_load(struct registry *r)
{
	char *path;

	if (r->cache.loaded || r->o->no_cache)
		return;
	r->cache.loaded = 1;
	path = cache_path(r, CACHE_FILE);
	r->cache.known = cache_read(path);
	free(path);
}

/* Record that digest is in "registry/repo" (most recent first). */
static void
cache_note_in(cJSON *c, const char *digest, const char *where)
{
	cJSON *list = cJSON_DetachItemFromObjectCaseSensitive(c, digest), *it, *next;
	int n = 0;

	if (!cJSON_IsArray(list)) {
		cJSON_Delete(list);
		list = cJSON_CreateArray();
	}
	for (it = list->child; it; it = next) {
		next = it->next;
		if (!cJSON_IsString(it) || !strcmp(it->valuestring, where) || ++n >= BLOBCACHE_MAX_REPOS)
			cJSON_Delete(cJSON_DetachItemViaPointer(list, it));
	}
	if (list->child)
		cJSON_InsertItemInArray(list, 0, cJSON_CreateString(where));
	else
		cJSON_AddItemToArray(list, cJSON_CreateString(where));
	/* Moved to the end: the oldest entries are first to go. */
	cJSON_AddItemToObject(c, digest, list);
	while (cJSON_GetArraySize(c) > CACHE_MAX_DIGESTS)
		cJSON_Delete(cJSON_DetachItemViaPointer(c, c->child));
}

void
blobcache_note(struct registry *r, const char *digest, const struct host *h, const char *repo)
{
	cJSON *list, *first;
	char *where;

	if (r->o->no_cache)
		return;
	cache_load(r);
	where = xasprintf("%s/%s", h->name, repo);
	/* Already the latest news: nothing to write. */
	list = cJSON_GetObjectItemCaseSensitive(r->cache.known, digest);
	first = cJSON_IsArray(list) ? list->child : NULL;
	if (cJSON_IsString(first) && !strcmp(first->valuestring, where)) {
		free(where);
		return;
	}
	if (!r->cache.learnt)
		r->cache.learnt = cJSON_CreateObject();
	cache_note_in(r->cache.known, digest, where);
	cache_note_in(r->cache.learnt, digest, where);
	free(where);
}

/*
 * Read file from the cache directory, let apply() change it and write it
 * back, all under its lock, so that parallel runs add up.  Failures only
 * cost a later mount or probe: warn (naming what), never fail.
 */
static void
cache_update(struct registry *r, const char *file, const char *what,
    void (*apply)(cJSON *disk, const void *arg), const void *arg)
{
	char *path, *lock, *text;
	struct err e = { 0, "" };
	cJSON *disk;
	int fd;

	if (!(path = cache_path(r, file)))
		return;
	lock = xasprintf("%s.lock", path);
	if (mkdir_parent(path, &e) < 0 || (fd = lock_file(lock, 1, &e)) < 0) {
		log_verbose("%s not saved: %s", what, e.msg);
		free(path);
		free(lock);
		return;
	}
	disk = cache_read(path);
	apply(disk, arg);
	text = json_print(disk);
	if (atomic_write(path, text, strlen(text), 0600, &e) < 0)
		log_verbose("%s not saved: %s", what, e.msg);
	free(text);
	cJSON_Delete(disk);
	unlock_file(fd);
	free(lock);
	free(path);
}

static void
merge_learnt(cJSON *disk, const void *arg)
{
	const cJSON *learnt = arg, *it, *w;

	for (it = learnt->child; it; it = it->next)
		cJSON_ArrayForEach(w, it)
			if (cJSON_IsString(w))
				cache_note_in(disk, it->string, w->valuestring);
}

/* Merge what this run learnt into the file. */
void
blobcache_save(struct registry *r)
{
	if (r->o->no_cache || !r->cache.learnt || !r->cache.learnt->child)
		return;
	cache_update(r, CACHE_FILE, "blob-location cache", merge_learnt, r->cache.learnt);
	cJSON_Delete(r->cache.learnt);
	r->cache.learnt = NULL;
}

size_t
blobcache_repos(struct registry *r, const char *digest, const struct host *h,
    const char **out, size_t max)
{
	const cJSON *it;
	size_t n = 0, plen = strlen(h->name);

	if (r->o->no_cache)
		return 0;
	cache_load(r);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r->cache.known, digest)) {
		if (n >= max)
			break;
		if (cJSON_IsString(it) && !strncmp(it->valuestring, h->name, plen) &&
		    it->valuestring[plen] == '/')
			out[n++] = it->valuestring + plen + 1;
	}
	return n;
}

void
blobcache_free(struct blobcache *c)
{
	cJSON_Delete(c->known);
	cJSON_Delete(c->learnt);
	memset(c, 0, sizeof(*c));
}

char *
schemecache_get(struct registry *r, const char *api)
{
	char *path;
	cJSON *c;
	const cJSON *it;
	char *scheme = NULL;

	if (r->o->no_cache || !(path = cache_path(r, SCHEME_FILE)))
		return NULL;
	c = cache_read(path);
	it = cJSON_GetObjectItemCaseSensitive(c, api);
	if (cJSON_IsString(it) && (!strcmp(it->valuestring, "http") ||
	    !strcmp(it->valuestring, "https")))
		scheme = xstrdup(it->valuestring);
	cJSON_Delete(c);
	free(path);
	return scheme;
}

struct scheme_entry {
	const char *api, *scheme;
};

static void
set_scheme(cJSON *disk, const void *arg)
{
	const struct scheme_entry *se = arg;

	cJSON_DeleteItemFromObjectCaseSensitive(disk, se->api);
	if (!se->scheme)
		return;
	/* Moved to the end: the oldest entries are first to go. */
	cJSON_AddItemToObject(disk, se->api, cJSON_CreateString(se->scheme));
	while (cJSON_GetArraySize(disk) > SCHEME_MAX_HOSTS)
		cJSON_Delete(cJSON_DetachItemViaPointer(disk, disk->child));
}

void
schemecache_put(struct registry *r, const char *api, const char *scheme)
{
	struct scheme_entry se = { api, scheme };

	if (!r->o->no_cache)
		cache_update(r, SCHEME_FILE, "registry schemes", set_scheme, &se);
}
