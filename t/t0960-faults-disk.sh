#!/bin/sh
test_description='a full disk: every file a tool writes is exit 74 naming it, and nothing is left half-written'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/build-lib.sh"
. "$TEST_DIRECTORY/helpers/faults-lib.sh"
. "$TEST_DIRECTORY/data/smoke/lib.sh"

# A full disk is a small tmpfs filled up (mounting it needs root).  Each
# test puts what was there before in place first, then checks that a
# failed write left it as it was: no partial file at the final path, the
# previous file intact, no temp file beside it.
faults_require_tmpfs
trap 'stop_apps; tmpfs_umount_all' EXIT

# olds FILE...: each FILE says "old"; kept_old FILE...: and still does.
olds() {
	for f; do echo old >"$f" || return 1; done
}
kept_old() {
	echo old >expect.old &&
	for f; do test_cmp expect.old "$f" || return 1; done
}

# said_full ERR FILE...: ERR says that each FILE could not be written.
said_full() {
	sf_err_=$1
	shift
	for f; do
		test_grep "cannot write .*$f.: No space left on device" "$sf_err_" || return 1
	done
}

# html_full TOOL ARG...: TOOL --html out/p.html ARG... on failed.json is
# exit 74 naming the page.
html_full() {
	hf_tool_=$1
	shift
	test_expect_code 74 env "$hf_tool_" --html out/p.html "$@" <failed.json >o.json 2>err &&
	test_grep "$hf_tool_: error: cannot write .*out/p.html.: No space left on device" err
}

CI_STATE_DIR=$TRASH/state
export CI_STATE_DIR

test_expect_success 'setup: a build context, a secret, a smoke app, a rollout spec' '
	mkdir ctx &&
	echo hello >ctx/hello &&
	head -c 40000 /dev/urandom >ctx/noise &&
	printf "FROM scratch\nCOPY hello /hello\nCOPY noise /noise\n" >ctx/Dockerfile &&
	mkdir src &&
	echo "token = \"ghp_$(printf "%036d" 7 | tr 0 a)\"" >src/config.txt &&
	start_app &&
	printf "GET {{base}}/health\nHTTP 200\n" >health.hurl &&
	cat >roll.json <<-EOF
	{"app": "shop", "traffic": {"driver": "exec", "set": "echo {{stable_weight}} {{canary_weight}} >$TRASH/weights"},
	 "steps": [{"weight": 10, "pause": "100ms"}, {"weight": 100}],
	 "analysis": {"interval": "100ms", "min_requests": 0,
	              "metrics": [{"name": "m", "source": "exec", "command": "echo 0", "max": 1}]}}
	EOF
'

test_expect_success 'ci-gate --junit, --sarif, --codequality, --html: exit 74 naming each, the old files kept' '
	tmpfs_mount out && test_when_finished "tmpfs_umount out" &&
	olds out/j.xml out/s.sarif out/cq.json out/p.html &&
	fill_up out &&
	test_expect_code 74 ci-gate --new -g a=true --junit out/j.xml --sarif out/s.sarif \
		--codequality out/cq.json --html out/p.html >d.json 2>err &&
	said_full err out/j.xml out/s.sarif out/cq.json out/p.html &&
	kept_old out/j.xml out/s.sarif out/cq.json out/p.html &&
	test_json d.json "d[\"gate\"][\"status\"] == \"passed\"" &&
	no_temp_files out
'

test_expect_success 'ci-gate --write-baseline: exit 74 naming it, the old baseline kept' '
	tmpfs_mount out && test_when_finished "tmpfs_umount out" &&
	echo "{\"old\": 1}" >out/baseline.json && cp out/baseline.json expect &&
	fill_up out &&
	test_expect_code 74 env -C src ci-gate --new --secrets --all-files \
		--write-baseline ../out/baseline.json -o ../gate-logs . >d.json 2>err &&
	test_grep "ci-gate: error: secrets: cannot write .*out/baseline.json.: No space left on device" err &&
	test_json d.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"status\"] == \"error\"" &&
	test_cmp expect out/baseline.json &&
	no_temp_files out
'

test_expect_success 'ci-gate job logs: exit 74 naming the log, the partial log removed, the tail kept' '
	tmpfs_mount logs && test_when_finished "tmpfs_umount logs" &&
	fill_up logs &&
	test_expect_code 74 ci-gate --new -g "a=seq 1 3000" -o logs >d.json 2>err &&
	test_grep "ci-gate: error: a: cannot write .logs/a.log.: No space left on device (the partial log was removed)" err &&
	! test -e logs/a.log &&
	test_json d.json "d[\"gate\"][\"jobs\"][\"a\"][\"status\"] == \"error\" and \"log\" not in d[\"gate\"][\"jobs\"][\"a\"]" &&
	test_json d.json "d[\"gate\"][\"jobs\"][\"a\"][\"tail\"].endswith(\"3000\\n\")"
'

test_expect_success 'ci-build: the layout on a full disk is exit 74; the previous image stays whole' '
	tmpfs_mount out 1m && test_when_finished "tmpfs_umount out" &&
	ci-build --new -q --no-cache -o out/image ctx >b1.json &&
	cp -r out/image before &&
	echo changed >ctx/hello &&
	fill_up out &&
	test_expect_code 74 ci-build --new -q --no-cache -o out/image ctx >b2.json 2>err &&
	test_grep "ci-build: error: .*cannot write .out/.*: No space left on device" err &&
	test_json b2.json "d[\"build\"][\"status\"] == \"error\" and d[\"build\"][\"exit_code\"] == 74" &&
	diff -r before out/image &&
	layout_whole out/image &&
	no_temp_files out
'

test_expect_success 'ci-build --oci-archive and --docker-archive: exit 74, the old archives kept, no image' '
	tmpfs_mount out && test_when_finished "tmpfs_umount out" &&
	olds out/oci.tar out/docker.tar &&
	fill_up out &&
	test_expect_code 74 ci-build --new -q --no-cache -o img1 --oci-archive out/oci.tar ctx >b.json 2>err &&
	said_full err out/oci.tar &&
	test_expect_code 74 ci-build --new -q --no-cache -o img2 -t app:1 --docker-archive out/docker.tar \
		ctx >b.json 2>err &&
	said_full err out/docker.tar &&
	kept_old out/oci.tar out/docker.tar &&
	! test -e img1 && ! test -e img2 &&
	no_temp_files out && no_temp_files .
'

# The cache is a speed-up: a cache that cannot be written costs a warning,
# never the build (ci-build(1)).  What it keeps must still be whole.
test_expect_success 'ci-build: a full cache is a warning; the build passes and the cache stays whole' '
	tmpfs_mount cache 256k && test_when_finished "tmpfs_umount cache" &&
	ci-build --new -q --cache-dir cache -o img3 ctx >b.json &&
	echo again >ctx/hello && head -c 40000 /dev/urandom >ctx/noise &&
	fill_up cache &&
	ci-build --new --cache-dir cache -o img4 ctx >b.json 2>err &&
	test_grep "warning: cannot keep the layer in the cache: cannot write .cache/" err &&
	layout_whole img4 &&
	python3 - <<-\EOF &&
	import glob, json, os
	for rec in glob.glob("cache/layers/*.json"):
	    r = json.load(open(rec))
	    p = "cache/blobs/sha256/" + r["digest"][7:]
	    assert os.path.getsize(p) == r["size"], (rec, p)
	EOF
	layout_whole cache &&
	no_temp_files cache &&
	rm cache/.fill &&
	ci-build --new -q --cache-dir cache -o img5 ctx >b5.json &&
	test "$(img_digest b5.json)" = "$(img_digest b.json)"
'

test_expect_success 'ci-smoke --junit, --tap=FILE, --html: exit 74 naming each, the old files kept' '
	tmpfs_mount out && test_when_finished "tmpfs_umount out" &&
	olds out/j.xml out/t.tap out/p.html &&
	fill_up out &&
	test_expect_code 74 ci-smoke --new -v base="$BASE" --junit out/j.xml --tap=out/t.tap \
		--html out/p.html health.hurl >d.json 2>err &&
	said_full err out/j.xml out/t.tap out/p.html &&
	kept_old out/j.xml out/t.tap out/p.html &&
	no_temp_files out
'

test_expect_success 'ci-canary: a state directory with no room is exit 74; the snapshot stays whole' '
	tmpfs_mount state && test_when_finished "tmpfs_umount state" &&
	ci-canary --new -f roll.json --image reg.example/shop:v1 >c1.json 2>err &&
	cp state/canary/shop.json snapshot &&
	fill_up state &&
	test_expect_code 74 ci-canary --new -f roll.json --image reg.example/shop:v2 >c2.json 2>err &&
	test_grep "cannot write .*state/canary/shop.json.: No space left on device" err &&
	test_cmp snapshot state/canary/shop.json &&
	test_json_lines state/canary/shop.events.jsonl "len(d) > 0" &&
	no_temp_files state
'

test_expect_success 'ci-canary: the events journal cut short by a full disk keeps no torn line' '
	tmpfs_mount state && test_when_finished "tmpfs_umount state" &&
	ci-canary --new -f roll.json --image reg.example/shop:v1 >c1.json 2>err &&
	pad_page state/canary/shop.events.jsonl 20 "{\"at\": \"2026-01-01T00:00:00.000Z\", \"event\": \"note\"}" &&
	cp state/canary/shop.events.jsonl journal &&
	fill_up state &&
	test_expect_code 74 ci-canary --new -f roll.json --image reg.example/shop:v2 >c2.json 2>err &&
	test_grep "cannot append to .*state/canary/shop.events.jsonl.: No space left on device" err &&
	test_cmp journal state/canary/shop.events.jsonl
'

test_expect_success 'ci-canary --report and --html: exit 74 naming each, the old files kept' '
	tmpfs_mount out && test_when_finished "tmpfs_umount out" &&
	olds out/chart.svg out/p.html &&
	fill_up out &&
	test_expect_code 74 ci-canary --new -f roll.json --app shop2 --image reg.example/shop:v3 \
		--report out/chart.svg --html out/p.html >c.json 2>err &&
	said_full err out/chart.svg out/p.html &&
	test_json c.json "d[\"canary\"][\"status\"] == \"passed\"" &&
	kept_old out/chart.svg out/p.html &&
	no_temp_files out
'

test_expect_success 'ci-rollback: ledger and block on a full disk: exit 74 naming both, the ledger as it was' '
	tmpfs_mount state && test_when_finished "tmpfs_umount state" &&
	pipeline-doc --version 1.0 --run-id r1 >d1.json &&
	ci-rollback <d1.json >o1.json 2>err &&
	pad_page state/releases.jsonl 40 "{\"app\": \"other\", \"version\": \"0.1\", \"status\": \"stable\", \"at\": \"2026-01-01T00:00:00.000Z\"}" &&
	cp state/releases.jsonl ledger &&
	fill_up state &&
	pipeline-doc --version 1.1 --canary failed --run-id r2 >d2.json &&
	test_expect_code 74 ci-rollback <d2.json >o2.json 2>err &&
	test_grep "ci-rollback: error: cannot append to .*state/releases.jsonl.: No space left on device" err &&
	test_grep "cannot write .*state/blocked.json.: No space left on device" err &&
	test_json o2.json "d[\"rollback\"][\"outcome\"] == \"rolled_back\" and \"ledger_error\" in d[\"rollback\"] and \"block_error\" in d[\"rollback\"]" &&
	test_cmp ledger state/releases.jsonl &&
	! test -e state/blocked.json &&
	no_temp_files state
'

test_expect_success '... a passed release whose record does not fit: exit 74, the section says error' '
	tmpfs_mount state && test_when_finished "tmpfs_umount state" &&
	pad_page state/releases.jsonl 40 "{\"app\": \"other\", \"version\": \"0.1\", \"status\": \"stable\", \"at\": \"2026-01-01T00:00:00.000Z\"}" &&
	cp state/releases.jsonl ledger &&
	fill_up state &&
	test_expect_code 74 ci-rollback <d1.json >o1.json 2>err &&
	test_grep "cannot append to .*state/releases.jsonl.: No space left on device" err &&
	test_json o1.json "d[\"rollback\"][\"status\"] == \"error\" and \"No space left\" in d[\"rollback\"][\"reason\"]" &&
	test_cmp ledger state/releases.jsonl
'

test_expect_success '... the alert state with no room: exit 74 naming it' '
	mkdir -p state/rollback &&
	tmpfs_mount state/rollback && test_when_finished "tmpfs_umount state/rollback" &&
	fill_up state/rollback &&
	pipeline-doc --version 1.2 --canary failed --run-id r3 >d3.json &&
	test_expect_code 74 ci-rollback <d3.json >o3.json 2>err &&
	test_grep "ci-rollback: error: cannot write .*state/rollback/shop.json.: No space left on device" err &&
	test_json state/blocked.json "d[\"release\"] == \"1.2\"" &&
	! test -e state/rollback/shop.json &&
	no_temp_files state/rollback
'

test_expect_success 'ci-deploy: a log with no room is exit 74 naming it, and removed' '
	mkdir -p state/deploy &&
	tmpfs_mount state/deploy && test_when_finished "tmpfs_umount state/deploy" &&
	fill_up state/deploy &&
	test_expect_code 74 ci-deploy --new --to staging -- seq 1 3000 >d.json 2>err &&
	test_grep "ci-deploy: error: cannot write .*state/deploy/staging-.*\.log.: No space left on device (the partial log was removed)" err &&
	test_json d.json "d[\"deploy\"][\"staging\"][\"status\"] == \"error\" and \"log\" not in d[\"deploy\"][\"staging\"]" &&
	test "$(ls state/deploy)" = ""
'

test_expect_success '--html of every tool, on a skipped stage too: exit 74, the old page kept' '
	tmpfs_mount out && test_when_finished "tmpfs_umount out" &&
	olds out/p.html &&
	fill_up out &&
	pipeline-doc --fail build >failed.json &&
	html_full ci-gate -g a=true &&
	html_full ci-build &&
	html_full ci-push &&
	html_full ci-smoke health.hurl &&
	html_full ci-deploy --to staging -- true &&
	html_full ci-canary &&
	html_full ci-rollback &&
	kept_old out/p.html &&
	no_temp_files out
'

test_done
