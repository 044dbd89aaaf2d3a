/*
 * The nginx upstream file ci-canary writes and reads back: rollout/nginx's
 * nginx_get() (the file read, nginx_parse(), the canary's share) with
 * the input as the file, for three traffic configurations: two servers;
 * a sticky cookie and a route; a baseline with a sticky header.
 */
#include "rollout/nginx.h"
#include "rollout/spec.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char file[4200];
	struct rollout_traffic t[3];
	struct err e = { 0, "" };
	int i, w;

	fuzz_init();
	if (!file[0])
		snprintf(file, sizeof(file), "%s", fuzz_file("app.conf", data, 0));
	fuzz_file("app.conf", data, size);
	memset(t, 0, sizeof(t));
	for (i = 0; i < 3; i++) {
		t[i].driver = TRAFFIC_NGINX;
		t[i].upstream = "app";
		t[i].file = file;
		t[i].server_slot[0] = "blue";
		t[i].server_addr[0] = "127.0.0.1:8001";
		t[i].server_slot[1] = "green";
		t[i].server_addr[1] = "unix:/run/green.sock";
	}
	t[1].sticky = STICKY_COOKIE;
	t[1].sticky_name = "session";
	t[1].route_header = "X-Canary";
	t[1].route_value = "always";
	t[2].sticky = STICKY_HEADER;
	t[2].sticky_name = "X-User";
	t[2].baseline = "base";
	t[2].server_slot[2] = "base";
	t[2].server_addr[2] = "[::1]:8003";
	for (i = 0; i < 3; i++)
		nginx_get(&t[i], "blue", "green", &w, &e);
	return 0;
}
