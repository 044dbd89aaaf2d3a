/* Hurl files: smoke/hurl's hurl_parse() (regular expressions and JSONPath
 * compiled on the way). */
#include "smoke/hurl.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hurl_file f;
	struct err e = { 0, "" };

	fuzz_init();
	hurl_parse((const char *)data, size, "smoke.hurl", &f, &e);
	hurl_file_free(&f);
	return 0;
}
