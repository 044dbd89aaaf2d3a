/*
 * jsonpath: the common subset of JSONPath (Goessner's, as RFC 9535 pins it
 * down) evaluated on a cJSON tree, for ci-smoke's jsonpath queries.
 *
 * Understood: the root "$"; child segments ".name", ".*", "['name']",
 * "[\"name\"]", "[n]" (negative counts from the end), "[*]", slices
 * "[start:end:step]" and unions "[0,2]" / "['a','b']"; the descendant
 * segment "..name", "..*", "..[...]"; and filters "[?(@.k == v)]" (the
 * parentheses are optional) whose expressions compare singular paths
 * (@.a.b, @['a'][0], $.x) and literals (numbers, 'single' or "double"
 * quoted strings, true, false, null) with == != < <= > >=, test a path's
 * existence ([?(@.k)]), and combine tests with && || ! and parentheses;
 * RFC 9535's functions length(), count(), value() (compared) and match(),
 * search() (tests; their pattern a POSIX extended regular expression).
 * As Hurl does, a dot before a bracket is read as nothing ("$.a.[0]").
 * Anything else is refused with the column and what was expected.
 *
 * jsonpath_compile() returns an opaque program the caller frees with
 * jsonpath_free().  jsonpath_eval() returns the nodes selected, in document
 * order, as an array the caller frees (free(), not the nodes: they are
 * borrowed from root).  A path is "definite" when it can select at most one
 * node (only names and single indexes): ci-smoke treats a definite path's
 * result as one value and any other result as a collection.
 */
#ifndef CI_JSONPATH_H
#define CI_JSONPATH_H

#include <stddef.h>
#include <cJSON.h>

#include "core/log.h"

/* At most this many nodes in one result (a guard for "$..*" on a huge body). */
#define JSONPATH_MAX_RESULTS 1000000

struct jsonpath;

/* Compile expr; on error return -1 with e (code EX_USAGE_) set to
 * "jsonpath '$.a[': column 5: expected ...". */
int jsonpath_compile(const char *expr, struct jsonpath **out, struct err *e);
int jsonpath_definite(const struct jsonpath *p);
/* The selected nodes (borrowed from root) in *out (fresh array, free() it;
 * NULL when none), their count in *n.  Returns 0, or -1 with e set when the
 * result would pass JSONPATH_MAX_RESULTS. */
int jsonpath_eval(const struct jsonpath *p, const cJSON *root, const cJSON ***out,
    size_t *n, struct err *e);
void jsonpath_free(struct jsonpath *p);

#endif
