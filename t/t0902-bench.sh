#!/bin/sh
test_description='scripts/bench: rows in, one Markdown table out (no benchmark is run)'
. "${0%/*}/test-lib.sh"

BENCH=$SRC_ROOT/scripts/bench
# bench ARG...: scripts/bench, by a name test_expect_code can take.
bench() { "$BENCH" "$@"; }
unset BENCH_ROWS BENCH_QUICK

# table FILE: the table's lines of scripts/bench --table FILE
table() {
	"$BENCH" --table "$1" >report &&
	grep "^|" report
}

test_expect_success '--row and --peer append records to $BENCH_ROWS' '
	mkdir bin &&
	printf "#!/bin/sh\necho \"fakepeer version 1.2.3-4+b1 (built today)\"\n" >bin/fakepeer &&
	chmod +x bin/fakepeer &&
	BENCH_ROWS=$PWD/rows PATH=$PWD/bin:$PATH &&
	export BENCH_ROWS &&
	"$BENCH" --row "push fresh" 861 skopeo 1216 ms "target <= 0.90" &&
	"$BENCH" --row "build | cold" 2.000 "tar | pigz" 0.800 s &&
	"$BENCH" --row "rollback" 0.2 "shell loop" 39.0 ms &&
	"$BENCH" --row "smoke" 2239 newman "not installed (npm install -g newman)" ms "best of 1" &&
	"$BENCH" --row "overhead a job" "" "" "" ms &&
	"$BENCH" --peer fakepeer &&
	test_expect_code 1 bench --peer nosuchpeer >said &&
	unset BENCH_ROWS &&
	echo "not installed (apt-get install nosuchpeer)" >expect &&
	test_cmp expect said &&
	printf "row\t%s\t%s\t%s\t%s\t%s\t%s\n" >expect \
		"push fresh" 861 skopeo 1216 ms "target <= 0.90" \
		"build | cold" 2.000 "tar | pigz" 0.800 s "" \
		rollback 0.2 "shell loop" 39.0 ms "" \
		smoke 2239 newman "not installed (npm install -g newman)" ms "best of 1" \
		"overhead a job" "" "" "" ms "" &&
	printf "peer\tfakepeer\t1.2.3-4+b1\npeer\tnosuchpeer\tnot installed\n" >>expect &&
	test_cmp expect rows
'

test_expect_success '--table: a ratio where both are numbers, | escaped, text kept' '
	table rows >actual &&
	cat >expect <<-\EOF &&
	| figure | ci-tools | anchor | anchor value | ratio | unit | note |
	| --- | ---: | --- | ---: | ---: | --- | --- |
	| push fresh | 861 | skopeo | 1216 | 0.71 | ms | target <= 0.90 |
	| build \| cold | 2.000 | tar \| pigz | 0.800 | 2.50 | s |  |
	| rollback | 0.2 | shell loop | 39.0 | 0.0051 | ms |  |
	| smoke | 2239 | newman | not installed (npm install -g newman) | - | ms | best of 1 |
	| overhead a job | - | - | - | - | ms |  |
	EOF
	test_cmp expect actual
'

test_expect_success '--table: the machine, the peers sorted, the kind of run' '
	printf "peer\tzz\t9.9\n" >>rows &&
	"$BENCH" --table rows >report &&
	test_grep "^- machine: .*, [0-9][0-9]* cores, [0-9.]* GiB RAM" report &&
	test_grep "^- system: $(uname -s) $(uname -r), " report &&
	test_grep "^- peers: fakepeer 1.2.3-4+b1, nosuchpeer not installed, zz 9.9$" report &&
	test_grep "^- runs: full$" report &&
	BENCH_QUICK=1 "$BENCH" --table rows >quick &&
	test_grep "^- runs: BENCH_QUICK=1, " quick
'

test_expect_success 'a peer not installed says how to install it' '
	mkdir nothing &&
	ln -s "$(command -v dirname)" nothing/dirname &&
	test_expect_code 1 env PATH="$PWD/nothing" "$BENCH" --peer newman >said &&
	test_expect_code 1 env PATH="$PWD/nothing" "$BENCH" --peer umoci >>said &&
	printf "%s\n" "not installed (npm install -g newman)" \
		"not installed (apt-get install umoci)" >expect &&
	test_cmp expect said
'

test_expect_success 'without $BENCH_ROWS, --row and --peer write no file' '
	mkdir alone &&
	(cd alone && "$BENCH" --row fig 1 anchor 2 s && "$BENCH" --peer sh) &&
	test -z "$(find alone -type f)"
'

test_expect_success 'a field with a tab, or a row of too few fields, is refused' '
	test_expect_code 2 env BENCH_ROWS=$PWD/bad "$BENCH" --row "a	b" 1 x 2 s 2>err &&
	test_grep "^bench: row field 1 holds a tab or a newline" err &&
	test_expect_code 2 env BENCH_ROWS=$PWD/bad "$BENCH" --row fig 1 x 2>err &&
	test_grep "^usage: scripts/bench" err &&
	test_expect_code 2 env BENCH_ROWS=$PWD/bad "$BENCH" --row "" 1 x 2 s 2>err &&
	test_grep "^bench: a row needs a figure" err &&
	! test -e bad
'

test_expect_success 'a malformed rows file is refused, naming its line' '
	printf "row\ta\t1\tb\t2\ts\t\nrow\tshort\t1\n" >broken &&
	test_expect_code 2 bench --table broken >out 2>err &&
	test_grep "^bench: broken:2: a row record needs 5 or 6 fields, not 2$" err &&
	! test -s out &&
	test_expect_code 2 bench --table nowhere 2>err &&
	test_grep "^bench: cannot read rows file .nowhere.$" err
'

test_expect_success 'records of another type are skipped' '
	printf "row\ta\t1\tb\t2\ts\t\nmemory\tci-push\t12 MB\n" >other &&
	table other >actual &&
	test $(wc -l <actual) = 3 &&
	test_grep "^| a | 1 | b | 2 | 0.50 | s |  |$" actual
'

test_expect_success '--scale records points, printed in a table of their own' '
	BENCH_ROWS=$PWD/curve "$BENCH" --scale "build, wall" 1 "1000 files" 1200 ms &&
	BENCH_ROWS=$PWD/curve "$BENCH" --scale "build, wall" 4 "4000 files" 4500 ms &&
	BENCH_ROWS=$PWD/curve "$BENCH" --scale "build, wall" 16 "16000 files" 24000 ms &&
	BENCH_ROWS=$PWD/curve "$BENCH" --scale "push | RSS" 1 "1 layer" 12.5 MiB &&
	BENCH_ROWS=$PWD/curve "$BENCH" --scale "push | RSS" 50 "50 layers" 12.5 MiB &&
	printf "scale\t%s\t%s\t%s\t%s\t%s\n" >expect \
		"build, wall" 1 "1000 files" 1200 ms \
		"build, wall" 4 "4000 files" 4500 ms \
		"build, wall" 16 "16000 files" 24000 ms \
		"push | RSS" 1 "1 layer" 12.5 MiB \
		"push | RSS" 50 "50 layers" 12.5 MiB &&
	test_cmp expect curve &&
	"$BENCH" --table curve >report &&
	sed -n "/^## How cost grows/,\$p" report >actual &&
	cat >expect <<-\EOF &&
	## How cost grows

	| series | input | step | ci-tools | unit | x the first | per unit of input, x the first |
	| --- | --- | ---: | ---: | --- | ---: | ---: |
	| build, wall | 1000 files | 1 | 1200 | ms | 1.00 | 1.00 |
	| build, wall | 4000 files | 4 | 4500 | ms | 3.75 | 0.94 |
	| build, wall | 16000 files | 16 | 24000 | ms | 20.00 | 1.25 |
	| push \| RSS | 1 layer | 1 | 12.5 | MiB | 1.00 | 1.00 |
	| push \| RSS | 50 layers | 50 | 12.5 | MiB | 1.00 | 0.02 |
	EOF
	test_cmp expect actual &&
	test_grep "^| no figure |" report &&
	table rows >actual &&
	test_grep ! "How cost grows" actual
'

test_expect_success 'a bad scale record is refused, naming its line' '
	test_expect_code 2 env BENCH_ROWS=$PWD/bad "$BENCH" --scale "" 1 x 2 ms 2>err &&
	test_grep "^bench: a scale record needs a series" err &&
	test_expect_code 2 env BENCH_ROWS=$PWD/bad "$BENCH" --scale s 1 x 2 2>err &&
	test_grep "^usage: scripts/bench" err &&
	! test -e bad &&
	printf "scale\ts\t1\tx\t2\tms\nscale\ts\t0\tx\t2\tms\n" >zero &&
	test_expect_code 2 bench --table zero >out 2>err &&
	test_grep "^bench: zero:2: a scale record needs a series, a step above 0 and a number, not .s., .0., .2.$" err &&
	! test -s out &&
	printf "scale\ts\t1\tx\tfast\tms\n" >word &&
	test_expect_code 2 bench --table word 2>err &&
	test_grep "^bench: word:1: a scale record needs a series, a step above 0 and a number" err &&
	printf "scale\ts\t1\tx\n" >short &&
	test_expect_code 2 bench --table short 2>err &&
	test_grep "^bench: short:1: a scale record needs 5 fields, not 3$" err
'

# A tree of our own: scripts/bench beside two benchmarks of the test's,
# and a Makefile that builds nothing.
test_expect_success 'the runner: its rows and a failed bench in the table, reports on stderr' '
	mkdir -p tree/scripts &&
	cp "$BENCH" tree/scripts/bench &&
	printf "all:\n\t@:\n" >tree/Makefile &&
	cat >tree/scripts/bench-good <<-\EOF &&
	#!/bin/sh
	echo "good: the human report"
	"$(dirname "$0")/bench" --row "good figure" 3 anchor 4 s "note"
	EOF
	cat >tree/scripts/bench-bad <<-\EOF &&
	#!/bin/sh
	"$(dirname "$0")/bench" --row "bad figure" 5 anchor 10 ms
	echo "bad: cannot reach the thing" >&2
	exit 3
	EOF
	chmod +x tree/scripts/bench-good tree/scripts/bench-bad &&
	test_expect_code 1 tree/scripts/bench >out 2>err &&
	grep "^|" out >actual &&
	cat >expect <<-\EOF &&
	| figure | ci-tools | anchor | anchor value | ratio | unit | note |
	| --- | ---: | --- | ---: | ---: | --- | --- |
	| bad figure | 5 | anchor | 10 | 0.50 | ms |  |
	| bench-bad | failed (exit 3) | - | - | - | - | bad: cannot reach the thing |
	| good figure | 3 | anchor | 4 | 0.75 | s | note |
	EOF
	test_cmp expect actual &&
	test_grep ! "human report" out &&
	test_grep "^== bench-good" err &&
	test_grep "^good: the human report" err &&
	test_grep "^- ci-tools: ci-tools, not built" out
'

test_expect_success 'the runner: the benches named, and an unknown one is exit 2' '
	tree/scripts/bench good >out 2>err &&
	test $(grep -c "^| [a-z]" out) = 2 &&
	test_grep "^| good figure " out &&
	test_expect_code 2 tree/scripts/bench good nosuch >out 2>err &&
	test_grep "^bench: no benchmark .nosuch. (scripts/bench-nosuch)" err &&
	test_grep "^| good figure " out
'

test_done
