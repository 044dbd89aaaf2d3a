#!/bin/sh
test_description='network faults between ci-smoke and the app (its checks and --wait), and ci-deploy and its --wait URL: reset, stall, 5xx, 429 with Retry-After, a TLS name mismatch'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/registry-lib.sh"
. "$TEST_DIRECTORY/data/smoke/lib.sh"
trap 'stop_apps; reg_cleanup_' EXIT

test_expect_success OPENSSL 'setup: the app behind a proxy, the app over TLS with a certificate for another name' '
	start_app &&
	proxy_rules proxy "[]" &&
	start_proxy proxy $APP_PORT proxy.rules &&
	wrong_name_cert tls &&
	printf "GET {{base}}/health\nHTTP 200\n" >health.hurl &&
	printf "GET {{base}}/health\n[Options]\nretry: 3\nretry-interval: 10ms\nHTTP 200\n" >retry.hurl &&
	"$TEST_DIRECTORY/helpers/pipeline-doc" --canary none >doc.json
'
# The app through the proxy, with credentials that must never be shown.
site=127.0.0.1:$(cat proxy/port 2>/dev/null)
base=http://tester:s3cret@$site
shown=http://***@$site
shown_re="http://[*][*][*]@$site"

start_app --cert tls/srv.crt --key tls/srv.key
wrong=https://127.0.0.1:$APP_PORT

no_secret() {
	! grep s3cret "$@"
}

# ---- ci-smoke: the checks ----------------------------------------------------------

test_expect_success 'the app resets the connection: the entry fails (exit 1), naming the URL without its password' '
	proxy_rules proxy "[{\"action\": \"reset\"}]" &&
	test_expect_code 1 ci-smoke --new -v base=$base health.hurl >reset.json 2>reset.err &&
	smoke_json reset.json "e[0][\"status\"] == \"failed\" and e[0][\"error\"] == \"GET $shown/health: Recv failure: Connection reset by peer\"" &&
	smoke_json reset.json "e[0][\"url\"] == \"$shown/health\"" &&
	test_grep "GET $shown_re/health: Recv failure" reset.err &&
	no_secret reset.json reset.err
'

test_expect_success 'the app stalls: each attempt ends at --max-time, exit 1' '
	proxy_rules proxy "[{\"action\": \"stall\"}]" &&
	test_expect_code 1 ci-smoke --new --max-time 1s -v base=$base retry.hurl >stall.json 2>stall.err &&
	smoke_json stall.json "e[0][\"attempts\"] == 4 and e[0][\"error\"].startswith(\"GET $shown/health: Operation timed out after \")" &&
	test $(proxy_count proxy stall) = 4 &&
	proxy_stalls_by proxy client &&
	no_secret stall.json stall.err
'

test_expect_success 'the app answers 503: the entry fails (exit 1) with the status' '
	proxy_rules proxy "[{\"action\": \"status\", \"status\": 503}]" &&
	test_expect_code 1 ci-smoke --new -v base=$base health.hurl >503.json 2>503.err &&
	smoke_json 503.json "e[0][\"http_status\"] == 503 and e[0][\"url\"] == \"$shown/health\"" &&
	test_grep "GET $shown_re/health" 503.err &&
	no_secret 503.json 503.err
'

test_expect_success 'the app answers 429 with Retry-After: a failed check (exit 1); with retry, the next attempt passes' '
	proxy_rules proxy "[{\"action\": \"status\", \"status\": 429, \"retry_after\": \"1\", \"times\": 1}]" &&
	test_expect_code 1 ci-smoke --new -v base=$base health.hurl >429.json 2>429.err &&
	smoke_json 429.json "e[0][\"http_status\"] == 429" &&
	proxy_rules proxy "[{\"action\": \"status\", \"status\": 429, \"retry_after\": \"1\", \"times\": 1}]" &&
	ci-smoke --new -v base=$base retry.hurl >429r.json 2>429r.err &&
	smoke_json 429r.json "e[0][\"status\"] == \"passed\" and e[0][\"attempts\"] == 2"
'

test_expect_success OPENSSL 'the app shows a certificate for another name: the entry fails (exit 1), saying so' '
	test_expect_code 1 ci-smoke --new --cacert tls/ca.crt -v base=$wrong health.hurl >tls.json 2>tls.err &&
	smoke_json tls.json "e[0][\"error\"].startswith(\"GET $wrong/health: \") and \"127.0.0.1\" in e[0][\"error\"]" &&
	test_grep "subject name\|wrong.example" tls.err
'

# ---- ci-smoke --wait ----------------------------------------------------------------

test_expect_success '--wait on an app that resets: not ready (exit 1), the last reason and the URL without its password' '
	proxy_rules proxy "[{\"action\": \"reset\"}]" &&
	test_expect_code 1 ci-smoke --new --wait $base/health --wait-timeout 1s -v base=$base health.hurl >wreset.json 2>wreset.err &&
	smoke_json wreset.json "s[\"wait\"][\"ready\"] is False and s[\"wait\"][\"url\"] == \"$shown/health\"" &&
	smoke_json wreset.json "s[\"reason\"].startswith(\"\x27$shown/health\x27 was not ready after 1s (\") and s[\"reason\"].endswith(\"; last: Recv failure: Connection reset by peer)\")" &&
	smoke_json wreset.json "\"files\" not in s" &&
	no_secret wreset.json wreset.err
'

# The app answers after 5 s: too late for a wait of 2 s.
test_expect_success '--wait on an app that stalls: no request outlives --wait-timeout' '
	proxy_rules proxy "[{\"action\": \"stall\", \"hold\": 5}]" &&
	test_expect_code 1 ci-smoke --new --wait $base/health --wait-timeout 2s -v base=$base health.hurl >wstall.json 2>wstall.err &&
	smoke_json wstall.json "s[\"wait\"][\"ready\"] is False and \"timed out\" in s[\"reason\"]" &&
	test $(proxy_count proxy stall) = 1 &&
	proxy_stalls_by proxy client
'

test_expect_success '--wait on an app answering 503: not ready (exit 1), the last answer said' '
	proxy_rules proxy "[{\"action\": \"status\", \"status\": 503}]" &&
	test_expect_code 1 ci-smoke --new --wait $base/health --wait-timeout 1s -v base=$base health.hurl >w503.json 2>w503.err &&
	smoke_json w503.json "s[\"reason\"].endswith(\"; last: HTTP 503)\") and s[\"wait\"][\"attempts\"] >= 2"
'

test_expect_success '--wait honours Retry-After: no more than one request a second' '
	proxy_rules proxy "[{\"action\": \"status\", \"status\": 429, \"retry_after\": \"1\"}]" &&
	test_expect_code 1 ci-smoke --new --wait $base/health --wait-timeout 2500ms -v base=$base health.hurl >w429.json 2>w429.err &&
	smoke_json w429.json "s[\"reason\"].endswith(\"; last: HTTP 429)\")" &&
	n=$(proxy_count proxy status) &&
	test $n -ge 2 && test $n -le 3 &&
	smoke_json w429.json "s[\"wait\"][\"attempts\"] == $n"
'

test_expect_success '--wait: a Retry-After past the timeout ends the wait at once, saying so' '
	proxy_rules proxy "[{\"action\": \"status\", \"status\": 503, \"retry_after\": \"3600\"}]" &&
	test_expect_code 1 ci-smoke --new --wait $base/health --wait-timeout 30s -v base=$base health.hurl >wlong.json 2>wlong.err &&
	smoke_json wlong.json "\"it asks to retry after 1h, past the timeout; 1 attempt; last: HTTP 503)\" in s[\"reason\"]" &&
	smoke_json wlong.json "s[\"wait\"][\"attempts\"] == 1"
'

test_expect_success '... and is ready once the answer is 2xx' '
	proxy_rules proxy "[{\"action\": \"status\", \"status\": 429, \"retry_after\": \"1\", \"times\": 1}]" &&
	ci-smoke --new --wait $base/health --wait-timeout 30s -v base=$base health.hurl >w429ok.json 2>w429ok.err &&
	smoke_json w429ok.json "s[\"wait\"][\"ready\"] is True and s[\"wait\"][\"attempts\"] == 2"
'

test_expect_success OPENSSL '--wait on an app with a certificate for another name: not ready (exit 1), saying why' '
	test_expect_code 1 ci-smoke --new --cacert tls/ca.crt --wait $wrong/health --wait-timeout 3s -v base=$wrong health.hurl >wtls.json 2>wtls.err &&
	smoke_json wtls.json "s[\"wait\"][\"ready\"] is False and (\"subject name\" in s[\"reason\"] or \"wrong.example\" in s[\"reason\"])"
'

# ---- ci-deploy --wait ---------------------------------------------------------------

# deploy_fails NAME RULES: ci-deploy --wait through the proxy fails
# (exit 1) with RULES in force; the document in NAME.json, stderr in
# NAME.err, the URL shown without its userinfo, the password nowhere.
deploy_fails() {
	proxy_rules proxy "$2" &&
	test_expect_code 1 ci-deploy --to staging --timeout 2s --wait "$base/health" -- true \
		<doc.json >"$1.json" 2>"$1.err" &&
	test_json "$1.json" "d[\"deploy\"][\"staging\"][\"status\"] == \"failed\" and d[\"deploy\"][\"staging\"][\"wait\"][\"ready\"] is False" &&
	test_json "$1.json" "d[\"deploy\"][\"staging\"][\"reason\"].startswith(\"the command passed, but \x27$shown/health\x27 was not ready after \")" &&
	test_grep "$shown_re/health" "$1.err" &&
	no_secret "$1.json" "$1.err"
}

test_expect_success 'ci-deploy --wait, an app that resets: exit 1, naming the URL without its password' '
	deploy_fails dreset "[{\"action\": \"reset\"}]" &&
	test_json dreset.json "d[\"deploy\"][\"staging\"][\"reason\"].endswith(\"last: Recv failure: Connection reset by peer)\")"
'

test_expect_success 'ci-deploy --wait, an app that stalls: exit 1 within --timeout' '
	deploy_fails dstall "[{\"action\": \"stall\", \"hold\": 5}]" &&
	test $(proxy_count proxy stall) = 1 &&
	proxy_stalls_by proxy client
'

test_expect_success 'ci-deploy --wait, an app answering 502: exit 1, the status said' '
	deploy_fails d502 "[{\"action\": \"status\", \"status\": 502}]" &&
	test_json d502.json "d[\"deploy\"][\"staging\"][\"reason\"].endswith(\"last: HTTP 502)\")"
'

test_expect_success 'ci-deploy --wait, 429 with Retry-After: honoured' '
	deploy_fails d429 "[{\"action\": \"status\", \"status\": 429, \"retry_after\": \"1\"}]" &&
	n=$(proxy_count proxy status) &&
	test $n -ge 2 && test $n -le 3
'

test_expect_success OPENSSL 'ci-deploy --wait, a certificate for another name: exit 1, saying why' '
	test_expect_code 1 ci-deploy --to staging --timeout 3s --ca-file tls/ca.crt --wait "$wrong/health" -- true \
		<doc.json >dtls.json 2>dtls.err &&
	test_json dtls.json "\"subject name\" in d[\"deploy\"][\"staging\"][\"reason\"] or \"wrong.example\" in d[\"deploy\"][\"staging\"][\"reason\"]"
'

test_done
