#!/bin/sh
test_description='ci-gate: fail-fast, keep-going, timeouts, errors, skips'
. "${0%/*}/test-lib.sh"

test_expect_success 'fail-fast cancels a running job and its process group' '
	cat >ff.json <<-\EOF &&
	{"jobs": {
	  "slow": {"run": "sleep 300 & echo $! >slow.child; echo $$ >slow.pid; wait"},
	  "bad":  {"run": "while ! test -s slow.child; do sleep 0.05; done; echo boom; exit 3"}
	}}
	EOF
	test_expect_code 1 ci-gate --new -j 2 --grace 200ms -f ff.json >ff.out 2>ff.err
'

test_expect_success '... the report says who failed and who was cancelled' '
	test_json ff.out "d[\"gate\"][\"status\"] == \"failed\"" &&
	test_json ff.out "d[\"gate\"][\"jobs\"][\"bad\"][\"status\"] == \"failed\"" &&
	test_json ff.out "d[\"gate\"][\"jobs\"][\"bad\"][\"exit_code\"] == 3" &&
	test_json ff.out "d[\"gate\"][\"jobs\"][\"slow\"][\"status\"] == \"cancelled\"" &&
	test_json ff.out "\"bad\" in d[\"gate\"][\"jobs\"][\"slow\"][\"reason\"]" &&
	test_json ff.out "d[\"gate\"][\"failed\"] == [\"bad\"]" &&
	test_json ff.out "d[\"status\"] == \"failed\""
'

test_expect_success '... and nothing of the cancelled job still runs' '
	proc_gone $(cat slow.pid) &&
	proc_gone $(cat slow.child)
'

test_expect_success '... the failure tail is on stderr' '
	test_grep "bad: failed: exited with status 3" ff.err &&
	test_grep "| boom" ff.err
'

cat >chain.json <<'EOF'
{"jobs": {
  "lint": {"run": "exit 1"},
  "test": {"run": "touch test.ran", "needs": ["lint"]},
  "deploy": {"run": "touch deploy.ran", "needs": ["test"]},
  "docs": {"run": "touch docs.ran"},
  "late": {"run": "touch late.ran", "needs": ["docs"]}
}}
EOF

test_expect_success 'fail-fast starts nothing new after the first failure' '
	test_expect_code 1 ci-gate --new -j 1 -f chain.json >c.json 2>err
'

test_expect_success '... and every job that did not run says why' '
	! test -e test.ran && ! test -e deploy.ran && ! test -e late.ran &&
	test_json c.json "d[\"gate\"][\"jobs\"][\"test\"][\"status\"] == \"skipped\"" &&
	test_json c.json "d[\"gate\"][\"jobs\"][\"test\"][\"reason\"] == \"needs \x27lint\x27, which failed\"" &&
	test_json c.json "\"lint\" in d[\"gate\"][\"jobs\"][\"deploy\"][\"reason\"]" &&
	test_json c.json "\"lint\" in d[\"gate\"][\"jobs\"][\"docs\"][\"reason\"]"
'

test_expect_success '--keep-going runs everything that does not depend on the failure' '
	rm -f *.ran &&
	test_expect_code 1 ci-gate --new -j 1 --keep-going -f chain.json >k.json 2>err
'

test_expect_success '... independent jobs ran, dependants were skipped naming the cause' '
	test -e docs.ran && test -e late.ran && ! test -e test.ran && ! test -e deploy.ran &&
	test_json k.json "d[\"gate\"][\"jobs\"][\"late\"][\"status\"] == \"passed\"" &&
	test_json k.json "d[\"gate\"][\"jobs\"][\"deploy\"][\"status\"] == \"skipped\"" &&
	test_json k.json "\"test\" in d[\"gate\"][\"jobs\"][\"deploy\"][\"reason\"] and \"lint\" in d[\"gate\"][\"jobs\"][\"deploy\"][\"reason\"]"
'

test_expect_success 'fail_fast: false in the spec keeps going too' '
	rm -f *.ran &&
	sed -e "s/^{\"jobs\"/{\"fail_fast\": false, \"jobs\"/" chain.json >ck.json &&
	{ ci-gate --new -j 1 -f ck.json >ck.out 2>err; test $? = 1; } &&
	test -e late.ran
'

test_expect_success 'a timeout kills a job that ignores SIGTERM, and its children' '
	cat >to.json <<-\EOF &&
	{"jobs": {"stubborn": {"run": "trap \"\" TERM; sleep 300 & echo $! >kid.pid; echo $$ >job.pid; while :; do sleep 1; done", "timeout": "500ms"}}}
	EOF
	test_expect_code 1 ci-gate --new --grace 300ms -f to.json >to.out 2>err
'

test_expect_success '... reported as timed_out, killed by SIGKILL, group gone' '
	test_json to.out "d[\"gate\"][\"jobs\"][\"stubborn\"][\"status\"] == \"timed_out\"" &&
	test_json to.out "d[\"gate\"][\"jobs\"][\"stubborn\"][\"signal\"] == \"SIGKILL\"" &&
	test_json to.out "d[\"gate\"][\"jobs\"][\"stubborn\"][\"reason\"] == \"killed by SIGKILL after timeout 500ms\"" &&
	proc_gone $(cat job.pid) && proc_gone $(cat kid.pid)
'

test_expect_success 'a command that does not exist is an error, not a failure' '
	cat >nf.json <<-\EOF &&
	{"jobs": {"sh": {"run": "no-such-command-xyz"}, "argv": {"argv": ["no-such-command-xyz"]},
	          "fails": {"run": "exit 1"}}}
	EOF
	test_expect_code 1 ci-gate --new --keep-going -f nf.json >nf.out 2>err
'

test_expect_success '... with the reason' '
	test_json nf.out "d[\"gate\"][\"jobs\"][\"sh\"][\"status\"] == \"error\"" &&
	test_json nf.out "d[\"gate\"][\"jobs\"][\"argv\"][\"status\"] == \"error\"" &&
	test_json nf.out "\"command not found\" in d[\"gate\"][\"jobs\"][\"argv\"][\"reason\"]" &&
	test_json nf.out "\"command not found\" in d[\"gate\"][\"jobs\"][\"sh\"][\"reason\"]" &&
	test_json nf.out "d[\"gate\"][\"jobs\"][\"fails\"][\"status\"] == \"failed\"" &&
	test_json nf.out "d[\"gate\"][\"summary\"][\"error\"] == 2"
'

test_expect_success 'allow_failure: the gate passes, dependants still run' '
	cat >af.json <<-\EOF &&
	{"jobs": {"flaky": {"run": "exit 4", "allow_failure": true},
	          "after": {"run": "true", "needs": ["flaky"]}}}
	EOF
	ci-gate --new -f af.json >af.out 2>err &&
	test_json af.out "d[\"gate\"][\"status\"] == \"passed\"" &&
	test_json af.out "d[\"gate\"][\"jobs\"][\"flaky\"][\"status\"] == \"failed\"" &&
	test_json af.out "d[\"gate\"][\"jobs\"][\"flaky\"][\"allow_failure\"] is True" &&
	test_json af.out "d[\"gate\"][\"jobs\"][\"after\"][\"status\"] == \"passed\"" &&
	test_json af.out "d[\"gate\"][\"summary\"][\"allowed_failures\"] == 1"
'

test_expect_success 'a job killed by a signal reports the signal' '
	{ ci-gate --new -g "sig=kill -USR1 \$\$" >sig.out 2>err; test $? = 1; } &&
	test_json sig.out "d[\"gate\"][\"jobs\"][\"sig\"][\"signal\"] == \"SIGUSR1\"" &&
	test_json sig.out "d[\"gate\"][\"jobs\"][\"sig\"][\"status\"] == \"failed\""
'

test_expect_success 'SIGTERM to ci-gate cancels its jobs, writes the document, exits 75' '
	{ ci-gate --new --grace 200ms -g "long=echo \$\$ >long.pid; sleep 300" >int.out 2>int.err & } &&
	gate=$! &&
	wait_for_file long.pid &&
	kill -TERM $gate &&
	test_expect_code 75 wait $gate &&
	test_json int.out "d[\"gate\"][\"jobs\"][\"long\"][\"status\"] == \"cancelled\"" &&
	test_json int.out "d[\"gate\"][\"status\"] == \"failed\"" &&
	proc_gone $(cat long.pid)
'

test_done
