/*
 * secrets-rules: what the secret scanner looks for and what it lets pass.
 *
 * Owns: the built-in rule table (each rule's expression, the keywords the
 * prefilter finds it by, the checks a match of it gets), the options of a
 * secrets job as a spec or the command line gives them (secrets_opts_*,
 * validated here, expressions and rule ids included), the allowlists
 * compiled from them, and the baseline file: its format, read and write.
 *
 * The scanner (secrets-scan.c) matches these rules; its sources
 * (secrets-source.c) feed it files.  This header is internal to lib/gate:
 * other code includes gate/secrets.h, the public face of all three.
 *
 * The table is static, never freed; every match of a rule's expression
 * holds one of its keywords (the prefilter relies on it).  An allowlist
 * and a baseline own what they hold; free them with their _free().
 */
#ifndef CI_SECRETS_RULES_H
#define CI_SECRETS_RULES_H

#include <regex.h>
#include <stddef.h>

#include "core/log.h"
#include "gate/secrets.h"

/* The table's length (a compile-time constant for the scanner's arrays
 * and its 64-bit rule masks; checked where the table is defined). */
#define SECRETS_NRULES 12

/* How a rule's match becomes a finding. */
enum secret_kind {
	RULE_TOKEN,		/* the group, when bounded, random, no placeholder */
	RULE_JWT,		/* ... and its header decodes to JSON with alg or typ */
	RULE_PRIVKEY,		/* a header followed by a random base64 body */
	RULE_GENERIC		/* a key = value assignment (secrets-scan.c's checks) */
};

struct secrets_rule_def {
	struct secret_rule_info info;
	int kind;		/* enum secret_kind */
	const char *re;		/* the POSIX ERE */
	int icase;
	int group;		/* the secret's subexpression (RULE_TOKEN, RULE_JWT) */
	const char *bound;	/* chars (besides alnum) that may not follow; NULL: no check */
	double min_entropy;	/* of the secret */
	const char *keywords;	/* '|'-separated, lowercase */
	int mixed;		/* the last piece of the secret (after its last '-',
				 * '/' or '_') mixes two of upper, lower, digits:
				 * "xoxa-faketoken" and "xoxr-access-token" are words */
};

extern const struct secrets_rule_def secrets_rule_defs[];

/*
 * The generic rule anchored at the start of its key (the scanner finds the
 * key by hand first; glibc matches the anchored form many times faster).
 * Its groups: the key, the keyword in it, then the value: the first of the
 * four groups GENERIC_VALUE..GENERIC_BARE that matched ("", '', `` or bare).
 */
extern const char secrets_generic_anchored[];
#define GENERIC_KEY 1
#define GENERIC_KEYWORD 2
#define GENERIC_VALUE 5
#define GENERIC_BARE 8

/* 1 when the n bytes of s are a published example key (AWS's, Stripe's,
 * Firebase's documentation and samples): never a finding, as in gitleaks. */
int secrets_known_example(const char *s, size_t n);

/* The index in the table of the rule with this id, or -1. */
int secrets_rule_index(const char *id);

/* The allowlists of the options, compiled. */
struct secrets_allow {
	regex_t *paths, *values;
	size_t npaths, nvalues;
};

/* Compile o's allowlists into a (EX_USAGE_ on a bad expression); a is
 * left for secrets_allow_free() either way. */
int secrets_allow_compile(struct secrets_allow *a, const struct secrets_opts *o,
    struct err *e);
/* 1 when an allowlisted path expression matches path. */
int secrets_allow_path(const struct secrets_allow *a, const char *path);
/* 1 when an allowlisted value expression matches the n bytes of s. */
int secrets_allow_value(const struct secrets_allow *a, const char *s, size_t n);
void secrets_allow_free(struct secrets_allow *a);

/* The fingerprints of a baseline file, sorted and lowercase, in one
 * allocation (a baseline may hold many thousands). */
struct secrets_baseline {
	char (*fp)[SECRETS_FP_LEN + 1];
	size_t n;
};

/* Read a baseline file (EX_USAGE_ when malformed, naming the item;
 * EX_IOERR_ when it cannot be read); b is left for _free() either way. */
int secrets_baseline_load(struct secrets_baseline *b, const char *path, struct err *e);
/* 1 when the fingerprint (lowercase hex) is in the baseline. */
int secrets_baseline_has(const struct secrets_baseline *b, const char *fp);
void secrets_baseline_free(struct secrets_baseline *b);

#endif
