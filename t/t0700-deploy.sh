#!/bin/sh
test_description='ci-deploy runs the deploy command with the facts of the document, waits for the service, records deploy.ENV'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/registry-lib.sh"
. "$TEST_DIRECTORY/data/smoke/lib.sh"
# Both libraries stop what they started when the script exits.
trap 'stop_apps; reg_cleanup_' EXIT

CI_STATE_DIR=$TRASH/state
export CI_STATE_DIR
unset CI_ENV CI_IMAGE CI_IMAGE_TAG CI_VERSION CI_COMMIT CI_SLOT

# dep FILE EXPR: test_json with s, the section deploy.staging, too (EXPR
# may span lines).
dep() {
	python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s = d.get("deploy", {}).get("staging", {})
if not eval("(" + sys.argv[2] + ")", {"d": d, "s": s}):
    print("json check failed:", sys.argv[2])
    print(json.dumps(d.get("deploy", d), indent=1)[:4000])
    sys.exit(1)
PY
}

test_expect_success REGISTRY 'setup: a registry, an app in git, a pipeline up to the push' '
	start_registry reg &&
	mkdir app && (cd app &&
		git init -q && echo hello >hello.txt &&
		printf "FROM scratch\nCOPY hello.txt /\n" >Dockerfile &&
		git add . && git commit -q -m init) &&
	git -C app rev-parse HEAD >commit &&
	(cd app &&
		ci-gate -q --version-tag 2.4.1 -g ok=true </dev/null |
		ci-build -q -t 127.0.0.1:$(cat ../reg/port)/shop -o ../img . |
		ci-push -q >../pushed.json) &&
	test_json pushed.json "d[\"push\"][\"status\"] == \"passed\" and d[\"run\"][\"source\"][\"version\"] == \"2.4.1\""
'

test_expect_success REGISTRY 'a deploy that passes: the command gets the facts of the document' '
	ci-deploy --to staging --slot blue -- sh -c "env >env.out; echo deployed \$CI_IMAGE_TAG" \
		<pushed.json >staging.json 2>staging.err &&
	ref=$(test_jval pushed.json "d[\"push\"][\"reference\"]") &&
	grep "^CI_" env.out | sort >actual &&
	cat >expect <<-EOF &&
	CI_COMMIT=$(cat commit)
	CI_ENV=staging
	CI_IMAGE=$ref
	CI_IMAGE_TAG=v2.4.1-$(cut -c1-7 commit)
	CI_SLOT=blue
	CI_STATE_DIR=$CI_STATE_DIR
	CI_VERSION=2.4.1
	EOF
	test_cmp expect actual
'

test_expect_success REGISTRY '... and the document records it as deploy.staging' '
	ref=$(test_jval pushed.json "d[\"push\"][\"reference\"]") &&
	dep staging.json "s[\"status\"] == \"passed\" and s[\"image\"] == \"$ref\" and s[\"slot\"] == \"blue\" and
		s[\"command\"] == [\"sh\", \"-c\", \"env >env.out; echo deployed \$CI_IMAGE_TAG\"] and
		s[\"exit_status\"] == 0 and isinstance(s[\"duration_ms\"], int) and \"reason\" not in s and
		d[\"stages\"][-1][\"name\"] == \"deploy.staging\" and d[\"stages\"][-1][\"status\"] == \"passed\" and
		d[\"status\"] == \"running\" and d[\"push\"][\"status\"] == \"passed\"" &&
	log=$(test_jval staging.json "d[\"deploy\"][\"staging\"][\"log\"]") &&
	case "$log" in "$CI_STATE_DIR"/deploy/staging-*.log) ;; *) false ;; esac &&
	test_grep "^deployed v2.4.1-" "$log" &&
	test_grep "^staging | deployed v2.4.1-" staging.err
'

test_expect_success 'a fact the document lacks is not set, not even from our environment' '
	CI_COMMIT=stale CI_IMAGE=stale CI_IMAGE_TAG=stale CI_VERSION=stale CI_SLOT=stale CI_ENV=stale \
		ci-deploy --new --verbose --to qa -- sh -c "env >bare.out" >bare.json 2>bare.err &&
	grep "^CI_" bare.out | grep -v CI_STATE_DIR >actual &&
	echo CI_ENV=qa >expect &&
	test_cmp expect actual &&
	test_grep "CI_IMAGE not set: the document has no push.reference" bare.err &&
	test_grep "CI_COMMIT not set" bare.err &&
	test_json bare.json "d[\"deploy\"][\"qa\"][\"status\"] == \"passed\" and \"image\" not in d[\"deploy\"][\"qa\"]"
'

test_expect_success 'CI_SLOT comes from the canary section when --slot is not given' '
	"$TEST_DIRECTORY/helpers/pipeline-doc" --canary paused --slots blue,green >paused.json &&
	ci-deploy --to production -- sh -c "echo \$CI_SLOT >slot.out" <paused.json >slot.json 2>err &&
	echo green >expect &&
	test_cmp expect slot.out &&
	test_json slot.json "d[\"deploy\"][\"production\"][\"slot\"] == \"green\""
'

test_expect_success 'a failing command: exit 1, failed, with its exit status and last lines' '
	test_expect_code 1 ci-deploy --to staging -- sh -c "echo one; echo two >&2; echo three; exit 3" \
		<pushed.json >fail.json 2>fail.err &&
	dep fail.json "s[\"status\"] == \"failed\" and s[\"exit_status\"] == 3" &&
	dep fail.json "s[\"reason\"] == \"the command exited with status 3; its last lines:\\none\\ntwo\\nthree\"" &&
	dep fail.json "d[\"status\"] == \"failed\" and d[\"stages\"][-1][\"status\"] == \"failed\"" &&
	test_grep "ci-deploy: error: deploy to staging failed: the command exited with status 3" fail.err
'

test_expect_success '... and the stages after it skip, naming deploy.staging' '
	test_expect_code 1 ci-smoke --wait http://127.0.0.1:9/ x.hurl <fail.json >smoke.json 2>err &&
	test_json smoke.json "d[\"smoke\"][\"status\"] == \"skipped\" and d[\"smoke\"][\"failed_stage\"] == \"deploy.staging\"" &&
	test_expect_code 1 ci-deploy --to production -- touch prod-ran <smoke.json >prod.json 2>err &&
	test_json prod.json "d[\"deploy\"][\"production\"][\"status\"] == \"skipped\" and d[\"deploy\"][\"staging\"][\"status\"] == \"failed\"" &&
	test_grep "not deploying to production: upstream stage .deploy.staging. failed" err &&
	! test -e prod-ran
'

test_expect_success 'a timeout kills the process group: failed, and the sleep is gone' '
	test_expect_code 1 ci-deploy --to staging --timeout 1s -- sh -c "sleep 100 & echo \$! >sleep.pid; wait" \
		<pushed.json >timeout.json 2>err &&
	proc_gone "$(cat sleep.pid)" &&
	dep timeout.json "s[\"status\"] == \"failed\" and s[\"signal\"] == \"SIGTERM\" and s[\"exit_status\"] == 143" &&
	dep timeout.json "s[\"reason\"] == \"the command was killed by SIGTERM after timeout 1s\""
'

test_expect_success PYTHON '--wait polls until the service answers, the connection refused meanwhile' '
	port=$(test_free_port) &&
	{ smoke-app --port $port --listen-when go 2>/dev/null & } &&
	remember_pid $! &&
	{ ci-deploy --verbose --to staging --timeout 1m --wait "http://deployer:$DEPLOY_WAIT_PASSWORD@127.0.0.1:$port/health" -- true \
		<pushed.json >wait.json 2>wait.err & } &&
	dpid=$! && remember_pid $dpid &&
	wait_for_grep "waiting for .http://\*\*\*@127.0.0.1:$port/health.: .*(attempt 1)" wait.err &&
	! test -s wait.json &&
	touch go &&
	wait $dpid &&
	dep wait.json "s[\"status\"] == \"passed\" and s[\"wait\"][\"ready\"] is True and s[\"wait\"][\"http_status\"] == 200" &&
	dep wait.json "s[\"wait\"][\"url\"] == \"http://***@127.0.0.1:$port/health\" and s[\"wait\"][\"attempts\"] >= 2" &&
	dep wait.json "isinstance(s[\"wait\"][\"duration_ms\"], int)" &&
	! grep -e "$DEPLOY_WAIT_PASSWORD" wait.json wait.err
'

test_expect_success PYTHON '--wait takes a 3xx answer as up' '
	start_app && remember_pid $APP_PID &&
	ci-deploy --to staging --timeout 1m --wait "$BASE/redirect?to=/health" -- true <pushed.json >redir.json 2>err &&
	dep redir.json "s[\"status\"] == \"passed\" and s[\"wait\"][\"http_status\"] == 302 and s[\"wait\"][\"attempts\"] == 1"
'

test_expect_success '--wait on a port nothing listens on: failed, naming the URL, its password as ***' '
	dead=127.0.0.1:$(test_free_port) &&
	test_expect_code 1 ci-deploy --to staging --timeout 1s --wait "http://ops:$DEPLOY_WAIT_PASSWORD2@$dead/health" -- true \
		<pushed.json >dead.json 2>dead.err &&
	dep dead.json "s[\"status\"] == \"failed\" and s[\"exit_status\"] == 0 and s[\"wait\"][\"ready\"] is False" &&
	dep dead.json "s[\"reason\"].startswith(\"the command passed, but \x27http://***@$dead/health\x27 was not ready after \")" &&
	test_grep "http://\*\*\*@$dead/health" dead.err &&
	! grep -e "$DEPLOY_WAIT_PASSWORD2" dead.json dead.err
'

test_expect_success 'two deploys in one pipe: deploy.staging and deploy.production, both kept' '
	ci-deploy --to staging -- true <pushed.json 2>err1 | ci-deploy --to production -- true >two.json 2>err &&
	test_json two.json "list(d[\"deploy\"]) == [\"staging\", \"production\"]" &&
	test_json two.json "[s[\"name\"] for s in d[\"stages\"]][-2:] == [\"deploy.staging\", \"deploy.production\"]" &&
	test_json two.json "all(s[\"status\"] == \"passed\" for s in d[\"deploy\"].values())" &&
	test_expect_code 1 ci-deploy --to staging -- false <two.json >again.json 2>err &&
	test_json again.json "list(d[\"deploy\"]) == [\"staging\", \"production\"] and d[\"deploy\"][\"staging\"][\"status\"] == \"failed\"" &&
	test_json again.json "[s[\"name\"] for s in d[\"stages\"]].count(\"deploy.staging\") == 1"
'

test_expect_success 'an upstream failure: skipped, exit 1, the command never runs' '
	"$TEST_DIRECTORY/helpers/pipeline-doc" --fail build >failed.json &&
	test_expect_code 1 ci-deploy --to staging -- touch ran <failed.json >skip.json 2>err &&
	dep skip.json "s[\"status\"] == \"skipped\" and s[\"failed_stage\"] == \"build\"" &&
	test_json skip.json "d[\"stages\"][-1][\"name\"] == \"deploy.staging\"" &&
	! test -e ran
'

test_expect_success 'an empty pipe means the stage before died: exit 65' '
	printf "" | test_expect_code 65 ci-deploy --to staging -- touch ran >out 2>err &&
	! test -s out &&
	test_grep "no pipeline document on stdin" err &&
	! test -e ran
'

test_expect_success 'usage errors: exit 2, the document untouched, nothing run' '
	test_expect_code 2 ci-deploy -- touch ran <pushed.json >out 2>err &&
	test_grep "no environment: give --to ENV" err &&
	test_expect_code 2 ci-deploy --to staging <pushed.json >>out 2>err &&
	test_grep "no command: give it after --" err &&
	test_expect_code 2 ci-deploy --to "prod/../x" -- touch ran <pushed.json >>out 2>err &&
	test_grep "^ci-deploy: error: --to .prod/../x.: expected 1 to 64 letters" err &&
	test_expect_code 2 ci-deploy --to staging --timeout 0 -- touch ran <pushed.json >>out 2>err &&
	test_grep "timeout .0.: expected more than 0" err &&
	test_expect_code 2 ci-deploy --to staging --wait "not a url" -- touch ran <pushed.json >>out 2>err &&
	test_grep "wait: .not a url. is not an absolute URL" err &&
	test_expect_code 2 ci-deploy --to staging --bogus -- touch ran <pushed.json >>out 2>err &&
	test_grep "unknown option .--bogus." err &&
	! test -s out &&
	! test -e ran
'

test_expect_success 'the options end at the command: its own options are its own' '
	ci-deploy --to staging sh -c "echo \"\$1\"" sh -q <pushed.json >ordered.json 2>err &&
	test_grep "^staging | -q$" err &&
	dep ordered.json "len(s[\"command\"]) == 5 and s[\"command\"][4] == \"-q\""
'

test_expect_success 'a command that cannot be found: exit 2, error, the document written' '
	test_expect_code 2 ci-deploy --to staging -- no-such-deployer --now <pushed.json >nf.json 2>err &&
	dep nf.json "s[\"status\"] == \"error\" and s[\"reason\"] == \"cannot deploy to staging: command not found: \x27no-such-deployer\x27\"" &&
	dep nf.json "\"exit_status\" not in s and d[\"status\"] == \"failed\"" &&
	test_grep "command not found: .no-such-deployer." err
'

test_expect_success 'SIGINT is passed on to the command: exit 75, error' '
	{ ci-deploy --to staging --timeout 1m -- sh -c "trap \"echo INT >got; exit 130\" INT; trap \"echo TERM >got; exit 143\" TERM; echo ready; while :; do sleep 0.05; done" \
		<pushed.json >int.json 2>int.err & } &&
	dpid=$! && remember_pid $dpid &&
	wait_for_grep "^staging | ready" int.err &&
	kill -INT $dpid &&
	{ wait $dpid; echo $? >rc; } &&
	test "$(cat rc)" = 75 &&
	echo INT >expect &&
	test_cmp expect got &&
	dep int.json "s[\"status\"] == \"error\" and s[\"exit_status\"] == 130" &&
	dep int.json "s[\"reason\"].startswith(\"interrupted by signal 2: the command was cancelled (exited with status 130)\")"
'

test_done
