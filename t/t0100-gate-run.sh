#!/bin/sh
test_description='ci-gate runs the seed quality gates from a spec and the command line'
. "${0%/*}/test-lib.sh"
# Every test runs in (or reads what was run in) the git repository below.
test_require GIT

DATA=$TEST_DIRECTORY/data
export DATA

test_expect_success 'setup a git repository' '
	git init -q -b main repo &&
	(cd repo && echo hi >file && git add file &&
	 git commit -q -m initial &&
	 git remote add origin "https://ci:$GIT_REMOTE_TOKEN@git.example.com/acme/app.git")
'

test_expect_success 'the seed layout passes from a spec file' '
	(cd repo && ci-gate -f "$DATA/seed-gates.json" --version-tag 2.4.1 >../doc.json 2>../err) &&
	test_json doc.json "d[\"gate\"][\"status\"] == \"passed\"" &&
	test_json doc.json "list(d[\"gate\"][\"jobs\"]) == [\"lint\", \"test\", \"integration\", \"security\"]" &&
	test_json doc.json "all(j[\"status\"] == \"passed\" for j in d[\"gate\"][\"jobs\"].values())" &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"test\"][\"coverage\"][\"lines\"] == 92" &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"test\"][\"coverage\"][\"passed\"] is True" &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"test\"][\"junit\"][\"tests\"] == 4" &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"test\"][\"needs\"] == [\"lint\"]" &&
	test_json doc.json "d[\"gate\"][\"summary\"][\"passed\"] == 4"
'

test_expect_success 'the document is one line and its run comes from git' '
	test $(wc -l <doc.json) = 1 &&
	commit=$(git -C repo rev-parse HEAD) &&
	test_json doc.json "d[\"ci\"] == 1 and d[\"status\"] == \"running\"" &&
	test_json doc.json "d[\"run\"][\"source\"][\"commit\"] == \"$commit\"" &&
	test_json doc.json "d[\"run\"][\"source\"][\"ref\"] == \"refs/heads/main\"" &&
	test_json doc.json "d[\"run\"][\"source\"][\"version\"] == \"2.4.1\"" &&
	test_json doc.json "d[\"run\"][\"id\"].endswith(\"-\" + \"$commit\"[:7])" &&
	test_json doc.json "d[\"stages\"][0][\"name\"] == \"gate\" and d[\"stages\"][0][\"status\"] == \"passed\""
'

test_expect_success 'credentials in the remote URL never reach the document: shown as ***' '
	test_json doc.json "d[\"run\"][\"source\"][\"repository\"] == \"https://***@git.example.com/acme/app.git\"" &&
	! grep -e "$GIT_REMOTE_TOKEN" doc.json
'

test_expect_success 'each job has its full log and the tail in the document' '
	test_grep "48 tests passed" repo/ci-out/gate/test.log &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"lint\"][\"log\"] == \"ci-out/gate/lint.log\"" &&
	test_json doc.json "\"eslint: 0 problems\" in d[\"gate\"][\"jobs\"][\"lint\"][\"tail\"]"
'

test_expect_success 'needs order holds: every dependant starts after lint ends' '
	python3 - doc.json <<-\PY
	import json, sys
	d = json.load(open(sys.argv[1]))["gate"]["jobs"]
	# test -f lint.done in each job proves the order; exit codes prove it ran
	assert all(d[j]["exit_code"] == 0 for j in ("test", "integration", "security"))
	PY
'

test_expect_success 'the same gate from the command line' '
	(cd repo && rm -f lint.done && ci-gate --new -g "lint=touch lint.done" \
		-g "test=test -f lint.done" -g "integration=test -f lint.done" \
		-g "security=test -f lint.done" \
		--needs test:lint --needs integration:lint --needs security:lint) >cli.json 2>err &&
	test_json cli.json "d[\"gate\"][\"status\"] == \"passed\"" &&
	test_json cli.json "d[\"gate\"][\"jobs\"][\"security\"][\"needs\"] == [\"lint\"]" &&
	test_json cli.json "d[\"gate\"][\"summary\"][\"total\"] == 4"
'

test_expect_success '--needs takes a comma-separated list' '
	ci-gate --new -g "a=true" -g "b=true" -g "c=true" --needs c:a,b >n.json 2>err &&
	test_json n.json "d[\"gate\"][\"jobs\"][\"c\"][\"needs\"] == [\"a\", \"b\"]"
'

test_expect_success 'argv jobs run without a shell' '
	cat >argv.json <<-\EOF &&
	{"jobs": {"echo": {"argv": ["printf", "%s|", "a b", "$HOME"]}}}
	EOF
	ci-gate --new -f argv.json >a.json 2>err &&
	test_grep "a b|\$HOME|" ci-out/gate/echo.log
'

test_expect_success 'env and cwd reach the job' '
	mkdir -p sub &&
	cat >env.json <<-\EOF &&
	{"jobs": {"e": {"run": "echo \"$GREETING from $(basename $PWD)\"", "env": {"GREETING": "hello"}, "cwd": "sub"}}}
	EOF
	ci-gate --new -f env.json >e.json 2>err &&
	test_grep "hello from sub" ci-out/gate/e.log
'

test_expect_success '--out puts the logs elsewhere' '
	ci-gate --new -o logs/here -g "x=echo out-test" >o.json 2>err &&
	test_grep out-test logs/here/x.log &&
	test_json o.json "d[\"gate\"][\"jobs\"][\"x\"][\"log\"] == \"logs/here/x.log\""
'

test_expect_success 'gates.json in the current directory is the default' '
	mkdir -p dflt && cp "$DATA/seed-gates.json" dflt/gates.json &&
	(cd dflt && ci-gate --new >../d.json 2>../err) &&
	test_json d.json "d[\"gate\"][\"spec\"] == \"gates.json\" and d[\"gate\"][\"status\"] == \"passed\""
'

test_expect_success 'no spec and no jobs says so' '
	mkdir -p empty && cd empty &&
	test_expect_code 2 ci-gate --new >out 2>err &&
	test_grep "no gates.json here" err
'

test_expect_success '--dry-run prints the plan with parallel groups and runs nothing' '
	(cd repo && rm -f lint.done && ci-gate -n -j 3 -f "$DATA/seed-gates.json" >../plan) &&
	cat >expect <<-\EOF &&
	plan: 4 jobs in 2 steps, at most 3 at once
	  1: lint
	  2: test (after lint), integration (after lint), security (after lint)   [parallel]
	EOF
	test_cmp expect plan &&
	! test -e repo/lint.done
'

test_expect_success 'progress lines go to stderr, one per start and finish' '
	ci-gate --new -g "a=true" -g "b=true" --needs b:a >p.json 2>err &&
	test_grep "ci-gate: a: started" err &&
	test_grep "ci-gate: b: passed" err &&
	ci-gate -q --new -g "a=true" >p.json 2>err &&
	test_must_be_empty=$(cat err) && test -z "$test_must_be_empty"
'

test_expect_success '--version and --help' '
	ci-gate --version >v && test_grep "^ci-gate [0-9]" v &&
	ci-gate --help >h && test_grep "usage: ci-gate" h
'

test_expect_success 'a bad option is a usage error' '
	test_expect_code 2 ci-gate --no-such-option
'

test_done
