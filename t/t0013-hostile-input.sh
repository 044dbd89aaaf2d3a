#!/bin/sh
test_description='hostile input to every tool: a clear error, the documented exit code, bounded memory'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/data/smoke/lib.sh"
. "$TEST_DIRECTORY/helpers/build-lib.sh"

test_tool_prereq GNU_TIME time test -x /usr/bin/time
test_tool_prereq UMOCI umoci umoci --version

TOOLS="ci-gate ci-build ci-push ci-smoke ci-canary ci-rollback ci-deploy"

# Peak memory, in KiB, that a tool may use on input it refuses: the
# document is refused before it is held.  Sanitizers (make SANITIZE=1)
# keep shadow memory and a quarantine of freed blocks (256 MiB by default)
# of their own: there the bound only catches a runaway.
limit=65536
grep -q fsanitize "$SRC_ROOT/.flags" 2>/dev/null && limit=1048576

# refused TOOL FILE PATTERN: TOOL refuses the document in FILE with exit
# 65, a message matching PATTERN, nothing on stdout, in bounded memory.
refused() {
	/usr/bin/time -f %M -o rss "$1" $(test_stage_args "$1") <"$2" >out 2>err
	echo $? >rc &&
	echo 65 >expect && test_cmp expect rc &&
	! test -s out &&
	grep "^$1: error: .*$3" err &&
	test "$(tail -n 1 rss)" -lt $limit
}

test_expect_success 'setup: hostile documents, made once' '
	printf "GET http://127.0.0.1:9/\nHTTP 200\n" >check.hurl &&
	python3 - <<-\EOF
	import random
	open("nested.json", "w").write("[" * 200000)
	r = random.Random(15)
	open("random.bin", "wb").write(bytes(r.randrange(256) for _ in range(100000)))
	head = "{\"ci\":1,\"run\":{\"id\":\"x\"},\"status\":\"running\","
	open("section.json", "w").write(head + "\"stages\":[],\"gate\":5}")
	open("env.json", "w").write(head + "\"deploy\":{\"staging\":[]}}")
	open("utf8.json", "wb").write(head.encode() + b"\"x-note\":\"\xff\xfe\"}")
	# 100 MiB: a sparse file (its size tells), and the same through a pipe
	with open("huge.json", "w") as f:
	    f.write(head + "\"x-pad\":\"")
	    f.truncate(100 << 20)
	EOF
'

for t in $TOOLS; do
	test_expect_success GNU_TIME "$t: 200,000 nested brackets: exit 65, where it stops" '
		refused $t nested.json "<stdin>:1:257: nesting deeper than 256"
	'
	test_expect_success GNU_TIME "$t: random bytes: exit 65, with the place" '
		refused $t random.bin "invalid pipeline document: <stdin>:[0-9]*:[0-9]*: "
	'
	test_expect_success GNU_TIME "$t: a tool section that is not an object: exit 65" '
		refused $t section.json "gate: expected an object"
	'
	test_expect_success GNU_TIME "$t: an environment of deploy that is not an object: exit 65" '
		refused $t env.json "deploy.staging: expected an object"
	'
	test_expect_success GNU_TIME "$t: invalid UTF-8 in a string: exit 65" '
		refused $t utf8.json "<stdin>:1:[0-9]*: invalid UTF-8 in string"
	'
	test_expect_success GNU_TIME "$t: a document of 100 MiB in a file: exit 65, not read" '
		refused $t huge.json "larger than the 33554432-byte limit"
	'
	test_expect_success GNU_TIME "$t: a document of 100 MiB through a pipe: exit 65, read no further" '
		cat huge.json | refused $t /dev/stdin "larger than the 33554432-byte limit"
	'
done

start_app

test_expect_success 'a Hurl file of 1 MiB lines is read whole' '
	python3 - "$BASE" <<-\EOF &&
	import sys
	base, mib = sys.argv[1], 1 << 20
	with open("long.hurl", "w") as f:
	    f.write("GET %s/echo?q=%s\nHTTP 200\n[Asserts]\n" % (base, "a" * mib))
	    f.write("jsonpath \"$.%s\" not exists\n" % ("b" * mib))
	    f.write("header \"X-%s\" not exists\n" % ("d" * mib))
	    f.write("body contains \"%s\"\n" % ("c" * (mib + 10)))
	with open("big-string.hurl", "w") as f:
	    f.write("GET %s/echo\nHTTP 200\n[Asserts]\n" % base)
	    f.write("body contains \"%s\"\n" % ("c" * (mib + 10)))
	EOF
	ci-smoke --new --dry-run long.hurl >plan 2>err &&
	grep "long.hurl: 1 entry" plan &&
	grep " 3 asserts" plan
'

test_expect_success 'a string over 1 MiB is compared whole, not as an empty string' '
	test_expect_code 1 ci-smoke --new big-string.hurl >doc.json 2>err &&
	python3 -c "
import json, sys
e = json.load(open(\"doc.json\"))[\"smoke\"][\"files\"][0][\"entries\"][0]
assert e[\"status\"] == \"failed\", e[\"status\"]
bad = [a for a in e[\"asserts\"] if a[\"status\"] == \"failed\"]
assert len(bad) == 1 and bad[0][\"assert\"].startswith(\"body contains\"), bad
"
'

test_expect_success 'a Hurl file of 10,000 entries is planned' '
	python3 -c "
import sys
with open(\"many.hurl\", \"w\") as f:
    for i in range(10000):
        f.write(\"GET http://127.0.0.1:9/%d\nHTTP 200\n\n\" % i)
" &&
	ci-smoke --new --dry-run many.hurl >plan 2>err &&
	grep "many.hurl: 10000 entries" plan
'

test_expect_success GNU_TIME 'a gate spec of 10,000 jobs, and a chain 10,000 deep, are planned in bounded memory' '
	python3 -c "
import json
json.dump({\"jobs\": {\"j%d\" % i: {\"run\": \"true\"} for i in range(10000)}}, open(\"wide.json\", \"w\"))
json.dump({\"jobs\": {\"j%d\" % i: {\"run\": \"true\", \"needs\": [\"j%d\" % (i - 1)] if i else []}
                      for i in range(10000)}}, open(\"deep.json\", \"w\"))
" &&
	/usr/bin/time -f %M -o rss ci-gate --new -f wide.json --dry-run >plan 2>err &&
	grep "^plan: 10000 jobs in 1 step" plan &&
	test "$(tail -n 1 rss)" -lt $limit &&
	/usr/bin/time -f %M -o rss ci-gate --new -f deep.json --dry-run >plan 2>err &&
	grep "^plan: 10000 jobs in 10000 steps" plan &&
	test "$(tail -n 1 rss)" -lt $limit
'

test_expect_success 'a rollout spec of 10,000 steps is refused by its limit' '
	python3 -c "
import json
json.dump({\"steps\": [{\"weight\": 1} for i in range(10000)]}, open(\"steps.json\", \"w\"))
" &&
	test_expect_code 2 ci-canary --new -f steps.json --app shop --slot >out 2>err &&
	grep "steps.json:1:[0-9]*: steps: expected 1 to 100 steps" err
'

test_expect_success GNU_TIME 'a Dockerfile of 10,000 instructions builds in bounded memory' '
	mkdir ctx &&
	python3 -c "
with open(\"ctx/Dockerfile\", \"w\") as f:
    f.write(\"FROM scratch\n\")
    for i in range(10000):
        f.write(\"ENV V%d=%d\n\" % (i, i))
    f.write(\"COPY . /app/\n\")
" &&
	/usr/bin/time -f %M -o rss ci-build --new -o lay --cache-dir cache ctx >doc.json 2>err &&
	test "$(tail -n 1 rss)" -lt $limit &&
	img_config lay >config &&
	grep "\"V9999=9999\"" config
'

test_expect_success 'file names with a newline and invalid UTF-8 go into the layer as they are' '
	rm -rf ctx && mkdir ctx &&
	printf "FROM scratch\nCOPY . /app/\n" >ctx/Dockerfile &&
	echo one >"ctx/$(printf "new\nline")" &&
	echo two >"ctx/$(printf "bad\377name")" &&
	ci-build --new -o lay2 --cache-dir cache -t names:1 ctx >doc.json 2>err &&
	python3 - lay2 >names <<-\EOF &&
	import json, sys, tarfile
	lay = sys.argv[1]
	blob = lambda d: lay + "/blobs/sha256/" + d[7:]
	m = json.load(open(blob(json.load(open(lay + "/index.json"))["manifests"][0]["digest"])))
	with tarfile.open(blob(m["layers"][0]["digest"]), encoding="utf-8",
	                  errors="surrogateescape") as t:
	    for e in t.getmembers():
	        print(ascii(e.name), t.extractfile(e).read() if e.isfile() and e.size < 8 else "")
	EOF
	cat >expect <<-\EOF &&
	'"'"'app'"'"' 
	'"'"'app/Dockerfile'"'"' 
	'"'"'app/bad\udcffname'"'"' b'"'"'two\n'"'"'
	'"'"'app/new\nline'"'"' b'"'"'one\n'"'"'
	EOF
	test_cmp expect names
'

test_expect_success UMOCI,ROOT 'umoci unpacks them with the same names' '
	umoci unpack --image lay2:1 bundle >/dev/null 2>&1 &&
	test "$(cat "bundle/rootfs/app/$(printf "new\nline")")" = one &&
	test "$(cat "bundle/rootfs/app/$(printf "bad\377name")")" = two
'

stop_apps
test_done
