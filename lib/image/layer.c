/*
 * layer: reproducible tar layers, pigz-style parallel gzip, layer and
 * archive reading, the file-hash cache and layer cache keys.
 */
/* sync_file_range() */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "core/buf.h"
#include "image/archive-load.h"
#include "image/crc32.h"
#include "image/dockerignore.h"
#include "core/fsutil.h"
#include "image/layer.h"

#define DICT_SIZE 32768
#define READ_CHUNK (256u << 10)
#define FCACHE_MAX_BYTES (256u << 20)

/* ---- zlib ----------------------------------------------------------------
 * The few zlib functions we use, reached through one table so that the
 * compressor code reads the same whichever zlib is linked.
 */
static const struct {
	int (*deflateInit2_)(z_streamp, int, int, int, int, int, const char *, int);
	int (*deflate)(z_streamp, int);
	int (*deflateEnd)(z_streamp);
	int (*deflateReset)(z_streamp);
	int (*deflateSetDictionary)(z_streamp, const Bytef *, uInt);
	uLong (*deflateBound)(z_streamp, uLong);
	uLong (*crc32_combine)(uLong, uLong, z_off_t);
	int (*inflateInit2_)(z_streamp, int, const char *, int);
	int (*inflate)(z_streamp, int);
	int (*inflateEnd)(z_streamp);
	int (*inflateReset)(z_streamp);
} Z = {
	deflateInit2_, deflate, deflateEnd, deflateReset, deflateSetDictionary,
	deflateBound, crc32_combine, inflateInit2_, inflate, inflateEnd,
	inflateReset
};

static int
z_ready(struct err *e)
{
	(void)e;
	return 0;
}

/* ---- entries ---------------------------------------------------------- */

void
layer_entry_free(struct layer_entry *e)
{
	if (!e)
		return;
	free(e->path);
	free(e->uname);
	free(e->gname);
	free(e->link);
	free(e->src);
	memset(e, 0, sizeof(*e));
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void
layer_entry_copy(struct layer_entry *dst, const struct layer_entry *src)
{
	*dst = *src;
	dst->path = dup_or_null(src->path);
	dst->uname = dup_or_null(src->uname);
	dst->gname = dup_or_null(src->gname);
	dst->link = dup_or_null(src->link);
	dst->src = dup_or_null(src->src);
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct layer_entry *)a)->path,
	    ((const struct layer_entry *)b)->path);
}

void
layer_sort(struct layer_entry *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), entry_cmp);
}

const char *
layer_media_type(enum layer_compression c)
{
	switch (c) {
	case LAYER_GZIP:
		return MT_OCI_LAYER_GZIP;
	case LAYER_ZSTD:
		return MT_OCI_LAYER_ZSTD;
	case LAYER_NONE:
		return MT_OCI_LAYER_TAR;
	}
	return MT_OCI_LAYER_TAR;
}

/* ---- pigz-style gzip ---------------------------------------------------- */

enum job_state { J_EMPTY, J_QUEUED, J_RUNNING, J_DONE };

/* Bytes of a block that a second digest takes too (pgz_write_hashed()). */
struct pgz_mark {
	size_t off, len;
	struct sha256 *h;
};

struct pgz_marks {
	struct pgz_mark *v;
	size_t n, cap;
};

struct pgz_job {
	int state;
	unsigned long long seq;
	int last;
	unsigned char *in;	/* DICT_SIZE bytes of room before it */
	size_t inlen;
	unsigned char *dict;	/* the dictionary, just before in */
	size_t dictlen;
	unsigned char *out;
	size_t outlen, outcap;
	unsigned long crc;
	int zerr;
	int hashed;		/* its input and output are in the digests */
	struct pgz_marks marks;	/* of in, in order */
};

/* What q_deflate() allocates, kept from one block to the next. */
struct qscratch {
	uint32_t *head;		/* 1 << QHASH_BITS: gen + position + 1 */
	uint32_t gen;		/* entries not above it are from earlier blocks */
	struct qtok *tok;
	size_t tokcap;
	unsigned char *buf;	/* dict and block side by side, when they are not */
	size_t bufcap;
};

struct pgz {
	int level, threads;
	size_t block;
	layer_sink_fn sink;
	void *arg;

	unsigned char *cur;		/* the block being filled (room before, as in) */
	size_t curlen;
	struct pgz_marks marks;		/* of cur */
	unsigned char dict[DICT_SIZE];	/* the last 32 KiB before cur */
	size_t dictlen;
	unsigned long crc;
	unsigned long long total_in;
	int header_done, finished, failed;

	struct pgz_job *jobs;
	size_t cap;
	unsigned long long next_seq, next_out;

	pthread_t *tids;
	int nstarted;
	pthread_mutex_t mu;
	pthread_cond_t cv_work, cv_done;
	int quit;
	/* pgz_digest(): what goes in and what comes out, digested by the
	 * threads in block order, one block at a time. */
	struct sha256 *hin, *hout;
	unsigned long long next_hash;
	int hashing;
	z_stream inline_strm;		/* threads == 1 */
	int inline_init;
	struct qscratch inline_sc;
};

/* ---- level 1: our own quick deflate ------------------------------------
 *
 * Level 1 favours speed, as zlib-ng's deflate_quick does: LZ77 with one
 * hash probe per position (sparser in runs without a match: QSKIP),
 * matches of 4 to 258 bytes within 32 KiB (the dictionary's last QDICT
 * bytes included), coded with whichever is smallest of dynamic codes, the
 * fixed codes of RFC 1951, or a stored block.  The output depends on the
 * input alone, not on the zlib a machine has, which helps "the same
 * digest on any machine".
 */
#define QHASH_BITS 15
#define QMIN 4
#define QMAX 258
/*
 * A block's matches reach back into the last QDICT bytes before it, not
 * the whole 32 KiB deflate allows: each dictionary position indexed costs
 * a hash and a store, and indexing 32 KiB for every 128 KiB block was a
 * quarter of the LZ77 pass.  8 KiB holds most of what the block goes on
 * to repeat: on the bench's context, 0.15% more bytes for 8% less CPU.
 */
#define QDICT 8192
/*
 * After a run of positions without a match, positions are probed ever
 * further apart, as LZ4 does: one more byte of stride every 1 << QSKIP
 * misses, up to QSKIP_MAX; a match brings it back to one.  The bytes
 * between are literals all the same.  Data that does not compress (a
 * PNG, a tarball, machine code in places) is crossed in fewer probes: 5%
 * less CPU on the bench's context, for 0.1% more bytes.
 */
#define QSKIP 6
#define QSKIP_MAX 32
/*
 * QINNER: after a match, the positions 1, 2, len - 2 and len - 1 into it
 * are indexed as well (as zstd's fast levels index a match's end), so
 * that what follows can match them.  Indexing every inner position of
 * matches up to 8 bytes, as zlib's level 1 does up to 4, cost a loop
 * whose length the branch predictor could not guess: on the bench's
 * context, 13% of the CPU of a cold build for a layer 0.8% larger.
 */

/*
 * The bit writer never writes past cap: a write that would sets full, and
 * the block is then void (the caller stores it, or fails).  Bits gather in
 * a 64-bit accumulator and leave it four bytes at a time, so that a code
 * costs a shift and an or; the bytes are the same as one at a time.
 */
struct bitw {
	unsigned char *p;
	size_t n, cap;
	uint64_t acc;
	int bits;		/* in acc, below 32 between calls */
	int full;
};

/* n <= 32 bits of v (nothing above them set). */
static inline void
bw_put(struct bitw *w, uint64_t v, int n)
{
	w->acc |= v << w->bits;
	w->bits += n;
	if (w->bits >= 32) {
		if (w->cap - w->n >= 4) {
			unsigned char *o = w->p + w->n;

			o[0] = (unsigned char)w->acc;
			o[1] = (unsigned char)(w->acc >> 8);
			o[2] = (unsigned char)(w->acc >> 16);
			o[3] = (unsigned char)(w->acc >> 24);
			w->n += 4;
		} else {
			w->full = 1;
			w->n = w->cap;
		}
		w->acc >>= 32;
		w->bits -= 32;
	}
}

/* The whole bytes still in the accumulator. */
static void
bw_drain(struct bitw *w)
{
	while (w->bits >= 8) {
		if (w->n >= w->cap)
			w->full = 1;
		else
			w->p[w->n++] = (unsigned char)w->acc;
		w->acc >>= 8;
		w->bits -= 8;
	}
}

static void
bw_align(struct bitw *w)
{
	if (w->bits & 7)
		bw_put(w, 0, 8 - (w->bits & 7));
	bw_drain(w);
}

/* Whole bytes, at a byte boundary (after bw_align()). */
static void
bw_bytes(struct bitw *w, const void *p, size_t k)
{
	if (w->full || w->cap - w->n < k) {
		w->full = 1;
		return;
	}
	memcpy(w->p + w->n, p, k);
	w->n += k;
}

/* Fixed codes, already bit-reversed for LSB-first output. */
static unsigned short q_lcode[288];
static unsigned char q_llen[288];
static unsigned char q_dcode[30];
static pthread_once_t q_once = PTHREAD_ONCE_INIT;

static const unsigned short q_lbase[29] = {
	3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59,
	67, 83, 99, 115, 131, 163, 195, 227, 258
};
static const unsigned char q_lextra[29] = {
	0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4,
	5, 5, 5, 5, 0
};
static const unsigned short q_dbase[30] = {
	1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513,
	769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577
};
static const unsigned char q_dextra[30] = {
	0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10,
	11, 11, 12, 12, 13, 13
};
static unsigned char q_lsym[QMAX + 1];	/* length -> index into q_lbase */

static unsigned
rev(unsigned v, int n)
{
	unsigned r = 0;

	while (n--) {
		r = (r << 1) | (v & 1);
		v >>= 1;
	}
	return r;
}

static void
q_init(void)
{
	int i, k;

	for (i = 0; i < 288; i++) {
		int len = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
		unsigned code = i < 144 ? 0x30 + (unsigned)i : i < 256 ? 0x190 + (unsigned)(i - 144) :
		    i < 280 ? (unsigned)(i - 256) : 0xc0 + (unsigned)(i - 280);

		q_llen[i] = (unsigned char)len;
		q_lcode[i] = (unsigned short)rev(code, len);
	}
	for (i = 0; i < 30; i++)
		q_dcode[i] = (unsigned char)rev((unsigned)i, 5);
	for (k = 0, i = 3; i <= QMAX; i++) {
		while (k < 28 && i >= q_lbase[k + 1])
			k++;
		q_lsym[i] = (unsigned char)k;
	}
}

static unsigned
q_hash(const unsigned char *p)
{
	unsigned v = (unsigned)p[0] | (unsigned)p[1] << 8 | (unsigned)p[2] << 16 |
	    (unsigned)p[3] << 24;

	return (v * 2654435761u) >> (32 - QHASH_BITS);
}

/*
 * A distance's code, without a branch (the tables it replaces, with one
 * for distances up to 256 and one above, made the branch unpredictable:
 * 15% of the LZ77 pass on text): d - 1 itself under 4, else 2k and the
 * bit below the top one, with k = log2(d - 1).
 */
static int
q_dsym(unsigned d)
{
	unsigned x = d - 1, y = x < 4 ? 4 : x, k;

#if defined(__GNUC__)
	k = 31 - (unsigned)__builtin_clz(y);
#else
	for (k = 2; y >> (k + 1); k++)
		;
#endif
	return (int)(x < 4 ? x : 2 * k + ((y >> (k - 1)) & 1));
}

/* Stored blocks of at most 65535 bytes; the last one final when asked. */
static void
q_stored(struct bitw *w, const unsigned char *in, size_t n, int final)
{
	do {
		size_t k = n > 65535 ? 65535 : n;
		int last = final && k == n;

		unsigned char len[4];

		len[0] = (unsigned char)k;
		len[1] = (unsigned char)(k >> 8);
		len[2] = (unsigned char)~k;
		len[3] = (unsigned char)(~k >> 8);
		bw_put(w, (unsigned)last, 1);
		bw_put(w, 0, 2);
		bw_align(w);
		bw_bytes(w, len, 4);
		bw_bytes(w, in, k);
		in += k;
		n -= k;
	} while (n && !w->full);
}

/* One LZ77 token: a literal (len 0, val the byte) or a match, whose
 * distance's code (found for the counts) is kept above its length. */
struct qtok {
	unsigned short len;	/* length | distance code << QTOK_DS */
	unsigned short val;	/* the literal, or the distance */
};
#define QTOK_DS 9
#define QTOK_LEN ((1u << QTOK_DS) - 1)

struct qcode {
	unsigned short code[288];	/* bit-reversed */
	unsigned char len[288];
};

struct qsym {
	unsigned freq;
	unsigned short sym;
};

static int
qsym_cmp(const void *a, const void *b)
{
	const struct qsym *x = a, *y = b;

	/* Rarest first, ties by symbol: the same lengths on every machine. */
	if (x->freq != y->freq)
		return x->freq < y->freq ? -1 : 1;
	return x->sym < y->sym ? -1 : x->sym > y->sym;
}

/*
 * Length-limited Huffman code lengths for n symbols (zero frequency: no
 * code).  Plain Huffman by the two-queue method, then lengths over max are
 * folded back and the Kraft sum repaired (as miniz does), and the lengths
 * handed out shortest to the most frequent.  At least two symbols get a
 * code, so every tree is complete.
 */
static void
q_lengths(unsigned *freq, int n, int max, unsigned char *len)
{
	struct qsym sy[288];
	unsigned w[2 * 288];
	int par[2 * 288], count[33] = { 0 };
	int m = 0, i, k, leaf, node, next;
	unsigned long total = 0;

	memset(len, 0, (size_t)n);
	for (i = 0; i < n && m < 2; i++)
		if (freq[i])
			m++;
	for (i = 0; m < 2 && i < n; i++)
		if (!freq[i]) {
			freq[i] = 1;
			m++;
		}
	m = 0;
	for (i = 0; i < n; i++)
		if (freq[i]) {
			sy[m].freq = freq[i];
			sy[m].sym = (unsigned short)i;
			m++;
		}
	qsort(sy, (size_t)m, sizeof(*sy), qsym_cmp);
	/* Leaves 0..m-1 (sorted), internal nodes m.. in creation order. */
	for (i = 0; i < m; i++)
		w[i] = sy[i].freq;
	leaf = 0;
	node = m;
	next = m;
	for (k = 0; k < m - 1; k++) {
		int pick[2], t;

		for (t = 0; t < 2; t++) {
			if (leaf < m && (node >= next || w[leaf] <= w[node]))
				pick[t] = leaf++;
			else
				pick[t] = node++;
		}
		w[next] = w[pick[0]] + w[pick[1]];
		par[pick[0]] = par[pick[1]] = next;
		next++;
	}
	/* Depths: the root is next-1; walk down in reverse creation order. */
	{
		int depth[2 * 288];

		depth[next - 1] = 0;
		for (i = next - 2; i >= 0; i--)
			depth[i] = depth[par[i]] + 1;
		for (i = 0; i < m; i++)
			count[depth[i] > 32 ? 32 : depth[i]]++;
	}
	for (i = max + 1; i <= 32; i++) {
		count[max] += count[i];
		count[i] = 0;
	}
	for (i = max; i > 0; i--)
		total += (unsigned long)count[i] << (max - i);
	while (total != 1UL << max) {
		count[max]--;
		for (i = max - 1; i > 0; i--)
			if (count[i]) {
				count[i]--;
				count[i + 1] += 2;
				break;
			}
		total--;
	}
	/* The rarest symbols get the longest codes. */
	for (i = max, k = 0; i > 0; i--) {
		int c;

		for (c = 0; c < count[i]; c++)
			len[sy[k++].sym] = (unsigned char)i;
	}
}

/* Canonical codes from lengths (RFC 1951 3.2.2), reversed for output. */
static void
q_codes(const unsigned char *len, int n, unsigned short *code)
{
	int bl_count[16] = { 0 }, next_code[16], i, bits, c = 0;

	for (i = 0; i < n; i++)
		bl_count[len[i]]++;
	bl_count[0] = 0;
	for (bits = 1; bits < 16; bits++) {
		c = (c + bl_count[bits - 1]) << 1;
		next_code[bits] = c;
	}
	for (i = 0; i < n; i++)
		if (len[i])
			code[i] = (unsigned short)rev((unsigned)next_code[len[i]]++, len[i]);
}

/* Run-length code the code lengths: symbols 0-15, 16 (repeat), 17, 18. */
static int
q_rle(const unsigned char *lens, int n, unsigned char *sym, unsigned char *extra)
{
	int i = 0, k = 0;

	while (i < n) {
		int v = lens[i], r = 1;

		while (i + r < n && lens[i + r] == v)
			r++;
		i += r;
		if (v == 0) {
			while (r >= 11) {
				int t = r > 138 ? 138 : r;

				sym[k] = 18;
				extra[k++] = (unsigned char)(t - 11);
				r -= t;
			}
			if (r >= 3) {
				sym[k] = 17;
				extra[k++] = (unsigned char)(r - 3);
				r = 0;
			}
		} else {
			sym[k] = (unsigned char)v;
			extra[k++] = 0;
			r--;
			while (r >= 3) {
				int t = r > 6 ? 6 : r;

				sym[k] = 16;
				extra[k++] = (unsigned char)(t - 3);
				r -= t;
			}
		}
		while (r-- > 0) {
			sym[k] = (unsigned char)v;
			extra[k++] = 0;
		}
	}
	return k;
}

static const unsigned char q_clorder[19] = {
	16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15
};

/* Bits the tokens cost with the given codes (extra bits included). */
static unsigned long long
q_cost(const unsigned *lf, const unsigned *df, const unsigned char *ll, const unsigned char *dl)
{
	unsigned long long bits = 0;
	int i;

	for (i = 0; i < 286; i++)
		bits += (unsigned long long)lf[i] * (ll[i] + (i > 256 ? q_lextra[i - 257] : 0));
	for (i = 0; i < 30; i++)
		bits += (unsigned long long)df[i] * (dl[i] + q_dextra[i]);
	return bits;
}

/* The most bits a token costs: a length code with its extra bits, a
 * distance code with its extra bits. */
#define QTOK_MAXBITS (15 + 5 + 15 + 13)

static void
q_emit_tokens(struct bitw *w, const struct qtok *t, size_t nt, const struct qcode *lc,
    const struct qcode *dc)
{
	/* For this block's codes: each length's code with its extra bits,
	 * and how many bits in all; each distance code's bits. */
	uint32_t lbits[QMAX + 1];
	unsigned char lnum[QMAX + 1], dnum[30], dall[30];
	size_t i = 0;
	int k;

	for (k = QMIN; k <= QMAX; k++) {
		int ls = q_lsym[k], n = lc->len[257 + ls];

		lbits[k] = lc->code[257 + ls] | (uint32_t)(k - q_lbase[ls]) << n;
		lnum[k] = (unsigned char)(n + q_lextra[ls]);
	}
	for (k = 0; k < 30; k++) {
		dnum[k] = dc->len[k];
		dall[k] = (unsigned char)(dc->len[k] + q_dextra[k]);
	}
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/*
	 * A run of tokens whose worst case fits in the room left goes out
	 * with no bound checked, the accumulator leaving eight bytes at a
	 * time without a branch: the whole bytes count, the rest (under 8
	 * bits) stays.  The bytes are those bw_put() writes; near the end of
	 * the room it takes over.
	 */
	bw_drain(w);
	while (i < nt && !w->full) {
		size_t n = nt - i < 4096 ? nt - i : 4096, stop = i + n;
		unsigned char *o = w->p + w->n;
		uint64_t acc = w->acc;
		int bits = w->bits;

		if (w->cap - w->n < n * (QTOK_MAXBITS / 8) + 16)
			break;
		for (; i < stop; i++) {
			if (!t[i].len) {
				acc |= (uint64_t)lc->code[t[i].val] << bits;
				bits += lc->len[t[i].val];
			} else {
				unsigned l = t[i].len & QTOK_LEN, ds = t[i].len >> QTOK_DS;

				acc |= (uint64_t)lbits[l] << bits;
				bits += lnum[l];
				acc |= (dc->code[ds] | (uint64_t)(t[i].val - q_dbase[ds]) << dnum[ds]) <<
				    bits;
				bits += dall[ds];
			}
			memcpy(o, &acc, 8);
			o += bits >> 3;
			acc >>= bits & ~7;
			bits &= 7;
		}
		w->n = (size_t)(o - w->p);
		w->acc = acc;
		w->bits = bits;
	}
#endif
	for (; i < nt; i++) {
		if (!t[i].len) {
			bw_put(w, lc->code[t[i].val], lc->len[t[i].val]);
		} else {
			unsigned l = t[i].len & QTOK_LEN, ds = t[i].len >> QTOK_DS;

			/* Each code with its extra bits: one write each. */
			bw_put(w, lbits[l], lnum[l]);
			bw_put(w, dc->code[ds] | (uint64_t)(t[i].val - q_dbase[ds]) << dnum[ds],
			    dall[ds]);
		}
	}
	bw_put(w, lc->code[256], lc->len[256]);
}

/* The most q_deflate() writes for n bytes: stored blocks, a sync flush. */
static size_t
q_bound(size_t n)
{
	return n + 5 * (n / 65535 + 2) + 1024;
}

static void
qscratch_free(struct qscratch *sc)
{
	free(sc->head);
	free(sc->tok);
	free(sc->buf);
	memset(sc, 0, sizeof(*sc));
}

/* How many leading bytes of a and b agree, up to max. */
static inline size_t
q_match_len(const unsigned char *a, const unsigned char *b, size_t max)
{
	size_t len = 0;

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* Eight bytes at a time: the lowest set bit of the difference is
	 * the first byte that differs. */
	while (len + 8 <= max) {
		uint64_t x, y;

		memcpy(&x, a + len, 8);
		memcpy(&y, b + len, 8);
		if (x != y)
			return len + ((size_t)__builtin_ctzll(x ^ y) >> 3);
		len += 8;
	}
#endif
	while (len < max && a[len] == b[len])
		len++;
	return len;
}

/*
 * Deflate in (matches may reach back into dict, the bytes before it) as
 * one block, final when last, into out.  Returns 0 and *outlen, or -1
 * when the block does not fit in cap: nothing is written past it.  sc
 * (NULL: allocated here) keeps the tables for the next call; a dict that
 * lies just before in is used where it is.
 */
static int
q_deflate(const unsigned char *in, size_t inlen, const unsigned char *dict, size_t dictlen,
    int last, unsigned char *out, size_t cap, size_t *outlen, struct qscratch *sc)
{
	size_t pos, end, base = dictlen, n, nt = 0, miss = 0;
	unsigned lf[288] = { 0 }, df[30] = { 0 }, dyn_lf[288], dyn_df[30];
	struct qcode fl, fd, dl, dd;
	struct qscratch own;
	const unsigned char *buf;
	struct qtok *tok;
	uint32_t *head, g;
	struct bitw w;
	int i, stored_chosen;

	pthread_once(&q_once, q_init);
	if (!sc) {
		memset(&own, 0, sizeof(own));
		sc = &own;
	}
	/* Only the dictionary's last QDICT bytes are indexed (see there). */
	if (base > QDICT) {
		dict += base - QDICT;
		base = QDICT;
	}
	/* The dictionary and the block side by side, so that matches may
	 * reach back into the dictionary. */
	n = base + inlen;
	if (!base || dict + base == in) {
		buf = in - base;
	} else {
		if (sc->bufcap < n) {
			free(sc->buf);
			sc->bufcap = n;
			sc->buf = xmalloc(n);
		}
		memcpy(sc->buf, dict, base);
		if (inlen)
			memcpy(sc->buf + base, in, inlen);
		buf = sc->buf;
	}
	/* The table is not cleared for each block: a block's entries are
	 * gen + position + 1, and gen moves past them for the next, so that
	 * what an earlier block left reads as empty.  Cleared only when gen
	 * would wrap (every 30,000 blocks or so). */
	if (!sc->head) {
		sc->head = xmalloc(((size_t)1 << QHASH_BITS) * sizeof(*sc->head));
		sc->gen = UINT32_MAX;
	}
	head = sc->head;
	if (n >= (size_t)(UINT32_MAX - sc->gen)) {
		memset(head, 0, ((size_t)1 << QHASH_BITS) * sizeof(*head));
		sc->gen = 0;
	}
	g = sc->gen;
	sc->gen += (uint32_t)n + 1;
	for (pos = 0; pos + QMIN <= base; pos++)
		head[q_hash(buf + pos)] = g + (uint32_t)pos + 1;
	if (sc->tokcap < inlen + 1) {
		free(sc->tok);
		sc->tokcap = inlen + 1;
		sc->tok = xmalloc(sc->tokcap * sizeof(*sc->tok));
	}
	tok = sc->tok;

	/* Pass 1: LZ77, one probe per position (fewer where nothing
	 * matches: QSKIP). */
	end = n;
	pos = base;
	while (pos < end) {
		size_t len = 0, cand = 0;

		if (pos + QMIN <= end) {
			unsigned h = q_hash(buf + pos);

			cand = head[h] > g ? head[h] - g : 0;
			head[h] = g + (uint32_t)pos + 1;
			if (cand && pos - (cand - 1) <= DICT_SIZE) {
				size_t max = end - pos < QMAX ? end - pos : QMAX;

				len = q_match_len(buf + cand - 1, buf + pos, max);
				if (len < QMIN)
					len = 0;
			}
		}
		if (len) {
			unsigned ds = (unsigned)q_dsym((unsigned)(pos - (cand - 1)));

			tok[nt].len = (unsigned short)(len | ds << QTOK_DS);
			tok[nt].val = (unsigned short)(pos - (cand - 1));
			lf[257 + q_lsym[len]]++;
			df[ds]++;
			/* Four positions within the match are indexed too
			 * (QINNER), whatever its length: no loop, no branch. */
			if (pos + len + QMIN <= end) {
				uint32_t v = g + (uint32_t)pos + 1;

				head[q_hash(buf + pos + 1)] = v + 1;
				head[q_hash(buf + pos + 2)] = v + 2;
				head[q_hash(buf + pos + len - 2)] = v + (uint32_t)len - 2;
				head[q_hash(buf + pos + len - 1)] = v + (uint32_t)len - 1;
			}
			pos += len;
			nt++;
			miss = 0;
		} else {
			size_t step = 1 + (miss++ >> QSKIP);

			if (step > QSKIP_MAX)
				step = QSKIP_MAX;
			do {
				tok[nt].len = 0;
				tok[nt].val = buf[pos];
				lf[buf[pos]]++;
				pos++;
				nt++;
			} while (--step && pos < end);
		}
	}
	lf[256] = 1;

	/* Pass 2: the cheapest of dynamic codes, fixed codes, stored. */
	memcpy(fl.code, q_lcode, sizeof(fl.code));
	memcpy(fl.len, q_llen, sizeof(fl.len));
	for (i = 0; i < 30; i++) {
		fd.code[i] = q_dcode[i];
		fd.len[i] = 5;
	}
	memcpy(dyn_lf, lf, sizeof(lf));
	memcpy(dyn_df, df, sizeof(df));
	q_lengths(dyn_lf, 286, 15, dl.len);
	q_lengths(dyn_df, 30, 15, dd.len);
	q_codes(dl.len, 286, dl.code);
	q_codes(dd.len, 30, dd.code);
	{
		unsigned char all[286 + 30], sym[286 + 30], extra[286 + 30], cll[19];
		unsigned short clc[19];
		unsigned cf[19] = { 0 };
		int hlit = 286, hdist = 30, hclen = 19, nsym, k;
		unsigned long long dyn, fix, stored;

		while (hlit > 257 && !dl.len[hlit - 1])
			hlit--;
		while (hdist > 1 && !dd.len[hdist - 1])
			hdist--;
		memcpy(all, dl.len, (size_t)hlit);
		memcpy(all + hlit, dd.len, (size_t)hdist);
		nsym = q_rle(all, hlit + hdist, sym, extra);
		for (k = 0; k < nsym; k++)
			cf[sym[k]]++;
		q_lengths(cf, 19, 7, cll);
		q_codes(cll, 19, clc);
		while (hclen > 4 && !cll[q_clorder[hclen - 1]])
			hclen--;
		dyn = 3 + 14 + 3 * (unsigned long long)hclen + q_cost(lf, df, dl.len, dd.len);
		for (k = 0; k < nsym; k++)
			dyn += cll[sym[k]] + (sym[k] == 16 ? 2 : sym[k] == 17 ? 3 : sym[k] == 18 ? 7 : 0);
		fix = 3 + q_cost(lf, df, fl.len, fd.len);
		stored = 8ULL * (inlen + 5 * (inlen / 65535 + 1)) + 8;

		memset(&w, 0, sizeof(w));
		w.p = out;
		w.cap = cap;
		stored_chosen = stored <= dyn && stored <= fix;
		if (stored_chosen) {
			q_stored(&w, in, inlen, last);
		} else if (dyn < fix) {
			bw_put(&w, (unsigned)last, 1);
			bw_put(&w, 2, 2);
			bw_put(&w, (unsigned)(hlit - 257), 5);
			bw_put(&w, (unsigned)(hdist - 1), 5);
			bw_put(&w, (unsigned)(hclen - 4), 4);
			for (k = 0; k < hclen; k++)
				bw_put(&w, cll[q_clorder[k]], 3);
			for (k = 0; k < nsym; k++) {
				bw_put(&w, clc[sym[k]], cll[sym[k]]);
				if (sym[k] == 16)
					bw_put(&w, extra[k], 2);
				else if (sym[k] == 17)
					bw_put(&w, extra[k], 3);
				else if (sym[k] == 18)
					bw_put(&w, extra[k], 7);
			}
			q_emit_tokens(&w, tok, nt, &dl, &dd);
		} else {
			bw_put(&w, (unsigned)last, 1);
			bw_put(&w, 1, 2);
			q_emit_tokens(&w, tok, nt, &fl, &fd);
		}
		if (!last && !stored_chosen) {
			/* A sync flush, as zlib's: an empty stored block. */
			bw_put(&w, 0, 3);
			bw_align(&w);
			bw_bytes(&w, "\0\0\377\377", 4);
		}
		bw_align(&w);
		/* The costs promise that this cannot happen; if they were wrong,
		 * stored blocks still fit in q_bound(). */
		if (w.full && !stored_chosen) {
			memset(&w, 0, sizeof(w));
			w.p = out;
			w.cap = cap;
			q_stored(&w, in, inlen, last);
		}
	}
	*outlen = w.n;
	if (sc == &own)
		qscratch_free(&own);
	return w.full ? -1 : 0;
}

static int
quick_job(struct pgz_job *j, struct qscratch *sc)
{
	size_t need = q_bound(j->inlen);

	if (j->outcap < need) {
		free(j->out);
		j->outcap = need;
		j->out = xmalloc(need);
	}
	if (q_deflate(j->in, j->inlen, j->dict, j->dictlen, j->last, j->out, j->outcap,
	    &j->outlen, sc) < 0)
		return -1;
	j->crc = crc32_update(0, j->in, j->inlen);
	return 0;
}

long long
layer_deflate_quick(const void *in, size_t n, void *out, size_t cap)
{
	size_t len;

	if (q_deflate(in, n, NULL, 0, 1, out, cap, &len, NULL) < 0)
		return -1;
	return (long long)len;
}

size_t
layer_deflate_bound(size_t n)
{
	return q_bound(n);
}

static int
deflate_job(z_stream *s, struct qscratch *sc, struct pgz_job *j, int level)
{
	int rc;

	if (level == 1)
		return quick_job(j, sc);
	if (Z.deflateReset(s) != Z_OK)
		return -1;
	if (j->dictlen && Z.deflateSetDictionary(s, j->dict, (uInt)j->dictlen) != Z_OK)
		return -1;
	if (j->outcap < Z.deflateBound(s, j->inlen) + 64) {
		j->outcap = Z.deflateBound(s, j->inlen) + 64;
		free(j->out);
		j->out = xmalloc(j->outcap);
	}
	s->next_in = j->in;
	s->avail_in = (uInt)j->inlen;
	s->next_out = j->out;
	s->avail_out = (uInt)j->outcap;
	rc = Z.deflate(s, j->last ? Z_FINISH : Z_SYNC_FLUSH);
	if (j->last ? rc != Z_STREAM_END : rc != Z_OK || s->avail_in != 0 ||
	    s->avail_out == 0)
		return -1;
	j->outlen = j->outcap - s->avail_out;
	j->crc = crc32_update(0, j->in, j->inlen);
	return 0;
}

static int
strm_init(z_stream *s, int level)
{
	memset(s, 0, sizeof(*s));
	return Z.deflateInit2_(s, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY,
	    ZLIB_VERSION, (int)sizeof(z_stream)) == Z_OK ? 0 : -1;
}

/* A compressed job into the digests. */
static void
hash_job(struct pgz *z, struct pgz_job *j)
{
	if (z->hin) {
		size_t at = 0, i;

		/* The marked bytes into their own digest too, with one
		 * message schedule for both where the CPU can. */
		for (i = 0; i < j->marks.n; i++) {
			const struct pgz_mark *m = &j->marks.v[i];

			sha256_update(z->hin, j->in + at, m->off - at);
			sha256_update2(m->h, z->hin, j->in + m->off, m->len);
			at = m->off + m->len;
		}
		sha256_update(z->hin, j->in + at, j->inlen - at);
	}
	if (z->hout && !j->zerr)
		sha256_update(z->hout, j->out, j->outlen);
	j->hashed = 1;
}

/*
 * With z->mu held: digest the jobs that are compressed and next in
 * order, unless another thread is at it.  The digests are sequential, so
 * one thread hashes at a time, without the lock, while the others
 * compress.
 */
static void
hash_ready(struct pgz *z)
{
	while ((z->hin || z->hout) && !z->hashing && z->next_hash < z->next_seq) {
		struct pgz_job *j = &z->jobs[z->next_hash % z->cap];

		if (j->state != J_DONE)
			break;
		z->hashing = 1;
		pthread_mutex_unlock(&z->mu);
		hash_job(z, j);
		pthread_mutex_lock(&z->mu);
		z->next_hash++;
		z->hashing = 0;
		pthread_cond_broadcast(&z->cv_done);
	}
}

/* Done, and digested when there are digests. */
static int
job_out_ready(const struct pgz *z, const struct pgz_job *j)
{
	return j->state == J_DONE && (j->hashed || !(z->hin || z->hout));
}

void
pgz_digest(struct pgz *z, struct sha256 *in_hash, struct sha256 *out_hash)
{
	z->hin = in_hash;
	z->hout = out_hash;
}

static void *
worker(void *arg)
{
	struct pgz *z = arg;
	struct qscratch sc;
	z_stream s;
	int ok = strm_init(&s, z->level) == 0;

	memset(&sc, 0, sizeof(sc));

	pthread_mutex_lock(&z->mu);
	for (;;) {
		struct pgz_job *j = NULL;
		size_t i;

		while (!z->quit) {
			unsigned long long best = ~0ULL;

			j = NULL;
			for (i = 0; i < z->cap; i++)
				if (z->jobs[i].state == J_QUEUED && z->jobs[i].seq < best) {
					best = z->jobs[i].seq;
					j = &z->jobs[i];
				}
			if (j)
				break;
			pthread_cond_wait(&z->cv_work, &z->mu);
		}
		if (z->quit)
			break;
		j->state = J_RUNNING;
		pthread_mutex_unlock(&z->mu);
		j->zerr = !ok || deflate_job(&s, &sc, j, z->level) < 0;
		pthread_mutex_lock(&z->mu);
		j->state = J_DONE;
		hash_ready(z);
		pthread_cond_broadcast(&z->cv_done);
	}
	pthread_mutex_unlock(&z->mu);
	if (ok)
		Z.deflateEnd(&s);
	qscratch_free(&sc);
	return NULL;
}

struct pgz *
pgz_new(int level, int threads, size_t block_size, layer_sink_fn sink, void *arg,
    struct err *e)
{
	struct pgz *z;
	size_t i;

	if (z_ready(e) < 0)
		return NULL;
	if (level < 0)
		level = LAYER_GZIP_DEFAULT_LEVEL;
	if (level > 9)
		level = 9;
	if (threads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 ? (int)n : 1;
	}
	if (threads > 64)
		threads = 64;
	if (!block_size)
		block_size = LAYER_DEFAULT_BLOCK;
	if (block_size < DICT_SIZE)
		block_size = DICT_SIZE;
	z = xcalloc(1, sizeof(*z));
	z->level = level;
	z->threads = threads;
	z->block = block_size;
	z->sink = sink;
	z->arg = arg;
	z->cur = (unsigned char *)xmalloc(DICT_SIZE + block_size) + DICT_SIZE;
	z->crc = 0;	/* the CRC of nothing */
	z->cap = threads == 1 ? 1 : (size_t)threads * 4 + 2;
	z->jobs = xcalloc(z->cap, sizeof(*z->jobs));
	for (i = 0; i < z->cap; i++)
		z->jobs[i].in = (unsigned char *)xmalloc(DICT_SIZE + block_size) + DICT_SIZE;
	pthread_mutex_init(&z->mu, NULL);
	pthread_cond_init(&z->cv_work, NULL);
	pthread_cond_init(&z->cv_done, NULL);
	if (threads == 1) {
		if (strm_init(&z->inline_strm, level) < 0) {
			err_set(e, EX_INTERNAL, "cannot start zlib");
			pgz_free(z);
			return NULL;
		}
		z->inline_init = 1;
	} else {
		z->tids = xcalloc((size_t)threads, sizeof(*z->tids));
		for (i = 0; i < (size_t)threads; i++) {
			if (pthread_create(&z->tids[i], NULL, worker, z) != 0)
				break;
			z->nstarted++;
		}
		if (!z->nstarted) {
			err_set(e, EX_INTERNAL, "cannot start a compression thread");
			pgz_free(z);
			return NULL;
		}
	}
	return z;
}

static int
emit(struct pgz *z, const void *p, size_t n, struct err *e)
{
	if (z->sink(z->arg, p, n, e) < 0) {
		z->failed = 1;
		return -1;
	}
	return 0;
}

static int
write_header(struct pgz *z, struct err *e)
{
	/* mtime 0, no name, XFL 0, OS 255: nothing about this machine. */
	static const unsigned char hdr[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff };

	z->header_done = 1;
	if (z->hout)
		sha256_update(z->hout, hdr, sizeof(hdr));
	return emit(z, hdr, sizeof(hdr), e);
}

/* Hand finished jobs to the sink in order; with wait, until the oldest
 * one is out (the caller needs its slot). */
static int
drain(struct pgz *z, int wait_all, struct err *e)
{
	for (;;) {
		struct pgz_job *j;

		if (z->next_out == z->next_seq)
			return 0;
		j = &z->jobs[z->next_out % z->cap];
		if (z->tids) {
			pthread_mutex_lock(&z->mu);
			if (wait_all)
				while (!job_out_ready(z, j))
					pthread_cond_wait(&z->cv_done, &z->mu);
			if (!job_out_ready(z, j)) {
				pthread_mutex_unlock(&z->mu);
				return 0;
			}
			pthread_mutex_unlock(&z->mu);
		}
		if (j->zerr) {
			z->failed = 1;
			return err_set(e, EX_INTERNAL, "%s failed to compress a block",
			    z->level == 1 ? "the level 1 deflate encoder" : "zlib");
		}
		if (emit(z, j->out, j->outlen, e) < 0)
			return -1;
		z->crc = Z.crc32_combine(z->crc, j->crc, (z_off_t)j->inlen);
		j->state = J_EMPTY;
		z->next_out++;
		if (!wait_all)
			continue;
		if (wait_all == 1)
			return 0;
	}
}

static int
submit(struct pgz *z, int last, struct err *e)
{
	struct pgz_job *j;
	unsigned char *tmp;

	if (!z->header_done && write_header(z, e) < 0)
		return -1;
	/* The slot of this job must be free: wait for the oldest to go out. */
	if (z->next_seq - z->next_out >= z->cap && drain(z, 1, e) < 0)
		return -1;
	j = &z->jobs[z->next_seq % z->cap];
	tmp = j->in;
	j->in = z->cur;
	z->cur = tmp;
	j->inlen = z->curlen;
	/* The marks go with the bytes; the job's old (empty) array is the
	 * next block's. */
	{
		struct pgz_marks m = j->marks;

		j->marks = z->marks;
		z->marks = m;
		z->marks.n = 0;
	}
	/* The dictionary goes just before the block: the encoder reads
	 * them as one. */
	j->dict = j->in - z->dictlen;
	memcpy(j->dict, z->dict, z->dictlen);
	j->dictlen = z->dictlen;
	j->last = last;
	j->seq = z->next_seq++;
	j->zerr = 0;
	j->hashed = 0;
	/* The dictionary of the next block: the last 32 KiB so far. */
	if (j->inlen >= DICT_SIZE) {
		memcpy(z->dict, j->in + j->inlen - DICT_SIZE, DICT_SIZE);
		z->dictlen = DICT_SIZE;
	} else {
		size_t keep = DICT_SIZE - j->inlen;

		if (keep > z->dictlen)
			keep = z->dictlen;
		memmove(z->dict, z->dict + z->dictlen - keep, keep);
		memcpy(z->dict + keep, j->in, j->inlen);
		z->dictlen = keep + j->inlen;
	}
	z->curlen = 0;
	if (!z->tids) {
		j->zerr = deflate_job(&z->inline_strm, &z->inline_sc, j, z->level) < 0;
		j->state = J_DONE;
		if (z->hin || z->hout) {
			hash_job(z, j);
			z->next_hash++;
		}
		return drain(z, 0, e);
	}
	pthread_mutex_lock(&z->mu);
	j->state = J_QUEUED;
	pthread_cond_signal(&z->cv_work);
	pthread_mutex_unlock(&z->mu);
	return drain(z, 0, e);
}

void *
pgz_space(struct pgz *z, size_t *room)
{
	*room = z->block - z->curlen;
	return z->cur + z->curlen;
}

int
pgz_write(struct pgz *z, const void *p, size_t n, struct err *e)
{
	return pgz_write_hashed(z, p, n, NULL, e);
}

/* The next k bytes of the block being filled go into also too: a mark,
 * or the one before made longer. */
static void
mark(struct pgz *z, struct sha256 *also, size_t k)
{
	struct pgz_marks *m = &z->marks;
	struct pgz_mark *last = m->n ? &m->v[m->n - 1] : NULL;

	if (last && last->h == also && last->off + last->len == z->curlen) {
		last->len += k;
		return;
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 16;
		m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
	}
	m->v[m->n].off = z->curlen;
	m->v[m->n].len = k;
	m->v[m->n].h = also;
	m->n++;
}

int
pgz_write_hashed(struct pgz *z, const void *p, size_t n, struct sha256 *also,
    struct err *e)
{
	const unsigned char *s = p;

	if (z->failed || z->finished)
		return err_set(e, EX_INTERNAL, "write to a finished compressor");
	z->total_in += n;
	while (n > 0) {
		size_t room = z->block - z->curlen, k = n < room ? n : room;

		/* Bytes put there through pgz_space() are where they belong. */
		if (s != z->cur + z->curlen)
			memcpy(z->cur + z->curlen, s, k);
		if (also && z->hin)
			mark(z, also, k);
		else if (also)
			sha256_update(also, z->cur + z->curlen, k);
		z->curlen += k;
		s += k;
		n -= k;
		if (z->curlen == z->block && submit(z, 0, e) < 0)
			return -1;
	}
	return 0;
}

int
pgz_finish(struct pgz *z, struct err *e)
{
	unsigned char trailer[8];
	unsigned long long isize = z->total_in & 0xffffffffULL;
	int i;

	if (z->failed)
		return -1;
	if (submit(z, 1, e) < 0)
		return -1;
	while (z->next_out < z->next_seq)
		if (drain(z, 2, e) < 0)
			return -1;
	for (i = 0; i < 4; i++) {
		trailer[i] = (unsigned char)(z->crc >> (8 * i));
		trailer[4 + i] = (unsigned char)(isize >> (8 * i));
	}
	z->finished = 1;
	if (z->hout)
		sha256_update(z->hout, trailer, sizeof(trailer));
	return emit(z, trailer, sizeof(trailer), e);
}

void
pgz_free(struct pgz *z)
{
	size_t i;

	if (!z)
		return;
	if (z->tids) {
		pthread_mutex_lock(&z->mu);
		z->quit = 1;
		pthread_cond_broadcast(&z->cv_work);
		pthread_mutex_unlock(&z->mu);
		for (i = 0; i < (size_t)z->nstarted; i++)
			pthread_join(z->tids[i], NULL);
		free(z->tids);
	}
	if (z->inline_init)
		Z.deflateEnd(&z->inline_strm);
	for (i = 0; i < z->cap; i++) {
		if (z->jobs[i].in)
			free(z->jobs[i].in - DICT_SIZE);
		free(z->jobs[i].out);
		free(z->jobs[i].marks.v);
	}
	free(z->jobs);
	if (z->cur)
		free(z->cur - DICT_SIZE);
	free(z->marks.v);
	qscratch_free(&z->inline_sc);
	pthread_mutex_destroy(&z->mu);
	pthread_cond_destroy(&z->cv_work);
	pthread_cond_destroy(&z->cv_done);
	free(z);
}

int
gunzip_fd(int fd, layer_sink_fn sink, void *arg, struct err *e)
{
	unsigned char *in, *out;
	z_stream s;
	int rc = 0, zr = Z_OK, started = 0;

	if (z_ready(e) < 0)
		return -1;
	memset(&s, 0, sizeof(s));
	if (Z.inflateInit2_(&s, 15 + 16, ZLIB_VERSION, (int)sizeof(z_stream)) != Z_OK)
		return err_set(e, EX_INTERNAL, "cannot start zlib");
	in = xmalloc(READ_CHUNK);
	out = xmalloc(READ_CHUNK);
	for (;;) {
		ssize_t n = read(fd, in, READ_CHUNK);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = err_set(e, EX_IOERR_, "cannot read: %s", strerror(errno));
			break;
		}
		if (n == 0)
			break;
		s.next_in = in;
		s.avail_in = (uInt)n;
		while (s.avail_in > 0) {
			if (zr == Z_STREAM_END) {
				/* Another member follows. */
				Z.inflateReset(&s);
			}
			s.next_out = out;
			s.avail_out = READ_CHUNK;
			zr = Z.inflate(&s, Z_NO_FLUSH);
			started = 1;
			if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
				rc = err_set(e, EX_DOC, "not a valid gzip stream: %s",
				    s.msg ? s.msg : "inflate failed");
				goto out;
			}
			if (READ_CHUNK - s.avail_out > 0 &&
			    sink(arg, out, READ_CHUNK - s.avail_out, e) < 0) {
				rc = -1;
				goto out;
			}
			if (zr == Z_BUF_ERROR && s.avail_in == 0)
				break;
		}
	}
	if (rc == 0 && (!started || zr != Z_STREAM_END))
		rc = err_set(e, EX_DOC, "the gzip stream is truncated");
out:
	Z.inflateEnd(&s);
	free(in);
	free(out);
	return rc;
}

/* ---- writing a layer ---------------------------------------------------- */

struct wctx {
	int fd;
	const char *path;
	struct sha256 diff, blob;
	long long tar_size, blob_size;
	struct pgz *gz;
	struct archive *za;	/* zstd: libarchive raw format + filter */
	enum layer_compression comp;
	struct err *e;
	int failed;
	unsigned char *obuf;	/* output buffer for the file */
	size_t olen;
	const unsigned char *lent;	/* file content read into the compressor's block */
	struct sha256 *fileh;	/* its file's digest, taken with the tar's */
	/* gzip: each file's digest, taken by the compressor with the tar's,
	 * complete after pgz_finish() (fh_used: begun). */
	struct sha256 *fh;
	unsigned char *fh_used;
	long long written;	/* bytes in the file */
	long long queued;	/* of them, handed to the disk (writeback started) */
	/* The syncer (syncer_main()), from the first WRITEBACK_STEP on. */
	pthread_t syncer;
	int syncing;		/* it runs */
	pthread_mutex_t smu;
	pthread_cond_t scv;
	int sync_wanted, sync_quit;
	int sync_errno;		/* an fdatasync() failed so */
};

#define OBUF_SIZE (1u << 20)
/* Have the disk take what is written every so many bytes. */
#define WRITEBACK_STEP (4u << 20)

/*
 * The caller syncs the blob once it is complete (oci_blob_adopt()).  So
 * that this sync does not wait for the whole blob to reach the disk,
 * a thread of its own fdatasync()s the file every WRITEBACK_STEP while the
 * rest is being compressed: the wait for a disk (or a virtual machine's
 * host) to flush 50 MB went from 28 ms to a few after the layer.  It asks
 * for no CPU; a failure is kept and fails the layer (another descriptor's
 * fsync() would not see it).  Without the thread, sync_file_range()
 * starts the writeback, and promises nothing.
 */
static void *
syncer_main(void *arg)
{
	struct wctx *w = arg;

	pthread_mutex_lock(&w->smu);
	for (;;) {
		while (!w->sync_wanted && !w->sync_quit)
			pthread_cond_wait(&w->scv, &w->smu);
		if (w->sync_quit)
			break;
		w->sync_wanted = 0;
		pthread_mutex_unlock(&w->smu);
		if (fdatasync(w->fd) != 0 && errno != EINVAL && errno != EROFS &&
		    !w->sync_errno)
			w->sync_errno = errno;
		pthread_mutex_lock(&w->smu);
	}
	pthread_mutex_unlock(&w->smu);
	return NULL;
}

/* Ask the syncer for a sync, starting it the first time. */
static void
syncer_kick(struct wctx *w)
{
	if (!w->syncing) {
		pthread_mutex_init(&w->smu, NULL);
		pthread_cond_init(&w->scv, NULL);
		if (pthread_create(&w->syncer, NULL, syncer_main, w) != 0) {
			pthread_mutex_destroy(&w->smu);
			pthread_cond_destroy(&w->scv);
#ifdef SYNC_FILE_RANGE_WRITE
			(void)sync_file_range(w->fd, (off_t)w->queued,
			    (off_t)(w->written - w->queued), SYNC_FILE_RANGE_WRITE);
#endif
			return;
		}
		w->syncing = 1;
	}
	pthread_mutex_lock(&w->smu);
	w->sync_wanted = 1;
	pthread_cond_signal(&w->scv);
	pthread_mutex_unlock(&w->smu);
}

/* End the syncer (before the file is closed); 0, or its errno. */
static int
syncer_stop(struct wctx *w)
{
	if (!w->syncing)
		return 0;
	pthread_mutex_lock(&w->smu);
	w->sync_quit = 1;
	pthread_cond_signal(&w->scv);
	pthread_mutex_unlock(&w->smu);
	pthread_join(w->syncer, NULL);
	pthread_mutex_destroy(&w->smu);
	pthread_cond_destroy(&w->scv);
	w->syncing = 0;
	return w->sync_errno;
}

/* p[0..n) to the file. */
static int
file_put(struct wctx *w, const void *p, size_t n, struct err *e)
{
	size_t off = 0;

	while (off < n) {
		ssize_t k = write(w->fd, (const char *)p + off, n - off);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return err_set(e, EX_IOERR_, "cannot write '%s': %s", w->path,
			    strerror(errno));
		}
		off += (size_t)k;
	}
	w->written += (long long)n;
	if (w->written - w->queued >= (long long)WRITEBACK_STEP) {
		syncer_kick(w);
		w->queued = w->written;
	}
	return 0;
}

static int
file_flush(struct wctx *w, struct err *e)
{
	if (w->olen && file_put(w, w->obuf, w->olen, e) < 0)
		return -1;
	w->olen = 0;
	return 0;
}

/* Compressed bytes: digest and write. */
static int
blob_sink(void *arg, const void *p, size_t n, struct err *e)
{
	struct wctx *w = arg;

	if (!w->gz)	/* else the compressor digests it */
		sha256_update(&w->blob, p, n);
	w->blob_size += (long long)n;
	if (n >= OBUF_SIZE)
		return file_flush(w, e) < 0 ? -1 : file_put(w, p, n, e);
	if (w->olen + n > OBUF_SIZE && file_flush(w, e) < 0)
		return -1;
	memcpy(w->obuf + w->olen, p, n);
	w->olen += n;
	return 0;
}

static la_ssize_t
zstd_out_cb(struct archive *a, void *client, const void *buf, size_t n)
{
	struct wctx *w = client;

	(void)a;
	/* A failure is recorded, not returned: libarchive in its fatal state
	 * leaks its writer on free (3.6), and the callers check w->failed. */
	if (!w->failed && blob_sink(w, buf, n, w->e) < 0)
		w->failed = 1;
	return (la_ssize_t)n;
}

/* Tar bytes from libarchive: diff_id, then the compressor. */
static la_ssize_t
tar_out_cb(struct archive *a, void *client, const void *buf, size_t n)
{
	struct wctx *w = client;

	(void)a;
	if (w->failed)
		return (la_ssize_t)n;	/* recorded, as zstd_out_cb() */
	w->tar_size += (long long)n;
	switch (w->comp) {
	case LAYER_GZIP:
		/* Content read into the block (write_content()) must come
		 * back as it went, with nothing in between: other bytes
		 * would land on it. */
		if (w->lent && buf != w->lent) {
			err_set(w->e, EX_INTERNAL, "libarchive wrote other bytes within a "
			    "file's content");
			w->failed = 1;
			break;
		}
		if (w->lent)
			w->lent += n;
		/* The compressor digests the tar, and a file's content into
		 * the file's digest with it: the content starts at a
		 * 512-byte boundary of the tar, so both digests are at the
		 * same place of a block and share the work. */
		if (pgz_write_hashed(w->gz, buf, n, w->lent ? w->fileh : NULL, w->e) < 0)
			w->failed = 1;
		break;
	case LAYER_ZSTD:
		sha256_update(&w->diff, buf, n);
		if (archive_write_data(w->za, buf, n) < 0) {
			if (!w->failed)
				err_set(w->e, EX_INTERNAL, "zstd: %s", archive_error_string(w->za));
			w->failed = 1;
		}
		break;
	case LAYER_NONE:
		sha256_update(&w->diff, buf, n);
		if (blob_sink(w, buf, n, w->e) < 0)
			w->failed = 1;
		break;
	}
	return (la_ssize_t)n;
}

static int
zstd_start(struct wctx *w, int level, struct err *e)
{
	struct archive_entry *ae;
	char opt[64];

	w->za = archive_write_new();
	if (archive_write_add_filter_zstd(w->za) != ARCHIVE_OK ||
	    archive_write_set_format_raw(w->za) != ARCHIVE_OK)
		return err_set(e, EX_INTERNAL, "zstd is not available: %s",
		    archive_error_string(w->za));
	snprintf(opt, sizeof(opt), "zstd:compression-level=%d",
	    level < 0 ? LAYER_ZSTD_DEFAULT_LEVEL : level);
	if (archive_write_set_options(w->za, opt) != ARCHIVE_OK)
		return err_set(e, EX_USAGE_, "zstd level %d: %s", level,
		    archive_error_string(w->za));
	archive_write_set_bytes_per_block(w->za, 0);
	if (archive_write_open2(w->za, w, NULL, zstd_out_cb, NULL, NULL) != ARCHIVE_OK)
		return err_set(e, EX_INTERNAL, "zstd: %s", archive_error_string(w->za));
	ae = archive_entry_new();
	archive_entry_set_pathname(ae, "layer.tar");
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0644);
	if (archive_write_header(w->za, ae) != ARCHIVE_OK) {
		archive_entry_free(ae);
		return err_set(e, EX_INTERNAL, "zstd: %s", archive_error_string(w->za));
	}
	archive_entry_free(ae);
	return 0;
}

static int
set_entry(struct archive_entry *ae, const struct layer_entry *le)
{
	char *name;

	/* Directories end with '/', as Docker writes them. */
	name = le->type == LE_DIR ? xasprintf("%s/", le->path) : xstrdup(le->path);
	archive_entry_copy_pathname(ae, name);
	free(name);
	switch (le->type) {
	case LE_FILE:
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_size(ae, le->size);
		break;
	case LE_HARDLINK:
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_copy_hardlink(ae, le->link);
		archive_entry_set_size(ae, 0);
		break;
	case LE_DIR:
		archive_entry_set_filetype(ae, AE_IFDIR);
		break;
	case LE_SYMLINK:
		archive_entry_set_filetype(ae, AE_IFLNK);
		archive_entry_copy_symlink(ae, le->link);
		break;
	case LE_CHAR:
	case LE_BLOCK:
		archive_entry_set_filetype(ae, le->type == LE_CHAR ? AE_IFCHR : AE_IFBLK);
		archive_entry_set_rdevmajor(ae, le->devmajor);
		archive_entry_set_rdevminor(ae, le->devminor);
		break;
	case LE_FIFO:
		archive_entry_set_filetype(ae, AE_IFIFO);
		break;
	}
	archive_entry_set_perm(ae, le->mode & 07777);
	archive_entry_set_uid(ae, le->uid);
	archive_entry_set_gid(ae, le->gid);
	if (le->uname)
		archive_entry_copy_uname(ae, le->uname);
	if (le->gname)
		archive_entry_copy_gname(ae, le->gname);
	archive_entry_set_mtime(ae, (time_t)le->mtime, 0);
	return 0;
}

/* Files from this size on are read with read-ahead asked for. */
#define SEQUENTIAL_MIN (1u << 20)

/*
 * le's content into the tar (a), and into fh when it is not NULL: at once
 * without gzip, on the compression threads with it (tar_out_cb()).
 */
static int
write_content(struct archive *a, struct layer_entry *le, struct sha256 *fh,
    unsigned char *buf, struct wctx *w, struct err *e)
{
	long long done = 0;
	int fd;

	fd = open(le->src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, EX_IOERR_, "cannot open '%s': %s", le->src, strerror(errno));
#ifdef POSIX_FADV_SEQUENTIAL
	/* Only where it can matter: a syscall per small file is not free. */
	if (le->size >= (long long)SEQUENTIAL_MIN)
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
	for (;;) {
		unsigned char *p = buf;
		size_t want = READ_CHUNK, room;
		ssize_t n;

		/* Straight into the compressor's block: no copy after the
		 * kernel's. */
		if (w->gz) {
			p = pgz_space(w->gz, &room);
			if (room < want)
				want = room;
		}
		/* One byte more than the size says: a file that grew shows. */
		if ((unsigned long long)want > (unsigned long long)(le->size - done) + 1)
			want = (size_t)(le->size - done) + 1;
		n = read(fd, p, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err_set(e, EX_IOERR_, "cannot read '%s': %s", le->src, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		if (done + n > le->size) {
			err_set(e, EX_IOERR_, "'%s' changed while it was read (it grew)", le->src);
			goto fail;
		}
		if (fh && !w->gz)
			sha256_update(fh, p, (size_t)n);
		w->lent = w->gz ? p : NULL;
		w->fileh = w->gz ? fh : NULL;
		if (archive_write_data(a, p, (size_t)n) != n || w->failed) {
			w->lent = NULL;
			w->fileh = NULL;
			if (!w->failed)
				err_set(e, EX_IOERR_, "cannot write the layer: %s",
				    archive_error_string(a));
			goto fail;
		}
		/* All of it, at once: none kept back for later. */
		if (w->gz && w->lent != p + n) {
			w->lent = NULL;
			w->fileh = NULL;
			err_set(e, EX_INTERNAL, "libarchive kept back part of '%s'", le->src);
			goto fail;
		}
		w->lent = NULL;
		w->fileh = NULL;
		done += n;
		/* A regular file reads short only at its end: no read for
		 * the 0 that would follow. */
		if ((size_t)n < want && done == le->size)
			break;
	}
	if (done != le->size) {
		err_set(e, EX_IOERR_, "'%s' changed while it was read (it shrank)", le->src);
		goto fail;
	}
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

int
layer_write(struct layer_entry *v, size_t n, const struct layer_opts *o,
    const char *path, struct layer_result *r, struct err *e)
{
	struct wctx w;
	struct archive *a = NULL;
	struct archive_entry *ae = NULL;
	unsigned char *buf = NULL;
	char junk[OCI_DIGEST_SIZE];
	size_t i;
	int rc = -1, saved;

	memset(r, 0, sizeof(*r));
	if (archive_load(e) < 0)
		return -1;
	memset(&w, 0, sizeof(w));
	w.path = path;
	w.comp = o->compression;
	w.e = e;
	w.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w.fd < 0)
		return err_set(e, EX_IOERR_, "cannot create '%s': %s", path, strerror(errno));
	w.obuf = xmalloc(OBUF_SIZE);
	sha256_init(&w.diff);
	sha256_init(&w.blob);
	if (w.comp == LAYER_GZIP) {
		w.gz = pgz_new(o->level, o->threads, o->block_size, blob_sink, &w, e);
		if (!w.gz)
			goto out;
		/* The digests on the compression threads, each file's with
		 * the tar's (tar_out_cb()): this one reads. */
		pgz_digest(w.gz, &w.diff, &w.blob);
		w.fh = xmalloc(n * sizeof(*w.fh) + 1);
		w.fh_used = xcalloc(n + 1, 1);
	} else if (w.comp == LAYER_ZSTD && zstd_start(&w, o->level, e) < 0) {
		goto out;
	}

	a = archive_write_new();
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK) {
		err_set(e, EX_INTERNAL, "libarchive: %s", archive_error_string(a));
		goto out;
	}
	/* No blocking: the tar ends after its two zero blocks, as Go's does. */
	archive_write_set_bytes_per_block(a, 0);
	if (archive_write_open2(a, &w, NULL, tar_out_cb, NULL, NULL) != ARCHIVE_OK) {
		err_set(e, EX_INTERNAL, "libarchive: %s", archive_error_string(a));
		goto out;
	}
	/* gzip reads into the compressor's blocks (write_content()). */
	if (!w.gz)
		buf = xmalloc(READ_CHUNK);
	ae = archive_entry_new();
	for (i = 0; i < n; i++) {
		struct layer_entry *le = &v[i];
		int ar;

		if (o->stop && *o->stop) {
			err_set(e, EX_TEMP, "interrupted");
			goto out;
		}
		archive_entry_clear(ae);
		set_entry(ae, le);
		ar = archive_write_header(a, ae);
		if (ar < ARCHIVE_WARN || w.failed) {
			if (!w.failed)
				err_set(e, EX_IOERR_, "cannot add '%s' to the layer: %s", le->path,
				    archive_error_string(a));
			goto out;
		}
		if (le->type == LE_FILE && le->size > 0) {
			struct sha256 one, *fh = NULL;
			int rc1;

			if (!le->digest[0]) {
				fh = w.gz ? &w.fh[i] : &one;
				sha256_init(fh);
				if (w.gz)
					w.fh_used[i] = 1;
			}
			rc1 = write_content(a, le, fh, buf, &w, e);
			if (fh && !w.gz) {
				if (rc1 == 0)
					sha256_final(fh, le->digest);
				else
					sha256_final(fh, junk);
			}
			if (rc1 < 0)
				goto out;
		}
		if (le->type == LE_FILE && le->size == 0 && !le->digest[0])
			sha256_digest("", 0, le->digest);
	}
	if (archive_write_close(a) != ARCHIVE_OK || w.failed) {
		if (!w.failed)
			err_set(e, EX_IOERR_, "cannot finish the layer: %s", archive_error_string(a));
		goto out;
	}
	if (w.comp == LAYER_GZIP && pgz_finish(w.gz, e) < 0)
		goto out;
	if (w.comp == LAYER_ZSTD && (archive_write_close(w.za) != ARCHIVE_OK || w.failed)) {
		if (!w.failed)
			err_set(e, EX_INTERNAL, "zstd: %s", archive_error_string(w.za));
		goto out;
	}
	if (file_flush(&w, e) < 0)
		goto out;
	if ((saved = syncer_stop(&w)) != 0) {
		err_set(e, EX_IOERR_, "cannot write '%s': %s", path, strerror(saved));
		goto out;
	}
	if (close(w.fd) != 0) {
		w.fd = -1;
		err_set(e, EX_IOERR_, "cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	w.fd = -1;
	rc = 0;
out:
	if (ae)
		archive_entry_free(ae);
	if (a)
		archive_write_free(a);
	if (w.za)
		archive_write_free(w.za);
	pgz_free(w.gz);
	/* The compressor is done with the files' digests. */
	for (i = 0; w.fh_used && i < n; i++)
		if (w.fh_used[i])
			sha256_final(&w.fh[i], rc == 0 ? v[i].digest : junk);
	free(w.fh);
	free(w.fh_used);
	free(buf);
	free(w.obuf);
	sha256_final(&w.diff, r->diff_id);
	sha256_final(&w.blob, r->digest);
	if (rc == 0) {
		if (w.comp == LAYER_NONE)
			memcpy(r->digest, r->diff_id, OCI_DIGEST_SIZE);
		r->size = w.blob_size;
		r->tar_size = w.tar_size;
		r->media_type = layer_media_type(w.comp);
	} else {
		syncer_stop(&w);
		if (w.fd >= 0)
			close(w.fd);
		unlink(path);
		memset(r, 0, sizeof(*r));
	}
	return rc;
}

/* ---- reading ------------------------------------------------------------- */

struct layer_reader {
	struct archive *a;
	char *name;
	char *path, *link;
};

int
layer_reader_open(struct layer_reader **rp, const char *path, int probe, struct err *e)
{
	struct layer_reader *r;
	struct stat st;

	*rp = NULL;
	if (stat(path, &st) != 0)
		return err_set(e, EX_IOERR_, "cannot read '%s': %s", path, strerror(errno));
	if (probe && st.st_size == 0)
		return 0;
	if (archive_load(e) < 0)
		return -1;
	r = xcalloc(1, sizeof(*r));
	r->name = xstrdup(path);
	r->a = archive_read_new();
	archive_read_support_format_tar(r->a);
	archive_read_support_filter_gzip(r->a);
	archive_read_support_filter_bzip2(r->a);
	archive_read_support_filter_xz(r->a);
	archive_read_support_filter_zstd(r->a);
	if (archive_read_open_filename(r->a, path, READ_CHUNK) != ARCHIVE_OK) {
		if (probe) {
			layer_reader_close(r);
			return 0;
		}
		err_set(e, EX_DOC, "cannot read '%s' as a tar: %s", path,
		    archive_error_string(r->a));
		layer_reader_close(r);
		return -1;
	}
	if (probe) {
		/* Look at the first header: a tar, or a plain file? */
		struct archive_entry *ae;
		int ar = archive_read_next_header(r->a, &ae);

		archive_read_free(r->a);
		if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN) {
			r->a = NULL;
			layer_reader_close(r);
			return 0;
		}
		r->a = archive_read_new();
		archive_read_support_format_tar(r->a);
		archive_read_support_filter_gzip(r->a);
		archive_read_support_filter_bzip2(r->a);
		archive_read_support_filter_xz(r->a);
		archive_read_support_filter_zstd(r->a);
		if (archive_read_open_filename(r->a, path, READ_CHUNK) != ARCHIVE_OK) {
			err_set(e, EX_DOC, "cannot read '%s': %s", path, archive_error_string(r->a));
			layer_reader_close(r);
			return -1;
		}
	}
	*rp = r;
	return 1;
}

/* "./a//b/" -> "a/b"; "" or "." -> "."; NULL when it climbs out. */
static char *
clean_member(const char *p)
{
	char *c;

	while (*p == '/')
		p++;
	c = path_clean(*p ? p : ".");
	if (!strcmp(c, "..") || !strncmp(c, "../", 3)) {
		free(c);
		return NULL;
	}
	return c;
}

int
layer_reader_next(struct layer_reader *r, struct layer_entry *ent, struct err *e)
{
	struct archive_entry *ae;
	const char *p, *hl, *sl;
	int ar;

	free(r->path);
	free(r->link);
	r->path = r->link = NULL;
	memset(ent, 0, sizeof(*ent));
	ar = archive_read_next_header(r->a, &ae);
	if (ar == ARCHIVE_EOF)
		return 0;
	if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN)
		return err_set(e, EX_DOC, "cannot read '%s': %s", r->name,
		    archive_error_string(r->a));
	p = archive_entry_pathname(ae);
	if (!p)
		return err_set(e, EX_DOC, "'%s': an entry has no name", r->name);
	r->path = clean_member(p);
	if (!r->path)
		return err_set(e, EX_DOC, "'%s': entry '%s' points outside the root", r->name, p);
	ent->path = r->path;
	ent->mode = (unsigned)archive_entry_perm(ae) & 07777;
	ent->uid = (long long)archive_entry_uid(ae);
	ent->gid = (long long)archive_entry_gid(ae);
	ent->mtime = (long long)archive_entry_mtime(ae);
	ent->size = (long long)archive_entry_size(ae);
	hl = archive_entry_hardlink(ae);
	sl = archive_entry_symlink(ae);
	if (hl) {
		r->link = clean_member(hl);
		if (!r->link)
			return err_set(e, EX_DOC, "'%s': hard link '%s' points outside the root",
			    r->name, hl);
		ent->type = LE_HARDLINK;
		ent->link = r->link;
		ent->size = 0;
		return 1;
	}
	switch (archive_entry_filetype(ae)) {
	case AE_IFDIR:
		ent->type = LE_DIR;
		ent->size = 0;
		break;
	case AE_IFLNK:
		ent->type = LE_SYMLINK;
		r->link = xstrdup(sl ? sl : "");
		ent->link = r->link;
		ent->size = 0;
		break;
	case AE_IFCHR:
	case AE_IFBLK:
		ent->type = archive_entry_filetype(ae) == AE_IFCHR ? LE_CHAR : LE_BLOCK;
		ent->devmajor = (unsigned)archive_entry_rdevmajor(ae);
		ent->devminor = (unsigned)archive_entry_rdevminor(ae);
		ent->size = 0;
		break;
	case AE_IFIFO:
		ent->type = LE_FIFO;
		ent->size = 0;
		break;
	default:
		ent->type = LE_FILE;
		break;
	}
	return 1;
}

int
layer_reader_copy(struct layer_reader *r, int fd, char digest[OCI_DIGEST_SIZE], struct err *e)
{
	unsigned char *buf = xmalloc(READ_CHUNK);
	struct sha256 h;
	int rc = 0;

	sha256_init(&h);
	for (;;) {
		la_ssize_t n = archive_read_data(r->a, buf, READ_CHUNK);
		size_t off = 0;

		if (n < 0) {
			rc = err_set(e, EX_DOC, "cannot read '%s' from '%s': %s",
			    r->path ? r->path : "?", r->name, archive_error_string(r->a));
			break;
		}
		if (n == 0)
			break;
		sha256_update(&h, buf, (size_t)n);
		while (off < (size_t)n) {
			ssize_t k = write(fd, buf + off, (size_t)n - off);

			if (k < 0) {
				if (errno == EINTR)
					continue;
				rc = err_set(e, EX_IOERR_, "cannot write: %s", strerror(errno));
				goto out;
			}
			off += (size_t)k;
		}
	}
out:
	sha256_final(&h, digest);
	free(buf);
	return rc;
}

void
layer_reader_close(struct layer_reader *r)
{
	if (!r)
		return;
	if (r->a)
		archive_read_free(r->a);
	free(r->name);
	free(r->path);
	free(r->link);
	free(r);
}

/* ---- the file-hash cache --------------------------------------------------- */

struct fc_ent {
	char *path;
	unsigned long long dev, ino;
	long long size, mtime_s, mtime_ns, ctime_s, ctime_ns;
	unsigned mode;
	char digest[OCI_DIGEST_SIZE];
	int used;
	struct fc_ent *next;
};

struct layer_fcache {
	char *file;
	struct fc_ent **tab;
	size_t nbuckets, n;
	int dirty;
};

static size_t
hash_str(const char *s)
{
	size_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct fc_ent *
fc_find(struct layer_fcache *c, const char *path)
{
	struct fc_ent *x;

	for (x = c->tab[hash_str(path) % c->nbuckets]; x; x = x->next)
		if (!strcmp(x->path, path))
			return x;
	return NULL;
}

static struct fc_ent *
fc_insert(struct layer_fcache *c, const char *path)
{
	struct fc_ent *x = fc_find(c, path);
	size_t b;

	if (x)
		return x;
	if (c->n >= c->nbuckets * 2) {
		size_t nb = c->nbuckets * 4, i;
		struct fc_ent **t = xcalloc(nb, sizeof(*t));

		for (i = 0; i < c->nbuckets; i++) {
			struct fc_ent *y = c->tab[i], *nx;

			for (; y; y = nx) {
				nx = y->next;
				b = hash_str(y->path) % nb;
				y->next = t[b];
				t[b] = y;
			}
		}
		free(c->tab);
		c->tab = t;
		c->nbuckets = nb;
	}
	x = xcalloc(1, sizeof(*x));
	x->path = xstrdup(path);
	b = hash_str(path) % c->nbuckets;
	x->next = c->tab[b];
	c->tab[b] = x;
	c->n++;
	return x;
}

struct layer_fcache *
layer_fcache_load(const char *path)
{
	struct layer_fcache *c = xcalloc(1, sizeof(*c));
	struct err e = { 0, "" };
	char *text, *p, *nl;
	size_t len;

	c->file = xstrdup(path);
	c->nbuckets = 1024;
	c->tab = xcalloc(c->nbuckets, sizeof(*c->tab));
	if (!path_exists(path))
		return c;
	text = read_file(path, FCACHE_MAX_BYTES, &len, &e);
	if (!text)
		return c;
	if (strncmp(text, "ci-build-fcache 1\n", 18) != 0) {
		free(text);
		return c;
	}
	for (p = text + 18; *p; p = nl + 1) {
		unsigned long long dev, ino;
		long long size, ms, mns, cs, cns;
		unsigned mode;
		char hex[65];
		int off = 0;

		nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = '\0';
		if (sscanf(p, "%llu %llu %lld %lld %lld %lld %lld %o %64s %n", &dev, &ino, &size,
		    &ms, &mns, &cs, &cns, &mode, hex, &off) == 9 && off > 0 && p[off] &&
		    strlen(hex) == 64) {
			struct fc_ent *x = fc_insert(c, p + off);

			x->dev = dev;
			x->ino = ino;
			x->size = size;
			x->mtime_s = ms;
			x->mtime_ns = mns;
			x->ctime_s = cs;
			x->ctime_ns = cns;
			x->mode = mode;
			snprintf(x->digest, sizeof(x->digest), "sha256:%s", hex);
		}
	}
	free(text);
	return c;
}

static int
fc_same(const struct fc_ent *x, const struct stat *st)
{
	return x->dev == (unsigned long long)st->st_dev &&
	    x->ino == (unsigned long long)st->st_ino &&
	    x->size == (long long)st->st_size &&
	    x->mtime_s == (long long)st->st_mtim.tv_sec &&
	    x->mtime_ns == (long long)st->st_mtim.tv_nsec &&
	    x->ctime_s == (long long)st->st_ctim.tv_sec &&
	    x->ctime_ns == (long long)st->st_ctim.tv_nsec &&
	    x->mode == (unsigned)st->st_mode;
}

const char *
layer_fcache_get(struct layer_fcache *c, const char *path, const struct stat *st)
{
	struct fc_ent *x;

	if (!c)
		return NULL;
	x = fc_find(c, path);
	if (!x || !x->digest[0] || !fc_same(x, st))
		return NULL;
	x->used = 1;
	return x->digest;
}

int
layer_stat_recent(const struct stat *st)
{
	struct timespec ts;
	long long now, m, ct, window;

	/* A file changed just now could change again within the same
	 * timestamp: do not trust its stat data yet (git's racy-clean rule).
	 * The window is 100 ms with nanosecond times, 2 s when the file
	 * system seems to keep whole seconds only. */
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	m = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
	ct = (long long)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;
	window = st->st_mtim.tv_nsec == 0 && st->st_ctim.tv_nsec == 0 ? 2000000000LL :
	    100000000LL;
	return m >= now - window || ct >= now - window;
}

void
layer_fcache_put(struct layer_fcache *c, const char *path, const struct stat *st,
    const char *digest)
{
	struct fc_ent *x;

	if (!c || strchr(path, '\n') || layer_stat_recent(st))
		return;
	x = fc_insert(c, path);
	if (fc_same(x, st) && !strcmp(x->digest, digest)) {
		x->used = 1;
		return;
	}
	x->dev = (unsigned long long)st->st_dev;
	x->ino = (unsigned long long)st->st_ino;
	x->size = (long long)st->st_size;
	x->mtime_s = (long long)st->st_mtim.tv_sec;
	x->mtime_ns = (long long)st->st_mtim.tv_nsec;
	x->ctime_s = (long long)st->st_ctim.tv_sec;
	x->ctime_ns = (long long)st->st_ctim.tv_nsec;
	x->mode = (unsigned)st->st_mode;
	snprintf(x->digest, sizeof(x->digest), "%s", digest);
	x->used = 1;
	c->dirty = 1;
}

int
layer_fcache_save(struct layer_fcache *c, const char *root, struct err *e)
{
	struct buf b = BUF_INIT;
	size_t i, rl = root ? strlen(root) : 0;
	int rc;

	if (!c || !c->dirty)
		return 0;
	buf_init(&b, FCACHE_MAX_BYTES);
	buf_adds(&b, "ci-build-fcache 1\n");
	for (i = 0; i < c->nbuckets; i++) {
		const struct fc_ent *x;

		for (x = c->tab[i]; x; x = x->next) {
			if (!x->used && root && !strncmp(x->path, root, rl) &&
			    (x->path[rl] == '/' || !x->path[rl]))
				continue;
			if (strlen(x->digest) != 71)
				continue;
			buf_addf(&b, "%llu %llu %lld %lld %lld %lld %lld %o %s %s\n", x->dev,
			    x->ino, x->size, x->mtime_s, x->mtime_ns, x->ctime_s, x->ctime_ns,
			    x->mode, x->digest + 7, x->path);
		}
	}
	if (b.failed) {
		buf_free(&b);
		return 0;	/* too big to keep: next run just hashes again */
	}
	rc = atomic_write(c->file, b.data, b.len, 0644, e);
	buf_free(&b);
	return rc;
}

void
layer_fcache_free(struct layer_fcache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nbuckets; i++) {
		struct fc_ent *x = c->tab[i], *nx;

		for (; x; x = nx) {
			nx = x->next;
			free(x->path);
			free(x);
		}
	}
	free(c->tab);
	free(c->file);
	free(c);
}

/* ---- cache keys --------------------------------------------------------- */

static void
key_str(struct sha256 *h, const char *s)
{
	/* Length-prefixed, so no choice of names can collide. */
	char n[24];
	size_t len = s ? strlen(s) : 0;

	snprintf(n, sizeof(n), "%zu:", len);
	sha256_update(h, n, strlen(n));
	if (len)
		sha256_update(h, s, len);
}

/* The line of the compression settings both keys start with. */
static void
key_settings(struct sha256 *h, const char *what, const struct layer_opts *o)
{
	char line[256];
	int level = o->level;

	/* The default level is a level: name it, so that both keys agree. */
	if (level < 0)
		level = o->compression == LAYER_GZIP ? LAYER_GZIP_DEFAULT_LEVEL :
		    o->compression == LAYER_ZSTD ? LAYER_ZSTD_DEFAULT_LEVEL : 0;
	if (o->compression == LAYER_NONE)
		level = 0;
	snprintf(line, sizeof(line), "ci-build %s %d %d %d %zu\n", what, LAYER_ENCODER_REV,
	    (int)o->compression,
	    level, o->compression == LAYER_GZIP ? (o->block_size ? o->block_size :
	    LAYER_DEFAULT_BLOCK) : 0);
	sha256_update(h, line, strlen(line));
}

/* What both keys say of an entry, but its content. */
static void
key_entry(struct sha256 *h, const struct layer_entry *le)
{
	char line[256];

	snprintf(line, sizeof(line), "%d %o %lld %lld %lld %lld %u %u ", (int)le->type,
	    le->mode, le->uid, le->gid, le->mtime, le->size, le->devmajor, le->devminor);
	sha256_update(h, line, strlen(line));
	key_str(h, le->path);
	key_str(h, le->uname);
	key_str(h, le->gname);
	key_str(h, le->link);
}

void
layer_cache_key(const struct layer_entry *v, size_t n, const struct layer_opts *o,
    char key[OCI_DIGEST_SIZE])
{
	struct sha256 h;
	size_t i;

	sha256_init(&h);
	key_settings(&h, "layer", o);
	for (i = 0; i < n; i++) {
		const struct layer_entry *le = &v[i];

		key_entry(&h, le);
		key_str(&h, le->type == LE_FILE ? le->digest : "");
		sha256_update(&h, "\n", 1);
	}
	sha256_final(&h, key);
}

int
layer_stat_key(const struct layer_entry *v, size_t n, const struct stat *const *st,
    const struct layer_opts *o, char key[OCI_DIGEST_SIZE])
{
	struct sha256 h;
	char line[256];
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].type == LE_FILE && !v[i].digest[0] && (!st[i] || !v[i].src))
			return -1;
	sha256_init(&h);
	key_settings(&h, "stat", o);
	for (i = 0; i < n; i++) {
		const struct layer_entry *le = &v[i];

		key_entry(&h, le);
		if (le->type == LE_FILE && le->digest[0]) {
			key_str(&h, le->digest);
		} else if (le->type == LE_FILE) {
			/* Where the content is and every stat field that a
			 * write to it changes (ctime even when mtime is put
			 * back). */
			const struct stat *t = st[i];

			key_str(&h, le->src);
			snprintf(line, sizeof(line), "%llu %llu %lld %lld %ld %lld %ld %o",
			    (unsigned long long)t->st_dev, (unsigned long long)t->st_ino,
			    (long long)t->st_size, (long long)t->st_mtim.tv_sec,
			    (long)t->st_mtim.tv_nsec, (long long)t->st_ctim.tv_sec,
			    (long)t->st_ctim.tv_nsec, (unsigned)t->st_mode);
			key_str(&h, line);
		}
		sha256_update(&h, "\n", 1);
	}
	sha256_final(&h, key);
	return 0;
}

