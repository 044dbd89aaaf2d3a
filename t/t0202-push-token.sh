#!/bin/sh
test_description='ci-push with bearer tokens: a registry in auth.token mode and an RS256 token server'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/registry-lib.sh"

PW='T0ken-pa55word'

no_secret() {
	for f in "$@"; do
		if grep -q -e "$PW" "$f"; then
			echo "the password leaked into $f"
			return 1
		fi
	done
}

test_expect_success REGISTRY,UMOCI,OPENSSL,CRYPTOGRAPHY 'setup: token server, token registry, an image' '
	openssl req -x509 -newkey rsa:2048 -nodes -keyout token.key -out token.crt \
		-days 2 -subj /CN=ci-tools-token 2>/dev/null &&
	echo "alice:$PW" >users &&
	start_token_server ts token.key token.crt users &&
	tport=$(cat ts/port) &&
	start_registry reg --token "http://127.0.0.1:$tport/token" ci-tools-test-registry \
		ci-tools-test-issuer "$PWD/token.crt" &&
	make_image img v1 4000 5000
'
port=$(cat reg/port 2>/dev/null)
reg=127.0.0.1:$port

test_expect_success REGISTRY,CRYPTOGRAPHY 'right credentials: the push works with a token for the push scope' '
	echo "$PW" | ci-push --username alice --password-stdin --layout img $reg/app:v1 >ok.json 2>ok.err &&
	test_json ok.json "d[\"push\"][\"status\"] == \"passed\"" &&
	test_json ok.json "d[\"push\"][\"blobs\"][\"uploaded\"] == 3" &&
	grep "\"user\": \"alice\"" ts/requests.log | grep -q "repository:app:pull,push" &&
	no_secret ok.json ok.err
'

test_expect_success REGISTRY,CRYPTOGRAPHY 'one token for the whole push: tokens are cached per scope' '
	test $(grep -c "repository:app:pull,push" ts/requests.log) = 1
'

test_expect_success REGISTRY,CRYPTOGRAPHY 'pushed again: the HEAD meets the challenge, gets one token, and that is all' '
	reg_requests reg >before &&
	tokens=$(wc -l <ts/requests.log) &&
	echo "$PW" | ci-push --username alice --password-stdin --layout img $reg/app:v1 >again.json &&
	reg_requests reg | tail -n +$(($(wc -l <before) + 1)) >actual &&
	printf "HEAD /v2/app/manifests/v1 401\nHEAD /v2/app/manifests/v1 200\n" >expect &&
	test_cmp expect actual &&
	test $(wc -l <ts/requests.log) = $((tokens + 1)) &&
	tail -n 1 ts/requests.log | grep -q "repository:app:pull,push" &&
	test_json again.json "d[\"push\"][\"already_there\"] is True"
'

test_expect_success REGISTRY,CRYPTOGRAPHY 'another repository mounts with one token for both scopes' '
	echo "$PW" | ci-push --username alice --password-stdin --layout img $reg/app2:v1 >m.json 2>m.err &&
	test_json m.json "d[\"push\"][\"blobs\"] == {\"uploaded\": 0, \"skipped\": 0, \"mounted\": 3}" &&
	grep "repository:app2:pull,push" ts/requests.log | grep -q "repository:app:pull\""
'

test_expect_success REGISTRY,CRYPTOGRAPHY 'wrong password: exit 77, the token server refused, no secret anywhere' '
	echo "bad$PW" | { ci-push --username alice --password-stdin --layout img $reg/app:v2 >bad.json 2>bad.err; echo $? >rc; } &&
	test $(cat rc) = 77 &&
	test_grep "token server .http://127.0.0.1:[0-9]*/token. refused the credentials of .alice. (from --username)" bad.err &&
	test_json bad.json "d[\"push\"][\"status\"] == \"failed\"" &&
	no_secret bad.json bad.err
'

test_expect_success REGISTRY,CRYPTOGRAPHY 'anonymous push is refused cleanly (exit 77, insufficient scope)' '
	{ ci-push --new --layout img $reg/anon:v1 >anon.json 2>anon.err; rc=$?; } &&
	test $rc = 77 &&
	test_grep "registry .$reg. refused anonymous access (insufficient scope)" anon.err &&
	! grep -q "PUT /v2/anon/manifests" reg/log
'

test_expect_success REGISTRY,CRYPTOGRAPHY 'anonymous pull works (the token server grants pull)' '
	"$SRC_ROOT/t/unit/registry.t" pull $reg/app:v1 pulled >pull.out 2>pull.err &&
	test "$(cut -d" " -f1 pull.out)" = "$(layout_digest img v1)"
'

test_expect_success REGISTRY,CRYPTOGRAPHY 'an identity token in config.json: OAuth2 refresh-token grant' '
	tok=$(printf "alice:%s" "$PW" | base64) &&
	echo "{\"auths\": {\"$reg\": {\"identitytoken\": \"$tok\"}}}" >idtok.json &&
	ci-push --new --authfile idtok.json --layout img $reg/viaid:v1 >id.json 2>id.err &&
	test_json id.json "d[\"push\"][\"status\"] == \"passed\""
'

test_done
