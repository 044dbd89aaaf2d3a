#!/bin/sh
test_description='ci-smoke writes JUnit and TAP: one named test case per entry'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/data/smoke/lib.sh"

start_app
cp "$SMOKE_DATA/seed.hurl" .
cat >odd.hurl <<'HURL'
# name: <odd> & "quoted" # name
GET {{base}}/health
HTTP 200

GET {{base}}/echo?x=<&>
HTTP 200
HURL

test_expect_success 'a passing run: JUnit that xmllint accepts, one test case per entry' '
	ci-smoke --new -v base="$BASE" --secret password="$SMOKE_PASSWORD" --junit reports/junit.xml \
	    --tap=reports/tap.txt seed.hurl odd.hurl >out.json 2>err &&
	python3 - reports/junit.xml >cases <<-\PY &&
	import sys, xml.etree.ElementTree as ET
	root = ET.parse(sys.argv[1]).getroot()
	print(root.tag, root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped"))
	for suite in root:
	    print(" ", suite.get("name"), suite.get("tests"))
	    for c in suite:
	        print("   ", c.get("classname"), "|", c.get("name"), "|", len(list(c)))
	PY
	cat >expect <<-\EOF &&
	testsuites 8 0 0 0
	  seed.hurl 6
	    seed.hurl | Health check | 0
	    seed.hurl | Database connectivity | 0
	    seed.hurl | Login flow | 0
	    seed.hurl | Login token works | 0
	    seed.hurl | Checkout flow | 0
	    seed.hurl | Search | 0
	  odd.hurl 2
	    odd.hurl | <odd> & "quoted" # name | 0
	    odd.hurl | odd.hurl:5 GET {{base}}/echo?x=<&> | 0
	EOF
	test_cmp expect cases
'

test_expect_success 'XMLLINT' '... and xmllint --noout accepts it' '
	xmllint --noout reports/junit.xml
'

test_expect_success '... the TAP file has a plan and one line per entry, # escaped' '
	cat >expect <<-\EOF &&
	1..8
	ok 1 - Health check
	ok 2 - Database connectivity
	ok 3 - Login flow
	ok 4 - Login token works
	ok 5 - Checkout flow
	ok 6 - Search
	ok 7 - <odd> & "quoted" \# name
	ok 8 - odd.hurl:5 GET {{base}}/echo?x=<&>
	EOF
	test_cmp expect reports/tap.txt &&
	prove -e cat reports/tap.txt >prove.out 2>&1
'

test_expect_success 'a failing run' '
	app_reset &&
	app_control "{\"db_down\": true}" &&
	dead=http://127.0.0.1:$(test_free_port) &&
	printf "# name: down\nGET {{dead}}/health\nHTTP 200\n\nGET {{dead}}/x\n" >dead.hurl &&
	test_expect_code 1 ci-smoke --new -v base="$BASE" -v dead=$dead --secret password="$SMOKE_PASSWORD" \
	    --junit fail.xml --tap=fail.tap seed.hurl dead.hurl >fail.json 2>err
'

test_expect_success 'XMLLINT' '... JUnit: failures, errors and skipped cases, valid XML' '
	app_reset &&
	xmllint --noout fail.xml &&
	python3 - fail.xml >cases <<-\PY &&
	import re, sys, xml.etree.ElementTree as ET
	root = ET.parse(sys.argv[1]).getroot()
	print(root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped"))
	for c in root.iter("testcase"):
	    kids = list(c)
	    msg = re.sub(r":[0-9]+/", ":PORT/", kids[0].get("message", "")) if kids else ""
	    print(c.get("name"), "|", kids[0].tag if kids else "-", "|", msg[:30])
	PY
	cat >expect <<-\EOF &&
	8 1 1 5
	Health check | - | 
	Database connectivity | failure | seed.hurl:13: HTTP 200: expect
	Login flow | skipped | not run: an earlier entry of t
	Login token works | skipped | not run: an earlier entry of t
	Checkout flow | skipped | not run: an earlier entry of t
	Search | skipped | not run: an earlier entry of t
	down | error | GET http://127.0.0.1:PORT/heal
	dead.hurl:5 GET {{dead}}/x | skipped | not run: an earlier entry of t
	EOF
	test_cmp expect cases &&
	test_grep "body (first 1 KiB):" fail.xml
'

test_expect_success '... TAP: not ok with the story as comments, skips as SKIP' '
	test_grep "^not ok 2 - Database connectivity$" fail.tap &&
	test_grep "^#   assert seed.hurl:13: HTTP 200$" fail.tap &&
	test_grep "^#     actual:   503$" fail.tap &&
	test_grep "^ok 3 - Login flow # SKIP not run: an earlier entry of the file failed$" fail.tap &&
	test_grep "^not ok 7 - down$" fail.tap &&
	test_grep "^#   error: GET $dead\|^#   error: GET http://127.0.0.1:[0-9]*/health: " fail.tap &&
	! prove -e cat fail.tap >prove.out 2>&1 &&
	test_grep "Failed 2/8 subtests" prove.out
'

test_expect_success '--tap alone puts TAP on stdout instead of the document' '
	ci-smoke --new --tap -v base="$BASE" --secret password="$SMOKE_PASSWORD" seed.hurl >stdout.tap 2>err &&
	head -n 1 stdout.tap >first &&
	echo 1..6 >expect &&
	test_cmp expect first &&
	! grep "\"ci\"" stdout.tap
'

test_expect_success 'an upstream failure gives an empty TAP plan that skips' '
	echo "{\"ci\":1,\"run\":{\"id\":\"x\"},\"status\":\"failed\",\"stages\":[]}" |
	{ ci-smoke --tap -v base="$BASE" --secret password="$SMOKE_PASSWORD" seed.hurl >up.tap 2>err; echo $? >rc; } &&
	test $(cat rc) = 1 &&
	test_grep "^1..0 # SKIP upstream stage" up.tap
'

test_expect_success 'a spec error gives Bail out! in TAP' '
	printf "GET {{base}}/\n[Options]\nhttp3: true\nHTTP 200\n" >bad.hurl &&
	{ ci-smoke --new --tap -v base="$BASE" bad.hurl >bail.tap 2>err; echo $? >rc; } &&
	test $(cat rc) = 2 &&
	test_grep "^Bail out! bad.hurl:3:1: the .http3. option is not supported" bail.tap &&
	! prove -e cat bail.tap >prove.out 2>&1
'

test_expect_success 'an unwritable JUnit path is an I/O error' '
	mkdir ro && chmod 500 ro &&
	if test "$(id -u)" = 0; then
		test_expect_code 74 ci-smoke --new -v base="$BASE" --junit /dev/full/x.xml odd.hurl >x.json 2>err
	else
		test_expect_code 74 ci-smoke --new -v base="$BASE" --junit ro/x.xml odd.hurl >x.json 2>err
	fi
'

test_done
