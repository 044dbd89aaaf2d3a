#!/bin/sh
test_description='reports and archives: a device or FIFO is written in place with its errors, a symlink is followed and kept'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/build-lib.sh"

test_expect_success 'setup: a context' '
	mkdir -p ctx &&
	echo hello >ctx/hello &&
	printf "FROM scratch\nCOPY hello /hello\n" >ctx/Dockerfile
'

test_expect_success '--junit /dev/full: exit 74 naming it; the device is still a device' '
	test_expect_code 74 ci-gate --new -g a=true --junit /dev/full >d.json 2>err &&
	test_grep "cannot write ./dev/full.: No space left on device" err &&
	test -c /dev/full
'

test_expect_success '--sarif and --codequality to /dev/full: exit 74' '
	test_expect_code 74 ci-gate --new -g a=true --sarif /dev/full >d.json 2>err &&
	test_grep "/dev/full" err &&
	test_expect_code 74 ci-gate --new -g a=true --codequality /dev/full >d.json 2>err &&
	test_grep "/dev/full" err &&
	test -c /dev/full
'

test_expect_success 'a FIFO gets the report in place and stays a FIFO' '
	mkfifo fifo &&
	{ cat fifo >fifo.out & } &&
	ci-gate --new -g a=true --junit fifo >d.json 2>err &&
	wait &&
	test -p fifo &&
	test_grep "<testsuites name=.ci-gate." fifo.out
'

test_expect_success 'a symlink is followed: its target gets the report, the link stays' '
	mkdir reports &&
	echo old >reports/junit.xml &&
	ln -s reports/junit.xml link.xml &&
	ci-gate --new -g a=true --junit link.xml >d.json 2>err &&
	test -h link.xml &&
	test_grep "<testsuites" reports/junit.xml &&
	ln -s reports/missing.xml dangling.xml &&
	ci-gate --new -g a=true --junit dangling.xml >d.json 2>err &&
	test -h dangling.xml &&
	test_grep "<testsuites" reports/missing.xml
'

test_expect_success 'a directory is refused by name' '
	mkdir adir &&
	test_expect_code 74 ci-gate --new -g a=true --junit adir >d.json 2>err &&
	test_grep "cannot write .adir.: it is a directory" err
'

test_expect_success '--oci-archive and --docker-archive to /dev/full: exit 74, no image' '
	test_expect_code 74 ci-build --new -o img1 --oci-archive /dev/full ctx >b.json 2>err &&
	test_grep "cannot write ./dev/full." err &&
	! test -e img1 &&
	test_expect_code 74 ci-build --new -o img2 -t t:1 --docker-archive /dev/full ctx >b.json 2>err &&
	test_grep "/dev/full" err &&
	test -c /dev/full
'

test_expect_success '--oci-archive to a FIFO: the reader gets a whole archive' '
	mkfifo arch &&
	{ tar -tf arch >arch.list & } &&
	ci-build --new -o img3 --oci-archive arch ctx >b.json 2>err &&
	wait &&
	test -p arch &&
	test_grep "^index.json$" arch.list &&
	test_grep "^oci-layout$" arch.list
'

test_expect_success 'a regular file is still replaced whole, never left half-written' '
	echo old >plain.xml &&
	ci-gate --new -g a=true --junit plain.xml >d.json 2>err &&
	test_grep "<testsuites" plain.xml &&
	! ls plain.xml.tmp.* 2>/dev/null
'

test_expect_success 'a reference in URL form with credentials: refused, the password never shown' '
	ci-build --new -o img5 ctx >b.json 2>err &&
	test_expect_code 2 ci-push --new --layout img5 "http://alice:$REFERENCE_URL_PASSWORD@reg.example/repo:tag" >p.json 2>err &&
	test_grep "invalid reference .http://\*\*\*@reg.example/repo:tag." err &&
	test_expect_code 2 ci-build --new -o img6 -t "https://bob:$REFERENCE_URL_PASSWORD@reg.example/r" ctx >b2.json 2>err2 &&
	test_grep "https://\*\*\*@reg.example/r" err2 &&
	! grep -r -e "$REFERENCE_URL_PASSWORD" err err2 p.json b2.json
'

test_done
