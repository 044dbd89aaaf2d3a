#!/bin/sh
test_description='ci-canary judges the canary through a real Prometheus scraping HAProxy'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/haproxy-lib.sh"
. "$TEST_DIRECTORY/helpers/canary-lib.sh"
. "$TEST_DIRECTORY/helpers/prometheus-lib.sh"

CI_STATE_DIR=$TRASH/state
export CI_STATE_DIR

# The canary's share of 5xx answers, in percent, from HAProxy's own
# exporter (names as HAProxy 2.6 exports them: see the setup test).  The
# 10 s window keeps two scrapes in it on a slow machine; clamp_min keeps
# a canary without traffic at 0 instead of NaN.
Q5XX='sum(rate(haproxy_server_http_responses_total{proxy="app",server="{{canary}}",code="5xx"}[10s])) / clamp_min(sum(rate(haproxy_server_http_responses_total{proxy="app",server="{{canary}}"}[10s])), 1) * 100'

# spec FILE ADDRESS QUERY PAUSE [ANALYSIS_KEY=JSON...]: a rollout of
# "shop" through lb/ in two steps (20% for PAUSE, then 100), measured
# every second by one prometheus metric, "canary-5xx", at most 5.
spec() {
	python3 - "$TRASH" "$@" <<-\EOF
	import json, sys
	trash, out, address, query, pause = sys.argv[1:6]
	analysis = {"interval": "1s", "min_requests": 1,
	            "metrics": [{"name": "canary-5xx", "source": "prometheus",
	                         "address": address, "query": query, "max": 5}]}
	for kv in sys.argv[6:]:
	    k, v = kv.split("=", 1)
	    analysis[k] = json.loads(v)
	spec = {"app": "shop",
	        "traffic": {"driver": "haproxy", "socket": trash + "/lb/admin.sock",
	                    "backend": "app", "state_file": trash + "/lb/state"},
	        "steps": [{"weight": 20, "pause": pause}, {"weight": 100}],
	        "analysis": analysis}
	json.dump(spec, open(out, "w"), indent=1)
	EOF
}

prom() {
	echo "http://127.0.0.1:$(cat "$TRASH/prom/port")"
}

# restart_canary VERSION [smoke-app options]: a new release in blue, the
# slot without traffic after the first test's promotion, UP in HAProxy
# (out of the maint an earlier rollback left it in, as a deploy would).
restart_canary() {
	haproxy_app_stop blue &&
	haproxy_app_start blue "$(cat blue/port)" --version "$@" &&
	haproxy_admin lb "set server app/blue state ready" >/dev/null &&
	haproxy_wait_status lb app/blue UP
}

test_expect_success HAPROXY,PROMETHEUS 'setup: HAProxy exports its counters, Prometheus scrapes them' '
	haproxy_app_start blue "$(test_free_port)" --version v1 &&
	haproxy_app_start green "$(test_free_port)" --version v2 &&
	haproxy_start lb "$(cat blue/port)" "$(cat green/port)" --prometheus &&
	haproxy_wait_status lb app/blue UP &&
	haproxy_wait_status lb app/green UP &&
	curl -sS -o metrics "http://127.0.0.1:$(cat lb/prom-port)/metrics" &&
	test_grep "^haproxy_server_http_responses_total{proxy=\"app\",server=\"green\",code=\"5xx\"} 0" metrics &&
	test_grep "^haproxy_server_http_responses_total{proxy=\"app\",server=\"green\",code=\"2xx\"} " metrics &&
	prometheus_start prom "127.0.0.1:$(cat lb/prom-port)" &&
	prometheus_wait_up prom &&
	is "$(prometheus_query prom "haproxy_server_http_responses_total{proxy=\"app\",server=\"green\",code=\"5xx\"}")" 0
'

test_expect_success HAPROXY,PROMETHEUS 'a healthy canary passes on the Prometheus metric and is promoted' '
	spec healthy.json "$(prom)" "$Q5XX" 3s &&
	load 60 &&
	ci-canary --new -f healthy.json --image reg.example/shop:v2 >doc.json 2>err &&
	stop_load &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"passed\" and d[\"canary\"][\"verdict\"] == \"promoted\"" &&
	test_json doc.json "d[\"canary\"][\"slots\"] == {\"stable\": \"green\", \"canary\": \"blue\"}" &&
	test_json doc.json "len(d[\"canary\"][\"intervals\"]) >= 3" &&
	test_json doc.json "all(list(i[\"metrics\"]) == [\"canary-5xx\"] for i in d[\"canary\"][\"intervals\"])" &&
	test_json doc.json "all(m[\"source\"] == \"prometheus\" and m[\"verdict\"] == \"pass\" for i in d[\"canary\"][\"intervals\"] for m in [i[\"metrics\"][\"canary-5xx\"]])" &&
	test_json doc.json "all(type(m[\"canary\"]) in (int, float) and 0 <= m[\"canary\"] <= 5 for i in d[\"canary\"][\"intervals\"] for m in [i[\"metrics\"][\"canary-5xx\"]])" &&
	test_json doc.json "d[\"canary\"][\"steps\"][0][\"requests\"] >= 1" &&
	test_grep "canary-5xx [0-9]" err &&
	is "$(weight green)" 100 && is "$(weight blue)" 0 &&
	test "$(prometheus_query prom "sum(haproxy_server_http_responses_total{proxy=\"app\",server=\"green\",code=\"2xx\"})")" -gt 0 &&
	is "$(prometheus_query prom "sum(haproxy_server_http_responses_total{proxy=\"app\",server=\"green\",code=\"5xx\"})")" 0
'

test_expect_success HAPROXY,PROMETHEUS 'a canary failing half its searches is rolled back on the Prometheus metric' '
	restart_canary v3 --error-path /search=0.5 &&
	spec errors.json "$(prom)" "$Q5XX" 60s failure_limit=1 &&
	load 90 &&
	test_expect_code 1 ci-canary --new -f errors.json --image reg.example/shop:v3 >doc.json 2>err &&
	stop_load &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"failed\" and d[\"canary\"][\"verdict\"] == \"rollback\"" &&
	test_json doc.json "d[\"canary\"][\"reason\"].startswith(\"canary-5xx \") and \" > 5, 1 of 1 failures\" in d[\"canary\"][\"reason\"]" &&
	test_json doc.json "[m[\"verdict\"] for i in d[\"canary\"][\"intervals\"] for m in [i[\"metrics\"][\"canary-5xx\"]]][-1] == \"fail\"" &&
	test_json doc.json "d[\"canary\"][\"intervals\"][-1][\"metrics\"][\"canary-5xx\"][\"canary\"] > 5" &&
	test_json doc.json "d[\"canary\"][\"weights\"] == {\"stable\": 100, \"canary\": 0}" &&
	test_grep "rolled back in [0-9]* ms: canary-5xx" err &&
	is "$(weight blue)" 0 && is "$(weight green)" 100 &&
	is "$(haproxy_stat lb app/blue status)" MAINT &&
	test "$(prometheus_query prom "sum(haproxy_server_http_responses_total{proxy=\"app\",server=\"blue\",code=\"5xx\"})")" -gt 0
'

# A query Prometheus refuses is the spec's fault: traffic goes back to
# stable all the same (the canary had its first step's weight for an
# interval), but the verdict is an error (exit 2), not a failed canary.
test_expect_success HAPROXY,PROMETHEUS 'a query Prometheus refuses: back to stable at once, exit 2 naming the query' '
	restart_canary v4 &&
	spec refused.json "$(prom)" "sum(rate(haproxy_server_http_responses_total{server=\"{{canary}}\"}[10s])" 60s &&
	test_expect_code 2 ci-canary --new -f refused.json --image reg.example/shop:v4 >doc.json 2>err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"error\" and \"verdict\" not in d[\"canary\"]" &&
	test_json doc.json "d[\"canary\"][\"reason\"].startswith(\"metric \x27canary-5xx\x27: Prometheus refused the query \x27sum(rate(haproxy_server_http_responses_total{server=\\\"blue\\\"}[10s])\x27\")" &&
	test_json doc.json "\"bad_data\" in d[\"canary\"][\"reason\"]" &&
	test_json doc.json "len(d[\"canary\"][\"intervals\"]) == 1" &&
	test_json doc.json "d[\"canary\"][\"intervals\"][0][\"metrics\"][\"canary-5xx\"][\"verdict\"] == \"inconclusive\" and \"canary\" not in d[\"canary\"][\"intervals\"][0][\"metrics\"][\"canary-5xx\"]" &&
	test_json doc.json "d[\"canary\"][\"failures\"] == 0" &&
	test_grep "rolled back in [0-9]* ms: metric .canary-5xx.: Prometheus refused the query" err &&
	is "$(weight blue)" 0 && is "$(weight green)" 100 &&
	python3 - <<-\EOF
	import json
	ev = [json.loads(l) for l in open("state/canary/shop.events.jsonl")]
	start = max(i for i, e in enumerate(ev) if e["event"] == "start")
	names = [e["event"] for e in ev[start:]]
	assert names == ["start", "weight", "measure", "abort"], names
	assert ev[start + 1]["canary"] == 20, ev[start + 1]
	EOF
'

test_expect_success HAPROXY,PROMETHEUS 'Prometheus unreachable: unreadable, then an abort after consecutive_error_limit' '
	restart_canary v5 &&
	gone=$(test_free_port) &&
	spec gone.json "http://127.0.0.1:$gone" "$Q5XX" 60s consecutive_error_limit=3 &&
	test_expect_code 1 ci-canary --new -f gone.json --image reg.example/shop:v5 >doc.json 2>err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"failed\" and d[\"canary\"][\"verdict\"] == \"rollback\"" &&
	test_json doc.json "d[\"canary\"][\"reason\"].startswith(\"the metrics could not be read 3 times in a row: \")" &&
	test_json doc.json "\"$gone\" in d[\"canary\"][\"reason\"].split(\": \", 1)[1]" &&
	test_json doc.json "len(d[\"canary\"][\"intervals\"]) == 3" &&
	test_json doc.json "all(m[\"verdict\"] == \"inconclusive\" and \"canary\" not in m and m[\"why\"] for i in d[\"canary\"][\"intervals\"] for m in [i[\"metrics\"][\"canary-5xx\"]])" &&
	test_json doc.json "d[\"canary\"][\"failures\"] == 0" &&
	test_grep "canary-5xx unreadable" err &&
	is "$(weight blue)" 0 && is "$(weight green)" 100
'

Q_NOSUCH='sum(rate(haproxy_server_http_responses_total{proxy="app",server="nosuch",code="5xx"}[10s]))'

test_expect_success HAPROXY,PROMETHEUS 'an empty result is no data: the step waits for a verdict, then pauses (exit 3)' '
	restart_canary v6 &&
	is "$(prometheus_query prom "$Q_NOSUCH")" empty &&
	spec nodata.json "$(prom)" "$Q_NOSUCH" 2s max_extend=\"2s\" &&
	load 60 &&
	test_expect_code 3 ci-canary --new -f nodata.json --image reg.example/shop:v6 >doc.json 2>err &&
	stop_load &&
	test_json doc.json "all(m[\"verdict\"] == \"inconclusive\" and \"canary\" not in m and m[\"why\"] == \"metric \x27canary-5xx\x27: no data\" for i in d[\"canary\"][\"intervals\"] for m in [i[\"metrics\"][\"canary-5xx\"]])" &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"paused\"" &&
	test_json doc.json "d[\"canary\"][\"reason\"] == \"metric \x27canary-5xx\x27 gave no verdict during step 1 (no data)\"" &&
	test_json doc.json "d[\"canary\"][\"steps\"][0][\"status\"] == \"running\" and d[\"canary\"][\"steps\"][0][\"requests\"] >= 1" &&
	test_grep "extending the step" err &&
	is "$(weight blue)" 20 &&
	test_expect_code 1 ci-canary --new -f nodata.json --abort >doc.json 2>err &&
	is "$(weight blue)" 0 && is "$(weight green)" 100
'

test_done
