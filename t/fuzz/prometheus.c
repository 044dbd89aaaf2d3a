/* Prometheus answers: rollout/metrics' prometheus_parse() of an
 * /api/v1/query body. */
#include "rollout/metrics.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e = { 0, "" };
	double v;

	fuzz_init();
	prometheus_parse((const char *)data, size, "prometheus", &v, &e);
	return 0;
}
