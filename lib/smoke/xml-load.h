/*
 * xml-load: libxml2, opened the first time ci-smoke evaluates an XPath
 * (see core/dynlib.h for the pattern).
 *
 * libxml2 and the libraries it pulls in (ICU's two, libstdc++, liblzma,
 * zlib) were most of ci-smoke's and ci-canary's start-up, and only an
 * xpath query or filter uses it.  xml-load.c defines each libxml2
 * function smoke/xpath calls; the first call of any of them, or of
 * libxml_load(), opens XML_LOAD_SONAME.  When it cannot be loaded each
 * returns NULL or -1 and a free does nothing; call libxml_load() before a
 * run that needs it, where the error can be reported.
 *
 * libxml2's xmlFree is a variable, not a function: free what libxml2
 * returns with libxml_free().
 */
#ifndef CI_XML_LOAD_H
#define CI_XML_LOAD_H

#include "core/log.h"

#define XML_LOAD_SONAME "libxml2.so.2"
#define XML_LOAD_PACKAGE "libxml2"

/* 0 when libxml2 is loaded (now or before); -1 with e set (EX_SERVICE):
 * "cannot load libxml2: libxml2.so.2: ... (install the Debian package
 * libxml2)". */
int libxml_load(struct err *e);

/* libxml2's xmlFree(p): p from libxml2, or NULL. */
void libxml_free(void *p);

#endif
