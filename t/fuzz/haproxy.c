/*
 * HAProxy's runtime API answers: rollout/haproxy's hap_stat_parse() of
 * the input as "show stat" CSV, then each command's reader against a
 * Unix socket in this process (serve.h) that answers with the input:
 * "show stat", "show info", "get weight", "show map" and "show servers
 * state" (written to a file when it has the right version).
 */
#include "rollout/haproxy.h"
#include "fuzz.h"
#include "serve.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char sock[4200], state[4200];
	struct haproxy h;
	struct hap_stat st;
	struct err e = { 0, "" };
	char *csv, *v;
	long long pid, up;
	int cur, init;

	fuzz_init();
	if (!sock[0]) {
		serve_start(SERVE_HAPROXY, sock, sizeof(sock));
		snprintf(state, sizeof(state), "%s/server-state", fuzz_dir());
	}
	csv = fuzz_str(data, size);
	if (hap_stat_parse(csv, "show stat", &st, &e) == 0) {
		hap_stat_find(&st, "app", "green");
		hap_stat_free(&st);
	}
	free(csv);

	h.addr = sock;
	h.timeout_ms = 2000;
	serve_set(data, size);
	if (haproxy_show_stat(&h, &st, &e) == 0)
		hap_stat_free(&st);
	haproxy_info(&h, &pid, &up, &e);
	haproxy_get_weight(&h, "app", "green", &cur, &init, &e);
	if (haproxy_map_get(&h, "/etc/haproxy/canary.map", "beta", &v, &e) > 0)
		free(v);
	haproxy_save_state(&h, "app", state, &e);
	return 0;
}
