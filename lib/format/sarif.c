/*
 * sarif: SARIF 2.1.0 and GitLab Code Quality reports.  See sarif.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <openssl/evp.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "format/sarif.h"

void
uri_encode_path(struct buf *b, const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~/", *p)) {
			buf_addc(b, *p);
		} else {
			buf_addc(b, '%');
			buf_addc(b, hex[*p >> 4]);
			buf_addc(b, hex[*p & 15]);
		}
	}
}

/* sha256 hex of "fp:k": a fingerprint made unique by its occurrence. */
static void
occurrence_fp(const char *fp, unsigned k, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;
	char *in;

	if (k == 0) {
		snprintf(out, 65, "%s", fp);
		return;
	}
	in = xasprintf("%s:%u", fp, k);
	EVP_Digest(in, strlen(in), md, &len, EVP_sha256(), NULL);
	free(in);
	for (i = 0; i < len && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * i] = '\0';
}

/* The unique fingerprint of each finding (caller frees the array). */
static char (*unique_fps(const struct report_finding *f, size_t n))[65]
{
	char (*out)[65] = xcalloc(n ? n : 1, sizeof(*out));
	size_t i, j;

	for (i = 0; i < n; i++) {
		unsigned k = 0;

		for (j = 0; j < i; j++)
			if (!strcmp(f[j].fingerprint, f[i].fingerprint))
				k++;
		occurrence_fp(f[i].fingerprint, k, out[i]);
	}
	return out;
}

static const struct report_rule *
find_rule(const struct report_rule *rules, size_t n, const char *id, size_t *index)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(rules[i].id, id)) {
			*index = i;
			return &rules[i];
		}
	return NULL;
}

static cJSON *
text_obj(const char *s)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "text", s ? s : "");
	return o;
}

/* A relative path as a URI; "./" dropped, absolute paths as file URIs. */
static char *
path_uri(const char *path, int *relative)
{
	struct buf b = BUF_INIT;

	while (path[0] == '.' && path[1] == '/')
		path += 2;
	*relative = path[0] != '/';
	if (!*relative)
		buf_adds(&b, "file://");
	uri_encode_path(&b, path);
	return buf_detach(&b, NULL);
}

char *
sarif_render(const struct report_tool *tool, const struct report_rule *rules,
    size_t nrules, const struct report_finding *f, size_t n)
{
	cJSON *root = cJSON_CreateObject(), *runs, *run, *drv, *rs, *results, *t;
	char (*fps)[65] = unique_fps(f, n);
	size_t i;
	char *text;

	cJSON_AddStringToObject(root, "$schema", SARIF_SCHEMA);
	cJSON_AddStringToObject(root, "version", "2.1.0");
	runs = cJSON_AddArrayToObject(root, "runs");
	run = cJSON_CreateObject();
	cJSON_AddItemToArray(runs, run);
	t = cJSON_AddObjectToObject(run, "tool");
	drv = cJSON_AddObjectToObject(t, "driver");
	cJSON_AddStringToObject(drv, "name", tool->name);
	if (tool->version)
		cJSON_AddStringToObject(drv, "version", tool->version);
	if (tool->uri)
		cJSON_AddStringToObject(drv, "informationUri", tool->uri);
	rs = cJSON_AddArrayToObject(drv, "rules");
	for (i = 0; i < nrules; i++) {
		cJSON *r = cJSON_CreateObject(), *dc, *pr, *tags;

		cJSON_AddStringToObject(r, "id", rules[i].id);
		if (rules[i].name)
			cJSON_AddStringToObject(r, "name", rules[i].name);
		cJSON_AddItemToObject(r, "shortDescription", text_obj(rules[i].title));
		cJSON_AddItemToObject(r, "fullDescription", text_obj(rules[i].help));
		cJSON_AddItemToObject(r, "help", text_obj(rules[i].help));
		dc = cJSON_AddObjectToObject(r, "defaultConfiguration");
		cJSON_AddStringToObject(dc, "level", "error");
		pr = cJSON_AddObjectToObject(r, "properties");
		tags = cJSON_AddArrayToObject(pr, "tags");
		cJSON_AddItemToArray(tags, cJSON_CreateString("security"));
		cJSON_AddItemToArray(tags, cJSON_CreateString("secret"));
		if (rules[i].security_severity)
			cJSON_AddStringToObject(pr, "security-severity", rules[i].security_severity);
		cJSON_AddStringToObject(pr, "precision", "high");
		cJSON_AddItemToArray(rs, r);
	}
	if (tool->srcroot) {
		cJSON *ob = cJSON_AddObjectToObject(run, "originalUriBaseIds");
		cJSON *sr = cJSON_AddObjectToObject(ob, "%SRCROOT%");
		struct buf u = BUF_INIT;
		char *s;

		buf_adds(&u, "file://");
		uri_encode_path(&u, tool->srcroot);
		if (u.len && u.data[u.len - 1] != '/')
			buf_addc(&u, '/');
		s = buf_detach(&u, NULL);
		cJSON_AddStringToObject(sr, "uri", s);
		free(s);
	}
	cJSON_AddStringToObject(run, "columnKind", "unicodeCodePoints");
	results = cJSON_AddArrayToObject(run, "results");
	for (i = 0; i < n; i++) {
		cJSON *r = cJSON_CreateObject(), *locs, *loc, *pl, *al, *reg, *pf;
		size_t idx = 0;
		const struct report_rule *rule = find_rule(rules, nrules, f[i].rule, &idx);
		int relative;
		char *uri = path_uri(f[i].path, &relative);

		cJSON_AddStringToObject(r, "ruleId", f[i].rule);
		if (rule)
			cJSON_AddNumberToObject(r, "ruleIndex", (double)idx);
		cJSON_AddStringToObject(r, "level", "error");
		cJSON_AddItemToObject(r, "message", text_obj(f[i].message));
		locs = cJSON_AddArrayToObject(r, "locations");
		loc = cJSON_CreateObject();
		cJSON_AddItemToArray(locs, loc);
		pl = cJSON_AddObjectToObject(loc, "physicalLocation");
		al = cJSON_AddObjectToObject(pl, "artifactLocation");
		cJSON_AddStringToObject(al, "uri", uri);
		if (relative && tool->srcroot)
			cJSON_AddStringToObject(al, "uriBaseId", "%SRCROOT%");
		free(uri);
		reg = cJSON_AddObjectToObject(pl, "region");
		cJSON_AddNumberToObject(reg, "startLine", (double)(f[i].line >= 1 ? f[i].line : 1));
		if (f[i].column >= 1)
			cJSON_AddNumberToObject(reg, "startColumn", (double)f[i].column);
		pf = cJSON_AddObjectToObject(r, "partialFingerprints");
		cJSON_AddStringToObject(pf, "secretFingerprint/v1", fps[i]);
		cJSON_AddItemToArray(results, r);
	}
	text = cJSON_Print(root);
	cJSON_Delete(root);
	free(fps);
	return text;
}

char *
codequality_render(const struct report_rule *rules, size_t nrules,
    const struct report_finding *f, size_t n)
{
	cJSON *root = cJSON_CreateArray();
	char (*fps)[65] = unique_fps(f, n);
	size_t i;
	char *text;

	for (i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject(), *loc, *lines, *cat;
		size_t idx;
		const struct report_rule *rule = find_rule(rules, nrules, f[i].rule, &idx);
		const char *path = f[i].path;

		while (path[0] == '.' && path[1] == '/')
			path += 2;
		cJSON_AddStringToObject(o, "type", "issue");
		cJSON_AddStringToObject(o, "description", f[i].message ? f[i].message : "");
		cJSON_AddStringToObject(o, "check_name", f[i].rule);
		cJSON_AddStringToObject(o, "fingerprint", fps[i]);
		cJSON_AddStringToObject(o, "severity", rule && rule->severity ? rule->severity : "major");
		cat = cJSON_AddArrayToObject(o, "categories");
		cJSON_AddItemToArray(cat, cJSON_CreateString("Security"));
		loc = cJSON_AddObjectToObject(o, "location");
		cJSON_AddStringToObject(loc, "path", path);
		lines = cJSON_AddObjectToObject(loc, "lines");
		cJSON_AddNumberToObject(lines, "begin", (double)(f[i].line >= 1 ? f[i].line : 1));
		cJSON_AddItemToArray(root, o);
	}
	text = cJSON_Print(root);
	cJSON_Delete(root);
	free(fps);
	return text;
}

int
report_write(const char *path, const char *text, struct err *e)
{
	struct buf b = BUF_INIT;
	int rc;

	buf_adds(&b, text);
	buf_addc(&b, '\n');
	rc = output_write(path, b.data, b.len, 0644, e);
	buf_free(&b);
	return rc;
}
