/* Unit tests of lib/rootfs (views with whiteouts and symlinks) and of
 * lib/imgconfig (canonical configs and manifests). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/crypto-load.h"
#include "core/fsutil.h"
#include "image/config.h"
#include "core/json.h"
#include "image/layer.h"
#include "image/rootfs.h"
#include "tap.h"

static char dir[256];

static void
ent(struct layer_entry *le, const char *path, enum layer_type t, const char *src,
    const char *link)
{
	memset(le, 0, sizeof(*le));
	le->path = xstrdup(path);
	le->type = t;
	le->mode = t == LE_DIR ? 0755 : 0644;
	if (src) {
		le->src = xstrdup(src);
		le->size = 5;
	}
	if (link)
		le->link = xstrdup(link);
}

static char *
make_layer(const char *name, struct layer_entry *v, size_t n)
{
	struct layer_opts o = { LAYER_GZIP, -1, 1, 0, NULL };
	struct layer_result r;
	struct err e = { 0, "" };
	char *path = xasprintf("%s/%s", dir, name);
	size_t i;

	layer_sort(v, n);
	if (layer_write(v, n, &o, path, &r, &e) < 0)
		ok(0, "layer %s: %s", name, e.msg);
	for (i = 0; i < n; i++)
		layer_entry_free(&v[i]);
	return path;
}

int
main(void)
{
	struct layer_entry v[8];
	struct err e = { 0, "" };
	char *l1, *l2, *src, *res, *scratch;
	struct rootfs *fs, *c;
	struct rootfs_node *x, **list;
	size_t n;
	struct err ce = { 0, "" };

	/* The digests need libcrypto (core/crypto-load.h). */
	if (crypto_load(&ce) < 0) {
		printf("Bail out! %s\n", ce.msg);
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/rootfsXXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	src = xasprintf("%s/five", dir);
	atomic_write(src, "12345", 5, 0644, &e);
	scratch = xasprintf("%s/scratch", dir);
	mkdir_p(scratch, 0700, &e);

	ent(&v[0], "a", LE_DIR, NULL, NULL);
	ent(&v[1], "a/b", LE_FILE, src, NULL);
	ent(&v[2], "a/c", LE_FILE, src, NULL);
	ent(&v[3], "d", LE_DIR, NULL, NULL);
	ent(&v[4], "d/e", LE_FILE, src, NULL);
	ent(&v[5], "f/g/h", LE_FILE, src, NULL);	/* parents not in the tar */
	ent(&v[6], "loop1", LE_SYMLINK, NULL, "loop2");
	ent(&v[7], "loop2", LE_SYMLINK, NULL, "/loop1");
	l1 = make_layer("l1", v, 8);
	ent(&v[0], "a/.wh.b", LE_FILE, NULL, NULL);
	ent(&v[1], "d/.wh..wh..opq", LE_FILE, NULL, NULL);
	ent(&v[2], "d/new", LE_FILE, src, NULL);
	ent(&v[3], "g", LE_SYMLINK, NULL, "a");
	ent(&v[4], "abs", LE_SYMLINK, NULL, "/d/../a/c");
	ent(&v[5], "a/hl", LE_HARDLINK, NULL, "a/c");
	l2 = make_layer("l2", v, 6);

	fs = rootfs_new();
	ok(rootfs_apply_layer(fs, l1, NULL, &e) == 0, "layer 1 applies: %s", e.msg);
	ok(rootfs_get(fs, "a/b") != NULL, "a/b is there");
	ok((x = rootfs_get(fs, "f/g")) && x->ent.type == LE_DIR, "f/g exists as an implied directory");
	ok(rootfs_apply_layer(fs, l2, NULL, &e) == 0, "layer 2 applies");
	ok(rootfs_get(fs, "a/b") == NULL, ".wh.b removed a/b");
	ok(rootfs_get(fs, "a/.wh.b") == NULL, "... and is not an entry itself");
	ok(rootfs_get(fs, "a/c") != NULL, "a/c stays");
	ok(rootfs_get(fs, "d/e") == NULL, "the opaque directory hid d/e");
	ok(rootfs_get(fs, "d/new") != NULL, "... but not d/new of its own layer");
	ok(rootfs_get(fs, "d") != NULL, "... and d itself stays");

	ok(rootfs_resolve(fs, "/g/c", 1, &res, &e) == 0, "resolve /g/c");
	is_str(res, "a/c", "... through the symlink g -> a");
	free(res);
	ok(rootfs_resolve(fs, "abs", 1, &res, &e) == 0, "resolve an absolute link");
	is_str(res, "a/c", "... /d/../a/c");
	free(res);
	ok(rootfs_resolve(fs, "g", 0, &res, &e) == 0, "resolve without following the last");
	is_str(res, "g", "... stays g");
	free(res);
	ok(rootfs_resolve(fs, "/g/../../../a", 1, &res, &e) == 0, "'..' stops at the root");
	is_str(res, "a", "... /a");
	free(res);
	ok(rootfs_resolve(fs, "g/missing/x", 1, &res, &e) == 0, "a missing path resolves");
	is_str(res, "a/missing/x", "... as far as it can");
	free(res);
	memset(&e, 0, sizeof(e));
	ok(rootfs_resolve(fs, "loop1/x", 1, &res, &e) < 0 && strstr(e.msg, "too many levels"),
	    "a symlink loop is an error");

	list = rootfs_list(fs, "a", &n);
	ok(n == 2 && !strcmp(list[0]->ent.path, "a/c") && !strcmp(list[1]->ent.path, "a/hl"),
	    "list a: a/c, a/hl, sorted");
	free(list);
	list = rootfs_list(fs, ".", &n);
	ok(n >= 10, "list everything: %zu nodes", n);
	free(list);

	/* Listings: the second time, the blobs are not read at all. */
	{
		char *li1 = xasprintf("%s/views/l1", dir), *li2 = xasprintf("%s/views/l2", dir);
		char *moved1 = xasprintf("%s/moved1", dir), *moved2 = xasprintf("%s/moved2", dir);
		struct rootfs *f2 = rootfs_new(), *f3 = rootfs_new();
		size_t n2, n3;
		struct rootfs_node **a2, **a3;

		ok(rootfs_apply_layer(f2, l1, li1, &e) == 0 &&
		    rootfs_apply_layer(f2, l2, li2, &e) == 0, "applied, listings written");
		ok(access(li1, F_OK) == 0 && access(li2, F_OK) == 0, "... both listings exist");
		rename(l1, moved1);
		rename(l2, moved2);
		ok(rootfs_apply_layer(f3, l1, li1, &e) == 0 &&
		    rootfs_apply_layer(f3, l2, li2, &e) == 0, "applied again from the listings alone");
		a2 = rootfs_list(f2, ".", &n2);
		a3 = rootfs_list(f3, ".", &n3);
		ok(n2 == n3, "... the same number of nodes (%zu)", n3);
		for (n = 0; n < n2 && n < n3; n++)
			if (strcmp(a2[n]->ent.path, a3[n]->ent.path) || a2[n]->ent.type != a3[n]->ent.type ||
			    a2[n]->ent.mode != a3[n]->ent.mode || a2[n]->layer != a3[n]->layer)
				break;
		ok(n == n2, "... the same nodes");
		ok(rootfs_get(f3, "a/b") == NULL && rootfs_get(f3, "d/e") == NULL,
		    "... whiteouts applied from the listing");
		free(a2);
		free(a3);
		rename(moved1, l1);
		rename(moved2, l2);
		rootfs_free(f2);
		rootfs_free(f3);
		free(li1);
		free(li2);
		free(moved1);
		free(moved2);
	}

	c = rootfs_clone(fs);
	rootfs_remove(c, "a", 1);
	ok(rootfs_get(c, "a/c") == NULL && rootfs_get(fs, "a/c") != NULL, "a clone is independent");
	rootfs_free(c);

	/* Content comes out of the blob on demand. */
	x = rootfs_get(fs, "a/c");
	ok(x && !x->ent.src && x->layer == 0, "a/c's content is in layer 0");
	ok(rootfs_materialize(fs, &x, 1, scratch, &e) == 0 && x->ent.src, "materialize it");
	{
		size_t len;
		char *t = read_file(x->ent.src, 100, &len, &e);

		is_str(t, "12345", "... the content");
		free(t);
	}
	res = rootfs_read(fs, "/g/c", scratch, 100, &e);
	is_str(res, "12345", "rootfs_read follows links");
	free(res);
	res = rootfs_read(fs, "a/hl", scratch, 100, &e);
	is_str(res, "12345", "... and hard links");
	free(res);
	ok(rootfs_read(fs, "etc/passwd", scratch, 100, &e) == NULL, "a missing file reads as NULL");

	/* Putting a file over a directory removes what was below. */
	{
		struct layer_entry f;

		ent(&f, "d", LE_FILE, src, NULL);
		rootfs_put(fs, &f, -1);
		layer_entry_free(&f);
		ok(rootfs_get(fs, "d/new") == NULL, "a file over a directory hides its contents");
	}
	rootfs_free(fs);

	/* imgconfig: the fixed order, sorted maps, no empty fields. */
	{
		cJSON *cfg = imgconfig_new("linux", "amd64", NULL);
		char *t1, *t2;
		struct oci_desc cd, ld;
		cJSON *ann = cJSON_CreateObject();

		imgconfig_env_set(cfg, "PATH", "/bin");
		imgconfig_env_set(cfg, "A", "1");
		imgconfig_env_set(cfg, "PATH", "/usr/bin");
		is_str(imgconfig_env_get(cfg, "PATH"), "/usr/bin", "env: replaced in place");
		imgconfig_label(cfg, "z", "last");
		imgconfig_label(cfg, "a", "first");
		imgconfig_set_add(cfg, "ExposedPorts", "80/tcp");
		imgconfig_set_add(cfg, "ExposedPorts", "443/tcp");
		imgconfig_set_str(cfg, "WorkingDir", "/app");
		imgconfig_set_str(cfg, "User", "");
		imgconfig_set_array(cfg, "Cmd", cJSON_CreateArray());
		json_set(cfg, "created", cJSON_CreateString("1970-01-01T00:00:00Z"));
		json_set(cfg, "container_config", cJSON_CreateObject());
		imgconfig_add_diff_id(cfg, "sha256:0000000000000000000000000000000000000000000000000000000000000000");
		imgconfig_add_history(cfg, "1970-01-01T00:00:00Z", "COPY a b", "c", 0);
		imgconfig_add_history(cfg, "1970-01-01T00:00:00Z", "ENV A=1", NULL, 1);
		t1 = imgconfig_text(cfg);
		is_str(t1, "{\"created\":\"1970-01-01T00:00:00Z\",\"architecture\":\"amd64\","
		    "\"os\":\"linux\",\"config\":{\"ExposedPorts\":{\"443/tcp\":{},\"80/tcp\":{}},"
		    "\"Env\":[\"PATH=/usr/bin\",\"A=1\"],\"WorkingDir\":\"/app\","
		    "\"Labels\":{\"a\":\"first\",\"z\":\"last\"}},\"rootfs\":{\"type\":\"layers\","
		    "\"diff_ids\":[\"sha256:0000000000000000000000000000000000000000000000000000000000000000\"]},"
		    "\"history\":[{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"COPY a b\","
		    "\"comment\":\"c\"},{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"ENV A=1\","
		    "\"empty_layer\":true}]}", "config text: fixed order, sorted maps, empties left out");
		t2 = imgconfig_text(cfg);
		is_str(t2, t1, "... the same twice");
		{
			cJSON *back = imgconfig_parse(t1, strlen(t1), "cfg", &e);
			char *t3 = back ? imgconfig_text(back) : NULL;

			is_str(t3, t1, "... and after a round trip");
			free(t3);
			cJSON_Delete(back);
		}
		memset(&e, 0, sizeof(e));
		ok(imgconfig_parse("{\"os\":\"linux\"}", 14, "cfg", &e) == NULL &&
		    strstr(e.msg, "not an image config"), "a config without architecture is refused");
		free(t1);
		free(t2);
		cJSON_Delete(cfg);

		memset(&cd, 0, sizeof(cd));
		memset(&ld, 0, sizeof(ld));
		cd.media_type = MT_OCI_CONFIG;
		snprintf(cd.digest, sizeof(cd.digest), "sha256:%064d", 1);
		cd.size = 10;
		ld.media_type = MT_OCI_LAYER_GZIP;
		snprintf(ld.digest, sizeof(ld.digest), "sha256:%064d", 2);
		ld.size = 20;
		cJSON_AddStringToObject(ann, "z.b", "2");
		cJSON_AddStringToObject(ann, "a.b", "1");
		t1 = imgmanifest_text(&cd, &ld, 1, ann);
		like(t1, "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",", "manifest order");
		like(t1, "\"annotations\":{\"a.b\":\"1\",\"z.b\":\"2\"}}", "... sorted annotations last");
		free(t1);
		cJSON_Delete(ann);
	}

	unlink(l1);
	unlink(l2);
	free(l1);
	free(l2);
	{
		char *cmd = xasprintf("rm -rf '%s'", dir);

		if (system(cmd) != 0)
			ok(0, "cleanup");
		free(cmd);
	}
	free(src);
	free(scratch);
	return done_testing();
}
