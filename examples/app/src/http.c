/* A very small HTTP/1.x front end: enough for health checks and smoke
 * tests, not a general web server. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "greet.h"

#define LINE_MAX_ 1024
#define MAX_HEADERS 64

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
url_decode(const char *in, size_t len, char *out, size_t size)
{
	size_t i, n = 0;

	if (!in || !out || size == 0)
		return -1;
	for (i = 0; i < len; i++) {
		int c = (unsigned char)in[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -1;
			hi = hexval((unsigned char)in[i + 1]);
			lo = hexval((unsigned char)in[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		}
		/* A decoded NUL would cut the value short: refuse it. */
		if (c == 0 || n + 1 >= size)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

int
query_get(const char *query, const char *key, char *out, size_t size)
{
	size_t klen;
	const char *p, *end, *eq;

	if (!query || !key || !out || size == 0)
		return -1;
	klen = strlen(key);
	for (p = query; *p; p = *end ? end + 1 : end) {
		end = strchr(p, '&');
		if (!end)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (!eq)
			eq = end;
		if ((size_t)(eq - p) == klen && !memcmp(p, key, klen)) {
			if (eq == end) {
				out[0] = '\0';
				return 1;
			}
			return url_decode(eq + 1, (size_t)(end - eq - 1), out, size) < 0 ? -1 : 1;
		}
	}
	return 0;
}

const char *
http_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	default:
		return "Internal Server Error";
	}
}

static void
reply(struct response *r, int status, const char *text)
{
	r->status = status;
	snprintf(r->body, sizeof(r->body), "%s\n", text);
}

/* A whole number from lo to hi in a query parameter, or def when absent. */
static int
query_int(const char *query, const char *key, long lo, long hi, long def, long *v)
{
	char buf[32], *end;
	int rc = query_get(query, key, buf, sizeof(buf));

	if (rc < 0)
		return -1;
	if (rc == 0) {
		*v = def;
		return 0;
	}
	*v = strtol(buf, &end, 10);
	if (end == buf || *end || *v < lo || *v > hi)
		return -1;
	return 0;
}

static void
route_greet(const char *q, struct response *r)
{
	char name[GREET_NAME_MAX + 1], text[128];
	long hour;

	if (query_get(q, "name", name, sizeof(name)) != 1 ||
	    query_int(q, "hour", -1, 23, -1, &hour) < 0 ||
	    greeting(name, (int)hour, text, sizeof(text)) < 0) {
		reply(r, 400, "error: want name=NAME (1-64 bytes) and an optional hour=0-23");
		return;
	}
	reply(r, 200, text);
}

static void
route_slug(const char *q, struct response *r)
{
	char text[256], slug[256];

	if (query_get(q, "text", text, sizeof(text)) != 1 ||
	    slugify(text, slug, sizeof(slug)) < 0) {
		reply(r, 400, "error: want text=TEXT with at least one letter or digit");
		return;
	}
	reply(r, 200, slug);
}

static void
route_price(const char *q, struct response *r)
{
	char amount[32], text[64];
	long long unit, total;
	long qty, discount, tax;

	if (query_get(q, "amount", amount, sizeof(amount)) != 1 ||
	    price_parse(amount, &unit) < 0 ||
	    query_int(q, "qty", 0, 10000, 1, &qty) < 0 ||
	    query_int(q, "discount", 0, 100, 0, &discount) < 0 ||
	    query_int(q, "tax", 0, 100, 0, &tax) < 0 ||
	    price_total(unit, qty, (int)discount, (int)tax, &total) < 0 ||
	    price_format(total, text, sizeof(text)) < 0) {
		reply(r, 400, "error: want amount=12.34 and optional qty=N, discount=PCT, tax=PCT");
		return;
	}
	reply(r, 200, text);
}

void
http_route(const char *method, const char *target, struct response *r)
{
	char path[128];
	const char *q = strchr(target, '?');
	size_t plen = q ? (size_t)(q - target) : strlen(target);

	q = q ? q + 1 : "";
	if (plen >= sizeof(path)) {
		reply(r, 404, "not found");
		return;
	}
	memcpy(path, target, plen);
	path[plen] = '\0';
	if (strcmp(path, "/health") && strcmp(path, "/version") &&
	    strcmp(path, "/greet") && strcmp(path, "/slug") &&
	    strcmp(path, "/price")) {
		reply(r, 404, "not found");
		return;
	}
	if (strcmp(method, "GET")) {
		reply(r, 405, "method not allowed: use GET");
		return;
	}
#if defined(GREET_FAULT_AFTER) && GREET_FAULT_AFTER > 0
	/*
	 * The bug of the demo's bad release (make dist FAULT_AFTER=N, see
	 * the Makefile): past the first N greetings of a process, every
	 * other one fails.  The smoke tests greet twice and pass; production
	 * traffic does not.
	 */
	{
		static unsigned long greeted;

		if (!strcmp(path, "/greet") && ++greeted > GREET_FAULT_AFTER && greeted % 2) {
			reply(r, 500, "internal error");
			return;
		}
	}
#endif
	if (!strcmp(path, "/health"))
		reply(r, 200, "ok");
	else if (!strcmp(path, "/version"))
		reply(r, 200, GREET_VERSION);
	else if (!strcmp(path, "/greet"))
		route_greet(q, r);
	else if (!strcmp(path, "/slug"))
		route_slug(q, r);
	else
		route_price(q, r);
}

/* One line without its CRLF; -1 at EOF or when it is too long. */
static int
read_line(FILE *in, char *buf, size_t size)
{
	size_t n;

	if (!fgets(buf, (int)size, in))
		return -1;
	n = strlen(buf);
	if (n == 0 || buf[n - 1] != '\n')
		return -1;
	buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return 0;
}

int
http_handle(FILE *in, FILE *out)
{
	char line[LINE_MAX_], method[16], target[LINE_MAX_], version[16];
	struct response r;
	int i;

	memset(&r, 0, sizeof(r));
	if (read_line(in, line, sizeof(line)) < 0 ||
	    sscanf(line, "%15s %1023s %15s", method, target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) || target[0] != '/') {
		reply(&r, 400, "bad request");
	} else {
		/* Headers are read and ignored, up to the blank line. */
		for (i = 0; i < MAX_HEADERS; i++)
			if (read_line(in, line, sizeof(line)) < 0 || line[0] == '\0')
				break;
		http_route(method, target, &r);
	}
	fprintf(out, "HTTP/1.0 %d %s\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n"
	    "Connection: close\r\n"
	    "\r\n"
	    "%s", r.status, http_reason(r.status), strlen(r.body), r.body);
	return fflush(out) == EOF || ferror(out) ? -1 : 0;
}
