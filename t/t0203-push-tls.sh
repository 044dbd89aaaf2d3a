#!/bin/sh
test_description='ci-push over TLS: verified by default, --ca-file adds a CA, plain HTTP only where allowed'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/registry-lib.sh"

test_expect_success REGISTRY,UMOCI,OPENSSL 'setup: a CA, a server certificate, a registry over HTTPS' '
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
		-subj /CN=ci-tools-test-ca 2>/dev/null &&
	openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 2>/dev/null &&
	printf "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" >ext &&
	openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt \
		-days 2 -extfile ext 2>/dev/null &&
	openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt -days 2 \
		-subj /CN=another-ca 2>/dev/null &&
	start_registry reg --tls "$PWD/srv.crt" "$PWD/srv.key" &&
	make_image img v1 3000 4000
'
port=$(cat reg/port 2>/dev/null)
reg=127.0.0.1:$port

test_expect_success REGISTRY,OPENSSL 'without --ca-file the push fails before sending anything, naming the certificate problem' '
	{ ci-push --new --layout img $reg/app:v1 >no.json 2>no.err; rc=$?; } &&
	test $rc = 69 &&
	test_grep "no TLS connection to registry .$reg." no.err &&
	test_grep "SSL certificate problem: unable to get local issuer certificate" no.err &&
	test_grep "(--ca-file adds a CA to trust)" no.err &&
	test_json no.json "d[\"push\"][\"status\"] == \"failed\"" &&
	! grep -q "/v2/" reg/log &&
	! test -d reg/data/docker
'

test_expect_success REGISTRY,OPENSSL 'a CA that did not sign the certificate does not help' '
	{ ci-push --new --ca-file other.crt --layout img $reg/app:v1 >/dev/null 2>other.err; rc=$?; } &&
	test $rc = 69 &&
	test_grep "certificate" other.err &&
	! test -d reg/data/docker
'

test_expect_success REGISTRY,OPENSSL 'with --ca-file the push works over HTTPS' '
	ci-push --new --ca-file ca.crt --layout img $reg/app:v1 >ok.json 2>ok.err &&
	test_json ok.json "d[\"push\"][\"status\"] == \"passed\" and d[\"push\"][\"blobs\"][\"uploaded\"] == 3" &&
	! grep -q "plain HTTP" ok.err
'

test_expect_success REGISTRY,OPENSSL,SKOPEO 'skopeo, trusting the same CA, sees our digest' '
	mkdir -p certs && cp ca.crt certs/ca.crt &&
	d=$(skopeo inspect --raw --cert-dir certs docker://$reg/app:v1 | sha256sum | sed "s/ .*//") &&
	test "sha256:$d" = "$(layout_digest img v1)"
'

test_expect_success REGISTRY,OPENSSL 'pull over HTTPS with --ca-file' '
	"$SRC_ROOT/t/unit/registry.t" --ca-file ca.crt pull $reg/app:v1 pulled >pull.out &&
	test "$(cut -d" " -f1 pull.out)" = "$(layout_digest img v1)"
'

test_expect_success REGISTRY 'plain HTTP: allowed for 127.0.0.1 by default' '
	start_registry plain &&
	ci-push --new -q --layout img 127.0.0.1:$(cat plain/port)/app:v1 >/dev/null
'

test_expect_success REGISTRY,OPENSSL 'the scheme learnt is remembered: the next push sends no TLS probe' '
	pport=$(cat plain/port) &&
	schemes=.cache/ci-tools/registry-schemes.json &&
	test_json $schemes "d[\"127.0.0.1:$pport\"] == \"http\" and d[\"$reg\"] == \"https\"" &&
	ci-push --new -v --layout img 127.0.0.1:$pport/app:v1 >/dev/null 2>again.err &&
	test_grep "was already there" again.err &&
	! grep -q "does not speak TLS" again.err &&
	rm $schemes &&
	ci-push --new -q --no-blob-cache --layout img 127.0.0.1:$pport/app:v1 >/dev/null &&
	! test -e $schemes
'

test_expect_success REGISTRY,OPENSSL 'a remembered scheme that is wrong now costs one request, then is forgotten' '
	pport=$(cat plain/port) &&
	schemes=.cache/ci-tools/registry-schemes.json &&
	printf "{\"127.0.0.1:$pport\": \"https\", \"$reg\": \"http\"}" >$schemes &&
	ci-push --new -v --layout img 127.0.0.1:$pport/app:v5 >/dev/null 2>plain5.err &&
	test_grep "no longer speaks TLS; using plain HTTP" plain5.err &&
	reg_has_manifest $pport app v5 &&
	ci-push --new -v --ca-file ca.crt --layout img $reg/app:v5 >tls5.json 2>tls5.err &&
	test_grep "no longer speaks plain HTTP; using HTTPS" tls5.err &&
	test_json tls5.json "d[\"push\"][\"status\"] == \"passed\"" &&
	test_json $schemes "d == {}"
'

test_expect_success REGISTRY 'plain HTTP to another host name: refused unless --insecure-registry names it' '
	pport=$(cat plain/port) &&
	{ ci-push --new --layout img 0.0.0.0:$pport/app:v2 >/dev/null 2>plain.err; rc=$?; } &&
	test $rc = 69 &&
	test_grep "registry .0.0.0.0:$pport. does not speak TLS" plain.err &&
	test_grep "insecure-registry" plain.err &&
	! reg_has_manifest $pport app v2 &&
	ci-push --new -q --insecure-registry 0.0.0.0 --layout img 0.0.0.0:$pport/app:v2 >/dev/null &&
	ci-push --new -q --insecure-registry 0.0.0.0:$pport --layout img 0.0.0.0:$pport/app:v3 >/dev/null &&
	reg_has_manifest $pport app v2 && reg_has_manifest $pport app v3
'

test_expect_success REGISTRY '--insecure-registry for another port does not apply' '
	pport=$(cat plain/port) &&
	{ ci-push --new -q --insecure-registry 0.0.0.0:1 --layout img 0.0.0.0:$pport/app:v4 >/dev/null 2>&1; rc=$?; } &&
	test $rc = 69
'

test_done
