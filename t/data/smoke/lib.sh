# lib.sh: shell functions for the ci-smoke tests (t/t04*-smoke-*.sh), sourced
# after test-lib.sh.

SMOKE_DATA=$TEST_DIRECTORY/data/smoke
APP_PIDS=

# start_app [smoke-app flags]: the staging app on a free port; sets APP_PORT,
# APP_PID and BASE.  Every app started here is killed when the script exits.
start_app() {
	APP_PORT=$(test_free_port)
	smoke-app --port "$APP_PORT" "$@" 2>>"$TRASH/app.log" &
	APP_PID=$!
	APP_PIDS="$APP_PIDS $APP_PID"
	# Also in the file: an app started in a test's subshell is killed too.
	remember_pid "$APP_PID"
	BASE=http://127.0.0.1:$APP_PORT
	wait_for_port "$APP_PORT"
}

# Processes a test starts in its own subshell are listed in a file outside
# $TRASH (test_done removes $TRASH before the script exits), so that the
# exit kills them even when the test failed half-way: the cleanup of
# test_when_finished does not reach out of the test's subshell.
SMOKE_PIDS=$(mktemp "${TMPDIR:-/tmp}/smoke-pids.XXXXXX")
remember_pid() {
	echo "$1" >>"$SMOKE_PIDS"
}

stop_apps() {
	for p in $APP_PIDS $(cat "$SMOKE_PIDS" 2>/dev/null); do
		kill "$p" 2>/dev/null
	done
	for p in $APP_PIDS; do
		wait "$p" 2>/dev/null
	done
	rm -f "$SMOKE_PIDS"
	APP_PIDS=
}
trap stop_apps EXIT

# app_control JSON [BASE]: change the app's knobs (POST /_control).
app_control() {
	python3 - "${2:-$BASE}/_control" "$1" <<'PY'
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method="POST")
urllib.request.urlopen(req, timeout=10).read()
PY
}

# app_reset [BASE]: every knob back to a healthy app.
app_reset() {
	app_control '{"latency_ms": 0, "latency_paths": {}, "error_rate": 0, "error_paths": {}, "db_down": false, "slow_start": 0}' "$@"
}

# wait_for_grep PATTERN FILE: up to 10 s, for a line a background job writes.
wait_for_grep() {
	n=0
	while ! grep -q -e "$1" "$2" 2>/dev/null; do
		test $n -lt 200 || { echo "no '$1' in $2:"; cat "$2"; return 1; }
		sleep 0.05
		n=$((n + 1))
	done
}

# smoke_json FILE EXPR: a Python expression that must be true, over d (the
# document), s (its smoke section), f (s's files), e (the entries of every
# file, in order) and fa(i) (the texts of entry i's failed asserts).
smoke_json() {
	python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s = d.get("smoke", {})
f = s.get("files", [])
e = [x for fl in f for x in fl.get("entries", [])]
def fa(i):
    return [a["assert"] for a in e[i].get("asserts", []) if a["status"] == "failed"]
if not eval(sys.argv[2], {"d": d, "s": s, "f": f, "e": e, "fa": fa}):
    print("json check failed:", sys.argv[2])
    print(json.dumps(s or d, indent=1)[:6000])
    sys.exit(1)
PY
}

# wait_for_path PATH N: until the app has had N requests for PATH (10 s).
wait_for_path() {
	python3 - "$BASE/_control" "$1" "$2" <<'PY'
import json, sys, time, urllib.request
end = time.time() + 10
while time.time() < end:
    seen = json.load(urllib.request.urlopen(sys.argv[1], timeout=5))["by_path"].get(sys.argv[2], 0)
    if seen >= int(sys.argv[3]):
        sys.exit(0)
    time.sleep(0.05)
print("the app did not see", sys.argv[3], "requests for", sys.argv[2])
sys.exit(1)
PY
}
