# canary-lib.sh: what the ci-canary tests share (sourced after
# haproxy-lib.sh): traffic in the background, HAProxy's weights read by a
# client that is not ours, and a comparison that says what it got.
#
#   load SECONDS [PATH] [RPS]  loadgen through lb/ (default /search?q=shoes,
#                              200 per second) until SECONDS pass or
#                              stop_load; returns once traffic flows
#   stop_load                  end it; counts in load.json
#   wait_pid_file FILE         until the pid in FILE is gone (30 s)
#   weight SERVER              HAProxy's "get weight app/SERVER"
#   is ACTUAL EXPECTED         test = that prints both when they differ
#   receiver NAME [options]    an alert-receiver (ci-rollback's alerts) in
#                              the background, its port in NAME.port, what
#                              it got in NAME.jsonl

load() {
	rm -f stop-load load.json load-ready &&
	{ loadgen --url "http://127.0.0.1:$(cat "$TRASH/lb/port")${2:-/search?q=shoes}" \
		--rps "${3:-200}" --workers 8 --max-seconds "$1" --stop-file stop-load \
		--ready-file load-ready --out load.json & echo $! >load.pid; } &&
	n=0 && until test -e load-ready; do sleep 0.1; n=$((n + 1)); test $n -lt 300; done
}

stop_load() {
	touch stop-load && wait_pid_file load.pid
}

wait_pid_file() {
	n=0
	while kill -0 "$(cat "$1")" 2>/dev/null && test $n -lt 300; do
		sleep 0.1
		n=$((n + 1))
	done
}

weight() {
	haproxy_admin "$TRASH/lb" "get weight app/$1" | cut -d" " -f1
}

is() {
	test "$1" = "$2" || { echo "got '$1', want '$2'"; return 1; }
}

receiver() {
	rc_name_=$1
	shift
	rm -f "$rc_name_.ready"
	"$TEST_DIRECTORY/helpers/alert-receiver" --port 0 --port-file "$rc_name_.port" \
		--out "$TRASH/$rc_name_.jsonl" --ready-file "$rc_name_.ready" "$@" &
	hap_track_ $! alert-receiver
	n=0 && until test -e "$rc_name_.ready"; do sleep 0.1; n=$((n + 1)); test $n -lt 100 || return 1; done
}
