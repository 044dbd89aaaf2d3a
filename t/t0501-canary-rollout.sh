#!/bin/sh
test_description='ci-canary rolls releases out behind a real HAProxy: promote, abort, pause, resume'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/haproxy-lib.sh"
. "$TEST_DIRECTORY/helpers/canary-lib.sh"

CI_STATE_DIR=$TRASH/state
export CI_STATE_DIR

# canary [ci-canary options]: a fast rollout of app "shop" through lb/.
canary() {
	ci-canary --app shop --socket "$TRASH/lb/admin.sock" --backend app \
		--state-file "$TRASH/lb/state" --interval 300ms "$@"
}

# canary_bg [ci-canary options]: the same in the background, its pid (the
# pid of ci-canary itself, for kill -9) in canary.pid; stdout to doc.json.
canary_bg() {
	(exec ci-canary --app shop --socket "$TRASH/lb/admin.sock" --backend app \
		--state-file "$TRASH/lb/state" --interval 300ms "$@" >doc.json 2>err.bg) &
	echo $! >canary.pid
}

# wait_weight SERVER W: until HAProxy gives SERVER weight W (15 s).
wait_weight() {
	n=0
	until test "$(weight "$1")" = "$2"; do
		if test $n -ge 150; then
			echo "$1 has weight '$(weight "$1")', not $2"; return 1
		fi
		sleep 0.1
		n=$((n + 1))
	done
}

test_expect_success HAPROXY 'setup: v1 on blue carries the traffic, green is empty' '
	haproxy_app_start blue "$(test_free_port)" --version v1 &&
	haproxy_app_start green "$(test_free_port)" --version v2 &&
	haproxy_start lb "$(cat blue/port)" "$(cat green/port)" &&
	haproxy_wait_status lb app/blue UP &&
	haproxy_wait_status lb app/green UP &&
	is "$(weight blue)" 100 && is "$(weight green)" 0
'

test_expect_success HAPROXY '--slot: the next release goes to the slot without traffic' '
	canary --slot >slot &&
	echo green >expect && test_cmp expect slot
'

test_expect_success HAPROXY 'a healthy canary passes every step and is promoted' '
	load 20 &&
	canary --new --image reg.example/shop:v2 --steps 10,50,100 --pause 1s \
		--min-requests 5 >doc.json 2>err &&
	stop_load &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"passed\" and d[\"canary\"][\"verdict\"] == \"promoted\"" &&
	test_json doc.json "d[\"canary\"][\"slots\"] == {\"stable\": \"green\", \"canary\": \"blue\"}" &&
	test_json doc.json "[s[\"status\"] for s in d[\"canary\"][\"steps\"]] == [\"passed\"] * 3" &&
	test_json doc.json "all(s[\"requests\"] >= 5 for s in d[\"canary\"][\"steps\"][:2])" &&
	test_json doc.json "len(d[\"canary\"][\"intervals\"]) >= 6" &&
	test_json doc.json "d[\"stages\"][-1][\"name\"] == \"canary\" and d[\"status\"] != \"failed\"" &&
	is "$(weight green)" 100 && is "$(weight blue)" 0 &&
	test_json state/canary/shop.json "d[\"status\"] == \"passed\" and d[\"stable_slot\"] == \"green\"" &&
	test_json load.json "d[\"status\"].get(\"200\", 0) > 0 and set(d[\"version\"]) <= {\"v1\", \"v2\"}"
'

test_expect_success HAPROXY '... the state file HAProxy reloads from holds the weights' '
	grep -E "^[0-9]+ app [0-9]+ green .* 100 " lb/state &&
	grep -E "^[0-9]+ app [0-9]+ blue .* 0 " lb/state
'

test_expect_success HAPROXY '... the journal has each weight once, and the promotion' '
	python3 - <<-\EOF
	import json
	ev = [json.loads(l) for l in open("state/canary/shop.events.jsonl")]
	w = [e["canary"] for e in ev if e["event"] == "weight"]
	assert w == [10, 50], w
	assert ev[-1]["event"] == "promote", ev[-1]
	assert any(e["event"] == "measure" for e in ev)
	EOF
'

test_expect_success HAPROXY '... and the next release goes to blue' '
	canary --slot >slot &&
	echo blue >expect && test_cmp expect slot
'

test_expect_success HAPROXY 'a canary with 30% errors is rolled back at the first step' '
	haproxy_app_stop blue &&
	haproxy_app_start blue "$(cat blue/port)" --version v3 --error-path /search=0.3 &&
	haproxy_wait_status lb app/blue UP &&
	load 30 &&
	test_expect_code 1 canary --new --image reg.example/shop:v3 --steps 10,50,100 \
		--pause 5s --min-requests 5 >doc.json 2>err &&
	stop_load &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"failed\" and d[\"canary\"][\"verdict\"] == \"rollback\"" &&
	test_json doc.json "d[\"canary\"][\"reason\"].startswith(\"error-rate \") and \"> 5%\" in d[\"canary\"][\"reason\"]" &&
	test_json doc.json "\"3 of 3 failures\" in d[\"canary\"][\"reason\"]" &&
	test_json doc.json "d[\"canary\"][\"steps\"][0][\"status\"] == \"running\" and d[\"canary\"][\"steps\"][1][\"status\"] == \"pending\"" &&
	test_json doc.json "isinstance(d[\"canary\"][\"rollback_ms\"], (int, float)) and d[\"canary\"][\"rollback_ms\"] >= 0" &&
	test_json doc.json "d[\"canary\"][\"weights\"] == {\"stable\": 100, \"canary\": 0}" &&
	test_json doc.json "d[\"status\"] == \"failed\"" &&
	is "$(weight blue)" 0 && is "$(weight green)" 100 &&
	is "$(haproxy_stat lb app/blue status)" MAINT &&
	test_grep "rolled back in [0-9]* ms: error-rate" err &&
	test_json state/canary/shop.json "d[\"status\"] == \"failed\" and d[\"stable_slot\"] == \"green\""
'

test_expect_success HAPROXY 'too little traffic: the step is extended, then the rollout pauses (exit 3)' '
	haproxy_app_stop blue &&
	haproxy_app_start blue "$(cat blue/port)" --version v4 &&
	test_expect_code 3 canary --new --image reg.example/shop:v4 --steps 20,100 \
		--pause 600ms --min-requests 1000 >doc.json 2>err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"paused\" and \"too little traffic\" in d[\"canary\"][\"reason\"]" &&
	test_grep "extending the step" err &&
	is "$(weight blue)" 20 && is "$(weight green)" 80 &&
	test_json state/canary/shop.json "d[\"status\"] == \"paused\""
'

test_expect_success HAPROXY '... another release cannot start while it is paused' '
	test_expect_code 2 canary --new --image reg.example/shop:v5 >doc.json 2>err &&
	test_grep "a rollout of .reg.example/shop:v4. is in progress" err
'

test_expect_success HAPROXY '... --abort rolls it back: exit 1, all traffic on stable' '
	test_expect_code 1 canary --new --abort >doc.json 2>err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"failed\" and d[\"canary\"][\"reason\"] == \"aborted by hand (--abort)\"" &&
	is "$(weight blue)" 0 && is "$(weight green)" 100 &&
	test_expect_code 2 canary --new --abort 2>err &&
	test_grep "no rollout of .shop. to abort" err
'

test_expect_success HAPROXY 'approval after step 1: pause, then --promote continues to the end' '
	cat >approve.json <<-EOF &&
	{"app": "shop",
	 "traffic": {"driver": "haproxy", "socket": "$TRASH/lb/admin.sock", "backend": "app"},
	 "steps": [{"weight": 30, "pause": "1s"}, {"weight": 100}],
	 "analysis": {"interval": "300ms", "min_requests": 1},
	 "approval": {"after_step": 1}}
	EOF
	load 20 &&
	test_expect_code 3 ci-canary --new -f approve.json --image reg.example/shop:v4 >doc.json 2>err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"paused\" and \"approval\" in d[\"canary\"][\"reason\"]" &&
	is "$(weight blue)" 30 &&
	ci-canary --new -f approve.json --promote >doc.json 2>err &&
	stop_load &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"passed\"" &&
	is "$(weight blue)" 100 && is "$(weight green)" 0 &&
	test_json state/canary/shop.json "d[\"stable_slot\"] == \"blue\""
'

test_expect_success HAPROXY 'the canary server dies mid-rollout: aborted at once' '
	haproxy_app_stop green &&
	haproxy_app_start green "$(cat green/port)" --version v5 &&
	haproxy_wait_status lb app/green UP &&
	load 30 &&
	canary_bg --new --image reg.example/shop:v5 --steps 10,100 --pause 20s \
		--min-requests 1 &&
	wait_weight green 10 &&
	haproxy_app_stop green &&
	wait_pid_file canary.pid &&
	stop_load &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"failed\"" &&
	test_grep "rolled back in [0-9]* ms: the canary .green. is DOWN" err.bg &&
	is "$(weight green)" 0 && is "$(weight blue)" 100
'

test_expect_success HAPROXY 'kill -9 at step 2, then a re-run resumes at step 2' '
	haproxy_app_start green "$(cat green/port)" --version v6 &&
	is "$(haproxy_stat lb app/green status)" MAINT &&
	load 40 &&
	canary_bg --new --image reg.example/shop:v6 --steps 10,40,100 --pause 2s \
		--min-requests 1 &&
	wait_weight green 40 &&
	kill -9 "$(cat canary.pid)" &&
	test_json state/canary/shop.json "d[\"status\"] == \"running\" and d[\"step\"] == 1" &&
	canary --new --image reg.example/shop:v6 --steps 10,40,100 --pause 2s \
		--min-requests 1 >doc.json 2>err &&
	stop_load &&
	test_grep "resuming step 2 of 3" err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"passed\"" &&
	is "$(weight green)" 100 &&
	python3 - <<-\EOF
	import json
	ev = [json.loads(l) for l in open("state/canary/shop.events.jsonl")]
	start = max(i for i, e in enumerate(ev) if e["event"] == "start")
	w = [e["canary"] for e in ev[start:] if e["event"] == "weight"]
	assert w == [10, 40], w
	EOF
'

test_expect_success HAPROXY 'weights changed behind its back are set again on resume' '
	haproxy_app_stop blue &&
	haproxy_app_start blue "$(cat blue/port)" --version v7 &&
	haproxy_wait_status lb app/blue UP &&
	load 40 &&
	canary_bg --new --image reg.example/shop:v7 --steps 25,100 --pause 3s \
		--min-requests 1 &&
	wait_weight blue 25 &&
	kill -9 "$(cat canary.pid)" &&
	haproxy_admin lb "set weight app/blue 0" &&
	canary --new --image reg.example/shop:v7 --steps 25,100 --pause 3s \
		--min-requests 1 >doc.json 2>err &&
	stop_load &&
	test_grep "the canary had weight 0, setting 25 again" err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"passed\""
'

test_expect_success HAPROXY 'an HAProxy reload mid-rollout: weights kept, the counter reset handled' '
	haproxy_app_stop green &&
	haproxy_app_start green "$(cat green/port)" --version v8 &&
	haproxy_wait_status lb app/green UP &&
	load 40 &&
	canary_bg --new --image reg.example/shop:v8 --steps 20,100 --pause 8s \
		--min-requests 1 &&
	wait_weight green 20 &&
	sleep 1 &&
	haproxy_reload lb &&
	is "$(weight green)" 20 &&
	wait_pid_file canary.pid &&
	stop_load &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"passed\"" &&
	test_json doc.json "any(i.get(\"counter_reset\") for i in d[\"canary\"][\"intervals\"])" &&
	test_json doc.json "all(m[\"canary_requests\"] >= 0 for i in d[\"canary\"][\"intervals\"] for m in [i[\"metrics\"][\"error-rate\"]] if \"canary_requests\" in m)"
'

test_expect_success HAPROXY 'sticky users: pinned to the canary while it runs, moved to stable on abort' '
	haproxy_stop lb &&
	rm -f lb/state &&
	haproxy_start lb "$(cat blue/port)" "$(cat green/port)" --cookie &&
	haproxy_admin lb "set weight app/blue 0" && haproxy_admin lb "set weight app/green 100" &&
	haproxy_wait_status lb app/blue UP &&
	load 20 &&
	test_expect_code 3 ci-canary --new -f approve.json --image reg.example/shop:v9 >doc.json 2>err &&
	stop_load &&
	test_json doc.json "\"approval\" in d[\"canary\"][\"reason\"]" &&
	is "$(weight blue)" 30 &&
	port=$(cat lb/port) &&
	for i in 1 2 3 4 5 6; do
		curl -s -D - -o /dev/null -H "Cookie: SRV=blue" "http://127.0.0.1:$port/health" | tr -d "\r" >>pinned
	done &&
	is "$(grep -ci "^x-app-version: v7" pinned)" 6 &&
	test_expect_code 1 ci-canary --new -f approve.json --abort >doc.json 2>err &&
	curl -s -D - -o /dev/null -H "Cookie: SRV=blue" "http://127.0.0.1:$port/health" | tr -d "\r" >moved &&
	is "$(grep -ci "^x-app-version: v8" moved)" 1
'

test_done
