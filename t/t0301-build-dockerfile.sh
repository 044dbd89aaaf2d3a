#!/bin/sh
test_description='ci-build: each Dockerfile instruction, variables, and what is refused'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/build-lib.sh"

# build NAME [ci-build options]: build context NAME (its Dockerfile) into
# NAME.out, document in NAME.json, stderr in NAME.err.
build() {
	n=$1
	shift
	ci-build --new -o "$n.out" "$@" "$n" >"$n.json" 2>"$n.err"
}

test_expect_success BUSYBOX 'setup: a busybox base image in an OCI layout' '
	busybox_ctx bb && ci-build --new -q -o base -t busybox:1 bb >/dev/null &&
	test -f base/index.json
'

test_expect_success 'variables: ARG before FROM, stage ARGs, --build-arg, ENV, defaults' '
	mkdir vars && echo hi >vars/f.txt &&
	cat >vars/Dockerfile <<-\EOF &&
	ARG BASE=scratch
	ARG DIR=/srv
	FROM ${BASE} AS only
	ARG DIR
	ARG NAME=world GREETING
	ARG VERSION=dev
	ENV APP_DIR=$DIR/app HELLO="hello ${NAME}" \
	    G=${GREETING:-hi} PLUS=${NAME:+set} EMPTY=${UNSET:+x} LEGACY_ESC=\$NAME
	ENV OLD old style value
	LABEL version=$VERSION "quoted key"="a b" single='\''$NAME'\''
	COPY f.txt ${APP_DIR}/
	ENV NAME=from-env
	LABEL after=$NAME
	EOF
	build vars --build-arg VERSION=1.2.3 --build-arg UNUSED=1 &&
	img_config vars.out >vars.cfg &&
	test_json vars.cfg "\"APP_DIR=/srv/app\" in d[\"config\"][\"Env\"]" &&
	test_json vars.cfg "\"HELLO=hello world\" in d[\"config\"][\"Env\"]" &&
	test_json vars.cfg "\"G=hi\" in d[\"config\"][\"Env\"] and \"PLUS=set\" in d[\"config\"][\"Env\"]" &&
	test_json vars.cfg "\"EMPTY=\" in d[\"config\"][\"Env\"] and \"LEGACY_ESC=\$NAME\" in d[\"config\"][\"Env\"]" &&
	test_json vars.cfg "\"OLD=old style value\" in d[\"config\"][\"Env\"]" &&
	test_json vars.cfg "d[\"config\"][\"Labels\"][\"version\"] == \"1.2.3\"" &&
	test_json vars.cfg "d[\"config\"][\"Labels\"][\"quoted key\"] == \"a b\"" &&
	test_json vars.cfg "d[\"config\"][\"Labels\"][\"single\"] == \"\$NAME\"" &&
	test_json vars.cfg "d[\"config\"][\"Labels\"][\"after\"] == \"from-env\"" &&
	img_files vars.out >vars.files &&
	test_grep "^0 srv/app/f.txt f 0644 0:0" vars.files &&
	test_grep "build-arg UNUSED was not used" vars.err &&
	test_json vars.json "any(\"UNUSED\" in w for w in d[\"build\"][\"warnings\"])"
'

test_expect_success 'the runtime config: USER, EXPOSE, VOLUME, STOPSIGNAL, HEALTHCHECK, MAINTAINER' '
	mkdir cfg &&
	cat >cfg/Dockerfile <<-\EOF &&
	FROM scratch
	MAINTAINER Jane Doe <jane@example.com>
	USER 1000:1000
	EXPOSE 3000 53/udp 8000-8002/TCP
	VOLUME /data
	STOPSIGNAL SIGQUIT
	HEALTHCHECK --interval=30s --timeout=3s --start-period=1m --retries=5 \
	  CMD wget -qO- http://localhost:3000/health || exit 1
	ENTRYPOINT ["/app"]
	CMD ["--serve"]
	EOF
	build cfg && img_config cfg.out >cfg.cfg &&
	test_json cfg.cfg "d[\"author\"] == \"Jane Doe <jane@example.com>\"" &&
	test_json cfg.cfg "d[\"config\"][\"User\"] == \"1000:1000\"" &&
	test_json cfg.cfg "sorted(d[\"config\"][\"ExposedPorts\"]) == [\"3000/tcp\", \"53/udp\", \"8000/tcp\", \"8001/tcp\", \"8002/tcp\"]" &&
	test_json cfg.cfg "sorted(d[\"config\"][\"Volumes\"]) == [\"/data\"]" &&
	test_json cfg.cfg "d[\"config\"][\"StopSignal\"] == \"SIGQUIT\"" &&
	test_json cfg.cfg "d[\"config\"][\"Healthcheck\"] == {\"Test\": [\"CMD-SHELL\", \"wget -qO- http://localhost:3000/health || exit 1\"], \"Interval\": 30000000000, \"Timeout\": 3000000000, \"StartPeriod\": 60000000000, \"Retries\": 5}" &&
	test_json cfg.cfg "d[\"config\"][\"Entrypoint\"] == [\"/app\"] and d[\"config\"][\"Cmd\"] == [\"--serve\"]" &&
	test_json cfg.cfg "len(d[\"history\"]) == 8 and all(h[\"empty_layer\"] for h in d[\"history\"])" &&
	test_json cfg.cfg "d[\"rootfs\"] == {\"type\": \"layers\", \"diff_ids\": []}"
'

test_expect_success 'VOLUME in exec form takes every path' '
	mkdir vol && printf "FROM scratch\nVOLUME [\"/cache\", \"/logs\"]\n" >vol/Dockerfile &&
	build vol && img_config vol.out >vol.cfg &&
	test_json vol.cfg "sorted(d[\"config\"][\"Volumes\"]) == [\"/cache\", \"/logs\"]"
'

test_expect_success 'shell forms use SHELL; a new ENTRYPOINT drops an inherited CMD' '
	mkdir sh1 sh2 &&
	printf "FROM scratch\nCMD [\"inherited\"]\nHEALTHCHECK NONE\n" >sh1/Dockerfile &&
	build sh1 &&
	cat >sh2/Dockerfile <<-\EOF &&
	FROM oci:sh1.out
	SHELL ["/bin/bash", "-eu", "-c"]
	ENTRYPOINT exec /app --port $PORT
	EOF
	build sh2 && img_config sh2.out >sh2.cfg &&
	test_json sh2.cfg "d[\"config\"][\"Entrypoint\"] == [\"/bin/bash\", \"-eu\", \"-c\", \"exec /app --port \$PORT\"]" &&
	test_json sh2.cfg "\"Cmd\" not in d[\"config\"]" &&
	test_json sh2.cfg "d[\"config\"][\"Shell\"] == [\"/bin/bash\", \"-eu\", \"-c\"]" &&
	test_json sh2.cfg "d[\"config\"][\"Healthcheck\"] == {\"Test\": [\"NONE\"]}" &&
	test_json sh2.cfg "[h[\"created_by\"] for h in d[\"history\"]][-2:] == [\"SHELL [\\\"/bin/bash\\\", \\\"-eu\\\", \\\"-c\\\"]\", \"ENTRYPOINT exec /app --port \$PORT\"]"
'

test_expect_success BUSYBOX 'WORKDIR makes its directory in a layer, owned by USER' '
	mkdir wd && echo x >wd/x &&
	cat >wd/Dockerfile <<-\EOF &&
	FROM oci:base:1
	USER app
	WORKDIR /home/app/work
	WORKDIR sub
	WORKDIR /etc
	COPY x .
	EOF
	build wd && img_config wd.out >wd.cfg && img_files wd.out >wd.files &&
	test_json wd.cfg "d[\"config\"][\"WorkingDir\"] == \"/etc\"" &&
	test_grep "^2 home/app d 0755 1000:1001 " wd.files &&
	test_grep "^2 home/app/work d 0755 1000:1001 " wd.files &&
	test_grep "^3 home/app/work/sub d 0755 1000:1001 " wd.files &&
	test_grep "^4 etc/x f 0644 0:0 " wd.files &&
	test_json wd.cfg "[h.get(\"empty_layer\", False) for h in d[\"history\"]][-5:] == [True, False, False, True, False]" &&
	test_json wd.cfg "len(d[\"rootfs\"][\"diff_ids\"]) == 5"
'

test_expect_success BUSYBOX 'ONBUILD is recorded, then run by the image built on it' '
	mkdir ob1 ob2 && echo trig >ob2/trigger.txt &&
	printf "FROM oci:base:1\nONBUILD COPY trigger.txt /from-trigger/\nONBUILD LABEL via=onbuild\n" >ob1/Dockerfile &&
	build ob1 && img_config ob1.out >ob1.cfg &&
	test_json ob1.cfg "d[\"config\"][\"OnBuild\"] == [\"COPY trigger.txt /from-trigger/\", \"LABEL via=onbuild\"]" &&
	printf "FROM oci:ob1.out\nLABEL mine=1\n" >ob2/Dockerfile &&
	build ob2 && img_config ob2.out >ob2.cfg && img_files ob2.out >ob2.files &&
	test_grep "from-trigger/trigger.txt f" ob2.files &&
	test_json ob2.cfg "d[\"config\"][\"Labels\"][\"via\"] == \"onbuild\"" &&
	test_json ob2.cfg "\"OnBuild\" not in d[\"config\"]"
'

test_expect_success BUSYBOX 'base history is kept; each instruction adds one entry' '
	img_config base 1 >base.cfg && img_config wd.out >wd.cfg &&
	python3 - base.cfg wd.cfg <<-\PY
	import json, sys
	b, w = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
	assert w["history"][:len(b["history"])] == b["history"]
	assert len(w["history"]) == len(b["history"]) + 5
	assert w["rootfs"]["diff_ids"][:2] == b["rootfs"]["diff_ids"]
	layers = [h for h in w["history"] if not h.get("empty_layer")]
	assert len(layers) == len(w["rootfs"]["diff_ids"])
	PY
'

test_expect_success 'the escape directive: backtick continuations, backslashes kept' '
	mkdir esc && echo x >esc/x &&
	cat >esc/Dockerfile <<-\EOF &&
	# escape=`
	FROM scratch
	ENV WINPATH=C:\app\bin `
	    OTHER=1
	COPY x `
	     /dest/
	EOF
	build esc && img_config esc.out >esc.cfg && img_files esc.out >esc.files &&
	test_json esc.cfg "\"WINPATH=C:\\\\app\\\\bin\" in d[\"config\"][\"Env\"] and \"OTHER=1\" in d[\"config\"][\"Env\"]" &&
	test_grep "^0 dest/x f" esc.files
'

test_expect_success '--platform and the automatic platform ARGs' '
	mkdir plat && echo x >plat/x &&
	cat >plat/Dockerfile <<-\EOF &&
	FROM scratch
	ARG TARGETARCH
	ARG TARGETPLATFORM
	LABEL arch=$TARGETARCH platform=$TARGETPLATFORM
	EOF
	build plat --platform linux/arm64/v8 && img_config plat.out >plat.cfg &&
	test_json plat.cfg "d[\"architecture\"] == \"arm64\" and d[\"variant\"] == \"v8\" and d[\"os\"] == \"linux\"" &&
	test_json plat.cfg "d[\"config\"][\"Labels\"][\"arch\"] == \"arm64\" and d[\"config\"][\"Labels\"][\"platform\"] == \"linux/arm64/v8\"" &&
	test_json plat.json "d[\"build\"][\"image\"][\"platform\"] == \"linux/arm64/v8\""
'

# refuse NAME DOCKERFILE-TEXT MESSAGE: exit 2, the message on stderr (with
# FILE:LINE), the document says error, and no output is left.
refuse() {
	mkdir -p "r-$1" && printf '%s\n' "$2" >"r-$1/Dockerfile" && echo x >"r-$1/x" &&
	printf '%s\n' "$3" >"r-$1.want"
	test_expect_success "refused with exit 2: $1" "
		test -s r-$1/Dockerfile &&
		{ ci-build --new -o r-$1.out r-$1 >r-$1.json 2>r-$1.err; echo \$? >r-$1.rc; } &&
		test \$(cat r-$1.rc) = 2 &&
		test_grep \"\$(cat r-$1.want)\" r-$1.err &&
		test_json r-$1.json \"d[\\\"build\\\"][\\\"status\\\"] == \\\"error\\\"\" &&
		! test -e r-$1.out && no_tmp_dirs .
	"
}

refuse runsecurity "$(printf 'FROM scratch\nCOPY x /x\nRUN --security=insecure npm ci\n')" \
	'r-runsecurity/Dockerfile:3: RUN --security is not supported'
refuse heredoc "$(printf 'FROM scratch\nCOPY x /x\nCOPY <<EOF /x\nhi\nEO\n')" \
	"r-heredoc/Dockerfile:3: unterminated heredoc: no line 'EOF' ends the heredoc <<EOF opens"
refuse addgit "$(printf 'FROM scratch\n\nADD https://example.com/a.git /a\n')" \
	'r-addgit/Dockerfile:3: ADD of a git repository is not supported'
refuse addgitvar "$(printf 'FROM scratch\nARG U=git@example.com:a/b\nADD $U /a\n')" \
	"r-addgitvar/Dockerfile:3: ADD of a git repository is not supported ('git@example.com:a/b')"
refuse checksum "$(printf 'FROM scratch\nADD --checksum=sha256:12ab https://example.com/a /a\n')" \
	"r-checksum/Dockerfile:2: ADD --checksum='sha256:12ab': expected sha256: and 64 hex digits"
refuse checksumvar "$(printf 'FROM scratch\nARG S=deadbeef\nADD --checksum=$S https://example.com/a /a\n')" \
	"r-checksumvar/Dockerfile:3: ADD --checksum='deadbeef': expected sha256: and 64 hex digits"
refuse heredocflag "$(printf 'FROM scratch\nRUN --mount=type=cache,target=/c --bogus <<EOF\nEOF\n')" \
	"r-heredocflag/Dockerfile:2: unknown flag --bogus for RUN"
refuse mount "$(printf 'FROM scratch\nRUN --mount=type=secret,id=npmrc make\n')" \
	'r-mount/Dockerfile:2: RUN: --mount=type=secret is not supported by ci-build'
refuse mountctx "$(printf 'FROM scratch\nRUN --mount=source=../x,target=/src make\n')" \
	"r-mountctx/Dockerfile:2: RUN: --mount: source='../x' has a '..'"
refuse mountdotdot "$(printf 'FROM scratch\nRUN --mount=type=cache,target=/a/../../etc make\n')" \
	"r-mountdotdot/Dockerfile:2: RUN: --mount: target='/a/../../etc' has a '..'"
refuse mountkey "$(printf 'FROM scratch\nRUN --mount=type=cache,target=/c,size=1g make\n')" \
	"r-mountkey/Dockerfile:2: RUN: --mount: unknown option 'size'"
refuse unknown "$(printf 'FROM scratch\nBOGUS x\n')" "r-unknown/Dockerfile:2: unknown instruction 'BOGUS'"
refuse beforefrom "$(printf 'ENV A=1\nFROM scratch\n')" \
	'r-beforefrom/Dockerfile:1: ENV before the first FROM: only ARG may come before FROM'
refuse nofrom "$(printf '# nothing\nARG A\n')" 'no FROM'
refuse stagename "$(printf 'FROM scratch AS 1bad\n')" "bad stage name '1bad'"
refuse twostages "$(printf 'FROM scratch AS a\nFROM scratch AS A\n')" "stage name 'a' is used twice"
refuse port "$(printf 'FROM scratch\nEXPOSE 70000\n')" "r-port/Dockerfile:2: EXPOSE: '70000' is not a port"
refuse chmod "$(printf 'FROM scratch\nCOPY --chmod=u+x x /x\n')" "expected an octal mode"
refuse chown "$(printf 'FROM scratch\nCOPY --chown=nobody x /x\n')" \
	"r-chown/Dockerfile:2: COPY: --chown 'nobody': no user 'nobody' in the image's /etc/passwd"
refuse signal "$(printf 'FROM scratch\nSTOPSIGNAL now\n')" "STOPSIGNAL: 'now' is not a signal"
refuse badvar "$(printf 'FROM scratch\nENV A=${B\n')" "r-badvar/Dockerfile:2: ENV: syntax error: missing '}'"
refuse required "$(printf 'FROM scratch\nARG TOKEN\nENV T=${TOKEN:?required}\n')" \
	'r-required/Dockerfile:3: ENV: TOKEN: required'
refuse emptyfrom "$(printf 'ARG IMG\nFROM $IMG\n')" "the image name is empty"
refuse nolayout "$(printf 'FROM oci:does-not-exist:1\n')" "r-nolayout/Dockerfile:1: FROM"
refuse fromlater "$(printf 'FROM scratch AS a\nCOPY --from=a x /x\n')" \
	"r-fromlater/Dockerfile:2: COPY --from='a': that stage is not defined before this one"
refuse fromindex "$(printf 'FROM scratch\nCOPY --from=3 x /x\n')" \
	"COPY --from='3': there is no stage with that index before this one"
refuse badflag "$(printf 'FROM scratch\nCOPY --chmod 0644 x /x\n')" '--chmod needs a value'

test_expect_success 'RUN in a stage the target does not need is fine' '
	mkdir tgt && echo x >tgt/x &&
	cat >tgt/Dockerfile <<-\EOF &&
	FROM scratch AS unused
	RUN make
	FROM scratch AS wanted
	COPY x /x
	FROM wanted AS last
	RUN make test
	EOF
	build tgt --target wanted &&
	test_json tgt.json "d[\"build\"][\"target\"] == \"wanted\"" &&
	img_files tgt.out >tgt.files && test_grep "^0 x f" tgt.files
'

test_expect_success '--target that does not exist: exit 2' '
	test_expect_code 2 build tgt --target nope
'

test_expect_success '... listing the stages there are' '
	test_grep "no stage .nope. to build (stages: unused, wanted, last)" tgt.err
'

test_done
