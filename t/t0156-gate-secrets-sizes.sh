#!/bin/sh
test_description='ci-gate --secrets: max_file_size in the one size syntax; a tree in byte order'
. "${0%/*}/test-lib.sh"

aws1=$SCAN_AWS_KEY_1
aws2=$SCAN_AWS_KEY_2

# job FILE KEY: the secrets job's KEY (a Python expression on it).
job() {
	python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))["gate"]["jobs"]["s"]
print(eval(sys.argv[2]))' "$1" "$2"
}

# files of SIZE bytes, a secret on the first line.
sized() {
	printf "k=%s\n" "$2" >"$1" &&
	python3 -c 'import sys; open(sys.argv[1], "a").write("x" * (int(sys.argv[2]) - 24) + "\n")' "$1" "$3"
}

test_expect_success 'a tree: one file under 1.5K, one over' '
	mkdir cap &&
	sized cap/small.env "$aws1" 1500 &&
	sized cap/large.env "$aws2" 1600 &&
	test $(wc -c <cap/small.env) = 1500 && test $(wc -c <cap/large.env) = 1600
'

test_expect_success 'max_file_size "1.5K" is 1536 bytes: the small file is read, the large one skipped' '
	echo "{\"jobs\": {\"s\": {\"builtin\": \"secrets\", \"paths\": \"cap\", \"all_files\": true, \"max_file_size\": \"1.5K\"}}}" >s1.json &&
	{ ci-gate --new -f s1.json >d1.json 2>e1; echo $? >rc; } &&
	test $(cat rc) = 1 &&
	test "$(job d1.json "j[\"scan\"][\"max_file_size\"]")" = 1536 &&
	test "$(job d1.json "\" \".join(f[\"file\"] for f in j[\"findings\"])")" = cap/small.env &&
	test "$(job d1.json "j[\"scan\"][\"skipped\"][\"too_large\"]")" = 1
'

test_expect_success 'max_file_size "8KiB" and a number of bytes read both files' '
	for size in "\"8KiB\"" 1600; do
		echo "{\"jobs\": {\"s\": {\"builtin\": \"secrets\", \"paths\": \"cap\", \"all_files\": true, \"max_file_size\": $size}}}" >s2.json &&
		{ ci-gate --new -f s2.json >d2.json 2>e2; echo $? >rc; } &&
		test $(cat rc) = 1 &&
		test "$(job d2.json "len(j[\"findings\"])")" = 2 || return 1
	done
'

test_expect_success 'max_file_size "0" is refused where the spec says it' '
	echo "{\"jobs\": {\"s\": {\"builtin\": \"secrets\", \"max_file_size\": \"0\"}}}" >s3.json &&
	{ ci-gate --new -f s3.json >d3.json 2>e3; echo $? >rc; } &&
	test $(cat rc) = 2 &&
	test_grep "s3.json:1:39: jobs.s.max_file_size: expected a size" e3
'

test_expect_success 'every file of a tree, in byte order of the names, .git skipped' '
	mkdir -p walk/sub walk/.git &&
	for f in b.env B.env a.env sub/z.env .git/c.env a-b.env; do
		printf "k=%s\n" "$aws1" >walk/$f || return 1
	done &&
	{ ci-gate --secrets --all-files --new walk >d4.json 2>e4; echo $? >rc; } &&
	test $(cat rc) = 1 &&
	python3 -c "import json, sys
print(\" \".join(f[\"file\"] for f in json.load(open(sys.argv[1]))[\"gate\"][\"jobs\"][\"secrets\"][\"findings\"]))" d4.json >actual &&
	echo "walk/B.env walk/a-b.env walk/a.env walk/b.env walk/sub/z.env" >expect &&
	test_cmp expect actual
'

test_done
