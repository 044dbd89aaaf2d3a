#!/bin/sh
test_description='network faults between ci-push and its registry and token server: reset, stall, 5xx, 429, a TLS name mismatch, the retry time as a bound'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/registry-lib.sh"

# The proxy in front of the registry is "proxy", the one in front of the
# token server "tproxy"; proxy_rules sets what they do.

test_expect_success REGISTRY,UMOCI,OPENSSL,CRYPTOGRAPHY 'setup: a registry behind a proxy, a token registry whose token server is behind another, an image' '
	start_registry reg &&
	proxy_rules proxy "[]" &&
	start_proxy proxy $(cat reg/port) proxy.rules &&
	make_image img v1 20000 3000 &&
	openssl req -x509 -newkey rsa:2048 -nodes -keyout token.key -out token.crt \
		-days 2 -subj /CN=ci-tools-token 2>/dev/null &&
	echo "alice:pw" >users &&
	start_token_server ts token.key token.crt users &&
	proxy_rules tproxy "[]" &&
	start_proxy tproxy $(cat ts/port) tproxy.rules &&
	start_registry treg --token "http://127.0.0.1:$(cat tproxy/port)/token" \
		ci-tools-test-registry ci-tools-test-issuer "$PWD/token.crt" &&
	wrong_name_cert tls
'
rport=$(cat reg/port 2>/dev/null)
reg=127.0.0.1:$(cat proxy/port 2>/dev/null)
treg=127.0.0.1:$(cat treg/port 2>/dev/null)
realm=http://127.0.0.1:$(cat tproxy/port 2>/dev/null)/token
# push ARGS: ci-push of a new document, one upload at a time, no blob cache;
# pull ARGS: the registry unit test's pull (test_expect_code takes a
# command name).
push() { ci-push --new --no-blob-cache --parallel 1 "$@"; }
pull() { "$SRC_ROOT/t/unit/registry.t" "$@"; }

# ---- the registry ------------------------------------------------------------

test_expect_success REGISTRY 'a registry that stalls: each attempt ends at --stall-timeout, exit 69 after --retries' '
	proxy_rules proxy "[{\"method\": \"HEAD\", \"path\": \"/blobs/\", \"action\": \"stall\"}]" &&
	test_expect_code 69 push --retries 2 --stall-timeout 1s --layout img $reg/stall:v1 >stall.json 2>stall.err &&
	test_grep "gave up after 2 attempts: HEAD http://$reg/v2/stall/blobs/sha256:" stall.err &&
	test_grep "too slow" stall.err &&
	test $(proxy_count proxy stall) = 2 &&
	proxy_stalls_by proxy client &&
	test_json stall.json "d[\"push\"][\"status\"] == \"failed\" and \"$reg\" in d[\"push\"][\"reason\"]" &&
	! reg_has_manifest $rport stall v1
'

test_expect_success REGISTRY 'a stalled request after a failure gets only what is left of --retry-time' '
	proxy_fail_then_hold proxy "\"method\": \"HEAD\", \"path\": \"/blobs/\", " &&
	test_expect_code 69 push --retries 20 --retry-time 2s --layout img $reg/budget:v1 >/dev/null 2>budget.err &&
	test_grep "gave up after 2 attempts: HEAD http://$reg/v2/budget/blobs/" budget.err &&
	proxy_gave_up_in_time proxy
'

test_expect_success REGISTRY '... and so does a blob upload stalled after its session failed' '
	proxy_fail_then_hold proxy "\"method\": \"PUT\", \"path\": \"digest=\", " &&
	test_expect_code 69 push --retries 20 --retry-time 2s --layout img $reg/upload:v1 >/dev/null 2>upload.err &&
	test_grep "PUT http://$reg/v2/upload/blobs/uploads/" upload.err &&
	proxy_gave_up_in_time proxy &&
	! reg_has_manifest $rport upload v1
'

test_expect_success REGISTRY 'a blob download stalled mid-body: retried, then exit 69' '
	proxy_rules proxy "[]" &&
	push -q --layout img $reg/pullme:v1 >/dev/null &&
	proxy_rules proxy "[{\"method\": \"GET\", \"path\": \"/blobs/\", \"action\": \"stall\", \"bytes\": 1}]" &&
	test_expect_code 69 pull --parallel 1 --retries 2 --stall-timeout 1s pull $reg/pullme:v1 pulled >/dev/null 2>pull.err &&
	test_grep "gave up after 2 attempts: GET http://$reg/v2/pullme/blobs/sha256:" pull.err &&
	test $(proxy_count proxy stall) = 2 &&
	proxy_stalls_by proxy client
'

test_expect_success REGISTRY 'connection resets every time: exit 69 naming the request and the reset' '
	proxy_rules proxy "[{\"method\": \"POST\", \"action\": \"reset\"}]" &&
	test_expect_code 69 push --retries 3 --layout img $reg/reset:v1 >/dev/null 2>reset.err &&
	test_grep "gave up after 3 attempts: POST http://$reg/v2/reset/blobs/uploads/" reset.err &&
	test_grep "reset by peer" reset.err &&
	n=$(proxy_count proxy reset) &&
	# libcurl itself sends once more when a reused connection dies
	test $n -ge 3 && test $n -le 4
'

test_expect_success REGISTRY '5xx on the /v2/ ping: retried, then exit 69 naming the registry' '
	proxy_rules proxy "[{\"path\": \"^/v2/$\", \"action\": \"status\", \"status\": 502}]" &&
	test_expect_code 69 push --retries 2 --layout img $reg/ping:v1 >/dev/null 2>ping.err &&
	test_grep "GET http://$reg/v2/: registry .$reg. answered HTTP 502" ping.err &&
	test $(proxy_count proxy status) = 2
'

test_expect_success REGISTRY '429 with Retry-After: honoured, and the push completes' '
	proxy_rules proxy "[{\"method\": \"PUT\", \"path\": \"/manifests/\", \"action\": \"status\", \"status\": 429, \"retry_after\": \"1\", \"times\": 2}]" &&
	push -v --layout img $reg/slow:v1 >slow.json 2>slow.err &&
	test $(proxy_count proxy status) = 2 &&
	test_grep "answered HTTP 429.*retrying in 1[0-9][0-9][0-9] ms" slow.err &&
	reg_has_manifest $rport slow v1
'

test_expect_success REGISTRY '429 for good: exit 69 once --retries are used up' '
	proxy_rules proxy "[{\"method\": \"HEAD\", \"path\": \"/blobs/\", \"action\": \"status\", \"status\": 429, \"retry_after\": \"1\"}]" &&
	test_expect_code 69 push --retries 2 --layout img $reg/busy:v1 >/dev/null 2>busy.err &&
	test_grep "gave up after 2 attempts: HEAD http://$reg/v2/busy/blobs/.*answered HTTP 429" busy.err &&
	test $(proxy_count proxy status) = 2
'

test_expect_success REGISTRY,OPENSSL 'a certificate for another name: exit 69 before any request, naming the registry' '
	start_registry wrong --tls "$PWD/tls/srv.crt" "$PWD/tls/srv.key" &&
	wreg=127.0.0.1:$(cat wrong/port) &&
	test_expect_code 69 push --ca-file tls/ca.crt --layout img $wreg/app:v1 >wrong.json 2>wrong.err &&
	test_grep "no TLS connection to registry .$wreg." wrong.err &&
	test_grep "wrong.example\|subject name" wrong.err &&
	! grep -q "/v2/" wrong/log &&
	! test -d wrong/data/docker
'

# ---- the token server ----------------------------------------------------------

test_expect_success REGISTRY,CRYPTOGRAPHY 'the token server answers 503 with Retry-After, then a token: the push completes' '
	proxy_rules tproxy "[{\"action\": \"status\", \"status\": 503, \"retry_after\": \"1\", \"times\": 1}]" &&
	echo pw | ci-push --username alice --password-stdin --no-blob-cache --layout img $treg/tok:v1 >tok.json 2>tok.err &&
	test_json tok.json "d[\"push\"][\"status\"] == \"passed\"" &&
	test $(proxy_count tproxy status) = 1 &&
	test $(proxy_count tproxy pass) -ge 1
'

test_expect_success REGISTRY,CRYPTOGRAPHY 'a token server failing with 5xx: exit 69 naming it' '
	proxy_rules tproxy "[{\"action\": \"status\", \"status\": 500}]" &&
	echo pw | test_expect_code 69 ci-push --username alice --password-stdin --no-blob-cache --retries 2 --layout img $treg/t5xx:v1 >t5xx.json 2>t5xx.err &&
	test_grep "token server .$realm. answered HTTP 500" t5xx.err &&
	test $(proxy_count tproxy status) = 2 &&
	test_json t5xx.json "d[\"push\"][\"status\"] == \"failed\""
'

test_expect_success REGISTRY,CRYPTOGRAPHY 'a token server answering 429 for good: exit 69 naming it' '
	proxy_rules tproxy "[{\"action\": \"status\", \"status\": 429, \"retry_after\": \"1\"}]" &&
	echo pw | test_expect_code 69 ci-push --username alice --password-stdin --no-blob-cache --retries 2 --layout img $treg/t429:v1 >/dev/null 2>t429.err &&
	test_grep "token server .$realm. answered HTTP 429" t429.err &&
	test $(proxy_count tproxy status) = 2
'

test_expect_success REGISTRY,CRYPTOGRAPHY 'a token server that resets the connection: exit 69 naming it' '
	proxy_rules tproxy "[{\"action\": \"reset\"}]" &&
	echo pw | test_expect_code 69 ci-push --username alice --password-stdin --no-blob-cache --retries 2 --layout img $treg/trst:v1 >/dev/null 2>trst.err &&
	test_grep "cannot get a token from .$realm." trst.err &&
	test_grep "reset by peer" trst.err &&
	test $(proxy_count tproxy reset) = 2
'

test_expect_success REGISTRY,CRYPTOGRAPHY 'a token server that stalls: each attempt ends at --stall-timeout, exit 69' '
	proxy_rules tproxy "[{\"action\": \"stall\"}]" &&
	echo pw | test_expect_code 69 ci-push --username alice --password-stdin --no-blob-cache --retries 2 --stall-timeout 1s --layout img $treg/tstall:v1 >/dev/null 2>tstall.err &&
	test_grep "cannot get a token from .$realm." tstall.err &&
	test $(proxy_count tproxy stall) = 2 &&
	proxy_stalls_by tproxy client
'

test_expect_success REGISTRY,CRYPTOGRAPHY '... after a failure, a stalled token request gets only what is left of --retry-time' '
	proxy_fail_then_hold tproxy &&
	echo pw | test_expect_code 69 ci-push --username alice --password-stdin --no-blob-cache --retry-time 2s --layout img $treg/tbudget:v1 >/dev/null 2>tbudget.err &&
	test_grep "cannot get a token from .$realm." tbudget.err &&
	proxy_gave_up_in_time tproxy
'

test_expect_success REGISTRY,CRYPTOGRAPHY,OPENSSL 'a token server whose certificate names another host: exit 69 naming it, no secret shown' '
	start_token_server tls-ts token.key token.crt users --tls tls/srv.crt tls/srv.key &&
	trealm="https://alice:realmpw@127.0.0.1:$(cat tls-ts/port)/token" &&
	start_registry treg2 --token "$trealm" ci-tools-test-registry ci-tools-test-issuer "$PWD/token.crt" &&
	echo pw | test_expect_code 69 ci-push --username alice --password-stdin --no-blob-cache --ca-file tls/ca.crt --layout img 127.0.0.1:$(cat treg2/port)/ttls:v1 >ttls.json 2>ttls.err &&
	test_grep "cannot get a token from .https://127.0.0.1:$(cat tls-ts/port)/token." ttls.err &&
	test_grep "wrong.example\|subject name" ttls.err &&
	! grep -q realmpw ttls.err ttls.json
'

test_done
