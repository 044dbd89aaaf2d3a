#!/bin/sh
test_description='ci-canary refuses bad specs and options before it touches any traffic'
. "${0%/*}/test-lib.sh"

CI_STATE_DIR=$TRASH/state
export CI_STATE_DIR

# A socket nothing listens on.
DEAD=127.0.0.1:$(test_free_port)

# refused NAME SPEC MESSAGE: exit 2, the message, nothing on stdout, no state.
refused() {
	printf '%s\n' "$2" >"spec-$1.json"
	test_expect_success "refused: $1" "
		test_expect_code 2 ci-canary --new --image r/shop:v1 -f spec-$1.json >out 2>err &&
		! test -s out &&
		test_grep \"$3\" err &&
		! test -e state/canary/shop.json
	"
}

refused unknown-key '{"app": "shop", "traffic": {"driver": "haproxy", "socket": "/s", "backend": "b"},
 "analysis": {"intervall": "10s"}}' \
	"spec-unknown-key.json:2:15: analysis: unknown key 'intervall' (expected interval, "

refused unknown-top '{"app": "shop", "stepz": []}' \
	"spec-unknown-top.json:1:17: (top): unknown key 'stepz' (expected app, traffic, steps, analysis, approval)"

refused not-increasing '{"steps": [{"weight": 25, "pause": "1m"}, {"weight": 5}, {"weight": 100}]}' \
	"spec-not-increasing.json:1:43: steps\[1\]: weights must increase: 5 after 25"

refused no-steps '{"steps": []}' \
	"spec-no-steps.json:1:[0-9]*: steps: expected 1 to 100 steps"

refused last-not-100 '{"steps": [{"weight": 5}, {"weight": 50}]}' \
	"steps: the last step must have weight 100"

refused bad-duration '{"steps": [{"weight": 5, "pause": "ten minutes"}, {"weight": 100}]}' \
	"spec-bad-duration.json:1:26: steps\[0\]: 'pause' must be a duration like .60s. or .10m."

refused weight-range '{"steps": [{"weight": 0}, {"weight": 100}]}' \
	"steps\[0\]: 'weight' must be a whole number from 1 to 100"

refused bad-json '{"steps": [' \
	"spec-bad-json.json:2:1: "

refused unknown-driver '{"traffic": {"driver": "f5"}}' \
	"traffic.driver: unknown driver (expected haproxy, nginx or exec)"

refused nginx-needs-servers '{"traffic": {"driver": "nginx", "upstream": "app", "file": "/x.conf"}}' \
	"spec-nginx-needs-servers.json:1:2: traffic: the nginx driver needs 'servers'"

refused nginx-needs-file '{"traffic": {"driver": "nginx", "upstream": "app"}}' \
	"traffic: the nginx driver needs 'file'"

refused nginx-haproxy-key '{"traffic": {"driver": "nginx", "socket": "/s", "upstream": "app"}}' \
	"spec-nginx-haproxy-key.json:1:33: traffic: 'socket' is for the haproxy driver, not nginx"

refused haproxy-nginx-key '{"traffic": {"driver": "haproxy", "socket": "/s", "backend": "b", "file": "/x.conf"}}' \
	"traffic: 'file' is for the nginx driver, not haproxy"

refused exec-nginx-key '{"traffic": {"driver": "exec", "set": "true", "servers": {}}}' \
	"traffic: 'servers' is for the nginx driver, not exec"

refused nginx-slot-without-server '{"traffic": {"driver": "nginx", "upstream": "app", "file": "/x.conf",
 "servers": {"blue": "127.0.0.1:8001", "red": "127.0.0.1:8002"}}}' \
	"spec-nginx-slot-without-server.json:2:2: traffic.servers: no address for the slot 'green' (the slots are 'blue' and 'green')"

refused nginx-bad-address '{"traffic": {"driver": "nginx", "upstream": "app", "file": "/x.conf",
 "servers": {"blue": "127.0.0.1:8001; server evil:80", "green": "127.0.0.1:8002"}}}' \
	"traffic.servers: 'blue': invalid nginx server address '127.0.0.1:8001; server evil:80'"

refused nginx-same-address '{"traffic": {"driver": "nginx", "upstream": "app", "file": "/x.conf",
 "servers": {"blue": "127.0.0.1:8001", "green": "127.0.0.1:8001"}}}' \
	"traffic.servers: 'blue' and 'green' have the same address '127.0.0.1:8001'"

refused nginx-bad-upstream '{"traffic": {"driver": "nginx", "upstream": "app {", "file": "/x.conf",
 "servers": {"blue": "127.0.0.1:8001", "green": "127.0.0.1:8002"}}}' \
	"traffic.upstream: invalid nginx upstream name 'app {'"

refused nginx-baseline-not-in-servers '{"traffic": {"driver": "nginx", "upstream": "app", "file": "/x.conf",
 "servers": {"blue": "127.0.0.1:8001", "green": "127.0.0.1:8002"}, "baseline": "base"}}' \
	"spec-nginx-baseline-not-in-servers.json:2:68: traffic.baseline: .base. is not in traffic.servers: give its address there"

refused nginx-baseline-other-server '{"traffic": {"driver": "nginx", "upstream": "app", "file": "/x.conf",
 "servers": {"blue": "127.0.0.1:8001", "green": "127.0.0.1:8002", "red": "127.0.0.1:8003"},
 "baseline": "base"}}' \
	"spec-nginx-baseline-other-server.json:3:2: traffic.baseline: .base. is not in traffic.servers"

refused nginx-three-servers-no-baseline '{"traffic": {"driver": "nginx", "upstream": "app", "file": "/x.conf",
 "servers": {"blue": "127.0.0.1:8001", "green": "127.0.0.1:8002", "base": "127.0.0.1:8003"}}}' \
	"spec-nginx-three-servers-no-baseline.json:2:2: traffic.servers: three servers, but no traffic.baseline"

refused nginx-baseline-same-address '{"traffic": {"driver": "nginx", "upstream": "app", "file": "/x.conf",
 "servers": {"blue": "127.0.0.1:8001", "green": "127.0.0.1:8002", "base": "127.0.0.1:8001"},
 "baseline": "base"}}' \
	"spec-nginx-baseline-same-address.json:2:2: traffic.servers: .blue. and .base. have the same address .127.0.0.1:8001."

# nginx_route NAME ROUTE MESSAGE: refused, the nginx spec with that
# traffic.route, on line 3.
nginx_route() {
	refused "$1" '{"traffic": {"driver": "nginx", "upstream": "app", "file": "/x.conf",
 "servers": {"blue": "127.0.0.1:8001", "green": "127.0.0.1:8002"},
 "route": '"$2"'}}' "$3"
}

nginx_route nginx-route-map '{"header": "X-Canary", "value": "1", "map": "/etc/haproxy/canary.map"}' \
	"spec-nginx-route-map.json:3:48: traffic.route: .map. is for the haproxy driver: ci-canary writes nginx.s map into traffic.file"

nginx_route nginx-route-value '{"header": "X-Canary", "value": "{beta}"}' \
	"spec-nginx-route-value.json:3:34: traffic.route.value: .{beta}.: use printable ASCII without blanks"

nginx_route nginx-route-value-regex '{"header": "X-Canary", "value": "~beta"}' \
	"spec-nginx-route-value-regex.json:3:34: traffic.route.value: .~beta.: nginx.s map takes a value starting with .~. for a regular expression"

nginx_route nginx-route-value-word '{"header": "X-Canary", "value": "include"}' \
	"spec-nginx-route-value-word.json:3:34: traffic.route.value: .include.: .default. and .include. are words of nginx.s map"

nginx_route nginx-route-header '{"header": "X.Canary", "value": "1"}' \
	"spec-nginx-route-header.json:3:12: traffic.route.header: nginx reads a header as .http_NAME: .X.Canary. must be"

nginx_route nginx-route-needs-value '{"header": "X-Canary"}' \
	"spec-nginx-route-needs-value.json:3:2: traffic.route: needs .header. and .value."

refused nginx-sticky-header '{"traffic": {"driver": "nginx", "upstream": "app", "file": "/x.conf",
 "servers": {"blue": "127.0.0.1:8001", "green": "127.0.0.1:8002"}, "sticky": "header:X.User"}}' \
	"spec-nginx-sticky-header.json:2:68: traffic.sticky: nginx reads a header as .http_NAME: .X.User. must be"

refused haproxy-metric-on-nginx '{"traffic": {"driver": "nginx", "upstream": "app", "file": "/x.conf",
 "servers": {"blue": "127.0.0.1:8001", "green": "127.0.0.1:8002"}}}' \
	"metric 'error-rate': the haproxy source reads HAProxy's counters and needs the haproxy driver; with the nginx driver use prometheus or exec metrics"

refused health-metric-on-nginx '{"traffic": {"driver": "nginx", "upstream": "app", "file": "/x.conf",
 "servers": {"blue": "127.0.0.1:8001", "green": "127.0.0.1:8002"}},
 "analysis": {"metrics": [{"source": "health"}]}}' \
	"metric 'health': the health source reads HAProxy's health check and needs the haproxy driver"

refused haproxy-needs-socket '{"traffic": {"driver": "haproxy", "backend": "b"}}' \
	"the haproxy driver needs 'socket'"

refused unknown-source '{"traffic": {"driver": "haproxy", "socket": "/s", "backend": "b"},
 "analysis": {"metrics": [{"source": "disk", "max": 1}]}}' \
	"unknown source 'disk' (expected haproxy, haproxy-log, health, prometheus, exec, resources or synthetic)"

refused log-without-listen '{"traffic": {"driver": "haproxy", "socket": "/s", "backend": "b"},
 "analysis": {"metrics": [{"source": "haproxy-log", "max": 1}]}}' \
	"spec-log-without-listen.json:2:27: analysis.metrics\[0\]: a haproxy-log metric needs 'listen'"

refused quantile-range '{"traffic": {"driver": "haproxy", "socket": "/s", "backend": "b"},
 "analysis": {"metrics": [{"source": "haproxy-log", "listen": "127.0.0.1:1", "quantile": 101, "max": 1}]}}' \
	"'quantile' must be from 50 to 100"

refused metric-without-threshold '{"traffic": {"driver": "haproxy", "socket": "/s", "backend": "b"},
 "analysis": {"metrics": [{"source": "haproxy"}]}}' \
	"analysis.metrics\[0\]: give 'max', 'max_increase' or both"

refused prometheus-without-query '{"traffic": {"driver": "haproxy", "socket": "/s", "backend": "b"},
 "analysis": {"metrics": [{"source": "prometheus", "address": "http://p:9090", "max": 1}]}}' \
	"a prometheus metric needs 'address' and 'query'"

refused haproxy-metric-on-exec '{"traffic": {"driver": "exec", "set": "true"}}' \
	"metric 'error-rate': the haproxy source reads HAProxy's counters and needs the haproxy driver"

refused approval '{"traffic": {"driver": "exec", "set": "true"}, "approval": "later"}' \
	"spec-approval.json:1:48: approval: expected .before. or {.after_step.: N}"

refused slots '{"traffic": {"driver": "haproxy", "socket": "/s", "backend": "b", "slots": ["a", "a"]}}' \
	"traffic.slots: expected two different server names"

test_expect_success 'no traffic driver at all is a usage error' '
	test_expect_code 2 ci-canary --new --image r/shop:v1 >out 2>err &&
	! test -s out &&
	test_grep "no traffic driver: give a spec with .traffic. (-f FILE) or --socket and --backend" err
'

bad_option() {
	test_expect_success "usage: $1" "
		test_expect_code 2 ci-canary --new --socket /s --backend b $2 >out 2>err &&
		! test -s out &&
		test_grep \"$3\" err
	"
}
bad_option 'steps not increasing' '--steps 5,5,100' "--steps '5,5,100': weights must increase: 5 after 5"
bad_option 'steps not ending at 100' '--steps 5,50' "--steps '5,50': the last weight must be 100"
bad_option 'steps not numbers' '--steps five,100' "--steps 'five,100': expected increasing weights"
bad_option 'a bad interval' '--interval 10' "--interval '10'"
bad_option 'an interval too short' '--interval 10ms' "--interval '10ms': at least 100ms"
bad_option 'a bad error rate' '--max-error-rate 150' "--max-error-rate '150': expected a percent"
bad_option 'a bad failure limit' '--failure-limit 0' "--failure-limit '0': expected a number from 1 to 1000"
bad_option '--pause without --steps' '--pause 1m' "--pause goes with --steps"
bad_option '--max-p99 without a latency source' '--max-p99 500ms' "--max-p99 needs per-request latencies: give --log-listen"
bad_option 'two actions' '--promote --abort' "--promote, --abort and --resume go alone"
bad_option 'bad slots' '--slots blue' "--slots 'blue': expected two names"
bad_option 'the same slot twice' '--slots blue,blue' "--slots 'blue,blue': expected two names"

test_expect_success '--slots takes names that share a prefix' '
	test_expect_code 69 ci-canary --app pre --socket "$DEAD" --backend b \
		--slots blue,blueberry --slot >out 2>err &&
	test_grep "cannot reach haproxy" err
'

bad_option 'a bad app name' '--app ../etc --image r/x:1' "app name '../etc'"

test_expect_success 'an unreachable socket: exit 69 naming it, the document says error' '
	test_expect_code 69 ci-canary --new --app shop --image r/shop:v1 --socket "$DEAD" \
		--backend app >doc.json 2>err &&
	test_grep "$DEAD" err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"error\" and \"$DEAD\" in d[\"canary\"][\"reason\"]"
'

test_expect_success 'a missing socket file: exit 69 naming it' '
	test_expect_code 69 ci-canary --new --app shop --image r/shop:v1 --socket "$TRASH/nope.sock" \
		--backend app >doc.json 2>err &&
	test_grep "nope.sock" err
'

test_expect_success 'no image: a usage error' '
	test_expect_code 2 ci-canary --new --app shop --socket /s --backend app >out 2>err &&
	test_grep "no image to roll out" err
'

test_expect_success '--promote with nothing paused is a usage error' '
	test_expect_code 2 ci-canary --new --app shop --socket /s --backend app --promote >out 2>err &&
	test_grep "no rollout of .shop. to promote" err
'

test_expect_success 'a damaged state file is refused, not overwritten' '
	mkdir -p state/canary && echo "{\"app\": " >state/canary/shop.json &&
	test_expect_code 74 ci-canary --new --app shop --image r/shop:v1 --socket /s --backend app >out 2>err &&
	test_grep "the rollout state is damaged" err &&
	echo "{\"app\": " >expect && test_cmp expect state/canary/shop.json &&
	rm state/canary/shop.json
'

test_expect_success 'the exec driver: weights through the user command, values as arguments' '
	cat >exec.json <<-\EOF &&
	{"app": "shop",
	 "traffic": {"driver": "exec",
	             "set": "echo {{stable}}={{stable_weight}} {{canary}}={{canary_weight}} {{image}} >>weights.log",
	             "promote": "echo promoted {{image}} >>weights.log"},
	 "steps": [{"weight": 10, "pause": "300ms"}, {"weight": 50, "pause": "300ms"}, {"weight": 100}],
	 "analysis": {"interval": "150ms", "min_requests": 0,
	              "metrics": [{"name": "errors", "source": "exec", "command": "echo 0.5", "max": 1}]}}
	EOF
	ci-canary --new -f exec.json --image "r/shop:v1;touch pwned" >doc.json 2>err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"passed\"" &&
	cat >expect <<-\EOF &&
	blue=90 green=10 r/shop:v1;touch pwned
	blue=50 green=50 r/shop:v1;touch pwned
	blue=0 green=100 r/shop:v1;touch pwned
	promoted r/shop:v1;touch pwned
	EOF
	test_cmp expect weights.log &&
	! test -e pwned &&
	test_json doc.json "d[\"canary\"][\"intervals\"][0][\"metrics\"][\"errors\"][\"canary\"] == 0.5"
'

test_expect_success 'an exec metric over its max fails the canary after failure_limit' '
	sed -e "s/echo 0.5/echo 7/" exec.json >bad.json &&
	rm -f weights.log &&
	test_expect_code 1 ci-canary --new -f bad.json --image r/shop:v2 --report chart.svg >doc.json 2>err &&
	xmllint --noout chart.svg &&
	test_grep "<polyline" chart.svg &&
	test "$(grep -c "class=.fail." chart.svg)" -ge 3 &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"failed\" and d[\"canary\"][\"reason\"] == \"errors 7 > 1, 3 of 3 failures\"" &&
	tail -n 1 weights.log >last &&
	echo "green=100 blue=0 r/shop:v2" >expect && test_cmp expect last
'

test_expect_success '--report to a place that cannot be written: the verdict stands, the error is said' '
	echo "a file" >not-a-dir &&
	test_expect_code 1 ci-canary --new -f bad.json --image r/shop:v2c --report not-a-dir/c.svg >doc.json 2>err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"failed\"" &&
	test_grep "not-a-dir/c.svg" err
'

test_expect_success 'an exec metric that prints no number: the source is unreadable, then abort' '
	# Four reads must fit in the first step however slow the machine: a
	# step with no verdict is extended, then paused (exit 3).
	sed -e "s/echo 0.5/echo n\/a/" -e "s/\"weight\": 10, \"pause\": \"300ms\"/\"weight\": 10, \"pause\": \"1m\"/" \
	    exec.json >nan.json &&
	grep "\"pause\": \"1m\"" nan.json &&
	test_expect_code 1 ci-canary --new -f nan.json --image r/shop:v3 >doc.json 2>err &&
	test_json doc.json "\"could not be read 4 times in a row\" in d[\"canary\"][\"reason\"] and \"not one number\" in d[\"canary\"][\"reason\"]"
'

test_done
