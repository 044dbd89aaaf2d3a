/*
 * buf: a growable byte buffer with a hard size cap.
 *
 * Invariants: data is NUL-terminated whenever it is non-NULL (len does not
 * count the NUL), len <= cap_max, and a failed append (it would pass the
 * cap) frees the contents and leaves the buffer empty and marked failed:
 * a buffer never holds a silently truncated result.  A buffer with
 * cap_max == 0 has no cap beyond SIZE_MAX/2.  The buffer owns data;
 * buf_detach() hands it to the caller.
 */
#ifndef CI_BUF_H
#define CI_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t alloc;
	size_t cap_max;
	int failed;		/* an append passed the cap */
};

#define BUF_INIT { NULL, 0, 0, 0, 0 }

void buf_init(struct buf *b, size_t cap_max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
/* Return 0, or -1 when the cap would be passed (buffer emptied, failed set). */
int buf_add(struct buf *b, const void *p, size_t n);
int buf_adds(struct buf *b, const char *s);
int buf_addc(struct buf *b, int c);
/* The UTF-8 bytes of code point cp (at most U+10FFFF; the caller checks). */
int buf_add_utf8(struct buf *b, unsigned long cp);
/* The n bytes at p, each byte that begins no valid UTF-8 sequence (RFC 3629:
 * no overlong form, surrogate or code point past U+10FFFF) as U+FFFD. */
int buf_add_utf8_clean(struct buf *b, const void *p, size_t n);
/* The length (1-4) of the valid UTF-8 sequence at p, of at most avail
 * bytes; 0 when it is none. */
size_t utf8_len(const void *p, size_t avail);
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap);
/* The contents as a string ("" when empty); borrowed. */
const char *buf_str(const struct buf *b);
/* Hand the contents to the caller (never NULL) and reset the buffer. */
char *buf_detach(struct buf *b, size_t *len);

/*
 * A ring that keeps the last max_bytes of a stream, for log tails.
 * ring_lines() returns the last n lines (or fewer) as a fresh string,
 * with a partial last line kept.
 */
struct ring {
	char *data;
	size_t max;
	size_t start;
	size_t len;
	unsigned long long total;	/* bytes ever written */
};

void ring_init(struct ring *r, size_t max_bytes);
void ring_free(struct ring *r);
void ring_add(struct ring *r, const void *p, size_t n);
char *ring_lines(const struct ring *r, int nlines);

/*
 * NULL-terminated vectors of strings the vector owns (NULL is the empty
 * vector).  strv_push() appends a copy of s and returns the vector.
 */
/* The first n (nn bytes) in h (hn bytes), or NULL; linear time (glibc's
 * two-way memmem()), so a long needle in a long body stays cheap. */
const void *mem_find(const void *h, size_t hn, const void *n, size_t nn);

char **strv_push(char **v, const char *s);
size_t strv_len(char *const *v);
void strv_free(char **v);

#endif
