#!/bin/sh
test_description='ci-canary drives a real nginx: the upstream file, nginx -t, reload, abort, resume, users, a route, a baseline'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/haproxy-lib.sh"
. "$TEST_DIRECTORY/helpers/canary-lib.sh"
. "$TEST_DIRECTORY/helpers/nginx-lib.sh"

test_tool_prereq NGINX nginx-light command -v nginx

CI_STATE_DIR=$TRASH/state
export CI_STATE_DIR

# nginx with a prefix, config and pid file of its own under ngx/: the
# machine's nginx, if any, is never touched.
NGX=$TRASH/ngx
UP=$NGX/app-upstream.conf
NGINX="nginx -p $NGX/ -c $NGX/nginx.conf"

# nginx_start: ngx/nginx.conf includes $UP (upstream "app") and proxies a
# free port (ngx/port) to it, and includes the server blocks a test puts
# in ngx/servers/; nginx runs in the foreground, its pid in ngx/pid,
# stopped with the apps when the script ends (haproxy-lib.sh's tracking:
# a watcher ends it should the script die unannounced).  ngx/reload is
# the reload the specs give: "nginx -s reload", returning once the old
# workers are gone, so that what a test asks next meets the new file.
nginx_start() {
	mkdir -p "$NGX/servers" &&
	ns_port_=$(test_free_port) && echo "$ns_port_" >"$NGX/port" &&
	{ nginx_conf_head "$NGX" && cat <<-EOF; } >"$NGX/nginx.conf" &&
	include $UP;
	include $NGX/servers/*.conf;
	server {
	listen 127.0.0.1:$ns_port_;
	location / { proxy_pass http://app; }
	}
	}
	EOF
	$NGINX -t 2>"$NGX/check" || { cat "$NGX/check"; return 1; }
	$NGINX </dev/null >>"$NGX/log" 2>&1 &
	ns_pid_=$!
	hap_track_ "$ns_pid_" nginx
	echo "$ns_pid_" >"$NGX/pid"
	cat >"$NGX/reload" <<-EOF &&
	#!/bin/sh
	old=\$(pgrep -P $ns_pid_)
	$NGINX -s reload || exit
	for p in \$old; do
		n=0
		while kill -0 "\$p" 2>/dev/null; do
			test \$n -lt 100 || { echo "nginx worker \$p still serves" >&2; exit 1; }
			sleep 0.1
			n=\$((n + 1))
		done
	done
	EOF
	chmod +x "$NGX/reload" &&
	wait_for_port "$ns_port_"
}

# route_server_start: a server block on a free port (ngx/route-port)
# that proxies to the route's variable, as ci-canary(1) says; nginx
# takes it with the next reload, which must find the route's map.
route_server_start() {
	rs_port_=$(test_free_port) && echo "$rs_port_" >"$NGX/route-port" &&
	cat >"$NGX/servers/route.conf" <<-EOF
	server {
	listen 127.0.0.1:$rs_port_;
	location / { proxy_pass http://\$ci_route_app; }
	}
	EOF
}

# versions N: the X-App-Version of N requests through nginx, on one line.
# routed N [CURL_OPTIONS]: the same through the route's server block.
versions() {
	versions_at_ "$(cat "$NGX/port")" "$@"
}
routed() {
	versions_at_ "$(cat "$NGX/route-port")" "$@"
}
versions_at_() {
	vs_port_=$1 vs_n_=$2 vs_i_=0 vs_all_=
	shift 2
	while test $vs_i_ -lt "$vs_n_"; do
		vs_v_=$(curl -s -D - -o /dev/null "$@" "http://127.0.0.1:$vs_port_/health" |
			tr -d "\r" | grep -i "^x-app-version:" | cut -d" " -f2)
		vs_all_="$vs_all_${vs_all_:+ }${vs_v_:-none}"
		vs_i_=$((vs_i_ + 1))
	done
	echo "$vs_all_"
}

# repeated N WORD: WORD N times, on one line.
repeated() {
	tm_i_=0 tm_all_=
	while test $tm_i_ -lt "$1"; do
		tm_all_="$tm_all_${tm_all_:+ }$2"
		tm_i_=$((tm_i_ + 1))
	done
	echo "$tm_all_"
}

# wait_served V: until nginx's new workers answer with V (a reload
# returns before they take over; 10 s).
wait_served() {
	ws_n_=0
	until test "$(versions 1)" = "$1"; do
		test $ws_n_ -lt 100 || { echo "nginx does not serve $1: $(versions 4)"; return 1; }
		sleep 0.1
		ws_n_=$((ws_n_ + 1))
	done
}

# users_versions: "userN VERSION" for 3 requests of each of 20 users,
# each with its own session cookie.
users_versions() {
	for uv_u_ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		for uv_k_ in 1 2 3; do
			curl -s -D - -o /dev/null -H "Cookie: session=user$uv_u_" \
				"http://127.0.0.1:$(cat "$NGX/port")/health" |
				tr -d "\r" | sed -n "s/^[Xx]-[Aa]pp-[Vv]ersion: /user$uv_u_ /p"
		done
	done
}

# upstream BLUE GREEN [BASE]: the file ci-canary writes, each slot's
# weight ("down" for 0), and the baseline's after them.
upstream() {
	echo "upstream app {"
	upstream_server_ blue "$1"
	upstream_server_ green "$2"
	test $# -lt 3 || upstream_server_ base "$3"
	echo "}"
}
upstream_server_() {
	if test "$2" = 0; then
		echo "    server 127.0.0.1:$(cat "$1/port") down;"
	else
		echo "    server 127.0.0.1:$(cat "$1/port") weight=$2;"
	fi
}

# route_upstream TO BLUE GREEN: the file with the route X-Canary: 1,
# which leads to TO: app, or app_canary, the upstream of blue alone, after
# the block.
route_upstream() {
	echo "map \$http_x_canary \$ci_route_app {"
	echo "    \"1\" $1;"
	echo "    default app;"
	echo "}"
	upstream "$2" "$3"
	if test "$1" = app_canary; then
		echo "upstream app_canary {"
		echo "    server 127.0.0.1:$(cat blue/port);"
		echo "}"
	fi
}

# wait_grep PATTERN FILE: until FILE has PATTERN (10 s).
wait_grep() {
	wg_n_=0
	until grep -q -e "$1" "$2" 2>/dev/null; do
		test $wg_n_ -lt 100 || { echo "no '$1' in $2:"; cat "$2"; return 1; }
		sleep 0.1
		wg_n_=$((wg_n_ + 1))
	done
}

# spec FILE METRIC_COMMAND [STEPS] [TRAFFIC_EXTRA] [EXTRA]: a rollout of
# "shop" through nginx; TRAFFIC_EXTRA ends the traffic object (a route),
# EXTRA the spec (an approval); a baseline adds base/'s server after the
# slots'.  Every reload also appends the file to rendered.
spec() {
	sp_steps_=${3:-'[{"weight": 10, "pause": "300ms"}, {"weight": 50, "pause": "300ms"}, {"weight": 100}]'}
	sp_base_=
	case "${4-}" in
	*'"baseline"'*) sp_base_=", \"base\": \"127.0.0.1:$(cat base/port)\"" ;;
	esac
	cat >"$1" <<-EOF
	{"app": "shop",
	 "traffic": {"driver": "nginx", "upstream": "app", "file": "$UP",
	             "servers": {"blue": "127.0.0.1:$(cat blue/port)",
	                         "green": "127.0.0.1:$(cat green/port)"$sp_base_},
	             "test": "$NGINX -t",
	             "reload": "$NGX/reload && cat $UP >>$TRASH/rendered"${4-}},
	 "steps": $sp_steps_,
	 "analysis": {"interval": "150ms", "min_requests": 0,
	              "metrics": [{"name": "errors", "source": "exec", "command": "$2", "max": 1}]}${5-}}
	EOF
}

test_expect_success NGINX,CURL 'setup: v1 on blue carries the traffic through nginx, green waits' '
	haproxy_app_start blue "$(test_free_port)" --version v1 &&
	haproxy_app_start green "$(test_free_port)" --version v2 &&
	mkdir -p "$NGX" &&
	printf "upstream app {\n    server 127.0.0.1:%s;\n}\n" "$(cat blue/port)" >"$UP" &&
	nginx_start &&
	echo "v1 v1 v1 v1" >expect && versions 4 >got && test_cmp expect got
'

test_expect_success NGINX,CURL 'a failing canary: the canary goes down, all traffic back on v1' '
	spec bad0.json "echo 7" &&
	sed -e "s/\"min_requests\": 0/&, \"failure_limit\": 1/" bad0.json >bad.json &&
	test_grep "\"failure_limit\": 1" bad.json &&
	test_expect_code 1 ci-canary --new -f bad.json --image reg.example/shop:v2 >doc.json 2>err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"failed\" and d[\"canary\"][\"verdict\"] == \"rollback\"" &&
	test_json doc.json "d[\"canary\"][\"reason\"] == \"errors 7 > 1, 1 of 1 failures\"" &&
	test_json doc.json "d[\"canary\"][\"weights\"] == {\"stable\": 100, \"canary\": 0}" &&
	test_grep "rolled back in [0-9]* ms: errors 7 > 1" err &&
	upstream 100 0 >expect && test_cmp expect "$UP" &&
	{ upstream 90 10 && upstream 100 0; } >expect && test_cmp expect rendered &&
	wait_served v1 &&
	echo "v1 v1 v1 v1 v1 v1 v1 v1" >expect && versions 8 >got && test_cmp expect got &&
	test_json state/canary/shop.json "d[\"status\"] == \"failed\" and d[\"stable_slot\"] == \"blue\""
'

test_expect_success NGINX,CURL 'a healthy canary goes 10, 50, 100 and nginx serves v2 alone' '
	rm -f rendered &&
	spec good.json "echo 0" &&
	ci-canary --new -f good.json --image reg.example/shop:v2 >doc.json 2>err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"passed\" and d[\"canary\"][\"verdict\"] == \"promoted\"" &&
	test_json doc.json "[s[\"status\"] for s in d[\"canary\"][\"steps\"]] == [\"passed\"] * 3" &&
	test_json doc.json "d[\"canary\"][\"traffic\"][\"driver\"] == \"nginx\"" &&
	{ upstream 90 10 && upstream 50 50 && upstream 0 100; } >expect &&
	test_cmp expect rendered &&
	cat >expect <<-EOF &&
	upstream app {
	    server 127.0.0.1:$(cat blue/port) down;
	    server 127.0.0.1:$(cat green/port) weight=100;
	}
	EOF
	test_cmp expect "$UP" &&
	wait_served v2 &&
	echo "v2 v2 v2 v2 v2 v2 v2 v2 v2 v2" >expect && versions 10 >got && test_cmp expect got &&
	test_json state/canary/shop.json "d[\"status\"] == \"passed\" and d[\"stable_slot\"] == \"green\"" &&
	! ls "$NGX" | grep -q "\.tmp\."
'

test_expect_success NGINX,CURL 'nginx -t refuses the file: the old one stays, nginx serves on, exit 69' '
	cp "$UP" before &&
	sed -e "s/\"blue\": \"127.0.0.1:[0-9]*\"/\"blue\": \"127.0.0.1:99999\"/" good.json >refused.json &&
	test_grep 99999 refused.json &&
	test_expect_code 69 ci-canary --new -f refused.json --app refused \
		--image reg.example/shop:v3 >doc.json 2>err &&
	test_grep "nginx refused .$UP.: .$NGINX -t. exited with status 1: .*invalid port in upstream \"127.0.0.1:99999\"" err &&
	test_grep "the previous file is back" err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"error\" and \"$UP\" in d[\"canary\"][\"reason\"]" &&
	test_cmp before "$UP" &&
	kill -0 "$(cat "$NGX/pid")" &&
	echo "v2 v2 v2 v2" >expect && versions 4 >got && test_cmp expect got &&
	! ls "$NGX" | grep -q "\.tmp\."
'

test_expect_success NGINX,CURL 'kill -9 mid-step: the file is read back, weights changed by hand set again' '
	haproxy_app_stop blue &&
	haproxy_app_start blue "$(cat blue/port)" --version v3 &&
	spec resume.json "echo 0" "[{\"weight\": 25, \"pause\": \"3s\"}, {\"weight\": 100}]" &&
	{ (exec ci-canary --new -f resume.json --image reg.example/shop:v3 >doc.json 2>err.bg) &
	  echo $! >canary.pid; } &&
	wait_grep "step 1 of 2: 25%" err.bg &&
	kill -9 "$(cat canary.pid)" &&
	proc_gone "$(cat canary.pid)" &&
	upstream 25 75 >expect && test_cmp expect "$UP" &&
	printf "upstream app {\n    server 127.0.0.1:1 weight=1;\n}\n" >"$UP" &&
	test_expect_code 2 ci-canary --new -f resume.json --image reg.example/shop:v3 >doc.json 2>err &&
	test_grep "$UP:2: .server 127.0.0.1:1 weight=1;.: a server not in traffic.servers" err &&
	upstream 0 100 >"$UP" &&
	ci-canary --new -f resume.json --image reg.example/shop:v3 >doc.json 2>err &&
	test_grep "the canary had weight 0, setting 25 again" err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"passed\"" &&
	upstream 100 0 >expect && test_cmp expect "$UP" &&
	wait_served v3 &&
	echo "v3 v3 v3 v3" >expect && versions 4 >got && test_cmp expect got
'

test_expect_success NGINX,CURL 'sticky cookie: nginx hashes the session cookie; each user keeps a version' '
	spec sticky.json "echo 0" "[{\"weight\": 50, \"pause\": \"300ms\"}, {\"weight\": 100}]" \
		", \"sticky\": \"cookie:session\"" ", \"approval\": {\"after_step\": 1}" &&
	test_expect_code 3 ci-canary --new -f sticky.json --image reg.example/shop:v2 >doc.json 2>err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"paused\"" &&
	test_grep "^map \$cookie_session \$ci_sticky_app {" "$UP" &&
	test_grep "hash \$ci_sticky_app consistent;" "$UP" &&
	users_versions >users &&
	is "$(wc -l <users)" 60 &&
	is "$(sort -u users | wc -l)" 20 &&
	is "$(cut -d" " -f2 users | sort -u | tr "\n" " ")" "v2 v3 " &&
	ci-canary -f sticky.json --promote >doc.json 2>err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"passed\"" &&
	test_grep "^map \$cookie_session" "$UP"
'

test_expect_success NGINX,CURL 'a route: X-Canary: 1 reaches the canary at 10%, every time' '
	haproxy_app_stop blue &&
	haproxy_app_start blue "$(cat blue/port)" --version v4 &&
	route_server_start &&
	spec route.json "echo 0" "[{\"weight\": 10, \"pause\": \"300ms\"}, {\"weight\": 100}]" \
		", \"route\": {\"header\": \"X-Canary\", \"value\": \"1\"}" \
		", \"approval\": {\"after_step\": 1}" &&
	test_expect_code 3 ci-canary --new -f route.json --image reg.example/shop:v4 >doc.json 2>err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"paused\"" &&
	test_json doc.json "d[\"canary\"][\"slots\"] == {\"stable\": \"green\", \"canary\": \"blue\"}" &&
	route_upstream app_canary 10 90 >expect && test_cmp expect "$UP" &&
	test_grep "^    \"1\" app_canary;$" expect &&
	test_grep "^upstream app_canary {$" expect &&
	repeated 10 v4 >expect && routed 10 -H "X-Canary: 1" >got && test_cmp expect got &&
	routed 10 -H "X-Canary: 2" | tr " " "\n" | sort | uniq -c >got &&
	test_grep " [89] v2$" got &&
	repeated 4 v4 >expect && routed 4 -H "x-canary: 1" >got && test_cmp expect got
'

test_expect_success NGINX,CURL '... abort: the route leads to app again, X-Canary: 1 gets stable' '
	test_when_finished "rm -f $NGX/servers/route.conf" &&
	test_expect_code 1 ci-canary -f route.json --abort >doc.json 2>err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"failed\"" &&
	route_upstream app 0 100 >expect && test_cmp expect "$UP" &&
	test_grep ! app_canary expect &&
	repeated 10 v2 >expect && routed 10 -H "X-Canary: 1" >got && test_cmp expect got &&
	versions 4 >got && repeated 4 v2 >expect && test_cmp expect got
'

test_expect_success NGINX,CURL 'a baseline: nginx gives stable 90, canary 5 and the fresh baseline 5' '
	haproxy_app_start base "$(test_free_port)" --version v2-baseline &&
	rm -f rendered &&
	spec base.json "echo 0" "[{\"weight\": 5, \"pause\": \"300ms\"}, {\"weight\": 100}]" \
		", \"baseline\": \"base\"" ", \"approval\": {\"after_step\": 1}" &&
	test_grep "\"base\": \"127.0.0.1:$(cat base/port)\"" base.json &&
	test_expect_code 3 ci-canary --new -f base.json --image reg.example/shop:v4 >doc.json 2>err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"paused\"" &&
	test_json doc.json "d[\"canary\"][\"slots\"] == {\"stable\": \"green\", \"canary\": \"blue\", \"baseline\": \"base\"}" &&
	upstream 5 90 5 >expect && test_cmp expect "$UP" &&
	versions 100 | tr " " "\n" | sort | uniq -c | sed "s/^ *//" >got &&
	printf "90 v2\n5 v2-baseline\n5 v4\n" >expect && test_cmp expect got
'

test_expect_success NGINX,CURL '... promoted: the canary alone, stable and baseline down' '
	ci-canary -f base.json --promote >doc.json 2>err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"passed\"" &&
	upstream 100 0 0 >expect && test_cmp expect "$UP" &&
	{ upstream 5 90 5 && upstream 100 0 0; } >expect && test_cmp expect rendered &&
	repeated 6 v4 >expect && versions 6 >got && test_cmp expect got
'

test_expect_success NGINX,CURL 'sticky, a route and a baseline together: nginx takes the file, a resume reads it back' '
	spec all.json "echo 0" "[{\"weight\": 20, \"pause\": \"3s\"}, {\"weight\": 100}]" \
		", \"sticky\": \"cookie:session\", \"route\": {\"header\": \"X-Canary\", \"value\": \"1\"}, \"baseline\": \"base\"" &&
	{ (exec ci-canary --new -f all.json --image reg.example/shop:v5 >doc.json 2>err.bg) &
	  echo $! >canary.pid; } &&
	wait_grep "step 1 of 2: 20%" err.bg &&
	kill -9 "$(cat canary.pid)" &&
	proc_gone "$(cat canary.pid)" &&
	cat >expect <<-EOF &&
	map \$cookie_session \$ci_sticky_app {
	    "" \$remote_addr;
	    default \$cookie_session;
	}
	map \$http_x_canary \$ci_route_app {
	    "1" app_canary;
	    default app;
	}
	upstream app {
	    hash \$ci_sticky_app consistent;
	    server 127.0.0.1:$(cat blue/port) weight=60;
	    server 127.0.0.1:$(cat green/port) weight=20;
	    server 127.0.0.1:$(cat base/port) weight=20;
	}
	upstream app_canary {
	    server 127.0.0.1:$(cat green/port);
	}
	EOF
	test_cmp expect "$UP" &&
	ci-canary --new -f all.json --image reg.example/shop:v5 >doc.json 2>err &&
	test_grep "resuming step 1 of 2 (20%)" err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"passed\"" &&
	sed -n "/^upstream app {/,/^}/p" "$UP" >block &&
	{ echo "upstream app {" && echo "    hash \$ci_sticky_app consistent;" &&
	  upstream 0 100 0 | sed 1d; } >expect && test_cmp expect block &&
	test_grep "^    \"1\" app;$" "$UP" && test_grep ! app_canary "$UP"
'

test_done
