#!/bin/sh
test_description='ci-smoke never shows a secret: not on stdout, stderr, TAP or JUnit'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/data/smoke/lib.sh"

start_app
# Hidden as given, URL-encoded ('/' is %2F in [Query]) and JSON-escaped
# ('/' stays); what a server derives from a secret (decoded '+', a split
# at '&') cannot be recognized, so this one survives a raw URL intact.
KEY=$SMOKE_API_KEY
PASSWORD=$SMOKE_PASSWORD

cat >secrets.hurl <<'HURL'
# name: login
POST {{base}}/login
{"email": "ops@test.com", "password": "{{password}}"}
HTTP 200
[Captures]
token: jsonpath "$.token" redact

# name: everything echoed back, and a failing assert
POST {{base}}/echo?raw={{apikey}}
Authorization: Bearer {{token}}
X-Api-Key: {{apikey}}
[Query]
encoded: {{apikey}}
[BasicAuth]
ops: {{password}}
[Options]
retry: 1
retry-interval: 1ms
{"key": "{{apikey}}", "password": "{{password}}"}
HTTP 200
[Asserts]
jsonpath "$.headers['x-api-key']" == "{{apikey}}"
jsonpath "$.json.password" == "{{password}}"
jsonpath "$.headers.authorization" startsWith "Bearer {{token}}"
body contains "{{apikey}}"
jsonpath "$.body" == "this fails and shows the body"
HURL

test_expect_success 'a failing run with secrets everywhere' '
	test_expect_code 1 ci-smoke --new --verbose --secret password=$PASSWORD --secret "apikey=$KEY" \
	    --wait "$BASE/health?key=$KEY" -v base="$BASE" \
	    --tap=tap.txt --junit junit.xml secrets.hurl >out.json 2>err
'

test_expect_success 'the run did use the secrets: the echo assertions passed' '
	smoke_json out.json "fa(1) == [\"jsonpath \\\"\$.body\\\" == \\\"this fails and shows the body\\\"\"]" &&
	smoke_json out.json "e[0][\"status\"] == \"passed\" and e[1][\"attempts\"] == 2"
'

test_expect_success 'no secret in the document, stderr, TAP or JUnit' '
	for f in out.json err tap.txt junit.xml; do
		! grep -F "$KEY" $f || return 1
		! grep -F "s3cr3t" $f || return 1
		! grep -F "$PASSWORD" $f || return 1
	done
'

test_expect_success 'no captured token either (redact)' '
	for f in out.json err tap.txt junit.xml; do
		! grep -E "[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}" $f || return 1
	done
'

test_expect_success 'where they were, *** stands' '
	smoke_json out.json "e[1][\"url\"] == \"$BASE/echo?raw=***&encoded=***\"" &&
	smoke_json out.json "s[\"wait\"][\"url\"] == \"$BASE/health?key=***\"" &&
	smoke_json out.json "e[1][\"asserts\"][1][\"expected\"] == \"== \\\"***\\\"\"" &&
	smoke_json out.json "e[1][\"asserts\"][3][\"actual\"] == \"\\\"Bearer ***\\\"\"" &&
	test_grep "\"x-api-key\": \"\*\*\*\"" err &&
	test_grep "Bearer \*\*\*" tap.txt &&
	test_grep "Bearer \*\*\*" junit.xml
'

test_expect_success 'the secrets still reached the app' '
	python3 -c "import urllib.request; print(urllib.request.urlopen(\"$BASE/_control\").read().decode())" >state.json &&
	test_json state.json "d[\"by_path\"][\"/echo\"] == 2 and d[\"by_path\"][\"/login\"] == 1"
'

test_expect_success 'a value given with -v is not hidden (it is not a secret)' '
	printf "GET {{base}}/echo?k={{plain}}\nHTTP 200\n" >plain.hurl &&
	ci-smoke --new -v base="$BASE" -v plain=visible123 plain.hurl >plain.json 2>err &&
	grep -F visible123 plain.json
'

test_expect_success 'a secret in a failing --wait URL is hidden in the message' '
	dead=http://127.0.0.1:$(test_free_port) &&
	{ ci-smoke --new --secret "apikey=$KEY" --wait "$dead/?key=$KEY" --wait-timeout 200ms \
	    -v base=$dead plain.hurl -v plain=x >never.json 2>err; echo $? >rc; } &&
	test $(cat rc) = 1 &&
	! grep -F "s3cr3t" never.json err &&
	test_grep "key=\*\*\*" err
'

test_done
