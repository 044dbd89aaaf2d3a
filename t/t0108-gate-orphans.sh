#!/bin/sh
test_description='ci-gate ends what its jobs leave behind, even outside their process group (setsid)'
. "${0%/*}/test-lib.sh"

test_tool_prereq SETSID util-linux command -v setsid

# alive PIDFILE: the process in PIDFILE still runs.
alive() {
	test -s "$1" && kill -0 "$(cat "$1")" 2>/dev/null
}

test_expect_success SETSID 'a timed-out job: its setsid grandchild does not outlive it' '
	cat >spec.json <<-EOF &&
	{"jobs": {"slow": {"run": "setsid sh -c \\"echo \\\\\$\\\\\$ >$TRASH/orphan.pid; exec sleep 300\\" & sleep 100", "timeout": "1s"}}}
	EOF
	test_expect_code 1 ci-gate --new -f spec.json >out.json 2>err &&
	test_json out.json "d[\"gate\"][\"jobs\"][\"slow\"][\"status\"] == \"timed_out\"" &&
	test -s orphan.pid &&
	! alive orphan.pid
'

test_expect_success SETSID 'a job that passes but leaves a daemon: the daemon ends with the gate' '
	cat >spec2.json <<-EOF &&
	{"jobs": {"quick": {"run": "setsid sh -c \\"echo \\\\\$\\\\\$ >$TRASH/daemon.pid; exec sleep 300\\" & sleep 0.5"},
	          "later": {"run": "sleep 1", "needs": ["quick"]}}}
	EOF
	ci-gate --new -f spec2.json >out2.json 2>err2 &&
	test_json out2.json "d[\"gate\"][\"status\"] == \"passed\"" &&
	test -s daemon.pid &&
	! alive daemon.pid
'

test_expect_success 'jobs that leave nothing behind are not disturbed' '
	ci-gate --new -g a="sleep 0.2" -g b="sleep 0.4" >out3.json 2>err3 &&
	test_json out3.json "d[\"gate\"][\"status\"] == \"passed\""
'

test_done
