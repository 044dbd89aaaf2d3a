#!/bin/sh
test_description='the registry client pulls (ci-build FROM), resolves and retags (ci-rollback), and pushes indexes'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/registry-lib.sh"

RT=$SRC_ROOT/t/unit/registry.t

test_expect_success REGISTRY,UMOCI,SKOPEO 'setup: a registry, an image pushed there by skopeo' '
	start_registry reg &&
	make_image img v1 200000 3000 &&
	skopeo copy --insecure-policy --dest-tls-verify=false oci:img:v1 \
		docker://127.0.0.1:$(cat reg/port)/app:v1 >/dev/null
'
port=$(cat reg/port 2>/dev/null)
reg=127.0.0.1:$port

test_expect_success REGISTRY,SKOPEO 'our pull of an image skopeo pushed gives the same digests' '
	"$RT" pull $reg/app:v1 pulled "" v1 >pull.out 2>pull.err &&
	test "$(cut -d" " -f1 pull.out)" = "$(layout_digest img v1)" &&
	test "$(layout_digest pulled v1)" = "$(layout_digest img v1)" &&
	for b in pulled/blobs/sha256/*; do
		cmp "$b" "img/blobs/sha256/${b##*/}" || return 1
	done &&
	test $(ls pulled/blobs/sha256 | wc -l) = 4
'

test_expect_success REGISTRY,SKOPEO,UMOCI 'what we pulled is a layout other tools read' '
	skopeo inspect --raw oci:pulled:v1 | sha256sum >a &&
	skopeo inspect --raw --tls-verify=false docker://$reg/app:v1 | sha256sum >b &&
	test_cmp a b &&
	umoci stat --image pulled:v1 >/dev/null
'

test_expect_success REGISTRY,SKOPEO 'a layout written by our own layout code (the pull) pushes back identically' '
	ci-push --new -q --layout pulled --manifest v1 $reg/roundtrip:v1 >rt.json &&
	test_json rt.json "d[\"push\"][\"digest\"] == \"$(layout_digest img v1)\"" &&
	test_json rt.json "d[\"push\"][\"blobs\"][\"mounted\"] == 3" &&
	test "$(skopeo_digest $reg/roundtrip:v1)" = "$(layout_digest img v1)"
'

test_expect_success REGISTRY 'pulling again fetches no blob that is already there' '
	before=$(grep -c "GET /v2/app/blobs/" reg/log) &&
	"$RT" pull $reg/app:v1 pulled >/dev/null &&
	test $(grep -c "GET /v2/app/blobs/" reg/log) = $before
'

test_expect_success REGISTRY 'a damaged blob in the layout is fetched again' '
	l=$(ls -S pulled/blobs/sha256 | head -1) &&
	chmod u+w pulled/blobs/sha256/$l && echo x >>pulled/blobs/sha256/$l &&
	"$RT" pull $reg/app:v1 pulled >/dev/null &&
	cmp pulled/blobs/sha256/$l img/blobs/sha256/$l
'

test_expect_success REGISTRY 'pull by digest' '
	d=$(layout_digest img v1) &&
	"$RT" pull $reg/app@$d bydigest >out &&
	test "$(cut -d" " -f1 out)" = "$d"
'

test_expect_success REGISTRY 'a tag the registry does not have: exit 2, naming it' '
	{ "$RT" pull $reg/app:nope x >/dev/null 2>nope.err; rc=$?; } &&
	test $rc = 2 &&
	test_grep "$reg/app:nope. not found" nope.err
'

test_expect_success REGISTRY,SKOPEO 'a Docker schema 2 image pulls too' '
	skopeo copy --insecure-policy --dest-tls-verify=false --format v2s2 oci:img:v1 \
		docker://$reg/docker:v1 >/dev/null &&
	"$RT" pull $reg/docker:v1 dk >out &&
	test_grep "application/vnd.docker.distribution.manifest.v2+json" out
'

test_expect_success REGISTRY 'resolve and retag (ci-rollback moves "stable")' '
	"$RT" resolve $reg/app:v1 >res &&
	test "$(cut -d" " -f1 res)" = "$(layout_digest img v1)" &&
	"$RT" tag $reg/app:v1 stable >tagged &&
	test "$(cat tagged)" = "$(layout_digest img v1)" &&
	"$RT" resolve $reg/app:stable >res2 &&
	test_cmp res res2
'

test_expect_success REGISTRY,UMOCI 'setup: a multi-platform index in a layout' '
	make_image multi amd 7000 &&
	make_image multi arm 8000 &&
	python3 - <<-\EOF
	import hashlib, json, os
	idx = json.load(open("multi/index.json"))
	ms = {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in idx["manifests"]}
	plat = {"amd": {"os": "linux", "architecture": "amd64"},
	        "arm": {"os": "linux", "architecture": "arm64", "variant": "v8"}}
	entries = []
	for name in ("amd", "arm"):
	    m = dict(ms[name]); m.pop("annotations"); m["platform"] = plat[name]; entries.append(m)
	body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
	                   "manifests": entries}).encode()
	d = hashlib.sha256(body).hexdigest()
	open("multi/blobs/sha256/" + d, "wb").write(body)
	idx["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json",
	                         "digest": "sha256:" + d, "size": len(body),
	                         "annotations": {"org.opencontainers.image.ref.name": "all"}})
	json.dump(idx, open("multi/index.json", "w"))
	EOF
'

test_expect_success REGISTRY,UMOCI 'ci-push pushes an index: its manifests by digest, then the index' '
	ci-push --new -q --layout multi --manifest all $reg/multi:all >idx.json &&
	test_json idx.json "d[\"push\"][\"digest\"] == \"$(layout_digest multi all)\"" &&
	test_json idx.json "d[\"push\"][\"blobs\"][\"uploaded\"] == 4" &&
	reg_has_manifest $port multi $(layout_digest multi amd) &&
	reg_has_manifest $port multi $(layout_digest multi arm)
'

test_expect_success REGISTRY,SKOPEO 'skopeo sees the index digest' '
	test "$(skopeo_digest $reg/multi:all)" = "$(layout_digest multi all)"
'

test_expect_success REGISTRY 'pull of an index picks the platform: linux/amd64 by default' '
	"$RT" pull $reg/multi:all m1 >out &&
	test "$(cut -d" " -f1 out)" = "$(layout_digest multi amd)" &&
	test "$(cut -d" " -f5 out)" = "$(layout_digest multi all)"
'

test_expect_success REGISTRY 'pull of an index: linux/arm64 and linux/arm64/v8' '
	"$RT" pull $reg/multi:all m2 linux/arm64 >out &&
	test "$(cut -d" " -f1 out)" = "$(layout_digest multi arm)" &&
	"$RT" pull $reg/multi:all m3 linux/arm64/v8 >out &&
	test "$(cut -d" " -f1 out)" = "$(layout_digest multi arm)"
'

test_expect_success REGISTRY 'a platform the index lacks: exit 2, listing what it has' '
	{ "$RT" pull $reg/multi:all m4 linux/s390x >/dev/null 2>plat.err; rc=$?; } &&
	test $rc = 2 &&
	test_grep "has no image for platform linux/s390x (it has: linux/amd64, linux/arm64/v8)" plat.err
'

test_done
