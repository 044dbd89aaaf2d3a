/* Unit tests for lib/hurl: every construct of the subset, and refusals. */
#include <stdlib.h>
#include <string.h>

#include "smoke/hurl.h"
#include "tap.h"

static int
parse(const char *text, struct hurl_file *f, struct err *e)
{
	err_clear(e);
	return hurl_parse(text, strlen(text), "t/x.hurl", f, e);
}

/* Parse text that must be refused with a message containing want. */
static void
refuse(const char *what, const char *text, const char *want)
{
	struct hurl_file f;
	struct err e = { 0, "" };
	int rc = parse(text, &f, &e);

	ok(rc == -1 && e.code == EX_USAGE_, "refused: %s", what);
	like(e.msg, want, "... %s: message", what);
	hurl_file_free(&f);
}

static int
has_ref(const struct hurl_entry *en, const char *name, int line, int phase)
{
	size_t i;

	for (i = 0; i < en->nrefs; i++)
		if (!strcmp(en->refs[i].name, name) && en->refs[i].line == line &&
		    en->refs[i].phase == phase)
			return 1;
	return 0;
}

static const char seed[] =
    "# The seed's smoke tests.\n"
    "# name: Health check\n"
    "GET {{base}}/health\n"
    "HTTP 200\n"
    "[Asserts]\n"
    "duration < 1000\n"
    "\n"
    "# name: Database connectivity\n"
    "GET {{base}}/health/db\n"
    "HTTP 200\n"
    "[Asserts]\n"
    "jsonpath \"$.db\" == \"connected\"\n"
    "\n"
    "# name: Login flow\n"
    "POST {{base}}/login\n"
    "Content-Type: application/json\n"
    "{\n"
    "  \"email\": \"test@test.com\",\n"
    "  \"password\": \"{{password}}\"\n"
    "}\n"
    "HTTP 200\n"
    "[Captures]\n"
    "token: jsonpath \"$.token\" redact\n"
    "[Asserts]\n"
    "jsonpath \"$.token\" matches /^[\\w-]+\\.[\\w-]+\\.[\\w-]+$/\n"
    "\n"
    "GET {{base}}/profile\n"
    "Authorization: Bearer {{token}}\n"
    "HTTP 200\n"
    "\n"
    "# name: Checkout flow\n"
    "POST {{base}}/checkout\n"
    "Authorization: Bearer {{token}}\n"
    "{\"items\": [{\"sku\": \"A1\", \"qty\": {{qty}}}]}\n"
    "HTTP 201\n"
    "\n"
    "GET {{base}}/search?q=test\n"
    "HTTP 200\n"
    "[Asserts]\n"
    "jsonpath \"$.results\" count > 0\n";

static void
test_seed(void)
{
	struct hurl_file f;
	struct err e = { 0, "" };
	const struct hurl_entry *en;

	if (!ok(parse(seed, &f, &e) == 0, "the seed file parses")) {
		printf("# %s\n", e.msg);
		return;
	}
	is_int(f.nentries, 6, "six entries");
	is_str(f.dir, "t", "the directory of the file");
	en = &f.entries[0];
	is_str(en->name, "Health check", "# name: comment names the entry");
	is_str(en->req.method, "GET", "method");
	is_str(en->req.url.s, "{{base}}/health", "URL kept with its template");
	is_int(en->req.line, 3, "request line number");
	ok(en->req.url.has_tmpl, "URL has a template");
	ok(has_ref(en, "base", 3, 0), "the URL's variable is listed");
	ok(en->resp.present && en->resp.status == 200 && en->resp.version == 0, "HTTP 200");
	is_int(en->resp.nasserts, 1, "one assert");
	is_int(en->resp.asserts[0].q.kind, HQ_DURATION, "duration query");
	is_int(en->resp.asserts[0].pred.kind, HP_LT, "< predicate");
	is_int(en->resp.asserts[0].pred.v.kind, HV_INT, "integer value");
	is_int(en->resp.asserts[0].pred.v.i, 1000, "... 1000");
	is_str(en->resp.asserts[0].text, "duration < 1000", "assert text kept");
	is_int(en->resp.asserts[0].line, 6, "assert line");

	en = &f.entries[1];
	is_str(en->name, "Database connectivity", "second name");
	is_int(en->resp.asserts[0].q.kind, HQ_JSONPATH, "jsonpath query");
	ok(en->resp.asserts[0].q.jp != NULL, "jsonpath compiled at parse time");
	is_str(en->resp.asserts[0].pred.v.s.s, "connected", "string value");

	en = &f.entries[2];
	is_int(en->req.nheaders, 1, "one header");
	is_str(en->req.headers[0].key.s, "Content-Type", "header name");
	is_str(en->req.headers[0].value.s, "application/json", "header value");
	is_int(en->req.body.kind, HB_JSON, "JSON body");
	like(en->req.body.text.s, "\"password\": \"{{password}}\"", "JSON body text");
	ok(has_ref(en, "password", 19, 0), "a variable in the body, with its line");
	is_int(en->resp.ncaptures, 1, "one capture");
	is_str(en->resp.captures[0].name, "token", "capture name");
	ok(en->resp.captures[0].redact, "redact");
	is_int(en->resp.asserts[0].pred.kind, HP_MATCHES, "matches");
	is_int(en->resp.asserts[0].pred.v.kind, HV_REGEX, "regex literal");
	ok(en->resp.asserts[0].pred.v.rx.compiled, "regex compiled");

	en = &f.entries[3];
	ok(en->name == NULL, "an entry without a name comment has none");
	ok(has_ref(en, "token", 28, 0), "a captured variable used in a header");
	ok(en->resp.present && en->resp.nasserts == 0, "a bare status line");

	en = &f.entries[4];
	is_int(en->req.body.kind, HB_JSON, "one-line JSON body");
	ok(has_ref(en, "qty", 34, 0), "a template as a JSON value");
	is_int(en->resp.status, 201, "HTTP 201");

	en = &f.entries[5];
	is_int(en->resp.asserts[0].nfilters, 1, "count filter");
	is_int(en->resp.asserts[0].filters[0].kind, HF_COUNT, "... is count");
	hurl_file_free(&f);
}

static void
test_request_sections(void)
{
	struct hurl_file f;
	struct err e = { 0, "" };
	const struct hurl_request *rq;
	const char *text =
	    "\xef\xbb\xbfPATCH https://example.org/api?x=1 # a comment\r\n"
	    "X-Hash: a\\#b # comment\r\n"
	    "X-Unicode: \\u{41}\\u{e9}\r\n"
	    "X-Empty:\r\n"
	    "{{hname}}: v\r\n"
	    "[Query]\r\n"
	    "q: {{term}}\r\n"
	    "n: 10\r\n"
	    "ID : 5\r\n"
	    "[FormParams]\r\n"
	    "user: bob\r\n"
	    "[Multipart]\r\n"
	    "field: value\r\n"
	    "upload: file,data.bin; application/octet-stream\r\n"
	    "doc: file,doc.txt;\r\n"
	    "[Cookies]\r\n"
	    "session: abc\r\n"
	    "[BasicAuth]\r\n"
	    "alice: s3cret\r\n"
	    "[Options]\r\n"
	    "retry: 3\r\n"
	    "retry-interval: 250ms\r\n"
	    "delay: 2s\r\n"
	    "location: true\r\n"
	    "insecure: false\r\n"
	    "variable: host=example.org\r\n"
	    "skip: false\r\n"
	    "max-time: 1500\r\n"
	    "connect-timeout: 1s\r\n"
	    "retry: {{n}}\r\n"
	    "verbose: true\r\n";

	if (!ok(parse(text, &f, &e) == 0, "request sections parse (CRLF, BOM)")) {
		printf("# %s\n", e.msg);
		return;
	}
	rq = &f.entries[0].req;
	is_str(rq->method, "PATCH", "any method");
	is_str(rq->url.s, "https://example.org/api?x=1", "URL before a comment");
	is_int(rq->nheaders, 4, "four headers");
	is_str(rq->headers[0].value.s, "a#b", "escaped # in a value, comment cut");
	is_str(rq->headers[1].value.s, "A\xc3\xa9", "unicode escapes");
	is_str(rq->headers[2].value.s, "", "empty header value");
	is_str(rq->headers[3].key.s, "{{hname}}", "templated header name");
	is_int(rq->nquery, 3, "[Query] alias");
	ok(!strcmp(rq->query[2].key.s, "ID") && !strcmp(rq->query[2].value.s, "5"),
	    "'ID : 5' is a parameter, not a request line");
	ok(rq->query[0].value.has_tmpl, "query value template");
	is_int(rq->nform, 1, "[FormParams]");
	is_int(rq->nmultipart, 3, "[Multipart] alias");
	ok(!rq->multipart[0].is_file, "plain part");
	ok(rq->multipart[1].is_file, "file part");
	is_str(rq->multipart[1].value.s, "data.bin", "file part name");
	is_str(rq->multipart[1].content_type, "application/octet-stream", "file part type");
	ok(rq->multipart[2].is_file && rq->multipart[2].content_type == NULL, "file part without a type");
	is_int(rq->ncookies, 1, "[Cookies]");
	ok(rq->basic_auth && !strcmp(rq->basic_auth->key.s, "alice") &&
	    !strcmp(rq->basic_auth->value.s, "s3cret"), "[BasicAuth]");
	is_int(rq->noptions, 10, "ten options (verbose ignored)");
	is_int(rq->options[0].kind, HO_RETRY, "retry");
	is_int(rq->options[0].num, 3, "retry: 3");
	is_int(rq->options[1].num, 250, "retry-interval: 250ms");
	is_int(rq->options[2].num, 2000, "delay: 2s");
	is_int(rq->options[3].num, 1, "location: true");
	is_int(rq->options[4].num, 0, "insecure: false");
	is_str(rq->options[5].var_name, "host", "variable name");
	is_str(rq->options[5].value.s, "example.org", "variable value");
	is_int(rq->options[6].kind, HO_SKIP, "skip");
	is_int(rq->options[7].num, 1500, "max-time: bare milliseconds");
	is_int(rq->options[8].num, 1000, "connect-timeout: 1s");
	ok(rq->options[9].value.has_tmpl, "a templated option value waits for the run");
	hurl_file_free(&f);
}

static void
test_bodies(void)
{
	struct hurl_file f;
	struct err e = { 0, "" };
	const char *text =
	    "POST http://h/xml\n"
	    "<?xml version=\"1.0\"?>\n"
	    "<!-- c -->\n"
	    "<a x=\"1>2\"><b/><c>t</c>\n"
	    "</a>\n"
	    "HTTP 200\n"
	    "POST http://h/multi\n"
	    "```\n"
	    "line1 {{v}}\n"
	    "line2\n"
	    "```\n"
	    "POST http://h/multijson\n"
	    "```json\n"
	    "{\"a\": 1}\n"
	    "```\n"
	    "POST http://h/oneline\n"
	    "```inline text```\n"
	    "POST http://h/backtick\n"
	    "`one \\`two\\``\n"
	    "POST http://h/b64\n"
	    "base64,SGVsbG8g\n"
	    "d29ybGQ=;\n"
	    "POST http://h/hex\n"
	    "hex,636166c3a9;\n"
	    "POST http://h/file\n"
	    "file, body.json;\n"
	    "POST http://h/array\n"
	    "[true]\n"
	    "GET http://h/json-response\n"
	    "HTTP/1.1 200\n"
	    "Content-Type: application/json\n"
	    "[Asserts]\n"
	    "status == 200\n"
	    "{\"ok\": true}\n"
	    "GET http://h/text-response\n"
	    "HTTP/2 *\n"
	    "```\n"
	    "hello\n"
	    "```\n"
	    "GET http://h/any\n"
	    "HTTP/* 301\n"
	    "GET http://h/three\n"
	    "HTTP/3 204\n"
	    "GET http://h/ten\n"
	    "HTTP/1.0 200\n";
	const struct hurl_entry *en;

	if (!ok(parse(text, &f, &e) == 0, "bodies parse")) {
		printf("# %s\n", e.msg);
		return;
	}
	is_int(f.nentries, 14, "fourteen entries");
	en = f.entries;
	is_int(en[0].req.body.kind, HB_XML, "XML body");
	is_str(en[0].req.body.text.s, "<?xml version=\"1.0\"?>\n<!-- c -->\n<a x=\"1>2\"><b/><c>t</c>\n</a>",
	    "XML body text, up to the root's end");
	ok(en[0].resp.present, "... then the response");
	is_int(en[1].req.body.kind, HB_TEXT, "multiline string");
	is_str(en[1].req.body.text.s, "line1 {{v}}\nline2\n", "multiline text, with newlines");
	ok(has_ref(&en[1], "v", 9, 0), "template in a multiline string, with its line");
	ok(en[1].req.body.lang == NULL, "no language");
	is_str(en[2].req.body.lang, "json", "```json");
	is_str(en[3].req.body.text.s, "inline text", "```one line```");
	is_str(en[4].req.body.text.s, "one `two`", "`oneline` with escapes");
	is_int(en[5].req.body.kind, HB_BYTES, "base64 body");
	ok(en[5].req.body.len == 11 && !memcmp(en[5].req.body.bytes, "Hello world", 11),
	    "base64 over two lines");
	ok(en[6].req.body.len == 5 && !memcmp(en[6].req.body.bytes, "caf\xc3\xa9", 5), "hex body");
	is_int(en[7].req.body.kind, HB_FILE, "file body");
	is_str(en[7].req.body.text.s, "body.json", "file name");
	is_int(en[8].req.body.kind, HB_JSON, "[true] is JSON, not a section");
	is_int(en[9].resp.version, 11, "HTTP/1.1");
	is_int(en[9].resp.nheaders, 1, "response header");
	is_int(en[9].resp.body.kind, HB_JSON, "response JSON body");
	is_int(en[10].resp.version, 20, "HTTP/2");
	is_int(en[10].resp.status, -1, "status *");
	is_str(en[10].resp.body.text.s, "hello\n", "response multiline body");
	is_int(en[11].resp.version, -1, "HTTP/*");
	is_int(en[12].resp.version, 30, "HTTP/3");
	is_int(en[13].resp.version, 10, "HTTP/1.0");
	hurl_file_free(&f);
}

static void
test_asserts(void)
{
	struct hurl_file f;
	struct err e = { 0, "" };
	const struct hurl_response *r;
	const char *text =
	    "GET http://h/\n"
	    "HTTP 200\n"
	    "[Captures]\n"
	    "a: status\n"
	    "b: header \"Location\" regex \"id=(\\\\d+)\"\n"
	    "c_1: jsonpath \"$.items\" nth 0 toInt\n"
	    "d-2: regex /token=([a-z]+)/\n"
	    "e: body split \",\" nth -1 toString\n"
	    "f: url replace \"http\" \"https\" urlDecode urlEncode\n"
	    "g: bytes count\n"
	    "h: variable \"a\" toFloat\n"
	    "i: body jsonpath \"$.x\"\n"
	    "j: duration\n"
	    "k: body replace /[0-9]+/ \"N\"\n"
	    "[Asserts]\n"
	    "status == 200 # comment\n"
	    "status != 500\n"
	    "status >= 200\n"
	    "status <= 299\n"
	    "status > 199\n"
	    "header \"X\" not exists\n"
	    "header \"Content-Type\" startsWith \"application/\"\n"
	    "header \"Content-Type\" endsWith \"json\"\n"
	    "body contains \"ok\"\n"
	    "body not contains \"error\"\n"
	    "body matches \"^\\\\{\"\n"
	    "jsonpath \"$.n\" == null\n"
	    "jsonpath \"$.t\" == true\n"
	    "jsonpath \"$.f\" == false\n"
	    "jsonpath \"$.pi\" == 3.14\n"
	    "jsonpath \"$.neg\" == -2\n"
	    "jsonpath \"$.e\" == 1e3\n"
	    "jsonpath \"$.s\" == `raw`\n"
	    "jsonpath \"$.v\" == {{ expected }}\n"
	    "jsonpath \"$.list\" includes 3\n"
	    "jsonpath \"$.i\" isInteger\n"
	    "jsonpath \"$.fl\" isFloat\n"
	    "jsonpath \"$.i\" isNumber\n"
	    "jsonpath \"$.s\" isString\n"
	    "jsonpath \"$.t\" isBoolean\n"
	    "jsonpath \"$.list\" isCollection\n"
	    "jsonpath \"$.empty\" isEmpty\n"
	    "jsonpath \"$.items[*].id\" count == 3\n"
	    "bytes == hex,00ff;\n"
	    "bytes startsWith base64,AP8=;\n"
	    "variable \"a\" equals 200\n"
	    "status notEquals 0\n"
	    "status greaterThan 0\n"
	    "status greaterThanOrEquals 0\n"
	    "status lessThan 600\n"
	    "status lessThanOrEquals 599\n"
	    "url matches /^http/\n"
	    "jsonpath \"$.date\" > \"2020-01-01\"\n"
	    "duration < {{max}}\n";

	if (!ok(parse(text, &f, &e) == 0, "captures and asserts parse")) {
		printf("# %s\n", e.msg);
		return;
	}
	r = &f.entries[0].resp;
	is_int(r->ncaptures, 11, "eleven captures");
	is_int(r->captures[1].q.kind, HQ_HEADER, "header query");
	is_str(r->captures[1].q.arg.s, "Location", "header name");
	is_int(r->captures[1].filters[0].kind, HF_REGEX, "regex filter");
	ok(r->captures[1].filters[0].rx.compiled, "... compiled");
	is_int(r->captures[1].filters[0].rx.group, 1, "... first group");
	is_str(r->captures[2].name, "c_1", "capture name with _");
	is_int(r->captures[2].nfilters, 2, "nth and toInt");
	is_int(r->captures[2].filters[0].n, 0, "nth 0");
	is_str(r->captures[3].name, "d-2", "capture name with -");
	ok(r->captures[3].q.regex_literal, "regex query with a literal");
	is_int(r->captures[4].filters[1].n, -1, "nth -1");
	is_int(r->captures[5].nfilters, 3, "replace, urlDecode, urlEncode");
	is_str(r->captures[5].filters[0].arg2.s, "https", "replace's new text");
	is_int(r->captures[6].q.kind, HQ_BYTES, "bytes");
	is_int(r->captures[7].q.kind, HQ_VARIABLE, "variable query");
	is_int(r->captures[8].filters[0].kind, HF_JSONPATH, "jsonpath filter");
	ok(r->captures[8].filters[0].jp != NULL, "... compiled");
	is_int(r->captures[9].q.kind, HQ_DURATION, "duration capture");
	ok(r->captures[10].filters[0].regex_literal && r->captures[10].filters[0].rx.compiled,
	    "replace with a /regex/");
	is_int(r->nasserts, 39, "thirty-nine asserts");
	is_str(r->asserts[0].text, "status == 200", "comment cut from the text");
	ok(r->asserts[5].pred.negate && r->asserts[5].pred.kind == HP_EXISTS, "not exists");
	is_int(r->asserts[6].pred.kind, HP_STARTS, "startsWith");
	is_int(r->asserts[7].pred.kind, HP_ENDS, "endsWith");
	ok(r->asserts[9].pred.negate && r->asserts[9].pred.kind == HP_CONTAINS, "not contains");
	ok(r->asserts[10].pred.v.kind == HV_STRING && r->asserts[10].pred.v.rx.compiled,
	    "matches with a quoted pattern");
	is_int(r->asserts[11].pred.v.kind, HV_NULL, "null");
	ok(r->asserts[12].pred.v.kind == HV_BOOL && r->asserts[12].pred.v.b, "true");
	ok(r->asserts[13].pred.v.kind == HV_BOOL && !r->asserts[13].pred.v.b, "false");
	ok(r->asserts[14].pred.v.kind == HV_FLOAT && r->asserts[14].pred.v.f == 3.14, "float");
	is_str(r->asserts[14].pred.v.num_text, "3.14", "float text kept");
	ok(r->asserts[15].pred.v.kind == HV_INT && r->asserts[15].pred.v.i == -2, "negative integer");
	ok(r->asserts[16].pred.v.kind == HV_FLOAT && r->asserts[16].pred.v.f == 1000, "exponent");
	is_str(r->asserts[17].pred.v.s.s, "raw", "`oneline` value");
	ok(r->asserts[18].pred.v.kind == HV_EXPR && !strcmp(r->asserts[18].pred.v.s.s, "expected"),
	    "{{ expected }} value");
	ok(has_ref(&f.entries[0], "expected", 34, 1), "... listed in the response phase");
	is_int(r->asserts[19].pred.kind, HP_INCLUDES, "includes");
	is_int(r->asserts[20].pred.kind, HP_ISINT, "isInteger");
	is_int(r->asserts[21].pred.kind, HP_ISFLOAT, "isFloat");
	is_int(r->asserts[22].pred.kind, HP_ISNUMBER, "isNumber");
	is_int(r->asserts[23].pred.kind, HP_ISSTRING, "isString");
	is_int(r->asserts[24].pred.kind, HP_ISBOOL, "isBoolean");
	is_int(r->asserts[25].pred.kind, HP_ISCOLL, "isCollection");
	is_int(r->asserts[26].pred.kind, HP_ISEMPTY, "isEmpty");
	ok(r->asserts[28].pred.v.kind == HV_BYTES && r->asserts[28].pred.v.len == 2, "hex value");
	ok(r->asserts[29].pred.v.kind == HV_BYTES && r->asserts[29].pred.v.len == 2 &&
	    r->asserts[29].pred.v.bytes[1] == 0xff, "base64 value");
	is_int(r->asserts[31].pred.kind, HP_NE, "notEquals");
	is_int(r->asserts[32].pred.kind, HP_GT, "greaterThan");
	is_int(r->asserts[33].pred.kind, HP_GE, "greaterThanOrEquals");
	is_int(r->asserts[34].pred.kind, HP_LT, "lessThan");
	is_int(r->asserts[35].pred.kind, HP_LE, "lessThanOrEquals");
	is_int(r->asserts[36].q.kind, HQ_URL, "url query");
	is_int(r->asserts[37].pred.v.kind, HV_STRING, "> with a string");
	ok(has_ref(&f.entries[0], "max", 54, 1), "template in a predicate value");
	hurl_file_free(&f);
}

static void
test_regex(void)
{
	struct hurl_regex rx;
	char why[256];
	regmatch_t m[4];

	ok(hurl_regex_compile(&rx, "^\\d{3}-\\w+\\s$", why, sizeof(why)) == 0, "\\d \\w \\s");
	ok(regexec(&rx.re, "123-ab_c ", 0, NULL, 0) == 0, "... match");
	ok(regexec(&rx.re, "12-ab ", 0, NULL, 0) != 0, "... and refuse");
	hurl_regex_free(&rx);
	ok(hurl_regex_compile(&rx, "^[\\w.-]+@[^\\s]+$", why, sizeof(why)) == 0, "\\s inside [^...]");
	ok(regexec(&rx.re, "a.b-c@host", 0, NULL, 0) == 0 && regexec(&rx.re, "a@b c", 0, NULL, 0) != 0,
	    "... matches like Perl's");
	hurl_regex_free(&rx);
	ok(hurl_regex_compile(&rx, "^[\\w.\\-]+$", why, sizeof(why)) == 0, "[\\w.\\-]");
	ok(regexec(&rx.re, "a.b-c_d", 0, NULL, 0) == 0, "... a literal dash last");
	hurl_regex_free(&rx);
	ok(hurl_regex_compile(&rx, "(?i)^hello$", why, sizeof(why)) == 0, "(?i)");
	ok(regexec(&rx.re, "HeLLo", 0, NULL, 0) == 0, "... ignores case");
	hurl_regex_free(&rx);
	ok(hurl_regex_compile(&rx, "(?:a|b)(c+)", why, sizeof(why)) == 0, "(?:...)");
	is_int(rx.group, 2, "... the first capturing group is POSIX group 2");
	ok(regexec(&rx.re, "xbccc", 4, m, 0) == 0 && m[2].rm_so == 2 && m[2].rm_eo == 5, "... matches");
	hurl_regex_free(&rx);
	ok(hurl_regex_compile(&rx, "abc", why, sizeof(why)) == 0 && rx.group == 0, "no group");
	hurl_regex_free(&rx);
	ok(hurl_regex_compile(&rx, "a(?=b)", why, sizeof(why)) < 0, "lookahead refused");
	like(why, "lookaround", "... saying so");
	ok(hurl_regex_compile(&rx, "a.*?b", why, sizeof(why)) < 0, "lazy refused");
	like(why, "lazy", "... saying so");
	ok(hurl_regex_compile(&rx, "\\p{L}", why, sizeof(why)) < 0, "\\p refused");
	ok(hurl_regex_compile(&rx, "a(b", why, sizeof(why)) < 0, "unbalanced refused");
	ok(hurl_regex_compile(&rx, "[abc", why, sizeof(why)) < 0, "unterminated class refused");
	ok(hurl_regex_compile(&rx, "[[:alpha:]]+\\.[\\]x]", why, sizeof(why)) == 0, "POSIX class, \\] in a class");
	ok(regexec(&rx.re, "ab.]", 0, NULL, 0) == 0, "... matches");
	hurl_regex_free(&rx);
}

static void
test_refusals(void)
{
	{
		static const char nul[] = "GET http://h/\nX: a\0b\n";
		struct hurl_file f;
		struct err e = { 0, "" };

		ok(hurl_parse(nul, sizeof(nul) - 1, "t/x.hurl", &f, &e) < 0, "refused: a NUL byte");
		like(e.msg, "t/x.hurl:2: a NUL byte", "... naming the line");
		hurl_file_free(&f);
	}
	refuse("an empty file", "# only a comment\n\n", "no request");
	refuse("no method", "http://h/\n", "t/x.hurl:1:1: expected a request");
	refuse("a lowercase method", "get http://h/\n", "expected a request");
	refuse("a response first", "HTTP 200\n", "without a request");
	refuse("an unknown section", "GET http://h/\n[Foo]\n", "t/x.hurl:2:1: unknown section '[Foo]'");
	refuse("asserts in the request", "GET http://h/\n[Asserts]\nstatus == 200\n", "needs a response line");
	refuse("options in the response", "GET http://h/\nHTTP 200\n[Options]\nretry: 1\n", "belongs to the request");
	refuse("a section twice", "GET http://h/\n[Query]\na: 1\n[QueryStringParams]\nb: 2\n", "appears twice");
	refuse("[Asserts] twice", "GET http://h/\nHTTP 200\n[Asserts]\nstatus == 1\n[Asserts]\n", "appears twice");
	refuse("a line that is no header", "GET http://h/\nnot a header\n", "t/x.hurl:2:1: expected a header");
	refuse("a bad kv in a section", "GET http://h/\n[Form]\njunk\n", "expected 'name: value' in [FormParams]");
	refuse("two [BasicAuth] lines", "GET http://h/\n[BasicAuth]\na: b\nc: d\n", "one 'user: password'");
	refuse("a bad escape", "GET http://h/\nX: a\\qb\n", "t/x.hurl:2:5: bad escape '\\q'");
	refuse("a bad unicode escape", "GET http://h/\nX: \\u{zz}\n", "bad unicode escape");
	refuse("an unterminated template", "GET {{base/x\n", "unterminated template");
	refuse("a bad template name", "GET http://h/\nX: {{a b}}\n", "bad template");
	refuse("an xpath without its expression", "GET http://h/\nHTTP 200\n[Asserts]\nxpath exists\n",
	    "t/x.hurl:4:7: expected a quoted string after 'xpath'");
	refuse("a cookie attribute", "GET http://h/\nHTTP 200\n[Captures]\nc: cookie \"s[Size]\"\n",
	    "t/x.hurl:4:11: cookie: unknown attribute 'Size'");
	refuse("a cookie without a name", "GET http://h/\nHTTP 200\n[Captures]\nc: cookie \"[Path]\"\n",
	    "cookie: expected 'name' or 'name[Attribute]'");
	refuse("an unknown query", "GET http://h/\nHTTP 200\n[Asserts]\nfoo == 1\n", "unknown query 'foo'");
	refuse("replaceRegex without its replacement", "GET http://h/\nHTTP 200\n[Asserts]\n"
	    "body replaceRegex /a/ == \"b\"\n", "t/x.hurl:4:23: expected a quoted string after the pattern of 'replaceRegex'");
	refuse("a bad replaceRegex pattern", "GET http://h/\nHTTP 200\n[Asserts]\n"
	    "body replaceRegex \"a(\" \"b\" exists\n", "bad regex 'a('");
	refuse("includes a file", "GET http://h/\nHTTP 200\n[Asserts]\nbody includes file,a;\n",
	    "'includes' cannot take a file");
	refuse("an unknown predicate", "GET http://h/\nHTTP 200\n[Asserts]\nbody isGreat\n",
	    "unknown predicate or filter 'isGreat'");
	refuse("no predicate", "GET http://h/\nHTTP 200\n[Asserts]\nstatus\n", "expected a space before the predicate");
	refuse("no value", "GET http://h/\nHTTP 200\n[Asserts]\nstatus ==\n", "expected a space after the predicate");
	refuse("a bad value", "GET http://h/\nHTTP 200\n[Asserts]\nstatus == abc\n", "expected a value after '=='");
	refuse("a value of the wrong type", "GET http://h/\nHTTP 200\n[Asserts]\nstatus > true\n",
	    "'>' cannot take a boolean");
	refuse("garbage after the predicate", "GET http://h/\nHTTP 200\n[Asserts]\nstatus == 200 300\n",
	    "unexpected '300' after the assert");
	refuse("an unterminated string", "GET http://h/\nHTTP 200\n[Asserts]\nheader \"X == 1\n", "unterminated string");
	refuse("a header query without a name", "GET http://h/\nHTTP 200\n[Asserts]\nheader == 1\n",
	    "expected a quoted string after 'header'");
	refuse("nth without an index", "GET http://h/\nHTTP 200\n[Asserts]\nbody split \",\" nth x == 1\n",
	    "expected an index after 'nth'");
	refuse("a bad jsonpath", "GET http://h/\nHTTP 200\n[Asserts]\njsonpath \"$.a[\" exists\n",
	    "t/x.hurl:4:1: jsonpath '$.a[': column 5");
	refuse("a bad regex", "GET http://h/\nHTTP 200\n[Asserts]\nbody matches /a(/\n", "bad regex");
	refuse("a lazy regex", "GET http://h/\nHTTP 200\n[Captures]\nx: regex \"a(.*?)b\"\n", "lazy");
	refuse("a bad capture name", "GET http://h/\nHTTP 200\n[Captures]\na.b: status\n", "bad capture name 'a.b'");
	refuse("a capture without ':'", "GET http://h/\nHTTP 200\n[Captures]\na status\n", "expected 'name: query'");
	refuse("an unknown capture filter", "GET http://h/\nHTTP 200\n[Captures]\na: status frob\n", "unknown filter 'frob'");
	refuse("the resolve option", "GET http://h/\n[Options]\nresolve: h:80:127.0.0.1\n",
	    "t/x.hurl:3:1: the 'resolve' option is not supported by ci-smoke");
	refuse("a bad aws-sigv4", "GET http://h/\n[Options]\naws-sigv4: a b\n",
	    "option 'aws-sigv4': expected PROVIDER1");
	refuse("a bad header option", "GET http://h/\n[Options]\nheader: novalue\n",
	    "option 'header': expected 'Name: value'");
	refuse("a user option's password not quoted", "GET http://h/\n[Options]\nuser: s3cr3t\n",
	    "option 'user': expected USER:PASSWORD");
	refuse("an unknown option", "GET http://h/\n[Options]\nfrobnicate: 1\n", "unknown option 'frobnicate'");
	refuse("a bad retry", "GET http://h/\n[Options]\nretry: many\n", "option 'retry': expected a number");
	refuse("a bad delay", "GET http://h/\n[Options]\ndelay: soon\n", "option 'delay': expected milliseconds");
	refuse("a bad boolean", "GET http://h/\n[Options]\nlocation: yes\n", "expected true or false");
	refuse("a bad variable option", "GET http://h/\n[Options]\nvariable: novalue\n", "expected NAME=VALUE");
	refuse("a multiline language", "POST http://h/\n```toml\na = 1\n```\n",
	    "t/x.hurl:2:4: unknown multiline string language 'toml'");
	refuse("graphql variables", "POST http://h/\n```graphql\n{ a }\nvariables {\n```\n",
	    "t/x.hurl:4:1: graphql: the variables block is not a JSON object");
	refuse("an unclosed multiline", "POST http://h/\n```\nabc\n", "not closed");
	refuse("an unclosed JSON body", "POST http://h/\n{\"a\": 1\n", "the JSON body is not closed");
	refuse("invalid JSON", "POST http://h/\n{\n  \"a\": 1,\n  \"b\" 2\n}\n", "t/x.hurl:4:");
	refuse("an unclosed XML body", "POST http://h/\n<a><b></b>\n", "XML body is not closed");
	refuse("a bad base64 body", "POST http://h/\nbase64,!!!;\n", "bad base64 body");
	refuse("an unterminated hex body", "POST http://h/\nhex,00ff\n", "expected ';'");
	refuse("text after a body", "POST http://h/\n{\"a\": 1}\nX: y\n", "the body ends the request");
	refuse("text after a response body", "GET http://h/\nHTTP 200\n`a`\nstatus == 1\n", "the body ends the response");
	refuse("a bad status", "GET http://h/\nHTTP 20\n", "expected a status code");
	refuse("a status of four digits", "GET http://h/\nHTTP 1000\n", "expected a status code");
	refuse("HTTP/1.2", "GET http://h/\nHTTP/1.2 200\n", "expected HTTP, HTTP/1.0");
	refuse("two status lines", "GET http://h/\nHTTP 200\nHTTP 200\n", "a second response line");
	refuse("text after a multiline value's hint", "GET http://h/\nHTTP 200\n[Asserts]\nbody == ```json x\n",
	    "unexpected text after the opening ```");
	refuse("an unclosed multiline value", "GET http://h/\nHTTP 200\n[Asserts]\nbody == ```\na\n",
	    "t/x.hurl:4:9: the multiline string is not closed");
	refuse("a header with ';' and more", "GET http://h/\nX-A; b\n", "t/x.hurl:2:1: expected a header");
	refuse("a file part without ';'", "POST http://h/\n[Multipart]\nf: file,a.txt\n", "expected 'file,NAME;'");
	refuse("text after the URL", "GET http://h/ extra\n", "unexpected 'extra' after the URL");
}

/* The forms of issue 16: values, strings and options Hurl writes. */
static void
test_hurl_forms(void)
{
	struct hurl_file f;
	struct err e = { 0, "" };
	const struct hurl_entry *en;
	static const char text[] =
	    "POST http://h/g\n"
	    "X-Empty;\n"
	    "[Options]\n"
	    "user: bob:{{pw}}\n"
	    "digest: true\n"
	    "max-redirs: 3\n"
	    "```graphql\n"
	    "query Q($id: ID!) { p(id: $id) }\n"
	    "\n"
	    "variables {\n"
	    "  \"id\": \"{{id}}\"\n"
	    "}\n"
	    "```\n"
	    "HTTP 200\n"
	    "[Asserts]\n"
	    "bytes == file,a\\ b.bin;\n"
	    "body == ```\n"
	    "one\n"
	    "```\n"
	    "body == ```raw\n"
	    "{{x}}\n"
	    "```\n"
	    "body == ```one line```\n"
	    "cookie \"s[Max-Age]\" == 3\n"
	    "jsonpath \"$.d\" toDate \"%+\" format \"%Y\" == \"2024\"\n"
	    "\n"
	    "GET http://h/next\n";

	ok(parse(text, &f, &e) == 0, "Hurl's forms parse%s%s", *e.msg ? ": " : "", e.msg);
	ok(f.nentries == 2, "... two entries (the multiline values end where they should)");
	en = &f.entries[0];
	ok(en->req.nheaders == 1 && !strcmp(en->req.headers[0].key.s, "X-Empty") &&
	    !strcmp(en->req.headers[0].value.s, ""), "... 'Name;' is a header with an empty value");
	ok(en->req.noptions == 3 && en->req.options[0].kind == HO_USER &&
	    en->req.options[0].value.has_tmpl && en->req.options[1].kind == HO_DIGEST &&
	    en->req.options[1].num == 1 && en->req.options[2].kind == HO_MAX_REDIRS &&
	    en->req.options[2].num == 3, "... user, digest and max-redirs options");
	ok(en->req.body.kind == HB_TEXT && !strcmp(en->req.body.lang, "graphql") &&
	    !strcmp(en->req.body.text.s, "query Q($id: ID!) { p(id: $id) }") &&
	    en->req.body.gvars.s && en->req.body.gvars.has_tmpl && en->req.body.gvars.line == 10,
	    "... a graphql body: its query and its variables");
	ok(has_ref(en, "id", 11, 0) && has_ref(en, "pw", 4, 0), "... their templates are refs");
	ok(!has_ref(en, "x", 21, 1), "... a raw string has none");
	ok(en->resp.nasserts == 6, "... six asserts");
	ok(en->resp.asserts[0].pred.v.kind == HV_FILE &&
	    !strcmp(en->resp.asserts[0].pred.v.s.s, "a b.bin"), "... bytes == file,NAME; with an escape");
	ok(en->resp.asserts[1].pred.v.kind == HV_STRING && !strcmp(en->resp.asserts[1].pred.v.s.s, "one\n"),
	    "... a multiline predicate value");
	ok(!strcmp(en->resp.asserts[2].pred.v.lang, "raw") &&
	    !strcmp(en->resp.asserts[2].pred.v.s.s, "{{x}}\n") && !en->resp.asserts[2].pred.v.s.has_tmpl,
	    "... a raw one keeps its braces");
	ok(!strcmp(en->resp.asserts[3].pred.v.s.s, "one line"), "... a one-line ``` value");
	ok(en->resp.asserts[4].q.kind == HQ_COOKIE && !strcmp(en->resp.asserts[4].q.arg.s, "s[Max-Age]"),
	    "... a cookie attribute query");
	ok(en->resp.asserts[5].nfilters == 2 && en->resp.asserts[5].filters[0].kind == HF_TODATE &&
	    en->resp.asserts[5].filters[1].kind == HF_DATEFORMAT, "... toDate, and format as dateFormat");
	hurl_file_free(&f);
}

int
main(void)
{
	test_seed();
	test_request_sections();
	test_bodies();
	test_asserts();
	test_regex();
	test_refusals();
	test_hurl_forms();
	return done_testing();
}
