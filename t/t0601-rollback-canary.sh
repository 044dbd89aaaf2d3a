#!/bin/sh
test_description='ci-rollback after a real canary behind HAProxy: traffic, alerts, the block, the gate, --to previous'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/haproxy-lib.sh"
. "$TEST_DIRECTORY/helpers/canary-lib.sh"

CI_STATE_DIR=$TRASH/state
export CI_STATE_DIR

# spec FILE: a fast rollout of "shop" through lb/.
spec() {
	cat >"$1" <<-EOF
	{"app": "shop",
	 "traffic": {"driver": "haproxy", "socket": "$TRASH/lb/admin.sock", "backend": "app",
	             "state_file": "$TRASH/lb/state"},
	 "steps": [{"weight": 10, "pause": "1s"}, {"weight": 100}],
	 "analysis": {"interval": "300ms", "min_requests": 5, "failure_limit": 2}}
	EOF
}

# release VERSION: a pipeline of ci-canary then ci-rollback with every
# alert; the document in VERSION.json, stderr in VERSION.err.
SECRET_PATH=/services/T0SECRET/B0SECRET/$SLACK_WEBHOOK_TOKEN
release() {
	ci-canary --new --version-tag "$1" -f spec.json --image "registry.example/shop:$1" 2>"$1.canary.err" |
	ci-rollback --slack-webhook "http://127.0.0.1:$(cat slack.port)$SECRET_PATH" \
		--pagerduty-key "$PAGERDUTY_ROUTING_KEY" --pagerduty-url "http://127.0.0.1:$(cat pd.port)/v2/enqueue" \
		--smtp-url "smtp://127.0.0.1:$(cat smtp.port)" --email-to lead@example.com \
		--email-from ci@example.com --notify-success >"$1.json" 2>"$1.err"
}

test_expect_success HAPROXY 'setup: HAProxy, v1 on blue, green empty; Slack (429 once), PagerDuty and a mail server' '
	haproxy_app_start blue "$(test_free_port)" --version v1 &&
	haproxy_app_start green "$(test_free_port)" --version v2 &&
	haproxy_start lb "$(cat blue/port)" "$(cat green/port)" &&
	haproxy_wait_status lb app/blue UP && haproxy_wait_status lb app/green UP &&
	receiver slack --fail-first 1 &&
	receiver pd &&
	rm -f smtp.ready &&
	{ "$TEST_DIRECTORY/helpers/smtp-receiver" --port 0 --port-file smtp.port \
		--out "$TRASH/smtp.jsonl" --ready-file smtp.ready & hap_track_ $! smtp-receiver; } &&
	n=0 && until test -e smtp.ready; do sleep 0.1; n=$((n + 1)); test $n -lt 100; done &&
	spec spec.json
'

test_expect_success HAPROXY 'v2 passes: the ledger says stable on green, Slack hears of it, nobody is paged' '
	load 20 &&
	release v2 &&
	stop_load &&
	test_json v2.json "d[\"canary\"][\"status\"] == \"passed\" and d[\"rollback\"][\"status\"] == \"passed\" and d[\"status\"] == \"passed\"" &&
	test_json v2.json "[a[\"kind\"] for a in d[\"rollback\"][\"alerts\"]] == [\"slack\"] and d[\"rollback\"][\"alerts\"][0][\"delivered\"]" &&
	test_json_lines state/releases.jsonl "[(r[\"version\"], r[\"status\"], r[\"slot\"]) for r in d] == [(\"v2\", \"stable\", \"green\")]" &&
	test_json_lines slack.jsonl "[r[\"status\"] for r in d] == [429, 200] and d[1][\"body\"][\"text\"].split(chr(10))[0] == \"\\u2705 shop v2 deployed to production successfully!\"" &&
	! test -s pd.jsonl
'

test_expect_success HAPROXY 'v3 passes on blue; --to previous puts v2 back by traffic alone' '
	haproxy_app_stop blue && haproxy_app_start blue "$(cat blue/port)" --version v3 &&
	haproxy_admin lb "set server app/blue state ready" && haproxy_wait_status lb app/blue UP &&
	load 20 &&
	release v3 &&
	test_json v3.json "d[\"rollback\"][\"status\"] == \"passed\" and d[\"rollback\"][\"superseded\"] == \"v2\"" &&
	is "$(weight blue)" 100 && is "$(weight green)" 0 &&
	ci-rollback --app shop --to previous >to.out 2>to.err &&
	stop_load &&
	test_grep "shop: v2 is stable again; rolled back v3" to.out &&
	is "$(weight green)" 100 && is "$(weight blue)" 0 &&
	test "$(curl -s -D - -o /dev/null "http://127.0.0.1:$(cat lb/port)/health" | tr -d "\r" | sed -n "s/^[Xx]-[Aa]pp-[Vv]ersion: //p")" = v2 &&
	test_json_lines state/releases.jsonl "[(r[\"version\"], r[\"status\"]) for r in d][-2:] == [(\"v3\", \"rolled_back\"), (\"v2\", \"stable\")]" &&
	test_json state/canary/shop.json "d[\"stable_slot\"] == \"green\"" &&
	ci-canary --app shop --socket "$TRASH/lb/admin.sock" --backend app --slot >slot &&
	echo blue >expect && test_cmp expect slot
'

test_expect_success HAPROXY 'v4 on blue fails: traffic on v2, PagerDuty and Slack once, the lead mailed, the pipeline blocked' '
	haproxy_app_stop blue && haproxy_app_start blue "$(cat blue/port)" --version v4 --error-path /search=0.5 &&
	haproxy_admin lb "set server app/blue state ready" && haproxy_wait_status lb app/blue UP &&
	load 20 &&
	test_expect_code 1 release v4 &&
	stop_load &&
	test_json v4.json "d[\"canary\"][\"status\"] == \"failed\" and d[\"rollback\"][\"status\"] == \"failed\" and d[\"rollback\"][\"outcome\"] == \"rolled_back\"" &&
	test_json v4.json "d[\"rollback\"][\"traffic\"][\"restored\"] and d[\"rollback\"][\"traffic\"][\"canary_weight\"] == 0" &&
	test_json v4.json "d[\"rollback\"][\"rolled_back_to\"] == {\"version\": \"v2\", \"image\": \"registry.example/shop:v2\", \"slot\": \"green\"}" &&
	test_json v4.json "sorted(a[\"kind\"] for a in d[\"rollback\"][\"alerts\"]) == [\"email\", \"pagerduty\", \"slack\"] and all(a[\"delivered\"] for a in d[\"rollback\"][\"alerts\"])" &&
	test_json v4.json "set(d[\"rollback\"][\"timeline\"]) == {\"detected_at\", \"rollback_started_at\", \"traffic_restored_at\", \"alerts_sent_at\"}" &&
	test_json v4.json "d[\"rollback\"][\"timeline\"][\"detected_at\"] <= d[\"rollback\"][\"timeline\"][\"traffic_restored_at\"] <= d[\"rollback\"][\"timeline\"][\"alerts_sent_at\"]" &&
	is "$(weight blue)" 0 && is "$(weight green)" 100 &&
	test_json_lines state/releases.jsonl "d[-1][\"version\"] == \"v4\" and d[-1][\"status\"] == \"failed\" and d[-1][\"slot\"] == \"blue\" and \"error-rate\" in d[-1][\"reason\"]" &&
	test_json state/blocked.json "d[\"release\"] == \"v4\" and \"error-rate\" in d[\"reason\"]"
'

test_expect_success HAPROXY '... the Slack message is the seed s, with the figures' '
	test_json_lines slack.jsonl "len(d) == 4" &&
	python3 - <<-\PY
	import json
	t = [json.loads(l) for l in open("slack.jsonl")][-1]["body"]["text"].split("\n")
	assert t[0] == "\U0001f6a8 ROLLBACK: Deployment shop v4 failed", t
	assert t[1].startswith("error-rate ") and "&gt; 5%" in t[1], t
	assert "Rolled back to: v2" in t, t
	assert "Affected users: ~10%" in t, t
	assert "Action required: Fix and redeploy" in t, t
	assert any(l.startswith("Traffic restored: ") for l in t), t
	PY
'

test_expect_success HAPROXY '... PagerDuty got one critical trigger with a dedup key; the lead one mail' '
	test_json_lines pd.jsonl "len(d) == 1 and d[0][\"path\"] == \"/v2/enqueue\"" &&
	test_json_lines pd.jsonl "d[0][\"body\"][\"event_action\"] == \"trigger\" and d[0][\"body\"][\"payload\"][\"severity\"] == \"critical\" and d[0][\"body\"][\"routing_key\"] == \"$PAGERDUTY_ROUTING_KEY\"" &&
	test_json_lines pd.jsonl "d[0][\"body\"][\"dedup_key\"] == \"ci-rollback/shop/v4\" or d[0][\"body\"][\"dedup_key\"].startswith(\"ci-rollback/shop/v4\")" &&
	test_json_lines smtp.jsonl "len(d) == 1 and d[0][\"to\"] == [\"lead@example.com\"] and \"ROLLBACK\" in d[0][\"data\"] and \"v4\" in d[0][\"data\"]"
'

test_expect_success HAPROXY '... no secret in the document or on stderr' '
	! grep -e T0SECRET -e "$PAGERDUTY_ROUTING_KEY" v4.json v4.err v2.err v2.json &&
	test_grep "http://127.0.0.1:[0-9]*/" v4.json
'

test_expect_success HAPROXY '... a re-run of the same document pages nobody twice' '
	test_expect_code 1 ci-rollback --slack-webhook "http://127.0.0.1:$(cat slack.port)$SECRET_PATH" \
		--pagerduty-key "$PAGERDUTY_ROUTING_KEY" --pagerduty-url "http://127.0.0.1:$(cat pd.port)/v2/enqueue" \
		<v4.json >v4b.json 2>v4b.err &&
	test_json v4b.json "all(a.get(\"earlier\") for a in d[\"rollback\"][\"alerts\"])" &&
	test_json_lines pd.jsonl "len(d) == 1" && test_json_lines slack.jsonl "len(d) == 4"
'

test_expect_success HAPROXY 'the gate refuses while blocked; --unblock resolves the incident and the gate runs' '
	test_expect_code 1 ci-gate --new -g "ok=true" >g.json 2>g.err &&
	test_grep "release v4" g.err &&
	ci-rollback --app shop --unblock --reason "fixed the retry storm" \
		--pagerduty-key "$PAGERDUTY_ROUTING_KEY" --pagerduty-url "http://127.0.0.1:$(cat pd.port)/v2/enqueue" 2>u.err &&
	test_grep "pagerduty incident resolved" u.err &&
	test_json_lines pd.jsonl "len(d) == 2 and d[1][\"body\"][\"event_action\"] == \"resolve\" and d[1][\"body\"][\"dedup_key\"] == d[0][\"body\"][\"dedup_key\"]" &&
	ci-gate --new -g "ok=true" >g2.json
'

test_expect_success HAPROXY 'ci-canary died: ci-rollback moves the traffic itself from the document' '
	haproxy_admin lb "set weight app/blue 30" && haproxy_admin lb "set weight app/green 70" &&
	"$TEST_DIRECTORY/helpers/pipeline-doc" --version v5 --canary error --slots green,blue \
		--traffic "{\"driver\": \"haproxy\", \"socket\": \"$TRASH/lb/admin.sock\", \"backend\": \"app\"}" \
		--run-id r5 >d5.json &&
	test_json d5.json "d[\"canary\"][\"status\"] == \"error\"" &&
	test_expect_code 1 ci-rollback <d5.json >v5.json 2>v5.err &&
	is "$(weight blue)" 0 && is "$(weight green)" 100 &&
	test "$(haproxy_stat lb app/blue status)" = MAINT &&
	test_json v5.json "d[\"rollback\"][\"traffic\"][\"restored\"] and d[\"rollback\"][\"traffic\"][\"attempts\"] == 1"
'

test_expect_success HAPROXY 'an unreachable load balancer: exit 69 after the retries, blocked all the same, the alert says so' '
	rm -f state/blocked.json &&
	"$TEST_DIRECTORY/helpers/pipeline-doc" --version v6 --slots green,blue --canary failed \
		--traffic "{\"driver\": \"haproxy\", \"socket\": \"$TRASH/nowhere.sock\", \"backend\": \"app\"}" \
		--run-id r6 >d6.json &&
	test_expect_code 69 ci-rollback --retries 2 --slack-webhook "http://127.0.0.1:$(cat slack.port)/hook" \
		<d6.json >v6.json 2>v6.err &&
	test_json v6.json "d[\"rollback\"][\"status\"] == \"error\" and d[\"rollback\"][\"outcome\"] == \"traffic_not_restored\" and d[\"rollback\"][\"traffic\"][\"restored\"] is False and d[\"rollback\"][\"traffic\"][\"attempts\"] == 2" &&
	test_grep "traffic may not be back on stable" v6.err &&
	test_json state/blocked.json "d[\"release\"] == \"v6\"" &&
	test_json_lines slack.jsonl "\"may NOT be back on stable\" in d[-1][\"body\"][\"text\"]"
'

test_expect_success HAPROXY 'a Slack that refuses (400): reported in the document, the rollback goes on' '
	receiver bad --status 400 &&
	"$TEST_DIRECTORY/helpers/pipeline-doc" --version v7 --canary failed --run-id r7 >d7.json &&
	test_expect_code 1 ci-rollback --slack-webhook "http://127.0.0.1:$(cat bad.port)$SECRET_PATH" \
		<d7.json >v7.json 2>v7.err &&
	test_json v7.json "d[\"rollback\"][\"status\"] == \"failed\" and d[\"rollback\"][\"outcome\"] == \"rolled_back\" and d[\"rollback\"][\"alerts\"][0][\"delivered\"] is False" &&
	test_json v7.json "\"400\" in d[\"rollback\"][\"alerts\"][0][\"error\"]" &&
	test_grep "slack alert not delivered" v7.err &&
	! grep -e T0SECRET v7.json v7.err
'

test_done
