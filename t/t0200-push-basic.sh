#!/bin/sh
test_description='ci-push pushes OCI layouts to a real registry (docker-registry)'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/registry-lib.sh"

test_expect_success REGISTRY,UMOCI 'setup: a registry and a multi-layer image' '
	start_registry reg &&
	make_image img v1 3000000 1000 20000 &&
	test_json img/index.json "len(d[\"manifests\"]) == 1"
'
port=$(cat reg/port 2>/dev/null)
reg=127.0.0.1:$port

test_expect_success REGISTRY,UMOCI 'push --layout DIR REF: a new document with the push section' '
	ci-push --new --layout img $reg/app:v1 >out.json 2>err &&
	digest=$(layout_digest img v1) &&
	test_json out.json "d[\"push\"][\"status\"] == \"passed\"" &&
	test_json out.json "d[\"push\"][\"registry\"] == \"$reg\" and d[\"push\"][\"repository\"] == \"app\"" &&
	test_json out.json "d[\"push\"][\"digest\"] == \"$digest\"" &&
	test_json out.json "d[\"push\"][\"reference\"] == \"$reg/app@$digest\"" &&
	test_json out.json "d[\"push\"][\"tags\"] == [\"$reg/app:v1\"]" &&
	test_json out.json "d[\"push\"][\"blobs\"] == {\"uploaded\": 4, \"skipped\": 0, \"mounted\": 0}" &&
	test_json out.json "d[\"push\"][\"bytes_sent\"] > 3000000" &&
	test_json out.json "isinstance(d[\"push\"][\"duration_ms\"], int)" &&
	test_json out.json "[s[\"name\"] for s in d[\"stages\"]] == [\"push\"]" &&
	test_grep "pushed $reg/app@$digest" err
'

test_expect_success REGISTRY,SKOPEO 'skopeo sees the same manifest digest' '
	test "$(skopeo_digest $reg/app:v1)" = "$(layout_digest img v1)"
'

test_expect_success REGISTRY,SKOPEO 'skopeo copy of what we pushed round-trips' '
	skopeo copy --insecure-policy --src-tls-verify=false docker://$reg/app:v1 oci:copy:v1 >/dev/null &&
	test "$(layout_digest copy v1)" = "$(layout_digest img v1)" &&
	test $(ls copy/blobs/sha256 | wc -l) = 5 &&
	for b in copy/blobs/sha256/*; do
		cmp "$b" "img/blobs/sha256/${b##*/}" || return 1
	done
'

test_expect_success REGISTRY 'a second push uploads nothing: every blob skipped' '
	ci-push --new -q --layout img $reg/app:v1 >again.json 2>err &&
	test_json again.json "d[\"push\"][\"blobs\"] == {\"uploaded\": 0, \"skipped\": 4, \"mounted\": 0}" &&
	test_json again.json "d[\"push\"][\"bytes_sent\"] == 0" &&
	! test -s err
'

# cache_names REPO: the blob-location cache says every blob is in REPO
# of the registry (stale: no such repository holds them)
cache_names() {
	python3 - "127.0.0.1:$port/$1" <<-\EOF
	import json, sys
	p = ".cache/ci-tools/blob-locations.json"
	c = json.load(open(p))
	for k in c:
	    c[k] = [sys.argv[1]]
	json.dump(c, open(p, "w"))
	EOF
}

test_expect_success REGISTRY 'another repository of the registry: blobs are mounted (blob-location cache), with no HEAD first' '
	test -s .cache/ci-tools/blob-locations.json &&
	reg_requests reg | wc -l >mark &&
	ci-push --new -q --layout img $reg/team/other:v1 >mount.json &&
	test_json mount.json "d[\"push\"][\"blobs\"] == {\"uploaded\": 0, \"skipped\": 0, \"mounted\": 4}" &&
	reg_has_manifest $port team/other v1 &&
	reg_requests reg | tail -n +$(($(cat mark) + 1)) >requests &&
	test $(grep -c "^POST /v2/team/other/blobs/uploads/?mount=sha256:[0-9a-f]*&from=app 201$" requests) = 4 &&
	! grep "^HEAD /v2/team/other/blobs/" requests
'

test_expect_success REGISTRY 'a mount refused: the HEAD then, and a blob the repository holds is not sent' '
	# team/other holds every blob; the mounts name a repository that
	# does not exist, which the registry refuses
	cache_names no/such &&
	reg_requests reg | wc -l >mark &&
	ci-push --new -q --layout img $reg/team/other:v2 >refused.json &&
	reg_requests reg | tail -n +$(($(cat mark) + 1)) >requests &&
	test_json refused.json "d[\"push\"][\"blobs\"] == {\"uploaded\": 0, \"skipped\": 4, \"mounted\": 0}" &&
	test $(grep -c "^POST /v2/team/other/blobs/uploads/?mount=.*&from=no/such 202$" requests) = 4 &&
	test $(grep -c "^HEAD /v2/team/other/blobs/sha256:[0-9a-f]* 200$" requests) = 4 &&
	! grep "^PUT /v2/team/other/blobs/" requests &&
	reg_has_manifest $port team/other v2
'

test_expect_success REGISTRY 'the cache goes under XDG_CACHE_HOME when it is set' '
	XDG_CACHE_HOME=$PWD/xdg ci-push --new -q --no-blob-cache --layout img $reg/xdg1:v1 >/dev/null &&
	! test -e xdg &&
	XDG_CACHE_HOME=$PWD/xdg ci-push --new -q --layout img $reg/xdg2:v1 >/dev/null &&
	test_json xdg/ci-tools/blob-locations.json "all(\"$reg/xdg2\" in v for v in d.values())"
'

test_expect_success REGISTRY 'without the cache, blobs are uploaded again' '
	ci-push --new -q --no-blob-cache --layout img $reg/third:v1 >nocache.json &&
	test_json nocache.json "d[\"push\"][\"blobs\"][\"uploaded\"] == 4"
'

test_expect_success REGISTRY 'a stale cache entry costs a failed mount, never a failed push' '
	cache_names gone/away &&
	ci-push --new -q --layout img $reg/fourth:v1 >stale.json &&
	test_json stale.json "d[\"push\"][\"blobs\"] == {\"uploaded\": 4, \"skipped\": 0, \"mounted\": 0}" &&
	reg_has_manifest $port fourth v1
'

test_expect_success REGISTRY 'several references: two repositories, several tags, the second mounts' '
	ci-push --new -q --no-blob-cache --layout img $reg/multi/a:v1 $reg/multi/a:latest $reg/multi/b:v1 >multi.json &&
	test_json multi.json "d[\"push\"][\"tags\"] == [\"$reg/multi/a:v1\", \"$reg/multi/a:latest\", \"$reg/multi/b:v1\"]" &&
	test_json multi.json "len(d[\"push\"][\"references\"]) == 2" &&
	test_json multi.json "d[\"push\"][\"blobs\"] == {\"uploaded\": 4, \"skipped\": 0, \"mounted\": 4}" &&
	reg_has_manifest $port multi/a latest && reg_has_manifest $port multi/b v1
'

test_expect_success REGISTRY 'the build section of the document says what to push; -t adds tags' '
	digest=$(layout_digest img v1) &&
	cat >doc.json <<-EOF &&
	{"ci":1,"run":{"id":"r1"},"status":"running","stages":[{"name":"build","status":"passed"}],"build":{"status":"passed","image":{"layout":"img","digest":"$digest","tags":["$reg/fromdoc:v2"]}},"mine":{"keep":true}}
	EOF
	ci-push -q -t stable -t $reg/elsewhere:x <doc.json >piped.json &&
	test_json piped.json "d[\"push\"][\"tags\"] == [\"$reg/fromdoc:v2\", \"$reg/fromdoc:stable\", \"$reg/elsewhere:x\"]" &&
	test_json piped.json "list(d)[-2:] == [\"mine\", \"push\"] and d[\"mine\"] == {\"keep\": True}" &&
	test_json piped.json "[s[\"name\"] for s in d[\"stages\"]] == [\"build\", \"push\"]" &&
	reg_has_manifest $port fromdoc stable && reg_has_manifest $port elsewhere x
'

test_expect_success REGISTRY 'a push by digest only: a REF without a tag' '
	ci-push --new -q --layout img $reg/bydigest >bd.json &&
	test_json bd.json "d[\"push\"][\"tags\"] == []" &&
	reg_has_manifest $port bydigest $(layout_digest img v1)
'

test_expect_success 'empty stdin from a pipe: exit 65, nothing written' '
	: | test_expect_code 65 ci-push --layout img $reg/app:v1 >out 2>err
'

test_expect_success 'empty stdin ... with a message that says what to do' '
	test_grep "no pipeline document on stdin (did the previous stage fail? use --new to start one)" err &&
	! test -s out
'

test_expect_success 'an upstream failure skips the push and exits 1' '
	echo "{\"ci\":1,\"run\":{\"id\":\"x\"},\"status\":\"failed\",\"stages\":[{\"name\":\"build\",\"status\":\"failed\"}],\"build\":{\"status\":\"failed\"}}" |
	test_expect_code 1 ci-push --layout img $reg/never:v1 >skip.json 2>err
'

test_expect_success REGISTRY '... writing a skipped section, pushing nothing' '
	test_json skip.json "d[\"push\"][\"status\"] == \"skipped\" and d[\"push\"][\"failed_stage\"] == \"build\"" &&
	! reg_has_manifest $port never v1
'

test_expect_success 'no image: the document has no build section and no --layout' '
	echo "{\"ci\":1,\"run\":{\"id\":\"x\"},\"status\":\"running\",\"stages\":[]}" |
	test_expect_code 2 ci-push $reg/x:v1 >noimg.json 2>err
'

test_expect_success '... a usage error leaves the document alone: nothing on stdout' '
	! test -s noimg.json &&
	test_grep "no image to push" err &&
	test_grep "give --layout DIR" err
'

test_expect_success 'bad references are refused' '
	test_expect_code 2 ci-push --new --layout img "$reg/App:v1" >/dev/null 2>err
'
test_expect_success '... with a message naming the reference' '
	test_grep "invalid reference .*App:v1.*lowercase" err
'

test_expect_success 'a tag -t that is not a tag' '
	test_expect_code 2 ci-push --new --layout img -t "-bad" $reg/x:v1 >/dev/null 2>err
'

test_expect_success 'a push target with a digest is refused' '
	test_expect_code 2 ci-push --new --layout img "$reg/x@sha256:0000000000000000000000000000000000000000000000000000000000000000" >/dev/null 2>err &&
	test_grep "names a tag, not a digest" err
'

test_expect_success 'usage and version' '
	ci-push -h >usage &&
	test_grep "usage: ci-push" usage &&
	test_grep "insecure-registry" usage &&
	ci-push --version | grep -q "^ci-push [0-9]" &&
	{ ci-push --bogus >/dev/null 2>&1; rc=$?; } &&
	test $rc = 2
'

test_expect_success REGISTRY 'no progress with -q' '
	ci-push --new -q --layout img $reg/quiet:v1 >/dev/null 2>qerr &&
	! test -s qerr
'

test_tool_prereq SCRIPT bsdutils command -v script
test_expect_success REGISTRY,SCRIPT 'a progress bar on a terminal' '
	TERM=xterm script -qec "ci-push --new --no-blob-cache --layout img $reg/tty:v1 >tty.json" typescript >/dev/null &&
	test_grep "push \[.*\] .* / .*blobs" typescript &&
	test_json tty.json "d[\"push\"][\"status\"] == \"passed\""
'

test_done
