#!/bin/sh
test_description='ci-build swaps its output in checked: rename and directory sync'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/build-lib.sh"

# rename(2) and fsync(2) failures are injected with an LD_PRELOAD shim:
# as root no permission makes them fail.  (A sanitizer build cannot take
# a preloaded library: then these tests are skipped.)
# It is a fact about the build, not a package: an environment prerequisite,
# which skips even under CI.
failsys_works() {
	cc -shared -fPIC -o failsys.so "$TEST_DIRECTORY/helpers/failsys.c" -ldl &&
	LD_PRELOAD=$PWD/failsys.so ci-build --version
}
test_env_prereq FAILSYS failsys_works

test_expect_success 'setup: a context and a first image' '
	mkdir app && echo one >app/f.txt &&
	printf "FROM scratch\nCOPY f.txt /\n" >app/Dockerfile &&
	ci-build --new -q -o out/image app >first.json &&
	cp -r out/image before &&
	echo two >app/f.txt
'

test_expect_success FAILSYS 'the new layout cannot be renamed into place: exit 74' '
	test_expect_code 74 env FAIL_RENAME_TO=out/image FAIL_RENAME_ONCE=1 LD_PRELOAD=$PWD/failsys.so \
		ci-build --new -o out/image app >ren.json 2>ren.err &&
	test_grep "ci-build: error: cannot rename .out/.image.tmp-[0-9]*. to .out/image.: Input/output error" ren.err &&
	test_json ren.json "d[\"build\"][\"status\"] == \"error\" and d[\"build\"][\"exit_code\"] == 74" &&
	diff -r before out/image && no_tmp_dirs out
'

test_expect_success FAILSYS 'nor can the old one be put back: exit 74' '
	test_expect_code 74 env FAIL_RENAME_TO=out/image LD_PRELOAD=$PWD/failsys.so \
		ci-build --new -o out/image app >back.json 2>back.err &&
	old=$(ls -d out/.image.tmp-*.old-*) &&
	test_grep "cannot rename .out/.image.tmp-[0-9]*. to .out/image.: Input/output error; the previous image is left in .$old." back.err &&
	! test -e out/image && diff -r before "$old" &&
	mv "$old" out/image && no_tmp_dirs out
'

test_expect_success FAILSYS 'the output directory cannot be synced: exit 74' '
	test_expect_code 74 env FAIL_FSYNC_DIR=$(cd out && pwd) LD_PRELOAD=$PWD/failsys.so \
		ci-build --new -o out/image app >sync.json 2>sync.err &&
	test_grep "ci-build: error: cannot sync .out.: Input/output error" sync.err &&
	test_json sync.json "d[\"build\"][\"exit_code\"] == 74"
'

test_expect_success 'without faults the new image replaces the old one' '
	ci-build --new -q -o out/image app >ok.json &&
	test_json ok.json "d[\"build\"][\"status\"] == \"passed\"" &&
	! diff -r before out/image >/dev/null && no_tmp_dirs out
'

test_expect_success 'an unchanged context built again: the output is left as it is' '
	(cd out/image && ls -iR . && cat index.json) >files.before &&
	ci-build --new -q -o out/image app >same.json &&
	(cd out/image && ls -iR . && cat index.json) >files.after &&
	test_cmp files.before files.after &&
	test_json same.json "d[\"build\"][\"image\"][\"digest\"] == \"$(python3 -c "import json; print(json.load(open(\"ok.json\"))[\"build\"][\"image\"][\"digest\"])")\"" &&
	no_tmp_dirs out
'

test_expect_success FAILSYS 'and nothing is synced then (a failing sync is not reached)' '
	env FAIL_FSYNC_DIR=$(cd out && pwd) LD_PRELOAD=$PWD/failsys.so \
		ci-build --new -q -o out/image app >nosync.json &&
	test_json nosync.json "d[\"build\"][\"status\"] == \"passed\""
'

test_expect_success 'an output blob damaged in place (same size): the layout is replaced' '
	cfg=$(python3 -c "import json; print(json.load(open(\"ok.json\"))[\"build\"][\"image\"][\"config_digest\"][7:])") &&
	blob=out/image/blobs/sha256/$cfg &&
	python3 -c "import sys; p = sys.argv[1]; b = bytearray(open(p, \"rb\").read()); b[0] ^= 1; open(p, \"wb\").write(b)" "$blob" &&
	! echo "$cfg  $blob" | sha256sum -c --status &&
	ci-build --new -q -o out/image app >fixed.json &&
	echo "$cfg  $blob" | sha256sum -c --status &&
	no_tmp_dirs out
'

test_expect_success 'a stray file in the output: the layout is replaced' '
	echo x >out/image/stray &&
	ci-build --new -q -o out/image app >stray.json &&
	! test -e out/image/stray && no_tmp_dirs out
'

test_done
