/*
 * Unit tests for lib/image/crc32.c: gzip's CRC-32, folded where the CPU
 * can and left to zlib where it cannot, against zlib's crc32() as the
 * witness: every length to 1,200 bytes at every alignment to 16, from
 * many starting CRCs, and 8 MiB in pieces of odd sizes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "image/crc32.h"
#include "tap.h"

static unsigned char *
input(size_t n)
{
	unsigned char *p = malloc(n);
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)((i * 2654435761u) >> 11 ^ i >> 9);
	return p;
}

static void
test_against_zlib(const char *how)
{
	size_t big = 8u << 20, off, n, bad = 0, cases = 0, done;
	unsigned char *p = input(big + 64);
	uint32_t crc, want;

	for (off = 0; off <= 16; off++)
		for (n = 0; n <= 1200; n++) {
			uint32_t seed = (uint32_t)(n * 2246822519u + off);

			cases++;
			if (crc32_update(seed, p + off, n) != (uint32_t)crc32(seed, p + off,
			    (unsigned)n))
				bad++;
		}
	ok(bad == 0, "%s: %zu lengths and alignments equal zlib's crc32 (%zu differ)", how,
	    cases, bad);
	/* 8 MiB in pieces of 1 to 99,991 bytes, carried from one to the next. */
	crc = 0;
	for (done = 0, n = 1; done < big; done += n, n = (n * 7919 + 13) % 99991 + 1) {
		if (n > big - done)
			n = big - done;
		crc = crc32_update(crc, p + done, n);
	}
	want = (uint32_t)crc32(0, p, (unsigned)big);
	ok(crc == want, "%s: 8 MiB in pieces: %08x, zlib %08x", how, (unsigned)crc,
	    (unsigned)want);
	ok(crc32_update(0x12345678u, NULL, 0) == 0x12345678u && crc32_update(0, "", 0) == 0,
	    "%s: nothing leaves the CRC as it was", how);
	ok(crc32_update(0, "123456789", 9) == 0xcbf43926u, "%s: the check value of "
	    "\"123456789\" (CRC-32/ISO-HDLC)", how);
	free(p);
}

int
main(void)
{
	int fold = crc32_accel(-1);

	test_against_zlib(fold ? "folded" : "zlib's (no PCLMULQDQ)");
	if (fold) {
		ok(crc32_accel(0) == 0, "folding off");
		test_against_zlib("not folded");
		ok(crc32_accel(1) == 1, "folding back on");
	} else {
		ok(1, "# skip this CPU has no PCLMULQDQ");
	}
	return done_testing();
}
