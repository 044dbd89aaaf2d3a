#!/bin/sh
test_description='ci-gate refuses bad specs with their place, before running anything'
. "${0%/*}/test-lib.sh"

# spec_error NAME SPEC MESSAGE: exit 2, MESSAGE on stderr, nothing ran.
spec_error() {
	printf '%s\n' "$2" >spec.json
	want=$3
	test_expect_success "spec error: $1" '
		rm -f ran &&
		{ ci-gate --new -f spec.json >out 2>err; echo $? >rc; } &&
		test $(cat rc) = 2 && ! test -e ran &&
		test_grep "$want" err
	'
}

spec_error 'unknown job key, with its path and place' \
	'{"jobs": {"test": {"run": "touch ran",
	   "timeot": "5m"}}}' \
	'spec.json:2:5: jobs.test.timeot: unknown key'
spec_error 'unknown top-level key' '{"jobs": {}, "job": 1}' 'spec.json:1:14: job: unknown key'
spec_error 'cycle' \
	'{"jobs": {"a": {"run": "touch ran", "needs": ["c"]}, "b": {"run": "true", "needs": ["a"]}, "c": {"run": "true", "needs": ["b"]}}}' \
	'the needs form a cycle: a -> c -> b -> a'
spec_error 'self dependency' '{"jobs": {"a": {"run": "touch ran", "needs": "a"}}}' "job 'a' needs itself"
spec_error 'unknown dependency' \
	'{"jobs": {"a": {"run": "touch ran", "needs": ["lint"]}}}' \
	"job 'a' needs 'lint', which is not defined"
spec_error 'run and argv' '{"jobs": {"a": {"run": "touch ran", "argv": ["true"]}}}' 'either run or argv'
spec_error 'neither run nor argv' '{"jobs": {"a": {"needs": []}}}' 'needs run'
spec_error 'run of the wrong type' '{"jobs": {"a": {"run": 5}}}' 'jobs.a.run: expected a shell command'
spec_error 'bad timeout' '{"jobs": {"a": {"run": "touch ran", "timeout": "5 minutes"}}}' "jobs.a.timeout: bad duration '5 minutes'"
spec_error 'numeric timeout' '{"jobs": {"a": {"run": "touch ran", "timeout": 30}}}' 'expected a duration string'
spec_error 'coverage without a report' '{"jobs": {"a": {"run": "touch ran", "coverage": {"min_lines": 80}}}}' 'needs the report'
spec_error 'two coverage reports' '{"jobs": {"a": {"run": "x", "coverage": {"lcov": "a", "istanbul": "b"}}}}' 'only one of lcov'
spec_error 'threshold over 100' '{"jobs": {"a": {"run": "x", "coverage": {"lcov": "a", "min_lines": 180}}}}' 'jobs.a.coverage.min_lines: expected a percentage'
spec_error 'bad job name' '{"jobs": {"a/b": {"run": "touch ran"}}}' 'bad job name'
spec_error 'env with a number' '{"jobs": {"a": {"run": "x", "env": {"N": 1}}}}' 'N: expected a string'
spec_error 'allow_failure not a bool' '{"jobs": {"a": {"run": "x", "allow_failure": "yes"}}}' 'expected true or false'
spec_error 'max_parallel zero' '{"max_parallel": 0, "jobs": {"a": {"run": "x"}}}' 'max_parallel: expected an integer'
spec_error 'not JSON' '{"jobs": {"a": {"run": "x",}}}' 'spec.json:1:28: trailing comma'
spec_error 'truncated' '{"jobs": {"a": ' 'spec.json:2:1: '
spec_error 'duplicate job' '{"jobs": {"a": {"run": "x"}, "a": {"run": "y"}}}' "duplicate key 'a'"
spec_error 'no jobs key' '{"timeout": "1m"}' 'jobs: missing'
spec_error 'an unknown built-in gate' '{"jobs": {"s": {"builtin": "nope"}}}' "jobs.s.builtin: unknown built-in 'nope'"
spec_error 'an array' '[]' 'expected an object'

test_expect_success 'comments are allowed in spec files' '
	cat >c.json <<-\EOF &&
	// line comment
	{ /* block
	     comment */ "jobs": {"a": {"run": "true"}} // trailing
	}
	EOF
	ci-gate --new -f c.json >doc.json 2>err
'

test_expect_success 'a missing spec file names it' '
	test_expect_code 2 ci-gate --new -f nope.json >out 2>err &&
	test_grep "nope.json" err
'

test_expect_success 'a spec error still writes the document, marked error' '
	printf "{\"jobs\": {\"a\": {\"rnu\": 1}}}" >bad.json &&
	{ ci-gate --new -f bad.json >doc.json 2>err; test $? = 2; } &&
	test_json doc.json "d[\"gate\"][\"status\"] == \"error\"" &&
	test_json doc.json "\"jobs.a.rnu: unknown key\" in d[\"gate\"][\"reason\"]" &&
	test_json doc.json "d[\"status\"] == \"failed\""
'

test_expect_success 'command-line errors: -g without =' 'test_expect_code 2 ci-gate --new -g lint'
test_expect_success 'command-line errors: --needs for an unknown job' 'test_expect_code 2 ci-gate --new -g a=true --needs b:a'
test_expect_success 'command-line errors: -g twice with one name' 'test_expect_code 2 ci-gate --new -g a=true -g a=false'
test_expect_success 'command-line errors: bad -j' 'test_expect_code 2 ci-gate --new -j 0 -g a=true'
test_expect_success 'command-line errors: bad --timeout' 'test_expect_code 2 ci-gate --new --timeout 5 -g a=true'
test_expect_success 'command-line errors: stray argument' 'test_expect_code 2 ci-gate --new -g a=true extra'

test_done
