#!/bin/sh
test_description='ci-smoke speaks the rest of Hurl: queries, filters, predicates, options, strings'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/data/smoke/lib.sh"

start_app

# feature NAME REQUEST PASS FAIL: as Hurl's own tests do, a request (its
# lines with "\n" between them, up to its HTTP line), an assert that must
# pass against the app and one that must fail.
feature() {
	printf '%b\n[Asserts]\n%s\n' "$2" "$3" >"$1-pass.hurl"
	printf '%b\n[Asserts]\n%s\n' "$2" "$4" >"$1-fail.hurl"
	# a test's name is one line of TAP
	set -- "$1" "$2" "$(printf '%s' "$3" | tr '\n' ' ')" "$(printf '%s' "$4" | tr '\n' ' ')"
	test_expect_success "$1: $3" "
		ci-smoke --new -q -v base=$BASE -v id=p4 $1-pass.hurl >out.json 2>err &&
		smoke_json out.json 's[\"status\"] == \"passed\"'
	"
	test_expect_success "$1: not $4" "
		test_expect_code 1 ci-smoke --new -q -v base=$BASE -v id=p4 $1-fail.hurl >out.json 2>err &&
		smoke_json out.json 'e[0][\"asserts\"][-1][\"status\"] == \"failed\"'
	"
}

printf '\000\001\002\377' >bytes.bin
printf 'x' >other.bin

B='GET {{base}}/bytes\nHTTP 200'
V='GET {{base}}/values\nHTTP 200'
X='GET {{base}}/xml\nHTTP 200'
C='GET {{base}}/cookies\nHTTP 200'

# predicate values and queries on the body
feature bytes-file "$B" 'bytes == file,bytes.bin;' 'bytes == file,other.bin;'
feature sha256 "$B" \
	'sha256 toHex == "3d1f57c984978ef98a18378c8166c1cb8ede02c03eeb6aee7e2f121dfeee3e56"' \
	'sha256 == hex,3d1f;'
feature md5 "$B" 'md5 == hex,0416dab819887333af831f8c765ac2ae;' 'md5 toHex startsWith "ff"'
feature rawbytes "$B" 'rawbytes count == 4' 'rawbytes count == 3'
feature ip "$B" 'ip == "127.0.0.1"' 'ip isIpv6'
feature version "$B" 'version == "1.1"' 'version == "2"'
feature url "$B" 'url endsWith "/bytes"' 'url endsWith "/other"'
feature duration "$B" 'duration < 60000' 'duration > 60000'

# redirects
feature redirects 'GET {{base}}/hops/2\n[Options]\nlocation: true\nHTTP 200' \
	'redirects nth 1 location endsWith "/hops/0"' 'redirects count == 1'
feature max-redirs 'GET {{base}}/hops/3\n[Options]\nlocation: true\nmax-redirs: 5\nHTTP 200' \
	'redirects count == 3' 'redirects first location endsWith "/hops/1"'

# cookies
feature cookie "$C" 'cookie "foo" == "value1"' 'cookie "foo" == "value2"'
feature cookie-path "$C" 'cookie "foo[Path]" == "/bar"' 'cookie "plain[Path]" exists'
feature cookie-max-age "$C" 'cookie "foo[Max-Age]" == 2592000' 'cookie "foo[Max-Age]" < 10'
feature cookie-expires "$C" 'cookie "foo[Expires]" dateFormat "%Y" == "2078"' \
	'cookie "foo[Expires]" daysBeforeNow > 0'
feature cookie-flags "$C" 'cookie "foo[HttpOnly]" exists' 'cookie "foo[Secure]" exists'
feature cookie-samesite "$C" 'cookie "foo[SameSite]" == "Strict"' 'cookie "plain[SameSite]" exists'

# xpath on XML (namespaces, "_" the default one) and HTML
feature xpath "$X" 'xpath "string(//_:book/_:title)" == "Café Dozen"' 'xpath "//_:p" count == 3'
feature xpath-prefix "$X" 'xpath "string(//isbn:number)" == "1568491379"' 'xpath "//_:nothing" exists'
feature xpath-html 'GET {{base}}/html\nHTTP 200' 'xpath "normalize-space(//title)" == "Shop"' \
	'xpath "//p" count == 1'
feature xpath-filter 'GET {{base}}/xml\nHTTP 200' 'body xpath "count(//_:p)" == 2' \
	'body xpath "count(//_:p)" == 3'

# filters
feature base64Decode "$V" 'jsonpath "$.b64" base64Decode == hex,d188d0b5d0bbd0bbd18b;' \
	'jsonpath "$.b64" base64Decode == hex,00;'
feature base64Encode "$V" 'jsonpath "$.b64" base64Decode base64Encode == "0YjQtdC70LvRiw=="' \
	'jsonpath "$.b64" base64Decode base64Encode == "0YjQ"'
feature base64UrlSafe "$V" 'jsonpath "$.b64url" base64UrlSafeDecode base64UrlSafeEncode == "PDw_Pz8-Pg"' \
	'jsonpath "$.b64url" base64UrlSafeDecode base64Encode == "PDw_Pz8-Pg"'
feature toHex "$B" 'bytes toHex == "000102ff"' 'bytes toHex == "000102FF"'
feature utf8 "$V" 'jsonpath "$.b64" base64Decode utf8Decode == "шеллы"' \
	'jsonpath "$.text" utf8Encode == hex,00;'
feature charsetDecode "$B" 'bytes charsetDecode "iso-8859-1" endsWith "ÿ"' \
	'bytes decode "latin1" == "x"'
feature first-last "$V" 'jsonpath "$.list" last == 3' 'jsonpath "$.list" first == 3'
feature htmlEscape "$V" 'jsonpath "$.text" htmlEscape == "a &gt; b &amp;&amp; a &lt; c"' \
	'jsonpath "$.text" htmlEscape == "a > b"'
feature htmlUnescape "$V" 'jsonpath "$.escaped" htmlUnescape == "Foo © bar & <"' \
	'jsonpath "$.escaped" htmlUnescape contains "&amp;"'
feature replaceRegex "$V" 'jsonpath "$.id" replaceRegex /\d/ "x" == "xxx"' \
	'jsonpath "$.id" replaceRegex "[0-2]" "x" == "xxx"'
feature urlQueryParam "$V" 'jsonpath "$.url" urlQueryParam "x" == "ш"' \
	'jsonpath "$.url" urlQueryParam "y" == "3"'
feature toDate "$V" 'jsonpath "$.date" toDate "%+" dateFormat "%d/%m/%Y %.f" == "31/10/2022 .594"' \
	'jsonpath "$.date" toDate "%Y-%m-%dT%H:%M:%S%.fZ" format "%Y" == "2023"'
feature http-date "$V" \
	'jsonpath "$.http_date" toDate "%a, %d %b %Y %H:%M:%S GMT" daysBeforeNow > 1000' \
	'jsonpath "$.http_date" toDate "%a, %d %b %Y %H:%M:%S GMT" daysAfterNow > 0'
feature date-compare "$V"'\n[Captures]\nold: jsonpath "$.http_date" toDate "%a, %d %b %Y %H:%M:%S GMT"' \
	'jsonpath "$.date" toDate "%+" > {{old}}' 'jsonpath "$.date" toDate "%+" <= {{old}}'
feature date-fixed-digits "$V" 'jsonpath "$.date" toDate "%+" dateFormat "%H:%M:%S%.3f" == "09:00:00.594"' \
	'jsonpath "$.date" toDate "%+" dateFormat "%S%.6f" == "00.594"'

# predicates
feature isIsoDate "$V" 'jsonpath "$.date" isIsoDate' 'jsonpath "$.text" isIsoDate'
feature isUuid "$V" 'jsonpath "$.uuid" isUuid' 'jsonpath "$.id" isUuid'
feature isList "$V" 'jsonpath "$.list" isList' 'jsonpath "$.list" isObject'
feature isDate "$V" 'jsonpath "$.date" toDate "%+" isDate' 'jsonpath "$.date" isDate'
feature contains-null "$V" 'jsonpath "$.list" not contains null' 'jsonpath "$.list" contains 4'

# options
feature user 'GET {{base}}/echo\n[Options]\nuser: bob:s3cr3t\nHTTP 200' \
	'jsonpath "$.headers.authorization" == "Basic Ym9iOnMzY3IzdA=="' \
	'jsonpath "$.headers.authorization" not exists'
feature digest 'GET {{base}}/digest\n[Options]\ndigest: true\nuser: dave:s3cret\nHTTP *' \
	'status == 200' 'status == 401'
feature aws-sigv4 'GET {{base}}/echo\n[Options]\naws-sigv4: aws:amz:eu-central-1:s3\nuser: AKID:SECRET\nHTTP 200' \
	'jsonpath "$.headers.authorization" startsWith "AWS4-HMAC-SHA256 Credential=AKID/"' \
	'jsonpath "$.headers.authorization" startsWith "Basic"'
feature compressed 'GET {{base}}/gzip\n[Options]\ncompressed: true\nHTTP 200' \
	'body == "Hello World!"' 'body == "Hello"'
feature http1.0 'GET {{base}}/echo\n[Options]\nhttp1.0: true\nHTTP 200' \
	'jsonpath "$.http" == "HTTP/1.0"' 'jsonpath "$.http" == "HTTP/1.1"'
feature header-option 'GET {{base}}/echo\n[Options]\nheader: X-Fruit: kiwi\nHTTP 200' \
	'jsonpath "$.headers.x-fruit" == "kiwi"' 'jsonpath "$.headers.x-fruit" == "lime"'
feature empty-header 'GET {{base}}/echo\nX-Empty;\nHTTP 200' \
	'jsonpath "$.headers.x-empty" == ""' 'jsonpath "$.headers.x-empty" not exists'
feature ipv4 'GET {{base}}/echo\n[Options]\nipv4: true\nHTTP 200' 'ip isIpv4' 'ip isIpv6'

# strings: multiline forms as bodies and as predicate values
feature graphql 'POST {{base}}/echo\n```graphql\nquery Q($id: ID!) {\n  person(id: $id)\n}\n\nvariables {\n  "id": "{{id}}"\n}\n```\nHTTP 200' \
	'jsonpath "$.json.variables.id" == "p4"' 'jsonpath "$.json.query" endsWith "\n"'
# the variables are sent as exactly as they were written (a double that
# needs 17 digits is not rounded to 15)
feature graphql-exact 'POST {{base}}/echo\n```graphql\nquery Q($x: Float!) {\n  f(x: $x)\n}\n\nvariables {\n  "x": 0.30000000000000004\n}\n```\nHTTP 200' \
	'jsonpath "$.body" contains "0.30000000000000004"' 'jsonpath "$.body" contains "\"x\":0.3}"'
feature multiline-value 'POST {{base}}/echo\n```\nline1\nline2\n```\nHTTP 200' \
	'jsonpath "$.body" == ```
line1
line2
```' 'jsonpath "$.body" == ```line1```'
feature raw 'POST {{base}}/echo\n```raw\n{{not_a_var}}\n```\nHTTP 200' \
	'jsonpath "$.body" contains "not_a_var"' 'jsonpath "$.body" == "x\n"'

# JSONPath functions (RFC 9535), written the way Hurl's filters use them
S='GET {{base}}/search?q=ab\nHTTP 200'
feature jsonpath-length "$S" 'jsonpath "$.results[?length(@.title) == 11]" count == 9' \
	'jsonpath "$.results[?length(@.title) == 11]" count == 42'
feature jsonpath-match "$S" "jsonpath \"\$.results[?match(@.title, 'ab result 4.')]\" count == 3" \
	"jsonpath \"\$.results[?match(@.title, 'result 4.')]\" exists"
feature jsonpath-search "$S" "jsonpath \"\$.results[?search(@.title, 'result 4')]\" count == 4" \
	"jsonpath \"\$.results[?search(@.title, 'result 43')]\" exists"
feature jsonpath-value "$S" 'jsonpath "$.results[?value(@.id) == 42].title" nth 0 == "ab result 42"' \
	'jsonpath "$.results[?value(@.id) == 42].title" nth 0 == "ab result 41"'
feature jsonpath-count "$V" 'jsonpath "$[?count(@.*) == 3]" count == 1' \
	'jsonpath "$[?count(@.*) == 3]" count == 2'
feature jsonpath-dot-bracket "$S" 'jsonpath "$.results.[1].id" == 2' 'jsonpath "$.results.[1].id" == 1'

# a JSON string as the whole body
feature json-string-body 'POST {{base}}/echo\nContent-Type: application/json\n"Hello Alice"\nHTTP 200' \
	'jsonpath "$.json" == "Hello Alice"' 'jsonpath "$.body" == "Hello Alice"'

# any three-digit status, as Hurl reads it
feature status-666 'GET {{base}}/status/666\nHTTP 666' 'status == 666' 'status == 200'

# built-in functions: a fresh value at each use
feature newUuid 'GET {{base}}/echo?u={{newUuid}}\nHTTP 200' 'jsonpath "$.query.u" isUuid' \
	'jsonpath "$.query.u" == "{{newUuid}}"'
feature newDate 'GET {{base}}/echo?d={{newDate}}\nHTTP 200' 'jsonpath "$.query.d" isIsoDate' \
	'jsonpath "$.query.d" toDate "%+" daysBeforeNow > 0'

test_expect_success 'a variable named like a built-in function wins over it' '
	printf "GET %s/echo?u={{newUuid}}\nHTTP 200\n[Asserts]\njsonpath \"\$.query.u\" == \"mine\"\n" "$BASE" >mine.hurl &&
	ci-smoke --new -q -v newUuid=mine mine.hurl >out.json &&
	smoke_json out.json "s[\"status\"] == \"passed\""
'

# refused by name, with the place, before anything is sent
refused() {
	printf '%b\n' "$2" >"$1.hurl"
	test_expect_success "dry run refuses $1 by name" "
		test_expect_code 2 ci-smoke --new -q -n $1.hurl >out 2>err &&
		test_grep \"$1.hurl:$3\" err
	"
}
refused fn-args 'GET http://h/?n={{randomInt 1 9}}\nHTTP 200' "1:5: the 'randomInt' function is not supported"
refused fn-plain 'GET http://h/?b={{randomBool}}\nHTTP 200' "1: the 'randomBool' function is not supported"
refused fn-uuid-args 'GET http://h/?b={{newUuid 4}}\nHTTP 200' "1:5: the 'newUuid' function takes no arguments"
refused status-4-digits 'GET http://h/\nHTTP 1000' '2:6: expected a status code of three digits'
refused status-2-digits 'GET http://h/\nHTTP 99' '2:6: expected a status code of three digits'
refused prior-knowledge 'GET http://h/\n[Options]\nhttp2-prior-knowledge: true\nHTTP 200' \
	"3:1: the 'http2-prior-knowledge' option is not supported"
refused variables-file 'GET http://h/\n[Options]\nvariables-file: v.env\nHTTP 200' \
	"3:1: the 'variables-file' option is not supported"
refused no-coercion 'GET http://h/\n[Options]\nno-jsonpath-coercion: true\nHTTP 200' \
	"3:1: the 'no-jsonpath-coercion' option is not supported"
refused output-stdout 'GET http://h/\n[Options]\noutput: -\nHTTP 200' \
	"3:1: option 'output': '-' is not supported by ci-smoke (the standard output carries the document)\$"
refused ml-escape 'GET http://h/\nHTTP 200\n```escape\n{"a": "\\\\u{41}"}\n```' \
	"3:4: the multiline string attributes of 'escape' (escape, novariable) are not supported"
refused json-string-open 'POST http://h/\n"Hello\nHTTP 200' '2:1: the JSON body is not closed'
refused fn-arity 'GET http://h/\nHTTP 200\n[Asserts]\njsonpath "$.a[?match(@.b)]" exists' \
	'4:1: jsonpath .*column 15: match() takes 2 arguments'
refused fn-compared 'GET http://h/\nHTTP 200\n[Asserts]\njsonpath "$.a[?search(@.b, 1) == true]" exists' \
	'4:1: jsonpath .*search() gives true or false: it cannot be compared'
refused fn-unknown 'GET http://h/\nHTTP 200\n[Asserts]\njsonpath "$.a[?size(@.b) == 1]" exists' \
	"4:1: jsonpath .*unexpected 's' in a filter"

test_expect_success 'the output option writes the body to a file' '
	printf "GET %s/health\n[Options]\noutput: got.json\nHTTP 200\n" "$BASE" >out.hurl &&
	ci-smoke --new -q out.hurl >out.json &&
	test_grep "\"status\": \"ok\"" got.json
'

test_expect_success 'a user option password is a secret, and so is its Basic header' '
	printf "GET %s/echo\n[Options]\nuser: bob:hunter22\nHTTP 200\n[Asserts]\njsonpath \"\$.headers.authorization\" == \"no\"\n" "$BASE" >sec.hurl &&
	test_expect_code 1 ci-smoke --new -q --tap sec.hurl >out.tap 2>err &&
	test_grep "Basic \*\*\*" out.tap &&
	! grep -e hunter22 -e Ym9iOmh1bnRlcjIy out.tap err
'

test_expect_success 'dry run: a file body outside the directory is refused' '
	mkdir -p sub &&
	printf "POST %s/echo\nfile,../bytes.bin;\nHTTP 200\n" "$BASE" >sub/up.hurl &&
	test_expect_code 2 ci-smoke --new -n sub/up.hurl >out 2>err &&
	test_grep "sub/up.hurl:2: file .../bytes.bin.: a file must stay under" err
'

test_expect_success 'dry run: a file predicate outside the directory is refused' '
	printf "GET %s/bytes\nHTTP 200\n[Asserts]\nbytes == file,/etc/passwd;\n" "$BASE" >abs.hurl &&
	test_expect_code 2 ci-smoke --new -n abs.hurl >out 2>err &&
	test_grep "abs.hurl:4: file ./etc/passwd.: a file must stay under" err
'

# faults found in review: each ends, and says why
test_expect_success 'a "%." that no date filter knows fails the assert; it used to spin' '
	printf "GET %s/values\nHTTP 200\n[Asserts]\njsonpath \"\$.date\" toDate \"%%Y-%%m-%%dT%%H:%%M:%%S%%.2fZ\" exists\njsonpath \"\$.date\" toDate \"%%+\" dateFormat \"%%Y%%.\" exists\n" "$BASE" >dot.hurl &&
	test_expect_code 1 ci-smoke --new dot.hurl >out.json 2>err &&
	test_grep "does not match the format" err &&
	test_grep "dateFormat: cannot format the date with" err
'

test_expect_success 'isIsoDate: a month 13 or an hour 99 is no RFC 3339 date' '
	printf "GET %s/values\nHTTP 200\n[Asserts]\nvariable \"d\" isIsoDate\n" "$BASE" >iso.hurl &&
	ci-smoke --new -q -v d=2024-12-31T23:59:60Z iso.hurl >out.json &&
	test_expect_code 1 ci-smoke --new -q -v d=2024-13-45T09:00:00Z iso.hurl >out.json &&
	test_expect_code 1 ci-smoke --new -q -v d=2024-12-01T99:99:99Z iso.hurl >out.json &&
	test_expect_code 1 ci-smoke --new -q -v d=2024-12-01T09:00:00+25:00 iso.hurl >out.json
'

test_expect_success 'toDate "%s" of a number past the microseconds that fit fails' '
	printf "GET %s/echo?n={{n}}\nHTTP 200\n[Asserts]\njsonpath \"\$.query.n\" toDate \"%%s\" exists\n" "$BASE" >big.hurl &&
	ci-smoke --new -q -v n=1700000000 big.hurl >out.json &&
	test_expect_code 1 ci-smoke --new -v n=999999999999999 big.hurl >out.json 2>err &&
	test_grep "does not match the format" err
'

test_expect_success 'replaceRegex anchors "^" at the start only, and replaces every match' '
	printf "GET %s/values\nHTTP 200\n[Asserts]\njsonpath \"\$.text\" replaceRegex \"^a\" \"X\" == \"X > b && a < c\"\njsonpath \"\$.text\" replaceRegex \" \" \"\" == \"a>b&&a<c\"\njsonpath \"\$.text\" replaceRegex \"x*\" \"-\" startsWith \"-a- ->\"\n" "$BASE" >rx.hurl &&
	ci-smoke --new -q rx.hurl >out.json 2>err &&
	smoke_json out.json "s[\"status\"] == \"passed\""
'

test_expect_success 'output: a templated name that leaves the directory fails the entry' '
	printf "GET %s/health\n[Options]\noutput: {{dir}}/stolen.json\nHTTP 200\n" "$BASE" >esc.hurl &&
	mkdir -p deep/er &&
	(cd deep/er && test_expect_code 1 ci-smoke --new -v dir=.. ../../esc.hurl >../../out.json 2>../../err) &&
	! test -e deep/stolen.json &&
	test_grep "option .output.: .\.\./stolen.json. leaves the current directory" err &&
	test_expect_code 1 ci-smoke --new -q -v dir=/tmp esc.hurl >out.json 2>err &&
	ci-smoke --new -q -v dir=deep esc.hurl >out.json &&
	test_grep "\"status\": \"ok\"" deep/stolen.json
'

test_expect_success 'output: a body past --max-body fails the entry and writes nothing' '
	printf "GET %s/stream?bytes=3145728\n[Options]\noutput: cut.bin\nHTTP 200\n" "$BASE" >cutout.hurl &&
	test_expect_code 1 ci-smoke --new --max-body 1M cutout.hurl >out.json 2>err &&
	! test -e cut.bin &&
	test_grep "passed the 1.0 MiB kept for asserts" err &&
	ci-smoke --new -q --max-body 4M cutout.hurl >out.json &&
	test $(wc -c <cut.bin) = 3145728
'

test_expect_success 'xpath: a body that declares entities is refused, not expanded' '
	printf "GET %s/xml-entity\nHTTP 200\n[Asserts]\nxpath \"string(/r)\" == \"hellohello\"\n" "$BASE" >ent.hurl &&
	test_expect_code 1 ci-smoke --new ent.hurl >out.json 2>err &&
	test_grep "the body declares entities" err
'

test_done
