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

test_expect_success 'URL options: not a URL, or the wrong scheme, is exit 2 at once, credentials not shown' '
	test_expect_code 2 ci-smoke --new --wait "not a url" x.hurl >out.json 2>err &&
	test_grep "wait: .not a url. is not an absolute URL: expected an http or https URL" err &&
	test_expect_code 2 ci-smoke --new --wait ftp://h/x x.hurl >out.json 2>err &&
	test_grep "expected an http or https URL, not ftp" err &&
	test_expect_code 2 ci-deploy --new --to staging --wait "localhost:8080/health" -- true >out.json 2>err &&
	test_grep "wait: .localhost:8080/health. is not an absolute URL" err &&
	test_expect_code 2 ci-rollback --new --slack-webhook "https://bot:$WEBHOOK_PASSWORD@" >out.json 2>err &&
	test_grep "slack-webhook: .https://\*\*\*@. is not an absolute URL" err &&
	test_expect_code 2 ci-rollback --new --smtp-url http://mail.example >out.json 2>err &&
	test_grep "smtp-url: .http://mail.example.: expected an smtp or smtps URL, not http" err &&
	CI_ALERT_WEBHOOK=hooks.example/x test_expect_code 2 ci-rollback --new >out.json 2>err &&
	test_grep "webhook: .hooks.example/x. is not an absolute URL" err &&
	! grep -r -e "$WEBHOOK_PASSWORD" err out.json &&
	! test -s out.json
'

test_done
