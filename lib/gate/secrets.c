/*
 * secrets: the rules, the keyword prefilter, the checks that keep false
 * positives out, suppression, and the sources (tracked files, a tree, a
 * diff).  See secrets.h for the contract.
 *
 * How a file is scanned: one pass of an Aho-Corasick automaton (bytes in
 * classes, letters folded, four slices of the file at once) finds the
 * keywords; each line holding keywords is then matched against the
 * expressions of the rules those keywords belong to, only there.  Every
 * match of a rule's expression contains one of its keywords, so nothing
 * is lost.  The generic rule is first parsed by hand at each keyword, and
 * its expression runs only where the value already passes its checks
 * (glibc's regexec with subexpressions is slow; most "token" or
 * "password" lines assign a name or a call).  A match becomes a finding
 * once the rule's checks pass (word boundary, entropy, placeholder, a JWT
 * header, a key body), unless it overlaps a finding made before on the
 * same text (a token in "token = ..." is one finding).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/git.h"
#include "core/json.h"
#include "gate/secrets.h"

#define BINARY_PROBE 8000	/* bytes checked for NUL, as git does */
#define LONG_LINE 4096		/* longer lines are matched in windows around keywords */
#define WIN_BEFORE 512
#define WIN_AFTER 2048
#define HITS_MAX 65536		/* keyword positions kept per line */
#define STREAMS 4		/* slices of a text the automaton runs over at once */
#define STREAM_MIN 4096		/* a shorter text is one slice */
#define NMATCH 10
#define KEY_BODY_MIN 64		/* base64 characters a private key body needs */
#define KEY_RUN_MIN 40		/* ... with one run this long (prose has spaces) */
#define KEY_BODY_CAP 16384
#define GENERIC_MIN 8
#define GENERIC_MAX 512
#define BASELINE_MAX (64u << 20)
#define ALLOW_MARK "ci-gate:allow"

enum kind { K_TOKEN, K_JWT, K_PRIVKEY, K_GENERIC };

struct rule_def {
	struct secret_rule_info info;
	int kind;
	const char *re;
	int icase;
	int group;		/* the secret's subexpression (K_TOKEN, K_JWT) */
	const char *bound;	/* chars (besides alnum) that may not follow; NULL: no check */
	double min_entropy;	/* of the secret */
	const char *keywords;	/* '|'-separated, lowercase */
};

/* A word boundary that POSIX ERE lacks: group 1 eats the char before. */
#define B "(^|[^A-Za-z0-9_])"

/*
 * The generic rule, in pieces: a key holding a keyword, an assignment, a
 * value quoted three ways or bare.  The table holds it unanchored (what
 * --list-rules shows and grep can run); the scanner runs it anchored at
 * the start of the key it found by hand, which glibc matches many times
 * faster.  Groups of the anchored form: 1 key, 2 keyword, 3 operator,
 * 4 value, 5-8 the value inside "", '', `` or bare.
 */
#define GENERIC_KEY \
	"([a-z0-9_.-]*(secret|token|passwd|password|pwd|api[_.-]?key|auth[_.-]?key|access[_.-]?key|private[_.-]?key)[a-z0-9_.-]*)"
#define GENERIC_REST \
	"[\"']?[[:space:]]*(:=|=>|=|:)[[:space:]]*" \
	"(\"([^\"]*)\"|'([^']*)'|`([^`]*)`|([^][(){}<>\"'`[:space:],;#|&]+))"
#define G_KEY 1
#define G_KEYWORD 2
#define G_VALUE 5		/* first of the four value groups */
#define G_BARE 8

static const struct rule_def rules[] = {
	{ { "aws-access-key-id", "AwsAccessKeyId", "AWS access key ID",
	    "Deactivate the key in AWS IAM, create a new one, and keep it out of the tree (an environment variable or a secret store).",
	    "critical", "9.0", NULL, 0 },
	  K_TOKEN, B "((AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16})", 0, 2, "", 3.0,
	  "akia|asia|abia|acca|a3t" },
	{ { "github-token", "GithubToken", "GitHub token",
	    "Revoke the token in GitHub (Settings, Developer settings), issue a new one, and keep it out of the tree.",
	    "critical", "9.0", NULL, 0 },
	  K_TOKEN, B "(gh[pousr]_[A-Za-z0-9]{36})", 0, 2, "", 3.0,
	  "ghp_|gho_|ghu_|ghs_|ghr_" },
	{ { "github-fine-grained-token", "GithubFineGrainedToken", "GitHub fine-grained personal access token",
	    "Revoke the token in GitHub (Settings, Developer settings), issue a new one, and keep it out of the tree.",
	    "critical", "9.0", NULL, 0 },
	  K_TOKEN, B "(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})", 0, 2, "", 3.0,
	  "github_pat_" },
	{ { "gitlab-token", "GitlabToken", "GitLab token",
	    "Revoke the token in GitLab, issue a new one, and keep it out of the tree.",
	    "critical", "9.0", NULL, 0 },
	  K_TOKEN, B "((glpat|gldt|glptt|glrt|glcbt|glimt|glagent|gloas|glsoat|glffct)-[A-Za-z0-9_-]{20,}|GR1348941[A-Za-z0-9_-]{20,})",
	  0, 2, "_-", 3.0,
	  "glpat-|gldt-|glptt-|glrt-|glcbt-|glimt-|glagent-|gloas-|glsoat-|glffct-|gr1348941" },
	{ { "private-key", "PrivateKey", "private key",
	    "Treat the key as compromised: replace it wherever it is trusted, and keep keys out of the tree.",
	    "critical", "9.5", NULL, 0 },
	  K_PRIVKEY, "-----BEGIN[ A-Z0-9]*PRIVATE KEY( BLOCK)?-----", 0, 0, NULL, 0,
	  "private key" },
	{ { "slack-token", "SlackToken", "Slack token",
	    "Revoke the token in the Slack app's settings, issue a new one, and keep it out of the tree.",
	    "major", "7.5", NULL, 0 },
	  K_TOKEN, B "(xox[abposr]-[0-9]{6,}-[A-Za-z0-9-]{8,}|xapp-[0-9]-[A-Za-z0-9]+-[0-9]+-[A-Za-z0-9]{16,})",
	  0, 2, "-", 3.0,
	  "xoxa-|xoxb-|xoxo-|xoxp-|xoxr-|xoxs-|xapp-" },
	{ { "slack-webhook", "SlackWebhook", "Slack webhook URL",
	    "Delete the webhook in Slack, create a new one, and pass its URL to the pipeline as a secret.",
	    "major", "7.0", NULL, 0 },
	  K_TOKEN, "hooks\\.slack\\.com/(services|workflows|triggers)/(T[A-Za-z0-9_]{6,}/[A-Za-z0-9_]{6,}/[A-Za-z0-9_/]{16,})",
	  0, 2, "", 3.0,
	  "hooks.slack.com" },
	{ { "google-api-key", "GoogleApiKey", "Google API key",
	    "Delete or restrict the key in the Google Cloud console, create a new one, and keep it out of the tree.",
	    "major", "7.5", NULL, 0 },
	  K_TOKEN, B "(AIza[0-9A-Za-z_-]{35})", 0, 2, "_-", 3.0,
	  "aiza" },
	{ { "jwt", "JsonWebToken", "JSON Web Token",
	    "A signed token is a credential until it expires: rotate the signing key or revoke the session, and keep tokens out of the tree.",
	    "major", "6.5", NULL, 0 },
	  K_JWT, B "(eyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{16,})", 0, 2, "", 3.0,
	  "eyj" },
	{ { "stripe-key", "StripeSecretKey", "Stripe secret or restricted key",
	    "Roll the key in the Stripe dashboard and keep it out of the tree.",
	    "critical", "9.0", NULL, 0 },
	  K_TOKEN, B "((sk|rk)_(live|test)_[A-Za-z0-9]{20,247})", 0, 2, "", 3.0,
	  "sk_live_|rk_live_|sk_test_|rk_test_" },
	/* Last: a specific rule that matched the same text wins. */
	{ { "generic-secret", "GenericSecret", "hard-coded secret",
	    "Move the value out of the tree (an environment variable or a secret store) and rotate it; if it is not a secret, mark the line with ci-gate:allow.",
	    "major", "7.0", NULL, 0 },
	  K_GENERIC, "(^|[^a-z0-9_])" GENERIC_KEY GENERIC_REST, 1, 0, NULL, 0,
	  "secret|token|passwd|password|pwd|api_key|api.key|api-key|apikey|auth_key|auth.key|auth-key|authkey|"
	  "access_key|access.key|access-key|accesskey|private_key|private.key|private-key|privatekey" },
};

#define NRULES (sizeof(rules) / sizeof(rules[0]))

/* Words that, after the keyword, make a key name something else than the
 * secret: "password_hash", "token_url", "secretName". */
static const char *const key_tails[] = {
	"url", "urls", "uri", "path", "paths", "file", "filename", "dir", "name",
	"names", "type", "field", "label", "len", "length", "size", "hash",
	"hashed", "regex", "regexp", "pattern", "header", "prefix", "suffix",
	"format", "id", "ids", "env", "var", "variable", "count", "ttl",
	"timeout", "expiry", "expires", "expiration", "endpoint", "mode",
	"policy", "store", "class", "provider", "ref", "param", "placeholder",
	"prompt", "hint", "message", "msg", "error", "help", "text",
	"description", "enabled", "required", "min", "max", "version", NULL
};

struct span {
	size_t a, b;
};

struct hit {
	size_t pos;
	uint64_t mask;
};

struct hitv {
	struct hit *h;
	size_t n, alloc;
};

struct secrets {
	const struct secrets_opts *o;
	regex_t re[NRULES];
	regex_t generic;	/* the generic rule, anchored */
	int enabled[NRULES];
	int compiled[NRULES];
	int generic_compiled;
	regex_t *allow_paths, *allow_re;
	size_t nallow_paths, nallow_re;
	char **baseline;	/* sorted fingerprints */
	size_t nbaseline;
	/* the prefilter */
	uint16_t *ac_next;	/* [state * ncls + class]: next state * ncls */
	uint64_t *ac_out;	/* [state]: rules whose keyword ends there */
	uint8_t ac_cls[256];	/* byte -> class */
	size_t nstates, ac_ncls;
	size_t ac_first_out;	/* states from here on end a keyword */
	/* scratch, reused from file to file */
	char *line;
	size_t line_alloc;
	char *fbuf;
	size_t fbuf_alloc;
	struct span *spans;
	size_t nspans, spans_alloc;
	struct hit *hits;	/* the keywords of the current line */
	size_t nhits, hits_alloc;
	int hits_over;		/* more than HITS_MAX on the line */
	struct hitv sh[STREAMS];	/* keywords found by each stream */
	struct hitv fhits;	/* ... and in the whole text, in order */
};

/* ---- small pieces ------------------------------------------------------ */

const struct secret_rule_info *
secrets_rules(size_t *n)
{
	/* The infos, in an array of their own (the rule table holds more). */
	static struct secret_rule_info infos[NRULES];
	static int done;
	size_t i;

	if (!done) {
		for (i = 0; i < NRULES; i++) {
			infos[i] = rules[i].info;
			infos[i].regex = rules[i].re;
			infos[i].icase = rules[i].icase;
		}
		done = 1;
	}
	if (n)
		*n = NRULES;
	return infos;
}

const struct secret_rule_info *
secrets_rule(const char *id)
{
	const struct secret_rule_info *r;
	size_t i, n;

	r = secrets_rules(&n);
	for (i = 0; i < n; i++)
		if (!strcmp(r[i].id, id))
			return &r[i];
	return NULL;
}

static int
rule_index(const char *id)
{
	size_t i;

	for (i = 0; i < NRULES; i++)
		if (!strcmp(rules[i].info.id, id))
			return (int)i;
	return -1;
}

double
secrets_entropy(const char *s, size_t n)
{
	size_t count[256] = { 0 }, i;
	double h = 0;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		count[(unsigned char)s[i]]++;
	for (i = 0; i < 256; i++) {
		double p;

		if (!count[i])
			continue;
		p = (double)count[i] / (double)n;
		h -= p * log2(p);
	}
	return h;
}

static int
has_ci(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle), i, j;

	for (i = 0; i + k <= n; i++) {
		for (j = 0; j < k; j++)
			if (tolower((unsigned char)s[i + j]) != needle[j])
				break;
		if (j == k)
			return 1;
	}
	return 0;
}

int
secrets_placeholder(const char *s, size_t n, int generic)
{
	static const char *const any[] = {
		"${", "{{", "}}", "xxxx", "changeme", "change_me", "change-me",
		"changeit", "example", "<%", NULL
	};
	static const char *const gen[] = {
		"placeholder", "redacted", "dummy", "your_", "your-", "yourkey",
		"****", "....", "<", ">", "%s", "%(", "process.env", "os.environ",
		"getenv", "secret_here", "token_here", NULL
	};
	size_t i;

	for (i = 0; any[i]; i++)
		if (has_ci(s, n, any[i]))
			return 1;
	if (!generic)
		return 0;
	for (i = 0; gen[i]; i++)
		if (has_ci(s, n, gen[i]))
			return 1;
	/* A reference to a variable, not a value: $VAR, @Vault(...), %VAR%. */
	return n && (s[0] == '$' || s[0] == '@' || s[0] == '%');
}

char *
secrets_redact(const char *s, size_t n)
{
	size_t chars = 0, show, i, end;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			chars++;
	show = chars >= 16 ? 4 : chars / 4;
	/* Cut after `show` whole characters. */
	for (i = 0, end = 0; i < n; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (show == 0)
				break;
			show--;
		}
		end = i + 1;
	}
	if (end > n)
		end = n;
	while (end < n && ((unsigned char)s[end] & 0xc0) == 0x80)
		end++;
	return xasprintf("%.*s\xe2\x80\xa6", (int)end, s);
}

void
secrets_fingerprint(const char *rule, const char *path, const char *secret,
    size_t n, char out[SECRETS_FP_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	out[0] = '\0';
	if (!c)
		return;
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	EVP_DigestUpdate(c, rule, strlen(rule) + 1);
	EVP_DigestUpdate(c, path, strlen(path) + 1);
	EVP_DigestUpdate(c, secret, n);
	EVP_DigestFinal_ex(c, md, &mdlen);
	EVP_MD_CTX_free(c);
	for (i = 0; i < mdlen && i < SECRETS_FP_LEN / 2; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * i] = '\0';
}

int
secrets_unquote(char *s)
{
	size_t n = strlen(s), i = 1, o = 0;

	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return -1;
	while (i < n - 1) {
		char c = s[i++];

		if (c != '\\') {
			s[o++] = c;
			continue;
		}
		if (i >= n - 1)
			break;
		c = s[i++];
		switch (c) {
		case 'a': s[o++] = '\a'; break;
		case 'b': s[o++] = '\b'; break;
		case 'f': s[o++] = '\f'; break;
		case 'n': s[o++] = '\n'; break;
		case 'r': s[o++] = '\r'; break;
		case 't': s[o++] = '\t'; break;
		case 'v': s[o++] = '\v'; break;
		default:
			if (c >= '0' && c <= '7') {
				int v = c - '0', k;

				for (k = 0; k < 2 && i < n - 1 && s[i] >= '0' && s[i] <= '7'; k++)
					v = v * 8 + (s[i++] - '0');
				s[o++] = (char)v;
			} else {
				s[o++] = c;	/* \" and \\ */
			}
		}
	}
	s[o] = '\0';
	return 0;
}

/* ---- options ----------------------------------------------------------- */

void
secrets_opts_init(struct secrets_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->mode = SECRETS_TRACKED;
	o->entropy = SECRETS_DEFAULT_ENTROPY;
	o->max_file_size = SECRETS_DEFAULT_MAX_FILE;
}

void
secrets_opts_free(struct secrets_opts *o)
{
	strv_free(o->paths);
	free(o->since);
	strv_free(o->allow_paths);
	strv_free(o->allow_regexes);
	strv_free(o->disable);
	free(o->baseline);
	free(o->write_baseline);
	memset(o, 0, sizeof(*o));
}

static int
opt_fail(const cJSON **bad, const cJSON *at, struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
opt_fail(const cJSON **bad, const cJSON *at, struct err *e, const char *fmt, ...)
{
	char msg[sizeof(e->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (bad)
		*bad = at;
	return err_set(e, EX_USAGE_, "%s", msg);
}

static int
check_regex(const char *re, char *why, size_t whysz)
{
	regex_t r;
	int rc = regcomp(&r, re, REG_EXTENDED | REG_NOSUB);

	if (rc != 0) {
		regerror(rc, &r, why, whysz);
		return -1;
	}
	regfree(&r);
	return 0;
}

/* A string, or an array of strings; each optionally a valid ERE. */
static int
opt_strings(const cJSON *v, const char *key, int regex, char ***out,
    const cJSON **bad, struct err *e)
{
	const cJSON *it;
	char why[256];
	int i = 0;

	if (cJSON_IsString(v)) {
		if (regex && check_regex(v->valuestring, why, sizeof(why)) < 0)
			return opt_fail(bad, v, e, "%s: bad regular expression '%s': %s", key, v->valuestring, why);
		*out = strv_push(*out, v->valuestring);
		return 0;
	}
	if (!cJSON_IsArray(v))
		return opt_fail(bad, v, e, "%s: expected a string or an array of strings", key);
	cJSON_ArrayForEach(it, v) {
		if (!cJSON_IsString(it) || !*it->valuestring)
			return opt_fail(bad, it, e, "%s[%d]: expected a non-empty string", key, i);
		if (regex && check_regex(it->valuestring, why, sizeof(why)) < 0)
			return opt_fail(bad, it, e, "%s[%d]: bad regular expression '%s': %s", key, i,
			    it->valuestring, why);
		*out = strv_push(*out, it->valuestring);
		i++;
	}
	return 0;
}

static int
parse_size(const char *s, long long *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 1)
		return -1;
	if (*end == 'K' || *end == 'k')
		v *= 1024, end++;
	else if (*end == 'M')
		v *= 1024 * 1024, end++;
	else if (*end == 'G')
		v *= 1024.0 * 1024 * 1024, end++;
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end || v > 1e15)
		return -1;
	*out = (long long)v;
	return 0;
}

static int
ignored(const char *k, const char *const *ignore)
{
	size_t i;

	for (i = 0; ignore && ignore[i]; i++)
		if (!strcmp(k, ignore[i]))
			return 1;
	return 0;
}

static int
opt_string(const cJSON *it, const char *k, char **out, const cJSON **bad, struct err *e)
{
	if (!cJSON_IsString(it) || !*it->valuestring)
		return opt_fail(bad, it, e, "%s: expected a non-empty string", k);
	free(*out);
	*out = xstrdup(it->valuestring);
	return 0;
}

int
secrets_opts_parse(struct secrets_opts *o, const cJSON *obj,
    const char *const *ignore, const cJSON **bad, struct err *e)
{
	const cJSON *it, *a;
	int modes = 0, i;

	if (!cJSON_IsObject(obj))
		return opt_fail(bad, obj, e, "options: expected an object");
	cJSON_ArrayForEach(it, obj) {
		const char *k = it->string;

		if (ignored(k, ignore))
			continue;
		if (!strcmp(k, "paths")) {
			if (opt_strings(it, k, 0, &o->paths, bad, e) < 0)
				return -1;
		} else if (!strcmp(k, "all_files") || !strcmp(k, "staged")) {
			if (!cJSON_IsBool(it))
				return opt_fail(bad, it, e, "%s: expected true or false", k);
			if (cJSON_IsTrue(it)) {
				if (modes++)
					return opt_fail(bad, it, e, "%s: give at most one of all_files, since and staged", k);
				o->mode = k[0] == 'a' ? SECRETS_ALL : SECRETS_STAGED;
			}
		} else if (!strcmp(k, "since")) {
			if (opt_string(it, k, &o->since, bad, e) < 0)
				return -1;
			if (o->since[0] == '-')
				return opt_fail(bad, it, e, "%s: a revision may not begin with '-'", k);
			if (modes++)
				return opt_fail(bad, it, e, "%s: give at most one of all_files, since and staged", k);
			o->mode = SECRETS_SINCE;
		} else if (!strcmp(k, "allowlist")) {
			if (!cJSON_IsObject(it))
				return opt_fail(bad, it, e, "%s: expected an object with paths and regexes", k);
			cJSON_ArrayForEach(a, it) {
				char p[128];

				snprintf(p, sizeof(p), "allowlist.%s", a->string);
				if (!strcmp(a->string, "paths")) {
					if (opt_strings(a, p, 1, &o->allow_paths, bad, e) < 0)
						return -1;
				} else if (!strcmp(a->string, "regexes")) {
					if (opt_strings(a, p, 1, &o->allow_regexes, bad, e) < 0)
						return -1;
				} else {
					return opt_fail(bad, a, e, "%s: unknown key (expected paths, regexes)", p);
				}
			}
		} else if (!strcmp(k, "baseline")) {
			if (opt_string(it, k, &o->baseline, bad, e) < 0)
				return -1;
		} else if (!strcmp(k, "write_baseline")) {
			if (opt_string(it, k, &o->write_baseline, bad, e) < 0)
				return -1;
		} else if (!strcmp(k, "disable")) {
			char **ids = NULL;

			if (opt_strings(it, k, 0, &ids, bad, e) < 0) {
				strv_free(ids);
				return -1;
			}
			for (i = 0; ids && ids[i]; i++) {
				if (rule_index(ids[i]) < 0) {
					opt_fail(bad, it, e, "%s: no rule '%s'", k, ids[i]);
					strv_free(ids);
					return -1;
				}
				o->disable = strv_push(o->disable, ids[i]);
			}
			strv_free(ids);
		} else if (!strcmp(k, "entropy")) {
			if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 8)
				return opt_fail(bad, it, e, "%s: expected bits per character, from 0 to 8", k);
			o->entropy = it->valuedouble;
		} else if (!strcmp(k, "max_file_size")) {
			long long v;

			if (cJSON_IsNumber(it) && it->valuedouble >= 1 && it->valuedouble <= 1e15 &&
			    it->valuedouble == (double)(long long)it->valuedouble)
				v = (long long)it->valuedouble;
			else if (!cJSON_IsString(it) || parse_size(it->valuestring, &v) < 0)
				return opt_fail(bad, it, e, "%s: expected a size, as 1048576 or \"1M\"", k);
			o->max_file_size = v;
		} else {
			return opt_fail(bad, it, e, "%s: unknown key (expected paths, all_files, since, staged, "
			    "allowlist, baseline, write_baseline, disable, entropy, max_file_size)", k);
		}
	}
	return 0;
}

/* ---- the prefilter ---------------------------------------------------- */

/* Build the automaton: a trie of the keywords, failure links by BFS, then
 * every missing edge filled in, so the scan is one lookup per byte. */
static void
ac_build(struct secrets *s)
{
	size_t cap = 1, i, k, head, tail;
	int32_t *go;
	size_t *fail, *queue;
	const char *p;

	for (i = 0; i < NRULES; i++)
		cap += strlen(rules[i].keywords) + 1;
	go = xmalloc(cap * 256 * sizeof(*go));
	for (k = 0; k < cap * 256; k++)
		go[k] = -1;
	s->ac_out = xcalloc(cap, sizeof(*s->ac_out));
	s->nstates = 1;
	for (i = 0; i < NRULES; i++) {
		if (!s->enabled[i])
			continue;
		for (p = rules[i].keywords; *p;) {
			size_t st = 0;

			for (; *p && *p != '|'; p++) {
				unsigned char c = (unsigned char)*p;

				if (go[st * 256 + c] < 0)
					go[st * 256 + c] = (int32_t)s->nstates++;
				st = (size_t)go[st * 256 + c];
			}
			s->ac_out[st] |= (uint64_t)1 << i;
			if (*p == '|')
				p++;
		}
	}
	fail = xcalloc(s->nstates, sizeof(*fail));
	queue = xcalloc(s->nstates, sizeof(*queue));
	head = tail = 0;
	for (k = 0; k < 256; k++) {
		if (go[k] < 0) {
			go[k] = 0;
		} else {
			fail[go[k]] = 0;
			queue[tail++] = (size_t)go[k];
		}
	}
	while (head < tail) {
		size_t st = queue[head++];

		s->ac_out[st] |= s->ac_out[fail[st]];
		for (k = 0; k < 256; k++) {
			int32_t nx = go[st * 256 + k];

			if (nx < 0) {
				go[st * 256 + k] = go[fail[st] * 256 + k];
			} else {
				fail[nx] = (size_t)go[fail[st] * 256 + k];
				queue[tail++] = (size_t)nx;
			}
		}
	}
	/*
	 * The table the scan uses, small enough for the L1 cache: bytes fall
	 * into classes (each byte of a keyword its own, uppercase as its
	 * lowercase, every other byte class 0); states are renumbered so that
	 * those where a keyword ends come last, and an entry holds the next
	 * state's row offset.  The scan is then one load and one compare a
	 * byte.
	 */
	{
		size_t ncls = 1, *order = xcalloc(s->nstates, sizeof(*order));
		size_t *newid = xcalloc(s->nstates, sizeof(*newid));
		uint64_t *out = xcalloc(s->nstates, sizeof(*out));
		unsigned char rep[256];
		size_t n = 0;

		memset(s->ac_cls, 0, sizeof(s->ac_cls));
		rep[0] = 0;	/* NUL is in no keyword: class 0 moves as it does */
		for (i = 0; i < NRULES; i++)
			for (p = rules[i].keywords; *p; p++) {
				unsigned char c = (unsigned char)*p;

				if (c != '|' && !s->ac_cls[c]) {
					s->ac_cls[c] = (uint8_t)ncls;
					rep[ncls++] = c;
				}
			}
		for (k = 'A'; k <= 'Z'; k++)
			s->ac_cls[k] = s->ac_cls[k + 32];
		for (i = 0; i < s->nstates; i++)
			if (!s->ac_out[i])
				order[n++] = i;
		s->ac_first_out = n;
		for (i = 0; i < s->nstates; i++)
			if (s->ac_out[i])
				order[n++] = i;
		for (i = 0; i < s->nstates; i++)
			newid[order[i]] = i;
		s->ac_ncls = ncls;
		s->ac_next = xmalloc(s->nstates * ncls * sizeof(*s->ac_next));
		for (i = 0; i < s->nstates; i++) {
			size_t old = order[i];

			out[i] = s->ac_out[old];
			for (k = 0; k < ncls; k++)
				s->ac_next[i * ncls + k] =
				    (uint16_t)(newid[go[old * 256 + rep[k]]] * ncls);
		}
		free(s->ac_out);
		s->ac_out = out;
		free(order);
		free(newid);
	}
	free(go);
	free(fail);
	free(queue);
}

/* ---- the scanner --------------------------------------------------------- */

static int
fp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
load_baseline(struct secrets *s, const char *path, struct err *e)
{
	struct json_src src = { NULL, NULL, 0, 0 };
	cJSON *root, *list, *it;
	int i = 0;

	root = json_load(path, BASELINE_MAX, 0, &src, e);
	if (!root) {
		json_src_free(&src);
		return err_prefix(e, "baseline");
	}
	list = cJSON_GetObjectItemCaseSensitive(root, "findings");
	if (!cJSON_IsObject(root) || !cJSON_IsArray(list)) {
		char where[512];

		json_where(&src, root, where, sizeof(where));
		err_set(e, EX_USAGE_, "baseline %s: expected an object with a \"findings\" array", where);
		goto bad;
	}
	cJSON_ArrayForEach(it, list) {
		const char *fp = json_str(it, "fingerprint");
		size_t k;

		for (k = 0; fp && fp[k]; k++)
			if (!isxdigit((unsigned char)fp[k]))
				break;
		if (!fp || k != SECRETS_FP_LEN || fp[k]) {
			char where[512];

			json_where(&src, it, where, sizeof(where));
			err_set(e, EX_USAGE_, "baseline %s: findings[%d].fingerprint: expected 64 hex digits",
			    where, i);
			goto bad;
		}
		s->baseline = xrealloc(s->baseline, (s->nbaseline + 1) * sizeof(*s->baseline));
		s->baseline[s->nbaseline] = xstrdup(fp);
		for (k = 0; k < SECRETS_FP_LEN; k++)
			s->baseline[s->nbaseline][k] = (char)tolower((unsigned char)fp[k]);
		s->nbaseline++;
		i++;
	}
	qsort(s->baseline, s->nbaseline, sizeof(*s->baseline), fp_cmp);
	cJSON_Delete(root);
	json_src_free(&src);
	return 0;
bad:
	cJSON_Delete(root);
	json_src_free(&src);
	return -1;
}

static int
compile_list(char **v, regex_t **out, size_t *n, struct err *e)
{
	size_t i, k;

	for (k = 0; v && v[k]; k++)
		;
	*out = xcalloc(k ? k : 1, sizeof(**out));
	for (i = 0; i < k; i++) {
		if (regcomp(&(*out)[i], v[i], REG_EXTENDED | REG_NOSUB) != 0)
			return err_set(e, EX_USAGE_, "bad regular expression '%s'", v[i]);
		(*n)++;
	}
	return 0;
}

struct secrets *
secrets_new(const struct secrets_opts *o, struct err *e)
{
	struct secrets *s = xcalloc(1, sizeof(*s));
	size_t i, k;

	s->o = o;
	for (i = 0; i < NRULES; i++) {
		int rc;

		s->enabled[i] = 1;
		for (k = 0; o->disable && o->disable[k]; k++)
			if (!strcmp(o->disable[k], rules[i].info.id))
				s->enabled[i] = 0;
		rc = regcomp(&s->re[i], rules[i].re, REG_EXTENDED | (rules[i].icase ? REG_ICASE : 0));
		if (rc != 0) {
			char why[256];

			regerror(rc, &s->re[i], why, sizeof(why));
			err_set(e, EX_INTERNAL, "rule '%s' does not compile: %s", rules[i].info.id, why);
			secrets_free(s);
			return NULL;
		}
		s->compiled[i] = 1;
	}
	if (regcomp(&s->generic, "^" GENERIC_KEY GENERIC_REST, REG_EXTENDED | REG_ICASE) != 0) {
		err_set(e, EX_INTERNAL, "the anchored generic rule does not compile");
		secrets_free(s);
		return NULL;
	}
	s->generic_compiled = 1;
	if (compile_list(o->allow_paths, &s->allow_paths, &s->nallow_paths, e) < 0 ||
	    compile_list(o->allow_regexes, &s->allow_re, &s->nallow_re, e) < 0 ||
	    (o->baseline && load_baseline(s, o->baseline, e) < 0)) {
		secrets_free(s);
		return NULL;
	}
	ac_build(s);
	return s;
}

void
secrets_free(struct secrets *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < NRULES; i++)
		if (s->compiled[i])
			regfree(&s->re[i]);
	if (s->generic_compiled)
		regfree(&s->generic);
	for (i = 0; i < s->nallow_paths; i++)
		regfree(&s->allow_paths[i]);
	for (i = 0; i < s->nallow_re; i++)
		regfree(&s->allow_re[i]);
	free(s->allow_paths);
	free(s->allow_re);
	for (i = 0; i < s->nbaseline; i++)
		free(s->baseline[i]);
	free(s->baseline);
	free(s->ac_next);
	free(s->ac_out);
	free(s->line);
	free(s->fbuf);
	free(s->spans);
	free(s->hits);
	for (i = 0; i < STREAMS; i++)
		free(s->sh[i].h);
	free(s->fhits.h);
	free(s);
}

static int
is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int
b64_char(int c)
{
	return is_alnum(c) || c == '+' || c == '/' || c == '=';
}

/* Decode base64url into out (at most outsz-1 bytes), NUL-terminated. */
static size_t
b64url_decode(const char *s, size_t n, char *out, size_t outsz)
{
	unsigned v = 0;
	int bits = 0;
	size_t i, o = 0;

	for (i = 0; i < n && o + 1 < outsz; i++) {
		int c = (unsigned char)s[i], d;

		if (c >= 'A' && c <= 'Z')
			d = c - 'A';
		else if (c >= 'a' && c <= 'z')
			d = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			d = c - '0' + 52;
		else if (c == '-' || c == '+')
			d = 62;
		else if (c == '_' || c == '/')
			d = 63;
		else
			break;
		v = (v << 6) | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((v >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	return o;
}

static int
overlaps(const struct secrets *s, size_t a, size_t b)
{
	size_t i;

	for (i = 0; i < s->nspans; i++)
		if (a < s->spans[i].b && s->spans[i].a < b)
			return 1;
	return 0;
}

static void
add_span(struct secrets *s, size_t a, size_t b)
{
	if (s->nspans == s->spans_alloc) {
		s->spans_alloc = s->spans_alloc ? 2 * s->spans_alloc : 16;
		s->spans = xrealloc(s->spans, s->spans_alloc * sizeof(*s->spans));
	}
	s->spans[s->nspans].a = a;
	s->spans[s->nspans].b = b;
	s->nspans++;
}

static int
in_baseline(const struct secrets *s, const char *fp)
{
	const char *key = fp;

	return s->nbaseline &&
	    bsearch(&key, s->baseline, s->nbaseline, sizeof(*s->baseline), fp_cmp) != NULL;
}

/* Where a scan is: the file, its text and the line being matched. */
struct ctx {
	struct secrets *s;
	struct secrets_result *r;
	const char *path;
	const char *text;
	size_t len;
	const long *linemap;
	size_t ls, le;		/* the line: [ls, le) */
	long lineno;		/* 0-based index of the line in text */
	int allow;		/* the line says ci-gate:allow */
};

/* Record a match that passed its rule's checks. */
static void
report(struct ctx *c, int rule, size_t at, size_t a, size_t b, const char *secret, size_t n)
{
	struct secrets *s = c->s;
	struct secrets_result *r = c->r;
	struct secret_finding *f;
	size_t i;
	long col = 1;

	if (overlaps(s, a, b))
		return;
	add_span(s, a, b);
	if (c->allow) {
		r->st.sup_inline++;
		return;
	}
	if (s->nallow_re) {
		char *tmp = xstrndup(secret, n);

		for (i = 0; i < s->nallow_re; i++)
			if (regexec(&s->allow_re[i], tmp, 0, NULL, 0) == 0)
				break;
		free(tmp);
		if (i < s->nallow_re) {
			r->st.sup_allowlist++;
			return;
		}
	}
	if (r->n == r->alloc) {
		r->alloc = r->alloc ? 2 * r->alloc : 16;
		r->f = xrealloc(r->f, r->alloc * sizeof(*r->f));
	}
	f = &r->f[r->n++];
	memset(f, 0, sizeof(*f));
	f->rule = rule;
	f->path = xstrdup(c->path);
	f->line = c->linemap ? c->linemap[c->lineno] : c->lineno + 1;
	for (i = c->ls; i < at; i++)
		if (((unsigned char)c->text[i] & 0xc0) != 0x80)
			col++;
	f->column = col;
	f->redacted = secrets_redact(secret, n);
	secrets_fingerprint(rules[rule].info.id, c->path, secret, n, f->fingerprint);
	if (in_baseline(s, f->fingerprint)) {
		f->baselined = 1;
		r->st.sup_baseline++;
	}
}

static int
tail_word(const char *w, size_t n)
{
	size_t i, k;

	/* "fields" and "field2" are "field": the same kind of thing. */
	while (n > 1 && isdigit((unsigned char)w[n - 1]))
		n--;
	if (n > 3 && (w[n - 1] == 's' || w[n - 1] == 'S'))
		if (tail_word(w, n - 1))
			return 1;
	for (i = 0; key_tails[i]; i++) {
		k = strlen(key_tails[i]);
		if (k == n && !strncasecmp(w, key_tails[i], n))
			return 1;
	}
	return 0;
}

/* Does a word of the key after its keyword make it name something else
 * ("password_hash", "token_url", "secretName", "secret_name_list")?
 * Words are split at '_', '-', '.' and camelCase humps. */
static int
key_tail_excluded(const char *key, size_t n)
{
	size_t i = 0, w;

	while (i < n) {
		while (i < n && (key[i] == '_' || key[i] == '-' || key[i] == '.'))
			i++;
		w = i;
		if (i < n)
			i++;
		while (i < n && key[i] != '_' && key[i] != '-' && key[i] != '.' &&
		    !(isupper((unsigned char)key[i]) && islower((unsigned char)key[i - 1])))
			i++;
		if (i > w && tail_word(key + w, i - w))
			return 1;
	}
	return 0;
}

/* Could a value be a secret rather than a name ("session_id-requestMap")?
 * Random text mixes cases and digits; passwords have symbols; hex and
 * base64 and long lowercase keys are the usual exceptions. */
static int
looks_random(const char *v, size_t n)
{
	size_t i;
	int up = 0, low = 0, digit = 0, hex = 1, sep = 0, sym = 0, b64 = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		up |= isupper(c) != 0;
		low |= islower(c) != 0;
		digit |= isdigit(c) != 0;
		hex &= isxdigit(c) != 0;
		sep |= c == '_' || c == '-' || c == '.';
		b64 |= c == '+' || c == '/';
		sym |= !isalnum(c) && c != '_' && c != '-' && c != '.';
	}
	if (up && low && digit)
		return 1;
	if (sym && (digit || up))
		return 1;
	if (n >= 16 && digit && (hex || b64))
		return 1;
	return n >= 20 && digit && (up || low) && !sep;
}

static int
dotted_name(const char *v, size_t n)
{
	size_t i;
	int dots = 0, start = 1;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '.') {
			if (start)
				return 0;
			dots++;
			start = 1;
		} else if (start) {
			if (!isalpha(c) && c != '_')
				return 0;
			start = 0;
		} else if (!isalnum(c) && c != '_') {
			return 0;
		}
	}
	return dots > 0 && !start;
}

static int
generic_ok(const struct secrets *s, const char *v, size_t n, int quoted, int next)
{
	size_t i;

	if (n < GENERIC_MIN || n > GENERIC_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (isspace((unsigned char)v[i]))
			return 0;
	/* Unquoted and followed by "(" or "[": a call or an index; or a
	 * dotted name ("ed25519.Ed25519PrivateKey", a type or an attribute). */
	if (!quoted && (next == '(' || next == '[' || dotted_name(v, n)))
		return 0;
	if (!looks_random(v, n))
		return 0;
	if (v[0] == '/' || (v[0] == '.' && v[1] == '/') || (v[0] == '~' && v[1] == '/') ||
	    has_ci(v, n, "://"))
		return 0;
	if (secrets_placeholder(v, n, 1))
		return 0;
	return secrets_entropy(v, n) >= s->o->entropy;
}

/* The body of a private key after its header: base64 lines, maybe
 * escaped as \n in a string, maybe with RFC 1421 headers first. */
static size_t
key_body(const char *t, size_t len, size_t p, struct buf *body)
{
	size_t run = 0, maxrun = 0, end = p;
	int at_line_start = 1;

	while (p < len) {
		unsigned char c = (unsigned char)t[p];

		if (at_line_start && isalpha(c)) {
			/* "Proc-Type: 4,ENCRYPTED", "Version: GnuPG": skip the line. */
			size_t q = p;

			while (q < len && (isalnum((unsigned char)t[q]) || t[q] == '-'))
				q++;
			if (q < len && t[q] == ':' && q + 1 < len && t[q + 1] == ' ') {
				while (q < len && t[q] != '\n' && !(t[q] == '\\' && q + 1 < len && t[q + 1] == 'n'))
					q++;
				p = q;
				continue;
			}
		}
		if (b64_char(c)) {
			buf_addc(body, (int)c);
			run++;
			if (run > maxrun)
				maxrun = run;
			at_line_start = 0;
			p++;
			end = p;
		} else if (c == '\n' || c == '\r' || c == ' ' || c == '\t' || c == '"' || c == '\'' || c == ',') {
			if (c == '\n')
				at_line_start = 1;
			run = 0;
			p++;
		} else if (c == '\\' && p + 1 < len && (t[p + 1] == 'n' || t[p + 1] == 'r')) {
			at_line_start = 1;
			run = 0;
			p += 2;
		} else if (c == '-' && p + 5 <= len && !strncmp(t + p, "-----", 5)) {
			break;
		} else {
			break;
		}
		if (body->len >= KEY_BODY_CAP)
			break;
	}
	if (body->len < KEY_BODY_MIN || maxrun < KEY_RUN_MIN)
		return 0;
	return end;
}

static void
check_match(struct ctx *c, int k, size_t base, const regmatch_t *m)
{
	const struct rule_def *rd = &rules[k];
	const char *t = c->text;
	size_t a, b;

	if (rd->kind == K_PRIVKEY) {
		struct buf body = BUF_INIT;
		size_t end;

		a = base + (size_t)m[0].rm_so;
		b = base + (size_t)m[0].rm_eo;
		buf_init(&body, KEY_BODY_CAP + 16);
		end = key_body(t, c->len, b, &body);
		if (end && !secrets_placeholder(body.data, body.len, 0) &&
		    secrets_entropy(body.data, body.len) >= 4.0)
			report(c, k, a, a, end, body.data, body.len);
		buf_free(&body);
		return;
	}
	if (rd->kind == K_GENERIC) {	/* m from the anchored form */
		int g, vg = -1;
		size_t ka, kb, wa, wb;

		for (g = G_VALUE; g <= G_BARE; g++)
			if (m[g].rm_so >= 0) {
				vg = g;
				break;
			}
		if (vg < 0 || m[G_KEY].rm_so < 0 || m[G_KEYWORD].rm_so < 0)
			return;
		ka = base + (size_t)m[G_KEYWORD].rm_eo;	/* the key after its keyword */
		kb = base + (size_t)m[G_KEY].rm_eo;
		if (key_tail_excluded(t + ka, kb - ka))
			return;
		wa = base + (size_t)m[vg].rm_so;
		wb = base + (size_t)m[vg].rm_eo;
		if (!generic_ok(c->s, t + wa, wb - wa, vg != G_BARE, wb < c->le ? (unsigned char)t[wb] : 0))
			return;
		report(c, k, wa, wa, wb, t + wa, wb - wa);
		return;
	}
	if (m[rd->group].rm_so < 0)
		return;
	a = base + (size_t)m[rd->group].rm_so;
	b = base + (size_t)m[rd->group].rm_eo;
	if (rd->bound && b < c->le) {
		unsigned char nx = (unsigned char)t[b];

		if (is_alnum(nx) || (nx && strchr(rd->bound, nx)))
			return;
	}
	if (secrets_placeholder(t + a, b - a, 0) || secrets_entropy(t + a, b - a) < rd->min_entropy)
		return;
	if (rd->kind == K_JWT) {
		char hdr[256];
		const char *dot = memchr(t + a, '.', b - a);

		b64url_decode(t + a, dot ? (size_t)(dot - (t + a)) : b - a, hdr, sizeof(hdr));
		if (!strstr(hdr, "\"alg\"") && !strstr(hdr, "\"typ\""))
			return;
	}
	report(c, k, a, a, b, t + a, b - a);
}

/* Match rule k against text[wa, wb), a window of the current line. */
static void
match_window(struct ctx *c, int k, size_t wa, size_t wb)
{
	struct secrets *s = c->s;
	size_t n = wb - wa, off = 0, i;
	regmatch_t m[NMATCH];
	int base_flags = (wa > c->ls ? REG_NOTBOL : 0) | (wb < c->le ? REG_NOTEOL : 0);

	if (n + 1 > s->line_alloc) {
		s->line_alloc = n + 1 > 4096 ? n + 1 : 4096;
		free(s->line);
		s->line = xmalloc(s->line_alloc);
	}
	memcpy(s->line, c->text + wa, n);
	for (i = 0; i < n; i++)
		if (s->line[i] == '\0')
			s->line[i] = ' ';
	s->line[n] = '\0';
	while (off < n) {
		int flags = base_flags | (off ? REG_NOTBOL : 0);

		if (regexec(&s->re[k], s->line + off, NMATCH, m, flags) != 0)
			break;
		check_match(c, k, wa + off, m);
		off += m[0].rm_eo > m[0].rm_so ? (size_t)m[0].rm_eo : (size_t)m[0].rm_so + 1;
	}
}

static int
has_mark(const char *s, size_t n)
{
	const size_t k = sizeof(ALLOW_MARK) - 1;
	const char *p = s, *end = s + n;

	while ((size_t)(end - p) >= k && (p = memchr(p, 'c', (size_t)(end - p) - k + 1))) {
		if (!memcmp(p, ALLOW_MARK, k))
			return 1;
		p++;
	}
	return 0;
}

/*
 * What the generic rule needs after its keyword: more of the key, maybe
 * a closing quote, blanks, then '=' or ':'.  Checked by hand first, as
 * most lines that say "token" or "password" assign nothing.
 */
static int
assign_follows(const char *t, size_t p, size_t end)
{
	while (p < end && (is_alnum((unsigned char)t[p]) || t[p] == '_' || t[p] == '.' || t[p] == '-'))
		p++;
	if (p < end && (t[p] == '"' || t[p] == '\''))
		p++;
	while (p < end && t[p] != '\n' && isspace((unsigned char)t[p]))
		p++;
	return p < end && (t[p] == '=' || t[p] == ':');
}

static int
key_char(int c)
{
	return is_alnum(c) || c == '_' || c == '.' || c == '-';
}

int
secrets_generic_parse(const char *t, size_t n, size_t *va, size_t *vb, int *quoted)
{
	size_t p = 0;
	char q;

	while (p < n && key_char((unsigned char)t[p]))
		p++;
	if (p < n && (t[p] == '"' || t[p] == '\''))
		p++;
	while (p < n && isspace((unsigned char)t[p]))
		p++;
	if (p + 1 < n && ((t[p] == ':' && t[p + 1] == '=') || (t[p] == '=' && t[p + 1] == '>')))
		p += 2;
	else if (p < n && (t[p] == '=' || t[p] == ':'))
		p++;
	else
		return -1;
	while (p < n && isspace((unsigned char)t[p]))
		p++;
	if (p < n && (t[p] == '"' || t[p] == '\'' || t[p] == '`')) {
		const char *end;

		q = t[p++];
		end = memchr(t + p, q, n - p);
		if (!end)
			return -1;
		*va = p;
		*vb = (size_t)(end - t);
		*quoted = 1;
		return 0;
	}
	*va = p;
	while (p < n && !strchr("][(){}<>\"'`,;#|&", t[p]) && !isspace((unsigned char)t[p]) && t[p])
		p++;
	if (p == *va)
		return -1;
	*vb = p;
	*quoted = 0;
	return 0;
}

/* The generic rule on the current line: at each of its keywords that an
 * assignment follows, the anchored expression from the start of the key. */
static void
generic_line(struct ctx *c, int k)
{
	struct secrets *s = c->s;
	uint64_t bit = (uint64_t)1 << k;
	size_t h, last = (size_t)-1;
	regmatch_t m[NMATCH];

	for (h = 0; h < s->nhits; h++) {
		size_t p = s->hits[h].pos, ks = p, n;

		if (!(s->hits[h].mask & bit) || !assign_follows(c->text, p + 1, c->le))
			continue;
		while (ks > c->ls && key_char((unsigned char)c->text[ks - 1]))
			ks--;
		if (ks == last)
			continue;	/* two keywords in one key */
		last = ks;
		n = c->le - ks < WIN_AFTER ? c->le - ks : WIN_AFTER;
		if (n + 1 > s->line_alloc) {
			s->line_alloc = n + 1 > 4096 ? n + 1 : 4096;
			free(s->line);
			s->line = xmalloc(s->line_alloc);
		}
		/* By hand first: most values are names or calls, and glibc's
		 * regexec with subexpressions is slow.  The expression decides. */
		{
			size_t va, vb;
			int quoted;

			if (secrets_generic_parse(c->text + ks, n, &va, &vb, &quoted) < 0 ||
			    !generic_ok(s, c->text + ks + va, vb - va, quoted,
			    ks + vb < c->le ? (unsigned char)c->text[ks + vb] : 0))
				continue;
		}
		memcpy(s->line, c->text + ks, n);
		s->line[n] = '\0';
		if (memchr(s->line, '\0', n))
			continue;
		if (regexec(&s->generic, s->line, NMATCH, m, n < c->le - ks ? REG_NOTEOL : 0) == 0)
			check_match(c, k, ks, m);
	}
}

static void
flush_line(struct ctx *c, uint64_t mask)
{
	struct secrets *s = c->s;
	size_t k, h;

	c->allow = has_mark(c->text + c->ls, c->le - c->ls);
	for (k = 0; k < NRULES; k++) {
		uint64_t bit = (uint64_t)1 << k;
		size_t last = 0;
		int any = 0;

		if (!(mask & bit) || !s->enabled[k])
			continue;
		if (rules[k].kind == K_GENERIC) {
			generic_line(c, (int)k);
			continue;
		}
		if (c->le - c->ls <= LONG_LINE) {
			match_window(c, (int)k, c->ls, c->le);
			continue;
		}
		/* A long line: windows around the keywords, not the whole line. */
		for (h = 0; h < s->nhits; h++) {
			size_t p = s->hits[h].pos;

			if (!(s->hits[h].mask & bit) || (any && p < last + 64))
				continue;
			match_window(c, (int)k, p > c->ls + WIN_BEFORE ? p - WIN_BEFORE : c->ls,
			    p + WIN_AFTER < c->le ? p + WIN_AFTER : c->le);
			last = p;
			any = 1;
		}
	}
}

static void
add_hit(struct secrets *s, size_t pos, uint64_t mask)
{
	if (s->nhits == HITS_MAX) {
		s->hits_over = 1;	/* then the whole line is matched */
		s->hits[s->nhits - 1].mask |= mask;
		return;
	}
	if (s->nhits == s->hits_alloc) {
		s->hits_alloc = s->hits_alloc ? 2 * s->hits_alloc : 16;
		s->hits = xrealloc(s->hits, s->hits_alloc * sizeof(*s->hits));
	}
	s->hits[s->nhits].pos = pos;
	s->hits[s->nhits].mask = mask;
	s->nhits++;
}

static int
path_allowed(const struct secrets *s, const char *path)
{
	size_t i;

	for (i = 0; i < s->nallow_paths; i++)
		if (regexec(&s->allow_paths[i], path, 0, NULL, 0) == 0)
			return 1;
	return 0;
}

/*
 * Find every keyword of the text: the automaton runs over STREAMS slices
 * of it at once (each slice starts at a line start, and no keyword spans
 * lines), because one stream waits on its table lookups and four keep the
 * processor busy.  The hits go to s->fhits in text order.
 */
static void
hitv_push(struct hitv *v, size_t pos, size_t off)
{
	if (v->n == v->alloc) {
		v->alloc = v->alloc ? 2 * v->alloc : 64;
		v->h = xrealloc(v->h, v->alloc * sizeof(*v->h));
	}
	v->h[v->n].pos = pos;
	v->h[v->n].mask = off;	/* the state's row; its mask is looked up later */
	v->n++;
}

static void
ac_collect(struct secrets *s, const unsigned char *u, size_t len)
{
	const uint16_t *next = s->ac_next;
	const uint8_t *cls = s->ac_cls;
	const size_t first = s->ac_first_out * s->ac_ncls;
	size_t lo[STREAMS], hi[STREAMS], k, n, m;
	size_t i0, i1, i2, i3, o0 = 0, o1 = 0, o2 = 0, o3 = 0;

	n = len >= STREAM_MIN ? STREAMS : 1;
	lo[0] = 0;
	for (k = 1; k <= n; k++) {
		size_t p = k == n ? len : len * k / n;
		const unsigned char *nl;

		if (p < lo[k - 1])
			p = lo[k - 1];
		nl = k == n || p >= len ? NULL : memchr(u + p, '\n', len - p);
		hi[k - 1] = k == n ? len : nl ? (size_t)(nl - u) + 1 : len;
		if (k < n)
			lo[k] = hi[k - 1];
	}
	for (k = 0; k < STREAMS; k++)
		s->sh[k].n = 0;
	if (n == STREAMS) {
		i0 = lo[0], i1 = lo[1], i2 = lo[2], i3 = lo[3];
		m = hi[0] - lo[0];
		for (k = 1; k < STREAMS; k++)
			if (hi[k] - lo[k] < m)
				m = hi[k] - lo[k];
		for (k = 0; k < m; k++) {
			o0 = next[o0 + cls[u[i0]]];
			o1 = next[o1 + cls[u[i1]]];
			o2 = next[o2 + cls[u[i2]]];
			o3 = next[o3 + cls[u[i3]]];
			if (o0 >= first)
				hitv_push(&s->sh[0], i0, o0);
			if (o1 >= first)
				hitv_push(&s->sh[1], i1, o1);
			if (o2 >= first)
				hitv_push(&s->sh[2], i2, o2);
			if (o3 >= first)
				hitv_push(&s->sh[3], i3, o3);
			i0++, i1++, i2++, i3++;
		}
		lo[0] = i0, lo[1] = i1, lo[2] = i2, lo[3] = i3;
	}
	/* What is left of each slice, one at a time. */
	for (k = 0; k < n; k++) {
		size_t off = k == 0 ? o0 : k == 1 ? o1 : k == 2 ? o2 : o3, i;

		if (n == 1)
			off = 0;
		for (i = lo[k]; i < hi[k]; i++) {
			off = next[off + cls[u[i]]];
			if (off >= first)
				hitv_push(&s->sh[k], i, off);
		}
	}
	s->fhits.n = 0;
	for (k = 0; k < n; k++)
		for (m = 0; m < s->sh[k].n; m++)
			hitv_push(&s->fhits, s->sh[k].h[m].pos, s->sh[k].h[m].mask);
}

void
secrets_scan_text(struct secrets *s, const char *path, const char *text,
    size_t len, const long *linemap, struct secrets_result *r)
{
	const size_t ncls = s->ac_ncls;
	struct ctx c;
	uint64_t mask = 0, m;
	size_t h, counted = 0;

	if (path_allowed(s, path)) {
		r->st.skipped_allowlist++;
		return;
	}
	r->st.files++;
	r->st.bytes += (long long)len;
	memset(&c, 0, sizeof(c));
	c.s = s;
	c.r = r;
	c.path = path;
	c.text = text;
	c.len = len;
	c.linemap = linemap;
	s->nspans = 0;
	s->nhits = 0;
	s->hits_over = 0;
	ac_collect(s, (const unsigned char *)text, len);
	for (h = 0; h < s->fhits.n; h++) {
		size_t i = s->fhits.h[h].pos;
		const char *nl;

		m = s->ac_out[s->fhits.h[h].mask / ncls];
		if (mask && i < c.le) {
			mask |= m;
			add_hit(s, i, m);
			continue;
		}
		if (mask)
			flush_line(&c, mask);
		/* A new line: find its ends and its number. */
		c.ls = i;
		while (c.ls > 0 && text[c.ls - 1] != '\n')
			c.ls--;
		nl = memchr(text + i, '\n', len - i);
		c.le = nl ? (size_t)(nl - text) : len;
		while (counted < c.ls) {
			nl = memchr(text + counted, '\n', c.ls - counted);
			if (!nl)
				break;
			c.lineno++;
			counted = (size_t)(nl - text) + 1;
		}
		counted = c.ls > counted ? c.ls : counted;
		mask = m;
		s->nhits = 0;
		s->hits_over = 0;
		add_hit(s, i, m);
	}
	if (mask)
		flush_line(&c, mask);
}

/* ---- sources -------------------------------------------------------- */

static void
scan_file(struct secrets *s, const char *path, struct secrets_result *r)
{
	struct stat sb;
	size_t n = 0;
	ssize_t got;
	int fd;

	if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		r->st.skipped_other++;	/* gone, a symlink, a submodule */
		return;
	}
	if (sb.st_size > s->o->max_file_size) {
		r->st.skipped_large++;
		return;
	}
	if (path_allowed(s, path)) {
		r->st.skipped_allowlist++;
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		r->st.skipped_other++;
		return;
	}
	if ((size_t)sb.st_size + 1 > s->fbuf_alloc) {
		s->fbuf_alloc = (size_t)sb.st_size + 1 > 65536 ? (size_t)sb.st_size + 1 : 65536;
		free(s->fbuf);
		s->fbuf = xmalloc(s->fbuf_alloc);
	}
	while (n < (size_t)sb.st_size) {
		got = read(fd, s->fbuf + n, (size_t)sb.st_size - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	s->fbuf[n] = '\0';
	if (memchr(s->fbuf, '\0', n < BINARY_PROBE ? n : BINARY_PROBE)) {
		r->st.skipped_binary++;
		return;
	}
	secrets_scan_text(s, path, s->fbuf, n, NULL, r);
}

struct run {
	struct secrets *s;
	struct secrets_result *r;
};

static int
on_tracked(void *ctx, char *rec, size_t len, struct err *e)
{
	struct run *run = ctx;

	(void)e;
	if (len)
		scan_file(run->s, rec, run->r);
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
walk(struct secrets *s, const char *path, struct secrets_result *r, int top, struct err *e)
{
	struct stat sb;
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, i;

	if (lstat(path, &sb) < 0) {
		if (top)
			return err_set(e, EX_USAGE_, "cannot scan '%s': %s", path, strerror(errno));
		r->st.skipped_other++;
		return 0;
	}
	if (!S_ISDIR(sb.st_mode)) {
		scan_file(s, path, r);
		return 0;
	}
	d = opendir(path);
	if (!d) {
		if (top)
			return err_set(e, EX_USAGE_, "cannot scan '%s': %s", path, strerror(errno));
		r->st.skipped_other++;
		return 0;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, ".git"))
			continue;
		names = xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = strcmp(path, ".") ? xasprintf("%s%s%s", path,
		    path[strlen(path) - 1] == '/' ? "" : "/", de->d_name) : xstrdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		walk(s, names[i], r, 0, e);
		free(names[i]);
	}
	free(names);
	return 0;
}

/* The added lines of a unified diff, file by file. */
struct diff {
	struct secrets *s;
	struct secrets_result *r;
	char *path;
	struct buf text;
	long *map;
	size_t nmap, mapalloc;
	long newline, rem_old, rem_new;
	int binary, large;
};

static void
diff_flush(struct diff *d)
{
	if (d->binary)
		d->r->st.skipped_binary++;
	else if (d->large)
		d->r->st.skipped_large++;
	else if (d->path && d->text.len) {
		if (memchr(d->text.data, '\0', d->text.len < BINARY_PROBE ? d->text.len : BINARY_PROBE))
			d->r->st.skipped_binary++;
		else
			secrets_scan_text(d->s, d->path, d->text.data, d->text.len, d->map, d->r);
	}
	free(d->path);
	d->path = NULL;
	buf_reset(&d->text);
	d->nmap = 0;
	d->binary = d->large = 0;
	d->rem_old = d->rem_new = 0;
}

static long
hunk_num(const char **p, long dflt_count, long *count)
{
	char *end;
	long v = strtol(*p, &end, 10);

	*count = dflt_count;
	if (*end == ',')
		*count = strtol(end + 1, &end, 10);
	*p = end;
	return v;
}

static int
on_diff_line(void *ctx, char *l, size_t len, struct err *e)
{
	struct diff *d = ctx;

	(void)e;
	if (d->rem_old > 0 || d->rem_new > 0) {
		switch (l[0]) {
		case '+':
			if (!d->large) {
				if ((long long)(d->text.len + len) > d->s->o->max_file_size) {
					d->large = 1;
				} else {
					buf_add(&d->text, l + 1, len - 1);
					buf_addc(&d->text, '\n');
					if (d->nmap == d->mapalloc) {
						d->mapalloc = d->mapalloc ? 2 * d->mapalloc : 64;
						d->map = xrealloc(d->map, d->mapalloc * sizeof(*d->map));
					}
					d->map[d->nmap++] = d->newline;
				}
			}
			d->newline++;
			d->rem_new--;
			return 0;
		case '-':
			d->rem_old--;
			return 0;
		case ' ':
			d->rem_old--;
			d->rem_new--;
			d->newline++;
			return 0;
		case '\\':
			return 0;
		default:
			d->rem_old = d->rem_new = 0;	/* not a hunk line after all */
		}
	}
	if (!strncmp(l, "diff --git ", 11)) {
		diff_flush(d);
	} else if (!strncmp(l, "+++ ", 4)) {
		char *p = l + 4;

		free(d->path);
		d->path = NULL;
		if (*p == '"') {
			if (secrets_unquote(p) < 0)
				return 0;
		} else if (len > 4 && l[len - 1] == '\t') {
			l[len - 1] = '\0';	/* git's mark after a name with a space */
		}
		if (!strncmp(p, "b/", 2))
			d->path = xstrdup(p + 2);
	} else if (!strncmp(l, "Binary files ", 13)) {
		d->binary = 1;
	} else if (!strncmp(l, "@@ -", 4)) {
		const char *p = l + 4;
		long cnt;

		hunk_num(&p, 1, &cnt);
		d->rem_old = cnt;
		if (strncmp(p, " +", 2) != 0)
			return 0;
		p += 2;
		d->newline = hunk_num(&p, 1, &cnt);
		d->rem_new = cnt;
	}
	return 0;
}

static void
add_paths(const char **args, size_t *n, char **paths)
{
	size_t i;

	args[(*n)++] = "--";
	for (i = 0; paths && paths[i]; i++)
		args[(*n)++] = paths[i];
}

static size_t
count_paths(char **paths)
{
	size_t n = 0;

	while (paths && paths[n])
		n++;
	return n;
}

static const char *
shallow_hint(void)
{
	static const char *const args[] = { "rev-parse", "--is-shallow-repository", NULL };
	struct gitx g;
	int shallow;

	if (gitx_run(&g, args, 4096, NULL) < 0)
		return "";
	shallow = g.status == 0 && g.out && !strcmp(g.out, "true");
	gitx_free(&g);
	return shallow ? " (this is a shallow clone: fetch more history, as with "
	    "'git fetch --unshallow', or fetch-depth: 0 in actions/checkout)" : "";
}

static int
run_diff(struct secrets *s, struct secrets_result *r, struct err *e)
{
	const struct secrets_opts *o = s->o;
	const char **args;
	struct diff d;
	struct gitx g;
	char *base = NULL;
	size_t n = 0;
	int rc;

	if (!gitx_in_work_tree())
		return err_set(e, EX_USAGE_, "%s needs a git work tree, and '.' is not in one",
		    o->mode == SECRETS_SINCE ? "since" : "staged");
	if (o->mode == SECRETS_SINCE) {
		char *rev = xasprintf("%s^{commit}", o->since);
		const char *verify[] = { "rev-parse", "--verify", "--quiet", rev, NULL };
		const char *mb[] = { "merge-base", NULL, "HEAD", NULL };

		rc = gitx_run(&g, verify, 4096, e);
		free(rev);
		if (rc < 0)
			return -1;
		if (g.status != 0 || !g.out || !*g.out) {
			gitx_free(&g);
			return err_set(e, EX_USAGE_, "since '%s': no such commit here%s", o->since, shallow_hint());
		}
		mb[1] = g.out;
		rc = gitx_run(&g, mb, 4096, e);
		free((char *)mb[1]);
		if (rc < 0)
			return -1;
		if (g.status != 0 || !g.out || !*g.out) {
			gitx_free(&g);
			return err_set(e, EX_USAGE_, "since '%s': HEAD has no common ancestor with it%s",
			    o->since, shallow_hint());
		}
		base = g.out;
	}
	args = xcalloc(16 + count_paths(o->paths), sizeof(*args));
	args[n++] = "-c";
	args[n++] = "core.quotePath=false";
	args[n++] = "diff";
	args[n++] = "--no-color";
	args[n++] = "--no-ext-diff";
	args[n++] = "--no-textconv";
	args[n++] = "-U0";
	args[n++] = "--src-prefix=a/";
	args[n++] = "--dst-prefix=b/";
	if (base)
		args[n++] = base;
	else
		args[n++] = "--cached";
	add_paths(args, &n, o->paths);
	args[n] = NULL;
	memset(&d, 0, sizeof(d));
	d.s = s;
	d.r = r;
	buf_init(&d.text, 0);
	rc = gitx_each(&g, args, '\n', on_diff_line, &d, e);
	diff_flush(&d);
	buf_free(&d.text);
	free(d.map);
	free(args);
	free(base);
	if (rc < 0)
		return -1;
	if (g.status != 0)
		return err_set(e, EX_USAGE_, "git diff failed: %s", *g.err ? g.err : "no message");
	return 0;
}

int
secrets_run(struct secrets *s, struct secrets_result *r, struct err *e)
{
	const struct secrets_opts *o = s->o;
	struct run run = { s, r };
	size_t i;

	switch (o->mode) {
	case SECRETS_SINCE:
	case SECRETS_STAGED:
		r->st.mode = o->mode == SECRETS_SINCE ? "since" : "staged";
		return run_diff(s, r, e);
	case SECRETS_TRACKED:
		if (gitx_in_work_tree()) {
			const char **args = xcalloc(8 + count_paths(o->paths), sizeof(*args));
			struct gitx g;
			size_t n = 0;
			int rc;

			r->st.mode = "tracked";
			args[n++] = "ls-files";
			args[n++] = "-z";
			args[n++] = "--cached";
			if (o->paths)
				args[n++] = "--error-unmatch";
			add_paths(args, &n, o->paths);
			args[n] = NULL;
			rc = gitx_each(&g, args, '\0', on_tracked, &run, e);
			free(args);
			if (rc < 0)
				return -1;
			if (g.status != 0)
				return err_set(e, EX_USAGE_, "git ls-files failed: %s%s",
				    *g.err ? g.err : "no message",
				    o->paths ? " (only files git tracks are scanned; all_files scans the others)" : "");
			return 0;
		}
		/* Outside git there is nothing tracked: scan what is there. */
		/* FALLTHROUGH */
	default:
		r->st.mode = "all";
		if (!o->paths)
			return walk(s, ".", r, 1, e);
		for (i = 0; o->paths[i]; i++) {
			const char *p = o->paths[i];

			/* "./src" is reported as "src/...". */
			while (p[0] == '.' && p[1] == '/')
				for (p += 2; *p == '/'; p++)
					;
			if (walk(s, *p ? p : ".", r, 1, e) < 0)
				return -1;
		}
		return 0;
	}
}

/* ---- results -------------------------------------------------------- */

size_t
secrets_live(const struct secrets_result *r)
{
	size_t i, n = 0;

	for (i = 0; i < r->n; i++)
		n += !r->f[i].baselined;
	return n;
}

cJSON *
secrets_findings_json(const struct secrets_result *r)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct secret_finding *f = &r->f[i];
		cJSON *o;

		if (f->baselined)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "rule", rules[f->rule].info.id);
		cJSON_AddStringToObject(o, "file", f->path);
		cJSON_AddNumberToObject(o, "line", (double)f->line);
		cJSON_AddNumberToObject(o, "column", (double)f->column);
		cJSON_AddStringToObject(o, "match", f->redacted);
		cJSON_AddStringToObject(o, "fingerprint", f->fingerprint);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

cJSON *
secrets_stats_json(const struct secrets_result *r, const struct secrets_opts *o)
{
	cJSON *j = cJSON_CreateObject(), *sk, *su;

	cJSON_AddStringToObject(j, "mode", r->st.mode ? r->st.mode : "tracked");
	if (o->mode == SECRETS_SINCE && o->since)
		cJSON_AddStringToObject(j, "since", o->since);
	json_add_i64(j, "files", r->st.files);
	json_add_i64(j, "bytes", r->st.bytes);
	json_add_i64(j, "max_file_size", o->max_file_size);
	sk = cJSON_AddObjectToObject(j, "skipped");
	json_add_i64(sk, "binary", r->st.skipped_binary);
	json_add_i64(sk, "too_large", r->st.skipped_large);
	json_add_i64(sk, "allowlist", r->st.skipped_allowlist);
	json_add_i64(sk, "other", r->st.skipped_other);
	su = cJSON_AddObjectToObject(j, "suppressed");
	json_add_i64(su, "inline", r->st.sup_inline);
	json_add_i64(su, "allowlist", r->st.sup_allowlist);
	json_add_i64(su, "baseline", r->st.sup_baseline);
	return j;
}

static int
finding_cmp(const void *pa, const void *pb)
{
	const struct secret_finding *a = *(const struct secret_finding *const *)pa;
	const struct secret_finding *b = *(const struct secret_finding *const *)pb;
	int c = strcmp(a->path, b->path);

	if (c)
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->column != b->column)
		return a->column < b->column ? -1 : 1;
	return strcmp(a->fingerprint, b->fingerprint);
}

int
secrets_write_baseline(const char *path, const struct secrets_result *r, struct err *e)
{
	const struct secret_finding **v = xcalloc(r->n ? r->n : 1, sizeof(*v));
	struct buf b;
	size_t i;
	int rc;

	for (i = 0; i < r->n; i++)
		v[i] = &r->f[i];
	qsort(v, r->n, sizeof(*v), finding_cmp);
	buf_init(&b, 0);
	/* One finding a line, so the file diffs well under version control. */
	buf_adds(&b, "{\"ci_gate_baseline\": 1,\n \"findings\": [");
	for (i = 0; i < r->n; i++) {
		cJSON *o = cJSON_CreateObject();
		char *t;

		cJSON_AddStringToObject(o, "fingerprint", v[i]->fingerprint);
		cJSON_AddStringToObject(o, "rule", rules[v[i]->rule].info.id);
		cJSON_AddStringToObject(o, "file", v[i]->path);
		cJSON_AddNumberToObject(o, "line", (double)v[i]->line);
		t = json_print(o);
		buf_addf(&b, "%s\n  %s", i ? "," : "", t);
		free(t);
		cJSON_Delete(o);
	}
	buf_adds(&b, "\n ]}\n");
	free(v);
	rc = mkdir_parent(path, e) < 0 ? -1 : atomic_write(path, b.data, b.len, 0644, e);
	buf_free(&b);
	return rc;
}

void
secrets_result_free(struct secrets_result *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->f[i].path);
		free(r->f[i].redacted);
	}
	free(r->f);
	memset(r, 0, sizeof(*r));
}
