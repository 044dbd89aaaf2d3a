#!/bin/sh
test_description='ci-gate in GitHub Actions: groups, annotations, step summary'
. "${0%/*}/test-lib.sh"

test_expect_success 'a failing gate under GITHUB_ACTIONS=true' '
	cat >spec.json <<-\EOF &&
	{"jobs": {
	  "lint": {"run": "echo linted"},
	  "test": {"run": "echo \"50%, a: b\"; echo second line; exit 2", "needs": ["lint"]},
	  "flaky": {"run": "exit 1", "allow_failure": true, "needs": ["lint"]}
	}}
	EOF
	: >summary.md &&
	test_expect_code 1 env GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY=$PWD/summary.md \
		ci-gate --new --keep-going -f spec.json >doc.json 2>err
'

test_expect_success 'each job log is in a group' '
	test_grep "^::group::lint: passed in" err &&
	test_grep "^linted$" err &&
	test_grep "^::endgroup::$" err &&
	test $(grep -c "^::group::" err) = 3 &&
	test $(grep -c "^::endgroup::" err) = 3
'

test_expect_success 'failures are error annotations, escaped by the rules' '
	grep "^::error " err >errors &&
	test $(wc -l <errors) = 1 &&
	test_grep "^::error title=ci-gate%3A test failed::exited with status 2%0A50%25, a: b%0Asecond line$" errors
'

test_expect_success 'an allowed failure is a warning' '
	test_grep "^::warning title=ci-gate%3A flaky failed::" err
'

test_expect_success 'the step summary has a Markdown table' '
	test_grep "^### ci-gate: failed" summary.md &&
	test_grep "^| Job | Status | Duration | Details |" summary.md &&
	test_grep "^| test | :x: failed | .* | exited with status 2 |" summary.md &&
	test_grep "^| lint | :white_check_mark: passed" summary.md
'

test_expect_success 'no live terminal codes in GitHub mode' '
	! grep "$(printf "\033")" err
'

test_expect_success 'at most 10 error annotations, then one warning' '
	args= &&
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do args="$args -g j$i=false"; done &&
	test_expect_code 1 env GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY=$PWD/s2.md ci-gate --new --keep-going $args >doc2.json 2>err2 &&
	test $(grep -c "^::error " err2) = 10
'

test_expect_success '... and the warning says so' '
	test $(grep -c "^::warning title=ci-gate::more failures" err2) = 1 &&
	test $(grep -c "^| j" s2.md) = 12
'

test_expect_success 'coverage warnings are warning annotations, the summary has the coverage' '
	printf "make: Entering directory\nSF:a.c\nDA:1,1\nDA:2,0\nend_of_record\n" >cov.info &&
	cat >spec2.json <<-\EOF &&
	{"jobs": {"test": {"run": "true", "coverage": {"lcov": "cov.info"}}}}
	EOF
	: >summary2.md &&
	env GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY=$PWD/summary2.md \
		ci-gate --new -f spec2.json >doc2.json 2>err2 &&
	test_grep "^::warning title=ci-gate%3A test coverage::cov.info:1: skipped a line that is not an lcov record$" err2 &&
	test_grep "^| test | :white_check_mark: passed | .* | lines 50.00% (1 of 2), branches no data |" summary2.md
'

test_done
