#!/bin/sh
test_description='every fuzz seed and regression replays through the normal build

Each fuzz target t/fuzz/NAME.c is also built with the normal compiler
beside t/fuzz/driver.c as t/fuzz/NAME.run (make check builds them, with
the sanitizers under SANITIZE=1); here each replays its seeds
(t/fuzz/corpus/NAME) and the inputs that once crashed it
(t/fuzz/regressions/NAME), and must get through every one.  No clang
needed: make fuzz is where the fuzzing happens (t/README).'
. "${0%/*}/test-lib.sh"

FUZZ=$SRC_ROOT/t/fuzz
# replay TARGET ARG...: the replay build of a fuzz target.
replay() { t_=$1; shift; "$FUZZ/$t_.run" "$@"; }
targets=$(cd "$FUZZ" && ls ./*.c | sed -e 's|^\./||' -e '/^driver\.c$/d' -e 's/\.c$//')

test_expect_success 'every target has its replay binary and seeds' '
	test -n "$targets" &&
	: >missing &&
	for n in $targets
	do
		test -x "$FUZZ/$n.run" || echo "$n: no t/fuzz/$n.run" >>missing
		test -n "$(ls "$FUZZ/corpus/$n" 2>/dev/null)" || echo "$n: no seeds" >>missing
	done &&
	test_cmp /dev/null missing
'

test_expect_success 'every regression belongs to a target' '
	: >strays &&
	for d in "$FUZZ"/regressions/*
	do
		test -d "$d" || continue
		test -f "$FUZZ/${d##*/}.c" || echo "$d" >>strays
	done &&
	test_cmp /dev/null strays
'

for n in $targets
do
	test_expect_success "$n: every seed and regression replays" '
		set -- "$FUZZ/corpus/$n" &&
		if test -d "$FUZZ/regressions/$n"
		then
			set -- "$@" "$FUZZ/regressions/$n"
		fi &&
		want=$(find "$@" -type f ! -name ".*" | wc -l) &&
		"$FUZZ/$n.run" "$@" >out 2>err &&
		echo "$n.run: $want inputs" >expect &&
		test_cmp expect out
	'
done

test_expect_success 'the driver fails on an input it cannot read' '
	set -- $targets &&
	test_expect_code 2 replay "$1" no-such-file >out 2>err &&
	test_grep "cannot open .no-such-file." err
'

test_done
