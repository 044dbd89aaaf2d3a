#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/dynlib.h"
#include "net/curl-load.h"

/*
 * curl.h wraps these three in macros (type checks at each call); here
 * are the functions themselves.
 */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt

/* Each CURLOPTTYPE_ range of option numbers is this wide (curl.h). */
#define OPTTYPE_SPAN 10000

/* A function pointer as a value of curl_easy_setopt() carries it. */
typedef void (*curl_fn)(void);

/* libcurl's functions, as curl.h declares them. */
struct curl_fns {
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	void (*easy_cleanup)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	char *(*easy_escape)(CURL *, const char *, int);
	char *(*easy_unescape)(CURL *, const char *, int, int *);
	void (*free)(void *);
	time_t (*getdate)(const char *, const time_t *);
	curl_mime *(*mime_init)(CURL *);
	void (*mime_free)(curl_mime *);
	curl_mimepart *(*mime_addpart)(curl_mime *);
	CURLcode (*mime_name)(curl_mimepart *, const char *);
	CURLcode (*mime_filename)(curl_mimepart *, const char *);
	CURLcode (*mime_type)(curl_mimepart *, const char *);
	CURLcode (*mime_data)(curl_mimepart *, const char *, size_t);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	CURLMcode (*multi_perform)(CURLM *, int *);
	CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd *, unsigned int, int, int *);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLU *(*url)(void);
	void (*url_cleanup)(CURLU *);
	CURLUcode (*url_get)(CURLU *, CURLUPart, char **, unsigned int);
	CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
	const char *(*url_strerror)(CURLUcode);
};

#define SYM(f) { "curl_" #f, offsetof(struct curl_fns, f) }
static const struct dynlib_sym syms[] = {
	SYM(global_init), SYM(global_cleanup),
	SYM(easy_init), SYM(easy_setopt), SYM(easy_perform), SYM(easy_cleanup),
	SYM(easy_getinfo), SYM(easy_strerror), SYM(easy_escape), SYM(easy_unescape),
	SYM(free), SYM(getdate),
	SYM(mime_init), SYM(mime_free), SYM(mime_addpart), SYM(mime_name),
	SYM(mime_filename), SYM(mime_type), SYM(mime_data),
	SYM(multi_init), SYM(multi_add_handle), SYM(multi_remove_handle),
	SYM(multi_cleanup), SYM(multi_info_read), SYM(multi_perform), SYM(multi_poll),
	SYM(multi_setopt),
	SYM(slist_append), SYM(slist_free_all),
	SYM(url), SYM(url_cleanup), SYM(url_get), SYM(url_set), SYM(url_strerror),
};
#undef SYM

static struct curl_fns fn;
static struct dynlib lib = DYNLIB_INIT(CURL_LOAD_SONAME, "libcurl", CURL_LOAD_PACKAGE,
    "libcurl 7.85 or later", syms, fn);
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;		/* 1: fn is complete and libcurl initialised */
static int initialised;		/* curl_global_init() in force */

static void
load(void)
{
	dynlib_open(&lib);
	if (!lib.loaded)
		return;
	if (fn.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(lib.why, sizeof(lib.why), "cannot use libcurl: its global initialisation failed");
		return;
	}
	initialised = 1;
	loaded = 1;
}

static int
ready(void)
{
	pthread_once(&once, load);
	return loaded;
}

int
curl_load(struct err *e)
{
	if (ready())
		return 0;
	return dynlib_err(&lib, e);
}

/*
 * The forwarders.  Those that free or undo return at once when libcurl
 * was never loaded: nothing was made to free, and loading it only to
 * free nothing would cost the start-up that this file saves.
 */

void
curl_global_cleanup(void)
{
	if (loaded && initialised) {
		fn.global_cleanup();
		initialised = 0;
	}
}

CURL *
curl_easy_init(void)
{
	return ready() ? fn.easy_init() : NULL;
}

/*
 * The value's type follows from the option's number: curl.h numbers the
 * options of each type from its CURLOPTTYPE_ base (easy and multi options
 * alike), and libcurl reads the argument so.  rc = call(h, option, value).
 */
#define FORWARD_OPTION(rc, call, h, option, ap, unknown) do {			\
	long o_ = (long)(option);						\
										\
	if (o_ < CURLOPTTYPE_OBJECTPOINT)					\
		rc = call(h, option, va_arg(ap, long));				\
	else if (o_ < CURLOPTTYPE_FUNCTIONPOINT)				\
		rc = call(h, option, va_arg(ap, void *));			\
	else if (o_ < CURLOPTTYPE_OFF_T)					\
		rc = call(h, option, va_arg(ap, curl_fn));			\
	else if (o_ < CURLOPTTYPE_BLOB)						\
		rc = call(h, option, va_arg(ap, curl_off_t));			\
	else if (o_ < CURLOPTTYPE_BLOB + OPTTYPE_SPAN)				\
		rc = call(h, option, va_arg(ap, struct curl_blob *));		\
	else									\
		rc = unknown;							\
} while (0)

CURLcode
curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
	va_list ap;
	CURLcode rc;

	if (!ready())
		return CURLE_FAILED_INIT;
	va_start(ap, option);
	FORWARD_OPTION(rc, fn.easy_setopt, curl, option, ap, CURLE_UNKNOWN_OPTION);
	va_end(ap);
	return rc;
}

CURLcode
curl_easy_perform(CURL *curl)
{
	return ready() ? fn.easy_perform(curl) : CURLE_FAILED_INIT;
}

void
curl_easy_cleanup(CURL *curl)
{
	if (loaded)
		fn.easy_cleanup(curl);
}

/* The answer's type follows from CURLINFO_TYPEMASK of the item. */
CURLcode
curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
	va_list ap;
	CURLcode rc;

	if (!ready())
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	switch ((long)info & CURLINFO_TYPEMASK) {
	case CURLINFO_STRING:
		rc = fn.easy_getinfo(curl, info, va_arg(ap, char **));
		break;
	case CURLINFO_LONG:
		rc = fn.easy_getinfo(curl, info, va_arg(ap, long *));
		break;
	case CURLINFO_DOUBLE:
		rc = fn.easy_getinfo(curl, info, va_arg(ap, double *));
		break;
	case CURLINFO_SLIST:	/* and CURLINFO_PTR: the same number */
		rc = fn.easy_getinfo(curl, info, va_arg(ap, void *));
		break;
	case CURLINFO_SOCKET:
		rc = fn.easy_getinfo(curl, info, va_arg(ap, curl_socket_t *));
		break;
	case CURLINFO_OFF_T:
		rc = fn.easy_getinfo(curl, info, va_arg(ap, curl_off_t *));
		break;
	default:
		rc = CURLE_UNKNOWN_OPTION;
		break;
	}
	va_end(ap);
	return rc;
}

const char *
curl_easy_strerror(CURLcode rc)
{
	return ready() ? fn.easy_strerror(rc) : lib.why;
}

char *
curl_easy_escape(CURL *handle, const char *string, int length)
{
	return ready() ? fn.easy_escape(handle, string, length) : NULL;
}

char *
curl_easy_unescape(CURL *handle, const char *string, int length, int *outlength)
{
	return ready() ? fn.easy_unescape(handle, string, length, outlength) : NULL;
}

void
curl_free(void *p)
{
	if (loaded)
		fn.free(p);
}

time_t
curl_getdate(const char *p, const time_t *unused)
{
	return ready() ? fn.getdate(p, unused) : (time_t)-1;
}

curl_mime *
curl_mime_init(CURL *easy)
{
	return ready() ? fn.mime_init(easy) : NULL;
}

void
curl_mime_free(curl_mime *mime)
{
	if (loaded)
		fn.mime_free(mime);
}

curl_mimepart *
curl_mime_addpart(curl_mime *mime)
{
	return ready() ? fn.mime_addpart(mime) : NULL;
}

CURLcode
curl_mime_name(curl_mimepart *part, const char *name)
{
	return ready() ? fn.mime_name(part, name) : CURLE_FAILED_INIT;
}

CURLcode
curl_mime_filename(curl_mimepart *part, const char *filename)
{
	return ready() ? fn.mime_filename(part, filename) : CURLE_FAILED_INIT;
}

CURLcode
curl_mime_type(curl_mimepart *part, const char *mimetype)
{
	return ready() ? fn.mime_type(part, mimetype) : CURLE_FAILED_INIT;
}

CURLcode
curl_mime_data(curl_mimepart *part, const char *data, size_t datasize)
{
	return ready() ? fn.mime_data(part, data, datasize) : CURLE_FAILED_INIT;
}

CURLM *
curl_multi_init(void)
{
	return ready() ? fn.multi_init() : NULL;
}

CURLMcode
curl_multi_add_handle(CURLM *multi_handle, CURL *curl_handle)
{
	return ready() ? fn.multi_add_handle(multi_handle, curl_handle) : CURLM_INTERNAL_ERROR;
}

CURLMcode
curl_multi_remove_handle(CURLM *multi_handle, CURL *curl_handle)
{
	return ready() ? fn.multi_remove_handle(multi_handle, curl_handle) : CURLM_INTERNAL_ERROR;
}

CURLMcode
curl_multi_cleanup(CURLM *multi_handle)
{
	return loaded ? fn.multi_cleanup(multi_handle) : CURLM_OK;
}

CURLMsg *
curl_multi_info_read(CURLM *multi_handle, int *msgs_in_queue)
{
	if (ready())
		return fn.multi_info_read(multi_handle, msgs_in_queue);
	if (msgs_in_queue)
		*msgs_in_queue = 0;
	return NULL;
}

CURLMcode
curl_multi_perform(CURLM *multi_handle, int *running_handles)
{
	return ready() ? fn.multi_perform(multi_handle, running_handles) : CURLM_INTERNAL_ERROR;
}

CURLMcode
curl_multi_poll(CURLM *multi_handle, struct curl_waitfd extra_fds[], unsigned int extra_nfds,
    int timeout_ms, int *ret)
{
	return ready() ? fn.multi_poll(multi_handle, extra_fds, extra_nfds, timeout_ms, ret) :
	    CURLM_INTERNAL_ERROR;
}

/* As curl_easy_setopt(): multi options are numbered from the same bases. */
CURLMcode
curl_multi_setopt(CURLM *multi_handle, CURLMoption option, ...)
{
	va_list ap;
	CURLMcode rc;

	if (!ready())
		return CURLM_INTERNAL_ERROR;
	va_start(ap, option);
	FORWARD_OPTION(rc, fn.multi_setopt, multi_handle, option, ap, CURLM_UNKNOWN_OPTION);
	va_end(ap);
	return rc;
}

struct curl_slist *
curl_slist_append(struct curl_slist *list, const char *data)
{
	return ready() ? fn.slist_append(list, data) : NULL;
}

void
curl_slist_free_all(struct curl_slist *list)
{
	if (loaded)
		fn.slist_free_all(list);
}

CURLU *
curl_url(void)
{
	return ready() ? fn.url() : NULL;
}

void
curl_url_cleanup(CURLU *handle)
{
	if (loaded)
		fn.url_cleanup(handle);
}

CURLUcode
curl_url_get(CURLU *handle, CURLUPart what, char **part, unsigned int flags)
{
	return ready() ? fn.url_get(handle, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

CURLUcode
curl_url_set(CURLU *handle, CURLUPart what, const char *part, unsigned int flags)
{
	return ready() ? fn.url_set(handle, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

const char *
curl_url_strerror(CURLUcode rc)
{
	return ready() ? fn.url_strerror(rc) : lib.why;
}
