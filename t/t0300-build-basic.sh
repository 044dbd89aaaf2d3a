#!/bin/sh
test_description='ci-build writes an OCI layout and the build section of the document'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/build-lib.sh"
# The context every test builds is a git repository.
test_require GIT

test_expect_success 'setup: a context in a git repository' '
	mkdir app && cd app &&
	git init -q && echo "console.log(1)" >index.js && mkdir -p src && echo s >src/a.js &&
	cat >Dockerfile <<-\EOF &&
	FROM scratch
	COPY index.js /app/
	COPY src /app/src/
	CMD ["/app/index.js"]
	EOF
	git add . && git commit -q -m init &&
	git rev-parse HEAD >../commit && git log -1 --format=%ct >../ctime
'

test_expect_success 'build: a layout, tags and the document' '
	(cd app && ci-build --new -t registry.example/app -t registry.example/app:stable \
		--version-tag 2.4.1 . >../doc.json 2>../err) &&
	short=$(cut -c1-7 commit) &&
	test -f app/ci-out/image/oci-layout &&
	test_json doc.json "d[\"build\"][\"status\"] == \"passed\"" &&
	test_json doc.json "d[\"stages\"][-1][\"name\"] == \"build\" and d[\"stages\"][-1][\"status\"] == \"passed\"" &&
	test_json doc.json "d[\"build\"][\"image\"][\"layout\"] == \"ci-out/image\"" &&
	test_json doc.json "d[\"build\"][\"image\"][\"tags\"] == [\"registry.example/app:v2.4.1-$short\", \"registry.example/app:stable\"]" &&
	test_json doc.json "d[\"build\"][\"image\"][\"source_date_epoch\"] == $(cat ctime)" &&
	test_json doc.json "len(d[\"build\"][\"image\"][\"layers\"]) == 2" &&
	test_json doc.json "all(set(l) == {\"digest\", \"diff_id\", \"size\"} for l in d[\"build\"][\"image\"][\"layers\"])" &&
	test_json doc.json "d[\"build\"][\"image\"][\"base\"] == {\"name\": \"scratch\"}" &&
	test_json doc.json "d[\"build\"][\"image\"][\"digest\"].startswith(\"sha256:\")" &&
	test_json doc.json "d[\"build\"][\"image\"][\"config_digest\"].startswith(\"sha256:\")" &&
	test_grep "built ci-out/image sha256:" err
'

test_expect_success 'the image size is the manifest, config and layers together' '
	python3 - app/ci-out/image doc.json <<-\PY
	import json, os, sys
	lay, d = sys.argv[1], json.load(open(sys.argv[2]))["build"]["image"]
	b = lambda x: os.path.getsize(lay + "/blobs/sha256/" + x[7:])
	m = json.load(open(lay + "/blobs/sha256/" + d["digest"][7:]))
	want = b(d["digest"]) + b(d["config_digest"]) + sum(b(l["digest"]) for l in m["layers"])
	assert d["size"] == want, (d["size"], want)
	assert [l["digest"] for l in m["layers"]] == [l["digest"] for l in d["layers"]]
	assert [l["size"] for l in m["layers"]] == [l["size"] for l in d["layers"]]
	PY
'

test_expect_success 'index.json: one descriptor per tag, named by the tag alone' '
	short=$(cut -c1-7 commit) &&
	test_json app/ci-out/image/index.json "sorted(m[\"annotations\"][\"org.opencontainers.image.ref.name\"] for m in d[\"manifests\"]) == sorted([\"v2.4.1-$short\", \"stable\"])" &&
	test_json app/ci-out/image/index.json "len(set(m[\"digest\"] for m in d[\"manifests\"])) == 1" &&
	test_json app/ci-out/image/index.json "d[\"manifests\"][0][\"digest\"] == \"$(img_digest doc.json)\""
'

test_expect_success 'the manifest annotations and labels say when, what and from where' '
	img_manifest app/ci-out/image stable >manifest.json &&
	img_config app/ci-out/image stable >config.json &&
	test_json manifest.json "d[\"annotations\"][\"org.opencontainers.image.revision\"] == \"$(cat commit)\"" &&
	test_json manifest.json "d[\"annotations\"][\"org.opencontainers.image.version\"] == \"2.4.1\"" &&
	test_json manifest.json "d[\"annotations\"][\"org.opencontainers.image.created\"] == __import__(\"time\").strftime(\"%Y-%m-%dT%H:%M:%SZ\", __import__(\"time\").gmtime($(cat ctime)))" &&
	test_json manifest.json "\"org.opencontainers.image.source\" not in d[\"annotations\"]" &&
	test_json config.json "d[\"config\"][\"Labels\"][\"org.opencontainers.image.revision\"] == \"$(cat commit)\"" &&
	test_json config.json "d[\"created\"] == d[\"config\"][\"Labels\"][\"org.opencontainers.image.created\"]" &&
	test_json manifest.json "d[\"mediaType\"] == \"application/vnd.oci.image.manifest.v1+json\"" &&
	test_json manifest.json "all(l[\"mediaType\"] == \"application/vnd.oci.image.layer.v1.tar+gzip\" for l in d[\"layers\"])"
'

test_expect_success SKOPEO 'skopeo inspect oci:DIR:TAG finds the image and its config' '
	skopeo inspect oci:app/ci-out/image:stable >inspect.json &&
	test_json inspect.json "d[\"Digest\"] == \"$(img_digest doc.json)\"" &&
	test_json inspect.json "d[\"Architecture\"] and d[\"Os\"] == \"linux\"" &&
	test_json inspect.json "len(d[\"Layers\"]) == 2" &&
	skopeo inspect --config oci:app/ci-out/image:stable >sconfig.json &&
	test_json sconfig.json "d[\"config\"][\"Cmd\"] == [\"/app/index.js\"]"
'

test_expect_success UMOCI 'umoci unpack gives the files' '
	short=$(cut -c1-7 commit) &&
	umoci unpack --rootless --image app/ci-out/image:v2.4.1-$short bundle >/dev/null &&
	test_cmp app/index.js bundle/rootfs/app/index.js &&
	test_cmp app/src/a.js bundle/rootfs/app/src/a.js
'

test_expect_success 'a tag with no name part and no version is latest' '
	(cd app && ci-build --new -q -t app -o ../plain . >../plain.json) &&
	test_json plain.json "d[\"build\"][\"image\"][\"tags\"] == [\"docker.io/library/app:latest\"]" &&
	test_json plain/index.json "[m[\"annotations\"][\"org.opencontainers.image.ref.name\"] for m in d[\"manifests\"]] == [\"latest\"]"
'

test_expect_success 'no tag at all: one untagged descriptor' '
	(cd app && ci-build --new -q -o ../untagged . >../untagged.json) &&
	test_json untagged.json "d[\"build\"][\"image\"][\"tags\"] == []" &&
	test_json untagged/index.json "len(d[\"manifests\"]) == 1 and \"annotations\" not in d[\"manifests\"][0]"
'

test_expect_success 'a document on stdin is extended, its keys kept' '
	echo "{\"ci\":1,\"run\":{\"id\":\"r1\",\"source\":{\"commit\":\"$(cat commit)\",\"version\":\"9.9\"}},\"status\":\"running\",\"stages\":[{\"name\":\"gate\",\"status\":\"passed\"}],\"gate\":{\"status\":\"passed\"},\"mine\":{\"n\":12345678901234567890}}" >in.json &&
	(cd app && ci-build -q -t reg/app -o ../piped . <../in.json >../piped.json) &&
	short=$(cut -c1-7 commit) &&
	test_json piped.json "list(d) == [\"ci\", \"run\", \"status\", \"stages\", \"gate\", \"mine\", \"build\"]" &&
	grep -q "\"n\":12345678901234567890" piped.json &&
	test_json piped.json "[s[\"name\"] for s in d[\"stages\"]] == [\"gate\", \"build\"]" &&
	test_json piped.json "d[\"build\"][\"image\"][\"tags\"] == [\"docker.io/reg/app:v9.9-$short\"]"
'

test_expect_success 'empty stdin from a pipe: exit 65 and nothing on stdout' '
	(cd app && : | test_expect_code 65 ci-build -o ../never . >../empty.out 2>../empty.err)
'

test_expect_success '... with a message that says what to do' '
	! test -s empty.out && ! test -e never &&
	test_grep "no pipeline document on stdin (did the previous stage fail? use --new to start one)" empty.err
'

test_expect_success 'a document that is not JSON: exit 65' '
	(cd app && echo "{nope" | test_expect_code 65 ci-build -o ../never . >../bad.out 2>../bad.err)
'

test_expect_success 'an upstream failure: skipped, exit 1' '
	echo "{\"ci\":1,\"run\":{\"id\":\"r\"},\"status\":\"failed\",\"stages\":[{\"name\":\"gate\",\"status\":\"failed\"}],\"gate\":{\"status\":\"failed\"}}" |
	(cd app && test_expect_code 1 ci-build -o ../never . >../skip.json 2>../skip.err)
'

test_expect_success '... the section says which stage failed; nothing was built' '
	test_json skip.json "d[\"build\"] == {\"status\": \"skipped\", \"reason\": \"upstream stage \x27gate\x27 failed\", \"failed_stage\": \"gate\"}" &&
	! test -e never && test_grep "upstream stage .gate. failed" skip.err
'

test_expect_success 'a Dockerfile error: exit 2' '
	mkdir bad && printf "FROM scratch\nCOPY missing.txt /x\n" >bad/Dockerfile &&
	cp -r app/ci-out/image before &&
	test_expect_code 2 ci-build --new -o app/ci-out/image bad >bad.json 2>bad.err
'

test_expect_success '... the document says error with the reason; the old output is untouched' '
	test_json bad.json "d[\"build\"][\"status\"] == \"error\"" &&
	test_json bad.json "d[\"status\"] == \"failed\"" &&
	test_json bad.json "\"bad/Dockerfile:2: COPY: \x27missing.txt\x27 not found\" in d[\"build\"][\"reason\"]" &&
	test_grep "bad/Dockerfile:2: COPY: .missing.txt. not found in the build context" bad.err &&
	diff -r before app/ci-out/image &&
	no_tmp_dirs app/ci-out
'

test_expect_success 'an output that is not a layout is not replaced' '
	mkdir -p notalayout && echo precious >notalayout/file &&
	test_expect_code 2 ci-build --new -o notalayout app >x.json 2>x.err
'

test_expect_success '... it is still there, and the message says why' '
	test "$(cat notalayout/file)" = precious &&
	test_grep "exists and is not an OCI image layout" x.err
'

test_expect_success 'a build killed midway leaves a temp dir the next build removes' '
	mkdir -p out && sh -c "exit 0" & wait $! &&
	dead=$! &&
	mkdir -p out/.image.tmp-$dead/blobs &&
	ci-build --new -q -o out/image app >/dev/null &&
	no_tmp_dirs out && test -f out/image/index.json
'

test_expect_success 'a missing Dockerfile: exit 2' '
	mkdir empty && test_expect_code 2 ci-build --new -o out2 empty >nodf.json 2>nodf.err
'

test_expect_success '... naming the file' '
	test_grep "empty/Dockerfile" nodf.err && ! test -e out2
'

test_expect_success 'a bad option: exit 2' '
	test_expect_code 2 ci-build --new --no-such-option app >/dev/null 2>opt.err
'

test_expect_success '--version alone prints the version; -h the usage' '
	ci-build --version >v.out && test_grep "^ci-build [0-9]" v.out &&
	ci-build -h >h.out && test_grep "^usage: ci-build" h.out && test_grep "registry options" h.out
'

test_expect_success 'stdout on a full disk: exit 74' '
	test_expect_code 74 ci-build --new -q -o full app >/dev/full
'

test_done
