# registry-lib.sh: fixtures for the ci-push tests (sourced after test-lib.sh).
#
#   start_registry DIR [registry-start options]   port in DIR/port
#   start_proxy DIR UPSTREAM RULES_FILE [--tcp]    port in DIR/port; UPSTREAM
#                                   is a port of 127.0.0.1, HOST:PORT or
#                                   unix:PATH (registry-proxy: in front of
#                                   any HTTP server, or with --tcp of
#                                   HAProxy's runtime API)
#   start_token_server DIR KEY CERT USERS [--tls CERT KEY]   port in DIR/port
#   proxy_rules DIR JSON            the rules of the proxy in DIR (read
#                                   again for every request); its log emptied
#   proxy_count DIR ACTION          requests the proxy in DIR handled so
#                                   ("stall-end": stalls over)
#   proxy_stalls_by DIR WHO         every stall of the proxy in DIR ended by
#                                   WHO ("client": the client gave up)
#   proxy_fail_then_hold DIR [MATCH]  the retry-time case: requests that
#                                   match (MATCH: JSON members such as
#                                   '"method": "HEAD", ') get 503 once, then
#                                   no answer for 30 s, more than any
#                                   --retry-time the tests give
#   proxy_gave_up_in_time DIR       ... and the client gave up within its
#                                   retry time: one 503, one stall it
#                                   ended itself, nothing after
#   wrong_name_cert DIR             DIR/ca.crt, and DIR/srv.crt and srv.key
#                                   that it signed for wrong.example alone
#   make_image LAYOUT TAG SIZE...   an image made with umoci, one layer of
#                                   SIZE random bytes per SIZE
#   reg_has_manifest PORT REPO REF  the registry holds that manifest
#   reg_has_blob PORT REPO DIGEST   the registry holds that blob (exit 1:
#                                   it answers 404)
#   reg_requests DIR                the requests the registry in DIR
#                                   answered, "METHOD PATH STATUS" a line,
#                                   from its access log
#
# Every server started here is stopped when the script exits, even when it
# was started inside a test (a subshell): pids go to a file, and each
# server also watches the test script and ends itself when it is gone.

REG_PIDFILE=${TMPDIR:-/tmp}/ci-tools-servers.$$
REG_OWNER_PID=$$
export REG_OWNER_PID
: >"$REG_PIDFILE"

reg_cleanup_() {
	test -f "$REG_PIDFILE" || return 0
	pids=$(cat "$REG_PIDFILE")
	for pid in $pids; do
		kill "$pid" 2>/dev/null || :
	done
	for pid in $pids; do
		n=0
		while kill -0 "$pid" 2>/dev/null && test $n -lt 50; do
			sleep 0.1
			n=$((n + 1))
		done
		kill -9 "$pid" 2>/dev/null || :
	done
	rm -f "$REG_PIDFILE"
}
trap 'reg_cleanup_' EXIT
trap 'reg_cleanup_; exit 130' INT TERM

reg_track_() {
	echo "$1" >>"$REG_PIDFILE"
}

test_tool_prereq REGISTRY docker-registry command -v docker-registry
test_tool_prereq SKOPEO skopeo command -v skopeo
test_tool_prereq UMOCI umoci command -v umoci
test_tool_prereq HTPASSWD apache2-utils command -v htpasswd
test_tool_prereq OPENSSL openssl command -v openssl
test_tool_prereq CRYPTOGRAPHY python3-cryptography python3 -c 'import cryptography'

start_registry() {
	dir=$1
	shift
	registry-start "$dir" "$@" >/dev/null || return 1
	reg_track_ "$(cat "$dir/pid")"
}

start_proxy() {
	rm -f "$1/port" "$1/pid"
	mkdir -p "$1"
	case $2 in
	*:*) sp_up_=$2 ;;
	*) sp_up_=127.0.0.1:$2 ;;
	esac
	registry-proxy --upstream "$sp_up_" --dir "$1" --rules "$3" ${4+"$4"} </dev/null >"$1.log" 2>&1 &
	reg_track_ $!
	wait_for_file "$1/port" && wait_for_port "$(cat "$1/port")"
}

start_token_server() {
	rm -f "$1/port" "$1/pid"
	mkdir -p "$1"
	st_dir_=$1
	shift
	registry-token-server --dir "$st_dir_" --key "$1" --cert "$2" --users "$3" \
		${4+"$4" "$5" "$6"} </dev/null >"$st_dir_.log" 2>&1 &
	set -- "$st_dir_"
	reg_track_ $!
	wait_for_file "$1/port" && wait_for_port "$(cat "$1/port")"
}

proxy_rules() {
	mkdir -p "$1" &&
	echo "$2" >"$1.rules" &&
	: >"$1/requests.log"
}

proxy_count() {
	grep -c "\"action\": \"$2\"" "$1/requests.log"
}

proxy_stalls_by() {
	test "$(proxy_count "$1" stall-end)" -gt 0 &&
	! grep "\"action\": \"stall-end\"" "$1/requests.log" | grep -v "\"by\": \"$2\""
}

proxy_fail_then_hold() {
	proxy_rules "$1" "[{${2-}\"action\": \"status\", \"status\": 503, \"times\": 1}, {${2-}\"action\": \"stall\", \"hold\": 30}]"
}

proxy_gave_up_in_time() {
	test "$(proxy_count "$1" status)" = 1 &&
	test "$(proxy_count "$1" stall)" = 1 &&
	proxy_stalls_by "$1" client
}

wrong_name_cert() {
	mkdir -p "$1" &&
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1/ca.key" -out "$1/ca.crt" \
		-days 2 -subj /CN=ci-tools-test-ca 2>/dev/null &&
	openssl req -newkey rsa:2048 -nodes -keyout "$1/srv.key" -out "$1/srv.csr" \
		-subj /CN=wrong.example 2>/dev/null &&
	printf "subjectAltName=DNS:wrong.example\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" >"$1/ext" &&
	openssl x509 -req -in "$1/srv.csr" -CA "$1/ca.crt" -CAkey "$1/ca.key" -CAcreateserial \
		-out "$1/srv.crt" -days 2 -extfile "$1/ext" 2>/dev/null
}

make_image() {
	layout=$1
	tag=$2
	shift 2
	test -d "$layout" || umoci init --layout "$layout" || return 1
	umoci new --image "$layout:$tag" || return 1
	i=0
	for size in "$@"; do
		i=$((i + 1))
		head -c "$size" /dev/urandom >"$layout.f$i" &&
		umoci insert --image "$layout:$tag" "$layout.f$i" "/f$i" >/dev/null || return 1
		rm -f "$layout.f$i"
	done
}

# The digest index.json gives a tag of a layout.
layout_digest() {
	python3 - "$1" "$2" <<'PY'
import json, sys
idx = json.load(open(sys.argv[1] + "/index.json"))
for m in idx["manifests"]:
    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == sys.argv[2]:
        print(m["digest"])
PY
}

reg_has_manifest() {
	python3 - "$1" "$2" "$3" <<'PY'
import sys, urllib.request, urllib.error
req = urllib.request.Request("http://127.0.0.1:%s/v2/%s/manifests/%s" % tuple(sys.argv[1:4]),
    method="HEAD", headers={"Accept": "application/vnd.oci.image.manifest.v1+json, "
                            "application/vnd.oci.image.index.v1+json"})
try:
    urllib.request.urlopen(req, timeout=10)
except urllib.error.HTTPError:
    sys.exit(1)
PY
}

reg_has_blob() {
	python3 - "$1" "$2" "$3" <<'PY'
import sys, urllib.request, urllib.error
req = urllib.request.Request("http://127.0.0.1:%s/v2/%s/blobs/%s" % tuple(sys.argv[1:4]),
    method="HEAD")
try:
    urllib.request.urlopen(req, timeout=10)
except urllib.error.HTTPError as e:
    sys.exit(1 if e.code == 404 else 2)
PY
}

reg_requests() {
	sed -n 's/^[0-9.]* - [^ ]* \[[^]]*\] "\([A-Z]*\) \([^ ]*\) HTTP\/[0-9.]*" \([0-9]*\) .*/\1 \2 \3/p' "$1/log"
}

# The repositories a registry (anonymous, plain HTTP) holds, one a line.
reg_catalog() {
	python3 - "$1" <<'PY'
import json, sys, urllib.request
d = json.load(urllib.request.urlopen("http://127.0.0.1:%s/v2/_catalog" % sys.argv[1], timeout=10))
for r in d.get("repositories") or []:
    print(r)
PY
}

# A manifest's digest as the registry serves it, through skopeo.
skopeo_digest() {
	skopeo inspect --raw --tls-verify=false "docker://$1" | sha256sum | sed 's/ .*//; s/^/sha256:/'
}
