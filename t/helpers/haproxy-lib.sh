# haproxy-lib.sh: HAProxy in front of two app servers, for the canary
# tests (sourced after test-lib.sh; after registry-lib.sh when a script
# needs both, since it takes over the EXIT trap and calls theirs).
#
#   haproxy_start DIR STABLE_PORT CANARY_PORT [--cookie] [--prometheus] [--log PORT]
#                 [--balance ALGO] [--baseline PORT] [--route HEADER]
#       writes DIR/haproxy.cfg and starts HAProxy in the foreground (-db):
#       the runtime API on DIR/admin.sock (level admin), the server-state
#       file DIR/state, a frontend on a free port (DIR/port) to backend
#       "app" with servers "blue" (STABLE_PORT, weight 100) and "green"
#       (CANARY_PORT, weight 0), both health-checked on GET /health every
#       200ms.  --cookie: sticky sessions (cookie SRV, values blue and
#       green).  --prometheus: /metrics on a second free port
#       (DIR/prom-port).  --log PORT: the request log (option httplog) goes
#       over UDP syslog to 127.0.0.1:PORT.  --balance ALGO: "balance ALGO"
#       and "hash-type consistent" instead of roundrobin.  --baseline PORT:
#       a third server "base" (weight 0, cookie base).  --route HEADER:
#       the value of HEADER is looked up in DIR/route.map (empty at start)
#       and a request whose value maps to a server's name goes to it
#       ("use-server").  Its pid is in DIR/pid, its output in DIR/log.
#   haproxy_reload DIR [--keep-state-file]
#       saves "show servers state" to DIR/state (unless told to keep the
#       file as it is), starts a new HAProxy with -sf OLDPID, which loads
#       that file ("load-server-state-from-file global"), and waits for the
#       old one to end.  Weights and admin states (drain, maint) survive.
#   haproxy_stop DIR
#   haproxy_admin DIR COMMAND
#       one runtime API command through Python: a witness independent of
#       lib/rollout/haproxy.c.
#   haproxy_stat DIR B/S FIELD          a field of "show stat" (Python's csv)
#   haproxy_wait_status DIR B/S STATUS  until "show stat" says so (15 s)
#   haproxy_app_start DIR PORT [smoke-app options]    pid in DIR/pid
#   haproxy_app_stop DIR
#
# Every process started here is stopped when the script exits, even when
# it was started inside a test (a subshell): pids go to a file, and each
# process is also watched and ended once the test script is gone.

HAP_PIDFILE=${TMPDIR:-/tmp}/ci-tools-haproxy.$$
HAP_OWNER_PID=$$
: >"$HAP_PIDFILE"

test_tool_prereq HAPROXY haproxy command -v haproxy
test_tool_prereq CURL curl command -v curl

# hap_alive_ PID NAME: the process runs (a zombie does not) and is still
# the NAME we started, not a stranger that got its pid since.
hap_alive_() {
	test -e "/proc/$1" || return 1
	ha_state_=$(sed -e 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	test -n "$ha_state_" && test "$ha_state_" != Z &&
	tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q -e "$2"
}

hap_cleanup_() {
	if test -f "$HAP_PIDFILE"; then
		while read -r hc_pid_ hc_name_; do
			hap_alive_ "$hc_pid_" "$hc_name_" && kill "$hc_pid_" 2>/dev/null
		done <"$HAP_PIDFILE"
		while read -r hc_pid_ hc_name_; do
			hc_n_=0
			while hap_alive_ "$hc_pid_" "$hc_name_" && test $hc_n_ -lt 50; do
				sleep 0.1
				hc_n_=$((hc_n_ + 1))
			done
			hap_alive_ "$hc_pid_" "$hc_name_" && kill -9 "$hc_pid_" 2>/dev/null
		done <"$HAP_PIDFILE"
		rm -f "$HAP_PIDFILE"
	fi
	if command -v reg_cleanup_ >/dev/null 2>&1; then reg_cleanup_; fi
}
trap 'hap_cleanup_' EXIT
trap 'hap_cleanup_; exit 130' INT TERM

# hap_track_ PID NAME: stop it at exit; and should the script die without
# running its trap (SIGKILL), a watcher ends it within a second.
hap_track_() {
	echo "$1 $2" >>"$HAP_PIDFILE"
	(
		# Sleep first: the pid may not have exec'd NAME yet.
		while sleep 1 && kill -0 "$HAP_OWNER_PID" 2>/dev/null && hap_alive_ "$1" "$2"; do
			:
		done
		kill -0 "$HAP_OWNER_PID" 2>/dev/null || kill "$1" 2>/dev/null
	) </dev/null >/dev/null 2>&1 &
}

# The runtime API from Python, for the functions below.  Python itself,
# not a version manager's shim in front of it: a shim can cost a second a
# call on a busy machine, and the wait loops call it often.
HAP_PYTHON=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || HAP_PYTHON=python3
HAP_PY='
import csv, os, socket, sys, time

def admin(sock, cmd):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sock)
    s.sendall(cmd.encode() + b"\n")
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    return out.decode("utf-8", "replace")

def stat(sock, bs, field):
    px, sv = bs.split("/", 1)
    rows = csv.reader(admin(sock, "show stat").splitlines())
    head = next(rows)
    head[0] = head[0].lstrip("# ")
    for r in rows:
        if r and r[0] == px and r[1] == sv:
            return r[head.index(field)]
    return None

def until(what, check, secs):
    end = time.time() + secs
    while True:
        try:
            got = check()
            if got is True:
                return
        except (OSError, StopIteration, ValueError) as e:
            got = e
        if time.time() > end:
            print(what, "(last: %r)" % (got,))
            sys.exit(1)
        time.sleep(0.05)

op, sock = sys.argv[1], sys.argv[2]
if op == "admin":
    sys.stdout.write(admin(sock, sys.argv[3]))
elif op == "stat":
    v = stat(sock, sys.argv[3], sys.argv[4])
    if v is None:
        sys.exit(1)
    print(v)
elif op == "wait-status":
    until("%s is not %s after 15 s" % (sys.argv[3], sys.argv[4]),
          lambda: stat(sock, sys.argv[3], "status") == sys.argv[4] or
          stat(sock, sys.argv[3], "status"), 15)
elif op == "wait-pid":
    pid = int(sys.argv[3])
    def ready():
        os.kill(pid, 0)
        st = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0]
        if st == "Z":
            print("haproxy exited")
            sys.exit(1)
        return ("Pid: %d\n" % pid) in admin(sock, "show info")
    until("haproxy (pid %d) does not answer on %s" % (pid, sock), ready, 10)
'

haproxy_admin() {
	"$HAP_PYTHON" -c "$HAP_PY" admin "$1/admin.sock" "$2"
}

haproxy_stat() {
	"$HAP_PYTHON" -c "$HAP_PY" stat "$1/admin.sock" "$2" "$3"
}

haproxy_wait_status() {
	"$HAP_PYTHON" -c "$HAP_PY" wait-status "$1/admin.sock" "$2" "$3"
}

# hap_run_ DIR [haproxy options]: start HAProxy on DIR/haproxy.cfg and
# wait until its runtime API answers with its own pid.
hap_run_() {
	hr_dir_=$1
	shift
	haproxy -db -f "$hr_dir_/haproxy.cfg" "$@" </dev/null >>"$hr_dir_/log" 2>&1 &
	hr_pid_=$!
	hap_track_ "$hr_pid_" haproxy
	echo "$hr_pid_" >"$hr_dir_/pid"
	if ! "$HAP_PYTHON" -c "$HAP_PY" wait-pid "$hr_dir_/admin.sock" "$hr_pid_"; then
		echo "haproxy did not start; its log:"
		cat "$hr_dir_/log"
		return 1
	fi
	wait_for_port "$(cat "$hr_dir_/port")"
}

haproxy_start() {
	test $# -ge 3 || { echo "usage: haproxy_start DIR STABLE_PORT CANARY_PORT [--cookie] [--prometheus]"; return 2; }
	hs_dir_=$1 hs_stable_=$2 hs_canary_=$3
	shift 3
	hs_cookie_='' hs_prom_='' hs_log_='' hs_balance_=roundrobin hs_base_='' hs_route_=''
	while test $# -gt 0; do
		case "$1" in
		--cookie) hs_cookie_=1 ;;
		--balance) hs_balance_=$2; shift ;;
		--baseline) hs_base_=$2; shift ;;
		--route) hs_route_=$2; shift ;;
		--prometheus) hs_prom_=1 ;;
		--log) hs_log_=$2; shift ;;
		*) echo "haproxy_start: unknown option '$1'"; return 2 ;;
		esac
		shift
	done
	mkdir -p "$hs_dir_" && hs_dir_=$(cd "$hs_dir_" && pwd) || return 1
	hs_port_=$(test_free_port) && echo "$hs_port_" >"$hs_dir_/port" || return 1
	if test -n "$hs_prom_"; then
		hs_pport_=$(test_free_port) && echo "$hs_pport_" >"$hs_dir_/prom-port" || return 1
	fi
	{
		echo "global"
		echo "	stats socket $hs_dir_/admin.sock mode 600 level admin"
		echo "	server-state-file $hs_dir_/state"
		test -z "$hs_log_" || echo "	log 127.0.0.1:$hs_log_ local0"
		echo ""
		echo "defaults"
		echo "	mode http"
		echo "	timeout connect 1s"
		echo "	timeout client 10s"
		echo "	timeout server 10s"
		# A health check gets 2 s to answer, not the 200 ms of its
		# interval: on a busy CI machine a slow answer is not a dead
		# server (one that is gone refuses at once).
		echo "	timeout check 2s"
		echo "	option httplog"
		test -z "$hs_log_" || echo "	log global"
		echo "	load-server-state-from-file global"
		echo ""
		echo "frontend fe"
		echo "	bind 127.0.0.1:$hs_port_"
		echo "	default_backend app"
		if test -n "$hs_prom_"; then
			echo ""
			echo "frontend prometheus"
			echo "	bind 127.0.0.1:$hs_pport_"
			echo "	http-request use-service prometheus-exporter if { path /metrics }"
		fi
		echo ""
		echo "backend app"
		echo "	balance $hs_balance_"
		test "$hs_balance_" = roundrobin || echo "	hash-type consistent"
		echo "	option httpchk GET /health"
		test -z "$hs_cookie_" || echo "	cookie SRV insert indirect nocache"
		if test -n "$hs_route_"; then
			echo "	http-request set-var(txn.route) req.hdr($hs_route_),map($hs_dir_/route.map)"
			echo "	use-server blue if { var(txn.route) -m str blue }"
			echo "	use-server green if { var(txn.route) -m str green }"
		fi
		echo "	server blue 127.0.0.1:$hs_stable_ weight 100 check inter 200ms fall 2 rise 2${hs_cookie_:+ cookie blue}"
		echo "	server green 127.0.0.1:$hs_canary_ weight 0 check inter 200ms fall 2 rise 2${hs_cookie_:+ cookie green}"
		test -z "$hs_base_" || echo "	server base 127.0.0.1:$hs_base_ weight 0 check inter 200ms fall 2 rise 2${hs_cookie_:+ cookie base}"
	} >"$hs_dir_/haproxy.cfg" || return 1
	: >"$hs_dir_/route.map" || return 1
	haproxy -c -q -f "$hs_dir_/haproxy.cfg" || return 1
	hap_run_ "$hs_dir_"
}

haproxy_reload() {
	rl_dir_=$1
	if test "${2-}" != --keep-state-file; then
		haproxy_admin "$rl_dir_" "show servers state" >"$rl_dir_/state.new" &&
		test "$(head -n 1 "$rl_dir_/state.new")" = 1 &&
		mv "$rl_dir_/state.new" "$rl_dir_/state" || return 1
	fi
	rl_old_=$(cat "$rl_dir_/pid")
	hap_run_ "$rl_dir_" -sf "$rl_old_" && proc_gone "$rl_old_"
}

haproxy_stop() {
	hp_pid_=$(cat "$1/pid") || return 1
	kill "$hp_pid_" 2>/dev/null
	proc_gone "$hp_pid_"
}

haproxy_app_start() {
	ha_dir_=$1 ha_port_=$2
	shift 2
	mkdir -p "$ha_dir_" || return 1
	smoke-app --port "$ha_port_" "$@" </dev/null >>"$ha_dir_/log" 2>&1 &
	ha_pid_=$!
	hap_track_ "$ha_pid_" smoke-app
	echo "$ha_pid_" >"$ha_dir_/pid"
	echo "$ha_port_" >"$ha_dir_/port"
	wait_for_port "$ha_port_"
}

haproxy_app_stop() {
	haproxy_stop "$1"
}
