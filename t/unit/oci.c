/*
 * Unit tests for lib/oci.c: sha256, descriptors, manifest parsing, the
 * image layout (blobs, index.json, find) and image checks, with umoci
 * and sha256sum as independent witnesses.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/crypto-load.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "core/log.h"
#include "oci/oci.h"
#include "tap.h"

#define DATA "t/unit/data/"

static struct err e;
static char dir[4096];

static char *
P(const char *name)
{
	static char path[8][4200];
	static int i;

	i = (i + 1) % 8;
	snprintf(path[i], sizeof(path[i]), "%s/%s", dir, name);
	return path[i];
}

static void
rm_rf(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;

	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode) && (d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			char sub[4200];

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			rm_rf(sub);
		}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static int
put(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		return -1;
	if (n && fwrite(p, 1, n, f) != n) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

static int
puts_file(const char *path, const char *s)
{
	return put(path, s, strlen(s));
}

static char *
slurp(const char *path, size_t *len)
{
	struct err e2;

	return read_file(path, 0, len, &e2);
}

/* First line of a command's output, or "" */
static void
run_line(const char *cmd, char *out, size_t outsz)
{
	FILE *f = popen(cmd, "r");

	out[0] = '\0';
	if (!f)
		return;
	if (!fgets(out, (int)outsz, f))
		out[0] = '\0';
	pclose(f);
	out[strcspn(out, "\n")] = '\0';
}

/* Parse a manifest from text; return the error message or "(ok)". */
static const char *
perr(const char *text, const char *hint)
{
	struct oci_manifest m;

	err_clear(&e);
	if (oci_manifest_parse(text, strlen(text), hint, &m, &e) != 0)
		return e.msg;
	oci_manifest_free(&m);
	return "(ok)";
}

static const char *
load_err(const char *path)
{
	struct oci_layout l;

	err_clear(&e);
	if (oci_layout_open(&l, path, &e) != 0)
		return e.msg;
	oci_layout_close(&l);
	return "(ok)";
}

static void
test_sha256(void)
{
	char d[OCI_DIGEST_SIZE], d2[OCI_DIGEST_SIZE], want[128], cmd[4400], *big;
	struct sha256 h;
	long long size = -1;
	size_t i, n = 2 * 1024 * 1024 + 12345;	/* crosses the 1 MiB chunks */

	sha256_digest("", 0, d);
	is_str(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "sha256 of nothing");
	sha256_digest("abc", 3, d);
	is_str(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	    "sha256 of 'abc' (FIPS 180-2)");
	sha256_init(&h);
	sha256_update(&h, "a", 1);
	sha256_update(&h, "", 0);
	sha256_update(&h, "bc", 2);
	sha256_final(&h, d2);
	is_str(d2, d, "incremental sha256 equals one-shot");
	ok(h.ctx == NULL, "sha256_final frees the context");

	big = malloc(n);
	for (i = 0; i < n; i++)
		big[i] = (char)(i * 7 + (i >> 13));
	ok(put(P("big"), big, n) == 0, "wrote a 2 MiB file");
	ok(sha256_file(P("big"), d, &size, &e) == 0, "sha256_file");
	is_int(size, n, "sha256_file gives the size");
	sha256_digest(big, n, d2);
	is_str(d, d2, "streamed digest equals in-memory digest");
	snprintf(cmd, sizeof(cmd), "sha256sum '%s' 2>/dev/null", P("big"));
	run_line(cmd, want + 7, sizeof(want) - 7);
	memcpy(want, "sha256:", 7);
	want[7 + 64] = '\0';
	if (strlen(want) == 71)
		is_str(d, want, "sha256_file agrees with sha256sum");
	else
		ok(1, "# skip sha256sum not available");
	free(big);

	ok(put(P("empty"), "", 0) == 0 && sha256_file(P("empty"), d, &size, &e) == 0 &&
	    size == 0, "sha256_file of an empty file");
	is_str(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "empty file digest");
	ok(sha256_file(P("nope"), d, &size, &e) == -1 && e.code == EX_IOERR_,
	    "sha256_file of a missing file fails with EX_IOERR_");
	like(e.msg, "nope': No such file", "message names the file");
}

/*
 * The one-shot digests before libcrypto is loaded are sha256.c's own
 * (with the SHA extensions where the CPU has them, else plain C): FIPS
 * 180-2's vectors, then every length around the block edges and a file
 * over the read chunk, each again in plain C and through libcrypto once
 * it is loaded.
 */
#define PLAIN_LENS 300
static char plain_d[PLAIN_LENS + 1][OCI_DIGEST_SIZE];
static char plain_file[OCI_DIGEST_SIZE];

static unsigned char *
plain_input(size_t n)
{
	unsigned char *p = malloc(n ? n : 1);
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 131 + (i >> 7) + 17);
	return p;
}

/* Streaming before crypto_load() is a programming error on any CPU,
 * with or without the SHA extensions: it says so and aborts. */
static void
test_sha256_init_before_load(void)
{
	char msg[512] = "";
	int status = 0, fd;
	pid_t pid = fork();

	if (pid == 0) {
		struct sha256 h;

		fd = open(P("abort.err"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 2);
		sha256_init(&h);
		_exit(0);
	}
	ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) &&
	    WTERMSIG(status) == SIGABRT, "sha256_init before crypto_load() aborts");
	fd = open(P("abort.err"), O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, msg, sizeof(msg) - 1);

		msg[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	like(msg, "internal error: sha256_init called before crypto_load()", "... and says so");
}

/* How many of the lengths 0 to PLAIN_LENS digest other than plain_d. */
static size_t
plain_differ(void)
{
	char d[OCI_DIGEST_SIZE];
	size_t n, bad = 0;

	for (n = 0; n <= PLAIN_LENS; n++) {
		unsigned char *p = plain_input(n);

		sha256_digest(p, n, d);
		if (strcmp(d, plain_d[n]) != 0)
			bad++;
		free(p);
	}
	return bad;
}

static void
test_sha256_plain_before_load(void)
{
	static const char abc448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char d[OCI_DIGEST_SIZE];
	unsigned char *p;
	size_t n;
	long long size;

	sha256_digest("abc", 3, d);
	is_str(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	    "without libcrypto: sha256 of 'abc' (FIPS 180-2)");
	sha256_digest(abc448, sizeof(abc448) - 1, d);
	is_str(d, "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
	    "without libcrypto: sha256 of the 448-bit message (FIPS 180-2)");
	p = malloc(1000000);
	memset(p, 'a', 1000000);
	sha256_digest(p, 1000000, d);
	is_str(d, "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
	    "without libcrypto: sha256 of a million 'a' (FIPS 180-2)");
	free(p);
	for (n = 0; n <= PLAIN_LENS; n++) {
		p = plain_input(n);
		sha256_digest(p, n, plain_d[n]);
		free(p);
	}
	n = 1024 * 1024 + 4097;	/* over the 1 MiB read chunk */
	p = plain_input(n);
	ok(put(P("plain"), (char *)p, n) == 0 && sha256_file(P("plain"), plain_file, &size, &e) == 0 &&
	    size == (long long)n, "without libcrypto: sha256_file");
	free(p);
	if (sha256_accel(-1)) {
		sha256_accel(0);
		ok(plain_differ() == 0 && sha256_file(P("plain"), d, &size, &e) == 0 &&
		    strcmp(d, plain_file) == 0, "plain C equals the SHA extensions, 0 to 300 "
		    "bytes and the file");
		ok(sha256_accel(1) == 1, "the SHA extensions back on");
	} else {
		ok(1, "# skip this CPU has no SHA extensions");
		ok(1, "# skip this CPU has no SHA extensions");
	}
}

static void
test_sha256_plain_after_load(void)
{
	char d[OCI_DIGEST_SIZE];
	long long size;
	int accel = sha256_accel(-1);
	struct sha256 h;

	sha256_accel(0);	/* libcrypto's, now it is loaded */
	sha256_init(&h);
	ok(h.ctx != NULL, "without the SHA extensions, libcrypto's context");
	sha256_final(&h, d);
	ok(plain_differ() == 0, "sha256_digest without libcrypto equals libcrypto's, for 0 to 300 bytes");
	ok(sha256_file(P("plain"), d, &size, &e) == 0, "sha256_file with libcrypto");
	is_str(plain_file, d, "... and equals it for a file over the read chunk");
	sha256_accel(accel);
}

/*
 * sha256_update2(): two digests of the same bytes, after each took
 * bytes of its own (the same number, so that the message schedule is
 * shared, and not).  Against libcrypto's two updates.
 */
static void
update2_case(size_t pre_a, size_t pre_b, size_t n, size_t split, char da[OCI_DIGEST_SIZE],
    char db[OCI_DIGEST_SIZE])
{
	unsigned char *p = plain_input(pre_a + pre_b + n);
	struct sha256 a, b;

	sha256_init(&a);
	sha256_init(&b);
	sha256_update(&a, p, pre_a);
	sha256_update(&b, p + pre_a, pre_b);
	/* in two calls: the second starts where the first left a block */
	sha256_update2(&a, &b, p + pre_a + pre_b, split);
	sha256_update2(&a, &b, p + pre_a + pre_b + split, n - split);
	sha256_final(&a, da);
	sha256_final(&b, db);
	free(p);
}

static void
test_sha256_update2(void)
{
	static const size_t pre[] = { 0, 1, 5, 63, 64, 65, 100, 128 };
	static const size_t len[] = { 0, 1, 55, 63, 64, 65, 127, 128, 129, 1000, 70001 };
	char a[OCI_DIGEST_SIZE], b[OCI_DIGEST_SIZE], ra[OCI_DIGEST_SIZE], rb[OCI_DIGEST_SIZE];
	size_t i, j, k, cases = 0, bad = 0, bad_ref = 0;
	int accel = sha256_accel(-1), pass;

	/* With the extensions (if any), then without (libcrypto). */
	for (pass = 0; pass < 2; pass++) {
		sha256_accel(pass == 0 ? accel : 0);
		for (i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
			for (j = 0; j < sizeof(pre) / sizeof(pre[0]); j++)
				for (k = 0; k < sizeof(len) / sizeof(len[0]); k++) {
					size_t n = len[k], split = n / 3;

					update2_case(pre[i], pre[j], n, split, a, b);
					sha256_accel(0);
					update2_case(pre[i], pre[j], n, 0, ra, rb);
					sha256_accel(pass == 0 ? accel : 0);
					cases++;
					if (strcmp(a, ra) != 0 || strcmp(b, rb) != 0)
						bad++;
					if (strcmp(a, b) == 0 && pre[i] != pre[j])
						bad_ref++;
				}
	}
	sha256_accel(accel);
	ok(cases == 2 * 8 * 8 * 11 && bad == 0, "sha256_update2: %zu cases, each digest that "
	    "of libcrypto's updates (%zu differ)", cases, bad);
	ok(bad_ref == 0, "sha256_update2: the two digests are kept apart");
}

static void
test_digest_valid(void)
{
	const char *good = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	static const char *bad[] = {
		"", "sha256:", "sha256:xyz",
		"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
		"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
		"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
		"sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"sha256:../../../../etc/passwd",
	};
	size_t i, nbad = 0;

	ok(digest_valid(good), "a good digest is valid");
	ok(!digest_valid(NULL), "NULL is not a digest");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!digest_valid(bad[i]))
			nbad++;
	is_int(nbad, sizeof(bad) / sizeof(bad[0]), "malformed digests are refused");
}

static void
test_desc(void)
{
	struct json_opts o = { "t", 0, 0 };
	struct oci_desc d, c;
	cJSON *j, *back;
	char *txt;
	const char *in =
	    "{\"mediaType\":\"" MT_OCI_MANIFEST "\","
	    "\"digest\":\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\","
	    "\"size\":9007199254740993,"
	    "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"},"
	    "\"annotations\":{\"" ANN_REF_NAME "\":\"v1\"}}";

	j = json_parse(in, strlen(in), &o, NULL, &e);
	ok(j && oci_desc_parse(j, "manifests[0]", &d, &e) == 0, "parse a descriptor");
	is_str(d.media_type, MT_OCI_MANIFEST, "descriptor mediaType");
	is_int(d.size, 9007199254740993LL, "size above 2^53 is exact");
	is_str(d.arch, "arm64", "platform architecture");
	is_str(d.os, "linux", "platform os");
	is_str(d.variant, "v8", "platform variant");
	is_str(json_str(d.annotations, ANN_REF_NAME), "v1", "annotations kept");
	oci_desc_copy(&c, &d);
	oci_desc_free(&d);
	ok(d.media_type == NULL && d.annotations == NULL, "oci_desc_free clears");
	back = oci_desc_json(&c);
	txt = json_print(back);
	is_str(txt, in, "oci_desc_json of a copy prints the same descriptor");
	free(txt);
	cJSON_Delete(back);
	oci_desc_free(&c);
	cJSON_Delete(j);
}

static void
test_manifest_fixtures(void)
{
	struct oci_manifest m;
	size_t len;
	char *t;

	t = slurp(DATA "oci-manifest.json", &len);
	ok(t && oci_manifest_parse(t, len, NULL, &m, &e) == 0, "OCI image manifest parses");
	ok(!m.is_index, "it is an image");
	is_str(m.media_type, MT_OCI_MANIFEST, "its media type");
	is_str(m.config.media_type, MT_OCI_CONFIG, "config media type");
	is_int(m.config.size, 1469, "config size");
	is_int(m.nlayers, 2, "two layers");
	is_int(m.layers[1].size, 9007199254740993LL, "layer size exact beyond 2^53");
	is_str(json_str(json_path(m.json, "annotations"), "org.opencontainers.image.revision"),
	    "abc123f", "the parsed document is kept");
	oci_manifest_free(&m);
	free(t);

	t = slurp(DATA "oci-index.json", &len);
	ok(t && oci_manifest_parse(t, len, NULL, &m, &e) == 0, "OCI index parses");
	ok(m.is_index, "it is an index");
	is_int(m.nlayers, 2, "two manifests");
	is_str(m.layers[1].variant, "v8", "platform variant of manifests[1]");
	is_str(json_str(m.layers[1].annotations, ANN_REF_NAME), "v1-arm64", "entry annotations");
	oci_manifest_free(&m);
	free(t);

	t = slurp(DATA "oci-docker-manifest.json", &len);
	ok(t && oci_manifest_parse(t, len, NULL, &m, &e) == 0, "Docker schema 2 manifest parses");
	is_str(m.media_type, MT_DOCKER_MANIFEST, "docker media type");
	ok(!m.is_index && m.nlayers == 3, "an image with three layers");
	is_str(m.config.media_type, MT_DOCKER_CONFIG, "docker config type");
	oci_manifest_free(&m);
	free(t);

	t = slurp(DATA "oci-docker-list.json", &len);
	ok(t && oci_manifest_parse(t, len, NULL, &m, &e) == 0, "Docker manifest list parses");
	ok(m.is_index && m.nlayers == 2, "an index of two");
	is_str(m.layers[0].arch, "ppc64le", "platform of the first");
	oci_manifest_free(&m);
	free(t);

	t = slurp(DATA "oci-schema1.json", &len);
	ok(t && oci_manifest_parse(t, len, NULL, &m, &e) == -1, "schema 1 is refused");
	is_str(e.msg, "schema 1 manifests are not supported", "schema 1 message");
	is_int(e.code, EX_USAGE_, "schema 1 code");
	ok(m.json == NULL && m.layers == NULL, "nothing is left allocated on error");
	free(t);
}

#define D0 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define D1 "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define CFG "\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"digest\":\"" D0 "\",\"size\":0}"
#define L0 "{\"mediaType\":\"" MT_OCI_LAYER_GZIP "\",\"digest\":\"" D1 "\",\"size\":3}"

static void
test_manifest_errors(void)
{
	is_str(perr("{\"schemaVersion\":2," CFG ",\"layers\":[" L0 "]}", NULL), "(ok)",
	    "no mediaType: an image by its shape");
	is_str(perr("{\"schemaVersion\":2,\"manifests\":[" L0 "]}", NULL), "(ok)",
	    "no mediaType: an index by its shape");
	is_str(perr("{\"schemaVersion\":2," CFG ",\"layers\":[]}", NULL), "(ok)",
	    "an image with no layers is fine (umoci new makes them)");
	is_str(perr("{\"schemaVersion\":2," CFG ",\"layers\":[" L0 "]}",
	    MT_DOCKER_MANIFEST "; charset=utf-8"), "(ok)", "hint with parameters");
	{
		struct oci_manifest m;
		const char *t = "{\"schemaVersion\":2," CFG ",\"layers\":[" L0 "]}";

		ok(oci_manifest_parse(t, strlen(t), MT_DOCKER_MANIFEST, &m, &e) == 0 &&
		    strcmp(m.media_type, MT_DOCKER_MANIFEST) == 0,
		    "the Content-Type hint names the type when the field is absent");
		oci_manifest_free(&m);
		ok(oci_manifest_parse(t, strlen(t), "application/octet-stream", &m, &e) == 0 &&
		    strcmp(m.media_type, MT_OCI_MANIFEST) == 0 && !m.is_index,
		    "a generic hint falls back to the shape");
		oci_manifest_free(&m);
	}
	is_str(perr("{\"schemaVersion\":1,\"fsLayers\":[]}", NULL),
	    "schema 1 manifests are not supported", "schemaVersion 1");
	is_str(perr("{\"schemaVersion\":2}", "application/vnd.docker.distribution.manifest.v1+prettyjws"),
	    "schema 1 manifests are not supported", "schema 1 by Content-Type");
	is_str(perr("{\"mediaType\":\"" MT_OCI_MANIFEST "\"," CFG ",\"layers\":[]}", NULL),
	    "schemaVersion: missing", "schemaVersion missing");
	is_str(perr("{\"schemaVersion\":3," CFG ",\"layers\":[]}", NULL),
	    "schemaVersion: expected 2", "schemaVersion 3");
	is_str(perr("{\"schemaVersion\":2,\"mediaType\":\"text/plain\"," CFG ",\"layers\":[]}", NULL),
	    "mediaType: unsupported manifest media type 'text/plain'", "unknown mediaType");
	is_str(perr("{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\",\"layers\":[]}", NULL),
	    "config: missing", "missing config");
	is_str(perr("{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\"," CFG "}", NULL),
	    "layers: missing", "missing layers");
	is_str(perr("{\"schemaVersion\":2,\"config\":\"x\",\"layers\":[]}", NULL),
	    "config: expected an object", "config of the wrong type");
	is_str(perr("{\"schemaVersion\":2," CFG ",\"layers\":{}}", NULL),
	    "layers: expected an array", "layers of the wrong type");
	is_str(perr("{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\"}", NULL),
	    "manifests: missing", "index without manifests");
	is_str(perr("{\"schemaVersion\":2," CFG ",\"layers\":[" L0 ",{\"mediaType\":\"x\","
	    "\"digest\":\"sha256:xyz\",\"size\":1}]}", NULL),
	    "layers[1].digest: 'sha256:xyz' is not a valid sha256 digest", "invalid digest");
	is_str(perr("{\"schemaVersion\":2," CFG ",\"layers\":[{\"mediaType\":\"x\","
	    "\"digest\":\"sha512:abc\",\"size\":1}]}", NULL),
	    "layers[0].digest: digest algorithm 'sha512' is not supported (only sha256)",
	    "other digest algorithms");
	is_str(perr("{\"schemaVersion\":2," CFG ",\"layers\":[{\"mediaType\":\"x\","
	    "\"digest\":\"" D1 "\",\"size\":-1}]}", NULL),
	    "layers[0].size: -1 is negative", "negative size");
	is_str(perr("{\"schemaVersion\":2," CFG ",\"layers\":[{\"mediaType\":\"x\","
	    "\"digest\":\"" D1 "\",\"size\":\"3\"}]}", NULL),
	    "layers[0].size: expected an integer", "size as a string");
	is_str(perr("{\"schemaVersion\":2," CFG ",\"layers\":[{\"mediaType\":\"x\","
	    "\"digest\":\"" D1 "\",\"size\":1.5}]}", NULL),
	    "layers[0].size: expected an integer", "fractional size");
	is_str(perr("{\"schemaVersion\":2," CFG ",\"layers\":[{\"mediaType\":\"x\","
	    "\"digest\":\"" D1 "\"}]}", NULL),
	    "layers[0].size: missing", "missing size");
	is_str(perr("{\"schemaVersion\":2," CFG ",\"layers\":[{\"digest\":\"" D1 "\",\"size\":1}]}",
	    NULL), "layers[0].mediaType: missing", "missing descriptor mediaType");
	is_str(perr("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" D1
	    "\",\"size\":1,\"platform\":{\"os\":3}}]}", NULL),
	    "manifests[0].platform.os: expected a string", "platform os of the wrong type");
	is_str(perr("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" D1
	    "\",\"size\":1,\"annotations\":{\"a\":1}}]}", NULL),
	    "manifests[0].annotations['a']: expected a string", "annotation value not a string");
	is_str(perr("{\"schemaVersion\":2,\"manifests\":[3]}", NULL),
	    "manifests[0]: expected an object", "descriptor not an object");
	like(perr("{\"schemaVersion\":2,\n  \"layers\": [}", NULL), "manifest:2:",
	    "bad JSON gives line and column");
	is_str(perr("[1]", NULL), "manifest: expected a JSON object", "not an object");
}

/* Build a two-layer image in layout l; returns the manifest descriptor. */
static void
build_image(struct oci_layout *l, struct oci_desc *md, const char *tag,
    char cfg[OCI_DIGEST_SIZE], char lay[2][OCI_DIGEST_SIZE], long long bad_size)
{
	const char *config = "{\"architecture\":\"amd64\",\"os\":\"linux\","
	    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
	const char *layer0 = "layer zero bytes", *layer1 = "the second layer, a bit longer";
	char *text;

	ok(oci_blob_put(l, config, strlen(config), cfg, &e) == 0, "put config blob");
	ok(oci_blob_put(l, layer0, strlen(layer0), lay[0], &e) == 0, "put layer 0");
	ok(oci_blob_put(l, layer1, strlen(layer1), lay[1], &e) == 0, "put layer 1");
	text = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\","
	    "\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu},"
	    "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu},"
	    "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%lld}]}",
	    MT_OCI_MANIFEST, MT_OCI_CONFIG, cfg, strlen(config),
	    MT_OCI_LAYER_GZIP, lay[0], strlen(layer0),
	    MT_OCI_LAYER_GZIP, lay[1], bad_size >= 0 ? bad_size : (long long)strlen(layer1));
	memset(md, 0, sizeof(*md));
	md->media_type = xstrdup(MT_OCI_MANIFEST);
	md->size = (long long)strlen(text);
	ok(oci_blob_put(l, text, strlen(text), md->digest, &e) == 0, "put manifest");
	oci_index_add(l, md, tag);
	free(text);
}

static void
test_layout(void)
{
	struct oci_layout l, l2;
	struct oci_desc md, md2, found;
	struct oci_manifest m;
	char cfg[OCI_DIGEST_SIZE], lay[2][OCI_DIGEST_SIZE], cfg2[OCI_DIGEST_SIZE];
	char lay2[2][OCI_DIGEST_SIZE], *txt, *want, *path, *data, tmp[4200];
	size_t len;
	char lo[1024];

	snprintf(lo, sizeof(lo), "%s", P("img"));

	ok(oci_layout_create(&l, lo, &e) == 0, "create a layout");
	txt = slurp(P("img/oci-layout"), NULL);
	is_str(txt, "{\"imageLayoutVersion\":\"1.0.0\"}", "oci-layout content");
	free(txt);
	txt = slurp(P("img/index.json"), NULL);
	is_str(txt, "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":[]}",
	    "empty index.json");
	free(txt);
	{
		struct stat st;

		ok(stat(P("img/blobs/sha256"), &st) == 0 && S_ISDIR(st.st_mode),
		    "blobs/sha256 exists");
	}
	ok(oci_layout_find(&l, NULL, &found, &e) == -1, "empty layout: find fails");
	like(e.msg, "holds no image", "empty layout message");

	build_image(&l, &md, "v1", cfg, lay, -1);
	path = oci_blob_path(&l, lay[0]);
	snprintf(tmp, sizeof(tmp), "%s/blobs/sha256/%s", lo, lay[0] + 7);
	is_str(path, tmp, "oci_blob_path");
	free(path);
	ok(oci_blob_path(&l, "sha256:../../x") == NULL, "no path from a bad digest");
	ok(oci_blob_exists(&l, lay[1]), "blob exists");
	ok(!oci_blob_exists(&l, D1) && !oci_blob_exists(&l, "sha256:zz"), "others do not");
	ok(oci_blob_put(&l, "layer zero bytes", 16, tmp, &e) == 0 && strcmp(tmp, lay[0]) == 0,
	    "putting the same blob again is fine");

	/* A second image sharing the config, wrong size for layer 1. */
	build_image(&l, &md2, "bad-size", cfg2, lay2, 99);
	ok(oci_index_write(&l, &e) == 0, "write index.json");
	txt = slurp(P("img/index.json"), NULL);
	want = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":["
	    "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%lld,"
	    "\"annotations\":{\"%s\":\"v1\"}},"
	    "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%lld,"
	    "\"annotations\":{\"%s\":\"bad-size\"}}]}",
	    MT_OCI_INDEX, MT_OCI_MANIFEST, md.digest, md.size, ANN_REF_NAME,
	    MT_OCI_MANIFEST, md2.digest, md2.size, ANN_REF_NAME);
	is_str(txt, want, "index.json is compact, in a fixed key order, in insertion order");
	free(want);
	free(txt);

	/* Re-tagging replaces in place; an untagged add of a listed digest
	 * does not duplicate it. */
	oci_index_add(&l, &md2, "v1");
	oci_index_add(&l, &md, "v1");
	oci_index_add(&l, &md, NULL);
	oci_index_add(&l, &md, NULL);
	is_int(cJSON_GetArraySize(json_path(l.index, "manifests")), 3,
	    "re-tagging replaces; untagged digest listed once");
	is_str(json_str(json_path(l.index, "manifests[0]"), "digest"), md.digest,
	    "v1 kept its position");
	cJSON_DeleteItemFromArray(json_path(l.index, "manifests"), 2);
	oci_layout_close(&l);

	ok(oci_layout_open(&l2, lo, &e) == 0, "reopen the layout");
	ok(oci_layout_find(&l2, "v1", &found, &e) == 0, "find by tag");
	is_str(found.digest, md.digest, "tag v1 gives the manifest");
	is_int(found.size, md.size, "and its size");
	is_str(found.media_type, MT_OCI_MANIFEST, "and its media type");
	oci_desc_free(&found);
	ok(oci_layout_find(&l2, md2.digest, &found, &e) == 0, "find by digest");
	is_str(json_str(found.annotations, ANN_REF_NAME), "bad-size", "the right entry");
	oci_desc_free(&found);
	ok(oci_layout_find(&l2, "v9", &found, &e) == -1, "unknown tag");
	snprintf(tmp, sizeof(tmp), "no tag 'v9' in '%s' (tags: 'v1', 'bad-size')", lo);
	is_str(e.msg, tmp, "unknown tag lists the tags");
	is_int(e.code, EX_USAGE_, "unknown tag code");
	ok(oci_layout_find(&l2, D1, &found, &e) == -1, "unknown digest");
	like(e.msg, "no manifest " D1, "unknown digest message");
	ok(oci_layout_find(&l2, "sha256:xyz", &found, &e) == -1, "malformed digest ref");
	is_str(e.msg, "'sha256:xyz' is not a valid sha256 digest", "malformed digest message");
	ok(oci_layout_find(&l2, NULL, &found, &e) == -1, "no ref, two manifests");
	like(e.msg, "holds 2 manifests: name one by tag or digest (tags: 'v1', 'bad-size')",
	    "no-ref message");

	ok(oci_image_check(&l2, &md, &m, &e) == 0, "image check passes");
	is_int(m.nlayers, 2, "check fills the manifest");
	is_str(m.config.digest, cfg, "config digest");
	oci_manifest_free(&m);
	ok(oci_image_check(&l2, &md2, NULL, &e) == -1, "image with a wrong layer size fails");
	snprintf(tmp, sizeof(tmp), "size mismatch for %s (layers[1]): blob has 30 bytes, "
	    "descriptor says 99", lay2[1]);
	is_str(e.msg, tmp, "wrong size message");
	is_int(e.code, EX_IOERR_, "wrong size code");

	data = oci_blob_read(&l2, cfg, -1, 1024, &len, &e);
	ok(data && strncmp(data, "{\"architecture\"", 15) == 0, "read a small blob");
	free(data);
	ok(oci_blob_read(&l2, cfg, -1, 10, &len, &e) == NULL, "read past max fails");
	like(e.msg, "more than the 10-byte limit", "max message");
	ok(oci_blob_read(&l2, cfg, 5, 0, &len, &e) == NULL, "read with the wrong size fails");
	like(e.msg, "size mismatch for ", "read size message");
	ok(oci_blob_verify(&l2, lay[1], 30, &e) == 0, "verify a layer");

	/* Adopt: a temp file moved in under its digest. */
	snprintf(tmp, sizeof(tmp), "%s/blobs/upload.tmp", lo);
	ok(puts_file(tmp, "adopted content") == 0, "write a temp file");
	{
		char d[OCI_DIGEST_SIZE];

		sha256_digest("adopted content", 15, d);
		ok(oci_blob_adopt(&l2, tmp, "sha256:nothex", &e) == -1, "adopt refuses a bad digest");
		like(e.msg, "'sha256:nothex' is not a valid sha256 digest", "adopt message");
		ok(access(tmp, F_OK) == 0, "temp file left in place");
		ok(oci_blob_adopt(&l2, tmp, d, &e) == 0, "adopt a temp file");
		ok(access(tmp, F_OK) != 0 && oci_blob_verify(&l2, d, 15, &e) == 0,
		    "the temp file is now the blob");
		ok(oci_blob_adopt(&l2, tmp, d, &e) == -1, "adopting a missing file fails");
		like(e.msg, "cannot open", "missing temp message");
	}

	/* Corruption: one byte changed in layer 0. */
	path = oci_blob_path(&l2, lay[0]);
	ok(puts_file(path, "layer zero bytez") == 0, "change one byte of layer 0");
	ok(oci_image_check(&l2, &md, NULL, &e) == -1, "image check catches it");
	{
		char d[OCI_DIGEST_SIZE];

		sha256_digest("layer zero bytez", 16, d);
		snprintf(tmp, sizeof(tmp), "digest mismatch for %s (layers[0]): content hashes "
		    "to %s", lay[0], d);
	}
	is_str(e.msg, tmp, "digest mismatch message");
	ok(unlink(path) == 0, "delete layer 0");
	ok(oci_image_check(&l2, &md, NULL, &e) == -1, "image check catches a missing layer");
	snprintf(tmp, sizeof(tmp), "blob %s (layers[0]) is missing from '%s'", lay[0], lo);
	is_str(e.msg, tmp, "missing layer message");
	free(path);
	path = oci_blob_path(&l2, md.digest);
	ok(unlink(path) == 0, "delete the manifest");
	ok(oci_image_check(&l2, &md, NULL, &e) == -1, "image check catches a missing manifest");
	snprintf(tmp, sizeof(tmp), "blob %s (manifest) is missing from '%s'", md.digest, lo);
	is_str(e.msg, tmp, "missing manifest message");
	ok(puts_file(path, "{\"schemaVersion\":2}") == 0, "a manifest that does not parse");
	md.size = 19;
	{
		char d[OCI_DIGEST_SIZE], *np = oci_blob_path(&l2, (sha256_digest(
		    "{\"schemaVersion\":2}", 19, d), d));

		ok(rename(path, np) == 0, "stored under its own digest");
		memcpy(md.digest, d, sizeof(d));
		free(np);
	}
	ok(oci_image_check(&l2, &md, NULL, &e) == -1, "image check refuses a bad manifest");
	snprintf(tmp, sizeof(tmp), "manifest %s: config: missing", md.digest);
	is_str(e.msg, tmp, "bad manifest message names it");
	free(path);
	oci_layout_close(&l2);
	oci_desc_free(&md);
	oci_desc_free(&md2);
}

static void
test_index_check(void)
{
	struct oci_layout l;
	struct oci_desc md, idx;
	struct oci_manifest m;
	char cfg[OCI_DIGEST_SIZE], lay[2][OCI_DIGEST_SIZE], tmp[4200], *text, lo[1024];
	cJSON *j, *arr;

	snprintf(lo, sizeof(lo), "%s", P("multi"));

	ok(oci_layout_create(&l, lo, &e) == 0, "create a second layout");
	build_image(&l, &md, NULL, cfg, lay, -1);
	cJSON_DeleteItemFromArray(json_path(l.index, "manifests"), 0);
	j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "schemaVersion", 2);
	cJSON_AddStringToObject(j, "mediaType", MT_OCI_INDEX);
	arr = cJSON_AddArrayToObject(j, "manifests");
	md.arch = xstrdup("amd64");
	md.os = xstrdup("linux");
	cJSON_AddItemToArray(arr, oci_desc_json(&md));
	free(md.arch);
	md.arch = xstrdup("arm64");
	memcpy(md.digest, D1, sizeof(D1));	/* not present locally: skipped */
	cJSON_AddItemToArray(arr, oci_desc_json(&md));
	text = json_print(j);
	cJSON_Delete(j);
	memset(&idx, 0, sizeof(idx));
	idx.media_type = xstrdup(MT_OCI_INDEX);
	idx.size = (long long)strlen(text);
	ok(oci_blob_put(&l, text, strlen(text), idx.digest, &e) == 0, "put an index blob");
	free(text);
	oci_index_add(&l, &idx, "multi");
	ok(oci_index_write(&l, &e) == 0, "write index.json");
	ok(oci_image_check(&l, &idx, &m, &e) == 0, "index check passes (absent platform skipped)");
	ok(m.is_index && m.nlayers == 2, "check fills the index");
	oci_manifest_free(&m);
	text = oci_blob_path(&l, lay[1]);
	unlink(text);
	free(text);
	ok(oci_image_check(&l, &idx, NULL, &e) == -1, "index check recurses");
	snprintf(tmp, sizeof(tmp), "blob %s (manifests[0] layers[1]) is missing from '%s'",
	    lay[1], lo);
	is_str(e.msg, tmp, "nested message names the path");
	oci_layout_close(&l);
	oci_desc_free(&md);
	oci_desc_free(&idx);
}

static void
test_layout_errors(void)
{
	struct oci_layout l;
	char want[4400], lo[1024];

	snprintf(lo, sizeof(lo), "%s", P("broken"));

	ok(oci_layout_create(&l, lo, &e) == 0, "create a layout to break");
	oci_layout_close(&l);
	is_str(load_err(lo), "(ok)", "it opens");

	ok(puts_file(P("broken/index.json"), "{\"schemaVersion\":2,\n\"manifests\":[,]}") == 0,
	    "bad JSON in index.json");
	like(load_err(lo), "broken/index.json:2:", "bad index.json names file:line");
	ok(puts_file(P("broken/index.json"), "{\"schemaVersion\":2,\"manifests\":{}}") == 0,
	    "manifests not an array");
	like(load_err(lo), "index.json: manifests: expected an array", "manifests type message");
	ok(puts_file(P("broken/index.json"), "{\"schemaVersion\":2,\"manifests\":[\n"
	    "{\"mediaType\":\"x\",\"digest\":\"sha256:1\",\"size\":1}]}") == 0,
	    "a bad entry in index.json");
	like(load_err(lo), "broken/index.json:2:1: manifests[0].digest: 'sha256:1' is not a "
	    "valid sha256 digest", "bad entry message has file:line:col");
	ok(puts_file(P("broken/index.json"), "{\"schemaVersion\":2,\"manifests\":[]}") == 0,
	    "repair index.json (no mediaType, as umoci writes it)");
	is_str(load_err(lo), "(ok)", "it opens again");

	ok(puts_file(P("broken/oci-layout"), "{\"imageLayoutVersion\":\"2.0.0\"}") == 0,
	    "wrong imageLayoutVersion");
	snprintf(want, sizeof(want), "%s/oci-layout: imageLayoutVersion is '2.0.0', expected "
	    "'1.0.0'", lo);
	is_str(load_err(lo), want, "version message");
	ok(puts_file(P("broken/oci-layout"), "{}") == 0, "imageLayoutVersion missing");
	like(load_err(lo), "imageLayoutVersion: missing", "missing version message");
	ok(puts_file(P("broken/oci-layout"), "{\"imageLayoutVersion\"") == 0, "oci-layout bad JSON");
	like(load_err(lo), "oci-layout:1:", "bad oci-layout names file:line");
	unlink(P("broken/oci-layout"));
	snprintf(want, sizeof(want), "'%s' is not an OCI layout: it has no 'oci-layout' file", lo);
	is_str(load_err(lo), want, "missing oci-layout message");
	is_int(e.code, EX_USAGE_, "missing oci-layout code");
	like(load_err(P("nowhere")), "no OCI layout at '", "missing directory message");

	/* create on a half-made layout completes it */
	ok(oci_layout_create(&l, lo, &e) == 0, "create completes a half-made layout");
	oci_layout_close(&l);
	is_str(load_err(lo), "(ok)", "and it opens");
}

static void
test_umoci(void)
{
	struct oci_layout l;
	struct oci_desc d;
	struct oci_manifest m;
	char cmd[9000], line[512];
	int ours;

	if (system("umoci --version >/dev/null 2>&1") != 0) {
		ok(1, "# skip umoci not installed");
		return;
	}
	ok(puts_file(P("hello.txt"), "hello\n") == 0, "a file to insert");
	snprintf(cmd, sizeof(cmd), "cd '%s' && umoci init --layout u >/dev/null 2>&1 && "
	    "umoci new --image u:t1 >/dev/null 2>&1 && "
	    "umoci insert --image u:t1 hello.txt /hello.txt >/dev/null 2>&1 && "
	    "umoci new --image u:t2 >/dev/null 2>&1", dir);
	ok(system(cmd) == 0, "umoci builds a layout with tags t1 and t2");
	ok(oci_layout_open(&l, P("u"), &e) == 0, "we open umoci's layout");
	ok(oci_layout_find(&l, "t1", &d, &e) == 0, "find t1");
	err_clear(&e);
	if (!ok(oci_image_check(&l, &d, &m, &e) == 0, "umoci's image passes our check"))
		printf("# %s\n", e.msg);
	is_int(m.nlayers, 1, "t1 has the inserted layer");
	is_str(m.media_type, MT_OCI_MANIFEST, "an OCI manifest");
	oci_manifest_free(&m);
	oci_desc_free(&d);

	/* We add a blob and a tag; umoci must still read the layout. */
	ok(oci_layout_find(&l, "t2", &d, &e) == 0, "find t2");
	oci_index_add(&l, &d, "ours");
	ours = oci_index_write(&l, &e) == 0;
	ok(ours, "we rewrite umoci's index.json with a new tag");
	oci_desc_free(&d);
	oci_layout_close(&l);
	snprintf(cmd, sizeof(cmd), "umoci ls --layout '%s' 2>&1 | sort | tr '\\n' ' '", P("u"));
	run_line(cmd, line, sizeof(line));
	is_str(line, "ours t1 t2 ", "umoci lists our tag beside its own");
	snprintf(cmd, sizeof(cmd), "umoci stat --image '%s:ours' >/dev/null 2>&1", P("u"));
	ok(system(cmd) == 0, "umoci stats the image through our tag");
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	struct err ce = { 0, "" };

	log_init("oci.t");
	snprintf(dir, sizeof(dir), "%s/oci.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_sha256_init_before_load();
	test_sha256_plain_before_load();
	/* The rest needs libcrypto (core/crypto-load.h). */
	if (crypto_load(&ce) < 0) {
		printf("Bail out! %s\n", ce.msg);
		return 1;
	}
	test_sha256_plain_after_load();
	test_sha256_update2();
	test_sha256();
	test_digest_valid();
	test_desc();
	test_manifest_fixtures();
	test_manifest_errors();
	test_layout();
	test_index_check();
	test_layout_errors();
	test_umoci();
	rm_rf(dir);
	return done_testing();
}
