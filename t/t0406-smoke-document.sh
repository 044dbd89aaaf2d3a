#!/bin/sh
test_description='ci-smoke reads, extends and writes the pipeline document'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/data/smoke/lib.sh"

start_app
doc='{"ci":1,"run":{"id":"20261126T090000Z-abc123f","source":{"version":"2.4.1"}},"status":"running","stages":[{"name":"push","status":"passed"}],"push":{"status":"passed","reference":"registry.example/app@sha256:0123"},"mine":{"big":12345678901234567890}}'
cat >image.hurl <<'HURL'
GET {{base}}/echo
X-Image: {{image}}
X-Version: {{version}}
HTTP 200
[Asserts]
jsonpath "$.headers['x-image']" == "registry.example/app@sha256:0123"
jsonpath "$.headers['x-version']" == "2.4.1"
HURL

requests() {
	python3 -c "import json, urllib.request; print(json.load(urllib.request.urlopen(\"$BASE/_control\"))[\"requests\"])"
}

test_expect_success 'push.reference is {{image}} and run.source.version is {{version}}' '
	echo "$doc" | ci-smoke -v base="$BASE" image.hurl >out.json 2>err &&
	smoke_json out.json "s[\"status\"] == \"passed\"" &&
	smoke_json out.json "s[\"image\"] == \"registry.example/app@sha256:0123\" and s[\"version\"] == \"2.4.1\""
'

test_expect_success 'the document keeps what it had, in order, and gains the section and stage' '
	test_json out.json "list(d) == [\"ci\", \"run\", \"status\", \"stages\", \"push\", \"mine\", \"smoke\"]" &&
	grep -q "\"big\":12345678901234567890" out.json &&
	test_json out.json "[s[\"name\"] for s in d[\"stages\"]] == [\"push\", \"smoke\"]" &&
	test_json out.json "d[\"status\"] == \"running\""
'

test_expect_success 'running again replaces the section and its stage' '
	ci-smoke -v base="$BASE" image.hurl <out.json >again.json 2>err &&
	test_json again.json "[s[\"name\"] for s in d[\"stages\"]] == [\"push\", \"smoke\"] and list(d).count(\"smoke\") == 1"
'

test_expect_success '-v overrides a variable the document gives' '
	{ echo "$doc" | ci-smoke -v base="$BASE" -v version=9.9.9 image.hurl >over.json 2>err;
	  echo $? >rc; } &&
	test $(cat rc) = 1 &&
	smoke_json over.json "s[\"status\"] == \"failed\" and e[0][\"asserts\"][2][\"actual\"] == \"\\\"9.9.9\\\"\""
'

test_expect_success 'an upstream failure skips the smoke tests and exits 1' '
	before=$(requests) &&
	echo "{\"ci\":1,\"run\":{\"id\":\"x\"},\"status\":\"failed\",\"stages\":[{\"name\":\"push\",\"status\":\"failed\"}],\"push\":{\"status\":\"failed\"}}" |
	test_expect_code 1 ci-smoke -v base="$BASE" image.hurl >skip.json 2>err &&
	test $(requests) = $before
'

test_expect_success '... writing a skipped section that names the failed stage, sending nothing' '
	test_json skip.json "d[\"smoke\"] == {\"status\": \"skipped\", \"reason\": \"upstream stage \x27push\x27 failed\", \"failed_stage\": \"push\"}" &&
	test_grep "upstream stage .push. failed" err
'

bad_doc() {
	test_expect_success "invalid stdin: $1 gives 65, empty stdout" "
		$2 | { ci-smoke -v base=$BASE image.hurl >out 2>err; echo \$? >rc; } &&
		test \$(cat rc) = 65 && ! test -s out && test_grep \"$3\" err
	"
}
bad_doc 'truncated' 'echo "{\"ci\":1,\"run\":{\"id\":"' 'invalid pipeline document'
bad_doc 'not an object' 'echo "[1]"' 'expected a JSON object'
bad_doc 'wrong version' 'echo "{\"ci\":2,\"run\":{\"id\":\"x\"}}"' 'version 2 is not supported'

test_expect_success 'an empty stdin is refused: the stage before died' '
	: >empty &&
	test_expect_code 65 ci-smoke -v base="$BASE" -v image=i -v version=2.4.1 image.hurl \
		<empty >new.json 2>err &&
	! test -s new.json &&
	test_grep "no pipeline document on stdin" err
'

test_expect_success '--new starts a new document' '
	{ ci-smoke --new -v base="$BASE" -v image=i -v version=2.4.1 image.hurl </dev/null >new.json 2>err;
	  echo $? >rc; } &&
	test $(cat rc) = 1 &&
	test_json new.json "d[\"ci\"] == 1 and d[\"smoke\"][\"status\"] == \"failed\" and d[\"stages\"][0][\"name\"] == \"smoke\""
'

test_expect_success '--new ignores stdin; --version-tag gives {{version}}' '
	printf "GET {{base}}/echo\nX-V: {{version}}\nHTTP 200\n[Asserts]\njsonpath \"\$.headers.x-v\" == \"3.1.4\"\n" >v.hurl &&
	echo "not even JSON" | ci-smoke --new --version-tag 3.1.4 -v base="$BASE" v.hurl >v.json 2>err &&
	test_json v.json "d[\"run\"][\"source\"][\"version\"] == \"3.1.4\" and d[\"smoke\"][\"status\"] == \"passed\""
'

test_expect_success 'a spec error is written into the document, so later stages do not act' '
	printf "GET {{base}}/\n[Options]\nhttp3: true\nHTTP 200\n" >bad.hurl &&
	{ echo "$doc" | ci-smoke -v base="$BASE" bad.hurl >err.json 2>err; echo $? >rc; } &&
	test $(cat rc) = 2 &&
	test_json err.json "d[\"smoke\"][\"status\"] == \"error\" and d[\"status\"] == \"failed\" and \"http3\" in d[\"smoke\"][\"reason\"]"
'

test_expect_success 'a full disk on stdout is an I/O error' '
	test_expect_code 74 ci-smoke --new -v base="$BASE" -v image=i -v version=v image.hurl >/dev/full 2>err
'

test_done
