#!/bin/sh
test_description='ci-smoke refuses bad files and options before running anything'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/data/smoke/lib.sh"

# Nothing listens on this port: nothing may be sent to it.
DEAD=http://127.0.0.1:$(test_free_port)

test_expect_success 'usage: -h prints the usage on stdout and exits 0' '
	ci-smoke -h >out &&
	test_grep "^usage: ci-smoke" out &&
	ci-smoke --version >out &&
	test_grep "^ci-smoke [0-9]" out
'

test_expect_success 'usage: no file is an error' '
	test_expect_code 2 ci-smoke --new >out 2>err
'

test_expect_success '... saying so, with the usage on stderr' '
	test_grep "^ci-smoke: error: no Hurl file given" err &&
	test_grep "try .ci-smoke --help." err && ! test -s out
'

bad_option() {
	test_expect_success "usage: $1" "
		{ ci-smoke --new $2 x.hurl >out 2>err; echo \$? >rc; } &&
		test \$(cat rc) = 2 && ! test -s out &&
		test_grep \"$3\" err
	"
}
bad_option '-j 0' '-j 0' "-j '0': expected a number from 1 to 1024"
bad_option 'a bad duration' '--max-time soon' "--max-time 'soon'"
bad_option 'a bad --retry' '--retry -2' "--retry '-2'"
bad_option 'a bad --repeat' '--repeat 0' "--repeat '0'"
bad_option 'an unknown option' '--frobnicate' "^ci-smoke: error: unknown option '--frobnicate'"

test_expect_success 'a bad -v is a usage error naming it' '
	echo "GET $DEAD/" >ok.hurl &&
	{ ci-smoke --new -v "no equals" ok.hurl >out 2>err; echo $? >rc; } &&
	test $(cat rc) = 2 && test_grep "\-v: expected NAME=VALUE" err &&
	{ ci-smoke --new -v "b@d=1" ok.hurl >out 2>err; echo $? >rc; } &&
	test $(cat rc) = 2 && test_grep "bad variable name .b@d." err
'

# refused_file NAME FILE-CONTENT MESSAGE: exit 2, the message, an error section
refused_file() {
	name=$1 msg=$3
	printf '%s\n' "$2" >"case-$name.hurl"
	test_expect_success "refused: $name" "
		{ ci-smoke --new -v base=$DEAD case-$name.hurl >out.json 2>err; echo \$? >rc; } &&
		test \$(cat rc) = 2 &&
		test_grep \"error: case-$name.hurl:$msg\" err &&
		smoke_json out.json \"s[\\\"status\\\"] == \\\"error\\\" and d[\\\"status\\\"] == \\\"failed\\\"\"
	"
}
refused_file query 'GET {{base}}/
HTTP 200
[Asserts]
xpaht "//title" exists' "4:1: unknown query 'xpaht'"
refused_file section 'GET {{base}}/
[Frobs]
a: b' "2:1: unknown section '\\[Frobs\\]'"
refused_file option 'GET {{base}}/
[Options]
http3: true' "3:1: the 'http3' option is not supported by ci-smoke"
refused_file option-value 'GET {{base}}/
[Options]
max-redirs: many' "3:1: option 'max-redirs': expected a number of redirects"
refused_file user 'GET {{base}}/
[Options]
user: bob' "3:1: option 'user': expected USER:PASSWORD"
refused_file output 'GET {{base}}/
[Options]
output: -' "3:1: option 'output': '-' is not supported by ci-smoke"
refused_file filter 'GET {{base}}/
HTTP 200
[Asserts]
header "Date" toData "%a" exists' "4:15: unknown predicate or filter 'toData'"
refused_file filter-arg 'GET {{base}}/
HTTP 200
[Asserts]
header "Date" toDate exists' "4:22: expected a quoted string after 'toDate'"
refused_file predicate 'GET {{base}}/
HTTP 200
[Asserts]
jsonpath "$.ip" isIpv7' "4:17: unknown predicate or filter 'isIpv7'"
refused_file cookie 'GET {{base}}/
HTTP 200
[Asserts]
cookie "a[Colour]" exists' "4:8: cookie: unknown attribute 'Colour'"
refused_file certificate 'GET {{base}}/
HTTP 200
[Asserts]
certificate "Owner" exists' "4:13: certificate: expected Subject, Issuer"
refused_file file-value 'GET {{base}}/
HTTP 200
[Asserts]
bytes == file,x.bin' "4:20: expected ';' after the file name"
refused_file file-name 'GET {{base}}/
HTTP 200
[Asserts]
bytes == file,;' "4:15: expected a file name after 'file,'"
refused_file multiline-lang 'POST {{base}}/
```yaml
a: 1
```' "2:4: unknown multiline string language 'yaml'"
refused_file multiline-attr 'POST {{base}}/
```json,escape
{}
```' "2:4: the multiline string attributes of 'json,escape' (escape, novariable) are not supported"
refused_file multiline-open 'GET {{base}}/
HTTP 200
[Asserts]
body == ```
a' "4:9: the multiline string is not closed"
refused_file graphql-vars 'POST {{base}}/
```graphql
{ a }
variables {
  "id": 1
```' "4:1: graphql: the variables block is not a JSON object"
refused_file json 'POST {{base}}/
{
  "a": 1,
}' "4:1: .* (in the JSON body)"
refused_file jsonpath 'GET {{base}}/
HTTP 200
[Asserts]
jsonpath "$.a[" exists' "4:1: jsonpath '\\$.a\\[': column 5"

test_expect_success 'an undefined variable is an error naming the file and line' '
	printf "GET {{base}}/health\nHTTP 200\n\nGET {{base}}/x?t={{tokn}}\n" >typo.hurl &&
	test_expect_code 2 ci-smoke --new -v base=$DEAD typo.hurl >out.json 2>err
'

test_expect_success '... before anything is sent' '
	test_grep "error: typo.hurl:4: undefined variable .tokn." err &&
	smoke_json out.json "s[\"status\"] == \"error\" and \"tokn\" in s[\"reason\"]"
'

test_expect_success 'a variable used before the entry that captures it is undefined' '
	printf "GET {{base}}/a\nX: {{late}}\nHTTP 200\n\nGET {{base}}/b\nHTTP 200\n[Captures]\nlate: status\n" >order.hurl &&
	test_expect_code 2 ci-smoke --new -v base=$DEAD order.hurl >out.json 2>err &&
	test_grep "order.hurl:2: undefined variable .late." err
'

test_expect_success 'a capture may be used in the asserts of its own entry' '
	printf "GET {{base}}/a\nHTTP 200\n[Captures]\nc: status\n[Asserts]\nvariable \"c\" == {{c}}\n" >own.hurl &&
	ci-smoke -n -v base=$DEAD own.hurl >plan &&
	test_grep "own.hurl: 1 entry" plan
'

test_expect_success 'variables come from HURL_name, --variables-file, -v and options' '
	printf "GET {{base}}/{{a}}/{{b}}/{{c}}/{{d}}\n[Options]\nvariable: d=4\n" >vars.hurl &&
	printf "# comment\n\nb=2\n" >vars.env &&
	HURL_base=$DEAD HURL_a=1 ci-smoke -n --variables-file vars.env -v c=3 vars.hurl >plan &&
	test_grep "1: GET {{base}}/{{a}}/{{b}}/{{c}}/{{d}}" plan
'

test_expect_success 'a bad line in a variables file names the file and line' '
	printf "a=1\n\nnot a pair\n" >bad.env &&
	test_expect_code 2 ci-smoke -n --variables-file bad.env vars.hurl >plan 2>err &&
	test_grep "bad.env:3: expected NAME=VALUE" err
'

test_expect_success 'a missing file is a usage error' '
	test_expect_code 2 ci-smoke --new -v base=$DEAD nosuch.hurl >out.json 2>err &&
	test_grep "cannot open .nosuch.hurl." err
'

test_expect_success 'the second of two files is checked too' '
	printf "GET {{base}}/\n" >good.hurl &&
	printf "GET {{base}}/\nHTTP 2000\n" >second.hurl &&
	{ ci-smoke --new -v base=$DEAD good.hurl second.hurl >out.json 2>err; echo $? >rc; } &&
	test $(cat rc) = 2 &&
	test_grep "second.hurl:2:6: expected a status code" err
'

test_expect_success '--dry-run prints the entries of the seed suite and runs nothing' '
	ci-smoke -n -v base=$DEAD --secret password="$SMOKE_PASSWORD" "$SMOKE_DATA/seed.hurl" >plan 2>err &&
	test_grep "seed.hurl: 6 entries" plan &&
	test_grep "  18: POST {{base}}/login  (Login flow) -> 200, 1 assert, 1 capture" plan &&
	test_grep "  51: GET {{base}}/search  (Search) -> 200, 2 asserts, 0 captures" plan
'

test_expect_success '--dry-run counts {{image}} and {{version}} as given by a document' '
	printf "GET {{base}}/{{image}}/{{version}}\n" >doc.hurl &&
	ci-smoke -n -v base=$DEAD doc.hurl >plan &&
	test_grep "doc.hurl: 1 entry" plan
'

test_expect_success 'every supported construct parses: the feature files' '
	ci-smoke -n -v base=$DEAD -v greeting=x -v count=1 -v flag=true -v session=s \
	    "$SMOKE_DATA/features.hurl" "$SMOKE_DATA/negatives.hurl" "$SMOKE_DATA/chain.hurl" \
	    -v password="$SMOKE_PASSWORD" >plan &&
	test_grep "features.hurl: 15 entries" plan &&
	test_grep "negatives.hurl: 25 entries" plan &&
	test_grep "chain.hurl: 4 entries" plan
'

test_done
