# test-lib.sh: a small TAP library for the shell tests, in git's style.
#
#   . "${0%/*}/test-lib.sh"   (from t/tNNNN-topic.sh, which sets test_description)
#   test_expect_success 'name' 'commands'
#   test_expect_failure 'name' 'commands'     (known breakage: TODO)
#   test_expect_code N COMMAND [ARG...]       (in a body: COMMAND must exit N)
#   test_cmp expect actual
#   test_when_finished 'cleanup commands'
#   test_have_prereq NAME / test_set_prereq NAME / 'PREREQ,!OTHER' as first arg
#   test_tool_prereq NAME PACKAGE CHECK...    (NAME is a part of Debian's PACKAGE)
#   test_env_prereq NAME CHECK...             (NAME is about the machine: ROOT)
#   test_require PREREQ...                    (the whole script needs them)
#   test_secret LABEL VALUE                   (a secret made at run time)
#   test_done
#
# Each script runs in its own scratch directory t/trash.NAME, with the built
# tools first on PATH.  Set TEST_VERBOSE=1 (or run with -v) to see the output
# of the commands; failures always show it.
#
# With CI set (.ci/run sets CI=true) a test that needs a missing program
# fails, naming the package to install, instead of skipping: CI runs every
# test.  Prerequisites about the environment (ROOT, a negated one) skip.
# A test that names a prerequisite nobody declared fails, CI or not: a
# typo, or a script that did not source the helper that declares it.
#
# No secret leaked: the suite's credentials are in data/credentials,
# sourced here ("$REGISTRY_PASSWORD").  The tools a script runs are
# wrappers that preload helpers/tool-outputs.so, which records every file
# a tool writes (its stdout and stderr too, when they are files); at
# test_done, helpers/secret-sweep looks for every credential in those
# files, and the script fails naming the file, the line and the
# credential (README, "No secret leaked").

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
test_prereq_pkgs=" "
test_prereq_envs=" "
case "${CI-}" in ""|false|0) test_ci= ;; *) test_ci=1 ;; esac

rm -rf "$TRASH" "$TRASH.sweep" "$TRASH.bin"
mkdir -p "$TRASH" || { echo "Bail out! cannot create $TRASH"; exit 1; }
# python3 itself first on PATH (TRASH.bin/python3 execs it by its full
# path), not a version manager's shim in front of it: pyenv's is a bash
# script that costs half a second of CPU a call, more than the Python it
# starts, and the tests call python3 some two thousand times (test_json
# and the helpers).  The same interpreter (helpers/haproxy-lib.sh does
# the same for its wait loops); without a shim, one exec more.
if tl_py_=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) &&
	test -x "$tl_py_" && mkdir -p "$TRASH.bin" &&
	printf '#!/bin/sh\nexec "%s" "$@"\n' "$tl_py_" >"$TRASH.bin/python3" &&
	chmod +x "$TRASH.bin/python3"
then
	PATH=$TRASH.bin:$PATH
fi
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

# The sweep's files live beside the trash, not in it: a test may build,
# scan or commit its whole scratch directory.
#   SWEEP/bin       a wrapper for each tool, first on PATH
#   SWEEP/outputs   what tool-outputs.so recorded
#   SWEEP/issued    "LABEL<TAB>VALUE": tokens the helpers issued, and
#                   test_secret's
#   SWEEP/out.N     test N's output, when a tool wrote to it
SWEEP=
sweep_broken_=
sweep_seen_=0
SWEEP_OUTPUTS=
SWEEP_SECRETS=
export SWEEP_OUTPUTS SWEEP_SECRETS
unset SWEEP_TOOL

# sweep_setup_: the wrappers, and the shim built when its source is newer
# (by a temporary name: scripts run two at a time).
sweep_setup_() {
	ss_so_=$TEST_DIRECTORY/helpers/tool-outputs.so
	SWEEP=$TRASH.sweep
	mkdir -p "$SWEEP/bin" || return 1
	if ! test -f "$ss_so_" || test "$TEST_DIRECTORY/helpers/tool-outputs.c" -nt "$ss_so_"; then
		cc -shared -fPIC -O2 -o "$ss_so_.$$" "$TEST_DIRECTORY/helpers/tool-outputs.c" -ldl \
			>"$SWEEP/cc.err" 2>&1 && mv -f "$ss_so_.$$" "$ss_so_" || {
			rm -f "$ss_so_.$$"
			sweep_broken_="cannot build helpers/tool-outputs.so: $(head -n 3 "$SWEEP/cc.err")"
			return 1
		}
	fi
	for ss_c_ in "$SRC_ROOT"/cmd/ci-*.c; do
		ss_t_=${ss_c_##*/}
		ss_t_=${ss_t_%.c}
		cat >"$SWEEP/bin/$ss_t_" <<-EOF || return 1
		#!/bin/sh
		# $ss_t_ as the tests run it: its outputs recorded (test-lib.sh).
		SWEEP_PRELOAD=\${LD_PRELOAD-}
		LD_PRELOAD="$ss_so_\${LD_PRELOAD:+ \$LD_PRELOAD}"
		ASAN_OPTIONS=\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}verify_asan_link_order=0
		export SWEEP_PRELOAD LD_PRELOAD ASAN_OPTIONS
		exec "$SRC_ROOT/$ss_t_" "\$@"
		EOF
		chmod +x "$SWEEP/bin/$ss_t_" || return 1
	done
	PATH=$SWEEP/bin:$PATH
	SWEEP_OUTPUTS=$SWEEP/outputs
	SWEEP_SECRETS=$SWEEP/issued
	SWEEP_TOOLS=$SRC_ROOT
	export SWEEP_TOOLS
}

# Scripts t/ did not write (t0002 writes some) have no credentials list:
# they neither sweep nor record into the sweep of the script that ran them.
if test -f "$TEST_DIRECTORY/data/credentials"; then
	. "$TEST_DIRECTORY/data/credentials"
	sweep_setup_ || sweep_broken_=${sweep_broken_:-cannot set up $TRASH.sweep}
fi

# test_secret LABEL VALUE: VALUE is a secret too (made at run time: a
# generated key); the sweep looks for it as for data/credentials'.
test_secret() {
	test -n "$SWEEP_SECRETS" || return 0
	printf '%s\t%s\n' "$1" "$2" >>"$SWEEP_SECRETS"
}

# sweep_out_ N: keep test N's output when a tool wrote to it (the body
# left a tool's stdout or stderr alone), for the sweep.
sweep_out_() {
	test -n "$SWEEP" && test -f "$SWEEP/outputs" || return 0
	so_size_=$(wc -c <"$SWEEP/outputs")
	test "$so_size_" -gt "$sweep_seen_" || return 0
	if tail -c +$((sweep_seen_ + 1)) "$SWEEP/outputs" | tr '\0' '\n' | cut -f3 |
		grep -qxF "$TRASH/.out"; then
		cp "$TRASH/.out" "$SWEEP/out.$1"
	fi
	sweep_seen_=$so_size_
}

# sweep_: the last test of every script: no credential in what the tools
# wrote.  A hit names the file, the line and the credential, never its
# value.
sweep_() {
	test -n "$SWEEP$sweep_broken_" || return 0
	sw_name_="no credential in what the tools wrote"
	if test -n "$sweep_broken_"; then
		test_report_ fail "$sw_name_: $sweep_broken_"
		return
	fi
	test_skip_ PYTHON "$sw_name_" && return
	# The last test's output: kept as out.N already, if a tool wrote it.
	rm -f "$TRASH/.out"
	set --
	for sw_f_ in "$SWEEP"/out.*; do
		test -f "$sw_f_" && set -- "$@" --also "$sw_f_=the output of test ${sw_f_##*.}"
	done
	python3 "$TEST_DIRECTORY/helpers/secret-sweep" --root "$TRASH" \
		--credentials "$TEST_DIRECTORY/data/credentials" \
		--samples "$TEST_DIRECTORY/data/secrets/tp" --issued "$SWEEP/issued" \
		--outputs "$SWEEP/outputs" "$@" >"$SWEEP/report" 2>&1
	sw_rc_=$?
	if test $sw_rc_ = 0; then
		test_report_ ok "$sw_name_ ($(tail -n 1 "$SWEEP/report"))"
	else
		test_report_ fail "$sw_name_"
		sed -e 's/^/#    /' "$SWEEP/report"
	fi
}

test_set_prereq() { test_prereqs="$test_prereqs$1 "; }
test_have_prereq() {
	case "$test_prereqs" in *" $1 "*) return 0 ;; esac
	return 1
}

# test_tool_prereq NAME PACKAGE CHECK...: set NAME when the command CHECK
# succeeds; NAME is a program (or module) of Debian's PACKAGE, which
# scripts/install-deps installs, so under CI its absence is a failure.
test_tool_prereq() {
	ttp_name_=$1 ttp_pkg_=$2
	shift 2
	test_prereq_pkgs="$test_prereq_pkgs$ttp_name_=$ttp_pkg_ "
	if "$@" >/dev/null 2>&1; then test_set_prereq "$ttp_name_"; fi
}

# test_env_prereq NAME CHECK...: set NAME when CHECK succeeds; NAME is about
# the machine, not a package, so a test that needs it skips even under CI.
test_env_prereq() {
	tep_name_=$1
	shift
	test_prereq_envs="$test_prereq_envs$tep_name_ "
	if "$@" >/dev/null 2>&1; then test_set_prereq "$tep_name_"; fi
}

# test_prereq_package_ NAME: the package of NAME, or nothing when NAME is
# about the environment.
test_prereq_package_() {
	case "$test_prereq_pkgs" in
	*" $1="*)
		tpp_=${test_prereq_pkgs#*" $1="}
		echo "${tpp_%% *}"
		;;
	esac
}

# test_missing_ PREREQS: what keeps a test from running.  Sets
# missing_unknown_ (a name nobody declared: a bug in the script),
# missing_env_ (an environment prerequisite: always a skip) and
# missing_names_ and missing_pkgs_ (programs, and their packages).
test_missing_() {
	missing_unknown_= missing_env_= missing_names_= missing_pkgs_=
	tm_ifs_=$IFS
	IFS=,
	for tm_p_ in $1; do
		IFS=$tm_ifs_
		case "$tm_p_" in
		!*)
			test_have_prereq "${tm_p_#!}" && missing_env_=${missing_env_:-$tm_p_}
			continue
			;;
		esac
		test_have_prereq "$tm_p_" && continue
		tm_pkg_=$(test_prereq_package_ "$tm_p_")
		case "$tm_pkg_:$test_prereq_envs" in
		:*" $tm_p_ "*)
			missing_env_=${missing_env_:-$tm_p_}
			;;
		:*)
			missing_unknown_=${missing_unknown_:-$tm_p_}
			;;
		*)
			missing_names_="${missing_names_:+$missing_names_, }$tm_p_"
			case " $missing_pkgs_ " in
			*" $tm_pkg_ "*) ;;
			*) missing_pkgs_="${missing_pkgs_:+$missing_pkgs_ }$tm_pkg_" ;;
			esac
			;;
		esac
	done
	IFS=$tm_ifs_
	test -n "$missing_unknown_$missing_env_$missing_names_"
}

# test_require PREREQ...: at the top of a script whose every test needs
# them; skips the whole script, or (under CI, for a program) fails it.
test_require() {
	test_missing_ "$(echo "$*" | tr ' ' ,)" || return 0
	if test -n "$missing_unknown_"; then
		echo "not ok 1 - $TEST_NAME: unknown prerequisite $missing_unknown_"
		echo "1..1"
		exit 1
	fi
	if test -n "$missing_env_"; then
		echo "1..0 # SKIP missing $missing_env_"
		exit 0
	fi
	if test -n "$test_ci"; then
		echo "not ok 1 - $TEST_NAME: missing $missing_names_: install $missing_pkgs_ (scripts/install-deps)"
		echo "1..1"
		exit 1
	fi
	echo "1..0 # SKIP missing $missing_names_: install $missing_pkgs_"
	exit 0
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
		printf "%s\n" "ok $test_count - $2${3:+ # $3}"
	else
		printf "%s\n" "not ok $test_count - $2${3:+ # $3}"
		if test -z "$TEST_VERBOSE" && test -f "$TRASH/.out"; then
			sed -e 's/^/#    /' "$TRASH/.out" | tail -n 40
			# prove shows a script's stderr, not its TAP comments:
			# what a failed test printed reaches a CI log too.
			{ printf "%s\n" "$TEST_NAME: not ok $test_count - $2; its last output:"
			  tail -n 40 "$TRASH/.out" | sed -e 's/^/	/'; } >&2
		fi
		test -n "$3" || test_failed=$((test_failed + 1))
	fi
}

test_skip_() {
	# test_skip_ PREREQS name: returns 0 (having reported) when the test
	# does not run: skipped, or failed under CI for a missing program
	test_missing_ "$1" || return 1
	rm -f "$TRASH/.out"
	if test -n "$missing_unknown_"; then
		test_report_ fail "$2: unknown prerequisite $missing_unknown_"
	elif test -n "$missing_env_"; then
		test_count=$((test_count + 1))
		echo "ok $test_count # skip $2 (missing $missing_env_)"
	elif test -n "$test_ci"; then
		test_report_ fail "$2: missing $missing_names_: install $missing_pkgs_ (scripts/install-deps)"
	else
		test_count=$((test_count + 1))
		echo "ok $test_count # skip $2 (missing $missing_names_: install $missing_pkgs_)"
	fi
	return 0
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
	tes_rc_=$?
	sweep_out_ $((test_count + 1))
	if test $tes_rc_ = 0; then test_report_ ok "$1"; else test_report_ fail "$1"; fi
}

test_expect_failure() {
	if test $# = 3; then test_skip_ "$1" "$2" && return; shift; fi
	test_chain_lint_ "$2" || { test_lint_failed_ "$1" "$2"; return; }
	(cd "$TRASH" && test_run_ "$2")
	tef_rc_=$?
	sweep_out_ $((test_count + 1))
	if test $tef_rc_ = 0; then test_report_ ok "$1" "TODO known breakage vanished"
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

# test_json_lines FILE EXPR: the same over 'd', the list of the JSON
# objects of FILE, one a line (a ledger, a journal).
test_json_lines() {
	python3 - "$1" "$2" <<'PY'
import json, sys
d = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = eval(sys.argv[2], {"d": d})
if not ok:
    print("json lines check failed:", sys.argv[2])
    print("\n".join(json.dumps(x) for x in d)[:4000])
    sys.exit(1)
PY
}

# is_lines FILE N: FILE has N lines.
is_lines() {
	il_n_=$(wc -l <"$1") &&
	test "$il_n_" -eq "$2" || { echo "$1 has $il_n_ lines, not $2"; cat "$1"; return 1; }
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
	sweep_
	echo "1..$test_count"
	if test "$test_failed" = 0; then
		cd "$TEST_DIRECTORY" && rm -rf "$TRASH" "$TRASH.sweep" "$TRASH.bin"
		exit 0
	fi
	exit 1
}

test_tool_prereq PYTHON python3 command -v python3
test_tool_prereq XMLLINT libxml2-utils command -v xmllint
test_tool_prereq GIT git command -v git

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

# test_stage_args TOOL: the arguments TOOL needs to have something to do
# as a stage (the tests that run every tool alike: t0010, t0013), with a
# Hurl file check.hurl in the current directory for ci-smoke.
test_stage_args() {
	case "$1" in
	ci-smoke) echo check.hurl ;;
	ci-canary) echo --socket 127.0.0.1:9 --backend app ;;
	ci-deploy) echo --to staging -- true ;;
	esac
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
