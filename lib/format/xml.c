#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "format/xml.h"

/* One open element: its node and the text gathered for it so far. */
struct frame {
	struct xml_node *node;
	struct buf text;
};

struct parser {
	const char *s;
	size_t len, i;
	int line, col;
	const char *name;
	struct err *e;
	struct frame *stack;
	int depth;
	struct xml_node *root;
	int root_done;		/* the root element has been closed */
	int doctype_seen;
	size_t start;		/* offset after a byte order mark */
	struct buf val;		/* scratch for attribute values */
};

static int __attribute__((format(printf, 4, 5)))
perr(struct parser *p, int line, int col, const char *fmt, ...)
{
	char what[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return err_set(p->e, EX_USAGE_, "%s:%d:%d: %s", p->name, line, col, what);
}

/* Move n bytes on, keeping line and column (in characters) current. */
static void
adv(struct parser *p, size_t n)
{
	while (n-- > 0 && p->i < p->len) {
		unsigned char c = (unsigned char)p->s[p->i++];

		if (c == '\n' || (c == '\r' && (p->i >= p->len || p->s[p->i] != '\n'))) {
			p->line++;
			p->col = 1;
		} else if (c == '\r' || (c & 0xC0) == 0x80) {
			/* the \n of \r\n, or a UTF-8 continuation byte */
		} else
			p->col++;
	}
}

static int
at(const struct parser *p, const char *lit)
{
	size_t n = strlen(lit);

	return p->len - p->i >= n && memcmp(p->s + p->i, lit, n) == 0;
}

static int
cur(const struct parser *p)
{
	return p->i < p->len ? (unsigned char)p->s[p->i] : -1;
}

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void
skip_space(struct parser *p)
{
	while (is_space(cur(p)))
		adv(p, 1);
}

static int
name_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	    c == ':' || c >= 0x80;
}

static int
name_char(int c)
{
	return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* A fresh copy of the name at the cursor, or NULL when there is none. */
static char *
read_name(struct parser *p)
{
	size_t from = p->i;

	if (!name_start(cur(p)))
		return NULL;
	while (name_char(cur(p)))
		adv(p, 1);
	return xstrndup(p->s + from, p->i - from);
}

/* Offset of lit at or after from, or (size_t)-1. */
static size_t
find(const struct parser *p, size_t from, const char *lit)
{
	size_t n = strlen(lit);
	const char *q = p->s + from, *end = p->s + p->len;

	while ((size_t)(end - q) >= n) {
		const char *hit = memchr(q, lit[0], (size_t)(end - q) - n + 1);

		if (!hit)
			break;
		if (memcmp(hit, lit, n) == 0)
			return (size_t)(hit - p->s);
		q = hit + 1;
	}
	return (size_t)-1;
}

/* The Char production of XML 1.0. */
static int
xml_char(unsigned long cp)
{
	return cp == 0x9 || cp == 0xA || cp == 0xD ||
	    (cp >= 0x20 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
	    (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* Decode the reference at '&' into b: only the predefined entities and
 * character references, nothing a document could define itself. */
static int
entity(struct parser *p, struct buf *b)
{
	static const struct {
		const char *name;
		char c;
	} pre[] = {
		{ "lt", '<' }, { "gt", '>' }, { "amp", '&' },
		{ "quot", '"' }, { "apos", '\'' },
	};
	int line = p->line, col = p->col;
	size_t j, n, k;
	const char *ref;

	for (j = p->i + 1; j < p->len && j - p->i <= 32; j++)
		if (p->s[j] == ';' || !(name_char((unsigned char)p->s[j]) || p->s[j] == '#'))
			break;
	if (j >= p->len || p->s[j] != ';' || j == p->i + 1)
		return perr(p, line, col,
		    "bad entity reference (a bare '&' must be written '&amp;')");
	ref = p->s + p->i + 1;
	n = j - p->i - 1;
	if (ref[0] == '#') {
		unsigned long cp = 0;
		int hex = n > 1 && ref[1] == 'x';
		size_t d = hex ? 2 : 1;

		if (d >= n)
			goto badnum;
		for (k = d; k < n; k++) {
			int c = (unsigned char)ref[k], v;

			if (c >= '0' && c <= '9')
				v = c - '0';
			else if (hex && c >= 'a' && c <= 'f')
				v = c - 'a' + 10;
			else if (hex && c >= 'A' && c <= 'F')
				v = c - 'A' + 10;
			else
				goto badnum;
			cp = cp * (hex ? 16 : 10) + (unsigned long)v;
			if (cp > 0x10FFFF)
				goto badnum;
		}
		if (!xml_char(cp))
			goto badnum;
		buf_add_utf8(b, cp);
		adv(p, n + 2);
		return 0;
	}
	for (k = 0; k < sizeof(pre) / sizeof(pre[0]); k++) {
		if (strlen(pre[k].name) == n && memcmp(pre[k].name, ref, n) == 0) {
			buf_addc(b, pre[k].c);
			adv(p, n + 2);
			return 0;
		}
	}
	return perr(p, line, col, "unknown entity '&%.*s;'", (int)n, ref);
badnum:
	return perr(p, line, col, "bad character reference '&%.*s;'", (int)n, ref);
}

/* Append raw bytes [from, to) with \r\n and lone \r turned into \n. */
static void
add_norm(struct buf *b, const char *s, size_t n)
{
	size_t k = 0, run = 0;

	while (k < n) {
		if (s[k] == '\r') {
			buf_add(b, s + run, k - run);
			buf_addc(b, '\n');
			if (k + 1 < n && s[k + 1] == '\n')
				k++;
			run = ++k;
		} else
			k++;
	}
	buf_add(b, s + run, n - run);
}

static int
comment(struct parser *p)
{
	int line = p->line, col = p->col;
	size_t end = find(p, p->i + 4, "-->");

	if (end == (size_t)-1)
		return perr(p, line, col, "unterminated comment");
	adv(p, end + 3 - p->i);
	return 0;
}

static int
pi(struct parser *p)
{
	int line = p->line, col = p->col;
	int at_start = p->i == p->start;
	size_t end;
	char *target;
	int isdecl;

	adv(p, 2);
	target = read_name(p);
	if (!target)
		return perr(p, line, col, "bad processing instruction: expected a name after '<?'");
	isdecl = strlen(target) == 3 &&
	    (target[0] | 0x20) == 'x' && (target[1] | 0x20) == 'm' && (target[2] | 0x20) == 'l';
	free(target);
	if (isdecl && !at_start)
		return perr(p, line, col, "XML declaration not at the start of the document");
	end = find(p, p->i, "?>");
	if (end == (size_t)-1)
		return perr(p, line, col, isdecl ? "unterminated XML declaration" :
		    "unterminated processing instruction");
	adv(p, end + 2 - p->i);
	return 0;
}

static int
cdata(struct parser *p)
{
	int line = p->line, col = p->col;
	size_t from = p->i + 9, end = find(p, from, "]]>");

	if (end == (size_t)-1)
		return perr(p, line, col, "unterminated CDATA section");
	if (p->depth == 0)
		return perr(p, line, col, "CDATA section outside the root element");
	add_norm(&p->stack[p->depth - 1].text, p->s + from, end - from);
	adv(p, end + 3 - p->i);
	return 0;
}

/* Skip a quoted literal at the cursor. */
static int
skip_quoted(struct parser *p, int line, int col)
{
	const char *q = memchr(p->s + p->i + 1, p->s[p->i], p->len - p->i - 1);

	if (!q)
		return perr(p, line, col, "unterminated DOCTYPE");
	adv(p, (size_t)(q - (p->s + p->i)) + 1);
	return 0;
}

/*
 * Skip <!DOCTYPE ...>.  We never fetch the external subset, and an
 * internal subset may hold anything but entity declarations: since no
 * entity is expanded, declaring one would only make us misread the file.
 */
static int
doctype(struct parser *p)
{
	int line = p->line, col = p->col;

	if (p->doctype_seen || p->root)
		return perr(p, line, col, "misplaced DOCTYPE (only one, before the root element)");
	p->doctype_seen = 1;
	adv(p, 9);
	for (;;) {
		int c = cur(p);

		if (c < 0)
			return perr(p, line, col, "unterminated DOCTYPE");
		if (c == '>') {
			adv(p, 1);
			return 0;
		}
		if (c == '"' || c == '\'') {
			if (skip_quoted(p, line, col) < 0)
				return -1;
			continue;
		}
		if (c != '[') {
			adv(p, 1);
			continue;
		}
		adv(p, 1);
		for (;;) {
			c = cur(p);
			if (c < 0)
				return perr(p, line, col, "unterminated DOCTYPE");
			if (c == ']')
				break;
			if (at(p, "<!--")) {
				if (comment(p) < 0)
					return -1;
			} else if (at(p, "<?")) {
				size_t end = find(p, p->i, "?>");

				if (end == (size_t)-1)
					return perr(p, p->line, p->col,
					    "unterminated processing instruction");
				adv(p, end + 2 - p->i);
			} else if (at(p, "<!ENTITY")) {
				return perr(p, p->line, p->col,
				    "entity declarations are not supported");
			} else if (c == '"' || c == '\'') {
				if (skip_quoted(p, line, col) < 0)
					return -1;
			} else
				adv(p, 1);
		}
		adv(p, 1);
		skip_space(p);
		if (cur(p) != '>')
			return perr(p, p->line, p->col,
			    "bad DOCTYPE: expected '>' after the internal subset");
	}
}

static const struct xml_attr *
find_attr(const struct xml_node *n, const char *name)
{
	size_t k;

	for (k = 0; k < n->nattrs; k++)
		if (strcmp(n->attrs[k].name, name) == 0)
			return &n->attrs[k];
	return NULL;
}

static int
attribute(struct parser *p, struct xml_node *n, size_t *alloc)
{
	int line = p->line, col = p->col;
	char *name;
	int q;

	/* Duplicates are found by a linear search: keep it short. */
	if (n->nattrs >= XML_MAX_ATTRS)
		return perr(p, line, col, "bad attribute: more than %d in tag '%s'",
		    XML_MAX_ATTRS, n->name);
	name = read_name(p);
	if (!name)
		return perr(p, line, col, "bad attribute in tag '%s': expected a name, '>' or '/>'",
		    n->name);
	if (find_attr(n, name)) {
		perr(p, line, col, "bad attribute: duplicate '%s' in tag '%s'", name, n->name);
		free(name);
		return -1;
	}
	skip_space(p);
	if (cur(p) != '=') {
		perr(p, p->line, p->col, "bad attribute '%s': expected '='", name);
		free(name);
		return -1;
	}
	adv(p, 1);
	skip_space(p);
	q = cur(p);
	if (q != '"' && q != '\'') {
		perr(p, p->line, p->col, "bad attribute '%s': value must be quoted", name);
		free(name);
		return -1;
	}
	adv(p, 1);
	buf_reset(&p->val);
	for (;;) {
		int c = cur(p);
		size_t from = p->i;

		if (c < 0) {
			perr(p, line, col, "bad attribute '%s': unterminated value", name);
			free(name);
			return -1;
		}
		if (c == q) {
			adv(p, 1);
			break;
		}
		if (c == '<') {
			perr(p, p->line, p->col, "bad attribute '%s': '<' in value", name);
			free(name);
			return -1;
		}
		if (c == '&') {
			if (entity(p, &p->val) < 0) {
				free(name);
				return -1;
			}
			continue;
		}
		if (is_space(c)) {
			/* attribute-value normalisation: \r\n is one space */
			buf_addc(&p->val, ' ');
			adv(p, c == '\r' && at(p, "\r\n") ? 2 : 1);
			continue;
		}
		while (p->i < p->len && p->s[p->i] != q && p->s[p->i] != '<' &&
		    p->s[p->i] != '&' && !is_space((unsigned char)p->s[p->i]))
			adv(p, 1);
		buf_add(&p->val, p->s + from, p->i - from);
	}
	if (n->nattrs == *alloc) {
		*alloc = *alloc ? *alloc * 2 : 4;
		n->attrs = xrealloc(n->attrs, *alloc * sizeof(*n->attrs));
	}
	n->attrs[n->nattrs].name = name;
	n->attrs[n->nattrs].value = xstrndup(buf_str(&p->val), p->val.len);
	n->nattrs++;
	return 0;
}

static void
close_top(struct parser *p)
{
	struct frame *f = &p->stack[--p->depth];

	f->node->text = buf_detach(&f->text, &f->node->textlen);
	f->node = NULL;
	if (p->depth == 0)
		p->root_done = 1;
}

static int
start_tag(struct parser *p)
{
	int line = p->line, col = p->col;
	struct xml_node *n;
	size_t alloc = 0;
	char *name;

	adv(p, 1);
	name = read_name(p);
	if (!name)
		return perr(p, line, col, "bad start tag: expected an element name after '<'");
	if (p->root_done) {
		free(name);
		return perr(p, line, col, "more than one root element");
	}
	if (p->depth >= XML_MAX_DEPTH) {
		free(name);
		return perr(p, line, col, "nesting deeper than %d", XML_MAX_DEPTH);
	}
	n = xcalloc(1, sizeof(*n));
	n->name = name;
	n->line = line;
	n->col = col;
	if (p->depth == 0)
		p->root = n;
	else {
		struct xml_node *parent = p->stack[p->depth - 1].node;

		n->parent = parent;
		if (parent->last)
			parent->last->next = n;
		else
			parent->child = n;
		parent->last = n;
		parent->nchildren++;
	}
	p->stack[p->depth].node = n;
	buf_init(&p->stack[p->depth].text, 0);
	p->depth++;
	for (;;) {
		int sp = is_space(cur(p));

		skip_space(p);
		if (cur(p) < 0)
			return perr(p, line, col, "document ends inside start tag '%s'", n->name);
		if (cur(p) == '>') {
			adv(p, 1);
			break;
		}
		if (at(p, "/>")) {
			adv(p, 2);
			close_top(p);
			break;
		}
		if (!sp)
			return perr(p, p->line, p->col,
			    "bad attribute in tag '%s': expected a space, '>' or '/>'", n->name);
		if (attribute(p, n, &alloc) < 0)
			return -1;
	}
	return 0;
}

static int
end_tag(struct parser *p)
{
	int line = p->line, col = p->col;
	const struct xml_node *top;
	char *name;

	adv(p, 2);
	name = read_name(p);
	if (!name)
		return perr(p, line, col, "bad end tag: expected an element name after '</'");
	skip_space(p);
	if (cur(p) != '>') {
		perr(p, p->line, p->col, "bad end tag '%s': expected '>'", name);
		free(name);
		return -1;
	}
	adv(p, 1);
	if (p->depth == 0) {
		perr(p, line, col, "end tag '%s' without a start tag", name);
		free(name);
		return -1;
	}
	top = p->stack[p->depth - 1].node;
	if (strcmp(name, top->name) != 0) {
		perr(p, line, col, "mismatched end tag '%s' (expected '%s' opened at %d:%d)",
		    name, top->name, top->line, top->col);
		free(name);
		return -1;
	}
	free(name);
	close_top(p);
	return 0;
}

/* Character data up to the next '<'. */
static int
text(struct parser *p)
{
	struct buf *b = p->depth ? &p->stack[p->depth - 1].text : NULL;

	while (p->i < p->len && p->s[p->i] != '<') {
		int line = p->line, col = p->col;
		size_t from = p->i;

		if (p->s[p->i] == '&') {
			if (!b)
				return perr(p, line, col, "text outside the root element");
			if (entity(p, b) < 0)
				return -1;
			continue;
		}
		while (p->i < p->len && p->s[p->i] != '<' && p->s[p->i] != '&')
			adv(p, 1);
		if (b)
			add_norm(b, p->s + from, p->i - from);
		else {
			size_t k;

			for (k = from; k < p->i; k++)
				if (!is_space((unsigned char)p->s[k])) {
					/* point at the first offending character */
					p->i = from;
					p->line = line;
					p->col = col;
					adv(p, k - from);
					return perr(p, p->line, p->col,
					    "text outside the root element");
				}
		}
	}
	return 0;
}

static void
free_parser(struct parser *p)
{
	int k;

	for (k = 0; k < p->depth; k++)
		buf_free(&p->stack[k].text);
	free(p->stack);
	buf_free(&p->val);
}

struct xml_node *
xml_parse(const char *s, size_t len, const char *name, struct err *e)
{
	struct parser p;
	const char *nul;
	int rc = 0;

	memset(&p, 0, sizeof(p));
	p.s = s;
	p.len = len;
	p.line = p.col = 1;
	p.name = name ? name : "<input>";
	p.e = e;
	if (len >= 2 && (((unsigned char)s[0] == 0xFF && (unsigned char)s[1] == 0xFE) ||
	    ((unsigned char)s[0] == 0xFE && (unsigned char)s[1] == 0xFF))) {
		perr(&p, 1, 1, "UTF-16 is not supported (convert the file to UTF-8)");
		return NULL;
	}
	if ((nul = memchr(s, '\0', len)) != NULL) {
		adv(&p, (size_t)(nul - s));
		perr(&p, p.line, p.col, "NUL byte");
		return NULL;
	}
	if (at(&p, "\xEF\xBB\xBF"))
		p.i = p.start = 3;
	p.stack = xcalloc(XML_MAX_DEPTH, sizeof(*p.stack));
	buf_init(&p.val, 0);
	while (rc == 0 && p.i < p.len) {
		if (p.s[p.i] != '<')
			rc = text(&p);
		else if (at(&p, "<!--"))
			rc = comment(&p);
		else if (at(&p, "<![CDATA["))
			rc = cdata(&p);
		else if (at(&p, "<!DOCTYPE"))
			rc = doctype(&p);
		else if (at(&p, "<?"))
			rc = pi(&p);
		else if (at(&p, "</"))
			rc = end_tag(&p);
		else if (at(&p, "<!"))
			rc = perr(&p, p.line, p.col, "unknown markup declaration");
		else
			rc = start_tag(&p);
	}
	if (rc == 0 && p.depth > 0) {
		const struct xml_node *top = p.stack[p.depth - 1].node;

		rc = perr(&p, p.line, p.col, "document ends inside element '%s' (opened at %d:%d)",
		    top->name, top->line, top->col);
	}
	if (rc == 0 && !p.root)
		rc = perr(&p, p.line, p.col, "no root element");
	free_parser(&p);
	if (rc < 0) {
		xml_free(p.root);
		return NULL;
	}
	return p.root;
}

void
xml_free(struct xml_node *top)
{
	struct xml_node *n = top;

	/* Iterative, children first, so no tree shape can exhaust the stack. */
	while (n) {
		struct xml_node *up;
		size_t k;

		if (n->child) {
			struct xml_node *c = n->child;

			n->child = c->next;
			c->parent = n;
			c->next = NULL;
			n = c;
			continue;
		}
		up = n == top ? NULL : n->parent;
		for (k = 0; k < n->nattrs; k++) {
			free(n->attrs[k].name);
			free(n->attrs[k].value);
		}
		free(n->attrs);
		free(n->name);
		free(n->text);
		free(n);
		n = up;
	}
}

const char *
xml_attr(const struct xml_node *n, const char *name)
{
	const struct xml_attr *a = n ? find_attr(n, name) : NULL;

	return a ? a->value : NULL;
}

struct xml_node *
xml_child(const struct xml_node *n, const char *name)
{
	struct xml_node *c;

	if (!n)
		return NULL;
	for (c = n->child; c; c = c->next)
		if (!name || strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

struct xml_node *
xml_next(const struct xml_node *n, const char *name)
{
	struct xml_node *c;

	if (!n)
		return NULL;
	for (c = n->next; c; c = c->next)
		if (!name || strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* Length of the valid UTF-8 sequence at s (of at most n bytes), or 0; in
 * *bad the length of its longest valid prefix, which becomes one U+FFFD. */
static size_t
utf8_seq(const unsigned char *s, size_t n, size_t *bad, unsigned long *cp)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t need, k;

	*bad = 1;
	if (c >= 0xC2 && c <= 0xDF)
		need = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		need = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;	/* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	*cp = c & (need == 2 ? 0x1F : need == 3 ? 0x0F : 0x07);
	for (k = 1; k < need; k++) {
		if (k >= n || s[k] < lo || s[k] > hi) {
			*bad = k;
			return 0;
		}
		*cp = (*cp << 6) | (s[k] & 0x3F);
		lo = 0x80;
		hi = 0xBF;
	}
	return need;
}

void
xml_escape(struct buf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), i = 0, run = 0;

	while (i < n) {
		unsigned char c = s[i];
		const char *rep = NULL;
		size_t skip = 1, bad;
		unsigned long cp;

		if (c >= 0x80) {
			size_t len = utf8_seq(s + i, n - i, &bad, &cp);

			if (len && cp != 0xFFFE && cp != 0xFFFF) {
				i += len;
				continue;
			}
			rep = "\xEF\xBF\xBD";
			skip = len ? len : bad;
		} else if (c == '&')
			rep = "&amp;";
		else if (c == '<')
			rep = "&lt;";
		else if (c == '>')
			rep = "&gt;";
		else if (c == '"')
			rep = "&quot;";
		else if (c == '\'')
			rep = "&apos;";
		else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			rep = "";
		else {
			i++;
			continue;
		}
		buf_add(b, s + run, i - run);
		buf_adds(b, rep);
		i += skip;
		run = i;
	}
	buf_add(b, s + run, n - run);
}
