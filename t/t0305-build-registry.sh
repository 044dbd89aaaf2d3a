#!/bin/sh
test_description='ci-build FROM a registry image; runc runs what it built'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/registry-lib.sh"
. "$TEST_DIRECTORY/helpers/build-lib.sh"

test_expect_success REGISTRY,SKOPEO,BUSYBOX 'setup: a registry holding a busybox image we built' '
	start_registry reg &&
	busybox_ctx bb && ci-build --new -q -o bbimg -t busybox:1 bb >bb.json &&
	port=$(cat reg/port) &&
	skopeo copy --insecure-policy --dest-tls-verify=false oci:bbimg:1 \
		docker://127.0.0.1:$port/tools/busybox:1 >/dev/null
'
port=$(cat reg/port 2>/dev/null)
reg=127.0.0.1:$port
# The registry started inside a test (a subshell) is stopped by its pid
# here, when the script ends.
regpid=$(cat reg/pid 2>/dev/null)
trap 'reg_cleanup_; test -z "$regpid" || kill "$regpid" 2>/dev/null || :' EXIT

blob_gets() {
	grep -c "GET /v2/tools/busybox/blobs/" reg/log || :
}

test_expect_success REGISTRY,SKOPEO,BUSYBOX 'FROM the registry: the base layers, name and digest' '
	mkdir app && printf "#!/bin/sh\necho \"hello from \$GREETING\"\nid -u\n" >app/hello.sh &&
	chmod 755 app/hello.sh &&
	cat >app/Dockerfile <<-EOF &&
	FROM $reg/tools/busybox:1
	ENV GREETING=ci-build
	COPY --chown=app:staff hello.sh /usr/local/bin/
	USER app
	CMD ["/usr/local/bin/hello.sh"]
	EOF
	ci-build --new -t $reg/app:1 -o img app >doc.json 2>err &&
	base=$(img_digest bb.json) &&
	test_json doc.json "d[\"build\"][\"image\"][\"base\"] == {\"name\": \"$reg/tools/busybox:1\", \"digest\": \"$base\"}" &&
	test_json doc.json "len(d[\"build\"][\"image\"][\"layers\"]) == 3" &&
	img_manifest img 1 >m.json &&
	test_json m.json "d[\"annotations\"][\"org.opencontainers.image.base.name\"] == \"$reg/tools/busybox:1\"" &&
	test_json m.json "d[\"annotations\"][\"org.opencontainers.image.base.digest\"] == \"$base\"" &&
	img_manifest bbimg 1 >bbm.json &&
	python3 -c "
import json; a = json.load(open(\"m.json\")); b = json.load(open(\"bbm.json\"))
assert a[\"layers\"][:2] == b[\"layers\"]" &&
	img_files img 1 >files && test_grep "^2 usr/local/bin/hello.sh f 0755 1000:50 app:staff" files &&
	test_grep "pulling $reg/tools/busybox:1" err
'

test_expect_success REGISTRY,SKOPEO,BUSYBOX 'base layers are cached: a rebuild fetches no blob again' '
	before=$(blob_gets) &&
	ci-build --new -o img2 app >doc2.json 2>/dev/null &&
	test "$(blob_gets)" = "$before" &&
	test "$(img_digest doc2.json)" = "$(img_digest doc.json)"
'

test_expect_success REGISTRY,SKOPEO,BUSYBOX '... and without the cache the image is the same' '
	ci-build --new --no-cache -o img3 app >doc3.json 2>/dev/null &&
	test "$(img_digest doc3.json)" = "$(img_digest doc.json)"
'

test_expect_success REGISTRY,SKOPEO,BUSYBOX,UMOCI,RUNC,ROOT 'runc runs the image and prints what the Dockerfile says' '
	umoci unpack --image img:1 bundle >/dev/null &&
	python3 - bundle/config.json <<-\PY &&
	import json, sys
	c = json.load(open(sys.argv[1]))
	c["process"]["terminal"] = False
	assert c["process"]["user"]["uid"] == 1000
	assert "GREETING=ci-build" in c["process"]["env"]
	json.dump(c, open(sys.argv[1], "w"))
	PY
	id=ci-build-test-$$ &&
	test_when_finished "runc delete -f $id >/dev/null 2>&1 || :" &&
	(cd bundle && timeout 60 runc run $id </dev/null >../run.out 2>../run.err) &&
	test "$(cat run.out)" = "$(printf "hello from ci-build\n1000")"
'

test_expect_success REGISTRY,SKOPEO,BUSYBOX 'COPY --from a registry image' '
	mkdir from && printf "FROM scratch\nCOPY --from=$reg/tools/busybox:1 /bin/busybox /bin/sh\n" >from/Dockerfile &&
	ci-build --new -o fromimg from >from.json 2>/dev/null &&
	img_file fromimg "" /bin/sh | cmp - /bin/busybox
'

test_expect_success REGISTRY,SKOPEO,BUSYBOX 'a base of another platform than asked for: exit 2' '
	test_expect_code 2 ci-build --new --platform linux/arm64 -o never app >plat.json 2>plat.err
'

test_expect_success REGISTRY,SKOPEO,BUSYBOX '... saying so' '
	test_grep "is linux/amd64, not the linux/arm64 asked for" plat.err && ! test -e never
'

test_expect_success 'a registry that does not answer: exit 69' '
	dead=$(test_free_port) &&
	mkdir down && printf "FROM 127.0.0.1:$dead/x:1\n" >down/Dockerfile &&
	test_expect_code 69 ci-build --new --retries 1 -o never down >down.json 2>down.err
'

test_expect_success '... the document says error, naming the reference' '
	test_json down.json "d[\"build\"][\"status\"] == \"error\" and d[\"build\"][\"exit_code\"] == 69" &&
	test_grep "down/Dockerfile:1: FROM" down.err
'

test_expect_success REGISTRY 'a tag the registry does not have: exit 2' '
	mkdir missing && printf "FROM $reg/tools/busybox:nope\n" >missing/Dockerfile &&
	test_expect_code 2 ci-build --new -o never missing >missing.json 2>missing.err
'

test_expect_success REGISTRY '... is named in the message' '
	test_grep "missing/Dockerfile:1: FROM: .*busybox:nope. not found" missing.err
'

test_done
