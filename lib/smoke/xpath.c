/*
 * xpath: XPath queries and filters of ci-smoke on libxml2 (see smoke.h,
 * sval_xpath()).  lib/format/xml reads our own small XML documents; a
 * response body may be any XML or HTML, and XPath needs libxml2's engine.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "core/buf.h"
#include "smoke/smoke.h"
#include "smoke/xml-load.h"

/* Register every prefix the document declares, and "_" for a default
 * namespace, so that expressions can name them. */
static void
register_ns(xmlXPathContextPtr ctx, xmlNodePtr n)
{
	for (; n; n = n->next) {
		xmlNsPtr ns;

		if (n->type != XML_ELEMENT_NODE)
			continue;
		for (ns = n->nsDef; ns; ns = ns->next)
			xmlXPathRegisterNs(ctx, ns->prefix ? ns->prefix : BAD_CAST "_", ns->href);
		register_ns(ctx, n->children);
	}
}

/* libxml2 prints its errors through a callback: quiet it (a body that
 * does not parse is told by the NULL document). */
static void
on_error(void *arg, const char *fmt, ...)
{
	(void)arg;
	(void)fmt;
}

int
sval_xpath(const char *body, size_t len, int html, const char *expr, struct sval *out,
    char **why)
{
	xmlDocPtr doc;
	xmlXPathContextPtr ctx = NULL;
	xmlXPathObjectPtr res = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (len > INT_MAX) {
		*why = xstrdup("xpath: the body is too large");
		return -1;
	}
	xmlSetGenericErrorFunc(NULL, on_error);
	if (html)
		doc = htmlReadMemory(body, (int)len, NULL, NULL,
		    HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
	else
		doc = xmlReadMemory(body, (int)len, NULL, NULL,
		    XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NONET);
	if (!doc) {
		*why = xasprintf("xpath: the body is not %s", html ? "HTML" : "XML");
		return -1;
	}
	/* Without XML_PARSE_NOENT (which would read local files) an entity
	 * stays a reference, and xmlNodeGetContent() expands each one with
	 * no limit: a megabyte declared once and used ten thousand times
	 * is ten gigabytes.  A response has no business declaring them. */
	if (!html && doc->intSubset && doc->intSubset->entities) {
		*why = xstrdup("xpath: the body declares entities (<!ENTITY>), which ci-smoke "
		    "does not expand");
		goto out;
	}
	if (!(ctx = xmlXPathNewContext(doc))) {
		*why = xstrdup("xpath: out of memory");
		goto out;
	}
	register_ns(ctx, xmlDocGetRootElement(doc));
	if (!(res = xmlXPathEvalExpression(BAD_CAST expr, ctx))) {
		*why = xasprintf("xpath: bad expression '%s'", expr);
		goto out;
	}
	switch (res->type) {
	case XPATH_NODESET: {
		int i, n = res->nodesetval ? res->nodesetval->nodeNr : 0;
		/* each node is the text of its whole subtree: nested nodes
		 * repeat it, so bound the sum */
		size_t total = 0, most = 8 * len + (1u << 20);

		out->type = SV_LIST;
		out->nodeset = 1;
		out->j = cJSON_CreateArray();
		for (i = 0; i < n; i++) {
			xmlChar *t = xmlNodeGetContent(res->nodesetval->nodeTab[i]);

			total += t ? strlen((const char *)t) : 0;
			if (total > most) {
				libxml_free(t);
				cJSON_Delete(out->j);
				memset(out, 0, sizeof(*out));
				*why = xasprintf("xpath: the text of the %d nodes passes %zu bytes "
				    "(eight times the body)", n, most);
				goto out;
			}
			cJSON_AddItemToArray(out->j, cJSON_CreateString(t ? (const char *)t : ""));
			libxml_free(t);
		}
		break;
	}
	case XPATH_BOOLEAN:
		out->type = SV_BOOL;
		out->b = res->boolval;
		break;
	case XPATH_NUMBER:
		if (isfinite(res->floatval) && res->floatval == floor(res->floatval) &&
		    fabs(res->floatval) < 9.0e15) {
			out->type = SV_INT;
			out->i = (long long)res->floatval;
		} else {
			out->type = SV_FLOAT;
			out->f = res->floatval;
		}
		break;
	case XPATH_STRING:
		out->type = SV_STRING;
		out->s = xstrdup(res->stringval ? (const char *)res->stringval : "");
		out->len = strlen(out->s);
		break;
	default:
		*why = xstrdup("xpath: the expression gives a value ci-smoke does not know");
		goto out;
	}
	rc = 0;
out:
	xmlXPathFreeObject(res);
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	return rc;
}
