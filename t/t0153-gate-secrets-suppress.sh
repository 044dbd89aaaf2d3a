#!/bin/sh
test_description='ci-gate --secrets: ci-gate:allow, the allowlist, the baseline; options checked where written'
. "${0%/*}/test-lib.sh"

aws1=$SCAN_AWS_KEY_1
aws2=$SCAN_AWS_KEY_2
aws3=$SCAN_AWS_KEY_3
gh=$SCAN_GITHUB_TOKEN

count() {
	python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))["gate"]["jobs"][sys.argv[2] if len(sys.argv) > 2 else "secrets"]
print(len(j["findings"]))' "$@"
}

test_expect_success 'a tree with secrets' '
	mkdir src fixtures &&
	printf "key = \"%s\"\n" "$aws1" >src/app.py &&
	printf "key = \"%s\"  # ci-gate:allow (a revoked test key)\n" "$aws2" >src/test_app.py &&
	printf "token = \"%s\"\n" "$gh" >fixtures/github.json &&
	printf "id = \"%s\"\n" "$aws3" >src/known.py
'

test_expect_success 'ci-gate:allow on the line suppresses what is on it' '
	test_expect_code 1 ci-gate --secrets --all-files --new src >d1.json 2>e1
'

test_expect_success '... and the count says so' '
	test $(count d1.json) = 2 &&
	test_json d1.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"scan\"][\"suppressed\"][\"inline\"] == 1" &&
	! grep -q test_app.py d1.json
'

test_expect_success 'gitleaks:allow suppresses as ci-gate:allow does' '
	test_when_finished "rm -rf migrated" &&
	mkdir migrated &&
	printf "key = \"%s\"  # gitleaks:allow\n" "$aws1" >migrated/a.py &&
	printf "key = \"%s\"\n" "$aws3" >migrated/b.py &&
	printf "// gitleaks:allow\nkey = \"%s\"\n" "$aws2" >migrated/c.js &&
	test_expect_code 1 ci-gate --secrets --all-files --new migrated >d-gl.json 2>e-gl &&
	test_json d-gl.json "[(f[\"file\"], f[\"line\"]) for f in d[\"gate\"][\"jobs\"][\"secrets\"][\"findings\"]] == [(\"migrated/b.py\", 1), (\"migrated/c.js\", 2)]" &&
	test_json d-gl.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"scan\"][\"suppressed\"][\"inline\"] == 1"
'

test_expect_success 'published example keys are no findings, and count as allowlisted' '
	test_when_finished "rm -rf examples" &&
	mkdir examples &&
	sk=$(printf "%s%s" sk_te st_4eC39HqLyjWDarjtT1zdp7dc) &&
	fb=$(printf "%s%s" AI zaSyAnLA7NfeLquW1tJFpx_eQCxoX-oo6YyIs) &&
	printf "stripe.api_key = \"%s\"\nmaps = \"%s\"\n" "$sk" "$fb" >examples/docs.py &&
	printf "stripe.api_key = \"%sX\"\n" "$sk" >examples/near.py &&
	test_expect_code 1 ci-gate --secrets --all-files --new examples >d-ex.json 2>e-ex &&
	test_json d-ex.json "[(f[\"rule\"], f[\"file\"]) for f in d[\"gate\"][\"jobs\"][\"secrets\"][\"findings\"]] == [(\"stripe-key\", \"examples/near.py\")]" &&
	test_json d-ex.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"scan\"][\"suppressed\"][\"allowlist\"] == 2"
'

test_expect_success 'the allowlist: paths and values, as regular expressions' '
	cat >spec.json <<-EOF &&
	{"jobs": {"secrets": {"builtin": "secrets", "all_files": true,
	  "allowlist": {"paths": ["^fixtures/"], "regexes": ["^AK.IAM4"]}}}}
	EOF
	sed -i "s/AK\.IA/AKIA/" spec.json &&
	test_expect_code 1 ci-gate --new -f spec.json >d2.json 2>e2 &&
	python3 -c "import json; print([f[\"file\"] for f in json.load(open(\"d2.json\"))[\"gate\"][\"jobs\"][\"secrets\"][\"findings\"]])" >files &&
	test_grep "src/app.py" files && ! grep -q fixtures files && ! grep -q known.py files &&
	test_json d2.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"scan\"][\"skipped\"][\"allowlist\"] == 1" &&
	test_json d2.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"scan\"][\"suppressed\"][\"allowlist\"] == 1"
'

test_expect_success '--write-baseline records every finding and passes' '
	ci-gate --secrets --all-files --new --write-baseline .secrets-baseline.json >d3.json 2>e3 &&
	test_json .secrets-baseline.json "len(d[\"findings\"]) == 3 and all(len(f[\"fingerprint\"]) == 64 for f in d[\"findings\"])" &&
	test_json d3.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"baseline_written\"] == {\"file\": \".secrets-baseline.json\", \"findings\": 3}" &&
	test_json d3.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"scan\"][\"suppressed\"][\"baseline\"] == 3" &&
	! grep -F -e "$aws1" -e "$gh" -e "$aws3" .secrets-baseline.json
'

test_expect_success '--baseline then passes' '
	ci-gate --secrets --all-files --new --baseline .secrets-baseline.json >d4.json 2>e4 &&
	test $(count d4.json) = 0
'

test_expect_success '... even after the secrets moved to other lines' '
	{ printf "# a comment\n\nimport os\n" && cat src/app.py; } >tmp && mv tmp src/app.py &&
	ci-gate --secrets --all-files --new --baseline .secrets-baseline.json >d5.json 2>e5 &&
	test $(count d5.json) = 0
'

test_expect_success '... but a new secret still fails' '
	printf "again = \"%s\"\nnew = \"%s\"\n" "$aws1" "$SCAN_AWS_KEY_4" >>src/app.py &&
	test_expect_code 1 ci-gate --secrets --all-files --new --baseline .secrets-baseline.json >d6.json 2>e6
'

test_expect_success '... and only it is reported' '
	test $(count d6.json) = 1 &&
	test_json d6.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"findings\"][0][\"line\"] == 6"
'

test_expect_success 'the same secret copied to another file is a new finding' '
	cp src/known.py src/copy.py &&
	{ ci-gate --secrets --all-files --new --baseline .secrets-baseline.json src/copy.py >d7.json 2>e7; test $? = 1; } &&
	test $(count d7.json) = 1
'

test_expect_success 'a baseline that is not one is an error of the job, with its place' '
	echo "{\"findings\": [{\"fingerprint\": \"abc\"}]}" >bad-baseline.json &&
	{ ci-gate --secrets --all-files --new --baseline bad-baseline.json src >d8.json 2>e8; test $? = 1; } &&
	test_json d8.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"status\"] == \"error\"" &&
	test_json d8.json "\"bad-baseline.json:1:15: findings[0].fingerprint: expected 64 hex digits\" in d[\"gate\"][\"jobs\"][\"secrets\"][\"reason\"]"
'

test_expect_success 'a missing baseline is an error too' '
	{ ci-gate --secrets --all-files --new --baseline nope.json src >d9.json 2>e9; test $? = 1; } &&
	test_json d9.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"status\"] == \"error\" and \"nope.json\" in d[\"gate\"][\"jobs\"][\"secrets\"][\"reason\"]"
'

test_expect_success 'disable turns a rule off' '
	echo "{\"jobs\": {\"secrets\": {\"builtin\": \"secrets\", \"paths\": \"fixtures\", \"all_files\": true, \"disable\": [\"github-token\", \"generic-secret\"]}}}" >dis.json &&
	ci-gate --new -f dis.json >d10.json 2>e10 &&
	test $(count d10.json) = 0
'

# spec_error NAME SPEC MESSAGE: exit 2 and MESSAGE on stderr.
spec_error() {
	printf '%s\n' "$2" >bad.json
	want=$3
	test_expect_success "spec error: $1" '
		{ ci-gate --new -f bad.json >out 2>err; echo $? >rc; } &&
		test $(cat rc) = 2 && test_grep "$want" err &&
		test_json out "d[\"gate\"][\"status\"] == \"error\""
	'
}

spec_error 'an unknown built-in' '{"jobs": {"s": {"builtin": "lint"}}}' \
	"bad.json:1:17: jobs.s.builtin: unknown built-in 'lint' (expected secrets or review)"
spec_error 'an unknown option, with its path and place' \
	'{"jobs": {"s": {"builtin": "secrets",
	  "alowlist": {}}}}' \
	'bad.json:2:4: jobs.s.alowlist: unknown key'
spec_error 'an unknown allowlist key' '{"jobs": {"s": {"builtin": "secrets", "allowlist": {"path": []}}}}' \
	'jobs.s.allowlist.path: unknown key (expected paths, regexes)'
spec_error 'a bad regular expression' '{"jobs": {"s": {"builtin": "secrets", "allowlist": {"paths": ["ok", "a(b"]}}}}' \
	'jobs.s.allowlist.paths\[1\]: bad regular expression'
spec_error 'an unknown rule' '{"jobs": {"s": {"builtin": "secrets", "disable": ["aws"]}}}' \
	"jobs.s.disable: no rule 'aws'"
spec_error 'two modes' '{"jobs": {"s": {"builtin": "secrets", "staged": true, "all_files": true}}}' \
	'jobs.s.all_files: give at most one of all_files, since and staged'
spec_error 'a bad size' '{"jobs": {"s": {"builtin": "secrets", "max_file_size": "big"}}}' \
	'jobs.s.max_file_size: expected a size'
spec_error 'run in a built-in job' '{"jobs": {"s": {"builtin": "secrets", "run": "true"}}}' \
	'jobs.s.run: not allowed in a built-in job'
spec_error 'a review option in a secrets job' '{"jobs": {"s": {"builtin": "secrets", "approvals": 2}}}' \
	'jobs.s.approvals: unknown key'
spec_error 'a bad review option' '{"jobs": {"r": {"builtin": "review", "approvals": -1}}}' \
	'jobs.r.approvals: expected an integer from 0 to 100'
spec_error 'a review base that looks like an option' '{"jobs": {"r": {"builtin": "review", "base": "--output=x"}}}' \
	"jobs.r.base: a revision may not begin with '-'"

test_expect_success 'a built-in job takes needs, timeout, allow_failure like any job' '
	cat >mixed.json <<-EOF &&
	{"jobs": {
	  "lint": {"run": "true"},
	  "secrets": {"builtin": "secrets", "paths": "src", "all_files": true,
	              "needs": ["lint"], "timeout": "1m", "allow_failure": true}
	}}
	EOF
	ci-gate --new -f mixed.json >d11.json 2>e11 &&
	test_json d11.json "d[\"gate\"][\"status\"] == \"passed\" and d[\"gate\"][\"summary\"][\"allowed_failures\"] == 1" &&
	test_json d11.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"status\"] == \"failed\" and d[\"gate\"][\"jobs\"][\"secrets\"][\"needs\"] == [\"lint\"]"
'

test_expect_success 'the dry run lists a built-in job like the others' '
	ci-gate -n -f mixed.json >plan &&
	test_grep "2: secrets (after lint)" plan
'

test_done
