#!/bin/sh
test_description='kill -9 at every durable step: what is left is whole, and a re-run finishes the work'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/registry-lib.sh"
. "$TEST_DIRECTORY/helpers/build-lib.sh"
. "$TEST_DIRECTORY/helpers/faults-lib.sh"

# The kills land at chosen points, not after guessed delays: strace
# delivers SIGKILL on entry to the Nth call of one system call (the call
# itself never runs), for N = 1, 2, ... until a run gets through.  The
# calls chosen are the boundaries between durable steps: the rename that
# publishes a file, the link that shares a blob, the write that appends a
# record, the request a server sees.  (strace counts each system call
# apart, so each loop kills at one.)  Each run gets its own output,
# cache, repository or state directory, named by $RUN, so that one kill
# does not move the points of the next; what they left is checked
# together.
test_tool_prereq STRACE strace command -v strace
# ptrace may be refused (a container's seccomp profile): that is the
# machine's, not a missing package.
test_env_prereq PTRACE strace -o /dev/null true

CI_STATE_DIR=$TRASH/state
export CI_STATE_DIR

# kill_loop NAME SYSCALL CMD: run the shell command CMD (one word, in
# which $RUN is NAME.N) under strace, killed at the Nth SYSCALL, for N =
# 1, 2, ...; "kill_setup RUN" (a function of the test) runs first.  Each
# run's strace log is RUN.strace, its last call the one killed.  Stops at
# the first run that gets through (with exit KILL_LOOP_RC, default 0);
# NAME.runs lists the RUNs killed, one a line.  At most 40 runs.
kill_loop() {
	kl_name_=$1 kl_call_=$2 kl_cmd_=$3
	kl_n_=1
	: >"$kl_name_.runs"
	while test $kl_n_ -le 40; do
		RUN=$kl_name_.$kl_n_
		kill_setup $RUN || return 1
		eval "strace -qq -y -o $RUN.strace -e trace=$kl_call_ \
			-e inject=$kl_call_:signal=KILL:when=$kl_n_ $kl_cmd_" >"$RUN.out" 2>"$RUN.err"
		kl_rc_=$?
		if test $kl_rc_ != 137; then
			say "$kl_name_: run $kl_n_ got through (exit $kl_rc_) after $((kl_n_ - 1)) kills"
			test $kl_rc_ = "${KILL_LOOP_RC:-0}" || { echo "$RUN: exit $kl_rc_"; return 1; }
			test $kl_n_ -gt 1 || { echo "$kl_name_: no $kl_call_ to kill at"; return 1; }
			return 0
		fi
		grep -q "killed by SIGKILL" "$RUN.strace" || {
			echo "$RUN was not killed by the injection"; return 1; }
		echo $RUN >>"$kl_name_.runs"
		kl_n_=$((kl_n_ + 1))
	done
	echo "$kl_name_: still killed after 40 runs"
	return 1
}

kill_setup() { :; }


test_expect_success STRACE,PTRACE 'setup: two contexts, an image of the first with its cache' '
	mkdir ctx1 ctx2 &&
	echo one >ctx1/hello && head -c 30000 /dev/urandom >ctx1/noise &&
	printf "FROM scratch\nCOPY hello /hello\nCOPY noise /noise\nCOPY more /more\n" >ctx1/Dockerfile &&
	echo more >ctx1/more &&
	cp ctx1/Dockerfile ctx1/noise ctx1/more ctx2/ && echo two >ctx2/hello &&
	ci-build --new -q -o base/image --cache-dir base/cache ctx1 >b1.json &&
	ci-build --new -q --no-cache -o ref2 ctx2 >b2.json &&
	img_digest b1.json >digest1 &&
	img_digest b2.json >digest2
'

# A rebuild of ctx2 over the image of ctx1 and its cache: killed before
# each file is published (rename), each blob is shared with the cache
# (link), each file of the old image is removed (unlink).
test_expect_success STRACE,PTRACE 'ci-build killed at each rename, link and unlink of a rebuild' '
	kill_setup() { rm -rf "b/$1" && mkdir -p b && cp -r base "b/$1"; } &&
	for call in rename link unlink; do
		kill_loop build-$call $call \
			"ci-build --new -q -o b/\$RUN/image --cache-dir b/\$RUN/cache ctx2" || return 1
	done &&
	test $(wc -l <build-rename.runs) -ge 8
'

test_expect_success STRACE,PTRACE '... each layout is the old image or the new one, whole; each cache is whole' '
	cat build-*.runs >build.runs &&
	python3 - "$(cat digest1)" "$(cat digest2)" <<-\EOF
	import glob, hashlib, json, os, sys
	want = set(sys.argv[1:3])
	def whole(lay, d):
	    p = os.path.join(lay, "blobs", *d["digest"].split(":"))
	    data = open(p, "rb").read()
	    assert len(data) == d["size"] and "sha256:" + hashlib.sha256(data).hexdigest() == d["digest"], p
	    return data
	for run in open("build.runs").read().split():
	    lay = "b/%s/image" % run
	    if os.path.exists(lay):
	        idx = json.load(open(lay + "/index.json"))
	        got = [m["digest"] for m in idx["manifests"]]
	        assert len(got) == 1 and got[0] in want, (run, idx)
	        man = json.loads(whole(lay, idx["manifests"][0]))
	        for d in [man["config"]] + man["layers"]:
	            whole(lay, d)
	    else:
	        # Killed between the two renames of the swap: the old image is
	        # aside, whole, for the re-run to put back.
	        old = glob.glob("b/%s/.image.tmp-*.old-*" % run)
	        assert len(old) == 1, (run, os.listdir("b/%s" % run))
	    for rec in glob.glob("b/%s/cache/layers/*.json" % run):
	        whole("b/%s/cache" % run, json.load(open(rec)))
	EOF
'

test_expect_success STRACE,PTRACE,SKOPEO '... skopeo reads every layout left' '
	for run in $(cat build.runs); do
		if test -d b/$run/image; then
			skopeo inspect --raw oci:b/$run/image >m.$run.json || return 1
		fi
	done
'

# rebuild RUN: a re-run after RUN's kill gives the same digest; an image
# a killed build left aside is put back first.
rebuild() {
	rb_aside_= &&
	if ! test -d b/$1/image; then rb_aside_=$(ls -d b/$1/.image.tmp-*.old-*); fi &&
	ci-build --new -o b/$1/image --cache-dir b/$1/cache ctx2 >r.$1.json 2>r.$1.err &&
	test_grep "built b/$1/image $(cat digest2)" r.$1.err &&
	if test -n "$rb_aside_"; then
		test_grep "'b/$1/image': put back the image a killed build had moved to '$rb_aside_'" r.$1.err
	fi &&
	layout_whole b/$1/image &&
	no_tmp_dirs b/$1
}

# A kill leaves temp files in the cache (named at random, never read);
# what the cache holds under its real names is whole (above).
test_expect_success STRACE,PTRACE '... a re-run gives the same digest and leaves no temp dir' '
	for run in $(cat build.runs); do rebuild $run || return 1; done
'

# Each request is one sendto; the push of run N goes to repository
# k-push.N.
test_expect_success STRACE,PTRACE,REGISTRY 'ci-push killed at each request' '
	start_registry reg &&
	port=$(cat reg/port) &&
	kill_loop push sendto "ci-push --new -q --no-blob-cache \
		--insecure-registry 127.0.0.1:$port --layout ref2 127.0.0.1:$port/k-\$RUN:v1" &&
	test $(wc -l <push.runs) -ge 8
'

# reg_whole PORT: every tag of every repository resolves to a manifest
# whose config and layers the registry has, at their size; the tags
# found, "REPO:TAG DIGEST" a line, on stdout.
reg_whole() {
	python3 - "$1" <<-\EOF
	import json, sys, urllib.request, urllib.error
	base = "http://127.0.0.1:%s/v2/" % sys.argv[1]
	mt = "application/vnd.oci.image.manifest.v1+json"
	def get(path, method="GET"):
	    return urllib.request.urlopen(urllib.request.Request(base + path, method=method,
	        headers={"Accept": mt}), timeout=10)
	for repo in sorted(json.load(get("_catalog?n=1000"))["repositories"] or []):
	    try:
	        tags = json.load(get(repo + "/tags/list")).get("tags") or []
	    except urllib.error.HTTPError as e:
	        # Blobs but no tag yet: nothing to resolve.
	        assert e.code == 404, (repo, e.code)
	        continue
	    for t in sorted(tags):
	        r = get("%s/manifests/%s" % (repo, t))
	        man = json.load(r)
	        for d in [man["config"]] + man["layers"]:
	            h = get("%s/blobs/%s" % (repo, d["digest"]), "HEAD")
	            assert int(h.headers["Content-Length"]) == d["size"], (repo, t, d)
	        print("%s:%s %s" % (repo, t, r.headers["Docker-Content-Digest"]))
	EOF
}

test_expect_success STRACE,PTRACE,REGISTRY '... no tag in the registry lacks a blob; a re-run pushes every one' '
	port=$(cat reg/port) &&
	reg_whole $port >tags.killed &&
	test_grep "^k-push.$(($(wc -l <push.runs) + 1)):v1 $(cat digest2)$" tags.killed &&
	for run in $(cat push.runs); do
		ci-push --new -q --no-blob-cache --insecure-registry 127.0.0.1:$port \
			--layout ref2 127.0.0.1:$port/k-$run:v1 >p.$run.json || return 1
	done &&
	reg_whole $port >tags.after &&
	{ cat push.runs && echo push.$(($(wc -l <push.runs) + 1)); } |
	sed "s/^/k-/; s/\$/:v1 $(cat digest2)/" | sort >expect &&
	sort tags.after >actual &&
	test_cmp expect actual
'

# Each decision of a rollout is a snapshot renamed into place (after its
# journal line): run N is killed before the Nth.
test_expect_success STRACE,PTRACE 'ci-canary killed before each snapshot it saves' '
	cat >roll.json <<-EOF &&
	{"traffic": {"driver": "exec", "set": "echo {{stable_weight}} {{canary_weight}} >$TRASH/weights"},
	 "steps": [{"weight": 10, "pause": "100ms"}, {"weight": 50, "pause": "100ms"}, {"weight": 100}],
	 "analysis": {"interval": "100ms", "min_requests": 0,
	              "metrics": [{"name": "m", "source": "exec", "command": "echo 0", "max": 1}]}}
	EOF
	kill_loop canary rename \
		"ci-canary --new -q -f roll.json --app c-\$RUN --image reg.example/shop:v2" &&
	test $(wc -l <canary.runs) -ge 4
'

test_expect_success STRACE,PTRACE '... the state is readable, and a re-run resumes at the step it says' '
	for run in $(cat canary.runs); do
		if test -e state/canary/c-$run.json; then
			cp state/canary/c-$run.json snap.$run || return 1
		fi
		ci-canary --new -f roll.json --app c-$run --image reg.example/shop:v2 \
			>cd.$run.json 2>cr.$run.err || return 1
	done &&
	python3 - <<-\EOF
	import json, os, re
	for run in open("canary.runs").read().split():
	    ev = [json.loads(l) for l in open("state/canary/c-%s.events.jsonl" % run)]
	    err = open("cr.%s.err" % run).read()
	    doc = json.load(open("cd.%s.json" % run))
	    assert doc["canary"]["status"] == "passed", (run, doc["canary"])
	    assert ev[-1]["event"] == "promote", (run, ev[-1])
	    # The steps the re-run goes through: from the snapshot step on (the
	    # last, 100%, is a promotion with no step of its own to show).
	    steps = [int(k) for k in re.findall(r"step (\d+) of 3", err)]
	    at = 0
	    if os.path.exists("snap." + run):
	        snap = json.load(open("snap." + run))
	        assert snap["status"] == "running", (run, snap)
	        at = snap["step"]
	    assert steps[:1] == ([at + 1] if at < 2 else []) and min(steps or [3]) > at, (run, at, err)
	EOF
'

# A failed release with a Slack and a webhook alert: killed before each
# record it writes (the ledger's line, the block file's and the alert
# state's renames) and each alert it sends.
test_expect_success STRACE,PTRACE 'ci-rollback killed at each write, rename and request' '
	rm -f alerts.ready &&
	{ "$TEST_DIRECTORY/helpers/alert-receiver" --port 0 --port-file alerts.port \
		--out "$TRASH/alerts.jsonl" --ready-file alerts.ready & reg_track_ $!; } &&
	n=0 && until test -e alerts.ready || test $n -ge 300; do sleep 0.1; n=$((n + 1)); done &&
	test -e alerts.ready &&
	p=$(cat alerts.port) &&
	pipeline-doc --version 1.1 --canary failed --run-id r1 >failed.json &&
	for call in write rename sendto; do
		KILL_LOOP_RC=1 kill_loop rollback-$call $call "env CI_STATE_DIR=$TRASH/s.\$RUN \
			ci-rollback --slack-webhook http://127.0.0.1:$p/\$RUN/slack \
			--webhook http://127.0.0.1:$p/\$RUN/hook --alert-attempts 1 <failed.json" ||
			return 1
	done &&
	cat rollback-*.runs >rollback.runs &&
	test $(wc -l <rollback.runs) -ge 6
'

test_expect_success STRACE,PTRACE '... the ledger is readable; a re-run completes' '
	test -s rollback.runs &&
	p=$(cat alerts.port) &&
	for run in $(cat rollback.runs); do
		CI_STATE_DIR=$TRASH/s.$run ci-rollback --app shop --status --json >st.$run &&
		test_expect_code 1 env CI_STATE_DIR=$TRASH/s.$run ci-rollback \
			--slack-webhook http://127.0.0.1:$p/$run/slack \
			--webhook http://127.0.0.1:$p/$run/hook <failed.json >rb.$run.json 2>rb.$run.err ||
			return 1
	done
'

# Each run's ledger has the failure once, its block is in place, and each
# alert went once -- but where the kill fell between a delivery and its
# record (the record's own write or rename): that alert may go again (at
# least once, never lost).
test_expect_success STRACE,PTRACE '... the ledger has the failure once, and no alert went twice' '
	test -s rollback.runs &&
	python3 - <<-\EOF
	import json, re
	def killed_at(run):
	    # The last call in the strace log (its string may span lines).
	    calls = re.split(r"^(?=[a-z_0-9]+\()", open(run + ".strace").read(), flags=re.M)
	    return calls[-1]
	got = [json.loads(l)["path"] for l in open("alerts.jsonl")]
	for run in open("rollback.runs").read().split():
	    at = killed_at(run)
	    recs = [json.loads(l) for l in open("s.%s/releases.jsonl" % run)]
	    assert [(r["version"], r["status"]) for r in recs] == [("1.1", "failed")], (run, recs)
	    assert json.load(open("s.%s/blocked.json" % run))["release"] == "1.1", run
	    n = (got.count("/%s/slack" % run), got.count("/%s/hook" % run))
	    ok = [(1, 1), (2, 1), (1, 2)] if "rollback/shop.json" in at else [(1, 1)]
	    assert n in ok, (run, n, at)
	EOF
'

# The alert state's first save fails (EIO on its rename), the next one
# works: the state on disk is whole, so no error is left over (exit 1,
# the rollback's own, not 74) and a re-run sends no alert again.
test_expect_success 'an alert state saved after a failed save: no error left, no alert again' '
	rm -f alerts2.ready &&
	{ "$TEST_DIRECTORY/helpers/alert-receiver" --port 0 --port-file alerts2.port \
		--out "$TRASH/alerts2.jsonl" --ready-file alerts2.ready & reg_track_ $!; } &&
	n=0 && until test -e alerts2.ready || test $n -ge 300; do sleep 0.1; n=$((n + 1)); done &&
	p=$(cat alerts2.port) &&
	cc -shared -fPIC -o failsys.so "$TEST_DIRECTORY/helpers/failsys.c" -ldl &&
	pipeline-doc --version 1.1 --canary failed --run-id r2 >failed2.json &&
	mkdir -p st2/rollback &&
	test_expect_code 1 env CI_STATE_DIR=$TRASH/st2 LD_PRELOAD=$TRASH/failsys.so \
		FAIL_RENAME_TO=$TRASH/st2/rollback/shop.json FAIL_RENAME_ONCE=1 \
		ci-rollback --slack-webhook http://127.0.0.1:$p/a/slack \
		--webhook http://127.0.0.1:$p/a/hook --alert-attempts 1 <failed2.json >rb2.json 2>rb2.err &&
	test_grep "a re-run may alert again" rb2.err &&
	test_grep "the alert state is saved after all" rb2.err &&
	test $(wc -l <alerts2.jsonl) = 2 &&
	test_expect_code 1 env CI_STATE_DIR=$TRASH/st2 ci-rollback \
		--slack-webhook http://127.0.0.1:$p/a/slack \
		--webhook http://127.0.0.1:$p/a/hook --alert-attempts 1 <failed2.json >rb3.json 2>rb3.err &&
	test $(wc -l <alerts2.jsonl) = 2
'

test_done
