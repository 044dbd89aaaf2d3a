#!/bin/sh
test_description='ci-gate --secrets on several threads: the same findings, in the same order, as on one'
. "${0%/*}/test-lib.sh"

aws1=$SCAN_AWS_KEY_1

# job FILE: the secrets job's findings and scan summary, as one JSON text.
job() {
	python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))["gate"]["jobs"]["s"]
print(json.dumps({"findings": j["findings"], "scan": j["scan"]}, indent=1, sort_keys=True))' "$1"
}

# scan_with N DOC [all_files]: the tree scanned by N threads into DOC.
scan_with() {
	if test -n "${3:-}"; then more=", \"all_files\": true"; else more=; fi &&
	echo "{\"jobs\": {\"s\": {\"builtin\": \"secrets\", \"paths\": \"tree\", \"threads\": $1,
	  \"max_file_size\": \"4K\", \"allowlist\": {\"paths\": \"skip-me\"}$more}}}" >t$1.json &&
	{ ci-gate --new -f t$1.json >"$2" 2>"$2.err"; echo $? >rc; } &&
	test $(cat rc) = 1
}

test_expect_success 'a tree of 600 files in 40 directories, a secret in every seventh' '
	python3 - "$aws1" <<-\PY
	import os, sys
	key = sys.argv[1]
	for d in range(40):
	    base = "tree/d%02d" % d
	    os.makedirs(base + "/sub", exist_ok=True)
	    for f in range(15):
	        n = d * 15 + f
	        # files and a directory interleaved in name order
	        path = "%s/%s%02d.py" % (base if f % 2 else base + "/sub", "f", f)
	        lines = ["x = %d" % i for i in range(n % 50)]
	        if n % 7 == 0:
	            lines.append("aws = \"%s\"" % key)
	        if n % 11 == 0:
	            lines.append("token = \"Zq8vR2mXw4TnPb7Lk3Hs\"  # ci-gate:allow")
	        lines.append("password = os.environ[\"P\"]")
	        open(path, "w").write("\n".join(lines) + "\n")
	os.makedirs("tree/skip-me")
	open("tree/skip-me/a.py", "w").write("aws = \"%s\"\n" % key)
	open("tree/big.py", "w").write("aws = \"%s\"\n" % key + "#" * 5000 + "\n")
	open("tree/blob.bin", "wb").write(b"aws = \0" + key.encode())
	os.symlink("d00/f01.py", "tree/link.py")
	PY
'

test_expect_success 'one thread' '
	scan_with 1 d1.json all &&
	job d1.json >one &&
	test_json d1.json "len(d[\"gate\"][\"jobs\"][\"s\"][\"findings\"]) == 86" &&
	test_json d1.json "d[\"gate\"][\"jobs\"][\"s\"][\"scan\"][\"skipped\"] == {\"binary\": 1, \"too_large\": 1, \"allowlist\": 1, \"other\": 1}" &&
	test_json d1.json "d[\"gate\"][\"jobs\"][\"s\"][\"scan\"][\"suppressed\"][\"inline\"] == 55"
'

test_expect_success '... in the order of the names' '
	python3 -c "import json, sys
f = json.load(open(sys.argv[1]))[\"gate\"][\"jobs\"][\"s\"][\"findings\"]
assert [x[\"file\"] for x in f] == sorted(x[\"file\"] for x in f), f" d1.json
'

test_expect_success 'two, three and eight threads find the same, in the same order' '
	for n in 2 3 8; do
		scan_with $n d$n.json all &&
		job d$n.json >many &&
		test_cmp one many || return 1
	done
'

test_expect_success 'the same run after run' '
	for i in 1 2 3; do
		scan_with 2 again.json all &&
		job again.json >many &&
		test_cmp one many || return 1
	done
'

test_expect_success GIT 'the files git tracks, on two threads as on one' '
	(cd tree && git init -q && git add . && git commit -q -m files) &&
	(cd tree && ci-gate --secrets --new >../g1.json 2>../g1.err; echo $? >../rc) &&
	test $(cat rc) = 1 &&
	echo "{\"jobs\": {\"s\": {\"builtin\": \"secrets\", \"threads\": 1}}}" >g1.spec &&
	echo "{\"jobs\": {\"s\": {\"builtin\": \"secrets\", \"threads\": 2}}}" >g2.spec &&
	(cd tree && ci-gate --new -f ../g1.spec >../g1.json 2>../g1.err; echo $? >../rc) &&
	test $(cat rc) = 1 &&
	(cd tree && ci-gate --new -f ../g2.spec >../g2.json 2>../g2.err; echo $? >../rc) &&
	test $(cat rc) = 1 &&
	job g1.json >one-git &&
	job g2.json >two-git &&
	test_cmp one-git two-git &&
	test_json g2.json "d[\"gate\"][\"jobs\"][\"s\"][\"scan\"][\"mode\"] == \"tracked\" and len(d[\"gate\"][\"jobs\"][\"s\"][\"findings\"]) == 88"
'

bad_threads() {
	test_expect_success "threads $1 is refused where the spec says it" "
		echo '{\"jobs\": {\"s\": {\"builtin\": \"secrets\", \"threads\": $1}}}' >bad.json &&
		{ ci-gate --new -f bad.json >bad.out 2>bad.err; echo \$? >rc; } &&
		test \$(cat rc) = 2 &&
		test_grep 'bad.json:1:39: jobs.s.threads: expected a whole number from 1 to 64' bad.err
	"
}
bad_threads 0
bad_threads 65
bad_threads 1.5
bad_threads '"2"'

test_done
