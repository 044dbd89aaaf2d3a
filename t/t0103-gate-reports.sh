#!/bin/sh
test_description='ci-gate reads JUnit and coverage reports and enforces thresholds'
. "${0%/*}/test-lib.sh"

DATA=$TEST_DIRECTORY/data

# gate_cov FORMAT FILE MIN [EXTRA]: a one-job spec copying FILE as the report.
gate_cov() {
	cat >spec.json <<-EOF
	{"jobs": {"test": {"run": "cp '$2' report", "coverage": {"$1": "report", "min_lines": $3 $4}}}}
	EOF
	ci-gate --new -f spec.json >doc.json 2>err
}

test_expect_success 'lcov 92% passes an 80% threshold' '
	gate_cov lcov "$DATA/lcov-92.info" 80 &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"test\"][\"coverage\"] == {\"format\": \"lcov\", \"report\": \"report\", \"lines\": 92, \"lines_total\": 25, \"lines_hit\": 23, \"branches\": 50, \"branches_total\": 2, \"branches_hit\": 1, \"min_lines\": 80, \"passed\": True}"
'

test_expect_success 'lcov 50% fails an 80% threshold' '
	test_expect_code 1 gate_cov lcov "$DATA/lcov-50.info" 80
'

test_expect_success '... and says by how much' '
	test_json doc.json "d[\"gate\"][\"jobs\"][\"test\"][\"status\"] == \"failed\"" &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"test\"][\"reason\"] == \"line coverage 50.00% is below the required 80%\"" &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"test\"][\"coverage\"][\"passed\"] is False"
'

test_expect_success 'cobertura 85% passes 80%' '
	gate_cov cobertura "$DATA/cobertura-85.xml" 80 &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"test\"][\"coverage\"][\"lines\"] == 85" &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"test\"][\"coverage\"][\"branches\"] == 75"
'

test_expect_success 'cobertura branches 75% fail min_branches 90' '
	test_expect_code 1 gate_cov cobertura "$DATA/cobertura-85.xml" 80 ", \"min_branches\": 90"
'

test_expect_success '... naming branch coverage' '
	test_json doc.json "\"branch coverage 75.00%\" in d[\"gate\"][\"jobs\"][\"test\"][\"reason\"]"
'

test_expect_success 'istanbul 70% fails 80%' '
	test_expect_code 1 gate_cov istanbul "$DATA/istanbul-70.json" 80
'

test_expect_success 'istanbul 70% passes 70%, branches 95% pass 90%' '
	gate_cov istanbul "$DATA/istanbul-70.json" 70 ", \"min_branches\": 90" &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"test\"][\"coverage\"][\"branches\"] == 95"
'

for fmt in lcov cobertura istanbul; do
	test_expect_success "a malformed $fmt report is an error" "
		printf 'this is not a report <<<\n' >bad.$fmt &&
		test_expect_code 1 gate_cov $fmt \"\$PWD/bad.$fmt\" 80
	"
	test_expect_success "... with a clear message ($fmt)" '
		test_json doc.json "d[\"gate\"][\"jobs\"][\"test\"][\"status\"] == \"error\"" &&
		test_json doc.json "d[\"gate\"][\"jobs\"][\"test\"][\"reason\"].startswith(\"coverage: \")" &&
		test_json doc.json "\"report\" in d[\"gate\"][\"jobs\"][\"test\"][\"reason\"]"
	'
done

test_expect_success 'lcov with make output around the records: read, with a warning' '
	{
		echo "make[1]: Entering directory '"'"'/src/app'"'"'" &&
		echo "SF:src/a.c" && echo "DA:1,1" && echo "DA:2,1" && echo "DA:3,0" &&
		echo "BRDA:2,0,0,1" && echo "BRDA:2,0,1,0" && echo "end_of_record" &&
		echo "make[1]: Leaving directory '"'"'/src/app'"'"'"
	} >make.info &&
	gate_cov lcov "$PWD/make.info" 60 ", \"min_branches\": 50" &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"test\"][\"status\"] == \"passed\"" &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"test\"][\"coverage\"][\"lines_total\"] == 3" &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"test\"][\"coverage\"][\"branches\"] == 50" &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"test\"][\"coverage\"][\"warnings\"] == [\"report:1: skipped 2 lines that are not lcov records, the first here\"]" &&
	test_grep "ci-gate: warning: test: coverage: report:1: skipped 2 lines that are not lcov records" err &&
	test_grep "test: coverage: lines 66.67% (2 of 3), branches 50.00% (1 of 2)" err
'

test_expect_success 'Cobertura and Istanbul: unknown elements and keys, named once' '
	cat >extra.xml <<-\EOF &&
	Generating coverage.xml
	<?xml version="1.0"?>
	<coverage lines-valid="4" lines-covered="4" branches-valid="2" branches-covered="2">
	<meta/><packages><package><meta/><classes/></package></packages></coverage>
	EOF
	gate_cov cobertura "$PWD/extra.xml" 80 &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"test\"][\"coverage\"][\"warnings\"] == [\"report:1: skipped 1 line before the XML (not part of the report)\", \"report:4:1: skipped the unknown element \u0027meta\u0027\"]" &&
	test_grep "warning: test: coverage: report:4:1: skipped the unknown element" err &&
	cat >extra.json <<-\EOF &&
	{"total": {"lines": {"total": 4, "covered": 4, "pct": 100, "extra": 1},
	           "mcdc": {"total": 1}, "branches": {"total": 2, "covered": 1, "pct": 50}}}
	EOF
	gate_cov istanbul "$PWD/extra.json" 80 &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"test\"][\"coverage\"][\"warnings\"] == [\"\u0027report\u0027: total.mcdc: skipped the unknown key\", \"\u0027report\u0027: total.lines.extra: skipped the unknown key\"]"
'

test_expect_success 'a report that counts no branch (BRF:0) has no branch data, not 100%' '
	printf "SF:a.c\nDA:1,1\nLF:1\nLH:1\nBRF:0\nBRH:0\nend_of_record\n" >nobr.info &&
	gate_cov lcov "$PWD/nobr.info" 80 &&
	test_json doc.json "\"branches\" not in d[\"gate\"][\"jobs\"][\"test\"][\"coverage\"]" &&
	test_json doc.json "\"warnings\" not in d[\"gate\"][\"jobs\"][\"test\"][\"coverage\"]" &&
	test_grep "test: coverage: lines 100.00% (1 of 1), branches no data" err
'

test_expect_success '... and a branch threshold on it is an error that says so' '
	test_expect_code 1 gate_cov lcov "$PWD/nobr.info" 80 ", \"min_branches\": 50" &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"test\"][\"status\"] == \"error\"" &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"test\"][\"reason\"] == \"branch coverage: no data in \u0027report\u0027 (it counts no branch), so min_branches 50% cannot be checked\""
'

test_expect_success 'a missing coverage report is an error' '
	cat >spec.json <<-\EOF &&
	{"jobs": {"test": {"run": "true", "coverage": {"lcov": "nowhere.info", "min_lines": 1}}}}
	EOF
	test_expect_code 1 ci-gate --new -f spec.json >doc.json 2>err &&
	test_json doc.json "\"nowhere.info\" in d[\"gate\"][\"jobs\"][\"test\"][\"reason\"]"
'

test_expect_success 'JUnit counts and nothing failed' '
	cat >spec.json <<-EOF &&
	{"jobs": {"unit": {"run": "mkdir -p reports && cp \"$DATA/junit-pass.xml\" reports/a.xml", "junit": "reports/*.xml"}}}
	EOF
	ci-gate --new -f spec.json >doc.json 2>err &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"unit\"][\"junit\"] == {\"tests\": 4, \"failures\": 0, \"errors\": 0, \"skipped\": 0, \"failed\": []}"
'

test_expect_success 'JUnit failures fail the job and are named' '
	cat >spec.json <<-EOF &&
	{"jobs": {"unit": {"run": "mkdir -p reports && cp \"$DATA/junit-pass.xml\" reports/a.xml && cp \"$DATA/junit-fail.xml\" reports/b.xml; exit 1", "junit": ["reports/*.xml"]}}}
	EOF
	test_expect_code 1 ci-gate --new -f spec.json >doc.json 2>err
'

test_expect_success '... with the counts of all matching files' '
	test_json doc.json "d[\"gate\"][\"jobs\"][\"unit\"][\"junit\"][\"tests\"] == 7" &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"unit\"][\"junit\"][\"failures\"] == 1" &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"unit\"][\"junit\"][\"skipped\"] == 1" &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"unit\"][\"junit\"][\"failed\"] == [\"tests.test_auth.test_profile\"]"
'

test_expect_success 'a job that exits 0 with failing JUnit cases fails' '
	cat >spec.json <<-EOF &&
	{"jobs": {"unit": {"run": "cp \"$DATA/junit-fail.xml\" j.xml", "junit": "j.xml"}}}
	EOF
	test_expect_code 1 ci-gate --new -f spec.json >doc.json 2>err &&
	test_json doc.json "\"JUnit report has 1 failures\" in d[\"gate\"][\"jobs\"][\"unit\"][\"reason\"]"
'

test_expect_success 'a malformed JUnit report is an error with its place' '
	cat >spec.json <<-\EOF &&
	{"jobs": {"unit": {"run": "printf \"<testsuite><testcase name=\\\"a\\\">\" >j.xml", "junit": "j.xml"}}}
	EOF
	test_expect_code 1 ci-gate --new -f spec.json >doc.json 2>err &&
	test_json doc.json "d[\"gate\"][\"jobs\"][\"unit\"][\"status\"] == \"error\"" &&
	test_json doc.json "\"j.xml:1:\" in d[\"gate\"][\"jobs\"][\"unit\"][\"reason\"]"
'

test_expect_success 'no file matching the junit glob is an error' '
	test_expect_code 1 ci-gate --new -f /dev/stdin >doc.json 2>err <<-\EOF
	{"jobs": {"unit": {"run": "true", "junit": "none/*.xml"}}}
	EOF
'

test_expect_success XMLLINT '--junit writes valid XML with a suite per job' '
	cat >spec.json <<-EOF &&
	{"jobs": {
	  "unit": {"run": "cp \"$DATA/junit-fail.xml\" j.xml; printf \"bad \\\\033[1m<&> bytes\\\\001\\\\n\"; exit 1", "junit": "j.xml"},
	  "lint": {"run": "true"},
	  "after": {"run": "true", "needs": ["unit"]}
	}}
	EOF
	{ ci-gate --new --keep-going --junit out/gate.xml -f spec.json >doc.json 2>err; test $? = 1; } &&
	xmllint --noout out/gate.xml &&
	python3 - out/gate.xml <<-\PY
	import sys, xml.etree.ElementTree as ET
	root = ET.parse(sys.argv[1]).getroot()
	suites = {s.get("name"): s for s in root.findall("testsuite")}
	assert list(suites) == ["unit", "lint", "after"], list(suites)
	assert suites["unit"].get("tests") == "3" and suites["unit"].get("failures") == "1"
	assert suites["lint"].get("tests") == "1" and suites["lint"].get("failures") == "0"
	assert suites["after"].get("skipped") == "1"
	names = [c.get("name") for c in suites["unit"].findall("testcase")]
	assert "test_profile" in names, names
	PY
'

test_expect_success XMLLINT '--junit output with control characters in a tail stays valid' '
	{ ci-gate --new --junit ctl.xml -g "x=printf \"a\\001b\\033c<d>&\\n\"; exit 1" >doc.json 2>err; test $? = 1; } &&
	xmllint --noout ctl.xml &&
	test_grep "&lt;d&gt;&amp;" ctl.xml
'

test_done
