#!/bin/sh
test_description='make demo, quick: a good release promoted, a bad one rolled back, alerted, blocked and unblocked'
. "${0%/*}/test-lib.sh"

test_tool_prereq HAPROXY haproxy command -v haproxy
test_tool_prereq REGISTRY docker-registry command -v docker-registry
test_tool_prereq SKOPEO skopeo command -v skopeo
test_tool_prereq UMOCI umoci command -v umoci
test_tool_prereq RUNC runc command -v runc
test_tool_prereq LCOV lcov command -v lcov
test_env_prereq ROOT test "$(id -u)" = 0

# The demo keeps its outputs under TMPDIR: here.
TMPDIR=$TRASH
export TMPDIR

test_expect_success HAPROXY,REGISTRY,SKOPEO,UMOCI,RUNC,LCOV,ROOT 'the demo runs its story to the end (quick mode)' '
	CI_DEMO_QUICK=1 "$TEST_DIRECTORY/../scripts/demo" </dev/null >demo.out 2>demo.err &&
	test_grep "the story went as told" demo.err &&
	ls -d ci-demo.* >dirs && test "$(wc -l <dirs)" = 1 &&
	ln -s "$(cat dirs)/out" out && ln -s "$(cat dirs)/state" state
'

test_expect_success HAPROXY,REGISTRY,SKOPEO,UMOCI,RUNC,LCOV,ROOT '1.1.0 was promoted: the canary went 5, 25, 50, 100 and HAProxy served it' '
	test_json out/1.1.0/pipeline.json "d[\"canary\"][\"status\"] == \"passed\" and d[\"rollback\"][\"status\"] == \"passed\"" &&
	test_json out/1.1.0/pipeline.json "[(s[\"weight\"], s[\"status\"]) for s in d[\"canary\"][\"steps\"]] == [(5, \"passed\"), (25, \"passed\"), (50, \"passed\"), (100, \"passed\")]" &&
	test_json out/1.1.0/pipeline.json "d[\"deploy\"][\"staging\"][\"status\"] == \"passed\" and d[\"deploy\"][\"production\"][\"slot\"] == \"green\"" &&
	test "$(cat out/1.1.0/served)" = 1.1.0 &&
	awk -F, "\$1 == \"greet\" && \$2 == \"green\" { print \$19 }" out/1.1.0/haproxy-stat.csv >w &&
	test "$(cat w)" = 100
'

test_expect_success HAPROXY,REGISTRY,SKOPEO,UMOCI,RUNC,LCOV,ROOT '1.2.0 passed staging, failed at 5%, and HAProxy serves 1.1.0 again' '
	test_json out/1.2.0/pipeline.json "d[\"smoke\"][\"status\"] == \"passed\" and d[\"canary\"][\"status\"] == \"failed\"" &&
	test_json out/1.2.0/pipeline.json "[s[\"weight\"] for s in d[\"canary\"][\"steps\"] if s[\"status\"] != \"pending\"] == [5]" &&
	test_json out/1.2.0/pipeline.json "d[\"rollback\"][\"status\"] == \"failed\" and d[\"status\"] == \"failed\"" &&
	test "$(cat out/1.2.0/served)" = 1.1.0 &&
	awk -F, "\$1 == \"greet\" && \$2 == \"blue\" { print \$19 }" out/1.2.0/haproxy-stat.csv >w &&
	test "$(cat w)" = 0
'

test_expect_success HAPROXY,REGISTRY,SKOPEO,UMOCI,RUNC,LCOV,ROOT 'one alert about 1.2.0 reached the receiver; the ledger has both releases' '
	test_json_lines out/alerts.jsonl "len([r for r in d if \"1.2.0\" in r[\"body\"][\"text\"] and \"rolled back\" in r[\"body\"][\"text\"].lower()]) == 1" &&
	test_json_lines state/releases.jsonl "[(r[\"version\"], r[\"status\"]) for r in d] == [(\"1.1.0\", \"stable\"), (\"1.2.0\", \"failed\")]"
'

test_expect_success HAPROXY,REGISTRY,SKOPEO,UMOCI,RUNC,LCOV,ROOT 'ci-gate refused while blocked; the block was lifted; nothing is left running' '
	test_json out/blocked.json "d[\"gate\"][\"status\"] in (\"failed\", \"error\")" &&
	test_grep "the pipeline is blocked since" out/blocked.err &&
	! test -e state/blocked.json &&
	test_grep "1.1.0/report.html" demo.err &&
	test_grep "1.2.0" out/1.2.0/report.html &&
	test_grep "rolled.back" out/1.2.0/report.html &&
	! grep -q "<script" out/1.2.0/report.html &&
	! pgrep -f "$(cat dirs)/lb/haproxy.cfg" &&
	! pgrep -f "$(cat dirs)/registry/config.yml" &&
	! runc list 2>/dev/null | grep -q "greet-"
'

test_done
