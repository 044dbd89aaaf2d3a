/*
 * size: byte counts as users write them and as we print them.
 *
 * Written: an integer or decimal number, an optional unit K, M, G or T
 * (either case, binary multiples: 1K = 1024), optionally followed by "i",
 * "iB" or "B": "4096", "512k", "1.5M", "8MiB", "2GB".  The result must be
 * a whole number of bytes no larger than 2^50.  One syntax for every flag
 * and spec field that takes a size (--chunk-size, max_file_size, ...).
 */
#ifndef CI_SIZE_H
#define CI_SIZE_H

#include <stddef.h>

/* Parse s into *out; -1 on anything else (nothing is stored). */
int parse_size(const char *s, long long *out);

/* "512 bytes", "1.5 KiB", "12.0 MiB", "120 MiB", "1.20 GiB". */
void format_size(long long n, char *out, size_t outsz);

#endif
