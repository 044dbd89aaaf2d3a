#!/bin/sh
test_description='ci-gate review gate: approvals from trailers, up to date, conflicts, signatures'
. "${0%/*}/test-lib.sh"

test_tool_prereq SSHKEYGEN openssh-client command -v ssh-keygen

# review SPEC-OPTIONS OUT: run a gate with one review job in ./work.
# The spec and the logs stay out of the work tree, which the tests commit.
review() {
	echo "{\"jobs\": {\"review\": {\"builtin\": \"review\"$1}}}" >spec.json &&
	(cd work && ci-gate --new -f ../spec.json -o ../ci-out/gate >../$2 2>../$2.err)
}

# commit_as NAME EMAIL MESSAGE...: commit what is staged, as that author.
commit_as() {
	n=$1 m=$2
	shift 2
	GIT_AUTHOR_NAME=$n GIT_AUTHOR_EMAIL=$m git commit -q --allow-empty "$@"
}

test_expect_success GIT 'an upstream and a clone of it, working on a branch' '
	git init -q -b main upstream &&
	(cd upstream && mkdir src && printf "one\ntwo\nthree\n" >src/app.js &&
	 git add . && git commit -q -m "initial") &&
	git clone -q upstream work &&
	(cd work && git checkout -q -b feature &&
	 echo "four" >>src/app.js && git add . &&
	 commit_as "A U Thor" author@example.com -m "Add four" \
		-m "Reviewed-by: Ana <ana@example.com>
Approved-by: Bo Li <bo@example.com>")
'

test_expect_success GIT 'two approvals, up to date, no conflict: the review passes' '
	review "" pass.json &&
	test_json pass.json "d[\"gate\"][\"jobs\"][\"review\"][\"status\"] == \"passed\"" &&
	test_json pass.json "d[\"gate\"][\"jobs\"][\"review\"][\"review\"][\"base\"] == \"origin/main\"" &&
	test_json pass.json "d[\"gate\"][\"jobs\"][\"review\"][\"review\"][\"approvals\"][\"reviewers\"] == [\"Reviewed-by: Ana <ana@example.com>\", \"Approved-by: Bo Li <bo@example.com>\"]" &&
	test_json pass.json "d[\"gate\"][\"jobs\"][\"review\"][\"review\"][\"commits\"] == 1" &&
	test_json pass.json "[c[\"status\"] for c in d[\"gate\"][\"jobs\"][\"review\"][\"review\"][\"checks\"]] == [\"passed\", \"passed\", \"passed\"]"
'

test_expect_success GIT 'one approval of two fails, naming who approved' '
	test_expect_code 1 review ", \"approvals\": 3" three.json &&
	test_json three.json "d[\"gate\"][\"jobs\"][\"review\"][\"reason\"] == \"2 of 3 approvals: Reviewed-by: Ana <ana@example.com> and Approved-by: Bo Li <bo@example.com>\""
'

test_expect_success GIT 'the author approving their own change does not count' '
	(cd work && git commit -q --amend -m "Add four" \
		-m "Reviewed-by: Ana <ana@example.com>
Acked-by: A U Thor <AUTHOR@example.com>") &&
	test_expect_code 1 review "" self.json &&
	test_json self.json "d[\"gate\"][\"jobs\"][\"review\"][\"reason\"] == \"1 of 2 approvals: Reviewed-by: Ana <ana@example.com> (not counted, by an author of the change: Acked-by: A U Thor <AUTHOR@example.com>)\"" &&
	test_json self.json "d[\"gate\"][\"jobs\"][\"review\"][\"review\"][\"approvals\"][\"not_counted\"][0][\"why\"] == \"an author of the change\""
'

test_expect_success GIT 'a reviewer named twice counts once; other trailers do not count' '
	(cd work && echo five >>src/app.js && git add . &&
	 commit_as "Cy" cy@example.com -m "Add five" -m "Acked-by: Ana <ana@example.com>
Signed-off-by: Dee <dee@example.com>") &&
	test_expect_code 1 review "" twice.json &&
	test_json twice.json "d[\"gate\"][\"jobs\"][\"review\"][\"review\"][\"approvals\"][\"count\"] == 1" &&
	test_json twice.json "d[\"gate\"][\"jobs\"][\"review\"][\"review\"][\"commits\"] == 2"
'

test_expect_success GIT 'accepted trailers can be set' '
	review ", \"trailers\": [\"Signed-off-by\", \"Reviewed-by\"]" keys.json &&
	test_json keys.json "d[\"gate\"][\"jobs\"][\"review\"][\"review\"][\"approvals\"][\"reviewers\"] == [\"Signed-off-by: Dee <dee@example.com>\", \"Reviewed-by: Ana <ana@example.com>\"]"
'

test_expect_success GIT 'with stale_approvals false only the tip commit counts' '
	(cd work && commit_as "Cy" cy@example.com -m "Fix typo") &&
	test_expect_code 1 review ", \"approvals\": 1, \"stale_approvals\": false" tip.json &&
	test_json tip.json "d[\"gate\"][\"jobs\"][\"review\"][\"reason\"] == \"0 of 1 approval on the tip commit\"" &&
	review ", \"approvals\": 1" stale.json
'

test_expect_success GIT 'base moving on: the branch is behind' '
	(cd upstream && echo "readme" >README && git add README && git commit -q -m "docs" &&
	 echo "more" >>README && git commit -q -am "more docs") &&
	(cd work && git fetch -q origin) &&
	test_expect_code 1 review ", \"approvals\": 1" behind.json &&
	test_json behind.json "d[\"gate\"][\"jobs\"][\"review\"][\"reason\"] == \"branch is 2 commits behind origin/main\"" &&
	test_json behind.json "d[\"gate\"][\"jobs\"][\"review\"][\"review\"][\"behind\"] == 2"
'

test_expect_success GIT '... which require_up_to_date false lets pass' '
	review ", \"approvals\": 1, \"require_up_to_date\": false" notreq.json &&
	test_json notreq.json "[c[\"status\"] for c in d[\"gate\"][\"jobs\"][\"review\"][\"review\"][\"checks\"]] == [\"passed\", \"skipped\", \"passed\"]"
'

test_expect_success GIT 'a conflict with the base names the file; each failure is said on its own' '
	(cd upstream && printf "one\ntwo\nTHREE\nfour, upstream\n" >src/app.js && git commit -q -am "upstream edits app.js") &&
	(cd work && git fetch -q origin) &&
	test_expect_code 1 review "" conflict.json &&
	test_json conflict.json "d[\"gate\"][\"jobs\"][\"review\"][\"reason\"] == \"1 of 2 approvals: Acked-by: Ana <ana@example.com> (not counted, by an author of the change: Acked-by: A U Thor <AUTHOR@example.com>); branch is 3 commits behind origin/main; conflict in src/app.js\"" &&
	test_json conflict.json "d[\"gate\"][\"jobs\"][\"review\"][\"review\"][\"conflicts\"] == [\"src/app.js\"]" &&
	test_grep "^conflicts: conflict in src/app.js$" ci-out/gate/review.log
'

test_expect_success GIT 'rebased on the base, the branch is up to date and merges cleanly' '
	(cd work && git checkout -q -b rebased origin/main && echo "six" >other.js && git add other.js &&
	 commit_as "Cy" cy@example.com -m "Add other" -m "Reviewed-by: Ana <ana@example.com>
Reviewed-by: Bo Li <bo@example.com>") &&
	review "" rebased.json &&
	test_json rebased.json "d[\"gate\"][\"jobs\"][\"review\"][\"review\"][\"up_to_date\"] is True and d[\"gate\"][\"jobs\"][\"review\"][\"review\"][\"conflicts\"] == []"
'

test_expect_success GIT 'a base that does not exist is an error, not a conflict' '
	test_expect_code 1 review ", \"base\": \"origin/nope\"" nobase.json &&
	test_json nobase.json "d[\"gate\"][\"jobs\"][\"review\"][\"status\"] == \"error\"" &&
	test_json nobase.json "d[\"gate\"][\"jobs\"][\"review\"][\"reason\"] == \"base \x27origin/nope\x27 is not a commit here\""
'

test_expect_success GIT 'without origin/main the base is main' '
	(cd upstream && git checkout -q -b topic && echo x >x && git add x &&
	 commit_as "Cy" cy@example.com -m "x" -m "Reviewed-by: Ana <ana@example.com>") &&
	echo "{\"jobs\": {\"review\": {\"builtin\": \"review\", \"approvals\": 1}}}" >spec.json &&
	(cd upstream && ci-gate --new -f ../spec.json -o ../ci-out/gate >../main.json 2>../main.err) &&
	test_json main.json "d[\"gate\"][\"jobs\"][\"review\"][\"review\"][\"base\"] == \"main\""
'

test_expect_success GIT 'a shallow clone without the base says what to fetch' '
	git clone -q --depth 1 --single-branch --branch feature "file://$PWD/work" shallow &&
	echo "{\"jobs\": {\"review\": {\"builtin\": \"review\"}}}" >spec.json &&
	(cd shallow && ci-gate --new -f ../spec.json -o ../ci-out/gate >../sh1.json 2>../sh1.err; test $? = 1) &&
	test_json sh1.json "d[\"gate\"][\"jobs\"][\"review\"][\"status\"] == \"error\"" &&
	test_json sh1.json "\"neither \x27origin/main\x27 nor \x27main\x27\" in d[\"gate\"][\"jobs\"][\"review\"][\"reason\"]" &&
	test_json sh1.json "\"shallow clone\" in d[\"gate\"][\"jobs\"][\"review\"][\"reason\"] and \"git fetch --unshallow\" in d[\"gate\"][\"jobs\"][\"review\"][\"reason\"]"
'

test_expect_success GIT 'a shallow clone with the base but not the history between' '
	git clone -q --depth 1 --no-single-branch "file://$PWD/upstream" shallow2 &&
	(cd shallow2 && git checkout -q topic) &&
	echo "{\"jobs\": {\"review\": {\"builtin\": \"review\"}}}" >spec.json &&
	(cd shallow2 && ci-gate --new -f ../spec.json -o ../ci-out/gate >../sh2.json 2>../sh2.err; test $? = 1) &&
	test_json sh2.json "d[\"gate\"][\"jobs\"][\"review\"][\"status\"] == \"error\"" &&
	test_json sh2.json "d[\"gate\"][\"jobs\"][\"review\"][\"reason\"].startswith(\"cannot find where \x27HEAD\x27 forked from \x27origin/main\x27\")" &&
	test_json sh2.json "\"shallow clone\" in d[\"gate\"][\"jobs\"][\"review\"][\"reason\"]"
'

test_expect_success 'outside git the review gate is an error' '
	mkdir nogit && echo "{\"jobs\": {\"review\": {\"builtin\": \"review\"}}}" >nogit/gates.json &&
	(cd nogit && ci-gate --new -f gates.json >../ng.json 2>../ng.err; test $? = 1) &&
	test_json ng.json "d[\"gate\"][\"jobs\"][\"review\"][\"reason\"] == \"the review gate needs a git work tree, and \x27.\x27 is not in one\""
'

test_expect_success GIT 'require_signed: unsigned commits fail, named' '
	(cd work && git checkout -q rebased) &&
	test_expect_code 1 review ", \"require_signed\": true" unsigned.json &&
	test_json unsigned.json "d[\"gate\"][\"jobs\"][\"review\"][\"reason\"].startswith(\"1 of 1 commit is not signed: \")"
'

test_expect_success GIT,SSHKEYGEN '... and signed ones pass (SSH signatures, an allowed signer)' '
	ssh-keygen -q -t ed25519 -N "" -C ci -f signkey &&
	echo "cy@example.com $(cat signkey.pub)" >allowed_signers &&
	(cd work && git config gpg.format ssh && git config user.signingkey "$PWD/../signkey.pub" &&
	 git config gpg.ssh.allowedSignersFile "$PWD/../allowed_signers" &&
	 git config user.email cy@example.com &&
	 GIT_AUTHOR_NAME=Cy GIT_AUTHOR_EMAIL=cy@example.com git commit -q -S --amend --no-edit) &&
	review ", \"require_signed\": true" signed.json &&
	test_json signed.json "d[\"gate\"][\"jobs\"][\"review\"][\"review\"][\"unsigned\"] == []"
'

test_done
