/*
 * imgconfig: image configs and manifests in a fixed key order.
 */
#include <stdlib.h>
#include <string.h>

#include "image/config.h"
#include "core/json.h"

cJSON *
imgconfig_new(const char *os, const char *arch, const char *variant)
{
	cJSON *c = cJSON_CreateObject(), *rootfs;

	cJSON_AddStringToObject(c, "architecture", arch);
	if (variant && *variant)
		cJSON_AddStringToObject(c, "variant", variant);
	cJSON_AddStringToObject(c, "os", os);
	cJSON_AddObjectToObject(c, "config");
	rootfs = cJSON_AddObjectToObject(c, "rootfs");
	cJSON_AddStringToObject(rootfs, "type", "layers");
	cJSON_AddArrayToObject(rootfs, "diff_ids");
	cJSON_AddArrayToObject(c, "history");
	return c;
}

cJSON *
imgconfig_parse(const char *text, size_t len, const char *name, struct err *e)
{
	struct json_opts o = { name, 0, 0 };
	cJSON *c = json_parse(text, len, &o, NULL, e), *rootfs, *ids, *it;

	if (!c)
		return NULL;
	if (!cJSON_IsObject(c) || !json_str(c, "os") || !json_str(c, "architecture")) {
		cJSON_Delete(c);
		err_set(e, EX_DOC, "%s: not an image config (no os or architecture)", name);
		return NULL;
	}
	rootfs = cJSON_GetObjectItemCaseSensitive(c, "rootfs");
	ids = rootfs ? cJSON_GetObjectItemCaseSensitive(rootfs, "diff_ids") : NULL;
	if (!cJSON_IsArray(ids)) {
		cJSON_Delete(c);
		err_set(e, EX_DOC, "%s: the config has no rootfs.diff_ids", name);
		return NULL;
	}
	cJSON_ArrayForEach(it, ids)
		if (!cJSON_IsString(it) || !digest_valid(it->valuestring)) {
			cJSON_Delete(c);
			err_set(e, EX_DOC, "%s: rootfs.diff_ids holds a bad digest", name);
			return NULL;
		}
	if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(c, "config")))
		json_set(c, "config", cJSON_CreateObject());
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(c, "history")))
		json_set(c, "history", cJSON_CreateArray());
	return c;
}

cJSON *
imgconfig_rt(cJSON *cfg)
{
	cJSON *rt = cJSON_GetObjectItemCaseSensitive(cfg, "config");

	if (!cJSON_IsObject(rt)) {
		rt = cJSON_CreateObject();
		json_set(cfg, "config", rt);
	}
	return rt;
}

const char *
imgconfig_env_get(const cJSON *cfg, const char *key)
{
	const cJSON *rt = cJSON_GetObjectItemCaseSensitive(cfg, "config"), *env, *it;
	size_t kl = strlen(key);

	env = rt ? cJSON_GetObjectItemCaseSensitive(rt, "Env") : NULL;
	cJSON_ArrayForEach(it, env)
		if (cJSON_IsString(it) && !strncmp(it->valuestring, key, kl) &&
		    it->valuestring[kl] == '=')
			return it->valuestring + kl + 1;
	return NULL;
}

void
imgconfig_env_set(cJSON *cfg, const char *key, const char *value)
{
	cJSON *rt = imgconfig_rt(cfg), *env = cJSON_GetObjectItemCaseSensitive(rt, "Env"), *it;
	char *kv = xasprintf("%s=%s", key, value);
	size_t kl = strlen(key);
	int i = 0;

	if (!cJSON_IsArray(env)) {
		env = cJSON_CreateArray();
		json_set(rt, "Env", env);
	}
	cJSON_ArrayForEach(it, env) {
		if (cJSON_IsString(it) && !strncmp(it->valuestring, key, kl) &&
		    it->valuestring[kl] == '=') {
			cJSON_ReplaceItemInArray(env, i, cJSON_CreateString(kv));
			free(kv);
			return;
		}
		i++;
	}
	cJSON_AddItemToArray(env, cJSON_CreateString(kv));
	free(kv);
}

void
imgconfig_set_add(cJSON *cfg, const char *field, const char *key)
{
	cJSON *rt = imgconfig_rt(cfg), *m = cJSON_GetObjectItemCaseSensitive(rt, field);

	if (!cJSON_IsObject(m)) {
		m = cJSON_CreateObject();
		json_set(rt, field, m);
	}
	json_set(m, key, cJSON_CreateObject());
}

void
imgconfig_label(cJSON *cfg, const char *key, const char *value)
{
	cJSON *rt = imgconfig_rt(cfg), *m = cJSON_GetObjectItemCaseSensitive(rt, "Labels");

	if (!cJSON_IsObject(m)) {
		m = cJSON_CreateObject();
		json_set(rt, "Labels", m);
	}
	json_set(m, key, cJSON_CreateString(value));
}

void
imgconfig_set_str(cJSON *cfg, const char *field, const char *value)
{
	json_set(imgconfig_rt(cfg), field, cJSON_CreateString(value));
}

void
imgconfig_set_array(cJSON *cfg, const char *field, cJSON *v)
{
	cJSON *rt = imgconfig_rt(cfg);

	if (!v)
		cJSON_DeleteItemFromObjectCaseSensitive(rt, field);
	else
		json_set(rt, field, v);
}

void
imgconfig_add_diff_id(cJSON *cfg, const char *diff_id)
{
	cJSON *rootfs = cJSON_GetObjectItemCaseSensitive(cfg, "rootfs"), *ids;

	if (!cJSON_IsObject(rootfs)) {
		rootfs = cJSON_CreateObject();
		cJSON_AddStringToObject(rootfs, "type", "layers");
		json_set(cfg, "rootfs", rootfs);
	}
	ids = cJSON_GetObjectItemCaseSensitive(rootfs, "diff_ids");
	if (!cJSON_IsArray(ids)) {
		ids = cJSON_CreateArray();
		json_set(rootfs, "diff_ids", ids);
	}
	cJSON_AddItemToArray(ids, cJSON_CreateString(diff_id));
}

size_t
imgconfig_ndiff_ids(const cJSON *cfg)
{
	const cJSON *rootfs = cJSON_GetObjectItemCaseSensitive(cfg, "rootfs");
	const cJSON *ids = rootfs ? cJSON_GetObjectItemCaseSensitive(rootfs, "diff_ids") : NULL;

	return cJSON_IsArray(ids) ? (size_t)cJSON_GetArraySize(ids) : 0;
}

void
imgconfig_add_history(cJSON *cfg, const char *created, const char *created_by,
    const char *comment, int empty_layer)
{
	cJSON *h = cJSON_GetObjectItemCaseSensitive(cfg, "history"), *it;

	if (!cJSON_IsArray(h)) {
		h = cJSON_CreateArray();
		json_set(cfg, "history", h);
	}
	it = cJSON_CreateObject();
	cJSON_AddStringToObject(it, "created", created);
	cJSON_AddStringToObject(it, "created_by", created_by);
	if (comment)
		cJSON_AddStringToObject(it, "comment", comment);
	if (empty_layer)
		cJSON_AddTrueToObject(it, "empty_layer");
	cJSON_AddItemToArray(h, it);
}

/* ---- canonical text ------------------------------------------------------ */

static int
is_empty(const cJSON *v)
{
	if (!v || cJSON_IsNull(v))
		return 1;
	if (cJSON_IsString(v))
		return !*v->valuestring;
	if (cJSON_IsArray(v) || cJSON_IsObject(v))
		return cJSON_GetArraySize(v) == 0;
	if (cJSON_IsFalse(v))
		return 1;
	return 0;
}

static void
copy_key(cJSON *dst, const cJSON *src, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, key);

	if (!is_empty(v))
		cJSON_AddItemToObject(dst, key, cJSON_Duplicate(v, 1));
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A copy of an object with its keys sorted bytewise. */
static cJSON *
sorted_object(const cJSON *o)
{
	const cJSON *it;
	const char **keys;
	size_t n = 0, i;
	cJSON *out = cJSON_CreateObject();

	keys = xcalloc((size_t)cJSON_GetArraySize(o) + 1, sizeof(*keys));
	cJSON_ArrayForEach(it, o)
		keys[n++] = it->string;
	qsort(keys, n, sizeof(*keys), str_cmp);
	for (i = 0; i < n; i++) {
		/* Duplicates cannot occur: json.c refuses them. */
		cJSON_AddItemToObject(out, keys[i],
		    cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(o, keys[i]), 1));
	}
	free(keys);
	return out;
}

static void
copy_sorted(cJSON *dst, const cJSON *src, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, key);

	if (cJSON_IsObject(v) && cJSON_GetArraySize(v) > 0)
		cJSON_AddItemToObject(dst, key, sorted_object(v));
}

static const char *const rt_keys[] = {
	"User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir",
	"Labels", "StopSignal", "ArgsEscaped", "Healthcheck", "OnBuild", "Shell", NULL
};

static int
in_list(const char *k, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(k, *list))
			return 1;
	return 0;
}

static cJSON *
canon_healthcheck(const cJSON *hc)
{
	static const char *const keys[] = { "Test", "Interval", "Timeout", "StartPeriod",
		"StartInterval", "Retries", NULL };
	cJSON *out = cJSON_CreateObject();
	const cJSON *it;
	size_t i;

	for (i = 0; keys[i]; i++)
		copy_key(out, hc, keys[i]);
	cJSON_ArrayForEach(it, hc)
		if (!in_list(it->string, keys) && !is_empty(it))
			cJSON_AddItemToObject(out, it->string, cJSON_Duplicate(it, 1));
	return out;
}

static cJSON *
canon_rt(const cJSON *rt)
{
	cJSON *out = cJSON_CreateObject();
	const cJSON *it;
	size_t i;

	for (i = 0; rt_keys[i]; i++) {
		const char *k = rt_keys[i];
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(rt, k);

		if (!strcmp(k, "ExposedPorts") || !strcmp(k, "Volumes") || !strcmp(k, "Labels"))
			copy_sorted(out, rt, k);
		else if (!strcmp(k, "Healthcheck")) {
			if (cJSON_IsObject(v) && cJSON_GetArraySize(v) > 0)
				cJSON_AddItemToObject(out, k, canon_healthcheck(v));
		} else
			copy_key(out, rt, k);
	}
	cJSON_ArrayForEach(it, rt)
		if (!in_list(it->string, rt_keys) && !is_empty(it))
			cJSON_AddItemToObject(out, it->string, cJSON_Duplicate(it, 1));
	return out;
}

char *
imgconfig_text(const cJSON *cfg)
{
	static const char *const hist_keys[] = { "created", "created_by", "author",
		"comment", "empty_layer", NULL };
	cJSON *out = cJSON_CreateObject(), *rootfs, *h;
	const cJSON *rt = cJSON_GetObjectItemCaseSensitive(cfg, "config");
	const cJSON *src_rootfs = cJSON_GetObjectItemCaseSensitive(cfg, "rootfs");
	const cJSON *src_hist = cJSON_GetObjectItemCaseSensitive(cfg, "history"), *it;
	char *text;

	copy_key(out, cfg, "created");
	copy_key(out, cfg, "author");
	copy_key(out, cfg, "architecture");
	copy_key(out, cfg, "variant");
	copy_key(out, cfg, "os");
	copy_key(out, cfg, "os.version");
	copy_key(out, cfg, "os.features");
	cJSON_AddItemToObject(out, "config", rt ? canon_rt(rt) : cJSON_CreateObject());
	rootfs = cJSON_AddObjectToObject(out, "rootfs");
	cJSON_AddStringToObject(rootfs, "type", "layers");
	{
		const cJSON *ids = src_rootfs ?
		    cJSON_GetObjectItemCaseSensitive(src_rootfs, "diff_ids") : NULL;

		cJSON_AddItemToObject(rootfs, "diff_ids", cJSON_IsArray(ids) ?
		    cJSON_Duplicate(ids, 1) : cJSON_CreateArray());
	}
	if (cJSON_IsArray(src_hist) && cJSON_GetArraySize(src_hist) > 0) {
		h = cJSON_AddArrayToObject(out, "history");
		cJSON_ArrayForEach(it, src_hist) {
			cJSON *e = cJSON_CreateObject();
			size_t i;

			for (i = 0; hist_keys[i]; i++)
				copy_key(e, it, hist_keys[i]);
			cJSON_AddItemToArray(h, e);
		}
	}
	text = json_print(out);
	cJSON_Delete(out);
	return text;
}

static cJSON *
desc_json(const struct oci_desc *d)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "mediaType", d->media_type);
	cJSON_AddStringToObject(o, "digest", d->digest);
	json_add_i64(o, "size", d->size);
	if (d->annotations && cJSON_GetArraySize(d->annotations) > 0)
		cJSON_AddItemToObject(o, "annotations", sorted_object(d->annotations));
	return o;
}

char *
imgmanifest_text(const struct oci_desc *config, const struct oci_desc *layers,
    size_t nlayers, const cJSON *annotations)
{
	cJSON *m = cJSON_CreateObject(), *arr;
	size_t i;
	char *text;

	cJSON_AddNumberToObject(m, "schemaVersion", 2);
	cJSON_AddStringToObject(m, "mediaType", MT_OCI_MANIFEST);
	cJSON_AddItemToObject(m, "config", desc_json(config));
	arr = cJSON_AddArrayToObject(m, "layers");
	for (i = 0; i < nlayers; i++)
		cJSON_AddItemToArray(arr, desc_json(&layers[i]));
	if (annotations && cJSON_GetArraySize(annotations) > 0)
		cJSON_AddItemToObject(m, "annotations", sorted_object(annotations));
	text = json_print(m);
	cJSON_Delete(m);
	return text;
}
