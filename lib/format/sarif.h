/*
 * sarif: findings as the reports code hosts read: SARIF 2.1.0 (GitHub
 * code scanning and most security dashboards) and GitLab's Code Quality
 * JSON (a Code Climate subset).
 *
 * A finding is a rule, a place (a path relative to the directory the
 * report describes, a line, a column) and a message that is already safe
 * to show (no secret in it).  Paths become relative URIs, percent-encoded
 * (RFC 3986: everything but unreserved characters and '/'), against the
 * base %SRCROOT%.  Both formats want one identity per finding: a finding's
 * fingerprint is made unique by hashing in its occurrence number when the
 * same fingerprint comes again (the same secret twice in one file).
 * Renderers return text owned by the caller.
 */
#ifndef CI_SARIF_H
#define CI_SARIF_H

#include <stddef.h>

#include "core/buf.h"
#include "core/log.h"

#define SARIF_SCHEMA "https://json.schemastore.org/sarif-2.1.0.json"

struct report_rule {
	const char *id;		/* SARIF ruleId, Code Quality check_name */
	const char *name;	/* SARIF rule name (PascalCase) */
	const char *title;	/* short description */
	const char *help;	/* full description: what to do */
	const char *severity;	/* Code Quality: info, minor, major, critical, blocker */
	const char *security_severity;	/* "0.0".."10.0", or NULL */
};

struct report_finding {
	const char *rule;	/* a report_rule id */
	const char *path;
	long line;		/* 1-based */
	long column;		/* 1-based, in characters; 0: unknown */
	const char *message;
	const char *fingerprint;	/* stable across runs; may repeat */
};

struct report_tool {
	const char *name;
	const char *version;
	const char *uri;	/* informationUri, or NULL */
	const char *srcroot;	/* absolute directory the paths are relative to, or NULL */
};

char *sarif_render(const struct report_tool *tool, const struct report_rule *rules,
    size_t nrules, const struct report_finding *f, size_t n);
char *codequality_render(const struct report_rule *rules, size_t nrules,
    const struct report_finding *f, size_t n);

/* Write text to path atomically, creating missing directories. */
int report_write(const char *path, const char *text, struct err *e);

/* Append path percent-encoded as a URI path. */
void uri_encode_path(struct buf *b, const char *path);

#endif
