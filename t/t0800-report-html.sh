#!/bin/sh
test_description='--html FILE: the pipeline as one self-contained page, checked as a file and in headless Chromium'
. "${0%/*}/test-lib.sh"

CI_STATE_DIR=$TRASH/state
export CI_STATE_DIR
TOOLS="ci-gate ci-build ci-push ci-smoke ci-canary ci-rollback"
doc() { "$TEST_DIRECTORY/helpers/pipeline-doc" "$@"; }

test_tool_prereq CHROMIUM chromium command -v chromium

# chromium_run NAME ARG...: headless Chromium with its own profile in the
# trash directory, for at most 120 s; what it prints goes to
# chromium-NAME.out (the DOM, with --dump-dom), its noise to
# chromium-NAME.err.  Anything it leaves behind (a renderer a crash
# orphaned) is killed by process id: the processes whose command line
# names that profile, which only this test starts.
chromium_run() {
	cr_name_=$1
	shift
	timeout -k 5 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
		--hide-scrollbars --user-data-dir="$TRASH/chromium-$cr_name_" "$@" \
		>"chromium-$cr_name_.out" 2>"chromium-$cr_name_.err"
	cr_rc_=$?
	for cr_p_ in /proc/[0-9]*; do
		if tr '\0' '\n' <"$cr_p_/cmdline" |
			grep -qxF -e "--user-data-dir=$TRASH/chromium-$cr_name_"; then
			kill -9 "${cr_p_#/proc/}"
		fi
	done 2>/dev/null
	return $cr_rc_
}

# check_page FILE: an independent reading of the page with Python's
# html.parser: every element that is opened is closed, in order; no
# script, no element that loads anything, no URL in a src or href, no
# url() or @import in the style; a charset and a title.
check_page() {
	python3 - "$1" <<-\PY
	import sys
	from html.parser import HTMLParser
	VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
	        "source", "track", "wbr"}
	LOADS = {"script", "link", "img", "iframe", "object", "embed", "audio", "video", "source"}
	class P(HTMLParser):
	    def __init__(self):
	        super().__init__(convert_charrefs=True)
	        self.stack, self.errors, self.style, self.title, self.charset = [], [], "", "", False
	        self.svg = 0
	    def handle_starttag(self, tag, attrs):
	        if tag in LOADS:
	            self.errors.append("a <%s> element" % tag)
	        for k, v in attrs:
	            if k in ("src", "href", "xlink:href", "srcset", "action", "data") and v is not None:
	                self.errors.append("%s=%r on <%s>" % (k, v, tag))
	            if k.startswith("on"):
	                self.errors.append("an event handler %s on <%s>" % (k, tag))
	        if tag == "meta" and ("charset", "utf-8") in attrs:
	            self.charset = True
	        if tag == "svg":
	            self.svg += 1
	        if tag not in VOID:
	            self.stack.append(tag)
	    def handle_startendtag(self, tag, attrs):
	        self.handle_starttag(tag, attrs)
	        if tag not in VOID:
	            self.stack.pop()
	    def handle_endtag(self, tag):
	        if not self.stack or self.stack[-1] != tag:
	            self.errors.append("</%s> closes %s" % (tag, self.stack[-1:] or "nothing"))
	        else:
	            self.stack.pop()
	    def handle_data(self, data):
	        if self.stack and self.stack[-1] == "style":
	            self.style += data
	        if self.stack[-2:] == ["head", "title"]:
	            self.title += data
	text = open(sys.argv[1], encoding="utf-8").read()
	p = P()
	p.feed(text)
	p.close()
	errors = p.errors
	if not text.startswith("<!DOCTYPE html>"):
	    errors.append("no doctype")
	if p.stack:
	    errors.append("left open: %s" % p.stack)
	if "url(" in p.style or "@import" in p.style:
	    errors.append("the style loads something")
	if "<script" in text.lower():
	    errors.append("<script in the text")
	if not p.charset or not p.title:
	    errors.append("charset %s, title %r" % (p.charset, p.title))
	if errors:
	    print("\n".join(errors[:20]))
	    sys.exit(1)
	print(p.title)
	print("svg", p.svg)
	PY
}

# png_ok FILE W H: a PNG of W x H pixels that shows something: a blank
# page compresses to a handful of distinct bytes, a page of text and
# charts to all 256.
png_ok() {
	python3 - "$@" <<-\PY
	import struct, sys, zlib
	b = open(sys.argv[1], "rb").read()
	assert b[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
	w, h = struct.unpack(">II", b[16:24])
	assert (w, h) == (int(sys.argv[2]), int(sys.argv[3])), (w, h)
	i, idat = 8, b""
	while i < len(b):
	    n, = struct.unpack(">I", b[i:i + 4])
	    if b[i + 4:i + 8] == b"IDAT":
	        idat += b[i + 8:i + 8 + n]
	    i += 12 + n
	raw = zlib.decompress(idat)
	assert len(set(raw)) > 128, "a blank picture: %d distinct bytes" % len(set(raw))
	PY
}

# dom_text FILE: the text Chromium shows, one line per text node, and
# the elements it holds, counted ("element svg 5").
dom_text() {
	python3 - "$1" <<-\PY
	import sys
	from collections import Counter
	from html.parser import HTMLParser
	class P(HTMLParser):
	    def __init__(self):
	        super().__init__(convert_charrefs=True)
	        self.tags, self.skip = Counter(), 0
	    def handle_starttag(self, tag, attrs):
	        self.tags[tag] += 1
	        self.skip += tag == "style"
	    def handle_endtag(self, tag):
	        self.skip -= tag == "style"
	    def handle_data(self, data):
	        if not self.skip and data.strip():
	            print(" ".join(data.split()))
	p = P()
	p.feed(open(sys.argv[1], encoding="utf-8").read())
	for t, n in sorted(p.tags.items()):
	    print("element", t, n)
	PY
}

test_expect_success 'every tool offers --html FILE' '
	for t in $TOOLS; do
		$t --help >help.$t &&
		test_grep "^      --html FILE  *also write the pipeline as an HTML page to FILE" help.$t || return 1
	done
'

test_expect_success 'setup: 2.4.0 went out; 2.4.1 passed the gate, build, push, deploy and smoke, and failed its canary' '
	doc --full --version 2.4.0 --run-id r1 >d1.json &&
	ci-rollback <d1.json >o1.json 2>e1 &&
	doc --full --version 2.4.1 --canary failed \
		--reason "error-rate 9.8% (98 of 1000 requests) > 5%, 3 of 3 failures" >d2.json &&
	test_json d2.json "len(d[\"canary\"][\"intervals\"]) == 8 and len(d[\"canary\"][\"steps\"]) == 3" &&
	test_json d2.json "d[\"deploy\"][\"staging\"][\"status\"] == \"passed\""
'

test_expect_success 'ci-rollback, the last tool, writes the report of the rolled-back release' '
	test_expect_code 1 ci-rollback --webhook http://127.0.0.1:9/hook --alert-attempts 1 \
		--html report.html <d2.json >o2.json 2>e2 &&
	test_json o2.json "d[\"rollback\"][\"outcome\"] == \"rolled_back\" and d[\"rollback\"][\"rolled_back_to\"][\"version\"] == \"2.4.0\"" &&
	test -s report.html &&
	! ls report.html.tmp.* 2>/dev/null
'

test_expect_success 'the file: well-formed, no script, nothing that loads, a charset and a title' '
	check_page report.html >page &&
	head -n 1 page >title &&
	echo "shop 2.4.1: failed" >expect &&
	test_cmp expect title &&
	test_grep "^svg [1-9]" page &&
	! grep -i "<script" report.html &&
	! grep -E "(src|href)=\"?(https?:)?//" report.html &&
	test_grep "&lt;script&gt;alert(&apos;gate&apos;)&lt;/script&gt;" report.html
'

test_expect_success '... and the checks see what they look for' '
	sed "s|<main>|<main><img src=\"https://cdn.example/x.png\">|" report.html >bad1.html &&
	test_expect_code 1 check_page bad1.html >out &&
	test_grep "src=.https://cdn.example/x.png. on <img>" out &&
	sed "s|</section>||" report.html >bad2.html &&
	test_expect_code 1 check_page bad2.html >out &&
	test_grep "closes" out &&
	sed "s|</body>|<script>x()</script></body>|" report.html >bad3.html &&
	test_expect_code 1 check_page bad3.html >out &&
	test_grep "a <script> element" out
'

test_expect_success CHROMIUM 'Chromium renders it: a screenshot of 1280 x 2000 that shows something' '
	chromium_run shot --screenshot="$TRASH/shot.png" --window-size=1280,2000 \
		"file://$TRASH/report.html" &&
	test -s shot.png &&
	png_ok shot.png 1280 2000 &&
	echo "<!DOCTYPE html><meta charset=utf-8><title>-</title>" >empty.html &&
	chromium_run empty --screenshot="$TRASH/empty.png" --window-size=1280,2000 \
		"file://$TRASH/empty.html" &&
	test_expect_code 1 png_ok empty.png 1280 2000 2>err &&
	test_grep "a blank picture" err
'

# Three charts (the weight, error-rate, p99), six paths: the weight's
# area and line, canary and stable of each metric.
test_expect_success CHROMIUM '... and its DOM says what matters: app, version, image, stages, verdict, rollback, thresholds' '
	chromium_run dom --dump-dom "file://$TRASH/report.html" &&
	dom_text chromium-dom.out >text &&
	digest=$(test_jval o2.json "d[\"build\"][\"image\"][\"digest\"]") &&
	for want in "shop" "2.4.1" "$digest" "Failed at" "Rolled back to" "2.4.0" \
		"<script>alert('"'"'gate'"'"')</script>" "92.50%" "46.1 MiB" \
		"registry.example/shop" "https://staging.example/login" "POST" \
		"max 5%" "max 500 ms" "3 of 8 measurements failed" "canary weight" \
		"detected" "traffic restored" "rollback took 7ms" "not delivered" \
		"staging" "deploy-staging"; do
		grep -qF -e "$want" text || { echo "no \"$want\" in the page"; return 1; }
	done &&
	for stage in gate build push smoke canary rollback; do
		grep -qx "$stage" text || { echo "no stage $stage"; return 1; }
	done &&
	cross=$(printf "\342\234\227") &&
	grep -qxF "$cross rollback" text &&
	grep -qxF "$cross rolled back" text &&
	grep -qxF "$cross failed" text &&
	! grep -q "^element script " text &&
	test_grep "^element figure 3$" text &&
	test_grep "^element path 6$" text
'

# The rolled-back release blocks the pipeline; the gates below are others'.
CI_STATE_DIR=$TRASH/state-other

test_expect_success 'a gate that fails writes its report; so does a stage skipped after it' '
	test_expect_code 1 ci-gate --new --version-tag 9.9.9 -g "unit=echo boom; exit 3" \
		--html gate.html >gate.json 2>err &&
	test_json gate.json "d[\"gate\"][\"status\"] == \"failed\"" &&
	check_page gate.html >page &&
	test_grep "^pipeline 9.9.9: failed$" page &&
	test_grep "Failed at <b>gate</b>" gate.html &&
	test_grep "exit 3" gate.html &&
	test_grep "boom" gate.html &&
	test_expect_code 1 ci-build --html build.html <gate.json >build.json 2>err &&
	test_json build.json "d[\"build\"][\"status\"] == \"skipped\"" &&
	test_grep "<h2>Image <span class=\"st muted\">.* skipped</span>" build.html &&
	test_grep "upstream stage &apos;gate&apos; failed" build.html
'

test_expect_success 'a report that cannot be written: exit 74 and a message; the document still goes out' '
	echo x >afile &&
	test_expect_code 74 ci-gate --new -g "ok=true" --html afile/report.html >doc.json 2>err &&
	test_grep "^ci-gate: error: .*afile" err &&
	test_json doc.json "d[\"gate\"][\"status\"] == \"passed\"" &&
	test_expect_code 74 ci-gate --new -g "ko=false" --html afile/report.html >doc.json 2>err &&
	test_json doc.json "d[\"gate\"][\"status\"] == \"failed\"" &&
	test_expect_code 74 ci-build --html afile/b.html <doc.json >b.json 2>err &&
	test_json b.json "d[\"build\"][\"status\"] == \"skipped\""
'

test_expect_success '... but an error status says more, and stays' '
	test_expect_code 65 ci-push --layout nonexistent --html afile/p.html 127.0.0.1:9/x:1 \
		</dev/null >p.json 2>err &&
	test_json p.json "d[\"push\"][\"status\"] == \"failed\"" &&
	test_grep "afile/p.html" err &&
	test_expect_code 65 ci-push --layout nonexistent --html push.html 127.0.0.1:9/x:1 \
		</dev/null >p.json 2>err &&
	check_page push.html >page &&
	test_grep "<h2>Push <span class=\"st bad\">" push.html
'

test_expect_success '--html needs a file name; a usage error writes nothing' '
	test_expect_code 2 ci-gate --new -g ok=true --html "" >out 2>err &&
	! test -s out &&
	test_grep "ci-gate: error: --html: expected a file name" err &&
	test_expect_code 2 ci-push --html nothing.html </dev/null >out 2>err &&
	! test -s out &&
	! test -e nothing.html
'

test_done
