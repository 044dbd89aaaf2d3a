#!/bin/sh
test_description='ci-gate and the rollback block: $CI_STATE_DIR/blocked.json stops the gate'
. "${0%/*}/test-lib.sh"

block='{"since": "2026-11-26T10:02:00Z", "release": "2.4.1", "digest": "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270", "reason": "canary error rate 7.2% over 5%"}'

test_expect_success 'no block file: the gate runs' '
	CI_STATE_DIR=$PWD/state ci-gate --new -g "ran=touch ran" >d0.json 2>e0 &&
	test -e ran && rm ran &&
	test_json d0.json "\"blocked\" not in d[\"gate\"]"
'

test_expect_success 'a block file stops the gate before any job runs' '
	mkdir state && echo "$block" >state/blocked.json &&
	test_expect_code 1 env CI_STATE_DIR=$PWD/state ci-gate --new -g "ran=touch ran" >d1.json 2>e1
'

test_expect_success '... saying why, since when, and how to clear it' '
	! test -e ran &&
	test_grep "error: the pipeline is blocked since 2026-11-26T10:02:00Z: release 2.4.1 (sha256:5b0bcabd1ed2.*) failed: canary error rate 7.2% over 5%" e1 &&
	test_grep "ci-rollback --unblock --reason" e1 &&
	test_grep "(or remove .*state/blocked.json.)" e1 &&
	test_grep "or run with --ignore-block" e1
'

test_expect_success '... and the document says the same, marked failed' '
	test_json d1.json "d[\"gate\"][\"status\"] == \"failed\" and d[\"status\"] == \"failed\"" &&
	test_json d1.json "d[\"gate\"][\"reason\"].startswith(\"the pipeline is blocked since 2026-11-26T10:02:00Z\")" &&
	test_json d1.json "d[\"gate\"][\"blocked\"][\"release\"] == \"2.4.1\" and d[\"gate\"][\"blocked\"][\"reason\"] == \"canary error rate 7.2% over 5%\"" &&
	test_json d1.json "d[\"gate\"][\"blocked\"][\"ignored\"] is False and \"jobs\" not in d[\"gate\"]" &&
	test_json d1.json "d[\"stages\"][0][\"name\"] == \"gate\" and d[\"stages\"][0][\"status\"] == \"failed\""
'

test_expect_success '... so the next stage does not act' '
	test_expect_code 1 env CI_STATE_DIR=$PWD/state ci-gate -g "ran=touch ran" <d1.json >d1b.json 2>e1b
'

test_expect_success '--ignore-block runs the gate anyway, and says so' '
	CI_STATE_DIR=$PWD/state ci-gate --new --ignore-block -g "ran=touch ran" >d2.json 2>e2 &&
	test -e ran && rm ran &&
	test_grep "warning: the pipeline is blocked since .*running anyway, as --ignore-block asks" e2 &&
	test_json d2.json "d[\"gate\"][\"status\"] == \"passed\" and d[\"gate\"][\"blocked\"][\"ignored\"] is True"
'

test_expect_success 'the secret scanner is stopped by the block too' '
	mkdir tree && echo hi >tree/a &&
	test_expect_code 1 env CI_STATE_DIR=$PWD/state ci-gate --secrets --all-files --new tree >d3.json 2>e3
'

test_expect_success 'a block file that is not JSON still blocks, and says what is wrong' '
	echo "{\"since\": " >state/blocked.json &&
	{ CI_STATE_DIR=$PWD/state ci-gate --new -g "ran=touch ran" >d4.json 2>e4; test $? = 1; } &&
	! test -e ran &&
	test_grep "the block file cannot be read (.*blocked.json:2:1: .*), and a block file that cannot be read blocks all the same" e4 &&
	test_json d4.json "\"error\" in d[\"gate\"][\"blocked\"]"
'

test_expect_success 'so does one with a field missing or wrong' '
	echo "{\"since\": \"2026-11-26T10:02:00Z\", \"release\": \"2.4.1\", \"reason\": \"x\"}" >state/blocked.json &&
	{ CI_STATE_DIR=$PWD/state ci-gate --new -g "ran=touch ran" >d5.json 2>e5; test $? = 1; } &&
	test_grep "blocked.json: digest: missing" e5 &&
	echo "{\"since\": \"yesterday\", \"release\": \"2.4.1\", \"digest\": \"sha256:ab\", \"reason\": \"x\"}" >state/blocked.json &&
	{ CI_STATE_DIR=$PWD/state ci-gate --new -g "ran=touch ran" >d6.json 2>e6; test $? = 1; } &&
	test_grep "since: .yesterday. is not an RFC 3339 time" e6 &&
	! test -e ran
'

test_expect_success 'an empty block file blocks' '
	: >state/blocked.json &&
	{ CI_STATE_DIR=$PWD/state ci-gate --new -g "ran=touch ran" >d7.json 2>e7; test $? = 1; } &&
	! test -e ran
'

test_expect_success 'removing the file lifts the block' '
	rm state/blocked.json &&
	CI_STATE_DIR=$PWD/state ci-gate --new -g "ran=touch ran" >d8.json 2>e8 &&
	test -e ran && rm ran
'

test_expect_success 'without CI_STATE_DIR the state is ./.ci-state' '
	mkdir -p .ci-state && echo "$block" >.ci-state/blocked.json &&
	{ ci-gate --new -g "ran=touch ran" >d9.json 2>e9; test $? = 1; } &&
	! test -e ran &&
	test_json d9.json "d[\"gate\"][\"blocked\"][\"file\"] == \".ci-state/blocked.json\"" &&
	rm -r .ci-state
'

test_expect_success 'a dry run only plans, block or not' '
	mkdir -p .ci-state && echo "$block" >.ci-state/blocked.json &&
	ci-gate -n -g "ran=touch ran" >plan &&
	test_grep "^plan: 1 job" plan && rm -r .ci-state
'

test_done
