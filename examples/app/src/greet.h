/*
 * greet: a tiny greeting, slug and price service -- the example project
 * that ci-gate checks in the ci-tools tutorial.
 *
 * Every function writes into a caller's buffer and returns 0, or -1 when
 * the input is bad or the result does not fit; nothing here allocates,
 * prints or exits, so it is all easy to unit-test.
 */
#ifndef GREET_H
#define GREET_H

#include <stddef.h>
#include <stdio.h>

#ifndef GREET_VERSION
#define GREET_VERSION "1.0.0"	/* make VERSION=... overrides it */
#endif
#define GREET_NAME_MAX 64	/* bytes in a name, not counting the NUL */

/* "Good morning, Ada!" for hour 5-11, afternoon 12-17, evening 18-22,
 * "Hello, Ada!" at night (23-4) or when hour is -1 (unknown). */
int greeting(const char *name, int hour, char *out, size_t size);

/* "  Hello, World!  " -> "hello-world": ASCII letters and digits kept
 * (lowercased), every other run of bytes becomes one '-', none at the
 * ends.  -1 when nothing is left. */
int slugify(const char *text, char *out, size_t size);

/* "12", "12.5", "12.50", "$0.99" -> cents.  No signs, at most two
 * decimals, at most 1,000,000,000.00. */
int price_parse(const char *s, long long *cents);

/* 1234 -> "12.34", -5 -> "-0.05". */
int price_format(long long cents, char *out, size_t size);

/* qty * unit, less discount_pct, plus tax_pct on the discounted amount,
 * each step rounded half up to the cent.  Percentages are 0-100. */
int price_total(long long unit_cents, long qty, int discount_pct, int tax_pct,
    long long *total);

/* "%41da+Lovelace" -> "Ada Lovelace" (len bytes of in). */
int url_decode(const char *in, size_t len, char *out, size_t size);

/* The decoded value of key in a query string "a=1&b=2": 1 when found,
 * 0 when not, -1 when it is malformed or too long. */
int query_get(const char *query, const char *key, char *out, size_t size);

struct response {
	int status;		/* 200, 400, 404, 405 */
	char body[512];		/* text/plain, ends with a newline */
};

/* Route one request: GET /health, /version, /greet?name=&hour=,
 * /slug?text=, /price?amount=&qty=&discount=&tax=. */
void http_route(const char *method, const char *target, struct response *r);

/* Read one HTTP/1.x request from in and write the response to out;
 * -1 when out cannot be written. */
int http_handle(FILE *in, FILE *out);

/* "OK", "Not Found", ... */
const char *http_reason(int status);

/* serve.c (not part of the library): answer HTTP on port until SIGINT or
 * SIGTERM; returns the exit status. */
int serve(int port);

/* serve.c: GET /health from 127.0.0.1:port, the image's HEALTHCHECK (a
 * FROM scratch image has no wget or curl); 0 when it answers 200, else 1
 * with a message. */
int healthcheck(int port);

#endif
