#!/bin/sh
test_description='ci-build: a warm build finds its layers by stat data, and falls back to content'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/build-lib.sh"

# built DOC: "BUILT CACHED" of a build document.
built() {
	python3 -c 'import json, sys; b = json.load(open(sys.argv[1]))["build"]; print(b["layers_built"], b["layers_cached"])' "$1"
}

test_expect_success 'setup: a context of two layers, its files older than the racy window' '
	mkdir -p ctx/src/sub ctx/conf &&
	echo "main" >ctx/src/main.js && echo "util" >ctx/src/sub/util.js &&
	head -c 300000 /dev/urandom >ctx/src/blob.bin &&
	echo "a=1" >ctx/conf/app.conf &&
	cat >ctx/Dockerfile <<-\EOF &&
	FROM scratch
	COPY src /app/src/
	COPY conf /etc/app/
	CMD ["/app/run"]
	EOF
	# Stat data younger than 100 ms are not trusted: let them age.
	sleep 1 &&
	ci-build --new -v -o o1 --cache-dir cache ctx >b1.json 2>b1.err &&
	test "$(built b1.json)" = "2 0" &&
	ls cache/steps >steps1 && test "$(wc -l <steps1)" -eq 2
'

test_expect_success 'nothing changed: every layer by stat data, the same digest' '
	ci-build --new -v -o o2 --cache-dir cache ctx >b2.json 2>b2.err &&
	test "$(built b2.json)" = "0 2" &&
	test "$(img_digest b2.json)" = "$(img_digest b1.json)" &&
	grep "layer sha256:.*cached, by stat data" b2.err >hits &&
	test "$(wc -l <hits)" -eq 2
'

test_expect_success 'one file touched, the same content: the stat key misses, the content finds the layer' '
	touch ctx/src/main.js && sleep 1 &&
	ci-build --new -v -o o3 --cache-dir cache ctx >b3.json 2>b3.err &&
	test "$(built b3.json)" = "0 2" &&
	test "$(img_digest b3.json)" = "$(img_digest b1.json)" &&
	grep "by stat data" b3.err >hits3 && test "$(wc -l <hits3)" -eq 1 &&
	test_grep "Dockerfile:2: layer sha256:.*, cached)" b3.err
'

test_expect_success '... and is recorded: the next build finds both by stat data again' '
	ci-build --new -v -o o4 --cache-dir cache ctx >b4.json 2>b4.err &&
	grep "by stat data" b4.err >hits4 && test "$(wc -l <hits4)" -eq 2 &&
	test "$(img_digest b4.json)" = "$(img_digest b1.json)"
'

test_expect_success 'new content of the same size, mtime put back: seen (ctime is in the key)' '
	cp -p ctx/src/sub/util.js keep.js &&
	echo "UTIL" >ctx/src/sub/util.js && touch -r keep.js ctx/src/sub/util.js &&
	ci-build --new -v -o o5 --cache-dir cache ctx >b5.json 2>b5.err &&
	test "$(built b5.json)" = "1 1" &&
	test "$(img_digest b5.json)" != "$(img_digest b1.json)" &&
	img_file o5 "" /app/src/sub/util.js >got && test "$(cat got)" = UTIL
'

test_expect_success '... and put back: the first digest, from the cache' '
	cp -p keep.js ctx/src/sub/util.js &&
	ci-build --new -o o6 --cache-dir cache ctx >b6.json 2>/dev/null &&
	test "$(built b6.json)" = "0 2" &&
	test "$(img_digest b6.json)" = "$(img_digest b1.json)"
'

test_expect_success 'a file added: the layer is made again and holds it' '
	echo "new" >ctx/src/added.js &&
	ci-build --new -o o7 --cache-dir cache ctx >b7.json 2>/dev/null &&
	test "$(built b7.json)" = "1 1" &&
	img_file o7 "" /app/src/added.js >got7 && test "$(cat got7)" = new &&
	rm ctx/src/added.js
'

test_expect_success 'a damaged step record is not trusted: the build goes by content' '
	for f in cache/steps/*.json; do printf "{\"key\": \"sha256:nothex\"" >"$f" || return 1; done &&
	ci-build --new -v -o o8 --cache-dir cache ctx >b8.json 2>b8.err &&
	test "$(built b8.json)" = "0 2" &&
	! grep "by stat data" b8.err &&
	test "$(img_digest b8.json)" = "$(img_digest b1.json)"
'

test_expect_success 'a step record whose layer left the cache: the layer is made again' '
	ci-build --new -o o9 --cache-dir cache ctx >/dev/null 2>&1 &&
	rm -rf cache/layers &&
	ci-build --new -v -o o10 --cache-dir cache ctx >b10.json 2>b10.err &&
	test "$(built b10.json)" = "2 0" &&
	test "$(img_digest b10.json)" = "$(img_digest b1.json)"
'

test_expect_success 'with -j 1 and -j 2, cold and by stat data: one digest' '
	ci-build --new --no-cache -j 1 -o j1 ctx >j1.json 2>/dev/null &&
	ci-build --new --no-cache -j 2 -o j2 ctx >j2.json 2>/dev/null &&
	ci-build --new -j 1 -o j3 --cache-dir cache ctx >j3.json 2>/dev/null &&
	test "$(img_digest j1.json)" = "$(img_digest b1.json)" &&
	test "$(img_digest j2.json)" = "$(img_digest b1.json)" &&
	test "$(img_digest j3.json)" = "$(img_digest b1.json)" &&
	diff -r j1 j2
'

test_done
