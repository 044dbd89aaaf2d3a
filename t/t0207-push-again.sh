#!/bin/sh
test_description='ci-push of what the registry already has: one HEAD per tag and nothing else'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/registry-lib.sh"

# mark DIR: remember how many requests the registry in DIR has answered;
# since DIR: the requests it answered after the mark, "METHOD PATH STATUS".
mark() {
	reg_requests "$1" | wc -l >"$1.mark"
}
since() {
	reg_requests "$1" | tail -n +$(($(cat "$1.mark") + 1))
}

test_expect_success REGISTRY,UMOCI 'setup: a registry, two images' '
	start_registry reg &&
	make_image img v1 200000 3000 &&
	make_image other v1 100000
'
port=$(cat reg/port 2>/dev/null)
reg=127.0.0.1:$port
PUSH="ci-push --new -q --no-blob-cache"

test_expect_success REGISTRY 'a fresh push looks once at the tag, then pushes everything' '
	mark reg &&
	$PUSH --layout img $reg/app:v1 >fresh.json &&
	test_json fresh.json "d[\"push\"][\"already_there\"] is False" &&
	test_json fresh.json "d[\"push\"][\"blobs\"] == {\"uploaded\": 3, \"skipped\": 0, \"mounted\": 0}" &&
	since reg >requests &&
	head -n 2 requests >first &&
	printf "HEAD /v2/app/manifests/v1 404\nGET /v2/ 200\n" >expect &&
	test_cmp expect first &&
	test "$(tail -n 1 requests)" = "PUT /v2/app/manifests/v1 201"
'

test_expect_success REGISTRY 'pushed again: one HEAD of the manifest by tag, nothing else' '
	mark reg &&
	$PUSH --layout img $reg/app:v1 >again.json 2>again.err &&
	since reg >actual &&
	echo "HEAD /v2/app/manifests/v1 200" >expect &&
	test_cmp expect actual &&
	test_json again.json "d[\"push\"][\"status\"] == \"passed\"" &&
	test_json again.json "d[\"push\"][\"already_there\"] is True" &&
	test_json again.json "d[\"push\"][\"digest\"] == \"$(layout_digest img v1)\"" &&
	test_json again.json "d[\"push\"][\"tags\"] == [\"$reg/app:v1\"]" &&
	test_json again.json "d[\"push\"][\"blobs\"] == {\"uploaded\": 0, \"skipped\": 3, \"mounted\": 0}" &&
	test_json again.json "d[\"push\"][\"bytes_sent\"] == 0" &&
	! test -s again.err
'

test_expect_success REGISTRY 'without -q it says the image was already there' '
	ci-push --new --no-blob-cache --layout img $reg/app:v1 >said.json 2>said.err &&
	test_grep "^ci-push: $reg/app@$(layout_digest img v1) was already there" said.err
'

test_expect_success REGISTRY 'several tags, all there: one HEAD per tag' '
	$PUSH --layout img $reg/app:v1 $reg/app:v2 >two.json &&
	test_json two.json "d[\"push\"][\"already_there\"] is False" &&
	mark reg &&
	$PUSH --layout img $reg/app:v1 $reg/app:v2 >both.json &&
	since reg >actual &&
	printf "HEAD /v2/app/manifests/v1 200\nHEAD /v2/app/manifests/v2 200\n" >expect &&
	test_cmp expect actual &&
	test_json both.json "d[\"push\"][\"already_there\"] is True" &&
	test_json both.json "d[\"push\"][\"tags\"] == [\"$reg/app:v1\", \"$reg/app:v2\"]"
'

test_expect_success REGISTRY 'the first tag there, a new one: no blob looked at, the new tag put' '
	mark reg &&
	$PUSH --layout img $reg/app:v1 $reg/app:v3 >new.json &&
	since reg >actual &&
	printf "%s\n" "HEAD /v2/app/manifests/v1 200" "HEAD /v2/app/manifests/v3 404" \
		"PUT /v2/app/manifests/v3 201" >expect &&
	test_cmp expect actual &&
	test_json new.json "d[\"push\"][\"already_there\"] is False" &&
	test_json new.json "d[\"push\"][\"blobs\"] == {\"uploaded\": 0, \"skipped\": 3, \"mounted\": 0}" &&
	reg_has_manifest $port app v3
'

test_expect_success REGISTRY,SKOPEO 'a tag that holds another image: pushed as usual, the tag moved' '
	mark reg &&
	$PUSH --layout other $reg/app:v1 >moved.json &&
	since reg >requests &&
	test "$(head -n 1 requests)" = "HEAD /v2/app/manifests/v1 200" &&
	grep "^GET /v2/ 200$" requests &&
	grep "^HEAD /v2/app/blobs/" requests &&
	test "$(tail -n 1 requests)" = "PUT /v2/app/manifests/v1 201" &&
	test_json moved.json "d[\"push\"][\"already_there\"] is False" &&
	test_json moved.json "d[\"push\"][\"blobs\"][\"uploaded\"] == 2" &&
	test "$(skopeo_digest $reg/app:v1)" = "$(layout_digest other v1)" &&
	test "$(skopeo_digest $reg/app:v2)" = "$(layout_digest img v1)"
'

test_expect_success REGISTRY 'two repositories, one already there: only the other is pushed' '
	mark reg &&
	$PUSH --layout img $reg/app:v2 $reg/team/app:v2 >repos.json &&
	since reg >requests &&
	test "$(head -n 1 requests)" = "HEAD /v2/app/manifests/v2 200" &&
	! grep "/v2/app/blobs/\|PUT /v2/app/" requests &&
	grep "^HEAD /v2/team/app/manifests/v2 404$" requests &&
	test "$(tail -n 1 requests)" = "PUT /v2/team/app/manifests/v2 201" &&
	test_json repos.json "d[\"push\"][\"already_there\"] is False" &&
	test_json repos.json "d[\"push\"][\"blobs\"] == {\"uploaded\": 0, \"skipped\": 3, \"mounted\": 3}" &&
	mark reg &&
	$PUSH --layout img $reg/app:v2 $reg/team/app:v2 >repos2.json &&
	since reg >actual &&
	printf "HEAD /v2/app/manifests/v2 200\nHEAD /v2/team/app/manifests/v2 200\n" >expect &&
	test_cmp expect actual &&
	test_json repos2.json "d[\"push\"][\"already_there\"] is True"
'

test_expect_success REGISTRY 'by digest only: one HEAD by digest' '
	digest=$(layout_digest img v1) &&
	$PUSH --layout img $reg/bydigest >d1.json &&
	test_json d1.json "d[\"push\"][\"tags\"] == []" &&
	mark reg &&
	$PUSH --layout img $reg/bydigest >d2.json &&
	since reg >actual &&
	echo "HEAD /v2/bydigest/manifests/$digest 200" >expect &&
	test_cmp expect actual &&
	test_json d2.json "d[\"push\"][\"already_there\"] is True" &&
	test_json d2.json "d[\"push\"][\"reference\"] == \"$reg/bydigest@$digest\""
'

test_expect_success REGISTRY 'a HEAD answered without Docker-Content-Digest: the usual push' '
	echo "[{\"method\": \"HEAD\", \"path\": \"/manifests/\", \"action\": \"drop\", \"name\": \"Docker-Content-Digest\"}]" >rules.json &&
	start_proxy proxy $port rules.json &&
	via=127.0.0.1:$(cat proxy/port) &&
	mark reg &&
	$PUSH --layout img $via/app:v2 >nodcd.json &&
	since reg >requests &&
	test "$(head -n 1 requests)" = "HEAD /v2/app/manifests/v2 200" &&
	grep "^GET /v2/ 200$" requests &&
	test $(grep -c "^HEAD /v2/app/blobs/.* 200$" requests) = 3 &&
	test "$(tail -n 1 requests)" = "PUT /v2/app/manifests/v2 201" &&
	test_json nodcd.json "d[\"push\"][\"already_there\"] is False" &&
	test_json nodcd.json "d[\"push\"][\"blobs\"] == {\"uploaded\": 0, \"skipped\": 3, \"mounted\": 0}" &&
	grep -c "\"action\": \"drop\"" proxy/requests.log >dropped &&
	echo 1 >expect &&
	test_cmp expect dropped
'

via=127.0.0.1:$(cat proxy/port 2>/dev/null)

test_expect_success REGISTRY 'a HEAD that fails (503): the usual push, no retry of the HEAD' '
	echo "[{\"method\": \"HEAD\", \"path\": \"/manifests/\", \"action\": \"status\", \"status\": 503}]" >rules.json &&
	mark reg &&
	$PUSH --retries 4 --layout img $via/app:v2 >s503.json &&
	test $(grep -c "\"action\": \"status\"" proxy/requests.log) = 1 &&
	since reg >requests &&
	test "$(head -n 1 requests)" = "GET /v2/ 200" &&
	test_json s503.json "d[\"push\"][\"status\"] == \"passed\"" &&
	test_json s503.json "d[\"push\"][\"already_there\"] is False"
'

# libs: the shared libraries the command after it loaded ($TRASH/libs).
libs() {
	LD_DEBUG=files LD_DEBUG_OUTPUT=$TRASH/ld "$@" &&
	cat "$TRASH"/ld.* | sed -n "s/.*file=\([^ ]*\) .*generating link map.*/\1/p" >"$TRASH/libs" &&
	rm -f "$TRASH"/ld.*
}

test_expect_success REGISTRY 'the scheme remembered: the HEAD goes out without libcurl, one request' '
	ci-push --new -q --layout img $reg/cached:v1 >c1.json &&
	test_grep "\"$reg\": *\"http\"" .cache/ci-tools/registry-schemes.json &&
	mark reg &&
	libs ci-push --new -q --layout img $reg/cached:v1 >c2.json &&
	! grep libcurl libs &&
	# nor libcrypto: the manifest and the config, hashed by oci itself
	! grep libcrypto libs &&
	since reg >actual &&
	echo "HEAD /v2/cached/manifests/v1 200" >expect &&
	test_cmp expect actual &&
	test_json c2.json "d[\"push\"][\"already_there\"] is True" &&
	test_json c2.json "d[\"push\"][\"blobs\"] == {\"uploaded\": 0, \"skipped\": 3, \"mounted\": 0}"
'

test_expect_success REGISTRY '... a tag not there: libcurl pushes it, after the one HEAD' '
	mark reg &&
	libs ci-push --new -q --layout img $reg/cached:v2 >c3.json &&
	grep libcurl libs &&
	since reg >requests &&
	test "$(head -n 1 requests)" = "HEAD /v2/cached/manifests/v2 404" &&
	test $(grep -c "^HEAD /v2/cached/manifests/" requests) = 1 &&
	test "$(tail -n 1 requests)" = "PUT /v2/cached/manifests/v2 201" &&
	test_json c3.json "d[\"push\"][\"already_there\"] is False"
'

test_expect_success REGISTRY '... a proxy in the environment: asked through libcurl' '
	mark reg &&
	http_proxy=http://127.0.0.1:9 no_proxy="*" libs ci-push --new -q --layout img $reg/cached:v1 >c4.json &&
	grep libcurl libs &&
	since reg >actual &&
	echo "HEAD /v2/cached/manifests/v1 200" >expect &&
	test_cmp expect actual &&
	test_json c4.json "d[\"push\"][\"already_there\"] is True"
'

test_expect_success REGISTRY '... an answer not a 200 or 404 (503): asked again through libcurl' '
	echo "[]" >rules.json &&
	ci-push --new -q --layout img $via/app:v2 >c5.json &&
	echo "[{\"method\": \"HEAD\", \"path\": \"/manifests/\", \"action\": \"status\", \"status\": 503, \"times\": 1}]" >rules.json &&
	: >proxy/requests.log &&
	libs ci-push --new -q --layout img $via/app:v2 >c6.json &&
	grep libcurl libs &&
	test $(grep -c "\"action\": \"status\"" proxy/requests.log) = 1 &&
	test $(grep -c "\"method\": \"HEAD\"" proxy/requests.log) = 2 &&
	test_json c6.json "d[\"push\"][\"already_there\"] is True"
'

test_expect_success REGISTRY '... a reset, an answer not a registry'"'"'s, a stall: each asked again through libcurl' '
	for rule in "\"action\": \"reset\"" \
		"\"action\": \"drop\", \"name\": \"Docker-Distribution-API-Version\"" \
		"\"action\": \"stall\", \"hold\": 3"
	do
		echo "[{\"method\": \"HEAD\", \"path\": \"/manifests/\", $rule, \"times\": 1}]" >rules.json &&
		: >proxy/requests.log &&
		libs ci-push --new -q --layout img $via/app:v2 >c7.json &&
		grep libcurl libs &&
		test $(grep -c "\"method\": \"HEAD\".*\"authorization\"" proxy/requests.log) = 2 &&
		test_json c7.json "d[\"push\"][\"already_there\"] is True" || return 1
	done
'

test_done
