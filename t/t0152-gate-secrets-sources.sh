#!/bin/sh
test_description='ci-gate --secrets: tracked files, every file, lines added since a base, staged lines'
. "${0%/*}/test-lib.sh"

aws1=$SCAN_AWS_KEY_1
aws2=$SCAN_AWS_KEY_2
aws3=$SCAN_AWS_KEY_3

# rules_at FILE: "RULE FILE:LINE" of the findings, one a line.
rules_at() {
	python3 -c 'import json, sys
for f in json.load(open(sys.argv[1]))["gate"]["jobs"]["secrets"]["findings"]:
    print(f["rule"], f["file"] + ":" + str(f["line"]))' "$1"
}

test_expect_success GIT 'a repository: a tracked secret, an untracked one' '
	git init -q -b main repo && cd repo &&
	printf "a = 1\nkey = \"%s\"\n" "$aws1" >tracked.py &&
	printf "x\n" >clean.txt &&
	git add . && git commit -q -m base &&
	printf "key = \"%s\"\n" "$aws2" >untracked.py
'

test_expect_success GIT 'by default only the files git tracks are scanned' '
	(cd repo && test_expect_code 1 ci-gate --secrets --new >../d1.json 2>../e1)
'

test_expect_success GIT '... so the untracked secret is not reported' '
	rules_at d1.json >actual &&
	echo "aws-access-key-id tracked.py:2" >expect &&
	test_cmp expect actual &&
	test_json d1.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"scan\"][\"mode\"] == \"tracked\" and d[\"gate\"][\"jobs\"][\"secrets\"][\"scan\"][\"files\"] == 2"
'

test_expect_success GIT '--all-files scans the others too' '
	(cd repo && test_expect_code 1 ci-gate --secrets --all-files --new >../d2.json 2>../e2)
'

test_expect_success GIT '... and never .git' '
	rules_at d2.json | sort >actual &&
	printf "aws-access-key-id tracked.py:2\naws-access-key-id untracked.py:1\n" >expect &&
	test_cmp expect actual &&
	test_json d2.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"scan\"][\"mode\"] == \"all\""
'

test_expect_success 'outside a work tree every file is scanned' '
	mkdir plain && printf "k=%s\n" "$aws1" >plain/a.env &&
	(cd plain && test_expect_code 1 ci-gate --secrets --new >../d3.json 2>../e3)
'

test_expect_success '... and the mode says so' '
	test_json d3.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"scan\"][\"mode\"] == \"all\" and len(d[\"gate\"][\"jobs\"][\"secrets\"][\"findings\"]) == 1"
'

test_expect_success 'binary files and files over the cap are skipped, and counted' '
	mkdir skip &&
	printf "key=%s\000\001\002" "$aws1" >skip/blob.bin &&
	python3 -c "print(\"x\" * 3000)" >skip/big.txt &&
	printf "k=%s\n" "$aws2" >>skip/big.txt &&
	echo "{\"jobs\": {\"s\": {\"builtin\": \"secrets\", \"paths\": \"skip\", \"all_files\": true, \"max_file_size\": \"2K\"}}}" >cap.json &&
	ci-gate --new -f cap.json >d4.json 2>e4 &&
	test_json d4.json "d[\"gate\"][\"jobs\"][\"s\"][\"scan\"][\"skipped\"] == {\"binary\": 1, \"too_large\": 1, \"allowlist\": 0, \"other\": 0}" &&
	test_json d4.json "d[\"gate\"][\"jobs\"][\"s\"][\"scan\"][\"max_file_size\"] == 2048" &&
	test_grep "skipped 1 binary, 1 over 2.0 KiB" ci-out/gate/s.log
'

test_expect_success GIT 'a branch that adds a secret and moves an old one' '
	cd repo &&
	git checkout -q -b feature &&
	printf "# header\n# more\na = 1\nkey = \"%s\"\nnew = \"%s\"\n" "$aws1" "$aws3" >tracked.py &&
	git commit -q -am "add a key" &&
	git log --oneline >/dev/null
'

test_expect_success GIT '--since scans only the lines added since the base' '
	(cd repo && test_expect_code 1 ci-gate --secrets --since main --new >../d5.json 2>../e5)
'

test_expect_success GIT '... reporting the new one at its line in the file' '
	rules_at d5.json >actual &&
	echo "aws-access-key-id tracked.py:5" >expect &&
	test_cmp expect actual &&
	test_json d5.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"scan\"][\"mode\"] == \"since\" and d[\"gate\"][\"jobs\"][\"secrets\"][\"scan\"][\"since\"] == \"main\""
'

test_expect_success GIT '--since counts from where the branch forked: main moving on changes nothing' '
	(cd repo && git checkout -q main && printf "other\n" >other.txt && git add other.txt &&
	 git commit -q -m "main moves" && git checkout -q feature) &&
	(cd repo && ci-gate --secrets --since main --new >../d6.json 2>../e6; test $? = 1) &&
	rules_at d6.json >actual &&
	test_cmp expect actual
'

test_expect_success GIT '--since with names git quotes or marks' '
	tab=$(printf "tab\there.py") cafe=$(printf "caf\303\251.py") &&
	(cd repo && for f in "with space.py" "$tab" "$cafe"; do printf "k = \"%s\"\n" "$aws2" >"$f"; done &&
	 git add "with space.py" "$tab" "$cafe" && git commit -q -m names &&
	 { ci-gate --secrets --since HEAD~1 --new >../names.json 2>../names.err; test $? = 1; } &&
	 git rm -q "with space.py" "$tab" "$cafe" && git commit -q -m unnames) &&
	test_json names.json "sorted(f[\"file\"] for f in d[\"gate\"][\"jobs\"][\"secrets\"][\"findings\"]) == [\"caf\u00e9.py\", \"tab\\there.py\", \"with space.py\"]"
'

test_expect_success GIT '--since a revision that does not exist is an error of the job' '
	(cd repo && ci-gate --secrets --since nope --new >../d7.json 2>../e7; test $? = 1) &&
	test_json d7.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"status\"] == \"error\"" &&
	test_json d7.json "\"since \x27nope\x27: no such commit here\" in d[\"gate\"][\"jobs\"][\"secrets\"][\"reason\"]"
'

test_expect_success GIT '--staged scans only what is staged' '
	cd repo &&
	printf "staged = \"%s\"\n" "$aws2" >staged.py &&
	git add staged.py &&
	printf "later = \"%s\"\n" "$aws3" >>staged.py &&
	{ ci-gate --secrets --staged --new >../d8.json 2>../e8; test $? = 1; } &&
	cd .. &&
	rules_at d8.json >actual &&
	echo "aws-access-key-id staged.py:1" >expect &&
	test_cmp expect actual &&
	test_json d8.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"scan\"][\"mode\"] == \"staged\""
'

test_expect_success GIT '--staged in a repository without a commit yet' '
	git init -q fresh && printf "k=%s\n" "$aws1" >fresh/k.env && (cd fresh && git add k.env) &&
	(cd fresh && ci-gate --secrets --staged --new >../d9.json 2>../e9; test $? = 1) &&
	rules_at d9.json >actual &&
	echo "aws-access-key-id k.env:1" >expect &&
	test_cmp expect actual
'

test_expect_success GIT 'paths limit the scan' '
	(cd repo && ci-gate --secrets --new clean.txt >../d10.json 2>../e10) &&
	test_json d10.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"scan\"][\"files\"] == 1"
'

test_expect_success GIT 'a path git does not track is an error that says why' '
	(cd repo && ci-gate --secrets --new untracked.py >../d11.json 2>../e11; test $? = 1) &&
	test_json d11.json "\"only files git tracks are scanned\" in d[\"gate\"][\"jobs\"][\"secrets\"][\"reason\"]"
'

test_expect_success GIT 'a job with a cwd reports paths from where ci-gate runs' '
	echo "{\"jobs\": {\"secrets\": {\"builtin\": \"secrets\", \"cwd\": \"repo\", \"all_files\": true, \"paths\": [\"tracked.py\"]}}}" >cwd.json &&
	test_expect_code 1 ci-gate --new -f cwd.json >d12.json 2>e12
'

test_expect_success GIT '... as repo/FILE' '
	rules_at d12.json >actual &&
	echo "aws-access-key-id repo/tracked.py:4" >expect &&
	echo "aws-access-key-id repo/tracked.py:5" >>expect &&
	test_cmp expect actual
'

test_expect_success 'a long list of paths (more than one argument may hold) is fine' '
	mkdir many &&
	python3 -c "
import os
for i in range(2500):
    open(os.path.join(\"many\", \"file-with-a-rather-long-name-to-fill-the-command-line-%05d.txt\" % i), \"w\").write(\"x\\n\")
" &&
	ci-gate --secrets --all-files --new many/* >d13.json 2>e13 &&
	test_json d13.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"scan\"][\"files\"] == 2500"
'

test_expect_success 'the modes exclude each other' '
	test_expect_code 2 ci-gate --secrets --staged --all-files --new
'

test_expect_success 'secrets options need --secrets' '
	test_expect_code 2 ci-gate --all-files -g a=true --new
'

test_expect_success '--secrets runs alone' '
	test_expect_code 2 ci-gate --secrets -g a=true --new
'

test_done
