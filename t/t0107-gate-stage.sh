#!/bin/sh
test_description='ci-gate on the stage skeleton: stdin, usage errors, --version, JUnit, the child'
. "${0%/*}/test-lib.sh"

DATA=$TEST_DIRECTORY/data
doc='{"ci":1,"run":{"id":"20261126T090000Z-abc123f"},"status":"running","stages":[]}'

test_expect_success 'an empty pipe starts a new document (the first stage)' '
	: | ci-gate -g "ok=true" >pipe.json 2>err &&
	test_json pipe.json "d[\"ci\"] == 1 and d[\"gate\"][\"status\"] == \"passed\""
'

test_expect_success 'so does an empty file, and whitespace' '
	: >empty && ci-gate -g "ok=true" <empty >file.json 2>err &&
	test_json file.json "d[\"gate\"][\"status\"] == \"passed\"" &&
	printf "  \n\n" | ci-gate -g "ok=true" >ws.json 2>err &&
	test_json ws.json "d[\"gate\"][\"status\"] == \"passed\""
'

test_expect_success '/dev/null on stdin starts a new document, with the version tag' '
	ci-gate --version-tag 9.9.9 -g "ok=true" </dev/null >null.json 2>err &&
	test_json null.json "d[\"run\"][\"source\"][\"version\"] == \"9.9.9\""
'

# usage_error NAME ARGS: exit 2, nothing on stdout, nothing run, even
# with a document on stdin (ARGS is shell text).
usage_error() {
	test_expect_success "an option mistake leaves the document alone: $1" "
		rm -f ran &&
		{ echo \"\$doc\" | ci-gate $2 >out 2>err; echo \$? >rc; } &&
		test \$(cat rc) = 2 && ! test -s out && ! test -e ran &&
		test_grep \"try .ci-gate --help.\" err
	"
}

usage_error '-g without =' '-g lint -g "x=touch ran"'
usage_error '-g with a bad name' '-g "a/b=true" -g "x=touch ran"'
usage_error '--needs without :' '-g "x=touch ran" --needs x'
usage_error 'bad -j' '-j 0 -g "x=touch ran"'
usage_error 'bad --timeout' '--timeout 5 -g "x=touch ran"'
usage_error 'unknown option' '--no-such-option -g "x=touch ran"'
usage_error 'stray argument' '-g "x=touch ran" extra'
usage_error 'a scan option without --secrets' '--staged -g "x=touch ran"'

test_expect_success 'a mistake in the jobs is the verdict: the document says error' '
	{ echo "$doc" | ci-gate -g "a=true" -g "a=false" >dup.json 2>err; test $? = 2; } &&
	test_json dup.json "d[\"gate\"] == {\"status\": \"error\", \"reason\": \"-g: job \x27a\x27 is defined twice\"}" &&
	{ echo "$doc" | ci-gate -g "a=true" --needs b:a >needs.json 2>err; test $? = 2; } &&
	test_json needs.json "\"no job named \x27b\x27\" in d[\"gate\"][\"reason\"]"
'

test_expect_success '--version prints the version alone, the one of the Makefile' '
	ci-gate --version >v &&
	test $(wc -l <v) = 1 &&
	version=$(sed -n "s/^VERSION *= *//p" "$SRC_ROOT/Makefile") &&
	echo "ci-gate $version" >expect && test_cmp expect v
'

test_expect_success '--help lists the options of the table and the common ones' '
	ci-gate --help >h &&
	test_grep "^  -f, --file FILE" h && test_grep "^      --codequality FILE" h &&
	test_grep "^      --list-rules" h && test_grep "^      --new" h &&
	test_grep "^  -v, --verbose" h
'

test_expect_success '--dry-run reads no document and writes none' '
	echo "not a document" | ci-gate -n -g "a=true" >plan 2>err &&
	test_grep "^plan: 1 job in 1 step" plan
'

test_expect_success '--dry-run to a full disk is an I/O error' '
	{ ci-gate -n -g "a=true" >/dev/full 2>err; test $? = 74; }
'

test_expect_success 'JUnit: totals on testsuites, and the extra case for a job failing with passing cases' '
	cat >spec.json <<-EOF &&
	{"jobs": {"unit": {"run": "cp \"$DATA/junit-pass.xml\" j.xml; exit 1", "junit": "j.xml"},
	          "lint": {"run": "true"}}}
	EOF
	{ ci-gate --new --keep-going --junit out.xml -f spec.json >doc.json 2>err; test $? = 1; } &&
	python3 - out.xml <<-\PY
	import sys, xml.etree.ElementTree as ET
	root = ET.parse(sys.argv[1]).getroot()
	assert root.get("name") == "ci-gate", root.attrib
	assert root.get("tests") == "6" and root.get("failures") == "1", root.attrib
	unit = root.find("testsuite[@name=\"unit\"]")
	assert unit.get("tests") == "5" and unit.get("failures") == "1", unit.attrib
	last = unit.findall("testcase")[-1]
	assert last.get("classname") == "ci-gate" and last.get("name") == "unit", last.attrib
	assert last.find("failure").get("message") == "exited with status 1"
	lint = root.find("testsuite[@name=\"lint\"]")
	assert [c.get("classname") for c in lint.findall("testcase")] == ["ci-gate"]
	PY
'

test_expect_success 'the built-in child refuses to be called by hand' '
	{ ci-gate --builtin-child nope a b >out 2>err; test $? = 2; } &&
	test_grep "is for ci-gate.s own use" err
'

test_done
