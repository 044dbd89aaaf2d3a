/*
 * Unit tests for lib/json.c: the strict parser, positions, slurping with a
 * cap, path lookup and the exact-integer helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/json.h"
#include "core/log.h"
#include "tap.h"

static struct err e;
static char tmpdir[4096];

/* Parse text (length from strlen) or fail the test; caller deletes. */
static cJSON *
parse(const char *text, int comments)
{
	struct json_opts o = { "t.json", comments, 0 };

	err_clear(&e);
	return json_parse(text, strlen(text), &o, NULL, &e);
}

/* The error message for text of length len, or "(parsed)". */
static const char *
perr_n(const char *text, size_t len, int comments)
{
	struct json_opts o = { "t.json", comments, 0 };
	cJSON *j;

	err_clear(&e);
	j = json_parse(text, len, &o, NULL, &e);
	if (j) {
		cJSON_Delete(j);
		return "(parsed)";
	}
	if (e.code != EX_USAGE_)
		return "(wrong code)";
	return e.msg;
}

static const char *
perr(const char *text)
{
	return perr_n(text, strlen(text), 0);
}

/* Parse text and print it back compactly; caller frees. */
static char *
roundtrip(const char *text)
{
	cJSON *j = parse(text, 0);
	char *s;

	if (!j)
		return xasprintf("(error: %s)", e.msg);
	s = json_print(j);
	cJSON_Delete(j);
	return s;
}

static void
is_roundtrip(const char *text, const char *want, const char *name)
{
	char *s = roundtrip(text);

	is_str(s, want, "%s", name);
	free(s);
}

static void
test_happy(void)
{
	cJSON *j, *v;
	char *s;

	is_roundtrip("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"},\"f\":[],\"g\":{}}",
	    "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"},\"f\":[],\"g\":{}}",
	    "object and array round-trip");
	is_roundtrip(" \t\r\n[ 1 , \"x\" ,\n{ } ] \n\t ", "[1,\"x\",{}]",
	    "whitespace everywhere");
	is_roundtrip("\"scalar\"", "\"scalar\"", "top-level string");
	is_roundtrip("null", "null", "top-level null");
	is_roundtrip("-12", "-12", "top-level number");

	j = parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20AC\"", 0);
	ok(cJSON_IsString(j), "all escapes parse");
	is_str(j ? j->valuestring : NULL, "\"\\/\b\f\n\r\tA\xc3\xa9\xe2\x82\xac",
	    "all escapes decode");
	cJSON_Delete(j);

	j = parse("\"\\ud83d\\ude00 \\uD834\\uDD1E\"", 0);
	is_str(j ? j->valuestring : NULL, "\xf0\x9f\x98\x80 \xf0\x9d\x84\x9e",
	    "surrogate pairs combine into 4-byte UTF-8");
	cJSON_Delete(j);

	j = parse("\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \x7f\"", 0);
	is_str(j ? j->valuestring : NULL,
	    "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \x7f",
	    "raw UTF-8 (2, 3, 4 bytes, U+10FFFF) and DEL kept as is");
	cJSON_Delete(j);

	j = parse("{\"\\u00e9t\\u00e9\":1}", 0);
	ok(j && cJSON_GetObjectItemCaseSensitive(j, "\xc3\xa9t\xc3\xa9"), "escaped key decoded");
	cJSON_Delete(j);

	/* Same key in different objects is not a duplicate. */
	j = parse("{\"a\":{\"a\":1},\"b\":{\"a\":2}}", 0);
	ok(j != NULL, "same key in sibling objects is fine");
	cJSON_Delete(j);

	/* Every kind of number. */
	j = parse("[-0, 0, 1e10, 1E+2, 0.5e-3, -1.25, 1e-400, 9007199254740992, "
	    "9007199254740993, 12345678901234567890, -9007199254740993, 123.0]", 0);
	ok(j != NULL, "numbers parse");
	v = cJSON_GetArrayItem(j, 0);
	ok(cJSON_IsNumber(v) && v->valuedouble == 0 && signbit(v->valuedouble), "-0 is negative zero");
	v = cJSON_GetArrayItem(j, 2);
	ok(cJSON_IsNumber(v) && v->valuedouble == 1e10, "1e10");
	v = cJSON_GetArrayItem(j, 3);
	ok(cJSON_IsNumber(v) && v->valuedouble == 100, "1E+2");
	v = cJSON_GetArrayItem(j, 4);
	ok(cJSON_IsNumber(v) && v->valuedouble == 0.5e-3, "0.5e-3");
	v = cJSON_GetArrayItem(j, 6);
	ok(cJSON_IsNumber(v) && v->valuedouble == 0, "1e-400 underflows to 0, accepted");
	v = cJSON_GetArrayItem(j, 7);
	ok(cJSON_IsNumber(v), "2^53 is still a plain number");
	v = cJSON_GetArrayItem(j, 8);
	ok(cJSON_IsRaw(v) && !strcmp(v->valuestring, "9007199254740993"), "2^53+1 is kept raw");
	v = cJSON_GetArrayItem(j, 11);
	ok(cJSON_IsNumber(v), "123.0 (not an integer literal) is a number");
	s = json_print(j);
	is_str(s, "[-0,0,10000000000,100,0.0005,-1.25,0,9007199254740992,"
	    "9007199254740993,12345678901234567890,-9007199254740993,123]",
	    "numbers print back, big integers exactly");
	free(s);
	cJSON_Delete(j);

	is_roundtrip("{\"id\":9007199254740993}", "{\"id\":9007199254740993}",
	    "9007199254740993 round-trips exactly");
	is_roundtrip("[12345678901234567890]", "[12345678901234567890]",
	    "12345678901234567890 round-trips exactly");
	is_roundtrip("-123456789012345678901234567890", "-123456789012345678901234567890",
	    "30-digit negative integer round-trips exactly");
	is_roundtrip("[9007199254740992,-9007199254740991,4503599627370497,1000000000000001]",
	    "[9007199254740992,-9007199254740991,4503599627370497,1000000000000001]",
	    "16-digit integers up to 2^53 print exactly");
	is_roundtrip("[0.30000000000000004,1.7976931348623157e308,5e-324,0.1,1.5,-2.25e-7]",
	    "[0.30000000000000004,1.7976931348623157e+308,4.94065645841247e-324,0.1,1.5,-2.25e-07]",
	    "doubles print back to the same value");
	{
		unsigned long long x = 88172645463325252ULL;
		int i, bad = 0;

		/* Random bit patterns: print then parse gives the same double. */
		for (i = 0; i < 20000; i++) {
			double d, back;
			cJSON *n, *r;
			char *t;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			memcpy(&d, &x, sizeof(d));
			if (!isfinite(d))
				continue;
			n = cJSON_CreateNumber(i % 2 ? d : (double)(long long)(x >> 10) * (i % 4 ? 1 : -1));
			back = n->valuedouble;
			t = json_print(n);
			r = parse(t, 0);
			if (!r || (cJSON_IsNumber(r) ? r->valuedouble != back :
			    !cJSON_IsRaw(r) || strtod(r->valuestring, NULL) != back)) {
				if (bad++ < 5)
					printf("# %.17g printed as %s\n", back, t);
			}
			cJSON_Delete(r);
			cJSON_Delete(n);
			free(t);
		}
		is_int(bad, 0, "20000 random doubles print back exactly");
	}
	is_roundtrip("[1, 2]\r\n", "[1,2]", "CRLF after the value");
}

static void
test_i64(void)
{
	long long v;
	cJSON *j, *o;
	char *s;

	j = parse("[0, -0, 42, -42, 1e10, 9007199254740992, -9007199254740992, "
	    "9007199254740993, -9007199254740993, 9223372036854775807, "
	    "-9223372036854775808, 9223372036854775808, 12345678901234567890, "
	    "1.5, 1e300, \"123\", \"-7\", \"abc\", \"\", \"-\", \"12a\", \"+1\", \" 1\", "
	    "true, null, [1], 9007199254740994.0, 2.0, \"99999999999999999999\"]", 0);
	ok(j != NULL, "i64 fixture parses");
#define I64_OK(i, want, name) do { \
	v = 12345; \
	is_int(json_get_i64(cJSON_GetArrayItem(j, (i)), &v), 0, "json_get_i64 %s ok", name); \
	is_int(v, want, "json_get_i64 %s value", name); \
} while (0)
#define I64_BAD(i, name) do { \
	v = 12345; \
	is_int(json_get_i64(cJSON_GetArrayItem(j, (i)), &v), -1, "json_get_i64 refuses %s", name); \
	is_int(v, 12345, "json_get_i64 leaves out alone for %s", name); \
} while (0)
	I64_OK(0, 0, "0");
	I64_OK(1, 0, "-0");
	I64_OK(2, 42, "42");
	I64_OK(3, -42, "-42");
	I64_OK(4, 10000000000LL, "1e10");
	I64_OK(5, 9007199254740992LL, "2^53");
	I64_OK(6, -9007199254740992LL, "-2^53");
	I64_OK(7, 9007199254740993LL, "2^53+1 (raw)");
	I64_OK(8, -9007199254740993LL, "-(2^53+1) (raw)");
	I64_OK(9, 9223372036854775807LL, "INT64_MAX (raw)");
	I64_OK(10, -9223372036854775807LL - 1, "INT64_MIN (raw)");
	I64_BAD(11, "INT64_MAX+1");
	I64_BAD(12, "12345678901234567890");
	I64_BAD(13, "1.5");
	I64_BAD(14, "1e300");
	I64_OK(15, 123, "string \"123\"");
	I64_OK(16, -7, "string \"-7\"");
	I64_BAD(17, "string \"abc\"");
	I64_BAD(18, "empty string");
	I64_BAD(19, "string \"-\"");
	I64_BAD(20, "string \"12a\"");
	I64_BAD(21, "string \"+1\"");
	I64_BAD(22, "string \" 1\"");
	I64_BAD(23, "true");
	I64_BAD(24, "null");
	I64_BAD(25, "an array");
	I64_BAD(26, "9007199254740994.0 (beyond 2^53 as a double)");
	I64_OK(27, 2, "2.0");
	I64_BAD(28, "string out of range");
	is_int(json_get_i64(NULL, &v), -1, "json_get_i64(NULL) fails");
	cJSON_Delete(j);

	o = cJSON_CreateObject();
	json_add_i64(o, "small", 42);
	json_add_i64(o, "limit", 9007199254740992LL);
	json_add_i64(o, "big", 9007199254740993LL);
	json_add_i64(o, "neg", -9223372036854775807LL - 1);
	ok(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "small")), "json_add_i64 small is a number");
	ok(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "limit")), "json_add_i64 2^53 is a number");
	ok(cJSON_IsRaw(cJSON_GetObjectItemCaseSensitive(o, "big")), "json_add_i64 2^53+1 is raw");
	s = json_print(o);
	is_str(s, "{\"small\":42,\"limit\":9007199254740992,\"big\":9007199254740993,"
	    "\"neg\":-9223372036854775808}", "json_add_i64 prints exactly");
	free(s);
	json_add_i64(o, "small", 7);
	s = json_print(o);
	is_str(s, "{\"small\":7,\"limit\":9007199254740992,\"big\":9007199254740993,"
	    "\"neg\":-9223372036854775808}", "json_add_i64 on an existing key replaces it in place");
	free(s);
	ok(json_get_i64(cJSON_GetObjectItemCaseSensitive(o, "neg"), &v) == 0 &&
	    v == -9223372036854775807LL - 1, "json_add_i64 then json_get_i64 is exact");
	ok(json_add_i64(NULL, "x", 1) == NULL, "json_add_i64 on NULL returns NULL");
	cJSON_Delete(o);
}

static void
test_comments(void)
{
	const char *doc = "// leading\n{ /* a */ \"a\" /* b */ : /* c */ 1 // d\n"
	    ", \"b\": [1, /* e\n multi-line */ 2] } // trailing\n/* end */";
	cJSON *j;
	char *s;

	j = parse(doc, 1);
	ok(j != NULL, "comments allowed with opts->comments");
	s = j ? json_print(j) : NULL;
	is_str(s, "{\"a\":1,\"b\":[1,2]}", "comments are dropped");
	free(s);
	cJSON_Delete(j);
	is_str(perr(doc), "t.json:1:1: comments are not allowed here", "comments refused by default");
	is_str(perr("[1, /* x */ 2]"), "t.json:1:5: comments are not allowed here",
	    "block comment refused by default");
	is_str(perr_n("[1,\n  /* never\n closed", 22, 1), "t.json:2:3: unterminated block comment",
	    "unterminated block comment names where it started");
	is_str(perr_n("[1 /*/", 6, 1), "t.json:1:4: unterminated block comment",
	    "'/*/' does not close itself");
	is_str(perr_n("[1, / 2]", 8, 1), "t.json:1:5: expected a value, found '/'",
	    "a lone slash is not a comment");
	is_str(perr_n("1 // no newline at end", 22, 1), "(parsed)", "line comment up to EOF");
	is_str(perr_n("// only a comment\n", 18, 1), "t.json:2:1: unexpected end of input",
	    "only a comment is empty input");
	is_str(perr_n("{\"a\":1 /**/ x}", 14, 1),
	    "t.json:1:13: expected ',' or '}' after object member", "position after a comment");
}

static void
test_errors(void)
{
	static const char full[] = "{\"a\": [1, -2.5e3, \"x\\u00e9\", true, false, null, {}], "
	    "\"b\": {\"c\": \"d\"}}";
	char buf[512];
	size_t i;
	int bad = 0;
	char *deep;

	/* Empty and truncated documents. */
	is_str(perr(""), "t.json:1:1: unexpected end of input", "empty input");
	is_str(perr("  \n\t "), "t.json:2:3: unexpected end of input", "whitespace-only input");
	is_str(perr("{\"a\""), "t.json:1:5: unexpected end of input (unclosed '{' at 1:1)",
	    "truncated after key");
	is_str(perr("{\"a\":"), "t.json:1:6: unexpected end of input (unclosed '{' at 1:1)",
	    "truncated after colon");
	is_str(perr("[1,\n [2,"), "t.json:2:5: unexpected end of input (unclosed '[' at 2:2)",
	    "truncated in nested array");
	is_str(perr("{\"a\": \n [{\"b\":"), "t.json:2:8: unexpected end of input (unclosed '{' at 2:3)",
	    "unclosed bracket is shown where it is, not at its key");
	is_str(perr("[1"), "t.json:1:3: unexpected end of input (unclosed '[' at 1:1)",
	    "truncated after element");
	is_str(perr("\"abc"), "t.json:1:5: unexpected end of input", "truncated string");
	is_str(perr("\"ab\\"), "t.json:1:5: unexpected end of input", "truncated escape");
	is_str(perr("\"\\u12"), "t.json:1:6: unexpected end of input", "truncated \\u escape");
	is_str(perr_n("\"\\uZ", 4, 0), "t.json:1:2: invalid \\u escape: expected 4 hex digits",
	    "bad \\u escape at the end of input");
	is_str(perr("tr"), "t.json:1:3: unexpected end of input", "truncated literal");
	is_str(perr("-"), "t.json:1:2: unexpected end of input", "truncated number after '-'");
	is_str(perr("1."), "t.json:1:3: unexpected end of input", "truncated fraction");
	is_str(perr("1e+"), "t.json:1:4: unexpected end of input", "truncated exponent");
	for (i = 0; i + 1 < sizeof(full) - 1; i++) {
		const char *m = perr_n(full, i, 0);

		if (!strstr(m, "unexpected end of input") && !strstr(m, "unexpected ")) {
			printf("# prefix %zu: %s\n", i, m);
			bad++;
		}
	}
	is_int(bad, 0, "every proper prefix of a document is refused");
	is_str(perr(full), "(parsed)", "the whole document parses");

	/* Positions: line 3 column 5. */
	is_str(perr("[\n1,\n2,  x]"), "t.json:3:5: expected a value, found 'x'",
	    "error on line 3 column 5");
	is_str(perr("{\n  \"gates\": {\n    \"a\": 1,\n    \"b\": 2\n    \"c\": 3\n  }\n}"),
	    "t.json:5:5: expected ',' or '}' after object member", "missing comma between members");
	is_str(perr("[1 2]"), "t.json:1:4: expected ',' or ']' after array element",
	    "missing comma between elements");
	is_str(perr("{\"a\" 1}"), "t.json:1:6: expected ':' after object key", "missing colon");
	is_str(perr("{1:2}"), "t.json:1:2: expected a string key or '}', found '1'", "non-string key");
	is_str(perr("{\"a\":1, 'b':2}"), "t.json:1:9: expected a string key, found \"'\"",
	    "single-quoted key");
	is_str(perr("[1,\r\n  ?]"), "t.json:2:3: expected a value, found '?'", "CRLF counts one line");

	/* Trailing garbage. */
	is_str(perr("{} x"), "t.json:1:4: unexpected 'x' after the JSON value", "garbage after value");
	is_str(perr("1 2"), "t.json:1:3: unexpected '2' after the JSON value", "two values");
	is_str(perr("[]]"), "t.json:1:3: unexpected ']' after the JSON value", "extra bracket");
	is_str(perr("truex"), "t.json:1:5: unexpected 'x' after the JSON value", "truex");

	/* Trailing commas. */
	is_str(perr("[1,2,]"), "t.json:1:6: trailing comma in array", "trailing comma in array");
	is_str(perr("{\"a\":1,\n }"), "t.json:2:2: trailing comma in object", "trailing comma in object");
	is_str(perr("[,]"), "t.json:1:2: expected a value, found ','", "lone comma in array");
	is_str(perr("{,}"), "t.json:1:2: expected a string key or '}', found ','", "lone comma in object");

	/* Numbers. */
	is_str(perr("01"), "t.json:1:1: leading zero in number", "leading zero");
	is_str(perr("[-01]"), "t.json:1:2: leading zero in number", "negative leading zero");
	is_str(perr("[00]"), "t.json:1:2: leading zero in number", "double zero");
	is_str(perr("-x"), "t.json:1:2: expected a digit after '-'", "minus without digit");
	is_str(perr("1.e5"), "t.json:1:3: expected a digit after '.' in number", "empty fraction");
	is_str(perr("1ex"), "t.json:1:3: expected a digit in the exponent of number", "empty exponent");
	is_str(perr("[1e400]"), "t.json:1:2: number out of range", "overflow to infinity refused");
	is_str(perr("[-1e400]"), "t.json:1:2: number out of range", "overflow to -infinity refused");
	is_str(perr("+1"), "t.json:1:1: expected a value, found '+'", "plus sign");
	is_str(perr(".5"), "t.json:1:1: expected a value, found '.'", "no integer part");
	is_str(perr("NaN"), "t.json:1:1: expected a value, found 'N'", "NaN");
	is_str(perr("[Infinity]"), "t.json:1:2: expected a value, found 'I'", "Infinity");
	is_str(perr("0x10"), "t.json:1:2: unexpected 'x' after the JSON value", "hex");

	/* Literals. */
	is_str(perr("[tru]"), "t.json:1:2: invalid literal, expected 'true'", "tru");
	is_str(perr("nul"), "t.json:1:4: unexpected end of input", "nul");
	is_str(perr("fAlse"), "t.json:1:1: invalid literal, expected 'false'", "fAlse");
	is_str(perr("True"), "t.json:1:1: expected a value, found 'T'", "True");

	/* NUL bytes. */
	is_str(perr_n("{\"a\":\n 1\0}", 10, 0), "t.json:2:3: NUL byte at offset 8", "NUL byte between tokens");
	is_str(perr_n("\"a\0b\"", 5, 0), "t.json:1:3: NUL byte at offset 2", "NUL byte in a string");
	is_str(perr_n("1 \0", 3, 0), "t.json:1:3: NUL byte at offset 2", "NUL byte after the value");
	is_str(perr_n("\0", 1, 0), "t.json:1:1: NUL byte at offset 0", "lone NUL byte");
	is_str(perr_n("[1, /* \0 */ 2]", 14, 1), "t.json:1:8: NUL byte at offset 7", "NUL byte in a comment");

	/* Strings: escapes, surrogates, control characters, UTF-8. */
	is_str(perr("[\"a\\xb\"]"), "t.json:1:4: invalid escape '\\x' in string", "bad escape \\x");
	is_str(perr("\"\\'\""), "t.json:1:2: invalid escape '\\'' in string", "bad escape \\'");
	is_str(perr("\"\\\xc3\xa9\""), "t.json:1:2: invalid escape in string", "backslash before UTF-8");
	is_str(perr("\"\\u12G4\""), "t.json:1:2: invalid \\u escape: expected 4 hex digits", "bad hex");
	is_str(perr("\"ab\\ud800\""), "t.json:1:4: unpaired surrogate \\uD800 in string", "lone high surrogate");
	is_str(perr("\"\\ud800x\""), "t.json:1:2: unpaired surrogate \\uD800 in string", "high surrogate then text");
	is_str(perr("\"\\ud800\\u0041\""), "t.json:1:2: unpaired surrogate \\uD800 in string",
	    "high surrogate then non-surrogate");
	is_str(perr("\"\\ud800\\ud800\""), "t.json:1:2: unpaired surrogate \\uD800 in string",
	    "two high surrogates");
	is_str(perr("\"\\udc00\""), "t.json:1:2: unpaired surrogate \\uDC00 in string", "lone low surrogate");
	is_str(perr("\"a\\u0000b\""), "t.json:1:3: \\u0000 in a string is not supported", "\\u0000 refused");
	is_str(perr("\"a\tb\""), "t.json:1:3: unescaped control character 0x09 in string", "raw tab in string");
	is_str(perr("[\"a\nb\"]"), "t.json:1:4: unescaped control character 0x0a in string",
	    "raw newline in string");
	is_str(perr("\"\x1f\""), "t.json:1:2: unescaped control character 0x1f in string", "raw 0x1f");
	is_str(perr("\"ok\xff\""), "t.json:1:4: invalid UTF-8 in string", "0xff");
	is_str(perr("\"\x80\""), "t.json:1:2: invalid UTF-8 in string", "lone continuation byte");
	is_str(perr("\"\xc3\""), "t.json:1:2: invalid UTF-8 in string", "truncated sequence");
	is_str(perr_n("\"\xc3", 2, 0), "t.json:1:2: invalid UTF-8 in string", "truncated sequence at EOF");
	is_str(perr("\"\xc0\xaf\""), "t.json:1:2: invalid UTF-8 in string", "overlong 2-byte");
	is_str(perr("\"\xe0\x80\xaf\""), "t.json:1:2: invalid UTF-8 in string", "overlong 3-byte");
	is_str(perr("\"\xf0\x80\x80\xaf\""), "t.json:1:2: invalid UTF-8 in string", "overlong 4-byte");
	is_str(perr("\"\xed\xa0\x80\""), "t.json:1:2: invalid UTF-8 in string", "encoded surrogate");
	is_str(perr("\"\xf4\x90\x80\x80\""), "t.json:1:2: invalid UTF-8 in string", "above U+10FFFF");
	is_str(perr("\"\xf5\x80\x80\x80\""), "t.json:1:2: invalid UTF-8 in string", "0xf5 lead");
	is_str(perr("\"\xe2\x82x\""), "t.json:1:2: invalid UTF-8 in string", "bad continuation");
	is_str(perr("{\"k\xff\":1}"), "t.json:1:4: invalid UTF-8 in string", "invalid UTF-8 in a key");
	is_str(perr("[\xc3\xa9]"), "t.json:1:2: expected a value, found byte 0xc3", "UTF-8 outside strings");
	is_str(perr("\xef\xbb\xbf{}"), "t.json:1:1: byte order mark is not allowed", "BOM refused");
	is_str(perr("'a'"), "t.json:1:1: expected a value, found \"'\"", "single quotes");

	/* Duplicate keys, small and large objects. */
	is_str(perr("{\"a\":1,\n  \"b\":2, \"a\":3}"), "t.json:2:10: duplicate key 'a'", "duplicate key");
	is_str(perr("{\"a\":{\"x\":1,\"x\":2}}"), "t.json:1:13: duplicate key 'x'", "duplicate key nested");
	is_str(perr("{\"\\u0061\":1,\"a\":2}"), "t.json:1:13: duplicate key 'a'",
	    "duplicate key after unescaping");
	is_str(perr("{\"a\\nb\":1,\"a\\nb\":2}"), "t.json:1:11: duplicate key 'a?b'",
	    "control bytes in a key are masked in messages");
	{
		struct buf_ { char *p; size_t n; } d;
		int n, k;

		for (k = 0; k < 2; k++) {
			size_t cap = 3000 * 24 + 64;

			d.p = xmalloc(cap);
			d.n = 0;
			d.p[d.n++] = '{';
			for (n = 0; n < 3000; n++)
				d.n += (size_t)snprintf(d.p + d.n, cap - d.n, "%s\"k%d\":%d",
				    n ? "," : "", n, n);
			if (k == 1)
				d.n += (size_t)snprintf(d.p + d.n, cap - d.n, ",\"k2999\":0");
			d.p[d.n++] = '}';
			d.p[d.n] = '\0';
			if (k == 0)
				is_str(perr(d.p), "(parsed)", "3000 distinct keys parse");
			else
				like(perr(d.p), "duplicate key 'k2999'", "duplicate in a 3000-member object");
			free(d.p);
		}
	}

	/* Nesting. */
	deep = xmalloc(100001);
	memset(deep, '[', 100000);
	deep[100000] = '\0';
	is_str(perr(deep), "t.json:1:257: nesting deeper than 256", "100000 '[' give the depth error");
	for (i = 0; i < 100000; i++)
		deep[i] = i % 5 == 0 ? '{' : i % 5 == 1 ? '"' : i % 5 == 2 ? 'a' : i % 5 == 3 ? '"' : ':';
	like(perr(deep), "nesting deeper than 256", "100000 nested objects give the depth error");
	memset(deep, '[', 256);
	memset(deep + 256, ']', 256);
	deep[512] = '\0';
	is_str(perr(deep), "(parsed)", "256 levels are fine");
	memset(deep, '[', 257);
	memset(deep + 257, ']', 257);
	deep[514] = '\0';
	is_str(perr(deep), "t.json:1:257: nesting deeper than 256", "257 levels are refused");
	free(deep);

	/* Default name. */
	err_clear(&e);
	ok(json_parse("[", 1, NULL, NULL, &e) == NULL, "parse without options fails cleanly");
	is_str(e.msg, "<input>:1:2: unexpected end of input (unclosed '[' at 1:1)", "default name <input>");
	ok(json_parse(NULL, 0, NULL, NULL, NULL) == NULL, "NULL text and NULL err are survivable");

	/* Unterminated input that is not NUL-terminated must not be overread. */
	memcpy(buf, "[123", 4);
	memset(buf + 4, '4', sizeof(buf) - 4);
	is_str(perr_n(buf, 4, 0), "t.json:1:5: unexpected end of input (unclosed '[' at 1:1)",
	    "number at the end of an unterminated buffer");
}

/* Random corruptions of a document: any outcome but a crash is fine. */
static void
test_mutations(void)
{
	static const char doc[] = "{\"name\": \"x\\u00e9\\ud83d\\ude00\", \"n\": [1, -2.5e-3, 9007199254740993,"
	    " true, false, null], \"o\": {\"a\": {\"b\": []}}} // c\n/* d */";
	static const char alphabet[] = "{}[],:\"\\/*-+.eE0123456789tfnu \n\x01\x80\xc3\xff";
	char buf[sizeof(doc)];
	unsigned long seed = 12345;
	int i, parsed = 0, failed = 0, dirty = 0;

	for (i = 0; i < 20000; i++) {
		struct json_src src;
		struct json_opts o = { "m.json", i & 1, 0 };
		int k, nmut;
		cJSON *j;

		memcpy(buf, doc, sizeof(doc));
		seed = seed * 6364136223846793005UL + 1442695040888963407UL;
		nmut = 1 + (int)((seed >> 33) % 3);
		for (k = 0; k < nmut; k++) {
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			buf[(seed >> 33) % (sizeof(doc) - 1)] =
			    alphabet[(seed >> 13) % (sizeof(alphabet) - 1)];
		}
		err_clear(&e);
		j = json_parse(buf, sizeof(doc) - 1 - (size_t)(i % 7), &o, &src, &e);
		if (j) {
			char *s = json_print(j);

			parsed++;
			free(s);
			cJSON_Delete(j);
			json_src_free(&src);
		} else {
			if (strncmp(e.msg, "m.json:", 7) == 0)
				failed++;
			if (src.name || src.locs)
				dirty++;
		}
	}
	ok(parsed + failed == 20000, "20000 corrupted documents: parsed or refused with a message");
	is_int(dirty, 0, "src is left empty after every error");
	ok(parsed > 0 && failed > 0, "some corruptions parse, some do not (%d/%d)", parsed, failed);
}

static void
test_path(void)
{
	cJSON *j = parse("{\"run\":{\"source\":{\"commit\":\"abc\"}},\"stages\":[{\"name\":\"build\"},"
	    "{\"name\":\"test\"}],\"jobs\":{\"a.b\":{\"run\":1},\"q]x\":2,\"it's\":3,\"\":4},"
	    "\"n\":5}", 0);
	cJSON *arr = parse("[[1,2],[3]]", 0);
	cJSON *v;

	ok(j != NULL, "path fixture parses");
	v = json_path(j, "run.source.commit");
	is_str(cJSON_IsString(v) ? v->valuestring : NULL, "abc", "dotted path");
	v = json_path(j, ".run.source.commit");
	is_str(cJSON_IsString(v) ? v->valuestring : NULL, "abc", "leading dot");
	v = json_path(j, "stages[1].name");
	is_str(cJSON_IsString(v) ? v->valuestring : NULL, "test", "index then key");
	v = json_path(j, "jobs['a.b'].run");
	ok(cJSON_IsNumber(v) && v->valueint == 1, "quoted key with a dot");
	v = json_path(j, "jobs[\"a.b\"].run");
	ok(cJSON_IsNumber(v) && v->valueint == 1, "double-quoted key");
	v = json_path(j, "jobs['q]x']");
	ok(cJSON_IsNumber(v) && v->valueint == 2, "quoted key with ']'");
	v = json_path(j, "jobs['it\\'s']");
	ok(cJSON_IsNumber(v) && v->valueint == 3, "quoted key with an escaped quote");
	v = json_path(j, "jobs['']");
	ok(cJSON_IsNumber(v) && v->valueint == 4, "empty quoted key");
	ok(json_path(j, "") == j, "empty path is the root");
	v = json_path(arr, "[0][1]");
	ok(cJSON_IsNumber(v) && v->valueint == 2, "index chain on an array root");
	ok(json_path(arr, "[1][1]") == NULL, "index past the end");
	ok(json_path(j, "stages[2]") == NULL, "missing index");
	ok(json_path(j, "run.nope") == NULL, "missing key");
	ok(json_path(j, "n.x") == NULL, "key on a number");
	ok(json_path(j, "stages.name") == NULL, "key on an array");
	ok(json_path(j, "run[0]") == NULL, "index on an object");
	ok(json_path(j, "run..source") == NULL, "empty segment");
	ok(json_path(j, "run.") == NULL, "trailing dot");
	ok(json_path(j, ".") == NULL, "lone dot");
	ok(json_path(j, "stages[") == NULL, "unclosed bracket");
	ok(json_path(j, "stages[x]") == NULL, "non-numeric index");
	ok(json_path(j, "stages[-1]") == NULL, "negative index");
	ok(json_path(j, "stages[1]name") == NULL, "missing dot after index");
	ok(json_path(j, "jobs['a.b'") == NULL, "unclosed quoted key");
	ok(json_path(j, "jobs['a.b]") == NULL, "unterminated quote");
	ok(json_path(j, "stages[99999999999999999999]") == NULL, "huge index");
	ok(json_path(NULL, "a") == NULL && json_path(j, NULL) == NULL, "NULL arguments");
	is_str(json_str(json_path(j, "run.source"), "commit"), "abc", "json_str");
	ok(json_str(j, "n") == NULL, "json_str on a number");
	ok(json_str(j, "missing") == NULL, "json_str on a missing key");
	ok(json_str(NULL, "n") == NULL, "json_str on NULL");
	cJSON_Delete(j);
	cJSON_Delete(arr);
}

static void
test_where(void)
{
	const char *doc = "{\n  \"a\": 1,\n  \"list\": [\n    true,\n      \"x\"\n  ],\n"
	    "  \"o\": {\"k\": null}\n}";
	struct json_opts o = { "gates.json", 0, 0 };
	struct json_src src;
	char w[256];
	cJSON *j, *other;

	memset(&src, 0xa5, sizeof(src));	/* need not be initialised */
	err_clear(&e);
	j = json_parse(doc, strlen(doc), &o, &src, &e);
	ok(j != NULL, "parse with positions");
	is_str(src.name, "gates.json", "src->name");
	ok(src.n == 7, "a position for every value (%zu)", src.n);
	json_where(&src, j, w, sizeof(w));
	is_str(w, "gates.json:1:1", "root position");
	json_where(&src, json_path(j, "a"), w, sizeof(w));
	is_str(w, "gates.json:2:3", "member position is its key's");
	json_where(&src, json_path(j, "list"), w, sizeof(w));
	is_str(w, "gates.json:3:3", "array member position");
	json_where(&src, json_path(j, "list[0]"), w, sizeof(w));
	is_str(w, "gates.json:4:5", "first element position");
	json_where(&src, json_path(j, "list[1]"), w, sizeof(w));
	is_str(w, "gates.json:5:7", "second element position");
	json_where(&src, json_path(j, "o.k"), w, sizeof(w));
	is_str(w, "gates.json:7:9", "nested member position");
	other = cJSON_CreateNull();
	json_where(&src, other, w, sizeof(w));
	is_str(w, "gates.json", "unknown item gives just the name");
	json_where(&src, NULL, w, sizeof(w));
	is_str(w, "gates.json", "NULL item gives just the name");
	json_where(NULL, j, w, sizeof(w));
	is_str(w, "<input>", "no src");
	json_where(&src, j, w, 8);
	is_str(w, "gates.j", "json_where truncates to outsz");
	cJSON_Delete(other);
	cJSON_Delete(j);
	json_src_free(&src);
	ok(src.name == NULL && src.locs == NULL && src.n == 0, "json_src_free empties src");
	json_src_free(&src);
	ok(1, "json_src_free twice is harmless");

	memset(&src, 0xa5, sizeof(src));
	err_clear(&e);
	ok(json_parse("{\"a\":[1,}", 9, &o, &src, &e) == NULL, "error with src");
	ok(src.name == NULL && src.locs == NULL && src.n == 0, "src is empty after an error");
	is_str(e.msg, "gates.json:1:9: expected a value, found '}'", "error message with src");
}

static void
test_set(void)
{
	cJSON *j = parse("{\"a\":1,\"b\":2,\"c\":3}", 0), *n;
	char *s;

	json_set(j, "b", cJSON_CreateString("x"));
	s = json_print(j);
	is_str(s, "{\"a\":1,\"b\":\"x\",\"c\":3}", "json_set replaces in place");
	free(s);
	json_set(j, "d", cJSON_CreateTrue());
	s = json_print(j);
	is_str(s, "{\"a\":1,\"b\":\"x\",\"c\":3,\"d\":true}", "json_set appends a new key");
	free(s);
	json_set(j, "a", cJSON_CreateArray());
	s = json_print(j);
	is_str(s, "{\"a\":[],\"b\":\"x\",\"c\":3,\"d\":true}", "json_set replaces the first key");
	free(s);
	n = cJSON_GetObjectItemCaseSensitive(j, "c");
	json_set(j, "c", n);
	s = json_print(j);
	is_str(s, "{\"a\":[],\"b\":\"x\",\"c\":3,\"d\":true}", "json_set with the same item is a no-op");
	free(s);
	n = cJSON_CreateNumber(5);
	cJSON_AddItemToObject(j, "tmp", n);
	cJSON_DetachItemViaPointer(j, n);
	json_set(j, "c", n);
	s = json_print(j);
	is_str(s, "{\"a\":[],\"b\":\"x\",\"c\":5,\"d\":true}", "json_set renames a detached item");
	free(s);
	json_set(NULL, "x", cJSON_CreateString("leak?"));
	ok(1, "json_set on NULL frees val");
	n = cJSON_CreateArray();
	json_set(n, "x", cJSON_CreateString("leak?"));
	is_int(cJSON_GetArraySize(n), 0, "json_set on an array frees val");
	cJSON_Delete(n);
	json_set(j, "z", NULL);
	is_int(cJSON_GetArraySize(j), 4, "json_set with NULL val does nothing");
	s = json_print(NULL);
	is_str(s, "null", "json_print(NULL)");
	free(s);
	cJSON_Delete(j);
}

static char *
tmp_path(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

static void
write_file(const char *path, const char *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, data, n) != (ssize_t)n)
		printf("# cannot write %s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* Feed total bytes of c into a pipe from a child, chunk bytes at a time. */
static pid_t
feeder(int *rfd, size_t total, size_t chunk, char c)
{
	int p[2];
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		char *b = malloc(chunk);
		size_t done = 0;

		signal(SIGPIPE, SIG_IGN);
		close(p[0]);
		memset(b, c, chunk);
		while (done < total) {
			size_t n = total - done < chunk ? total - done : chunk;
			ssize_t w = write(p[1], b, n);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				_exit(errno == EPIPE ? 3 : 4);
			}
			done += (size_t)w;
		}
		_exit(0);
	}
	close(p[1]);
	*rfd = p[0];
	return pid;
}

static void
test_slurp(void)
{
	char *path = tmp_path("doc.json"), *big = tmp_path("big.json"), *text;
	char *exact = tmp_path("exact.json"), *empty = tmp_path("empty.json");
	struct json_src src;
	size_t len;
	int fd, status, saved;
	pid_t pid;
	char w[256];
	cJSON *j;

	write_file(path, "{\n  \"a\": [1, 2],\n  \"b\": \"x\"\n}\n", 30);
	err_clear(&e);
	text = json_slurp(path, 1000, &len, &e);
	ok(text != NULL && len == 30 && text[30] == '\0', "json_slurp reads a file, NUL-terminated");
	free(text);

	/* A 50 MB sparse file is refused by the cap without reading it all. */
	fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ok(fd >= 0 && ftruncate(fd, 50L * 1024 * 1024) == 0, "made a 50 MB file");
	if (fd >= 0)
		close(fd);
	err_clear(&e);
	ok(json_slurp(big, 10 * 1024 * 1024, &len, &e) == NULL, "50 MB file refused");
	is_int(e.code, EX_USAGE_, "cap error is EX_USAGE_");
	like(e.msg, "big.json' is larger than the 10485760-byte limit", "cap message");
	unlink(big);

	/* 50 MB through a pipe: stops one byte past the cap. */
	pid = feeder(&fd, 50UL * 1024 * 1024, 65536, ' ');
	err_clear(&e);
	ok(json_slurp_fd(fd, "<pipe>", 10 * 1024 * 1024, &len, &e) == NULL, "50 MB pipe refused");
	is_str(e.msg, "'<pipe>' is larger than the 10485760-byte limit", "pipe cap message");
	close(fd);
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 3, "writer saw the pipe closed early");

	/* Exactly cap bytes through a pipe in small chunks is fine; cap+1 is not. */
	pid = feeder(&fd, 100000, 777, 'x');
	err_clear(&e);
	text = json_slurp_fd(fd, "<pipe>", 100000, &len, &e);
	ok(text && len == 100000 && text[99999] == 'x' && text[100000] == '\0',
	    "exactly cap bytes in short reads");
	free(text);
	close(fd);
	waitpid(pid, &status, 0);
	pid = feeder(&fd, 100001, 777, 'x');
	err_clear(&e);
	ok(json_slurp_fd(fd, "<pipe>", 100000, &len, &e) == NULL, "cap+1 bytes refused");
	close(fd);
	waitpid(pid, &status, 0);

	text = xmalloc(4097);
	memset(text, ' ', 4097);
	write_file(exact, text, 4096);
	free(text);
	err_clear(&e);
	text = json_slurp(exact, 4096, &len, &e);
	ok(text && len == 4096, "file of exactly cap bytes");
	free(text);
	err_clear(&e);
	ok(json_slurp(exact, 4095, &len, &e) == NULL, "file of cap+1 bytes refused");

	write_file(empty, "", 0);
	err_clear(&e);
	text = json_slurp(empty, 10, &len, &e);
	ok(text && len == 0 && text[0] == '\0', "empty file slurps to \"\"");
	free(text);

	/* Embedded NULs are kept; len is the real length. */
	write_file(exact, "[1]\0[2]", 7);
	text = json_slurp(exact, 100, &len, &e);
	ok(text && len == 7 && text[4] == '[', "NUL bytes kept in the buffer");
	free(text);

	err_clear(&e);
	ok(json_slurp(tmpdir, 100, &len, &e) == NULL, "directory refused");
	is_int(e.code, EX_IOERR_, "read error is EX_IOERR_");
	like(e.msg, "cannot read '", "read error message");
	like(e.msg, "Is a directory", "read error has strerror");
	err_clear(&e);
	ok(json_slurp("/nonexistent/x.json", 100, &len, &e) == NULL, "missing file refused");
	is_str(e.msg, "cannot open '/nonexistent/x.json': No such file or directory", "open error message");
	err_clear(&e);
	ok(json_slurp_fd(-1, "bad", 100, &len, &e) == NULL && e.code == EX_IOERR_, "bad fd");

	/* json_load: positions named by the path. */
	err_clear(&e);
	j = json_load(path, 1000, 0, &src, &e);
	ok(j != NULL, "json_load");
	json_where(&src, json_path(j, "b"), w, sizeof(w));
	{
		char *want = xasprintf("%s:3:3", path);

		is_str(w, want, "json_load positions carry the path");
		free(want);
	}
	cJSON_Delete(j);
	json_src_free(&src);
	write_file(path, "{\n  \"a\": 1 // c\n}", 17);
	err_clear(&e);
	ok(json_load(path, 1000, 0, NULL, &e) == NULL, "json_load without comments refuses them");
	like(e.msg, "doc.json:2:10: comments are not allowed here", "json_load error names the path");
	j = json_load(path, 1000, 1, NULL, &e);
	ok(j != NULL, "json_load with comments");
	cJSON_Delete(j);
	err_clear(&e);
	memset(&src, 0xa5, sizeof(src));
	ok(json_load("/nonexistent/x.json", 100, 0, &src, &e) == NULL && src.name == NULL,
	    "json_load of a missing file leaves src empty");
	json_src_free(&src);

	/* "-" is stdin, named <stdin>. */
	saved = dup(STDIN_FILENO);
	fd = open(empty, O_RDONLY);
	dup2(fd, STDIN_FILENO);
	close(fd);
	err_clear(&e);
	ok(json_load("-", 100, 0, NULL, &e) == NULL, "json_load of empty stdin fails");
	is_str(e.msg, "<stdin>:1:1: unexpected end of input", "stdin is named <stdin>");
	write_file(exact, "[1,2,3]", 7);
	fd = open(exact, O_RDONLY);
	dup2(fd, STDIN_FILENO);
	close(fd);
	err_clear(&e);
	j = json_load("-", 100, 0, &src, &e);
	ok(cJSON_GetArraySize(j) == 3, "json_load reads stdin");
	is_str(src.name, "<stdin>", "stdin src name");
	cJSON_Delete(j);
	json_src_free(&src);
	dup2(saved, STDIN_FILENO);
	close(saved);

	unlink(path);
	unlink(exact);
	unlink(empty);
	free(path);
	free(big);
	free(exact);
	free(empty);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A 10 MB document parses quickly (loose bound: sanitizers are slow). */
/* What json_write() puts on a stream, as a string; caller frees. */
static char *
written(const cJSON *j, int *rc)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	*rc = json_write(f, j);
	fclose(f);
	return s;
}

/*
 * The printer json_print() had before json_write(): cJSON's own, on a
 * copy in which each number "%.15g" does not read back exactly is the Raw
 * text of the shortest "%.16g" or "%.17g" that does.
 */
static void
old_exact(cJSON *j)
{
	char b[40];
	int prec;

	for (; j; j = j->next) {
		old_exact(j->child);
		if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble))
			continue;
		for (prec = 15; prec <= 17; prec++) {
			snprintf(b, sizeof(b), "%.*g", prec, j->valuedouble);
			if (strtod(b, NULL) == j->valuedouble)
				break;
		}
		if (prec > 15) {
			j->type = cJSON_Raw;
			j->valuestring = strdup(b);
		}
	}
}

static char *
old_print(const cJSON *j)
{
	cJSON *copy = cJSON_Duplicate(j, 1);
	char *s;

	old_exact(copy);
	s = cJSON_PrintUnformatted(copy);
	cJSON_Delete(copy);
	return s;
}

/* json_write(), json_print() and the old printer agree on j; deletes j. */
static void
is_same_print(cJSON *j, const char *name)
{
	char *w, *p, *o;
	int rc;

	w = written(j, &rc);
	p = json_print(j);
	o = old_print(j);
	ok(rc == 0 && o && !strcmp(w, o) && !strcmp(p, o), "json_write prints %s as cJSON did", name);
	if (o && strcmp(w, o))
		printf("#   got:  %.200s\n#   want: %.200s\n", w, o);
	free(w);
	free(p);
	free(o);
	cJSON_Delete(j);
}

static unsigned long long rnd_x = 0x9e3779b97f4a7c15ULL;

static unsigned long long
rnd(void)
{
	rnd_x ^= rnd_x << 13;
	rnd_x ^= rnd_x >> 7;
	rnd_x ^= rnd_x << 17;
	return rnd_x;
}

/* A random string of valid UTF-8 (the parser takes nothing else),
 * control characters, quotes and backslashes often. */
static char *
rnd_string(char *b, size_t size)
{
	static const char *const wide[] = { "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
		"\xef\xbf\xbf", "\xc2\x80", "\x7f" };
	size_t n = rnd() % (size - 4), i = 0;

	while (i < n) {
		unsigned r = (unsigned)(rnd() % 8);
		const char *w;

		if (r < 6) {
			b[i++] = (char)(r < 3 ? 1 + rnd() % 40 : 32 + rnd() % 96);
			continue;
		}
		w = wide[rnd() % (sizeof(wide) / sizeof(wide[0]))];
		memcpy(b + i, w, strlen(w));
		i += strlen(w);
	}
	b[i] = '\0';
	return b;
}

static cJSON *
rnd_tree(int depth)
{
	char b[64];
	double d;
	unsigned long long x;
	cJSON *j;
	int i, n;

	switch (rnd() % (depth > 6 ? 6 : 8)) {
	case 0: return cJSON_CreateNull();
	case 1: return cJSON_CreateBool(rnd() & 1);
	case 2: return cJSON_CreateString(rnd_string(b, sizeof(b)));
	case 3:
		/* Any double: integers, fractions, huge, tiny, subnormal. */
		x = rnd();
		memcpy(&d, &x, sizeof(d));
		return cJSON_CreateNumber(isfinite(d) ? d : (double)(long long)x / 1024);
	case 4: return cJSON_CreateNumber((double)((long long)(rnd() % 2000001) - 1000000));
	case 5:
		snprintf(b, sizeof(b), "%llu%llu", rnd(), rnd());
		return cJSON_CreateRaw(b);
	case 6:
		j = cJSON_CreateArray();
		for (i = 0, n = (int)(rnd() % 6); i < n; i++)
			cJSON_AddItemToArray(j, rnd_tree(depth + 1));
		return j;
	default:
		j = cJSON_CreateObject();
		for (i = 0, n = (int)(rnd() % 6); i < n; i++) {
			snprintf(b + 40, 24, "%d", i);
			/* Keys with every kind of byte, kept distinct. */
			cJSON_AddItemToObject(j, strcat(rnd_string(b, 40), b + 40), rnd_tree(depth + 1));
		}
		return j;
	}
}

static void
test_write(void)
{
	char all[256], *s, *big;
	cJSON *j, *k;
	int i, rc, bad;
	FILE *f;

	/* Every byte but NUL, in a value and in a key. */
	for (i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, all, all);
	cJSON_AddStringToObject(j, "", "");
	is_same_print(j, "every byte");
	j = cJSON_CreateString("\x01\x1f\"\\/\b\f\n\r\t\x7f");
	s = written(j, &rc);
	is_str(s, "\"\\u0001\\u001f\\\"\\\\/\\b\\f\\n\\r\\t\x7f\"", "control characters escaped");
	free(s);
	is_same_print(j, "control characters");
	is_same_print(cJSON_CreateString("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"), "UTF-8");
	is_same_print(cJSON_Parse("{\"a\":{},\"b\":[],\"c\":[[],{}],\"d\":[null,true,false]}"),
	    "empty containers and literals");
	j = cJSON_CreateArray();
	cJSON_AddItemToArray(j, cJSON_CreateRaw("12345678901234567890"));
	cJSON_AddItemToArray(j, cJSON_CreateRaw("{\"raw\": 1}"));
	cJSON_AddItemToArray(j, cJSON_CreateNumber(-0.0));
	cJSON_AddItemToArray(j, cJSON_CreateNumber(1e15));
	cJSON_AddItemToArray(j, cJSON_CreateNumber(-999999999999999.0));
	cJSON_AddItemToArray(j, cJSON_CreateNumber(2147483648.0));
	cJSON_AddItemToArray(j, cJSON_CreateNumber(0.1));
	cJSON_AddItemToArray(j, cJSON_CreateNumber(1e300));
	cJSON_AddItemToArray(j, cJSON_CreateNumber(5e-324));
	cJSON_AddItemToArray(j, cJSON_CreateNumber(0.30000000000000004));
	cJSON_AddItemToArray(j, cJSON_CreateNumber(9007199254740993.0));
	cJSON_AddItemToArray(j, cJSON_CreateNumber(NAN));
	cJSON_AddItemToArray(j, cJSON_CreateNumber(-INFINITY));
	s = written(j, &rc);
	is_str(s, "[12345678901234567890,{\"raw\": 1},-0,1e+15,-999999999999999,2147483648,"
	    "0.1,1e+300,4.94065645841247e-324,0.30000000000000004,9007199254740992,null,null]",
	    "numbers: raw verbatim, integers, the exact rule, null for NaN");
	free(s);
	is_same_print(j, "numbers");
	j = cJSON_CreateArray();
	for (i = 0; i < 300; i++) {
		k = cJSON_CreateArray();
		cJSON_AddItemToArray(k, j);
		j = k;
	}
	is_same_print(j, "300 levels of nesting");

	/* Past the 64 KiB window, strings ending on every side of its edge. */
	big = xmalloc(70000);
	memset(big, 'x', 69999);
	big[69999] = '\0';
	j = cJSON_CreateArray();
	for (i = 0; i < 40; i++) {
		big[65520 + i] = '\0';
		cJSON_AddItemToArray(j, cJSON_CreateString(big));
		big[65520 + i] = i % 2 ? '\n' : 'x';
	}
	is_same_print(j, "strings across the window's edge");
	free(big);

	for (i = 0, bad = 0; i < 3000; i++) {
		char *w, *o, *again;
		cJSON *back;

		j = rnd_tree(0);
		w = written(j, &rc);
		o = old_print(j);
		back = parse(w, 0);
		again = back ? json_print(back) : NULL;
		if (rc != 0 || !o || strcmp(w, o) || !again || strcmp(again, w)) {
			if (bad++ < 3)
				printf("#   got:  %.300s\n#   want: %.300s\n", w, o ? o : "(null)");
		}
		free(w);
		free(o);
		free(again);
		cJSON_Delete(back);
		cJSON_Delete(j);
	}
	is_int(bad, 0, "3000 random trees print as cJSON did and parse back to the same text");

	/* A full disk is reported (a tree past the window: fwrite fails). */
	if ((f = fopen("/dev/full", "w")) != NULL) {
		big = xmalloc(200000);
		memset(big, 'y', 199999);
		big[199999] = '\0';
		j = cJSON_CreateString(big);
		ok(json_write(f, j) < 0, "json_write on a full disk fails");
		cJSON_Delete(j);
		free(big);
		fclose(f);
	}
}

/* A lasting tree (from the arena) reads, prints, changes and deletes as any. */
static void
test_lasting(void)
{
	struct json_opts o = { "doc.json", 0, 1 }, plain = { "doc.json", 0, 0 };
	const char *text = "{\"ci\":1,\"status\":\"failed\",\"big\":12345678901234567890,"
	    "\"stages\":[{\"name\":\"build\",\"status\":\"failed\"}],\"gate\":{\"jobs\":{}}}";
	char *a, *b;
	cJSON *j, *p, *sp;
	int i;

	err_clear(&e);
	j = json_parse(text, strlen(text), &o, NULL, &e);
	p = json_parse(text, strlen(text), &plain, NULL, &e);
	a = json_print(j);
	b = json_print(p);
	ok(j && p && !strcmp(a, b), "a lasting tree is the same tree");
	free(a);
	free(b);
	/* Replace members that came from the arena with fresh ones. */
	json_set(j, "status", cJSON_CreateString("running"));
	json_set(j, "ci", cJSON_CreateNumber(2));
	cJSON_DeleteItemFromObject(j, "stages");
	cJSON_AddItemToObject(json_path(j, "gate.jobs"), "a", cJSON_CreateObject());
	a = json_print(j);
	is_str(a, "{\"ci\":2,\"status\":\"running\",\"big\":12345678901234567890,"
	    "\"gate\":{\"jobs\":{\"a\":{}}}}", "a lasting tree changes");
	free(a);
	cJSON_Delete(j);
	cJSON_Delete(p);
	/* Trees parsed after one, and made by hand, are freed for real. */
	for (i = 0; i < 1000; i++) {
		sp = json_parse(text, strlen(text), &plain, NULL, &e);
		cJSON_Delete(sp);
	}
	/* Big ones too: past the arena's first chunk. */
	{
		size_t cap = 600000, n = 0;
		char *doc = xmalloc(cap);

		n += (size_t)snprintf(doc + n, cap - n, "[");
		for (i = 0; n < cap - 100; i++)
			n += (size_t)snprintf(doc + n, cap - n, "%s{\"k%d\":\"v\"}", i ? "," : "", i);
		n += (size_t)snprintf(doc + n, cap - n, "]");
		j = json_parse(doc, n, &o, NULL, &e);
		ok(j && cJSON_GetArraySize(j) == i, "a lasting tree of %d objects", i);
		a = json_print(j);
		ok(a && strlen(a) == n, "prints back whole");
		free(a);
		cJSON_Delete(j);
		free(doc);
	}
}

/* json_text_read(): a large file mapped from where fd stands, the rest read. */
static void
test_text(void)
{
	char *path = tmp_path("text.json"), *body = xmalloc(200001);
	struct json_text t;
	struct sigaction before;
	int fd, status, i;
	pid_t pid;

	/* SIGBUS's action before any text is mapped, to see it come back. */
	sigaction(SIGBUS, NULL, &before);
	for (i = 0; i < 200000; i++)
		body[i] = (char)('a' + i % 26);
	write_file(path, body, 200000);
	fd = open(path, O_RDONLY);
	ok(fd >= 0 && lseek(fd, 1000, SEEK_SET) == 1000, "a 200000-byte file, at offset 1000");
	err_clear(&e);
	ok(json_text_read(&t, fd, "f", 0, &e) == 0 && t.map != NULL, "a large file is mapped");
	ok(t.len == 199000 && !memcmp(t.data, body + 1000, t.len), "from where fd stood to the end");
	is_int(lseek(fd, 0, SEEK_CUR), 200000, "fd left at the end, as a read leaves it");
	json_text_release(&t);
	ok(lseek(fd, 5, SEEK_SET) == 5 && json_text_read(&t, fd, "f", 1000, &e) < 0,
	    "the cap holds for a mapped file");
	is_str(e.msg, "'f' is larger than the 1000-byte limit", "with the slurp's message");
	json_text_release(&t);
	/* Truncated by someone else while mapped: not a SIGBUS. */
	ok(lseek(fd, 0, SEEK_SET) == 0 && json_text_read(&t, fd, "f", 0, &e) == 0 &&
	    t.map != NULL && json_text_release(&t) == 0, "a map left alone: not changed");
	ok(lseek(fd, 0, SEEK_SET) == 0 && json_text_read(&t, fd, "f", 0, &e) == 0 &&
	    t.map != NULL && truncate(path, 4096) == 0, "mapped, then truncated to 4 KiB");
	{
		size_t k, zeros = 0, same = 0;
		struct sigaction cur;

		for (k = 0; k < t.len; k++) {
			if (k < 4096 && t.data[k] == body[k])
				same++;
			if (k >= 4096 && t.data[k] == '\0')
				zeros++;
		}
		ok(same == 4096 && zeros == t.len - 4096, "... the first 4 KiB read as they "
		    "were, the rest as NULs, not a SIGBUS");
		ok(json_text_release(&t) == 1, "... and the release says it changed");
		/* (the flags as set: libc adds one of its own, SA_RESTORER) */
		ok(sigaction(SIGBUS, NULL, &cur) == 0 &&
		    (cur.sa_flags & SA_SIGINFO) == (before.sa_flags & SA_SIGINFO) &&
		    (cur.sa_flags & SA_SIGINFO ? cur.sa_sigaction == before.sa_sigaction :
		    cur.sa_handler == before.sa_handler), "... and SIGBUS has its action back");
	}
	close(fd);
	unlink(path);

	pid = feeder(&fd, 100000, 777, 'x');
	err_clear(&e);
	ok(json_text_read(&t, fd, "<pipe>", 0, &e) == 0 && t.map == NULL && t.len == 100000 &&
	    t.data[99999] == 'x', "a pipe is read");
	json_text_release(&t);
	close(fd);
	waitpid(pid, &status, 0);
	free(path);
	free(body);
}

static void
test_big(void)
{
	size_t cap = 11 * 1024 * 1024, n = 0;
	char *doc = xmalloc(cap);
	struct json_opts o = { "big.json", 0, 0 };
	struct json_src src;
	char w[64];
	double t;
	cJSON *j;
	int i;

	n += (size_t)snprintf(doc + n, cap - n, "{\"items\":[");
	for (i = 0; n < 10 * 1024 * 1024 - 200; i++)
		n += (size_t)snprintf(doc + n, cap - n,
		    "%s{\"id\":%d,\"name\":\"item \\u00e9 %d\",\"v\":[1.5,true,null]}\n",
		    i ? "," : "", i, i);
	n += (size_t)snprintf(doc + n, cap - n, "],\"wide\":{");
	for (i = 0; i < 20000; i++)
		n += (size_t)snprintf(doc + n, cap - n, "%s\"key%d\":%d", i ? "," : "", i, i);
	n += (size_t)snprintf(doc + n, cap - n, "}}");
	t = now();
	err_clear(&e);
	j = json_parse(doc, n, &o, &src, &e);
	t = now() - t;
	ok(j != NULL, "10 MB document parses (%s)", j ? "" : e.msg);
	/* No wall-clock bound in a test (CI machines are noisy): shown only. */
	printf("# parsed in %.2fs\n", t);
	json_where(&src, json_path(j, "wide.key19999"), w, sizeof(w));
	like(w, "big.json:", "positions in a big document");
	cJSON_Delete(j);
	json_src_free(&src);
	free(doc);
}

int
main(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/json-test-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return done_testing();
	}
	test_happy();
	test_i64();
	test_comments();
	test_errors();
	test_mutations();
	test_path();
	test_where();
	test_set();
	test_slurp();
	test_text();
	test_write();
	test_lasting();
	test_big();
	rmdir(tmpdir);
	return done_testing();
}
