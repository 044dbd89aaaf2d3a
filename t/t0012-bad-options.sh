#!/bin/sh
test_description='options that name a file are checked at once: a CA file that holds no certificate is exit 2, naming it'
. "${0%/*}/test-lib.sh"

test_expect_success 'setup: an empty and a garbage CA file' '
	: >empty.pem &&
	echo "not a certificate" >garbage.pem
'

for tool in "ci-push --new --layout nowhere" "ci-build --new -o out ." "ci-rollback --app a --status"; do
	name=${tool%% *}
	test_expect_success "$name --ca-file: empty, garbage and missing files are usage errors" "
		test_expect_code 2 $tool --ca-file empty.pem >out.json 2>err &&
		test_grep \"ca-file: 'empty.pem' holds no PEM certificate\" err &&
		test_expect_code 2 $tool --ca-file garbage.pem >out.json 2>err &&
		test_grep \"'garbage.pem' holds no PEM certificate\" err &&
		test_expect_code 2 $tool --ca-file missing.pem >out.json 2>err &&
		test_grep \"cannot read 'missing.pem'\" err &&
		! test -s out.json
	"
done

test_expect_success 'ci-smoke --cacert: a missing or empty file is a usage error' '
	echo "GET http://127.0.0.1:1/" >x.hurl &&
	test_expect_code 2 ci-smoke --new --cacert missing.pem x.hurl >out.json 2>err &&
	test_grep "cacert: cannot read .missing.pem." err &&
	test_expect_code 2 ci-smoke --new --cacert empty.pem x.hurl >out.json 2>err &&
	test_grep "holds no PEM certificate" err
'

test_done
