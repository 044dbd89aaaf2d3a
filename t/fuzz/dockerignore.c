/* .dockerignore: image/dockerignore's dockerignore_parse(), then the
 * patterns it kept against a few paths, and path_clean() of the text. */
#include "image/dockerignore.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {
		"a", "a/b", "a/b/c.txt", "node_modules/x/y.js", ".git/HEAD", "src/main.c",
		"build", "[x]/*?", "a/.hidden", "very/deep/path/to/some/file.go"
	};
	struct dockerignore d;
	struct err e = { 0, "" };
	size_t i;

	fuzz_init();
	if (dockerignore_parse(&d, (const char *)data, size, ".dockerignore", &e) == 0) {
		for (i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
			dockerignore_excluded(&d, paths[i]);
			dockerignore_may_include_under(&d, paths[i]);
		}
	}
	dockerignore_free(&d);
	{
		char *s = fuzz_str(data, size), *c = path_clean(s);

		free(c);
		free(s);
	}
	return 0;
}
