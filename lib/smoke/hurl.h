/*
 * hurl: a parser for the subset of the Hurl file format that ci-smoke runs
 * (the subset is specified in ci-smoke(1); the grammar it follows is
 * Hurl's public one, https://hurl.dev/docs/grammar.html).
 *
 * hurl_parse() turns a file into entries: a request (method, URL, headers,
 * [Query]/[QueryStringParams], [Form]/[FormParams],
 * [Multipart]/[MultipartFormData], [Cookies], [BasicAuth], [Options] and a
 * body) and an optional response (HTTP version and status, headers,
 * [Captures], [Asserts], a body).  It evaluates nothing: every string
 * keeps its {{variable}} templates, escapes already decoded, and each
 * template is listed in its entry's refs so that a caller can check every
 * variable is defined before anything runs.  Regular expressions and JSONPath
 * expressions without templates are compiled here, so that their errors
 * name the file and line too.
 *
 * Errors (code EX_USAGE_) read "FILE:LINE:COL: what"; a construct outside
 * the subset is refused by its Hurl name ("the 'resolve' option is not
 * supported by ci-smoke").  The struct hurl_file owns everything in it;
 * hurl_file_free() releases it all.
 */
#ifndef CI_HURL_H
#define CI_HURL_H

#include <stddef.h>
#include <regex.h>

#include "format/jsonpath.h"
#include "core/log.h"

#define HURL_MAX_BYTES (8u << 20)

/* A string from the file: escapes decoded, {{templates}} kept. */
struct hurl_str {
	char *s;
	int line;
	int has_tmpl;		/* holds at least one {{...}} */
};

struct hurl_kv {
	struct hurl_str key;
	struct hurl_str value;
	int line;
	int is_file;		/* multipart "file,NAME;": value is NAME */
	char *content_type;	/* multipart file part, or NULL */
};

/* A regular expression: POSIX extended, with Perl's \d \w \s shorthands
 * translated, (?i) and (?:...) understood. */
struct hurl_regex {
	regex_t re;
	int compiled;
	size_t group;		/* the POSIX group of the first capturing group, 0: none */
};

enum hurl_body_kind {
	HB_NONE, HB_JSON, HB_XML, HB_TEXT, HB_BYTES, HB_FILE
};

struct hurl_body {
	int kind;
	struct hurl_str text;	/* JSON, XML, TEXT: the template; FILE: the file name */
	const char *lang;	/* TEXT from a ``` block: "json", "xml", "graphql",
				 * "raw" or NULL */
	struct hurl_str gvars;	/* graphql: the variables object, or s NULL */
	unsigned char *bytes;	/* BYTES (hex, or base64): decoded */
	size_t len;
	int line;
};

enum hurl_query_kind {
	HQ_STATUS, HQ_URL, HQ_HEADER, HQ_BODY, HQ_BYTES, HQ_JSONPATH, HQ_REGEX,
	HQ_VARIABLE, HQ_DURATION, HQ_COOKIE, HQ_XPATH, HQ_SHA256, HQ_MD5, HQ_CERTIFICATE,
	HQ_IP, HQ_VERSION, HQ_REDIRECTS, HQ_RAWBYTES, HQ_COUNT_
};

struct hurl_query {
	int kind;
	struct hurl_str arg;	/* header name, expression, variable name */
	int regex_literal;	/* arg came as /.../ */
	struct jsonpath *jp;	/* compiled when arg has no template */
	struct hurl_regex rx;	/* compiled when arg has no template */
};

enum hurl_filter_kind {
	HF_COUNT, HF_NTH, HF_REGEX, HF_TOINT, HF_TOFLOAT, HF_TOSTRING, HF_SPLIT,
	HF_REPLACE, HF_JSONPATH, HF_URLDECODE, HF_URLENCODE, HF_B64DECODE, HF_B64ENCODE,
	HF_B64URLDECODE, HF_B64URLENCODE, HF_CHARSETDECODE, HF_DAYSAFTERNOW, HF_DAYSBEFORENOW,
	HF_FIRST, HF_DATEFORMAT, HF_HTMLESCAPE, HF_HTMLUNESCAPE, HF_LAST, HF_LOCATION,
	HF_REPLACEREGEX, HF_TODATE, HF_TOHEX, HF_URLQUERYPARAM, HF_UTF8DECODE, HF_UTF8ENCODE,
	HF_XPATH, HF_COUNT_
};

struct hurl_filter {
	int kind;
	long long n;		/* nth */
	struct hurl_str arg;	/* regex, split separator, replace old, jsonpath,
				 * xpath, date format, charset, parameter name */
	struct hurl_str arg2;	/* replace new */
	int regex_literal;
	struct jsonpath *jp;
	struct hurl_regex rx;
};

enum hurl_value_kind {
	HV_NONE, HV_NULL, HV_BOOL, HV_INT, HV_FLOAT, HV_STRING, HV_EXPR, HV_BYTES, HV_REGEX,
	HV_FILE
};

struct hurl_value {
	int kind;
	int b;
	long long i;
	double f;
	char *num_text;		/* HV_INT, HV_FLOAT: as written */
	struct hurl_str s;	/* HV_STRING; HV_EXPR: the variable name; HV_REGEX:
				 * pattern; HV_FILE: the file name */
	const char *lang;	/* HV_STRING from a ``` string: as struct hurl_body */
	struct hurl_str gvars;	/* graphql variables, as struct hurl_body */
	unsigned char *bytes;	/* HV_BYTES */
	size_t len;
	struct hurl_regex rx;	/* HV_REGEX, HV_STRING of matches: compiled when no template */
};

enum hurl_pred_kind {
	HP_EQ, HP_NE, HP_GT, HP_GE, HP_LT, HP_LE, HP_STARTS, HP_ENDS, HP_CONTAINS,
	HP_MATCHES, HP_EXISTS, HP_INCLUDES, HP_ISINT, HP_ISFLOAT, HP_ISNUMBER,
	HP_ISSTRING, HP_ISBOOL, HP_ISCOLL, HP_ISEMPTY, HP_ISDATE, HP_ISISODATE, HP_ISIPV4,
	HP_ISIPV6, HP_ISUUID, HP_ISLIST, HP_ISOBJECT, HP_COUNT_
};

struct hurl_pred {
	int kind;
	int negate;		/* "not" */
	struct hurl_value v;
};

struct hurl_assert {
	int line;
	char *text;		/* the assert as written, comment and blanks trimmed */
	struct hurl_query q;
	struct hurl_filter *filters;
	size_t nfilters;
	struct hurl_pred pred;
};

struct hurl_capture {
	int line;
	char *name;
	char *text;
	struct hurl_query q;
	struct hurl_filter *filters;
	size_t nfilters;
	int redact;		/* "redact": the value is a secret */
};

enum hurl_option_kind {
	HO_RETRY, HO_RETRY_INTERVAL, HO_DELAY, HO_LOCATION, HO_INSECURE,
	HO_VARIABLE, HO_SKIP, HO_MAX_TIME, HO_CONNECT_TIMEOUT, HO_USER, HO_DIGEST,
	HO_AWS_SIGV4, HO_COMPRESSED, HO_HTTP10, HO_HTTP11, HO_HTTP2, HO_IPV4, HO_IPV6,
	HO_MAX_REDIRS, HO_LOCATION_TRUSTED, HO_PATH_AS_IS, HO_OUTPUT, HO_HEADER, HO_COUNT_
};

struct hurl_option {
	int kind;
	int line;
	struct hurl_str value;	/* as written; HO_VARIABLE: the value part */
	char *var_name;		/* HO_VARIABLE (HO_HEADER keeps "Name: value" in value) */
	long long num;		/* parsed when value has no template: count,
				 * milliseconds or 0/1 */
};

struct hurl_request {
	int line;
	char *method;
	struct hurl_str url;
	char *url_text;		/* the URL as written, for test names */
	struct hurl_kv *headers, *query, *form, *multipart, *cookies;
	size_t nheaders, nquery, nform, nmultipart, ncookies;
	struct hurl_kv *basic_auth;	/* NULL, or user (key) and password (value) */
	struct hurl_option *options;
	size_t noptions;
	struct hurl_body body;
};

struct hurl_response {
	int present;
	int line;
	int version;		/* 0: "HTTP" (any), 10, 11, 20, 30; -1: HTTP/ and a star */
	int status;		/* -1: "*" */
	struct hurl_kv *headers;
	size_t nheaders;
	struct hurl_capture *captures;
	size_t ncaptures;
	struct hurl_assert *asserts;
	size_t nasserts;
	struct hurl_body body;
};

/* A {{variable}} used by an entry: in the request (phase 0) or in the
 * response, where the entry's own captures are known (phase 1). */
struct hurl_ref {
	char *name;
	int line;
	int phase;
};

struct hurl_entry {
	char *name;		/* from a "# name: ..." comment, or NULL */
	struct hurl_request req;
	struct hurl_response resp;
	struct hurl_ref *refs;
	size_t nrefs;
};

struct hurl_file {
	char *path;		/* as given */
	char *dir;		/* its directory, for file bodies */
	struct hurl_entry *entries;
	size_t nentries;
};

/* Parse len bytes of text named name (a path: its directory anchors file
 * bodies).  Returns 0, or -1 with e set; f is then empty but must still
 * be freed. */
int hurl_parse(const char *text, size_t len, const char *name, struct hurl_file *f,
    struct err *e);
/* Read path (at most HURL_MAX_BYTES) and parse it (EX_USAGE_ for parse
 * errors, EX_IOERR_ for an unreadable file). */
int hurl_load(const char *path, struct hurl_file *f, struct err *e);
void hurl_file_free(struct hurl_file *f);

/*
 * Find the next well-formed {{name}} in s: a pointer to its "{{", with
 * *end set after its "}}" and name filled with the trimmed name (cut to
 * namesz - 1 bytes); NULL when there is none.
 */
const char *hurl_next_template(const char *s, char *name, size_t namesz, const char **end);

/*
 * Hurl's built-in functions, written as templates: HURL_FN_RUN for those
 * the runner gives a fresh value at each use (newUuid, newDate),
 * HURL_FN_REFUSED for the others, which are refused by name; 0 for any
 * other name.  A variable of the same name given by the user wins.
 */
enum { HURL_FN_NONE, HURL_FN_RUN, HURL_FN_REFUSED };
int hurl_function(const char *name);

/* Check and parse an option's value as hurl_parse() does (for values the
 * runner rendered): a count, milliseconds, or 0/1.  -1 with why set. */
int hurl_option_value(int kind, const char *s, long long *num, const char **why);

/* Compile a pattern (see struct hurl_regex); -1 with why filled on error. */
int hurl_regex_compile(struct hurl_regex *rx, const char *pattern, char *why, size_t whysz);
void hurl_regex_free(struct hurl_regex *rx);

/* Names for messages. */
const char *hurl_query_name(int kind);
const char *hurl_filter_name(int kind);
const char *hurl_pred_name(int kind);
const char *hurl_option_name(int kind);

#endif
