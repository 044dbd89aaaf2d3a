/* greet: the command-line front end of the library. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "greet.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: greet hello NAME [HOUR]\n"
	    "       greet slug TEXT...\n"
	    "       greet price AMOUNT [QTY [DISCOUNT [TAX]]]\n"
	    "       greet handle        answer one HTTP request from stdin\n"
	    "       greet serve [PORT]  answer HTTP on PORT (default $PORT or 8080)\n"
	    "       greet healthcheck [PORT]\n"
	    "                           exit 0 when 127.0.0.1:PORT/health answers 200\n"
	    "       greet version\n");
}

/* A whole number from lo to hi, or -1 with a message. */
static int
number(const char *what, const char *s, long lo, long hi, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	if (errno || end == s || *end || *v < lo || *v > hi) {
		fprintf(stderr, "greet: %s '%s': expected a number from %ld to %ld\n",
		    what, s, lo, hi);
		return -1;
	}
	return 0;
}

static int
cmd_hello(int argc, char **argv)
{
	char out[128];
	long hour = -1;

	if (argc < 1 || argc > 2) {
		usage(stderr);
		return 2;
	}
	if (argc == 2 && number("hour", argv[1], 0, 23, &hour) < 0)
		return 1;
	if (greeting(argv[0], (int)hour, out, sizeof(out)) < 0) {
		fprintf(stderr, "greet: bad name '%s': want 1 to %d printable bytes\n",
		    argv[0], GREET_NAME_MAX);
		return 1;
	}
	puts(out);
	return 0;
}

static int
cmd_slug(int argc, char **argv)
{
	char text[1024], out[1024];
	size_t n = 0, len;
	int i;

	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	/* The words joined by spaces, as a shell would have split them. */
	text[0] = '\0';
	for (i = 0; i < argc; i++) {
		len = strlen(argv[i]);
		if (n + len + 2 > sizeof(text)) {
			fprintf(stderr, "greet: text too long (at most %zu bytes)\n", sizeof(text) - 1);
			return 1;
		}
		if (i > 0)
			text[n++] = ' ';
		memcpy(text + n, argv[i], len + 1);
		n += len;
	}
	if (slugify(text, out, sizeof(out)) < 0) {
		fprintf(stderr, "greet: '%s' has no letters or digits to make a slug of\n", text);
		return 1;
	}
	puts(out);
	return 0;
}

static int
cmd_price(int argc, char **argv)
{
	char out[64];
	long long unit, total;
	long qty = 1, discount = 0, tax = 0;

	if (argc < 1 || argc > 4) {
		usage(stderr);
		return 2;
	}
	if (price_parse(argv[0], &unit) < 0) {
		fprintf(stderr, "greet: bad amount '%s': expected a price such as 12.34\n", argv[0]);
		return 1;
	}
	if ((argc > 1 && number("quantity", argv[1], 0, 10000, &qty) < 0) ||
	    (argc > 2 && number("discount", argv[2], 0, 100, &discount) < 0) ||
	    (argc > 3 && number("tax", argv[3], 0, 100, &tax) < 0))
		return 1;
	if (price_total(unit, qty, (int)discount, (int)tax, &total) < 0 ||
	    price_format(total, out, sizeof(out)) < 0) {
		fprintf(stderr, "greet: cannot price %s x %ld\n", argv[0], qty);
		return 1;
	}
	puts(out);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	int rc;

	if (!strcmp(cmd, "hello")) {
		rc = cmd_hello(argc - 2, argv + 2);
	} else if (!strcmp(cmd, "slug")) {
		rc = cmd_slug(argc - 2, argv + 2);
	} else if (!strcmp(cmd, "price")) {
		rc = cmd_price(argc - 2, argv + 2);
	} else if (!strcmp(cmd, "handle") && argc == 2) {
		rc = http_handle(stdin, stdout) < 0 ? 1 : 0;
	} else if ((!strcmp(cmd, "serve") || !strcmp(cmd, "healthcheck")) && argc <= 3) {
		/* The port: the argument, else $PORT (as platforms that run
		 * containers set it), else 8080. */
		const char *env = getenv("PORT");
		long port = 8080;

		if (argc == 3 && number("port", argv[2], 1, 65535, &port) < 0)
			return 2;
		if (argc == 2 && env && *env && number("PORT", env, 1, 65535, &port) < 0)
			return 2;
		rc = cmd[0] == 's' ? serve((int)port) : healthcheck((int)port);
	} else if (!strcmp(cmd, "version") && argc == 2) {
		puts("greet " GREET_VERSION);
		rc = 0;
	} else if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		rc = 0;
	} else {
		usage(stderr);
		return 2;
	}
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "greet: cannot write the output: %s\n", strerror(errno));
		return 1;
	}
	return rc;
}
