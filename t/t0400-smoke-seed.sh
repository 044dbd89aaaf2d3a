#!/bin/sh
test_description='ci-smoke runs the seed smoke suite against the staging app'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/data/smoke/lib.sh"

start_app
cp "$SMOKE_DATA/seed.hurl" .
smoke() {
	ci-smoke --new -v base="$BASE" --secret password="$SMOKE_PASSWORD" "$@" seed.hurl
}

test_expect_success 'the seed suite passes against a healthy app' '
	smoke >out.json 2>err &&
	smoke_json out.json "s[\"status\"] == \"passed\" and d[\"status\"] == \"running\"" &&
	smoke_json out.json "[x[\"name\"] for x in e] == [\"Health check\", \"Database connectivity\", \"Login flow\", \"Login token works\", \"Checkout flow\", \"Search\"]" &&
	smoke_json out.json "all(x[\"status\"] == \"passed\" and x[\"attempts\"] == 1 for x in e)" &&
	smoke_json out.json "[x[\"http_status\"] for x in e] == [200, 200, 200, 200, 201, 200]" &&
	smoke_json out.json "s[\"summary\"] == {\"files\": 1, \"entries\": 6, \"passed\": 6, \"failed\": 0, \"skipped\": 0, \"not_run\": 0, \"requests\": 6}" &&
	smoke_json out.json "e[0][\"url\"] == \"$BASE/health\" and e[5][\"url\"] == \"$BASE/search?q=test\"" &&
	smoke_json out.json "e[2][\"captures\"] == [\"token\"] and e[4][\"captures\"] == [\"order\"]" &&
	smoke_json out.json "e[5][\"asserts\"][1] == {\"line\": 56, \"assert\": \"jsonpath \\\"\$.results\\\" count > 0\", \"status\": \"passed\", \"expected\": \"> 0\", \"actual\": \"42\"}" &&
	smoke_json out.json "s[\"failed\"] == [] and \"reason\" not in s" &&
	smoke_json out.json "d[\"stages\"][-1][\"name\"] == \"smoke\" and d[\"stages\"][-1][\"status\"] == \"passed\"" &&
	test_grep "smoke passed: 6 entries in 1 file (6 requests)" err
'

test_expect_success 'captures are reported by name only: no token in the document' '
	! grep -E "[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}" out.json &&
	! grep -e "$SMOKE_PASSWORD" out.json err
'

test_expect_success 'bad status: a checkout answering 500 fails the suite' '
	app_reset &&
	app_control "{\"error_paths\": {\"/checkout\": 1.0}}" &&
	test_expect_code 1 smoke >bad.json 2>err
'

test_expect_success '... the report names the checkout entry and its status assert' '
	smoke_json bad.json "s[\"status\"] == \"failed\" and s[\"failed\"] == [\"seed.hurl:38 Checkout flow\"]" &&
	smoke_json bad.json "[x[\"status\"] for x in e] == [\"passed\"] * 4 + [\"failed\", \"not_run\"]" &&
	smoke_json bad.json "fa(4) == [\"HTTP 201\", \"header \\\"Location\\\" == \\\"/orders/{{order}}\\\"\", \"jsonpath \\\"\$.status\\\" == \\\"created\\\"\"] or fa(4)[0] == \"HTTP 201\"" &&
	smoke_json bad.json "e[4][\"asserts\"][0] == {\"line\": 43, \"assert\": \"HTTP 201\", \"status\": \"failed\", \"expected\": \"== 201\", \"actual\": \"500\"}" &&
	smoke_json bad.json "s[\"reason\"].startswith(\"1 of 6 entries failed: seed.hurl:43: HTTP 201: expected == 201, got 500\")" &&
	smoke_json bad.json "d[\"status\"] == \"failed\" and d[\"stages\"][-1][\"status\"] == \"failed\"" &&
	test_grep "FAIL Checkout flow" err &&
	test_grep "seed.hurl:38 POST $BASE/checkout" err &&
	test_grep "HTTP 500 in [0-9]* ms" err &&
	test_grep "assert seed.hurl:43: HTTP 201" err &&
	test_grep "actual:   500" err &&
	test_grep "injected failure" err
'

test_expect_success 'missing token: a refused login fails the suite' '
	app_reset &&
	test_expect_code 1 ci-smoke --new -v base="$BASE" --secret password="$SMOKE_WRONG_PASSWORD" seed.hurl >notoken.json 2>err
'

test_expect_success '... the report names the login entry, its capture and its assert' '
	smoke_json notoken.json "s[\"failed\"] == [\"seed.hurl:18 Login flow\"]" &&
	smoke_json notoken.json "fa(2) == [\"HTTP 200\", \"token: jsonpath \\\"\$.token\\\" redact\", \"jsonpath \\\"\$.token\\\" matches /^[\\\\w-]+\\\\.[\\\\w-]+\\\\.[\\\\w-]+\$/\"]" &&
	smoke_json notoken.json "[a[\"message\"] for a in e[2][\"asserts\"] if \"message\" in a] == [\"capture \x27token\x27: the query found nothing\"]" &&
	smoke_json notoken.json "[x[\"status\"] for x in e][2:] == [\"failed\", \"not_run\", \"not_run\", \"not_run\"]" &&
	test_grep "FAIL Login flow" err &&
	test_grep "capture .token.: the query found nothing" err &&
	test_grep "bad credentials" err &&
	! grep -e "$SMOKE_WRONG_PASSWORD" notoken.json err
'

test_expect_success 'slow response: a health check over its duration assert fails' '
	app_reset &&
	app_control "{\"latency_paths\": {\"/health\": 1100}}" &&
	test_expect_code 1 smoke >slow.json 2>err
'

test_expect_success '... the report names the health check and its duration assert' '
	smoke_json slow.json "s[\"failed\"] == [\"seed.hurl:5 Health check\"] and fa(0) == [\"duration < 1000\"]" &&
	smoke_json slow.json "e[0][\"asserts\"][2][\"expected\"] == \"< 1000\" and int(e[0][\"asserts\"][2][\"actual\"]) >= 1100" &&
	test_grep "assert seed.hurl:9: duration < 1000" err
'

test_expect_success 'db down: the database check fails' '
	app_reset &&
	app_control "{\"db_down\": true}" &&
	test_expect_code 1 smoke >db.json 2>err
'

test_expect_success '... the report names the database entry, status and body' '
	smoke_json db.json "s[\"failed\"] == [\"seed.hurl:12 Database connectivity\"]" &&
	smoke_json db.json "fa(1) == [\"HTTP 200\", \"jsonpath \\\"\$.db\\\" == \\\"connected\\\"\"]" &&
	smoke_json db.json "e[1][\"asserts\"][1][\"actual\"] == \"\\\"down\\\"\" and e[1][\"http_status\"] == 503" &&
	smoke_json db.json "[x[\"status\"] for x in e] == [\"passed\", \"failed\"] + [\"not_run\"] * 4" &&
	test_grep "FAIL Database connectivity" err &&
	test_grep "body (first 1 KiB):" err &&
	test_grep "{\"db\": \"down\", \"error\": \"connection refused\"}" err
'

test_expect_success 'with --continue-on-error the entries after a failure still run' '
	app_reset &&
	app_control "{\"db_down\": true}" &&
	test_expect_code 1 smoke --continue-on-error >cont.json 2>err
'

test_expect_success '... and pass' '
	smoke_json cont.json "[x[\"status\"] for x in e] == [\"passed\", \"failed\"] + [\"passed\"] * 4"
'

test_expect_success 'the app is healthy again after the failures' '
	app_reset &&
	smoke >again.json 2>err &&
	smoke_json again.json "s[\"status\"] == \"passed\""
'

test_done
