#!/bin/sh
test_description='no secret leaked: every tool down the paths credentials take

Each tool runs where credentials pass: registry Basic auth and bearer
tokens, auth files, --password-file and the environment, Hurl basic auth,
userinfo and secrets, alert URLs with tokens and userinfo, a mail server
login, git remotes with credentials, a proxy, --verbose twice, and the
error paths (a wrong password, 401, 5xx, a port nothing listens on).
Every report there is is asked for (JUnit, SARIF, Code Quality, TAP,
SVG, --html).  The tests check what each tool shows instead of a
secret; the sweep of test-lib.sh, the last test, checks that none of
t/data/credentials and no token the helpers issued is in anything the
tools wrote: documents, stderr, reports, state, logs, the ledger.'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/registry-lib.sh"

CI_STATE_DIR=$TRASH/state
export CI_STATE_DIR

# helper NAME PROGRAM ARGS...: a helper server in the background, told to
# write its port to NAME.port and to create NAME.ready; stopped at the end.
helper() {
	hp_name_=$1
	shift
	rm -f "$hp_name_.ready" "$hp_name_.port"
	"$@" --port-file "$TRASH/$hp_name_.port" --ready-file "$TRASH/$hp_name_.ready" \
		</dev/null >"$hp_name_.log" 2>&1 &
	reg_track_ $!
	n=0 && until test -e "$hp_name_.ready"; do
		sleep 0.1
		n=$((n + 1))
		test $n -lt 100 || { echo "$hp_name_ did not start"; cat "$hp_name_.log"; return 1; }
	done
}

receiver() {
	rc_name_=$1
	shift
	helper "$rc_name_" "$TEST_DIRECTORY/helpers/alert-receiver" --port 0 \
		--out "$TRASH/$rc_name_.jsonl" "$@"
}

port() { cat "$1.port"; }

# shows FILE PATTERN: a line of FILE matches PATTERN (a tool's message).
shows() { test_grep "$2" "$1"; }

test_expect_success REGISTRY,UMOCI,HTPASSWD,OPENSSL,CRYPTOGRAPHY,GIT 'setup: registries (Basic, token), a proxy, git over HTTP, alert receivers, the app' '
	htpasswd -Bbn alice "$REGISTRY_PASSWORD" >htpasswd &&
	start_registry reg --htpasswd "$PWD/htpasswd" &&
	openssl req -x509 -newkey rsa:2048 -nodes -keyout token.key -out token.crt \
		-days 2 -subj /CN=ci-tools-token 2>/dev/null &&
	echo "alice:$TOKEN_SERVER_PASSWORD" >users &&
	start_token_server ts token.key token.crt users &&
	start_registry treg --token "http://127.0.0.1:$(cat ts/port)/token" ci-tools-test-registry \
		ci-tools-test-issuer "$PWD/token.crt" &&
	echo "[]" >rules.json &&
	start_proxy px "$(cat reg/port)" rules.json &&
	make_image img v1 1000 2000 &&
	printf "%s\n" "$REGISTRY_PASSWORD" >pw &&
	mkdir gitroot && git init -q --bare gitroot/ledger.git &&
	helper git "$TEST_DIRECTORY/helpers/git-http" --root gitroot --user ledger \
		--password "$GIT_HTTP_PASSWORD" &&
	receiver slack && receiver pd && receiver fail --status 500 && receiver deny --status 401 &&
	helper smtp "$TEST_DIRECTORY/helpers/smtp-receiver" --port 0 --out "$TRASH/smtp.jsonl" &&
	app_port=$(test_free_port) &&
	{ smoke-app --port "$app_port" >app.log 2>&1 & reg_track_ $!; } &&
	echo "$app_port" >app.port && wait_for_port "$app_port"
'
reg=127.0.0.1:$(cat reg/port 2>/dev/null)
treg=127.0.0.1:$(cat treg/port 2>/dev/null)
preg=127.0.0.1:$(cat px/port 2>/dev/null)
app=127.0.0.1:$(cat app.port 2>/dev/null)
ledger=git:http://ledger:$GIT_HTTP_PASSWORD@127.0.0.1:$(cat git.port 2>/dev/null)/ledger.git
dead=127.0.0.1:$(test_free_port)

# ---- ci-push ---------------------------------------------------------------

test_expect_success REGISTRY 'ci-push, Basic auth: --password-stdin, --password-file, the environment, --authfile' '
	echo "$REGISTRY_PASSWORD" | ci-push -v -v --username alice --password-stdin --layout img \
		--html push1.html "$reg/app:v1" >push1.json 2>push1.err &&
	test_json push1.json "d[\"push\"][\"status\"] == \"passed\"" &&
	ci-push --new -v --username alice --password-file pw --layout img "$reg/app:v2" >push2.json 2>push2.err &&
	CI_REGISTRY_USER=alice CI_REGISTRY_PASSWORD="$REGISTRY_PASSWORD" \
		ci-push --new -v --layout img "$reg/app:v3" >push3.json 2>push3.err &&
	auth=$(printf "alice:%s" "$REGISTRY_PASSWORD" | base64) &&
	echo "{\"auths\": {\"$reg\": {\"auth\": \"$auth\"}}}" >config.json &&
	ci-push --new -v --authfile config.json --layout img "$reg/app:v4" >push4.json 2>push4.err &&
	test_json push4.json "d[\"push\"][\"status\"] == \"passed\""
'

test_expect_success REGISTRY 'ci-push, a wrong password: exit 77 naming the user and where the password came from' '
	echo "wrong-$REGISTRY_PASSWORD" | test_expect_code 77 ci-push -v -v --username alice \
		--password-stdin --layout img --html bad.html "$reg/app:v5" >bad.json 2>bad.err &&
	shows bad.err "refused the credentials of .alice. (from --username)" &&
	test_json bad.json "d[\"push\"][\"status\"] == \"failed\""
'

test_expect_success REGISTRY 'ci-push through a proxy answering 503, then 500 for good: retried, then exit 69' '
	echo "[{\"method\": \"POST\", \"path\": \"/blobs/uploads/\", \"action\": \"status\", \"status\": 503, \"times\": 2}]" >rules.json &&
	ci-push --new -v --username alice --password-file pw --layout img "$preg/retried:v1" \
		>retry.json 2>retry.err &&
	test_json retry.json "d[\"push\"][\"status\"] == \"passed\"" &&
	echo "[{\"method\": \"PUT\", \"path\": \"/manifests/\", \"action\": \"status\", \"status\": 500}]" >rules.json &&
	test_expect_code 69 ci-push --new -v --retries 2 --username alice --password-file pw \
		--layout img "$preg/broken:v1" >5xx.json 2>5xx.err &&
	shows 5xx.err "500" &&
	echo "[]" >rules.json
'

test_expect_success REGISTRY 'ci-push to a reference given as a URL with credentials: exit 2, shown as ***' '
	test_expect_code 2 ci-push --new --layout img "http://alice:$REGISTRY_PASSWORD@$reg/app:v6" \
		>url.json 2>url.err &&
	shows url.err "http://\*\*\*@$reg/app:v6"
'

test_expect_success REGISTRY,CRYPTOGRAPHY 'ci-push, bearer tokens: right and wrong passwords, an identity token' '
	echo "$TOKEN_SERVER_PASSWORD" | ci-push -v -v --username alice --password-stdin --layout img \
		"$treg/app:v1" >tok.json 2>tok.err &&
	test_json tok.json "d[\"push\"][\"status\"] == \"passed\"" &&
	test -s "$SWEEP_SECRETS" &&
	echo "bad-$TOKEN_SERVER_PASSWORD" | test_expect_code 77 ci-push -v --username alice \
		--password-stdin --layout img "$treg/app:v2" >tokbad.json 2>tokbad.err &&
	shows tokbad.err "token server .http://127.0.0.1:[0-9]*/token. refused the credentials of .alice." &&
	idtok=$(printf "alice:%s" "$TOKEN_SERVER_PASSWORD" | base64) &&
	echo "{\"auths\": {\"$treg\": {\"identitytoken\": \"$idtok\"}}}" >idtok.json &&
	ci-push --new -v --authfile idtok.json --layout img "$treg/viaid:v1" >id.json 2>id.err &&
	test_json id.json "d[\"push\"][\"status\"] == \"passed\""
'

# ---- ci-build --------------------------------------------------------------

test_expect_success REGISTRY 'ci-build FROM a registry that wants a login: pulled with --password-file; a wrong one is 77' '
	mkdir ctx && printf "FROM %s\nLABEL stage=secrets\n" "$reg/app:v1" >ctx/Dockerfile &&
	ci-build --new -v -v --username alice --password-file pw -o built --html build.html ctx \
		>build.json 2>build.err &&
	test_json build.json "d[\"build\"][\"status\"] == \"passed\" and d[\"build\"][\"image\"][\"base\"][\"name\"] == \"$reg/app:v1\"" &&
	printf "wrong-%s\n" "$REGISTRY_PASSWORD" >badpw &&
	test_expect_code 77 ci-build --new -v --username alice --password-file badpw -o built2 ctx \
		>build2.json 2>build2.err &&
	shows build2.err "alice"
'

# ---- ci-smoke --------------------------------------------------------------

test_expect_success 'ci-smoke: [BasicAuth] from a variable, userinfo in a URL, --secret, --wait with userinfo' '
	cat >login.hurl <<-\EOF &&
	# name: basic auth from a variables file
	GET http://{{host}}/echo
	[BasicAuth]
	alice: {{basic_pw}}
	HTTP 200
	[Asserts]
	jsonpath "$.headers.authorization" == "not what is sent"

	# name: userinfo in the request URL
	GET http://bob:{{url_pw}}@{{host}}/echo?key={{apikey}}
	X-Api-Key: {{apikey}}
	HTTP 200
	[Asserts]
	jsonpath "$.headers.authorization" == "not this either"
	jsonpath "$.query.key" == "{{apikey}}x"
	body contains "{{url_pw}}-not"

	# name: a file that spells the header out
	GET http://{{host}}/echo
	[BasicAuth]
	alice: {{basic_pw}}
	HTTP 200
	[Asserts]
	EOF
	printf "jsonpath \"\$.headers.authorization\" == \"Basic %s\"\n" \
		"$(printf "alice:%s" "$HURL_BASIC_PASSWORD" | base64)" >>login.hurl &&
	printf "host=%s\nbasic_pw=%s\nurl_pw=%s\n" "$app" "$HURL_BASIC_PASSWORD" "$HURL_URL_PASSWORD" >vars &&
	test_expect_code 1 ci-smoke --new --verbose --verbose --continue-on-error --variables-file vars \
		--secret "apikey=$SMOKE_API_KEY" --wait "http://w:$HURL_URL_PASSWORD@$app/health" \
		--tap=smoke.tap --junit smoke.xml --html smoke.html login.hurl >smoke.json 2>smoke.err &&
	test_json smoke.json "d[\"smoke\"][\"wait\"][\"url\"] == \"http://***@$app/health\"" &&
	test_json smoke.json "d[\"smoke\"][\"files\"][0][\"entries\"][1][\"url\"] == \"http://***@$app/echo?key=***\"" &&
	test_json smoke.json "[a[\"actual\"] for a in d[\"smoke\"][\"files\"][0][\"entries\"][1][\"asserts\"][1:3]] == [\"\\\"Basic ***\\\"\", \"\\\"***\\\"\"]" &&
	test_json smoke.json "[(a[\"status\"], a[\"assert\"]) for a in d[\"smoke\"][\"files\"][0][\"entries\"][2][\"asserts\"][1:]] == [(\"passed\", \"jsonpath \\\"\$.headers.authorization\\\" == \\\"Basic ***\\\"\")]" &&
	test_grep "Basic \*\*\*" smoke.xml &&
	test_grep "Basic \*\*\*" smoke.tap
'

test_expect_success 'ci-smoke: a proxy with credentials that is down, a --wait that times out' '
	test_expect_code 1 env http_proxy="http://px:$PROXY_PASSWORD@$dead" ci-smoke --new --verbose \
		--variables-file vars --secret "apikey=$SMOKE_API_KEY" --wait "http://w:$HURL_URL_PASSWORD@$app/health" --wait-timeout 300ms login.hurl \
		>proxy.json 2>proxy.err &&
	shows proxy.err "http://\*\*\*@$app/health. was not ready" &&
	test_expect_code 1 ci-smoke --new --variables-file vars --secret "apikey=$SMOKE_API_KEY" \
		--wait "http://w:$HURL_URL_PASSWORD@$dead/health" --wait-timeout 200ms login.hurl >deadw.json 2>deadw.err &&
	shows deadw.err "http://\*\*\*@$dead/health"
'

test_expect_success REGISTRY 'a proxy setting libcurl cannot use: its error names it with ***' '
	bogus="bogus://px:$PROXY_PASSWORD@127.0.0.1:1" &&
	test_expect_code 1 env http_proxy="$bogus" ci-smoke --new --variables-file vars \
		--secret "apikey=$SMOKE_API_KEY" --wait "http://$app/health" --wait-timeout 300ms \
		login.hurl >bogus.json 2>bogus.err &&
	shows bogus.err "Unsupported proxy scheme for .bogus://\*\*\*@127.0.0.1:1." &&
	{ env http_proxy="$bogus" https_proxy="$bogus" ci-push --new --retries 1 --username alice \
		--password-file pw --layout img "$reg/app:v7" >bogus-push.json 2>bogus-push.err
	  echo $? >rc; } &&
	test "$(cat rc)" = 69 &&
	shows bogus-push.err "bogus://\*\*\*@127.0.0.1:1"
'

# ---- ci-canary -------------------------------------------------------------

test_expect_success 'ci-canary: a Prometheus address with userinfo, down, then answering 405; the lease in git over HTTP' '
	cat >rollout.json <<-EOF &&
	{"app": "web",
	 "traffic": {"driver": "exec", "set": "true"},
	 "steps": [{"weight": 50, "pause": "100ms"}, {"weight": 100}],
	 "analysis": {"interval": "100ms", "min_requests": 0, "failure_limit": 1,
	              "metrics": [{"name": "errors", "source": "prometheus", "query": "up", "max": 1,
	                           "address": "http://prom:$PROMETHEUS_PASSWORD@$dead"}]}}
	EOF
	CI_LEDGER=$ledger test_expect_code 3 ci-canary --new -v -v -f rollout.json \
		--image reg.example/web:v1 --report canary.svg --html canary.html >canary.json 2>canary.err &&
	test_json canary.json "d[\"canary\"][\"intervals\"][0][\"metrics\"][\"errors\"][\"why\"].startswith(\"metric \x27errors\x27: Prometheus at \x27http://***@$dead\x27: \")" &&
	git --git-dir=gitroot/ledger.git rev-parse -q --verify refs/ci/lock/web &&
	CI_LEDGER=$ledger test_expect_code 1 ci-canary -v -f rollout.json --abort >abort.json 2>abort.err &&
	sed -e "s|@$dead|@127.0.0.1:$(port deny)|" rollout.json >rollout405.json &&
	CI_LEDGER=$ledger test_expect_code 3 ci-canary --new -v -f rollout405.json --app web2 \
		--image reg.example/web2:v1 >canary2.json 2>canary2.err &&
	test_json canary2.json "d[\"canary\"][\"intervals\"][0][\"metrics\"][\"errors\"][\"why\"] == \"metric \x27errors\x27: Prometheus at \x27http://***@127.0.0.1:$(port deny)\x27 answered 405\""
'

# ---- ci-rollback -----------------------------------------------------------

test_expect_success 'ci-rollback: every alert with its secret, a 5xx webhook, a mail login, the ledger in git over HTTP' '
	"$TEST_DIRECTORY/helpers/pipeline-doc" --version 2.0 --canary failed >failed.json &&
	test_expect_code 1 ci-rollback -v -v --ledger "$ledger" \
		--slack-webhook "http://hook:$WEBHOOK_PASSWORD@127.0.0.1:$(port slack)/services/T0/B0/$SLACK_WEBHOOK_TOKEN" \
		--pagerduty-key "$PAGERDUTY_ROUTING_KEY" --pagerduty-url "http://127.0.0.1:$(port pd)/v2/enqueue" \
		--webhook "http://127.0.0.1:$(port fail)/hook?token=$WEBHOOK_QUERY_TOKEN" --alert-attempts 2 \
		--smtp-url "smtp://mailer:$SMTP_PASSWORD@127.0.0.1:$(port smtp)" --email-to lead@example.com \
		--html rollback.html <failed.json >rollback.json 2>rollback.err &&
	test_json rollback.json "d[\"rollback\"][\"status\"] == \"failed\"" &&
	test_json rollback.json "sorted(a[\"target\"] for a in d[\"rollback\"][\"alerts\"]) == sorted([\"http://***@127.0.0.1:$(port slack)/\u2026\", \"http://127.0.0.1:$(port pd)/\u2026\", \"http://127.0.0.1:$(port fail)/\u2026\", \"smtp://***@127.0.0.1:$(port smtp)\"])" &&
	test_json_lines slack.jsonl "d[0][\"path\"] == \"/services/T0/B0/$SLACK_WEBHOOK_TOKEN\"" &&
	test_json_lines pd.jsonl "d[0][\"body\"][\"routing_key\"] == \"$PAGERDUTY_ROUTING_KEY\"" &&
	git --git-dir=gitroot/ledger.git show refs/ci/ledger/shop:releases.jsonl >ledger.jsonl &&
	test_json_lines ledger.jsonl "d[-1][\"version\"] == \"2.0\"" &&
	test_json rollback.json "d[\"rollback\"][\"ledger\"] == \"ledger http://***@127.0.0.1:$(port git)/ledger.git refs/ci/ledger/shop\"" &&
	test_json rollback.json "d[\"rollback\"][\"blocked_shared\"] == \"git:http://***@127.0.0.1:$(port git)/ledger.git refs/ci/block:blocked.json\""
'

test_expect_success 'ci-rollback: a webhook answering 401, the ledger with a wrong password' '
	"$TEST_DIRECTORY/helpers/pipeline-doc" --version 2.1 --canary failed >failed2.json &&
	test_expect_code 1 ci-rollback -v --notify-success \
		--webhook "http://hook:$WEBHOOK_PASSWORD@127.0.0.1:$(port deny)/hook?token=$WEBHOOK_QUERY_TOKEN" \
		<failed2.json >deny.json 2>deny.err &&
	shows deny.err "401" &&
	wrong=$(echo "$ledger" | sed -e "s/:$GIT_HTTP_PASSWORD@/:wrong-$GIT_HTTP_PASSWORD@/") &&
	{ ci-rollback -v --ledger "$wrong" <failed2.json >wrong.json 2>wrong.err; echo $? >rc; } &&
	test "$(cat rc)" != 0 &&
	shows wrong.err "http://\*\*\*@127.0.0.1:$(port git)/ledger.git"
'

test_expect_success REGISTRY 'ci-rollback --tag-stable in a registry that wants a login' '
	d1=$(test_jval push1.json "d[\"push\"][\"digest\"]") &&
	"$TEST_DIRECTORY/helpers/pipeline-doc" --version 1.0 --digest "$d1" --repo "$reg/app" \
		--run-id stable1 >passed.json &&
	ci-rollback -v -v --tag-stable --username alice --password-file pw --ledger "$ledger" \
		<passed.json >stable.json 2>stable.err &&
	test_json stable.json "d[\"rollback\"][\"tag_stable\"] == {\"tag\": \"stable\", \"digest\": \"$d1\"}"
'

# ---- ci-deploy -------------------------------------------------------------

test_expect_success 'ci-deploy --wait with userinfo: ready, and a port nothing listens on' '
	ci-deploy --new -v -v --to staging --timeout 1m --html deploy.html \
		--wait "http://deployer:$DEPLOY_WAIT_PASSWORD@$app/health" -- true >deploy.json 2>deploy.err &&
	test_json deploy.json "d[\"deploy\"][\"staging\"][\"wait\"][\"url\"] == \"http://***@$app/health\"" &&
	shows deploy.err "http://\*\*\*@$app/health" &&
	test_expect_code 1 ci-deploy --new -v --to staging --timeout 300ms \
		--wait "http://deployer:$DEPLOY_WAIT_PASSWORD@$dead/health" -- true >deploy2.json 2>deploy2.err &&
	shows deploy2.err "http://\*\*\*@$dead/health"
'

# ---- ci-gate ---------------------------------------------------------------

test_expect_success GIT 'ci-gate: an origin with a token, and a scan of secrets, with every report' '
	CI_STATE_DIR=$TRASH/gate-state && export CI_STATE_DIR &&
	git init -q -b main repo &&
	(cd repo &&
	 printf "AWS_ACCESS_KEY_ID=%s\nGITHUB_TOKEN=%s\n" "$SCAN_AWS_KEY_1" "$SCAN_GITHUB_TOKEN" >.env &&
	 printf "db:\n  password: \"%s\"\n" "$SCAN_PASSWORD" >values.yaml &&
	 git add . && git commit -q -m secrets &&
	 git remote add origin "https://ci:$GIT_REMOTE_TOKEN@git.example.com/acme/app.git") &&
	(cd repo && ci-gate --new -v -v -g ok=true -o ../gate-logs --junit ../gate.xml \
		--html ../gate.html >../gate.json 2>../gate.err) &&
	test_json gate.json "d[\"run\"][\"source\"][\"repository\"] == \"https://***@git.example.com/acme/app.git\"" &&
	(cd repo && test_expect_code 1 ci-gate --secrets --new -v -o ../scan-logs --junit ../scan.xml \
		--sarif ../scan.sarif --codequality ../scan-cq.json --html ../scan.html \
		>../scan.json 2>../scan.err) &&
	test_json scan.json "len(d[\"gate\"][\"jobs\"][\"secrets\"][\"findings\"]) == 3"
'

test_expect_success GIT 'ci-gate: the block ci-rollback left in the shared ledger, over HTTP' '
	CI_STATE_DIR=$TRASH/gate-state CI_LEDGER=$ledger test_expect_code 1 ci-gate --new -v \
		-g ok=true >blocked.json 2>blocked.err &&
	shows blocked.err "http://\*\*\*@127.0.0.1:$(port git)/ledger.git refs/ci/block:blocked.json" &&
	test_json blocked.json "d[\"gate\"][\"blocked\"][\"file\"].startswith(\"http://***@127.0.0.1:\")" &&
	: >not-a-dir &&
	CI_STATE_DIR=$TRASH/not-a-dir/state CI_LEDGER=$ledger test_expect_code 1 ci-gate --new -v \
		-g ok=true >unreadable.json 2>unreadable.err &&
	test_json unreadable.json "d[\"gate\"][\"blocked\"][\"file\"] == \"git:http://***@127.0.0.1:$(port git)/ledger.git\""
'

test_done
