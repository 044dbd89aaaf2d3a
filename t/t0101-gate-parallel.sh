#!/bin/sh
test_description='ci-gate runs independent jobs at the same time, up to -j'
. "${0%/*}/test-lib.sh"

# Each job writes its marker, then waits for the other's: they can only
# both finish if they run at the same time.
cat >pair.json <<'EOF_'
{"jobs": {
  "left":  {"run": "touch left.up; i=0; while ! test -e right.up; do i=$((i+1)); test $i -lt 300 || exit 9; sleep 0.1; done"},
  "right": {"run": "touch right.up; i=0; while ! test -e left.up; do i=$((i+1)); test $i -lt 300 || exit 9; sleep 0.1; done"}
}}
EOF_

test_expect_success 'two jobs that wait for each other both pass with -j 2' '
	ci-gate --new -j 2 -f pair.json >doc.json 2>err &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"left\"][\"status\"] == \"passed\"" &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"right\"][\"status\"] == \"passed\""
'

test_expect_success 'with -j 1 they cannot overlap: the first one times out' '
	rm -f left.up right.up &&
	test_expect_code 1 ci-gate --new -j 1 --timeout 1s --grace 100ms -f pair.json >doc1.json 2>err
'

test_expect_success '... and the report says which and why' '
	test_json doc1.json "d[\"gate\"][\"jobs\"][\"left\"][\"status\"] == \"timed_out\"" &&
	test_json doc1.json "\"after timeout 1s\" in d[\"gate\"][\"jobs\"][\"left\"][\"reason\"]" &&
	test_json doc1.json "d[\"gate\"][\"jobs\"][\"right\"][\"status\"] == \"skipped\""
'

test_expect_success 'max_parallel in the spec limits like -j, and -j wins' '
	rm -f left.up right.up &&
	sed -e "s/{\"jobs\"/{\"max_parallel\": 1, \"timeout\": \"1s\", \"jobs\"/" pair.json >pair1.json &&
	test_expect_code 1 ci-gate --new --grace 100ms -f pair1.json >d.json 2>err &&
	rm -f left.up right.up &&
	ci-gate --new -j 2 -f pair1.json >d2.json 2>err &&
	test_json d2.json "d[\"gate\"][\"status\"] == \"passed\""
'

test_expect_success 'a diamond of needs runs in order' '
	cat >diamond.json <<-\EOF &&
	{"jobs": {
	  "d": {"run": "test -e b.done && test -e c.done && touch d.done", "needs": ["b", "c"]},
	  "b": {"run": "test -e a.done && touch b.done", "needs": ["a"]},
	  "c": {"run": "test -e a.done && touch c.done", "needs": ["a"]},
	  "a": {"run": "touch a.done"}
	}}
	EOF
	ci-gate --new -f diamond.json >dia.json 2>err &&
	test_json dia.json "d[\"gate\"][\"status\"] == \"passed\"" &&
	test_json dia.json "list(d[\"gate\"][\"jobs\"]) == [\"d\", \"b\", \"c\", \"a\"]" &&
	test -e d.done
'

test_done
