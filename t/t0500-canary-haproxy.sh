#!/bin/sh
test_description='lib/rollout/haproxy.c against a real HAProxy: weights that move traffic, maint and shutdown sessions, errors in HAProxy words, the server-state file across a reload, show stat'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/haproxy-lib.sh"

test_require HAPROXY CURL

# The unit test binary doubles as a small client of the runtime API.
HAP=$TEST_DIRECTORY/unit/haproxy.t
SOCK=$TRASH/hap/admin.sock

hap() {
	"$HAP" cmd "$SOCK" "$@"
}

# hap_at ADDR ...: the same against another address.
hap_at() {
	"$HAP" cmd "$@"
}

# row B/S: its line of show-stat.
row() {
	hap show-stat >row.all && grep "^$1 " row.all
}

# field B/S NAME: one value of its show-stat line (weight, stot, ...).
field() {
	row "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"
}

# wait_status B/S STATUS: poll show-stat (15 s at most) until the status
# is STATUS exactly ("UP 1/2" on the way down is not DOWN yet).
wait_status() {
	n=0
	until row "$1" >row.out 2>&1 && grep -q " status=$2\$" row.out; do
		test $n -lt 150 || { echo "$1 never became $2:"; cat row.out; return 1; }
		sleep 0.1
		n=$((n + 1))
	done
}

# scur B/S: the sessions HAProxy counts on the server now.
scur() {
	hap raw "show stat" | awk -F, -v bs="$1" '
		NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
		$1 "/" $2 == bs { print $col["scur"] }'
}

# wait_scur B/S N: until HAProxy counts N sessions on the server (10 s).
wait_scur() {
	n=0
	until test "$(scur "$1")" = "$2"; do
		test $n -lt 100 || { echo "$1 never had $2 sessions"; return 1; }
		sleep 0.1
		n=$((n + 1))
	done
}

# through N: N requests through the frontend, one connection each; the
# version of the app that answered each, one a line.
through() {
	i=0
	while test $i -lt "$1"; do
		curl -sS --max-time 5 -w "\n" "http://127.0.0.1:$(cat hap/port)/health" >through.body &&
		sed -n 's/.*"version": "\([^"]*\)".*/\1/p' through.body || return 1
		i=$((i + 1))
	done
}

test_expect_success 'setup: two app servers, haproxy in front, both servers UP' '
	test -x "$HAP" &&
	haproxy_app_start blue $(test_free_port) --version blue &&
	haproxy_app_start green $(test_free_port) --version green &&
	haproxy_start hap $(cat blue/port) $(cat green/port) &&
	wait_status app/blue UP &&
	wait_status app/green UP
'

test_expect_success 'show-stat: rows for blue and green, UP, with the weights of the config' '
	hap show-stat >out &&
	test_grep "^app/blue weight=100 .* check=[* ]*L7OK status=UP$" out &&
	test_grep "^app/green weight=0 .* check=[* ]*L7OK status=UP$" out &&
	test_grep "^fe/FRONTEND weight=-1 .*status=OPEN$" out &&
	test_grep "^app/BACKEND weight=100 .*status=UP$" out &&
	test $(wc -l <out) = 4
'

test_expect_success 'info: the pid of the running haproxy and its uptime' '
	hap info >out &&
	test_grep "^pid=$(cat hap/pid)$" out &&
	test_grep "^uptime_sec=[0-9][0-9]*$" out
'

test_expect_success 'set-weight, get-weight: the weight round-trips (and HAProxy agrees)' '
	hap set-weight app/green 25 &&
	hap get-weight app/green >out &&
	echo "weight=25 initial=0" >expect &&
	test_cmp expect out &&
	haproxy_admin hap "get weight app/green" >witness &&
	test_grep "^25 (initial 0)$" witness &&
	test "$(field app/green weight)" = 25
'

test_expect_success 'blue 0, green 100: all 20 requests go to green' '
	hap set-weight app/blue 0 &&
	hap set-weight app/green 100 &&
	blue0=$(field app/blue stot) && green0=$(field app/green stot) &&
	through 20 >versions &&
	test $(grep -c "^green$" versions) = 20 &&
	test $(wc -l <versions) = 20 &&
	test $(($(field app/green stot) - green0)) = 20 &&
	test $(field app/blue stot) = $blue0
'

test_expect_success 'blue 100, green 0: all 20 back to blue' '
	hap set-weight app/blue 100 &&
	hap set-weight app/green 0 &&
	through 20 >versions &&
	test $(grep -c "^blue$" versions) = 20 &&
	test $(wc -l <versions) = 20
'

test_expect_success 'maint takes green out of rotation; shutdown sessions cuts what it still serves' '
	hap set-weight app/blue 0 &&
	hap set-weight app/green 100 &&
	{ curl -s -o /dev/null -w "%{http_code}" --max-time 30 \
	    "http://127.0.0.1:$(cat hap/port)/barrier/held?n=2&timeout=20" >held.code 2>&1 & } &&
	held=$! &&
	test_when_finished "kill $held 2>/dev/null || :" &&
	wait_scur app/green 1 &&
	hap set-weight app/blue 100 &&
	hap set-state app/green maint &&
	row app/green >out && test_grep "weight=100 .* status=MAINT$" out &&
	hap shutdown app/green &&
	wait $held &&
	test "$(cat held.code)" = 502 &&
	through 10 >versions &&
	test $(grep -c "^blue$" versions) = 10 &&
	hap set-state app/green ready &&
	wait_status app/green UP &&
	hap set-weight app/green 0
'

test_expect_success 'drain: status DRAIN, and ready again' '
	hap set-state app/green drain &&
	row app/green >out && test_grep " status=DRAIN$" out &&
	hap set-state app/green ready &&
	wait_status app/green UP
'

test_expect_success 'an unknown server or backend: the error names it, in HAProxy words' '
	test_expect_code 1 hap set-weight app/nosuch 5 2>err &&
	test_grep "^error: haproxy at .$SOCK.: .set weight app/nosuch 5.: No such server\.$" err &&
	test_expect_code 1 hap get-weight nope/blue 2>err &&
	test_grep ": .get weight nope/blue.: No such backend\.$" err &&
	test_expect_code 1 hap set-state app/nosuch maint 2>err &&
	test_grep ": .set server app/nosuch state maint.: No such server\.$" err &&
	test_expect_code 1 hap shutdown nope/blue 2>err &&
	test_grep ": .shutdown sessions server nope/blue.: No such backend\.$" err &&
	test_expect_code 1 hap save-state nope state.x 2>err &&
	test_grep ": .show servers state nope.: Can.t find backend\.$" err &&
	! test -e state.x
'

test_expect_success 'an unreachable socket: exit 1, and the message names the address' '
	test_expect_code 1 hap_at "$TRASH/nothing.sock" info >out 2>err &&
	test_grep "^error: cannot reach haproxy at .$TRASH/nothing.sock.: No such file or directory$" err &&
	! test -s out &&
	port=$(test_free_port) &&
	test_expect_code 1 hap_at "127.0.0.1:$port" info 2>err &&
	test_grep "^error: cannot reach haproxy at .127.0.0.1:$port.: Connection refused$" err
'

test_expect_success 'a second command smuggled in is refused before it reaches haproxy' '
	test_expect_code 1 hap raw "set weight app/blue 1; set weight app/blue 2" 2>err &&
	test_grep "refusing haproxy command .set weight app/blue 1; set weight app/blue 2.: .;. would start" err &&
	test_expect_code 1 hap set-weight "app/blue;set weight app/blue 3" 4 2>err &&
	test_grep "invalid haproxy server name .blue;set weight app/blue 3." err &&
	test_expect_code 1 hap set-state app/blue "ready;set weight app/blue 5" 2>err &&
	hap get-weight app/blue >out &&
	echo "weight=100 initial=100" >expect &&
	test_cmp expect out
'

test_expect_success 'save-state, then a reload: the new process keeps the weights and drain' '
	hap set-weight app/blue 70 &&
	hap set-weight app/green 30 &&
	hap set-state app/green drain &&
	hap save-state app hap/state &&
	test "$(head -n 1 hap/state)" = 1 &&
	test_grep "^[0-9]* app [0-9]* green 127\.0\.0\.1 [0-9]* [0-9]* 30 0 " hap/state &&
	old=$(cat hap/pid) &&
	haproxy_reload hap --keep-state-file &&
	test "$(cat hap/pid)" != "$old" &&
	hap info >out &&
	test_grep "^pid=$(cat hap/pid)$" out &&
	hap get-weight app/blue >out &&
	echo "weight=70 initial=100" >expect &&
	test_cmp expect out &&
	hap get-weight app/green >out &&
	echo "weight=30 initial=0" >expect &&
	test_cmp expect out &&
	row app/green >out &&
	test_grep " status=DRAIN$" out
'

test_expect_success '... without the state file a reload forgets them (the control)' '
	rm -f hap/state &&
	haproxy_reload hap --keep-state-file &&
	hap get-weight app/green >out &&
	echo "weight=0 initial=0" >expect &&
	test_cmp expect out &&
	wait_status app/green UP
'

test_expect_success 'haproxy_reload saves the state by itself' '
	hap set-weight app/green 40 &&
	haproxy_reload hap &&
	hap get-weight app/green >out &&
	echo "weight=40 initial=0" >expect &&
	test_cmp expect out
'

test_expect_success 'haproxy_start --cookie --prometheus: sticky users, and /metrics' '
	haproxy_start hap2 $(cat blue/port) $(cat green/port) --cookie --prometheus &&
	test_when_finished "haproxy_stop hap2" &&
	haproxy_wait_status hap2 app/green UP &&
	curl -sS -D headers -o body "http://127.0.0.1:$(cat hap2/port)/health" &&
	test_grep "^[Ss]et-[Cc]ookie: SRV=blue" headers &&
	test_grep "\"version\": \"blue\"" body &&
	curl -sS --cookie SRV=green -o body "http://127.0.0.1:$(cat hap2/port)/health" &&
	test_grep "\"version\": \"green\"" body &&
	curl -sS -o metrics "http://127.0.0.1:$(cat hap2/prom-port)/metrics" &&
	test_grep "^haproxy_server_weight{proxy=\"app\",server=\"blue\"} 100$" metrics
'

test_expect_success 'a stopped app server turns DOWN' '
	haproxy_app_stop green &&
	wait_status app/green DOWN &&
	row app/green >out &&
	test_grep " check=L4CON status=DOWN$" out
'

test_expect_success 'haproxy_stop: haproxy is gone, its socket unreachable' '
	pid=$(cat hap/pid) &&
	haproxy_stop hap &&
	proc_gone $pid &&
	test_expect_code 1 hap info 2>err &&
	test_grep "^error: cannot reach haproxy at .$SOCK.: " err
'

test_done
