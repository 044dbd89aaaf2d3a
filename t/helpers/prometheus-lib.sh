# prometheus-lib.sh: a real Prometheus scraping one target, for the
# canary tests that read metrics through it (sourced after haproxy-lib.sh,
# whose hap_track_ stops what is started here when the script exits).
#
#   prometheus_start DIR TARGET [--tls CERT KEY]
#       writes DIR/prometheus.yml (one job "haproxy" scraping
#       http://TARGET/metrics every second; rules evaluated every second)
#       and starts Prometheus on a free port of 127.0.0.1 (DIR/port), its
#       TSDB in DIR/data, its pid in DIR/pid, its output in DIR/log; waits
#       until /-/ready answers (60 s).  --tls: it serves HTTPS with that
#       certificate and key (its web config in DIR/web.yml).
#   prometheus_wait_up DIR
#       until the instant query 'up' gives 1 and the target has been
#       scraped at least three times, so that rate() over a few seconds
#       has samples (60 s).
#   prometheus_query DIR QUERY
#       the first value of an instant query, or "empty": through Python,
#       a witness independent of lib/rollout/metrics.c.

test_tool_prereq PROMETHEUS prometheus command -v prometheus

PROM_PY='
import json, sys, time, urllib.error, urllib.parse, urllib.request

def query(port, q):
    url = "http://127.0.0.1:%s/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": q}))
    with urllib.request.urlopen(url, timeout=10) as r:
        d = json.load(r)
    res = d["data"]["result"]
    if d["data"]["resultType"] == "scalar":
        return res[1]
    return res[0]["value"][1] if res else "empty"

def until(what, check, secs):
    end = time.time() + secs
    got = None
    while time.time() < end:
        try:
            got = check()
            if got is True:
                return
        except (OSError, ValueError, KeyError) as e:
            got = e
        time.sleep(0.2)
    print(what, "(last: %r)" % (got,))
    sys.exit(1)

op, port = sys.argv[1], sys.argv[2]
if op == "query":
    print(query(port, sys.argv[3]))
elif op == "ready":
    import ssl
    scheme = sys.argv[3] if len(sys.argv) > 3 else "http"
    def ready():
        with urllib.request.urlopen("%s://127.0.0.1:%s/-/ready" % (scheme, port), timeout=5,
                                    context=ssl._create_unverified_context()) as r:
            return r.status == 200 or r.status
    until("prometheus on port %s is not ready after 60 s" % port, ready, 60)
elif op == "wait-up":
    until("prometheus has not scraped its target 3 times after 60 s",
          lambda: (query(port, "up") == "1" and
                   float(query(port, "count_over_time(up[1m]) or vector(0)")) >= 3) or
                  "up %s" % query(port, "up"), 60)
'

prometheus_start() {
	case $#,${3-} in
	2,|5,--tls) ;;
	*) echo "usage: prometheus_start DIR TARGET [--tls CERT KEY]"; return 2 ;;
	esac
	ps_dir_=$1 ps_target_=$2 ps_scheme_=http ps_web_=
	mkdir -p "$ps_dir_" && ps_dir_=$(cd "$ps_dir_" && pwd) || return 1
	if test $# = 5; then
		ps_scheme_=https
		ps_web_=--web.config.file=$ps_dir_/web.yml
		printf "tls_server_config:\n  cert_file: %s\n  key_file: %s\n" "$4" "$5" \
			>"$ps_dir_/web.yml" || return 1
	fi
	ps_port_=$(test_free_port) && echo "$ps_port_" >"$ps_dir_/port" || return 1
	cat >"$ps_dir_/prometheus.yml" <<-EOF || return 1
	global:
	  scrape_interval: 1s
	  scrape_timeout: 1s
	  evaluation_interval: 1s
	scrape_configs:
	  - job_name: haproxy
	    metrics_path: /metrics
	    static_configs:
	      - targets: ["$ps_target_"]
	EOF
	prometheus --config.file="$ps_dir_/prometheus.yml" \
		--storage.tsdb.path="$ps_dir_/data" \
		--web.listen-address="127.0.0.1:$ps_port_" ${ps_web_:+"$ps_web_"} \
		</dev/null >>"$ps_dir_/log" 2>&1 &
	ps_pid_=$!
	hap_track_ "$ps_pid_" prometheus
	echo "$ps_pid_" >"$ps_dir_/pid"
	if ! "$HAP_PYTHON" -c "$PROM_PY" ready "$ps_port_" "$ps_scheme_"; then
		echo "prometheus did not start; its log:"
		tail -n 20 "$ps_dir_/log"
		return 1
	fi
}

prometheus_wait_up() {
	"$HAP_PYTHON" -c "$PROM_PY" wait-up "$(cat "$1/port")"
}

prometheus_query() {
	"$HAP_PYTHON" -c "$PROM_PY" query "$(cat "$1/port")" "$2"
}
