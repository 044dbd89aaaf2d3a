#!/bin/sh
test_description='ci-rollback and the release ledger: records, status, torn and foreign lines, nothing to do'
. "${0%/*}/test-lib.sh"

CI_STATE_DIR=$TRASH/state
export CI_STATE_DIR
doc() { "$TEST_DIRECTORY/helpers/pipeline-doc" "$@"; }

test_expect_success 'a passed release becomes the stable one; the document says passed' '
	doc --version 1.0.0 --slots green,blue >d1.json &&
	ci-rollback <d1.json >out1.json 2>err1 &&
	test_json out1.json "d[\"rollback\"][\"status\"] == \"passed\" and d[\"status\"] == \"passed\"" &&
	test_json out1.json "d[\"rollback\"][\"release\"] == {\"app\": \"shop\", \"version\": \"1.0.0\", \"image\": d[\"push\"][\"reference\"], \"digest\": d[\"push\"][\"digest\"], \"slot\": \"green\", \"status\": \"stable\"}" &&
	test_json out1.json "d[\"stages\"][-1][\"name\"] == \"rollback\"" &&
	test_grep "release 1.0.0 is stable" err1 &&
	is_lines state/releases.jsonl 1 &&
	test_json_lines state/releases.jsonl "d[0][\"status\"] == \"stable\" and d[0][\"version\"] == \"1.0.0\" and d[0][\"slot\"] == \"green\" and d[0][\"pipeline\"] == \"20261205T100000Z-abc1234\""
'

test_expect_success 'the next one supersedes it; a re-run records nothing twice' '
	doc --version 1.1.0 --run-id r2 >d2.json &&
	ci-rollback <d2.json >out2.json 2>err2 &&
	test_json out2.json "d[\"rollback\"][\"superseded\"] == \"1.0.0\"" &&
	ci-rollback <d2.json >out2b.json 2>err2b &&
	is_lines state/releases.jsonl 3 &&
	test_json_lines state/releases.jsonl "[(r[\"version\"], r[\"status\"]) for r in d] == [(\"1.0.0\", \"stable\"), (\"1.0.0\", \"superseded\"), (\"1.1.0\", \"stable\")]"
'

test_expect_success 'a failed canary: recorded failed, blocked, rolled back to the stable one, exit 1' '
	test_expect_code 1 ci-rollback <"$(doc --version 1.2.0 --canary failed --run-id r3 >d3.json && echo d3.json)" >out3.json 2>err3 &&
	test_json out3.json "d[\"rollback\"][\"status\"] == \"failed\" and d[\"rollback\"][\"outcome\"] == \"rolled_back\" and d[\"status\"] == \"failed\"" &&
	test_json out3.json "d[\"rollback\"][\"rolled_back_to\"][\"version\"] == \"1.1.0\"" &&
	test_json out3.json "d[\"rollback\"][\"reason\"].startswith(\"error-rate 12.3%\")" &&
	test_json out3.json "d[\"rollback\"][\"timeline\"][\"detected_at\"] == \"2026-12-05T10:04:30.250Z\"" &&
	test_json out3.json "d[\"rollback\"][\"timeline\"][\"traffic_restored_at\"] == \"2026-12-05T10:04:30.257Z\"" &&
	test_json out3.json "d[\"rollback\"][\"alerts\"] == []" &&
	test_json_lines state/releases.jsonl "d[-1][\"status\"] == \"failed\" and d[-1][\"version\"] == \"1.2.0\" and d[-1][\"slot\"] == \"green\"" &&
	test_json state/blocked.json "d[\"release\"] == \"1.2.0\" and d[\"digest\"].startswith(\"sha256:\") and d[\"since\"] and d[\"reason\"].startswith(\"error-rate\")" &&
	test_grep "release 1.2.0 rolled back to 1.1.0" err3
'

test_expect_success '... and ci-gate refuses while the block stands' '
	test_expect_code 1 ci-gate --new -g "ok=true" >g.json 2>gerr &&
	test_grep "release 1.2.0" gerr
'

test_expect_success '--status: JSON lines off a terminal, a table with --status on one' '
	ci-rollback --app shop --status >st.json &&
	is_lines st.json 4 &&
	test_json_lines st.json "d[-1][\"version\"] == \"1.2.0\"" &&
	ci-rollback --app shop --status --json >st2.json && test_cmp st.json st2.json &&
	TERM=xterm SHELL=/bin/sh script -qec "ci-rollback --app shop --status" tty.out >/dev/null &&
	tr -d "\r" <tty.out >tty.txt &&
	test_grep "^VERSION  *STATUS  *SLOT  *AT  *REASON" tty.txt &&
	test_grep "^1.2.0  *failed  *green " tty.txt &&
	test_grep "^stable: 1.1.0$" tty.txt
'

test_expect_success 'a torn last line (a writer killed mid-write) is read past, and the next append stands alone' '
	printf "{\"app\": \"shop\", \"version\": \"9.9" >>state/releases.jsonl &&
	ci-rollback --app shop --status >st3.json 2>err4 &&
	is_lines st3.json 4 &&
	test_grep "releases.jsonl:5: a torn last line (a write cut short); read past it" err4 &&
	doc --version 1.3.0 --run-id r4 >d4.json &&
	ci-rollback <d4.json >out4.json 2>err5 &&
	ci-rollback --app shop --status >st4.json 2>err6 &&
	test_json_lines st4.json "[(r[\"version\"], r[\"status\"]) for r in d][-2:] == [(\"1.1.0\", \"superseded\"), (\"1.3.0\", \"stable\")]" &&
	test_grep "releases.jsonl:5:32: " err6 &&
	! test_grep "torn" err6 &&
	test "$(sed -n 6p state/releases.jsonl | cut -c1-8)" = "{\"app\":\""
'

test_expect_success 'a foreign line is read past with a warning naming it; other apps are not ours' '
	echo "not json at all" >>state/releases.jsonl &&
	echo "{\"app\": \"other\", \"version\": \"7\", \"status\": \"stable\"}" >>state/releases.jsonl &&
	echo "{\"app\": \"shop\", \"version\": \"8\", \"status\": \"exploded\"}" >>state/releases.jsonl &&
	ci-rollback --app shop --status >st5.json 2>err7 &&
	test_grep "releases.jsonl:8:1: invalid literal" err7 &&
	test_grep "releases.jsonl:10: not a release record" err7 &&
	! test_grep "releases.jsonl:9" err7 &&
	test_json_lines st5.json "all(r[\"app\"] == \"shop\" for r in d)" &&
	ci-rollback --app other --status >st6.json 2>/dev/null &&
	test_json_lines st6.json "[r[\"version\"] for r in d] == [\"7\"]"
'

test_expect_success 'a kill -9 of writers leaves a ledger every reader can read' '
	for i in 1 2 3 4 5 6 7 8; do
		doc --version 5.$i --run-id k$i >dk.json &&
		{ ci-rollback --app k <dk.json >/dev/null 2>&1 & pid=$!; } &&
		sleep 0.0$i && kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null; :
	done &&
	doc --version 5.9 --run-id k9 >dk.json &&
	ci-rollback --app k <dk.json >/dev/null 2>&1 &&
	ci-rollback --app k --status >stk.json 2>errk &&
	test_json_lines stk.json "all(r[\"app\"] == \"k\" and r[\"status\"] in (\"stable\", \"superseded\") for r in d)" &&
	test_json_lines stk.json "d[-1][\"version\"] == \"5.9\" and d[-1][\"status\"] == \"stable\"" &&
	test_json_lines stk.json "len([r for r in d if r[\"status\"] == \"stable\"]) == len(set(r[\"version\"] for r in d))"
'

test_expect_success 'nothing to do: no canary section and no failed stage, exit 0 with a note' '
	doc --canary none >dn.json &&
	ci-rollback <dn.json >outn.json 2>errn &&
	test_json outn.json "d[\"rollback\"][\"status\"] == \"passed\" and \"no canary section\" in d[\"rollback\"][\"note\"]" &&
	test_grep "nothing to do" errn
'

test_expect_success 'a failure before the push: nothing to roll back, exit 1, no block, no record' '
	rm -f state/blocked.json &&
	cp state/releases.jsonl before &&
	doc --fail build >db.json &&
	test_expect_code 1 ci-rollback <db.json >outb.json 2>errb &&
	test_json outb.json "d[\"rollback\"][\"status\"] == \"skipped\" and \"before anything was pushed\" in d[\"rollback\"][\"note\"]" &&
	! test -e state/blocked.json &&
	test_cmp before state/releases.jsonl
'

test_expect_success 'a failed smoke test after the push rolls back too, without traffic to move' '
	doc --version 1.4.0 --canary none --fail smoke --run-id r5 >ds.json &&
	test_expect_code 1 ci-rollback <ds.json >outs.json 2>errs &&
	test_json outs.json "d[\"rollback\"][\"failed_stage\"] == \"smoke\" and d[\"rollback\"][\"reason\"] == \"the smoke stage failed: smoke failed on purpose\"" &&
	test_json outs.json "d[\"rollback\"][\"traffic\"][\"restored\"] is False and \"nothing to move\" in d[\"rollback\"][\"traffic\"][\"note\"]" &&
	test_json state/blocked.json "d[\"release\"] == \"1.4.0\""
'

test_expect_success '--unblock: needs a reason, lifts the block, and the gate runs again' '
	test_expect_code 2 ci-rollback --unblock 2>erru &&
	test_grep "needs --reason" erru &&
	ci-rollback --unblock --reason "fixed the pool size" 2>erru2 &&
	test_grep "block lifted (release 1.4.0, blocked since .*): fixed the pool size" erru2 &&
	! test -e state/blocked.json &&
	ci-gate --new -g "ok=true" >g2.json &&
	test_expect_code 1 ci-rollback --unblock --reason again 2>erru3 &&
	test_grep "no block to lift" erru3
'

test_expect_success 'usage errors: actions alone, options with their action, bad ledger' '
	test_expect_code 2 ci-rollback --status 2>e1 && test_grep "needs --app NAME" e1 &&
	test_expect_code 2 ci-rollback --app shop --status --unblock --reason x 2>e2 &&
	test_grep "go alone" e2 &&
	test_expect_code 2 ci-rollback --json <dn.json 2>e3 && test_grep "goes with --status" e3 &&
	test_expect_code 2 ci-rollback --app shop --status --ledger svn:x 2>e4 &&
	test_grep "expected git:REMOTE" e4 &&
	test_expect_code 2 ci-rollback --email-to a@b <dn.json 2>e5 && test_grep "needs --smtp-url" e5 &&
	test_expect_code 2 ci-rollback --app shop --to 0.0.1 2>e6 &&
	test_grep "no release .0.0.1. for .shop." e6
'

test_expect_success 'stdin: an empty file means the stage before died; /dev/null starts a document' '
	: >empty &&
	test_expect_code 65 ci-rollback <empty 2>e7 &&
	ci-rollback </dev/null >outnull.json 2>e8 &&
	test_json outnull.json "\"no canary section\" in d[\"rollback\"][\"note\"]"
'

test_done
