#!/bin/sh
test_description='ci-rollback --ledger git:REMOTE: a ledger that runners share through a git remote'
. "${0%/*}/test-lib.sh"

doc() { "$TEST_DIRECTORY/helpers/pipeline-doc" "$@"; }

test_expect_success 'setup: a bare repository, and a clone whose origin it is' '
	git init -q --bare remote.git &&
	git init -q work && (cd work && git remote add origin "$TRASH/remote.git")
'

test_expect_success 'records go to refs/ci/ledger/APP of the remote, one commit each' '
	doc --version 1.0 --run-id g1 >d1.json &&
	(cd work && CI_STATE_DIR=$TRASH/s1 ci-rollback --ledger git:origin <../d1.json >../o1.json 2>../e1) &&
	test_json o1.json "d[\"rollback\"][\"status\"] == \"passed\" and \"refs/ci/ledger/shop\" in d[\"rollback\"][\"ledger\"]" &&
	git --git-dir=remote.git show refs/ci/ledger/shop:releases.jsonl >l1 &&
	test_json_lines l1 "[(r[\"version\"], r[\"status\"]) for r in d] == [(\"1.0\", \"stable\")]" &&
	! test -e s1/releases.jsonl
'

test_expect_success 'another runner, another state directory, sees the same history' '
	doc --version 1.1 --run-id g2 >d2.json &&
	CI_STATE_DIR=$TRASH/s2 ci-rollback --ledger "git:$TRASH/remote.git" <d2.json >o2.json 2>e2 &&
	test_json o2.json "d[\"rollback\"][\"superseded\"] == \"1.0\"" &&
	CI_STATE_DIR=$TRASH/s1 ci-rollback --ledger "git:$TRASH/remote.git" --app shop --status >st &&
	test_json_lines st "[(r[\"version\"], r[\"status\"]) for r in d] == [(\"1.0\", \"stable\"), (\"1.0\", \"superseded\"), (\"1.1\", \"stable\")]" &&
	test "$(git --git-dir=remote.git rev-list --count refs/ci/ledger/shop)" = 2
'

test_expect_success 'two runners at once: both records land, and one release ends stable' '
	doc --version 2.0 --run-id a >da.json &&
	doc --version 2.1 --run-id b >db.json &&
	for i in 1 2 3 4 5 6 7 8; do
		CI_STATE_DIR=$TRASH/ra ci-rollback --ledger "git:$TRASH/remote.git" <da.json >oa.json 2>ea &
		pa=$! &&
		CI_STATE_DIR=$TRASH/rb ci-rollback --ledger "git:$TRASH/remote.git" <db.json >ob.json 2>eb &
		pb=$! &&
		wait $pa && wait $pb || return 1
	done &&
	git --git-dir=remote.git show refs/ci/ledger/shop:releases.jsonl >l3 &&
	python3 - <<-\PY
	import json
	d = [json.loads(l) for l in open("l3")]
	# Every record is there once per decision, none lost: each run that
	# made a release stable appended it, and the one before it superseded.
	last = {}
	for r in d:
	    last[r["version"]] = r["status"]
	stable = [v for v, s in last.items() if s == "stable"]
	assert len(stable) == 1, last
	assert stable[0] in ("2.0", "2.1"), last
	# A release only becomes stable over the release that was stable.
	cur = None
	for r in d:
	    if r["status"] == "superseded":
	        assert r["version"] == cur, (r, cur)
	        cur = None
	    elif r["status"] == "stable":
	        assert cur is None, (r, cur)
	        cur = r["version"]
	PY
'

test_expect_success 'a failed release is recorded there too, and blocks every runner' '
	doc --version 3.0 --canary failed --run-id g3 >d3.json &&
	test_expect_code 1 env CI_STATE_DIR=$TRASH/s3 ci-rollback --ledger "git:$TRASH/remote.git" <d3.json >o3.json 2>e3 &&
	git --git-dir=remote.git show refs/ci/ledger/shop:releases.jsonl >l4 &&
	test_json_lines l4 "d[-1][\"version\"] == \"3.0\" and d[-1][\"status\"] == \"failed\"" &&
	test -e s3/blocked.json &&
	git --git-dir=remote.git show refs/ci/block:blocked.json >shared-block &&
	test_json shared-block "d[\"release\"] == \"3.0\" and d[\"reason\"].startswith(\"error-rate\")" &&
	test_json o3.json "d[\"rollback\"][\"blocked_shared\"].endswith(\"refs/ci/block:blocked.json\")"
'

test_expect_success '... the gate of another runner (CI_LEDGER) refuses; without it, it runs' '
	test_expect_code 1 env CI_STATE_DIR=$TRASH/s7 CI_LEDGER="git:$TRASH/remote.git" \
		ci-gate --new -g "ok=true" >g7.json 2>g7.err &&
	test_grep "blocked since .*: release 3.0" g7.err &&
	test_json g7.json "d[\"gate\"][\"blocked\"][\"file\"].endswith(\"refs/ci/block:blocked.json\")" &&
	CI_STATE_DIR=$TRASH/s7 ci-gate --new -g "ok=true" >g7b.json 2>/dev/null
'

test_expect_success '... a shared block that cannot be read blocks all the same' '
	test_expect_code 1 env CI_STATE_DIR=$TRASH/s8 CI_LEDGER="git:$TRASH/nowhere.git" \
		ci-gate --new -g "ok=true" >g8.json 2>g8.err &&
	test_grep "the block file cannot be read (.*nowhere.git refs/ci/block: ls-remote failed" g8.err
'

test_expect_success '... and a third runner lifts it for all' '
	CI_STATE_DIR=$TRASH/s9 CI_LEDGER="git:$TRASH/remote.git" \
		ci-rollback --unblock --reason "fixed in 3.0.1" 2>u9.err &&
	test_grep "block lifted (release 3.0" u9.err &&
	test_expect_code 1 git --git-dir=remote.git rev-parse -q --verify refs/ci/block &&
	CI_STATE_DIR=$TRASH/s7 CI_LEDGER="git:$TRASH/remote.git" ci-gate --new -g "ok=true" >g9.json &&
	test_expect_code 1 env CI_STATE_DIR=$TRASH/s9 CI_LEDGER="git:$TRASH/remote.git" \
		ci-rollback --unblock --reason again 2>u10.err &&
	test_grep "nor one in the shared ledger" u10.err
'

test_expect_success 'one rollout of an app at a time across runners: the lease in refs/ci/lock/APP' '
	cat >rollout.json <<-\EOF &&
	{"app": "web", "traffic": {"driver": "exec", "set": "true"},
	 "steps": [{"weight": 10, "pause": "200ms"}, {"weight": 100}],
	 "analysis": {"interval": "100ms", "min_requests": 0,
	              "metrics": [{"name": "m", "source": "exec", "command": "echo 0", "max": 1}]},
	 "approval": "before"}
	EOF
	test_expect_code 3 env CI_STATE_DIR=$TRASH/ra CI_LEDGER="git:$TRASH/remote.git" \
		ci-canary --new -f rollout.json --image reg.example/web:v1 >ca.json 2>ca.err &&
	git --git-dir=remote.git show refs/ci/lock/web:lease.json >lease &&
	test_json lease "d[\"image\"] == \"reg.example/web:v1\" and d[\"holder\"].endswith(\"/ra\")" &&
	test_expect_code 2 env CI_STATE_DIR=$TRASH/rb CI_LEDGER="git:$TRASH/remote.git" \
		ci-canary --new -f rollout.json --image reg.example/web:v2 >cb.json 2>cb.err &&
	test_grep "a rollout of .web. is held by another runner, .*/ra (reg.example/web:v1, since .*); when that runner is gone for good, clear it with .git push .*remote.git :refs/ci/lock/web." cb.err
'

test_expect_success '... the holder runner resumes under it, and its end lets the other in' '
	CI_STATE_DIR=$TRASH/ra CI_LEDGER="git:$TRASH/remote.git" \
		ci-canary --new -f rollout.json --promote >ca2.json 2>ca2.err &&
	test_json ca2.json "d[\"canary\"][\"status\"] == \"passed\"" &&
	test_expect_code 1 git --git-dir=remote.git rev-parse -q --verify refs/ci/lock/web &&
	test_expect_code 3 env CI_STATE_DIR=$TRASH/rb CI_LEDGER="git:$TRASH/remote.git" \
		ci-canary --new -f rollout.json --image reg.example/web:v2 >cb2.json 2>cb2.err &&
	test_expect_code 1 env CI_STATE_DIR=$TRASH/rb CI_LEDGER="git:$TRASH/remote.git" \
		ci-canary --new -f rollout.json --abort >cb3.json 2>cb3.err &&
	test_expect_code 1 git --git-dir=remote.git rev-parse -q --verify refs/ci/lock/web
'

test_expect_success 'a remote that is not there: exit 69 for the ledger, the rollback still blocks' '
	doc --version 4.0 --run-id g4 >d4.json &&
	test_expect_code 69 env CI_STATE_DIR=$TRASH/s4 ci-rollback --ledger "git:$TRASH/nowhere.git" <d4.json >o4.json 2>e4 &&
	test_grep "nowhere.git refs/ci/ledger/shop: ls-remote failed" e4 &&
	doc --version 4.1 --canary failed --run-id g5 >d5.json &&
	test_expect_code 1 env CI_STATE_DIR=$TRASH/s5 ci-rollback --ledger "git:$TRASH/nowhere.git" <d5.json >o5.json 2>e5 &&
	test_json o5.json "\"ls-remote failed\" in d[\"rollback\"][\"ledger_error\"]" &&
	test_json o5.json "\"ls-remote failed\" in d[\"rollback\"][\"block_shared_error\"]" &&
	test -e s5/blocked.json
'

test_expect_success 'a remote name that the repository does not have is a usage error' '
	test_expect_code 2 env CI_STATE_DIR=$TRASH/s6 ci-rollback --ledger git:upstream --app shop --status 2>e6 &&
	test_grep "no remote .upstream." e6
'

test_done
