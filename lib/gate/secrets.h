/*
 * secrets: a scanner for credentials committed to a source tree.
 *
 * Rules of our own (POSIX extended regular expressions, compiled with
 * regcomp(3) in the C locale) find AWS access key IDs, GitHub, GitLab,
 * Slack and Stripe tokens, Slack webhooks, Google API keys, JWTs, private
 * key blocks with a body, and a generic "secret/token/password/api_key =
 * value" assignment whose value passes a Shannon-entropy threshold and is
 * not a placeholder.  A keyword prefilter (one Aho-Corasick pass over each
 * file, case-folded) runs a rule's expression only on the lines holding
 * one of its keywords, so most of a tree is read once and never matched.
 *
 * Sources: the files git tracks (the default; every file outside a work
 * tree), every file under the paths (.git skipped), the lines added since
 * a base revision, or the lines staged in the index.  Binary files (a NUL
 * in the first 8000 bytes) and files over a size cap are skipped and
 * counted.
 *
 * Suppression: "ci-gate:allow" on the line, allowlisted paths and values
 * (EREs), and a baseline of fingerprints.  A fingerprint is the SHA-256 of
 * rule id, path and secret (NUL-separated), so it survives line moves.
 *
 * The secret itself never leaves this module: a finding holds its place,
 * its fingerprint and a redacted form (the first 4 characters, then "…").
 * Results own their strings; the scanner owns its compiled rules.
 *
 * This header is the whole public face; three files are behind it:
 * secrets-rules.c (the rule table, options, allowlists, the baseline
 * file), secrets-scan.c (struct secrets, the prefilter, matching, the
 * checks, findings) and secrets-source.c (tracked files, trees, diffs:
 * secrets_run).  Their internal headers are for lib/gate only.
 */
#ifndef CI_SECRETS_H
#define CI_SECRETS_H

#include <stddef.h>
#include <cJSON.h>

#include "core/log.h"

#define SECRETS_DEFAULT_MAX_FILE (1LL << 20)
#define SECRETS_DEFAULT_ENTROPY 3.5
#define SECRETS_THREADS_MAX 64
#define SECRETS_FP_LEN 64

enum secrets_mode { SECRETS_TRACKED, SECRETS_ALL, SECRETS_SINCE, SECRETS_STAGED };

/* A rule as reports describe it (the table is static, never freed). */
struct secret_rule_info {
	const char *id;		/* "aws-access-key-id": SARIF ruleId, check_name */
	const char *name;	/* "AwsAccessKeyId": SARIF rule name */
	const char *title;	/* "AWS access key ID" */
	const char *help;	/* what to do about a finding */
	const char *severity;	/* Code Quality: minor, major, critical */
	const char *security_severity;	/* SARIF/GitHub, "0.0".."10.0" */
	const char *regex;	/* the POSIX ERE (matched line by line) */
	int icase;		/* the ERE ignores case */
};

/* The rules, in the order they are tried (the generic rule last). */
const struct secret_rule_info *secrets_rules(size_t *n);
/* The rule with this id, or NULL. */
const struct secret_rule_info *secrets_rule(const char *id);

struct secrets_opts {
	int mode;		/* enum secrets_mode */
	char **paths;		/* NULL-terminated; NULL means "." */
	char *since;		/* SECRETS_SINCE: the base revision */
	char **allow_paths;	/* EREs matched against the path */
	char **allow_regexes;	/* EREs matched against the secret */
	char **disable;		/* rule ids not to run */
	char *baseline;		/* fingerprints to suppress */
	char *write_baseline;	/* write the findings' fingerprints here */
	double entropy;		/* generic rule: bits per character */
	long long max_file_size;	/* bytes */
	int threads;		/* that read and match files; 0: one per processor */
};

void secrets_opts_init(struct secrets_opts *o);
/*
 * Read options from a JSON object (a built-in job's keys), skipping the
 * keys listed in ignore (NULL-terminated, may be NULL).  On error return
 * -1 with e->msg "KEY: what" (a path below obj, as "allowlist.paths[1]:
 * bad regular expression ...") and *bad the offending item.
 */
int secrets_opts_parse(struct secrets_opts *o, const cJSON *obj,
    const char *const *ignore, const cJSON **bad, struct err *e);
void secrets_opts_free(struct secrets_opts *o);

struct secret_finding {
	int rule;		/* index in secrets_rules() */
	char *path;		/* relative to the directory scanned from */
	long line, column;	/* 1-based; column in characters (code points) */
	char *redacted;		/* "AKIA…" */
	char fingerprint[SECRETS_FP_LEN + 1];
	int baselined;		/* suppressed by the baseline (kept for --write-baseline) */
};

struct secrets_stats {
	const char *mode;	/* "tracked", "all", "since", "staged" (static) */
	long long files, bytes;
	long long skipped_binary, skipped_large, skipped_allowlist, skipped_other;
	long long sup_inline, sup_allowlist, sup_baseline;
};

struct secrets_result {
	struct secret_finding *f;
	size_t n, alloc;
	struct secrets_stats st;
};

struct secrets;

/* Compile the rules and allowlist and load the baseline (EX_USAGE_ on a
 * bad option or baseline file, EX_IOERR_ when it cannot be read). */
struct secrets *secrets_new(const struct secrets_opts *o, struct err *e);
void secrets_free(struct secrets *s);

/*
 * Scan len bytes of text found at path.  linemap, when non-NULL, gives
 * the line number in the file of each line of text (0-based index), for
 * text made of the added lines of a diff.  Counts the file and bytes.
 */
void secrets_scan_text(struct secrets *s, const char *path, const char *text,
    size_t len, const long *linemap, struct secrets_result *r);

/* Enumerate the sources the options name and scan them (EX_USAGE_ for a
 * bad revision or no git, EX_IOERR_ for a read error of git itself). */
int secrets_run(struct secrets *s, struct secrets_result *r, struct err *e);

/* Findings that are not baselined, and a summary, as JSON. */
cJSON *secrets_findings_json(const struct secrets_result *r);
cJSON *secrets_stats_json(const struct secrets_result *r, const struct secrets_opts *o);
/* Live findings (not baselined). */
size_t secrets_live(const struct secrets_result *r);

/* Write every finding (baselined or not) as a baseline file, atomically. */
int secrets_write_baseline(const char *path, const struct secrets_result *r, struct err *e);

void secrets_result_free(struct secrets_result *r);

/* ---- pieces, exposed for tests and report writers ----------------- */

/* Shannon entropy of n bytes, in bits per byte. */
double secrets_entropy(const char *s, size_t n);
/* 1 when s looks like a placeholder: ${X}, {{x}}, xxxx, changeme, EXAMPLE... */
int secrets_placeholder(const char *s, size_t n, int generic);
/* The first 4 characters then "…" (a quarter of a secret under 16). */
char *secrets_redact(const char *s, size_t n);
/* Lowercase hex SHA-256 of rule, NUL, path, NUL, secret. */
void secrets_fingerprint(const char *rule, const char *path, const char *secret,
    size_t n, char out[SECRETS_FP_LEN + 1]);
/* The generic rule's value, parsed by hand from the start of a key as
 * its expression would (a fast first check): [*va, *vb) within t, and
 * whether it was quoted.  Returns 0, or -1 when there is no assignment. */
int secrets_generic_parse(const char *t, size_t n, size_t *va, size_t *vb, int *quoted);
/* Undo git's C-style quoting of a path ("a\tb" with the quotes); in place.
 * Returns 0, or -1 when s is not a quoted string (then s is unchanged). */
int secrets_unquote(char *s);

#endif
