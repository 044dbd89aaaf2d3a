#!/bin/sh
test_description='libcurl (and libxml2, libarchive, libssl, libcrypto: t0015) is opened when a tool first needs it: not for --version nor a skipped stage; a libcurl that cannot be loaded is exit 69 naming the library and its package'
. "${0%/*}/test-lib.sh"

NET_TOOLS="ci-build ci-push ci-smoke ci-canary ci-deploy ci-rollback"

# Every library opened on demand (and ICU, which libxml2 and libarchive
# pull in), as LD_DEBUG=files names what the loader opens.
LAZY="file=lib(curl|xml2|archive|ssl|crypto|icu)"

# The arguments each tool is given for a skipped stage.
skip_args() {
	case "$1" in
	ci-smoke) echo check.hurl ;;
	ci-deploy) echo "--to staging -- true" ;;
	esac
}

# A libcurl.so.4 that is not a library, found first through
# LD_LIBRARY_PATH: the loader's dlopen() fails as on a system without
# libcurl4 (nothing else the tools start looks for that name).
nolib() {
	env LD_LIBRARY_PATH="$PWD/nolib" "$@"
}

test_expect_success 'setup: a Hurl file, a failed upstream document, a broken libcurl' '
	printf "GET http://127.0.0.1:1/\nHTTP 200\n" >check.hurl &&
	echo "{\"ci\":1,\"run\":{\"id\":\"x\"},\"status\":\"failed\",\"stages\":[{\"name\":\"gate\",\"status\":\"failed\"}],\"gate\":{\"status\":\"failed\"}}" >failed.json &&
	mkdir nolib &&
	echo "not a shared object" >nolib/libcurl.so.4
'

for t in ci-gate $NET_TOOLS; do
	test_expect_success "$t: --version and a skipped stage load none of the lazy libraries" '
		LD_DEBUG=files $t --version >out 2>debug &&
		test_grep "^$t " out &&
		test_grep "file=libcjson" debug &&
		! grep -E "$LAZY" debug &&
		test_expect_code 1 env LD_DEBUG=files $t $(skip_args $t) <failed.json >out.json 2>debug &&
		! grep -E "$LAZY" debug &&
		test_json out.json "d[\"stages\"][-1][\"status\"] == \"skipped\""
	'
done

for t in $NET_TOOLS; do
	test_expect_success "$t: --version and a skipped stage work without libcurl" '
		nolib $t --version >out &&
		test_grep "^$t " out &&
		test_expect_code 1 nolib $t $(skip_args $t) <failed.json >out.json &&
		test_json out.json "d[\"stages\"][-1][\"status\"] == \"skipped\""
	'
done

test_expect_success 'ci-smoke loads libcurl for its first request' '
	test_expect_code 1 env LD_DEBUG=files ci-smoke --new check.hurl >out.json 2>debug &&
	test_grep "file=libcurl.so.4" debug &&
	test_json out.json "d[\"smoke\"][\"status\"] == \"failed\""
'

test_expect_success 'ci-smoke without libcurl: exit 69, the library and the package named' '
	test_expect_code 69 nolib ci-smoke --new check.hurl >out.json 2>err &&
	test_grep "ci-smoke: error: cannot load libcurl: .*libcurl.so.4" err &&
	test_grep "install the Debian package libcurl4" err &&
	test_json out.json "d[\"smoke\"][\"status\"] == \"error\"" &&
	test_json out.json "\"libcurl4\" in d[\"smoke\"][\"reason\"]"
'

test_expect_success 'a URL option without libcurl (which parses it): exit 69, not a usage error' '
	test_expect_code 69 nolib ci-deploy --new --to staging --wait http://127.0.0.1:1/ -- true \
		>out.json 2>err &&
	test_grep "ci-deploy: error: cannot load libcurl" err &&
	! test -s out.json &&
	test_expect_code 69 nolib ci-smoke --new --wait http://127.0.0.1:1/ check.hurl >out.json 2>err &&
	test_grep "ci-smoke: error: cannot load libcurl" err &&
	test_expect_code 69 nolib ci-rollback --new --webhook http://127.0.0.1:1/ >out.json 2>err &&
	test_grep "ci-rollback: error: cannot load libcurl" err
'

test_expect_success 'ci-build: ADD of a URL without libcurl is exit 69 at its line; a build without one needs none and does not load it' '
	mkdir ctx &&
	echo hello >ctx/hello.txt &&
	printf "FROM scratch\nCOPY hello.txt /\n" >ctx/Dockerfile &&
	nolib ci-build --new -o img ctx >out.json &&
	test_json out.json "d[\"build\"][\"status\"] == \"passed\"" &&
	LD_DEBUG=files ci-build --new -o img1 ctx >out.json 2>debug &&
	test_json out.json "d[\"build\"][\"status\"] == \"passed\"" &&
	! grep "file=libcurl" debug &&
	printf "FROM scratch\nADD http://127.0.0.1:1/x /x\n" >ctx/Dockerfile &&
	test_expect_code 69 nolib ci-build --new -o img2 ctx >out.json 2>err &&
	test_grep "Dockerfile:2" err &&
	test_grep "install the Debian package libcurl4" err
'

test_done
