#!/bin/sh
test_description='ci-smoke --repeat reports percentiles; --max-p99 is a gate'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/data/smoke/lib.sh"

start_app
printf 'GET {{base}}/health\nHTTP 200\n\nGET {{base}}/search?q=x\nHTTP 200\n' >two.hurl

test_expect_success '--repeat N runs each file N times and reports p50/p95/p99 per entry' '
	ci-smoke --new --repeat 7 -v base="$BASE" two.hurl >out.json 2>err &&
	smoke_json out.json "s[\"status\"] == \"passed\" and s[\"repeat\"] == 7" &&
	smoke_json out.json "s[\"summary\"][\"requests\"] == 14" &&
	smoke_json out.json "all(x[\"durations\"][\"rounds\"] == 7 and x[\"durations\"][\"failed\"] == 0 for x in e)" &&
	smoke_json out.json "all(x[\"durations\"][\"min_ms\"] <= x[\"durations\"][\"p50_ms\"] <= x[\"durations\"][\"p95_ms\"] <= x[\"durations\"][\"p99_ms\"] <= x[\"durations\"][\"max_ms\"] for x in e)"
'

test_expect_success '--max-p99 fails an entry whose p99 is over the limit' '
	app_reset &&
	app_control "{\"latency_paths\": {\"/search\": 600}}" &&
	test_expect_code 1 ci-smoke --new --repeat 2 --max-p99 500ms -v base="$BASE" two.hurl >slow.json 2>err
'

test_expect_success '... naming the entry and both durations' '
	app_reset &&
	smoke_json slow.json "[x[\"status\"] for x in e] == [\"passed\", \"failed\"]" &&
	smoke_json slow.json "e[1][\"durations\"][\"p99_ms\"] >= 600 and s[\"max_p99_ms\"] == 500" &&
	smoke_json slow.json "e[1][\"reason\"].startswith(\"two.hurl:4: p99 duration \") and e[1][\"reason\"].endswith(\" is over --max-p99 500ms\")" &&
	smoke_json slow.json "s[\"failed\"] == [\"two.hurl:4 GET {{base}}/search?q=x\"]"
'

test_expect_success 'under the limit the gate passes' '
	ci-smoke --new --repeat 3 --max-p99 1m -v base="$BASE" two.hurl >fast.json 2>err &&
	smoke_json fast.json "s[\"status\"] == \"passed\" and s[\"max_p99_ms\"] == 60000"
'

test_expect_success 'a round that fails fails the entry, and the others still run' '
	app_control "{\"slow_start\": 1}" &&
	test_expect_code 1 ci-smoke --new --repeat 4 -v base="$BASE" two.hurl >round.json 2>err
'

test_expect_success '... counted in the durations, with the first failure reported' '
	smoke_json round.json "e[0][\"status\"] == \"failed\" and e[0][\"durations\"][\"failed\"] == 1" &&
	smoke_json round.json "e[0][\"http_status\"] == 503 and e[1][\"status\"] == \"passed\"" &&
	smoke_json round.json "s[\"summary\"][\"requests\"] == 7" &&
	test $(grep -c "FAIL " err) = 1
'

test_done
