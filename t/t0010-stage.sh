#!/bin/sh
test_description='every tool runs the same stage skeleton: options, stdin rules, upstream skip, checked writes'
. "${0%/*}/test-lib.sh"

TOOLS="ci-gate ci-build ci-push ci-smoke ci-canary ci-deploy"
version=$(sed -n 's/^VERSION *= *//p' "$SRC_ROOT/Makefile")

test_expect_success 'setup: a context, a Hurl file, a failed upstream document' '
	test -n "$version" &&
	mkdir ctx && echo hello >ctx/hello.txt &&
	printf "FROM scratch\nCOPY hello.txt /\n" >ctx/Dockerfile &&
	printf "GET http://127.0.0.1:9/\nHTTP 200\n" >check.hurl &&
	echo "{\"ci\":1,\"run\":{\"id\":\"x\"},\"status\":\"failed\",\"stages\":[{\"name\":\"gate\",\"status\":\"failed\"}],\"gate\":{\"status\":\"failed\"}}" >failed.json
'

# The section of each tool, for test_json: ci-deploy's is one per
# environment (deploy.staging).
section() {
	case "$1" in
	ci-deploy) echo "d[\"deploy\"][\"staging\"]" ;;
	*) echo "d[\"${1#ci-}\"]" ;;
	esac
}

for t in $TOOLS; do
	test_expect_success "$t --version prints the program version and nothing else" '
		$t --version >out 2>err &&
		echo "$t $version" >expect &&
		test_cmp expect out &&
		! test -s err
	'

	test_expect_success "$t --version on a full disk: exit 74 with a message" '
		test_expect_code 74 $t --version >/dev/full 2>err &&
		test_grep "$t: error: " err
	'

	test_expect_success "$t --help prints usage on stdout" '
		$t --help >out &&
		test_grep "^usage: $t" out &&
		test_grep "[-]-version-tag" out &&
		test_grep "[-]-new" out
	'

	test_expect_success "$t: an unknown option is named, with the program name, not its path" '
		(cd "$SRC_ROOT" && test_expect_code 2 ./$t --bogus) </dev/null >out 2>err &&
		! test -s out &&
		test_grep "^$t: error: unknown option .--bogus." err &&
		test_grep "try .$t --help." err
	'

	test_expect_success "$t: an option without its value is named" '
		(cd "$SRC_ROOT" && test_expect_code 2 ./$t --version-tag) </dev/null >out 2>err &&
		! test -s out &&
		test_grep "^$t: error: option .--version-tag. needs a value" err
	'

	test_expect_success "$t: a failed upstream stage is skipped, exit 1, document written" '
		test_expect_code 1 $t $(test_stage_args $t) <failed.json >doc.json 2>err &&
		sec=$(section $t) &&
		test_json doc.json "$sec[\"status\"] == \"skipped\" and $sec[\"failed_stage\"] == \"gate\"" &&
		test_json doc.json "d[\"status\"] == \"failed\""
	'

	test_expect_success "$t: invalid JSON on stdin is exit 65, nothing on stdout" '
		echo "{\"ci\":" | test_expect_code 65 $t $(test_stage_args $t) >out 2>err &&
		! test -s out &&
		test_grep "invalid pipeline document" err
	'
done

for t in ci-build ci-push ci-smoke ci-canary ci-deploy; do
	test_expect_success "$t: an empty pipe means the stage before died: exit 65" '
		printf "" | test_expect_code 65 $t $(test_stage_args $t) >out 2>err &&
		! test -s out &&
		test_grep "no pipeline document on stdin" err
	'

	test_expect_success "$t: an empty file too" '
		: >empty &&
		test_expect_code 65 $t $(test_stage_args $t) <empty >out 2>err &&
		! test -s out
	'
done

test_expect_success 'ci-gate: an empty pipe starts a document (the first stage)' '
	printf "" | ci-gate -g ok=true >doc.json 2>err &&
	test_json doc.json "d[\"gate\"][\"status\"] == \"passed\""
'

test_expect_success 'ci-gate: /dev/null on stdin starts a new document' '
	ci-gate -g ok=true </dev/null >doc.json 2>err &&
	test_json doc.json "d[\"gate\"][\"status\"] == \"passed\" and d[\"run\"][\"id\"]"
'

test_expect_success 'ci-build: /dev/null on stdin starts a new document' '
	(cd ctx && ci-build -o ../img </dev/null >../doc.json 2>../err) &&
	test_json doc.json "d[\"build\"][\"status\"] == \"passed\" and d[\"run\"][\"id\"]" &&
	test -f img/index.json
'

test_expect_success 'ci-push: /dev/null on stdin starts a new document' '
	test_expect_code 65 ci-push --layout nonexistent 127.0.0.1:9/x:1 </dev/null >doc.json 2>err &&
	test_json doc.json "d[\"push\"][\"status\"] == \"failed\" and d[\"run\"][\"id\"]"
'

test_expect_success 'ci-smoke: /dev/null on stdin starts a new document' '
	test_expect_code 1 ci-smoke check.hurl </dev/null >doc.json 2>err &&
	test_json doc.json "d[\"smoke\"][\"status\"] == \"failed\" and d[\"run\"][\"id\"]"
'

test_expect_success 'the document on a full disk: exit 74 with a message' '
	test_expect_code 74 ci-gate -g ok=true </dev/null >/dev/full 2>err &&
	test_grep "ci-gate: error: cannot write the pipeline document" err &&
	(cd ctx && test_expect_code 74 ci-build -o ../img2 </dev/null >/dev/full 2>../err) &&
	test_grep "ci-build: error: cannot write the pipeline document" err
'

test_expect_success 'ci-push: a usage error leaves the document alone' '
	ci-gate -g ok=true </dev/null >gate.json &&
	test_expect_code 2 ci-push <gate.json >out 2>err &&
	! test -s out &&
	test_grep "no image to push" err
'

test_done
