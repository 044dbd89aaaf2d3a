/* Gate specs: gate/spec's gate_spec_load() (it takes a path), then
 * gate/dag's gate_resolve() and the dry run's plan of what it accepted. */
#include "core/buf.h"
#include "gate/dag.h"
#include "gate/spec.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gate g;
	struct err e = { 0, "" };

	fuzz_init();
	gate_init(&g);
	if (gate_spec_load(&g, fuzz_file("gates.json", data, size), &e) == 0 &&
	    gate_resolve(&g, &e) == 0) {
		struct buf plan = BUF_INIT;

		gate_plan(&g, 0, &plan);
		buf_free(&plan);
	}
	gate_free(&g);
	return 0;
}
