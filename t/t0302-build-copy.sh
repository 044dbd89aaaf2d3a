#!/bin/sh
test_description='ci-build: COPY and ADD, .dockerignore, the context, multi-stage'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/build-lib.sh"

build() {
	n=$1
	shift
	ci-build --new -o "$n.out" --source-date-epoch 1700000000 "$@" "$n" >"$n.json" 2>"$n.err"
}

test_expect_success BUSYBOX 'setup: a busybox base image' '
	busybox_ctx bb && ci-build --new -q -o base -t busybox:1 bb >/dev/null
'

test_expect_success 'setup: a context with directories, links and odd names' '
	mkdir -p ctx/src/lib ctx/conf ctx/empty "ctx/with space" &&
	echo main >ctx/src/main.js && echo lib >ctx/src/lib/util.js &&
	printf "#!/bin/sh\necho run\n" >ctx/src/run.sh && chmod 755 ctx/src/run.sh &&
	chmod 700 ctx/src/lib &&
	ln -s main.js ctx/src/link.js && ln -s ../conf ctx/src/confdir &&
	echo a >ctx/conf/a.conf && echo b >ctx/conf/b.conf && echo c >ctx/conf/c.txt &&
	echo top >ctx/top.txt && ln ctx/top.txt ctx/hard.txt &&
	echo sp >"ctx/with space/f" &&
	touch -d @1600000000 ctx/conf/a.conf
'

test_expect_success 'directories, files, trailing slashes, wildcards' '
	cat >ctx/Dockerfile <<-\EOF &&
	FROM scratch
	COPY src /app/
	COPY top.txt /renamed.txt
	COPY conf/*.conf /etc/myapp/
	COPY top.txt conf/c.txt /multi/
	COPY src/main.js /app
	COPY ["with space/f", "/spaced/"]
	COPY empty /emptydir
	COPY nothing*.x /none/
	EOF
	build ctx && img_files ctx.out >ctx.files &&
	test_grep "^0 app d 0755 0:0 :" ctx.files &&
	test_grep "^0 app/main.js f 0644 0:0 : 1700000000 5 $" ctx.files &&
	test_grep "^0 app/lib d 0700 0:0" ctx.files &&
	test_grep "^0 app/lib/util.js f 0644" ctx.files &&
	test_grep "^0 app/run.sh f 0755" ctx.files &&
	test_grep "^0 app/link.js l 0777 0:0 : 1700000000 0 main.js" ctx.files &&
	test_grep "^0 app/confdir l 0777 .* ../conf$" ctx.files &&
	test_grep "^1 renamed.txt f 0644" ctx.files &&
	test_grep "^2 etc/myapp/a.conf f 0644 0:0 : 1600000000 " ctx.files &&
	test_grep "^2 etc/myapp/b.conf f" ctx.files &&
	! grep -q "^2 .*c.txt" ctx.files && test_grep "^3 multi/c.txt f" ctx.files &&
	test_grep "^3 multi/top.txt f" ctx.files &&
	test_grep "^4 app/main.js f" ctx.files &&
	test_grep "^5 spaced/f f" ctx.files &&
	test_grep "^6 emptydir d 0755" ctx.files &&
	test_grep "nothing\*.x. matches nothing" ctx.err
'

test_expect_success 'entries are sorted, parents first, and the mtime clamped' '
	python3 - ctx.out <<-\PY
	import json, sys, tarfile
	lay = sys.argv[1]
	idx = json.load(open(lay + "/index.json"))
	m = json.load(open(lay + "/blobs/sha256/" + idx["manifests"][0]["digest"][7:]))
	for l in m["layers"]:
	    names = [e.name.rstrip("/") for e in tarfile.open(lay + "/blobs/sha256/" + l["digest"][7:])]
	    assert names == sorted(names, key=lambda s: s.encode()), names
	    for n in names:
	        parts = n.split("/")
	        for i in range(1, len(parts)):
	            assert "/".join(parts[:i]) in names[:names.index(n)], (n, names)
	    for e in tarfile.open(lay + "/blobs/sha256/" + l["digest"][7:]):
	        assert e.mtime <= 1700000000
	        assert not e.pax_headers, e.pax_headers
	PY
'

test_expect_success 'the top-level symlink of a source is followed' '
	mkdir lnk && echo real >lnk/real.txt && ln -s real.txt lnk/alias.txt &&
	printf "FROM scratch\nCOPY alias.txt /x/\n" >lnk/Dockerfile &&
	build lnk && img_files lnk.out >lnk.files &&
	test_grep "^0 x/alias.txt f 0644 0:0 : [0-9]* 5 $" lnk.files
'

test_expect_success 'hard links within one COPY stay hard links' '
	printf "FROM scratch\nCOPY top.txt hard.txt /h/\n" >ctx/Dockerfile &&
	build ctx && img_files ctx.out >hl.files &&
	test_grep "^0 h/hard.txt f 0644 0:0 : [0-9]* 4 $" hl.files &&
	test_grep "^0 h/top.txt h 0644 0:0 : [0-9]* 0 h/hard.txt" hl.files
'

test_expect_success UMOCI,ROOT 'umoci unpack: files, modes, links and hard links' '
	cat >ctx/Dockerfile <<-\EOF &&
	FROM scratch
	COPY src /app/
	COPY top.txt hard.txt /h/
	EOF
	build ctx -t t:1 && umoci unpack --image ctx.out:1 ctx.bundle >/dev/null &&
	r=ctx.bundle/rootfs &&
	test "$(stat -c %a $r/app/run.sh)" = 755 &&
	test "$(stat -c %a $r/app/lib)" = 700 &&
	test "$(readlink $r/app/link.js)" = main.js &&
	test "$(cat $r/app/link.js)" = main &&
	test "$(stat -c %i $r/h/top.txt)" = "$(stat -c %i $r/h/hard.txt)" &&
	test "$(stat -c %u:%g $r/app/main.js)" = 0:0
'

test_expect_success BUSYBOX,UMOCI,ROOT '--chown by name (primary group), user:group, numbers; --chmod' '
	mkdir own && echo o >own/f && mkdir own/d && echo i >own/d/i &&
	cat >own/Dockerfile <<-\EOF &&
	FROM oci:base:1
	COPY --chown=app own1/ /own1/
	COPY --chown=app:staff f /own2/f
	COPY --chown=42:43 f /own3
	COPY --chown=7 f /own4
	COPY --chmod=0600 d /priv/
	COPY --chown=app:staff --chmod=750 d /both/
	EOF
	mkdir own/own1 && echo 1 >own/own1/x &&
	build own -t o:1 && img_files own.out >own.files &&
	test_grep "^2 own1/x f 0644 1000:1001 app: " own.files &&
	test_grep "^3 own2 d 0755 1000:50 app:staff" own.files &&
	test_grep "^3 own2/f f 0644 1000:50 app:staff" own.files &&
	test_grep "^4 own3 f 0644 42:43 : " own.files &&
	test_grep "^5 own4 f 0644 7:7 " own.files &&
	test_grep "^6 priv/i f 0600 0:0" own.files &&
	test_grep "^7 both/i f 0750 1000:50" own.files &&
	umoci unpack --image own.out:1 own.bundle >/dev/null &&
	test "$(stat -c %u:%g own.bundle/rootfs/own2/f)" = 1000:50 &&
	test "$(stat -c %a own.bundle/rootfs/priv/i)" = 600
'

test_expect_success 'ADD extracts a local tar (any compression) and copies other files' '
	mkdir add && mkdir -p tree/pkg/bin && echo tool >tree/pkg/bin/tool && chmod 751 tree/pkg/bin/tool &&
	ln -s bin/tool tree/pkg/alias &&
	tar --owner=5 --group=6 --mtime=@1650000000 -C tree -czf add/pkg.tar.gz pkg &&
	tar -C tree -cf - pkg | xz >add/pkg.txz &&
	echo "not really" >add/fake.tar.gz &&
	cat >add/Dockerfile <<-\EOF &&
	FROM scratch
	ADD pkg.tar.gz /opt
	ADD pkg.txz /xz/
	ADD fake.tar.gz /fake/
	EOF
	build add && img_files add.out >add.files &&
	test_grep "^0 opt/pkg/bin/tool f 0751 5:6 [^ ]* 1650000000 5 $" add.files &&
	test_grep "^0 opt/pkg/alias l 0777 5:6 .* bin/tool$" add.files &&
	test_grep "^1 xz/pkg/bin/tool f 0751" add.files &&
	test_grep "^2 fake/fake.tar.gz f 0644 0:0" add.files
'

test_expect_success UMOCI,ROOT 'ADD: hard links of an archive come after their target' '
	mkdir -p hl/src/z hl/ctx && echo content >hl/src/z/file &&
	ln hl/src/z/file hl/src/a-link && ln hl/src/z/file hl/src/m-link &&
	tar -C hl/src -cf hl/ctx/t.tar z a-link m-link &&
	printf "FROM scratch\nADD t.tar /x/\n" >hl/ctx/Dockerfile &&
	ci-build --new -q -t hl:1 -o hl.out hl/ctx >/dev/null &&
	img_files hl.out >hl.files &&
	test_grep "^0 x/a-link f 0644 0:0 : [0-9]* 8 $" hl.files &&
	test_grep "^0 x/m-link h .* x/a-link$" hl.files &&
	test_grep "^0 x/z/file h .* x/a-link$" hl.files &&
	umoci unpack --image hl.out:1 hl.bundle >/dev/null &&
	test "$(stat -c %i hl.bundle/rootfs/x/z/file)" = "$(stat -c %i hl.bundle/rootfs/x/a-link)" &&
	test "$(cat hl.bundle/rootfs/x/z/file)" = content
'

test_expect_success '.dockerignore: patterns, exceptions, ** and comments' '
	mkdir -p ign/node_modules/m ign/docs/keep ign/a/b/c ign/.git &&
	echo 1 >ign/node_modules/m/i.js && echo 2 >ign/docs/x.md && echo 3 >ign/docs/keep/k.md &&
	echo 4 >ign/README.md && echo 5 >ign/a/b/c/debug.log && echo 6 >ign/app.js &&
	echo 7 >ign/.git/HEAD && echo 8 >ign/secret.env &&
	cat >ign/.dockerignore <<-\EOF &&
	# dependencies and VCS
	node_modules
	.git
	*.md
	docs
	!docs/keep
	**/*.log
	*.env
	EOF
	printf "FROM scratch\nCOPY . /app/\n" >ign/Dockerfile &&
	build ign && img_files ign.out >ign.files &&
	test_grep "^0 app/app.js f" ign.files &&
	test_grep "^0 app/Dockerfile f" ign.files &&
	test_grep "^0 app/.dockerignore f" ign.files &&
	test_grep "^0 app/docs/keep/k.md f" ign.files &&
	test_grep "^0 app/docs d" ign.files &&
	test_grep "^0 app/a/b/c d" ign.files &&
	test_grep ! "node_modules" ign.files &&
	test_grep ! "\.git" ign.files &&
	test_grep ! "README.md" ign.files &&
	test_grep ! "docs/x.md" ign.files &&
	test_grep ! "debug.log" ign.files &&
	test_grep ! "secret.env" ign.files
'

test_expect_success '... an excluded source named by COPY is an error' '
	printf "FROM scratch\nCOPY secret.env /x\n" >ign/Dockerfile && test_expect_code 2 build ign
'

test_expect_success '... that says so' '
	test_grep "ign/Dockerfile:2: COPY: .secret.env. is excluded by .dockerignore" ign.err
'

test_expect_success 'Dockerfile.dockerignore beside the Dockerfile wins' '
	printf "FROM scratch\nCOPY . /app/\n" >own.Dockerfile &&
	printf "*\n!f\n" >own.Dockerfile.dockerignore &&
	ci-build --new -o own2.out -f own.Dockerfile own >own2.json 2>own2.err &&
	img_files own2.out >own2.files &&
	test_grep "^0 app/f f" own2.files && test_grep ! "own1" own2.files
'

test_expect_success 'a source outside the context: exit 2' '
	mkdir esc && echo secret >outside.txt && printf "FROM scratch\nCOPY ../outside.txt /x\n" >esc/Dockerfile &&
	test_expect_code 2 build esc
'

test_expect_success '... named as such' '
	test_grep "esc/Dockerfile:2: COPY: .../outside.txt. is outside the build context" esc.err && ! test -e esc.out
'

test_expect_success 'a symlink that leads out of the context: exit 2' '
	mkdir esc2 && ln -s ../outside.txt esc2/link && ln -s /etc/passwd esc2/abs &&
	printf "FROM scratch\nCOPY link /x\n" >esc2/Dockerfile && test_expect_code 2 build esc2
'

test_expect_success '... named with where it leads' '
	test_grep "esc2/Dockerfile:2: COPY: .link. leads to .*outside.txt., outside the build context" esc2.err &&
	printf "FROM scratch\nCOPY abs /x\n" >esc2/Dockerfile &&
	{ build esc2; test $? = 2; } &&
	test_grep "COPY: .abs. leads to ./etc/passwd., outside the build context" esc2.err
'

test_expect_success '... but inside a copied directory a symlink is copied as it is' '
	mkdir -p esc3/d && ln -s /etc/passwd esc3/d/abs && printf "FROM scratch\nCOPY d /d/\n" >esc3/Dockerfile &&
	build esc3 && img_files esc3.out >esc3.files &&
	test_grep "^0 d/abs l 0777 .* /etc/passwd$" esc3.files
'

test_expect_success 'a socket in the context is skipped with a warning' '
	mkdir sock && echo x >sock/x &&
	python3 -c "import socket; s = socket.socket(socket.AF_UNIX); s.bind(\"sock/app.sock\")" &&
	printf "FROM scratch\nCOPY . /s/\n" >sock/Dockerfile &&
	build sock && img_files sock.out >sock.files &&
	test_grep "^0 s/x f" sock.files && test_grep ! "app.sock" sock.files &&
	test_grep "skipping .app.sock. of the context: sockets are not copied" sock.err
'

test_expect_success 'the output directory inside the context is never copied' '
	mkdir self && echo x >self/x && printf "FROM scratch\nCOPY . /\n" >self/Dockerfile &&
	(cd self && ci-build --new -q . >/dev/null && ci-build --new -q . >../self.json) &&
	img_files self/ci-out/image >self.files &&
	test_grep "^0 x f" self.files && test_grep ! "ci-out" self.files
'

test_expect_success BUSYBOX 'multi-stage: COPY --from a stage, by name and by index; --from an image' '
	mkdir ms && echo "app v1" >ms/app.txt &&
	cat >ms/Dockerfile <<-\EOF &&
	FROM oci:base:1 AS build
	WORKDIR /src
	COPY app.txt .
	COPY app.txt /src/gen/out.txt

	FROM scratch AS assets
	COPY app.txt /assets/a.txt

	FROM scratch
	COPY --from=build /src/gen /app/
	COPY --from=1 /assets/a.txt /app/asset.txt
	COPY --from=build /bin/busybox /bin/
	COPY --from=oci:base:1 /etc/passwd /etc/passwd
	COPY --from=build /bin/sh /bin/
	EOF
	build ms && img_files ms.out >ms.files &&
	test_grep "^0 app/out.txt f 0644 0:0 : [0-9]* 7 $" ms.files &&
	test_grep "^1 app/asset.txt f" ms.files &&
	test_grep "^2 bin/busybox f 0755" ms.files &&
	test_grep "^3 etc/passwd f" ms.files &&
	test_grep "^4 bin/sh f 0755 0:0 : [0-9]* [0-9][0-9]* $" ms.files &&
	test_json ms.json "len(d[\"build\"][\"image\"][\"layers\"]) == 5" &&
	img_file ms.out "" /bin/busybox | cmp - /bin/busybox
'

test_expect_success BUSYBOX 'COPY into a path through a symlink of the base lands where it points' '
	mkdir -p mu/root/lib mu/root/usr/lib && echo so >mu/root/lib/x.so &&
	mkdir -p mubase/usr/lib && ln -s usr/lib mubase/lib &&
	printf "FROM scratch\nCOPY . /\n" >mubase/Dockerfile &&
	ci-build --new -q -o mubase.out mubase >/dev/null &&
	printf "FROM oci:mubase.out\nCOPY root/ /\n" >mu/Dockerfile &&
	build mu && img_files mu.out >mu.files &&
	test_grep "^1 usr/lib/x.so f" mu.files && test_grep ! "^1 lib/" mu.files
'

test_expect_success 'several sources and no trailing slash: exit 2' '
	printf "FROM scratch\nCOPY top.txt hard.txt /h\n" >ctx/Dockerfile && test_expect_code 2 build ctx
'

test_expect_success '... saying the destination must end in /' '
	test_grep "ctx/Dockerfile:2: COPY with several sources needs a destination directory ending in ./." ctx.err
'

test_expect_success 'ADD of an archive whose member climbs out: exit 2' '
	mkdir evil && python3 -c "
import io, tarfile
t = tarfile.open(\"evil/e.tar\", \"w\")
i = tarfile.TarInfo(\"../../etc/evil\"); i.size = 1
t.addfile(i, io.BytesIO(b\"x\")); t.close()" &&
	printf "FROM scratch\nADD e.tar /x/\n" >evil/Dockerfile && test_expect_code 2 build evil
'

test_expect_success '... named in the message' '
	test_grep "evil/Dockerfile:2: ADD: .*points outside the root" evil.err && ! test -e evil.out
'

test_expect_success 'a base layout with a missing layer: exit 2' '
	cp -r ctx.out broken && rm -f broken/blobs/sha256/$(python3 -c "
import json; i = json.load(open(\"broken/index.json\"))
m = json.load(open(\"broken/blobs/sha256/\" + i[\"manifests\"][0][\"digest\"][7:]))
print(m[\"layers\"][0][\"digest\"][7:])") &&
	mkdir usebroken && printf "FROM oci:broken\n" >usebroken/Dockerfile && test_expect_code 2 build usebroken
'

test_expect_success '... saying which layer is missing' '
	test_grep "usebroken/Dockerfile:1: FROM: .* layer .sha256:[0-9a-f]*. is missing" usebroken.err
'

test_expect_success 'a large file streams through in bounded memory' '
	mkdir big && truncate -s 256M big/sparse && echo tail >>big/sparse &&
	printf "FROM scratch\nCOPY sparse /\n" >big/Dockerfile &&
	python3 - <<-\PY &&
	import resource, subprocess, sys
	rc = subprocess.run(["ci-build", "--new", "-o", "big.out", "big"],
	    stdout=open("big.json", "w"), stderr=open("big.err", "w")).returncode
	rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
	print("exit", rc, "peak RSS", rss_mb, "MB")
	sys.exit(rc != 0 or rss_mb > 200)
	PY
	img_files big.out >big.files &&
	test_grep "^0 sparse f 0644 0:0 : [0-9]* 268435461 $" big.files &&
	test_json big.json "d[\"build\"][\"image\"][\"layers\"][0][\"size\"] < 2000000"
'

test_done
