# test-lib.sh: a small TAP library for the shell tests, in git's style.
#
#   . "${0%/*}/test-lib.sh"   (from t/tNNNN-topic.sh, which sets test_description)
#   test_expect_success 'name' 'commands'
#   test_expect_failure 'name' 'commands'     (known breakage: TODO)
#   test_expect_code N COMMAND [ARG...]       (in a body: COMMAND must exit N)
#   test_cmp expect actual
#   test_when_finished 'cleanup commands'
#   test_have_prereq NAME / test_set_prereq NAME / 'PREREQ' as first arg
#   test_done
#
# Each script runs in its own scratch directory t/trash.NAME, with the built
# tools first on PATH.  Set TEST_VERBOSE=1 (or run with -v) to see the output
# of the commands; failures always show it.

TEST_DIRECTORY=$(cd "$(dirname "$0")" && pwd)
SRC_ROOT=$(cd "$TEST_DIRECTORY/.." && pwd)
TEST_NAME=$(basename "$0" .sh)
TRASH=$TEST_DIRECTORY/trash.$TEST_NAME
PATH=$SRC_ROOT:$TEST_DIRECTORY/helpers:$PATH
export PATH SRC_ROOT TEST_DIRECTORY
unset GITHUB_ACTIONS GITHUB_STEP_SUMMARY CI_STATE_DIR
LC_ALL=C
TZ=UTC
export LC_ALL TZ

case "$1" in -v|--verbose) TEST_VERBOSE=1 ;; esac
# fd 4: where the library's own complaints go (a test's output, see test_run_).
exec 4>&2

test_count=0
test_failed=0
test_cleanup=:
test_prereqs=" "

rm -rf "$TRASH"
mkdir -p "$TRASH" || { echo "Bail out! cannot create $TRASH"; exit 1; }
cd "$TRASH" || exit 1
HOME=$TRASH
export HOME
# Git needs an identity for the commits the tests make.
GIT_AUTHOR_NAME='A U Thor' GIT_AUTHOR_EMAIL=author@example.com
GIT_COMMITTER_NAME='C O Mitter' GIT_COMMITTER_EMAIL=committer@example.com
GIT_CONFIG_NOSYSTEM=1
GIT_CEILING_DIRECTORIES=$TEST_DIRECTORY
export GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL GIT_CONFIG_NOSYSTEM GIT_CEILING_DIRECTORIES

say() { echo "# $*"; }

test_set_prereq() { test_prereqs="$test_prereqs$1 "; }
test_have_prereq() {
	case "$test_prereqs" in *" $1 "*) return 0 ;; esac
	return 1
}

test_when_finished() {
	test_cleanup="{ $*
	} && (exit \"\$eval_ret\"); eval_ret=\$?; $test_cleanup"
}

# The body and its test_when_finished cleanups run in one subshell, so
# that cleanups the body registers are seen (a body that calls exit skips
# them, as in git).
test_run_() {
	if test -n "$TEST_VERBOSE"; then
		(test_cleanup=:; eval "$1"; eval_ret=$?; eval "$test_cleanup" >/dev/null 2>&1; exit $eval_ret) 4>&2
	else
		(test_cleanup=:; eval "$1"; eval_ret=$?; eval "$test_cleanup" >/dev/null 2>&1; exit $eval_ret) \
			>"$TRASH/.out" 2>&1 4>&1
	fi
}

test_report_() {
	# test_report_ ok|fail name [directive]
	test_count=$((test_count + 1))
	if test "$1" = ok; then
		echo "ok $test_count - $2${3:+ # $3}"
	else
		echo "not ok $test_count - $2${3:+ # $3}"
		if test -z "$TEST_VERBOSE" && test -f "$TRASH/.out"; then
			sed -e 's/^/#    /' "$TRASH/.out" | tail -n 40
		fi
		test -n "$3" || test_failed=$((test_failed + 1))
	fi
}

test_skip_() {
	# test_skip_ PREREQS name: returns 0 (and reports) when it must skip
	old_ifs=$IFS
	IFS=,
	for p in $1; do
		IFS=$old_ifs
		case "$p" in
		!*) test_have_prereq "${p#!}" || continue ;;
		*) ! test_have_prereq "$p" || continue ;;
		esac
		test_count=$((test_count + 1))
		echo "ok $test_count # skip $2 (missing $p)"
		return 0
	done
	IFS=$old_ifs
	return 1
}

LF='
'

# test_chain_lint_ BODY: true when the body is one && chain, checked as
# git's test-lib does: "(exit 117) && BODY" parses the whole chain and runs
# none of it, so it ends with 117, unless a link lacks its && and the rest
# runs.  The echo after a blank line also catches a here-document that
# never ends.
test_chain_lint_() {
	rm -f "$TRASH/.lint"
	(cd "$TRASH" && eval "(exit 117) && $1${LF}${LF}echo OK-\$? >&3") \
		3>"$TRASH/.lint" >/dev/null 2>&1 4>&1 </dev/null
	test "$(cat "$TRASH/.lint" 2>/dev/null)" = OK-117
}

# test_lint_failed_ NAME BODY: report a body that is not one chain (and
# was not run), showing all of it.
test_lint_failed_() {
	rm -f "$TRASH/.out"
	test_report_ fail "$1"
	echo "# broken && chain in test '$1':"
	printf '%s\n' "$2" | sed -e 's/^/#    /'
}

test_expect_success() {
	if test $# = 3; then test_skip_ "$1" "$2" && return; shift; fi
	test_chain_lint_ "$2" || { test_lint_failed_ "$1" "$2"; return; }
	(cd "$TRASH" && test_run_ "$2")
	if test $? = 0; then test_report_ ok "$1"; else test_report_ fail "$1"; fi
}

test_expect_failure() {
	if test $# = 3; then test_skip_ "$1" "$2" && return; shift; fi
	test_chain_lint_ "$2" || { test_lint_failed_ "$1" "$2"; return; }
	(cd "$TRASH" && test_run_ "$2")
	if test $? = 0; then test_report_ ok "$1" "TODO known breakage vanished"
	else test_report_ fail "$1" "TODO known breakage"; fi
}

# test_expect_code N COMMAND [ARG...]: used inside a body, like test_cmp.
# Runs COMMAND and succeeds when it exits N, so the checks chained after
# it still run:
#   test_expect_success 'name' 'test_expect_code 2 ci-gate -x >out 2>err && test_grep ...'
# The complaint goes to fd 4 (the test's own output) because the command's
# stderr is often redirected to a file.
test_expect_code() {
	tec_want_=$1
	shift
	"$@"
	tec_got_=$?
	test "$tec_got_" = "$tec_want_" && return 0
	echo "test_expect_code: command exited $tec_got_, wanted $tec_want_: $*" >&4
	return 1
}

test_cmp() {
	diff -u "$1" "$2"
}

# test_grep PATTERN FILE, with the file shown when it fails.
test_grep() {
	if test "$1" = '!'; then
		shift
		if grep -q -e "$1" "$2"; then echo "found '$1' in $2:"; cat "$2"; return 1; fi
		return 0
	fi
	grep -q -e "$1" "$2" && return 0
	echo "no '$1' in $2:"
	cat "$2"
	return 1
}

# test_json FILE EXPR: a Python expression over 'd' (the parsed document)
# that must be true.  Python's json module is our independent reader.
test_json() {
	python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2], {"d": d})
if not ok:
    print("json check failed:", sys.argv[2])
    print(json.dumps(d, indent=1)[:4000])
    sys.exit(1)
PY
}

# test_jq FILE PATH: print a value, for test_cmp.
test_jval() {
	python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2], {"d": d})
print(v if isinstance(v, str) else json.dumps(v))
PY
}

test_done() {
	echo "1..$test_count"
	if test "$test_failed" = 0; then
		cd "$TEST_DIRECTORY" && rm -rf "$TRASH"
		exit 0
	fi
	exit 1
}

command -v python3 >/dev/null 2>&1 && test_set_prereq PYTHON
command -v xmllint >/dev/null 2>&1 && test_set_prereq XMLLINT
command -v git >/dev/null 2>&1 && test_set_prereq GIT

# proc_gone PID: the process no longer runs (absent, or a zombie waiting
# for a reaper that is not us).  Waits up to 5 s for it to go.
proc_gone() {
	n=0
	while test $n -lt 50; do
		test -e "/proc/$1" || return 0
		state=$(sed -e 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
		test -z "$state" || test "$state" = Z && return 0
		sleep 0.1
		n=$((n + 1))
	done
	echo "process $1 still runs"
	return 1
}

# wait_for_file FILE: up to 10 s, for files a background job writes.
wait_for_file() {
	n=0
	while ! test -s "$1"; do
		test $n -lt 100 || { echo "no $1"; return 1; }
		sleep 0.1
		n=$((n + 1))
	done
}

# test_free_port: print a TCP port on 127.0.0.1 that nothing listens on
# now (tests run in parallel: never hard-code a port).
test_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for_port PORT: until something accepts connections there (10 s).
wait_for_port() {
	python3 - "$1" <<'PY'
import socket, sys, time
end = time.time() + 10
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
print("nothing listens on port", sys.argv[1])
sys.exit(1)
PY
}
