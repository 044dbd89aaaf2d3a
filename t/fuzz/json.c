/* Our JSON reader, under every document, spec and answer above:
 * core/json's json_parse() with and without comments, positions
 * recorded, json_where() of the root and json_print() of what it built. */
#include "core/json.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int comments;

	fuzz_init();
	for (comments = 0; comments < 2; comments++) {
		struct json_opts o = { "input.json", comments, 0 };
		struct json_src src = { NULL, NULL, 0, 0 };
		struct err e = { 0, "" };
		cJSON *j = json_parse((const char *)data, size, &o, &src, &e);

		if (j) {
			char where[256];
			long long n;

			json_where(&src, j, where, sizeof(where));
			free(json_print(j));
			json_get_i64(j, &n);
			json_path(j, "a.b[0]");
			cJSON_Delete(j);
		}
		json_src_free(&src);
	}
	return 0;
}
