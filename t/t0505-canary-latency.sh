#!/bin/sh
test_description='ci-canary reads per-request latencies from HAProxy'"'"'s log: p99 and canary against stable'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/haproxy-lib.sh"
. "$TEST_DIRECTORY/helpers/canary-lib.sh"

CI_STATE_DIR=$TRASH/state
export CI_STATE_DIR
LOGPORT=$(test_free_port)

canary() {
	ci-canary --app shop --socket "$TRASH/lb/admin.sock" --backend app --interval 500ms "$@"
}
# canary_exec ...: the same as the process itself (for signals).
canary_exec() {
	exec ci-canary --app shop --socket "$TRASH/lb/admin.sock" --backend app --interval 500ms "$@"
}

test_expect_success HAPROXY 'setup: v1 on blue, a slow v2 on green, HAProxy logging to us' '
	haproxy_app_start blue "$(test_free_port)" --version v1 &&
	haproxy_app_start green "$(test_free_port)" --version v2 --latency-path /search=300 &&
	haproxy_start lb "$(cat blue/port)" "$(cat green/port)" --log "$LOGPORT" &&
	haproxy_wait_status lb app/blue UP && haproxy_wait_status lb app/green UP
'

test_expect_success HAPROXY 'a latency-only regression is caught by p99' '
	load 30 &&
	test_expect_code 1 canary --new --image r/shop:v2 --steps 30,100 --pause 5s \
		--min-requests 1 --log-listen "127.0.0.1:$LOGPORT" --max-p99 200ms >doc.json 2>err &&
	stop_load &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"failed\"" &&
	test_json doc.json "d[\"canary\"][\"reason\"].startswith(\"p99 3\") and \"ms > 200ms\" in d[\"canary\"][\"reason\"]" &&
	test_json doc.json "any(i[\"metrics\"][\"p99\"].get(\"stable\", 1e9) < 100 for i in d[\"canary\"][\"intervals\"])" &&
	test_json doc.json "all(i[\"metrics\"][\"error-rate\"][\"verdict\"] != \"fail\" for i in d[\"canary\"][\"intervals\"])" &&
	test_json doc.json "d[\"canary\"][\"analysis\"][\"metrics\"][\"p99\"] == {\"source\": \"haproxy-log\", \"unit\": \"ms\", \"max\": 200}" &&
	test_json doc.json "d[\"canary\"][\"analysis\"][\"metrics\"][\"error-rate\"] == {\"source\": \"haproxy\", \"unit\": \"%\", \"max\": 5}" &&
	is "$(weight green)" 0
'

test_expect_success HAPROXY '... and by the comparison with stable (Mann-Whitney), with no absolute bound' '
	cat >rel.json <<-EOF &&
	{"app": "shop",
	 "traffic": {"driver": "haproxy", "socket": "$TRASH/lb/admin.sock", "backend": "app"},
	 "steps": [{"weight": 30, "pause": "5s"}, {"weight": 100}],
	 "analysis": {"interval": "500ms", "min_requests": 1,
	              "metrics": [{"name": "latency", "source": "haproxy-log",
	                           "listen": "127.0.0.1:$LOGPORT", "quantile": 95,
	                           "max_increase": 100}]}}
	EOF
	load 30 &&
	test_expect_code 1 ci-canary --new -f rel.json --image r/shop:v2b >doc.json 2>err &&
	stop_load &&
	test_json doc.json "\"vs stable\" in d[\"canary\"][\"reason\"] and \"Mann-Whitney p = \" in d[\"canary\"][\"reason\"]" &&
	test_json doc.json "any(i[\"metrics\"][\"latency\"].get(\"p\", 1) < 0.05 for i in d[\"canary\"][\"intervals\"])"
'

test_expect_success HAPROXY 'a fast canary passes the same analysis, its p99 in the document' '
	haproxy_app_stop green &&
	haproxy_app_start green "$(cat green/port)" --version v3 &&
	load 30 &&
	canary --new --image r/shop:v3 --steps 30,100 --pause 2s --min-requests 1 \
		--log-listen "127.0.0.1:$LOGPORT" >doc.json 2>err &&
	stop_load &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"passed\"" &&
	test_json doc.json "any(\"canary\" in i[\"metrics\"][\"p99\"] and i[\"metrics\"][\"p99\"][\"canary\"] < 500 for i in d[\"canary\"][\"intervals\"])" &&
	test_json doc.json "any(i[\"metrics\"][\"p99\"][\"canary_requests\"] > 0 and i[\"metrics\"][\"p99\"][\"stable_requests\"] > 0 for i in d[\"canary\"][\"intervals\"])" &&
	is "$(weight green)" 100
'

test_expect_success HAPROXY 'no traffic, no latencies: inconclusive, so the rollout pauses (exit 3)' '
	test_expect_code 3 canary --new --image r/shop:v4 --steps 30,100 --pause 1s \
		--min-requests 1 --log-listen "127.0.0.1:$LOGPORT" >doc.json 2>err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"paused\"" &&
	test_json doc.json "all(i[\"metrics\"][\"p99\"][\"verdict\"] == \"inconclusive\" for i in d[\"canary\"][\"intervals\"])" &&
	test_expect_code 1 canary --new --abort >doc.json 2>err
'

test_expect_success HAPROXY 'a listen address that is taken: exit 69 naming it, no state' '
	cat >holder.py <<-\EOF &&
	import os, socket, time
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.bind(("127.0.0.1", 0))
	with open("taken.tmp", "w") as f:
	    f.write(str(s.getsockname()[1]))
	os.rename("taken.tmp", "taken")
	time.sleep(30)
	EOF
	{ python3 holder.py </dev/null >/dev/null 2>&1 & echo $! >holder.pid; } &&
	n=0 && until test -s taken; do sleep 0.1; n=$((n + 1)); test $n -lt 100; done &&
	rm -f state/canary/shop.json &&
	test_expect_code 69 canary --new --image r/shop:v5 --log-listen "127.0.0.1:$(cat taken)" >doc.json 2>err &&
	kill "$(cat holder.pid)" &&
	test_grep "cannot listen on .127.0.0.1:$(cat taken)." err &&
	! test -e state/canary/shop.json
'

test_expect_success HAPROXY 'SIGTERM mid-rollout: the state is saved, exit 75, a re-run resumes' '
	load 40 &&
	{ (canary_exec --new --image r/shop:v6 --steps 30,100 --pause 30s --min-requests 1 \
		>doc.json 2>err) & pid=$!; } &&
	n=0 && until test "$(weight blue)" = 30; do sleep 0.1; n=$((n + 1)); test $n -lt 150; done &&
	sleep 1 &&
	kill -TERM $pid &&
	{ wait $pid; rc=$?; } &&
	is "$rc" 75 &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"paused\"" &&
	test_json state/canary/shop.json "d[\"status\"] == \"running\" and d[\"step\"] == 0" &&
	is "$(weight blue)" 30 &&
	test_expect_code 1 canary --new --abort >doc.json 2>err &&
	stop_load &&
	is "$(weight blue)" 0
'

test_expect_success HAPROXY '... with --abort-on-signal, traffic goes back to stable first' '
	load 40 &&
	{ (canary_exec --new --image r/shop:v7 --steps 30,100 --pause 30s --min-requests 1 \
		--abort-on-signal >doc.json 2>err) & pid=$!; } &&
	n=0 && until test "$(weight blue)" = 30; do sleep 0.1; n=$((n + 1)); test $n -lt 150; done &&
	kill -INT $pid &&
	{ wait $pid; rc=$?; } &&
	stop_load &&
	is "$rc" 1 &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"failed\" and \"signal\" in d[\"canary\"][\"reason\"]" &&
	is "$(weight blue)" 0 && is "$(weight green)" 100
'

test_expect_success 'a bad listen address or --max-p99 without one: usage errors' '
	test_expect_code 2 ci-canary --new --app shop --image r/shop:v1 --socket /s --backend b \
		--max-p99 200ms >out 2>err &&
	test_grep "max-p99 needs per-request latencies" err &&
	test_expect_code 2 ci-canary --new --app shop --image r/shop:v1 --socket "$TRASH/lb/admin.sock" \
		--backend app --log-listen nowhere >out 2>err &&
	test_grep "listen address .nowhere.: expected HOST:PORT" err
'

test_done
