#!/bin/sh
test_description='ci-smoke -j runs files at the same time'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/data/smoke/lib.sh"

start_app

# barrier_file NAME BARRIER N TIMEOUT: a file whose one request returns only
# once N requests have reached the app's barrier (504 after TIMEOUT s).
barrier_file() {
	printf 'GET {{base}}/health\nHTTP 200\n\n# name: meet at %s\nGET {{base}}/barrier/%s?n=%s&timeout=%s\nHTTP 200\n[Asserts]\njsonpath "$.arrived" >= %s\n' \
	    "$2" "$2" "$3" "$4" "$3" >"$1"
}

test_expect_success 'two files whose requests wait for each other both pass with -j 2' '
	barrier_file a.hurl pair 2 10 &&
	barrier_file b.hurl pair 2 10 &&
	ci-smoke --new -j 2 -v base="$BASE" a.hurl b.hurl >out.json 2>err &&
	smoke_json out.json "s[\"status\"] == \"passed\" and [x[\"status\"] for x in e] == [\"passed\"] * 4" &&
	smoke_json out.json "[x[\"file\"] for x in f] == [\"a.hurl\", \"b.hurl\"]"
'

test_expect_success 'with -j 1 the same kind of files cannot meet: the first one times out' '
	barrier_file c.hurl single 2 1 &&
	barrier_file d.hurl single 2 1 &&
	test_expect_code 1 ci-smoke --new -j 1 -v base="$BASE" c.hurl d.hurl >seq.json 2>err
'

test_expect_success '... answering 504 at the barrier' '
	smoke_json seq.json "e[1][\"status\"] == \"failed\" and e[1][\"http_status\"] == 504"
'

test_expect_success 'three files meet at a barrier of three with -j 3' '
	for n in 1 2 3; do barrier_file t$n.hurl three 3 10 || return 1; done &&
	ci-smoke --new -j 3 -v base="$BASE" t1.hurl t2.hurl t3.hurl >three.json 2>err &&
	smoke_json three.json "s[\"status\"] == \"passed\" and len(f) == 3"
'

test_expect_success '-j 2 with four files: pairs meet, the results keep the order given' '
	for n in 1 2 3 4; do barrier_file q$n.hurl quad 2 10 || return 1; done &&
	ci-smoke --new -j 2 -v base="$BASE" q1.hurl q2.hurl q3.hurl q4.hurl >quad.json 2>err &&
	smoke_json quad.json "s[\"status\"] == \"passed\" and [x[\"file\"] for x in f] == [\"q1.hurl\", \"q2.hurl\", \"q3.hurl\", \"q4.hurl\"]" &&
	smoke_json quad.json "s[\"summary\"][\"requests\"] == 8"
'

test_expect_success 'a failing file does not stop the others' '
	printf "GET {{base}}/status/500\nHTTP 200\n" >bad.hurl &&
	barrier_file e.hurl other 1 10 &&
	{ ci-smoke --new -j 2 -v base="$BASE" bad.hurl e.hurl >mixed.json 2>err; echo $? >rc; } &&
	test $(cat rc) = 1 &&
	smoke_json mixed.json "[x[\"status\"] for x in f] == [\"failed\", \"passed\"]"
'

test_done
