#!/bin/sh
test_description='ci-push logs in with Basic auth (htpasswd): flags, env, auth files, credential helpers'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/registry-lib.sh"

PW='Sup3r-s3cret-pw'

# no_secret FILE...: the password appears in none of them.
no_secret() {
	for f in "$@"; do
		if grep -q -e "$PW" "$f"; then
			echo "the password leaked into $f"
			return 1
		fi
	done
}

test_expect_success REGISTRY,UMOCI,HTPASSWD 'setup: a registry with htpasswd auth' '
	htpasswd -Bbn alice "$PW" >htpasswd &&
	start_registry reg --htpasswd "$PWD/htpasswd" &&
	make_image img v1 2000 3000
'
port=$(cat reg/port 2>/dev/null)
reg=127.0.0.1:$port

test_expect_success REGISTRY 'anonymous push: exit 77 with a clear message' '
	{ ci-push --new --layout img $reg/app:v1 >anon.json 2>anon.err; rc=$?; } &&
	test $rc = 77 &&
	test_grep "registry .$reg. requires a login and no credentials were found" anon.err &&
	test_json anon.json "d[\"push\"][\"status\"] == \"failed\""
'

test_expect_success REGISTRY '--username and --password-stdin' '
	echo "$PW" | ci-push --username alice --password-stdin --layout img $reg/app:v1 >ok.json 2>ok.err &&
	test_json ok.json "d[\"push\"][\"status\"] == \"passed\"" &&
	no_secret ok.json ok.err
'

test_expect_success REGISTRY 'pushed again: the HEAD meets the challenge, is sent again with the login, and that is all' '
	reg_requests reg >before &&
	echo "$PW" | ci-push --username alice --password-stdin --layout img $reg/app:v1 >again.json &&
	reg_requests reg | tail -n +$(($(wc -l <before) + 1)) >actual &&
	printf "HEAD /v2/app/manifests/v1 401\nHEAD /v2/app/manifests/v1 200\n" >expect &&
	test_cmp expect actual &&
	test_json again.json "d[\"push\"][\"already_there\"] is True"
'

test_expect_success REGISTRY 'a fresh push: one 401 (the first HEAD), the login kept for every request after' '
	reg_requests reg >before &&
	echo "$PW" | ci-push --username alice --password-stdin --no-blob-cache --layout img $reg/fresh:v1 >fresh.json &&
	reg_requests reg | tail -n +$(($(wc -l <before) + 1)) >actual &&
	test "$(head -n 1 actual)" = "HEAD /v2/fresh/manifests/v1 401" &&
	test $(grep -c " 401$" actual) = 1 &&
	test "$(tail -n 1 actual)" = "PUT /v2/fresh/manifests/v1 201"
'

test_expect_success REGISTRY 'a wrong password: exit 77, the message names user and source, no secret anywhere' '
	echo "wrong-$PW" | { ci-push --username alice --password-stdin --layout img $reg/app:v2 >bad.json 2>bad.err; echo $? >rc; } &&
	test $(cat rc) = 77 &&
	test_grep "registry .$reg. refused the credentials of .alice. (from --username)" bad.err &&
	no_secret bad.json bad.err
'

test_expect_success REGISTRY '--password-file' '
	echo "$PW" >pwfile &&
	ci-push --new -q --username alice --password-file pwfile --layout img $reg/app:v3 >pf.json 2>pf.err &&
	test_json pf.json "d[\"push\"][\"tags\"] == [\"$reg/app:v3\"]" &&
	no_secret pf.json pf.err
'

test_expect_success REGISTRY 'CI_REGISTRY_USER and CI_REGISTRY_PASSWORD' '
	CI_REGISTRY_USER=alice CI_REGISTRY_PASSWORD="$PW" \
		ci-push --new --layout img $reg/env:v1 >env.json 2>env.err &&
	test_json env.json "d[\"push\"][\"status\"] == \"passed\"" &&
	no_secret env.json env.err
'

test_expect_success REGISTRY 'CI_REGISTRY naming another host: not used for this one' '
	{ CI_REGISTRY=elsewhere.example CI_REGISTRY_USER=alice CI_REGISTRY_PASSWORD="$PW" \
		ci-push --new --layout img $reg/env:v2 >/dev/null 2>env2.err; rc=$?; } &&
	test $rc = 77
'

test_expect_success REGISTRY '~/.docker/config.json auths' '
	mkdir -p .docker &&
	auth=$(printf "alice:%s" "$PW" | base64) &&
	echo "{\"auths\": {\"$reg\": {\"auth\": \"$auth\"}}}" >.docker/config.json &&
	ci-push --new --layout img $reg/cfg:v1 >cfg.json 2>cfg.err &&
	test_json cfg.json "d[\"push\"][\"status\"] == \"passed\"" &&
	no_secret cfg.json cfg.err &&
	rm .docker/config.json
'

test_expect_success REGISTRY 'a wrong password in config.json: the message names the file' '
	auth=$(printf "alice:x%s" "$PW" | base64) &&
	echo "{\"auths\": {\"http://$reg\": {\"auth\": \"$auth\"}}}" >wrong.json &&
	{ REGISTRY_AUTH_FILE=$PWD/wrong.json ci-push --new --layout img $reg/cfg:v2 >w.json 2>w.err; rc=$?; } &&
	test $rc = 77 &&
	test_grep "refused the credentials of .alice. (from .*wrong.json)" w.err &&
	no_secret w.json w.err
'

test_expect_success REGISTRY 'DOCKER_CONFIG and --authfile' '
	mkdir -p dc &&
	auth=$(printf "alice:%s" "$PW" | base64) &&
	echo "{\"auths\": {\"$reg\": {\"auth\": \"$auth\"}}}" >dc/config.json &&
	DOCKER_CONFIG=$PWD/dc ci-push --new -q --layout img $reg/dc:v1 >/dev/null &&
	ci-push --new -q --authfile dc/config.json --layout img $reg/af:v1 >/dev/null
'

test_expect_success REGISTRY 'credHelpers: docker-credential-NAME on PATH supplies the password' '
	mkdir -p bin &&
	cat >bin/docker-credential-citest <<-EOF &&
	#!/bin/sh
	read server
	echo "\$1 \$server" >>"$PWD/helper.calls"
	test "\$1" = get || exit 1
	test "\$server" = "$reg" || { echo "credentials not found in native keychain"; exit 1; }
	printf "{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"%s\"}\n" "\$server" "$PW"
	EOF
	chmod +x bin/docker-credential-citest &&
	echo "{\"credHelpers\": {\"$reg\": \"citest\"}}" >helpers.json &&
	PATH=$PWD/bin:$PATH ci-push --new --authfile helpers.json --layout img $reg/helped:v1 >h.json 2>h.err &&
	test_json h.json "d[\"push\"][\"status\"] == \"passed\"" &&
	test_grep "^get $reg\$" helper.calls &&
	no_secret h.json h.err
'

test_expect_success REGISTRY 'credsStore: the helper for every host' '
	echo "{\"credsStore\": \"citest\", \"auths\": {\"$reg\": {}}}" >store.json &&
	PATH=$PWD/bin:$PATH ci-push --new -q --authfile store.json --layout img $reg/stored:v1 >/dev/null 2>s.err &&
	no_secret s.err
'

test_expect_success REGISTRY 'a missing credential helper: exit 77 naming it and the file' '
	echo "{\"credHelpers\": {\"$reg\": \"nosuchhelper\"}}" >missing.json &&
	{ ci-push --new --authfile missing.json --layout img $reg/m:v1 >m.json 2>m.err; rc=$?; } &&
	test $rc = 77 &&
	test_grep "credential helper .docker-credential-nosuchhelper. is not installed" m.err &&
	test_grep "missing.json" m.err
'

test_expect_success REGISTRY 'a helper that fails: exit 77' '
	printf "#!/bin/sh\nexit 4\n" >bin/docker-credential-failing &&
	chmod +x bin/docker-credential-failing &&
	echo "{\"credHelpers\": {\"$reg\": \"failing\"}}" >failing.json &&
	{ PATH=$PWD/bin:$PATH ci-push --new --authfile failing.json --layout img $reg/f:v1 >/dev/null 2>f.err; rc=$?; } &&
	test $rc = 77 &&
	test_grep "exit status 4" f.err
'

test_expect_success REGISTRY 'an anonymous registry never runs a credential helper' '
	start_registry anon &&
	rm -f helper.calls &&
	PATH=$PWD/bin:$PATH ci-push --new -q --authfile helpers.json --layout img 127.0.0.1:$(cat anon/port)/x:v1 >/dev/null &&
	! test -e helper.calls
'

test_expect_success '--password-stdin without --username' '
	echo pw | test_expect_code 2 ci-push --password-stdin --layout img $reg/x:v1 >/dev/null 2>err
'

test_expect_success REGISTRY 'the registry never saw a manifest for a push that was refused' '
	test_grep "PUT /v2/app/manifests/v1" reg/log &&
	! grep -q "PUT /v2/app/manifests/v2" reg/log
'

test_done
