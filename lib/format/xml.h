/*
 * xml: a small, safe, non-validating XML reader (and an escaper for
 * writers), enough for the reports test tools leave behind (JUnit,
 * Cobertura).
 *
 * xml_parse() builds a tree of elements from len bytes of UTF-8 text (no
 * NUL terminator needed).  It understands the XML declaration, comments,
 * processing instructions, CDATA sections, attributes in single or double
 * quotes, self-closing tags and the five predefined entities plus numeric
 * character references (&#N; &#xN;, written out as UTF-8).  A DOCTYPE is
 * skipped, but one whose internal subset declares entities is refused: no
 * other entity is ever expanded, so billion-laughs style input is inert.
 * Namespace prefixes stay part of the names ("ns:tag").  As XML requires,
 * line endings in text become "\n" and whitespace characters in attribute
 * values become spaces (character references such as &#10; stay).  Control
 * characters other than NUL and bytes that are not valid UTF-8 are passed
 * through: we read, we do not validate.
 *
 * Errors set e (code EX_USAGE_) to "name:line:col: what"; columns count
 * characters from 1.  Refused: NUL bytes, nesting deeper than
 * XML_MAX_DEPTH, more than XML_MAX_ATTRS attributes on an element, more
 * than one root element, unknown entities, mismatched or missing end tags,
 * unterminated comments/CDATA/PIs, bad attributes.  The caller caps the
 * input size.
 *
 * The tree is owned by the caller (xml_free() the root); every string in
 * it is owned by its node; the lookups below return borrowed pointers.
 */
#ifndef CI_XML_H
#define CI_XML_H

#include <stddef.h>

#include "core/buf.h"
#include "core/log.h"

#define XML_MAX_DEPTH 256
#define XML_MAX_ATTRS 1024	/* per element */

struct xml_attr {
	char *name;
	char *value;		/* entities decoded, never NULL */
};

struct xml_node {
	char *name;
	struct xml_attr *attrs;
	size_t nattrs;
	char *text;		/* text and CDATA of the direct children,
				 * concatenated; "" when none, never NULL */
	size_t textlen;		/* == strlen(text): NUL is never let in */
	struct xml_node *parent;
	struct xml_node *child;	/* first child element */
	struct xml_node *last;	/* last child element */
	struct xml_node *next;	/* next sibling element */
	size_t nchildren;
	int line, col;		/* of the '<' of the start tag */
};

struct xml_node *xml_parse(const char *text, size_t len, const char *name,
    struct err *e);
void xml_free(struct xml_node *root);

/* Borrowed value of attribute name, or NULL when absent. */
const char *xml_attr(const struct xml_node *n, const char *name);
/*
 * Child elements by name (any element when name is NULL):
 *   for (c = xml_child(n, "testcase"); c; c = xml_next(c, "testcase"))
 */
struct xml_node *xml_child(const struct xml_node *n, const char *name);
struct xml_node *xml_next(const struct xml_node *n, const char *name);

/*
 * Append s to b escaped for XML 1.0 text or attribute values (quoted either
 * way): & < > " ' become entities, control characters other than \t \n \r
 * are removed, and bytes that are not valid UTF-8 (overlong forms and
 * surrogates included; each maximal invalid sequence) as well as U+FFFE and
 * U+FFFF become U+FFFD, so that the output always passes `xmllint --noout`.
 * When b's cap is reached b is left failed (see buf.h).
 */
void xml_escape(struct buf *b, const char *s);

#endif
