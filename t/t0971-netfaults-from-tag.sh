#!/bin/sh
test_description='network faults between the other registry clients and a registry: ci-build pulling FROM, ci-rollback --tag-stable'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/registry-lib.sh"

CI_STATE_DIR=$TRASH/state
export CI_STATE_DIR

test_expect_success REGISTRY,UMOCI,OPENSSL 'setup: a registry behind a proxy holding a base image and a release, a build context' '
	start_registry reg &&
	proxy_rules proxy "[]" &&
	start_proxy proxy $(cat reg/port) proxy.rules &&
	direct=127.0.0.1:$(cat reg/port) &&
	make_image img v1 30720 2048 &&
	ci-push --new -q --no-blob-cache --layout img $direct/base:v1 $direct/shop:v1 >pushed.json &&
	mkdir ctx && echo hello >ctx/hello &&
	printf "FROM 127.0.0.1:%s/base:v1\nCOPY hello /hello\n" $(cat proxy/port) >ctx/Dockerfile &&
	wrong_name_cert tls
'
reg=127.0.0.1:$(cat proxy/port 2>/dev/null)
BUILD="ci-build --new --no-cache --parallel 1 -o out"

# ---- ci-build: FROM ---------------------------------------------------------------

test_expect_success REGISTRY 'FROM a registry that stalls mid-blob: exit 69 after the retries, naming the line and the request' '
	proxy_rules proxy "[{\"method\": \"GET\", \"path\": \"/blobs/\", \"action\": \"stall\", \"bytes\": 1}]" &&
	test_expect_code 69 $BUILD --retries 2 --stall-timeout 1s ctx >stall.json 2>stall.err &&
	test_grep "ctx/Dockerfile:1: FROM" stall.err &&
	test_grep "gave up after 2 attempts: GET http://$reg/v2/base/blobs/sha256:" stall.err &&
	test $(proxy_count proxy stall) = 2 &&
	proxy_stalls_by proxy client &&
	test_json stall.json "d[\"build\"][\"status\"] == \"error\" and d[\"build\"][\"exit_code\"] == 69"
'

test_expect_success REGISTRY 'FROM: a stalled manifest request after a failure gets only what is left of --retry-time' '
	proxy_fail_then_hold proxy "\"path\": \"/manifests/\", " &&
	test_expect_code 69 $BUILD --retries 20 --retry-time 2s ctx >/dev/null 2>budget.err &&
	test_grep "GET http://$reg/v2/base/manifests/v1" budget.err &&
	proxy_gave_up_in_time proxy
'

test_expect_success REGISTRY 'FROM a registry that resets: exit 69 naming the request' '
	proxy_rules proxy "[{\"path\": \"/manifests/\", \"action\": \"reset\"}]" &&
	test_expect_code 69 $BUILD --retries 2 ctx >/dev/null 2>reset.err &&
	test_grep "gave up after 2 attempts: .* http://$reg/v2/base/manifests/v1: .*reset by peer" reset.err
'

test_expect_success REGISTRY 'FROM a registry answering 503: exit 69 naming it' '
	proxy_rules proxy "[{\"method\": \"GET\", \"path\": \"/blobs/\", \"action\": \"status\", \"status\": 503}]" &&
	test_expect_code 69 $BUILD --retries 2 ctx >/dev/null 2>503.err &&
	test_grep "registry .$reg. answered HTTP 503" 503.err &&
	test $(proxy_count proxy status) = 2
'

test_expect_success REGISTRY,OPENSSL 'FROM a registry whose certificate names another host: exit 69 naming it' '
	start_registry wrong --tls "$PWD/tls/srv.crt" "$PWD/tls/srv.key" &&
	wreg=127.0.0.1:$(cat wrong/port) &&
	mkdir wctx && printf "FROM %s/base:v1\n" $wreg >wctx/Dockerfile &&
	test_expect_code 69 $BUILD --ca-file tls/ca.crt wctx >/dev/null 2>wrong.err &&
	test_grep "no TLS connection to registry .$wreg." wrong.err &&
	test_grep "wrong.example\|subject name" wrong.err &&
	! grep -q "/v2/" wrong/log
'

test_expect_success REGISTRY 'FROM a registry answering 429 with Retry-After: honoured, and the build completes' '
	proxy_rules proxy "[{\"method\": \"GET\", \"path\": \"/blobs/\", \"action\": \"status\", \"status\": 429, \"retry_after\": \"1\", \"times\": 2}]" &&
	$BUILD ctx >ok.json 2>ok.err &&
	test_json ok.json "d[\"build\"][\"status\"] == \"passed\"" &&
	test $(proxy_count proxy status) = 2
'

# ---- ci-rollback --tag-stable ----------------------------------------------------

release_doc() {
	"$TEST_DIRECTORY/helpers/pipeline-doc" --version "$1" --run-id "$1" --repo "$reg/shop" \
		--digest "$(test_jval pushed.json "d[\"push\"][\"digest\"]")"
}

test_expect_success REGISTRY 'the tag refused with 503 for good: exit 69 naming the registry, the release stable in the ledger' '
	proxy_rules proxy "[{\"method\": \"PUT\", \"path\": \"/manifests/stable\", \"action\": \"status\", \"status\": 503}]" &&
	release_doc v1 >d1.json &&
	test_expect_code 69 ci-rollback --tag-stable --retry-time 2s <d1.json >o1.json 2>e1 &&
	test_grep "PUT http://$reg/v2/shop/manifests/stable: registry .$reg. answered HTTP 503" e1 &&
	test $(proxy_count proxy status) -ge 2 &&
	test_json o1.json "\"503\" in d[\"rollback\"][\"tag_stable\"][\"error\"]" &&
	test_json_lines state/releases.jsonl "d[-1][\"version\"] == \"v1\" and d[-1][\"status\"] == \"stable\""
'

test_expect_success REGISTRY 'the tag through a stalling registry: exit 69 within --retry-time' '
	proxy_fail_then_hold proxy "\"method\": \"PUT\", " &&
	release_doc v2 >d2.json &&
	test_expect_code 69 ci-rollback --tag-stable --retry-time 2s <d2.json >o2.json 2>e2 &&
	test_grep "PUT http://$reg/v2/shop/manifests/stable" e2 &&
	proxy_gave_up_in_time proxy
'

test_expect_success REGISTRY 'the tag through a registry that resets: exit 69 naming the request' '
	proxy_rules proxy "[{\"method\": \"GET\", \"path\": \"/manifests/\", \"action\": \"reset\"}]" &&
	release_doc v3 >d3.json &&
	test_expect_code 69 ci-rollback --tag-stable --retry-time 2s <d3.json >o3.json 2>e3 &&
	test_grep "GET http://$reg/v2/shop/manifests/sha256:.*reset by peer" e3
'

test_expect_success REGISTRY,OPENSSL 'the tag in a registry whose certificate names another host: exit 69' '
	wreg=127.0.0.1:$(cat wrong/port) &&
	"$TEST_DIRECTORY/helpers/pipeline-doc" --version v4 --run-id v4 --repo "$wreg/shop" >d4.json &&
	test_expect_code 69 ci-rollback --tag-stable --ca-file tls/ca.crt <d4.json >o4.json 2>e4 &&
	test_grep "no TLS connection to registry .$wreg." e4 &&
	test_json o4.json "\"tag_stable\" in d[\"rollback\"]"
'

test_expect_success REGISTRY,SKOPEO 'the tag through 429 with Retry-After: honoured, stable moved' '
	proxy_rules proxy "[{\"method\": \"PUT\", \"action\": \"status\", \"status\": 429, \"retry_after\": \"1\", \"times\": 1}]" &&
	release_doc v5 >d5.json &&
	ci-rollback --tag-stable <d5.json >o5.json 2>e5 &&
	test $(proxy_count proxy status) = 1 &&
	test "$(skopeo_digest "127.0.0.1:$(cat reg/port)/shop:stable")" = "$(test_jval pushed.json "d[\"push\"][\"digest\"]")"
'

test_done
