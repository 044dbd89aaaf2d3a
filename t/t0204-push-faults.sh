#!/bin/sh
test_description='ci-push through a fault-injecting proxy: retries, Retry-After, resets, resumed uploads, chunks'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/registry-lib.sh"

# rules JSON: the proxy reads the file again for every request.
rules() {
	echo "$1" >rules.json
	: >proxy/requests.log
}

# injected ACTION: how many requests the proxy handled that way.
injected() {
	grep -c "\"action\": \"$1\"" proxy/requests.log
}

test_expect_success REGISTRY,UMOCI 'setup: registry, proxy in front, images' '
	start_registry reg &&
	echo "[]" >rules.json &&
	start_proxy proxy $(cat reg/port) rules.json &&
	make_image img v1 3000000 2000 &&
	make_image img2 v1 1500000
'
rport=$(cat reg/port 2>/dev/null)
port=$(cat proxy/port 2>/dev/null)
reg=127.0.0.1:$port
PUSH="ci-push --new -q --no-blob-cache --retries 4 --retry-time 20s"

test_expect_success REGISTRY 'through the proxy with no fault: a plain push' '
	rules "[]" &&
	$PUSH --layout img $reg/plain:v1 >out.json &&
	test_json out.json "d[\"push\"][\"blobs\"][\"uploaded\"] == 3"
'

test_expect_success REGISTRY '503 with Retry-After, twice, on starting uploads: the push completes' '
	rules "[{\"method\": \"POST\", \"path\": \"/blobs/uploads/\", \"action\": \"status\", \"status\": 503, \"retry_after\": \"1\", \"times\": 2}]" &&
	$PUSH --layout img $reg/ra:v1 >out.json &&
	test $(injected status) = 2 &&
	test_json out.json "d[\"push\"][\"status\"] == \"passed\"" &&
	reg_has_manifest $rport ra v1
'

test_expect_success REGISTRY '503 without Retry-After on the manifest: retried' '
	rules "[{\"method\": \"PUT\", \"path\": \"/manifests/\", \"action\": \"status\", \"status\": 503, \"times\": 2}]" &&
	$PUSH --layout img $reg/mf:v1 >out.json &&
	test $(injected status) = 2 &&
	reg_has_manifest $rport mf v1
'

test_expect_success REGISTRY '429 on HEAD requests: retried' '
	rules "[{\"method\": \"HEAD\", \"action\": \"status\", \"status\": 429, \"times\": 3}]" &&
	$PUSH --layout img $reg/tmr:v1 >out.json &&
	test $(injected status) = 3 &&
	reg_has_manifest $rport tmr v1
'

test_expect_success REGISTRY 'connection resets: retried' '
	rules "[{\"method\": \"HEAD\", \"action\": \"reset\", \"times\": 2}, {\"method\": \"PUT\", \"path\": \"/manifests/\", \"action\": \"reset\", \"times\": 1}]" &&
	$PUSH --layout img $reg/rst:v1 >out.json &&
	test $(injected reset) = 3 &&
	reg_has_manifest $rport rst v1
'

test_expect_success REGISTRY,SKOPEO 'a monolithic upload stopped midway: the push completes and the blob is intact' '
	rules "[{\"method\": \"PUT\", \"path\": \"/blobs/uploads/.*digest=\", \"action\": \"cut\", \"bytes\": 1000000, \"times\": 1}]" &&
	$PUSH --layout img $reg/cut:v1 >out.json &&
	test $(injected cut) = 1 &&
	reg_has_manifest $rport cut v1 &&
	skopeo copy --insecure-policy --src-tls-verify=false docker://127.0.0.1:$rport/cut:v1 oci:cutcopy:v1 >/dev/null &&
	test "$(layout_digest cutcopy v1)" = "$(layout_digest img v1)"
'

test_expect_success REGISTRY 'a chunk refused with 503: the upload resumes at the offset the registry reports' '
	rules "[{\"method\": \"PATCH\", \"action\": \"status\", \"status\": 503, \"after\": 1, \"times\": 1}]" &&
	$PUSH --chunk-size 1M --layout img $reg/resume:v1 >out.json &&
	test $(injected status) = 1 &&
	reg_has_manifest $rport resume v1 &&
	python3 - <<-\EOF
	import json
	log = [json.loads(l) for l in open("proxy/requests.log")]
	uploaded = json.load(open("out.json"))["push"]["blobs"]["uploaded"]
	i = next(i for i, r in enumerate(log) if r["action"] == "status")
	# The other blobs go up at the same time: follow the refused session.
	session = log[i]["path"].split("?")[0]
	after = [r for r in log[i + 1:] if r["path"].split("?")[0] == session]
	# asks where the session stands, then goes on from there: no new POST
	assert after[0]["method"] == "GET", after
	assert after[1]["method"] == "PATCH" and after[1]["content_range"] == "1048576-2097151", after
	assert sum(r["method"] == "POST" for r in log) == uploaded, (uploaded, log)
	EOF
'

test_expect_success REGISTRY 'a chunked upload stopped midway: the registry drops the session, the push restarts it cleanly' '
	rules "[{\"method\": \"PATCH\", \"action\": \"cut\", \"bytes\": 300000, \"after\": 1, \"times\": 1}]" &&
	$PUSH --chunk-size 1M --layout img $reg/restart:v1 >out.json &&
	test $(injected cut) = 1 &&
	reg_has_manifest $rport restart v1 &&
	"$SRC_ROOT/t/unit/registry.t" pull 127.0.0.1:$rport/restart:v1 restarted >pull.out &&
	test "$(cut -d" " -f1 pull.out)" = "$(layout_digest img v1)"
'

test_expect_success REGISTRY 'chunks: blobs over --chunk-size go up in PATCHes with Content-Range' '
	rules "[]" &&
	$PUSH --chunk-size 1M --layout img $reg/chunks:v1 >out.json &&
	python3 - <<-\EOF
	import json
	log = [json.loads(l) for l in open("proxy/requests.log")]
	p = [r for r in log if r["method"] == "PATCH"]
	ranges = [r["content_range"] for r in p]
	assert ranges[:2] == ["0-1048575", "1048576-2097151"], p
	assert len(ranges) == 3 and ranges[2].startswith("2097152-"), p
	puts = [r for r in log if r["method"] == "PUT" and "digest=" in r["path"]]
	assert any(r["content_length"] == "0" for r in puts), puts
	EOF
'

test_expect_success REGISTRY 'OCI-Chunk-Min-Length: chunks are at least that long' '
	rules "[{\"method\": \"POST\", \"path\": \"/blobs/uploads/\", \"action\": \"header\", \"name\": \"OCI-Chunk-Min-Length\", \"value\": 2000000}]" &&
	$PUSH --chunk-size 1M --layout img $reg/minlen:v1 >out.json &&
	reg_has_manifest $rport minlen v1 &&
	python3 - <<-\EOF
	import json
	log = [json.loads(l) for l in open("proxy/requests.log")]
	p = [int(r["content_length"]) for r in log if r["method"] == "PATCH"]
	assert p and all(n >= 2000000 for n in p[:-1]), p
	EOF
'

test_expect_success REGISTRY 'persistent 503: exit 69 after the retries, and no manifest in the registry' '
	rules "[{\"method\": \"POST\", \"path\": \"/blobs/uploads/\", \"action\": \"status\", \"status\": 503}]" &&
	{ ci-push --new --no-blob-cache --retries 3 --retry-time 20s --layout img2 $reg/down:v1 >down.json 2>down.err; rc=$?; } &&
	test $rc = 69 &&
	test_grep "gave up after 3 attempts" down.err &&
	test_grep "answered HTTP 503" down.err &&
	test_json down.json "d[\"push\"][\"status\"] == \"failed\"" &&
	! reg_has_manifest $rport down v1
'

test_expect_success REGISTRY 'persistent resets mid-upload: exit 69, no manifest' '
	rules "[{\"method\": \"PUT\", \"path\": \"digest=\", \"action\": \"cut\", \"bytes\": 1000}]" &&
	{ ci-push --new --no-blob-cache --retries 3 --retry-time 20s --layout img2 $reg/cuts:v1 >/dev/null 2>cuts.err; rc=$?; } &&
	test $rc = 69 &&
	! reg_has_manifest $rport cuts v1
'

test_expect_success REGISTRY,UMOCI 'a large layer cut every time mid-upload: exit 69, its part-hashed digest let go (LeakSanitizer in make check)' '
	make_image img3 v1 12000000 &&
	rules "[{\"method\": \"PUT\", \"path\": \"digest=\", \"action\": \"cut\", \"bytes\": 1000}]" &&
	{ ci-push --new --no-blob-cache --retries 2 --retry-time 20s --layout img3 $reg/bigcuts:v1 >bigcuts.json 2>bigcuts.err; rc=$?; } &&
	test $rc = 69 &&
	test_json bigcuts.json "d[\"push\"][\"status\"] == \"failed\"" &&
	! reg_has_manifest $rport bigcuts v1
'

test_expect_success REGISTRY 'a Retry-After longer than the retry time: give up at once' '
	rules "[{\"method\": \"HEAD\", \"action\": \"status\", \"status\": 503, \"retry_after\": \"3600\"}]" &&
	{ ci-push --new --no-blob-cache --retry-time 5s --layout img2 $reg/late:v1 >/dev/null 2>late.err; rc=$?; } &&
	test $rc = 69 &&
	test $(injected status) -le 4
'

test_expect_success REGISTRY 'a wrong Docker-Content-Digest for a blob: refused, no manifest' '
	rules "[{\"method\": \"PUT\", \"path\": \"/blobs/uploads/\", \"action\": \"digest\"}]" &&
	{ $PUSH --layout img2 $reg/wrongdigest:v1 >/dev/null 2>wd.err; rc=$?; } &&
	test $rc = 69 &&
	test_grep "Docker-Content-Digest differs" wd.err &&
	! reg_has_manifest $rport wrongdigest v1
'

test_expect_success REGISTRY 'a wrong Docker-Content-Digest for the manifest: refused' '
	rules "[{\"method\": \"PUT\", \"path\": \"/manifests/\", \"action\": \"digest\"}]" &&
	{ $PUSH --layout img2 $reg/wrongmf:v1 >/dev/null 2>wm.err; rc=$?; } &&
	test $rc = 69 &&
	test_grep "stored the manifest .* as .sha256:0000" wm.err
'

test_expect_success REGISTRY 'a registry answering garbage JSON for a manifest: pull fails cleanly' '
	rules "[{\"method\": \"GET\", \"path\": \"/manifests/\", \"action\": \"garbage\"}]" &&
	{ "$SRC_ROOT/t/unit/registry.t" pull $reg/plain:v1 garbage >/dev/null 2>garbage.err; rc=$?; } &&
	test $rc = 69 &&
	test_grep "$reg/plain:v1" garbage.err
'

test_expect_success REGISTRY 'a manifest whose Docker-Content-Digest does not match its bytes: pull refuses it' '
	rules "[{\"method\": \"GET\", \"path\": \"/manifests/\", \"action\": \"digest\"}]" &&
	{ "$SRC_ROOT/t/unit/registry.t" pull $reg/plain:v1 wrong >/dev/null 2>wrong.err; rc=$?; } &&
	test $rc = 69 &&
	test_grep "Docker-Content-Digest" wrong.err
'

test_expect_success REGISTRY 'SIGTERM while waiting to retry: exit 75, nothing tagged, the document written' '
	rules "[{\"method\": \"HEAD\", \"action\": \"status\", \"status\": 503, \"retry_after\": \"30\"}]" &&
	{ ci-push --new --no-blob-cache --retry-time 120s --layout img2 $reg/term:v1 >term.json 2>term.err & } &&
	pid=$! &&
	n=0 && while test $(injected status) = 0 && test $n -lt 100; do sleep 0.1; n=$((n + 1)); done &&
	kill -TERM $pid &&
	{ wait $pid; rc=$?; } &&
	test $rc = 75 &&
	test_grep "interrupted" term.err &&
	test_json term.json "d[\"push\"][\"status\"] == \"failed\"" &&
	! reg_has_manifest $rport term v1
'

test_expect_success REGISTRY 'pull through transient faults: 503 and resets on blobs, retried' '
	rules "[{\"method\": \"GET\", \"path\": \"/blobs/\", \"action\": \"status\", \"status\": 503, \"times\": 2}, {\"method\": \"GET\", \"path\": \"/blobs/\", \"action\": \"reset\", \"times\": 1}]" &&
	"$SRC_ROOT/t/unit/registry.t" pull $reg/plain:v1 pulled >pull.out &&
	test "$(cut -d" " -f1 pull.out)" = "$(layout_digest img v1)" &&
	test $(injected status) = 2 && test $(injected reset) = 1
'

test_done
