#!/bin/sh
test_description='ci-smoke: numbers out of range, URLs and encodings'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/data/smoke/lib.sh"

start_app

# A float too big for an integer (or not a number) used to be cast anyway:
# undefined behaviour, which a build with SANITIZE=1 and clang aborts on.
test_expect_success 'toInt of a float out of the integer range is a failed assert, named' '
	cat >big.hurl <<-\HURL &&
	POST {{base}}/echo
	{"n": 1e300, "m": -1e19, "s": "nan"}
	HTTP 200
	[Asserts]
	jsonpath "$.json.n" toInt == 1
	jsonpath "$.json.m" toInt == 1
	jsonpath "$.json.s" toFloat toInt == 1
	jsonpath "$.json.n" > 9223372036854775807
	jsonpath "$.json.m" < -9223372036854775807
	HURL
	{ ci-smoke --new -v base="$BASE" big.hurl >big.json 2>err; echo $? >rc; } &&
	test $(cat rc) = 1 &&
	smoke_json big.json "[a[\"status\"] for a in e[0][\"asserts\"]] == [\"passed\", \"failed\", \"failed\", \"failed\", \"passed\", \"passed\"]" &&
	smoke_json big.json "e[0][\"asserts\"][1][\"message\"] == \"toInt: 1e+300 does not fit a 64-bit integer\"" &&
	smoke_json big.json "e[0][\"asserts\"][2][\"message\"] == \"toInt: -1e+19 does not fit a 64-bit integer\"" &&
	smoke_json big.json "e[0][\"asserts\"][3][\"message\"] == \"toInt: nan does not fit a 64-bit integer\""
'

test_expect_success 'toInt still truncates a float in range' '
	printf "POST {{base}}/echo\n{\"n\": -2.9, \"b\": 9.2e18}\nHTTP 200\n[Asserts]\njsonpath \"\$.json.n\" toInt == -2\njsonpath \"\$.json.b\" toInt == 9200000000000000000\n" >trunc.hurl &&
	ci-smoke --new -v base="$BASE" trunc.hurl >trunc.json 2>err
'

# The clock plus a bare number of milliseconds used to overflow.
test_expect_success 'a delay beyond any duration is refused before anything runs' '
	printf "GET {{base}}/health\n[Options]\ndelay: 9223372036854775807\n" >delay.hurl &&
	{ ci-smoke --new -v base="$BASE" delay.hurl >delay.json 2>err; echo $? >rc; } &&
	test $(cat rc) = 2 &&
	test_grep "delay.hurl:3.*option .delay." err
'

test_expect_success '... and so is one a variable gives, at run time' '
	printf "GET {{base}}/health\n[Options]\nretry-interval: {{d}}\n" >var.hurl &&
	{ ci-smoke --new -v base="$BASE" -v d=99999999999999999999 var.hurl >var.json 2>err;
	  echo $? >rc; } &&
	test $(cat rc) = 1 &&
	smoke_json var.json "\"option \x27retry-interval\x27\" in e[0][\"error\"] and e[0].get(\"http_status\") is None"
'

test_expect_success '[Query] goes before the fragment, after a query already there' '
	cat >query.hurl <<-\HURL &&
	GET {{base}}/echo?a=1#frag
	[Query]
	b: x y&z
	HTTP 200
	[Asserts]
	jsonpath "$.query.a" == "1"
	jsonpath "$.query.b" == "x y&z"
	HURL
	ci-smoke --new -v base="$BASE" query.hurl >query.json 2>err &&
	smoke_json query.json "e[0][\"url\"] == \"$BASE/echo?a=1&b=x%20y%26z#frag\""
'

test_expect_success 'urlDecode keeps a bad escape as it is; urlEncode keeps /' '
	cat >url.hurl <<-\HURL &&
	GET {{base}}/echo
	X-Enc: a%20b%2Fc%ZZ%41
	HTTP 200
	[Asserts]
	jsonpath "$.headers.x-enc" urlDecode == "a b/c%ZZA"
	jsonpath "$.headers.x-enc" urlDecode urlEncode == "a%20b/c%25ZZA"
	HURL
	ci-smoke --new -v base="$BASE" url.hurl >url.json 2>err
'

test_expect_success 'base64 bodies take either alphabet; hex bodies either case' '
	printf "POST {{base}}/echo\nbase64,_-8+/w==;\nHTTP 200\n[Asserts]\njsonpath \"\$.length\" == 4\n\nPOST {{base}}/echo\nhex,4A4b;\nHTTP 200\n[Asserts]\njsonpath \"\$.body\" == \"JK\"\n" >b64.hurl &&
	ci-smoke --new -v base="$BASE" b64.hurl >b64.json 2>err &&
	printf "POST {{base}}/echo\nbase64,AP8*;\n" >bad64.hurl &&
	{ ci-smoke --new -v base="$BASE" bad64.hurl >bad.json 2>err; echo $? >rc; } &&
	test $(cat rc) = 2 && test_grep "bad64.hurl:2:1: bad base64 body" err
'

test_done
