#!/bin/sh
test_description='ci-gate --secrets: every true positive is found once, no false positive is'
. "${0%/*}/test-lib.sh"

DATA=$TEST_DIRECTORY/data/secrets

# findings FILE: "RULE FILE:LINE" of each finding, sorted, without the
# leading directory (tp/ or fp/).
findings() {
	python3 - "$1" <<-\PY
	import json, sys
	d = json.load(open(sys.argv[1]))
	for f in d["gate"]["jobs"]["secrets"]["findings"]:
	    print(f["rule"], f["file"].split("/", 1)[1] + ":" + str(f["line"]))
	PY
}

test_expect_success 'the samples, with the <CUT> marker taken out' '
	cp -R "$DATA/tp" "$DATA/fp" . &&
	find tp fp -type f -exec sed -i "s/<CUT>//g" {} + &&
	! grep -r "<CUT>" tp fp &&
	test $(find tp -type f | wc -l) -ge 70
'

test_expect_success 'every rule has samples in shell, JSON, YAML, Python, JS and .env' '
	for r in $(ls tp); do
		for f in deploy.sh config.json values.yaml settings.py .env; do
			test -f tp/$r/$f || test $r = private-key || { echo "no tp/$r/$f"; exit 1; }
		done &&
		ls tp/$r | grep -q "\.js$" &&
		test -d fp/$r || { echo "no fp/$r"; exit 1; }
	done &&
	test $(ls tp | wc -l) = 12 && test $(ls fp | wc -l) = 12
'

test_expect_success 'every rule has cases, one a line, true and false (as gitleaks lists tps and fps)' '
	for r in $(ls tp); do
		test -s tp/$r/cases.txt && test -s fp/$r/cases.txt &&
		n=$(wc -l <tp/$r/cases.txt) &&
		test $(grep -c "^$r $r/cases.txt:" "$DATA/expect") = $n || { echo "cases of $r"; exit 1; }
	done
'

test_expect_success 'scanning the true positives fails the gate' '
	test_expect_code 1 ci-gate --secrets --all-files --new tp >tp.json 2>tp.err
'

test_expect_success '... and finds each of them exactly once' '
	findings tp.json | sort >actual &&
	test_cmp "$DATA/expect" actual
'

test_expect_success '... each finding with its place, a redacted match and a fingerprint' '
	test_json tp.json "all(set(f) == {\"rule\", \"file\", \"line\", \"column\", \"match\", \"fingerprint\"} for f in d[\"gate\"][\"jobs\"][\"secrets\"][\"findings\"])" &&
	test_json tp.json "all(f[\"line\"] >= 1 and f[\"column\"] >= 1 for f in d[\"gate\"][\"jobs\"][\"secrets\"][\"findings\"])" &&
	test_json tp.json "all(f[\"match\"].endswith(\"\u2026\") and len(f[\"match\"]) == 5 for f in d[\"gate\"][\"jobs\"][\"secrets\"][\"findings\"])" &&
	test_json tp.json "all(len(f[\"fingerprint\"]) == 64 and int(f[\"fingerprint\"], 16) >= 0 for f in d[\"gate\"][\"jobs\"][\"secrets\"][\"findings\"])" &&
	test_json tp.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"status\"] == \"failed\"" &&
	test_json tp.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"reason\"].startswith(\"161 secrets found: \")"
'

test_expect_success '... the column is where the secret starts' '
	python3 - tp.json <<-\PY
	import json, sys
	d = json.load(open(sys.argv[1]))
	for f in d["gate"]["jobs"]["secrets"]["findings"]:
	    line = open(f["file"], encoding="utf-8").read().split("\n")[f["line"] - 1]
	    start = line[f["column"] - 1:]
	    prefix = f["match"][:-1]
	    if f["rule"] == "private-key":
	        assert start.startswith("-----BEGIN"), (f, start)
	    else:
	        assert start.startswith(prefix), (f, start[:10])
	PY
'

test_expect_success 'the false positives give nothing' '
	ci-gate --secrets --all-files --new fp >fp.json 2>fp.err &&
	test_json fp.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"findings\"] == []" &&
	test_json fp.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"scan\"][\"files\"] >= 60"
'

test_expect_success 'the samples as stored (with the marker) give nothing either' '
	ci-gate --secrets --all-files --new "$DATA" >stored.json 2>err &&
	test_json stored.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"findings\"] == []"
'

test_expect_success 'the prefilter folds case, the rules do not' '
	key=$(sed -n "s/.*\(AKIA[A-Z2-7]*\).*/\1/p" tp/aws-access-key-id/deploy.sh) &&
	test -n "$key" &&
	lower=$(echo "$key" | tr A-Z a-z) &&
	mkdir case && echo "id = $lower" >case/a.txt &&
	ci-gate --secrets --all-files --new case >case.json 2>err &&
	test_json case.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"findings\"] == []"
'

test_expect_success 'a secret deep in a long minified line is found, at its column' '
	mkdir long &&
	key=$(sed -n "s/.*\(AKIA[A-Z2-7]*\).*/\1/p" tp/aws-access-key-id/deploy.sh) &&
	python3 -c "import sys; sys.stdout.write(\"var a=1;\" * 20000 + \"var k=\\\"$key\\\";\" + \"b=2;\" * 1000 + \"\\n\")" >long/app.min.js &&
	test_expect_code 1 ci-gate --secrets --all-files --new long >long.json 2>err
'

test_expect_success '... once' '
	test_json long.json "[(f[\"rule\"], f[\"line\"], f[\"column\"]) for f in d[\"gate\"][\"jobs\"][\"secrets\"][\"findings\"]] == [(\"aws-access-key-id\", 1, 160008)]"
'

test_done
