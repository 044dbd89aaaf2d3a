#!/bin/sh
test_description='libxml2, libarchive and libcrypto are opened when a tool first needs them (t0014: not for --version nor a skipped stage), and do their work; a missing one is exit 69 naming the library and its package'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/data/smoke/lib.sh"

# nolib NAME CMD...: CMD with a NAME that is not a library found first
# through LD_LIBRARY_PATH, as on a system without it.
nolib() {
	lib=$1 &&
	shift &&
	mkdir -p "nolib-$lib" &&
	echo "not a shared object" >"nolib-$lib/$lib" &&
	env LD_LIBRARY_PATH="$PWD/nolib-$lib" "$@"
}

start_app

test_expect_success 'ci-smoke loads libxml2 for an xpath assert, and it holds' '
	printf "GET %s/xml\nHTTP 200\n[Asserts]\nxpath \"//_:p\" count == 2\n" "$BASE" >xpath.hurl &&
	LD_DEBUG=files ci-smoke --new xpath.hurl >out.json 2>debug &&
	test_grep "file=libxml2.so.2" debug &&
	test_json out.json "d[\"smoke\"][\"status\"] == \"passed\""
'

test_expect_success 'ci-smoke without xpath does not load libxml2' '
	printf "GET %s/xml\nHTTP 200\n[Asserts]\nbody contains \"<p\"\n" "$BASE" >plain.hurl &&
	LD_DEBUG=files ci-smoke --new plain.hurl >out.json 2>debug &&
	test_grep "file=libcurl.so.4" debug &&
	! grep -E "file=libxml2|file=libarchive" debug &&
	test_json out.json "d[\"smoke\"][\"status\"] == \"passed\""
'

test_expect_success 'ci-smoke with xpath and without libxml2: exit 69, the package named; without xpath it runs' '
	test_expect_code 69 nolib libxml2.so.2 ci-smoke --new xpath.hurl >out.json 2>err &&
	test_grep "ci-smoke: error: cannot load libxml2: .*libxml2.so.2" err &&
	test_grep "install the Debian package libxml2" err &&
	test_json out.json "d[\"smoke\"][\"status\"] == \"error\"" &&
	test_json out.json "\"libxml2\" in d[\"smoke\"][\"reason\"]" &&
	printf "GET %s/xml\nHTTP 200\n[Captures]\nn: body xpath \"count(//_:p)\"\n" "$BASE" >filter.hurl &&
	test_expect_code 69 nolib libxml2.so.2 ci-smoke --new filter.hurl >out.json 2>err &&
	test_grep "install the Debian package libxml2" err &&
	nolib libxml2.so.2 ci-smoke --new plain.hurl >out.json &&
	test_json out.json "d[\"smoke\"][\"status\"] == \"passed\""
'

test_expect_success 'ci-build loads libarchive to write a layer; the layer holds the file' '
	mkdir ctx &&
	echo hello >ctx/hello.txt &&
	printf "FROM scratch\nCOPY hello.txt /\n" >ctx/Dockerfile &&
	LD_DEBUG=files ci-build --new -o img ctx >out.json 2>debug &&
	test_grep "file=libarchive.so.13" debug &&
	test_json out.json "d[\"build\"][\"status\"] == \"passed\"" &&
	layer=$(python3 -c "import json; m = json.load(open(\"img/index.json\"))[\"manifests\"][0][\"digest\"].split(\":\")[1]; print(json.load(open(\"img/blobs/sha256/\" + m))[\"layers\"][0][\"digest\"].split(\":\")[1])") &&
	tar -xzOf "img/blobs/sha256/$layer" hello.txt >got &&
	test_cmp ctx/hello.txt got
'

test_expect_success 'ci-build without libarchive: exit 69 naming the package (a context directory too, which loads it while it is walked); FROM scratch alone needs none' '
	test_expect_code 69 nolib libarchive.so.13 ci-build --new --no-cache -o img2 ctx >out.json 2>err &&
	test_grep "cannot load libarchive: .*libarchive.so.13" err &&
	test_grep "install the Debian package libarchive13" err &&
	! test -d img2 &&
	printf "FROM scratch\nCOPY . /app/\n" >ctx/Dockerfile &&
	test_expect_code 69 nolib libarchive.so.13 ci-build --new --no-cache -o img4 ctx >out.json 2>err &&
	test_grep "cannot load libarchive: .*libarchive.so.13" err &&
	! test -d img4 &&
	printf "FROM scratch\nCOPY hello.txt /\n" >ctx/Dockerfile &&
	mkdir empty &&
	printf "FROM scratch\nENV A=1\n" >empty/Dockerfile &&
	nolib libarchive.so.13 ci-build --new --no-cache -o img3 empty >out.json &&
	test_json out.json "d[\"build\"][\"status\"] == \"passed\""
'

test_expect_success 'ci-build loads libcrypto for its digests; without it: exit 69 naming the package, nothing written' '
	LD_DEBUG=files ci-build --new -o img4 ctx >out.json 2>debug &&
	test_grep "file=libcrypto.so.3" debug &&
	test_json out.json "d[\"build\"][\"status\"] == \"passed\"" &&
	test_expect_code 69 nolib libcrypto.so.3 ci-build --new --no-cache -o img5 ctx >out.json 2>err &&
	test_grep "ci-build: error: cannot load libcrypto: .*libcrypto.so.3" err &&
	test_grep "install the Debian package libssl3" err &&
	test_json out.json "d[\"build\"][\"status\"] == \"error\"" &&
	! test -d img5 &&
	test_expect_code 69 nolib libcrypto.so.3 ci-build --dry-run ctx >out 2>err &&
	test_grep "install the Debian package libssl3" err
'

test_expect_success 'ci-push without libcrypto: the layout is read (its own sha256), then exit 69 where libcurl needs it' '
	test_expect_code 69 nolib libcrypto.so.3 ci-push --new --layout img4 127.0.0.1:1/app:v1 \
		>out.json 2>err &&
	test_grep "ci-push: error: cannot load libcurl: .*libcrypto.so.3" err &&
	test_json out.json "\"libcrypto.so.3\" in d[\"push\"][\"reason\"]" &&
	# a corrupt config is still found without libcrypto
	rm -rf bad4 && cp -r img4 bad4 &&
	cfg=$(python3 -c "import json; m = json.load(open(\"bad4/index.json\"))[\"manifests\"][0][\"digest\"][7:]; print(json.load(open(\"bad4/blobs/sha256/\" + m))[\"config\"][\"digest\"][7:])") &&
	chmod u+w bad4/blobs/sha256/$cfg &&
	python3 -c "import sys; p = sys.argv[1]; b = bytearray(open(p, \"rb\").read()); b[5] ^= 1; open(p, \"wb\").write(b)" bad4/blobs/sha256/$cfg &&
	test_expect_code 65 nolib libcrypto.so.3 ci-push --new --layout bad4 127.0.0.1:1/app:v1 \
		>out.json 2>err &&
	test_grep "digest mismatch for sha256:$cfg" err
'

test_expect_success 'ci-smoke loads libcrypto for a sha256 assert; a CA file without it: exit 69' '
	printf "GET %s/xml\nHTTP 200\n[Asserts]\nsha256 exists\n" "$BASE" >sha.hurl &&
	LD_DEBUG=files ci-smoke --new sha.hurl >out.json 2>debug &&
	test_grep "file=libcrypto.so.3" debug &&
	test_json out.json "d[\"smoke\"][\"status\"] == \"passed\"" &&
	echo "no certificate" >ca.pem &&
	test_expect_code 69 nolib libcrypto.so.3 ci-smoke --new --cacert ca.pem plain.hurl \
		>out.json 2>err &&
	test_grep "ci-smoke: error: cannot load libcrypto" err &&
	test_grep "install the Debian package libssl3" err
'

test_done
