#!/bin/sh
test_description='ci-gate reads, keeps and writes the pipeline document'
. "${0%/*}/test-lib.sh"

doc='{"ci":1,"run":{"id":"20261126T090000Z-abc123f","started_at":"2026-11-26T09:00:00Z","source":{"commit":"abc123f0000000000000000000000000000000aa"}},"status":"running","stages":[],"mine":{"big":12345678901234567890,"list":[1,2.5,"x"]},"z":null}'

test_expect_success 'a document on stdin is extended, unknown keys kept in order' '
	echo "$doc" | ci-gate -g "ok=true" >out.json 2>err &&
	test_json out.json "list(d) == [\"ci\", \"run\", \"status\", \"stages\", \"mine\", \"z\", \"gate\"]" &&
	test_json out.json "d[\"run\"][\"id\"] == \"20261126T090000Z-abc123f\"" &&
	grep -q "\"big\":12345678901234567890," out.json &&
	test_json out.json "d[\"mine\"][\"list\"] == [1, 2.5, \"x\"]"
'

test_expect_success 'running again replaces the section and its stages entry' '
	ci-gate -g "ok=true" <out.json >again.json 2>err &&
	test_json again.json "len(d[\"stages\"]) == 1 and d[\"stages\"][0][\"name\"] == \"gate\"" &&
	test_json again.json "list(d).count(\"gate\") == 1"
'

test_expect_success 'an upstream failure skips the gate and exits 1' '
	failed="{\"ci\":1,\"run\":{\"id\":\"x\"},\"status\":\"failed\",\"stages\":[{\"name\":\"build\",\"status\":\"failed\"}],\"build\":{\"status\":\"failed\"}}" &&
	echo "$failed" | test_expect_code 1 ci-gate -g "never=touch ran" >skip.json 2>err
'

test_expect_success '... writing a skipped section that names the failed stage' '
	! test -e ran &&
	test_json skip.json "d[\"gate\"] == {\"status\": \"skipped\", \"reason\": \"upstream stage \x27build\x27 failed\", \"failed_stage\": \"build\"}" &&
	test_json skip.json "[s[\"name\"] for s in d[\"stages\"]] == [\"build\", \"gate\"]" &&
	test_grep "upstream stage .build. failed" err
'

# bad_doc NAME INPUT-COMMAND MESSAGE
bad_doc() {
	want=$3
	test_expect_success "invalid stdin: $1 gives 65, empty stdout" "
		$2 | { ci-gate -g 'never=touch ran' >out 2>err; echo \$? >rc; } &&
		test \$(cat rc) = 65 && ! test -s out && ! test -e ran &&
		test_grep \"\$want\" err
	"
}

bad_doc 'truncated' 'echo "{\"ci\":1,\"run\":{\"id\":"' 'invalid pipeline document.*1:'
bad_doc 'not an object' 'echo "[1,2]"' 'expected a JSON object'
bad_doc 'no ci key' 'echo "{\"run\":{\"id\":\"x\"}}"' "key 'ci' is missing"
bad_doc 'wrong version' 'echo "{\"ci\":2,\"run\":{\"id\":\"x\"}}"' 'version 2 is not supported'
bad_doc 'run of the wrong type' 'echo "{\"ci\":1,\"run\":[]}"' 'run: expected an object'
bad_doc 'id of the wrong type' 'echo "{\"ci\":1,\"run\":{\"id\":5}}"' 'run.id: expected a string'
bad_doc 'bad stage status' 'echo "{\"ci\":1,\"run\":{\"id\":\"x\"},\"stages\":[{\"name\":\"a\",\"status\":\"weird\"}],\"a\":{\"status\":\"weird\"}}"' 'stages\[0\].status'
bad_doc 'stage without its section' 'echo "{\"ci\":1,\"run\":{\"id\":\"x\"},\"stages\":[{\"name\":\"a\",\"status\":\"passed\"}]}"' "stage 'a' is missing"
bad_doc 'a NUL byte' 'printf "{\"ci\":1,\000}"' 'NUL'
bad_doc 'trailing garbage' 'echo "{\"ci\":1,\"run\":{\"id\":\"x\"}} {}"' 'invalid pipeline document'
bad_doc 'deep nesting' 'python3 -c "print(\"[\" * 100000)"' 'nesting'
bad_doc 'two documents' 'printf "{\"ci\":1,\"run\":{\"id\":\"x\"}}\n{\"ci\":1,\"run\":{\"id\":\"y\"}}\n"' 'invalid pipeline document'

test_expect_success 'a 50 MB document is refused by the size cap, quickly and cleanly' '
	python3 -c "import sys; sys.stdout.write(\"{\\\"ci\\\":1,\\\"pad\\\":\\\"\" + \"x\" * (50 << 20) + \"\\\"}\")" |
	{ ci-gate -g "never=true" >out 2>err; echo $? >rc; } &&
	test $(cat rc) = 65 && ! test -s out &&
	test_grep "limit" err
'

test_expect_success 'empty stdin starts a new document' '
	ci-gate -g "ok=true" </dev/null >new.json 2>err &&
	test_json new.json "d[\"ci\"] == 1 and d[\"gate\"][\"status\"] == \"passed\""
'

test_expect_success 'outside git the run has no commit and a warning says so' '
	ci-gate -g "ok=true" </dev/null >nogit.json 2>err &&
	test_json nogit.json "\"commit\" not in d[\"run\"][\"source\"]" &&
	test_grep "not inside a git work tree" err
'

test_expect_success 'a full disk on stdout is an I/O error' '
	test_expect_code 74 ci-gate --new -g "ok=true" >/dev/full 2>err
'

test_done
