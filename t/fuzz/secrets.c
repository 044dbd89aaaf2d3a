/* The secret scanner's reading of a file: gate/secrets'
 * secrets_scan_text() with the built-in rules, then the findings as the
 * document holds them. */
#include "gate/secrets.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct secrets *s;
	static struct secrets_opts o;
	struct secrets_result r;
	struct err e = { 0, "" };

	fuzz_init();
	if (!s) {
		secrets_opts_init(&o);
		if (!(s = secrets_new(&o, &e))) {
			fprintf(stderr, "%s\n", e.msg);
			abort();
		}
	}
	memset(&r, 0, sizeof(r));
	secrets_scan_text(s, "src/config.py", (const char *)data, size, NULL, &r);
	cJSON_Delete(secrets_findings_json(&r));
	cJSON_Delete(secrets_stats_json(&r, &o));
	secrets_result_free(&r);
	return 0;
}
