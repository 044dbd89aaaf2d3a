#!/bin/sh
test_description='lib/ keeps its layers (scripts/check-layers) and the source its style (scripts/checksrc)'
. "${0%/*}/test-lib.sh"

# A copy of lib/ to break, in ./tree (check-layers takes the root).
fresh_tree() {
	rm -rf tree && mkdir tree &&
	(cd "$SRC_ROOT" && find lib -name "*.[ch]" -o -name README) >files &&
	(cd "$SRC_ROOT" && tar cf - $(cat "$TRASH/files")) | (cd tree && tar xf -)
}

# add_line FILE TEXT: TEXT after the last #include of FILE; prints its
# line number.
add_line() {
	n=$(grep -n "^#include" "$1" | tail -n 1 | cut -d: -f1) &&
	sed -i "${n}a\\
$2" "$1" &&
	echo $((n + 1))
}

test_expect_success 'scripts/check-layers passes on the tree' '
	"$SRC_ROOT/scripts/check-layers" >out 2>err &&
	! test -s err
'

test_expect_success '... and on a copy of it' '
	fresh_tree &&
	"$SRC_ROOT/scripts/check-layers" "$PWD/tree" 2>err &&
	! test -s err
'

test_expect_success 'an include against the direction fails, naming the file and line' '
	fresh_tree &&
	n=$(add_line tree/lib/net/http.h "#include \"smoke/hurl.h\"") &&
	test_expect_code 1 sh "$SRC_ROOT/scripts/check-layers" "$PWD/tree" 2>err &&
	test_grep "^lib/net/http.h:$n: #include \"smoke/hurl.h\": lib/net may not include lib/smoke" err &&
	test $(wc -l <err) = 1
'

test_expect_success 'an include of a peer on the same line fails too' '
	fresh_tree &&
	n=$(add_line tree/lib/gate/review.c "#include \"image/layer.h\"") &&
	test_expect_code 1 sh "$SRC_ROOT/scripts/check-layers" "$PWD/tree" 2>err &&
	test_grep "^lib/gate/review.c:$n: #include \"image/layer.h\": lib/gate may not include lib/image" err
'

test_expect_success 'an include without a folder fails' '
	fresh_tree &&
	n=$(add_line tree/lib/net/http.h "#include \"log.h\"") &&
	test_expect_code 1 sh "$SRC_ROOT/scripts/check-layers" "$PWD/tree" 2>err &&
	test_grep "^lib/net/http.h:$n: #include \"log.h\": name the domain" err
'

test_expect_success 'an include of a folder that is no domain fails' '
	fresh_tree &&
	n=$(add_line tree/lib/core/buf.c "#include \"misc/x.h\"") &&
	test_expect_code 1 sh "$SRC_ROOT/scripts/check-layers" "$PWD/tree" 2>err &&
	test_grep "^lib/core/buf.c:$n: #include \"misc/x.h\": no domain .misc." err
'

test_expect_success 'a folder with no rank fails' '
	fresh_tree &&
	mkdir tree/lib/misc && echo "int x;" >tree/lib/misc/x.c &&
	test_expect_code 1 sh "$SRC_ROOT/scripts/check-layers" "$PWD/tree" 2>err &&
	test_grep "^check-layers: lib/misc/: a domain with no rank" err
'

test_expect_success 'scripts/checksrc passes on cmd/ and lib/' '
	(cd "$SRC_ROOT" && scripts/checksrc cmd/*.c lib/*/*.c lib/*/*.h) >out 2>err &&
	! test -s err
'

test_expect_success '... and refuses a banned call and a printf in lib/' '
	fresh_tree &&
	n=$(add_line tree/lib/core/buf.c "static void f(char *d) { strcpy(d, \"x\"); printf(\"x\"); }") &&
	(cd tree && test_expect_code 1 "$SRC_ROOT/scripts/checksrc" lib/core/buf.c) >out 2>err &&
	test_grep "^$n:.*strcpy" out &&
	test_grep "lib/core/buf.c: banned call" err &&
	test_grep "lib/core/buf.c: lib/ must not exit or write to stdout" err
'

test_done
