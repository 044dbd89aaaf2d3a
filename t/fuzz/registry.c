/*
 * Registry answers: net/registry's registry_pull() and registry_resolve()
 * against a server in this process (serve.h) whose answers are the input,
 * raw HTTP responses cut at "--next--" lines, one per request in turn:
 * the /v2/ ping and its WWW-Authenticate challenge, a token answer (a
 * realm may say http://127.0.0.1:{{port}}/...), manifests and indexes
 * (oci/oci through the client), error bodies.  One attempt per request,
 * anonymous (no auth file), no blob-location cache.
 */
#include "net/registry.h"
#include "oci/oci.h"
#include "fuzz.h"
#include "serve.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char ref[64];
	static struct oci_layout l;
	struct registry_opts o;
	struct registry *r;
	struct oci_desc d;
	struct err e = { 0, "" };
	char idx[OCI_DIGEST_SIZE];

	fuzz_init();
	if (!ref[0]) {
		/* No credentials from the environment or a home directory. */
		setenv("HOME", fuzz_dir(), 1);
		unsetenv("DOCKER_CONFIG");
		unsetenv("REGISTRY_AUTH_FILE");
		unsetenv("CI_REGISTRY_USER");
		unsetenv("CI_REGISTRY_PASSWORD");
		unsetenv("CI_REGISTRY");
		snprintf(ref, sizeof(ref), "127.0.0.1:%d/team/app:v1",
		    serve_start(SERVE_HTTP, NULL, 0));
		{
			char dir[4200];

			snprintf(dir, sizeof(dir), "%s/layout", fuzz_dir());
			if (oci_layout_create(&l, dir, &e) < 0) {
				fprintf(stderr, "%s\n", e.msg);
				abort();
			}
		}
	}
	registry_opts_init(&o);
	o.retries = 1;
	o.stall_timeout_ms = 5000;
	o.no_cache = 1;

	serve_set(data, size);
	r = registry_new(&o);
	if (registry_pull(r, ref, &l, &d, idx, &e) == 0)
		oci_desc_free(&d);
	registry_free(r);

	serve_set(data, size);
	r = registry_new(&o);
	if (registry_resolve(r, ref, &d, &e) == 0)
		oci_desc_free(&d);
	registry_free(r);
	registry_opts_free(&o);
	return 0;
}
