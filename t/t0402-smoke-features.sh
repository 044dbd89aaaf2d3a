#!/bin/sh
test_description='ci-smoke builds requests, captures and judges like Hurl'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/data/smoke/lib.sh"

start_app
cp "$SMOKE_DATA/features.hurl" "$SMOKE_DATA/negatives.hurl" "$SMOKE_DATA/chain.hurl" \
    "$SMOKE_DATA/body.txt" .

test_expect_success 'every request construct reaches the app as written' '
	ci-smoke --new -v base="$BASE" -v greeting=hi -v count=3 -v flag=true \
	    -v session=abc123 features.hurl >out.json 2>err &&
	smoke_json out.json "s[\"status\"] == \"passed\"" &&
	smoke_json out.json "[x[\"status\"] for x in e].count(\"passed\") == 14" &&
	smoke_json out.json "[x[\"name\"] for x in e if x[\"status\"] == \"skipped\"] == [\"features.hurl:168 GET {{base}}/status/500\"]" &&
	smoke_json out.json "s[\"summary\"][\"requests\"] == 14" &&
	smoke_json out.json "e[0][\"url\"] == \"$BASE/echo?fixed=1&q=two%20words%26more&n=3\"" &&
	smoke_json out.json "e[0][\"captures\"] == [\"echoed_q\", \"auth\"]" &&
	smoke_json out.json "e[9][\"http_status\"] == 302 and e[8][\"http_status\"] == 200"
'

test_expect_success 'every assert of the negatives file fails, each for its reason' '
	{ ci-smoke --new -v base="$BASE" --continue-on-error negatives.hurl >neg.json 2>err;
	  echo $? >rc; } &&
	test $(cat rc) = 1 &&
	python3 - neg.json >actual <<-\EOF &&
	import json, sys
	s = json.load(open(sys.argv[1]))["smoke"]
	for x in s["files"][0]["entries"]:
	    bad = [a for a in x["asserts"] if a["status"] == "failed"]
	    actual = "N" if bad[0]["assert"].startswith("duration") else bad[0]["actual"][:20]
	    print(x["status"], x["line"], len(bad), bad[0]["assert"], "|", actual)
	EOF
	cat >expect <<-\EOF &&
	failed 2 1 HTTP 404 | 200
	failed 5 1 Content-Type: text/html | "application/json"
	failed 9 1 jsonpath "$.count" == 41 | 42
	failed 14 1 jsonpath "$.count" == "42" | 42
	failed 19 1 jsonpath "$.count" != 42 | 42
	failed 24 1 jsonpath "$.count" > 42 | 42
	failed 29 1 jsonpath "$.count" <= 41 | 42
	failed 34 1 jsonpath "$.query" startsWith "b" | "abc"
	failed 39 1 jsonpath "$.query" endsWith "b" | "abc"
	failed 44 1 body contains "nowhere" | "{\"query\": \"abc\"
	failed 49 1 jsonpath "$.query" matches /^[0-9]+$/ | "abc"
	failed 54 1 jsonpath "$.missing" exists | none
	failed 59 1 jsonpath "$.query" not exists | "abc"
	failed 64 1 jsonpath "$.results[*].id" includes 99 | [1,2,3,4,5,6,7,8,9,1
	failed 69 1 jsonpath "$.query" isInteger | "abc"
	failed 74 1 jsonpath "$.count" isString | 42
	failed 79 1 jsonpath "$.results" isEmpty | [{"id":1,"title":"ab
	failed 84 1 jsonpath "$..nothing" exists | []
	failed 89 1 jsonpath "$.query" toInt == 1 | none
	failed 94 1 duration < 0 | N
	failed 99 1 {"query": "abc"} | "{\"query\": \"abc\"
	failed 103 1 bytes == hex,0001; | hex,000102ff;
	failed 108 1 body jsonpath "$.status" == "down" | "ok"
	failed 113 1 regex "\"status\": \"([a-z]+)\"" == "up" | "ok"
	failed 118 1 jsonpath "$.query" split "," count == 3 | 2
	EOF
	test_cmp expect actual &&
	smoke_json neg.json "[a[\"message\"] for a in e[18][\"asserts\"] if a[\"status\"] == \"failed\"] == [\"toInt: \\\"abc\\\" is not an integer\"]"
'

test_expect_success 'JSON with a repeated key is read (the first wins); a JSON body is sent as written' '
	printf "GET {{base}}/dup\nHTTP 200\n[Asserts]\njsonpath \"\$.a\" == 1\n" >dup.hurl &&
	ci-smoke --new -v base="$BASE" dup.hurl >dup.json 2>err &&
	cat >big.hurl <<-\HURL &&
	GET {{base}}/echo
	{"n": 12345678901234567890}
	HTTP 200
	[Asserts]
	jsonpath "$.body" == "{\"n\": 12345678901234567890}"
	HURL
	ci-smoke --new -v base="$BASE" big.hurl >big.json 2>err
'

test_expect_success 'captures chain from entry to entry' '
	ci-smoke --new -v base="$BASE" -v password="$SMOKE_PASSWORD" chain.hurl >chain.json 2>err &&
	smoke_json chain.json "s[\"status\"] == \"passed\"" &&
	smoke_json chain.json "[x.get(\"captures\") for x in e] == [[\"token\"], [\"email\", \"plan\"], [\"seen\"], None]" &&
	smoke_json chain.json "e[2][\"url\"] == \"$BASE/echo?plan=json\"" &&
	smoke_json chain.json "e[3][\"asserts\"][1] == {\"line\": 31, \"assert\": \"jsonpath \\\"\$.email\\\" == {{email}}\", \"status\": \"passed\", \"expected\": \"== \\\"chain@test.com\\\"\", \"actual\": \"\\\"chain@test.com\\\"\"}"
'

test_expect_success 'captures start afresh in each file: a second file does not see them' '
	printf "GET {{base}}/profile\nAuthorization: Bearer {{token}}\nHTTP 200\n" >uses-token.hurl &&
	{ ci-smoke --new -v base="$BASE" -v password="$SMOKE_PASSWORD" chain.hurl uses-token.hurl >x.json 2>err;
	  echo $? >rc; } &&
	test $(cat rc) = 2 &&
	test_grep "uses-token.hurl:2: undefined variable .token." err
'

test_expect_success 'a request over its max-time fails with the reason' '
	app_reset &&
	app_control "{\"latency_paths\": {\"/search\": 3000}}" &&
	printf "GET {{base}}/search?q=x\n[Options]\nmax-time: 200ms\nHTTP 200\n" >slow.hurl &&
	test_expect_code 1 ci-smoke --new -v base="$BASE" slow.hurl >slow.json 2>err
'

test_expect_success '... reported as an error of the entry' '
	app_reset &&
	smoke_json slow.json "e[0][\"status\"] == \"failed\" and \"timed out\" in e[0][\"error\"]" &&
	smoke_json slow.json "e[0][\"error\"].startswith(\"GET $BASE/search?q=x: \")" &&
	test_grep "error: GET $BASE/search?q=x: .*timed out" err
'

test_expect_success '--max-time applies to every request' '
	app_control "{\"latency_paths\": {\"/search\": 3000}}" &&
	printf "GET {{base}}/search?q=x\nHTTP 200\n" >slow2.hurl &&
	test_expect_code 1 ci-smoke --new --max-time 200ms -v base="$BASE" slow2.hurl >slow2.json 2>err
'

test_expect_success 'a refused connection fails the entry, naming the URL' '
	app_reset &&
	dead=http://127.0.0.1:$(test_free_port) &&
	printf "GET {{base}}/health\nHTTP 200\n" >dead.hurl &&
	{ ci-smoke --new -v base=$dead dead.hurl >dead.json 2>err; echo $? >rc; } &&
	test $(cat rc) = 1 &&
	smoke_json dead.json "e[0][\"status\"] == \"failed\" and e[0][\"error\"].startswith(\"GET $dead/health: \")" &&
	smoke_json dead.json "\"http_status\" not in e[0] and e[0][\"attempts\"] == 1" &&
	test_grep "FAIL dead.hurl:1 GET {{base}}/health" err
'

test_expect_success 'a file body must stay under the directory of its Hurl file' '
	mkdir -p sub &&
	printf "POST {{base}}/echo\nfile,../body.txt;\nHTTP 200\n" >sub/escape.hurl &&
	test_expect_code 2 ci-smoke --new -v base="$BASE" sub/escape.hurl >esc.json 2>err &&
	test_grep "sub/escape.hurl:2: file .../body.txt.: a file must stay under" err
'

test_expect_success '... also when a variable names it, at run time' '
	printf "POST {{base}}/echo\nfile,{{f}};\nHTTP 200\n" >sub/escape.hurl &&
	{ ci-smoke --new -v base="$BASE" -v f=../body.txt sub/escape.hurl >esc.json 2>err; echo $? >rc; } &&
	test $(cat rc) = 1 &&
	smoke_json esc.json "\"must stay under\" in e[0][\"error\"] and \"url\" in e[0]" &&
	smoke_json esc.json "s[\"summary\"][\"requests\"] == 0"
'

test_expect_success '-v values are typed like Hurl: numbers compare as numbers' '
	printf "GET {{base}}/search?q=x\nHTTP 200\n[Asserts]\njsonpath \"\$.count\" == {{n}}\njsonpath \"\$.query\" == {{q}}\n" >typed.hurl &&
	ci-smoke --new -v base="$BASE" -v n=42 -v q=x typed.hurl >typed.json 2>err &&
	{ ci-smoke --new -v base="$BASE" -v n=042 -v q=x typed.hurl >typed2.json 2>err; echo $? >rc; } &&
	test $(cat rc) = 1 &&
	smoke_json typed2.json "e[0][\"asserts\"][1][\"expected\"] == \"== \\\"042\\\"\""
'

test_expect_success 'a body over --max-body: kept up to the cap, counted and hashed to its end' '
	sum=$(python3 -c "import hashlib; print(hashlib.sha256((bytes(range(256)) * 12288)).hexdigest())") &&
	printf "GET {{base}}/stream?bytes=3145728\nHTTP 200\n[Asserts]\nbytes count == 3145728\nstatus == 200\nsha256 == hex,$sum;\n" >big.hurl &&
	ci-smoke --new -v base="$BASE" --max-body 1M big.hurl >big.json 2>big.err &&
	smoke_json big.json "s[\"status\"] == \"passed\"" &&
	smoke_json big.json "[a[\"status\"] for a in e[0][\"asserts\"]] == [\"passed\", \"passed\", \"passed\", \"passed\"]" &&
	sed -e "s/== hex,./== hex,0/" big.hurl >bigbad.hurl &&
	test_expect_code 1 ci-smoke --new -v base="$BASE" --max-body 1M bigbad.hurl >bigbad.json 2>bigbad.err &&
	smoke_json bigbad.json "fa(0) == [\"sha256 == hex,0$(echo $sum | cut -c2-);\"]"
'

test_expect_success 'past the cap, a query of the body fails with the length and sha256 of the whole' '
	sum=$(python3 -c "import hashlib; print(hashlib.sha256((bytes(range(256)) * 12288)).hexdigest())") &&
	printf "GET {{base}}/stream?bytes=3145728\nHTTP 200\n[Asserts]\nbytes count == 3145728\nbytes contains hex,feff;\n" >cut.hurl &&
	test_expect_code 1 ci-smoke --new -v base="$BASE" --max-body 1M cut.hurl >cut.json 2>cut.err &&
	test_grep "the body (3.0 MiB, sha256:$sum) passed the 1.0 MiB kept for asserts (--max-body SIZE raises it); only .bytes count. and .sha256. look past it" cut.err &&
	smoke_json cut.json "fa(0) == [\"bytes contains hex,feff;\"]" &&
	printf "GET {{base}}/stream?bytes=3145728\nHTTP 200\nhex,00010203;\n" >cutbody.hurl &&
	test_expect_code 1 ci-smoke --new -v base="$BASE" --max-body 1M cutbody.hurl >cutbody.json 2>cutbody.err &&
	test_grep "sha256:$sum) passed the 1.0 MiB kept" cutbody.err &&
	ci-smoke --new -v base="$BASE" --max-body 4M cut.hurl >whole.json 2>whole.err &&
	smoke_json whole.json "s[\"status\"] == \"passed\""
'

test_expect_success '--max-body refuses what is not a size' '
	test_expect_code 2 ci-smoke --new -v base="$BASE" --max-body lots big.hurl >big3.json 2>big3.err &&
	test_grep "max-body .lots.: expected a size" big3.err
'

test_done
