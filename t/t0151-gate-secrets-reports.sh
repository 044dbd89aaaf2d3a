#!/bin/sh
test_description='ci-gate --secrets: SARIF, GitLab Code Quality, GitHub annotations; no secret in any output'
. "${0%/*}/test-lib.sh"

# The secrets: t/data/credentials holds them, in two pieces; the key
# is made here, so the sweep is told of it.
aws=$SCAN_AWS_KEY_1
gh=$SCAN_GITHUB_TOKEN
pw=$SCAN_PASSWORD
stripe=$SCAN_STRIPE_KEY
body=$(python3 -c 'import base64, random; r = random.Random(7); print(base64.b64encode(bytes(r.randrange(256) for _ in range(300))).decode())')
for piece in $(echo "$body" | fold -w 32); do
	test ${#piece} -lt 32 || test_secret "the private key of id_rsa" "$piece"
done

test_expect_success GIT 'a repository with secrets in awkward places' '
	git init -q repo &&
	mkdir -p "repo/conf/my dir" &&
	printf "const key = \"%s\";\n// again\nconst copy = \"%s\";\n" "$aws" "$aws" >"repo/conf/my dir/app config.js" &&
	printf "GITHUB_TOKEN=%s\n" "$gh" >"repo/conf/$(printf "na\303\257ve.env")" &&
	printf "db:\n  password: \"%s\"\n" "$pw" >repo/values.yaml &&
	printf "#!/bin/sh\nexport STRIPE_KEY=%s\n" "$stripe" >repo/deploy.sh &&
	{ echo "-----BEGIN RSA PRIV""ATE KEY-----" && echo "$body" | fold -w 64 && echo "-----END RSA PRIV""ATE KEY-----"; } >repo/id_rsa &&
	(cd repo && git add . && git commit -q -m secrets)
'

test_expect_success GIT 'the scan fails, writing every report, as under GitHub Actions' '
	mkdir out && cd repo &&
	: >../summary.md &&
	test_expect_code 1 env GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY=$PWD/../summary.md \
		ci-gate --secrets --new -o ../out/gate --junit ../out/junit.xml \
		--sarif ../out/report.sarif --codequality ../out/gl-code-quality.json \
		>../out/doc.json 2>../out/stderr
'

test_expect_success GIT '... finding the six' '
	test_json out/doc.json "sorted((f[\"rule\"], f[\"file\"], f[\"line\"]) for f in d[\"gate\"][\"jobs\"][\"secrets\"][\"findings\"]) == [(\"aws-access-key-id\", \"conf/my dir/app config.js\", 1), (\"aws-access-key-id\", \"conf/my dir/app config.js\", 3), (\"generic-secret\", \"values.yaml\", 2), (\"github-token\", \"conf/na\u00efve.env\", 1), (\"private-key\", \"id_rsa\", 1), (\"stripe-key\", \"deploy.sh\", 2)]" &&
	test_json out/doc.json "d[\"gate\"][\"jobs\"][\"secrets\"][\"scan\"][\"mode\"] == \"tracked\""
'

test_expect_success GIT 'no output holds a secret in full, every output its redacted form' '
	for s in "$aws" "$gh" "$pw" "$stripe" "$(echo "$body" | cut -c1-40)" "$(echo "$body" | cut -c60-100)"; do
		if grep -rF -e "$s" out summary.md; then echo "leaked: $s"; exit 1; fi
	done &&
	for s in "$aws" "$gh" "$pw" "$stripe" "$body"; do
		pre=$(printf "%s" "$s" | cut -c1-4)$(printf "\342\200\246") &&
		grep -qF -e "$pre" out/gate/secrets.log &&
		grep -qF -e "$pre" out/doc.json || { echo "no trace of $pre"; exit 1; }
	done &&
	grep -qF "AKIA" out/report.sarif &&
	grep -qF "AKIA" out/gl-code-quality.json &&
	grep -qF "AKIA" out/gate/secrets.log &&
	grep -qF "AKIA" out/stderr
'

test_expect_success GIT 'the SARIF file has every field SARIF 2.1.0 requires' '
	python3 - out/report.sarif <<-\PY
	import json, re, sys
	d = json.load(open(sys.argv[1]))
	assert d["version"] == "2.1.0"
	assert d["$schema"].startswith("https://") and "sarif" in d["$schema"]
	assert len(d["runs"]) == 1
	run = d["runs"][0]
	drv = run["tool"]["driver"]
	assert drv["name"] == "ci-gate" and drv["version"]
	ids = [r["id"] for r in drv["rules"]]
	assert len(ids) == len(set(ids)) and len(ids) >= 11, ids
	for r in drv["rules"]:
	    assert r["shortDescription"]["text"] and r["fullDescription"]["text"]
	    assert r["defaultConfiguration"]["level"] == "error"
	    float(r["properties"]["security-severity"])
	assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].startswith("file:///")
	assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].endswith("/repo/")
	res = run["results"]
	assert len(res) == 6
	for r in res:
	    assert r["ruleId"] in ids and ids[r["ruleIndex"]] == r["ruleId"]
	    assert r["level"] == "error"
	    assert r["message"]["text"]
	    loc = r["locations"][0]["physicalLocation"]
	    uri = loc["artifactLocation"]["uri"]
	    assert loc["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
	    assert not re.match(r"^[a-z]+:", uri) and not uri.startswith("/"), uri
	    assert re.fullmatch(r"[A-Za-z0-9._~/%-]+", uri), uri
	    assert loc["region"]["startLine"] >= 1 and loc["region"]["startColumn"] >= 1
	    fp = r["partialFingerprints"]["secretFingerprint/v1"]
	    assert re.fullmatch(r"[0-9a-f]{64}", fp)
	uris = sorted(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in res)
	assert "conf/my%20dir/app%20config.js" in uris, uris
	assert "conf/na%C3%AFve.env" in uris, uris
	fps = [r["partialFingerprints"]["secretFingerprint/v1"] for r in res]
	assert len(fps) == len(set(fps)), "the same secret twice in a file still gives two fingerprints"
	PY
'

test_expect_success GIT 'the Code Quality report is what GitLab reads' '
	python3 - out/gl-code-quality.json <<-\PY
	import json, sys
	d = json.load(open(sys.argv[1]))
	assert isinstance(d, list) and len(d) == 6
	for i in d:
	    assert i["description"] and i["check_name"]
	    assert i["severity"] in ("info", "minor", "major", "critical", "blocker")
	    assert isinstance(i["location"]["path"], str) and not i["location"]["path"].startswith("/")
	    assert i["location"]["lines"]["begin"] >= 1
	fps = [i["fingerprint"] for i in d]
	assert len(set(fps)) == len(fps), "fingerprints must be unique"
	assert sorted(i["location"]["path"] for i in d)[1] == "conf/my dir/app config.js"
	PY
'

test_expect_success GIT 'GitHub gets one annotation per finding, at its place' '
	grep "^::error file=" out/stderr >ann &&
	test $(wc -l <ann) = 6 &&
	test_grep "^::error file=conf/my dir/app config.js,line=3,col=15,title=ci-gate%3A secrets%3A aws-access-key-id::AWS access key ID: AKIA" ann &&
	test_grep "^::error file=values.yaml,line=2,col=14," ann &&
	test_grep "^| secrets | :x: failed" summary.md
'

test_expect_success GIT 'the JUnit report names the job and holds no secret' '
	test_grep "testsuite name=\"secrets\"" out/junit.xml &&
	test_grep "6 secrets found" out/junit.xml
'

test_expect_success GIT 'reports are written, empty, when nothing is found' '
	git init -q clean && echo "hello" >clean/README && (cd clean && git add . && git commit -q -m init) &&
	(cd clean && ci-gate --secrets --new --sarif ../c.sarif --codequality ../c.json >../c.doc 2>../c.err) &&
	test_json c.sarif "d[\"runs\"][0][\"results\"] == [] and len(d[\"runs\"][0][\"tool\"][\"driver\"][\"rules\"]) >= 11" &&
	test_json c.json "d == []" &&
	test_json c.doc "d[\"gate\"][\"status\"] == \"passed\""
'

test_expect_success 'a file name cannot smuggle a workflow command into the log' '
	mkdir evil &&
	printf "k=%s\n" "$aws" >"evil/$(printf "a\n::warning::injected")" &&
	{ GITHUB_ACTIONS=true ci-gate --secrets --all-files --new -o evil-out evil >evil.json 2>evil.err; test $? = 1; } &&
	! grep "^::warning::injected" evil.err &&
	test_grep "^evil/a?::warning::injected:1:3: aws-access-key-id" evil.err &&
	test_grep "^::error file=evil/a%0A%3A%3Awarning%3A%3Ainjected,line=1,col=3," evil.err
'

test_expect_success 'an unwritable report is an I/O error, the document still written' '
	mkdir ro && echo "x" >ro/a &&
	{ ci-gate --secrets --all-files --new --sarif /dev/full/x.sarif ro >ro.json 2>ro.err; echo $? >rc; } &&
	test $(cat rc) = 74 &&
	test_json ro.json "d[\"gate\"][\"status\"] == \"passed\""
'

test_done
