#!/bin/sh
test_description='examples/ci and scripts/pipeline.sh: the YAML parses, every option they pass exists'
. "${0%/*}/test-lib.sh"

test_tool_prereq YAML python3-yaml /usr/bin/python3 -c 'import yaml'
test_tool_prereq YAMLLINT yamllint command -v yamllint

EX=$TEST_DIRECTORY/../examples

check_flags() {
	"$TEST_DIRECTORY/helpers/check-flags" "$@"
}

test_expect_success YAML 'the GitHub Actions and GitLab CI files parse as YAML, with the keys their services read' '
	/usr/bin/python3 - "$EX/ci/github-actions.yml" "$EX/ci/gitlab-ci.yml" <<-\PY
	import sys, yaml
	gh = yaml.safe_load(open(sys.argv[1]))
	assert "jobs" in gh and gh["jobs"], "no jobs"
	assert True in gh or "on" in gh, "no on:"
	for name, job in gh["jobs"].items():
	    assert "runs-on" in job and "steps" in job, name
	gl = yaml.safe_load(open(sys.argv[2]))
	assert "stages" in gl, "no stages"
	jobs = [k for k, v in gl.items() if isinstance(v, dict) and "script" in v]
	assert jobs, "no jobs"
	for j in jobs:
	    assert gl[j].get("stage") in gl["stages"], j
	PY
'

test_expect_success YAMLLINT 'yamllint (relaxed) finds no error in the YAML files' '
	yamllint -d relaxed "$EX/ci/github-actions.yml" "$EX/ci/gitlab-ci.yml" "$EX/ci/argo-rollout.yaml"
'

test_expect_success 'every option passed to a tool is in its --help' '
	check_flags "$EX"/ci/* "$TEST_DIRECTORY/../scripts/pipeline.sh" \
		"$TEST_DIRECTORY/../scripts/demo" "$EX/app/README"
'

test_expect_success 'the checker catches an option a tool does not have' '
	printf "run: |\n  ci-gate --new -f gates.json \\\\\n    --junit-xml out.xml | ci-push --layoutt x\n" >bad.yml &&
	test_expect_code 1 check_flags bad.yml >out &&
	test_grep "bad.yml:3: ci-gate has no --junit-xml" out &&
	test_grep "bad.yml:3: ci-push has no --layoutt" out
'

test_expect_success 'the shell scripts parse' '
	sh -n "$TEST_DIRECTORY/../scripts/pipeline.sh" &&
	sh -n "$TEST_DIRECTORY/../scripts/demo" &&
	sh -n "$EX/ci/argo-step"
'

test_done
