/* Tests for lib/xml.c and lib/report.c: the XML reader, xml_escape(),
 * JUnit and coverage report parsing (fixtures in t/unit/data/). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "format/report.h"
#include "format/xml.h"
#include "tap.h"

#define DATA "t/unit/data/"

static struct err E;

/* Parse doc; NULL on error, with the message in E. */
static struct xml_node *
px(const char *doc)
{
	err_clear(&E);
	return xml_parse(doc, strlen(doc), "t.xml", &E);
}

/* The error message for a document that must not parse. */
static const char *
xerr(const char *doc)
{
	struct xml_node *n = px(doc);

	if (n) {
		xml_free(n);
		return "(parsed)";
	}
	return E.msg;
}

static char *
esc(const char *s)
{
	struct buf b = BUF_INIT;

	xml_escape(&b, s);
	return buf_detach(&b, NULL);
}

static int
near(double a, double b)
{
	return fabs(a - b) < 1e-9;
}

static void
test_xml_basics(void)
{
	const char *doc =
	    "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<!-- a comment, with <tags> & such -->\n"
	    "<!DOCTYPE r SYSTEM \"r.dtd\">\n"
	    "<?pi some > data?>\n"
	    "<r a='1' b=\"two &amp; &lt;three&gt;\" c = 'x\ny\tz' xmlns:ns=\"urn:x\">\r\n"
	    "  <ns:item id=\"1\"/>\n"
	    "  <item id=\"2\">t&#233;&#xE9;&#x1F600;&quot;&apos;<![CDATA[<raw> & ]]]]><?pi x?><!-- c -->tail</item>\n"
	    "  <item id='3'></item>\n"
	    "  <other/>\n"
	    "</r>\n"
	    "<!-- trailing comment -->\n";
	struct xml_node *r = px(doc), *c;
	int n;

	ok(r != NULL, "xml: realistic document parses");
	if (!r) {
		printf("# %s\n", E.msg);
		return;
	}
	is_str(r->name, "r", "xml: root name");
	is_int(r->line, 5, "xml: root line");
	is_int(r->col, 1, "xml: root col");
	is_str(xml_attr(r, "a"), "1", "xml: single-quoted attribute");
	is_str(xml_attr(r, "b"), "two & <three>", "xml: entities in attribute");
	is_str(xml_attr(r, "c"), "x y z", "xml: attribute whitespace normalised");
	is_str(xml_attr(r, "xmlns:ns"), "urn:x", "xml: namespace declaration kept as an attribute");
	ok(xml_attr(r, "missing") == NULL, "xml: missing attribute is NULL");
	is_int(r->nchildren, 4, "xml: four child elements");
	is_str(r->text, "\n  \n  \n  \n  \n", "xml: root text is the whitespace between children, CRLF normalised");
	c = xml_child(r, "ns:item");
	ok(c && strcmp(xml_attr(c, "id"), "1") == 0, "xml: prefixed name kept as-is");
	ok(c && c->line == 7 && c->col == 3, "xml: child position 7:3 (after a value spanning lines)");
	for (n = 0, c = xml_child(r, "item"); c; c = xml_next(c, "item"))
		n++;
	is_int(n, 2, "xml: xml_child/xml_next iterate by name");
	c = xml_child(r, "item");
	is_str(c ? c->text : NULL, "t\xC3\xA9\xC3\xA9\xF0\x9F\x98\x80\"'<raw> & ]]tail",
	    "xml: text with character references, CDATA, PI and comment skipped");
	is_int(c ? c->textlen : 0, strlen("t\xC3\xA9\xC3\xA9\xF0\x9F\x98\x80\"'<raw> & ]]tail"),
	    "xml: textlen");
	c = xml_next(c, "item");
	is_str(c ? c->text : NULL, "", "xml: empty element text is \"\"");
	for (n = 0, c = xml_child(r, NULL); c; c = xml_next(c, NULL))
		n++;
	is_int(n, 4, "xml: iterate all children with NULL");
	xml_free(r);

	r = px("<a>one\rtwo\r\nthree</a>");
	is_str(r ? r->text : NULL, "one\ntwo\nthree", "xml: lone CR and CRLF become LF in text");
	xml_free(r);
}

static void
test_xml_errors(void)
{
	struct buf b = BUF_INIT;
	int k;

	is_str(xerr("<a>\n  <b>\n</a>"), "t.xml:3:1: mismatched end tag 'a' (expected 'b' opened at 2:3)",
	    "xml: mismatched end tag");
	is_str(xerr("<a>\n<!-- never closed -- >\n</a>"), "t.xml:2:1: unterminated comment",
	    "xml: unterminated comment");
	like(xerr("<a x=1/>"), "t.xml:1:6: bad attribute 'x': value must be quoted",
	    "xml: unquoted attribute");
	like(xerr("<a x='1' x='2'/>"), "t.xml:1:10: bad attribute: duplicate 'x'",
	    "xml: duplicate attribute");
	like(xerr("<a x='1'y='2'/>"), "t.xml:1:9: bad attribute", "xml: attributes need a space");
	like(xerr("<a x='1/>"), "t.xml:1:4: bad attribute 'x': unterminated value",
	    "xml: unterminated attribute value");
	like(xerr("<a x='<'/>"), "bad attribute 'x': '<' in value", "xml: '<' in attribute value");
	like(xerr("<a x></a>"), "bad attribute 'x': expected '='", "xml: attribute without value");
	is_str(xerr("<a>\n x &nbsp; y</a>"), "t.xml:2:4: unknown entity '&nbsp;'", "xml: unknown entity");
	like(xerr("<a v='&foo;'/>"), "t.xml:1:7: unknown entity '&foo;'", "xml: unknown entity in attribute");
	like(xerr("<a>fish & chips</a>"), "t.xml:1:9: bad entity reference", "xml: bare ampersand");
	like(xerr("<a>&#0;</a>"), "bad character reference '&#0;'", "xml: &#0; refused");
	like(xerr("<a>&#xD800;</a>"), "bad character reference", "xml: surrogate reference refused");
	like(xerr("<a>&#x110000;</a>"), "bad character reference", "xml: reference past U+10FFFF refused");
	like(xerr("<a>&#12a;</a>"), "bad character reference", "xml: junk in decimal reference");
	err_clear(&E);
	ok(xml_parse("<a>\nxx\0y</a>", 11, "t.xml", &E) == NULL, "xml: NUL byte refused");
	is_str(E.msg, "t.xml:2:3: NUL byte", "xml: NUL byte position");
	is_str(xerr("<a>\n  <b>text"), "t.xml:2:10: document ends inside element 'b' (opened at 2:3)",
	    "xml: document ends inside element");
	like(xerr("<a/>\n<b/>"), "t.xml:2:1: more than one root element", "xml: two roots");
	like(xerr("<a/>junk"), "t.xml:1:5: text outside the root element", "xml: text after root");
	like(xerr("  \n junk<a/>"), "t.xml:2:2: text outside the root element", "xml: text before root");
	like(xerr("<a/></a>"), "end tag 'a' without a start tag", "xml: stray end tag");
	like(xerr(""), "t.xml:1:1: no root element", "xml: empty document");
	like(xerr("<?xml version='1.0'?><!-- only -->"), "no root element", "xml: comment only");
	like(xerr("<a><![CDATA[x]]</a>"), "t.xml:1:4: unterminated CDATA section", "xml: unterminated CDATA");
	like(xerr("<![CDATA[x]]><a/>"), "CDATA section outside the root element", "xml: CDATA outside root");
	like(xerr("<a><?pi never"), "unterminated processing instruction", "xml: unterminated PI");
	like(xerr("<a/>\n<?xml version='1.0'?>"), "t.xml:2:1: XML declaration not at the start",
	    "xml: late XML declaration");
	like(xerr("<a><b</a>"), "bad attribute in tag 'b'", "xml: junk in a start tag");
	like(xerr("<a></a"), "bad end tag 'a': expected '>'", "xml: unterminated end tag");
	like(xerr("<a><1/></a>"), "t.xml:1:4: bad start tag", "xml: bad element name");
	like(xerr("<a x='1'"), "document ends inside start tag 'a'", "xml: document ends in a start tag");
	like(xerr("<!ELEMENT a ANY><a/>"), "unknown markup declaration", "xml: stray declaration");
	like(xerr("\xFF\xFE<\0a\0/\0>\0"), "UTF-16 is not supported", "xml: UTF-16 refused");
	like(xerr("<a/><!DOCTYPE a>"), "misplaced DOCTYPE", "xml: DOCTYPE after the root");
	like(xerr("<!DOCTYPE a SYSTEM \"x>"), "unterminated DOCTYPE", "xml: unterminated DOCTYPE");

	/* Billion laughs: refused at the first entity declaration. */
	is_str(xerr("<?xml version=\"1.0\"?>\n"
	    "<!DOCTYPE lolz [\n"
	    " <!ENTITY lol \"lol\">\n"
	    " <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
	    " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
	    "]>\n"
	    "<lolz>&lol3;</lolz>\n"),
	    "t.xml:3:2: entity declarations are not supported", "xml: billion laughs refused");
	/* An internal subset without entities is skipped; references stay unknown. */
	is_str(xerr("<!DOCTYPE a [\n <!-- ']' and <!ENTITY in a comment -->\n"
	    " <!ATTLIST a b CDATA \"]>\">\n]>\n<a>&x;</a>"),
	    "t.xml:5:4: unknown entity '&x;'", "xml: entities of an external DTD are inert");
	{
		struct xml_node *n = px("<!DOCTYPE a PUBLIC \"-//x//EN\" 'http://x/a.dtd' [ <!ELEMENT a ANY> ]>\n<a/>");

		ok(n && strcmp(n->name, "a") == 0, "xml: DOCTYPE with internal subset skipped");
		xml_free(n);
	}

	/* Nesting: 256 levels are fine, 257 are not. */
	for (k = 0; k < 256; k++)
		buf_adds(&b, "<d>");
	for (k = 0; k < 256; k++)
		buf_adds(&b, "</d>");
	{
		struct xml_node *n = px(buf_str(&b)), *c;

		ok(n != NULL, "xml: nesting of 256 accepted");
		for (k = 1, c = n; c && c->child; c = c->child)
			k++;
		is_int(k, 256, "xml: all 256 levels built");
		xml_free(n);
	}
	buf_reset(&b);
	for (k = 0; k < 257; k++)
		buf_adds(&b, "<d>");
	is_str(xerr(buf_str(&b)), "t.xml:1:769: nesting deeper than 256", "xml: nesting of 257 refused");
	buf_reset(&b);
	for (k = 0; k < 100000; k++)
		buf_adds(&b, "<d>");
	like(xerr(buf_str(&b)), "nesting deeper than 256", "xml: runaway nesting refused without recursion");
	buf_reset(&b);
	buf_adds(&b, "<a");
	for (k = 0; k < 1025; k++)
		buf_addf(&b, " a%d=''", k);
	buf_adds(&b, "/>");
	like(xerr(buf_str(&b)), "bad attribute: more than 1024 in tag 'a'", "xml: attribute count capped");
	buf_free(&b);
}

static void
test_xml_escape(void)
{
	char all[256], *s;
	struct buf b = BUF_INIT;
	struct xml_node *n;
	int k;

	s = esc("a<b>&\"c'd");
	is_str(s, "a&lt;b&gt;&amp;&quot;c&apos;d", "escape: the five specials");
	free(s);
	s = esc("x\x01\x08\x0b\x0c\x1b[31my\x1f\t\n\rz");
	is_str(s, "x[31my\t\n\rz", "escape: control characters removed, tab/LF/CR kept");
	free(s);
	s = esc("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
	is_str(s, "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "escape: valid UTF-8 untouched");
	free(s);
	s = esc("a\xFFz");
	is_str(s, "a\xEF\xBF\xBDz", "escape: invalid byte becomes U+FFFD");
	free(s);
	s = esc("a\xE2\x82z");
	is_str(s, "a\xEF\xBF\xBDz", "escape: truncated sequence becomes one U+FFFD");
	free(s);
	s = esc("\xC0\xAF");
	is_str(s, "\xEF\xBF\xBD\xEF\xBF\xBD", "escape: overlong form replaced");
	free(s);
	s = esc("\xED\xA0\x80");
	is_str(s, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", "escape: encoded surrogate replaced");
	free(s);
	s = esc("\xEF\xBF\xBE\xEF\xBF\xBF");
	is_str(s, "\xEF\xBF\xBD\xEF\xBF\xBD", "escape: U+FFFE and U+FFFF replaced");
	free(s);
	s = esc("\xC3");
	is_str(s, "\xEF\xBF\xBD", "escape: sequence cut by the end of the string");
	free(s);

	/* Every byte value, escaped into text and an attribute, reads back. */
	for (k = 1; k < 256; k++)
		all[k - 1] = (char)k;
	all[255] = '\0';
	buf_adds(&b, "<r a=\"");
	xml_escape(&b, all);
	buf_adds(&b, "\">");
	xml_escape(&b, all);
	buf_adds(&b, "</r>\n");
	n = px(buf_str(&b));
	ok(n != NULL, "escape: output of every byte parses");
	if (n) {
		s = esc(all);
		ok(strstr(n->text, " !\"#$%&'()*") != NULL && strstr(xml_attr(n, "a"), "<=>") != NULL && strchr(n->text, '\x1b') == NULL,
		    "escape: round trip keeps text, drops ESC");
		ok(strlen(xml_attr(n, "a")) > 0 && strchr(xml_attr(n, "a"), '\x01') == NULL,
		    "escape: attribute round trip");
		free(s);
	}
	xml_free(n);
	if (access("/usr/bin/xmllint", X_OK) == 0) {
		char tmpl[] = "/tmp/report-t.XXXXXX", cmd[128];
		int fd = mkstemp(tmpl), st;

		if (fd >= 0 && write(fd, b.data, b.len) == (ssize_t)b.len) {
			close(fd);
			snprintf(cmd, sizeof(cmd), "xmllint --noout %s 2>/dev/null", tmpl);
			st = system(cmd);
			ok(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
			    "escape: xmllint accepts every byte escaped");
		} else
			ok(0, "escape: write scratch file");
		unlink(tmpl);
	} else
		ok(1, "# skip xmllint not installed");
	buf_free(&b);
}

static const struct junit_case *
find_case(const struct junit_result *r, const char *name)
{
	size_t k;

	for (k = 0; k < r->ncases; k++)
		if (strcmp(r->cases[k].name, name) == 0)
			return &r->cases[k];
	return NULL;
}

static void
test_junit(void)
{
	struct junit_result r;
	const struct junit_case *c;
	int rc;

	memset(&r, 0, sizeof(r));
	err_clear(&E);
	rc = junit_parse_file(DATA "junit-jest.xml", &r, &E);
	is_int(rc, 0, "jest: parses");
	if (rc < 0)
		printf("# %s\n", E.msg);
	is_int(r.tests, 6, "jest: 6 tests");
	is_int(r.failures, 1, "jest: 1 failure");
	is_int(r.errors, 0, "jest: 0 errors");
	is_int(r.skipped, 1, "jest: 1 skipped");
	is_int(r.files, 1, "jest: 1 file");
	c = find_case(&r, "math divide throws on zero");
	ok(c && c->status == JUNIT_FAILED, "jest: failed case found");
	is_str(c ? c->message : NULL, "Error: expect(received).toThrow()", "jest: message is the first line of the text");
	is_str(c ? c->suite : NULL, "src/math.test.js", "jest: suite name");
	ok(c && near(c->time_s, 0.012), "jest: time");
	c = find_case(&r, "math pow is not written yet");
	ok(c && c->status == JUNIT_SKIPPED && c->message == NULL, "jest: skipped, no message");
	c = find_case(&r, "str slugify keeps unicode \xC3\xA9t\xC3\xA9");
	ok(c && c->status == JUNIT_PASSED, "jest: character references decoded in names");
	ok(find_case(&r, "str slugify lowercases & dashes") != NULL, "jest: &amp; decoded");
	junit_result_free(&r);
	is_int(r.ncases, 0, "junit_result_free resets the result");

	err_clear(&E);
	rc = junit_parse_file(DATA "junit-pytest.xml", &r, &E);
	is_int(rc, 0, "pytest: parses");
	is_int(r.tests, 6, "pytest: 6 tests");
	is_int(r.failures, 1, "pytest: 1 failure");
	is_int(r.errors, 1, "pytest: 1 error");
	is_int(r.skipped, 2, "pytest: 2 skipped (skip and xfail)");
	c = find_case(&r, "test_create_user");
	is_str(c ? c->message : NULL, "AssertionError: assert 201 == 200",
	    "pytest: message attribute, first line");
	is_str(c ? c->classname : NULL, "tests.test_api", "pytest: classname");
	is_str(c ? c->suite : NULL, "pytest", "pytest: suite");
	c = find_case(&r, "test_migrate");
	ok(c && c->status == JUNIT_ERROR, "pytest: setup error is an error");
	is_str(c ? c->message : NULL, "failed on setup with \"psycopg2.OperationalError: connection refused\"",
	    "pytest: error message");
	c = find_case(&r, "test_login[admin]");
	is_str(c ? c->message : NULL, "needs LDAP", "pytest: skip message");
	c = find_case(&r, "test_rollback");
	ok(c && c->status == JUNIT_PASSED && near(c->time_s, 0.793), "pytest: system-out does not fail a case");

	/* Cases accumulate across files. */
	err_clear(&E);
	rc = junit_parse_file(DATA "junit-surefire.xml", &r, &E);
	is_int(rc, 0, "surefire: parses");
	if (rc < 0)
		printf("# %s\n", E.msg);
	is_int(r.files, 2, "surefire: added as the second file");
	is_int(r.tests, 11, "surefire: 5 more tests");
	is_int(r.failures, 2, "surefire: 1 more failure (flakyFailure passed)");
	c = find_case(&r, "placesOrder");
	ok(c && near(c->time_s, 1229.75), "surefire: time '1,229.75' read as 1229.75");
	is_str(c ? c->suite : NULL, "com.example.OrderServiceTest", "surefire: nested suite name");
	c = find_case(&r, "rejectsEmptyCart");
	is_str(c ? c->message : NULL, "expected: <400> but was: <200>", "surefire: message attribute");
	c = find_case(&r, "retriesPayment");
	ok(c && c->status == JUNIT_PASSED && near(c->time_s, 0.5), "surefire: flaky passed, time '0,5'");
	c = find_case(&r, "refundsTwice");
	is_str(c ? c->suite : NULL, "com.example.OrderServiceTest$Refunds", "surefire: suite two levels down");
	c = find_case(&r, "roundsHalfEven");
	ok(c && c->time_s == 0, "surefire: unparsable time is 0");

	err_clear(&E);
	rc = junit_parse_file(DATA "junit-mixed.xml", &r, &E);
	is_int(rc, 0, "mixed: parses");
	is_int(r.tests, 15, "mixed: 4 more tests");
	is_int(r.failures, 3, "mixed: failures");
	is_int(r.errors, 2, "mixed: errors");
	is_int(r.skipped, 3, "mixed: skipped");
	c = find_case(&r, "TestGet");
	is_str(c ? c->message : NULL, "Failed", "mixed: failure message");
	c = find_case(&r, "TestCompact");
	ok(c && c->status == JUNIT_ERROR, "mixed: error status");
	c = find_case(&r, "TestS3");
	ok(c && c->status == JUNIT_SKIPPED, "mixed: skipped status");
	is_str(c ? c->classname : NULL, "", "mixed: missing classname is \"\"");
	is_str(c ? c->message : NULL, "AWS_ACCESS_KEY_ID not set", "mixed: skipped message");

	/* A bad file leaves the result as it was. */
	err_clear(&E);
	rc = junit_parse_file(DATA "junit-truncated.xml", &r, &E);
	is_int(rc, -1, "truncated: refused");
	is_int(E.code, EX_USAGE_, "truncated: EX_USAGE_");
	is_str(E.msg, DATA "junit-truncated.xml:12:40: document ends inside element 'failure' (opened at 9:7)",
	    "truncated: message names file, place and element");
	is_int(r.files, 3, "truncated: files unchanged");
	is_int(r.tests, 15, "truncated: tests unchanged");
	is_int(r.ncases, 15, "truncated: cases unchanged");
	{
		const char *doc = "<testsuites>\n  <testsuite name=\"s\">\n"
		    "    <testcase name=\"a\"><failure/></testcase>\n"
		    "    <testcase classname=\"x\"/>\n  </testsuite>\n</testsuites>\n";

		err_clear(&E);
		rc = junit_parse_text(doc, strlen(doc), "x.xml", &r, &E);
		is_str(E.msg, "x.xml:4:5: testcase without a 'name' attribute", "junit: missing name");
		ok(rc == -1 && r.tests == 15 && r.failures == 3 && r.ncases == 15,
		    "junit: partial file rolled back");
	}
	junit_result_free(&r);

	err_clear(&E);
	rc = junit_parse_text("<foo><testcase name='x'/></foo>", 31, "x.xml", &r, &E);
	is_str(E.msg, "'x.xml': root element is 'foo', not a JUnit testsuite(s)", "junit: wrong root");
	err_clear(&E);
	rc = junit_parse_file(DATA "no-such-file.xml", &r, &E);
	ok(rc == -1 && E.code == EX_IOERR_, "junit: missing file is EX_IOERR_");
	like(E.msg, "no-such-file.xml", "junit: missing file named");
	err_clear(&E);
	rc = junit_parse_file(DATA "lcov.info", &r, &E);
	like(E.msg, DATA "lcov.info:1:1: text outside the root element", "junit: not XML at all");

	{
		struct buf b = BUF_INIT;
		int k;

		buf_adds(&b, "<testsuite><testcase name='long'><failure message='  ");
		for (k = 0; k < 199; k++)
			buf_addc(&b, 'x');
		buf_adds(&b, "\xC3\xA9 tail'/></testcase>"
		    "<testcase name='t' time=' 1.234,5 '><error>\n\n   first line  \nsecond</error></testcase>"
		    "<testcase name='u' time='1,234'/><testcase name='v' time='0,012'/>"
		    "<testcase name='w' time='-1'/><testcase name='y' time='nan'/>"
		    "<testcase name='z' time='1.5E-3'/><testcase name='g' time='1.234.567'/>"
		    "</testsuite>");
		err_clear(&E);
		rc = junit_parse_text(b.data, b.len, "m.xml", &r, &E);
		is_int(rc, 0, "junit: message and time edge cases parse");
		c = find_case(&r, "long");
		is_int(c && c->message ? strlen(c->message) : 0, 199,
		    "junit: long message cut to 200 bytes, not inside a character");
		is_str(r.ncases > 0 ? r.cases[0].suite : NULL, "", "junit: suite without a name is \"\"");
		c = find_case(&r, "t");
		is_str(c ? c->message : NULL, "first line", "junit: first non-blank line, trimmed");
		ok(c && near(c->time_s, 1234.5), "junit: time '1.234,5'");
		c = find_case(&r, "u");
		ok(c && near(c->time_s, 1234), "junit: time '1,234' groups thousands");
		c = find_case(&r, "v");
		ok(c && near(c->time_s, 0.012), "junit: time '0,012' is a decimal comma");
		ok(find_case(&r, "w")->time_s == 0 && find_case(&r, "y")->time_s == 0,
		    "junit: negative and nan times are 0");
		ok(near(find_case(&r, "z")->time_s, 0.0015), "junit: exponent");
		ok(near(find_case(&r, "g")->time_s, 1234567), "junit: dotted thousands");
		buf_free(&b);
		junit_result_free(&r);
	}
}

/* Parse text as "x", freeing what c held before (c starts zeroed). */
static int
cov_text(const char *text, int format, struct coverage *c)
{
	coverage_free(c);
	err_clear(&E);
	return coverage_parse_text(text, strlen(text), "x", format, c, &E);
}

/* The warnings of c, joined by " | ". */
static char *
cov_warnings(const struct coverage *c)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; c->warnings && c->warnings[i]; i++)
		buf_addf(&b, "%s%s", i ? " | " : "", c->warnings[i]);
	return buf_detach(&b, NULL);
}

#define WARNINGS_ARE(c, want, name) do { \
	char *cw_ = cov_warnings(c); \
	is_str(cw_, want, name); \
	free(cw_); \
} while (0)

static void
test_lcov(void)
{
	struct coverage c;
	int rc;

	memset(&c, 0, sizeof(c));
	err_clear(&E);
	rc = coverage_parse_file(DATA "lcov.info", COV_LCOV, &c, &E);
	is_int(rc, 0, "lcov: parses");
	if (rc < 0)
		printf("# %s\n", E.msg);
	is_int(c.format, COV_LCOV, "lcov: format");
	is_int(c.lines_total, 13, "lcov: LF of one record plus DA lines of the other");
	is_int(c.lines_hit, 10, "lcov: lines hit");
	is_int(c.branches_total, 8, "lcov: branches (BRF, and BRDA with '-')");
	is_int(c.branches_hit, 5, "lcov: branches hit");
	ok(near(c.lines_pct, 1000.0 / 13), "lcov: lines pct %.4f", c.lines_pct);
	ok(near(c.branches_pct, 62.5), "lcov: branches pct %.4f", c.branches_pct);

	coverage_free(&c);
	err_clear(&E);
	rc = coverage_parse_file(DATA "lcov-bad.info", COV_LCOV, &c, &E);
	is_int(rc, 0, "lcov: a line that is not lcov is skipped");
	ok(c.lines_total == 13 && c.lines_hit == 10, "lcov: ... and the records around it read");
	WARNINGS_ARE(&c, DATA "lcov-bad.info:7: skipped a line that is not an lcov record",
	    "lcov: ... with a warning naming the file and line");

	rc = cov_text("make[1]: Entering directory '/src/app'\nlcov --capture\n"
	    "SF:a.c\nDA:1,1\nDA:2,0\nDA:3,4\nBRDA:2,0,0,1\nBRDA:2,0,1,0\nend_of_record\n"
	    "Overall coverage rate:\n  lines......: 66.7% (2 of 3 lines)\n"
	    "make[1]: Leaving directory '/src/app'\n", COV_LCOV, &c);
	ok(rc == 0 && c.lines_total == 3 && c.lines_hit == 2 && c.branches_total == 2 &&
	    c.branches_hit == 1, "lcov: make's output around the records, totals from DA and BRDA");
	WARNINGS_ARE(&c, "x:1: skipped 5 lines that are not lcov records, the first here",
	    "lcov: ... said once, at the first");
	rc = cov_text("make: Entering directory '/src'\nSF:a.c\nDA:1,1\nmake: Leaving directory '/src'\n",
	    COV_LCOV, &c);
	ok(rc == 0 && c.lines_total == 1, "lcov: 'make: ...' is no record (keys are capitals)");
	WARNINGS_ARE(&c, "x:1: skipped 2 lines that are not lcov records, the first here",
	    "lcov: ... and is said");
	rc = cov_text("make: Entering directory\nnothing here\n", COV_LCOV, &c);
	is_str(E.msg, "'x': no coverage records", "lcov: nothing but output is still no report");
	ok(c.warnings == NULL, "lcov: ... and no warning is kept");

	rc = cov_text("SF:a.c\nDA:1,1\nDA:2,0\nLF:10\nLH:7\nend_of_record\n", COV_LCOV, &c);
	ok(rc == 0 && c.lines_total == 10 && c.lines_hit == 7, "lcov: LF/LH preferred over DA");
	ok(near(c.branches_pct, -1), "lcov: no branch data is -1");
	rc = cov_text("TN:t\r\nSF:a.c\r\nFN:1,f\r\nFNDA:1,f\r\nFNF:1\r\nFNH:1\r\nDA:1,3\r\nDA:2,0,abc=\r\n"
	    "VER:2\r\nBRDA:1,e0,(x > 1) == True,1\r\nBRDA:2,0,0,18446744073709551616\r\n"
	    "BRDA:3,0,1,-\r\nDA:3,-1\r\nBRF:0\r\nend_of_record", COV_LCOV, &c);
	ok(rc == 0, "lcov: CRLF, checksums, lcov 2 branch expressions, no final newline");
	ok(rc == 0 && c.lines_total == 3 && c.lines_hit == 1, "lcov: negative hits count as not hit");
	ok(rc == 0 && c.branches_total == 3 && c.branches_hit == 2 && near(c.branches_pct, 200.0 / 3),
	    "lcov: BRDA counted when BRH is missing, huge counts saturate");
	rc = cov_text("SF:a\nLF:0\nLH:0\nBRF:0\nBRH:0\nend_of_record\n", COV_LCOV, &c);
	ok(rc == 0 && near(c.lines_pct, 100) && near(c.branches_pct, -1),
	    "lcov: no lines is 100%%, BRF:0 is no branch data");
	rc = cov_text("SF:a\nDA:1,1\nBRF:0\nBRH:0\nend_of_record\nSF:b\nDA:1,1\nBRF:2\nBRH:1\n",
	    COV_LCOV, &c);
	ok(rc == 0 && near(c.branches_pct, 50), "lcov: BRF:0 in one file, branches in another");
	rc = cov_text("SF:a\nDA:1,1\nSF:b\nDA:1,0\n", COV_LCOV, &c);
	ok(rc == 0 && c.lines_total == 2 && c.lines_hit == 1, "lcov: records without end_of_record");

	rc = cov_text("", COV_LCOV, &c);
	is_str(E.msg, "'x': no coverage records", "lcov: empty file");
	rc = cov_text("TN:\n\nend_of_record\n", COV_LCOV, &c);
	is_str(E.msg, "'x': no coverage records", "lcov: no SF record");
	rc = cov_text("SF:a\nDA:1,x\n", COV_LCOV, &c);
	like(E.msg, "x:2: bad lcov line", "lcov: non-numeric hits");
	rc = cov_text("SF:a\nDA:1\n", COV_LCOV, &c);
	like(E.msg, "x:2: bad lcov line", "lcov: DA without hits");
	rc = cov_text("SF:a\nLF:ten\n", COV_LCOV, &c);
	like(E.msg, "x:2: bad lcov line", "lcov: non-numeric LF");
	rc = cov_text("SF:a\nLH:99999999999999999999\n", COV_LCOV, &c);
	like(E.msg, "x:2: bad lcov line", "lcov: LH overflow");
	rc = cov_text("SF:a\nBRDA:1,0,0\n", COV_LCOV, &c);
	like(E.msg, "x:2: bad lcov line", "lcov: short BRDA");
	rc = cov_text("SF:a\nBRDA:1,0,0,maybe\n", COV_LCOV, &c);
	like(E.msg, "x:2: bad lcov line", "lcov: BRDA taken not a number");
	rc = cov_text("TN:\nDA:1,1\nSF:a\n", COV_LCOV, &c);
	like(E.msg, "x:2: bad lcov line", "lcov: DA before SF");
	rc = cov_text("SF:a\nLF:2\nLH:3\nend_of_record\n", COV_LCOV, &c);
	is_str(E.msg, "x:3: LH (3) is greater than LF (2)", "lcov: LH > LF");
	rc = cov_text("SF:a\n: x\n", COV_LCOV, &c);
	ok(rc == 0, "lcov: an empty key is no record");
	WARNINGS_ARE(&c, "x:2: skipped a line that is not an lcov record", "lcov: ... and is said");
	coverage_free(&c);
	err_clear(&E);
	rc = coverage_parse_text("SF:a\nDA:1,\0\n", 11, "x", COV_LCOV, &c, &E);
	like(E.msg, "x:2: NUL byte", "lcov: NUL byte");
	ok(c.lines_total == 0 && c.format == COV_LCOV, "lcov: result cleared on error");
	coverage_free(&c);
}

static void
test_cobertura(void)
{
	struct coverage c;
	int rc;

	memset(&c, 0, sizeof(c));
	err_clear(&E);
	rc = coverage_parse_file(DATA "cobertura.xml", COV_COBERTURA, &c, &E);
	is_int(rc, 0, "cobertura: coverage.py report with DOCTYPE parses");
	if (rc < 0)
		printf("# %s\n", E.msg);
	ok(c.lines_total == 57 && c.lines_hit == 49, "cobertura: lines-valid/lines-covered");
	ok(c.branches_total == 14 && c.branches_hit == 9, "cobertura: branches-valid/branches-covered");
	ok(near(c.lines_pct, 4900.0 / 57), "cobertura: lines pct %.4f", c.lines_pct);
	ok(near(c.branches_pct, 900.0 / 14), "cobertura: branches pct %.4f", c.branches_pct);

	err_clear(&E);
	rc = coverage_parse_file(DATA "cobertura-bad.xml", COV_COBERTURA, &c, &E);
	is_int(rc, -1, "cobertura: bad count refused");
	is_str(E.msg, DATA "cobertura-bad.xml:3:1: bad 'lines-covered' value 'forty-nine' "
	    "(expected a non-negative integer)", "cobertura: names file, place and attribute");

	rc = cov_text("<coverage line-rate=\"0.75\" branch-rate=\"0.5\"><packages/></coverage>",
	    COV_COBERTURA, &c);
	ok(rc == 0 && near(c.lines_pct, 75) && near(c.branches_pct, 50) && c.lines_total == 0 &&
	    c.branches_total == 0, "cobertura: rates only, totals unknown");
	rc = cov_text("<coverage lines-valid='10' lines-covered='10' branches-valid='0' "
	    "branches-covered='0' branch-rate='0' line-rate='1'/>", COV_COBERTURA, &c);
	ok(rc == 0 && near(c.lines_pct, 100) && near(c.branches_pct, -1),
	    "cobertura: branches-valid 0 is no branch data");
	rc = cov_text("<coverage lines-valid='0' lines-covered='0'/>", COV_COBERTURA, &c);
	ok(rc == 0 && near(c.lines_pct, 100) && near(c.branches_pct, -1),
	    "cobertura: no lines is 100%%, no branch attributes is -1");
	rc = cov_text("<coverage lines-valid='4' line-rate='0.25'/>", COV_COBERTURA, &c);
	ok(rc == 0 && near(c.lines_pct, 25), "cobertura: half a pair falls back to the rate");
	rc = cov_text("<coverage line-rate='1.5'/>", COV_COBERTURA, &c);
	like(E.msg, "x:1:1: bad 'line-rate' value '1.5'", "cobertura: rate above 1");
	rc = cov_text("<coverage line-rate='0.5' branch-rate='nan'/>", COV_COBERTURA, &c);
	like(E.msg, "bad 'branch-rate' value 'nan'", "cobertura: nan rate");
	rc = cov_text("<coverage line-rate=' 0.5'/>", COV_COBERTURA, &c);
	like(E.msg, "bad 'line-rate'", "cobertura: rate with a space");
	rc = cov_text("<coverage lines-valid='-3' lines-covered='1'/>", COV_COBERTURA, &c);
	like(E.msg, "bad 'lines-valid' value '-3'", "cobertura: negative count");
	rc = cov_text("<coverage lines-valid='3' lines-covered='4'/>", COV_COBERTURA, &c);
	like(E.msg, "'lines-covered' (4) is greater than 'lines-valid' (3)", "cobertura: covered > valid");
	rc = cov_text("<coverage version='1'/>", COV_COBERTURA, &c);
	like(E.msg, "x:1:1: 'coverage' has neither", "cobertura: no line data");
	rc = cov_text("<report/>", COV_COBERTURA, &c);
	is_str(E.msg, "'x': root element is 'report', not a Cobertura 'coverage'", "cobertura: wrong root");
	rc = cov_text("<?xml version='1.0'?>\n<!DOCTYPE coverage [<!ENTITY a 'aaaa'>]>\n"
	    "<coverage line-rate='&a;'/>", COV_COBERTURA, &c);
	like(E.msg, "x:2:21: entity declarations are not supported", "cobertura: entity declarations refused");
	rc = cov_text("<coverage line-rate='0.5'>", COV_COBERTURA, &c);
	like(E.msg, "document ends inside element 'coverage'", "cobertura: truncated");

	/* A byte order mark (as .NET tools write): no line is captured output. */
	rc = cov_text("\xef\xbb\xbf<?xml version='1.0'?>\n<coverage lines-valid='1' "
	    "lines-covered='1'/>\n", COV_COBERTURA, &c);
	ok(rc == 0 && c.warnings == NULL, "cobertura: a BOM on line 1 is no skipped line");
	rc = cov_text("\xef\xbb\xbf<?xml version='1.0'?><coverage lines-valid='1' lines-covered='1'>\n"
	    "<packages/>\n</coverage>\ndone\n", COV_COBERTURA, &c);
	ok(rc == 0 && c.lines_total == 1, "cobertura: a BOM and the root on line 1, junk after: "
	    "parses (%s)", E.msg);
	WARNINGS_ARE(&c, "x:4: skipped 1 line after the XML (not part of the report)",
	    "... warned about the line after only");
	/* Names from the file in the warnings: the document stays UTF-8. */
	rc = cov_text("<coverage lines-valid='1' lines-covered='1'><x\377/></coverage>",
	    COV_COBERTURA, &c);
	ok(rc == 0 && c.warnings && strstr(c.warnings[0], "x\xef\xbf\xbd'") != NULL,
	    "cobertura: a name that is not UTF-8 is warned with U+FFFD: %s",
	    c.warnings ? c.warnings[0] : "none");
	rc = cov_text("<coverage lines-valid='1' lines-covered='1'><"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\xc3\xa9/></coverage>",
	    COV_COBERTURA, &c);
	ok(rc == 0 && c.warnings && strstr(c.warnings[0], "xxx\xef\xbf\xbd'") != NULL,
	    "cobertura: a name cut inside a character ends in U+FFFD");

	rc = cov_text("gcovr 7.2\nwriting coverage.xml\n\n<?xml version='1.0'?>\n"
	    "<coverage lines-valid='4' lines-covered='3' branches-valid='0' branches-covered='0'>\n"
	    "<sources><source>.</source></sources><meta tool='x'><a/></meta>\n"
	    "<packages><package><classes><class><lines><line number='1' hits='1'/></lines>"
	    "<extra/></class></classes></package></packages><meta/></coverage>\n"
	    "done in 0.2s\n", COV_COBERTURA, &c);
	ok(rc == 0 && c.lines_total == 4 && c.lines_hit == 3 && near(c.branches_pct, -1),
	    "cobertura: output around the XML, unknown elements");
	WARNINGS_ARE(&c, "x:1: skipped 2 lines before the XML (not part of the report) | "
	    "x:8: skipped 1 line after the XML (not part of the report) | "
	    "x:6:38: skipped the unknown element 'meta' | "
	    "x:7:78: skipped the unknown element 'extra'",
	    "cobertura: ... each named once, at its place");
	rc = cov_text("oops\n<coverage lines-valid='4' lines-covered='5'/>\n", COV_COBERTURA, &c);
	like(E.msg, "x:2:1: 'lines-covered' (5)", "cobertura: places stay right after skipped lines");
	coverage_free(&c);
}

static void
test_istanbul(void)
{
	struct coverage c;
	int rc;

	memset(&c, 0, sizeof(c));
	err_clear(&E);
	rc = coverage_parse_file(DATA "coverage-summary.json", COV_ISTANBUL, &c, &E);
	is_int(rc, 0, "istanbul: parses");
	if (rc < 0)
		printf("# %s\n", E.msg);
	ok(c.lines_total == 230 && c.lines_hit == 191, "istanbul: total.lines counts");
	ok(c.branches_total == 64 && c.branches_hit == 41, "istanbul: total.branches counts");
	ok(near(c.lines_pct, 19100.0 / 230), "istanbul: lines pct %.4f", c.lines_pct);
	ok(near(c.branches_pct, 64.0625), "istanbul: branches pct %.4f", c.branches_pct);
	is_int(c.format, COV_ISTANBUL, "istanbul: format");

	err_clear(&E);
	rc = coverage_parse_file(DATA "coverage-summary-bad.json", COV_ISTANBUL, &c, &E);
	is_int(rc, -1, "istanbul: bad pct refused");
	is_str(E.msg, "'" DATA "coverage-summary-bad.json': total.lines.pct: expected a number",
	    "istanbul: names the file and key path");

	rc = cov_text("{\"total\":{\"lines\":{\"total\":0,\"covered\":0,\"skipped\":0,\"pct\":\"Unknown\"},"
	    "\"branches\":{\"total\":0,\"covered\":0,\"pct\":\"Unknown\"}}}", COV_ISTANBUL, &c);
	ok(rc == 0 && near(c.lines_pct, 100) && near(c.branches_pct, -1),
	    "istanbul: no lines is 100, no branches (total 0) is no branch data");
	rc = cov_text("{\"total\":{\"lines\":{\"total\":4,\"covered\":4,\"pct\":100},"
	    "\"branches\":{\"total\":0,\"covered\":0,\"pct\":100}}}", COV_ISTANBUL, &c);
	ok(rc == 0 && near(c.branches_pct, -1), "istanbul: ... as newer Istanbul writes it (pct 100)");
	rc = cov_text("> jest --coverage\n\n{\"total\":{\"lines\":{\"total\":4,\"covered\":3,\"pct\":75,"
	    "\"uncovered\":1},\"branches\":{\"total\":2,\"covered\":1,\"pct\":50},\"mcdc\":{}},"
	    "\"src/a.js\":{\"lines\":{}}}\nDone in 3.1s.\n", COV_ISTANBUL, &c);
	ok(rc == 0 && near(c.lines_pct, 75) && near(c.branches_pct, 50),
	    "istanbul: output around the JSON, unknown keys");
	WARNINGS_ARE(&c, "x:1: skipped 1 line before the JSON (not part of the report) | "
	    "x:4: skipped 1 line after the JSON (not part of the report) | "
	    "'x': total.mcdc: skipped the unknown key | 'x': total.lines.uncovered: skipped the unknown key",
	    "istanbul: ... each named once");
	rc = cov_text("{\"total\":{\"lines\":{\"total\":4,\"covered\":1,\"pct\":25}}}", COV_ISTANBUL, &c);
	ok(rc == 0 && near(c.lines_pct, 25) && near(c.branches_pct, -1), "istanbul: no branches is -1");
	rc = cov_text("{\"total\":{\"lines\":{\"total\":\"4\",\"covered\":1,\"pct\":25}}}", COV_ISTANBUL, &c);
	is_str(E.msg, "'x': total.lines.total: expected a non-negative integer", "istanbul: total as a string");
	rc = cov_text("{\"total\":{\"lines\":{\"total\":4,\"covered\":1.5,\"pct\":25}}}", COV_ISTANBUL, &c);
	is_str(E.msg, "'x': total.lines.covered: expected a non-negative integer", "istanbul: fractional count");
	rc = cov_text("{\"total\":{\"lines\":{\"total\":4,\"covered\":5,\"pct\":125}}}", COV_ISTANBUL, &c);
	like(E.msg, "total.lines.covered (5) is greater than total.lines.total (4)", "istanbul: covered > total");
	rc = cov_text("{\"total\":{\"lines\":{\"total\":4,\"covered\":1,\"pct\":25},\"branches\":[]}}",
	    COV_ISTANBUL, &c);
	is_str(E.msg, "'x': total.branches: expected an object", "istanbul: branches not an object");
	rc = cov_text("{\"total\":{\"lines\":{\"total\":4,\"covered\":1}}}", COV_ISTANBUL, &c);
	is_str(E.msg, "'x': total.lines.pct: expected a number", "istanbul: missing pct");
	rc = cov_text("{\"total\":{\"statements\":{}}}", COV_ISTANBUL, &c);
	is_str(E.msg, "'x': total.lines: missing", "istanbul: missing lines");
	rc = cov_text("{\"src/a.js\":{}}", COV_ISTANBUL, &c);
	is_str(E.msg, "'x': total: missing", "istanbul: missing total");
	rc = cov_text("{\"total\":[]}", COV_ISTANBUL, &c);
	is_str(E.msg, "'x': total: expected an object", "istanbul: total not an object");
	rc = cov_text("[1]", COV_ISTANBUL, &c);
	is_str(E.msg, "'x': expected a JSON object", "istanbul: not an object");
	rc = cov_text("{\"total\":\n{\"lines\":}", COV_ISTANBUL, &c);
	ok(rc == -1 && strncmp(E.msg, "x:2:", 4) == 0, "istanbul: JSON syntax error has a place: %s", E.msg);
	rc = cov_text("{\"/src/a.js\": {\"path\": \"/src/a.js\", \"statementMap\": {}, \"s\": {}}}",
	    COV_ISTANBUL, &c);
	like(E.msg, "this is Istanbul's coverage-final.json, which is not supported",
	    "istanbul: coverage-final.json is named as such");
	coverage_free(&c);
}

int
main(void)
{
	struct coverage c;

	test_xml_basics();
	test_xml_errors();
	test_xml_escape();
	test_junit();
	test_lcov();
	test_cobertura();

	is_int(coverage_format("lcov"), COV_LCOV, "coverage_format lcov");
	is_int(coverage_format("cobertura"), COV_COBERTURA, "coverage_format cobertura");
	is_int(coverage_format("istanbul"), COV_ISTANBUL, "coverage_format istanbul");
	is_int(coverage_format("clover"), -1, "coverage_format unknown");
	is_str(coverage_format_name(COV_COBERTURA), "cobertura", "coverage_format_name");
	err_clear(&E);
	ok(coverage_parse_text("x", 1, "x", 9, &c, &E) == -1, "coverage: unknown format refused");
	err_clear(&E);
	ok(coverage_parse_file("/nonexistent/lcov.info", COV_LCOV, &c, &E) == -1 && E.code == EX_IOERR_,
	    "coverage: unreadable file is EX_IOERR_");

	/* last: lib/json.c was being written alongside */
	test_istanbul();
	return done_testing();
}
