/*
 * tap.h: a tiny TAP producer for the C unit tests, run by prove.
 *
 *   ok(cond, "name %d", i);   is_str(got, want, "name");   is_int(...);
 *   done_testing();           (prints the plan, returns the exit status)
 */
#ifndef CI_TAP_H
#define CI_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static int __attribute__((format(printf, 2, 3), unused))
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		tap_failed++;
	fflush(stdout);
	return cond;
}

#define is_str(got, want, ...) do { \
	const char *g_ = (got), *w_ = (want); \
	if (!ok(g_ && w_ ? strcmp(g_, w_) == 0 : g_ == w_, __VA_ARGS__)) \
		printf("#   got:  '%s'\n#   want: '%s'\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
} while (0)

#define is_int(got, want, ...) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (!ok(g_ == w_, __VA_ARGS__)) \
		printf("#   got:  %lld\n#   want: %lld\n", g_, w_); \
} while (0)

/* Substring check, for messages. */
#define like(got, needle, ...) do { \
	const char *g_ = (got), *n_ = (needle); \
	if (!ok(g_ && strstr(g_, n_) != NULL, __VA_ARGS__)) \
		printf("#   got:  '%s'\n#   want it to contain: '%s'\n", g_ ? g_ : "(null)", n_); \
} while (0)

static int __attribute__((unused))
done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
