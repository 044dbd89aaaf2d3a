#!/bin/sh
test_description='ci-build RUN: steps run in runc on a busybox base; their changes become layers'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/build-lib.sh"

# ctx DIR DOCKERFILE-LINES...: a busybox base context with more lines.
ctx() {
	busybox_ctx "$1" &&
	for a in mkdir rm addgroup adduser grep; do ln -s busybox "$1/bin/$a" || return 1; done &&
	echo "welcome" >"$1/etc/motd" &&
	printf 'root:x:0:\n' >"$1/etc/group" && printf 'root:x:0:0:root:/root:/bin/sh\n' >"$1/etc/passwd" &&
	d=$1 && shift &&
	printf '%s\n' "$@" >>"$d/Dockerfile"
}

test_expect_success BUSYBOX,RUNC,ROOT,UMOCI 'RUN mkdir, echo, rm, a user added to /etc/passwd: each a layer (busybox-static has no adduser)' '
	ctx app "RUN mkdir -p /srv /tmp && chmod 1777 /tmp && echo hi > /srv/x" "RUN rm /etc/motd" \
		"RUN echo app:x:1000: >> /etc/group && echo app:x:1000:1000::/srv:/bin/sh >> /etc/passwd" \
		"USER app" "WORKDIR /srv" \
		"RUN id -u > /tmp/uid; pwd > /tmp/pwd" &&
	ci-build --new -o img -t app:1 app >doc.json 2>err &&
	test_json doc.json "d[\"build\"][\"status\"] == \"passed\"" &&
	test_json doc.json "len(d[\"build\"][\"image\"][\"layers\"]) == 6"
'

test_expect_success BUSYBOX,RUNC,ROOT,UMOCI '... umoci unpacks what the steps did, whiteout included' '
	umoci unpack --image img:1 unpacked >/dev/null &&
	test "$(cat unpacked/rootfs/srv/x)" = hi &&
	! test -e unpacked/rootfs/etc/motd &&
	grep "^app:" unpacked/rootfs/etc/passwd &&
	grep "^app:" unpacked/rootfs/etc/group &&
	test "$(cat unpacked/rootfs/tmp/pwd)" = /srv &&
	test "$(cat unpacked/rootfs/tmp/uid)" = 1000 &&
	! test -e unpacked/rootfs/proc/self
'

test_expect_success BUSYBOX,RUNC,ROOT 'a failing RUN stops the build: exit 1, its status and last lines, no output' '
	ctx bad "RUN echo about to fail; echo oops >&2; exit 7" &&
	test_expect_code 1 ci-build --new -o badimg bad >bad.json 2>bad.err &&
	test_grep "Dockerfile:[0-9]*: RUN exited with status 7; its last lines:" bad.err &&
	test_grep "oops" bad.err &&
	test_json bad.json "d[\"build\"][\"status\"] in (\"failed\", \"error\")" &&
	! test -e badimg
'

test_expect_success BUSYBOX,RUNC,ROOT 'the context is not visible to RUN unless copied; the network is loopback only' '
	ctx iso "RUN test ! -e /Dockerfile && test ! -e /x && test \"\$(grep -c : /proc/net/dev)\" = 1 && grep -q \"lo:\" /proc/net/dev" &&
	ci-build --new -o isoimg iso >iso.json 2>iso.err &&
	test_json iso.json "d[\"build\"][\"status\"] == \"passed\""
'

test_expect_success BUSYBOX,RUNC,ROOT,UMOCI 'multi-stage: RUN in a build stage, COPY --from it into scratch' '
	busybox_ctx ms &&
	cat >ms/Dockerfile <<-\EOF &&
	FROM scratch AS build
	COPY bin /bin/
	ENV PATH=/bin
	RUN echo built-in-stage > /artifact && echo more > /other
	FROM scratch
	COPY --from=build /artifact /artifact
	EOF
	ci-build --new -o msimg -t ms:1 ms >ms.json 2>ms.err &&
	umoci unpack --image msimg:1 msun >/dev/null &&
	test "$(cat msun/rootfs/artifact)" = built-in-stage &&
	! test -e msun/rootfs/other && ! test -e msun/rootfs/bin &&
	test_json ms.json "len(d[\"build\"][\"image\"][\"layers\"]) == 1"
'

test_expect_success BUSYBOX,ROOT '--runtime names the OCI runtime; a missing one is said, and nothing is written' '
	test_expect_code 69 ci-build --new --no-cache --runtime /nonexistent/runc -o rtimg iso >rt.json 2>rt.err &&
	test_grep "/nonexistent/runc" rt.err &&
	! test -e rtimg
'

test_expect_success BUSYBOX,RUNC,ROOT,UMOCI 'the image runs with runc' '
	ctx runme "RUN echo from-run > /greeting" "CMD [\"/bin/cat\", \"/greeting\"]" &&
	ci-build --new -o runimg -t run:1 runme >run.json 2>run.err &&
	umoci unpack --image runimg:1 bundle >/dev/null &&
	python3 - bundle/config.json <<-\PY &&
	import json, sys
	c = json.load(open(sys.argv[1]))
	c["process"]["terminal"] = False
	json.dump(c, open(sys.argv[1], "w"))
	PY
	id=ci-build-run-$$ &&
	test_when_finished "runc delete -f $id >/dev/null 2>&1 || :" &&
	(cd bundle && timeout 60 runc run $id </dev/null >../run.out 2>../run.err2) &&
	test "$(cat run.out)" = from-run
'

test_done
