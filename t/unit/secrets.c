/*
 * Unit tests of lib/secrets (and the report writers, the block file and
 * the review trailers that go with the built-in gates).  Every secret is
 * written in two pieces ("AK" "IA...") so that this file holds none.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gate/block.h"
#include "core/crypto-load.h"
#include "core/json.h"
#include "gate/review.h"
#include "format/sarif.h"
#include "gate/secrets.h"
#include "gate/secrets-rules.h"
#include "tap.h"

#define AWS "AK" "IAQ3EGT5NNB6ZQ7WXY"
#define GH "gh" "p_4fK9xQm2LpZ7vR1tY8wB3nC6dE0hJ5sA2uVi"
/* A JWT's payload and signature; headers vary below. */
#define JWT_REST ".eyJzdWIiOiJxN0xtMlh2VDlwWnIiLCJpYXQiOjE3MTYyMzkwMjJ9.jxOnklUBvN7wQncZPIiaC-RdYS8"

/* Scan text as one file; return the findings as "rule:line:col" joined by spaces. */
static char *
scan_n(const char *text, size_t len, struct secrets_opts *o)
{
	struct secrets_opts def;
	struct secrets_result r;
	struct err e = { 0, "" };
	struct secrets *s;
	struct buf b = BUF_INIT;
	const struct secret_rule_info *ri = secrets_rules(NULL);
	size_t i;

	if (!o) {
		secrets_opts_init(&def);
		o = &def;
	}
	memset(&r, 0, sizeof(r));
	s = secrets_new(o, &e);
	if (!s)
		return xasprintf("error: %s", e.msg);
	secrets_scan_text(s, "f.txt", text, len, NULL, &r);
	for (i = 0; i < r.n; i++)
		buf_addf(&b, "%s%s:%ld:%ld", i ? " " : "", ri[r.f[i].rule].id, r.f[i].line, r.f[i].column);
	secrets_free(s);
	secrets_result_free(&r);
	return buf_detach(&b, NULL);
}

static char *
scan(const char *text, struct secrets_opts *o)
{
	return scan_n(text, strlen(text), o);
}

#define SCAN_IS(text, want, name) do { \
	char *got_ = scan(text, NULL); \
	is_str(got_, want, name); \
	free(got_); \
} while (0)

static void
test_pieces(void)
{
	char fp[SECRETS_FP_LEN + 1], *r;
	char q1[] = "\"a\\tb\\\"c\\\\d\\303\\251\"", q2[] = "plain";

	ok(fabs(secrets_entropy("abcd", 4) - 2.0) < 1e-9, "entropy of 4 distinct bytes is 2 bits");
	ok(secrets_entropy("aaaaaaaa", 8) == 0, "entropy of one repeated byte is 0");
	ok(secrets_entropy("", 0) == 0, "entropy of nothing is 0");

	ok(secrets_placeholder("${DB_PASSWORD}", 14, 1), "placeholder: ${X}");
	ok(secrets_placeholder("{{ vault_pw }}", 14, 1), "placeholder: {{x}}");
	ok(secrets_placeholder("xxxxxxxxxxxx", 12, 0), "placeholder: xxxx");
	ok(secrets_placeholder("ChangeMe123", 11, 1), "placeholder: changeme, any case");
	ok(secrets_placeholder("AKIAIOSFODNN7EXAMPLE", 20, 0), "placeholder: EXAMPLE");
	ok(secrets_placeholder("$DB_PASSWORD", 12, 1), "placeholder: $VAR for the generic rule");
	ok(!secrets_placeholder("$DB_PASSWORD", 12, 0), "... but not for a token rule");
	ok(!secrets_placeholder("q7Lm2XvT9pZr4KwY", 16, 1), "a random value is no placeholder");

	r = secrets_redact(AWS, 20);
	is_str(r, "AKIA\xe2\x80\xa6", "redaction keeps the first 4 characters");
	free(r);
	r = secrets_redact("abcdefghijkl", 12);
	is_str(r, "abc\xe2\x80\xa6", "a secret under 16 characters keeps a quarter");
	free(r);
	r = secrets_redact("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 32);
	is_str(r, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xe2\x80\xa6", "redaction counts characters, not bytes");
	free(r);
	r = secrets_redact("ab", 2);
	is_str(r, "\xe2\x80\xa6", "a tiny secret shows nothing");
	free(r);

	secrets_fingerprint("aws-access-key-id", "src/a.py", AWS, 20, fp);
	is_str(fp, "98a0e0824654fffd23bccb2cf43e583a5405081b4be061f1be43519080aab988",
	    "fingerprint: sha256 of rule, NUL, path, NUL, secret");

	ok(secrets_unquote(q1) == 0, "unquote a C-quoted path");
	is_str(q1, "a\tb\"c\\d\xc3\xa9", "... escapes and octal bytes");
	ok(secrets_unquote(q2) == -1 && !strcmp(q2, "plain"), "an unquoted path is left alone");
}

static void
test_rules(void)
{
	char long_line[70000];
	size_t n;

	SCAN_IS("key = \"" AWS "\"\n", "aws-access-key-id:1:8", "an AWS key in an assignment");
	SCAN_IS("x\ny\n  " AWS "\n", "aws-access-key-id:3:3", "line and column");
	SCAN_IS("\xc3\xa9\xc3\xa9=" AWS "\n", "aws-access-key-id:1:4", "columns count characters");
	SCAN_IS("X" AWS "\n", "", "no match glued to a word before");
	SCAN_IS(AWS "Q\n", "", "nor one with a word after");
	SCAN_IS("token = \"" GH "\"\n", "github-token:1:10", "a token in a generic assignment is one finding");
	SCAN_IS(AWS " " AWS "\n", "aws-access-key-id:1:1 aws-access-key-id:1:22", "two on a line");
	SCAN_IS("t = xo" "xr-q7Lm2XvT9pZr\n", "slack-token:1:5", "a Slack refresh token without a digit group");
	SCAN_IS("t = xo" "xa-2-q7Lm2XvT9pZr\n", "slack-token:1:5", "a legacy workspace token");
	SCAN_IS("t = xo" "xa-faketoken\n", "", "... but not a word after the prefix");
	SCAN_IS("t = xo" "xp-572370529330-573807301142-572331691188-####\n", "",
	    "nor a token whose tail is a placeholder");
	SCAN_IS("u = https://hooks.sl" "ack.com/services/q7Lm2XvT9pZr4KwYq7Lm2XvT9pZr4KwY\n",
	    "slack-webhook:1:38", "a webhook without the T/B structure");
	SCAN_IS("k = \"" AWS "\" # gitleaks:allow\n", "", "gitleaks:allow");
	SCAN_IS("k = \"" AWS "\" # gitleaks:allowed\n", "", "... anywhere on the line, as ours");
	SCAN_IS("gitleaks:allow k = \"" AWS "\"\n", "", "... at its very start too");
	SCAN_IS("ci-gate:allow k = \"" AWS "\"\n", "", "... as ours");
	SCAN_IS("leaks:allow k = \"" AWS "\"\n", "aws-access-key-id:1:18", "... but not a mark cut short");
	SCAN_IS("k = \"" AWS "\" # gitleaks: allow\n", "aws-access-key-id:1:6", "... spelt exactly");
	SCAN_IS("k = \"sk_te" "st_4eC39HqLyjWDarjtT1zdp7dc\"\n", "", "Stripe's documented test key");
	SCAN_IS("k = \"sk_te" "st_4eC39HqLyjWDarjtT1zdp7dcQ\"\n", "stripe-key:1:6", "... by exact value");
	SCAN_IS("//registry.npmjs.org/:_authToken=np" "m_q7Lm2XvT9pZr4KwYq7Lm2XvT9pZr4KwYq7Lm\n",
	    "npm-token:1:34", "an npm access token in .npmrc");
	SCAN_IS("x = np" "m_q7Lm2XvT9pZr4KwYq7Lm2XvT9pZr4KwYq7Lmx\n", "",
	    "... of 36 characters, no more");
	{
		static const char nul[] = "a\0b " AWS "\n";
		char *got = scan_n(nul, sizeof(nul) - 1, NULL);

		is_str(got, "aws-access-key-id:1:5", "a NUL byte does not hide what follows");
		free(got);
	}
	SCAN_IS("x " "ey" "JhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" JWT_REST "\n", "jwt:1:3",
	    "a JWT: its header decodes to alg and typ");
	SCAN_IS("x " "ey" "JhbGciOiJSUzI1NiIsImtpZCI6IngxIn0" JWT_REST "\n", "jwt:1:3",
	    "... a header of 35 characters (base64url, unpadded)");
	SCAN_IS("x " "ey" "JhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9Q" JWT_REST "\n", "jwt:1:3",
	    "... a stray last character adds no byte");
	SCAN_IS("x " "ey" "Jmb28iOiJiYXIiLCJiYXoiOjF9" JWT_REST "\n", "",
	    "... but JSON without alg or typ is no JWT header");
	SCAN_IS("password = \"q7Lm2XvT9pZr4KwYb8\"\n", "generic-secret:1:13", "a generic password");
	SCAN_IS("password = \"aaaaaaaaaaaaaaaaaaaa\"\n", "", "... not one of low entropy");
	SCAN_IS("password_hash = \"q7Lm2XvT9pZr4KwYb8\"\n", "", "... nor a key that names something else");
	SCAN_IS("passwordLength: q7Lm2XvT9pZr4KwYb8\n", "", "... camelCase too");
	SCAN_IS("password = get_password(q7Lm2XvT9pZr4)\n", "", "... nor a call");
	SCAN_IS("pass" "word: \"hunter2\"\n", "", "... nor a short value (entropy cannot reach 3.5)");
	SCAN_IS("const x = 1; // ci-gate:allow\npassword = \"q7Lm2XvT9pZr4KwYb8\" // ci-gate:allow\n", "",
	    "ci-gate:allow on the line");

	SCAN_IS("password_fields: api_key_header_id-user2\n", "", "a plural after the keyword names something else");
	SCAN_IS("secret_name_list: token2Xq9Lm4Zr8Kw\n", "", "... so does a word anywhere after it");
	SCAN_IS("password := password_field2(handler_id)\n", "", "a bare call is no secret");
	SCAN_IS("private_key: ed25519.Ed25519PrivateKey\n", "", "nor a dotted name (a type)");
	SCAN_IS("\"api_key\": \"session_id-requestMap\"\n", "", "nor a quoted name");
	SCAN_IS("SESSION_SECRET=4f9a8c2e7b1d6a3f9e8c7b6a\n", "generic-secret:1:16", "a bare hex value is");
	SCAN_IS("token: \"k3pz9qw7lm2xv8rtj5nd\"\n", "generic-secret:1:9", "a long lowercase key is");
	SCAN_IS("password = 'Tr0ub4dor&3xK9!'\n", "generic-secret:1:13", "a password with symbols is");

	memset(long_line, 'a', sizeof(long_line));
	n = sizeof(long_line) - 40;
	memcpy(long_line + n, " " AWS "\n", 22);
	long_line[n + 22] = '\0';
	memcpy(long_line + 100, " " AWS " ", 22);
	{
		char *got = scan(long_line, NULL);

		is_str(got, "aws-access-key-id:1:102 aws-access-key-id:1:69962", "both ends of a 70 kB line");
		free(got);
	}
}

/* Many lines: line numbers stay right across the automaton's slices. */
static void
test_many_lines(void)
{
	struct buf b = BUF_INIT, want = BUF_INIT;
	int i;
	char *got;

	for (i = 1; i <= 5000; i++) {
		if (i % 997 == 0) {
			buf_addf(&b, "k%d = \"" AWS "\"\n", i);
			buf_addf(&want, "%saws-access-key-id:%d:%d", want.len ? " " : "", i,
			    i >= 1000 ? 10 : 9);
		} else {
			buf_addf(&b, "line %d of filler text, token count %d\n", i, i * 7);
		}
	}
	got = scan(buf_str(&b), NULL);
	is_str(got, buf_str(&want), "secrets in a 5000-line text, at their lines");
	free(got);
	buf_free(&b);
	buf_free(&want);
}

/* A line with more keywords than the scanner keeps (65,536): the
 * generic rule still finds a secret after the last one kept. */
static void
test_many_keywords(void)
{
	struct buf b = BUF_INIT;
	char *got, *want;
	int i;

	for (i = 0; i < 70000; i++)
		buf_adds(&b, "token ");
	buf_adds(&b, "password = \"Zq8vR2mXw4TnPb7Lk3Hs\" and " AWS "\nk=" GH "\n");
	got = scan(buf_str(&b), NULL);
	want = xasprintf("aws-access-key-id:1:%d generic-secret:1:%d github-token:2:3",
	    70000 * 6 + 39, 70000 * 6 + 13);
	is_str(got, want, "secrets after 70,000 keywords on one line, at their columns");
	free(got);
	free(want);
	buf_free(&b);
}

/* The hand parse of the generic rule agrees with its expression. */
static void
test_generic_parse(void)
{
	static const char *const lines[] = {
		"password = \"abc\"", "password: 'x y'", "token := `t`", "api_key=>\"v\"",
		"secret=value;rest", "secret :=  bare|pipe", "password: =x", "pwd: \"unterminated",
		"token\" : \"q\"", "token' = 1", "secret: [1, 2]", "secret = (x)", "token:", "token = ",
		"password\t=\tv#c", "access.key=a.b.c", "AUTH-KEY: \"\"", "token == \"x\"", NULL
	};
	const struct secret_rule_info *gen = secrets_rule("generic-secret");
	char *anchored = xasprintf("^%s", strchr(gen->regex, ')') + 1);
	regex_t re;
	int i, agree = 1;

	ok(regcomp(&re, anchored, REG_EXTENDED | REG_ICASE) == 0, "the anchored generic expression compiles");
	for (i = 0; lines[i]; i++) {
		regmatch_t m[10];
		size_t va = 0, vb = 0, g;
		int q, hand = secrets_generic_parse(lines[i], strlen(lines[i]), &va, &vb, &q);
		int rx = regexec(&re, lines[i], 10, m, 0);

		if ((hand == 0) != (rx == 0)) {
			printf("# '%s': hand %d, regex %d\n", lines[i], hand, rx);
			agree = 0;
			continue;
		}
		if (rx)
			continue;
		for (g = 5; g <= 8 && m[g].rm_so < 0; g++)
			;
		if (g > 8 || (size_t)m[g].rm_so != va || (size_t)m[g].rm_eo != vb || q != (g != 8)) {
			printf("# '%s': hand [%zu,%zu), regex [%d,%d)\n", lines[i], va, vb,
			    g <= 8 ? (int)m[g].rm_so : -1, g <= 8 ? (int)m[g].rm_eo : -1);
			agree = 0;
		}
	}
	ok(agree, "hand parse and expression agree on %d lines", i);
	regfree(&re);
	free(anchored);
}

static void
test_linemap_and_opts(void)
{
	struct secrets_opts o;
	struct secrets_result r;
	struct err e = { 0, "" };
	struct secrets *s;
	const char *text = "a\nk=" AWS "\n";
	long map[] = { 10, 42 };
	cJSON *j;
	const cJSON *bad = NULL;
	const char *const ignore[] = { "builtin", NULL };
	char *got;

	secrets_opts_init(&o);
	s = secrets_new(&o, &e);
	memset(&r, 0, sizeof(r));
	secrets_scan_text(s, "diff.txt", text, strlen(text), map, &r);
	ok(r.n == 1 && r.f[0].line == 42, "the line map gives the line in the file");
	ok(r.st.files == 1 && r.st.bytes == (long long)strlen(text), "files and bytes are counted");
	secrets_free(s);
	secrets_result_free(&r);
	secrets_opts_free(&o);

	j = cJSON_Parse("{\"builtin\": \"secrets\", \"paths\": [\"a\", \"b\"], \"all_files\": true, "
	    "\"allowlist\": {\"paths\": \"^vendor/\", \"regexes\": [\"^AKIAQ3\"]}, \"entropy\": 4, "
	    "\"max_file_size\": \"512K\", \"disable\": \"jwt\"}");
	secrets_opts_init(&o);
	ok(secrets_opts_parse(&o, j, ignore, &bad, &e) == 0, "options parse");
	ok(o.mode == SECRETS_ALL && o.paths && !strcmp(o.paths[1], "b") && !o.paths[2], "... mode and paths");
	ok(o.max_file_size == 512 * 1024 && o.entropy == 4, "... size and entropy");
	ok(o.allow_paths && !strcmp(o.allow_paths[0], "^vendor/") && o.disable && !strcmp(o.disable[0], "jwt"),
	    "... allowlist and disable");
	got = scan("k = \"" AWS "\"\n", &o);
	is_str(got, "", "an allowlisted value is not reported");
	free(got);
	secrets_opts_free(&o);
	cJSON_Delete(j);

	j = cJSON_Parse("{\"paths\": [\"a\", 3]}");
	secrets_opts_init(&o);
	ok(secrets_opts_parse(&o, j, NULL, &bad, &e) < 0, "a path that is not a string");
	is_str(e.msg, "paths[1]: expected a non-empty string", "... names the item");
	ok(bad == cJSON_GetArrayItem(cJSON_GetObjectItem(j, "paths"), 1), "... and points at it");
	secrets_opts_free(&o);
	cJSON_Delete(j);

	j = cJSON_Parse("{\"since\": \"main\", \"staged\": true}");
	secrets_opts_init(&o);
	ok(secrets_opts_parse(&o, j, NULL, &bad, &e) < 0, "two modes are refused");
	is_str(e.msg, "staged: give at most one of all_files, since and staged", "... with a message");
	secrets_opts_free(&o);
	cJSON_Delete(j);
}

/* max_file_size takes core/size.h's syntax, or bytes as a number; at least 1. */
static void
test_sizes(void)
{
	static const struct {
		const char *json;
		long long want;		/* 0: refused */
	} cases[] = {
		{ "\"1M\"", 1 << 20 }, { "\"512K\"", 512 << 10 }, { "\"512k\"", 512 << 10 },
		{ "\"1.5M\"", 3 << 19 }, { "\"8MiB\"", 8 << 20 }, { "\"2GB\"", 2LL << 30 },
		{ "\"4096\"", 4096 }, { "1048576", 1 << 20 }, { "1", 1 },
		{ "\"0\"", 0 }, { "0", 0 }, { "-5", 0 }, { "2.5", 0 }, { "\"big\"", 0 },
		{ "\"1M \"", 0 }, { "\"-1K\"", 0 }, { "true", 0 }, { "1e300", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct secrets_opts o;
		struct err e = { 0, "" };
		const cJSON *bad = NULL;
		char *text = xasprintf("{\"max_file_size\": %s}", cases[i].json);
		cJSON *j = cJSON_Parse(text);
		int rc;

		secrets_opts_init(&o);
		rc = secrets_opts_parse(&o, j, NULL, &bad, &e);
		if (cases[i].want)
			ok(rc == 0 && o.max_file_size == cases[i].want, "max_file_size %s is %lld bytes",
			    cases[i].json, cases[i].want);
		else
			ok(rc < 0 && bad == cJSON_GetObjectItem(j, "max_file_size") &&
			    !strcmp(e.msg, "max_file_size: expected a size, as 1048576 or \"1M\""),
			    "max_file_size %s is refused", cases[i].json);
		secrets_opts_free(&o);
		cJSON_Delete(j);
		free(text);
	}
}

static void
test_baseline(void)
{
	char dir[] = "/tmp/secrets-unit-XXXXXX", path[256];
	struct secrets_opts o;
	struct secrets_result r;
	struct err e = { 0, "" };
	struct secrets *s;
	const char *text = "k=" AWS "\nt=" GH "\n";
	FILE *fp;

	ok(mkdtemp(dir) != NULL, "a scratch directory");
	snprintf(path, sizeof(path), "%s/baseline.json", dir);
	secrets_opts_init(&o);
	s = secrets_new(&o, &e);
	memset(&r, 0, sizeof(r));
	secrets_scan_text(s, "a.env", text, strlen(text), NULL, &r);
	ok(r.n == 2 && secrets_live(&r) == 2, "two findings");
	ok(secrets_write_baseline(path, &r, &e) == 0, "baseline written");
	secrets_free(s);
	secrets_result_free(&r);

	o.baseline = xstrdup(path);
	s = secrets_new(&o, &e);
	ok(s != NULL, "baseline read back");
	memset(&r, 0, sizeof(r));
	secrets_scan_text(s, "a.env", "\n\n" "t=" GH "\nk=" AWS "\n", strlen(text) + 2, NULL, &r);
	ok(r.n == 2 && secrets_live(&r) == 0 && r.st.sup_baseline == 2, "moved lines stay baselined");
	secrets_scan_text(s, "b.env", text, strlen(text), NULL, &r);
	ok(secrets_live(&r) == 2, "another path is another finding");
	secrets_free(s);
	secrets_result_free(&r);

	/* Written by hand: unsorted, uppercase, one not ours. */
	{
		char f1[SECRETS_FP_LEN + 1], f2[SECRETS_FP_LEN + 1];
		size_t k;

		secrets_fingerprint("aws-access-key-id", "a.env", AWS, strlen(AWS), f1);
		secrets_fingerprint("github-token", "a.env", GH, strlen(GH), f2);
		for (k = 0; k < SECRETS_FP_LEN; k++)
			f2[k] = (char)toupper((unsigned char)f2[k]);
		fp = fopen(path, "w");
		fprintf(fp, "{\"findings\": [{\"fingerprint\": \"%s\"}, {\"fingerprint\": \"%064d\"}, "
		    "{\"fingerprint\": \"%s\"}]}", f2, 7, f1);
		fclose(fp);
	}
	s = secrets_new(&o, &e);
	memset(&r, 0, sizeof(r));
	if (s)
		secrets_scan_text(s, "a.env", text, strlen(text), NULL, &r);
	ok(s && r.n == 2 && secrets_live(&r) == 0, "a hand-written baseline: any order, any case");
	secrets_free(s);
	secrets_result_free(&r);

	fp = fopen(path, "w");
	fputs("{\"findings\": []}", fp);
	fclose(fp);
	s = secrets_new(&o, &e);
	memset(&r, 0, sizeof(r));
	if (s)
		secrets_scan_text(s, "a.env", text, strlen(text), NULL, &r);
	ok(s && secrets_live(&r) == 2, "an empty baseline suppresses nothing");
	secrets_free(s);
	secrets_result_free(&r);

	fp = fopen(path, "w");
	fputs("{\"findings\": [{\"fingerprint\": 5}]}", fp);
	fclose(fp);
	ok(secrets_new(&o, &e) == NULL, "a bad baseline is refused");
	like(e.msg, "findings[0].fingerprint: expected 64 hex digits", "... saying where");
	secrets_opts_free(&o);
	unlink(path);
	rmdir(dir);
}

/* A tree (every file, not git's): byte order, .git skipped, whatever
 * readdir gives. */
static void
test_walk(void)
{
	static const char *const files[] = { "b.env", "a.env", "B.env", "c/z.env", "c/.git/x.env",
		".git/HEAD.env", "a-b.env", NULL };
	char dir[] = "/tmp/secrets-walk-XXXXXX", path[256], *want, *got;
	struct secrets_opts o;
	struct secrets_result r;
	struct err e = { 0, "" };
	struct secrets *s;
	struct buf b = BUF_INIT;
	size_t i;
	FILE *fp;

	ok(mkdtemp(dir) != NULL, "a scratch directory");
	snprintf(path, sizeof(path), "%s/c", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/c/.git", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/.git", dir);
	mkdir(path, 0755);
	for (i = 0; files[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		fp = fopen(path, "w");
		fprintf(fp, "k=%s\n", AWS);
		fclose(fp);
	}
	secrets_opts_init(&o);
	o.mode = SECRETS_ALL;
	o.paths = strv_push(NULL, dir);
	s = secrets_new(&o, &e);
	memset(&r, 0, sizeof(r));
	ok(s && secrets_run(s, &r, &e) == 0, "a tree is scanned");
	for (i = 0; i < r.n; i++)
		buf_addf(&b, "%s%s", i ? " " : "", r.f[i].path + strlen(dir) + 1);
	got = buf_detach(&b, NULL);
	want = "B.env a-b.env a.env b.env c/z.env";
	is_str(got, want, "files in byte order, .git skipped at any depth");
	ok(r.st.files == 5 && r.st.skipped_other == 0, "five files read");
	free(got);
	secrets_free(s);
	secrets_result_free(&r);

	snprintf(path, sizeof(path), "%s/none", dir);
	strv_free(o.paths);
	o.paths = strv_push(NULL, path);
	s = secrets_new(&o, &e);
	memset(&r, 0, sizeof(r));
	ok(s && secrets_run(s, &r, &e) < 0 && e.code == EX_USAGE_, "a path that is not there is refused");
	like(e.msg, "cannot scan '", "... naming it");
	secrets_free(s);
	secrets_result_free(&r);
	secrets_opts_free(&o);

	for (i = 0; files[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/c/.git", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/c", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/.git", dir);
	rmdir(path);
	rmdir(dir);
}

static void
test_reports(void)
{
	struct buf b = BUF_INIT;
	struct report_rule rules[] = {
		{ "r1", "RuleOne", "rule one", "fix it", "critical", "9.0" },
	};
	struct report_finding f[] = {
		{ "r1", "a b/c\xc3\xa9.js", 3, 5, "rule one: AKIA\xe2\x80\xa6", "aa" },
		{ "r1", "a b/c\xc3\xa9.js", 9, 1, "rule one: AKIA\xe2\x80\xa6", "aa" },
	};
	struct report_tool tool = { "ci-gate", "1.0", NULL, "/src/my repo" };
	char *t;
	cJSON *j, *res;

	uri_encode_path(&b, "dir/a b%#?\xc3\xa9-_.~");
	is_str(buf_str(&b), "dir/a%20b%25%23%3F%C3%A9-_.~", "percent-encoding of a path");
	buf_free(&b);

	t = sarif_render(&tool, rules, 1, f, 2);
	j = cJSON_Parse(t);
	res = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "runs"), 0), "results");
	is_str(json_str(j, "version"), "2.1.0", "SARIF version");
	is_str(json_str(json_path(j, "runs[0].originalUriBaseIds['%SRCROOT%']"), "uri"),
	    "file:///src/my%20repo/", "SARIF base URI, encoded, with a slash");
	is_str(json_str(json_path(res, "[0].locations[0].physicalLocation.artifactLocation"), "uri"),
	    "a%20b/c%C3%A9.js", "SARIF relative URI");
	ok(strcmp(json_str(json_path(res, "[0].partialFingerprints"), "secretFingerprint/v1"),
	    json_str(json_path(res, "[1].partialFingerprints"), "secretFingerprint/v1")) != 0,
	    "the same fingerprint twice becomes two");
	is_str(json_str(json_path(res, "[0].partialFingerprints"), "secretFingerprint/v1"), "aa",
	    "the first keeps its own");
	cJSON_Delete(j);
	free(t);

	t = codequality_render(rules, 1, f, 2);
	j = cJSON_Parse(t);
	is_str(json_str(json_path(j, "[0].location"), "path"), "a b/c\xc3\xa9.js", "Code Quality path, as is");
	ok(strcmp(json_str(cJSON_GetArrayItem(j, 0), "fingerprint"), json_str(cJSON_GetArrayItem(j, 1), "fingerprint")),
	    "Code Quality fingerprints are unique");
	is_str(json_str(cJSON_GetArrayItem(j, 0), "severity"), "critical", "Code Quality severity from the rule");
	cJSON_Delete(j);
	free(t);
}

static void
test_block(void)
{
	char dir[] = "/tmp/block-unit-XXXXXX", path[256];
	struct block b, in;
	struct err e = { 0, "" };
	FILE *fp;

	ok(mkdtemp(dir) != NULL, "a scratch directory");
	ok(block_read(dir, &b, &e) == 0, "no file: not blocked");
	block_free(&b);
	memset(&in, 0, sizeof(in));
	in.since = "2026-11-26T10:02:00Z";
	in.release = "2.4.1";
	in.digest = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270";
	in.reason = "canary failed";
	ok(block_write(dir, &in, &e) == 0, "block written");
	ok(block_read(dir, &b, &e) == 1, "... and read back");
	is_str(b.release, "2.4.1", "... release");
	is_str(b.reason, "canary failed", "... reason");
	block_free(&b);
	snprintf(path, sizeof(path), "%s/%s", dir, BLOCK_FILE);
	fp = fopen(path, "w");
	fputs("[]", fp);
	fclose(fp);
	ok(block_read(dir, &b, &e) == -1, "a malformed file blocks (-1)");
	like(e.msg, "expected a JSON object", "... saying why");
	ok(b.path && strstr(b.path, BLOCK_FILE), "... and where");
	block_free(&b);
	unlink(path);
	rmdir(dir);
	unsetenv("CI_STATE_DIR");
	is_str(state_dir(), ".ci-state", "the default state directory");
	setenv("CI_STATE_DIR", "/var/lib/ci", 1);
	is_str(state_dir(), "/var/lib/ci", "CI_STATE_DIR");
	unsetenv("CI_STATE_DIR");
}

static void
test_trailers(void)
{
	char *k, *v, *id;

	ok(review_trailer("Reviewed-by: Ana Lima <ANA@Example.com>", &k, &v, &id) == 0, "a trailer");
	is_str(k, "Reviewed-by", "... key");
	is_str(v, "Ana Lima <ANA@Example.com>", "... value");
	is_str(id, "ana@example.com", "... identity: the address, lowercase");
	free(k);
	free(v);
	free(id);
	ok(review_trailer("Acked-by: ana", &k, &v, &id) == 0 && !strcmp(id, "ana"), "no address: the name");
	free(k);
	free(v);
	free(id);
	ok(review_trailer("not a trailer", &k, &v, &id) == -1, "a line without a key");
	ok(review_trailer("Bad key: x", &k, &v, &id) == -1, "a key with a space");
	ok(review_trailer("Reviewed-by:   ", &k, &v, &id) == -1, "an empty value");
}

int
main(void)
{
	size_t n, i, k;
	const struct secret_rule_info *r = secrets_rules(&n);
	int unique = 1;
	struct err ce = { 0, "" };

	/* The digests need libcrypto (core/crypto-load.h). */
	if (crypto_load(&ce) < 0) {
		printf("Bail out! %s\n", ce.msg);
		return 1;
	}
	for (i = 0; i < n; i++)
		for (k = i + 1; k < n; k++)
			if (!strcmp(r[i].id, r[k].id))
				unique = 0;
	ok(n >= 11 && unique, "%zu rules with unique ids", n);
	ok(secrets_rule("jwt") != NULL && secrets_rule("nope") == NULL, "rules by id");
	test_pieces();
	test_rules();
	test_many_lines();
	test_many_keywords();
	test_generic_parse();
	test_linemap_and_opts();
	test_sizes();
	test_baseline();
	test_walk();
	test_reports();
	test_block();
	test_trailers();
	/* The prefilter runs a rule only where one of its keywords is: a
	 * rule without keywords, or with an empty or upper-case one, would
	 * never run or never be found (the automaton folds case). */
	for (k = 0; k < SECRETS_NRULES; k++) {
		const char *kw = secrets_rule_defs[k].keywords, *p;
		int good = kw && *kw && *kw != '|' && kw[strlen(kw) - 1] != '|' && !strstr(kw, "||");

		for (p = kw; good && *p; p++)
			if (isupper((unsigned char)*p))
				good = 0;
		ok(good, "rule %s: keywords '%s', none empty, all lower case",
		    secrets_rule_defs[k].info.id, kw ? kw : "(null)");
	}
	/* A scanner compiles a rule when it first needs it: each must. */
	for (k = 0; k < SECRETS_NRULES; k++) {
		regex_t re;
		int rc = regcomp(&re, secrets_rule_defs[k].re,
		    REG_EXTENDED | (secrets_rule_defs[k].icase ? REG_ICASE : 0));

		ok(rc == 0, "rule %s compiles", secrets_rule_defs[k].info.id);
		if (rc == 0)
			regfree(&re);
	}
	return done_testing();
}
