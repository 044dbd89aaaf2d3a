#!/bin/sh
test_description='ci-build heredocs: COPY <<EOF files, RUN <<EOF scripts, <<- and quoted delimiters, several in one instruction, reproducible'
. "${0%/*}/test-lib.sh"
. "$TEST_DIRECTORY/helpers/build-lib.sh"

test_expect_success 'COPY <<EOF into scratch: one file, several, <<- tabs stripped, quoted delimiters not expanded' '
	mkdir cp &&
	printf "%s\n" \
		"FROM scratch" \
		"ARG WHO=world" \
		"ENV GREETING=hello" \
		"COPY <<EOF /etc/motd" \
		"\$GREETING \${WHO} \\\$HOME \"quoted\" '"'"'single'"'"'" \
		"EOF" \
		"COPY <<index.html <<-\"raw.txt\" /srv/" \
		"<h1>\${WHO:-nobody}</h1>" \
		"index.html" \
		"	tab-indented \$WHO" \
		"	raw.txt" \
		"COPY --chmod=0755 --chown=10:20 <<'"'"'run.sh'"'"' /bin/" \
		"#!/bin/sh" \
		"echo \"\$@\"" \
		"run.sh" >cp/Dockerfile &&
	ci-build --new -o cp.out -t cp:1 --source-date-epoch 1700000000 --build-arg WHO=you cp >cp.json 2>cp.err &&
	img_file cp.out 1 etc/motd >motd &&
	echo "hello you \$HOME \"quoted\" '"'"'single'"'"'" >motd.want &&
	test_cmp motd.want motd &&
	img_file cp.out 1 srv/index.html >index &&
	echo "<h1>you</h1>" >index.want && test_cmp index.want index &&
	img_file cp.out 1 srv/raw.txt >raw &&
	echo "tab-indented \$WHO" >raw.want && test_cmp raw.want raw &&
	img_file cp.out 1 bin/run.sh >run &&
	printf "#!/bin/sh\necho \"\$@\"\n" >run.want && test_cmp run.want run
'

test_expect_success '... modes 0644 (0755 with --chmod), owners 0 (or --chown), the epoch as mtime' '
	img_files cp.out 1 >cp.files &&
	test_grep "^0 etc/motd f 0644 0:0 : 1700000000 34 $" cp.files &&
	test_grep "^1 srv/index.html f 0644 0:0 : 1700000000 13 $" cp.files &&
	test_grep "^2 bin/run.sh f 0755 10:20 : 1700000000 20 $" cp.files
'

test_expect_success '... the same Dockerfile gives the same digest without the cache; another body another' '
	ci-build --new --no-cache -o cp2.out --source-date-epoch 1700000000 --build-arg WHO=you cp >cp2.json 2>/dev/null &&
	test "$(img_digest cp.json)" = "$(img_digest cp2.json)" &&
	ci-build --new --no-cache -o cp3.out --source-date-epoch 1700000000 --build-arg WHO=them cp >cp3.json 2>/dev/null &&
	test "$(img_digest cp.json)" != "$(img_digest cp3.json)"
'

test_expect_success 'ADD <<EOF is COPY <<EOF (never extracted); a heredoc and a context file together' '
	mkdir add && echo from-context >add/ctx.txt &&
	printf "%s\n" "FROM scratch" "ADD <<inline.txt ctx.txt /d/" "inline" "inline.txt" >add/Dockerfile &&
	ci-build --new -o add.out -t a:1 add >add.json 2>add.err &&
	test "$(img_file add.out 1 d/inline.txt)" = inline &&
	test "$(img_file add.out 1 d/ctx.txt)" = from-context
'

# ctx DIR DOCKERFILE-LINES...: a busybox base context with more lines.
ctx() {
	busybox_ctx "$1" && d_=$1 && shift && printf '%s\n' "$@" >>"$d_/Dockerfile"
}

test_expect_success BUSYBOX,RUNC,ROOT 'RUN <<EOF alone runs the body as a script; a #! line picks the interpreter' '
	ctx script "ARG WHO=world" "RUN <<EOF" "mkdir -p /out" "echo \"script \$WHO \$0\" > /out/a" "EOF" \
		"RUN <<EOF" "#!/bin/busybox sh" "echo shebang > /out/b" "EOF" &&
	ci-build --new -o script.out -t r:1 script >script.json 2>script.err &&
	test "$(img_file script.out 1 out/a)" = "script world /dev/pipes/EOF" &&
	test "$(img_file script.out 1 out/b)" = shebang
'

test_expect_success BUSYBOX,RUNC,ROOT '... the script is no file of the image: the layers hold /out only' '
	layer_paths script.out 1 -2 >l1 && printf "out\nout/a\n" >l1.want && test_cmp l1.want l1 &&
	layer_paths script.out 1 -1 >l2 && printf "out\nout/b\n" >l2.want && test_cmp l2.want l2
'

test_expect_success BUSYBOX,RUNC,ROOT 'RUN with several heredocs feeding commands, <<- and a quoted one left to the shell' '
	ctx multi "ARG WHO=world" \
		"RUN <<A cat > /a && <<-'"'"'B'"'"' cat > /b" "first \$WHO" "A" "	second \$WHO" "	B" \
		"RUN cat <<EOF | wc -l > /n" "1" "2" "3" "EOF" &&
	ci-build --new -o multi.out -t m:1 multi >multi.json 2>multi.err &&
	test "$(img_file multi.out 1 a)" = "first world" &&
	test "$(img_file multi.out 1 b)" = "second \$WHO" &&
	test "$(img_file multi.out 1 n | tr -d " ")" = 3
'

test_expect_success BUSYBOX,RUNC,ROOT 'a RUN heredoc whose body changes is a new step, an unchanged one comes from the cache' '
	ctx rc "RUN <<EOF" "echo one > /f" "EOF" &&
	ci-build --new --cache-dir cache -o rc1.out rc >rc1.json 2>rc1.err &&
	ci-build --new --cache-dir cache -o rc2.out rc >rc2.json 2>rc2.err &&
	test_grep "RUN: cached" rc2.err &&
	test "$(img_digest rc1.json)" = "$(img_digest rc2.json)" &&
	sed -i "s/echo one/echo two/" rc/Dockerfile &&
	ci-build --new --cache-dir cache -o rc3.out rc >rc3.json 2>rc3.err &&
	! grep "RUN: cached" rc3.err &&
	test "$(img_file rc3.out "" f)" = two
'

test_expect_success BUSYBOX,RUNC,ROOT 'a script heredoc whose name is no file name runs as /dev/pipes/script' '
	ctx odd "RUN <<a:b" "echo \"\$0\" > /o" "a:b" "RUN <<.." "echo \"\$0\" > /p" ".." &&
	ci-build --new -o odd.out -t o:1 odd >odd.json 2>odd.err &&
	test "$(img_file odd.out 1 o)" = /dev/pipes/script &&
	test "$(img_file odd.out 1 p)" = /dev/pipes/script
'

test_expect_success 'a COPY heredoc named with a space, and 65 heredocs in one instruction, are refused by line' '
	mkdir sp && printf "FROM scratch\nCOPY <<\"A B\" /d/\nx\nA B\n" >sp/Dockerfile &&
	test_expect_code 2 ci-build -n sp >sp.plan 2>sp.err &&
	test_grep "Dockerfile:2: COPY: the heredoc <<\"A B\" cannot name a file (.A B. is not a file name)" sp.err &&
	mkdir many && { printf "FROM scratch\nCOPY" && for i in $(seq 65); do printf " <<A$i"; done &&
		printf " /d/\n" && for i in $(seq 65); do printf "x\nA$i\n"; done; } >many/Dockerfile &&
	test_expect_code 2 ci-build -n many >many.plan 2>many.err &&
	test_grep "Dockerfile:2: more than 64 heredocs in one instruction" many.err
'

test_expect_success 'an unterminated heredoc: exit 2, FILE:LINE, no output' '
	mkdir bad && printf "FROM scratch\nCOPY <<EOF /x\nno end\n" >bad/Dockerfile &&
	test_expect_code 2 ci-build --new -o bad.out bad >bad.json 2>bad.err &&
	test_grep "bad/Dockerfile:2: unterminated heredoc: no line .EOF. ends the heredoc <<EOF opens" bad.err &&
	! test -e bad.out
'

test_done
