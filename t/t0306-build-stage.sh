#!/bin/sh
test_description='ci-build on the stage skeleton: options, stdin, --version-tag'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/build-lib.sh"

test_expect_success 'setup: a context in a git repository' '
	mkdir app && cd app &&
	git init -q && echo hello >hello.txt &&
	printf "FROM scratch\nCOPY hello.txt /\n" >Dockerfile &&
	git add . && git commit -q -m init &&
	git rev-parse --short=7 HEAD >../short
'

test_expect_success 'an unknown option: exit 2' '
	test_expect_code 2 ci-build --bogus >bogus.out 2>bogus.err
'

test_expect_success '... named as the user wrote it, after the program name' '
	! test -s bogus.out &&
	test_grep "^ci-build: error: unknown option .--bogus.$" bogus.err &&
	test_grep "try .ci-build --help." bogus.err
'

test_expect_success '--version-tag VERSION tags vVERSION-<commit> and records it' '
	(cd app && ci-build --new -q -t reg.example/app --version-tag 3.1.0 -o ../vt . >../vt.json) &&
	test_json vt.json "d[\"build\"][\"image\"][\"tags\"] == [\"reg.example/app:v3.1.0-$(cat short)\"]" &&
	test_json vt.json "d[\"run\"][\"source\"][\"version\"] == \"3.1.0\""
'

test_expect_success '--version-tag wins over the version of the document' '
	echo "{\"ci\":1,\"run\":{\"id\":\"r\",\"source\":{\"version\":\"9.9\"}},\"status\":\"running\",\"stages\":[]}" >in.json &&
	(cd app && ci-build -q -t reg.example/app --version-tag 3.2.0 -o ../vt2 . <../in.json >../vt2.json) &&
	test_json vt2.json "d[\"build\"][\"image\"][\"tags\"] == [\"reg.example/app:v3.2.0-$(cat short)\"]" &&
	test_json vt2.json "d[\"run\"][\"source\"][\"version\"] == \"9.9\""
'

test_expect_success 'the old --version VERSION is refused, not taken for --version' '
	(cd app && test_expect_code 2 ci-build --new -t reg.example/app --version 3.1.0 -o ../old . >../old.out 2>../old.err)
'

test_expect_success '... saying what to use; nothing on stdout, nothing built' '
	! test -s old.out && ! test -e old &&
	test_grep "ci-build: error: --version takes no value: the release version is --version-tag VERSION" old.err
'

test_expect_success '--version=VALUE is refused too' '
	test_expect_code 2 ci-build --version=3.1.0 >/dev/null 2>old2.err
'

test_expect_success '--version alone prints the program version and nothing else' '
	ci-build --version >v.out &&
	test_grep "^ci-build [0-9][0-9.]*$" v.out && test "$(wc -l <v.out)" -eq 1
'

test_expect_success 'stdin from /dev/null starts a new document, as a terminal does' '
	(cd app && ci-build -q -o ../devnull . </dev/null >../devnull.json) &&
	test_json devnull.json "d[\"build\"][\"status\"] == \"passed\" and d[\"stages\"][-1][\"name\"] == \"build\""
'

test_expect_success 'an empty file on stdin: exit 65' '
	: >empty.json &&
	(cd app && test_expect_code 65 ci-build -q -o ../never . <../empty.json >../empty.out 2>../empty.err)
'

test_expect_success '... nothing on stdout, nothing built' '
	! test -s empty.out && ! test -e never &&
	test_grep "no pipeline document on stdin" empty.err
'

test_expect_success 'a bad option value: exit 2, no document' '
	(cd app && test_expect_code 2 ci-build --new -j 0 . >../j.out 2>../j.err)
'

test_expect_success '... with the option named' '
	! test -s j.out && test_grep "ci-build: error: -j .0.: expected a number of threads" j.err
'

test_expect_success '--chunk-size (an upload option) is refused' '
	(cd app && test_expect_code 2 ci-build --new --chunk-size 8M -o ../chunk . >../chunk.out 2>../chunk.err)
'

test_expect_success '... saying why; nothing built; --help does not offer it' '
	! test -s chunk.out && ! test -e chunk &&
	test_grep "ci-build: error: --chunk-size: ci-build only pulls" chunk.err &&
	ci-build --help >help.out && test_grep "registry options" help.out &&
	test_grep "retry-time" help.out && ! grep -e "--chunk-size" help.out
'

test_done
