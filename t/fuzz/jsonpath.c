/* JSONPath: format/jsonpath's jsonpath_compile() of the input, then
 * jsonpath_eval() on a fixed document with something for each segment. */
#include "core/json.h"
#include "format/jsonpath.h"
#include "fuzz.h"

static const char doc_text[] =
    "{\"store\": {\"book\": [{\"category\": \"reference\", \"author\": \"Nigel\","
    " \"price\": 8.95, \"tags\": [\"a\", \"b\"]}, {\"category\": \"fiction\","
    " \"author\": \"Evelyn\", \"price\": 12.99, \"isbn\": \"0-553\"}, {\"price\": null,"
    " \"a.b\": {\"c\": [1, 2, [3, 4]]}}], \"bicycle\": {\"color\": \"red\", \"price\": 19.95}},"
    " \"n\": 3, \"t\": true, \"f\": false, \"z\": null, \"s\": \"\", \"e\": [], \"o\": {},"
    " \"deep\": [[[[[[[[[[{\"x\": 1}]]]]]]]]]], \"num\": 12345678901234567890,"
    " \"results\": [{\"id\": 1, \"ok\": true}, {\"id\": 2, \"ok\": false}, {\"id\": -1}]}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static cJSON *doc;
	struct jsonpath *p = NULL;
	struct err e = { 0, "" };
	char *expr;

	fuzz_init();
	if (!doc && !(doc = json_parse(doc_text, strlen(doc_text), NULL, NULL, &e)))
		abort();
	expr = fuzz_str(data, size);
	if (jsonpath_compile(expr, &p, &e) == 0) {
		const cJSON **out = NULL;
		size_t n = 0;

		jsonpath_definite(p);
		if (jsonpath_eval(p, doc, &out, &n, &e) == 0)
			free(out);
		jsonpath_free(p);
	}
	free(expr);
	return 0;
}
