#!/bin/sh
test_description='ci-rollback --tag-stable moves the stable tag in a real registry (docker-registry)'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/registry-lib.sh"

CI_STATE_DIR=$TRASH/state
export CI_STATE_DIR

test_expect_success REGISTRY,UMOCI 'setup: a registry holding two releases of shop' '
	start_registry reg &&
	reg=127.0.0.1:$(cat reg/port) &&
	make_image img v1 1000 && make_image img v2 2000 &&
	ci-push --new -q --layout img --manifest v1 "$reg/shop:v1" >p1.json &&
	ci-push --new -q --layout img --manifest v2 "$reg/shop:v2" >p2.json &&
	test_json p1.json "d[\"push\"][\"digest\"] != \"\"" 
'

test_expect_success REGISTRY,SKOPEO 'a release that passed: stable points at its digest' '
	reg=127.0.0.1:$(cat reg/port) &&
	d1=$(test_jval p1.json "d[\"push\"][\"digest\"]") &&
	"$TEST_DIRECTORY/helpers/pipeline-doc" --version v1 --digest "$d1" --repo "$reg/shop" --run-id t1 >d1.json &&
	ci-rollback --tag-stable <d1.json >o1.json 2>e1 &&
	test_json o1.json "d[\"rollback\"][\"tag_stable\"] == {\"tag\": \"stable\", \"digest\": \"$d1\"}" &&
	test "$(skopeo_digest "$reg/shop:stable")" = "$d1"
'

test_expect_success REGISTRY,SKOPEO '... and moves with the next one' '
	reg=127.0.0.1:$(cat reg/port) &&
	d2=$(test_jval p2.json "d[\"push\"][\"digest\"]") &&
	"$TEST_DIRECTORY/helpers/pipeline-doc" --version v2 --digest "$d2" --repo "$reg/shop" --run-id t2 >d2.json &&
	ci-rollback --tag-stable <d2.json >o2.json 2>e2 &&
	test "$(skopeo_digest "$reg/shop:stable")" = "$d2" &&
	test_json_lines state/releases.jsonl "[(r[\"version\"], r[\"status\"]) for r in d] == [(\"v1\", \"stable\"), (\"v1\", \"superseded\"), (\"v2\", \"stable\")]"
'

test_expect_success REGISTRY 'a registry that does not know the image: exit 2, the ledger already has it' '
	reg=127.0.0.1:$(cat reg/port) &&
	"$TEST_DIRECTORY/helpers/pipeline-doc" --version v9 --repo "$reg/nothing" --run-id t9 >d9.json &&
	test_expect_code 2 ci-rollback --tag-stable <d9.json >o9.json 2>e9 &&
	test_grep "nothing" e9 &&
	test_json o9.json "\"error\" in d[\"rollback\"][\"tag_stable\"]"
'

test_expect_success '--tag-stable and --password-stdin need a document on stdin' '
	test_expect_code 2 ci-rollback --app shop --status --tag-stable 2>e10 &&
	test_grep "goes with a pipeline document" e10 &&
	test_expect_code 2 ci-rollback --password-stdin <d1.json 2>e11 &&
	test_grep "use --password-file" e11
'

test_done
