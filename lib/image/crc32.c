/*
 * crc32: gzip's CRC-32, folded with PCLMULQDQ where the CPU has it.
 * See crc32.h.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "image/crc32.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_FOLD 1
#include <cpuid.h>
#include <immintrin.h>

#define FOLD_TARGET __attribute__((target("pclmul,sse4.1")))

/*
 * The constants of the paper for the bit-reflected polynomial
 * 0x104C11DB7: k1, k2 fold 512 bits ahead, k3, k4 128 bits, k5 64
 * bits; then P' and mu for the Barrett reduction to 32 bits.
 */
static const uint64_t k1k2[2] = { 0x154442bd4ULL, 0x1c6e41596ULL };
static const uint64_t k3k4[2] = { 0x1751997d0ULL, 0x0ccaa009eULL };
static const uint64_t k5[2] = { 0x163cd6124ULL, 0 };
static const uint64_t pmu[2] = { 0x1db710641ULL, 0x1f7011641ULL };

/* x folded 128 (or 512) bits forward by k, onto y. */
FOLD_TARGET static inline __m128i
fold(__m128i x, __m128i k, __m128i y)
{
	return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00),
	    _mm_clmulepi64_si128(x, k, 0x11)), y);
}

#define LOAD(p) _mm_loadu_si128((const __m128i *)(const void *)(p))

/* n >= 64, a multiple of 16; crc and the result not inverted (as the
 * register of the paper holds them). */
FOLD_TARGET static uint32_t
crc_fold(uint32_t crc, const unsigned char *p, size_t n)
{
	__m128i x1, x2, x3, x4, k, mask;

	x1 = _mm_xor_si128(LOAD(p), _mm_cvtsi32_si128((int)crc));
	x2 = LOAD(p + 16);
	x3 = LOAD(p + 32);
	x4 = LOAD(p + 48);
	p += 64;
	n -= 64;
	/* Four lanes, 64 bytes a round. */
	k = LOAD(k1k2);
	for (; n >= 64; p += 64, n -= 64) {
		x1 = fold(x1, k, LOAD(p));
		x2 = fold(x2, k, LOAD(p + 16));
		x3 = fold(x3, k, LOAD(p + 32));
		x4 = fold(x4, k, LOAD(p + 48));
	}
	/* Into one, then the 16-byte pieces left. */
	k = LOAD(k3k4);
	x1 = fold(x1, k, x2);
	x1 = fold(x1, k, x3);
	x1 = fold(x1, k, x4);
	for (; n >= 16; p += 16, n -= 16)
		x1 = fold(x1, k, LOAD(p));
	/* 128 bits to 64, then Barrett to 32. */
	mask = _mm_setr_epi32(-1, 0, -1, 0);
	x2 = _mm_clmulepi64_si128(x1, k, 0x10);
	x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2);
	x2 = _mm_srli_si128(x1, 4);
	x1 = _mm_and_si128(x1, mask);
	x1 = _mm_xor_si128(_mm_clmulepi64_si128(x1, LOAD(k5), 0x00), x2);
	k = LOAD(pmu);
	x2 = _mm_and_si128(x1, mask);
	x2 = _mm_clmulepi64_si128(x2, k, 0x10);
	x2 = _mm_and_si128(x2, mask);
	x2 = _mm_clmulepi64_si128(x2, k, 0x00);
	x1 = _mm_xor_si128(x1, x2);
	return (uint32_t)_mm_extract_epi32(x1, 1);
}

static int
fold_cpu(void)
{
	unsigned a, b, c, d;

	/* PCLMULQDQ, SSE4.1 */
	return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 1)) && (c & (1u << 19));
}
#endif

static int use_fold;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

static void
probe(void)
{
#ifdef HAVE_FOLD
	/* A CPU (or an emulator) that says it can and gets 64 bytes wrong
	 * is not used. */
	unsigned char t[64];
	int i;

	if (!fold_cpu())
		return;
	for (i = 0; i < 64; i++)
		t[i] = (unsigned char)(i * 37 + 11);
	use_fold = ~crc_fold(~0u, t, sizeof(t)) == (uint32_t)crc32(0, t, sizeof(t));
#endif
}

int
crc32_accel(int on)
{
	pthread_once(&probe_once, probe);
#ifdef HAVE_FOLD
	if (on == 0)
		use_fold = 0;
	else if (on > 0)
		use_fold = fold_cpu();
#endif
	return use_fold;
}

uint32_t
crc32_update(uint32_t crc, const void *data, size_t n)
{
	const unsigned char *p = data;

	pthread_once(&probe_once, probe);
#ifdef HAVE_FOLD
	if (use_fold && n >= 64) {
		size_t k = n & ~(size_t)15;

		crc = ~crc_fold(~crc, p, k);
		p += k;
		n -= k;
	}
#endif
	/* zlib's length is an unsigned int: a chunk at a time. */
	while (n > 0) {
		unsigned k = n > (1u << 30) ? 1u << 30 : (unsigned)n;

		crc = (uint32_t)crc32(crc, p, k);
		p += k;
		n -= k;
	}
	return crc;
}
