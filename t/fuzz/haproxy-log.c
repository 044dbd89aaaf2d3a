/* HAProxy's request log: rollout/metrics' haproxy_log_parse() of one
 * syslog datagram. */
#include "rollout/metrics.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char backend[128], server[128];
	long status;
	long long ta;

	fuzz_init();
	haproxy_log_parse((const char *)data, size, backend, server, &status, &ta);
	return 0;
}
