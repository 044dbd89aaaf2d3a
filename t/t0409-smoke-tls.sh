#!/bin/sh
test_description='ci-smoke verifies TLS unless told otherwise; options delay and connect-timeout'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/data/smoke/lib.sh"

start_app
test_tool_prereq OPENSSL openssl command -v openssl
if test_have_prereq OPENSSL; then
	openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 \
	    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 ||
	    echo "# openssl failed"
	plain=$BASE
	start_app --cert cert.pem --key key.pem
	TLS=https://127.0.0.1:$APP_PORT
	BASE=$plain
fi
printf 'GET {{base}}/health\nHTTP 200\n' >health.hurl
printf 'GET {{base}}/health\n[Options]\ninsecure: true\nHTTP 200\n' >insecure.hurl

test_expect_success OPENSSL 'a self-signed certificate is refused' '
	{ ci-smoke --new -v base=$TLS health.hurl >out.json 2>err; echo $? >rc; } &&
	test $(cat rc) = 1 &&
	smoke_json out.json "e[0][\"status\"] == \"failed\" and \"certificate\" in e[0][\"error\"]"
'

test_expect_success OPENSSL '--cacert trusts it' '
	ci-smoke --new --cacert cert.pem -v base=$TLS health.hurl >out.json 2>err &&
	smoke_json out.json "s[\"status\"] == \"passed\""
'

test_expect_success OPENSSL '--insecure skips the check' '
	ci-smoke --new --insecure -v base=$TLS health.hurl >out.json 2>err &&
	smoke_json out.json "s[\"status\"] == \"passed\""
'

test_expect_success OPENSSL 'so does the insecure option, for its entry only' '
	ci-smoke --new -v base=$TLS insecure.hurl >out.json 2>err &&
	{ ci-smoke --new -v base=$TLS insecure.hurl health.hurl >two.json 2>err; echo $? >rc; } &&
	test $(cat rc) = 1 &&
	smoke_json two.json "[x[\"status\"] for x in e] == [\"passed\", \"failed\"]"
'

test_expect_success OPENSSL '--wait speaks TLS with the same settings' '
	ci-smoke --new --cacert cert.pem --wait $TLS/health -v base=$TLS health.hurl >w.json 2>err &&
	smoke_json w.json "s[\"wait\"][\"ready\"] is True"
'

test_expect_success OPENSSL 'the certificate query reads the server certificate' '
	cat >cert.hurl <<-\EOF &&
	GET {{base}}/health
	HTTP 200
	[Asserts]
	certificate "Subject" contains "CN = 127.0.0.1"
	certificate "Issuer" contains "CN = 127.0.0.1"
	certificate "Expire-Date" daysAfterNow < 3
	certificate "Start-Date" daysBeforeNow < 2
	certificate "Serial-Number" matches /^[0-9a-f:]+$/
	EOF
	ci-smoke --new --cacert cert.pem -v base=$TLS cert.hurl >c.json 2>err &&
	smoke_json c.json "s[\"status\"] == \"passed\""
'

test_expect_success OPENSSL '... and fails an assert it does not meet' '
	printf "GET {{base}}/health\nHTTP 200\n[Asserts]\ncertificate \"Expire-Date\" daysAfterNow > 30\n" >cert2.hurl &&
	test_expect_code 1 ci-smoke --new --cacert cert.pem -v base=$TLS cert2.hurl >c.json 2>err &&
	smoke_json c.json "e[0][\"asserts\"][-1][\"status\"] == \"failed\""
'

test_expect_success 'the delay option waits before the request (a lower bound)' '
	printf "GET {{base}}/health\n[Options]\ndelay: 300ms\nHTTP 200\n" >delay.hurl &&
	ci-smoke --new -v base="$BASE" delay.hurl >d.json 2>err &&
	smoke_json d.json "s[\"status\"] == \"passed\" and s[\"duration_ms\"] >= 300"
'

test_expect_success 'connect-timeout is an option too' '
	printf "GET {{base}}/health\n[Options]\nconnect-timeout: 2s\nmax-time: 5s\nHTTP 200\n" >ct.hurl &&
	ci-smoke --new -v base="$BASE" ct.hurl >ct.json 2>err &&
	smoke_json ct.json "s[\"status\"] == \"passed\""
'

test_done
