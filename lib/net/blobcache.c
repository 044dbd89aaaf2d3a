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
 */
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/json.h"
#include "net/registry_int.h"

#define CACHE_FILE "blob-locations.json"
#define CACHE_MAX_BYTES (16u << 20)
#define CACHE_MAX_DIGESTS 20000

static char *
cache_path(const struct registry *r)
{
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	if (r->o->cache_dir)
		return xasprintf("%s/%s", r->o->cache_dir, CACHE_FILE);
	if (x && *x)
		return xasprintf("%s/ci-tools/%s", x, CACHE_FILE);
	if (home && *home)
		return xasprintf("%s/.cache/ci-tools/%s", home, CACHE_FILE);
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
	path = cache_path(r);
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

/* Merge what this run learnt into the file, under a lock.  Failures only
 * cost a later mount: warn, never fail the push. */
void
blobcache_save(struct registry *r)
{
	char *path, *lock, *text;
	struct err e = { 0, "" };
	cJSON *disk, *it;
	int fd;

	if (r->o->no_cache || !r->cache.learnt || !r->cache.learnt->child)
		return;
	if (!(path = cache_path(r)))
		return;
	lock = xasprintf("%s.lock", path);
	if (mkdir_parent(path, &e) < 0 || (fd = lock_file(lock, 1, &e)) < 0) {
		log_verbose("blob-location cache not saved: %s", e.msg);
		free(path);
		free(lock);
		return;
	}
	disk = cache_read(path);
	for (it = r->cache.learnt->child; it; it = it->next) {
		cJSON *w;

		cJSON_ArrayForEach(w, it)
			if (cJSON_IsString(w))
				cache_note_in(disk, it->string, w->valuestring);
	}
	text = json_print(disk);
	if (atomic_write(path, text, strlen(text), 0600, &e) < 0)
		log_verbose("blob-location cache not saved: %s", e.msg);
	free(text);
	cJSON_Delete(disk);
	cJSON_Delete(r->cache.learnt);
	r->cache.learnt = NULL;
	unlock_file(fd);
	free(lock);
	free(path);
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
