/*
 * Registry auth files (containers-auth.json, Docker's config.json):
 * net/auth's auth_find() with the input as --authfile (it takes a path),
 * for a registry with a port and for docker.io, then auth_basic() of what
 * it found.  PATH is an empty directory, so that a credHelpers or
 * credsStore entry names a helper that cannot start, never one that runs.
 */
#include "net/auth.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const registries[] = { "registry.example:5000", "docker.io" };
	static char path[4200];
	struct auth_sources s = { NULL, NULL, path };
	size_t i;

	fuzz_init();
	if (!path[0]) {
		char bin[4200];

		snprintf(bin, sizeof(bin), "%s/bin", fuzz_dir());
		if (mkdir(bin, 0700) < 0)
			abort();
		setenv("PATH", bin, 1);
		unsetenv("CI_REGISTRY_USER");
		unsetenv("CI_REGISTRY_PASSWORD");
		unsetenv("CI_REGISTRY");
	}
	snprintf(path, sizeof(path), "%s", fuzz_file("auth.json", data, size));
	for (i = 0; i < sizeof(registries) / sizeof(*registries); i++) {
		struct auth_creds c;
		struct err e = { 0, "" };

		memset(&c, 0, sizeof(c));
		if (auth_find(&s, registries[i], &c, &e) == 1) {
			char who[512];

			free_secret(auth_basic(&c));
			auth_describe(&c, who, sizeof(who));
		}
		auth_creds_free(&c);
	}
	return 0;
}
