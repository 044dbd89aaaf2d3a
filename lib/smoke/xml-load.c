#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "core/dynlib.h"
#include "smoke/xml-load.h"

/* The libxml2 functions smoke/xpath calls (core/dynlib.h). */
#define XML_FNS(F, P) \
	F(htmlDocPtr, htmlReadMemory, (const char *buffer, int size, const char *URL, \
	    const char *encoding, int options), (buffer, size, URL, encoding, options), NULL) \
	F(xmlDocPtr, xmlReadMemory, (const char *buffer, int size, const char *URL, \
	    const char *encoding, int options), (buffer, size, URL, encoding, options), NULL) \
	P(xmlSetGenericErrorFunc, (void *ctx, xmlGenericErrorFunc handler), (ctx, handler)) \
	F(xmlNodePtr, xmlDocGetRootElement, (const xmlDoc *doc), (doc), NULL) \
	F(xmlChar *, xmlNodeGetContent, (const xmlNode *cur), (cur), NULL) \
	P(xmlFreeDoc, (xmlDocPtr cur), (cur)) \
	F(xmlXPathContextPtr, xmlXPathNewContext, (xmlDocPtr doc), (doc), NULL) \
	P(xmlXPathFreeContext, (xmlXPathContextPtr ctxt), (ctxt)) \
	F(int, xmlXPathRegisterNs, (xmlXPathContextPtr ctxt, const xmlChar *prefix, \
	    const xmlChar *ns_uri), (ctxt, prefix, ns_uri), -1) \
	F(xmlXPathObjectPtr, xmlXPathEvalExpression, (const xmlChar *str, \
	    xmlXPathContextPtr ctxt), (str, ctxt), NULL) \
	P(xmlXPathFreeObject, (xmlXPathObjectPtr obj), (obj))

struct dynlib_fns {
	XML_FNS(DYNLIB_FIELD, DYNLIB_FIELD_VOID)
	xmlFreeFunc *free;	/* the variable xmlFree */
};

static const struct dynlib_sym syms[] = {
	XML_FNS(DYNLIB_SYM, DYNLIB_SYM_VOID)
	{ "xmlFree", offsetof(struct dynlib_fns, free) },
};

static struct dynlib_fns fn;
static struct dynlib lib = DYNLIB_INIT(XML_LOAD_SONAME, "libxml2", XML_LOAD_PACKAGE, NULL,
    syms, fn);
DYNLIB_READY(ready, lib)

int
libxml_load(struct err *e)
{
	return ready() ? 0 : dynlib_err(&lib, e);
}

void
libxml_free(void *p)
{
	if (p && lib.loaded)
		(*fn.free)(p);
}

XML_FNS(DYNLIB_FORWARD, DYNLIB_FORWARD_VOID)
