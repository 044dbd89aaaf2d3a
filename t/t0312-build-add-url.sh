#!/bin/sh
test_description='ci-build ADD https://... through libcurl from a real nginx: --checksum pinned, a mismatch, unpinned (warned and in the document), git refused'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/haproxy-lib.sh"
. "$TEST_DIRECTORY/helpers/build-lib.sh"
. "$TEST_DIRECTORY/helpers/nginx-lib.sh"

test_tool_prereq NGINX nginx-light command -v nginx

# nginx serving www/ on a free port of 127.0.0.1 (port in ngx/port), with
# /moved redirecting to /files/tool.sh; its own prefix, config and pid file.
NGX=$TRASH/ngx
nginx_start() {
	mkdir -p "$NGX" && ns_port_=$(test_free_port) && echo "$ns_port_" >"$NGX/port" &&
	{ nginx_conf_head "$NGX" && cat <<-EOF; } >"$NGX/nginx.conf" &&
	server {
	listen 127.0.0.1:$ns_port_;
	root $TRASH/www;
	location = /moved { return 302 /files/tool.sh; }
	}
	}
	EOF
	nginx -p "$NGX/" -c "$NGX/nginx.conf" -t 2>"$NGX/check" || { cat "$NGX/check"; return 1; }
	nginx -p "$NGX/" -c "$NGX/nginx.conf" </dev/null >>"$NGX/log" 2>&1 &
	hap_track_ $! nginx &&
	wait_for_port "$ns_port_"
}

# add NAME DOCKERFILE-LINES...: a context whose Dockerfile is FROM scratch
# and the lines, $URL standing for the server's address.
add() {
	mkdir -p "$1" && a_=$1 && shift &&
	{ echo "FROM scratch" && printf '%s\n' "$@"; } | sed "s|\$URL|$URL|g" >"$a_/Dockerfile"
}

test_expect_success NGINX 'setup: nginx serves files on 127.0.0.1' '
	mkdir -p www/files &&
	printf "<p>home</p>\n" >www/index.html &&
	truncate -s 257M www/files/huge.bin &&
	printf "#!/bin/sh\necho tool\n" >www/files/tool.sh &&
	printf "%s\n" "name: app" >www/files/config.yaml &&
	nginx_start &&
	URL=http://127.0.0.1:$(cat "$NGX/port") && echo "$URL" >url &&
	SUM=sha256:$(sha256sum www/files/tool.sh | cut -d" " -f1) && echo "$SUM" >sum
'

URL=$(cat url 2>/dev/null)
SUM=$(cat sum 2>/dev/null)

test_expect_success NGINX 'ADD --checksum=sha256:... URL: fetched, checked, 0600 at the epoch, no warning' '
	add pinned "ADD --checksum=$SUM \$URL/files/tool.sh /usr/bin/" \
		"ADD --chmod=0755 --checksum=$SUM \$URL/files/tool.sh /bin/tool" &&
	ci-build --new -o pinned.out -t p:1 --source-date-epoch 1700000000 pinned >pinned.json 2>pinned.err &&
	img_file pinned.out 1 usr/bin/tool.sh >got && test_cmp www/files/tool.sh got &&
	img_files pinned.out 1 >pinned.files &&
	test_grep "^0 usr/bin/tool.sh f 0600 0:0 : 1700000000 20 $" pinned.files &&
	test_grep "^1 bin/tool f 0755 0:0 : 1700000000 20 $" pinned.files &&
	! grep -i "checksum\|reproducible" pinned.err &&
	test_json pinned.json "\"unpinned_urls\" not in d[\"build\"] and \"warnings\" not in d[\"build\"]" &&
	test $(grep -c "GET /files/tool.sh" "$NGX/access.log") = 2
'

test_expect_success NGINX '... the same digest again without the cache; through a redirect, the same layer' '
	ci-build --new --no-cache -o pinned1.out -t p:1 --source-date-epoch 1700000000 pinned >pinned1.json 2>/dev/null &&
	test "$(img_digest pinned.json)" = "$(img_digest pinned1.json)" &&
	add pinned2 "ADD --checksum=$SUM \$URL/moved /usr/bin/tool.sh" &&
	ci-build --new --no-cache -o pinned2.out -t p:1 --source-date-epoch 1700000000 pinned2 >pinned2.json 2>/dev/null &&
	layer() { python3 -c "import json, sys; print(json.load(open(sys.argv[1]))[\"build\"][\"image\"][\"layers\"][0][\"digest\"])" "$1"; } &&
	test "$(layer pinned.json)" = "$(layer pinned2.json)"
'

test_expect_success NGINX 'a checksum that does not match: exit 2, the URL and both digests named, no output' '
	bad=sha256:$(echo other | sha256sum | cut -d" " -f1) &&
	add mismatch "COPY x /x" "ADD --checksum=$bad \$URL/files/tool.sh /tool" && echo x >mismatch/x &&
	test_expect_code 2 ci-build --new -o mismatch.out mismatch >mismatch.json 2>mismatch.err &&
	test_grep "mismatch/Dockerfile:3: ADD .$URL/files/tool.sh.: checksum mismatch: --checksum wants $bad, the server sent $SUM$" mismatch.err &&
	test_json mismatch.json "d[\"build\"][\"status\"] == \"error\" and d[\"build\"][\"exit_code\"] == 2" &&
	! test -e mismatch.out
'

test_expect_success NGINX 'no --checksum: built, with a warning and the URL under build.unpinned_urls' '
	add loose "ARG CFG=config.yaml" "ADD \$URL/files/\${CFG} /etc/app/" &&
	ci-build --new -o loose.out -t l:1 loose >loose.json 2>loose.err &&
	test "$(img_file loose.out 1 etc/app/config.yaml)" = "name: app" &&
	test_grep "warning: loose/Dockerfile:3: ADD .$URL/files/config.yaml. has no --checksum: the build is not reproducible" loose.err &&
	test_json loose.json "d[\"build\"][\"unpinned_urls\"] == [\"$URL/files/config.yaml\"]" &&
	test_json loose.json "any(\"not reproducible\" in w for w in d[\"build\"][\"warnings\"])"
'

test_expect_success NGINX 'a URL the server does not have: exit 2 with its status; a dead port: exit 69' '
	add missing "ADD \$URL/files/nope.tgz /nope.tgz" &&
	test_expect_code 2 ci-build --new -o missing.out missing >missing.json 2>missing.err &&
	test_grep "missing/Dockerfile:2: ADD .$URL/files/nope.tgz.: the server answered 404" missing.err &&
	dead=$(test_free_port) &&
	add dead "ADD http://127.0.0.1:$dead/x /x" &&
	test_expect_code 69 ci-build --new -o dead.out dead >dead.json 2>dead.err &&
	test_grep "dead/Dockerfile:2: ADD" dead.err
'

test_expect_success NGINX 'a URL that names no file needs a destination file' '
	add dir "ADD --checksum=$SUM \$URL/files/ /d/" &&
	test_expect_code 2 ci-build --new -o dir.out dir >dir.json 2>dir.err &&
	test_grep "dir/Dockerfile:2: ADD .$URL/files/.: the URL names no file" dir.err
'

test_expect_success NGINX '... but it may go to a file the destination names' '
	isum=sha256:$(sha256sum www/index.html | cut -d" " -f1) &&
	add named "ADD --checksum=$isum \$URL/ /app/index.html" &&
	ci-build --new -o named.out named >named.json 2>named.err &&
	img_file named.out "" app/index.html >got && test_cmp www/index.html got
'

test_expect_success NGINX 'a --checksum source from an ARG is a URL once expanded; a local one is refused' '
	add argurl "ARG U=\$URL/files/tool.sh" "ADD --checksum=$SUM \$U /bin/tool" &&
	ci-build --new -o argurl.out argurl >argurl.json 2>argurl.err &&
	img_file argurl.out "" bin/tool >got && test_cmp www/files/tool.sh got &&
	add arglocal "ARG U=tool.sh" "ADD --checksum=$SUM \$U /bin/tool" &&
	cp www/files/tool.sh arglocal/ &&
	test_expect_code 2 ci-build --new -o arglocal.out arglocal >arglocal.json 2>arglocal.err &&
	test_grep "arglocal/Dockerfile:3: ADD --checksum applies to one source that is a URL" arglocal.err &&
	test_expect_code 2 ci-build -n arglocal >arglocal.plan 2>arglocal.err &&
	test_grep "arglocal/Dockerfile:3: ADD --checksum applies to one source that is a URL" arglocal.err
'

test_expect_success NGINX 'a body over 256 MiB: exit 2, saying to download it first' '
	add huge "ADD \$URL/files/huge.bin /huge.bin" &&
	test_expect_code 2 ci-build --new -o huge.out huge >huge.json 2>huge.err &&
	test_grep "huge/Dockerfile:2: ADD .$URL/files/huge.bin.: larger than 256 MiB; download it before the build and COPY it" huge.err
'

test_expect_success NGINX 'the dry run and its errors show a URL without its password' '
	hp=${URL#http://} &&
	add secret "ARG TOKEN" "ADD http://ci:\${TOKEN}@$hp/files/tool.sh /t" &&
	ci-build -n --build-arg TOKEN=hunter22 secret >secret.plan 2>secret.err &&
	test_grep "fetches http://\*\*\*@$hp/files/tool.sh" secret.plan &&
	! grep hunter22 secret.plan secret.err &&
	add gitsecret "ARG TOKEN" "ADD https://ci:\${TOKEN}@example.com/r.git /src" &&
	test_expect_code 2 ci-build -n --build-arg TOKEN=hunter22 gitsecret >g.plan 2>g.err &&
	test_grep "ADD of a git repository is not supported" g.err &&
	! grep hunter22 g.plan g.err &&
	test_expect_code 2 ci-build --new -o g.out --build-arg TOKEN=hunter22 gitsecret >g.json 2>g.err &&
	! grep hunter22 g.json g.err
'

test_expect_success 'ADD of a git repository is refused by name, whatever its form' '
	for u in https://github.com/moby/buildkit.git git@github.com:moby/buildkit.git \
		git://example.com/repo "https://example.com/r.git#main"; do
		add "git-${#u}" "ADD $u /src" &&
		test_expect_code 2 ci-build --new -o g.out "git-${#u}" >g.json 2>g.err &&
		test_grep "git-${#u}/Dockerfile:2: ADD of a git repository is not supported (.$u.)" g.err || return 1
	done
'

test_expect_success NGINX 'the dry run fetches nothing and says what is pinned' '
	: >"$NGX/access.log" &&
	ci-build -n loose >loose.plan &&
	ci-build -n pinned >pinned.plan &&
	test_grep "^loose/Dockerfile:3: ADD .*; fetches $URL/files/config.yaml (no --checksum: not reproducible)$" loose.plan &&
	test_grep "^pinned/Dockerfile:2: ADD .*; fetches $URL/files/tool.sh (pinned by --checksum)$" pinned.plan &&
	! test -s "$NGX/access.log"
'

test_done
