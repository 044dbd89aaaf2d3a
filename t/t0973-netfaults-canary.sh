#!/bin/sh
test_description='network faults between ci-canary and its servers: Prometheus (reset, stall, 5xx, 429, a TLS name mismatch) and HAProxy'\''s runtime API (reset, stall)'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/registry-lib.sh"
. "$TEST_DIRECTORY/helpers/haproxy-lib.sh"
. "$TEST_DIRECTORY/helpers/canary-lib.sh"
. "$TEST_DIRECTORY/helpers/prometheus-lib.sh"

CI_STATE_DIR=$TRASH/state
export CI_STATE_DIR

# spec FILE ADDRESS [SOCKET] [METRIC_KEY=JSON...]: a rollout of "shop"
# through lb/ (or the runtime API at SOCKET), measured every second by
# one prometheus metric at ADDRESS (any query with data will do: the
# faults come from the proxy in front); the first unreadable interval
# aborts.
spec() {
	python3 - "$TRASH" "$@" <<-\EOF
	import json, sys
	trash, out, address = sys.argv[1:4]
	socket = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else trash + "/lb/admin.sock"
	metric = {"name": "canary-5xx", "source": "prometheus", "address": address,
	          "query": "sum(haproxy_server_http_responses_total{proxy=\"app\",server=\"{{canary}}\"})",
	          "max": 1e12}
	for kv in sys.argv[5:]:
	    k, v = kv.split("=", 1)
	    metric[k] = json.loads(v)
	spec = {"app": "shop",
	        "traffic": {"driver": "haproxy", "socket": socket, "backend": "app",
	                    "state_file": trash + "/lb/state"},
	        "steps": [{"weight": 20, "pause": "60s"}, {"weight": 100}],
	        "analysis": {"interval": "1s", "min_requests": 1, "consecutive_error_limit": 1,
	                     "failure_limit": 1,
	                     "metrics": [metric]}}
	json.dump(spec, open(out, "w"), indent=1)
	EOF
}

# on_stable: HAProxy gives blue, the stable slot, all the traffic.
on_stable() {
	is "$(weight green)" 0 && is "$(weight blue)" 100
}

# ready: green, the canary slot, back in rotation after the last abort.
ready() {
	haproxy_admin lb "set server app/green state ready" >/dev/null &&
	haproxy_wait_status lb app/green UP
}

test_expect_success HAPROXY,PROMETHEUS,OPENSSL 'setup: HAProxy, Prometheus behind a proxy, HAProxy'\''s runtime API behind another, Prometheus over TLS for another name' '
	haproxy_app_start blue "$(test_free_port)" --version v1 &&
	haproxy_app_start green "$(test_free_port)" --version v2 &&
	haproxy_start lb "$(cat blue/port)" "$(cat green/port)" --prometheus &&
	haproxy_wait_status lb app/blue UP &&
	haproxy_wait_status lb app/green UP &&
	prometheus_start prom "127.0.0.1:$(cat lb/prom-port)" &&
	proxy_rules pproxy "[]" &&
	start_proxy pproxy "$(cat prom/port)" pproxy.rules &&
	proxy_rules hproxy "[]" &&
	start_proxy hproxy "unix:$TRASH/lb/admin.sock" hproxy.rules --tcp &&
	wrong_name_cert tls &&
	prometheus_start ptls "127.0.0.1:$(cat lb/prom-port)" --tls "$TRASH/tls/srv.crt" "$TRASH/tls/srv.key"
'
prom=http://127.0.0.1:$(cat pproxy/port 2>/dev/null)
# With credentials, which Prometheus ignores and no message may show.
promcred=http://reader:s3cret@127.0.0.1:$(cat pproxy/port 2>/dev/null)
hap=127.0.0.1:$(cat hproxy/port 2>/dev/null)

# unreadable DOC WHY: the canary was rolled back (exit 1 was checked) for
# a metric it could not read, WHY in the reason, traffic on stable.
unreadable() {
	test_json "$1" "d[\"canary\"][\"status\"] == \"failed\" and d[\"canary\"][\"verdict\"] == \"rollback\"" &&
	test_json "$1" "d[\"canary\"][\"reason\"].startswith(\"the metrics could not be read 1 times in a row: metric \x27canary-5xx\x27: Prometheus at \x27http://***@127.0.0.1:\")" &&
	test_json "$1" "\"$2\" in d[\"canary\"][\"reason\"]" &&
	test_json "$1" "d[\"canary\"][\"intervals\"][-1][\"metrics\"][\"canary-5xx\"][\"verdict\"] == \"inconclusive\"" &&
	! grep s3cret "$1" &&
	on_stable
}

# An interval before Prometheus' first scrape has no data: one that
# came after must read the metric.
test_expect_success HAPROXY,PROMETHEUS 'the proxy passes Prometheus through: a query reads the metric' '
	spec ok.json "$promcred" "" max=-1 &&
	test_expect_code 1 ci-canary --new -f ok.json --image reg.example/shop:v2 >ok.out 2>ok.err &&
	test_json ok.out "any(type(i[\"metrics\"][\"canary-5xx\"].get(\"canary\")) in (int, float) for i in d[\"canary\"][\"intervals\"])" &&
	test $(proxy_count pproxy pass) -ge 1 &&
	! grep s3cret ok.out ok.err &&
	ready
'

test_expect_success HAPROXY,PROMETHEUS 'Prometheus resets the connection: unreadable, rolled back (exit 1), naming it without the password' '
	proxy_rules pproxy "[{\"path\": \"/api/v1/query\", \"action\": \"reset\"}]" &&
	spec reset.json "$promcred" &&
	test_expect_code 1 ci-canary --new -f reset.json --image reg.example/shop:v3 >reset.out 2>reset.err &&
	unreadable reset.out "reset by peer" &&
	! grep s3cret reset.err &&
	ready
'

test_expect_success HAPROXY,PROMETHEUS 'Prometheus stalls: the query gives up (10 s), unreadable, rolled back (exit 1)' '
	proxy_rules pproxy "[{\"path\": \"/api/v1/query\", \"action\": \"stall\"}]" &&
	spec stall.json "$promcred" &&
	test_expect_code 1 ci-canary --new -f stall.json --image reg.example/shop:v4 >stall.out 2>stall.err &&
	unreadable stall.out "timed out" &&
	test $(proxy_count pproxy stall) = 1 &&
	proxy_stalls_by pproxy client &&
	ready
'

test_expect_success HAPROXY,PROMETHEUS 'Prometheus answers 503: unreadable, rolled back (exit 1), the status said' '
	proxy_rules pproxy "[{\"path\": \"/api/v1/query\", \"action\": \"status\", \"status\": 503}]" &&
	spec 503.json "$promcred" &&
	test_expect_code 1 ci-canary --new -f 503.json --image reg.example/shop:v5 >503.out 2>503.err &&
	unreadable 503.out "answered 503" &&
	ready
'

test_expect_success HAPROXY,PROMETHEUS 'Prometheus answers 429 with Retry-After: unreadable for that interval, rolled back (exit 1)' '
	proxy_rules pproxy "[{\"path\": \"/api/v1/query\", \"action\": \"status\", \"status\": 429, \"retry_after\": \"1\"}]" &&
	spec 429.json "$promcred" &&
	test_expect_code 1 ci-canary --new -f 429.json --image reg.example/shop:v6 >429.out 2>429.err &&
	unreadable 429.out "answered 429" &&
	test $(proxy_count pproxy status) = 1 &&
	ready
'

test_expect_success HAPROXY,PROMETHEUS,OPENSSL 'Prometheus with a certificate for another name: unreadable, rolled back (exit 1), saying so' '
	spec tls.json "https://127.0.0.1:$(cat ptls/port)" "" "ca_file=\"$TRASH/tls/ca.crt\"" &&
	test_expect_code 1 ci-canary --new -f tls.json --image reg.example/shop:v7 >tls.out 2>tls.err &&
	test_json tls.out "d[\"canary\"][\"verdict\"] == \"rollback\" and (\"subject name\" in d[\"canary\"][\"reason\"] or \"wrong.example\" in d[\"canary\"][\"reason\"])" &&
	is "$(weight green)" 0 &&
	ready
'

test_expect_success HAPROXY,PROMETHEUS 'a ca_file that is not there: the spec'\''s fault, exit 2 naming it' '
	spec noca.json "$prom" "" "ca_file=\"$TRASH/nothing.pem\"" &&
	test_expect_code 2 ci-canary --new -f noca.json --image reg.example/shop:v8 >noca.out 2>noca.err &&
	test_grep "metric .canary-5xx.: ca_file: cannot read .$TRASH/nothing.pem." noca.err &&
	is "$(weight green)" 0 &&
	ready
'

# ---- HAProxy's runtime API ---------------------------------------------------------

# no_weights NAME ACTION VERSION: with ACTION on every change of weights,
# the rollout of VERSION stops at once (exit 69) naming the runtime API,
# traffic untouched.  abort_rollout NAME: the API back, --abort ends it.
no_weights() {
	proxy_rules hproxy "[{\"path\": \"^set weight\", \"action\": \"$2\"}]" &&
	spec "$1.json" "$prom" "$hap" &&
	test_expect_code 69 ci-canary --new -f "$1.json" --image "reg.example/shop:$3" >"$1.out" 2>"$1.err" &&
	test_grep "haproxy at .$hap.: .set weight app/[a-z]* [0-9]*.: " "$1.err" &&
	test_json "$1.out" "d[\"canary\"][\"status\"] == \"error\" and \"$hap\" in d[\"canary\"][\"reason\"]" &&
	test "$(proxy_count hproxy "$2")" = 1 &&
	on_stable
}

abort_rollout() {
	proxy_rules hproxy "[]" &&
	test_expect_code 1 ci-canary -f "$1.json" --abort >/dev/null 2>&1 &&
	ready
}

test_expect_success HAPROXY 'the runtime API resets the connection on a weight change: exit 69 naming HAProxy, traffic untouched' '
	no_weights hreset reset v9 &&
	test_grep "reset by peer\|Broken pipe" hreset.err &&
	abort_rollout hreset
'

# The first "show info" is the step's starting point; the next, an interval's.
test_expect_success HAPROXY 'the runtime API resets when an interval reads the counters: unreadable, rolled back (exit 1)' '
	proxy_rules hproxy "[{\"path\": \"^show info\", \"action\": \"reset\", \"after\": 1}]" &&
	spec hcount.json "$prom" "$hap" &&
	test_expect_code 1 ci-canary --new -f hcount.json --image reg.example/shop:v10 >hcount.out 2>hcount.err &&
	test_json hcount.out "d[\"canary\"][\"verdict\"] == \"rollback\" and d[\"canary\"][\"reason\"].startswith(\"the metrics could not be read 1 times in a row: haproxy at \x27$hap\x27: \")" &&
	on_stable &&
	ready
'

test_expect_success HAPROXY 'the runtime API stalls: no answer within 5 s, exit 69 naming HAProxy' '
	no_weights hstall stall v11 &&
	test_grep "no answer within 5s" hstall.err &&
	proxy_stalls_by hproxy client &&
	abort_rollout hstall'

test_done
