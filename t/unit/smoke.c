/* Unit tests for lib/smoke's values, variables, secrets, percentiles and
 * the check of variables before a run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smoke/hurl.h"
#include "smoke/smoke.h"
#include "tap.h"

static void
typed(const char *text, int type, const char *shown)
{
	struct sval v;
	char *s, *t;

	sval_from_text(&v, text);
	is_int(v.type, type, "'%s' has the type Hurl gives it", text);
	s = sval_show(&v);
	is_str(s, shown, "... shown as %s", shown);
	t = sval_text(&v);
	is_str(t, text, "... and renders back as written");
	free(s);
	free(t);
	sval_free(&v);
}

static void
test_values(void)
{
	struct sval v, w;
	char *s;

	typed("42", SV_INT, "42");
	typed("-7", SV_INT, "-7");
	typed("0", SV_INT, "0");
	typed("3.25", SV_FLOAT, "3.25");
	typed("true", SV_BOOL, "true");
	typed("false", SV_BOOL, "false");
	typed("null", SV_NULL, "null");
	typed("hello", SV_STRING, "\"hello\"");
	typed("007", SV_STRING, "\"007\"");
	typed("1e3", SV_STRING, "\"1e3\"");
	typed("+1", SV_STRING, "\"+1\"");
	typed("1.", SV_STRING, "\"1.\"");
	typed("", SV_STRING, "\"\"");
	typed("99999999999999999999", SV_STRING, "\"99999999999999999999\"");

	memset(&v, 0, sizeof(v));
	v.type = SV_FLOAT;
	v.f = 3.0;
	s = sval_text(&v);
	is_str(s, "3.0", "a float keeps its point");
	free(s);
	v.f = 0.1;
	s = sval_text(&v);
	is_str(s, "0.1", "the shortest text that reads back");
	free(s);

	memset(&v, 0, sizeof(v));
	v.type = SV_STRING;
	v.s = xstrdup("a\"b\\c\nd\x01");
	v.len = strlen(v.s);
	s = sval_show(&v);
	is_str(s, "\"a\\\"b\\\\c\\nd\\u0001\"", "strings are shown quoted and escaped");
	free(s);
	sval_copy(&w, &v);
	ok(w.s != v.s && !strcmp(w.s, v.s) && w.len == v.len, "sval_copy copies");
	sval_free(&v);
	sval_free(&w);

	memset(&v, 0, sizeof(v));
	v.type = SV_STRING;
	v.s = xmalloc(301);
	memset(v.s, 'x', 300);
	v.s[300] = '\0';
	v.len = 300;
	s = sval_show(&v);
	ok(strlen(s) == 205 && !strcmp(s + 201, "\"..."), "long strings are cut at 200 bytes");
	free(s);
	sval_free(&v);

	memset(&v, 0, sizeof(v));
	v.type = SV_BYTES;
	v.s = xstrdup("\x01\xff");
	v.len = 2;
	s = sval_show(&v);
	is_str(s, "hex,01ff;", "bytes are shown as hex");
	free(s);
	sval_free(&v);

	memset(&v, 0, sizeof(v));
	v.type = SV_LIST;
	v.j = cJSON_Parse("[1,\"a\",{\"b\":null}]");
	s = sval_show(&v);
	is_str(s, "[1,\"a\",{\"b\":null}]", "lists are shown as JSON");
	free(s);
	sval_free(&v);

	memset(&v, 0, sizeof(v));
	s = sval_show(&v);
	is_str(s, "none", "nothing is shown as none");
	free(s);
}

static void
test_vars(void)
{
	struct smoke_vars vs = { NULL, 0, 0 }, copy;
	struct err e = { 0, "" };
	const struct smoke_var *v;
	char dir[] = "/tmp/smoke-unit-XXXXXX", path[64];
	char *env[] = { "HURL_a=1", "HURL_VARIABLE_a=2", "HURL_b=x y", "HURL_=z", "HURL_c-d=3",
		"OTHER=1", "HURL_bad name=1", NULL };
	FILE *fp;

	ok(smoke_vars_parse(&vs, "base=http://h:1/p?a=b", "-v", &e) == 0, "NAME=VALUE");
	v = smoke_vars_get(&vs, "base");
	ok(v && !strcmp(v->text, "http://h:1/p?a=b") && v->v.type == SV_STRING, "... keeps everything after the first '='");
	ok(smoke_vars_parse(&vs, "n=5", "-v", &e) == 0 && smoke_vars_get(&vs, "n")->v.type == SV_INT, "typed");
	ok(smoke_vars_parse(&vs, "n=6", "-v", &e) == 0 && smoke_vars_get(&vs, "n")->v.i == 6, "a later value wins");
	is_int(vs.n, 2, "... without a second entry");
	ok(smoke_vars_parse(&vs, "novalue", "-v", &e) < 0, "no '=' refused");
	like(e.msg, "-v: expected NAME=VALUE", "... with a message");
	ok(smoke_vars_parse(&vs, "=x", "-v", &e) < 0, "empty name refused");
	ok(smoke_vars_parse(&vs, "a b=x", "-v", &e) < 0, "bad name refused");
	like(e.msg, "bad variable name 'a b'", "... naming it");

	smoke_vars_from_env(&vs, env);
	ok(smoke_vars_get(&vs, "a") && smoke_vars_get(&vs, "a")->v.i == 2, "HURL_VARIABLE_a wins over HURL_a");
	ok(smoke_vars_get(&vs, "b") && !strcmp(smoke_vars_get(&vs, "b")->text, "x y"), "HURL_b");
	ok(smoke_vars_get(&vs, "c-d") != NULL, "HURL_c-d");
	ok(!smoke_vars_get(&vs, "OTHER") && !smoke_vars_get(&vs, ""), "others ignored");

	smoke_vars_copy(&copy, &vs);
	is_int(copy.n, vs.n, "copy");
	smoke_vars_set_text(&copy, "base", "changed");
	is_str(smoke_vars_get(&vs, "base")->text, "http://h:1/p?a=b", "... is independent");
	smoke_vars_free(&copy);

	if (!ok(mkdtemp(dir) != NULL, "scratch directory"))
		return;
	snprintf(path, sizeof(path), "%s/vars", dir);
	fp = fopen(path, "w");
	fputs("# comment\n\n  user = x\nuser=bob\r\npass=p#not a comment\n", fp);
	fclose(fp);
	ok(smoke_vars_load(&vs, path, &e) < 0, "a file with 'user = x' is refused");
	like(e.msg, ":3: bad variable name 'user '", "... naming file and line");
	fp = fopen(path, "w");
	fputs("# comment\n\nuser=bob\r\n\tpass=p#not a comment\n", fp);
	fclose(fp);
	ok(smoke_vars_load(&vs, path, &e) == 0, "a variables file");
	is_str(smoke_vars_get(&vs, "user")->text, "bob", "... CRLF trimmed");
	is_str(smoke_vars_get(&vs, "pass")->text, "p#not a comment", "... '#' only starts a comment line");
	unlink(path);
	ok(smoke_vars_load(&vs, path, &e) < 0, "a missing file is an error");
	rmdir(dir);
	smoke_vars_free(&vs);
}

static void
redacts(const struct smoke_secrets *s, const char *in, const char *want)
{
	char *got = smoke_redact(s, in);

	is_str(got, want, "redact '%s'", in);
	free(got);
}

static void
test_secrets(void)
{
	struct smoke_secrets s = { NULL, 0 };

	redacts(&s, "nothing to hide", "nothing to hide");
	smoke_secret_add(&s, "");
	is_int(s.n, 0, "an empty secret is not one");
	smoke_secret_add(&s, "pw");
	smoke_secret_add(&s, "pw-long");
	smoke_secret_add(&s, "a/b \"c\"");
	smoke_secret_add(&s, "pw");
	redacts(&s, "x pw y", "x *** y");
	redacts(&s, "pw-long", "***");
	redacts(&s, "pwpw", "******");
	redacts(&s, "u=a%2Fb%20%22c%22", "u=***");
	redacts(&s, "{\"k\": \"a/b \\\"c\\\"\"}", "{\"k\": \"***\"}");
	redacts(&s, "raw a/b \"c\" here", "raw *** here");
	ok(smoke_redact(&s, NULL) == NULL, "NULL stays NULL");
	smoke_secrets_free(&s);
}

static void
test_percentile(void)
{
	long long d[100];
	size_t i;

	for (i = 0; i < 100; i++)
		d[i] = (long long)i + 1;
	is_int(smoke_percentile(d, 100, 50), 50, "p50 of 1..100");
	is_int(smoke_percentile(d, 100, 95), 95, "p95");
	is_int(smoke_percentile(d, 100, 99), 99, "p99");
	is_int(smoke_percentile(d, 100, 100), 100, "p100");
	is_int(smoke_percentile(d, 1, 99), 1, "one value is every percentile");
	is_int(smoke_percentile(d, 3, 50), 2, "p50 of three");
	is_int(smoke_percentile(d, 3, 99), 3, "p99 of three: nearest rank");
	is_int(smoke_percentile(d, 0, 50), 0, "none");
}

static void
test_check(void)
{
	struct hurl_file f;
	struct smoke_vars vs = { NULL, 0, 0 };
	struct err e = { 0, "" };
	const char *text =
	    "GET {{base}}/a\nHTTP 200\n[Captures]\nt: status\n[Asserts]\nvariable \"t\" == {{t}}\n"
	    "GET {{base}}/b?{{t}}\n[Options]\nvariable: u={{t}}\nHTTP 200\n"
	    "GET {{base}}/c/{{u}}/{{missing}}\n";

	if (!ok(hurl_parse(text, strlen(text), "c.hurl", &f, &e) == 0, "parse"))
		return;
	ok(smoke_check(&f, &vs, &e) < 0, "base is undefined");
	like(e.msg, "c.hurl:1: undefined variable 'base'", "... at line 1");
	smoke_vars_set_text(&vs, "base", "http://x");
	ok(smoke_check(&f, &vs, &e) < 0, "missing is undefined");
	like(e.msg, "c.hurl:11: undefined variable 'missing'", "... captures and option variables count");
	smoke_vars_set_text(&vs, "missing", "");
	ok(smoke_check(&f, &vs, &e) == 0, "everything defined");
	hurl_file_free(&f);
	smoke_vars_free(&vs);
}

int
main(void)
{
	test_values();
	test_vars();
	test_secrets();
	test_percentile();
	test_check();
	return done_testing();
}
