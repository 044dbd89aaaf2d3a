/* Unit tests for lib/buf.c: the capped buffer and the log-tail ring. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "tap.h"

static void
test_buf_basics(void)
{
	struct buf b = BUF_INIT;
	char *s;
	size_t len;
	int i, good;

	is_str(buf_str(&b), "", "BUF_INIT is empty");
	is_int(b.len, 0, "with len 0");
	is_int(buf_adds(&b, "hello"), 0, "buf_adds");
	is_int(buf_addc(&b, ','), 0, "buf_addc");
	is_int(buf_add(&b, " world!", 6), 0, "buf_add with a length");
	is_int(buf_addf(&b, " %d-%s", 42, "x"), 0, "buf_addf");
	is_str(buf_str(&b), "hello, world 42-x", "contents");
	is_int(b.len, 17, "len");
	is_int(buf_add(&b, NULL, 0), 0, "adding nothing");
	is_int(b.len, 17, "changes nothing");
	buf_reset(&b);
	is_str(buf_str(&b), "", "buf_reset empties");
	is_int(b.len, 0, "len 0 after reset");

	/* Bytes, not strings: an embedded NUL counts. */
	is_int(buf_add(&b, "a\0b", 3), 0, "buf_add with a NUL inside");
	is_int(b.len, 3, "len counts it");
	ok(memcmp(b.data, "a\0b", 4) == 0, "data is the bytes plus a NUL");

	/* Growth across many reallocations keeps every byte. */
	buf_reset(&b);
	for (i = 0; i < 100000; i++)
		buf_addc(&b, 'a' + i % 26);
	good = b.len == 100000 && b.data[100000] == '\0';
	for (i = 0; good && i < 100000; i++)
		good = b.data[i] == 'a' + i % 26;
	ok(good, "100000 single-byte appends");
	ok(b.alloc >= b.len + 1, "alloc covers len and the NUL");

	s = buf_detach(&b, &len);
	is_int(len, 100000, "buf_detach gives the length");
	ok(s && strlen(s) == 100000 && s[0] == 'a', "and the contents");
	ok(b.data == NULL && b.len == 0 && b.alloc == 0, "and resets the buffer");
	is_str(buf_str(&b), "", "which reads as empty");
	free(s);
	s = buf_detach(&b, &len);
	ok(s != NULL, "buf_detach of an empty buffer is not NULL");
	is_str(s, "", "it is \"\"");
	is_int(len, 0, "with length 0");
	free(s);
	is_int(buf_adds(&b, "again"), 0, "a detached buffer is reusable");
	s = buf_detach(&b, NULL);
	is_str(s, "again", "buf_detach with len NULL");
	free(s);
	buf_free(&b);
	is_str(buf_str(&b), "", "buf_free leaves it empty");
	buf_free(&b);
	ok(1, "buf_free twice is harmless");
}

static void
test_buf_cap(void)
{
	struct buf b;
	char *s;
	size_t len;

	buf_init(&b, 10);
	is_int(buf_adds(&b, "0123456789"), 0, "filling to exactly the cap");
	is_int(b.len, 10, "len == cap");
	is_int(b.failed, 0, "not failed");
	is_int(buf_addc(&b, 'x'), -1, "one byte past the cap fails");
	is_int(b.failed, 1, "marked failed");
	ok(b.data == NULL, "contents freed");
	is_int(b.len, 0, "len 0");
	is_str(buf_str(&b), "", "reads as empty, not truncated");
	is_int(buf_adds(&b, "a"), -1, "a failed buffer refuses further appends");
	is_int(buf_addf(&b, "%s", "a"), -1, "buf_addf too");
	is_str(buf_str(&b), "", "still empty");
	buf_reset(&b);
	is_int(b.failed, 0, "buf_reset clears failed");
	is_int(buf_adds(&b, "ok"), 0, "and the buffer works again");
	is_str(buf_str(&b), "ok", "contents");

	buf_reset(&b);
	is_int(buf_add(&b, "0123456789abc", 13), -1, "one append bigger than the cap");
	is_int(b.failed, 1, "fails and marks");
	buf_reset(&b);
	is_int(buf_add(&b, "x", (size_t)-1), -1, "a huge length fails cleanly");
	buf_reset(&b);
	is_int(buf_adds(&b, "01234"), 0, "half");
	is_int(buf_adds(&b, "56789"), 0, "other half reaches the cap");
	is_int(buf_adds(&b, ""), 0, "an empty append at the cap is fine");
	is_str(buf_str(&b), "0123456789", "contents at the cap");

	/* A failed buffer detaches as "" and is reset. */
	buf_addc(&b, 'x');
	s = buf_detach(&b, &len);
	is_str(s, "", "buf_detach of a failed buffer gives \"\"");
	is_int(len, 0, "length 0");
	is_int(b.failed, 0, "and clears failed");
	free(s);
	buf_free(&b);

	buf_init(&b, 0);
	{
		char *big = malloc(1 << 20);

		memset(big, 'z', 1 << 20);
		is_int(buf_add(&b, big, 1 << 20), 0, "cap 0 means no cap (1 MiB)");
		is_int(buf_add(&b, big, 1 << 20), 0, "2 MiB");
		is_int(b.len, 2 << 20, "len");
		free(big);
	}
	buf_free(&b);
}

static void
test_buf_addf(void)
{
	struct buf b;
	char *want, *longs;
	int i;

	longs = malloc(5001);
	for (i = 0; i < 5000; i++)
		longs[i] = (char)('A' + i % 26);
	longs[5000] = '\0';

	buf_init(&b, 0);
	is_int(buf_adds(&b, "pre:"), 0, "a prefix");
	is_int(buf_addf(&b, "[%s] %d", longs, 7), 0, "buf_addf of 5000+ bytes");
	want = malloc(5100);
	snprintf(want, 5100, "pre:[%s] %d", longs, 7);
	is_str(buf_str(&b), want, "long formatted contents are exact");
	is_int(b.len, strlen(want), "len");
	free(want);

	/* The 256-byte stack buffer boundary. */
	for (i = 250; i <= 260; i++) {
		buf_reset(&b);
		buf_addf(&b, "%.*s", i, longs);
		if (b.len != (size_t)i || strncmp(b.data, longs, (size_t)i) != 0)
			break;
	}
	is_int(i, 261, "buf_addf around 256 bytes");
	buf_free(&b);

	buf_init(&b, 100);
	is_int(buf_addf(&b, "%s", longs), -1, "a long buf_addf past the cap fails");
	is_int(b.failed, 1, "marked failed");
	ok(b.data == NULL && b.len == 0, "and emptied");
	buf_reset(&b);
	is_int(buf_addf(&b, "%.100s", longs), 0, "a long buf_addf at the cap");
	is_int(b.len, 100, "fills it");
	buf_free(&b);
	free(longs);
}

static void
test_ring_basics(void)
{
	struct ring r;
	char *s;

	ring_init(&r, 64);
	s = ring_lines(&r, 5);
	is_str(s, "", "an empty ring has no lines");
	free(s);

	ring_add(&r, "a\nb\nc\n", 6);
	s = ring_lines(&r, 2);
	is_str(s, "b\nc\n", "last 2 lines");
	free(s);
	s = ring_lines(&r, 1);
	is_str(s, "c\n", "last line");
	free(s);
	s = ring_lines(&r, 3);
	is_str(s, "a\nb\nc\n", "exactly all lines");
	free(s);
	s = ring_lines(&r, 10);
	is_str(s, "a\nb\nc\n", "fewer lines than asked");
	free(s);

	ring_add(&r, "par", 3);
	ring_add(&r, "tial", 4);
	s = ring_lines(&r, 1);
	is_str(s, "partial", "a partial last line counts as a line");
	free(s);
	s = ring_lines(&r, 2);
	is_str(s, "c\npartial", "and is kept with the others");
	free(s);
	is_int(r.total, 13, "total counts bytes");

	ring_add(&r, "\n\n", 2);
	s = ring_lines(&r, 2);
	is_str(s, "partial\n\n", "an empty line is a line");
	free(s);
	ring_free(&r);

	/* Exactly full but never wrapped: nothing is dropped. */
	ring_init(&r, 12);
	ring_add(&r, "line1\nline2\n", 12);
	s = ring_lines(&r, 10);
	is_str(s, "line1\nline2\n", "a full ring that never wrapped keeps line 1");
	free(s);
	ring_free(&r);
	s = ring_lines(&r, 3);
	is_str(s, "", "ring_lines after ring_free is empty");
	free(s);
	ring_add(&r, "x", 1);
	ok(1, "ring_add after ring_free is harmless");

	ring_init(&r, 0);
	ring_add(&r, "abc", 3);
	s = ring_lines(&r, 1);
	is_str(s, "c", "a zero-size ring keeps one byte");
	free(s);
	ring_free(&r);
}

static void
test_ring_wrap(void)
{
	struct ring r;
	char stream[4096], *s;
	size_t n = 0, i, chunk, at;
	int good;

	/* 24 bytes into 16: "line1\n" and part of "line2\n" are gone. */
	ring_init(&r, 16);
	ring_add(&r, "line1\nline2\nline3\nline4\n", 24);
	is_int(r.len, 16, "the ring holds max bytes");
	is_int(r.total, 24, "total counts everything");
	s = ring_lines(&r, 10);
	is_str(s, "line3\nline4\n", "the partial first line is dropped after a wrap");
	free(s);
	s = ring_lines(&r, 2);
	is_str(s, "line3\nline4\n", "last 2 lines after a wrap");
	free(s);
	s = ring_lines(&r, 1);
	is_str(s, "line4\n", "last line after a wrap");
	free(s);
	ring_free(&r);

	/* The same through small writes that wrap the storage many times. */
	ring_init(&r, 16);
	for (i = 1; i <= 9; i++) {
		char line[16];
		int k = snprintf(line, sizeof(line), "line%zu\n", i);

		ring_add(&r, line, 3);
		ring_add(&r, line + 3, (size_t)k - 3);
	}
	s = ring_lines(&r, 10);
	is_str(s, "line8\nline9\n", "wrap-around through small writes");
	free(s);
	ring_add(&r, "tail", 4);
	s = ring_lines(&r, 10);
	is_str(s, "line9\ntail", "a partial last line after a wrap");
	free(s);
	s = ring_lines(&r, 1);
	is_str(s, "tail", "just the partial line");
	free(s);
	ring_free(&r);

	/* A write bigger than the ring keeps its tail. */
	ring_init(&r, 8);
	ring_add(&r, "xxxxxxxxxxxxxxxxxxxxab\ncd\n", 26);
	s = ring_lines(&r, 10);
	is_str(s, "cd\n", "a write larger than the ring keeps its end");
	free(s);
	ring_free(&r);

	/* One long line with no earlier newline: keep its tail rather than
	 * nothing. */
	ring_init(&r, 8);
	ring_add(&r, "0123456789abcdef\n", 17);
	s = ring_lines(&r, 3);
	is_str(s, "9abcdef\n", "a line longer than the ring shows its tail");
	free(s);
	ring_free(&r);

	/* Without newlines, ring_lines shows exactly the last max bytes:
	 * compare against the stream after writes of odd sizes. */
	ring_init(&r, 37);
	good = 1;
	for (chunk = 1; n + chunk < sizeof(stream) && good; chunk = chunk % 41 + 3) {
		for (i = 0; i < chunk; i++)
			stream[n + i] = (char)('a' + (n + i) % 26);
		ring_add(&r, stream + n, chunk);
		n += chunk;
		at = n > 37 ? n - 37 : 0;
		s = ring_lines(&r, 1);
		good = strlen(s) == n - at && memcmp(s, stream + at, n - at) == 0 &&
		    r.total == n;
		if (!good)
			printf("# after %zu bytes got '%s'\n", n, s);
		free(s);
	}
	ok(good, "the ring always holds the last max bytes (%zu written)", n);
	ring_free(&r);
}

static void
test_ring_nul(void)
{
	struct ring r;
	char *s;

	/* Program output may contain NUL bytes; the lines after one must
	 * not vanish from the tail. */
	ring_init(&r, 64);
	ring_add(&r, "bin\0ary\nlast\n", 13);
	s = ring_lines(&r, 2);
	is_int(strlen(s), 13, "a NUL in the ring does not cut the tail short");
	like(s, "last\n", "the last line is there");
	free(s);
	ring_free(&r);
}

int
main(void)
{
	test_buf_basics();
	test_buf_cap();
	test_buf_addf();
	test_ring_basics();
	test_ring_wrap();
	test_ring_nul();
	/* utf8_len, buf_add_utf8_clean, mem_find */
	is_int((int)utf8_len("a", 1), 1, "utf8_len: ASCII");
	is_int((int)utf8_len("\xc3\xa9", 2), 2, "utf8_len: two bytes");
	is_int((int)utf8_len("\xc3\xa9", 1), 0, "utf8_len: cut short");
	is_int((int)utf8_len("\xe2\x82\xac", 3), 3, "utf8_len: three bytes");
	is_int((int)utf8_len("\xf0\x9f\x98\x80", 4), 4, "utf8_len: four bytes");
	is_int((int)utf8_len("\xc0\xaf", 2), 0, "utf8_len: overlong refused");
	is_int((int)utf8_len("\xed\xa0\x80", 3), 0, "utf8_len: surrogate refused");
	is_int((int)utf8_len("\xf4\x90\x80\x80", 4), 0, "utf8_len: past U+10FFFF refused");
	is_int((int)utf8_len("", 0), 0, "utf8_len: nothing");
	{
		struct buf b = BUF_INIT;

		buf_add_utf8_clean(&b, "a\377b\xc3", 4);
		is_str(buf_str(&b), "a\xef\xbf\xbd" "b\xef\xbf\xbd", "buf_add_utf8_clean: bad bytes and a cut end become U+FFFD");
		buf_free(&b);
	}
	{
		static const char h[] = "abcabcabd\0xyz";

		ok(mem_find(h, sizeof(h) - 1, "abd", 3) == h + 6, "mem_find: found past a near miss");
		ok(mem_find(h, sizeof(h) - 1, "xyz", 3) == h + 10, "mem_find: past a NUL");
		ok(mem_find(h, sizeof(h) - 1, "abe", 3) == NULL, "mem_find: missing");
		ok(mem_find(h, 3, "", 0) == h, "mem_find: the empty needle is at the start");
	}
	return done_testing();
}
