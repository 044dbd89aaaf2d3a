/*
 * dockerignore: which paths of a build context .dockerignore excludes,
 * with Docker's semantics (moby/patternmatcher).
 *
 * A line is a pattern; lines starting with '#' are comments, blank lines
 * are skipped, surrounding space is trimmed, a leading '!' makes an
 * exception that re-includes, and each pattern is cleaned like a path
 * (duplicate and trailing slashes, "." and ".." resolved lexically; a
 * leading '/' is dropped).  '*' matches any run of characters but '/',
 * '?' one such character, "[a-z]" and "[^a-z]" a class, '\' quotes the
 * next character, "**" any number of directories (zero included).  A
 * path is excluded when the last pattern matching it, or matching one of
 * its parent directories, is not an exception.
 *
 * Paths given to the functions are relative to the context root, cleaned,
 * separated by '/', without a leading "./" or '/'.
 * Ownership: struct dockerignore owns its patterns.
 */
#ifndef CI_DOCKERIGNORE_H
#define CI_DOCKERIGNORE_H

#include <stddef.h>

#include "core/log.h"

struct di_token;

struct di_pattern {
	char *text;		/* the cleaned pattern, without '!' */
	int exclusion;		/* written with a leading '!' */
	int wild;		/* holds a wildcard or class */
	int line;
	struct di_token *tok;
	size_t ntok;
	size_t pre, suf;	/* leading and trailing one-byte tokens: a path
				 * that does not start and end with them is
				 * refused before the matcher runs */
};

struct dockerignore {
	struct di_pattern *v;
	size_t n;
	int exclusions;		/* some pattern is an exception */
};

/* Parse the text of a .dockerignore (name is for messages: "NAME:LINE: ..."). */
int dockerignore_parse(struct dockerignore *d, const char *text, size_t len,
    const char *name, struct err *e);
/* Load path; a missing file gives an empty list. */
int dockerignore_load(struct dockerignore *d, const char *path, struct err *e);
void dockerignore_free(struct dockerignore *d);

/* 1 when path is excluded. */
int dockerignore_excluded(const struct dockerignore *d, const char *path);

/*
 * For an excluded directory: 1 when an exception might re-include
 * something below it, so that the walk must go in; 0 when the whole
 * subtree can be skipped.
 */
int dockerignore_may_include_under(const struct dockerignore *d, const char *dir);

/* One pattern against one path, without the parent-directory rule. */
int dockerignore_pattern_match(const struct di_pattern *p, const char *path);

/*
 * Clean a relative or absolute path lexically, like Go's path.Clean:
 * "a//b/./c/../d/" gives "a/b/d", "" gives ".".  Fresh string.
 */
char *path_clean(const char *p);

#endif
