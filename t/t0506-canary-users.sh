#!/bin/sh
test_description='ci-canary and users: sticky sessions checked against the load balancer, header routes, a baseline'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/haproxy-lib.sh"
. "$TEST_DIRECTORY/helpers/canary-lib.sh"

CI_STATE_DIR=$TRASH/state
export CI_STATE_DIR

# spec FILE TRAFFIC_EXTRA [APPROVAL|-] [ANALYSIS_EXTRA]: a two-step
# rollout of "shop" through lb/ that pauses for approval after its first
# step (5%), or as APPROVAL says ("-": no approval).
spec() {
	sp_approval_=', "approval": {"after_step": 1}'
	case "${3-}" in
	"") ;;
	-) sp_approval_='' ;;
	*) sp_approval_=", \"approval\": $3" ;;
	esac
	cat >"$1" <<-JSON
	{"app": "shop",
	 "traffic": {"driver": "haproxy", "socket": "$TRASH/lb/admin.sock", "backend": "app"$2},
	 "steps": [{"weight": 5, "pause": "600ms"}, {"weight": 100}],
	 "analysis": {"interval": "200ms", "min_requests": 1${4-}}$sp_approval_}
	JSON
}

# versions N [curl options]: the X-App-Version of N requests through lb/.
versions() {
	vn_=$1
	shift
	i=0
	while test $i -lt "$vn_"; do
		curl -s -D - -o /dev/null "$@" "http://127.0.0.1:$(cat lb/port)/health" |
			tr -d "\r" | sed -n "s/^[Xx]-[Aa]pp-[Vv]ersion: //p"
		i=$((i + 1))
	done
}

test_expect_success HAPROXY 'setup: stable v1 on blue, v2 on green, a fresh v1 on base; cookies and a route' '
	haproxy_app_start blue "$(test_free_port)" --version v1 &&
	haproxy_app_start green "$(test_free_port)" --version v2 &&
	haproxy_app_start base "$(test_free_port)" --version v1-baseline &&
	haproxy_start lb "$(cat blue/port)" "$(cat green/port)" --cookie \
		--baseline "$(cat base/port)" --route X-Canary &&
	haproxy_wait_status lb app/blue UP &&
	haproxy_wait_status lb app/green UP &&
	haproxy_wait_status lb app/base UP
'

test_expect_success HAPROXY 'sticky cookie: HAProxy sets the cookie SRV, so the rollout starts' '
	spec ok.json ", \"sticky\": \"cookie:SRV\"" "\"before\"" &&
	test_expect_code 3 ci-canary --new -f ok.json --image reg.example/shop:v2 >doc.json 2>err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"paused\"" &&
	test_expect_code 1 ci-canary -f ok.json --abort >doc.json 2>err
'

test_expect_success HAPROXY 'sticky: a cookie name HAProxy does not set is refused before any change' '
	spec bad.json ", \"sticky\": \"cookie:SESSION\"" &&
	test_expect_code 2 ci-canary --new -f bad.json --image reg.example/shop:v2 >doc.json 2>err &&
	grep "traffic.sticky is cookie:SESSION, but backend .app. sets the cookie .SRV." err &&
	is "$(weight green)" 0 && is "$(weight blue)" 100
'

test_expect_success HAPROXY 'sticky: a header or the source address needs the balance that does it' '
	spec bad.json ", \"sticky\": \"header:X-User\"" &&
	test_expect_code 2 ci-canary --new -f bad.json --image reg.example/shop:v2 >doc.json 2>err &&
	grep "balances by .roundrobin. (add .balance hdr(X-User)." err &&
	spec bad.json ", \"sticky\": \"source\"" &&
	test_expect_code 2 ci-canary --new -f bad.json --image reg.example/shop:v2 >doc.json 2>err &&
	grep "add .balance source." err &&
	is "$(weight green)" 0
'

test_expect_success HAPROXY 'sticky: bad values are refused with their place' '
	spec bad.json ", \"sticky\": \"cookies\"" &&
	test_expect_code 2 ci-canary --new -f bad.json --image reg.example/shop:v2 >doc.json 2>err &&
	grep "bad.json:2:[0-9]*: traffic.sticky: expected \"cookie\"" err &&
	spec bad.json ", \"sticky\": \"header:X User\"" &&
	test_expect_code 2 ci-canary --new -f bad.json --image reg.example/shop:v2 >doc.json 2>err &&
	grep "traffic.sticky: .X User. is not a cookie or header name" err
'

test_expect_success HAPROXY 'a route: requests with X-Canary: 1 reach the canary at 5%, the others stable and baseline' '
	spec route.json ", \"route\": {\"header\": \"X-Canary\", \"value\": \"1\", \"map\": \"$TRASH/lb/route.map\"}, \"baseline\": \"base\"" &&
	load 20 &&
	test_expect_code 3 ci-canary --new -f route.json --image reg.example/shop:v2 >doc.json 2>err &&
	stop_load &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"paused\"" &&
	test_json doc.json "d[\"canary\"][\"slots\"] == {\"stable\": \"blue\", \"canary\": \"green\", \"baseline\": \"base\"}" &&
	is "$(weight green)" 5 && is "$(weight base)" 5 && is "$(weight blue)" 90 &&
	haproxy_admin lb "show map $TRASH/lb/route.map" >map &&
	grep " 1 green$" map &&
	versions 10 -H "X-Canary: 1" >routed &&
	is "$(sort -u routed)" v2 && is "$(wc -l <routed)" 10
'

test_expect_success HAPROXY '... the analysis compared the canary with the baseline' '
	test_json doc.json "any(m.get(\"versus\") == \"baseline\" for i in d[\"canary\"][\"intervals\"] for m in i[\"metrics\"].values())" &&
	test_json load.json "\"v1-baseline\" in d[\"version\"]"
'

test_expect_success HAPROXY '... abort: the route entry goes, baseline and canary back to 0' '
	test_expect_code 1 ci-canary -f route.json --abort >doc.json 2>err &&
	is "$(weight green)" 0 && is "$(weight base)" 0 && is "$(weight blue)" 100 &&
	haproxy_admin lb "show map $TRASH/lb/route.map" >map &&
	! grep " 1 " map &&
	versions 5 -H "X-Canary: 1" >routed &&
	is "$(sort -u routed)" v1
'

test_expect_success HAPROXY 'a route map HAProxy did not load is refused before any change' '
	spec bad.json ", \"route\": {\"header\": \"X-Canary\", \"value\": \"1\", \"map\": \"$TRASH/nope.map\"}" &&
	test_expect_code 2 ci-canary --new -f bad.json --image reg.example/shop:v3 >doc.json 2>err &&
	grep "traffic.route.map: haproxy at .*: .show map .*nope.map.: Unknown map identifier" err &&
	is "$(weight green)" 0
'

test_expect_success HAPROXY 'the baseline, not the long-running stable, is what the canary must match' '
	haproxy_app_stop blue &&
	haproxy_app_start blue "$(cat blue/port)" --version v1 --error-rate 0.3 &&
	haproxy_app_stop green &&
	haproxy_app_start green "$(cat green/port)" --version v3 --error-rate 0.3 &&
	haproxy_wait_status lb app/blue UP &&
	spec base.json ", \"baseline\": \"base\"" - \
		", \"failure_limit\": 1, \"metrics\": [{\"name\": \"errors\", \"source\": \"haproxy\", \"max_increase\": 10}]" &&
	sed -i "s/\"weight\": 5, \"pause\": \"600ms\"/\"weight\": 40, \"pause\": \"3s\"/" base.json &&
	test_grep "\"weight\": 40, \"pause\": \"3s\"" base.json &&
	load 30 &&
	test_expect_code 1 ci-canary --new -f base.json --image reg.example/shop:v3 >doc.json 2>err &&
	stop_load &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"failed\"" &&
	test_json doc.json "\"vs baseline\" in d[\"canary\"][\"reason\"]" &&
	is "$(weight green)" 0 && is "$(weight base)" 0 && is "$(weight blue)" 100
'

test_tool_prereq SCRIPT bsdutils command -v script

test_expect_success HAPROXY,SCRIPT 'on a terminal: a panel on stderr, redrawn in place each interval' '
	haproxy_app_stop blue && haproxy_app_start blue "$(cat blue/port)" --version v1 &&
	haproxy_app_stop green && haproxy_app_start green "$(cat green/port)" --version v4 &&
	haproxy_admin lb "set server app/green state ready" &&
	haproxy_wait_status lb app/blue UP && haproxy_wait_status lb app/green UP &&
	spec dash.json "" - &&
	sed -i "s/\"pause\": \"600ms\"/\"pause\": \"1500ms\"/" dash.json &&
	test_grep 1500ms dash.json &&
	load 20 &&
	TERM=xterm COLUMNS=90 SHELL=/bin/sh script -qec \
		"ci-canary --new -f dash.json --image reg.example/shop:v4 >doc.json" tty.out >/dev/null &&
	stop_load &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"passed\"" &&
	tr -d "\r" <tty.out >tty.txt &&
	test_grep "^step 1 of 2 " tty.txt &&
	test_grep "^stable 95% (blue)  canary 5% (green)" tty.txt &&
	test_grep "^error rate  max 5.0%" tty.txt &&
	test_grep "^failures 0 of 3  running" tty.txt &&
	test_grep "^last: canary [0-9]* requests; error-rate" tty.txt &&
	test_grep "$(printf "\033\\[13F\033\\[J")" tty.txt &&
	! test_grep "step 1 of 2 (5%): canary" tty.txt
'

test_expect_success HAPROXY,SCRIPT '--no-dashboard on a terminal: one line per interval; --dashboard without one' '
	load 20 &&
	TERM=xterm SHELL=/bin/sh script -qec \
		"ci-canary --new -f dash.json --image reg.example/shop:v5 --no-dashboard >doc.json" tty.out >/dev/null &&
	tr -d "\r" <tty.out >tty.txt &&
	test_grep "step 1 of 2 (5%): canary [0-9]* requests" tty.txt &&
	! test_grep "^failures " tty.txt &&
	ci-canary --new -f dash.json --image reg.example/shop:v6 --dashboard >doc.json 2>err &&
	test_grep "^failures 0 of 3  running" err &&
	! test_grep "$(printf "\033\\[3[0-9]m")" err &&
	TERM=dumb SHELL=/bin/sh script -qec \
		"ci-canary --new -f dash.json --image reg.example/shop:v7 >doc.json" tty.out >/dev/null &&
	stop_load &&
	! test_grep "^failures " tty.out
'

test_expect_success 'bad specs: baseline as one of the slots, route without its map, keys of other drivers' '
	cat >b1.json <<-\JSON &&
	{"traffic": {"driver": "haproxy", "socket": "/x", "backend": "b", "baseline": "green"}}
	JSON
	test_expect_code 2 ci-canary --new -f b1.json --image r/x:1 >/dev/null 2>err &&
	grep "b1.json:1:[0-9]*: traffic.baseline: expected a third server, not one of the slots .blue. and .green." err &&
	cat >b2.json <<-\JSON &&
	{"traffic": {"driver": "haproxy", "socket": "/x", "backend": "b",
	  "route": {"header": "X-Canary", "value": "1"}}}
	JSON
	test_expect_code 2 ci-canary --new -f b2.json --image r/x:1 >/dev/null 2>err &&
	grep "b2.json:2:[0-9]*: traffic.route: needs .header., .value. and .map." err &&
	cat >b3.json <<-\JSON &&
	{"traffic": {"driver": "exec", "set": "true", "sticky": "source"}}
	JSON
	test_expect_code 2 ci-canary --new -f b3.json --image r/x:1 >/dev/null 2>err &&
	grep "traffic: .sticky. is for the haproxy and nginx drivers, not exec" err &&
	cat >b4.json <<-\JSON &&
	{"traffic": {"driver": "nginx", "upstream": "app", "file": "/tmp/x.conf",
	  "servers": {"blue": "127.0.0.1:1", "green": "127.0.0.1:2"}, "sticky": "cookie"}}
	JSON
	test_expect_code 2 ci-canary --new -f b4.json --image r/x:1 >/dev/null 2>err &&
	grep "nginx cannot insert a cookie" err &&
	cat >b5.json <<-\JSON &&
	{"traffic": {"driver": "haproxy", "socket": "/x", "backend": "b",
	  "route": {"header": "X-Canary", "value": "a;b", "map": "/m"}}}
	JSON
	test_expect_code 2 ci-canary --new -f b5.json --image r/x:1 >/dev/null 2>err &&
	grep "traffic.route.value: .a;b.: blanks" err
'

test_done
