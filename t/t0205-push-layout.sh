#!/bin/sh
test_description='ci-push refuses corrupt layouts: the structure before any request, a lying layer before it is complete in the registry'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/registry-lib.sh"

# Nothing listens on this port: a push that got as far as the network
# would exit 69, so 65 proves the layout was refused first.
dead=127.0.0.1:$(test_free_port)

test_expect_success REGISTRY,UMOCI 'setup: a registry behind a logging proxy, an image to break in several ways' '
	start_registry reg &&
	echo "[]" >rules.json &&
	start_proxy proxy $(cat reg/port) rules.json &&
	make_image good v1 5000 6000 &&
	config=$(python3 -c "import json; m = json.load(open(\"good/blobs/sha256/\" + \"$(layout_digest good v1)\"[7:])); print(m[\"config\"][\"digest\"][7:])") &&
	layer=$(python3 -c "import json; m = json.load(open(\"good/blobs/sha256/\" + \"$(layout_digest good v1)\"[7:])); print(m[\"layers\"][-1][\"digest\"][7:])") &&
	echo "$layer" >layer.hex && echo "$config" >config.hex
'

# broken NAME: a fresh copy of the good layout to break
broken() {
	rm -rf "$1" && cp -r good "$1"
}

# refused NAME MESSAGE HEX [OPTION...]: pushing layout NAME exits 65
# naming the problem, the registry holds no blob sha256:HEX and no
# manifest for NAME:v1, and it never answered an upload of that blob as
# complete (201) -- the other blobs may well have gone up
refused() {
	n=$1 msg=$2 hex=$3 && shift 3 &&
	{ ci-push --new --no-blob-cache "$@" --layout $n 127.0.0.1:$(cat proxy/port)/$n:v1 >$n.json 2>$n.err; rc=$?; } &&
	test $rc = 65 &&
	test_grep "$msg" $n.err &&
	test_grep "layout .$n." $n.err &&
	test_json $n.json "d[\"push\"][\"status\"] == \"failed\"" &&
	test_expect_code 1 reg_has_blob $(cat reg/port) $n sha256:$hex &&
	! reg_has_manifest $(cat reg/port) $n v1 &&
	! reg_requests reg | grep "^PUT /v2/$n/blobs/uploads/.*digest=sha256%3A$hex 201"
}

# refused_early NAME MESSAGE: refused before any request at all
refused_early() {
	{ ci-push --new --layout "$1" $dead/app:v1 >"$1.json" 2>"$1.err"; rc=$?; } &&
	test $rc = 65 &&
	test_grep "$2" "$1.err" &&
	test_json "$1.json" "d[\"push\"][\"status\"] == \"failed\""
}

test_expect_success UMOCI 'a missing layer blob: refused before any request' '
	broken missing && rm missing/blobs/sha256/$(cat layer.hex) &&
	refused_early missing "blob sha256:$(cat layer.hex) (layers\[1\]) is missing"
'

test_expect_success UMOCI 'a layer of the wrong size: refused before any request' '
	broken short &&
	f=short/blobs/sha256/$(cat layer.hex) &&
	chmod u+w $f && head -c 10 $f >$f.new && mv $f.new $f &&
	refused_early short "size mismatch for sha256:$(cat layer.hex)"
'

test_expect_success UMOCI 'a config that does not match its digest: refused before any request' '
	broken badconfig &&
	f=badconfig/blobs/sha256/$(cat config.hex) &&
	chmod u+w $f &&
	python3 -c "import sys; p = sys.argv[1]; b = bytearray(open(p, \"rb\").read()); b[5] ^= 1; open(p, \"wb\").write(b)" $f &&
	refused_early badconfig "digest mismatch for sha256:$(cat config.hex)"
'

test_expect_success UMOCI 'index.json that is not JSON' '
	broken badindex && chmod u+w badindex/index.json && echo "{\"schemaVersion\": 2, " >badindex/index.json &&
	refused_early badindex "index.json"
'

test_expect_success UMOCI 'no oci-layout file' '
	broken nolayout && rm nolayout/oci-layout &&
	refused_early nolayout "oci-layout"
'

test_expect_success 'a directory that is no layout at all' '
	mkdir -p empty &&
	refused_early empty "empty"
'

test_expect_success UMOCI 'a manifest listed in index.json but missing' '
	broken nomanifest && rm nomanifest/blobs/sha256/$(layout_digest good v1 | cut -c8-) &&
	refused_early nomanifest "missing"
'

# flip FILE OFFSET: one bit of FILE changed, its size kept
flip() {
	chmod u+w "$1" &&
	python3 -c "import sys; p = sys.argv[1]; b = bytearray(open(p, \"rb\").read()); b[int(sys.argv[2])] ^= 1; open(p, \"wb\").write(b)" "$1" "$2"
}

test_expect_success REGISTRY,UMOCI 'a layer whose content does not match its digest: its upload never completes, no manifest' '
	broken mismatch &&
	flip mismatch/blobs/sha256/$(cat layer.hex) 100 &&
	refused mismatch "digest mismatch for sha256:$(cat layer.hex)" $(cat layer.hex) &&
	# the PUT that carried it was cut short: the registry saw a body
	# shorter than its Content-Length
	grep "\"PUT\".*sha256%3A$(cat layer.hex)" proxy/requests.log
'

test_expect_success REGISTRY,UMOCI '... in chunks: the first go up, the last PATCH and the closing PUT never do' '
	make_image big v1 2500000 &&
	big=$(python3 -c "import json; m = json.load(open(\"big/blobs/sha256/\" + \"$(layout_digest big v1)\"[7:])); print(m[\"layers\"][-1][\"digest\"][7:])") &&
	rm -rf chunked && cp -r big chunked &&
	flip chunked/blobs/sha256/$big 2300000 &&
	: >proxy/requests.log &&
	refused chunked "digest mismatch for sha256:$big" $big --chunk-size 1M &&
	test $(grep -c "\"PATCH\"" proxy/requests.log) = 3 &&
	reg_requests reg | grep -c "^PATCH /v2/chunked/blobs/uploads/.* 202" >patches &&
	test $(cat patches) = 2 &&
	! grep "\"PUT\".*sha256%3A$big" proxy/requests.log &&
	# the same image, whole, goes up
	ci-push --new -q --no-blob-cache --chunk-size 1M --layout big 127.0.0.1:$(cat proxy/port)/chunked:v1 >/dev/null &&
	reg_has_blob $(cat reg/port) chunked sha256:$big &&
	reg_has_manifest $(cat reg/port) chunked v1
'

test_expect_success REGISTRY,UMOCI '... even when other blobs of the image are already in the registry' '
	ci-push --new -q --layout good 127.0.0.1:$(cat proxy/port)/mismatch:v0 >/dev/null &&
	broken mismatch2 &&
	python3 - <<-\EOF &&
	import hashlib, json, os
	# a new image: the good one plus a corrupt extra layer
	idx = json.load(open("mismatch2/index.json"))
	md = idx["manifests"][0]["digest"][7:]
	m = json.load(open("mismatch2/blobs/sha256/" + md))
	data = os.urandom(4000)
	d = hashlib.sha256(data).hexdigest()
	open("mismatch2/blobs/sha256/" + d, "wb").write(data[:-1] + b"x")
	open("extra.hex", "w").write(d + "\n")
	m["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
	                    "digest": "sha256:" + d, "size": len(data)})
	body = json.dumps(m).encode()
	nd = hashlib.sha256(body).hexdigest()
	open("mismatch2/blobs/sha256/" + nd, "wb").write(body)
	idx["manifests"][0].update(digest="sha256:" + nd, size=len(body))
	json.dump(idx, open("mismatch2/index.json", "w"))
	EOF
	: >proxy/requests.log &&
	{ ci-push --new --layout mismatch2 127.0.0.1:$(cat proxy/port)/mismatch:v2 >/dev/null 2>m2.err; rc=$?; } &&
	test $rc = 65 &&
	test_grep "digest mismatch" m2.err &&
	! reg_has_manifest $(cat reg/port) mismatch v2 &&
	test_expect_code 1 reg_has_blob $(cat reg/port) mismatch sha256:$(cat extra.hex) &&
	# the blobs there are not uploaded again: one upload, cut short
	test $(grep -c "\"POST\"" proxy/requests.log) = 1 &&
	test $(grep -c "\"PUT\"" proxy/requests.log) = 1 &&
	grep "\"PUT\".*sha256%3A$(cat extra.hex)" proxy/requests.log
'

test_expect_success UMOCI '--manifest naming a tag the layout does not have' '
	{ ci-push --new --layout good --manifest nope $dead/app:v1 >/dev/null 2>nope.err; rc=$?; } &&
	test $rc = 65 &&
	test_grep "no tag .nope. in .good. (tags: .v1.)" nope.err
'

test_expect_success UMOCI 'two images and no --manifest: name one' '
	broken two && umoci new --image two:v2 &&
	{ ci-push --new --layout two $dead/app:v1 >/dev/null 2>two.err; rc=$?; } &&
	test $rc = 65 &&
	test_grep "holds 2 manifests" two.err
'

test_expect_success UMOCI 'a good layout gets as far as the network (and the dead port says so)' '
	{ ci-push --new --retries 1 --layout good $dead/app:v1 >/dev/null 2>dead.err; rc=$?; } &&
	test $rc = 69 &&
	test_grep "Could not connect\|Failed to connect\|Connection refused" dead.err
'

test_done
