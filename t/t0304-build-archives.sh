#!/bin/sh
test_description='ci-build --oci-archive and --docker-archive, read back by skopeo'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/build-lib.sh"

test_expect_success 'setup: an image of three layers, two tags' '
	mkdir ctx && echo one >ctx/one && mkdir ctx/d && echo two >ctx/d/two && ln -s one ctx/d/ln &&
	cat >ctx/Dockerfile <<-\EOF &&
	FROM scratch
	COPY one /
	COPY d /d/
	WORKDIR /work
	CMD ["/one"]
	EOF
	ci-build --new -t example.com/team/app:1.0 -t example.com/team/app:latest \
		--oci-archive out/app.oci.tar --docker-archive out/app.docker.tar \
		-o img ctx >doc.json 2>err &&
	test -s out/app.oci.tar && test -s out/app.docker.tar &&
	test_json doc.json "d[\"build\"][\"oci_archive\"] == \"out/app.oci.tar\"" &&
	test_json doc.json "d[\"build\"][\"docker_archive\"] == \"out/app.docker.tar\"" &&
	no_tmp_dirs out
'

test_expect_success 'the oci-archive is the layout, sorted, owned by root' '
	tar tvf out/app.oci.tar >oci.list &&
	sed -n "1p;2p" oci.list | grep -q "blobs/$" &&
	test "$(tail -n 2 oci.list | awk "{print \$NF}")" = "$(printf "index.json\noci-layout")" &&
	! grep -v "^[-d]rw[-x]r-[-x]r-[-x] 0/0" oci.list &&
	mkdir x && tar xf out/app.oci.tar -C x && diff -r x img
'

test_expect_success SKOPEO 'skopeo reads the oci-archive' '
	skopeo copy --insecure-policy oci-archive:out/app.oci.tar:1.0 oci:fromoci:1.0 >/dev/null &&
	test "$(skopeo inspect oci:fromoci:1.0 | python3 -c "import json, sys; print(json.load(sys.stdin)[\"Digest\"])")" = "$(img_digest doc.json)"
'

test_expect_success 'the docker-archive is what docker save writes' '
	tar tf out/app.docker.tar >docker.list &&
	test_grep "^manifest.json$" docker.list &&
	tar xf out/app.docker.tar -C . manifest.json &&
	img_config img 1.0 >cfg.json &&
	python3 - manifest.json doc.json out/app.docker.tar <<-\PY
	import hashlib, json, sys, tarfile
	m = json.load(open(sys.argv[1]))
	d = json.load(open(sys.argv[2]))["build"]["image"]
	assert len(m) == 1
	assert m[0]["RepoTags"] == ["example.com/team/app:1.0", "example.com/team/app:latest"], m
	assert m[0]["Config"] == d["config_digest"][7:] + ".json", m
	want = [l["diff_id"][7:] + "/layer.tar" for l in d["layers"]]
	assert m[0]["Layers"] == want, (m[0]["Layers"], want)
	t = tarfile.open(sys.argv[3])
	for l in d["layers"]:
	    data = t.extractfile(l["diff_id"][7:] + "/layer.tar").read()
	    assert "sha256:" + hashlib.sha256(data).hexdigest() == l["diff_id"]
	cfg = t.extractfile(m[0]["Config"]).read()
	assert "sha256:" + hashlib.sha256(cfg).hexdigest() == d["config_digest"]
	PY
'

test_expect_success SKOPEO 'skopeo copy docker-archive:FILE oci:DIR gives the same layers' '
	skopeo copy --insecure-policy docker-archive:out/app.docker.tar oci:fromdocker:x >/dev/null &&
	skopeo inspect --config oci:fromdocker:x >fromdocker.cfg &&
	img_config img 1.0 >ours.cfg &&
	python3 - fromdocker.cfg ours.cfg <<-\PY &&
	import json, sys
	a, b = (json.load(open(f)) for f in sys.argv[1:])
	assert a["rootfs"]["diff_ids"] == b["rootfs"]["diff_ids"]
	assert a["config"]["Cmd"] == b["config"]["Cmd"] == ["/one"]
	PY
	skopeo inspect docker-archive:out/app.docker.tar:example.com/team/app:latest >dinspect.json &&
	test_json dinspect.json "len(d[\"Layers\"]) == 3"
'

test_expect_success SKOPEO 'skopeo copies our layout to oci: and docker-archive: and back' '
	skopeo copy --insecure-policy oci:img:1.0 oci:copy:1.0 >/dev/null &&
	test "$(skopeo inspect oci:copy:1.0 | python3 -c "import json, sys; print(json.load(sys.stdin)[\"Digest\"])")" = "$(img_digest doc.json)" &&
	skopeo copy --insecure-policy oci:img:1.0 docker-archive:sk.tar:example.com/team/app:1.0 >/dev/null &&
	skopeo copy --insecure-policy docker-archive:sk.tar oci:back:1 >/dev/null &&
	skopeo inspect --config oci:back:1 >back.cfg &&
	img_config img 1.0 >ours.cfg &&
	python3 -c "
import json; a = json.load(open(\"back.cfg\")); b = json.load(open(\"ours.cfg\"))
assert a[\"rootfs\"][\"diff_ids\"] == b[\"rootfs\"][\"diff_ids\"]"
'

test_expect_success 'the archives are reproducible, byte for byte' '
	ci-build --new --no-cache -t example.com/team/app:1.0 -t example.com/team/app:latest \
		--oci-archive again/app.oci.tar --docker-archive again/app.docker.tar \
		-o img2 ctx >doc2.json 2>/dev/null &&
	cmp out/app.oci.tar again/app.oci.tar &&
	cmp out/app.docker.tar again/app.docker.tar
'

test_expect_success 'an archive that cannot be written: exit 74' '
	mkdir ro && chmod 500 ro &&
	test_when_finished "chmod 700 ro" &&
	test_expect_code 74 ci-build --new -o img3 --oci-archive /dev/full/x.tar ctx >bad.json 2>bad.err
'

test_expect_success '... and no layout is left half-made' '
	! test -e img3 && no_tmp_dirs . &&
	test_json bad.json "d[\"build\"][\"status\"] == \"error\""
'

test_done
