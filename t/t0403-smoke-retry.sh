#!/bin/sh
test_description='ci-smoke retries entries and waits for a slow-starting service'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/data/smoke/lib.sh"

start_app
printf 'GET {{base}}/health\nHTTP 200\n' >health.hurl
printf 'GET {{base}}/health\n[Options]\nretry: 5\nretry-interval: 10ms\nHTTP 200\n' >retry.hurl

test_expect_success 'an entry with retry passes once the app stops answering 503' '
	app_control "{\"slow_start\": 3}" &&
	ci-smoke --new -v base="$BASE" retry.hurl >out.json 2>err &&
	smoke_json out.json "e[0][\"status\"] == \"passed\" and e[0][\"attempts\"] == 4" &&
	smoke_json out.json "s[\"summary\"][\"requests\"] == 4"
'

test_expect_success 'retries run out: the entry fails after 1 + N attempts' '
	app_control "{\"slow_start\": 10}" &&
	test_expect_code 1 ci-smoke --new -v base="$BASE" --retry 2 --retry-interval 10ms health.hurl >out.json 2>err
'

test_expect_success '... reporting the last answer' '
	app_reset &&
	smoke_json out.json "e[0][\"attempts\"] == 3 and e[0][\"http_status\"] == 503" &&
	smoke_json out.json "s[\"summary\"][\"requests\"] == 3" &&
	test_grep "HTTP 503 in [0-9]* ms (attempt 3)" err
'

test_expect_success 'the entry option wins over --retry; -1 retries without a limit' '
	app_control "{\"slow_start\": 6}" &&
	printf "GET {{base}}/health\n[Options]\nretry: -1\nretry-interval: 5ms\nHTTP 200\n" >forever.hurl &&
	ci-smoke --new -v base="$BASE" --retry 1 forever.hurl >out.json 2>err &&
	smoke_json out.json "e[0][\"attempts\"] == 7"
'

test_expect_success 'retry until a server that is not listening yet comes up' '
	port=$(test_free_port) &&
	printf "GET {{base}}/health\nHTTP 200\n[Asserts]\njsonpath \"\$.status\" == \"ok\"\n" >late.hurl &&
	{ ci-smoke --new --verbose -v base=http://127.0.0.1:$port --retry 400 \
	    --retry-interval 25ms late.hurl >late.json 2>late.err & } &&
	smoke=$! && remember_pid $smoke &&
	wait_for_grep "attempt 1 failed; retrying" late.err &&
	{ smoke-app --port $port 2>/dev/null & } &&
	remember_pid $! &&
	wait $smoke &&
	smoke_json late.json "e[0][\"status\"] == \"passed\" and e[0][\"attempts\"] >= 2"
'

test_expect_success '--wait polls until the service answers 2xx, then runs the files' '
	port=$(test_free_port) &&
	{ smoke-app --port $port --listen-when go 2>/dev/null & } &&
	remember_pid $! &&
	{ ci-smoke --new --verbose --wait http://127.0.0.1:$port/health \
	    -v base=http://127.0.0.1:$port health.hurl >wait.json 2>wait.err & } &&
	smoke=$! && remember_pid $smoke &&
	wait_for_grep "waiting for .http://127.0.0.1:$port/health.: .*(attempt 1)" wait.err &&
	! test -s wait.json &&
	touch go &&
	wait $smoke &&
	smoke_json wait.json "s[\"status\"] == \"passed\" and s[\"wait\"][\"ready\"] is True" &&
	smoke_json wait.json "s[\"wait\"][\"attempts\"] >= 2 and s[\"wait\"][\"url\"] == \"http://127.0.0.1:$port/health\"" &&
	test_grep "is ready (HTTP 200)" wait.err
'

test_expect_success '--wait counts 503 answers as not ready' '
	app_control "{\"slow_start\": 2}" &&
	ci-smoke --new --wait "$BASE/health" -v base="$BASE" health.hurl >w503.json 2>err &&
	smoke_json w503.json "s[\"wait\"][\"attempts\"] == 3 and e[0][\"attempts\"] == 1"
'

test_expect_success '--wait-timeout: a service that never comes up fails the stage' '
	dead=http://127.0.0.1:$(test_free_port) &&
	test_expect_code 1 ci-smoke --new --wait $dead/health --wait-timeout 300ms -v base=$dead health.hurl >never.json 2>err
'

test_expect_success '... with the reason in the document, and nothing run' '
	smoke_json never.json "s[\"status\"] == \"failed\" and \"was not ready after 300ms\" in s[\"reason\"]" &&
	smoke_json never.json "s[\"wait\"][\"ready\"] is False and s[\"wait\"][\"attempts\"] >= 1" &&
	smoke_json never.json "\"files\" not in s and d[\"status\"] == \"failed\"" &&
	test_grep "was not ready after 300ms" err
'

test_expect_success 'SIGTERM stops a run: exit 75, and the document says so' '
	printf "GET {{base}}/health\nHTTP 200\n\nGET {{base}}/barrier/never?n=2&timeout=60\nHTTP 200\n\nGET {{base}}/health\n" >block.hurl &&
	{ ci-smoke --new -v base="$BASE" block.hurl >int.json 2>int.err & } &&
	pid=$! && remember_pid $pid &&
	wait_for_path /barrier/never 1 &&
	kill -TERM $pid &&
	{ wait $pid; echo $? >rc; } &&
	test $(cat rc) = 75 &&
	smoke_json int.json "s[\"status\"] == \"failed\" and s[\"reason\"] == \"interrupted before every entry ran\"" &&
	smoke_json int.json "[x[\"status\"] for x in e] == [\"passed\", \"not_run\", \"not_run\"]"
'

test_done
