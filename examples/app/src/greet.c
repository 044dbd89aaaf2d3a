/* Greetings and slugs. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "greet.h"

int
greeting(const char *name, int hour, char *out, size_t size)
{
	const char *salute;
	size_t len, i;
	int n;

	if (!name || !out || size == 0)
		return -1;
	len = strlen(name);
	if (len == 0 || len > GREET_NAME_MAX)
		return -1;
	/* Names are printable text: no control bytes in a greeting. */
	for (i = 0; i < len; i++)
		if (iscntrl((unsigned char)name[i]))
			return -1;
	if (hour < -1 || hour > 23)
		return -1;
	if (hour >= 5 && hour <= 11)
		salute = "Good morning";
	else if (hour >= 12 && hour <= 17)
		salute = "Good afternoon";
	else if (hour >= 18 && hour <= 22)
		salute = "Good evening";
	else
		salute = "Hello";
	n = snprintf(out, size, "%s, %s!", salute, name);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
slugify(const char *text, char *out, size_t size)
{
	size_t n = 0;
	int dash = 0;

	if (!text || !out || size == 0)
		return -1;
	for (; *text; text++) {
		unsigned char c = (unsigned char)*text;

		if (c < 128 && isalnum(c)) {
			/* A pending dash only between two kept characters. */
			if (dash && n > 0) {
				if (n + 1 >= size)
					return -1;
				out[n++] = '-';
			}
			dash = 0;
			if (n + 1 >= size)
				return -1;
			out[n++] = (char)tolower(c);
		} else {
			dash = 1;
		}
	}
	out[n] = '\0';
	return n > 0 ? 0 : -1;
}
