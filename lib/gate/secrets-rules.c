/*
 * secrets-rules: the rule table, the options of a secrets job, the
 * allowlists and the baseline file.  See secrets-rules.h for what this
 * file owns and secrets.h for the contract; the scanner that runs the
 * rules is secrets-scan.c.
 *
 * A rule is found by its keywords first (secrets-scan.c's prefilter), so
 * every match of its expression must contain one of them, in lowercase
 * here (the prefilter folds case).  To add a rule: an entry below (before
 * the generic rule, which must stay last), SECRETS_NRULES in the header,
 * a true positive in t/data/secrets/tp, its true and false cases in
 * t/data/secrets/make-tp.py (tp/RULE/cases.txt, fp/RULE/cases.txt) and a
 * case in t/unit/secrets.c.
 */
#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "core/size.h"
#include "gate/secrets-rules.h"
#include "gate/secrets.h"

#define BASELINE_MAX (64u << 20)
#define MAX_FILE_SIZE_MAX (1LL << 50)	/* as parse_size() allows */

/* A word boundary that POSIX ERE lacks: group 1 eats the char before. */
#define B "(^|[^A-Za-z0-9_])"

/*
 * The generic rule, in pieces: a key holding a keyword, an assignment, a
 * value quoted three ways or bare.  The table holds it unanchored (what
 * --list-rules shows and grep can run); the scanner runs it anchored at
 * the start of the key it found by hand (secrets_generic_anchored).
 * Groups of the anchored form: 1 key, 2 keyword, 3 operator, 4 value,
 * 5-8 the value inside "", '', `` or bare (GENERIC_* in the header).
 */
#define GENERIC_KEY_ERE \
	"([a-z0-9_.-]*(secret|token|passwd|password|pwd|api[_.-]?key|auth[_.-]?key|access[_.-]?key|private[_.-]?key|credentials?|creds)[a-z0-9_.-]*)"
#define GENERIC_REST_ERE \
	"[\"']?[[:space:]]*(:=|=>|=|:)[[:space:]]*" \
	"(\"([^\"]*)\"|'([^']*)'|`([^`]*)`|([^][(){}<>\"'`[:space:],;#|&]+))"

const char secrets_generic_anchored[] = "^" GENERIC_KEY_ERE GENERIC_REST_ERE;

const struct secrets_rule_def secrets_rule_defs[] = {
	{ { "aws-access-key-id", "AwsAccessKeyId", "AWS access key ID",
	    "Deactivate the key in AWS IAM, create a new one, and keep it out of the tree (an environment variable or a secret store).",
	    "critical", "9.0", NULL, 0 },
	  RULE_TOKEN, B "((AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16})", 0, 2, "", 3.0,
	  "akia|asia|abia|acca|a3t", 0 },
	{ { "github-token", "GithubToken", "GitHub token",
	    "Revoke the token in GitHub (Settings, Developer settings), issue a new one, and keep it out of the tree.",
	    "critical", "9.0", NULL, 0 },
	  RULE_TOKEN, B "(gh[pousr]_[A-Za-z0-9]{36})", 0, 2, "", 3.0,
	  "ghp_|gho_|ghu_|ghs_|ghr_", 0 },
	{ { "github-fine-grained-token", "GithubFineGrainedToken", "GitHub fine-grained personal access token",
	    "Revoke the token in GitHub (Settings, Developer settings), issue a new one, and keep it out of the tree.",
	    "critical", "9.0", NULL, 0 },
	  RULE_TOKEN, B "(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})", 0, 2, "", 3.0,
	  "github_pat_", 0 },
	{ { "gitlab-token", "GitlabToken", "GitLab token",
	    "Revoke the token in GitLab, issue a new one, and keep it out of the tree.",
	    "critical", "9.0", NULL, 0 },
	  RULE_TOKEN, B "((glpat|gldt|glptt|glrt|glcbt|glimt|glagent|gloas|glsoat|glffct)-[A-Za-z0-9_-]{20,}|GR1348941[A-Za-z0-9_-]{20,})",
	  0, 2, "_-", 3.0,
	  "glpat-|gldt-|glptt-|glrt-|glcbt-|glimt-|glagent-|gloas-|glsoat-|glffct-|gr1348941", 0 },
	{ { "private-key", "PrivateKey", "private key",
	    "Treat the key as compromised: replace it wherever it is trusted, and keep keys out of the tree.",
	    "critical", "9.5", NULL, 0 },
	  RULE_PRIVKEY, "-----BEGIN[ A-Z0-9]*PRIVATE KEY( BLOCK)?-----", 0, 0, NULL, 0,
	  "private key", 0 },
	{ { "slack-token", "SlackToken", "Slack token",
	    "Revoke the token in the Slack app's settings, issue a new one, and keep it out of the tree.",
	    "major", "7.5", NULL, 0 },
	  RULE_TOKEN, B "(xox[abeposr]-[0-9]{6,}-[A-Za-z0-9-]{8,}|xox[ar]-([0-9]-)?[A-Za-z0-9][A-Za-z0-9-]{7,}|"
	  "xoxe\\.xox[bp]-[0-9]-[A-Za-z0-9]{100,}|xoxe-[0-9]-[A-Za-z0-9]{100,}|"
	  "xapp-[0-9]-[A-Za-z0-9]+-[0-9]+-[A-Za-z0-9]{16,})",
	  0, 2, "-", 3.0,
	  "xoxa-|xoxb-|xoxe-|xoxo-|xoxp-|xoxr-|xoxs-|xapp-", 1 },
	{ { "slack-webhook", "SlackWebhook", "Slack webhook URL",
	    "Delete the webhook in Slack, create a new one, and pass its URL to the pipeline as a secret.",
	    "major", "7.0", NULL, 0 },
	  RULE_TOKEN, "hooks\\.slack\\.com/(services|workflows|triggers)/([A-Za-z0-9_+/-]{24,})",
	  0, 2, "", 3.0,
	  "hooks.slack.com", 1 },
	{ { "google-api-key", "GoogleApiKey", "Google API key",
	    "Delete or restrict the key in the Google Cloud console, create a new one, and keep it out of the tree.",
	    "major", "7.5", NULL, 0 },
	  RULE_TOKEN, B "(AIza[0-9A-Za-z_-]{35})", 0, 2, "_-", 3.0,
	  "aiza", 0 },
	{ { "jwt", "JsonWebToken", "JSON Web Token",
	    "A signed token is a credential until it expires: rotate the signing key or revoke the session, and keep tokens out of the tree.",
	    "major", "6.5", NULL, 0 },
	  RULE_JWT, B "(eyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{16,})", 0, 2, "", 3.0,
	  "eyj", 0 },
	{ { "stripe-key", "StripeSecretKey", "Stripe secret or restricted key",
	    "Roll the key in the Stripe dashboard and keep it out of the tree.",
	    "critical", "9.0", NULL, 0 },
	  RULE_TOKEN, B "((sk|rk)_(live|test|prod)_[A-Za-z0-9]{20,247})", 0, 2, "", 3.0,
	  "sk_live_|rk_live_|sk_test_|rk_test_|sk_prod_|rk_prod_", 0 },
	{ { "npm-token", "NpmAccessToken", "npm access token",
	    "Revoke the token on npmjs.com (Access Tokens) or with npm token revoke, create a new one, and pass it to the pipeline as a secret.",
	    "critical", "9.0", NULL, 0 },
	  RULE_TOKEN, B "(npm_[A-Za-z0-9]{36})", 0, 2, "", 3.0,
	  "npm_", 0 },
	/* Last: a specific rule that matched the same text wins. */
	{ { "generic-secret", "GenericSecret", "hard-coded secret",
	    "Move the value out of the tree (an environment variable or a secret store) and rotate it; if it is not a secret, mark the line with ci-gate:allow.",
	    "major", "7.0", NULL, 0 },
	  RULE_GENERIC, "(^|[^a-z0-9_])" GENERIC_KEY_ERE GENERIC_REST_ERE, 1, 0, NULL, 0,
	  "secret|token|passwd|password|pwd|api_key|api.key|api-key|apikey|auth_key|auth.key|auth-key|authkey|"
	  "access_key|access.key|access-key|accesskey|private_key|private.key|private-key|privatekey|"
	  "credential|creds", 0 },
};

/* The header's count is the table's (a negative array size otherwise). */
typedef char secrets_nrules_check[sizeof(secrets_rule_defs) / sizeof(secrets_rule_defs[0]) ==
    SECRETS_NRULES ? 1 : -1];

/*
 * Keys published as examples, by exact value: anyone may paste them, no
 * one can use them.  AWS's documented access key pair; Stripe's test keys
 * of its API reference; the sample API keys of firebase-android-sdk (the
 * list gitleaks allows).  Sorted, for bsearch; written in two pieces, so
 * that this file holds no string a scanner takes for a key.
 */
static const char *const known_examples[] = {
	"AI" "zaSyA4UrcGxgwQFTfaI3no3t7Lt1sjmdnP5sQ",
	"AI" "zaSyA5_iVawFQ8ABuTZNUdcwERLJv_a_p4wtM",
	"AI" "zaSyA8vmApnrHNFE0bApF4hoZ11srVL_n0nvY",
	"AI" "zaSyANUvH9H9BsUccjsu2pCmEkOPjjaXeDQgY",
	"AI" "zaSyASWm6HmTMdYWpgMnjRBjxcQ9CKctWmLd4",
	"AI" "zaSyAdOS2zB6NCsk1pCdZ4-P6GBdi_UUPwX7c",
	"AI" "zaSyAnLA7NfeLquW1tJFpx_eQCxoX-oo6YyIs",
	"AI" "zaSyB8qGxt4ec15vitgn44duC5ucxaOi4FmqE",
	"AI" "zaSyBF2RrAIm4a0mO64EShQfqfd2AFnzAvvuU",
	"AI" "zaSyBcE-OOIbhjyR83gm4r2MFCu4MJmprNXsw",
	"AI" "zaSyCkEhVjf3pduRDt6d1yKOMitrUEke8agEM",
	"AI" "zaSyD3asb-2pEZVqMkmL6M9N6nHZRR_znhrh0",
	"AI" "zaSyDMAScliyLx7F0NPDEJi1QmyCgHIAODrlU",
	"AI" "zaSyDSb51JiIcB6OJpwwMicseKRhhrOq1cS7g",
	"AI" "zaSyabcdefghijklmnopqrstuvwxyz1234567",
	"AI" "zayDNSXIbFmlXbIE6mCzDLQAqITYefhixbX4A",
	"AK" "IAIOSFODNN7EXAMPLE",
	"sk" "_test_4eC39HqLyjWDarjtT1zdp7dc",
	"sk" "_test_BQokikJOvBiI2HlWgH4olfQ2",
	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};

static int
example_cmp(const void *key, const void *elt)
{
	const char *k = key, *v = *(const char *const *)elt;
	size_t n = strlen(k);
	int c = strncmp(k, v, n);

	return c ? c : v[n] ? -1 : 0;
}

int
secrets_known_example(const char *s, size_t n)
{
	char buf[64];

	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return bsearch(buf, known_examples, sizeof(known_examples) / sizeof(known_examples[0]),
	    sizeof(known_examples[0]), example_cmp) != NULL;
}

/* ---- looking rules up ------------------------------------------------ */

const struct secret_rule_info *
secrets_rules(size_t *n)
{
	/* The infos, in an array of their own (the rule table holds more). */
	static struct secret_rule_info infos[SECRETS_NRULES];
	static int done;
	size_t i;

	if (!done) {
		for (i = 0; i < SECRETS_NRULES; i++) {
			infos[i] = secrets_rule_defs[i].info;
			infos[i].regex = secrets_rule_defs[i].re;
			infos[i].icase = secrets_rule_defs[i].icase;
		}
		done = 1;
	}
	if (n)
		*n = SECRETS_NRULES;
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

int
secrets_rule_index(const char *id)
{
	size_t i;

	for (i = 0; i < SECRETS_NRULES; i++)
		if (!strcmp(secrets_rule_defs[i].info.id, id))
			return (int)i;
	return -1;
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
			return json_refuse(bad, v, e, "%s: bad regular expression '%s': %s", key, v->valuestring, why);
		*out = strv_push(*out, v->valuestring);
		return 0;
	}
	if (!cJSON_IsArray(v))
		return json_refuse(bad, v, e, "%s: expected a string or an array of strings", key);
	cJSON_ArrayForEach(it, v) {
		if (!cJSON_IsString(it) || !*it->valuestring)
			return json_refuse(bad, it, e, "%s[%d]: expected a non-empty string", key, i);
		if (regex && check_regex(it->valuestring, why, sizeof(why)) < 0)
			return json_refuse(bad, it, e, "%s[%d]: bad regular expression '%s': %s", key, i,
			    it->valuestring, why);
		*out = strv_push(*out, it->valuestring);
		i++;
	}
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
		return json_refuse(bad, it, e, "%s: expected a non-empty string", k);
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
		return json_refuse(bad, obj, e, "options: expected an object");
	cJSON_ArrayForEach(it, obj) {
		const char *k = it->string;

		if (ignored(k, ignore))
			continue;
		if (!strcmp(k, "paths")) {
			if (opt_strings(it, k, 0, &o->paths, bad, e) < 0)
				return -1;
		} else if (!strcmp(k, "all_files") || !strcmp(k, "staged")) {
			if (!cJSON_IsBool(it))
				return json_refuse(bad, it, e, "%s: expected true or false", k);
			if (cJSON_IsTrue(it)) {
				if (modes++)
					return json_refuse(bad, it, e, "%s: give at most one of all_files, since and staged", k);
				o->mode = k[0] == 'a' ? SECRETS_ALL : SECRETS_STAGED;
			}
		} else if (!strcmp(k, "since")) {
			if (opt_string(it, k, &o->since, bad, e) < 0)
				return -1;
			if (o->since[0] == '-')
				return json_refuse(bad, it, e, "%s: a revision may not begin with '-'", k);
			if (modes++)
				return json_refuse(bad, it, e, "%s: give at most one of all_files, since and staged", k);
			o->mode = SECRETS_SINCE;
		} else if (!strcmp(k, "allowlist")) {
			if (!cJSON_IsObject(it))
				return json_refuse(bad, it, e, "%s: expected an object with paths and regexes", k);
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
					return json_refuse(bad, a, e, "%s: unknown key (expected paths, regexes)", p);
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
				if (secrets_rule_index(ids[i]) < 0) {
					json_refuse(bad, it, e, "%s: no rule '%s'", k, ids[i]);
					strv_free(ids);
					return -1;
				}
				o->disable = strv_push(o->disable, ids[i]);
			}
			strv_free(ids);
		} else if (!strcmp(k, "entropy")) {
			if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 8)
				return json_refuse(bad, it, e, "%s: expected bits per character, from 0 to 8", k);
			o->entropy = it->valuedouble;
		} else if (!strcmp(k, "max_file_size")) {
			long long v = 0;

			/* Bytes as a number, or core/size.h's syntax ("512K", "1.5M"). */
			if (cJSON_IsNumber(it) ? json_get_i64(it, &v) < 0 || v > MAX_FILE_SIZE_MAX :
			    !cJSON_IsString(it) || parse_size(it->valuestring, &v) < 0)
				v = 0;
			if (v < 1)
				return json_refuse(bad, it, e, "%s: expected a size, as 1048576 or \"1M\"", k);
			o->max_file_size = v;
		} else if (!strcmp(k, "threads")) {
			long long v = 0;

			if (!cJSON_IsNumber(it) || json_get_i64(it, &v) < 0 || v < 1 || v > SECRETS_THREADS_MAX)
				return json_refuse(bad, it, e, "%s: expected a whole number from 1 to %d", k,
				    SECRETS_THREADS_MAX);
			o->threads = (int)v;
		} else {
			return json_refuse(bad, it, e, "%s: unknown key (expected paths, all_files, since, staged, "
			    "allowlist, baseline, write_baseline, disable, entropy, max_file_size, threads)", k);
		}
	}
	return 0;
}

/* ---- allowlists ------------------------------------------------------ */

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

int
secrets_allow_compile(struct secrets_allow *a, const struct secrets_opts *o, struct err *e)
{
	memset(a, 0, sizeof(*a));
	if (compile_list(o->allow_paths, &a->paths, &a->npaths, e) < 0 ||
	    compile_list(o->allow_regexes, &a->values, &a->nvalues, e) < 0)
		return -1;
	return 0;
}

int
secrets_allow_path(const struct secrets_allow *a, const char *path)
{
	size_t i;

	for (i = 0; i < a->npaths; i++)
		if (regexec(&a->paths[i], path, 0, NULL, 0) == 0)
			return 1;
	return 0;
}

int
secrets_allow_value(const struct secrets_allow *a, const char *s, size_t n)
{
	char *tmp;
	size_t i;

	if (!a->nvalues)
		return 0;
	tmp = xstrndup(s, n);
	for (i = 0; i < a->nvalues; i++)
		if (regexec(&a->values[i], tmp, 0, NULL, 0) == 0)
			break;
	free(tmp);
	return i < a->nvalues;
}

void
secrets_allow_free(struct secrets_allow *a)
{
	size_t i;

	for (i = 0; i < a->npaths; i++)
		regfree(&a->paths[i]);
	for (i = 0; i < a->nvalues; i++)
		regfree(&a->values[i]);
	free(a->paths);
	free(a->values);
	memset(a, 0, sizeof(*a));
}

/* ---- the baseline ---------------------------------------------------- */

static int
fp_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

int
secrets_baseline_load(struct secrets_baseline *b, const char *path, struct err *e)
{
	struct json_src src = { NULL, NULL, 0, 0 };
	cJSON *root, *list, *it;
	int i = 0;

	memset(b, 0, sizeof(*b));
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
	b->fp = xcalloc((size_t)cJSON_GetArraySize(list) + 1, sizeof(*b->fp));
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
		for (k = 0; k < SECRETS_FP_LEN; k++)
			b->fp[b->n][k] = (char)tolower((unsigned char)fp[k]);
		b->fp[b->n][k] = '\0';
		b->n++;
		i++;
	}
	qsort(b->fp, b->n, sizeof(*b->fp), fp_cmp);
	cJSON_Delete(root);
	json_src_free(&src);
	return 0;
bad:
	cJSON_Delete(root);
	json_src_free(&src);
	return -1;
}

int
secrets_baseline_has(const struct secrets_baseline *b, const char *fp)
{
	return b->n && bsearch(fp, b->fp, b->n, sizeof(*b->fp), fp_cmp) != NULL;
}

void
secrets_baseline_free(struct secrets_baseline *b)
{
	free(b->fp);
	memset(b, 0, sizeof(*b));
}

/* Findings in file order, so a rewritten baseline changes where they did. */
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
		cJSON_AddStringToObject(o, "rule", secrets_rule_defs[v[i]->rule].info.id);
		cJSON_AddStringToObject(o, "file", v[i]->path);
		cJSON_AddNumberToObject(o, "line", (double)v[i]->line);
		t = json_print(o);
		buf_addf(&b, "%s\n  %s", i ? "," : "", t);
		free(t);
		cJSON_Delete(o);
	}
	buf_adds(&b, "\n ]}\n");
	free(v);
	rc = output_write(path, b.data, b.len, 0644, e);
	buf_free(&b);
	return rc;
}

