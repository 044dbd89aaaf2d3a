#!/bin/sh
test_description='run.source: read from .git directly, the same facts git gives'
. "${0%/*}/test-lib.sh"
test_require GIT

# The source facts of the document ci-build --new starts in the current
# directory, one per line ($TRACE: a command to run ci-build under);
# GIT_CI_ASK=1 (a GIT_ variable the reader does
# not know) makes it ask git instead, as it does for anything unusual.
source_of() {
	printf 'FROM scratch\nCOPY f /f\n' >"$TRASH/Dockerfile.src" &&
	echo f >"$TRASH/ctx.f" &&
	rm -rf "$TRASH/ctx" && mkdir "$TRASH/ctx" &&
	cp "$TRASH/Dockerfile.src" "$TRASH/ctx/Dockerfile" &&
	cp "$TRASH/ctx.f" "$TRASH/ctx/f" &&
	$TRACE ci-build --new -q --no-cache -o "$TRASH/out" "$TRASH/ctx" >"$TRASH/doc.json" &&
	python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["run"]["source"]
for k in ("repository", "commit", "ref", "commit_time"):
    print("%s=%s" % (k, s.get(k, "-")))
' "$TRASH/doc.json"
}

# What git itself says, in the same shape.
git_says() {
	url=$(git config --get remote.origin.url) || url=$(git rev-parse --show-toplevel)
	echo "repository=$url" | sed "s|//[^/@]*@|//***@|"
	if c=$(git rev-parse --verify -q "HEAD^{commit}"); then
		echo "commit=$c"
		echo "ref=$(git symbolic-ref -q HEAD || echo HEAD)"
		echo "commit_time=$(git log -1 --format=%ct HEAD)"
	else
		printf "commit=-\nref=-\ncommit_time=-\n"
	fi
}

# Both ways agree with git, and (where strace is) the direct one ran no
# git unless told it would ask ("asks").
check_source() {
	git_says >expect &&
	if command -v strace >/dev/null 2>&1
	then
		# (LeakSanitizer cannot run under ptrace: the untraced run checks.)
		TRACE="env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -e trace=execve -o $TRASH/trace" \
			source_of >fast &&
		if test "$1" = asks
		then
			grep "/git\"" "$TRASH/trace" >/dev/null
		else
			! grep "/git\"" "$TRASH/trace"
		fi
	else
		source_of >fast
	fi &&
	GIT_CI_ASK=1 source_of >slow &&
	test_cmp expect fast &&
	test_cmp expect slow
}

test_expect_success 'an unborn branch: the top-level path, no commit' '
	git init -q repo && (cd repo && check_source) &&
	test_grep "commit=-" repo/fast
'

test_expect_success 'loose objects and refs, an origin with a token, from a subdirectory' '
	(cd repo && mkdir -p sub/deep && echo a >sub/deep/a && git add . &&
	 GIT_COMMITTER_DATE="1700000000 +0100" git commit -q -m one &&
	 git config remote.origin.url "https://user:tok@example.com/o/r.git" &&
	 cd sub/deep && check_source) &&
	test_grep "commit_time=1700000000" repo/sub/deep/fast &&
	test_grep "repository=https://\*\*\*@example.com/o/r.git" repo/sub/deep/fast
'

test_expect_success 'packed refs and a pack (git gc), a quoted url' '
	(cd repo && git config remote.origin.url "\"/srv/a b\"" &&
	 printf "[remote \"origin\"]\n\turl = \"/srv/q # not a comment\" ; a comment\n" >>.git/config &&
	 git gc -q && test -s .git/packed-refs && ! test -e .git/refs/heads/master &&
	 check_source) &&
	test_grep "repository=/srv/q # not a comment" repo/fast
'

test_expect_success 'a detached HEAD, a commit with a long message' '
	(cd repo && test_commit_long=$(printf "x%.0s" $(seq 1 300)) &&
	 echo b >b && git add b && git commit -q -m "$test_commit_long" &&
	 git checkout -q --detach && check_source) &&
	test_grep "ref=HEAD" repo/fast
'

test_expect_success 'a linked work tree on its own branch' '
	(cd repo && git checkout -q - 2>/dev/null; git worktree add -q -b side ../wt &&
	 cd ../wt && echo c >c && git add c && git commit -q -m side && check_source) &&
	test_grep "ref=refs/heads/side" wt/fast
'

test_expect_success 'a config include: git is asked, same answer' '
	(cd repo && printf "[remote \"origin\"]\n\turl = /from/include\n" >../inc &&
	 git config include.path ../../inc && check_source asks) &&
	test_grep "repository=/from/include" repo/fast &&
	git -C repo config --unset include.path
'

test_expect_success 'no origin: the top-level path' '
	(cd repo && git config --unset-all remote.origin.url && cd sub && check_source) &&
	test_grep "repository=$TRASH/repo" repo/sub/fast
'

test_expect_success 'outside any work tree: no source' '
	mkdir plain && (cd plain && source_of >fast) &&
	test_grep "repository=-" plain/fast &&
	test_grep "commit=-" plain/fast
'

test_expect_success 'a HEAD naming a file outside refs/: git is asked, and finds no commit' '
	git init -q odd && (cd odd && echo a >a && git add a && git commit -q -m one &&
	 git rev-parse HEAD >.git/x && echo "ref: refs/heads/../../x" >.git/HEAD &&
	 check_source asks) &&
	test_grep "commit=-" odd/fast
'

test_done
