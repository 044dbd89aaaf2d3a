/* Rollout specs: rollout/spec's rollout_spec_load() over the defaults
 * (it takes a path), then rollout_spec_check() of what it accepted. */
#include "rollout/spec.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rollout_spec s;
	struct err e = { 0, "" };

	fuzz_init();
	rollout_spec_init(&s);
	if (rollout_spec_load(&s, fuzz_file("rollout.json", data, size), &e) == 0)
		rollout_spec_check(&s, &e);
	rollout_spec_free(&s);
	return 0;
}
