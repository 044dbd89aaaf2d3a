/*
 * curl-load: libcurl, opened the first time a tool needs it.
 *
 * The code calls libcurl by its own names (curl_easy_init(), ...) and
 * compiles against curl.h, but the tools do not link libcurl: libcurl and
 * the forty libraries it pulls in cost most of a start-up, and --version
 * or a stage skipped after an upstream failure sends no request.
 * curl-load.c defines each curl_* function the code calls.  The first
 * call, from any of them or from curl_load(), dlopen()s CURL_LOAD_SONAME,
 * resolves them all and runs curl_global_init(CURL_GLOBAL_DEFAULT): once
 * per process, safe from any thread.  curl_global_cleanup() undoes the
 * global initialisation when libcurl was loaded, and does nothing when it
 * was not; a command calls it once, at its end.
 *
 * When libcurl cannot be loaded, each function fails the way libcurl
 * reports failure (NULL, CURLE_FAILED_INIT, CURLM_INTERNAL_ERROR,
 * CURLUE_OUT_OF_MEMORY); those that free do nothing (nothing was made),
 * and curl_easy_strerror() says what is missing.  Call curl_load() where
 * an error can be reported before the first request: it names the library
 * and the Debian package that has it.
 *
 * A curl_* call new to the code needs its forwarder in curl-load.c: the
 * link fails without one, as -lcurl is not on the command line.
 */
#ifndef CI_CURL_LOAD_H
#define CI_CURL_LOAD_H

#include <curl/curl.h>

#include "core/log.h"

#define CURL_LOAD_SONAME "libcurl.so.4"
#define CURL_LOAD_PACKAGE "libcurl4"

/* 0 when libcurl is loaded (now or before); -1 with e set (EX_SERVICE):
 * "cannot load libcurl: libcurl.so.4: cannot open shared object file: ...
 * (install the Debian package libcurl4)". */
int curl_load(struct err *e);

#endif
