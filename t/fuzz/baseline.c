/*
 * Baselines of the secret scanner (the fingerprints its SARIF findings
 * carry): gate/secrets-rules' secrets_baseline_load() of the input (it
 * takes a path), then a lookup.  The public way in, secrets_new(),
 * compiles every rule first: ten inputs a second under ASan.
 */
#include "gate/secrets-rules.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct secrets_baseline b;
	struct err e = { 0, "" };

	fuzz_init();
	if (secrets_baseline_load(&b, fuzz_file("baseline.json", data, size), &e) == 0)
		secrets_baseline_has(&b, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	secrets_baseline_free(&b);
	return 0;
}
