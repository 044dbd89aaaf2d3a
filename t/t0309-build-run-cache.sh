#!/bin/sh
test_description='ci-build RUN: the step cache, cache and bind mounts (of stages and of the context), users added by real tools, escapes'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/build-lib.sh"

# A busybox base with more applets; Dockerfile lines follow.
ctx() {
	busybox_ctx "$1" &&
	for a in mkdir rm grep date ln touch; do ln -s busybox "$1/bin/$a" || return 1; done &&
	d=$1 && shift &&
	printf '%s\n' "$@" >>"$d/Dockerfile"
}

# build NAME CTX [ARGS...]: a build into layout NAME, tag NAME:1, the one cache.
build() {
	n=$1 c=$2 && shift 2 &&
	ci-build --new --cache-dir "$TRASH/cache" -o "$n.oci" -t "$n:1" "$@" "$c" >"$n.json" 2>"$n.err"
}

test_expect_success BUSYBOX,RUNC,ROOT 'a RUN layer holds what the step changed, nothing else' '
	ctx only "RUN echo hi > /new && rm /etc/group" &&
	build only only &&
	layer_paths only.oci 1 -1 >only.paths &&
	printf "%s\n" etc etc/.wh.group new >only.want &&
	test_cmp only.want only.paths
'

test_expect_success BUSYBOX,RUNC,ROOT 'an unchanged RUN is not run again: its layer comes from the cache' '
	ctx c1 "RUN echo ran-once >&2 && date +%s%N > /stamp" "RUN echo second >&2 && echo 2 > /two" &&
	build c1a c1 &&
	test_grep "RUN | ran-once" c1a.err &&
	build c1b c1 &&
	test_grep "#7 RUN: cached" c1b.err &&
	test_grep "#7 RUN: cached" c1b.err &&
	test_grep ! "ran-once" c1b.err &&
	test "$(img_digest c1a.json)" = "$(img_digest c1b.json)" &&
	test_json c1b.json "d[\"build\"][\"layers_cached\"] == 4 and d[\"build\"][\"layers_built\"] == 0" &&
	test "$(img_file c1a.oci 1 stamp)" = "$(img_file c1b.oci 1 stamp)"
'

test_expect_success BUSYBOX,RUNC,ROOT 'the key: the command, ENV, a build arg, an earlier COPY and USER each run it again' '
	ctx k "ARG FLAVOUR=plain" "COPY extra /extra" "RUN echo step-ran >&2 && echo \$FLAVOUR > /flavour" &&
	echo one >k/extra &&
	build k1 k &&
	test_grep "step-ran" k1.err &&
	build k2 k --build-arg FLAVOUR=spicy &&
	test_grep "step-ran" k2.err &&
	test "$(img_file k2.oci 1 flavour)" = spicy &&
	build k3 k --build-arg FLAVOUR=spicy &&
	test_grep ! "step-ran" k3.err &&
	echo two >k/extra &&
	build k4 k --build-arg FLAVOUR=spicy &&
	test_grep "step-ran" k4.err &&
	sed -i "s/^RUN echo step-ran/ENV X=1\nRUN echo step-ran/" k/Dockerfile &&
	build k5 k --build-arg FLAVOUR=spicy &&
	test_grep "step-ran" k5.err &&
	sed -i "s/^ENV X=1/ENV X=2/" k/Dockerfile &&
	build k6 k --build-arg FLAVOUR=spicy &&
	test_grep "step-ran" k6.err &&
	sed -i "s/^ENV X=2/USER 1000/" k/Dockerfile &&
	sed -i "s|> /flavour|> /tmp/flavour|; s|^ARG FLAVOUR=plain|ARG FLAVOUR=plain\nRUN mkdir -m 1777 /tmp|" k/Dockerfile &&
	build k7 k --build-arg FLAVOUR=spicy &&
	test_grep "step-ran" k7.err &&
	build k8 k --build-arg FLAVOUR=spicy &&
	test_grep ! "step-ran" k8.err
'

test_expect_success BUSYBOX,RUNC,ROOT 'a build stage the image does not build on is cached too' '
	ctx ms &&
	cat >>ms/Dockerfile <<-\EOF &&
	RUN echo compiling >&2 && echo artifact > /out
	FROM scratch
	COPY --from=0 /out /out
	EOF
	build ms1 ms &&
	test_grep "compiling" ms1.err &&
	build ms2 ms &&
	test_grep ! "compiling" ms2.err &&
	test "$(img_file ms2.oci 1 out)" = artifact &&
	test "$(img_digest ms1.json)" = "$(img_digest ms2.json)"
'

test_expect_success BUSYBOX,RUNC,ROOT,UMOCI 'a cache mount is kept between builds, under the cache, never in the image' '
	ctx cm "RUN --mount=type=cache,target=/var/cache/app echo x >> /var/cache/app/runs && wc -l < /var/cache/app/runs > /count" &&
	build cm1 cm &&
	sed -i "s/^RUN --mount/ENV N=2\nRUN --mount/" cm/Dockerfile &&
	build cm2 cm &&
	test "$(img_file cm1.oci 1 count)" = 1 &&
	test "$(img_file cm2.oci 1 count)" = 2 &&
	umoci unpack --image cm2.oci:1 cmun >/dev/null &&
	! test -e cmun/rootfs/var &&
	test "$(cat cache/mounts/*/runs | wc -l)" = 2
'

test_expect_success BUSYBOX,RUNC,ROOT 'a cache mount with sharing=locked, an id, a mode and an owner' '
	ctx cl "RUN --mount=type=cache,id=shared,target=/c,sharing=locked,mode=0700,uid=1000,gid=1001 stat -c %a:%u:%g /c > /perm" &&
	ln -s busybox cl/bin/stat &&
	build cl1 cl &&
	test "$(img_file cl1.oci 1 perm)" = 700:1000:1001
'

test_expect_success BUSYBOX,RUNC,ROOT,UMOCI 'a bind from a stage: a directory or a file, read-only; rw writes are thrown away' '
	ctx bm &&
	sed -i "s/^FROM scratch/FROM scratch AS base/" bm/Dockerfile &&
	cat >>bm/Dockerfile <<-\EOF &&
	RUN mkdir -p /out/sub && echo a > /out/sub/a && echo f > /out/file
	FROM base AS second
	RUN --mount=type=bind,from=0,source=/out,target=/in cat /in/sub/a /in/file > /got && ! touch /in/new 2>/dev/null
	RUN --mount=type=bind,from=0,source=out/file,target=/one cat /one > /gotfile
	RUN --mount=type=bind,from=0,source=/out,target=/w,rw echo scribble > /w/file && cat /w/file > /wrote
	RUN --mount=type=bind,from=0,source=/out,target=/w cat /w/file > /after
	EOF
	build bm1 bm &&
	umoci unpack --image bm1.oci:1 bmun >/dev/null &&
	printf "a\nf\n" >bm.want &&
	test_cmp bm.want bmun/rootfs/got &&
	test "$(cat bmun/rootfs/gotfile)" = f &&
	test "$(cat bmun/rootfs/wrote)" = scribble &&
	test "$(cat bmun/rootfs/after)" = f &&
	test "$(cat bmun/rootfs/out/file)" = f &&
	! test -e bmun/rootfs/in && ! test -e bmun/rootfs/one && ! test -e bmun/rootfs/w
'

test_expect_success BUSYBOX,RUNC,ROOT 'several --mount flags on one RUN, as BuildKit files have them: two caches and a bind, with a heredoc' '
	ctx mm &&
	sed -i "s/^FROM scratch/FROM scratch AS base/" mm/Dockerfile &&
	cat >>mm/Dockerfile <<-\EOF &&
	RUN mkdir -p /src && echo source > /src/main.c
	FROM base
	RUN --mount=type=cache,target=/root/.cache/a \
	    --mount=type=cache,target=/root/.cache/b,sharing=locked \
	    --mount=type=bind,from=base,source=/src,target=/work <<EOT
	echo a >> /root/.cache/a/log
	echo b >> /root/.cache/b/log
	cat /work/main.c > /built
	ls /root/.cache > /caches
	EOT
	EOF
	build mm1 mm &&
	test "$(img_file mm1.oci 1 built)" = source &&
	printf "a\nb\n" >mm.want && img_file mm1.oci 1 caches >mm.caches && test_cmp mm.want mm.caches &&
	layer_paths mm1.oci 1 -1 >mm.paths && printf "%s\n" built caches >mm.pwant &&
	test_cmp mm.pwant mm.paths &&
	test "$(cat cache/mounts/*/log | sort | tr "\n" " ")" = "a b "
'

test_expect_success BUSYBOX,RUNC,ROOT 'what a bind names must be there; a bad mount is said with its line' '
	ctx bx &&
	sed -i "s/^FROM scratch/FROM scratch AS base/" bx/Dockerfile &&
	cat >>bx/Dockerfile <<-\EOF &&
	FROM base
	RUN --mount=type=bind,from=0,source=/nope,target=/x true
	EOF
	test_expect_code 2 build bx1 bx &&
	test_grep "Dockerfile:[0-9]*: RUN --mount: source=./nope. is not in .0." bx1.err &&
	ctx by "RUN --mount=type=bind,from=later,target=/x true" "FROM scratch AS later" &&
	test_expect_code 2 build by1 by --target 0 &&
	test_grep "RUN --mount --from=.later.: that stage is not defined before this one" by1.err &&
	! test -e bx1.oci && ! test -e by1.oci
'

test_expect_success BUSYBOX,RUNC,ROOT 'a symlink to / in the image keeps mounts and WORKDIR inside' '
	ctx esc "RUN ln -s / /escape" \
		"RUN --mount=type=cache,target=/escape/ci-tools-escape-$$ echo in > /escape/ci-tools-escape-$$/probe" \
		"WORKDIR /escape/ci-tools-wd-$$" "RUN pwd > /where" &&
	build esc1 esc &&
	! test -e /ci-tools-escape-$$ && ! test -e /ci-tools-wd-$$ &&
	test "$(cat cache/mounts/*/probe)" = in
'

test_expect_success BUSYBOX,RUNC,ROOT,UMOCI 'users added by the real groupadd and useradd (Debian passwd) in a RUN' '
	ctx users &&
	host_tools users /usr/sbin/groupadd /usr/sbin/useradd &&
	mkdir -p users/etc/default &&
	cp /etc/login.defs users/etc/login.defs &&
	printf "root:*::\n" >users/etc/gshadow &&
	printf "root:*:19000:0:99999:7:::\n" >users/etc/shadow &&
	cat >>users/Dockerfile <<-\EOF &&
	COPY usr /usr/
	COPY lib /lib/
	COPY lib64 /lib64/
	COPY etc /etc/
	RUN /usr/sbin/groupadd --system web && /usr/sbin/useradd --system --gid web --no-create-home web
	USER web
	RUN id -un > /tmp/me 2>/dev/null || id -un
	EOF
	sed -i "s|^RUN id -un.*|RUN id -un \\&\\& id -un > /dev/null|" users/Dockerfile &&
	build users1 users &&
	umoci unpack --image users1.oci:1 usun >/dev/null &&
	grep "^web:x:[0-9]*:[0-9]*:" usun/rootfs/etc/passwd &&
	grep "^web:x:" usun/rootfs/etc/group &&
	grep "^web:" usun/rootfs/etc/shadow &&
	test_grep "RUN | web" users1.err
'

# Binds of the build context (type=bind without from=).

test_expect_success BUSYBOX,RUNC,ROOT,UMOCI 'a bind of a file and of a directory of the context, read-only, not in the layer' '
	ctx b &&
	mkdir -p b/src/sub && echo "module x" >b/go.mod && echo main >b/src/main.c &&
	echo deep >b/src/sub/d && echo secret >b/src/skip.log && echo "src/*.log" >b/.dockerignore &&
	cat >>b/Dockerfile <<-\EOF &&
	RUN --mount=type=bind,source=go.mod,target=/w/go.mod --mount=type=bind,source=src,target=/s cat /w/go.mod /s/main.c /s/sub/d > /got && ls /s > /list && ! touch /s/new 2>/dev/null && ! touch /w/go.mod 2>/dev/null
	RUN --mount=type=bind,target=/ctx ls /ctx/src > /whole
	EOF
	build b1 b &&
	umoci unpack --image b1.oci:1 bun >/dev/null &&
	printf "module x\nmain\ndeep\n" >b.want &&
	test_cmp b.want bun/rootfs/got &&
	printf "main.c\nsub\n" >b.list &&
	test_cmp b.list bun/rootfs/list &&
	test_cmp b.list bun/rootfs/whole &&
	layer_paths b1.oci 1 -2 >b.paths && printf "%s\n" got list >b.pwant &&
	test_cmp b.pwant b.paths &&
	! test -e bun/rootfs/w/go.mod && ! test -e bun/rootfs/s/main.c && ! test -e bun/rootfs/ctx/go.mod
'

test_expect_success BUSYBOX,RUNC,ROOT 'the bound files are in the key: a change runs the step again, an unchanged context takes the cache' '
	ctx ck "RUN --mount=type=bind,source=go.mod,target=/go.mod --mount=type=bind,target=/src echo step-ran >&2 && cat /go.mod > /mod" &&
	echo v1 >ck/go.mod && mkdir ck/pkg && echo a >ck/pkg/a &&
	build ck1 ck &&
	test_grep "step-ran" ck1.err &&
	build ck2 ck &&
	test_grep ! "step-ran" ck2.err &&
	test "$(img_digest ck1.json)" = "$(img_digest ck2.json)" &&
	echo v2 >ck/go.mod &&
	build ck3 ck &&
	test_grep "step-ran" ck3.err &&
	test "$(img_file ck3.oci 1 mod)" = v2 &&
	echo b >ck/pkg/a &&
	build ck4 ck &&
	test_grep "step-ran" ck4.err &&
	chmod 0600 ck/pkg/a &&
	build ck5 ck &&
	test_grep "step-ran" ck5.err &&
	mv ck/pkg/a ck/pkg/b &&
	build ck6 ck &&
	test_grep "step-ran" ck6.err &&
	build ck7 ck &&
	test_grep ! "step-ran" ck7.err
'

# build_nobind NAME CTX: build, with every bind's copy out of reach
# (mkdir of a path holding "/bind-" fails with EIO).
build_nobind() {
	FAIL_MKDIR_MATCH=/bind- LD_PRELOAD=$TRASH/failsys.so build "$@"
}

test_expect_success BUSYBOX,RUNC,ROOT 'a cached step writes no bind out: the context is not copied on a hit' '
	cc -shared -fPIC -o failsys.so "$TEST_DIRECTORY/helpers/failsys.c" -ldl &&
	ctx nb "RUN --mount=type=bind,target=/src cat /src/go.mod > /mod" &&
	echo v1 >nb/go.mod &&
	build nb1 nb &&
	build_nobind nb2 nb &&
	test_grep "RUN: cached" nb2.err &&
	test "$(img_digest nb1.json)" = "$(img_digest nb2.json)" &&
	echo v2 >nb/go.mod &&
	test_expect_code 74 build_nobind nb3 nb &&
	test_grep "bind-" nb3.err
'

test_expect_success BUSYBOX,RUNC,ROOT,UMOCI 'rw: the step writes to the bind, the context and the layer do not see it' '
	ctx rw &&
	echo orig >rw/data &&
	cat >>rw/Dockerfile <<-\EOF &&
	RUN --mount=type=bind,source=data,target=/d,rw echo scribble > /d && cat /d > /wrote
	RUN --mount=type=bind,target=/c,rw echo new > /c/made && cat /c/data > /after
	EOF
	build rw1 rw &&
	umoci unpack --image rw1.oci:1 rwun >/dev/null &&
	test "$(cat rwun/rootfs/wrote)" = scribble &&
	test "$(cat rwun/rootfs/after)" = orig &&
	test "$(cat rw/data)" = orig &&
	! test -e rw/made && ! test -e rwun/rootfs/d && ! test -e rwun/rootfs/c/made
'

test_expect_success BUSYBOX,RUNC,ROOT 'a source missing from the context, excluded by .dockerignore, or with .. is refused with its line' '
	ctx m "RUN --mount=type=bind,source=nope,target=/x true" &&
	test_expect_code 2 build m1 m &&
	test_grep "Dockerfile:[0-9]*: RUN: .nope. not found in the build context" m1.err &&
	ctx i "RUN --mount=type=bind,source=hidden,target=/x true" &&
	echo h >i/hidden && echo hidden >i/.dockerignore &&
	test_expect_code 2 build i1 i &&
	test_grep "Dockerfile:[0-9]*: RUN: .hidden. is excluded by .dockerignore" i1.err &&
	ctx u "RUN --mount=type=bind,source=../x,target=/x true" &&
	test_expect_code 2 build u1 u &&
	test_grep "Dockerfile:[0-9]*: RUN: --mount: source=.../x. has a .\.\.." u1.err &&
	! test -e m1.oci && ! test -e i1.oci && ! test -e u1.oci
'

test_expect_success 'the dry run plans a bind of the context' '
	mkdir dr &&
	printf "FROM scratch\nRUN --mount=type=bind,source=go.mod,target=/src/go.mod --mount=type=bind,target=/src,rw go build\n" >dr/Dockerfile &&
	(cd dr && ci-build -n .) >dr.plan 2>dr.err &&
	test_grep "^Dockerfile:2: RUN .*; bind mount /src/go.mod; from the build context ./go.mod. (read-only); bind mount /src; from the build context ./. (writes thrown away)" dr.plan
'

test_done
