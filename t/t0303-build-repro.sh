#!/bin/sh
test_description='ci-build: the same inputs give the same digest; the layer cache'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/build-lib.sh"
# The project every test builds is committed in git and cloned.
test_require GIT

test_expect_success 'setup: a project in git, committed at a fixed time' '
	mkdir proj && cd proj && git init -q &&
	mkdir -p src/lib bin && echo "main" >src/main.js && echo "util" >src/lib/util.js &&
	printf "#!/bin/sh\necho hi\n" >bin/run && chmod 755 bin/run &&
	ln -s src/main.js entry.js &&
	printf "*.log\n" >.dockerignore && echo noise >debug.log &&
	head -c 200000 /dev/urandom >src/blob.bin &&
	cat >Dockerfile <<-\EOF &&
	FROM scratch
	COPY src /app/src/
	COPY bin entry.js /app/
	WORKDIR /app
	ENV NODE_ENV=production
	CMD ["/app/bin/run"]
	EOF
	git add . &&
	GIT_COMMITTER_DATE="2026-01-02T03:04:05Z" GIT_AUTHOR_DATE="2026-01-02T03:04:05Z" \
		git commit -q -m init &&
	git log -1 --format=%ct >../ctime
'

test_expect_success 'two clones in other directories, other mtimes, umask and TZ: one digest' '
	git clone -q proj a && git clone -q proj b/deeper/clone &&
	find b/deeper/clone -exec touch -h -d "2030-05-05 05:05:05" {} + &&
	(cd a && ci-build --new --no-cache . >../a.json 2>/dev/null) &&
	(cd b/deeper/clone && umask 077 && TZ=Asia/Tokyo \
		ci-build --new --cache-dir ../../cache -j 1 . >../../../b.json 2>/dev/null) &&
	test "$(img_digest a.json)" = "$(img_digest b.json)" &&
	test_json a.json "d[\"build\"][\"image\"][\"source_date_epoch\"] == $(cat ctime)"
'

test_expect_success '... and the same as from the original work tree, with a warm cache' '
	(cd proj && ci-build --new . >../p1.json 2>/dev/null && ci-build --new . >../p2.json 2>/dev/null) &&
	test "$(img_digest p1.json)" = "$(img_digest a.json)" &&
	test "$(img_digest p2.json)" = "$(img_digest a.json)"
'

test_expect_success 'copies made with cp -a outside git, touched later: one digest' '
	cp -a proj c1 && rm -rf c1/.git && cp -a c1 c2 &&
	find c2 -exec touch -h {} + &&
	ci-build --new --no-cache -o c1.out c1 >c1.json 2>/dev/null &&
	(umask 027 && ci-build --new --no-cache -j 3 -o c2.out c2 >c2.json 2>/dev/null) &&
	test "$(img_digest c1.json)" = "$(img_digest c2.json)" &&
	test_json c1.json "d[\"build\"][\"image\"][\"source_date_epoch\"] == 0"
'

test_expect_success 'outside git every mtime is 0, every owner root' '
	img_files c1.out >c1.files &&
	! grep -v " 0:0 : 0 " c1.files
'

test_expect_success 'the thread count never changes the bytes' '
	for j in 1 2 5; do
		ci-build --new --no-cache -j $j -o j$j c1 >j$j.json 2>/dev/null || return 1
	done &&
	test "$(img_digest j1.json)" = "$(img_digest j2.json)" &&
	test "$(img_digest j1.json)" = "$(img_digest j5.json)" &&
	diff -r j1 j5
'

test_expect_success 'one byte changed: another digest, and only that layer differs' '
	cp -a c1 c3 && printf "x" >>c3/bin/run &&
	ci-build --new --no-cache -o c3.out c3 >c3.json 2>/dev/null &&
	test "$(img_digest c1.json)" != "$(img_digest c3.json)" &&
	python3 - c1.json c3.json <<-\PY
	import json, sys
	a, b = (json.load(open(f))["build"]["image"]["layers"] for f in sys.argv[1:])
	same = [x["digest"] == y["digest"] for x, y in zip(a, b)]
	assert same == [True, False], same
	PY
'

test_expect_success 'SOURCE_DATE_EPOCH and --source-date-epoch set every time in the image' '
	SOURCE_DATE_EPOCH=1234567890 ci-build --new --no-cache -o s1 c1 >s1.json 2>/dev/null &&
	ci-build --new --no-cache --source-date-epoch 1234567890 -o s2 c1 >s2.json 2>/dev/null &&
	test "$(img_digest s1.json)" = "$(img_digest s2.json)" &&
	img_config s1 >s1.cfg &&
	test_json s1.cfg "d[\"created\"] == \"2009-02-13T23:31:30Z\"" &&
	test_json s1.cfg "all(h[\"created\"] == \"2009-02-13T23:31:30Z\" for h in d[\"history\"])" &&
	img_files s1 >s1.files && ! grep -v " 0:0 : [0-9]* " s1.files &&
	! awk "\$7 > 1234567890" s1.files | grep .
'

test_expect_success 'a SOURCE_DATE_EPOCH that is not a number: exit 2' '
	test_expect_code 2 env SOURCE_DATE_EPOCH=yesterday ci-build --new -o never c1 >/dev/null 2>sde.err
'

test_expect_success 'warm rebuild: every layer from the cache, the same digest' '
	ci-build --new -o w1 --cache-dir wcache c1 >w1.json 2>/dev/null &&
	ci-build --new -o w2 --cache-dir wcache c1 >w2.json 2>/dev/null &&
	test "$(img_digest w1.json)" = "$(img_digest w2.json)" &&
	test_json w2.json "d[\"build\"][\"layers_cached\"] == 2 and d[\"build\"][\"layers_built\"] == 0" &&
	test_json w1.json "d[\"build\"][\"layers_built\"] == 2"
'

test_expect_success '... a change with the same size and mtime is still seen' '
	cp -a c1/src/lib/util.js keep.js &&
	printf "UTIL\n" >c1/src/lib/util.js && touch -r keep.js c1/src/lib/util.js &&
	ci-build --new -o w3 --cache-dir wcache c1 >w3.json 2>/dev/null &&
	test "$(img_digest w3.json)" != "$(img_digest w1.json)" &&
	test_json w3.json "d[\"build\"][\"layers_built\"] == 1 and d[\"build\"][\"layers_cached\"] == 1" &&
	img_file w3 "" /app/src/lib/util.js >got && test "$(cat got)" = UTIL
'

test_expect_success '... and put back, the first digest comes back, from the cache' '
	cp keep.js c1/src/lib/util.js &&
	ci-build --new -o w4 --cache-dir wcache c1 >w4.json 2>/dev/null &&
	test "$(img_digest w4.json)" = "$(img_digest w1.json)"
'

test_expect_success 'a fresh checkout of the same tree takes every layer from the cache' '
	git clone -q proj fresh1 && git clone -q proj fresh2 &&
	(cd fresh1 && ci-build --new --cache-dir ../shared . >../f1.json 2>/dev/null) &&
	(cd fresh2 && ci-build --new --cache-dir ../shared . >../f2.json 2>/dev/null) &&
	test_json f1.json "d[\"build\"][\"layers_built\"] == 2" &&
	test_json f2.json "d[\"build\"][\"layers_cached\"] == 2 and d[\"build\"][\"layers_built\"] == 0" &&
	test "$(img_digest f1.json)" = "$(img_digest f2.json)"
'

test_expect_success 'the compression level changes the blobs, not the diff_ids' '
	ci-build --new --no-cache --compression-level 9 -o l9 c1 >l9.json 2>/dev/null &&
	test "$(img_digest l9.json)" != "$(img_digest c1.json)" &&
	python3 - c1.json l9.json <<-\PY
	import json, sys
	a, b = (json.load(open(f))["build"]["image"]["layers"] for f in sys.argv[1:])
	assert [x["diff_id"] for x in a] == [y["diff_id"] for y in b]
	assert all(x["digest"] != y["digest"] for x, y in zip(a, b))
	PY
'

test_expect_success ZSTD 'zstd layers: media type, readable, reproducible' '
	ci-build --new --no-cache --compression zstd -o z1 c1 >z1.json 2>/dev/null &&
	ci-build --new --no-cache --compression zstd -j 1 -o z2 c1 >z2.json 2>/dev/null &&
	test "$(img_digest z1.json)" = "$(img_digest z2.json)" &&
	img_manifest z1 >z1.m &&
	test_json z1.m "all(l[\"mediaType\"] == \"application/vnd.oci.image.layer.v1.tar+zstd\" for l in d[\"layers\"])" &&
	l=$(python3 -c "import json; print(json.load(open(\"z1.m\"))[\"layers\"][0][\"digest\"][7:])") &&
	zstd -q -d -c z1/blobs/sha256/$l | tar tf - >z1.list &&
	test_grep "^app/src/main.js$" z1.list &&
	zstd -q -d -c z1/blobs/sha256/$l | sha256sum | cut -d" " -f1 >z1.diff &&
	test_json z1.json "d[\"build\"][\"image\"][\"layers\"][0][\"diff_id\"] == \"sha256:$(cat z1.diff)\""
'

test_expect_success 'no compression: the blob is the tar' '
	ci-build --new --no-cache --compression none -o n1 c1 >n1.json 2>/dev/null &&
	test_json n1.json "all(l[\"digest\"] == l[\"diff_id\"] for l in d[\"build\"][\"image\"][\"layers\"])" &&
	python3 - c1.json n1.json <<-\PY
	import json, sys
	a, b = (json.load(open(f))["build"]["image"]["layers"] for f in sys.argv[1:])
	assert [x["diff_id"] for x in a] == [y["diff_id"] for y in b]
	PY
'

test_expect_success PIGZ 'our gzip inflates with pigz, to the tar the diff_id names' '
	l=$(python3 -c "import json; print(json.load(open(\"c1.json\"))[\"build\"][\"image\"][\"layers\"][0][\"digest\"][7:])") &&
	pigz -d -c c1.out/blobs/sha256/$l | sha256sum | cut -d" " -f1 >pigz.diff &&
	test_json c1.json "d[\"build\"][\"image\"][\"layers\"][0][\"diff_id\"] == \"sha256:$(cat pigz.diff)\""
'

test_done
