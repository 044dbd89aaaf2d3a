#!/bin/sh
test_description='ci-canary looks at the instances: CPU and memory from their cgroups, synthetic Hurl checks'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/haproxy-lib.sh"
. "$TEST_DIRECTORY/helpers/canary-lib.sh"

CI_STATE_DIR=$TRASH/state
export CI_STATE_DIR

# cgroups of our own: root and a writable cgroup file system (v1 or v2).
CG_NAME=ci-tools-test-$$
cg_dirs() {
	if test -e /sys/fs/cgroup/cgroup.controllers; then
		echo "/sys/fs/cgroup/$CG_NAME-$1"
	else
		for c in cpu cpuacct memory; do
			echo "/sys/fs/cgroup/$c/$CG_NAME-$1"
		done
	fi
}
# cg_make NAME QUOTA_US MEMORY_BYTES: a cgroup with 100 ms periods.
cg_make() {
	for d in $(cg_dirs "$1"); do
		mkdir -p "$d" || return 1
	done
	if test -e /sys/fs/cgroup/cgroup.controllers; then
		echo "$2 100000" >"/sys/fs/cgroup/$CG_NAME-$1/cpu.max" &&
		echo "$3" >"/sys/fs/cgroup/$CG_NAME-$1/memory.max"
	else
		echo 100000 >"/sys/fs/cgroup/cpu/$CG_NAME-$1/cpu.cfs_period_us" &&
		echo "$2" >"/sys/fs/cgroup/cpu/$CG_NAME-$1/cpu.cfs_quota_us" &&
		echo "$3" >"/sys/fs/cgroup/memory/$CG_NAME-$1/memory.limit_in_bytes"
	fi
}
# cg_run NAME PIDFILE COMMAND...: COMMAND in the cgroup, its pid in PIDFILE.
cg_run() {
	cr_name_=$1 cr_pidfile_=$2
	shift 2
	"$@" </dev/null >/dev/null 2>&1 &
	cr_pid_=$!
	hap_track_ "$cr_pid_" "$(basename "$1")"
	for d in $(cg_dirs "$cr_name_"); do
		echo "$cr_pid_" >"$d/cgroup.procs" || return 1
	done
	echo "$cr_pid_" >"$cr_pidfile_"
}
cg_cleanup() {
	for n in blue green; do
		test -f "$TRASH/$n.pid" && kill "$(cat "$TRASH/$n.pid")" 2>/dev/null
	done
	sleep 0.2
	for n in blue green; do
		for d in $(cg_dirs $n); do
			rmdir "$d" 2>/dev/null
		done
	done
	return 0
}
cgroups_work() {
	test "$(id -u)" = 0 && cg_make probe 100000 268435456 && cg_cleanup_probe
}
cg_cleanup_probe() {
	for d in $(cg_dirs probe); do rmdir "$d" || return 1; done
}
test_env_prereq CGROUPS cgroups_work

# spec FILE METRIC: a one-step-then-100 rollout of "shop" through the exec
# driver (weights go to a file), with one metric.
spec() {
	cat >"$1" <<-EOF
	{"app": "shop",
	 "traffic": {"driver": "exec", "set": "echo {{stable_weight}} {{canary_weight}} >$TRASH/weights"},
	 "steps": [{"weight": 20, "pause": "2s"}, {"weight": 100}],
	 "analysis": {"interval": "300ms", "min_requests": 0, "failure_limit": 2,
	              "metrics": [$2]}}
	EOF
}

# Green's limit is a tenth of a core: a spinner reaches it even when the
# machine is busy with other work (a test must not depend on idle cores).
test_expect_success CGROUPS 'setup: blue idles and green burns CPU, each held to a tenth of a core' '
	cg_make blue 10000 268435456 &&
	cg_make green 10000 268435456 &&
	cg_run blue blue.pid sleep 600 &&
	cg_run green green.pid sh -c "while :; do :; done"
'

test_expect_success CGROUPS 'a canary over half its CPU limit (a spinner uses all of it) fails; stable is measured too' '
	spec cpu.json "{\"source\": \"resources\", \"resource\": \"cpu\", \"instance\": \"pidfile:$TRASH/{{slot}}.pid\", \"max\": 50, \"max_increase\": 50}" &&
	test_expect_code 1 ci-canary --new -f cpu.json --image reg.example/shop:v2 >doc.json 2>err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"failed\"" &&
	test_grep "^ci-canary: .*cpu [0-9.]* > 50 (% of the CPU limit of .green.)" err &&
	test_json doc.json "any(i[\"metrics\"][\"cpu\"].get(\"canary\", 0) > 50 for i in d[\"canary\"][\"intervals\"])" &&
	test_json doc.json "all(i[\"metrics\"][\"cpu\"].get(\"stable\", 0) < 20 for i in d[\"canary\"][\"intervals\"])" &&
	echo "100 0" >expect && test_cmp expect weights
'

test_expect_success CGROUPS 'the same canary passes a bound it keeps to' '
	spec cpu2.json "{\"source\": \"resources\", \"resource\": \"cpu\", \"instance\": \"pidfile:$TRASH/{{slot}}.pid\", \"max\": 150}" &&
	ci-canary --new -f cpu2.json --app shop2 --image reg.example/shop:v2 >doc.json 2>err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"passed\"" &&
	test_json doc.json "all(\"canary\" in i[\"metrics\"][\"cpu\"] for i in d[\"canary\"][\"intervals\"])"
'

test_expect_success CGROUPS 'memory: a canary using 80% of its limit fails a max of 70%' '
	cg_cleanup &&
	cg_make blue 100000 134217728 &&
	cg_make green 100000 67108864 &&
	cg_run blue blue.pid sleep 600 &&
	cg_run green green.pid python3 -c "import time; b = bytearray(52 << 20); time.sleep(600)" &&
	n=0 && until grep -q "^VmRSS:.*[0-9]\{5\} kB" "/proc/$(cat green.pid)/status" || test $n -ge 50; do sleep 0.1; n=$((n + 1)); done &&
	spec mem.json "{\"source\": \"resources\", \"resource\": \"memory\", \"instance\": \"pidfile:$TRASH/{{slot}}.pid\", \"max\": 70, \"critical\": true}" &&
	test_expect_code 1 ci-canary --new -f mem.json --app shop3 --image reg.example/shop:v2 >doc.json 2>err &&
	test_json doc.json "\"memory\" in d[\"canary\"][\"reason\"] and \"memory limit\" in d[\"canary\"][\"reason\"]" &&
	test_json doc.json "75 < d[\"canary\"][\"intervals\"][0][\"metrics\"][\"memory\"][\"canary\"] < 100"
'

test_expect_success CGROUPS 'an instance that is gone is unreadable, not a pass' '
	cg_cleanup &&
	echo 999999999 >green.pid &&
	spec gone.json "{\"source\": \"resources\", \"resource\": \"memory\", \"instance\": \"pidfile:$TRASH/{{slot}}.pid\", \"max\": 70}" &&
	sed -i "s/\"failure_limit\": 2,/\"failure_limit\": 2, \"consecutive_error_limit\": 2,/" gone.json &&
	test_expect_code 1 ci-canary --new -f gone.json --app shop4 --image reg.example/shop:v2 >doc.json 2>err &&
	test_json doc.json "\"999999999\" in d[\"canary\"][\"reason\"]"
'

test_expect_success 'bad resources and synthetic metrics are refused with their place' '
	spec b1.json "{\"source\": \"resources\", \"resource\": \"disk\", \"instance\": \"pid:1\", \"max\": 1}" &&
	test_expect_code 2 ci-canary --new -f b1.json --image r/x:1 >/dev/null 2>err &&
	grep "b1.json:5:[0-9]*: analysis.metrics\[0\]: unknown resource .disk. (expected cpu or memory)" err &&
	spec b2.json "{\"source\": \"resources\", \"resource\": \"cpu\", \"max\": 1}" &&
	test_expect_code 2 ci-canary --new -f b2.json --image r/x:1 >/dev/null 2>err &&
	grep "needs .resource. (cpu or memory) and .instance." err &&
	spec b3.json "{\"source\": \"resources\", \"resource\": \"cpu\", \"instance\": \"container:x\", \"max\": 1}" &&
	test_expect_code 2 ci-canary --new -f b3.json --image r/x:1 >/dev/null 2>err &&
	grep "container:x.: expected cgroup:PATH, pid:N, pidfile:FILE or runc:ID" err &&
	spec b4.json "{\"source\": \"synthetic\"}" &&
	test_expect_code 2 ci-canary --new -f b4.json --image r/x:1 >/dev/null 2>err &&
	grep "a synthetic metric needs .file." err &&
	printf "GET {{base_url}}/health\nHTTP 2OO\n" >bad.hurl &&
	spec b5.json "{\"source\": \"synthetic\", \"file\": \"bad.hurl\", \"urls\": {\"blue\": \"http://127.0.0.1:1\"}}" &&
	test_expect_code 2 ci-canary --new -f b5.json --image r/x:1 >/dev/null 2>err &&
	grep "metric .synthetic.: bad.hurl:2" err &&
	printf "GET {{base_url}}/health\nHTTP 200\n" >ok.hurl &&
	spec b6.json "{\"source\": \"synthetic\", \"file\": \"ok.hurl\"}" &&
	test_expect_code 2 ci-canary --new -f b6.json --image r/x:1 >/dev/null 2>err &&
	grep "with the exec driver, give .urls." err &&
	spec b7.json "{\"source\": \"synthetic\", \"file\": \"ok.hurl\", \"urls\": {\"blue\": \"ftp://x\"}}" &&
	test_expect_code 2 ci-canary --new -f b7.json --image r/x:1 >/dev/null 2>err &&
	grep "urls.blue: expected an http:// or https:// URL" err &&
	spec b8.json "{\"source\": \"haproxy\", \"max\": 1, \"file\": \"ok.hurl\"}" &&
	test_expect_code 2 ci-canary --new -f b8.json --image r/x:1 >/dev/null 2>err &&
	grep ".file. and .urls. are for synthetic metrics" err
'

test_expect_success HAPROXY 'setup: HAProxy in front of v1 on blue and v2 on green, whose checkout fails' '
	haproxy_app_start blue "$(test_free_port)" --version v1 &&
	haproxy_app_start green "$(test_free_port)" --version v2 --error-path /search=1.0 &&
	haproxy_start lb "$(cat blue/port)" "$(cat green/port)" &&
	haproxy_wait_status lb app/blue UP && haproxy_wait_status lb app/green UP &&
	cat >checks.hurl <<-\EOF
	# name: health
	GET {{base_url}}/health
	HTTP 200

	# name: search
	GET {{base_url}}/search?q=shoes
	HTTP 200
	EOF
'

test_expect_success HAPROXY 'synthetic checks against the canary, at its own address: a failing one aborts' '
	cat >syn.json <<-EOF &&
	{"app": "web",
	 "traffic": {"driver": "haproxy", "socket": "$TRASH/lb/admin.sock", "backend": "app"},
	 "steps": [{"weight": 10, "pause": "1s"}, {"weight": 100}],
	 "analysis": {"interval": "300ms", "min_requests": 0, "failure_limit": 2,
	              "metrics": [{"name": "checkout", "source": "synthetic", "file": "checks.hurl"}]}}
	EOF
	test_expect_code 1 ci-canary --new -f syn.json --image reg.example/web:v2 >doc.json 2>err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"failed\"" &&
	test_grep "checkout 1 > 0 failed checks on .green. (first: search: " err &&
	test_json doc.json "\"search\" in d[\"canary\"][\"reason\"]" &&
	is "$(weight green)" 0 && is "$(weight blue)" 100
'

test_expect_success HAPROXY '... and a canary that answers them passes' '
	haproxy_app_stop green &&
	haproxy_app_start green "$(cat green/port)" --version v2 &&
	haproxy_admin lb "set server app/green state ready" &&
	haproxy_wait_status lb app/green UP &&
	ci-canary --new -f syn.json --image reg.example/web:v3 >doc.json 2>err &&
	test_json doc.json "d[\"canary\"][\"status\"] == \"passed\"" &&
	test_json doc.json "all(i[\"metrics\"][\"checkout\"][\"canary\"] == 0 for i in d[\"canary\"][\"intervals\"])" &&
	is "$(weight green)" 100
'

test_tool_prereq RUNC runc command -v runc
test_tool_prereq BUSYBOX busybox-static test -x /bin/busybox

# runc_bundle DIR ARGS_JSON: a busybox container held to a tenth of a core and
# 128 MiB, its process ARGS_JSON.
runc_bundle() {
	mkdir -p "$1/rootfs/bin" && cp /bin/busybox "$1/rootfs/bin/busybox" &&
	ln -sf busybox "$1/rootfs/bin/sh" &&
	(cd "$1" && runc spec) &&
	python3 - "$1/config.json" "$2" <<-\PY
	import json, sys
	c = json.load(open(sys.argv[1]))
	c["process"]["terminal"] = False
	c["process"]["args"] = json.loads(sys.argv[2])
	c["root"]["readonly"] = True
	c["linux"].setdefault("resources", {})
	c["linux"]["resources"]["cpu"] = {"quota": 10000, "period": 100000}
	c["linux"]["resources"]["memory"] = {"limit": 134217728}
	json.dump(c, open(sys.argv[1], "w"))
	PY
}

RUNC_ID=ci-tools-t0507-$$
test_expect_success RUNC,BUSYBOX,CGROUPS 'runc containers: blue idles, green spins; the canary fails on its CPU' '
	runc_bundle rb "[\"/bin/sh\", \"-c\", \"while :; do sleep 1; done\"]" &&
	runc_bundle rg "[\"/bin/sh\", \"-c\", \"while :; do :; done\"]" &&
	test_when_finished "runc delete -f $RUNC_ID-blue >/dev/null 2>&1; runc delete -f $RUNC_ID-green >/dev/null 2>&1; :" &&
	(cd rb && runc run -d "$RUNC_ID-blue" </dev/null >/dev/null 2>&1) &&
	(cd rg && runc run -d "$RUNC_ID-green" </dev/null >/dev/null 2>&1) &&
	spec runc.json "{\"source\": \"resources\", \"resource\": \"cpu\", \"instance\": \"runc:$RUNC_ID-{{slot}}\", \"max\": 50}" &&
	test_expect_code 1 ci-canary --new -f runc.json --app shop5 --image reg.example/shop:v9 >doc.json 2>err &&
	test_grep "cpu [0-9.]* > 50 (% of the CPU limit of .green.)" err &&
	spec runcm.json "{\"source\": \"resources\", \"resource\": \"memory\", \"instance\": \"runc:$RUNC_ID-{{slot}}\", \"max\": 50}" &&
	ci-canary --new -f runcm.json --app shop6 --image reg.example/shop:v9 >docm.json 2>errm &&
	test_json docm.json "d[\"canary\"][\"status\"] == \"passed\" and all(0 <= i[\"metrics\"][\"memory\"][\"canary\"] < 50 for i in d[\"canary\"][\"intervals\"])"
'

test_expect_success CGROUPS 'cleanup: the cgroups go' '
	cg_cleanup &&
	for d in $(cg_dirs blue) $(cg_dirs green); do ! test -e "$d" || return 1; done
'

test_done
