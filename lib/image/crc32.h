/*
 * crc32: the CRC-32 of gzip (RFC 1952), for our gzip encoder's blocks.
 *
 * zlib's crc32() computes it a few bytes at a time with tables (5.7 GB/s
 * on the machine that runs CI); on x86 CPUs with PCLMULQDQ, this folds
 * 64 bytes at a time with carry-less multiplies (Intel's "Fast CRC
 * Computation for Generic Polynomials Using PCLMULQDQ Instruction",
 * 2009), about four times as fast, and leaves what does not fill 16
 * bytes to zlib.  2% of a cold build's CPU was zlib's.
 */
#ifndef CI_CRC32_H
#define CI_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of what crc was the CRC of, followed by p[0..n): as zlib's
 * crc32(crc, p, n), and crc32_update(0, p, n) that of p alone. */
uint32_t crc32_update(uint32_t crc, const void *p, size_t n);
/* For the tests: on 0 stop folding, on 1 fold if the CPU can, on -1
 * leave it; returns 1 when folding is in use. */
int crc32_accel(int on);

#endif
