#!/bin/sh
test_description='network faults between ci-rollback and HAProxy'\''s runtime API (reset, stall) and its alert webhooks (reset, stall, 5xx, 429 with Retry-After, a TLS name mismatch)'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/registry-lib.sh"
. "$TEST_DIRECTORY/helpers/haproxy-lib.sh"
. "$TEST_DIRECTORY/helpers/canary-lib.sh"

CI_STATE_DIR=$TRASH/state
export CI_STATE_DIR

test_expect_success HAPROXY,OPENSSL 'setup: HAProxy with its runtime API behind a proxy, a webhook behind another, a webhook over TLS for another name' '
	haproxy_app_start blue "$(test_free_port)" --version v1 &&
	haproxy_app_start green "$(test_free_port)" --version v2 &&
	haproxy_start lb "$(cat blue/port)" "$(cat green/port)" &&
	haproxy_wait_status lb app/blue UP && haproxy_wait_status lb app/green UP &&
	proxy_rules hproxy "[]" &&
	start_proxy hproxy "unix:$TRASH/lb/admin.sock" hproxy.rules --tcp &&
	receiver hook &&
	proxy_rules aproxy "[]" &&
	start_proxy aproxy "$(cat hook.port)" aproxy.rules &&
	wrong_name_cert tls &&
	receiver thook --tls tls/srv.crt tls/srv.key
'
hap=127.0.0.1:$(cat hproxy/port 2>/dev/null)
# The webhook's path and credentials are secrets: never shown.
hook=http://bot:s3cret@127.0.0.1:$(cat aproxy/port 2>/dev/null)/hooks/T0SECRET

# ---- HAProxy ---------------------------------------------------------------------

# canary_failed VERSION: green the canary of a failed release, with 30% of
# the traffic; the document in VERSION.in, its traffic through the proxy.
canary_failed() {
	haproxy_admin lb "set server app/green state ready" >/dev/null &&
	haproxy_admin lb "set weight app/green 30" >/dev/null &&
	haproxy_admin lb "set weight app/blue 70" >/dev/null &&
	"$TEST_DIRECTORY/helpers/pipeline-doc" --version "$1" --run-id "$1" --slots blue,green \
		--canary failed --traffic "{\"driver\": \"haproxy\", \"socket\": \"$hap\", \"backend\": \"app\"}" >"$1.in"
}

test_expect_success HAPROXY 'the runtime API resets once: the retry puts traffic back on stable (exit 1)' '
	canary_failed r1 &&
	proxy_rules hproxy "[{\"path\": \"^set weight\", \"action\": \"reset\", \"times\": 1}]" &&
	test_expect_code 1 ci-rollback --retries 3 <r1.in >r1.json 2>r1.err &&
	test_json r1.json "d[\"rollback\"][\"outcome\"] == \"rolled_back\" and d[\"rollback\"][\"traffic\"][\"restored\"] and d[\"rollback\"][\"traffic\"][\"attempts\"] == 2" &&
	test_grep "restoring traffic, attempt 1 of 3: haproxy at .$hap." r1.err &&
	test $(proxy_count hproxy reset) = 1 &&
	is "$(weight green)" 0 && is "$(weight blue)" 100
'

test_expect_success HAPROXY 'the runtime API resets every time: exit 69 after --retries, naming HAProxy, blocked all the same' '
	canary_failed r2 &&
	proxy_rules hproxy "[{\"path\": \"^set weight\", \"action\": \"reset\"}]" &&
	test_expect_code 69 ci-rollback --retries 2 <r2.in >r2.json 2>r2.err &&
	test_json r2.json "d[\"rollback\"][\"outcome\"] == \"traffic_not_restored\" and d[\"rollback\"][\"traffic\"][\"attempts\"] == 2" &&
	test_json r2.json "\"haproxy at \x27$hap\x27\" in d[\"rollback\"][\"traffic\"][\"error\"]" &&
	test_grep "traffic may not be back on stable" r2.err &&
	test $(proxy_count hproxy reset) = 2 &&
	test_json state/blocked.json "d[\"release\"] == \"r2\"" &&
	is "$(weight green)" 30
'

test_expect_success HAPROXY 'the runtime API stalls: no answer within 5 s, exit 69 naming HAProxy' '
	canary_failed r3 &&
	proxy_rules hproxy "[{\"path\": \"^set weight\", \"action\": \"stall\"}]" &&
	test_expect_code 69 ci-rollback --retries 1 <r3.in >r3.json 2>r3.err &&
	test_json r3.json "\"haproxy at \x27$hap\x27\" in d[\"rollback\"][\"traffic\"][\"error\"] and \"no answer within 5s\" in d[\"rollback\"][\"traffic\"][\"error\"]" &&
	test $(proxy_count hproxy stall) = 1 &&
	proxy_stalls_by hproxy client &&
	is "$(weight green)" 30
'

# ---- alert webhooks -----------------------------------------------------------------

# alert VERSION [options]: a failed release (no traffic to move) rolled
# back (exit 1), its webhook alert through the proxy; the document in
# VERSION.json, stderr in VERSION.err, the secrets in neither.
alert() {
	av_=$1
	shift
	"$TEST_DIRECTORY/helpers/pipeline-doc" --version "$av_" --run-id "$av_" --canary failed >"$av_.in" &&
	test_expect_code 1 ci-rollback "$@" <"$av_.in" >"$av_.json" 2>"$av_.err" &&
	test_json "$av_.json" "d[\"rollback\"][\"outcome\"] == \"rolled_back\" and d[\"rollback\"][\"alerts\"][0][\"kind\"] == \"webhook\"" &&
	! grep -e s3cret -e T0SECRET "$av_.json" "$av_.err"
}

# not_delivered VERSION TEXT: its alert was not delivered, TEXT and the
# webhook (scheme, *** for the credentials, host and port; never its path)
# in the error.
not_delivered() {
	test_json "$1.json" "d[\"rollback\"][\"alerts\"][0][\"delivered\"] is False" &&
	test_json "$1.json" "\"$2\" in d[\"rollback\"][\"alerts\"][0][\"error\"]" &&
	test_json "$1.json" "\"webhook \x27http://***@127.0.0.1:$(cat aproxy/port)/\u2026\x27\" in d[\"rollback\"][\"alerts\"][0][\"error\"]" &&
	test_grep "webhook alert not delivered" "$1.err"
}

test_expect_success 'the webhook resets the connection: not delivered after --alert-attempts, the rollback stands (exit 1)' '
	proxy_rules aproxy "[{\"action\": \"reset\"}]" &&
	alert a1 --alert-attempts 2 --webhook "$hook" &&
	not_delivered a1 "reset by peer" &&
	test_json a1.json "\"(2 attempts)\" in d[\"rollback\"][\"alerts\"][0][\"error\"]" &&
	test $(proxy_count aproxy reset) = 2
'

test_expect_success 'the webhook stalls: the attempt gives up (10 s), not delivered, the rollback stands (exit 1)' '
	proxy_rules aproxy "[{\"action\": \"stall\"}]" &&
	alert a2 --alert-attempts 1 --webhook "$hook" &&
	not_delivered a2 "timed out" &&
	test $(proxy_count aproxy stall) = 1 &&
	proxy_stalls_by aproxy client
'

test_expect_success 'the webhook answers 503: retried, not delivered, the rollback stands (exit 1)' '
	proxy_rules aproxy "[{\"action\": \"status\", \"status\": 503}]" &&
	alert a3 --alert-attempts 2 --webhook "$hook" &&
	not_delivered a3 "answered 503" &&
	test $(proxy_count aproxy status) = 2
'

test_expect_success 'the webhook answers 429 with Retry-After, then takes it: delivered' '
	proxy_rules aproxy "[{\"action\": \"status\", \"status\": 429, \"retry_after\": \"1\", \"times\": 1}]" &&
	alert a4 --webhook "$hook" &&
	test_json a4.json "d[\"rollback\"][\"alerts\"][0][\"delivered\"] is True" &&
	test $(proxy_count aproxy status) = 1 &&
	test_json_lines hook.jsonl "d[-1][\"body\"][\"version\"] == \"a4\""
'

# --ca-file makes the chain verify, so that the name is what fails.
test_expect_success OPENSSL 'a webhook with a certificate for another name: not delivered, not retried, the rollback stands (exit 1)' '
	alert a5 --ca-file tls/ca.crt --webhook "https://127.0.0.1:$(cat thook.port)/hooks/T0SECRET" &&
	test_json a5.json "d[\"rollback\"][\"alerts\"][0][\"delivered\"] is False and \"(not retried)\" in d[\"rollback\"][\"alerts\"][0][\"error\"]" &&
	test_json a5.json "\"subject name\" in d[\"rollback\"][\"alerts\"][0][\"error\"] or \"wrong.example\" in d[\"rollback\"][\"alerts\"][0][\"error\"]" &&
	! test -s thook.jsonl
'

test_done
