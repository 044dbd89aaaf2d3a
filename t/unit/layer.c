/* Unit tests of lib/layer: parallel gzip, layer blobs, reading, caches. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/crypto-load.h"
#include "core/fsutil.h"
#include "image/layer.h"
#include "tap.h"

static char dir[256];

struct mem {
	unsigned char *p;
	size_t n, cap;
};

static int
mem_sink(void *arg, const void *p, size_t n, struct err *e)
{
	struct mem *m = arg;

	(void)e;
	if (m->n + n > m->cap) {
		m->cap = (m->n + n) * 2;
		m->p = xrealloc(m->p, m->cap);
	}
	memcpy(m->p + m->n, p, n);
	m->n += n;
	return 0;
}

/* Compress in with pgz, writing in pieces of step bytes. */
static struct mem
gz(const unsigned char *in, size_t n, int level, int threads, size_t block, size_t step)
{
	struct mem m = { NULL, 0, 0 };
	struct err e = { 0, "" };
	struct pgz *z = pgz_new(level, threads, block, mem_sink, &m, &e);
	size_t off;

	for (off = 0; off < n; off += step)
		pgz_write(z, in + off, n - off < step ? n - off : step, &e);
	if (pgz_finish(z, &e) < 0)
		ok(0, "pgz_finish: %s", e.msg);
	pgz_free(z);
	return m;
}

static struct mem
gunzip_mem(const struct mem *in)
{
	struct mem out = { NULL, 0, 0 };
	struct err e = { 0, "" };
	char *path = xasprintf("%s/gz", dir);
	int fd;

	atomic_write(path, in->p, in->n, 0644, &e);
	fd = open(path, O_RDONLY);
	if (gunzip_fd(fd, mem_sink, &out, &e) < 0)
		ok(0, "gunzip: %s", e.msg);
	close(fd);
	free(path);
	return out;
}

static char *
write_file(const char *name, const void *p, size_t n)
{
	char *path = xasprintf("%s/%s", dir, name);
	struct err e = { 0, "" };

	atomic_write(path, p, n, 0644, &e);
	return path;
}

static void
entry(struct layer_entry *le, const char *path, enum layer_type t, unsigned mode,
    const char *src, const char *link)
{
	struct stat st;

	memset(le, 0, sizeof(*le));
	le->path = xstrdup(path);
	le->type = t;
	le->mode = mode;
	le->mtime = 1700000000;
	if (src) {
		le->src = xstrdup(src);
		stat(src, &st);
		le->size = st.st_size;
	}
	if (link)
		le->link = xstrdup(link);
}

/*
 * Level 1 is our own encoder: every shape of input must inflate back
 * through zlib, for any block size, thread count and write size.
 */
static void
test_quick_roundtrip(void)
{
	static const size_t sizes[] = { 0, 1, 3, 4, 5, 257, 258, 259, 32767, 32768, 32769,
	    65535, 65536, 65537, 131071, 131072, 131073, 300001 };
	unsigned x = 777;
	int kind, bad = 0, cases = 0;
	size_t si, i;

	for (kind = 0; kind < 6; kind++)
		for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
			size_t n = sizes[si];
			unsigned char *in = xmalloc(n + 1);
			struct mem g, u;

			for (i = 0; i < n; i++) {
				x = x * 1103515245 + 12345;
				switch (kind) {
				case 0: in[i] = 0; break;				/* long runs */
				case 1: in[i] = (unsigned char)(x >> 16); break;	/* noise */
				case 2: in[i] = (unsigned char)"ab \n"[(x >> 16) % 4]; break;
				case 3: in[i] = (unsigned char)(i % 251); break;	/* period 251 */
				case 4: in[i] = i % 40000 < 20000 ? (unsigned char)(x >> 16) :
				    in[i - 20000]; break;	/* repeats far back */
				default: in[i] = (x >> 16) % 64 ? (unsigned char)"the quick brown fox "[i % 20] :
				    (unsigned char)(x >> 8); break;	/* text with noise */
				}
			}
			g = gz(in, n, 1, 1 + (int)(si % 3), si % 2 ? 32768 : 0, 1 + n / 3);
			u = gunzip_mem(&g);
			cases++;
			if (u.n != n || (n && memcmp(u.p, in, n))) {
				bad++;
				printf("# kind %d size %zu: %zu bytes back\n", kind, n, u.n);
			}
			free(u.p);
			free(g.p);
			free(in);
		}
	ok(bad == 0, "level 1 (our encoder) inflates back through zlib in %d shapes and sizes", cases);

	/* Fibonacci frequencies make a Huffman tree deeper than deflate's 15
	 * bits: the lengths must be limited and the code still complete. */
	{
		size_t fib[27], total = 0, k, at = 0;
		unsigned char *in;
		struct mem g, u;

		fib[0] = fib[1] = 1;
		for (k = 2; k < 27; k++)
			fib[k] = fib[k - 1] + fib[k - 2];
		for (k = 0; k < 27; k++)
			total += fib[k];
		in = xmalloc(total);
		for (k = 0; k < 27; k++) {
			size_t c;

			for (c = 0; c < fib[k]; c++)
				in[at++] = (unsigned char)(k * 9 + 1);
		}
		/* Shuffle, so that LZ77 finds little and literals dominate. */
		for (k = total - 1; k > 0; k--) {
			size_t r;
			unsigned char t;

			x = x * 1103515245 + 12345;
			r = ((size_t)x << 8 ^ (x >> 8)) % (k + 1);
			t = in[k];
			in[k] = in[r];
			in[r] = t;
		}
		g = gz(in, total, 1, 2, 1u << 20, total);
		u = gunzip_mem(&g);
		ok(u.n == total && !memcmp(u.p, in, total),
		    "skewed (Fibonacci) symbol counts inflate back: lengths limited to 15 bits");
		free(u.p);
		free(g.p);
		free(in);
	}
}

/* Raw-inflate n bytes of deflate; the inflated length, or -1. */
static long long
inflate_raw(const unsigned char *p, size_t n, unsigned char *out, size_t cap)
{
	z_stream s;
	int rc;

	memset(&s, 0, sizeof(s));
	if (inflateInit2(&s, -15) != Z_OK)
		return -1;
	s.next_in = (unsigned char *)p;
	s.avail_in = (uInt)n;
	s.next_out = out;
	s.avail_out = (uInt)cap;
	rc = inflate(&s, Z_FINISH);
	inflateEnd(&s);
	return rc == Z_STREAM_END ? (long long)(cap - s.avail_out) : -1;
}

#define GUARD 256

/* Encode into a buffer of cap bytes followed by a guard: 1 when the guard
 * is untouched. */
static int
quick_into(const unsigned char *in, size_t n, size_t cap, long long *len,
    unsigned char **outp)
{
	unsigned char *out = xmalloc(cap + GUARD);
	size_t i;
	int intact = 1;

	memset(out, 0xa5, cap + GUARD);
	*len = layer_deflate_quick(in, n, out, cap);
	for (i = cap; i < cap + GUARD; i++)
		if (out[i] != 0xa5)
			intact = 0;
	*outp = out;
	return intact;
}

/*
 * The bit writer is bounded: a block never goes past the buffer it is
 * given, whatever the input; too small a buffer is a clean -1.
 */
static void
test_quick_bounded(void)
{
	size_t n = (1u << 20) + 12345, i, tight;
	unsigned char *noise = xmalloc(n), *text = xmalloc(n), *out, *back = xmalloc(n + 1);
	unsigned x = 4242;
	long long len, blen;
	int intact;

	for (i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		noise[i] = (unsigned char)(x >> 16);
		text[i] = (x >> 16) % 64 ? (unsigned char)"the quick brown fox "[i % 20] :
		    (unsigned char)(x >> 8);
	}
	/* Incompressible and large: stored blocks, within the bound. */
	intact = quick_into(noise, n, layer_deflate_bound(n), &len, &out);
	blen = len > 0 ? inflate_raw(out, (size_t)len, back, n + 1) : -1;
	ok(intact && len > 0 && (size_t)len <= layer_deflate_bound(n) && blen == (long long)n &&
	    !memcmp(back, noise, n), "1 MiB of noise: %lld bytes, within the bound, inflates back",
	    len);
	free(out);
	tight = len > 0 ? (size_t)len : 0;
	/* The exact size fits; one byte less does not, and nothing spills. */
	intact = quick_into(noise, n, tight, &len, &out);
	ok(intact && len == (long long)tight, "noise into exactly its size: fits");
	free(out);
	intact = quick_into(noise, n, tight - 1, &len, &out);
	ok(intact && len == -1, "noise into one byte less: -1, nothing written past the end");
	free(out);
	intact = quick_into(noise, n, n / 2, &len, &out);
	ok(intact && len == -1, "noise into half its size: -1, nothing written past the end");
	free(out);
	/* Compressible: Huffman-coded blocks stop at the end too. */
	intact = quick_into(text, n, 16, &len, &out);
	ok(intact && len == -1, "text into 16 bytes: -1, nothing written past the end");
	free(out);
	intact = quick_into(text, n, layer_deflate_bound(n), &len, &out);
	tight = len > 0 ? (size_t)len : 0;
	ok(intact && len > 0 && (size_t)len < n / 2, "text compresses (%lld bytes)", len);
	free(out);
	intact = quick_into(text, n, tight - 1, &len, &out);
	ok(intact && len == -1, "text into one byte less than it needs: -1, nothing spills");
	free(out);
	intact = quick_into(text, 0, 0, &len, &out);
	ok(intact && len == -1, "even an empty block needs a byte or two: -1 for no room");
	free(out);
	free(noise);
	free(text);
	free(back);
}

/*
 * pgz_digest(): the compression threads digest the input and the whole
 * gzip stream in order; the digests are those of the bytes, whatever the
 * thread count and the block size.
 */
static void
test_pgz_digest(const unsigned char *in, size_t n)
{
	static const int threads[] = { 1, 2, 5 };
	char want_in[OCI_DIGEST_SIZE], want_out[OCI_DIGEST_SIZE];
	char got_in[OCI_DIGEST_SIZE], got_out[OCI_DIGEST_SIZE];
	size_t t;
	int bad = 0;

	sha256_digest(in, n, want_in);
	for (t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
		struct mem m = { NULL, 0, 0 };
		struct err e = { 0, "" };
		struct sha256 hi, ho;
		struct pgz *z = pgz_new(1, threads[t], t == 2 ? 32768 : 0, mem_sink, &m, &e);
		size_t off;

		sha256_init(&hi);
		sha256_init(&ho);
		pgz_digest(z, &hi, &ho);
		for (off = 0; off < n; off += 3000)
			pgz_write(z, in + off, n - off < 3000 ? n - off : 3000, &e);
		if (pgz_finish(z, &e) < 0)
			bad++;
		pgz_free(z);
		sha256_final(&hi, got_in);
		sha256_final(&ho, got_out);
		sha256_digest(m.p, m.n, want_out);
		if (strcmp(got_in, want_in) || strcmp(got_out, want_out)) {
			bad++;
			printf("# %d threads: in %s, out %s\n", threads[t], got_in, got_out);
		}
		free(m.p);
	}
	ok(!bad, "pgz_digest: the digests of the input and of the gzip stream, "
	    "with 1, 2 and 5 threads");
}

/*
 * pgz_write_hashed(): the bytes of three "files" (of 1, 70,000 and
 * 300,001 bytes, across block ends), written in pieces of odd sizes
 * between bytes of no file, go into their own digests as well as the
 * input's, with 1, 2 and 5 threads, blocks of 128 and 32 KiB.
 */
static void
test_pgz_write_hashed(const unsigned char *in, size_t n)
{
	static const int threads[] = { 1, 2, 5 };
	static const size_t fstart[3] = { 512, 1024, 72192 }, flen[3] = { 1, 70000, 300001 };
	char want[3][OCI_DIGEST_SIZE], got[OCI_DIGEST_SIZE], want_in[OCI_DIGEST_SIZE];
	size_t t, f;
	int bad = 0;

	for (f = 0; f < 3; f++)
		sha256_digest(in + fstart[f], flen[f], want[f]);
	sha256_digest(in, n, want_in);
	for (t = 0; t < 2 * sizeof(threads) / sizeof(threads[0]); t++) {
		struct mem m = { NULL, 0, 0 };
		struct err e = { 0, "" };
		struct sha256 hi, ho, hf[3];
		struct pgz *z = pgz_new(1, threads[t % 3], t < 3 ? 0 : 32768, mem_sink, &m, &e);
		size_t off = 0, k;

		sha256_init(&hi);
		sha256_init(&ho);
		for (f = 0; f < 3; f++)
			sha256_init(&hf[f]);
		pgz_digest(z, &hi, &ho);
		while (off < n) {
			struct sha256 *also = NULL;
			size_t end = n;

			/* up to the next edge of a file, in pieces of 7,777 */
			for (f = 0; f < 3; f++) {
				if (off >= fstart[f] && off < fstart[f] + flen[f]) {
					also = &hf[f];
					end = fstart[f] + flen[f];
				} else if (off < fstart[f] && fstart[f] < end) {
					end = fstart[f];
				}
			}
			k = end - off < 7777 ? end - off : 7777;
			if (pgz_write_hashed(z, in + off, k, also, &e) < 0)
				bad++;
			off += k;
		}
		if (pgz_finish(z, &e) < 0)
			bad++;
		pgz_free(z);
		sha256_final(&hi, got);
		if (strcmp(got, want_in))
			bad++;
		sha256_final(&ho, got);
		for (f = 0; f < 3; f++) {
			sha256_final(&hf[f], got);
			if (strcmp(got, want[f])) {
				bad++;
				printf("# %d threads: file %zu %s\n", threads[t % 3], f, got);
			}
		}
		free(m.p);
	}
	ok(!bad, "pgz_write_hashed: each file's digest and the input's, with 1, 2 and 5 "
	    "threads, blocks of 128 and 32 KiB");

	/* Without an input digest, also still gets its bytes (at once). */
	{
		struct mem m = { NULL, 0, 0 };
		struct err e = { 0, "" };
		struct sha256 h;
		char d[OCI_DIGEST_SIZE];
		struct pgz *z = pgz_new(1, 2, 0, mem_sink, &m, &e);

		sha256_init(&h);
		bad = pgz_write(z, in, fstart[1], &e) < 0 ||
		    pgz_write_hashed(z, in + fstart[1], flen[1], &h, &e) < 0 ||
		    pgz_finish(z, &e) < 0;
		pgz_free(z);
		sha256_final(&h, d);
		free(m.p);
		ok(!bad && !strcmp(d, want[1]), "pgz_write_hashed without pgz_digest(): also "
		    "is the digest of its bytes");
	}
}

/*
 * pgz_space(): bytes put straight into the block and handed back are the
 * same stream as bytes copied in, pieces of odd sizes across block ends.
 */
static void
test_pgz_space(const unsigned char *in, size_t n, const struct mem *want)
{
	struct mem m = { NULL, 0, 0 };
	struct err e = { 0, "" };
	struct pgz *z = pgz_new(1, 2, 0, mem_sink, &m, &e);
	size_t off = 0, step = 1;
	int bad = 0;

	while (off < n) {
		size_t room, k;
		unsigned char *p = pgz_space(z, &room);

		k = step < room ? step : room;
		if (k > n - off)
			k = n - off;
		if (!room)
			bad++;
		memcpy(p, in + off, k);
		if (pgz_write(z, p, k, &e) < 0)
			bad++;
		off += k;
		step = step * 3 + 7;
		if (step > 100000)
			step = 1;
	}
	if (pgz_finish(z, &e) < 0)
		bad++;
	pgz_free(z);
	ok(!bad && m.n == want->n && !memcmp(m.p, want->p, m.n),
	    "pgz_space: reading into the block gives the same stream as copying");
	free(m.p);
}

int
main(void)
{
	static unsigned char data[700000];
	struct mem a, b, c, d, u;
	struct err e = { 0, "" };
	size_t i;
	unsigned x = 12345;
	struct err ce = { 0, "" };

	/* The digests need libcrypto (core/crypto-load.h). */
	if (crypto_load(&ce) < 0) {
		printf("Bail out! %s\n", ce.msg);
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/layerXXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	test_quick_roundtrip();
	test_quick_bounded();
	/* Half text, half noise: both kinds of block. */
	for (i = 0; i < sizeof(data); i++) {
		x = x * 1103515245 + 12345;
		data[i] = i < sizeof(data) / 2 ? (unsigned char)("abcdefgh \n"[(x >> 16) % 10]) :
		    (unsigned char)(x >> 16);
	}

	test_pgz_digest(data, sizeof(data));
	test_pgz_write_hashed(data, sizeof(data));
	/* The same bytes whatever the thread count and write sizes. */
	a = gz(data, sizeof(data), 1, 1, 0, sizeof(data));
	b = gz(data, sizeof(data), 1, 2, 0, 1000);
	c = gz(data, sizeof(data), 1, 7, 0, 65536);
	test_pgz_space(data, sizeof(data), &a);
	ok(a.n == b.n && !memcmp(a.p, b.p, a.n), "gzip: 1 and 2 threads give the same bytes");
	ok(a.n == c.n && !memcmp(a.p, c.p, a.n), "gzip: 1 and 7 threads give the same bytes");
	ok(a.n > 10 && a.p[0] == 0x1f && a.p[1] == 0x8b && a.p[2] == 8 && a.p[3] == 0,
	    "gzip header: magic, deflate, no flags (no name)");
	ok(!memcmp(a.p + 4, "\0\0\0\0", 4), "... mtime 0");
	ok(a.p[8] == 0 && a.p[9] == 0xff, "... XFL 0, OS 255");
	u = gunzip_mem(&a);
	ok(u.n == sizeof(data) && !memcmp(u.p, data, u.n), "it inflates back to the input");
	free(u.p);
	d = gz(data, sizeof(data), 6, 2, 0, 4096);
	ok(d.n != a.n || memcmp(d.p, a.p, a.n), "the level changes the bytes");
	u = gunzip_mem(&d);
	ok(u.n == sizeof(data) && !memcmp(u.p, data, u.n), "... and level 6 inflates back too");
	free(u.p);
	free(b.p);
	free(c.p);
	free(d.p);
	b = gz(data, sizeof(data), 1, 3, 32768, 777);
	u = gunzip_mem(&b);
	ok(u.n == sizeof(data) && !memcmp(u.p, data, u.n), "32 KiB blocks inflate back");
	free(u.p);
	free(b.p);
	b = gz(data, 0, 1, 2, 0, 1);
	u = gunzip_mem(&b);
	ok(b.n > 18 && u.n == 0, "empty input: a valid empty gzip");
	free(u.p);
	free(b.p);
	b = gz(data, LAYER_DEFAULT_BLOCK, 1, 2, 0, LAYER_DEFAULT_BLOCK);
	u = gunzip_mem(&b);
	ok(u.n == LAYER_DEFAULT_BLOCK && !memcmp(u.p, data, u.n), "exactly one block");
	free(u.p);
	free(b.p);
	free(a.p);

	/* A layer: written, read back, digests. */
	{
		struct layer_entry v[6], *rd;
		struct layer_opts o = { LAYER_GZIP, -1, 1, 0, NULL };
		struct layer_result r1, r2, r3;
		char *f1 = write_file("f1", "hello\n", 6), *f2 = write_file("f2", data, 300000);
		char *blob1 = xasprintf("%s/blob1", dir), *blob2 = xasprintf("%s/blob2", dir);
		char *blob3 = xasprintf("%s/blob3", dir);
		char digest[OCI_DIGEST_SIZE], want[OCI_DIGEST_SIZE];
		long long size;
		struct layer_reader *rr;
		struct layer_entry got;
		int n = 0, nr;
		char longname[300];

		memset(longname, 'n', sizeof(longname));
		memcpy(longname, "app/", 4);
		longname[sizeof(longname) - 1] = '\0';
		entry(&v[0], "app", LE_DIR, 0755, NULL, NULL);
		entry(&v[1], "app/f1", LE_FILE, 0644, f1, NULL);
		entry(&v[2], "app/f2", LE_FILE, 04755, f2, NULL);
		entry(&v[3], "app/hl", LE_HARDLINK, 0644, NULL, "app/f1");
		entry(&v[4], "app/ln", LE_SYMLINK, 0777, NULL, "../etc/x");
		entry(&v[5], longname, LE_FILE, 0600, f1, NULL);
		v[2].uid = 1000;
		v[2].gid = 50;
		v[2].uname = xstrdup("app");
		layer_sort(v, 6);
		ok(layer_write(v, 6, &o, blob1, &r1, &e) == 0, "layer_write: %s", e.msg);
		sha256_file(blob1, digest, &size, &e);
		is_str(r1.digest, digest, "the digest is the blob's sha256");
		is_int(r1.size, size, "... and the size its size");
		is_str(r1.media_type, MT_OCI_LAYER_GZIP, "... gzip media type");
		sha256_digest("hello\n", 6, want);
		is_str(v[1].digest, want, "the content digest of a file is filled in");
		o.threads = 4;
		memset(v[1].digest, 0, sizeof(v[1].digest));
		ok(layer_write(v, 6, &o, blob2, &r2, &e) == 0, "again with 4 threads");
		is_str(r2.digest, r1.digest, "... the same digest");
		is_str(r2.diff_id, r1.diff_id, "... the same diff_id");
		/* The diff_id is the digest of the tar inside. */
		{
			struct mem in = { NULL, 0, 0 };
			size_t blen;
			char *bl = read_file(blob1, 64u << 20, &blen, &e);

			in.p = (unsigned char *)bl;
			in.n = blen;
			u = gunzip_mem(&in);
			sha256_digest(u.p, u.n, digest);
			is_str(r1.diff_id, digest, "diff_id is the sha256 of the tar");
			is_int(r1.tar_size, u.n, "... of tar_size bytes");
			ok(u.n % 512 == 0 && u.n >= 1024, "... a whole number of blocks");
			ok(u.n > 1024 && !memcmp(u.p, "app/\0", 5), "... the directory first, with '/'");
			free(u.p);
			free(bl);
		}
		o.compression = LAYER_NONE;
		ok(layer_write(v, 6, &o, blob3, &r3, &e) == 0, "uncompressed");
		is_str(r3.digest, r1.diff_id, "... its digest is the gzip layer's diff_id");
		is_str(r3.media_type, MT_OCI_LAYER_TAR, "... tar media type");

		/* Read it back. */
		ok(layer_reader_open(&rr, blob1, 0, &e) == 1, "reader opens the gzip layer");
		rd = xcalloc(8, sizeof(*rd));
		while ((nr = layer_reader_next(rr, &got, &e)) > 0 && n < 8) {
			layer_entry_copy(&rd[n], &got);
			if (got.type == LE_FILE && !strcmp(got.path, "app/f2")) {
				char *cp = xasprintf("%s/copy", dir);
				int fd = open(cp, O_WRONLY | O_CREAT | O_TRUNC, 0644);

				layer_reader_copy(rr, fd, rd[n].digest, &e);
				close(fd);
				free(cp);
			}
			n++;
		}
		layer_reader_close(rr);
		is_int(n, 6, "six entries back");
		is_str(rd[0].path, "app", "... app, without the '/'");
		is_int(rd[0].type, LE_DIR, "... a directory");
		is_str(rd[1].path, "app/f1", "... then app/f1");
		is_int(rd[1].mtime, 1700000000, "... its mtime");
		is_int(rd[1].uid, 0, "... owner 0");
		is_str(rd[2].path, "app/f2", "... app/f2");
		is_int(rd[2].mode, 04755, "... setuid kept");
		is_int(rd[2].uid, 1000, "... uid 1000");
		is_int(rd[2].gid, 50, "... gid 50");
		sha256_digest(data, 300000, want);
		is_str(rd[2].digest, want, "... its content, copied out and digested");
		is_int(rd[3].type, LE_HARDLINK, "app/hl is a hard link");
		is_str(rd[3].link, "app/f1", "... to app/f1");
		is_int(rd[4].type, LE_SYMLINK, "app/ln is a symlink");
		is_str(rd[4].link, "../etc/x", "... its target kept as written");
		is_str(rd[5].path, longname, "a 299-byte name survives (pax)");
		for (i = 0; i < 8; i++)
			layer_entry_free(&rd[i]);
		free(rd);

		/* zstd, through libarchive. */
		o.compression = LAYER_ZSTD;
		o.level = -1;
		ok(layer_write(v, 6, &o, blob3, &r3, &e) == 0, "zstd layer: %s", e.msg);
		is_str(r3.diff_id, r1.diff_id, "... same tar, same diff_id");
		is_str(r3.media_type, MT_OCI_LAYER_ZSTD, "... zstd media type");
		ok(layer_reader_open(&rr, blob3, 0, &e) == 1 && layer_reader_next(rr, &got, &e) == 1 &&
		    !strcmp(got.path, "app"), "... reads back");
		layer_reader_close(rr);

		/* A file that changed size since its entry was made. */
		o.compression = LAYER_GZIP;
		v[1].size = 5;
		memset(&e, 0, sizeof(e));
		ok(layer_write(v, 6, &o, blob3, &r3, &e) < 0 && strstr(e.msg, "changed while"),
		    "a file that changed is an error: %s", e.msg);
		ok(access(blob3, F_OK) != 0, "... and no blob is left behind");
		v[1].size = 6;

		/* Cache keys. */
		{
			char k1[OCI_DIGEST_SIZE], k2[OCI_DIGEST_SIZE];

			layer_cache_key(v, 6, &o, k1);
			layer_cache_key(v, 6, &o, k2);
			is_str(k1, k2, "cache key: stable");
			v[1].mode = 0600;
			layer_cache_key(v, 6, &o, k2);
			ok(strcmp(k1, k2) != 0, "... a mode changes it");
			v[1].mode = 0644;
			v[1].digest[10] ^= 1;
			layer_cache_key(v, 6, &o, k2);
			ok(strcmp(k1, k2) != 0, "... content changes it");
			v[1].digest[10] ^= 1;
			o.level = 6;
			layer_cache_key(v, 6, &o, k2);
			ok(strcmp(k1, k2) != 0, "... so does the level");
		}
		for (i = 0; i < 6; i++)
			layer_entry_free(&v[i]);
		unlink(f1);
		unlink(f2);
		unlink(blob1);
		unlink(blob2);
		unlink(blob3);
		free(f1);
		free(f2);
		free(blob1);
		free(blob2);
		free(blob3);
	}

	/* A file that is not an archive is not one; a tar.gz is. */
	{
		char *plain = write_file("plain.txt", "just text\n", 10);
		char *empty = write_file("empty", "", 0);
		struct layer_reader *rr = NULL;

		ok(layer_reader_open(&rr, plain, 1, &e) == 0 && !rr, "probe: text is not an archive");
		ok(layer_reader_open(&rr, empty, 1, &e) == 0 && !rr, "probe: empty is not an archive");
		memset(&e, 0, sizeof(e));
		{
			struct layer_entry got;
			int r = layer_reader_open(&rr, plain, 0, &e);

			if (r > 0)
				r = layer_reader_next(rr, &got, &e);
			ok(r < 0 && e.code == EX_DOC, "without probe it is an error: %s", e.msg);
		}
		layer_reader_close(rr);
		unlink(plain);
		unlink(empty);
		free(plain);
		free(empty);
	}

	/* The file-hash cache. */
	{
		char *f = write_file("cached", "abc", 3), *cf = xasprintf("%s/fcache", dir);
		struct layer_fcache *fc = layer_fcache_load(cf);
		struct stat st;
		const char *got;

		stat(f, &st);
		st.st_mtim.tv_sec -= 100;	/* not racy */
		st.st_ctim.tv_sec -= 100;
		ok(layer_fcache_get(fc, f, &st) == NULL, "fcache: empty at first");
		layer_fcache_put(fc, f, &st, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
		ok(layer_fcache_save(fc, dir, &e) == 0, "... saved");
		layer_fcache_free(fc);
		fc = layer_fcache_load(cf);
		got = layer_fcache_get(fc, f, &st);
		is_str(got, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		    "... found again after a reload");
		st.st_size = 4;
		ok(layer_fcache_get(fc, f, &st) == NULL, "... not when the size differs");
		st.st_size = 3;
		st.st_mtim.tv_nsec ^= 1;
		ok(layer_fcache_get(fc, f, &st) == NULL, "... nor the mtime");
		layer_fcache_free(fc);
		stat(f, &st);
		fc = layer_fcache_load(cf);
		layer_fcache_put(fc, f, &st, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
		ok(layer_fcache_get(fc, f, &st) == NULL, "... a file changed just now is not trusted");
		layer_fcache_free(fc);
		unlink(f);
		unlink(cf);
		free(f);
		free(cf);
	}
	{
		char *g = xasprintf("%s/gz", dir), *cp = xasprintf("%s/copy", dir);

		unlink(g);
		unlink(cp);
		free(g);
		free(cp);
	}
	rmdir(dir);
	return done_testing();
}
