/* The rollout snapshot ci-canary resumes from: rollout/state's
 * rollout_state_load() of the input as DIR/canary/APP.json, then a reset
 * and save of what it read, as a rollout that starts again does. */
#include "rollout/state.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rollout_state st;
	struct err e = { 0, "" };

	fuzz_init();
	if (rollout_state_open(&st, fuzz_dir(), "shop", 0, &e) < 0)
		abort();
	fuzz_file("canary/shop.json", data, size);
	if (rollout_state_load(&st, &e) == 1) {
		rollout_state_reset(&st, "registry.example/shop:2.4.2");
		rollout_state_save(&st, &e);
	}
	rollout_state_free(&st);
	return 0;
}
